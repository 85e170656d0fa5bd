/* tools/rampartctl/rules.c - `rampartctl rules check` and `rampartctl rules
 * test` (rules.h, docs/control.md). */
#include "rules.h"

#include "config.h"
#include "engine.h"
#include "os/os.h"
#include "rules_events.h"
#include "rules_fields.h"
#include "tune.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char rules_usage[] =
    "usage: rampartctl [--config FILE] rules check [DIR_OR_FILE...] [--json]\n"
    "                  [--fields-from PLUGIN_DIR] [--config FILE]\n"
    "       rampartctl [--config FILE] rules test RULE_OR_DIR... --events FILE.ndjson\n"
    "                  [--raw-fields] [--json] [--config FILE]\n"
    "\n"
    "check  loads the Sigma rules (*.yml, *.yaml under each folder) as the agent\n"
    "       would and prints, per file, whether it loaded, can never match (dead)\n"
    "       or was skipped, and why; then a summary. What the collectors fill is\n"
    "       read from the plugins of --fields-from, else of the configuration's\n"
    "       enabled plugins; without either every field counts as filled. The\n"
    "       configuration's detector_sigma plugin gives the field_map and\n"
    "       placeholders, and its rule_dirs when no path is given.\n"
    "test   evaluates the rules, whatever their log source, on the events of an\n"
    "       NDJSON file (\"-\": standard input) and prints which events each rule\n"
    "       matched and which selections held. --raw-fields: rule field names are\n"
    "       the events' keys as written (Windows or cloud rules on sample logs).\n"
    "\n"
    "exit status: 0 every file loaded (or was skipped for its scope) and, for\n"
    "test, every line was an event; 1 a file failed for an input or language\n"
    "reason, a rule is dead, or (test) a line was malformed or past a cap;\n"
    "2 bad command line, or an events file or configuration that cannot be read.\n";

/* ---- rows: one rule file's fate --------------------------------------------- */

enum row_status { ROW_LOADED, ROW_DEAD, ROW_SKIPPED, ROW_DISABLED };
static const char *const status_names[] = {"loaded", "dead", "skipped", "disabled"};

/* The reason code of a dead rule: it loads, but names a field no collector
 * fills for its log source (or one that has no ECS field here). */
#define DEAD_REASON "field_never_filled"

struct row {
    char *path;
    enum row_status status;
    int reason; /* enum ds_reason; DS_LOADED for loaded and dead rules */
    char *id, *title, *msg;
    const char *logsource;
    uint32_t rule_index; /* ds_crule_index, for loaded and dead rules */
    int in_set;
};

struct rows {
    struct row *v;
    size_t n, cap;
    int nomem;
    struct ds_engine *eng;
};

static char *dup_str(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int row_add(struct rows *rs, const char *path, enum row_status st, int reason,
                   const char *id, const char *title, const char *msg, const char *logsource)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        struct row *v = realloc(rs->v, cap * sizeof *v);
        if (!v) {
            rs->nomem = 1;
            return RP_ERR_NOMEM;
        }
        rs->v = v;
        rs->cap = cap;
    }
    struct row *r = &rs->v[rs->n];
    memset(r, 0, sizeof *r);
    r->status = st;
    r->reason = reason;
    r->logsource = logsource;
    r->path = dup_str(path);
    r->id = dup_str(id);
    r->title = dup_str(title);
    r->msg = dup_str(msg ? msg : "");
    if (!r->path || (id && !r->id) || (title && !r->title) || !r->msg) {
        free(r->path);
        free(r->id);
        free(r->title);
        free(r->msg);
        rs->nomem = 1;
        return RP_ERR_NOMEM;
    }
    rs->n++;
    return 0;
}

static void rows_free(struct rows *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].path);
        free(rs->v[i].id);
        free(rs->v[i].title);
        free(rs->v[i].msg);
    }
    free(rs->v);
}

static void on_report(void *ctx, const struct ds_report *rep)
{
    struct rows *rs = ctx;
    enum row_status st = rep->status == DS_ST_LOADED    ? ROW_LOADED
                         : rep->status == DS_ST_DEAD    ? ROW_DEAD
                         : rep->status == DS_ST_SKIPPED ? ROW_SKIPPED
                                                        : ROW_DISABLED;
    const struct ds_rule *r = rep->rule;
    const char *ls = rep->logsource != DS_LS_NONE ? ds_logsource_name((int)rep->logsource) : NULL;
    row_add(rs, rep->path ? rep->path : "?", st, (int)rep->reason, r ? r->id : NULL,
            r ? r->title : NULL, rep->msg, ls);
}

/* Whether a row fails the command: a file refused for an input or language
 * reason, or a rule that can never match. Scope (log source, meta-rules)
 * and tuning are not failures. */
static int row_fails(const struct row *r)
{
    if (r->status == ROW_DEAD)
        return 1;
    if (r->status != ROW_SKIPPED)
        return 0;
    int c = ds_reason_class(r->reason);
    return c == DS_CLASS_INPUT || c == DS_CLASS_LANGUAGE;
}

static const char *row_reason(const struct row *r)
{
    if (r->status == ROW_DEAD)
        return DEAD_REASON;
    if (r->status == ROW_SKIPPED)
        return ds_reason_name(r->reason);
    return r->status == ROW_DISABLED ? "disabled" : NULL;
}

static const char *class_name(int c)
{
    switch (c) {
    case DS_CLASS_INPUT:
        return "input";
    case DS_CLASS_LANGUAGE:
        return "language";
    case DS_CLASS_SCOPE:
        return "scope";
    default:
        return "loaded";
    }
}

/* ---- text that is safe to print --------------------------------------------- */

/* Rule files and events are outside input: what they say is printed with
 * control bytes replaced, so that a title cannot move the cursor or change
 * the terminal. */
