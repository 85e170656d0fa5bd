/*
 * core/output/output_format.c - backend adapters: request URL, headers and body per
 * `output.format`, and what a backend's answer means for a batch.
 *
 * Bodies are built from the native lines without a DOM: each line is
 * scanned once by a strict JSON scanner that validates it and picks out
 * the few top-level members an adapter needs (event.id, @timestamp,
 * event.kind); values found are copied as their raw JSON text, which the
 * scan has just proved valid. Responses are untrusted input: the scanner
 * reads small ones, jansson reads Elasticsearch's per-item answers, and
 * every path is bounded in size and depth.
 */
#include "output/output_format.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Names */

static const char *const format_names[RP__FORMAT_COUNT_] = {
    [RP__FORMAT_NDJSON] = "ndjson",
    [RP__FORMAT_CLICKHOUSE] = "clickhouse",
    [RP__FORMAT_ELASTIC_BULK] = "elastic-bulk",
    [RP__FORMAT_SPLUNK_HEC] = "splunk-hec",
    [RP__FORMAT_LOKI] = "loki",
    [RP__FORMAT_OTLP] = "otlp",
};

int rp__format_parse(const char *name, enum rp__format *out)
{
    if (!name || !out)
        return RP_ERR_INVAL;
    for (int i = 0; i < RP__FORMAT_COUNT_; i++) {
        if (strcmp(name, format_names[i]) == 0) {
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
    return format_valid(f) ? format_names[f] : NULL;
}

int rp__format_is_passthrough(enum rp__format f)
{
    return f == RP__FORMAT_NDJSON || f == RP__FORMAT_CLICKHOUSE;
}

const char *rp__verdict_name(enum rp__verdict v)
{
    switch (v) {
    case RP__VERDICT_STATUS:
        return "status";
    case RP__VERDICT_DELIVERED:
        return "delivered";
    case RP__VERDICT_RETRY:
        return "retry";
    case RP__VERDICT_DEAD:
        return "dead";
    case RP__VERDICT_PARTIAL:
        return "partial";
    }
    return "unknown";
}

/* ------------------------------------------------------------------------ */
/* Strict JSON scanner */

/* The bytes a string may hold as they are (RFC 8259 "unescaped", ASCII
 * part): everything from 0x20 but '"' and '\\'. Control bytes, escapes and
 * UTF-8 need a closer look. */
static int plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && is_ws((unsigned char)s[i]))
        i++;
    return i;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s[i..i+4) into *cp; -1 when they are not there. */
static int read_hex4(const char *s, size_t len, size_t i, unsigned *cp)
{
    if (i > len || len - i < 4)
        return -1;
    unsigned v = 0;
    for (size_t k = 0; k < 4; k++) {
        int h = hex_value((unsigned char)s[i + k]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    *cp = v;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at p[0..n) (Unicode table 3-7:
 * no overlong forms, no surrogates, nothing above U+10FFFF), 0 if there is
 * none. p[0] is not ASCII. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0], lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
    if (c >= 0xe0 && c <= 0xef) {
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
        return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
        return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

/* Scans the string whose opening quote is s[*pos]; *pos ends just past the
 * closing quote, *escaped says whether it held a backslash. */
static int scan_string(const char *s, size_t len, size_t *pos, int *escaped)
{
    size_t i = *pos + 1;
    int esc = 0;
    for (;;) {
        while (i < len && plain_byte((unsigned char)s[i]))
            i++;
        if (i >= len)
            return RP_ERR_PARSE;
        unsigned char c = (unsigned char)s[i];
        if (c == '"') {
            *pos = i + 1;
            *escaped = esc;
            return 0;
        }
        if (c == '\\') {
            esc = 1;
            if (i + 1 >= len)
                return RP_ERR_PARSE;
            switch (s[i + 1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                i += 2;
                continue;
            case 'u':
                break;
            default:
                return RP_ERR_PARSE;
            }
            unsigned cp, lo;
            if (read_hex4(s, len, i + 2, &cp) != 0)
                return RP_ERR_PARSE;
            i += 6;
            /* A UTF-16 surrogate must come as a high-low pair: a lone one
             * is no character, and jansson and the backends refuse it. */
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return RP_ERR_PARSE;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (i + 1 >= len || s[i] != '\\' || s[i + 1] != 'u' ||
                    read_hex4(s, len, i + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                    return RP_ERR_PARSE;
                i += 6;
            }
            continue;
        }
        if (c < 0x20)
            return RP_ERR_PARSE;
        size_t n = utf8_len((const unsigned char *)s + i, len - i);
        if (n == 0)
            return RP_ERR_PARSE;
        i += n;
    }
}

/* RFC 8259 section 6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos, start;
    if (i < len && s[i] == '-')
        i++;
    if (i >= len)
        return RP_ERR_PARSE;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < len && is_digit(s[i]))
            i++;
    } else {
        return RP_ERR_PARSE;
    }
    if (i < len && s[i] == '.') {
        start = ++i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == start)
            return RP_ERR_PARSE;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        start = i;
        while (i < len && is_digit(s[i]))
            i++;
        if (i == start)
            return RP_ERR_PARSE;
    }
    *pos = i;
    return 0;
}

static int scan_literal(const char *s, size_t len, size_t *pos, const char *word)
{
    size_t n = strlen(word);
    if (len - *pos < n || memcmp(s + *pos, word, n) != 0)
        return RP_ERR_PARSE;
    *pos += n;
    return 0;
}

/* After an object's '{' or ',': a member's key and its ':'. */
static int scan_member_key(const char *s, size_t len, size_t *pos)
{
    size_t i = *pos;
    int esc, rc;
    if (i >= len || s[i] != '"')
        return RP_ERR_PARSE;
    if ((rc = scan_string(s, len, &i, &esc)) != 0)
        return rc;
    i = skip_ws(s, len, i);
    if (i >= len || s[i] != ':')
        return RP_ERR_PARSE;
    *pos = skip_ws(s, len, i + 1);
    return 0;
}

static enum rp__json_type type_of(char c)
{
    switch (c) {
    case '{':
        return RP__JSON_OBJECT;
    case '[':
        return RP__JSON_ARRAY;
    case '"':
        return RP__JSON_STRING;
    case 't':
        return RP__JSON_TRUE;
    case 'f':
        return RP__JSON_FALSE;
    case 'n':
        return RP__JSON_NULL;
    default:
        return RP__JSON_NUMBER;
    }
}

/*
 * Scans one value starting at s[*pos] (no whitespace before it) that may
 * nest `room` levels of objects and arrays. Iterative with an explicit
 * stack of open containers, so hostile nesting cannot exhaust the C stack.
 */
static int scan_value(const char *s, size_t len, size_t *pos, unsigned room,
                      enum rp__json_type *type)
{
    char open[RP__JSON_SCAN_MAX_DEPTH]; /* '{' or '[' per open container */
    unsigned depth = 0;
    size_t i = *pos;
    int rc, esc;
    if (room > sizeof open)
        room = sizeof open;
    if (i >= len)
        return RP_ERR_PARSE;
    *type = type_of(s[i]);

    for (;;) {
        /* At the start of a value. */
        if (i >= len)
            return RP_ERR_PARSE;
        char c = s[i];
        if (c == '{' || c == '[') {
            if (depth >= room)
                return RP_ERR_RANGE;
            open[depth++] = c;
            i = skip_ws(s, len, i + 1);
            if (i < len && s[i] == (c == '{' ? '}' : ']')) {
                i++;
                depth--; /* empty: a complete value */
            } else if (c == '{') {
                if ((rc = scan_member_key(s, len, &i)) != 0)
                    return rc;
                continue;
            } else {
                continue;
            }
        } else {
            switch (c) {
            case '"':
                rc = scan_string(s, len, &i, &esc);
                break;
            case 't':
                rc = scan_literal(s, len, &i, "true");
                break;
            case 'f':
                rc = scan_literal(s, len, &i, "false");
                break;
            case 'n':
                rc = scan_literal(s, len, &i, "null");
                break;
            default:
                rc = scan_number(s, len, &i);
                break;
            }
            if (rc != 0)
                return rc;
        }

        /* After a complete value: close containers, or on to the next
         * element or member. */
        for (;;) {
            if (depth == 0) {
                *pos = i;
                return 0;
            }
            i = skip_ws(s, len, i);
            if (i >= len)
                return RP_ERR_PARSE;
            char open_c = open[depth - 1];
            if (s[i] == (open_c == '{' ? '}' : ']')) {
                i++;
                depth--;
                continue;
            }
            if (s[i] != ',')
                return RP_ERR_PARSE;
            i = skip_ws(s, len, i + 1);
            if (open_c == '{' && (rc = scan_member_key(s, len, &i)) != 0)
                return rc;
            break;
        }
    }
}

/* Decodes the inside of a JSON string (no quotes) into out[0..cap). */
static int decode_raw(const char *p, size_t n, char *out, size_t cap, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (p[i] != '\\') {
            const char *bs = memchr(p + i, '\\', n - i);
            size_t run = bs ? (size_t)(bs - (p + i)) : n - i;
            if (run > cap - o)
                return RP_ERR_FULL;
            memcpy(out + o, p + i, run);
            o += run;
            i += run;
            continue;
        }
        if (i + 1 >= n)
            return RP_ERR_PARSE;
        char e = p[i + 1], c;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            c = e;
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u':
            c = 0;
            break;
        default:
            return RP_ERR_PARSE;
        }
        if (e != 'u') {
            if (o >= cap)
                return RP_ERR_FULL;
            out[o++] = c;
            i += 2;
            continue;
        }
        unsigned cp, lo;
        if (read_hex4(p, n, i + 2, &cp) != 0)
            return RP_ERR_PARSE;
        i += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return RP_ERR_PARSE;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (i + 1 >= n || p[i] != '\\' || p[i + 1] != 'u' || read_hex4(p, n, i + 2, &lo) != 0 ||
                lo < 0xdc00 || lo > 0xdfff)
                return RP_ERR_PARSE;
            i += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        unsigned char u[4];
        size_t k;
        if (cp < 0x80) {
            u[0] = (unsigned char)cp;
            k = 1;
        } else if (cp < 0x800) {
            u[0] = (unsigned char)(0xc0 | cp >> 6);
            u[1] = (unsigned char)(0x80 | (cp & 0x3f));
            k = 2;
        } else if (cp < 0x10000) {
            u[0] = (unsigned char)(0xe0 | cp >> 12);
            u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
            u[2] = (unsigned char)(0x80 | (cp & 0x3f));
            k = 3;
        } else {
            u[0] = (unsigned char)(0xf0 | cp >> 18);
            u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
            u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
            u[3] = (unsigned char)(0x80 | (cp & 0x3f));
            k = 4;
        }
        if (k > cap - o)
            return RP_ERR_FULL;
        memcpy(out + o, u, k);
        o += k;
    }
    *out_len = o;
    return 0;
}

int rp__json_string_decode(const rp__json_span *v, char *out, size_t cap, size_t *out_len)
{
    if (!v || !out_len || (!out && cap))
        return RP_ERR_INVAL;
    if (v->type != RP__JSON_STRING || !v->ptr || v->len < 2)
        return RP_ERR_TYPE;
    return decode_raw(v->ptr + 1, v->len - 2, out, cap, out_len);
}

/* Whether the raw key (inside of the quotes) names `want`. */
static int key_equals(const char *raw, size_t n, int escaped, const char *want)
{
    size_t wn = strlen(want);
    if (!escaped)
        return n == wn && memcmp(raw, want, n) == 0;
    /* Escaped keys are rare: decode into room for one byte more than the
     * wanted key, so a longer key fails as RP_ERR_FULL. */
    char tmp[128];
    size_t got;
    if (wn >= sizeof tmp || decode_raw(raw, n, tmp, wn + 1, &got) != 0)
        return 0;
    return got == wn && memcmp(tmp, want, wn) == 0;
}

int rp__json_scan_object(const char *s, size_t len, const char *const *keys, size_t nkeys,
                         rp__json_span *vals)
{
    if ((!s && len) || (nkeys && (!keys || !vals)))
        return RP_ERR_INVAL;
    for (size_t k = 0; k < nkeys; k++) {
        vals[k].ptr = NULL;
        vals[k].len = 0;
        vals[k].type = RP__JSON_ABSENT;
    }
    size_t i = skip_ws(s, len, 0);
    if (i >= len || s[i] != '{')
        return RP_ERR_PARSE;
    i = skip_ws(s, len, i + 1);
    if (i < len && s[i] == '}') {
        i++;
    } else {
        for (;;) {
            if (i >= len || s[i] != '"')
                return RP_ERR_PARSE;
            size_t kstart = i;
            int esc, rc;
            if ((rc = scan_string(s, len, &i, &esc)) != 0)
                return rc;
            size_t kend = i;
            i = skip_ws(s, len, i);
            if (i >= len || s[i] != ':')
                return RP_ERR_PARSE;
            i = skip_ws(s, len, i + 1);
            size_t vstart = i;
            enum rp__json_type t;
            if ((rc = scan_value(s, len, &i, RP__JSON_SCAN_MAX_DEPTH - 1, &t)) != 0)
                return rc;
            for (size_t k = 0; k < nkeys; k++) {
                if (!key_equals(s + kstart + 1, kend - kstart - 2, esc, keys[k]))
                    continue;
                if (vals[k].type != RP__JSON_ABSENT)
                    return RP_ERR_EXISTS;
                vals[k].ptr = s + vstart;
                vals[k].len = i - vstart;
                vals[k].type = t;
                break;
            }
            i = skip_ws(s, len, i);
            if (i < len && s[i] == ',') {
                i = skip_ws(s, len, i + 1);
                continue;
            }
            if (i < len && s[i] == '}') {
                i++;
                break;
            }
            return RP_ERR_PARSE;
        }
    }
    return skip_ws(s, len, i) == len ? 0 : RP_ERR_PARSE;
}

/* ------------------------------------------------------------------------ */
/* RFC 3339 */

/* n decimal digits at s into *out; -1 if any is not a digit. */
static int read_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(s[k]))
            return -1;
        v = v * 10 + (unsigned)(s[k] - '0');
    }
    *out = v;
    return 0;
}

static int is_leap(unsigned y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), the inverse of the encoder's civil_from_days. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int rp__rfc3339_parse_ns(const char *s, size_t len, int64_t *ns)
{
    if ((!s && len) || !ns)
        return RP_ERR_INVAL;
    unsigned year, mon, day, hour, min, sec;
    if (len < 20 || read_digits(s, 4, &year) || s[4] != '-' || read_digits(s + 5, 2, &mon) ||
        s[7] != '-' || read_digits(s + 8, 2, &day) || s[10] != 'T' ||
        read_digits(s + 11, 2, &hour) || s[13] != ':' || read_digits(s + 14, 2, &min) ||
        s[16] != ':' || read_digits(s + 17, 2, &sec))
        return RP_ERR_PARSE;
    size_t i = 19;
    uint32_t frac = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && is_digit(s[i]) && i - start < 9)
            frac = frac * 10 + (uint32_t)(s[i++] - '0');
        size_t nd = i - start;
        if (nd == 0 || (i < len && is_digit(s[i])))
            return RP_ERR_PARSE; /* no digit, or more than nine */
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (len - i < 6 || read_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            read_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return RP_ERR_PARSE;
        offset = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-')
            offset = -offset;
        i += 6;
    } else {
        return RP_ERR_PARSE;
    }
    if (i != len)
        return RP_ERR_PARSE;
    if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) || hour > 23 || min > 59 ||
        sec > 59)
        return RP_ERR_PARSE;

    /* Local time minus its offset is UTC. Years 0000-9999 keep this well
     * inside int64 seconds; the nanoseconds need the range check. */
    int64_t secs =
        days_from_civil(year, mon, day) * 86400 + (int64_t)hour * 3600 + min * 60 + sec - offset;
    if (secs > INT64_MAX / 1000000000 ||
        (secs == INT64_MAX / 1000000000 && frac > (uint32_t)(INT64_MAX % 1000000000)))
        return RP_ERR_RANGE;
    /* INT64_MIN is -9223372036.854775808 s: floor seconds -9223372037 with
     * a fraction of at least 145224192 ns. */
    if (secs < INT64_MIN / 1000000000 - 1 ||
        (secs == INT64_MIN / 1000000000 - 1 && frac < 1000000000u - 854775808u))
        return RP_ERR_RANGE;
    if (secs >= 0)
        *ns = secs * 1000000000 + (int64_t)frac;
    else /* in two steps that each stay in range */
        *ns = (secs + 1) * 1000000000 + ((int64_t)frac - 1000000000);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Small writers */

