/*
 * core/runtime/loop.h - the agent's one event loop thread.
 *
 * Every collector fd and every timer of every plugin is served by one thread
 * sleeping in the OS poller (epoll on Linux). Nothing polls: with no ready fd,
 * no due timer and nothing posted, the loop thread sleeps without a timeout,
 * and timers are coalesced so that many periodic timers cost one wake-up.
 * Design note: docs/loop.md.
 *
 * Threads: every function may be called from any thread unless stated
 * otherwise; all callbacks run on the loop thread, one at a time, never
 * concurrently with each other. Callbacks may call any function here,
 * including unwatching or cancelling themselves. A callback must not block:
 * heavy work goes to the worker pool (core/runtime/workers.h).
 *
 * Ownership: the loop never owns the callers' fds or args. It does not close
 * watched fds and never frees an arg.
 *
 * Caps (what happens at them):
 *   - watches: opts.max_watches (default 4096); rp__loop_watch_fd returns
 *     RP_ERR_FULL beyond it.
 *   - timers: opts.max_timers (default 4096); rp__loop_timer_add returns
 *     RP_ERR_FULL beyond it.
 *   - posts: opts.post_cap (default 1024) callbacks queued and not yet run;
 *     rp__loop_post returns RP_ERR_FULL (never blocks) and counts the
 *     rejection in rp__loop_stats.posts_rejected.
 *   - tasks (rp__loop_post_task) have no cap of their own: their storage
 *     belongs to the caller, so each caller bounds them by its own structure.
 *
 * Functions return 0 or a negative RP_ERR_* code (sdk/include/rampart/plugin.h).
 */
#ifndef RP_CORE_LOOP_H
#define RP_CORE_LOOP_H

#include <stdint.h>

typedef struct rp__loop rp__loop;

/* Interest (watch_fd) and readiness (callback revents) bits. ERROR and HUP
 * are reported even when not asked for. HUP is a hang-up: the write end of a
 * pipe closed, or a socket peer shut down (reads then return end-of-file
 * after any buffered data). */
#define RP__LOOP_READ  0x1u /* readable, or end-of-file pending */
#define RP__LOOP_WRITE 0x2u /* writable */
#define RP__LOOP_ERROR 0x4u /* error pending on the fd */
#define RP__LOOP_HUP   0x8u /* hang-up */

#define RP__LOOP_DEFAULT_MAX_WATCHES 4096u
#define RP__LOOP_DEFAULT_MAX_TIMERS  4096u
#define RP__LOOP_DEFAULT_POST_CAP    1024u
/* Upper bound of the caps above (ids keep 24 bits for the slot). */
#define RP__LOOP_MAX_CAP (1u << 20)
/* Longest first_ms / interval_ms a timer accepts (about 34 years). */
#define RP__LOOP_MAX_MS ((uint64_t)1 << 40)

/* Options of rp__loop_create; zero fields take the defaults above. */
typedef struct rp__loop_opts {
    uint32_t max_watches;
    uint32_t max_timers;
    uint32_t post_cap;
    /* Time slice the loop thread asks of the scheduler, in microseconds
     * (rp__os_thread_set_slice); 0 leaves the platform's default. */
    uint32_t slice_us;
    /* Non-zero: the loop thread runs at the lowest real-time priority
     * (rp__os_thread_set_realtime) while its CPU use stays at or below this
     * percentage of one CPU, measured over windows of about a second; above
     * it, it drops to normal scheduling for RP__LOOP_RT_BACKOFF_MS, and comes
     * back when a window is under half the cap. So a burst the loop can keep
     * up with is read at once, and a flood (or a plugin callback that spins)
     * cannot take a CPU from the user at real-time priority for long. */
    uint32_t realtime_max_cpu_pct;
    /* How long the loop stays at normal scheduling after going over its cap,
     * in milliseconds; 0 = RP__LOOP_RT_BACKOFF_MS. Tests shorten it. */
    uint32_t realtime_backoff_ms;
} rp__loop_opts;

#define RP__LOOP_RT_BACKOFF_MS 10000u

/*
 * Accounting hooks, called on the thread that runs each callback: enter just
 * before it with the owner given when the watch/timer/post was registered,
 * leave just after with the CPU time the callback used on that thread
 * (thread CPU clock, nanoseconds). The host uses them to record which plugin
 * it entered (crash attribution) and per-plugin CPU time (ARCHITECTURE §8).
 * Either pointer may be NULL; ctx is passed through. The hooks must be cheap
 * and must not call back into the loop.
 */
/* What kind of callback a hook is told about. */
enum rp__loop_call {
    RP__LOOP_CALL_FD = 1, /* an fd watch */
    RP__LOOP_CALL_TIMER,
    RP__LOOP_CALL_JOB,  /* a worker job's work function */
    RP__LOOP_CALL_DONE, /* a worker job's done callback */
};

