/*
 * tests/bench/plugins/iso_detector.c - the detector of bench_isolation: the
 * same trivial plugin is run in-process and isolated (plugins.<name>.isolation
 * "process"). It subscribes to bench.isolation, reads two fields of each
 * event (process.pid, process.name) and counts what it saw in the counter
 * "seen", added every ISO_BATCH events so that the count costs the isolated
 * run next to nothing (a counter update crosses the ring).
 */
#include <rampart/plugin.h>

#include <string.h>

#define ISO_BATCH 256u

struct det {
    const rp_host_api *host;
    rp_plugin *self;
    rp_field_id pid, name;
    uint32_t counter;
    uint64_t n, sum;
};

static int d_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    (void)self;
    struct det *d = state;
    int64_t pid = 0;
    const char *name;
    uint64_t len = 0;
    if (d->host->get_i64(ev, d->pid, &pid) == 0 && d->host->get_str(ev, d->name, &name, &len) == 0)
        d->sum += (uint64_t)pid + len; /* used, so the reads are not optimised away */
    if (++d->n % ISO_BATCH == 0)
        d->host->counter_add(d->self, d->counter, ISO_BATCH);
    return 0;
}

static int d_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct det *d = host->alloc(sizeof *d);
    if (!d)
        return RP_ERR_NOMEM;
    memset(d, 0, sizeof *d);
    d->host = host;
    d->self = self;
    int rc = host->field_id(self, "process.pid", 11, RP_TYPE_I64, &d->pid);
    if (rc == 0)
        rc = host->field_id(self, "process.name", 12, RP_TYPE_STR, &d->name);
    if (rc == 0)
        rc = host->counter_register(self, "seen", 4, &d->counter);
    if (rc == 0)
        rc = host->subscribe(self, "bench.isolation", 15, 0);
    if (rc != 0) {
        host->free(d);
        return rc;
    }
    *state = d;
    return 0;
}

static int d_start(rp_plugin *self, void *state)
{
    (void)self, (void)state;
    return 0;
}

static int d_stop(rp_plugin *self, void *state)
{
    (void)self, (void)state;
    return 0;
}

static void d_destroy(rp_plugin *self, void *state)
{
    (void)self;
    struct det *d = state;
    d->host->free(d);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 0,
    .kind = RP_KIND_DETECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.bench.iso_detector",
    .version = "0.0.1",
    .vendor = "Rampart benchmarks",
    .license = "Apache-2.0",
    .description = "Reads two fields of each benchmark event and counts",
    .init = d_init,
    .start = d_start,
    .stop = d_stop,
    .destroy = d_destroy,
    .on_event = d_on_event,
};

RP_PLUGIN_ENTRY(descriptor)
