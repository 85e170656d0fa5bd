/*
 * plugins/detector_sigma/rule.c - the rule loader of rule.h. libyaml's event
 * parser builds a small tree of the file (refusing aliases and enforcing the
 * caps as it goes), then the tree is read into a struct ds_rule.
 */
#include "rule.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The loader's YAML tree lives in a scratch arena of its own, freed at the
 * end of the load; nodes (about 64 bytes) and scalars of a 1 MiB file fit. */
#define DS_SCRATCH_MAX (32u * 1024u * 1024u)

static const char *const ds_reason_names[DS_REASON_COUNT] = {
    [DS_LOADED] = "loaded",
    [DS_SKIP_IO] = "io_error",
    [DS_SKIP_TOO_LARGE] = "too_large",
    [DS_SKIP_YAML] = "yaml_error",
    [DS_SKIP_YAML_ALIAS] = "yaml_alias",
    [DS_SKIP_RULE_COLLECTION] = "rule_collection",
    [DS_SKIP_NOT_A_RULE] = "not_a_rule",
    [DS_SKIP_CORRELATION] = "correlation_rule",
    [DS_SKIP_FILTER] = "filter_rule",
    [DS_SKIP_BAD_FIELD] = "bad_field",
    [DS_SKIP_BAD_DETECTION] = "bad_detection",
    [DS_SKIP_UNKNOWN_MODIFIER] = "unknown_modifier",
    [DS_SKIP_BAD_MODIFIER] = "bad_modifier",
    [DS_SKIP_BAD_CONDITION] = "bad_condition",
    [DS_SKIP_NOT_LINUX] = "not_linux_logsource",
    [DS_SKIP_NOT_COLLECTED] = "logsource_not_collected",
    [DS_SKIP_DUPLICATE_ID] = "duplicate_id",
    [DS_SKIP_PLACEHOLDER] = "placeholder_unset",
};

const char *ds_reason_name(int reason)
{
    if (reason < 0 || reason >= DS_REASON_COUNT)
        return "?";
    return ds_reason_names[reason];
}

int ds_reason_class(int reason)
{
    switch (reason) {
    case DS_LOADED:
        return DS_CLASS_LOADED;
    case DS_SKIP_BAD_FIELD:
    case DS_SKIP_BAD_DETECTION:
    case DS_SKIP_UNKNOWN_MODIFIER:
    case DS_SKIP_BAD_MODIFIER:
    case DS_SKIP_BAD_CONDITION:
        return DS_CLASS_LANGUAGE;
    case DS_SKIP_CORRELATION:
    case DS_SKIP_FILTER:
    case DS_SKIP_NOT_LINUX:
    case DS_SKIP_NOT_COLLECTED:
    case DS_SKIP_PLACEHOLDER:
        return DS_CLASS_SCOPE;
    default:
        return DS_CLASS_INPUT;
    }
}

static const char *const ds_logsource_names[DS_LS_COUNT] = {
    [DS_LS_NONE] = "none",
    [DS_LS_PROCESS_CREATION] = "process_creation",
    [DS_LS_FILE_EVENT] = "file_event",
    [DS_LS_FILE_CHANGE] = "file_change",
    [DS_LS_FILE_DELETE] = "file_delete",
    [DS_LS_FILE_RENAME] = "file_rename",
    [DS_LS_NETWORK_CONNECTION] = "network_connection",
};

const char *ds_logsource_name(int ls)
{
    if (ls < 0 || ls >= DS_LS_COUNT)
        return "?";
    return ds_logsource_names[ls];
}

/* ---- the YAML tree ---- */

enum ds_yn_type { DS_YN_SCALAR, DS_YN_MAP, DS_YN_SEQ };

/* A map's children alternate key, value. */
struct ds_yn {
    enum ds_yn_type type;
    int plain; /* a plain scalar without a tag: typed (null, bool, int) */
    uint32_t line, col;
    const char *s; /* scalar text, NUL-terminated */
    size_t len;
    struct ds_yn *first, *last, *next;
    uint32_t n;
};

struct ds_ld {
    const char *name;
    unsigned flags; /* DS_LOAD_* */
    struct ds_load_result *res;
    struct ds_arena scratch;
    struct ds_rule *rule; /* its arena holds what is kept */
    int nomem;
};

