/*
 * rampart/plugin_util_response.h - the response event of
 * sdk/docs/responses.md, header-only, for responder plugins.
 *
 *   rp_util_response_init    once, at init: registers the fields;
 *   rp_util_response_wants   does this alert ask (prevent) for this action?
 *   rp_util_response_begin   a new "response.<action>" event linked to the
 *                            alert (or to a command when alert is NULL);
 *   rp_util_response_finish  sets the outcome, reason, message and latency,
 *                            publishes the event and drops the caller's
 *                            reference.
 *
 * Like <rampart/plugin_util.h> it is not part of the ABI: every function is
 * static inline, and it includes only that header and the C library. It
 * compiles as C99, C11 and C++. Every function returns 0 or a negative
 * RP_ERR_* code unless its comment says otherwise; any thread.
 */
#ifndef RAMPART_PLUGIN_UTIL_RESPONSE_H
#define RAMPART_PLUGIN_UTIL_RESPONSE_H

#include <rampart/plugin_util.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Outcomes (rampart.response.outcome). */
#define RP_UTIL_RESPONSE_DONE    0 /* "done": event.outcome success */
#define RP_UTIL_RESPONSE_REFUSED 1 /* "refused": decided not to act, safely */
#define RP_UTIL_RESPONSE_FAILED  2 /* "failed": tried and could not */

/* Bytes of an action name (without the NUL) and of the message. */
#define RP_UTIL_RESPONSE_ACTION_MAX  48
#define RP_UTIL_RESPONSE_MESSAGE_MAX 512

enum {
    RP_UTIL_RF_ACTION,
    RP_UTIL_RF_OUTCOME,
    RP_UTIL_RF_REASON,
    RP_UTIL_RF_TRIGGER,
    RP_UTIL_RF_ALERT_ID,
    RP_UTIL_RF_LATENCY_US,
    RP_UTIL_RF_MESSAGE,
    RP_UTIL_RF_EVENT_CATEGORY,
    RP_UTIL_RF_EVENT_TYPE,
    RP_UTIL_RF_EVENT_ACTION,
    RP_UTIL_RF_EVENT_OUTCOME,
    RP_UTIL_RF_EVENT_KIND,
    RP_UTIL_RF_EVENT_ID,
    RP_UTIL_RF_TIMESTAMP,
    RP_UTIL_RF_RULE_ID,
    RP_UTIL_RF_RULE_NAME,
    RP_UTIL_RF_RULE_RULESET,
    RP_UTIL_RF_POLICY_MODE,
    RP_UTIL_RF_POLICY_ACTIONS,
    RP_UTIL_RF_POLICY_MATCHED,
    RP_UTIL_RF_COUNT
};

/* The host, the plugin and the field ids; filled by rp_util_response_init,
 * read-only afterwards (so any thread may use it). */
typedef struct rp_util_response {
    const rp_host_api *host; /* borrowed */
    rp_plugin *self;         /* borrowed */
    rp_field_id id[RP_UTIL_RF_COUNT];
} rp_util_response;

/* Registers the fields (set_error names one that fails). */
static inline int rp_util_response_init(rp_util_response *r, const rp_host_api *host,
                                        rp_plugin *self)
{
    static const rp_util_field_def defs[RP_UTIL_RF_COUNT] = {
        {"rampart.response.action", RP_TYPE_STR},
        {"rampart.response.outcome", RP_TYPE_STR},
        {"rampart.response.reason", RP_TYPE_STR},
        {"rampart.response.trigger", RP_TYPE_STR},
        {"rampart.response.alert_id", RP_TYPE_STR},
        {"rampart.response.latency_us", RP_TYPE_U64},
        {"message", RP_TYPE_STR},
        {"event.category", RP_TYPE_STR_ARRAY},
        {"event.type", RP_TYPE_STR_ARRAY},
        {"event.action", RP_TYPE_STR},
        {"event.outcome", RP_TYPE_STR},
        {"event.kind", RP_TYPE_STR},
        {"event.id", RP_TYPE_STR},
        {"@timestamp", RP_TYPE_TIMESTAMP},
        {"rule.id", RP_TYPE_STR},
        {"rule.name", RP_TYPE_STR},
        {"rule.ruleset", RP_TYPE_STR},
        {"rampart.policy.mode", RP_TYPE_STR},
        {"rampart.policy.actions", RP_TYPE_STR_ARRAY},
        {"rampart.policy.matched", RP_TYPE_STR_ARRAY},
    };
    if (!r || !host || !self)
        return RP_ERR_INVAL;
    memset(r, 0, sizeof *r);
    r->host = host;
    r->self = self;
    return rp_util_fields_register(host, self, defs, RP_UTIL_RF_COUNT, r->id);
}

