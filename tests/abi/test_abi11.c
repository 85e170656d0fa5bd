/*
 * ABI 1.1 conformance: a detector built against the 1.1 header
 * (plugins/abi11.c) calls every host call 1.1 added and fills every new
 * descriptor member (check_uses_all.py proves it names each one), next to
 * the frozen 1.0 plugin, in one running host. The plugin counts each check
 * it makes; this test asserts none failed, that its alert reached the bus
 * with the policy the config sets for its tag, that its command answered
 * with a progress reply and a last one, and that the 1.0 plugin still ran.
 */
#include "config.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/host_command.h"

#include <jansson.h>
#include <rampart/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_runtime.h"

static char tmpdir[64];

static atomic_int alerts;
static char alert_rule[64];

static int keep_alert(void *arg, const struct rp_event *ev)
{
    (void)arg;
    rp_field_id id = rp__field_lookup("rule.id", 7);
    const char *s;
    uint64_t len;
    if (id && rp__event_get_str(ev, id, &s, &len) == 0)
        snprintf(alert_rule, sizeof alert_rule, "%.*s", (int)len, s);
    atomic_fetch_add(&alerts, 1);
    return 0;
}

static void noop(void *arg)
{
    (void)arg;
}

static int find(rp__host *host, const char *name, rp__plugin_info *info)
{
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        assert_int_equal(rp__host_plugin_info(host, i, info), 0);
        if (strcmp(info->name, name) == 0)
            return (int)i;
    }
    fail_msg("plugin %s not in the host", name);
    return -1;
}

static uint64_t counter(rp__host *host, const char *plugin, const char *want)
{
    rp__plugin_info info;
    int i = find(host, plugin, &info);
    for (uint32_t k = 0; k < info.ncounters; k++) {
        const char *name;
        uint64_t v;
        if (rp__host_plugin_counter(host, (size_t)i, k, &name, &v) == 0 && strcmp(name, want) == 0)
            return v;
    }
    fail_msg("plugin %s has no counter %s", plugin, want);
    return 0;
}

static void test_every_call_of_1_1_beside_a_1_0_plugin(void **state)
{
    (void)state;
    char text[2048];
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"%s\",\"plugin_dir\":\"%s\"},"
             "\"plugins\":{"
             "\"abi11\":{\"enabled\":true,\"file\":\"%s/abi_abi11.so\",\"config\":"
             "{\"flag\":true,\"threshold\":3,\"name\":\"alpha\",\"users\":[\"al\",\"bob\"],"
             "\"nested\":{\"a\":[1]}}},"
             "\"frozen\":{\"enabled\":true,\"file\":\"%s/abi_frozen.so\"}},"
             "\"policy\":{\"default\":{\"mode\":\"detect\"},"
             "\"tags\":{\"abi11.tag\":{\"mode\":\"prevent\",\"actions\":[\"kill\"]}}}}",
             tmpdir, RP_ABI_PLUGIN_DIR, RP_ABI_PLUGIN_DIR, RP_ABI_PLUGIN_DIR);
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    assert_non_null(doc);
    rp__config *cfg = NULL;
    char err[1024];
    if (rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err))
        fail_msg("config: %s", err);
    json_decref(doc);

    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 0);
    if (rp__host_load(rt.host, err, sizeof err) != 0)
        fail_msg("load: %s", err);
    uint64_t sub;
    assert_int_equal(rp__bus_subscribe(rt.bus, "alert", keep_alert, NULL, 0, 0, 0, &sub), 0);
    assert_int_equal(host_runtime_start(&rt), 0);

    rp__plugin_info info;
    find(rt.host, "abi11", &info);
    if (info.state != RP__PLUGIN_RUNNING)
        fail_msg("abi11 is not running: %s", info.error);
    for (int i = 0; i < 500 && atomic_load(&alerts) < 1; i++)
        usleep(10 * 1000);
    assert_int_equal(atomic_load(&alerts), 1);
    assert_string_equal(alert_rule, "abi11-rule");

    /* The command: one progress reply, then the last. */
    rp__command *cmd = NULL;
    const char *req = "{\"command\":\"probe\"}";
    if (rp__host_command_start(rt.host, "abi11", req, strlen(req), 5000, noop, NULL, &cmd, err,
                               sizeof err) != 0)
        fail_msg("command: %s", err);
    char *replies[2] = {NULL, NULL};
    int more[2] = {-1, -1}, got = 0;
    for (int i = 0; i < 500 && got < 2; i++) {
        char *json = NULL;
        int m = 0;
        int rc = rp__host_command_next(cmd, &json, &m, NULL, err, sizeof err);
        if (rc == RP_ERR_AGAIN) {
            usleep(10 * 1000);
            continue;
        }
        if (rc != 0)
            fail_msg("command reply %d: %s (%s)", got, rp_errname(rc), err);
        replies[got] = json;
        more[got++] = m;
    }
    assert_int_equal(got, 2);
    assert_string_equal(replies[0], "{\"progress\":50}");
    assert_int_equal(more[0], 1);
    assert_string_equal(replies[1], "{\"done\":true}");
    assert_int_equal(more[1], 0);
    free(replies[0]);
    free(replies[1]);
    rp__host_command_release(cmd);

    /* Every check the plugin made passed, and all 35 of them ran (one per
     * check() call in plugins/abi11.c). */
    uint64_t failed = counter(rt.host, "abi11", "checks_failed");
    uint64_t ok = counter(rt.host, "abi11", "checks_ok");
    if (failed != 0)
        fail_msg("%llu of the plugin's checks failed (see the log above)",
                 (unsigned long long)failed);
    assert_int_equal(ok, 35);

    /* Its private folder is the host's, 0700, with the file it made. */
    char probe[256];
    snprintf(probe, sizeof probe, "%s/plugins/abi11/probe", tmpdir);
    struct stat st;
    assert_int_equal(stat(probe, &st), 0);
    snprintf(probe, sizeof probe, "%s/plugins/abi11", tmpdir);
    assert_int_equal(stat(probe, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);

    /* The 1.0 plugin beside it ran as before. */
    find(rt.host, "frozen", &info);
    assert_int_equal(info.state, RP__PLUGIN_RUNNING);
    assert_int_equal(info.published, 1);

    host_runtime_destroy(&rt);
    rp__config_destroy(cfg);
}

int main(void)
{
    if (host_runtime_tmpdir(tmpdir, sizeof tmpdir, "abi11") != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_call_of_1_1_beside_a_1_0_plugin),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    host_runtime_tmpdir_remove(tmpdir);
    return rc;
}