static void put_clean(FILE *f, const char *s, size_t max)
{
    size_t n = 0;
    for (; s && *s && n < max; s++, n++) {
        unsigned char c = (unsigned char)*s;
        fputc(c < 0x20 || c == 0x7f ? '?' : c, f);
    }
    if (s && *s)
        fputs("...", f);
}

/* A JSON string of s; text that is not UTF-8 (a cut message, a file name
 * of another encoding) keeps its ASCII and gets '?' for the rest. */
static json_t *jstr(const char *s)
{
    if (!s)
        return json_null();
    json_t *j = json_string(s);
    if (j)
        return j;
    char *c = dup_str(s);
    if (!c)
        return json_null();
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(c);
    free(c);
    return j ? j : json_null();
}

/* jansson's object setters with a value that may be NULL (no memory). */
static void jset(json_t *o, const char *key, json_t *v)
{
    json_object_set_new(o, key, v ? v : json_null());
}

/* ---- loading the rules ------------------------------------------------------ */

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds every path to the engine; a folder that cannot be read, or holds more
 * than the caps, becomes a row of its own. Returns 0 or RP_ERR_NOMEM. */
static int add_paths(struct ds_engine *eng, struct rows *rs, char **paths, int npaths)
{
    for (int i = 0; i < npaths; i++) {
        int rc;
        if (is_dir(paths[i])) {
            char err[512] = "";
            rc = ds_engine_add_dir(eng, paths[i], NULL, on_report, rs, err, sizeof err);
            if (rc == RP_ERR_IO || rc == RP_ERR_RANGE) {
                /* The engine's message names the folder already. */
                char msg[700];
                if (err[0])
                    snprintf(msg, sizeof msg, "%s", err);
                else
                    snprintf(msg, sizeof msg, "%s: %s", paths[i],
                             rc == RP_ERR_IO ? "the rule folder cannot be read" : "past a cap");
                rc = row_add(rs, paths[i], ROW_SKIPPED,
                             rc == RP_ERR_IO ? DS_SKIP_IO : DS_SKIP_TOO_LARGE, NULL, NULL, msg,
                             NULL);
            }
        } else {
            rc = ds_engine_add_file(eng, paths[i], NULL, on_report, rs);
        }
        if (rc == RP_ERR_NOMEM || rs->nomem)
            return RP_ERR_NOMEM;
    }
    return 0;
}

/* ---- command lines ---------------------------------------------------------- */

struct rules_args {
    char **paths;
    int npaths;
    int json, raw_fields;
    const char *fields_from, *events, *config;
};

/* Options and operands in any order; "--" ends the options. Returns 0 or
 * prints why not and returns RP__CTL_RULES_USAGE. test: the command is
 * `rules test`. */
static int parse_args(int argc, char **argv, int test, struct rules_args *a)
{
    const char *cmd = test ? "test" : "check";
    a->paths = calloc((size_t)argc + 1, sizeof *a->paths);
    if (!a->paths) {
        fprintf(stderr, "rampartctl: out of memory\n");
        return RP__CTL_RULES_USAGE;
    }
    int options = 1;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!options || s[0] != '-' || strcmp(s, "-") == 0) {
            a->paths[a->npaths++] = argv[i];
            continue;
        }
        const char **value = NULL;
        if (strcmp(s, "--") == 0) {
            options = 0;
        } else if (strcmp(s, "--json") == 0) {
            a->json = 1;
        } else if (test && strcmp(s, "--raw-fields") == 0) {
            a->raw_fields = 1;
        } else if (test && strcmp(s, "--events") == 0) {
            value = &a->events;
        } else if (!test && strcmp(s, "--fields-from") == 0) {
            value = &a->fields_from;
        } else if (strcmp(s, "--config") == 0) {
            value = &a->config;
        } else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            fputs(rules_usage, stdout);
            return -1;
        } else {
            fprintf(stderr, "rampartctl: rules %s: unknown option '%s'\n%s", cmd, s, rules_usage);
            return RP__CTL_RULES_USAGE;
        }
        if (value) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "rampartctl: rules %s: %s needs a value\n%s", cmd, s, rules_usage);
                return RP__CTL_RULES_USAGE;
            }
            *value = argv[++i];
        }
    }
    /* check without a path takes the sigma detector's rule_dirs from the
     * configuration (cmd_check says so when there are none). */
    if (test && a->npaths == 0) {
        fprintf(stderr, "rampartctl: rules %s: no rule file or folder given\n%s", cmd, rules_usage);
        return RP__CTL_RULES_USAGE;
    }
    if (test && !a->events) {
        fprintf(stderr, "rampartctl: rules test: --events FILE is required\n%s", rules_usage);
        return RP__CTL_RULES_USAGE;
    }
    return 0;
}

/* ---- rules check -------------------------------------------------------- */

/* The agent configuration rules check reads: --config after check, else
 * the global one. *cfg stays NULL, with note saying why, when the default
 * file is absent or cannot be read; an explicitly named one that does not
 * load is an error (RP__CTL_RULES_USAGE, printed). */
static int load_agent_config(const struct rules_args *a, const char *config_file, int config_given,
                             const char *site, rp__config **cfg, char *note, size_t notelen)
{
    *cfg = NULL;
    if (a->config) {
        config_file = a->config;
        config_given = 1;
    }
    char *real = NULL;
    if (!config_given && rp__os_realpath(config_file, &real) != 0) {
        snprintf(note, notelen, "no configuration at %s", config_file);
        return 0;
    }
    free(real);
    static char err[RP__CONFIG_ERR_MAX];
    int rc = rp__config_load(config_file, site, cfg, err, sizeof err);
    if (rc == 0)
        return 0;
    if (config_given) {
        if (rc == RP_ERR_CONFIG)
            rp__config_err_print(stderr, "rampartctl: ", err);
        else
            fprintf(stderr, "rampartctl: %s: %s\n", config_file, rp_strerror(rc));
        return RP__CTL_RULES_USAGE;
    }
    char *nl = strchr(err, '\n');
    if (nl)
        *nl = '\0';
    snprintf(note, notelen, "the configuration %s cannot be read (%.300s)", config_file,
             rc == RP_ERR_CONFIG ? err : rp_strerror(rc));
    return 0;
}

