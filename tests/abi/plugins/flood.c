/*
 * A collector built against the frozen 1.0 header that reads a FIFO named in
 * its config ({"path": "..."}) and publishes one event of about 2 KiB per
 * byte read, ignoring whether publish succeeds: the shape of a real
 * collector under a flood. The back-pressure test (test_backpressure.c)
 * proves that the host stops reading for it at the bus's byte cap, with no
 * change to the plugin. With "stop_sleep_ms" its stop callback takes that
 * long: a plugin that holds the agent's stop up (test_stop_grace.sh).
 */
#define _POSIX_C_SOURCE 200809L
#include <rampart/plugin.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct flood {
    rp_plugin *self;
    const rp_host_api *host;
    char path[512];
    int fd;
    uint64_t watch;
    rp_field_id msg;
    uint32_t c_read, c_refused;
    long stop_sleep_ms;
    char payload[2048];
};

static int f_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct flood *f = host->alloc(sizeof *f);
    if (!f)
        return RP_ERR_NOMEM;
    memset(f, 0, sizeof *f);
    f->self = self;
    f->host = host;
    f->fd = -1;
    memset(f->payload, 'x', sizeof f->payload);
    const char *json;
    uint64_t len;
    int rc = host->config_get(self, &json, &len);
    const char *p = rc == 0 ? strstr(json, "\"path\":\"") : NULL;
    if (!p) {
        host->free(f);
        return RP_ERR_INVAL;
    }
    p += 8;
    const char *q = strchr(p, '"');
    if (!q || (size_t)(q - p) >= sizeof f->path) {
        host->free(f);
        return RP_ERR_INVAL;
    }
    memcpy(f->path, p, (size_t)(q - p));
    const char *ms = strstr(json, "\"stop_sleep_ms\":");
    if (ms)
        f->stop_sleep_ms = strtol(ms + 16, NULL, 10);
    if ((rc = host->field_id(self, "message", 7, RP_TYPE_STR, &f->msg)) != 0 ||
        (rc = host->counter_register(self, "bytes_read", 10, &f->c_read)) != 0 ||
        (rc = host->counter_register(self, "refused", 7, &f->c_refused)) != 0) {
        host->free(f);
        return rc;
    }
    *state = f;
    return 0;
}

static void on_read(void *arg, int64_t fd, uint32_t revents)
{
    struct flood *f = arg;
    (void)revents;
    char buf[64];
    ssize_t n = read((int)fd, buf, sizeof buf);
    for (ssize_t i = 0; i < n; i++) {
        f->host->counter_add(f->self, f->c_read, 1);
        rp_event *ev;
        if (f->host->event_create(f->self, "test.flood", 10, &ev) != 0)
            continue;
        f->host->set_str(ev, f->msg, f->payload, sizeof f->payload);
        if (f->host->event_publish(f->self, ev) != 0)
            f->host->counter_add(f->self, f->c_refused, 1);
    }
}

static int f_start(rp_plugin *self, void *state)
{
    struct flood *f = state;
    f->fd = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f->fd < 0)
        return RP_ERR_IO;
    return f->host->fd_watch(self, f->fd, RP_FD_READ, on_read, f, &f->watch);
}

static int f_stop(rp_plugin *self, void *state)
{
    struct flood *f = state;
    f->host->fd_unwatch(self, f->watch);
    close(f->fd);
    f->fd = -1;
    if (f->stop_sleep_ms > 0) {
        struct timespec ts = {f->stop_sleep_ms / 1000, (f->stop_sleep_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static void f_destroy(rp_plugin *self, void *state)
{
    struct flood *f = state;
    (void)self;
    f->host->free(f);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 0,
    .kind = RP_KIND_COLLECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.flood",
    .version = "0.0.1",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "Publishes one large event per byte of a FIFO",
    .config_schema = "{\"type\":\"object\",\"additionalProperties\":false,"
                     "\"properties\":{\"path\":{\"type\":\"string\"},"
                     "\"stop_sleep_ms\":{\"type\":\"integer\",\"minimum\":0,"
                     "\"maximum\":60000}}}",
    .init = f_init,
    .start = f_start,
    .stop = f_stop,
    .destroy = f_destroy,
};

RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
{
    (void)host;
    *out = &descriptor;
    return 0;
}