__attribute__((format(printf, 5, 6))) static int ds_skip(struct ds_ld *ld, enum ds_reason reason,
                                                         const struct ds_yn *at, const char *field,
                                                         const char *fmt, ...)
{
    struct ds_load_result *res = ld->res;
    res->reason = reason;
    char what[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (at)
        snprintf(res->msg, sizeof(res->msg), "%s:%u:%u: %s%s%s", ld->name, at->line, at->col,
                 field ? field : "", field ? ": " : "", what);
    else
        snprintf(res->msg, sizeof(res->msg), "%s: %s%s%s", ld->name, field ? field : "",
                 field ? ": " : "", what);
    return -1;
}

static int ds_nomem(struct ds_ld *ld)
{
    /* The rule arena's cap is the only way a sane machine gets here. */
    ld->nomem = 1;
    return ds_skip(ld, DS_SKIP_TOO_LARGE, NULL, NULL,
                   "the rule needs more than %u MiB once parsed (or memory ran out)",
                   DS_RULE_MEM_MAX / (1024u * 1024u));
}

static void ds_attach(struct ds_yn *parent, struct ds_yn *kid)
{
    if (parent->last)
        parent->last->next = kid;
    else
        parent->first = kid;
    parent->last = kid;
    parent->n++;
}

static int ds_has_anchor(const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        return ev->data.scalar.anchor != NULL;
    case YAML_SEQUENCE_START_EVENT:
        return ev->data.sequence_start.anchor != NULL;
    case YAML_MAPPING_START_EVENT:
        return ev->data.mapping_start.anchor != NULL;
    default:
        return 0;
    }
}

/* Builds the tree of data into *root. Returns 0 or -1 (res filled). */
static int ds_yaml_tree(struct ds_ld *ld, const char *data, size_t len, struct ds_yn **root)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return ds_nomem(ld);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    struct ds_yn *stack[DS_YAML_DEPTH_MAX + 1];
    unsigned depth = 0, nodes = 0, docs = 0;
    int rc = 0, done = 0;
    *root = NULL;
    while (!done && rc == 0) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            struct ds_yn at = {.line = (uint32_t)parser.problem_mark.line + 1,
                               .col = (uint32_t)parser.problem_mark.column + 1};
            if (parser.error == YAML_MEMORY_ERROR)
                rc = ds_nomem(ld);
            else
                rc = ds_skip(ld, DS_SKIP_YAML, &at, NULL, "%s%s%s, expected well-formed YAML",
                             parser.problem ? parser.problem : "malformed YAML",
                             parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        struct ds_yn at = {.line = (uint32_t)ev.start_mark.line + 1,
                           .col = (uint32_t)ev.start_mark.column + 1};
        if (ev.type == YAML_ALIAS_EVENT || ds_has_anchor(&ev)) {
            rc = ds_skip(ld, DS_SKIP_YAML_ALIAS, &at, NULL,
                         "a YAML anchor or alias, expected plain data (Sigma rules do not use "
                         "them and they are refused rather than expanded)");
        } else if (ev.type == YAML_STREAM_END_EVENT) {
            done = 1;
        } else if (ev.type == YAML_DOCUMENT_START_EVENT) {
            if (++docs > 1)
                rc = ds_skip(ld, DS_SKIP_RULE_COLLECTION, &at, NULL,
                             "a second YAML document (a Sigma 1.x rule collection), expected "
                             "one rule per file");
        } else if (ev.type == YAML_SCALAR_EVENT || ev.type == YAML_SEQUENCE_START_EVENT ||
                   ev.type == YAML_MAPPING_START_EVENT) {
            struct ds_yn *n = NULL;
            if (++nodes > DS_YAML_NODES_MAX)
                rc = ds_skip(ld, DS_SKIP_TOO_LARGE, &at, NULL,
                             "more than %u YAML nodes, the cap of a rule", DS_YAML_NODES_MAX);
            else if (ev.type == YAML_SCALAR_EVENT && ev.data.scalar.length > DS_SCALAR_MAX)
                rc = ds_skip(ld, DS_SKIP_TOO_LARGE, &at, NULL,
                             "a scalar of %zu bytes, the cap is %u", ev.data.scalar.length,
                             DS_SCALAR_MAX);
            else if (ev.type != YAML_SCALAR_EVENT && depth >= DS_YAML_DEPTH_MAX)
                rc = ds_skip(ld, DS_SKIP_TOO_LARGE, &at, NULL, "YAML nested deeper than %u levels",
                             DS_YAML_DEPTH_MAX);
            else if (!(n = ds_arena_alloc(&ld->scratch, sizeof(*n))))
                rc = ds_nomem(ld);
            if (n) {
                n->line = at.line;
                n->col = at.col;
                if (ev.type == YAML_SCALAR_EVENT) {
                    n->type = DS_YN_SCALAR;
                    n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                               ev.data.scalar.plain_implicit;
                    n->len = ev.data.scalar.length;
                    n->s =
                        ds_arena_strndup(&ld->scratch, (const char *)ev.data.scalar.value, n->len);
                    if (!n->s)
                        rc = ds_nomem(ld);
                } else {
                    n->type = ev.type == YAML_MAPPING_START_EVENT ? DS_YN_MAP : DS_YN_SEQ;
                }
                if (rc == 0) {
                    if (depth)
                        ds_attach(stack[depth - 1], n);
                    else if (!*root)
                        *root = n;
                    if (n->type != DS_YN_SCALAR)
                        stack[depth++] = n;
                }
            }
        } else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            if (depth)
                depth--;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (rc == 0 && !*root)
        rc = ds_skip(ld, DS_SKIP_NOT_A_RULE, NULL, NULL, "the file is empty, expected a rule");
    return rc;
}

