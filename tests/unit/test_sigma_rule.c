/*
 * tests/unit/test_sigma_rule.c - detector_sigma's rule loader, condition
 * parser and modifier syntax (plugins/detector_sigma/rule.c, cond.c, mod.c):
 * every construct of the rule language loads into the rule a user wrote, and
 * every error is a skip with its reason code and a message naming the file,
 * line and column, field and expectation.
 *
 * test_corpus_load loads every rule of the public SigmaHQ corpus (a folder
 * outside the project: RP_SIGMA_CORPUS at build time, or the environment
 * variable of that name) and prints the load report; it skips when the folder
 * is absent, so it runs as a ctest test of its own (unit.test_sigma_rule.privileged).
 */
#define _GNU_SOURCE
#include "cond.h"
#include "mod.h"
#include "rule.h"

#include <rampart/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "testutil.h"

#ifndef RP_SIGMA_CORPUS
#define RP_SIGMA_CORPUS "/work/shared/corpus/sigma"
#endif

static struct ds_rule *load(const char *yaml, struct ds_load_result *res)
{
    struct ds_rule *r = NULL;
    assert_int_equal(ds_rule_load_buffer("t.yml", yaml, strlen(yaml), &r, res), 0);
    if (res->reason == DS_LOADED)
        assert_non_null(r);
    else
        assert_null(r);
    return r;
}

/* Loads yaml, expects it skipped for reason with a message containing each
 * of the NULL-terminated needles. */
static void expect_skip(const char *yaml, enum ds_reason reason, ...)
{
    struct ds_load_result res;
    struct ds_rule *r = load(yaml, &res);
    ds_rule_destroy(r);
    if (res.reason != reason)
        fail_msg("expected %s, got %s: %s", ds_reason_name(reason), ds_reason_name(res.reason),
                 res.msg);
    va_list ap;
    va_start(ap, reason);
    for (const char *needle = va_arg(ap, const char *); needle; needle = va_arg(ap, const char *))
        if (!strstr(res.msg, needle))
            fail_msg("message '%s' lacks '%s'", res.msg, needle);
    va_end(ap);
}

#define HEAD                                                                                       \
    "title: T\n"                                                                                   \
    "logsource:\n"                                                                                 \
    "    product: linux\n"                                                                         \
    "    category: process_creation\n"

static const char full_rule[] =
    "title: Reverse shell via bash\n"
    "id: 0b5e6e4e-1111-4222-8333-944445555666\n"
    "status: test\n"
    "description: Detects bash with /dev/tcp\n"
    "references:\n"
    "    - https://example.org/a\n"
    "    - https://example.org/b\n"
    "author: Someone\n"
    "license: DRL-1.1\n"
    "date: 2024-01-01\n"
    "tags:\n"
    "    - attack.execution\n"
    "    - attack.t1059.004\n"
    "logsource:\n"
    "    product: linux\n"
    "    category: process_creation\n"
    "detection:\n"
    "    selection_img:\n"
    "        Image|endswith: '/bash'\n"
    "        CommandLine|contains|all:\n"
    "            - '/dev/tcp/'\n"
    "            - '>&'\n"
    "        ParentImage: null\n"
    "        ProcessId: 42\n"
    "        Initiated: true\n"
    "    selection_any:\n"
    "        - User: root\n"
    "        - CurrentDirectory|startswith: '/tmp'\n"
    "          LogonId: '0'\n"
    "    keywords:\n"
    "        - 'nc -e'\n"
    "        - \"ncat\"\n"
    "    _helper:\n"
    "        '|re|i': 'a.*b'\n"
    "    condition: selection_img and 1 of selection_* or keywords and not _helper\n"
    "falsepositives:\n"
    "    - Admins\n"
    "level: high\n"
    "custom_field: ignored\n";