/* What the collectors fill, found as docs/control.md says: --fields-from,
 * else the configuration's enabled plugins. *fields stays NULL (every field
 * counts as filled) when neither gives a plugin that declares its fields;
 * note then says why (cfg_note: why there is no configuration). Returns 0,
 * or RP__CTL_RULES_USAGE after printing why --fields-from cannot be used. */
static int find_fields(const struct rules_args *a, const rp__config *cfg, const char *cfg_note,
                       rp__ctl_fields **fields, char *note, size_t notelen)
{
    *fields = NULL;
    note[0] = '\0';
    int rc = 0;
    if (a->fields_from) {
        rc = rp__ctl_fields_from_dir(a->fields_from, fields);
        if (rc != 0) {
            fprintf(stderr, "rampartctl: rules check: --fields-from %s: %s\n", a->fields_from,
                    rc == RP_ERR_NOTFOUND ? "no such folder" : rp_strerror(rc));
            return RP__CTL_RULES_USAGE;
        }
    } else if (cfg) {
        rc = rp__ctl_fields_from_config(cfg, fields);
        if (rc != 0) {
            fprintf(stderr, "rampartctl: rules check: %s\n", rp_strerror(rc));
            return RP__CTL_RULES_USAGE;
        }
    } else {
        snprintf(note, notelen,
                 "%s and no --fields-from: every field counts as filled, so no rule is "
                 "reported dead for what collectors fill",
                 cfg_note);
        return 0;
    }
    if ((*fields)->declaring == 0)
        snprintf(note, notelen,
                 "no plugin of the %s declares the fields it fills: every field counts as "
                 "filled, so no rule is reported dead for what collectors fill",
                 (*fields)->source);
    return 0;
}

/* The sigma detector's settings in the configuration: the field_map over
 * the built-in table and the `expand` placeholders, read by the plugin's own
 * parser (tune.c) and applied as the plugin applies them (ruleset.c). */
struct sigma_settings {
    char *name; /* the plugin instance; NULL when the configuration has none */
    struct ds_conf *conf;
    struct ds_fieldmap *fmap;
};

static void sigma_settings_free(struct sigma_settings *ss)
{
    free(ss->name);
    ds_conf_destroy(ss->conf);
    ds_fieldmap_destroy(ss->fmap);
    memset(ss, 0, sizeof *ss);
}

/* Whether a plugin entry's file is detector_sigma.so, by its last part. */
static int is_sigma_file(const char *file)
{
    const char *base = strrchr(file, '/');
    return strcmp(base ? base + 1 : file, "detector_sigma.so") == 0;
}

/* Finds the enabled detector_sigma plugin of cfg (the first, in the
 * configuration's order) and reads its settings. Returns 0 (ss->name NULL
 * when there is none), or RP__CTL_RULES_USAGE after printing why its config
 * is refused. */
static int find_sigma(const rp__config *cfg, struct sigma_settings *ss)
{
    memset(ss, 0, sizeof *ss);
    const char *name;
    json_t *entry;
    json_object_foreach(json_object_get(cfg->root, "plugins"), name, entry)
    {
        const char *file = json_string_value(json_object_get(entry, "file"));
        if (!json_is_true(json_object_get(entry, "enabled")) || !file || !is_sigma_file(file))
            continue;
        json_t *conf = json_object_get(entry, "config");
        char *text = conf ? json_dumps(conf, JSON_COMPACT) : NULL;
        char err[512] = "";
        int rc =
            ds_conf_parse(text ? text : "{}", text ? strlen(text) : 2, &ss->conf, err, sizeof err);
        free(text);
        if (rc == 0)
            rc = ds_fieldmap_create(&ss->fmap);
        for (uint32_t i = 0; rc == 0 && i < ss->conf->n_fields; i++) {
            const struct ds_tune_field *f = &ss->conf->fields[i];
            char why[256] = "";
            rc = ds_fieldmap_set(ss->fmap, f->logsource, f->sigma, f->ecs, why, sizeof why);
            if (rc != 0 && rc != RP_ERR_NOMEM) {
                /* The field map's message names the key itself. */
                if (why[0])
                    snprintf(err, sizeof err, "%s", why);
                else
                    snprintf(err, sizeof err, "field_map.%s.%s: %s", f->logsource, f->sigma,
                             rp_strerror(rc));
                rc = RP_ERR_CONFIG;
            }
        }
        if (rc == 0 && !(ss->name = dup_str(name)))
            rc = RP_ERR_NOMEM;
        if (rc != 0) {
            fprintf(stderr, "rampartctl: %s: plugins.%s.config.%s\n", cfg->main_file, name,
                    rc == RP_ERR_CONFIG && err[0] ? err : rp_strerror(rc));
            sigma_settings_free(ss);
            return RP__CTL_RULES_USAGE;
        }
        break;
    }
    return 0;
}

struct summary {
    size_t loaded, dead, skipped, disabled, failed;
    size_t by_reason[DS_REASON_COUNT + 1];
};

static void summarize(const struct rows *rs, struct summary *s)
{
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < rs->n; i++) {
        const struct row *r = &rs->v[i];
        if (r->status == ROW_LOADED)
            s->loaded++;
        else if (r->status == ROW_DEAD)
            s->dead++;
        else if (r->status == ROW_DISABLED)
            s->disabled++;
        else {
            s->skipped++;
            s->by_reason[r->reason >= 0 && r->reason < DS_REASON_COUNT ? r->reason
                                                                       : DS_REASON_COUNT]++;
        }
        s->failed += (size_t)row_fails(r);
    }
}

