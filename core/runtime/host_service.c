/*
 * core/runtime/host_service.c - ABI 1.1 host calls for a plugin's view of
 * itself and of its neighbours: the events its subscriptions dropped
 * (dropped_get), gauges, services offered and acquired between plugins, and
 * the plugin's private folder.
 *
 * Services. One registry per process (a process runs one agent; the tests
 * run hosts one after another), guarded by one lock: offers and holds are
 * rare calls, never on an event's path. An offer names its host, so two
 * hosts never see each other's. Lifetimes (sdk/docs/services.md):
 * - an offer is made at init or start and lasts until the provider stops;
 * - before the provider's stop the host withdraws its offers (acquire finds
 *   them no more), then waits up to HOLD_WAIT_MS for the holds on them to
 *   be released. A hold that outlives the wait is logged naming both
 *   plugins; the provider then stops anyway but is destroyed only once every
 *   plugin has stopped (its holders' holds are released then), so a late
 *   call through its table reaches a stopped plugin instead of freed memory;
 * - holds a plugin still has when it stops are released by the host and
 *   logged as that plugin's bug.
 */
#include "lib/log.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_thread.h"
#include "runtime/bus.h"
#include "runtime/host.h"
#include "runtime/host_private.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE_NAME_MAX     128u /* bytes of a service name, as for plugin ids */
#define MAX_OFFERS           64   /* offers in the agent: RP_ERR_FULL */
#define MAX_HOLDS            512  /* holds in the agent: RP_ERR_FULL */
#define MAX_HOLDS_PER_PLUGIN 64   /* so that one leaking plugin cannot starve the others */
#define HOLD_WAIT_MS         2000 /* how long a provider's stop waits for holds */
/* Names the host keeps for services it offers itself. */
#define HOST_PREFIX "org.rampart.host."

struct offer {
    rp__host *host;
    struct rp_plugin *provider;
    char name[SERVICE_NAME_MAX + 1];
    uint32_t version;
    const void *table;
    int used;      /* the slot holds an offer, live or withdrawn */
    int withdrawn; /* acquire no longer finds it; the slot frees with its last hold */
    uint32_t holds;
};

struct hold {
    uint64_t id; /* 0: free slot */
    struct rp_plugin *holder;
    struct offer *offer;
};

static struct {
    rp__os_mutex *lock;
    rp__os_cond *released; /* a hold was released */
    int ok;
    struct offer offers[MAX_OFFERS];
    struct hold holds[MAX_HOLDS];
    uint64_t next_hold;
} reg;

static rp__os_once_flag reg_once = RP__OS_ONCE_INIT;

static void reg_init(void *arg)
{
    (void)arg;
    if (rp__os_mutex_create(&reg.lock) != 0)
        return;
    if (rp__os_cond_create(&reg.released) != 0) {
        rp__os_mutex_destroy(reg.lock);
        return;
    }
    reg.ok = 1;
}

/* Locks the registry, made at first use and kept for the process. */
static int reg_lock(void)
{
    rp__os_once(&reg_once, reg_init, NULL);
    if (!reg.ok)
        return RP_ERR_NOMEM;
    rp__os_mutex_lock(reg.lock);
    return 0;
}

static void reg_unlock(void)
{
    rp__os_mutex_unlock(reg.lock);
}

static unsigned ver_major(uint32_t v)
{
    return v >> 16;
}

static unsigned ver_minor(uint32_t v)
{
    return v & 0xffffu;
}

/* Reverse DNS as for plugin ids: two or more dot-separated labels of
 * [a-z0-9_-], at most SERVICE_NAME_MAX bytes. */
static int name_valid(const char *name, uint64_t len)
{
    int dots = 0;
    if (len == 0 || len > SERVICE_NAME_MAX || name[0] == '.' || name[len - 1] == '.')
        return 0;
    for (uint64_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '.') {
            if (i + 1 < len && name[i + 1] == '.')
                return 0;
            dots++;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            return 0;
        }
    }
    return dots >= 1;
}