static int put(rp__buf *b, const char *s)
{
    return rp__buf_append_cstr(b, s);
}

static int put_span(rp__buf *b, const rp__json_span *v)
{
    return rp__buf_append(b, v->ptr, v->len);
}

static int put_jstr(rp__buf *b, const char *s)
{
    return rp__json_append_string(s, strlen(s), b);
}

static int put_i64(rp__buf *b, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%" PRId64, v);
    return rp__buf_append(b, tmp, (size_t)n);
}

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

static int is_ident(const char *s, size_t n)
{
    if (n == 0 || is_digit(s[0]))
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
            return 0;
    }
    return 1;
}

/* [db.]table with plain identifiers: the name goes into SQL unquoted, so
 * nothing else may pass. */
static int table_name_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 255)
        return 0;
    const char *dot = memchr(t, '.', n);
    if (!dot)
        return is_ident(t, n);
    return is_ident(t, (size_t)(dot - t)) && is_ident(dot + 1, n - (size_t)(dot - t) - 1);
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
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit((char)c) || c == '-' ||
            c == '.' || c == '_' || c == '~') {
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
        if ((rc = put(url, sep)) == 0 && (rc = put(url, "query=")) == 0)
            rc = put_pct(url, sql);
        sep = "&";
    }
    if (rc == 0 && !query_has(q, qn, "date_time_input_format")) {
        if ((rc = put(url, sep)) == 0)
            rc = put(url, "date_time_input_format=best_effort");
        sep = "&";
    }
    if (rc == 0 && !query_has(q, qn, "input_format_skip_unknown_fields")) {
        if ((rc = put(url, sep)) == 0)
            rc = put(url, "input_format_skip_unknown_fields=1");
    }
    if (rc == 0 && hash)
        rc = rp__buf_append(url, hash, n - pre);
    return rc;
}

