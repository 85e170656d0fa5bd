/*
 * core/runtime/host_command.c - plugin commands (host_command.h): on_command
 * runs on the host's own small worker pool, so a long command never holds
 * the loop thread nor the pool that serves the plugins' work_submit jobs;
 * its replies are queued in the command's record and the requester is told
 * on the loop thread through an intrusive loop task, which cannot be lost to
 * a full post queue.
 *
 * Locks: a command's lock guards its replies and end; a plugin's command
 * lock guards whether it takes commands and how many it holds and runs.
 * Never both at once.
 */
#include "runtime/host_command.h"
#include "runtime/host_private.h"

#include "lib/log.h"
#include "os/os.h"
#include "os/os_thread.h"
#include "runtime/loop.h"
#include "runtime/workers.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rp__plugin_cmds {
    rp__os_mutex *lock;
    rp__os_cond *cond;
    int open;         /* running: commands are taken */
    uint32_t gen;     /* bumped at each open: a job of an earlier run never runs */
    uint32_t held;    /* queued or running, until their done */
    uint32_t running; /* inside on_command */
};

struct rp__host_cmds {
    rp__workers *pool;
    atomic_uint held;
    atomic_uint_fast64_t started, refused_busy, timeouts, replies, failed;
};

struct reply {
    struct reply *next;
    char *json;
    int more;
};

struct rp_command {
    rp__host *host;
    struct rp_plugin *plugin;
    uint32_t gen;
    char *request;
    size_t len;
    atomic_int refs; /* the requester's and the job's */
    uint32_t timeout_ms;

    rp__os_mutex *lock; /* guards what follows */
    struct reply *head, *tail;
    uint64_t total; /* bytes of every reply so far */
    int last;       /* the plugin gave its last reply */
    int ended;      /* ended with end_rc (not 0) */
    int end_rc;
    int by_plugin; /* end_rc is on_command's own */
    char end_msg[ERR_LEN];
    int in_call;  /* on_command is running */
    int detached; /* the requester let go */
    int timed_out;

    /* Loop thread only. */
    void (*notify)(void *arg);
    void *arg;
    rp__loop_task task;
    uint64_t timer;
};

static void cmd_unref(struct rp_command *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    for (struct reply *r = c->head, *next; r; r = next) {
        next = r->next;
        free(r->json);
        free(r);
    }
    rp__os_mutex_destroy(c->lock);
    free(c->request);
    free(c);
}

/* Under c->lock: tells the requester, unless it let go. */
static void cmd_wake_locked(struct rp_command *c)
{
    if (!c->detached)
        rp__loop_post_task(c->host->loop, &c->task);
}

static void cmd_task(void *arg, int status)
{
    struct rp_command *c = arg;
    /* The requester lets go on this thread and cancels the task first, so a
     * task that runs finds it still there. */
    if (status == 0 && c->notify)
        c->notify(c->arg);
}

/* Ends c with rc, unless it ended or gave its last reply already. */
/* Ends the command with rc unless it has ended. by_plugin marks rc as the
 * plugin's own answer; it is set before the waiter wakes, so the caller is
 * told the same exit status every time. */
static void cmd_end(struct rp_command *c, int rc, const char *msg, int by_plugin)
{
    rp__os_mutex_lock(c->lock);
    if (!c->last && !c->ended) {
        c->ended = 1;
        c->end_rc = rc;
        c->by_plugin = by_plugin;
        snprintf(c->end_msg, sizeof c->end_msg, "%s", msg);
        cmd_wake_locked(c);
    }
    rp__os_mutex_unlock(c->lock);
}

