/*
 * tests/unit/test_sigma_ac.c - detector_sigma's Aho-Corasick automaton
 * (plugins/detector_sigma/ac.c): overlapping and repeated patterns, the
 * ASCII-only folding, bytes >= 0x80 and NUL, where hits end (what the index
 * tells prefixes, suffixes and exact values by), stopping from the callback,
 * the caps, the memory of a rule-sized set, and a randomized comparison with
 * a naive search over small alphabets, under dense and sparse rows, and no
 * allocation per scan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ac.h"

#include <rampart/plugin.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_count.h"

#define HITS_MAX 8192

struct hit {
    uint32_t id;
    size_t end, len;
};

struct hits {
    struct hit h[HITS_MAX];
    size_t n;
    size_t stop_after; /* 0: never stop */
    int stop_rc;
};

static int collect(void *ctx, uint32_t id, size_t end, size_t len)
{
    struct hits *hs = ctx;
    assert_true(hs->n < HITS_MAX);
    hs->h[hs->n++] = (struct hit){id, end, len};
    return hs->stop_after && hs->n == hs->stop_after ? hs->stop_rc : 0;
}

/* An automaton of the NUL-terminated patterns, ids 0, 1, ... */
static struct ds_ac *make(const char *const *pats, size_t n)
{
    struct ds_ac *ac = NULL;
    assert_int_equal(ds_ac_create(&ac), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(ds_ac_add(ac, pats[i], strlen(pats[i]), (uint32_t)i), 0);
    assert_int_equal(ds_ac_build(ac), 0);
    return ac;
}

static void scan(const struct ds_ac *ac, const char *text, size_t len, struct hits *hs)
{
    hs->n = 0;
    assert_int_equal(ds_ac_scan(ac, text, len, collect, hs), 0);
}

static void expect(const struct hits *hs, size_t i, uint32_t id, size_t end, size_t len)
{
    assert_true(i < hs->n);
    assert_int_equal(hs->h[i].id, id);
    assert_int_equal(hs->h[i].end, end);
    assert_int_equal(hs->h[i].len, len);
}

static struct hits hs;

static void test_overlaps(void **state)
{
    (void)state;
    const char *pats[] = {"he", "she", "his", "hers"};
    struct ds_ac *ac = make(pats, 4);
    assert_int_equal(ds_ac_pattern_count(ac), 4);
    scan(ac, "ushers", 6, &hs);
    assert_int_equal(hs.n, 3);
    expect(&hs, 0, 1, 4, 3); /* she, then the shorter he ending with it */
    expect(&hs, 1, 0, 4, 2);
    expect(&hs, 2, 3, 6, 4); /* hers */
    scan(ac, "this hishers", 12, &hs);
    assert_int_equal(hs.n, 5);
    expect(&hs, 0, 2, 4, 3);  /* t[his] */
    expect(&hs, 1, 2, 8, 3);  /* [his]hers */
    expect(&hs, 2, 1, 10, 3); /* hi[she]rs */
    expect(&hs, 3, 0, 10, 2);
    expect(&hs, 4, 3, 12, 4);
    scan(ac, "h e s", 5, &hs);
    assert_int_equal(hs.n, 0);
    ds_ac_destroy(ac);
}

static void test_repeated_and_short(void **state)
{
    (void)state;
    struct ds_ac *ac = NULL;
    assert_int_equal(ds_ac_create(&ac), 0);
    assert_int_equal(ds_ac_add(ac, "abc", 3, 5), 0);
    assert_int_equal(ds_ac_add(ac, "ABC", 3, 9), 0); /* the same pattern once folded */
    assert_int_equal(ds_ac_add(ac, "abc", 3, 5), 0); /* the same id again: reported twice */
    assert_int_equal(ds_ac_add(ac, "c", 1, 1), 0);
    assert_int_equal(ds_ac_add(ac, "x", 1, 2), 0);
    assert_int_equal(ds_ac_build(ac), 0);
    assert_int_equal(ds_ac_pattern_count(ac), 5);
    assert_int_equal(ds_ac_state_count(ac), 6); /* root, a, ab, abc, c, x */
    scan(ac, "xabcabc", 7, &hs);
    assert_int_equal(hs.n, 9);
    expect(&hs, 0, 2, 1, 1);
    expect(&hs, 1, 5, 4, 3);
    expect(&hs, 2, 9, 4, 3);
    expect(&hs, 3, 5, 4, 3);
    expect(&hs, 4, 1, 4, 1);
    expect(&hs, 8, 1, 7, 1);
    scan(ac, "cc", 2, &hs);
    assert_int_equal(hs.n, 2);
    expect(&hs, 1, 1, 2, 1);
    ds_ac_destroy(ac);
}

static void test_folding(void **state)
{
    (void)state;
    const char *pats[] = {"PowerShell", "\xc3\xa9t\xc3\xa9", "\xe1", "[", "@", "z"};
    struct ds_ac *ac = make(pats, 6);
    scan(ac, "C:\\POWERSHELL.EXE", 17, &hs);
    assert_int_equal(hs.n, 1);
    expect(&hs, 0, 0, 13, 10);
    scan(ac, "powershell", 10, &hs);
    assert_int_equal(hs.n, 1);
    /* Only A-Z fold: not UTF-8 (É is c3 89), not Latin-1 (c1 is Á), not
     * the bytes next to the letters ({ ` are [ @ plus 0x20). */
    scan(ac, "\xc3\x89T\xc3\x89 \xc1 { ` Z", 13, &hs);
    assert_int_equal(hs.n, 1);
    expect(&hs, 0, 5, 13, 1); /* Z is z */
    scan(ac, "\xc3\xa9T\xc3\xa9 \xe1 [ @", 11, &hs);
    assert_int_equal(hs.n, 4);
    expect(&hs, 0, 1, 5, 5);
    expect(&hs, 1, 2, 7, 1);
    expect(&hs, 2, 3, 9, 1);
    expect(&hs, 3, 4, 11, 1);
    ds_ac_destroy(ac);
}

static void test_nul_bytes(void **state)
{
    (void)state;
    struct ds_ac *ac = NULL;
    assert_int_equal(ds_ac_create(&ac), 0);
    assert_int_equal(ds_ac_add(ac, "a\0b", 3, 1), 0);
    assert_int_equal(ds_ac_add(ac, "\0", 1, 2), 0);
    assert_int_equal(ds_ac_build(ac), 0);
    scan(ac, "xA\0By\0", 6, &hs);
    assert_int_equal(hs.n, 3);
    expect(&hs, 0, 2, 3, 1);
    expect(&hs, 1, 1, 4, 3);
    expect(&hs, 2, 2, 6, 1);
    scan(ac, "ab a0b", 6, &hs);
    assert_int_equal(hs.n, 0);
    ds_ac_destroy(ac);
}

/* What the index reads from a hit: a prefix ends at its own length, a
 * suffix at the value's end, an exact value is both. */
enum { ANYWHERE = 0, PREFIX = 1, SUFFIX = 2, EXACT = 3 };
static int where(const struct hit *h, size_t text_len)
{
    return (h->end == h->len ? PREFIX : 0) | (h->end == text_len ? SUFFIX : 0);
}

static void test_prefix_suffix_exact(void **state)
{
    (void)state;
    const char *pats[] = {"/usr/bin/", ".sh", "/bin/sh"};
    struct ds_ac *ac = make(pats, 3);
    const char *t = "/usr/bin/x.sh";
    scan(ac, t, strlen(t), &hs);
    assert_int_equal(hs.n, 2);
    assert_int_equal(where(&hs.h[0], strlen(t)), PREFIX);
    assert_int_equal(where(&hs.h[1], strlen(t)), SUFFIX);
    t = "/bin/sh";
    scan(ac, t, strlen(t), &hs);
    assert_int_equal(hs.n, 1);
    expect(&hs, 0, 2, 7, 7);
    assert_int_equal(where(&hs.h[0], strlen(t)), EXACT);
    t = "/usr/bin/sh -c id";
    scan(ac, t, strlen(t), &hs);
    assert_int_equal(hs.n, 2);
    expect(&hs, 0, 0, 9, 9);
    expect(&hs, 1, 2, 11, 7);
    assert_int_equal(where(&hs.h[1], strlen(t)), ANYWHERE);
    ds_ac_destroy(ac);
}

static void test_stop(void **state)
{
    (void)state;
    const char *pats[] = {"a", "aa"};
    struct ds_ac *ac = make(pats, 2);
    hs.n = 0;
    hs.stop_after = 2;
    hs.stop_rc = 42;
    assert_int_equal(ds_ac_scan(ac, "aaaa", 4, collect, &hs), 42);
    assert_int_equal(hs.n, 2);
    hs.n = 0;
    hs.stop_after = 3;
    hs.stop_rc = RP_ERR_FULL;
    assert_int_equal(ds_ac_scan(ac, "aaaa", 4, collect, &hs), RP_ERR_FULL);
    assert_int_equal(hs.n, 3);
    hs.stop_after = 0;
    ds_ac_destroy(ac);
}

static void test_errors(void **state)
{
    (void)state;
    assert_int_equal(ds_ac_create(NULL), RP_ERR_INVAL);
    ds_ac_destroy(NULL);
    struct ds_ac *ac = NULL;
    assert_int_equal(ds_ac_create(&ac), 0);
    assert_int_equal(ds_ac_add(ac, "x", 0, 1), RP_ERR_INVAL);
    assert_int_equal(ds_ac_add(ac, NULL, 1, 1), RP_ERR_INVAL);
    char *big = malloc(DS_AC_PATTERN_MAX + 1);
    assert_non_null(big);
    memset(big, 'q', DS_AC_PATTERN_MAX + 1);
    assert_int_equal(ds_ac_add(ac, big, DS_AC_PATTERN_MAX + 1, 1), RP_ERR_RANGE);
    assert_int_equal(ds_ac_add(ac, big, DS_AC_PATTERN_MAX, 1), 0);
    assert_int_equal(ds_ac_scan(ac, "q", 1, collect, &hs), RP_ERR_INVAL); /* not built */
    assert_int_equal(ds_ac_build(ac), 0);
    assert_int_equal(ds_ac_add(ac, "x", 1, 1), RP_ERR_BUSY);
    assert_int_equal(ds_ac_build(ac), RP_ERR_BUSY);
    assert_int_equal(ds_ac_set_dense_max(ac, 0), RP_ERR_BUSY);
    scan(ac, big, DS_AC_PATTERN_MAX, &hs);
    assert_int_equal(hs.n, 1);
    expect(&hs, 0, 1, DS_AC_PATTERN_MAX, DS_AC_PATTERN_MAX);
    free(big);
    ds_ac_destroy(ac);

    /* No pattern: builds, never reports, whatever the bytes. */
    assert_int_equal(ds_ac_create(&ac), 0);
    assert_int_equal(ds_ac_build(ac), 0);
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    scan(ac, all, sizeof(all), &hs);
    assert_int_equal(hs.n, 0);
    scan(ac, NULL, 0, &hs);
    assert_int_equal(ds_ac_pattern_count(ac), 0);
    assert_int_equal(ds_ac_state_count(ac), 1);
    ds_ac_destroy(ac);
}

static int count_hits(void *ctx, uint32_t id, size_t end, size_t len)
{
    (void)end;
    (void)len;
    size_t *n = ctx;
    (*n)++;
    return id == *n - 1 ? 0 : 1; /* ids come in the order added */
}

static void test_caps(void **state)
{
    (void)state;
    /* Patterns: the cap counts every add, repeats included. */
    struct ds_ac *ac = NULL;
    assert_int_equal(ds_ac_create(&ac), 0);
    for (uint32_t i = 0; i < DS_AC_PATTERNS_MAX; i++)
        assert_int_equal(ds_ac_add(ac, "a", 1, i), 0);
    assert_int_equal(ds_ac_add(ac, "b", 1, 0), RP_ERR_RANGE);
    assert_int_equal(ds_ac_build(ac), 0);
    size_t n = 0;
    assert_int_equal(ds_ac_scan(ac, "A", 1, count_hits, &n), 0);
    assert_int_equal(n, DS_AC_PATTERNS_MAX);
    ds_ac_destroy(ac);

    /* States: the pattern that would pass the cap is refused whole, and one
     * that needs no new state still fits. */
    assert_int_equal(ds_ac_create(&ac), 0);
    char *p = malloc(DS_AC_PATTERN_MAX);
    assert_non_null(p);
    memset(p, 'x', DS_AC_PATTERN_MAX);
    int rc = 0;
    uint32_t added = 0;
    for (uint32_t i = 0; rc == 0; i++) {
        p[0] = (char)(i & 0xff);
        p[1] = (char)(i >> 8);
        uint32_t before = ds_ac_state_count(ac);
        rc = ds_ac_add(ac, p, DS_AC_PATTERN_MAX, i);
        if (rc == 0)
            added++;
        else
            assert_int_equal(ds_ac_state_count(ac), before);
    }
    assert_int_equal(rc, RP_ERR_RANGE);
    assert_true(added >= DS_AC_STATES_MAX / DS_AC_PATTERN_MAX - 1);
    assert_true(ds_ac_state_count(ac) <= DS_AC_STATES_MAX);
    assert_true(ds_ac_state_count(ac) > DS_AC_STATES_MAX - DS_AC_PATTERN_MAX);
    p[0] = 0;
    p[1] = 0;
    assert_int_equal(ds_ac_add(ac, p, 100, 7), 0);
    free(p);
    ds_ac_destroy(ac);
}

/* xorshift32: a fixed sequence, so a failure is reproduced by rerunning. */
static uint32_t rnd_state = 0x5eed1234u;
static uint32_t rnd(uint32_t n)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 17;
    rnd_state ^= rnd_state << 5;
    return rnd_state % n;
}