int rp__format_url(enum rp__format f, const char *base_url, const rp__format_ctx *ctx, rp__buf *url)
{
    if (!format_valid(f) || !base_url || !url || !*base_url || url_chars_bad(base_url))
        return RP_ERR_INVAL;
    size_t start = url->len;
    int rc = f == RP__FORMAT_CLICKHOUSE ? clickhouse_url(base_url, ctx, url) : put(url, base_url);
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
    int json = f == RP__FORMAT_SPLUNK_HEC || f == RP__FORMAT_LOKI || f == RP__FORMAT_OTLP;
    const char *names[4], *values[4];
    size_t n = 0;
    names[n] = "Content-Type";
    values[n++] = json ? "application/json" : "application/x-ndjson";
    if (!ctx->uncompressed) {
        names[n] = "Content-Encoding";
        values[n++] = "gzip";
    }
    if (f == RP__FORMAT_SPLUNK_HEC && ctx->splunk_channel) {
        names[n] = "X-Splunk-Request-Channel";
        values[n++] = ctx->splunk_channel;
    }
    if (f == RP__FORMAT_LOKI && ctx->loki_tenant) {
        names[n] = "X-Scope-OrgID";
        values[n++] = ctx->loki_tenant;
    }
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
    return f == RP__FORMAT_SPLUNK_HEC ? "Splunk" : "Bearer";
}

