/*
 * core/sandbox/sandbox.c - rampart-sandbox, the process an isolated plugin
 * runs in (plugins.<name>.isolation "process"; runtime/isolate.h).
 *
 * The worker starts it with the checked plugin file, the shared memory of
 * the rings and two wake-up sockets as descriptors 3 to 6
 * (runtime/isolate_proto.h), and argv: name, uid, gid, memory_mb, nofile.
 * Before the plugin's code first runs it becomes that user, drops every
 * capability, sets no_new_privs and its limits and installs the seccomp
 * filter (os/os_sandbox.h). Then it loads the plugin from descriptor 3,
 * sends its descriptor, and serves the worker's calls and events on its main
 * thread, giving the plugin a complete host table: what the worker must do
 * (publish, subscribe, fields, counters, alerts) crosses the rings; the
 * rest (events, config getters, timers, fd watches, work) is done here.
 * When the worker goes away (its socket closes) the sandbox exits.
 */
#include "lib/log.h"
#include "os/os.h"
#include "os/os_sandbox.h"
#include "os/os_thread.h"
#include "runtime/host_table.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host_private.h"
#include "runtime/isolate_proto.h"
#include "runtime/loop.h"
#include "runtime/topic.h"
#include "runtime/workers.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct sandbox {
    const char *name;
    struct rp_plugin *rec; /* the plugin's handle: its config, for the getters */
    rp__os_dl *dl;
    rp_plugin_descriptor d;
    void *state;
    rp__iso_shared *sh;
    rp__iso_end w2s, s2w, rep;
    rp__os_mutex *out_lock;    /* the s2w ring has one producer at a time */
    rp__os_mutex *call_lock;   /* one call of the sandbox at a time; reads rep */
    rp__os_mutex *fields_lock; /* the local copy of the worker's field registry */
    uint64_t seq;
    unsigned char *inbuf, *repbuf, *outbuf;
    rp__loop *loop;
    rp__workers *workers;
    int running; /* between start and stop: on_event may be called */
} S;

static _Thread_local char last_error[RP__ISO_MSG_MAX];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

/* The main thread's naps between events (see main): at most NAPS of NAP_US
 * after the last record, about 2 ms, before it sleeps until woken. */
#define NAP_US 100
#define NAPS   20

static void die(const char *fmt, ...) RP__PRINTF(1, 2);

/* ---- the rings ------------------------------------------------------------ */

/* Appends a record for the worker. A full ring waits for the worker (it
 * drains at once unless it is stopping); RP_ERR_FULL after 2 s. */
static int out_put(uint32_t type, uint64_t seq, const void *a, uint32_t alen, const void *b,
                   uint32_t blen, int may_drop)
{
    int wake = 0, rc;
    for (int tries = 0;; tries++) {
        rp__os_mutex_lock(S.out_lock);
        rc = rp__iso_put(&S.s2w, type, seq, a, alen, b, blen, &wake);
        rp__os_mutex_unlock(S.out_lock);
        if (rc != RP_ERR_FULL || (may_drop && tries >= 20) || tries >= 2000)
            break;
        rp__os_wake_send(RP__ISO_FD_WAKE);
        sleep_ms(1);
    }
    if (wake)
        rp__os_wake_send(RP__ISO_FD_WAKE);
    if (rc == RP_ERR_PARSE)
        die("the ring to the worker is corrupt");
    return rc;
}

static void die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (S.out_lock) {
        uint32_t n = (uint32_t)strlen(msg);
        unsigned char buf[4 + sizeof msg];
        memcpy(buf, &n, 4);
        memcpy(buf + 4, msg, n);
        out_put(RP__ISO_FATAL, 0, buf, 4 + n, NULL, 0, 1);
    }
    fprintf(stderr, "rampart-sandbox %s: %s\n", S.name ? S.name : "?", msg);
    exit(70);
}

/* Applies registry entries (a FIELDS payload): ids must follow the local
 * copy's, so both sides give a name the same id. */
static int fields_apply(rp__iso_rd *r)
{
    uint32_t first = rp__iso_rd_u32(r);
    uint32_t count = rp__iso_rd_u32(r);
    if (!r->ok || count > RP__FIELD_MAX || first == 0)
        return RP_ERR_PARSE;
    rp__os_mutex_lock(S.fields_lock);
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        uint32_t type = rp__iso_rd_u32(r), len;
        const char *name = rp__iso_rd_str(r, RP__FIELD_NAME_MAX, &len);
        if (!name) {
            rc = RP_ERR_PARSE;
            break;
        }
        rp_field_id want = first + i, got = 0;
        if (want <= rp__field_count()) {
            size_t have_len;
            const char *have = rp__field_name(want, &have_len);
            if (!have || have_len != len || memcmp(have, name, len) != 0)
                rc = RP_ERR_INTERNAL;
            continue;
        }
        if (want != rp__field_count() + 1)
            rc = RP_ERR_INTERNAL;
        else if ((rc = rp__field_intern(name, len, type, &got)) == 0 && got != want)
            rc = RP_ERR_INTERNAL;
    }
    rp__os_mutex_unlock(S.fields_lock);
    return rc;
}

/* Calls the worker and waits for its answer; on_reply (may be NULL) reads
 * the results while the reply is still in the buffer. The worker answers at
 * once (it never calls the plugin to answer). */
