/*
 * plugins/detector_sigma/tune.c - the detector's config and the tuning
 * decision (tune.h). The config text is read with jansson, which the agent
 * itself uses to read configs: the keyed objects of the tuning need their
 * keys listed, which the host's JSON Pointer getters cannot do.
 */
#include "tune.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const level_names[] = {
    [DS_LEVEL_NONE] = NULL,   [DS_LEVEL_INFO] = "informational",
    [DS_LEVEL_LOW] = "low",   [DS_LEVEL_MEDIUM] = "medium",
    [DS_LEVEL_HIGH] = "high", [DS_LEVEL_CRITICAL] = "critical",
};

static const char *const status_names[] = {"stable", "test", "experimental", "deprecated",
                                           "unsupported"};

int ds_level_parse(const char *name)
{
    for (int i = DS_LEVEL_INFO; i <= DS_LEVEL_CRITICAL; i++)
        if (name && strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

const char *ds_level_name(int level)
{
    return (level >= DS_LEVEL_INFO && level <= DS_LEVEL_CRITICAL) ? level_names[level] : "none";
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return RP_ERR_CONFIG;
}

static char *dup_str(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void lower_ascii(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void free_entry(struct ds_tune_entry *e)
{
    free(e->key);
    for (uint32_t i = 0; i < e->n_exceptions; i++)
        free(e->exceptions[i]);
    free(e->exceptions);
}

void ds_conf_destroy(struct ds_conf *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < c->n_rule_dirs; i++)
        free(c->rule_dirs[i]);
    free(c->rule_dirs);
    for (uint32_t i = 0; i < c->n_fields; i++) {
        free(c->fields[i].logsource);
        free(c->fields[i].sigma);
        free(c->fields[i].ecs);
    }
    free(c->fields);
    for (uint32_t i = 0; i < c->n_placeholders; i++) {
        struct ds_placeholder *p = &c->placeholders[i];
        free((char *)p->name);
        for (size_t j = 0; j < p->nvalues; j++)
            free((char *)p->values[j]);
        free((char **)p->values);
    }
    free(c->placeholders);
    for (uint32_t i = 0; i < c->n_rules; i++)
        free_entry(&c->rules[i]);
    free(c->rules);
    for (uint32_t i = 0; i < c->n_tags; i++)
        free_entry(&c->tags[i]);
    free(c->tags);
    for (uint32_t i = 0; i < c->n_statuses; i++)
        free(c->statuses[i].key);
    free(c->statuses);
    for (uint32_t i = 0; i < c->n_folders; i++)
        free(c->folders[i].key);
    free(c->folders);
    free(c);
}

/* A key of a keyed object: not empty, at most DS_CONF_KEY_MAX bytes, no
 * control character. */
static int check_key(const char *what, const char *key, char *err, size_t errlen)
{
    size_t n = strlen(key);
    if (n == 0)
        return fail(err, errlen, "%s: an empty key, expected a name", what);
    if (n > DS_CONF_KEY_MAX)
        return fail(err, errlen, "%s.%.40s...: a key of %zu bytes, at most %u", what, key, n,
                    DS_CONF_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
            return fail(err, errlen, "%s: the key \"%.64s\" holds a control character", what, key);
    return 0;
}

static int read_dirs(struct ds_conf *c, json_t *v, char *err, size_t errlen)
{
    if (!v)
        return 0;
    if (!json_is_array(v))
        return fail(err, errlen, "rule_dirs: expected an array of absolute folder paths");
    size_t n = json_array_size(v);
    if (n > DS_CONF_DIRS_MAX)
        return fail(err, errlen, "rule_dirs: %zu folders, at most %u", n, DS_CONF_DIRS_MAX);
    if (!(c->rule_dirs = calloc(n ? n : 1, sizeof *c->rule_dirs)))
        return RP_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(v, i);
        if (!json_is_string(d))
            return fail(err, errlen, "rule_dirs[%zu]: expected a folder path (a string)", i);
        const char *s = json_string_value(d);
        size_t len = json_string_length(d);
        if (len == 0 || s[0] != '/')
            return fail(err, errlen, "rule_dirs[%zu]: \"%.200s\" is not an absolute path", i, s);
        if (len > 4096 || strlen(s) != len)
            return fail(err, errlen, "rule_dirs[%zu]: not a usable path (too long or a NUL)", i);
        /* The folder keeps no trailing slash, so paths under it read well. */
        while (len > 1 && s[len - 1] == '/')
            len--;
        if (!(c->rule_dirs[i] = dup_str(s, len)))
            return RP_ERR_NOMEM;
        c->n_rule_dirs++;
    }
    return 0;
}

static int read_fields(struct ds_conf *c, json_t *v, char *err, size_t errlen)
{
    const char *ls, *name;
    json_t *map, *ecs;
    size_t total = 0;
    int rc;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(err, errlen,
                    "field_map: expected an object of log source -> {SigmaField: ecs.field}");
    json_object_foreach(v, ls, map)
    {
        if (!json_is_object(map))
            return fail(err, errlen, "field_map.%.64s: expected an object {SigmaField: ecs.field}",
                        ls);
        total += json_object_size(map);
    }
    if (total > DS_CONF_ENTRIES_MAX)
        return fail(err, errlen, "field_map: %zu entries, at most %u", total, DS_CONF_ENTRIES_MAX);
    if (!(c->fields = calloc(total ? total : 1, sizeof *c->fields)))
        return RP_ERR_NOMEM;
    json_object_foreach(v, ls, map)
    {
        if ((rc = check_key("field_map", ls, err, errlen)) != 0)
            return rc;
        json_object_foreach(map, name, ecs)
        {
            if (!json_is_string(ecs))
                return fail(err, errlen,
                            "field_map.%.64s.%.64s: expected an ECS field name (a string; \"\" "
                            "for none)",
                            ls, name);
            struct ds_tune_field *f = &c->fields[c->n_fields];
            f->logsource = dup_str(ls, strlen(ls));
            f->sigma = dup_str(name, strlen(name));
            f->ecs = dup_str(json_string_value(ecs), strlen(json_string_value(ecs)));
            c->n_fields++;
            if (!f->logsource || !f->sigma || !f->ecs)
                return RP_ERR_NOMEM;
        }
    }
    return 0;
}

static int read_placeholders(struct ds_conf *c, json_t *v, char *err, size_t errlen)
{
    const char *name;
    json_t *vals;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(err, errlen, "placeholders: expected an object of name -> [values]");
    size_t n = json_object_size(v);
    if (n > DS_PLACEHOLDERS_MAX)
        return fail(err, errlen, "placeholders: %zu names, at most %u", n, DS_PLACEHOLDERS_MAX);
    if (!(c->placeholders = calloc(n ? n : 1, sizeof *c->placeholders)))
        return RP_ERR_NOMEM;
    json_object_foreach(v, name, vals)
    {
        int rc = check_key("placeholders", name, err, errlen);
        if (rc != 0)
            return rc;
        if (strchr(name, '%'))
            return fail(err, errlen,
                        "placeholders.%.64s: a name without its percent signs, as in "
                        "%%name%%",
                        name);
        if (!json_is_array(vals))
            return fail(err, errlen, "placeholders.%.64s: expected an array of strings", name);
        size_t nv = json_array_size(vals);
        if (nv > DS_PLACEHOLDER_VALUES_MAX)
            return fail(err, errlen, "placeholders.%.64s: %zu values, at most %u", name, nv,
                        DS_PLACEHOLDER_VALUES_MAX);
        struct ds_placeholder *p = &c->placeholders[c->n_placeholders++];
        char **values = calloc(nv ? nv : 1, sizeof *values);
        p->values = (const char *const *)values;
        if (!(p->name = dup_str(name, strlen(name))) || !values)
            return RP_ERR_NOMEM;
        for (size_t i = 0; i < nv; i++) {
            json_t *s = json_array_get(vals, i);
            if (!json_is_string(s))
                return fail(err, errlen, "placeholders.%.64s[%zu]: expected a string", name, i);
            if (!(values[i] = dup_str(json_string_value(s), json_string_length(s))))
                return RP_ERR_NOMEM;
            p->nvalues++;
        }
    }
    return 0;
}

/* An exception: a map of field conditions (all hold) or a list of such maps
 * (one holds), kept as YAML flow text. jansson's default separators (", "
 * and ": ") make the text YAML 1.1 as well as JSON, which libyaml needs. */
static int read_exception(const char *what, const char *key, size_t i, json_t *x, char **out,
                          char *err, size_t errlen)
{
    int ok = json_is_object(x) && json_object_size(x) > 0;
    if (json_is_array(x) && json_array_size(x) > 0) {
        ok = 1;
        for (size_t j = 0; j < json_array_size(x); j++)
            if (!json_is_object(json_array_get(x, j)) ||
                json_object_size(json_array_get(x, j)) == 0)
                ok = 0;
    }
    if (!ok)
        return fail(err, errlen,
                    "%s.%.128s.exceptions[%zu]: expected a map of Sigma field conditions "
                    "({\"Image|endswith\": \"/x\"}) or a list of such maps",
                    what, key, i);
    if (!(*out = json_dumps(x, JSON_ENCODE_ANY)))
        return RP_ERR_NOMEM;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct ds_tune_entry *)a)->key, ((const struct ds_tune_entry *)b)->key);
}

