/*
 * tests/bench/bench_common.h - small helpers shared by the benchmarks:
 * monotonic time, medians, machine facts, one JSON object written to stdout
 * and to the path given as argv[1], and the plumbing several benches need
 * (files, /proc, child processes, where build/bin/rampartd is). None of it
 * keeps process-wide state or installs signal handlers: bench_agent.h does
 * that for the benches that start a backend.
 *
 * Header-only (static functions) so every bench stays one .c file; a helper
 * a bench does not use is marked BENCH_UNUSED (or inline) so -Werror builds
 * stay quiet. The JSON buffer is fixed (BENCH_JSON_MAX bytes); appending past
 * it marks the object truncated, and bench_json_finish() then fails rather
 * than write broken JSON.
 */
#ifndef RP_BENCH_COMMON_H
#define RP_BENCH_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_JSON_MAX 8192

/* For the helpers only some of the benches use. */
#define BENCH_UNUSED __attribute__((unused))

/* The program's name in messages; tests/bench/CMakeLists.txt sets it to the
 * target's name (bench_exec_burst, ...). */
#ifndef RP_BENCH_NAME
#define RP_BENCH_NAME "bench"
#endif

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

/* ---- time, files and text ------------------------------------------------ */

/* Prints "<bench>: what: <strerror(errno)>" to stderr and exits 1 (it never
 * returns). Nothing is cleaned up: for failures before anything started. */
static void bench_die(const char *what) __attribute__((unused, noreturn));
static void bench_die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", RP_BENCH_NAME, what, strerror(errno));
    exit(1);
}

/* Sleeps ms milliseconds, resumed after a signal; cannot fail. */
BENCH_UNUSED static void bench_sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Reads up to size - 1 bytes of path into buf and NUL-terminates them.
 * Returns the bytes read (a read error ends the text early), or -1 with buf
 * untouched when path cannot be opened or size is 0. */
BENCH_UNUSED static int bench_read_file(const char *path, char *buf, size_t size)
{
    if (size == 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t n = read(fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (int)got;
}

/* Writes text to path, created with mode (less the umask; 0666 is what
 * fopen uses) or truncated. Returns 0, or -1 when path cannot be opened or
 * the text was not written in full (what was written stays). */
BENCH_UNUSED static int bench_write_text(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -1;
    size_t len = strlen(text), off = 0;
    int rc = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -1;
            break;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* Size of path in bytes; -1 when it cannot be stat'ed. */
BENCH_UNUSED static long long bench_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* Copies the file from into a new file to (O_EXCL: never over an existing
 * one) with mode. Returns 0, or -1 on any error (a partial copy stays). */
BENCH_UNUSED static int bench_copy_file(const char *from, const char *to, mode_t mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n) {
            rc = -1;
            break;
        }
    if (n < 0)
        rc = -1;
    close(in);
    if (close(out) != 0)
        rc = -1;
    return rc;
}

/* 1 when a line of the text file path holds needle (an agent's log, say);
 * 0 when none does or path cannot be opened. */
BENCH_UNUSED static int bench_file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    while (!found && getline(&line, &cap, f) > 0)
        found = strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return found;
}

/* Paths and URLs go into JSON configs unescaped: 0 when s needs no escaping,
 * -1 when it holds a quote, a backslash or a control character (the caller
 * refuses it rather than escape it). */
BENCH_UNUSED static int bench_check_text(const char *s)
{
    for (const char *c = s; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
            return -1;
    return 0;
}

/* Syncs path (a file, or each file directly in a folder) and drops its
 * cached pages, so the next read comes from the disk (or at least the
 * hypervisor's cache). Returns 0, or -1 (errno set) when path opens neither
 * as a folder nor as a file; a folder's files that do not open are skipped. */
BENCH_UNUSED static int bench_make_cold(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
        return 0;
    }
    struct dirent *e;
    char file[PATH_MAX + 300];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int n = snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof file)
            continue;
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        fdatasync(fd);
        posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        close(fd);
    }
    closedir(d);
    return 0;
}

/* The decimal value of environment variable name into *out, dflt when it
 * is unset or empty. Returns 0, or -1 (*out untouched) when it is not an
 * integer in min..max. */