static int scall(uint32_t op, const void *args, uint32_t alen,
                 int (*on_reply)(rp__iso_rd *r, void *arg), void *arg)
{
    rp__os_mutex_lock(S.call_lock);
    uint64_t seq = ++S.seq;
    int rc = out_put(RP__ISO_SCALL, seq, &op, 4, args, alen, 0);
    while (rc == 0) {
        rp__iso_hdr h;
        int got = rp__iso_get(&S.rep, &h, S.repbuf, RP__ISO_REC_MAX);
        if (got < 0)
            die("the reply ring is corrupt");
        if (got == 0) {
            if (!rp__iso_sleep_prepare(&S.rep) &&
                rp__os_wake_wait(RP__ISO_FD_REPLY, 1000) == RP_ERR_STOPPED)
                exit(0); /* the worker is gone */
            rp__iso_awake(&S.rep);
            continue;
        }
        if (h.type != RP__ISO_SREPLY || h.seq != seq)
            continue; /* an answer to a call given up on */
        rp__iso_rd r;
        rp__iso_rd_init(&r, S.repbuf, h.len);
        rc = (int32_t)rp__iso_rd_u32(&r);
        if (!r.ok)
            rc = RP_ERR_INTERNAL;
        else if (rc == 0 && on_reply)
            rc = on_reply(&r, arg);
        break;
    }
    rp__os_mutex_unlock(S.call_lock);
    return rc;
}

static int reply_fields(rp__iso_rd *r, void *arg)
{
    (void)arg;
    return fields_apply(r);
}

/* Brings the local registry up to the worker's. */
static int fields_sync(void)
{
    uint32_t from = rp__field_count() + 1;
    return scall(RP__ISO_OP_FIELD_SYNC, &from, 4, reply_fields, NULL);
}

/* ---- the host table ------------------------------------------------------ */

static void h_log(rp_plugin *self, int32_t level, const char *msg, uint64_t len)
{
    (void)self;
    if (!msg)
        return;
    uint32_t n = len > RP__ISO_MSG_MAX ? RP__ISO_MSG_MAX : (uint32_t)len;
    unsigned char hdr[8];
    uint32_t lv = (uint32_t)level;
    memcpy(hdr, &lv, 4);
    memcpy(hdr + 4, &n, 4);
    out_put(RP__ISO_LOG, 0, hdr, 8, msg, n, 1);
}

static void h_set_error(rp_plugin *self, const char *msg, uint64_t len)
{
    (void)self;
    if (!msg)
        return;
    size_t n = len >= sizeof last_error ? sizeof last_error - 1 : (size_t)len;
    memcpy(last_error, msg, n);
    last_error[n] = '\0';
}

static int h_config_get(rp_plugin *self, const char **json, uint64_t *len)
{
    if (!self || !json)
        return RP_ERR_INVAL;
    *json = S.rec->config_json;
    if (len)
        *len = strlen(S.rec->config_json);
    return 0;
}

struct id_reply {
    rp_field_id *id;
    uint32_t *type;
};

static int reply_id(rp__iso_rd *r, void *arg)
{
    struct id_reply *ir = arg;
    uint32_t id = rp__iso_rd_u32(r), type = rp__iso_rd_u32(r);
    if (!r->ok || id == 0)
        return RP_ERR_INTERNAL;
    *ir->id = id;
    if (ir->type)
        *ir->type = type;
    return 0;
}

/* A name and a number, the arguments of several calls. */
static int name_call(uint32_t op, const char *name, uint64_t len, uint32_t num,
                     int (*on_reply)(rp__iso_rd *, void *), void *arg)
{
    unsigned char buf[8 + 256];
    if (!name || len == 0 || len > 256)
        return RP_ERR_INVAL;
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, sizeof buf);
    rp__iso_wr_str(&w, name, (size_t)len);
    rp__iso_wr_u32(&w, num);
    return scall(op, buf, (uint32_t)w.len, on_reply, arg);
}

/* An id the worker gave must be in the local registry before it is used. */
static int known_locally(rp_field_id id)
{
    return id <= rp__field_count() || (fields_sync() == 0 && id <= rp__field_count());
}

static int h_field_id(rp_plugin *self, const char *name, uint64_t len, uint32_t type,
                      rp_field_id *out)
{
    (void)self;
    if (!out)
        return RP_ERR_INVAL;
    rp_field_id id = 0;
    struct id_reply ir = {&id, NULL};
    int rc = name_call(RP__ISO_OP_FIELD_ID, name, len, type, reply_id, &ir);
    if (rc == 0 && !known_locally(id))
        rc = RP_ERR_INTERNAL;
    if (rc == 0)
        *out = id;
    return rc;
}

static int h_field_lookup(rp_plugin *self, const char *name, uint64_t len, rp_field_id *id,
                          uint32_t *type)
{
    (void)self;
    if (!name || !id)
        return RP_ERR_INVAL;
    rp_field_id f = rp__field_lookup(name, (size_t)len);
    if (f == 0) {
        struct id_reply ir = {&f, NULL};
        int rc = name_call(RP__ISO_OP_FIELD_LOOKUP, name, len, 0, reply_id, &ir);
        if (rc != 0)
            return rc;
        if (!known_locally(f))
            return RP_ERR_INTERNAL;
    }
    *id = f;
    if (type)
        *type = rp__field_type(f);
    return 0;
}

static int h_field_info(rp_plugin *self, rp_field_id id, const char **name, uint64_t *len,
                        uint32_t *type)
{
    (void)self;
    if (id == 0 || !known_locally(id))
        return RP_ERR_NOTFOUND;
    size_t n;
    const char *s = rp__field_name(id, &n);
    if (!s)
        return RP_ERR_NOTFOUND;
    if (name)
        *name = s;
    if (len)
        *len = n;
    if (type)
        *type = rp__field_type(id);
    return 0;
}

