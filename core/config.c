/* core/config.c - configuration layers, merge and validation. */
#include "config.h"
#include "lib/json_merge.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "lib/path.h"
#include "lib/schema.h"
#include "lib/secrets.h"
#include "runtime/policy.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_err(char *err, size_t errlen, const char *fmt, ...) RP__PRINTF(3, 4);

static int set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return RP_ERR_CONFIG;
}

/* Reads and parses one JSON file into an object; the error names the file.
 * *missing (may be NULL) is set when the file does not exist. */
static int load_doc(const char *file, json_t **out, int *missing, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int sys = 0;
    int rc = rp__os_read_file(file, RP__CONFIG_MAX_BYTES, &data, &len, &sys);
    if (missing)
        *missing = rc == RP_ERR_NOTFOUND;
    if (rc == RP_ERR_NOMEM)
        return rc;
    if (rc == RP_ERR_RANGE)
        return set_err(err, errlen, "%s: file is larger than %u bytes", file, RP__CONFIG_MAX_BYTES);
    if (rc == RP_ERR_INVAL)
        return set_err(err, errlen, "%s: not a regular file", file);
    if (rc != 0)
        return set_err(err, errlen, "%s: cannot read: %s", file, strerror(sys ? sys : EIO));

    json_error_t jerr;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    free(data);
    if (!doc)
        return set_err(err, errlen, "%s: line %d, column %d: invalid JSON: %s", file, jerr.line,
                       jerr.column, jerr.text);
    *out = doc;
    return 0;
}

void rp__config_err_add(char *err, size_t errlen, const char *fmt, ...)
{
    static const char more[] = "(more errors were found; fix these and check again)";
    if (!err || errlen < sizeof more + 2)
        return;
    size_t used = strnlen(err, errlen);
    if (used >= errlen ||
        (used >= sizeof more - 1 && strcmp(err + used - (sizeof more - 1), more) == 0))
        return; /* full already */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    rp__secrets_scrub(line, sizeof line);
    size_t need = (used ? 1 : 0) + strlen(line) + 1;
    /* Room is kept for the final note. */
    if (used + need + sizeof more + 1 > errlen) {
        snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", more);
        return;
    }
    snprintf(err + used, errlen - used, "%s%s", used ? "\n" : "", line);
}

void rp__config_err_print(FILE *f, const char *prefix, const char *err)
{
    const char *p = err;
    do {
        const char *nl = strchr(p, '\n');
        int n = nl ? (int)(nl - p) : (int)strlen(p);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", n, p);
        rp__secrets_scrub(line, sizeof line);
        fprintf(f, "%s%s\n", prefix, line);
        p = nl ? nl + 1 : NULL;
    } while (p);
}

static const char *site_rule =
    "a site name of letters, digits, '_', '-' and '.' that does not start with '.' or '-', "
    "has no \"..\" and is at most 64 bytes";

static int site_ok(const char *site)
{
    return rp__schema_is_name(site) && strlen(site) <= 64;
}

void rp__config_destroy(rp__config *cfg)
{
    if (!cfg)
        return;
    json_decref(cfg->root);
    json_decref(cfg->main_doc);
    json_decref(cfg->overlay_doc);
    free(cfg->main_file);
    free(cfg->site);
    free(cfg->site_file);
    free(cfg->site_from);
    free(cfg->config_dir);
    free(cfg->data_dir);
    free(cfg->plugin_dir);
    free(cfg->pid_file);
    free(cfg->control_socket);
    free(cfg->output_file);
    free(cfg->output_ca_file);
    free(cfg->output_client_cert);
    free(cfg->output_client_key);
    free(cfg->output_token_file);
    free(cfg);
}

static const char *str_at(const json_t *root, const char *section, const char *key)
{
    return json_string_value(json_object_get(json_object_get(root, section), key));
}

/* The same for integers, and for strings where empty means unset (NULL). */
static json_int_t int_at(const json_t *root, const char *section, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(root, section), key));
}

