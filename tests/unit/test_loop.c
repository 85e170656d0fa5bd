/*
 * tests/unit/test_loop.c - the event loop (core/runtime/loop.c): fd watches, timers
 * and coalescing, posts, tasks, hooks, stop, and that an idle loop sleeps.
 *
 * Timing: the machine is noisy (and sanitizers slow it further), so tests
 * assert counts and ordering with generous bounds, never tight times.
 */
#define _GNU_SOURCE /* SCHED_RESET_ON_FORK */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/loop.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Waits up to timeout_ms for *v to reach at least want; returns its value. */
static int wait_at_least(atomic_int *v, int want, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (atomic_load(v) < want && now_ms() < end)
        sleep_ms(1);
    return atomic_load(v);
}

static void make_pipe(int fds[2])
{
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal(fcntl(fds[1], F_SETFL, O_NONBLOCK), 0);
}

static rp__loop *new_loop(const rp__loop_opts *opts)
{
    rp__loop *loop = NULL;
    assert_int_equal(rp__loop_create(opts, &loop), 0);
    assert_non_null(loop);
    return loop;
}

static rp__loop_stats stats_of(rp__loop *loop)
{
    rp__loop_stats st;
    rp__loop_get_stats(loop, &st);
    return st;
}

/* ---- real-time priority with a CPU cap ---- */

struct rt_probe {
    atomic_int policy; /* the loop thread's policy as seen from inside it */
    atomic_int done;
};

static void rt_probe_cb(void *arg)
{
    struct rt_probe *p = arg;
    int policy;
    struct sched_param sp;
    pthread_getschedparam(pthread_self(), &policy, &sp);
    atomic_store(&p->policy, policy & ~SCHED_RESET_ON_FORK);
    atomic_fetch_add(&p->done, 1);
}

/* Burns about 1.2 s of CPU: well over a 1 % cap for the window. */
static void rt_spin_cb(void *arg)
{
    struct rt_probe *p = arg;
    struct timespec t0, t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1200);
    atomic_fetch_add(&p->done, 1);
}

/* The loop thread starts at real-time priority, and drops to normal
 * scheduling (counted) once a window shows it above its cap. Skipped where
 * the process may not use real-time priority. */
static void test_realtime_dropped_over_cap(void **state)
{
    (void)state;
    rp__loop_opts o = {.realtime_max_cpu_pct = 1};
    rp__loop *loop = new_loop(&o);
    assert_int_equal(rp__loop_start(loop), 0);
    struct rt_probe p = {0};
    assert_int_equal(rp__loop_post(loop, NULL, rt_probe_cb, &p), 0);
    assert_int_equal(wait_at_least(&p.done, 1, 5000), 1);
    if (atomic_load(&p.policy) != SCHED_FIFO) {
        assert_int_equal(stats_of(loop).realtime, 0);
        rp__loop_destroy(loop);
        tu_skip("the loop thread may not use real-time priority here (no CAP_SYS_NICE)");
    }
    assert_int_equal(stats_of(loop).realtime, 1);
    assert_int_equal(rp__loop_post(loop, NULL, rt_spin_cb, &p), 0);
    assert_int_equal(wait_at_least(&p.done, 2, 20000), 2);
    /* The check runs after the callback, before the loop sleeps again. */
    int64_t end = now_ms() + 5000;
    while (stats_of(loop).rt_demotions == 0 && now_ms() < end)
        sleep_ms(5);
    rp__loop_stats st = stats_of(loop);
    assert_int_equal(st.rt_demotions, 1);
    assert_int_equal(st.realtime, 0);
    assert_int_equal(rp__loop_post(loop, NULL, rt_probe_cb, &p), 0);
    assert_int_equal(wait_at_least(&p.done, 3, 5000), 3);
    assert_int_equal(atomic_load(&p.policy), SCHED_OTHER);
    rp__loop_destroy(loop);
}

/* After its back-off, and once a window of about a second shows it under
 * half its cap, the loop thread goes back to real-time priority (the
 * back-off is shortened to 300 ms from 10 s). Posts keep waking the loop, as
 * timers and kernel feeds do in the agent, so that it can judge a window. */