static int h_field_count(rp_plugin *self, uint32_t *count)
{
    (void)self;
    if (!count)
        return RP_ERR_INVAL;
    int rc = fields_sync();
    if (rc == 0)
        *count = rp__field_count();
    return rc;
}

static int reply_u32(rp__iso_rd *r, void *arg)
{
    *(uint32_t *)arg = rp__iso_rd_u32(r);
    return r->ok ? 0 : RP_ERR_INTERNAL;
}

static int reply_u64(rp__iso_rd *r, void *arg)
{
    *(uint64_t *)arg = rp__iso_rd_u64(r);
    return r->ok ? 0 : RP_ERR_INTERNAL;
}

static int h_field_provided(rp_plugin *self, const char *event_type, uint64_t type_len,
                            rp_field_id field, uint32_t *collectors)
{
    (void)self;
    if (!collectors)
        return RP_ERR_INVAL;
    return name_call(RP__ISO_OP_FIELD_PROVIDED, event_type, type_len, field, reply_u32, collectors);
}

static int h_event_create(rp_plugin *self, const char *type, uint64_t len, rp_event **out)
{
    uint32_t topic;
    if (!self || !type || !out)
        return RP_ERR_INVAL;
    int rc = rp__topic_intern(type, (size_t)len, &topic);
    if (rc != 0)
        return rc;
    return rp__event_create(topic, rp__topic_name(topic), 1, out);
}

static int h_event_copy(rp_plugin *self, const rp_event *src, const char *type, uint64_t len,
                        rp_event **out)
{
    uint32_t topic;
    if (!self || !src || !type || !out)
        return RP_ERR_INVAL;
    int rc = rp__topic_intern(type, (size_t)len, &topic);
    if (rc != 0)
        return rc;
    return rp__event_copy(src, topic, rp__topic_name(topic), 1, out);
}

static int h_event_publish(rp_plugin *self, rp_event *ev)
{
    if (!ev)
        return RP_ERR_INVAL;
    if (!self || (rp__event_head_of(ev)->flags & RP__EVENT_PUBLISHED)) {
        rp__event_release(ev);
        return RP_ERR_INVAL;
    }
    rp__event_freeze(ev);
    /* Encoded under the ring's lock into the one out buffer: publishes of
     * several threads are serialised here as they would be on the bus. */
    rp__os_mutex_lock(S.out_lock);
    rp__iso_wr w;
    rp__iso_wr_init(&w, S.outbuf, RP__ISO_REC_MAX);
    int rc = rp__iso_event_encode(&w, ev);
    int wake = 0;
    for (int tries = 0; rc == 0; tries++) {
        rc = rp__iso_put(&S.s2w, RP__ISO_PUBLISH, 0, S.outbuf, (uint32_t)w.len, NULL, 0, &wake);
        if (rc != RP_ERR_FULL || tries >= 20)
            break;
        rp__os_mutex_unlock(S.out_lock);
        rp__os_wake_send(RP__ISO_FD_WAKE);
        sleep_ms(1);
        rp__os_mutex_lock(S.out_lock);
    }
    rp__os_mutex_unlock(S.out_lock);
    if (wake)
        rp__os_wake_send(RP__ISO_FD_WAKE);
    if (rc == RP_ERR_PARSE)
        die("the ring to the worker is corrupt");
    rp__event_release(ev);
    return rc;
}

static int h_event_field_count(const rp_event *ev, uint32_t *count)
{
    if (!ev || !count)
        return RP_ERR_INVAL;
    *count = rp__event_field_count(ev);
    return 0;
}

static int h_event_field_at(const rp_event *ev, uint32_t index, rp_field_id *id, uint32_t *type)
{
    if (!ev || !id)
        return RP_ERR_INVAL;
    return rp__event_field_id_at(ev, index, id, type);
}

static int h_subscribe(rp_plugin *self, const char *pattern, uint64_t len, uint32_t flags)
{
    (void)self;
    if (!pattern || flags != 0)
        return RP_ERR_INVAL;
    return name_call(RP__ISO_OP_SUBSCRIBE, pattern, len, flags, NULL, NULL);
}

/* Watches and timers on the sandbox's own loop. */
struct bridge {
    rp_fd_cb fd_cb;
    rp_timer_cb timer_cb;
    void *arg;
};

/* The plugin's watches and timers, removed after its stop as the host
 * removes an in-process plugin's: nothing of a stopped plugin runs, and a
 * plugin initialised again after destroy (a reload) starts clean. */
#define MAX_HANDLES 256
static struct handle_slot {
    uint64_t id; /* 0: free */
    int is_timer;
} handles[MAX_HANDLES];
static rp__os_mutex *handles_lock;
static int handles_closed; /* from stop to the next init: new ones refused */

static int handle_add(uint64_t id, int is_timer)
{
    int rc = RP_ERR_FULL;
    rp__os_mutex_lock(handles_lock);
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (handles[i].id == 0) {
            handles[i].id = id;
            handles[i].is_timer = is_timer;
            rc = 0;
            break;
        }
    }
    rp__os_mutex_unlock(handles_lock);
    return rc;
}

static void handle_forget(uint64_t id, int is_timer)
{
    rp__os_mutex_lock(handles_lock);
    for (int i = 0; i < MAX_HANDLES; i++)
        if (handles[i].id == id && handles[i].is_timer == is_timer)
            handles[i].id = 0;
    rp__os_mutex_unlock(handles_lock);
}

/* After the plugin's stop: its jobs not started are cancelled (their done
 * gets RP_ERR_STOPPED), its watches and timers removed. */
