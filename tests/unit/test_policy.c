/*
 * tests/unit/test_policy.c - the response policy (core/runtime/policy.c):
 * which entry decides for an alert (rule id, then tags, then ruleset, then
 * the default), how several matching tags combine, that a site overlay
 * changes or deletes one entry and leaves the others, and that a bad policy
 * is refused with lines naming the file and the key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "runtime/policy.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, 0, &jerr);
    if (!v)
        fail_msg("bad test JSON: %s: %s", jerr.text, text);
    return v;
}

/* The policy of main (and overlay), loaded as the agent loads its config. */
static rp__policy *policy_of(const char *main, const char *overlay)
{
    json_t *m = parse(main), *o = overlay ? parse(overlay) : NULL;
    char err[RP__CONFIG_ERR_MAX] = "";
    rp__config *cfg = NULL;
    int rc = rp__config_from_docs(m, "rampart.json", o, o ? "sites/north.json" : NULL,
                                  o ? "north" : NULL, "/tmp", &cfg, err, sizeof err);
    if (rc != 0)
        fail_msg("config refused (%d): %s", rc, err);
    rp__policy *p = NULL;
    assert_int_equal(rp__policy_create(json_object_get(cfg->root, "policy"), NULL, NULL, &p), 0);
    rp__config_destroy(cfg);
    json_decref(m);
    json_decref(o);
    return p;
}

/* The config errors for main (and overlay), which must be refused. */
static void config_errors(const char *main, const char *overlay, char *err, size_t errlen)
{
    json_t *m = parse(main), *o = overlay ? parse(overlay) : NULL;
    rp__config *cfg = NULL;
    err[0] = '\0';
    int rc = rp__config_from_docs(m, "rampart.json", o, o ? "sites/north.json" : NULL,
                                  o ? "north" : NULL, "/tmp", &cfg, err, errlen);
    if (rc != RP_ERR_CONFIG)
        fail_msg("expected RP_ERR_CONFIG, got %d (%s)", rc, err);
    assert_null(cfg);
    json_decref(m);
    json_decref(o);
}

/* "prevent kill,quarantine by policy.rules.r1" for compact comparisons. */
static const char *describe(const rp__policy_decision *d, char *buf, size_t len)
{
    size_t pos = (size_t)snprintf(buf, len, "%s", rp__policy_mode_name(d->mode));
    for (uint32_t i = 0; i < d->nactions && pos < len; i++)
        pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? "," : " ", d->actions[i]);
    for (uint32_t i = 0; i < d->nmatched && pos < len; i++)
        pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", i ? "+" : " by ", d->matched[i]);
    return buf;
}

static void expect(const rp__policy *p, const char *rule, const char *ruleset,
                   const char *const *tags, const char *want)
{
    uint32_t n = 0;
    while (tags && tags[n])
        n++;
    rp__policy_decision d;
    char buf[512];
    rp__policy_resolve(p, rule, ruleset, tags, n, &d);
    assert_string_equal(describe(&d, buf, sizeof buf), want);
}

#define MAIN                                                                                       \
    "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\"},\"policy\":{"                   \
    "\"default\":{\"mode\":\"detect\",\"actions\":[\"kill\"]},"                                    \
    "\"rulesets\":{\"sigma\":{\"mode\":\"prevent\",\"actions\":[\"kill\"]},"                       \
    "\"yara\":{\"mode\":\"prevent\",\"actions\":[\"quarantine\"]}},"                               \
    "\"rules\":{\"r-noisy\":{\"mode\":\"detect\"},"                                                \
    "\"r-block\":{\"mode\":\"prevent\",\"actions\":[\"block_exec\"]}},"                            \
    "\"tags\":{\"attack.t1059\":{\"mode\":\"prevent\",\"actions\":[\"kill\",\"isolate\"]},"        \
    "\"attack.t1105\":{\"mode\":\"prevent\",\"actions\":[\"quarantine\",\"kill\"]},"               \
    "\"attack.discovery\":{\"mode\":\"detect\"}}}}"