static json_t *row_json(const struct row *r)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    jset(o, "path", jstr(r->path));
    jset(o, "status", json_string(status_names[r->status]));
    const char *reason = row_reason(r);
    jset(o, "reason", reason ? json_string(reason) : json_null());
    jset(o, "class",
         json_string(r->status == ROW_DEAD       ? "dead"
                     : r->status == ROW_DISABLED ? "tuning"
                                                 : class_name(ds_reason_class(r->reason))));
    jset(o, "fails", json_boolean(row_fails(r)));
    jset(o, "logsource", r->logsource ? json_string(r->logsource) : json_null());
    jset(o, "id", jstr(r->id));
    jset(o, "title", jstr(r->title));
    jset(o, "message", jstr(r->msg));
    return o;
}

static json_t *fields_json(const rp__ctl_fields *f, const char *note)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    jset(o, "source", f ? jstr(f->source) : json_null());
    jset(o, "every_field_filled", json_boolean(!f || f->declaring == 0));
    jset(o, "note", note[0] ? jstr(note) : json_null());
    json_t *list = json_array();
    for (size_t i = 0; f && list && i < f->nplugins; i++) {
        const rp__ctl_plugin *p = &f->plugins[i];
        json_t *e = json_object();
        if (!e)
            break;
        jset(e, "name", jstr(p->name));
        jset(e, "path", jstr(p->path));
        jset(e, "id", jstr(p->id));
        jset(e, "kind",
             json_string(p->kind == RP_KIND_COLLECTOR   ? "collector"
                         : p->kind == RP_KIND_DETECTOR  ? "detector"
                         : p->kind == RP_KIND_RESPONDER ? "responder"
                                                        : "unknown"));
        jset(e, "declares_fields", json_boolean(!p->status));
        jset(e, "status", p->status ? jstr(p->status) : json_string("used"));
        json_array_append_new(list, e);
    }
    jset(o, "plugins", list);
    jset(o, "plugins_truncated", json_boolean(f && f->truncated));
    return o;
}

static json_t *sigma_json(const struct sigma_settings *ss, const rp__config *cfg)
{
    if (!ss->name)
        return json_null();
    json_t *o = json_object();
    if (!o)
        return NULL;
    jset(o, "plugin", jstr(ss->name));
    jset(o, "config", jstr(cfg->main_file));
    jset(o, "field_map_entries", json_integer(ss->conf->n_fields));
    jset(o, "placeholders", json_integer(ss->conf->n_placeholders));
    json_t *dirs = json_array();
    for (uint32_t i = 0; dirs && i < ss->conf->n_rule_dirs; i++)
        json_array_append_new(dirs, jstr(ss->conf->rule_dirs[i]));
    jset(o, "rule_dirs", dirs);
    return o;
}

/* The width put_clean gives s when cut at max bytes. */
static size_t shown_len(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > max ? max + 3 : n;
}

/* The table: one row per file, each column as wide as its widest cell (the
 * message, last, is not padded, and shown without the file name it starts
 * with; --json keeps it whole). Titles are cut at TITLE_SHOWN bytes. */
#define TITLE_SHOWN 60u
static void print_table(const struct rows *rs)
{
    enum { NCOLS = 5 };
    static const char *const head[NCOLS] = {"FILE", "STATUS", "REASON", "ID", "TITLE"};
    size_t width[NCOLS];
    for (int k = 0; k < NCOLS; k++)
        width[k] = strlen(head[k]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            for (int k = 0; k < NCOLS; k++)
                printf("%-*s  ", (int)width[k], head[k]);
            printf("MESSAGE\n");
        }
        for (size_t i = 0; i < rs->n; i++) {
            const struct row *r = &rs->v[i];
            const char *reason = row_reason(r);
            const char *cells[NCOLS] = {r->path, status_names[r->status], reason ? reason : "-",
                                        r->id ? r->id : "-", r->title ? r->title : "-"};
            for (int k = 0; k < NCOLS; k++) {
                size_t max = k == 4 ? TITLE_SHOWN : (size_t)-1 / 2;
                size_t w = shown_len(cells[k], max);
                if (pass == 0) {
                    if (w > width[k])
                        width[k] = w;
                    continue;
                }
                put_clean(stdout, cells[k], max);
                printf("%*s  ", (int)(width[k] - w), "");
            }
            if (pass == 1) {
                /* The row names the file already: the message starts at
                 * its line and column. */
                const char *m = r->msg;
                size_t pl = strlen(r->path);
                if (strncmp(m, r->path, pl) == 0 && m[pl] == ':' && m[pl + 1])
                    m += pl + 1;
                put_clean(stdout, m[0] ? m : "-", 4096);
                fputc('\n', stdout);
            }
        }
    }
}

static void print_summary(const struct rows *rs, const struct summary *s, double load_ms,
                          size_t memory)
{
    printf("\n%zu files: %zu loaded, %zu dead, %zu skipped", rs->n, s->loaded, s->dead, s->skipped);
    if (s->disabled)
        printf(", %zu disabled", s->disabled);
    if (s->skipped) {
        printf(" (");
        int first = 1;
        for (int k = 0; k <= DS_REASON_COUNT; k++) {
            if (!s->by_reason[k])
                continue;
            printf("%s%s %zu", first ? "" : ", ", k < DS_REASON_COUNT ? ds_reason_name(k) : "?",
                   s->by_reason[k]);
            first = 0;
        }
        printf(")");
    }
    printf("\n%zu failed (an input or language reason, or dead)\n", s->failed);
    printf("loaded in %.1f ms; the engine holds %.1f KiB\n", load_ms, (double)memory / 1024.0);
}

