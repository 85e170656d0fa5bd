/*
 * core/agent.h - the agent's lifecycle: start, run until stopped, reload on
 * request, stop cleanly.
 */
#ifndef RP_CORE_AGENT_H
#define RP_CORE_AGENT_H

#include "config.h"
#include "runtime/host.h"

#include <stddef.h>

typedef struct rp__agent rp__agent;

typedef struct rp__agent_opts {
    const char *config_file; /* borrowed for the call; copied */
    const char *site;        /* --site, or NULL; copied */
    int foreground;
} rp__agent_opts;

/* Creates an agent around a loaded config, which it takes over (also on
 * failure). */
int rp__agent_create(const rp__agent_opts *opts, rp__config *cfg, rp__agent **out);

/*
 * Every check start-up makes on a loaded config, without creating anything
 * (rampartd --check-config): the upload settings (URL, files, permissions,
 * pin, token; the code rp__agent_prepare runs) and every enabled plugin,
 * loaded but not started (file, trust, ABI, settings against its schema).
 * A plugin that cannot be loaded is an error here, though the agent would
 * start without it (degraded). Every problem is a line in err naming the
 * file, the JSON path and what was expected. Returns 0, RP_ERR_CONFIG, or
 * another code for failures that are not the config's (RP_ERR_NOMEM).
 */
int rp__agent_check_config(const rp__config *cfg, char *err, size_t errlen);

/* Fills opts for rp__host_create from cfg (borrowed: cfg must outlive the
 * host): where plugin files are, the plugins and collectors.exclude, and
 * config errors that name the file that set the value. bus and loop are
 * left NULL: the caller hands its own. */
void rp__agent_host_opts(const rp__config *cfg, rp__host_opts *opts);

/* Prepares the data folder, the pid file and the agent id, and loads the
 * plugins (no threads yet, so the agent may still daemonize). Returns
 * RP_ERR_BUSY when another agent holds the pid file (its pid in
 * *holder_pid), RP_ERR_CONFIG for an invalid plugin config; err says what
 * failed. */
int rp__agent_prepare(rp__agent *agent, long *holder_pid, char *err, size_t errlen);

/* Opens outputs, writes the start-up line and the agent-started event. Call
 * after daemonizing. */
int rp__agent_start(rp__agent *agent);

/* Serves signals until a stop signal arrives; a reload signal re-reads the
 * config files. Returns 0. */
int rp__agent_run(rp__agent *agent);

/*
 * Re-reads the config files the agent was started with. A new valid config
 * replaces the running one; an invalid one is logged with the same one-line
 * error as at start-up and the running config stays. Returns 0 or
 * RP_ERR_CONFIG.
 */
int rp__agent_reload(rp__agent *agent);

/* Raises the alerts of a worker that was restarted (restart_cause, NULL
 * for the first worker) and of each plugin the fault ledger disabled. Call
 * after rp__agent_start. */
void rp__agent_announce(rp__agent *a, const char *restart_cause, uint32_t restarts);

/* The running config (borrowed; valid until the next reload). */
const rp__config *rp__agent_config(const rp__agent *agent);

/* Writes the agent-stopped event, flushes and closes outputs, removes the pid
 * file. Safe to call twice. */
void rp__agent_stop(rp__agent *agent);

/* NULL is a no-op. Stops first if needed. */
void rp__agent_destroy(rp__agent *agent);

#endif