static void cmd_deadline(void *arg)
{
    struct rp_command *c = arg;
    /* c->timer stays: cancelling a one-shot that fired is harmless. */
    rp__os_mutex_lock(c->lock);
    int fire = !c->last && !c->ended;
    int tell = fire && !c->detached;
    if (fire) {
        c->ended = 1;
        c->timed_out = 1;
        c->end_rc = RP_ERR_TIMEOUT;
        snprintf(c->end_msg, sizeof c->end_msg,
                 "plugin %s did not finish the command within %u ms "
                 "(agent.plugin_command_timeout_ms)",
                 c->plugin->name, c->timeout_ms);
    }
    rp__os_mutex_unlock(c->lock);
    if (!fire)
        return;
    atomic_fetch_add(&c->host->cmds->timeouts, 1);
    rp__log_warn("plugin %s: a command passed its deadline of %u ms; the caller was told",
                 c->plugin->name, c->timeout_ms);
    if (tell && c->notify)
        c->notify(c->arg);
}

/* ---- the job, on a command worker --------------------------------------------- */

static void cmd_work(void *arg)
{
    struct rp_command *c = arg;
    struct rp_plugin *p = c->plugin;
    struct rp__plugin_cmds *pc = p->cmds;
    rp__os_mutex_lock(pc->lock);
    int go = pc->open && pc->gen == c->gen;
    if (go)
        pc->running++;
    rp__os_mutex_unlock(pc->lock);
    if (!go) {
        char msg[256];
        snprintf(msg, sizeof msg, "plugin %s stopped before the command ran", p->name);
        cmd_end(c, RP_ERR_STOPPED, msg, 0);
        return;
    }
    rp__os_mutex_lock(c->lock);
    c->in_call = 1;
    rp__os_mutex_unlock(c->lock);
    /* The message a failure is answered with is the one this call leaves on
     * this thread, not another command's (set_error's per-plugin message is
     * shared by every thread of the plugin). */
    char why[ERR_LEN];
    rp__host_capture_errors(why, sizeof why);
    uint64_t cr = rp__host_enter(p, RP__CR_COMMAND);
    int rc = p->desc.on_command(p, p->state, c, c->request, (uint64_t)c->len);
    rp__host_leave(cr);
    rp__host_capture_errors(NULL, 0);
    rp__os_mutex_lock(c->lock);
    c->in_call = 0;
    int answered = c->last || c->ended;
    rp__os_mutex_unlock(c->lock);
    if (!answered) {
        char msg[ERR_LEN + 128];
        if (rc == 0)
            snprintf(msg, sizeof msg, "RP_ERR_INTERNAL: plugin %s returned without a last reply",
                     p->name);
        else
            snprintf(msg, sizeof msg, "%s%s%s", rp_errname(rc), why[0] ? ": " : "",
                     why[0] ? why : rp_strerror(rc));
        /* RP_ERR_STOPPED passes the host's own stop on: not the plugin's. */
        cmd_end(c, rc ? rc : RP_ERR_INTERNAL, msg, rc != RP_ERR_STOPPED);
        atomic_fetch_add(&c->host->cmds->failed, 1);
    }
    rp__os_mutex_lock(pc->lock);
    pc->running--;
    rp__os_cond_broadcast(pc->cond);
    rp__os_mutex_unlock(pc->lock);
}

static void cmd_done(void *arg, int status)
{
    struct rp_command *c = arg;
    struct rp__plugin_cmds *pc = c->plugin->cmds;
    if (status != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "plugin %s stopped before the command ran", c->plugin->name);
        cmd_end(c, RP_ERR_STOPPED, msg, 0);
    }
    rp__os_mutex_lock(pc->lock);
    pc->held--;
    rp__os_cond_broadcast(pc->cond);
    rp__os_mutex_unlock(pc->lock);
    atomic_fetch_sub(&c->host->cmds->held, 1);
    cmd_unref(c);
}

/* ---- host API: command_reply --------------------------------------------------- */

