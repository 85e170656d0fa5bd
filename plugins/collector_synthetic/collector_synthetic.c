/*
 * collector_synthetic - publishes realistic process.exec events at a set rate,
 * for tests and benchmarks. Config: count (events in all, 0 = no end), rate
 * (events per second, 0 = as fast as the bus takes them).
 *
 * With a rate, a 10 ms loop timer publishes each tick's share (no thread of
 * its own); without one, a thread of the plugin's publishes flat out and is
 * joined in stop.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <rampart/plugin.h>
#include <rampart/plugin_util.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"count\":{\"type\":\"integer\",\"minimum\":0,\"default\":1000,"
    "\"description\":\"events to publish in all; 0 = no end\"},"
    "\"rate\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100000000,\"default\":1000,"
    "\"description\":\"events per second; 0 = as fast as possible\"}}}";

#define TICK_MS 10

enum { C_PUBLISHED, C_FAILED, C_REFUSED, C_COUNT_ };
static const char *const counter_names[C_COUNT_] = {"published", "publish_failed", "refused_full"};

enum {
    F_CATEGORY,
    F_TYPE,
    F_ACTION,
    F_PID,
    F_NAME,
    F_EXE,
    F_ARGS,
    F_CMDLINE,
    F_CWD,
    F_ENTITY,
    F_HASH,
    F_PPID,
    F_PNAME,
    F_PEXE,
    F_PCMD,
    F_PENTITY,
    F_UID,
    F_UNAME,
    F_GID,
    F_START,
    F_HOST,
    F_SEQ,
    F_COUNT_
};

static const rp_util_field_def field_defs[F_COUNT_] = {
    {"event.category", RP_TYPE_STR_ARRAY},
    {"event.type", RP_TYPE_STR_ARRAY},
    {"event.action", RP_TYPE_STR},
    {"process.pid", RP_TYPE_I64},
    {"process.name", RP_TYPE_STR},
    {"process.executable", RP_TYPE_STR},
    {"process.args", RP_TYPE_STR_ARRAY},
    {"process.command_line", RP_TYPE_STR},
    {"process.working_directory", RP_TYPE_STR},
    {"process.entity_id", RP_TYPE_STR},
    {"process.hash.sha256", RP_TYPE_STR},
    {"process.parent.pid", RP_TYPE_I64},
    {"process.parent.name", RP_TYPE_STR},
    {"process.parent.executable", RP_TYPE_STR},
    {"process.parent.command_line", RP_TYPE_STR},
    {"process.parent.entity_id", RP_TYPE_STR},
    {"user.id", RP_TYPE_STR},
    {"user.name", RP_TYPE_STR},
    {"group.id", RP_TYPE_STR},
    {"process.start", RP_TYPE_TIMESTAMP},
    {"host.hostname", RP_TYPE_STR},
    {"synthetic.seq", RP_TYPE_U64},
};

struct state {
    rp_plugin *self;
    const rp_host_api *host;
    rp_field_id f[F_COUNT_];
    uint64_t count, rate;
    uint64_t seq;               /* events published so far */
    double carry;               /* fraction of an event owed from earlier ticks */
    atomic_uint_fast64_t timer; /* stopped from the loop (done) or from stop */
    pthread_t thread;
    int has_thread;
    atomic_int stopping;
    rp_util_counters ctr;
};

/* Appends text or a decimal number at *p (the caller sized the buffers);
 * snprintf was a tenth of the cost of a published event. */
static void put_text(char **p, const char *t, size_t n)
{
    memcpy(*p, t, n);
    *p += n;
}

static void put_u64(char **p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *(*p)++ = tmp[--n];
}

