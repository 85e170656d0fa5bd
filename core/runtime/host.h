/*
 * core/runtime/host.h - the plugin host: loads plugins, serves the host API table,
 * and runs the plugins' lifecycles on the bus, loop and worker pool it is given.
 *
 * The agent owns the runtime: it creates the bus and the loop and hands them
 * to rp__host_create, creates the worker pool and starts all three before
 * rp__host_start, and stops them after rp__host_stop (see core/agent.c).
 *
 * Lifecycle: rp__host_create, rp__host_load (every enabled plugin of the
 * "plugins" object), rp__host_start (init and start of each plugin),
 * rp__host_stop, rp__host_destroy. All on the control thread.
 *
 * A plugin that cannot be loaded (missing file, untrusted file, wrong ABI,
 * bad descriptor, duplicate id) or whose init or start fails is reported and
 * left off; the agent runs with the rest. An invalid plugin "config" object
 * is a configuration error (RP_ERR_CONFIG) like any other.
 */
#ifndef RP_CORE_HOST_H
#define RP_CORE_HOST_H

#include "lib/schema.h"
#include "os/os_thread.h"
#include "runtime/bus.h"
#include "runtime/loop.h"
#include "runtime/workers.h"

#include <jansson.h>
#include <rampart/plugin.h>

#include <stddef.h>
#include <stdint.h>

typedef struct rp__host rp__host;

/* States a plugin instance goes through; "off" ones are kept for reports. */
enum rp__plugin_state {
    RP__PLUGIN_REFUSED = 0, /* not loaded: see its error */
    RP__PLUGIN_LOADED,      /* descriptor accepted, config valid */
    RP__PLUGIN_INITIALIZED,
    RP__PLUGIN_RUNNING,
    RP__PLUGIN_FAILED, /* init or start failed: left off */
    RP__PLUGIN_STOPPED,
    RP__PLUGIN_DISABLED, /* not loaded: the fault ledger disabled it (runtime/faults.h) */
};

/* What rp__host_plugin_info reports about one configured, enabled plugin. */
typedef struct rp__plugin_info {
    const char *name; /* instance name in the config */
    const char *path; /* resolved file, or NULL */
    const char *id;   /* descriptor id, or NULL */
    const char *version;
    const char *vendor; /* descriptor vendor, or NULL */
    uint32_t kind;      /* RP_KIND_*, 0 when not loaded */
    enum rp__plugin_state state;
    const char *error; /* why it is off, or "" */
    uint64_t published;
    uint64_t delivered;            /* events its subscriptions handed to it */
    uint64_t dropped;              /* events its subscriptions dropped (queue full) */
    uint64_t cpu_ns;               /* CPU time of its loop, worker and on_event callbacks */
    uint64_t publish_full;         /* its events the bus refused at agent.bus_max_bytes */
    uint64_t suspensions;          /* times its fd watches were suspended for that */
    int suspended;                 /* suspended now */
    uint32_t ncounters;            /* counters it registered: rp__host_plugin_counter */
    int caps_declared;             /* its descriptor declares capabilities (1.1) */
    uint64_t capabilities;         /* RP_CAP_* it declares, when caps_declared */
    uint64_t file_reloads;         /* copies of a changed file loaded by reloads */
    uint64_t file_reloads_refused; /* changed files kept out at the reload cap */
    /* Events for it dropped because it was not running: delivered before
     * its start returned, or queued when its stop began (host-api.md,
     * "Threads and lifetimes"). */
    uint64_t lifecycle_dropped;
    /* Containment (docs/containment.md): */
    int hung;                /* a call of it overran its deadline and has not returned */
    int over_cpu_budget;     /* events to it are dropped: over agent.plugin_budget.cpu_percent */
    int abandoned;           /* the bounded stop gave up on it */
    uint64_t budget_dropped; /* events to it dropped over its CPU budget */
    uint64_t hung_dropped;   /* events to it dropped while it was hung (action report) */
    uint64_t share_dropped;  /* events to it dropped at its share of the bus's byte cap */
    uint64_t held_bytes;     /* bytes of events queued for it now (with a share) */
    /* Isolation (isolate.h): it runs in a sandbox process; that process now
     * (0 while there is none), the sandboxes started after the first, and
     * the events lost with sandboxes that died or while none ran. */
    int isolated;
    int64_t sandbox_pid;
    uint64_t sandbox_restarts;
    uint64_t sandbox_lost;
} rp__plugin_info;

