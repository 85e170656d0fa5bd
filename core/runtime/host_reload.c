/* core/runtime/host_reload.c - live reload of the plugin set (docs/reload.md):
 * compares a new "plugins" object with what runs, then enables, disables,
 * reconfigures, re-creates or leaves alone each plugin, without stopping the
 * others or losing queued events. */
#include "lib/log.h"
#include "os/os.h"
#include "os/os_thread.h"
#include "runtime/host.h"
#include "runtime/host_private.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long reconfigure waits for the plugin's on_event calls in progress. */
#define QUIESCE_MAX_NS ((int64_t)10 * 1000000000)

enum action {
    ACT_ENABLE,      /* an enabled plugin that does not run: load if needed, init, start */
    ACT_DISABLE,     /* stop and destroy; the record stays, stopped, its library mapped */
    ACT_RECONFIGURE, /* its reconfigure, with on_event held off */
    ACT_RECREATE,    /* stop, destroy, then init and start with the new config or copy */
};

struct step {
    enum action act;
    struct rp_plugin *live; /* the record it changes; NULL: a new record (cand) */
    /* The new settings: config_json, and with new_copy a newly loaded copy
     * (dl, desc, file_id); NULL for ACT_DISABLE. */
    struct rp_plugin *cand;
    int loaded;   /* cand has a library of its own (a first load or a new copy) */
    int new_copy; /* ... that replaces a copy loaded before: counted against the cap */
};

struct rp__host_reload_plan {
    struct step *steps;
    size_t n, cap;
    size_t added; /* new records */
    /* Plugins whose changed file stays out at the cap: counted when the
     * reload is applied. */
    struct rp_plugin **capped;
    size_t ncapped;
};

/* ---- the on_event gate --------------------------------------------------- */

/* Called by a dispatcher that found the plugin quiesced: it steps out of the
 * count, waits until the gate opens and steps in again, unless the plugin
 * went off meanwhile (0: no call). */
int rp__host_gate_wait(struct rp_plugin *p)
{
    for (;;) {
        atomic_fetch_sub(&p->in_event, 1);
        rp__os_mutex_lock(p->gate_lock);
        while (atomic_load(&p->quiesced) && !atomic_load(&p->gate_off))
            rp__os_cond_wait(p->gate_cond, p->gate_lock);
        int off = atomic_load(&p->gate_off);
        rp__os_mutex_unlock(p->gate_lock);
        if (off)
            return 0;
        atomic_fetch_add(&p->in_event, 1);
        if (!atomic_load(&p->quiesced) && !atomic_load(&p->gate_off))
            return 1;
    }
}

void rp__host_gate_close(struct rp_plugin *p)
{
    rp__os_mutex_lock(p->gate_lock);
    atomic_store(&p->gate_off, 0);
    atomic_store(&p->quiesced, 1);
    rp__os_mutex_unlock(p->gate_lock);
}

void rp__host_gate_open(struct rp_plugin *p, int deliver)
{
    rp__os_mutex_lock(p->gate_lock);
    atomic_store(&p->gate_off, !deliver);
    atomic_store(&p->quiesced, 0);
    rp__os_cond_broadcast(p->gate_cond);
    rp__os_mutex_unlock(p->gate_lock);
}

static void unquiesce(struct rp_plugin *p)
{
    rp__host_gate_open(p, 1);
}

/* Holds new on_event calls off and waits for those in progress to return:
 * both sides change their own flag before they read the other's (sequentially
 * consistent atomics), so one of them always sees the other. */
static int quiesce(struct rp_plugin *p)
{
    atomic_store(&p->quiesced, 1);
    int64_t deadline = rp__os_monotonic_ns() + QUIESCE_MAX_NS;
    while (atomic_load(&p->in_event) != 0) {
        if (rp__os_monotonic_ns() >= deadline) {
            unquiesce(p);
            return RP_ERR_TIMEOUT;
        }
        rp__os_mutex_lock(p->gate_lock);
        rp__os_cond_timedwait(p->gate_cond, p->gate_lock, 1);
        rp__os_mutex_unlock(p->gate_lock);
    }
    return 0;
}

