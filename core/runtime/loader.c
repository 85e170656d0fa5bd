/* core/runtime/loader.c - finds each enabled plugin's file, checks that it is
 * trusted, loads it, negotiates the ABI through its entry point, validates
 * the descriptor and the plugin's settings (rp__host_load). */
#include "lib/log.h"
#include "lib/path.h"
#include "lib/schema.h"
#include "lib/secrets.h"
#include "os/os.h"
#include "os/os_thread.h"
#include "runtime/faults.h"
#include "runtime/host.h"
#include "runtime/host_private.h"
#include "runtime/isolate.h"
#include "runtime/plugin_sig.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int id_valid(const char *id)
{
    /* Reverse DNS: at least two dot-separated labels of [a-z0-9_-]. */
    size_t len = strlen(id);
    int dots = 0;
    if (len == 0 || len > 128 || id[0] == '.' || id[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (c == '.') {
            if (id[i + 1] == '.')
                return 0;
            dots++;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return dots >= 1;
}

static const char *kind_name(uint32_t kind)
{
    switch (kind) {
    case RP_KIND_COLLECTOR:
        return "collector";
    case RP_KIND_DETECTOR:
        return "detector";
    case RP_KIND_RESPONDER:
        return "responder";
    default:
        return "unknown";
    }
}

static void refuse(struct rp_plugin *p, const char *fmt, ...) RP__PRINTF(2, 3);

static void refuse(struct rp_plugin *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof p->error, fmt, ap);
    va_end(ap);
    p->pstate = RP__PLUGIN_REFUSED;
    rp__log_error("plugin %s refused: %s", p->name, p->error);
}

/* Where a plugin's file is: an absolute path as is; a bare file name in
 * agent.plugin_dir; any other relative path from the main config's folder. */
char *rp__host_plugin_path(const rp__host_opts *opts, const char *file)
{
    if (rp__os_path_is_absolute(file))
        return rp__path_resolve("/", file);
    if (!strchr(file, '/'))
        return rp__path_resolve(opts->plugin_dir, file);
    return rp__path_resolve(opts->config_dir, file);
}

static void config_error(rp__host *host, char *err, size_t errlen, const struct rp__json_seg *segs,
                         int depth, const char *fmt, ...) RP__PRINTF(6, 7);

/* What check_signature is given and gives back. */
struct sig_check {
    rp__host *host;
    struct rp_plugin *p;
    int refused; /* the signature (or its absence) refused the file */
};

/* The check of a plugin's bytes, called by rp__os_dl_open_checked on the
 * private copy that is then loaded: a signature file must parse and verify
 * with a trusted key; without one, only when signatures are not required. */
static int check_signature(void *arg, const void *data, size_t len, const char *sig, size_t sig_len,
                           char *err, size_t errlen)
{
    struct sig_check *sc = arg;
    rp__host *host = sc->host;
    char why[ERR_LEN - 128];
    sc->refused = 1;
    if (!sig) {
        snprintf(err, errlen,
                 "not signed (no %s.sig next to it) and agent.require_signed_plugins is true",
                 sc->p->path);
        return RP_ERR_PERM;
    }
    rp__sig s;
    if (rp__sig_parse(sig, sig_len, &s, why, sizeof why) != 0) {
        snprintf(err, errlen, "malformed signature file %s.sig: %s", sc->p->path, why);
        return RP_ERR_PERM;
    }
    const rp__sig_key *signer = NULL;
    int rc =
        rp__sig_verify(data, len, &s, host->sig_keys, host->nsig_keys, &signer, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errlen, "%s", why);
        return rc;
    }
    rp__sig_hex(rp__sig_key_id(signer), RP__SIG_ID_SHOWN, sc->p->signed_by);
    sc->refused = 0;
    return 0;
}

void rp__host_sig_keys_free(rp__host *host)
{
    for (size_t i = 0; i < host->nsig_keys; i++)
        rp__sig_key_free(host->sig_keys[i]);
    free(host->sig_keys);
    host->sig_keys = NULL;
    host->nsig_keys = 0;
}

/* Reads agent.trusted_keys once. A key that cannot be read or is not a
 * P-256 public key is a config error naming the file and the key (start-up
 * stops); every key is read, so that one check reports them all. */
static int read_trusted_keys(rp__host *host, char *err, size_t errlen)
{
    const json_t *list = host->opts.trusted_keys;
    size_t n = json_array_size(list);
    int bad = 0;
    host->sig_keys_read = 1;
    if (n == 0)
        return 0;
    if (!(host->sig_keys = calloc(n, sizeof *host->sig_keys)))
        return RP_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        const char *file = json_string_value(json_array_get(list, i));
        char *path = file ? rp__path_resolve(host->opts.config_dir, file) : NULL;
        char why[ERR_LEN];
        if (!path)
            return RP_ERR_NOMEM;
        int rc = rp__sig_key_load(path, &host->sig_keys[host->nsig_keys], why, sizeof why);
        free(path);
        if (rc == RP_ERR_NOMEM)
            return rc;
        if (rc != 0) {
            struct rp__json_seg segs[3] = {{.key = "agent"}, {.key = "trusted_keys"}, {.index = i}};
            config_error(host, err, errlen, segs, 3, "agent.trusted_keys[%zu]: %s", i, why);
            bad = 1;
            continue;
        }
        char id[RP__SIG_ID_SHOWN + 1];
        rp__sig_hex(rp__sig_key_id(host->sig_keys[host->nsig_keys]), RP__SIG_ID_SHOWN, id);
        rp__log_debug("trusted plugin key %s from agent.trusted_keys[%zu]", id, i);
        host->nsig_keys++;
    }
    return bad ? RP_ERR_CONFIG : 0;
}

