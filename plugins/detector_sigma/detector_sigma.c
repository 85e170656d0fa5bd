/*
 * plugins/detector_sigma/detector_sigma.c - the Sigma detector: evaluates
 * the rules under its rule_dirs on process, file and network events and
 * raises an alert per match (sdk/docs/alerts.md), with site tuning,
 * exceptions, throttling and reloads (README.md).
 *
 * Threads. on_event (one dispatcher thread at a time) owns the engine it
 * evaluates, the throttle table and the scratch; a rule set is built on the
 * control thread (start, reconfigure) or on a worker (a reload with an
 * unchanged config), under build_lock so two builds never overlap, and
 * installed as `cur` under lock with a generation number; on_event picks the
 * new set up at its next event. Sets are reference-counted, so commands
 * (two worker threads at most) read the set they took while a reload
 * replaces it.
 */
#define _GNU_SOURCE
#include "attack.h"
#include "ruleset.h"
#include "throttle.h"
#include "tune.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIT(s) (s), (sizeof(s) - 1)

/* Dead and skipped rules logged one line each at a load; the rest are
 * counted in one line (the rules command lists them all). */
#define LOG_RULES_MAX 20u
/* Matches of one event handled; more are counted (matches_dropped). */
#define MATCHES_MAX 256u
/* A string array joined by spaces for a rule (process.args) is cut here. */
#define JOIN_MAX 8192u
/* Text of a number, boolean, address or timestamp. */
#define SCALAR_MAX 64u
/* Bytes of one reply of the rules command, under RP_MAX_COMMAND_REPLY with
 * room for the escapes the estimate leaves out. */
#define RULES_REPLY_MAX (512u * 1024u)
/* Regex error totals are read from the engine every this many events. */
#define REGEX_POLL_EVENTS 1024u

/* An entry of rules or tags. */
#define TUNE_ENTRY                                                                                 \
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"                         \
    "\"enabled\":{\"type\":\"boolean\"},"                                                          \
    "\"exceptions\":{\"type\":\"array\",\"maxItems\":64,"                                          \
    "\"items\":{\"type\":[\"object\",\"array\"]}}}}"

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"rule_dirs\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"description\":\"folders whose *.yml and *.yaml rules are loaded, recursively\","
    "\"items\":{\"type\":\"string\",\"format\":\"absolute-path\",\"minLength\":1,"
    "\"maxLength\":4096}},"
    "\"field_map\":{\"type\":\"object\","
    "\"description\":\"log source or * -> {SigmaField: ecs.field}, over the built-in table\","
    "\"propertyNames\":{\"type\":\"string\",\"pattern\":\"^([a-z_]+|\\\\*)$\",\"maxLength\":64},"
    "\"additionalProperties\":{\"type\":\"object\","
    "\"propertyNames\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128},"
    "\"additionalProperties\":{\"type\":\"string\",\"maxLength\":128}}},"
    "\"placeholders\":{\"type\":\"object\","
    "\"description\":\"values of %name% for the expand modifier\","
    "\"propertyNames\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":128},"
    "\"additionalProperties\":{\"type\":\"array\",\"maxItems\":1024,"
    "\"items\":{\"type\":\"string\",\"maxLength\":4096}}},"
    "\"min_level\":{\"enum\":[\"informational\",\"low\",\"medium\",\"high\",\"critical\"],"
    "\"default\":\"informational\"},"
    "\"rules\":{\"type\":\"object\",\"description\":\"rule id -> enabled, exceptions\","
    "\"propertyNames\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256},"
    "\"additionalProperties\":" TUNE_ENTRY "},"
    "\"tags\":{\"type\":\"object\",\"description\":\"tag -> enabled, exceptions\","
    "\"propertyNames\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256},"
    "\"additionalProperties\":" TUNE_ENTRY "},"
    "\"levels\":{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"informational\":{\"type\":\"boolean\"},\"low\":{\"type\":\"boolean\"},"
    "\"medium\":{\"type\":\"boolean\"},\"high\":{\"type\":\"boolean\"},"
    "\"critical\":{\"type\":\"boolean\"}}},"
    "\"statuses\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"default\":{\"deprecated\":false,\"unsupported\":false},\"properties\":{"
    "\"stable\":{\"type\":\"boolean\"},\"test\":{\"type\":\"boolean\"},"
    "\"experimental\":{\"type\":\"boolean\"},\"deprecated\":{\"type\":\"boolean\"},"
    "\"unsupported\":{\"type\":\"boolean\"}}},"
    "\"folders\":{\"type\":\"object\",\"description\":\"folder under a rule_dir -> enabled\","
    "\"propertyNames\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256},"
    "\"additionalProperties\":{\"type\":\"boolean\"}},"
    "\"throttle\":{\"type\":\"object\",\"additionalProperties\":false,"
    "\"default\":{\"seconds\":60,\"max_keys\":4096},\"properties\":{"
    "\"seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400},"
    "\"max_keys\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1048576}}}}}";

enum counter {
    C_EVENTS,
    C_ALERTS,
    C_THROTTLED,
    C_EXCEPTED,
    C_REGEX,
    C_RELOADS,
    C_RELOAD_FAILURES,
    C_EVICTIONS,
    C_ALERT_FAILURES,
    C_MATCHES_DROPPED,
    C_COUNT
};
static const char *const counter_names[C_COUNT] = {
    "events_evaluated", "alerts",          "alerts_throttled", "alerts_excepted",
    "regex_errors",     "reloads",         "reload_failures",  "throttle_evictions",
    "alert_failures",   "matches_dropped",
};

