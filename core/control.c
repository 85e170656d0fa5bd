/* core/control.c - the control socket's server (core/control.h). Everything
 * but the reload hand-off runs on the loop thread. */
#include "control.h"

#include "lib/log.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the request parser ---------------------------------------------------- */

void rp__control_request_clear(rp__control_request *req)
{
    free(req->command);
    memset(req, 0, sizeof *req);
}

/* Checks the members of a "plugin" request (with_command) or of a
 * "plugin-enable" one; fills req. */
static int parse_plugin(json_t *obj, rp__control_request *req, int with_command, char *err,
                        size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (!with_command && strcmp(key, "cmd") != 0 && strcmp(key, "name") != 0) {
            snprintf(err, errlen,
                     "unknown member \"%.40s\"; a plugin-enable request has \"cmd\" and "
                     "\"name\"",
                     key);
            return RP_ERR_PARSE;
        }
        if (strcmp(key, "cmd") != 0 && strcmp(key, "name") != 0 && strcmp(key, "command") != 0) {
            snprintf(err, errlen,
                     "unknown member \"%.40s\"; a plugin request has \"cmd\", \"name\" and "
                     "\"command\"",
                     key);
            return RP_ERR_PARSE;
        }
    }
    v = json_object_get(obj, "name");
    size_t n = json_string_length(v);
    if (!json_is_string(v) || n == 0 || n > RP__CONTROL_NAME_MAX) {
        snprintf(err, errlen,
                 "\"name\" missing or not a plugin instance name (a string of 1 to %u bytes)",
                 RP__CONTROL_NAME_MAX);
        return RP_ERR_PARSE;
    }
    const char *name = json_string_value(v);
    /* The name is logged and echoed: printable ASCII only, no NUL. */
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] > 0x7e) {
            snprintf(err, errlen, "\"name\": a plugin instance name is printable ASCII");
            return RP_ERR_PARSE;
        }
    }
    memcpy(req->plugin, name, n + 1);
    if (!with_command)
        return 0;
    v = json_object_get(obj, "command");
    if (!json_is_object(v)) {
        snprintf(err, errlen,
                 "\"command\" missing or not a JSON object, e.g. {\"command\":\"list\","
                 "\"args\":[]}");
        return RP_ERR_PARSE;
    }
    req->command = json_dumps(v, JSON_COMPACT);
    if (!req->command) {
        snprintf(err, errlen, "out of memory");
        return RP_ERR_NOMEM;
    }
    req->command_len = strlen(req->command);
    /* The command's own name, for the log and the audit event, when it
     * follows rampartctl's form; cut, and only printable bytes kept. */
    const char *cn = json_string_value(json_object_get(v, "command"));
    size_t k = 0;
    for (size_t i = 0; cn && cn[i] && k + 1 < sizeof req->command_name; i++)
        req->command_name[k++] =
            (unsigned char)cn[i] >= 0x20 && (unsigned char)cn[i] < 0x7f ? cn[i] : '?';
    req->command_name[k] = '\0';
    return 0;
}