static int publish_one(struct state *s)
{
    const rp_host_api *h = s->host;
    static const char *const execs[] = {"/usr/bin/curl", "/usr/bin/python3", "/bin/bash",
                                        "/usr/bin/ssh", "/usr/sbin/cron"};
    const char *exe = execs[s->seq % 5];
    const char *name = strrchr(exe, '/') + 1;
    char entity[64], cmd[256], url[64];
    int64_t pid = 10000 + (int64_t)(s->seq % 50000);
    rp_event *ev;
    int rc = h->event_create(s->self, "process.exec", 12, &ev);
    if (rc != 0)
        return rc;
    char *p = url;
    put_text(&p, "https://updates.example.org/pkg/", 32);
    put_u64(&p, s->seq);
    size_t url_len = (size_t)(p - url);
    rp_str args[5] = {
        {exe, strlen(exe)}, {"--silent", 8}, {"--max-time", 10}, {"30", 2}, {url, url_len}};
    p = cmd;
    put_text(&p, exe, strlen(exe));
    put_text(&p, " --silent --max-time 30 ", 24);
    put_text(&p, url, url_len);
    int n = (int)(p - cmd);
    p = entity;
    put_text(&p, "vm-", 3);
    put_u64(&p, (uint64_t)pid);
    put_text(&p, "-", 1);
    put_u64(&p, s->seq);
    *p = '\0';
    rp_str cat = {"process", 7}, typ = {"start", 5};
    int64_t now = h->now_ns();

    h->set_str_array(ev, s->f[F_CATEGORY], &cat, 1);
    h->set_str_array(ev, s->f[F_TYPE], &typ, 1);
    h->set_str(ev, s->f[F_ACTION], "exec", 4);
    h->set_i64(ev, s->f[F_PID], pid);
    h->set_str(ev, s->f[F_NAME], name, strlen(name));
    h->set_str(ev, s->f[F_EXE], exe, strlen(exe));
    h->set_str_array(ev, s->f[F_ARGS], args, 5);
    h->set_str(ev, s->f[F_CMDLINE], cmd, (uint64_t)n);
    h->set_str(ev, s->f[F_CWD], "/home/teacher", 13);
    h->set_str(ev, s->f[F_ENTITY], entity, strlen(entity));
    h->set_str(ev, s->f[F_HASH], "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
               64);
    h->set_i64(ev, s->f[F_PPID], 4242);
    h->set_str(ev, s->f[F_PNAME], "bash", 4);
    h->set_str(ev, s->f[F_PEXE], "/bin/bash", 9);
    h->set_str(ev, s->f[F_PCMD], "-bash", 5);
    h->set_str(ev, s->f[F_PENTITY], "vm-4242-1", 9);
    h->set_str(ev, s->f[F_UID], "1000", 4);
    h->set_str(ev, s->f[F_UNAME], "teacher", 7);
    h->set_str(ev, s->f[F_GID], "1000", 4);
    h->set_timestamp(ev, s->f[F_START], now);
    h->set_str(ev, s->f[F_HOST], "classroom-07", 12);
    rc = h->set_u64(ev, s->f[F_SEQ], s->seq);
    if (rc != 0) {
        h->event_release(ev);
        return rc;
    }
    rc = h->event_publish(s->self, ev);
    /* The bus at its byte cap: this event is made again later with the same
     * seq, so a test load keeps its exact count (a kernel collector would
     * lose it, counted; the host then stops reading its fds for it). */
    if (rc == RP_ERR_FULL) {
        rp_util_count(&s->ctr, C_REFUSED, 1);
        return rc;
    }
    rp_util_count(&s->ctr, rc == 0 ? C_PUBLISHED : C_FAILED, 1);
    s->seq++;
    return rc;
}

static int done(const struct state *s)
{
    return s->count != 0 && s->seq >= s->count;
}

