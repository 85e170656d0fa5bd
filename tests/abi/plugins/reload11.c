/*
 * reload11 - a test detector for live reload (tests/abi/test_reload_gate.c).
 * It subscribes to "test.tick" and counts, in counters, the events it saw,
 * its reconfigures, and every overlap of on_event with reconfigure, which
 * the host must never allow, and on_event calls before start returned
 * ("early"). Its reconfigure takes 200 ms on purpose, so
 * that events published meanwhile would run into it; with config "fail":
 * true it refuses the new config.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_json.h> /* abi_minor 0: it reads its config as text */

#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"gen\":{\"type\":\"integer\",\"minimum\":0,\"default\":0},"
    "\"fail\":{\"type\":\"boolean\",\"default\":false}}}";

enum { C_EVENTS, C_OVERLAP, C_RECONFIGURED, C_GEN, C_EARLY, C_COUNT_ };
static const char *const counter_names[C_COUNT_] = {"events", "overlap", "reconfigured", "gen",
                                                    "early"};

struct state {
    rp_plugin *self;
    const rp_host_api *host;
    atomic_int in_event, in_reconfigure;
    atomic_int started; /* start returned */
    uint64_t gen;
    uint32_t c[C_COUNT_];
};

static void pause_us(long us)
{
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
}

static int read_config(struct state *s, uint64_t *gen, int *fail)
{
    const char *json;
    size_t len;
    rp_util_config_text(s->host, s->self, &json, &len);
    rp_util_config_uint(json, len, "gen", 0, gen);
    return rp_util_config_bool(json, len, "fail", 0, fail) == RP_ERR_PARSE ? RP_ERR_CONFIG : 0;
}

static int r_init(rp_plugin *self, const rp_host_api *host, void **out)
{
    struct state *s = calloc(1, sizeof *s);
    int fail = 0, rc;
    if (!s)
        return RP_ERR_NOMEM;
    s->self = self;
    s->host = host;
    for (int i = 0; i < C_COUNT_; i++) {
        const char *n = counter_names[i];
        size_t len = 0;
        while (n[len])
            len++;
        if ((rc = host->counter_register(self, n, len, &s->c[i])) != 0) {
            free(s);
            return rc;
        }
    }
    if ((rc = read_config(s, &s->gen, &fail)) != 0 ||
        (rc = host->subscribe(self, "test.tick", 9, 0)) != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int r_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct state *s = state;
    (void)ev;
    if (!atomic_load(&s->started))
        s->host->counter_add(self, s->c[C_EARLY], 1);
    atomic_store(&s->in_event, 1);
    if (atomic_load(&s->in_reconfigure))
        s->host->counter_add(self, s->c[C_OVERLAP], 1);
    pause_us(20);
    if (atomic_load(&s->in_reconfigure))
        s->host->counter_add(self, s->c[C_OVERLAP], 1);
    atomic_store(&s->in_event, 0);
    s->host->counter_add(self, s->c[C_EVENTS], 1);
    return 0;
}

static int r_reconfigure(rp_plugin *self, void *state)
{
    struct state *s = state;
    uint64_t gen = 0;
    int fail = 0;
    if (read_config(s, &gen, &fail) != 0 || fail) {
        s->host->set_error(self, "config.fail is set", 18);
        return RP_ERR_CONFIG;
    }
    atomic_store(&s->in_reconfigure, 1);
    for (int i = 0; i < 200; i++) {
        if (atomic_load(&s->in_event))
            s->host->counter_add(self, s->c[C_OVERLAP], 1);
        pause_us(1000);
    }
    atomic_store(&s->in_reconfigure, 0);
    s->host->counter_add(self, s->c[C_RECONFIGURED], 1);
    if (gen > s->gen)
        s->host->counter_add(self, s->c[C_GEN], gen - s->gen);
    s->gen = gen;
    return 0;
}

/* Takes 50 ms, so that events published meanwhile would reach on_event
 * before start returned if the host let them. */
static int r_start(rp_plugin *self, void *state)
{
    struct state *s = state;
    (void)self;
    pause_us(50 * 1000);
    atomic_store(&s->started, 1);
    return 0;
}

static int r_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void r_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 0,
    .kind = RP_KIND_DETECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.reload11",
    .version = "1.0.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "Counts on_event calls that overlap reconfigure",
    .config_schema = config_schema,
    .init = r_init,
    .start = r_start,
    .stop = r_stop,
    .destroy = r_destroy,
    .reconfigure = r_reconfigure,
    .on_event = r_on_event,
};

RP_PLUGIN_ENTRY(descriptor)