/* A few thousand literals of about 15 bytes from the bytes paths and
 * command lines use, shaped like a field's share of a big rule set: its
 * automaton stays well under the 4 MB a dense table over all of them would
 * pass several times over. */
static void test_memory(void **state)
{
    (void)state;
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789/._- \\:=\"'$|&;%*@~,+()[]{}";
    struct ds_ac *ac = NULL;
    assert_int_equal(ds_ac_create(&ac), 0);
    rnd_state = 0x5eed1234u;
    size_t bytes = 0;
    char p[32];
    for (uint32_t i = 0; i < 3000; i++) {
        size_t len = 5 + rnd(21);
        for (size_t k = 0; k < len; k++)
            p[k] = alpha[rnd(sizeof(alpha) - 1)];
        bytes += len;
        assert_int_equal(ds_ac_add(ac, p, len, i), 0);
    }
    assert_int_equal(ds_ac_build(ac), 0);
    size_t mem = ds_ac_memory(ac);
    print_message("3000 patterns, %zu bytes: %u states, %zu bytes held\n", bytes,
                  ds_ac_state_count(ac), mem);
    assert_true(mem <= 2u * 1024 * 1024);
    /* Every pattern is still found, at the end of its own text. */
    rnd_state = 0x5eed1234u;
    for (uint32_t i = 0; i < 3000; i++) {
        size_t len = 5 + rnd(21);
        for (size_t k = 0; k < len; k++)
            p[k] = alpha[rnd(sizeof(alpha) - 1)];
        scan(ac, p, len, &hs);
        assert_true(hs.n >= 1);
        int found = 0;
        for (size_t k = 0; k < hs.n; k++)
            found |= hs.h[k].id == i && hs.h[k].end == len && hs.h[k].len == len;
        assert_true(found);
    }
    ds_ac_destroy(ac);
}

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* The naive search, in the order ac.h promises: by end, longest first, the
 * ids of one pattern in the order added. */
