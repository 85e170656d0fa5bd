/*
 * tests/bench/bench_pipeline_upload.c - the whole output pipeline of the real
 * agent: collector_synthetic -> bus -> sink (NDJSON, gzip) -> spool -> HTTPS
 * upload, sustained events/s with zero loss, against the real backend of the
 * end-to-end tests (tests/e2e/backend/backend.sh, started and stopped here).
 *
 *   discard:    N events (RP_BENCH_EVENTS, default 2,000,000) to nginx's
 *               discarding port (TLS, reads the body, answers 200): the agent
 *               alone. Goal: >= 250,000 events/s on the 2-core machine,
 *               both as a burst (the plugin as fast as it goes) and paced (a
 *               steady RP_BENCH_PACED_RATE, default the goal rate, for 8 s,
 *               kept up with to 98 %): met only when both are.
 *   clickhouse: N2 events (RP_BENCH_CH_EVENTS, default 300,000) to nginx's
 *               Bearer port in front of ClickHouse (format clickhouse), against
 *               curl POSTing the same events, pre-encoded and pre-compressed
 *               (1000-event batches, gzip level 1 with libdeflate like the
 *               sink), one request after another on one kept-alive connection,
 *               with the same token and headers. curl runs before and after
 *               the agent and the baseline is their mean, so both see the same
 *               machine. Goal: agent / curl >= 0.8. Run against the plain
 *               MergeTree table and, unless RP_BENCH_CH_BUFFER=0, again
 *               against a backend in Buffer mode (RAMPART_E2E_CH_BUFFER=1),
 *               where ClickHouse itself is no longer the bottleneck.
 *
 * The events for curl come from one run of the agent in local-file mode with
 * the same synthetic config: the exec lines of its NDJSON file, cut into
 * batches of 1000.
 *
 * Timing: from just before the agent's fork to the time status.json (rewritten
 * every 100 ms, agent.health_interval_ms) first shows every synthetic event
 * delivered: after a snapshot in which the plugin had published all N, a later
 * one in which the sink had encoded everything the bus had published (A
 * events), then the first one with upload.delivered_events >= A. The spool and
 * the uploader keep the sink's order, so delivered >= A means each of the N
 * events was answered 2xx. The time taken is that snapshot's file mtime, so
 * polling adds nothing; the resolution is the 100 ms health interval. Zero
 * loss: sink.dropped_events, bus.dropped, sink.encode_errors,
 * spool.dropped_full_events and upload.dead_events all 0, and every one of
 * the N synthetic events delivered (and for ClickHouse, distinct event.id of
 * the exec rows == N2). upload.delivered_events also counts the agent's own
 * events (an agent.health event every 100 ms): the synthetic events among
 * them are counted as the sink's count A less the agent's own events
 * published by then (bus.published - plugins.synthetic.published).
 *
 * Goals: "met" is true only when every phase ran and met its goal, false when
 * one missed it, and null ("not measured", listed in "not_measured") when a
 * phase was skipped (Buffer mode) or could not show its goal (a paced rate
 * below the goal), so a skipped phase never counts as met.
 *
 * Reported alongside: the agent's CPU seconds (utime + stime of rampartd from
 * /proc/<pid>/stat when the condition is met, before it is stopped) per
 * million events, its peak RSS (VmHWM), per-thread CPU (sampled every 200 ms;
 * a thread that ended keeps its last sample), NDJSON bytes per event before
 * and after gzip, the CPU nginx, ClickHouse and the whole machine used during
 * each run, and the load averages: the machine is shared. Also when the plugin
 * had published everything and when the sink had caught up, and the largest
 * bus backlog seen (bus.published - sink.events): the sink's subscription is
 * lossless, so a backlog is held in memory and shows in the peak RSS.
 *
 * Every wait is bounded (300 s) and cut at a time budget (RP_BENCH_BUDGET_S,
 * default 540 s, under ctest's 600 s); Buffer mode is skipped, and says so,
 * when less than 150 s of it is left.
 *
 * A slow machine never fails the bench: a run that did not finish within its
 * wait or the budget, or a curl baseline that did not get every answer (a
 * loaded ClickHouse refuses inserts for a while), is reported as missing,
 * with the reason in its "missing" field, and the goals it would have shown
 * as not measured (null). Before ClickHouse's rows are counted the Buffer
 * table is flushed (OPTIMIZE TABLE), and a short count is asked again for up
 * to SETTLE_S seconds: a Buffer flushes on its own schedule, later on a busy
 * machine. The bench fails (exit 1) only on what waiting does not explain:
 * the agent crashed, or lost events it had called delivered.
 *
 *   bench_pipeline_upload OUT.json
 */
#define _GNU_SOURCE
#include "bench_agent.h"

#include "lib/log.h"

#include <sys/resource.h>

#define DEFAULT_EVENTS      2000000ull
#define DEFAULT_CH_EVENTS   300000ull
#define BATCH_EVENTS        1000u
#define GOAL_EVENTS_S       250000.0
#define GOAL_CH_RATIO       0.8
#define WAIT_S              300
#define HEALTH_MS           100
#define FLUSH_MS            100
#define MIN_BUFFER_BUDGET_S 150
#define MIN_RUN_BUDGET_S    20  /* a run started with less budget left is not started */
#define SETTLE_S            120 /* longest wait for ClickHouse's count to reach N2 */
#define MISSING_LEN         512

static char tmp_dir[PATH_MAX];
static char batch_dir[PATH_MAX + 32];
static uint64_t n_batches;

/* A goal of a phase is met, not met, or not measured: the phase was skipped,
 * or ran at a rate that cannot show the goal. A goal that was not measured is
 * never counted as met; it shows as null in the JSON. */
#define GOAL_NOT_MET      0
#define GOAL_MET          1
#define GOAL_NOT_MEASURED (-1)

