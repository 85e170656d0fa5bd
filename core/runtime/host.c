/* core/runtime/host.c - the host API table and plugin lifecycles; loading is in
 * loader.c. */
#include "runtime/host.h"
#include "runtime/host_private.h"
#include "runtime/host_table.h"
#include "runtime/isolate.h"
#include "runtime/host_command.h"
#include "runtime/bus.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "lib/log.h"
#include "runtime/loop.h"
#include "os/os.h"
#include "os/os_thread.h"
#include "runtime/topic.h"
#include "runtime/watchdog.h"
#include "runtime/workers.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Which plugin the current thread is running; the supervisor and crash
 * reports read it. */
static _Thread_local struct rp_plugin *current_plugin;

uint64_t rp__host_enter(struct rp_plugin *p, enum rp__cr_kind kind)
{
    current_plugin = p;
    return rp__callrec_enter(p ? p->cr_index : 0, kind);
}

void rp__host_leave(uint64_t saved)
{
    current_plugin = NULL;
    rp__callrec_leave(saved);
}

/* Loop and worker callbacks do not nest: one saved record per thread. */
static _Thread_local uint64_t hook_saved;

/* Loop and worker hooks: owner is the plugin (NULL for the core's own). */
static void hook_enter(void *ctx, void *owner, int kind)
{
    (void)ctx;
    struct rp_plugin *p = owner;
    current_plugin = p;
    static const enum rp__cr_kind kinds[] = {
        [RP__LOOP_CALL_FD] = RP__CR_FD,
        [RP__LOOP_CALL_TIMER] = RP__CR_TIMER,
        [RP__LOOP_CALL_JOB] = RP__CR_JOB,
        [RP__LOOP_CALL_DONE] = RP__CR_JOB_DONE,
    };
    if (p)
        hook_saved = rp__callrec_enter(
            p->cr_index,
            kind >= RP__LOOP_CALL_FD && kind <= RP__LOOP_CALL_DONE ? kinds[kind] : RP__CR_NONE);
}

static void hook_leave(void *ctx, void *owner, int64_t cpu_ns)
{
    (void)ctx;
    struct rp_plugin *p = owner;
    current_plugin = NULL;
    if (p)
        rp__callrec_leave(hook_saved);
    if (p && cpu_ns > 0)
        atomic_fetch_add_explicit(&p->cpu_ns, (uint64_t)cpu_ns, memory_order_relaxed);
}

static const rp__loop_hooks plugin_hooks = {hook_enter, hook_leave, NULL};

/* ---- host API: logging, errors, memory, config -------------------------- */

static void api_log(rp_plugin *self, int32_t level, const char *msg, uint64_t len)
{
    if (level < RP_LOG_ERROR)
        level = RP_LOG_ERROR;
    if (level > RP_LOG_DEBUG)
        level = RP_LOG_DEBUG;
    if (!msg)
        len = 0;
    if (len > 1024)
        len = 1024;
    rp__log((enum rp__log_level)level, "plugin %s: %.*s", self ? self->name : "?", (int)len,
            msg ? msg : "");
}

/* A buffer this thread's set_error calls also write to (plugin commands:
 * two commands of one plugin may fail at once, each with its own message). */
static _Thread_local char *error_capture;
static _Thread_local size_t error_capture_len;

void rp__host_capture_errors(char *buf, size_t len)
{
    error_capture = len ? buf : NULL;
    error_capture_len = len;
    if (error_capture)
        error_capture[0] = '\0';
}

static void api_set_error(rp_plugin *self, const char *msg, uint64_t len)
{
    if (!self)
        return;
    if (!msg)
        len = 0;
    if (len >= ERR_LEN)
        len = ERR_LEN - 1;
    if (error_capture) {
        size_t n = len < error_capture_len ? (size_t)len : error_capture_len - 1;
        memcpy(error_capture, msg ? msg : "", n);
        error_capture[n] = '\0';
    }
    rp__os_mutex_lock(self->lock);
    memcpy(self->last_msg, msg ? msg : "", len);
    self->last_msg[len] = '\0';
    rp__os_mutex_unlock(self->lock);
}

static int api_config_get(rp_plugin *self, const char **json, uint64_t *len)
{
    if (!self || !json)
        return RP_ERR_INVAL;
    if (rp__host_checking(self))
        return rp__host_config_checking_text(json, len);
    *json = self->config_json;
    if (len)
        *len = strlen(self->config_json);
    return 0;
}

/* ---- host API: fields and events ----------------------------------------- */

static int api_event_create(rp_plugin *self, const char *type, uint64_t len, rp_event **out)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    uint32_t topic;
    if (!self || !type || !out)
        return RP_ERR_INVAL;
    int rc = rp__topic_intern(type, (size_t)len, &topic);
    if (rc != 0)
        return rc;
    return rp__event_create(topic, rp__topic_name(topic), self->index, out);
}

static int api_event_copy(rp_plugin *self, const rp_event *src, const char *type, uint64_t len,
                          rp_event **out)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    uint32_t topic;
    if (!self || !src || !type || !out)
        return RP_ERR_INVAL;
    int rc = rp__topic_intern(type, (size_t)len, &topic);
    if (rc != 0)
        return rc;
    return rp__event_copy(src, topic, rp__topic_name(topic), self->index, out);
}

/* ---- back-pressure ------------------------------------------------------------
 *
 * When the bus refuses a plugin's event at its byte cap, the host stops
 * reading that plugin's kernel sources: every fd watch of the plugin leaves
 * the poller until the queued bytes fall under the low watermark (3/4 of the
 * cap). The data then waits in the kernel, whose own queue overflows and
 * says so (fanotify FAN_Q_OVERFLOW, netlink ENOBUFS), which the collectors
 * count. Done here rather than in each collector so a plugin built against
 * the 1.0 header gets it unchanged. Suspending and resuming run on the loop
 * thread; a refusal on any other thread posts the request there.
 */

static void resume_check(void *arg);

static void set_watches_paused(struct rp_plugin *p, int paused)
{
    rp__os_mutex_lock(p->lock);
    for (int i = 0; i < MAX_HANDLES; i++) {
        struct handle *h = p->handles[i];
        if (h && !h->is_timer && h->id)
            rp__loop_watch_pause(p->host->loop, h->id, paused);
    }
    rp__os_mutex_unlock(p->lock);
}

