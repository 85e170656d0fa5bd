/*
 * plugins/detector_sigma/ac.c - the Aho-Corasick automaton of ac.h.
 *
 * Adding builds a trie of folded bytes (children as sibling lists, since
 * most nodes have one child). Building numbers the states in breadth-first
 * order, so failure links point to smaller ids, the states nearest the root
 * come first (the dense ones are a prefix of the ids) and every table a
 * state needs from its failure state is complete when the state is reached.
 */
#include "ac.h"

#include <rampart/plugin.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A transition is a state id with this bit set when the state reports hits,
 * so the scan learns both from one load and reads no output table for the
 * (vast majority of) states that report nothing. */
#define AC_HIT   0x80000000u
#define AC_STATE 0x7fffffffu

/* A trie node while patterns are added; node 0 is the root, so 0 also means
 * "no child" and "no sibling". */
struct ac_node {
    uint32_t child;
    uint32_t sibling;
    unsigned char byte; /* folded */
};

/* A pattern added: its id, the node it ends at and its length. */
struct ac_pat {
    uint32_t id;
    uint32_t node;
    uint32_t len;
};

/* One hit of a state's flat output list. */
struct ac_out {
    uint32_t id;
    uint32_t len;
};

struct ds_ac {
    int built;
    size_t dense_max;
    uint32_t npats;
    /* Until the build. */
    struct ac_node *nodes;
    uint32_t nnodes, nodes_cap;
    struct ac_pat *pats;
    uint32_t pats_cap;
    /* The automaton. cls maps a text byte to its class, folding included,
     * so the scan does no folding of its own. */
    unsigned char cls[256];
    uint32_t ncls;
    uint32_t nstates, ndense;
    uint32_t *dense; /* ndense rows of ncls transitions */
    /* Sparse state s (s >= ndense) at u = s - ndense: its transitions are
     * those of dense state anchor[u] except for the classes
     * exc_cls[exc_off[u] .. exc_off[u + 1]) (ascending), which go to exc_to. */
    uint32_t *anchor, *exc_off, *exc_to;
    unsigned char *exc_cls;
    uint32_t nexc, exc_cap;
    /* The hits of state s: the patterns ending at its own node,
     * out[out_off[s] .. out_off[s + 1]), then those of state dict[s], the
     * nearest state on s's failure chain with patterns of its own, and so
     * on (0, the root, ends the chain: it has none). A chain rather than
     * one flat list per state, which would hold a pattern once for every
     * state it is a suffix of: "a", "aa", ... a^4096 would be 8 million
     * entries. */
    uint32_t *out_off;
    struct ac_out *out;
    uint32_t nout, out_cap;
    uint32_t *dict;
};

