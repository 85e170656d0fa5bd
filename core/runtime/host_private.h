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
    /* Live reload (host_reload.c): plugins has room for cap records; a
     * reload appends the plugins it enables for the first time. */
    size_t cap;
};

/* Records a reload may add to those the host was created with. */
#define RP__HOST_RELOAD_NEW_MAX 64u

/* Marks p as the plugin the calling thread runs (crash reports and the
 * supervisor read it) around a direct call into the plugin; leave clears it. */
void rp__host_enter(struct rp_plugin *p);
void rp__host_leave(void);

/* ---- live reload (host_reload.c) --------------------------------------- */

/* Loader steps (loader.c) a reload uses on a candidate record. */
struct rp_plugin *rp__host_plugin_new(rp__host *host, const char *name, const char *file);
void rp__host_plugin_free(struct rp_plugin *p);
int rp__host_load_binary(rp__host *host, struct rp_plugin *p, int private_copy);
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
    if (atomic_load(&p->quiesced))
        return rp__host_gate_wait(p);
    return 1;
}
static inline void rp__host_gate_leave(struct rp_plugin *p)
{
    atomic_fetch_sub(&p->in_event, 1);
}

#endif