static void suspend_watches(void *arg)
{
    struct rp_plugin *p = arg;
    rp__host *host = p->host;
    /* A plugin that stopped meanwhile has no watches left to pause: that
     * costs one timer tick, not a check of its state, which the control
     * thread writes. */
    if (atomic_load(&p->suspended))
        return;
    set_watches_paused(p, 1);
    atomic_store(&p->suspended, 1);
    atomic_fetch_add(&p->suspensions, 1);
    atomic_fetch_add(&host->suspensions, 1);
    /* A pause for the memory ceiling with room on the bus is not a bus-full
     * episode: rss_over logs and counts it. */
    int bus_full =
        !atomic_load(&host->rss_over) || rp__bus_queued_bytes(host->bus) > host->low_water;
    if (atomic_fetch_add(&host->suspended_now, 1) == 0 && bus_full) {
        uint64_t n = atomic_fetch_add(&host->episodes, 1) + 1;
        /* A flood fills and drains the bus many times a second: one line a
         * minute says it, the counters and the alert have the figures. */
        int64_t now = rp__os_monotonic_ns();
        if (host->full_logged_ns == 0 || now - host->full_logged_ns >= 60 * (int64_t)1000000000) {
            host->full_logged_ns = now;
            rp__log_warn("bus full (%llu bytes queued, agent.bus_max_bytes %llu; episode %llu): "
                         "plugin %s stops reading its kernel sources until it drains under "
                         "%llu bytes",
                         (unsigned long long)rp__bus_queued_bytes(host->bus),
                         (unsigned long long)host->max_bytes, (unsigned long long)n, p->name,
                         (unsigned long long)host->low_water);
        }
    }
    if (!host->resume_timer &&
        rp__loop_timer_add(host->loop, NULL, 10, 10, resume_check, host, &host->resume_timer) != 0)
        host->resume_timer = 0; /* retried by the next suspension */
}

/* Resident memory is sampled once per this many bytes of published events
 * (a few microseconds per megabyte, so a burst is caught within a
 * megabyte), and at least every RSS_SAMPLE_NS while events flow, read from
 * the clock every RSS_CLOCK_EVERY publishes: memory can also grow in a
 * plugin much faster than the events it is given. */
#define RSS_SAMPLE_BYTES ((uint64_t)1 << 20)
#define RSS_SAMPLE_NS    ((int64_t)50 * 1000000)
#define RSS_CLOCK_EVERY  16u

static _Thread_local uint64_t rss_unsampled; /* bytes this thread published since it sampled */
static _Thread_local uint32_t rss_publishes; /* its publishes, to read the clock every 16th */

/* 1 when the process is over its RSS ceiling now (sampled on the way). */
static int rss_over(rp__host *host, uint64_t bytes)
{
    if (!host->opts.rss_ceiling)
        return 0;
    if (atomic_load_explicit(&host->rss_over, memory_order_relaxed))
        return 1;
    /* Counted per publishing thread: shared counters here would bounce one
     * cache line between every publisher on every event. */
    rss_unsampled += bytes;
    if (rss_unsampled < RSS_SAMPLE_BYTES) {
        if (++rss_publishes % RSS_CLOCK_EVERY != 0)
            return 0;
        int64_t now = rp__os_monotonic_ns();
        if (now - atomic_load_explicit(&host->rss_sampled_ns, memory_order_relaxed) < RSS_SAMPLE_NS)
            return 0;
    }
    rss_unsampled = 0;
    atomic_store_explicit(&host->rss_sampled_ns, rp__os_monotonic_ns(), memory_order_relaxed);
    uint64_t rss = 0;
    if (rp__os_process_rss(&rss) != 0)
        return 0;
    atomic_store_explicit(&host->rss_last, rss, memory_order_relaxed);
    if (rss <= host->opts.rss_ceiling)
        return 0;
    if (atomic_exchange(&host->rss_over, 1) == 0) {
        uint64_t ep = atomic_fetch_add(&host->rss_episodes, 1) + 1;
        int64_t now = rp__os_monotonic_ns();
        if (host->rss_logged_ns == 0 || now - host->rss_logged_ns >= 60 * (int64_t)1000000000) {
            host->rss_logged_ns = now;
            rp__log_warn("memory ceiling reached (%llu bytes resident, agent.max_rss_bytes %llu; "
                         "episode %llu): plugins' events are refused and their kernel sources "
                         "paused until it is back under %llu bytes",
                         (unsigned long long)rss, (unsigned long long)host->opts.rss_ceiling,
                         (unsigned long long)ep,
                         (unsigned long long)(host->opts.rss_ceiling / 8 * 7));
        }
    }
    return 1;
}

/* On the loop thread while over the ceiling: gives freed memory back (the
 * allocator keeps it otherwise, and the ceiling would never clear) and says
 * whether memory is back under 7/8 of the ceiling. */
static int rss_recovered(rp__host *host)
{
    if (!atomic_load(&host->rss_over))
        return 1;
    rp__os_trim_memory();
    uint64_t rss = 0;
    if (rp__os_process_rss(&rss) != 0)
        return 1; /* cannot tell: never pause for good on a failed read */
    atomic_store(&host->rss_last, rss);
    if (rss > host->opts.rss_ceiling / 8 * 7)
        return 0;
    atomic_store(&host->rss_over, 0);
    return 1;
}

static void resume_check(void *arg)
{
    rp__host *host = arg;
    if (rp__bus_queued_bytes(host->bus) > host->low_water)
        return;
    if (!rss_recovered(host))
        return;
    for (size_t i = 0; i < host->nplugins; i++) {
        struct rp_plugin *p = host->plugins[i];
        if (!atomic_load(&p->suspended))
            continue;
        set_watches_paused(p, 0);
        atomic_store(&p->suspended, 0);
        atomic_store(&p->suspend_wanted, 0);
    }
    atomic_store(&host->suspended_now, 0);
    rp__loop_timer_cancel(host->loop, host->resume_timer);
    host->resume_timer = 0;
}

