/*
 * core/runtime/host_alert.c - the host call alert_create (ABI 1.1) and the
 * host's response policy. The contract is sdk/docs/alerts.md: an alert is an
 * event of type "alert" built from an rp_alert, the subject fields of its
 * first source (never the source's categorisation), the ids of every source,
 * and the policy decision the host resolved for it.
 */
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/host_private.h"
#include "runtime/policy.h"
#include "runtime/topic.h"
#include "lib/log.h"
#include "os/os_thread.h"

#include <stdlib.h>
#include <string.h>

/* Caps of alert_create (sdk/docs/alerts.md); past them RP_ERR_INVAL. */
#define MAX_SOURCES 64u
#define MAX_LIST    32u  /* tags, tactic ids, technique ids */
#define MAX_NAME    256u /* rule_name */
#define MAX_FREETEXT                                                                               \
    4097u /* reason, description, reference: read at most this much; the                           \
             event's 4 KiB string cap cuts them and sets event.truncated */

/* ---- the policy ---------------------------------------------------------- */

/* Guards every host's policy pointer: taking a reference is a few
 * instructions, and a reload swaps the pointer under it, so an alert resolves
 * against either the old or the new policy, whole. */
static rp__os_static_mutex policy_lock = RP__OS_STATIC_MUTEX_INIT;

static void log_policy_error(void *arg, const struct rp__json_seg *segv, int depth, const char *msg)
{
    (void)arg;
    char path[256];
    rp__json_path_format(segv, depth, path, sizeof path);
    rp__log_error("%s: %s", path, msg);
}

int rp__host_set_policy(rp__host *host, const json_t *policy)
{
    if (!host)
        return RP_ERR_INVAL;
    rp__policy *next = NULL;
    int rc = rp__policy_create(policy, log_policy_error, NULL, &next);
    if (rc != 0)
        return rc;
    rp__os_static_mutex_lock(&policy_lock);
    rp__policy *old = host->policy;
    host->policy = next;
    rp__os_static_mutex_unlock(&policy_lock);
    rp__policy_release(old);
    return 0;
}

void rp__host_policy_clear(rp__host *host)
{
    rp__os_static_mutex_lock(&policy_lock);
    rp__policy *old = host->policy;
    host->policy = NULL;
    rp__os_static_mutex_unlock(&policy_lock);
    rp__policy_release(old);
}

static rp__policy *policy_get(rp__host *host)
{
    rp__os_static_mutex_lock(&policy_lock);
    rp__policy *p = host->policy;
    rp__policy_retain(p);
    rp__os_static_mutex_unlock(&policy_lock);
    return p;
}

/* ---- fields ---------------------------------------------------------------- */

enum {
    F_CATEGORY,
    F_TYPE,
    F_SEVERITY,
    F_REASON,
    F_RULE_ID,
    F_RULE_NAME,
    F_RULESET,
    F_RULE_DESCRIPTION,
    F_RULE_REFERENCE,
    F_RULE_TAGS,
    F_FRAMEWORK,
    F_TACTIC_ID,
    F_TECHNIQUE_ID,
    F_POLICY_MODE,
    F_POLICY_ACTIONS,
    F_POLICY_MATCHED,
    F_SOURCE_IDS,
    F_COUNT
};

static const struct {
    const char *name;
    uint32_t type;
} field_defs[F_COUNT] = {
    [F_CATEGORY] = {"event.category", RP_TYPE_STR_ARRAY},
    [F_TYPE] = {"event.type", RP_TYPE_STR_ARRAY},
    [F_SEVERITY] = {"event.severity", RP_TYPE_I64},
    [F_REASON] = {"event.reason", RP_TYPE_STR},
    [F_RULE_ID] = {"rule.id", RP_TYPE_STR},
    [F_RULE_NAME] = {"rule.name", RP_TYPE_STR},
    [F_RULESET] = {"rule.ruleset", RP_TYPE_STR},
    [F_RULE_DESCRIPTION] = {"rule.description", RP_TYPE_STR},
    [F_RULE_REFERENCE] = {"rule.reference", RP_TYPE_STR},
    [F_RULE_TAGS] = {"rule.tags", RP_TYPE_STR_ARRAY},
    [F_FRAMEWORK] = {"threat.framework", RP_TYPE_STR},
    [F_TACTIC_ID] = {"threat.tactic.id", RP_TYPE_STR_ARRAY},
    [F_TECHNIQUE_ID] = {"threat.technique.id", RP_TYPE_STR_ARRAY},
    [F_POLICY_MODE] = {"rampart.policy.mode", RP_TYPE_STR},
    [F_POLICY_ACTIONS] = {"rampart.policy.actions", RP_TYPE_STR_ARRAY},
    [F_POLICY_MATCHED] = {"rampart.policy.matched", RP_TYPE_STR_ARRAY},
    [F_SOURCE_IDS] = {"rampart.alert.source_ids", RP_TYPE_STR_ARRAY},
};

