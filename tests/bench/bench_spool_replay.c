/*
 * tests/bench/bench_spool_replay.c - how fast the real agent drains a large
 * spool after an outage, to the discarding HTTPS endpoint of the end-to-end
 * backend (nginx on loopback: TLS, reads the body, answers 200; started and
 * stopped here by tests/e2e/backend/backend.sh).
 *
 *   1. The agent runs once in local-file mode (collector_synthetic, rate 0)
 *      to get realistic process.exec lines; their first DISTINCT_EVENTS are
 *      cut into batches of 1000 and gzipped (libdeflate level 1, as the sink
 *      does).
 *   2. <data>/spool is filled directly through the spool API (rp__spool_open,
 *      rp__spool_append with RP__SPOOL_FLAG_GZIP), cycling over those
 *      batches, until the payloads reach RP_BENCH_SPOOL_BYTES (default
 *      1 GiB); spool.max_bytes is set above that. The files are then synced
 *      and their pages dropped from the page cache (posix_fadvise DONTNEED),
 *      so the agent reads them from disk as after a reboot
 *      (RP_BENCH_REPLAY_WARM=1 keeps them cached).
 *   3. rampartd starts on that data folder with no plugin, output.url = the
 *      discarding port, format ndjson; timed from just before its fork to the
 *      status.json snapshot (its file mtime; written every 100 ms) in which
 *      upload.delivered_events reaches the events filled in. The spool is
 *      read oldest first, so that is when the backlog is gone
 *      (spool.queued_events then holds only the agent's own new events, if
 *      any; its value is reported).
 *
 *   4. The ingest baseline, measured in the same run: the same agent with
 *      collector_synthetic (rate 0: as fast as it can make events) during an
 *      outage (output.url a loopback port that refuses connections), N events
 *      (RP_BENCH_INGEST_EVENTS, default 500,000): timed from its fork to the
 *      status.json snapshot in which spool.appended_events holds everything
 *      the sink encoded after the plugin had published all N. That is the
 *      fastest this agent fills its spool while the backend is away.
 *
 * Reported: events/s and MB/s drained (gzip bytes as sent, and the NDJSON
 * they hold), the agent's CPU seconds per million events (utime + stime of
 * rampartd at the end, before it is stopped), peak RSS (VmHWM), per-thread
 * CPU, nginx's and the machine's CPU over the drain, and the ratio of the
 * drain to the measured ingest (goal: >= 10, so a backlog left by an outage
 * clears while events keep coming in).
 *
 * A slow machine never fails the bench: an ingest run that does not finish
 * within its wait (or the time budget, RP_BENCH_BUDGET_S) leaves the
 * baseline missing (ingest.missing says why; ratio and met are null), and a
 * drain that does not finish ends the bench with a JSON object that says why
 * the figure is missing (ba_give_up). Only a crash or a loss fails it.
 *
 *   bench_spool_replay OUT.json
 */
#define _GNU_SOURCE
#include "bench_agent.h"

#include "lib/log.h"
#include "output/spool.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#define DEFAULT_SPOOL_BYTES   ((uint64_t)1 << 30)
#define DISTINCT_EVENTS       100000u
#define BATCH_EVENTS          1000u
#define MAX_DISTINCT          (DISTINCT_EVENTS / BATCH_EVENTS)
#define DEFAULT_INGEST_EVENTS 500000ull
#define GOAL_RATIO            10.0
#define WAIT_S                420
#define HEALTH_MS             100

static char tmp_dir[PATH_MAX];

struct batch {
    void *gz;
    size_t gz_len, raw_len;
    uint32_t events;
};
static struct batch batches[MAX_DISTINCT];
static uint32_t n_distinct;

static int keep_batch(void *ctx, uint64_t index, const char *raw, size_t raw_len, const void *gz,
                      size_t gz_len, uint32_t lines)
{
    (void)ctx;
    (void)raw;
    if (index >= MAX_DISTINCT)
        return -1;
    struct batch *b = &batches[index];
    if (!(b->gz = malloc(gz_len)))
        return -1;
    memcpy(b->gz, gz, gz_len);
    b->gz_len = gz_len;
    b->raw_len = raw_len;
    b->events = lines;
    n_distinct = (uint32_t)index + 1;
    return 0;
}

