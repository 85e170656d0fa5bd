/*
 * rampart/plugin_util.h - optional helpers for plugin authors, header-only.
 *
 * Every plugin needs the same few pieces of glue around the host API, and
 * this header holds one tested copy of each:
 *
 *   - logging: rp_util_logf(), printf-style, into a bounded stack buffer;
 *   - counters: rp_util_counters_register() registers a table of names and
 *     keeps the ids, rp_util_count() adds to one;
 *   - fields: rp_util_fields_register() asks the host for a table of field
 *     ids;
 *   - config: rp_util_conf_*() read one typed value by JSON Pointer through
 *     the host's config getters (ABI 1.1), with a default and a copy into
 *     the caller's buffer. (A plugin that must also run on a 1.0 host reads
 *     the config text with <rampart/plugin_util_json.h>, the JSON reader
 *     this header carried before.)
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

/* ------------------------------------------------------------------------ */
/* Config.
 *
 * Thin wrappers over the host's typed config getters (ABI 1.1: config_bool,
 * config_i64, config_str, config_str_array_count, config_str_array_item).
 * The host parsed and validated the config against the plugin's schema and
 * filled in top-level defaults; these read one value each by JSON Pointer
 * (RFC 6901: "/window/seconds", "/users/0", "~1" for "/" and "~0" for "~"
 * in a key), given as a NUL-terminated string.
 *
 * They add what every plugin would write around the getters: a default
 * written to *out on any failure (so "the value or the default" is one
 * call), a range check for unsigned values, and a copy of a string into the
 * caller's buffer. They return 0, RP_ERR_NOTFOUND (absent), RP_ERR_TYPE
 * (another JSON type; a number with a fraction is no integer), RP_ERR_RANGE
 * (a negative number for _u64), RP_ERR_FULL (a string longer than the
 * buffer: never cut), RP_ERR_INVAL (a NULL argument or a malformed
 * pointer), or RP_ERR_UNSUPPORTED on a host older than 1.1 (a plugin that
 * must also run there reads the config text with
 * <rampart/plugin_util_json.h> instead). Any thread the getters allow: the
 * control thread and the plugin's own callbacks. */

/* 1 when the host has the config getters (ABI 1.1). */
static inline int rp_util_conf_available(const rp_host_api *host)
{
    return host && RP_HOST_HAS(host, config_str_array_item);
}

/* rp_util_conf_ok: 1 when rc, the result of an rp_util_conf_* call for
 * ptr, leaves a value to use: 0, or RP_ERR_NOTFOUND (the default was
 * written). Otherwise it tells the host which setting failed and why
 * (set_error: "config /ptr: wrong type (RP_ERR_TYPE)") and returns 0, so
 * init can return RP_ERR_CONFIG. */
static inline int rp_util_conf_ok(const rp_host_api *host, rp_plugin *self, const char *ptr, int rc)
{
    char msg[160];
    int m;
    if (rc == 0 || rc == RP_ERR_NOTFOUND)
        return 1;
    m = snprintf(msg, sizeof msg, "config %s: %s (%s)", ptr ? ptr : "?", rp_strerror(rc),
                 rp_errname(rc));
    if (host && host->set_error && m > 0)
        host->set_error(self, msg, (uint64_t)((size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1));
    return 0;
}

/* rp_util_conf_bool: true (1) or false (0). */
static inline int rp_util_conf_bool(const rp_host_api *host, rp_plugin *self, const char *ptr,
                                    int dflt, int *out)
{
    int32_t v = 0;
    int rc;
    if (!out)
        return RP_ERR_INVAL;
    *out = dflt;
    if (!ptr)
        return RP_ERR_INVAL;
    if (!rp_util_conf_available(host))
        return RP_ERR_UNSUPPORTED;
    rc = host->config_bool(self, ptr, (uint64_t)strlen(ptr), &v);
    if (rc == 0)
        *out = v != 0;
    return rc;
}

/* rp_util_conf_i64: an integer from INT64_MIN to INT64_MAX. */
static inline int rp_util_conf_i64(const rp_host_api *host, rp_plugin *self, const char *ptr,
                                   int64_t dflt, int64_t *out)
{
    int64_t v = 0;
    int rc;
    if (!out)
        return RP_ERR_INVAL;
    *out = dflt;
    if (!ptr)
        return RP_ERR_INVAL;
    if (!rp_util_conf_available(host))
        return RP_ERR_UNSUPPORTED;
    rc = host->config_i64(self, ptr, (uint64_t)strlen(ptr), &v);
    if (rc == 0)
        *out = v;
    return rc;
}

/* rp_util_conf_u64: a non-negative integer (RP_ERR_RANGE below 0). */
static inline int rp_util_conf_u64(const rp_host_api *host, rp_plugin *self, const char *ptr,
                                   uint64_t dflt, uint64_t *out)
{
    int64_t v = 0;
    int rc;
    if (!out)
        return RP_ERR_INVAL;
    *out = dflt;
    rc = rp_util_conf_i64(host, self, ptr, 0, &v);
    if (rc == 0 && v < 0)
        rc = RP_ERR_RANGE;
    if (rc == 0)
        *out = (uint64_t)v;
    return rc;
}

/* Copies src (n bytes) and a NUL into buf, or fails with RP_ERR_FULL when
 * it does not fit and RP_ERR_UNSUPPORTED when it holds a NUL byte (the C
 * string would end early). */
static inline int rp_util__conf_copy(const char *src, uint64_t n, char *buf, size_t cap,
                                     size_t *out_len)
{
    if (n >= cap)
        return RP_ERR_FULL;
    if (memchr(src, '\0', (size_t)n))
        return RP_ERR_UNSUPPORTED;
    memcpy(buf, src, (size_t)n);
    buf[n] = '\0';
    if (out_len)
        *out_len = (size_t)n;
    return 0;
}

/* Writes dflt (NULL: "") into buf as far as it fits. */
static inline void rp_util__conf_dflt(const char *dflt, char *buf, size_t cap, size_t *out_len)
{
    size_t n = dflt ? strlen(dflt) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n)
        memcpy(buf, dflt, n);
    buf[n] = '\0';
    if (out_len)
        *out_len = n;
}

