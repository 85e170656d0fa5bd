/*
 * core/output/format_splunk.c - output.format "splunk-hec": HTTP Event Collector envelopes,
 * and HEC's answer codes.
 */
#include "output/format_backend.h"

#include <stdlib.h>

/* Nanoseconds as decimal seconds with 3, 6 or 9 fraction digits (the fewest
 * that are exact, as in the encoder's @timestamp), e.g. 1714564800.123. */
static int put_epoch_seconds(rp__buf *b, int64_t ns)
{
    uint64_t a = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns; /* INT64_MIN too */
    unsigned frac = (unsigned)(a % 1000000000);
    int digits = 9;
    if (frac % 1000000 == 0) {
        frac /= 1000000;
        digits = 3;
    } else if (frac % 1000 == 0) {
        frac /= 1000;
        digits = 6;
    }
    char tmp[40];
    int n = snprintf(tmp, sizeof tmp, "%s%" PRIu64 ".%0*u", ns < 0 ? "-" : "", a / 1000000000,
                     digits, frac);
    return rp__buf_append(b, tmp, (size_t)n);
}

/* Splunk HEC, POST /services/collector/event (docs: "Format events for HTTP
 * Event Collector"): JSON envelopes stacked one after another; "time" in
 * epoch seconds with a fraction, "event" any JSON (here the whole flat
 * line, which sourcetype _json makes Splunk extract as fields). */
static int body_splunk(const rp__format_ctx *ctx, const char *lines, size_t len, rp__buf *body,
                       rp__format_build_info *info)
{
    if (!ctx->host_name || !*ctx->host_name)
        return RP_ERR_INVAL;
    rp__buf mid; /* ,"host":...,"event": - the same for every line */
    rp__buf_init(&mid, 8192);
    int rc = rp__fmt_put(&mid, ",\"host\":");
    if (rc == 0)
        rc = rp__fmt_put_jstr(&mid, ctx->host_name);
    if (rc == 0 && (rc = rp__fmt_put(&mid, ",\"source\":")) == 0)
        rc = rp__fmt_put_jstr(&mid, ctx->splunk_source ? ctx->splunk_source : "rampart");
    if (rc == 0 && (rc = rp__fmt_put(&mid, ",\"sourcetype\":")) == 0)
        rc = rp__fmt_put_jstr(&mid, ctx->splunk_sourcetype ? ctx->splunk_sourcetype : "_json");
    if (rc == 0 && ctx->splunk_index) {
        if ((rc = rp__fmt_put(&mid, ",\"index\":")) == 0)
            rc = rp__fmt_put_jstr(&mid, ctx->splunk_index);
    }
    if (rc == 0)
        rc = rp__fmt_put(&mid, ",\"event\":");
    if (rc == RP_ERR_FULL)
        rc = RP_ERR_INVAL;

    rp__fmt_batch b = {lines, len, 0};
    rp__fmt_line l;
    int64_t ns;
    while (rp__fmt_next_timed_line(&b, &l, &ns, info, &rc)) {
        if ((rc = rp__fmt_put(body, "{\"time\":")) == 0 &&
            (rc = put_epoch_seconds(body, ns)) == 0 &&
            (rc = rp__buf_append(body, mid.data, mid.len)) == 0 &&
            (rc = rp__buf_append(body, l.text, l.len)) == 0)
            rc = rp__fmt_put(body, "}\n");
    }
    rp__buf_free(&mid);
    return rc;
}

/* HEC codes (Splunk docs, "Troubleshoot HTTP Event Collector", status
 * codes) that say more than their HTTP status: server busy or unhealthy is
 * worth retrying whatever status carries it. */
static int splunk_code_retry(long long code)
{
    return code == 8 || code == 9 || (code >= 18 && code <= 20);
}

static int splunk_response(rp__format_result *r, long status, const char *body, size_t len,
                           size_t nlines)
{
    static const char *const keys[] = {"text", "code", "invalid-event-number"};
    rp__json_span v[3];
    long long code;
    int rc = rp__json_scan_object(body, len, keys, 3, v);
    if (rc != 0 || rp__fmt_span_int(&v[1], &code) != 0) {
        if (rp__fmt_is_2xx(status))
            return rp__fmt_malformed(r, RP_ERR_PARSE,
                                     "splunk-hec: 2xx response is not a HEC answer (no \"code\")");
        rp__fmt_msg_body(r, body, len);
        r->verdict = RP__OUTCOME_STATUS;
        return 0;
    }
    r->backend_code = (long)code;
    rp__fmt_msg_cstr(r, "HEC code ");
    rp__fmt_msg_num(r, code);
    if (v[0].type == RP__JSON_STRING) {
        rp__fmt_msg_cstr(r, ": ");
        rp__fmt_msg_span(r, &v[0]);
    }
    long long bad;
    if (code == 0) {
        r->verdict = rp__fmt_is_2xx(status) ? RP__OUTCOME_DELIVERED : RP__OUTCOME_STATUS;
    } else if (splunk_code_retry(code)) {
        r->verdict = RP__OUTCOME_RETRY;
    } else if (code == 6 && rp__fmt_span_int(&v[2], &bad) == 0 && bad >= 0 &&
               (size_t)bad < nlines) {
        /* HEC indexes a batch in order and stops at the first event it
         * cannot read: those before it are in, that one never will be, the
         * rest were not looked at. */
        uint8_t *lv = malloc(nlines);
        if (!lv) {
            r->verdict = RP__OUTCOME_STATUS;
            return RP_ERR_NOMEM;
        }
        for (size_t i = 0; i < nlines; i++)
            lv[i] = i < (size_t)bad    ? RP__OUTCOME_DELIVERED
                    : i == (size_t)bad ? RP__OUTCOME_DEAD_LETTER
                                       : RP__OUTCOME_RETRY;
        rp__fmt_set_lines(r, lv, nlines);
    } else {
        /* A 2xx with an error code is no delivery; otherwise the status
         * (400, 401, 403, ...) already says what to do. */
        r->verdict = rp__fmt_is_2xx(status) ? RP__OUTCOME_DEAD_LETTER : RP__OUTCOME_STATUS;
    }
    return 0;
}

static size_t splunk_headers(const rp__format_ctx *ctx, const char **names, const char **values)
{
    return rp__fmt_optional_header("X-Splunk-Request-Channel", ctx->splunk_channel, names, values);
}

const rp__format_ops rp__format_splunk_ops = {
    .name = "splunk-hec",
    .content_type = "application/json",
    .auth_scheme = "Splunk",
    .headers = splunk_headers,
    .build = body_splunk,
    .parse = splunk_response,
};
