/*
 * tests/unit/test_sigma_tune.c - detector_sigma's config and tuning
 * (plugins/detector_sigma/tune.c): every key read, each error naming its
 * key, and which setting keeps a rule out (rule id first, then tags, level,
 * status, the deepest folder and min_level).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tune.h"

#include <rampart/plugin.h>

#include <string.h>

static struct ds_conf *parse_ok(const char *json)
{
    struct ds_conf *c = NULL;
    char err[512] = "";
    int rc = ds_conf_parse(json, strlen(json), &c, err, sizeof err);
    if (rc != 0)
        fail_msg("ds_conf_parse(%s): %d %s", json, rc, err);
    return c;
}

/* The config is refused with a message that contains want. */
static void parse_bad(const char *json, const char *want)
{
    struct ds_conf *c = (struct ds_conf *)1;
    char err[512] = "";
    int rc = ds_conf_parse(json, strlen(json), &c, err, sizeof err);
    if (rc != RP_ERR_CONFIG || c != NULL || !strstr(err, want))
        fail_msg("ds_conf_parse(%s): rc %d, err \"%s\", expected \"%s\"", json, rc, err, want);
}

static void test_defaults(void **state)
{
    (void)state;
    struct ds_conf *c = parse_ok("{}");
    assert_int_equal(c->n_rule_dirs, 0);
    assert_int_equal(c->min_level, DS_LEVEL_INFO);
    assert_int_equal(c->throttle_seconds, 60);
    assert_int_equal(c->throttle_max_keys, 4096);
    for (int i = 0; i < 6; i++)
        assert_int_equal(c->levels[i], -1);
    ds_conf_destroy(c);
    ds_conf_destroy(NULL);
}

static void test_keys(void **state)
{
    (void)state;
    struct ds_conf *c =
        parse_ok("{\"rule_dirs\":[\"/etc/rampart/rules/\",\"/opt/r\"],"
                 "\"field_map\":{\"process_creation\":{\"Image\":\"process.executable\"},"
                 "\"*\":{\"LogonId\":\"\"}},"
                 "\"placeholders\":{\"admins\":[\"root\",\"ops\"]},"
                 "\"min_level\":\"medium\","
                 "\"rules\":{\"r-1\":{\"enabled\":false},"
                 "\"r-2\":{\"exceptions\":[{\"Image|endswith\":\"/usr/bin/backup\"},"
                 "[{\"User\":\"a\"},{\"User\":\"b\"}]]}},"
                 "\"tags\":{\"Attack.T1059\":{\"enabled\":false}},"
                 "\"levels\":{\"low\":false,\"high\":true},"
                 "\"statuses\":{\"deprecated\":false},"
                 "\"folders\":{\"./linux/\":false},"
                 "\"throttle\":{\"seconds\":5,\"max_keys\":10}}");
    assert_int_equal(c->n_rule_dirs, 2);
    assert_string_equal(c->rule_dirs[0], "/etc/rampart/rules"); /* no trailing slash */
    assert_string_equal(c->rule_dirs[1], "/opt/r");
    assert_int_equal(c->n_fields, 2);
    int found = 0;
    for (uint32_t i = 0; i < c->n_fields; i++) {
        if (strcmp(c->fields[i].sigma, "Image") == 0) {
            assert_string_equal(c->fields[i].logsource, "process_creation");
            assert_string_equal(c->fields[i].ecs, "process.executable");
            found++;
        } else {
            assert_string_equal(c->fields[i].logsource, "*");
            assert_string_equal(c->fields[i].sigma, "LogonId");
            assert_string_equal(c->fields[i].ecs, "");
            found++;
        }
    }
    assert_int_equal(found, 2);
    assert_int_equal(c->n_placeholders, 1);
    assert_string_equal(c->placeholders[0].name, "admins");
    assert_int_equal(c->placeholders[0].nvalues, 2);
    assert_string_equal(c->placeholders[0].values[1], "ops");
    assert_int_equal(c->min_level, DS_LEVEL_MEDIUM);
    const struct ds_tune_entry *e = ds_conf_rule(c, "r-1");
    assert_non_null(e);
    assert_int_equal(e->enabled, 0);
    e = ds_conf_rule(c, "r-2");
    assert_non_null(e);
    assert_int_equal(e->enabled, -1);
    assert_int_equal(e->n_exceptions, 2);
    /* Kept as YAML flow text: ": " after each key, which libyaml needs. */
    assert_string_equal(e->exceptions[0], "{\"Image|endswith\": \"/usr/bin/backup\"}");
    assert_string_equal(e->exceptions[1], "[{\"User\": \"a\"}, {\"User\": \"b\"}]");
    assert_null(ds_conf_rule(c, "R-1")); /* rule ids are exact */
    assert_non_null(ds_conf_tag(c, "attack.t1059"));
    assert_non_null(ds_conf_tag(c, "ATTACK.t1059")); /* tags are not */
    assert_null(ds_conf_tag(c, "attack.t1060"));
    assert_int_equal(c->levels[DS_LEVEL_LOW], 0);
    assert_int_equal(c->levels[DS_LEVEL_HIGH], 1);
    assert_int_equal(c->levels[DS_LEVEL_MEDIUM], -1);
    assert_int_equal(c->n_statuses, 1);
    assert_int_equal(c->n_folders, 1);
    assert_string_equal(c->folders[0].key, "linux");
    assert_int_equal(c->throttle_seconds, 5);
    assert_int_equal(c->throttle_max_keys, 10);
    ds_conf_destroy(c);
}