typedef struct rp__loop_hooks {
    void (*enter)(void *ctx, void *owner, int kind); /* kind: enum rp__loop_call */
    void (*leave)(void *ctx, void *owner, int64_t cpu_ns);
    void *ctx;
} rp__loop_hooks;

/* The two ends of a hooked callback, for the loop and the worker pool alike:
 * enter calls hooks->enter (if any) and returns the thread's CPU clock when
 * there is a leave hook to measure for (0 otherwise); leave calls
 * hooks->leave (if any) with the CPU time used since that cpu0. */
int64_t rp__loop_hooks_enter(const rp__loop_hooks *hooks, void *owner, int kind);
void rp__loop_hooks_leave(const rp__loop_hooks *hooks, void *owner, int64_t cpu0);

/* Counters since rp__loop_create. The first four only grow. */
typedef struct rp__loop_stats {
    uint64_t wakeups;        /* returns from the poller wait (what idle CPU costs) */
    uint64_t callbacks;      /* callbacks run: fd + timer + post + task */
    uint64_t timers_fired;   /* timer callbacks run */
    uint64_t posts_rejected; /* rp__loop_post calls refused at post_cap */
    uint32_t watches;        /* fds watched now */
    uint32_t timers;         /* timers armed now */
    uint32_t posts_queued;   /* posts waiting now */
    uint32_t realtime;       /* 1 while the loop thread runs at real-time priority */
    uint64_t rt_demotions;   /* times it dropped to normal scheduling over the cap */
} rp__loop_stats;

typedef void (*rp__loop_fd_cb)(void *arg, int fd, uint32_t revents);
typedef void (*rp__loop_cb)(void *arg);

/* Creates a stopped loop (no thread yet). opts may be NULL for defaults.
 * RP_ERR_RANGE if a cap is above RP__LOOP_MAX_CAP. */
int rp__loop_create(const rp__loop_opts *opts, rp__loop **out);

/*
 * Destroys the loop, stopping it first if running. Watches and timers still
 * registered are released without running (their fds stay open); pending
 * posts are dropped and pending tasks run with RP_ERR_STOPPED, as in
 * rp__loop_stop. Must not be called from the loop thread. NULL is a no-op.
 */
void rp__loop_destroy(rp__loop *loop);

/* Sets the accounting hooks (copied). Only while the loop is not running:
 * RP_ERR_BUSY otherwise. hooks NULL removes them. */
int rp__loop_set_hooks(rp__loop *loop, const rp__loop_hooks *hooks);

/* Spawns the loop thread. Posts and tasks queued before start run right
 * after it. RP_ERR_BUSY if already running. */
int rp__loop_start(rp__loop *loop);

/*
 * Wakes the loop thread and joins it. A callback already running finishes
 * first; callbacks not yet run are dropped safely: queued posts are
 * discarded (not run; their args are not touched), queued tasks run their
 * function with RP_ERR_STOPPED on the calling thread after the join. Watches
 * and timers stay registered and resume after rp__loop_start. Returns
 * RP_ERR_BUSY when called from the loop thread itself (it cannot join
 * itself), 0 when the loop was not running.
 */
int rp__loop_stop(rp__loop *loop);

/* True (1) between rp__loop_start and rp__loop_stop. */
int rp__loop_is_running(rp__loop *loop);

/* True (1) when the caller is the loop thread (or is inside
 * rp__loop_run_once on this loop). */
int rp__loop_in_loop_thread(rp__loop *loop);

/*
 * Runs one iteration on the calling thread: waits up to timeout_ms (-1: until
 * something happens; shortened to the next timer) and runs what is ready.
 * For tests and for hosts that drive the loop themselves; RP_ERR_BUSY while
 * the loop thread runs.
 */
int rp__loop_run_once(rp__loop *loop, int timeout_ms);

/*
 * Watches fd for events (RP__LOOP_READ | RP__LOOP_WRITE; 0 hears only
 * RP__LOOP_ERROR and RP__LOOP_HUP). cb(arg, fd, revents) runs on the loop
 * thread whenever fd is ready. Level-triggered: cb runs again on every loop
 * iteration while the condition holds, so it must consume the data, and on
 * RP__LOOP_HUP / RP__LOOP_ERROR it should unwatch (a hung-up fd stays ready).
 * One watch per fd: RP_ERR_EXISTS for a second one. RP_ERR_INVAL for an fd
 * that cannot be polled (regular files). owner is passed to the hooks. The id
 * (never 0, never reused) goes into *watch_id before the callback can first
 * run, so the callback may read it to unwatch itself.
 *
 * Unwatch before closing the fd: the OS may keep a closed fd's registration
 * alive when the file is still open elsewhere (dup, fork).
 */
