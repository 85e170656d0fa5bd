/*
 * plugins/detector_sigma/index.c - the rule index of engine.h.
 *
 * A rule's requirement is a set of alternative atoms (a field slot, or the
 * event's string values for keywords, and a literal the value must equal,
 * start with, end with or contain), one of which holds on every event the
 * rule matches. It is read off the compiled condition:
 *   - an item: the literals of its matchers (match.h) - the union of them
 *     when the values are ORed, the best matcher's under `all`; none when
 *     one value gives no literal (numbers, cidr, null, neq, fieldref...);
 *   - a group (AND) and an AND node: the most selective child that has one;
 *   - a selection (OR of groups), an OR node, `1 of`: the union of the
 *     children's, none when one child has none;
 *   - NOT and a constant: none.
 * Rules without a requirement run on every event of their bucket, and so
 * do rules whose literals would take an automaton or a hash map past its
 * cap.
 *
 * Per bucket (event type) and per slot, exact literals live in a hash map
 * (folded) and the others in one automaton (ac.h); keyword literals in one
 * automaton over every string value. An event looks up each indexed
 * slot's value once, marks the rules it meets in a per-rule generation
 * array, and the candidates plus the always-run rules are evaluated in load
 * order. Nothing is allocated per event. The index only ever reads folded
 * text, so it is a necessary condition for case-sensitive matchers too;
 * the rule's own evaluation decides.
 */
#include "ac.h"
#include "engine_int.h"

#include <rampart/plugin.h>

#include <stdlib.h>
#include <string.h>

#define DS_IX_KEYWORDS DS_NOSLOT

/* ---- requirements ---- */

struct ds_atom {
    uint32_t slot; /* DS_IX_KEYWORDS for keyword items */
    uint8_t kind;  /* enum ds_lit_kind */
    const char *bytes;
    uint32_t len;
};

struct ds_req {
    struct ds_atom *a; /* owned */
    uint32_t n, cap;
    bool none; /* no requirement the index can see */
};

static void ds_req_free(struct ds_req *r)
{
    free(r->a);
    memset(r, 0, sizeof(*r));
}

static int ds_req_add(struct ds_req *r, const struct ds_atom *a)
{
    if (r->n == r->cap) {
        uint32_t ncap = r->cap ? r->cap * 2 : 4;
        struct ds_atom *na = realloc(r->a, ncap * sizeof(*na));
        if (!na)
            return RP_ERR_NOMEM;
        r->a = na;
        r->cap = ncap;
    }
    r->a[r->n++] = *a;
    return 0;
}

/* dst becomes dst OR src; src is freed. */
static int ds_req_union(struct ds_req *dst, struct ds_req *src)
{
    int rc = 0;
    if (src->none)
        dst->none = true;
    for (uint32_t i = 0; rc == 0 && !dst->none && i < src->n; i++)
        rc = ds_req_add(dst, &src->a[i]);
    ds_req_free(src);
    if (dst->none) {
        free(dst->a);
        dst->a = NULL;
        dst->n = dst->cap = 0;
    }
    return rc;
}

/* How often a requirement lets a rule through, roughly: long literals are
 * rare, exact values rarer than affixes, and those rarer than substrings.
 * Lower is better. */
static double ds_req_cost(const struct ds_req *r)
{
    if (r->none)
        return 1e300;
    double c = 0;
    for (uint32_t i = 0; i < r->n; i++) {
        double len = r->a[i].len ? (double)r->a[i].len : 0.5;
        double base = r->a[i].kind == DS_LIT_EXACT      ? 1.0
                      : r->a[i].kind == DS_LIT_CONTAINS ? 16.0
                                                        : 8.0;
        c += base / (len * len);
    }
    return c;
}

/* dst becomes the better of dst and src (an AND of both: either one is a
 * necessary condition); the other is freed. dst starts as none. */
static void ds_req_pick(struct ds_req *dst, struct ds_req *src)
{
    if (!src->none && (dst->none || ds_req_cost(src) < ds_req_cost(dst))) {
        ds_req_free(dst);
        *dst = *src;
        memset(src, 0, sizeof(*src));
    } else {
        ds_req_free(src);
    }
}

