/*
 * core/runtime/workers.h - the host's small worker pool for heavy jobs (YARA scans,
 * hashing large files) that must not run on the loop thread.
 *
 * A fixed set of threads sleeps on a condition variable while there is no
 * job: an idle pool costs no CPU and no wake-ups. Jobs start in submission
 * order (FIFO); with more than one thread they may finish in any order.
 *
 * Completions: done(arg, status) runs on the loop thread (via an intrusive
 * loop task, so a completion can never be lost to a full post queue) when
 * the pool was created with a loop, otherwise on the worker thread right
 * after work. If the loop stops before a done could run there, it runs on the
 * thread stopping the loop (rp__loop_stop / rp__loop_destroy) once the loop
 * thread is gone; either way done never runs concurrently with loop
 * callbacks. status is 0 when work ran, RP_ERR_STOPPED when the job was
 * cancelled by rp__workers_destroy before it started (work never ran).
 *
 * Cap: opts.queue_cap (default 1024) bounds the jobs the pool holds at once:
 * queued, running, or finished with done not yet run. At the cap
 * rp__workers_submit returns RP_ERR_FULL at once (never blocks), takes
 * nothing, and counts the rejection; the caller decides whether to drop,
 * retry later or do the work itself. Job records come from a pool allocated
 * at create: submit never allocates.
 *
 * Threads: every function may be called from any thread, including from
 * inside work and done, except rp__workers_destroy (see there).
 * Functions return 0 or a negative RP_ERR_* code.
 */
#ifndef RP_CORE_WORKERS_H
#define RP_CORE_WORKERS_H

#include "runtime/loop.h"

#include <stdint.h>

typedef struct rp__workers rp__workers;

#define RP__WORKERS_DEFAULT_THREADS   2u
#define RP__WORKERS_DEFAULT_QUEUE_CAP 1024u
#define RP__WORKERS_MAX_THREADS       64u
#define RP__WORKERS_MAX_QUEUE_CAP     (1u << 20)

/* Zero fields take the defaults. */
typedef struct rp__workers_opts {
    uint32_t threads;   /* worker threads, started by create */
    uint32_t queue_cap; /* jobs held at once, see above */
    /* Accounting hooks (copied; NULL: none), called on the thread that runs
     * each work and done with the job's owner, as for the loop. */
    const rp__loop_hooks *hooks;
} rp__workers_opts;

typedef struct rp__workers_stats {
    uint64_t submitted;   /* jobs accepted */
    uint64_t completed;   /* work functions that returned */
    uint64_t cancelled;   /* jobs cancelled before starting (destroy, cancel_owner) */
    uint64_t rejected;    /* submits refused with RP_ERR_FULL */
    uint32_t queued;      /* jobs waiting for a thread now (queue depth) */
    uint32_t queued_high; /* highest queue depth seen */
    uint32_t held;        /* jobs held now: queued + running + awaiting done */
    uint32_t held_high;   /* highest held seen (RP_ERR_FULL when it hits queue_cap) */
} rp__workers_stats;

typedef void (*rp__workers_work_fn)(void *arg);
typedef void (*rp__workers_done_fn)(void *arg, int status);

/*
 * Creates the pool and starts its threads. opts may be NULL for defaults;
 * RP_ERR_RANGE above RP__WORKERS_MAX_THREADS / RP__WORKERS_MAX_QUEUE_CAP.
 * loop (borrowed; may be NULL) receives the completions and must outlive the
 * pool; it need not be running yet (completions wait for it).
 */
int rp__workers_create(const rp__workers_opts *opts, rp__loop *loop, rp__workers **out);

/*
 * Destroys the pool: jobs not yet started are cancelled (their done runs with
 * RP_ERR_STOPPED), running jobs finish, threads are joined, then every done
 * still owed runs before this returns:
 *   - called on the loop thread, or while the loop is not running (or
 *     without a loop): synchronously on the calling thread;
 *   - called from another thread while the loop runs: on the loop thread,
 *     and this waits for them (do not call it holding something a loop
 *     callback needs).
 * Not from inside work or done of this pool, and not concurrently with
 * rp__loop_start/stop of its loop. NULL is a no-op.
 */
void rp__workers_destroy(rp__workers *w);

/*
 * Queues work(arg) to run on a worker thread, then done(arg, status) if done
 * is not NULL (see completions above). owner is passed to the hooks. Never
 * blocks. RP_ERR_FULL at the cap and RP_ERR_STOPPED once destroy began: in
 * both cases nothing was queued and arg is still the caller's. On success
 * arg is lent to the job until done has run (or until work returned, without
 * done); a job without done that is cancelled is dropped silently, so give a
 * done whenever arg owns memory.
 */
int rp__workers_submit(rp__workers *w, void *owner, rp__workers_work_fn work,
                       rp__workers_done_fn done, void *arg);

/*
 * Stops owner's jobs, for unloading one plugin while the pool serves others:
 * its jobs not yet started are cancelled (done gets RP_ERR_STOPPED), and this
 * waits until none of its jobs is running or owes a done. Afterwards no work
 * or done of owner runs (unless submitted again). Dones run where they
 * normally would, and this waits for them; when that place is here (called on
 * the loop thread, with the loop not running, or without a loop), they run
 * here, along with any other owner's dones already owed. On the loop thread
 * this blocks while owner's running jobs finish. Never call it from a work or
 * done of this pool (it could wait for itself).
 */
int rp__workers_cancel_owner(rp__workers *w, void *owner);

void rp__workers_get_stats(rp__workers *w, rp__workers_stats *out);

#endif
