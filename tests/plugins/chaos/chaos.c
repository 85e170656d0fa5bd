/*
 * tests/plugins/chaos/chaos.c - a test-only detector (never installed) that
 * misbehaves on purpose, the way a buggy vendor plugin would, so that the
 * containment tests (issue 16) can check the agent survives it.
 *
 * Config (all optional):
 *   "mode":      "none" (default), "segv" (writes through NULL), "abort",
 *                "hang" (sleeps forever), "spin" (burns CPU forever) or
 *                "alloc" (allocates and touches alloc_mb MiB per trigger,
 *                never freed, up to alloc_max_mb in all, then stays put);
 *   "where":     "event" (default: in on_event) or "timer" (in a timer
 *                callback every interval_ms) or "thread" (in a thread of
 *                its own, started by start, every interval_ms) or "start"
 *                (in start itself);
 *   "nth":       the trigger fires on the Nth event or tick counted from
 *                start (default 1), and on every one after it;
 *   "topic":     the subscription pattern for "event" (default "*");
 *   "interval_ms": 100 by default;
 *   "spin_ms":   with mode "spin", each trigger burns this much CPU time
 *                and returns (a plugin that is slow, not stuck); 0 (default):
 *                forever;
 *   "alloc_mb":  1 by default; "alloc_max_mb": 4096 by default (a bound so a
 *                broken test cannot take the machine).
 * The counter "chaos.events" counts the events seen, so a test can tell it
 * was running before it misbehaved.
 */
#define _GNU_SOURCE
#include <rampart/plugin.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum mode { M_NONE, M_SEGV, M_ABORT, M_HANG, M_SPIN, M_ALLOC };
enum where { W_EVENT, W_TIMER, W_THREAD, W_START };

struct chaos {
    rp_plugin *self;
    const rp_host_api *host;
    enum mode mode;
    enum where where;
    int64_t nth, interval_ms, alloc_mb, alloc_max_mb, spin_ms;
    atomic_llong seen;
    int64_t allocated_mb;
    uint32_t counter;
    uint64_t timer;
    pthread_t thread;
    int thread_started;
    atomic_int stopping;
};

static const char schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"mode\":{\"type\":\"string\",\"enum\":[\"none\",\"segv\",\"abort\",\"hang\",\"spin\","
    "\"alloc\"]},"
    "\"where\":{\"type\":\"string\",\"enum\":[\"event\",\"timer\",\"thread\",\"start\"]},"
    "\"nth\":{\"type\":\"integer\",\"minimum\":1},"
    "\"topic\":{\"type\":\"string\",\"minLength\":1},"
    "\"interval_ms\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":60000},"
    "\"alloc_mb\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1024},"
    "\"spin_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":60000},"
    "\"alloc_max_mb\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":65536}}}";

static int64_t get_i64(struct chaos *c, const char *path, int64_t dflt)
{
    int64_t v;
    return c->host->config_i64(c->self, path, strlen(path), &v) == 0 ? v : dflt;
}

static int pick(const char *s, const char *const *names, int n, int dflt)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return dflt;
}

static void misbehave(struct chaos *c)
{
    switch (c->mode) {
    case M_NONE:
        return;
    case M_SEGV: {
        volatile int *volatile nowhere = NULL;
        *nowhere = 1;
        return;
    }
    case M_ABORT:
        abort();
    case M_HANG:
        for (;;)
            pause();
    case M_SPIN:
        if (c->spin_ms > 0) {
            /* CPU time, not wall time: the same cost on a busy machine. */
            struct timespec t0, t;
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
            do {
                for (volatile unsigned n = 0; n < 10000; n++)
                    ;
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
            } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 <
                     c->spin_ms);
            return;
        }
        for (volatile unsigned long n = 0;; n++)
            ;
    case M_ALLOC:
        if (c->allocated_mb + c->alloc_mb > c->alloc_max_mb)
            return;
        for (int64_t i = 0; i < c->alloc_mb; i++) {
            char *p = malloc((size_t)1 << 20);
            if (!p)
                return;
            memset(p, 0x5a, (size_t)1 << 20); /* touched: resident, not just reserved */
            c->allocated_mb++;
        }
        return;
    }
}

static void trigger(struct chaos *c)
{
    long long n = atomic_fetch_add(&c->seen, 1) + 1;
    if (n >= c->nth)
        misbehave(c);
}

static int chaos_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    (void)self;
    (void)ev;
    struct chaos *c = state;
    c->host->counter_add(c->self, c->counter, 1);
    if (c->where == W_EVENT)
        trigger(c);
    return 0;
}

static void chaos_tick(void *arg)
{
    trigger(arg);
}

static void *chaos_thread(void *arg)
{
    struct chaos *c = arg;
    while (!atomic_load(&c->stopping)) {
        struct timespec ts = {c->interval_ms / 1000, (c->interval_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        trigger(c);
    }
    return NULL;
}

static int chaos_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct chaos *c = calloc(1, sizeof *c);
    if (!c)
        return RP_ERR_NOMEM;
    c->self = self;
    c->host = host;
    *state = c;
    static const char *const modes[] = {"none", "segv", "abort", "hang", "spin", "alloc"};
    static const char *const wheres[] = {"event", "timer", "thread", "start"};
    const char *s = NULL;
    if (host->config_str(self, "/mode", 5, &s, NULL) == 0)
        c->mode = (enum mode)pick(s, modes, 6, M_NONE);
    s = NULL;
    if (host->config_str(self, "/where", 6, &s, NULL) == 0)
        c->where = (enum where)pick(s, wheres, 4, W_EVENT);
    c->nth = get_i64(c, "/nth", 1);
    c->interval_ms = get_i64(c, "/interval_ms", 100);
    c->alloc_mb = get_i64(c, "/alloc_mb", 1);
    c->alloc_max_mb = get_i64(c, "/alloc_max_mb", 4096);
    c->spin_ms = get_i64(c, "/spin_ms", 0);
    int rc = host->counter_register(self, "chaos.events", 12, &c->counter);
    if (rc != 0)
        return rc;
    const char *topic = "*";
    uint64_t tlen = 1;
    if (host->config_str(self, "/topic", 6, &topic, &tlen) != 0) {
        topic = "*";
        tlen = 1;
    }
    return host->subscribe(self, topic, tlen, 0);
}

static int chaos_start(rp_plugin *self, void *state)
{
    struct chaos *c = state;
    if (c->where == W_START)
        misbehave(c);
    if (c->where == W_TIMER)
        return c->host->timer_start(self, (uint64_t)c->interval_ms, (uint64_t)c->interval_ms,
                                    chaos_tick, c, &c->timer);
    if (c->where == W_THREAD) {
        if (pthread_create(&c->thread, NULL, chaos_thread, c) != 0)
            return RP_ERR_NOMEM;
        c->thread_started = 1;
    }
    return 0;
}

static int chaos_stop(rp_plugin *self, void *state)
{
    (void)self;
    struct chaos *c = state;
    atomic_store(&c->stopping, 1);
    if (c->thread_started)
        pthread_join(c->thread, NULL);
    c->thread_started = 0;
    return 0;
}

static void chaos_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.chaos",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "Test only: crashes, hangs, spins or leaks on purpose",
    .config_schema = schema,
    .init = chaos_init,
    .start = chaos_start,
    .stop = chaos_stop,
    .destroy = chaos_destroy,
    .on_event = chaos_on_event,
    .capabilities = 0,
};

RP_PLUGIN_ENTRY(descriptor)
