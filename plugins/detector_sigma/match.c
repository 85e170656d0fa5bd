/*
 * plugins/detector_sigma/match.c - compiled value matchers for Sigma field
 * conditions (match.h says what each modifier means here).
 *
 * A string value compiles into one or more alternatives (base64offset gives
 * three, expand one per substitution), each a short token list: literal runs
 * (lower-cased unless `cased`), `*`, `?` and the windash class. contains,
 * startswith and endswith only add a `*` at either end, so one matcher (a
 * greedy glob with one backtrack point) serves them all; the common shapes
 * without inner wildcards take a memcmp/search fast path.
 */
#define _GNU_SOURCE
#include "match.h"

#include <rampart/plugin.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum tok_type { T_LIT, T_STAR, T_ONE, T_DASH };

struct tok {
    uint8_t type;
    uint32_t off; /* T_LIT: bytes[off..off+len) of the alternative */
    uint32_t len;
};

struct alt {
    char *bytes; /* literal bytes of every T_LIT, folded when case-insensitive */
    size_t nbytes;
    struct tok *toks;
    size_t ntoks;
};

enum mkind { K_STRING, K_RE, K_CIDR, K_NUM, K_EXISTS, K_NULL, K_FIELDREF };

struct ds_matcher {
    enum mkind kind;
    bool fold;
    struct alt *alts;
    size_t nalts;
    /* K_RE */
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    uint64_t *errors; /* the field's counter */
    char *re_lit;     /* the literal the pattern requires (folded), or NULL */
    size_t re_lit_len;
    /* K_CIDR */
    uint8_t net[16];
    unsigned prefix;
    bool v6;
    /* K_NUM */
    double num;
    uint32_t cmp; /* DS_MODBIT(DS_MOD_LT)/LTE/GT/GTE */
    /* K_EXISTS */
    bool exists;
    /* K_FIELDREF */
    char *ref;
    uint32_t refkind; /* 0, DS_MODBIT(DS_MOD_CONTAINS), DS_MODBIT(DS_MOD_STARTSWITH) or
                         DS_MODBIT(DS_MOD_ENDSWITH) */
    bool neq;         /* the field's result is inverted: no literal to index */
};

struct ds_field {
    uint32_t mods;
    struct ds_matcher *m;
    size_t n;
    uint64_t errors;
};

