/*
 * tests/bench/bench_encode.c - NDJSON encoding of a realistic process.exec
 * event (bytes_per_event bytes of JSON), against jansson building the same flat
 * object (json_object_set_new) and serialising it (json_dumps) in the same
 * run.
 *
 * Usage: bench_encode OUTPUT.json. Prints one JSON object to stdout and
 * writes it to OUTPUT.json. Figures are medians of RUNS runs of about
 * RUN_SECONDS each; "mb_per_s" counts 10^6 bytes of NDJSON produced.
 *
 * Also, under "formats": what each backend adapter (core/output/output_format.h,
 * rp__format_build_body) costs on top, building the request body of a batch
 * of FORMAT_LINES such lines (before gzip), as lines per second, medians of
 * RUNS; ndjson and clickhouse send the lines as they are (a copy).
 */
#include "bench_common.h"

#include "runtime/event.h"
#include "runtime/fields.h"
#include "output/ndjson.h"
#include "output/output_format.h"

#include <jansson.h>

#define RUNS        5
#define RUN_SECONDS 0.4
/* The sink hands batches of about this size to compression. */
#define BATCH_BYTES (1u << 20)

static rp_field_id fid(const char *name, uint32_t type)
{
    rp_field_id id = 0;
    if (rp__field_intern(name, strlen(name), type, &id) != 0) {
        fprintf(stderr, "bench_encode: cannot intern %s\n", name);
        exit(1);
    }
    return id;
}

#define S(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof(lit) - 1                                                                       \
    }

static rp_event *make_event(void)
{
    rp_event *ev;
    if (rp__event_create(1, "process.exec", 0, &ev) != 0)
        exit(1);
    rp_str cat[] = {S("process")};
    rp_str args[] = {S("tar"), S("-czf"), S("/tmp/b.tgz"), S("-C"), S("/home/anna")};
    int rc = 0;
    rc |= rp__event_set_str_array(ev, fid("event.category", RP_TYPE_STR_ARRAY), cat, 1);
    rc |= rp__event_set_str(ev, fid("host.name", RP_TYPE_STR), "ws-lab-017", 10);
    rc |= rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), 48211);
    rc |= rp__event_set_str(ev, fid("process.entity_id", RP_TYPE_STR), "48211-91852", 11);
    rc |= rp__event_set_str(ev, fid("process.name", RP_TYPE_STR), "tar", 3);
    rc |= rp__event_set_str(ev, fid("process.executable", RP_TYPE_STR), "/usr/bin/tar", 12);
    rc |= rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), args, 5);
    const char *cmd = "tar -czf /tmp/b.tgz -C /home/anna";
    rc |= rp__event_set_str(ev, fid("process.command_line", RP_TYPE_STR), cmd, strlen(cmd));
    rc |= rp__event_set_str(ev, fid("process.working_directory", RP_TYPE_STR), "/home/anna", 10);
    rc |= rp__event_set_str(ev, fid("user.id", RP_TYPE_STR), "1000", 4);
    rc |= rp__event_set_str(ev, fid("user.name", RP_TYPE_STR), "anna", 4);
    rc |= rp__event_set_i64(ev, fid("process.parent.pid", RP_TYPE_I64), 1201);
    rc |= rp__event_set_str(ev, fid("process.parent.entity_id", RP_TYPE_STR), "1201-88810", 10);
    rc |= rp__event_set_str(ev, fid("process.parent.name", RP_TYPE_STR), "bash", 4);
    rc |= rp__event_set_str(ev, fid("process.parent.executable", RP_TYPE_STR), "/bin/bash", 9);
    rc |= rp__event_set_str(ev, fid("process.hash.sha256", RP_TYPE_STR),
                            "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed", 64);
    if (rc != 0) {
        fprintf(stderr, "bench_encode: building the event failed\n");
        exit(1);
    }
    return ev;
}

/* --- ours ------------------------------------------------------------- */

static size_t line_bytes;

static double run_ours(const rp_event *ev, long n, rp__buf *b)
{
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        if (rp__ndjson_encode(ev, b) != 0) {
            fprintf(stderr, "bench_encode: encode failed\n");
            exit(1);
        }
        if (b->len >= BATCH_BYTES)
            rp__buf_reset(b);
    }
    return (double)(bench_now_ns() - t0) / 1e9;
}

/* --- jansson baseline: the same flat object, field by field ------------ */

