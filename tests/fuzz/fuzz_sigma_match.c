/*
 * tests/fuzz/fuzz_sigma_match.c - libFuzzer target for detector_sigma's value
 * matchers (plugins/detector_sigma/match.c, compiled into this binary:
 * plugins never link the host). Rule values and event values both come from
 * outside: whatever the modifiers, the value and the text, compiling must
 * fail cleanly or give a matcher that answers without reading past the
 * text, hanging or breaking its promise to the index (a value it matches,
 * by regex as well, holds one of the literals it hands out).
 *
 * Input layout:
 *   bytes 0-3  the modifier bit mask, little-endian (enum ds_mod)
 *   byte 4     the value's type (enum ds_mvtype, modulo 4)
 *   then       the rule's value, a NUL byte, the event's text (without the
 *              NUL the text is the value itself)
 * The modifiers are taken as a mask, as the key parser (mod.h) gives them,
 * so the matchers' own checks of combinations are fuzzed too.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads these lines):
 * fuzz-standalone: plugins/detector_sigma/match.c
 * fuzz-pkg: libpcre2-8
 */
#include "match.h"

#include <rampart/plugin.h>

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

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* Whether literal l holds on text (folded unless cased). */
static int literal_holds(const struct ds_literal *l, const unsigned char *t, size_t n)
{
    int cased = !l->folded;
    if (l->len > n)
        return 0;
    size_t first = 0, last = n - l->len;
    if (l->kind == DS_LIT_EXACT && l->len != n)
        return 0;
    if (l->kind == DS_LIT_PREFIX || l->kind == DS_LIT_EXACT)
        last = 0;
    if (l->kind == DS_LIT_SUFFIX)
        first = last;
    for (size_t at = first; at <= last; at++) {
        size_t k = 0;
        while (k < l->len && (cased ? t[at + k] : fold(t[at + k])) == (unsigned char)l->bytes[k])
            k++;
        if (k == l->len)
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    if (size < 5)
        return 0;
    uint32_t mods = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                    (uint32_t)data[3] << 24;
    mods &= DS_MODBIT(DS_MOD_COUNT) - 1;
    enum ds_mvtype type = (enum ds_mvtype)(data[4] % 4);
    const char *value = (const char *)data + 5;
    size_t rest = size - 5;
    const char *nul = memchr(value, '\0', rest);
    size_t vlen = nul ? (size_t)(nul - value) : rest;
    const char *text = nul ? nul + 1 : value;
    size_t tlen = nul ? rest - vlen - 1 : rest;

    char err[256];
    int rc;

    static const char *const dirs[] = {"/tmp", "C:\\Windows"};
    static const struct ds_placeholder ph = {"dir", dirs, 2};
    struct ds_match_opts o = {.placeholders = &ph, .nplaceholders = 1};
    struct ds_mvalue v = {type, value, vlen};
    struct ds_field *f = NULL;
    rc = ds_field_compile(mods, &v, 1, &o, &f, err, sizeof err);
    if (rc != 0) {
        CHECK(f == NULL && rc < 0 && err[0]);
        return 0;
    }
    bool hit = ds_field_match(f, text, tlen);
    (void)ds_field_match(f, NULL, 0);
    (void)ds_field_match(f, "", 0);
    const char *refs[1] = {text};
    size_t refs_len[1] = {tlen};
    bool ref_hit = ds_field_match_ref(f, value, vlen, refs, refs_len);
    /* fieldref|contains (linear search) against the naive search. */
    uint32_t plain = DS_MODBIT(DS_MOD_FIELDREF) | DS_MODBIT(DS_MOD_CONTAINS);
    if ((mods & ~DS_MODBIT(DS_MOD_CASED)) == plain) {
        bool want = false;
        for (size_t at = 0; at + tlen <= vlen && !want; at++) {
            size_t k = 0;
            while (k < tlen &&
                   ((mods & DS_MODBIT(DS_MOD_CASED))
                        ? value[at + k] == text[k]
                        : fold((unsigned char)value[at + k]) == fold((unsigned char)text[k])))
                k++;
            want = k == tlen;
        }
        CHECK(ref_hit == want);
    }

    struct ds_literal lit[8];
    size_t nlit = ds_matcher_literals(ds_field_matcher(f, 0), lit, 8);
    if (hit && nlit > 0 && nlit <= 8) {
        int held = 0;
        for (size_t i = 0; i < nlit && !held; i++)
            held = literal_holds(&lit[i], (const unsigned char *)text, tlen);
        CHECK(held);
    }
    ds_field_destroy(f);
    return 0;
}
