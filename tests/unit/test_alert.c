/*
 * tests/unit/test_alert.c - the host call alert_create (ABI 1.1,
 * core/runtime/host_alert.c) through the host's table, as a plugin calls it:
 * what an alert must say (refused otherwise), what it takes from its sources
 * and what it never takes (their categorisation), how it cites them, the
 * policy it is stamped with, and a policy swapped while alerts are made.
 *
 * A plugin record stands in for a loaded plugin (the call needs only its
 * host and producer id), so the test reaches into runtime/host_private.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/host_private.h"
#include "runtime/topic.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rp_host_api *api;

static void no_config_error(void *arg, char *err, size_t errlen, const struct rp__json_seg *segv,
                            int depth, const char *line)
{
    (void)arg;
    (void)err;
    (void)errlen;
    (void)segv;
    (void)depth;
    fail_msg("unexpected config error: %s", line);
}

struct fixture {
    json_t *plugins, *policy;
    rp__host *host;
    struct rp_plugin plugin;
};

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (!v)
        fail_msg("bad test JSON: %s", jerr.text);
    return v;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->plugins = json_object();
    f->policy = parse("{\"default\":{\"mode\":\"detect\"},"
                      "\"rulesets\":{\"t11\":{\"mode\":\"prevent\",\"actions\":[\"kill\"]}},"
                      "\"tags\":{\"attack.t1059\":{\"mode\":\"prevent\",\"actions\":"
                      "[\"quarantine\"]}}}");
    rp__host_opts o = {.load_only = 1,
                       .plugins = f->plugins,
                       .config_error = no_config_error,
                       .policy = f->policy};
    if (rp__host_create(&o, &f->host) != 0)
        return -1;
    f->plugin.host = f->host;
    f->plugin.index = 7;
    f->plugin.name = (char *)"alerts11";
    api = rp__host_api();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rp__host_destroy(f->host);
    json_decref(f->plugins);
    json_decref(f->policy);
    free(f);
    return 0;
}

static rp_field_id fid(const char *name, uint32_t type)
{
    rp_field_id id = 0;
    assert_int_equal(rp__field_intern(name, strlen(name), type, &id), 0);
    return id;
}

static const char *str_of(const rp_event *ev, const char *name)
{
    const char *s;
    uint64_t len;
    int rc = rp__event_get_str(ev, fid(name, RP_TYPE_STR), &s, &len);
    return rc == 0 ? s : NULL;
}

/* A string array as "a,b,c", or "(none)" when absent. */
static const char *arr_of(const rp_event *ev, const char *name, char *buf, size_t len)
{
    rp_field_id f = fid(name, RP_TYPE_STR_ARRAY);
    uint32_t n;
    if (rp__event_get_str_array_count(ev, f, &n) != 0)
        return "(none)";
    size_t pos = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        const char *s;
        uint64_t sl;
        assert_int_equal(rp__event_get_str_array_item(ev, f, i, &s, &sl), 0);
        pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? "," : "", s);
        assert_true(pos < len);
    }
    return buf;
}