static json_t *goal_json(int g)
{
    return g == GOAL_NOT_MEASURED ? json_null() : json_boolean(g == GOAL_MET);
}

/* Met only when every part was measured and met; not met when any part that
 * was measured missed it; else not measured. */
static int goal_all(const int *g, size_t n)
{
    int r = GOAL_MET;
    for (size_t i = 0; i < n; i++) {
        if (g[i] == GOAL_NOT_MET)
            return GOAL_NOT_MET;
        if (g[i] == GOAL_NOT_MEASURED)
            r = GOAL_NOT_MEASURED;
    }
    return r;
}

struct agent_result {
    const char *label;
    uint64_t events;
    double seconds, events_s, cpu_s, cpu_s_per_million;
    uint64_t peak_rss;
    long long published, sink_events, appended, delivered, queued_at_end, raw_bytes, gz_bytes;
    long long sink_dropped, bus_dropped, spool_dropped, dead, retries, requests, transport_errors;
    long long encode_errors;
    /* The synthetic events among those delivered, and the agent's own events
     * (agent.health every 100 ms, start) published by then: see run_agent. */
    long long synthetic_delivered, own_events;
    double nginx_cpu_s, clickhouse_cpu_s, machine_busy_s;
    double published_all_s, sink_caught_up_s; /* since the fork, by status.json mtime */
    long long max_backlog;                    /* largest bus.published - sink.events seen */
    int exit_status;
    int zero_loss;
    long long ch_distinct, ch_rows; /* -1 when not checked */
    json_t *threads;
    char missing[MISSING_LEN]; /* why the figures are missing; "" when measured */
};

/* Runs the agent once: n synthetic events at rate events/s (0 = as fast as
 * the plugin's thread can make them) to url in format fmt. */
