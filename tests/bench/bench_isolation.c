/*
 * tests/bench/bench_isolation.c - what isolation costs per event: the same
 * trivial detector (tests/bench/plugins/iso_detector.c: subscribes to a
 * topic, reads two fields, counts) loaded by the real host in-process and
 * with plugins.<name>.isolation "process" (rampart-sandbox, shared-memory
 * rings; runtime/isolate.h), fed N events through the bus.
 *
 * Usage: bench_isolation [out.json]. Prints one JSON object.
 * RP_BENCH_EVENTS sets the events per run (default 1,000,000; a smaller
 * value is a trial of the bench and leaves the goal unjudged, "met": null).
 *
 * Methodology (also in the JSON "note"):
 * - cpu_ns_per_event: CPU time (user + system) of the whole agent per
 *   event: this process (publisher, bus, host, the proxy) plus, isolated,
 *   the sandbox (/proc/<pid>/stat), from the first publish until the
 *   detector counted the last event; the median of RUNS runs of each mode,
 *   runs of the two modes alternating, each on a host set up anew and after
 *   a warm-up of events_per_run/8.
 * - events_per_s: events over the wall time of the same span.
 * - The publisher keeps at most WINDOW events not yet counted by the
 *   detector (under the bus queue), so nothing is dropped, and naps (not
 *   spins) while the window is full, so that its waiting is not counted as
 *   the agent's CPU; a run that does not end in time leaves its figure
 *   missing with the reason.
 * - ratio: isolated over in-process cpu_ns_per_event; the goal is <= 2.
 */
#include "bench_common.h"

#include "agent.h"
#include "config.h"
#include "runtime/bus.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/loop.h"
#include "runtime/topic.h"
#include "runtime/workers.h"

#include <dirent.h>
#include <jansson.h>
#include <sys/resource.h>

#define RUNS        3
#define EVENTS      (1000u * 1000)
#define WINDOW      2048u
#define BATCH       256u /* the detector's counter step (iso_detector.c) */
#define GOAL_RATIO  2.0
#define RUN_SLACK_S 30
#define MIN_RATE    10000u

struct runtime {
    rp__bus *bus;
    rp__loop *loop;
    rp__workers *workers;
    rp__host *host;
    rp__config *cfg;
    json_t *doc;
};

static char tmpdir[64];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", RP_BENCH_NAME);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (tmpdir[0])
        bench_rm_tree(tmpdir);
    exit(1);
}

static void runtime_up(struct runtime *rt, int isolated)
{
    memset(rt, 0, sizeof *rt);
    rt->doc =
        json_pack("{s:{s:s, s:s}, s:{s:{s:b, s:s, s:s}}}", "agent", "data_dir", tmpdir,
                  "plugin_dir", RP_BENCH_PLUGIN_DIR, "plugins", "detector", "enabled", 1, "file",
                  "bench_iso_detector.so", "isolation", isolated ? "process" : "in_process");
    char err[2048];
    if (!rt->doc || rp__config_from_docs(rt->doc, "bench_isolation.json", NULL, NULL, NULL, tmpdir,
                                         &rt->cfg, err, sizeof err) != 0)
        die("configuration: %s", rt->doc ? err : "out of memory");
    rp__bus_opts bo;
    rp__bus_opts_init(&bo);
    bo.max_bytes = rt->cfg->bus_max_bytes;
    if (rp__bus_create(&bo, &rt->bus) != 0 || rp__loop_create(NULL, &rt->loop) != 0)
        die("cannot create the bus or the loop");
    rp__host_opts ho;
    rp__agent_host_opts(rt->cfg, &ho);
    ho.bus = rt->bus;
    ho.loop = rt->loop;
    int rc;
    if ((rc = rp__host_create(&ho, &rt->host)) != 0)
        die("rp__host_create: %s", rp_strerror(rc));
    if ((rc = rp__host_load(rt->host, err, sizeof err)) != 0)
        die("loading the plugin: %s: %s", rp_strerror(rc), err);
    rp__workers_opts wo = {.hooks = rp__host_hooks()};
    if (rp__workers_create(&wo, rt->loop, &rt->workers) != 0 || rp__loop_start(rt->loop) != 0 ||
        rp__bus_start(rt->bus) != 0)
        die("cannot start the workers, the loop or the bus");
    if ((rc = rp__host_start(rt->host, rt->workers)) != 0)
        die("rp__host_start: %s", rp_strerror(rc));
    rp__plugin_info info;
    if (rp__host_plugin_info(rt->host, 0, &info) != 0 || info.state != RP__PLUGIN_RUNNING)
        die("the detector is not running: %s", info.error ? info.error : "");
}