static void test_full_rule(void **state)
{
    (void)state;
    struct ds_load_result res;
    struct ds_rule *r = load(full_rule, &res);
    assert_int_equal(res.reason, DS_LOADED);
    assert_string_equal(res.msg, "");
    assert_string_equal(r->title, "Reverse shell via bash");
    assert_string_equal(r->id, "0b5e6e4e-1111-4222-8333-944445555666");
    assert_string_equal(r->status, "test");
    assert_string_equal(r->description, "Detects bash with /dev/tcp");
    assert_string_equal(r->author, "Someone");
    assert_string_equal(r->license, "DRL-1.1");
    assert_int_equal(r->level, DS_LEVEL_HIGH);
    assert_int_equal(r->references.n, 2);
    assert_string_equal(r->references.v[1], "https://example.org/b");
    assert_int_equal(r->tags.n, 2);
    assert_string_equal(r->tags.v[1], "attack.t1059.004");
    assert_int_equal(r->falsepositives.n, 1);
    assert_string_equal(r->falsepositives.v[0], "Admins");
    assert_string_equal(r->product, "linux");
    assert_string_equal(r->category, "process_creation");
    assert_null(r->service);
    assert_int_equal(r->logsource, DS_LS_PROCESS_CREATION);
    assert_string_equal(r->path, "t.yml");

    assert_int_equal(r->n_sels, 4);
    const struct ds_selection *s = &r->sels[0];
    assert_string_equal(s->name, "selection_img");
    assert_int_equal(s->kind, DS_SEL_MAP);
    assert_int_equal(s->n_groups, 1);
    assert_int_equal(s->line, 18);
    assert_int_equal(s->groups[0].n_conds, 5);
    const struct ds_field_cond *fc = &s->groups[0].conds[0];
    assert_int_equal(fc->spec.field_len, 5);
    assert_memory_equal(fc->spec.field, "Image", 5);
    assert_int_equal(fc->spec.n_mods, 1);
    assert_int_equal(fc->spec.mods[0], DS_MOD_ENDSWITH);
    assert_int_equal(fc->n_values, 1);
    assert_string_equal(fc->values[0].s, "/bash");
    assert_int_equal(fc->values[0].kind, DS_VAL_STRING);
    assert_int_equal(fc->line, 19);
    assert_int_equal(fc->col, 9);
    fc = &s->groups[0].conds[1];
    assert_string_equal(fc->key, "CommandLine|contains|all");
    assert_int_equal(fc->spec.n_mods, 2);
    assert_int_equal(fc->spec.mods[0], DS_MOD_CONTAINS);
    assert_int_equal(fc->spec.mods[1], DS_MOD_ALL);
    assert_int_equal(fc->spec.mask, (1u << DS_MOD_CONTAINS) | (1u << DS_MOD_ALL));
    assert_int_equal(fc->n_values, 2);
    assert_string_equal(fc->values[1].s, ">&");
    assert_int_equal(s->groups[0].conds[2].values[0].kind, DS_VAL_NULL);
    assert_int_equal(s->groups[0].conds[3].values[0].kind, DS_VAL_INT);
    assert_int_equal(s->groups[0].conds[3].values[0].i, 42);
    assert_int_equal(s->groups[0].conds[4].values[0].kind, DS_VAL_BOOL);
    assert_int_equal(s->groups[0].conds[4].values[0].i, 1);

    s = &r->sels[1];
    assert_int_equal(s->kind, DS_SEL_MAPS);
    assert_int_equal(s->n_groups, 2);
    assert_int_equal(s->groups[1].n_conds, 2);
    /* A quoted number stays a string: '0' is text to compare. */
    assert_int_equal(s->groups[1].conds[1].values[0].kind, DS_VAL_STRING);

    s = &r->sels[2];
    assert_int_equal(s->kind, DS_SEL_KEYWORDS);
    assert_null(s->groups[0].conds[0].spec.field);
    assert_int_equal(s->groups[0].conds[0].n_values, 2);
    assert_string_equal(s->groups[0].conds[0].values[1].s, "ncat");

    /* A `|mod` key without a field is a keyword condition with modifiers. */
    s = &r->sels[3];
    assert_null(s->groups[0].conds[0].spec.field);
    assert_int_equal(s->groups[0].conds[0].spec.mods[0], DS_MOD_RE);
    assert_int_equal(s->groups[0].conds[0].spec.mods[1], DS_MOD_RE_I);

    /* not > and > or: (img and 1 of selection_*) or (keywords and not _helper). */
    const struct ds_cond_node *c = r->cond;
    assert_int_equal(r->n_conditions, 1);
    assert_int_equal(c->op, DS_COND_OR);
    assert_int_equal(c->n, 2);
    assert_int_equal(c->kids[0]->op, DS_COND_AND);
    assert_int_equal(c->kids[0]->kids[0]->op, DS_COND_SEL);
    assert_int_equal(c->kids[0]->kids[0]->sel, 0);
    assert_int_equal(c->kids[0]->kids[1]->op, DS_COND_ONE_OF);
    assert_int_equal(c->kids[0]->kids[1]->n, 2);
    assert_int_equal(c->kids[0]->kids[1]->sels[1], 1);
    assert_int_equal(c->kids[1]->op, DS_COND_AND);
    assert_int_equal(c->kids[1]->kids[1]->op, DS_COND_NOT);
    assert_int_equal(c->kids[1]->kids[1]->kids[0]->sel, 3);
    ds_rule_destroy(r);
}

/* The tree as text: a, not(x), and(x,y), or(x,y), 1of[a,b], allof[a,b]. */
static void show(const struct ds_cond_node *n, const char *const *names, char *buf, size_t size)
{
    size_t used = strlen(buf);
    static const char *const ops[] = {"", "not", "and", "or", "1of", "allof"};
    if (n->op == DS_COND_SEL) {
        snprintf(buf + used, size - used, "%s", names[n->sel]);
        return;
    }
    int sels = n->op == DS_COND_ONE_OF || n->op == DS_COND_ALL_OF;
    snprintf(buf + used, size - used, "%s%c", ops[n->op], sels ? '[' : '(');
    for (uint32_t i = 0; i < n->n; i++) {
        if (i) {
            used = strlen(buf);
            snprintf(buf + used, size - used, ",");
        }
        if (sels) {
            used = strlen(buf);
            snprintf(buf + used, size - used, "%s", names[n->sels[i]]);
        } else {
            show(n->kids[i], names, buf, size);
        }
    }
    used = strlen(buf);
    snprintf(buf + used, size - used, "%c", sels ? ']' : ')');
}