enum gauge { G_LOADED, G_DEAD, G_SKIPPED, G_DISABLED, G_THROTTLE_KEYS, G_COUNT };
static const char *const gauge_names[G_COUNT] = {"rules_loaded", "rules_dead", "rules_skipped",
                                                 "rules_disabled", "throttle_keys"};

/* Fields the detector reads or sets itself. */
enum field {
    F_EXECUTABLE,
    F_FILE_PATH,
    F_ENTITY_ID,
    F_PID,
    F_ACTION,
    F_TACTIC_NAME,
    F_AUTHOR,
    F_LICENSE,
    F_SELECTIONS,
    F_THROTTLED,
    F_RULE_PATH,
    F_LEVEL,
    F_COUNT
};
static const rp_util_field_def field_defs[F_COUNT] = {
    [F_EXECUTABLE] = {"process.executable", RP_TYPE_STR},
    [F_FILE_PATH] = {"file.path", RP_TYPE_STR},
    [F_ENTITY_ID] = {"process.entity_id", RP_TYPE_STR},
    [F_PID] = {"process.pid", RP_TYPE_I64},
    [F_ACTION] = {"event.action", RP_TYPE_STR},
    [F_TACTIC_NAME] = {"threat.tactic.name", RP_TYPE_STR_ARRAY},
    [F_AUTHOR] = {"rule.author", RP_TYPE_STR_ARRAY},
    [F_LICENSE] = {"rule.license", RP_TYPE_STR},
    [F_SELECTIONS] = {"sigma.selections", RP_TYPE_STR},
    [F_THROTTLED] = {"sigma.throttled_count", RP_TYPE_U64},
    [F_RULE_PATH] = {"sigma.rule_path", RP_TYPE_STR},
    [F_LEVEL] = {"sigma.level", RP_TYPE_STR},
};

/* How the engine's field slots are read from an rp_event. */
struct slot {
    rp_field_id id; /* 0: no field of that name is registered: always absent */
    uint32_t type;
    char *buf; /* scratch for values given as text (not for strings) */
    size_t cap;
};

struct slots {
    uint32_t n;
    struct slot *v;
    char *mem;
};

/* A rule set in use, with the config it was built from. */
struct live {
    atomic_int refs;
    struct ds_set *set;
    struct ds_conf *conf;
    struct slots slots, exc_slots;
};

struct ds_plugin {
    rp_plugin *self;
    const rp_host_api *host;
    rp_util_counters counters;
    _Atomic uint64_t totals[C_COUNT]; /* mirrors of the counters, for the stats command */
    uint32_t gauges[G_COUNT];
    rp_field_id f[F_COUNT];

    pthread_mutex_t lock; /* cur, gen, conf_text, last_error */
    pthread_mutex_t build_lock;
    struct live *cur;
    atomic_uint_fast64_t gen;
    char *conf_text; /* the config the current set was built from */
    char last_error[512];
    uint32_t subscribed; /* event types subscribed at start (bits of ds_event_type) */

    atomic_int skip_lifecycle; /* a reconfigure ran: the next agent-config-reloaded is done */
    atomic_int reload_pending, reload_again;

    /* on_event's own. */
    struct live *ev;
    uint64_t ev_gen;
    struct ds_throttle *thr;
    uint32_t thr_seconds, thr_keys;
    uint64_t regex_seen;
    uint32_t events_since_poll;
    const struct ds_crule *matches[MATCHES_MAX];
    uint32_t n_matches, matches_over;
};

static void count(struct ds_plugin *p, enum counter c, uint64_t n)
{
    if (n == 0)
        return;
    atomic_fetch_add_explicit(&p->totals[c], n, memory_order_relaxed);
    rp_util_count(&p->counters, c, n);
}

static void gauge(struct ds_plugin *p, enum gauge g, int64_t v)
{
    p->host->gauge_set(p->self, p->gauges[g], v);
}

static int refuse(struct ds_plugin *p, int rc, const char *msg)
{
    p->host->set_error(p->self, msg, strlen(msg));
    return rc;
}

/* ---- sets ---------------------------------------------------------------- */

static void slots_free(struct slots *s)
{
    free(s->v);
    free(s->mem);
    memset(s, 0, sizeof *s);
}

/* Resolves each slot's field name once, and sizes its scratch by type. */
static int slots_make(struct ds_plugin *p, const struct ds_engine *eng, struct slots *s)
{
    memset(s, 0, sizeof *s);
    if (!eng)
        return 0;
    s->n = ds_engine_slot_count(eng);
    s->v = calloc(s->n ? s->n : 1, sizeof *s->v);
    if (!s->v)
        return RP_ERR_NOMEM;
    size_t total = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        const char *name = ds_engine_slot_name(eng, i);
        struct slot *sl = &s->v[i];
        if (!name || p->host->field_lookup(p->self, name, strlen(name), &sl->id, &sl->type) != 0)
            sl->id = 0;
        else if (sl->type == RP_TYPE_STR_ARRAY)
            sl->cap = JOIN_MAX;
        else if (sl->type != RP_TYPE_STR && sl->type != RP_TYPE_BYTES)
            sl->cap = SCALAR_MAX;
        total += sl->cap;
    }
    s->mem = malloc(total ? total : 1);
    if (!s->mem)
        return RP_ERR_NOMEM;
    char *m = s->mem;
    for (uint32_t i = 0; i < s->n; i++) {
        s->v[i].buf = s->v[i].cap ? m : NULL;
        m += s->v[i].cap;
    }
    return 0;
}

static void live_release(struct live *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
        return;
    slots_free(&l->slots);
    slots_free(&l->exc_slots);
    ds_set_destroy(l->set);
    ds_conf_destroy(l->conf);
    free(l);
}

