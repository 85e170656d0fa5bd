/*
 * plugins/detector_sigma/eval.c - evaluating compiled rules against one
 * event. An evaluation stamps a new generation: the event's field values
 * (asked of the view at most once per slot) and the results of selections
 * are remembered under it, so nothing is cleared or allocated per event.
 */
#include "engine_int.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <string.h>

void ds_eval_begin(struct ds_engine *eng, const struct ds_view *view)
{
    eng->view = view;
    if (++eng->gen == 0) {
        /* After 2^32 evaluations a stale stamp could look current. */
        memset(eng->slot_gen, 0, (eng->n_slots ? eng->n_slots : 1) * sizeof(*eng->slot_gen));
        memset(eng->sel_gen, 0, (eng->n_sels ? eng->n_sels : 1) * sizeof(*eng->sel_gen));
        if (eng->index)
            ds_index_forget(eng->index, eng->n_rules);
        eng->gen = 1;
    }
}

bool ds_eval_slot(struct ds_engine *eng, uint32_t slot, const char **v, size_t *len)
{
    if (eng->slot_gen[slot] != eng->gen) {
        const char *val = NULL;
        size_t n = 0;
        const struct ds_view *view = eng->view;
        if (!view->get || view->get(view->ctx, slot, &val, &n) != 1)
            val = NULL;
        else if (!val)
            val = ""; /* present and empty: not the absent field NULL stands for */
        eng->slot_val[slot] = val;
        eng->slot_len[slot] = val ? n : 0;
        eng->slot_gen[slot] = eng->gen;
    }
    *v = eng->slot_val[slot];
    *len = eng->slot_len[slot];
    return *v != NULL;
}

/* A keyword item: its values searched in the event's string values. Under
 * `all` each value must be found in one of them, not all in one. */
static bool ds_eval_keyword(struct ds_engine *eng, struct ds_field *f)
{
    const struct ds_view *view = eng->view;
    if (!view->string_at)
        return false;
    const char *v;
    size_t n;
    if (!(ds_field_mods(f) & DS_MODBIT(DS_MOD_ALL))) {
        for (uint32_t i = 0; view->string_at(view->ctx, i, &v, &n) == 1; i++)
            if (ds_field_match(f, v ? v : "", v ? n : 0))
                return true;
        return false;
    }
    size_t nm = ds_field_count(f);
    for (size_t k = 0; k < nm; k++) {
        const struct ds_matcher *m = ds_field_matcher(f, k);
        bool found = false;
        for (uint32_t i = 0; !found && view->string_at(view->ctx, i, &v, &n) == 1; i++)
            found = ds_matcher_match(m, v ? v : "", v ? n : 0);
        if (!found)
            return false;
    }
    return true;
}

static bool ds_eval_field(struct ds_engine *eng, const struct ds_cfield *cf)
{
    if (cf->konst >= 0)
        return cf->konst != 0;
    if (cf->keyword)
        return ds_eval_keyword(eng, cf->f);
    const char *v;
    size_t n;
    ds_eval_slot(eng, cf->slot, &v, &n);
    if (!cf->ref_slots)
        return ds_field_match(cf->f, v, n);
    size_t nr = ds_field_count(cf->f);
    for (size_t i = 0; i < nr; i++) {
        eng->ref_val[i] = NULL;
        eng->ref_len[i] = 0;
        if (cf->ref_slots[i] != DS_NOSLOT)
            ds_eval_slot(eng, cf->ref_slots[i], &eng->ref_val[i], &eng->ref_len[i]);
    }
    return ds_field_match_ref(cf->f, v, n, eng->ref_val, eng->ref_len);
}

static bool ds_eval_sel(struct ds_engine *eng, const struct ds_crule *r, uint32_t si)
{
    const struct ds_csel *s = &r->sels[si];
    if (s->konst >= 0)
        return s->konst != 0;
    uint32_t memo = r->sel_base + si;
    if (eng->sel_gen[memo] == eng->gen)
        return eng->sel_val[memo] != 0;
    bool any = false;
    for (uint32_t g = s->first; !any && g < s->first + s->n; g++) {
        const struct ds_cgroup *grp = &r->groups[g];
        if (grp->konst >= 0) {
            any = grp->konst != 0;
            continue;
        }
        bool all = true;
        for (uint32_t k = grp->first; all && k < grp->first + grp->n; k++)
            all = ds_eval_field(eng, &r->fields[k]);
        any = all;
    }
    eng->sel_gen[memo] = eng->gen;
    eng->sel_val[memo] = any;
    return any;
}