struct ingest_result {
    uint64_t events;
    double seconds, events_s, cpu_s;
    long long appended, own_events, encode_errors, dropped, bus_dropped, sink_dropped;
    long long synthetic_spooled; /* see ingest_run */
    int zero_loss, exit_status;
    char missing[512]; /* why the baseline is missing; "" when measured */
};

/*
 * The ingest baseline: rampartd with collector_synthetic (n events, rate 0)
 * and an output.url on a loopback port bound but not listening (connections
 * are refused: an outage), so every event goes to the spool and stays there.
 * Timed from the fork to the snapshot in which spool.appended_events reached
 * the sink's count taken once the plugin had published all n and the sink
 * had encoded everything the bus had published.
 */
static void ingest_run(struct ingest_result *r, const struct ba_backend *b, uint64_t n)
{
    memset(r, 0, sizeof *r);
    r->events = n;
    int hold = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (hold < 0 || bind(hold, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(hold, (struct sockaddr *)&sa, &sl) != 0)
        ba_fail("a loopback port for the outage: %s", strerror(errno));
    char data[PATH_MAX + 64], cfg[PATH_MAX + 64], log[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/ingest-data", tmp_dir);
    snprintf(cfg, sizeof cfg, "%s/ingest.json", tmp_dir);
    snprintf(log, sizeof log, "%s/ingest.log", tmp_dir);
    static char text[16384];
    ba_format(text, sizeof text,
              "{\n  \"agent\": {\"data_dir\": \"%s\", \"plugin_dir\": \"%s\", "
              "\"log_level\": \"info\", \"health_interval_ms\": %d},\n"
              "  \"output\": {\"url\": \"https://127.0.0.1:%u/\", \"format\": \"ndjson\", "
              "\"ca_file\": \"%s\", \"stdout\": false},\n"
              "  \"spool\": {\"fsync\": \"batch\"},\n"
              "  \"plugins\": {\"synthetic\": {\"enabled\": true, \"file\": "
              "\"collector_synthetic.so\", \"config\": {\"count\": %llu, \"rate\": 0}}}\n}\n",
              data, ba_paths.plugins, HEALTH_MS, (unsigned)ntohs(sa.sin_port), b->ca,
              (unsigned long long)n);
    if (bench_write_text(cfg, text, 0666) != 0)
        ba_fail("%s: %s", cfg, strerror(errno));
    struct ba_agent a;
    ba_agent_start(&a, cfg, data, log);
    int wait_s = ba_wait_s(WAIT_S);
    int64_t deadline = bench_now_ns() + (int64_t)wait_s * 1000000000;
    int seen_published = 0;
    long long target = -1;
    json_t *last = NULL;
    int64_t end_real = 0;
    for (;;) {
        json_t *doc;
        int64_t m;
        int ex = 0;
        int rc = ba_agent_poll(&a, &doc, &m, &ex);
        if (rc < 0) {
            ba_agent_show_log(&a);
            ba_fail("ingest: rampartd exited with status %d during the run", ex);
        }
        if (rc > 0) {
            long long pub = ba_get(doc, "plugins.synthetic.published");
            long long bus_pub = ba_get(doc, "bus.published");
            long long sunk = ba_get(doc, "sink.events") + ba_get(doc, "sink.encode_errors");
            if (seen_published && target < 0 && bus_pub - sunk <= 0) {
                target = ba_get(doc, "sink.events");
                /* The agent's own events (agent.health, start) go to the
                 * spool too and are not ingested events: at most bus_pub -
                 * pub of the first `target` encoded events are the agent's
                 * own, the rest are synthetic, and they are in the spool
                 * once appended reaches target (the sink appends in order). */
                r->own_events = bus_pub - pub;
                r->synthetic_spooled = (target < bus_pub ? target : bus_pub) - r->own_events;
            }
            if (pub >= (long long)n)
                seen_published = 1;
            int done = target >= 0 && ba_get(doc, "spool.appended_events") >= target;
            json_decref(last);
            last = doc;
            if (done) {
                end_real = m;
                break;
            }
        }
        if (bench_now_ns() > deadline) {
            /* Slow is not lost: the baseline is missing, the bench goes on. */
            snprintf(r->missing, sizeof r->missing,
                     "not every event spooled within %d s (published %lld, sink %lld, "
                     "appended %lld): the machine was too slow or the time budget "
                     "(RP_BENCH_BUDGET_S) ran out",
                     wait_s, ba_get(last, "plugins.synthetic.published"),
                     ba_get(last, "sink.events"), ba_get(last, "spool.appended_events"));
            fprintf(stderr, "%s: ingest: %s\n", RP_BENCH_NAME, r->missing);
            break;
        }
        bench_sleep_ms(BA_POLL_MS);
    }
    r->cpu_s = bench_proc_cpu_s(a.pid);
    if (!r->missing[0]) {
        r->seconds = (double)(end_real - a.t0_real) / 1e9;
        r->events_s = (double)n / r->seconds;
    }
    r->appended = ba_get(last, "spool.appended_events");
    r->encode_errors = ba_get(last, "sink.encode_errors");
    r->dropped = ba_get(last, "spool.dropped_full_events");
    r->bus_dropped = ba_get(last, "bus.dropped");
    r->sink_dropped = ba_get(last, "sink.dropped_events");
    long long published = ba_get(last, "plugins.synthetic.published");
    json_decref(last);
    r->exit_status = ba_agent_stop(&a);
    if (r->exit_status != 0)
        ba_agent_show_log(&a);
    close(hold);
    r->zero_loss = published == (long long)n && r->encode_errors == 0 && r->dropped == 0 &&
                   r->bus_dropped == 0 && r->sink_dropped == 0 &&
                   r->synthetic_spooled == (long long)n;
    if (r->missing[0])
        return;
    fprintf(stderr, "%s: ingest (outage): %.0f events/s (%.2f s)\n", RP_BENCH_NAME, r->events_s,
            r->seconds);
}

int main(int argc, char **argv)
{
    rp__log_set_level(RP__LOG_ERROR);
    ba_init(argc > 1 ? argv[1] : NULL);
    uint64_t target = ba_env_u64("RP_BENCH_SPOOL_BYTES", DEFAULT_SPOOL_BYTES, (uint64_t)1 << 20,
                                 (uint64_t)64 << 30);
    int warm = (int)ba_env_u64("RP_BENCH_REPLAY_WARM", 0, 0, 1);
    uint64_t ingest_n =
        ba_env_u64("RP_BENCH_INGEST_EVENTS", DEFAULT_INGEST_EVENTS, 1000, 100000000ull);

    ba_make_tmp("/tmp/rampart-bench-replay.XXXXXX", tmp_dir, sizeof tmp_dir);
    struct statvfs vfs;
    if (statvfs(tmp_dir, &vfs) == 0 &&
        (uint64_t)vfs.f_bavail * vfs.f_frsize < target + target / 4 + ((uint64_t)512 << 20))
        ba_fail("not enough room in /tmp for a spool of %llu bytes", (unsigned long long)target);

    double load_start[3];
    bench_loadavg(load_start);
    double capacity = bench_cpu_capacity(200);

    char bkdir[PATH_MAX + 32];
    snprintf(bkdir, sizeof bkdir, "%s/backend", tmp_dir);
    if (mkdir(bkdir, 0700) != 0)
        ba_fail("%s: %s", bkdir, strerror(errno));
    static struct ba_backend bk;
    ba_backend_start(&bk, 0, bkdir, 0);

    /* Realistic batches, made the way the sink makes them. */
    char ndjson[PATH_MAX + 64];
    ba_local_run(tmp_dir, "local", DISTINCT_EVENTS, ndjson, sizeof ndjson, WAIT_S);
    struct ba_batch_totals tot;
    if (ba_make_batches(ndjson, BATCH_EVENTS, DISTINCT_EVENTS, keep_batch, NULL, &tot) != 0 ||
        n_distinct == 0)
        ba_fail("cannot make the batches from %s", ndjson);
    unlink(ndjson);

    /* The ingest baseline: how fast this agent fills its spool in an outage. */
    struct ingest_result ing;
    ingest_run(&ing, &bk, ingest_n);
    {
        char idata[PATH_MAX + 64];
        snprintf(idata, sizeof idata, "%s/ingest-data", tmp_dir);
        bench_rm_tree(idata);
    }

    /* The spool an outage left behind. */
    char data[PATH_MAX + 32], sdir[PATH_MAX + 64];
    snprintf(data, sizeof data, "%s/data", tmp_dir);
    snprintf(sdir, sizeof sdir, "%s/spool", data);
    if (mkdir(data, 0700) != 0)
        ba_fail("%s: %s", data, strerror(errno));
    uint64_t max_bytes = target + target / 8 + ((uint64_t)64 << 20);
    rp__spool_opts so;
    rp__spool_opts_init(&so, sdir);
    so.max_bytes = max_bytes;
    so.fsync = RP__SPOOL_FSYNC_NEVER;
    rp__spool *sp;
    int rc = rp__spool_open(&so, &sp);
    if (rc != 0)
        ba_fail("open the spool %s: %s", sdir, rp_strerror(rc));
    uint64_t fill_events = 0, fill_batches = 0, fill_payload = 0, fill_raw = 0;
    int64_t tf = bench_now_ns();
    while (fill_payload < target) {
        const struct batch *b = &batches[fill_batches % n_distinct];
        rc = rp__spool_append(sp, b->gz, b->gz_len, b->events, RP__SPOOL_FLAG_GZIP, NULL);
        if (rc != 0)
            ba_fail("append to the spool: %s", rp_strerror(rc));
        fill_batches++;
        fill_events += b->events;
        fill_payload += b->gz_len;
        fill_raw += b->raw_len;
    }
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    rp__spool_close(sp);
    double fill_s = (double)(bench_now_ns() - tf) / 1e9;
    if (st.queued_events != fill_events || st.dropped_full_events != 0)
        ba_fail("the spool holds %llu events, not %llu", (unsigned long long)st.queued_events,
                (unsigned long long)fill_events);
    if (!warm && bench_make_cold(sdir) != 0)
        ba_fail("%s: %s", sdir, strerror(errno));
    for (uint32_t i = 0; i < n_distinct; i++)
        free(batches[i].gz);

    /* The agent drains it. */
    char cfg[PATH_MAX + 64], log[PATH_MAX + 64];
    snprintf(cfg, sizeof cfg, "%s/replay.json", tmp_dir);
    snprintf(log, sizeof log, "%s/replay.log", tmp_dir);
    static char text[16384];
    ba_format(text, sizeof text,
              "{\n  \"agent\": {\"data_dir\": \"%s\", \"plugin_dir\": \"%s\", "
              "\"log_level\": \"info\", \"health_interval_ms\": %d},\n"
              "  \"output\": {\"url\": \"%s\", \"format\": \"ndjson\", \"ca_file\": \"%s\", "
              "\"stdout\": false},\n"
              "  \"spool\": {\"max_bytes\": %llu, \"fsync\": \"batch\"},\n"
              "  \"plugins\": {}\n}\n",
              data, ba_paths.plugins, HEALTH_MS, bk.discard_url, bk.ca,
              (unsigned long long)max_bytes);
    if (bench_write_text(cfg, text, 0666) != 0)
        ba_fail("%s: %s", cfg, strerror(errno));
    double load_d0[3], load_d1[3];
    bench_loadavg(load_d0);
    double nginx0 = ba_tree_cpu_s(bk.nginx_pid), busy0 = ba_machine_busy_s();
    struct ba_agent a;
    ba_agent_start(&a, cfg, data, log);
    int wait_s = ba_wait_s(WAIT_S);
    int64_t deadline = bench_now_ns() + (int64_t)wait_s * 1000000000;
    json_t *last = NULL;
    int64_t end_real = 0, first_real = 0;
    for (;;) {
        json_t *doc;
        int64_t m;
        int ex = 0;
        int r = ba_agent_poll(&a, &doc, &m, &ex);
        if (r < 0) {
            ba_agent_show_log(&a);
            ba_fail("rampartd exited with status %d during the drain", ex);
        }
        if (r > 0) {
            if (!first_real)
                first_real = m;
            json_decref(last);
            last = doc;
            if (ba_get(doc, "upload.delivered_events") >= (long long)fill_events) {
                end_real = m;
                break;
            }
        }
        if (bench_now_ns() > deadline) {
            ba_agent_show_log(&a);
            ba_give_up("the spool was not drained within %d s (delivered %lld of %llu; "
                       "ingest baseline %.0f events/s): the machine was too slow or the "
                       "time budget (RP_BENCH_BUDGET_S) ran out",
                       wait_s, ba_get(last, "upload.delivered_events"),
                       (unsigned long long)fill_events, ing.events_s);
        }
        bench_sleep_ms(BA_POLL_MS);
    }
    double cpu_s = bench_proc_cpu_s(a.pid);
    uint64_t rss = bench_status_kb(a.pid, "VmHWM:");
    ba_agent_sample_threads(&a);
    double nginx_s = ba_tree_cpu_s(bk.nginx_pid) - nginx0;
    double busy_s = ba_machine_busy_s() - busy0;
    bench_loadavg(load_d1);
    double secs = (double)(end_real - a.t0_real) / 1e9;
    double events_s = (double)fill_events / secs;
    long long delivered = ba_get(last, "upload.delivered_events");
    long long dead = ba_get(last, "upload.dead_events");
    long long corrupt = ba_get(last, "spool.corrupt_records");
    long long torn = ba_get(last, "spool.cut_torn_records");
    long long dropped = ba_get(last, "spool.dropped_full_events");
    long long queued = ba_get(last, "spool.queued_events");
    long long requests = ba_get(last, "upload.requests");
    long long retries = ba_get(last, "upload.retries");
    long long sent = ba_get(last, "upload.sent_bytes");
    json_decref(last);
    json_t *threads = ba_agent_threads_json(&a);
    int exit_status = ba_agent_stop(&a);
    if (exit_status != 0)
        ba_agent_show_log(&a);
    ba_backend_stop(&bk);
    double load_end[3];
    bench_loadavg(load_end);
    ba_remove_tmp();

    int zero_loss = delivered >= (long long)fill_events && dead == 0 && corrupt == 0 && torn == 0 &&
                    dropped == 0;
    /* Without the baseline the goal cannot be judged: null, unless a loss
     * already decides it. */
    int ing_ok = !ing.missing[0];
    double ratio = ing_ok ? events_s / ing.events_s : 0;
    int met = zero_loss && ing_ok && ing.zero_loss && ratio >= GOAL_RATIO;
    fprintf(stderr, "%s: %.0f events/s, %.1f MB/s gzip (%.2f s), cpu %.2f s, rss %.1f MB\n",
            RP_BENCH_NAME, events_s, (double)fill_payload / 1e6 / secs, secs, cpu_s,
            (double)rss / 1e6);

    json_t *o = json_object();
    json_object_set_new(o, "bench", json_string("spool_replay"));
    json_object_set_new(o, "cpus", json_integer(bench_cpus()));
    json_object_set_new(o, "cpu_capacity", json_real(capacity));
    json_object_set_new(o, "load_average_start", ba_load_json(load_start));
    json_object_set_new(o, "load_average_drain_start", ba_load_json(load_d0));
    json_object_set_new(o, "load_average_drain_end", ba_load_json(load_d1));
    json_object_set_new(o, "load_average_end", ba_load_json(load_end));
    json_object_set_new(o, "spool_payload_bytes", json_integer((json_int_t)fill_payload));
    json_object_set_new(
        o, "spool_record_bytes",
        json_integer((json_int_t)(fill_payload + fill_batches * RP__SPOOL_HEADER_LEN)));
    json_object_set_new(o, "spool_ndjson_bytes", json_integer((json_int_t)fill_raw));
    json_object_set_new(o, "spool_batches", json_integer((json_int_t)fill_batches));
    json_object_set_new(o, "spool_events", json_integer((json_int_t)fill_events));
    json_object_set_new(o, "spool_max_bytes", json_integer((json_int_t)max_bytes));
    json_object_set_new(o, "distinct_batches", json_integer(n_distinct));
    json_object_set_new(o, "bytes_per_event_ndjson",
                        json_real((double)fill_raw / (double)fill_events));
    json_object_set_new(o, "bytes_per_event_gzip",
                        json_real((double)fill_payload / (double)fill_events));
    json_object_set_new(o, "fill_seconds", json_real(fill_s));
    json_object_set_new(
        o, "page_cache",
        json_string(warm ? "warm (RP_BENCH_REPLAY_WARM=1)" : "cold: synced, pages dropped"));
    json_object_set_new(o, "drain_seconds", json_real(secs));
    json_object_set_new(o, "first_status_seconds",
                        json_real((double)(first_real - a.t0_real) / 1e9));
    json_object_set_new(o, "events_s", json_real(events_s));
    json_object_set_new(o, "gzip_mb_s", json_real((double)fill_payload / 1e6 / secs));
    json_object_set_new(o, "ndjson_mb_s", json_real((double)fill_raw / 1e6 / secs));
    json_object_set_new(o, "batches_s", json_real((double)fill_batches / secs));
    json_object_set_new(o, "cpu_s", json_real(cpu_s));
    json_object_set_new(o, "cpu_s_per_million_events",
                        json_real(cpu_s / ((double)fill_events / 1e6)));
    json_object_set_new(o, "peak_rss_bytes", json_integer((json_int_t)rss));
    json_object_set_new(o, "nginx_cpu_s", json_real(nginx_s));
    json_object_set_new(o, "machine_busy_cpu_s", json_real(busy_s));
    json_object_set_new(o, "machine_busy_cores", json_real(busy_s / secs));
    json_object_set_new(o, "zero_loss", json_boolean(zero_loss));
    json_t *s = json_object();
    json_object_set_new(s, "upload.delivered_events", json_integer(delivered));
    json_object_set_new(s, "upload.dead_events", json_integer(dead));
    json_object_set_new(s, "upload.requests", json_integer(requests));
    json_object_set_new(s, "upload.retries", json_integer(retries));
    json_object_set_new(s, "upload.sent_bytes", json_integer(sent));
    json_object_set_new(s, "spool.queued_events", json_integer(queued));
    json_object_set_new(s, "spool.corrupt_records", json_integer(corrupt));
    json_object_set_new(s, "spool.cut_torn_records", json_integer(torn));
    json_object_set_new(s, "spool.dropped_full_events", json_integer(dropped));
    json_object_set_new(o, "status_at_end", s);
    json_object_set_new(o, "agent_exit_status", json_integer(exit_status));
    json_object_set_new(o, "threads_cpu_s", threads);
    json_object_set_new(o, "baseline_ingest_events_s",
                        ing_ok ? json_real(ing.events_s) : json_null());
    json_t *in = json_object();
    json_object_set_new(in, "events", json_integer((json_int_t)ing.events));
    if (!ing_ok)
        json_object_set_new(in, "missing", json_string(ing.missing));
    json_object_set_new(in, "seconds", ing_ok ? json_real(ing.seconds) : json_null());
    json_object_set_new(in, "events_s", ing_ok ? json_real(ing.events_s) : json_null());
    json_object_set_new(in, "cpu_s", json_real(ing.cpu_s));
    json_object_set_new(in, "zero_loss", ing_ok ? json_boolean(ing.zero_loss) : json_null());
    json_object_set_new(in, "synthetic_spooled_events", json_integer(ing.synthetic_spooled));
    json_object_set_new(in, "agent_own_events", json_integer(ing.own_events));
    json_object_set_new(in, "spool.appended_events", json_integer(ing.appended));
    json_object_set_new(in, "sink.encode_errors", json_integer(ing.encode_errors));
    json_object_set_new(in, "spool.dropped_full_events", json_integer(ing.dropped));
    json_object_set_new(in, "agent_exit_status", json_integer(ing.exit_status));
    json_object_set_new(o, "ingest", in);
    json_object_set_new(o, "baseline_note",
                        json_string("measured in this run (\"ingest\"): the same agent with "
                                    "collector_synthetic at rate 0 during an outage (output.url "
                                    "refuses connections), timed from its fork until every "
                                    "synthetic event was in the spool (RP_BENCH_INGEST_EVENTS)"));
    json_object_set_new(o, "ratio_to_ingest", ing_ok ? json_real(ratio) : json_null());
    json_object_set_new(o, "goal_ratio", json_real(GOAL_RATIO));
    json_object_set_new(o, "met", !ing_ok && zero_loss ? json_null() : json_boolean(met));
    json_object_set_new(
        o, "notes",
        json_string("The spool cycles over distinct_batches real gzip batches of the agent's "
                    "own exec events (event.id repeats across cycles): the uploader sends "
                    "stored ndjson+gzip batches as they are, so their content does not change "
                    "its work. Timing starts before the agent's fork (spool open included) "
                    "and ends at the status.json snapshot in which upload.delivered_events "
                    "reached spool_events (100 ms resolution). nginx terminates TLS on the "
                    "same 2 cores; the machine is shared (see load averages)."));
    rc = ba_json_finish(o, argc > 1 ? argv[1] : NULL);
    json_decref(o);
    return rc != 0 || !zero_loss || (ing_ok && !ing.zero_loss) ? 1 : 0;
}
