/*
 * core/output/ndjson.c - flat-ECS NDJSON encoding of events.
 *
 * This is on the output hot path (every event the agent ships goes through
 * it), so it avoids a DOM and per-field allocation: values are written
 * straight into the caller's buffer through a local cursor, keys come from a
 * per-field cache of ready-made `,"name":` bytes, and strings are copied in
 * runs found eight bytes at a time, with byte-wise work only where a byte
 * needs escaping or is not ASCII.
 */
#include "output/ndjson.h"
#include "lib/civil_time.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "lib/byteorder.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* The write cursor. Encoding keeps its position in locals rather than in
 * b->len so the compiler can hold it in registers across memcpy calls; the
 * buffer is synced only when it must grow and at the end. `end` never lies
 * past max, so "fits before end" is the whole cap check on the fast path. */

typedef struct wr {
    rp__buf *b;
    char *p;   /* next byte to write */
    char *end; /* data + min(cap, max) */
} wr;

/* A buffer that has no memory yet gets a cursor into this instead of
 * arithmetic on NULL (undefined in C): its room is zero, so the first write
 * grows the buffer, and nothing is ever written here. */
static char no_data[1];

/* Sets end from the buffer (p must be set). A buffer already holding more
 * than max (max lowered by its owner) gets no room, so every write goes to
 * buf_grow, which refuses it. */
static void wr_sync_end(wr *w)
{
    rp__buf *b = w->b;
    char *lim = b->data + (b->cap < b->max ? b->cap : b->max);
    w->end = lim < w->p ? w->p : lim;
}

static void wr_begin(wr *w, rp__buf *b)
{
    w->b = b;
    if (!b->data) {
        w->p = w->end = no_data;
        return;
    }
    w->p = b->data + b->len;
    wr_sync_end(w);
}

/* The content written so far is committed to b->len. */
static void wr_commit(wr *w)
{
    if (w->b->data)
        w->b->len = (size_t)(w->p - w->b->data);
}

static int wr_grow(wr *w, size_t n)
{
    rp__buf *b = w->b;
    size_t used = b->data ? (size_t)(w->p - b->data) : b->len;
    size_t saved = b->len;
    b->len = used; /* rp__buf_reserve sizes from len */
    int rc = rp__buf_reserve(b, n);
    b->len = saved;
    if (rc != 0)
        return rc;
    w->p = b->data + used;
    wr_sync_end(w);
    return 0;
}

static inline size_t room(const wr *w)
{
    return (size_t)(w->end - w->p);
}

static inline int wr_need(wr *w, size_t n)
{
    if (room(w) >= n)
        return 0;
    return wr_grow(w, n);
}

static inline int wr_put(wr *w, const void *p, size_t n)
{
    int rc = wr_need(w, n);
    if (rc != 0)
        return rc;
    memcpy(w->p, p, n);
    w->p += n;
    return 0;
}

static inline int wr_byte(wr *w, char c)
{
    int rc = wr_need(w, 1);
    if (rc == 0)
        *w->p++ = c;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Numbers */

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

/* Writes v in decimal to p (room for 20 bytes); returns the length. */
static size_t fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    char *t = tmp + sizeof tmp;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        t -= 2;
        memcpy(t, digit_pairs + 2 * r, 2);
    }
    if (v >= 10) {
        t -= 2;
        memcpy(t, digit_pairs + 2 * v, 2);
    } else {
        *--t = (char)('0' + v);
    }
    size_t n = (size_t)(tmp + sizeof tmp - t);
    memcpy(p, t, n);
    return n;
}

/* Room for 21 bytes. Negation in unsigned arithmetic so INT64_MIN works. */
static size_t fmt_i64(char *p, int64_t v)
{
    if (v >= 0)
        return fmt_u64(p, (uint64_t)v);
    *p = '-';
    return 1 + fmt_u64(p + 1, (uint64_t)0 - (uint64_t)v);
}

static inline void put2(char *p, unsigned v)
{
    memcpy(p, digit_pairs + 2 * v, 2);
}

/* ------------------------------------------------------------------------ */
/* Timestamps */

