/*
 * Plugin commands (core/runtime/host_command.c) with a real 1.1 plugin
 * binary (tests/abi/plugins/commands11_plugin.c) in a real host, bus, loop
 * and worker pool: routing to the named plugin, replies in order with their
 * "more" flags, the deadline (the caller told RP_ERR_TIMEOUT while
 * on_command still sleeps, so it is not on the loop thread; the plugin's
 * late reply refused with RP_ERR_TIMEOUT), errors named, the per-plugin cap,
 * a requester that lets go early, and a stop that waits for a running
 * command, ends it with RP_ERR_STOPPED and lets none run after. Run under
 * ASan and TSan by make test-asan / test-tsan (label unit).
 */
#include "config.h"
#include "os/os.h"
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../abi/host_runtime.h"

#define PLUGIN_FILE RP_BINARY_DIR "/tests/abi-plugins/abi_commands11.so"

static char tmpdir[64];

/* What notify saw: one wake-up count, read by the test thread. */
static atomic_int wakeups;

static void notify(void *arg)
{
    (void)arg;
    atomic_fetch_add(&wakeups, 1);
}

struct fixture {
    rp__config *cfg;
    struct host_runtime rt;
    size_t cmds_index;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    json_t *doc = json_pack("{s:{s:s, s:s}, s:{s:{s:b, s:s}, s:{s:b, s:s}}}", "agent", "data_dir",
                            tmpdir, "plugin_dir", RP_BINARY_DIR "/plugins", "plugins", "cmds",
                            "enabled", 1, "file", PLUGIN_FILE, "synthetic", "enabled", 1, "file",
                            RP_BINARY_DIR "/plugins/collector_synthetic.so");
    char err[1024];
    int rc =
        rp__config_from_docs(doc, "test.json", NULL, NULL, NULL, tmpdir, &f->cfg, err, sizeof err);
    json_decref(doc);
    if (rc != 0)
        fail_msg("config: %s", err);
    host_runtime_create(&f->rt, f->cfg, 0);
    assert_int_equal(rp__host_load(f->rt.host, err, sizeof err), 0);
    assert_int_equal(host_runtime_start(&f->rt), 0);
    for (size_t i = 0; i < rp__host_plugin_count(f->rt.host); i++) {
        rp__plugin_info pi;
        assert_int_equal(rp__host_plugin_info(f->rt.host, i, &pi), 0);
        if (strcmp(pi.name, "cmds") == 0) {
            f->cmds_index = i;
            if (pi.state != RP__PLUGIN_RUNNING)
                fail_msg("plugin cmds not running: %s", pi.error);
        }
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    host_runtime_destroy(&f->rt);
    rp__config_destroy(f->cfg);
    free(f);
    return 0;
}

static uint64_t counter(struct fixture *f, const char *want)
{
    rp__plugin_info info;
    assert_int_equal(rp__host_plugin_info(f->rt.host, f->cmds_index, &info), 0);
    for (uint32_t k = 0; k < info.ncounters; k++) {
        const char *name;
        uint64_t v;
        if (rp__host_plugin_counter(f->rt.host, f->cmds_index, k, &name, &v) == 0 &&
            strcmp(name, want) == 0)
            return v;
    }
    fail_msg("no counter %s", want);
    return 0;
}

static rp__command *start(struct fixture *f, const char *plugin, const char *request,
                          uint32_t timeout_ms, int want_rc, char *err, size_t errlen)
{
    rp__command *c = NULL;
    int rc = rp__host_command_start(f->rt.host, plugin, request, strlen(request), timeout_ms,
                                    notify, NULL, &c, err, errlen);
    if (rc != want_rc)
        fail_msg("start %s %s: %s (%s), expected %s", plugin, request, rp_errname(rc), err,
                 rp_errname(want_rc));
    return c;
}

/* start, retried while the plugin is at its cap: a command counts until
 * its job's done ran on the loop thread, which may be just after its last
 * reply was taken. */
static rp__command *start_when_free(struct fixture *f, const char *request, uint32_t timeout_ms)
{
    char err[512];
    for (int i = 0; i < 500; i++) {
        rp__command *c = NULL;
        int rc = rp__host_command_start(f->rt.host, "cmds", request, strlen(request), timeout_ms,
                                        notify, NULL, &c, err, sizeof err);
        if (rc == 0)
            return c;
        if (rc != RP_ERR_BUSY)
            fail_msg("start %s: %s (%s)", request, rp_errname(rc), err);
        usleep(10000);
    }
    fail_msg("start %s: busy for 5 s", request);
    return NULL;
}

/* Takes progress replies until the command ends (at most 1000, so a
 * command that never ends fails the test instead of hanging it). */
static int drain(rp__command *c, int *by_plugin, char *err, size_t errlen);

/* Waits (5 s at most) for the next reply or the end; returns next's code. */
static int next(rp__command *c, char **json, int *more, int *by_plugin, char *err, size_t errlen)
{
    for (int i = 0; i < 5000; i++) {
        int rc = rp__host_command_next(c, json, more, by_plugin, err, errlen);
        if (rc != RP_ERR_AGAIN)
            return rc;
        usleep(1000);
    }
    fail_msg("no reply within 5 s");
    return RP_ERR_TIMEOUT;
}

static int drain(rp__command *c, int *by_plugin, char *err, size_t errlen)
{
    char *json = NULL;
    int more = 0, rc = 0;
    for (int i = 0; i < 1000 && (rc = next(c, &json, &more, by_plugin, err, errlen)) == 0; i++)
        free(json);
    if (rc == 0)
        fail_msg("the command did not end after 1000 replies");
    return rc;
}

static void test_echo_and_progress(void **state)
{
    struct fixture *f = *state;
    char err[512], *json = NULL;
    int more = -1, by = -1;
    int w0 = atomic_load(&wakeups);
    rp__command *c =
        start(f, "cmds", "{\"command\":\"echo\",\"args\":[\"x\"]}", 5000, 0, err, sizeof err);
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), 0);
    assert_string_equal(json, "{\"request\":{\"command\":\"echo\",\"args\":[\"x\"]}}");
    assert_int_equal(more, 0);
    free(json);
    /* After the last reply: the end, again and again. */
    assert_int_equal(rp__host_command_next(c, &json, &more, &by, err, sizeof err), RP_ERR_INVAL);
    /* The requester was told on the loop thread (the task may run just
     * after the reply was taken). */
    for (int i = 0; i < 500 && atomic_load(&wakeups) == w0; i++)
        usleep(1000);
    assert_true(atomic_load(&wakeups) > w0);
    rp__host_command_release(c);

    c = start_when_free(f, "{\"command\":\"progress\",\"args\":[\"4\"]}", 5000);
    for (int i = 1; i <= 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "{\"step\":%d,\"of\":4}", i);
        assert_int_equal(next(c, &json, &more, &by, err, sizeof err), 0);
        assert_string_equal(json, want);
        assert_int_equal(more, 1);
        free(json);
    }
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), 0);
    assert_string_equal(json, "{\"done\":4}");
    assert_int_equal(more, 0);
    free(json);
    rp__host_command_release(c);

    c = start_when_free(f, "{\"command\":\"checks\"}", 5000);
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), 0);
    assert_string_equal(json, "{\"not_json\":1,\"bad_flags\":1,\"null_text\":1,\"too_big\":1}");
    free(json);
    rp__host_command_release(c);
    assert_int_equal(counter(f, "outside_run"), 0);
}