static void request_suspend(struct rp_plugin *p)
{
    if (atomic_exchange(&p->suspend_wanted, 1))
        return;
    if (rp__loop_in_loop_thread(p->host->loop)) {
        suspend_watches(p);
        return;
    }
    if (rp__loop_post(p->host->loop, NULL, suspend_watches, p) != 0)
        atomic_store(&p->suspend_wanted, 0); /* the next refusal asks again */
}

static int api_event_publish(rp_plugin *self, rp_event *ev)
{
    if (!ev)
        return RP_ERR_INVAL;
    if (rp__host_checking(self)) {
        rp__event_release(ev);
        return RP_ERR_BUSY; /* inside check_config */
    }
    if (!self || (rp__event_head_of(ev)->flags & RP__EVENT_PUBLISHED)) {
        rp__event_release(ev);
        return RP_ERR_INVAL;
    }
    if (self->check_provides) /* tests only: RAMPART_CHECK_PROVIDES=1 */
        rp__hf_check_published(self, ev);
    if (rss_over(self->host, rp__event_head_of(ev)->bytes)) {
        /* Over the memory ceiling: refused as at the byte cap, so that the
         * plugin's kernel sources pause the same way. */
        rp__event_release(ev);
        atomic_fetch_add_explicit(&self->host->rss_refused, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->publish_failed, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&self->publish_full, 1, memory_order_relaxed);
        request_suspend(self);
        return RP_ERR_FULL;
    }
    int rc = rp__bus_publish(self->host->bus, ev);
    if (rc == 0) {
        atomic_fetch_add_explicit(&self->published, 1, memory_order_relaxed);
        return 0;
    }
    atomic_fetch_add_explicit(&self->publish_failed, 1, memory_order_relaxed);
    if (rc == RP_ERR_FULL) {
        atomic_fetch_add_explicit(&self->publish_full, 1, memory_order_relaxed);
        request_suspend(self);
    }
    return rc;
}

/* ---- host API: subscriptions, loop, workers, counters --------------------- */

/*
 * Every event reaches on_event through this gate, so on_event never runs
 * before start returned, after stop began or during a reconfigure, even
 * though subscriptions are made in init and the bus may deliver at once.
 * The in-flight count is raised before the gate is read (both sequentially
 * consistent), so rp__host_events_close, which shuts the gate and then reads
 * the count, either sees this call or this call sees the shut gate.
 */
static int deliver(void *arg, const struct rp_event *ev)
{
    struct rp_plugin *p = arg;
    /* Over its CPU budget or hung (watchdog.c): dropped and counted. */
    int refuse = atomic_load_explicit(&p->refuse_events, memory_order_relaxed);
    if (refuse) {
        atomic_fetch_add_explicit(refuse & RP__REFUSE_HUNG ? &p->hung_dropped : &p->budget_dropped,
                                  1, memory_order_relaxed);
        return 0;
    }
    /* Never before start returned, after stop began, nor during
     * reconfigure (the gate, host_reload.c): an event turned away is
     * counted, not delivered. */
    if (!rp__host_gate_enter(p)) {
        atomic_fetch_add_explicit(&p->lifecycle_dropped, 1, memory_order_relaxed);
        return 0;
    }
    uint64_t cr = rp__host_enter(p, RP__CR_EVENT);
    int rc = p->desc.on_event(p, p->state, ev);
    rp__host_leave(cr);
    rp__host_gate_leave(p);
    return rc;
}

/* Waits until *count is 0; RP_ERR_TIMEOUT after 10 s. The waits are for
 * plugin calls already under way (an on_event, a timer_start), which are
 * short: yielding costs less than a condition variable on their path. */
static int wait_zero(atomic_uint *count)
{
    int64_t deadline = rp__os_monotonic_ns() + (int64_t)10 * 1000000000;
    while (atomic_load(count) != 0) {
        if (rp__os_monotonic_ns() > deadline)
            return RP_ERR_TIMEOUT;
        rp__os_thread_yield();
    }
    return 0;
}

/* Turns the gate off for good (until the next init): events meeting it are
 * turned away, and this waits (10 s at most) for on_event calls under way,
 * so that stop never runs beside one. */
static void events_off(struct rp_plugin *p)
{
    rp__host_gate_open(p, 0);
    int64_t deadline = rp__os_monotonic_ns() + (int64_t)10 * 1000000000;
    while (atomic_load(&p->in_event) != 0) {
        if (rp__os_monotonic_ns() > deadline) {
            rp__log_error("plugin %s: on_event did not return within 10 s", p->name);
            return;
        }
        rp__os_thread_yield();
    }
}

/* From stop on, calls that add a watch, a timer or a job are refused, and
 * this waits for those already under way, so that release_resources sees
 * everything the plugin will ever have registered. */
static void refuse_new(struct rp_plugin *p)
{
    atomic_store(&p->stopping, 1);
    if (wait_zero(&p->api_busy) != 0)
        rp__log_error("plugin %s: a watch, timer or job call did not return within 10 s", p->name);
}

static int api_enter(struct rp_plugin *p)
{
    atomic_fetch_add(&p->api_busy, 1);
    if (atomic_load(&p->stopping)) {
        atomic_fetch_sub_explicit(&p->api_busy, 1, memory_order_release);
        return RP_ERR_STOPPED;
    }
    return 0;
}

static void api_leave(struct rp_plugin *p)
{
    atomic_fetch_sub_explicit(&p->api_busy, 1, memory_order_release);
}

static int api_subscribe(rp_plugin *self, const char *pattern, uint64_t len, uint32_t flags)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !pattern || flags != 0)
        return RP_ERR_INVAL;
    if (!self->desc.on_event) {
        api_set_error(self, "subscribe needs an on_event callback in the descriptor", 55);
        return RP_ERR_INVAL;
    }
    if (self->pstate != RP__PLUGIN_LOADED && self->pstate != RP__PLUGIN_INITIALIZED)
        return RP_ERR_BUSY; /* only during init and start */
    if (self->nsubs >= MAX_SUBS)
        return RP_ERR_FULL;
    /* Metered: its on_event CPU time counts in its budget (watchdog.c). */
    uint32_t bflags = RP__BUS_METERED |
                      ((self->desc.flags & RP_PLUGIN_CONCURRENT_EVENTS) ? RP__BUS_CONCURRENT : 0);
    char pat[RP__TOPIC_NAME_MAX + 1];
    if (len == 0 || len > RP__TOPIC_NAME_MAX || memchr(pattern, '\0', (size_t)len))
        return RP_ERR_INVAL;
    memcpy(pat, pattern, (size_t)len);
    pat[len] = '\0';
    uint64_t id;
    int rc = rp__bus_subscribe(self->host->bus, pat, deliver, self, self->index, bflags, 0, &id);
    if (rc == 0)
        self->subs[self->nsubs++] = id;
    return rc;
}