static void release_plugin_resources(void)
{
    rp__os_mutex_lock(handles_lock);
    handles_closed = 1;
    rp__os_mutex_unlock(handles_lock);
    rp__workers_cancel_owner(S.workers, &S);
    for (int i = 0; i < MAX_HANDLES; i++) {
        rp__os_mutex_lock(handles_lock);
        struct handle_slot h = handles[i];
        handles[i].id = 0;
        rp__os_mutex_unlock(handles_lock);
        if (h.id && h.is_timer)
            rp__loop_timer_cancel(S.loop, h.id);
        else if (h.id)
            rp__loop_unwatch(S.loop, h.id);
    }
}

static int handles_open(void)
{
    rp__os_mutex_lock(handles_lock);
    int open = !handles_closed;
    rp__os_mutex_unlock(handles_lock);
    return open;
}

static void fd_bridge(void *arg, int fd, uint32_t revents)
{
    struct bridge *b = arg;
    b->fd_cb(b->arg, fd, revents);
}

static void timer_bridge(void *arg)
{
    struct bridge *b = arg;
    b->timer_cb(b->arg);
}

static int h_fd_watch(rp_plugin *self, int64_t fd, uint32_t events, rp_fd_cb cb, void *arg,
                      uint64_t *watch_id)
{
    if (!self || !cb || !watch_id || fd < 0 || fd > INT32_MAX)
        return RP_ERR_INVAL;
    struct bridge *b = calloc(1, sizeof *b);
    if (!b)
        return RP_ERR_NOMEM;
    b->fd_cb = cb;
    b->arg = arg;
    /* The bridge is kept for the sandbox's life: a callback may still be
     * running when its watch is removed, and the process is short-lived. */
    uint32_t ev =
        (events & RP_FD_READ ? RP__LOOP_READ : 0) | (events & RP_FD_WRITE ? RP__LOOP_WRITE : 0);
    if (!handles_open()) {
        free(b);
        return RP_ERR_STOPPED;
    }
    int rc = rp__loop_watch_fd(S.loop, NULL, (int)fd, ev, fd_bridge, b, watch_id);
    if (rc == 0 && (rc = handle_add(*watch_id, 0)) != 0)
        rp__loop_unwatch(S.loop, *watch_id);
    if (rc != 0)
        free(b);
    return rc;
}

static int h_fd_unwatch(rp_plugin *self, uint64_t watch_id)
{
    (void)self;
    handle_forget(watch_id, 0);
    return rp__loop_unwatch(S.loop, watch_id);
}

static int h_timer_start(rp_plugin *self, uint64_t first_ms, uint64_t interval_ms, rp_timer_cb cb,
                         void *arg, uint64_t *timer_id)
{
    if (!self || !cb || !timer_id)
        return RP_ERR_INVAL;
    struct bridge *b = calloc(1, sizeof *b);
    if (!b)
        return RP_ERR_NOMEM;
    b->timer_cb = cb;
    b->arg = arg;
    if (!handles_open()) {
        free(b);
        return RP_ERR_STOPPED;
    }
    int rc = rp__loop_timer_add(S.loop, NULL, first_ms, interval_ms, timer_bridge, b, timer_id);
    if (rc == 0 && (rc = handle_add(*timer_id, 1)) != 0)
        rp__loop_timer_cancel(S.loop, *timer_id);
    if (rc != 0)
        free(b);
    return rc;
}

static int h_timer_stop(rp_plugin *self, uint64_t timer_id)
{
    (void)self;
    handle_forget(timer_id, 1);
    return rp__loop_timer_cancel(S.loop, timer_id);
}

struct sjob {
    rp_work_cb work;
    rp_work_done_cb done;
    void *arg;
};

static void job_work(void *arg)
{
    struct sjob *j = arg;
    j->work(j->arg);
}

static void job_done(void *arg, int status)
{
    struct sjob *j = arg;
    if (j->done)
        j->done(j->arg, status);
    free(j);
}

static int h_work_submit(rp_plugin *self, rp_work_cb work, rp_work_done_cb done, void *arg)
{
    if (!self || !work)
        return RP_ERR_INVAL;
    struct sjob *j = malloc(sizeof *j);
    if (!j)
        return RP_ERR_NOMEM;
    j->work = work;
    j->done = done;
    j->arg = arg;
    int rc =
        handles_open() ? rp__workers_submit(S.workers, &S, job_work, job_done, j) : RP_ERR_STOPPED;
    if (rc != 0)
        free(j);
    return rc;
}

static int h_counter_register(rp_plugin *self, const char *name, uint64_t len, uint32_t *id)
{
    (void)self;
    if (!id)
        return RP_ERR_INVAL;
    return name_call(RP__ISO_OP_COUNTER_REG, name, len, 0, reply_u32, id);
}

static int h_counter_add(rp_plugin *self, uint32_t id, uint64_t delta)
{
    (void)self;
    unsigned char buf[12];
    memcpy(buf, &id, 4);
    memcpy(buf + 4, &delta, 8);
    return out_put(RP__ISO_COUNTER, 0, buf, sizeof buf, NULL, 0, 1);
}

static int h_gauge_register(rp_plugin *self, const char *name, uint64_t len, uint32_t *id)
{
    (void)self;
    if (!id)
        return RP_ERR_INVAL;
    return name_call(RP__ISO_OP_GAUGE_REG, name, len, 0, reply_u32, id);
}

