/*
 * tests/unit/test_workers.c - the worker pool (core/runtime/workers.c): jobs from
 * several threads, done on the loop thread, FIFO start order, the cap,
 * cancellation at destroy, and that idle workers sleep.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/loop.h"
#include "runtime/workers.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

static int wait_at_least(atomic_int *v, int want, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (atomic_load(v) < want && now_ms() < end)
        sleep_ms(1);
    return atomic_load(v);
}

static rp__loop *started_loop(void)
{
    rp__loop *loop = NULL;
    assert_int_equal(rp__loop_create(NULL, &loop), 0);
    assert_int_equal(rp__loop_start(loop), 0);
    return loop;
}

/* A gate jobs can wait on, so tests decide when a worker is busy. */
static atomic_int gate_open;

static void gate_work(void *arg)
{
    atomic_store((atomic_int *)arg, 1); /* started */
    while (!atomic_load(&gate_open))
        sleep_ms(1);
}

/* ---- many jobs, done on the loop thread ---- */

#define SUBMITTERS 2
#define JOBS_EACH  5000

struct many {
    rp__loop *loop;
    rp__workers *w;
    atomic_int worked;
    atomic_int done;
    atomic_int done_off_loop;
    atomic_int bad_status;
    atomic_int worked_on_loop;
};
static struct many m;

static void many_work(void *arg)
{
    (void)arg;
    if (rp__loop_in_loop_thread(m.loop))
        atomic_fetch_add(&m.worked_on_loop, 1);
    atomic_fetch_add(&m.worked, 1);
}

static void many_done(void *arg, int status)
{
    (void)arg;
    if (!rp__loop_in_loop_thread(m.loop))
        atomic_fetch_add(&m.done_off_loop, 1);
    if (status != 0)
        atomic_fetch_add(&m.bad_status, 1);
    atomic_fetch_add(&m.done, 1);
}

