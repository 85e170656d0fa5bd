/*
 * tests/unit/test_sigma_ruleset.c - detector_sigma's rule sets
 * (plugins/detector_sigma/ruleset.c) on rule files in a temporary folder
 * and events given as field tables: what an alert of each rule says
 * (derived ids, severities, tags, ATT&CK ids, authors), the tuning as the
 * engine's accept filter, exceptions (a map is AND, a list of maps OR; a
 * rule's own and its tags'; field names mapped by the rule's log source;
 * one that can never hold is noted and left out), the config checks that
 * name their key, a rule_dir that cannot be read, and the rules report.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ruleset.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[256];

static void put(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0755);
    *slash = '/';
    assert_int_equal(tu_write(path, text), 0);
}

static int setup(void **state)
{
    (void)state;
    if (tu_mkdtemp("sigma-ruleset", dir, sizeof dir) != 0)
        return -1;
    put("linux/proc.yml", "title: Shell from tmp\n"
                          "id: 11111111-0000-0000-0000-000000000001\n"
                          "status: test\n"
                          "level: high\n"
                          "author: Alice,  Bob ,Carol\n"
                          "license: MIT\n"
                          "description: A shell ran from /tmp.\n"
                          "references: [https://example.org/1, https://example.org/2]\n"
                          "tags: [attack.execution, attack.t1059.004, attack.T1059, "
                          "attack.defense_evasion, attack.defense-evasion, 'bad tag', "
                          "cve.2021-4034]\n"
                          "logsource: {product: linux, category: process_creation}\n"
                          "detection:\n"
                          "  sel_img:\n"
                          "    Image|startswith: '/tmp/'\n"
                          "  sel_cmd:\n"
                          "    CommandLine|contains: 'sh'\n"
                          "  condition: sel_img and sel_cmd\n");
    put("linux/file.yml", "title: Cron file\n"
                          "id: 11111111-0000-0000-0000-000000000002\n"
                          "level: critical\n"
                          "tags: [attack.persistence, attack.t1053.003]\n"
                          "logsource: {product: linux, category: file_event}\n"
                          "detection:\n"
                          "  sel:\n"
                          "    TargetFilename|startswith: '/etc/cron.d/'\n"
                          "  condition: sel\n");
    put("other/noid.yml", "title: No id\n"
                          "logsource: {product: linux, category: process_creation}\n"
                          "detection:\n"
                          "  sel:\n"
                          "    Image|endswith: '/nc'\n"
                          "  condition: sel\n");
    put("other/broken.yml", "title: Broken\n"
                            "logsource: {product: linux, category: process_creation}\n"
                            "detection:\n"
                            "  sel:\n"
                            "    Image|nosuchmod: x\n"
                            "  condition: sel\n");
    put("other/readme.txt", "not a rule\n");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_rm_rf(dir);
    return 0;
}

static struct ds_conf *conf(const char *extra)
{
    char json[4096];
    snprintf(json, sizeof json, "{\"rule_dirs\":[\"%s\"]%s%s}", dir, extra[0] ? "," : "", extra);
    struct ds_conf *c = NULL;
    char err[512] = "";
    if (ds_conf_parse(json, strlen(json), &c, err, sizeof err) != 0)
        fail_msg("config %s: %s", json, err);
    return c;
}

static struct ds_set *build(const struct ds_conf *c)
{
    struct ds_set *s = NULL;
    char err[512] = "";
    int rc = ds_set_build(c, NULL, NULL, &s, err, sizeof err);
    if (rc != 0)
        fail_msg("ds_set_build: %d %s", rc, err);
    return s;
}

static const struct ds_rinfo *rinfo(const struct ds_set *s, const char *title)
{
    for (uint32_t i = 0; i < s->n_rules; i++)
        if (strcmp(s->rules[i].name, title) == 0)
            return &s->rules[i];
    return NULL;
}

static size_t list_len(const char **l)
{
    size_t n = 0;
    while (l && l[n])
        n++;
    return n;
}

static void test_alert_fields(void **state)
{
    (void)state;
    struct ds_conf *c = conf("");
    struct ds_set *s = build(c);
    assert_int_equal(s->n_files, 4); /* readme.txt is no rule file */
    assert_int_equal(s->n_loaded, 3);
    assert_int_equal(s->n_skipped, 1);
    assert_int_equal(s->n_rules, 3);
    const struct ds_rinfo *p = rinfo(s, "Shell from tmp");
    assert_non_null(p);
    assert_string_equal(p->id, "11111111-0000-0000-0000-000000000001");
    assert_int_equal(p->severity, RP_SEVERITY_HIGH);
    assert_string_equal(p->level, "high");
    assert_string_equal(p->reference, "https://example.org/1");
    assert_string_equal(p->license, "MIT");
    assert_string_equal(p->description, "A shell ran from /tmp.");
    /* A tag with a space is no tag the alert contract takes. */
    assert_int_equal(list_len(p->tags), 6);
    assert_string_equal(p->tags[5], "cve.2021-4034");
    /* Each id once, upper case; tactics in both spellings once. */
    assert_int_equal(list_len(p->technique_ids), 2);
    assert_string_equal(p->technique_ids[0], "T1059.004");
    assert_string_equal(p->technique_ids[1], "T1059");
    assert_int_equal(list_len(p->tactic_ids), 2);
    assert_string_equal(p->tactic_ids[0], "TA0002");
    assert_string_equal(p->tactic_ids[1], "TA0005");
    assert_int_equal(p->n_tactic_names, 2);
    assert_string_equal(p->tactic_names[1], "Defense Evasion");
    assert_int_equal(p->n_authors, 3);
    assert_string_equal(p->authors[0], "Alice");
    assert_string_equal(p->authors[1], "Bob");
    assert_string_equal(p->authors[2], "Carol");
    const struct ds_rinfo *f = rinfo(s, "Cron file");
    assert_non_null(f);
    assert_int_equal(f->severity, RP_SEVERITY_CRITICAL);
    assert_null(f->authors);
    assert_null(f->license);
    assert_null(f->reference);
    /* Without a level: medium. Without an id: sigma- and the SHA-256 of
     * its path under the rule_dir ("other/noid.yml"). */
    const struct ds_rinfo *n = rinfo(s, "No id");
    assert_non_null(n);
    assert_int_equal(n->severity, RP_SEVERITY_MEDIUM);
    assert_string_equal(n->level, "medium");
    assert_string_equal(n->id, "sigma-933388d57c0cad1b");
    /* The event types the live rules run on. */
    assert_int_equal(s->types, (1u << DS_EV_PROCESS_EXEC) | (1u << DS_EV_FILE_CREATE) |
                                   (1u << DS_EV_FILE_MODIFY) | (1u << DS_EV_FILE_RENAME));
    ds_set_destroy(s);
    ds_conf_destroy(c);
}

