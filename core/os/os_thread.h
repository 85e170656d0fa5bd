/*
 * core/os/os_thread.h - threads, mutexes and condition variables for the core.
 *
 * A thin wrapper so that shared code (the event loop, the worker pool) never
 * names pthreads or Win32 directly. Implementations: core/os/unix/thread_unix.c
 * (pthreads) and core/os/win/thread_win.c (Win32, not built on Linux); the
 * portable rp__os_once is in core/os/os_thread.c, built on both.
 *
 * Handles are opaque and heap-allocated at _create/_start time so that the
 * header stays free of platform types; nothing here allocates afterwards.
 * Functions return 0 or a negative RP_ERR_* code unless stated otherwise.
 */
#ifndef RP_CORE_OS_THREAD_H
#define RP_CORE_OS_THREAD_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct rp__os_thread rp__os_thread;
typedef struct rp__os_mutex rp__os_mutex;
typedef struct rp__os_cond rp__os_cond;

/*
 * Starts a thread running fn(arg). name (may be NULL) is shown by debuggers
 * and `top -H`; it is cut to the platform limit (15 characters on Linux).
 * The new thread inherits the caller's signal mask, which is how the agent's
 * stop/reload signals stay blocked everywhere but the control thread (see
 * rp__os_signals_block). *out must later be passed to rp__os_thread_join.
 */
int rp__os_thread_start(rp__os_thread **out, const char *name, void (*fn)(void *arg), void *arg);
/* Waits for the thread to return and frees the handle. Never call it from the
 * thread itself. NULL is a no-op. */
void rp__os_thread_join(rp__os_thread *t);

/* CPU time (user + system) consumed so far by the calling thread, in
 * nanoseconds; 0 if the platform cannot tell. */
int64_t rp__os_thread_cpu_ns(void);
/* A handle on the calling thread's CPU clock that another thread can read
 * while this one lives (the watchdog measures a long batch of callbacks as
 * it runs). 0, or RP_ERR_UNSUPPORTED. */
int rp__os_thread_cpu_clock(int64_t *clock);
/* The CPU time of the thread whose clock it is, in ns; -1 if unreadable. */
int64_t rp__os_cpu_clock_ns(int64_t clock);
/* The calling thread's id as the kernel (and /proc, and a crash report)
 * knows it; never 0. Async-signal-safe. */
uint32_t rp__os_thread_tid(void);

/* Asks the scheduler for a time slice of slice_us microseconds for the
 * calling thread, keeping its policy and priority: a thread with a short
 * slice preempts the running one when it wakes, instead of waiting for that
 * one's (longer) slice to end. The event loop uses it so that an exec event
 * is read while the process that exec'd is still there. Linux >= 6.12
 * (EEVDF custom slice); RP_ERR_UNSUPPORTED where the platform has none,
 * RP_ERR_PERM when refused. */
int rp__os_thread_set_slice(uint32_t slice_us);

/* Moves the calling thread to the lowest real-time priority (on: Linux
 * SCHED_FIFO 1, reset on fork so no child inherits it) or back to normal
 * scheduling (off). A real-time thread runs as soon as it wakes, ahead of
 * every normal thread. RP_ERR_PERM without the privilege (CAP_SYS_NICE),
 * RP_ERR_UNSUPPORTED where the platform has no such class. */
int rp__os_thread_set_realtime(int on);

/* A non-recursive mutex. destroy: NULL is a no-op; the mutex must be unlocked. */
int rp__os_mutex_create(rp__os_mutex **out);
void rp__os_mutex_destroy(rp__os_mutex *m);
void rp__os_mutex_lock(rp__os_mutex *m);
void rp__os_mutex_unlock(rp__os_mutex *m);

/* A condition variable used with an rp__os_mutex. Waits may wake spuriously:
 * callers always re-check their predicate. destroy: NULL is a no-op. */
int rp__os_cond_create(rp__os_cond **out);
void rp__os_cond_destroy(rp__os_cond *c);
/* Atomically unlocks m and sleeps until signalled; m is locked again on return. */
void rp__os_cond_wait(rp__os_cond *c, rp__os_mutex *m);
/* The same, waking after timeout_ms at the latest (measured on a monotonic
 * clock, so a wall-clock step neither cuts nor stretches it). */
void rp__os_cond_timedwait(rp__os_cond *c, rp__os_mutex *m, int64_t timeout_ms);
void rp__os_cond_signal(rp__os_cond *c);
void rp__os_cond_broadcast(rp__os_cond *c);

/*
 * Once per process: the first rp__os_once on a flag runs fn(arg); calls on
 * other threads meanwhile wait until it has returned, and later calls return
 * at once (one atomic load). fn must not call rp__os_once on its own flag.
 * A flag is static storage initialised with RP__OS_ONCE_INIT.
 */
typedef struct rp__os_once_flag {
    atomic_int state; /* 0 not run, 1 running, 2 done */
} rp__os_once_flag;
#define RP__OS_ONCE_INIT                                                                           \
    {                                                                                              \
        0                                                                                          \
    }
void rp__os_once(rp__os_once_flag *flag, void (*fn)(void *arg), void *arg);

/* Gives the processor to another ready thread, if any (rp__os_once waits
 * with it). */
void rp__os_thread_yield(void);

/*
 * A mutex in static storage, for the process-wide registries that exist
 * before anything is created (topics, fields, the UUID clock):
 * RP__OS_STATIC_MUTEX_INIT makes it ready, without a create that could fail
 * or a destroy. The platform's mutex is made in place on first use; each
 * platform file checks at compile time that it fits in the storage.
 */
#define RP__OS_STATIC_MUTEX_BYTES 64
typedef struct rp__os_static_mutex {
    rp__os_once_flag once;
    _Alignas(16) unsigned char storage[RP__OS_STATIC_MUTEX_BYTES];
} rp__os_static_mutex;
#define RP__OS_STATIC_MUTEX_INIT                                                                   \
    {                                                                                              \
        RP__OS_ONCE_INIT,                                                                          \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }
void rp__os_static_mutex_lock(rp__os_static_mutex *m);
void rp__os_static_mutex_unlock(rp__os_static_mutex *m);

/* Registers fn to run in the child process after a fork (its only thread),
 * for state a child must not inherit. Windows has no fork: nothing to do, 0. */
int rp__os_atfork_child(void (*fn)(void));

#endif