/* ------------------------------------------------------------------ */
/* Small helpers */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static inline unsigned char fold_byte(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Width of the UTF-8 character at s (n > 0 bytes): its sequence length when
 * well formed, else 1 (a stray byte is a character of its own). */
static size_t char_width(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t w;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        w = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        w = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        w = 4;
    else
        return 1;
    if (w > n)
        return 1;
    for (size_t i = 1; i < w; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 1;
    return w;
}

static bool bytes_eq(const unsigned char *text, const unsigned char *pat, size_t n, bool fold)
{
    if (!fold)
        return memcmp(text, pat, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (fold_byte(text[i]) != pat[i])
            return false;
    return true;
}

/* Whether r[0..rn) occurs in v[0..n), ASCII case folded when fold, in
 * O(n + rn): the value is the attacker's, and a naive search costs n * rn
 * on "aaa...ab" in "aaa...a" (with fieldref|contains both are). memmem is linear already; folded,
 * Knuth-Morris-Pratt over the first DS_FIND_HEAD bytes of r (its table on the stack), the rest of r
 * compared where they occur, which only a reference longer than the
 * agent's 4 KiB fields ever needs. */
#define DS_FIND_HEAD 4096u
static bool find_linear(const unsigned char *v, size_t n, const unsigned char *r, size_t rn,
                        bool fold)
{
    if (rn == 0)
        return true;
    if (rn > n)
        return false;
    if (!fold)
        return memmem(v, n, r, rn) != NULL;
    size_t h = rn < DS_FIND_HEAD ? rn : DS_FIND_HEAD;
    /* next[k]: the length of the longest proper border of r[0..k]. */
    uint16_t next[DS_FIND_HEAD];
    next[0] = 0;
    for (size_t k = 1, b = 0; k < h; k++) {
        while (b && fold_byte(r[k]) != fold_byte(r[b]))
            b = next[b - 1];
        if (fold_byte(r[k]) == fold_byte(r[b]))
            b++;
        next[k] = (uint16_t)b;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        unsigned char c = fold_byte(v[i]);
        while (k && c != fold_byte(r[k]))
            k = next[k - 1];
        if (c == fold_byte(r[k]))
            k++;
        if (k < h)
            continue;
        size_t start = i + 1 - h;
        if (start + rn <= n) {
            size_t j = h;
            while (j < rn && fold_byte(v[start + j]) == fold_byte(r[j]))
                j++;
            if (j == rn)
                return true;
        }
        k = next[k - 1];
    }
    return false;
}

/* Whether pat (already folded when fold) occurs in text. */
static bool bytes_find(const unsigned char *text, size_t n, const unsigned char *pat, size_t m,
                       bool fold)
{
    return find_linear(text, n, pat, m, fold);
}

/* ------------------------------------------------------------------ */
/* Modifier names */

#define MODS_KIND                                                                                  \
    (DS_MODBIT(DS_MOD_CONTAINS) | DS_MODBIT(DS_MOD_STARTSWITH) | DS_MODBIT(DS_MOD_ENDSWITH))
#define MODS_RE_SUB (DS_MODBIT(DS_MOD_RE_I) | DS_MODBIT(DS_MOD_RE_M) | DS_MODBIT(DS_MOD_RE_S))
#define MODS_UTF16                                                                                 \
    (DS_MODBIT(DS_MOD_UTF16LE) | DS_MODBIT(DS_MOD_UTF16BE) | DS_MODBIT(DS_MOD_UTF16) |             \
     DS_MODBIT(DS_MOD_WIDE))
#define MODS_B64 (DS_MODBIT(DS_MOD_BASE64) | DS_MODBIT(DS_MOD_BASE64OFFSET))
#define MODS_NUM                                                                                   \
    (DS_MODBIT(DS_MOD_LT) | DS_MODBIT(DS_MOD_LTE) | DS_MODBIT(DS_MOD_GT) | DS_MODBIT(DS_MOD_GTE))

static int popcount32(uint32_t v)
{
    int n = 0;
    for (; v; v &= v - 1)
        n++;
    return n;
}

/* The combination rules that do not depend on order. */
static int check_mods(uint32_t mods, char *err, size_t errlen)
{
    if (popcount32(mods & MODS_KIND) > 1) {
        seterr(err, errlen, "modifiers: only one of contains, startswith, endswith");
        return RP_ERR_PARSE;
    }
    if ((mods & MODS_RE_SUB) && !(mods & DS_MODBIT(DS_MOD_RE))) {
        seterr(err, errlen, "modifiers: i, m and s apply to re only");
        return RP_ERR_PARSE;
    }
    if (popcount32(mods & MODS_UTF16) > 1 || popcount32(mods & MODS_B64) > 1 ||
        popcount32(mods & MODS_NUM) > 1) {
        seterr(err, errlen, "modifiers: two of one family (utf16*, base64*, lt/lte/gt/gte)");
        return RP_ERR_PARSE;
    }
    /* The modifiers that decide the whole comparison stand alone (cased and
     * all aside, which change nothing there). */
    const uint32_t alone[] = {DS_MODBIT(DS_MOD_RE), DS_MODBIT(DS_MOD_CIDR), MODS_NUM,
                              DS_MODBIT(DS_MOD_EXISTS)};
    const char *alone_name[] = {"re", "cidr", "lt/lte/gt/gte", "exists"};
    for (size_t i = 0; i < sizeof alone / sizeof alone[0]; i++) {
        uint32_t allowed = alone[i] | DS_MODBIT(DS_MOD_ALL) | DS_MODBIT(DS_MOD_CASED);
        if (alone[i] == DS_MODBIT(DS_MOD_RE))
            allowed |= MODS_RE_SUB;
        if ((mods & alone[i]) && (mods & ~allowed)) {
            seterr(err, errlen, "modifiers: %s does not combine with the others given",
                   alone_name[i]);
            return RP_ERR_PARSE;
        }
    }
    if ((mods & DS_MODBIT(DS_MOD_FIELDREF)) &&
        (mods & ~(DS_MODBIT(DS_MOD_FIELDREF) | MODS_KIND | DS_MODBIT(DS_MOD_CASED) |
                  DS_MODBIT(DS_MOD_ALL) | DS_MODBIT(DS_MOD_NEQ)))) {
        seterr(err, errlen,
               "modifiers: fieldref combines only with contains, startswith, endswith, cased, "
               "neq");
        return RP_ERR_PARSE;
    }
    if ((mods & DS_MODBIT(DS_MOD_NEQ)) &&
        (mods & ~(DS_MODBIT(DS_MOD_NEQ) | DS_MODBIT(DS_MOD_CASED) | DS_MODBIT(DS_MOD_FIELDREF) |
                  DS_MODBIT(DS_MOD_WINDASH) | DS_MODBIT(DS_MOD_EXPAND)))) {
        seterr(err, errlen, "modifiers: neq combines only with cased, fieldref, windash, expand");
        return RP_ERR_PARSE;
    }
    if ((mods & DS_MODBIT(DS_MOD_WINDASH)) && (mods & (MODS_B64 | MODS_UTF16))) {
        seterr(err, errlen, "modifiers: windash with base64 or utf16 is not supported");
        return RP_ERR_UNSUPPORTED;
    }
    if ((mods & DS_MODBIT(DS_MOD_BASE64OFFSET)) &&
        (mods & (DS_MODBIT(DS_MOD_STARTSWITH) | DS_MODBIT(DS_MOD_ENDSWITH)))) {
        seterr(err, errlen, "modifiers: base64offset needs contains");
        return RP_ERR_PARSE;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Building string alternatives */

/* A growing byte buffer and token list for one alternative. */
struct build {
    char *bytes;
    size_t nbytes, capbytes;
    struct tok *toks;
    size_t ntoks, captoks;
};

static int b_bytes(struct build *b, const void *p, size_t n)
{
    if (b->nbytes + n > DS_MATCH_MAX_VALUE * 8)
        return RP_ERR_RANGE;
    if (b->nbytes + n > b->capbytes) {
        size_t cap = b->capbytes ? b->capbytes : 32;
        while (cap < b->nbytes + n)
            cap *= 2;
        char *nb = realloc(b->bytes, cap);
        if (!nb)
            return RP_ERR_NOMEM;
        b->bytes = nb;
        b->capbytes = cap;
    }
    memcpy(b->bytes + b->nbytes, p, n);
    b->nbytes += n;
    return 0;
}

static int b_tok(struct build *b, uint8_t type)
{
    if (b->ntoks == b->captoks) {
        size_t cap = b->captoks ? b->captoks * 2 : 8;
        struct tok *nt = realloc(b->toks, cap * sizeof *nt);
        if (!nt)
            return RP_ERR_NOMEM;
        b->toks = nt;
        b->captoks = cap;
    }
    b->toks[b->ntoks++] = (struct tok){.type = type, .off = (uint32_t)b->nbytes, .len = 0};
    return 0;
}

/* Appends literal bytes, extending the last token when it is a literal. */
static int b_lit(struct build *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    if (b->ntoks == 0 || b->toks[b->ntoks - 1].type != T_LIT) {
        int rc = b_tok(b, T_LIT);
        if (rc < 0)
            return rc;
    }
    int rc = b_bytes(b, p, n);
    if (rc < 0)
        return rc;
    b->toks[b->ntoks - 1].len += (uint32_t)n;
    return 0;
}

static void b_free(struct build *b)
{
    free(b->bytes);
    free(b->toks);
    memset(b, 0, sizeof *b);
}

static bool is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

/* Width of the windash character at s: `-` or `/` (1), U+2013 en dash,
 * U+2014 em dash or U+2015 horizontal bar (3 bytes of UTF-8); else 0. */
static size_t dash_width(const unsigned char *s, size_t n)
{
    if (n >= 1 && (s[0] == '-' || s[0] == '/'))
        return 1;
    if (n >= 3 && s[0] == 0xE2 && s[1] == 0x80 && s[2] >= 0x93 && s[2] <= 0x95)
        return 3;
    return 0;
}

/* Parses a Sigma string: escapes, wildcards and (windash) flag dashes. A
 * `*` after a `*` is dropped: two stars match what one does. */
static int parse_pattern(const char *s, size_t n, bool windash, struct build *b)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = u[i];
        size_t dash;
        int rc = 0;
        if (c == '\\' && i + 1 < n && (u[i + 1] == '*' || u[i + 1] == '?' || u[i + 1] == '\\')) {
            rc = b_lit(b, &u[i + 1], 1);
            i++;
        } else if (c == '*') {
            if (b->ntoks == 0 || b->toks[b->ntoks - 1].type != T_STAR)
                rc = b_tok(b, T_STAR);
        } else if (c == '?') {
            rc = b_tok(b, T_ONE);
        } else if (windash && (dash = dash_width(u + i, n - i)) > 0 &&
                   (i == 0 || !is_word(u[i - 1])) && i + dash < n && is_word(u[i + dash])) {
            rc = b_tok(b, T_DASH);
            i += dash - 1;
        } else {
            rc = b_lit(b, &c, 1);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool has_wildcards(const struct build *b)
{
    for (size_t i = 0; i < b->ntoks; i++)
        if (b->toks[i].type != T_LIT)
            return true;
    return false;
}

/* UTF-8 bytes into UTF-16 (le or be, optional byte order mark). */
static int utf16_encode(const unsigned char *s, size_t n, bool be, bool bom, struct build *out,
                        char *err, size_t errlen)
{
    if (bom) {
        unsigned char mark[2] = {be ? 0xFE : 0xFF, be ? 0xFF : 0xFE};
        int rc = b_bytes(out, mark, 2);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < n;) {
        size_t w = char_width(s + i, n - i);
        uint32_t cp;
        if (w == 1 && s[i] >= 0x80) {
            seterr(err, errlen, "value is not valid UTF-8 (byte %zu), utf16 cannot encode it", i);
            return RP_ERR_PARSE;
        }
        if (w == 1)
            cp = s[i];
        else if (w == 2)
            cp = ((uint32_t)(s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
        else if (w == 3)
            cp = ((uint32_t)(s[i] & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) |
                 (s[i + 2] & 0x3F);
        else
            cp = ((uint32_t)(s[i] & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
                 ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
        i += w;
        uint16_t units[2];
        size_t nu = 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            units[0] = (uint16_t)(0xD800 | (cp >> 10));
            units[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
            nu = 2;
        } else {
            units[0] = (uint16_t)cp;
        }
        for (size_t k = 0; k < nu; k++) {
            unsigned char pair[2];
            pair[be ? 1 : 0] = (unsigned char)(units[k] & 0xFF);
            pair[be ? 0 : 1] = (unsigned char)(units[k] >> 8);
            int rc = b_bytes(out, pair, 2);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard base64 with padding into out (its capacity checked by the caller). */
static size_t b64_encode(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8) | s[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)s[i] << 16) | ((uint32_t)s[i + 1] << 8);
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = b64_alphabet[(v >> 6) & 63];
        out[o++] = '=';
    }
    return o;
}

/* Turns one finished token list into an alternative of the matcher: the
 * anchoring stars of the match kind around it, literals folded. */
static int add_alt(struct ds_matcher *m, struct build *b, uint32_t kind)
{
    struct build a = {0};
    int rc = 0;
    if (kind & (DS_MODBIT(DS_MOD_CONTAINS) | DS_MODBIT(DS_MOD_ENDSWITH)))
        rc = b_tok(&a, T_STAR);
    for (size_t i = 0; rc == 0 && i < b->ntoks; i++) {
        const struct tok *t = &b->toks[i];
        if (t->type == T_LIT)
            rc = b_lit(&a, b->bytes + t->off, t->len);
        else if (t->type == T_STAR && a.ntoks && a.toks[a.ntoks - 1].type == T_STAR)
            continue;
        else
            rc = b_tok(&a, t->type);
    }
    if (rc == 0 && (kind & (DS_MODBIT(DS_MOD_CONTAINS) | DS_MODBIT(DS_MOD_STARTSWITH))) &&
        !(a.ntoks && a.toks[a.ntoks - 1].type == T_STAR))
        rc = b_tok(&a, T_STAR);
    if (rc == 0 && m->nalts >= DS_MATCH_MAX_ALTS)
        rc = RP_ERR_RANGE;
    struct alt *na = rc == 0 ? realloc(m->alts, (m->nalts + 1) * sizeof *na) : NULL;
    if (rc == 0 && !na)
        rc = RP_ERR_NOMEM;
    if (rc < 0) {
        b_free(&a);
        return rc;
    }
    if (m->fold)
        for (size_t i = 0; i < a.nbytes; i++)
            a.bytes[i] = (char)fold_byte((unsigned char)a.bytes[i]);
    m->alts = na;
    m->alts[m->nalts++] =
        (struct alt){.bytes = a.bytes, .nbytes = a.nbytes, .toks = a.toks, .ntoks = a.ntoks};
    return 0;
}

/* One raw string (after expand) into the matcher's alternatives. */
static int compile_string(struct ds_matcher *m, uint32_t mods, const char *s, size_t n, char *err,
                          size_t errlen)
{
    struct build b = {0};
    int rc = parse_pattern(s, n, (mods & DS_MODBIT(DS_MOD_WINDASH)) != 0, &b);
    uint32_t kind = mods & MODS_KIND;
    if (rc == 0 && (mods & (MODS_UTF16 | MODS_B64))) {
        if (has_wildcards(&b)) {
            seterr(err, errlen,
                   "value '%.*s': wildcards cannot be encoded (utf16/base64); escape them",
                   (int)(n > 64 ? 64 : n), s);
            b_free(&b);
            return RP_ERR_PARSE;
        }
        struct build enc = {0};
        if (mods & MODS_UTF16)
            rc = utf16_encode((const unsigned char *)b.bytes, b.nbytes,
                              (mods & DS_MODBIT(DS_MOD_UTF16BE)) != 0,
                              (mods & DS_MODBIT(DS_MOD_UTF16)) != 0, &enc, err, errlen);
        else
            rc = b.nbytes ? b_bytes(&enc, b.bytes, b.nbytes) : 0;
        b_free(&b);
        if (rc == 0 && (mods & MODS_B64)) {
            /* 2 spare bytes for base64offset's shift, 4/3 for the encoding. */
            size_t cap = (enc.nbytes + 2 + 2) / 3 * 4 + 4;
            unsigned char *shifted = malloc(enc.nbytes + 2);
            char *out = malloc(cap);
            if (!shifted || !out) {
                rc = RP_ERR_NOMEM;
            } else if (mods & DS_MODBIT(DS_MOD_BASE64)) {
                size_t o = b64_encode((const unsigned char *)enc.bytes, enc.nbytes, out);
                rc = b_lit(&b, out, o);
                if (rc == 0)
                    rc = add_alt(m, &b, kind);
                b_free(&b);
            } else {
                /* base64offset: the value at byte offsets 0, 1 and 2 of the
                 * encoded stream. Shift by i filler bytes, encode, and keep
                 * only the characters that depend on the value alone: drop
                 * the first 0, 2 or 3 (they mix in the filler) and the last
                 * ones that mix in the padding (sigma-specification,
                 * "base64offset"; the same cut as pySigma). */
                static const size_t cut_start[3] = {0, 2, 3};
                static const size_t cut_end[3] = {0, 3, 2};
                for (size_t i = 0; rc == 0 && i < 3; i++) {
                    memset(shifted, ' ', i);
                    if (enc.nbytes)
                        memcpy(shifted + i, enc.bytes, enc.nbytes);
                    size_t o = b64_encode(shifted, enc.nbytes + i, out);
                    size_t end_cut = cut_end[(enc.nbytes + i) % 3];
                    if (o < cut_start[i] + end_cut || o - cut_start[i] - end_cut == 0)
                        continue; /* too short to leave anything of its own */
                    rc = b_lit(&b, out + cut_start[i], o - cut_start[i] - end_cut);
                    if (rc == 0)
                        rc = add_alt(m, &b, DS_MODBIT(DS_MOD_CONTAINS));
                    b_free(&b);
                }
                if (rc == 0 && m->nalts == 0) {
                    seterr(err, errlen, "value '%.*s' is too short for base64offset",
                           (int)(n > 64 ? 64 : n), s);
                    rc = RP_ERR_PARSE;
                }
            }
            free(shifted);
            free(out);
        } else if (rc == 0) {
            rc = b_lit(&b, enc.bytes, enc.nbytes);
            if (rc == 0)
                rc = add_alt(m, &b, kind);
            b_free(&b);
        }
        b_free(&enc);
        return rc;
    }
    if (rc == 0)
        rc = add_alt(m, &b, kind);
    b_free(&b);
    return rc;
}

/* ------------------------------------------------------------------ */
/* expand: %name% placeholders substituted at compile time */

static const struct ds_placeholder *find_placeholder(const struct ds_match_opts *o,
                                                     const char *name, size_t n)
{
    for (size_t i = 0; o && i < o->nplaceholders; i++)
        if (strlen(o->placeholders[i].name) == n && memcmp(o->placeholders[i].name, name, n) == 0)
            return &o->placeholders[i];
    return NULL;
}

/* Substitutes the first placeholder of s at or after byte from, one string
 * per value, recursively; every finished string goes to compile_string.
 * Placeholders come from the rule only: a substituted value's own percent
 * signs are not searched again. */
static int expand_into(struct ds_matcher *m, uint32_t mods, const char *s, size_t n, size_t from,
                       const struct ds_match_opts *o, unsigned depth, char *err, size_t errlen)
{
    const char *p1 = memchr(s + from, '%', n - from);
    const char *p2 = p1 ? memchr(p1 + 1, '%', n - (size_t)(p1 + 1 - s)) : NULL;
    if (!p2)
        return compile_string(m, mods, s, n, err, errlen);
    if (depth >= 8) {
        seterr(err, errlen, "expand: more than 8 placeholders in one value");
        return RP_ERR_RANGE;
    }
    size_t nlen = (size_t)(p2 - p1 - 1);
    const struct ds_placeholder *ph = find_placeholder(o, p1 + 1, nlen);
    if (!ph) {
        seterr(err, errlen, "expand: placeholder %%%.*s%% has no values in the config",
               (int)(nlen > 64 ? 64 : nlen), p1 + 1);
        return RP_ERR_NOTFOUND;
    }
    size_t head = (size_t)(p1 - s), tail = n - (size_t)(p2 + 1 - s);
    for (size_t i = 0; i < ph->nvalues; i++) {
        size_t vl = strlen(ph->values[i]);
        size_t total = head + vl + tail;
        if (total > DS_MATCH_MAX_VALUE) {
            seterr(err, errlen, "expand: value longer than %u bytes", DS_MATCH_MAX_VALUE);
            return RP_ERR_RANGE;
        }
        char *buf = malloc(total + 1);
        if (!buf)
            return RP_ERR_NOMEM;
        memcpy(buf, s, head);
        memcpy(buf + head, ph->values[i], vl);
        memcpy(buf + head + vl, p2 + 1, tail);
        int rc = expand_into(m, mods, buf, total, head + vl, o, depth + 1, err, errlen);
        free(buf);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Numbers, addresses, regexes */

/* A decimal number, whole: optional sign, digits, optional fraction. No
 * exponent, no spaces, no locale. */
static bool parse_number(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false, digits = false;
    double v = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits = true)
        v = v * 10 + (s[i] - '0');
    if (i < n && s[i] == '.') {
        double scale = 0.1;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits = true, scale /= 10)
            v += (s[i] - '0') * scale;
    }
    if (!digits || i != n)
        return false;
    *out = neg ? -v : v;
    return true;
}

/* An IPv4 or IPv6 address in text into 16 bytes (IPv4 as ::ffff:a.b.c.d). */
static bool parse_ip(const char *s, size_t n, uint8_t out[16], bool *v6)
{
    char buf[INET6_ADDRSTRLEN + 1];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    uint8_t a4[4];
    if (memchr(buf, ':', n) == NULL) {
        if (inet_pton(AF_INET, buf, a4) != 1)
            return false;
        memset(out, 0, 10);
        out[10] = out[11] = 0xFF;
        memcpy(out + 12, a4, 4);
        *v6 = false;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out) != 1)
        return false;
    *v6 = true;
    return true;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;
    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

static int compile_cidr(struct ds_matcher *m, const char *s, size_t n, char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', n);
    size_t alen = slash ? (size_t)(slash - s) : n;
    bool v6;
    if (!parse_ip(s, alen, m->net, &v6)) {
        seterr(err, errlen, "cidr: '%.*s' is not an IPv4 or IPv6 network (a.b.c.d/n, x::/n)",
               (int)(n > 64 ? 64 : n), s);
        return RP_ERR_PARSE;
    }
    unsigned max = v6 ? 128 : 32, bits = max;
    if (slash) {
        double d;
        const char *p = slash + 1;
        size_t plen = n - alen - 1;
        if (plen == 0 || plen > 3 || !parse_number(p, plen, &d) || p[0] == '+' || p[0] == '-' ||
            memchr(p, '.', plen) || d > max) {
            seterr(err, errlen, "cidr: '%.*s' needs a prefix length from 0 to %u",
                   (int)(n > 64 ? 64 : n), s, max);
            return RP_ERR_PARSE;
        }
        bits = (unsigned)d;
    }
    m->v6 = v6;
    /* Stored as 128-bit: an IPv4 network covers ::ffff:0:0/96 plus its prefix. */
    m->prefix = v6 ? bits : 96 + bits;
    return 0;
}

/* Where the POSIX class name "[:alpha:]" (or PCRE2's "[.x.]", "[=x=]",
 * which it refuses) that starts at p[i] ends (the index of its ']'), or 0
 * when p[i] is a plain '[' member of the class; PCRE2's own test
 * (check_posix_syntax). */
static size_t posix_class_end(const char *p, size_t n, size_t i)
{
    if (i + 1 >= n || (p[i + 1] != ':' && p[i + 1] != '.' && p[i + 1] != '='))
        return 0;
    char term = p[i + 1];
    for (size_t k = i + 2; k < n; k++) {
        if (p[k] == '\\' && k + 1 < n && (p[k + 1] == ']' || p[k + 1] == '\\'))
            k++;
        else if ((p[k] == '[' && k + 1 < n && p[k + 1] == term) || p[k] == ']')
            return 0;
        else if (p[k] == term && k + 1 < n && p[k + 1] == ']')
            return k + 1;
    }
    return 0;
}

/* Index of the byte after the group or class that starts at p[i] ('(' or
 * '['), or 0 when it does not close or this reading cannot tell where it
 * does (a \Q...\E quote, in which brackets are plain characters). */
static size_t skip_nested(const char *p, size_t n, size_t i)
{
    unsigned depth = 0;
    bool in_class = false;
    for (; i < n; i++) {
        char c = p[i];
        if (c == '\\') {
            if (i + 1 < n && (p[i + 1] == 'Q' || p[i + 1] == 'E'))
                return 0;
            i++;
            continue;
        }
        if (in_class) {
            size_t end;
            /* "[[:alpha:]]": the inner "]" does not close the class. */
            if (c == '[' && (end = posix_class_end(p, n, i)) != 0) {
                i = end;
                continue;
            }
            if (c == ']') {
                in_class = false;
                if (depth == 0)
                    return i + 1;
            }
            continue;
        }
        if (c == '[') {
            in_class = true;
            /* A ']' first in a class (after an optional '^') is a member. */
            if (i + 1 < n && p[i + 1] == '^')
                i++;
            if (i + 1 < n && p[i + 1] == ']')
                i++;
        } else if (c == '(') {
            depth++;
        } else if (c == ')') {
            if (depth == 0)
                return 0;
            if (--depth == 0)
                return i + 1;
        }
    }
    return 0;
}

/* The longest run of plain characters a regex requires at its top level,
 * folded into m->re_lit; nothing when the pattern is beyond this reading.
 * Conservative: any doubt ends the run or gives up. */
static int regex_literal(struct ds_matcher *m, const char *p, size_t n, bool caseless)
{
    char *run = malloc(n + 1);
    if (!run)
        return RP_ERR_NOMEM;
    size_t rlen = 0, last = 0, best_len = 0;
    char *best = malloc(n + 1);
    if (!best) {
        free(run);
        return RP_ERR_NOMEM;
    }
#define END_RUN()                                                                                  \
    do {                                                                                           \
        if (rlen > best_len) {                                                                     \
            memcpy(best, run, rlen);                                                               \
            best_len = rlen;                                                                       \
        }                                                                                          \
        rlen = 0;                                                                                  \
    } while (0)
    /* (*ACCEPT) ends the match where it stands, even inside a group: what
     * follows it is not required. */
    bool give_up = memmem(p, n, "(*ACCEPT", 8) != NULL;
    for (size_t i = 0; i < n && !give_up;) {
        unsigned char c = (unsigned char)p[i];
        if (c == '|') {
            give_up = true; /* a top-level alternative needs none of it */
        } else if (c == '(' || c == '[') {
            /* Inline options such as (?x) or (?i) change what follows. */
            if (c == '(' && i + 2 < n && p[i + 1] == '?' &&
                (((p[i + 2] | 0x20) >= 'a' && (p[i + 2] | 0x20) <= 'z') || p[i + 2] == '^' ||
                 p[i + 2] == '-')) {
                give_up = true;
                break;
            }
            size_t end = skip_nested(p, n, i);
            if (end == 0) {
                give_up = true;
                break;
            }
            END_RUN();
            i = end;
        } else if (c == '*' || c == '?' || c == '+' || c == '{') {
            bool zero = c != '+';
            if (c == '{') {
                size_t k = i + 1;
                unsigned min = 0;
                bool digits = false;
                for (; k < n && p[k] >= '0' && p[k] <= '9'; k++, digits = true)
                    if (min < 1000)
                        min = min * 10 + (unsigned)(p[k] - '0');
                const char *close = memchr(p + i, '}', n - i);
                if (!close) {
                    give_up = true;
                    break;
                }
                zero = !digits || min == 0;
                i = (size_t)(close - p) + 1;
            } else {
                i++;
            }
            /* The quantified character is optional (drop it) or repeated
             * (keep one); either way the run ends. Lazy and possessive
             * marks follow. */
            if (zero && rlen)
                rlen = last;
            END_RUN();
            while (i < n && (p[i] == '?' || p[i] == '+'))
                i++;
        } else if (c == '.' || c == '^' || c == '$') {
            END_RUN();
            i++;
        } else if (c == '\\') {
            if (i + 1 >= n) {
                give_up = true;
                break;
            }
            unsigned char e = (unsigned char)p[i + 1];
            if (!((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) &&
                e < 0x80) {
                last = rlen;
                run[rlen++] = (char)fold_byte(e);
                i += 2;
            } else if (e < 0x80 && strchr("dDwWsSbBhHvVRAzZGKXnrtfae", e)) {
                END_RUN();
                i += 2;
            } else {
                give_up = true; /* escapes with arguments: \x41, \p{L}, \Q...\E */
            }
        } else if (caseless && (c == 'k' || c == 'K' || c == 's' || c == 'S' || c >= 0x80)) {
            /* Caseless UTF matching lets k match the Kelvin sign, s the long
             * s and a non-ASCII letter its other cases (é, É), which ASCII
             * folding of the value would not find. */
            END_RUN();
            i += c >= 0x80 ? char_width((const unsigned char *)p + i, n - i) : 1;
        } else {
            size_t w = char_width((const unsigned char *)p + i, n - i);
            last = rlen;
            for (size_t k = 0; k < w; k++)
                run[rlen++] = (char)fold_byte((unsigned char)p[i + k]);
            i += w;
        }
    }
    END_RUN();
#undef END_RUN
    free(run);
    if (give_up || best_len == 0) {
        free(best);
        return 0;
    }
    m->re_lit = best;
    m->re_lit_len = best_len;
    return 0;
}

static int compile_re(struct ds_matcher *m, uint32_t mods, const struct ds_match_opts *o,
                      const char *s, size_t n, char *err, size_t errlen)
{
    if (n > DS_MATCH_MAX_REGEX) {
        seterr(err, errlen, "re: pattern of %zu bytes, more than %u", n, DS_MATCH_MAX_REGEX);
        return RP_ERR_RANGE;
    }
    /* UTF mode with invalid UTF-8 allowed in subjects: field values come from
     * the machine and need not be UTF-8; \C (one byte in UTF mode) is refused
     * because it could split characters. */
    uint32_t opt = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
    if (mods & DS_MODBIT(DS_MOD_RE_I))
        opt |= PCRE2_CASELESS;
    if (mods & DS_MODBIT(DS_MOD_RE_M))
        opt |= PCRE2_MULTILINE;
    if (mods & DS_MODBIT(DS_MOD_RE_S))
        opt |= PCRE2_DOTALL;
    int code;
    PCRE2_SIZE off;
    m->re = pcre2_compile((PCRE2_SPTR)s, n, opt, &code, &off, NULL);
    if (!m->re) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
            memcpy(msg, "unknown error", 14);
        seterr(err, errlen, "re: '%.*s' does not compile at offset %zu: %s", (int)(n > 64 ? 64 : n),
               s, (size_t)off, (const char *)msg);
        return RP_ERR_PARSE;
    }
    /* Without JIT (or when it fails on this pattern) the interpreter runs
     * it; both obey the match limit. */
    if (!(o && o->re_no_jit))
        (void)pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE);
    m->md = pcre2_match_data_create_from_pattern(m->re, NULL);
    m->mctx = pcre2_match_context_create(NULL);
    if (!m->md || !m->mctx)
        return RP_ERR_NOMEM;
    pcre2_set_match_limit(m->mctx, o && o->re_match_limit ? o->re_match_limit : 100000);
    pcre2_set_depth_limit(m->mctx, o && o->re_depth_limit ? o->re_depth_limit : 10000);
    /* The interpreter's backtracking frames live on the heap (KiB). */
    pcre2_set_heap_limit(m->mctx, 4096);
    return regex_literal(m, s, n, (mods & DS_MODBIT(DS_MOD_RE_I)) != 0);
}

/* ------------------------------------------------------------------ */
/* Compiling a field */

static void matcher_free(struct ds_matcher *m)
{
    for (size_t i = 0; i < m->nalts; i++) {
        free(m->alts[i].bytes);
        free(m->alts[i].toks);
    }
    free(m->alts);
    pcre2_match_data_free(m->md);
    pcre2_match_context_free(m->mctx);
    pcre2_code_free(m->re);
    free(m->ref);
    free(m->re_lit);
    memset(m, 0, sizeof *m);
}

static int compile_one(struct ds_field *f, struct ds_matcher *m, const struct ds_mvalue *v,
                       const struct ds_match_opts *o, char *err, size_t errlen)
{
    uint32_t mods = f->mods;
    m->fold = !(mods & DS_MODBIT(DS_MOD_CASED));
    m->errors = &f->errors;
    m->neq = (mods & DS_MODBIT(DS_MOD_NEQ)) != 0;
    const char *s = v->str ? v->str : "";
    size_t n = v->str ? v->len : 0;
    if (n > DS_MATCH_MAX_VALUE) {
        seterr(err, errlen, "value of %zu bytes, more than %u", n, DS_MATCH_MAX_VALUE);
        return RP_ERR_RANGE;
    }
    if (mods & DS_MODBIT(DS_MOD_EXISTS)) {
        m->kind = K_EXISTS;
        if (v->type != DS_MV_BOOL) {
            seterr(err, errlen, "exists: needs true or false");
            return RP_ERR_PARSE;
        }
        m->exists = n == 4 && strncasecmp(s, "true", 4) == 0;
        return 0;
    }
    if (v->type == DS_MV_NULL) {
        if (mods & ~(DS_MODBIT(DS_MOD_ALL) | DS_MODBIT(DS_MOD_CASED))) {
            seterr(err, errlen, "null: takes no modifiers");
            return RP_ERR_PARSE;
        }
        m->kind = K_NULL;
        return 0;
    }
    if ((mods & DS_MODBIT(DS_MOD_NEQ)) && v->type == DS_MV_NUMBER && parse_number(s, n, &m->num)) {
        /* A number compares as a number: 0080 is 80. */
        m->kind = K_NUM;
        m->cmp = DS_MODBIT(DS_MOD_NEQ);
        return 0;
    }
    if (mods & MODS_NUM) {
        m->kind = K_NUM;
        m->cmp = mods & MODS_NUM;
        if (!parse_number(s, n, &m->num)) {
            seterr(err, errlen, "%s: '%.*s' is not a number",
                   m->cmp == DS_MODBIT(DS_MOD_LT)    ? "lt"
                   : m->cmp == DS_MODBIT(DS_MOD_LTE) ? "lte"
                   : m->cmp == DS_MODBIT(DS_MOD_GT)  ? "gt"
                                                     : "gte",
                   (int)(n > 64 ? 64 : n), s);
            return RP_ERR_PARSE;
        }
        return 0;
    }
    if (mods & DS_MODBIT(DS_MOD_CIDR)) {
        m->kind = K_CIDR;
        return compile_cidr(m, s, n, err, errlen);
    }
    if (mods & DS_MODBIT(DS_MOD_RE)) {
        m->kind = K_RE;
        return compile_re(m, mods, o, s, n, err, errlen);
    }
    if (mods & DS_MODBIT(DS_MOD_FIELDREF)) {
        m->kind = K_FIELDREF;
        m->refkind = mods & MODS_KIND;
        if (n == 0 || memchr(s, '\0', n)) {
            seterr(err, errlen, "fieldref: needs a field name");
            return RP_ERR_PARSE;
        }
        m->ref = strndup(s, n);
        return m->ref ? 0 : RP_ERR_NOMEM;
    }
    m->kind = K_STRING;
    /* base64offset only makes sense as a search: it implies contains. */
    if (mods & DS_MODBIT(DS_MOD_BASE64OFFSET))
        mods |= DS_MODBIT(DS_MOD_CONTAINS);
    if (mods & DS_MODBIT(DS_MOD_EXPAND))
        return expand_into(m, mods, s, n, 0, o, 0, err, errlen);
    return compile_string(m, mods, s, n, err, errlen);
}

int ds_field_compile(uint32_t mods, const struct ds_mvalue *values, size_t n,
                     const struct ds_match_opts *opts, struct ds_field **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    int rc = check_mods(mods, err, errlen);
    if (rc < 0)
        return rc == RP_ERR_UNSUPPORTED ? RP_ERR_PARSE : rc;
    if (n == 0) {
        seterr(err, errlen, "no value to match");
        return RP_ERR_PARSE;
    }
    if (n > DS_MATCH_MAX_VALUES) {
        seterr(err, errlen, "%zu values, more than %u", n, DS_MATCH_MAX_VALUES);
        return RP_ERR_RANGE;
    }
    struct ds_field *f = calloc(1, sizeof *f);
    if (!f || !(f->m = calloc(n, sizeof *f->m))) {
        free(f);
        return RP_ERR_NOMEM;
    }
    f->mods = mods;
    for (size_t i = 0; i < n; i++) {
        f->n = i + 1;
        rc = compile_one(f, &f->m[i], &values[i], opts, err, errlen);
        if (rc < 0) {
            if (rc == RP_ERR_NOMEM)
                seterr(err, errlen, "out of memory compiling value %zu", i + 1);
            else if (rc == RP_ERR_RANGE && err && errlen && !err[0])
                seterr(err, errlen, "value %zu: too many alternatives (max %u)", i + 1,
                       DS_MATCH_MAX_ALTS);
            ds_field_destroy(f);
            return rc;
        }
    }
    *out = f;
    return 0;
}

void ds_field_destroy(struct ds_field *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++)
        matcher_free(&f->m[i]);
    free(f->m);
    free(f);
}

/* ------------------------------------------------------------------ */
/* Matching */

/* Width of token t matched at text (n bytes left), or -1. */
static ptrdiff_t tok_match(const struct alt *a, const struct tok *t, const unsigned char *text,
                           size_t n, bool fold)
{
    switch (t->type) {
    case T_LIT:
        if (n < t->len || !bytes_eq(text, (const unsigned char *)a->bytes + t->off, t->len, fold))
            return -1;
        return (ptrdiff_t)t->len;
    case T_ONE:
        return n ? (ptrdiff_t)char_width(text, n) : -1;
    case T_DASH: {
        size_t w = dash_width(text, n);
        return w ? (ptrdiff_t)w : -1;
    }
    default:
        return -1;
    }
}

/* A glob with one backtrack point (the last star): every token matches at
 * a given place in at most one way, so moving the last star on is enough,
 * and the cost is bounded by len(text) * tokens. */
static bool alt_match(const struct alt *a, const unsigned char *text, size_t n, bool fold)
{
    const struct tok *tk = a->toks;
    size_t nt = a->ntoks;
    /* Fast paths for a literal with stars only at its ends. */
    if (nt == 0)
        return n == 0;
    if (nt == 1 && tk[0].type == T_STAR)
        return true;
    if (nt == 1 && tk[0].type == T_LIT)
        return n == tk[0].len && bytes_eq(text, (const unsigned char *)a->bytes, n, fold);
    if (nt == 2 && tk[0].type == T_LIT && tk[1].type == T_STAR)
        return n >= tk[0].len && bytes_eq(text, (const unsigned char *)a->bytes, tk[0].len, fold);
    if (nt == 2 && tk[0].type == T_STAR && tk[1].type == T_LIT)
        return n >= tk[1].len &&
               bytes_eq(text + n - tk[1].len, (const unsigned char *)a->bytes, tk[1].len, fold);
    if (nt == 3 && tk[0].type == T_STAR && tk[1].type == T_LIT && tk[2].type == T_STAR)
        return bytes_find(text, n, (const unsigned char *)a->bytes, tk[1].len, fold);

    size_t ti = 0, pi = 0, star_pi = SIZE_MAX, star_ti = 0;
    for (;;) {
        if (pi < nt && tk[pi].type == T_STAR) {
            if (pi + 1 == nt)
                return true;
            star_pi = pi++;
            star_ti = ti;
            continue;
        }
        if (pi == nt && ti == n)
            return true;
        if (pi < nt) {
            ptrdiff_t w = tok_match(a, &tk[pi], text + ti, n - ti, fold);
            if (w >= 0) {
                ti += (size_t)w;
                pi++;
                continue;
            }
        }
        if (star_pi == SIZE_MAX || star_ti >= n)
            return false;
        star_ti += char_width(text + star_ti, n - star_ti);
        ti = star_ti;
        pi = star_pi + 1;
    }
}

static bool num_match(const struct ds_matcher *m, const char *s, size_t n)
{
    double v;
    if (!parse_number(s, n, &v))
        return false;
    switch (m->cmp) {
    case DS_MODBIT(DS_MOD_LT):
        return v < m->num;
    case DS_MODBIT(DS_MOD_LTE):
        return v <= m->num;
    case DS_MODBIT(DS_MOD_GT):
        return v > m->num;
    case DS_MODBIT(DS_MOD_NEQ):
        return v == m->num; /* equality: ds_field_match inverts it */
    default:
        return v >= m->num;
    }
}

bool ds_matcher_match(const struct ds_matcher *m, const char *value, size_t len)
{
    if (m->kind == K_EXISTS)
        return m->exists == (value != NULL);
    if (m->kind == K_NULL)
        return value == NULL || len == 0;
    if (!value)
        return false;
    const unsigned char *u = (const unsigned char *)value;
    switch (m->kind) {
    case K_STRING:
        for (size_t i = 0; i < m->nalts; i++)
            if (alt_match(&m->alts[i], u, len, m->fold))
                return true;
        return false;
    case K_RE: {
        int rc = pcre2_match(m->re, (PCRE2_SPTR)value, len, 0, 0, m->md, m->mctx);
        if (rc >= 0)
            return true;
        if (rc != PCRE2_ERROR_NOMATCH)
            (*m->errors)++;
        return false;
    }
    case K_CIDR: {
        uint8_t ip[16];
        bool v6;
        if (!parse_ip(value, len, ip, &v6))
            return false;
        return prefix_eq(ip, m->net, m->prefix);
    }
    case K_NUM:
        return num_match(m, value, len);
    default:
        return false; /* K_FIELDREF needs the other field: ds_field_match_ref */
    }
}

static bool ref_match(const struct ds_matcher *m, const char *v, size_t n, const char *r, size_t rn)
{
    if (!v || !r)
        return false;
    const unsigned char *tv = (const unsigned char *)v, *tr = (const unsigned char *)r;
    /* The other field's value is folded on the fly: no copy on the hot path. */
    if (rn > n)
        return false;
    size_t start;
    switch (m->refkind) {
    case DS_MODBIT(DS_MOD_STARTSWITH):
        start = 0;
        break;
    case DS_MODBIT(DS_MOD_ENDSWITH):
        start = n - rn;
        break;
    case DS_MODBIT(DS_MOD_CONTAINS):
        return find_linear(tv, n, tr, rn, m->fold);
    default:
        if (rn != n)
            return false;
        start = 0;
    }
    for (size_t k = 0; k < rn; k++)
        if (m->fold ? fold_byte(tv[start + k]) != fold_byte(tr[k]) : tv[start + k] != tr[k])
            return false;
    return true;
}

bool ds_field_match(struct ds_field *f, const char *value, size_t len)
{
    if (f->mods & DS_MODBIT(DS_MOD_FIELDREF))
        return false;
    if (f->mods & DS_MODBIT(DS_MOD_NEQ)) {
        if (!value)
            return false;
        for (size_t i = 0; i < f->n; i++)
            if (ds_matcher_match(&f->m[i], value, len))
                return false;
        return true;
    }
    bool all = (f->mods & DS_MODBIT(DS_MOD_ALL)) != 0;
    for (size_t i = 0; i < f->n; i++) {
        bool hit = ds_matcher_match(&f->m[i], value, len);
        if (hit != all)
            return hit; /* any: the first hit; all: the first miss */
    }
    return all;
}

bool ds_field_match_ref(struct ds_field *f, const char *value, size_t len, const char *const *refs,
                        const size_t *refs_len)
{
    if (!(f->mods & DS_MODBIT(DS_MOD_FIELDREF)))
        return ds_field_match(f, value, len);
    if (f->mods & DS_MODBIT(DS_MOD_NEQ)) {
        if (!value)
            return false;
        for (size_t i = 0; i < f->n; i++)
            if (ref_match(&f->m[i], value, len, refs[i], refs_len[i]))
                return false;
        return true;
    }
    bool all = (f->mods & DS_MODBIT(DS_MOD_ALL)) != 0;
    for (size_t i = 0; i < f->n; i++) {
        bool hit = ref_match(&f->m[i], value, len, refs[i], refs_len[i]);
        if (hit != all)
            return hit;
    }
    return all;
}

size_t ds_field_count(const struct ds_field *f)
{
    return f->n;
}

const struct ds_matcher *ds_field_matcher(const struct ds_field *f, size_t i)
{
    return i < f->n ? &f->m[i] : NULL;
}

uint32_t ds_field_mods(const struct ds_field *f)
{
    return f->mods;
}

const char *ds_field_ref_name(const struct ds_field *f, size_t i)
{
    return i < f->n ? f->m[i].ref : NULL;
}

uint64_t ds_field_errors(const struct ds_field *f)
{
    return f->errors;
}

size_t ds_field_memory(const struct ds_field *f)
{
    size_t n = sizeof(*f) + f->n * sizeof(*f->m);
    for (size_t i = 0; i < f->n; i++) {
        const struct ds_matcher *m = &f->m[i];
        n += m->nalts * sizeof(*m->alts);
        for (size_t a = 0; a < m->nalts; a++)
            n += m->alts[a].nbytes + m->alts[a].ntoks * sizeof(struct tok);
        if (m->re) {
            size_t sz = 0;
            if (pcre2_pattern_info(m->re, PCRE2_INFO_SIZE, &sz) == 0)
                n += sz;
            sz = 0;
            if (pcre2_pattern_info(m->re, PCRE2_INFO_JITSIZE, &sz) == 0)
                n += sz;
        }
        n += m->re_lit_len + (m->ref ? strlen(m->ref) + 1 : 0);
    }
    return n;
}

/* ------------------------------------------------------------------ */
/* Literals for the index */

/* The literal an alternative requires, or false when it has none. */
static bool alt_literal(const struct alt *a, struct ds_literal *lit)
{
    const struct tok *tk = a->toks;
    size_t nt = a->ntoks;
    if (nt == 0) {
        *lit =
            (struct ds_literal){.bytes = a->bytes ? a->bytes : "", .len = 0, .kind = DS_LIT_EXACT};
        return true;
    }
    bool lead = tk[0].type == T_STAR, trail = tk[nt - 1].type == T_STAR;
    size_t inner = nt - lead - (trail && nt > 1);
    if (inner == 1 && tk[lead].type == T_LIT) {
        const struct tok *t = &tk[lead];
        lit->bytes = a->bytes + t->off;
        lit->len = t->len;
        lit->kind = lead && trail ? DS_LIT_CONTAINS
                    : lead        ? DS_LIT_SUFFIX
                    : trail       ? DS_LIT_PREFIX
                                  : DS_LIT_EXACT;
        return true;
    }
    const struct tok *best = NULL;
    for (size_t i = 0; i < nt; i++)
        if (tk[i].type == T_LIT && (!best || tk[i].len > best->len))
            best = &tk[i];
    if (!best)
        return false;
    *lit = (struct ds_literal){
        .bytes = a->bytes + best->off, .len = best->len, .kind = DS_LIT_CONTAINS};
    return true;
}

size_t ds_matcher_literals(const struct ds_matcher *m, struct ds_literal *out, size_t cap)
{
    if (m->neq)
        return 0;
    if (m->kind == K_RE) {
        if (!m->re_lit)
            return 0;
        if (cap)
            out[0] = (struct ds_literal){
                .bytes = m->re_lit, .len = m->re_lit_len, .kind = DS_LIT_CONTAINS, .folded = true};
        return 1;
    }
    if (m->kind != K_STRING)
        return 0;
    struct ds_literal lit;
    for (size_t i = 0; i < m->nalts; i++)
        if (!alt_literal(&m->alts[i], &lit))
            return 0; /* one alternative without a literal: nothing is required */
    for (size_t i = 0; i < m->nalts && i < cap; i++) {
        (void)alt_literal(&m->alts[i], &out[i]);
        out[i].folded = m->fold;
    }
    return m->nalts;
}
