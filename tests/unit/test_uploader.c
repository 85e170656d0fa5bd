/*
 * tests/unit/test_uploader.c - the uploader's rules (docs/uploader.md) against
 * a fake backend: a real spool and a real dead-letter folder, and a scripted
 * transport (rp__uploader_transport) in place of HTTPS. Each test checks what
 * an operator would: what the backend received and under which
 * Idempotency-Key, what left the spool, what is in the dead-letter folder,
 * when a batch was sent again, and the counters status.json shows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include "output/gzip.h"
#include "output/retry.h"
#include "output/spool.h"
#include "output/uploader.h"

#include <rampart/plugin.h>

#include <pthread.h>
#include <time.h>

/* ---- the fake backend ------------------------------------------------------ */

/* One scripted answer; rc != 0 means no HTTP answer (transport says why). */
struct answer {
    int rc;
    long status;
    enum rp__http_transport transport;
    const char *retry_after;
    const char *body;
};

#define MAX_REQ 64

struct request {
    char key[96];
    char *body; /* as sent, gunzipped when sent with Content-Encoding: gzip */
    size_t len;
    int gzipped;
    int64_t at_ns; /* CLOCK_MONOTONIC when it arrived */
};

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    const struct answer *script;
    size_t nscript;
    struct request req[MAX_REQ];
    size_t nreq;
    size_t hold_at; /* request number (from 1) that waits for release; 0 = none */
    int released;
    int aborted;
    rp__gzip *gz;
    char alerts[16][64];
    size_t nalerts;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *header(const rp__http_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].name, name) == 0)
            return h[i].value;
    return NULL;
}

static int fake_post(void *arg, const rp__http_header *headers, size_t nheaders, const void *body,
                     size_t len, rp__http_response *resp)
{
    struct fake *f = arg;
    memset(resp, 0, sizeof *resp);
    resp->body = "";
    pthread_mutex_lock(&f->mu);
    if (f->aborted || f->nreq >= MAX_REQ) {
        pthread_mutex_unlock(&f->mu);
        resp->transport = RP__HTTP_TRANSPORT_ABORTED;
        return RP_ERR_STOPPED;
    }
    struct request *r = &f->req[f->nreq++];
    size_t n = f->nreq;
    const char *key = header(headers, nheaders, "Idempotency-Key");
    snprintf(r->key, sizeof r->key, "%s", key ? key : "");
    const char *enc = header(headers, nheaders, "Content-Encoding");
    r->gzipped = enc && strcmp(enc, "gzip") == 0;
    rp__buf plain;
    rp__buf_init(&plain, 64u << 20);
    /* cmocka's asserts may not run on the uploader's thread: a body that
     * cannot be read is recorded as such and fails the test's comparison. */
    int ok = r->gzipped ? rp__gzip_decompress(f->gz, body, len, &plain) == 0
                        : rp__buf_append(&plain, body, len) == 0;
    if (!ok) {
        rp__buf_reset(&plain);
        rp__buf_append(&plain, "<unreadable body>", 17);
    }
    r->body = malloc(plain.len + 1);
    if (!r->body)
        abort();
    memcpy(r->body, plain.data, plain.len);
    r->body[plain.len] = '\0';
    r->len = plain.len;
    rp__buf_free(&plain);
    r->at_ns = mono_ns();
    pthread_cond_broadcast(&f->cv);
    while (n == f->hold_at && !f->released && !f->aborted)
        pthread_cond_wait(&f->cv, &f->mu);
    int aborted = f->aborted;
    pthread_mutex_unlock(&f->mu);
    if (aborted) {
        resp->transport = RP__HTTP_TRANSPORT_ABORTED;
        return RP_ERR_STOPPED;
    }
    struct answer a = {.status = 200};
    if (n <= f->nscript)
        a = f->script[n - 1];
    if (a.rc != 0) {
        resp->transport = a.transport;
        snprintf(resp->error, sizeof resp->error, "%s",
                 a.body ? a.body : "Operation timed out after 30000 milliseconds");
        return a.rc;
    }
    resp->status = a.status;
    if (a.retry_after) {
        resp->has_retry_after = 1;
        snprintf(resp->retry_after, sizeof resp->retry_after, "%s", a.retry_after);
    }
    resp->body = a.body ? a.body : "";
    resp->body_len = strlen(resp->body);
    return 0;
}