static void print_fields(const rp__ctl_fields *f, const char *note)
{
    if (f && f->declaring) {
        printf("fields filled: as declared by %u of the %zu plugins of the %s\n", f->declaring,
               f->nplugins, f->source);
    }
    for (size_t i = 0; f && i < f->nplugins; i++) {
        const rp__ctl_plugin *p = &f->plugins[i];
        /* A detector or responder that declares nothing is as it should
         * be; --json still lists it. */
        if (!p->status || (p->kind && p->kind != RP_KIND_COLLECTOR && !p->types))
            continue;
        printf("  plugin %s (", p->name);
        put_clean(stdout, p->path, 4096);
        printf("): ");
        put_clean(stdout, p->status, 4096);
        fputc('\n', stdout);
    }
    if (note[0])
        printf("note: %s\n", note);
}

static int cmd_check(int argc, char **argv, const char *config_file, int config_given,
                     const char *site)
{
    struct rules_args a = {0};
    int ex = parse_args(argc, argv, 0, &a);
    if (ex != 0) {
        free(a.paths);
        return ex < 0 ? RP__CTL_RULES_OK : ex;
    }
    rp__ctl_fields *fields = NULL;
    rp__config *cfg = NULL;
    struct sigma_settings ss = {0};
    struct rows rs = {0};
    struct ds_engine *eng = NULL;
    char note[1024], cfg_note[512] = "";
    ex = load_agent_config(&a, config_file, config_given, site, &cfg, cfg_note, sizeof cfg_note);
    if (ex == 0 && cfg)
        ex = find_sigma(cfg, &ss);
    if (ex == 0)
        ex = find_fields(&a, cfg, cfg_note, &fields, note, sizeof note);
    if (ex != 0)
        goto done;
    if (a.npaths == 0) {
        /* No path: the folders the agent's detector loads. */
        if (!ss.conf || ss.conf->n_rule_dirs == 0) {
            fprintf(stderr,
                    "rampartctl: rules check: no rule file or folder given, and %s names no "
                    "enabled detector_sigma plugin with rule_dirs\n%s",
                    cfg ? cfg->main_file : "no configuration", rules_usage);
            ex = RP__CTL_RULES_USAGE;
            goto done;
        }
        char **dirs = calloc(ss.conf->n_rule_dirs, sizeof *dirs);
        if (!dirs) {
            fprintf(stderr, "rampartctl: rules check: out of memory\n");
            ex = RP__CTL_RULES_USAGE;
            goto done;
        }
        free(a.paths);
        a.paths = dirs;
        for (uint32_t i = 0; i < ss.conf->n_rule_dirs; i++)
            a.paths[a.npaths++] = ss.conf->rule_dirs[i];
    }
    struct ds_engine_opts opts = {0};
    if (fields && fields->declaring) {
        opts.filled = rp__ctl_fields_filled;
        opts.filled_ctx = fields;
    }
    if (ss.conf) {
        opts.fieldmap = ss.fmap;
        opts.match.placeholders = ss.conf->placeholders;
        opts.match.nplaceholders = ss.conf->n_placeholders;
    }
    int64_t t0 = rp__os_monotonic_ns();
    int rc = ds_engine_create(&opts, &eng);
    if (rc == 0)
        rc = add_paths(eng, &rs, a.paths, a.npaths);
    if (rc == 0)
        rc = ds_engine_build(eng);
    double load_ms = (double)(rp__os_monotonic_ns() - t0) / 1e6;
    if (rc != 0) {
        fprintf(stderr, "rampartctl: rules check: %s\n", rp_strerror(rc));
        ex = RP__CTL_RULES_USAGE;
        goto done;
    }
    struct summary s;
    summarize(&rs, &s);
    size_t memory = ds_engine_memory(eng);
    ex = s.failed ? RP__CTL_RULES_FAILED : RP__CTL_RULES_OK;
    if (a.json) {
        json_t *doc = json_object(), *files = json_array(), *sum = json_object(),
               *reasons = json_object();
        for (size_t i = 0; files && i < rs.n; i++)
            json_array_append_new(files, row_json(&rs.v[i]));
        jset(doc, "files", files);
        jset(sum, "files", json_integer((json_int_t)rs.n));
        jset(sum, "loaded", json_integer((json_int_t)s.loaded));
        jset(sum, "dead", json_integer((json_int_t)s.dead));
        jset(sum, "skipped", json_integer((json_int_t)s.skipped));
        jset(sum, "disabled", json_integer((json_int_t)s.disabled));
        for (int k = 0; reasons && k <= DS_REASON_COUNT; k++)
            if (s.by_reason[k])
                jset(reasons, k < DS_REASON_COUNT ? ds_reason_name(k) : "?",
                     json_integer((json_int_t)s.by_reason[k]));
        jset(sum, "skipped_by_reason", reasons);
        jset(sum, "failed", json_integer((json_int_t)s.failed));
        jset(sum, "load_ms", json_real(load_ms));
        jset(sum, "memory_bytes", json_integer((json_int_t)memory));
        jset(doc, "summary", sum);
        jset(doc, "fields", fields_json(fields, note));
        jset(doc, "sigma_config", sigma_json(&ss, cfg));
        jset(doc, "exit_status", json_integer(ex));
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "rampartctl: rules check: out of memory\n");
            ex = RP__CTL_RULES_USAGE;
        }
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        print_table(&rs);
        print_summary(&rs, &s, load_ms, memory);
        print_fields(fields, note);
        if (ss.name)
            printf("sigma settings: the field_map (%u entries) and placeholders (%u) of plugin "
                   "%s in %s\n",
                   ss.conf->n_fields, ss.conf->n_placeholders, ss.name, cfg->main_file);
    }
done:
    ds_engine_destroy(eng);
    rows_free(&rs);
    rp__ctl_fields_destroy(fields);
    sigma_settings_free(&ss);
    rp__config_destroy(cfg);
    free(a.paths);
    return ex;
}

/* ---- rules test ------------------------------------------------------------- */

