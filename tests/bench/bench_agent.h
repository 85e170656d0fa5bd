/*
 * tests/bench/bench_agent.h - what the output benchmarks (bench_pipeline_upload,
 * bench_spool_replay) share: the real agent (build/bin/rampartd) and the real
 * end-to-end backend (tests/e2e/backend/backend.sh: ClickHouse behind nginx on
 * loopback), both started and stopped by PID, with every wait bounded.
 *
 *   - paths: rampartd and the plugins from /proc/self/exe (build/tests/bench_x
 *     -> build/bin/rampartd, build/plugins), backend.sh from RP_SOURCE_DIR
 *     (set by tests/bench/CMakeLists.txt);
 *   - child processes with a timeout (a child past it gets SIGKILL);
 *   - the backend: start (env.sh parsed), query, reset, stop;
 *   - the agent: start, its status.json polled (the file's mtime is the time
 *     of the figures it holds), its threads' CPU sampled from /proc while it
 *     runs (threads that end keep their last sample), stop;
 *   - batches made from the NDJSON file of an agent run in local-file mode;
 *   - the result as one JSON object (jansson), printed and written to argv[1].
 *
 * The generic pieces (files, /proc, child processes, finding the build
 * folder) are in bench_common.h, shared with the benches that need no
 * backend; what is here keeps process-wide state (the signal handlers, the
 * backends to stop, the time budget) that only these benches want.
 *
 * Header-only (static functions) so each bench stays one .c file; jansson
 * comes with rp_core. A failure calls ba_fail(), which kills the agent, stops
 * every backend started, removes the temporary folder (kept with
 * RP_BENCH_KEEP=1) and exits 1; SIGINT, SIGTERM and SIGHUP do the same with
 * async-signal-safe calls only.
 */
#ifndef RP_BENCH_AGENT_H
#define RP_BENCH_AGENT_H

#include "bench_common.h"

#include "output/gzip.h"
#include "output/ndjson.h"

#include <jansson.h>

#ifndef RP_SOURCE_DIR
#error "RP_SOURCE_DIR must name the source folder (tests/bench/CMakeLists.txt sets it)"
#endif

#define BA_MAX_THREADS    64
#define BA_MAX_BACKENDS   2
#define BA_POLL_MS        20  /* status.json is looked at this often (it changes every 100 ms) */
#define BA_THREAD_POLL_MS 200 /* the agent's threads are sampled this often */
#define BA_CMD_TIMEOUT_S  180 /* backend.sh start retries 3 times, 30 s each at most */
#define BA_STOP_TIMEOUT_S 15
#define BA_BUDGET_S       540 /* ctest's TIMEOUT is 600 s: room left to clean up */

static struct bench_paths ba_paths; /* rampartd, the plugins */
static char ba_backend_sh[PATH_MAX];

/* What the cleanup path needs, kept ready for a signal handler. */
static volatile pid_t ba_agent_pid;
static char ba_bk_dirs[BA_MAX_BACKENDS][PATH_MAX];
static volatile sig_atomic_t ba_bk_up[BA_MAX_BACKENDS];
static char ba_tmp[PATH_MAX]; /* removed on failure unless RP_BENCH_KEEP=1 */
/* ctest kills a bench at its TIMEOUT (600 s) with SIGKILL, which would leave
 * the backend running: every wait is also cut at this budget (monotonic ns;
 * RP_BENCH_BUDGET_S, default BA_BUDGET_S), so a slow run fails cleanly. */
static int64_t ba_budget_end;
static int ba_keep;

static int64_t ba_real_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Stops what this process started, with async-signal-safe calls only (it
 * runs from the signal handler too): SIGKILL to the agent, backend.sh stop
 * for each backend (itself bounded: SIGTERM, 15 s, SIGKILL). */