static void test_realtime_restored_after_backoff(void **state)
{
    (void)state;
    rp__loop_opts o = {.realtime_max_cpu_pct = 1, .realtime_backoff_ms = 300};
    rp__loop *loop = new_loop(&o);
    assert_int_equal(rp__loop_start(loop), 0);
    struct rt_probe p = {0};
    assert_int_equal(rp__loop_post(loop, NULL, rt_probe_cb, &p), 0);
    assert_int_equal(wait_at_least(&p.done, 1, 5000), 1);
    if (atomic_load(&p.policy) != SCHED_FIFO) {
        rp__loop_destroy(loop);
        tu_skip("the loop thread may not use real-time priority here (no CAP_SYS_NICE)");
    }
    assert_int_equal(rp__loop_post(loop, NULL, rt_spin_cb, &p), 0);
    assert_int_equal(wait_at_least(&p.done, 2, 20000), 2);
    int64_t end = now_ms() + 5000;
    while (stats_of(loop).rt_demotions == 0 && now_ms() < end)
        sleep_ms(5);
    assert_int_equal(stats_of(loop).rt_demotions, 1);
    assert_int_equal(stats_of(loop).realtime, 0);
    int want = 2;
    assert_int_equal(rp__loop_post(loop, NULL, rt_probe_cb, &p), 0);
    want++;
    assert_int_equal(wait_at_least(&p.done, want, 5000), want);
    assert_int_equal(atomic_load(&p.policy), SCHED_OTHER);

    /* Back within a few windows: the loop is idle but for the probes. */
    end = now_ms() + 8000;
    while (now_ms() < end) {
        assert_int_equal(rp__loop_post(loop, NULL, rt_probe_cb, &p), 0);
        want++;
        assert_int_equal(wait_at_least(&p.done, want, 5000), want);
        if (atomic_load(&p.policy) == SCHED_FIFO)
            break;
        sleep_ms(50);
    }
    assert_int_equal(atomic_load(&p.policy), SCHED_FIFO);
    rp__loop_stats st = stats_of(loop);
    assert_int_equal(st.realtime, 1);
    assert_int_equal(st.rt_demotions, 1);
    rp__loop_destroy(loop);
}

/* ---- fd watches ---- */

struct reader {
    rp__loop *loop;
    uint64_t id;
    atomic_int calls;
    atomic_int in_cb;
    atomic_uint revents;
    char buf[64];
    atomic_int len;
    int sleep_ms;       /* stay inside the callback this long */
    int unwatch_self;   /* unwatch from inside the callback */
    int consume;        /* read the data (else the fd stays ready) */
    atomic_int in_loop; /* rp__loop_in_loop_thread was true inside */
    atomic_int unwatch_rc;
};

static void reader_cb(void *arg, int fd, uint32_t revents)
{
    struct reader *r = arg;
    atomic_store(&r->in_cb, 1);
    atomic_fetch_add(&r->calls, 1);
    atomic_fetch_or(&r->revents, revents);
    atomic_store(&r->in_loop, rp__loop_in_loop_thread(r->loop));
    if (r->consume && (revents & RP__LOOP_READ)) {
        ssize_t n = read(fd, r->buf, sizeof r->buf - 1);
        if (n > 0)
            atomic_store(&r->len, (int)n);
    }
    if (r->sleep_ms)
        sleep_ms(r->sleep_ms);
    /* No cmocka asserts off the main thread: record, check later. */
    if (r->unwatch_self)
        atomic_store(&r->unwatch_rc, rp__loop_unwatch(r->loop, r->id));
    atomic_store(&r->in_cb, 0);
}

static void test_fd_watch_reads_data(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int fds[2];
    make_pipe(fds);
    struct reader r = {.loop = loop, .consume = 1};
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id), 0);
    assert_int_not_equal(r.id, 0);
    assert_int_equal(rp__loop_start(loop), 0);
    assert_false(rp__loop_in_loop_thread(loop));

    assert_int_equal(write(fds[1], "hello", 5), 5);
    assert_int_equal(wait_at_least(&r.len, 5, 5000), 5);
    assert_memory_equal(r.buf, "hello", 5);
    assert_true(atomic_load(&r.revents) & RP__LOOP_READ);
    assert_int_equal(atomic_load(&r.in_loop), 1);
    assert_int_equal(stats_of(loop).watches, 1);

    /* A second watch on the same fd is refused; a regular-file-like fd
     * that cannot be polled is refused; bad events are refused. */
    uint64_t id2;
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &id2),
                     RP_ERR_EXISTS);
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[1], 0x80, reader_cb, &r, &id2),
                     RP_ERR_INVAL);

    assert_int_equal(rp__loop_unwatch(loop, r.id), 0);
    assert_int_equal(rp__loop_unwatch(loop, r.id), RP_ERR_NOTFOUND);
    assert_int_equal(stats_of(loop).watches, 0);
    rp__loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

static void test_unwatch_from_other_thread_waits(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int fds[2];
    make_pipe(fds);
    struct reader r = {.loop = loop, .consume = 1, .sleep_ms = 100};
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id), 0);
    assert_int_equal(rp__loop_start(loop), 0);

    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(wait_at_least(&r.in_cb, 1, 5000), 1);
    /* The callback is sleeping inside: unwatch must wait for it. */
    assert_int_equal(rp__loop_unwatch(loop, r.id), 0);
    assert_int_equal(atomic_load(&r.in_cb), 0);
    int calls = atomic_load(&r.calls);

    /* And never run again, even with data ready. */
    assert_int_equal(write(fds[1], "y", 1), 1);
    sleep_ms(100);
    assert_int_equal(atomic_load(&r.calls), calls);
    rp__loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