static rp_field_id fids[F_COUNT];
static int fields_rc;
static uint32_t alert_topic;
static rp__os_once_flag fields_once = RP__OS_ONCE_INIT;

static void fields_init(void *arg)
{
    (void)arg;
    for (int i = 0; i < F_COUNT && fields_rc == 0; i++)
        fields_rc = rp__field_intern(field_defs[i].name, strlen(field_defs[i].name),
                                     field_defs[i].type, &fids[i]);
    if (fields_rc == 0)
        fields_rc = rp__topic_intern("alert", 5, &alert_topic);
}

/*
 * Whether a field of the first source goes into the alert: the fields that
 * describe the subject (process, file, user, group, host, network peers,
 * dns, url, container, ... and custom fields) do; what describes the source
 * event itself (its categorisation and the other event.* fields, its time,
 * message and tags, its log and error details, who observed it) does not,
 * nor what the alert sets itself (rule, threat, rampart.alert/policy).
 * event.truncated is copied: a value copied from the source may be cut.
 */
static int copied(const char *name)
{
    static const char *const not_copied[] = {
        "@timestamp", "agent",   "data_stream",   "ecs",           "error",          "event",
        "log",        "message", "observer",      "risk",          "rule",           "tags",
        "threat",     "tracing", "vulnerability", "rampart.alert", "rampart.policy", NULL,
    };
    if (strcmp(name, RP__EVENT_TRUNCATED_FIELD) == 0)
        return 1;
    for (int i = 0; not_copied[i]; i++) {
        size_t n = strlen(not_copied[i]);
        if (strncmp(name, not_copied[i], n) == 0 && (name[n] == '\0' || name[n] == '.'))
            return 0;
    }
    return 1;
}

/* Copies one field of src into ev by its view. */
static int copy_field(rp_event *ev, const rp_event *src, const rp__field_view *v)
{
    switch (v->type) {
    case RP_TYPE_I64:
        return rp__event_set_i64(ev, v->id, v->i64);
    case RP_TYPE_TIMESTAMP:
        return rp__event_set_timestamp(ev, v->id, v->i64);
    case RP_TYPE_U64:
        return rp__event_set_u64(ev, v->id, v->u64);
    case RP_TYPE_BOOL:
        return rp__event_set_bool(ev, v->id, (int32_t)v->u64);
    case RP_TYPE_STR:
        return rp__event_set_str(ev, v->id, v->ptr, v->len);
    case RP_TYPE_BYTES:
        return rp__event_set_bytes(ev, v->id, v->ptr, v->len);
    case RP_TYPE_IP: {
        /* The stored address need not be aligned for rp_ip: copy it out. */
        rp_ip ip;
        memcpy(&ip, v->ptr, sizeof ip);
        return rp__event_set_ip(ev, v->id, &ip);
    }
    case RP_TYPE_STR_ARRAY: {
        rp_str *items = calloc(v->count ? v->count : 1, sizeof *items);
        if (!items)
            return RP_ERR_NOMEM;
        int rc = 0;
        for (uint32_t i = 0; rc == 0 && i < v->count; i++)
            rc = rp__event_get_str_array_item(src, v->id, i, &items[i].ptr, &items[i].len);
        if (rc == 0)
            rc = rp__event_set_str_array(ev, v->id, items, v->count);
        free(items);
        return rc;
    }
    default:
        return RP_ERR_INTERNAL;
    }
}

/* The subject fields of src. An alert never fails for its source being
 * large: what does not fit under the event's caps is left out and the alert
 * is marked event.truncated. */
