/*
 * hello_detector - the smallest useful Rampart detector.
 *
 * It subscribes to process.exec and raises an alert when the command line
 * contains a configured substring. Built with the SDK header alone:
 *
 *   cc -std=c11 -pthread -shared -fPIC -fvisibility=hidden -I sdk/include \
 *      -Wl,--version-script=sdk/rampart-plugin.map -Wl,--no-undefined \
 *      -o hello_detector.so hello_detector.c
 *
 * Config: {"substring": "...", "severity": 47}
 */
#include <rampart/plugin.h>

#include <stdlib.h>
#include <string.h>

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"substring\"],"
    "\"properties\":{"
    "\"substring\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256},"
    "\"severity\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100,\"default\":47}}}";

struct hello {
    rp_plugin *self;
    const rp_host_api *host;
    char substring[257];
    int64_t severity;
    rp_field_id command_line;
    uint32_t alerts_counter;
};

/* Reads "key":"value" or "key":number from the validated config JSON. The
 * schema rules out escapes that matter here only loosely, so unescape \" and
 * \\ and refuse anything else. */
static int config_string(const char *json, const char *key, char *out, size_t cap)
{
    const char *p = strstr(json, key);
    if (!p)
        return RP_ERR_NOTFOUND;
    p = strchr(p + strlen(key), ':');
    if (!p || !(p = strchr(p, '"')))
        return RP_ERR_PARSE;
    size_t n = 0;
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\') {
            p++;
            if (*p != '"' && *p != '\\')
                return RP_ERR_UNSUPPORTED;
        }
        if (n + 1 >= cap)
            return RP_ERR_RANGE;
        out[n++] = *p;
    }
    out[n] = '\0';
    return 0;
}

static int64_t config_int(const char *json, const char *key, int64_t dflt)
{
    const char *p = strstr(json, key);
    if (!p || !(p = strchr(p + strlen(key), ':')))
        return dflt;
    return strtoll(p + 1, NULL, 10);
}

static int hello_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct hello *h = calloc(1, sizeof *h);
    const char *json;
    int rc;
    if (!h)
        return RP_ERR_NOMEM;
    h->self = self;
    h->host = host;
    if ((rc = host->config_get(self, &json, NULL)) != 0) {
        free(h);
        return rc;
    }
    if ((rc = config_string(json, "\"substring\"", h->substring, sizeof h->substring)) != 0) {
        host->set_error(self, "cannot read config.substring", 28);
        free(h);
        return rc;
    }
    h->severity = config_int(json, "\"severity\"", 47);
    if ((rc = host->field_id(self, "process.command_line", 20, RP_TYPE_STR, &h->command_line)) ||
        (rc = host->counter_register(self, "alerts", 6, &h->alerts_counter)) ||
        (rc = host->subscribe(self, "process.exec", 12, 0))) {
        free(h);
        return rc;
    }
    *state = h;
    return 0;
}

static int hello_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct hello *h = state;
    const char *cmd;
    uint64_t len;
    if (h->host->get_str(ev, h->command_line, &cmd, &len) != 0)
        return 0; /* no command line: nothing to match */
    if (!strstr(cmd, h->substring))
        return 0;

    /* The host builds the alert by the contract (sdk/docs/alerts.md): the
     * rule, the subject fields of the event that raised it (not its
     * categorisation), its event.id, and the policy that applies. */
    static const char *const techniques[] = {"T1059", NULL}; /* Command and Scripting Interpreter */
    static const char *const tactics[] = {"TA0002", NULL};   /* Execution */
    rp_alert a = {
        .struct_size = sizeof a,
        .severity = (uint32_t)h->severity,
        .rule_id = "hello-1",
        .rule_name = "Hello: command line contains the configured text",
        .ruleset = "hello",
        .reason = "the command line contains the configured text",
        .tags = NULL,
        .tactic_ids = tactics,
        .technique_ids = techniques,
    };
    rp_event *alert;
    int rc = h->host->alert_create(self, &a, &ev, 1, &alert);
    if (rc != 0)
        return rc;
    rc = h->host->event_publish(self, alert);
    if (rc == 0)
        h->host->counter_add(self, h->alerts_counter, 1);
    return rc;
}

static int hello_start(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static int hello_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void hello_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* alert_create */
    .kind = RP_KIND_DETECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.example.hello",
    .version = "1.0.0",
    .vendor = "Rampart examples",
    .license = "Apache-2.0",
    .description = "Alerts when a command line contains a configured substring",
    .config_schema = config_schema,
    .init = hello_init,
    .start = hello_start,
    .stop = hello_stop,
    .destroy = hello_destroy,
    .on_event = hello_on_event,
};

RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
{
    (void)host;
    *out = &descriptor;
    return 0;
}