size_t rp__json_format_timestamp(int64_t unix_ns, char out[RP__JSON_TIMESTAMP_MAX + 1])
{
    /* Floor division: times before 1970 have a positive fraction too. */
    int64_t secs = unix_ns / 1000000000;
    int64_t frac = unix_ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs -= 1;
    }
    /* Events come in bursts within one second: the date and time part is
     * kept per thread and reused while the second stays the same. */
    static _Thread_local struct {
        int64_t secs;
        int valid;
        char text[20];
    } last;
    char *p = out;
    if (last.valid && last.secs == secs) {
        memcpy(p, last.text, 20);
    } else {
        int64_t days = secs / 86400;
        int64_t sod = secs % 86400;
        if (sod < 0) {
            sod += 86400;
            days -= 1;
        }
        int64_t year;
        unsigned month, day;
        rp__civil_from_days(days, &year, &month, &day);
        /* int64 nanoseconds span 1677..2262: always four digits. */
        put2(p, (unsigned)(year / 100));
        put2(p + 2, (unsigned)(year % 100));
        p[4] = '-';
        put2(p + 5, month);
        p[7] = '-';
        put2(p + 8, day);
        p[10] = 'T';
        put2(p + 11, (unsigned)(sod / 3600));
        p[13] = ':';
        put2(p + 14, (unsigned)(sod / 60 % 60));
        p[16] = ':';
        put2(p + 17, (unsigned)(sod % 60));
        p[19] = '.';
        memcpy(last.text, p, 20);
        last.secs = secs;
        last.valid = 1;
    }
    p += 20;

    unsigned f = (unsigned)frac;
    unsigned ms = f / 1000000, us = f / 1000 % 1000, ns = f % 1000;
    *p++ = (char)('0' + ms / 100);
    put2(p, ms % 100);
    p += 2;
    if (us || ns) {
        *p++ = (char)('0' + us / 100);
        put2(p, us % 100);
        p += 2;
        if (ns) {
            *p++ = (char)('0' + ns / 100);
            put2(p, ns % 100);
            p += 2;
        }
    }
    *p++ = 'Z';
    *p = '\0';
    return (size_t)(p - out);
}

/* ------------------------------------------------------------------------ */
/* IP addresses */

static const char hex_lower[] = "0123456789abcdef";

static size_t fmt_ipv4(char *p, const uint8_t a[4])
{
    char *s = p;
    for (int i = 0; i < 4; i++) {
        if (i)
            *p++ = '.';
        p += fmt_u64(p, a[i]);
    }
    return (size_t)(p - s);
}

size_t rp__ip_format(const rp_ip *ip, char out[RP__IP_STR_MAX + 1])
{
    char *p = out;
    const uint8_t *a = ip->addr;
    if (ip->family == 4) {
        p += fmt_ipv4(p, a);
        *p = '\0';
        return (size_t)(p - out);
    }
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, mapped, sizeof mapped) == 0) {
        memcpy(p, "::ffff:", 7);
        p += 7;
        p += fmt_ipv4(p, a + 12);
        *p = '\0';
        return (size_t)(p - out);
    }

    unsigned words[8];
    for (int i = 0; i < 8; i++)
        words[i] = rp__load_be16(a + 2 * i);
    /* RFC 5952 4.2: compress the longest run of two or more zero groups, the
     * first one when runs tie. */
    int best = -1, best_len = 1;
    for (int i = 0; i < 8;) {
        if (words[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && words[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len)
            *p++ = ':';
        /* RFC 5952 4.1 and 4.3: no leading zeros, lowercase. */
        unsigned w = words[i];
        int started = 0;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned nib = (w >> shift) & 0xf;
            if (nib || started || shift == 0) {
                *p++ = hex_lower[nib];
                started = 1;
            }
        }
    }
    *p = '\0';
    return (size_t)(p - out);
}

/* ------------------------------------------------------------------------ */
/* Strings */

/* Escapes for the 32 control characters; the others go \u00XX. */
static const char short_escape[32] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
};

/* 1 for ASCII bytes copied as they are; 0 for control characters, '"', '\\'
 * and every byte >= 0x80 (UTF-8 is checked separately). */
