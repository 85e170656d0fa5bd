/* core/runtime/watchdog.c - callback deadlines and per-plugin budgets
 * (watchdog.h). It reads the plugin records of the host (host_private.h),
 * as the host's own files do. */
#include "runtime/watchdog.h"
#include "runtime/bus.h"
#include "runtime/faults.h"
#include "runtime/host_private.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_MARGIN_NS ((int64_t)2000 * 1000000)

/* What the watchdog last saw in one call-record slot. */
struct wd_slot {
    uint32_t tid, seq, plugin, kind;
    int64_t since_ns; /* when it first saw this seq */
    int reported;     /* this call was reported as a hang */
};

/* Per plugin record of the host (same index), for the budgets. */
struct wd_plugin {
    struct rp_plugin *p; /* the record the figures below belong to */
    int64_t win_start_ns;
    uint64_t win_cpu0;
    int64_t cpu_alert_ns; /* last CPU alert, 0 = none */
    uint64_t share_seen;  /* share drops already alerted */
    int64_t share_alert_ns;
};

struct rp__watchdog {
    rp__watchdog_opts o;
    rp__os_thread *thread;
    rp__os_mutex *lock;
    rp__os_cond *cond;
    int quit;               /* under lock */
    int64_t last_resort_ns; /* action restart: exit by then; 0 = not asked */
    struct wd_slot slots[RP__CR_SLOTS];
    struct wd_plugin *plugins;
    size_t nplugins; /* room in plugins */
};

uint32_t rp__deadline_of(const rp__deadlines *d, uint32_t kind, const char **key)
{
    const char *k = NULL;
    uint32_t ms = 0;
    switch (kind) {
    case RP__CR_EVENT:
        k = "event_ms", ms = d->event_ms;
        break;
    case RP__CR_COMMAND:
        k = "command_ms", ms = d->command_ms;
        break;
    case RP__CR_TIMER:
    case RP__CR_JOB_DONE:
        k = "timer_ms", ms = d->timer_ms;
        break;
    case RP__CR_FD:
        k = "fd_ms", ms = d->fd_ms;
        break;
    case RP__CR_JOB:
        k = "job_ms", ms = d->job_ms;
        break;
    case RP__CR_ENTRY:
    case RP__CR_CHECK_CONFIG:
    case RP__CR_INIT:
        k = "init_ms", ms = d->init_ms;
        break;
    case RP__CR_START:
        k = "start_ms", ms = d->start_ms;
        break;
    case RP__CR_STOP:
    case RP__CR_DESTROY:
        k = "stop_ms", ms = d->stop_ms;
        break;
    case RP__CR_RECONFIGURE:
        k = "reconfigure_ms", ms = d->reconfigure_ms;
        break;
    default:
        break;
    }
    if (key)
        *key = k ? k : "?";
    return ms;
}

int rp__watchdog_in_call(uint32_t cr_index, uint32_t *kind)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr || cr_index == 0)
        return 0;
    for (uint32_t i = 0; i < RP__CR_SLOTS; i++) {
        struct rp__cr_slot *s = &cr->slots[i];
        if (atomic_load_explicit(&s->tid, memory_order_relaxed) == 0 ||
            atomic_load_explicit(&s->plugin, memory_order_relaxed) != cr_index)
            continue;
        uint32_t k = atomic_load_explicit(&s->kind, memory_order_relaxed);
        if (k == RP__CR_NONE)
            continue;
        if (kind)
            *kind = k;
        return 1;
    }
    return 0;
}

uint32_t rp__watchdog_snap(uint32_t cr_index, uint32_t skip, rp__call_snap *snap)
{
    struct rp__callrec *cr = rp__callrec_table;
    snap->n = 0;
    if (!cr || cr_index == 0)
        return 0;
    for (uint32_t i = 0; i < RP__CR_SLOTS; i++) {
        struct rp__cr_slot *s = &cr->slots[i];
        /* seq first: a slot that moves on after it was read is then seen
         * as moved, never a new call as the old one. */
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (atomic_load_explicit(&s->tid, memory_order_relaxed) == 0 ||
            atomic_load_explicit(&s->plugin, memory_order_relaxed) != cr_index)
            continue;
        uint32_t k = atomic_load_explicit(&s->kind, memory_order_relaxed);
        if (k == RP__CR_NONE || (k < 32 && (skip & (1u << k))))
            continue;
        snap->slot[snap->n] = (uint16_t)i;
        snap->seq[snap->n] = seq;
        snap->kind[snap->n] = k;
        snap->n++;
    }
    return snap->n;
}