/* Its executable segments into its call record, so that a crash on a
 * thread it made itself (no callback entered) is still attributed to it. */
static void record_text(struct rp_plugin *p)
{
    uint64_t lo[RP__CR_RANGES], hi[RP__CR_RANGES];
    size_t n = 0;
    if (rp__os_dl_text_ranges(p->dl, lo, hi, RP__CR_RANGES, &n) != 0) {
        rp__log_debug("plugin %s: its code's address range is unknown: a crash on a thread "
                      "of its own would not be attributed",
                      p->name);
        return;
    }
    for (size_t i = 0; i < n; i++)
        (void)rp__callrec_plugin_range(p->cr_index, lo[i], hi[i]);
}

/* A plugin the fault ledger disabled (faults.h) is not loaded at all: its
 * code does not run, not even its constructors. The identity is read from
 * the path: a file changed since is another plugin for the ledger. */
static int ledger_disabled(struct rp_plugin *p)
{
    char *real = NULL;
    rp__os_file_id id;
    if (rp__os_realpath(p->path, &real) != 0)
        return 0; /* the load says why */
    int rc = rp__os_path_file_id(real, &id);
    free(real);
    if (rc != 0)
        return 0;
    char why[ERR_LEN];
    if (rp__faults_disabled(p->name, id.dev, id.ino, id.size, id.mtime_ns, why, sizeof why) != 1)
        return 0;
    snprintf(p->error, sizeof p->error, "%s", why);
    p->pstate = RP__PLUGIN_DISABLED;
    rp__log_warn("plugin %s not loaded: %s", p->name, why);
    return 1;
}

/* Loads the file, calls its entry and checks the descriptor. private_copy:
 * load a private copy of the checked file (a reload of a changed file). */