static int copy_subject(rp_event *ev, const rp_event *src)
{
    uint32_t n = rp__event_field_count(src);
    for (uint32_t i = 0; i < n; i++) {
        rp__field_view v;
        if (rp__event_field_at(src, i, &v) != 0)
            continue;
        const char *name = rp__field_name(v.id, NULL);
        if (!name || !copied(name))
            continue;
        /* One field is kept free so that event.truncated always fits. */
        int rc = rp__event_field_count(ev) >= RP__EVENT_MAX_FIELDS - 1 ? RP_ERR_FULL
                                                                       : copy_field(ev, src, &v);
        if (rc == RP_ERR_FULL) {
            rp_field_id t = rp__event_truncated_field();
            return t ? rp__event_set_bool(ev, t, 1) : 0;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- validation -------------------------------------------------------------- */

/* strlen, reading at most cap bytes: cap when the string is that long or
 * longer. */
static size_t bounded_len(const char *s, size_t cap)
{
    size_t n = 0;
    while (n < cap && s[n])
        n++;
    return n;
}

/* A required name: 1 to MAX_NAME bytes, no control characters. */
static int name_ok(const char *s)
{
    if (!s)
        return 0;
    size_t n = bounded_len(s, MAX_NAME + 1);
    if (n == 0 || n > MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* A key-like string (rule id, tag): the policy's form, read boundedly. */
static int key_ok(const char *s)
{
    return s && bounded_len(s, RP__POLICY_KEY_MAX + 1) <= RP__POLICY_KEY_MAX &&
           rp__policy_is_key(s);
}

/* Counts a NULL-terminated list of at most MAX_LIST items, each accepted by
 * ok; -1 when it is longer or an item is refused. */
static int list_count(const char *const *list, int (*ok)(const char *))
{
    if (!list)
        return 0;
    int n = 0;
    for (; list[n]; n++)
        if (n >= (int)MAX_LIST || !ok(list[n]))
            return -1;
    return n;
}

/* "TA0002" (the letters in either case): an ATT&CK tactic id. */
static int tactic_ok(const char *s)
{
    if (bounded_len(s, 7) != 6 || (s[0] != 'T' && s[0] != 't') || (s[1] != 'A' && s[1] != 'a'))
        return 0;
    for (int i = 2; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* "T1059" or "T1059.004" (the letter in either case): an ATT&CK technique or
 * sub-technique id. */
static int technique_ok(const char *s)
{
    size_t n = bounded_len(s, 10);
    if ((n != 5 && n != 9) || (s[0] != 'T' && s[0] != 't'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (i == 5 ? s[i] != '.' : (s[i] < '0' || s[i] > '9'))
            return 0;
    return 1;
}

/* Sets a string array from a NULL-terminated list, ATT&CK ids upper-cased. */
static int set_list(rp_event *ev, rp_field_id f, const char *const *list, int n, int upper)
{
    rp_str items[MAX_LIST];
    char ids[MAX_LIST][10];
    for (int i = 0; i < n; i++) {
        size_t len = strlen(list[i]);
        items[i].ptr = list[i];
        items[i].len = len;
        if (upper) {
            for (size_t k = 0; k < len; k++)
                ids[i][k] =
                    (list[i][k] >= 'a' && list[i][k] <= 'z') ? (char)(list[i][k] - 32) : list[i][k];
            items[i].ptr = ids[i];
        }
    }
    return rp__event_set_str_array(ev, f, items, (uint32_t)n);
}

static int set_cstr(rp_event *ev, rp_field_id f, const char *s, size_t cap)
{
    return rp__event_set_str(ev, f, s, bounded_len(s, cap));
}

static int set_strs(rp_event *ev, rp_field_id f, const char *const *v, uint32_t n)
{
    rp_str items[RP__POLICY_DECISION_ACTIONS + RP__POLICY_DECISION_MATCHED];
    for (uint32_t i = 0; i < n; i++) {
        items[i].ptr = v[i];
        items[i].len = strlen(v[i]);
    }
    return rp__event_set_str_array(ev, f, items, n);
}

/* ---- alert_create ------------------------------------------------------------ */

static int fill(rp_plugin *self, rp_event *ev, const rp_alert *a, const rp_event *const *sources,
                uint32_t nsources, int ntags, int ntactics, int ntechniques)
{
    static const rp_str category = {"intrusion_detection", 19}, type = {"info", 4};
    int rc;
    if ((rc = rp__event_set_str_array(ev, fids[F_CATEGORY], &category, 1)) != 0 ||
        (rc = rp__event_set_str_array(ev, fids[F_TYPE], &type, 1)) != 0 ||
        (rc = rp__event_set_i64(ev, fids[F_SEVERITY], (int64_t)a->severity)) != 0 ||
        (rc = set_cstr(ev, fids[F_REASON], a->reason, MAX_FREETEXT)) != 0 ||
        (rc = set_cstr(ev, fids[F_RULE_ID], a->rule_id, RP__POLICY_KEY_MAX)) != 0 ||
        (rc = set_cstr(ev, fids[F_RULE_NAME], a->rule_name, MAX_NAME)) != 0 ||
        (rc = set_cstr(ev, fids[F_RULESET], a->ruleset, RP__POLICY_RULESET_MAX)) != 0)
        return rc;
    if (a->rule_description && a->rule_description[0] &&
        (rc = set_cstr(ev, fids[F_RULE_DESCRIPTION], a->rule_description, MAX_FREETEXT)) != 0)
        return rc;
    if (a->rule_reference && a->rule_reference[0] &&
        (rc = set_cstr(ev, fids[F_RULE_REFERENCE], a->rule_reference, MAX_FREETEXT)) != 0)
        return rc;
    if (ntags && (rc = set_list(ev, fids[F_RULE_TAGS], a->tags, ntags, 0)) != 0)
        return rc;
    if (ntactics || ntechniques) {
        if ((rc = rp__event_set_str(ev, fids[F_FRAMEWORK], "MITRE ATT&CK", 12)) != 0)
            return rc;
        if (ntactics && (rc = set_list(ev, fids[F_TACTIC_ID], a->tactic_ids, ntactics, 1)) != 0)
            return rc;
        if (ntechniques &&
            (rc = set_list(ev, fids[F_TECHNIQUE_ID], a->technique_ids, ntechniques, 1)) != 0)
            return rc;
    }

    /* The policy, resolved now and stamped: responders and a detector that
     * acts itself read this one decision. */
    rp__policy *policy = policy_get(self->host);
    rp__policy_decision d;
    rp__policy_resolve(policy, a->rule_id, a->ruleset, (const char *const *)a->tags,
                       (uint32_t)ntags, &d);
    const char *mode = rp__policy_mode_name(d.mode);
    if ((rc = rp__event_set_str(ev, fids[F_POLICY_MODE], mode, strlen(mode))) == 0 &&
        (rc = set_strs(ev, fids[F_POLICY_ACTIONS], d.actions, d.nactions)) == 0)
        rc = set_strs(ev, fids[F_POLICY_MATCHED], d.matched, d.nmatched);
    if (d.truncated)
        rp__log_warn("plugin %s: alert %s: more than %u actions apply; the rest are left out",
                     self->name, a->rule_id, RP__POLICY_DECISION_ACTIONS);
    rp__policy_release(policy);
    if (rc != 0)
        return rc;

    /* Every source is cited by its event.id, the first one first. */
    if (nsources) {
        rp_str ids[MAX_SOURCES];
        uint32_t n = 0;
        for (uint32_t i = 0; i < nsources; i++)
            if (rp__event_get_str(sources[i], RP__F_EVENT_ID, &ids[n].ptr, &ids[n].len) == 0)
                n++;
        if ((rc = rp__event_set_str_array(ev, fids[F_SOURCE_IDS], ids, n)) != 0)
            return rc;
        rc = copy_subject(ev, sources[0]);
    }
    return rc;
}

int rp__host_alert_create(rp_plugin *self, const rp_alert *alert, const rp_event *const *sources,
                          uint32_t nsources, rp_event **out)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!self || !alert || !out || alert->struct_size < RP_ALERT_SIZE_1_1)
        return RP_ERR_INVAL;
    if (alert->severity > 100)
        return RP_ERR_RANGE;
    if (!key_ok(alert->rule_id) || !name_ok(alert->rule_name) || !alert->ruleset ||
        bounded_len(alert->ruleset, RP__POLICY_RULESET_MAX + 1) > RP__POLICY_RULESET_MAX ||
        !rp__policy_is_ruleset(alert->ruleset) || !alert->reason || !alert->reason[0])
        return RP_ERR_INVAL;
    int ntags = list_count(alert->tags, key_ok);
    int ntactics = list_count(alert->tactic_ids, tactic_ok);
    int ntechniques = list_count(alert->technique_ids, technique_ok);
    if (ntags < 0 || ntactics < 0 || ntechniques < 0)
        return RP_ERR_INVAL;
    if (nsources > MAX_SOURCES || (nsources && !sources))
        return RP_ERR_INVAL;
    for (uint32_t i = 0; i < nsources; i++)
        if (!sources[i])
            return RP_ERR_INVAL;
    rp__os_once(&fields_once, fields_init, NULL);
    if (fields_rc != 0)
        return fields_rc;

    rp_event *ev;
    int rc = rp__event_create(alert_topic, "alert", self->index, &ev);
    if (rc != 0)
        return rc;
    rc = fill(self, ev, alert, sources, nsources, ntags, ntactics, ntechniques);
    if (rc != 0) {
        rp__event_release(ev);
        return rc;
    }
    *out = ev;
    return 0;
}