static void test_unwatch_inside_callback(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int fds[2];
    make_pipe(fds);
    /* Not consuming: level-triggered, it would fire again if still watched. */
    struct reader r = {.loop = loop, .unwatch_self = 1};
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id), 0);
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(write(fds[1], "x", 1), 1);
    assert_int_equal(wait_at_least(&r.calls, 1, 5000), 1);
    sleep_ms(100);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_int_equal(atomic_load(&r.unwatch_rc), 0);
    assert_int_equal(stats_of(loop).watches, 0);
    rp__loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

static void test_hup_when_write_end_closes(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int fds[2];
    make_pipe(fds);
    struct reader r = {.loop = loop, .consume = 1, .unwatch_self = 1};
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id), 0);
    assert_int_equal(rp__loop_start(loop), 0);
    close(fds[1]);
    assert_int_equal(wait_at_least(&r.calls, 1, 5000), 1);
    assert_true(atomic_load(&r.revents) & RP__LOOP_HUP);
    rp__loop_destroy(loop);
    close(fds[0]);
}

static void test_watch_set_events_write(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int fds[2];
    make_pipe(fds);
    /* Write end with no interest: nothing fires; asking for WRITE fires. */
    struct reader r = {.loop = loop, .unwatch_self = 1};
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[1], 0, reader_cb, &r, &r.id), 0);
    assert_int_equal(rp__loop_run_once(loop, 50), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    assert_int_equal(rp__loop_watch_set_events(loop, r.id, RP__LOOP_WRITE), 0);
    assert_int_equal(rp__loop_run_once(loop, 1000), 0);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_true(atomic_load(&r.revents) & RP__LOOP_WRITE);
    assert_int_equal(rp__loop_watch_set_events(loop, r.id, RP__LOOP_WRITE), RP_ERR_NOTFOUND);
    rp__loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

/* A paused watch hears nothing however ready its fd is (the data waits in
 * the kernel); resuming delivers what is there. Unwatching
 * a paused watch works, and pausing is idempotent. */
static void test_watch_pause_and_resume(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int fds[2];
    make_pipe(fds);
    struct reader r = {.loop = loop, .consume = 1};
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id), 0);
    assert_int_equal(rp__loop_watch_pause(loop, r.id, 1), 0);
    assert_int_equal(rp__loop_watch_pause(loop, r.id, 1), 0);
    assert_int_equal(write(fds[1], "abc", 3), 3);
    assert_int_equal(rp__loop_run_once(loop, 50), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    /* Interest changes while paused apply on resume. */
    assert_int_equal(rp__loop_watch_set_events(loop, r.id, RP__LOOP_READ), 0);
    assert_int_equal(rp__loop_run_once(loop, 50), 0);
    assert_int_equal(atomic_load(&r.calls), 0);
    assert_int_equal(rp__loop_watch_pause(loop, r.id, 0), 0);
    assert_int_equal(rp__loop_run_once(loop, 1000), 0);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_int_equal(atomic_load(&r.len), 3);
    assert_int_equal(rp__loop_watch_pause(loop, r.id, 1), 0);
    assert_int_equal(rp__loop_unwatch(loop, r.id), 0);
    assert_int_equal(rp__loop_watch_pause(loop, r.id, 0), RP_ERR_NOTFOUND);
    rp__loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

/* A plugin that closes its fd before unwatching must not break the watch of
 * whoever gets the same fd number next. */
static void test_stale_watch_does_not_remove_reused_fd(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int a[2], b[2];
    make_pipe(a);
    struct reader ra = {.loop = loop, .consume = 1}, rb = {.loop = loop, .consume = 1};
    assert_int_equal(rp__loop_watch_fd(loop, NULL, a[0], RP__LOOP_READ, reader_cb, &ra, &ra.id), 0);
    int num = a[0];
    close(a[0]); /* wrong order on purpose: closed before unwatch */
    close(a[1]);
    make_pipe(b);
    if (b[0] != num) {
        assert_int_equal(dup2(b[0], num), num);
        close(b[0]);
        b[0] = num;
    }
    assert_int_equal(rp__loop_watch_fd(loop, NULL, b[0], RP__LOOP_READ, reader_cb, &rb, &rb.id), 0);
    assert_int_equal(rp__loop_unwatch(loop, ra.id), 0);
    assert_int_equal(write(b[1], "ok", 2), 2);
    assert_int_equal(rp__loop_run_once(loop, 1000), 0);
    assert_int_equal(atomic_load(&rb.calls), 1);
    assert_int_equal(atomic_load(&ra.calls), 0);
    assert_int_equal(rp__loop_unwatch(loop, rb.id), 0);
    rp__loop_destroy(loop);
    close(b[0]);
    close(b[1]);
}

/* ---- timers ---- */

struct ticker {
    rp__loop *loop;
    uint64_t id;
    atomic_int calls;
    atomic_int in_cb;
    int64_t first_at; /* ms, loop thread only; read after stop */
    int cancel_at;    /* cancel itself on this call (0: never) */
    int sleep_ms;
    int cancel_rc;
};

static void ticker_cb(void *arg)
{
    struct ticker *t = arg;
    atomic_store(&t->in_cb, 1);
    int n = atomic_fetch_add(&t->calls, 1) + 1;
    if (n == 1)
        t->first_at = now_ms();
    if (t->sleep_ms)
        sleep_ms(t->sleep_ms);
    if (t->cancel_at == n)
        t->cancel_rc = rp__loop_timer_cancel(t->loop, t->id);
    atomic_store(&t->in_cb, 0);
}

static void test_oneshot_and_periodic(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    struct ticker once = {.loop = loop}, tick = {.loop = loop};
    assert_int_equal(rp__loop_start(loop), 0);
    int64_t t0 = now_ms();
    assert_int_equal(rp__loop_timer_add(loop, NULL, 100, 0, ticker_cb, &once, &once.id), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 20, 20, ticker_cb, &tick, &tick.id), 0);
    assert_int_not_equal(once.id, tick.id);
    sleep_ms(1000);
    assert_int_equal(rp__loop_timer_cancel(loop, tick.id), 0);
    int ticks = atomic_load(&tick.calls);
    assert_int_equal(rp__loop_stop(loop), 0);

    assert_int_equal(atomic_load(&once.calls), 1);
    /* One-shot of 100 ms: slack 12 ms, so never before 88 ms. */
    assert_true(once.first_at - t0 >= 85);
    assert_true(tick.first_at <= once.first_at);
    assert_in_range(ticks, 10, 60);
    /* A fired one-shot is gone. */
    assert_int_equal(rp__loop_timer_cancel(loop, once.id), RP_ERR_NOTFOUND);
    rp__loop_stats st = stats_of(loop);
    assert_int_equal(st.timers, 0);
    assert_int_equal(st.timers_fired, (uint64_t)ticks + 1);
    rp__loop_destroy(loop);
}