int rp__host_load_binary(rp__host *host, struct rp_plugin *p, int private_copy)
{
    char why[ERR_LEN];
    char *real = NULL;
    int rc = rp__os_realpath(p->path, &real);
    if (rc != 0) {
        refuse(p, "%s: %s", p->path, rc == RP_ERR_NOTFOUND ? "no such file" : rp_strerror(rc));
        return rc;
    }
    free(p->path);
    p->path = real;
    /* The trust check, the signature check and the load look at one open
     * file (os.h): a signed file is checked and loaded from one sealed copy. */
    struct sig_check sc = {host, p, 0};
    p->signed_by[0] = '\0';
    const rp_plugin_descriptor *d = NULL;
    if (p->isolated) {
        /* Isolation (isolate.h): the same checks of the same open file, whose
         * code then runs in a sandbox; d is the proxy descriptor, checked
         * below as any plugin's. */
        rc = rp__iso_load(host, p, json_object_get(host->opts.plugins, p->name),
                          host->opts.require_signed_plugins, RP__SIG_FILE_MAX, check_signature, &sc,
                          &d, why, sizeof why);
        if (rc != 0) {
            if (sc.refused)
                refuse(p, "%s: %s", p->path, why);
            else if (rc == RP_ERR_PERM)
                refuse(p, "untrusted file: %s", why);
            else
                refuse(p, "%s: cannot run isolated: %s", p->path, why);
            return rc;
        }
        goto check_descriptor;
    }
    rc = rp__os_dl_open_checked(p->path, private_copy, host->opts.require_signed_plugins,
                                RP__SIG_FILE_MAX, check_signature, &sc, &p->dl, why, sizeof why);
    if (rc != 0) {
        if (sc.refused)
            refuse(p, "%s: %s", p->path, why);
        else if (rc == RP_ERR_PERM)
            refuse(p, "untrusted file: %s", why);
        else
            refuse(p, "%s: cannot load: %s", p->path, why);
        return rc;
    }
    /* What a reload compares to tell that the file changed. */
    p->has_file_id = rp__os_dl_file_id(p->dl, &p->file_id) == 0;
    /* From here on a crash in its code is attributed to it (callrec.h). A
     * full table only costs the attribution, which the log says. */
    if (rp__callrec_plugin_add(p->name, p->path, p->file_id.dev, p->file_id.ino, p->file_id.size,
                               p->file_id.mtime_ns, &p->cr_index) != 0)
        rp__log_warn("plugin %s: no call record left: a crash in it would not be attributed",
                     p->name);
    else
        record_text(p);
    rp__os_fn fn = rp__os_dl_sym(p->dl, RP_ENTRY_SYMBOL);
    if (!fn) {
        /* Tell a plugin of another ABI major from something that is no plugin. */
        char other[64];
        for (int major = 2; major <= 9; major++) {
            snprintf(other, sizeof other, "rampart_plugin_entry_v%d", major);
            if (rp__os_dl_sym(p->dl, other)) {
                refuse(p, "%s: built for plugin ABI %d.x; this agent provides ABI %d.%d", p->path,
                       major, RP_ABI_MAJOR, RP_ABI_MINOR);
                return RP_ERR_VERSION;
            }
        }
        refuse(p, "%s: does not export %s: not a Rampart plugin of ABI %d.x", p->path,
               RP_ENTRY_SYMBOL, RP_ABI_MAJOR);
        return RP_ERR_VERSION;
    }
    rp_plugin_entry_fn entry;
    memcpy(&entry, &fn, sizeof entry);

    uint64_t cr = rp__host_enter(p, RP__CR_ENTRY);
    rc = entry(rp__host_api(), &d);
    rp__host_leave(cr);
check_descriptor:
    if (rc != 0 || !d) {
        refuse(p, "%s: entry point failed: %s", p->path, rc ? rp_strerror(rc) : "no descriptor");
        return rc ? rc : RP_ERR_INVAL;
    }
    if (d->struct_size < RP_DESCRIPTOR_SIZE_1_0) {
        refuse(p, "%s: descriptor too small (%u bytes; ABI 1.0 needs at least %u)", p->path,
               (unsigned)d->struct_size, (unsigned)RP_DESCRIPTOR_SIZE_1_0);
        return RP_ERR_VERSION;
    }
    if (d->abi_major != RP_ABI_MAJOR || d->abi_minor > RP_ABI_MINOR) {
        refuse(p, "%s: requires plugin ABI %u.%u; this agent provides ABI %d.%d", p->path,
               (unsigned)d->abi_major, (unsigned)d->abi_minor, RP_ABI_MAJOR, RP_ABI_MINOR);
        return RP_ERR_VERSION;
    }
    /* Copy what this host knows; a newer plugin's extra members are ignored,
     * an older plugin's missing ones read as zero. */
    memset(&p->desc, 0, sizeof p->desc);
    memcpy(&p->desc, d, d->struct_size < sizeof p->desc ? d->struct_size : sizeof p->desc);
    const rp_plugin_descriptor *c = &p->desc;
    if (!c->id || !id_valid(c->id)) {
        refuse(p, "%s: descriptor id must be reverse DNS like \"org.example.name\", got %s%s%s",
               p->path, c->id ? "\"" : "", c->id ? c->id : "none", c->id ? "\"" : "");
        return RP_ERR_INVAL;
    }
    if (!c->version || !*c->version) {
        refuse(p, "%s (%s): descriptor has no version", p->path, c->id);
        return RP_ERR_INVAL;
    }
    if (c->kind < RP_KIND_COLLECTOR || c->kind > RP_KIND_RESPONDER) {
        refuse(p, "%s (%s): unknown plugin kind %u", p->path, c->id, (unsigned)c->kind);
        return RP_ERR_INVAL;
    }
    if (c->reserved != 0) {
        refuse(p, "%s (%s): descriptor's reserved member is %u; expected 0", p->path, c->id,
               (unsigned)c->reserved);
        return RP_ERR_VERSION;
    }
    if (c->event_schema_version > RP_EVENT_SCHEMA_VERSION) {
        refuse(p, "%s (%s): needs event schema %u; this agent provides %d", p->path, c->id,
               (unsigned)c->event_schema_version, RP_EVENT_SCHEMA_VERSION);
        return RP_ERR_VERSION;
    }
    const char *missing = !c->init      ? "init"
                          : !c->start   ? "start"
                          : !c->stop    ? "stop"
                          : !c->destroy ? "destroy"
                                        : NULL;
    if (missing) {
        refuse(p, "%s (%s): descriptor lacks the required %s callback", p->path, c->id, missing);
        return RP_ERR_INVAL;
    }
    for (size_t i = 0; i < host->nplugins; i++) {
        struct rp_plugin *o = host->plugins[i];
        /* A reload's candidate replaces its own record; a stopped record
         * (disabled by a reload) no longer holds its id. */
        if (o != p && o != p->reload_of && o->pstate != RP__PLUGIN_REFUSED &&
            o->pstate != RP__PLUGIN_STOPPED && o->desc.id && strcmp(o->desc.id, c->id) == 0) {
            refuse(p, "%s: duplicate plugin id \"%s\", already loaded as plugin %s from %s",
                   p->path, c->id, o->name, o->path);
            return RP_ERR_EXISTS;
        }
    }
    return 0;
}