static const char *provider_name(const struct offer *o)
{
    return o->provider ? o->provider->name : "the host";
}

/* Frees a withdrawn offer's slot once nothing holds it. Registry locked. */
static void offer_maybe_free(struct offer *o)
{
    if (o->used && o->withdrawn && o->holds == 0)
        memset(o, 0, sizeof *o);
}

/* Drops hold h. Registry locked. */
static void hold_drop(struct hold *h)
{
    struct offer *o = h->offer;
    memset(h, 0, sizeof *h);
    o->holds--;
    offer_maybe_free(o);
    rp__os_cond_broadcast(reg.released);
}

static void service_log(struct rp_plugin *p, const char *what, const char *name, uint64_t len,
                        uint32_t version, int rc)
{
    rp__log_debug("plugin %s: %s service %.*s %u.%u: %s", p->name, what, (int)len, name,
                  ver_major(version), ver_minor(version), rp_strerror(rc));
}

/* Records an offer of name by provider (NULL: the host h itself). When
 * RP_ERR_EXISTS, who (whocap bytes) names the one already made, copied
 * under the lock for the caller's log line. */
static int offer_add(rp__host *h, struct rp_plugin *provider, const char *name, uint64_t len,
                     uint32_t version, const void *table, char *who, size_t whocap)
{
    int rc = reg_lock();
    if (rc != 0)
        return rc;
    struct offer *free_slot = NULL;
    for (int i = 0; i < MAX_OFFERS; i++) {
        struct offer *o = &reg.offers[i];
        if (!o->used) {
            if (!free_slot)
                free_slot = o;
        } else if (!o->withdrawn && o->host == h && strlen(o->name) == len &&
                   memcmp(o->name, name, (size_t)len) == 0) {
            snprintf(who, whocap, "%s", provider_name(o));
            reg_unlock();
            return RP_ERR_EXISTS;
        }
    }
    if (!free_slot) {
        reg_unlock();
        return RP_ERR_FULL;
    }
    free_slot->used = 1;
    free_slot->host = h;
    free_slot->provider = provider;
    memcpy(free_slot->name, name, (size_t)len);
    free_slot->name[len] = '\0';
    free_slot->version = version;
    free_slot->table = table;
    reg_unlock();
    return 0;
}

int rp__host_api_service_offer(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                               const void *table)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !name || !table || !name_valid(name, len))
        return RP_ERR_INVAL;
    /* Offers are made while the plugin comes up (pstate LOADED during init,
     * INITIALIZED during start), as subscriptions are. */
    if (self->pstate != RP__PLUGIN_LOADED && self->pstate != RP__PLUGIN_INITIALIZED)
        return RP_ERR_BUSY;
    if (len >= sizeof HOST_PREFIX - 1 && memcmp(name, HOST_PREFIX, sizeof HOST_PREFIX - 1) == 0) {
        service_log(self, "offer of", name, len, version, RP_ERR_PERM);
        return RP_ERR_PERM;
    }
    char who[128] = ""; /* a plugin name, cut in the log line if longer */
    int rc = offer_add(self->host, self, name, len, version, table, who, sizeof who);
    if (rc == RP_ERR_EXISTS)
        rp__log_warn("plugin %s: service %.*s is offered already by %s; offer refused", self->name,
                     (int)len, name, who);
    else if (rc == RP_ERR_FULL)
        service_log(self, "offer of", name, len, version, RP_ERR_FULL);
    if (rc != 0)
        return rc;
    rp__log_info("plugin %s: offers service %.*s %u.%u", self->name, (int)len, name,
                 ver_major(version), ver_minor(version));
    return 0;
}

