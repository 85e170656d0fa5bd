/* core/output/uploader.c - the spool's reader: shapes, sends and judges batches. */
#include "output/uploader.h"
#include "output/gzip.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_thread.h"
#include "output/retry.h"
#include "output/spool.h"
#include "version.h"

#include <rampart/plugin.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX      (RP__SPOOL_KEY_MAX + 2 * RP__UPLOAD_MAX_PARTS + 8)
#define URL_MAX      4096
#define HDR_STORE    4096
#define HDR_MAX      8
#define ERR_WAIT_MS  1000
#define PATH_MAX_LEN 4096

/* One request's worth of a batch: the whole batch as stored (raw), or some
 * of its lines. */
struct part {
    int raw;
    const char *lines; /* into u->lines or own */
    size_t len;
    uint32_t events;
    rp__buf own;
    char key[KEY_MAX];
    rp__retry_batch rs;
};

/* What the client and the request shape come from; replaced as a whole by
 * reconfigure. */
struct setup {
    rp__http *http;
    enum rp__format format;
    int gzip;
    rp__buf url;
    rp__http_header hdr[HDR_MAX];
    size_t nhdr;
    char hdr_store[HDR_STORE];
    size_t hdr_used;
    rp__format_ctx ctx;
    char *host_name;
    char *agent_id;
    char *fmt_arena; /* the copied strings and labels of ctx */
    uint32_t backoff_base_ms, backoff_cap_ms;
    rp__uploader_transport transport; /* post NULL = http */
};

struct rp__uploader {
    rp__spool *spool;
    struct setup *setup;
    char *deadletter_dir; /* for messages */
    rp__os_dir *dl;       /* the folder itself, opened once */
    uint64_t deadletter_max;
    rp__uploader_alert_fn on_alert;
    void *alert_arg;

    rp__os_mutex *lock; /* guards the flags below and stats */
    rp__os_cond *cond;
    int work;     /* set by wake: look at the spool again */
    int stopping; /* the thread must return */
    int paused;
    /* New settings from rp__uploader_reconfigure, taken by the thread once
     * the batch in flight is done or waits (switch_setup). */
    struct setup *next;
    uint64_t next_deadletter_max;
    uint32_t next_backoff_base, next_backoff_cap;
    int running;
    rp__os_thread *thread;
    rp__uploader_stats stats;

    /* Thread-owned while running. */
    rp__buf payload; /* the batch as stored */
    rp__buf lines;   /* the batch decoded */
    rp__buf body;    /* the request body being built */
    rp__buf zbody;   /* ... and compressed */
    /* The body of the top part is built (and compressed) once and kept for
     * its further attempts: 1 while body/zbody hold it. Any change to the
     * parts clears it. */
    int built;
    const void *built_body;
    size_t built_len;
    rp__gzip *gz;
    rp__backoff backoff;
    struct part parts[RP__UPLOAD_MAX_PARTS];
    size_t nparts;
    uint64_t batch_dead_events; /* events of the current batch dead-lettered */
    int64_t last_alert_ns;      /* of the last dead-letter alert */
    uint64_t unalerted;         /* dead letters since then, not alerted yet */
};

/* Dead-letter alerts are events too, and a backend that refuses everything
 * would refuse them as well: one alert per this interval at most (the next
 * one counts those in between), so they cannot feed on themselves. */
#define ALERT_INTERVAL_NS ((int64_t)60 * 1000000000)

/* ---- setup ---------------------------------------------------------------- */

static int collect_header(void *arg, const char *name, const char *value)
{
    struct setup *s = arg;
    size_t nl = strlen(name) + 1, vl = strlen(value) + 1;
    if (s->nhdr >= HDR_MAX - 1 || s->hdr_used + nl + vl > HDR_STORE)
        return RP_ERR_FULL;
    char *n = s->hdr_store + s->hdr_used;
    memcpy(n, name, nl);
    char *v = n + nl;
    memcpy(v, value, vl);
    s->hdr_used += nl + vl;
    s->hdr[s->nhdr].name = n;
    s->hdr[s->nhdr].value = v;
    s->nhdr++;
    return 0;
}

static void setup_free(struct setup *s)
{
    if (!s)
        return;
    rp__http_destroy(s->http);
    rp__buf_free(&s->url);
    free(s->host_name);
    free(s->agent_id);
    free(s->fmt_arena);
    free(s);
}

/* Room for a string in the arena, counted (out NULL) or copied. */
static const char *arena_str(char **at, size_t *need, const char *v)
{
    if (!v)
        return NULL;
    size_t n = strlen(v) + 1;
    *need += n;
    if (!*at)
        return NULL;
    char *p = *at;
    memcpy(p, v, n);
    *at += n;
    return p;
}

static const rp__format_label *arena_labels(char **at, size_t *need, const rp__format_label *v,
                                            size_t count)
{
    if (!v || count == 0)
        return NULL;
    /* Keep the array aligned: it goes first in its part of the arena. */
    size_t bytes = count * sizeof *v;
    bytes = (bytes + sizeof(void *) - 1) & ~(sizeof(void *) - 1);
    *need += bytes + sizeof(void *);
    rp__format_label *out = NULL;
    if (*at) {
        uintptr_t p = ((uintptr_t)*at + sizeof(void *) - 1) & ~(uintptr_t)(sizeof(void *) - 1);
        out = (rp__format_label *)p;
        *at = (char *)p + bytes;
    }
    for (size_t i = 0; i < count; i++) {
        const char *name = arena_str(at, need, v[i].name);
        const char *value = arena_str(at, need, v[i].value);
        if (out) {
            out[i].name = name;
            out[i].value = value;
        }
    }
    return out;
}

