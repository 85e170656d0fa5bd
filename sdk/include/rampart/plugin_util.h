/*
 * rampart/plugin_util.h - optional helpers for plugin authors, header-only.
 *
 * Every plugin needs the same three pieces of glue around the host API, and
 * this header holds one tested copy of each:
 *
 *   - logging: rp_util_logf(), printf-style, into a bounded stack buffer;
 *   - counters: rp_util_counters_register() registers a table of names and
 *     keeps the ids, rp_util_count() adds to one;
 *   - fields: rp_util_fields_register() asks the host for a table of field
 *     ids;
 *   - config: rp_util_config_text() fetches the compact JSON object
 *     host->config_get() hands over, rp_util_config_*() read typed values of
 *     its top-level keys.
 *
 * It is not part of the ABI: nothing here crosses the boundary, every
 * function is static inline and compiled into the plugin, and it includes
 * only <rampart/plugin.h> and the C standard library. Helpers that read
 * /proc or the user database live in <rampart/plugin_util_proc.h>. It compiles as C99,
 * C11 and C++ (tests/abi/check_header.sh checks all three). Names start with
 * rp_util_ / RP_UTIL_; names with a double underscore (rp_util__) are
 * internal and may change.
 *
 * Every function returns 0 or a negative RP_ERR_* code unless its comment
 * says otherwise. See sdk/docs/plugin-guide.md for examples.
 */
#ifndef RAMPART_PLUGIN_UTIL_H
#define RAMPART_PLUGIN_UTIL_H

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* printf format checking where the compiler has it. */
#if defined(__GNUC__) || defined(__clang__)
#if defined(__MINGW32__) && defined(__MINGW_PRINTF_FORMAT)
#define RP_UTIL_PRINTF(fmt_index, first_arg)                                                       \
    __attribute__((format(__MINGW_PRINTF_FORMAT, fmt_index, first_arg)))
#else
#define RP_UTIL_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#endif
#else
#define RP_UTIL_PRINTF(fmt_index, first_arg)
#endif

/* ------------------------------------------------------------------------ */
/* Logging. */

/* Bytes of one formatted log line, its terminating NUL included. A longer
 * line is cut (never dropped) at RP_UTIL_LOG_MAX - 1 bytes, and a UTF-8
 * character the cut would split is left out whole. The buffer is on the
 * caller's stack. A plugin may define another size before including this
 * header (every file of the plugin should then see the same value). */
#ifndef RP_UTIL_LOG_MAX
#define RP_UTIL_LOG_MAX 512
#endif

/* rp_util_vlogf: rp_util_logf with a va_list. */
static inline int rp_util_vlogf(const rp_host_api *host, rp_plugin *self, int32_t level,
                                const char *fmt, va_list ap) RP_UTIL_PRINTF(4, 0);
static inline int rp_util_vlogf(const rp_host_api *host, rp_plugin *self, int32_t level,
                                const char *fmt, va_list ap)
{
    char msg[RP_UTIL_LOG_MAX];
    int r;
    size_t n;
    if (!host || !host->log || !fmt)
        return RP_ERR_INVAL;
    r = vsnprintf(msg, sizeof msg, fmt, ap);
    if (r < 0)
        return RP_ERR_PARSE; /* an encoding error in the format or its arguments */
    n = (size_t)r;
    if (n >= sizeof msg) {
        /* Cut: drop a multi-byte character the cut split, so the line stays
         * valid UTF-8 when its start was. */
        size_t i = sizeof msg - 1, tail = 0;
        n = i;
        while (i > 0 && tail < 3 && ((unsigned char)msg[i - 1] & 0xC0u) == 0x80u) {
            i--;
            tail++;
        }
        if (i > 0) {
            unsigned char lead = (unsigned char)msg[i - 1];
            size_t need = lead >= 0xF0u ? 4u : lead >= 0xE0u ? 3u : lead >= 0xC0u ? 2u : 1u;
            if (need > 1u && need > tail + 1u)
                n = i - 1;
        }
    }
    host->log(self, level, msg, (uint64_t)n);
    return 0;
}

