/*
 * plugins/detector_sigma/compile.c - a loaded rule (rule.h) compiled for
 * the engine: every field name mapped to a slot (fieldmap.h), every value
 * list compiled into a matcher (match.h), the condition flattened into an
 * array of nodes over selections.
 *
 * A field the rule can never see here (no mapping, mapped to nothing, or
 * not filled by any collector for any event type of the rule's log source)
 * is absent on every event, so each item on it has a fixed result: the
 * matcher's answer for an absent field (`null` and `exists: false` hold,
 * everything else does not). Those results are folded up through groups,
 * selections and the condition; a rule whose condition folds to false is
 * DEAD and its report names the fields, while a rule that still can match
 * (the field was only in a filter, say) loads.
 */
#define _GNU_SOURCE
#include "engine_int.h"

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A compiled rule's own memory is small (its matchers are allocated by
 * match.c); the cap only bounds a pathological rule. */
#define DS_CRULE_MEM_MAX (16u * 1024u * 1024u)

uint32_t ds_crule_types(const struct ds_engine *eng, const struct ds_crule *r)
{
    if (eng->opts.any_logsource)
        return (1u << DS_EV_COUNT) - 1u;
    uint32_t t = 0;
    for (int i = 0; i < DS_EV_COUNT; i++)
        if (ds_logsource_covers(r->rule->logsource, i))
            t |= 1u << i;
    return t;
}

uint32_t ds_engine_slot(struct ds_engine *eng, const char *name, size_t len)
{
    uint32_t *v = ds_strmap_get(&eng->slots, name, len);
    if (v)
        return *v;
    if (eng->n_slots == eng->cap_slots) {
        uint32_t ncap = eng->cap_slots ? eng->cap_slots * 2 : 32;
        char **nn = realloc(eng->slot_names, ncap * sizeof(*nn));
        if (!nn)
            return DS_NOSLOT;
        eng->slot_names = nn;
        eng->cap_slots = ncap;
    }
    char *copy = strndup(name, len);
    if (!copy)
        return DS_NOSLOT;
    if (ds_strmap_put(&eng->slots, copy, len, eng->n_slots, NULL, NULL) != 0) {
        free(copy);
        return DS_NOSLOT;
    }
    eng->slot_names[eng->n_slots] = copy;
    eng->mem += len + 1;
    return eng->n_slots++;
}

void ds_crule_free(struct ds_crule *r)
{
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n_fields; i++)
        ds_field_destroy(r->fields[i].f);
    ds_arena_free(&r->arena);
    ds_rule_destroy(r->rule);
    free(r);
}

/* ---- fields ---- */

/* Why a field is absent, for the dead report. */
enum ds_absent { DS_AB_NO, DS_AB_UNMAPPED, DS_AB_NOFIELD, DS_AB_NOT_FILLED };

struct ds_cc {
    struct ds_engine *eng;
    struct ds_crule *r;
    uint32_t types;
    struct ds_report *rep;
    const char *sel; /* the selection being compiled, for messages */
    /* The condition while it is built. */
    struct ds_cnode *nodes;
    uint32_t n_nodes, cap_nodes;
    uint32_t *kids;
    uint32_t n_kids, cap_kids;
    int nomem;
};

__attribute__((format(printf, 4, 5))) static void ds_cc_skip(struct ds_cc *c, enum ds_reason why,
                                                             const struct ds_field_cond *fc,
                                                             const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    c->rep->status = DS_ST_SKIPPED;
    c->rep->reason = why;
    if (fc)
        snprintf(c->rep->msg, sizeof(c->rep->msg), "%s:%u:%u: detection.%s.%s: %s", c->r->path,
                 fc->line, fc->col, c->sel ? c->sel : "?", fc->key, what);
    else
        snprintf(c->rep->msg, sizeof(c->rep->msg), "%s: %s", c->r->path, what);
}