/* ---- reading the tree ---- */

static int ds_is(const struct ds_yn *n, const char *s)
{
    return n && n->type == DS_YN_SCALAR && n->len == strlen(s) && memcmp(n->s, s, n->len) == 0;
}

static int ds_is_null(const struct ds_yn *n)
{
    return n->type == DS_YN_SCALAR && n->plain &&
           (n->len == 0 || ds_is(n, "null") || ds_is(n, "Null") || ds_is(n, "NULL") ||
            ds_is(n, "~"));
}

/* The value of key in map, or NULL. */
static struct ds_yn *ds_get(const struct ds_yn *map, const char *key)
{
    for (struct ds_yn *k = map->first; k && k->next; k = k->next->next)
        if (ds_is(k, key))
            return k->next;
    return NULL;
}

/* Every key of map is a scalar and appears once, and there are at most cap
 * entries. `where` names the map in messages. */
static int ds_check_map(struct ds_ld *ld, const struct ds_yn *map, const char *where, uint32_t cap,
                        enum ds_reason reason)
{
    if (map->n / 2 > cap)
        return ds_skip(ld, DS_SKIP_TOO_LARGE, map, where, "%u entries, the cap is %u", map->n / 2,
                       cap);
    for (struct ds_yn *k = map->first; k && k->next; k = k->next->next) {
        if (k->type != DS_YN_SCALAR)
            return ds_skip(ld, reason, k, where, "a key that is a %s, expected a plain name",
                           k->type == DS_YN_MAP ? "map" : "list");
        for (struct ds_yn *j = map->first; j != k; j = j->next->next)
            if (j->len == k->len && memcmp(j->s, k->s, k->len) == 0)
                return ds_skip(ld, reason, k, where,
                               "key '%.*s' appears twice (first at line %u), expected each once",
                               k->len > 80 ? 80 : (int)k->len, k->s, j->line);
    }
    return 0;
}

/* An optional string field of the top map into *out (NULL when absent). */
static int ds_opt_string(struct ds_ld *ld, const struct ds_yn *top, const char *key,
                         const char **out)
{
    *out = NULL;
    struct ds_yn *v = ds_get(top, key);
    if (!v || ds_is_null(v))
        return 0;
    if (v->type != DS_YN_SCALAR)
        return ds_skip(ld, DS_SKIP_BAD_FIELD, v, key, "a %s, expected a string",
                       v->type == DS_YN_MAP ? "map" : "list");
    *out = ds_arena_strndup(&ld->rule->arena, v->s, v->len);
    return *out ? 0 : ds_nomem(ld);
}

/* An optional list of strings; one string is a list of one. */
static int ds_opt_strings(struct ds_ld *ld, const struct ds_yn *top, const char *key,
                          struct ds_strs *out)
{
    out->v = NULL;
    out->n = 0;
    struct ds_yn *v = ds_get(top, key);
    if (!v || ds_is_null(v))
        return 0;
    if (v->type == DS_YN_MAP)
        return ds_skip(ld, DS_SKIP_BAD_FIELD, v, key, "a map, expected a list of strings");
    uint32_t n = v->type == DS_YN_SCALAR ? 1 : v->n;
    out->v = ds_arena_alloc(&ld->rule->arena, (n ? n : 1) * sizeof(*out->v));
    if (!out->v)
        return ds_nomem(ld);
    for (struct ds_yn *e = v->type == DS_YN_SCALAR ? v : v->first; e;
         e = v->type == DS_YN_SCALAR ? NULL : e->next) {
        if (e->type != DS_YN_SCALAR)
            return ds_skip(ld, DS_SKIP_BAD_FIELD, e, key, "an item that is a %s, expected a string",
                           e->type == DS_YN_MAP ? "map" : "list");
        if (!(out->v[out->n++] = ds_arena_strndup(&ld->rule->arena, e->s, e->len)))
            return ds_nomem(ld);
    }
    return 0;
}

static int ds_parse_int(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i == len)
        return 0;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        if (v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return 0;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 1;
}