static int handle_add(struct rp_plugin *p, struct handle *h)
{
    rp__os_mutex_lock(p->lock);
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (!p->handles[i]) {
            p->handles[i] = h;
            rp__os_mutex_unlock(p->lock);
            return 0;
        }
    }
    rp__os_mutex_unlock(p->lock);
    return RP_ERR_FULL;
}

/* Removes the handle with this loop id from the plugin's table. */
static struct handle *handle_take(struct rp_plugin *p, uint64_t id, int is_timer)
{
    struct handle *h = NULL;
    rp__os_mutex_lock(p->lock);
    for (int i = 0; i < MAX_HANDLES; i++) {
        if (p->handles[i] && p->handles[i]->id == id && p->handles[i]->is_timer == is_timer) {
            h = p->handles[i];
            p->handles[i] = NULL;
            break;
        }
    }
    rp__os_mutex_unlock(p->lock);
    return h;
}

static void handle_remove(struct rp_plugin *p, struct handle *h)
{
    rp__os_mutex_lock(p->lock);
    for (int i = 0; i < MAX_HANDLES; i++)
        if (p->handles[i] == h)
            p->handles[i] = NULL;
    rp__os_mutex_unlock(p->lock);
}

static void fd_bridge(void *arg, int fd, uint32_t revents)
{
    struct handle *h = arg;
    uint32_t r = 0;
    r |= (revents & RP__LOOP_READ) ? RP_FD_READ : 0;
    r |= (revents & RP__LOOP_WRITE) ? RP_FD_WRITE : 0;
    r |= (revents & RP__LOOP_ERROR) ? RP_FD_ERROR : 0;
    r |= (revents & RP__LOOP_HUP) ? RP_FD_HUP : 0;
    h->fd_cb(h->arg, fd, r);
}

static void timer_bridge(void *arg)
{
    struct handle *h = arg;
    struct rp_plugin *p = h->plugin;
    int once = h->once;
    uint64_t id = h->id;
    h->timer_cb(h->arg);
    /* A one-shot is done with its handle, unless the callback stopped the
     * timer itself (then timer_stop freed it and it is no longer listed).
     * The id is compared too: a callback that stopped this timer and then
     * started another may have been given the same address for the new
     * handle, which must stay. Timer ids are never reused. */
    if (once) {
        int listed = 0;
        rp__os_mutex_lock(p->lock);
        for (int i = 0; i < MAX_HANDLES; i++) {
            if (p->handles[i] == h && h->id == id) {
                p->handles[i] = NULL;
                listed = 1;
            }
        }
        rp__os_mutex_unlock(p->lock);
        if (listed)
            free(h);
    }
}

static int fd_watch(rp_plugin *self, int64_t fd, uint32_t events, rp_fd_cb cb, void *arg,
                    uint64_t *watch_id)
{
    struct handle *h = calloc(1, sizeof *h);
    if (!h)
        return RP_ERR_NOMEM;
    h->plugin = self;
    h->fd_cb = cb;
    h->arg = arg;
    uint32_t ev =
        ((events & RP_FD_READ) ? RP__LOOP_READ : 0) | ((events & RP_FD_WRITE) ? RP__LOOP_WRITE : 0);
    /* The handle is published before the loop can run the callback. */
    int rc = handle_add(self, h);
    if (rc == 0)
        rc = rp__loop_watch_fd(self->host->loop, self, (int)fd, ev, fd_bridge, h, &h->id);
    if (rc != 0) {
        handle_remove(self, h);
        free(h);
        return rc;
    }
    if (atomic_load(&self->suspended))
        rp__loop_watch_pause(self->host->loop, h->id, 1);
    *watch_id = h->id;
    return 0;
}

static int api_fd_watch(rp_plugin *self, int64_t fd, uint32_t events, rp_fd_cb cb, void *arg,
                        uint64_t *watch_id)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !cb || !watch_id || fd < 0 || fd > INT32_MAX ||
        (events & ~(RP_FD_READ | RP_FD_WRITE)))
        return RP_ERR_INVAL;
    int rc = api_enter(self);
    if (rc != 0)
        return rc;
    rc = fd_watch(self, fd, events, cb, arg, watch_id);
    api_leave(self);
    return rc;
}

static int api_fd_unwatch(rp_plugin *self, uint64_t watch_id)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self)
        return RP_ERR_INVAL;
    int rc = rp__loop_unwatch(self->host->loop, watch_id);
    if (rc == 0)
        free(handle_take(self, watch_id, 0));
    return rc;
}

static int timer_start(rp_plugin *self, uint64_t first_ms, uint64_t interval_ms, rp_timer_cb cb,
                       void *arg, uint64_t *timer_id)
{
    struct handle *h = calloc(1, sizeof *h);
    if (!h)
        return RP_ERR_NOMEM;
    h->plugin = self;
    h->is_timer = 1;
    h->once = interval_ms == 0;
    h->timer_cb = cb;
    h->arg = arg;
    int rc = handle_add(self, h);
    if (rc == 0)
        rc = rp__loop_timer_add(self->host->loop, self, first_ms, interval_ms, timer_bridge, h,
                                &h->id);
    if (rc != 0) {
        handle_remove(self, h);
        free(h);
        return rc;
    }
    *timer_id = h->id;
    return 0;
}

static int api_timer_start(rp_plugin *self, uint64_t first_ms, uint64_t interval_ms, rp_timer_cb cb,
                           void *arg, uint64_t *timer_id)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !cb || !timer_id)
        return RP_ERR_INVAL;
    int rc = api_enter(self);
    if (rc != 0)
        return rc;
    rc = timer_start(self, first_ms, interval_ms, cb, arg, timer_id);
    api_leave(self);
    return rc;
}