/* The ECS name of a Sigma field for this rule, or why it is absent. */
static enum ds_absent ds_cc_map(struct ds_cc *c, const char *sigma, size_t len, const char **ecs,
                                size_t *ecs_len, const struct ds_valuemap **values)
{
    struct ds_engine *eng = c->eng;
    *values = NULL;
    if (eng->opts.raw_fields) {
        *ecs = sigma;
        *ecs_len = len;
        return DS_AB_NO;
    }
    const char *e = ds_fieldmap_get(eng->map, c->r->rule->logsource, sigma, len, values);
    if (!e) {
        *ecs = NULL;
        return DS_AB_UNMAPPED;
    }
    *ecs = e;
    *ecs_len = e == sigma ? len : strlen(e);
    if (*ecs_len == 0)
        return DS_AB_NOFIELD;
    if (eng->opts.filled && !eng->opts.any_logsource) {
        char name[DS_KEY_MAX + 1];
        if (*ecs_len > DS_KEY_MAX)
            return DS_AB_NOT_FILLED;
        memcpy(name, e, *ecs_len);
        name[*ecs_len] = '\0';
        for (int t = 0; t < DS_EV_COUNT; t++)
            if ((c->types & (1u << t)) && eng->opts.filled(eng->opts.filled_ctx, t, name))
                return DS_AB_NO;
        return DS_AB_NOT_FILLED;
    }
    return DS_AB_NO;
}

static enum ds_mvtype ds_cc_mvtype(enum ds_value_kind k)
{
    switch (k) {
    case DS_VAL_NULL:
        return DS_MV_NULL;
    case DS_VAL_BOOL:
        return DS_MV_BOOL;
    case DS_VAL_INT:
        return DS_MV_NUMBER;
    default:
        return DS_MV_STRING;
    }
}

/* Compiles one detection item into cf. Returns 0, 1 when the rule is
 * skipped (rep filled), RP_ERR_NOMEM. */
static int ds_cc_field(struct ds_cc *c, const struct ds_field_cond *fc, struct ds_cfield *cf)
{
    struct ds_engine *eng = c->eng;
    struct ds_crule *r = c->r;
    cf->slot = DS_NOSLOT;
    cf->konst = -1;
    cf->keyword = fc->spec.field == NULL || fc->spec.field_len == 0;
    const struct ds_valuemap *vmap = NULL;
    enum ds_absent absent = DS_AB_NO;
    const char *ecs = NULL;
    size_t ecs_len = 0;
    if (!cf->keyword) {
        cf->sigma = ds_arena_strndup(&r->arena, fc->spec.field, fc->spec.field_len);
        if (!cf->sigma)
            return RP_ERR_NOMEM;
        absent = ds_cc_map(c, fc->spec.field, fc->spec.field_len, &ecs, &ecs_len, &vmap);
        if (ecs && !(cf->ecs = ds_arena_strndup(&r->arena, ecs, ecs_len)))
            return RP_ERR_NOMEM;
    }
    struct ds_mvalue *mv = calloc(fc->n_values ? fc->n_values : 1, sizeof(*mv));
    if (!mv)
        return RP_ERR_NOMEM;
    for (uint32_t i = 0; i < fc->n_values; i++) {
        const struct ds_value *v = &fc->values[i];
        mv[i] = (struct ds_mvalue){.type = ds_cc_mvtype(v->kind),
                                   .str = v->kind == DS_VAL_NULL ? NULL : v->s,
                                   .len = v->kind == DS_VAL_NULL ? 0 : v->len};
        /* A value the agent writes differently (Initiated: true is
         * network.direction: egress). */
        for (const struct ds_valuemap *m = vmap; m && m->sigma && v->kind != DS_VAL_NULL; m++)
            if (strlen(m->sigma) == v->len && strncasecmp(m->sigma, v->s, v->len) == 0) {
                mv[i] =
                    (struct ds_mvalue){.type = DS_MV_STRING, .str = m->ecs, .len = strlen(m->ecs)};
                break;
            }
    }
    /* A keyword is searched for in the event's text, as SIEM backends run
     * Sigma keywords (full-text search), unless its modifiers say how. */
    uint32_t mods = fc->spec.mask;
    const uint32_t how = DS_MODBIT(DS_MOD_CONTAINS) | DS_MODBIT(DS_MOD_STARTSWITH) |
                         DS_MODBIT(DS_MOD_ENDSWITH) | DS_MODBIT(DS_MOD_RE) |
                         DS_MODBIT(DS_MOD_CIDR) | DS_MODBIT(DS_MOD_LT) | DS_MODBIT(DS_MOD_LTE) |
                         DS_MODBIT(DS_MOD_GT) | DS_MODBIT(DS_MOD_GTE) | DS_MODBIT(DS_MOD_EXISTS) |
                         DS_MODBIT(DS_MOD_FIELDREF) | DS_MODBIT(DS_MOD_NEQ) |
                         DS_MODBIT(DS_MOD_BASE64OFFSET);
    if (cf->keyword && !(mods & how))
        mods |= DS_MODBIT(DS_MOD_CONTAINS);
    char err[300];
    int rc = ds_field_compile(mods, mv, fc->n_values, &eng->opts.match, &cf->f, err, sizeof(err));
    free(mv);
    if (rc == RP_ERR_NOMEM)
        return rc;
    if (rc < 0) {
        ds_cc_skip(c,
                   rc == RP_ERR_NOTFOUND ? DS_SKIP_PLACEHOLDER
                   : rc == RP_ERR_RANGE  ? DS_SKIP_TOO_LARGE
                                         : DS_SKIP_BAD_MODIFIER,
                   fc, "%s", err);
        return 1;
    }
    r->mem += ds_field_memory(cf->f);
    if (cf->keyword)
        return 0;
    if (absent != DS_AB_NO) {
        /* The item's answer on an absent field, whatever the event. */
        cf->konst = (int8_t)ds_field_match(cf->f, NULL, 0);
        return 0;
    }
    if ((cf->slot = ds_engine_slot(eng, ecs, ecs_len)) == DS_NOSLOT)
        return RP_ERR_NOMEM;
    if (fc->spec.mask & DS_MODBIT(DS_MOD_FIELDREF)) {
        size_t n = ds_field_count(cf->f);
        cf->ref_slots = ds_arena_alloc(&r->arena, n * sizeof(*cf->ref_slots));
        if (!cf->ref_slots)
            return RP_ERR_NOMEM;
        if (n > eng->max_refs)
            eng->max_refs = (uint32_t)n;
        for (size_t i = 0; i < n; i++) {
            const char *ref = ds_field_ref_name(cf->f, i);
            const char *re = NULL;
            size_t re_len = 0;
            const struct ds_valuemap *unused;
            cf->ref_slots[i] = DS_NOSLOT;
            if (ref && ds_cc_map(c, ref, strlen(ref), &re, &re_len, &unused) == DS_AB_NO &&
                (cf->ref_slots[i] = ds_engine_slot(eng, re, re_len)) == DS_NOSLOT)
                return RP_ERR_NOMEM;
        }
    }
    return 0;
}