static int ds_value(struct ds_ld *ld, const struct ds_yn *n, struct ds_value *v)
{
    v->len = n->len;
    v->s = ds_arena_strndup(&ld->rule->arena, n->s, n->len);
    if (!v->s)
        return ds_nomem(ld);
    v->kind = DS_VAL_STRING;
    if (!n->plain)
        return 0;
    if (ds_is_null(n))
        v->kind = DS_VAL_NULL;
    else if (ds_is(n, "true") || ds_is(n, "True") || ds_is(n, "TRUE"))
        v->kind = DS_VAL_BOOL, v->i = 1;
    else if (ds_is(n, "false") || ds_is(n, "False") || ds_is(n, "FALSE"))
        v->kind = DS_VAL_BOOL, v->i = 0;
    else if (ds_parse_int(n->s, n->len, &v->i))
        v->kind = DS_VAL_INT;
    return 0;
}

static const char *ds_kind_name(const struct ds_yn *n)
{
    return n->type == DS_YN_MAP ? "map" : n->type == DS_YN_SEQ ? "list" : "value";
}

/* The values of one field condition: a scalar or a list of scalars. */
static int ds_values(struct ds_ld *ld, const struct ds_yn *val, const char *where,
                     struct ds_field_cond *fc)
{
    if (val->type == DS_YN_MAP)
        return ds_skip(ld, DS_SKIP_BAD_DETECTION, val, where,
                       "a map, expected a value or a list of values");
    uint32_t n = val->type == DS_YN_SCALAR ? 1 : val->n;
    if (n == 0)
        return ds_skip(ld, DS_SKIP_BAD_DETECTION, val, where,
                       "an empty list, expected at least one value");
    if (n > DS_VALUES_MAX)
        return ds_skip(ld, DS_SKIP_TOO_LARGE, val, where, "%u values, the cap is %u", n,
                       DS_VALUES_MAX);
    fc->values = ds_arena_alloc(&ld->rule->arena, n * sizeof(*fc->values));
    if (!fc->values)
        return ds_nomem(ld);
    for (const struct ds_yn *e = val->type == DS_YN_SCALAR ? val : val->first; e;
         e = val->type == DS_YN_SCALAR ? NULL : e->next) {
        if (e->type != DS_YN_SCALAR)
            return ds_skip(ld, DS_SKIP_BAD_DETECTION, e, where,
                           "a %s inside the values, expected a plain value", ds_kind_name(e));
        if (ds_value(ld, e, &fc->values[fc->n_values++]))
            return -1;
    }
    return 0;
}

/* What a modifier asks of the values: exists takes one boolean, the
 * comparisons numbers. */
static int ds_check_mod_values(struct ds_ld *ld, const struct ds_yn *at, const char *where,
                               const struct ds_field_cond *fc)
{
    uint32_t m = fc->spec.mask;
    if (m & (1u << DS_MOD_EXISTS)) {
        if (fc->n_values != 1 || fc->values[0].kind != DS_VAL_BOOL)
            return ds_skip(ld, DS_SKIP_BAD_MODIFIER, at, where,
                           "exists takes one value, expected true or false");
        if (fc->spec.field_len == 0)
            return ds_skip(ld, DS_SKIP_BAD_MODIFIER, at, where, "exists needs a field name");
    }
    if (m & ((1u << DS_MOD_LT) | (1u << DS_MOD_LTE) | (1u << DS_MOD_GT) | (1u << DS_MOD_GTE))) {
        for (uint32_t i = 0; i < fc->n_values; i++) {
            int64_t ignored;
            const struct ds_value *v = &fc->values[i];
            if (v->kind != DS_VAL_INT && !ds_parse_int(v->s, v->len, &ignored))
                return ds_skip(ld, DS_SKIP_BAD_MODIFIER, at, where,
                               "'%.*s' with lt, lte, gt or gte, expected an integer",
                               v->len > 60 ? 60 : (int)v->len, v->s);
        }
    }
    if ((m & (1u << DS_MOD_FIELDREF)) && fc->spec.field_len == 0)
        return ds_skip(ld, DS_SKIP_BAD_MODIFIER, at, where, "fieldref needs a field name");
    for (uint32_t i = 0; i < fc->n_values; i++)
        if (fc->values[i].kind == DS_VAL_NULL &&
            (m & ~((1u << DS_MOD_CASED) | (1u << DS_MOD_ALL))) != 0)
            return ds_skip(ld, DS_SKIP_BAD_MODIFIER, at, where,
                           "null with the modifier %s, expected a value it can transform",
                           ds_mod_name(fc->spec.mods[0]));
    return 0;
}

