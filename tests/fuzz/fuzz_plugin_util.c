/*
 * tests/fuzz/fuzz_plugin_util.c - libFuzzer target for the config scanner of
 * the SDK's header-only helpers (sdk/include/rampart/plugin_util.h), which
 * every plugin runs over the JSON text host->config_get hands it, and which
 * third-party plugins may run over text of their own.
 *
 * Two parts per input:
 *
 * 1. The input bytes are the JSON text, in a heap buffer of exactly their
 *    length (no NUL after it, so ASan catches any read past len). Every
 *    getter is called for a few fixed keys and for a key taken from the
 *    input, and the results must agree with each other: a text that
 *    rp_util_config_valid refuses fails every getter with the same error;
 *    a string that comes back fits its buffer, is NUL-terminated and has no
 *    NUL inside; a key holds one type only; an integer read both signed and
 *    unsigned is the same number; an array's iterator hands out exactly
 *    count items, then RP_ERR_NOTFOUND.
 *
 *    Every proper prefix of the text is scanned too, each in a buffer of
 *    its exact length, since a cut right after a token is where a scanner
 *    reads one byte too far.
 *
 * 2. The input bytes are a string value: encoded into a JSON document the
 *    way an encoder may (escapes short and \uXXXX, surrogate pairs for
 *    4-byte UTF-8, raw bytes otherwise, chosen by the input itself), placed
 *    next to a decoy nested object and array holding the same key, then
 *    read back. The value must come back byte for byte, or be refused with
 *    RP_ERR_UNSUPPORTED exactly when it holds a NUL.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: sdk/include
 */
#include <rampart/plugin_util_json.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_plugin_util: check failed at line %d: %s\n", __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static int is_getter_rc(int rc)
{
    return rc == 0 || rc == RP_ERR_NOTFOUND || rc == RP_ERR_TYPE || rc == RP_ERR_RANGE ||
           rc == RP_ERR_PARSE || rc == RP_ERR_FULL || rc == RP_ERR_UNSUPPORTED;
}

/* A string result: NUL-terminated at *n inside cap, no NUL before. */
static void check_str(const char *buf, size_t cap, size_t n)
{
    CHECK(n < cap);
    CHECK(buf[n] == '\0');
    CHECK(memchr(buf, '\0', n) == NULL);
}

static void probe_key(const char *j, size_t len, const char *key, int valid)
{
    uint64_t u = 0;
    int64_t i = 0;
    int b = 0;
    char small[8], big[512];
    size_t n = 0;
    rp_util_config_iter it;

    int ru = rp_util_config_uint(j, len, key, 11, &u);
    int ri = rp_util_config_int(j, len, key, -11, &i);
    int rb = rp_util_config_bool(j, len, key, 7, &b);
    int rs = rp_util_config_str(j, len, key, "dflt", big, sizeof big, &n);
    int ra = rp_util_config_array(j, len, key, &it);
    int rs8;
    CHECK(is_getter_rc(ru) && is_getter_rc(ri) && is_getter_rc(rb) && is_getter_rc(rs) &&
          is_getter_rc(ra));
    if (rs == 0)
        check_str(big, sizeof big, n);
    else
        CHECK(strcmp(big, "dflt") == 0 && n == 4);
    rs8 = rp_util_config_str(j, len, key, NULL, small, sizeof small, &n);
    if (rs8 == 0) {
        check_str(small, sizeof small, n);
        CHECK(rs == 0 && strcmp(small, big) == 0);
    } else {
        CHECK(small[0] == '\0' && n == 0);
        CHECK(rs8 == rs || (rs8 == RP_ERR_FULL && (rs == 0 || rs == RP_ERR_UNSUPPORTED)));
    }
    if (ru != 0)
        CHECK(u == 11);
    if (ri != 0)
        CHECK(i == -11);
    if (rb != 0)
        CHECK(b == 7);
    else
        CHECK(b == 0 || b == 1);

    if (valid != 0) {
        /* An invalid text fails every call alike, whatever the key. */
        CHECK(ru == valid && ri == valid && rb == valid && rs == valid && ra == valid);
        CHECK(rp_util_config_next_str(&it, small, sizeof small, &n) == RP_ERR_NOTFOUND);
        return;
    }
    CHECK(ru != RP_ERR_PARSE && ri != RP_ERR_PARSE && rb != RP_ERR_PARSE && rs != RP_ERR_PARSE &&
          ra != RP_ERR_PARSE);
    /* Missing for one getter: missing for all. */
    CHECK((ru == RP_ERR_NOTFOUND) == (rs == RP_ERR_NOTFOUND));
    CHECK((ru == RP_ERR_NOTFOUND) == (rb == RP_ERR_NOTFOUND));
    CHECK((ru == RP_ERR_NOTFOUND) == (ra == RP_ERR_NOTFOUND));
    CHECK((ru == RP_ERR_NOTFOUND) == (ri == RP_ERR_NOTFOUND));
    /* One value, one type. */
    CHECK((ru == 0 || ru == RP_ERR_RANGE) + (rb == 0) +
              (rs == 0 || rs == RP_ERR_FULL || rs == RP_ERR_UNSUPPORTED) + (ra == 0) <=
          1);
    /* The two integer readings agree where both fit. */
    if (ru == 0 && ri == 0)
        CHECK((uint64_t)i == u);
    if (ru == 0 && u <= (uint64_t)INT64_MAX)
        CHECK(ri == 0);
    if (ri == 0 && i >= 0)
        CHECK(ru == 0);
    if (ri == 0 && i < 0)
        CHECK(ru == RP_ERR_RANGE);
    if (ra == 0) {
        uint32_t seen = 0;
        int r;
        while ((r = rp_util_config_next_str(&it, big, sizeof big, &n)) != RP_ERR_NOTFOUND) {
            CHECK(r == 0 || r == RP_ERR_TYPE || r == RP_ERR_FULL || r == RP_ERR_UNSUPPORTED);
            CHECK(it.index == seen);
            if (r == 0)
                check_str(big, sizeof big, n);
            else
                CHECK(big[0] == '\0' && n == 0);
            seen++;
            CHECK(seen <= it.count);
        }
        CHECK(seen == it.count);
    } else {
        CHECK(rp_util_config_next_str(&it, big, sizeof big, &n) == RP_ERR_NOTFOUND);
    }
}