static int cmp_flag(const void *a, const void *b)
{
    return strcmp(((const struct ds_tune_flag *)a)->key, ((const struct ds_tune_flag *)b)->key);
}

/* rules or tags: key -> {"enabled": bool, "exceptions": [...]}. */
static int read_entries(const char *what, json_t *v, int fold, struct ds_tune_entry **out,
                        uint32_t *nout, char *err, size_t errlen)
{
    const char *key;
    json_t *e;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(err, errlen,
                    "%s: expected an object of %s -> {\"enabled\": bool, \"exceptions\": [...]}",
                    what, strcmp(what, "rules") == 0 ? "rule id" : "tag");
    size_t n = json_object_size(v);
    if (n > DS_CONF_ENTRIES_MAX)
        return fail(err, errlen, "%s: %zu entries, at most %u", what, n, DS_CONF_ENTRIES_MAX);
    struct ds_tune_entry *ents = calloc(n ? n : 1, sizeof *ents);
    if (!ents)
        return RP_ERR_NOMEM;
    *out = ents;
    json_object_foreach(v, key, e)
    {
        int rc = check_key(what, key, err, errlen);
        if (rc != 0)
            return rc;
        if (!json_is_object(e))
            return fail(err, errlen,
                        "%s.%.128s: expected an object {\"enabled\": bool, \"exceptions\": [...]}",
                        what, key);
        struct ds_tune_entry *t = &ents[(*nout)++];
        t->enabled = -1;
        if (!(t->key = dup_str(key, strlen(key))))
            return RP_ERR_NOMEM;
        if (fold)
            lower_ascii(t->key);
        const char *k;
        json_t *val;
        json_object_foreach(e, k, val)
        {
            if (strcmp(k, "enabled") == 0) {
                if (!json_is_boolean(val))
                    return fail(err, errlen, "%s.%.128s.enabled: expected true or false", what,
                                key);
                t->enabled = json_is_true(val);
            } else if (strcmp(k, "exceptions") == 0) {
                if (!json_is_array(val))
                    return fail(err, errlen, "%s.%.128s.exceptions: expected an array", what, key);
                size_t nx = json_array_size(val);
                if (nx > DS_CONF_EXCEPTIONS_MAX)
                    return fail(err, errlen, "%s.%.128s.exceptions: %zu exceptions, at most %u",
                                what, key, nx, DS_CONF_EXCEPTIONS_MAX);
                if (!(t->exceptions = calloc(nx ? nx : 1, sizeof *t->exceptions)))
                    return RP_ERR_NOMEM;
                for (size_t i = 0; i < nx; i++) {
                    if ((rc = read_exception(what, key, i, json_array_get(val, i),
                                             &t->exceptions[i], err, errlen)) != 0)
                        return rc;
                    t->n_exceptions++;
                }
            } else {
                return fail(err, errlen,
                            "%s.%.128s.%.64s: unknown key, expected enabled or exceptions", what,
                            key, k);
            }
        }
    }
    qsort(ents, *nout, sizeof *ents, cmp_entry);
    for (uint32_t i = 1; i < *nout; i++)
        if (strcmp(ents[i - 1].key, ents[i].key) == 0)
            return fail(err, errlen, "%s.%.128s: given twice (tags compare without case)", what,
                        ents[i].key);
    return 0;
}