static void fake_abort(void *arg)
{
    struct fake *f = arg;
    pthread_mutex_lock(&f->mu);
    f->aborted = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void fake_abort_clear(void *arg)
{
    struct fake *f = arg;
    pthread_mutex_lock(&f->mu);
    f->aborted = 0;
    pthread_mutex_unlock(&f->mu);
}

static void on_alert(void *arg, const char *rule_id, const char *rule_name, int severity,
                     const char *message)
{
    (void)rule_name;
    (void)severity;
    (void)message;
    struct fake *f = arg;
    pthread_mutex_lock(&f->mu);
    if (f->nalerts < 16)
        snprintf(f->alerts[f->nalerts++], sizeof f->alerts[0], "%s", rule_id);
    pthread_mutex_unlock(&f->mu);
}

static size_t requests_seen(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    size_t n = f->nreq;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Waits (at most 10 s) until the fake has received n requests. */
static void wait_requests(struct fake *f, size_t n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&f->mu);
    while (f->nreq < n)
        if (pthread_cond_timedwait(&f->cv, &f->mu, &until) != 0)
            break;
    size_t got = f->nreq;
    pthread_mutex_unlock(&f->mu);
    if (got < n)
        fail_msg("the backend got %zu requests in 10 s, expected %zu", got, n);
}

static void release(struct fake *f)
{
    pthread_mutex_lock(&f->mu);
    f->released = 1;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* ---- the fixture: spool, dead-letter folder, uploader ------------------------ */

struct world {
    char dir[PATH_MAX];
    char spool_dir[PATH_MAX];
    char dead_dir[PATH_MAX];
    rp__spool *sp;
    rp__uploader *up;
    struct fake f;
    rp__uploader_transport tr;
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    assert_int_equal(tu_mkdtemp("uploader", w->dir, sizeof w->dir), 0);
    assert_non_null(tu_path(w->spool_dir, sizeof w->spool_dir, w->dir, "spool"));
    assert_non_null(tu_path(w->dead_dir, sizeof w->dead_dir, w->dir, "dead"));
    rp__spool_opts o;
    rp__spool_opts_init(&o, w->spool_dir);
    assert_int_equal(rp__spool_open(&o, &w->sp), 0);
    pthread_mutex_init(&w->f.mu, NULL);
    pthread_cond_init(&w->f.cv, NULL);
    assert_int_equal(rp__gzip_create(RP__GZIP_LEVEL, &w->f.gz), 0);
    w->tr.post = fake_post;
    w->tr.abort = fake_abort;
    w->tr.abort_clear = fake_abort_clear;
    w->tr.arg = &w->f;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    rp__uploader_destroy(w->up);
    rp__spool_close(w->sp);
    for (size_t i = 0; i < w->f.nreq; i++)
        free(w->f.req[i].body);
    rp__gzip_destroy(w->f.gz);
    pthread_cond_destroy(&w->f.cv);
    pthread_mutex_destroy(&w->f.mu);
    tu_rm_rf(w->dir);
    free(w);
    return 0;
}

static uint32_t count_lines(const char *s)
{
    uint32_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* Appends a batch of lines, stored gzipped or as they are; returns its
 * Idempotency-Key. */
static void append(struct world *w, const char *lines, int gzipped, char key[RP__SPOOL_KEY_MAX])
{
    rp__buf z;
    rp__buf_init(&z, 1u << 20);
    const void *data = lines;
    size_t len = strlen(lines);
    if (gzipped) {
        assert_int_equal(rp__gzip_compress(w->f.gz, lines, len, &z), 0);
        data = z.data;
        len = z.len;
    }
    uint64_t id;
    assert_int_equal(rp__spool_append(w->sp, data, len, count_lines(lines),
                                      gzipped ? RP__SPOOL_FLAG_GZIP : 0, &id),
                     0);
    rp__buf_free(&z);
    rp__spool_stats st;
    rp__spool_get_stats(w->sp, &st);
    rp__spool_batch b = {.id = id, .uid = st.uid};
    rp__spool_idempotency_key(&b, key);
}

static void start(struct world *w, enum rp__format format, int gzip, const struct answer *script,
                  size_t nscript)
{
    w->f.script = script;
    w->f.nscript = nscript;
    rp__uploader_opts o = {
        .spool = w->sp,
        .url = "https://backend.invalid:8443/ingest",
        .format = format,
        .gzip = gzip,
        .deadletter_dir = w->dead_dir,
        .deadletter_max_bytes = 1u << 20,
        .host_name = "host-a",
        .agent_id = "agent-1",
        /* Backoff of at most 2 ms, so that only a Retry-After makes a
         * retry wait long enough to measure. */
        .backoff_base_ms = 1,
        .backoff_cap_ms = 2,
        .on_alert = on_alert,
        .alert_arg = &w->f,
        .transport = &w->tr,
    };
    char err[512] = "";
    int rc = rp__uploader_create(&o, &w->up, err, sizeof err);
    if (rc != 0)
        fail_msg("rp__uploader_create: %s (%s)", rp_strerror(rc), err);
    assert_int_equal(rp__uploader_start(w->up), 0);
}

static rp__uploader_stats stats(struct world *w)
{
    rp__uploader_stats s;
    rp__uploader_get_stats(w->up, &s);
    return s;
}

static uint64_t queued(struct world *w)
{
    rp__spool_stats st;
    rp__spool_get_stats(w->sp, &st);
    return st.queued_batches;
}

/* Waits (at most 10 s) until the spool holds `left` batches and the
 * uploader has settled them (acked, or paused). */
static void wait_queued(struct world *w, uint64_t left)
{
    for (int i = 0; i < 10000 && queued(w) != left; i++)
        usleep(1000);
    assert_int_equal(queued(w), left);
}

/* The files of the dead-letter folder ending in suffix, their contents
 * concatenated in name order (= age order); NULL when there are none. */
static char *dead_letters(struct world *w, const char *suffix, int *count)
{
    char names[32][256];
    int n = 0;
    DIR *d = opendir(w->dead_dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 32) {
        size_t l = strlen(e->d_name), sl = strlen(suffix);
        if (l > sl && strcmp(e->d_name + l - sl, suffix) == 0)
            snprintf(names[n++], sizeof names[0], "%s", e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    *count = n;
    if (n == 0)
        return NULL;
    size_t cap = 1, len = 0;
    char *all = calloc(1, 1);
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        assert_non_null(tu_path(path, sizeof path, w->dead_dir, names[i]));
        char *t = tu_read(path);
        assert_non_null(t);
        size_t tl = strlen(t);
        cap = len + tl + 1;
        all = realloc(all, cap);
        assert_non_null(all);
        memcpy(all + len, t, tl + 1);
        len += tl;
        free(t);
    }
    return all;
}

static int alerted(struct world *w, const char *rule_id)
{
    int n = 0;
    pthread_mutex_lock(&w->f.mu);
    for (size_t i = 0; i < w->f.nalerts; i++)
        n += strcmp(w->f.alerts[i], rule_id) == 0;
    pthread_mutex_unlock(&w->f.mu);
    return n;
}

#define LINE(n)                                                                                    \
    "{\"@timestamp\":\"2026-01-01T00:00:0" #n ".000Z\",\"event.id\":\"id-" #n                      \
    "\",\"event.kind\":\"event\",\"message\":\"m" #n "\"}\n"

/* ---- 2xx and 409: delivered ----------------------------------------------------- */

static void test_2xx_delivers_in_order(void **state)
{
    struct world *w = *state;
    char k1[RP__SPOOL_KEY_MAX], k2[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2) LINE(3), 0, k1);
    append(w, LINE(4) LINE(5), 0, k2);
    static const struct answer script[] = {{.status = 200}, {.status = 204}};
    start(w, RP__FORMAT_CLICKHOUSE, 0, script, 2);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    assert_int_equal(w->f.nreq, 2);
    assert_string_equal(w->f.req[0].key, k1);
    assert_string_equal(w->f.req[0].body, LINE(1) LINE(2) LINE(3));
    assert_string_equal(w->f.req[1].key, k2);
    assert_string_equal(w->f.req[1].body, LINE(4) LINE(5));
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.requests, 2);
    assert_int_equal(s.delivered_batches, 2);
    assert_int_equal(s.delivered_events, 5);
    assert_int_equal(s.sent_bytes, strlen(LINE(1) LINE(2) LINE(3) LINE(4) LINE(5)));
    assert_int_equal(s.retries, 0);
    assert_int_equal(s.dead_batches, 0);
    assert_int_equal(s.last_status, 204);
    assert_string_equal(s.last_error, "");
    assert_true(s.last_delivered_ns > 0);
    int n;
    assert_null(dead_letters(w, ".ndjson", &n));
}

static void test_409_is_delivered(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2), 0, k);
    static const struct answer script[] = {{.status = 409, .body = "duplicate"}};
    start(w, RP__FORMAT_NDJSON, 0, script, 1);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    assert_int_equal(w->f.nreq, 1);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.delivered_batches, 1);
    assert_int_equal(s.delivered_events, 2);
    assert_int_equal(s.dead_events, 0);
    assert_int_equal(s.retries, 0);
    assert_int_equal(s.last_status, 409);
    int n;
    assert_null(dead_letters(w, ".ndjson", &n));
}

