/*
 * core/runtime/watchdog.h - the worker's watchdog: callback deadlines (hangs)
 * and per-plugin budgets (docs/containment.md).
 *
 * One thread wakes every sample_ms and reads the call records (callrec.h):
 * a slot whose seq did not move while it stayed inside a plugin is one call,
 * and the sampling measures how long it has lasted, so the event path pays
 * for no clock. A call past the deadline of its kind of callback is a hang:
 *  - the plugin's call record is marked hung (state "hung" in status,
 *    `rampartctl plugins` and agent.health), events to it are dropped and
 *    counted, a log line names the plugin, the callback and how long, and
 *    an alert (rampart.plugin.hung) is raised;
 *  - action restart (the default): the hang is written to the call table's
 *    exit record (cause RP__CR_EXIT_HANG) for the supervisor, which counts
 *    it in the fault ledger and starts the worker again, and the worker is
 *    asked to stop (opts.stop). A thread inside a plugin cannot be
 *    cancelled safely in C, so the stop gives up on that plugin; if the
 *    worker is still alive stop_grace_ms + 2 s later (its control thread is
 *    the one that hangs, in init or start), the watchdog flushes what the
 *    output holds (opts.flush) and ends the process with status 70;
 *  - action report: the hang is reported to the fault ledger
 *    (rp__faults_report) and the worker runs on; when the call returns, the
 *    plugin is no longer hung and gets events again.
 * Budgets, checked at every sample:
 *  - CPU: the thread CPU time of a plugin's callbacks (loop, worker and
 *    on_event, the last measured per delivered batch by the bus) over a
 *    window of window_s; over cpu_percent of one CPU, events to it are
 *    dropped and counted until the window ends; one alert
 *    (rampart.plugin.cpu_budget) per window at most;
 *  - its share of the bus's byte cap is enforced by the bus itself
 *    (rp__bus_opts.sub_max_bytes); the watchdog raises the alert
 *    (rampart.plugin.bus_share) when its drops grow, one per window at most.
 *
 * Threads: start and stop on the control thread; the callbacks run on the
 * watchdog's thread.
 */
#ifndef RP_CORE_WATCHDOG_H
#define RP_CORE_WATCHDOG_H

#include "runtime/callrec.h"
#include "runtime/host.h"

#include <stdint.h>

typedef struct rp__watchdog rp__watchdog;

/* agent.deadlines, in ms; 0 = no deadline for that kind of callback. */
typedef struct rp__deadlines {
    uint32_t event_ms;       /* on_event */
    uint32_t command_ms;     /* on_command */
    uint32_t timer_ms;       /* timer callbacks and job done callbacks */
    uint32_t fd_ms;          /* fd watch callbacks */
    uint32_t job_ms;         /* worker jobs */
    uint32_t init_ms;        /* entry, check_config, init */
    uint32_t start_ms;       /* start */
    uint32_t stop_ms;        /* stop, destroy */
    uint32_t reconfigure_ms; /* reconfigure */
} rp__deadlines;

typedef struct rp__watchdog_opts {
    rp__host *host; /* borrowed; must outlive the watchdog; NULL: call records only
                       (no budgets, no host records marked; for tests) */
    uint32_t sample_ms;
    rp__deadlines deadlines;
    int restart;            /* action restart (1) or report (0) */
    uint32_t stop_grace_ms; /* agent.stop_grace_ms: the last-resort exit comes after it */
    uint32_t cpu_percent;   /* of one CPU; 0 = no CPU budget */
    uint32_t window_s;      /* >= 1 */
    /* Raises one of the agent's alerts (any thread). */
    void (*alert)(void *arg, const char *rule_id, const char *rule_name, int severity,
                  const char *message);
    /* Asks the worker to stop (action restart). */
    void (*stop)(void *arg);
    /* Writes out what the output holds, before a last-resort exit. */
    void (*flush)(void *arg);
    void *arg;
} rp__watchdog_opts;

/* Starts the watchdog's thread. opts is copied. RP_ERR_INVAL, RP_ERR_NOMEM. */
int rp__watchdog_start(const rp__watchdog_opts *opts, rp__watchdog **out);
/* Stops and frees it; NULL is a no-op. */
void rp__watchdog_stop(rp__watchdog *w);

/* One sample at time now_ns (monotonic), what the thread does every
 * sample_ms; for tests, which drive it with a watchdog made by
 * rp__watchdog_create (no thread). */
int rp__watchdog_create(const rp__watchdog_opts *opts, rp__watchdog **out);
void rp__watchdog_sample(rp__watchdog *w, int64_t now_ns);
void rp__watchdog_destroy(rp__watchdog *w);

/* The deadline of a kind of callback (0 = none) and the config key that
 * sets it ("event_ms"). */
uint32_t rp__deadline_of(const rp__deadlines *d, uint32_t kind, const char **key);

/* 1 when a thread is inside a call of plugin cr_index (its call-record
 * index + 1) now, with the kind in *kind (may be NULL). Any thread. */
int rp__watchdog_in_call(uint32_t cr_index, uint32_t *kind);

/* The calls of one plugin under way at one moment, to tell a call that
 * never returns from a stream of short ones (a busy fd watch). */
typedef struct rp__call_snap {
    uint32_t n;
    uint16_t slot[RP__CR_SLOTS];
    uint32_t seq[RP__CR_SLOTS];
    uint32_t kind[RP__CR_SLOTS];
} rp__call_snap;
/* Takes the snapshot of plugin cr_index's calls, but those of the kinds in
 * skip (a bit 1 << kind each); returns how many. */
uint32_t rp__watchdog_snap(uint32_t cr_index, uint32_t skip, rp__call_snap *snap);
/* 1 while one of the snapshot's calls is still under way (its slot has not
 * moved since), with its kind in *kind (may be NULL). */
int rp__watchdog_snap_pending(const rp__call_snap *snap, uint32_t *kind);

#endif