/* ---- the plan ------------------------------------------------------------ */

static int kind_rank(const struct rp_plugin *p)
{
    return p->desc.kind == RP_KIND_COLLECTOR ? 2 : p->desc.kind == RP_KIND_DETECTOR ? 1 : 0;
}

static struct rp_plugin *find(const rp__host *host, const char *name)
{
    for (size_t i = 0; i < host->nplugins; i++)
        if (strcmp(host->plugins[i]->name, name) == 0)
            return host->plugins[i];
    return NULL;
}

static int add_step(struct rp__host_reload_plan *plan, enum action act, struct rp_plugin *live,
                    struct rp_plugin *cand, int loaded, int new_copy)
{
    if (plan->n == plan->cap)
        return RP_ERR_FULL; /* sized for every record and entry: cannot happen */
    plan->steps[plan->n++] = (struct step){act, live, cand, loaded, new_copy};
    return 0;
}

/* One line about plugin name's entry, naming the file that set it. */
static void plan_error(rp__host *host, char *err, size_t errlen, const char *name, const char *key,
                       const char *fmt, ...) RP__PRINTF(6, 7);

static void plan_error(rp__host *host, char *err, size_t errlen, const char *name, const char *key,
                       const char *fmt, ...)
{
    char msg[768], line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    struct rp__json_seg segv[3] = {{.key = "plugins"}, {.key = name}, {.key = key}};
    snprintf(line, sizeof line, "plugins.%s%s%s: %s", name, key ? "." : "", key ? key : "", msg);
    host->opts.config_error(host->opts.config_error_arg, err, errlen, segv, key ? 3 : 2, line);
}

static int same_file(const rp__os_file_id *a, const rp__os_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}

/* A candidate for live: the descriptor (and so the schema) of the copy
 * that runs, no library of its own. */
static struct rp_plugin *cand_of(rp__host *host, struct rp_plugin *live, const char *file)
{
    struct rp_plugin *c = rp__host_plugin_new(host, live->name, file);
    if (!c)
        return NULL;
    c->reload_of = live;
    c->desc = live->desc;
    return c;
}

/* Loads the file of entry into a new candidate. A file rewritten in place
 * keeps its device and inode, by which the C library would hand back the
 * copy it has; it is then loaded again as a private copy. */
static int cand_load(rp__host *host, struct rp_plugin *live, const char *name, const char *file,
                     struct rp_plugin **out, char *err, size_t errlen)
{
    struct rp_plugin *c = rp__host_plugin_new(host, name, file);
    if (!c)
        return RP_ERR_NOMEM;
    c->reload_of = live;
    /* An isolated plugin's new file runs isolated too (isolate.h). */
    c->isolated = live ? live->isolated : 0;
    int rc = rp__host_load_binary(host, c, 0);
    if (rc == 0 && live && live->dl && live->has_file_id && c->has_file_id &&
        c->file_id.dev == live->file_id.dev && c->file_id.ino == live->file_id.ino) {
        rp__os_dl_close(c->dl); /* drops the reference the C library just added */
        c->dl = NULL;
        rc = rp__host_load_binary(host, c, 1);
    }
    if (rc != 0) {
        if (rc == RP_ERR_NOMEM) {
            rp__host_plugin_free(c);
            return rc;
        }
        plan_error(host, err, errlen, name, "file", "%s", c->error);
        rp__os_dl_close(c->dl);
        c->dl = NULL;
        rp__host_plugin_free(c);
        return RP_ERR_CONFIG;
    }
    *out = c;
    return 0;
}

/* Frees a candidate; a copy it loaded and never started is unloaded (only
 * its entry ran, and nothing of it is referenced). */
static void cand_free(struct rp_plugin *c, int loaded)
{
    if (!c)
        return;
    if (loaded) {
        rp__os_dl_close(c->dl);
        c->dl = NULL;
    }
    rp__host_plugin_free(c);
}