static const unsigned char plain_ascii[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0), /* 0x00-0x1f */
    1,      1,      0,      1,      1,      1,      1,      1,
    1,      1,      1,      1,      1,      1,      1,      1, /* 0x20-0x2f: '"' */
    R16(1), R16(1),                                            /* 0x30-0x4f */
    1,      1,      1,      1,      1,      1,      1,      1,
    1,      1,      1,      1,      0,      1,      1,      1,      /* 0x50-0x5f: '\\' */
    R16(1), R16(1),                                                 /* 0x60-0x7f */
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* 0x80-0xff */
#undef R16
};

/*
 * Checks the UTF-8 sequence starting at s[0] (a byte >= 0x80) against the
 * well-formed table of Unicode chapter 3 (Table 3-7). Returns its length
 * (2..4) when it is well-formed, or minus the length of its maximal subpart:
 * the longest prefix that could start a well-formed sequence (at least 1),
 * which is what gets one U+FFFD.
 */
static int utf8_check(const unsigned char *s, size_t len)
{
    unsigned c = s[0];
    int n;
    unsigned lo = 0x80, hi = 0xbf; /* range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (c == 0xed)
            hi = 0x9f; /* UTF-16 surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return -1; /* continuation byte, C0/C1 (always overlong), F5..FF */
    }
    if (len < 2 || s[1] < lo || s[1] > hi)
        return -1;
    for (int k = 2; k < n; k++)
        if ((size_t)k >= len || (s[k] & 0xc0) != 0x80)
            return -k;
    return n;
}

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define RP_SWAR 1
#define ONES    0x0101010101010101ull
#define HIGHS   0x8080808080808080ull

/* High bit set in each byte of x that is < 0x20, '"', '\\' or >= 0x80. Bytes
 * above the first such byte may be flagged spuriously (subtraction borrows
 * move upwards), never below it, so the lowest flag is exact. */
static inline uint64_t special_bytes(uint64_t x)
{
    uint64_t ctl = x - ONES * 0x20;
    uint64_t quote = (x ^ (ONES * 0x22)) - ONES;
    uint64_t bslash = (x ^ (ONES * 0x5c)) - ONES;
    return (((ctl | quote | bslash) & ~x) | x) & HIGHS;
}
#endif

/* Length of the longest prefix of s that is copied unchanged: plain ASCII
 * and well-formed UTF-8 sequences. */
static size_t raw_run(const unsigned char *s, size_t len)
{
    size_t i = 0;
    for (;;) {
#ifdef RP_SWAR
        while (len - i >= 8) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            uint64_t m = special_bytes(x);
            if (m) {
                i += (size_t)__builtin_ctzll(m) >> 3;
                goto special;
            }
            i += 8;
        }
#endif
        while (i < len && plain_ascii[s[i]])
            i++;
        if (i == len)
            return len;
#ifdef RP_SWAR
    special:
#endif
        if (s[i] < 0x80)
            return i; /* needs an escape */
        int n = utf8_check(s + i, len - i);
        if (n < 0)
            return i;
        i += (size_t)n;
    }
}

/* Copies plain ASCII from s[i..len) to the cursor while scanning it, eight
 * bytes at a time: each word is stored before it is checked, and the cursor
 * then only advances over its plain bytes. So the caller must have room for
 * len - i + 8 bytes. Returns where it stopped (len, or a byte to look at). */