static int api_timer_stop(rp_plugin *self, uint64_t timer_id)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self)
        return RP_ERR_INVAL;
    int rc = rp__loop_timer_cancel(self->host->loop, timer_id);
    /* A one-shot that fired is gone from the loop but its handle remains. */
    struct handle *h = handle_take(self, timer_id, 1);
    free(h);
    return (rc == RP_ERR_NOTFOUND && h) ? 0 : rc;
}

/* The worker hooks record the plugin around both calls. */
static void job_work(void *arg)
{
    struct job *j = arg;
    j->work(j->arg);
}

static void job_done(void *arg, int status)
{
    struct job *j = arg;
    if (j->done)
        j->done(j->arg, status);
    free(j);
}

static int api_work_submit(rp_plugin *self, rp_work_cb work, rp_work_done_cb done, void *arg)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !work)
        return RP_ERR_INVAL;
    int rc = api_enter(self);
    if (rc != 0)
        return rc;
    struct job *j = malloc(sizeof *j);
    if (!j) {
        api_leave(self);
        return RP_ERR_NOMEM;
    }
    j->plugin = self;
    j->work = work;
    j->done = done;
    j->arg = arg;
    rc = rp__workers_submit(self->host->workers, self, job_work, job_done, j);
    if (rc != 0)
        free(j);
    api_leave(self);
    return rc;
}

static int api_counter_register(rp_plugin *self, const char *name, uint64_t len, uint32_t *id)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !name || !id || len == 0 || len >= sizeof self->counters[0].name)
        return RP_ERR_INVAL;
    int rc = 0;
    rp__os_mutex_lock(self->lock);
    uint32_t n = atomic_load(&self->ncounters);
    for (uint32_t i = 0; i < n; i++) {
        if (strlen(self->counters[i].name) == len &&
            memcmp(self->counters[i].name, name, len) == 0) {
            *id = i;
            goto out;
        }
    }
    if (n >= MAX_COUNTERS) {
        rc = RP_ERR_FULL;
        goto out;
    }
    memcpy(self->counters[n].name, name, len);
    self->counters[n].name[len] = '\0';
    atomic_init(&self->counters[n].value, 0);
    atomic_store(&self->ncounters, n + 1);
    *id = n;
out:
    rp__os_mutex_unlock(self->lock);
    return rc;
}

static int api_counter_add(rp_plugin *self, uint32_t id, uint64_t delta)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || id >= atomic_load_explicit(&self->ncounters, memory_order_acquire))
        return RP_ERR_INVAL;
    atomic_fetch_add_explicit(&self->counters[id].value, delta, memory_order_relaxed);
    return 0;
}

static const rp_host_api host_api = {
    .struct_size = sizeof(rp_host_api),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = RP_ABI_MINOR,
    .log = api_log,
    .set_error = api_set_error,
    .alloc = rp__table_alloc,
    .realloc = rp__table_realloc,
    .free = rp__table_free,
    .config_get = api_config_get,
    .field_id = rp__hf_field_id, /* host_fields.c: also the 1.1 namespace rules */
    .event_create = api_event_create,
    .event_copy = api_event_copy,
    .event_publish = api_event_publish,
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
    .subscribe = api_subscribe,
    .fd_watch = api_fd_watch,
    .fd_unwatch = api_fd_unwatch,
    .timer_start = api_timer_start,
    .timer_stop = api_timer_stop,
    .work_submit = api_work_submit,
    .counter_register = api_counter_register,
    .counter_add = api_counter_add,
    .now_ns = rp__os_time_ns,
    .monotonic_ns = rp__os_monotonic_ns,
    /* 1.1: the field registry (host_fields.c). */
    .field_lookup = rp__hf_field_lookup,
    .field_info = rp__hf_field_info,
    .field_count = rp__hf_field_count,
    .field_provided = rp__hf_field_provided,
    .event_field_count = rp__hf_event_field_count,
    .event_field_at = rp__hf_event_field_at,
    /* 1.1: alerts and policy (host_alert.c). */
    .alert_create = rp__host_alert_create,
    /* 1.1: drops, gauges, services and the private folder (host_service.c). */
    .dropped_get = rp__host_api_dropped_get,
    .gauge_register = rp__host_api_gauge_register,
    .gauge_set = rp__host_api_gauge_set,
    .service_offer = rp__host_api_service_offer,
    .service_acquire = rp__host_api_service_acquire,
    .service_release = rp__host_api_service_release,
    .private_dir = rp__host_api_private_dir,
    /* 1.1: typed config getters (host_config.c). */
    .config_bool = rp__host_config_bool,
    .config_i64 = rp__host_config_i64,
    .config_str = rp__host_config_str,
    .config_str_array_count = rp__host_config_str_array_count,
    .config_str_array_item = rp__host_config_str_array_item,
    .config_json = rp__host_config_json,
    /* 1.1: plugin commands (host_command.c). */
    .command_reply = rp__host_api_command_reply,
};

const rp_host_api *rp__host_api(void)
{
    return &host_api;
}

int rp__host_create(const rp__host_opts *opts, rp__host **out)
{
    if (!opts->config_error || (!opts->load_only && (!opts->bus || !opts->loop)))
        return RP_ERR_INVAL;
    rp__host *h = calloc(1, sizeof *h);
    if (!h)
        return RP_ERR_NOMEM;
    h->opts = *opts;
    /* Room for the plugins a reload enables (host_reload.c). */
    int prc = rp__host_set_policy(h, opts->policy);
    if (prc != 0) {
        free(h);
        return prc;
    }
    size_t n = json_object_size(opts->plugins) + (opts->load_only ? 0 : RP__HOST_RELOAD_NEW_MAX);
    h->plugins = calloc(n ? n : 1, sizeof *h->plugins);
    h->cap = n;
    if (!h->plugins) {
        rp__host_policy_clear(h);
        free(h);
        return RP_ERR_NOMEM;
    }
    if (!h->opts.load_only) {
        h->bus = opts->bus;
        h->loop = opts->loop;
        rp__bus_stats st;
        rp__bus_stats_total(h->bus, &st);
        h->max_bytes = st.max_bytes;
        h->low_water = st.max_bytes / 4 * 3;
        int rc = rp__loop_set_hooks(h->loop, &plugin_hooks);
        if (rc == 0)
            rc = rp__host_endpoints_create(h);
        if (rc != 0) {
            rp__host_destroy(h);
            return rc;
        }
    }
    /* The URLs are borrowed for the call only. */
    h->opts.upload_url = h->opts.proxy_url = NULL;
    *out = h;
    return 0;
}