int rp__watchdog_snap_pending(const rp__call_snap *snap, uint32_t *kind)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr)
        return 0;
    for (uint32_t j = 0; j < snap->n; j++) {
        if (atomic_load_explicit(&cr->slots[snap->slot[j]].seq, memory_order_acquire) ==
            snap->seq[j]) {
            if (kind)
                *kind = snap->kind[j];
            return 1;
        }
    }
    return 0;
}

/* The host's record of call-record index idx (+ 1), or NULL. */
static struct rp_plugin *plugin_of(rp__watchdog *w, uint32_t idx)
{
    rp__host *h = w->o.host;
    size_t n = h ? __atomic_load_n(&h->nplugins, __ATOMIC_ACQUIRE) : 0;
    for (size_t i = 0; i < n; i++)
        if (h->plugins[i] && h->plugins[i]->cr_index == idx)
            return h->plugins[i];
    return NULL;
}

static const char *name_of(uint32_t idx)
{
    struct rp__callrec *cr = rp__callrec_table;
    return cr && idx && idx <= RP__CR_PLUGINS && cr->plugins[idx - 1].name[0]
               ? cr->plugins[idx - 1].name
               : "?";
}

/* Marks or clears the hung state of plugin idx (both records). */
static void set_hung(rp__watchdog *w, uint32_t idx, int hung)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (cr && idx && idx <= RP__CR_PLUGINS)
        atomic_store(&cr->plugins[idx - 1].hung, (uint32_t)hung);
    struct rp_plugin *p = plugin_of(w, idx);
    if (!p)
        return;
    if (hung)
        atomic_fetch_or(&p->refuse_events, RP__REFUSE_HUNG);
    else
        atomic_fetch_and(&p->refuse_events, ~RP__REFUSE_HUNG);
}

/* Is another slot still in a reported hang of plugin idx? */
static int still_hung(const rp__watchdog *w, uint32_t idx, size_t except)
{
    for (size_t i = 0; i < RP__CR_SLOTS; i++)
        if (i != except && w->slots[i].reported && w->slots[i].plugin == idx)
            return 1;
    return 0;
}

static void report_hang(rp__watchdog *w, struct wd_slot *s, int64_t now, uint32_t deadline,
                        const char *key)
{
    struct rp__callrec *cr = rp__callrec_table;
    const char *name = name_of(s->plugin);
    const char *cb = rp__callrec_kind_name(s->kind);
    long long ms = (long long)((now - s->since_ns) / 1000000);
    set_hung(w, s->plugin, 1);
    char detail[RP__CR_TEXT_MAX];
    snprintf(detail, sizeof detail,
             "plugin %s hung in %s: the call has not returned after %lld ms "
             "(agent.deadlines.%s %u)",
             name, cb, ms, key, deadline);
    rp__log_error("%s; events to it are dropped and counted%s", detail,
                  w->o.restart ? "; the worker stops to start again without it running"
                               : " (agent.deadlines.action report)");
    if (w->o.alert) {
        char msg[RP__CR_TEXT_MAX + 128];
        snprintf(msg, sizeof msg, "%s; %s", detail,
                 w->o.restart ? "the worker restarts (the supervisor counts it as a fault)"
                              : "it is marked hung and gets no events until it returns");
        w->o.alert(w->o.arg, "rampart.plugin.hung", "Plugin hung: a callback overran its deadline",
                   73, msg);
    }
    const struct rp__cr_plugin *rec =
        cr && s->plugin && s->plugin <= RP__CR_PLUGINS ? &cr->plugins[s->plugin - 1] : NULL;
    if (!w->o.restart) {
        /* The worker survives this one: the ledger hears it from here. */
        struct rp__fault f = {.plugin = name,
                              .path = rec ? rec->path : NULL,
                              .dev = rec ? rec->dev : 0,
                              .ino = rec ? rec->ino : 0,
                              .size = rec ? rec->size : 0,
                              .mtime_ns = rec ? rec->mtime_ns : 0,
                              .kind = RP__FAULT_HANG,
                              .callback = cb,
                              .detail = detail};
        rp__faults_report(&f);
        return;
    }
    /* The supervisor reads this after the worker exited: first cause wins. */
    if (cr && atomic_load(&cr->exit.cause) == RP__CR_EXIT_NONE) {
        cr->exit.plugin = s->plugin;
        cr->exit.kind = s->kind;
        snprintf(cr->exit.detail, sizeof cr->exit.detail, "%s", detail);
        atomic_store_explicit(&cr->exit.cause, RP__CR_EXIT_HANG, memory_order_release);
    }
    if (w->last_resort_ns == 0) {
        w->last_resort_ns = now + (int64_t)w->o.stop_grace_ms * 1000000 + EXIT_MARGIN_NS;
        if (w->o.stop)
            w->o.stop(w->o.arg);
    }
}