/* rp_util_logf: formats a log line (vsnprintf) and hands it to host->log,
 * attributed to self, at level RP_LOG_ERROR..RP_LOG_DEBUG. Lines longer than
 * RP_UTIL_LOG_MAX - 1 bytes are cut, and that still counts as success.
 * RP_ERR_INVAL without a host, a log function or a format; RP_ERR_PARSE when
 * vsnprintf fails (nothing is logged then). Any thread, as host->log. */
static inline int rp_util_logf(const rp_host_api *host, rp_plugin *self, int32_t level,
                               const char *fmt, ...) RP_UTIL_PRINTF(4, 5);
static inline int rp_util_logf(const rp_host_api *host, rp_plugin *self, int32_t level,
                               const char *fmt, ...)
{
    va_list ap;
    int rc;
    va_start(ap, fmt);
    rc = rp_util_vlogf(host, self, level, fmt, ap);
    va_end(ap);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Counters. */

/* Counters one rp_util_counters holds. The host of ABI 1.0 keeps 64 per
 * plugin as well (counter_register returns RP_ERR_FULL past them). A plugin
 * may define another cap before including this header; every file of the
 * plugin must then see the same value, since it sets the struct's size. */
#ifndef RP_UTIL_COUNTERS_MAX
#define RP_UTIL_COUNTERS_MAX 64
#endif

/* Flag of rp_util_counters_register: also keep a local running total of
 * each counter (rp_util_counter_total), for a summary the plugin logs
 * itself. The totals are plain integers: with this flag, rp_util_count must
 * not run on two threads at once for the same table. */
#define RP_UTIL_COUNTERS_TOTALS 0x1u

/* A plugin's counters, indexed by the plugin's own numbering (usually an
 * enum whose order matches the names array). Embed it in the plugin's state;
 * the fields are read-only for the plugin. */
typedef struct rp_util_counters {
    const rp_host_api *host;
    rp_plugin *self;
    uint32_t count;                       /* counters registered; 0 until registration succeeded */
    uint32_t flags;                       /* RP_UTIL_COUNTERS_* */
    uint32_t id[RP_UTIL_COUNTERS_MAX];    /* the host's ids (0 is a valid id) */
    uint64_t total[RP_UTIL_COUNTERS_MAX]; /* with RP_UTIL_COUNTERS_TOTALS */
} rp_util_counters;

/* rp_util_counters_register: registers names[0..n-1] with
 * host->counter_register and keeps the ids in c->id. Registering a name
 * twice yields the same id (the host's rule). On failure c->count stays 0,
 * so rp_util_count does nothing, and the host has been told why with
 * set_error (which counter, and the host's error); the error is returned:
 * RP_ERR_RANGE for more than RP_UTIL_COUNTERS_MAX names, RP_ERR_INVAL for a
 * NULL argument or name (or a host table without the counter functions), or
 * what counter_register returned (RP_ERR_FULL past
 * the host's cap, RP_ERR_INVAL for an empty name or one of 64 bytes or
 * more). Control thread, in init. */
static inline int rp_util_counters_register(rp_util_counters *c, const rp_host_api *host,
                                            rp_plugin *self, const char *const *names, uint32_t n,
                                            uint32_t flags)
{
    uint32_t i;
    int rc;
    char msg[128];
    if (!c || !host)
        return RP_ERR_INVAL;
    memset(c, 0, sizeof *c);
    c->host = host;
    c->self = self;
    c->flags = flags;
    if (n > RP_UTIL_COUNTERS_MAX) {
        rc = snprintf(msg, sizeof msg, "%u counters, more than the %u rp_util_counters holds",
                      (unsigned)n, (unsigned)RP_UTIL_COUNTERS_MAX);
        if (rc > 0 && host->set_error)
            host->set_error(self, msg,
                            (uint64_t)((size_t)rc < sizeof msg ? (size_t)rc : sizeof msg - 1));
        return RP_ERR_RANGE;
    }
    if (n > 0 && (!names || !host->counter_register || !host->counter_add))
        return RP_ERR_INVAL;
    for (i = 0; i < n; i++) {
        const char *name = names[i];
        rc = name ? host->counter_register(self, name, (uint64_t)strlen(name), &c->id[i])
                  : RP_ERR_INVAL;
        if (rc != 0) {
            int m = snprintf(msg, sizeof msg, "counter \"%.64s\": %s", name ? name : "(null)",
                             rp_strerror(rc));
            if (m > 0 && host->set_error)
                host->set_error(self, msg,
                                (uint64_t)((size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1));
            memset(c->id, 0, sizeof c->id);
            return rc;
        }
    }
    c->count = n;
    return 0;
}

/* rp_util_count: adds delta to counter `which` (an index into the names
 * given at registration). A delta of 0 costs nothing and is not passed on.
 * RP_ERR_INVAL for an index out of range (nothing is counted), else what
 * host->counter_add returned. Any thread (see RP_UTIL_COUNTERS_TOTALS). */
static inline int rp_util_count(rp_util_counters *c, uint32_t which, uint64_t delta)
{
    if (!c || which >= c->count)
        return RP_ERR_INVAL;
    if (delta == 0)
        return 0;
    if (c->flags & RP_UTIL_COUNTERS_TOTALS)
        c->total[which] += delta;
    return c->host->counter_add(c->self, c->id[which], delta);
}

/* rp_util_counter_total: the local running total of counter `which` (with
 * RP_UTIL_COUNTERS_TOTALS), or 0. Returns the value, not an error code. */
static inline uint64_t rp_util_counter_total(const rp_util_counters *c, uint32_t which)
{
    if (!c || which >= c->count || !(c->flags & RP_UTIL_COUNTERS_TOTALS))
        return 0;
    return c->total[which];
}

/* ------------------------------------------------------------------------ */
/* Fields. */

/* One field a plugin sets on its events: its flat-ECS (or own-namespace)
 * name and RP_TYPE_*. */
typedef struct rp_util_field_def {
    const char *name;
    uint32_t type;
} rp_util_field_def;

/* rp_util_fields_register: asks host->field_id for defs[0..n-1] and stores
 * the ids in ids[0..n-1]. On the first failure the host is told which field
 * and why (set_error), and the host's error is returned. Control thread, in
 * init. */
static inline int rp_util_fields_register(const rp_host_api *host, rp_plugin *self,
                                          const rp_util_field_def *defs, uint32_t n,
                                          rp_field_id *ids)
{
    uint32_t i;
    char msg[160];
    if (!host || !host->field_id || (n > 0 && (!defs || !ids)))
        return RP_ERR_INVAL;
    for (i = 0; i < n; i++) {
        const char *name = defs[i].name;
        int rc = name ? host->field_id(self, name, (uint64_t)strlen(name), defs[i].type, &ids[i])
                      : RP_ERR_INVAL;
        if (rc != 0) {
            int m = snprintf(msg, sizeof msg, "cannot register field %.100s: %s",
                             name ? name : "(null)", rp_strerror(rc));
            if (m > 0 && host->set_error)
                host->set_error(self, msg,
                                (uint64_t)((size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1));
            return rc;
        }
    }
    return 0;
}

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
/* Process identity shared by the collectors.
 *
 * process.entity_id joins the events of one process across collectors. Its
 * scheme (the one collector_process has always used): the lower-case hex of
 * the first 16 bytes of SHA-256("<machine id>:<pid>:<start>"), where the
 * machine id is /etc/machine-id (else /var/lib/dbus/machine-id, else the
 * host name) without its trailing newline, pid the thread group id in
 * decimal and start the process's start time in clock ticks since boot
 * (field 22 of /proc/<pid>/stat), in decimal. Any collector that knows a
 * process's pid and start computes the same id.
 *
 * The SHA-256 here is small and not constant-time: it hashes public data. */

#define RP_UTIL_ENTITY_ID_LEN 32 /* hex digits, without the NUL */

typedef struct rp_util_sha256 {
    uint32_t h[8];
    uint64_t total;
    uint8_t block[64];
    uint32_t used;
} rp_util_sha256;

static inline uint32_t rp_util__ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static inline void rp_util__sha256_block(uint32_t h[8], const uint8_t *p)
{
    static const uint32_t K[64] = {
        0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u,
        0xab1c5ed5u, 0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu,
        0x9bdc06a7u, 0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu,
        0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u,
        0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
        0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u, 0xa2bfe8a1u, 0xa81a664bu,
        0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u,
        0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
        0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u,
        0xc67178f2u};
    uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (i = 16; i < 64; i++)
        w[i] = w[i - 16] + w[i - 7] +
               (rp_util__ror(w[i - 15], 7) ^ rp_util__ror(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
               (rp_util__ror(w[i - 2], 17) ^ rp_util__ror(w[i - 2], 19) ^ (w[i - 2] >> 10));
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
        t1 = k + (rp_util__ror(e, 6) ^ rp_util__ror(e, 11) ^ rp_util__ror(e, 25)) +
             ((e & f) ^ (~e & g)) + K[i] + w[i];
        t2 = (rp_util__ror(a, 2) ^ rp_util__ror(a, 13) ^ rp_util__ror(a, 22)) +
             ((a & b) ^ (a & c) ^ (b & c));
        k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
}

static inline void rp_util_sha256_init(rp_util_sha256 *s)
{
    static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                   0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    memcpy(s->h, iv, sizeof iv);
    s->total = 0;
    s->used = 0;
}

static inline void rp_util_sha256_update(rp_util_sha256 *s, const void *data, size_t len)
{
    const uint8_t *p = (const uint8_t *)data;
    s->total += len;
    while (len > 0) {
        size_t take = 64 - s->used < len ? 64 - s->used : len;
        memcpy(s->block + s->used, p, take);
        s->used += (uint32_t)take;
        p += take;
        len -= take;
        if (s->used == 64) {
            rp_util__sha256_block(s->h, s->block);
            s->used = 0;
        }
    }
}

static inline void rp_util_sha256_final(rp_util_sha256 *s, uint8_t out[32])
{
    uint64_t bits = s->total * 8;
    int i;
    s->block[s->used++] = 0x80;
    if (s->used > 56) {
        memset(s->block + s->used, 0, 64 - s->used);
        rp_util__sha256_block(s->h, s->block);
        s->used = 0;
    }
    memset(s->block + s->used, 0, 56 - s->used);
    for (i = 0; i < 8; i++)
        s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
    rp_util__sha256_block(s->h, s->block);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

/* rp_util_entity_id: the entity id of the process (pid, start ticks) on the
 * machine whose id is mid (mid_len bytes), into out (33 bytes with the
 * NUL). */
static inline void rp_util_entity_id(const char *mid, size_t mid_len, int32_t pid,
                                     uint64_t start_ticks, char out[RP_UTIL_ENTITY_ID_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    char buf[160];
    uint8_t d[32];
    rp_util_sha256 s;
    int n, i;
    if (mid_len > 64)
        mid_len = 64;
    n = snprintf(buf, sizeof buf, "%.*s:%d:%llu", (int)mid_len, mid ? mid : "", (int)pid,
                 (unsigned long long)start_ticks);
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, buf, n > 0 ? (size_t)n : 0);
    rp_util_sha256_final(&s, d);
    for (i = 0; i < RP_UTIL_ENTITY_ID_LEN / 2; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[RP_UTIL_ENTITY_ID_LEN] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Exclusion rules (the agent's collectors.exclude, handed to every plugin
 * whose config schema declares an "exclude_rules" property, as that key of
 * its config): executables (absolute paths, exact match), path_prefixes
 * (absolute paths, matched on whole components: "/var/cache" covers
 * "/var/cache/x" but not "/var/cachex") and users (names, or uids in
 * decimal). rp_util_exclude_load reads them from the plugin's config text;
 * the matchers say whether an event falls under a rule. Load on the control
 * thread; the matchers only read, from any thread. User names resolve to
 * uids at load time through the caller's resolver (rampart/plugin_util_proc.h
 * has one for POSIX systems); without one only uids are accepted. */

#define RP_UTIL_EXCLUDE_MAX      64 /* entries per list; the core schema allows no more */
#define RP_UTIL_EXCLUDE_PATH_MAX 4096

/* The schema fragment a plugin puts under "exclude_rules" in its
 * config_schema, so the host hands the shared rules to it. */
#define RP_UTIL_EXCLUDE_SCHEMA                                                                     \
    "\"exclude_rules\":{\"type\":\"object\",\"additionalProperties\":false,"                       \
    "\"description\":\"set by the agent from collectors.exclude\",\"properties\":{"                \
    "\"executables\":{\"type\":\"array\",\"maxItems\":64,"                                         \
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095}},"                         \
    "\"path_prefixes\":{\"type\":\"array\",\"maxItems\":64,"                                       \
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4095}},"                         \
    "\"users\":{\"type\":\"array\",\"maxItems\":64,"                                               \
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64}}}}"