/* ---- 413: halves -------------------------------------------------------------- */

static void test_413_sends_halves_with_their_own_keys(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    /* Stored gzipped and sent gzipped: the first request carries the stored
     * bytes as they are, the halves must be decoded and compressed anew. */
    append(w, LINE(1) LINE(2) LINE(3) LINE(4), 1, k);
    static const struct answer script[] = {
        {.status = 413, .body = "Payload Too Large"}, {.status = 200}, {.status = 200}};
    start(w, RP__FORMAT_CLICKHOUSE, 1, script, 3);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    assert_int_equal(w->f.nreq, 3);
    char want[64];
    assert_string_equal(w->f.req[0].key, k);
    assert_true(w->f.req[0].gzipped);
    assert_string_equal(w->f.req[0].body, LINE(1) LINE(2) LINE(3) LINE(4));
    snprintf(want, sizeof want, "%s.1", k);
    assert_string_equal(w->f.req[1].key, want);
    assert_true(w->f.req[1].gzipped);
    assert_string_equal(w->f.req[1].body, LINE(1) LINE(2));
    snprintf(want, sizeof want, "%s.2", k);
    assert_string_equal(w->f.req[2].key, want);
    assert_string_equal(w->f.req[2].body, LINE(3) LINE(4));
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.splits, 1);
    assert_int_equal(s.requests, 3);
    assert_int_equal(s.delivered_batches, 1);
    assert_int_equal(s.delivered_events, 4);
    assert_int_equal(s.dead_events, 0);
}