/* The atoms of one matcher into out (none when it gives no literal). */
static int ds_req_matcher(const struct ds_matcher *m, uint32_t slot, struct ds_req *out)
{
    memset(out, 0, sizeof(*out));
    size_t n = ds_matcher_literals(m, NULL, 0);
    if (n == 0) {
        out->none = true;
        return 0;
    }
    struct ds_literal *lits = calloc(n, sizeof(*lits));
    if (!lits)
        return RP_ERR_NOMEM;
    ds_matcher_literals(m, lits, n);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n && !out->none; i++) {
        struct ds_atom a = {.slot = slot, .kind = (uint8_t)lits[i].kind, .bytes = lits[i].bytes};
        size_t len = lits[i].len;
        if (len == 0 && (a.kind != DS_LIT_EXACT || slot == DS_IX_KEYWORDS)) {
            out->none = true; /* an empty affix holds on any value */
            break;
        }
        /* Past the automaton's pattern cap a shorter piece is still
         * required: the head of a prefix or substring, the tail of a
         * suffix. */
        if (a.kind != DS_LIT_EXACT && len > DS_AC_PATTERN_MAX) {
            if (a.kind == DS_LIT_SUFFIX)
                a.bytes += len - DS_AC_PATTERN_MAX;
            len = DS_AC_PATTERN_MAX;
        }
        if (len > UINT32_MAX) {
            out->none = true;
            break;
        }
        a.len = (uint32_t)len;
        rc = ds_req_add(out, &a);
    }
    free(lits);
    if (out->none) {
        free(out->a);
        out->a = NULL;
        out->n = out->cap = 0;
    }
    return rc;
}

static int ds_req_field(const struct ds_cfield *cf, struct ds_req *out)
{
    memset(out, 0, sizeof(*out));
    if (cf->konst >= 0 || (!cf->keyword && cf->slot == DS_NOSLOT) || cf->ref_slots) {
        out->none = true;
        return 0;
    }
    uint32_t slot = cf->keyword ? DS_IX_KEYWORDS : cf->slot;
    uint32_t mods = ds_field_mods(cf->f);
    if (mods & DS_MODBIT(DS_MOD_NEQ)) {
        out->none = true;
        return 0;
    }
    bool all = (mods & DS_MODBIT(DS_MOD_ALL)) != 0;
    if (all)
        out->none = true;
    size_t n = ds_field_count(cf->f);
    for (size_t i = 0; i < n; i++) {
        struct ds_req one;
        int rc = ds_req_matcher(ds_field_matcher(cf->f, i), slot, &one);
        if (rc == 0 && all)
            ds_req_pick(out, &one);
        else if (rc == 0)
            rc = ds_req_union(out, &one);
        if (rc) {
            ds_req_free(&one);
            return rc;
        }
        if (!all && out->none)
            break;
    }
    return 0;
}

static int ds_req_sel(const struct ds_crule *r, uint32_t si, struct ds_req *out)
{
    memset(out, 0, sizeof(*out));
    const struct ds_csel *s = &r->sels[si];
    if (s->konst >= 0) {
        out->none = true;
        return 0;
    }
    for (uint32_t g = s->first; g < s->first + s->n && !out->none; g++) {
        const struct ds_cgroup *grp = &r->groups[g];
        if (grp->konst == 0)
            continue; /* never holds: adds nothing to the OR */
        struct ds_req best = {.none = true};
        for (uint32_t k = grp->first; grp->konst < 0 && k < grp->first + grp->n; k++) {
            struct ds_req one;
            int rc = ds_req_field(&r->fields[k], &one);
            if (rc) {
                ds_req_free(&best);
                return rc;
            }
            ds_req_pick(&best, &one);
        }
        int rc = ds_req_union(out, &best);
        if (rc)
            return rc;
    }
    return 0;
}

static int ds_req_node(const struct ds_crule *r, uint32_t ni, struct ds_req *out)
{
    memset(out, 0, sizeof(*out));
    const struct ds_cnode *n = &r->nodes[ni];
    switch (n->op) {
    case DS_CO_SEL:
        return ds_req_sel(r, n->arg, out);
    case DS_CO_AND: {
        out->none = true;
        for (uint32_t i = 0; i < n->n; i++) {
            struct ds_req one;
            int rc = ds_req_node(r, r->kids[n->arg + i], &one);
            if (rc)
                return rc;
            ds_req_pick(out, &one);
        }
        return 0;
    }
    case DS_CO_OR:
        for (uint32_t i = 0; i < n->n && !out->none; i++) {
            struct ds_req one;
            int rc = ds_req_node(r, r->kids[n->arg + i], &one);
            if (rc == 0)
                rc = ds_req_union(out, &one);
            if (rc)
                return rc;
        }
        return 0;
    default:
        /* NOT: what must be absent says nothing about what is present.
         * TRUE: holds on everything. FALSE: a dead rule, never indexed. */
        out->none = true;
        return 0;
    }
}

