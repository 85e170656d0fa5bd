/*
 * core/output/output_format.h - backend adapters (`output.format`): turning a batch
 * of native NDJSON lines into the request a backend expects, and reading
 * its answer.
 *
 * The sink encodes every event once as a native flat-ECS line
 * (core/output/ndjson.h) and the spool stores batches of those lines. Only at
 * upload time does an adapter shape a batch for the configured backend:
 *
 *   rp__format_url        the URL to POST to (ClickHouse puts its query there)
 *   rp__format_headers    Content-Type, Content-Encoding and the vendor's own
 *                         headers; rp__format_auth_scheme the scheme of
 *                         Authorization (which core/output/http.h sends)
 *   rp__format_build_body the request body
 *   rp__format_parse_response
 *                         what the backend's answer means for the batch and,
 *                         where the backend says so, for each line
 *
 * docs/output-formats.md shows every format's exact bytes and the vendor
 * documents they follow.
 *
 * The generic HTTP status rules of ARCHITECTURE.md section 7 (2xx
 * delivered, 409 delivered, 413 split, 408/429/502/503/504 retry,
 * 400/401/403/404/422 dead-letter) belong to the uploader; the adapters
 * only add what a format's body says beyond the status.
 *
 * Each format is a file of its own (format_<name>.c) behind a table of
 * operations (core/output/format_backend.h). The strict JSON scanner they
 * read lines and answers with is core/lib/json_scan.h, and @timestamp is
 * read back by core/lib/civil_time.h; both are included here for the
 * adapters' callers.
 *
 * Thread-safety: no function keeps state; any thread may call any of them.
 */
#ifndef RP_CORE_OUTPUT_FORMAT_H
#define RP_CORE_OUTPUT_FORMAT_H

#include "lib/civil_time.h"
#include "lib/json_scan.h"
#include "output/ndjson.h"
#include "output/outcome.h"

#include <stddef.h>
#include <stdint.h>

enum rp__format {
    RP__FORMAT_NDJSON = 0,   /* "ndjson": native lines, as they are */
    RP__FORMAT_CLICKHOUSE,   /* "clickhouse": JSONEachRow, query in the URL */
    RP__FORMAT_ELASTIC_BULK, /* "elastic-bulk": Elasticsearch/OpenSearch _bulk */
    RP__FORMAT_SPLUNK_HEC,   /* "splunk-hec": /services/collector/event */
    RP__FORMAT_LOKI,         /* "loki": /loki/api/v1/push, JSON */
    RP__FORMAT_OTLP,         /* "otlp": OTLP/HTTP JSON, /v1/logs */
    RP__FORMAT_COUNT_
};

/* The format named by its `output.format` value (case-sensitive).
 * RP_ERR_NOTFOUND for any other name, RP_ERR_INVAL for NULL. */
int rp__format_parse(const char *name, enum rp__format *out);
/* The `output.format` value of f (static string), or NULL when out of range. */
const char *rp__format_name(enum rp__format f);
/* 1 when the body is the batch's lines unchanged (ndjson, clickhouse), so
 * an uploader may send the lines without building a body; 0 otherwise. */
int rp__format_is_passthrough(enum rp__format f);

/* An extra Loki stream label; name must match [A-Za-z_][A-Za-z0-9_]*. */
typedef struct rp__format_label {
    const char *name;
    const char *value;
} rp__format_label;

/*
 * What the adapters need beyond the lines. Every pointer is borrowed from
 * the caller for the length of one call; NULL means "not set" (a zeroed
 * struct is valid: formats that need host_name refuse with RP_ERR_INVAL).
 * Strings are NUL-terminated UTF-8; those that go into JSON are escaped (and
 * invalid UTF-8 replaced) as core/output/ndjson.h describes, those that go into
 * headers must be visible ASCII, spaces and tabs (RP_ERR_INVAL).
 */
typedef struct rp__format_ctx {
    const char *host_name;               /* Splunk "host", Loki label "host", OTLP
                                            host.name; required by those three */
    const char *agent_id;                /* OTLP service.instance.id, when set */
    const char *agent_version;           /* OTLP service.version and scope version */
    const char *auth_scheme;             /* overrides rp__format_auth_scheme: NULL =
                                            "Splunk" for splunk-hec, "Bearer" for
                                            the others (Elasticsearch API keys:
                                            "ApiKey") */
    const char *clickhouse_table;        /* [db.]table, identifiers only;
                                            NULL = "rampart.events" */
    const char *elastic_index;           /* "_index" in every action; NULL = none
                                            (the URL names the index) */
    const char *splunk_index;            /* "index" in every envelope; NULL = the
                                            token's default index */
    const char *splunk_source;           /* "source"; NULL = "rampart" */
    const char *splunk_sourcetype;       /* "sourcetype"; NULL = "_json" */
    const char *splunk_channel;          /* X-Splunk-Request-Channel (a GUID); needed
                                            only when the token has indexer
                                            acknowledgement on */
    const char *loki_tenant;             /* X-Scope-OrgID for multi-tenant Loki */
    const char *loki_job;                /* label "job"; NULL = "rampart" */
    const rp__format_label *loki_labels; /* extra stream labels */
    size_t loki_label_count;
    const rp__format_label *otlp_resource; /* extra OTLP resource attributes
                                              (string values); a name the
                                              adapter sets itself is refused */
    size_t otlp_resource_count;
    int uncompressed; /* nonzero: the uploader sends the body without gzip,
                         so no Content-Encoding header */
} rp__format_ctx;