/* The current set with a reference of the caller's, or NULL. */
static struct live *live_take(struct ds_plugin *p)
{
    pthread_mutex_lock(&p->lock);
    struct live *l = p->cur;
    if (l)
        atomic_fetch_add(&l->refs, 1);
    pthread_mutex_unlock(&p->lock);
    return l;
}

/* The engine's question "does a collector fill this field for this event
 * type", answered by the collectors' declarations. */
static int filled(void *ctx, int type, const char *field)
{
    struct ds_plugin *p = ctx;
    const char *tname = ds_event_type_name(type);
    rp_field_id id;
    uint32_t n = 0;
    if (p->host->field_lookup(p->self, field, strlen(field), &id, NULL) != 0)
        return 0;
    if (p->host->field_provided(p->self, tname, strlen(tname), id, &n) != 0)
        return 0;
    return n > 0;
}

static void types_text(uint32_t types, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int t = 0; t < DS_EV_COUNT; t++)
        if (types & (1u << t)) {
            int n = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", ds_event_type_name(t));
            if (n < 0 || (size_t)n >= len - o)
                break;
            o += (size_t)n;
        }
}

/* Logs what a build gave: one summary line, then the dead and refused
 * rules (bounded), the rules skipped for their scope by reason, and the
 * notes. */
static void log_set(struct ds_plugin *p, const struct live *l, const char *what)
{
    const struct ds_set *s = l->set;
    char dirs[1024] = "";
    size_t o = 0;
    for (uint32_t i = 0; i < l->conf->n_rule_dirs && o < sizeof dirs; i++) {
        int n = snprintf(dirs + o, sizeof dirs - o, "%s%s", i ? ", " : "", l->conf->rule_dirs[i]);
        if (n < 0)
            break;
        o += (size_t)n;
    }
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "%s %u rule files from %s: %u loaded, %u dead, %u skipped, %u disabled, %u "
                 "exceptions (%.1f ms, %zu KiB)",
                 what, s->n_files, l->conf->n_rule_dirs ? dirs : "no rule_dirs", s->n_loaded,
                 s->n_dead, s->n_skipped, s->n_disabled, s->n_exceptions, s->build_ns / 1e6,
                 ds_engine_memory(s->eng) / 1024);
    uint32_t logged = 0, more = 0, scope[DS_REASON_COUNT] = {0}, nscope = 0;
    /* Dead rules first, then the files refused for their content. */
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < s->n_files; i++) {
            const struct ds_file *f = &s->files[i];
            int dead = f->status == DS_ST_DEAD;
            if (pass == 0 ? !dead : f->status != DS_ST_SKIPPED)
                continue;
            if (pass == 1) {
                int reason = 0;
                while (reason < DS_REASON_COUNT && strcmp(ds_reason_name(reason), f->reason) != 0)
                    reason++;
                if (reason < DS_REASON_COUNT && ds_reason_class(reason) == DS_CLASS_SCOPE) {
                    scope[reason]++;
                    nscope++;
                    continue;
                }
            }
            if (logged == LOG_RULES_MAX) {
                more++;
                continue;
            }
            logged++;
            if (dead)
                rp_util_logf(p->host, p->self, RP_LOG_WARN, "rule %s (%s) is dead: %s", f->path,
                             f->id ? f->id : "?", f->msg);
            else
                rp_util_logf(p->host, p->self, RP_LOG_WARN, "rule %s skipped (%s): %s", f->path,
                             f->reason, f->msg);
        }
    }
    if (more)
        rp_util_logf(p->host, p->self, RP_LOG_WARN,
                     "%u more dead or refused rules not logged; the plugin's rules command "
                     "lists every file",
                     more);
    if (nscope) {
        char line[512];
        size_t n = 0;
        for (int r = 0; r < DS_REASON_COUNT && n < sizeof line; r++)
            if (scope[r]) {
                int k = snprintf(line + n, sizeof line - n, "%s%s %u", n ? ", " : "",
                                 ds_reason_name(r), scope[r]);
                if (k < 0)
                    break;
                n += (size_t)k;
            }
        rp_util_logf(p->host, p->self, RP_LOG_INFO,
                     "%u rules skipped as outside this agent's scope: %s", nscope, line);
    }
    for (uint32_t i = 0; i < s->n_notes; i++)
        rp_util_logf(p->host, p->self, RP_LOG_WARN, "%s", s->notes[i]);
    if (s->notes_dropped)
        rp_util_logf(p->host, p->self, RP_LOG_WARN, "%u more exceptions can never hold",
                     s->notes_dropped);
    uint32_t missing = s->types & ~p->subscribed;
    if (missing && p->subscribed) {
        char t[256];
        types_text(missing, t, sizeof t);
        rp_util_logf(p->host, p->self, RP_LOG_WARN,
                     "rules for %s were loaded by a reload, but the plugin subscribes to event "
                     "types at start: they run after the plugin is restarted",
                     t);
    }
}

/* Builds a set from config text; on failure err says why. */
static int live_build(struct ds_plugin *p, const char *text, struct live **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    struct live *l = calloc(1, sizeof *l);
    if (!l)
        return RP_ERR_NOMEM;
    atomic_init(&l->refs, 1);
    int rc = ds_conf_parse(text, strlen(text), &l->conf, err, errlen);
    if (rc == 0)
        rc = ds_set_build(l->conf, filled, p, &l->set, err, errlen);
    if (rc == 0)
        rc = slots_make(p, l->set->eng, &l->slots);
    if (rc == 0)
        rc = slots_make(p, l->set->exc, &l->exc_slots);
    if (rc != 0) {
        if (rc == RP_ERR_NOMEM && err && errlen && !err[0])
            snprintf(err, errlen, "out of memory");
        live_release(l);
        return rc;
    }
    *out = l;
    return 0;
}