int rp__control_parse_request(const char *line, size_t len, rp__control_request *req, char *err,
                              size_t errlen)
{
    memset(req, 0, sizeof *req);
    if (errlen)
        err[0] = '\0';
    json_error_t jerr;
    json_t *obj = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj) {
        snprintf(err, errlen, "not a JSON object: %s at byte %d", jerr.text, jerr.position);
        return RP_ERR_PARSE;
    }
    int rc = RP_ERR_PARSE;
    const char *key;
    json_t *v;
    if (!json_is_object(obj)) {
        snprintf(err, errlen, "expected a JSON object, e.g. {\"cmd\":\"status\"}");
        goto out;
    }
    v = json_object_get(obj, "cmd");
    if (!json_is_string(v)) {
        snprintf(err, errlen,
                 "\"cmd\" missing or not a string; expected one of status, "
                 "plugins, reload, plugin, plugin-enable");
        goto out;
    }
    static const struct {
        const char *name;
        enum rp__control_cmd cmd;
    } cmds[] = {{"status", RP__CONTROL_STATUS},
                {"plugins", RP__CONTROL_PLUGINS},
                {"reload", RP__CONTROL_RELOAD},
                {"plugin", RP__CONTROL_PLUGIN},
                {"plugin-enable", RP__CONTROL_PLUGIN_ENABLE}};
    enum rp__control_cmd cmd = 0;
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (json_string_length(v) == strlen(cmds[i].name) &&
            strcmp(json_string_value(v), cmds[i].name) == 0)
            cmd = cmds[i].cmd;
    if (!cmd) {
        /* Names are quoted in part only: they are the caller's bytes. */
        snprintf(err, errlen,
                 "unknown command \"%.40s\"; expected one of status, plugins, reload, plugin, "
                 "plugin-enable",
                 json_string_value(v));
        goto out;
    }
    if (cmd == RP__CONTROL_PLUGIN || cmd == RP__CONTROL_PLUGIN_ENABLE) {
        rc = parse_plugin(obj, req, cmd == RP__CONTROL_PLUGIN, err, errlen);
        if (rc != 0) {
            rp__control_request_clear(req);
            goto out;
        }
    } else {
        json_object_foreach(obj, key, v)
        {
            if (strcmp(key, "cmd") != 0) {
                snprintf(err, errlen, "unknown member \"%.40s\"; a request has only \"cmd\"", key);
                goto out;
            }
        }
    }
    req->cmd = cmd;
    rc = 0;
out:
    json_decref(obj);
    return rc;
}

int rp__control_parse(const char *line, size_t len, enum rp__control_cmd *cmd, char *err,
                      size_t errlen)
{
    rp__control_request req;
    int rc = rp__control_parse_request(line, len, &req, err, errlen);
    if (rc == 0)
        *cmd = req.cmd;
    rp__control_request_clear(&req);
    return rc;
}

/* ---- the server -------------------------------------------------------------- */

/* C_COMMAND: a plugin command runs; its replies are written as they come
 * (C_WRITE), and the connection comes back here until the last one. */
enum conn_state { C_FREE = 0, C_READ, C_WRITE, C_RELOAD, C_COMMAND };

struct conn {
    rp__control *ctl;
    int fd;
    enum conn_state state;
    int close_after; /* after the reply is out */
    uint64_t watch, timer;
    rp__os_peer peer;
    char *in; /* max_request bytes */
    size_t in_len;
    char *out; /* the reply being written, from malloc */
    size_t out_len, out_off;
    uint64_t reload_seq;
    rp__command *cmd; /* the plugin command running for it, or NULL */
    char cmd_plugin[RP__CONTROL_NAME_MAX + 1];
    char cmd_name[64];
    uint32_t cmd_replies;
};

struct rp__control {
    rp__loop *loop;
    rp__os_dir *dir;
    char *name;
    rp__control_ops ops;
    uint32_t max_conns, deadline_ms;
    size_t max_request, max_reply;
    int lfd;
    uint64_t lwatch;
    struct conn *conns;
    /* Refusals are logged at most REFUSAL_LOG_BURST per minute, so a
     * hostile local user cannot fill the log through the socket. */
    int64_t refusal_window_ns;
    uint32_t refusals_logged;
    uint64_t refusals_unlogged;
    /* The reload hand-off: requests numbered on the loop thread
     * (reload_req), answered up to reload_done (under lock). */
    _Atomic uint64_t reload_req;
    rp__os_mutex *lock;
    uint64_t reload_done;
    int reload_rc;
    char reload_msg[1024];
    rp__loop_task done_task;
    rp__control_stats stats; /* loop thread; read under no lock (figures) */
};

#define REFUSAL_LOG_BURST 10u

static void command_finish(struct conn *c, int rc, const char *why);

static void conn_close(struct conn *c)
{
    rp__control *ctl = c->ctl;
    if (c->cmd)
        command_finish(c, RP_ERR_STOPPED, "the caller's connection closed before the last reply");
    if (c->watch)
        rp__loop_unwatch(ctl->loop, c->watch);
    if (c->timer)
        rp__loop_timer_cancel(ctl->loop, c->timer);
    rp__os_sock_close(&c->fd);
    free(c->in);
    free(c->out);
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->ctl = ctl;
}

static void conn_deadline(void *arg);

