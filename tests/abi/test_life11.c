/*
 * tests/abi/test_life11.c - the lifetime rules of sdk/docs/host-api.md
 * ("Threads and lifetimes"), with a real plugin binary (plugins/life11.c)
 * loaded by the real host on a bus, loop and worker pool set up as the
 * agent sets them up, while this test floods the plugin's subscription:
 *
 * - on_event never runs before start returned or after stop began; what
 *   meets the shut gate is dropped and counted (lifecycle_dropped);
 * - at stop every job's done runs exactly once, before destroy, with
 *   RP_ERR_STOPPED for the jobs cancelled before they ran;
 * - from stop on new jobs and timers are refused, and no timer or watch
 *   the plugin left runs after destroy;
 * - the lifecycle runs on one control thread, not the loop thread;
 *   config_get and get_str accept a NULL length.
 */
#include "config.h"
#include "runtime/event.h"
#include "runtime/host.h"
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

struct flood {
    pthread_t thread;
    rp__bus *bus;
    atomic_int quit;
    atomic_uint_fast64_t published;
};

/* Publishes life11.tick events from the core until told to quit, a little
 * slower than a dispatcher takes them. */
static void *flood_main(void *arg)
{
    struct flood *f = arg;
    uint32_t topic;
    if (rp__topic_intern("life11.tick", 11, &topic) != 0)
        return NULL;
    for (unsigned i = 0; !atomic_load(&f->quit); i++) {
        struct rp_event *ev;
        if (rp__event_create(topic, rp__topic_name(topic), 0, &ev) != 0)
            break;
        if (rp__bus_publish(f->bus, ev) == 0)
            atomic_fetch_add(&f->published, 1);
        if (i % 16 == 0)
            usleep(100);
    }
    return NULL;
}

static uint64_t counter(rp__host *host, size_t index, const char *want)
{
    rp__plugin_info info;
    assert_int_equal(rp__host_plugin_info(host, index, &info), 0);
    for (uint32_t k = 0; k < info.ncounters; k++) {
        const char *name;
        uint64_t v;
        if (rp__host_plugin_counter(host, index, k, &name, &v) == 0 && strcmp(name, want) == 0)
            return v;
    }
    fail_msg("no counter %s", want);
    return 0;
}

static void test_lifetimes_under_a_flood(void **state)
{
    (void)state;
    json_t *doc = json_pack("{s:{s:s, s:s}, s:{s:{s:b, s:s}}}", "agent", "data_dir", tmpdir,
                            "plugin_dir", RP_ABI_PLUGIN_DIR, "plugins", "life11", "enabled", 1,
                            "file", RP_ABI_PLUGIN_DIR "/abi_life11.so");
    rp__config *cfg = NULL;
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err), 0);
    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 0);
    assert_int_equal(rp__host_load(rt.host, err, sizeof err), 0);
    assert_int_equal(rp__host_plugin_count(rt.host), 1);

    /* The flood runs before, during and after start and stop. */
    struct flood f = {.bus = rt.bus};
    assert_int_equal(pthread_create(&f.thread, NULL, flood_main, &f), 0);
    assert_int_equal(host_runtime_start(&rt), 0);
    rp__plugin_info info;
    assert_int_equal(rp__host_plugin_info(rt.host, 0, &info), 0);
    assert_int_equal(info.state, RP__PLUGIN_RUNNING);
    uint64_t dropped_at_start = info.lifecycle_dropped;
    for (int i = 0; i < 200 && counter(rt.host, 0, "life11_seen") < 100; i++)
        usleep(5 * 1000);
    usleep(50 * 1000);

    rp__host_stop(rt.host);
    /* The loop and the workers still run: anything the host failed to
     * remove would fire now. */
    usleep(100 * 1000);
    atomic_store(&f.quit, 1);
    assert_int_equal(pthread_join(f.thread, NULL), 0);
    assert_int_equal(rp__host_plugin_info(rt.host, 0, &info), 0);
    assert_int_equal(info.state, RP__PLUGIN_STOPPED);

    const char *names[] = {
        "life11_outside",      "life11_seen",         "life11_submitted", "life11_done_ok",
        "life11_done_stopped", "life11_done_bad",     "life11_done_late", "life11_pending",
        "life11_chain_after",  "life11_refused",      "life11_late",      "life11_loop_calls",
        "life11_loop_is_ctl",  "life11_wrong_thread", "life11_config_ok", "life11_get_str_bad"};
    uint64_t v[sizeof names / sizeof names[0]];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        v[i] = counter(rt.host, 0, names[i]);
        fprintf(stderr, "%s %llu\n", names[i], (unsigned long long)v[i]);
    }
    fprintf(stderr, "published %llu, lifecycle_dropped %llu (%llu by the end of start)\n",
            (unsigned long long)atomic_load(&f.published),
            (unsigned long long)info.lifecycle_dropped, (unsigned long long)dropped_at_start);

    /* on_event: only between start and stop, and it did run there. */
    assert_int_equal(v[0], 0);
    assert_true(v[1] > 0);
    /* The events that came before start returned waited for it (the
     * plugin subscribed in init): none was turned away. */
    assert_int_equal(dropped_at_start, 0);
    /* Jobs: each done once, before destroy; some cancelled, some ran. */
    assert_true(v[2] > 0);
    assert_int_equal(v[3] + v[4], v[2]);
    assert_true(v[4] > 0);
    assert_true(v[3] > 0);
    assert_int_equal(v[5], 0);
    assert_int_equal(v[6], 0);
    assert_int_equal(v[7], 0);
    /* From stop on, new jobs and timers are refused; nothing fires late. */
    assert_int_equal(v[8], 0);
    assert_true(v[9] > 0);
    assert_int_equal(v[10], 0);
    /* The control thread runs the lifecycle; loop callbacks run elsewhere. */
    assert_true(v[11] > 0);
    assert_int_equal(v[12], 0);
    assert_int_equal(v[13], 0);
    /* NULL lengths. */
    assert_int_equal(v[14], 1);
    assert_int_equal(v[15], 0);

    host_runtime_destroy(&rt);
    rp__config_destroy(cfg);
    json_decref(doc);
}

static int setup(void **state)
{
    (void)state;
    return host_runtime_tmpdir(tmpdir, sizeof tmpdir, "life11");
}

static int teardown(void **state)
{
    (void)state;
    return host_runtime_tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifetimes_under_a_flood),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