/* Copies the format settings of o into s->ctx: once to size the arena, once
 * to fill it. */
static int copy_format_opts(struct setup *s, const rp__format_ctx *f)
{
    if (!f)
        return 0;
    for (int pass = 0; pass < 2; pass++) {
        size_t need = 0;
        char *at = s->fmt_arena;
        rp__format_ctx *c = &s->ctx;
        c->auth_scheme = arena_str(&at, &need, f->auth_scheme);
        c->clickhouse_table = arena_str(&at, &need, f->clickhouse_table);
        c->elastic_index = arena_str(&at, &need, f->elastic_index);
        c->splunk_index = arena_str(&at, &need, f->splunk_index);
        c->splunk_source = arena_str(&at, &need, f->splunk_source);
        c->splunk_sourcetype = arena_str(&at, &need, f->splunk_sourcetype);
        c->splunk_channel = arena_str(&at, &need, f->splunk_channel);
        c->loki_tenant = arena_str(&at, &need, f->loki_tenant);
        c->loki_job = arena_str(&at, &need, f->loki_job);
        c->loki_labels = arena_labels(&at, &need, f->loki_labels, f->loki_label_count);
        c->loki_label_count = f->loki_labels ? f->loki_label_count : 0;
        c->otlp_resource = arena_labels(&at, &need, f->otlp_resource, f->otlp_resource_count);
        c->otlp_resource_count = f->otlp_resource ? f->otlp_resource_count : 0;
        if (pass == 0 && !(s->fmt_arena = malloc(need + 1)))
            return RP_ERR_NOMEM;
    }
    return 0;
}

/* Builds the body of a one-event batch, so that settings the format cannot
 * use (a Loki label named "host", an OTLP attribute the adapter sets) are
 * refused at start and at reload, not at the first upload. */
static int check_format_opts(const struct setup *s, char *err, size_t errlen)
{
    static const char line[] = "{\"@timestamp\":\"2026-01-01T00:00:00.000Z\","
                               "\"event.id\":\"0\",\"event.kind\":\"event\"}\n";
    rp__buf body;
    rp__buf_init(&body, 64 * 1024);
    int rc = rp__format_build_body(s->format, &s->ctx, line, sizeof line - 1, &body, NULL);
    rp__buf_free(&body);
    if (rc == 0)
        return 0;
    snprintf(err, errlen,
             "output.%s: the %s format refuses these settings (a reserved or repeated label or "
             "attribute name, or a bad label name): %s",
             s->format == RP__FORMAT_LOKI   ? "loki"
             : s->format == RP__FORMAT_OTLP ? "otlp"
                                            : "format",
             rp__format_name(s->format), rp_strerror(rc));
    return RP_ERR_CONFIG;
}

/* The first half of setup_make: the request's URL and headers for the
 * format, no client yet. */
static int setup_shape(const rp__uploader_opts *o, struct setup **out, char *err, size_t errlen)
{
    struct setup *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    s->format = o->format;
    s->gzip = o->gzip;
    s->backoff_base_ms = o->backoff_base_ms;
    s->backoff_cap_ms = o->backoff_cap_ms;
    if (o->transport)
        s->transport = *o->transport;
    s->host_name = strdup(o->host_name ? o->host_name : "localhost");
    s->agent_id = o->agent_id ? strdup(o->agent_id) : NULL;
    if (!s->host_name || (o->agent_id && !s->agent_id)) {
        setup_free(s);
        return RP_ERR_NOMEM;
    }
    rp__buf_init(&s->url, URL_MAX);
    int rc = copy_format_opts(s, o->format_opts);
    if (rc != 0) {
        setup_free(s);
        return rc;
    }
    s->ctx.host_name = s->host_name;
    s->ctx.agent_id = s->agent_id;
    s->ctx.agent_version = RP_VERSION;
    s->ctx.uncompressed = !o->gzip;
    if ((rc = check_format_opts(s, err, errlen)) != 0) {
        setup_free(s);
        return rc;
    }
    rc = rp__format_url(o->format, o->url, &s->ctx, &s->url);
    if (rc == 0)
        rc = rp__buf_append(&s->url, "", 1); /* NUL-terminated for libcurl */
    if (rc != 0) {
        snprintf(err, errlen, "output.url: expected an https:// URL without spaces: %s",
                 rp_strerror(rc));
        setup_free(s);
        return RP_ERR_CONFIG;
    }
    rc = rp__format_headers(o->format, &s->ctx, collect_header, s);
    if (rc != 0) {
        snprintf(err, errlen,
                 "output.format: cannot build the request headers (a tenant, channel or "
                 "auth scheme must be visible ASCII): %s",
                 rp_strerror(rc));
        setup_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The client options for a shaped setup; token borrowed. */
static rp__http_opts http_opts(const rp__uploader_opts *o, struct setup *s, const char *token)
{
    rp__http_opts ho = {
        .url = s->url.data,
        .ca_file = o->ca_file,
        .client_cert = o->client_cert,
        .client_key = o->client_key,
        .pinned_pubkey = o->pinned_pubkey,
        .token = token,
        .auth_scheme = rp__format_auth_scheme(o->format, &s->ctx),
        .proxy = o->proxy,
        .timeout_ms = o->timeout_ms,
    };
    return ho;
}

int rp__uploader_check_opts(const rp__uploader_opts *o, rp__http_report_fn report, void *arg)
{
    struct setup *s = NULL;
    char msg[512] = "";
    int rc = setup_shape(o, &s, msg, sizeof msg);
    if (rc != 0) {
        report(arg, rc, msg[0] ? msg : rp_strerror(rc));
        return rc;
    }
    rp__http_opts ho = http_opts(o, s, NULL);
    rc = rp__http_check_opts(&ho, o->token_file, report, arg);
    setup_free(s);
    return rc;
}

static int setup_make(const rp__uploader_opts *o, struct setup **out, char *err, size_t errlen)
{
    struct setup *s = NULL;
    int rc = setup_shape(o, &s, err, errlen);
    if (rc != 0)
        return rc;
    char *token = NULL;
    if (o->token_file && (rc = rp__http_read_token(o->token_file, &token, err, errlen)) != 0) {
        setup_free(s);
        return rc;
    }
    rp__http_opts ho = http_opts(o, s, token);
    rc = rp__http_create(&ho, &s->http, err, errlen);
    rp__http_token_free(token);
    if (rc != 0) {
        setup_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The request through the test's transport when one is set, else HTTPS. */
static int setup_post(struct setup *s, const rp__http_header *hdr, size_t nhdr, const void *body,
                      size_t len, rp__http_response *resp)
{
    if (s->transport.post)
        return s->transport.post(s->transport.arg, hdr, nhdr, body, len, resp);
    return rp__http_post(s->http, NULL, hdr, nhdr, body, len, resp);
}

static void setup_abort(struct setup *s)
{
    rp__http_abort(s->http);
    if (s->transport.abort)
        s->transport.abort(s->transport.arg);
}

static void setup_abort_clear(struct setup *s)
{
    rp__http_abort_clear(s->http);
    if (s->transport.abort_clear)
        s->transport.abort_clear(s->transport.arg);
}

/* ---- dead letters ------------------------------------------------------------ */

static int add_size(void *arg, const char *name, uint64_t size)
{
    (void)name;
    *(uint64_t *)arg += size;
    return 0;
}

static uint64_t folder_bytes(rp__os_dir *dir)
{
    uint64_t total = 0;
    rp__os_dir_list(dir, add_size, &total);
    return total;
}

struct dl_file {
    char *name;
    uint64_t size;
};

struct dl_list {
    struct dl_file *v;
    size_t n, cap;
};

static int add_file(void *arg, const char *name, uint64_t size)
{
    struct dl_list *l = arg;
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 64;
        struct dl_file *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return RP_ERR_NOMEM;
        l->v = nv;
        l->cap = nc;
    }
    if (!(l->v[l->n].name = strdup(name)))
        return RP_ERR_NOMEM;
    l->v[l->n++].size = size;
    return 0;
}

static int file_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dl_file *)a)->name, ((const struct dl_file *)b)->name);
}

