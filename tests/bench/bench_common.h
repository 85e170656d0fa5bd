/*
 * tests/bench/bench_common.h - small helpers shared by the benchmarks:
 * monotonic time, medians, machine facts, and one JSON object written to
 * stdout and to the path given as argv[1].
 *
 * Header-only (static functions) so every bench stays one .c file. The JSON
 * buffer is fixed (BENCH_JSON_MAX bytes); appending past it marks the object
 * truncated, and bench_json_finish() then fails rather than write broken
 * JSON.
 */
#ifndef RP_BENCH_COMMON_H
#define RP_BENCH_COMMON_H

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BENCH_JSON_MAX 8192

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spin a while, then yield: on a shared machine the thread being waited
 * for may need this CPU. *spins starts at 0. */
static inline void bench_wait(unsigned *spins)
{
    if (++*spins < 1024) {
        bench_cpu_relax();
    } else {
        *spins = 0;
        sched_yield();
    }
}

static int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values; sorts v in place. 0 for n == 0. */
static inline double bench_median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The q-quantile (0..1) of n values by nearest rank; sorts v in place. */
static inline double bench_quantile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, bench_cmp_double);
    size_t i = (size_t)(q * (double)n);
    return v[i >= n ? n - 1 : i];
}

static inline long bench_cpus(void)
{
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* The 1-minute load average from /proc/loadavg; -1 if unavailable. */
static inline double bench_load1(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l = -1;
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

struct bench_spinner {
    atomic_int *stop;
    int64_t cpu_ns;
};

static void *bench_spin_main(void *arg)
{
    struct bench_spinner *s = arg;
    while (!atomic_load_explicit(s->stop, memory_order_relaxed))
        bench_cpu_relax();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    s->cpu_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    return NULL;
}

/*
 * CPUs this process actually gets right now: as many spinning threads as
 * online CPUs run for ms milliseconds; returns their CPU time over the wall
 * time (2.0 on an idle 2-CPU machine, less when neighbours or the host take
 * a share). Recorded next to load1 so a reader can tell a slow bus from a
 * busy machine.
 */
static inline double bench_cpu_capacity(int ms)
{
    enum { MAXT = 64 };
    long n = bench_cpus();
    if (n < 1)
        n = 1;
    if (n > MAXT)
        n = MAXT;
    atomic_int stop;
    atomic_init(&stop, 0);
    struct bench_spinner sp[MAXT];
    pthread_t th[MAXT];
    int64_t t0 = bench_now_ns();
    long started = 0;
    for (long i = 0; i < n; i++) {
        sp[i].stop = &stop;
        sp[i].cpu_ns = 0;
        if (pthread_create(&th[i], NULL, bench_spin_main, &sp[i]) != 0)
            break;
        started++;
    }
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    atomic_store(&stop, 1);
    int64_t cpu = 0;
    for (long i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        cpu += sp[i].cpu_ns;
    }
    return (double)cpu / (double)(bench_now_ns() - t0);
}

struct bench_pong {
    _Alignas(64) atomic_int flag;
    int rounds;
};

static void *bench_pong_main(void *arg)
{
    struct bench_pong *p = arg;
    int rounds = p->rounds; /* not re-read from the line being measured */
    for (int i = 0; i < rounds; i++) {
        while (atomic_load_explicit(&p->flag, memory_order_acquire) != 1)
            bench_cpu_relax();
        atomic_store_explicit(&p->flag, 0, memory_order_release);
    }
    return NULL;
}

/*
 * One-way CPU-to-CPU latency in ns: two threads hand one cache line back
 * and forth. Every by-reference queue pays it at least once per item the
 * consumer touches, so it bounds what a bus can do on this machine (tens
 * of ns on one bare-metal socket, far more on some virtual machines).
 * Median of 5 rounds of 20000 round trips after 10 warm-up rounds (on the
 * VMs we measured, the first ~150 ms after idle run 3x slower); -1 if a
 * thread cannot start.
 */
static inline double bench_c2c_ns(void)
{
    static struct bench_pong p;
    double v[15];
    for (int r = 0; r < 15; r++) {
        atomic_init(&p.flag, 0);
        p.rounds = 20000;
        pthread_t th;
        if (pthread_create(&th, NULL, bench_pong_main, &p) != 0)
            return -1;
        int rounds = p.rounds;
        int64_t t0 = bench_now_ns();
        for (int i = 0; i < rounds; i++) {
            atomic_store_explicit(&p.flag, 1, memory_order_release);
            while (atomic_load_explicit(&p.flag, memory_order_acquire) != 0)
                bench_cpu_relax();
        }
        v[r] = (double)(bench_now_ns() - t0) / rounds / 2;
        pthread_join(th, NULL);
    }
    return bench_median(v + 10, 5);
}

typedef struct bench_json {
    char buf[BENCH_JSON_MAX];
    size_t len;
    int fields;
    int truncated;
} bench_json;

static inline void bench_json_raw(bench_json *j, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void bench_json_raw(bench_json *j, const char *fmt, ...)
{
    if (j->truncated)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(j->buf + j->len, sizeof j->buf - j->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof j->buf - j->len)
        j->truncated = 1;
    else
        j->len += (size_t)n;
}

static inline void bench_json_begin(bench_json *j)
{
    memset(j, 0, sizeof *j);
    bench_json_raw(j, "{");
}

static inline void bench_json_key(bench_json *j, const char *key)
{
    bench_json_raw(j, "%s\n  \"%s\": ", j->fields++ ? "," : "", key);
}

static inline void bench_json_num(bench_json *j, const char *key, double v)
{
    bench_json_key(j, key);
    bench_json_raw(j, "%.6g", v);
}

static inline void bench_json_int(bench_json *j, const char *key, long long v)
{
    bench_json_key(j, key);
    bench_json_raw(j, "%lld", v);
}

/* s must not need escaping beyond quotes and backslashes (our own text). */
static inline void bench_json_str(bench_json *j, const char *key, const char *s)
{
    bench_json_key(j, key);
    bench_json_raw(j, "\"");
    for (const char *p = s; *p; p++)
        bench_json_raw(j, (*p == '"' || *p == '\\') ? "\\%c" : "%c", *p);
    bench_json_raw(j, "\"");
}

static inline void bench_json_array(bench_json *j, const char *key, const double *v, size_t n)
{
    bench_json_key(j, key);
    bench_json_raw(j, "[");
    for (size_t i = 0; i < n; i++)
        bench_json_raw(j, "%s%.6g", i ? ", " : "", v[i]);
    bench_json_raw(j, "]");
}

/* Closes the object, prints it and writes it to path (if not NULL).
 * Returns 0, or 1 when it was truncated or could not be written. */
static inline int bench_json_finish(bench_json *j, const char *path)
{
    bench_json_raw(j, "\n}\n");
    if (j->truncated) {
        fprintf(stderr, "bench: JSON output exceeds %d bytes\n", BENCH_JSON_MAX);
        return 1;
    }
    fputs(j->buf, stdout);
    fflush(stdout);
    if (!path)
        return 0;
    FILE *f = fopen(path, "w");
    if (!f || fwrite(j->buf, 1, j->len, f) != j->len) {
        fprintf(stderr, "bench: cannot write %s\n", path);
        if (f)
            fclose(f);
        return 1;
    }
    return fclose(f) == 0 ? 0 : 1;
}

/* Removes dir and everything under it (symbolic links are removed, not
 * followed): the benches' temporary folders. */
static inline void bench_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX + 300];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue;
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            bench_rm_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

#endif