static json_t *to_jansson(const rp_event *ev)
{
    json_t *obj = json_object();
    uint32_t n = rp__event_field_count(ev);
    for (uint32_t i = 0; i < n; i++) {
        rp__field_view v;
        rp__event_field_at(ev, i, &v);
        const char *key = rp__field_name(v.id, NULL);
        json_t *val = NULL;
        switch (v.type) {
        case RP_TYPE_I64:
            val = json_integer(v.i64);
            break;
        case RP_TYPE_U64:
            val = json_integer((json_int_t)v.u64);
            break;
        case RP_TYPE_BOOL:
            val = json_boolean(v.u64);
            break;
        case RP_TYPE_STR:
            val = json_stringn(v.ptr, v.len);
            break;
        case RP_TYPE_TIMESTAMP: {
            char ts[RP__JSON_TIMESTAMP_MAX + 1];
            size_t len = rp__json_format_timestamp(v.i64, ts);
            val = json_stringn(ts, len);
            break;
        }
        case RP_TYPE_IP: {
            rp_ip ip;
            char text[RP__IP_STR_MAX + 1];
            memcpy(&ip, v.ptr, sizeof ip);
            size_t len = rp__ip_format(&ip, text);
            val = json_stringn(text, len);
            break;
        }
        case RP_TYPE_STR_ARRAY:
            val = json_array();
            for (uint32_t k = 0; k < v.count; k++) {
                const char *s;
                uint64_t len;
                rp__event_get_str_array_item(ev, v.id, k, &s, &len);
                json_array_append_new(val, json_stringn(s, len));
            }
            break;
        default: /* bytes: not in this event */
            val = json_null();
            break;
        }
        json_object_set_new(obj, key, val);
    }
    return obj;
}

static double run_jansson(const rp_event *ev, long n)
{
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        json_t *obj = to_jansson(ev);
        char *text = json_dumps(obj, JSON_COMPACT);
        if (!text) {
            fprintf(stderr, "bench_encode: json_dumps failed\n");
            exit(1);
        }
        free(text);
        json_decref(obj);
    }
    return (double)(bench_now_ns() - t0) / 1e9;
}

/* --- the backend formats: one batch's request body ---------------------- */

#define FORMAT_LINES 1000

struct fmt_ctx {
    enum rp__format f;
    const char *lines;
    size_t len;
    rp__buf *body;
};

static double run_format(const struct fmt_ctx *c, long n)
{
    const rp__format_ctx ctx = {.host_name = "ws-lab-017",
                                .agent_id = "0b6f2c1e-6a3d-4c1b-9d7e-2f1a5b8c9d0e",
                                .agent_version = "1.0.0"};
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        rp__buf_reset(c->body);
        rp__format_build_info info;
        int rc = rp__format_build_body(c->f, &ctx, c->lines, c->len, c->body, &info);
        if (rc != 0) {
            fprintf(stderr, "bench_encode: %s body: %s (%s)\n", rp__format_name(c->f),
                    rp_strerror(rc), info.why ? info.why : "");
            exit(1);
        }
    }
    return (double)(bench_now_ns() - t0) / 1e9;
}

/* --- harness ------------------------------------------------------------ */

/* Events for one run of about RUN_SECONDS, from a short trial. */
static long calibrate(double (*trial)(long, void *), void *arg)
{
    long n = 1000;
    for (;;) {
        double t = trial(n, arg);
        if (t > 0.05)
            return (long)((double)n * RUN_SECONDS / t) + 1;
        n *= 4;
    }
}

struct ctx {
    const rp_event *ev;
    rp__buf *b;
};

static double trial_ours(long n, void *arg)
{
    struct ctx *c = arg;
    return run_ours(c->ev, n, c->b);
}

static double trial_jansson(long n, void *arg)
{
    struct ctx *c = arg;
    return run_jansson(c->ev, n);
}

static double trial_format(long n, void *arg)
{
    return run_format(arg, n);
}

