/*
 * tests/fuzz/fuzz_response.c - libFuzzer target for the backend adapters
 * (core/output/output_format.c): what backends answer is untrusted input, and so,
 * for robustness, are the lines a damaged spool could hand the adapters.
 *
 * Input layout:
 *   byte 0      format (mod 6)
 *   bytes 1-2   HTTP status, big-endian, mod 600
 *   byte 3      lines in the batch (for per-line verdicts); also picks the
 *               cap for the capped build below
 *   the rest    the response body, and also the batch of lines
 *
 * Checks, any failure aborts:
 *   - parse_response returns a known code and a consistent result: a
 *     PARTIAL has one verdict per line, counts that add up, not all alike;
 *     the message is printable ASCII and NUL-terminated.
 *   - the strict scanner agrees with jansson: an object jansson reads the
 *     scanner reads too (unless nested past its cap or a wanted key
 *     repeats), with the same values for the wanted keys; an object the
 *     scanner reads jansson reads too, unless jansson's own limits
 *     (number overflow, NUL in a key) refuse it.
 *   - build_body either refuses or produces a body jansson parses, and
 *     under a cap it produces all of it or leaves the buffer untouched.
 *   - an RFC 3339 time that parses formats and parses back to itself.
 */
#include "output/ndjson.h"
#include "output/output_format.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_response: check failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_result(const rp__format_result *r, int rc, size_t nlines)
{
    CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_RANGE || rc == RP_ERR_NOMEM);
    CHECK(r->verdict >= RP__OUTCOME_STATUS && r->verdict <= RP__OUTCOME_PARTIAL);
    if (rc == RP_ERR_PARSE || rc == RP_ERR_RANGE)
        CHECK(r->verdict == RP__OUTCOME_DEAD_LETTER);
    if (r->verdict == RP__OUTCOME_PARTIAL) {
        CHECK(r->line_verdicts != NULL);
        CHECK(r->nlines == nlines);
        size_t d = 0, t = 0, x = 0;
        for (size_t i = 0; i < nlines; i++) {
            uint8_t v = r->line_verdicts[i];
            CHECK(v == RP__OUTCOME_DELIVERED || v == RP__OUTCOME_RETRY ||
                  v == RP__OUTCOME_DEAD_LETTER);
            d += v == RP__OUTCOME_DELIVERED;
            t += v == RP__OUTCOME_RETRY;
            x += v == RP__OUTCOME_DEAD_LETTER;
        }
        CHECK(d == r->delivered && t == r->retry && x == r->dead);
        CHECK(d != nlines && t != nlines && x != nlines);
    } else {
        CHECK(r->line_verdicts == NULL);
    }
    size_t n = strnlen(r->message, sizeof r->message);
    CHECK(n < sizeof r->message);
    for (size_t i = 0; i < n; i++)
        CHECK(r->message[i] >= 0x20 && r->message[i] < 0x7f);
}

/* jansson's refusals that are its own limits, not JSON grammar. */
static int jansson_limit(const char *text)
{
    return strstr(text, "overflow") || strstr(text, "too big") || strstr(text, "NUL") ||
           strstr(text, "maximum parsing depth");
}

static void check_scanner(const char *s, size_t len)
{
    static const char *const keys[] = {"event.id", "@timestamp", "errors"};
    rp__json_span v[3];
    int rc = rp__json_scan_object(s, len, keys, 3, v);
    CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_RANGE || rc == RP_ERR_EXISTS);
    json_error_t jerr;
    json_t *j = json_loadb(s, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
    if (j && json_is_object(j)) {
        /* jansson skips a raw NUL after a number ({"a":1<NUL>} loads);
         * RFC 8259 has no place for one, so only there may they differ. */
        if (rc == RP_ERR_PARSE && !memchr(s, '\0', len)) {
            fprintf(stderr, "fuzz_response: jansson reads an object the scanner refuses\n");
            abort();
        }
        if (rc == 0) {
            for (int k = 0; k < 3; k++) {
                json_t *jv = json_object_get(j, keys[k]);
                CHECK((jv != NULL) == (v[k].type != RP__JSON_ABSENT));
                if (!jv)
                    continue;
                switch (v[k].type) {
                case RP__JSON_STRING: {
                    CHECK(json_is_string(jv));
                    char out[256];
                    size_t n;
                    int drc = rp__json_string_decode(&v[k], out, sizeof out, &n);
                    CHECK(drc == 0 || drc == RP_ERR_FULL);
                    if (drc == 0) {
                        CHECK(n == json_string_length(jv));
                        CHECK(n == 0 || memcmp(out, json_string_value(jv), n) == 0);
                    }
                    break;
                }
                case RP__JSON_NUMBER:
                    CHECK(json_is_number(jv));
                    break;
                case RP__JSON_OBJECT:
                    CHECK(json_is_object(jv));
                    break;
                case RP__JSON_ARRAY:
                    CHECK(json_is_array(jv));
                    break;
                case RP__JSON_TRUE:
                    CHECK(json_is_true(jv));
                    break;
                case RP__JSON_FALSE:
                    CHECK(json_is_false(jv));
                    break;
                case RP__JSON_NULL:
                    CHECK(json_is_null(jv));
                    break;
                default:
                    CHECK(!"bad span type");
                }
            }
        }
    } else if (rc == 0 && !j) {
        if (!jansson_limit(jerr.text)) {
            fprintf(stderr, "fuzz_response: scanner reads an object jansson refuses: %s\n",
                    jerr.text);
            abort();
        }
    } else if (rc == 0) {
        CHECK(!"scanner read an object where jansson read something else");
    }
    json_decref(j);
}