/* ---- the condition ---- */

static int ds_cc_node(struct ds_cc *c, uint8_t op, uint32_t arg, uint32_t n, uint32_t *out)
{
    if (c->n_nodes == c->cap_nodes) {
        uint32_t ncap = c->cap_nodes ? c->cap_nodes * 2 : 16;
        struct ds_cnode *nn = realloc(c->nodes, ncap * sizeof(*nn));
        if (!nn)
            return RP_ERR_NOMEM;
        c->nodes = nn;
        c->cap_nodes = ncap;
    }
    c->nodes[c->n_nodes] = (struct ds_cnode){.op = op, .arg = arg, .n = n};
    *out = c->n_nodes++;
    return 0;
}

/* Nodes 0 and 1 of every rule are the constants. */
#define DS_NODE_FALSE 0u
#define DS_NODE_TRUE  1u

static uint32_t ds_cc_sel_node(struct ds_cc *c, uint32_t sel, int *rc)
{
    const struct ds_csel *s = &c->r->sels[sel];
    if (s->konst >= 0)
        return s->konst ? DS_NODE_TRUE : DS_NODE_FALSE;
    uint32_t id = DS_NODE_FALSE;
    *rc = ds_cc_node(c, DS_CO_SEL, sel, 0, &id);
    return id;
}

/* AND or OR of kid nodes, folded: constants are dropped or decide. */
static uint32_t ds_cc_join(struct ds_cc *c, uint8_t op, uint32_t *kid, uint32_t n, int *rc)
{
    uint32_t absorbing = op == DS_CO_AND ? DS_NODE_FALSE : DS_NODE_TRUE;
    uint32_t neutral = op == DS_CO_AND ? DS_NODE_TRUE : DS_NODE_FALSE;
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (kid[i] == absorbing)
            return absorbing;
        if (kid[i] != neutral)
            kid[m++] = kid[i];
    }
    if (m == 0)
        return neutral;
    if (m == 1)
        return kid[0];
    if (c->n_kids + m > c->cap_kids) {
        uint32_t ncap = c->cap_kids ? c->cap_kids : 16;
        while (ncap < c->n_kids + m)
            ncap *= 2;
        uint32_t *nk = realloc(c->kids, ncap * sizeof(*nk));
        if (!nk) {
            *rc = RP_ERR_NOMEM;
            return DS_NODE_FALSE;
        }
        c->kids = nk;
        c->cap_kids = ncap;
    }
    memcpy(c->kids + c->n_kids, kid, m * sizeof(*kid));
    uint32_t id = DS_NODE_FALSE;
    *rc = ds_cc_node(c, op, c->n_kids, m, &id);
    c->n_kids += m;
    return id;
}

