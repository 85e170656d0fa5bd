/*
 * tests/bench/plugins/pp_detector.c - the consumer of bench_plugin_path: a
 * detector subscribed to bench.plugin_path whose on_event reads four fields
 * of each event with the public getters (process.pid, process.name,
 * user.name, process.interactive), checks them against what the collector
 * sent (plugin_path.h: event i has process.pid i and value set i % 4, and
 * one producer's events arrive in order), counts events per user, and tells
 * the bench how far it got through the shared control page.
 */
#define _POSIX_C_SOURCE 200809L
#include "plugin_path.h"

struct detector {
    const rp_host_api *host;
    struct pp_ctl *ctl;
    struct pp_fields f;
    uint64_t per_user[PP_VARIANTS]; /* what a per-user detector would count */
};

static int d_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    (void)self;
    struct detector *d = state;
    const rp_host_api *h = d->host;
    /* on_event never runs on two threads at once for this plugin (no
     * RP_PLUGIN_CONCURRENT_EVENTS), so a load and a store count. */
    uint64_t n = atomic_load_explicit(&d->ctl->done, memory_order_relaxed);
    int64_t pid;
    int32_t interactive;
    const char *name, *user;
    uint64_t name_len, user_len;
    int ok = h->get_i64(ev, d->f.pid, &pid) == 0 &&
             h->get_str(ev, d->f.name, &name, &name_len) == 0 &&
             h->get_str(ev, d->f.user, &user, &user_len) == 0 &&
             h->get_bool(ev, d->f.interactive, &interactive) == 0 && (uint64_t)pid == n;
    unsigned v = (unsigned)(n % PP_VARIANTS);
    if (ok && (name_len != strlen(pp_names[v]) || memcmp(name, pp_names[v], name_len) != 0 ||
               user_len != strlen(pp_users[v]) || interactive != (v == 2)))
        ok = 0;
    if (!ok)
        atomic_fetch_add(&d->ctl->bad, 1);
    d->per_user[v]++;
    if (n + 1 == atomic_load_explicit(&d->ctl->target, memory_order_relaxed))
        atomic_store(&d->ctl->t_last_ns, h->monotonic_ns());
    atomic_store_explicit(&d->ctl->done, n + 1, memory_order_release);
    return ok ? 0 : RP_ERR_PARSE;
}

static int d_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    int rc;
    struct detector *d = host->alloc(sizeof *d);
    if (!d)
        return RP_ERR_NOMEM;
    memset(d, 0, sizeof *d);
    d->host = host;
    if ((rc = pp_fields_init(host, self, &d->f)) != 0) {
        host->free(d);
        return rc;
    }
    if ((rc = pp_ctl_map(host, self, &d->ctl)) != 0) {
        host->free(d);
        return rc;
    }
    if ((rc = host->subscribe(self, PP_TOPIC, sizeof PP_TOPIC - 1, 0)) != 0) {
        munmap(d->ctl, PP_CTL_BYTES);
        host->free(d);
        return rc;
    }
    *state = d;
    return 0;
}

static int d_start(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static int d_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void d_destroy(rp_plugin *self, void *state)
{
    (void)self;
    struct detector *d = state;
    munmap(d->ctl, PP_CTL_BYTES);
    d->host->free(d);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* the config getter */
    .kind = RP_KIND_DETECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.bench.pp_detector",
    .version = "0.0.1",
    .vendor = "Rampart benchmarks",
    .license = "Apache-2.0",
    .description = "Reads four fields of each benchmark event and counts",
    .config_schema = PP_CONFIG_SCHEMA,
    .init = d_init,
    .start = d_start,
    .stop = d_stop,
    .destroy = d_destroy,
    .on_event = d_on_event,
};

RP_PLUGIN_ENTRY(descriptor)
