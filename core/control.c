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

int rp__control_parse(const char *line, size_t len, enum rp__control_cmd *cmd, char *err,
                      size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    json_error_t jerr;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req) {
        snprintf(err, errlen, "not a JSON object: %s at byte %d", jerr.text, jerr.position);
        return RP_ERR_PARSE;
    }
    int rc = RP_ERR_PARSE;
    const char *key;
    json_t *v;
    if (!json_is_object(req)) {
        snprintf(err, errlen, "expected a JSON object, e.g. {\"cmd\":\"status\"}");
        goto out;
    }
    json_object_foreach(req, key, v)
    {
        if (strcmp(key, "cmd") != 0) {
            /* Names are quoted in part only: they are the caller's bytes. */
            snprintf(err, errlen, "unknown member \"%.40s\"; a request has only \"cmd\"", key);
            goto out;
        }
    }
    v = json_object_get(req, "cmd");
    if (!json_is_string(v)) {
        snprintf(err, errlen,
                 "\"cmd\" missing or not a string; expected one of status, "
                 "plugins, reload");
        goto out;
    }
    static const struct {
        const char *name;
        enum rp__control_cmd cmd;
    } cmds[] = {{"status", RP__CONTROL_STATUS},
                {"plugins", RP__CONTROL_PLUGINS},
                {"reload", RP__CONTROL_RELOAD}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        if (json_string_length(v) == strlen(cmds[i].name) &&
            strcmp(json_string_value(v), cmds[i].name) == 0) {
            *cmd = cmds[i].cmd;
            rc = 0;
            goto out;
        }
    }
    snprintf(err, errlen, "unknown command \"%.40s\"; expected one of status, plugins, reload",
             json_string_value(v));
out:
    json_decref(req);
    return rc;
}

/* ---- the server -------------------------------------------------------------- */

enum conn_state { C_FREE = 0, C_READ, C_WRITE, C_RELOAD };

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

static void conn_close(struct conn *c)
{
    rp__control *ctl = c->ctl;
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

static void handle_line(struct conn *c, const char *line, size_t len)
{
    rp__control *ctl = c->ctl;
    enum rp__control_cmd cmd;
    char err[256];
    ctl->stats.requests++;
    if (rp__control_parse(line, len, &cmd, err, sizeof err) != 0) {
        ctl->stats.bad_requests++;
        reply_error(c, err);
        return;
    }
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
        if (c->timer)
            rp__loop_timer_cancel(ctl->loop, c->timer);
        c->timer = 0;
        rp__loop_timer_add(ctl->loop, NULL, RP__CONTROL_RELOAD_DEADLINE_MS, 0, conn_deadline, c,
                           &c->timer);
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
    if (c->close_after) {
        conn_close(c);
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
        if (c->timer)
            rp__loop_timer_cancel(ctl->loop, c->timer);
        c->timer = 0;
        rp__loop_timer_add(ctl->loop, NULL, ctl->deadline_ms, 0, conn_deadline, c, &c->timer);
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
