/* core/runtime/policy.c - the response policy: parsing, checking and resolving. */
#include "runtime/policy.h"
#include "lib/log.h"
#include "lib/schema.h"

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *key;  /* rule id, tag (lowercased) or ruleset; NULL for the default */
    char *path; /* "policy.rules.<key>", for rampart.policy.matched */
    uint32_t mode;
    uint32_t nactions;
    char *actions[RP__POLICY_MAX_ACTIONS];
};

/* The maps are sorted by key for bsearch. */
struct entry_map {
    struct entry *v;
    size_t n;
};

struct rp__policy {
    atomic_uint refs;
    struct entry dflt;
    struct entry_map rules, tags, rulesets;
};

/* ---- forms ------------------------------------------------------------- */

int rp__policy_is_key(const char *s)
{
    if (!s)
        return 0;
    size_t n = strlen(s);
    if (n == 0 || n > RP__POLICY_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

int rp__policy_is_ruleset(const char *s)
{
    return s && strlen(s) <= RP__POLICY_RULESET_MAX && rp__schema_is_name(s);
}

int rp__policy_is_action(const char *s)
{
    if (!s || !(s[0] >= 'a' && s[0] <= 'z') || strlen(s) > RP__POLICY_ACTION_MAX)
        return 0;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

const char *rp__policy_mode_name(uint32_t mode)
{
    return mode == RP_POLICY_PREVENT ? "prevent" : "detect";
}

/* ASCII lowercase copy into buf (cap bytes with the NUL); 0 if it does not fit. */
static int lower_copy(const char *s, char *buf, size_t cap)
{
    size_t n = strlen(s);
    if (n >= cap)
        return 0;
    for (size_t i = 0; i <= n; i++)
        buf[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    return 1;
}

/* ---- parsing ----------------------------------------------------------- */

struct parse {
    rp__policy_report_fn report;
    void *arg;
    int bad;
    int nomem;
    struct rp__json_seg segv[6]; /* policy.rules.<id>.actions[i] is the deepest */
};

static void bad(struct parse *c, int depth, const char *fmt, ...) RP__PRINTF(3, 4);

static void bad(struct parse *c, int depth, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->bad = 1;
    if (c->report)
        c->report(c->arg, c->segv, depth, msg);
}

static void entry_free(struct entry *e)
{
    free(e->key);
    free(e->path);
    for (uint32_t i = 0; i < e->nactions; i++)
        free(e->actions[i]);
    memset(e, 0, sizeof *e);
}

static void map_free(struct entry_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        entry_free(&m->v[i]);
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static char *dup_str(struct parse *c, const char *s)
{
    char *d = strdup(s);
    if (!d)
        c->nomem = 1;
    return d;
}

/* One entry: {"mode": "detect"|"prevent", "actions": [names]}; segv[0..depth)
 * is its path. */
static void parse_entry(struct parse *c, const json_t *v, int depth, struct entry *e)
{
    char got[96];
    e->mode = RP_POLICY_DETECT;
    if (!json_is_object(v)) {
        rp__json_describe(v, got, sizeof got);
        bad(c, depth, "expected an object {\"mode\": ..., \"actions\": [...]}, got %s", got);
        return;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
        if (strcmp(k, "mode") != 0 && strcmp(k, "actions") != 0) {
            c->segv[depth] = (struct rp__json_seg){.key = k};
            bad(c, depth + 1, "unknown key (allowed: mode, actions)");
        }
    }
    const json_t *mode = json_object_get(v, "mode");
    c->segv[depth] = (struct rp__json_seg){.key = "mode"};
    if (!mode) {
        bad(c, depth + 1, "required key missing");
    } else if (json_is_string(mode) && strcmp(json_string_value(mode), "detect") == 0) {
        e->mode = RP_POLICY_DETECT;
    } else if (json_is_string(mode) && strcmp(json_string_value(mode), "prevent") == 0) {
        e->mode = RP_POLICY_PREVENT;
    } else {
        rp__json_describe(mode, got, sizeof got);
        bad(c, depth + 1, "expected \"detect\" or \"prevent\", got %s", got);
    }
    const json_t *actions = json_object_get(v, "actions");
    if (!actions)
        return;
    c->segv[depth] = (struct rp__json_seg){.key = "actions"};
    if (!json_is_array(actions)) {
        rp__json_describe(actions, got, sizeof got);
        bad(c, depth + 1, "expected an array of action names, got %s", got);
        return;
    }
    if (json_array_size(actions) > RP__POLICY_MAX_ACTIONS) {
        bad(c, depth + 1, "expected at most %u actions, got %zu", RP__POLICY_MAX_ACTIONS,
            json_array_size(actions));
        return;
    }
    size_t i;
    json_t *a;
    json_array_foreach(actions, i, a)
    {
        c->segv[depth + 1] = (struct rp__json_seg){.index = i};
        const char *name = json_string_value(a);
        if (!rp__policy_is_action(name)) {
            rp__json_describe(a, got, sizeof got);
            bad(c, depth + 2,
                "expected an action name (a lowercase letter, then lowercase letters, digits "
                "and '_', at most %u bytes), got %s",
                RP__POLICY_ACTION_MAX, got);
            continue;
        }
        int dup = 0;
        for (uint32_t k2 = 0; k2 < e->nactions; k2++)
            dup |= strcmp(e->actions[k2], name) == 0;
        if (dup) {
            bad(c, depth + 2, "\"%s\" is listed twice", name);
            continue;
        }
        if ((e->actions[e->nactions] = dup_str(c, name)) != NULL)
            e->nactions++;
    }
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->key, ((const struct entry *)b)->key);
}

enum map_kind { MAP_RULES, MAP_TAGS, MAP_RULESETS };

static void parse_map(struct parse *c, const json_t *policy, enum map_kind kind,
                      struct entry_map *out)
{
    static const char *const names[] = {"rules", "tags", "rulesets"};
    static const size_t caps[] = {RP__POLICY_MAX_RULES, RP__POLICY_MAX_TAGS,
                                  RP__POLICY_MAX_RULESETS};
    const char *name = names[kind];
    const json_t *m = json_object_get(policy, name);
    char got[96];
    c->segv[1] = (struct rp__json_seg){.key = name};
    if (!m)
        return;
    if (!json_is_object(m)) {
        rp__json_describe(m, got, sizeof got);
        bad(c, 2, "expected an object of entries keyed by %s, got %s",
            kind == MAP_RULES  ? "rule id"
            : kind == MAP_TAGS ? "tag"
                               : "ruleset",
            got);
        return;
    }
    size_t n = json_object_size(m);
    if (n > caps[kind]) {
        bad(c, 2, "expected at most %zu entries, got %zu", caps[kind], n);
        return;
    }
    if (n == 0)
        return;
    out->v = calloc(n, sizeof *out->v);
    if (!out->v) {
        c->nomem = 1;
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v)
    {
        c->segv[2] = (struct rp__json_seg){.key = k};
        int ok = kind == MAP_RULESETS ? rp__policy_is_ruleset(k) : rp__policy_is_key(k);
        if (!ok) {
            if (kind == MAP_RULESETS)
                bad(c, 3,
                    "expected a ruleset name (letters, digits, '_', '-' and '.', at most %u "
                    "bytes) as the key",
                    RP__POLICY_RULESET_MAX);
            else
                bad(c, 3, "expected a %s of 1 to %u printable characters without spaces as the key",
                    kind == MAP_RULES ? "rule id" : "tag", RP__POLICY_KEY_MAX);
            continue;
        }
        struct entry *e = &out->v[out->n];
        parse_entry(c, v, 3, e);
        char keybuf[RP__POLICY_KEY_MAX + 1];
        const char *key = k;
        if (kind == MAP_TAGS && lower_copy(k, keybuf, sizeof keybuf))
            key = keybuf;
        size_t plen = strlen("policy.") + strlen(name) + 1 + strlen(k) + 1;
        e->key = dup_str(c, key);
        e->path = malloc(plen);
        if (e->path)
            snprintf(e->path, plen, "policy.%s.%s", name, k);
        else
            c->nomem = 1;
        out->n++;
        if (!e->key || !e->path)
            return;
    }
    qsort(out->v, out->n, sizeof *out->v, entry_cmp);
    /* Tags match without regard to case, so two keys that differ only in
     * case would be one entry said twice, perhaps differently. */
    for (size_t i = 1; kind == MAP_TAGS && i < out->n; i++) {
        if (strcmp(out->v[i - 1].key, out->v[i].key) == 0) {
            c->segv[2] = (struct rp__json_seg){.key = out->v[i].path + strlen("policy.tags.")};
            bad(c, 3, "the same tag as \"%s\" (tags match without regard to case)",
                out->v[i - 1].path + strlen("policy.tags."));
        }
    }
}

static void policy_free(rp__policy *p)
{
    if (!p)
        return;
    entry_free(&p->dflt);
    map_free(&p->rules);
    map_free(&p->tags);
    map_free(&p->rulesets);
    free(p);
}

int rp__policy_create(const json_t *policy, rp__policy_report_fn report, void *arg,
                      rp__policy **out)
{
    struct parse c = {.report = report, .arg = arg};
    c.segv[0] = (struct rp__json_seg){.key = "policy"};
    rp__policy *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    atomic_init(&p->refs, 1);
    p->dflt.mode = RP_POLICY_DETECT;
    char got[96];
    if (policy && !json_is_object(policy)) {
        rp__json_describe(policy, got, sizeof got);
        bad(&c, 1, "expected an object (default, rulesets, rules, tags), got %s", got);
    } else if (policy) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)policy, k, v)
        {
            static const char *const known[] = {"default", "rulesets", "rules", "tags"};
            int ok = 0;
            for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                ok |= strcmp(k, known[i]) == 0;
            if (!ok) {
                c.segv[1] = (struct rp__json_seg){.key = k};
                bad(&c, 2, "unknown key (allowed: default, rulesets, rules, tags)");
            }
        }
        const json_t *d = json_object_get(policy, "default");
        if (d) {
            c.segv[1] = (struct rp__json_seg){.key = "default"};
            parse_entry(&c, d, 2, &p->dflt);
        }
        parse_map(&c, policy, MAP_RULESETS, &p->rulesets);
        parse_map(&c, policy, MAP_RULES, &p->rules);
        parse_map(&c, policy, MAP_TAGS, &p->tags);
    }
    if (!c.nomem && !(p->dflt.path = strdup("policy.default")))
        c.nomem = 1;
    if (c.nomem || c.bad || !out) {
        policy_free(p);
        return c.nomem ? RP_ERR_NOMEM : c.bad ? RP_ERR_CONFIG : 0;
    }
    *out = p;
    return 0;
}

void rp__policy_retain(rp__policy *p)
{
    if (p)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
}

void rp__policy_release(rp__policy *p)
{
    if (p && atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
        policy_free(p);
}

/* ---- resolving --------------------------------------------------------- */

static const struct entry *find(const struct entry_map *m, const char *key)
{
    if (!key || m->n == 0)
        return NULL;
    struct entry probe = {.key = (char *)key};
    return bsearch(&probe, m->v, m->n, sizeof *m->v, entry_cmp);
}

static void decide(rp__policy_decision *out, const struct entry *e)
{
    out->mode = e->mode;
    out->nmatched = 1;
    out->matched[0] = e->path;
    if (e->mode != RP_POLICY_PREVENT)
        return;
    for (uint32_t i = 0; i < e->nactions; i++)
        out->actions[out->nactions++] = e->actions[i];
}

void rp__policy_resolve(const rp__policy *p, const char *rule_id, const char *ruleset,
                        const char *const *tags, uint32_t ntags, rp__policy_decision *out)
{
    static const struct entry none = {.path = "policy.default", .mode = RP_POLICY_DETECT};
    memset(out, 0, sizeof *out);
    if (!p) {
        decide(out, &none);
        return;
    }
    const struct entry *e = find(&p->rules, rule_id);
    if (e) {
        decide(out, e);
        return;
    }
    /* Tags: every matching entry is looked at; prevent wins, and the
     * actions of every prevent entry are united, without repeats. */
    const struct entry *first_detect = NULL;
    for (uint32_t t = 0; t < ntags && p->tags.n; t++) {
        char key[RP__POLICY_KEY_MAX + 1];
        if (!tags[t] || !lower_copy(tags[t], key, sizeof key))
            continue;
        const struct entry *te = find(&p->tags, key);
        if (!te)
            continue;
        if (te->mode != RP_POLICY_PREVENT) {
            if (!first_detect)
                first_detect = te;
            continue;
        }
        int seen = 0;
        for (uint32_t m = 0; m < out->nmatched; m++)
            seen |= out->matched[m] == te->path;
        if (seen)
            continue; /* the same tag given twice */
        out->mode = RP_POLICY_PREVENT;
        if (out->nmatched < RP__POLICY_DECISION_MATCHED)
            out->matched[out->nmatched++] = te->path;
        for (uint32_t a = 0; a < te->nactions; a++) {
            int dup = 0;
            for (uint32_t k = 0; k < out->nactions; k++)
                dup |= strcmp(out->actions[k], te->actions[a]) == 0;
            if (dup)
                continue;
            if (out->nactions < RP__POLICY_DECISION_ACTIONS)
                out->actions[out->nactions++] = te->actions[a];
            else
                out->truncated = 1;
        }
    }
    if (out->mode == RP_POLICY_PREVENT)
        return;
    if (first_detect) {
        decide(out, first_detect);
        return;
    }
    e = find(&p->rulesets, ruleset);
    decide(out, e ? e : &p->dflt);
}
