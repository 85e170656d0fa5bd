/*
 * Back-pressure at the bus's byte cap, with a real plugin binary built
 * against the frozen 1.0 header (plugins/flood.c): when the sink stops
 * taking events, the bus refuses the plugin's events at agent.bus_max_bytes,
 * the host takes the plugin's fd watch out of the loop so the data waits
 * (and would overflow) in the kernel, the queued bytes stay under the cap,
 * and once the sink moves again the watch resumes and every accepted event
 * reaches the sink.
 */
#include "config.h"
#include "runtime/host.h"

#include <jansson.h>
#include <rampart/plugin.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_runtime.h"

static char tmpdir[64];

static atomic_int gate;
static atomic_ulong sunk;

/* The sink stand-in: a lossless core subscription that waits while the gate
 * is shut. */
static int gated_sink(void *arg, const struct rp_event *ev)
{
    (void)arg;
    (void)ev;
    while (!atomic_load(&gate))
        usleep(1000);
    atomic_fetch_add(&sunk, 1);
    return 0;
}

static void info_of(rp__host *host, rp__plugin_info *info, size_t *index)
{
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        assert_int_equal(rp__host_plugin_info(host, i, info), 0);
        if (strcmp(info->name, "flood") == 0) {
            *index = i;
            return;
        }
    }
    fail_msg("plugin flood not in the host");
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

static void test_full_bus_suspends_and_resumes_watches(void **state)
{
    (void)state;
    char fifo[128];
    snprintf(fifo, sizeof fifo, "%s/feed", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    int wfd = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    assert_true(wfd >= 0);

    const uint64_t cap = 1 << 20; /* the smallest agent.bus_max_bytes */
    json_t *doc = json_pack("{s:{s:s, s:s, s:I}, s:{s:{s:b, s:s, s:{s:s}}}}", "agent", "data_dir",
                            tmpdir, "plugin_dir", RP_ABI_PLUGIN_DIR, "bus_max_bytes",
                            (json_int_t)cap, "plugins", "flood", "enabled", 1, "file",
                            RP_ABI_PLUGIN_DIR "/abi_flood.so", "config", "path", fifo);
    rp__config *cfg = NULL;
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &cfg, err, sizeof err), 0);
    assert_int_equal(cfg->bus_max_bytes, cap);
    struct host_runtime rt;
    host_runtime_create(&rt, cfg, 0);
    rp__host *host = rt.host;
    assert_int_equal(rp__host_load(host, err, sizeof err), 0);
    atomic_store(&gate, 0);
    uint64_t sink_sub;
    assert_int_equal(
        rp__bus_subscribe(rt.bus, "*", gated_sink, NULL, 0, RP__BUS_LOSSLESS, 0, &sink_sub), 0);
    assert_int_equal(host_runtime_start(&rt), 0);

    rp__plugin_info info;
    size_t idx = 0;
    info_of(host, &info, &idx);
    assert_int_equal(info.state, RP__PLUGIN_RUNNING);

    /* 3000 events of ~5 KiB each: ~15 MiB against a 1 MiB cap. */
    enum { N = 3000 };
    char bytes[N];
    memset(bytes, 'b', sizeof bytes);
    assert_int_equal(write(wfd, bytes, sizeof bytes), (ssize_t)sizeof bytes);

    for (int i = 0; i < 500; i++) {
        info_of(host, &info, &idx);
        if (info.suspended)
            break;
        usleep(10 * 1000);
    }
    assert_true(info.suspended);
    assert_true(info.publish_full > 0);
    assert_true(info.suspensions >= 1);

    /* Suspended: the plugin reads nothing more; the rest waits in the FIFO. */
    usleep(100 * 1000);
    uint64_t read1 = counter(host, idx, "bytes_read");
    usleep(300 * 1000);
    assert_int_equal(counter(host, idx, "bytes_read"), read1);
    assert_true(read1 < N);
    int waiting = 0;
    assert_int_equal(ioctl(wfd, FIONREAD, &waiting), 0);
    assert_int_equal((uint64_t)waiting, N - read1);

    rp__host_flow fl;
    rp__host_flow_stats(host, &fl);
    assert_int_equal(fl.max_bytes, cap);
    assert_true(fl.queued_bytes <= cap);
    assert_true(fl.peak_bytes <= cap);
    assert_true(fl.refused_full > 0);
    assert_int_equal(fl.episodes, 1);
    assert_int_equal(fl.suspended_now, 1);
    fprintf(stderr, "suspended after reading %llu of %d bytes; %llu bytes queued (cap %llu)\n",
            (unsigned long long)read1, N, (unsigned long long)fl.queued_bytes,
            (unsigned long long)cap);

    /* The sink moves again: the watch resumes, the FIFO is read to the end,
     * and every event the bus accepted reached the sink. */
    atomic_store(&gate, 1);
    for (int i = 0; i < 1000 && counter(host, idx, "bytes_read") < N; i++)
        usleep(10 * 1000);
    assert_int_equal(counter(host, idx, "bytes_read"), N);
    for (int i = 0; i < 500; i++) {
        info_of(host, &info, &idx);
        if (atomic_load(&sunk) >= info.published && !info.suspended)
            break;
        usleep(10 * 1000);
    }
    info_of(host, &info, &idx);
    assert_false(info.suspended);
    assert_int_equal(atomic_load(&sunk), info.published);
    assert_int_equal(info.published + info.publish_full, N);
    assert_int_equal(counter(host, idx, "refused"), info.publish_full);

    host_runtime_destroy(&rt);
    rp__config_destroy(cfg);
    json_decref(doc);
    close(wfd);
    unlink(fifo);
}

static int setup(void **state)
{
    (void)state;
    return host_runtime_tmpdir(tmpdir, sizeof tmpdir, "bp");
}

static int teardown(void **state)
{
    (void)state;
    return host_runtime_tmpdir_remove(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_bus_suspends_and_resumes_watches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
