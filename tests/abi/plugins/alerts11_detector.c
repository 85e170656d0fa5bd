/*
 * A detector built against the 1.1 header that raises its alerts with
 * alert_create and acts itself when the policy says prevent, the way a
 * detector that blocks a program at exec would: it reads
 * rampart.policy.mode from the alert the host built, before publishing it.
 *
 * On every process.exec it first checks that an alert without a reason is
 * refused (counter "refused_ok"), then raises rule "a11-shell" (tag
 * attack.t1059) for an executable ending in "sh" and rule "a11-other"
 * otherwise, in ruleset "alerts11". An alert in prevent mode is counted
 * ("prevented") and marked alerts11.acted = true. test_alerts11.c drives it.
 */
#include <rampart/plugin.h>

#include <stdlib.h>
#include <string.h>

struct a11 {
    const rp_host_api *host;
    rp_field_id executable, policy_mode, acted;
    uint32_t c_alerts, c_prevented, c_refused_ok;
};

static int a11_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, alert_create))
        return RP_ERR_VERSION;
    struct a11 *d = calloc(1, sizeof *d);
    if (!d)
        return RP_ERR_NOMEM;
    d->host = host;
    int rc;
    if ((rc = host->field_id(self, "process.executable", 18, RP_TYPE_STR, &d->executable)) ||
        (rc = host->field_id(self, "rampart.policy.mode", 19, RP_TYPE_STR, &d->policy_mode)) ||
        (rc = host->field_id(self, "alerts11.acted", 14, RP_TYPE_BOOL, &d->acted)) ||
        (rc = host->counter_register(self, "alerts", 6, &d->c_alerts)) ||
        (rc = host->counter_register(self, "prevented", 9, &d->c_prevented)) ||
        (rc = host->counter_register(self, "refused_ok", 10, &d->c_refused_ok)) ||
        (rc = host->subscribe(self, "process.exec", 12, 0))) {
        free(d);
        return rc;
    }
    *state = d;
    return 0;
}

static int a11_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct a11 *d = state;
    const char *exe;
    uint64_t len;
    if (d->host->get_str(ev, d->executable, &exe, &len) != 0)
        return 0;
    int shell = len >= 2 && memcmp(exe + len - 2, "sh", 2) == 0;
    static const char *const shell_tags[] = {"attack.t1059", NULL};
    static const char *const techniques[] = {"T1059.004", NULL};
    rp_alert a = {
        .struct_size = sizeof a,
        .severity = shell ? RP_SEVERITY_HIGH : RP_SEVERITY_LOW,
        .rule_id = shell ? "a11-shell" : "a11-other",
        .rule_name = shell ? "A shell ran" : "A program ran",
        .ruleset = "alerts11",
        .reason = NULL,
        .tags = shell ? shell_tags : NULL,
        .technique_ids = shell ? techniques : NULL,
    };
    rp_event *alert = NULL;
    /* The contract's required reason is missing: refused, nothing made. */
    if (d->host->alert_create(self, &a, &ev, 1, &alert) == RP_ERR_INVAL && !alert)
        d->host->counter_add(self, d->c_refused_ok, 1);
    a.reason = shell ? "a shell was started" : "a program was started";
    int rc = d->host->alert_create(self, &a, &ev, 1, &alert);
    if (rc != 0)
        return rc;
    const char *mode;
    if (d->host->get_str(alert, d->policy_mode, &mode, &len) == 0 && strcmp(mode, "prevent") == 0) {
        /* Here a detector hooked into exec would deny it. */
        d->host->counter_add(self, d->c_prevented, 1);
        d->host->set_bool(alert, d->acted, 1);
    }
    rc = d->host->event_publish(self, alert);
    if (rc == 0)
        d->host->counter_add(self, d->c_alerts, 1);
    return rc;
}

static int a11_start(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static int a11_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void a11_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_DETECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.alerts11",
    .version = "1.1.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "Raises alerts with alert_create and acts on prevent",
    .init = a11_init,
    .start = a11_start,
    .stop = a11_stop,
    .destroy = a11_destroy,
    .on_event = a11_on_event,
    .field_namespace = "alerts11",
};

RP_PLUGIN_ENTRY(descriptor)