static void ba_cleanup(void)
{
    pid_t a = ba_agent_pid;
    if (a > 0) {
        kill(a, SIGKILL);
        waitpid(a, NULL, 0);
        ba_agent_pid = 0;
    }
    for (int i = 0; i < BA_MAX_BACKENDS; i++) {
        if (!ba_bk_up[i])
            continue;
        ba_bk_up[i] = 0;
        pid_t p = fork();
        if (p == 0) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            char *argv[] = {"bash", ba_backend_sh, "stop", ba_bk_dirs[i], NULL};
            execv("/bin/bash", argv);
            _exit(127);
        }
        if (p > 0)
            waitpid(p, NULL, 0);
    }
    /* The folder may hold a spool of a gigabyte: not left behind. */
    if (ba_tmp[0] && !ba_keep) {
        pid_t p = fork();
        if (p == 0) {
            char *argv[] = {"rm", "-rf", "--", ba_tmp, NULL};
            execv("/bin/rm", argv);
            _exit(127);
        }
        if (p > 0)
            waitpid(p, NULL, 0);
        ba_tmp[0] = '\0';
    }
}

static void ba_on_signal(int sig)
{
    ba_cleanup();
    _exit(128 + sig);
}

static void ba_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void ba_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", RP_BENCH_NAME);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    ba_cleanup();
    exit(1);
}

/*
 * A figure that could not be measured in time is missing, not a failure: a
 * shared, busy machine is slow, and a bench must not fail for that. What
 * is left to measure after such a wait needs the time it ran out of, so the
 * bench stops: it writes a JSON object that says why (missing) and which
 * goal it could not judge (met: null), cleans up like ba_fail, and exits 0.
 * ba_fail stays for what no amount of waiting fixes (a crash, a refusal).
 */
static const char *ba_out_path; /* argv[1]: where the JSON goes (ba_init) */