/* Logs why a lifecycle call failed, with the plugin's own message if any. */
static void call_failed(struct rp_plugin *p, const char *what, int rc)
{
    rp__os_mutex_lock(p->lock);
    snprintf(p->error, sizeof p->error, "%s failed: %s%s%.400s", what, rp_strerror(rc),
             p->last_msg[0] ? ": " : "", p->last_msg);
    rp__os_mutex_unlock(p->lock);
    rp__log_error("plugin %s (%s): %s; left off", p->name, p->desc.id, p->error);
}

/* Ends the plugin's subscriptions; the events still queued for it are
 * dropped and counted. */
static void unsubscribe_all(struct rp_plugin *p)
{
    events_off(p);
    for (uint32_t i = 0; i < p->nsubs; i++) {
        uint64_t discarded = 0;
        if (rp__bus_unsubscribe(p->host->bus, p->subs[i], &discarded) == 0)
            atomic_fetch_add(&p->lifecycle_dropped, discarded);
    }
    p->nsubs = 0;
}

/* Removes what the plugin left registered: subscriptions, watches, timers. */
static void release_resources(struct rp_plugin *p)
{
    rp__hf_set_live(p, 0); /* it failed or stops: its provides no longer count */
    rp__host_services_release(p);
    refuse_new(p);
    /* Events waiting at the gate go away uncalled: the plugin is off. */
    rp__host_gate_open(p, 0);
    /* No work or done callback of the plugin may run after its destroy:
     * jobs not started are cancelled, and every done runs (RP_ERR_STOPPED
     * for those) before this returns. */
    if (p->host->workers)
        rp__workers_cancel_owner(p->host->workers, p);
    unsubscribe_all(p);
    for (int i = 0; i < MAX_HANDLES; i++) {
        rp__os_mutex_lock(p->lock);
        struct handle *h = p->handles[i];
        p->handles[i] = NULL;
        rp__os_mutex_unlock(p->lock);
        if (!h)
            continue;
        if (h->is_timer)
            rp__loop_timer_cancel(p->host->loop, h->id);
        else
            rp__loop_unwatch(p->host->loop, h->id);
        free(h);
    }
}

struct barrier {
    rp__loop_task task;
    rp__os_mutex *lock;
    rp__os_cond *cond;
    int done;
};

static void barrier_fn(void *arg, int status)
{
    struct barrier *b = arg;
    (void)status;
    rp__os_mutex_lock(b->lock);
    b->done = 1;
    rp__os_cond_signal(b->cond);
    rp__os_mutex_unlock(b->lock);
}

/*
 * Waits until the loop thread has finished whatever callback it is running.
 * A plugin's callback may outlive the cancellation of its own timer or watch
 * (it cancelled itself and went on), so before destroy frees the plugin's
 * state, one trip through the loop proves no callback still uses it.
 * RP_ERR_TIMEOUT after 10 s: a callback is stuck.
 */
static int loop_barrier(rp__host *host)
{
    if (!rp__loop_is_running(host->loop) || rp__loop_in_loop_thread(host->loop))
        return 0;
    struct barrier b = {.task = {.fn = barrier_fn}};
    b.task.arg = &b;
    int rc = rp__os_mutex_create(&b.lock);
    if (rc == 0 && (rc = rp__os_cond_create(&b.cond)) == 0 &&
        (rc = rp__loop_post_task(host->loop, &b.task)) == 0) {
        int64_t deadline = rp__os_monotonic_ns() + (int64_t)10 * 1000000000;
        rp__os_mutex_lock(b.lock);
        while (!b.done && rc == 0) {
            int64_t left = deadline - rp__os_monotonic_ns();
            if (left <= 0)
                rc = RP_ERR_TIMEOUT;
            else
                rp__os_cond_timedwait(b.cond, b.lock, left / 1000000 + 1);
        }
        rp__os_mutex_unlock(b.lock);
        if (rc != 0)
            rp__loop_task_cancel(host->loop, &b.task);
    }
    rp__os_cond_destroy(b.cond);
    rp__os_mutex_destroy(b.lock);
    return rc;
}

/* Calls destroy once nothing of the plugin can run any more. */
static void plugin_destroy(struct rp_plugin *p)
{
    if (p->services_stuck) {
        rp__log_error("plugin %s: another plugin still holds its service; destroyed once "
                      "every plugin has stopped",
                      p->name);
        return;
    }
    int rc = loop_barrier(p->host);
    if (rc != 0) {
        /* Freeing state under a running callback would be worse than
         * leaking it at shutdown. */
        if (rc == RP_ERR_TIMEOUT)
            rp__log_error("plugin %s: a loop callback did not return within 10 s; not destroyed",
                          p->name);
        else
            rp__log_error("plugin %s: cannot wait for the loop (%s); not destroyed", p->name,
                          rp_strerror(rc));
        return;
    }
    uint64_t cr = rp__host_enter(p, RP__CR_DESTROY);
    p->desc.destroy(p, p->state);
    rp__host_leave(cr);
    p->state = NULL;
}

static void plugin_init(struct rp_plugin *p)
{
    /* Its subscriptions deliver nothing before start returned, and its
     * watch, timer and job calls are taken again. */
    rp__host_gate_close(p);
    atomic_store(&p->stopping, 0);
    uint64_t cr = rp__host_enter(p, RP__CR_INIT);
    int rc = p->desc.init(p, &host_api, &p->state);
    rp__host_leave(cr);
    if (rc != 0) {
        call_failed(p, "init", rc);
        release_resources(p);
        p->pstate = RP__PLUGIN_FAILED;
        return;
    }
    p->pstate = RP__PLUGIN_INITIALIZED;
}