static void on_tick(void *arg)
{
    struct state *s = arg;
    s->carry += (double)s->rate * TICK_MS / 1000.0;
    while (s->carry >= 1.0 && !done(s)) {
        if (publish_one(s) == RP_ERR_FULL)
            break; /* what is owed stays in carry for the next tick */
        s->carry -= 1.0;
    }
    if (done(s)) {
        uint64_t t = atomic_exchange(&s->timer, 0);
        if (t)
            s->host->timer_stop(s->self, t);
        rp_util_logf(s->host, s->self, RP_LOG_INFO, "published %llu events",
                     (unsigned long long)s->seq);
    }
}

static void *flat_out(void *arg)
{
    struct state *s = arg;
    while (!atomic_load_explicit(&s->stopping, memory_order_relaxed) && !done(s))
        if (publish_one(s) == RP_ERR_FULL) {
            struct timespec ts = {0, 1000000}; /* let the bus drain */
            nanosleep(&ts, NULL);
        }
    rp_util_logf(s->host, s->self, RP_LOG_INFO, "published %llu events",
                 (unsigned long long)s->seq);
    return NULL;
}

static int syn_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct state *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    s->self = self;
    s->host = host;
    int rc = rp_util_fields_register(host, self, field_defs, F_COUNT_, s->f);
    if (rc != 0) {
        free(s);
        return rc;
    }
    /* The host validated the config against the schema above and filled in
     * the defaults; a getter fails only on a host that broke that promise. */
    if (!rp_util_conf_ok(host, self, "/count",
                         rp_util_conf_u64(host, self, "/count", 1000, &s->count)) ||
        !rp_util_conf_ok(host, self, "/rate",
                         rp_util_conf_u64(host, self, "/rate", 1000, &s->rate))) {
        free(s);
        return RP_ERR_CONFIG;
    }
    rc = rp_util_counters_register(&s->ctr, host, self, counter_names, C_COUNT_, 0);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *state = s;
    return 0;
}

static int syn_start(rp_plugin *self, void *state)
{
    struct state *s = state;
    if (s->rate > 0) {
        uint64_t t;
        int rc = s->host->timer_start(self, TICK_MS, TICK_MS, on_tick, s, &t);
        if (rc == 0)
            atomic_store(&s->timer, t);
        return rc;
    }
    if (pthread_create(&s->thread, NULL, flat_out, s) != 0)
        return RP_ERR_INTERNAL;
    s->has_thread = 1;
    return 0;
}

static int syn_stop(rp_plugin *self, void *state)
{
    struct state *s = state;
    uint64_t t = atomic_exchange(&s->timer, 0);
    if (t)
        s->host->timer_stop(self, t);
    atomic_store(&s->stopping, 1);
    if (s->has_thread) {
        pthread_join(s->thread, NULL);
        s->has_thread = 0;
    }
    return 0;
}

static void syn_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

/* What each event type carries (ABI 1.1 provides; sdk/docs/fields.md is
 * generated from it). A 1.0 agent would ignore it. */
static const char *const exec_fields[] = {"event.category",
                                          "event.type",
                                          "event.action",
                                          "process.pid",
                                          "process.name",
                                          "process.executable",
                                          "process.args",
                                          "process.command_line",
                                          "process.working_directory",
                                          "process.entity_id",
                                          "process.hash.sha256",
                                          "process.parent.pid",
                                          "process.parent.name",
                                          "process.parent.executable",
                                          "process.parent.command_line",
                                          "process.parent.entity_id",
                                          "user.id",
                                          "user.name",
                                          "group.id",
                                          "process.start",
                                          "host.hostname",
                                          "synthetic.seq",
                                          NULL};

static const rp_event_fields provides[] = {{"process.exec", exec_fields}, {NULL, NULL}};

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_COLLECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.collector.synthetic",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "Synthetic process.exec events for tests and benchmarks",
    .config_schema = config_schema,
    .init = syn_init,
    .start = syn_start,
    .stop = syn_stop,
    .destroy = syn_destroy,
    .capabilities = 0, /* makes its events up: needs nothing */
    .field_namespace = "synthetic",
    .provides = provides,
};

RP_PLUGIN_ENTRY(descriptor)
