/*
 * tests/bench/bench_collectors_idle.c - what the agent costs a machine while
 * nothing happens, with the four kernel-fed collectors on: collector_process,
 * collector_file, collector_network and collector_login, each with the config
 * a new install has (the "config" of its entry in config/rampart.json, read
 * at run time): the file collector watches the default paths (/etc, /usr,
 * /home, /tmp, ...), as a user would run it, not an empty folder. What the
 * machine's other processes do under those paths shows in "events".
 *
 * rampartd is started twice, in the foreground, on a config of its own in a
 * temporary folder: first with no plugin (the baseline: the bare agent's own
 * idle cost, measured the same way in the same run), then with the
 * collectors. Each run settles for SETTLE_S seconds, then is measured over
 * RP_BENCH_IDLE_SECONDS (default 60):
 *   - CPU: utime + stime of the whole process (/proc/<pid>/stat, every
 *     thread's, in clock ticks) as a percentage of one core; the threads'
 *     schedstat run time (ns) is reported next to it as a finer cross-check;
 *   - wakeups: voluntary + involuntary context switches of every thread
 *     (/proc/<pid>/task/<tid>/status) per second, in all and per thread;
 *   - the machine's load averages before and after.
 * Goal: the agent with the collectors runs at most 0.05 % of one core.
 * Then each collector runs alone for a quarter of that time (at least 2 s),
 * to tell which one costs what: they all share the agent's loop thread.
 * The events the collectors wrote during each window are counted by
 * category, since a shared machine is rarely quite idle.
 *
 * A collector whose .so does not exist in build/plugins is left out and
 * listed under "missing". The binaries are found from /proc/self/exe: this
 * program is build/tests/bench_collectors_idle, rampartd build/bin/rampartd,
 * the plugins build/plugins/. Every wait is bounded; the agent is stopped
 * with SIGTERM (SIGKILL after 10 s). A run whose agent was still starting
 * after START_TIMEOUT_S is reported as not measured (its "error" says why,
 * goal_met is null), not as a failure: the machine was busy, not the agent
 * broken. The bench fails only when the agent exited or died.
 *
 *   bench_collectors_idle OUT.json
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <jansson.h>

#ifndef RP_SOURCE_DIR
#error "RP_SOURCE_DIR must name the source folder (tests/bench/CMakeLists.txt sets it)"
#endif

/* The default config a new install has: each collector's "config" is taken
 * from its entry there. */
#define DEFAULT_CONFIG RP_SOURCE_DIR "/config/rampart.json"

#define SETTLE_S          3
#define DEFAULT_MEASURE_S 60
#define GOAL_CPU_PERCENT  0.05
#define MAX_THREADS       64 /* threads followed per run; more are summed, not listed */
#define START_TIMEOUT_S   60 /* a busy machine starts the agent slowly */
#define STOP_TIMEOUT_S    10

struct collector {
    const char *name; /* the plugin instance's name in the config */
    const char *so;   /* file in build/plugins */
    int present;
    char *config; /* its "config" in DEFAULT_CONFIG, compact JSON (malloc) */
};

static struct collector collectors[] = {
    {"process", "collector_process.so", 0, NULL},
    {"file", "collector_file.so", 0, NULL},
    {"network", "collector_network.so", 0, NULL},
    {"login", "collector_login.so", 0, NULL},
};
#define N_COLLECTORS (sizeof collectors / sizeof collectors[0])

static struct bench_paths paths; /* rampartd, the plugins */
static char tmp_dir[PATH_MAX];

struct thread_sample {
    int tid;
    char name[20];
    uint64_t ticks;  /* utime + stime */
    uint64_t run_ns; /* schedstat run time; 0 if unavailable */
    uint64_t ctxsw;  /* voluntary + nonvoluntary */
};