/* Whether two compact JSON texts hold equal values. */
static int json_text_equal(const char *a, const char *b)
{
    json_t *ja = json_loads(a ? a : "{}", 0, NULL), *jb = json_loads(b ? b : "{}", 0, NULL);
    int eq = ja && jb && json_equal(ja, jb);
    json_decref(ja);
    json_decref(jb);
    return eq;
}

/* Plans one enabled entry. */
static int plan_entry(rp__host *host, const rp__host_reload_opts *o,
                      struct rp__host_reload_plan *plan, const char *name, const json_t *entry,
                      char *err, size_t errlen)
{
    const char *file = json_string_value(json_object_get(entry, "file"));
    struct rp_plugin *live = find(host, name), *c = NULL;
    char *want = rp__host_plugin_path(&host->opts, file ? file : "");
    char *real = NULL;
    if (!want)
        return RP_ERR_NOMEM;
    int rc = rp__os_realpath(want, &real);
    free(want);
    if (rc == RP_ERR_NOMEM)
        return rc;
    rp__os_file_id now;
    int file_changed = 0, loaded = 0, new_copy = 0;
    if (live && live->dl) {
        /* Only a hint: a changed file is opened and checked again. */
        file_changed = rc != 0 || strcmp(real, live->path) != 0 ||
                       (live->has_file_id && rp__os_path_file_id(real, &now) == 0 &&
                        !same_file(&now, &live->file_id));
        if (file_changed && live->file_reloads >= o->file_reloads_max) {
            plan->capped[plan->ncapped++] = live;
            rp__log_error("reload: plugin %s: its file %s changed, but the reloads of this process "
                          "loaded %u new copies of it already (agent.plugin_file_reloads_max %u): "
                          "not loaded; the copy loaded before stays in use until the agent "
                          "restarts",
                          name, real ? real : live->path, live->file_reloads, o->file_reloads_max);
            file_changed = 0;
        }
    }
    free(real);
    if (!live || !live->dl || file_changed) {
        rc = cand_load(host, live, name, file ? file : "", &c, err, errlen);
        if (rc != 0)
            return rc;
        loaded = 1;
        new_copy = live && live->dl;
    } else if (!(c = cand_of(host, live, file ? file : ""))) {
        return RP_ERR_NOMEM;
    }
    rc = rp__host_check_config(host, c, entry, err, errlen);
    if (rc != 0) {
        /* A schema error is a line in err already; a bad schema is the
         * candidate's refusal. */
        if (rc != RP_ERR_NOMEM && rc != RP_ERR_CONFIG)
            plan_error(host, err, errlen, name, NULL, "%s", c->error);
        cand_free(c, loaded);
        return rc == RP_ERR_NOMEM ? rc : RP_ERR_CONFIG;
    }
    /* 1.1: a new copy's field_namespace and provides, then what the schema
     * cannot say (check_config, asked of the copy that would run it), both
     * before anything changes. */
    char why[ERR_LEN];
    if (loaded && (rc = rp__hf_load(host, c, why, sizeof why)) != 0) {
        if (rc != RP_ERR_NOMEM)
            plan_error(host, err, errlen, name, "file", "%s", why);
        cand_free(c, loaded);
        return rc == RP_ERR_NOMEM ? rc : RP_ERR_CONFIG;
    }
    if ((rc = rp__host_plugin_check_config(c, c->config_doc, why, sizeof why)) != 0) {
        if (rc != RP_ERR_NOMEM)
            plan_error(host, err, errlen, name, "config", "%s", why);
        cand_free(c, loaded);
        return rc == RP_ERR_NOMEM ? rc : RP_ERR_CONFIG;
    }
    if (!live) {
        if (host->nplugins + plan->added >= host->cap) {
            plan_error(host, err, errlen, name, NULL,
                       "no room for another plugin (%zu records; reloads add at most %u); "
                       "restart the agent to enable it",
                       host->nplugins, RP__HOST_RELOAD_NEW_MAX);
            cand_free(c, 1);
            return RP_ERR_CONFIG;
        }
        plan->added++;
        return add_step(plan, ACT_ENABLE, NULL, c, 1, 0);
    }
    if (live->pstate != RP__PLUGIN_RUNNING)
        return add_step(plan, ACT_ENABLE, live, c, loaded, new_copy);
    if (new_copy)
        return add_step(plan, ACT_RECREATE, live, c, 1, 1);
    if (json_text_equal(c->config_json, live->config_json)) {
        cand_free(c, 0);
        return 0;
    }
    return add_step(plan, live->desc.reconfigure ? ACT_RECONFIGURE : ACT_RECREATE, live, c, 0, 0);
}