static size_t naive(char pats[][8], const size_t *lens, size_t np, const char *t, size_t n,
                    struct hit *out)
{
    size_t k = 0;
    for (size_t end = 1; end <= n; end++)
        for (size_t len = 8; len >= 1; len--)
            for (size_t p = 0; p < np; p++) {
                if (lens[p] != len || len > end)
                    continue;
                size_t j = 0;
                while (j < len &&
                       fold((unsigned char)t[end - len + j]) == fold((unsigned char)pats[p][j]))
                    j++;
                if (j == len)
                    out[k++] = (struct hit){(uint32_t)p, end, len};
            }
    return k;
}

static void test_random_vs_naive(void **state)
{
    (void)state;
    static const char *const alphabets[] = {"ab", "abc", "aA", "a\0\xff", "abAB\x80"};
    static const size_t alpha_lens[] = {2, 3, 2, 3, 5};
    static const size_t budgets[] = {0, 64, DS_AC_DENSE_DEFAULT};
    static struct hit want[HITS_MAX];
    rnd_state = 0xac0ffee1u;
    for (int round = 0; round < 3000; round++) {
        size_t a = rnd(5);
        const char *alpha = alphabets[a];
        size_t np = 1 + rnd(24), n = rnd(121);
        char pats[24][8];
        size_t lens[24];
        char text[128];
        struct ds_ac *ac = NULL;
        assert_int_equal(ds_ac_create(&ac), 0);
        assert_int_equal(ds_ac_set_dense_max(ac, budgets[round % 3]), 0);
        for (size_t p = 0; p < np; p++) {
            if (p && rnd(4) == 0) { /* a repeat of an earlier pattern */
                size_t q = rnd((uint32_t)p);
                memcpy(pats[p], pats[q], sizeof(pats[p]));
                lens[p] = lens[q];
            } else {
                lens[p] = 1 + rnd(6);
                for (size_t k = 0; k < lens[p]; k++)
                    pats[p][k] = alpha[rnd((uint32_t)alpha_lens[a])];
            }
            assert_int_equal(ds_ac_add(ac, pats[p], lens[p], (uint32_t)p), 0);
        }
        for (size_t k = 0; k < n; k++)
            text[k] = alpha[rnd((uint32_t)alpha_lens[a])];
        assert_int_equal(ds_ac_build(ac), 0);
        scan(ac, text, n, &hs);
        size_t nw = naive(pats, lens, np, text, n, want);
        if (hs.n != nw)
            print_message("round %d: %zu hits, the naive search %zu\n", round, hs.n, nw);
        assert_int_equal(hs.n, nw);
        for (size_t k = 0; k < nw; k++)
            expect(&hs, k, want[k].id, want[k].end, want[k].len);
        ds_ac_destroy(ac);
    }
}