static void test_413_of_one_line_is_a_dead_letter(void **state)
{
    struct world *w = *state;
    char k1[RP__SPOOL_KEY_MAX], k2[RP__SPOOL_KEY_MAX];
    append(w, LINE(1), 0, k1);
    append(w, LINE(2), 0, k2);
    static const struct answer script[] = {{.status = 413}, {.status = 200}};
    start(w, RP__FORMAT_NDJSON, 0, script, 2);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    /* The one line cannot get smaller: kept aside, and the next batch goes. */
    assert_int_equal(w->f.nreq, 2);
    assert_string_equal(w->f.req[1].key, k2);
    int n;
    char *dead = dead_letters(w, ".ndjson", &n);
    assert_int_equal(n, 1);
    assert_string_equal(dead, LINE(1));
    free(dead);
    char *note = dead_letters(w, ".json", &n);
    assert_int_equal(n, 1);
    assert_non_null(strstr(note, "\"http_status\":413"));
    assert_non_null(strstr(note, k1));
    free(note);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.dead_batches, 1);
    assert_int_equal(s.dead_events, 1);
    assert_int_equal(s.delivered_events, 1);
    assert_int_equal(alerted(w, "rampart.upload.dead_letter"), 1);
}

/* ---- per-line and per-batch refusals in the body --------------------------------- */