/* ---- the index ---- */

/* One rule an automaton pattern or an exact value stands for. */
struct ds_ix_post {
    uint32_t rule;
    uint8_t kind;  /* enum ds_lit_kind, for automaton hits */
    uint32_t next; /* the next posting of the same exact value, or DS_NOSLOT */
};

struct ds_ix_field {
    uint32_t slot;
    struct ds_strmap exact; /* folded value -> first posting */
    struct ds_ac *ac;       /* pattern id -> posting */
    bool has_ac;
};

struct ds_ix_bucket {
    struct ds_ix_field *fields;
    uint32_t n_fields;
    struct ds_ac *kw; /* keyword literals, or NULL */
    uint32_t *always; /* rules without a requirement, in load order */
    uint32_t n_always;
};

struct ds_index {
    struct ds_ix_bucket b[DS_BUCKETS];
    struct ds_ix_post *posts;
    uint32_t n_posts, cap_posts;
    uint32_t *mark; /* per rule: the generation it was marked a candidate in */
    uint32_t *cand; /* this event's candidates */
    uint32_t n_cand;
    uint32_t *order; /* merge scratch */
    /* The automata's scratch (ds_ac_scan_first): one entry per state of the
     * largest, stamped with seen_gen, a new one per scan. */
    uint32_t *seen;
    uint32_t n_seen, seen_gen;
    size_t mem;
};

static int ds_ix_post(struct ds_index *ix, uint32_t rule, uint8_t kind, uint32_t next, uint32_t *id)
{
    if (ix->n_posts == ix->cap_posts) {
        uint32_t ncap = ix->cap_posts ? ix->cap_posts * 2 : 256;
        struct ds_ix_post *np = realloc(ix->posts, ncap * sizeof(*np));
        if (!np)
            return RP_ERR_NOMEM;
        ix->posts = np;
        ix->cap_posts = ncap;
    }
    ix->posts[ix->n_posts] = (struct ds_ix_post){.rule = rule, .kind = kind, .next = next};
    *id = ix->n_posts++;
    return 0;
}

static struct ds_ix_field *ds_ix_field_of(struct ds_ix_bucket *b, uint32_t slot, int *rc)
{
    for (uint32_t i = 0; i < b->n_fields; i++)
        if (b->fields[i].slot == slot)
            return &b->fields[i];
    struct ds_ix_field *nf = realloc(b->fields, (b->n_fields + 1) * sizeof(*nf));
    if (!nf) {
        *rc = RP_ERR_NOMEM;
        return NULL;
    }
    b->fields = nf;
    struct ds_ix_field *f = &b->fields[b->n_fields];
    memset(f, 0, sizeof(*f));
    f->slot = slot;
    ds_strmap_init(&f->exact, true);
    if ((*rc = ds_ac_create(&f->ac)) != 0)
        return NULL;
    b->n_fields++;
    return f;
}

/* Puts one atom of rule into bucket b. */
static int ds_ix_add_atom(struct ds_index *ix, struct ds_ix_bucket *b, uint32_t rule,
                          const struct ds_atom *a)
{
    int rc = 0;
    uint32_t id;
    if (a->slot == DS_IX_KEYWORDS) {
        if (!b->kw && (rc = ds_ac_create(&b->kw)) != 0)
            return rc;
        if ((rc = ds_ix_post(ix, rule, a->kind, DS_NOSLOT, &id)) != 0)
            return rc;
        return ds_ac_add(b->kw, a->bytes, a->len, id);
    }
    struct ds_ix_field *f = ds_ix_field_of(b, a->slot, &rc);
    if (!f)
        return rc;
    if (a->kind == DS_LIT_EXACT) {
        uint32_t *head;
        bool existed;
        if ((rc = ds_strmap_put(&f->exact, a->bytes, a->len, DS_NOSLOT, &head, &existed)) != 0)
            return rc;
        uint32_t old = *head;
        /* A rule may list one value twice: one posting is enough. */
        if (old != DS_NOSLOT && ix->posts[old].rule == rule)
            return 0;
        if ((rc = ds_ix_post(ix, rule, a->kind, old, &id)) != 0)
            return rc;
        /* The posting array may have moved, the map has not. */
        *ds_strmap_get(&f->exact, a->bytes, a->len) = id;
        return 0;
    }
    if ((rc = ds_ix_post(ix, rule, a->kind, DS_NOSLOT, &id)) != 0)
        return rc;
    f->has_ac = true;
    return ds_ac_add(f->ac, a->bytes, a->len, id);
}