static void plugin_start(struct rp_plugin *p)
{
    uint64_t cr = rp__host_enter(p, RP__CR_START);
    int rc = p->desc.start(p, p->state);
    rp__host_leave(cr);
    if (rc != 0) {
        call_failed(p, "start", rc);
        release_resources(p);
        plugin_destroy(p);
        p->pstate = RP__PLUGIN_FAILED;
        return;
    }
    p->pstate = RP__PLUGIN_RUNNING;
    rp__host_command_open(p);
    rp__host_gate_open(p, 1);
    rp__log_info("plugin %s: running", p->name);
}

/* Collectors start last and stop first, so that every subscriber is there
 * before events flow and after they stop. */
static int kind_rank(const struct rp_plugin *p)
{
    return p->desc.kind == RP_KIND_COLLECTOR ? 2 : p->desc.kind == RP_KIND_DETECTOR ? 1 : 0;
}

/* Stops a running plugin and destroys it. */
static void plugin_stop(struct rp_plugin *p)
{
    /* No more events into a plugin that is stopping (those still queued for
     * it are counted), and nothing new for the host to clean up after it. */
    unsubscribe_all(p);
    refuse_new(p);
    /* No command runs after stop; one stuck past the bound keeps the state
     * alive (not destroyed) rather than freed under it. */
    int quiet = rp__host_command_close(p) == 0;
    rp__host_services_withdraw(p);
    uint64_t cr = rp__host_enter(p, RP__CR_STOP);
    int rc = p->desc.stop(p, p->state);
    rp__host_leave(cr);
    if (rc != 0)
        call_failed(p, "stop", rc);
    release_resources(p);
    if (quiet)
        plugin_destroy(p);
    p->pstate = RP__PLUGIN_STOPPED;
}

/* 1.1: live reload (host_reload.c): one plugin's lifecycle. */
void rp__host_plugin_up(struct rp_plugin *p)
{
    plugin_init(p);
    if (p->pstate == RP__PLUGIN_INITIALIZED)
        plugin_start(p);
}

void rp__host_plugin_down(struct rp_plugin *p)
{
    if (p->pstate == RP__PLUGIN_RUNNING) {
        plugin_stop(p);
    } else if (p->pstate == RP__PLUGIN_INITIALIZED) {
        release_resources(p);
        plugin_destroy(p);
        p->pstate = RP__PLUGIN_STOPPED;
    }
}

const rp__loop_hooks *rp__host_hooks(void)
{
    return &plugin_hooks;
}

int rp__host_start(rp__host *host, rp__workers *workers)
{
    if (host->opts.load_only || !workers || host->started)
        return RP_ERR_INVAL;
    host->workers = workers;
    host->started = 1;
    int crc = rp__host_command_setup(host);
    if (crc != 0) /* the plugins run; rampartctl is told they take no commands */
        rp__log_warn("plugin commands not available: %s", rp_strerror(crc));
    for (size_t i = 0; i < host->nplugins; i++)
        if (host->plugins[i]->pstate == RP__PLUGIN_LOADED)
            plugin_init(host->plugins[i]);
    for (int rank = 0; rank <= 2; rank++)
        for (size_t i = 0; i < host->nplugins; i++)
            if (host->plugins[i]->pstate == RP__PLUGIN_INITIALIZED &&
                kind_rank(host->plugins[i]) == rank)
                plugin_start(host->plugins[i]);
    return 0;
}

/* Appends "; " (after the first) and text to buf (len bytes), cut to fit. */
static void append_text(char *buf, size_t len, const char *text)
{
    if (!buf || !len)
        return;
    size_t at = strnlen(buf, len - 1);
    snprintf(buf + at, len - at, "%s%s", at ? "; " : "", text);
}

