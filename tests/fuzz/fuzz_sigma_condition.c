/*
 * tests/fuzz/fuzz_sigma_condition.c - libFuzzer target for detector_sigma's
 * condition parser (plugins/detector_sigma/cond.c, compiled into this
 * binary). Whatever the condition text, parsing ends with a tree or an error
 * whose position lies in the text, within the depth and node caps, and every
 * selection the tree names exists.
 *
 * Input layout:
 *   byte 0    how many of the eight selection names below the rule has
 *             (1 + byte % 8): sel, sel_a, sel_b, filter_main, _private,
 *             keywords, all, x-1.y
 *   then      the condition text (corpus/sigma_condition/ holds conditions
 *             written for this target: every construct of the grammar).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/detector_sigma/cond.c plugins/detector_sigma/arena.c
 */
#include "cond.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sigma_condition: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char *const names[] = {"sel",      "sel_a",    "sel_b", "filter_main",
                                    "_private", "keywords", "all",   "x-1.y"};

/* Returns the nodes under n, checking each. */
static unsigned check_tree(const struct ds_cond_node *n, uint32_t n_names, size_t len,
                           unsigned depth)
{
    CHECK(n);
    CHECK(depth <= DS_COND_MAX_DEPTH + 1);
    CHECK(n->pos < len);
    unsigned count = 1;
    switch (n->op) {
    case DS_COND_SEL:
        CHECK(n->sel < n_names);
        break;
    case DS_COND_ONE_OF:
    case DS_COND_ALL_OF:
        CHECK(n->n > 0 && n->n <= n_names);
        for (uint32_t i = 0; i < n->n; i++)
            CHECK(n->sels[i] < n_names && (i == 0 || n->sels[i] > n->sels[i - 1]));
        break;
    case DS_COND_NOT:
        CHECK(n->n == 1);
        count += check_tree(n->kids[0], n_names, len, depth + 1);
        break;
    case DS_COND_AND:
    case DS_COND_OR:
        CHECK(n->n >= 2);
        for (uint32_t i = 0; i < n->n; i++)
            count += check_tree(n->kids[i], n_names, len, depth + 1);
        break;
    default:
        CHECK(0);
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t n_names = 1u + data[0] % 8u;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    struct ds_arena arena;
    ds_arena_init(&arena, 4u * 1024u * 1024u);
    struct ds_cond_node *root = NULL;
    struct ds_cond_error err;
    int rc = ds_cond_parse(text, len, names, n_names, &arena, &root, &err);
    if (rc == 0) {
        CHECK(root);
        CHECK(check_tree(root, n_names, len, 0) <= DS_COND_MAX_NODES);
    } else {
        CHECK(rc == RP_ERR_PARSE);
        CHECK(!root);
        CHECK(err.pos <= len || err.pos == DS_COND_MAX_LEN);
        CHECK(err.msg[0] != '\0' && memchr(err.msg, '\0', sizeof(err.msg)));
    }
    ds_arena_free(&arena);
    return 0;
}
