/*
 * core/runtime/host_private.h - what the plugin host's files share: the host
 * and plugin records, and the thread's current plugin. Private to the host:
 * host.c (the host API table and lifecycles), loader.c (finding,
 * trust-checking, loading, negotiating and validating plugins) and the
 * host_*.c files of the ABI 1.1 parts (fields, alerts, config getters,
 * services, commands, reload). Outside core/runtime/ only white-box tests
 * include it.
 */
#ifndef RP_CORE_HOST_PRIVATE_H
#define RP_CORE_HOST_PRIVATE_H

#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_thread.h"
#include "runtime/callrec.h"
#include "runtime/host.h"

#include <jansson.h>

#include <stdatomic.h>
#include <stdint.h>

#define MAX_COUNTERS 64
#define MAX_SUBS     16
#define MAX_HANDLES  256
#define ERR_LEN      512

struct counter {
    char name[64];
    atomic_uint_fast64_t value;
};

/* 1.1: a gauge (host_service.c): a value that is set, not added. */
struct gauge {
    char name[RP_MAX_COUNTER_NAME + 1];
    atomic_int_fast64_t value;
};

/* A watch, timer or job of a plugin: bridges the loop's callback types to
 * the plugin's, and lets the host clean up what a plugin leaves behind. */
struct handle {
    struct rp_plugin *plugin;
    uint64_t id; /* loop watch or timer id; 0 = free slot */
    int is_timer;
    int once; /* a one-shot timer */
    rp_fd_cb fd_cb;
    rp_timer_cb timer_cb;
    void *arg;
};

struct job {
    struct rp_plugin *plugin;
    rp_work_cb work;
    rp_work_done_cb done;
    void *arg;
};

struct rp_plugin {
    rp__host *host;
    uint32_t index;    /* producer id: 1-based position in the host */
    uint32_t cr_index; /* its call-record index + 1 (callrec.h); 0 = not recorded */
    char *name;
    char *path;
    rp__os_dl *dl;
    rp_plugin_descriptor desc; /* the host's copy, zero-filled past the plugin's size */
    void *state;
    enum rp__plugin_state pstate;
    char *config_json;
    char error[ERR_LEN];
    char signed_by[20]; /* hex prefix of the key that signed the loaded file, or "" */

    rp__os_mutex *lock; /* guards last_msg, counters registration, handles */
    char last_msg[ERR_LEN];
    struct counter counters[MAX_COUNTERS];
    atomic_uint ncounters;
    uint64_t subs[MAX_SUBS];
    uint32_t nsubs;
    struct handle *handles[MAX_HANDLES];

