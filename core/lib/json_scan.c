/*
 * core/lib/json_scan.c - a strict JSON scanner without a DOM: validates one
 * object in a single pass (RFC 8259 grammar, UTF-8, escapes, depth) and
 * picks out the top-level members a caller names. The output formats read
 * every native line and small backend answers with it.
 */
#include "lib/json_scan.h"

#include <rampart/plugin.h>

#include <string.h>

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

size_t rp__json_skip_ws(const char *s, size_t len, size_t i)
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

/* The u escape at s[*i] (a backslash, "u" and four hex digits; the caller
 * saw the first two) into the code point *cp, *i past it. A UTF-16
 * surrogate must come as a high-low pair, read here as one code point: a
 * lone one is no character, and jansson and the backends refuse it. */
static int read_u_escape(const char *s, size_t len, size_t *i, unsigned *cp)
{
    unsigned hi, lo;
    if (read_hex4(s, len, *i + 2, &hi) != 0)
        return RP_ERR_PARSE;
    *i += 6;
    if (hi >= 0xdc00 && hi <= 0xdfff)
        return RP_ERR_PARSE;
    if (hi >= 0xd800 && hi <= 0xdbff) {
        if (*i + 1 >= len || s[*i] != '\\' || s[*i + 1] != 'u' ||
            read_hex4(s, len, *i + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
            return RP_ERR_PARSE;
        *i += 6;
        hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
    }
    *cp = hi;
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
            unsigned cp;
            if (read_u_escape(s, len, &i, &cp) != 0)
                return RP_ERR_PARSE;
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
    i = rp__json_skip_ws(s, len, i);
    if (i >= len || s[i] != ':')
        return RP_ERR_PARSE;
    *pos = rp__json_skip_ws(s, len, i + 1);
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
            i = rp__json_skip_ws(s, len, i + 1);
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
            i = rp__json_skip_ws(s, len, i);
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
            i = rp__json_skip_ws(s, len, i + 1);
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
        unsigned cp;
        if (read_u_escape(p, n, &i, &cp) != 0)
            return RP_ERR_PARSE;
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
    size_t i = rp__json_skip_ws(s, len, 0);
    if (i >= len || s[i] != '{')
        return RP_ERR_PARSE;
    i = rp__json_skip_ws(s, len, i + 1);
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
            i = rp__json_skip_ws(s, len, i);
            if (i >= len || s[i] != ':')
                return RP_ERR_PARSE;
            i = rp__json_skip_ws(s, len, i + 1);
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
            i = rp__json_skip_ws(s, len, i);
            if (i < len && s[i] == ',') {
                i = rp__json_skip_ws(s, len, i + 1);
                continue;
            }
            if (i < len && s[i] == '}') {
                i++;
                break;
            }
            return RP_ERR_PARSE;
        }
    }
    return rp__json_skip_ws(s, len, i) == len ? 0 : RP_ERR_PARSE;
}