/* Adds the schema's top-level defaults for absent keys. */
static void apply_defaults(json_t *schema, json_t *config)
{
    json_t *props = json_object_get(schema, "properties");
    const char *key;
    json_t *sub;
    json_object_foreach(props, key, sub)
    {
        json_t *def = json_object_get(sub, "default");
        if (def && !json_object_get(config, key))
            json_object_set_new(config, key, json_deep_copy(def));
    }
}

/* Where a plugin's schema errors go: one line each, naming the file. */
struct config_errors {
    rp__host *host;
    struct rp_plugin *p;
    char *err;
    size_t errlen;
};

/* Hands one line about plugin p's settings to the host's caller, which
 * adds the file that set the value at segs[0..depth). */
static void config_error(rp__host *host, char *err, size_t errlen, const struct rp__json_seg *segs,
                         int depth, const char *fmt, ...) RP__PRINTF(6, 7);

static void config_error(rp__host *host, char *err, size_t errlen, const struct rp__json_seg *segs,
                         int depth, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    host->opts.config_error(host->opts.config_error_arg, err, errlen, segs, depth, line);
}

static void on_config_error(void *arg, const rp__schema_error *e)
{
    struct config_errors *ce = arg;
    struct rp__json_seg segs[RP__SCHEMA_MAX_DEPTH + 3] = {
        {.key = "plugins"}, {.key = ce->p->name}, {.key = "config"}};
    memcpy(segs + 3, e->segv, sizeof e->segv[0] * (size_t)e->depth);
    config_error(ce->host, ce->err, ce->errlen, segs, e->depth + 3, "plugins.%s.config%s%s: %s",
                 ce->p->name, e->path[0] && e->path[0] != '[' ? "." : "", e->path, e->message);
}