/* A process.exec as the process collector makes it, with a custom field. */
static rp_event *source_event(int64_t pid)
{
    uint32_t topic;
    rp_event *ev;
    assert_int_equal(rp__topic_intern("process.exec", 12, &topic), 0);
    assert_int_equal(rp__event_create(topic, "process.exec", 3, &ev), 0);
    rp_str cat = {"process", 7}, type = {"start", 5}, tag = {"source-tag", 10};
    rp_ip ip = {.family = 4, .addr = {10, 0, 0, 1}};
    assert_int_equal(rp__event_set_str_array(ev, fid("event.category", RP_TYPE_STR_ARRAY), &cat, 1),
                     0);
    assert_int_equal(rp__event_set_str_array(ev, fid("event.type", RP_TYPE_STR_ARRAY), &type, 1),
                     0);
    assert_int_equal(rp__event_set_str(ev, fid("event.action", RP_TYPE_STR), "exec", 4), 0);
    assert_int_equal(rp__event_set_str(ev, fid("event.outcome", RP_TYPE_STR), "success", 7), 0);
    assert_int_equal(
        rp__event_set_str(ev, fid("event.dataset", RP_TYPE_STR), "rampart.process", 15), 0);
    assert_int_equal(rp__event_set_str(ev, fid("message", RP_TYPE_STR), "process started", 15), 0);
    assert_int_equal(rp__event_set_str_array(ev, fid("tags", RP_TYPE_STR_ARRAY), &tag, 1), 0);
    assert_int_equal(rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), pid), 0);
    assert_int_equal(
        rp__event_set_str(ev, fid("process.executable", RP_TYPE_STR), "/usr/bin/python3", 16), 0);
    assert_int_equal(rp__event_set_str(ev, fid("process.entity_id", RP_TYPE_STR), "ent-1", 5), 0);
    rp_str args[2] = {{"python3", 7}, {"-c", 2}};
    assert_int_equal(rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), args, 2),
                     0);
    assert_int_equal(
        rp__event_set_timestamp(ev, fid("process.start", RP_TYPE_TIMESTAMP), 1700000000000000000),
        0);
    assert_int_equal(rp__event_set_str(ev, fid("user.name", RP_TYPE_STR), "mallory", 7), 0);
    assert_int_equal(rp__event_set_ip(ev, fid("source.ip", RP_TYPE_IP), &ip), 0);
    assert_int_equal(rp__event_set_u64(ev, fid("alerts11.seq", RP_TYPE_U64), 42), 0);
    assert_int_equal(rp__event_set_bool(ev, fid("alerts11.flag", RP_TYPE_BOOL), 1), 0);
    /* A source that is itself an alert carries these: never copied. */
    assert_int_equal(rp__event_set_str(ev, fid("rule.description", RP_TYPE_STR), "source rule", 11),
                     0);
    assert_int_equal(rp__event_set_str(ev, fid("rampart.policy.mode", RP_TYPE_STR), "prevent", 7),
                     0);
    return ev;
}

static rp_alert good_alert(void)
{
    static const char *const tags[] = {"attack.execution", NULL};
    static const char *const tactics[] = {"ta0002", NULL};
    static const char *const techniques[] = {"T1059", "t1059.004", NULL};
    rp_alert a = {
        .struct_size = sizeof(rp_alert),
        .severity = RP_SEVERITY_HIGH,
        .rule_id = "t11-1",
        .rule_name = "Test: python runs",
        .ruleset = "custom11",
        .reason = "python3 ran as mallory",
        .rule_description = "Fires on python3.",
        .rule_reference = "https://example.org/t11-1",
        .tags = tags,
        .tactic_ids = tactics,
        .technique_ids = techniques,
    };
    return a;
}