/* Matches kept with their details: the first MATCHES_LISTED of each rule,
 * at most MATCHES_KEPT in all; the rest are counted only. */
#define MATCHES_LISTED 1000u
#define MATCHES_KEPT   100000u
#define EVENT_ID_MAX   128u
#define WHY_MAX        1024u

struct match {
    uint64_t line;
    char *event_id; /* NULL when the event has none */
    char *why;
};

struct rule_matches {
    uint64_t count;
    struct match *v;
    size_t n, cap;
};

struct line_error {
    uint64_t line;
    char *msg;
};

struct test_state {
    struct ds_engine *eng;
    struct rule_matches *per_rule; /* by ds_crule_index */
    uint32_t nrules;
    uint32_t *hits; /* rules that matched the current event */
    uint32_t nhits;
    size_t kept;
    struct line_error *errors;
    size_t nerrors, cap_errors;
    uint64_t events, malformed, blank, matches;
    int capped, nomem;
};

static int on_match(void *ctx, const struct ds_crule *rule)
{
    struct test_state *t = ctx;
    if (t->nhits < t->nrules)
        t->hits[t->nhits++] = ds_crule_index(rule);
    return 0;
}

static void keep_error(struct test_state *t, uint64_t line, const char *msg)
{
    /* Only the first errors are listed in --json; all are counted and
     * printed on stderr. */
    if (t->nerrors >= MATCHES_LISTED)
        return;
    if (t->nerrors == t->cap_errors) {
        size_t cap = t->cap_errors ? t->cap_errors * 2 : 16;
        struct line_error *v = realloc(t->errors, cap * sizeof *v);
        if (!v)
            return;
        t->errors = v;
        t->cap_errors = cap;
    }
    t->errors[t->nerrors].line = line;
    if ((t->errors[t->nerrors].msg = dup_str(msg)))
        t->nerrors++;
}

static void line_problem(struct test_state *t, const char *file, uint64_t line, const char *fmt,
                         const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail);
    fprintf(stderr, "%s:%llu: ", file, (unsigned long long)line);
    put_clean(stderr, msg, sizeof msg);
    fputc('\n', stderr);
    keep_error(t, line, msg);
}

/* The event's event.id as text, cut at EVENT_ID_MAX bytes; NULL when none. */
static char *event_id_of(const json_t *doc)
{
    const json_t *v = rp__ctl_json_lookup(doc, "event.id", 8);
    char buf[EVENT_ID_MAX + 1];
    if (json_is_string(v))
        snprintf(buf, sizeof buf, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
    else
        return NULL;
    return dup_str(buf);
}

static void record(struct test_state *t, uint32_t idx, uint64_t line, const json_t *doc,
                   const struct ds_view *view)
{
    struct rule_matches *m = &t->per_rule[idx];
    m->count++;
    t->matches++;
    if (m->n >= MATCHES_LISTED || t->kept >= MATCHES_KEPT)
        return;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct match *v = realloc(m->v, cap * sizeof *v);
        if (!v) {
            t->nomem = 1;
            return;
        }
        m->v = v;
        m->cap = cap;
    }
    char why[WHY_MAX];
    why[0] = '\0';
    ds_engine_explain(t->eng, ds_engine_rule_at(t->eng, idx), view, why, sizeof why);
    struct match *x = &m->v[m->n];
    x->line = line;
    x->event_id = event_id_of(doc);
    x->why = dup_str(why);
    if (!x->why) {
        free(x->event_id);
        t->nomem = 1;
        return;
    }
    m->n++;
    t->kept++;
}

static int blank_line(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
            return 0;
    return 1;
}

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    default:
        return "an object";
    }
}

/* Reads and evaluates every event of f. Returns 0, or RP_ERR_IO / NOMEM. */
static int run_events(struct test_state *t, FILE *f, const char *name, rp__ctl_event *ev)
{
    rp__ctl_lines lr;
    int rc = rp__ctl_lines_init(&lr, f);
    if (rc != 0)
        return rc;
    for (;;) {
        char *line;
        size_t len;
        rc = rp__ctl_lines_next(&lr, &line, &len);
        if (rc == 0)
            break;
        if (rc == RP_ERR_IO)
            break;
        if (rc == 1 && blank_line(line, len)) {
            t->blank++;
            rc = 0;
            continue;
        }
        if (t->events >= RP__CTL_EVENTS_MAX) {
            char cap[32];
            snprintf(cap, sizeof cap, "%u", RP__CTL_EVENTS_MAX);
            line_problem(t, name, lr.lineno,
                         "stopped: more than %s events (the cap); the rest of the file is not "
                         "read",
                         cap);
            t->capped = 1;
            rc = 0;
            break;
        }
        if (rc == RP_ERR_RANGE) {
            char cap[32];
            snprintf(cap, sizeof cap, "%u", RP__CTL_LINE_MAX);
            line_problem(t, name, lr.lineno,
                         "line longer than %s bytes (the cap); expected one JSON object per "
                         "line",
                         cap);
            t->malformed++;
            rc = 0;
            continue;
        }
        json_error_t jerr;
        json_t *doc = json_loadb(line, len, JSON_ALLOW_NUL, &jerr);
        if (!doc) {
            char detail[300];
            snprintf(detail, sizeof detail, "%s (column %d)", jerr.text, jerr.column);
            line_problem(t, name, lr.lineno, "expected a JSON object: %s", detail);
            t->malformed++;
            rc = 0;
            continue;
        }
        if (!json_is_object(doc)) {
            line_problem(t, name, lr.lineno, "expected a JSON object, found %s",
                         json_type_name(doc));
            json_decref(doc);
            t->malformed++;
            rc = 0;
            continue;
        }
        t->events++;
        struct ds_view view;
        rp__ctl_event_set(ev, doc, &view);
        t->nhits = 0;
        ds_engine_eval(t->eng, -1, &view, on_match, t, NULL);
        /* Explained after the evaluation: the engine's scratch belongs to
         * one evaluation at a time. */
        for (uint32_t k = 0; k < t->nhits; k++)
            record(t, t->hits[k], lr.lineno, doc, &view);
        json_decref(doc);
        rc = 0;
        if (t->nomem) {
            rc = RP_ERR_NOMEM;
            break;
        }
    }
    rp__ctl_lines_free(&lr);
    return rc;
}

