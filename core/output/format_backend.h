/*
 * core/output/format_backend.h - what an output format (a backend adapter)
 * is, for the files that implement one: a table of operations, and the
 * helpers they share. Private to core/output/output_format.c and the
 * format_*.c files; everyone else uses core/output/output_format.h.
 *
 * Adding a backend: a value in enum rp__format (output_format.h), a file
 * format_<name>.c defining its rp__format_ops, and its row in the table of
 * output_format.c. Like curl's TLS backends, the shared code never names a
 * backend.
 */
#ifndef RP_CORE_FORMAT_BACKEND_H
#define RP_CORE_FORMAT_BACKEND_H

#include "output/output_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Extra headers a format may add after Content-Type and Content-Encoding. */
#define RP__FORMAT_EXTRA_HEADERS 2

typedef struct rp__format_ops {
    const char *name;         /* the output.format value */
    const char *content_type; /* Content-Type of the request */
    const char *auth_scheme;  /* Authorization scheme unless the config names one;
                                 NULL: "Bearer", as for most backends */
    int passthrough;          /* 1: the body is the batch's lines unchanged */
    /* Appends the URL to POST to for base_url, which the caller checked
     * (not empty, no spaces or control characters). NULL: base_url. */
    int (*url)(const char *base_url, const rp__format_ctx *ctx, rp__buf *url);
    /* Fills the format's own headers (at most RP__FORMAT_EXTRA_HEADERS);
     * returns how many. The caller checks the values. NULL: none. */
    size_t (*headers)(const rp__format_ctx *ctx, const char **names, const char **values);
    /* Appends the body for lines[0..len) (the caller checked that it is not
     * empty and ends in "\n", counted info->lines, and cuts body back on
     * failure). NULL: the lines themselves. */
    int (*build)(const rp__format_ctx *ctx, const char *lines, size_t len, rp__buf *body,
                 rp__format_build_info *info);
    /* Reads an answer into r (zeroed, backend_code -1; body not NULL and
     * at most RP__FORMAT_RESPONSE_MAX bytes). As rp__format_parse_response. */
    int (*parse)(rp__format_result *r, long status, const char *body, size_t len, size_t nlines);
} rp__format_ops;

extern const rp__format_ops rp__format_ndjson_ops;
extern const rp__format_ops rp__format_clickhouse_ops;
extern const rp__format_ops rp__format_elastic_ops;
extern const rp__format_ops rp__format_splunk_ops;
extern const rp__format_ops rp__format_loki_ops;
extern const rp__format_ops rp__format_otlp_ops;

/* ---- writing ----------------------------------------------------------- */

static inline int rp__fmt_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static inline int rp__fmt_put(rp__buf *b, const char *s)
{
    return rp__buf_append_cstr(b, s);
}

static inline int rp__fmt_put_span(rp__buf *b, const rp__json_span *v)
{
    return rp__buf_append(b, v->ptr, v->len);
}

static inline int rp__fmt_put_jstr(rp__buf *b, const char *s)
{
    return rp__json_append_string(s, strlen(s), b);
}

static inline int rp__fmt_put_i64(rp__buf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    return rp__buf_append(b, tmp, (size_t)n);
}

/* For a headers operation: the header name when the configuration gave it a
 * value (not NULL); returns how many headers that is, 0 or 1. */
static inline size_t rp__fmt_optional_header(const char *name, const char *value,
                                             const char **names, const char **values)
{
    if (!value)
        return 0;
    names[0] = name;
    values[0] = value;
    return 1;
}

/* A plain identifier [A-Za-z_][A-Za-z0-9_]* of s[0..n). */
int rp__fmt_is_ident(const char *s, size_t n);

/* Checks the operator's extra labels (loki) or resource attributes (otlp)
 * before a build: the list is there when n says so, every name passes
 * name_ok, every value is set, and no name is one of the format's own
 * (reserved[0..nreserved)) or stands twice. 0 or RP_ERR_INVAL. */
int rp__fmt_labels_check(const rp__format_label *l, size_t n, int (*name_ok)(const char *name),
                         const char *const *reserved, size_t nreserved);

/* ---- reading a batch ---------------------------------------------------- */

/* A line of the batch: text[0..len) without its "\n". */
typedef struct rp__fmt_line {
    const char *text;
    size_t len;
} rp__fmt_line;

typedef struct rp__fmt_batch {
    const char *p;
    size_t left;
    size_t index; /* of the next line */
} rp__fmt_batch;

/* The next line; 0 at the end. The caller checked the batch ends in "\n". */
int rp__fmt_next_line(rp__fmt_batch *b, rp__fmt_line *l);
/* Fails a build at the current line: RP_ERR_PARSE, info says where, why. */
int rp__fmt_bad_line(rp__format_build_info *info, const rp__fmt_batch *b, const char *why);
/* Scans a line for keys; a line that is not a JSON object fails the build. */
int rp__fmt_scan_line(const rp__fmt_line *l, const char *const *keys, size_t nkeys,
                      rp__json_span *vals, rp__format_build_info *info, const rp__fmt_batch *b);
/* The line's @timestamp (span v) in ns; a missing or bad one fails the build. */
int rp__fmt_need_timestamp(const rp__json_span *v, int64_t *ns, rp__format_build_info *info,
                           const rp__fmt_batch *b);
/* For a format that needs nothing else of a line (loki, splunk-hec): the
 * next line of b and its @timestamp in ns. 1 while there is one; 0 at the
 * end of the batch, or when *rc (0 to go on) is or becomes an error. */
int rp__fmt_next_timed_line(rp__fmt_batch *b, rp__fmt_line *l, int64_t *ns,
                            rp__format_build_info *info, int *rc);

/* ---- reading an answer -------------------------------------------------- */

static inline int rp__fmt_is_2xx(long status)
{
    return status >= 200 && status <= 299;
}

/* Append to r->message, printable ASCII only, cut at its end. */
void rp__fmt_msg_add(rp__format_result *r, const char *s, size_t n);
void rp__fmt_msg_cstr(rp__format_result *r, const char *s);
void rp__fmt_msg_num(rp__format_result *r, long long v);
void rp__fmt_msg_span(rp__format_result *r, const rp__json_span *v);       /* a string, decoded */
void rp__fmt_msg_body(rp__format_result *r, const char *body, size_t len); /* trimmed */
/* A 2xx whose body cannot be read: verdict DEAD, message why; returns rc. */
int rp__fmt_malformed(rp__format_result *r, int rc, const char *why);
/* A JSON integer of at most 18 digits; -1 otherwise. */
int rp__fmt_span_int(const rp__json_span *v, long long *out);
/* An unsigned 64-bit integer as a JSON number or a decimal string (the
 * protobuf JSON mapping of int64); -1 otherwise. */
int rp__fmt_span_u64(const rp__json_span *v, uint64_t *out);
/* Per-line verdicts v[0..n), collapsed to one when all agree; takes v. */
void rp__fmt_set_lines(rp__format_result *r, uint8_t *v, size_t n);
/* 2xx delivered; otherwise the status rules, the body as message. */
int rp__fmt_text_response(rp__format_result *r, long status, const char *body, size_t len,
                          size_t nlines);

#endif