/* ------------------------------------------------------------------------ */
/* Requests: bodies */

/* A line of the batch: text[0..len) without its "\n". */
typedef struct line_ref {
    const char *text;
    size_t len;
} line_ref;

typedef struct batch {
    const char *p;
    size_t left;
    size_t index; /* of the next line */
} batch;

/* The next line; 0 at the end. The caller checked the batch ends in "\n". */
static int next_line(batch *b, line_ref *l)
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
static int bad_line(rp__format_build_info *info, const batch *b, const char *why)
{
    info->bad_line = b->index - 1;
    info->why = why;
    return RP_ERR_PARSE;
}

/* Scans a line for keys; maps scanner errors to the reason a build fails. */
static int scan_line(const line_ref *l, const char *const *keys, size_t nkeys, rp__json_span *vals,
                     rp__format_build_info *info, const batch *b)
{
    int rc = rp__json_scan_object(l->text, l->len, keys, nkeys, vals);
    if (rc == RP_ERR_RANGE)
        return bad_line(info, b, "line nests too deep");
    if (rc == RP_ERR_EXISTS)
        return bad_line(info, b, "line has a wanted key twice");
    if (rc != 0)
        return bad_line(info, b, "line is not a JSON object");
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

static int need_timestamp(const rp__json_span *v, int64_t *ns, rp__format_build_info *info,
                          const batch *b)
{
    if (v->type == RP__JSON_ABSENT)
        return bad_line(info, b, "line has no @timestamp");
    if (line_timestamp(v, ns) != 0)
        return bad_line(info, b, "@timestamp is not an RFC 3339 string");
    return 0;
}

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
    int rc = put(&prefix, "{\"create\":{");
    if (rc == 0 && ctx->elastic_index) {
        if ((rc = put(&prefix, "\"_index\":")) == 0 &&
            (rc = put_jstr(&prefix, ctx->elastic_index)) == 0)
            rc = put(&prefix, ",");
    }
    if (rc == 0)
        rc = put(&prefix, "\"_id\":");
    if (rc == RP_ERR_FULL)
        rc = RP_ERR_INVAL; /* an index name of kilobytes is a config error */

    batch b = {lines, len, 0};
    line_ref l;
    while (rc == 0 && next_line(&b, &l)) {
        rp__json_span id;
        if ((rc = scan_line(&l, keys, 1, &id, info, &b)) != 0)
            break;
        if (id.type != RP__JSON_STRING || id.len <= 2) {
            rc = bad_line(info, &b, "line has no non-empty string event.id");
            break;
        }
        if ((rc = rp__buf_append(body, prefix.data, prefix.len)) == 0 &&
            (rc = put_span(body, &id)) == 0 && (rc = put(body, "}}\n")) == 0)
            rc = rp__buf_append(body, l.text, l.len + 1);
    }
    rp__buf_free(&prefix);
    return rc;
}

/* Splunk HEC, POST /services/collector/event (docs: "Format events for HTTP
 * Event Collector"): JSON envelopes stacked one after another; "time" in
 * epoch seconds with a fraction, "event" any JSON (here the whole flat
 * line, which sourcetype _json makes Splunk extract as fields). */
static int body_splunk(const rp__format_ctx *ctx, const char *lines, size_t len, rp__buf *body,
                       rp__format_build_info *info)
{
    static const char *const keys[] = {"@timestamp"};
    if (!ctx->host_name || !*ctx->host_name)
        return RP_ERR_INVAL;
    rp__buf mid; /* ,"host":...,"event": - the same for every line */
    rp__buf_init(&mid, 8192);
    int rc = put(&mid, ",\"host\":");
    if (rc == 0)
        rc = put_jstr(&mid, ctx->host_name);
    if (rc == 0 && (rc = put(&mid, ",\"source\":")) == 0)
        rc = put_jstr(&mid, ctx->splunk_source ? ctx->splunk_source : "rampart");
    if (rc == 0 && (rc = put(&mid, ",\"sourcetype\":")) == 0)
        rc = put_jstr(&mid, ctx->splunk_sourcetype ? ctx->splunk_sourcetype : "_json");
    if (rc == 0 && ctx->splunk_index) {
        if ((rc = put(&mid, ",\"index\":")) == 0)
            rc = put_jstr(&mid, ctx->splunk_index);
    }
    if (rc == 0)
        rc = put(&mid, ",\"event\":");
    if (rc == RP_ERR_FULL)
        rc = RP_ERR_INVAL;

    batch b = {lines, len, 0};
    line_ref l;
    while (rc == 0 && next_line(&b, &l)) {
        rp__json_span ts;
        int64_t ns;
        if ((rc = scan_line(&l, keys, 1, &ts, info, &b)) != 0 ||
            (rc = need_timestamp(&ts, &ns, info, &b)) != 0)
            break;
        if ((rc = put(body, "{\"time\":")) == 0 && (rc = put_epoch_seconds(body, ns)) == 0 &&
            (rc = rp__buf_append(body, mid.data, mid.len)) == 0 &&
            (rc = rp__buf_append(body, l.text, l.len)) == 0)
            rc = put(body, "}\n");
    }
    rp__buf_free(&mid);
    return rc;
}

