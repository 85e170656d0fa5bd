/*
 * alert_create and the response policy with a real plugin binary built
 * against the 1.1 header (plugins/alerts11_detector.c) in a running host:
 * the policy comes from the agent's config, the host stamps it on the
 * alerts the plugin raises, the plugin reads it before publishing (as a
 * detector that blocks at exec would), the alerts carry the exec's subject
 * but not its categorisation, and a reload's new policy applies to the next
 * alert without restarting the plugin.
 */
#include "config.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/topic.h"

#include <jansson.h>
#include <rampart/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_runtime.h"

static char tmpdir[64];

/* The alerts the bus delivers, kept (retained) in order. */
#define MAX_SEEN 16
static const struct rp_event *seen[MAX_SEEN];
static atomic_int nseen;

static int keep_alert(void *arg, const struct rp_event *ev)
{
    (void)arg;
    int i = atomic_load(&nseen);
    if (i < MAX_SEEN) {
        rp__event_retain(ev);
        seen[i] = ev;
        atomic_store(&nseen, i + 1);
    }
    return 0;
}

static rp_field_id fid(const char *name, uint32_t type)
{
    rp_field_id id = 0;
    assert_int_equal(rp__field_intern(name, strlen(name), type, &id), 0);
    return id;
}

static const char *str_of(const rp_event *ev, const char *name)
{
    const char *s;
    uint64_t len;
    return rp__event_get_str(ev, fid(name, RP_TYPE_STR), &s, &len) == 0 ? s : NULL;
}

static const char *item_of(const rp_event *ev, const char *name, uint32_t i)
{
    const char *s;
    uint64_t len;
    return rp__event_get_str_array_item(ev, fid(name, RP_TYPE_STR_ARRAY), i, &s, &len) == 0 ? s
                                                                                            : NULL;
}

static uint32_t count_of(const rp_event *ev, const char *name)
{
    uint32_t n = 0;
    return rp__event_get_str_array_count(ev, fid(name, RP_TYPE_STR_ARRAY), &n) == 0 ? n : 99;
}

/* Publishes a process.exec of exe from the core; returns its event.id. */
static void publish_exec(rp__bus *bus, const char *exe, char *id, size_t idlen)
{
    uint32_t topic;
    rp_event *ev;
    assert_int_equal(rp__topic_intern("process.exec", 12, &topic), 0);
    assert_int_equal(rp__event_create(topic, "process.exec", 0, &ev), 0);
    rp_str cat = {"process", 7}, type = {"start", 5};
    assert_int_equal(rp__event_set_str_array(ev, fid("event.category", RP_TYPE_STR_ARRAY), &cat, 1),
                     0);
    assert_int_equal(rp__event_set_str_array(ev, fid("event.type", RP_TYPE_STR_ARRAY), &type, 1),
                     0);
    assert_int_equal(rp__event_set_str(ev, fid("event.action", RP_TYPE_STR), "exec", 4), 0);
    assert_int_equal(
        rp__event_set_str(ev, fid("process.executable", RP_TYPE_STR), exe, strlen(exe)), 0);
    assert_int_equal(rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), 4242), 0);
    snprintf(id, idlen, "%s", str_of(ev, "event.id"));
    assert_int_equal(rp__bus_publish(bus, ev), 0);
}

static void wait_alerts(int n)
{
    for (int i = 0; i < 500 && atomic_load(&nseen) < n; i++)
        usleep(10 * 1000);
    assert_int_equal(atomic_load(&nseen), n);
}

static uint64_t counter(rp__host *host, const char *want)
{
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        rp__plugin_info info;
        assert_int_equal(rp__host_plugin_info(host, i, &info), 0);
        if (strcmp(info.name, "a11") != 0)
            continue;
        assert_int_equal(info.state, RP__PLUGIN_RUNNING);
        for (uint32_t k = 0; k < info.ncounters; k++) {
            const char *name;
            uint64_t v;
            if (rp__host_plugin_counter(host, i, k, &name, &v) == 0 && strcmp(name, want) == 0)
                return v;
        }
    }
    fail_msg("no counter %s", want);
    return 0;
}

