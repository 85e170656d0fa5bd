/*
 * core/output/format_otlp.c - output.format "otlp": OTLP/HTTP JSON logs, and partialSuccess.
 */
#include "output/format_backend.h"

/* An attribute up to its string value: {"key":<key>,"value":{"stringValue":
 * Keys are escaped: an operator's resource attributes pass here too. */
static int otlp_attr_key(rp__buf *b, int first, const char *key)
{
    int rc = rp__fmt_put(b, first ? "{\"key\":" : ",{\"key\":");
    if (rc == 0 && (rc = rp__fmt_put_jstr(b, key)) == 0)
        rc = rp__fmt_put(b, ",\"value\":{\"stringValue\":");
    return rc;
}

static int otlp_attr(rp__buf *b, int first, const char *key, const char *value)
{
    int rc = otlp_attr_key(b, first, key);
    if (rc == 0 && (rc = rp__fmt_put_jstr(b, value)) == 0)
        rc = rp__fmt_put(b, "}}");
    return rc;
}

/* The same with a string value as it stands in a line (already JSON). */
static int otlp_attr_span(rp__buf *b, int first, const char *key, const rp__json_span *v)
{
    int rc = otlp_attr_key(b, first, key);
    if (rc == 0 && (rc = rp__fmt_put_span(b, v)) == 0)
        rc = rp__fmt_put(b, "}}");
    return rc;
}

/* Any name but an empty one: OTLP attribute keys are free text. */
static int otlp_attr_name_ok(const char *n)
{
    return n && *n;
}

/* Whether a string span says exactly `word`. */
static int span_is(const rp__json_span *v, const char *word)
{
    char tmp[32];
    size_t n;
    return v->type == RP__JSON_STRING && rp__json_string_decode(v, tmp, sizeof tmp, &n) == 0 &&
           n == strlen(word) && memcmp(tmp, word, n) == 0;
}

/* OTLP/HTTP with JSON (opentelemetry-proto, docs/specification.md "JSON
 * Protobuf Encoding"; opentelemetry/proto/logs/v1/logs.proto): field names
 * in lowerCamelCase, 64-bit integers (the fixed64 times) as decimal
 * strings, enums (severityNumber) as integers, AnyValue as
 * {"stringValue":...}. */