static const char *nonempty_at(const json_t *root, const char *section, const char *key)
{
    const char *v = str_at(root, section, key);
    return v && *v ? v : NULL;
}

/* Fills the typed fields from a validated document. */
static int extract(rp__config *cfg)
{
    const json_t *root = cfg->root;
    cfg->data_dir = rp__path_resolve(cfg->config_dir, str_at(root, "agent", "data_dir"));
    cfg->plugin_dir = rp__path_resolve(cfg->config_dir, str_at(root, "agent", "plugin_dir"));
    if (!cfg->data_dir || !cfg->plugin_dir)
        return RP_ERR_NOMEM;

    const char *pid = str_at(root, "agent", "pid_file");
    cfg->pid_file = rp__path_resolve(cfg->data_dir, (pid && *pid) ? pid : "rampartd.pid");
    if (!cfg->pid_file)
        return RP_ERR_NOMEM;
    const char *sock = str_at(root, "agent", "control_socket");
    cfg->control_socket = rp__path_resolve(cfg->data_dir, (sock && *sock) ? sock : "control.sock");
    if (!cfg->control_socket)
        return RP_ERR_NOMEM;

    const char *out = str_at(root, "output", "file");
    if (out && *out && !(cfg->output_file = rp__path_resolve(cfg->data_dir, out)))
        return RP_ERR_NOMEM;
    const json_t *output = json_object_get(root, "output");
    /* true is the NDJSON lines, as before "text" existed. */
    const json_t *so = json_object_get(output, "stdout");
    cfg->output_stdout =
        json_is_true(so)                                                   ? RP__STDOUT_JSON
        : json_is_string(so) && strcmp(json_string_value(so), "text") == 0 ? RP__STDOUT_TEXT
        : json_is_string(so) && strcmp(json_string_value(so), "json") == 0 ? RP__STDOUT_JSON
                                                                           : RP__STDOUT_OFF;
    cfg->output_file_max_bytes = (uint64_t)int_at(root, "output", "file_max_bytes");
    cfg->output_file_keep = (uint32_t)int_at(root, "output", "file_keep");
    cfg->flush_interval_ms = (uint32_t)int_at(root, "output", "flush_interval_ms");
    cfg->output_url = nonempty_at(root, "output", "url");
    cfg->output_format = str_at(root, "output", "format");
    /* Certificates, keys and tokens are deployed with the config, so their
     * relative paths start from the config's folder. */
    static const struct {
        const char *key;
        size_t offset;
    } paths[] = {
        {"ca_file", offsetof(rp__config, output_ca_file)},
        {"client_cert", offsetof(rp__config, output_client_cert)},
        {"client_key", offsetof(rp__config, output_client_key)},
        {"token_file", offsetof(rp__config, output_token_file)},
    };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const char *v = str_at(root, "output", paths[i].key);
        char **slot = (char **)((char *)cfg + paths[i].offset);
        if (v && *v && !(*slot = rp__path_resolve(cfg->config_dir, v)))
            return RP_ERR_NOMEM;
    }
    cfg->output_pinned_pubkey = nonempty_at(root, "output", "pinned_pubkey");
    cfg->output_proxy = nonempty_at(root, "output", "proxy");
    cfg->output_timeout_ms = (uint32_t)int_at(root, "output", "timeout_ms");
    cfg->batch_max_events = (uint32_t)int_at(root, "output", "batch_max_events");
    cfg->batch_max_bytes = (uint32_t)int_at(root, "output", "batch_max_bytes");
    cfg->output_gzip = json_is_true(json_object_get(output, "gzip"));
    cfg->spool_max_bytes = (uint64_t)int_at(root, "spool", "max_bytes");
    cfg->spool_fsync = str_at(root, "spool", "fsync");
    cfg->deadletter_max_bytes = (uint64_t)int_at(root, "spool", "deadletter_max_bytes");
    cfg->health_interval_ms = (uint32_t)int_at(root, "agent", "health_interval_ms");
    cfg->bus_max_bytes = (uint64_t)int_at(root, "agent", "bus_max_bytes");
    cfg->max_rss_bytes = (uint64_t)int_at(root, "agent", "max_rss_bytes");
    cfg->stop_grace_ms = (uint32_t)int_at(root, "agent", "stop_grace_ms");
    cfg->plugin_command_timeout_ms = (uint32_t)int_at(root, "agent", "plugin_command_timeout_ms");
    cfg->plugin_file_reloads_max = (uint32_t)int_at(root, "agent", "plugin_file_reloads_max");
    cfg->output_file_max_rotations_per_min =
        (uint32_t)int_at(root, "output", "file_max_rotations_per_min");
    cfg->loop_slice_us = (uint32_t)int_at(root, "agent", "loop_slice_us");
    cfg->loop_rt_max_cpu_pct = (uint32_t)int_at(root, "agent", "loop_realtime_max_cpu_pct");

    if (rp__log_level_parse(str_at(root, "agent", "log_level"), &cfg->log_level) != 0)
        return RP_ERR_INTERNAL; /* the schema's enum rules this out */
    const char *target = str_at(root, "agent", "log_target");
    cfg->log_target = strcmp(target, "stderr") == 0   ? RP__LOG_TARGET_STDERR
                      : strcmp(target, "syslog") == 0 ? RP__LOG_TARGET_SYSLOG
                                                      : RP__LOG_TARGET_AUTO;
    return 0;
}