int rp__host_api_service_acquire(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                                 const void **table, uint64_t *hold)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !name || !table || !hold || !name_valid(name, len))
        return RP_ERR_INVAL;
    int rc = reg_lock();
    if (rc != 0)
        return rc;
    struct offer *found = NULL;
    for (int i = 0; i < MAX_OFFERS && !found; i++) {
        struct offer *o = &reg.offers[i];
        if (o->used && !o->withdrawn && o->host == self->host && strlen(o->name) == len &&
            memcmp(o->name, name, (size_t)len) == 0)
            found = o;
    }
    /* Same major (a new major breaks callers) and at least the minor asked
     * (a later minor only appends to the table). */
    if (!found || ver_major(found->version) != ver_major(version) ||
        ver_minor(found->version) < ver_minor(version)) {
        if (found)
            rp__log_debug("plugin %s: service %.*s %u.%u asked, %u.%u offered by %s", self->name,
                          (int)len, name, ver_major(version), ver_minor(version),
                          ver_major(found->version), ver_minor(found->version),
                          provider_name(found));
        reg_unlock();
        return RP_ERR_NOTFOUND;
    }
    struct hold *slot = NULL;
    int mine = 0;
    for (int i = 0; i < MAX_HOLDS; i++) {
        if (!reg.holds[i].id) {
            if (!slot)
                slot = &reg.holds[i];
        } else if (reg.holds[i].holder == self) {
            mine++;
        }
    }
    if (!slot || mine >= MAX_HOLDS_PER_PLUGIN) {
        reg_unlock();
        service_log(self, "acquire of", name, len, version, RP_ERR_FULL);
        return RP_ERR_FULL;
    }
    slot->id = ++reg.next_hold;
    slot->holder = self;
    slot->offer = found;
    found->holds++;
    *table = found->table;
    *hold = slot->id;
    reg_unlock();
    return 0;
}

int rp__host_api_service_release(rp_plugin *self, uint64_t hold)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || hold == 0)
        return RP_ERR_INVAL;
    int rc = reg_lock();
    if (rc != 0)
        return rc;
    rc = RP_ERR_NOTFOUND;
    for (int i = 0; i < MAX_HOLDS; i++) {
        if (reg.holds[i].id == hold && reg.holds[i].holder == self) {
            hold_drop(&reg.holds[i]);
            rc = 0;
            break;
        }
    }
    reg_unlock();
    return rc;
}

int rp__host_service_offer_host(rp__host *h, const char *name, uint32_t version, const void *table)
{
    size_t len = name ? strlen(name) : 0;
    char who[128];
    if (!h || !table || !name_valid(name, len))
        return RP_ERR_INVAL;
    int rc = offer_add(h, NULL, name, len, version, table, who, sizeof who);
    if (rc == 0)
        rp__log_debug("the host offers service %s %u.%u", name, ver_major(version),
                      ver_minor(version));
    return rc;
}

void rp__host_services_withdraw_host(rp__host *h)
{
    if (reg_lock() != 0)
        return;
    /* Every plugin has stopped and been freed by now, which released its
     * holds; any left would point at the table about to be freed. */
    for (int i = 0; i < MAX_HOLDS; i++) {
        struct hold *hd = &reg.holds[i];
        if (hd->id && hd->offer->host == h && !hd->offer->provider)
            memset(hd, 0, sizeof *hd);
    }
    for (int i = 0; i < MAX_OFFERS; i++)
        if (reg.offers[i].used && reg.offers[i].host == h && !reg.offers[i].provider)
            memset(&reg.offers[i], 0, sizeof reg.offers[i]);
    reg_unlock();
}

/* Holds on p's withdrawn offers by other plugins. Registry locked. */
static uint32_t holds_on(const struct rp_plugin *p)
{
    uint32_t n = 0;
    for (int i = 0; i < MAX_OFFERS; i++)
        if (reg.offers[i].used && reg.offers[i].provider == p)
            n += reg.offers[i].holds;
    return n;
}