static int h_gauge_set(rp_plugin *self, uint32_t id, int64_t value)
{
    (void)self;
    unsigned char buf[12];
    memcpy(buf, &id, 4);
    memcpy(buf + 4, &value, 8);
    return out_put(RP__ISO_GAUGE, 0, buf, sizeof buf, NULL, 0, 1);
}

static int h_dropped_get(rp_plugin *self, uint64_t *dropped)
{
    (void)self;
    if (!dropped)
        return RP_ERR_INVAL;
    return scall(RP__ISO_OP_DROPPED, NULL, 0, reply_u64, dropped);
}

static void wr_opt_str(rp__iso_wr *w, const char *s)
{
    rp__iso_wr_u32(w, s != NULL);
    if (s)
        rp__iso_wr_str(w, s, strlen(s));
}

static void wr_list(rp__iso_wr *w, const char *const *list)
{
    uint32_t n = 0;
    while (list && list[n] && n < 64)
        n++;
    rp__iso_wr_u32(w, list ? n + 1 : 0); /* 0: NULL; n + 1: n items */
    for (uint32_t i = 0; i < n; i++)
        rp__iso_wr_str(w, list[i], strlen(list[i]));
}

/* The alert: the fields this side lacks, then the event. */
static int reply_event(rp__iso_rd *r, void *arg)
{
    int rc = fields_apply(r);
    return rc ? rc : rp__iso_event_decode(r, RP__ISO_DECODE_EXACT, 1, arg);
}

/* The alert is made by the worker, so that its policy and its stamping of
 * the sources apply; the sandbox gets a copy the plugin may add to and
 * publish. */
static int h_alert_create(rp_plugin *self, const rp_alert *a, const rp_event *const *sources,
                          uint32_t nsources, rp_event **out)
{
    (void)self;
    if (!a || !out || a->struct_size < 8u + 4u * sizeof(void *) || (nsources && !sources) ||
        nsources > 64)
        return RP_ERR_INVAL;
    rp_alert al;
    memset(&al, 0, sizeof al);
    memcpy(&al, a, a->struct_size < sizeof al ? a->struct_size : sizeof al);
    unsigned char *buf = malloc(RP__ISO_REC_MAX);
    if (!buf)
        return RP_ERR_NOMEM;
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, RP__ISO_REC_MAX);
    rp__os_mutex_lock(S.fields_lock);
    rp__iso_wr_u32(&w, rp__field_count());
    rp__os_mutex_unlock(S.fields_lock);
    rp__iso_wr_u32(&w, al.severity);
    wr_opt_str(&w, al.rule_id);
    wr_opt_str(&w, al.rule_name);
    wr_opt_str(&w, al.ruleset);
    wr_opt_str(&w, al.reason);
    wr_opt_str(&w, al.rule_description);
    wr_opt_str(&w, al.rule_reference);
    wr_list(&w, al.tags);
    wr_list(&w, al.tactic_ids);
    wr_list(&w, al.technique_ids);
    rp__iso_wr_u32(&w, nsources);
    int rc = 0;
    for (uint32_t i = 0; i < nsources && rc == 0; i++) {
        if (!sources[i]) {
            rc = RP_ERR_INVAL;
            break;
        }
        size_t at = w.len;
        rp__iso_wr_u32(&w, 0); /* the source's length, filled below */
        rc = rp__iso_event_encode(&w, sources[i]);
        if (rc == 0 && w.ok) {
            uint32_t n = (uint32_t)(w.len - at - 4);
            memcpy(buf + at, &n, 4);
        }
    }
    if (rc == 0 && !w.ok)
        rc = RP_ERR_FULL;
    if (rc == 0) {
        *out = NULL;
        rc = scall(RP__ISO_OP_ALERT, buf, (uint32_t)w.len, reply_event, out);
    }
    free(buf);
    return rc;
}

static int h_service_offer(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                           const void *table)
{
    (void)self, (void)name, (void)len, (void)version, (void)table;
    h_set_error(self, "services are not available to an isolated plugin", 49);
    return RP_ERR_UNSUPPORTED;
}

static int h_service_acquire(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                             const void **table, uint64_t *hold)
{
    (void)name, (void)len, (void)version, (void)table, (void)hold;
    h_set_error(self, "services are not available to an isolated plugin", 49);
    return RP_ERR_UNSUPPORTED;
}

static int h_service_release(rp_plugin *self, uint64_t hold)
{
    (void)self, (void)hold;
    return RP_ERR_INVAL;
}

static int h_private_dir(rp_plugin *self, int64_t *dirfd, const char **path, uint64_t *len)
{
    (void)dirfd, (void)path, (void)len;
    h_set_error(self, "an isolated plugin has no private folder", 40);
    return RP_ERR_UNSUPPORTED;
}

/* A command given to on_command (RP__ISO_COMMAND). */
struct rp_command {
    uint64_t id;
    int last_sent;
};

static int h_command_reply(rp_command *cmd, const char *json, uint64_t len, uint32_t flags)
{
    if (!cmd || !json || (flags & ~(uint32_t)RP_REPLY_MORE) || len > RP_MAX_COMMAND_REPLY ||
        cmd->last_sent)
        return RP_ERR_INVAL;
    unsigned char *buf = malloc(16 + (size_t)len);
    if (!buf)
        return RP_ERR_NOMEM;
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, 16 + (size_t)len);
    rp__iso_wr_u64(&w, cmd->id);
    rp__iso_wr_u32(&w, flags);
    rp__iso_wr_str(&w, json, (size_t)len);
    int rc = scall(RP__ISO_OP_CMD_REPLY, buf, (uint32_t)w.len, NULL, NULL);
    free(buf);
    if (rc == 0 && !(flags & RP_REPLY_MORE))
        cmd->last_sent = 1;
    return rc;
}