/* Deletes the oldest dead letters (names start with the time, zero-padded,
 * so name order is age order) until the folder is under the cap. */
static void deadletter_trim(rp__uploader *u)
{
    struct dl_list l = {0};
    rp__os_dir_list(u->dl, add_file, &l);
    uint64_t bytes = 0;
    for (size_t i = 0; i < l.n; i++)
        bytes += l.v[i].size;
    qsort(l.v, l.n, sizeof *l.v, file_cmp);
    uint64_t deleted = 0;
    for (size_t i = 0; i < l.n && bytes > u->deadletter_max; i++) {
        if (rp__os_dir_remove(u->dl, l.v[i].name) == 0) {
            bytes -= l.v[i].size;
            deleted++;
        }
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].name);
    free(l.v);
    if (deleted)
        rp__log_warn("%s: over output dead-letter cap; deleted the %llu oldest files",
                     u->deadletter_dir, (unsigned long long)deleted);
    rp__os_mutex_lock(u->lock);
    u->stats.deadletter_deleted += deleted;
    u->stats.deadletter_bytes = bytes;
    rp__os_mutex_unlock(u->lock);
}

static void json_str(rp__buf *b, const char *s)
{
    rp__buf_append(b, "\"", 1);
    rp__json_escape(s, strlen(s), b);
    rp__buf_append(b, "\"", 1);
}

/*
 * Keeps a part the backend will never take: <time>-<key>.ndjson holds its
 * lines (or <time>-<key>.gz the stored bytes when they cannot be decoded),
 * <time>-<key>.json says why. Then the alert.
 */