/* Part 1: the input is the JSON text. */
static void fuzz_text(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {"", "a", "mode", "paths", "count", "k", "\xc3\xa9"};
    char *j = calloc(1, size ? size : 1); /* zeroed: gcc -O3 cannot see that len 0 reads nothing */
    char key[16];
    size_t klen = 0;
    int valid;
    CHECK(j != NULL);
    if (size)
        memcpy(j, data, size);
    valid = rp_util_config_valid(j, size);
    CHECK(valid == 0 || valid == RP_ERR_PARSE || valid == RP_ERR_RANGE);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        probe_key(j, size, keys[k], valid);
    /* A key from the input: the bytes after its first quote, up to the next
     * quote or backslash, so keys that really occur get hit. */
    const uint8_t *q = size ? memchr(data, '"', size) : NULL;
    if (q) {
        for (const uint8_t *p = q + 1; p < data + size && klen < sizeof key - 1; p++) {
            if (*p == '"' || *p == '\\' || *p == '\0')
                break;
            key[klen++] = (char)*p;
        }
    }
    key[klen] = '\0';
    probe_key(j, size, key, valid);
    free(j);
}

/* Length of a valid UTF-8 sequence at p (at most left bytes) and its code
 * point, or 0. */
static size_t utf8_seq(const uint8_t *p, size_t left, uint32_t *cp)
{
    uint32_t c;
    size_t n, i;
    if (p[0] < 0x80)
        return 0;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) {
        n = 2;
        c = p[0] & 0x1Fu;
    } else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        n = 3;
        c = p[0] & 0x0Fu;
    } else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        n = 4;
        c = p[0] & 0x07u;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (i = 1; i < n; i++) {
        if ((p[i] & 0xC0u) != 0x80u)
            return 0;
        c = (c << 6) | (p[i] & 0x3Fu);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

static size_t put_u(char *out, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    out[0] = '\\';
    out[1] = 'u';
    out[2] = hex[(v >> 12) & 0xF];
    out[3] = hex[(v >> 8) & 0xF];
    out[4] = hex[(v >> 4) & 0xF];
    out[5] = hex[v & 0xF];
    return 6;
}

/* Encodes s as the body of a JSON string; mode bits pick among the valid
 * encodings of each character. Returns the length written (out has room for
 * 12 bytes per input byte). */
static size_t encode(const uint8_t *s, size_t n, char *out, uint8_t mode)
{
    size_t o = 0, i = 0;
    while (i < n) {
        uint32_t cp = 0;
        size_t seq = utf8_seq(s + i, n - i, &cp);
        uint8_t c = s[i];
        int alt = (mode >> (i % 8)) & 1;
        if (seq && alt) {
            if (cp >= 0x10000) {
                o += put_u(out + o, 0xD800 + ((cp - 0x10000) >> 10));
                o += put_u(out + o, 0xDC00 + ((cp - 0x10000) & 0x3FF));
            } else {
                o += put_u(out + o, cp);
            }
            i += seq;
            continue;
        }
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c == '/' && alt) {
            out[o++] = '\\';
            out[o++] = '/';
        } else if (c < 0x20) {
            const char *short_esc = NULL;
            switch (c) {
            case '\b':
                short_esc = "\\b";
                break;
            case '\f':
                short_esc = "\\f";
                break;
            case '\n':
                short_esc = "\\n";
                break;
            case '\r':
                short_esc = "\\r";
                break;
            case '\t':
                short_esc = "\\t";
                break;
            default:
                break;
            }
            if (short_esc && !alt) {
                out[o++] = short_esc[0];
                out[o++] = short_esc[1];
            } else {
                o += put_u(out + o, c);
            }
        } else if (c < 0x80 && alt) {
            o += put_u(out + o, c);
        } else {
            out[o++] = (char)c;
        }
        i++;
    }
    return o;
}