/* rp_util_conf_str: the string at ptr copied into buf (cap bytes, NUL
 * included) with its length in *out_len (may be NULL); on failure buf holds
 * dflt (may be NULL: ""), cut to fit. */
static inline int rp_util_conf_str(const rp_host_api *host, rp_plugin *self, const char *ptr,
                                   const char *dflt, char *buf, size_t cap, size_t *out_len)
{
    const char *v = NULL;
    uint64_t n = 0;
    int rc;
    if (!buf || cap == 0)
        return RP_ERR_INVAL;
    rc = !ptr ? RP_ERR_INVAL
         : !rp_util_conf_available(host)
             ? RP_ERR_UNSUPPORTED
             : host->config_str(self, ptr, (uint64_t)strlen(ptr), &v, &n);
    if (rc == 0)
        rc = rp_util__conf_copy(v, n, buf, cap, out_len);
    if (rc != 0)
        rp_util__conf_dflt(dflt, buf, cap, out_len);
    return rc;
}

/* rp_util_conf_str_count: the number of items of the array of strings at
 * ptr (0 on failure; RP_ERR_TYPE when an item is not a string). */
static inline int rp_util_conf_str_count(const rp_host_api *host, rp_plugin *self, const char *ptr,
                                         uint32_t *count)
{
    int rc;
    if (!count)
        return RP_ERR_INVAL;
    *count = 0;
    if (!ptr)
        return RP_ERR_INVAL;
    if (!rp_util_conf_available(host))
        return RP_ERR_UNSUPPORTED;
    rc = host->config_str_array_count(self, ptr, (uint64_t)strlen(ptr), count);
    if (rc != 0)
        *count = 0;
    return rc;
}

/* rp_util_conf_str_item: item index of the array of strings at ptr, copied
 * as rp_util_conf_str does (buf is "" on failure; RP_ERR_RANGE past the
 * last item). */
static inline int rp_util_conf_str_item(const rp_host_api *host, rp_plugin *self, const char *ptr,
                                        uint32_t index, char *buf, size_t cap, size_t *out_len)
{
    const char *v = NULL;
    uint64_t n = 0;
    int rc;
    if (!buf || cap == 0)
        return RP_ERR_INVAL;
    rc = !ptr ? RP_ERR_INVAL
         : !rp_util_conf_available(host)
             ? RP_ERR_UNSUPPORTED
             : host->config_str_array_item(self, ptr, (uint64_t)strlen(ptr), index, &v, &n);
    if (rc == 0)
        rc = rp_util__conf_copy(v, n, buf, cap, out_len);
    if (rc != 0)
        rp_util__conf_dflt(NULL, buf, cap, out_len);
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

/* rp_util_hex: lower-case hex of the n bytes at in, into out (2 * n + 1
 * bytes with the NUL): how ECS writes hashes (file.hash.sha256). */
static inline void rp_util_hex(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;
    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15u];
    }
    out[2 * n] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Paths. */

/* rp_util_path_normal: 1 when s is an absolute path in normal form (begins
 * with '/', no empty component "//", no "." or ".." component; a trailing
 * '/' is fine), else 0. A path from config or an event that is not in this
 * form is refused rather than resolved: resolving it would follow links. */
static inline int rp_util_path_normal(const char *s)
{
    const char *q;
    if (!s || s[0] != '/')
        return 0;
    for (q = s; *q; q++) {
        if (q[0] != '/')
            continue;
        if (q[1] == '/')
            return 0;
        if (q[1] == '.' && (q[2] == '/' || q[2] == '\0'))
            return 0;
        if (q[1] == '.' && q[2] == '.' && (q[3] == '/' || q[3] == '\0'))
            return 0;
    }
    return 1;
}