static void set_gauges(struct ds_plugin *p, const struct ds_set *s)
{
    gauge(p, G_LOADED, s->n_loaded);
    gauge(p, G_DEAD, s->n_dead);
    gauge(p, G_SKIPPED, s->n_skipped);
    gauge(p, G_DISABLED, s->n_disabled);
}

/* Makes l the current set (takes the caller's reference) and keeps text as
 * the config it came from. */
static void install(struct ds_plugin *p, struct live *l, char *text)
{
    pthread_mutex_lock(&p->lock);
    struct live *old = p->cur;
    p->cur = l;
    if (text) {
        free(p->conf_text);
        p->conf_text = text;
    }
    p->last_error[0] = '\0';
    atomic_fetch_add(&p->gen, 1);
    pthread_mutex_unlock(&p->lock);
    set_gauges(p, l->set);
    live_release(old);
}

static void note_failure(struct ds_plugin *p, const char *why)
{
    pthread_mutex_lock(&p->lock);
    snprintf(p->last_error, sizeof p->last_error, "%.*s", (int)(sizeof p->last_error - 1), why);
    pthread_mutex_unlock(&p->lock);
}

/* A rebuild with the config the current set came from, re-reading the rule
 * files; the old set stays when it fails. Serialised with every build. */
static void rebuild(struct ds_plugin *p)
{
    char err[512] = "";
    pthread_mutex_lock(&p->build_lock);
    pthread_mutex_lock(&p->lock);
    char *text = p->conf_text ? strdup(p->conf_text) : NULL;
    uint32_t kept = p->cur ? p->cur->set->n_loaded + p->cur->set->n_dead : 0;
    pthread_mutex_unlock(&p->lock);
    struct live *l = NULL;
    int rc = text ? live_build(p, text, &l, err, sizeof err) : RP_ERR_NOMEM;
    free(text);
    if (rc != 0) {
        count(p, C_RELOAD_FAILURES, 1);
        rp_util_logf(p->host, p->self, RP_LOG_ERROR,
                     "reload failed: %s; the %u rules loaded before stay in use",
                     err[0] ? err : rp_strerror(rc), kept);
        note_failure(p, err[0] ? err : rp_strerror(rc));
    } else {
        count(p, C_RELOADS, 1);
        log_set(p, l, "reloaded");
        install(p, l, NULL);
    }
    pthread_mutex_unlock(&p->build_lock);
}

static void reload_work(void *arg)
{
    struct ds_plugin *p = arg;
    do {
        rebuild(p);
    } while (atomic_exchange(&p->reload_again, 0));
}

static void reload_done(void *arg, int status)
{
    struct ds_plugin *p = arg;
    (void)status;
    atomic_store(&p->reload_pending, 0);
    /* A reload asked for after the worker's last look runs now. */
    if (atomic_exchange(&p->reload_again, 0)) {
        atomic_store(&p->reload_pending, 1);
        if (p->host->work_submit(p->self, reload_work, reload_done, p) != 0)
            atomic_store(&p->reload_pending, 0);
    }
}

/* The agent reloaded its config (SIGHUP, rampartctl reload): rule files may
 * have changed even when this plugin's config did not. The rebuild runs on
 * a worker so events are not held meanwhile. */
static void lifecycle(struct ds_plugin *p, const rp_event *ev)
{
    const char *action;
    uint64_t len;
    if (p->host->get_str(ev, p->f[F_ACTION], &action, &len) != 0 ||
        len != strlen("agent-config-reloaded") || memcmp(action, "agent-config-reloaded", len) != 0)
        return;
    /* This plugin's config changed in that reload: reconfigure rebuilt the
     * set already. */
    if (atomic_exchange(&p->skip_lifecycle, 0))
        return;
    if (atomic_exchange(&p->reload_pending, 1)) {
        atomic_store(&p->reload_again, 1);
        return;
    }
    int rc = p->host->work_submit(p->self, reload_work, reload_done, p);
    if (rc != 0) {
        atomic_store(&p->reload_pending, 0);
        count(p, C_RELOAD_FAILURES, 1);
        rp_util_logf(p->host, p->self, RP_LOG_ERROR,
                     "cannot reload the rules: no worker took the job (%s); the rules loaded "
                     "before stay in use",
                     rp_strerror(rc));
    }
}

/* ---- reading events -------------------------------------------------------- */

struct vctx {
    struct ds_plugin *p;
    const rp_event *ev;
    const struct slots *sl;
    /* string_at's position: the next index it gives, and where that is. */
    uint32_t next, field, item, nfields;
    int have_nfields;
};