void rp__host_services_withdraw(struct rp_plugin *p)
{
    if (reg_lock() != 0)
        return;
    int any = 0;
    for (int i = 0; i < MAX_OFFERS; i++) {
        struct offer *o = &reg.offers[i];
        if (o->used && o->provider == p && !o->withdrawn) {
            o->withdrawn = 1;
            any = 1;
        }
    }
    /* Its own holds on its own offers cannot be waited for: it is not
     * running any more callbacks that would release them. */
    for (int i = 0; i < MAX_HOLDS; i++)
        if (reg.holds[i].id && reg.holds[i].holder == p && reg.holds[i].offer->provider == p)
            hold_drop(&reg.holds[i]);
    if (!any) {
        reg_unlock();
        return;
    }
    int64_t deadline = rp__os_monotonic_ns() + (int64_t)HOLD_WAIT_MS * 1000000;
    while (holds_on(p) > 0) {
        int64_t left = deadline - rp__os_monotonic_ns();
        if (left <= 0)
            break;
        rp__os_cond_timedwait(reg.released, reg.lock, left / 1000000 + 1);
    }
    for (int i = 0; i < MAX_HOLDS; i++) {
        struct hold *h = &reg.holds[i];
        if (!h->id || h->offer->provider != p)
            continue;
        p->services_stuck = 1;
        rp__log_error("plugin %s still holds service %s of plugin %s %d ms after %s began to "
                      "stop: a bug in %s, which must release a service in the callback that "
                      "acquired it; %s stops without waiting longer and is destroyed only "
                      "once every plugin has stopped",
                      h->holder->name, h->offer->name, p->name, HOLD_WAIT_MS, p->name,
                      h->holder->name, p->name);
    }
    for (int i = 0; i < MAX_OFFERS; i++)
        if (reg.offers[i].provider == p)
            offer_maybe_free(&reg.offers[i]);
    reg_unlock();
}

void rp__host_services_release(struct rp_plugin *p)
{
    rp__host_services_withdraw(p);
    if (reg_lock() != 0)
        return;
    for (int i = 0; i < MAX_HOLDS; i++) {
        struct hold *h = &reg.holds[i];
        if (!h->id || h->holder != p)
            continue;
        rp__log_warn("plugin %s stopped still holding service %s of %s; released by the host "
                     "(a bug in %s: release a service in the callback that acquired it)",
                     p->name, h->offer->name, provider_name(h->offer), p->name);
        hold_drop(h);
    }
    reg_unlock();
}

void rp__host_services_free(struct rp_plugin *p)
{
    /* A plugin left stuck (or never stopped) must not leave pointers to
     * its record behind in the registry. */
    if (reg_lock() == 0) {
        for (int i = 0; i < MAX_HOLDS; i++) {
            struct hold *h = &reg.holds[i];
            if (h->id && (h->holder == p || h->offer->provider == p)) {
                h->offer->holds--;
                memset(h, 0, sizeof *h);
            }
        }
        for (int i = 0; i < MAX_OFFERS; i++)
            if (reg.offers[i].used && reg.offers[i].provider == p)
                memset(&reg.offers[i], 0, sizeof reg.offers[i]);
        reg_unlock();
    }
    rp__os_dir_close(p->private_dir);
    p->private_dir = NULL;
    free(p->private_path);
    p->private_path = NULL;
}

/* ---- drops and gauges ------------------------------------------------------ */

int rp__host_api_dropped_get(rp_plugin *self, uint64_t *dropped)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !dropped)
        return RP_ERR_INVAL;
    /* The bus counts per subscription; the plugin is their owner. */
    *dropped = self->host->bus ? rp__bus_owner_dropped(self->host->bus, self->index) : 0;
    /* Events the host dropped before on_event (over its CPU budget, while
     * hung) are lost to it the same way. */
    *dropped += atomic_load_explicit(&self->budget_dropped, memory_order_relaxed) +
                atomic_load_explicit(&self->hung_dropped, memory_order_relaxed);
    return 0;
}

