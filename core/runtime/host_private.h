/*
 * core/runtime/host_private.h - what the plugin host's two files share: the
 * host and plugin records, and the thread's current plugin. Private to
 * host.c (the host API table and lifecycles) and loader.c (finding,
 * trust-checking, loading, negotiating and validating plugins); nothing else
 * includes it.
 */
#ifndef RP_CORE_HOST_PRIVATE_H
#define RP_CORE_HOST_PRIVATE_H

#include "os/os.h"
#include "os/os_thread.h"
#include "runtime/host.h"

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
    uint32_t index; /* producer id: 1-based position in the host */
    char *name;
    char *path;
    rp__os_dl *dl;
    rp_plugin_descriptor desc; /* the host's copy, zero-filled past the plugin's size */
    void *state;
    enum rp__plugin_state pstate;
    char *config_json;
    char error[ERR_LEN];

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
    /* 1.1: alerts and policy (host_alert.c). */
    /* 1.1: drops, gauges, services and the private folder (host_service.c). */
    /* 1.1: typed config getters (host_config.c). */
    /* 1.1: plugin commands (host_command.c). */
    /* 1.1: lifetimes and live reload. */
    /* Deliveries to on_event pass a gate (rp__host_events_open/close): open
     * from the return of a successful start until stop begins, shut around
     * a reconfigure. An event that meets the shut gate is dropped and
     * counted in lifecycle_dropped, as are the events still queued for the
     * plugin when its subscriptions end at stop. */
    atomic_int ev_open;
    atomic_uint ev_inflight; /* on_event calls past the gate now */
    atomic_uint_fast64_t lifecycle_dropped;
    /* Set when stop begins (or a failed init or start is cleaned up): new
     * fd watches, timers and jobs are refused with RP_ERR_STOPPED, so none
     * can outlive the clean-up. api_busy counts those calls in progress. */
    atomic_int stopping;
    atomic_uint api_busy;
};

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
};

/* Marks p as the plugin the calling thread runs (crash reports and the
 * supervisor read it) around a direct call into the plugin; leave clears it. */
void rp__host_enter(struct rp_plugin *p);
void rp__host_leave(void);

/* 1.1: lifetimes and live reload. The gate in front of p's on_event: open
 * lets events through; close shuts it and waits until no on_event of p is
 * running (RP_ERR_TIMEOUT after 10 s: a callback is stuck). Events that meet
 * the shut gate are dropped and counted. Control thread, never from p's own
 * on_event; reconfigure runs between close and open. */
void rp__host_events_open(struct rp_plugin *p);
int rp__host_events_close(struct rp_plugin *p);

#endif
