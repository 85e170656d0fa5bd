/*
 * Test plugins of the ABI 1.1 drops, gauges, services and private folder
 * (test_services11.c), one variant per build (SVC_<VARIANT>). Each reports
 * what it saw through gauges, which the test reads from the host:
 *
 * SUB       a slow subscriber to "svc11.*": gauge dropped (dropped_get at its
 *           last event), seen (events handled).
 * PROVIDER  a collector offering org.example.svc11 1.2 (and PROVIDER2, the
 *           same name from another plugin): gauges offer_rc, offer_again,
 *           offer_host, offer_bad, stopped_ms (monotonic ms at its stop).
 * CONSUMER  acquires by version, calls the table, releases; keeps one hold
 *           until a probe finds the offer withdrawn, then releases it
 *           (gauge released_ms).
 * STUCK     acquires the service at start and never releases it.
 * DIR       asks for its private folder and creates a file in it.
 * LINEAGE   asks the process collector's lineage service about itself.
 * ENDPOINTS reads the host's endpoints service every 20 ms: gauges acq_rc,
 *           count, ep0 and ep1 (role * 100000 + port), host0_is_backend,
 *           host1_is_v6, generation, done.
 */
#define _GNU_SOURCE
#include <rampart/plugin.h>
#include <rampart/service_endpoints.h>
#include <rampart/service_lineage.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SVC_NAME "org.example.svc11"
#define SVC_LEN  (sizeof SVC_NAME - 1)

/* The table org.example.svc11 1.2 offers. */
struct svc11_table {
    uint32_t struct_size;
    int (*add)(int a, int b);
};

enum { G_A, G_B, G_C, G_D, G_E, G_F, G_G, G_H, G_MAX };

struct st {
    rp_plugin *self;
    const rp_host_api *host;
    uint32_t g[G_MAX];
    uint64_t hold, timer;
    int done;
};

static const char *const gauge_names[G_MAX] = {
#if defined(SVC_SUB)
    "dropped", "seen", "long_rc", "full_rc", "badset_rc", "same_id", "nul_rc", "g7",
#elif defined(SVC_PROVIDER) || defined(SVC_PROVIDER2)
    "offer_rc", "offer_again", "offer_host", "offer_bad", "stopped_ms", "destroyed", "g6", "g7",
#elif defined(SVC_CONSUMER) || defined(SVC_STUCK)
    "acq_1_0", "add",     "release",     "release_again",
    "acq_1_3", "acq_2_0", "acq_missing", "released_ms",
#elif defined(SVC_DIR)
    "dir_rc", "probe_rc", "path_ok", "same_fd", "g4", "g5", "g6", "g7",
#elif defined(SVC_ENDPOINTS)
    "acq_rc", "count", "ep0", "ep1", "host0_is_backend", "host1_is_v6", "generation", "done",
#else /* SVC_LINEAGE */
    "self_rc", "ppid_ok", "entity_ok", "start_ok", "child_ok", "v1_1_rc", "done", "g7",
#endif
};

static void gset(struct st *s, int g, int64_t v)
{
    s->host->gauge_set(s->self, s->g[g], v);
}

__attribute__((unused)) static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((unused)) static int add(int a, int b)
{
    return a + b;
}

__attribute__((unused)) static const struct svc11_table table = {sizeof(struct svc11_table), add};

static int t_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, gauge_register))
        return RP_ERR_VERSION;
    struct st *s = host->alloc(sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    memset(s, 0, sizeof *s);
    s->self = self;
    s->host = host;
    for (int i = 0; i < G_MAX; i++) {
        int rc = host->gauge_register(self, gauge_names[i], strlen(gauge_names[i]), &s->g[i]);
        if (rc != 0) {
            host->free(s);
            return rc;
        }
    }
#if defined(SVC_SUB)
    int rc = host->subscribe(self, "svc11.*", 7, 0);
    if (rc != 0) {
        host->free(s);
        return rc;
    }
    /* The gauges' own rules: name length, NUL bytes, the cap, ids. */
    char name[80];
    uint32_t id;
    memset(name, 'n', sizeof name);
    gset(s, G_C, host->gauge_register(self, name, RP_MAX_COUNTER_NAME + 1, &id));
    gset(s, G_G, host->gauge_register(self, "a\0b", 3, &id));
    for (uint32_t i = G_MAX; i < RP_MAX_GAUGES; i++) {
        int n = snprintf(name, sizeof name, "filler_%u", (unsigned)i);
        if ((rc = host->gauge_register(self, name, (uint64_t)n, &id)) != 0) {
            host->free(s);
            return rc;
        }
    }
    gset(s, G_D, host->gauge_register(self, "one_too_many", 12, &id));
    gset(s, G_E, host->gauge_set(self, RP_MAX_GAUGES, 1));
    gset(s, G_F, host->gauge_register(self, "dropped", 7, &id) == 0 && id == s->g[G_A]);
#elif defined(SVC_PROVIDER) || defined(SVC_PROVIDER2)
    gset(s, G_A, host->service_offer(self, SVC_NAME, SVC_LEN, RP_SERVICE_VERSION(1, 2), &table));
    gset(s, G_B, host->service_offer(self, SVC_NAME, SVC_LEN, RP_SERVICE_VERSION(1, 2), &table));
    gset(s, G_C,
         host->service_offer(self, "org.rampart.host.x", 18, RP_SERVICE_VERSION(1, 0), &table));
    gset(s, G_D, host->service_offer(self, "Not A Name", 10, RP_SERVICE_VERSION(1, 0), &table));
#endif
    *state = s;
    return 0;
}