static int loki_label_name_ok(const char *n)
{
    return n && is_ident(n, strlen(n));
}

/* Loki push API, POST /loki/api/v1/push with JSON (docs: "Loki HTTP API",
 * push): streams of labels and values, each value a pair of strings, the
 * time in Unix nanoseconds and the log line. One stream: the batch is one
 * host's. */
static int body_loki(const rp__format_ctx *ctx, const char *lines, size_t len, rp__buf *body,
                     rp__format_build_info *info)
{
    static const char *const keys[] = {"@timestamp"};
    if (!ctx->host_name || !*ctx->host_name || (ctx->loki_label_count && !ctx->loki_labels))
        return RP_ERR_INVAL;
    const char *job = ctx->loki_job ? ctx->loki_job : "rampart";
    for (size_t i = 0; i < ctx->loki_label_count; i++) {
        const rp__format_label *lb = &ctx->loki_labels[i];
        if (!loki_label_name_ok(lb->name) || !lb->value || strcmp(lb->name, "host") == 0 ||
            strcmp(lb->name, "job") == 0)
            return RP_ERR_INVAL;
        for (size_t k = 0; k < i; k++)
            if (strcmp(ctx->loki_labels[k].name, lb->name) == 0)
                return RP_ERR_INVAL;
    }
    int rc = put(body, "{\"streams\":[{\"stream\":{\"host\":");
    if (rc == 0)
        rc = put_jstr(body, ctx->host_name);
    if (rc == 0)
        rc = put(body, ",\"job\":");
    if (rc == 0)
        rc = put_jstr(body, job);
    for (size_t i = 0; rc == 0 && i < ctx->loki_label_count; i++) {
        if ((rc = put(body, ",")) == 0 && (rc = put_jstr(body, ctx->loki_labels[i].name)) == 0 &&
            (rc = put(body, ":")) == 0)
            rc = put_jstr(body, ctx->loki_labels[i].value);
    }
    if (rc == 0)
        rc = put(body, "},\"values\":[");

    batch b = {lines, len, 0};
    line_ref l;
    while (rc == 0 && next_line(&b, &l)) {
        rp__json_span ts;
        int64_t ns;
        if ((rc = scan_line(&l, keys, 1, &ts, info, &b)) != 0 ||
            (rc = need_timestamp(&ts, &ns, info, &b)) != 0)
            break;
        if ((rc = put(body, b.index == 1 ? "[\"" : ",[\"")) == 0 && (rc = put_i64(body, ns)) == 0 &&
            (rc = put(body, "\",")) == 0 && (rc = rp__json_append_string(l.text, l.len, body)) == 0)
            rc = put(body, "]");
    }
    if (rc == 0)
        rc = put(body, "]}]}");
    return rc;
}

static int otlp_attr(rp__buf *b, int first, const char *key, const char *value)
{
    /* Keys are escaped too: an operator's resource attributes pass here. */
    int rc = put(b, first ? "{\"key\":" : ",{\"key\":");
    if (rc == 0 && (rc = put_jstr(b, key)) == 0 &&
        (rc = put(b, ",\"value\":{\"stringValue\":")) == 0 && (rc = put_jstr(b, value)) == 0)
        rc = put(b, "}}");
    return rc;
}

static int otlp_attr_span(rp__buf *b, int first, const char *key, const rp__json_span *v)
{
    int rc = put(b, first ? "{\"key\":\"" : ",{\"key\":\"");
    if (rc == 0 && (rc = put(b, key)) == 0 &&
        (rc = put(b, "\",\"value\":{\"stringValue\":")) == 0 && (rc = put_span(b, v)) == 0)
        rc = put(b, "}}");
    return rc;
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
    if (!ctx->host_name || !*ctx->host_name || (ctx->otlp_resource_count && !ctx->otlp_resource))
        return RP_ERR_INVAL;
    for (size_t i = 0; i < ctx->otlp_resource_count; i++) {
        const rp__format_label *a = &ctx->otlp_resource[i];
        if (!a->name || !*a->name || !a->value)
            return RP_ERR_INVAL;
        for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
            if (strcmp(a->name, own[k]) == 0)
                return RP_ERR_INVAL;
        for (size_t k = 0; k < i; k++)
            if (strcmp(ctx->otlp_resource[k].name, a->name) == 0)
                return RP_ERR_INVAL;
    }
    int rc = put(body, "{\"resourceLogs\":[{\"resource\":{\"attributes\":[");
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
        rc = put(body, "]},\"scopeLogs\":[{\"scope\":{\"name\":\"rampart\"");
    if (rc == 0 && ctx->agent_version) {
        if ((rc = put(body, ",\"version\":")) == 0)
            rc = put_jstr(body, ctx->agent_version);
    }
    if (rc == 0)
        rc = put(body, "},\"logRecords\":[");

    batch b = {lines, len, 0};
    line_ref l;
    while (rc == 0 && next_line(&b, &l)) {
        rp__json_span v[3];
        int64_t ns;
        if ((rc = scan_line(&l, keys, 3, v, info, &b)) != 0 ||
            (rc = need_timestamp(&v[0], &ns, info, &b)) != 0)
            break;
        /* The times are fixed64: a time before 1970 cannot be written and
         * becomes 0, which OTLP reads as "unknown". The agent stamps
         * @timestamp when it observes the event, so both times are it. */
        if (ns < 0)
            ns = 0;
        /* Alerts are what an operator must look at: WARN (13); the rest
         * (events, metrics, state) INFO (9). */
        int alert = span_is(&v[2], "alert");
        if ((rc = put(body, b.index == 1 ? "{\"timeUnixNano\":\"" : ",{\"timeUnixNano\":\"")) ==
                0 &&
            (rc = put_i64(body, ns)) == 0 &&
            (rc = put(body, "\",\"observedTimeUnixNano\":\"")) == 0 &&
            (rc = put_i64(body, ns)) == 0 &&
            (rc = put(body, alert ? "\",\"severityNumber\":13,\"severityText\":\"WARN\""
                                  : "\",\"severityNumber\":9,\"severityText\":\"INFO\"")) == 0 &&
            (rc = put(body, ",\"body\":{\"stringValue\":")) == 0 &&
            (rc = rp__json_append_string(l.text, l.len, body)) == 0)
            rc = put(body, "}");
        int first = 1;
        for (int k = 1; rc == 0 && k < 3; k++) {
            if (v[k].type != RP__JSON_STRING)
                continue;
            if (first)
                rc = put(body, ",\"attributes\":[");
            if (rc == 0)
                rc = otlp_attr_span(body, first, keys[k], &v[k]);
            first = 0;
        }
        if (rc == 0 && !first)
            rc = put(body, "]");
        if (rc == 0)
            rc = put(body, "}");
    }
    if (rc == 0)
        rc = put(body, "]}]}]}");
    return rc;
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
    int rc;
    switch (f) {
    case RP__FORMAT_ELASTIC_BULK:
        rc = body_elastic(ctx, lines, len, body, info);
        break;
    case RP__FORMAT_SPLUNK_HEC:
        rc = body_splunk(ctx, lines, len, body, info);
        break;
    case RP__FORMAT_LOKI:
        rc = body_loki(ctx, lines, len, body, info);
        break;
    case RP__FORMAT_OTLP:
        rc = body_otlp(ctx, lines, len, body, info);
        break;
    default: /* ndjson, clickhouse: the lines are the body */
        rc = rp__buf_append(body, lines, len);
        break;
    }
    if (rc != 0)
        rp__buf_truncate(body, start);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Responses */

/* Appends s[0..n) to the message, printable ASCII only, cut at its end. */
static void msg_add(rp__format_result *r, const char *s, size_t n)
{
    size_t o = strlen(r->message);
    for (size_t i = 0; i < n && o + 1 < sizeof r->message; i++) {
        unsigned char c = (unsigned char)s[i];
        r->message[o++] = c >= 0x20 && c < 0x7f ? (char)c : c == '\n' || c == '\t' ? ' ' : '?';
    }
    r->message[o] = '\0';
}

static void msg_cstr(rp__format_result *r, const char *s)
{
    msg_add(r, s, strlen(s));
}

static void msg_num(rp__format_result *r, long long v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof tmp, "%lld", v);
    msg_add(r, tmp, (size_t)n);
}

