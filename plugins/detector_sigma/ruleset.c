/*
 * plugins/detector_sigma/ruleset.c - building one rule set from a config
 * (ruleset.h).
 */
#define _GNU_SOURCE
#include "ruleset.h"

#include "attack.h"
#include "throttle.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Memory of a set's strings and lists (not the engine's). */
#define SET_ARENA_MAX (256u * 1024u * 1024u)
/* The files list grows by doubling up to the engine's own cap. */
#define FILES_MAX DS_DIR_FILES_MAX

static const uint32_t severities[] = {
    [DS_LEVEL_NONE] = RP_SEVERITY_MEDIUM, [DS_LEVEL_INFO] = RP_SEVERITY_INFO,
    [DS_LEVEL_LOW] = RP_SEVERITY_LOW,     [DS_LEVEL_MEDIUM] = RP_SEVERITY_MEDIUM,
    [DS_LEVEL_HIGH] = RP_SEVERITY_HIGH,   [DS_LEVEL_CRITICAL] = RP_SEVERITY_CRITICAL,
};

const char *ds_status_name(int status)
{
    switch (status) {
    case DS_ST_LOADED:
        return "loaded";
    case DS_ST_DEAD:
        return "dead";
    case DS_ST_SKIPPED:
        return "skipped";
    case DS_ST_DISABLED:
        return "disabled";
    default:
        return "?";
    }
}

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

/* Whether s is an id the alert contract takes (and a tag: the same form). */
static int alert_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

const char *ds_rule_alert_id(const struct ds_rule *rule, const char *relpath, char *buf,
                             size_t buflen)
{
    static const char hex[] = "0123456789abcdef";
    if (rule && alert_id_ok(rule->id))
        return rule->id;
    uint8_t d[32];
    rp_util_sha256 s;
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, relpath ? relpath : "", relpath ? strlen(relpath) : 0);
    rp_util_sha256_final(&s, d);
    if (buflen < 23)
        return "sigma-unknown";
    memcpy(buf, "sigma-", 6);
    for (int i = 0; i < 8; i++) {
        buf[6 + 2 * i] = hex[d[i] >> 4];
        buf[7 + 2 * i] = hex[d[i] & 15];
    }
    buf[22] = '\0';
    return buf;
}

/* The build's state, handed to the engine's callbacks. */
struct build {
    const struct ds_conf *conf;
    struct ds_set *set;
    const char *dir; /* the rule_dir being loaded */
    size_t files_cap;
    int nomem;
};

static char *astr(struct ds_set *s, const char *str)
{
    return str ? ds_arena_strndup(&s->arena, str, strlen(str)) : NULL;
}

/* The path of a file under the rule_dir being loaded. */
static const char *relative(const char *dir, const char *path)
{
    size_t n = dir ? strlen(dir) : 0;
    if (n && strncmp(path, dir, n) == 0 && path[n] == '/')
        return path + n + 1;
    return path;
}

static bool on_accept(void *ctx, const struct ds_rule *rule, const char *relpath, char *why,
                      size_t whylen)
{
    struct build *b = ctx;
    char buf[32];
    const char *id = ds_rule_alert_id(rule, relpath, buf, sizeof buf);
    return ds_tune_accept(b->conf, id, rule, relpath, why, whylen);
}

static void on_report(void *ctx, const struct ds_report *rep)
{
    struct build *b = ctx;
    struct ds_set *s = b->set;
    switch (rep->status) {
    case DS_ST_LOADED:
        s->n_loaded++;
        break;
    case DS_ST_DEAD:
        s->n_dead++;
        break;
    case DS_ST_SKIPPED:
        s->n_skipped++;
        break;
    case DS_ST_DISABLED:
        s->n_disabled++;
        break;
    }
    if (s->n_files == b->files_cap) {
        size_t cap = b->files_cap ? b->files_cap * 2 : 64;
        struct ds_file *f = cap <= FILES_MAX ? realloc(s->files, cap * sizeof *f) : NULL;
        if (!f) {
            b->nomem = 1;
            return;
        }
        s->files = f;
        b->files_cap = cap;
    }
    struct ds_file *f = &s->files[s->n_files];
    memset(f, 0, sizeof *f);
    f->path = astr(s, rep->path);
    f->status = rep->status;
    f->reason = rep->status == DS_ST_SKIPPED ? ds_reason_name(rep->reason) : NULL;
    f->msg = astr(s, rep->msg);
    if (rep->rule) {
        char buf[32];
        f->id = astr(s, ds_rule_alert_id(rep->rule, relative(b->dir, rep->path), buf, sizeof buf));
        f->title = astr(s, rep->rule->title);
        f->level = ds_level_name(rep->rule->level == DS_LEVEL_NONE ? DS_LEVEL_MEDIUM
                                                                   : (int)rep->rule->level);
    }
    if (!f->path || !f->msg || (rep->rule && (!f->id || !f->title))) {
        b->nomem = 1;
        return;
    }
    s->n_files++;
}

