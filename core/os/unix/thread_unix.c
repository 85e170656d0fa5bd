/* core/os/unix/thread_unix.c - os_thread.h on pthreads. */
#define _GNU_SOURCE /* pthread_setname_np, SCHED_BATCH */
#include "os/os_sup.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

struct rp__os_thread {
    pthread_t tid;
    void (*fn)(void *arg);
    void *arg;
    char name[16]; /* Linux limit: 15 characters and the terminator */
};

struct rp__os_mutex {
    pthread_mutex_t m;
};

struct rp__os_cond {
    pthread_cond_t c;
};

static void *thread_main(void *p)
{
    rp__os_thread *t = p;
    /* Named from inside: naming another thread races with its start on some
     * libcs, naming yourself never does. */
    if (t->name[0])
        pthread_setname_np(pthread_self(), t->name);
    /* A crash on a thread's own stack overflow still reaches the crash
     * handler (os_sup.h). */
    void *alt = rp__os_crash_thread_begin();
    t->fn(t->arg);
    rp__os_crash_thread_end(alt);
    return NULL;
}

int rp__os_thread_start(rp__os_thread **out, const char *name, void (*fn)(void *arg), void *arg)
{
    if (!out || !fn)
        return RP_ERR_INVAL;
    rp__os_thread *t = calloc(1, sizeof *t);
    if (!t)
        return RP_ERR_NOMEM;
    t->fn = fn;
    t->arg = arg;
    if (name) {
        size_t n = strlen(name);
        if (n >= sizeof t->name)
            n = sizeof t->name - 1;
        memcpy(t->name, name, n);
        t->name[n] = '\0';
    }
    int e = pthread_create(&t->tid, NULL, thread_main, t);
    if (e != 0) {
        free(t);
        return RP_ERR_NOMEM; /* EAGAIN: out of threads or memory */
    }
    *out = t;
    return 0;
}

void rp__os_thread_join(rp__os_thread *t)
{
    if (!t)
        return;
    pthread_join(t->tid, NULL);
    free(t);
}

int64_t rp__os_thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int rp__os_thread_cpu_clock(int64_t *clock)
{
    clockid_t cid;
    if (pthread_getcpuclockid(pthread_self(), &cid) != 0)
        return RP_ERR_UNSUPPORTED;
    *clock = (int64_t)cid;
    return 0;
}