/* Gives the connection a deadline ms from now, in place of the one it had. */
static void rearm_deadline(struct conn *c, uint64_t ms)
{
    rp__control *ctl = c->ctl;
    if (c->timer)
        rp__loop_timer_cancel(ctl->loop, c->timer);
    c->timer = 0;
    rp__loop_timer_add(ctl->loop, NULL, ms, 0, conn_deadline, c, &c->timer);
}

/* Queues reply (consumed) as one line and switches the watch to writing. */
static void conn_reply(struct conn *c, json_t *reply)
{
    rp__control *ctl = c->ctl;
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    size_t len = text ? strlen(text) : 0;
    if (text && len + 1 > ctl->max_reply) {
        free(text);
        char msg[160];
        snprintf(msg, sizeof msg,
                 "{\"ok\":false,\"error\":\"reply larger than the cap of %zu bytes\"}",
                 ctl->max_reply);
        text = strdup(msg);
        len = text ? strlen(text) : 0;
    }
    if (!text) {
        conn_close(c);
        return;
    }
    /* strlen(text) + 1 bytes are there: the NUL becomes the newline. */
    text[len] = '\n';
    free(c->out);
    c->out = text;
    c->out_len = len + 1;
    c->out_off = 0;
    c->state = C_WRITE;
    rp__loop_watch_set_events(ctl->loop, c->watch, RP__LOOP_WRITE);
}

static void reply_error(struct conn *c, const char *msg)
{
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "error", json_string(msg));
    conn_reply(c, r);
}

static void reply_error_code(struct conn *c, const char *msg, int code)
{
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_false());
    json_object_set_new(r, "error", json_string(msg));
    json_object_set_new(r, "code", json_string(rp_errname(code)));
    conn_reply(c, r);
}

/* ---- plugin commands ---------------------------------------------------------- */

/* Logs and audits how the connection's command ended, and lets it go. */
static void command_finish(struct conn *c, int rc, const char *why)
{
    rp__control *ctl = c->ctl;
    char line[1024];
    if (rc == 0)
        snprintf(line, sizeof line,
                 "plugin %s command \"%s\" asked by uid %ld (pid %ld): answered (%u replies)",
                 c->cmd_plugin, c->cmd_name, c->peer.uid, c->peer.pid, c->cmd_replies);
    else
        snprintf(line, sizeof line, "plugin %s command \"%s\" asked by uid %ld (pid %ld): %.600s",
                 c->cmd_plugin, c->cmd_name, c->peer.uid, c->peer.pid, why);
    rp__log(rc == 0 ? RP__LOG_INFO : RP__LOG_WARN, "control: %s", line);
    if (ctl->ops.command_audit)
        ctl->ops.command_audit(ctl->ops.arg, &c->peer, c->cmd_plugin, c->cmd_name,
                               rc == 0 ? "success" : "failure", line);
    rp__host_command_release(c->cmd);
    c->cmd = NULL;
}

/* Writes the command's next reply, if one is there and none is being
 * written. */
static void command_pump(struct conn *c)
{
    rp__control *ctl = c->ctl;
    if (c->state != C_COMMAND || !c->cmd)
        return;
    char *json = NULL, err[1024];
    int more = 0, by_plugin = 0;
    int rc = rp__host_command_next(c->cmd, &json, &more, &by_plugin, err, sizeof err);
    if (rc == RP_ERR_AGAIN)
        return;
    json_t *r = json_object();
    if (rc == 0) {
        json_t *v = json_loads(json, JSON_DECODE_ANY, NULL);
        free(json);
        c->cmd_replies++;
        json_object_set_new(r, "ok", json_true());
        if (more)
            json_object_set_new(r, "more", json_true());
        json_object_set_new(r, "reply", v ? v : json_null());
    } else {
        json_object_set_new(r, "ok", json_false());
        json_object_set_new(r, "error", json_string(err[0] ? err : rp_strerror(rc)));
        json_object_set_new(r, "code", json_string(rp_errname(rc)));
        if (by_plugin)
            json_object_set_new(r, "plugin_error", json_true());
    }
    if (rc != 0 || !more) {
        command_finish(c, rc, err);
        /* Back to the ordinary bound for what the connection does next. */
        rearm_deadline(c, ctl->deadline_ms);
    }
    conn_reply(c, r);
}