static void test_cancel_inside_own_callback(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    struct ticker t = {.loop = loop, .cancel_at = 3};
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 5, 5, ticker_cb, &t, &t.id), 0);
    assert_int_equal(wait_at_least(&t.calls, 3, 5000), 3);
    sleep_ms(100);
    assert_int_equal(rp__loop_stop(loop), 0);
    assert_int_equal(atomic_load(&t.calls), 3);
    assert_int_equal(t.cancel_rc, 0);
    assert_int_equal(rp__loop_timer_cancel(loop, t.id), RP_ERR_NOTFOUND);
    assert_int_equal(stats_of(loop).timers, 0);
    rp__loop_destroy(loop);
}

static void test_cancel_from_other_thread_waits(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    struct ticker t = {.loop = loop, .sleep_ms = 100};
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 1, 10, ticker_cb, &t, &t.id), 0);
    assert_int_equal(wait_at_least(&t.in_cb, 1, 5000), 1);
    assert_int_equal(rp__loop_timer_cancel(loop, t.id), 0);
    assert_int_equal(atomic_load(&t.in_cb), 0);
    int calls = atomic_load(&t.calls);
    sleep_ms(100);
    assert_int_equal(atomic_load(&t.calls), calls);
    rp__loop_destroy(loop);
}

/* Many one-shots with mixed deadlines, a third cancelled: each survivor fires
 * exactly once, the cancelled never (exercises heap removal). */
struct fire_count {
    int fired[300];
};
struct fire_arg {
    struct fire_count *fc;
    int i;
};

static void fire_cb(void *arg)
{
    struct fire_arg *a = arg;
    a->fc->fired[a->i]++;
}