static void test_elastic_items_ack_dead_letter_and_resend(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2) LINE(3), 0, k);
    static const struct answer script[] = {
        {.status = 200,
         .body = "{\"took\":3,\"errors\":true,\"items\":["
                 "{\"create\":{\"_id\":\"id-1\",\"status\":201}},"
                 "{\"create\":{\"_id\":\"id-2\",\"status\":400,\"error\":{\"type\":"
                 "\"mapper_parsing_exception\",\"reason\":\"failed to parse\"}}},"
                 "{\"create\":{\"_id\":\"id-3\",\"status\":429,\"error\":{\"type\":"
                 "\"es_rejected_execution_exception\",\"reason\":\"queue full\"}}}]}"},
        {.status = 200,
         .body = "{\"took\":1,\"errors\":false,\"items\":[{\"create\":{\"_id\":\"id-3\","
                 "\"status\":201}}]}"},
    };
    start(w, RP__FORMAT_ELASTIC_BULK, 0, script, 2);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    assert_int_equal(w->f.nreq, 2);
    assert_string_equal(w->f.req[0].key, k);
    assert_string_equal(
        w->f.req[0].body,
        "{\"create\":{\"_id\":\"id-1\"}}\n" LINE(1) "{\"create\":{\"_id\":\"id-2\"}}\n" LINE(
            2) "{\"create\":{\"_id\":\"id-3\"}}\n" LINE(3));
    /* Only the line the backend asked to have again is sent again. */
    char want[64];
    snprintf(want, sizeof want, "%sr", k);
    assert_string_equal(w->f.req[1].key, want);
    assert_string_equal(w->f.req[1].body, "{\"create\":{\"_id\":\"id-3\"}}\n" LINE(3));
    int n;
    char *dead = dead_letters(w, ".ndjson", &n);
    assert_int_equal(n, 1);
    assert_string_equal(dead, LINE(2));
    free(dead);
    char *note = dead_letters(w, ".json", &n);
    assert_non_null(strstr(note, "lines refused by the backend"));
    assert_non_null(strstr(note, "mapper_parsing_exception"));
    free(note);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.delivered_batches, 1);
    assert_int_equal(s.delivered_events, 2);
    assert_int_equal(s.dead_batches, 1);
    assert_int_equal(s.dead_events, 1);
    assert_int_equal(s.requests, 2);
}

static void test_splunk_invalid_event_number(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2) LINE(3), 0, k);
    static const struct answer script[] = {
        {.status = 400,
         .body = "{\"text\":\"Invalid data format\",\"code\":6,"
                 "\"invalid-event-number\":1}"},
        {.status = 200, .body = "{\"text\":\"Success\",\"code\":0}"},
    };
    start(w, RP__FORMAT_SPLUNK_HEC, 0, script, 2);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    /* HEC took line 0, refuses line 1, never looked at line 2. */
    assert_int_equal(w->f.nreq, 2);
    assert_int_equal(count_lines(w->f.req[0].body), 3);
    assert_int_equal(count_lines(w->f.req[1].body), 1);
    assert_non_null(strstr(w->f.req[1].body, "\"event.id\":\"id-3\""));
    char want[64];
    snprintf(want, sizeof want, "%sr", k);
    assert_string_equal(w->f.req[1].key, want);
    int n;
    char *dead = dead_letters(w, ".ndjson", &n);
    assert_int_equal(n, 1);
    assert_string_equal(dead, LINE(2));
    free(dead);
    char *note = dead_letters(w, ".json", &n);
    assert_non_null(strstr(note, "HEC code 6"));
    free(note);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.delivered_events, 2);
    assert_int_equal(s.dead_events, 1);
}

static void test_loki_refusal_is_a_dead_letter(void **state)
{
    struct world *w = *state;
    char k1[RP__SPOOL_KEY_MAX], k2[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2), 0, k1);
    append(w, LINE(3), 0, k2);
    static const struct answer script[] = {
        {.status = 400, .body = "entry for stream '{job=\"rampart\"}' has timestamp too old"},
        {.status = 204},
    };
    start(w, RP__FORMAT_LOKI, 0, script, 2);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    assert_int_equal(w->f.nreq, 2); /* no resend of the refused batch */
    assert_string_equal(w->f.req[1].key, k2);
    int n;
    char *dead = dead_letters(w, ".ndjson", &n);
    assert_int_equal(n, 1);
    assert_string_equal(dead, LINE(1) LINE(2));
    free(dead);
    char *note = dead_letters(w, ".json", &n);
    assert_non_null(strstr(note, "timestamp too old"));
    assert_non_null(strstr(note, "\"http_status\":400"));
    free(note);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.dead_batches, 1);
    assert_int_equal(s.dead_events, 2);
    assert_int_equal(s.delivered_batches, 1);
    assert_int_equal(s.delivered_events, 1);
    assert_int_equal(s.paused, 0);
    assert_int_equal(alerted(w, "rampart.upload.dead_letter"), 1);
}