static inline int rp_util__response_str_is(const rp_util_response *r, const rp_event *ev,
                                           uint32_t which, const char *want)
{
    const char *s = NULL;
    uint64_t n = 0;
    size_t wn = strlen(want);
    return r->host->get_str(ev, r->id[which], &s, &n) == 0 && n == wn && memcmp(s, want, wn) == 0;
}

/* 1 when ev is an alert whose policy is prevent and whose actions name
 * action; 0 otherwise (a detect alert, another action, not an alert). */
static inline int rp_util_response_wants(const rp_util_response *r, const rp_event *ev,
                                         const char *action)
{
    uint32_t count = 0, i;
    size_t an;
    if (!r || !r->host || !ev || !action)
        return 0;
    if (!rp_util__response_str_is(r, ev, RP_UTIL_RF_EVENT_KIND, "alert") ||
        !rp_util__response_str_is(r, ev, RP_UTIL_RF_POLICY_MODE, "prevent"))
        return 0;
    if (r->host->get_str_array_count(ev, r->id[RP_UTIL_RF_POLICY_ACTIONS], &count) != 0)
        return 0;
    an = strlen(action);
    for (i = 0; i < count; i++) {
        const char *s = NULL;
        uint64_t n = 0;
        if (r->host->get_str_array_item(ev, r->id[RP_UTIL_RF_POLICY_ACTIONS], i, &s, &n) == 0 &&
            n == an && memcmp(s, action, an) == 0)
            return 1;
    }
    return 0;
}

static inline void rp_util__response_copy_str(const rp_util_response *r, const rp_event *from,
                                              rp_event *to, uint32_t from_which, uint32_t to_which)
{
    const char *s = NULL;
    uint64_t n = 0;
    if (r->host->get_str(from, r->id[from_which], &s, &n) == 0)
        (void)r->host->set_str(to, r->id[to_which], s, n);
}

static inline int rp_util__response_set_one(const rp_util_response *r, rp_event *ev, uint32_t which,
                                            const char *value)
{
    rp_str item;
    item.ptr = value;
    item.len = (uint64_t)strlen(value);
    return r->host->set_str_array(ev, r->id[which], &item, 1);
}

/*
 * A new event "response.<action>" into *out (the caller owns one reference
 * until rp_util_response_finish, or releases it with host->event_release).
 * With an alert: trigger "alert", rampart.response.alert_id its event.id,
 * and its rule.id, rule.name, rule.ruleset and rampart.policy.matched
 * copied; alert is only read. Without (NULL): trigger "command" (set
 * rampart.response.trigger again, e.g. to "start", to say otherwise). category
 * and type are the ECS values (one each, e.g. "process", "end"); NULL
 * leaves them unset. RP_ERR_INVAL for an action that is not 1 to
 * RP_UTIL_RESPONSE_ACTION_MAX bytes of [a-z0-9_].
 */