struct sample {
    int64_t mono_ns;
    uint64_t proc_ticks; /* /proc/<pid>/stat utime + stime: all threads, dead ones too */
    int n;
    int overflow; /* threads past MAX_THREADS (summed into the totals) */
    uint64_t sum_ctxsw, sum_run_ns;
    struct thread_sample t[MAX_THREADS];
};

/* Event categories counted in the events file, to show what the collectors
 * saw on a machine that is rarely quite idle. */
static const char *const categories[] = {"process", "file", "network", "authentication", "session"};
#define N_CATEGORIES 5

struct run {
    const char *label;
    int ok;
    int slow; /* not measured because the agent was slow to start: not a failure */
    char error[256];
    int plugins_enabled, plugins_running;
    char running[128]; /* names of the plugins that logged "running" */
    double seconds, cpu_percent, cpu_percent_schedstat, wakeups_per_s;
    double load_before[3], load_after[3];
    uint64_t events[N_CATEGORIES + 1]; /* written during the window, by category; last: all */
    int exit_status;
    int n_threads;
    int threads_unlisted; /* past MAX_THREADS: their CPU is in the total, not their wakeups */
    struct {
        int tid;
        char name[20];
        double cpu_percent, wakeups_per_s;
    } threads[MAX_THREADS];
};

/* Takes each collector's "config" from DEFAULT_CONFIG; 0, or -1 after
 * saying why (a bench of the defaults without them would measure something
 * else). */
static int load_default_configs(void)
{
    json_error_t jerr;
    json_t *root = json_load_file(DEFAULT_CONFIG, 0, &jerr);
    if (!root) {
        fprintf(stderr, "bench_collectors_idle: %s:%d: %s\n", DEFAULT_CONFIG, jerr.line, jerr.text);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < N_COLLECTORS && rc == 0; i++) {
        json_t *entry = json_object_get(json_object_get(root, "plugins"), collectors[i].name);
        json_t *file = json_object_get(entry, "file");
        json_t *cfg = json_object_get(entry, "config");
        if (!json_is_string(file) || strcmp(json_string_value(file), collectors[i].so) != 0) {
            fprintf(stderr, "bench_collectors_idle: %s: plugins.%s.file is not \"%s\"\n",
                    DEFAULT_CONFIG, collectors[i].name, collectors[i].so);
            rc = -1;
        } else if (cfg && !json_is_object(cfg)) {
            fprintf(stderr, "bench_collectors_idle: %s: plugins.%s.config is not an object\n",
                    DEFAULT_CONFIG, collectors[i].name);
            rc = -1;
        } else {
            /* A plugin without a "config" runs on its own defaults: {}. */
            collectors[i].config = cfg ? json_dumps(cfg, JSON_COMPACT) : strdup("{}");
            if (!collectors[i].config)
                rc = -1;
        }
    }
    json_decref(root);
    return rc;
}

static void take_sample(pid_t pid, struct sample *s)
{
    char path[128], buf[4096];
    memset(s, 0, sizeof *s);
    s->mono_ns = bench_now_ns();
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (bench_stat_ticks(path, &s->proc_ticks, NULL) != 0)
        s->proc_ticks = 0;
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        int tid = (int)strtol(e->d_name, NULL, 10);
        struct thread_sample t = {.tid = tid};
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, tid);
        if (bench_stat_ticks(path, &t.ticks, NULL) != 0)
            continue; /* the thread just ended */
        snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, tid);
        if (bench_read_file(path, buf, sizeof buf) > 0)
            t.ctxsw = bench_status_value(buf, "\nvoluntary_ctxt_switches:") +
                      bench_status_value(buf, "\nnonvoluntary_ctxt_switches:");
        snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, tid);
        if (bench_read_file(path, buf, sizeof buf) > 0)
            t.run_ns = strtoull(buf, NULL, 10);
        /* json_run writes the name unescaped: it comes in safe bytes. */
        bench_thread_name(pid, tid, t.name, sizeof t.name);
        s->sum_ctxsw += t.ctxsw;
        s->sum_run_ns += t.run_ns;
        if (s->n < MAX_THREADS)
            s->t[s->n++] = t;
        else
            s->overflow++;
    }
    closedir(d);
}