/* The file a value at the path came from: the last layer that sets it; for
 * a key that no layer sets (a required key missing), the layer that wrote
 * the object it is missing from, the main file first. */
static const char *attribute(const json_t *main_doc, const char *main_name,
                             const json_t *overlay_doc, const char *overlay_name,
                             const struct rp__json_seg *segv, int depth)
{
    if (overlay_doc && rp__json_layer_mentions(overlay_doc, segv, depth))
        return overlay_name;
    if (rp__json_layer_mentions(main_doc, segv, depth))
        return main_name;
    if (depth > 0 && rp__json_layer_mentions(main_doc, segv, depth - 1))
        return main_name;
    if (depth > 0 && overlay_doc && rp__json_layer_mentions(overlay_doc, segv, depth - 1))
        return overlay_name;
    return "built-in defaults";
}

/* Where schema errors go: every one becomes a line naming its file. */
struct collect {
    const json_t *main_doc, *overlay_doc;
    const char *main_name, *overlay_name;
    const json_t *skip_plugins; /* names already reported as no such plugin */
    char *err;
    size_t errlen;
};

static void on_schema_error(void *arg, const rp__schema_error *e)
{
    struct collect *c = arg;
    /* A plugin the overlay names but no layer below defines is reported
     * once, as such, and not as the keys its entry lacks. */
    if (e->depth >= 2 && e->segv[0].key && strcmp(e->segv[0].key, "plugins") == 0 &&
        e->segv[1].key && json_object_get(c->skip_plugins, e->segv[1].key))
        return;
    const char *file =
        attribute(c->main_doc, c->main_name, c->overlay_doc, c->overlay_name, e->segv, e->depth);
    rp__config_err_add(c->err, c->errlen, "%s: %s: %s", file, e->path[0] ? e->path : "(top level)",
                       e->message);
}

/*
 * A plugin entry in the overlay that no layer below defines, and that does
 * not say which file to load, is most likely a misspelt name: say so, with
 * the closest known name, instead of "required key missing". The names are
 * added to skip (their schema errors would only repeat it).
 */
