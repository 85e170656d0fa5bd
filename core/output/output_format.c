/*
 * core/output/output_format.c - what the output formats share: the table of
 * backends (one format_<name>.c each, see format_backend.h), the checks and
 * framing every format gets (URL characters, header values, batch
 * framing, response size), and the helpers the backends build bodies and
 * read answers with.
 *
 * Bodies are built from the native lines without a DOM: each line is
 * scanned once by a strict JSON scanner (core/lib/json_scan.h) that
 * validates it and picks out the few top-level members an adapter needs
 * (event.id, @timestamp, event.kind); values found are copied as their raw
 * JSON text, which the scan has just proved valid. Responses are untrusted
 * input: the scanner reads small ones, jansson reads Elasticsearch's
 * per-item answers, and every path is bounded in size and depth.
 */
#include "output/format_backend.h"

#include <stdlib.h>

/* ------------------------------------------------------------------------ */
/* The backends */

/* Indexed by enum rp__format; a new backend adds its row here. */
static const rp__format_ops *const formats[RP__FORMAT_COUNT_] = {
    [RP__FORMAT_NDJSON] = &rp__format_ndjson_ops,
    [RP__FORMAT_CLICKHOUSE] = &rp__format_clickhouse_ops,
    [RP__FORMAT_ELASTIC_BULK] = &rp__format_elastic_ops,
    [RP__FORMAT_SPLUNK_HEC] = &rp__format_splunk_ops,
    [RP__FORMAT_LOKI] = &rp__format_loki_ops,
    [RP__FORMAT_OTLP] = &rp__format_otlp_ops,
};

int rp__format_parse(const char *name, enum rp__format *out)
{
    if (!name || !out)
        return RP_ERR_INVAL;
    for (int i = 0; i < RP__FORMAT_COUNT_; i++) {
        if (strcmp(name, formats[i]->name) == 0) {
            *out = (enum rp__format)i;
            return 0;
        }
    }
    return RP_ERR_NOTFOUND;
}

static int format_valid(enum rp__format f)
{
    return (unsigned)f < (unsigned)RP__FORMAT_COUNT_;
}

const char *rp__format_name(enum rp__format f)
{
    return format_valid(f) ? formats[f]->name : NULL;
}

int rp__format_is_passthrough(enum rp__format f)
{
    return format_valid(f) && formats[f]->passthrough;
}

/* ------------------------------------------------------------------------ */
/* Requests: URL */

/* A configured URL may not hold control characters or spaces: curl would
 * refuse them, and a CR or LF could split the request. */
static int url_chars_bad(const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == 0x7f)
            return 1;
    }
    return 0;
}