static void test_contract(void **state)
{
    struct fixture *f = *state;
    char buf[512];
    assert_true(RP_HOST_HAS(api, alert_create));
    rp_event *s1 = source_event(100), *s2 = source_event(200);
    const rp_event *srcs[] = {s1, s2};
    rp_alert a = good_alert();
    rp_event *al = NULL;
    assert_int_equal(api->alert_create(&f->plugin, &a, srcs, 2, &al), 0);
    assert_non_null(al);

    /* An alert: its own type, kind, id and producer. */
    assert_string_equal(rp__topic_name(rp__event_topic(al)), "alert");
    assert_string_equal(str_of(al, "event.kind"), "alert");
    assert_string_not_equal(str_of(al, "event.id"), str_of(s1, "event.id"));
    assert_int_equal(rp__event_head_of(al)->producer, 7);
    /* The alert's own categorisation, never the source's; nor the rest of
     * the source's event.* description, its message or its tags. */
    assert_string_equal(arr_of(al, "event.category", buf, sizeof buf), "intrusion_detection");
    assert_string_equal(arr_of(al, "event.type", buf, sizeof buf), "info");
    assert_null(str_of(al, "event.action"));
    assert_null(str_of(al, "event.outcome"));
    assert_null(str_of(al, "event.dataset"));
    assert_null(str_of(al, "message"));
    assert_string_equal(arr_of(al, "tags", buf, sizeof buf), "(none)");
    /* What the rule said. */
    int64_t sev = -1;
    assert_int_equal(rp__event_get_i64(al, fid("event.severity", RP_TYPE_I64), &sev), 0);
    assert_int_equal(sev, 73);
    assert_string_equal(str_of(al, "event.reason"), "python3 ran as mallory");
    assert_string_equal(str_of(al, "rule.id"), "t11-1");
    assert_string_equal(str_of(al, "rule.name"), "Test: python runs");
    assert_string_equal(str_of(al, "rule.ruleset"), "custom11");
    assert_string_equal(str_of(al, "rule.description"), "Fires on python3.");
    assert_string_equal(str_of(al, "rule.reference"), "https://example.org/t11-1");
    assert_string_equal(arr_of(al, "rule.tags", buf, sizeof buf), "attack.execution");
    assert_string_equal(str_of(al, "threat.framework"), "MITRE ATT&CK");
    assert_string_equal(arr_of(al, "threat.tactic.id", buf, sizeof buf), "TA0002");
    assert_string_equal(arr_of(al, "threat.technique.id", buf, sizeof buf), "T1059,T1059.004");
    /* The subject, from the first source, every type and custom fields. */
    int64_t pid = 0, start = 0;
    uint64_t seq = 0;
    int32_t flag = 0;
    rp_ip ip;
    assert_int_equal(rp__event_get_i64(al, fid("process.pid", RP_TYPE_I64), &pid), 0);
    assert_int_equal(pid, 100);
    assert_string_equal(str_of(al, "process.executable"), "/usr/bin/python3");
    assert_string_equal(str_of(al, "process.entity_id"), "ent-1");
    assert_string_equal(arr_of(al, "process.args", buf, sizeof buf), "python3,-c");
    assert_int_equal(rp__event_get_timestamp(al, fid("process.start", RP_TYPE_TIMESTAMP), &start),
                     0);
    assert_true(start == 1700000000000000000);
    assert_string_equal(str_of(al, "user.name"), "mallory");
    assert_int_equal(rp__event_get_ip(al, fid("source.ip", RP_TYPE_IP), &ip), 0);
    assert_int_equal(ip.addr[3], 1);
    assert_int_equal(rp__event_get_u64(al, fid("alerts11.seq", RP_TYPE_U64), &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(rp__event_get_bool(al, fid("alerts11.flag", RP_TYPE_BOOL), &flag), 0);
    assert_int_equal(flag, 1);
    /* Every source cited by event.id, the first first. */
    char want[128];
    snprintf(want, sizeof want, "%s,%s", str_of(s1, "event.id"), str_of(s2, "event.id"));
    assert_string_equal(arr_of(al, "rampart.alert.source_ids", buf, sizeof buf), want);
    /* The policy: nothing matches this ruleset or tag, so the default. */
    assert_string_equal(str_of(al, "rampart.policy.mode"), "detect");
    assert_string_equal(arr_of(al, "rampart.policy.actions", buf, sizeof buf), "");
    assert_string_equal(arr_of(al, "rampart.policy.matched", buf, sizeof buf), "policy.default");
    /* The caller owns it and may add fields before publishing. */
    assert_int_equal(rp__event_set_str(al, fid("alerts11.note", RP_TYPE_STR), "x", 1), 0);
    rp__event_release(al);

    /* Without sources: no subject, no citations. */
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    assert_null(str_of(al, "process.executable"));
    assert_string_equal(arr_of(al, "rampart.alert.source_ids", buf, sizeof buf), "(none)");
    rp__event_release(al);
    rp__event_release(s1);
    rp__event_release(s2);
}

static void test_policy_stamped(void **state)
{
    struct fixture *f = *state;
    char buf[256];
    rp_alert a = good_alert();
    rp_event *al;
    /* The ruleset's entry. */
    a.ruleset = "t11";
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    assert_string_equal(str_of(al, "rampart.policy.mode"), "prevent");
    assert_string_equal(arr_of(al, "rampart.policy.actions", buf, sizeof buf), "kill");
    assert_string_equal(arr_of(al, "rampart.policy.matched", buf, sizeof buf),
                        "policy.rulesets.t11");
    rp__event_release(al);
    /* A tag's entry beats it. */
    static const char *const tags[] = {"other", "ATTACK.T1059", NULL};
    a.tags = tags;
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    assert_string_equal(str_of(al, "rampart.policy.mode"), "prevent");
    assert_string_equal(arr_of(al, "rampart.policy.actions", buf, sizeof buf), "quarantine");
    assert_string_equal(arr_of(al, "rule.tags", buf, sizeof buf), "other,ATTACK.T1059");
    rp__event_release(al);

    /* A reload swaps the policy: the next alert gets the new one. */
    json_t *next = parse("{\"default\":{\"mode\":\"detect\"},\"rules\":{\"t11-1\":"
                         "{\"mode\":\"prevent\",\"actions\":[\"block_exec\"]}}}");
    assert_int_equal(rp__host_set_policy(f->host, next), 0);
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    assert_string_equal(arr_of(al, "rampart.policy.actions", buf, sizeof buf), "block_exec");
    assert_string_equal(arr_of(al, "rampart.policy.matched", buf, sizeof buf),
                        "policy.rules.t11-1");
    rp__event_release(al);
    /* An invalid one is refused and the running one stays. */
    json_t *bad = parse("{\"default\":{\"mode\":\"sometimes\"}}");
    assert_int_equal(rp__host_set_policy(f->host, bad), RP_ERR_CONFIG);
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    assert_string_equal(arr_of(al, "rampart.policy.actions", buf, sizeof buf), "block_exec");
    rp__event_release(al);
    json_decref(bad);
    json_decref(next);
    /* Back to the fixture's for the other tests. */
    assert_int_equal(rp__host_set_policy(f->host, f->policy), 0);
}

static void expect_refused(struct fixture *f, const rp_alert *a, const rp_event *const *srcs,
                           uint32_t n, int want, const char *what)
{
    rp_event *al = (rp_event *)(uintptr_t)1;
    int rc = api->alert_create(&f->plugin, a, srcs, n, &al);
    if (rc != want)
        fail_msg("%s: expected %s, got %s", what, rp_errname(want), rp_errname(rc));
    assert_true(al == (rp_event *)(uintptr_t)1); /* untouched */
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    rp_alert a;
    rp_event *al;
    static const char *const bad_tags[] = {"has space", NULL};
    static const char *const bad_tactic[] = {"TA2", NULL};
    static const char *const bad_technique[] = {"T1059.4", NULL};
    static const char *const bad_technique2[] = {"X1059", NULL};
#define REFUSE(field, value, want)                                                                 \
    do {                                                                                           \
        a = good_alert();                                                                          \
        a.field = value;                                                                           \
        expect_refused(f, &a, NULL, 0, want, #field " = " #value);                                 \
    } while (0)
    REFUSE(struct_size, RP_ALERT_SIZE_1_1 - 1, RP_ERR_INVAL);
    REFUSE(struct_size, 0, RP_ERR_INVAL);
    REFUSE(severity, 101, RP_ERR_RANGE);
    REFUSE(severity, UINT32_MAX, RP_ERR_RANGE);
    REFUSE(rule_id, NULL, RP_ERR_INVAL);
    REFUSE(rule_id, "", RP_ERR_INVAL);
    REFUSE(rule_id, "two words", RP_ERR_INVAL);
    REFUSE(rule_name, NULL, RP_ERR_INVAL);
    REFUSE(rule_name, "", RP_ERR_INVAL);
    REFUSE(rule_name, "line\nbreak", RP_ERR_INVAL);
    REFUSE(ruleset, NULL, RP_ERR_INVAL);
    REFUSE(ruleset, "", RP_ERR_INVAL);
    REFUSE(ruleset, "no/slash", RP_ERR_INVAL);
    REFUSE(reason, NULL, RP_ERR_INVAL);
    REFUSE(reason, "", RP_ERR_INVAL);
    REFUSE(tags, bad_tags, RP_ERR_INVAL);
    REFUSE(tactic_ids, bad_tactic, RP_ERR_INVAL);
    REFUSE(technique_ids, bad_technique, RP_ERR_INVAL);
    REFUSE(technique_ids, bad_technique2, RP_ERR_INVAL);
#undef REFUSE
    /* Bounded names and lists: 32 items pass, 33 do not. */
    char longid[RP__FIELD_NAME_MAX + 2];
    memset(longid, 'r', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    a = good_alert();
    a.rule_id = longid; /* 129 bytes */
    expect_refused(f, &a, NULL, 0, RP_ERR_INVAL, "rule_id of 129 bytes");
    char longname[258];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    a = good_alert();
    a.rule_name = longname; /* 257 bytes */
    expect_refused(f, &a, NULL, 0, RP_ERR_INVAL, "rule_name of 257 bytes");
    const char *many[34];
    for (int i = 0; i < 33; i++)
        many[i] = "attack.t1059";
    many[33] = NULL;
    a = good_alert();
    a.tags = many;
    expect_refused(f, &a, NULL, 0, RP_ERR_INVAL, "33 tags");
    a.tags = many + 1; /* 32 */
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    rp__event_release(al);
    const char *techniques[34];
    for (int i = 0; i < 33; i++)
        techniques[i] = "T1059.001";
    techniques[33] = NULL;
    a = good_alert();
    a.technique_ids = techniques;
    expect_refused(f, &a, NULL, 0, RP_ERR_INVAL, "33 technique ids");
    a.technique_ids = techniques + 1; /* 32 */
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    rp__event_release(al);
    /* Sources. */
    rp_event *s = source_event(1);
    const rp_event *srcs[65];
    for (int i = 0; i < 65; i++)
        srcs[i] = s;
    a = good_alert();
    expect_refused(f, &a, srcs, 65, RP_ERR_INVAL, "65 sources");
    expect_refused(f, &a, NULL, 1, RP_ERR_INVAL, "sources NULL");
    const rp_event *with_null[] = {s, NULL};
    expect_refused(f, &a, with_null, 2, RP_ERR_INVAL, "a NULL source");
    assert_int_equal(api->alert_create(&f->plugin, &a, srcs, 64, &al), 0);
    rp__event_release(al);
    /* The arguments themselves. */
    expect_refused(f, NULL, NULL, 0, RP_ERR_INVAL, "alert NULL");
    assert_int_equal(api->alert_create(NULL, &a, NULL, 0, &al), RP_ERR_INVAL);
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, NULL), RP_ERR_INVAL);
    /* A longer reason is cut like any string, never refused: it may quote
     * what an attacker controls. */
    char *reason = malloc(10000);
    assert_non_null(reason);
    memset(reason, 'x', 9999);
    reason[9999] = '\0';
    a.reason = reason;
    assert_int_equal(api->alert_create(&f->plugin, &a, NULL, 0, &al), 0);
    int32_t truncated = 0;
    assert_int_equal(rp__event_get_bool(al, rp__event_truncated_field(), &truncated), 0);
    assert_int_equal(truncated, 1);
    assert_int_equal(strlen(str_of(al, "event.reason")), 4096);
    rp__event_release(al);
    free(reason);
    rp__event_release(s);
}

/* A source at the event's field cap: the alert is still made, holds what
 * fits, and says it is incomplete. */
static void test_large_source(void **state)
{
    struct fixture *f = *state;
    rp_event *s = source_event(5);
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "alerts11.f%d", i);
        if (rp__event_set_u64(s, fid(name, RP_TYPE_U64), (uint64_t)i) == RP_ERR_FULL)
            break;
    }
    assert_int_equal(rp__event_field_count(s), RP__EVENT_MAX_FIELDS);
    const rp_event *srcs[] = {s};
    rp_alert a = good_alert();
    rp_event *al;
    assert_int_equal(api->alert_create(&f->plugin, &a, srcs, 1, &al), 0);
    int32_t truncated = 0;
    assert_int_equal(rp__event_get_bool(al, rp__event_truncated_field(), &truncated), 0);
    assert_int_equal(truncated, 1);
    assert_string_equal(str_of(al, "rule.id"), "t11-1");
    assert_string_equal(str_of(al, "rampart.policy.mode"), "detect");
    assert_string_equal(str_of(al, "process.executable"), "/usr/bin/python3");
    rp__event_release(al);
    rp__event_release(s);
}