static const rp_host_api api = {
    .struct_size = sizeof(rp_host_api),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = RP_ABI_MINOR,
    .log = h_log,
    .set_error = h_set_error,
    .alloc = rp__table_alloc,
    .realloc = rp__table_realloc,
    .free = rp__table_free,
    .config_get = h_config_get,
    .field_id = h_field_id,
    .event_create = h_event_create,
    .event_copy = h_event_copy,
    .event_publish = h_event_publish,
    .event_retain = rp__table_event_retain,
    .event_release = rp__table_event_release,
    .event_type = rp__table_event_type,
    .set_i64 = rp__event_set_i64,
    .set_u64 = rp__event_set_u64,
    .set_bool = rp__event_set_bool,
    .set_str = rp__event_set_str,
    .set_bytes = rp__event_set_bytes,
    .set_timestamp = rp__event_set_timestamp,
    .set_ip = rp__event_set_ip,
    .set_str_array = rp__event_set_str_array,
    .get_i64 = rp__event_get_i64,
    .get_u64 = rp__event_get_u64,
    .get_bool = rp__event_get_bool,
    .get_str = rp__event_get_str,
    .get_bytes = rp__event_get_bytes,
    .get_timestamp = rp__event_get_timestamp,
    .get_ip = rp__event_get_ip,
    .get_str_array_count = rp__event_get_str_array_count,
    .get_str_array_item = rp__event_get_str_array_item,
    .subscribe = h_subscribe,
    .fd_watch = h_fd_watch,
    .fd_unwatch = h_fd_unwatch,
    .timer_start = h_timer_start,
    .timer_stop = h_timer_stop,
    .work_submit = h_work_submit,
    .counter_register = h_counter_register,
    .counter_add = h_counter_add,
    .now_ns = rp__os_time_ns,
    .monotonic_ns = rp__os_monotonic_ns,
    .field_lookup = h_field_lookup,
    .field_info = h_field_info,
    .field_count = h_field_count,
    .field_provided = h_field_provided,
    .event_field_count = h_event_field_count,
    .event_field_at = h_event_field_at,
    .alert_create = h_alert_create,
    .dropped_get = h_dropped_get,
    .gauge_register = h_gauge_register,
    .gauge_set = h_gauge_set,
    .config_bool = rp__host_config_bool,
    .config_i64 = rp__host_config_i64,
    .config_str = rp__host_config_str,
    .config_str_array_count = rp__host_config_str_array_count,
    .config_str_array_item = rp__host_config_str_array_item,
    .config_json = rp__host_config_json,
    .service_offer = h_service_offer,
    .service_acquire = h_service_acquire,
    .service_release = h_service_release,
    .private_dir = h_private_dir,
    .command_reply = h_command_reply,
};

/* ---- the worker's calls ------------------------------------------------- */

static void reply(uint64_t seq, int rc)
{
    int32_t code = rc;
    uint32_t n = (uint32_t)strlen(last_error);
    unsigned char hdr[8];
    memcpy(hdr, &code, 4);
    memcpy(hdr + 4, &n, 4);
    out_put(RP__ISO_REPLY, seq, hdr, 8, last_error, n, 0);
    last_error[0] = '\0';
}

/* Installs the config JSON of a call as the one the getters read. */
static int set_config(rp__iso_rd *r)
{
    uint32_t len;
    const char *text = rp__iso_rd_str(r, RP__ISO_REC_MAX, &len);
    if (!text)
        return RP_ERR_PARSE;
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return RP_ERR_PARSE;
    }
    int rc = rp__host_plugin_set_config(S.rec, doc);
    json_decref(doc);
    return rc;
}

static void set_callback(enum rp__cr_kind kind)
{
    atomic_store_explicit(&S.sh->callback, (uint32_t)kind, memory_order_relaxed);
}

static void on_event_rec(rp__iso_rd *r)
{
    rp_event *ev = NULL;
    int rc = rp__iso_event_decode(r, RP__ISO_DECODE_EXACT, 0, &ev);
    if (rc != 0)
        die("an event from the worker does not decode: %s", rp_strerror(rc));
    rp__event_freeze(ev);
    if (S.running && S.d.on_event) {
        set_callback(RP__CR_EVENT);
        S.d.on_event(S.rec, S.state, ev);
        set_callback(RP__CR_NONE);
    }
    rp__event_release(ev);
    atomic_fetch_add_explicit(&S.sh->events_done, 1, memory_order_release);
}

static void on_command_rec(uint64_t seq, rp__iso_rd *r)
{
    rp_command cmd = {rp__iso_rd_u64(r), 0};
    uint32_t len;
    const char *req = rp__iso_rd_str(r, RP_MAX_COMMAND_REQUEST, &len);
    if (!req || !S.d.on_command) {
        reply(seq, RP_ERR_INVAL);
        return;
    }
    /* The plugin reads a NUL-terminated request. */
    char *copy = malloc((size_t)len + 1);
    if (!copy) {
        reply(seq, RP_ERR_NOMEM);
        return;
    }
    memcpy(copy, req, len);
    copy[len] = '\0';
    set_callback(RP__CR_COMMAND);
    int rc = S.d.on_command(S.rec, S.state, &cmd, copy, len);
    set_callback(RP__CR_NONE);
    free(copy);
    reply(seq, rc);
}