/* ds_ac_scan_first against the naive search: every pattern that occurs is
 * reported at its first end, every one that ends at the text's end is
 * reported there, and nothing is reported that does not occur. */
static void test_scan_first_vs_naive(void **state)
{
    (void)state;
    static const char *const alphabets[] = {"ab", "abc", "aA", "a\0\xff"};
    static const size_t alpha_lens[] = {2, 3, 2, 3};
    static struct hit want[HITS_MAX];
    static uint32_t seen[1024];
    uint32_t gen = 0;
    rnd_state = 0x5ca9f125u;
    for (int round = 0; round < 3000; round++) {
        size_t a = rnd(4);
        const char *alpha = alphabets[a];
        size_t np = 1 + rnd(24), n = rnd(121);
        char pats[24][8];
        size_t lens[24];
        char text[128];
        struct ds_ac *ac = NULL;
        assert_int_equal(ds_ac_create(&ac), 0);
        assert_int_equal(ds_ac_set_dense_max(ac, round % 2 ? 64 : DS_AC_DENSE_DEFAULT), 0);
        for (size_t p = 0; p < np; p++) {
            lens[p] = 1 + rnd(6);
            for (size_t k = 0; k < lens[p]; k++)
                pats[p][k] = alpha[rnd((uint32_t)alpha_lens[a])];
            assert_int_equal(ds_ac_add(ac, pats[p], lens[p], (uint32_t)p), 0);
        }
        for (size_t k = 0; k < n; k++)
            text[k] = alpha[rnd((uint32_t)alpha_lens[a])];
        assert_int_equal(ds_ac_build(ac), 0);
        assert_true(ds_ac_state_count(ac) <= 1024);
        hs.n = 0;
        assert_int_equal(ds_ac_scan_first(ac, text, n, seen, ++gen, collect, &hs), 0);
        size_t nw = naive(pats, lens, np, text, n, want);
        assert_true(hs.n <= 2 * np);
        for (size_t k = 0; k < hs.n; k++) { /* each hit is a real occurrence */
            bool real = false;
            for (size_t w = 0; w < nw && !real; w++)
                real = want[w].id == hs.h[k].id && want[w].end == hs.h[k].end &&
                       want[w].len == hs.h[k].len;
            assert_true(real);
        }
        for (size_t p = 0; p < np; p++) {
            size_t first = 0;
            bool at_end = false;
            for (size_t w = 0; w < nw; w++) {
                if (want[w].id != p)
                    continue;
                if (!first || want[w].end < first)
                    first = want[w].end;
                at_end = at_end || want[w].end == n;
            }
            bool got_first = false, got_end = false;
            for (size_t k = 0; k < hs.n; k++) {
                if (hs.h[k].id != p)
                    continue;
                assert_true(hs.h[k].end >= first);
                got_first = got_first || hs.h[k].end == first;
                got_end = got_end || hs.h[k].end == n;
            }
            if (first && !got_first)
                fail_msg("round %d: pattern %zu first ends at %zu, not reported", round, p, first);
            if (at_end && !got_end)
                fail_msg("round %d: pattern %zu ends at the text's end, not reported", round, p);
        }
        ds_ac_destroy(ac);
    }
}