static const char *const names[] = {"sel",      "sel_a", "sel_b", "filter",
                                    "_private", "all",   "x-1.y", "x"};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static void cond_ok(const char *text, const char *want)
{
    struct ds_arena a;
    ds_arena_init(&a, 1u << 20);
    struct ds_cond_node *root;
    struct ds_cond_error err;
    int rc = ds_cond_parse(text, strlen(text), names, N_NAMES, &a, &root, &err);
    if (rc != 0)
        fail_msg("'%s': %s at %zu", text, err.msg, err.pos);
    char buf[512] = "";
    show(root, names, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("'%s' parsed as %s, expected %s", text, buf, want);
    ds_arena_free(&a);
}

static void cond_bad(const char *text, size_t pos, const char *needle)
{
    struct ds_arena a;
    ds_arena_init(&a, 1u << 20);
    struct ds_cond_node *root;
    struct ds_cond_error err;
    int rc = ds_cond_parse(text, strlen(text), names, N_NAMES, &a, &root, &err);
    if (rc != RP_ERR_PARSE)
        fail_msg("'%.60s' gave %d, expected RP_ERR_PARSE", text, rc);
    assert_null(root);
    if (err.pos != pos)
        fail_msg("'%.60s': error at %zu (%s), expected at %zu", text, err.pos, err.msg, pos);
    if (!strstr(err.msg, needle))
        fail_msg("'%.60s': message '%s' lacks '%s'", text, err.msg, needle);
    ds_arena_free(&a);
}

static void test_condition_grammar(void **state)
{
    (void)state;
    cond_ok("sel", "sel");
    cond_ok("  sel\n", "sel");
    cond_ok("sel and filter", "and(sel,filter)");
    cond_ok("sel and not filter", "and(sel,not(filter))");
    cond_ok("sel or sel_a and sel_b", "or(sel,and(sel_a,sel_b))");
    cond_ok("not sel or sel_a", "or(not(sel),sel_a)");
    cond_ok("not not sel", "not(not(sel))");
    cond_ok("(sel or sel_a) and sel_b", "and(or(sel,sel_a),sel_b)");
    cond_ok("sel and sel_a and sel_b or filter", "or(and(sel,sel_a,sel_b),filter)");
    cond_ok("not (sel and filter)", "not(and(sel,filter))");
    cond_ok("1 of sel*", "1of[sel,sel_a,sel_b]");
    cond_ok("any of sel_*", "1of[sel_a,sel_b]");
    cond_ok("all of sel_*", "allof[sel_a,sel_b]");
    cond_ok("all of *_b", "allof[sel_b]");
    cond_ok("1 of them", "1of[sel,sel_a,sel_b,filter,all,x-1.y,x]");
    cond_ok("all of them", "allof[sel,sel_a,sel_b,filter,all,x-1.y,x]");
    cond_ok("1 of _*", "1of[_private]");
    cond_ok("1 of sel_* and not 1 of filter*", "and(1of[sel_a,sel_b],not(1of[filter]))");
    /* "all" not followed by "of" is the selection of that name. */
    cond_ok("all and sel", "and(all,sel)");
    cond_ok("x-1.y", "x-1.y");
    cond_ok("((((sel))))", "sel");
}

static void test_condition_errors(void **state)
{
    (void)state;
    cond_bad("sel and nope", 8, "'nope' is not a selection");
    cond_bad("(sel or filter", 14, "expected ')'");
    cond_bad("(sel or filter", 14, "opened at character 1");
    cond_bad("sel)", 3, "closes no '('");
    cond_bad("sel and", 7, "found the end of the condition");
    cond_bad("sel filter", 4, "expected 'and', 'or' or the end");
    cond_bad("", 0, "empty");
    cond_bad("   ", 0, "empty");
    cond_bad("sel | count() > 5", 4, "aggregation");
    cond_bad("sel*", 0, "wildcard");
    cond_bad("1 of nomatch*", 5, "matches no selection");
    cond_bad("1 of", 4, "after 'of'");
    cond_bad("1 of (sel)", 5, "after 'of'");
    cond_bad("and sel", 0, "found 'and'");
    cond_bad("sel and or filter", 8, "found 'or'");
    cond_bad("sel & filter", 4, "found '&'");
    cond_bad("not", 3, "found the end");
    cond_bad("()", 1, "found ')'");
    /* Caps: length, depth, nodes. */
    char big[DS_COND_MAX_LEN + 16];
    memset(big, ' ', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "sel", 3);
    cond_bad(big, DS_COND_MAX_LEN, "longer than 4096 bytes");
    char deep[DS_COND_MAX_DEPTH * 2 + 32] = "";
    memset(deep, '(', DS_COND_MAX_DEPTH + 1);
    cond_bad(deep, DS_COND_MAX_DEPTH, "deeper than 64");
    char nots[DS_COND_MAX_DEPTH * 4 + 32] = "";
    for (unsigned i = 0; i <= DS_COND_MAX_DEPTH; i++)
        memcpy(nots + 4 * i, "not ", 4);
    memcpy(nots + 4 * (DS_COND_MAX_DEPTH + 1), "sel", 4);
    cond_bad(nots, DS_COND_MAX_DEPTH * 4, "deeper than 64");
    static char many[DS_COND_MAX_LEN];
    size_t used = 0;
    for (unsigned i = 0; i < DS_COND_MAX_NODES + 1 && used + 8 < DS_COND_MAX_LEN; i++)
        used += (size_t)snprintf(many + used, sizeof(many) - used, "%s", i ? " or sel" : "sel");
    struct ds_arena a;
    ds_arena_init(&a, 1u << 20);
    struct ds_cond_node *root;
    struct ds_cond_error err;
    int rc = ds_cond_parse(many, strlen(many), names, N_NAMES, &a, &root, &err);
    /* 584 operands fit the length cap: they parse. */
    assert_int_equal(rc, 0);
    assert_int_equal(root->n, (strlen(many) + 4) / 7);
    ds_arena_free(&a);
    /* "x and x or " makes three nodes in 11 bytes: the node cap comes
     * before the length cap. */
    used = 0;
    while (used + 12 < DS_COND_MAX_LEN)
        used += (size_t)snprintf(many + used, sizeof(many) - used, "%s",
                                 used ? " or x and x" : "x and x");
    ds_arena_init(&a, 1u << 20);
    rc = ds_cond_parse(many, strlen(many), names, N_NAMES, &a, &root, &err);
    assert_int_equal(rc, RP_ERR_PARSE);
    assert_null(root);
    assert_non_null(strstr(err.msg, "more than 1024 nodes"));
    assert_true(err.pos > 3000 && err.pos < strlen(many));
    ds_arena_free(&a);
}

static void test_condition_in_rule(void **state)
{
    (void)state;
    expect_skip(HEAD "detection:\n    sel:\n        Image: /bin/sh\n    condition: sel and other\n",
                DS_SKIP_BAD_CONDITION, "t.yml:8:16: detection.condition: at character 9",
                "'other' is not a selection", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image: /bin/sh\n", DS_SKIP_BAD_CONDITION,
                "detection.condition: missing", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image: /bin/sh\n    condition: []\n",
                DS_SKIP_BAD_CONDITION, "an empty list", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image: /bin/sh\n    condition:\n",
                DS_SKIP_BAD_CONDITION, "nothing, expected a condition", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image: /bin/sh\n    condition:\n        a: b\n",
                DS_SKIP_BAD_CONDITION, "a map, expected a condition", NULL);
    /* A list of conditions: one of them holds. */
    struct ds_load_result res;
    struct ds_rule *r = load(HEAD "detection:\n    a:\n        Image: x\n    b:\n        Image: y\n"
                                  "    condition:\n        - a\n        - not b\n",
                             &res);
    assert_int_equal(res.reason, DS_LOADED);
    assert_int_equal(r->n_conditions, 2);
    assert_string_equal(r->conditions[1], "not b");
    assert_int_equal(r->cond->op, DS_COND_OR);
    assert_int_equal(r->cond->n, 2);
    assert_int_equal(r->cond->kids[1]->op, DS_COND_NOT);
    ds_rule_destroy(r);
    expect_skip(HEAD "detection:\n    a:\n        Image: x\n    condition:\n        - a\n"
                     "        - a or\n",
                DS_SKIP_BAD_CONDITION, "t.yml:10:11:", "'a or'", NULL);
}

static void test_modifiers(void **state)
{
    (void)state;
    /* Every modifier of the specification is known, by its own name. */
    static const char *const all[] = {
        "contains", "startswith", "endswith",     "all",     "re",      "i",     "m",
        "s",        "base64",     "base64offset", "utf16le", "utf16be", "utf16", "wide",
        "windash",  "cidr",       "lt",           "lte",     "gt",      "gte",   "exists",
        "cased",    "fieldref",   "expand",       "neq"};
    assert_int_equal(sizeof(all) / sizeof(all[0]), DS_MOD_COUNT);
    for (int i = 0; i < DS_MOD_COUNT; i++) {
        assert_int_equal(ds_mod_lookup(all[i], strlen(all[i])), i);
        assert_string_equal(ds_mod_name(i), all[i]);
    }
    assert_int_equal(ds_mod_lookup("containz", 8), -1);
    assert_string_equal(ds_mod_name(DS_MOD_COUNT), "?");

    struct ds_field_spec spec;
    const char *bad_at, *why;
    size_t bad_len;
    const char *k = "CommandLine|wide|base64offset|contains";
    assert_int_equal(ds_mods_parse(k, strlen(k), &spec, &bad_at, &bad_len, &why), DS_MODS_OK);
    assert_int_equal(spec.field_len, 11);
    assert_int_equal(spec.n_mods, 3);
    assert_int_equal(spec.mods[0], DS_MOD_WIDE);
    assert_int_equal(spec.mods[1], DS_MOD_BASE64OFFSET);
    assert_int_equal(spec.mods[2], DS_MOD_CONTAINS);
    k = "Image";
    assert_int_equal(ds_mods_parse(k, 5, &spec, NULL, NULL, NULL), DS_MODS_OK);
    assert_int_equal(spec.n_mods, 0);
    assert_int_equal(spec.field_len, 5);
    k = "a|contains|frob";
    assert_int_equal(ds_mods_parse(k, strlen(k), &spec, &bad_at, &bad_len, &why), DS_MODS_UNKNOWN);
    assert_int_equal(bad_len, 4);
    assert_memory_equal(bad_at, "frob", 4);
    k = "a||contains";
    assert_int_equal(ds_mods_parse(k, strlen(k), &spec, NULL, NULL, NULL), DS_MODS_EMPTY);
    k = "a|contains|";
    assert_int_equal(ds_mods_parse(k, strlen(k), &spec, NULL, NULL, NULL), DS_MODS_EMPTY);
    k = "a|contains|contains";
    assert_int_equal(ds_mods_parse(k, strlen(k), &spec, NULL, NULL, NULL), DS_MODS_DUPLICATE);
    k = "a|contains|all|cased|windash|expand|utf16|base64offset|fieldref|lt";
    assert_int_equal(ds_mods_parse(k, strlen(k), &spec, NULL, NULL, NULL), DS_MODS_TOO_MANY);
    static const char *const conflicts[] = {
        "a|contains|endswith",
        "a|i",
        "a|re|contains",
        "a|wide",
        "a|utf16le|utf16be|base64",
        "a|base64|base64offset",
        "a|cidr|all",
        "a|gt|lt",
        "a|exists|contains",
        "a|re|base64",
        "a|fieldref|base64",
    };
    for (size_t i = 0; i < sizeof(conflicts) / sizeof(conflicts[0]); i++) {
        int rc = ds_mods_parse(conflicts[i], strlen(conflicts[i]), &spec, NULL, NULL, &why);
        if (rc != DS_MODS_CONFLICT)
            fail_msg("%s gave %d, expected a conflict", conflicts[i], rc);
        assert_non_null(why);
    }
    static const char *const fine[] = {
        "a|re|i|m|s",
        "a|utf16le|base64offset|contains",
        "a|windash|contains",
        "a|cidr",
        "a|gte",
        "a|exists",
        "a|contains|all|cased",
        "a|fieldref|startswith",
        "a|expand",
        "a|base64|contains",
    };
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        int rc = ds_mods_parse(fine[i], strlen(fine[i]), &spec, NULL, NULL, &why);
        if (rc != DS_MODS_OK)
            fail_msg("%s gave %d (%s), expected it to parse", fine[i], rc, why);
    }
    char longkey[DS_KEY_MAX + 2];
    memset(longkey, 'a', sizeof(longkey));
    assert_int_equal(ds_mods_parse(longkey, sizeof(longkey), &spec, NULL, NULL, NULL),
                     DS_MODS_TOO_LONG);
}