static void note(struct ds_set *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct ds_set *s, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    if (s->n_notes == DS_SET_NOTES_MAX) {
        s->notes_dropped++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    const char *n = astr(s, buf);
    if (n)
        s->notes[s->n_notes++] = n;
}

/* The title as rule.name takes it: control characters blanked, at most 256
 * bytes, not cut inside a UTF-8 character. */
static const char *alert_name(struct ds_set *s, const char *title)
{
    size_t n = strlen(title);
    if (n > 256) {
        n = 256;
        while (n > 0 && ((unsigned char)title[n] & 0xC0u) == 0x80u)
            n--;
    }
    char *t = ds_arena_strndup(&s->arena, title, n);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] < 0x20 || t[i] == 0x7f)
            t[i] = ' ';
    return n ? t : "(untitled rule)";
}

/* A NULL-terminated list in the arena with room for n items. */
static const char **alist(struct ds_set *s, size_t n)
{
    return ds_arena_alloc(&s->arena, (n + 1) * sizeof(const char *));
}

static int has(const char **list, uint32_t n, const char *s)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static int fill_lists(struct ds_set *s, struct ds_rinfo *ri, const struct ds_rule *r)
{
    uint32_t nt = 0, nta = 0, nte = 0;
    const char **tags = alist(s, DS_ALERT_LIST_MAX), **ta = alist(s, DS_ALERT_LIST_MAX);
    const char **tn = alist(s, DS_ALERT_LIST_MAX), **te = alist(s, DS_ALERT_LIST_MAX);
    if (!tags || !ta || !tn || !te)
        return RP_ERR_NOMEM;
    for (uint32_t i = 0; i < r->tags.n; i++) {
        const char *tag = r->tags.v[i];
        char tech[16];
        if (alert_id_ok(tag) && nt < DS_ALERT_LIST_MAX)
            tags[nt++] = tag;
        const struct ds_tactic *tac = ds_attack_tactic(tag);
        if (tac && nta < DS_ALERT_LIST_MAX && !has(ta, nta, tac->id)) {
            tn[nta] = tac->name;
            ta[nta++] = tac->id;
        }
        if (ds_attack_technique(tag, tech, sizeof tech) && nte < DS_ALERT_LIST_MAX &&
            !has(te, nte, tech)) {
            if (!(te[nte] = astr(s, tech)))
                return RP_ERR_NOMEM;
            nte++;
        }
    }
    ri->tags = nt ? tags : NULL;
    ri->tactic_ids = nta ? ta : NULL;
    ri->tactic_names = nta ? tn : NULL;
    ri->n_tactic_names = nta;
    ri->technique_ids = nte ? te : NULL;
    /* Sigma's author is one string, "A, B"; ECS rule.author is a list. */
    if (r->author && r->author[0]) {
        const char **au = alist(s, DS_ALERT_LIST_MAX);
        if (!au)
            return RP_ERR_NOMEM;
        uint32_t na = 0;
        const char *p = r->author;
        while (*p && na < DS_ALERT_LIST_MAX) {
            const char *comma = strchr(p, ',');
            const char *end = comma ? comma : p + strlen(p);
            const char *a = p, *z = end;
            while (a < z && (*a == ' ' || *a == '\t'))
                a++;
            while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
                z--;
            if (z > a && !(au[na++] = ds_arena_strndup(&s->arena, a, (size_t)(z - a))))
                return RP_ERR_NOMEM;
            p = comma ? comma + 1 : end;
        }
        ri->authors = na ? au : NULL;
        ri->n_authors = na;
    }
    return 0;
}

/* One compiled exception, shared by the rules of one log source that name
 * the same text. */
struct exc_cache {
    const char *text;
    int ls;
    const struct ds_crule *cr; /* NULL: could not hold */
};