/* One map of `field|mods: values` entries into a group. */
static int ds_group(struct ds_ld *ld, const struct ds_yn *map, const char *sel_name,
                    struct ds_group *g)
{
    char where[256];
    snprintf(where, sizeof(where), "detection.%s", sel_name);
    if (map->n == 0)
        return ds_skip(ld, DS_SKIP_BAD_DETECTION, map, where,
                       "an empty map, expected at least one field condition");
    if (ds_check_map(ld, map, where, DS_SEL_ITEMS_MAX, DS_SKIP_BAD_DETECTION))
        return -1;
    g->conds = ds_arena_alloc(&ld->rule->arena, (map->n / 2) * sizeof(*g->conds));
    if (!g->conds)
        return ds_nomem(ld);
    for (const struct ds_yn *k = map->first; k && k->next; k = k->next->next) {
        struct ds_field_cond *fc = &g->conds[g->n_conds++];
        snprintf(where, sizeof(where), "detection.%s.%.*s", sel_name,
                 k->len > 120 ? 120 : (int)k->len, k->s);
        fc->key = ds_arena_strndup(&ld->rule->arena, k->s, k->len);
        if (!fc->key)
            return ds_nomem(ld);
        fc->line = k->line;
        fc->col = k->col;
        const char *bad_at, *why;
        size_t bad_len;
        int mrc = ds_mods_parse(fc->key, k->len, &fc->spec, &bad_at, &bad_len, &why);
        if (mrc == DS_MODS_UNKNOWN)
            return ds_skip(ld, DS_SKIP_UNKNOWN_MODIFIER, k, where,
                           "unknown modifier '%.*s', expected %s", bad_len > 60 ? 60 : (int)bad_len,
                           bad_at, why);
        if (mrc == DS_MODS_TOO_LONG)
            return ds_skip(ld, DS_SKIP_TOO_LARGE, k, where, "a key of %zu bytes, expected %s",
                           k->len, why);
        if (mrc != DS_MODS_OK)
            return ds_skip(ld, DS_SKIP_BAD_MODIFIER, k, where, "modifiers '%.*s', expected %s",
                           bad_len > 60 ? 60 : (int)bad_len, bad_at, why);
        if (fc->spec.field_len == 0) {
            if (fc->spec.n_mods == 0)
                return ds_skip(ld, DS_SKIP_BAD_DETECTION, k, where,
                               "an empty field name, expected a field (or '|modifier' for "
                               "keywords)");
            fc->spec.field = NULL;
        }
        if (ds_values(ld, k->next, where, fc))
            return -1;
        if (ds_check_mod_values(ld, k, where, fc))
            return -1;
    }
    return 0;
}

static int ds_selection(struct ds_ld *ld, const struct ds_yn *key, const struct ds_yn *val,
                        struct ds_selection *sel)
{
    char where[160];
    snprintf(where, sizeof(where), "detection.%.*s", key->len > 120 ? 120 : (int)key->len, key->s);
    sel->name = ds_arena_strndup(&ld->rule->arena, key->s, key->len);
    if (!sel->name)
        return ds_nomem(ld);
    sel->line = key->line;
    sel->col = key->col;
    if (val->type == DS_YN_MAP) {
        sel->kind = DS_SEL_MAP;
        sel->n_groups = 1;
        sel->groups = ds_arena_alloc(&ld->rule->arena, sizeof(*sel->groups));
        if (!sel->groups)
            return ds_nomem(ld);
        return ds_group(ld, val, sel->name, &sel->groups[0]);
    }
    if (val->type == DS_YN_SCALAR && ds_is_null(val))
        return ds_skip(ld, DS_SKIP_BAD_DETECTION, val, where,
                       "nothing, expected a map of field conditions, a list of them or a list "
                       "of keywords");
    if (val->type == DS_YN_SEQ && val->n == 0)
        return ds_skip(ld, DS_SKIP_BAD_DETECTION, val, where,
                       "an empty list, expected maps of field conditions or keywords");
    unsigned maps = 0, scalars = 0;
    if (val->type == DS_YN_SEQ) {
        for (const struct ds_yn *e = val->first; e; e = e->next) {
            if (e->type == DS_YN_MAP)
                maps++;
            else if (e->type == DS_YN_SCALAR)
                scalars++;
            else
                return ds_skip(ld, DS_SKIP_BAD_DETECTION, e, where,
                               "a list inside the list, expected maps or keywords");
        }
        if (maps && scalars)
            return ds_skip(ld, DS_SKIP_BAD_DETECTION, val, where,
                           "maps and plain values mixed, expected a list of maps or a list of "
                           "keywords");
    }
    if (maps) {
        if (maps > DS_SEL_ITEMS_MAX)
            return ds_skip(ld, DS_SKIP_TOO_LARGE, val, where, "%u maps, the cap is %u", maps,
                           DS_SEL_ITEMS_MAX);
        sel->kind = DS_SEL_MAPS;
        sel->groups = ds_arena_alloc(&ld->rule->arena, maps * sizeof(*sel->groups));
        if (!sel->groups)
            return ds_nomem(ld);
        for (const struct ds_yn *e = val->first; e; e = e->next)
            if (ds_group(ld, e, sel->name, &sel->groups[sel->n_groups++]))
                return -1;
        return 0;
    }
    /* Keywords: one group of one condition without a field. */
    sel->kind = DS_SEL_KEYWORDS;
    sel->n_groups = 1;
    sel->groups = ds_arena_alloc(&ld->rule->arena, sizeof(*sel->groups));
    struct ds_field_cond *fc = ds_arena_alloc(&ld->rule->arena, sizeof(*fc));
    if (!sel->groups || !fc)
        return ds_nomem(ld);
    sel->groups[0].conds = fc;
    sel->groups[0].n_conds = 1;
    fc->key = sel->name;
    fc->line = val->line;
    fc->col = val->col;
    if (ds_values(ld, val, where, fc))
        return -1;
    for (uint32_t i = 0; i < fc->n_values; i++)
        if (fc->values[i].kind == DS_VAL_NULL)
            return ds_skip(ld, DS_SKIP_BAD_DETECTION, val, where,
                           "null among keywords, expected text to search for");
    return 0;
}

