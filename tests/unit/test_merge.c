/* tests/unit/test_merge.c - RFC 7386 JSON merge patch (core/lib/json_merge.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/json_merge.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!v)
        fail_msg("test data is not JSON: %s: %s", text, jerr.text);
    return v;
}

/* Applies patch to target (NULL: absent) and checks the result equals want,
 * and that neither input changed. */
static void check_merge(const char *target_text, const char *patch_text, const char *want_text)
{
    json_t *target = target_text ? parse(target_text) : NULL;
    json_t *target_copy = target ? json_deep_copy(target) : NULL;
    json_t *patch = parse(patch_text);
    json_t *patch_copy = json_deep_copy(patch);
    json_t *want = parse(want_text);

    json_t *got = rp__json_merge_patch(target, patch);
    assert_non_null(got);
    if (!json_equal(got, want)) {
        char *s = json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("merge %s + %s: expected %s, got %s", target_text ? target_text : "(none)",
                 patch_text, want_text, s ? s : "?");
    }
    if (target)
        assert_true(json_equal(target, target_copy));
    assert_true(json_equal(patch, patch_copy));
    /* The result shares nothing with the inputs: changing it leaves them alone. */
    if (json_is_object(got)) {
        json_object_clear(got);
        if (target)
            assert_true(json_equal(target, target_copy));
        assert_true(json_equal(patch, patch_copy));
    }

    json_decref(got);
    json_decref(want);
    json_decref(patch_copy);
    json_decref(patch);
    json_decref(target_copy);
    json_decref(target);
}