/* The config of one run: the collectors in mask (bit i: collectors[i]);
 * 0 is the bare agent. */
static void write_config(const char *path, const char *data_dir, unsigned mask)
{
    char plugins[4096] = "";
    size_t len = 0;
    for (size_t i = 0; i < N_COLLECTORS; i++) {
        if (!(mask & (1u << i)))
            continue;
        int n =
            snprintf(plugins + len, sizeof plugins - len,
                     "%s\n    \"%s\": {\"enabled\": true, \"file\": \"%s\", \"config\": %s}",
                     len ? "," : "", collectors[i].name, collectors[i].so, collectors[i].config);
        if (n < 0 || (size_t)n >= sizeof plugins - len) {
            fprintf(stderr, "bench_collectors_idle: config too long\n");
            exit(1);
        }
        len += (size_t)n;
    }
    char text[8192];
    int n = snprintf(text, sizeof text,
                     "{\n  \"agent\": {\"data_dir\": \"%s\", \"plugin_dir\": \"%s/plugins\", "
                     "\"log_level\": \"info\"},\n"
                     "  \"output\": {\"file\": \"events.ndjson\", \"stdout\": false},\n"
                     "  \"plugins\": {%s\n  }\n}\n",
                     data_dir, paths.build, plugins);
    if (n < 0 || (size_t)n >= sizeof text || bench_write_text(path, text, 0666) != 0)
        bench_die(path);
}

/* Counts the events of the NDJSON file: out[i] those whose event.category
 * starts with categories[i], out[N_CATEGORIES] all of them. */
static void count_events(const char *path, uint64_t out[N_CATEGORIES + 1])
{
    memset(out, 0, sizeof(uint64_t) * (N_CATEGORIES + 1));
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        out[N_CATEGORIES]++;
        const char *c = strstr(line, "\"event.category\":[\"");
        if (!c)
            continue;
        c += strlen("\"event.category\":[\"");
        for (int i = 0; i < N_CATEGORIES; i++) {
            size_t n = strlen(categories[i]);
            if (strncmp(c, categories[i], n) == 0 && c[n] == '"')
                out[i]++;
        }
    }
    free(line);
    fclose(f);
}