static int body_otlp(const rp__format_ctx *ctx, const char *lines, size_t len, rp__buf *body,
                     rp__format_build_info *info)
{
    static const char *const keys[] = {"@timestamp", "event.id", "event.kind"};
    static const char *const own[] = {"host.name", "service.name", "service.version",
                                      "service.instance.id"};
    if (!ctx->host_name || !*ctx->host_name ||
        rp__fmt_labels_check(ctx->otlp_resource, ctx->otlp_resource_count, otlp_attr_name_ok, own,
                             sizeof own / sizeof own[0]) != 0)
        return RP_ERR_INVAL;
    int rc = rp__fmt_put(body, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[");
    if (rc == 0)
        rc = otlp_attr(body, 1, "host.name", ctx->host_name);
    if (rc == 0)
        rc = otlp_attr(body, 0, "service.name", "rampart");
    if (rc == 0 && ctx->agent_version)
        rc = otlp_attr(body, 0, "service.version", ctx->agent_version);
    if (rc == 0 && ctx->agent_id)
        rc = otlp_attr(body, 0, "service.instance.id", ctx->agent_id);
    for (size_t i = 0; rc == 0 && i < ctx->otlp_resource_count; i++)
        rc = otlp_attr(body, 0, ctx->otlp_resource[i].name, ctx->otlp_resource[i].value);
    if (rc == 0)
        rc = rp__fmt_put(body, "]},\"scopeLogs\":[{\"scope\":{\"name\":\"rampart\"");
    if (rc == 0 && ctx->agent_version) {
        if ((rc = rp__fmt_put(body, ",\"version\":")) == 0)
            rc = rp__fmt_put_jstr(body, ctx->agent_version);
    }
    if (rc == 0)
        rc = rp__fmt_put(body, "},\"logRecords\":[");

    rp__fmt_batch b = {lines, len, 0};
    rp__fmt_line l;
    while (rc == 0 && rp__fmt_next_line(&b, &l)) {
        rp__json_span v[3];
        int64_t ns;
        if ((rc = rp__fmt_scan_line(&l, keys, 3, v, info, &b)) != 0 ||
            (rc = rp__fmt_need_timestamp(&v[0], &ns, info, &b)) != 0)
            break;
        /* The times are fixed64: a time before 1970 cannot be written and
         * becomes 0, which OTLP reads as "unknown". The agent stamps
         * @timestamp when it observes the event, so both times are it. */
        if (ns < 0)
            ns = 0;
        /* Alerts are what an operator must look at: WARN (13); the rest
         * (events, metrics, state) INFO (9). */
        int alert = span_is(&v[2], "alert");
        if ((rc = rp__fmt_put(body, b.index == 1 ? "{\"timeUnixNano\":\""
                                                 : ",{\"timeUnixNano\":\"")) == 0 &&
            (rc = rp__fmt_put_i64(body, ns)) == 0 &&
            (rc = rp__fmt_put(body, "\",\"observedTimeUnixNano\":\"")) == 0 &&
            (rc = rp__fmt_put_i64(body, ns)) == 0 &&
            (rc = rp__fmt_put(body, alert ? "\",\"severityNumber\":13,\"severityText\":\"WARN\""
                                          : "\",\"severityNumber\":9,\"severityText\":\"INFO\"")) ==
                0 &&
            (rc = rp__fmt_put(body, ",\"body\":{\"stringValue\":")) == 0 &&
            (rc = rp__json_append_string(l.text, l.len, body)) == 0)
            rc = rp__fmt_put(body, "}");
        int first = 1;
        for (int k = 1; rc == 0 && k < 3; k++) {
            if (v[k].type != RP__JSON_STRING)
                continue;
            if (first)
                rc = rp__fmt_put(body, ",\"attributes\":[");
            if (rc == 0)
                rc = otlp_attr_span(body, first, keys[k], &v[k]);
            first = 0;
        }
        if (rc == 0 && !first)
            rc = rp__fmt_put(body, "]");
        if (rc == 0)
            rc = rp__fmt_put(body, "}");
    }
    if (rc == 0)
        rc = rp__fmt_put(body, "]}]}]}");
    return rc;
}

static int otlp_response(rp__format_result *r, long status, const char *body, size_t len,
                         size_t nlines)
{
    (void)nlines; /* OTLP does not say which records it refused */
    if (!rp__fmt_is_2xx(status)) {
        /* A google.rpc.Status: {"code":..,"message":..,"details":[..]}. */
        static const char *const keys[] = {"message"};
        rp__json_span m;
        if (rp__json_scan_object(body, len, keys, 1, &m) == 0 && m.type == RP__JSON_STRING)
            rp__fmt_msg_span(r, &m);
        else
            rp__fmt_msg_body(r, body, len);
        r->verdict = RP__OUTCOME_STATUS;
        return 0;
    }
    r->verdict = RP__OUTCOME_DELIVERED;
    if (rp__json_skip_ws(body, len, 0) == len)
        return 0; /* an empty ExportLogsServiceResponse: full success */
    static const char *const top[] = {"partialSuccess"};
    static const char *const inner[] = {"rejectedLogRecords", "errorMessage"};
    rp__json_span ps, v[2];
    if (rp__json_scan_object(body, len, top, 1, &ps) != 0) {
        /* The spec makes 2xx the success signal and the body optional
         * detail; a server that sends something else still took the data. */
        rp__fmt_msg_cstr(r, "otlp: 2xx response body is not JSON; ignored");
        return 0;
    }
    if (ps.type == RP__JSON_ABSENT || ps.type == RP__JSON_NULL)
        return 0;
    uint64_t rejected = 0;
    if (ps.type != RP__JSON_OBJECT || rp__json_scan_object(ps.ptr, ps.len, inner, 2, v) != 0 ||
        (v[0].type != RP__JSON_ABSENT && rp__fmt_span_u64(&v[0], &rejected) != 0) ||
        (v[1].type != RP__JSON_ABSENT && v[1].type != RP__JSON_STRING))
        return rp__fmt_malformed(r, RP_ERR_PARSE, "otlp: malformed partialSuccess");
    r->rejected = rejected;
    if (rejected > 0) {
        r->verdict = RP__OUTCOME_DEAD_LETTER;
        rp__fmt_msg_cstr(r, "otlp: ");
        rp__fmt_msg_num(r, (long long)(rejected > INT64_MAX ? INT64_MAX : rejected));
        rp__fmt_msg_cstr(r, " log records rejected");
    } else if (v[1].type == RP__JSON_STRING && v[1].len > 2) {
        rp__fmt_msg_cstr(r, "otlp: warning");
    }
    if (v[1].type == RP__JSON_STRING && v[1].len > 2) {
        rp__fmt_msg_cstr(r, ": ");
        rp__fmt_msg_span(r, &v[1]);
    }
    return 0;
}

const rp__format_ops rp__format_otlp_ops = {
    .name = "otlp",
    .content_type = "application/json",
    .build = body_otlp,
    .parse = otlp_response,
};