static void dead_letter(rp__uploader *u, const char *key, const void *data, size_t len, int gzipped,
                        uint32_t events, long status, const char *reason, const char *detail,
                        int pause)
{
    char base[PATH_MAX_LEN], path[PATH_MAX_LEN + 32];
    int64_t now = rp__os_time_ns();
    snprintf(base, sizeof base, "%s/%020lld-%s", u->deadletter_dir, (long long)now, key);
    /* Written by name in the folder opened once; base names it in messages. */
    size_t dl_len = strlen(u->deadletter_dir);
    const char *name = dl_len + 1 < sizeof base ? base + dl_len + 1 : "";
    int written = 0;
    if (u->deadletter_max > 0) {
        snprintf(path, sizeof path, "%s%s", name, gzipped ? ".ndjson.gz" : ".ndjson");
        int rc = rp__os_dir_write_atomic(u->dl, path, data, len, 0600);
        rp__buf note;
        rp__buf_init(&note, 64 * 1024);
        char num[64];
        rp__buf_append_cstr(&note, "{\"idempotency_key\":");
        json_str(&note, key);
        snprintf(num, sizeof num, ",\"events\":%u,\"http_status\":%ld,\"time\":", events, status);
        rp__buf_append_cstr(&note, num);
        char ts[64];
        size_t tl = rp__json_format_timestamp(now, ts);
        rp__buf_append(&note, "\"", 1);
        rp__buf_append(&note, ts, tl);
        rp__buf_append_cstr(&note, "\",\"reason\":");
        json_str(&note, reason);
        rp__buf_append_cstr(&note, ",\"detail\":");
        json_str(&note, detail);
        rp__buf_append_cstr(&note, ",\"url\":");
        json_str(&note, u->setup->url.data);
        rp__buf_append_cstr(&note, ",\"format\":");
        json_str(&note, rp__format_name(u->setup->format));
        rp__buf_append_cstr(&note, "}\n");
        snprintf(path, sizeof path, "%s.json", name);
        if (rc == 0)
            rc = rp__os_dir_write_atomic(u->dl, path, note.data, note.len, 0600);
        rp__buf_free(&note);
        if (rc == 0) {
            written = 1;
            rp__os_mutex_lock(u->lock);
            u->stats.deadletter_bytes += len;
            int over = u->stats.deadletter_bytes > u->deadletter_max;
            rp__os_mutex_unlock(u->lock);
            if (over)
                deadletter_trim(u);
        } else {
            rp__log_error("%s: cannot write a dead letter: %s", u->deadletter_dir, rp_strerror(rc));
        }
    }
    u->batch_dead_events += events;
    rp__os_mutex_lock(u->lock);
    u->stats.dead_batches++;
    u->stats.dead_events += events;
    rp__os_mutex_unlock(u->lock);
    char msg[PATH_MAX_LEN + 2048];
    int n = snprintf(msg, sizeof msg,
                     "the backend refused a batch of %u events (HTTP %ld: %s%s%s)%s%s%s; key %s",
                     events, status, reason, *detail ? ": " : "", detail,
                     written ? "; kept in "
                             : "; not kept (output dead-letter folder disabled or failing)",
                     written ? base : "", written ? ".*" : "", key);
    rp__log_error("upload: %s", msg);
    int64_t mono = rp__os_monotonic_ns();
    if (u->last_alert_ns != 0 && mono - u->last_alert_ns < ALERT_INTERVAL_NS && !pause) {
        u->unalerted++;
        return;
    }
    if (u->unalerted > 0 && n > 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n,
                 " (and %llu more dead letters since the last alert)",
                 (unsigned long long)u->unalerted);
    u->last_alert_ns = mono;
    u->unalerted = 0;
    if (u->on_alert)
        u->on_alert(u->alert_arg, "rampart.upload.dead_letter", "Upload refused: dead letter",
                    pause ? 73 : 47, msg);
}

/* ---- one batch ---------------------------------------------------------------- */

enum outcome { DONE, STOPPED };

/* Waits up to ms, or until stop or new settings. Returns 1 when stopping or
 * when new settings wait: the batch is then left in the spool, to be sent
 * again with them. */
static int wait_ms(rp__uploader *u, int64_t ms)
{
    int64_t end = rp__os_monotonic_ns() + ms * 1000000;
    rp__os_mutex_lock(u->lock);
    u->stats.waiting = 1;
    while (!u->stopping && !u->next) {
        /* Rounded up: a Retry-After of 1 s must not be resent after 999.x ms. */
        int64_t left = (end - rp__os_monotonic_ns() + 999999) / 1000000;
        if (left <= 0)
            break;
        rp__os_cond_timedwait(u->cond, u->lock, left);
    }
    u->stats.waiting = 0;
    int stop = u->stopping || u->next;
    rp__os_mutex_unlock(u->lock);
    return stop;
}

/* Waits while paused. Returns 1 when stopping or when new settings wait (as
 * wait_ms). */
static int wait_resume(rp__uploader *u)
{
    rp__os_mutex_lock(u->lock);
    while (u->paused && !u->stopping && !u->next)
        rp__os_cond_wait(u->cond, u->lock);
    int stop = u->stopping || u->next;
    rp__os_mutex_unlock(u->lock);
    return stop;
}

static uint32_t count_lines(const char *p, size_t len)
{
    uint32_t n = 0;
    const char *end = p + len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        n++;
        p++;
    }
    return n;
}

/* Decodes the stored batch into u->lines (once per batch). */
static int decode(rp__uploader *u, const rp__spool_batch *b)
{
    if (u->lines.len > 0)
        return 0;
    if (b->flags & RP__SPOOL_FLAG_GZIP)
        return rp__gzip_decompress(u->gz, b->payload, b->len, &u->lines);
    return rp__buf_append(&u->lines, b->payload, b->len);
}

static void part_free(struct part *p)
{
    rp__buf_free(&p->own);
}

static void pop(rp__uploader *u)
{
    u->built = 0;
    part_free(&u->parts[--u->nparts]);
}

/* Pushes a part holding a copy of lines[0..len). */
static int push_copy(rp__uploader *u, const char *key, const char *suffix, const char *lines,
                     size_t len)
{
    if (u->nparts >= RP__UPLOAD_MAX_PARTS)
        return RP_ERR_FULL;
    u->built = 0;
    struct part *p = &u->parts[u->nparts];
    memset(p, 0, sizeof *p);
    rp__buf_init(&p->own, len ? len : 1);
    if (rp__buf_append(&p->own, lines, len) != 0) {
        rp__buf_free(&p->own);
        return RP_ERR_NOMEM;
    }
    p->lines = p->own.data;
    p->len = len;
    p->events = count_lines(lines, len);
    snprintf(p->key, sizeof p->key, "%s%s", key, suffix);
    u->nparts++;
    return 0;
}

/* Builds the request body of the top part p into u->zbody / u->body; sets
 * *body. A part's body is built once: its retries send the same bytes
 * without shaping or compressing them again. */