typedef struct rp_util_exclude {
    char *exe[RP_UTIL_EXCLUDE_MAX];
    size_t exe_len[RP_UTIL_EXCLUDE_MAX];
    uint32_t nexe;
    char *prefix[RP_UTIL_EXCLUDE_MAX];
    size_t prefix_len[RP_UTIL_EXCLUDE_MAX];
    uint32_t nprefix;
    uint32_t uid[RP_UTIL_EXCLUDE_MAX];
    uint32_t nuid;
} rp_util_exclude;

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

static inline void rp_util_exclude_free(rp_util_exclude *x)
{
    uint32_t i;
    if (!x)
        return;
    for (i = 0; i < x->nexe; i++)
        free(x->exe[i]);
    for (i = 0; i < x->nprefix; i++)
        free(x->prefix[i]);
    memset(x, 0, sizeof *x);
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

/* Resolves a user name to a uid: 0, or an error when the name is unknown. */
typedef int (*rp_util_user_resolver)(const char *name, uint32_t *uid);

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
            char *end = NULL;
            unsigned long long v;
            int ok = rc == 0 && s[0] != '\0' && x->nuid < RP_UTIL_EXCLUDE_MAX;
            rc = 0;
            if (ok && s[0] >= '0' && s[0] <= '9') {
                v = strtoull(s, &end, 10);
                ok = *end == '\0' && v <= 0xfffffffeull;
                if (ok)
                    x->uid[x->nuid++] = (uint32_t)v;
            } else if (ok) {
                uint32_t u = 0;
                ok = resolve && resolve(s, &u) == 0;
                if (ok)
                    x->uid[x->nuid++] = u;
            }
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

/* 1 when exe (len bytes) is one of the excluded executables. */
static inline int rp_util_exclude_exe(const rp_util_exclude *x, const char *exe, size_t len)
{
    uint32_t i;
    for (i = 0; exe && i < x->nexe; i++)
        if (x->exe_len[i] == len && memcmp(x->exe[i], exe, len) == 0)
            return 1;
    return 0;
}

/* 1 when path (len bytes) lies at or under an excluded prefix. */
static inline int rp_util_exclude_path(const rp_util_exclude *x, const char *path, size_t len)
{
    uint32_t i;
    for (i = 0; path && i < x->nprefix; i++) {
        size_t pl = x->prefix_len[i];
        if (pl == 1 && x->prefix[i][0] == '/')
            return path[0] == '/';
        if (len >= pl && memcmp(path, x->prefix[i], pl) == 0 && (len == pl || path[pl] == '/'))
            return 1;
    }
    return 0;
}

/* 1 when uid is an excluded user. */
static inline int rp_util_exclude_uid(const rp_util_exclude *x, uint32_t uid)
{
    uint32_t i;
    for (i = 0; i < x->nuid; i++)
        if (x->uid[i] == uid)
            return 1;
    return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_PLUGIN_UTIL_H */