static void test_errors(void **state)
{
    (void)state;
    parse_bad("[]", "config: expected an object");
    parse_bad("{", "config: not JSON");
    parse_bad("{\"rule_dir\":[]}", "rule_dir: unknown key");
    parse_bad("{\"rule_dirs\":\"/x\"}", "rule_dirs: expected an array");
    parse_bad("{\"rule_dirs\":[\"/a\",\"rules\"]}", "rule_dirs[1]: \"rules\" is not an absolute");
    parse_bad("{\"rule_dirs\":[\"\"]}", "rule_dirs[0]");
    parse_bad("{\"rule_dirs\":[5]}", "rule_dirs[0]: expected a folder path");
    parse_bad("{\"min_level\":\"severe\"}", "min_level: expected informational");
    parse_bad("{\"field_map\":{\"process_creation\":[]}}", "field_map.process_creation: expected");
    parse_bad("{\"field_map\":{\"*\":{\"Image\":1}}}", "field_map.*.Image: expected an ECS");
    parse_bad("{\"placeholders\":{\"%a%\":[]}}", "placeholders.%a%: a name without");
    parse_bad("{\"placeholders\":{\"a\":[1]}}", "placeholders.a[0]: expected a string");
    parse_bad("{\"rules\":{\"r\":{\"enabled\":\"no\"}}}", "rules.r.enabled: expected true");
    parse_bad("{\"rules\":{\"r\":{\"exception\":[]}}}", "rules.r.exception: unknown key");
    parse_bad("{\"rules\":{\"r\":{\"exceptions\":[\"x\"]}}}",
              "rules.r.exceptions[0]: expected a map");
    parse_bad("{\"rules\":{\"r\":{\"exceptions\":[[]]}}}", "rules.r.exceptions[0]");
    parse_bad("{\"rules\":{\"r\":{\"exceptions\":[{}]}}}", "rules.r.exceptions[0]");
    parse_bad("{\"rules\":{\"r\":{\"exceptions\":[[{\"a\":1},2]]}}}", "rules.r.exceptions[0]");
    parse_bad("{\"tags\":{\"a.b\":true}}", "tags.a.b: expected an object");
    parse_bad("{\"tags\":{\"A.b\":{},\"a.B\":{}}}", "tags.a.b: given twice");
    parse_bad("{\"rules\":{\"\":{}}}", "rules: an empty key");
    parse_bad("{\"levels\":{\"severe\":false}}", "levels.severe: unknown level");
    parse_bad("{\"levels\":{\"low\":0}}", "levels.low: expected true or false");
    parse_bad("{\"statuses\":{\"beta\":false}}", "statuses.beta: unknown status");
    parse_bad("{\"folders\":{\"/abs\":false}}", "folders./abs: expected a folder relative");
    parse_bad("{\"folders\":{\"a/../b\":false}}", "folders.a/../b");
    parse_bad("{\"folders\":{\"a\":false,\"./a/\":true}}", "folders.a: given twice");
    parse_bad("{\"throttle\":{\"seconds\":-1}}", "throttle.seconds");
    parse_bad("{\"throttle\":{\"max_keys\":0}}", "throttle.max_keys");
    parse_bad("{\"throttle\":{\"window\":1}}", "throttle.window: unknown key");
}

/* A rule with the metadata tuning looks at. */
static struct ds_rule rule(const char *id, int level, const char *status, const char **tags,
                           uint32_t ntags)
{
    struct ds_rule r;
    memset(&r, 0, sizeof r);
    r.id = id;
    r.title = "t";
    r.level = (enum ds_level)level;
    r.status = status;
    r.tags.v = tags;
    r.tags.n = ntags;
    return r;
}