static void command_notify(void *arg)
{
    command_pump(arg);
}

static void command_start(struct conn *c, const rp__control_request *req)
{
    rp__control *ctl = c->ctl;
    snprintf(c->cmd_plugin, sizeof c->cmd_plugin, "%s", req->plugin);
    snprintf(c->cmd_name, sizeof c->cmd_name, "%s", req->command_name);
    c->cmd_replies = 0;
    rp__log_info("control: plugin %s command \"%s\" asked by uid %ld (pid %ld)", req->plugin,
                 req->command_name, c->peer.uid, c->peer.pid);
    char err[512] = "";
    uint32_t timeout_ms = 0;
    int rc = ctl->ops.command ? ctl->ops.command(ctl->ops.arg, req, command_notify, c, &c->cmd,
                                                 &timeout_ms, err, sizeof err)
                              : RP_ERR_UNSUPPORTED;
    if (rc != 0) {
        char msg[700];
        snprintf(msg, sizeof msg, "%s: %s", rp_errname(rc),
                 err[0] ? err : "plugin commands are not available in this agent");
        char line[1024];
        snprintf(line, sizeof line,
                 "plugin %s command \"%s\" asked by uid %ld (pid %ld): refused: %s", req->plugin,
                 req->command_name, c->peer.uid, c->peer.pid, msg);
        rp__log_warn("control: %s", line);
        if (ctl->ops.command_audit)
            ctl->ops.command_audit(ctl->ops.arg, &c->peer, req->plugin, req->command_name,
                                   "failure", line);
        c->cmd = NULL;
        reply_error_code(c, msg, rc);
        return;
    }
    c->state = C_COMMAND;
    /* Nothing to read or write until a reply comes: hang-ups and errors
     * only. The connection lives past the command's deadline, so the
     * caller is told of it. */
    rp__loop_watch_set_events(ctl->loop, c->watch, 0);
    rearm_deadline(c, (uint64_t)timeout_ms + 5000);
}

static void handle_line(struct conn *c, const char *line, size_t len)
{
    rp__control *ctl = c->ctl;
    rp__control_request req;
    char err[256];
    ctl->stats.requests++;
    if (rp__control_parse_request(line, len, &req, err, sizeof err) != 0) {
        ctl->stats.bad_requests++;
        reply_error(c, err);
        return;
    }
    enum rp__control_cmd cmd = req.cmd;
    if (cmd == RP__CONTROL_PLUGIN) {
        command_start(c, &req);
        rp__control_request_clear(&req);
        return;
    }
    if (cmd == RP__CONTROL_PLUGIN_ENABLE) {
        rp__log_info("control: plugin %s enable asked by uid %ld (pid %ld)", req.plugin,
                     c->peer.uid, c->peer.pid);
        json_t *r = ctl->ops.enable ? ctl->ops.enable(ctl->ops.arg, req.plugin, &c->peer) : NULL;
        rp__control_request_clear(&req);
        if (!r) {
            reply_error(c, "enabling plugins is not available in this agent");
            return;
        }
        conn_reply(c, r);
        return;
    }
    rp__control_request_clear(&req);
    if (cmd == RP__CONTROL_RELOAD) {
        rp__log_info("control: reload asked by uid %ld (pid %ld)", c->peer.uid, c->peer.pid);
        c->reload_seq = atomic_fetch_add(&ctl->reload_req, 1) + 1;
        int rc = rp__os_send_reload(rp__os_getpid());
        if (rc != 0) {
            reply_error(c, "cannot signal the agent's reload");
            return;
        }
        c->state = C_RELOAD;
        /* Nothing to read or write until the reload is done: hang-ups and
         * errors only. */
        rp__loop_watch_set_events(ctl->loop, c->watch, 0);
        rearm_deadline(c, RP__CONTROL_RELOAD_DEADLINE_MS);
        return;
    }
    json_t *body =
        cmd == RP__CONTROL_STATUS ? ctl->ops.status(ctl->ops.arg) : ctl->ops.plugins(ctl->ops.arg);
    if (!body) {
        reply_error(c, "the agent is stopping");
        c->close_after = 1;
        return;
    }
    json_t *r = json_object();
    json_object_set_new(r, "ok", json_true());
    json_object_set_new(r, cmd == RP__CONTROL_STATUS ? "status" : "plugins", body);
    conn_reply(c, r);
}

