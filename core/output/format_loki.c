/*
 * core/output/format_loki.c - output.format "loki": the push API's JSON streams; any 2xx is
 * delivery.
 */
#include "output/format_backend.h"

static int loki_label_name_ok(const char *n)
{
    return n && rp__fmt_is_ident(n, strlen(n));
}

/* Loki push API, POST /loki/api/v1/push with JSON (docs: "Loki HTTP API",
 * push): streams of labels and values, each value a pair of strings, the
 * time in Unix nanoseconds and the log line. One stream: the batch is one
 * host's. */
static int body_loki(const rp__format_ctx *ctx, const char *lines, size_t len, rp__buf *body,
                     rp__format_build_info *info)
{
    static const char *const own[] = {"host", "job"};
    if (!ctx->host_name || !*ctx->host_name ||
        rp__fmt_labels_check(ctx->loki_labels, ctx->loki_label_count, loki_label_name_ok, own,
                             sizeof own / sizeof own[0]) != 0)
        return RP_ERR_INVAL;
    const char *job = ctx->loki_job ? ctx->loki_job : "rampart";
    int rc = rp__fmt_put(body, "{\"streams\":[{\"stream\":{\"host\":");
    if (rc == 0)
        rc = rp__fmt_put_jstr(body, ctx->host_name);
    if (rc == 0)
        rc = rp__fmt_put(body, ",\"job\":");
    if (rc == 0)
        rc = rp__fmt_put_jstr(body, job);
    for (size_t i = 0; rc == 0 && i < ctx->loki_label_count; i++) {
        if ((rc = rp__fmt_put(body, ",")) == 0 &&
            (rc = rp__fmt_put_jstr(body, ctx->loki_labels[i].name)) == 0 &&
            (rc = rp__fmt_put(body, ":")) == 0)
            rc = rp__fmt_put_jstr(body, ctx->loki_labels[i].value);
    }
    if (rc == 0)
        rc = rp__fmt_put(body, "},\"values\":[");

    rp__fmt_batch b = {lines, len, 0};
    rp__fmt_line l;
    int64_t ns;
    while (rp__fmt_next_timed_line(&b, &l, &ns, info, &rc)) {
        if ((rc = rp__fmt_put(body, b.index == 1 ? "[\"" : ",[\"")) == 0 &&
            (rc = rp__fmt_put_i64(body, ns)) == 0 && (rc = rp__fmt_put(body, "\",")) == 0 &&
            (rc = rp__json_append_string(l.text, l.len, body)) == 0)
            rc = rp__fmt_put(body, "]");
    }
    if (rc == 0)
        rc = rp__fmt_put(body, "]}]}");
    return rc;
}

static size_t loki_headers(const rp__format_ctx *ctx, const char **names, const char **values)
{
    return rp__fmt_optional_header("X-Scope-OrgID", ctx->loki_tenant, names, values);
}

const rp__format_ops rp__format_loki_ops = {
    .name = "loki",
    .content_type = "application/json",
    .headers = loki_headers,
    .build = body_loki,
    .parse = rp__fmt_text_response,
};