static int text_ts(char *buf, size_t cap, int64_t ns)
{
    time_t secs = (time_t)(ns / 1000000000);
    long frac = (long)(ns % 1000000000);
    if (frac < 0) {
        frac += 1000000000;
        secs--;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return -1;
    return snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int view_get(void *ctx, uint32_t slot, const char **value, size_t *len)
{
    struct vctx *v = ctx;
    const rp_host_api *h = v->p->host;
    if (slot >= v->sl->n || v->sl->v[slot].id == 0)
        return 0;
    const struct slot *s = &v->sl->v[slot];
    int n = -1;
    switch (s->type) {
    case RP_TYPE_STR: {
        uint64_t l;
        if (h->get_str(v->ev, s->id, value, &l) != 0)
            return 0;
        *len = (size_t)l;
        return 1;
    }
    case RP_TYPE_I64: {
        int64_t i;
        if (h->get_i64(v->ev, s->id, &i) == 0)
            n = snprintf(s->buf, s->cap, "%lld", (long long)i);
        break;
    }
    case RP_TYPE_U64: {
        uint64_t u;
        if (h->get_u64(v->ev, s->id, &u) == 0)
            n = snprintf(s->buf, s->cap, "%llu", (unsigned long long)u);
        break;
    }
    case RP_TYPE_BOOL: {
        int32_t b;
        if (h->get_bool(v->ev, s->id, &b) == 0)
            n = snprintf(s->buf, s->cap, "%s", b ? "true" : "false");
        break;
    }
    case RP_TYPE_TIMESTAMP: {
        int64_t ns;
        if (h->get_timestamp(v->ev, s->id, &ns) == 0)
            n = text_ts(s->buf, s->cap, ns);
        break;
    }
    case RP_TYPE_IP: {
        rp_ip ip;
        if (h->get_ip(v->ev, s->id, &ip) == 0 &&
            inet_ntop(ip.family == 6 ? AF_INET6 : AF_INET, ip.addr, s->buf, (socklen_t)s->cap))
            n = (int)strlen(s->buf);
        break;
    }
    case RP_TYPE_STR_ARRAY: {
        /* Joined by single spaces, as Sigma rules read an argument list. */
        uint32_t c;
        if (h->get_str_array_count(v->ev, s->id, &c) != 0)
            return 0;
        size_t o = 0;
        for (uint32_t i = 0; i < c; i++) {
            const char *item;
            uint64_t il;
            if (h->get_str_array_item(v->ev, s->id, i, &item, &il) != 0)
                break;
            if (i && o < s->cap)
                s->buf[o++] = ' ';
            size_t take = il < s->cap - o ? (size_t)il : s->cap - o;
            memcpy(s->buf + o, item, take);
            o += take;
        }
        *value = s->buf;
        *len = o;
        return 1;
    }
    default:
        return 0;
    }
    if (n < 0 || (size_t)n >= s->cap)
        return 0;
    *value = s->buf;
    *len = (size_t)n;
    return 1;
}

/* Fields that describe the event record rather than what happened, left
 * out of keyword searches: a keyword "exec" must not match every exec
 * because of event.action. */
static int keyword_field(struct ds_plugin *p, rp_field_id id)
{
    const char *name;
    if (p->host->field_info(p->self, id, &name, NULL, NULL) != 0)
        return 0;
    return strncmp(name, "event.", 6) != 0 && strncmp(name, "agent.", 6) != 0 &&
           strncmp(name, "ecs.", 4) != 0 && name[0] != '@';
}

/* The event's string values in the order its fields were set (array items
 * one by one), for keyword rules. */
static int view_string_at(void *ctx, uint32_t i, const char **value, size_t *len)
{
    struct vctx *v = ctx;
    const rp_host_api *h = v->p->host;
    if (!v->have_nfields) {
        if (h->event_field_count(v->ev, &v->nfields) != 0)
            v->nfields = 0;
        v->have_nfields = 1;
    }
    if (i != v->next) {
        /* Asked out of order: start over and walk to i. */
        v->next = 0;
        v->field = 0;
        v->item = 0;
    }
    while (v->field < v->nfields) {
        rp_field_id id;
        uint32_t type;
        if (h->event_field_at(v->ev, v->field, &id, &type) != 0)
            return 0;
        int take = (type == RP_TYPE_STR || type == RP_TYPE_STR_ARRAY) && keyword_field(v->p, id);
        const char *s = NULL;
        uint64_t l = 0;
        int got = 0;
        if (take && type == RP_TYPE_STR) {
            got = v->item == 0 && h->get_str(v->ev, id, &s, &l) == 0;
            if (!got) {
                v->field++;
                v->item = 0;
                continue;
            }
            v->item = 1;
        } else if (take) {
            got = h->get_str_array_item(v->ev, id, v->item, &s, &l) == 0;
            if (!got) {
                v->field++;
                v->item = 0;
                continue;
            }
            v->item++;
        } else {
            v->field++;
            continue;
        }
        if (v->next++ == i) {
            *value = s;
            *len = (size_t)l;
            return 1;
        }
    }
    return 0;
}

static void view_init(struct ds_view *view, struct vctx *v, struct ds_plugin *p, const rp_event *ev,
                      const struct slots *sl)
{
    memset(v, 0, sizeof *v);
    v->p = p;
    v->ev = ev;
    v->sl = sl;
    view->get = view_get;
    view->string_at = view_string_at;
    view->ctx = v;
}

/* ---- alerts ------------------------------------------------------------------ */

static int on_match(void *ctx, const struct ds_crule *rule)
{
    struct ds_plugin *p = ctx;
    if (p->n_matches < MATCHES_MAX)
        p->matches[p->n_matches++] = rule;
    else
        p->matches_over++;
    return 0;
}

/* The throttle key's process part: process.entity_id, else process.pid. */
static uint64_t process_key(struct ds_plugin *p, const rp_event *ev)
{
    const char *s;
    uint64_t len;
    int64_t pid;
    if (p->host->get_str(ev, p->f[F_ENTITY_ID], &s, &len) == 0 && len > 0)
        return ds_throttle_hash(DS_THROTTLE_HASH_SEED, s, (size_t)len);
    if (p->host->get_i64(ev, p->f[F_PID], &pid) == 0)
        return ds_throttle_hash(DS_THROTTLE_HASH_SEED ^ 1u, &pid, sizeof pid);
    return 0;
}

static void set_list(struct ds_plugin *p, rp_event *ev, rp_field_id f, const char **list,
                     uint32_t n)
{
    rp_str items[DS_ALERT_LIST_MAX];
    if (!list || n == 0)
        return;
    for (uint32_t i = 0; i < n && i < DS_ALERT_LIST_MAX; i++) {
        items[i].ptr = list[i];
        items[i].len = strlen(list[i]);
    }
    p->host->set_str_array(ev, f, items, n < DS_ALERT_LIST_MAX ? n : DS_ALERT_LIST_MAX);
}

static void raise_alert(struct ds_plugin *p, struct live *l, const struct ds_rinfo *ri,
                        const rp_event *ev, const struct ds_view *view, const char *type,
                        uint64_t carried)
{
    const rp_host_api *h = p->host;
    char sels[512] = "", reason[6144];
    ds_engine_explain(l->set->eng, ri->crule, view, sels, sizeof sels);
    const char *exe = NULL, *path = NULL;
    uint64_t n;
    if (h->get_str(ev, p->f[F_EXECUTABLE], &exe, &n) != 0)
        exe = NULL;
    if (h->get_str(ev, p->f[F_FILE_PATH], &path, &n) != 0)
        path = NULL;
    if (path)
        snprintf(reason, sizeof reason, "Sigma rule \"%s\" matched the %s of %s by %s%s%s%s",
                 ri->name, type, path, exe ? exe : "an unknown program",
                 sels[0] ? " (selections: " : "", sels[0] ? sels : "", sels[0] ? ")" : "");
    else
        snprintf(reason, sizeof reason, "Sigma rule \"%s\" matched the %s of %s%s%s%s", ri->name,
                 type, exe ? exe : "an unknown program", sels[0] ? " (selections: " : "",
                 sels[0] ? sels : "", sels[0] ? ")" : "");
    rp_alert a = {
        .struct_size = sizeof a,
        .severity = ri->severity,
        .rule_id = ri->id,
        .rule_name = ri->name,
        .ruleset = "sigma",
        .reason = reason,
        .rule_description = ri->description,
        .rule_reference = ri->reference,
        .tags = ri->tags,
        .tactic_ids = ri->tactic_ids,
        .technique_ids = ri->technique_ids,
    };
    rp_event *alert;
    int rc = h->alert_create(p->self, &a, &ev, 1, &alert);
    if (rc != 0) {
        count(p, C_ALERT_FAILURES, 1);
        return;
    }
    /* What the contract leaves to the detector; a field that does not fit
     * is left out rather than losing the alert. */
    set_list(p, alert, p->f[F_TACTIC_NAME], ri->tactic_names, ri->n_tactic_names);
    set_list(p, alert, p->f[F_AUTHOR], ri->authors, ri->n_authors);
    if (ri->license)
        h->set_str(alert, p->f[F_LICENSE], ri->license, strlen(ri->license));
    if (sels[0])
        h->set_str(alert, p->f[F_SELECTIONS], sels, strlen(sels));
    if (carried)
        h->set_u64(alert, p->f[F_THROTTLED], carried);
    h->set_str(alert, p->f[F_RULE_PATH], ri->path, strlen(ri->path));
    h->set_str(alert, p->f[F_LEVEL], ri->level, strlen(ri->level));
    if (h->event_publish(p->self, alert) != 0)
        count(p, C_ALERT_FAILURES, 1);
    else
        count(p, C_ALERTS, 1);
}

/* Takes up the current set when it changed; the throttle table follows its
 * settings. */
static void follow_set(struct ds_plugin *p)
{
    uint64_t g = atomic_load(&p->gen);
    if (g == p->ev_gen)
        return;
    if (p->ev) {
        uint64_t e = ds_engine_regex_errors(p->ev->set->eng);
        count(p, C_REGEX, e > p->regex_seen ? e - p->regex_seen : 0);
    }
    live_release(p->ev);
    p->ev = live_take(p);
    p->ev_gen = g;
    p->regex_seen = 0;
    if (!p->ev)
        return;
    const struct ds_conf *c = p->ev->conf;
    if (!p->thr || c->throttle_seconds != p->thr_seconds || c->throttle_max_keys != p->thr_keys) {
        struct ds_throttle *t;
        if (ds_throttle_create(c->throttle_max_keys, (uint64_t)c->throttle_seconds * 1000000000u,
                               &t) == 0) {
            ds_throttle_destroy(p->thr);
            p->thr = t;
            p->thr_seconds = c->throttle_seconds;
            p->thr_keys = c->throttle_max_keys;
            gauge(p, G_THROTTLE_KEYS, 0);
        }
    }
}

static int ds_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct ds_plugin *p = state;
    const rp_host_api *h = p->host;
    (void)self;
    const char *tname;
    uint64_t tlen;
    if (h->event_type(ev, &tname, &tlen) != 0)
        return 0;
    if (tlen == strlen("agent.lifecycle") && memcmp(tname, "agent.lifecycle", tlen) == 0) {
        lifecycle(p, ev);
        return 0;
    }
    int type = ds_event_type_lookup(tname, (size_t)tlen);
    if (type < 0)
        return 0;
    follow_set(p);
    struct live *l = p->ev;
    if (!l)
        return 0;
    count(p, C_EVENTS, 1);
    struct ds_view view;
    struct vctx vc;
    view_init(&view, &vc, p, ev, &l->slots);
    p->n_matches = 0;
    p->matches_over = 0;
    ds_engine_eval(l->set->eng, type, &view, on_match, p, NULL);
    count(p, C_MATCHES_DROPPED, p->matches_over);
    if (++p->events_since_poll >= REGEX_POLL_EVENTS) {
        p->events_since_poll = 0;
        uint64_t e = ds_engine_regex_errors(l->set->eng);
        count(p, C_REGEX, e > p->regex_seen ? e - p->regex_seen : 0);
        p->regex_seen = e > p->regex_seen ? e : p->regex_seen;
    }
    if (p->n_matches == 0)
        return 0;
    uint64_t pkey = process_key(p, ev);
    int64_t now = h->monotonic_ns();
    char tbuf[RP_MAX_EVENT_TYPE + 1];
    snprintf(tbuf, sizeof tbuf, "%.*s", (int)tlen, tname);
    for (uint32_t i = 0; i < p->n_matches; i++) {
        const struct ds_rinfo *ri = &l->set->rules[ds_crule_index(p->matches[i])];
        int excepted = 0;
        if (ri->n_exc) {
            struct ds_view xview;
            struct vctx xc;
            view_init(&xview, &xc, p, ev, &l->exc_slots);
            for (uint32_t j = 0; j < ri->n_exc && !excepted; j++)
                excepted = ds_engine_eval_rule(l->set->exc, ri->exc[j], &xview);
        }
        if (excepted) {
            count(p, C_EXCEPTED, 1);
            continue;
        }
        struct ds_throttle_result tr;
        ds_throttle_check(p->thr, ri->id_hash, pkey, now, &tr);
        if (tr.evicted)
            count(p, C_EVICTIONS, 1);
        gauge(p, G_THROTTLE_KEYS, ds_throttle_size(p->thr));
        if (!tr.pass) {
            count(p, C_THROTTLED, 1);
            continue;
        }
        view_init(&view, &vc, p, ev, &l->slots);
        raise_alert(p, l, ri, ev, &view, tbuf, tr.carried);
    }
    return 0;
}

/* ---- commands ---------------------------------------------------------------- */

static int reply(struct ds_plugin *p, rp_command *cmd, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return RP_ERR_NOMEM;
    int rc = p->host->command_reply(cmd, text, strlen(text), 0);
    free(text);
    return rc;
}

static int cmd_rules(struct ds_plugin *p, rp_command *cmd, struct live *l)
{
    uint32_t next = 0;
    do {
        char *text = ds_set_rules_json(l->set, &next, RULES_REPLY_MAX);
        if (!text)
            return RP_ERR_NOMEM;
        int more = next < l->set->n_files;
        int rc = p->host->command_reply(cmd, text, strlen(text), more ? RP_REPLY_MORE : 0);
        free(text);
        if (rc != 0)
            return rc;
    } while (next < l->set->n_files);
    return 0;
}

static int cmd_stats(struct ds_plugin *p, rp_command *cmd, struct live *l)
{
    const struct ds_set *s = l->set;
    json_t *counters = json_object(), *dirs = json_array(), *types = json_array(),
           *missing = json_array();
    for (int c = 0; c < C_COUNT; c++)
        json_object_set_new(counters, counter_names[c],
                            json_integer((json_int_t)atomic_load(&p->totals[c])));
    for (uint32_t i = 0; i < l->conf->n_rule_dirs; i++)
        json_array_append_new(dirs, json_string(l->conf->rule_dirs[i]));
    for (int t = 0; t < DS_EV_COUNT; t++) {
        if (p->subscribed & (1u << t))
            json_array_append_new(types, json_string(ds_event_type_name(t)));
        if ((s->types & ~p->subscribed) & (1u << t))
            json_array_append_new(missing, json_string(ds_event_type_name(t)));
    }
    pthread_mutex_lock(&p->lock);
    json_t *last = p->last_error[0] ? json_string(p->last_error) : json_null();
    pthread_mutex_unlock(&p->lock);
    json_t *j = json_pack(
        "{s:o,s:{s:i,s:i,s:i,s:i,s:i,s:i},s:I,s:f,s:o,s:o,s:{s:i,s:i},s:o,s:o}", "rule_dirs", dirs,
        "rules", "files", (json_int_t)s->n_files, "loaded", (json_int_t)s->n_loaded, "dead",
        (json_int_t)s->n_dead, "skipped", (json_int_t)s->n_skipped, "disabled",
        (json_int_t)s->n_disabled, "exceptions", (json_int_t)s->n_exceptions, "memory_bytes",
        (json_int_t)ds_engine_memory(s->eng), "build_ms", s->build_ns / 1e6, "subscribed", types,
        "unsubscribed_needed", missing, "throttle", "seconds",
        (json_int_t)l->conf->throttle_seconds, "max_keys", (json_int_t)l->conf->throttle_max_keys,
        "counters", counters, "last_reload_error", last);
    if (!j)
        return RP_ERR_NOMEM;
    return reply(p, cmd, j);
}

static int ds_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                         uint64_t len)
{
    struct ds_plugin *p = state;
    (void)self;
    json_t *req = json_loadb(request, (size_t)len, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "command"));
    char cname[32];
    snprintf(cname, sizeof cname, "%s", name ? name : "");
    json_decref(req);
    int which = strcmp(cname, "rules") == 0 ? 1 : strcmp(cname, "stats") == 0 ? 2 : 0;
    if (!which)
        return refuse(p, RP_ERR_NOTFOUND, "unknown command; try: rules, stats");
    struct live *l = live_take(p);
    if (!l)
        return refuse(p, RP_ERR_AGAIN, "no rule set is loaded");
    int rc = which == 1 ? cmd_rules(p, cmd, l) : cmd_stats(p, cmd, l);
    live_release(l);
    return rc;
}