static unsigned char fold(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* The block p (capacity *cap elements, need > *cap) with room for need
 * elements, grown by half again so that many small adds stay linear; NULL
 * when out of memory (p is then unchanged). */
static void *grow(void *p, uint32_t *cap, size_t need, size_t size)
{
    size_t n = (size_t)*cap + *cap / 2 + 16;
    if (n < need)
        n = need;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    void *q = realloc(p, n * size);
    if (q)
        *cap = (uint32_t)n;
    return q;
}

int ds_ac_create(struct ds_ac **out)
{
    if (!out)
        return RP_ERR_INVAL;
    struct ds_ac *ac = calloc(1, sizeof(*ac));
    if (!ac)
        return RP_ERR_NOMEM;
    ac->dense_max = DS_AC_DENSE_DEFAULT;
    ac->nodes = grow(NULL, &ac->nodes_cap, 1, sizeof(*ac->nodes));
    if (!ac->nodes) {
        free(ac);
        return RP_ERR_NOMEM;
    }
    memset(&ac->nodes[0], 0, sizeof(ac->nodes[0]));
    ac->nnodes = 1;
    *out = ac;
    return 0;
}

static void free_trie(struct ds_ac *ac)
{
    free(ac->nodes);
    free(ac->pats);
    ac->nodes = NULL;
    ac->pats = NULL;
    ac->nodes_cap = ac->pats_cap = 0;
}

static void free_automaton(struct ds_ac *ac)
{
    free(ac->dense);
    free(ac->anchor);
    free(ac->exc_off);
    free(ac->exc_to);
    free(ac->exc_cls);
    free(ac->out_off);
    free(ac->out);
    free(ac->dict);
    ac->dict = NULL;
    ac->dense = ac->anchor = ac->exc_off = ac->exc_to = ac->out_off = NULL;
    ac->exc_cls = NULL;
    ac->out = NULL;
    ac->nexc = ac->exc_cap = ac->nout = ac->out_cap = 0;
}

void ds_ac_destroy(struct ds_ac *ac)
{
    if (!ac)
        return;
    free_trie(ac);
    free_automaton(ac);
    free(ac);
}

static uint32_t child_of(const struct ds_ac *ac, uint32_t n, unsigned char b)
{
    uint32_t c = ac->nodes[n].child;
    while (c && ac->nodes[c].byte != b)
        c = ac->nodes[c].sibling;
    return c;
}

int ds_ac_add(struct ds_ac *ac, const char *pat, size_t len, uint32_t id)
{
    if (!ac || (!pat && len))
        return RP_ERR_INVAL;
    if (ac->built)
        return RP_ERR_BUSY;
    if (len == 0)
        return RP_ERR_INVAL;
    if (len > DS_AC_PATTERN_MAX || ac->npats >= DS_AC_PATTERNS_MAX)
        return RP_ERR_RANGE;
    const unsigned char *p = (const unsigned char *)pat;
    uint32_t n = 0;
    size_t i = 0;
    for (uint32_t c; i < len && (c = child_of(ac, n, fold(p[i]))) != 0; i++)
        n = c;
    /* Checked before any node is made, so a refused pattern leaves no
     * half-built path behind. */
    if (len - i > DS_AC_STATES_MAX - ac->nnodes)
        return RP_ERR_RANGE;
    if (ac->nnodes + (len - i) > ac->nodes_cap) {
        struct ac_node *nodes =
            grow(ac->nodes, &ac->nodes_cap, ac->nnodes + (len - i), sizeof(*nodes));
        if (!nodes)
            return RP_ERR_NOMEM;
        ac->nodes = nodes;
    }
    if (ac->npats == ac->pats_cap) {
        struct ac_pat *pats = grow(ac->pats, &ac->pats_cap, (size_t)ac->npats + 1, sizeof(*pats));
        if (!pats)
            return RP_ERR_NOMEM;
        ac->pats = pats;
    }
    for (; i < len; i++) {
        uint32_t c = ac->nnodes++;
        ac->nodes[c] = (struct ac_node){.sibling = ac->nodes[n].child, .byte = fold(p[i])};
        ac->nodes[n].child = c;
        n = c;
    }
    ac->pats[ac->npats++] = (struct ac_pat){id, n, (uint32_t)len};
    return 0;
}

int ds_ac_set_dense_max(struct ds_ac *ac, size_t bytes)
{
    if (!ac)
        return RP_ERR_INVAL;
    if (ac->built)
        return RP_ERR_BUSY;
    ac->dense_max = bytes;
    return 0;
}

/* The transition of state s on class c, with its AC_HIT bit. */
static inline uint32_t step(const struct ds_ac *ac, uint32_t s, unsigned c)
{
    if (s < ac->ndense)
        return ac->dense[(size_t)s * ac->ncls + c];
    uint32_t u = s - ac->ndense;
    for (uint32_t k = ac->exc_off[u], end = ac->exc_off[u + 1]; k < end; k++) {
        if (ac->exc_cls[k] == c)
            return ac->exc_to[k];
        if (ac->exc_cls[k] > c)
            break;
    }
    return ac->dense[(size_t)ac->anchor[u] * ac->ncls + c];
}

/* Grows (or, after the build, shrinks) both exception arrays to n entries.
 * The capacity changes only once both have, so a failed growth leaves both
 * at least as large as it says; a failed shrink only wastes the tail. */
static int grow_exceptions(struct ds_ac *ac, size_t n)
{
    uint32_t *to = realloc(ac->exc_to, n * sizeof(*to));
    if (!to)
        return RP_ERR_NOMEM;
    ac->exc_to = to;
    unsigned char *cl = realloc(ac->exc_cls, n);
    if (!cl)
        return RP_ERR_NOMEM;
    ac->exc_cls = cl;
    ac->exc_cap = (uint32_t)n;
    return 0;
}

/* Stores the row of state q: dense, or as its differences from the dense
 * row of the first dense state on its failure chain, which differs from q
 * only where q or a sparse state between them has a child. */
static int store_row(struct ds_ac *ac, uint32_t q, uint32_t fail, const uint32_t *row)
{
    if (q < ac->ndense) {
        memcpy(ac->dense + (size_t)q * ac->ncls, row, ac->ncls * sizeof(*row));
        return 0;
    }
    uint32_t u = q - ac->ndense;
    uint32_t a = fail < ac->ndense ? fail : ac->anchor[fail - ac->ndense];
    const uint32_t *base = ac->dense + (size_t)a * ac->ncls;
    ac->anchor[u] = a;
    for (uint32_t c = 0; c < ac->ncls; c++) {
        if (row[c] == base[c])
            continue;
        if (ac->nexc == ac->exc_cap && grow_exceptions(ac, (size_t)ac->exc_cap * 3 / 2 + 16) < 0)
            return RP_ERR_NOMEM;
        ac->exc_cls[ac->nexc] = (unsigned char)c;
        ac->exc_to[ac->nexc++] = row[c];
    }
    ac->exc_off[u + 1] = ac->nexc;
    return 0;
}

/* Appends the patterns ending at state q's own node (own[...], in the
 * order added; all have q's length) and links q to the next state with
 * patterns of its own on its failure chain, whose are all shorter. */
static int store_outputs(struct ds_ac *ac, uint32_t q, uint32_t fail, const uint32_t *own,
                         uint32_t own_n)
{
    ac->dict[q] = q == 0 ? 0 : ac->out_off[fail + 1] > ac->out_off[fail] ? fail : ac->dict[fail];
    size_t need = (size_t)ac->nout + own_n;
    if (need > ac->out_cap) {
        struct ac_out *out = grow(ac->out, &ac->out_cap, need, sizeof(*out));
        if (!out)
            return RP_ERR_NOMEM;
        ac->out = out;
    }
    for (uint32_t k = 0; k < own_n; k++) {
        const struct ac_pat *p = &ac->pats[own[k]];
        ac->out[ac->nout++] = (struct ac_out){p->id, p->len};
    }
    ac->out_off[q + 1] = ac->nout;
    return 0;
}

/* Whether state s reports hits: patterns of its own or down its chain. */
static bool reports(const struct ds_ac *ac, uint32_t s)
{
    return ac->out_off[s + 1] > ac->out_off[s] || ac->dict[s] != 0;
}

/* The breadth-first pass: failure links, rows and output lists, state by
 * state; a failure state has a smaller depth, hence a smaller id, so its
 * row and outputs are stored by the time they are copied. order[q] is the
 * trie node of state q, fail[q] its failure state. */
static int build_states(struct ds_ac *ac, uint32_t *order, uint32_t *fail, const uint32_t *own_off,
                        const uint32_t *own)
{
    uint32_t row[256];
    uint32_t next = 1;
    order[0] = 0;
    fail[0] = 0;
    ac->out_off[0] = 0;
    for (uint32_t q = 0; q < ac->nstates; q++) {
        uint32_t node = order[q];
        int rc =
            store_outputs(ac, q, fail[q], own + own_off[node], own_off[node + 1] - own_off[node]);
        if (rc < 0)
            return rc;
        /* Where q goes without a child of its own: where its failure state
         * goes (the root stays at the root). */
        for (uint32_t c = 0; c < ac->ncls; c++)
            row[c] = q ? step(ac, fail[q], c) : 0;
        for (uint32_t ch = ac->nodes[node].child; ch; ch = ac->nodes[ch].sibling) {
            unsigned c = ac->cls[ac->nodes[ch].byte];
            uint32_t s = next++;
            /* A child's failure state is where q's failure state goes on
             * the same byte, read before row[c] becomes the child. */
            order[s] = ch;
            fail[s] = q ? row[c] : 0;
            row[c] = s;
        }
        rc = store_row(ac, q, fail[q], row);
        if (rc < 0)
            return rc;
    }
    /* Only now is every output list known: a transition can lead to a state
     * of the same depth further on, whose failure state may report. */
    for (size_t i = 0; i < (size_t)ac->ndense * ac->ncls; i++)
        if (reports(ac, ac->dense[i]))
            ac->dense[i] |= AC_HIT;
    for (uint32_t k = 0; k < ac->nexc; k++)
        if (reports(ac, ac->exc_to[k]))
            ac->exc_to[k] |= AC_HIT;
    return 0;
}

int ds_ac_build(struct ds_ac *ac)
{
    if (!ac)
        return RP_ERR_INVAL;
    if (ac->built)
        return RP_ERR_BUSY;
    /* Class 0 is every byte no pattern uses; an upper-case letter shares
     * the class of its lower-case one, which is how the text is folded. */
    memset(ac->cls, 0, sizeof(ac->cls));
    ac->ncls = 1;
    for (uint32_t n = 1; n < ac->nnodes; n++) {
        unsigned char b = ac->nodes[n].byte;
        if (!ac->cls[b])
            ac->cls[b] = (unsigned char)ac->ncls++;
    }
    for (unsigned c = 'A'; c <= 'Z'; c++)
        ac->cls[c] = ac->cls[fold((unsigned char)c)];
    ac->nstates = ac->nnodes;
    size_t rows = ac->dense_max / ((size_t)ac->ncls * sizeof(uint32_t));
    ac->ndense = rows < 1 ? 1 : rows > ac->nstates ? ac->nstates : (uint32_t)rows;
    uint32_t nsparse = ac->nstates - ac->ndense;

    /* The patterns of each node, in the order added (a counting sort). */
    uint32_t *own_off = calloc((size_t)ac->nnodes + 2, sizeof(*own_off));
    uint32_t *own = malloc(((size_t)ac->npats + 1) * sizeof(*own));
    uint32_t *order = malloc((size_t)ac->nstates * sizeof(*order));
    uint32_t *fail = malloc((size_t)ac->nstates * sizeof(*fail));
    ac->dense = malloc((size_t)ac->ndense * ac->ncls * sizeof(*ac->dense));
    ac->anchor = malloc(((size_t)nsparse + 1) * sizeof(*ac->anchor));
    ac->exc_off = calloc((size_t)nsparse + 1, sizeof(*ac->exc_off));
    ac->out_off = malloc(((size_t)ac->nstates + 1) * sizeof(*ac->out_off));
    ac->dict = malloc((size_t)ac->nstates * sizeof(*ac->dict));
    int rc = RP_ERR_NOMEM;
    if (own_off && own && order && fail && ac->dense && ac->anchor && ac->exc_off && ac->out_off &&
        ac->dict) {
        for (uint32_t p = 0; p < ac->npats; p++)
            own_off[ac->pats[p].node + 2]++;
        for (uint32_t i = 2; i <= ac->nnodes + 1; i++)
            own_off[i] += own_off[i - 1];
        for (uint32_t p = 0; p < ac->npats; p++)
            own[own_off[ac->pats[p].node + 1]++] = p;
        rc = build_states(ac, order, fail, own_off, own);
    }
    free(own_off);
    free(own);
    free(order);
    free(fail);
    if (rc < 0) {
        free_automaton(ac);
        return rc;
    }
    /* Give back the unused tails now that the sizes are final. */
    struct ac_out *out = ac->nout ? realloc(ac->out, (size_t)ac->nout * sizeof(*out)) : NULL;
    if (out) {
        ac->out = out;
        ac->out_cap = ac->nout;
    }
    if (ac->nexc && ac->nexc < ac->exc_cap)
        (void)grow_exceptions(ac, ac->nexc);
    free_trie(ac);
    ac->built = 1;
    return 0;
}

int ds_ac_scan(const struct ds_ac *ac, const char *text, size_t len, ds_ac_hit_fn hit, void *ctx)
{
    if (!ac || !ac->built || (!text && len) || !hit)
        return RP_ERR_INVAL;
    const unsigned char *t = (const unsigned char *)text;
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t to = step(ac, s, ac->cls[t[i]]);
        s = to & AC_STATE;
        if (!(to & AC_HIT))
            continue;
        for (uint32_t q = s; q; q = ac->dict[q])
            for (uint32_t k = ac->out_off[q]; k < ac->out_off[q + 1]; k++) {
                int rc = hit(ctx, ac->out[k].id, i + 1, ac->out[k].len);
                if (rc)
                    return rc;
            }
    }
    return 0;
}