static void test_precedence(void **state)
{
    (void)state;
    rp__policy *p = policy_of(MAIN, NULL);
    const char *t1059[] = {"attack.t1059", NULL};
    const char *discovery[] = {"attack.discovery", NULL};
    const char *unknown[] = {"attack.t9999", NULL};
    /* Nothing matches: the default, whose actions do not apply in detect. */
    expect(p, "r-other", "custom", NULL, "detect by policy.default");
    expect(p, "r-other", "custom", unknown, "detect by policy.default");
    /* The ruleset. */
    expect(p, "r-other", "sigma", NULL, "prevent kill by policy.rulesets.sigma");
    /* A tag beats the ruleset, both ways. */
    expect(p, "r-other", "yara", t1059, "prevent kill,isolate by policy.tags.attack.t1059");
    expect(p, "r-other", "sigma", discovery, "detect by policy.tags.attack.discovery");
    /* The rule id beats tag and ruleset, both ways. */
    expect(p, "r-noisy", "sigma", t1059, "detect by policy.rules.r-noisy");
    expect(p, "r-block", "custom", discovery, "prevent block_exec by policy.rules.r-block");
    /* Rule ids and rulesets match exactly. */
    expect(p, "R-NOISY", "Sigma", NULL, "detect by policy.default");
    /* No policy at all: detect. */
    expect(NULL, "r-block", "sigma", t1059, "detect by policy.default");
    rp__policy_release(p);
}

static void test_several_tags(void **state)
{
    (void)state;
    rp__policy *p = policy_of(MAIN, NULL);
    /* Prevent wins over detect whatever the order, and the actions of every
     * prevent entry are united without repeats, in the order of the tags. */
    const char *a[] = {"attack.discovery", "attack.t1059", "attack.t1105", NULL};
    const char *b[] = {"attack.t1105", "attack.t1059", "attack.discovery", NULL};
    expect(p, "r", "custom", a,
           "prevent kill,isolate,quarantine by policy.tags.attack.t1059+policy.tags.attack.t1105");
    expect(p, "r", "custom", b,
           "prevent quarantine,kill,isolate by policy.tags.attack.t1105+policy.tags.attack.t1059");
    /* Tags match without regard to case; a tag given twice counts once. */
    const char *c[] = {"ATTACK.T1059", "attack.t1059", NULL};
    expect(p, "r", "custom", c, "prevent kill,isolate by policy.tags.attack.t1059");
    rp__policy_release(p);
}

static void test_overlay_changes_one_entry(void **state)
{
    (void)state;
    /* The site turns sigma down to detect, deletes one rule entry, adds a
     * tag, and changes the actions of another tag (arrays are replaced). */
    rp__policy *p =
        policy_of(MAIN, "{\"policy\":{\"rulesets\":{\"sigma\":{\"mode\":\"detect\"}},"
                        "\"rules\":{\"r-noisy\":null},"
                        "\"tags\":{\"attack.t1003\":{\"mode\":\"prevent\",\"actions\":[\"kill\"]},"
                        "\"attack.t1105\":{\"actions\":[\"quarantine\"]}}}}");
    const char *t1059[] = {"attack.t1059", NULL};
    const char *t1003[] = {"attack.t1003", NULL};
    const char *t1105[] = {"attack.t1105", NULL};
    expect(p, "r-other", "sigma", NULL, "detect by policy.rulesets.sigma");
    /* The others stay as the main file says. */
    expect(p, "r-other", "yara", NULL, "prevent quarantine by policy.rulesets.yara");
    expect(p, "r-block", "custom", NULL, "prevent block_exec by policy.rules.r-block");
    expect(p, "r-other", "custom", t1059, "prevent kill,isolate by policy.tags.attack.t1059");
    /* Deleted: the tag decides now. */
    expect(p, "r-noisy", "custom", t1059, "prevent kill,isolate by policy.tags.attack.t1059");
    expect(p, "r-other", "custom", t1003, "prevent kill by policy.tags.attack.t1003");
    expect(p, "r-other", "custom", t1105, "prevent quarantine by policy.tags.attack.t1105");
    rp__policy_release(p);

    /* Without the policy key anywhere the built-in default is detect. */
    p = policy_of("{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\"}}", NULL);
    expect(p, "r", "sigma", t1059, "detect by policy.default");
    rp__policy_release(p);
}