/* A string span's value, decoded, into the message. */
static void msg_span(rp__format_result *r, const rp__json_span *v)
{
    char tmp[sizeof r->message];
    size_t n;
    if (v->type != RP__JSON_STRING)
        return;
    int rc = rp__json_string_decode(v, tmp, sizeof tmp, &n);
    if (rc == RP_ERR_FULL) /* long text: the raw start is as good */
        msg_add(r, v->ptr + 1, v->len - 2);
    else if (rc == 0)
        msg_add(r, tmp, n);
}

/* Trims the body's surrounding whitespace for a message. */
static void msg_body(rp__format_result *r, const char *body, size_t len)
{
    size_t i = skip_ws(body, len, 0);
    while (len > i && is_ws((unsigned char)body[len - 1]))
        len--;
    msg_add(r, body + i, len - i);
}

/* A 2xx whose body cannot be read: see the header for why DEAD. */
static int malformed(rp__format_result *r, int rc, const char *why)
{
    free(r->line_verdicts);
    r->line_verdicts = NULL;
    r->nlines = 0;
    r->delivered = r->retry = r->dead = 0;
    r->verdict = RP__VERDICT_DEAD;
    r->message[0] = '\0';
    msg_cstr(r, why);
    return rc;
}

/* A JSON integer span as a long long; -1 when it is not a plain integer
 * of at most 18 digits. */
static int span_int(const rp__json_span *v, long long *out)
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
        if (!is_digit(p[i]))
            return -1;
        x = x * 10 + (p[i] - '0');
    }
    *out = neg ? -x : x;
    return 0;
}

/* An unsigned 64-bit integer given as a JSON number or, as the protobuf
 * JSON mapping writes int64, a decimal string. */
static int span_u64(const rp__json_span *v, uint64_t *out)
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
        if (!is_digit(p[i]))
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
static void set_lines(rp__format_result *r, uint8_t *v, size_t n)
{
    r->delivered = r->retry = r->dead = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == RP__VERDICT_DELIVERED)
            r->delivered++;
        else if (v[i] == RP__VERDICT_RETRY)
            r->retry++;
        else
            r->dead++;
    }
    if (r->delivered == n || r->retry == n || r->dead == n) {
        r->verdict = n == 0 ? RP__VERDICT_DELIVERED : (enum rp__verdict)v[0];
        free(v);
        return;
    }
    r->verdict = RP__VERDICT_PARTIAL;
    r->line_verdicts = v;
    r->nlines = n;
}

static int is_2xx(long status)
{
    return status >= 200 && status <= 299;
}

/* --- Elasticsearch ------------------------------------------------------ */

/* The verdict for one _bulk item status. */
static uint8_t elastic_item_verdict(json_int_t st)
{
    if ((st >= 200 && st <= 299) || st == 409)
        return RP__VERDICT_DELIVERED; /* 409: create found the _id: already indexed */
    if (st == 408 || st == 429 || (st >= 500 && st <= 599))
        return RP__VERDICT_RETRY;
    return RP__VERDICT_DEAD;
}

/* "type: reason" from an Elasticsearch error object (or string). */
static void msg_es_error(rp__format_result *r, json_t *err)
{
    if (json_is_string(err)) {
        msg_add(r, json_string_value(err), json_string_length(err));
        return;
    }
    json_t *type = json_object_get(err, "type"), *reason = json_object_get(err, "reason");
    if (json_is_string(type))
        msg_add(r, json_string_value(type), json_string_length(type));
    if (json_is_string(type) && json_is_string(reason))
        msg_cstr(r, ": ");
    if (json_is_string(reason))
        msg_add(r, json_string_value(reason), json_string_length(reason));
}