    atomic_uint_fast64_t published;
    atomic_uint_fast64_t publish_failed;
    atomic_uint_fast64_t cpu_ns; /* CPU time of its loop and worker callbacks */
    /* Back-pressure (see suspend_watches): publishes refused at the bus's
     * byte cap, and how often its fd watches were suspended for it. */
    atomic_uint_fast64_t publish_full;
    atomic_uint_fast64_t suspensions;
    atomic_int suspend_wanted; /* a suspension is posted or in force */
    atomic_int suspended;      /* its fd watches are out of the poller */
    /* 1.1: the field registry (host_fields.c). */
    char *field_ns;                /* the descriptor's field_namespace, validated; or NULL */
    char field_owner[160];         /* "name (id)": how its fields' owner is told */
    struct rp__provides *provides; /* the host's copy of the descriptor's provides, or NULL */
    atomic_int provides_live;      /* counted by field_provided: loaded, not failed or stopped */
    int check_provides;            /* RAMPART_CHECK_PROVIDES=1: rp__hf_check_published */
    /* 1.1: alerts and policy (host_alert.c). */
    /* 1.1: drops, gauges, services and the private folder (host_service.c). */
    /* 1.1: typed config getters (host_config.c). Guarded by lock: the
     * validated config the getters read (config_json above is its text),
     * the one it replaced with its texts (kept until the next replacement,
     * so a reader racing one swap stays safe), and config_json's cache. */
    json_t *config_doc;
    json_t *config_prev;
    char *config_json_prev;
    struct rp__config_text *config_texts;
    struct rp__config_text *config_texts_prev;
    struct rp__config_text *config_check_texts; /* during check_config only */
    struct gauge gauges[RP_MAX_GAUGES];         /* registered under lock, set from any thread */
    atomic_uint ngauges;
    rp__os_dir *private_dir; /* opened at the first private_dir call, under lock */
    char *private_path;
    /* A hold on one of its services outlived the stop's wait: its destroy
     * waits until every plugin has stopped, so a late call through the table
     * finds a stopped plugin, not freed memory. */
    int services_stuck;
    /* 1.1: typed config getters (host_config.c). */
    /* 1.1: plugin commands (host_command.c). */
    struct rp__plugin_cmds *cmds; /* NULL until the plugin first runs */
    /* 1.1: lifetimes and live reload. */
    /* Live reload (host_reload.c). on_event is gated so that it never runs
     * before start returned nor during reconfigure: in_event counts the calls
     * running, quiesced makes new ones wait on gate_cond, and gate_off (set
     * when the plugin's resources are released) sends the waiting ones away
     * without a call. */
    atomic_int in_event;
    atomic_int quiesced;
    atomic_int gate_off;
    rp__os_mutex *gate_lock;
    rp__os_cond *gate_cond;
    rp__os_file_id file_id; /* the loaded copy's file, as checked */
    int has_file_id;
    uint32_t file_reloads;                     /* copies of a changed file loaded by reloads */
    atomic_uint_fast64_t file_reloads_seen;    /* the same, for other threads */
    atomic_uint_fast64_t file_reloads_refused; /* changed files kept out at the cap */
    struct rp_plugin *reload_of; /* a reload's candidate: the record it would replace */
    /* Events for it turned away at the gate (before start returned, after
     * stop began) or still queued when its subscriptions ended at stop. */
    atomic_uint_fast64_t lifecycle_dropped;
    /* Set when stop begins (or a failed init or start is cleaned up): new
     * fd watches, timers and jobs are refused with RP_ERR_STOPPED, so none
     * can outlive the clean-up. api_busy counts those calls in progress. */
    atomic_int stopping;
    atomic_uint api_busy;
    /* Containment (watchdog.c): events to it are dropped, not delivered,
     * while refuse_events has RP__REFUSE_CPU (over its CPU budget) or
     * RP__REFUSE_HUNG (a call of it overran its deadline, action report);
     * counted in budget_dropped and hung_dropped. abandoned: the bounded
     * stop gave up on it (a call of it never returned); nothing of it is
     * called or waited for again. */
    atomic_int refuse_events;
    atomic_uint_fast64_t budget_dropped;
    atomic_uint_fast64_t hung_dropped;
    atomic_int abandoned;
    /* plugins.<name>.cpu_percent when set (read at load), else -1: the
     * agent's agent.plugin_budget.cpu_percent. */
    int32_t cpu_percent;
    /* Isolation (isolate.h): plugins.<name>.isolation is "process"; its
     * sandbox's record once loaded, else NULL. */
    int isolated;
    struct rp__iso *iso;
};

#define RP__REFUSE_CPU  1
#define RP__REFUSE_HUNG 2