static inline int rp_util_response_begin(const rp_util_response *r, const rp_event *alert,
                                         const char *action, const char *category, const char *type,
                                         rp_event **out)
{
    char topic[sizeof "response." + RP_UTIL_RESPONSE_ACTION_MAX];
    size_t an, i;
    int rc;
    rp_event *ev = NULL;
    if (!r || !r->host || !action || !out)
        return RP_ERR_INVAL;
    *out = NULL;
    an = strlen(action);
    if (an == 0 || an > RP_UTIL_RESPONSE_ACTION_MAX)
        return RP_ERR_INVAL;
    for (i = 0; i < an; i++) {
        char c = action[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return RP_ERR_INVAL;
    }
    memcpy(topic, "response.", sizeof "response." - 1);
    memcpy(topic + sizeof "response." - 1, action, an);
    rc = r->host->event_create(r->self, topic, (uint64_t)(sizeof "response." - 1 + an), &ev);
    if (rc != 0)
        return rc;
    if (category)
        rc = rp_util__response_set_one(r, ev, RP_UTIL_RF_EVENT_CATEGORY, category);
    if (rc == 0 && type)
        rc = rp_util__response_set_one(r, ev, RP_UTIL_RF_EVENT_TYPE, type);
    if (rc == 0)
        rc = r->host->set_str(ev, r->id[RP_UTIL_RF_EVENT_ACTION], action, (uint64_t)an);
    if (rc == 0)
        rc = r->host->set_str(ev, r->id[RP_UTIL_RF_ACTION], action, (uint64_t)an);
    if (rc == 0)
        rc = r->host->set_str(ev, r->id[RP_UTIL_RF_TRIGGER], alert ? "alert" : "command",
                              alert ? 5u : 7u);
    if (rc == 0 && alert) {
        uint32_t count = 0, j;
        rp_util__response_copy_str(r, alert, ev, RP_UTIL_RF_EVENT_ID, RP_UTIL_RF_ALERT_ID);
        rp_util__response_copy_str(r, alert, ev, RP_UTIL_RF_RULE_ID, RP_UTIL_RF_RULE_ID);
        rp_util__response_copy_str(r, alert, ev, RP_UTIL_RF_RULE_NAME, RP_UTIL_RF_RULE_NAME);
        rp_util__response_copy_str(r, alert, ev, RP_UTIL_RF_RULE_RULESET, RP_UTIL_RF_RULE_RULESET);
        /* At most 32 entries decide a policy (alerts.md); more are not read. */
        if (r->host->get_str_array_count(alert, r->id[RP_UTIL_RF_POLICY_MATCHED], &count) == 0 &&
            count > 0) {
            rp_str items[32];
            uint32_t n = count < 32 ? count : 32, got = 0;
            for (j = 0; j < n; j++) {
                const char *s = NULL;
                uint64_t len = 0;
                if (r->host->get_str_array_item(alert, r->id[RP_UTIL_RF_POLICY_MATCHED], j, &s,
                                                &len) == 0) {
                    items[got].ptr = s;
                    items[got].len = len;
                    got++;
                }
            }
            (void)r->host->set_str_array(ev, r->id[RP_UTIL_RF_POLICY_MATCHED], items, got);
        }
    }
    if (rc != 0) {
        r->host->event_release(ev);
        return rc;
    }
    *out = ev;
    return 0;
}

/*
 * Finishes and publishes ev (from rp_util_response_begin): outcome (one of
 * RP_UTIL_RESPONSE_*), reason (a short code; NULL or "" for none, which is
 * right only when done), a printf message, and the latency since the
 * alert's @timestamp when alert (the one given to begin) is not NULL. The
 * caller's reference is dropped whatever happens. Returns what
 * event_publish returned (RP_ERR_FULL when the bus is at its cap: the
 * caller may log it, the action itself stands).
 */
static inline int rp_util_response_finish(const rp_util_response *r, rp_event *ev,
                                          const rp_event *alert, int outcome, const char *reason,
                                          const char *fmt, ...) RP_UTIL_PRINTF(6, 7);
static inline int rp_util_response_finish(const rp_util_response *r, rp_event *ev,
                                          const rp_event *alert, int outcome, const char *reason,
                                          const char *fmt, ...)
{
    static const char *const names[] = {"done", "refused", "failed"};
    char msg[RP_UTIL_RESPONSE_MESSAGE_MAX];
    const char *name;
    int m = 0, rc;
    va_list ap;
    if (!r || !r->host || !ev)
        return RP_ERR_INVAL;
    name = outcome >= 0 && outcome <= 2 ? names[outcome] : "failed";
    (void)r->host->set_str(ev, r->id[RP_UTIL_RF_OUTCOME], name, (uint64_t)strlen(name));
    (void)r->host->set_str(ev, r->id[RP_UTIL_RF_EVENT_OUTCOME],
                           outcome == RP_UTIL_RESPONSE_DONE ? "success" : "failure",
                           7u /* both are 7 bytes */);
    if (reason && reason[0])
        (void)r->host->set_str(ev, r->id[RP_UTIL_RF_REASON], reason, (uint64_t)strlen(reason));
    if (fmt) {
        va_start(ap, fmt);
        m = vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        if (m > 0)
            (void)r->host->set_str(ev, r->id[RP_UTIL_RF_MESSAGE], msg,
                                   (uint64_t)((size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1));
    }
    if (alert) {
        int64_t at = 0, now = r->host->now_ns();
        if (r->host->get_timestamp(alert, r->id[RP_UTIL_RF_TIMESTAMP], &at) == 0 && now >= at)
            (void)r->host->set_u64(ev, r->id[RP_UTIL_RF_LATENCY_US], (uint64_t)(now - at) / 1000u);
    }
    /* publish takes the reference, also when it fails. */
    rc = r->host->event_publish(r->self, ev);
    return rc;
}

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_PLUGIN_UTIL_RESPONSE_H */
