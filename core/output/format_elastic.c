/*
 * core/output/format_elastic.c - output.format "elastic-bulk": Elasticsearch/OpenSearch _bulk
 * with create actions, and its per-item answers.
 */
#include "output/format_backend.h"

#include <jansson.h>
#include <stdlib.h>

/* Elasticsearch _bulk API (docs: "Bulk API", POST /_bulk or /<index>/_bulk):
 * NDJSON of action lines and source lines, ended by a newline. `create`
 * indexes only if the _id is new, so a resent batch cannot duplicate
 * events; the answer for a duplicate is a 409 item. */
static int body_elastic(const rp__format_ctx *ctx, const char *lines, size_t len, rp__buf *body,
                        rp__format_build_info *info)
{
    static const char *const keys[] = {"event.id"};
    rp__buf prefix;
    rp__buf_init(&prefix, 4096);
    int rc = rp__fmt_put(&prefix, "{\"create\":{");
    if (rc == 0 && ctx->elastic_index) {
        if ((rc = rp__fmt_put(&prefix, "\"_index\":")) == 0 &&
            (rc = rp__fmt_put_jstr(&prefix, ctx->elastic_index)) == 0)
            rc = rp__fmt_put(&prefix, ",");
    }
    if (rc == 0)
        rc = rp__fmt_put(&prefix, "\"_id\":");
    if (rc == RP_ERR_FULL)
        rc = RP_ERR_INVAL; /* an index name of kilobytes is a config error */

    rp__fmt_batch b = {lines, len, 0};
    rp__fmt_line l;
    while (rc == 0 && rp__fmt_next_line(&b, &l)) {
        rp__json_span id;
        if ((rc = rp__fmt_scan_line(&l, keys, 1, &id, info, &b)) != 0)
            break;
        if (id.type != RP__JSON_STRING || id.len <= 2) {
            rc = rp__fmt_bad_line(info, &b, "line has no non-empty string event.id");
            break;
        }
        if ((rc = rp__buf_append(body, prefix.data, prefix.len)) == 0 &&
            (rc = rp__fmt_put_span(body, &id)) == 0 && (rc = rp__fmt_put(body, "}}\n")) == 0)
            rc = rp__buf_append(body, l.text, l.len + 1);
    }
    rp__buf_free(&prefix);
    return rc;
}

/* The verdict for one _bulk item status. */
static uint8_t elastic_item_verdict(json_int_t st)
{
    if ((st >= 200 && st <= 299) || st == 409)
        return RP__OUTCOME_DELIVERED; /* 409: create found the _id: already indexed */
    if (st == 408 || st == 429 || (st >= 500 && st <= 599))
        return RP__OUTCOME_RETRY;
    return RP__OUTCOME_DEAD_LETTER;
}

/* "type: reason" from an Elasticsearch error object (or string). */
static void msg_es_error(rp__format_result *r, json_t *err)
{
    if (json_is_string(err)) {
        rp__fmt_msg_add(r, json_string_value(err), json_string_length(err));
        return;
    }
    json_t *type = json_object_get(err, "type"), *reason = json_object_get(err, "reason");
    if (json_is_string(type))
        rp__fmt_msg_add(r, json_string_value(type), json_string_length(type));
    if (json_is_string(type) && json_is_string(reason))
        rp__fmt_msg_cstr(r, ": ");
    if (json_is_string(reason))
        rp__fmt_msg_add(r, json_string_value(reason), json_string_length(reason));
}

static int elastic_items(rp__format_result *r, const char *body, size_t len, size_t nlines)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (!root)
        return rp__fmt_malformed(r, RP_ERR_PARSE, "elastic-bulk: response is not JSON");
    json_t *items = json_object_get(root, "items");
    int rc = 0;
    if (!json_is_array(items)) {
        rc = rp__fmt_malformed(r, RP_ERR_PARSE,
                               "elastic-bulk: \"errors\":true without an items array");
    } else if (json_array_size(items) != nlines) {
        rc = rp__fmt_malformed(r, RP_ERR_PARSE,
                               "elastic-bulk: item count differs from the batch's lines");
    }
    uint8_t *v = NULL;
    if (rc == 0 && !(v = malloc(nlines ? nlines : 1)))
        rc = RP_ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < nlines; i++) {
        /* Each item is {"<action>":{..., "status":N, "error":{...}}}. */
        json_t *item = json_array_get(items, i);
        json_t *res = json_is_object(item) && json_object_size(item) == 1
                          ? json_object_iter_value(json_object_iter(item))
                          : NULL;
        json_t *st = json_object_get(res, "status");
        if (!json_is_integer(st)) {
            rc = rp__fmt_malformed(r, RP_ERR_PARSE, "elastic-bulk: an item has no integer status");
            break;
        }
        v[i] = elastic_item_verdict(json_integer_value(st));
        /* The first failure explains the rest well enough for a log. */
        if (v[i] != RP__OUTCOME_DELIVERED && r->message[0] == '\0') {
            rp__fmt_msg_cstr(r, "item ");
            rp__fmt_msg_num(r, (long long)i);
            rp__fmt_msg_cstr(r, ": status ");
            rp__fmt_msg_num(r, (long long)json_integer_value(st));
            json_t *err = json_object_get(res, "error");
            if (err) {
                rp__fmt_msg_cstr(r, ": ");
                msg_es_error(r, err);
            }
        }
    }
    if (rc == 0) {
        rp__fmt_set_lines(r, v, nlines);
        v = NULL;
    }
    free(v);
    json_decref(root);
    return rc;
}

static int elastic_response(rp__format_result *r, long status, const char *body, size_t len,
                            size_t nlines)
{
    if (!rp__fmt_is_2xx(status)) {
        /* {"error":{"type":..,"reason":..},"status":N}, or text from a proxy. */
        json_error_t jerr;
        json_t *root = len ? json_loadb(body, len, 0, &jerr) : NULL;
        json_t *err = json_object_get(root, "error");
        if (err)
            msg_es_error(r, err);
        else
            rp__fmt_msg_body(r, body, len);
        json_decref(root);
        r->verdict = RP__OUTCOME_STATUS;
        return 0;
    }
    /* Most answers are "errors":false; the scanner settles those without
     * building a DOM of thousands of items. */
    static const char *const keys[] = {"errors"};
    rp__json_span errors;
    int rc = rp__json_scan_object(body, len, keys, 1, &errors);
    if (rc != 0 || (errors.type != RP__JSON_TRUE && errors.type != RP__JSON_FALSE))
        return rp__fmt_malformed(
            r, RP_ERR_PARSE, "elastic-bulk: 2xx response is not a _bulk answer (no \"errors\")");
    if (errors.type == RP__JSON_FALSE) {
        r->verdict = RP__OUTCOME_DELIVERED;
        return 0;
    }
    return elastic_items(r, body, len, nlines);
}

const rp__format_ops rp__format_elastic_ops = {
    .name = "elastic-bulk",
    .content_type = "application/x-ndjson",
    .build = body_elastic,
    .parse = elastic_response,
};