static void test_timer_heap_many(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    static struct fire_count fc;
    static struct fire_arg args[300];
    uint64_t ids[300];
    memset(&fc, 0, sizeof fc);
    unsigned seed = 12345;
    for (int i = 0; i < 300; i++) {
        seed = seed * 1103515245u + 12345u;
        args[i] = (struct fire_arg){&fc, i};
        assert_int_equal(
            rp__loop_timer_add(loop, NULL, (seed >> 16) % 60, 0, fire_cb, &args[i], &ids[i]), 0);
    }
    for (int i = 0; i < 300; i += 3)
        assert_int_equal(rp__loop_timer_cancel(loop, ids[i]), 0);
    int64_t end = now_ms() + 5000;
    while (stats_of(loop).timers > 0 && now_ms() < end)
        assert_int_equal(rp__loop_run_once(loop, 100), 0);
    for (int i = 0; i < 300; i++)
        assert_int_equal(fc.fired[i], i % 3 == 0 ? 0 : 1);
    rp__loop_destroy(loop);
}

static void test_caps_and_bad_ids(void **state)
{
    (void)state;
    rp__loop_opts opts = {.max_watches = 2, .max_timers = 2, .post_cap = 2};
    rp__loop *loop = new_loop(&opts);
    struct ticker t = {.loop = loop};
    uint64_t a, b, c;
    assert_int_equal(rp__loop_timer_add(loop, NULL, 1000, 0, ticker_cb, &t, &a), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 1000, 0, ticker_cb, &t, &b), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 1000, 0, ticker_cb, &t, &c), RP_ERR_FULL);
    assert_int_equal(rp__loop_timer_add(loop, NULL, RP__LOOP_MAX_MS + 1, 0, ticker_cb, &t, &c),
                     RP_ERR_RANGE);
    /* A timer id is not a watch id, and ids are not reused. */
    assert_int_equal(rp__loop_unwatch(loop, a), RP_ERR_NOTFOUND);
    assert_int_equal(rp__loop_timer_cancel(loop, a), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 1000, 0, ticker_cb, &t, &c), 0);
    assert_int_not_equal(a, c);
    assert_int_equal(rp__loop_timer_cancel(loop, a), RP_ERR_NOTFOUND);
    assert_int_equal(rp__loop_timer_cancel(loop, 0), RP_ERR_NOTFOUND);

    int p1[2], p2[2], p3[2];
    make_pipe(p1);
    make_pipe(p2);
    make_pipe(p3);
    struct reader r = {.loop = loop};
    uint64_t w1, w2, w3;
    assert_int_equal(rp__loop_watch_fd(loop, NULL, p1[0], RP__LOOP_READ, reader_cb, &r, &w1), 0);
    assert_int_equal(rp__loop_watch_fd(loop, NULL, p2[0], RP__LOOP_READ, reader_cb, &r, &w2), 0);
    assert_int_equal(rp__loop_watch_fd(loop, NULL, p3[0], RP__LOOP_READ, reader_cb, &r, &w3),
                     RP_ERR_FULL);
    assert_int_equal(rp__loop_timer_cancel(loop, w1), RP_ERR_NOTFOUND);
    rp__loop_opts big = {.post_cap = RP__LOOP_MAX_CAP + 1};
    rp__loop *bad = NULL;
    assert_int_equal(rp__loop_create(&big, &bad), RP_ERR_RANGE);
    /* Destroy releases what is still registered (ASan checks for leaks). */
    rp__loop_destroy(loop);
    rp__loop_destroy(NULL);
    for (int i = 0; i < 2; i++) {
        close(p1[i]);
        close(p2[i]);
        close(p3[i]);
    }
}

/*
 * Coalescing: 50 periodic timers of 100 ms whose phases spread over 10 ms
 * (within one slack of 12.5 ms) share wake-ups: about one per period, far
 * fewer than the 50 a timer-per-wakeup design would need.
 */
static void test_coalescing(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    static struct ticker t[50];
    assert_int_equal(rp__loop_start(loop), 0);
    for (int i = 0; i < 50; i++) {
        t[i] = (struct ticker){.loop = loop};
        assert_int_equal(
            rp__loop_timer_add(loop, NULL, 100 + (uint64_t)i / 5, 100, ticker_cb, &t[i], &t[i].id),
            0);
    }
    rp__loop_stats before = stats_of(loop);
    sleep_ms(1050);
    rp__loop_stats after = stats_of(loop);
    assert_int_equal(rp__loop_stop(loop), 0);
    uint64_t fired = after.timers_fired - before.timers_fired;
    uint64_t wakeups = after.wakeups - before.wakeups;
    print_message("coalescing: %llu timers fired in %llu wake-ups\n", (unsigned long long)fired,
                  (unsigned long long)wakeups);
    assert_true(fired >= 50 * 6); /* ~10 periods, generous for a slow machine */
    /* Far fewer than one wake-up per timer firing: at most 3 per period. */
    assert_true(wakeups * 50 <= fired * 3);
    for (int i = 0; i < 50; i++)
        assert_int_equal(rp__loop_timer_cancel(loop, t[i].id), 0);
    rp__loop_destroy(loop);
}