/* Part 2: the input is a string value. */
static void fuzz_roundtrip(const uint8_t *data, size_t size)
{
    uint8_t mode = size ? data[0] : 0;
    char *doc = malloc(64 + 3 * (12 * size + 2));
    char *buf = malloc(size + 1);
    size_t len = 0, n = 0, body;
    rp_util_config_iter it;
    int rc, has_nul = size && memchr(data, 0, size) != NULL;
    CHECK(doc && buf);
    /* {"o":{"k":"<decoy>"},"a":["<v>","k"],"k":"<v>"} with the same value
     * everywhere: only the top-level "k" may answer. */
    memcpy(doc + len, "{\"o\":{\"k\":\"x", 12);
    len += 12;
    body = encode(data, size, doc + len, (uint8_t)~mode);
    len += body;
    memcpy(doc + len, "\"},\"a\":[\"", 9);
    len += 9;
    len += encode(data, size, doc + len, mode);
    memcpy(doc + len, "\",\"k\"],\"k\":\"", 12);
    len += 12;
    len += encode(data, size, doc + len, (uint8_t)(mode ^ 0x5A));
    memcpy(doc + len, "\"}", 2);
    len += 2;
    char *j = malloc(len);
    CHECK(j != NULL);
    memcpy(j, doc, len);

    CHECK(rp_util_config_valid(j, len) == 0);
    rc = rp_util_config_str(j, len, "k", NULL, buf, size + 1, &n);
    if (has_nul) {
        CHECK(rc == RP_ERR_UNSUPPORTED);
    } else {
        CHECK(rc == 0);
        CHECK(n == size && memcmp(buf, data, size) == 0 && buf[n] == '\0');
        /* One byte less room: refused, never cut. */
        if (size > 0)
            CHECK(rp_util_config_str(j, len, "k", NULL, buf, size, &n) == RP_ERR_FULL);
    }
    CHECK(rp_util_config_array(j, len, "a", &it) == 0 && it.count == 2);
    rc = rp_util_config_next_str(&it, buf, size + 1, &n);
    if (has_nul) {
        CHECK(rc == RP_ERR_UNSUPPORTED);
    } else {
        CHECK(rc == 0 && n == size && memcmp(buf, data, size) == 0);
    }
    CHECK(rp_util_config_next_str(&it, buf, size + 1, &n) == (size >= 1 ? 0 : RP_ERR_FULL));
    CHECK(rp_util_config_next_str(&it, buf, size + 1, &n) == RP_ERR_NOTFOUND);
    CHECK(rp_util_config_uint(j, len, "k", 0, NULL) == RP_ERR_TYPE);
    CHECK(rp_util_config_array(j, len, "o", &it) == RP_ERR_TYPE);
    free(j);
    free(doc);
    free(buf);
}

/* Every proper prefix of the text, each in a buffer of exactly its length:
 * a cut right after any token is where a scanner reads one byte too far. */
static void fuzz_prefixes(const uint8_t *data, size_t size, int valid)
{
    for (size_t cut = 0; cut < size; cut++) {
        char *j = malloc(cut ? cut : 1);
        size_t k;
        int rc;
        CHECK(j != NULL);
        if (cut)
            memcpy(j, data, cut);
        rc = rp_util_config_valid(j, cut);
        CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_RANGE);
        if (rc == 0) {
            /* A whole object: the full text is valid exactly when the rest
             * is whitespace. */
            int rest_ws = 1;
            for (k = cut; k < size; k++)
                if (data[k] != ' ' && data[k] != '\t' && data[k] != '\n' && data[k] != '\r')
                    rest_ws = 0;
            CHECK((valid == 0) == rest_ws);
        }
        free(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_text(data, size);
    if (size <= 1024) {
        char *j = calloc(1, size ? size : 1); /* zeroed, as in fuzz_text */
        CHECK(j != NULL);
        if (size)
            memcpy(j, data, size);
        fuzz_prefixes(data, size, rp_util_config_valid(j, size));
        free(j);
    }
    if (size <= 4096)
        fuzz_roundtrip(data, size);
    return 0;
}