/* ---- lifecycle ------------------------------------------------------------------ */

static int conf_text(struct ds_plugin *p, char **out)
{
    const char *json;
    uint64_t len;
    int rc = p->host->config_get(p->self, &json, &len);
    if (rc != 0)
        return rc;
    *out = strndup(json, (size_t)len);
    return *out ? 0 : RP_ERR_NOMEM;
}

static int ds_check_config(rp_plugin *self, const rp_host_api *host)
{
    const char *json;
    uint64_t len;
    char err[512] = "";
    struct ds_conf *c = NULL;
    int rc = host->config_get(self, &json, &len);
    if (rc != 0)
        return rc;
    rc = ds_conf_parse(json, (size_t)len, &c, err, sizeof err);
    if (rc == 0)
        rc = ds_conf_check(c, err, sizeof err);
    ds_conf_destroy(c);
    if (rc == RP_ERR_CONFIG)
        host->set_error(self, err, strlen(err));
    return rc;
}

static void plugin_free(struct ds_plugin *p)
{
    live_release(p->ev);
    live_release(p->cur);
    ds_throttle_destroy(p->thr);
    free(p->conf_text);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->build_lock);
    free(p);
}

static int ds_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    struct ds_plugin *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    p->self = self;
    p->host = host;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->build_lock, NULL);
    int rc = rp_util_counters_register(&p->counters, host, self, counter_names, C_COUNT, 0);
    for (int g = 0; rc == 0 && g < G_COUNT; g++) {
        rc = host->gauge_register(self, gauge_names[g], strlen(gauge_names[g]), &p->gauges[g]);
        if (rc != 0)
            refuse(p, rc, "cannot register a gauge");
    }
    if (rc == 0)
        rc = rp_util_fields_register(host, self, field_defs, F_COUNT, p->f);
    if (rc == 0 && (rc = conf_text(p, &p->conf_text)) != 0)
        refuse(p, rc, "cannot read the config");
    if (rc != 0) {
        plugin_free(p);
        return rc;
    }
    *state = p;
    return 0;
}

