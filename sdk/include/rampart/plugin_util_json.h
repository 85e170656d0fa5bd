/*
 * rampart/plugin_util_json.h - a JSON reader for the config text of
 * host->config_get, header-only, for plugins that must also run on a 1.0
 * host.
 *
 * An agent of ABI 1.1 or later parses and validates the plugin's config
 * itself and hands out typed values by JSON Pointer (config_bool,
 * config_i64, config_str, ... in rampart/plugin.h; rp_util_conf_* in
 * rampart/plugin_util.h wrap them). Use those: they cost a plugin nothing.
 * This header is the bounded JSON scanner that plugin_util.h carried before
 * 1.1, kept unchanged for a plugin whose descriptor says abi_minor 0 and
 * that therefore cannot count on the getters. Like plugin_util.h it is not
 * part of the ABI, includes only rampart/plugin_util.h and the C standard
 * library, and compiles as C99, C11 and C++.
 */
#ifndef RAMPART_PLUGIN_UTIL_JSON_H
#define RAMPART_PLUGIN_UTIL_JSON_H

#include <rampart/plugin_util.h>

#ifdef __cplusplus
extern "C" {
#endif

/* rp_util_config_text: the plugin's config as host->config_get hands it
 * over (compact JSON, validated, defaults filled in), or "{}" when the host
 * has none to give, so the rp_util_config_* readers fall back on their
 * defaults. Never fails; *json is borrowed as config_get says. Control
 * thread. */
static inline void rp_util_config_text(const rp_host_api *host, rp_plugin *self, const char **json,
                                       size_t *len)
{
    const char *text = NULL;
    uint64_t tlen = 0;
    if (host && host->config_get && host->config_get(self, &text, &tlen) == 0 && text) {
        *json = text;
        *len = (size_t)tlen;
    } else {
        *json = "{}";
        *len = 2;
    }
}

/* ------------------------------------------------------------------------ */
/* Config.
 *
 * host->config_get hands over the plugin's "config" as compact JSON text of
 * one object, validated against the plugin's schema with top-level defaults
 * filled in. These functions read the value of one top-level key of such a
 * text, given as a pointer and a length (no NUL needed; nothing at or past
 * json[len] is read).
 *
 * The whole text is checked on every call: it must be exactly one JSON
 * object (RFC 8259: strings with their escapes, numbers, true, false, null,
 * arrays and objects, with whitespace between tokens) and nothing else, or
 * the call fails with RP_ERR_PARSE. Only keys of the top-level object are
 * looked at: a key inside a nested object, or text inside a string value,
 * never matches. Keys are compared after escape decoding ("mo\u0064e" is
 * "mode"); when a key appears more than once, the last one wins (as in
 * jansson, which the host uses). Nesting deeper than RP_UTIL_JSON_DEPTH_MAX
 * (the top-level object counts as one) fails with RP_ERR_RANGE, which keeps
 * the scanner's recursion bounded. Bytes outside escapes are taken as they
 * are: the host's text is valid UTF-8.
 *
 * The typed getters fail with RP_ERR_NOTFOUND when the key is missing,
 * RP_ERR_TYPE when its value has another JSON type, RP_ERR_RANGE when a
 * number does not fit, RP_ERR_PARSE for a malformed text and RP_ERR_INVAL
 * for NULL arguments. On any failure *out holds dflt, so a caller that only
 * wants "the value or the default" may ignore the result. Any thread: they
 * only read their arguments. */

#ifndef RP_UTIL_JSON_DEPTH_MAX
#define RP_UTIL_JSON_DEPTH_MAX 32
#endif

static inline size_t rp_util__json_ws(const char *s, size_t len, size_t pos)
{
    while (pos < len && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r'))
        pos++;
    return pos;
}

static inline int rp_util__json_digit(const char *s, size_t len, size_t pos)
{
    return pos < len && s[pos] >= '0' && s[pos] <= '9';
}

/* Four hex digits at s[pos..pos+3]. */
static inline int rp_util__json_hex4(const char *s, size_t len, size_t pos, uint32_t *out)
{
    uint32_t v = 0;
    size_t i;
    if (pos > len || len - pos < 4)
        return RP_ERR_PARSE;
    for (i = 0; i < 4; i++) {
        char ch = s[pos + i];
        uint32_t d;
        if (ch >= '0' && ch <= '9')
            d = (uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (uint32_t)(ch - 'a') + 10u;
        else if (ch >= 'A' && ch <= 'F')
            d = (uint32_t)(ch - 'A') + 10u;
        else
            return RP_ERR_PARSE;
        v = (v << 4) | d;
    }
    *out = v;
    return 0;
}

/* The next character of a string whose opening quote lies before *pos:
 * returns 1 with its UTF-8 bytes in out[0..*n-1] (escapes decoded; \uXXXX
 * to UTF-8, a surrogate pair to one 4-byte character), 0 at the closing
 * quote (*pos is then past it), or RP_ERR_PARSE for the end of the text, a
 * raw control character, an unknown escape, bad hex digits or a lone or
 * reversed surrogate. *pos moves only on success. */
static inline int rp_util__json_char(const char *s, size_t len, size_t *pos, unsigned char out[4],
                                     size_t *n)
{
    size_t p = *pos;
    unsigned char ch;
    uint32_t cp, lo;
    if (p >= len)
        return RP_ERR_PARSE;
    ch = (unsigned char)s[p];
    if (ch == '"') {
        *pos = p + 1;
        return 0;
    }
    if (ch < 0x20u)
        return RP_ERR_PARSE;
    if (ch != '\\') {
        out[0] = ch;
        *n = 1;
        *pos = p + 1;
        return 1;
    }
    if (++p >= len)
        return RP_ERR_PARSE;
    switch (s[p]) {
    case '"':
        ch = '"';
        break;
    case '\\':
        ch = '\\';
        break;
    case '/':
        ch = '/';
        break;
    case 'b':
        ch = 0x08u;
        break;
    case 'f':
        ch = 0x0Cu;
        break;
    case 'n':
        ch = 0x0Au;
        break;
    case 'r':
        ch = 0x0Du;
        break;
    case 't':
        ch = 0x09u;
        break;
    case 'u':
        if (rp_util__json_hex4(s, len, p + 1, &cp) != 0)
            return RP_ERR_PARSE;
        p += 5;
        if (cp >= 0xDC00u && cp <= 0xDFFFu)
            return RP_ERR_PARSE; /* a low surrogate without its high one */
        if (cp >= 0xD800u && cp <= 0xDBFFu) {
            if (len - p < 6 || s[p] != '\\' || s[p + 1] != 'u' ||
                rp_util__json_hex4(s, len, p + 2, &lo) != 0 || lo < 0xDC00u || lo > 0xDFFFu)
                return RP_ERR_PARSE; /* a high surrogate without its low one */
            cp = 0x10000u + ((cp - 0xD800u) << 10) + (lo - 0xDC00u);
            p += 6;
        }
        if (cp < 0x80u) {
            out[0] = (unsigned char)cp;
            *n = 1;
        } else if (cp < 0x800u) {
            out[0] = (unsigned char)(0xC0u | (cp >> 6));
            out[1] = (unsigned char)(0x80u | (cp & 0x3Fu));
            *n = 2;
        } else if (cp < 0x10000u) {
            out[0] = (unsigned char)(0xE0u | (cp >> 12));
            out[1] = (unsigned char)(0x80u | ((cp >> 6) & 0x3Fu));
            out[2] = (unsigned char)(0x80u | (cp & 0x3Fu));
            *n = 3;
        } else {
            out[0] = (unsigned char)(0xF0u | (cp >> 18));
            out[1] = (unsigned char)(0x80u | ((cp >> 12) & 0x3Fu));
            out[2] = (unsigned char)(0x80u | ((cp >> 6) & 0x3Fu));
            out[3] = (unsigned char)(0x80u | (cp & 0x3Fu));
            *n = 4;
        }
        *pos = p;
        return 1;
    default:
        return RP_ERR_PARSE;
    }
    out[0] = ch;
    *n = 1;
    *pos = p + 1;
    return 1;
}

/* Skips a string whose opening quote lies before *pos, checking it. */
static inline int rp_util__json_skip_str(const char *s, size_t len, size_t *pos)
{
    unsigned char b[4];
    size_t n;
    int rc;
    while ((rc = rp_util__json_char(s, len, pos, b, &n)) == 1) {
    }
    return rc;
}

/* Skips a number (RFC 8259 grammar) at *pos. */
static inline int rp_util__json_skip_num(const char *s, size_t len, size_t *pos)
{
    size_t p = *pos;
    if (p < len && s[p] == '-')
        p++;
    if (!rp_util__json_digit(s, len, p))
        return RP_ERR_PARSE;
    if (s[p] == '0')
        p++;
    else
        while (rp_util__json_digit(s, len, p))
            p++;
    if (p < len && s[p] == '.') {
        p++;
        if (!rp_util__json_digit(s, len, p))
            return RP_ERR_PARSE;
        while (rp_util__json_digit(s, len, p))
            p++;
    }
    if (p < len && (s[p] == 'e' || s[p] == 'E')) {
        p++;
        if (p < len && (s[p] == '+' || s[p] == '-'))
            p++;
        if (!rp_util__json_digit(s, len, p))
            return RP_ERR_PARSE;
        while (rp_util__json_digit(s, len, p))
            p++;
    }
    *pos = p;
    return 0;
}

static inline int rp_util__json_skip_word(const char *s, size_t len, size_t *pos, const char *word)
{
    size_t n = strlen(word);
    if (len - *pos < n || memcmp(s + *pos, word, n) != 0)
        return RP_ERR_PARSE;
    *pos += n;
    return 0;
}

static inline int rp_util__json_skip(const char *s, size_t len, size_t *pos, unsigned depth);

/* Skips the array or object whose opening bracket is at *pos; depth counts
 * the arrays and objects around it. */
static inline int rp_util__json_skip_nest(const char *s, size_t len, size_t *pos, unsigned depth)
{
    size_t p = *pos;
    const int is_obj = s[p] == '{';
    const char end = is_obj ? '}' : ']';
    int rc;
    if (depth + 1u > (unsigned)RP_UTIL_JSON_DEPTH_MAX)
        return RP_ERR_RANGE;
    p = rp_util__json_ws(s, len, p + 1);
    if (p < len && s[p] == end) {
        *pos = p + 1;
        return 0;
    }
    for (;;) {
        if (is_obj) {
            if (p >= len || s[p] != '"')
                return RP_ERR_PARSE;
            p++;
            if ((rc = rp_util__json_skip_str(s, len, &p)) != 0)
                return rc;
            p = rp_util__json_ws(s, len, p);
            if (p >= len || s[p] != ':')
                return RP_ERR_PARSE;
            p = rp_util__json_ws(s, len, p + 1);
        }
        if ((rc = rp_util__json_skip(s, len, &p, depth + 1u)) != 0)
            return rc;
        p = rp_util__json_ws(s, len, p);
        if (p >= len)
            return RP_ERR_PARSE;
        if (s[p] == end) {
            *pos = p + 1;
            return 0;
        }
        if (s[p] != ',')
            return RP_ERR_PARSE;
        p = rp_util__json_ws(s, len, p + 1);
    }
}

/* Skips one value at *pos (no leading whitespace), checking it. depth is the
 * number of arrays and objects around it; recursion goes no deeper than
 * RP_UTIL_JSON_DEPTH_MAX. */
static inline int rp_util__json_skip(const char *s, size_t len, size_t *pos, unsigned depth)
{
    size_t p = *pos;
    int rc;
    if (p >= len)
        return RP_ERR_PARSE;
    switch (s[p]) {
    case '"':
        p++;
        rc = rp_util__json_skip_str(s, len, &p);
        break;
    case 't':
        rc = rp_util__json_skip_word(s, len, &p, "true");
        break;
    case 'f':
        rc = rp_util__json_skip_word(s, len, &p, "false");
        break;
    case 'n':
        rc = rp_util__json_skip_word(s, len, &p, "null");
        break;
    case '{':
    case '[':
        rc = rp_util__json_skip_nest(s, len, &p, depth);
        break;
    default:
        rc = rp_util__json_skip_num(s, len, &p);
        break;
    }
    if (rc == 0)
        *pos = p;
    return rc;
}

/* Checks the whole text and finds the value of the top-level key (NULL:
 * just checks): 0 with *vpos at its first byte, RP_ERR_NOTFOUND, or the
 * error that makes the text invalid. */
static inline int rp_util__json_find(const char *s, size_t len, const char *key, size_t *vpos)
{
    size_t p, klen = key ? strlen(key) : 0;
    int found = 0, rc;
    if (!s)
        return RP_ERR_INVAL;
    p = rp_util__json_ws(s, len, 0);
    if (p >= len || s[p] != '{')
        return RP_ERR_PARSE;
    p = rp_util__json_ws(s, len, p + 1);
    if (p < len && s[p] == '}') {
        p++;
    } else {
        for (;;) {
            size_t k = 0;
            int same = key != NULL;
            if (p >= len || s[p] != '"')
                return RP_ERR_PARSE;
            p++;
            for (;;) {
                unsigned char b[4];
                size_t n = 0, i;
                rc = rp_util__json_char(s, len, &p, b, &n);
                if (rc < 0)
                    return rc;
                if (rc == 0)
                    break;
                for (i = 0; i < n && same; i++) {
                    if (k < klen && (unsigned char)key[k] == b[i])
                        k++;
                    else
                        same = 0;
                }
            }
            if (k != klen)
                same = 0;
            p = rp_util__json_ws(s, len, p);
            if (p >= len || s[p] != ':')
                return RP_ERR_PARSE;
            p = rp_util__json_ws(s, len, p + 1);
            if (same) {
                *vpos = p;
                found = 1;
            }
            if ((rc = rp_util__json_skip(s, len, &p, 1u)) != 0)
                return rc;
            p = rp_util__json_ws(s, len, p);
            if (p >= len)
                return RP_ERR_PARSE;
            if (s[p] == '}') {
                p++;
                break;
            }
            if (s[p] != ',')
                return RP_ERR_PARSE;
            p = rp_util__json_ws(s, len, p + 1);
        }
    }
    if (rp_util__json_ws(s, len, p) != len)
        return RP_ERR_PARSE; /* something after the object */
    return found || !key ? 0 : RP_ERR_NOTFOUND;
}

/* The digits of a checked number at p: *neg, the magnitude in *mag. */
static inline int rp_util__json_mag(const char *s, size_t len, size_t p, int *neg, uint64_t *mag)
{
    uint64_t v = 0;
    int over = 0;
    *neg = 0;
    if (p < len && s[p] == '-') {
        *neg = 1;
        p++;
    }
    if (!rp_util__json_digit(s, len, p))
        return RP_ERR_TYPE; /* a string, true, false, null, an array or an object */
    while (rp_util__json_digit(s, len, p)) {
        uint64_t d = (uint64_t)(s[p] - '0');
        if (v > (UINT64_MAX - d) / 10u)
            over = 1;
        else
            v = v * 10u + d;
        p++;
    }
    if (p < len && (s[p] == '.' || s[p] == 'e' || s[p] == 'E'))
        return RP_ERR_TYPE; /* a fraction or an exponent: not an integer */
    if (over)
        return RP_ERR_RANGE;
    *mag = v;
    return 0;
}

/* rp_util_config_valid: 0 when json[0..len-1] is one JSON object and nothing
 * else, RP_ERR_PARSE when it is not, RP_ERR_RANGE when it nests deeper than
 * RP_UTIL_JSON_DEPTH_MAX, RP_ERR_INVAL for NULL. */
static inline int rp_util_config_valid(const char *json, size_t len)
{
    return rp_util__json_find(json, len, NULL, NULL);
}

/* rp_util_config_uint: a non-negative integer (digits, no fraction or
 * exponent; "-0" is 0). RP_ERR_RANGE for a negative number or one above
 * UINT64_MAX, RP_ERR_TYPE for a fraction, an exponent or another type. */
static inline int rp_util_config_uint(const char *json, size_t len, const char *key, uint64_t dflt,
                                      uint64_t *out)
{
    size_t p = 0;
    int neg = 0, rc;
    uint64_t v = 0;
    rc = key ? rp_util__json_find(json, len, key, &p) : RP_ERR_INVAL;
    if (rc == 0)
        rc = rp_util__json_mag(json, len, p, &neg, &v);
    if (rc == 0 && neg && v != 0)
        rc = RP_ERR_RANGE;
    if (out)
        *out = rc == 0 ? v : dflt;
    return rc;
}

/* rp_util_config_int: an integer from INT64_MIN to INT64_MAX (no fraction or
 * exponent). RP_ERR_RANGE outside, RP_ERR_TYPE for another type. */
static inline int rp_util_config_int(const char *json, size_t len, const char *key, int64_t dflt,
                                     int64_t *out)
{
    size_t p = 0;
    int neg = 0, rc;
    uint64_t mag = 0;
    int64_t v = 0;
    rc = key ? rp_util__json_find(json, len, key, &p) : RP_ERR_INVAL;
    if (rc == 0)
        rc = rp_util__json_mag(json, len, p, &neg, &mag);
    if (rc == 0) {
        if (!neg && mag > (uint64_t)INT64_MAX)
            rc = RP_ERR_RANGE;
        else if (neg && mag > (uint64_t)INT64_MAX + 1u)
            rc = RP_ERR_RANGE;
        else if (neg)
            v = mag == (uint64_t)INT64_MAX + 1u ? INT64_MIN : -(int64_t)mag;
        else
            v = (int64_t)mag;
    }
    if (out)
        *out = rc == 0 ? v : dflt;
    return rc;
}

/* rp_util_config_bool: true (1) or false (0); RP_ERR_TYPE for anything else
 * (null, 0, "true" included). */
static inline int rp_util_config_bool(const char *json, size_t len, const char *key, int dflt,
                                      int *out)
{
    size_t p = 0;
    int rc, v = 0;
    rc = key ? rp_util__json_find(json, len, key, &p) : RP_ERR_INVAL;
    if (rc == 0) {
        if (json[p] == 't')
            v = 1;
        else if (json[p] != 'f')
            rc = RP_ERR_TYPE;
    }
    if (out)
        *out = rc == 0 ? v : dflt;
    return rc;
}

/* Decodes the checked string value at p into buf (cap >= 1 bytes). */
static inline int rp_util__json_str_at(const char *s, size_t len, size_t p, char *buf, size_t cap,
                                       size_t *out_len)
{
    size_t n = 0;
    if (p >= len || s[p] != '"')
        return RP_ERR_TYPE;
    p++;
    for (;;) {
        unsigned char b[4];
        size_t k = 0, i;
        int rc = rp_util__json_char(s, len, &p, b, &k);
        if (rc < 0)
            return rc;
        if (rc == 0)
            break;
        if (b[0] == 0)
            return RP_ERR_UNSUPPORTED; /* \u0000 would cut the C string */
        if (k >= cap - n)
            return RP_ERR_FULL; /* no room for the character and the NUL */
        for (i = 0; i < k; i++)
            buf[n++] = (char)b[i];
    }
    buf[n] = '\0';
    *out_len = n;
    return 0;
}

/* Puts dflt (or "" when dflt is NULL or does not fit) in buf. */
static inline size_t rp_util__put_dflt(const char *dflt, char *buf, size_t cap)
{
    size_t n = dflt ? strlen(dflt) : 0;
    if (n >= cap)
        n = 0;
    if (n)
        memcpy(buf, dflt, n);
    buf[n] = '\0';
    return n;
}

/* rp_util_config_str: a string, escapes decoded (\" \\ \/ \b \f \n \r \t and
 * \uXXXX to UTF-8, surrogate pairs joined; a lone surrogate is RP_ERR_PARSE),
 * copied into buf with a terminating NUL; its length (without the NUL) in
 * *out_len if out_len is not NULL. RP_ERR_FULL when it needs more than cap
 * bytes (the value is not cut: a cut path or name would be another one),
 * RP_ERR_UNSUPPORTED when it holds \u0000 (a NUL would cut the C string
 * silently), RP_ERR_TYPE for another type, RP_ERR_INVAL for a NULL buf or a
 * cap of 0. On any failure buf holds dflt, or "" if dflt is NULL or longer
 * than cap - 1 bytes. */
static inline int rp_util_config_str(const char *json, size_t len, const char *key,
                                     const char *dflt, char *buf, size_t cap, size_t *out_len)
{
    size_t p = 0, n = 0;
    int rc;
    if (!buf || cap == 0)
        return RP_ERR_INVAL;
    rc = key ? rp_util__json_find(json, len, key, &p) : RP_ERR_INVAL;
    if (rc == 0)
        rc = rp_util__json_str_at(json, len, p, buf, cap, &n);
    if (rc != 0)
        n = rp_util__put_dflt(dflt, buf, cap);
    if (out_len)
        *out_len = n;
    return rc;
}

/* An iterator over the items of a top-level array. Fill it with
 * rp_util_config_array; the fields are read-only for the caller. It points
 * into the JSON text, which must stay unchanged while it is used. */
typedef struct rp_util_config_iter {
    const char *json;
    size_t len;
    size_t pos;     /* the next item, when taken < count */
    uint32_t count; /* items in the array (of any type) */
    uint32_t taken; /* items handed out so far */
    uint32_t index; /* index of the item the last rp_util_config_next_str looked at */
} rp_util_config_iter;

/* rp_util_config_array: sets *it to the items of the array under key.
 * RP_ERR_TYPE when the value is not an array, and the errors above; on any
 * failure *it is an empty iterator (rp_util_config_next_str returns
 * RP_ERR_NOTFOUND at once). */
static inline int rp_util_config_array(const char *json, size_t len, const char *key,
                                       rp_util_config_iter *it)
{
    size_t p = 0;
    int rc;
    if (!it)
        return RP_ERR_INVAL;
    memset(it, 0, sizeof *it);
    rc = key ? rp_util__json_find(json, len, key, &p) : RP_ERR_INVAL;
    if (rc == 0 && json[p] != '[')
        rc = RP_ERR_TYPE;
    if (rc != 0)
        return rc;
    /* The text was checked: count the items, then stand on the first. */
    p = rp_util__json_ws(json, len, p + 1);
    it->json = json;
    it->len = len;
    it->pos = p;
    if (p < len && json[p] == ']')
        return 0;
    for (;;) {
        if ((rc = rp_util__json_skip(json, len, &p, 2u)) != 0) {
            memset(it, 0, sizeof *it);
            return rc;
        }
        if (it->count < UINT32_MAX)
            it->count++;
        p = rp_util__json_ws(json, len, p);
        if (p >= len || json[p] != ',')
            return 0; /* the closing bracket: the text was checked */
        p = rp_util__json_ws(json, len, p + 1);
    }
}

/* rp_util_config_next_str: the next item of the array, as
 * rp_util_config_str decodes it, into buf; it->index is its index. 0 with
 * an item, RP_ERR_NOTFOUND after the last one. An item that is not a string
 * (RP_ERR_TYPE), does not fit (RP_ERR_FULL) or holds \u0000
 * (RP_ERR_UNSUPPORTED) fails with buf set to "", and the iterator still
 * moves past it: the caller may stop or go on. */
static inline int rp_util_config_next_str(rp_util_config_iter *it, char *buf, size_t cap,
                                          size_t *out_len)
{
    size_t p, start, n = 0;
    int rc;
    if (!it || !buf || cap == 0)
        return RP_ERR_INVAL;
    buf[0] = '\0';
    if (out_len)
        *out_len = 0;
    if (it->taken >= it->count || !it->json)
        return RP_ERR_NOTFOUND;
    start = p = it->pos;
    it->index = it->taken;
    rc = rp_util__json_skip(it->json, it->len, &p, 2u);
    if (rc != 0) {
        it->taken = it->count; /* only if the text changed under the iterator */
        return rc;
    }
    p = rp_util__json_ws(it->json, it->len, p);
    if (p < it->len && it->json[p] == ',')
        p = rp_util__json_ws(it->json, it->len, p + 1);
    it->pos = p;
    it->taken++;
    rc = rp_util__json_str_at(it->json, it->len, start, buf, cap, &n);
    if (rc != 0) {
        buf[0] = '\0';
        n = 0;
    }
    if (out_len)
        *out_len = n;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Exclusion rules from the config text (see plugin_util.h). */

/* rp_util_config_object: the span of the object under the top-level key
 * (itself a JSON object text the rp_util_config_* getters read). */
static inline int rp_util_config_object(const char *json, size_t len, const char *key,
                                        const char **out, size_t *out_len)
{
    size_t p = 0, end;
    int rc;
    if (!out || !out_len || !key)
        return RP_ERR_INVAL;
    *out = NULL;
    *out_len = 0;
    rc = rp_util__json_find(json, len, key, &p);
    if (rc == 0 && json[p] != '{')
        rc = RP_ERR_TYPE;
    if (rc != 0)
        return rc;
    end = p;
    if ((rc = rp_util__json_skip(json, len, &end, 1u)) != 0)
        return rc;
    *out = json + p;
    *out_len = end - p;
    return 0;
}

static inline int rp_util__exclude_paths(const char *obj, size_t olen, const char *key, char **out,
                                         size_t *lens, uint32_t *n, char *err, size_t errlen)
{
    rp_util_config_iter it;
    char s[RP_UTIL_EXCLUDE_PATH_MAX];
    size_t sl = 0;
    int rc;
    if (rp_util_config_array(obj, olen, key, &it) != 0)
        return 0;
    while ((rc = rp_util_config_next_str(&it, s, sizeof s, &sl)) != RP_ERR_NOTFOUND) {
        if (rc != 0 || s[0] != '/' || *n >= RP_UTIL_EXCLUDE_MAX) {
            snprintf(err, errlen,
                     "config.exclude_rules.%s[%u] (collectors.exclude.%s): expected an absolute "
                     "path, at most %d of them",
                     key, (unsigned)it.index, key, RP_UTIL_EXCLUDE_MAX);
            return RP_ERR_CONFIG;
        }
        while (sl > 1 && s[sl - 1] == '/')
            s[--sl] = '\0';
        out[*n] = (char *)malloc(sl + 1);
        if (!out[*n])
            return RP_ERR_NOMEM;
        memcpy(out[*n], s, sl + 1);
        lens[*n] = sl;
        (*n)++;
    }
    return 0;
}

/* rp_util_exclude_load: the rules under "exclude_rules" of the plugin's
 * config text (none when the key is absent); resolve (may be NULL) turns
 * user names into uids. On failure err names the entry and *x is
 * emptied. */
static inline int rp_util_exclude_load(const char *json, size_t len, rp_util_exclude *x,
                                       rp_util_user_resolver resolve, char *err, size_t errlen)
{
    const char *obj;
    size_t olen;
    rp_util_config_iter it;
    char s[128];
    int rc;
    memset(x, 0, sizeof *x);
    if (rp_util_config_object(json, len, "exclude_rules", &obj, &olen) != 0)
        return 0;
    rc =
        rp_util__exclude_paths(obj, olen, "executables", x->exe, x->exe_len, &x->nexe, err, errlen);
    if (rc == 0)
        rc = rp_util__exclude_paths(obj, olen, "path_prefixes", x->prefix, x->prefix_len,
                                    &x->nprefix, err, errlen);
    if (rc == 0 && rp_util_config_array(obj, olen, "users", &it) == 0) {
        while ((rc = rp_util_config_next_str(&it, s, sizeof s, NULL)) != RP_ERR_NOTFOUND) {
            int ok = rc == 0 && rp_util__exclude_user(x, s, resolve);
            rc = 0;
            if (!ok) {
                snprintf(err, errlen,
                         "config.exclude_rules.users[%u] (collectors.exclude.users): expected a "
                         "user name known here or a uid, got \"%s\"",
                         (unsigned)it.index, s);
                rc = RP_ERR_CONFIG;
                break;
            }
        }
        if (rc == RP_ERR_NOTFOUND)
            rc = 0; /* past the last item */
    }
    if (rc != 0)
        rp_util_exclude_free(x);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_PLUGIN_UTIL_JSON_H */
