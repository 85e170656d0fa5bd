/*
 * tests/unit/test_rules_events.c - the events of `rampartctl rules test`
 * (tools/rampartctl/rules_events.c): the bounded NDJSON line reader (CRLF,
 * a last line without newline, a line past the cap skipped up to its
 * newline) and the view the Sigma engine reads an event through (flat
 * dotted keys, nested objects and their mixes, numbers, booleans, arrays,
 * null, every string value for keyword rules).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules_events.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A FILE holding text[0..len). */
static FILE *file_of(const char *text, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    rewind(f);
    return f;
}

static void expect_line(rp__ctl_lines *r, const char *want, uint64_t lineno)
{
    char *line;
    size_t len;
    assert_int_equal(rp__ctl_lines_next(r, &line, &len), 1);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(line, want, len);
    assert_int_equal(line[len], '\0');
    assert_int_equal(r->lineno, lineno);
}

static void test_lines(void **state)
{
    (void)state;
    static const char text[] = "a\r\n\nbc\n{\"x\":1}";
    FILE *f = file_of(text, sizeof text - 1);
    rp__ctl_lines r;
    assert_int_equal(rp__ctl_lines_init(&r, f), 0);
    expect_line(&r, "a", 1);
    expect_line(&r, "", 2);
    expect_line(&r, "bc", 3);
    expect_line(&r, "{\"x\":1}", 4); /* the last line has no newline */
    char *line;
    size_t len;
    assert_int_equal(rp__ctl_lines_next(&r, &line, &len), 0);
    assert_int_equal(rp__ctl_lines_next(&r, &line, &len), 0);
    rp__ctl_lines_free(&r);
    fclose(f);
}

static void test_line_cap(void **state)
{
    (void)state;
    /* A line of exactly the cap is read; one byte more is refused and
     * skipped, across several reads, and the next line is whole. */
    size_t n = 2 * RP__CTL_LINE_MAX + 64;
    char *text = malloc(n);
    assert_non_null(text);
    size_t at = 0;
    memset(text, 'a', RP__CTL_LINE_MAX);
    at += RP__CTL_LINE_MAX;
    text[at++] = '\n';
    memset(text + at, 'b', RP__CTL_LINE_MAX + 1);
    at += RP__CTL_LINE_MAX + 1;
    text[at++] = '\n';
    memcpy(text + at, "next\n", 5);
    at += 5;
    FILE *f = file_of(text, at);
    rp__ctl_lines r;
    assert_int_equal(rp__ctl_lines_init(&r, f), 0);
    char *line;
    size_t len;
    assert_int_equal(rp__ctl_lines_next(&r, &line, &len), 1);
    assert_int_equal(len, RP__CTL_LINE_MAX);
    assert_int_equal(rp__ctl_lines_next(&r, &line, &len), RP_ERR_RANGE);
    assert_int_equal(r.lineno, 2);
    expect_line(&r, "next", 3);
    assert_int_equal(rp__ctl_lines_next(&r, &line, &len), 0);
    rp__ctl_lines_free(&r);
    fclose(f);
    free(text);
}

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *doc = json_loads(text, JSON_ALLOW_NUL, &err);
    assert_non_null(doc);
    return doc;
}

static void test_lookup(void **state)
{
    (void)state;
    json_t *doc = parse("{\"process.executable\":\"/flat\","
                        "\"process\":{\"executable\":\"/nested\",\"parent\":{\"name\":\"sh\"},"
                        "\"parent.pid\":7},"
                        "\"a.b\":{\"c\":\"mixed\"},"
                        "\"event\":\"not an object\"}");
    const json_t *v;
    /* The exact key wins over the nested path. */
    v = rp__ctl_json_lookup(doc, "process.executable", 18);
    assert_string_equal(json_string_value(v), "/flat");
    v = rp__ctl_json_lookup(doc, "process.parent.name", 19);
    assert_string_equal(json_string_value(v), "sh");
    /* A dotted key inside a nested object. */
    v = rp__ctl_json_lookup(doc, "process.parent.pid", 18);
    assert_int_equal(json_integer_value(v), 7);
    v = rp__ctl_json_lookup(doc, "a.b.c", 5);
    assert_string_equal(json_string_value(v), "mixed");
    assert_null(rp__ctl_json_lookup(doc, "event.id", 8));
    assert_null(rp__ctl_json_lookup(doc, "process.nothing", 15));
    assert_null(rp__ctl_json_lookup(doc, "process.", 8));
    json_decref(doc);
}

static void expect_get(struct ds_view *view, uint32_t slot, const char *want)
{
    const char *v = NULL;
    size_t len = 0;
    int got = view->get(view->ctx, slot, &v, &len);
    if (!want) {
        assert_int_equal(got, 0);
        return;
    }
    assert_int_equal(got, 1);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(v, want, len);
}