/* RFC 7386, Appendix A: the 15 example test cases, in order. */
static const struct {
    const char *target, *patch, *result;
} rfc7386[] = {
    {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
    {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
    {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
    {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
    {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
    {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
    {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
    {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
    {"{\"a\":\"foo\"}", "null", "null"},
    {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
    {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
    {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
    {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
};

static void test_rfc7386_appendix_a(void **state)
{
    (void)state;
    size_t n = sizeof rfc7386 / sizeof rfc7386[0];
    assert_int_equal(n, 15);
    for (size_t i = 0; i < n; i++)
        check_merge(rfc7386[i].target, rfc7386[i].patch, rfc7386[i].result);
}

static void test_null_target_is_absent(void **state)
{
    (void)state;
    /* An absent target behaves as a non-object: the result is built from the
     * patch alone, and nulls in the patch delete nothing and are dropped. */
    check_merge(NULL, "{\"a\":1,\"b\":null,\"c\":{\"d\":null,\"e\":2}}",
                "{\"a\":1,\"c\":{\"e\":2}}");
    check_merge(NULL, "[1,2]", "[1,2]");
    check_merge(NULL, "\"x\"", "\"x\"");
    check_merge(NULL, "{}", "{}");
}

static void test_nested_deletes(void **state)
{
    (void)state;
    const char *target = "{\"agent\":{\"data_dir\":\"/d\",\"log_level\":\"info\"},"
                         "\"plugins\":{\"proc\":{\"enabled\":true,\"file\":\"proc.so\","
                         "\"config\":{\"x\":1,\"y\":[1,2]}},\"net\":{\"enabled\":false}}}";
    /* Delete at depth 3, keep the siblings. */
    check_merge(target, "{\"plugins\":{\"proc\":{\"config\":{\"x\":null}}}}",
                "{\"agent\":{\"data_dir\":\"/d\",\"log_level\":\"info\"},"
                "\"plugins\":{\"proc\":{\"enabled\":true,\"file\":\"proc.so\","
                "\"config\":{\"y\":[1,2]}},\"net\":{\"enabled\":false}}}");
    /* Delete a whole subtree and set a sibling in the same patch. */
    check_merge(target, "{\"plugins\":{\"proc\":null,\"net\":{\"enabled\":true}}}",
                "{\"agent\":{\"data_dir\":\"/d\",\"log_level\":\"info\"},"
                "\"plugins\":{\"net\":{\"enabled\":true}}}");
    /* Deleting keys that do not exist changes nothing. */
    check_merge(target, "{\"nope\":null,\"agent\":{\"nope\":null}}", target);
    /* Delete everything at depth 2, leaving an empty object. */
    check_merge(target, "{\"agent\":{\"data_dir\":null,\"log_level\":null}}",
                "{\"agent\":{},\"plugins\":{\"proc\":{\"enabled\":true,\"file\":\"proc.so\","
                "\"config\":{\"x\":1,\"y\":[1,2]}},\"net\":{\"enabled\":false}}}");
}

static void test_patch_replaces_non_objects(void **state)
{
    (void)state;
    /* An object patch over a scalar member makes a new object. */
    check_merge("{\"a\":5}", "{\"a\":{\"b\":1,\"c\":null}}", "{\"a\":{\"b\":1}}");
    /* Arrays are replaced, never merged element by element. */
    check_merge("{\"a\":[1,2,3]}", "{\"a\":[]}", "{\"a\":[]}");
    /* An empty patch is the identity. */
    check_merge("{\"a\":{\"b\":[1,{\"c\":null}]}}", "{}", "{\"a\":{\"b\":[1,{\"c\":null}]}}");
    /* Nulls inside arrays of the patch are values, not deletions. */
    check_merge("{}", "{\"a\":[null,{\"b\":null}]}", "{\"a\":[null,{\"b\":null}]}");
}

static void test_inputs_not_modified_deep(void **state)
{
    (void)state;
    json_t *target = parse("{\"a\":{\"b\":{\"c\":1,\"d\":2}},\"e\":[1]}");
    json_t *patch = parse("{\"a\":{\"b\":{\"c\":null,\"x\":{\"y\":null}}},\"e\":null}");
    json_t *got = rp__json_merge_patch(target, patch);
    assert_non_null(got);
    /* The nested object in the target is untouched: c is still there. */
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(json_object_get(target, "a"), "b"), "c")),
                     1);
    assert_non_null(json_object_get(target, "e"));
    /* The result owns fresh nested objects, not the target's. */
    assert_ptr_not_equal(json_object_get(got, "a"), json_object_get(target, "a"));
    json_t *want = parse("{\"a\":{\"b\":{\"d\":2,\"x\":{}}}}");
    assert_true(json_equal(got, want));
    json_decref(want);
    json_decref(got);
    json_decref(patch);
    json_decref(target);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* 1000 levels: well within jansson's parser cap, and the recursion copes. */
    enum { DEPTH = 1000 };
    size_t len = DEPTH * 6 + 16;
    char *text = malloc(len);
    assert_non_null(text);
    size_t pos = 0;
    for (int i = 0; i < DEPTH; i++)
        pos += (size_t)snprintf(text + pos, len - pos, "{\"a\":");
    pos += (size_t)snprintf(text + pos, len - pos, "null");
    for (int i = 0; i < DEPTH; i++)
        text[pos++] = '}';
    text[pos] = '\0';
    json_t *patch = parse(text);
    json_t *got = rp__json_merge_patch(patch, patch);
    assert_non_null(got);
    /* The innermost null deletes "a" at the bottom: one level less of "a". */
    const json_t *v = got;
    int levels = 0;
    while (json_is_object(v) && json_object_get(v, "a")) {
        v = json_object_get(v, "a");
        levels++;
    }
    assert_int_equal(levels, DEPTH - 1);
    assert_int_equal(json_object_size(v), 0);
    json_decref(got);
    json_decref(patch);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc7386_appendix_a),
        cmocka_unit_test(test_null_target_is_absent),
        cmocka_unit_test(test_nested_deletes),
        cmocka_unit_test(test_patch_replaces_non_objects),
        cmocka_unit_test(test_inputs_not_modified_deep),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