int rp__host_api_command_reply(rp_command *cmd, const char *json, uint64_t len, uint32_t flags)
{
    if (!cmd || !json || (flags & ~RP_REPLY_MORE))
        return RP_ERR_INVAL;
    if (len > RP_MAX_COMMAND_REPLY)
        return RP_ERR_FULL;
    struct rp__plugin_cmds *pc = cmd->plugin->cmds;
    rp__os_mutex_lock(pc->lock);
    int open = pc->open;
    rp__os_mutex_unlock(pc->lock);
    json_error_t jerr;
    json_t *v = json_loadb(json, (size_t)len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!v) {
        rp__log_debug("plugin %s: command_reply: not JSON: %s", cmd->plugin->name, jerr.text);
        return RP_ERR_INVAL;
    }
    char *text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    struct reply *r = text ? calloc(1, sizeof *r) : NULL;
    if (!r) {
        free(text);
        return RP_ERR_NOMEM;
    }
    r->json = text;
    r->more = (flags & RP_REPLY_MORE) != 0;
    size_t n = strlen(text);
    int rc = 0;
    rp__os_mutex_lock(cmd->lock);
    if (!cmd->in_call || cmd->last)
        rc = RP_ERR_INVAL; /* after the last reply, or outside on_command */
    else if (cmd->timed_out || cmd->detached)
        rc = RP_ERR_TIMEOUT;
    else if (!open)
        rc = RP_ERR_STOPPED; /* the plugin is stopping: end the command */
    else if (cmd->total + n > RP__COMMAND_MAX_TOTAL)
        rc = RP_ERR_FULL;
    if (rc == 0) {
        cmd->total += n;
        if (cmd->tail)
            cmd->tail->next = r;
        else
            cmd->head = r;
        cmd->tail = r;
        if (!r->more)
            cmd->last = 1;
        cmd_wake_locked(cmd);
    }
    rp__os_mutex_unlock(cmd->lock);
    if (rc != 0) {
        free(text);
        free(r);
        return rc;
    }
    atomic_fetch_add(&cmd->host->cmds->replies, 1);
    return 0;
}

/* ---- the requester's side ------------------------------------------------------ */

static struct rp_plugin *find_plugin(rp__host *host, const char *name)
{
    for (size_t i = 0; i < host->nplugins; i++)
        if (strcmp(host->plugins[i]->name, name) == 0)
            return host->plugins[i];
    return NULL;
}