/* The set is built at start rather than init: the collectors have all been
 * loaded by then, so field_provided answers for every one of them. */
static int ds_start(rp_plugin *self, void *state)
{
    struct ds_plugin *p = state;
    char err[512] = "";
    struct live *l;
    pthread_mutex_lock(&p->build_lock);
    int rc = live_build(p, p->conf_text, &l, err, sizeof err);
    pthread_mutex_unlock(&p->build_lock);
    if (rc != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot load the rules: %s", err[0] ? err : rp_strerror(rc));
        return refuse(p, rc, msg);
    }
    /* Only the event types some rule runs on: the rest never reach the
     * detector's queue. */
    for (int t = 0; t < DS_EV_COUNT; t++) {
        if (!(l->set->types & (1u << t)))
            continue;
        const char *name = ds_event_type_name(t);
        if ((rc = p->host->subscribe(self, name, strlen(name), 0)) != 0) {
            live_release(l);
            return refuse(p, rc, "cannot subscribe to the rules' event types");
        }
        p->subscribed |= 1u << t;
    }
    if ((rc = p->host->subscribe(self, LIT("agent.lifecycle"), 0)) != 0) {
        live_release(l);
        return refuse(p, rc, "cannot subscribe to agent.lifecycle");
    }
    log_set(p, l, "loaded");
    char t[256];
    types_text(p->subscribed, t, sizeof t);
    rp_util_logf(p->host, p->self, RP_LOG_INFO, "evaluating %s", t[0] ? t : "no event type");
    install(p, l, NULL);
    return 0;
}