static int build(rp__uploader *u, const rp__spool_batch *b, struct part *p, const void **body,
                 size_t *len)
{
    struct setup *s = u->setup;
    if (p->raw) {
        *body = b->payload;
        *len = b->len;
        return 0;
    }
    if (u->built) {
        *body = u->built_body;
        *len = u->built_len;
        return 0;
    }
    const char *src = p->lines;
    size_t slen = p->len;
    int rc;
    if (!rp__format_is_passthrough(s->format)) {
        rp__buf_reset(&u->body);
        rp__format_build_info info = {0};
        rc = rp__format_build_body(s->format, &s->ctx, p->lines, p->len, &u->body, &info);
        if (rc != 0)
            return rc;
        src = u->body.data;
        slen = u->body.len;
    }
    if (!s->gzip) {
        *body = src;
        *len = slen;
    } else {
        rp__buf_reset(&u->zbody);
        if ((rc = rp__gzip_compress(u->gz, src, slen, &u->zbody)) != 0)
            return rc;
        *body = u->zbody.data;
        *len = u->zbody.len;
    }
    u->built = 1;
    u->built_body = *body;
    u->built_len = *len;
    rp__os_mutex_lock(u->lock);
    u->stats.bodies_built++;
    rp__os_mutex_unlock(u->lock);
    return 0;
}

static void note_error(rp__uploader *u, long status, const char *fmt, const char *a, const char *b)
{
    rp__os_mutex_lock(u->lock);
    u->stats.last_status = status;
    snprintf(u->stats.last_error, sizeof u->stats.last_error, fmt, a, b);
    rp__os_mutex_unlock(u->lock);
}

static int64_t retry_after_ms(const rp__http_response *r)
{
    int64_t ms = -1;
    if (r->has_retry_after && rp__retry_after_parse(r->retry_after, strlen(r->retry_after),
                                                    rp__os_time_ns() / 1000000000, &ms) != 0)
        ms = -1;
    return ms;
}

static int64_t next_backoff(rp__uploader *u)
{
    uint64_t rnd = 0;
    rp__os_random(&rnd, sizeof rnd);
    return rp__backoff_next(&u->backoff, rnd);
}

/* The whole part, as lines that can be written to a dead letter. */
static void dead_part(rp__uploader *u, const rp__spool_batch *b, struct part *p, long status,
                      const char *reason, const char *detail, int pause)
{
    if (p->raw) {
        if (decode(u, b) == 0)
            dead_letter(u, p->key, u->lines.data, u->lines.len, 0, p->events, status, reason,
                        detail, pause);
        else
            dead_letter(u, p->key, b->payload, b->len, (b->flags & RP__SPOOL_FLAG_GZIP) != 0,
                        p->events, status, reason, detail, pause);
        return;
    }
    dead_letter(u, p->key, p->lines, p->len, 0, p->events, status, reason, detail, pause);
}

static void pause_uploads(rp__uploader *u, const char *why)
{
    rp__os_mutex_lock(u->lock);
    u->paused = 1;
    u->stats.paused = 1;
    u->stats.pauses++;
    rp__os_mutex_unlock(u->lock);
    char msg[512];
    snprintf(msg, sizeof msg,
             "uploads paused: %s; batches stay in the spool until the configuration is "
             "reloaded (rampartctl reload)",
             why);
    rp__log_error("upload: %s", msg);
    if (u->on_alert)
        u->on_alert(u->alert_arg, "rampart.upload.paused", "Uploads paused", 73, msg);
}

/* Splits the lines of part p (popped by the caller) into halves pushed so
 * that the first half goes first. */
static int split(rp__uploader *u, const char *lines, size_t len, const char *key)
{
    /* The line boundary nearest the middle: the search starts one byte
     * early, so that a line ending just before the middle counts (four
     * equal lines split 2 + 2, not 3 + 1). */
    const char *mid = lines + (len > 1 ? len / 2 - 1 : 0);
    const char *nl = memchr(mid, '\n', (size_t)(lines + len - mid));
    if (!nl || (size_t)(nl + 1 - lines) >= len) {
        nl = NULL;
        for (const char *q = mid; q > lines; q--)
            if (q[-1] == '\n' && q < lines + len) {
                nl = q - 1;
                break;
            }
        if (!nl)
            return RP_ERR_INVAL; /* one line: cannot split */
    }
    size_t first = (size_t)(nl + 1 - lines);
    char k2[KEY_MAX];
    snprintf(k2, sizeof k2, "%s", key);
    if (u->nparts + 2 > RP__UPLOAD_MAX_PARTS)
        return RP_ERR_FULL;
    int rc = push_copy(u, k2, ".2", lines + first, len - first);
    if (rc == 0 && (rc = push_copy(u, k2, ".1", lines, first)) != 0)
        pop(u);
    return rc;
}

/* Applies a per-line answer: delivered lines are done, dead ones go to a
 * dead letter, the rest becomes a new part. The caller popped nothing yet. */
static int partial(rp__uploader *u, struct part *p, const rp__format_result *res)
{
    rp__buf dead, again;
    rp__buf_init(&dead, p->len + 1);
    rp__buf_init(&again, p->len + 1);
    const char *q = p->lines, *end = p->lines + p->len;
    size_t i = 0;
    int rc = 0;
    while (q < end && rc == 0) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        size_t l = nl ? (size_t)(nl + 1 - q) : (size_t)(end - q);
        uint8_t v = i < res->nlines ? res->line_verdicts[i] : RP__OUTCOME_RETRY;
        if (v == RP__OUTCOME_DEAD_LETTER)
            rc = rp__buf_append(&dead, q, l);
        else if (v == RP__OUTCOME_RETRY)
            rc = rp__buf_append(&again, q, l);
        q += l;
        i++;
    }
    char key[KEY_MAX];
    snprintf(key, sizeof key, "%s", p->key);
    if (rc == 0 && dead.len > 0)
        dead_letter(u, key, dead.data, dead.len, 0, count_lines(dead.data, dead.len), 200,
                    "lines refused by the backend", res->message, 0);
    if (rc == 0) {
        pop(u);
        if (again.len > 0)
            rc = push_copy(u, key, "r", again.data, again.len);
    }
    rp__buf_free(&dead);
    rp__buf_free(&again);
    return rc;
}

