/*
 * A collector that registers every counter and gauge the host allows
 * (RP_MAX_COUNTERS, RP_MAX_GAUGES) and publishes nothing: three copies of it
 * (MANY_FIGURES_ID differs) give the agent.health event more figures than
 * one event holds, for tests/abi/test_health_cap.sh.
 */
#include <rampart/plugin.h>

#include <stdio.h>

#ifndef MANY_FIGURES_ID
#define MANY_FIGURES_ID "org.rampart.test.many_figures"
#endif

static int mf_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    for (unsigned i = 0; i < RP_MAX_COUNTERS; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "counter_%02u", i);
        uint32_t id;
        int rc = host->counter_register(self, name, (uint64_t)n, &id);
        if (rc != 0)
            return rc;
        host->counter_add(self, id, i);
    }
    for (unsigned i = 0; i < RP_MAX_GAUGES; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "gauge_%02u", i);
        uint32_t id;
        int rc = host->gauge_register(self, name, (uint64_t)n, &id);
        if (rc != 0)
            return rc;
        host->gauge_set(self, id, (int64_t)i);
    }
    *state = NULL;
    return 0;
}

static int mf_start(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static int mf_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void mf_destroy(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_COLLECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = MANY_FIGURES_ID,
    .version = "1.0.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "Registers every counter and gauge the host allows",
    .init = mf_init,
    .start = mf_start,
    .stop = mf_stop,
    .destroy = mf_destroy,
};

RP_PLUGIN_ENTRY(descriptor)