static int ds_condition(struct ds_ld *ld, const struct ds_yn *cv)
{
    struct ds_rule *r = ld->rule;
    if (cv->type == DS_YN_MAP || (cv->type == DS_YN_SCALAR && ds_is_null(cv)))
        return ds_skip(ld, DS_SKIP_BAD_CONDITION, cv, "detection.condition",
                       "%s, expected a condition or a list of conditions",
                       cv->type == DS_YN_MAP ? "a map" : "nothing");
    uint32_t n = cv->type == DS_YN_SCALAR ? 1 : cv->n;
    if (n == 0)
        return ds_skip(ld, DS_SKIP_BAD_CONDITION, cv, "detection.condition",
                       "an empty list, expected at least one condition");
    if (n > DS_CONDITIONS_MAX)
        return ds_skip(ld, DS_SKIP_TOO_LARGE, cv, "detection.condition",
                       "%u conditions, the cap is %u", n, DS_CONDITIONS_MAX);
    r->conditions = ds_arena_alloc(&r->arena, n * sizeof(*r->conditions));
    struct ds_cond_node **roots = ds_arena_alloc(&r->arena, n * sizeof(*roots));
    if (!r->conditions || !roots)
        return ds_nomem(ld);
    for (const struct ds_yn *e = cv->type == DS_YN_SCALAR ? cv : cv->first; e;
         e = cv->type == DS_YN_SCALAR ? NULL : e->next) {
        if (e->type != DS_YN_SCALAR)
            return ds_skip(ld, DS_SKIP_BAD_CONDITION, e, "detection.condition",
                           "a %s in the list, expected a condition", ds_kind_name(e));
        struct ds_cond_error err;
        int rc = ds_cond_parse(e->s, e->len, r->sel_names, r->n_sels, &r->arena,
                               &roots[r->n_conditions], &err);
        if (rc == RP_ERR_NOMEM)
            return ds_nomem(ld);
        if (rc != 0)
            return ds_skip(ld, DS_SKIP_BAD_CONDITION, e, "detection.condition",
                           "at character %zu of '%.*s': %s", err.pos + 1,
                           e->len > 100 ? 100 : (int)e->len, e->s, err.msg);
        if (!(r->conditions[r->n_conditions++] = ds_arena_strndup(&r->arena, e->s, e->len)))
            return ds_nomem(ld);
    }
    if (n == 1) {
        r->cond = roots[0];
        return 0;
    }
    /* A list of conditions holds when one of them holds (specification). */
    r->cond = ds_arena_alloc(&r->arena, sizeof(*r->cond));
    if (!r->cond)
        return ds_nomem(ld);
    r->cond->op = DS_COND_OR;
    r->cond->kids = roots;
    r->cond->n = n;
    return 0;
}

static int ds_detection(struct ds_ld *ld, const struct ds_yn *det)
{
    struct ds_rule *r = ld->rule;
    if (det->type != DS_YN_MAP)
        return ds_skip(ld, DS_SKIP_BAD_DETECTION, det, "detection",
                       "a %s, expected a map of selections and a condition", ds_kind_name(det));
    if (ds_check_map(ld, det, "detection", DS_MAP_MAX, DS_SKIP_BAD_DETECTION))
        return -1;
    uint32_t n = 0;
    for (const struct ds_yn *k = det->first; k && k->next; k = k->next->next)
        if (!ds_is(k, "condition") && !ds_is(k, "timeframe"))
            n++;
    if (n == 0)
        return ds_skip(ld, DS_SKIP_BAD_DETECTION, det, "detection",
                       "no selection, expected at least one beside the condition");
    r->sels = ds_arena_alloc(&r->arena, n * sizeof(*r->sels));
    r->sel_names = ds_arena_alloc(&r->arena, n * sizeof(*r->sel_names));
    if (!r->sels || !r->sel_names)
        return ds_nomem(ld);
    /* timeframe belonged to Sigma 1.x aggregations; without one it means
     * nothing, and aggregations are refused with the condition. */
    for (const struct ds_yn *k = det->first; k && k->next; k = k->next->next) {
        if (ds_is(k, "condition") || ds_is(k, "timeframe"))
            continue;
        struct ds_selection *sel = &r->sels[r->n_sels];
        if (ds_selection(ld, k, k->next, sel))
            return -1;
        r->sel_names[r->n_sels++] = sel->name;
    }
    const struct ds_yn *cv = ds_get(det, "condition");
    if (!cv)
        return ds_skip(ld, DS_SKIP_BAD_CONDITION, det, "detection.condition",
                       "missing, expected a condition over the selections");
    return ds_condition(ld, cv);
}