static void unknown_overlay_plugins(const json_t *base, const json_t *overlay_doc,
                                    const char *overlay_name, const char *main_name, json_t *skip,
                                    char *err, size_t errlen)
{
    const json_t *known = json_object_get(base, "plugins");
    const json_t *given = json_object_get(overlay_doc, "plugins");
    const char *name, *kname;
    json_t *entry, *kentry;
    if (!json_is_object(given))
        return;
    json_object_foreach((json_t *)given, name, entry)
    {
        if (!json_is_object(entry) || json_object_get(entry, "file") ||
            json_object_get(known, name))
            continue;
        const char *best = NULL;
        size_t best_d = 3;
        json_object_foreach((json_t *)known, kname, kentry)
        {
            (void)kentry;
            size_t d = rp__edit_distance(name, kname);
            if (d < best_d) {
                best_d = d;
                best = kname;
            }
        }
        struct rp__json_seg segv[2] = {{.key = "plugins"}, {.key = name}};
        char path[256];
        rp__json_path_format(segv, 2, path, sizeof path);
        if (best)
            rp__config_err_add(err, errlen, "%s: %s: no plugin \"%s\" in %s; did you mean \"%s\"?",
                               overlay_name, path, name, main_name, best);
        else
            rp__config_err_add(err, errlen,
                               "%s: %s: no plugin \"%s\" in %s; a new plugin needs \"enabled\" "
                               "and \"file\"",
                               overlay_name, path, name, main_name);
        json_object_set_new(skip, name, json_true());
    }
}

/* Each value the schema marks secret is kept out of everything printed
 * from here on (lib/secrets.h), errors about this very config included. */
static void register_secret(void *arg, const char *s, size_t len)
{
    (void)arg;
    (void)rp__secrets_add(s, len); /* too short or too many: see lib/secrets.h */
}

static json_t *builtin_doc(const char *text)
{
    json_error_t jerr;
    return json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
}

/* collectors.exclude: the schema checks the shape; the paths must also be
 * absolute, which it cannot say, and the collectors would refuse them at
 * start (so --check-config says it first). */
static int check_exclude(const json_t *merged, const json_t *main_doc, const char *main_name,
                         const json_t *overlay_doc, const char *overlay_name, char *err,
                         size_t errlen)
{
    static const char *const keys[] = {"executables", "path_prefixes"};
    const json_t *x = json_object_get(json_object_get(merged, "collectors"), "exclude");
    for (int k = 0; k < 2; k++) {
        size_t i;
        const json_t *item;
        json_array_foreach(json_object_get(x, keys[k]), i, item)
        {
            const char *v = json_string_value(item);
            if (v && v[0] == '/')
                continue;
            struct rp__json_seg segv[4] = {
                {.key = "collectors"}, {.key = "exclude"}, {.key = keys[k]}, {.index = i}};
            const char *file = attribute(main_doc, main_name, overlay_doc, overlay_name, segv, 4);
            return set_err(err, errlen,
                           "%s: collectors.exclude.%s[%zu]: expected an absolute path, got \"%s\"",
                           file, keys[k], i, v ? v : "");
        }
    }
    return 0;
}

/* agent.max_rss_bytes must leave room above the byte cap on queued events
 * (those bytes are resident too), or the ceiling would pause the collectors
 * before the cap could. */
#define RSS_ABOVE_BUS ((uint64_t)32 << 20)

static int check_rss_ceiling(const json_t *merged, const json_t *main_doc, const char *main_name,
                             const json_t *overlay_doc, const char *overlay_name, char *err,
                             size_t errlen)
{
    const json_t *agent = json_object_get(merged, "agent");
    json_int_t rss = json_integer_value(json_object_get(agent, "max_rss_bytes"));
    json_int_t bus = json_integer_value(json_object_get(agent, "bus_max_bytes"));
    if (rss == 0 || (uint64_t)rss >= (uint64_t)bus + RSS_ABOVE_BUS)
        return 0;
    struct rp__json_seg segv[2] = {{.key = "agent"}, {.key = "max_rss_bytes"}};
    const char *file = attribute(main_doc, main_name, overlay_doc, overlay_name, segv, 2);
    return set_err(err, errlen,
                   "%s: agent.max_rss_bytes: expected 0 (no ceiling) or at least "
                   "agent.bus_max_bytes + 33554432 = %llu, got %lld",
                   file, (unsigned long long)((uint64_t)bus + RSS_ABOVE_BUS), (long long)rss);
}