/* The body must be what the format promises: one JSON document (loki,
 * otlp) or JSON lines (the others). */
static void check_body(enum rp__format f, const char *b, size_t len)
{
    json_error_t jerr;
    if (f == RP__FORMAT_LOKI || f == RP__FORMAT_OTLP) {
        json_t *j = json_loadb(b, len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
        CHECK(j != NULL);
        json_decref(j);
        return;
    }
    if (f == RP__FORMAT_NDJSON || f == RP__FORMAT_CLICKHOUSE)
        return; /* the lines as given, not looked into */
    CHECK(len > 0 && b[len - 1] == '\n');
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(b + i, '\n', len - i);
        CHECK(nl != NULL);
        size_t n = (size_t)(nl - (b + i));
        json_t *j = json_loadb(b + i, n, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &jerr);
        if (!j) {
            /* The line inside may hold numbers jansson cannot take. */
            CHECK(jansson_limit(jerr.text));
        }
        json_decref(j);
        i += n + 1;
    }
}

static void check_build(enum rp__format f, const char *lines, size_t len, uint8_t cap_sel)
{
    rp__format_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.host_name = "fuzz-host";
    ctx.agent_version = "0.0.0";
    ctx.agent_id = "a\"b";
    ctx.elastic_index = cap_sel & 1 ? "idx" : NULL;
    ctx.splunk_index = cap_sel & 2 ? "main" : NULL;
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    rp__format_build_info info;
    int rc = rp__format_build_body(f, &ctx, lines, len, &b, &info);
    CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_INVAL);
    if (rc == RP_ERR_PARSE)
        CHECK(info.why != NULL && info.bad_line < info.lines);
    if (rc != 0) {
        CHECK(b.len == 0);
        rp__buf_free(&b);
        return;
    }
    check_body(f, b.data, b.len);

    rp__buf capped;
    rp__buf_init(&capped, 3 + (b.len * cap_sel) / 200);
    CHECK(rp__buf_append(&capped, "pre", 3) == 0);
    rc = rp__format_build_body(f, &ctx, lines, len, &capped, NULL);
    if (3 + b.len <= capped.max) {
        CHECK(rc == 0 && capped.len == 3 + b.len);
        CHECK(memcmp(capped.data + 3, b.data, b.len) == 0);
    } else {
        CHECK(rc == RP_ERR_FULL && capped.len == 3);
    }
    CHECK(memcmp(capped.data, "pre", 3) == 0);
    rp__buf_free(&capped);
    rp__buf_free(&b);
}

static void check_time(const char *s, size_t len)
{
    int64_t ns;
    int rc = rp__rfc3339_parse_ns(s, len, &ns);
    CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_RANGE);
    if (rc != 0)
        return;
    char text[RP__JSON_TIMESTAMP_MAX + 1];
    size_t n = rp__json_format_timestamp(ns, text);
    int64_t back;
    CHECK(rp__rfc3339_parse_ns(text, n, &back) == 0 && back == ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    enum rp__format f = (enum rp__format)(data[0] % RP__FORMAT_COUNT_);
    long status = (long)(((unsigned)data[1] << 8 | data[2]) % 600);
    size_t nlines = data[3];
    const char *body = (const char *)data + 4;
    size_t len = size - 4;

    rp__format_result r;
    int rc = rp__format_parse_response(f, status, body, len, nlines, &r);
    check_result(&r, rc, nlines);
    rp__format_result_free(&r);

    check_scanner(body, len);
    if (len > 0)
        check_build(f, body, len, data[3]);
    check_time(body, len);
    return 0;
}