/* What the host is given; the agent fills it from its config
 * (rp__agent_host_opts). Every pointer is borrowed and must outlive the host
 * (until rp__host_destroy). */
typedef struct rp__host_opts {
    int load_only; /* --check-config: load and validate, never init */
    /* The bus and the loop the plugins use; NULL with load_only. The loop
     * must not be running yet: the host sets its accounting hooks. */
    rp__bus *bus;
    rp__loop *loop;
    const char *plugin_dir; /* where a bare plugin file name is looked for */
    const char *config_dir; /* what another relative file name is relative to */
    /* The "plugins" object: instance name -> {enabled, file, config}. */
    const json_t *plugins;
    /* collectors.exclude, handed as exclude_rules to each plugin that
     * declares it; NULL hands an empty object. */
    const json_t *exclude_rules;
    /* Adds one line about a plugin's settings to err (see rp__host_load):
     * line is "plugins.<name>.config[.key]: what is wrong", and
     * segv[0..depth) is the path of that value ("plugins", name, "config",
     * ...), so that the caller can name the file that set it. Required. */
    void (*config_error)(void *arg, char *err, size_t errlen, const struct rp__json_seg *segv,
                         int depth, const char *line);
    void *config_error_arg;
    /* The "policy" object (runtime/policy.h), already checked with the rest
     * of the config; NULL decides detect for every alert. */
    const json_t *policy;
    /* 1.1: agent.data_dir (absolute), where each plugin's private folder
     * <data_dir>/plugins/<name> is made; NULL: private_dir answers
     * RP_ERR_UNSUPPORTED. */
    const char *data_dir;
    /* output.url and output.proxy (NULL or "" for none), offered to plugins
     * as the service org.rampart.host.endpoints; borrowed for the call. */
    const char *upload_url;
    const char *proxy_url;
    /* Signed plugins (runtime/plugin_sig.h): agent.trusted_keys, an array of
     * PEM public key files relative to config_dir (NULL: none), read once by
     * the first rp__host_load; with require_signed_plugins a plugin without
     * a valid signature by one of them is refused. */
    const json_t *trusted_keys;
    int require_signed_plugins;
    /* agent.max_rss_bytes: past this resident size plugins' events are
     * refused and their kernel sources paused, as at the bus's byte cap,
     * until memory is back under 7/8 of it; 0: no ceiling. */
    uint64_t rss_ceiling;
} rp__host_opts;

int rp__host_create(const rp__host_opts *opts, rp__host **out);

/* A reload's new output.url and output.proxy (NULL or "" for none) for the
 * endpoints service: swapped whole, its generation bumped when they change.
 * RP_ERR_INVAL when one cannot be split into host and port (it is left out
 * and logged; the other is still set). Any thread. */
int rp__host_endpoints_set(rp__host *host, const char *upload_url, const char *proxy_url);

/* Splits url into an endpoint of role (internal; tests): scheme (http when
 * absent, as libcurl reads a proxy), credentials skipped, host lower-cased
 * (an IPv6 literal without brackets), port or the scheme's default.
 * RP_ERR_INVAL for an unknown scheme, an empty or over-long host, a bad
 * port or characters no host name has. */
struct rp_endpoint;
int rp__endpoint_parse(const char *url, uint32_t role, struct rp_endpoint *out);

/*
 * Loads every enabled plugin. Load failures leave the plugin off and are
 * logged; returns RP_ERR_CONFIG when a plugin's config does not match its
 * schema, with every such error of every plugin in err, one line each
 * ("<file>: plugins.X.config.Y: expected ..."). A plugin refused for its
 * config reports an empty error in rp__host_plugin_info (its lines are in
 * err).
 */