static void ba_give_up(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void ba_give_up(const char *fmt, ...)
{
    char why[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: not measured: %s\n", RP_BENCH_NAME, why);
    ba_cleanup();
    double l[3];
    bench_loadavg(l);
    json_t *o = json_object();
    json_object_set_new(o, "bench", json_string(&RP_BENCH_NAME[strlen("bench_")]));
    json_object_set_new(o, "met", json_null());
    json_object_set_new(o, "missing", json_string(why));
    json_t *la = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(la, json_real(l[i]));
    json_object_set_new(o, "load_average_end", la);
    char *text = json_dumps(o, JSON_INDENT(2));
    int rc = 0;
    if (text) {
        printf("%s\n", text);
        FILE *f = ba_out_path ? fopen(ba_out_path, "w") : NULL;
        if (ba_out_path && (!f || fprintf(f, "%s\n", text) < 0))
            rc = 1;
        if (f && fclose(f) != 0)
            rc = 1;
        free(text);
    }
    json_decref(o);
    exit(rc);
}

/* snprintf that fails the bench instead of truncating (configs, URLs). */
static void ba_format(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ba_format(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size)
        ba_fail("text too long (%d bytes for %zu)", n, size);
}

/* Fails the bench when s cannot go into a JSON or curl config unescaped. */
static void ba_check_text(const char *what, const char *s)
{
    if (bench_check_text(s) != 0)
        ba_fail("unusable %s: %s", what, s);
}

/* Makes the bench's temporary folder from template (ending in XXXXXX) into
 * out; ba_cleanup removes it on failure unless RP_BENCH_KEEP=1. */
static void ba_make_tmp(const char *template, char *out, size_t size)
{
    ba_format(out, size, "%s", template);
    if (!mkdtemp(out))
        ba_fail("mkdtemp %s: %s", template, strerror(errno));
    ba_check_text("temporary folder", out);
    const char *k = getenv("RP_BENCH_KEEP");
    ba_keep = k && strcmp(k, "1") == 0;
    ba_format(ba_tmp, sizeof ba_tmp, "%s", out);
}

/* Seconds a wait may take: want, or less when the budget runs out (at least 1). */
static int ba_wait_s(int want)
{
    int64_t left = (ba_budget_end - bench_now_ns()) / 1000000000;
    if (left < 1)
        left = 1;
    return want < left ? want : (int)left;
}

/* Seconds left of the budget (may be negative). */
BENCH_UNUSED static double ba_budget_left_s(void)
{
    return (double)(ba_budget_end - bench_now_ns()) / 1e9;
}

/* bench_env_u64 that fails the bench on a bad value: the value. */
static uint64_t ba_env_u64(const char *name, uint64_t dflt, uint64_t min, uint64_t max)
{
    uint64_t v;
    if (bench_env_u64(name, dflt, min, max, &v) != 0)
        ba_fail("%s must be an integer in %llu..%llu", name, (unsigned long long)min,
                (unsigned long long)max);
    return v;
}

/* Finds rampartd, the plugins and backend.sh; installs the signal handlers.
 * out (argv[1], may be NULL) is where ba_give_up writes its JSON. */
static void ba_init(const char *out)
{
    ba_out_path = out;
    if (bench_find_build(&ba_paths) != 0)
        exit(1); /* it said why; nothing is started yet */
    snprintf(ba_backend_sh, sizeof ba_backend_sh, "%s/tests/e2e/backend/backend.sh", RP_SOURCE_DIR);
    ba_check_text("build folder", ba_paths.build);
    if (access(ba_paths.rampartd, X_OK) != 0)
        ba_fail("%s: %s", ba_paths.rampartd, strerror(errno));
    if (access(ba_backend_sh, R_OK) != 0)
        ba_fail("%s: %s", ba_backend_sh, strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ba_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    ba_budget_end = bench_now_ns() +
                    (int64_t)ba_env_u64("RP_BENCH_BUDGET_S", BA_BUDGET_S, 60, 86400) * 1000000000;
}

/* ---- child processes ------------------------------------------------------ */

/* bench_spawn that fails the bench when fork fails: the child's pid. */
static pid_t ba_spawn(char *const argv[], const char *out, const char *err)
{
    pid_t pid = bench_spawn(argv, out, err);
    if (pid < 0)
        ba_fail("fork: %s", strerror(errno));
    return pid;
}

/* Runs argv to its end within timeout_s (else SIGKILL, -1): exit status. */
static int ba_run(char *const argv[], const char *out, const char *err, int timeout_s)
{
    pid_t pid = ba_spawn(argv, out, err);
    int st = bench_wait_pid(pid, (int64_t)timeout_s * 1000);
    if (st == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fprintf(stderr, "%s: %s did not end within %d s; killed\n", RP_BENCH_NAME, argv[0],
                timeout_s);
    }
    return st;
}

/* ---- /proc ---------------------------------------------------------------- */

/* CPU seconds of pid and its direct children (nginx's master and workers). */
static double ba_tree_cpu_s(pid_t pid)
{
    if (pid <= 0)
        return 0;
    double s = bench_proc_cpu_s(pid);
    if (s < 0)
        return 0;
    DIR *d = opendir("/proc");
    if (!d)
        return s;
    struct dirent *e;
    char path[300];
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        uint64_t t;
        int pp;
        if (bench_stat_ticks(path, &t, &pp) == 0 && pp == (int)pid)
            s += (double)t * bench_tick_s();
    }
    closedir(d);
    return s;
}

/* Busy CPU seconds of the whole machine so far (all but idle and iowait). */
static double ba_machine_busy_s(void)
{
    char buf[512];
    if (bench_read_file("/proc/stat", buf, sizeof buf) <= 0)
        return 0;
    unsigned long long v[8] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &v[6], &v[7]) < 5)
        return 0;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) * bench_tick_s();
}

/* ---- the backend ---------------------------------------------------------- */

struct ba_backend {
    int slot;
    int buffer; /* ClickHouse's table is a Buffer in front of the MergeTree */
    char dir[PATH_MAX];
    char ca[PATH_MAX], token_file[PATH_MAX], token[256];
    char bearer_url[1024], discard_url[1024];
    pid_t nginx_pid, ch_pid;
    double start_s;
};

/* Copies the value of `export NAME='value'` from env.sh text; 0 or -1. */
static int ba_env_value(const char *text, const char *name, char *out, size_t size)
{
    char pat[128];
    snprintf(pat, sizeof pat, "export %s='", name);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    const char *q = strchr(p, '\'');
    if (!q || (size_t)(q - p) >= size)
        return -1;
    memcpy(out, p, (size_t)(q - p));
    out[q - p] = '\0';
    return 0;
}

