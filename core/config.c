/* core/config.c - configuration layers, merge and validation. */
#include "config.h"
#include "json_merge.h"
#include "os/os.h"
#include "path.h"
#include "schema.h"

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

/* Reads and parses one JSON file into an object; the error names the file. */
static int load_doc(const char *file, json_t **out, char *err, size_t errlen)
{
    char *data = NULL;
    size_t len = 0;
    int sys = 0;
    int rc = rp__os_read_file(file, RP__CONFIG_MAX_BYTES, &data, &len, &sys);
    if (rc == RP_ERR_NOMEM)
        return rc;
    if (rc == RP_ERR_RANGE)
        return set_err(err, errlen, "%s: file is larger than %u bytes", file,
                       RP__CONFIG_MAX_BYTES);
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
    free(cfg->config_dir);
    free(cfg->data_dir);
    free(cfg->plugin_dir);
    free(cfg->pid_file);
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

    const char *out = str_at(root, "output", "file");
    if (out && *out && !(cfg->output_file = rp__path_resolve(cfg->data_dir, out)))
        return RP_ERR_NOMEM;
    const json_t *output = json_object_get(root, "output");
    cfg->output_stdout = json_is_true(json_object_get(output, "stdout"));
    cfg->output_file_max_bytes =
        (uint64_t)json_integer_value(json_object_get(output, "file_max_bytes"));
    cfg->output_file_keep = (uint32_t)json_integer_value(json_object_get(output, "file_keep"));
    cfg->flush_interval_ms =
        (uint32_t)json_integer_value(json_object_get(output, "flush_interval_ms"));
    const char *url = str_at(root, "output", "url");
    cfg->output_url = (url && *url) ? url : NULL;
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
    const char *pin = str_at(root, "output", "pinned_pubkey");
    cfg->output_pinned_pubkey = (pin && *pin) ? pin : NULL;
    const char *proxy = str_at(root, "output", "proxy");
    cfg->output_proxy = (proxy && *proxy) ? proxy : NULL;
    cfg->output_timeout_ms = (uint32_t)json_integer_value(json_object_get(output, "timeout_ms"));
    cfg->batch_max_events =
        (uint32_t)json_integer_value(json_object_get(output, "batch_max_events"));
    cfg->batch_max_bytes = (uint32_t)json_integer_value(json_object_get(output, "batch_max_bytes"));
    cfg->output_gzip = json_is_true(json_object_get(output, "gzip"));
    const json_t *spool = json_object_get(root, "spool");
    cfg->spool_max_bytes = (uint64_t)json_integer_value(json_object_get(spool, "max_bytes"));
    cfg->spool_fsync = str_at(root, "spool", "fsync");
    cfg->deadletter_max_bytes =
        (uint64_t)json_integer_value(json_object_get(spool, "deadletter_max_bytes"));
    cfg->health_interval_ms = (uint32_t)json_integer_value(
        json_object_get(json_object_get(root, "agent"), "health_interval_ms"));
    cfg->bus_max_bytes = (uint64_t)json_integer_value(
        json_object_get(json_object_get(root, "agent"), "bus_max_bytes"));
    cfg->stop_grace_ms = (uint32_t)json_integer_value(
        json_object_get(json_object_get(root, "agent"), "stop_grace_ms"));
    cfg->output_file_max_rotations_per_min =
        (uint32_t)json_integer_value(json_object_get(output, "file_max_rotations_per_min"));
    cfg->loop_slice_us = (uint32_t)json_integer_value(
        json_object_get(json_object_get(root, "agent"), "loop_slice_us"));
    cfg->loop_rt_max_cpu_pct = (uint32_t)json_integer_value(
        json_object_get(json_object_get(root, "agent"), "loop_realtime_max_cpu_pct"));

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

static json_t *builtin_doc(const char *text)
{
    json_error_t jerr;
    return json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
}

int rp__config_from_docs(const json_t *main_doc, const char *main_name,
                         const json_t *overlay_doc, const char *overlay_name, const char *site,
                         const char *config_dir, rp__config **out, char *err, size_t errlen)
{
    json_t *defaults = NULL, *schema = NULL, *tmp = NULL, *merged = NULL;
    rp__config *cfg = NULL;
    int rc = RP_ERR_NOMEM;

    if (!json_is_object(main_doc)) {
        char got[96];
        rp__json_describe(main_doc, got, sizeof got);
        return set_err(err, errlen, "%s: (top level): expected object, got %s", main_name, got);
    }
    if (overlay_doc && !json_is_object(overlay_doc)) {
        char got[96];
        rp__json_describe(overlay_doc, got, sizeof got);
        return set_err(err, errlen,
                       "%s: (top level): expected object (a JSON merge patch), got %s",
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

    rp__schema_error serr;
    rc = rp__schema_validate(schema, merged, &serr);
    if (rc == RP_ERR_CONFIG) {
        const char *file = attribute(main_doc, main_name, overlay_doc, overlay_name, serr.segv,
                                     serr.depth);
        set_err(err, errlen, "%s: %s: %s", file, serr.path[0] ? serr.path : "(top level)",
                serr.message);
        goto out;
    }
    if (rc != 0) {
        set_err(err, errlen, "built-in config schema: %s: %s", serr.path, serr.message);
        rc = RP_ERR_INTERNAL;
        goto out;
    }

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
    return rc;
}

const char *rp__config_source_of(const rp__config *cfg, const struct rp__json_seg *segv,
                                 int depth)
{
    return attribute(cfg->main_doc, cfg->main_file, cfg->overlay_doc, cfg->site_file, segv,
                     depth);
}

int rp__config_load(const char *main_file, const char *site_override, rp__config **out,
                    char *err, size_t errlen)
{
    json_t *main_doc = NULL, *overlay = NULL;
    char *prefix = NULL, *dir = NULL, *config_dir = NULL, *overlay_name = NULL;
    const char *site = NULL;
    int rc;

    if (site_override && !site_ok(site_override))
        return set_err(err, errlen, "--site: expected %s, got \"%.64s\"", site_rule,
                       site_override);

    rc = load_doc(main_file, &main_doc, err, errlen);
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
    if (!site) {
        const json_t *s = json_object_get(json_object_get(main_doc, "agent"), "site");
        /* A non-string agent.site is reported by the schema check below. */
        if (json_is_string(s)) {
            site = json_string_value(s);
            if (!site_ok(site)) {
                rc = set_err(err, errlen, "%s: agent.site: expected %s, got \"%.64s\"",
                             main_file, site_rule, site);
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
        if ((rc = load_doc(overlay_name, &overlay, err, errlen)) != 0)
            goto out;
    }
    rc = rp__config_from_docs(main_doc, main_file, overlay, overlay_name, site, config_dir, out,
                              err, errlen);
out:
    json_decref(main_doc);
    json_decref(overlay);
    free(prefix);
    free(dir);
    free(config_dir);
    free(overlay_name);
    return rc;
}