/* A folder key: relative, without "." or ".." steps; ./ and a trailing /
 * are dropped. */
static int folder_key(const char *key, char **out, char *err, size_t errlen)
{
    while (key[0] == '.' && key[1] == '/')
        key += 2;
    size_t n = strlen(key);
    while (n > 0 && key[n - 1] == '/')
        n--;
    if (n == 0 || key[0] == '/')
        return fail(err, errlen,
                    "folders.%.128s: expected a folder relative to a rule_dir "
                    "(\"linux/process_creation\")",
                    key);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && key[j] != '/')
            j++;
        if (j == i || (j - i == 1 && key[i] == '.') ||
            (j - i == 2 && key[i] == '.' && key[i + 1] == '.'))
            return fail(err, errlen,
                        "folders.%.128s: empty, \".\" and \"..\" steps are not folders under a "
                        "rule_dir",
                        key);
        i = j + 1;
    }
    if (!(*out = dup_str(key, n)))
        return RP_ERR_NOMEM;
    return 0;
}

static int read_flags(const char *what, json_t *v, int folders, struct ds_tune_flag **out,
                      uint32_t *nout, char *err, size_t errlen)
{
    const char *key;
    json_t *b;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(err, errlen, "%s: expected an object of name -> true or false", what);
    size_t n = json_object_size(v);
    if (n > DS_CONF_ENTRIES_MAX)
        return fail(err, errlen, "%s: %zu entries, at most %u", what, n, DS_CONF_ENTRIES_MAX);
    struct ds_tune_flag *f = calloc(n ? n : 1, sizeof *f);
    if (!f)
        return RP_ERR_NOMEM;
    *out = f;
    json_object_foreach(v, key, b)
    {
        int rc = check_key(what, key, err, errlen);
        if (rc != 0)
            return rc;
        if (!json_is_boolean(b))
            return fail(err, errlen, "%s.%.128s: expected true or false", what, key);
        if (!folders) {
            size_t i = 0;
            while (i < sizeof status_names / sizeof status_names[0] &&
                   strcmp(status_names[i], key) != 0)
                i++;
            if (i == sizeof status_names / sizeof status_names[0])
                return fail(err, errlen,
                            "statuses.%.64s: unknown status, expected stable, test, experimental, "
                            "deprecated or unsupported",
                            key);
        }
        struct ds_tune_flag *t = &f[*nout];
        if (folders) {
            if ((rc = folder_key(key, &t->key, err, errlen)) != 0)
                return rc;
        } else if (!(t->key = dup_str(key, strlen(key)))) {
            return RP_ERR_NOMEM;
        }
        (*nout)++;
        t->on = json_is_true(b);
    }
    qsort(f, *nout, sizeof *f, cmp_flag);
    for (uint32_t i = 1; i < *nout; i++)
        if (strcmp(f[i - 1].key, f[i].key) == 0)
            return fail(err, errlen, "%s.%.128s: given twice", what, f[i].key);
    return 0;
}