static int ds_stop(rp_plugin *self, void *state)
{
    (void)self;
    struct ds_plugin *p = state;
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "stopped: %llu events evaluated, %llu alerts, %llu throttled, %llu excepted",
                 (unsigned long long)atomic_load(&p->totals[C_EVENTS]),
                 (unsigned long long)atomic_load(&p->totals[C_ALERTS]),
                 (unsigned long long)atomic_load(&p->totals[C_THROTTLED]),
                 (unsigned long long)atomic_load(&p->totals[C_EXCEPTED]));
    return 0;
}

static void ds_destroy(rp_plugin *self, void *state)
{
    (void)self;
    if (state)
        plugin_free(state);
}

/* A new config: a whole new set, or the old one stays. The host then keeps
 * the previous config too (host_reload.c), so what it reports and what runs
 * agree. */
static int ds_reconfigure(rp_plugin *self, void *state)
{
    struct ds_plugin *p = state;
    char err[512] = "", *text = NULL;
    struct live *l = NULL;
    (void)self;
    int rc = conf_text(p, &text);
    atomic_store(&p->skip_lifecycle, 1);
    if (rc == 0) {
        pthread_mutex_lock(&p->build_lock);
        rc = live_build(p, text, &l, err, sizeof err);
        pthread_mutex_unlock(&p->build_lock);
    }
    if (rc != 0) {
        free(text);
        count(p, C_RELOAD_FAILURES, 1);
        struct live *old = live_take(p);
        uint32_t kept = old ? old->set->n_loaded + old->set->n_dead : 0;
        live_release(old);
        char msg[700];
        snprintf(msg, sizeof msg, "new config not applied: %s; the %u rules loaded before stay",
                 err[0] ? err : rp_strerror(rc), kept);
        rp_util_logf(p->host, p->self, RP_LOG_ERROR, "%s", msg);
        note_failure(p, msg);
        return refuse(p, rc, msg);
    }
    count(p, C_RELOADS, 1);
    log_set(p, l, "reloaded");
    install(p, l, text);
    return 0;
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* alert_create, field_provided, gauges, commands */
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.detector.sigma",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "Sigma rules on process, file and network events",
    .config_schema = config_schema,
    .init = ds_init,
    .start = ds_start,
    .stop = ds_stop,
    .destroy = ds_destroy,
    .reconfigure = ds_reconfigure,
    .on_event = ds_on_event,
    .field_namespace = "sigma",
    .check_config = ds_check_config,
    .on_command = ds_on_command,
    .capabilities = 0, /* reads events and rule files only */
};

RP_PLUGIN_ENTRY(descriptor)