static inline size_t copy_plain(wr *w, const unsigned char *s, size_t i, size_t len)
{
    char *p = w->p;
#ifdef RP_SWAR
    while (len - i >= 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        memcpy(p, &x, 8);
        uint64_t m = special_bytes(x);
        if (m) {
            size_t k = (size_t)__builtin_ctzll(m) >> 3;
            w->p = p + k;
            return i + k;
        }
        p += 8;
        i += 8;
    }
    /* The last 1..7 bytes as one word built from in-bounds loads (two
     * overlapping 4-byte loads, or three single bytes). The bytes above
     * them are zero and would read as control characters, but a flag only
     * spreads upwards, so masking them off leaves the lower flags exact. */
    if (i < len) {
        size_t r = len - i;
        const unsigned char *t = s + i;
        uint64_t x;
        if (r >= 4) {
            uint32_t lo, hi;
            memcpy(&lo, t, 4);
            memcpy(&hi, t + r - 4, 4);
            x = (uint64_t)lo | (uint64_t)hi << (8 * (r - 4));
        } else {
            x = (uint64_t)t[0] | (uint64_t)t[r / 2] << (8 * (r / 2)) |
                (uint64_t)t[r - 1] << (8 * (r - 1));
        }
        memcpy(p, &x, 8);
        uint64_t m = special_bytes(x) & ((UINT64_C(1) << (8 * r)) - 1);
        size_t k = m ? (size_t)__builtin_ctzll(m) >> 3 : r;
        w->p = p + k;
        return i + k;
    }
#else
    while (i < len && plain_ascii[s[i]])
        *p++ = (char)s[i++];
#endif
    w->p = p;
    return i;
}