static void serve(const rp__iso_hdr *h)
{
    rp__iso_rd r;
    rp__iso_rd_init(&r, S.inbuf, h->len);
    int rc;
    switch (h->type) {
    case RP__ISO_EVENT:
        on_event_rec(&r);
        return;
    case RP__ISO_FIELDS:
        if ((rc = fields_apply(&r)) != 0)
            die("the worker's fields do not apply: %s", rp_strerror(rc));
        return;
    case RP__ISO_INIT:
        rp__os_mutex_lock(handles_lock);
        handles_closed = 0;
        rp__os_mutex_unlock(handles_lock);
        if ((rc = set_config(&r)) == 0) {
            set_callback(RP__CR_INIT);
            rc = S.d.init(S.rec, &api, &S.state);
            set_callback(RP__CR_NONE);
        }
        reply(h->seq, rc);
        return;
    case RP__ISO_START:
        set_callback(RP__CR_START);
        rc = S.d.start(S.rec, S.state);
        set_callback(RP__CR_NONE);
        S.running = rc == 0;
        reply(h->seq, rc);
        return;
    case RP__ISO_STOP:
        S.running = 0;
        set_callback(RP__CR_STOP);
        rc = S.d.stop(S.rec, S.state);
        set_callback(RP__CR_NONE);
        release_plugin_resources();
        reply(h->seq, rc);
        return;
    case RP__ISO_DESTROY:
        /* Nothing of the plugin runs during or after destroy (its stop, or
         * a failed init, released its watches, timers and jobs); the
         * sandbox stays for an init again (a reload re-creating it). */
        release_plugin_resources();
        set_callback(RP__CR_DESTROY);
        S.d.destroy(S.rec, S.state);
        set_callback(RP__CR_NONE);
        S.state = NULL;
        reply(h->seq, 0);
        return;
    case RP__ISO_RECONF:
        if ((rc = set_config(&r)) == 0) {
            set_callback(RP__CR_RECONFIGURE);
            rc = S.d.reconfigure ? S.d.reconfigure(S.rec, S.state) : RP_ERR_UNSUPPORTED;
            set_callback(RP__CR_NONE);
        }
        reply(h->seq, rc);
        return;
    case RP__ISO_CHECK:
        /* The candidate is read by the getters during check_config; the
         * installed config is put back after it. */
        rc = 0;
        if (S.d.check_config) {
            json_t *prev = S.rec->config_doc ? json_incref(S.rec->config_doc) : NULL;
            if ((rc = set_config(&r)) == 0) {
                set_callback(RP__CR_CHECK_CONFIG);
                rc = S.d.check_config(S.rec, &api);
                set_callback(RP__CR_NONE);
            }
            if (prev) {
                rp__host_plugin_set_config(S.rec, prev);
                json_decref(prev);
            }
        }
        reply(h->seq, rc);
        return;
    case RP__ISO_COMMAND:
        on_command_rec(h->seq, &r);
        return;
    case RP__ISO_PING:
        reply(h->seq, 0);
        return;
    default:
        die("unknown record %u from the worker", (unsigned)h->type);
    }
}

/* ---- the descriptor ------------------------------------------------------ */

static void send_desc(int entry_rc, const rp_plugin_descriptor *d)
{
    rp__iso_wr w;
    rp__iso_wr_init(&w, S.outbuf, RP__ISO_REC_MAX);
    rp__iso_wr_u32(&w, (uint32_t)entry_rc);
    if (entry_rc == 0) {
        uint32_t cbs =
            (d->init ? RP__ISO_CB_INIT : 0) | (d->start ? RP__ISO_CB_START : 0) |
            (d->stop ? RP__ISO_CB_STOP : 0) | (d->destroy ? RP__ISO_CB_DESTROY : 0) |
            (d->reconfigure ? RP__ISO_CB_RECONF : 0) | (d->on_event ? RP__ISO_CB_EVENT : 0) |
            (d->check_config ? RP__ISO_CB_CHECK : 0) | (d->on_command ? RP__ISO_CB_COMMAND : 0);
        rp__iso_wr_u32(&w, d->struct_size);
        rp__iso_wr_u32(&w, d->abi_major);
        rp__iso_wr_u32(&w, d->abi_minor);
        rp__iso_wr_u32(&w, d->kind);
        rp__iso_wr_u32(&w, d->flags);
        rp__iso_wr_u32(&w, d->event_schema_version);
        rp__iso_wr_u32(&w, d->reserved);
        rp__iso_wr_u64(&w, d->capabilities);
        rp__iso_wr_u32(&w, cbs);
        const char *strs[] = {d->id,          d->version,       d->vendor,         d->license,
                              d->description, d->config_schema, d->field_namespace};
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
            size_t n = strs[i] ? strnlen(strs[i], RP__ISO_DESC_STR_MAX + 1) : 0;
            rp__iso_wr_u32(&w, strs[i] != NULL);
            if (strs[i])
                rp__iso_wr_str(&w, strs[i], n);
        }
        uint32_t ntypes = 0;
        while (d->provides && d->provides[ntypes].event_type && ntypes <= RP__ISO_PROVIDES_TYPES)
            ntypes++;
        rp__iso_wr_u32(&w, d->provides ? ntypes + 1 : 0);
        for (uint32_t t = 0; t < ntypes; t++) {
            const rp_event_fields *ef = &d->provides[t];
            rp__iso_wr_str(&w, ef->event_type, strnlen(ef->event_type, RP_MAX_EVENT_TYPE + 1));
            uint32_t nf = 0;
            while (ef->fields && ef->fields[nf] && nf <= RP__ISO_PROVIDES_FIELDS)
                nf++;
            rp__iso_wr_u32(&w, ef->fields ? nf + 1 : 0);
            for (uint32_t k = 0; k < nf; k++)
                rp__iso_wr_str(&w, ef->fields[k], strnlen(ef->fields[k], RP_MAX_FIELD_NAME + 1));
        }
    }
    if (!w.ok)
        die("the descriptor is too large to send");
    out_put(RP__ISO_DESC, 0, S.outbuf, (uint32_t)w.len, NULL, 0, 0);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s)
        return RP_ERR_INVAL;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return RP_ERR_INVAL;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t uid, gid, memory_mb, nofile;
    if (argc != 6 || parse_u64(argv[2], &uid) || parse_u64(argv[3], &gid) ||
        parse_u64(argv[4], &memory_mb) || parse_u64(argv[5], &nofile)) {
        fprintf(stderr, "rampart-sandbox: started by rampartd only (isolation \"process\")\n");
        return 64;
    }
    S.name = argv[1];
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* The sanitizers' shadow memory reserves terabytes of address space:
     * sanitizer builds (tests) run the sandbox without RLIMIT_AS. */
    memory_mb = 0;
