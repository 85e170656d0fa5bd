/*
 * A detector built against the ABI 1.1 header that calls every host call and
 * fills every descriptor member 1.1 added (tests/abi/check_uses_all.sh
 * checks that it names each one). Each check that passes adds to the counter
 * "checks_ok"; one that fails adds to "checks_failed" and logs which call
 * and why, so test_abi11.c can say what broke.
 *
 * Flow: init reads its config through the typed getters, walks the field
 * registry, registers a custom field in its namespace, a gauge, offers a
 * service and opens its private folder; start subscribes to its own event
 * type and publishes one event; on_event walks the event's fields, raises an
 * alert citing it (alert_create) and checks the policy stamp; on_command
 * answers with one progress reply and a last one.
 */
#define _POSIX_C_SOURCE 200809L
#include <rampart/plugin.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NS "abi11"

static const rp_host_api *H;

struct state {
    rp_plugin *self;
    uint32_t ok, failed, tracked;
    rp_field_id score;
    int64_t threshold;
};

/* The service this plugin offers and then looks up itself. */
struct abi11_service {
    uint32_t struct_size;
    uint32_t magic;
};
static const struct abi11_service service_table = {sizeof(struct abi11_service), 0xab11u};

static void check(struct state *s, int cond, const char *what)
{
    if (cond) {
        H->counter_add(s->self, s->ok, 1);
        return;
    }
    char msg[256];
    int n = snprintf(msg, sizeof msg, "abi11 check failed: %s", what);
    H->log(s->self, RP_LOG_ERROR, msg, (uint64_t)(n < 0 ? 0 : n));
    H->counter_add(s->self, s->failed, 1);
}

#define P(lit) lit, (uint64_t)(sizeof lit - 1)

static void read_config(struct state *s)
{
    int32_t flag = 0;
    check(s, H->config_bool(s->self, P("/flag"), &flag) == 0 && flag == 1, "config_bool /flag");
    check(s, H->config_i64(s->self, P("/threshold"), &s->threshold) == 0 && s->threshold == 3,
          "config_i64 /threshold");
    const char *str = NULL;
    uint64_t len = 0;
    check(s,
          H->config_str(s->self, P("/name"), &str, &len) == 0 && len == 5 &&
              memcmp(str, "alpha", 5) == 0 && str[5] == '\0',
          "config_str /name");
    uint32_t count = 0;
    check(s, H->config_str_array_count(s->self, P("/users"), &count) == 0 && count == 2,
          "config_str_array_count /users");
    check(s,
          H->config_str_array_item(s->self, P("/users"), 1, &str, &len) == 0 && len == 3 &&
              memcmp(str, "bob", 3) == 0,
          "config_str_array_item /users/1");
    check(s,
          H->config_json(s->self, P("/nested"), &str, &len) == 0 && len == 9 &&
              memcmp(str, "{\"a\":[1]}", 9) == 0,
          "config_json /nested");
    check(s, H->config_i64(s->self, P("/absent"), &s->threshold) == RP_ERR_NOTFOUND,
          "config_i64 /absent is RP_ERR_NOTFOUND");
    check(s, H->config_i64(s->self, P("/name"), &s->threshold) == RP_ERR_TYPE,
          "config_i64 /name is RP_ERR_TYPE");
    H->config_i64(s->self, P("/threshold"), &s->threshold);
}