/* The two encodings say the same thing: a check that the comparison is fair. */
static void check_same(const rp_event *ev)
{
    rp__buf b;
    rp__buf_init(&b, BATCH_BYTES);
    if (rp__ndjson_encode(ev, &b) != 0)
        exit(1);
    line_bytes = b.len;
    json_error_t jerr;
    json_t *ours = json_loadb(b.data, b.len - 1, 0, &jerr);
    json_t *theirs = to_jansson(ev);
    if (!ours || !json_equal(ours, theirs)) {
        fprintf(stderr, "bench_encode: encoders disagree: %.*s\n", (int)b.len, b.data);
        exit(1);
    }
    json_decref(ours);
    json_decref(theirs);
    rp__buf_free(&b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT.json\n", argv[0]);
        return 64;
    }
    rp_event *ev = make_event();
    check_same(ev);

    rp__buf b;
    rp__buf_init(&b, 2 * BATCH_BYTES);
    struct ctx c = {ev, &b};
    long n_ours = calibrate(trial_ours, &c);
    long n_jansson = calibrate(trial_jansson, &c);

    double ours[RUNS], theirs[RUNS];
    for (int r = 0; r < RUNS; r++) {
        /* Interleaved, so both see the same machine conditions. */
        ours[r] = (double)n_ours / run_ours(ev, n_ours, &b);
        theirs[r] = (double)n_jansson / run_jansson(ev, n_jansson);
    }
    double ours_sorted[RUNS], theirs_sorted[RUNS];
    memcpy(ours_sorted, ours, sizeof ours);
    memcpy(theirs_sorted, theirs, sizeof theirs);
    double eps = bench_median(ours_sorted, RUNS), base = bench_median(theirs_sorted, RUNS);

    /* The formats, on a batch of FORMAT_LINES lines of this event. */
    rp__buf lines, body;
    rp__buf_init(&lines, 2 * BATCH_BYTES);
    rp__buf_init(&body, 8 * BATCH_BYTES);
    for (int i = 0; i < FORMAT_LINES; i++)
        if (rp__ndjson_encode(ev, &lines) != 0)
            return 1;
    char formats[2048];
    size_t flen = 0;
    for (int f = 0; f < RP__FORMAT_COUNT_; f++) {
        struct fmt_ctx fc = {(enum rp__format)f, lines.data, lines.len, &body};
        long nb = calibrate(trial_format, &fc);
        double v[RUNS];
        for (int r = 0; r < RUNS; r++)
            v[r] = (double)nb * FORMAT_LINES / run_format(&fc, nb);
        double med = bench_median(v, RUNS);
        int w =
            snprintf(formats + flen, sizeof formats - flen,
                     "%s\"%s\":{\"lines_per_s\":%.0f,\"body_bytes_per_line\":%.1f}", f ? "," : "",
                     rp__format_name((enum rp__format)f), med, (double)body.len / FORMAT_LINES);
        if (w < 0 || (size_t)w >= sizeof formats - flen) {
            fprintf(stderr, "bench_encode: result too long\n");
            return 1;
        }
        flen += (size_t)w;
    }
    rp__buf_free(&lines);
    rp__buf_free(&body);

    double load1 = bench_load1();
    long cpus = bench_cpus();

    char json[4096];
    int len = snprintf(json, sizeof json,
                       "{\"name\":\"encode\",\"unit\":\"events/s\",\"events_per_s\":%.0f,"
                       "\"mb_per_s\":%.1f,\"ns_per_event\":%.1f,\"bytes_per_event\":%zu,"
                       "\"baseline\":{\"name\":\"jansson json_object_set_new + json_dumps\","
                       "\"events_per_s\":%.0f,\"mb_per_s\":%.1f},"
                       "\"ratio\":%.2f,\"runs\":%d,"
                       "\"samples\":{\"events_per_s\":[%.0f,%.0f,%.0f,%.0f,%.0f],"
                       "\"baseline_events_per_s\":[%.0f,%.0f,%.0f,%.0f,%.0f]},"
                       "\"formats\":{\"batch_lines\":%d,%s},"
                       "\"cpus\":%ld,\"load1\":%.2f}\n",
                       eps, eps * (double)line_bytes / 1e6, 1e9 / eps, line_bytes, base,
                       base * (double)line_bytes / 1e6, eps / base, RUNS, ours[0], ours[1], ours[2],
                       ours[3], ours[4], theirs[0], theirs[1], theirs[2], theirs[3], theirs[4],
                       FORMAT_LINES, formats, cpus, load1);
    if (len < 0 || (size_t)len >= sizeof json) {
        fprintf(stderr, "bench_encode: result too long\n");
        return 1;
    }
    fputs(json, stdout);
    FILE *f = fopen(argv[1], "w");
    if (!f || fputs(json, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "bench_encode: cannot write %s\n", argv[1]);
        return 1;
    }
    rp__buf_free(&b);
    rp__event_release(ev);
    return 0;
}