static void test_view_get(void **state)
{
    (void)state;
    static const char *const slots[] = {"s",   "i",      "neg",         "real",  "tenth",
                                        "t",   "f",      "arr",         "empty", "nul",
                                        "obj", "absent", "nested.deep", "nul_in"};
    rp__ctl_event e;
    assert_int_equal(rp__ctl_event_init(&e, slots, 14), 0);
    json_t *doc = parse("{\"s\":\"text\",\"i\":4444,\"neg\":-12,\"real\":1.5,\"tenth\":0.1,"
                        "\"t\":true,\"f\":false,\"arr\":[\"sh\",\"-c\",3,true,null,{},[\"x\"]],"
                        "\"empty\":[],\"nul\":null,\"obj\":{\"a\":1},"
                        "\"nested\":{\"deep\":\"d\"},\"nul_in\":\"a\\u0000b\"}");
    struct ds_view view;
    rp__ctl_event_set(&e, doc, &view);
    expect_get(&view, 0, "text");
    expect_get(&view, 1, "4444");
    expect_get(&view, 2, "-12");
    expect_get(&view, 3, "1.5");
    expect_get(&view, 4, "0.1");
    expect_get(&view, 5, "true");
    expect_get(&view, 6, "false");
    expect_get(&view, 7, "sh -c 3 true");
    expect_get(&view, 8, "");
    expect_get(&view, 9, NULL);
    expect_get(&view, 10, NULL);
    expect_get(&view, 11, NULL);
    expect_get(&view, 12, "d");
    const char *v;
    size_t len;
    assert_int_equal(view.get(view.ctx, 13, &v, &len), 1);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "a\0b", 3);
    assert_int_equal(view.get(view.ctx, 14, &v, &len), 0); /* past the slots */
    json_decref(doc);

    /* The next event reuses the buffers; values are its own. */
    doc = parse("{\"i\":7,\"arr\":[\"one\"]}");
    rp__ctl_event_set(&e, doc, &view);
    expect_get(&view, 1, "7");
    expect_get(&view, 7, "one");
    expect_get(&view, 0, NULL);
    json_decref(doc);
    rp__ctl_event_free(&e);
}

static void test_view_strings(void **state)
{
    (void)state;
    rp__ctl_event e;
    assert_int_equal(rp__ctl_event_init(&e, NULL, 0), 0);
    json_t *doc = parse("{\"a\":\"one\",\"n\":5,\"b\":{\"c\":[\"two\",{\"d\":\"three\"}]},"
                        "\"e\":\"four\"}");
    struct ds_view view;
    rp__ctl_event_set(&e, doc, &view);
    static const char *const want[] = {"one", "two", "three", "four"};
    const char *v;
    size_t len;
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(view.string_at(view.ctx, i, &v, &len), 1);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(v, want[i], len);
    }
    assert_int_equal(view.string_at(view.ctx, 4, &v, &len), 0);
    json_decref(doc);

    /* The next event's strings, not the last one's. */
    doc = parse("{\"x\":\"only\"}");
    rp__ctl_event_set(&e, doc, &view);
    assert_int_equal(view.string_at(view.ctx, 0, &v, &len), 1);
    assert_memory_equal(v, "only", 4);
    assert_int_equal(view.string_at(view.ctx, 1, &v, &len), 0);
    json_decref(doc);

    /* Nesting past RP__CTL_NEST_MAX is not searched (and does not
     * recurse without bound). */
    char deep[4096];
    size_t at = 0;
    for (unsigned i = 0; i < RP__CTL_NEST_MAX + 10; i++)
        deep[at++] = '[';
    at += (size_t)snprintf(deep + at, sizeof deep - at, "\"hidden\"");
    for (unsigned i = 0; i < RP__CTL_NEST_MAX + 10; i++)
        deep[at++] = ']';
    deep[at] = '\0';
    char text[4200];
    snprintf(text, sizeof text, "{\"shallow\":\"seen\",\"deep\":%s}", deep);
    doc = parse(text);
    rp__ctl_event_set(&e, doc, &view);
    assert_int_equal(view.string_at(view.ctx, 0, &v, &len), 1);
    assert_memory_equal(v, "seen", 4);
    assert_int_equal(view.string_at(view.ctx, 1, &v, &len), 0);
    json_decref(doc);
    rp__ctl_event_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),        cmocka_unit_test(test_line_cap),
        cmocka_unit_test(test_lookup),       cmocka_unit_test(test_view_get),
        cmocka_unit_test(test_view_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