static void secret_found(void *arg, const char *s, size_t len)
{
    (void)arg;
    (void)rp__secrets_add(s, len); /* too short or too many: see lib/secrets.h */
}

/* Validates plugins.<name>.config against the plugin's schema; every error
 * is a line added to err. */
int rp__host_check_config(rp__host *host, struct rp_plugin *p, const json_t *entry, char *err,
                          size_t errlen)
{
    const json_t *given = json_object_get(entry, "config");
    json_t *config = given ? json_deep_copy(given) : json_object();
    json_t *schema = NULL;
    int rc = 0;
    if (!config)
        return RP_ERR_NOMEM;
    struct rp__json_seg segs[3] = {{.key = "plugins"}, {.key = p->name}, {.key = "config"}};

    if (!p->desc.config_schema) {
        if (json_object_size(config) != 0) {
            config_error(host, err, errlen, segs, 3,
                         "plugins.%s.config: plugin %s takes no settings", p->name, p->desc.id);
            rc = RP_ERR_CONFIG;
        }
        goto done;
    }
    json_error_t jerr;
    rp__schema_error serr;
    schema = json_loads(p->desc.config_schema, JSON_REJECT_DUPLICATES, &jerr);
    if (!schema) {
        refuse(p, "%s (%s): config_schema is not valid JSON: %s", p->path, p->desc.id, jerr.text);
        rc = RP_ERR_INVAL;
        goto done;
    }
    if (rp__schema_check(schema, &serr) != 0) {
        refuse(p, "%s (%s): config_schema: %s%s%s", p->path, p->desc.id, serr.path,
               serr.path[0] ? ": " : "", serr.message);
        rc = RP_ERR_INVAL;
        goto done;
    }
    apply_defaults(schema, config);
    /* One set of exclusion rules for all collectors (collectors.exclude),
     * handed to each plugin that declares exclude_rules; others never see
     * it, so plugins built before it are untouched. */
    if (json_object_get(json_object_get(schema, "properties"), "exclude_rules")) {
        if (given && json_object_get(given, "exclude_rules")) {
            config_error(host, err, errlen, segs, 3,
                         "plugins.%s.config.exclude_rules: set by the agent from "
                         "collectors.exclude; put the rules there",
                         p->name);
            rc = RP_ERR_CONFIG;
            goto done;
        }
        const json_t *rules = host->opts.exclude_rules;
        json_object_set_new(config, "exclude_rules", rules ? json_deep_copy(rules) : json_object());
    }
    struct config_errors ce = {host, p, err, errlen};
    rc = rp__schema_validate_all(schema, config, on_config_error, &ce, &serr);
    if (rc == RP_ERR_INVAL) {
        refuse(p, "%s (%s): config_schema: %s%s%s", p->path, p->desc.id, serr.path,
               serr.path[0] ? ": " : "", serr.message);
        goto done;
    }
done:
    /* Values the plugin's schema marks secret are kept out of every line
     * and status from here on, whatever the plugin logs (lib/secrets.h). */
    if (schema)
        rp__schema_redact(schema, config, 0, secret_found, NULL);
    if (rc == 0)
        rc = rp__host_plugin_set_config(p, config);
    json_decref(schema);
    json_decref(config);
    return rc;
}

struct rp_plugin *rp__host_plugin_new(rp__host *host, const char *name, const char *file)
{
    struct rp_plugin *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->host = host;
    p->index = (uint32_t)host->nplugins + 1;
    p->name = strdup(name);
    p->path = rp__host_plugin_path(&host->opts, file);
    if (!p->name || !p->path || rp__os_mutex_create(&p->lock) != 0 ||
        rp__os_mutex_create(&p->gate_lock) != 0 || rp__os_cond_create(&p->gate_cond) != 0) {
        rp__host_plugin_free(p);
        return NULL;
    }
    /* Its own CPU budget (watchdog.c), read from the entry it is made for. */
    const json_t *cpu = json_object_get(json_object_get(host->opts.plugins, name), "cpu_percent");
    p->cpu_percent = json_is_integer(cpu) ? (int32_t)json_integer_value(cpu) : -1;
    return p;
}