static void test_bad_config_names_file_and_key(void **state)
{
    (void)state;
    char err[RP__CONFIG_ERR_MAX];
    const char *base = "{\"agent\":{\"data_dir\":\"data\",\"plugin_dir\":\"plugins\"}}";
    /* Caught by the schema, in the file that set it. */
    config_errors(base, "{\"policy\":{\"rulesets\":{\"sigma\":{\"mode\":\"block\"}}}}", err,
                  sizeof err);
    assert_string_equal(err, "sites/north.json: policy.rulesets.sigma.mode: expected one of "
                             "\"detect\", \"prevent\", got string \"block\"");
    config_errors("{\"policy\":{\"rules\":{\"r1\":{\"actions\":[\"Kill now\"]}}}}", NULL, err,
                  sizeof err);
    assert_string_equal(err, "rampart.json: policy.rules.r1.actions[0]: expected a string "
                             "matching the pattern \"^[a-z][a-z0-9_]*$\", got string \"Kill now\"\n"
                             "rampart.json: policy.rules.r1.mode: required key missing");
    config_errors("{\"policy\":{\"default\":{\"mode\":\"detect\"},\"tag\":{}}}", NULL, err,
                  sizeof err);
    assert_non_null(strstr(err, "rampart.json: policy.tag: unknown key; did you mean \"tags\"?"));
    /* Caught by the policy's own check, which the schema cannot express. */
    config_errors(base,
                  "{\"policy\":{\"rules\":{\"r1\":{\"mode\":\"prevent\","
                  "\"actions\":[\"kill\",\"quarantine\",\"kill\"]}}}}",
                  err, sizeof err);
    assert_string_equal(err,
                        "sites/north.json: policy.rules.r1.actions[2]: \"kill\" is listed twice");
    config_errors(base,
                  "{\"policy\":{\"tags\":{\"attack.T1059\":{\"mode\":\"prevent\"},"
                  "\"attack.t1059\":{\"mode\":\"detect\"}}}}",
                  err, sizeof err);
    assert_non_null(strstr(err, "sites/north.json: policy.tags["));
    assert_non_null(strstr(err, "tags match without regard to case"));
}

/* The policy's own check, without the schema in front (the host's path). */
struct lines {
    char text[2048];
};

static void collect(void *arg, const struct rp__json_seg *segv, int depth, const char *msg)
{
    struct lines *l = arg;
    char path[256];
    rp__json_path_format(segv, depth, path, sizeof path);
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s: %s\n", path, msg);
}

static void test_check_without_schema(void **state)
{
    (void)state;
    struct lines l = {""};
    json_t *bad = parse("{\"default\":{\"mode\":\"maybe\"},\"rulesets\":{\"..x\":{\"mode\":"
                        "\"detect\"}},\"rules\":{\"has space\":{\"mode\":\"detect\"},"
                        "\"ok\":{\"mode\":\"prevent\",\"actions\":[\"a\",\"b\",\"c\",\"d\","
                        "\"e\",\"f\",\"g\",\"h\",\"i\"],\"when\":1}},\"extra\":{}}");
    rp__policy *p = NULL;
    assert_int_equal(rp__policy_create(bad, collect, &l, &p), RP_ERR_CONFIG);
    assert_null(p);
    assert_non_null(strstr(l.text, "policy.extra: unknown key"));
    assert_non_null(strstr(l.text, "policy.default.mode: expected \"detect\" or \"prevent\", got "
                                   "string \"maybe\""));
    assert_non_null(strstr(l.text, "policy.rulesets[\"..x\"]: expected a ruleset name"));
    assert_non_null(strstr(l.text, "policy.rules[\"has space\"]: expected a rule id"));
    assert_non_null(strstr(l.text, "policy.rules.ok.actions: expected at most 8 actions, got 9"));
    assert_non_null(strstr(l.text, "policy.rules.ok.when: unknown key (allowed: mode, actions)"));
    json_decref(bad);

    json_t *notobj = parse("[1]");
    assert_int_equal(rp__policy_create(notobj, NULL, NULL, &p), RP_ERR_CONFIG);
    json_decref(notobj);
    /* Check only. */
    json_t *good = parse("{\"default\":{\"mode\":\"prevent\",\"actions\":[\"kill\"]}}");
    assert_int_equal(rp__policy_create(good, NULL, NULL, NULL), 0);
    assert_int_equal(rp__policy_create(good, NULL, NULL, &p), 0);
    expect(p, "r", "sigma", NULL, "prevent kill by policy.default");
    rp__policy_release(p);
    json_decref(good);
}

static void test_forms(void **state)
{
    (void)state;
    assert_true(rp__policy_is_key("5af0d6c4-2bcb-4b5e-a34c-5f1d9e0c8a11"));
    assert_true(rp__policy_is_key("attack.t1059.001"));
    assert_false(rp__policy_is_key(""));
    assert_false(rp__policy_is_key("a b"));
    assert_false(rp__policy_is_key("tab\t"));
    char longkey[RP__POLICY_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_false(rp__policy_is_key(longkey));
    longkey[RP__POLICY_KEY_MAX] = '\0';
    assert_true(rp__policy_is_key(longkey));
    assert_true(rp__policy_is_ruleset("sigma"));
    assert_false(rp__policy_is_ruleset(".sigma"));
    assert_true(rp__policy_is_action("block_exec"));
    assert_false(rp__policy_is_action("Kill"));
    assert_false(rp__policy_is_action("1kill"));
    assert_false(rp__policy_is_action("kill-now"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_several_tags),
        cmocka_unit_test(test_overlay_changes_one_entry),
        cmocka_unit_test(test_bad_config_names_file_and_key),
        cmocka_unit_test(test_check_without_schema),
        cmocka_unit_test(test_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