static void expect(const struct ds_conf *c, const struct ds_rule *r, const char *relpath,
                   const char *why_want)
{
    char why[256] = "x";
    bool ok = ds_tune_accept(c, r->id, r, relpath, why, sizeof why);
    if (!why_want) {
        if (!ok || why[0])
            fail_msg("%s (%s) left out: %s", r->id, relpath, why);
    } else if (ok || strcmp(why, why_want) != 0) {
        fail_msg("%s (%s): %s \"%s\", expected left out: \"%s\"", r->id, relpath,
                 ok ? "kept" : "left out", why, why_want);
    }
}

static void test_accept(void **state)
{
    (void)state;
    struct ds_conf *c =
        parse_ok("{\"min_level\":\"low\","
                 "\"rules\":{\"off\":{\"enabled\":false},"
                 "\"forced\":{\"enabled\":true},\"exc\":{\"exceptions\":[{\"a\":1}]}},"
                 "\"tags\":{\"attack.t1059\":{\"enabled\":false},"
                 "\"attack.execution\":{\"enabled\":true}},"
                 "\"levels\":{\"critical\":false},"
                 "\"statuses\":{\"experimental\":false,\"stable\":true},"
                 "\"folders\":{\"linux\":false,\"linux/keep\":true,"
                 "\"other/deep/er\":false}}");
    const char *t1059[] = {"attack.execution", "ATTACK.T1059"};
    const char *texec[] = {"attack.execution"};
    struct ds_rule r = rule("plain", DS_LEVEL_HIGH, "stable", texec, 1);
    expect(c, &r, "a.yml", NULL);
    expect(c, &r, "other/deep/x.yml", NULL);
    expect(c, &r, "other/deep/er/x.yml", "disabled by folders.other/deep/er");
    expect(c, &r, "other/deep/er/more/x.yml", "disabled by folders.other/deep/er");
    expect(c, &r, "linux/x.yml", "disabled by folders.linux");
    expect(c, &r, "linux/sub/x.yml", "disabled by folders.linux");
    expect(c, &r, "linux/keep/x.yml", NULL); /* the deepest folder entry decides */
    expect(c, &r, "linuxx/x.yml", NULL);     /* whole folder names only */
    r = rule("off", DS_LEVEL_HIGH, "stable", texec, 1);
    expect(c, &r, "a.yml", "disabled by rules.off.enabled");
    /* A tag in any case. */
    r = rule("t", DS_LEVEL_HIGH, "stable", t1059, 2);
    expect(c, &r, "a.yml", "disabled by tags.attack.t1059.enabled");
    r = rule("crit", DS_LEVEL_CRITICAL, NULL, NULL, 0);
    expect(c, &r, "a.yml", "disabled by levels.critical");
    r = rule("exp", DS_LEVEL_HIGH, "experimental", NULL, 0);
    expect(c, &r, "a.yml", "disabled by statuses.experimental");
    r = rule("test", DS_LEVEL_HIGH, "test", NULL, 0);
    expect(c, &r, "a.yml", NULL);
    r = rule("info", DS_LEVEL_INFO, NULL, NULL, 0);
    expect(c, &r, "a.yml", "level informational is below min_level low");
    /* Without a level: counts as medium. */
    r = rule("nolevel", DS_LEVEL_NONE, NULL, NULL, 0);
    expect(c, &r, "a.yml", NULL);
    /* An exceptions-only entry does not decide. */
    r = rule("exc", DS_LEVEL_INFO, NULL, NULL, 0);
    expect(c, &r, "a.yml", "level informational is below min_level low");
    /* rules.<id>.enabled true decides alone: over tag, level, status,
     * folder and min_level. */
    r = rule("forced", DS_LEVEL_INFO, "experimental", t1059, 2);
    expect(c, &r, "linux/x.yml", NULL);
    r = rule("forced", DS_LEVEL_CRITICAL, NULL, NULL, 0);
    expect(c, &r, "a.yml", NULL);
    ds_conf_destroy(c);
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(ds_level_parse("informational"), DS_LEVEL_INFO);
    assert_int_equal(ds_level_parse("critical"), DS_LEVEL_CRITICAL);
    assert_int_equal(ds_level_parse("Critical"), -1);
    assert_int_equal(ds_level_parse(NULL), -1);
    assert_string_equal(ds_level_name(DS_LEVEL_LOW), "low");
    assert_string_equal(ds_level_name(DS_LEVEL_NONE), "none");
    assert_string_equal(ds_level_name(99), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), cmocka_unit_test(test_keys),
        cmocka_unit_test(test_errors),   cmocka_unit_test(test_accept),
        cmocka_unit_test(test_levels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