/* Starts a backend in dir (an empty folder), in Buffer mode when asked. */
static void ba_backend_start(struct ba_backend *b, int slot, const char *dir, int buffer)
{
    memset(b, 0, sizeof *b);
    b->slot = slot;
    b->buffer = buffer;
    ba_format(b->dir, sizeof b->dir, "%s", dir);
    ba_format(ba_bk_dirs[slot], sizeof ba_bk_dirs[slot], "%s", dir);
    char out[PATH_MAX + 32], err[PATH_MAX + 32];
    ba_format(out, sizeof out, "%s.out", dir);
    ba_format(err, sizeof err, "%s.err", dir);
    char *argv[] = {"bash", ba_backend_sh, "start", b->dir, NULL};
    if (buffer)
        setenv("RAMPART_E2E_CH_BUFFER", "1", 1);
    else
        unsetenv("RAMPART_E2E_CH_BUFFER");
    ba_bk_up[slot] = 1; /* a start that fails half-way cleans up, stop is harmless */
    int64_t t0 = bench_now_ns();
    int st = ba_run(argv, out, err, ba_wait_s(BA_CMD_TIMEOUT_S));
    b->start_s = (double)(bench_now_ns() - t0) / 1e9;
    unsetenv("RAMPART_E2E_CH_BUFFER");
    if (st != 0) {
        static char log[8192];
        if (bench_read_file(err, log, sizeof log) > 0)
            fprintf(stderr, "%s", log);
        ba_fail("backend.sh start %s failed (status %d)", dir, st);
    }
    static char env[16384];
    char path[PATH_MAX + 16], num[32];
    ba_format(path, sizeof path, "%s/env.sh", dir);
    if (bench_read_file(path, env, sizeof env) <= 0)
        ba_fail("%s: %s", path, strerror(errno));
    if (ba_env_value(env, "RAMPART_E2E_CA", b->ca, sizeof b->ca) ||
        ba_env_value(env, "RAMPART_E2E_TOKEN_FILE", b->token_file, sizeof b->token_file) ||
        ba_env_value(env, "RAMPART_E2E_TOKEN", b->token, sizeof b->token) ||
        ba_env_value(env, "RAMPART_E2E_BEARER_URL", b->bearer_url, sizeof b->bearer_url) ||
        ba_env_value(env, "RAMPART_E2E_DISCARD_URL", b->discard_url, sizeof b->discard_url))
        ba_fail("%s: a variable is missing", path);
    if (ba_env_value(env, "RAMPART_E2E_NGINX_PID", num, sizeof num) == 0)
        b->nginx_pid = (pid_t)strtol(num, NULL, 10);
    if (ba_env_value(env, "RAMPART_E2E_CLICKHOUSE_PID", num, sizeof num) == 0)
        b->ch_pid = (pid_t)strtol(num, NULL, 10);
    ba_check_text("backend value", b->ca);
    ba_check_text("backend value", b->token_file);
    ba_check_text("backend value", b->token);
    ba_check_text("backend value", b->bearer_url);
    ba_check_text("backend value", b->discard_url);
}

static void ba_backend_stop(struct ba_backend *b)
{
    if (!ba_bk_up[b->slot])
        return;
    char *argv[] = {"bash", ba_backend_sh, "stop", b->dir, NULL};
    int st = ba_run(argv, NULL, NULL, BA_CMD_TIMEOUT_S);
    ba_bk_up[b->slot] = 0;
    if (st != 0)
        fprintf(stderr, "%s: backend.sh stop %s: status %d\n", RP_BENCH_NAME, b->dir, st);
}

/* Runs SQL on ClickHouse; its answer (trailing newline cut) in out. */
BENCH_UNUSED static void ba_backend_query(const struct ba_backend *b, const char *sql, char *out,
                                          size_t size)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s.query", b->dir);
    char *argv[] = {"bash", ba_backend_sh, "query", (char *)b->dir, (char *)sql, NULL};
    int st = ba_run(argv, path, NULL, ba_wait_s(60));
    if (st != 0 || bench_read_file(path, out, size) < 0)
        ba_fail("backend.sh query \"%s\" failed (status %d)", sql, st);
    size_t n = strlen(out);
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
}

/* Empties rampart.events (the Buffer flushed first in Buffer mode). */
BENCH_UNUSED static void ba_backend_reset(const struct ba_backend *b)
{
    char *argv[] = {"bash", ba_backend_sh, "reset", (char *)b->dir, NULL};
    int st = ba_run(argv, NULL, NULL, ba_wait_s(120));
    if (st != 0)
        ba_fail("backend.sh reset failed (status %d)", st);
}