int rp__fmt_is_ident(const char *s, size_t n)
{
    if (n == 0 || rp__fmt_is_digit(s[0]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || rp__fmt_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return 0;
    }
    return 1;
}

int rp__fmt_labels_check(const rp__format_label *l, size_t n, int (*name_ok)(const char *name),
                         const char *const *reserved, size_t nreserved)
{
    if (n && !l)
        return RP_ERR_INVAL;
    for (size_t i = 0; i < n; i++) {
        if (!name_ok(l[i].name) || !l[i].value)
            return RP_ERR_INVAL;
        for (size_t k = 0; k < nreserved; k++)
            if (strcmp(l[i].name, reserved[k]) == 0)
                return RP_ERR_INVAL;
        for (size_t k = 0; k < i; k++)
            if (strcmp(l[k].name, l[i].name) == 0)
                return RP_ERR_INVAL;
    }
    return 0;
}

int rp__format_url(enum rp__format f, const char *base_url, const rp__format_ctx *ctx, rp__buf *url)
{
    if (!format_valid(f) || !base_url || !url || !*base_url || url_chars_bad(base_url))
        return RP_ERR_INVAL;
    size_t start = url->len;
    int rc = formats[f]->url ? formats[f]->url(base_url, ctx, url) : rp__fmt_put(url, base_url);
    if (rc != 0)
        rp__buf_truncate(url, start);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Requests: headers */

/* A header value the HTTP client can carry as it is: visible ASCII, spaces
 * and tabs. A CR or LF would let a configured value forge headers. */
static int header_value_check(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++) {
        unsigned char c = (unsigned char)v[n];
        if ((c < 0x20 && c != '\t') || c >= 0x7f)
            return RP_ERR_INVAL;
    }
    return n > RP__FORMAT_HEADER_MAX ? RP_ERR_RANGE : 0;
}

int rp__format_headers(enum rp__format f, const rp__format_ctx *ctx, rp__format_header_fn fn,
                       void *arg)
{
    if (!format_valid(f) || !fn)
        return RP_ERR_INVAL;
    static const rp__format_ctx none;
    if (!ctx)
        ctx = &none;
    const char *names[2 + RP__FORMAT_EXTRA_HEADERS], *values[2 + RP__FORMAT_EXTRA_HEADERS];
    size_t n = 0;
    names[n] = "Content-Type";
    values[n++] = formats[f]->content_type;
    if (!ctx->uncompressed) {
        names[n] = "Content-Encoding";
        values[n++] = "gzip";
    }
    if (formats[f]->headers)
        n += formats[f]->headers(ctx, names + n, values + n);
    /* All values are checked first, so fn sees all headers or none. */
    for (size_t i = 0; i < n; i++) {
        int rc = header_value_check(values[i]);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < n; i++) {
        int rc = fn(arg, names[i], values[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

const char *rp__format_auth_scheme(enum rp__format f, const rp__format_ctx *ctx)
{
    if (!format_valid(f))
        return NULL;
    if (ctx && ctx->auth_scheme)
        return ctx->auth_scheme;
    return formats[f]->auth_scheme ? formats[f]->auth_scheme : "Bearer";
}

/* ------------------------------------------------------------------------ */
/* Requests: bodies */

/* The next line; 0 at the end. The caller checked the batch ends in "\n". */
int rp__fmt_next_line(rp__fmt_batch *b, rp__fmt_line *l)
{
    if (b->left == 0)
        return 0;
    const char *nl = memchr(b->p, '\n', b->left);
    l->text = b->p;
    l->len = (size_t)(nl - b->p);
    b->left -= l->len + 1;
    b->p = nl + 1;
    b->index++;
    return 1;
}

/* Fails a build at the current line. */
int rp__fmt_bad_line(rp__format_build_info *info, const rp__fmt_batch *b, const char *why)
{
    info->bad_line = b->index - 1;
    info->why = why;
    return RP_ERR_PARSE;
}

/* Scans a line for keys; maps scanner errors to the reason a build fails. */
int rp__fmt_scan_line(const rp__fmt_line *l, const char *const *keys, size_t nkeys,
                      rp__json_span *vals, rp__format_build_info *info, const rp__fmt_batch *b)
{
    int rc = rp__json_scan_object(l->text, l->len, keys, nkeys, vals);
    if (rc == RP_ERR_RANGE)
        return rp__fmt_bad_line(info, b, "line nests too deep");
    if (rc == RP_ERR_EXISTS)
        return rp__fmt_bad_line(info, b, "line has a wanted key twice");
    if (rc != 0)
        return rp__fmt_bad_line(info, b, "line is not a JSON object");
    return 0;
}

static int line_timestamp(const rp__json_span *v, int64_t *ns)
{
    char tmp[64];
    size_t n;
    if (v->type != RP__JSON_STRING || rp__json_string_decode(v, tmp, sizeof tmp, &n) != 0)
        return RP_ERR_PARSE;
    return rp__rfc3339_parse_ns(tmp, n, ns);
}

int rp__fmt_need_timestamp(const rp__json_span *v, int64_t *ns, rp__format_build_info *info,
                           const rp__fmt_batch *b)
{
    if (v->type == RP__JSON_ABSENT)
        return rp__fmt_bad_line(info, b, "line has no @timestamp");
    if (line_timestamp(v, ns) != 0)
        return rp__fmt_bad_line(info, b, "@timestamp is not an RFC 3339 string");
    return 0;
}

int rp__fmt_next_timed_line(rp__fmt_batch *b, rp__fmt_line *l, int64_t *ns,
                            rp__format_build_info *info, int *rc)
{
    static const char *const keys[] = {"@timestamp"};
    rp__json_span ts;
    if (*rc != 0 || !rp__fmt_next_line(b, l))
        return 0;
    *rc = rp__fmt_scan_line(l, keys, 1, &ts, info, b);
    if (*rc == 0)
        *rc = rp__fmt_need_timestamp(&ts, ns, info, b);
    return *rc == 0;
}

int rp__format_build_body(enum rp__format f, const rp__format_ctx *ctx, const char *lines,
                          size_t len, rp__buf *body, rp__format_build_info *info)
{
    rp__format_build_info scratch;
    if (!info)
        info = &scratch;
    info->lines = 0;
    info->bad_line = 0;
    info->why = NULL;
    static const rp__format_ctx none;
    if (!ctx)
        ctx = &none;
    if (!format_valid(f) || !body || !lines || len == 0)
        return RP_ERR_INVAL;
    /* Counted first so that info->lines is the whole batch's even when a
     * line fails halfway. */
    size_t n = 0;
    for (const char *p = lines; (p = memchr(p, '\n', len - (size_t)(p - lines))) != NULL; p++)
        n++;
    if (lines[len - 1] != '\n') {
        info->lines = n + 1;
        info->bad_line = n;
        info->why = "last line has no newline";
        return RP_ERR_PARSE;
    }
    info->lines = n;
    size_t start = body->len;
    /* ndjson, clickhouse: the lines are the body. */
    int rc = formats[f]->build ? formats[f]->build(ctx, lines, len, body, info)
                               : rp__buf_append(body, lines, len);
    if (rc != 0)
        rp__buf_truncate(body, start);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Responses */

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Appends s[0..n) to the message, printable ASCII only, cut at its end. */
void rp__fmt_msg_add(rp__format_result *r, const char *s, size_t n)
{
    size_t o = strlen(r->message);
    for (size_t i = 0; i < n && o + 1 < sizeof r->message; i++) {
        unsigned char c = (unsigned char)s[i];
        r->message[o++] = c >= 0x20 && c < 0x7f ? (char)c : c == '\n' || c == '\t' ? ' ' : '?';
    }
    r->message[o] = '\0';
}

void rp__fmt_msg_cstr(rp__format_result *r, const char *s)
{
    rp__fmt_msg_add(r, s, strlen(s));
}

void rp__fmt_msg_num(rp__format_result *r, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    rp__fmt_msg_add(r, tmp, (size_t)n);
}

/* A string span's value, decoded, into the message. */
void rp__fmt_msg_span(rp__format_result *r, const rp__json_span *v)
{
    char tmp[sizeof r->message];
    size_t n;
    if (v->type != RP__JSON_STRING)
        return;
    int rc = rp__json_string_decode(v, tmp, sizeof tmp, &n);
    if (rc == RP_ERR_FULL) /* long text: the raw start is as good */
        rp__fmt_msg_add(r, v->ptr + 1, v->len - 2);
    else if (rc == 0)
        rp__fmt_msg_add(r, tmp, n);
}

/* Trims the body's surrounding whitespace for a message. */
void rp__fmt_msg_body(rp__format_result *r, const char *body, size_t len)
{
    size_t i = rp__json_skip_ws(body, len, 0);
    while (len > i && is_ws((unsigned char)body[len - 1]))
        len--;
    rp__fmt_msg_add(r, body + i, len - i);
}

/* A 2xx whose body cannot be read: see the header for why DEAD. */
int rp__fmt_malformed(rp__format_result *r, int rc, const char *why)
{
    free(r->line_verdicts);
    r->line_verdicts = NULL;
    r->nlines = 0;
    r->delivered = r->retry = r->dead = 0;
    r->verdict = RP__OUTCOME_DEAD_LETTER;
    r->message[0] = '\0';
    rp__fmt_msg_cstr(r, why);
    return rc;
}

/* A JSON integer span as a long long; -1 when it is not a plain integer
 * of at most 18 digits. */
int rp__fmt_span_int(const rp__json_span *v, long long *out)
{
    if (v->type != RP__JSON_NUMBER || v->len == 0)
        return -1;
    const char *p = v->ptr;
    size_t n = v->len, i = 0;
    int neg = p[0] == '-';
    i += (size_t)neg;
    if (i >= n || n - i > 18)
        return -1;
    long long x = 0;
    for (; i < n; i++) {
        if (!rp__fmt_is_digit(p[i]))
            return -1;
        x = x * 10 + (p[i] - '0');
    }
    *out = neg ? -x : x;
    return 0;
}

/* An unsigned 64-bit integer given as a JSON number or, as the protobuf
 * JSON mapping writes int64, a decimal string. */
int rp__fmt_span_u64(const rp__json_span *v, uint64_t *out)
{
    const char *p = v->ptr;
    size_t n = v->len;
    if (v->type == RP__JSON_STRING) {
        p++;
        n -= 2;
    } else if (v->type != RP__JSON_NUMBER) {
        return -1;
    }
    if (n == 0 || n > 20)
        return -1;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (!rp__fmt_is_digit(p[i]))
            return -1;
        unsigned d = (unsigned)(p[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

/* Sets per-line verdicts, collapsing to one batch verdict when all lines
 * agree. Takes ownership of v. */
void rp__fmt_set_lines(rp__format_result *r, uint8_t *v, size_t n)
{
    r->delivered = r->retry = r->dead = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == RP__OUTCOME_DELIVERED)
            r->delivered++;
        else if (v[i] == RP__OUTCOME_RETRY)
            r->retry++;
        else
            r->dead++;
    }
    if (r->delivered == n || r->retry == n || r->dead == n) {
        r->verdict = n == 0 ? RP__OUTCOME_DELIVERED : (enum rp__outcome)v[0];
        free(v);
        return;
    }
    r->verdict = RP__OUTCOME_PARTIAL;
    r->line_verdicts = v;
    r->nlines = n;
}

/* ndjson and loki: a 2xx is delivery, the body of an error is its message. */
int rp__fmt_text_response(rp__format_result *r, long status, const char *body, size_t len,
                          size_t nlines)
{
    (void)nlines;
    if (rp__fmt_is_2xx(status)) {
        r->verdict = RP__OUTCOME_DELIVERED;
        return 0;
    }
    r->verdict = RP__OUTCOME_STATUS;
    rp__fmt_msg_body(r, body, len);
    return 0;
}

int rp__format_parse_response(enum rp__format f, long http_status, const char *body, size_t len,
                              size_t nlines, rp__format_result *out)
{
    if (!out)
        return RP_ERR_INVAL;
    memset(out, 0, sizeof *out);
    out->backend_code = -1;
    if (!format_valid(f) || (!body && len))
        return RP_ERR_INVAL;
    if (!body)
        body = "";
    if (len > RP__FORMAT_RESPONSE_MAX)
        return rp__fmt_malformed(out, RP_ERR_RANGE, "response body over 16 MiB");
    if (nlines > RP__FORMAT_MAX_LINES)
        return rp__fmt_malformed(out, RP_ERR_RANGE,
                                 "batch has too many lines for per-line verdicts");
    return formats[f]->parse(out, http_status, body, len, nlines);
}

void rp__format_result_free(rp__format_result *r)
{
    if (!r)
        return;
    free(r->line_verdicts);
    memset(r, 0, sizeof *r);
    r->backend_code = -1;
}