static void test_deadline(void **state)
{
    struct fixture *f = *state;
    char err[512], *json = NULL;
    int more = 0, by = -1;
    int64_t t0 = rp__os_monotonic_ns();
    rp__command *c =
        start(f, "cmds", "{\"command\":\"slow\",\"args\":[\"800\"]}", 200, 0, err, sizeof err);
    /* Told at the deadline while on_command still sleeps: the loop thread
     * that runs the deadline's timer is not the one running the command. */
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), RP_ERR_TIMEOUT);
    int64_t took_ms = (rp__os_monotonic_ns() - t0) / 1000000;
    assert_true(took_ms >= 150 && took_ms < 700);
    assert_int_equal(by, 0);
    assert_non_null(strstr(err, "did not finish the command within 200 ms"));
    assert_int_equal(counter(f, "late_timeout"), 0);
    /* The plugin's reply after the deadline is refused with RP_ERR_TIMEOUT. */
    for (int i = 0; i < 300 && counter(f, "late_timeout") == 0; i++)
        usleep(10000);
    assert_int_equal(counter(f, "late_timeout"), 1);
    assert_int_equal(counter(f, "late_other"), 0);
    /* And never reaches the caller. */
    assert_int_equal(rp__host_command_next(c, &json, &more, &by, err, sizeof err), RP_ERR_TIMEOUT);
    rp__host_command_release(c);

    /* A requester that lets go early: the late reply is refused too. */
    c = start_when_free(f, "{\"command\":\"slow\",\"args\":[\"100\"]}", 5000);
    rp__host_command_release(c);
    for (int i = 0; i < 300 && counter(f, "late_timeout") < 2; i++)
        usleep(10000);
    assert_int_equal(counter(f, "late_timeout"), 2);
    rp__command_stats st;
    rp__host_command_stats(f->rt.host, &st);
    assert_int_equal(st.timeouts, 1);
}