static void test_free(struct test_state *t)
{
    for (uint32_t i = 0; t->per_rule && i < t->nrules; i++) {
        for (size_t k = 0; k < t->per_rule[i].n; k++) {
            free(t->per_rule[i].v[k].event_id);
            free(t->per_rule[i].v[k].why);
        }
        free(t->per_rule[i].v);
    }
    free(t->per_rule);
    free(t->hits);
    for (size_t i = 0; i < t->nerrors; i++)
        free(t->errors[i].msg);
    free(t->errors);
}

static void print_test(const struct test_state *t, const struct rows *rs, const char *events)
{
    size_t matched_rules = 0;
    for (uint32_t i = 0; i < t->nrules; i++) {
        const struct ds_crule *cr = ds_engine_rule_at(t->eng, i);
        const struct ds_rule *r = ds_crule_rule(cr);
        const struct rule_matches *m = &t->per_rule[i];
        matched_rules += m->count > 0;
        put_clean(stdout, ds_crule_path(cr), 4096);
        printf(": ");
        put_clean(stdout, r->title ? r->title : "-", 200);
        printf(" (id ");
        put_clean(stdout, r->id ? r->id : "-", 200);
        printf(")%s: ", ds_crule_dead(cr) ? " [dead]" : "");
        if (m->count)
            printf("matched %llu of %llu events\n", (unsigned long long)m->count,
                   (unsigned long long)t->events);
        else
            printf("matched none of %llu events\n", (unsigned long long)t->events);
        for (size_t k = 0; k < m->n; k++) {
            printf("  line %llu", (unsigned long long)m->v[k].line);
            if (m->v[k].event_id) {
                printf(" (event.id ");
                put_clean(stdout, m->v[k].event_id, EVENT_ID_MAX);
                printf(")");
            }
            printf(": ");
            put_clean(stdout, m->v[k].why[0] ? m->v[k].why : "-", WHY_MAX);
            fputc('\n', stdout);
        }
        if (m->count > m->n)
            printf("  ... and %llu more (not listed)\n", (unsigned long long)(m->count - m->n));
    }
    size_t not_loaded = 0;
    for (size_t i = 0; i < rs->n; i++) {
        const struct row *r = &rs->v[i];
        if (r->status == ROW_LOADED)
            continue;
        if (r->status != ROW_DEAD)
            not_loaded++;
        const char *reason = row_reason(r);
        printf("%s: ", r->status == ROW_DEAD ? "dead" : "not loaded");
        put_clean(stdout, r->path, 4096);
        printf(": %s: ", reason ? reason : "-");
        put_clean(stdout, r->msg, 4096);
        fputc('\n', stdout);
    }
    printf("\n%llu events read from ", (unsigned long long)t->events);
    put_clean(stdout, events, 4096);
    printf(" (%llu malformed lines%s); %u rules loaded, %zu files not loaded; %zu rules "
           "matched, %llu matches\n",
           (unsigned long long)t->malformed, t->capped ? ", stopped at the event cap" : "",
           t->nrules, not_loaded, matched_rules, (unsigned long long)t->matches);
}

static json_t *test_json(const struct test_state *t, const struct rows *rs, const char *events,
                         int ex)
{
    json_t *doc = json_object(), *rules = json_array(), *nl = json_array(), *errs = json_array(),
           *sum = json_object();
    size_t matched_rules = 0, not_loaded = 0;
    for (uint32_t i = 0; rules && i < t->nrules; i++) {
        const struct ds_crule *cr = ds_engine_rule_at(t->eng, i);
        const struct ds_rule *r = ds_crule_rule(cr);
        const struct rule_matches *m = &t->per_rule[i];
        matched_rules += m->count > 0;
        json_t *o = json_object(), *list = json_array();
        if (!o)
            break;
        jset(o, "path", jstr(ds_crule_path(cr)));
        jset(o, "id", jstr(r->id));
        jset(o, "title", jstr(r->title));
        jset(o, "status", json_string(ds_crule_dead(cr) ? "dead" : "loaded"));
        jset(o, "matched", json_integer((json_int_t)m->count));
        for (size_t k = 0; list && k < m->n; k++) {
            json_t *x = json_object();
            if (!x)
                break;
            jset(x, "line", json_integer((json_int_t)m->v[k].line));
            jset(x, "event_id", jstr(m->v[k].event_id));
            jset(x, "why", jstr(m->v[k].why));
            json_array_append_new(list, x);
        }
        jset(o, "matches", list);
        jset(o, "matches_truncated", json_boolean(m->count > m->n));
        json_array_append_new(rules, o);
    }
    for (size_t i = 0; nl && i < rs->n; i++) {
        if (rs->v[i].status == ROW_LOADED)
            continue;
        not_loaded += rs->v[i].status != ROW_DEAD;
        json_array_append_new(nl, row_json(&rs->v[i]));
    }
    for (size_t i = 0; errs && i < t->nerrors; i++) {
        json_t *x = json_object();
        if (!x)
            break;
        jset(x, "line", json_integer((json_int_t)t->errors[i].line));
        jset(x, "message", jstr(t->errors[i].msg));
        json_array_append_new(errs, x);
    }
    jset(doc, "events_file", jstr(events));
    jset(doc, "rules", rules);
    jset(doc, "files", nl);
    jset(doc, "errors", errs);
    jset(sum, "events", json_integer((json_int_t)t->events));
    jset(sum, "malformed", json_integer((json_int_t)t->malformed));
    jset(sum, "blank", json_integer((json_int_t)t->blank));
    jset(sum, "event_cap_reached", json_boolean(t->capped));
    jset(sum, "rules", json_integer((json_int_t)t->nrules));
    jset(sum, "files_not_loaded", json_integer((json_int_t)not_loaded));
    jset(sum, "rules_matched", json_integer((json_int_t)matched_rules));
    jset(sum, "matches", json_integer((json_int_t)t->matches));
    jset(doc, "summary", sum);
    jset(doc, "exit_status", json_integer(ex));
    return doc;
}