int ds_ac_scan_first(const struct ds_ac *ac, const char *text, size_t len, uint32_t *seen,
                     uint32_t gen, ds_ac_hit_fn hit, void *ctx)
{
    if (!ac || !ac->built || (!text && len) || !hit || !seen || !gen)
        return RP_ERR_INVAL;
    const unsigned char *t = (const unsigned char *)text;
    uint32_t s = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t to = step(ac, s, ac->cls[t[i]]);
        s = to & AC_STATE;
        if (!(to & AC_HIT))
            continue;
        /* A state seen before in this scan had its whole chain reported
         * then, at an earlier end: nothing new but a suffix, which only the
         * text's last byte can end. */
        bool last = i + 1 == len;
        for (uint32_t q = s; q; q = ac->dict[q]) {
            if (seen[q] == gen && !last)
                break;
            seen[q] = gen;
            for (uint32_t k = ac->out_off[q]; k < ac->out_off[q + 1]; k++) {
                int rc = hit(ctx, ac->out[k].id, i + 1, ac->out[k].len);
                if (rc)
                    return rc;
            }
        }
    }
    return 0;
}

uint32_t ds_ac_pattern_count(const struct ds_ac *ac)
{
    return ac ? ac->npats : 0;
}

uint32_t ds_ac_state_count(const struct ds_ac *ac)
{
    return ac ? (ac->built ? ac->nstates : ac->nnodes) : 0;
}

size_t ds_ac_memory(const struct ds_ac *ac)
{
    if (!ac)
        return 0;
    size_t n = sizeof(*ac);
    if (!ac->built)
        return n + (size_t)ac->nodes_cap * sizeof(*ac->nodes) +
               (size_t)ac->pats_cap * sizeof(*ac->pats);
    uint32_t nsparse = ac->nstates - ac->ndense;
    return n + (size_t)ac->ndense * ac->ncls * sizeof(*ac->dense) +
           (size_t)nsparse * sizeof(*ac->anchor) + ((size_t)nsparse + 1) * sizeof(*ac->exc_off) +
           (size_t)ac->exc_cap * (sizeof(*ac->exc_to) + 1) +
           ((size_t)ac->nstates + 1) * sizeof(*ac->out_off) +
           (size_t)ac->nstates * sizeof(*ac->dict) + (size_t)ac->out_cap * sizeof(*ac->out);
}
