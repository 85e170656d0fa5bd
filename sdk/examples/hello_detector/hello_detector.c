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
 * Config: {"substring": "...", "severity": 47}, read with the host's typed
 * config getters (ABI 1.1).
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

/* Fails init with a message the host logs next to the error code. */
static int init_failed(struct hello *h, int rc, const char *msg)
{
    h->host->set_error(h->self, msg, strlen(msg));
    free(h);
    return rc;
}

static int hello_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct hello *h = calloc(1, sizeof *h);
    const char *substring;
    uint64_t len;
    int rc;
    if (!h)
        return RP_ERR_NOMEM;
    h->self = self;
    h->host = host;
    /* The config getters are ABI 1.1 (the descriptor's abi_minor already
     * keeps a 1.0 agent from loading the plugin). */
    if (!RP_HOST_HAS(host, config_i64) || !RP_HOST_HAS(host, config_str))
        return init_failed(h, RP_ERR_VERSION, "needs a Rampart agent of plugin ABI 1.1");
    /* The host validated the config against config_schema and filled in
     * the defaults, so both keys are there with their types; the getters
     * still answer an error rather than trust that. */
    if ((rc = host->config_str(self, "/substring", 10, &substring, &len)) != 0)
        return init_failed(h, rc, "config /substring: cannot read it");
    if (len >= sizeof h->substring)
        return init_failed(h, RP_ERR_RANGE, "config /substring: longer than 256 bytes");
    memcpy(h->substring, substring, len); /* calloc left the NUL after it */
    if ((rc = host->config_i64(self, "/severity", 9, &h->severity)) != 0)
        return init_failed(h, rc, "config /severity: cannot read it");
    if ((rc = host->field_id(self, "process.command_line", 20, RP_TYPE_STR, &h->command_line)) ||
        (rc = host->counter_register(self, "alerts", 6, &h->alerts_counter)))
        return init_failed(h, rc, "cannot register its field and counter");
    if ((rc = host->subscribe(self, "process.exec", 12, 0)) != 0)
        return init_failed(h, rc, "cannot subscribe to process.exec");
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
    /* publish takes our reference, also when it fails. */
    if ((rc = h->host->event_publish(self, alert)) != 0)
        return rc;
    return h->host->counter_add(self, h->alerts_counter, 1);
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
    .abi_minor = 1, /* the config getters and alert_create */
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
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
    .capabilities = 0, /* reads events only: needs no privilege */
};

RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
{
    if (!host || !out || host->abi_major != RP_ABI_MAJOR)
        return RP_ERR_VERSION;
    *out = &descriptor;
    return 0;
}