/* policy: the schema checks the shape; the policy's own check adds what it
 * cannot say (an action listed twice, two tags that differ only in case,
 * the number of entries), with the same code the agent runs. */
struct policy_errors {
    const json_t *main_doc, *overlay_doc;
    const char *main_name, *overlay_name;
    char *err;
    size_t errlen;
};

static void on_policy_error(void *arg, const struct rp__json_seg *segv, int depth, const char *msg)
{
    struct policy_errors *pe = arg;
    char path[512];
    rp__json_path_format(segv, depth, path, sizeof path);
    rp__config_err_add(
        pe->err, pe->errlen, "%s: %s: %s",
        attribute(pe->main_doc, pe->main_name, pe->overlay_doc, pe->overlay_name, segv, depth),
        path, msg);
}

int rp__config_from_docs(const json_t *main_doc, const char *main_name, const json_t *overlay_doc,
                         const char *overlay_name, const char *site, const char *config_dir,
                         rp__config **out, char *err, size_t errlen)
{
    json_t *defaults = NULL, *schema = NULL, *tmp = NULL, *merged = NULL, *skip = NULL;
    rp__config *cfg = NULL;
    int rc = RP_ERR_NOMEM;

    if (err && errlen)
        err[0] = '\0';
    if (!json_is_object(main_doc)) {
        char got[96];
        rp__json_describe(main_doc, got, sizeof got);
        return set_err(err, errlen, "%s: (top level): expected object, got %s", main_name, got);
    }
    if (overlay_doc && !json_is_object(overlay_doc)) {
        char got[96];
        rp__json_describe(overlay_doc, got, sizeof got);
        return set_err(err, errlen, "%s: (top level): expected object (a JSON merge patch), got %s",
                       overlay_name, got);
    }
    if (overlay_doc && site) {
        const json_t *os = json_object_get(json_object_get(overlay_doc, "agent"), "site");
        if (os && !(json_is_string(os) && strcmp(json_string_value(os), site) == 0)) {
            char got[96];
            rp__json_describe(os, got, sizeof got);
            return set_err(err, errlen,
                           "%s: agent.site: a site overlay cannot choose the site; expected "
                           "\"%s\" or nothing, got %s",
                           overlay_name, site, got);
        }
    }

    defaults = builtin_doc(rp__config_defaults_json);
    schema = builtin_doc(rp__config_schema_json);
    if (!defaults || !schema)
        goto out;
    tmp = rp__json_merge_patch(defaults, main_doc);
    if (!tmp)
        goto out;
    merged = overlay_doc ? rp__json_merge_patch(tmp, overlay_doc) : json_incref(tmp);
    if (!merged)
        goto out;
    /* The effective site is part of the effective config (--print-config). */
    if (site && json_is_object(json_object_get(merged, "agent")) &&
        json_object_set_new(json_object_get(merged, "agent"), "site", json_string(site)) != 0)
        goto out;

    rp__schema_redact(schema, merged, 0, register_secret, NULL);
    if (!(skip = json_object()))
        goto out;
    if (overlay_doc)
        unknown_overlay_plugins(tmp, overlay_doc, overlay_name, main_name, skip, err, errlen);
    rp__schema_error serr;
    struct collect col = {main_doc, overlay_doc, main_name, overlay_name, skip, err, errlen};
    rc = rp__schema_validate_all(schema, merged, on_schema_error, &col, &serr);
    if (rc == 0 && json_object_size(skip))
        rc = RP_ERR_CONFIG;
    if (rc == RP_ERR_CONFIG)
        goto out;
    if (rc != 0) {
        set_err(err, errlen, "built-in config schema: %s: %s", serr.path, serr.message);
        rc = RP_ERR_INTERNAL;
        goto out;
    }

    rc = check_exclude(merged, main_doc, main_name, overlay_doc, overlay_name, err, errlen);
    if (rc == 0)
        rc = check_rss_ceiling(merged, main_doc, main_name, overlay_doc, overlay_name, err, errlen);
    if (rc != 0)
        goto out;
    struct policy_errors pe = {main_doc, overlay_doc, main_name, overlay_name, err, errlen};
    rc = rp__policy_create(json_object_get(merged, "policy"), on_policy_error, &pe, NULL);
    if (rc != 0)
        goto out;

    rc = RP_ERR_NOMEM;
    cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        goto out;
    cfg->root = json_incref(merged);
    cfg->main_doc = json_incref((json_t *)main_doc);
    cfg->overlay_doc = overlay_doc ? json_incref((json_t *)overlay_doc) : NULL;
    if (!(cfg->main_file = strdup(main_name)) || !(cfg->config_dir = strdup(config_dir)))
        goto out;
    if (site && (!(cfg->site = strdup(site)) ||
                 !(cfg->site_file = strdup(overlay_name ? overlay_name : ""))))
        goto out;
    rc = extract(cfg);
    if (rc != 0)
        goto out;
    *out = cfg;
    cfg = NULL;
out:
    rp__config_destroy(cfg);
    json_decref(defaults);
    json_decref(schema);
    json_decref(tmp);
    json_decref(merged);
    json_decref(skip);
    return rc;
}