static void test_modifiers_in_rule(void **state)
{
    (void)state;
    expect_skip(HEAD "detection:\n    sel:\n        Image|endswith|frobnicate: /sh\n"
                     "    condition: sel\n",
                DS_SKIP_UNKNOWN_MODIFIER,
                "t.yml:7:9: detection.sel.Image|endswith|frobnicate: unknown modifier "
                "'frobnicate'",
                NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image|re|contains: x\n    condition: sel\n",
                DS_SKIP_BAD_MODIFIER, "at most one of contains", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image|exists: yes-please\n"
                     "    condition: sel\n",
                DS_SKIP_BAD_MODIFIER, "expected true or false", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        '|exists': true\n    condition: sel\n",
                DS_SKIP_BAD_MODIFIER, "exists needs a field name", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        ProcessId|gt: ten\n    condition: sel\n",
                DS_SKIP_BAD_MODIFIER, "'ten' with lt, lte, gt or gte, expected an integer", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image|contains: null\n    condition: sel\n",
                DS_SKIP_BAD_MODIFIER, "null with the modifier contains", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        '|fieldref': Image\n    condition: sel\n",
                DS_SKIP_BAD_MODIFIER, "fieldref needs a field name", NULL);
    struct ds_load_result res;
    struct ds_rule *r = load(HEAD "detection:\n    sel:\n        ProcessId|gte: '100'\n"
                                  "        Image|exists: false\n"
                                  "        DestinationIp|cidr: 10.0.0.0/8\n"
                                  "        CommandLine|windash|contains: ' -f '\n"
                                  "        CommandLine|expand: '%admins%'\n"
                                  "    condition: sel\n",
                             &res);
    assert_int_equal(res.reason, DS_LOADED);
    assert_int_equal(r->sels[0].groups[0].conds[1].values[0].kind, DS_VAL_BOOL);
    assert_int_equal(r->sels[0].groups[0].conds[1].values[0].i, 0);
    ds_rule_destroy(r);
}

