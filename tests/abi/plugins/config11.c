/*
 * A 1.1 test detector for the config getters, check_config and declared
 * capabilities (tests/abi/test_config11.sh). check_config refuses a
 * threshold over 100 and says which key; it also proves that the calls it
 * may not make answer RP_ERR_BUSY. init reads every setting through the
 * typed getters and logs what it read, so the test can compare. Its
 * "api_key" is marked secret: init logs it as it is, which the agent must
 * redact, and reversed, which proves the plugin got the real value
 * (tests/cli/test_secrets.sh).
 */
#include <rampart/plugin.h>

#include <stdio.h>
#include <string.h>

#define LIT(s) (s), (sizeof(s) - 1)

static const char schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"threshold\":{\"type\":\"integer\",\"default\":10},"
    "\"window\":{\"type\":\"object\",\"properties\":{\"seconds\":{\"type\":\"integer\"}}},"
    "\"users\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"default\":[]},"
    "\"a/b~c\":{\"type\":\"boolean\"},"
    "\"api_key\":{\"type\":\"string\",\"secret\":true,\"default\":\"\"}}}";

static void c11_tick(void *arg)
{
    (void)arg;
}

static int c11_check(rp_plugin *self, const rp_host_api *host)
{
    char msg[160];
    int64_t threshold;
    int rc = host->config_i64(self, LIT("/threshold"), &threshold);
    if (rc != 0) {
        snprintf(msg, sizeof msg, "/threshold: %s", rp_errname(rc));
        host->set_error(self, msg, strlen(msg));
        return RP_ERR_CONFIG;
    }
    /* Not initialised yet: the host must refuse everything else. */
    rp_event *ev = NULL;
    uint64_t timer;
    uint32_t counter;
    uint64_t dropped, hold;
    int64_t dirfd;
    const char *path;
    const void *table;
    rp_event *alert = NULL;
    rp_alert a = {sizeof a, 50, "r", "r", "config11", "why", NULL, NULL, NULL, NULL, NULL};
    int busy[] = {host->event_create(self, LIT("test.config11"), &ev),
                  host->timer_start(self, 1000, 0, c11_tick, NULL, &timer),
                  host->counter_register(self, LIT("checked"), &counter),
                  /* the 1.1 calls that act, as well */
                  host->alert_create(self, &a, NULL, 0, &alert), host->dropped_get(self, &dropped),
                  host->gauge_register(self, LIT("checked"), &counter), host->gauge_set(self, 0, 1),
                  host->service_offer(self, LIT("org.rampart.test.c11"), 1, &a),
                  host->service_acquire(self, LIT("org.rampart.test.c11"), 1, &table, &hold),
                  host->service_release(self, 1), host->private_dir(self, &dirfd, &path, NULL)};
    if (alert)
        host->event_release(alert);
    for (int i = 0; i < (int)(sizeof busy / sizeof busy[0]); i++) {
        if (busy[i] != RP_ERR_BUSY) {
            snprintf(msg, sizeof msg, "host call %d inside check_config answered %s", i,
                     rp_errname(busy[i]));
            host->set_error(self, msg, strlen(msg));
            if (ev)
                host->event_release(ev);
            return RP_ERR_INTERNAL;
        }
    }
    if (threshold > 100) {
        snprintf(msg, sizeof msg, "/threshold: must be at most 100, got %lld",
                 (long long)threshold);
        host->set_error(self, msg, strlen(msg));
        return RP_ERR_CONFIG;
    }
    return 0;
}

static int c11_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    char line[512];
    int64_t threshold = -1, seconds = -1;
    int32_t flag = -1;
    uint32_t nusers = 0;
    const char *first = "", *whole = "";
    uint64_t first_len = 0, whole_len = 0;
    int rc;
    *state = (void *)host;
    if ((rc = host->config_i64(self, LIT("/threshold"), &threshold)) != 0)
        return rc;
    rc = host->config_i64(self, LIT("/window/seconds"), &seconds);
    if (rc != 0 && rc != RP_ERR_NOTFOUND)
        return rc;
    rc = host->config_bool(self, LIT("/a~1b~0c"), &flag);
    if (rc != 0 && rc != RP_ERR_NOTFOUND)
        return rc;
    if ((rc = host->config_str_array_count(self, LIT("/users"), &nusers)) != 0)
        return rc;
    if (nusers > 0 &&
        (rc = host->config_str_array_item(self, LIT("/users"), 0, &first, &first_len)) != 0)
        return rc;
    if ((rc = host->config_json(self, "", 0, &whole, &whole_len)) != 0)
        return rc;
    snprintf(line, sizeof line, "config11: threshold=%lld seconds=%lld flag=%d users=%u first=%.*s",
             (long long)threshold, (long long)seconds, (int)flag, (unsigned)nusers, (int)first_len,
             first);
    host->log(self, RP_LOG_INFO, line, strlen(line));
    const char *key = "";
    uint64_t key_len = 0;
    if (host->config_str(self, LIT("/api_key"), &key, &key_len) == 0 && key_len > 0) {
        char rev[256];
        size_t n = key_len < sizeof rev ? (size_t)key_len : sizeof rev - 1;
        for (size_t i = 0; i < n; i++)
            rev[i] = key[n - 1 - i];
        snprintf(line, sizeof line, "config11: api_key=%.*s reversed=%.*s", (int)key_len, key,
                 (int)n, rev);
        host->log(self, RP_LOG_INFO, line, strlen(line));
    }
    return 0;
}

static int c11_start(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static int c11_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void c11_destroy(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.config11",
    .version = "1.0.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "config getters, check_config and capabilities",
    .config_schema = schema,
    .init = c11_init,
    .start = c11_start,
    .stop = c11_stop,
    .destroy = c11_destroy,
    .check_config = c11_check,
    .capabilities = RP_CAP_NET_ADMIN | RP_CAP_SYS_PTRACE,
};

RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
{
    if (host->abi_major != RP_ABI_MAJOR || !RP_HOST_HAS(host, config_json))
        return RP_ERR_VERSION;
    *out = &descriptor;
    return 0;
}