/* ---- idle ---- */

static void test_idle_loop_does_not_wake(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    int fds[2];
    make_pipe(fds);
    struct reader r = {.loop = loop, .consume = 1};
    /* A watched but quiet fd must not wake the loop either. */
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id), 0);
    assert_int_equal(rp__loop_start(loop), 0);
    sleep_ms(50);
    rp__loop_stats before = stats_of(loop);
    sleep_ms(1000);
    rp__loop_stats after = stats_of(loop);
    assert_true(after.wakeups - before.wakeups <= 1);
    assert_int_equal(atomic_load(&r.calls), 0);
    rp__loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

static void test_idle_loop_with_1s_timer_wakes_once_per_second(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    struct ticker t = {.loop = loop};
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 1000, 1000, ticker_cb, &t, &t.id), 0);
    sleep_ms(50); /* let the wake-up that re-arms the sleep for the new timer pass */
    rp__loop_stats before = stats_of(loop);
    sleep_ms(2050);
    rp__loop_stats after = stats_of(loop);
    uint64_t fired = after.timers_fired - before.timers_fired;
    uint64_t wakeups = after.wakeups - before.wakeups;
    print_message("1 s timer over 2.1 s: %llu fired, %llu wake-ups\n", (unsigned long long)fired,
                  (unsigned long long)wakeups);
    assert_in_range(fired, 1, 3);
    assert_true(wakeups <= fired + 1);
    rp__loop_destroy(loop);
}

/* ---- posts ---- */

#define POSTERS    4
#define POSTS_EACH 10000

struct post_check {
    rp__loop *loop;
    int next[POSTERS]; /* loop thread only */
    atomic_int out_of_order;
    atomic_int not_in_loop;
    atomic_int total;
};
static struct post_check pc;

static void post_cb(void *arg)
{
    uintptr_t v = (uintptr_t)arg;
    int who = (int)(v >> 20), seq = (int)(v & 0xfffff);
    if (pc.next[who] != seq)
        atomic_fetch_add(&pc.out_of_order, 1);
    pc.next[who] = seq + 1;
    if (!rp__loop_in_loop_thread(pc.loop))
        atomic_fetch_add(&pc.not_in_loop, 1);
    atomic_fetch_add(&pc.total, 1);
}