static void test_detection_errors(void **state)
{
    (void)state;
    expect_skip(HEAD "detection: [a, b]\n", DS_SKIP_BAD_DETECTION,
                "t.yml:5:12: detection: a list, expected a map", NULL);
    expect_skip(HEAD "detection:\n    condition: sel\n", DS_SKIP_BAD_DETECTION, "no selection",
                NULL);
    expect_skip(HEAD "detection:\n    sel: []\n    condition: sel\n", DS_SKIP_BAD_DETECTION,
                "detection.sel: an empty list", NULL);
    expect_skip(HEAD "detection:\n    sel:\n    condition: sel\n", DS_SKIP_BAD_DETECTION,
                "detection.sel: nothing", NULL);
    expect_skip(HEAD "detection:\n    sel: {}\n    condition: sel\n", DS_SKIP_BAD_DETECTION,
                "an empty map", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        - a\n        - Image: x\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "mixed", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        - [a]\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "a list inside the list", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image:\n            a: b\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "detection.sel.Image: a map, expected a value", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image: []\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "at least one value", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image:\n            - [x]\n"
                     "    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "a list inside the values", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image: a\n        Image: b\n"
                     "    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "key 'Image' appears twice (first at line 7)", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        Image: a\n    sel: b\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "key 'sel' appears twice", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        '': a\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "an empty field name", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        - a\n        - null\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "null among keywords", NULL);
    expect_skip(HEAD "detection:\n    sel:\n        ? [a]\n        : b\n    condition: sel\n",
                DS_SKIP_BAD_DETECTION, "a key that is a list", NULL);
    /* A single keyword and the old timeframe key load. */
    struct ds_load_result res;
    struct ds_rule *r = load(HEAD "detection:\n    kw: 'just one'\n    timeframe: 5m\n"
                                  "    condition: kw\n",
                             &res);
    assert_int_equal(res.reason, DS_LOADED);
    assert_int_equal(r->n_sels, 1);
    assert_int_equal(r->sels[0].kind, DS_SEL_KEYWORDS);
    ds_rule_destroy(r);
}

#define DET "detection:\n    sel:\n        Image: x\n    condition: sel\n"

static void test_fields_and_kinds(void **state)
{
    (void)state;
    expect_skip("logsource:\n    product: linux\n    category: process_creation\n" DET,
                DS_SKIP_BAD_FIELD, "title: missing", NULL);
    expect_skip("title:\n    a: b\nlogsource:\n    product: linux\n" DET, DS_SKIP_BAD_FIELD,
                "t.yml:2:5: title: a map, expected a string", NULL);
    expect_skip(HEAD "level: severe\n" DET, DS_SKIP_BAD_FIELD,
                "t.yml:5:8: level: 'severe', expected informational, low, medium, high or "
                "critical",
                NULL);
    expect_skip(HEAD "tags:\n    - a: b\n" DET, DS_SKIP_BAD_FIELD, "tags: an item that is a map",
                NULL);
    expect_skip(HEAD "references:\n    a: b\n" DET, DS_SKIP_BAD_FIELD,
                "references: a map, expected a list of strings", NULL);
    expect_skip("title: T\n" DET, DS_SKIP_BAD_FIELD, "logsource: missing", NULL);
    expect_skip("title: T\nlogsource: linux\n" DET, DS_SKIP_BAD_FIELD,
                "logsource: a value, expected a map", NULL);
    expect_skip("title: T\nlogsource:\n    product: [linux]\n" DET, DS_SKIP_BAD_FIELD,
                "logsource.product: a list", NULL);
    expect_skip("title: T\ntitle: U\nlogsource:\n    product: linux\n" DET, DS_SKIP_BAD_FIELD,
                "key 'title' appears twice", NULL);
    /* Meta-rules and what is not a rule. */
    expect_skip("title: C\ncorrelation:\n    type: event_count\n    rules: [a]\n",
                DS_SKIP_CORRELATION, "t.yml:3:5: correlation: a correlation rule", NULL);
    expect_skip("title: F\nlogsource:\n    product: linux\nfilter:\n    rules: [a]\n"
                "    sel:\n        User: x\n    condition: not sel\n",
                DS_SKIP_FILTER, "filter rule", NULL);
    expect_skip("- a\n- b\n", DS_SKIP_NOT_A_RULE, "a list, expected a map", NULL);
    expect_skip("title: T\n", DS_SKIP_NOT_A_RULE, "detection: missing", NULL);
    expect_skip("", DS_SKIP_NOT_A_RULE, "empty", NULL);
    expect_skip("# only a comment\n", DS_SKIP_NOT_A_RULE, "empty", NULL);
    /* Log sources. */
    expect_skip("title: T\nlogsource:\n    product: windows\n    category: process_creation\n" DET,
                DS_SKIP_NOT_LINUX, "t.yml:3:5: logsource.product: 'windows', expected linux", NULL);
    expect_skip("title: T\nlogsource:\n    product: linux\n    service: auditd\n" DET,
                DS_SKIP_NOT_COLLECTED, "logsource: service auditd, expected a category", NULL);
    expect_skip("title: T\nlogsource:\n    product: linux\n    category: process_creation\n"
                "    service: sysmon\n" DET,
                DS_SKIP_NOT_COLLECTED, "category process_creation, service sysmon", NULL);
    expect_skip("title: T\nlogsource:\n    product: linux\n    category: dns\n" DET,
                DS_SKIP_NOT_COLLECTED, "category dns", NULL);
    expect_skip("title: T\nlogsource:\n    service: cloudtrail\n" DET, DS_SKIP_NOT_COLLECTED,
                "service cloudtrail", NULL);
    static const struct {
        const char *category;
        enum ds_logsource ls;
    } ok[] = {
        {"process_creation", DS_LS_PROCESS_CREATION},
        {"file_event", DS_LS_FILE_EVENT},
        {"file_change", DS_LS_FILE_CHANGE},
        {"file_delete", DS_LS_FILE_DELETE},
        {"file_rename", DS_LS_FILE_RENAME},
        {"network_connection", DS_LS_NETWORK_CONNECTION},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        for (int product = 0; product < 2; product++) {
            char yaml[512];
            snprintf(yaml, sizeof(yaml), "title: T\nlogsource:\n%s    category: %s\n" DET,
                     product ? "    product: linux\n" : "", ok[i].category);
            struct ds_load_result res;
            struct ds_rule *r = load(yaml, &res);
            if (res.reason != DS_LOADED)
                fail_msg("%s: %s", ok[i].category, res.msg);
            assert_int_equal(r->logsource, ok[i].ls);
            assert_int_equal(res.logsource, ok[i].ls);
            assert_int_equal(res.linux_product, product);
            assert_string_equal(ds_logsource_name(ok[i].ls), ok[i].category);
            ds_rule_destroy(r);
        }
    }
    /* A Linux rule skipped for its language still tells its log source. */
    struct ds_load_result res;
    ds_rule_destroy(
        load(HEAD "detection:\n    sel:\n        Image|nope: x\n    condition: sel\n", &res));
    assert_int_equal(res.reason, DS_SKIP_UNKNOWN_MODIFIER);
    assert_int_equal(res.logsource, DS_LS_PROCESS_CREATION);
    assert_int_equal(res.linux_product, 1);
    assert_int_equal(ds_reason_class(res.reason), DS_CLASS_LANGUAGE);
}

static void test_yaml_and_caps(void **state)
{
    (void)state;
    expect_skip("title: T\nlogsource: {product: linux\n", DS_SKIP_YAML,
                "t.yml:3:1:", "expected well-formed YAML", NULL);
    expect_skip("title: 'unterminated\n", DS_SKIP_YAML, "t.yml:", NULL);
    expect_skip("title: &t T\n" DET, DS_SKIP_YAML_ALIAS, "t.yml:1:8:", "anchor or alias", NULL);
    /* The billion laughs: refused at the first anchor, nothing expanded. */
    expect_skip("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
                DS_SKIP_YAML_ALIAS, "t.yml:1:4:", NULL);
    expect_skip("title: T\n---\ntitle: U\n", DS_SKIP_RULE_COLLECTION,
                "t.yml:2:1:", "a second YAML document", NULL);
    /* Depth. */
    char deep[DS_YAML_DEPTH_MAX * 2 + 8] = "";
    memset(deep, '[', DS_YAML_DEPTH_MAX + 1);
    expect_skip(deep, DS_SKIP_TOO_LARGE, "nested deeper than 32", NULL);
    /* Nodes. */
    size_t cap = 3u * DS_YAML_NODES_MAX + 16;
    char *many = malloc(cap);
    assert_non_null(many);
    size_t len = 0;
    many[len++] = '[';
    for (unsigned i = 0; i <= DS_YAML_NODES_MAX; i++) {
        many[len++] = '1';
        many[len++] = ',';
    }
    many[len - 1] = ']';
    many[len] = '\0';
    expect_skip(many, DS_SKIP_TOO_LARGE, "more than 65536 YAML nodes", NULL);
    free(many);
    /* A scalar over the cap. */
    char *big = malloc(DS_SCALAR_MAX + 32);
    assert_non_null(big);
    memcpy(big, "title: ", 7);
    memset(big + 7, 'x', DS_SCALAR_MAX + 1);
    big[7 + DS_SCALAR_MAX + 1] = '\0';
    expect_skip(big, DS_SKIP_TOO_LARGE, "a scalar of 65537 bytes, the cap is 65536", NULL);
    free(big);
    /* The file cap, in a buffer and in a file. */
    struct ds_rule *r;
    struct ds_load_result res;
    char *huge = calloc(1, DS_RULE_FILE_MAX + 2);
    assert_non_null(huge);
    memset(huge, '#', DS_RULE_FILE_MAX + 1);
    assert_int_equal(ds_rule_load_buffer("h.yml", huge, DS_RULE_FILE_MAX + 1, &r, &res), 0);
    assert_null(r);
    assert_int_equal(res.reason, DS_SKIP_TOO_LARGE);
    assert_non_null(strstr(res.msg, "h.yml: 1048577 bytes, the cap of a rule file is 1048576"));
    char dir[256], path[512];
    assert_int_equal(tu_mkdtemp("sigma", dir, sizeof(dir)), 0);
    tu_path(path, sizeof(path), dir, "huge.yml");
    assert_int_equal(tu_write(path, huge), 0);
    assert_int_equal(ds_rule_load_file(path, &r, &res), 0);
    assert_null(r);
    assert_int_equal(res.reason, DS_SKIP_TOO_LARGE);
    assert_non_null(strstr(res.msg, "more than 1048576 bytes"));
    free(huge);
    /* A file that loads, and one that does not exist. */
    tu_path(path, sizeof(path), dir, "ok.yml");
    assert_int_equal(tu_write(path, full_rule), 0);
    assert_int_equal(ds_rule_load_file(path, &r, &res), 0);
    assert_int_equal(res.reason, DS_LOADED);
    assert_string_equal(r->path, path);
    ds_rule_destroy(r);
    tu_path(path, sizeof(path), dir, "missing.yml");
    assert_int_equal(ds_rule_load_file(path, &r, &res), 0);
    assert_null(r);
    assert_int_equal(res.reason, DS_SKIP_IO);
    assert_non_null(strstr(res.msg, "missing.yml: cannot open: No such file or directory"));
    assert_int_equal(tu_rm_rf(dir), 0);
    ds_rule_destroy(NULL);
}

static void test_reason_table(void **state)
{
    (void)state;
    /* Every code has a distinct name and a class. */
    for (int i = 0; i < DS_REASON_COUNT; i++) {
        assert_string_not_equal(ds_reason_name(i), "?");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ds_reason_name(i), ds_reason_name(j));
    }
    assert_string_equal(ds_reason_name(DS_REASON_COUNT), "?");
    assert_int_equal(ds_reason_class(DS_LOADED), DS_CLASS_LOADED);
    assert_int_equal(ds_reason_class(DS_SKIP_YAML), DS_CLASS_INPUT);
    assert_int_equal(ds_reason_class(DS_SKIP_BAD_CONDITION), DS_CLASS_LANGUAGE);
    assert_int_equal(ds_reason_class(DS_SKIP_CORRELATION), DS_CLASS_SCOPE);
    assert_int_equal(ds_reason_class(DS_SKIP_NOT_LINUX), DS_CLASS_SCOPE);
}