static void walk_registry(struct state *s)
{
    rp_field_id pid = 0;
    uint32_t type = 0;
    check(s, H->field_lookup(s->self, P("process.pid"), &pid, &type) == 0 && pid != 0 && type != 0,
          "field_lookup process.pid");
    const char *name = NULL;
    uint64_t len = 0;
    uint32_t type2 = 0;
    check(s,
          H->field_info(s->self, pid, &name, &len, &type2) == 0 && len == 11 &&
              memcmp(name, "process.pid", 11) == 0 && type2 == type,
          "field_info of process.pid");
    uint32_t count = 0;
    check(s, H->field_count(s->self, &count) == 0 && count >= pid, "field_count");
    uint32_t listed = 0;
    for (rp_field_id id = 1; id <= count; id++)
        if (H->field_info(s->self, id, &name, &len, &type2) == 0 && len > 0 && type2 != 0)
            listed++;
    check(s, listed == count, "field_info of every id 1..field_count");
    uint32_t collectors = 99;
    check(s,
          H->field_provided(s->self, P("process.exec"), pid, &collectors) == 0 && collectors == 0,
          "field_provided without collectors is 0");
    check(s, H->field_lookup(s->self, P("no.such.field"), &pid, &type) == RP_ERR_NOTFOUND,
          "field_lookup of an unknown name");
}

static int abi11_check_config(rp_plugin *self, const rp_host_api *host)
{
    int64_t threshold = 0;
    if (host->config_i64(self, P("/threshold"), &threshold) == 0 && threshold < 0) {
        host->set_error(self, P("threshold: expected a count of 0 or more"));
        return RP_ERR_CONFIG;
    }
    return 0;
}

static int abi11_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    static struct state st;
    H = host;
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    struct state *s = &st;
    memset(s, 0, sizeof *s);
    s->self = self;
    if (host->counter_register(self, P("checks_ok"), &s->ok) != 0 ||
        host->counter_register(self, P("checks_failed"), &s->failed) != 0)
        return RP_ERR_INTERNAL;
    read_config(s);
    walk_registry(s);
    check(s, host->field_id(self, P(NS ".score"), RP_TYPE_I64, &s->score) == 0,
          "field_id in the plugin's namespace");
    rp_field_id other = 0;
    check(s, host->field_id(self, P("elsewhere.score"), RP_TYPE_I64, &other) != 0,
          "field_id outside the plugin's namespace is refused");
    check(s, host->gauge_register(self, P("users_tracked"), &s->tracked) == 0, "gauge_register");
    check(s,
          host->service_offer(self, P("org.rampart.test.abi11"), RP_SERVICE_VERSION(1, 2),
                              &service_table) == 0,
          "service_offer");
    int64_t dirfd = -1;
    const char *path = NULL;
    uint64_t len = 0;
    check(s, host->private_dir(self, &dirfd, &path, &len) == 0 && dirfd >= 0 && len > 0,
          "private_dir");
    if (dirfd >= 0) {
        int fd = openat((int)dirfd, "probe", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
        check(s, fd >= 0, "a file created in the private folder");
        if (fd >= 0)
            close(fd);
    }
    *state = s;
    return 0;
}

static int abi11_start(rp_plugin *self, void *state)
{
    struct state *s = state;
    check(s, H->subscribe(self, P("test.abi11"), 0) == 0, "subscribe");
    const void *table = NULL;
    uint64_t hold = 0;
    check(s,
          H->service_acquire(self, P("org.rampart.test.abi11"), RP_SERVICE_VERSION(1, 1), &table,
                             &hold) == 0 &&
              table == &service_table,
          "service_acquire of an older minor");
    if (hold)
        check(s, H->service_release(self, hold) == 0, "service_release");
    check(s,
          H->service_acquire(self, P("org.rampart.test.abi11"), RP_SERVICE_VERSION(2, 0), &table,
                             &hold) == RP_ERR_NOTFOUND,
          "service_acquire of another major is RP_ERR_NOTFOUND");
    rp_event *ev = NULL;
    if (H->event_create(self, P("test.abi11"), &ev) != 0)
        return RP_ERR_INTERNAL;
    H->set_i64(ev, s->score, 42);
    return H->event_publish(self, ev);
}