#endif
    void *shm;
    if (rp__os_shm_map(RP__ISO_FD_SHM, RP__ISO_SHM_SIZE, &shm) != 0)
        die("cannot map the shared memory");
    unsigned char *base = shm;
    S.sh = shm;
    if (rp__iso_end_init(&S.w2s, base + RP__ISO_OFF_W2S, RP__ISO_W2S_SIZE, 0) != 0 ||
        rp__iso_end_init(&S.s2w, base + RP__ISO_OFF_S2W, RP__ISO_S2W_SIZE, 0) != 0 ||
        rp__iso_end_init(&S.rep, base + RP__ISO_OFF_REPLY, RP__ISO_REPLY_SIZE, 0) != 0)
        die("bad ring layout");
    if (rp__os_mutex_create(&S.out_lock) != 0 || rp__os_mutex_create(&S.call_lock) != 0 ||
        rp__os_mutex_create(&handles_lock) != 0 || rp__os_mutex_create(&S.fields_lock) != 0)
        die("out of memory");
    S.inbuf = malloc(RP__ISO_REC_MAX);
    S.repbuf = malloc(RP__ISO_REC_MAX);
    S.outbuf = malloc(RP__ISO_REC_MAX);
    S.rec = calloc(1, sizeof *S.rec);
    if (!S.inbuf || !S.repbuf || !S.outbuf || !S.rec || rp__os_mutex_create(&S.rec->lock) != 0)
        die("out of memory");
    S.rec->name = (char *)S.name;
    char err[256];
    /* Everything the plugin may touch is given up before its code runs
     * (its constructors run at the load). */
    if (rp__os_sandbox_confine((uint32_t)uid, (uint32_t)gid, memory_mb, (uint32_t)nofile, err,
                               sizeof err) != 0)
        die("cannot confine: %s", err);
    rp__loop_opts lopts = {0};
    rp__workers_opts wopts = {.threads = 2, .queue_cap = 256};
    if (rp__loop_create(&lopts, &S.loop) != 0 || rp__loop_start(S.loop) != 0 ||
        rp__workers_create(&wopts, S.loop, &S.workers) != 0)
        die("cannot start the loop and workers");
    /* The registry's built-in fields before the filter (they never change). */
    (void)rp__field_count();
    if (rp__os_sandbox_seccomp(err, sizeof err) != 0)
        die("cannot install the seccomp filter: %s", err);
    char why[512];
    if (rp__os_dl_open_fd(RP__ISO_FD_PLUGIN, &S.dl, why, sizeof why) != 0)
        die("cannot load the plugin: %s", why);
    rp__os_fn fn = rp__os_dl_sym(S.dl, RP_ENTRY_SYMBOL);
    if (!fn)
        die("the plugin does not export %s", RP_ENTRY_SYMBOL);
    rp_plugin_entry_fn entry;
    memcpy(&entry, &fn, sizeof entry);
    const rp_plugin_descriptor *d = NULL;
    set_callback(RP__CR_ENTRY);
    int rc = entry(&api, &d);
    set_callback(RP__CR_NONE);
    if (rc == 0 && !d)
        rc = RP_ERR_INVAL;
    if (rc == 0) {
        /* The same copy as the loader's: what this build knows, zero past
         * an older plugin's size. */
        uint32_t size = d->struct_size < sizeof S.d ? d->struct_size : (uint32_t)sizeof S.d;
        if (size >= RP_DESCRIPTOR_SIZE_1_0)
            memcpy(&S.d, d, size);
        S.d.struct_size = d->struct_size;
        send_desc(0, &S.d);
    } else {
        send_desc(rc, NULL);
    }
    int naps = 0;
    for (;;) {
        rp__iso_hdr h;
        int got = rp__iso_get(&S.w2s, &h, S.inbuf, RP__ISO_REC_MAX);
        if (got < 0)
            die("the ring from the worker is corrupt");
        if (got == 0 && naps < NAPS) {
            /* Busy: a short nap without announcing sleep lets events gather
             * and costs the worker no wake-up per event; idle: after NAPS
             * naps the sandbox sleeps until woken. */
            naps++;
            sleep_us(NAP_US);
            continue;
        }
        if (got == 0) {
            if (!rp__iso_sleep_prepare(&S.w2s) &&
                rp__os_wake_wait(RP__ISO_FD_WAKE, 1000) == RP_ERR_STOPPED)
                exit(0);
            rp__iso_awake(&S.w2s);
            continue;
        }
        naps = 0;
        serve(&h);
    }
}