/* Distinct event.id and rows of the synthetic events (event.action exec). */
BENCH_UNUSED static void ba_backend_exec_count(const struct ba_backend *b, long long *distinct,
                                               long long *rows)
{
    char out[256];
    ba_backend_query(b,
                     "SELECT uniqExact(`event.id`), count() FROM rampart.events "
                     "WHERE `event.action` = 'exec' FORMAT TSV",
                     out, sizeof out);
    if (sscanf(out, "%lld %lld", distinct, rows) != 2)
        ba_fail("unexpected answer from ClickHouse: %s", out);
}

/* ---- the agent ------------------------------------------------------------ */

struct ba_thread {
    int tid;
    char name[20];
    uint64_t ticks; /* last seen utime + stime */
};

struct ba_agent {
    pid_t pid;
    char data_dir[PATH_MAX];
    char status_path[PATH_MAX + 32];
    char log_path[PATH_MAX + 32];
    int64_t t0_mono, t0_real; /* just before the fork */
    int64_t last_mtime;
    int64_t last_thread_sample;
    int nthreads, threads_lost;
    struct ba_thread th[BA_MAX_THREADS];
};

/* Starts rampartd --foreground --config cfg; its output goes to log. */
static void ba_agent_start(struct ba_agent *a, const char *cfg, const char *data_dir,
                           const char *log)
{
    memset(a, 0, sizeof *a);
    snprintf(a->data_dir, sizeof a->data_dir, "%s", data_dir);
    snprintf(a->status_path, sizeof a->status_path, "%s/status.json", data_dir);
    snprintf(a->log_path, sizeof a->log_path, "%s", log);
    unlink(a->status_path);
    char *argv[] = {ba_paths.rampartd, "--foreground", "--config", (char *)cfg, NULL};
    a->t0_mono = bench_now_ns();
    a->t0_real = ba_real_ns();
    a->pid = ba_spawn(argv, log, log);
    ba_agent_pid = a->pid;
}

/* Samples the CPU of each of the agent's threads. */
static void ba_agent_sample_threads(struct ba_agent *a)
{
    char path[128];
    snprintf(path, sizeof path, "/proc/%d/task", (int)a->pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        int tid = (int)strtol(e->d_name, NULL, 10);
        uint64_t t;
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)a->pid, tid);
        if (bench_stat_ticks(path, &t, NULL) != 0)
            continue;
        int k = 0;
        while (k < a->nthreads && a->th[k].tid != tid)
            k++;
        if (k == a->nthreads) {
            if (a->nthreads == BA_MAX_THREADS) {
                a->threads_lost++;
                continue;
            }
            a->nthreads++;
            a->th[k].tid = tid;
        }
        a->th[k].ticks = t;
        /* The name may change (threads name themselves after they start). */
        bench_thread_name(a->pid, tid, a->th[k].name, sizeof a->th[k].name);
    }
    closedir(d);
    a->last_thread_sample = bench_now_ns();
}

/*
 * Looks at status.json once: returns 1 with *doc (the caller frees it) and
 * *mtime_real_ns (when the agent wrote it) when the file changed since the
 * last look, 0 when not, -1 when the agent has exited (its status in *exited).
 * Samples the threads every BA_THREAD_POLL_MS on the way.
 */
static int ba_agent_poll(struct ba_agent *a, json_t **doc, int64_t *mtime_real_ns, int *exited)
{
    *doc = NULL;
    int st;
    if (waitpid(a->pid, &st, WNOHANG) == a->pid) {
        *exited = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        a->pid = 0;
        ba_agent_pid = 0;
        return -1;
    }
    if (bench_now_ns() - a->last_thread_sample >= (int64_t)BA_THREAD_POLL_MS * 1000000)
        ba_agent_sample_threads(a);
    /* The file is replaced by rename: the open fd's mtime belongs to its text. */
    int fd = open(a->status_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat sb;
    int64_t m = 0;
    if (fstat(fd, &sb) == 0)
        m = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    if (m == a->last_mtime) {
        close(fd);
        return 0;
    }
    json_error_t jerr;
    json_t *d = json_loadfd(fd, 0, &jerr);
    close(fd);
    if (!d)
        return 0;
    a->last_mtime = m;
    *mtime_real_ns = m;
    *doc = d;
    return 1;
}

/* An integer of the status document by dotted path; -1 when absent. */
static long long ba_get(const json_t *doc, const char *path)
{
    char key[128];
    const json_t *v = doc;
    const char *p = path;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof key)
            return -1;
        memcpy(key, p, n);
        key[n] = '\0';
        v = json_object_get(v, key);
        p = dot ? dot + 1 : p + n;
    }
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* SIGTERM, up to BA_STOP_TIMEOUT_S, then SIGKILL: the exit status. */
static int ba_agent_stop(struct ba_agent *a)
{
    if (a->pid <= 0)
        return -1;
    int killed;
    int st = bench_stop_child(a->pid, (int64_t)BA_STOP_TIMEOUT_S * 1000, &killed);
    if (killed)
        fprintf(stderr, "%s: rampartd ignored SIGTERM for %d s; killed\n", RP_BENCH_NAME,
                BA_STOP_TIMEOUT_S);
    a->pid = 0;
    ba_agent_pid = 0;
    return st;
}