static void *submitter_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < JOBS_EACH; i++) {
        int rc;
        while ((rc = rp__workers_submit(m.w, NULL, many_work, many_done, NULL)) == RP_ERR_FULL)
            sched_yield();
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_many_jobs_done_on_loop_thread(void **state)
{
    (void)state;
    memset(&m, 0, sizeof m);
    m.loop = started_loop();
    assert_int_equal(rp__workers_create(NULL, m.loop, &m.w), 0);
    pthread_t th[SUBMITTERS];
    for (int i = 0; i < SUBMITTERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, submitter_main, NULL), 0);
    for (int i = 0; i < SUBMITTERS; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    int total = SUBMITTERS * JOBS_EACH;
    assert_int_equal(wait_at_least(&m.done, total, 20000), total);
    assert_int_equal(atomic_load(&m.worked), total);
    assert_int_equal(atomic_load(&m.worked_on_loop), 0);
    assert_int_equal(atomic_load(&m.done_off_loop), 0);
    assert_int_equal(atomic_load(&m.bad_status), 0);
    rp__workers_stats st;
    rp__workers_get_stats(m.w, &st);
    assert_int_equal(st.submitted, (uint64_t)total);
    assert_int_equal(st.completed, (uint64_t)total);
    assert_int_equal(st.cancelled, 0);
    assert_true(st.held_high <= RP__WORKERS_DEFAULT_QUEUE_CAP);
    print_message("%d jobs: queue high-water %u, held high-water %u, rejected %llu\n", total,
                  st.queued_high, st.held_high, (unsigned long long)st.rejected);
    rp__workers_destroy(m.w);
    rp__loop_destroy(m.loop);
}

/* ---- FIFO, cap ---- */

struct order {
    int seen[128]; /* written by the single worker; read after destroy joined it */
    int n;
};

struct order_arg {
    struct order *o;
    int i;
};

static void order_work(void *arg)
{
    struct order_arg *a = arg;
    a->o->seen[a->o->n++] = a->i;
}

static void test_fifo_with_one_thread(void **state)
{
    (void)state;
    rp__workers_opts opts = {.threads = 1};
    rp__workers *w = NULL;
    assert_int_equal(rp__workers_create(&opts, NULL, &w), 0);
    atomic_int started = 0;
    atomic_store(&gate_open, 0);
    assert_int_equal(rp__workers_submit(w, NULL, gate_work, NULL, &started), 0);
    assert_int_equal(wait_at_least(&started, 1, 5000), 1);
    static struct order o;
    static struct order_arg args[100];
    memset(&o, 0, sizeof o);
    for (int i = 0; i < 100; i++) {
        args[i] = (struct order_arg){&o, i};
        assert_int_equal(rp__workers_submit(w, NULL, order_work, NULL, &args[i]), 0);
    }
    rp__workers_stats st;
    rp__workers_get_stats(w, &st);
    assert_int_equal(st.queued, 100);
    assert_int_equal(st.held, 101);
    atomic_store(&gate_open, 1);
    int64_t end = now_ms() + 5000;
    do {
        rp__workers_get_stats(w, &st);
        if (st.completed == 101)
            break;
        sleep_ms(1);
    } while (now_ms() < end);
    rp__workers_destroy(w);
    assert_int_equal(o.n, 100);
    for (int i = 0; i < 100; i++)
        assert_int_equal(o.seen[i], i);
}

static void count_work(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void test_full_at_cap(void **state)
{
    (void)state;
    rp__workers_opts opts = {.threads = 1, .queue_cap = 4};
    rp__workers *w = NULL;
    assert_int_equal(rp__workers_create(&opts, NULL, &w), 0);
    atomic_int started = 0, ran = 0;
    atomic_store(&gate_open, 0);
    assert_int_equal(rp__workers_submit(w, NULL, gate_work, NULL, &started), 0);
    assert_int_equal(wait_at_least(&started, 1, 5000), 1);
    /* One running + three queued = the cap of 4 jobs held. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(rp__workers_submit(w, NULL, count_work, NULL, &ran), 0);
    assert_int_equal(rp__workers_submit(w, NULL, count_work, NULL, &ran), RP_ERR_FULL);
    assert_int_equal(rp__workers_submit(w, NULL, count_work, NULL, &ran), RP_ERR_FULL);
    rp__workers_stats st;
    rp__workers_get_stats(w, &st);
    assert_int_equal(st.rejected, 2);
    assert_int_equal(st.submitted, 4);
    assert_int_equal(st.queued, 3);
    assert_int_equal(st.held_high, 4);
    atomic_store(&gate_open, 1);
    assert_int_equal(wait_at_least(&ran, 3, 5000), 3);
    /* Room again once jobs finished. */
    int64_t end = now_ms() + 5000;
    int rc;
    while ((rc = rp__workers_submit(w, NULL, count_work, NULL, &ran)) == RP_ERR_FULL &&
           now_ms() < end)
        sleep_ms(1);
    assert_int_equal(rc, 0);
    assert_int_equal(wait_at_least(&ran, 4, 5000), 4);
    rp__workers_destroy(w);
    rp__workers_destroy(NULL);

    rp__workers_opts bad = {.threads = RP__WORKERS_MAX_THREADS + 1};
    assert_int_equal(rp__workers_create(&bad, NULL, &w), RP_ERR_RANGE);
}

/* ---- destroy with queued jobs ---- */

struct done_rec {
    rp__loop *loop;
    atomic_int calls;
    atomic_int ok;
    atomic_int stopped;
    atomic_int on_loop;
    atomic_int on_main;
    atomic_int worked;
    pthread_t main;
};

static void rec_done(void *arg, int status)
{
    struct done_rec *d = arg;
    if (status == 0)
        atomic_fetch_add(&d->ok, 1);
    else if (status == RP_ERR_STOPPED)
        atomic_fetch_add(&d->stopped, 1);
    if (d->loop && rp__loop_in_loop_thread(d->loop))
        atomic_fetch_add(&d->on_loop, 1);
    if (pthread_equal(pthread_self(), d->main))
        atomic_fetch_add(&d->on_main, 1);
    atomic_fetch_add(&d->calls, 1);
}

/* The work half of jobs whose arg is a done_rec. */
static void rec_work(void *arg)
{
    atomic_fetch_add(&((struct done_rec *)arg)->worked, 1);
}

/* Opens the gate once the pool has cancelled `want` jobs, so tests do not
 * depend on who gets the CPU first. Reading stats while destroy runs is safe:
 * destroy cannot return before the gated job it joins has ended. */
struct opener_arg {
    rp__workers *w;
    uint64_t want;
};

static void *open_gate_when_cancelled(void *arg)
{
    struct opener_arg *o = arg;
    rp__workers_stats st;
    int64_t end = now_ms() + 10000;
    do {
        sleep_ms(1);
        rp__workers_get_stats(o->w, &st);
    } while (st.cancelled < o->want && now_ms() < end);
    atomic_store(&gate_open, 1);
    return NULL;
}

/* Submits a gated job (done with status 0) and 10 queued ones, then
 * destroys the pool while the first still runs. */
static void destroy_with_queue(rp__loop *loop, struct done_rec *d)
{
    rp__workers_opts opts = {.threads = 1, .queue_cap = 16};
    rp__workers *w = NULL;
    assert_int_equal(rp__workers_create(&opts, loop, &w), 0);
    atomic_int started = 0;
    atomic_store(&gate_open, 0);
    assert_int_equal(rp__workers_submit(w, NULL, gate_work, NULL, &started), 0);
    assert_int_equal(wait_at_least(&started, 1, 5000), 1);
    for (int i = 0; i < 10; i++)
        assert_int_equal(rp__workers_submit(w, NULL, rec_work, rec_done, d), 0);
    pthread_t opener;
    struct opener_arg oa = {w, 10};
    assert_int_equal(pthread_create(&opener, NULL, open_gate_when_cancelled, &oa), 0);
    rp__workers_destroy(w); /* cancels the 10, waits for the gated job */
    pthread_join(opener, NULL);
}

static void test_destroy_cancels_queued_loop_running(void **state)
{
    (void)state;
    rp__loop *loop = started_loop();
    struct done_rec d = {.loop = loop, .main = pthread_self()};
    destroy_with_queue(loop, &d);
    /* Every done ran before destroy returned, on the loop thread; the
     * cancelled jobs' work never ran. */
    assert_int_equal(atomic_load(&d.worked), 0);
    assert_int_equal(atomic_load(&d.calls), 10);
    assert_int_equal(atomic_load(&d.stopped), 10);
    assert_int_equal(atomic_load(&d.on_loop), 10);
    assert_int_equal(atomic_load(&d.on_main), 0);
    rp__loop_destroy(loop);
}

static void test_destroy_cancels_queued_loop_stopped(void **state)
{
    (void)state;
    rp__loop *loop = NULL;
    assert_int_equal(rp__loop_create(NULL, &loop), 0);
    struct done_rec d = {.loop = loop, .main = pthread_self()};
    destroy_with_queue(loop, &d);
    /* The loop is not running: synchronously, on the destroying thread. */
    assert_int_equal(atomic_load(&d.calls), 10);
    assert_int_equal(atomic_load(&d.stopped), 10);
    assert_int_equal(atomic_load(&d.on_main), 10);
    rp__loop_destroy(loop);
}

static void test_destroy_cancels_queued_no_loop(void **state)
{
    (void)state;
    struct done_rec d = {.main = pthread_self()};
    destroy_with_queue(NULL, &d);
    assert_int_equal(atomic_load(&d.calls), 10);
    assert_int_equal(atomic_load(&d.stopped), 10);
    assert_int_equal(atomic_load(&d.on_main), 10);
}

/* Completions made while the loop is not running wait for it to start, then
 * run on the loop thread; without a loop, done runs on the worker thread. */
static void test_completions_wait_for_loop_start(void **state)
{
    (void)state;
    rp__loop *loop = NULL;
    assert_int_equal(rp__loop_create(NULL, &loop), 0);
    rp__workers *w = NULL;
    assert_int_equal(rp__workers_create(NULL, loop, &w), 0);
    struct done_rec d = {.loop = loop, .main = pthread_self()};
    for (int i = 0; i < 20; i++)
        assert_int_equal(rp__workers_submit(w, NULL, rec_work, rec_done, &d), 0);
    rp__workers_stats st;
    int64_t end = now_ms() + 5000;
    do {
        rp__workers_get_stats(w, &st);
        sleep_ms(1);
    } while (st.completed < 20 && now_ms() < end);
    assert_int_equal(st.completed, 20);
    assert_int_equal(atomic_load(&d.calls), 0);
    assert_int_equal(st.held, 20); /* finished, done still owed */
    assert_int_equal(rp__loop_start(loop), 0);
    assert_int_equal(wait_at_least(&d.calls, 20, 5000), 20);
    assert_int_equal(atomic_load(&d.on_loop), 20);
    assert_int_equal(atomic_load(&d.ok), 20);
    rp__workers_destroy(w);
    rp__loop_destroy(loop);

    struct done_rec d2 = {.main = pthread_self()};
    assert_int_equal(rp__workers_create(NULL, NULL, &w), 0);
    assert_int_equal(rp__workers_submit(w, NULL, rec_work, rec_done, &d2), 0);
    assert_int_equal(wait_at_least(&d2.calls, 1, 5000), 1);
    assert_int_equal(atomic_load(&d2.on_main), 0);
    assert_int_equal(atomic_load(&d2.ok), 1);
    rp__workers_destroy(w);
}

/* Destroy from the loop thread delivers synchronously there. */
struct in_loop_destroy {
    rp__workers *w;
    struct done_rec d;
    atomic_int finished;
};

static void destroy_on_loop_cb(void *arg)
{
    struct in_loop_destroy *x = arg;
    rp__workers_destroy(x->w);
    atomic_store(&x->finished, 1);
}

static void test_destroy_from_loop_thread(void **state)
{
    (void)state;
    rp__loop *loop = started_loop();
    static struct in_loop_destroy x;
    memset(&x, 0, sizeof x);
    x.d.loop = loop;
    x.d.main = pthread_self();
    rp__workers_opts opts = {.threads = 1};
    assert_int_equal(rp__workers_create(&opts, loop, &x.w), 0);
    atomic_int started = 0;
    atomic_store(&gate_open, 0);
    assert_int_equal(rp__workers_submit(x.w, NULL, gate_work, NULL, &started), 0);
    assert_int_equal(wait_at_least(&started, 1, 5000), 1);
    for (int i = 0; i < 5; i++)
        assert_int_equal(rp__workers_submit(x.w, NULL, rec_work, rec_done, &x.d), 0);
    pthread_t opener;
    struct opener_arg oa = {x.w, 5};
    assert_int_equal(pthread_create(&opener, NULL, open_gate_when_cancelled, &oa), 0);
    assert_int_equal(rp__loop_post(loop, NULL, destroy_on_loop_cb, &x), 0);
    assert_int_equal(wait_at_least(&x.finished, 1, 5000), 1);
    pthread_join(opener, NULL);
    assert_int_equal(atomic_load(&x.d.calls), 5);
    assert_int_equal(atomic_load(&x.d.stopped), 5);
    assert_int_equal(atomic_load(&x.d.on_loop), 5);
    rp__loop_destroy(loop);
}

/* Unloading one plugin: its queued jobs are cancelled and its running job
 * awaited, while another owner's jobs carry on. */
static void test_cancel_owner(void **state)
{
    (void)state;
    rp__loop *loop = started_loop();
    rp__workers_opts opts = {.threads = 1, .queue_cap = 32};
    rp__workers *w = NULL;
    assert_int_equal(rp__workers_create(&opts, loop, &w), 0);
    int owner_a, owner_b;
    struct done_rec da = {.loop = loop}, db = {.loop = loop};
    atomic_int started = 0;
    atomic_store(&gate_open, 0);
    assert_int_equal(rp__workers_submit(w, &owner_a, gate_work, NULL, &started), 0);
    assert_int_equal(wait_at_least(&started, 1, 5000), 1);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(rp__workers_submit(w, &owner_b, rec_work, rec_done, &db), 0);
        assert_int_equal(rp__workers_submit(w, &owner_a, rec_work, rec_done, &da), 0);
    }
    pthread_t opener;
    struct opener_arg oa = {w, 5};
    assert_int_equal(pthread_create(&opener, NULL, open_gate_when_cancelled, &oa), 0);
    assert_int_equal(rp__workers_cancel_owner(w, &owner_a), 0);
    /* Returned only after A's running job ended and all of A's dones ran. */
    assert_int_equal(atomic_load(&gate_open), 1);
    assert_int_equal(atomic_load(&da.calls), 5);
    assert_int_equal(atomic_load(&da.stopped), 5);
    assert_int_equal(atomic_load(&da.worked), 0);
    assert_int_equal(atomic_load(&da.on_loop), 5);
    pthread_join(opener, NULL);
    /* B was not touched. */
    assert_int_equal(wait_at_least(&db.calls, 5, 5000), 5);
    assert_int_equal(atomic_load(&db.ok), 5);
    assert_int_equal(atomic_load(&db.worked), 5);
    /* Nothing of A left: a second call returns at once. */
    assert_int_equal(rp__workers_cancel_owner(w, &owner_a), 0);
    rp__workers_destroy(w);
    rp__loop_destroy(loop);

    /* Without a loop, the cancelled dones run on the calling thread. */
    struct done_rec dn = {.main = pthread_self()};
    assert_int_equal(rp__workers_create(&opts, NULL, &w), 0);
    atomic_store(&gate_open, 0);
    started = 0;
    assert_int_equal(rp__workers_submit(w, &owner_b, gate_work, NULL, &started), 0);
    assert_int_equal(wait_at_least(&started, 1, 5000), 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(rp__workers_submit(w, &owner_a, rec_work, rec_done, &dn), 0);
    assert_int_equal(rp__workers_cancel_owner(w, &owner_a), 0);
    assert_int_equal(atomic_load(&dn.stopped), 3);
    assert_int_equal(atomic_load(&dn.on_main), 3);
    atomic_store(&gate_open, 1);
    rp__workers_destroy(w);
}

/* ---- hooks ---- */

struct hook_count {
    atomic_int enters, leaves, wrong_owner;
};
static int hook_owner;

static void h_enter(void *ctx, void *owner, int kind)
{
    struct hook_count *h = ctx;
    /* Crash attribution names the callback: a job or its done, nothing else. */
    if (owner != &hook_owner || (kind != RP__LOOP_CALL_JOB && kind != RP__LOOP_CALL_DONE))
        atomic_fetch_add(&h->wrong_owner, 1);
    atomic_fetch_add(&h->enters, 1);
}

static void h_leave(void *ctx, void *owner, int64_t cpu_ns)
{
    struct hook_count *h = ctx;
    if (owner != &hook_owner || cpu_ns < 0)
        atomic_fetch_add(&h->wrong_owner, 1);
    atomic_fetch_add(&h->leaves, 1);
}

static void test_hooks_around_work_and_done(void **state)
{
    (void)state;
    rp__loop *loop = started_loop();
    struct hook_count h = {0};
    rp__loop_hooks hooks = {.enter = h_enter, .leave = h_leave, .ctx = &h};
    rp__workers_opts opts = {.hooks = &hooks};
    rp__workers *w = NULL;
    assert_int_equal(rp__workers_create(&opts, loop, &w), 0);
    struct done_rec d = {.loop = loop};
    for (int i = 0; i < 10; i++)
        assert_int_equal(rp__workers_submit(w, &hook_owner, rec_work, rec_done, &d), 0);
    assert_int_equal(wait_at_least(&d.calls, 10, 5000), 10);
    assert_int_equal(atomic_load(&d.worked), 10);
    rp__workers_destroy(w);
    assert_int_equal(atomic_load(&h.enters), 20); /* 10 work + 10 done */
    assert_int_equal(atomic_load(&h.leaves), 20);
    assert_int_equal(atomic_load(&h.wrong_owner), 0);
    rp__loop_destroy(loop);
}

/* ---- idle ---- */

/* Sums context switches and on-CPU time of this process's threads whose
 * name starts with prefix (from /proc/self/task/<tid>/{comm,status,schedstat}). */
static void thread_usage(const char *prefix, long *switches, long long *cpu_ns, int *nthreads)
{
    *switches = 0;
    *cpu_ns = 0;
    *nthreads = 0;
    DIR *dir = opendir("/proc/self/task");
    assert_non_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[320], line[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int match = fgets(line, sizeof line, f) && strncmp(line, prefix, strlen(prefix)) == 0;
        fclose(f);
        if (!match)
            continue;
        (*nthreads)++;
        snprintf(path, sizeof path, "/proc/self/task/%s/status", e->d_name);
        if ((f = fopen(path, "r")) != NULL) {
            while (fgets(line, sizeof line, f)) {
                long v;
                if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1 ||
                    sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1)
                    *switches += v;
            }
            fclose(f);
        }
        snprintf(path, sizeof path, "/proc/self/task/%s/schedstat", e->d_name);
        if ((f = fopen(path, "r")) != NULL) {
            long long ns;
            if (fscanf(f, "%lld", &ns) == 1)
                *cpu_ns += ns;
            fclose(f);
        }
    }
    closedir(dir);
}

static void test_idle_workers_use_no_cpu(void **state)
{
    (void)state;
    rp__loop *loop = started_loop();
    rp__workers *w = NULL;
    assert_int_equal(rp__workers_create(NULL, loop, &w), 0);
    /* Some work first, so the threads have run and gone back to sleep. */
    struct done_rec d = {.loop = loop};
    for (int i = 0; i < 100; i++)
        assert_int_equal(rp__workers_submit(w, NULL, rec_work, rec_done, &d), 0);
    assert_int_equal(wait_at_least(&d.calls, 100, 5000), 100);
    sleep_ms(50);

    long sw0, sw1;
    long long cpu0, cpu1;
    int n0, n1;
    thread_usage("rp-", &sw0, &cpu0, &n0);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    sleep_ms(500);
    getrusage(RUSAGE_SELF, &ru1);
    thread_usage("rp-", &sw1, &cpu1, &n1);

    long long proc_us = (ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) * 1000000LL +
                        (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
                        (ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) * 1000000LL +
                        (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec);
    print_message("idle 0.5 s: %d agent threads, %ld context switches, %lld ns on CPU; "
                  "process CPU %lld us\n",
                  n1, sw1 - sw0, cpu1 - cpu0, proc_us);
    assert_int_equal(n1, 3); /* rp-loop + 2 rp-worker-N */
    /* Sleeping threads are not scheduled at all: no wake-up, no CPU. */
    assert_true(sw1 - sw0 <= 1);
    assert_true(cpu1 - cpu0 < 1000000); /* < 1 ms */
    /* Whole process (includes sanitizer runtime threads): still near zero. */
    assert_true(proc_us < 50000);
    rp__workers_destroy(w);
    rp__loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_jobs_done_on_loop_thread),
        cmocka_unit_test(test_fifo_with_one_thread),
        cmocka_unit_test(test_full_at_cap),
        cmocka_unit_test(test_destroy_cancels_queued_loop_running),
        cmocka_unit_test(test_destroy_cancels_queued_loop_stopped),
        cmocka_unit_test(test_destroy_cancels_queued_no_loop),
        cmocka_unit_test(test_completions_wait_for_loop_start),
        cmocka_unit_test(test_destroy_from_loop_thread),
        cmocka_unit_test(test_cancel_owner),
        cmocka_unit_test(test_hooks_around_work_and_done),
        cmocka_unit_test(test_idle_workers_use_no_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