static void test_otlp_rejected_records_dead_letter_the_batch(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2), 0, k);
    static const struct answer script[] = {
        {.status = 200,
         .body = "{\"partialSuccess\":{\"rejectedLogRecords\":\"1\","
                 "\"errorMessage\":\"body too deep\"}}"},
    };
    start(w, RP__FORMAT_OTLP, 0, script, 1);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    /* OTLP forbids a resend and does not say which record: all kept aside. */
    assert_int_equal(w->f.nreq, 1);
    int n;
    char *dead = dead_letters(w, ".ndjson", &n);
    assert_int_equal(n, 1);
    assert_string_equal(dead, LINE(1) LINE(2));
    free(dead);
    char *note = dead_letters(w, ".json", &n);
    assert_non_null(strstr(note, "1 log records rejected"));
    assert_non_null(strstr(note, "body too deep"));
    free(note);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.dead_events, 2);
    assert_int_equal(s.delivered_events, 0);
    assert_int_equal(s.delivered_batches, 0);
    assert_int_equal(s.retries, 0);
}

/* ---- 401/403: pause -------------------------------------------------------------- */

static void pause_until_resume(struct world *w, long status)
{
    char k1[RP__SPOOL_KEY_MAX], k2[RP__SPOOL_KEY_MAX];
    append(w, LINE(1), 0, k1);
    append(w, LINE(2) LINE(3), 0, k2);
    struct answer script[] = {{.status = status, .body = "{\"error\":\"bad token\"}"},
                              {.status = 200}};
    start(w, RP__FORMAT_NDJSON, 0, script, 2);
    wait_queued(w, 1);
    for (int i = 0; i < 10000 && !stats(w).paused; i++)
        usleep(1000);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.paused, 1);
    assert_int_equal(s.pauses, 1);
    assert_int_equal(s.last_status, status);
    assert_int_equal(s.dead_batches, 1);
    assert_int_equal(s.dead_events, 1);
    assert_int_equal(alerted(w, "rampart.upload.paused"), 1);
    int n;
    char *dead = dead_letters(w, ".ndjson", &n);
    assert_int_equal(n, 1);
    assert_string_equal(dead, LINE(1));
    free(dead);
    /* Paused: the second batch stays in the spool, nothing is sent. */
    usleep(200 * 1000);
    assert_int_equal(requests_seen(&w->f), 1);
    assert_int_equal(queued(w), 1);

    rp__uploader_resume(w->up);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);
    assert_int_equal(w->f.nreq, 2);
    assert_string_equal(w->f.req[1].key, k2);
    s = stats(w);
    assert_int_equal(s.paused, 0);
    assert_int_equal(s.delivered_events, 2);
}

static void test_401_pauses_until_resume(void **state)
{
    pause_until_resume(*state, 401);
}

static void test_403_pauses_until_resume(void **state)
{
    pause_until_resume(*state, 403);
}

/* ---- 5xx and no answer: retry ----------------------------------------------------- */

static void test_503_waits_for_retry_after(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2), 0, k);
    static const struct answer script[] = {
        {.status = 503, .retry_after = "1", .body = "maintenance"}, {.status = 200}};
    w->f.hold_at = 2;
    start(w, RP__FORMAT_NDJSON, 0, script, 2);
    wait_requests(&w->f, 2);
    /* While the resend is in flight, status shows the failure it follows. */
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.retries, 1);
    assert_int_equal(s.last_status, 503);
    assert_non_null(strstr(s.last_error, "HTTP 503"));
    assert_int_equal(s.delivered_batches, 0);
    assert_int_equal(queued(w), 1);
    release(&w->f);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    /* The same batch, the same key, and not before the server said (the
     * backoff alone is at most 2 ms). */
    assert_int_equal(w->f.nreq, 2);
    assert_string_equal(w->f.req[0].key, k);
    assert_string_equal(w->f.req[1].key, k);
    assert_string_equal(w->f.req[1].body, w->f.req[0].body);
    assert_true(w->f.req[1].at_ns - w->f.req[0].at_ns >= (int64_t)1000 * 1000000);
    s = stats(w);
    assert_int_equal(s.delivered_events, 2);
    assert_int_equal(s.last_status, 200);
    assert_string_equal(s.last_error, "");
    assert_int_equal(s.dead_events, 0);
}