int rp__host_command_start(rp__host *host, const char *name, const char *request, size_t len,
                           uint32_t timeout_ms, void (*notify)(void *arg), void *arg,
                           rp__command **out, char *err, size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (!host || !name || !request || !out || timeout_ms == 0)
        return RP_ERR_INVAL;
    struct rp_plugin *p = find_plugin(host, name);
    if (!p) {
        snprintf(err, errlen, "no plugin instance named \"%.64s\" (see rampartctl plugins)", name);
        return RP_ERR_NOTFOUND;
    }
    /* The descriptor is the host's copy, written once at load; a plugin
     * refused at load has none (and is "not running" below). */
    if (p->desc.id && !p->desc.on_command) {
        snprintf(err, errlen, "plugin %s takes no commands (its descriptor has no on_command)",
                 p->name);
        return RP_ERR_UNSUPPORTED;
    }
    if (len > RP_MAX_COMMAND_REQUEST) {
        snprintf(err, errlen, "the command is longer than the cap of %u bytes",
                 RP_MAX_COMMAND_REQUEST);
        return RP_ERR_INVAL;
    }
    json_t *check = json_loadb(request, len, JSON_REJECT_DUPLICATES, NULL);
    int is_obj = json_is_object(check);
    json_decref(check);
    if (!is_obj) {
        snprintf(err, errlen, "the command must be a JSON object");
        return RP_ERR_INVAL;
    }
    struct rp__plugin_cmds *pc = p->cmds;
    struct rp__host_cmds *hc = host->cmds;
    if (!pc || !hc) {
        snprintf(err, errlen, "plugin %s is not running", p->name);
        return RP_ERR_STOPPED;
    }
    struct rp_command *c = calloc(1, sizeof *c);
    if (!c || !(c->request = malloc(len + 1)) || rp__os_mutex_create(&c->lock) != 0) {
        if (c)
            free(c->request);
        free(c);
        return RP_ERR_NOMEM;
    }
    memcpy(c->request, request, len);
    c->request[len] = '\0';
    c->len = len;
    c->host = host;
    c->plugin = p;
    c->timeout_ms = timeout_ms;
    c->notify = notify;
    c->arg = arg;
    c->task.fn = cmd_task;
    c->task.arg = c;
    atomic_init(&c->refs, 2);

    int rc = 0;
    rp__os_mutex_lock(pc->lock);
    /* The pool is read only while the plugin is open: its close waits for
     * every command it held, so the pool outlives this submit. */
    if (!pc->open || !hc->pool) {
        rc = RP_ERR_STOPPED;
        snprintf(err, errlen, "plugin %s is not running", p->name);
    } else if (pc->held >= RP__COMMAND_MAX_PER_PLUGIN) {
        rc = RP_ERR_BUSY;
        snprintf(err, errlen, "plugin %s runs %u commands already (the most at once); try again",
                 p->name, RP__COMMAND_MAX_PER_PLUGIN);
    } else if (atomic_fetch_add(&hc->held, 1) >= RP__COMMAND_MAX_HELD) {
        atomic_fetch_sub(&hc->held, 1);
        rc = RP_ERR_BUSY;
        snprintf(err, errlen, "the agent runs %u plugin commands already; try again",
                 RP__COMMAND_MAX_HELD);
    } else {
        pc->held++;
        c->gen = pc->gen;
    }
    rp__os_mutex_unlock(pc->lock);
    if (rc == 0) {
        rc = rp__workers_submit(hc->pool, p, cmd_work, cmd_done, c);
        if (rc != 0) {
            rp__os_mutex_lock(pc->lock);
            pc->held--;
            rp__os_cond_broadcast(pc->cond);
            rp__os_mutex_unlock(pc->lock);
            atomic_fetch_sub(&hc->held, 1);
            snprintf(err, errlen, "the agent's command workers are busy (%s); try again",
                     rp_strerror(rc));
            rc = RP_ERR_BUSY;
        }
    }
    if (rc == 0)
        rc = rp__loop_timer_add(host->loop, NULL, timeout_ms, 0, cmd_deadline, c, &c->timer);
    if (rc != 0 && rc != RP_ERR_BUSY && rc != RP_ERR_STOPPED) {
        /* The job is queued: it ends it and drops its reference. */
        snprintf(err, errlen, "cannot arm the command's deadline: %s", rp_strerror(rc));
        rp__host_command_release(c);
        return rc;
    }
    if (rc != 0) {
        if (rc == RP_ERR_BUSY)
            atomic_fetch_add(&hc->refused_busy, 1);
        free(c->request);
        rp__os_mutex_destroy(c->lock);
        free(c);
        return rc;
    }
    atomic_fetch_add(&hc->started, 1);
    *out = c;
    return 0;
}

int rp__host_command_next(rp__command *c, char **json, int *more, int *by_plugin, char *err,
                          size_t errlen)
{
    if (errlen)
        err[0] = '\0';
    if (by_plugin)
        *by_plugin = 0;
    int rc = RP_ERR_AGAIN;
    rp__os_mutex_lock(c->lock);
    struct reply *r = c->head;
    if (r) {
        c->head = r->next;
        if (!c->head)
            c->tail = NULL;
        *json = r->json;
        *more = r->more;
        free(r);
        /* The last reply is kept as "ended", so later calls say so. */
        if (!*more && !c->ended) {
            c->ended = 1;
            c->end_rc = RP_ERR_INVAL;
            snprintf(c->end_msg, sizeof c->end_msg, "the command gave its last reply already");
        }
        rc = 0;
    } else if (c->ended) {
        rc = c->end_rc;
        if (by_plugin)
            *by_plugin = c->by_plugin;
        snprintf(err, errlen, "%s", c->end_msg);
    }
    rp__os_mutex_unlock(c->lock);
    return rc;
}