static void check_slots(rp__watchdog *w, int64_t now)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr)
        return;
    for (size_t i = 0; i < RP__CR_SLOTS; i++) {
        struct rp__cr_slot *sl = &cr->slots[i];
        struct wd_slot *s = &w->slots[i];
        uint32_t tid = atomic_load_explicit(&sl->tid, memory_order_relaxed);
        uint32_t seq = atomic_load_explicit(&sl->seq, memory_order_relaxed);
        if (tid == s->tid && seq == s->seq && tid != 0) {
            if (s->reported || s->plugin == 0 || s->kind == RP__CR_NONE)
                continue;
            const char *key;
            uint32_t deadline = rp__deadline_of(&w->o.deadlines, s->kind, &key);
            if (deadline && now - s->since_ns >= (int64_t)deadline * 1000000) {
                s->reported = 1;
                report_hang(w, s, now, deadline, key);
            }
            continue;
        }
        /* The slot moved on (or its thread went): the call it was in ended. */
        if (s->reported) {
            s->reported = 0;
            rp__log_warn("plugin %s: the hung %s call returned after %lld ms", name_of(s->plugin),
                         rp__callrec_kind_name(s->kind),
                         (long long)((now - s->since_ns) / 1000000));
            if (!still_hung(w, s->plugin, i))
                set_hung(w, s->plugin, 0);
        }
        s->tid = tid;
        s->seq = seq;
        s->plugin = atomic_load_explicit(&sl->plugin, memory_order_relaxed);
        s->kind = atomic_load_explicit(&sl->kind, memory_order_relaxed);
        s->since_ns = now;
    }
}

static void check_budgets(rp__watchdog *w, int64_t now)
{
    rp__host *h = w->o.host;
    if (!h)
        return;
    size_t n = __atomic_load_n(&h->nplugins, __ATOMIC_ACQUIRE);
    if (n > w->nplugins)
        n = w->nplugins;
    int64_t window = (int64_t)w->o.window_s * 1000000000;
    for (size_t i = 0; i < n; i++) {
        struct rp_plugin *p = h->plugins[i];
        struct wd_plugin *wp = &w->plugins[i];
        if (!p || atomic_load(&p->abandoned))
            continue;
        if (wp->p != p) {
            memset(wp, 0, sizeof *wp);
            wp->p = p;
        }
        rp__bus_usage use;
        rp__bus_owner_usage(h->bus, p->index, &use);
        uint64_t cpu = atomic_load_explicit(&p->cpu_ns, memory_order_relaxed) + use.cpu_ns;
        uint32_t pct = p->cpu_percent >= 0 ? (uint32_t)p->cpu_percent : w->o.cpu_percent;
        uint64_t budget = (uint64_t)pct * (uint64_t)window / 100;
        if (wp->win_start_ns == 0 || now - wp->win_start_ns >= window) {
            if (wp->win_start_ns && (atomic_load(&p->refuse_events) & RP__REFUSE_CPU)) {
                atomic_fetch_and(&p->refuse_events, ~RP__REFUSE_CPU);
                rp__log_info("plugin %s: a new CPU budget window; events to it are delivered "
                             "again (%llu dropped so far)",
                             p->name, (unsigned long long)atomic_load(&p->budget_dropped));
            }
            wp->win_start_ns = now;
            wp->win_cpu0 = cpu;
        } else if (pct && !(atomic_load(&p->refuse_events) & RP__REFUSE_CPU) &&
                   cpu - wp->win_cpu0 > budget) {
            atomic_fetch_or(&p->refuse_events, RP__REFUSE_CPU);
            char msg[512];
            snprintf(msg, sizeof msg,
                     "plugin %s used %llu ms of CPU in %lld ms, over its budget of %u%% of one "
                     "CPU over %u s (%s): events to it are dropped and counted until the window "
                     "ends",
                     p->name, (unsigned long long)((cpu - wp->win_cpu0) / 1000000),
                     (long long)((now - wp->win_start_ns) / 1000000), pct, w->o.window_s,
                     p->cpu_percent >= 0 ? "its plugins entry's cpu_percent"
                                         : "agent.plugin_budget.cpu_percent");
            rp__log_warn("%s", msg);
            if (w->o.alert && (wp->cpu_alert_ns == 0 || now - wp->cpu_alert_ns >= window)) {
                wp->cpu_alert_ns = now;
                w->o.alert(w->o.arg, "rampart.plugin.cpu_budget", "Plugin over its CPU budget", 47,
                           msg);
            }
        }
        if (use.share_dropped > wp->share_seen &&
            (wp->share_alert_ns == 0 || now - wp->share_alert_ns >= window)) {
            char msg[512];
            snprintf(msg, sizeof msg,
                     "plugin %s falls behind: %llu events to it dropped at its share of the "
                     "bus's byte cap (agent.plugin_budget.bus_share_percent), %llu in all",
                     p->name, (unsigned long long)(use.share_dropped - wp->share_seen),
                     (unsigned long long)use.share_dropped);
            wp->share_seen = use.share_dropped;
            wp->share_alert_ns = now;
            rp__log_warn("%s", msg);
            if (w->o.alert)
                w->o.alert(w->o.arg, "rampart.plugin.bus_share",
                           "Plugin over its share of the bus's memory", 47, msg);
        }
    }
}