static enum outcome upload_batch(rp__uploader *u, const rp__spool_batch *b)
{
    struct setup *s = u->setup;
    char key[RP__SPOOL_KEY_MAX];
    rp__spool_idempotency_key(b, key);
    rp__buf_reset(&u->lines);
    u->batch_dead_events = 0;
    u->built = 0;
    u->nparts = 1;
    struct part *p = &u->parts[0];
    memset(p, 0, sizeof *p);
    snprintf(p->key, sizeof p->key, "%s", key);
    p->events = b->events;
    /* ndjson and clickhouse send the lines as stored when the stored
     * compression is the one wanted: no decode, no re-encode. */
    int stored_gz = (b->flags & RP__SPOOL_FLAG_GZIP) != 0;
    p->raw = rp__format_is_passthrough(s->format) && stored_gz == (s->gzip != 0);
    if (!p->raw && !stored_gz) {
        /* Stored as NDJSON (spilled under a backlog): read in place. */
        p->lines = b->payload;
        p->len = b->len;
    } else if (!p->raw) {
        if (decode(u, b) != 0) {
            dead_part(u, b, p, 0, "the stored batch cannot be decoded", "damaged gzip data", 0);
            pop(u);
        } else {
            p->lines = u->lines.data;
            p->len = u->lines.len;
        }
    }
    while (u->nparts > 0) {
        p = &u->parts[u->nparts - 1];
        const void *body = NULL;
        size_t blen = 0;
        int rc = build(u, b, p, &body, &blen);
        if (rc == RP_ERR_PARSE) {
            dead_part(u, b, p, 0, "a stored line is not valid JSON for this format", "", 0);
            pop(u);
            continue;
        }
        if (rc != 0) {
            note_error(u, 0, "cannot build a request: %s%s", rp_strerror(rc), "");
            if (wait_ms(u, ERR_WAIT_MS))
                return STOPPED;
            continue;
        }
        rp__http_header hdr[HDR_MAX];
        memcpy(hdr, s->hdr, s->nhdr * sizeof hdr[0]);
        hdr[s->nhdr].name = "Idempotency-Key";
        hdr[s->nhdr].value = p->key;
        rp__http_response resp;
        rc = setup_post(s, hdr, s->nhdr + 1, body, blen, &resp);
        rp__os_mutex_lock(u->lock);
        u->stats.requests++;
        rp__os_mutex_unlock(u->lock);
        if (rc == RP_ERR_STOPPED)
            return STOPPED;
        rp__retry_decision dec;
        if (rc != 0) {
            /* No answer: the batch is not at fault; retry however long it
             * takes, the spool holds the data meanwhile. */
            rp__retry_decide(0, resp.transport ? (int)resp.transport : RP__HTTP_TRANSPORT_OTHER,
                             p->events, &p->rs, &dec);
            rp__os_mutex_lock(u->lock);
            u->stats.transport_errors++;
            u->stats.retries++;
            u->stats.last_status = 0;
            snprintf(u->stats.last_error, sizeof u->stats.last_error, "%s: %s",
                     rp__http_transport_name(resp.transport), resp.error);
            rp__os_mutex_unlock(u->lock);
            if (p->rs.attempts == 1 || p->rs.attempts % 10 == 0)
                rp__log_warn("upload: no answer from the backend (%s: %s); retrying",
                             rp__http_transport_name(resp.transport), resp.error);
            if (wait_ms(u, rp__retry_wait_ms(next_backoff(u), -1)))
                return STOPPED;
            continue;
        }
        rp__format_result res;
        int prc = rp__format_parse_response(s->format, resp.status, resp.body, resp.body_len,
                                            p->events, &res);
        if (prc == RP_ERR_NOMEM)
            res.verdict = RP__OUTCOME_STATUS;
        /* The format's reading of the body decides when it says something,
         * the status rules otherwise; both speak rp__outcome. A status the
         * rules refuse (outside 100..999) leaves STATUS: a dead letter. */
        dec.action = res.verdict;
        dec.pause = 0;
        dec.reason = res.message[0] ? res.message : "the backend's answer";
        if (dec.action == RP__OUTCOME_STATUS)
            rp__retry_decide(resp.status, 0, p->events, &p->rs, &dec);
        enum rp__outcome v = dec.action;
        if (v == RP__OUTCOME_DELIVERED) {
            rp__os_mutex_lock(u->lock);
            u->stats.sent_bytes += blen;
            u->stats.last_status = resp.status;
            u->stats.last_error[0] = '\0';
            rp__os_mutex_unlock(u->lock);
            rp__backoff_reset(&u->backoff);
            pop(u);
        } else if (v == RP__OUTCOME_RETRY) {
            rp__os_mutex_lock(u->lock);
            u->stats.retries++;
            u->stats.last_status = resp.status;
            snprintf(u->stats.last_error, sizeof u->stats.last_error, "HTTP %ld: %s", resp.status,
                     res.message[0] ? res.message : dec.reason);
            rp__os_mutex_unlock(u->lock);
            int64_t ra = retry_after_ms(&resp);
            int64_t wait = rp__retry_wait_ms(next_backoff(u), ra);
            rp__log_info("upload: HTTP %ld for batch %s; retrying in %lld ms%s", resp.status,
                         p->key, (long long)wait, ra >= 0 ? " (Retry-After)" : "");
            rp__format_result_free(&res);
            if (wait_ms(u, wait))
                return STOPPED;
            continue;
        } else if (v == RP__OUTCOME_PARTIAL) {
            int rc2 = partial(u, p, &res);
            rp__os_mutex_lock(u->lock);
            u->stats.retries++;
            u->stats.last_status = resp.status;
            rp__os_mutex_unlock(u->lock);
            rp__format_result_free(&res);
            if (rc2 != 0) {
                if (wait_ms(u, ERR_WAIT_MS))
                    return STOPPED;
            } else if (u->nparts > 0 && wait_ms(u, next_backoff(u))) {
                return STOPPED;
            }
            continue;
        } else if (v == RP__OUTCOME_SPLIT) {
            rp__os_mutex_lock(u->lock);
            u->stats.splits++;
            u->stats.last_status = resp.status;
            rp__os_mutex_unlock(u->lock);
            if (p->raw) {
                if (decode(u, b) != 0) {
                    dead_part(u, b, p, resp.status, "too large and cannot be decoded to split", "",
                              0);
                    pop(u);
                    rp__format_result_free(&res);
                    continue;
                }
                p->raw = 0;
                p->lines = u->lines.data;
                p->len = u->lines.len;
            }
            /* The halves copy their lines, so the part can go first. */
            struct part whole = *p;
            rp__buf_init(&p->own, 0);
            u->nparts--;
            u->built = 0;
            int rc2 = split(u, whole.lines, whole.len, whole.key);
            if (rc2 != 0) {
                u->parts[u->nparts++] = whole;
                dead_part(u, b, &u->parts[u->nparts - 1], resp.status,
                          "too large for the backend and cannot be split further", "", 0);
                pop(u);
            } else {
                part_free(&whole);
                rp__log_info("upload: HTTP 413 for batch %s; sending it in two halves", whole.key);
            }
            rp__format_result_free(&res);
            continue;
        } else {
            char detail[320];
            snprintf(detail, sizeof detail, "%s", res.message[0] ? res.message : "");
            dead_part(u, b, p, resp.status, dec.reason ? dec.reason : "refused", detail, dec.pause);
            pop(u);
            if (dec.pause) {
                char why[320];
                snprintf(why, sizeof why, "HTTP %ld from %s (%s)", resp.status, s->url.data,
                         dec.reason ? dec.reason : "credentials refused");
                pause_uploads(u, why);
            }
            note_error(u, resp.status, "%s%s", dec.reason ? dec.reason : "refused", "");
        }
        rp__format_result_free(&res);
        /* After a pause, the rest of a split batch waits for the resume; a
         * batch with nothing left is acked first, so a dead letter is
         * never also sent later. */
        if (u->nparts > 0 && wait_resume(u))
            return STOPPED;
    }
    int rc = rp__spool_ack(u->spool, b->id);
    if (rc != 0)
        rp__log_error("spool: cannot ack batch %llu: %s", (unsigned long long)b->id,
                      rp_strerror(rc));
    /* A batch counts as delivered when the backend took some of it; the
     * events it refused are in dead_events instead. */
    uint64_t took = b->events > u->batch_dead_events ? b->events - u->batch_dead_events : 0;
    rp__os_mutex_lock(u->lock);
    if (took > 0) {
        u->stats.delivered_batches++;
        u->stats.delivered_events += took;
        u->stats.last_delivered_ns = rp__os_time_ns();
    }
    rp__os_mutex_unlock(u->lock);
    return DONE;
}

