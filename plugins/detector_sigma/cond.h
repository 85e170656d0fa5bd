/*
 * plugins/detector_sigma/cond.h - the Sigma condition language parsed into
 * a tree (Sigma specification 2.x, "condition"):
 *
 *   expr    := or
 *   or      := and ("or" and)*
 *   and     := not ("and" not)*
 *   not     := "not" not | primary
 *   primary := "(" expr ")" | QUANT "of" (PATTERN | "them") | NAME
 *   QUANT   := "1" | "any" | "all"
 *
 * so not binds tighter than and, and tighter than or. Keywords are lower
 * case as the specification writes them. NAME is a selection of the rule's
 * detection; PATTERN is a name with '*' wildcards and must match at least one
 * selection; "them" is every selection whose name does not begin with '_'.
 * "any of" is pySigma's spelling of "1 of" and means the same. Aggregations
 * after '|' (Sigma 1.x "count() by") are refused: correlation rules replaced
 * them.
 *
 * Caps (each an error naming the cap): the condition is at most
 * DS_COND_MAX_LEN bytes, nests at most DS_COND_MAX_DEPTH parentheses or
 * nots, and makes at most DS_COND_MAX_NODES nodes.
 */
#ifndef RP_DETECTOR_SIGMA_COND_H
#define RP_DETECTOR_SIGMA_COND_H

#include "arena.h"

#include <stddef.h>
#include <stdint.h>

#define DS_COND_MAX_LEN   4096u
#define DS_COND_MAX_DEPTH 64u
#define DS_COND_MAX_NODES 1024u

enum ds_cond_op {
    DS_COND_SEL,    /* one selection: sel */
    DS_COND_NOT,    /* kids[0] does not hold */
    DS_COND_AND,    /* every one of kids[0..n) holds */
    DS_COND_OR,     /* one of kids[0..n) holds */
    DS_COND_ONE_OF, /* one of the selections sels[0..n) holds ("1 of", "any of") */
    DS_COND_ALL_OF  /* every one of the selections sels[0..n) holds */
};

struct ds_cond_node {
    enum ds_cond_op op;
    uint32_t pos; /* byte offset of the node's first token in the condition */
    uint32_t sel; /* DS_COND_SEL: index into the names given to ds_cond_parse */
    uint32_t n;   /* kids or sels */
    struct ds_cond_node **kids;
    uint32_t *sels; /* selection indexes, ascending */
};

struct ds_cond_error {
    size_t pos;    /* byte offset in the condition where the error was seen */
    char msg[256]; /* what was found and what was expected */
};

/* Parses text[0..len) against the selection names names[0..n_names)
 * (NUL-terminated, borrowed). On success returns 0 and *out is the root, in
 * arena (freed with it). On a malformed condition returns RP_ERR_PARSE and
 * fills *err; RP_ERR_NOMEM when the arena is full. */
int ds_cond_parse(const char *text, size_t len, const char *const *names, size_t n_names,
                  struct ds_arena *arena, struct ds_cond_node **out, struct ds_cond_error *err);

#endif