static int read_levels(struct ds_conf *c, json_t *v, char *err, size_t errlen)
{
    const char *key;
    json_t *b;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(err, errlen, "levels: expected an object of level -> true or false");
    json_object_foreach(v, key, b)
    {
        int l = ds_level_parse(key);
        if (l < 0)
            return fail(err, errlen,
                        "levels.%.64s: unknown level, expected informational, low, medium, high "
                        "or critical",
                        key);
        if (!json_is_boolean(b))
            return fail(err, errlen, "levels.%s: expected true or false", key);
        c->levels[l] = json_is_true(b);
    }
    return 0;
}

static int read_throttle(struct ds_conf *c, json_t *v, char *err, size_t errlen)
{
    const char *key;
    json_t *n;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return fail(err, errlen, "throttle: expected {\"seconds\": N, \"max_keys\": N}");
    json_object_foreach(v, key, n)
    {
        json_int_t i = json_is_integer(n) ? json_integer_value(n) : -1;
        if (strcmp(key, "seconds") == 0) {
            if (i < 0 || i > 86400)
                return fail(err, errlen, "throttle.seconds: expected an integer 0 to 86400");
            c->throttle_seconds = (uint32_t)i;
        } else if (strcmp(key, "max_keys") == 0) {
            if (i < 1 || i > 1048576)
                return fail(err, errlen, "throttle.max_keys: expected an integer 1 to 1048576");
            c->throttle_max_keys = (uint32_t)i;
        } else {
            return fail(err, errlen, "throttle.%.64s: unknown key, expected seconds or max_keys",
                        key);
        }
    }
    return 0;
}

