/*
 * tests/bench/plugins/pp_collector.c - the producer of bench_plugin_path: a
 * collector that, on each start signal from the bench (plugin_path.h), makes
 * "events" events of type bench.plugin_path with the public host API alone:
 * event_create, ten set_* calls of five types, event_publish. It runs on a
 * thread of its own, started in start and joined in stop, as a collector
 * that reads a busy kernel source would. It never has more than "window"
 * events in flight, so the detector's queue cannot overflow (see
 * plugin_path.h). In PP_MODE_FILL it releases each event instead of
 * publishing it: the collector's share of the cost alone.
 */
#define _POSIX_C_SOURCE 200809L
#include "plugin_path.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

struct collector {
    rp_plugin *self;
    const rp_host_api *host;
    struct pp_ctl *ctl;
    struct pp_fields f;
    pthread_t thread;
    int running;
    atomic_int stopping;
    uint64_t sent; /* published since start, cumulative (the detector's done) */
};

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int abandoned(struct collector *c)
{
    return atomic_load_explicit(&c->stopping, memory_order_relaxed) ||
           atomic_load_explicit(&c->ctl->quit, memory_order_relaxed);
}

/* Waits until fewer than window events are in flight; 0, or -1 when the
 * run is abandoned. Spins a little, then yields: on a small machine the
 * detector may need this CPU. */
static int wait_window(struct collector *c, uint64_t window)
{
    unsigned spins = 0;
    while (c->sent - atomic_load_explicit(&c->ctl->done, memory_order_acquire) >= window) {
        if (++spins < 256)
            continue;
        spins = 0;
        if (abandoned(c))
            return -1;
        sched_yield();
    }
    return 0;
}

static void fail(struct collector *c, int rc, uint64_t step)
{
    int_least64_t none = 0;
    if (atomic_compare_exchange_strong(&c->ctl->failed, &none, rc))
        atomic_store(&c->ctl->failed_step, step);
}

static void run(struct collector *c, uint64_t mode, uint64_t n, uint64_t window)
{
    const rp_host_api *h = c->host;
    int64_t start = h->now_ns();
    atomic_store(&c->ctl->t_first_ns, h->monotonic_ns());
    for (uint64_t i = 0; i < n; i++) {
        if (mode == PP_MODE_PUBLISH && wait_window(c, window) != 0)
            return;
        rp_event *ev;
        int rc = h->event_create(c->self, PP_TOPIC, sizeof PP_TOPIC - 1, &ev);
        if (rc != 0) {
            fail(c, rc, PP_STEP_CREATE);
            return;
        }
        if ((rc = pp_fill(h, ev, &c->f, mode == PP_MODE_FILL ? i : c->sent, start)) != 0) {
            h->event_release(ev);
            fail(c, rc, PP_STEP_SET);
            return;
        }
        if (mode == PP_MODE_FILL) {
            h->event_release(ev);
            continue;
        }
        /* A refused event is lost to the detector, so the run cannot end:
         * say so and stop rather than let the bench wait it out. */
        if ((rc = h->event_publish(c->self, ev)) != 0) {
            fail(c, rc, PP_STEP_PUBLISH);
            return;
        }
        c->sent++;
    }
    atomic_store(&c->ctl->t_end_ns, h->monotonic_ns());
}

static void *main_loop(void *arg)
{
    struct collector *c = arg;
    uint64_t last = 0;
    while (!atomic_load(&c->stopping)) {
        uint64_t go = atomic_load_explicit(&c->ctl->go, memory_order_acquire);
        if (go == last) {
            pause_ms(1);
            continue;
        }
        last = go;
        run(c, atomic_load(&c->ctl->mode), atomic_load(&c->ctl->events),
            atomic_load(&c->ctl->window));
        atomic_store_explicit(&c->ctl->ran, go, memory_order_release);
    }
    return NULL;
}

static int c_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    int rc;
    struct collector *c = host->alloc(sizeof *c);
    if (!c)
        return RP_ERR_NOMEM;
    memset(c, 0, sizeof *c);
    c->self = self;
    c->host = host;
    if ((rc = pp_fields_init(host, self, &c->f)) != 0) {
        host->free(c);
        return rc;
    }
    if ((rc = pp_ctl_map(host, self, &c->ctl)) != 0) {
        host->free(c);
        return rc;
    }
    *state = c;
    return 0;
}

static int c_start(rp_plugin *self, void *state)
{
    (void)self;
    struct collector *c = state;
    /* Runs of an earlier start are done: begin where the detector is. */
    c->sent = atomic_load(&c->ctl->done);
    atomic_store(&c->stopping, 0);
    if (pthread_create(&c->thread, NULL, main_loop, c) != 0)
        return RP_ERR_NOMEM;
    c->running = 1;
    return 0;
}

static int c_stop(rp_plugin *self, void *state)
{
    (void)self;
    struct collector *c = state;
    atomic_store(&c->stopping, 1);
    if (c->running)
        pthread_join(c->thread, NULL);
    c->running = 0;
    return 0;
}

static void c_destroy(rp_plugin *self, void *state)
{
    (void)self;
    struct collector *c = state;
    munmap(c->ctl, PP_CTL_BYTES);
    c->host->free(c);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* the config getter */
    .kind = RP_KIND_COLLECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.bench.pp_collector",
    .version = "0.0.1",
    .vendor = "Rampart benchmarks",
    .license = "Apache-2.0",
    .description = "Publishes 10-field events as fast as the plugin path takes them",
    .config_schema = PP_CONFIG_SCHEMA,
    .init = c_init,
    .start = c_start,
    .stop = c_stop,
    .destroy = c_destroy,
};

RP_PLUGIN_ENTRY(descriptor)