#if defined(SVC_CONSUMER)
/* Keeps its hold until the provider's stop withdraws the offer, which it
 * sees as a failing acquire; then lets the provider go on stopping. */
static void on_probe(void *arg)
{
    struct st *s = arg;
    if (!s->hold)
        return;
    const void *t;
    uint64_t h;
    if (s->host->service_acquire(s->self, SVC_NAME, SVC_LEN, RP_SERVICE_VERSION(1, 0), &t, &h) ==
        0) {
        s->host->service_release(s->self, h);
        return;
    }
    s->host->service_release(s->self, s->hold);
    s->hold = 0;
    gset(s, G_H, mono_ms());
}
#endif

#if defined(SVC_LINEAGE)
static void on_lineage(void *arg)
{
    struct st *s = arg;
    if (s->done)
        return;
    const rp_lineage_service *lin;
    uint64_t h;
    gset(s, G_F,
         s->host->service_acquire(s->self, RP_LINEAGE_SERVICE, sizeof RP_LINEAGE_SERVICE - 1,
                                  RP_SERVICE_VERSION(1, 1), (const void **)&lin, &h));
    int rc = s->host->service_acquire(s->self, RP_LINEAGE_SERVICE, sizeof RP_LINEAGE_SERVICE - 1,
                                      RP_LINEAGE_VERSION, (const void **)&lin, &h);
    if (rc != 0) {
        gset(s, G_A, rc);
        return;
    }
    rp_lineage_process p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    rc = lin->process(lin->ctx, (int32_t)getpid(), &p);
    gset(s, G_A, rc);
    if (rc == 0) {
        gset(s, G_B, p.ppid == (int32_t)getppid());
        gset(s, G_C, p.entity_id[0] != '\0' && memchr(p.entity_id, '\0', sizeof p.entity_id));
        gset(s, G_D, p.start_ns > 0);
        int32_t kids[256];
        uint32_t n = 0;
        int found = 0;
        if (lin->children(lin->ctx, (int32_t)getppid(), kids, 256, &n) == 0)
            for (uint32_t i = 0; i < n && i < 256; i++)
                found |= kids[i] == (int32_t)getpid();
        gset(s, G_E, found);
        s->done = 1;
        gset(s, G_G, 1);
    }
    s->host->service_release(s->self, h);
}
#endif

#if defined(SVC_ENDPOINTS)
static void on_endpoints(void *arg)
{
    struct st *s = arg;
    const rp_endpoints_service *eps;
    uint64_t h, gen = 0;
    int rc =
        s->host->service_acquire(s->self, RP_ENDPOINTS_SERVICE, sizeof RP_ENDPOINTS_SERVICE - 1,
                                 RP_ENDPOINTS_VERSION, (const void **)&eps, &h);
    gset(s, G_A, rc);
    if (rc != 0)
        return;
    rp_endpoint e[3];
    uint32_t n = 0;
    memset(e, 0, sizeof e);
    for (; n < 3; n++) {
        e[n].struct_size = sizeof e[n];
        if (eps->get(eps->ctx, n, &e[n], &gen) != 0)
            break;
    }
    s->host->service_release(s->self, h);
    gset(s, G_B, n);
    gset(s, G_C, n > 0 ? (int64_t)e[0].role * 100000 + e[0].port : 0);
    gset(s, G_D, n > 1 ? (int64_t)e[1].role * 100000 + e[1].port : 0);
    gset(s, G_E, n > 0 && strcmp(e[0].host, "backend.example") == 0);
    gset(s, G_F, n > 1 && strcmp(e[1].host, "2001:db8::1") == 0);
    gset(s, G_G, (int64_t)gen);
    gset(s, G_H, 1);
}
#endif