/* The core of rp__json_escape, writing through a cursor: escapes s[i..len). */
static int wr_escape(wr *w, const unsigned char *s, size_t i, size_t len)
{
    int rc;
    while (i < len) {
        if (room(w) >= len - i + 8) {
            /* Room for the rest as it is: scan and copy in one pass. */
            i = copy_plain(w, s, i, len);
        } else {
            /* Near the cap: copy exactly what fits the rules, so the cap
             * refuses only output that really is too long. */
            size_t run = raw_run(s + i, len - i);
            if (run && (rc = wr_put(w, s + i, run)) != 0)
                return rc;
            i += run;
        }
        if (i == len)
            break;
        /* One character that is not plain ASCII, with its exact output
         * size reserved (a larger guess could refuse a line that fits). */
        unsigned c = s[i];
        if (c >= 0x80) {
            int n = utf8_check(s + i, len - i);
            if (n > 0) {
                rc = wr_put(w, s + i, (size_t)n); /* well-formed: as it is */
                i += (size_t)n;
            } else {
                rc = wr_put(w, "\xef\xbf\xbd", 3); /* U+FFFD per maximal subpart */
                i += (size_t)-n;
            }
        } else {
            char e[6] = {'\\', (char)c};
            size_t en = 2;
            if (c < 0x20 && short_escape[c]) {
                e[1] = short_escape[c];
            } else if (c < 0x20) {
                memcpy(e + 1, "u00", 3);
                e[4] = hex_lower[c >> 4];
                e[5] = hex_lower[c & 0xf];
                en = 6;
            } /* else '"' or '\\', already in e */
            rc = wr_put(w, e, en);
            i++;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A quoted string. Most values are short plain ASCII with room to spare in
 * the buffer: that case is one room check, the copy-while-scan and the two
 * quotes, inline; anything else continues in wr_escape. */
static inline int wr_string(wr *w, const void *sv, size_t len)
{
    const unsigned char *s = sv;
    int rc;
    size_t i = 0;
    if (room(w) >= len + 10) {
        *w->p++ = '"';
        i = copy_plain(w, s, 0, len);
        if (i == len) {
            *w->p++ = '"';
            return 0;
        }
    } else if ((rc = wr_byte(w, '"')) != 0) {
        return rc;
    }
    if ((rc = wr_escape(w, s, i, len)) != 0)
        return rc;
    return wr_byte(w, '"');
}

int rp__json_escape(const char *s, size_t len, rp__buf *out)
{
    wr w;
    wr_begin(&w, out);
    int rc = wr_escape(&w, (const unsigned char *)s, 0, len);
    if (rc == 0)
        wr_commit(&w);
    return rc; /* on failure out->len was never moved */
}

int rp__json_append_string(const char *s, size_t len, rp__buf *out)
{
    wr w;
    wr_begin(&w, out);
    int rc = wr_string(&w, s, len);
    if (rc == 0)
        wr_commit(&w);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Keys: `,"name":` per field id, built once and kept for the life of the
 * process (field ids are never reused). Readers take a published pointer
 * with acquire; two threads building the same key race with a CAS and the
 * loser frees its copy, so no lock sits on the hot path. */

struct key {
    uint32_t len;    /* of text */
    uint32_t padded; /* len rounded up to 16: what wr_key may store */
    char text[];     /* ,"name": then zeros up to padded + 16 bytes */
};

static _Atomic(struct key *) key_cache[RP__FIELD_MAX + 1];

static int key_build(rp_field_id id, const struct key **out)
{
    size_t nlen;
    const char *name = rp__field_name(id, &nlen);
    if (!name)
        return RP_ERR_INTERNAL;
    /* Registered names are plain ASCII, but escape anyway: a key must never
     * be what breaks a line. 6 bytes per name byte is the worst case. */
    rp__buf tmp;
    rp__buf_init(&tmp, 6 * RP__FIELD_NAME_MAX + 8);
    int rc = rp__buf_append(&tmp, ",", 1);
    if (rc == 0)
        rc = rp__json_append_string(name, nlen, &tmp);
    if (rc == 0)
        rc = rp__buf_append(&tmp, ":", 1);
    if (rc != 0) {
        rp__buf_free(&tmp);
        return rc;
    }
    size_t padded = (tmp.len + 15) & ~(size_t)15;
    struct key *k = calloc(1, sizeof *k + padded + 16);
    if (!k) {
        rp__buf_free(&tmp);
        return RP_ERR_NOMEM;
    }
    k->len = (uint32_t)tmp.len;
    k->padded = (uint32_t)padded;
    memcpy(k->text, tmp.data, tmp.len);
    rp__buf_free(&tmp);

    struct key *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&key_cache[id], &expected, k, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        free(k);
        k = expected;
    }
    *out = k;
    return 0;
}

static inline int key_for(rp_field_id id, const struct key **out)
{
    if (id == 0 || id > RP__FIELD_MAX)
        return RP_ERR_INTERNAL;
    const struct key *k = atomic_load_explicit(&key_cache[id], memory_order_acquire);
    if (k) {
        *out = k;
        return 0;
    }
    return key_build(id, out);
}

/* Writes a key, skipping its leading comma when skip is 1. With room to
 * spare it copies whole 16-byte blocks (inline vector moves instead of a
 * memcpy call per key); the bytes past the key are overwritten later. */
static inline int wr_key(wr *w, const struct key *k, size_t skip)
{
    size_t n = k->len - skip;
    if (room(w) < k->padded)
        return wr_put(w, k->text + skip, n);
    const char *src = k->text + skip;
    for (size_t o = 0; o < n; o += 16)
        memcpy(w->p + o, src + o, 16);
    w->p += n;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Events */

/* The output budget of one line (see RP__NDJSON_STR_OUT_MAX). */
struct line_cap {
    size_t start; /* offset of the line in the buffer */
    int cut;      /* a value was shortened */
};

static inline size_t wr_off(const wr *w)
{
    return (size_t)(w->p - w->b->data);
}

/* How much a string value may still write: its own cap, and what is left of
 * the line's. */
static size_t value_allowance(const wr *w, const struct line_cap *c)
{
    size_t used = wr_off(w) - c->start;
    size_t left = used >= RP__NDJSON_LINE_BUDGET ? 0 : RP__NDJSON_LINE_BUDGET - used;
    return left < RP__NDJSON_STR_OUT_MAX ? left : RP__NDJSON_STR_OUT_MAX;
}

/* The longest prefix of s whose escaped form takes at most limit bytes,
 * ending between two characters (never inside a UTF-8 sequence). */
static size_t escaped_prefix(const unsigned char *s, size_t len, size_t limit)
{
    size_t i = 0, out = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t adv = 1, sz = 1;
        if (c >= 0x80) {
            int n = utf8_check(s + i, len - i);
            adv = (size_t)(n > 0 ? n : -n);
            sz = n > 0 ? (size_t)n : 3;
        } else if (c < 0x20) {
            sz = short_escape[c] ? 2 : 6;
        } else if (c == '"' || c == '\\') {
            sz = 2;
        }
        if (out + sz > limit)
            break;
        out += sz;
        i += adv;
    }
    return i;
}

/* A string value within the allowance: when its escaped form is longer, it
 * is written again cut to fit, and the line notes it. */
static int wr_string_capped(wr *w, const void *sv, size_t len, struct line_cap *c)
{
    size_t allow = value_allowance(w, c);
    if (len <= allow / 6) /* no escaping can take it past the allowance */
        return wr_string(w, sv, len);
    size_t at = wr_off(w);
    int rc = wr_string(w, sv, len);
    if (rc == 0 && wr_off(w) - at <= allow + 2)
        return 0;
    if (rc != 0 && rc != RP_ERR_FULL)
        return rc;
    w->p = w->b->data + at;
    c->cut = 1;
    return wr_string(w, sv, escaped_prefix(sv, len, allow));
}

static int wr_value(wr *w, const rp_event *ev, const rp__field_view *v, struct line_cap *c)
{
    int rc;
    _Static_assert(RP__JSON_TIMESTAMP_MAX <= RP__IP_STR_MAX, "tmp must hold a timestamp");
    char tmp[RP__IP_STR_MAX + 3]; /* the largest bounded value, quoted, + NUL */
    switch (v->type) {
    /* Numbers, times and addresses have a short upper bound: with room for
     * it they are formatted in place; near the cap they are formatted aside
     * and put with their exact length, so the cap refuses only what does
     * not fit. */
    case RP_TYPE_I64:
        if (room(w) >= 21) {
            w->p += fmt_i64(w->p, v->i64);
            return 0;
        }
        return wr_put(w, tmp, fmt_i64(tmp, v->i64));
    case RP_TYPE_U64:
        if (room(w) >= 20) {
            w->p += fmt_u64(w->p, v->u64);
            return 0;
        }
        return wr_put(w, tmp, fmt_u64(tmp, v->u64));
    case RP_TYPE_BOOL:
        return v->u64 ? wr_put(w, "true", 4) : wr_put(w, "false", 5);
    case RP_TYPE_STR:
        return wr_string_capped(w, v->ptr, v->len, c);
    case RP_TYPE_BYTES: {
        uint64_t blen = v->len;
        if (blen > value_allowance(w, c) / 2) {
            blen = value_allowance(w, c) / 2;
            c->cut = 1;
        }
        if ((rc = wr_need(w, 2 * (size_t)blen + 2)) != 0)
            return rc;
        const unsigned char *s = v->ptr;
        char *p = w->p;
        *p++ = '"';
        for (uint64_t i = 0; i < blen; i++) {
            *p++ = hex_lower[s[i] >> 4];
            *p++ = hex_lower[s[i] & 0xf];
        }
        *p++ = '"';
        w->p = p;
        return 0;
    }
    case RP_TYPE_TIMESTAMP: {
        char *p = room(w) >= RP__JSON_TIMESTAMP_MAX + 3 ? w->p : tmp;
        p[0] = '"';
        size_t n = rp__json_format_timestamp(v->i64, p + 1);
        p[n + 1] = '"';
        if (p == tmp)
            return wr_put(w, tmp, n + 2);
        w->p += n + 2;
        return 0;
    }
    case RP_TYPE_IP: {
        rp_ip ip;
        memcpy(&ip, v->ptr, sizeof ip); /* the event's data need not be aligned */
        char *p = room(w) >= RP__IP_STR_MAX + 3 ? w->p : tmp;
        p[0] = '"';
        size_t n = rp__ip_format(&ip, p + 1);
        p[n + 1] = '"';
        if (p == tmp)
            return wr_put(w, tmp, n + 2);
        w->p += n + 2;
        return 0;
    }
    case RP_TYPE_STR_ARRAY:
        if ((rc = wr_byte(w, '[')) != 0)
            return rc;
        for (uint32_t k = 0; k < v->count; k++) {
            const char *s;
            uint64_t len;
            if ((rc = rp__event_get_str_array_item(ev, v->id, k, &s, &len)) != 0)
                return RP_ERR_INTERNAL;
            if (k && (rc = wr_byte(w, ',')) != 0)
                return rc;
            if ((rc = wr_string_capped(w, s, len, c)) != 0)
                return rc;
        }
        return wr_byte(w, ']');
    default:
        return RP_ERR_INTERNAL;
    }
}

/* ------------------------------------------------------------------------ */
/* The identity stamp */

_Static_assert(RP__FIELD_MAX <= 4096, "rp__ndjson_stamp.skip holds field ids up to 4096");

void rp__ndjson_stamp_init(rp__ndjson_stamp *st)
{
    memset(st, 0, sizeof *st);
    rp__buf_init(&st->text, RP__NDJSON_STAMP_MAX);
}

void rp__ndjson_stamp_free(rp__ndjson_stamp *st)
{
    if (!st)
        return;
    rp__buf_free(&st->text);
    memset(st->skip, 0, sizeof st->skip);
}

static inline int stamp_skips(const rp__ndjson_stamp *st, rp_field_id id)
{
    return id <= RP__FIELD_MAX && (st->skip[id / 64] >> (id % 64) & 1u);
}

int rp__ndjson_stamp_add(rp__ndjson_stamp *st, const char *name, const char *value, size_t len)
{
    if (!st || !name || (!value && len))
        return RP_ERR_INVAL;
    rp_field_id id;
    int rc = rp__field_intern(name, strlen(name), RP_TYPE_STR, &id);
    if (rc != 0)
        return rc;
    if (stamp_skips(st, id))
        return RP_ERR_EXISTS;
    const struct key *k;
    if ((rc = key_for(id, &k)) != 0)
        return rc;
    size_t before = st->text.len;
    rc = rp__buf_append(&st->text, k->text, k->len);
    if (rc == 0)
        rc = rp__json_append_string(value, len, &st->text);
    if (rc != 0) {
        rp__buf_truncate(&st->text, before);
        return rc;
    }
    st->skip[id / 64] |= (uint64_t)1 << (id % 64);
    return 0;
}

int rp__ndjson_encode(const rp_event *ev, rp__buf *out)
{
    return rp__ndjson_encode_stamped(ev, NULL, out);
}

int rp__ndjson_encode_stamped(const rp_event *ev, const rp__ndjson_stamp *st, rp__buf *out)
{
    wr w;
    wr_begin(&w, out);
    int rc = wr_byte(&w, '{');
    if (rc != 0)
        return rc;
    struct line_cap cap = {wr_off(&w), 0};
    uint32_t n = rp__event_field_count(ev);
    size_t written = 0;
    for (uint32_t i = 0; i < n; i++) {
        rp__field_view v;
        const struct key *k = NULL;
        if ((rc = rp__event_field_at(ev, i, &v)) != 0)
            return RP_ERR_INTERNAL;
        if (st && stamp_skips(st, v.id))
            continue;
        if ((rc = key_for(v.id, &k)) != 0)
            return rc;
        /* The cached key starts with a comma; the first field skips it. */
        if ((rc = wr_key(&w, k, written == 0)) != 0)
            return rc;
        if ((rc = wr_value(&w, ev, &v, &cap)) != 0)
            return rc;
        written++;
    }
    /* A value cut here says so like one cut when it was stored, once. */
    int32_t marked = 0;
    rp_field_id tf;
    if (cap.cut && (tf = rp__event_truncated_field()) != 0 &&
        (rp__event_get_bool(ev, tf, &marked) != 0 || !marked)) {
        const struct key *k = NULL;
        if ((rc = key_for(tf, &k)) != 0 || (rc = wr_key(&w, k, written == 0)) != 0 ||
            (rc = wr_put(&w, "true", 4)) != 0)
            return rc;
        written++;
    }
    if (st && st->text.len > 0) {
        size_t skip = written == 0; /* the stamp's own leading comma */
        if ((rc = wr_put(&w, st->text.data + skip, st->text.len - skip)) != 0)
            return rc;
    }
    if ((rc = wr_put(&w, "}\n", 2)) != 0)
        return rc;
    /* Only now does the line become part of the buffer: every failure above
     * returned with out->len untouched, which is the all-or-nothing rule. */
    wr_commit(&w);
    return 0;
}