static void run_agent(struct agent_result *r, const char *label, const struct ba_backend *b,
                      const char *url, const char *fmt, int token, uint64_t n, uint64_t rate)
{
    memset(r, 0, sizeof *r);
    r->label = label;
    r->events = n;
    r->ch_distinct = r->ch_rows = -1;
    char data[PATH_MAX + 64], cfg[PATH_MAX + 64], log[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/data-%s", tmp_dir, label);
    snprintf(cfg, sizeof cfg, "%s/%s.json", tmp_dir, label);
    snprintf(log, sizeof log, "%s/%s.log", tmp_dir, label);
    char tok[PATH_MAX + 32] = "";
    if (token)
        snprintf(tok, sizeof tok, ", \"token_file\": \"%s\"", b->token_file);
    static char text[16384];
    ba_format(text, sizeof text,
              "{\n  \"agent\": {\"data_dir\": \"%s\", \"plugin_dir\": \"%s\", "
              "\"log_level\": \"info\", \"health_interval_ms\": %d},\n"
              "  \"output\": {\"url\": \"%s\", \"format\": \"%s\", \"ca_file\": \"%s\"%s, "
              "\"stdout\": false, \"flush_interval_ms\": %d},\n"
              "  \"spool\": {\"fsync\": \"batch\"},\n"
              "  \"plugins\": {\"synthetic\": {\"enabled\": true, \"file\": "
              "\"collector_synthetic.so\", \"config\": {\"count\": %llu, \"rate\": %llu}}}\n}\n",
              data, ba_paths.plugins, HEALTH_MS, url, fmt, b->ca, tok, FLUSH_MS,
              (unsigned long long)n, (unsigned long long)rate);
    if (bench_write_text(cfg, text, 0666) != 0)
        ba_fail("%s: %s", cfg, strerror(errno));

    if (ba_budget_left_s() < MIN_RUN_BUDGET_S) {
        snprintf(r->missing, sizeof r->missing,
                 "not run: %.0f s of the time budget (RP_BENCH_BUDGET_S) left", ba_budget_left_s());
        r->threads = json_array();
        fprintf(stderr, "%s: %s: %s\n", RP_BENCH_NAME, label, r->missing);
        return;
    }
    double nginx0 = ba_tree_cpu_s(b->nginx_pid), ch0 = bench_proc_cpu_s(b->ch_pid);
    double busy0 = ba_machine_busy_s();
    struct ba_agent a;
    ba_agent_start(&a, cfg, data, log);
    int wait_s = ba_wait_s(WAIT_S);
    int64_t deadline = bench_now_ns() + (int64_t)wait_s * 1000000000;
    int seen_published = 0;
    long long target = -1; /* A: sink.events once it caught up with the bus */
    json_t *last = NULL;
    int64_t end_real = 0;
    for (;;) {
        json_t *doc;
        int64_t m;
        int ex = 0;
        int rc = ba_agent_poll(&a, &doc, &m, &ex);
        if (rc < 0) {
            ba_agent_show_log(&a);
            ba_fail("%s: rampartd exited with status %d during the run", label, ex);
        }
        if (rc > 0) {
            long long pub = ba_get(doc, "plugins.synthetic.published");
            long long sunk = ba_get(doc, "sink.events") + ba_get(doc, "sink.encode_errors");
            long long backlog = ba_get(doc, "bus.published") - sunk;
            if (backlog > r->max_backlog)
                r->max_backlog = backlog;
            if (seen_published && target < 0 && backlog <= 0) {
                target = ba_get(doc, "sink.events");
                r->sink_caught_up_s = (double)(m - a.t0_real) / 1e9;
                /* upload.delivered_events counts every line, the agent's own
                 * events too (an agent.health event per status snapshot, its
                 * start event), so it is not a count of synthetic events.
                 * The agent's own events published by now are bus.published
                 * less what the plugin published; at most that many of the
                 * first `target` encoded events are not synthetic, so the
                 * rest are synthetic events, delivered once delivered
                 * reaches target (the spool and the uploader keep the sink's
                 * order). Exact when nothing failed to encode; never more
                 * than the synthetic events actually encoded. */
                long long bus_pub = ba_get(doc, "bus.published");
                r->own_events = bus_pub - pub;
                r->synthetic_delivered = (target < bus_pub ? target : bus_pub) - r->own_events;
            }
            if (pub >= (long long)n && !seen_published) {
                seen_published = 1;
                r->published_all_s = (double)(m - a.t0_real) / 1e9;
            }
            int done = target >= 0 && ba_get(doc, "upload.delivered_events") >= target;
            json_decref(last);
            last = doc;
            if (done) {
                end_real = m;
                break;
            }
        }
        if (bench_now_ns() > deadline) {
            /* Slow is not lost: the run's figures are missing, the bench goes on. */
            snprintf(r->missing, sizeof r->missing,
                     "not every event delivered within %d s (published %lld, sink %lld, "
                     "delivered %lld, queued %lld): the machine was too slow or the time "
                     "budget (RP_BENCH_BUDGET_S) ran out",
                     wait_s, ba_get(last, "plugins.synthetic.published"),
                     ba_get(last, "sink.events"), ba_get(last, "upload.delivered_events"),
                     ba_get(last, "spool.queued_events"));
            fprintf(stderr, "%s: %s: %s\n", RP_BENCH_NAME, label, r->missing);
            break;
        }
        bench_sleep_ms(BA_POLL_MS);
    }
    /* Figures of the process at the end, before it is stopped. */
    r->cpu_s = bench_proc_cpu_s(a.pid);
    r->peak_rss = bench_status_kb(a.pid, "VmHWM:");
    ba_agent_sample_threads(&a);
    r->nginx_cpu_s = ba_tree_cpu_s(b->nginx_pid) - nginx0;
    r->clickhouse_cpu_s = bench_proc_cpu_s(b->ch_pid) - ch0;
    r->machine_busy_s = ba_machine_busy_s() - busy0;
    if (!r->missing[0]) {
        r->seconds = (double)(end_real - a.t0_real) / 1e9;
        r->events_s = (double)n / r->seconds;
    }
    r->cpu_s_per_million = r->cpu_s / ((double)n / 1e6);
    r->published = ba_get(last, "plugins.synthetic.published");
    r->sink_events = ba_get(last, "sink.events");
    r->appended = ba_get(last, "spool.appended_events");
    r->delivered = ba_get(last, "upload.delivered_events");
    r->queued_at_end = ba_get(last, "spool.queued_events");
    r->raw_bytes = ba_get(last, "sink.batch_raw_bytes");
    r->gz_bytes = ba_get(last, "sink.batch_bytes");
    r->sink_dropped = ba_get(last, "sink.dropped_events");
    r->encode_errors = ba_get(last, "sink.encode_errors");
    r->bus_dropped = ba_get(last, "bus.dropped");
    r->spool_dropped = ba_get(last, "spool.dropped_full_events");
    r->dead = ba_get(last, "upload.dead_events");
    r->retries = ba_get(last, "upload.retries");
    r->requests = ba_get(last, "upload.requests");
    r->transport_errors = ba_get(last, "upload.transport_errors");
    json_decref(last);
    r->threads = ba_agent_threads_json(&a);
    r->exit_status = ba_agent_stop(&a);
    if (r->exit_status != 0)
        ba_agent_show_log(&a);
    r->zero_loss = r->sink_dropped == 0 && r->bus_dropped == 0 && r->spool_dropped == 0 &&
                   r->dead == 0 && r->encode_errors == 0 && r->published == (long long)n &&
                   r->synthetic_delivered == (long long)n;
    if (r->missing[0])
        return;
    fprintf(stderr, "%s: %s: %.0f events/s (%.2f s), cpu %.2f s, rss %.1f MB\n", RP_BENCH_NAME,
            label, r->events_s, r->seconds, r->cpu_s, (double)r->peak_rss / 1e6);
}

static json_t *agent_json(const struct agent_result *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "events", json_integer((json_int_t)r->events));
    if (r->missing[0]) {
        /* Not measured: the reason, and no figure that could be mistaken
         * for one (what the last status snapshot said follows). */
        json_object_set_new(o, "missing", json_string(r->missing));
        json_object_set_new(o, "seconds", json_null());
        json_object_set_new(o, "events_s", json_null());
        json_object_set_new(o, "zero_loss", json_null());
    } else {
        json_object_set_new(o, "seconds", json_real(r->seconds));
        json_object_set_new(o, "events_s", json_real(r->events_s));
        json_object_set_new(o, "zero_loss", json_boolean(r->zero_loss));
    }
    json_object_set_new(o, "synthetic_delivered_events", json_integer(r->synthetic_delivered));
    json_object_set_new(o, "agent_own_events", json_integer(r->own_events));
    json_object_set_new(o, "cpu_s", json_real(r->cpu_s));
    json_object_set_new(o, "cpu_s_per_million_events",
                        r->missing[0] ? json_null() : json_real(r->cpu_s_per_million));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)r->peak_rss));
    double ev = r->appended > 0 ? (double)r->appended : 1;
    json_object_set_new(o, "bytes_per_event_ndjson", json_real((double)r->raw_bytes / ev));
    json_object_set_new(o, "bytes_per_event_gzip", json_real((double)r->gz_bytes / ev));
    json_object_set_new(
        o, "gzip_ratio",
        json_real(r->gz_bytes > 0 ? (double)r->raw_bytes / (double)r->gz_bytes : 0));
    json_object_set_new(o, "all_published_at_s", json_real(r->published_all_s));
    json_object_set_new(o, "sink_caught_up_at_s", json_real(r->sink_caught_up_s));
    json_object_set_new(o, "max_bus_backlog_events", json_integer(r->max_backlog));
    json_t *s = json_object();
    json_object_set_new(s, "plugins.synthetic.published", json_integer(r->published));
    json_object_set_new(s, "sink.events", json_integer(r->sink_events));
    json_object_set_new(s, "spool.appended_events", json_integer(r->appended));
    json_object_set_new(s, "upload.delivered_events", json_integer(r->delivered));
    json_object_set_new(s, "spool.queued_events", json_integer(r->queued_at_end));
    json_object_set_new(s, "sink.batch_raw_bytes", json_integer(r->raw_bytes));
    json_object_set_new(s, "sink.batch_bytes", json_integer(r->gz_bytes));
    json_object_set_new(s, "sink.dropped_events", json_integer(r->sink_dropped));
    json_object_set_new(s, "sink.encode_errors", json_integer(r->encode_errors));
    json_object_set_new(s, "bus.dropped", json_integer(r->bus_dropped));
    json_object_set_new(s, "spool.dropped_full_events", json_integer(r->spool_dropped));
    json_object_set_new(s, "upload.dead_events", json_integer(r->dead));
    json_object_set_new(s, "upload.retries", json_integer(r->retries));
    json_object_set_new(s, "upload.requests", json_integer(r->requests));
    json_object_set_new(s, "upload.transport_errors", json_integer(r->transport_errors));
    json_object_set_new(o, "status_at_end", s);
    if (r->ch_distinct >= 0) {
        json_object_set_new(o, "clickhouse_distinct_event_id", json_integer(r->ch_distinct));
        json_object_set_new(o, "clickhouse_rows", json_integer(r->ch_rows));
    }
    json_object_set_new(o, "nginx_cpu_s", json_real(r->nginx_cpu_s));
    json_object_set_new(o, "clickhouse_cpu_s", json_real(r->clickhouse_cpu_s));
    json_object_set_new(o, "machine_busy_cpu_s", json_real(r->machine_busy_s));
    json_object_set_new(o, "machine_busy_cores",
                        r->seconds > 0 ? json_real(r->machine_busy_s / r->seconds) : json_null());
    json_object_set_new(o, "agent_exit_status", json_integer(r->exit_status));
    json_object_set_new(o, "threads_cpu_s", r->threads);
    return o;
}

