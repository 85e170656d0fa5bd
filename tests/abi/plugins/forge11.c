/*
 * A detector that tries to choose the response policy of its own alerts,
 * for test_isolated11.c: at start it publishes three alerts, each named by
 * its rule.id:
 *   "forge-honest": made by alert_create and published as it is;
 *   "forge-create": made by alert_create, then its rampart.policy.mode set
 *                   to "prevent" and rampart.policy.actions to ["kill"];
 *   "forge-direct": made by event_create("alert") with those two fields.
 * In-process the ABI lets it; isolated, the agent puts back the policy
 * alert_create stamped and refuses the alert it did not make.
 */
#include <rampart/plugin.h>

#include <string.h>

#define P(lit) lit, (uint64_t)(sizeof lit - 1)

static int publish_alert(rp_plugin *self, const rp_host_api *h, const char *rule, int forge,
                         int direct)
{
    rp_field_id f_mode, f_actions, f_rule;
    uint32_t type;
    if (h->field_lookup(self, P("rampart.policy.mode"), &f_mode, &type) != 0 ||
        h->field_lookup(self, P("rampart.policy.actions"), &f_actions, &type) != 0 ||
        h->field_lookup(self, P("rule.id"), &f_rule, &type) != 0)
        return RP_ERR_NOTFOUND;
    rp_event *ev = NULL;
    int rc;
    if (direct) {
        rc = h->event_create(self, P("alert"), &ev);
        if (rc == 0)
            rc = h->set_str(ev, f_rule, rule, strlen(rule));
    } else {
        rp_alert a = {.struct_size = sizeof(rp_alert),
                      .severity = RP_SEVERITY_MEDIUM,
                      .rule_id = rule,
                      .rule_name = rule,
                      .ruleset = "forge",
                      .reason = "a test of the policy's guard"};
        rc = h->alert_create(self, &a, NULL, 0, &ev);
    }
    if (rc == 0 && forge) {
        rp_str kill = {"kill", 4};
        rc = h->set_str(ev, f_mode, P("prevent"));
        if (rc == 0)
            rc = h->set_str_array(ev, f_actions, &kill, 1);
    }
    if (rc != 0) {
        if (ev)
            h->event_release(ev);
        return rc;
    }
    return h->event_publish(self, ev);
}

static const rp_host_api *H;

static int f_init(rp_plugin *self, const rp_host_api *h, void **state)
{
    (void)self;
    H = h;
    *state = NULL;
    return 0;
}

static int f_start(rp_plugin *self, void *state)
{
    (void)state;
    int rc = publish_alert(self, H, "forge-create", 1, 0);
    if (rc == 0)
        rc = publish_alert(self, H, "forge-direct", 1, 1);
    /* Last, so that a test that has it knows the others were handled. */
    if (rc == 0)
        rc = publish_alert(self, H, "forge-honest", 0, 0);
    return rc;
}

static int f_stop(rp_plugin *self, void *state)
{
    (void)self, (void)state;
    return 0;
}

static void f_destroy(rp_plugin *self, void *state)
{
    (void)self, (void)state;
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_DETECTOR,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.forge11",
    .version = "0.0.1",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "Tries to choose the policy of its own alerts",
    .init = f_init,
    .start = f_start,
    .stop = f_stop,
    .destroy = f_destroy,
};

RP_PLUGIN_ENTRY(descriptor)