/* ------------------------------------------------------------------------ */
/* Requests */

/*
 * Appends the URL to POST to: base_url unchanged for every format but
 * clickhouse, which gets these query parameters (each only when base_url
 * does not set it already, so an operator's own value wins):
 *   query=INSERT INTO <table> FORMAT JSONEachRow   (percent-encoded)
 *   date_time_input_format=best_effort
 *   input_format_skip_unknown_fields=1
 * joined to an existing query string with '&' and kept before a '#'
 * fragment. RP_ERR_INVAL for an empty base_url, a base_url with control
 * characters or spaces, or a table name that is not [db.]identifier (it goes
 * into SQL). All or nothing under url->max (RP_ERR_FULL, RP_ERR_NOMEM).
 */
int rp__format_url(enum rp__format f, const char *base_url, const rp__format_ctx *ctx,
                   rp__buf *url);

/* Receives one header as name and value (NUL-terminated, borrowed for the
 * call: ready for core/output/http.h's rp__http_header). A nonzero return stops
 * rp__format_headers, which returns it. */
typedef int (*rp__format_header_fn)(void *arg, const char *name, const char *value);

/*
 * Calls fn once per format header, in this order:
 *   Content-Type      application/x-ndjson (ndjson, clickhouse,
 *                     elastic-bulk) or application/json (splunk-hec, loki,
 *                     otlp)
 *   Content-Encoding  gzip, unless ctx->uncompressed
 *   X-Splunk-Request-Channel (splunk-hec, when ctx->splunk_channel is set)
 *   X-Scope-OrgID     (loki, when ctx->loki_tenant is set)
 * Authorization, User-Agent and Idempotency-Key are the same for every
 * format and belong to the HTTP client and the uploader (core/output/http.h); the
 * format only picks the scheme, see rp__format_auth_scheme. Every value is
 * checked before the first call: RP_ERR_INVAL when it holds anything but
 * visible ASCII, spaces and tabs (a CR or LF would forge headers),
 * RP_ERR_RANGE when it is longer than RP__FORMAT_HEADER_MAX bytes; so fn
 * sees either all headers or none.
 */
#define RP__FORMAT_HEADER_MAX 8192
int rp__format_headers(enum rp__format f, const rp__format_ctx *ctx, rp__format_header_fn fn,
                       void *arg);

/* The Authorization scheme for f, for rp__http_opts.auth_scheme:
 * ctx->auth_scheme when set, else "Splunk" for splunk-hec (HEC wants
 * "Authorization: Splunk <token>") and "Bearer" for the others. Static or
 * borrowed from ctx; NULL only for f out of range. */
const char *rp__format_auth_scheme(enum rp__format f, const rp__format_ctx *ctx);

/* Filled by rp__format_build_body when the caller passes one. */
typedef struct rp__format_build_info {
    size_t lines;    /* lines in the batch (on success and on RP_ERR_PARSE) */
    size_t bad_line; /* on RP_ERR_PARSE: index (from 0) of the offending line */
    const char *why; /* on RP_ERR_PARSE: what is wrong with it (static text) */
} rp__format_build_info;

/*
 * Appends the request body for a batch to body.
 *
 * lines[0..len) is the batch: native NDJSON, every line a JSON object with
 * flat dotted keys, every line ended by "\n" (the last one too). Not
 * modified, not kept.
 *
 *   ndjson, clickhouse  the lines unchanged (JSONEachRow is one object a
 *                       line; the flat keys match ECS column names)
 *   elastic-bulk        per line: {"create":{["_index":"<i>",]"_id":"<event.id>"}}\n<line>\n
 *   splunk-hec          per line: {"time":<s.fff>,"host":"<h>","source":"<src>",
 *                       "sourcetype":"<st>"[,"index":"<i>"],"event":<line>}\n
 *                       (source "rampart" and sourcetype "_json" by default)
 *   loki                {"streams":[{"stream":{"host":"<h>","job":"<j>"[,...]},
 *                       "values":[["<ns>","<line>"],...]}]}
 *   otlp                {"resourceLogs":[...]} per opentelemetry-proto's JSON
 *                       mapping; one logRecord per line
 * See docs/output-formats.md for the exact bytes.
 *
 * Checks: ndjson and clickhouse only check the framing (every line ends in
 * "\n"); the others scan every line strictly (RFC 8259, UTF-8) and need a
 * JSON object, with a string "event.id" for elastic-bulk and a string
 * "@timestamp" in RFC 3339 for splunk-hec, loki and otlp. A line that fails
 * gives RP_ERR_PARSE and info->bad_line / info->why: it cannot come from
 * the encoder, so the spool record is damaged and the uploader should
 * dead-letter the batch rather than send something the backend half-takes.
 *
 * Errors: RP_ERR_INVAL (empty batch, f out of range, host_name missing
 * where needed, a bad Loki label name), RP_ERR_PARSE (above), RP_ERR_FULL
 * (the body would exceed body->max), RP_ERR_NOMEM. On any error body is
 * exactly as it was: nothing partial is left.
 */