/* ---- the batches and curl -------------------------------------------------- */

static int save_batch(void *ctx, uint64_t index, const char *raw, size_t raw_len, const void *gz,
                      size_t gz_len, uint32_t lines)
{
    (void)ctx;
    (void)raw;
    (void)raw_len;
    (void)lines;
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/b%06llu.gz", batch_dir, (unsigned long long)index);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(gz, 1, gz_len, f) != gz_len) {
        if (f)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* A curl config: one POST per batch file to url, each with the agent's
 * headers (and the token if asked), separated by "next" so the one curl
 * process reuses its connection. */
static void write_curl_config(const char *path, const char *url, const struct ba_backend *b,
                              int token)
{
    FILE *f = fopen(path, "w");
    if (!f)
        ba_fail("%s: %s", path, strerror(errno));
    fprintf(f, "silent\nshow-error\n");
    for (uint64_t i = 0; i < n_batches; i++) {
        fprintf(f, "%surl = \"%s\"\ncacert = \"%s\"\nnoproxy = \"*\"\n", i ? "next\n" : "", url,
                b->ca);
        if (token)
            fprintf(f, "header = \"Authorization: Bearer %s\"\n", b->token);
        fprintf(f,
                "header = \"Content-Type: application/x-ndjson\"\n"
                "header = \"Content-Encoding: gzip\"\n"
                "header = \"Idempotency-Key: bench-curl-%llu\"\n"
                "data-binary = \"@%s/b%06llu.gz\"\n"
                "output = \"/dev/null\"\n"
                "write-out = \"%%{http_code}\\n\"\n",
                (unsigned long long)i, batch_dir, (unsigned long long)i);
    }
    if (fclose(f) != 0)
        ba_fail("%s: %s", path, strerror(errno));
}

struct curl_result {
    double seconds, events_s, cpu_s, nginx_cpu_s, clickhouse_cpu_s, machine_busy_s;
    uint64_t ok, requests;
    long long ch_distinct, ch_rows;
    char missing[MISSING_LEN]; /* why the figure is missing; "" when measured */
};

/* Runs curl on cfg; the figure counts only when every batch got a 200. A
 * run that did not end in time, or got other answers (a loaded ClickHouse
 * refuses inserts for a while, and curl does not retry), leaves the figure
 * missing with the reason in r->missing. */
static void run_curl(struct curl_result *r, const char *label, const char *cfg,
                     const struct ba_backend *b, uint64_t events)
{
    memset(r, 0, sizeof *r);
    r->ch_distinct = r->ch_rows = -1;
    if (ba_budget_left_s() < MIN_RUN_BUDGET_S) {
        snprintf(r->missing, sizeof r->missing,
                 "not run: %.0f s of the time budget (RP_BENCH_BUDGET_S) left", ba_budget_left_s());
        fprintf(stderr, "%s: %s: %s\n", RP_BENCH_NAME, label, r->missing);
        return;
    }
    char out[PATH_MAX + 64], err[PATH_MAX + 64];
    snprintf(out, sizeof out, "%s/%s.out", tmp_dir, label);
    snprintf(err, sizeof err, "%s/%s.err", tmp_dir, label);
    char *argv[] = {"curl", "--config", (char *)cfg, NULL};
    double nginx0 = ba_tree_cpu_s(b->nginx_pid), ch0 = bench_proc_cpu_s(b->ch_pid);
    double busy0 = ba_machine_busy_s();
    struct rusage ru0, ru1;
    getrusage(RUSAGE_CHILDREN, &ru0);
    int64_t t0 = bench_now_ns();
    int wait_s = ba_wait_s(WAIT_S);
    int st = ba_run(argv, out, err, wait_s);
    r->seconds = (double)(bench_now_ns() - t0) / 1e9;
    getrusage(RUSAGE_CHILDREN, &ru1);
    r->cpu_s = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                        ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                        ru0.ru_stime.tv_usec) /
                   1e6;
    r->nginx_cpu_s = ba_tree_cpu_s(b->nginx_pid) - nginx0;
    r->clickhouse_cpu_s = bench_proc_cpu_s(b->ch_pid) - ch0;
    r->machine_busy_s = ba_machine_busy_s() - busy0;
    r->events_s = (double)events / r->seconds;
    FILE *f = fopen(out, "r");
    char line[64];
    while (f && fgets(line, sizeof line, f)) {
        r->requests++;
        r->ok += strcmp(line, "200\n") == 0;
    }
    if (f)
        fclose(f);
    if (st != 0 || r->ok != n_batches) {
        static char buf[4096];
        if (bench_read_file(err, buf, sizeof buf) > 0)
            fprintf(stderr, "%s", buf);
        else
            buf[0] = '\0';
        buf[strcspn(buf, "\n")] = '\0'; /* curl's first complaint, for the JSON */
        if (st == -1)
            snprintf(r->missing, sizeof r->missing,
                     "curl did not end within %d s (%llu of %llu answers were 200)", wait_s,
                     (unsigned long long)r->ok, (unsigned long long)n_batches);
        else
            snprintf(r->missing, sizeof r->missing,
                     "curl exited with %d, %llu of %llu answers were 200 (curl: %.200s)", st,
                     (unsigned long long)r->ok, (unsigned long long)n_batches, buf);
        fprintf(stderr, "%s: %s: %s\n", RP_BENCH_NAME, label, r->missing);
        return;
    }
    fprintf(stderr, "%s: %s: %.0f events/s (%.2f s)\n", RP_BENCH_NAME, label, r->events_s,
            r->seconds);
}