size_t rp__host_stop_kind(rp__host *host, uint32_t kind, int64_t deadline_ns, char *gave_up,
                          size_t len)
{
    size_t n = 0;
    if (!host || !host->started)
        return 0;
    for (size_t i = host->nplugins; i-- > 0;) {
        struct rp_plugin *p = host->plugins[i];
        if (p->pstate != RP__PLUGIN_RUNNING || p->desc.kind != kind || atomic_load(&p->abandoned))
            continue;
        /* Its events are turned away from now on; then the calls of it
         * under way get until the deadline to return. */
        rp__host_gate_open(p, 0);
        uint32_t ck = RP__CR_NONE;
        /* The calls under way now (not the ones after: a busy fd watch is
         * called again and again until plugin_stop removes it). */
        rp__call_snap snap;
        /* Commands are ended by the plugin's stop itself (host_command.c,
         * bounded): waiting for them here would wait for nothing. */
        rp__watchdog_snap(p->cr_index, 1u << RP__CR_COMMAND, &snap);
        int hung = rp__watchdog_snap_pending(&snap, &ck) && rp__callrec_table &&
                   atomic_load(&rp__callrec_table->plugins[p->cr_index - 1].hung);
        while (!hung && rp__watchdog_snap_pending(&snap, &ck) &&
               rp__os_monotonic_ns() < deadline_ns) {
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        if (hung || rp__watchdog_snap_pending(&snap, &ck)) {
            /* A thread inside a plugin cannot be cancelled safely: leave it
             * there, and never call or wait for the plugin again. */
            atomic_store(&p->abandoned, 1);
            char what[256];
            snprintf(what, sizeof what, "plugin %s (%s in %s)", p->name, hung ? "hung" : "still",
                     rp__callrec_kind_name(ck));
            rp__log_error("stop: gave up on %s: its call did not return; not stopped", what);
            append_text(gave_up, len, what);
            n++;
            continue;
        }
        plugin_stop(p);
    }
    return n;
}

void rp__host_stop(rp__host *host)
{
    if (!host || !host->started)
        return;
    for (int rank = 2; rank >= 0; rank--) {
        for (size_t i = host->nplugins; i-- > 0;) {
            struct rp_plugin *p = host->plugins[i];
            if (p->pstate != RP__PLUGIN_RUNNING || kind_rank(p) != rank ||
                atomic_load(&p->abandoned))
                continue;
            plugin_stop(p);
        }
    }
    /* Plugins that were initialized but never started. */
    for (size_t i = 0; i < host->nplugins; i++) {
        struct rp_plugin *p = host->plugins[i];
        if (p->pstate == RP__PLUGIN_INITIALIZED) {
            release_resources(p);
            plugin_destroy(p);
            p->pstate = RP__PLUGIN_STOPPED;
        }
    }
    rp__host_command_teardown(host, 0);
    /* Providers whose destroy waited for a hold on their service: every
     * holder has stopped now and its holds were released (host_service.c). */
    for (size_t i = 0; i < host->nplugins; i++) {
        struct rp_plugin *p = host->plugins[i];
        if (p->services_stuck) {
            p->services_stuck = 0;
            plugin_destroy(p);
        }
    }
    host->workers = NULL;
    host->started = 0;
}

void rp__host_destroy(rp__host *host)
{
    if (!host)
        return;
    rp__host_stop(host);
    /* The libraries stay mapped: ARCHITECTURE §3 rule 10. A plugin the stop
     * gave up on keeps its record: a thread is still inside it. */
    for (size_t i = 0; i < host->nplugins; i++)
        if (!atomic_load(&host->plugins[i]->abandoned))
            rp__host_plugin_free(host->plugins[i]);
    rp__host_command_teardown(host, 1);
    rp__host_endpoints_destroy(host);
    rp__host_sig_keys_free(host);
    free(host->plugins);
    rp__host_policy_clear(host);
    free(host);
}

size_t rp__host_plugin_count(const rp__host *host)
{
    return host->nplugins;
}

int rp__host_plugin_info(const rp__host *host, size_t index, rp__plugin_info *out)
{
    if (index >= host->nplugins)
        return RP_ERR_RANGE;
    const struct rp_plugin *p = host->plugins[index];
    memset(out, 0, sizeof *out);
    out->name = p->name;
    out->path = p->path;
    out->id = p->desc.id;
    out->version = p->desc.version;
    out->vendor = p->desc.vendor;
    out->kind = p->desc.kind;
    out->state = p->pstate;
    out->error = p->error;
    struct rp_plugin *mp = (struct rp_plugin *)p;
    out->published = atomic_load(&mp->published);
    out->publish_full = atomic_load(&mp->publish_full);
    out->suspensions = atomic_load(&mp->suspensions);
    out->suspended = atomic_load(&mp->suspended);
    /* Delivered and dropped: summed over the plugin's subscriptions. */
    for (uint32_t i = 0; i < p->nsubs; i++) {
        rp__bus_sub_stats st;
        if (host->bus && rp__bus_stats_sub(host->bus, p->subs[i], &st) == 0) {
            out->delivered += st.delivered;
            out->dropped += st.dropped;
        }
    }
    rp__bus_usage use;
    rp__bus_owner_usage(host->bus, p->index, &use);
    out->cpu_ns = atomic_load(&mp->cpu_ns) + use.cpu_ns;
    out->share_dropped = use.share_dropped;
    out->held_bytes = use.held_bytes;
    out->budget_dropped = atomic_load(&mp->budget_dropped);
    out->hung_dropped = atomic_load(&mp->hung_dropped);
    int refuse = atomic_load(&mp->refuse_events);
    out->over_cpu_budget = (refuse & RP__REFUSE_CPU) != 0;
    out->hung = p->cr_index && rp__callrec_table &&
                atomic_load(&rp__callrec_table->plugins[p->cr_index - 1].hung) != 0;
    out->abandoned = atomic_load(&mp->abandoned) != 0;
    out->lifecycle_dropped = atomic_load(&mp->lifecycle_dropped);
    out->ncounters = atomic_load_explicit(&mp->ncounters, memory_order_acquire);
    out->caps_declared = rp__host_plugin_caps(p, &out->capabilities) == 0;
    out->file_reloads = atomic_load(&mp->file_reloads_seen);
    out->file_reloads_refused = atomic_load(&mp->file_reloads_refused);
    if (p->iso) {
        rp__iso_stats is;
        rp__iso_get_stats(p->iso, &is);
        out->isolated = 1;
        out->sandbox_pid = is.pid;
        out->sandbox_restarts = is.restarts;
        out->sandbox_lost = is.lost;
    }
    return 0;
}

int rp__host_plugin_counter(const rp__host *host, size_t index, uint32_t counter, const char **name,
                            uint64_t *value)
{
    if (index >= host->nplugins)
        return RP_ERR_RANGE;
    struct rp_plugin *p = host->plugins[index];
    if (counter >= atomic_load_explicit(&p->ncounters, memory_order_acquire))
        return RP_ERR_RANGE;
    *name = p->counters[counter].name;
    *value = atomic_load_explicit(&p->counters[counter].value, memory_order_relaxed);
    return 0;
}

void rp__host_flow_stats(const rp__host *host, rp__host_flow *out)
{
    memset(out, 0, sizeof *out);
    rp__bus_stats st = {0};
    if (host->bus)
        rp__bus_stats_total(host->bus, &st);
    out->queued_bytes = st.queued_bytes;
    out->peak_bytes = st.peak_bytes;
    out->max_bytes = st.max_bytes;
    out->refused_full = st.full;
    rp__host *h = (rp__host *)host;
    out->episodes = atomic_load(&h->episodes);
    out->suspensions = atomic_load(&h->suspensions);
    out->suspended_now = atomic_load(&h->suspended_now);
    out->abandoned = st.abandoned;
    out->rss_ceiling = h->opts.rss_ceiling;
    out->rss_last = atomic_load(&h->rss_last);
    out->rss_refused = atomic_load(&h->rss_refused);
    out->rss_episodes = atomic_load(&h->rss_episodes);
    out->rss_over = (uint32_t)atomic_load(&h->rss_over);
}

void rp__host_refused_by_type(const rp__host *host,
                              void (*cb)(void *arg, const char *type, uint64_t refused), void *arg)
{
    if (!host->bus)
        return;
    uint32_t n = rp__topic_count();
    for (uint32_t t = 1; t <= n && t <= RP__TOPIC_MAX; t++) {
        rp__bus_topic_stats ts;
        if (rp__bus_stats_topic(host->bus, t, &ts) == 0 && ts.full)
            cb(arg, rp__topic_name(t), ts.full);
    }
}