/* The YAML of a one-selection rule whose selection is the exception. */
static int exception_yaml(const char *text, int ls, char *buf, size_t buflen)
{
    const char *cat = ls == DS_LS_NONE ? NULL : ds_logsource_name(ls);
    int n = snprintf(buf, buflen,
                     "title: exception\nlogsource:\n  product: linux\n%s%s%sdetection:\n"
                     "  exception: %s\n  condition: exception\n",
                     cat ? "  category: " : "", cat ? cat : "", cat ? "\n" : "", text);
    return (n < 0 || (size_t)n >= buflen) ? RP_ERR_RANGE : n;
}

/* Compiles text for log source ls into s->exc (made on first use). */
static int compile_exception(struct ds_set *s, const struct ds_conf *c, const char *what,
                             const char *text, int ls, const struct ds_crule **out, char *err,
                             size_t errlen)
{
    *out = NULL;
    if (!s->exc) {
        struct ds_engine_opts o = {0};
        o.fieldmap = s->fmap;
        o.any_logsource = true;
        o.match.placeholders = c->placeholders;
        o.match.nplaceholders = c->n_placeholders;
        int rc = ds_engine_create(&o, &s->exc);
        if (rc != 0)
            return rc;
    }
    size_t cap = strlen(text) + 256;
    char *yaml = malloc(cap);
    if (!yaml)
        return RP_ERR_NOMEM;
    int n = exception_yaml(text, ls, yaml, cap);
    struct ds_rule *rule = NULL;
    struct ds_load_result res;
    int rc = n < 0 ? n : ds_rule_load_buffer(what, yaml, (size_t)n, &rule, &res);
    free(yaml);
    if (rc != 0)
        return rc;
    if (!rule)
        return say(err, errlen, RP_ERR_CONFIG, "%s", res.msg);
    struct ds_report rep;
    memset(&rep, 0, sizeof rep);
    if ((rc = ds_engine_add_rule(s->exc, rule, what, &rep, out)) != 0)
        return rc;
    if (rep.status == DS_ST_DEAD) {
        *out = NULL;
        return say(err, errlen, RP_ERR_NOTFOUND, "%s", rep.msg);
    }
    if (rep.status != DS_ST_LOADED || !*out)
        return say(err, errlen, RP_ERR_CONFIG, "%s: %s", what,
                   rep.msg[0] ? rep.msg : "not compiled");
    return 0;
}

/* The exceptions of one rule: its own and its tags'. */
static int rule_exceptions(struct ds_set *s, const struct ds_conf *c, struct ds_rinfo *ri,
                           const struct ds_rule *r, struct exc_cache **cache, size_t *ncache,
                           size_t *capcache, char *err, size_t errlen)
{
    /* The rule's own entry first, then its tags' (a tag given twice once). */
    const struct ds_tune_entry *ents[1 + 256];
    const char *kind[1 + 256];
    uint32_t ne = 0, total = 0;
    const struct ds_tune_entry *e = ds_conf_rule(c, ri->id);
    if (e && e->n_exceptions) {
        kind[ne] = "rules";
        ents[ne++] = e;
    }
    for (uint32_t i = 0; i < r->tags.n && ne < sizeof ents / sizeof ents[0]; i++) {
        e = ds_conf_tag(c, r->tags.v[i]);
        uint32_t k = 0;
        while (k < ne && ents[k] != e)
            k++;
        if (e && e->n_exceptions && k == ne) {
            kind[ne] = "tags";
            ents[ne++] = e;
        }
    }
    for (uint32_t i = 0; i < ne; i++)
        total += ents[i]->n_exceptions;
    if (total == 0)
        return 0;
    ri->exc = ds_arena_alloc(&s->arena, total * sizeof *ri->exc);
    if (!ri->exc)
        return RP_ERR_NOMEM;
    int ls = (int)r->logsource;
    for (uint32_t i = 0; i < ne; i++) {
        for (uint32_t j = 0; j < ents[i]->n_exceptions; j++) {
            const char *text = ents[i]->exceptions[j];
            size_t k = 0;
            while (k < *ncache && !((*cache)[k].text == text && (*cache)[k].ls == ls))
                k++;
            if (k == *ncache) {
                char what[DS_CONF_KEY_MAX + 64], why[512] = "";
                snprintf(what, sizeof what, "%s.%s.exceptions[%u]", kind[i], ents[i]->key, j);
                if (*ncache == *capcache) {
                    size_t nc = *capcache ? *capcache * 2 : 16;
                    struct exc_cache *cc = realloc(*cache, nc * sizeof *cc);
                    if (!cc)
                        return RP_ERR_NOMEM;
                    *cache = cc;
                    *capcache = nc;
                }
                const struct ds_crule *cr;
                int rc = compile_exception(s, c, what, text, ls, &cr, why, sizeof why);
                if (rc == RP_ERR_NOTFOUND) {
                    note(s, "%s can never hold for %s rules: %s; it is left out", what,
                         ds_logsource_name(ls), why);
                } else if (rc != 0) {
                    return say(err, errlen, rc, "%s", why[0] ? why : rp_strerror(rc));
                }
                (*cache)[k].text = text;
                (*cache)[k].ls = ls;
                (*cache)[k].cr = cr;
                (*ncache)++;
            }
            if ((*cache)[k].cr)
                ri->exc[ri->n_exc++] = (*cache)[k].cr;
        }
    }
    return 0;
}