static const struct {
    const char *name;
    enum ds_level level;
} ds_levels[] = {
    {"informational", DS_LEVEL_INFO}, {"low", DS_LEVEL_LOW},           {"medium", DS_LEVEL_MEDIUM},
    {"high", DS_LEVEL_HIGH},          {"critical", DS_LEVEL_CRITICAL},
};

static int ds_logsource(struct ds_ld *ld, const struct ds_yn *top)
{
    struct ds_rule *r = ld->rule;
    const struct ds_yn *ls = ds_get(top, "logsource");
    if (!ls)
        return ds_skip(ld, DS_SKIP_BAD_FIELD, top, "logsource",
                       "missing, expected a map with product, category or service");
    if (ls->type != DS_YN_MAP)
        return ds_skip(ld, DS_SKIP_BAD_FIELD, ls, "logsource",
                       "a %s, expected a map with product, category or service", ds_kind_name(ls));
    if (ds_check_map(ld, ls, "logsource", DS_MAP_MAX, DS_SKIP_BAD_FIELD))
        return -1;
    static const char *const keys[] = {"product", "category", "service"};
    const char **outs[] = {&r->product, &r->category, &r->service};
    for (size_t i = 0; i < 3; i++) {
        char where[32];
        snprintf(where, sizeof(where), "logsource.%s", keys[i]);
        const struct ds_yn *v = ds_get(ls, keys[i]);
        *outs[i] = NULL;
        if (!v || ds_is_null(v))
            continue;
        if (v->type != DS_YN_SCALAR)
            return ds_skip(ld, DS_SKIP_BAD_FIELD, v, where, "a %s, expected a name",
                           ds_kind_name(v));
        if (!(*outs[i] = ds_arena_strndup(&r->arena, v->s, v->len)))
            return ds_nomem(ld);
    }
    ld->res->linux_product = r->product && strcmp(r->product, "linux") == 0;
    r->logsource = DS_LS_NONE;
    if (r->category)
        for (int i = DS_LS_NONE + 1; i < DS_LS_COUNT; i++)
            if (strcmp(r->category, ds_logsource_names[i]) == 0)
                r->logsource = (enum ds_logsource)i;
    ld->res->logsource = r->logsource;
    return 0;
}

/* The log source check, last: the rule is valid, is it one this agent runs? */
static int ds_scope(struct ds_ld *ld, const struct ds_yn *top)
{
    struct ds_rule *r = ld->rule;
    const struct ds_yn *ls = ds_get(top, "logsource");
    if (r->product && !ld->res->linux_product)
        return ds_skip(ld, DS_SKIP_NOT_LINUX, ls, "logsource.product",
                       "'%s', expected linux (or no product)", r->product);
    if (r->logsource == DS_LS_NONE || r->service) {
        char what[200];
        snprintf(what, sizeof(what), "%s%s%s%s%s", r->category ? "category " : "",
                 r->category ? r->category : "", r->category && r->service ? ", " : "",
                 r->service ? "service " : "", r->service ? r->service : "");
        return ds_skip(ld, DS_SKIP_NOT_COLLECTED, ls, "logsource",
                       "%s, expected a category collected on Linux (process_creation, "
                       "file_event, file_change, file_delete, file_rename, network_connection) "
                       "and no service",
                       what[0] ? what : "no category");
    }
    return 0;
}