static void run_once(struct run *r, const char *label, unsigned mask, int measure_s)
{
    char cfg[PATH_MAX + 32], data[PATH_MAX + 32], out[PATH_MAX + 32], err[PATH_MAX + 32];
    memset(r, 0, sizeof *r);
    r->label = label;
    r->exit_status = -1;
    snprintf(cfg, sizeof cfg, "%s/%s.json", tmp_dir, label);
    snprintf(data, sizeof data, "%s/data-%s", tmp_dir, label);
    snprintf(out, sizeof out, "%s/%s.out", tmp_dir, label);
    snprintf(err, sizeof err, "%s/%s.err", tmp_dir, label);
    write_config(cfg, data, mask);
    for (size_t i = 0; i < N_COLLECTORS; i++)
        r->plugins_enabled += (mask >> i) & 1u;

    char *argv[] = {paths.rampartd, "--foreground", "--config", cfg, NULL};
    pid_t pid = bench_spawn(argv, out, err);
    if (pid < 0)
        bench_die("fork");

    /* Started: the agent logs "rampartd <version> started" once every plugin
     * ran its start. */
    int started = 0;
    for (int i = 0; i < START_TIMEOUT_S * 20 && !started; i++) {
        if (waitpid(pid, &(int){0}, WNOHANG) == pid) {
            snprintf(r->error, sizeof r->error, "rampartd exited at start; see its log");
            pid = -1;
            break;
        }
        started = bench_file_contains(err, " started: pid ");
        if (!started)
            bench_sleep_ms(50);
    }
    if (pid > 0 && !started) {
        snprintf(r->error, sizeof r->error,
                 "not measured: rampartd did not start within %d s (the machine was too busy)",
                 START_TIMEOUT_S);
        r->slow = 1;
    }
    if (started) {
        for (size_t i = 0; i < N_COLLECTORS; i++) {
            char line[64];
            snprintf(line, sizeof line, "plugin %s: running", collectors[i].name);
            if ((mask & (1u << i)) && bench_file_contains(err, line)) {
                r->plugins_running++;
                size_t l = strlen(r->running);
                snprintf(r->running + l, sizeof r->running - l, "%s%s", l ? "," : "",
                         collectors[i].name);
            }
        }
        bench_sleep_ms(SETTLE_S * 1000);
        bench_loadavg(r->load_before);
        static struct sample a, b;
        char events[PATH_MAX + 64];
        snprintf(events, sizeof events, "%s/events.ndjson", data);
        uint64_t ev_a[N_CATEGORIES + 1], ev_b[N_CATEGORIES + 1];
        count_events(events, ev_a);
        take_sample(pid, &a);
        bench_sleep_ms((int64_t)measure_s * 1000);
        take_sample(pid, &b);
        /* The sink writes at least once a second: wait for this window's
         * events to reach the file. */
        bench_sleep_ms(1200);
        count_events(events, ev_b);
        for (int i = 0; i <= N_CATEGORIES; i++)
            r->events[i] = ev_b[i] - ev_a[i];
        bench_loadavg(r->load_after);
        if (waitpid(pid, &(int){0}, WNOHANG) == pid) {
            snprintf(r->error, sizeof r->error, "rampartd died during the measurement");
            pid = -1;
        } else {
            double secs = (double)(b.mono_ns - a.mono_ns) / 1e9;
            double tick_s = bench_tick_s();
            r->seconds = secs;
            r->cpu_percent = (double)(b.proc_ticks - a.proc_ticks) * tick_s / secs * 100.0;
            /* Threads that ended in between lose their schedstat (not their
             * stat ticks): a cross-check, not the figure. */
            r->cpu_percent_schedstat =
                b.sum_run_ns >= a.sum_run_ns
                    ? (double)(b.sum_run_ns - a.sum_run_ns) / 1e9 / secs * 100.0
                    : 0;
            uint64_t sw = 0;
            for (int i = 0; i < b.n; i++) {
                const struct thread_sample *tb = &b.t[i], *ta = NULL;
                for (int k = 0; k < a.n; k++)
                    if (a.t[k].tid == tb->tid)
                        ta = &a.t[k];
                uint64_t dsw = tb->ctxsw - (ta ? ta->ctxsw : 0);
                uint64_t dt = tb->ticks - (ta ? ta->ticks : 0);
                sw += dsw;
                r->threads[r->n_threads].tid = tb->tid;
                memcpy(r->threads[r->n_threads].name, tb->name, sizeof tb->name);
                r->threads[r->n_threads].cpu_percent = (double)dt * tick_s / secs * 100.0;
                r->threads[r->n_threads].wakeups_per_s = (double)dsw / secs;
                r->n_threads++;
            }
            r->threads_unlisted = b.overflow;
            r->wakeups_per_s = (double)sw / secs;
            r->ok = 1;
        }
    }
    if (pid > 0) {
        int killed;
        int st = bench_stop_child(pid, STOP_TIMEOUT_S * 1000, &killed);
        r->exit_status = st < 0 ? -1 : st; /* -1: unknown */
        if (killed && r->ok)
            snprintf(r->error, sizeof r->error, "rampartd ignored SIGTERM for %d s",
                     STOP_TIMEOUT_S);
    }
    if (!r->ok || r->error[0]) {
        /* Show why on stderr: the agent's last lines. */
        static char buf[1 << 16];
        if (bench_read_file(err, buf, sizeof buf) > 0) {
            size_t n = strlen(buf);
            fprintf(stderr, "---- %s (%s run)\n%s\n", err, label, n > 2000 ? buf + n - 2000 : buf);
        }
    }
}