static json_t *curl_json(const struct curl_result *r)
{
    json_t *o = json_object();
    if (r->missing[0]) {
        json_object_set_new(o, "missing", json_string(r->missing));
        json_object_set_new(o, "seconds", json_null());
        json_object_set_new(o, "events_s", json_null());
    } else {
        json_object_set_new(o, "seconds", json_real(r->seconds));
        json_object_set_new(o, "events_s", json_real(r->events_s));
    }
    json_object_set_new(o, "requests_200", json_integer((json_int_t)r->ok));
    json_object_set_new(o, "curl_cpu_s", json_real(r->cpu_s));
    json_object_set_new(o, "nginx_cpu_s", json_real(r->nginx_cpu_s));
    json_object_set_new(o, "clickhouse_cpu_s", json_real(r->clickhouse_cpu_s));
    json_object_set_new(o, "machine_busy_cpu_s", json_real(r->machine_busy_s));
    if (r->ch_distinct >= 0) {
        json_object_set_new(o, "clickhouse_distinct_event_id", json_integer(r->ch_distinct));
        json_object_set_new(o, "clickhouse_rows", json_integer(r->ch_rows));
    }
    return o;
}

/* The rows of the synthetic events once ClickHouse has settled: a Buffer
 * table moves rows to its MergeTree on its own schedule (every 2 s, later
 * on a busy machine), and a count taken while a flush is under way misses
 * the rows in flight. So the Buffer is flushed first (OPTIMIZE TABLE), and
 * a short count is asked again, for up to SETTLE_S seconds (less when the
 * time budget is nearly used), before it is believed. The timing figures
 * are taken before this. Returns whether the count reached want; *waited_s
 * gets how long it took. */
static int settled_count(const struct ba_backend *b, long long want, long long *distinct,
                         long long *rows, double *waited_s)
{
    int64_t t0 = bench_now_ns();
    double limit = ba_budget_left_s() - 10;
    if (limit > SETTLE_S)
        limit = SETTLE_S;
    if (limit < 5)
        limit = 5;
    if (b->buffer) {
        char out[256];
        ba_backend_query(b, "OPTIMIZE TABLE rampart.events", out, sizeof out);
    }
    for (;;) {
        ba_backend_exec_count(b, distinct, rows);
        *waited_s = (double)(bench_now_ns() - t0) / 1e9;
        if (*distinct >= want)
            return 1;
        if (*waited_s >= limit)
            return 0;
        bench_sleep_ms(500);
    }
}

/* The ClickHouse comparison on one backend: curl, the agent, curl again,
 * each on an emptied table and checked for loss. Returns the JSON object;
 * *met (GOAL_*) and *zero_loss (1, 0, or -1 when not measured) tell how it
 * went. A step the machine was too slow for leaves its figure missing and
 * the goal not measured; the phase goes on. */