/* ---- the public corpus ---- */

struct corpus {
    unsigned files, by_reason[DS_REASON_COUNT];
    unsigned linux_ls[DS_LS_COUNT], linux_loaded[DS_LS_COUNT], linux_refused[DS_LS_COUNT];
    unsigned generic_loaded; /* no product, a collected category */
    unsigned language_whole_tree;
    size_t rule_bytes, linux_bytes;
    double linux_ms; /* loading the Linux rules of the collected categories */
    char first_refusal[8][600];
    unsigned n_refusals;
};
static struct corpus *corpus_state;

static int corpus_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    size_t n = strlen(path);
    if (flag != FTW_F || !((n > 4 && strcmp(path + n - 4, ".yml") == 0) ||
                           (n > 5 && strcmp(path + n - 5, ".yaml") == 0)))
        return 0;
    struct corpus *c = corpus_state;
    struct ds_rule *r = NULL;
    struct ds_load_result res;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(ds_rule_load_file(path, &r, &res), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (res.linux_product && res.logsource != DS_LS_NONE) {
        c->linux_ms +=
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        if (r)
            c->linux_bytes += r->arena.used;
    }
    c->files++;
    assert_true(res.reason >= 0 && res.reason < DS_REASON_COUNT);
    c->by_reason[res.reason]++;
    int cls = ds_reason_class(res.reason);
    if (cls == DS_CLASS_LANGUAGE)
        c->language_whole_tree++;
    if (r) {
        c->rule_bytes += r->arena.used;
        if (!res.linux_product)
            c->generic_loaded++;
    }
    if (res.linux_product) {
        c->linux_ls[res.logsource]++;
        if (r)
            c->linux_loaded[res.logsource]++;
        else if (res.logsource != DS_LS_NONE && cls != DS_CLASS_SCOPE) {
            c->linux_refused[res.logsource]++;
            if (c->n_refusals < 8)
                snprintf(c->first_refusal[c->n_refusals++], sizeof(c->first_refusal[0]), "%s: %s",
                         ds_reason_name(res.reason), res.msg);
        }
    }
    ds_rule_destroy(r);
    return 0;
}