static void *poster_main(void *arg)
{
    uintptr_t who = (uintptr_t)arg;
    for (uintptr_t seq = 0; seq < POSTS_EACH; seq++) {
        int rc;
        /* The queue is bounded: a full queue is the poster's problem. */
        while ((rc = rp__loop_post(pc.loop, NULL, post_cb, (void *)((who << 20) | seq))) ==
               RP_ERR_FULL)
            sched_yield();
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_post_from_four_threads(void **state)
{
    (void)state;
    memset(&pc, 0, sizeof pc);
    pc.loop = new_loop(NULL);
    assert_int_equal(rp__loop_start(pc.loop), 0);
    pthread_t th[POSTERS];
    for (uintptr_t i = 0; i < POSTERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, poster_main, (void *)i), 0);
    for (int i = 0; i < POSTERS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(wait_at_least(&pc.total, POSTERS * POSTS_EACH, 10000), POSTERS * POSTS_EACH);
    assert_int_equal(rp__loop_stop(pc.loop), 0);
    for (int i = 0; i < POSTERS; i++)
        assert_int_equal(pc.next[i], POSTS_EACH);
    assert_int_equal(atomic_load(&pc.out_of_order), 0);
    assert_int_equal(atomic_load(&pc.not_in_loop), 0);
    assert_int_equal(atomic_load(&pc.total), POSTERS * POSTS_EACH);
    rp__loop_destroy(pc.loop);
}

static void count_cb(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_post_queue_full(void **state)
{
    (void)state;
    rp__loop_opts opts = {.post_cap = 8};
    rp__loop *loop = new_loop(&opts);
    atomic_int n = 0;
    for (int i = 0; i < 8; i++)
        assert_int_equal(rp__loop_post(loop, NULL, count_cb, &n), 0);
    assert_int_equal(rp__loop_post(loop, NULL, count_cb, &n), RP_ERR_FULL);
    rp__loop_stats st = stats_of(loop);
    assert_int_equal(st.posts_queued, 8);
    assert_int_equal(st.posts_rejected, 1);
    /* Posts made before start run once it runs. */
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(wait_at_least(&n, 8, 5000), 8);
    assert_int_equal(rp__loop_post(loop, NULL, count_cb, &n), 0);
    assert_int_equal(wait_at_least(&n, 9, 5000), 9);
    rp__loop_destroy(loop);
}

/* ---- stop ---- */

struct task_probe {
    atomic_int runs;
    atomic_int stopped;
    rp__loop *loop;
    atomic_int in_loop;
};

static void probe_fn(void *arg, int status)
{
    struct task_probe *p = arg;
    if (status == RP_ERR_STOPPED)
        atomic_fetch_add(&p->stopped, 1);
    else
        atomic_fetch_add(&p->runs, 1);
    atomic_store(&p->in_loop, rp__loop_in_loop_thread(p->loop));
}

/* Holds the loop thread until the test is calling rp__loop_stop, plus a
 * margin for that call to flag the stop (a few instructions). */
static atomic_int stop_called;

static void slow_cb(void *arg)
{
    atomic_store((atomic_int *)arg, 1);
    while (!atomic_load(&stop_called))
        sleep_ms(1);
    sleep_ms(100);
}

static void test_stop_with_pending_posts(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    atomic_int slow_started = 0, n = 0;
    atomic_store(&stop_called, 0);
    struct task_probe probe = {.loop = loop};
    rp__loop_task task = {.fn = probe_fn, .arg = &probe};
    struct ticker t = {.loop = loop};
    int fds[2];
    make_pipe(fds);
    struct reader r = {.loop = loop, .consume = 1};

    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(rp__loop_timer_add(loop, NULL, 60000, 60000, ticker_cb, &t, &t.id), 0);
    assert_int_equal(rp__loop_watch_fd(loop, NULL, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id), 0);
    assert_int_equal(rp__loop_post(loop, NULL, slow_cb, &slow_started), 0);
    assert_int_equal(wait_at_least(&slow_started, 1, 5000), 1);
    /* Queued behind a running callback, then the loop stops. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(rp__loop_post(loop, NULL, count_cb, &n), 0);
    assert_int_equal(rp__loop_post_task(loop, &task), 0);
    assert_int_equal(rp__loop_post_task(loop, &task), 0); /* already queued: once */
    atomic_store(&stop_called, 1);
    assert_int_equal(rp__loop_stop(loop), 0);
    assert_false(rp__loop_is_running(loop));
    assert_int_equal(atomic_load(&n), 0);
    assert_int_equal(atomic_load(&probe.runs), 0);
    assert_int_equal(atomic_load(&probe.stopped), 1);
    rp__loop_stats st = stats_of(loop);
    assert_int_equal(st.posts_queued, 0);
    assert_int_equal(st.timers, 1);
    assert_int_equal(st.watches, 1);
    assert_int_equal(rp__loop_stop(loop), 0); /* stopping twice is fine */

    /* Restart: dropped posts stay dropped, new ones and watches work. */
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(rp__loop_start(loop), RP_ERR_BUSY);
    assert_int_equal(rp__loop_post(loop, NULL, count_cb, &n), 0);
    assert_int_equal(wait_at_least(&n, 1, 5000), 1);
    assert_int_equal(write(fds[1], "z", 1), 1);
    assert_int_equal(wait_at_least(&r.len, 1, 5000), 1);
    assert_int_equal(rp__loop_post_task(loop, &task), 0);
    assert_int_equal(wait_at_least(&probe.runs, 1, 5000), 1);
    assert_int_equal(atomic_load(&probe.in_loop), 1);
    sleep_ms(20);
    assert_int_equal(atomic_load(&n), 1);

    /* A task queued on a loop that is not running gets RP_ERR_STOPPED from
     * destroy; a cancelled one never runs. */
    assert_int_equal(rp__loop_stop(loop), 0);
    rp__loop_task other = {.fn = probe_fn, .arg = &probe};
    assert_int_equal(rp__loop_post_task(loop, &task), 0);
    assert_int_equal(rp__loop_post_task(loop, &other), 0);
    assert_int_equal(rp__loop_task_cancel(loop, &other), 1);
    assert_int_equal(rp__loop_task_cancel(loop, &other), 0);
    rp__loop_destroy(loop);
    assert_int_equal(atomic_load(&probe.stopped), 2);
    assert_int_equal(atomic_load(&probe.runs), 1);
    close(fds[0]);
    close(fds[1]);
}

static void stop_self_cb(void *arg)
{
    struct task_probe *p = arg;
    atomic_store(&p->stopped, rp__loop_stop(p->loop));
    atomic_store(&p->runs, 1);
}

static void test_stop_from_loop_thread_refused(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    struct task_probe p = {.loop = loop};
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(rp__loop_post(loop, NULL, stop_self_cb, &p), 0);
    assert_int_equal(wait_at_least(&p.runs, 1, 5000), 1);
    assert_int_equal(atomic_load(&p.stopped), RP_ERR_BUSY);
    assert_int_equal(rp__loop_run_once(loop, 0), RP_ERR_BUSY);
    rp__loop_destroy(loop);
}

/* ---- hooks ---- */

struct hook_log {
    atomic_int enters, leaves, mismatched, depth_errors;
    void *current;
    int64_t max_cpu_ns;
    void *cpu_owner;
};

static void hook_enter(void *ctx, void *owner, int kind)
{
    struct hook_log *h = ctx;
    if (h->current)
        atomic_fetch_add(&h->depth_errors, 1);
    /* The loop runs fd watches, timers and posts (told as timers). */
    if (kind != RP__LOOP_CALL_FD && kind != RP__LOOP_CALL_TIMER)
        atomic_fetch_add(&h->mismatched, 1);
    h->current = owner;
    atomic_fetch_add(&h->enters, 1);
}

static void hook_leave(void *ctx, void *owner, int64_t cpu_ns)
{
    struct hook_log *h = ctx;
    if (h->current != owner)
        atomic_fetch_add(&h->mismatched, 1);
    h->current = NULL;
    if (cpu_ns > h->max_cpu_ns) {
        h->max_cpu_ns = cpu_ns;
        h->cpu_owner = owner;
    }
    atomic_fetch_add(&h->leaves, 1);
}

static void burn_cb(void *arg)
{
    /* Spins on the CPU for about 30 ms of thread CPU time. */
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    do {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 30000000L);
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_hooks_attribute_owner_and_cpu(void **state)
{
    (void)state;
    rp__loop *loop = new_loop(NULL);
    static struct hook_log h;
    memset(&h, 0, sizeof h);
    rp__loop_hooks hooks = {.enter = hook_enter, .leave = hook_leave, .ctx = &h};
    assert_int_equal(rp__loop_set_hooks(loop, &hooks), 0);
    int owner_a, owner_b, owner_c;
    atomic_int n = 0;
    struct ticker t = {.loop = loop};
    int fds[2];
    make_pipe(fds);
    struct reader r = {.loop = loop, .consume = 1, .unwatch_self = 1};
    assert_int_equal(rp__loop_watch_fd(loop, &owner_c, fds[0], RP__LOOP_READ, reader_cb, &r, &r.id),
                     0);
    assert_int_equal(rp__loop_timer_add(loop, &owner_b, 1, 0, ticker_cb, &t, &t.id), 0);
    assert_int_equal(rp__loop_post(loop, &owner_a, burn_cb, &n), 0);
    assert_int_equal(write(fds[1], "q", 1), 1);
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(rp__loop_set_hooks(loop, NULL), RP_ERR_BUSY);
    assert_int_equal(wait_at_least(&n, 1, 5000), 1);
    assert_int_equal(wait_at_least(&t.calls, 1, 5000), 1);
    assert_int_equal(wait_at_least(&r.calls, 1, 5000), 1);
    assert_int_equal(rp__loop_stop(loop), 0);
    assert_int_equal(atomic_load(&h.enters), 3);
    assert_int_equal(atomic_load(&h.leaves), 3);
    assert_int_equal(atomic_load(&h.mismatched), 0);
    assert_int_equal(atomic_load(&h.depth_errors), 0);
    assert_ptr_equal(h.cpu_owner, &owner_a);
    assert_true(h.max_cpu_ns >= 25000000);
    assert_int_equal(stats_of(loop).callbacks, 3);
    rp__loop_destroy(loop);
    close(fds[0]);
    close(fds[1]);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_watch_reads_data),
        cmocka_unit_test(test_watch_pause_and_resume),
        cmocka_unit_test(test_realtime_dropped_over_cap),
        cmocka_unit_test(test_realtime_restored_after_backoff),
        cmocka_unit_test(test_unwatch_from_other_thread_waits),
        cmocka_unit_test(test_unwatch_inside_callback),
        cmocka_unit_test(test_hup_when_write_end_closes),
        cmocka_unit_test(test_watch_set_events_write),
        cmocka_unit_test(test_stale_watch_does_not_remove_reused_fd),
        cmocka_unit_test(test_oneshot_and_periodic),
        cmocka_unit_test(test_cancel_inside_own_callback),
        cmocka_unit_test(test_cancel_from_other_thread_waits),
        cmocka_unit_test(test_timer_heap_many),
        cmocka_unit_test(test_caps_and_bad_ids),
        cmocka_unit_test(test_coalescing),
        cmocka_unit_test(test_idle_loop_does_not_wake),
        cmocka_unit_test(test_idle_loop_with_1s_timer_wakes_once_per_second),
        cmocka_unit_test(test_post_from_four_threads),
        cmocka_unit_test(test_post_queue_full),
        cmocka_unit_test(test_stop_with_pending_posts),
        cmocka_unit_test(test_stop_from_loop_thread_refused),
        cmocka_unit_test(test_hooks_attribute_owner_and_cpu),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