static json_t *clickhouse_phase(const struct ba_backend *b, const char *mode, uint64_t n2, int *met,
                                int *zero_loss)
{
    char cfg[PATH_MAX + 64], label[64];
    snprintf(cfg, sizeof cfg, "%s/curl-%s.conf", tmp_dir, mode);
    write_curl_config(cfg, b->bearer_url, b, 1);
    struct curl_result c[2];
    struct agent_result a;
    double load0[3], load1[3];
    bench_loadavg(load0);
    for (int i = 0; i < 3; i++) {
        char *missing;
        if (i == 1) {
            snprintf(label, sizeof label, "agent-clickhouse-%s", mode);
            memset(&a, 0, sizeof a);
            missing = a.missing;
        } else {
            snprintf(label, sizeof label, "curl-clickhouse-%s-%d", mode, i / 2 + 1);
            memset(&c[i / 2], 0, sizeof c[i / 2]);
            missing = c[i / 2].missing;
        }
        /* Resetting and counting need the backend's time too. */
        if (ba_budget_left_s() < MIN_RUN_BUDGET_S) {
            snprintf(missing, MISSING_LEN,
                     "not run: %.0f s of the time budget (RP_BENCH_BUDGET_S) left",
                     ba_budget_left_s());
            fprintf(stderr, "%s: %s: %s\n", RP_BENCH_NAME, label, missing);
            if (i == 1) {
                a.events = n2;
                a.ch_distinct = a.ch_rows = -1;
                a.threads = json_array();
            } else {
                c[i / 2].ch_distinct = c[i / 2].ch_rows = -1;
            }
            continue;
        }
        ba_backend_reset(b);
        long long distinct, rows;
        double waited;
        if (i == 1) {
            run_agent(&a, label, b, b->bearer_url, "clickhouse", 1, n2, 0);
            if (a.missing[0])
                continue;
            int settled = settled_count(b, (long long)n2, &distinct, &rows, &waited);
            a.ch_distinct = distinct;
            a.ch_rows = rows;
            /* Every event was answered 2xx, ClickHouse was flushed and given
             * SETTLE_S: rows still missing are lost, not late. */
            a.zero_loss = a.zero_loss && settled && distinct == (long long)n2;
            if (!settled)
                fprintf(stderr,
                        "%s: %s: ClickHouse holds %lld distinct exec events, not %llu, "
                        "%.0f s after a flush\n",
                        RP_BENCH_NAME, label, distinct, (unsigned long long)n2, waited);
        } else {
            struct curl_result *r = &c[i / 2];
            run_curl(r, label, cfg, b, n2);
            if (r->missing[0])
                continue;
            int settled = settled_count(b, (long long)n2, &distinct, &rows, &waited);
            r->ch_distinct = distinct;
            r->ch_rows = rows;
            /* The baseline is curl doing the agent's work: short of it, its
             * figure does not count (the backend, not curl, is then in doubt). */
            if (!settled || distinct != (long long)n2) {
                snprintf(r->missing, sizeof r->missing,
                         "ClickHouse holds %lld distinct exec events, not %llu, %.0f s after "
                         "every batch was answered 200 and the table was flushed",
                         distinct, (unsigned long long)n2, waited);
                fprintf(stderr, "%s: %s: %s\n", RP_BENCH_NAME, label, r->missing);
            }
        }
    }
    bench_loadavg(load1);
    /* The baseline is the mean of the curl runs that were measured. */
    double base = 0;
    int n_base = 0;
    for (int k = 0; k < 2; k++)
        if (!c[k].missing[0]) {
            base += c[k].events_s;
            n_base++;
        }
    base = n_base ? base / n_base : 0;
    int measured = !a.missing[0] && n_base > 0;
    double ratio = measured ? a.events_s / base : 0;
    *zero_loss = a.missing[0] ? -1 : a.zero_loss;
    *met = !measured                               ? GOAL_NOT_MEASURED
           : a.zero_loss && ratio >= GOAL_CH_RATIO ? GOAL_MET
                                                   : GOAL_NOT_MET;
    /* A loss is a loss even when the ratio cannot be judged. */
    if (*met == GOAL_NOT_MEASURED && *zero_loss == 0)
        *met = GOAL_NOT_MET;
    json_t *o = json_object();
    json_object_set_new(o, "table",
                        json_string(b->buffer ? "Buffer in front of the MergeTree "
                                                "(RAMPART_E2E_CH_BUFFER=1)"
                                              : "plain MergeTree (the default)"));
    json_object_set_new(o, "events", json_integer((json_int_t)n2));
    json_object_set_new(o, "agent_events_s", a.missing[0] ? json_null() : json_real(a.events_s));
    json_object_set_new(o, "baseline_curl_events_s", n_base ? json_real(base) : json_null());
    json_object_set_new(o, "baseline_curl_runs", json_integer(n_base));
    json_object_set_new(o, "ratio", measured ? json_real(ratio) : json_null());
    json_object_set_new(o, "goal_ratio", json_real(GOAL_CH_RATIO));
    json_object_set_new(o, "met", goal_json(*met));
    json_object_set_new(o, "zero_loss", *zero_loss < 0 ? json_null() : json_boolean(*zero_loss));
    if (!measured)
        json_object_set_new(o, "missing",
                            json_string(a.missing[0] ? "the agent's run: see agent.missing"
                                                     : "both curl runs: see curl_*.missing"));
    json_object_set_new(o, "load_average_start", ba_load_json(load0));
    json_object_set_new(o, "load_average_end", ba_load_json(load1));
    json_object_set_new(o, "agent", agent_json(&a));
    json_object_set_new(o, "curl_before", curl_json(&c[0]));
    json_object_set_new(o, "curl_after", curl_json(&c[1]));
    return o;
}

