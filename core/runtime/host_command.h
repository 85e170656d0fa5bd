/*
 * core/runtime/host_command.h - plugin commands (ABI 1.1 on_command and
 * command_reply): a control request routed to one plugin's on_command, run
 * on the host's command workers (never the loop thread), its replies queued
 * for the requester. Design note: docs/control.md, "Plugin commands".
 *
 * The requester (the control socket, on the loop thread) starts a command
 * with rp__host_command_start and is told on the loop thread, through
 * notify, whenever a reply or the end is there; it takes them with
 * rp__host_command_next and lets go with rp__host_command_release.
 *
 * Bounds: RP__COMMAND_MAX_PER_PLUGIN commands of one plugin at once
 * (queued or running; one more is refused RP_ERR_BUSY), RP__COMMAND_MAX_HELD
 * in the whole host (RP_ERR_BUSY as well), each reply at most
 * RP_MAX_COMMAND_REPLY bytes and all replies of one command together at most
 * RP__COMMAND_MAX_TOTAL (command_reply answers RP_ERR_FULL past either), and
 * a deadline per command after which the requester is told RP_ERR_TIMEOUT
 * and the plugin's later command_reply calls return RP_ERR_TIMEOUT.
 */
#ifndef RP_CORE_HOST_COMMAND_H
#define RP_CORE_HOST_COMMAND_H

#include "runtime/host.h"

#include <stddef.h>
#include <stdint.h>

#define RP__COMMAND_MAX_PER_PLUGIN 2u
#define RP__COMMAND_THREADS        4u
#define RP__COMMAND_MAX_HELD       16u
#define RP__COMMAND_MAX_TOTAL      (8u * 1024u * 1024u)
/* How long a plugin's stop waits for its running commands. */
#define RP__COMMAND_STOP_WAIT_MS 5000u

typedef struct rp_command rp__command;

/*
 * Starts command request (a JSON object as text, len bytes, copied) of the
 * plugin instance named name, with a deadline of timeout_ms (> 0). notify(arg)
 * runs on the loop thread each time a reply or the end is there, until the
 * command is released. Loop thread. Errors, with a sentence in err naming
 * the plugin: RP_ERR_NOTFOUND no such plugin; RP_ERR_UNSUPPORTED the plugin
 * has no on_command; RP_ERR_STOPPED it is not running; RP_ERR_BUSY too many
 * commands in flight; RP_ERR_INVAL a request that is not a JSON object or
 * longer than RP_MAX_COMMAND_REQUEST.
 */
int rp__host_command_start(rp__host *host, const char *name, const char *request, size_t len,
                           uint32_t timeout_ms, void (*notify)(void *arg), void *arg,
                           rp__command **out, char *err, size_t errlen);

/*
 * The next reply of cmd. Returns 0 with *json (compact JSON text, malloc'd,
 * the caller frees it) and *more (1: a progress reply, more follow; 0: the
 * last); RP_ERR_AGAIN when nothing is there yet; or the error that ended
 * the command (RP_ERR_TIMEOUT when its deadline passed, RP_ERR_STOPPED when
 * the plugin stopped before running it, the plugin's own error), with the
 * message in err. After the last reply or an error, every call returns the
 * same; *by_plugin (may be NULL) says whether the error is the plugin's own
 * (on_command returned it) rather than the host's. Loop thread.
 */
int rp__host_command_next(rp__command *cmd, char **json, int *more, int *by_plugin, char *err,
                          size_t errlen);

/* The requester lets go of cmd; the plugin's later command_reply calls
 * return RP_ERR_TIMEOUT. Loop thread, or with the loop stopped. NULL is a
 * no-op. */
void rp__host_command_release(rp__command *cmd);

/* Figures for tests and status. */
typedef struct rp__command_stats {
    uint64_t started, refused_busy, timeouts, replies, failed;
} rp__command_stats;
void rp__host_command_stats(const rp__host *host, rp__command_stats *out);

#endif