/* ---- the thread ------------------------------------------------------------ */

/* Takes the settings rp__uploader_reconfigure left, between batches (lock
 * held): the request in flight was answered with the old ones. */
static void switch_setup(rp__uploader *u)
{
    struct setup *old = u->setup;
    u->setup = u->next;
    u->next = NULL;
    u->deadletter_max = u->next_deadletter_max;
    rp__backoff_init(&u->backoff, u->next_backoff_base, u->next_backoff_cap);
    setup_free(old);
}

static void run(void *arg)
{
    rp__uploader *u = arg;
    rp__spool_batch b;
    rp__os_mutex_lock(u->lock);
    while (!u->stopping) {
        if (u->next)
            switch_setup(u);
        if (u->paused) {
            rp__os_cond_wait(u->cond, u->lock);
            continue;
        }
        u->work = 0;
        rp__os_mutex_unlock(u->lock);
        int rc = rp__spool_next(u->spool, 0, &u->payload, &b);
        if (rc == 0) {
            upload_batch(u, &b);
            while (u->nparts > 0)
                pop(u);
            rp__os_mutex_lock(u->lock);
            continue;
        }
        rp__os_mutex_lock(u->lock);
        if (rc == RP_ERR_NOTFOUND) {
            /* Idle: sleep until the sink appends (no timer, no wakeups). */
            while (!u->work && !u->stopping && !u->next)
                rp__os_cond_wait(u->cond, u->lock);
        } else {
            snprintf(u->stats.last_error, sizeof u->stats.last_error, "cannot read the spool: %s",
                     rp_strerror(rc));
            rp__log_error("upload: cannot read the spool: %s", rp_strerror(rc));
            rp__os_cond_timedwait(u->cond, u->lock, ERR_WAIT_MS);
        }
    }
    rp__os_mutex_unlock(u->lock);
}