static void test_corpus_load(void **state)
{
    (void)state;
    const char *dir = getenv("RP_SIGMA_CORPUS");
    if (!dir || !*dir)
        dir = RP_SIGMA_CORPUS;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        char why[600];
        snprintf(why, sizeof(why),
                 "no Sigma corpus at %s (set RP_SIGMA_CORPUS to the SigmaHQ rules tree)", dir);
        tu_skip(why);
    }
    struct corpus *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    corpus_state = c;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(nftw(dir, corpus_visit, 16, FTW_PHYS), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;

    printf("sigma corpus %s: %u files in %.1f ms (%.1f us/file)\n", dir, c->files, ms,
           c->files ? ms * 1e3 / c->files : 0.0);
    printf("  memory of the loaded rules: %zu KiB (arenas)\n", c->rule_bytes / 1024);
    printf("  Linux rules of the collected categories: %.1f ms to load, %zu KiB\n", c->linux_ms,
           c->linux_bytes / 1024);
    for (int i = 0; i < DS_REASON_COUNT; i++)
        if (c->by_reason[i])
            printf("  %-24s %u\n", ds_reason_name(i), c->by_reason[i]);
    printf("  refused for the language, whole tree: %u\n", c->language_whole_tree);
    printf("  loaded without a product (generic rules): %u\n", c->generic_loaded);
    printf("  product linux, by category:  rules  loaded  refused (language or input)\n");
    for (int i = 0; i < DS_LS_COUNT; i++)
        printf("    %-26s %5u  %6u  %u\n", i ? ds_logsource_name(i) : "(other, not collected)",
               c->linux_ls[i], c->linux_loaded[i], c->linux_refused[i]);
    for (unsigned i = 0; i < c->n_refusals; i++)
        printf("  refused: %s\n", c->first_refusal[i]);
    fflush(stdout);

    /* The tree is there and was read: SigmaHQ holds over a thousand rules. */
    assert_true(c->files > 1000);
    unsigned total = 0;
    for (int i = 0; i < DS_REASON_COUNT; i++)
        total += c->by_reason[i];
    assert_int_equal(total, c->files);
    assert_int_equal(c->by_reason[DS_SKIP_IO], 0);
    /* Every Linux rule of the collected categories loads. */
    assert_true(c->linux_ls[DS_LS_PROCESS_CREATION] > 0);
    for (int i = DS_LS_NONE + 1; i < DS_LS_COUNT; i++) {
        assert_int_equal(c->linux_refused[i], 0);
        assert_int_equal(c->linux_loaded[i], c->linux_ls[i]);
    }
    free(c);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_rule),        cmocka_unit_test(test_condition_grammar),
        cmocka_unit_test(test_condition_errors), cmocka_unit_test(test_condition_in_rule),
        cmocka_unit_test(test_modifiers),        cmocka_unit_test(test_modifiers_in_rule),
        cmocka_unit_test(test_detection_errors), cmocka_unit_test(test_fields_and_kinds),
        cmocka_unit_test(test_yaml_and_caps),    cmocka_unit_test(test_reason_table),
        cmocka_unit_test(test_corpus_load),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