const char *rp__config_source_of(const rp__config *cfg, const struct rp__json_seg *segv, int depth)
{
    return attribute(cfg->main_doc, cfg->main_file, cfg->overlay_doc, cfg->site_file, segv, depth);
}

int rp__config_machine_site(char **site, const char **from, char *err, size_t errlen)
{
    const char *path = getenv(RP__SITE_FILE_ENV);
    if (!path || !*path)
        path = RP__SITE_FILE_DEFAULT;
    *site = NULL;
    *from = path;
    char *data = NULL, why[512];
    size_t len = 0;
    int rc = rp__os_read_protected_file(path, 256, &data, &len, why, sizeof why);
    if (rc == RP_ERR_NOTFOUND)
        return 0; /* no per-machine site: the main file decides */
    if (rc == RP_ERR_NOMEM)
        return rc;
    if (rc != 0)
        return set_err(err, errlen, "%s (per-machine site file): %s", path, why);
    /* One line: surrounding white space (the final newline) is dropped. */
    size_t a = 0, b = len;
    while (a < b && (data[a] == ' ' || data[a] == '\t' || data[a] == '\n' || data[a] == '\r'))
        a++;
    while (b > a && (data[b - 1] == ' ' || data[b - 1] == '\t' || data[b - 1] == '\n' ||
                     data[b - 1] == '\r'))
        b--;
    data[b] = '\0';
    if (strlen(data + a) != b - a || !site_ok(data + a)) {
        char got[96];
        json_t *s = json_stringn(data + a, b - a);
        rp__json_describe(s, got, sizeof got);
        json_decref(s);
        free(data);
        return set_err(err, errlen, "%s (per-machine site file): expected %s, got %s", path,
                       site_rule, got);
    }
    memmove(data, data + a, b - a + 1);
    *site = data;
    return 0;
}

struct closest_site {
    const char *want;
    char best[72];
    size_t best_d;
};

static int consider_site(void *arg, const char *name, uint64_t size)
{
    (void)size;
    struct closest_site *c = arg;
    size_t n = strlen(name);
    if (n <= 5 || n - 5 >= sizeof c->best || strcmp(name + n - 5, ".json") != 0)
        return 0;
    char site[sizeof c->best];
    memcpy(site, name, n - 5);
    site[n - 5] = '\0';
    size_t d = rp__edit_distance(c->want, site);
    if (d < c->best_d) {
        c->best_d = d;
        memcpy(c->best, site, n - 4);
    }
    return 0;
}