/* Prints the end of the agent's log to stderr (after a failure). */
static void ba_agent_show_log(const struct ba_agent *a)
{
    static char buf[1 << 16];
    int n = bench_read_file(a->log_path, buf, sizeof buf);
    if (n > 0)
        fprintf(stderr, "---- %s (end)\n%s\n", a->log_path, n > 3000 ? buf + n - 3000 : buf);
}

/* The per-thread CPU seconds as a JSON array, busiest first. */
static json_t *ba_agent_threads_json(const struct ba_agent *a)
{
    struct ba_thread t[BA_MAX_THREADS];
    int n = a->nthreads;
    memcpy(t, a->th, sizeof(t[0]) * (size_t)n);
    for (int i = 1; i < n; i++) /* insertion sort, a handful of threads */
        for (int k = i; k > 0 && t[k].ticks > t[k - 1].ticks; k--) {
            struct ba_thread x = t[k];
            t[k] = t[k - 1];
            t[k - 1] = x;
        }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "tid", json_integer(t[i].tid));
        json_object_set_new(o, "name", json_string(t[i].name));
        json_object_set_new(o, "cpu_s", json_real((double)t[i].ticks * bench_tick_s()));
        json_array_append_new(arr, o);
    }
    return arr;
}

/* ---- batches from an NDJSON file ------------------------------------------ */

/* Called for each batch: the NDJSON lines and their gzip (libdeflate level
 * RP__GZIP_LEVEL, as the agent's sink makes them). Non-zero stops. */
typedef int (*ba_batch_fn)(void *ctx, uint64_t index, const char *raw, size_t raw_len,
                           const void *gz, size_t gz_len, uint32_t lines);

struct ba_batch_totals {
    uint64_t lines, batches, raw_bytes, gz_bytes;
};

/*
 * Cuts the lines of file holding "event.action":"exec" (the synthetic events,
 * not the agent's own) into batches of per lines, at most max_lines in all
 * (0: no cap), the last one possibly short, and hands each to fn.
 */
static int ba_make_batches(const char *file, uint32_t per, uint64_t max_lines, ba_batch_fn fn,
                           void *ctx, struct ba_batch_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    rp__gzip *gz = NULL;
    if (rp__gzip_create(RP__GZIP_LEVEL, &gz) != 0) {
        fclose(f);
        return -1;
    }
    rp__buf raw, z;
    rp__buf_init(&raw, (size_t)1 << 30);
    rp__buf_init(&z, (size_t)1 << 30);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint32_t in = 0;
    int rc = 0;
    for (;;) {
        n = getline(&line, &cap, f);
        int last = n <= 0 || (max_lines && tot->lines >= max_lines);
        if (!last && strstr(line, "\"event.action\":\"exec\"")) {
            if (rp__buf_append(&raw, line, (size_t)n) != 0) {
                rc = -1;
                break;
            }
            in++;
            tot->lines++;
        }
        if (in > 0 && (in == per || last || (max_lines && tot->lines >= max_lines))) {
            rp__buf_reset(&z);
            if (rp__gzip_compress(gz, raw.data, raw.len, &z) != 0) {
                rc = -1;
                break;
            }
            tot->raw_bytes += raw.len;
            tot->gz_bytes += z.len;
            rc = fn(ctx, tot->batches, raw.data, raw.len, z.data, z.len, in);
            tot->batches++;
            rp__buf_reset(&raw);
            in = 0;
            if (rc != 0)
                break;
        }
        if (last)
            break;
    }
    free(line);
    fclose(f);
    rp__buf_free(&raw);
    rp__buf_free(&z);
    rp__gzip_destroy(gz);
    return rc;
}