/* Serves the next complete line of c->in, if any. Returns 1 if it did. */
static int take_line(struct conn *c)
{
    char *nl = memchr(c->in, '\n', c->in_len);
    if (!nl)
        return 0;
    size_t len = (size_t)(nl - c->in);
    handle_line(c, c->in, len);
    if (c->state == C_FREE)
        return 1;
    memmove(c->in, nl + 1, c->in_len - len - 1);
    c->in_len -= len + 1;
    return 1;
}

static void conn_read(struct conn *c)
{
    rp__control *ctl = c->ctl;
    /* Bounded per callback, so one fast client cannot hold the loop. */
    for (int round = 0; round < 16 && c->state == C_READ; round++) {
        if (take_line(c))
            return;
        if (c->in_len >= ctl->max_request) {
            ctl->stats.oversized++;
            char msg[128];
            snprintf(msg, sizeof msg, "request longer than the cap of %zu bytes", ctl->max_request);
            c->close_after = 1;
            reply_error(c, msg);
            return;
        }
        size_t got = 0;
        int rc = rp__os_sock_recv(c->fd, c->in + c->in_len, ctl->max_request - c->in_len, &got);
        if (rc == RP_ERR_AGAIN)
            return;
        if (rc != 0) {
            conn_close(c);
            return;
        }
        if (got == 0) {
            /* The peer is done writing: a last request without its
             * newline is still served. */
            if (c->in_len == 0) {
                conn_close(c);
                return;
            }
            c->close_after = 1;
            handle_line(c, c->in, c->in_len);
            if (c->state != C_FREE)
                c->in_len = 0;
            return;
        }
        c->in_len += got;
    }
}