int64_t rp__os_cpu_clock_ns(int64_t clock)
{
    struct timespec ts;
    if (clock_gettime((clockid_t)clock, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint32_t rp__os_thread_tid(void)
{
#ifdef __linux__
    return (uint32_t)syscall(SYS_gettid);
#else
    /* Elsewhere only the process is known; still never 0. */
    return (uint32_t)getpid();
#endif
}

#ifdef __linux__
/* struct sched_attr of sched_setattr(2); glibc 2.36 has no wrapper. */
struct rp_sched_attr {
    uint32_t size, sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime, sched_deadline, sched_period;
};
#endif

int rp__os_thread_set_slice(uint32_t slice_us)
{
#ifdef __linux__
    struct rp_sched_attr a;
    memset(&a, 0, sizeof a);
    if (syscall(SYS_sched_getattr, 0, &a, (unsigned)sizeof a, 0u) != 0)
        return RP_ERR_UNSUPPORTED;
    if (a.sched_policy != SCHED_OTHER && a.sched_policy != SCHED_BATCH)
        return RP_ERR_UNSUPPORTED; /* real-time threads have no slice to shorten */
    /* Since Linux 6.12 sched_runtime of a fair-class thread is its slice
     * (clamped by the kernel to 0.1-100 ms). Older kernels accept and ignore
     * it, which is harmless. */
    a.size = sizeof a;
    a.sched_flags = 0;
    a.sched_runtime = (uint64_t)slice_us * 1000u;
    if (syscall(SYS_sched_setattr, 0, &a, 0u) != 0)
        return errno == EPERM ? RP_ERR_PERM : RP_ERR_UNSUPPORTED;
    return 0;
#else
    (void)slice_us;
    return RP_ERR_UNSUPPORTED;
#endif
}

int rp__os_thread_set_realtime(int on)
{
#ifdef __linux__
    struct sched_param sp = {.sched_priority = on ? 1 : 0};
    int policy = on ? SCHED_FIFO | SCHED_RESET_ON_FORK : SCHED_OTHER;
    int err = pthread_setschedparam(pthread_self(), policy, &sp);
    if (err == 0)
        return 0;
    return err == EPERM ? RP_ERR_PERM : RP_ERR_UNSUPPORTED;
#else
    (void)on;
    return RP_ERR_UNSUPPORTED;
#endif
}

int rp__os_mutex_create(rp__os_mutex **out)
{
    rp__os_mutex *m = malloc(sizeof *m);
    if (!m)
        return RP_ERR_NOMEM;
    if (pthread_mutex_init(&m->m, NULL) != 0) {
        free(m);
        return RP_ERR_NOMEM;
    }
    *out = m;
    return 0;
}

void rp__os_mutex_destroy(rp__os_mutex *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->m);
    free(m);
}

void rp__os_mutex_lock(rp__os_mutex *m)
{
    pthread_mutex_lock(&m->m);
}

void rp__os_mutex_unlock(rp__os_mutex *m)
{
    pthread_mutex_unlock(&m->m);
}

int rp__os_cond_create(rp__os_cond **out)
{
    rp__os_cond *c = malloc(sizeof *c);
    if (!c)
        return RP_ERR_NOMEM;
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0) {
        free(c);
        return RP_ERR_NOMEM;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&c->c, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        free(c);
        return RP_ERR_NOMEM;
    }
    *out = c;
    return 0;
}

void rp__os_cond_destroy(rp__os_cond *c)
{
    if (!c)
        return;
    pthread_cond_destroy(&c->c);
    free(c);
}

void rp__os_cond_wait(rp__os_cond *c, rp__os_mutex *m)
{
    pthread_cond_wait(&c->c, &m->m);
}

void rp__os_cond_timedwait(rp__os_cond *c, rp__os_mutex *m, int64_t timeout_ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (timeout_ms < 0)
        timeout_ms = 0;
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&c->c, &m->m, &ts);
}

void rp__os_cond_signal(rp__os_cond *c)
{
    pthread_cond_signal(&c->c);
}

void rp__os_cond_broadcast(rp__os_cond *c)
{
    pthread_cond_broadcast(&c->c);
}

/* ---- once, static mutexes, fork ------------------------------------------- */

void rp__os_thread_yield(void)
{
    sched_yield();
}

_Static_assert(sizeof(pthread_mutex_t) <= RP__OS_STATIC_MUTEX_BYTES,
               "pthread_mutex_t does not fit rp__os_static_mutex");
_Static_assert(_Alignof(pthread_mutex_t) <= 16, "pthread_mutex_t needs a larger alignment");

static void static_mutex_init(void *storage)
{
    /* Default attributes: initialisation cannot fail on the platforms we
     * build for (glibc, musl, macOS). */
    pthread_mutex_init((pthread_mutex_t *)storage, NULL);
}

void rp__os_static_mutex_lock(rp__os_static_mutex *m)
{
    rp__os_once(&m->once, static_mutex_init, m->storage);
    pthread_mutex_lock((pthread_mutex_t *)(void *)m->storage);
}

void rp__os_static_mutex_unlock(rp__os_static_mutex *m)
{
    pthread_mutex_unlock((pthread_mutex_t *)(void *)m->storage);
}

int rp__os_atfork_child(void (*fn)(void))
{
    return pthread_atfork(NULL, NULL, fn) == 0 ? 0 : RP_ERR_NOMEM;
}
