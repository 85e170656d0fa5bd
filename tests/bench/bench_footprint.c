/*
 * tests/bench/bench_footprint.c - the agent's memory: at idle, and at the
 * peak of a burst (issue 16, item 5a).
 *
 *   idle_file:  rampartd with the plugins the committed config/rampart.json
 *               enables (the four kernel-fed collectors, no detector, so no
 *               rules), that file's plugin configs, events to a local file
 *               (the committed default). After SETTLE_S seconds, VmRSS,
 *               RssAnon and RssFile of the worker (the pid status.json names:
 *               under a supervisor that is the worker, not the supervisor)
 *               are sampled once a second for RP_BENCH_IDLE_SECONDS (default
 *               10); the medians are reported, with the largest mappings.
 *               Goal: RSS <= 8 MB.
 *   idle_https: the same with an HTTPS output (to 127.0.0.1:9, where nothing
 *               listens: the uploader is set up and retries), so libcurl
 *               and its TLS libraries are loaded. Reported, no goal: it says
 *               what an uploading agent costs on top.
 *   burst:      collector_synthetic publishing RP_BENCH_EVENTS (default
 *               2,000,000) as fast as it can into the same HTTPS output with
 *               gzip, so the sink (encoding, compressing, spooling) is
 *               slower than the producer and the bus fills to its byte cap.
 *               The worker's VmHWM when the sink has caught up (or after
 *               BURST_MAX_S) against agent.max_rss_bytes (the default,
 *               256 MiB) and agent.bus_max_bytes (64 MiB). Goal: the peak
 *               stays under the ceiling.
 *
 * The load averages are printed with the figures: the machine is shared.
 * Every wait is bounded; the agent is stopped with SIGTERM (SIGKILL after
 * 15 s).
 *
 *   bench_footprint OUT.json
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <jansson.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef RP_SOURCE_DIR
#error "RP_SOURCE_DIR must name the source folder"
#endif

#define DEFAULT_CONFIG  RP_SOURCE_DIR "/config/rampart.json"
#define SETTLE_S        5
#define START_TIMEOUT_S 30
#define BURST_MAX_S     120
#define GOAL_IDLE_BYTES (8u * 1000u * 1000u)

struct run {
    char dir[PATH_MAX];
    pid_t pid;  /* what we started (the supervisor, if there is one) */
    pid_t wpid; /* the worker: the pid status.json names */
};

static void die_run(struct run *r, const char *what)
{
    if (r->pid > 0)
        kill(r->pid, SIGKILL);
    bench_die(what);
}

/* Writes the config: the committed file's enabled plugins and their
 * configs, with the bench's folders and output. url NULL: a local file. */
static void write_config(struct run *r, const struct bench_paths *bp, const char *url,
                         uint64_t burst_events)
{
    json_error_t jerr;
    json_t *base = json_load_file(DEFAULT_CONFIG, 0, &jerr);
    if (!base)
        bench_die("cannot read config/rampart.json");
    json_t *plugins = json_object();
    const char *name;
    json_t *p;
    json_object_foreach(json_object_get(base, "plugins"), name, p)
    {
        if (burst_events == 0 && json_is_true(json_object_get(p, "enabled")))
            json_object_set(plugins, name, p);
    }
    if (burst_events) {
        json_t *syn =
            json_pack("{s:b, s:s, s:{s:I, s:i}}", "enabled", 1, "file", "collector_synthetic.so",
                      "config", "count", (json_int_t)burst_events, "rate", 0);
        json_object_set_new(plugins, "synthetic", syn);
    }
    char data[PATH_MAX + 8];
    snprintf(data, sizeof data, "%s/data", r->dir);
    json_t *output =
        url ? json_pack("{s:s, s:b, s:s, s:b}", "file", "", "stdout", 0, "url", url, "gzip", 1)
            : json_pack("{s:s, s:b}", "file", "events.ndjson", "stdout", 0);
    json_t *cfg = json_pack("{s:{s:s, s:s, s:s, s:i}, s:o, s:o, s:O}", "agent", "data_dir", data,
                            "plugin_dir", bp->plugins, "log_level", "info", "health_interval_ms",
                            500, "output", output, "plugins", plugins, "collectors",
                            json_object_get(base, "collectors"));
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/agent.json", r->dir);
    if (!cfg || json_dump_file(cfg, path, JSON_INDENT(2)) != 0)
        bench_die("cannot write the config");
    json_decref(cfg);
    json_decref(base);
}

static json_t *read_status(const struct run *r)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data/status.json", r->dir);
    return json_load_file(path, 0, NULL);
}