/* Patterns that are suffixes of each other ("a", "aa", ... a^400) on 4 KiB
 * of "a": every occurrence is 1.6 million hits (each byte ends 400 of
 * them), which a value an attacker writes would cost per event; the index's
 * scan reports each pattern once plus what ends at the end: 800. */
static void test_scan_first_repeated_byte(void **state)
{
    (void)state;
    static char pat[400], text[4096];
    static uint32_t seen[512];
    memset(pat, 'a', sizeof pat);
    memset(text, 'A', sizeof text);
    struct ds_ac *ac = NULL;
    assert_int_equal(ds_ac_create(&ac), 0);
    for (uint32_t i = 0; i < 400; i++)
        assert_int_equal(ds_ac_add(ac, pat, i + 1, i), 0);
    assert_int_equal(ds_ac_build(ac), 0);
    assert_true(ds_ac_state_count(ac) <= 512);
    hs.n = 0;
    assert_int_equal(ds_ac_scan_first(ac, text, sizeof text, seen, 1, collect, &hs), 0);
    assert_int_equal(hs.n, 800);
    /* Each pattern once at its first end (its own length), then all of them
     * at the text's end, longest first. */
    for (uint32_t i = 0; i < 400; i++) {
        expect(&hs, i, i, i + 1, i + 1);
        expect(&hs, 400 + i, 399 - i, sizeof text, 400 - i);
    }
    /* The next scan (a new gen) reports them all again. */
    hs.n = 0;
    assert_int_equal(ds_ac_scan_first(ac, text, 399, seen, 2, collect, &hs), 0);
    assert_int_equal(hs.n, 398 + 399); /* the last first occurrence is at the end */
    assert_int_equal(ds_ac_scan_first(ac, text, 1, seen, 0, collect, &hs), RP_ERR_INVAL);
    ds_ac_destroy(ac);
}