int rp__host_load(rp__host *host, char *err, size_t errlen);

/* The accounting hooks the worker pool must be created with (and the host
 * puts on its loop), so that CPU time and crashes are told per plugin. */
const rp__loop_hooks *rp__host_hooks(void);

/* Inits and starts the plugins (collectors last, so every subscriber is in
 * place before events flow). The bus and the loop run already; workers
 * (borrowed, made with rp__host_hooks on the host's loop) serves their work
 * until rp__host_stop. */
int rp__host_start(rp__host *host, rp__workers *workers);

/* Stops plugins (collectors first) and removes what they left registered;
 * the caller then destroys the workers and stops the bus (draining it) and
 * the loop. */
void rp__host_stop(rp__host *host);
/*
 * The bounded stop (core/agent.c): stops the running plugins of one kind
 * (RP_KIND_*), last loaded first. Before each one's stop its events are
 * turned away and the calls of it under way (on_event, a timer, a job, a
 * command) get until deadline_ns (monotonic) to return. One still in a call
 * then, or marked hung by the watchdog, is given up on: a thread inside a
 * plugin cannot be cancelled safely, so nothing of it is called or waited
 * for again (rp__host_stop and rp__host_destroy skip it, its record is never
 * freed), it is logged, and "plugin NAME (hung in on_event)" is appended to
 * gave_up (len bytes, NUL-terminated, "; " between entries). A stop callback
 * that does not return is not bounded here (agent.stop_grace_ms is).
 * Returns how many were given up on. Control thread.
 */
size_t rp__host_stop_kind(rp__host *host, uint32_t kind, int64_t deadline_ns, char *gave_up,
                          size_t len);

/* NULL is a no-op. Plugins stay mapped until the process exits. The bus,
 * loop and workers are the caller's. */
void rp__host_destroy(rp__host *host);

/* Number of configured enabled plugins and a report on each (strings borrowed
 * from the host until it is destroyed). */
size_t rp__host_plugin_count(const rp__host *host);
int rp__host_plugin_info(const rp__host *host, size_t index, rp__plugin_info *out);

/* Counter number counter (< info.ncounters) of plugin index: its name
 * (borrowed from the host) and value. Any thread. */
int rp__host_plugin_counter(const rp__host *host, size_t index, uint32_t counter, const char **name,
                            uint64_t *value);

/* 1.1: gauge number gauge of plugin index, as rp__host_plugin_counter;
 * RP_ERR_RANGE past the last one registered. Any thread. */
int rp__host_plugin_gauge(const rp__host *host, size_t index, uint32_t gauge, const char **name,
                          int64_t *value);

/*
 * Back-pressure figures. At agent.bus_max_bytes the bus refuses events; a
 * plugin whose event is refused has its fd watches taken out of the loop
 * until the queued bytes fall under 3/4 of the cap, so its kernel source
 * overflows (counted by the plugin) instead of the agent's memory growing.
 * An episode runs from the first suspension to the resume.
 */
typedef struct rp__host_flow {
    uint64_t queued_bytes, peak_bytes, max_bytes;
    uint64_t refused_full; /* events refused at the cap (every producer) */
    uint64_t episodes;
    uint64_t suspensions;   /* plugin suspensions, over all episodes */
    uint32_t suspended_now; /* plugins suspended now */
    uint64_t abandoned;     /* deliveries skipped after rp__bus_abandon */
    /* The RSS ceiling (agent.max_rss_bytes): */
    uint64_t rss_ceiling;  /* 0 = none */
    uint64_t rss_last;     /* the last sample, bytes */
    uint64_t rss_refused;  /* plugin events refused over the ceiling */
    uint64_t rss_episodes; /* times the ceiling was reached */
    uint32_t rss_over;     /* over it now */
} rp__host_flow;
void rp__host_flow_stats(const rp__host *host, rp__host_flow *out);

/* Calls cb once per event type with events refused at the cap, with that
 * number (type borrowed for the call). Any thread. */