/* Alerts made on several threads while the policy is swapped: each gets the
 * old or the new policy, whole (TSan checks the hand-over). */
struct racer {
    struct fixture *f;
    atomic_int *stop;
    int bad;
    int made;
};

static void race(void *arg)
{
    struct racer *r = arg;
    rp_alert a = good_alert();
    a.ruleset = "t11";
    while (!atomic_load(r->stop) || r->made < 50) {
        rp_event *al;
        if (api->alert_create(&r->f->plugin, &a, NULL, 0, &al) != 0) {
            r->bad++;
            continue;
        }
        const char *mode = str_of(al, "rampart.policy.mode");
        char buf[128];
        const char *acts = arr_of(al, "rampart.policy.actions", buf, sizeof buf);
        if (!((strcmp(mode, "prevent") == 0 && strcmp(acts, "kill") == 0) ||
              (strcmp(mode, "detect") == 0 && strcmp(acts, "") == 0)))
            r->bad++;
        r->made++;
        rp__event_release(al);
    }
}

static void test_swap_while_alerting(void **state)
{
    struct fixture *f = *state;
    json_t *other = parse("{\"default\":{\"mode\":\"detect\"}}");
    atomic_int stop = 0;
    struct racer r[2] = {{f, &stop, 0, 0}, {f, &stop, 0, 0}};
    rp__os_thread *t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(rp__os_thread_start(&t[i], "racer", race, &r[i]), 0);
    for (int i = 0; i < 200; i++)
        assert_int_equal(rp__host_set_policy(f->host, i % 2 ? f->policy : other), 0);
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        rp__os_thread_join(t[i]);
    assert_int_equal(r[0].bad + r[1].bad, 0);
    assert_true(r[0].made >= 50 && r[1].made >= 50);
    assert_int_equal(rp__host_set_policy(f->host, f->policy), 0);
    json_decref(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contract, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_stamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_source, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swap_while_alerting, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