int rp__format_build_body(enum rp__format f, const rp__format_ctx *ctx, const char *lines,
                          size_t len, rp__buf *body, rp__format_build_info *info);

/* ------------------------------------------------------------------------ */
/* Responses */

/* The largest response body parse_response reads; the uploader should stop
 * receiving past it (a larger body gives RP_ERR_RANGE). */
#define RP__FORMAT_RESPONSE_MAX ((size_t)16 << 20)
/* The most lines a batch may have for per-line verdicts. */
#define RP__FORMAT_MAX_LINES ((size_t)1 << 22)

typedef struct rp__format_result {
    /* For the whole batch: STATUS, DELIVERED, RETRY, DEAD_LETTER or PARTIAL
     * (core/output/outcome.h, the retry policy's vocabulary too). */
    enum rp__outcome verdict;
    /* PARTIAL only: nlines bytes, each RP__OUTCOME_DELIVERED, _RETRY or
     * _DEAD_LETTER, line i of the batch at index i. Owned by the result: free with
     * rp__format_result_free. NULL otherwise. */
    uint8_t *line_verdicts;
    size_t nlines;
    /* Lines per verdict when the body tells per line (elastic-bulk items,
     * splunk-hec invalid-event-number); all zero otherwise. */
    size_t delivered, retry, dead;
    /* otlp partialSuccess.rejectedLogRecords (0 when none). */
    uint64_t rejected;
    /* HEC "code" for splunk-hec, the "Code: N." for clickhouse; -1 when
     * the body has none. */
    long backend_code;
    /* A short reason for logs and dead-letter notes, printable ASCII (other
     * bytes become '?'), NUL-terminated; "" when there is nothing to say. */
    char message[256];
} rp__format_result;

/*
 * Reads a backend's answer to one batch of nlines lines: http_status and
 * body[0..len) (untrusted; any bytes; body may be NULL when len is 0).
 * out is overwritten (call rp__format_result_free on it before reusing it).
 *
 * Per format, beyond RP__OUTCOME_STATUS for non-2xx answers:
 *   ndjson, loki     any 2xx delivered (Loki answers 204); the body of an
 *                    error is copied to message.
 *   clickhouse       any 2xx delivered. Errors ("Code: N. DB::Exception")
 *                    are sorted by code: parse, schema and access errors
 *                    DEAD, overload and replication errors RETRY, others
 *                    STATUS (ClickHouse answers 500 for most of them).
 *   elastic-bulk     2xx with "errors":false delivered; with "errors":true
 *                    each item decides for its line: 2xx and 409 delivered,
 *                    408/429/5xx retry, other statuses dead. All alike give
 *                    that verdict, a mix gives PARTIAL. Error bodies give
 *                    their error type and reason as message.
 *   splunk-hec       code 0 delivered; 8, 9, 18-20 (server busy or
 *                    unhealthy) retry; 6 with invalid-event-number n:
 *                    PARTIAL, lines before n delivered, n dead, later ones
 *                    retry; any other nonzero code on a 2xx dead; others
 *                    STATUS.
 *   otlp             2xx delivered, unless partialSuccess.rejectedLogRecords
 *                    > 0: DEAD (the spec forbids retrying and does not say
 *                    which records were rejected, so the whole batch is kept
 *                    as a dead letter; accepted records are thus also in
 *                    Rampart's dead-letter copy). rejected holds the count.
 *                    A 2xx body that is not JSON at all is ignored
 *                    (DELIVERED, a note in message): OTLP makes the 2xx the
 *                    success signal and the body optional detail.
 *
 * Returns 0 when the body was understood (or has no meaning for the
 * format). RP_ERR_PARSE when a 2xx body that must be read (elastic-bulk,
 * splunk-hec, otlp's partialSuccess) is malformed or does not fit the batch
 * (item count differs from nlines): out->verdict is then DEAD (a 2xx we
 * cannot verify is not delivery, and retrying something the backend keeps
 * answering that way would stall the spool) and message says what was
 * wrong. RP_ERR_RANGE for a body over RP__FORMAT_RESPONSE_MAX or nlines
 * over RP__FORMAT_MAX_LINES (verdict DEAD likewise), RP_ERR_INVAL for bad
 * arguments, RP_ERR_NOMEM (verdict STATUS).
 */
int rp__format_parse_response(enum rp__format f, long http_status, const char *body, size_t len,
                              size_t nlines, rp__format_result *out);
/* Frees line_verdicts and empties the result. NULL is a no-op. */
void rp__format_result_free(rp__format_result *r);

#endif