static void conn_write(struct conn *c)
{
    rp__control *ctl = c->ctl;
    while (c->out_off < c->out_len) {
        size_t sent = 0;
        int rc = rp__os_sock_send(c->fd, c->out + c->out_off, c->out_len - c->out_off, &sent);
        if (rc == RP_ERR_AGAIN)
            return;
        if (rc != 0 || sent == 0) {
            conn_close(c);
            return;
        }
        c->out_off += sent;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_off = 0;
    if (c->close_after && !c->cmd) {
        conn_close(c);
        return;
    }
    if (c->cmd) {
        /* The command goes on: its next reply, when there. */
        c->state = C_COMMAND;
        rp__loop_watch_set_events(ctl->loop, c->watch, 0);
        command_pump(c);
        return;
    }
    c->state = C_READ;
    rp__loop_watch_set_events(ctl->loop, c->watch, RP__LOOP_READ);
    /* A request that came with the last one is served now. */
    take_line(c);
}

static void conn_io(void *arg, int fd, uint32_t revents)
{
    (void)fd;
    struct conn *c = arg;
    if (c->state == C_WRITE && (revents & RP__LOOP_WRITE))
        conn_write(c);
    else if (c->state == C_READ && (revents & (RP__LOOP_READ | RP__LOOP_HUP)))
        conn_read(c);
    else if (revents & (RP__LOOP_ERROR | RP__LOOP_HUP))
        conn_close(c);
}

static void conn_deadline(void *arg)
{
    struct conn *c = arg;
    c->timer = 0; /* a one-shot is gone once it fired */
    c->ctl->stats.timeouts++;
    rp__log_debug("control: closing the connection of uid %ld (pid %ld): deadline passed",
                  c->peer.uid, c->peer.pid);
    conn_close(c);
}

/* A best-effort line to a connection about to be closed: never waits. */
static void say_and_close(int *fd, const char *line)
{
    size_t sent;
    rp__os_sock_send(*fd, line, strlen(line), &sent);
    rp__os_sock_close(fd);
}

static void refuse_peer(rp__control *ctl, int *fd, const rp__os_peer *peer)
{
    ctl->stats.refused_peer++;
    int64_t now = rp__os_monotonic_ns();
    if (now - ctl->refusal_window_ns > INT64_C(60000000000)) {
        if (ctl->refusals_unlogged)
            rp__log_warn("control: %llu more connections refused in the last minute (not "
                         "logged one by one)",
                         (unsigned long long)ctl->refusals_unlogged);
        ctl->refusal_window_ns = now;
        ctl->refusals_logged = 0;
        ctl->refusals_unlogged = 0;
    }
    char msg[256];
    snprintf(msg, sizeof msg,
             "control: refused a connection from uid %ld (pid %ld): only root and uid %ld may "
             "use the control socket",
             peer->uid, peer->pid, rp__os_euid());
    if (ctl->refusals_logged < REFUSAL_LOG_BURST) {
        ctl->refusals_logged++;
        rp__log_warn("%s", msg);
        ctl->ops.audit(ctl->ops.arg, "control-refused", peer, "failure", msg + 9);
    } else {
        ctl->refusals_unlogged++;
    }
    say_and_close(fd, "{\"ok\":false,\"error\":\"permission denied: only root and the agent's "
                      "user may use the control socket\"}\n");
}

static void on_accept(void *arg, int lfd, uint32_t revents)
{
    (void)revents;
    rp__control *ctl = arg;
    for (int n = 0; n < 16; n++) {
        int fd = -1;
        rp__os_peer peer;
        int rc = rp__os_ctl_accept(lfd, &fd, &peer);
        if (rc == RP_ERR_AGAIN)
            return;
        if (rc != 0) {
            rp__log_warn("control: accept: %s", rp_strerror(rc));
            return;
        }
        if (peer.uid != 0 && peer.uid != rp__os_euid()) {
            refuse_peer(ctl, &fd, &peer);
            continue;
        }
        struct conn *c = NULL;
        for (uint32_t i = 0; i < ctl->max_conns && !c; i++)
            if (ctl->conns[i].state == C_FREE)
                c = &ctl->conns[i];
        if (!c) {
            /* Accepted and closed at once: left in the backlog, the
             * connection would keep the socket ready and the loop busy. */
            ctl->stats.refused_busy++;
            say_and_close(&fd, "{\"ok\":false,\"error\":\"busy: too many control connections\"}\n");
            continue;
        }
        c->fd = fd;
        c->peer = peer;
        c->in = malloc(ctl->max_request);
        if (!c->in ||
            rp__loop_watch_fd(ctl->loop, NULL, fd, RP__LOOP_READ, conn_io, c, &c->watch) != 0 ||
            rp__loop_timer_add(ctl->loop, NULL, ctl->deadline_ms, 0, conn_deadline, c, &c->timer) !=
                0) {
            conn_close(c);
            continue;
        }
        c->state = C_READ;
        ctl->stats.accepted++;
    }
}

/* On the loop thread: answers the reload requests that the reload just done
 * covered. */
static void reload_answer(void *arg, int status)
{
    rp__control *ctl = arg;
    if (status != 0)
        return;
    rp__os_mutex_lock(ctl->lock);
    uint64_t done = ctl->reload_done;
    int rc = ctl->reload_rc;
    char msg[sizeof ctl->reload_msg];
    memcpy(msg, ctl->reload_msg, sizeof msg);
    rp__os_mutex_unlock(ctl->lock);
    for (uint32_t i = 0; i < ctl->max_conns; i++) {
        struct conn *c = &ctl->conns[i];
        if (c->state != C_RELOAD || c->reload_seq > done)
            continue;
        char line[1200];
        snprintf(line, sizeof line, "reload asked by uid %ld (pid %ld): %s%s%s", c->peer.uid,
                 c->peer.pid, rc == 0 ? "configuration reloaded" : "rejected",
                 rc != 0 && msg[0] ? ": " : "", rc != 0 ? msg : "");
        rp__log(rc == 0 ? RP__LOG_INFO : RP__LOG_WARN, "control: %s", line);
        ctl->ops.audit(ctl->ops.arg, "control-reload", &c->peer, rc == 0 ? "success" : "failure",
                       line);
        json_t *r = json_object();
        json_object_set_new(r, "ok", json_boolean(rc == 0));
        if (rc == 0)
            json_object_set_new(r, "result", json_string("configuration reloaded"));
        else
            json_object_set_new(r, "error",
                                json_string(msg[0] ? msg : "reload rejected; see the log"));
        rearm_deadline(c, ctl->deadline_ms);
        conn_reply(c, r);
    }
}

uint64_t rp__control_reload_begin(rp__control *ctl)
{
    return ctl ? atomic_load(&ctl->reload_req) : 0;
}

void rp__control_reload_done(rp__control *ctl, uint64_t seq, int rc, const char *message)
{
    if (!ctl)
        return;
    rp__os_mutex_lock(ctl->lock);
    if (seq > ctl->reload_done)
        ctl->reload_done = seq;
    ctl->reload_rc = rc;
    snprintf(ctl->reload_msg, sizeof ctl->reload_msg, "%s", message ? message : "");
    rp__os_mutex_unlock(ctl->lock);
    rp__loop_post_task(ctl->loop, &ctl->done_task);
}

int rp__control_create(const rp__control_opts *opts, rp__control **out, char *reason, size_t len)
{
    rp__control *ctl = calloc(1, sizeof *ctl);
    if (!ctl)
        return RP_ERR_NOMEM;
    ctl->loop = opts->loop;
    ctl->dir = opts->dir;
    ctl->ops = opts->ops;
    ctl->lfd = -1;
    ctl->max_conns = opts->max_conns ? opts->max_conns : RP__CONTROL_MAX_CONNS;
    ctl->deadline_ms = opts->deadline_ms ? opts->deadline_ms : RP__CONTROL_DEADLINE_MS;
    ctl->max_request = opts->max_request ? opts->max_request : RP__CONTROL_MAX_REQUEST;
    ctl->max_reply = opts->max_reply ? opts->max_reply : RP__CONTROL_MAX_REPLY;
    ctl->name = strdup(opts->name ? opts->name : RP__CONTROL_SOCKET);
    ctl->conns = calloc(ctl->max_conns, sizeof *ctl->conns);
    ctl->done_task.fn = reload_answer;
    ctl->done_task.arg = ctl;
    int rc = !ctl->name || !ctl->conns ? RP_ERR_NOMEM : rp__os_mutex_create(&ctl->lock);
    if (rc != 0) {
        snprintf(reason, len, "%s", rp_strerror(rc));
        rp__control_destroy(ctl);
        return rc;
    }
    for (uint32_t i = 0; i < ctl->max_conns; i++) {
        ctl->conns[i].ctl = ctl;
        ctl->conns[i].fd = -1;
    }
    rc = rp__os_ctl_listen(ctl->dir, ctl->name, 0600, 16, &ctl->lfd, reason, len);
    if (rc == 0) {
        rc = rp__loop_watch_fd(ctl->loop, NULL, ctl->lfd, RP__LOOP_READ, on_accept, ctl,
                               &ctl->lwatch);
        if (rc != 0)
            snprintf(reason, len, "cannot watch the control socket: %s", rp_strerror(rc));
    }
    if (rc != 0) {
        rp__control_destroy(ctl);
        return rc;
    }
    *out = ctl;
    return 0;
}

void rp__control_destroy(rp__control *ctl)
{
    if (!ctl)
        return;
    if (ctl->lwatch)
        rp__loop_unwatch(ctl->loop, ctl->lwatch);
    if (ctl->lfd >= 0) {
        rp__os_sock_close(&ctl->lfd);
        rp__os_ctl_unlink(ctl->dir, ctl->name);
    }
    for (uint32_t i = 0; ctl->conns && i < ctl->max_conns; i++)
        if (ctl->conns[i].state != C_FREE)
            conn_close(&ctl->conns[i]);
    if (ctl->lock)
        rp__loop_task_cancel(ctl->loop, &ctl->done_task);
    rp__os_mutex_destroy(ctl->lock);
    free(ctl->conns);
    free(ctl->name);
    free(ctl);
}

void rp__control_get_stats(rp__control *ctl, rp__control_stats *out)
{
    *out = ctl->stats;
}
