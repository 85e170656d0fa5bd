/*
 * tests/unit/test_watchdog.c - the watchdog's deadlines (core/runtime/watchdog.c)
 * driven by hand: call records entered and left on this thread, samples at
 * chosen times. What the supervisor reads after a hang (the call table's
 * exit record) is checked here; the agent-level behaviour is in
 * tests/abi/test_chaos_hang.sh.
 */
#include "runtime/callrec.h"
#include "runtime/watchdog.h"

#include <rampart/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define MS ((int64_t)1000000)

static int stops, alerts;
static char last_rule[64];

static void on_stop(void *arg)
{
    (void)arg;
    stops++;
}

static void on_alert(void *arg, const char *rule_id, const char *rule_name, int severity,
                     const char *message)
{
    (void)arg, (void)rule_name, (void)severity, (void)message;
    alerts++;
    snprintf(last_rule, sizeof last_rule, "%s", rule_id);
}

static rp__watchdog *make(int restart)
{
    rp__watchdog_opts o = {.sample_ms = 100,
                           .deadlines = {.event_ms = 500, .timer_ms = 0, .job_ms = 5000},
                           .restart = restart,
                           .stop_grace_ms = 1000,
                           .window_s = 10,
                           .alert = on_alert,
                           .stop = on_stop};
    rp__watchdog *w = NULL;
    assert_int_equal(rp__watchdog_create(&o, &w), 0);
    stops = alerts = 0;
    last_rule[0] = '\0';
    return w;
}

static uint32_t plugin(const char *name)
{
    uint32_t idx = 0;
    assert_int_equal(rp__callrec_plugin_add(name, "/x/p.so", 1, 2, 3, 4, &idx), 0);
    assert_true(idx > 0);
    return idx;
}

static void test_deadline_restart_writes_exit(void **state)
{
    (void)state;
    uint32_t idx = plugin("slow");
    rp__watchdog *w = make(1);
    memset(&rp__callrec_table->exit, 0, sizeof rp__callrec_table->exit);
    uint64_t saved = rp__callrec_enter(idx, RP__CR_EVENT);
    rp__watchdog_sample(w, 1000 * MS); /* first seen */
    rp__watchdog_sample(w, 1400 * MS); /* 400 ms: under the deadline */
    assert_int_equal(atomic_load(&rp__callrec_table->plugins[idx - 1].hung), 0);
    assert_int_equal(stops, 0);
    rp__watchdog_sample(w, 1500 * MS); /* 500 ms: at it */
    assert_int_equal(atomic_load(&rp__callrec_table->plugins[idx - 1].hung), 1);
    assert_int_equal(alerts, 1);
    assert_string_equal(last_rule, "rampart.plugin.hung");
    assert_int_equal(stops, 1);
    /* What the supervisor reads after the worker exits. */
    struct rp__cr_exit *x = &rp__callrec_table->exit;
    assert_int_equal(atomic_load(&x->cause), RP__CR_EXIT_HANG);
    assert_int_equal(x->plugin, idx);
    assert_int_equal(x->kind, RP__CR_EVENT);
    assert_non_null(strstr(x->detail, "plugin slow hung in on_event"));
    assert_non_null(strstr(x->detail, "agent.deadlines.event_ms 500"));
    /* Reported once per call, and the stop is asked once. */
    rp__watchdog_sample(w, 1700 * MS);
    assert_int_equal(alerts, 1);
    assert_int_equal(stops, 1);
    rp__callrec_leave(saved);
    rp__watchdog_sample(w, 1800 * MS);
    assert_int_equal(atomic_load(&rp__callrec_table->plugins[idx - 1].hung), 0);
    rp__watchdog_destroy(w);
}

static void test_report_marks_and_clears(void **state)
{
    (void)state;
    uint32_t idx = plugin("reported");
    rp__watchdog *w = make(0);
    memset(&rp__callrec_table->exit, 0, sizeof rp__callrec_table->exit);
    uint64_t saved = rp__callrec_enter(idx, RP__CR_EVENT);
    rp__watchdog_sample(w, 10 * 1000 * MS);
    rp__watchdog_sample(w, 10 * 1000 * MS + 600 * MS);
    assert_int_equal(atomic_load(&rp__callrec_table->plugins[idx - 1].hung), 1);
    assert_int_equal(alerts, 1);
    assert_int_equal(stops, 0); /* report: the worker runs on */
    assert_int_equal(atomic_load(&rp__callrec_table->exit.cause), RP__CR_EXIT_NONE);
    rp__callrec_leave(saved);
    rp__watchdog_sample(w, 10 * 1000 * MS + 700 * MS);
    assert_int_equal(atomic_load(&rp__callrec_table->plugins[idx - 1].hung), 0);
    rp__watchdog_destroy(w);
}

/* Many short calls are not one long one, and a kind without a deadline
 * (timer_ms 0 here) is never a hang. */
static void test_short_calls_and_no_deadline(void **state)
{
    (void)state;
    uint32_t idx = plugin("busy");
    rp__watchdog *w = make(1);
    for (int i = 0; i < 20; i++) {
        uint64_t saved = rp__callrec_enter(idx, RP__CR_EVENT);
        rp__watchdog_sample(w, (20 * 1000 + (int64_t)i * 300) * MS);
        rp__callrec_leave(saved);
    }
    uint64_t saved = rp__callrec_enter(idx, RP__CR_TIMER);
    rp__watchdog_sample(w, 30 * 1000 * MS);
    rp__watchdog_sample(w, 90 * 1000 * MS);
    rp__callrec_leave(saved);
    assert_int_equal(alerts, 0);
    assert_int_equal(stops, 0);
    assert_int_equal(atomic_load(&rp__callrec_table->plugins[idx - 1].hung), 0);
    rp__watchdog_destroy(w);
}

/* The bounded stop's view: a snapshot of a plugin's calls is pending while
 * the same call lasts, not while new calls follow each other. */
static void test_snapshot(void **state)
{
    (void)state;
    uint32_t idx = plugin("snap");
    rp__call_snap snap;
    assert_int_equal(rp__watchdog_snap(idx, 0, &snap), 0);
    uint64_t saved = rp__callrec_enter(idx, RP__CR_FD);
    assert_int_equal(rp__watchdog_snap(idx, 0, &snap), 1);
    assert_int_equal(rp__watchdog_snap(idx, 1u << RP__CR_FD, &snap), 0);
    rp__watchdog_snap(idx, 0, &snap);
    uint32_t kind = 0;
    assert_int_equal(rp__watchdog_snap_pending(&snap, &kind), 1);
    assert_int_equal(kind, RP__CR_FD);
    rp__callrec_leave(saved);
    saved = rp__callrec_enter(idx, RP__CR_FD); /* a new call of the same kind */
    assert_int_equal(rp__watchdog_snap_pending(&snap, NULL), 0);
    rp__callrec_leave(saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_restart_writes_exit),
        cmocka_unit_test(test_report_marks_and_clears),
        cmocka_unit_test(test_short_calls_and_no_deadline),
        cmocka_unit_test(test_snapshot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