void rp__host_reload_abort(rp__host_reload_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n; i++)
        cand_free(plan->steps[i].cand, plan->steps[i].loaded);
    free(plan->steps);
    free(plan->capped);
    free(plan);
}

int rp__host_reload_prepare(rp__host *host, const rp__host_reload_opts *o,
                            rp__host_reload_plan **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!host || !o || !host->started || host->opts.load_only)
        return RP_ERR_INVAL;
    struct rp__host_reload_plan *plan = calloc(1, sizeof *plan);
    if (!plan)
        return RP_ERR_NOMEM;
    plan->cap = host->nplugins + json_object_size(o->plugins) + 1;
    plan->steps = calloc(plan->cap, sizeof *plan->steps);
    plan->capped = calloc(plan->cap, sizeof *plan->capped);
    if (!plan->steps || !plan->capped) {
        rp__host_reload_abort(plan);
        return RP_ERR_NOMEM;
    }
    /* The new config names the files of its errors, and its collectors.exclude
     * goes to the plugins that take it; both only for this call. */
    void *error_arg = host->opts.config_error_arg;
    const json_t *exclude = host->opts.exclude_rules;
    host->opts.config_error_arg = o->config_error_arg;
    host->opts.exclude_rules = o->exclude_rules;
    int rc = 0, bad = 0;
    /* Every record that runs and is no longer enabled is disabled. */
    for (size_t i = 0; i < host->nplugins && rc == 0; i++) {
        struct rp_plugin *p = host->plugins[i];
        const json_t *entry = json_object_get(o->plugins, p->name);
        if (entry && json_is_true(json_object_get(entry, "enabled")))
            continue;
        if (p->pstate != RP__PLUGIN_STOPPED)
            rc = add_step(plan, ACT_DISABLE, p, NULL, 0, 0);
    }
    /* Every enabled entry; all of them are checked, so that one reload
     * reports every error. */
    const char *name;
    json_t *entry;
    json_object_foreach((json_t *)o->plugins, name, entry)
    {
        if (rc != 0 && rc != RP_ERR_CONFIG)
            break;
        if (!json_is_true(json_object_get(entry, "enabled")))
            continue;
        rc = plan_entry(host, o, plan, name, entry, err, errlen);
        bad |= rc == RP_ERR_CONFIG;
        if (rc == RP_ERR_CONFIG)
            rc = 0;
    }
    host->opts.config_error_arg = error_arg;
    host->opts.exclude_rules = exclude;
    if (rc == 0 && bad)
        rc = RP_ERR_CONFIG;
    if (rc != 0) {
        rp__host_reload_abort(plan);
        return rc;
    }
    *out = plan;
    return 0;
}

/* ---- applying it ------------------------------------------------------------ */

/* Moves the candidate's settings into the record (readers_lock held: other
 * threads read the strings). The candidate's shell is freed. */