/* rp_util_path_dir: the folder of path (what precedes its last '/') into
 * out (cap bytes); "" when path has no '/' past its first byte (a file of
 * "/" or no folder at all) or the folder does not fit. */
static inline void rp_util_path_dir(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0 || n >= cap) {
        out[0] = '\0';
        return;
    }
    memcpy(out, path, n);
    out[n] = '\0';
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
 * decimal). rp_util_exclude_read reads them through the config getters;
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

/* Resolves a user name to a uid: 0, or an error when the name is unknown. */
typedef int (*rp_util_user_resolver)(const char *name, uint32_t *uid);

/* Reads the absolute paths of the array /exclude_rules/<key>. */
static inline int rp_util__exclude_read_paths(const rp_host_api *host, rp_plugin *self,
                                              const char *key, char **out, size_t *lens,
                                              uint32_t *n, char *err, size_t errlen)
{
    char ptr[64];
    char s[RP_UTIL_EXCLUDE_PATH_MAX];
    size_t sl = 0;
    uint32_t count = 0, i;
    int rc;
    snprintf(ptr, sizeof ptr, "/exclude_rules/%s", key);
    rc = rp_util_conf_str_count(host, self, ptr, &count);
    if (rc == RP_ERR_NOTFOUND)
        return 0;
    for (i = 0; i < count || rc != 0; i++) {
        if (rc == 0)
            rc = rp_util_conf_str_item(host, self, ptr, i, s, sizeof s, &sl);
        if (rc != 0 || s[0] != '/' || *n >= RP_UTIL_EXCLUDE_MAX) {
            snprintf(err, errlen,
                     "config.exclude_rules.%s[%u] (collectors.exclude.%s): expected an absolute "
                     "path, at most %d of them",
                     key, (unsigned)i, key, RP_UTIL_EXCLUDE_MAX);
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

/* Adds one entry of exclude_rules.users to x: a uid in decimal, or a user
 * name that resolve (may be NULL) turns into one. 1, or 0 when s is empty,
 * not a uid or a known name, or x is full. */
static inline int rp_util__exclude_user(rp_util_exclude *x, const char *s,
                                        rp_util_user_resolver resolve)
{
    if (s[0] == '\0' || x->nuid >= RP_UTIL_EXCLUDE_MAX)
        return 0;
    if (s[0] >= '0' && s[0] <= '9') {
        char *end = NULL;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end != '\0' || v > 0xfffffffeull)
            return 0;
        x->uid[x->nuid++] = (uint32_t)v;
        return 1;
    }
    uint32_t u = 0;
    if (!resolve || resolve(s, &u) != 0)
        return 0;
    x->uid[x->nuid++] = u;
    return 1;
}

/* rp_util_exclude_read: the rules under /exclude_rules of the plugin's
 * config, through the host's config getters (none when the key is absent);
 * resolve (may be NULL) turns user names into uids. On failure err names
 * the entry and *x is emptied. Control thread, in init or reconfigure.
 * (<rampart/plugin_util_json.h> has rp_util_exclude_load, which reads the
 * config text of a 1.0 host.) */
static inline int rp_util_exclude_read(const rp_host_api *host, rp_plugin *self, rp_util_exclude *x,
                                       rp_util_user_resolver resolve, char *err, size_t errlen)
{
    char s[128];
    uint32_t count = 0, i;
    int rc;
    memset(x, 0, sizeof *x);
    rc = rp_util__exclude_read_paths(host, self, "executables", x->exe, x->exe_len, &x->nexe, err,
                                     errlen);
    if (rc == 0)
        rc = rp_util__exclude_read_paths(host, self, "path_prefixes", x->prefix, x->prefix_len,
                                         &x->nprefix, err, errlen);
    if (rc == 0) {
        rc = rp_util_conf_str_count(host, self, "/exclude_rules/users", &count);
        if (rc == RP_ERR_NOTFOUND)
            rc = 0;
        else if (rc != 0)
            snprintf(err, errlen, "config.exclude_rules.users (collectors.exclude.users): %s",
                     rp_strerror(rc));
    }
    for (i = 0; rc == 0 && i < count; i++) {
        int ok =
            rp_util_conf_str_item(host, self, "/exclude_rules/users", i, s, sizeof s, NULL) == 0 &&
            rp_util__exclude_user(x, s, resolve);
        if (!ok) {
            snprintf(err, errlen,
                     "config.exclude_rules.users[%u] (collectors.exclude.users): expected a "
                     "user name known here or a uid, got \"%s\"",
                     (unsigned)i, s);
            rc = RP_ERR_CONFIG;
        }
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