static void test_policy_stamped_on_plugin_alerts(void **state)
{
    (void)state;
    json_error_t jerr;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"%s\",\"plugin_dir\":\"%s\"},"
             "\"plugins\":{\"a11\":{\"enabled\":true,\"file\":\"%s/abi_alerts11.so\"}},"
             "\"policy\":{\"default\":{\"mode\":\"detect\"},"
             "\"tags\":{\"attack.t1059\":{\"mode\":\"prevent\",\"actions\":[\"kill\"]}}}}",
             tmpdir, RP_ABI_PLUGIN_DIR, RP_ABI_PLUGIN_DIR);
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    rp__config *cfg = NULL;
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err), 0);
    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 0);
    assert_int_equal(rp__host_load(rt.host, err, sizeof err), 0);
    uint64_t sub;
    assert_int_equal(rp__bus_subscribe(rt.bus, "alert", keep_alert, NULL, 0, 0, 0, &sub), 0);
    assert_int_equal(host_runtime_start(&rt), 0);

    char shell_id[64], python_id[64];
    publish_exec(rt.bus, "/bin/sh", shell_id, sizeof shell_id);
    wait_alerts(1);
    publish_exec(rt.bus, "/usr/bin/python3", python_id, sizeof python_id);
    wait_alerts(2);

    /* The shell's alert: its tag's entry says prevent, and the plugin saw
     * that on the alert before publishing it. */
    const rp_event *a = seen[0];
    assert_string_equal(str_of(a, "rule.id"), "a11-shell");
    assert_string_equal(str_of(a, "rampart.policy.mode"), "prevent");
    assert_int_equal(count_of(a, "rampart.policy.actions"), 1);
    assert_string_equal(item_of(a, "rampart.policy.actions", 0), "kill");
    assert_string_equal(item_of(a, "rampart.policy.matched", 0), "policy.tags.attack.t1059");
    int32_t acted = 0;
    assert_int_equal(rp__event_get_bool(a, fid("alerts11.acted", RP_TYPE_BOOL), &acted), 0);
    assert_int_equal(acted, 1);
    /* Its subject and citation, not the exec's categorisation. */
    assert_string_equal(str_of(a, "process.executable"), "/bin/sh");
    assert_string_equal(item_of(a, "rampart.alert.source_ids", 0), shell_id);
    assert_null(str_of(a, "event.action"));
    assert_string_equal(item_of(a, "event.category", 0), "intrusion_detection");
    assert_string_equal(item_of(a, "threat.technique.id", 0), "T1059.004");
    assert_string_equal(str_of(a, "event.kind"), "alert");

    /* The other: the default, detect, no actions, not acted on. */
    a = seen[1];
    assert_string_equal(str_of(a, "rule.id"), "a11-other");
    assert_string_equal(str_of(a, "rampart.policy.mode"), "detect");
    assert_int_equal(count_of(a, "rampart.policy.actions"), 0);
    assert_int_equal(rp__event_get_bool(a, fid("alerts11.acted", RP_TYPE_BOOL), &acted),
                     RP_ERR_NOTFOUND);
    assert_string_equal(item_of(a, "rampart.alert.source_ids", 0), python_id);

    assert_int_equal(counter(rt.host, "prevented"), 1);
    assert_int_equal(counter(rt.host, "refused_ok"), 2);

    /* A reload turns the tag down to detect: the running plugin's next
     * shell alert gets the new policy. */
    json_t *next = json_loads("{\"default\":{\"mode\":\"detect\"},\"tags\":{\"attack.t1059\":"
                              "{\"mode\":\"detect\"}}}",
                              0, &jerr);
    assert_non_null(next);
    assert_int_equal(rp__host_set_policy(rt.host, next), 0);
    json_decref(next);
    publish_exec(rt.bus, "/bin/bash", shell_id, sizeof shell_id);
    wait_alerts(3);
    a = seen[2];
    assert_string_equal(str_of(a, "rule.id"), "a11-shell");
    assert_string_equal(str_of(a, "rampart.policy.mode"), "detect");
    assert_string_equal(item_of(a, "rampart.policy.matched", 0), "policy.tags.attack.t1059");
    assert_int_equal(counter(rt.host, "prevented"), 1);
    assert_int_equal(counter(rt.host, "alerts"), 3);

    rp__bus_unsubscribe(rt.bus, sub, NULL);
    host_runtime_destroy(&rt);
    for (int i = 0; i < atomic_load(&nseen); i++)
        rp__event_release(seen[i]);
    rp__config_destroy(cfg);
    json_decref(doc);
}

static int setup(void **state)
{
    (void)state;
    return host_runtime_tmpdir(tmpdir, sizeof tmpdir, "a11");
}

static int teardown(void **state)
{
    (void)state;
    return host_runtime_tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_stamped_on_plugin_alerts),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