static void json_run(bench_json *j, const char *key, const struct run *r, int with_threads)
{
    bench_json_key(j, key);
    bench_json_raw(j,
                   "{\"ok\": %s, \"error\": \"%s\", \"plugins_enabled\": %d, "
                   "\"plugins_running\": %d, \"running\": \"%s\", \"seconds\": %.3f, "
                   "\"cpu_percent\": %.5f, \"cpu_percent_schedstat\": %.5f, "
                   "\"wakeups_per_s\": %.3f, \"load_before\": [%.2f, %.2f, %.2f], "
                   "\"load_after\": [%.2f, %.2f, %.2f], \"exit_status\": %d, "
                   "\"threads_unlisted\": %d,",
                   r->ok ? "true" : "false", r->error, r->plugins_enabled, r->plugins_running,
                   r->running, r->seconds, r->cpu_percent, r->cpu_percent_schedstat,
                   r->wakeups_per_s, r->load_before[0], r->load_before[1], r->load_before[2],
                   r->load_after[0], r->load_after[1], r->load_after[2], r->exit_status,
                   r->threads_unlisted);
    bench_json_raw(j, "\n    \"events\": {\"all\": %llu",
                   (unsigned long long)r->events[N_CATEGORIES]);
    for (int i = 0; i < N_CATEGORIES; i++)
        bench_json_raw(j, ", \"%s\": %llu", categories[i], (unsigned long long)r->events[i]);
    bench_json_raw(j, "}");
    if (!with_threads) {
        bench_json_raw(j, "}");
        return;
    }
    bench_json_raw(j, ",\n    \"threads\": [");
    for (int i = 0; i < r->n_threads; i++)
        bench_json_raw(j,
                       "%s\n      {\"tid\": %d, \"name\": \"%s\", \"cpu_percent\": %.5f, "
                       "\"wakeups_per_s\": %.3f}",
                       i ? "," : "", r->threads[i].tid, r->threads[i].name,
                       r->threads[i].cpu_percent, r->threads[i].wakeups_per_s);
    bench_json_raw(j, "]}");
}