static void runtime_down(struct runtime *rt)
{
    rp__host_stop(rt->host);
    rp__workers_destroy(rt->workers);
    rp__bus_stop(rt->bus);
    rp__loop_stop(rt->loop);
    rp__host_destroy(rt->host);
    rp__bus_destroy(rt->bus);
    rp__loop_destroy(rt->loop);
    rp__config_destroy(rt->cfg);
    json_decref(rt->doc);
}

static uint64_t seen(struct runtime *rt)
{
    const char *name;
    uint64_t v = 0;
    if (rp__host_plugin_counter(rt->host, 0, 0, &name, &v) != 0)
        return 0;
    return v;
}

/* CPU time of this process and of its sandbox children (ns). */
static int64_t cpu_self_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static int64_t cpu_children_ns(void)
{
    char path[128], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)getpid(), (int)getpid());
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int64_t total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    int pid;
    while (fscanf(f, "%d", &pid) == 1) {
        snprintf(path, sizeof path, "/proc/%d/stat", pid);
        FILE *s = fopen(path, "r");
        if (!s)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, s);
        fclose(s);
        buf[n] = '\0';
        /* Fields after the command's closing parenthesis: utime is the 14th
         * field of the line, the 12th after it. */
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (p &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2)
            total += (int64_t)(ut + st) * (1000000000 / hz);
    }
    fclose(f);
    return total;
}

struct result {
    double cpu_ns_per_event, events_per_s;
};

