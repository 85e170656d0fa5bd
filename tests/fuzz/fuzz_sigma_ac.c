/*
 * tests/fuzz/fuzz_sigma_ac.c - libFuzzer target for detector_sigma's
 * Aho-Corasick automaton (plugins/detector_sigma/ac.c, compiled into this
 * binary: plugins never link the host). The patterns come from rules and
 * the text from events: whatever both are, the automaton must report
 * exactly what a naive search finds, in the order ac.h promises, under
 * dense and sparse rows, and stop when the callback says so.
 *
 * Input layout:
 *   byte 0     bits 0-1: the dense row budget (0, 64 bytes, the default,
 *              all); bits 2-7: stop after that many hits (0: never)
 *   byte 1     the number of patterns, modulo 33
 *   then       per pattern a length byte (modulo 17; 0 must be refused)
 *              and that many bytes
 *   the rest   the text
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/detector_sigma/ac.c
 */
#include "ac.h"

#include <rampart/plugin.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define PATS_MAX 32
#define PAT_MAX  16
#define STOP_RC  99

struct hit {
    uint32_t id;
    size_t end, len;
};

struct run {
    const struct hit *want;
    size_t nwant, n, stop_after;
};

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int check_hit(void *ctx, uint32_t id, size_t end, size_t len)
{
    struct run *r = ctx;
    CHECK(r->n < r->nwant);
    const struct hit *w = &r->want[r->n++];
    CHECK(w->id == id && w->end == end && w->len == len);
    return r->stop_after && r->n == r->stop_after ? STOP_RC : 0;
}

struct first {
    const struct hit *want;
    size_t nwant, n, text_len;
    bool got_first[PATS_MAX], got_end[PATS_MAX];
};

/* A hit of ds_ac_scan_first: one of the occurrences, noted as the
 * pattern's first (the earliest end the naive search gives it) or as one
 * at the text's end. */
static int first_hit(void *ctx, uint32_t id, size_t end, size_t len)
{
    struct first *f = ctx;
    f->n++;
    CHECK(id < PATS_MAX);
    bool real = false, earliest = true;
    for (size_t k = 0; k < f->nwant; k++) {
        const struct hit *w = &f->want[k];
        if (w->id != id)
            continue;
        if (w->end < end)
            earliest = false;
        real = real || (w->end == end && w->len == len);
    }
    CHECK(real);
    if (earliest)
        f->got_first[id] = true;
    if (end == f->text_len)
        f->got_end[id] = true;
    return 0;
}

/* Every occurrence, by end, longest first, one pattern's ids in the order
 * added (patterns that fold alike are one pattern). */
static size_t naive(const unsigned char pats[][PAT_MAX], const size_t *lens, size_t np,
                    const unsigned char *t, size_t n, struct hit *out)
{
    size_t k = 0;
    for (size_t end = 1; end <= n; end++)
        for (size_t len = PAT_MAX; len >= 1; len--)
            for (size_t p = 0; p < np; p++) {
                if (lens[p] != len || len > end)
                    continue;
                size_t j = 0;
                while (j < len && fold(t[end - len + j]) == fold(pats[p][j]))
                    j++;
                if (j == len)
                    out[k++] = (struct hit){(uint32_t)p, end, len};
            }
    return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t budgets[] = {0, 64, DS_AC_DENSE_DEFAULT, SIZE_MAX};
    if (size < 2)
        return 0;
    struct ds_ac *ac = NULL;
    CHECK(ds_ac_create(&ac) == 0);
    CHECK(ds_ac_set_dense_max(ac, budgets[data[0] & 3]) == 0);
    size_t stop_after = data[0] >> 2;
    size_t want_pats = data[1] % (PATS_MAX + 1), at = 2, np = 0;
    unsigned char pats[PATS_MAX][PAT_MAX];
    size_t lens[PATS_MAX];
    for (size_t i = 0; i < want_pats && at < size; i++) {
        size_t len = data[at++] % (PAT_MAX + 1);
        if (len > size - at)
            break;
        if (len == 0) {
            CHECK(ds_ac_add(ac, (const char *)data + at, 0, 0) == RP_ERR_INVAL);
            continue;
        }
        memcpy(pats[np], data + at, len);
        lens[np] = len;
        CHECK(ds_ac_add(ac, (const char *)data + at, len, (uint32_t)np) == 0);
        np++;
        at += len;
    }
    CHECK(ds_ac_build(ac) == 0);
    CHECK(ds_ac_pattern_count(ac) == np);
    CHECK(ds_ac_add(ac, "a", 1, 0) == RP_ERR_BUSY);

    const unsigned char *text = data + at;
    size_t n = size - at;
    struct hit *want = malloc((n * PATS_MAX + 1) * sizeof(*want));
    CHECK(want != NULL);
    struct run r = {want, naive(pats, lens, np, text, n, want), 0, stop_after};
    int rc = ds_ac_scan(ac, (const char *)text, n, check_hit, &r);
    if (stop_after && r.nwant >= stop_after) {
        CHECK(rc == STOP_RC);
        CHECK(r.n == stop_after);
    } else {
        CHECK(rc == 0);
        CHECK(r.n == r.nwant);
    }

    /* ds_ac_scan_first: only real occurrences, at most two per pattern,
     * every pattern's first end and every hit at the text's end. */
    static uint32_t seen[PATS_MAX * PAT_MAX + 1];
    static uint32_t gen;
    if (++gen == 0) {
        memset(seen, 0, sizeof(seen));
        gen = 1;
    }
    struct first first = {want, r.nwant, 0, n, {0}, {0}};
    CHECK(ds_ac_state_count(ac) <= sizeof(seen) / sizeof(seen[0]));
    CHECK(ds_ac_scan_first(ac, (const char *)text, n, seen, gen, first_hit, &first) == 0);
    CHECK(first.n <= 2 * np);
    for (size_t k = 0; k < r.nwant; k++) {
        const struct hit *w = &want[k];
        bool is_first = true;
        for (size_t j = 0; j < k && is_first; j++)
            is_first = want[j].id != w->id;
        if (is_first)
            CHECK(first.got_first[w->id]);
        if (w->end == n)
            CHECK(first.got_end[w->id]);
    }
    free(want);
    ds_ac_destroy(ac);
    return 0;
}