static void test_errors_and_cap(void **state)
{
    struct fixture *f = *state;
    char err[512], *json = NULL;
    int more = 0, by = -1;
    start(f, "nosuch", "{}", 1000, RP_ERR_NOTFOUND, err, sizeof err);
    assert_non_null(strstr(err, "no plugin instance named \"nosuch\""));
    start(f, "synthetic", "{}", 1000, RP_ERR_UNSUPPORTED, err, sizeof err);
    assert_non_null(strstr(err, "plugin synthetic takes no commands"));
    start(f, "cmds", "[1]", 1000, RP_ERR_INVAL, err, sizeof err);
    start(f, "cmds", "{", 1000, RP_ERR_INVAL, err, sizeof err);

    rp__command *c = start_when_free(f, "{\"command\":\"fail\"}", 5000);
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), RP_ERR_IO);
    assert_int_equal(by, 1);
    assert_string_equal(err, "RP_ERR_IO: the fail command always fails");
    rp__host_command_release(c);
    /* Two failing at once: each is answered with its own message. */
    rp__command *slow = start_when_free(f, "{\"command\":\"failslow\"}", 5000);
    usleep(100 * 1000);
    c = start_when_free(f, "{\"command\":\"fail\"}", 5000);
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), RP_ERR_IO);
    assert_string_equal(err, "RP_ERR_IO: the fail command always fails");
    rp__host_command_release(c);
    assert_int_equal(next(slow, &json, &more, &by, err, sizeof err), RP_ERR_IO);
    assert_string_equal(err, "RP_ERR_IO: the slow one failed");
    rp__host_command_release(slow);
    c = start_when_free(f, "{\"command\":\"noreply\"}", 5000);
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), RP_ERR_INTERNAL);
    assert_non_null(strstr(err, "returned without a last reply"));
    rp__host_command_release(c);

    /* Two at once per plugin; the third is refused, then taken once one
     * ended. */
    rp__command *a = start_when_free(f, "{\"command\":\"block\"}", 300);
    rp__command *b = start_when_free(f, "{\"command\":\"block\"}", 300);
    start(f, "cmds", "{\"command\":\"echo\"}", 1000, RP_ERR_BUSY, err, sizeof err);
    assert_non_null(strstr(err, "runs 2 commands already"));
    rp__command_stats st;
    rp__host_command_stats(f->rt.host, &st);
    assert_true(st.refused_busy >= 1);
    /* The blocking ones stream until the deadline ends them. */
    assert_int_equal(drain(a, &by, err, sizeof err), RP_ERR_TIMEOUT);
    assert_int_equal(drain(b, &by, err, sizeof err), RP_ERR_TIMEOUT);
    rp__host_command_release(a);
    rp__host_command_release(b);
    for (int i = 0; i < 300 && counter(f, "block_timeout") < 2; i++)
        usleep(10000);
    assert_int_equal(counter(f, "block_timeout"), 2);
    c = start_when_free(f, "{}", 1000);
    /* {} names no command: the plugin's own RP_ERR_NOTFOUND. */
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), RP_ERR_NOTFOUND);
    assert_int_equal(by, 1);
    rp__host_command_release(c);
}

static void test_stop_waits_and_ends_commands(void **state)
{
    struct fixture *f = *state;
    char err[512], *json = NULL;
    int more = 0, by = -1;
    rp__command *c = start(f, "cmds", "{\"command\":\"block\"}", 30000, 0, err, sizeof err);
    assert_int_equal(next(c, &json, &more, &by, err, sizeof err), 0);
    assert_string_equal(json, "{\"waiting\":true}");
    assert_int_equal(more, 1);
    free(json);
    int64_t t0 = rp__os_monotonic_ns();
    rp__host_stop(f->rt.host);
    int64_t took_ms = (rp__os_monotonic_ns() - t0) / 1000000;
    /* The stop waited for the command (block_stopped counted before the
     * plugin's stop ran: no outside_run), and not for the whole bound. */
    assert_int_equal(counter(f, "block_stopped"), 1);
    assert_int_equal(counter(f, "outside_run"), 0);
    assert_true(took_ms < (int64_t)RP__COMMAND_STOP_WAIT_MS);
    assert_int_equal(drain(c, &by, err, sizeof err), RP_ERR_STOPPED);
    assert_int_equal(by, 0);
    rp__host_command_release(c);
    /* Stopped: nothing more reaches the plugin. */
    start(f, "cmds", "{\"command\":\"echo\"}", 1000, RP_ERR_STOPPED, err, sizeof err);
    assert_non_null(strstr(err, "plugin cmds is not running"));
}

static void test_reply_outside_a_command(void **state)
{
    (void)state;
    const rp_host_api *api = rp__host_api();
    assert_non_null(api->command_reply);
    assert_int_equal(api->command_reply(NULL, "1", 1, 0), RP_ERR_INVAL);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rp-hostcmd.XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_echo_and_progress, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors_and_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_waits_and_ends_commands, setup, teardown),
        cmocka_unit_test(test_reply_outside_a_command),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(tmpdir);
    return rc;
}