int rp__uploader_create(const rp__uploader_opts *o, rp__uploader **out, char *err, size_t errlen)
{
    if (!o || !o->spool || !o->url || !o->deadletter_dir || !out)
        return RP_ERR_INVAL;
    rp__uploader *u = calloc(1, sizeof *u);
    if (!u)
        return RP_ERR_NOMEM;
    u->spool = o->spool;
    u->deadletter_max = o->deadletter_max_bytes;
    u->on_alert = o->on_alert;
    u->alert_arg = o->alert_arg;
    rp__buf_init(&u->payload, RP__SPOOL_PAYLOAD_MAX);
    rp__buf_init(&u->lines, RP__SPOOL_PAYLOAD_MAX);
    rp__buf_init(&u->body, RP__SPOOL_PAYLOAD_MAX * 2);
    rp__buf_init(&u->zbody, RP__SPOOL_PAYLOAD_MAX * 2);
    int rc;
    if (!(u->deadletter_dir = strdup(o->deadletter_dir)) || rp__os_mutex_create(&u->lock) != 0 ||
        rp__os_cond_create(&u->cond) != 0 || rp__gzip_create(RP__GZIP_LEVEL, &u->gz) != 0) {
        rp__uploader_destroy(u);
        return RP_ERR_NOMEM;
    }
    char why[1024] = "";
    if (o->deadletter)
        rc = rp__os_dir_dup(o->deadletter, &u->dl);
    else if ((rc = rp__os_mkdir_p(u->deadletter_dir, 0700)) == 0)
        rc = rp__os_dir_open(u->deadletter_dir, &u->dl, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot create the dead-letter folder: %s", u->deadletter_dir,
                 why[0] ? why : rp_strerror(rc));
        rp__uploader_destroy(u);
        return rc;
    }
    if ((rc = setup_make(o, &u->setup, err, errlen)) != 0) {
        rp__uploader_destroy(u);
        return rc;
    }
    rp__backoff_init(&u->backoff, o->backoff_base_ms, o->backoff_cap_ms);
    u->stats.deadletter_bytes = folder_bytes(u->dl);
    *out = u;
    return 0;
}

int rp__uploader_start(rp__uploader *u)
{
    if (u->running)
        return 0;
    /* The sink may already be appending (and waking us) on another thread. */
    rp__os_mutex_lock(u->lock);
    u->stopping = 0;
    u->work = 1;
    rp__os_mutex_unlock(u->lock);
    setup_abort_clear(u->setup);
    int rc = rp__os_thread_start(&u->thread, "rp-upload", run, u);
    if (rc == 0)
        u->running = 1;
    return rc;
}

void rp__uploader_wake(rp__uploader *u)
{
    if (!u)
        return;
    rp__os_mutex_lock(u->lock);
    u->work = 1;
    rp__os_cond_broadcast(u->cond);
    rp__os_mutex_unlock(u->lock);
}

void rp__uploader_resume(rp__uploader *u)
{
    if (!u)
        return;
    rp__os_mutex_lock(u->lock);
    int was = u->paused;
    u->paused = 0;
    u->stats.paused = 0;
    u->work = 1;
    rp__os_cond_broadcast(u->cond);
    rp__os_mutex_unlock(u->lock);
    if (was)
        rp__log_info("upload: resumed");
}

void rp__uploader_stop(rp__uploader *u)
{
    if (!u || !u->running)
        return;
    rp__os_mutex_lock(u->lock);
    u->stopping = 1;
    rp__os_cond_broadcast(u->cond);
    /* Under the lock: the thread swaps its setup under it (switch_setup). */
    setup_abort(u->setup);
    rp__os_mutex_unlock(u->lock);
    rp__os_thread_join(u->thread);
    u->thread = NULL;
    u->running = 0;
}

int rp__uploader_reconfigure(rp__uploader *u, const rp__uploader_opts *o, char *err, size_t errlen)
{
    struct setup *next = NULL;
    int rc = setup_make(o, &next, err, errlen);
    if (rc != 0)
        return rc;
    /* The thread takes them after the request in flight is answered (or at
     * once when it waits, idle, paused or for a retry); a reconfigure
     * before that replaces the one not taken yet. */
    rp__os_mutex_lock(u->lock);
    struct setup *unused = u->next;
    u->next = next;
    u->next_deadletter_max = o->deadletter_max_bytes;
    u->next_backoff_base = o->backoff_base_ms;
    u->next_backoff_cap = o->backoff_cap_ms;
    if (!u->running)
        switch_setup(u);
    rp__os_mutex_unlock(u->lock);
    setup_free(unused);
    rp__uploader_resume(u); /* clears a pause and wakes the thread */
    return 0;
}

void rp__uploader_destroy(rp__uploader *u)
{
    if (!u)
        return;
    rp__uploader_stop(u);
    while (u->nparts > 0)
        pop(u);
    setup_free(u->next);
    setup_free(u->setup);
    rp__gzip_destroy(u->gz);
    rp__buf_free(&u->payload);
    rp__buf_free(&u->lines);
    rp__buf_free(&u->body);
    rp__buf_free(&u->zbody);
    rp__os_cond_destroy(u->cond);
    rp__os_mutex_destroy(u->lock);
    rp__os_dir_close(u->dl);
    free(u->deadletter_dir);
    free(u);
}

void rp__uploader_get_stats(rp__uploader *u, rp__uploader_stats *out)
{
    rp__os_mutex_lock(u->lock);
    *out = u->stats;
    rp__os_mutex_unlock(u->lock);
}
