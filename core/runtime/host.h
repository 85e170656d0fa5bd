/*
 * core/runtime/host.h - the plugin host: loads plugins, serves the host API table,
 * and runs the shared machinery (bus, loop thread, worker pool) they use.
 *
 * Lifecycle: rp__host_create, rp__host_load (every enabled plugin of the
 * config), rp__host_start (bus, loop, workers, then init and start of each
 * plugin), rp__host_stop, rp__host_destroy. All on the control thread.
 *
 * A plugin that cannot be loaded (missing file, untrusted file, wrong ABI,
 * bad descriptor, duplicate id) or whose init or start fails is reported and
 * left off; the agent runs with the rest. An invalid plugin "config" object
 * is a configuration error (RP_ERR_CONFIG) like any other.
 */
#ifndef RP_CORE_HOST_H
#define RP_CORE_HOST_H

#include "config.h"

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
    const char *name;  /* instance name in the config */
    const char *path;  /* resolved file, or NULL */
    const char *id;    /* descriptor id, or NULL */
    const char *version;
    enum rp__plugin_state state;
    const char *error; /* why it is off, or "" */
    uint64_t published;
    uint64_t delivered; /* events its subscriptions handed to it */
    uint64_t dropped;   /* events its subscriptions dropped (queue full) */
    uint64_t cpu_ns;    /* CPU time of its loop and worker callbacks */
    uint64_t publish_full; /* its events the bus refused at agent.bus_max_bytes */
    uint64_t suspensions;  /* times its fd watches were suspended for that */
    int suspended;         /* suspended now */
    uint32_t ncounters; /* counters it registered: rp__host_plugin_counter */
} rp__plugin_info;

typedef struct rp__host_opts {
    int load_only; /* --check-config: load and validate, never init */
} rp__host_opts;

/* cfg is borrowed and must outlive the host (until rp__host_destroy). */
int rp__host_create(const rp__host_opts *opts, const rp__config *cfg, rp__host **out);

/*
 * Loads every enabled plugin. Load failures leave the plugin off and are
 * logged; returns RP_ERR_CONFIG when a plugin's config does not match its
 * schema, with every such error of every plugin in err, one line each
 * ("<file>: plugins.X.config.Y: expected ..."). A plugin refused for its
 * config reports an empty error in rp__host_plugin_info (its lines are in
 * err).
 */
int rp__host_load(rp__host *host, char *err, size_t errlen);

/* Starts the bus, loop and workers, then inits and starts the plugins
 * (collectors last, so every subscriber is in place before events flow). */
int rp__host_start(rp__host *host);

/* Stops plugins (collectors first), drains the bus, joins threads. */
void rp__host_stop(rp__host *host);

/* NULL is a no-op. Plugins stay mapped until the process exits. */
void rp__host_destroy(rp__host *host);

/* Number of configured enabled plugins and a report on each (strings borrowed
 * from the host until it is destroyed). */
size_t rp__host_plugin_count(const rp__host *host);
int rp__host_plugin_info(const rp__host *host, size_t index, rp__plugin_info *out);

/* Counter number counter (< info.ncounters) of plugin index: its name
 * (borrowed from the host) and value. Any thread. */
int rp__host_plugin_counter(const rp__host *host, size_t index, uint32_t counter,
                            const char **name, uint64_t *value);

/* The bus's totals: events published and dropped (per subscription). */
void rp__host_bus_stats(const rp__host *host, uint64_t *published, uint64_t *dropped);

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
    uint64_t abandoned;     /* deliveries skipped by rp__host_abandon */
} rp__host_flow;
void rp__host_flow_stats(const rp__host *host, rp__host_flow *out);

/* Calls cb once per event type with events refused at the cap, with that
 * number (type borrowed for the call). Any thread. */
void rp__host_refused_by_type(const rp__host *host,
                              void (*cb)(void *arg, const char *type, uint64_t refused), void *arg);

/* A stop out of time: events still queued on the bus are released without
 * delivery from now on (rp__bus_abandon). Any thread. */
void rp__host_abandon(rp__host *host);

/* The host API table as handed to plugins (static storage). */
const rp_host_api *rp__host_api(void);

/*
 * Core subscribers (the event sink): a lossless subscription to every event.
 * on_event gets a borrowed event. Must be called before rp__host_start.
 * *sub_id (may be NULL) gets the subscription's id for rp__host_sub_backlog.
 */
int rp__host_subscribe_core(rp__host *host, const char *pattern,
                            int (*on_event)(void *arg, const struct rp_event *ev), void *arg,
                            uint64_t *sub_id);

/* Events waiting for a subscription (its queue plus its overflow list).
 * Lock-free, any thread; 0 for an unknown id. */
uint64_t rp__host_sub_backlog(rp__host *host, uint64_t sub_id);

/* A periodic timer of the core's own on the host loop (owner: the core).
 * Call after rp__host_start; stopped with the loop. */
int rp__host_timer_core(rp__host *host, uint64_t interval_ms, void (*cb)(void *arg), void *arg);

/* The event loop's counters (rp__loop_get_stats). */
struct rp__loop_stats;
void rp__host_loop_stats(const rp__host *host, struct rp__loop_stats *out);

/* A one-shot core timer: cb(arg) once on the loop thread after delay_ms.
 * Any thread. */
int rp__host_timer_once_core(rp__host *host, uint64_t delay_ms, void (*cb)(void *arg), void *arg);

/* Publishes an event of the core's own (producer 0); takes the reference. */
int rp__host_publish_core(rp__host *host, struct rp_event *ev);

#endif