static int elastic_items(rp__format_result *r, const char *body, size_t len, size_t nlines)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr);
    if (!root)
        return malformed(r, RP_ERR_PARSE, "elastic-bulk: response is not JSON");
    json_t *items = json_object_get(root, "items");
    int rc = 0;
    if (!json_is_array(items)) {
        rc = malformed(r, RP_ERR_PARSE, "elastic-bulk: \"errors\":true without an items array");
    } else if (json_array_size(items) != nlines) {
        rc = malformed(r, RP_ERR_PARSE, "elastic-bulk: item count differs from the batch's lines");
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
            rc = malformed(r, RP_ERR_PARSE, "elastic-bulk: an item has no integer status");
            break;
        }
        v[i] = elastic_item_verdict(json_integer_value(st));
        /* The first failure explains the rest well enough for a log. */
        if (v[i] != RP__VERDICT_DELIVERED && r->message[0] == '\0') {
            msg_cstr(r, "item ");
            msg_num(r, (long long)i);
            msg_cstr(r, ": status ");
            msg_num(r, (long long)json_integer_value(st));
            json_t *err = json_object_get(res, "error");
            if (err) {
                msg_cstr(r, ": ");
                msg_es_error(r, err);
            }
        }
    }
    if (rc == 0) {
        set_lines(r, v, nlines);
        v = NULL;
    }
    free(v);
    json_decref(root);
    return rc;
}

static int elastic_response(rp__format_result *r, long status, const char *body, size_t len,
                            size_t nlines)
{
    if (!is_2xx(status)) {
        /* {"error":{"type":..,"reason":..},"status":N}, or text from a proxy. */
        json_error_t jerr;
        json_t *root = len ? json_loadb(body, len, 0, &jerr) : NULL;
        json_t *err = json_object_get(root, "error");
        if (err)
            msg_es_error(r, err);
        else
            msg_body(r, body, len);
        json_decref(root);
        r->verdict = RP__VERDICT_STATUS;
        return 0;
    }
    /* Most answers are "errors":false; the scanner settles those without
     * building a DOM of thousands of items. */
    static const char *const keys[] = {"errors"};
    rp__json_span errors;
    int rc = rp__json_scan_object(body, len, keys, 1, &errors);
    if (rc != 0 || (errors.type != RP__JSON_TRUE && errors.type != RP__JSON_FALSE))
        return malformed(r, RP_ERR_PARSE,
                         "elastic-bulk: 2xx response is not a _bulk answer (no \"errors\")");
    if (errors.type == RP__JSON_FALSE) {
        r->verdict = RP__VERDICT_DELIVERED;
        return 0;
    }
    return elastic_items(r, body, len, nlines);
}

/* --- Splunk HEC --------------------------------------------------------- */

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
    if (rc != 0 || span_int(&v[1], &code) != 0) {
        if (is_2xx(status))
            return malformed(r, RP_ERR_PARSE,
                             "splunk-hec: 2xx response is not a HEC answer (no \"code\")");
        msg_body(r, body, len);
        r->verdict = RP__VERDICT_STATUS;
        return 0;
    }
    r->backend_code = (long)code;
    msg_cstr(r, "HEC code ");
    msg_num(r, code);
    if (v[0].type == RP__JSON_STRING) {
        msg_cstr(r, ": ");
        msg_span(r, &v[0]);
    }
    long long bad;
    if (code == 0) {
        r->verdict = is_2xx(status) ? RP__VERDICT_DELIVERED : RP__VERDICT_STATUS;
    } else if (splunk_code_retry(code)) {
        r->verdict = RP__VERDICT_RETRY;
    } else if (code == 6 && span_int(&v[2], &bad) == 0 && bad >= 0 && (size_t)bad < nlines) {
        /* HEC indexes a batch in order and stops at the first event it
         * cannot read: those before it are in, that one never will be, the
         * rest were not looked at. */
        uint8_t *lv = malloc(nlines);
        if (!lv) {
            r->verdict = RP__VERDICT_STATUS;
            return RP_ERR_NOMEM;
        }
        for (size_t i = 0; i < nlines; i++)
            lv[i] = i < (size_t)bad    ? RP__VERDICT_DELIVERED
                    : i == (size_t)bad ? RP__VERDICT_DEAD
                                       : RP__VERDICT_RETRY;
        set_lines(r, lv, nlines);
    } else {
        /* A 2xx with an error code is no delivery; otherwise the status
         * (400, 401, 403, ...) already says what to do. */
        r->verdict = is_2xx(status) ? RP__VERDICT_DEAD : RP__VERDICT_STATUS;
    }
    return 0;
}

/* --- OTLP --------------------------------------------------------------- */

static int otlp_response(rp__format_result *r, long status, const char *body, size_t len)
{
    if (!is_2xx(status)) {
        /* A google.rpc.Status: {"code":..,"message":..,"details":[..]}. */
        static const char *const keys[] = {"message"};
        rp__json_span m;
        if (rp__json_scan_object(body, len, keys, 1, &m) == 0 && m.type == RP__JSON_STRING)
            msg_span(r, &m);
        else
            msg_body(r, body, len);
        r->verdict = RP__VERDICT_STATUS;
        return 0;
    }
    r->verdict = RP__VERDICT_DELIVERED;
    if (skip_ws(body, len, 0) == len)
        return 0; /* an empty ExportLogsServiceResponse: full success */
    static const char *const top[] = {"partialSuccess"};
    static const char *const inner[] = {"rejectedLogRecords", "errorMessage"};
    rp__json_span ps, v[2];
    if (rp__json_scan_object(body, len, top, 1, &ps) != 0) {
        /* The spec makes 2xx the success signal and the body optional
         * detail; a server that sends something else still took the data. */
        msg_cstr(r, "otlp: 2xx response body is not JSON; ignored");
        return 0;
    }
    if (ps.type == RP__JSON_ABSENT || ps.type == RP__JSON_NULL)
        return 0;
    uint64_t rejected = 0;
    if (ps.type != RP__JSON_OBJECT || rp__json_scan_object(ps.ptr, ps.len, inner, 2, v) != 0 ||
        (v[0].type != RP__JSON_ABSENT && span_u64(&v[0], &rejected) != 0) ||
        (v[1].type != RP__JSON_ABSENT && v[1].type != RP__JSON_STRING))
        return malformed(r, RP_ERR_PARSE, "otlp: malformed partialSuccess");
    r->rejected = rejected;
    if (rejected > 0) {
        r->verdict = RP__VERDICT_DEAD;
        msg_cstr(r, "otlp: ");
        msg_num(r, (long long)(rejected > INT64_MAX ? INT64_MAX : rejected));
        msg_cstr(r, " log records rejected");
    } else if (v[1].type == RP__JSON_STRING && v[1].len > 2) {
        msg_cstr(r, "otlp: warning");
    }
    if (v[1].type == RP__JSON_STRING && v[1].len > 2) {
        msg_cstr(r, ": ");
        msg_span(r, &v[1]);
    }
    return 0;
}

