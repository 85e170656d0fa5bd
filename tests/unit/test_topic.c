/* tests/unit/test_topic.c - topic names, interning and subscription patterns. */
#include "runtime/topic.h"

#include <rampart/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static int valid(const char *s)
{
    return rp__topic_valid(s, strlen(s));
}

static int pvalid(const char *s)
{
    return rp__topic_pattern_valid(s, strlen(s));
}

static int match(const char *pattern, const char *topic)
{
    return rp__topic_matches(pattern, strlen(pattern), topic);
}

static void test_topic_names(void **state)
{
    (void)state;
    assert_true(valid("alert"));
    assert_true(valid("process.exec"));
    assert_true(valid("file.x.y"));
    assert_true(valid("agent_health.v2"));
    assert_false(valid(""));
    assert_false(valid("."));
    assert_false(valid(".."));
    assert_false(valid("file."));
    assert_false(valid(".file"));
    assert_false(valid("file..create"));
    assert_false(valid("File.create"));
    assert_false(valid("file-create"));
    assert_false(valid("file create"));
    assert_false(valid("file*"));
    assert_false(valid("*"));
    assert_false(rp__topic_valid(NULL, 3));

    char name[RP__TOPIC_NAME_MAX + 2];
    memset(name, 'a', sizeof name);
    assert_true(rp__topic_valid(name, RP__TOPIC_NAME_MAX));
    assert_false(rp__topic_valid(name, RP__TOPIC_NAME_MAX + 1));
    /* The length is what counts, not a terminator. */
    assert_true(rp__topic_valid("process.exec_trailing", 12));
}

static void test_topic_intern(void **state)
{
    (void)state;
    uint32_t a = 0, b = 0, c = 0;
    assert_int_equal(rp__topic_intern("test.intern.a", 13, &a), 0);
    assert_int_equal(rp__topic_intern("test.intern.b", 13, &b), 0);
    assert_true(a >= 1);
    assert_int_not_equal(a, b);
    /* Same name, same id; the name need not be terminated. */
    assert_int_equal(rp__topic_intern("test.intern.a.more", 13, &c), 0);
    assert_int_equal(a, c);
    assert_string_equal(rp__topic_name(a), "test.intern.a");
    assert_string_equal(rp__topic_name(b), "test.intern.b");
    assert_null(rp__topic_name(0));
    assert_null(rp__topic_name(rp__topic_count() + 1));
    assert_true(rp__topic_count() >= 2);
    assert_int_equal(rp__topic_intern("Bad.Name", 8, &c), RP_ERR_INVAL);
    assert_int_equal(rp__topic_intern("", 0, &c), RP_ERR_INVAL);
    assert_int_equal(rp__topic_intern("x", 1, NULL), RP_ERR_INVAL);
}

static void test_topic_patterns(void **state)
{
    (void)state;
    assert_true(pvalid("*"));
    assert_true(pvalid("file.*"));
    assert_true(pvalid("file.create"));
    assert_true(pvalid("a.b.*"));
    assert_false(pvalid(""));
    assert_false(pvalid("file*"));
    assert_false(pvalid(".."));
    assert_false(pvalid(".*"));
    assert_false(pvalid("*.create"));
    assert_false(pvalid("file.*.create"));
    assert_false(pvalid("file.**"));
    assert_false(pvalid("**"));
    assert_false(pvalid("File.*"));
    assert_false(pvalid("file..*"));
    char p[RP__TOPIC_NAME_MAX + 3];
    memset(p, 'a', sizeof p);
    p[RP__TOPIC_NAME_MAX - 2] = '.';
    p[RP__TOPIC_NAME_MAX - 1] = '*';
    assert_true(rp__topic_pattern_valid(p, RP__TOPIC_NAME_MAX));
    p[RP__TOPIC_NAME_MAX - 1] = 'a';
    p[RP__TOPIC_NAME_MAX] = '.';
    p[RP__TOPIC_NAME_MAX + 1] = '*';
    assert_false(rp__topic_pattern_valid(p, RP__TOPIC_NAME_MAX + 2));
}

static void test_topic_matching(void **state)
{
    (void)state;
    assert_true(match("process.exec", "process.exec"));
    assert_false(match("process.exec", "process.exit"));
    assert_false(match("process.exec", "process.exec.child"));
    assert_false(match("process.exec", "process"));

    assert_true(match("file.*", "file.create"));
    assert_true(match("file.*", "file.x.y"));
    assert_false(match("file.*", "file"));
    assert_false(match("file.*", "filex.create"));
    assert_false(match("file.*", "network.connect"));

    assert_true(match("*", "alert"));
    assert_true(match("*", "file.create"));

    /* Invalid patterns or topics match nothing. */
    assert_false(match("file*", "file.create"));
    assert_false(match("file*", "filex"));
    assert_false(match("", "alert"));
    assert_false(match("*", ""));
    assert_false(match("*", "Bad"));
    assert_false(rp__topic_matches("*", 1, NULL));
}

/* Last: it uses up the process-wide id space. */
static void test_topic_full(void **state)
{
    (void)state;
    char name[32];
    uint32_t id = 0;
    int rc = 0;
    for (unsigned i = 0; i <= RP__TOPIC_MAX && rc == 0; i++) {
        int n = snprintf(name, sizeof name, "fill.t%u", i);
        rc = rp__topic_intern(name, (size_t)n, &id);
    }
    assert_int_equal(rc, RP_ERR_FULL);
    assert_int_equal(rp__topic_count(), RP__TOPIC_MAX);
    /* Known names still resolve when full. */
    assert_int_equal(rp__topic_intern("test.intern.a", 13, &id), 0);
    assert_string_equal(rp__topic_name(id), "test.intern.a");
    assert_string_equal(rp__topic_name(RP__TOPIC_MAX), "fill.t1021");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topic_names),    cmocka_unit_test(test_topic_intern),
        cmocka_unit_test(test_topic_patterns), cmocka_unit_test(test_topic_matching),
        cmocka_unit_test(test_topic_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
