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
    uint64_t delivered;    /* events its subscriptions handed to it */
    uint64_t dropped;      /* events its subscriptions dropped (queue full) */
    uint64_t cpu_ns;       /* CPU time of its loop and worker callbacks */
    uint64_t publish_full; /* its events the bus refused at agent.bus_max_bytes */
    uint64_t suspensions;  /* times its fd watches were suspended for that */
    int suspended;         /* suspended now */
    uint32_t ncounters;    /* counters it registered: rp__host_plugin_counter */
    /* Events for it dropped because it was not running: delivered before
     * its start returned, queued when its stop began, or during a
     * reconfigure (host-api.md, "Threads and lifetimes"). */
    uint64_t lifecycle_dropped;
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
} rp__host_opts;

int rp__host_create(const rp__host_opts *opts, rp__host **out);

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
} rp__host_flow;
void rp__host_flow_stats(const rp__host *host, rp__host_flow *out);

/* Calls cb once per event type with events refused at the cap, with that
 * number (type borrowed for the call). Any thread. */
void rp__host_refused_by_type(const rp__host *host,
                              void (*cb)(void *arg, const char *type, uint64_t refused), void *arg);

/* The host API table as handed to plugins (static storage). */
const rp_host_api *rp__host_api(void);

#endif