int ds_conf_parse(const char *json, size_t len, struct ds_conf **out, char *err, size_t errlen)
{
    json_error_t jerr;
    *out = NULL;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(err, errlen, "config: not JSON: %s (line %d)", jerr.text, jerr.line);
    struct ds_conf *c = calloc(1, sizeof *c);
    int rc = RP_ERR_NOMEM;
    if (!c)
        goto out;
    c->min_level = DS_LEVEL_INFO;
    for (int i = 0; i < 6; i++)
        c->levels[i] = -1;
    c->throttle_seconds = DS_THROTTLE_SECONDS_DEFAULT;
    c->throttle_max_keys = DS_THROTTLE_MAX_KEYS_DEFAULT;
    if (!json_is_object(root)) {
        rc = fail(err, errlen, "config: expected an object");
        goto out;
    }
    static const char *const known[] = {"rule_dirs", "field_map", "placeholders", "min_level",
                                        "rules",     "tags",      "levels",       "statuses",
                                        "folders",   "throttle"};
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(known[i], key) != 0)
            i++;
        if (i == sizeof known / sizeof known[0]) {
            rc = fail(err, errlen, "%.64s: unknown key (README.md lists the detector's keys)", key);
            goto out;
        }
    }
    json_t *ml = json_object_get(root, "min_level");
    if (ml) {
        if (!json_is_string(ml) || (c->min_level = ds_level_parse(json_string_value(ml))) < 0) {
            rc = fail(err, errlen,
                      "min_level: expected informational, low, medium, high or critical");
            goto out;
        }
    }
    if ((rc = read_dirs(c, json_object_get(root, "rule_dirs"), err, errlen)) != 0 ||
        (rc = read_fields(c, json_object_get(root, "field_map"), err, errlen)) != 0 ||
        (rc = read_placeholders(c, json_object_get(root, "placeholders"), err, errlen)) != 0 ||
        (rc = read_entries("rules", json_object_get(root, "rules"), 0, &c->rules, &c->n_rules, err,
                           errlen)) != 0 ||
        (rc = read_entries("tags", json_object_get(root, "tags"), 1, &c->tags, &c->n_tags, err,
                           errlen)) != 0 ||
        (rc = read_levels(c, json_object_get(root, "levels"), err, errlen)) != 0 ||
        (rc = read_flags("statuses", json_object_get(root, "statuses"), 0, &c->statuses,
                         &c->n_statuses, err, errlen)) != 0 ||
        (rc = read_flags("folders", json_object_get(root, "folders"), 1, &c->folders, &c->n_folders,
                         err, errlen)) != 0 ||
        (rc = read_throttle(c, json_object_get(root, "throttle"), err, errlen)) != 0)
        goto out;
    *out = c;
    c = NULL;
    rc = 0;