static int abi11_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct state *s = state;
    uint32_t n = 0;
    check(s, H->event_field_count(ev, &n) == 0 && n >= 4, "event_field_count");
    int seen_score = 0, seen_id_first = 0;
    for (uint32_t i = 0; i < n; i++) {
        rp_field_id id = 0;
        uint32_t type = 0;
        if (H->event_field_at(ev, i, &id, &type) != 0)
            continue;
        if (id == s->score && type == RP_TYPE_I64)
            seen_score = 1;
        const char *name = NULL;
        uint64_t len = 0;
        if (i < 3 && H->field_info(self, id, &name, &len, &type) == 0 && len == 8 &&
            memcmp(name, "event.id", 8) == 0)
            seen_id_first = 1;
    }
    check(s, seen_score, "event_field_at lists the custom field");
    check(s, seen_id_first, "event_field_at lists the host's fields first");
    rp_field_id dummy;
    uint32_t t;
    check(s, H->event_field_at(ev, n, &dummy, &t) == RP_ERR_RANGE,
          "event_field_at past the end is RP_ERR_RANGE");

    uint64_t dropped = 1;
    check(s, H->dropped_get(self, &dropped) == 0 && dropped == 0, "dropped_get");
    check(s, H->gauge_set(self, s->tracked, 7) == 0, "gauge_set");

    static const char *const tags[] = {"abi11.tag", NULL};
    static const char *const techniques[] = {"T1059", NULL};
    rp_alert alert = {
        .struct_size = sizeof(rp_alert),
        .severity = RP_SEVERITY_HIGH,
        .rule_id = "abi11-rule",
        .rule_name = "ABI 1.1 conformance",
        .ruleset = "abi11",
        .reason = "the conformance plugin saw its own event",
        .tags = tags,
        .technique_ids = techniques,
    };
    rp_event *out = NULL;
    const rp_event *sources[1] = {ev};
    check(s, H->alert_create(self, &alert, sources, 1, &out) == 0 && out != NULL, "alert_create");
    if (!out)
        return 0;
    rp_field_id mode_id = 0;
    uint32_t type = 0;
    const char *mode = NULL;
    uint64_t len = 0;
    check(s,
          H->field_lookup(self, P("rampart.policy.mode"), &mode_id, &type) == 0 &&
              H->get_str(out, mode_id, &mode, &len) == 0 && len == 7 &&
              memcmp(mode, "prevent", 7) == 0,
          "the alert carries the policy the config sets for its tag");
    int64_t score = 0;
    check(s, H->get_i64(out, s->score, &score) == 0 && score == 42,
          "the alert carries the source's custom field");
    check(s, H->event_publish(self, out) == 0, "publishing the alert");
    return 0;
}

static int abi11_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                            uint64_t len)
{
    struct state *s = state;
    (void)self;
    check(s, request != NULL && len > 0, "on_command gets a request");
    if (H->command_reply(cmd, P("{\"progress\":50}"), RP_REPLY_MORE) != 0)
        return RP_ERR_INTERNAL;
    return H->command_reply(cmd, P("{\"done\":true}"), 0);
}

static int abi11_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void abi11_destroy(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
}

static const char *const provided_fields[] = {"event.id", "abi11.score", NULL};
static const rp_event_fields provides[] = {
    {"test.abi11", provided_fields},
    {NULL, NULL},
};

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.abi11",
    .version = "1.1.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "calls every host call of ABI 1.1",
    .config_schema = "{\"type\":\"object\",\"properties\":{"
                     "\"flag\":{\"type\":\"boolean\"},"
                     "\"threshold\":{\"type\":\"integer\"},"
                     "\"name\":{\"type\":\"string\"},"
                     "\"users\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
                     "\"nested\":{\"type\":\"object\"}}}",
    .init = abi11_init,
    .start = abi11_start,
    .stop = abi11_stop,
    .destroy = abi11_destroy,
    .on_event = abi11_on_event,
    .field_namespace = NS,
    .provides = provides,
    .check_config = abi11_check_config,
    .on_command = abi11_on_command,
    .capabilities = 0,
};

RP_PLUGIN_ENTRY(descriptor)