static void test_500_is_retried_a_bounded_number_of_times(void **state)
{
    struct world *w = *state;
    char k1[RP__SPOOL_KEY_MAX], k2[RP__SPOOL_KEY_MAX];
    append(w, LINE(1), 0, k1);
    append(w, LINE(2), 0, k2);
    struct answer script[RP__RETRY_SERVER_ERROR_MAX + 1];
    for (size_t i = 0; i < RP__RETRY_SERVER_ERROR_MAX; i++)
        script[i] = (struct answer){.status = 500, .body = "internal error"};
    script[RP__RETRY_SERVER_ERROR_MAX] = (struct answer){.status = 200};
    start(w, RP__FORMAT_NDJSON, 0, script, RP__RETRY_SERVER_ERROR_MAX + 1);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    /* A poison batch does not block the spool forever. */
    assert_int_equal(w->f.nreq, RP__RETRY_SERVER_ERROR_MAX + 1);
    for (size_t i = 0; i < RP__RETRY_SERVER_ERROR_MAX; i++)
        assert_string_equal(w->f.req[i].key, k1);
    assert_string_equal(w->f.req[RP__RETRY_SERVER_ERROR_MAX].key, k2);
    int n;
    char *dead = dead_letters(w, ".ndjson", &n);
    assert_int_equal(n, 1);
    assert_string_equal(dead, LINE(1));
    free(dead);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.retries, RP__RETRY_SERVER_ERROR_MAX - 1);
    assert_int_equal(s.dead_batches, 1);
    assert_int_equal(s.delivered_events, 1);
}

static void test_timeout_is_retried(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2), 0, k);
    static const struct answer script[] = {
        {.rc = RP_ERR_TIMEOUT, .transport = RP__HTTP_TRANSPORT_TIMEOUT},
        {.rc = RP_ERR_IO, .transport = RP__HTTP_TRANSPORT_CONNECT, .body = "Connection refused"},
        {.status = 200}};
    w->f.hold_at = 3;
    start(w, RP__FORMAT_NDJSON, 0, script, 3);
    wait_requests(&w->f, 3);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.transport_errors, 2);
    assert_int_equal(s.retries, 2);
    assert_int_equal(s.last_status, 0);
    assert_string_equal(s.last_error, "connect: Connection refused");
    assert_int_equal(queued(w), 1);
    release(&w->f);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    assert_int_equal(w->f.nreq, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(w->f.req[i].key, k);
        assert_string_equal(w->f.req[i].body, LINE(1) LINE(2));
    }
    s = stats(w);
    assert_int_equal(s.transport_errors, 2);
    assert_int_equal(s.delivered_events, 2);
    assert_int_equal(s.dead_events, 0);
    int n;
    assert_null(dead_letters(w, ".ndjson", &n));
}

static void test_stop_abandons_the_request_in_flight(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1), 0, k);
    w->f.hold_at = 1;
    start(w, RP__FORMAT_NDJSON, 0, NULL, 0);
    wait_requests(&w->f, 1);
    rp__uploader_stop(w->up);
    /* Aborted, not delivered: the batch is still there for the next start. */
    assert_int_equal(queued(w), 1);
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.delivered_batches, 0);
    assert_int_equal(s.dead_batches, 0);
}

/* ---- reconfigure ----------------------------------------------------------- */

static void reconfigure_gzip(struct world *w)
{
    rp__uploader_opts o = {
        .spool = w->sp,
        .url = "https://backend.invalid:8443/ingest",
        .format = RP__FORMAT_NDJSON,
        .gzip = 1,
        .deadletter_dir = w->dead_dir,
        .deadletter_max_bytes = 1u << 20,
        .host_name = "host-a",
        .agent_id = "agent-1",
        .backoff_base_ms = 1,
        .backoff_cap_ms = 2,
        .on_alert = on_alert,
        .alert_arg = &w->f,
        .transport = &w->tr,
    };
    char err[512] = "";
    int rc = rp__uploader_reconfigure(w->up, &o, err, sizeof err);
    if (rc != 0)
        fail_msg("rp__uploader_reconfigure: %s (%s)", rp_strerror(rc), err);
}

/* A reload's new settings take over after the batch in flight: its request
 * is answered, not abandoned and sent again, and the next batch goes out
 * with them (here: gzipped). */
static void test_reconfigure_switches_after_the_batch_in_flight(void **state)
{
    struct world *w = *state;
    char k1[RP__SPOOL_KEY_MAX], k2[RP__SPOOL_KEY_MAX];
    append(w, LINE(1), 0, k1);
    append(w, LINE(2), 0, k2);
    w->f.hold_at = 1;
    start(w, RP__FORMAT_NDJSON, 0, NULL, 0);
    wait_requests(&w->f, 1);
    reconfigure_gzip(w);
    pthread_mutex_lock(&w->f.mu);
    int aborted = w->f.aborted;
    pthread_mutex_unlock(&w->f.mu);
    assert_int_equal(aborted, 0);
    release(&w->f);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);
    assert_int_equal(w->f.nreq, 2);
    assert_string_equal(w->f.req[0].key, k1);
    assert_int_equal(w->f.req[0].gzipped, 0);
    assert_string_equal(w->f.req[1].key, k2);
    assert_int_equal(w->f.req[1].gzipped, 1);
    assert_string_equal(w->f.req[1].body, LINE(2));
    assert_int_equal(stats(w).delivered_events, 2);
}