static int make_fieldmap(const struct ds_conf *c, struct ds_fieldmap **out, char *err,
                         size_t errlen)
{
    int rc = ds_fieldmap_create(out);
    if (rc != 0)
        return rc;
    for (uint32_t i = 0; i < c->n_fields; i++) {
        const struct ds_tune_field *f = &c->fields[i];
        char why[256] = "";
        rc = ds_fieldmap_set(*out, f->logsource, f->sigma, f->ecs, why, sizeof why);
        if (rc == RP_ERR_NOMEM)
            return rc;
        if (rc != 0)
            return say(err, errlen, RP_ERR_CONFIG, "field_map.%s.%s: %s", f->logsource, f->sigma,
                       why[0] ? why : rp_strerror(rc));
    }
    return 0;
}

int ds_conf_check(const struct ds_conf *c, char *err, size_t errlen)
{
    struct ds_fieldmap *fm = NULL;
    int rc = make_fieldmap(c, &fm, err, errlen);
    ds_fieldmap_destroy(fm);
    if (rc != 0)
        return rc;
    /* Each exception must be a Sigma selection; whether its fields exist
     * depends on the rules it applies to, which the build tells. */
    for (int pass = 0; pass < 2; pass++) {
        const struct ds_tune_entry *ents = pass ? c->tags : c->rules;
        uint32_t n = pass ? c->n_tags : c->n_rules;
        for (uint32_t i = 0; i < n; i++) {
            for (uint32_t j = 0; j < ents[i].n_exceptions; j++) {
                const char *text = ents[i].exceptions[j];
                char what[DS_CONF_KEY_MAX + 64];
                snprintf(what, sizeof what, "%s.%s.exceptions[%u]", pass ? "tags" : "rules",
                         ents[i].key, j);
                size_t cap = strlen(text) + 256;
                char *yaml = malloc(cap);
                if (!yaml)
                    return RP_ERR_NOMEM;
                int len = exception_yaml(text, DS_LS_PROCESS_CREATION, yaml, cap);
                struct ds_rule *rule = NULL;
                struct ds_load_result res;
                rc = len < 0 ? len : ds_rule_load_buffer(what, yaml, (size_t)len, &rule, &res);
                free(yaml);
                ds_rule_destroy(rule);
                if (rc != 0)
                    return rc;
                if (!rule)
                    return say(err, errlen, RP_ERR_CONFIG, "%s", res.msg);
            }
        }
    }
    return 0;
}