void rp__host_refused_by_type(const rp__host *host,
                              void (*cb)(void *arg, const char *type, uint64_t refused), void *arg);

/* What status reports as a plugin's "capabilities": a new JSON array of
 * names ("CAP_NET_ADMIN"; "CAP_<n>" for a number this agent does not name),
 * or the string "undeclared". NULL on allocation failure. */
json_t *rp__host_caps_json(int declared, uint64_t caps);
/* The same names, separated by ", ", in buf (always terminated; "none" for
 * an empty set). */
void rp__host_caps_format(uint64_t caps, char *buf, size_t len);
/* Tells the host that the process now holds only kept (core/privileges.c,
 * before rp__host_start): from then on a reload starts a plugin only when
 * its descriptor declares capabilities and all of them are in kept; any
 * other is left failed, its error saying the agent must restart to run it. */
void rp__host_caps_limit(rp__host *host, uint64_t kept);
/* The config schema plugin index declares (its descriptor's text, borrowed
 * for the host's life), or NULL: not loaded, or none. */
const char *rp__host_plugin_schema(const rp__host *host, size_t index);
/* Checks a descriptor's field_namespace and provides on their own (forms,
 * caps, field names the agent knows), as the loader does before it also
 * checks them against the other plugins: 0, or an error and why. For tools
 * that read descriptors without a host (tests/abi/fields_doc.c). */
int rp__host_check_fields(const rp_plugin_descriptor *d, char *why, size_t whylen);
/* Replaces the response policy stamped on alerts (alert_create) with one
 * made from the "policy" object (borrowed for the call), atomically: an
 * alert being made meanwhile gets the old or the new policy, whole. On an
 * error (RP_ERR_CONFIG, logged; RP_ERR_NOMEM) the running policy stays.
 * Any thread; the agent calls it at a reload. */
int rp__host_set_policy(rp__host *host, const json_t *policy);
/*
 * Live reload (core/runtime/host_reload.c, docs/reload.md), control thread,
 * in two steps so that a reload refused for any reason changes nothing:
 *
 * rp__host_reload_prepare compares a new "plugins" object with what runs and
 * makes a plan: plugins to enable, disable, reconfigure (their descriptor
 * has reconfigure), re-create (no reconfigure, or their file changed) or
 * leave alone. It loads what the plan needs (a newly enabled plugin's file;
 * a changed file as a new copy, while its cap lasts) and checks every new
 * plugin config against its schema, but starts, stops or changes nothing.
 * RP_ERR_CONFIG with one line per problem in err (a config that does not
 * match its schema, a file refused); *plan is then NULL.
 *
 * rp__host_reload_commit applies the plan: stops (collectors first),
 * reconfigures with on_event held off, then inits and starts (collectors
 * last). readers_lock (may be NULL) is taken around the change of the
 * plugin list that other threads read. Sets *not_applied to the number of
 * plugins whose change failed (a reconfigure that failed keeps the old
 * config running; an init or start that failed leaves the plugin off, as
 * at start-up), each logged. Frees the plan. rp__host_reload_abort frees
 * a plan without applying it (NULL is a no-op).
 */
typedef struct rp__host_reload_opts {
    const json_t *plugins;       /* the new "plugins" object; borrowed for the call */
    const json_t *exclude_rules; /* the new collectors.exclude, or NULL */
    void *config_error_arg;      /* for opts.config_error, during the call */
    uint32_t file_reloads_max;   /* agent.plugin_file_reloads_max */
} rp__host_reload_opts;
typedef struct rp__host_reload_plan rp__host_reload_plan;
int rp__host_reload_prepare(rp__host *host, const rp__host_reload_opts *opts,
                            rp__host_reload_plan **plan, char *err, size_t errlen);
void rp__host_reload_commit(rp__host *host, rp__host_reload_plan *plan, rp__os_mutex *readers_lock,
                            size_t *not_applied);
void rp__host_reload_abort(rp__host_reload_plan *plan);

/* The host API table as handed to plugins (static storage). */
const rp_host_api *rp__host_api(void);

#endif