/* When the overlay of the chosen site does not exist: the per-machine file
 * is named when it chose the site (the user may not know it did), and the
 * closest overlay that exists is suggested. Appended to err. */
static void missing_site_hint(const char *prefix, const char *site, const char *site_from,
                              char *err, size_t errlen)
{
    size_t used = strlen(err);
    if (site_from && strcmp(site_from, "--site") != 0 && strcmp(site_from, "agent.site") != 0)
        used += (size_t)snprintf(err + used, used < errlen ? errlen - used : 0,
                                 " (the site \"%s\" is named in %s)", site, site_from);
    char dir[4096];
    snprintf(dir, sizeof dir, "%ssites", prefix);
    struct closest_site c = {.want = site, .best_d = 3};
    rp__os_dir_files(dir, consider_site, &c);
    if (c.best[0] && used < errlen)
        snprintf(err + used, errlen - used, "; did you mean \"%s\"?", c.best);
}

int rp__config_load(const char *main_file, const char *site_override, rp__config **out, char *err,
                    size_t errlen)
{
    json_t *main_doc = NULL, *overlay = NULL;
    char *prefix = NULL, *dir = NULL, *config_dir = NULL, *overlay_name = NULL;
    char *machine_site = NULL;
    const char *site = NULL, *site_from = NULL;
    int rc;

    if (site_override && !site_ok(site_override))
        return set_err(err, errlen, "--site: expected %s, got \"%.64s\"", site_rule, site_override);

    rc = load_doc(main_file, &main_doc, NULL, err, errlen);
    if (rc != 0)
        return rc;

    rc = RP_ERR_NOMEM;
    if (!(dir = rp__path_dirname(main_file)) || !(prefix = rp__path_dir_prefix(main_file)))
        goto out;
    if ((rc = rp__os_realpath(dir, &config_dir)) != 0) {
        rc = set_err(err, errlen, "%s: cannot resolve its folder", main_file);
        goto out;
    }

    site = site_override;
    site_from = "--site";
    if (!site) {
        /* The per-machine file an installer wrote beats the shared main
         * file, so one main file serves every site. */
        if ((rc = rp__config_machine_site(&machine_site, &site_from, err, errlen)) != 0)
            goto out;
        site = machine_site;
    }
    if (!site) {
        const json_t *s = json_object_get(json_object_get(main_doc, "agent"), "site");
        /* A non-string agent.site is reported by the schema check below. */
        if (json_is_string(s)) {
            site_from = "agent.site";
            site = json_string_value(s);
            if (!site_ok(site)) {
                rc = set_err(err, errlen, "%s: agent.site: expected %s, got \"%.64s\"", main_file,
                             site_rule, site);
                goto out;
            }
        }
    }
    if (site) {
        size_t n = strlen(prefix) + strlen("sites/") + strlen(site) + strlen(".json") + 1;
        rc = RP_ERR_NOMEM;
        if (!(overlay_name = malloc(n)))
            goto out;
        snprintf(overlay_name, n, "%ssites/%s.json", prefix, site);
        int missing = 0;
        if ((rc = load_doc(overlay_name, &overlay, &missing, err, errlen)) != 0) {
            if (missing)
                missing_site_hint(prefix, site, site_from, err, errlen);
            goto out;
        }
    }
    rc = rp__config_from_docs(main_doc, main_file, overlay, overlay_name, site, config_dir, out,
                              err, errlen);
    if (rc == 0 && site && !((*out)->site_from = strdup(site_from))) {
        rp__config_destroy(*out);
        *out = NULL;
        rc = RP_ERR_NOMEM;
    }
out:
    free(machine_site);
    json_decref(main_doc);
    json_decref(overlay);
    free(prefix);
    free(dir);
    free(config_dir);
    free(overlay_name);
    return rc;
}