int rp__host_api_gauge_register(rp_plugin *self, const char *name, uint64_t len, uint32_t *gauge_id)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !name || !gauge_id || len == 0 || len > RP_MAX_COUNTER_NAME ||
        memchr(name, '\0', (size_t)len))
        return RP_ERR_INVAL;
    int rc = 0;
    rp__os_mutex_lock(self->lock);
    uint32_t n = atomic_load(&self->ngauges);
    for (uint32_t i = 0; i < n; i++) {
        if (strlen(self->gauges[i].name) == len && memcmp(self->gauges[i].name, name, len) == 0) {
            *gauge_id = i;
            goto out;
        }
    }
    if (n >= RP_MAX_GAUGES) {
        rc = RP_ERR_FULL;
        goto out;
    }
    memcpy(self->gauges[n].name, name, (size_t)len);
    self->gauges[n].name[len] = '\0';
    atomic_init(&self->gauges[n].value, 0);
    atomic_store_explicit(&self->ngauges, n + 1, memory_order_release);
    *gauge_id = n;
out:
    rp__os_mutex_unlock(self->lock);
    return rc;
}

int rp__host_api_gauge_set(rp_plugin *self, uint32_t gauge_id, int64_t value)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || gauge_id >= atomic_load_explicit(&self->ngauges, memory_order_acquire))
        return RP_ERR_INVAL;
    atomic_store_explicit(&self->gauges[gauge_id].value, value, memory_order_relaxed);
    return 0;
}

int rp__host_plugin_gauge(const rp__host *host, size_t index, uint32_t gauge, const char **name,
                          int64_t *value)
{
    if (index >= host->nplugins)
        return RP_ERR_RANGE;
    struct rp_plugin *p = host->plugins[index];
    if (gauge >= atomic_load_explicit(&p->ngauges, memory_order_acquire))
        return RP_ERR_RANGE;
    *name = p->gauges[gauge].name;
    *value = atomic_load_explicit(&p->gauges[gauge].value, memory_order_relaxed);
    return 0;
}

/* ---- the private folder ---------------------------------------------------- */

/*
 * <data_dir>/plugins/<name>, made at the first call rather than at load, so
 * that plugins that never ask cost no folder. Each step is opened once from
 * the one before (rp__os_dir_open walks data_dir from the root; each
 * rp__os_dir_sub opens one name without following a link) and checked on
 * the open descriptor: a symbolic link, or a folder owned by another user
 * or writable by group or others, is refused, never followed or repaired.
 */
static int open_private(struct rp_plugin *p)
{
    char why[512] = "";
    rp__os_dir *data = NULL, *plugins = NULL, *mine = NULL;
    int rc = rp__os_dir_open(p->host->opts.data_dir, &data, why, sizeof why);
    if (rc == 0)
        rc = rp__os_dir_sub(data, "plugins", 0700, &plugins, why, sizeof why);
    if (rc == 0)
        rc = rp__os_dir_sub(plugins, p->name, 0700, &mine, why, sizeof why);
    /* Created 0700 (less under a strict umask); an older folder the admin
     * opened to the group is closed again, through the checked handle. */
    if (rc == 0 && (rc = rp__os_dir_set_mode(mine, 0700)) != 0)
        snprintf(why, sizeof why, "%s: cannot set mode 0700: %s", rp__os_dir_path(mine),
                 rp_strerror(rc));
    if (rc == 0 && !(p->private_path = strdup(rp__os_dir_path(mine))))
        rc = RP_ERR_NOMEM;
    rp__os_dir_close(data);
    rp__os_dir_close(plugins);
    if (rc != 0) {
        rp__os_dir_close(mine);
        rp__log_error("plugin %s: private folder refused: %s", p->name,
                      why[0] ? why : rp_strerror(rc));
        return rc;
    }
    p->private_dir = mine;
    return 0;
}

int rp__host_api_private_dir(rp_plugin *self, int64_t *dirfd, const char **path, uint64_t *len)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !dirfd || !path)
        return RP_ERR_INVAL;
    if (!self->host->opts.data_dir)
        return RP_ERR_UNSUPPORTED;
    int rc = 0;
    rp__os_mutex_lock(self->lock);
    if (!self->private_dir)
        rc = open_private(self);
    if (rc == 0) {
        *dirfd = rp__os_dir_native(self->private_dir);
        *path = self->private_path;
        if (len)
            *len = strlen(self->private_path);
    }
    rp__os_mutex_unlock(self->lock);
    return rc;
}