void ds_index_destroy(struct ds_index *ix)
{
    if (!ix)
        return;
    for (int k = 0; k < DS_BUCKETS; k++) {
        struct ds_ix_bucket *b = &ix->b[k];
        for (uint32_t i = 0; i < b->n_fields; i++) {
            ds_strmap_free(&b->fields[i].exact);
            ds_ac_destroy(b->fields[i].ac);
        }
        free(b->fields);
        ds_ac_destroy(b->kw);
        free(b->always);
    }
    free(ix->posts);
    free(ix->mark);
    free(ix->cand);
    free(ix->order);
    free(ix->seen);
    free(ix);
}

int ds_index_build(struct ds_engine *eng, struct ds_index **out)
{
    *out = NULL;
    struct ds_index *ix = calloc(1, sizeof(*ix));
    if (!ix)
        return RP_ERR_NOMEM;
    uint32_t nr = eng->n_rules ? eng->n_rules : 1;
    ix->mark = calloc(nr, sizeof(*ix->mark));
    ix->cand = calloc(nr, sizeof(*ix->cand));
    ix->order = calloc(nr, sizeof(*ix->order));
    int rc = (!ix->mark || !ix->cand || !ix->order) ? RP_ERR_NOMEM : 0;
    for (int k = 0; rc == 0 && k < DS_BUCKETS; k++) {
        if (eng->n_bucket[k] && !(ix->b[k].always = calloc(eng->n_bucket[k], sizeof(uint32_t))))
            rc = RP_ERR_NOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < eng->n_rules; i++) {
        const struct ds_crule *r = eng->rules[i];
        if (r->dead)
            continue;
        struct ds_req req;
        rc = ds_req_node(r, r->root, &req);
        if (rc)
            break;
        uint32_t types = ds_crule_types(eng, r);
        for (int t = 0; rc == 0 && t < DS_EV_COUNT; t++) {
            if (!(types & (1u << t)))
                continue;
            struct ds_ix_bucket *b = &ix->b[t];
            if (req.none) {
                b->always[b->n_always++] = i;
                continue;
            }
            for (uint32_t k = 0; rc == 0 && k < req.n; k++) {
                rc = ds_ix_add_atom(ix, b, i, &req.a[k]);
                if (rc == RP_ERR_RANGE) {
                    /* Past a cap of the automaton or the hash map: the rule
                     * runs on every event, so that one rule pack with a
                     * million literals slows the index down rather than
                     * making the whole set fail to build. Its atoms already
                     * in may still mark it; the merge allows for that. */
                    b->always[b->n_always++] = i;
                    rc = 0;
                    break;
                }
            }
        }
        ds_req_free(&req);
    }
    for (int k = 0; rc == 0 && k < DS_BUCKETS; k++) {
        struct ds_ix_bucket *b = &ix->b[k];
        for (uint32_t i = 0; rc == 0 && i < b->n_fields; i++) {
            rc = ds_ac_build(b->fields[i].ac);
            ix->mem += ds_ac_memory(b->fields[i].ac) + ds_strmap_memory(&b->fields[i].exact);
            if (ds_ac_state_count(b->fields[i].ac) > ix->n_seen)
                ix->n_seen = ds_ac_state_count(b->fields[i].ac);
        }
        if (rc == 0 && b->kw) {
            rc = ds_ac_build(b->kw);
            ix->mem += ds_ac_memory(b->kw);
            if (ds_ac_state_count(b->kw) > ix->n_seen)
                ix->n_seen = ds_ac_state_count(b->kw);
        }
        ix->mem += b->n_fields * sizeof(*b->fields) + eng->n_bucket[k] * sizeof(uint32_t);
    }
    if (rc == 0 && !(ix->seen = calloc(ix->n_seen ? ix->n_seen : 1, sizeof(*ix->seen))))
        rc = RP_ERR_NOMEM;
    ix->mem += (size_t)ix->n_seen * sizeof(*ix->seen);
    if (rc) {
        ds_index_destroy(ix);
        return rc;
    }
    ix->mem += sizeof(*ix) + ix->cap_posts * sizeof(*ix->posts) + 3 * (size_t)nr * sizeof(uint32_t);
    *out = ix;
    return 0;
}

void ds_index_forget(struct ds_index *ix, uint32_t n_rules)
{
    memset(ix->mark, 0, (n_rules ? n_rules : 1) * sizeof(*ix->mark));
}