/*
 * Runs the agent once in local-file mode (no output.url): collector_synthetic
 * publishes count events as fast as it can, the sink writes them to
 * <tmp>/<name>/events.ndjson (never rotated), the agent is stopped with
 * SIGTERM once they are all published (the stop drains the bus into the
 * file). Returns the file's path in out.
 */
static void ba_local_run(const char *tmp, const char *name, uint64_t count, char *out, size_t size,
                         int timeout_s)
{
    char data[PATH_MAX + 64], cfg[PATH_MAX + 64], log[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/%s", tmp, name);
    snprintf(cfg, sizeof cfg, "%s/%s.json", tmp, name);
    snprintf(log, sizeof log, "%s/%s.log", tmp, name);
    static char text[16384];
    ba_format(text, sizeof text,
              "{\n  \"agent\": {\"data_dir\": \"%s\", \"plugin_dir\": \"%s\", "
              "\"log_level\": \"info\", \"health_interval_ms\": 100},\n"
              "  \"output\": {\"file\": \"events.ndjson\", \"stdout\": false, "
              "\"file_max_bytes\": 0, \"flush_interval_ms\": 100},\n"
              "  \"plugins\": {\"synthetic\": {\"enabled\": true, \"file\": "
              "\"collector_synthetic.so\", \"config\": {\"count\": %llu, \"rate\": 0}}}\n}\n",
              data, ba_paths.plugins, (unsigned long long)count);
    if (bench_write_text(cfg, text, 0666) != 0)
        ba_fail("%s: %s", cfg, strerror(errno));
    struct ba_agent a;
    ba_agent_start(&a, cfg, data, log);
    timeout_s = ba_wait_s(timeout_s);
    int64_t end = bench_now_ns() + (int64_t)timeout_s * 1000000000;
    int done = 0;
    while (!done) {
        json_t *doc;
        int64_t m;
        int ex = 0;
        int r = ba_agent_poll(&a, &doc, &m, &ex);
        if (r < 0) {
            ba_agent_show_log(&a);
            ba_fail("rampartd (local-file run) exited with status %d", ex);
        }
        if (r > 0) {
            done = ba_get(doc, "plugins.synthetic.published") >= (long long)count;
            json_decref(doc);
        }
        if (!done && bench_now_ns() > end) {
            ba_agent_show_log(&a);
            ba_give_up("the local-file run that makes the events to compare with did not "
                       "publish %llu events within %d s (the machine is too busy or the "
                       "time budget RP_BENCH_BUDGET_S ran out)",
                       (unsigned long long)count, timeout_s);
        }
        if (!done)
            bench_sleep_ms(BA_POLL_MS);
    }
    int st = ba_agent_stop(&a);
    if (st != 0) {
        ba_agent_show_log(&a);
        ba_fail("rampartd (local-file run) stopped with status %d", st);
    }
    ba_format(out, size, "%s/events.ndjson", data);
}

/* ---- misc ----------------------------------------------------------------- */

/* Removes the temporary folder at a normal end. */
static void ba_remove_tmp(void)
{
    if (ba_tmp[0] && !ba_keep)
        bench_rm_tree(ba_tmp);
    ba_tmp[0] = '\0';
}

static json_t *ba_load_json(const double l[3])
{
    json_t *a = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(a, json_real(l[i]));
    return a;
}

/* Prints the object and writes it to path (if not NULL); 0 or 1. */
static int ba_json_finish(json_t *o, const char *path)
{
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    if (!text) {
        fprintf(stderr, "%s: cannot format the result\n", RP_BENCH_NAME);
        return 1;
    }
    fputs(text, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    int rc = 0;
    if (path) {
        FILE *f = fopen(path, "w");
        if (!f || fputs(text, f) < 0 || fputc('\n', f) < 0) {
            fprintf(stderr, "%s: cannot write %s\n", RP_BENCH_NAME, path);
            rc = 1;
        }
        if (f && fclose(f) != 0)
            rc = 1;
    }
    free(text);
    return rc;
}

#endif