static void test_tuning(void **state)
{
    (void)state;
    struct ds_conf *c =
        conf("\"folders\":{\"other\":false},"
             "\"rules\":{\"11111111-0000-0000-0000-000000000002\":{\"enabled\":false}}");
    struct ds_set *s = build(c);
    assert_int_equal(s->n_loaded, 1);
    assert_int_equal(s->n_disabled, 2); /* broken.yml is refused before tuning */
    assert_int_equal(s->n_skipped, 1);
    int seen = 0;
    for (uint32_t i = 0; i < s->n_files; i++) {
        const struct ds_file *fl = &s->files[i];
        if (strstr(fl->path, "file.yml")) {
            assert_int_equal(fl->status, DS_ST_DISABLED);
            assert_non_null(strstr(fl->msg, "rules.11111111-0000-0000-0000-000000000002.enabled"));
            seen++;
        } else if (strstr(fl->path, "noid.yml")) {
            assert_int_equal(fl->status, DS_ST_DISABLED);
            assert_non_null(strstr(fl->msg, "folders.other"));
            seen++;
        } else if (strstr(fl->path, "broken.yml")) {
            assert_int_equal(fl->status, DS_ST_SKIPPED);
            assert_string_equal(fl->reason, "unknown_modifier");
            seen++;
        }
    }
    assert_int_equal(seen, 3);
    assert_int_equal(s->types, 1u << DS_EV_PROCESS_EXEC);
    ds_set_destroy(s);
    ds_conf_destroy(c);
}