void rp__host_command_release(rp__command *c)
{
    if (!c)
        return;
    rp__os_mutex_lock(c->lock);
    c->detached = 1;
    rp__os_mutex_unlock(c->lock);
    rp__loop_task_cancel(c->host->loop, &c->task);
    if (c->timer)
        rp__loop_timer_cancel(c->host->loop, c->timer);
    c->timer = 0;
    cmd_unref(c);
}

void rp__host_command_stats(const rp__host *host, rp__command_stats *out)
{
    memset(out, 0, sizeof *out);
    struct rp__host_cmds *hc = host->cmds;
    if (!hc)
        return;
    out->started = atomic_load(&hc->started);
    out->refused_busy = atomic_load(&hc->refused_busy);
    out->timeouts = atomic_load(&hc->timeouts);
    out->replies = atomic_load(&hc->replies);
    out->failed = atomic_load(&hc->failed);
}

/* ---- the host's side ------------------------------------------------------------ */

int rp__host_command_setup(rp__host *host)
{
    if (!host->cmds && !(host->cmds = calloc(1, sizeof *host->cmds)))
        return RP_ERR_NOMEM;
    if (host->cmds->pool)
        return 0;
    /* Its own threads: a command may take its whole deadline, and would
     * otherwise hold the threads that serve the plugins' work jobs. */
    rp__workers_opts wo = {.threads = RP__COMMAND_THREADS,
                           .queue_cap = RP__COMMAND_MAX_HELD,
                           .hooks = rp__host_hooks()};
    return rp__workers_create(&wo, host->loop, &host->cmds->pool);
}

void rp__host_command_teardown(rp__host *host, int destroying)
{
    if (!host->cmds)
        return;
    rp__workers_destroy(host->cmds->pool);
    host->cmds->pool = NULL;
    if (destroying) {
        free(host->cmds);
        host->cmds = NULL;
    }
}

void rp__host_command_open(struct rp_plugin *p)
{
    if (!p->desc.on_command)
        return;
    if (!p->cmds) {
        struct rp__plugin_cmds *pc = calloc(1, sizeof *pc);
        if (!pc || rp__os_mutex_create(&pc->lock) != 0 || rp__os_cond_create(&pc->cond) != 0) {
            if (pc)
                rp__os_mutex_destroy(pc->lock);
            free(pc);
            rp__log_warn("plugin %s: out of memory: it takes no commands", p->name);
            return;
        }
        p->cmds = pc;
    }
    rp__os_mutex_lock(p->cmds->lock);
    p->cmds->open = 1;
    p->cmds->gen++;
    rp__os_mutex_unlock(p->cmds->lock);
}

int rp__host_command_close(struct rp_plugin *p)
{
    struct rp__plugin_cmds *pc = p->cmds;
    if (!pc)
        return 0;
    int rc = 0;
    int64_t deadline = rp__os_monotonic_ns() + (int64_t)RP__COMMAND_STOP_WAIT_MS * 1000000;
    rp__os_mutex_lock(pc->lock);
    pc->open = 0;
    /* Queued jobs see the plugin closed and never call it; running ones
     * get RP_ERR_STOPPED from command_reply. Every job is waited for, to
     * its done on the loop thread, so none is left in the pool. */
    while (pc->held > 0) {
        int64_t left = deadline - rp__os_monotonic_ns();
        if (left <= 0) {
            rc = RP_ERR_TIMEOUT;
            break;
        }
        rp__os_cond_timedwait(pc->cond, pc->lock, left / 1000000 + 1);
    }
    uint32_t running = pc->running;
    rp__os_mutex_unlock(pc->lock);
    if (rc != 0)
        rp__log_error("plugin %s: %u commands still run %u ms after its stop began; it is "
                      "stopped anyway and not destroyed",
                      p->name, running, RP__COMMAND_STOP_WAIT_MS);
    return rc;
}

void rp__host_command_free(struct rp_plugin *p)
{
    if (!p->cmds)
        return;
    rp__os_cond_destroy(p->cmds->cond);
    rp__os_mutex_destroy(p->cmds->lock);
    free(p->cmds);
    p->cmds = NULL;
}
