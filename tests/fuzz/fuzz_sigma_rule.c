/*
 * tests/fuzz/fuzz_sigma_rule.c - libFuzzer target for detector_sigma's rule
 * loader (plugins/detector_sigma/rule.c and the condition and modifier
 * parsers it calls, compiled into this binary: plugins never link the host).
 * Whatever a rule file holds, loading it must end LOADED or SKIPPED with a
 * reason and a message, never crash, hang or leak, and a loaded rule must
 * keep the loader's promises: selections to match, a condition tree whose
 * every selection index is in range.
 *
 * Input: the bytes of one rule file (corpus/sigma_rule/ holds small rules
 * written for this target, one per construct).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads these lines):
 * fuzz-standalone: plugins/detector_sigma/rule.c plugins/detector_sigma/cond.c
 * fuzz-standalone: plugins/detector_sigma/mod.c plugins/detector_sigma/arena.c
 * fuzz-pkg: yaml-0.1
 */
#include "rule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sigma_rule: %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_tree(const struct ds_cond_node *n, uint32_t n_sels, unsigned depth)
{
    CHECK(n);
    CHECK(depth <= DS_COND_MAX_DEPTH + 2);
    switch (n->op) {
    case DS_COND_SEL:
        CHECK(n->sel < n_sels);
        break;
    case DS_COND_ONE_OF:
    case DS_COND_ALL_OF:
        CHECK(n->n > 0 && n->n <= n_sels);
        for (uint32_t i = 0; i < n->n; i++)
            CHECK(n->sels[i] < n_sels && (i == 0 || n->sels[i] > n->sels[i - 1]));
        break;
    case DS_COND_NOT:
        CHECK(n->n == 1);
        check_tree(n->kids[0], n_sels, depth + 1);
        break;
    case DS_COND_AND:
    case DS_COND_OR:
        CHECK(n->n >= 2);
        for (uint32_t i = 0; i < n->n; i++)
            check_tree(n->kids[i], n_sels, depth + 1);
        break;
    default:
        CHECK(0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ds_rule *r = NULL;
    struct ds_load_result res;
    int rc = ds_rule_load_buffer("fuzz.yml", (const char *)data, size, &r, &res);
    CHECK(rc == 0);
    CHECK(res.reason >= 0 && res.reason < DS_REASON_COUNT);
    CHECK(memchr(res.msg, '\0', sizeof(res.msg)));
    if (res.reason != DS_LOADED) {
        CHECK(!r);
        CHECK(res.msg[0] != '\0');
        return 0;
    }
    CHECK(r && r->title && r->n_sels > 0 && r->n_conditions > 0);
    CHECK(r->logsource != DS_LS_NONE);
    for (uint32_t i = 0; i < r->n_sels; i++) {
        const struct ds_selection *s = &r->sels[i];
        CHECK(s->name && s->n_groups > 0 && r->sel_names[i] == s->name);
        for (uint32_t g = 0; g < s->n_groups; g++) {
            CHECK(s->groups[g].n_conds > 0);
            for (uint32_t c = 0; c < s->groups[g].n_conds; c++) {
                const struct ds_field_cond *fc = &s->groups[g].conds[c];
                CHECK(fc->n_values > 0 && fc->spec.n_mods <= DS_MODS_MAX);
                CHECK(fc->spec.field ? fc->spec.field_len > 0 : fc->spec.field_len == 0);
                for (uint32_t v = 0; v < fc->n_values; v++)
                    CHECK(fc->values[v].s && fc->values[v].s[fc->values[v].len] == '\0');
            }
        }
    }
    check_tree(r->cond, r->n_sels, 0);
    ds_rule_destroy(r);
    return 0;
}