static int t_start(rp_plugin *self, void *state)
{
    struct st *s = state;
    (void)self;
    (void)s;
#if defined(SVC_CONSUMER) || defined(SVC_STUCK)
    const struct svc11_table *t = NULL;
    uint64_t h = 0;
    int rc = s->host->service_acquire(s->self, SVC_NAME, SVC_LEN, RP_SERVICE_VERSION(1, 0),
                                      (const void **)&t, &h);
    gset(s, G_A, rc);
    if (rc != 0)
        return 0;
#if defined(SVC_STUCK)
    s->hold = h; /* never released: the host must say so */
    return 0;
#else
    gset(s, G_B, t->add(2, 3));
    gset(s, G_C, s->host->service_release(s->self, h));
    gset(s, G_D, s->host->service_release(s->self, h));
    uint64_t h2;
    gset(s, G_E,
         s->host->service_acquire(s->self, SVC_NAME, SVC_LEN, RP_SERVICE_VERSION(1, 3),
                                  (const void **)&t, &h2));
    gset(s, G_F,
         s->host->service_acquire(s->self, SVC_NAME, SVC_LEN, RP_SERVICE_VERSION(2, 0),
                                  (const void **)&t, &h2));
    gset(s, G_G,
         s->host->service_acquire(s->self, "org.example.none", 16, RP_SERVICE_VERSION(1, 0),
                                  (const void **)&t, &h2));
    /* The hold the provider's stop waits for. */
    if (s->host->service_acquire(s->self, SVC_NAME, SVC_LEN, RP_SERVICE_VERSION(1, 2),
                                 (const void **)&t, &s->hold) != 0)
        return RP_ERR_INTERNAL;
    return s->host->timer_start(s->self, 10, 10, on_probe, s, &s->timer);
#endif
#elif defined(SVC_DIR)
    int64_t fd = -2, fd2 = -3;
    const char *path = NULL, *path2 = NULL;
    uint64_t len = 0;
    int rc = s->host->private_dir(s->self, &fd, &path, &len);
    gset(s, G_A, rc);
    if (rc == 0) {
        int f = openat((int)fd, "probe", O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        gset(s, G_B, f >= 0 ? 0 : errno);
        if (f >= 0)
            close(f);
        gset(s, G_C, strlen(path) == len);
        gset(s, G_D,
             s->host->private_dir(s->self, &fd2, &path2, NULL) == 0 && fd2 == fd && path2 == path);
    }
    return 0;
#elif defined(SVC_LINEAGE)
    return s->host->timer_start(s->self, 20, 50, on_lineage, s, &s->timer);
#elif defined(SVC_ENDPOINTS)
    return s->host->timer_start(s->self, 1, 20, on_endpoints, s, &s->timer);
#else
    return 0;
#endif
}

static int t_stop(rp_plugin *self, void *state)
{
    struct st *s = state;
    (void)self;
    if (s->timer)
        s->host->timer_stop(s->self, s->timer);
#if defined(SVC_PROVIDER) || defined(SVC_PROVIDER2)
    gset(s, G_E, mono_ms());
#endif
    return 0;
}

static void t_destroy(rp_plugin *self, void *state)
{
    struct st *s = state;
    (void)self;
#if defined(SVC_PROVIDER) || defined(SVC_PROVIDER2)
    gset(s, G_F, 1); /* the host keeps gauges after the plugin's state is gone */
#endif
    s->host->free(s);
}

#if defined(SVC_SUB)
static int t_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct st *s = state;
    (void)ev;
    /* A slow walk: a flood fills its queue. */
    usleep(200);
    uint64_t dropped = 0;
    int rc = s->host->dropped_get(self, &dropped);
    if (rc != 0)
        return rc;
    gset(s, G_A, (int64_t)dropped);
    s->done++;
    gset(s, G_B, s->done);
    return 0;
}
#else
#define t_on_event NULL
#endif

#if defined(SVC_PROVIDER)
#define SVC_KIND RP_KIND_COLLECTOR
#define SVC_ID   "org.example.services11.provider"
#elif defined(SVC_PROVIDER2)
#define SVC_KIND RP_KIND_COLLECTOR
#define SVC_ID   "org.example.services11.provider2"
#elif defined(SVC_SUB)
#define SVC_KIND RP_KIND_DETECTOR
#define SVC_ID   "org.example.services11.sub"
#elif defined(SVC_CONSUMER)
#define SVC_KIND RP_KIND_DETECTOR
#define SVC_ID   "org.example.services11.consumer"
#elif defined(SVC_STUCK)
#define SVC_KIND RP_KIND_DETECTOR
#define SVC_ID   "org.example.services11.stuck"
#elif defined(SVC_DIR)
#define SVC_KIND RP_KIND_DETECTOR
#define SVC_ID   "org.example.services11.dir"
#else
#define SVC_KIND RP_KIND_RESPONDER
#define SVC_ID   "org.example.services11.lineage"
#endif

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = SVC_KIND,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = SVC_ID,
    .version = "1.0.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "ABI 1.1 drops, gauges, services and private folder test plugin",
    .init = t_init,
    .start = t_start,
    .stop = t_stop,
    .destroy = t_destroy,
    .on_event = t_on_event,
};

RP_PLUGIN_ENTRY(descriptor)