size_t ds_index_memory(const struct ds_index *ix)
{
    return ix ? ix->mem : 0;
}

/* ---- per event ---- */

struct ds_ix_scan {
    struct ds_index *ix;
    uint32_t gen;
    size_t value_len;
};

static inline void ds_ix_mark(struct ds_index *ix, uint32_t gen, uint32_t rule)
{
    if (ix->mark[rule] != gen) {
        ix->mark[rule] = gen;
        ix->cand[ix->n_cand++] = rule;
    }
}

static int ds_ix_hit(void *ctx, uint32_t id, size_t end, size_t len)
{
    struct ds_ix_scan *s = ctx;
    const struct ds_ix_post *p = &s->ix->posts[id];
    bool ok;
    switch (p->kind) {
    case DS_LIT_PREFIX:
        ok = end == len;
        break;
    case DS_LIT_SUFFIX:
        ok = end == s->value_len;
        break;
    case DS_LIT_EXACT:
        ok = end == len && end == s->value_len;
        break;
    default:
        ok = true;
    }
    if (ok)
        ds_ix_mark(s->ix, s->gen, p->rule);
    return 0;
}

/* One value through an automaton: only the hits the index needs (each
 * pattern's first occurrence and what ends at the value's end), so that a
 * long value of one repeated byte against patterns that are suffixes of
 * each other costs its length plus the patterns, not their product. */
static void ds_ix_scan_value(struct ds_index *ix, const struct ds_ac *ac, const char *v, size_t len,
                             struct ds_ix_scan *s)
{
    if (++ix->seen_gen == 0) {
        memset(ix->seen, 0, (ix->n_seen ? ix->n_seen : 1) * sizeof(*ix->seen));
        ix->seen_gen = 1;
    }
    s->value_len = len;
    (void)ds_ac_scan_first(ac, v, len, ix->seen, ix->seen_gen, ds_ix_hit, s);
}

int ds_index_eval(struct ds_engine *eng, struct ds_index *ix, int bi,
                  int (*fn)(struct ds_engine *eng, uint32_t rule, void *ctx), void *ctx)
{
    struct ds_ix_bucket *b = &ix->b[bi];
    struct ds_ix_scan s = {.ix = ix, .gen = eng->gen};
    ix->n_cand = 0;
    for (uint32_t i = 0; i < b->n_fields; i++) {
        const struct ds_ix_field *f = &b->fields[i];
        const char *v;
        size_t len;
        if (!ds_eval_slot(eng, f->slot, &v, &len))
            continue;
        for (const uint32_t *head = ds_strmap_get(&f->exact, v, len); head && *head != DS_NOSLOT;
             head = &ix->posts[*head].next)
            ds_ix_mark(ix, s.gen, ix->posts[*head].rule);
        if (f->has_ac)
            ds_ix_scan_value(ix, f->ac, v, len, &s);
    }
    const struct ds_view *view = eng->view;
    if (b->kw && view->string_at) {
        const char *v;
        size_t len;
        for (uint32_t i = 0; view->string_at(view->ctx, i, &v, &len) == 1; i++)
            ds_ix_scan_value(ix, b->kw, v ? v : "", v ? len : 0, &s);
    }
    /* The candidates in load order: sorted when they are few, else read
     * off the marks in one pass over the bucket. */
    uint32_t nc = ix->n_cand;
    uint32_t *cand = ix->cand;
    if (nc > 64) {
        nc = 0;
        for (uint32_t i = 0; i < eng->n_bucket[bi]; i++)
            if (ix->mark[eng->bucket[bi][i]] == s.gen)
                ix->order[nc++] = eng->bucket[bi][i];
        cand = ix->order;
    } else {
        for (uint32_t i = 1; i < nc; i++) {
            uint32_t x = cand[i], j = i;
            for (; j > 0 && cand[j - 1] > x; j--)
                cand[j] = cand[j - 1];
            cand[j] = x;
        }
    }
    /* Merge with the rules that always run; both lists ascend, and a rule
     * past a cap may be in both (run once). */
    uint32_t i = 0, k = 0;
    while (i < nc || k < b->n_always) {
        uint32_t r;
        if (k >= b->n_always || (i < nc && cand[i] < b->always[k])) {
            r = cand[i++];
        } else {
            r = b->always[k++];
            if (i < nc && cand[i] == r)
                i++;
        }
        int rc = fn(eng, r, ctx);
        if (rc)
            return rc;
    }
    return 0;
}