struct rp__host {
    rp__host_opts opts;
    rp__bus *bus; /* borrowed, as the two below */
    rp__loop *loop;
    rp__workers *workers; /* between rp__host_start and rp__host_stop */
    struct rp_plugin **plugins;
    size_t nplugins;
    int started;
    /* Back-pressure, on the loop thread: the timer that resumes suspended
     * watches once the bus drains under its low watermark. */
    uint64_t resume_timer;
    uint64_t max_bytes; /* the bus's byte cap (agent.bus_max_bytes) */
    uint64_t low_water;
    int64_t full_logged_ns;        /* last log line about it: one a minute at most */
    atomic_uint_fast64_t episodes; /* times the bus went full and watches were suspended */
    atomic_uint_fast64_t suspensions;
    atomic_uint suspended_now;
    /* The RSS ceiling (opts.rss_ceiling): resident size sampled every
     * RSS_SAMPLE_BYTES of events a thread published; over it, publishes are refused
     * as at the byte cap until resume_check sees memory back under 7/8. */
    atomic_int_fast64_t rss_sampled_ns; /* monotonic time of the last sample */
    atomic_uint_fast64_t rss_last;
    atomic_uint_fast64_t rss_refused;
    atomic_uint_fast64_t rss_episodes;
    atomic_int rss_over;
    int64_t rss_logged_ns;      /* last log line about it (loop thread or publisher) */
    struct rp__host_cmds *cmds; /* 1.1: plugin commands (host_command.c) */
    /* 1.1: alerts and policy (host_alert.c): the response policy, swapped
     * whole at a reload under host_alert.c's lock; NULL decides detect. */
    struct rp__policy *policy;
    /* Live reload (host_reload.c): plugins has room for cap records; a
     * reload appends the plugins it enables for the first time. */
    size_t cap;
    /* The endpoints service the host offers (host_endpoints.c); NULL for a
     * load-only host. */
    struct rp__host_endpoints *endpoints;
    /* agent.trusted_keys, read by the first rp__host_load (loader.c). */
    struct rp__sig_key **sig_keys;
    size_t nsig_keys;
    int sig_keys_read;
    /* The capabilities the agent kept when it reduced them at start-up
     * (core/privileges.c), valid with caps_limited; plugins enabled later
     * must declare theirs within them (host_reload.c). */
    int caps_limited;
    uint64_t caps_kept;
};

/* 1.1: drops, gauges, services and the private folder (host_service.c).
 * The host table's entries: */
int rp__host_api_dropped_get(rp_plugin *self, uint64_t *dropped);
int rp__host_api_gauge_register(rp_plugin *self, const char *name, uint64_t len,
                                uint32_t *gauge_id);
int rp__host_api_gauge_set(rp_plugin *self, uint32_t gauge_id, int64_t value);
int rp__host_api_service_offer(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                               const void *table);
int rp__host_api_service_acquire(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                                 const void **table, uint64_t *hold);
int rp__host_api_service_release(rp_plugin *self, uint64_t hold);
int rp__host_api_private_dir(rp_plugin *self, int64_t *dirfd, const char **path, uint64_t *len);
/* The stop path, on the control thread. withdraw: before the plugin's stop,
 * its offers are withdrawn (no new acquires), then the host waits (bounded)
 * for the holds on them to be released; a hold that outlives the wait is
 * logged naming both plugins and sets services_stuck. release: after the
 * plugin stopped (or failed), withdraws what is left and releases the holds
 * it still has, logged as its bug. */
void rp__host_services_withdraw(struct rp_plugin *p);
void rp__host_services_release(struct rp_plugin *p);
/* Closes the private folder; at host destroy, after the plugin's destroy. */
void rp__host_services_free(struct rp_plugin *p);
/* Services the host offers itself (names under org.rampart.host.): offered
 * at create, withdrawn at destroy once every plugin is freed. table is
 * borrowed until then. RP_ERR_EXISTS, RP_ERR_FULL, RP_ERR_INVAL. */
int rp__host_service_offer_host(rp__host *h, const char *name, uint32_t version, const void *table);
void rp__host_services_withdraw_host(rp__host *h);
/* The endpoints service (host_endpoints.c): made from opts.upload_url and
 * opts.proxy_url and offered at create; destroyed (and withdrawn) at
 * destroy. */
int rp__host_endpoints_create(rp__host *h);
void rp__host_endpoints_destroy(rp__host *h);

/* Records a reload may add to those the host was created with. */
#define RP__HOST_RELOAD_NEW_MAX 64u

/* Marks p as the plugin the calling thread runs (crash reports and the
 * supervisor read it) around a direct call into the plugin; leave clears it. */
/* Makes set_error calls on this thread also write to buf (len bytes,
 * NUL-terminated, emptied now); NULL or 0 stops it. */