/* Frees a record (its library, if any, stays mapped). NULL is a no-op. */
void rp__host_plugin_free(struct rp_plugin *p)
{
    if (!p)
        return;
    rp__iso_free(p->iso);
    rp__host_services_free(p);
    free(p->name);
    free(p->path);
    free(p->config_json);
    rp__host_plugin_config_free(p);
    rp__hf_free(p);
    rp__host_command_free(p);
    rp__os_cond_destroy(p->gate_cond);
    rp__os_mutex_destroy(p->gate_lock);
    rp__os_mutex_destroy(p->lock);
    rp__os_dl_forget(p->dl);
    free(p);
}

int rp__host_load(rp__host *host, char *err, size_t errlen)
{
    const char *name;
    json_t *entry;
    int config_errors = 0;
    if (err && errlen)
        err[0] = '\0';
    if (!host->sig_keys_read) {
        int rc = read_trusted_keys(host, err, errlen);
        if (rc == RP_ERR_NOMEM)
            return rc;
        config_errors |= rc == RP_ERR_CONFIG;
    }
    json_object_foreach((json_t *)host->opts.plugins, name, entry)
    {
        if (!json_is_true(json_object_get(entry, "enabled")))
            continue;
        struct rp_plugin *p =
            rp__host_plugin_new(host, name, json_string_value(json_object_get(entry, "file")));
        if (!p)
            return RP_ERR_NOMEM;
        host->plugins[host->nplugins++] = p;
        p->isolated = rp__iso_wanted(entry);
        if (ledger_disabled(p))
            continue;
        if (rp__host_load_binary(host, p, 0) != 0)
            continue; /* refused and logged; the agent runs without it */
        if (p->isolated && p->desc.kind == RP_KIND_COLLECTOR) {
            struct rp__json_seg segs[3] = {{.key = "plugins"}, {.key = name}, {.key = "isolation"}};
            config_error(host, err, errlen, segs, 3,
                         "plugins.%s.isolation: \"process\" is for detectors and responders; "
                         "collector %s needs the agent's privileges and fd watches: use "
                         "\"in_process\"",
                         name, p->desc.id);
            refuse(p, "a collector cannot run isolated");
            config_errors = 1;
            continue;
        }
        int rc = rp__host_check_config(host, p, entry, err, errlen);
        if (rc == RP_ERR_NOMEM)
            return rc;
        /* Every plugin's settings are checked, so that one run reports all
         * errors; the plugin stays refused with its reason in err ("" here). */
        config_errors |= rc == RP_ERR_CONFIG;
        if (rc != 0)
            continue;
        /* 1.1: field_namespace and provides (host_fields.c). */
        char why[ERR_LEN];
        if ((rc = rp__hf_load(host, p, why, sizeof why)) != 0) {
            if (rc == RP_ERR_NOMEM)
                return rc;
            refuse(p, "%s (%s): %s", p->path, p->desc.id, why);
            continue;
        }
        /* 1.1: what the schema cannot say, asked of the plugin before init
         * (and by --check-config); a refusal leaves it off. */
        rc = rp__host_plugin_check_config(p, p->config_doc, why, sizeof why);
        if (rc == RP_ERR_NOMEM)
            return rc;
        if (rc != 0) {
            refuse(p, "%s", why);
            continue;
        }
        rp__hf_set_live(p, 1);
        p->pstate = RP__PLUGIN_LOADED;
        rp__log_info("plugin %s: loaded %s %s (%s, %s, %s) from %s%s%s", p->name, p->desc.id,
                     p->desc.version, kind_name(p->desc.kind),
                     p->desc.vendor ? p->desc.vendor : "unknown vendor",
                     p->desc.license ? p->desc.license : "no license", p->path,
                     p->signed_by[0] ? ", signed by key " : "", p->signed_by);
    }
    return config_errors ? RP_ERR_CONFIG : 0;
}