int rp__loop_watch_fd(rp__loop *loop, void *owner, int fd, uint32_t events, rp__loop_fd_cb cb,
                      void *arg, uint64_t *watch_id);

/* Changes the interest set of a watch (e.g. ask for RP__LOOP_WRITE only while
 * output is pending). RP_ERR_NOTFOUND for an unknown id. */
int rp__loop_watch_set_events(rp__loop *loop, uint64_t watch_id, uint32_t events);

/*
 * Pauses (paused != 0) or resumes a watch. A paused watch is taken out of
 * the poller: its callback does not run, however ready the fd is, so the
 * data waits (and overflows) in the kernel; readiness already collected is
 * dropped. Resuming registers it again with its events. Idempotent.
 * RP_ERR_NOTFOUND for an unknown id.
 */
int rp__loop_watch_pause(rp__loop *loop, uint64_t watch_id, int paused);

/*
 * Removes a watch. When this returns, its callback is not running and will
 * never run again, so arg may be freed and the fd closed. From another thread
 * it waits for a running callback to return (do not hold a lock that callback
 * takes); from the loop thread, including inside the watch's own callback, it
 * never waits. RP_ERR_NOTFOUND for an unknown or already removed id.
 */
int rp__loop_unwatch(rp__loop *loop, uint64_t watch_id);

/*
 * Arms a timer: cb(arg) first after first_ms, then every interval_ms
 * (0: one-shot, removed after it fired). Both at most RP__LOOP_MAX_MS.
 *
 * Coalescing rule: a timer has a slack of period/8, at most 1000 ms, where
 * period is interval_ms (first_ms for one-shots); periods below 8 ms have no
 * slack. The loop sleeps until the earliest deadline, and each time it wakes
 * it fires every timer whose deadline is within its slack of now. So a timer
 * may fire up to its slack early, never late but for scheduling delay, and
 * timers whose deadlines fall within each other's slack share one wake-up.
 * Periodic timers keep their phase (next deadline = previous deadline +
 * interval, not now + interval), so groups stay together; periods missed
 * because the loop was busy are skipped, not replayed.
 *
 * Timers with the same deadline fire in the order they were added. owner is
 * passed to the hooks. The id (never 0, never reused) goes into *timer_id
 * before the callback can first run (it may read it to cancel itself).
 */
int rp__loop_timer_add(rp__loop *loop, void *owner, uint64_t first_ms, uint64_t interval_ms,
                       rp__loop_cb cb, void *arg, uint64_t *timer_id);

/* Cancels a timer, with the same guarantee as rp__loop_unwatch: when it
 * returns the callback is not running and never runs again; safe inside the
 * timer's own callback. RP_ERR_NOTFOUND for an unknown id or a one-shot that
 * already fired. */
int rp__loop_timer_cancel(rp__loop *loop, uint64_t timer_id);

/*
 * Runs cb(arg) on the loop thread soon, after what is already queued. Never
 * blocks: RP_ERR_FULL when post_cap posts are waiting (nothing was queued,
 * arg is still the caller's). Posts from one thread run in the order posted.
 * If the loop stops before cb runs, cb is dropped and never called: post
 * only args that need no freeing, or that the poster can reclaim otherwise
 * (rp__loop_post_task reports drops). owner is passed to the hooks.
 */
int rp__loop_post(rp__loop *loop, void *owner, rp__loop_cb cb, void *arg);

/*
 * Intrusive posts for core components that must not lose a notification
 * (the worker pool's completions): the caller owns the storage, so posting
 * never fails for lack of room. Fill fn and arg, zero the rest, and keep the
 * struct alive and unmoved until fn has been called or rp__loop_task_cancel
 * returned. fn(arg, status) runs once per post: on the loop thread with
 * status 0, or, if the loop stops or is destroyed first, on the thread doing
 * that with RP_ERR_STOPPED. Tasks do not call the hooks (they have no owner:
 * the component calls them itself for the plugin code it runs).
 */
typedef struct rp__loop_task {
    void (*fn)(void *arg, int status);
    void *arg;
    /* Private to the loop, protected by its lock. */
    struct rp__loop_task *next_;
    int queued_;
} rp__loop_task;

/* Queues task; a task already queued stays queued once (returns 0). */
int rp__loop_post_task(rp__loop *loop, rp__loop_task *task);
/* Removes task if queued, and if its fn is running on the loop thread waits
 * for it to return (unless called from the loop thread). Afterwards the loop
 * no longer touches task. Returns 1 if it was removed unrun, else 0. */
int rp__loop_task_cancel(rp__loop *loop, rp__loop_task *task);

/* Copies the counters into *out. */
void rp__loop_get_stats(rp__loop *loop, rp__loop_stats *out);

#endif