void rp__host_capture_errors(char *buf, size_t len);
/* Around every call into a plugin: sets the thread's current plugin and its
 * call record (callrec.h) for crash attribution and the hang watchdog.
 * Returns what rp__host_leave restores. */
uint64_t rp__host_enter(struct rp_plugin *p, enum rp__cr_kind kind);
void rp__host_leave(uint64_t saved);

/* 1.1: typed config getters (host_config.c). */

/* Installs config (the host takes a reference; an object, validated and with
 * its defaults) as what plugin p's config getters read and, as compact text,
 * what config_get returns. The config it replaces stays allocated until the
 * next call or destroy, so pointers the plugin got stay valid through its
 * reconfigure. A reload calls it before the plugin's reconfigure. Control
 * thread. RP_ERR_INVAL, RP_ERR_NOMEM. */
int rp__host_plugin_set_config(struct rp_plugin *p, json_t *config);
/* Frees what rp__host_plugin_set_config kept (rp__host_destroy). */
void rp__host_plugin_config_free(struct rp_plugin *p);
/* Runs p's check_config, if it has one, over candidate (the installed config
 * at load, a new one before a reload installs it): the getters and
 * config_get called from it read candidate. 0, or RP_ERR_CONFIG with why
 * ("check_config refused the config: <set_error text>", the plugin's code
 * in brackets when it is not RP_ERR_CONFIG),
 * RP_ERR_NOMEM. Control thread. */
int rp__host_plugin_check_config(struct rp_plugin *p, const json_t *candidate, char *why,
                                 size_t whylen);
/* True while p's check_config runs on this thread: host calls other than the
 * config getters, config_get, log, set_error, the allocator and the clocks
 * answer RP_ERR_BUSY then (the plugin is not initialised). */
int rp__host_checking(const struct rp_plugin *p);
/* config_get's answer inside check_config: the candidate's text. */
int rp__host_config_checking_text(const char **json, uint64_t *len);
/* 0 with the plugin's RP_CAP_* mask when its descriptor declares them
 * (RP_PLUGIN_CAPS_DECLARED in a 1.1 descriptor), else RP_ERR_NOTFOUND. */
int rp__host_plugin_caps(const struct rp_plugin *p, uint64_t *caps);
/* The host table's config getters. */
int rp__host_config_bool(rp_plugin *self, const char *path, uint64_t path_len, int32_t *out);
int rp__host_config_i64(rp_plugin *self, const char *path, uint64_t path_len, int64_t *out);
int rp__host_config_str(rp_plugin *self, const char *path, uint64_t path_len, const char **out,
                        uint64_t *len);
int rp__host_config_str_array_count(rp_plugin *self, const char *path, uint64_t path_len,
                                    uint32_t *count);
int rp__host_config_str_array_item(rp_plugin *self, const char *path, uint64_t path_len,
                                   uint32_t index, const char **out, uint64_t *len);
int rp__host_config_json(rp_plugin *self, const char *path, uint64_t path_len, const char **json,
                         uint64_t *len);
/* 1.1: the field registry (host_fields.c). */
/* Caps on a descriptor's provides: event types, and fields per event type. */
#define RP__PROVIDES_MAX_TYPES  64u
#define RP__PROVIDES_MAX_FIELDS RP_MAX_EVENT_FIELDS
/* Validates p's field_namespace and provides against the other plugins of
 * host and keeps copies; on an error, why says what is wrong (the loader
 * refuses the plugin with it). Control thread, at load. */
int rp__hf_load(rp__host *host, struct rp_plugin *p, char *why, size_t whylen);
/* Whether field_provided counts p (from load until it fails or stops). */
void rp__hf_set_live(struct rp_plugin *p, int live);
/* With RAMPART_CHECK_PROVIDES=1 in the agent's environment (the collector
 * and end-to-end tests set it), every event a plugin that declares provides
 * publishes is checked against them: a field or event type it does not
 * declare is logged and the agent aborts, so a declaration that lies fails
 * the test that made the collector publish it. Publisher's thread. */