int main(int argc, char **argv)
{
    rp__log_set_level(RP__LOG_ERROR);
    ba_init(argc > 1 ? argv[1] : NULL);
    uint64_t n = ba_env_u64("RP_BENCH_EVENTS", DEFAULT_EVENTS, 1000, 1000000000ull);
    uint64_t n2 = ba_env_u64("RP_BENCH_CH_EVENTS", DEFAULT_CH_EVENTS, 1000, 100000000ull);
    int buffer_too = (int)ba_env_u64("RP_BENCH_CH_BUFFER", 1, 0, 1);

    ba_make_tmp("/tmp/rampart-bench-pipeline.XXXXXX", tmp_dir, sizeof tmp_dir);
    snprintf(batch_dir, sizeof batch_dir, "%s/batches", tmp_dir);
    if (mkdir(batch_dir, 0700) != 0)
        ba_fail("%s: %s", batch_dir, strerror(errno));

    double load_start[3];
    bench_loadavg(load_start);
    double capacity = bench_cpu_capacity(200);
    int64_t t_all = bench_now_ns();

    char bkdir[PATH_MAX + 32];
    snprintf(bkdir, sizeof bkdir, "%s/backend", tmp_dir);
    if (mkdir(bkdir, 0700) != 0)
        ba_fail("%s: %s", bkdir, strerror(errno));
    static struct ba_backend bk, bkb;
    ba_backend_start(&bk, 0, bkdir, 0);
    fprintf(stderr, "%s: backend up in %.1f s\n", RP_BENCH_NAME, bk.start_s);

    /* The pre-encoded batches for curl: the agent's own NDJSON, local-file mode. */
    char ndjson[PATH_MAX + 64];
    ba_local_run(tmp_dir, "local", n2, ndjson, sizeof ndjson, WAIT_S);
    struct ba_batch_totals tot;
    if (ba_make_batches(ndjson, BATCH_EVENTS, n2, save_batch, NULL, &tot) != 0)
        ba_fail("cannot make the batches from %s", ndjson);
    if (tot.lines != n2)
        ba_fail("the local-file run wrote %llu exec events, not %llu",
                (unsigned long long)tot.lines, (unsigned long long)n2);
    n_batches = tot.batches;
    unlink(ndjson); /* a few hundred MB, not needed any more */

    /* 1. The agent alone, to the discarding port. */
    double load_a0[3], load_a1[3];
    bench_loadavg(load_a0);
    struct agent_result disc;
    run_agent(&disc, "agent-discard", &bk, bk.discard_url, "ndjson", 0, n, 0);
    bench_loadavg(load_a1);
    /* 1b. Paced at the goal rate: does the pipeline keep up with a steady
     * 250 K events/s (the flood above measures a burst: the plugin then makes
     * events faster than anything downstream and the bus holds the backlog
     * in memory)? */
    uint64_t paced_rate =
        ba_env_u64("RP_BENCH_PACED_RATE", (uint64_t)GOAL_EVENTS_S, 1000, 100000000ull);
    uint64_t paced_n = paced_rate * 8;
    struct agent_result paced;
    run_agent(&paced, "agent-discard-paced", &bk, bk.discard_url, "ndjson", 0, paced_n, paced_rate);
    /* For reference: what curl does with the pre-made batches on that port. */
    char dcfg[PATH_MAX + 64];
    snprintf(dcfg, sizeof dcfg, "%s/curl-discard.conf", tmp_dir);
    write_curl_config(dcfg, bk.discard_url, &bk, 0);
    struct curl_result cdisc;
    run_curl(&cdisc, "curl-discard", dcfg, &bk, n2);
    /* The discard goal claims both: a burst drained at the goal rate, and a
     * steady goal rate kept up with. A paced run asked for less than the goal
     * rate (RP_BENCH_PACED_RATE) cannot show the second: not measured. */
    int goal_burst = disc.missing[0]                                    ? GOAL_NOT_MEASURED
                     : disc.zero_loss && disc.events_s >= GOAL_EVENTS_S ? GOAL_MET
                                                                        : GOAL_NOT_MET;
    int goal_paced = (double)paced_rate < GOAL_EVENTS_S || paced.missing[0]      ? GOAL_NOT_MEASURED
                     : paced.zero_loss && paced.events_s >= 0.98 * GOAL_EVENTS_S ? GOAL_MET
                                                                                 : GOAL_NOT_MET;
    int discard_parts[] = {goal_burst, goal_paced};
    int goal_discard = goal_all(discard_parts, 2);

    /* 2. Through nginx to ClickHouse, against curl. */
    int met_merge, loss_merge_ok, met_buf = 0, loss_buf_ok = 1;
    json_t *ch_merge = clickhouse_phase(&bk, "mergetree", n2, &met_merge, &loss_merge_ok);
    ba_backend_stop(&bk);
    json_t *ch_buf = NULL;
    /* Buffer mode takes about a third of the MergeTree phase's time. */
    double budget_left = ba_budget_left_s();
    int buffer_skipped = buffer_too && budget_left < MIN_BUFFER_BUDGET_S;
    if (buffer_skipped) {
        fprintf(stderr, "%s: %.0f s of the time budget left: Buffer mode skipped\n", RP_BENCH_NAME,
                budget_left);
        buffer_too = 0;
    }
    if (buffer_too) {
        snprintf(bkdir, sizeof bkdir, "%s/backend-buffer", tmp_dir);
        if (mkdir(bkdir, 0700) != 0)
            ba_fail("%s: %s", bkdir, strerror(errno));
        ba_backend_start(&bkb, 1, bkdir, 1);
        ch_buf = clickhouse_phase(&bkb, "buffer", n2, &met_buf, &loss_buf_ok);
        ba_backend_stop(&bkb);
    }
    double total_s = (double)(bench_now_ns() - t_all) / 1e9;
    double load_end[3];
    bench_loadavg(load_end);
    ba_remove_tmp();

    json_t *o = json_object();
    json_object_set_new(o, "bench", json_string("pipeline_upload"));
    json_object_set_new(o, "cpus", json_integer(bench_cpus()));
    json_object_set_new(o, "cpu_capacity", json_real(capacity));
    json_object_set_new(o, "load_average_start", ba_load_json(load_start));
    json_object_set_new(o, "load_average_end", ba_load_json(load_end));
    json_object_set_new(o, "total_seconds", json_real(total_s));
    json_object_set_new(o, "events_per_batch", json_integer(BATCH_EVENTS));
    json_object_set_new(o, "exec_event_bytes_ndjson",
                        json_real((double)tot.raw_bytes / (double)tot.lines));
    json_object_set_new(o, "exec_event_bytes_gzip",
                        json_real((double)tot.gz_bytes / (double)tot.lines));

    json_t *d = json_object();
    json_object_set_new(d, "events", json_integer((json_int_t)n));
    json_object_set_new(d, "events_s", disc.missing[0] ? json_null() : json_real(disc.events_s));
    json_object_set_new(d, "goal_events_s", json_real(GOAL_EVENTS_S));
    json_object_set_new(d, "met", goal_json(goal_discard));
    json_object_set_new(d, "met_burst", goal_json(goal_burst));
    json_object_set_new(d, "met_paced", goal_json(goal_paced));
    json_object_set_new(d, "zero_loss",
                        disc.missing[0] ? json_null() : json_boolean(disc.zero_loss));
    json_object_set_new(d, "cpu_s_per_million_events",
                        disc.missing[0] ? json_null() : json_real(disc.cpu_s_per_million));
    json_object_set_new(d, "peak_rss_bytes", json_integer((json_int_t)disc.peak_rss));
    json_object_set_new(d, "load_average_start", ba_load_json(load_a0));
    json_object_set_new(d, "load_average_end", ba_load_json(load_a1));
    json_object_set_new(d, "agent", agent_json(&disc));
    json_t *pd = json_object();
    json_object_set_new(pd, "rate_asked", json_integer((json_int_t)paced_rate));
    json_object_set_new(pd, "events", json_integer((json_int_t)paced_n));
    json_object_set_new(pd, "events_per_s",
                        paced.missing[0] ? json_null() : json_real(paced.events_s));
    json_object_set_new(pd, "goal_events_per_s", json_real(0.98 * GOAL_EVENTS_S));
    json_object_set_new(pd, "met", goal_json(goal_paced));
    json_object_set_new(pd, "zero_loss",
                        paced.missing[0] ? json_null() : json_boolean(paced.zero_loss));
    json_object_set_new(pd, "cpu_s_per_million_events",
                        paced.missing[0] ? json_null() : json_real(paced.cpu_s_per_million));
    json_object_set_new(pd, "peak_rss_bytes", json_integer((json_int_t)paced.peak_rss));
    json_object_set_new(pd, "agent", agent_json(&paced));
    json_object_set_new(pd, "note",
                        json_string("the plugin publishes at a steady rate (a 10 ms "
                                    "timer); kept up when events_per_s is the rate "
                                    "asked; met is null when the rate asked is below "
                                    "the goal (RP_BENCH_PACED_RATE)"));
    json_object_set_new(d, "paced", pd);
    json_t *cd = curl_json(&cdisc);
    json_object_set_new(cd, "events", json_integer((json_int_t)n2));
    json_object_set_new(cd, "note",
                        json_string("reference only: curl POSTing the pre-made "
                                    "gzip batches to the same discarding port"));
    json_object_set_new(d, "curl_reference", cd);
    json_object_set_new(o, "discard", d);
    json_object_set_new(o, "clickhouse_mergetree", ch_merge);
    int goal_buf = GOAL_NOT_MEASURED;
    if (ch_buf) {
        goal_buf = met_buf;
        json_object_set_new(o, "clickhouse_buffer", ch_buf);
    } else {
        json_t *sk = json_object();
        json_object_set_new(sk, "met", json_null());
        json_object_set_new(sk, "skipped",
                            json_string(buffer_skipped ? "too little of the time budget left "
                                                         "(RP_BENCH_BUDGET_S)"
                                                       : "RP_BENCH_CH_BUFFER=0"));
        json_object_set_new(o, "clickhouse_buffer", sk);
    }
    /* Every phase the bench claims: a phase skipped leaves the whole goal not
     * measured (null), never met. */
    int goal_merge = met_merge;
    int parts[] = {goal_discard, goal_merge, goal_buf};
    const char *part_names[] = {"discard", "clickhouse_mergetree", "clickhouse_buffer"};
    int met = goal_all(parts, 3);
    json_t *unmeasured = json_array();
    if (goal_burst == GOAL_NOT_MEASURED)
        json_array_append_new(unmeasured, json_string("discard.burst"));
    if (goal_paced == GOAL_NOT_MEASURED)
        json_array_append_new(unmeasured, json_string("discard.paced"));
    for (size_t i = 1; i < 3; i++)
        if (parts[i] == GOAL_NOT_MEASURED)
            json_array_append_new(unmeasured, json_string(part_names[i]));
    json_object_set_new(o, "met", goal_json(met));
    json_object_set_new(o, "not_measured", unmeasured);
    json_object_set_new(
        o, "notes",
        json_string("Timing: from the agent's fork to the status.json snapshot (its mtime) "
                    "in which upload.delivered_events reached the sink's count taken after "
                    "every synthetic event was published and encoded; health_interval_ms 100, "
                    "flush_interval_ms 100, batch_max_events 1000, gzip libdeflate level 1, "
                    "spool fsync batch. The agent's CPU includes collector_synthetic "
                    "building the events (its thread, named after the thread that started "
                    "it). nginx (TLS) and ClickHouse run on the same 2 cores, and the "
                    "machine is shared: see load averages, cpu_capacity and "
                    "machine_busy_cpu_s. The ClickHouse baseline is the mean of curl before "
                    "and after the agent, each on an emptied table."));
    int rc = ba_json_finish(o, argc > 1 ? argv[1] : NULL);
    json_decref(o);
    /* A run that was not measured (too slow) is no evidence of a loss. */
    int lossless = (disc.missing[0] || disc.zero_loss) && (paced.missing[0] || paced.zero_loss) &&
                   loss_merge_ok != 0 && loss_buf_ok != 0;
    if (!lossless)
        fprintf(stderr, "%s: events were lost (see zero_loss)\n", RP_BENCH_NAME);
    return rc != 0 || !lossless ? 1 : 0;
}