/* An event as a table of ECS fields. */
struct kv {
    const char *k, *v;
};
struct fake {
    const struct ds_engine *eng;
    const struct kv *kv;
};

static int fget(void *ctx, uint32_t slot, const char **value, size_t *len)
{
    struct fake *f = ctx;
    const char *name = ds_engine_slot_name(f->eng, slot);
    for (const struct kv *kv = f->kv; name && kv->k; kv++)
        if (strcmp(kv->k, name) == 0) {
            *value = kv->v;
            *len = strlen(kv->v);
            return 1;
        }
    return 0;
}

/* Whether one of the rule's exceptions holds for the event. */
static int excepted(const struct ds_set *s, const struct ds_rinfo *ri, const struct kv *kv)
{
    struct fake f = {s->exc, kv};
    struct ds_view v = {fget, NULL, &f};
    for (uint32_t i = 0; i < ri->n_exc; i++)
        if (ds_engine_eval_rule(s->exc, ri->exc[i], &v))
            return 1;
    return 0;
}

static void test_exceptions(void **state)
{
    (void)state;
    struct ds_conf *c =
        conf("\"rules\":{\"11111111-0000-0000-0000-000000000001\":{\"exceptions\":["
             "{\"Image\":\"/tmp/backup.sh\",\"CommandLine|contains\":\"--nightly\"},"
             "[{\"User\":\"svc-a\"},{\"User\":\"svc-b\"}]]}},"
             "\"tags\":{\"ATTACK.PERSISTENCE\":{\"exceptions\":["
             "{\"TargetFilename|endswith\":\"/e2scrub_all\"},{\"LogonId\":\"1\"}]},"
             "\"attack.execution\":{\"exceptions\":[{\"CommandLine|contains\":\"--tag-ok\"}]}}");
    struct ds_set *s = build(c);
    assert_non_null(s->exc);
    const struct ds_rinfo *p = rinfo(s, "Shell from tmp");
    assert_int_equal(p->n_exc, 3); /* two of its own, one of its tag */
    /* A map: every condition. */
    const struct kv both[] = {{"process.executable", "/tmp/backup.sh"},
                              {"process.command_line", "sh /tmp/backup.sh --nightly"},
                              {NULL, NULL}};
    const struct kv one[] = {{"process.executable", "/tmp/backup.sh"},
                             {"process.command_line", "sh /tmp/backup.sh"},
                             {NULL, NULL}};
    assert_true(excepted(s, p, both));
    assert_false(excepted(s, p, one));
    /* A list of maps: one of them. */
    const struct kv b[] = {{"user.name", "svc-b"}, {NULL, NULL}};
    const struct kv z[] = {{"user.name", "svc-z"}, {NULL, NULL}};
    assert_true(excepted(s, p, b));
    assert_false(excepted(s, p, z));
    /* The tag's exception applies to the rule as well. */
    const struct kv t[] = {{"process.command_line", "sh x --tag-ok"}, {NULL, NULL}};
    assert_true(excepted(s, p, t));
    /* File rules map TargetFilename to file.path; the exception on LogonId
     * (no ECS field here) can never hold: noted and left out. */
    const struct ds_rinfo *f = rinfo(s, "Cron file");
    assert_int_equal(f->n_exc, 1);
    const struct kv e2[] = {{"file.path", "/etc/cron.d/e2scrub_all"}, {NULL, NULL}};
    const struct kv other[] = {{"file.path", "/etc/cron.d/evil"}, {NULL, NULL}};
    assert_true(excepted(s, f, e2));
    assert_false(excepted(s, f, other));
    assert_int_equal(s->n_notes, 1);
    assert_non_null(strstr(s->notes[0], "tags.attack.persistence.exceptions[1]"));
    assert_non_null(strstr(s->notes[0], "can never hold"));
    /* A rule without exceptions has none. */
    assert_int_equal(rinfo(s, "No id")->n_exc, 0);
    ds_set_destroy(s);
    ds_conf_destroy(c);
}

