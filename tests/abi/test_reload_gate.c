/*
 * Live reload at the host (core/runtime/host_reload.c) with a real plugin
 * binary (plugins/reload11.c) while events flow from another thread:
 * - reconfigure runs with on_event held off: the plugin counts no overlap
 *   although events are published all through its 200 ms reconfigure, and
 *   the events that waited are delivered after it;
 * - a reconfigure that fails keeps the plugin running on its previous
 *   config (config_get returns it again);
 * - disable stops it (no event after), enable starts it again, and no
 *   event reaches on_event before its start returned;
 * - a config its schema refuses is refused by prepare, changing nothing.
 */
#include "config.h"
#include "runtime/bus.h"
#include "runtime/event.h"
#include "runtime/host.h"
#include "runtime/host_private.h"
#include "runtime/topic.h"

#include <jansson.h>
#include <rampart/plugin.h>

#include <pthread.h>
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
static atomic_int publishing;
static atomic_ulong published;

struct publisher {
    rp__bus *bus;
    uint32_t topic;
};

/* Publishes a test.tick every 100 us until told to stop. */
static void *publish_loop(void *arg)
{
    struct publisher *pb = arg;
    while (atomic_load(&publishing)) {
        struct rp_event *ev = NULL;
        if (rp__event_create(pb->topic, "test.tick", 0, &ev) == 0 &&
            rp__bus_publish(pb->bus, ev) == 0)
            atomic_fetch_add(&published, 1);
        usleep(100);
    }
    return NULL;
}

static uint64_t counter(rp__host *host, const char *want)
{
    rp__plugin_info info;
    assert_int_equal(rp__host_plugin_info(host, 0, &info), 0);
    for (uint32_t k = 0; k < info.ncounters; k++) {
        const char *name;
        uint64_t v;
        if (rp__host_plugin_counter(host, 0, k, &name, &v) == 0 && strcmp(name, want) == 0)
            return v;
    }
    fail_msg("no counter %s", want);
    return 0;
}

static enum rp__plugin_state state_of(rp__host *host)
{
    rp__plugin_info info;
    assert_int_equal(rp__host_plugin_info(host, 0, &info), 0);
    return info.state;
}

/* Waits (at most 5 s) until the plugin counted more events than before. */
static void wait_events_past(rp__host *host, uint64_t before)
{
    for (int i = 0; i < 500 && counter(host, "events") <= before; i++)
        usleep(10 * 1000);
    assert_true(counter(host, "events") > before);
}

static json_t *plugins_doc(int enabled, json_t *config)
{
    return json_pack("{s:{s:b, s:s, s:o}}", "r", "enabled", enabled, "file",
                     RP_ABI_PLUGIN_DIR "/abi_reload11.so", "config", config);
}

/* Prepares and commits a reload to plugins (taken); returns prepare's code. */
static int reload(rp__host *host, const rp__config *cfg, json_t *plugins, size_t *not_applied)
{
    rp__host_reload_opts ro = {
        .plugins = plugins, .config_error_arg = (void *)cfg, .file_reloads_max = 8};
    rp__host_reload_plan *plan = NULL;
    char err[1024];
    int rc = rp__host_reload_prepare(host, &ro, &plan, err, sizeof err);
    if (rc == 0)
        rp__host_reload_commit(host, plan, NULL, not_applied);
    else
        fprintf(stderr, "refused: %s\n", err);
    json_decref(plugins);
    return rc;
}

static void test_reload_gates_and_keeps_state(void **state)
{
    (void)state;
    json_t *doc =
        json_pack("{s:{s:s, s:s}, s:o}", "agent", "data_dir", tmpdir, "plugin_dir",
                  RP_ABI_PLUGIN_DIR, "plugins", plugins_doc(1, json_pack("{s:i}", "gen", 1)));
    rp__config *cfg = NULL;
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err), 0);
    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 0);
    rp__host *host = rt.host;
    assert_int_equal(rp__host_load(host, err, sizeof err), 0);
    assert_int_equal(host_runtime_start(&rt), 0);
    assert_int_equal(state_of(host), RP__PLUGIN_RUNNING);

    struct publisher pb = {.bus = rt.bus};
    assert_int_equal(rp__topic_intern("test.tick", 9, &pb.topic), 0);
    atomic_store(&publishing, 1);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, publish_loop, &pb), 0);
    wait_events_past(host, 0);

    /* A new config: reconfigure, never alongside on_event. */
    size_t not_applied = 99;
    assert_int_equal(reload(host, cfg, plugins_doc(1, json_pack("{s:i}", "gen", 2)), &not_applied),
                     0);
    assert_int_equal(not_applied, 0);
    assert_int_equal(counter(host, "reconfigured"), 1);
    assert_int_equal(counter(host, "gen"), 1);
    assert_int_equal(counter(host, "overlap"), 0);
    wait_events_past(host, counter(host, "events"));

    /* A reconfigure that fails: the previous config stays, and so does the plugin. */
    assert_int_equal(reload(host, cfg, plugins_doc(1, json_pack("{s:i, s:b}", "gen", 3, "fail", 1)),
                            &not_applied),
                     0);
    assert_int_equal(not_applied, 1);
    assert_int_equal(state_of(host), RP__PLUGIN_RUNNING);
    assert_int_equal(counter(host, "reconfigured"), 1);
    assert_string_equal(host->plugins[0]->config_json, "{\"gen\":2,\"fail\":false}");
    wait_events_past(host, counter(host, "events"));

    /* A config the schema refuses: refused before anything changes. */
    assert_int_equal(reload(host, cfg, plugins_doc(1, json_pack("{s:s}", "gen", "x")), NULL),
                     RP_ERR_CONFIG);
    assert_int_equal(state_of(host), RP__PLUGIN_RUNNING);
    assert_string_equal(host->plugins[0]->config_json, "{\"gen\":2,\"fail\":false}");

    /* Disabled: stopped, no event after. */
    assert_int_equal(reload(host, cfg, plugins_doc(0, json_pack("{s:i}", "gen", 2)), &not_applied),
                     0);
    assert_int_equal(state_of(host), RP__PLUGIN_STOPPED);
    uint64_t seen = counter(host, "events");
    usleep(100 * 1000);
    assert_int_equal(counter(host, "events"), seen);

    /* Enabled again: a new instance on the same record. */
    assert_int_equal(reload(host, cfg, plugins_doc(1, json_pack("{s:i}", "gen", 5)), &not_applied),
                     0);
    assert_int_equal(not_applied, 0);
    assert_int_equal(state_of(host), RP__PLUGIN_RUNNING);
    assert_int_equal(rp__host_plugin_count(host), 1);
    wait_events_past(host, seen);
    assert_int_equal(counter(host, "overlap"), 0);
    assert_int_equal(counter(host, "early"), 0);

    atomic_store(&publishing, 0);
    pthread_join(th, NULL);
    host_runtime_destroy(&rt);
    rp__config_destroy(cfg);
    json_decref(doc);
}

static int setup(void **state)
{
    (void)state;
    return host_runtime_tmpdir(tmpdir, sizeof tmpdir, "rl");
}

static int teardown(void **state)
{
    (void)state;
    return host_runtime_tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_gates_and_keeps_state),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