/* Publishes n events; 0 with the figures, -1 when the run did not end. */
static int run_once(struct runtime *rt, uint64_t n, struct result *res, char *why, size_t whylen)
{
    uint32_t topic;
    rp_field_id f_pid = rp__field_lookup("process.pid", 11);
    rp_field_id f_name = rp__field_lookup("process.name", 12);
    rp_field_id f_user = rp__field_lookup("user.name", 9);
    if (rp__topic_intern("bench.isolation", 15, &topic) != 0 || !f_pid || !f_name || !f_user)
        die("cannot intern the topic or find the fields");
    uint64_t base = seen(rt);
    int64_t wait_ns = ((int64_t)RUN_SLACK_S + (int64_t)(n / MIN_RATE)) * 1000000000;
    int64_t t0 = bench_now_ns(), deadline = t0 + wait_ns;
    int64_t c0 = cpu_self_ns() + cpu_children_ns();
    for (uint64_t i = 0; i < n; i++) {
        while (i - (seen(rt) - base) > WINDOW) {
            if (bench_now_ns() > deadline)
                goto late;
            /* A nap, not a spin: the publisher's wait is the bench's, and
             * its CPU would count as the agent's. */
            struct timespec nap = {0, 50 * 1000};
            nanosleep(&nap, NULL);
        }
        rp_event *ev;
        if (rp__event_create(topic, "bench.isolation", 0, &ev) != 0 ||
            rp__event_set_i64(ev, f_pid, (int64_t)i) != 0 ||
            rp__event_set_str(ev, f_name, "bash", 4) != 0 ||
            rp__event_set_str(ev, f_user, "alice", 5) != 0)
            die("cannot make an event");
        int rc = rp__bus_publish(rt->bus, ev);
        if (rc != 0)
            die("rp__bus_publish: %s", rp_strerror(rc));
    }
    while (seen(rt) - base < n) {
        if (bench_now_ns() > deadline)
            goto late;
        struct timespec nap = {0, 50 * 1000};
        nanosleep(&nap, NULL);
    }
    int64_t t1 = bench_now_ns();
    int64_t c1 = cpu_self_ns() + cpu_children_ns();
    res->cpu_ns_per_event = (double)(c1 - c0) / (double)n;
    res->events_per_s = (double)n * 1e9 / (double)(t1 - t0);
    return 0;
late:
    snprintf(why, whylen, "a run of %llu events did not end within %lld s (%llu counted)",
             (unsigned long long)n, (long long)(wait_ns / 1000000000),
             (unsigned long long)(seen(rt) - base));
    return -1;
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    double load_start[3], load_end[3];
    bench_loadavg(load_start);
    uint64_t events;
    if (bench_env_u64("RP_BENCH_EVENTS", EVENTS, 8 * WINDOW, 1000000000ull, &events) != 0) {
        fprintf(stderr, "%s: RP_BENCH_EVENTS: %u..1000000000\n", RP_BENCH_NAME, 8 * WINDOW);
        return 1;
    }
    events -= events % BATCH;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rp-bench-iso-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        tmpdir[0] = '\0';
        die("mkdtemp: %s", strerror(errno));
    }
    struct result r[2][RUNS];
    int nr[2] = {0, 0};
    char missing[512] = "";
    for (int run = 0; run < RUNS && !missing[0]; run++) {
        for (int iso = 0; iso < 2 && !missing[0]; iso++) {
            struct runtime rt;
            struct result warm;
            runtime_up(&rt, iso);
            if (run_once(&rt, events / 8 - (events / 8) % BATCH, &warm, missing, sizeof missing) ==
                    0 &&
                run_once(&rt, events, &r[iso][nr[iso]], missing, sizeof missing) == 0)
                nr[iso]++;
            runtime_down(&rt);
        }
    }
    bench_rm_tree(tmpdir);
    bench_loadavg(load_end);

    double med[2][2] = {{0, 0}, {0, 0}};
    for (int iso = 0; iso < 2; iso++) {
        double v[RUNS];
        for (int k = 0; k < nr[iso]; k++)
            v[k] = r[iso][k].cpu_ns_per_event;
        med[iso][0] = nr[iso] ? bench_median(v, (size_t)nr[iso]) : 0;
        for (int k = 0; k < nr[iso]; k++)
            v[k] = r[iso][k].events_per_s;
        med[iso][1] = nr[iso] ? bench_median(v, (size_t)nr[iso]) : 0;
    }
    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "name", "isolation");
    bench_json_str(&j, "unit", "CPU ns per event");
    const char *mode[2] = {"in_process", "isolated"};
    for (int iso = 0; iso < 2; iso++) {
        char key[64];
        double cpu[RUNS], rate[RUNS];
        for (int k = 0; k < nr[iso]; k++) {
            cpu[k] = r[iso][k].cpu_ns_per_event;
            rate[k] = r[iso][k].events_per_s;
        }
        snprintf(key, sizeof key, "%s_cpu_ns_per_event", mode[iso]);
        if (nr[iso])
            bench_json_num(&j, key, med[iso][0]);
        else {
            bench_json_key(&j, key);
            bench_json_raw(&j, "null");
        }
        snprintf(key, sizeof key, "%s_cpu_ns_per_event_runs", mode[iso]);
        bench_json_array(&j, key, cpu, (size_t)nr[iso]);
        snprintf(key, sizeof key, "%s_events_per_s", mode[iso]);
        if (nr[iso])
            bench_json_num(&j, key, med[iso][1]);
        else {
            bench_json_key(&j, key);
            bench_json_raw(&j, "null");
        }
        snprintf(key, sizeof key, "%s_events_per_s_runs", mode[iso]);
        bench_json_array(&j, key, rate, (size_t)nr[iso]);
    }
    int both = nr[0] == RUNS && nr[1] == RUNS;
    double ratio = both && med[0][0] > 0 ? med[1][0] / med[0][0] : 0;
    bench_json_key(&j, "ratio");
    if (both)
        bench_json_raw(&j, "%.3f", ratio);
    else
        bench_json_raw(&j, "null");
    bench_json_num(&j, "goal_ratio", GOAL_RATIO);
    /* events was cut to whole batches: the default run is judged. */
    int judged = both && events >= EVENTS - EVENTS % BATCH;
    bench_json_key(&j, "met");
    bench_json_raw(&j, "%s", judged ? (ratio <= GOAL_RATIO ? "true" : "false") : "null");
    if (!judged)
        bench_json_str(&j, "met_why_null",
                       !both ? "not every run ended (see missing)"
                             : "events_per_run is under the default: a trial, not a measurement");
    bench_json_int(&j, "runs", RUNS);
    bench_json_int(&j, "events_per_run", (long long)events);
    bench_json_int(&j, "window", WINDOW);
    bench_json_int(&j, "cpus", bench_cpus());
    bench_json_array(&j, "load_average_start", load_start, 3);
    bench_json_array(&j, "load_average_end", load_end, 3);
    if (missing[0])
        bench_json_str(&j, "missing", missing);
    else {
        bench_json_key(&j, "missing");
        bench_json_raw(&j, "null");
    }
    bench_json_str(&j, "event_desc",
                   "bench.isolation events made in the bench (event_create stamps, process.pid, "
                   "process.name, user.name) and published on the bus");
    bench_json_str(&j, "detector_desc",
                   "tests/bench/plugins/iso_detector.c: reads process.pid and process.name, "
                   "counts in batches of 256");
    bench_json_str(&j, "note",
                   "medians of runs; cpu_ns_per_event is the CPU time of the whole agent "
                   "(this process: publisher, bus, host, proxy; plus the sandbox when isolated) "
                   "from the first publish until the detector counted the last event, over the "
                   "events; the two modes alternate, each on a host set up anew, after a "
                   "warm-up of events_per_run/8; at most 'window' events in flight, the "
                   "publisher napping 50 us while the window is full");
    return bench_json_finish(&j, out);
}