static void take_cand(struct rp_plugin *p, struct step *s)
{
    struct rp_plugin *c = s->cand;
    if (s->loaded) {
        /* The copy that ran stays mapped: its code may be on a stack still. */
        rp__os_dl_forget(p->dl);
        p->dl = c->dl;
        c->dl = NULL;
        p->desc = c->desc;
        p->file_id = c->file_id;
        p->has_file_id = c->has_file_id;
        char *path = p->path;
        p->path = c->path;
        c->path = path;
    }
    /* The getters' document and config_get's text move together; the
     * record keeps the config it replaces until the next one (host_config.c). */
    if (c->config_doc && rp__host_plugin_set_config(p, c->config_doc) != 0)
        rp__log_error("reload: plugin %s: no memory for its new config; it keeps the previous one",
                      p->name);
    if (s->loaded) {
        /* The new copy's namespace and provides (checked in the plan). */
        rp__hf_free(p);
        p->field_ns = c->field_ns;
        p->provides = c->provides;
        c->field_ns = NULL;
        c->provides = NULL;
        memcpy(p->field_owner, c->field_owner, sizeof p->field_owner);
        p->check_provides = c->check_provides;
    }
    rp__hf_set_live(p, 1);
    p->error[0] = '\0';
    p->last_msg[0] = '\0';
    p->pstate = RP__PLUGIN_LOADED;
    if (s->new_copy) {
        p->file_reloads++;
        atomic_store(&p->file_reloads_seen, p->file_reloads);
    }
    rp__host_plugin_free(c);
    s->cand = NULL;
}

static void reconfigure(struct rp_plugin *p, struct step *s, size_t *failed)
{
    int rc = quiesce(p);
    if (rc != 0) {
        rp__log_error("reload: plugin %s: an on_event call did not return within 10 s; not "
                      "reconfigured, its previous config stays",
                      p->name);
        (*failed)++;
        return;
    }
    /* config_get and the getters read the new config from here on; the
     * previous one stays allocated (host_config.c), so what the plugin
     * borrowed from it is still valid inside reconfigure. */
    json_t *old = json_incref(p->config_doc);
    if ((rc = rp__host_plugin_set_config(p, s->cand->config_doc)) != 0) {
        rp__log_error("reload: plugin %s: %s; not reconfigured, its previous config stays", p->name,
                      rp_strerror(rc));
        json_decref(old);
        (*failed)++;
        unquiesce(p);
        return;
    }
    p->last_msg[0] = '\0';
    uint64_t cr = rp__host_enter(p, RP__CR_RECONFIGURE);
    rc = p->desc.reconfigure(p, p->state);
    rp__host_leave(cr);
    if (rc != 0) {
        /* The plugin refused the new config; the contract says it then runs
         * on the previous one, which config_get returns again. */
        if (old)
            rp__host_plugin_set_config(p, old);
        rp__log_error("reload: plugin %s (%s): reconfigure failed: %s%s%.400s; it keeps running "
                      "with its previous config",
                      p->name, p->desc.id, rp_strerror(rc), p->last_msg[0] ? ": " : "",
                      p->last_msg);
        (*failed)++;
    } else {
        rp__log_info("plugin %s: reconfigured", p->name);
    }
    json_decref(old);
    unquiesce(p);
}

/* A plugin that needs a capability the agent dropped at start-up (or says
 * nothing of what it needs) cannot run in this process: it is left failed
 * before its init, with why, rather than started to fail in odd ways. */
static int caps_refused(const rp__host *host, struct rp_plugin *p)
{
    uint64_t need = 0;
    if (!host->caps_limited)
        return 0;
    int declared = rp__host_plugin_caps(p, &need) == 0;
    if (declared && (need & ~host->caps_kept) == 0)
        return 0;
    char missing[256];
    rp__host_caps_format(need & ~host->caps_kept, missing, sizeof missing);
    rp__os_mutex_lock(p->lock);
    if (declared)
        snprintf(p->error, sizeof p->error,
                 "needs %s, which the agent dropped at start-up (agent.drop_capabilities); "
                 "restart the agent to run it",
                 missing);
    else
        snprintf(p->error, sizeof p->error,
                 "declares no capabilities, so it may need any, and the agent dropped those "
                 "its plugins did not need at start-up (agent.drop_capabilities); restart the "
                 "agent to run it");
    p->pstate = RP__PLUGIN_FAILED;
    rp__os_mutex_unlock(p->lock);
    rp__log_error("reload: plugin %s (%s): %s", p->name, p->desc.id, p->error);
    return 1;
}

