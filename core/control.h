/*
 * core/control.h - the agent's control socket (<data_dir>/control.sock),
 * through which rampartctl asks for status, the plugins' figures and a
 * reload. Design note: docs/control.md.
 *
 * Served on the agent's event loop and never blocking it: the socket and
 * every connection are non-blocking fd watches; a request is one JSON object
 * on one line of at most max_request bytes, a reply one JSON object on one
 * line of at most max_reply bytes; at most max_conns connections at once
 * (one more is told "busy" and closed); each connection is closed after
 * deadline_ms, done or not. Only root and the agent's own user may use it:
 * the peer's uid is read from the kernel (SO_PEERCRED) on each connection,
 * whatever the socket file's mode; anyone else is refused, logged and
 * published as an audit event.
 *
 * Protocol (docs/control.md): {"cmd":"status"}, {"cmd":"plugins"},
 * {"cmd":"reload"}, {"cmd":"plugin","name":N,"command":{...}}; replies
 * {"ok":true,...} or {"ok":false,"error":"..."}; a plugin command may be
 * answered by several lines, every one but the last with "more":true.
 */
#ifndef RP_CORE_CONTROL_H
#define RP_CORE_CONTROL_H

#include "os/os_fs.h"
#include "os/os_sock.h"
#include "runtime/host_command.h"
#include "runtime/loop.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define RP__CONTROL_SOCKET      "control.sock"
#define RP__CONTROL_MAX_REQUEST (64u * 1024u)
#define RP__CONTROL_MAX_REPLY   (8u * 1024u * 1024u)
#define RP__CONTROL_MAX_CONNS   8u
#define RP__CONTROL_DEADLINE_MS 5000u
/* How long a reload request may wait for the reload to finish. */
#define RP__CONTROL_RELOAD_DEADLINE_MS 60000u

enum rp__control_cmd {
    RP__CONTROL_STATUS = 1,
    RP__CONTROL_PLUGINS,
    RP__CONTROL_RELOAD,
    RP__CONTROL_PLUGIN,
    RP__CONTROL_PLUGIN_ENABLE /* {"cmd":"plugin-enable","name":N}: rampartctl plugins enable */
};

/* The longest plugin instance name a request may name. */
#define RP__CONTROL_NAME_MAX 128u

typedef struct rp__control_request {
    enum rp__control_cmd cmd;
    /* RP__CONTROL_PLUGIN: the instance name (printable ASCII), the command
     * object as compact JSON text (malloc'd) and its "command" member when
     * that is a string (cut, for the log and the audit event; else ""). */
    char plugin[RP__CONTROL_NAME_MAX + 1];
    char command_name[64];
    char *command;
    size_t command_len;
} rp__control_request;

/*
 * Parses one request line (without its newline): a JSON object whose "cmd"
 * is one of "status", "plugins", "reload" (and no other member), or
 * "plugin" with "name" (a string of 1 to RP__CONTROL_NAME_MAX printable
 * ASCII bytes) and "command" (a JSON object) and no other member. Returns 0
 * and the request (clear it with rp__control_request_clear), or
 * RP_ERR_PARSE with what is wrong in err (always terminated; the input is
 * quoted at most in part), req cleared. Pure: any thread.
 */
int rp__control_parse_request(const char *line, size_t len, rp__control_request *req, char *err,
                              size_t errlen);
void rp__control_request_clear(rp__control_request *req);
/* The same, for the command alone. */
int rp__control_parse(const char *line, size_t len, enum rp__control_cmd *cmd, char *err,
                      size_t errlen);

/* What the agent answers with. Called on the loop thread. */
typedef struct rp__control_ops {
    /* The body of status.json, or NULL when the agent is stopping. */
    json_t *(*status)(void *arg);
    /* An array of one object per plugin, or NULL when stopping. */
    json_t *(*plugins)(void *arg);
    /* Publishes an audit event for what peer did (action "control-reload",
     * "control-refused") and how it ended. */
    void (*audit)(void *arg, const char *action, const rp__os_peer *peer, const char *outcome,
                  const char *message);
    void *arg;
    /* Plugin commands (may be NULL: refused as not supported). Starts
     * req's command (host_command.h: rp__host_command_start, notify and
     * narg passed on) and says its deadline in *timeout_ms. */
    int (*command)(void *arg, const rp__control_request *req, void (*notify)(void *narg),
                   void *narg, rp__command **out, uint32_t *timeout_ms, char *err, size_t errlen);
    /* Publishes the audit event of a plugin command (action
     * "control-plugin-command") and how it ended. */
    void (*command_audit)(void *arg, const rp__os_peer *peer, const char *plugin,
                          const char *command, const char *outcome, const char *message);
    /* Enables a plugin the fault ledger disabled (may be NULL: refused as
     * not supported). Returns the whole reply ({"ok":...}). */
    json_t *(*enable)(void *arg, const char *plugin, const rp__os_peer *peer);
} rp__control_ops;

typedef struct rp__control_opts {
    rp__loop *loop;   /* running or not; borrowed */
    rp__os_dir *dir;  /* where the socket is made; borrowed, outlives the server */
    const char *name; /* NULL: RP__CONTROL_SOCKET */
    rp__control_ops ops;
    /* Zero: the defaults above. */
    uint32_t max_conns;
    uint32_t deadline_ms;
    size_t max_request;
    size_t max_reply;
} rp__control_opts;

typedef struct rp__control rp__control;

/* Creates the socket (mode 0600) and starts serving it on the loop. reason
 * says what failed. */
int rp__control_create(const rp__control_opts *opts, rp__control **out, char *reason, size_t len);

/* Closes every connection and removes the socket. Only while the loop is
 * stopped (or from the loop thread). NULL is a no-op. */
void rp__control_destroy(rp__control *ctl);

/*
 * A reload asked through the socket is carried out by the thread that
 * serves the agent's signals (the loop thread must not block on reading
 * config files): the server sends the agent its own reload signal, and that
 * thread calls rp__control_reload_begin before it reloads and
 * rp__control_reload_done after, with the result (message: why it was
 * refused, or NULL). Every request made before begin is answered by done.
 * Any thread; ctl may be NULL (no-op, begin returns 0).
 */
uint64_t rp__control_reload_begin(rp__control *ctl);
void rp__control_reload_done(rp__control *ctl, uint64_t seq, int rc, const char *message);

/* Counters for tests and health. */
typedef struct rp__control_stats {
    uint64_t accepted, refused_peer, refused_busy, requests, bad_requests, oversized, timeouts;
} rp__control_stats;
void rp__control_get_stats(rp__control *ctl, rp__control_stats *out);

#endif