/* The hot path: a scan allocates nothing, whatever rows it goes through
 * and however many hits it reports. */
static void test_no_allocation_per_scan(void **state)
{
    (void)state;
    const char *pats[] = {"/tmp/", "curl", "wget", ".sh", "/bin/sh", "sh -c", "base64 -d"};
    for (int b = 0; b < 2; b++) {
        struct ds_ac *ac = NULL;
        assert_int_equal(ds_ac_create(&ac), 0);
        assert_int_equal(ds_ac_set_dense_max(ac, b ? DS_AC_DENSE_DEFAULT : 0), 0);
        for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
            assert_int_equal(ds_ac_add(ac, pats[i], strlen(pats[i]), (uint32_t)i), 0);
        assert_int_equal(ds_ac_build(ac), 0);
        const char *t = "/bin/sh -c 'cd /TMP/ && CURL -s x | base64 -d | sh; wget y.sh'";
        counting_install();
        allocations = 0;
        counting = 1;
        for (int i = 0; i < 100; i++) {
            hs.n = 0;
            assert_int_equal(ds_ac_scan(ac, t, strlen(t), collect, &hs), 0);
        }
        counting = 0;
        assert_int_equal(hs.n, 7);
        assert_int_equal(allocations, 0);
        ds_ac_destroy(ac);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overlaps),
        cmocka_unit_test(test_repeated_and_short),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_prefix_suffix_exact),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_random_vs_naive),
        cmocka_unit_test(test_scan_first_vs_naive),
        cmocka_unit_test(test_scan_first_repeated_byte),
        cmocka_unit_test(test_no_allocation_per_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