void rp__hf_check_published(struct rp_plugin *p, const rp_event *ev);
/* Frees what rp__hf_load kept. */
void rp__hf_free(struct rp_plugin *p);
/* The host table's field calls. */
int rp__hf_field_id(rp_plugin *self, const char *name, uint64_t len, uint32_t type,
                    rp_field_id *out);
int rp__hf_field_lookup(rp_plugin *self, const char *name, uint64_t len, rp_field_id *id,
                        uint32_t *type);
int rp__hf_field_info(rp_plugin *self, rp_field_id id, const char **name, uint64_t *len,
                      uint32_t *type);
int rp__hf_field_count(rp_plugin *self, uint32_t *count);
int rp__hf_field_provided(rp_plugin *self, const char *event_type, uint64_t type_len,
                          rp_field_id field, uint32_t *collectors);
int rp__hf_event_field_count(const rp_event *ev, uint32_t *count);
int rp__hf_event_field_at(const rp_event *ev, uint32_t index, rp_field_id *id, uint32_t *type);
/* 1.1: plugin commands (host_command.c). setup makes the host's command
 * workers (at host start), teardown destroys them (at host stop, after
 * every plugin closed; destroying also frees the host's record, at host
 * destroy). open lets commands reach a plugin that now runs;
 * close, before its stop, refuses new ones, ends the queued ones and waits
 * (RP__COMMAND_STOP_WAIT_MS at most) for the running ones: RP_ERR_TIMEOUT
 * when one still runs. free at host destroy. Control thread. */
int rp__host_command_setup(rp__host *host);
void rp__host_command_teardown(rp__host *host, int destroying);
void rp__host_command_open(struct rp_plugin *p);
int rp__host_command_close(struct rp_plugin *p);
void rp__host_command_free(struct rp_plugin *p);
int rp__host_api_command_reply(rp_command *cmd, const char *json, uint64_t len, uint32_t flags);
/* 1.1: alerts and policy (host_alert.c). alert_create of the host table;
 * rp__host_policy_clear drops the host's policy (rp__host_destroy). */
int rp__host_alert_create(rp_plugin *self, const rp_alert *alert, const rp_event *const *sources,
                          uint32_t nsources, rp_event **out);
void rp__host_policy_clear(rp__host *host);
/* ---- live reload (host_reload.c) --------------------------------------- */

/* Loader steps (loader.c) a reload uses on a candidate record. */
struct rp_plugin *rp__host_plugin_new(rp__host *host, const char *name, const char *file);
void rp__host_plugin_free(struct rp_plugin *p);
int rp__host_load_binary(rp__host *host, struct rp_plugin *p, int private_copy);
/* Frees the trusted keys (loader.c). */
void rp__host_sig_keys_free(rp__host *host);
int rp__host_check_config(rp__host *host, struct rp_plugin *p, const json_t *entry, char *err,
                          size_t errlen);
char *rp__host_plugin_path(const rp__host_opts *opts, const char *file);

/* One plugin's lifecycle steps (host.c), control thread: init then start
 * (state RUNNING, or FAILED with its error), and stop then destroy (state
 * STOPPED). */
void rp__host_plugin_up(struct rp_plugin *p);
void rp__host_plugin_down(struct rp_plugin *p);

/* The on_event gate (see struct rp_plugin): the bus's dispatcher calls enter
 * before on_event, and when it returns 1, leave after it; 0 means the plugin
 * went off while the event waited: no call. close holds deliveries off
 * (before init); open lets them through (deliver 1: after start) or sends
 * them away (deliver 0: the plugin is off). Control thread. */
int rp__host_gate_wait(struct rp_plugin *p);
void rp__host_gate_close(struct rp_plugin *p);
void rp__host_gate_open(struct rp_plugin *p, int deliver);
static inline int rp__host_gate_enter(struct rp_plugin *p)
{
    atomic_fetch_add(&p->in_event, 1);
    if (atomic_load(&p->quiesced) || atomic_load(&p->gate_off))
        return rp__host_gate_wait(p);
    return 1;
}
static inline void rp__host_gate_leave(struct rp_plugin *p)
{
    atomic_fetch_sub(&p->in_event, 1);
}

#endif
