/*
 * core/output/format_clickhouse.c - output.format "clickhouse": the native lines as JSONEachRow,
 * the INSERT in the URL's query, ClickHouse's error codes sorted into
 * verdicts.
 */
#include "output/format_backend.h"

/* [db.]table with plain identifiers: the name goes into SQL unquoted, so
 * nothing else may pass. */
static int table_name_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 255)
        return 0;
    const char *dot = memchr(t, '.', n);
    if (!dot)
        return rp__fmt_is_ident(t, n);
    return rp__fmt_is_ident(t, (size_t)(dot - t)) &&
           rp__fmt_is_ident(dot + 1, n - (size_t)(dot - t) - 1);
}

/* Whether the query string q[0..n) (without '?') has a parameter `name`. */
static int query_has(const char *q, size_t n, const char *name)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < n) {
        const char *amp = memchr(q + i, '&', n - i);
        size_t end = amp ? (size_t)(amp - q) : n;
        size_t seg = end - i;
        if (seg >= nl && memcmp(q + i, name, nl) == 0 && (seg == nl || q[i + nl] == '='))
            return 1;
        i = end + 1;
    }
    return 0;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static int put_pct(rp__buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || rp__fmt_is_digit((char)c) ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            rc = rp__buf_append(b, s, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = rp__buf_append(b, e, 3);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int clickhouse_url(const char *base, const rp__format_ctx *ctx, rp__buf *url)
{
    const char *table = ctx && ctx->clickhouse_table ? ctx->clickhouse_table : "rampart.events";
    if (!table_name_ok(table))
        return RP_ERR_INVAL;
    size_t n = strlen(base);
    const char *hash = memchr(base, '#', n);
    size_t pre = hash ? (size_t)(hash - base) : n;
    const char *qm = memchr(base, '?', pre);
    const char *q = qm ? qm + 1 : base + pre;
    size_t qn = (size_t)(base + pre - q);
    int rc = rp__buf_append(url, base, pre);
    /* The separator before our first parameter: none right after '?' or
     * '&', '&' after other parameters, '?' when there is no query yet. */
    const char *sep = !qm ? "?" : (qn == 0 || q[qn - 1] == '&') ? "" : "&";
    if (rc == 0 && !query_has(q, qn, "query")) {
        char sql[320];
        snprintf(sql, sizeof sql, "INSERT INTO %s FORMAT JSONEachRow", table);
        if ((rc = rp__fmt_put(url, sep)) == 0 && (rc = rp__fmt_put(url, "query=")) == 0)
            rc = put_pct(url, sql);
        sep = "&";
    }
    if (rc == 0 && !query_has(q, qn, "date_time_input_format")) {
        if ((rc = rp__fmt_put(url, sep)) == 0)
            rc = rp__fmt_put(url, "date_time_input_format=best_effort");
        sep = "&";
    }
    if (rc == 0 && !query_has(q, qn, "input_format_skip_unknown_fields")) {
        if ((rc = rp__fmt_put(url, sep)) == 0)
            rc = rp__fmt_put(url, "input_format_skip_unknown_fields=1");
    }
    if (rc == 0 && hash)
        rc = rp__buf_append(url, hash, n - pre);
    return rc;
}

/*
 * ClickHouse error codes (src/Common/ErrorCodes.cpp) that decide a batch's
 * fate when ClickHouse answers with an exception. Data, schema and access
 * errors repeat on every resend; overload and replication trouble passes.
 * ClickHouse refuses a batch whole (nothing of it is stored), so a data
 * error dead-letters the whole batch at once, with ClickHouse's message in
 * the note, rather than after the bounded retries of a 5xx: resending the
 * same bytes cannot succeed, and each retry holds up every batch behind it.
 * Finding the one bad line by halving (as for 413) is not done: with the
 * schema of docs/clickhouse-schema.sql no line is ever refused for its data.
 */
static const struct {
    int code;
    uint8_t verdict;
} clickhouse_codes[] = {
    {6, RP__OUTCOME_DEAD_LETTER},   /* CANNOT_PARSE_TEXT */
    {16, RP__OUTCOME_DEAD_LETTER},  /* NO_SUCH_COLUMN_IN_TABLE */
    {26, RP__OUTCOME_DEAD_LETTER},  /* CANNOT_PARSE_QUOTED_STRING */
    {27, RP__OUTCOME_DEAD_LETTER},  /* CANNOT_PARSE_INPUT_ASSERTION_FAILED */
    {38, RP__OUTCOME_DEAD_LETTER},  /* CANNOT_PARSE_DATE */
    {41, RP__OUTCOME_DEAD_LETTER},  /* CANNOT_PARSE_DATETIME */
    {43, RP__OUTCOME_DEAD_LETTER},  /* ILLEGAL_TYPE_OF_ARGUMENT (a view's function) */
    {53, RP__OUTCOME_DEAD_LETTER},  /* TYPE_MISMATCH */
    {60, RP__OUTCOME_DEAD_LETTER},  /* UNKNOWN_TABLE */
    {62, RP__OUTCOME_DEAD_LETTER},  /* SYNTAX_ERROR */
    {70, RP__OUTCOME_DEAD_LETTER},  /* CANNOT_CONVERT_TYPE */
    {72, RP__OUTCOME_DEAD_LETTER},  /* CANNOT_PARSE_NUMBER */
    {81, RP__OUTCOME_DEAD_LETTER},  /* UNKNOWN_DATABASE */
    {117, RP__OUTCOME_DEAD_LETTER}, /* INCORRECT_DATA */
    {128, RP__OUTCOME_DEAD_LETTER}, /* TOO_LARGE_ARRAY_SIZE */
    {131, RP__OUTCOME_DEAD_LETTER}, /* TOO_LARGE_STRING_SIZE */
    {159, RP__OUTCOME_RETRY},       /* TIMEOUT_EXCEEDED */
    {164, RP__OUTCOME_DEAD_LETTER}, /* READONLY */
    {190,
     RP__OUTCOME_DEAD_LETTER}, /* SIZES_OF_ARRAYS_DOESNT_MATCH: Nested arrays of a row differ */
    {192, RP__OUTCOME_DEAD_LETTER}, /* UNKNOWN_USER */
    {193, RP__OUTCOME_DEAD_LETTER}, /* WRONG_PASSWORD */
    {194, RP__OUTCOME_DEAD_LETTER}, /* REQUIRED_PASSWORD */
    {202, RP__OUTCOME_RETRY},       /* TOO_MANY_SIMULTANEOUS_QUERIES */
    {209, RP__OUTCOME_RETRY},       /* SOCKET_TIMEOUT */
    {210, RP__OUTCOME_RETRY},       /* NETWORK_ERROR */
    {225, RP__OUTCOME_RETRY},       /* NO_ZOOKEEPER */
    {241, RP__OUTCOME_RETRY},       /* MEMORY_LIMIT_EXCEEDED */
    {242, RP__OUTCOME_RETRY},       /* TABLE_IS_READ_ONLY (replica lost its keeper) */
    {252, RP__OUTCOME_RETRY},       /* TOO_MANY_PARTS */
    {319, RP__OUTCOME_RETRY},       /* UNKNOWN_STATUS_OF_INSERT */
    {354,
     RP__OUTCOME_DEAD_LETTER}, /* ZLIB_INFLATE_FAILED: a torn gzip body, the same bytes on resend */
    {497, RP__OUTCOME_DEAD_LETTER}, /* ACCESS_DENIED */
    {516, RP__OUTCOME_DEAD_LETTER}, /* AUTHENTICATION_FAILED */
    {999, RP__OUTCOME_RETRY},       /* KEEPER_EXCEPTION */
};

static int clickhouse_response(rp__format_result *r, long status, const char *body, size_t len,
                               size_t nlines)
{
    (void)nlines; /* ClickHouse takes or refuses a batch whole */
    if (rp__fmt_is_2xx(status)) {
        r->verdict = RP__OUTCOME_DELIVERED;
        return 0;
    }
    r->verdict = RP__OUTCOME_STATUS;
    rp__fmt_msg_body(r, body, len);
    /* "Code: 60, e.displayText() = DB::Exception: ..." (18.x) or
     * "Code: 60. DB::Exception: ..." (later versions). */
    size_t i = rp__json_skip_ws(body, len, 0);
    if (len - i < 7 || memcmp(body + i, "Code: ", 6) != 0)
        return 0;
    i += 6;
    long code = 0;
    size_t start = i;
    while (i < len && rp__fmt_is_digit(body[i]) && i - start < 6)
        code = code * 10 + (body[i++] - '0');
    if (i == start || i >= len || (body[i] != '.' && body[i] != ','))
        return 0;
    r->backend_code = code;
    for (size_t k = 0; k < sizeof clickhouse_codes / sizeof clickhouse_codes[0]; k++)
        if (clickhouse_codes[k].code == code)
            r->verdict = (enum rp__outcome)clickhouse_codes[k].verdict;
    return 0;
}

const rp__format_ops rp__format_clickhouse_ops = {
    .name = "clickhouse",
    .content_type = "application/x-ndjson",
    .passthrough = 1,
    .url = clickhouse_url,
    .parse = clickhouse_response,
};