/* --- ClickHouse --------------------------------------------------------- */

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
    {6, RP__VERDICT_DEAD},    /* CANNOT_PARSE_TEXT */
    {16, RP__VERDICT_DEAD},   /* NO_SUCH_COLUMN_IN_TABLE */
    {26, RP__VERDICT_DEAD},   /* CANNOT_PARSE_QUOTED_STRING */
    {27, RP__VERDICT_DEAD},   /* CANNOT_PARSE_INPUT_ASSERTION_FAILED */
    {38, RP__VERDICT_DEAD},   /* CANNOT_PARSE_DATE */
    {41, RP__VERDICT_DEAD},   /* CANNOT_PARSE_DATETIME */
    {43, RP__VERDICT_DEAD},   /* ILLEGAL_TYPE_OF_ARGUMENT (a view's function) */
    {53, RP__VERDICT_DEAD},   /* TYPE_MISMATCH */
    {60, RP__VERDICT_DEAD},   /* UNKNOWN_TABLE */
    {62, RP__VERDICT_DEAD},   /* SYNTAX_ERROR */
    {70, RP__VERDICT_DEAD},   /* CANNOT_CONVERT_TYPE */
    {72, RP__VERDICT_DEAD},   /* CANNOT_PARSE_NUMBER */
    {81, RP__VERDICT_DEAD},   /* UNKNOWN_DATABASE */
    {117, RP__VERDICT_DEAD},  /* INCORRECT_DATA */
    {128, RP__VERDICT_DEAD},  /* TOO_LARGE_ARRAY_SIZE */
    {131, RP__VERDICT_DEAD},  /* TOO_LARGE_STRING_SIZE */
    {159, RP__VERDICT_RETRY}, /* TIMEOUT_EXCEEDED */
    {164, RP__VERDICT_DEAD},  /* READONLY */
    {190, RP__VERDICT_DEAD},  /* SIZES_OF_ARRAYS_DOESNT_MATCH: Nested arrays of a row differ */
    {192, RP__VERDICT_DEAD},  /* UNKNOWN_USER */
    {193, RP__VERDICT_DEAD},  /* WRONG_PASSWORD */
    {194, RP__VERDICT_DEAD},  /* REQUIRED_PASSWORD */
    {202, RP__VERDICT_RETRY}, /* TOO_MANY_SIMULTANEOUS_QUERIES */
    {209, RP__VERDICT_RETRY}, /* SOCKET_TIMEOUT */
    {210, RP__VERDICT_RETRY}, /* NETWORK_ERROR */
    {225, RP__VERDICT_RETRY}, /* NO_ZOOKEEPER */
    {241, RP__VERDICT_RETRY}, /* MEMORY_LIMIT_EXCEEDED */
    {242, RP__VERDICT_RETRY}, /* TABLE_IS_READ_ONLY (replica lost its keeper) */
    {252, RP__VERDICT_RETRY}, /* TOO_MANY_PARTS */
    {319, RP__VERDICT_RETRY}, /* UNKNOWN_STATUS_OF_INSERT */
    {354, RP__VERDICT_DEAD},  /* ZLIB_INFLATE_FAILED: a torn gzip body, the same bytes on resend */
    {497, RP__VERDICT_DEAD},  /* ACCESS_DENIED */
    {516, RP__VERDICT_DEAD},  /* AUTHENTICATION_FAILED */
    {999, RP__VERDICT_RETRY}, /* KEEPER_EXCEPTION */
};

static int clickhouse_response(rp__format_result *r, long status, const char *body, size_t len)
{
    if (is_2xx(status)) {
        r->verdict = RP__VERDICT_DELIVERED;
        return 0;
    }
    r->verdict = RP__VERDICT_STATUS;
    msg_body(r, body, len);
    /* "Code: 60, e.displayText() = DB::Exception: ..." (18.x) or
     * "Code: 60. DB::Exception: ..." (later versions). */
    size_t i = skip_ws(body, len, 0);
    if (len - i < 7 || memcmp(body + i, "Code: ", 6) != 0)
        return 0;
    i += 6;
    long code = 0;
    size_t start = i;
    while (i < len && is_digit(body[i]) && i - start < 6)
        code = code * 10 + (body[i++] - '0');
    if (i == start || i >= len || (body[i] != '.' && body[i] != ','))
        return 0;
    r->backend_code = code;
    for (size_t k = 0; k < sizeof clickhouse_codes / sizeof clickhouse_codes[0]; k++)
        if (clickhouse_codes[k].code == code)
            r->verdict = (enum rp__verdict)clickhouse_codes[k].verdict;
    return 0;
}

/* --- Dispatch ----------------------------------------------------------- */

static int text_response(rp__format_result *r, long status, const char *body, size_t len)
{
    if (is_2xx(status)) {
        r->verdict = RP__VERDICT_DELIVERED;
        return 0;
    }
    r->verdict = RP__VERDICT_STATUS;
    msg_body(r, body, len);
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
        return malformed(out, RP_ERR_RANGE, "response body over 16 MiB");
    if (nlines > RP__FORMAT_MAX_LINES)
        return malformed(out, RP_ERR_RANGE, "batch has too many lines for per-line verdicts");
    switch (f) {
    case RP__FORMAT_CLICKHOUSE:
        return clickhouse_response(out, http_status, body, len);
    case RP__FORMAT_ELASTIC_BULK:
        return elastic_response(out, http_status, body, len, nlines);
    case RP__FORMAT_SPLUNK_HEC:
        return splunk_response(out, http_status, body, len, nlines);
    case RP__FORMAT_OTLP:
        return otlp_response(out, http_status, body, len);
    default:
        return text_response(out, http_status, body, len);
    }
}

void rp__format_result_free(rp__format_result *r)
{
    if (!r)
        return;
    free(r->line_verdicts);
    memset(r, 0, sizeof *r);
    r->backend_code = -1;
}