/* A batch waiting for a retry does not hold new settings back: it is sent
 * again with them at once (a reload is how a wrong URL or CA is fixed). */
static void test_reconfigure_ends_a_retry_wait(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1), 0, k);
    static const struct answer script[] = {{.status = 503, .retry_after = "60"}, {.status = 200}};
    start(w, RP__FORMAT_NDJSON, 0, script, 2);
    wait_requests(&w->f, 1);
    for (int i = 0; i < 10000 && !stats(w).waiting; i++)
        usleep(1000);
    assert_int_equal(stats(w).waiting, 1);
    int64_t t0 = mono_ns();
    reconfigure_gzip(w);
    wait_queued(w, 0);
    assert_true(mono_ns() - t0 < (int64_t)10 * 1000000000);
    rp__uploader_stop(w->up);
    assert_int_equal(w->f.nreq, 2);
    assert_string_equal(w->f.req[1].key, k);
    assert_int_equal(w->f.req[1].gzipped, 1);
    assert_string_equal(w->f.req[1].body, LINE(1));
}

/* ---- a body is built once per part ------------------------------------------ */

static void test_body_built_once_for_its_retries(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2), 1, k);
    static const struct answer script[] = {
        {.status = 503}, {.status = 429}, {.status = 200, .body = "{\"errors\":false}"}};
    start(w, RP__FORMAT_ELASTIC_BULK, 1, script, 3);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    /* Three attempts of the same bytes, shaped and compressed once. */
    assert_int_equal(w->f.nreq, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(w->f.req[i].gzipped);
        assert_string_equal(w->f.req[i].body, "{\"create\":{\"_id\":\"id-1\"}}\n" LINE(
                                                  1) "{\"create\":{\"_id\":\"id-2\"}}\n" LINE(2));
    }
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.retries, 2);
    assert_int_equal(s.bodies_built, 1);
    assert_int_equal(s.delivered_events, 2);
}

static void test_each_part_gets_its_own_body(void **state)
{
    struct world *w = *state;
    char k[RP__SPOOL_KEY_MAX];
    append(w, LINE(1) LINE(2) LINE(3) LINE(4), 0, k);
    static const struct answer script[] = {
        {.status = 413}, {.status = 503}, {.status = 204}, {.status = 204}};
    start(w, RP__FORMAT_LOKI, 1, script, 4);
    wait_queued(w, 0);
    rp__uploader_stop(w->up);

    /* The whole, then the first half twice (a 503 between), then the
     * second half: a half never goes out with the whole's body. */
    assert_int_equal(w->f.nreq, 4);
    assert_int_equal(tu_count_lines_with(w->f.req[0].body, "id-"), 1); /* one JSON line */
    assert_non_null(strstr(w->f.req[0].body, "id-4"));
    assert_non_null(strstr(w->f.req[1].body, "id-2"));
    assert_null(strstr(w->f.req[1].body, "id-3"));
    assert_string_equal(w->f.req[2].body, w->f.req[1].body);
    assert_non_null(strstr(w->f.req[3].body, "id-3"));
    assert_non_null(strstr(w->f.req[3].body, "id-4"));
    assert_null(strstr(w->f.req[3].body, "id-2"));
    rp__uploader_stats s = stats(w);
    assert_int_equal(s.bodies_built, 3);
    assert_int_equal(s.delivered_events, 4);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_2xx_delivers_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_409_is_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_413_sends_halves_with_their_own_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_413_of_one_line_is_a_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_elastic_items_ack_dead_letter_and_resend, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_splunk_invalid_event_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loki_refusal_is_a_dead_letter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_otlp_rejected_records_dead_letter_the_batch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_401_pauses_until_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_403_pauses_until_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_503_waits_for_retry_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_500_is_retried_a_bounded_number_of_times, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeout_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_abandons_the_request_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconfigure_switches_after_the_batch_in_flight, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reconfigure_ends_a_retry_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_built_once_for_its_retries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_part_gets_its_own_body, setup, teardown),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