BENCH_UNUSED static int bench_env_u64(const char *name, uint64_t dflt, uint64_t min, uint64_t max,
                                      uint64_t *out)
{
    const char *s = getenv(name);
    if (!s || !*s) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ---- /proc ---------------------------------------------------------------- */

/* Seconds per clock tick of /proc's CPU times (1/100 if sysconf fails). */
BENCH_UNUSED static double bench_tick_s(void)
{
    long t = sysconf(_SC_CLK_TCK);
    return 1.0 / (double)(t > 0 ? t : 100);
}

/* utime + stime (clock ticks) into *ticks and, when ppid is not NULL, the
 * parent pid into *ppid, from a /proc/<pid>[/task/<tid>]/stat file; the name
 * in parentheses may hold anything, so fields count from the last ')'.
 * Returns 0, or -1 when the file cannot be read or is cut short. */
BENCH_UNUSED static int bench_stat_ticks(const char *path, uint64_t *ticks, int *ppid)
{
    char buf[1024];
    if (bench_read_file(path, buf, sizeof buf) <= 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    uint64_t v[13] = {0};
    for (int i = 0; i < 13; i++) { /* fields 3 (the state) to 15 (stime) */
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        char *end;
        v[i] = strtoull(p, &end, 10);
        if (i == 0)
            end = p + 1; /* the state letter */
        p = end;
    }
    *ticks = v[11] + v[12];
    if (ppid)
        *ppid = (int)v[1];
    return 0;
}

/* CPU seconds (utime + stime) of process pid, all its threads, ended ones
 * included; -1 when it is gone or its stat cannot be read. */
BENCH_UNUSED static double bench_proc_cpu_s(pid_t pid)
{
    char path[64];
    uint64_t t;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    return bench_stat_ticks(path, &t, NULL) == 0 ? (double)t * bench_tick_s() : -1;
}

/* The number right after key in the text of a /proc status file (key
 * includes the colon, e.g. "\nvoluntary_ctxt_switches:"); 0 when absent. */
BENCH_UNUSED static uint64_t bench_status_value(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

/* A "Key:   N kB" line of /proc/<pid>/status (key "VmHWM:", say), in bytes;
 * 0 when the file cannot be read or has no such line. */
BENCH_UNUSED static uint64_t bench_status_kb(pid_t pid, const char *key)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (bench_read_file(path, buf, sizeof buf) <= 0)
        return 0;
    return bench_status_value(buf, key) * 1024;
}

/* The name of thread tid of process pid (/proc/<pid>/task/<tid>/comm, cut
 * to size - 1 bytes) into name, with '_' for each space, quote, backslash or
 * byte outside printable ASCII, so it goes into JSON as it is. Returns 0, or
 * -1 (name untouched) when it cannot be read. */
BENCH_UNUSED static int bench_thread_name(pid_t pid, int tid, char *name, size_t size)
{
    char path[96], buf[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)pid, tid);
    if (size == 0 || bench_read_file(path, buf, sizeof buf) <= 0)
        return -1;
    size_t n = 0;
    for (const char *c = buf; *c && *c != '\n' && n + 1 < size; c++)
        name[n++] = (*c > 0x20 && *c < 0x7f && *c != '"' && *c != '\\') ? *c : '_';
    name[n] = '\0';
    return 0;
}

/* The 1-, 5- and 15-minute load averages from /proc/loadavg into out; all
 * three -1 when it cannot be read or parsed. */
BENCH_UNUSED static void bench_loadavg(double out[3])
{
    char buf[128];
    if (bench_read_file("/proc/loadavg", buf, sizeof buf) <= 0 ||
        sscanf(buf, "%lf %lf %lf", &out[0], &out[1], &out[2]) != 3)
        out[0] = out[1] = out[2] = -1;
}

/* The 1-minute load average; -1 if unavailable. */
static inline double bench_load1(void)
{
    double l[3];
    bench_loadavg(l);
    return l[0];
}

/* ---- child processes ------------------------------------------------------ */

/* Starts argv[0] (searched in PATH) with stdin from /dev/null and stdout and
 * stderr to the files out and err (created 0600 or truncated; NULL means
 * /dev/null; the same path twice, one file). Returns the child's pid, or -1
 * when fork fails; a child that cannot open its files or exec exits 127. */
BENCH_UNUSED static pid_t bench_spawn(char *const argv[], const char *out, const char *err)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid < 0 ? -1 : pid;
    int i = open("/dev/null", O_RDONLY);
    int o = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = err && out && strcmp(err, out) == 0
                ? dup(o)
                : open(err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (i < 0 || o < 0 || e < 0 || dup2(i, 0) < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
        _exit(127);
    /* The program gets 0, 1 and 2, no stray copies (one of them may already
     * be 0, 1 or 2 when this process had that one closed). */
    if (i > 2)
        close(i);
    if (o > 2)
        close(o);
    if (e > 2)
        close(e);
    execvp(argv[0], argv);
    _exit(127);
}

/* Waits up to timeout_ms for the child pid to end (polling every 10 ms).
 * Returns its exit status (128 + the signal when a signal ended it), -1 when
 * it still runs at the timeout, -2 when waitpid fails (not a child of ours,
 * or already reaped). */
BENCH_UNUSED static int bench_wait_pid(pid_t pid, int64_t timeout_ms)
{
    int64_t end = bench_now_ns() + timeout_ms * 1000000;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (r < 0)
            return -2;
        if (bench_now_ns() >= end)
            return -1;
        bench_sleep_ms(10);
    }
}

/* Stops the child pid: SIGTERM, up to term_ms for it to end, then (only if
 * it still runs) SIGKILL and up to 5 s more. Returns what bench_wait_pid
 * returned last: the exit status, or -1 when even SIGKILL did not end it in
 * time, -2 when it is not a child of ours. *killed (if not NULL) tells
 * whether SIGKILL was needed. */
BENCH_UNUSED static int bench_stop_child(pid_t pid, int64_t term_ms, int *killed)
{
    kill(pid, SIGTERM);
    int st = bench_wait_pid(pid, term_ms);
    if (killed)
        *killed = st == -1;
    if (st == -1) {
        kill(pid, SIGKILL);
        st = bench_wait_pid(pid, 5000);
    }
    return st;
}

/* ---- where the agent is --------------------------------------------------- */

/* A bench runs as build/tests/bench_x, next to build/bin/rampartd and the
 * plugins in build/plugins. */
struct bench_paths {
    char exe[PATH_MAX];           /* this program, from /proc/self/exe */
    char build[PATH_MAX];         /* the build folder: exe two levels up */
    char rampartd[PATH_MAX + 32]; /* build/bin/rampartd (not checked here) */
    char plugins[PATH_MAX + 32];  /* build/plugins (not checked here) */
};

/* Fills p from /proc/self/exe. Returns 0, or -1 with a message on stderr
 * when the link cannot be read or the program does not sit two folders
 * below some folder. */
BENCH_UNUSED static int bench_find_build(struct bench_paths *p)
{
    memset(p, 0, sizeof *p);
    ssize_t n = readlink("/proc/self/exe", p->exe, sizeof p->exe - 1);
    if (n <= 0) {
        fprintf(stderr, "%s: /proc/self/exe: %s\n", RP_BENCH_NAME, strerror(errno));
        return -1;
    }
    p->exe[n] = '\0';
    memcpy(p->build, p->exe, (size_t)n + 1);
    for (int up = 0; up < 2; up++) { /* build/tests/bench_x -> build */
        char *slash = strrchr(p->build, '/');
        if (!slash || slash == p->build) {
            fprintf(stderr, "%s: cannot place %s in a build folder\n", RP_BENCH_NAME, p->exe);
            return -1;
        }
        *slash = '\0';
    }
    snprintf(p->rampartd, sizeof p->rampartd, "%s/bin/rampartd", p->build);
    snprintf(p->plugins, sizeof p->plugins, "%s/plugins", p->build);
    return 0;
}

/* Starts rampartd in the foreground with the process collector alone, its
 * data in <dir>/data (events in <dir>/data/events.ndjson) and its log in
 * errlog, and waits up to wait_ms for the plugin to run. Returns the pid;
 * -1 when it was still starting after wait_ms (slow, not broken: the child
 * is stopped), -2 when it exited by itself (broken: see errlog). */
BENCH_UNUSED static pid_t bench_start_process_agent(const struct bench_paths *p, const char *dir,
                                                    const char *errlog, int wait_ms)
{
    char cfg[PATH_MAX], text[2 * PATH_MAX + 512];
    snprintf(cfg, sizeof cfg, "%s/rampart.json", dir);
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"%s/data\",\"plugin_dir\":\"%s\",\"log_level\":\"info\"},"
             "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false,\"flush_interval_ms\":200},"
             "\"plugins\":{\"process\":{\"enabled\":true,\"file\":\"collector_process.so\","
             "\"config\":{}}}}\n",
             dir, p->plugins);
    if (bench_write_text(cfg, text, 0644) != 0)
        bench_die("write the agent config");
    char *argv[] = {(char *)p->rampartd, "--foreground", "--config", cfg, NULL};
    pid_t pid = bench_spawn(argv, NULL, errlog);
    if (pid < 0)
        bench_die("fork");
    for (int waited = 0; waited < wait_ms; waited += 50) {
        if (bench_file_contains(errlog, "plugin process: running"))
            return pid;
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return -2;
        bench_sleep_ms(50);
    }
    bench_stop_child(pid, 10000, NULL);
    return -1;
}

#endif