static int ds_rule_read(struct ds_ld *ld, const struct ds_yn *top)
{
    struct ds_rule *r = ld->rule;
    if (top->type != DS_YN_MAP)
        return ds_skip(ld, DS_SKIP_NOT_A_RULE, top, NULL, "a %s, expected a map (a Sigma rule)",
                       ds_kind_name(top));
    if (ds_check_map(ld, top, "(top)", DS_MAP_MAX, DS_SKIP_BAD_FIELD))
        return -1;
    const struct ds_yn *v;
    if ((v = ds_get(top, "correlation")))
        return ds_skip(ld, DS_SKIP_CORRELATION, v, "correlation",
                       "a correlation rule, which this engine does not run yet");
    if ((v = ds_get(top, "filter")) && !ds_get(top, "detection"))
        return ds_skip(ld, DS_SKIP_FILTER, v, "filter",
                       "a filter rule, which this engine does not run yet");
    if (!ds_get(top, "detection"))
        return ds_skip(ld, DS_SKIP_NOT_A_RULE, top, "detection",
                       "missing, expected a Sigma rule with a detection");
    if (ds_opt_string(ld, top, "title", &r->title) || ds_opt_string(ld, top, "id", &r->id) ||
        ds_opt_string(ld, top, "status", &r->status) ||
        ds_opt_string(ld, top, "level", &r->level_name) ||
        ds_opt_string(ld, top, "description", &r->description) ||
        ds_opt_string(ld, top, "author", &r->author) ||
        ds_opt_string(ld, top, "license", &r->license) ||
        ds_opt_strings(ld, top, "references", &r->references) ||
        ds_opt_strings(ld, top, "tags", &r->tags) ||
        ds_opt_strings(ld, top, "falsepositives", &r->falsepositives))
        return -1;
    if (!r->title)
        return ds_skip(ld, DS_SKIP_BAD_FIELD, top, "title", "missing, expected the rule's title");
    if (r->level_name) {
        for (size_t i = 0; i < sizeof(ds_levels) / sizeof(ds_levels[0]); i++)
            if (strcmp(r->level_name, ds_levels[i].name) == 0)
                r->level = ds_levels[i].level;
        if (r->level == DS_LEVEL_NONE)
            return ds_skip(ld, DS_SKIP_BAD_FIELD, ds_get(top, "level"), "level",
                           "'%s', expected informational, low, medium, high or critical",
                           r->level_name);
    }
    if (ds_logsource(ld, top) || ds_detection(ld, ds_get(top, "detection")))
        return -1;
    if (ld->flags & DS_LOAD_ANY_LOGSOURCE)
        return 0;
    return ds_scope(ld, top);
}

int ds_rule_load_buffer(const char *name, const char *data, size_t len, struct ds_rule **out,
                        struct ds_load_result *res)
{
    return ds_rule_load_buffer_flags(name, data, len, 0, out, res);
}

int ds_rule_load_buffer_flags(const char *name, const char *data, size_t len, unsigned flags,
                              struct ds_rule **out, struct ds_load_result *res)
{
    *out = NULL;
    memset(res, 0, sizeof(*res));
    struct ds_ld ld = {.name = name, .flags = flags, .res = res};
    if (len > DS_RULE_FILE_MAX) {
        ds_skip(&ld, DS_SKIP_TOO_LARGE, NULL, NULL, "%zu bytes, the cap of a rule file is %u", len,
                DS_RULE_FILE_MAX);
        return 0;
    }
    struct ds_rule *r = calloc(1, sizeof(*r));
    if (!r)
        return RP_ERR_NOMEM;
    ds_arena_init(&r->arena, DS_RULE_MEM_MAX);
    ds_arena_init(&ld.scratch, DS_SCRATCH_MAX);
    ld.rule = r;
    struct ds_yn *root = NULL;
    int rc = ds_yaml_tree(&ld, data, len, &root);
    if (rc == 0)
        rc = ds_rule_read(&ld, root);
    if (rc == 0) {
        r->path = ds_arena_strndup(&r->arena, name, strlen(name));
        if (!r->path)
            rc = ds_nomem(&ld);
    }
    ds_arena_free(&ld.scratch);
    if (rc != 0) {
        ds_rule_destroy(r);
        return 0;
    }
    res->reason = DS_LOADED;
    res->msg[0] = '\0';
    *out = r;
    return 0;
}

int ds_rule_load_file(const char *path, struct ds_rule **out, struct ds_load_result *res)
{
    *out = NULL;
    memset(res, 0, sizeof(*res));
    struct ds_ld ld = {.name = path, .res = res};
    /* Read once, through one descriptor, at most one byte past the cap. */
    FILE *f = fopen(path, "rbe");
    if (!f) {
        ds_skip(&ld, DS_SKIP_IO, NULL, NULL, "cannot open: %s", strerror(errno));
        return 0;
    }
    char *buf = malloc(DS_RULE_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        return RP_ERR_NOMEM;
    }
    size_t len = fread(buf, 1, DS_RULE_FILE_MAX + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        ds_skip(&ld, DS_SKIP_IO, NULL, NULL, "cannot read the file");
        return 0;
    }
    if (len > DS_RULE_FILE_MAX) {
        free(buf);
        ds_skip(&ld, DS_SKIP_TOO_LARGE, NULL, NULL, "more than %u bytes, the cap of a rule file",
                DS_RULE_FILE_MAX);
        return 0;
    }
    int rc = ds_rule_load_buffer(path, buf, len, out, res);
    free(buf);
    return rc;
}

void ds_rule_destroy(struct ds_rule *rule)
{
    if (!rule)
        return;
    ds_arena_free(&rule->arena);
    free(rule);
}