out:
    ds_conf_destroy(c);
    json_decref(root);
    return rc;
}

const struct ds_tune_entry *ds_conf_rule(const struct ds_conf *c, const char *id)
{
    if (!c || !id || c->n_rules == 0)
        return NULL;
    struct ds_tune_entry k = {.key = (char *)id};
    return bsearch(&k, c->rules, c->n_rules, sizeof k, cmp_entry);
}

const struct ds_tune_entry *ds_conf_tag(const struct ds_conf *c, const char *tag)
{
    char buf[DS_CONF_KEY_MAX + 1];
    size_t n = tag ? strlen(tag) : 0;
    if (!c || n == 0 || n > DS_CONF_KEY_MAX || c->n_tags == 0)
        return NULL;
    memcpy(buf, tag, n + 1);
    lower_ascii(buf);
    struct ds_tune_entry k = {.key = buf};
    return bsearch(&k, c->tags, c->n_tags, sizeof k, cmp_entry);
}

static const struct ds_tune_flag *find_flag(const struct ds_tune_flag *f, uint32_t n,
                                            const char *key)
{
    if (n == 0 || !key)
        return NULL;
    struct ds_tune_flag k = {.key = (char *)key};
    return bsearch(&k, f, n, sizeof k, cmp_flag);
}

static bool refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool refuse(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && whylen)
        vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return false;
}

bool ds_tune_accept(const struct ds_conf *c, const char *id, const struct ds_rule *rule,
                    const char *relpath, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    const struct ds_tune_entry *e = ds_conf_rule(c, id);
    if (e && e->enabled >= 0)
        return e->enabled ? true : refuse(why, whylen, "disabled by rules.%s.enabled", id);
    for (uint32_t i = 0; i < rule->tags.n; i++) {
        e = ds_conf_tag(c, rule->tags.v[i]);
        if (e && e->enabled == 0)
            return refuse(why, whylen, "disabled by tags.%s.enabled", e->key);
    }
    int level = rule->level == DS_LEVEL_NONE ? DS_LEVEL_MEDIUM : (int)rule->level;
    if (c->levels[level] == 0)
        return refuse(why, whylen, "disabled by levels.%s", ds_level_name(level));
    const struct ds_tune_flag *f = find_flag(c->statuses, c->n_statuses, rule->status);
    if (f && !f->on)
        return refuse(why, whylen, "disabled by statuses.%s", f->key);
    /* The deepest folder entry above the file decides. */
    if (relpath && c->n_folders > 0) {
        char buf[4096];
        size_t n = strlen(relpath);
        if (n < sizeof buf) {
            memcpy(buf, relpath, n + 1);
            char *slash;
            while ((slash = strrchr(buf, '/')) != NULL) {
                *slash = '\0';
                f = find_flag(c->folders, c->n_folders, buf);
                if (f) {
                    if (!f->on)
                        return refuse(why, whylen, "disabled by folders.%s", f->key);
                    break;
                }
            }
        }
    }
    if (level < c->min_level)
        return refuse(why, whylen, "level %s is below min_level %s", ds_level_name(level),
                      ds_level_name(c->min_level));
    return true;
}