void rp__host_reload_commit(rp__host *host, rp__host_reload_plan *plan, rp__os_mutex *readers_lock,
                            size_t *not_applied)
{
    size_t failed = 0, counts[4] = {0};
    if (!plan) {
        if (not_applied)
            *not_applied = 0;
        return;
    }
    for (size_t i = 0; i < plan->ncapped; i++)
        atomic_fetch_add(&plan->capped[i]->file_reloads_refused, 1);
    /* Stops first, collectors first, so nothing publishes into a detector
     * that is going away. */
    for (int rank = 2; rank >= 0; rank--) {
        for (size_t i = 0; i < plan->n; i++) {
            struct step *s = &plan->steps[i];
            if ((s->act != ACT_DISABLE && s->act != ACT_RECREATE) || kind_rank(s->live) != rank)
                continue;
            rp__host_plugin_down(s->live);
            if (s->act == ACT_DISABLE) {
                if (readers_lock)
                    rp__os_mutex_lock(readers_lock);
                s->live->pstate = RP__PLUGIN_STOPPED;
                s->live->error[0] = '\0';
                if (readers_lock)
                    rp__os_mutex_unlock(readers_lock);
                rp__log_info("plugin %s: disabled", s->live->name);
            }
        }
    }
    /* The new settings and records. */
    if (readers_lock)
        rp__os_mutex_lock(readers_lock);
    for (size_t i = 0; i < plan->n; i++) {
        struct step *s = &plan->steps[i];
        counts[s->act]++;
        if (s->act == ACT_ENABLE && !s->live) {
            struct rp_plugin *p = s->cand;
            p->index = (uint32_t)host->nplugins + 1;
            p->reload_of = NULL;
            p->pstate = RP__PLUGIN_LOADED;
            host->plugins[host->nplugins] = p;
            /* The slot is filled before the count that lets others read it. */
            atomic_thread_fence(memory_order_release);
            host->nplugins++;
            s->live = p;
            s->cand = NULL;
        } else if (s->act == ACT_ENABLE || s->act == ACT_RECREATE) {
            take_cand(s->live, s);
        }
    }
    if (readers_lock)
        rp__os_mutex_unlock(readers_lock);
    for (size_t i = 0; i < plan->n; i++)
        if (plan->steps[i].act == ACT_RECONFIGURE)
            reconfigure(plan->steps[i].live, &plan->steps[i], &failed);
    /* Starts last, collectors last, so every subscriber is in place before
     * events flow. */
    for (int rank = 0; rank <= 2; rank++) {
        for (size_t i = 0; i < plan->n; i++) {
            struct step *s = &plan->steps[i];
            if ((s->act != ACT_ENABLE && s->act != ACT_RECREATE) || kind_rank(s->live) != rank)
                continue;
            if (caps_refused(host, s->live)) {
                failed++;
                continue;
            }
            if (s->live->pstate == RP__PLUGIN_LOADED)
                rp__log_info("plugin %s: %s %s %s from %s", s->live->name,
                             s->act == ACT_ENABLE ? "enabling" : "re-creating", s->live->desc.id,
                             s->live->desc.version, s->live->path);
            rp__host_plugin_up(s->live);
            if (s->live->pstate != RP__PLUGIN_RUNNING)
                failed++;
        }
    }
    char tail[64] = "";
    if (failed)
        snprintf(tail, sizeof tail, "; %zu not applied (see above)", failed);
    rp__log_info("reload: plugins: %zu enabled, %zu disabled, %zu reconfigured, %zu re-created%s",
                 counts[ACT_ENABLE], counts[ACT_DISABLE], counts[ACT_RECONFIGURE],
                 counts[ACT_RECREATE], tail);
    if (not_applied)
        *not_applied = failed;
    rp__host_reload_abort(plan); /* frees what is left: reconfigured candidates */
}