static uint32_t ds_cc_cond(struct ds_cc *c, const struct ds_cond_node *n, int *rc)
{
    if (*rc)
        return DS_NODE_FALSE;
    switch (n->op) {
    case DS_COND_SEL:
        return ds_cc_sel_node(c, n->sel, rc);
    case DS_COND_NOT: {
        uint32_t k = ds_cc_cond(c, n->kids[0], rc);
        if (k == DS_NODE_TRUE || k == DS_NODE_FALSE)
            return k == DS_NODE_TRUE ? DS_NODE_FALSE : DS_NODE_TRUE;
        if (c->nodes[k].op == DS_CO_NOT)
            return c->kids[c->nodes[k].arg]; /* not not x is x */
        if (c->n_kids == c->cap_kids) {
            uint32_t ncap = c->cap_kids ? c->cap_kids * 2 : 16;
            uint32_t *nk = realloc(c->kids, ncap * sizeof(*nk));
            if (!nk) {
                *rc = RP_ERR_NOMEM;
                return DS_NODE_FALSE;
            }
            c->kids = nk;
            c->cap_kids = ncap;
        }
        c->kids[c->n_kids] = k;
        uint32_t id = DS_NODE_FALSE;
        *rc = ds_cc_node(c, DS_CO_NOT, c->n_kids++, 1, &id);
        return id;
    }
    default:
        break;
    }
    uint32_t *kid = calloc(n->n ? n->n : 1, sizeof(*kid));
    if (!kid) {
        *rc = RP_ERR_NOMEM;
        return DS_NODE_FALSE;
    }
    bool of = n->op == DS_COND_ONE_OF || n->op == DS_COND_ALL_OF;
    for (uint32_t i = 0; i < n->n && !*rc; i++)
        kid[i] = of ? ds_cc_sel_node(c, n->sels[i], rc) : ds_cc_cond(c, n->kids[i], rc);
    uint8_t op = (n->op == DS_COND_AND || n->op == DS_COND_ALL_OF) ? DS_CO_AND : DS_CO_OR;
    uint32_t id = *rc ? DS_NODE_FALSE : ds_cc_join(c, op, kid, n->n, rc);
    free(kid);
    return id;
}

/* ---- the dead report ---- */

static void ds_cc_dead_msg(struct ds_cc *c)
{
    struct ds_crule *r = c->r;
    char *msg = c->rep->msg;
    size_t cap = sizeof(c->rep->msg), len = 0;
    const char *ls = ds_logsource_name(r->rule->logsource);
    len += (size_t)snprintf(msg, cap, "can never match: ");
    bool first = true;
    for (uint32_t i = 0; i < r->n_fields && len < cap; i++) {
        const struct ds_cfield *f = &r->fields[i];
        if (f->keyword || f->konst < 0)
            continue;
        bool seen = false; /* one line per Sigma field */
        for (uint32_t j = 0; j < i && !seen; j++)
            seen = !r->fields[j].keyword && r->fields[j].konst >= 0 &&
                   strcmp(r->fields[j].sigma, f->sigma) == 0;
        if (seen)
            continue;
        int w;
        if (!f->ecs)
            w = snprintf(msg + len, cap - len, "%sfield %s (Sigma %s) has no ECS mapping for %s",
                         first ? "" : "; ", f->sigma, f->sigma, ls);
        else if (!f->ecs[0])
            w = snprintf(msg + len, cap - len,
                         "%sfield %s (Sigma %s) has no ECS field on this agent (%s)",
                         first ? "" : "; ", f->sigma, f->sigma, ls);
        else
            w = snprintf(msg + len, cap - len, "%sfield %s (Sigma %s) is not filled for %s",
                         first ? "" : "; ", f->ecs, f->sigma, ls);
        if (w < 0)
            break;
        len += (size_t)w;
        first = false;
    }
    if (first && len < cap)
        snprintf(msg + len, cap - len, "the condition is always false");
}

/* ---- the rule ---- */