void ds_set_destroy(struct ds_set *s)
{
    if (!s)
        return;
    ds_engine_destroy(s->eng);
    ds_engine_destroy(s->exc);
    ds_fieldmap_destroy(s->fmap);
    free(s->rules);
    free(s->files);
    ds_arena_free(&s->arena);
    free(s);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int ds_set_build(const struct ds_conf *c, ds_filled_fn filled, void *filled_ctx,
                 struct ds_set **out, char *err, size_t errlen)
{
    int64_t t0 = mono_ns();
    struct exc_cache *cache = NULL;
    size_t ncache = 0, capcache = 0;
    *out = NULL;
    struct ds_set *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    ds_arena_init(&s->arena, SET_ARENA_MAX);
    int rc = make_fieldmap(c, &s->fmap, err, errlen);
    if (rc != 0)
        goto fail;
    struct ds_engine_opts o = {0};
    o.fieldmap = s->fmap;
    o.filled = filled;
    o.filled_ctx = filled_ctx;
    o.match.placeholders = c->placeholders;
    o.match.nplaceholders = c->n_placeholders;
    if ((rc = ds_engine_create(&o, &s->eng)) != 0)
        goto fail;
    struct build b = {.conf = c, .set = s};
    for (uint32_t i = 0; i < c->n_rule_dirs; i++) {
        char why[512] = "";
        b.dir = c->rule_dirs[i];
        rc = ds_engine_add_dir(s->eng, b.dir, on_accept, on_report, &b, why, sizeof why);
        if (rc == 0 && b.nomem)
            rc = RP_ERR_NOMEM;
        if (rc != 0) {
            say(err, errlen, rc, "rule_dirs[%u] %s: %s", i, b.dir, why[0] ? why : rp_strerror(rc));
            goto fail;
        }
    }
    if ((rc = ds_engine_build(s->eng)) != 0)
        goto fail;
    s->n_rules = ds_engine_rule_count(s->eng);
    s->rules = calloc(s->n_rules ? s->n_rules : 1, sizeof *s->rules);
    rc = RP_ERR_NOMEM;
    if (!s->rules)
        goto fail;
    for (uint32_t i = 0; i < s->n_rules; i++) {
        struct ds_rinfo *ri = &s->rules[i];
        const struct ds_crule *cr = ds_engine_rule_at(s->eng, i);
        const struct ds_rule *r = ds_crule_rule(cr);
        const char *path = ds_crule_path(cr);
        const char *dir = NULL;
        for (uint32_t d = 0; d < c->n_rule_dirs && !dir; d++)
            if (relative(c->rule_dirs[d], path) != path)
                dir = c->rule_dirs[d];
        char buf[32];
        ri->crule = cr;
        ri->id = astr(s, ds_rule_alert_id(r, relative(dir, path), buf, sizeof buf));
        ri->name = alert_name(s, r->title ? r->title : "");
        ri->path = path;
        ri->description = r->description;
        ri->reference = r->references.n ? r->references.v[0] : NULL;
        ri->license = r->license;
        int level = r->level == DS_LEVEL_NONE ? DS_LEVEL_MEDIUM : (int)r->level;
        ri->level = ds_level_name(level);
        ri->severity = severities[r->level <= DS_LEVEL_CRITICAL ? r->level : DS_LEVEL_NONE];
        if (!ri->id || !ri->name)
            goto fail;
        ri->id_hash = ds_throttle_hash(DS_THROTTLE_HASH_SEED, ri->id, strlen(ri->id));
        if ((rc = fill_lists(s, ri, r)) != 0)
            goto fail;
        if ((rc = rule_exceptions(s, c, ri, r, &cache, &ncache, &capcache, err, errlen)) != 0)
            goto fail;
        s->n_exceptions += ri->n_exc;
        if (!ds_crule_dead(cr))
            for (int t = 0; t < DS_EV_COUNT; t++)
                if (ds_logsource_covers((int)r->logsource, t))
                    s->types |= 1u << t;
        rc = RP_ERR_NOMEM;
    }
    if (s->exc && (rc = ds_engine_build(s->exc)) != 0)
        goto fail;
    free(cache);
    s->build_ns = (uint64_t)(mono_ns() - t0);
    *out = s;
    return 0;
fail:
    free(cache);
    ds_set_destroy(s);
    return rc;
}

/* A JSON string of s; a file name or message that is not UTF-8 has each
 * byte past ASCII shown as '?', so one odd name never hides the report. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    if (!copy)
        return NULL;
    for (char *c = copy; *c; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *str_or_null(const char *s)
{
    return s ? jstr(s) : json_null();
}

char *ds_set_rules_json(const struct ds_set *s, uint32_t *next, size_t max_bytes)
{
    json_t *root = json_object(), *arr = json_array();
    size_t bytes = 16;
    if (!root || !arr || json_object_set_new(root, "rules", arr) != 0) {
        json_decref(root);
        return NULL;
    }
    uint32_t i = *next;
    for (; i < s->n_files; i++) {
        const struct ds_file *f = &s->files[i];
        json_t *o = json_pack("{s:o,s:o,s:o,s:o,s:s,s:o,s:o}", "id", str_or_null(f->id), "title",
                              str_or_null(f->title), "level", str_or_null(f->level), "path",
                              jstr(f->path), "status", ds_status_name(f->status), "reason",
                              str_or_null(f->reason), "message", jstr(f->msg ? f->msg : ""));
        if (!o) {
            /* Out of memory: no reply rather than a loop that never ends. */
            json_decref(root);
            return NULL;
        }
        /* Its size as it will be written, so one reply stays under the
         * cap (the first file of a reply always goes, whatever its size). */
        size_t add = json_dumpb(o, NULL, 0, JSON_COMPACT) + 1;
        if (i > *next && bytes + add > max_bytes) {
            json_decref(o);
            break;
        }
        bytes += add;
        json_array_append_new(arr, o);
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text)
        *next = i;
    return text;
}