static int cmd_test(int argc, char **argv, const char *config_file, int config_given,
                    const char *site)
{
    struct rules_args a = {0};
    int ex = parse_args(argc, argv, 1, &a);
    if (ex != 0) {
        free(a.paths);
        return ex < 0 ? RP__CTL_RULES_OK : ex;
    }
    struct ds_engine_opts opts = {.any_logsource = true, .raw_fields = a.raw_fields != 0};
    struct rows rs = {0};
    struct test_state t = {0};
    rp__ctl_event ev = {0};
    const char **slots = NULL;
    FILE *f = NULL;
    rp__config *cfg = NULL;
    struct sigma_settings ss = {0};
    char cfg_note[512] = "";
    /* The detector's field_map and placeholders, as for check; what the
     * collectors fill does not matter here (the events are given). */
    int rc = 0;
    ex = load_agent_config(&a, config_file, config_given, site, &cfg, cfg_note, sizeof cfg_note);
    if (ex == 0 && cfg)
        ex = find_sigma(cfg, &ss);
    if (ex != 0)
        goto done;
    if (ss.conf) {
        opts.fieldmap = ss.fmap;
        opts.match.placeholders = ss.conf->placeholders;
        opts.match.nplaceholders = ss.conf->n_placeholders;
    }
    rc = ds_engine_create(&opts, &t.eng);
    if (rc == 0)
        rc = add_paths(t.eng, &rs, a.paths, a.npaths);
    if (rc == 0)
        rc = ds_engine_build(t.eng);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: rules test: %s\n", rp_strerror(rc));
        ex = RP__CTL_RULES_USAGE;
        goto done;
    }
    t.nrules = ds_engine_rule_count(t.eng);
    uint32_t nslots = ds_engine_slot_count(t.eng);
    t.per_rule = calloc(t.nrules ? t.nrules : 1, sizeof *t.per_rule);
    t.hits = calloc(t.nrules ? t.nrules : 1, sizeof *t.hits);
    slots = calloc(nslots ? nslots : 1, sizeof *slots);
    if (!t.per_rule || !t.hits || !slots) {
        fprintf(stderr, "rampartctl: rules test: out of memory\n");
        ex = RP__CTL_RULES_USAGE;
        goto done;
    }
    for (uint32_t i = 0; i < nslots; i++)
        slots[i] = ds_engine_slot_name(t.eng, i);
    if (rp__ctl_event_init(&ev, slots, nslots) != 0) {
        fprintf(stderr, "rampartctl: rules test: out of memory\n");
        ex = RP__CTL_RULES_USAGE;
        goto done;
    }
    int is_stdin = strcmp(a.events, "-") == 0;
    f = is_stdin ? stdin : fopen(a.events, "rb");
    if (!f) {
        fprintf(stderr, "rampartctl: rules test: --events %s: cannot be opened\n", a.events);
        ex = RP__CTL_RULES_USAGE;
        goto done;
    }
    rc = run_events(&t, f, is_stdin ? "<stdin>" : a.events, &ev);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: rules test: %s: %s\n", a.events,
                rc == RP_ERR_IO ? "read error" : rp_strerror(rc));
        ex = RP__CTL_RULES_USAGE;
        goto done;
    }
    int failed = t.malformed > 0 || t.capped;
    for (size_t i = 0; i < rs.n; i++)
        failed |= row_fails(&rs.v[i]);
    ex = failed ? RP__CTL_RULES_FAILED : RP__CTL_RULES_OK;
    if (a.json) {
        json_t *doc = test_json(&t, &rs, a.events, ex);
        if (doc)
            jset(doc, "sigma_config", sigma_json(&ss, cfg));
        if (!doc || json_dumpf(doc, stdout, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "rampartctl: rules test: out of memory\n");
            ex = RP__CTL_RULES_USAGE;
        }
        fputc('\n', stdout);
        json_decref(doc);
    } else {
        print_test(&t, &rs, a.events);
        if (ss.name)
            printf("sigma settings: the field_map (%u entries) and placeholders (%u) of plugin "
                   "%s in %s\n",
                   ss.conf->n_fields, ss.conf->n_placeholders, ss.name, cfg->main_file);
    }
done:
    if (f && f != stdin)
        fclose(f);
    rp__ctl_event_free(&ev);
    free(slots);
    test_free(&t);
    ds_engine_destroy(t.eng);
    rows_free(&rs);
    sigma_settings_free(&ss);
    rp__config_destroy(cfg);
    free(a.paths);
    return ex;
}

int rp__ctl_rules(int argc, char **argv, const char *config_file, int config_given,
                  const char *site)
{
    if (argc < 2) {
        fprintf(stderr, "rampartctl: rules needs a subcommand: check or test\n%s", rules_usage);
        return RP__CTL_RULES_USAGE;
    }
    if (strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 2, argv + 2, config_file, config_given, site);
    if (strcmp(argv[1], "test") == 0)
        return cmd_test(argc - 2, argv + 2, config_file, config_given, site);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(rules_usage, stdout);
        return RP__CTL_RULES_OK;
    }
    fprintf(stderr, "rampartctl: rules: unknown subcommand '%s'; expected check or test\n%s",
            argv[1], rules_usage);
    return RP__CTL_RULES_USAGE;
}