static bool ds_eval_node(struct ds_engine *eng, const struct ds_crule *r, uint32_t ni)
{
    const struct ds_cnode *n = &r->nodes[ni];
    switch (n->op) {
    case DS_CO_FALSE:
        return false;
    case DS_CO_TRUE:
        return true;
    case DS_CO_SEL:
        return ds_eval_sel(eng, r, n->arg);
    case DS_CO_NOT:
        return !ds_eval_node(eng, r, r->kids[n->arg]);
    case DS_CO_AND:
        for (uint32_t i = 0; i < n->n; i++)
            if (!ds_eval_node(eng, r, r->kids[n->arg + i]))
                return false;
        return true;
    default:
        for (uint32_t i = 0; i < n->n; i++)
            if (ds_eval_node(eng, r, r->kids[n->arg + i]))
                return true;
        return false;
    }
}

bool ds_eval_crule(struct ds_engine *eng, const struct ds_crule *r)
{
    if (r->dead)
        return false;
    return ds_eval_node(eng, r, r->root);
}

struct ds_eval_run {
    ds_match_fn match;
    void *ctx;
    struct ds_eval_stats *stats;
};

static int ds_eval_one(struct ds_engine *eng, uint32_t ri, void *arg)
{
    struct ds_eval_run *run = arg;
    const struct ds_crule *r = eng->rules[ri];
    run->stats->candidates++;
    if (!ds_eval_crule(eng, r))
        return 0;
    run->stats->matched++;
    return run->match ? run->match(run->ctx, r) : 0;
}

int ds_engine_eval(struct ds_engine *eng, int type, const struct ds_view *view, ds_match_fn match,
                   void *ctx, struct ds_eval_stats *stats)
{
    struct ds_eval_stats local;
    if (!stats)
        stats = &local;
    stats->candidates = 0;
    stats->matched = 0;
    if (!eng->built)
        return RP_ERR_INVAL;
    int b;
    if (eng->opts.any_logsource)
        b = DS_BUCKET_ANY;
    else if (type >= 0 && type < DS_EV_COUNT)
        b = type;
    else
        return 0; /* no rule runs on an event of another type */
    ds_eval_begin(eng, view);
    struct ds_eval_run run = {.match = match, .ctx = ctx, .stats = stats};
    if (eng->index)
        return ds_index_eval(eng, eng->index, b, ds_eval_one, &run);
    for (uint32_t i = 0; i < eng->n_bucket[b]; i++) {
        int rc = ds_eval_one(eng, eng->bucket[b][i], &run);
        if (rc)
            return rc;
    }
    return 0;
}

bool ds_engine_eval_rule(struct ds_engine *eng, const struct ds_crule *rule,
                         const struct ds_view *view)
{
    if (!eng->built)
        return false;
    ds_eval_begin(eng, view);
    return ds_eval_crule(eng, rule);
}

int ds_engine_explain(struct ds_engine *eng, const struct ds_crule *rule,
                      const struct ds_view *view, char *buf, size_t buflen)
{
    if (!buflen)
        return RP_ERR_INVAL;
    buf[0] = '\0';
    if (!eng->built)
        return RP_ERR_INVAL;
    ds_eval_begin(eng, view);
    size_t len = 0;
    for (uint32_t i = 0; i < rule->n_sels; i++) {
        if (!ds_eval_sel(eng, rule, i))
            continue;
        int w = snprintf(buf + len, buflen - len, "%s%s", len ? ", " : "", rule->sels[i].name);
        if (w < 0 || (size_t)w >= buflen - len)
            break; /* cut: buf stays NUL-terminated */
        len += (size_t)w;
    }
    return 0;
}
