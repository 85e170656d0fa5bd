/*
 * core/supervisor.h - rampartd's supervisor: a small process that starts the
 * agent (the worker) as a child, restarts it when it dies or overruns its
 * CPU or memory budget, tells the fault ledger which plugin a crash was in,
 * and forwards the stop and reload signals to it. Design: docs/supervisor.md.
 *
 * The supervisor loads no plugin, starts no thread and has no bus: it
 * waits on signals, the worker's ready pipe and a one-second tick. What the
 * worker did last is read from the call records (runtime/callrec.h), shared
 * memory made before the fork.
 */
#ifndef RP_CORE_SUPERVISOR_H
#define RP_CORE_SUPERVISOR_H

#include "runtime/callrec.h"

#include <jansson.h>
#include <stdint.h>

typedef struct rp__sup_opts {
    int foreground; /* stay attached; otherwise detach once the first worker runs */
    uint32_t backoff_min_ms, backoff_max_ms;
    uint32_t cpu_percent, cpu_window_s; /* 0 percent: no CPU budget */
    uint32_t memory_mb;                 /* 0: no memory budget */
    uint32_t stop_grace_ms;             /* agent.stop_grace_ms */
    /* Runs in the worker (the child), returns its exit status. */
    int (*worker)(void *arg);
    void *arg;
} rp__sup_opts;

/* Runs the supervisor until the agent stops; returns rampartd's exit status
 * (the worker's, when it failed to start for good: 64, 69, 73, 78). The
 * fault ledger must be open (runtime/faults.h); logging too. */
int rp__supervise(const rp__sup_opts *opts, struct rp__callrec *table);

/* In the worker: 1 when it runs under a supervisor. */
int rp__supervised(void);
/* In the worker: the supervisor's pid (0 without one). */
long rp__supervisor_pid(void);
/* In the worker, once it runs: tells the supervisor (ready pipe). */
void rp__worker_ready(void);
/* In the worker: asks the supervisor to start a new worker at once once
 * this one stops (not a fault; why names the plugin enabled). 0, or
 * RP_ERR_UNSUPPORTED without a supervisor. */
int rp__worker_request_restart(const char *why);
/* Sends the worker its own stop signal (after rp__worker_request_restart). */
void rp__worker_restart_signal(void);
/* What status.json says of the supervisor ({"pid","restarts","last_cause"}),
 * or NULL when there is none. */
json_t *rp__supervisor_status(void);
/* The restart's cause for the alert the new worker raises, or NULL when this
 * worker is the first. */
const char *rp__supervisor_restart_cause(uint32_t *restarts);

#endif