static void check_refused(const char *extra, const char *want)
{
    struct ds_conf *c = conf(extra);
    char err[512] = "";
    int rc = ds_conf_check(c, err, sizeof err);
    if (rc != RP_ERR_CONFIG || !strstr(err, want))
        fail_msg("ds_conf_check(%s): %d \"%s\", expected \"%s\"", extra, rc, err, want);
    ds_conf_destroy(c);
}

static void test_conf_check(void **state)
{
    (void)state;
    struct ds_conf *c = conf("\"rules\":{\"r\":{\"exceptions\":[{\"Image|endswith\":\"/x\"}]}}");
    char err[512] = "";
    assert_int_equal(ds_conf_check(c, err, sizeof err), 0);
    ds_conf_destroy(c);
    check_refused("\"rules\":{\"r\":{\"exceptions\":[{\"Image|nosuch\":\"/x\"}]}}",
                  "rules.r.exceptions[0]");
    check_refused("\"tags\":{\"t.x\":{\"exceptions\":[{\"Image|endswith\":\"/x\"},"
                  "{\"Image\":{\"a\":1}}]}}",
                  "tags.t.x.exceptions[1]");
    check_refused("\"field_map\":{\"*\":{\"Image\":\"Not An ECS name\"}}", "field_map.*.Image");
}

static void test_unreadable_dir(void **state)
{
    (void)state;
    char json[1024];
    snprintf(json, sizeof json, "{\"rule_dirs\":[\"%s\",\"%s/missing\"]}", dir, dir);
    struct ds_conf *c = NULL;
    char err[512] = "";
    assert_int_equal(ds_conf_parse(json, strlen(json), &c, err, sizeof err), 0);
    struct ds_set *s = (struct ds_set *)1;
    int rc = ds_set_build(c, NULL, NULL, &s, err, sizeof err);
    assert_int_equal(rc, RP_ERR_IO);
    assert_null(s);
    assert_non_null(strstr(err, "rule_dirs[1]"));
    assert_non_null(strstr(err, "/missing"));
    ds_conf_destroy(c);
}

static void test_rules_json(void **state)
{
    (void)state;
    struct ds_conf *c = conf("");
    struct ds_set *s = build(c);
    uint32_t next = 0;
    char *text = ds_set_rules_json(s, &next, 1 << 20);
    assert_non_null(text);
    assert_int_equal(next, s->n_files);
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    json_t *arr = json_object_get(j, "rules");
    assert_int_equal(json_array_size(arr), 4);
    int broken = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *r = json_array_get(arr, i);
        if (strstr(json_string_value(json_object_get(r, "path")), "broken.yml")) {
            assert_string_equal(json_string_value(json_object_get(r, "status")), "skipped");
            assert_string_equal(json_string_value(json_object_get(r, "reason")),
                                "unknown_modifier");
            assert_true(json_is_null(json_object_get(r, "id")));
            broken = 1;
        }
    }
    assert_true(broken);
    json_decref(j);
    free(text);
    /* A small cap: one file per reply, and every file in the end. */
    next = 0;
    uint32_t replies = 0;
    while (next < s->n_files) {
        text = ds_set_rules_json(s, &next, 1);
        assert_non_null(text);
        free(text);
        replies++;
    }
    assert_int_equal(replies, s->n_files);
    ds_set_destroy(s);
    ds_conf_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_fields),   cmocka_unit_test(test_tuning),
        cmocka_unit_test(test_exceptions),     cmocka_unit_test(test_conf_check),
        cmocka_unit_test(test_unreadable_dir), cmocka_unit_test(test_rules_json),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