void rp__watchdog_sample(rp__watchdog *w, int64_t now_ns)
{
    if (!w)
        return;
    check_slots(w, now_ns);
    check_budgets(w, now_ns);
    if (w->last_resort_ns && now_ns >= w->last_resort_ns) {
        /* Asked to stop for a hang and still here: the control thread is the
         * one inside the plugin (init, start), so nothing else will end the
         * worker. */
        rp__log_error("watchdog: the worker did not stop within agent.stop_grace_ms after a "
                      "hang (%s); exiting now",
                      rp__callrec_table ? rp__callrec_table->exit.detail : "?");
        if (w->o.flush)
            w->o.flush(w->o.arg);
        rp__log_close();
        _Exit(70); /* RP_EX_SOFTWARE */
    }
}

int rp__watchdog_create(const rp__watchdog_opts *opts, rp__watchdog **out)
{
    if (!opts || !out || opts->window_s == 0 || opts->sample_ms == 0)
        return RP_ERR_INVAL;
    *out = NULL;
    int rc = rp__callrec_init();
    if (rc != 0)
        return rc;
    rp__watchdog *w = calloc(1, sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    w->o = *opts;
    /* Room for every record the host can hold (reloads append up to cap). */
    w->nplugins = !opts->host ? 0 : opts->host->cap ? opts->host->cap : opts->host->nplugins;
    w->plugins = calloc(w->nplugins ? w->nplugins : 1, sizeof *w->plugins);
    if (!w->plugins || rp__os_mutex_create(&w->lock) != 0 || rp__os_cond_create(&w->cond) != 0) {
        rp__watchdog_destroy(w);
        return RP_ERR_NOMEM;
    }
    *out = w;
    return 0;
}

void rp__watchdog_destroy(rp__watchdog *w)
{
    if (!w)
        return;
    rp__os_cond_destroy(w->cond);
    rp__os_mutex_destroy(w->lock);
    free(w->plugins);
    free(w);
}

static void watchdog_main(void *arg)
{
    rp__watchdog *w = arg;
    rp__os_mutex_lock(w->lock);
    while (!w->quit) {
        rp__os_cond_timedwait(w->cond, w->lock, (int64_t)w->o.sample_ms);
        if (w->quit)
            break;
        rp__os_mutex_unlock(w->lock);
        rp__watchdog_sample(w, rp__os_monotonic_ns());
        rp__os_mutex_lock(w->lock);
    }
    rp__os_mutex_unlock(w->lock);
}

int rp__watchdog_start(const rp__watchdog_opts *opts, rp__watchdog **out)
{
    int rc = rp__watchdog_create(opts, out);
    if (rc != 0)
        return rc;
    rc = rp__os_thread_start(&(*out)->thread, "rp-watchdog", watchdog_main, *out);
    if (rc != 0) {
        rp__watchdog_destroy(*out);
        *out = NULL;
    }
    return rc;
}

void rp__watchdog_stop(rp__watchdog *w)
{
    if (!w)
        return;
    if (w->thread) {
        rp__os_mutex_lock(w->lock);
        w->quit = 1;
        rp__os_cond_signal(w->cond);
        rp__os_mutex_unlock(w->lock);
        rp__os_thread_join(w->thread);
    }
    rp__watchdog_destroy(w);
}