int ds_crule_compile(struct ds_engine *eng, struct ds_rule *rule, const char *path,
                     struct ds_report *rep, struct ds_crule **out)
{
    *out = NULL;
    struct ds_crule *r = calloc(1, sizeof(*r));
    if (!r) {
        ds_rule_destroy(rule);
        return RP_ERR_NOMEM;
    }
    r->rule = rule;
    ds_arena_init(&r->arena, DS_CRULE_MEM_MAX);
    struct ds_cc c = {.eng = eng, .r = r, .rep = rep};
    c.types = ds_crule_types(eng, r);
    int rc = 0;
    if (!(r->path = ds_arena_strndup(&r->arena, path, strlen(path))))
        rc = RP_ERR_NOMEM;
    uint32_t nf = 0, ng = 0;
    for (uint32_t i = 0; i < rule->n_sels; i++) {
        ng += rule->sels[i].n_groups;
        for (uint32_t g = 0; g < rule->sels[i].n_groups; g++)
            nf += rule->sels[i].groups[g].n_conds;
    }
    if (rc == 0) {
        r->fields = ds_arena_alloc(&r->arena, (nf ? nf : 1) * sizeof(*r->fields));
        r->groups = ds_arena_alloc(&r->arena, (ng ? ng : 1) * sizeof(*r->groups));
        r->sels = ds_arena_alloc(&r->arena, (rule->n_sels ? rule->n_sels : 1) * sizeof(*r->sels));
        if (!r->fields || !r->groups || !r->sels)
            rc = RP_ERR_NOMEM;
    }
    for (uint32_t i = 0; rc == 0 && i < rule->n_sels; i++) {
        const struct ds_selection *s = &rule->sels[i];
        struct ds_csel *cs = &r->sels[r->n_sels++];
        c.sel = s->name;
        *cs = (struct ds_csel){.name = s->name, .first = r->n_groups, .n = s->n_groups};
        int8_t sk = 0; /* OR of the groups: false until one may hold */
        for (uint32_t g = 0; rc == 0 && g < s->n_groups; g++) {
            const struct ds_group *grp = &s->groups[g];
            struct ds_cgroup *cg = &r->groups[r->n_groups++];
            *cg = (struct ds_cgroup){.first = r->n_fields, .n = grp->n_conds};
            int8_t gk = 1; /* AND of the fields: true until one may fail */
            for (uint32_t k = 0; rc == 0 && k < grp->n_conds; k++) {
                struct ds_cfield *cf = &r->fields[r->n_fields++];
                rc = ds_cc_field(&c, &grp->conds[k], cf);
                if (cf->konst == 0)
                    gk = 0;
                else if (cf->konst < 0 && gk == 1)
                    gk = -1;
            }
            cg->konst = gk;
            if (gk == 1)
                sk = 1;
            else if (gk < 0 && sk == 0)
                sk = -1;
        }
        cs->konst = sk;
    }
    uint32_t id;
    if (rc == 0)
        rc = ds_cc_node(&c, DS_CO_FALSE, 0, 0, &id);
    if (rc == 0)
        rc = ds_cc_node(&c, DS_CO_TRUE, 0, 0, &id);
    if (rc == 0)
        r->root = ds_cc_cond(&c, rule->cond, &rc);
    if (rc == 0) {
        r->nodes = ds_arena_alloc(&r->arena, c.n_nodes * sizeof(*r->nodes));
        r->kids = ds_arena_alloc(&r->arena, (c.n_kids ? c.n_kids : 1) * sizeof(*r->kids));
        if (!r->nodes || !r->kids) {
            rc = RP_ERR_NOMEM;
        } else {
            memcpy(r->nodes, c.nodes, c.n_nodes * sizeof(*r->nodes));
            if (c.n_kids)
                memcpy(r->kids, c.kids, c.n_kids * sizeof(*r->kids));
            r->n_nodes = c.n_nodes;
        }
    }
    free(c.nodes);
    free(c.kids);
    if (rc < 0) {
        /* RP_ERR_NOMEM: the arena cap of a huge rule, or the machine. */
        ds_cc_skip(&c, DS_SKIP_TOO_LARGE, NULL,
                   "the compiled rule needs more than %u MiB (or memory ran out)",
                   DS_CRULE_MEM_MAX / (1024u * 1024u));
        ds_crule_free(r);
        return 0;
    }
    if (rc > 0) {
        ds_crule_free(r);
        return 0;
    }
    r->dead = r->root == DS_NODE_FALSE;
    rep->status = r->dead ? DS_ST_DEAD : DS_ST_LOADED;
    rep->reason = DS_LOADED;
    rep->msg[0] = '\0';
    if (r->dead)
        ds_cc_dead_msg(&c);
    r->mem += r->arena.used + rule->arena.used + sizeof(*r) + sizeof(*rule);
    *out = r;
    return 0;
}