static uint64_t jget_u(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static void start(struct run *r, const struct bench_paths *bp, const char *label)
{
    char tmpl[] = "/tmp/rampart-footprint.XXXXXX";
    if (!mkdtemp(tmpl))
        bench_die("mkdtemp");
    snprintf(r->dir, sizeof r->dir, "%s", tmpl);
    (void)bp;
    (void)label;
}

static void launch(struct run *r, const struct bench_paths *bp)
{
    char cfg[PATH_MAX + 16], err[PATH_MAX + 16];
    snprintf(cfg, sizeof cfg, "%s/agent.json", r->dir);
    snprintf(err, sizeof err, "%s/agent.err", r->dir);
    char *argv[] = {(char *)bp->rampartd, "--foreground", "--config", cfg, NULL};
    r->pid = bench_spawn(argv, NULL, err);
    if (r->pid < 0)
        bench_die("cannot start rampartd");
    int64_t deadline = bench_now_ns() + (int64_t)START_TIMEOUT_S * 1000000000;
    while (bench_now_ns() < deadline) {
        json_t *st = read_status(r);
        uint64_t pid = jget_u(st, "pid", NULL);
        json_decref(st);
        if (pid) {
            r->wpid = (pid_t)pid;
            return;
        }
        if (bench_wait_pid(r->pid, 100) == 0)
            die_run(r, "rampartd exited while starting (see its log)");
    }
    die_run(r, "rampartd did not write status.json in time");
}

static void stop(struct run *r)
{
    int killed = 0;
    if (r->pid > 0)
        bench_stop_child(r->pid, 15000, &killed);
    r->pid = 0;
    bench_rm_tree(r->dir);
}

/* One "Key:  N kB" line of the worker's status, in bytes. */
static uint64_t kb(const struct run *r, const char *key)
{
    return bench_status_kb(r->wpid, key);
}

/* The n largest mappings by resident size, as {"name": bytes}. */
static json_t *largest_mappings(pid_t pid, int n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
    FILE *f = fopen(path, "r");
    json_t *sums = json_object();
    if (!f)
        return sums;
    char line[1024], name[512] = "[anon]";
    while (fgets(line, sizeof line, f)) {
        unsigned long long kbv;
        if (sscanf(line, "Rss: %llu kB", &kbv) == 1) {
            json_t *v = json_object_get(sums, name);
            json_int_t cur = v ? json_integer_value(v) : 0;
            json_object_set_new(sums, name, json_integer(cur + (json_int_t)kbv * 1024));
        } else {
            unsigned long lo, hi;
            char perms[8];
            int off = 0;
            /* A mapping's line: "lo-hi perms offset dev inode [path]". */
            if (sscanf(line, "%lx-%lx %7s %*s %*s %*s%n", &lo, &hi, perms, &off) != 3 || off == 0)
                continue;
            const char *p = line + off;
            while (*p == ' ')
                p++;
            size_t len = strcspn(p, "\n");
            if (len == 0 || len >= sizeof name)
                snprintf(name, sizeof name, "[anon]");
            else {
                memcpy(name, p, len);
                name[len] = '\0';
            }
        }
    }
    fclose(f);
    /* Keep the n largest. */
    json_t *out = json_object();
    for (int k = 0; k < n; k++) {
        const char *best = NULL, *key;
        json_int_t bv = -1;
        json_t *v;
        json_object_foreach(sums, key, v)
        {
            if (!json_object_get(out, key) && json_integer_value(v) > bv) {
                bv = json_integer_value(v);
                best = key;
            }
        }
        if (!best)
            break;
        json_object_set_new(out, best, json_integer(bv));
    }
    json_decref(sums);
    return out;
}

static json_t *idle(const struct bench_paths *bp, const char *url, long seconds, double *rss_med)
{
    struct run r = {0};
    start(&r, bp, url ? "idle_https" : "idle_file");
    write_config(&r, bp, url, 0);
    launch(&r, bp);
    bench_sleep_ms(SETTLE_S * 1000);
    double rss[600], anon[600], file[600];
    long n = seconds < 600 ? seconds : 600;
    for (long i = 0; i < n; i++) {
        rss[i] = (double)kb(&r, "VmRSS:");
        anon[i] = (double)kb(&r, "RssAnon:");
        file[i] = (double)kb(&r, "RssFile:");
        bench_sleep_ms(1000);
    }
    json_t *o = json_object();
    *rss_med = bench_median(rss, (size_t)n);
    json_object_set_new(o, "rss_bytes_median", json_integer((json_int_t)*rss_med));
    json_object_set_new(o, "rss_anon_bytes_median",
                        json_integer((json_int_t)bench_median(anon, (size_t)n)));
    json_object_set_new(o, "rss_file_bytes_median",
                        json_integer((json_int_t)bench_median(file, (size_t)n)));
    json_object_set_new(o, "samples", json_integer(n));
    json_object_set_new(o, "threads",
                        json_integer((json_int_t)bench_status_kb(r.wpid, "Threads:") / 1024));
    json_object_set_new(o, "largest_mappings", largest_mappings(r.wpid, 8));
    json_object_set_new(o, "supervised", json_boolean(r.wpid != r.pid));
    fprintf(stderr, "%s: %s: RSS %.2f MB (anon %.2f, file %.2f)\n", RP_BENCH_NAME,
            url ? "idle_https" : "idle_file", *rss_med / 1e6, bench_median(anon, (size_t)n) / 1e6,
            bench_median(file, (size_t)n) / 1e6);
    stop(&r);
    return o;
}

static json_t *burst(const struct bench_paths *bp, uint64_t events, int *met)
{
    struct run r = {0};
    start(&r, bp, "burst");
    write_config(&r, bp, "https://127.0.0.1:9/", events);
    launch(&r, bp);
    int64_t t0 = bench_now_ns(), deadline = t0 + (int64_t)BURST_MAX_S * 1000000000;
    uint64_t published = 0, ceiling = 0, bus_cap = 0, sink = 0, refused = 0, episodes = 0;
    int done = 0;
    while (bench_now_ns() < deadline) {
        json_t *st = read_status(&r);
        published = jget_u(json_object_get(st, "plugins"), "synthetic", "published");
        ceiling = jget_u(st, "memory", "max_rss_bytes");
        refused = jget_u(st, "memory", "refused");
        episodes = jget_u(st, "bus", "full_episodes");
        bus_cap = jget_u(st, "bus", "max_bytes");
        uint64_t queued = jget_u(st, "bus", "queued_bytes");
        sink = jget_u(st, "sink", "events");
        json_decref(st);
        if (published >= events && queued == 0) {
            done = 1;
            break;
        }
        if (bench_wait_pid(r.pid, 200) == 0)
            die_run(&r, "rampartd died during the burst");
    }
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    uint64_t hwm = kb(&r, "VmHWM:");
    json_t *o = json_object();
    json_object_set_new(o, "events", json_integer((json_int_t)events));
    json_object_set_new(o, "published", json_integer((json_int_t)published));
    json_object_set_new(o, "sink_events", json_integer((json_int_t)sink));
    json_object_set_new(o, "finished", json_boolean(done));
    json_object_set_new(o, "seconds", json_real(secs));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)hwm));
    json_object_set_new(o, "max_rss_bytes", json_integer((json_int_t)ceiling));
    json_object_set_new(o, "bus_max_bytes", json_integer((json_int_t)bus_cap));
    json_object_set_new(o, "bus_full_episodes", json_integer((json_int_t)episodes));
    json_object_set_new(o, "ceiling_refused", json_integer((json_int_t)refused));
    *met = ceiling > 0 && hwm <= ceiling;
    json_object_set_new(o, "goal_met", json_boolean(*met));
    fprintf(stderr,
            "%s: burst: peak RSS %.1f MB (ceiling %.1f MB, bus cap %.1f MB), %s in %.1f s\n",
            RP_BENCH_NAME, (double)hwm / 1e6, (double)ceiling / 1e6, (double)bus_cap / 1e6,
            done ? "caught up" : "not caught up", secs);
    stop(&r);
    return o;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.json\n", argv[0]);
        return 64;
    }
    struct bench_paths bp;
    if (bench_find_build(&bp) != 0)
        return 1;
    uint64_t idle_s = 10, events = 2000000;
    if (bench_env_u64("RP_BENCH_IDLE_SECONDS", 10, 1, 600, &idle_s) != 0 ||
        bench_env_u64("RP_BENCH_EVENTS", 2000000, 1000, 100000000, &events) != 0)
        bench_die("bad RP_BENCH_IDLE_SECONDS or RP_BENCH_EVENTS");
    double load_before[3], load_after[3];
    bench_loadavg(load_before);
    double rss_file = 0, rss_https = 0;
    json_t *out = json_object();
    json_object_set_new(out, "bench", json_string(RP_BENCH_NAME));
    json_object_set_new(out, "idle_file", idle(&bp, NULL, (long)idle_s, &rss_file));
    json_object_set_new(out, "idle_https",
                        idle(&bp, "https://127.0.0.1:9/", (long)idle_s, &rss_https));
    int burst_met = 0;
    json_object_set_new(out, "burst", burst(&bp, (uint64_t)events, &burst_met));
    bench_loadavg(load_after);
    json_object_set_new(out, "goal_idle_rss_bytes", json_integer(GOAL_IDLE_BYTES));
    json_object_set_new(out, "idle_goal_met", json_boolean(rss_file <= GOAL_IDLE_BYTES));
    json_object_set_new(out, "burst_goal_met", json_boolean(burst_met));
    json_object_set_new(out, "loadavg_before",
                        json_pack("[f,f,f]", load_before[0], load_before[1], load_before[2]));
    json_object_set_new(out, "loadavg_after",
                        json_pack("[f,f,f]", load_after[0], load_after[1], load_after[2]));
    char *text = json_dumps(out, JSON_INDENT(2));
    if (!text || bench_write_text(argv[1], text, 0644) != 0)
        bench_die("cannot write the result");
    puts(text);
    free(text);
    json_decref(out);
    return 0;
}