int main(int argc, char **argv)
{
    if (bench_find_build(&paths) != 0)
        return 1;
    if (bench_check_text(paths.build) != 0) {
        fprintf(stderr, "bench_collectors_idle: unusable path %s\n", paths.build);
        return 1;
    }
    if (access(paths.rampartd, X_OK) != 0)
        bench_die(paths.rampartd);

    uint64_t measure_u;
    if (bench_env_u64("RP_BENCH_IDLE_SECONDS", DEFAULT_MEASURE_S, 1, 3600, &measure_u) != 0) {
        fprintf(stderr, "bench_collectors_idle: RP_BENCH_IDLE_SECONDS must be 1..3600\n");
        return 1;
    }
    int measure_s = (int)measure_u;

    if (load_default_configs() != 0)
        return 1;
    char missing[256] = "", present[256] = "", path[PATH_MAX + 64];
    for (size_t i = 0; i < N_COLLECTORS; i++) {
        snprintf(path, sizeof path, "%s/%s", paths.plugins, collectors[i].so);
        collectors[i].present = access(path, R_OK) == 0;
        char *list = collectors[i].present ? present : missing;
        size_t l = strlen(list);
        snprintf(list + l, 256 - l, "%s\"%s\"", l ? ", " : "", collectors[i].so);
    }

    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/rampart-bench-idle.XXXXXX");
    if (!mkdtemp(tmp_dir))
        bench_die("mkdtemp");
    if (bench_check_text(tmp_dir) != 0) {
        fprintf(stderr, "bench_collectors_idle: unusable path %s\n", tmp_dir);
        return 1;
    }

    double load_start[3];
    bench_loadavg(load_start);
    static struct run base, coll, alone[N_COLLECTORS];
    unsigned all = 0;
    for (size_t i = 0; i < N_COLLECTORS; i++)
        all |= collectors[i].present ? 1u << i : 0;
    run_once(&base, "baseline", 0, measure_s);
    run_once(&coll, "collectors", all, measure_s);
    /* Each collector alone, for a quarter of the time: all of them run on
     * the one loop thread, so per-thread figures cannot tell them apart. */
    int alone_s = measure_s / 4 > 2 ? measure_s / 4 : 2;
    for (size_t i = 0; i < N_COLLECTORS; i++) {
        if (!collectors[i].present)
            continue;
        char label[32];
        snprintf(label, sizeof label, "alone-%s", collectors[i].name);
        run_once(&alone[i], label, 1u << i, alone_s);
    }
    bench_rm_tree(tmp_dir);

    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "collectors_idle");
    bench_json_int(&j, "cpus", bench_cpus());
    bench_json_int(&j, "settle_seconds", SETTLE_S);
    bench_json_int(&j, "measure_seconds", measure_s);
    bench_json_key(&j, "load_average_start");
    bench_json_raw(&j, "[%.2f, %.2f, %.2f]", load_start[0], load_start[1], load_start[2]);
    bench_json_key(&j, "present");
    bench_json_raw(&j, "[%s]", present);
    bench_json_key(&j, "missing");
    bench_json_raw(&j, "[%s]", missing);
    bench_json_str(&j, "collector_config_source", DEFAULT_CONFIG);
    bench_json_key(&j, "collector_configs");
    bench_json_raw(&j, "{");
    for (size_t i = 0; i < N_COLLECTORS; i++)
        bench_json_raw(&j, "%s\"%s\": %s", i ? ", " : "", collectors[i].name, collectors[i].config);
    bench_json_raw(&j, "}");
    bench_json_num(&j, "cpu_percent", coll.cpu_percent);
    bench_json_num(&j, "wakeups_per_s", coll.wakeups_per_s);
    bench_json_num(&j, "baseline_cpu_percent", base.cpu_percent);
    bench_json_num(&j, "baseline_wakeups_per_s", base.wakeups_per_s);
    bench_json_num(&j, "cpu_ratio_to_baseline",
                   base.cpu_percent > 0 ? coll.cpu_percent / base.cpu_percent : -1);
    bench_json_num(&j, "wakeups_ratio_to_baseline",
                   base.wakeups_per_s > 0 ? coll.wakeups_per_s / base.wakeups_per_s : -1);
    bench_json_num(&j, "goal_cpu_percent", GOAL_CPU_PERCENT);
    bench_json_key(&j, "goal_met");
    int met = coll.ok && coll.cpu_percent <= GOAL_CPU_PERCENT;
    bench_json_raw(&j, "%s", coll.slow ? "null" : met ? "true" : "false");
    bench_json_str(&j, "cpu_resolution_note",
                   "cpu_percent is from clock ticks (1/CLK_TCK s); cpu_percent_schedstat "
                   "is the threads' run time in ns");
    bench_json_int(&j, "alone_measure_seconds", alone_s);
    json_run(&j, "baseline", &base, 1);
    json_run(&j, "collectors", &coll, 1);
    for (size_t i = 0; i < N_COLLECTORS; i++) {
        if (!collectors[i].present)
            continue;
        char key[32];
        snprintf(key, sizeof key, "alone_%s", collectors[i].name);
        json_run(&j, key, &alone[i], 0);
    }
    int rc = bench_json_finish(&j, argc > 1 ? argv[1] : NULL);
    return rc != 0 || (!base.ok && !base.slow) || (!coll.ok && !coll.slow) ? 1 : 0;
}
