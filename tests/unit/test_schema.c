/* tests/unit/test_schema.c - the JSON Schema subset of core/lib/schema.c and its messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "lib/schema.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!v)
        fail_msg("test data is not JSON: %s: %s", text, jerr.text);
    return v;
}

static void expect_valid(const char *schema_text, const char *doc_text)
{
    json_t *schema = parse(schema_text), *doc = parse(doc_text);
    rp__schema_error err;
    assert_int_equal(rp__schema_check(schema, &err), 0);
    int rc = rp__schema_validate(schema, doc, &err);
    if (rc != 0)
        fail_msg("%s against %s: unexpected error at \"%s\": %s", doc_text, schema_text, err.path,
                 err.message);
    json_decref(doc);
    json_decref(schema);
}

/* The document is invalid: the first error has exactly this path and message. */
static void expect_invalid(const char *schema_text, const char *doc_text, const char *path,
                           const char *message)
{
    json_t *schema = parse(schema_text), *doc = parse(doc_text);
    rp__schema_error err;
    assert_int_equal(rp__schema_check(schema, &err), 0);
    int rc = rp__schema_validate(schema, doc, &err);
    if (rc != RP_ERR_CONFIG)
        fail_msg("%s against %s: expected RP_ERR_CONFIG, got %d", doc_text, schema_text, rc);
    assert_string_equal(err.path, path);
    assert_string_equal(err.message, message);
    assert_int_equal(err.schema_is_broken, 0);
    /* The segments name the same path. */
    char again[512];
    rp__json_path_format(err.segv, err.depth, again, sizeof again);
    assert_string_equal(again, path);
    json_decref(doc);
    json_decref(schema);
}

/* The schema itself is refused by rp__schema_check with this message. */
static void expect_bad_schema(const char *schema_text, const char *message)
{
    json_t *schema = parse(schema_text);
    rp__schema_error err;
    int rc = rp__schema_check(schema, &err);
    if (rc != RP_ERR_INVAL)
        fail_msg("schema %s: expected RP_ERR_INVAL, got %d", schema_text, rc);
    assert_string_equal(err.message, message);
    assert_int_equal(err.schema_is_broken, 1);
    json_decref(schema);
}

static void test_type_single(void **state)
{
    (void)state;
    expect_valid("{\"type\":\"boolean\"}", "true");
    expect_valid("{\"type\":\"boolean\"}", "false");
    expect_valid("{\"type\":\"string\"}", "\"\"");
    expect_valid("{\"type\":\"object\"}", "{}");
    expect_valid("{\"type\":\"array\"}", "[]");
    expect_valid("{\"type\":\"null\"}", "null");
    expect_valid("{\"type\":\"integer\"}", "-3");
    /* number accepts integers and reals; integer only integers. */
    expect_valid("{\"type\":\"number\"}", "3");
    expect_valid("{\"type\":\"number\"}", "2.5");
    expect_invalid("{\"type\":\"boolean\"}", "\"yes\"", "", "expected boolean, got string \"yes\"");
    expect_invalid("{\"type\":\"integer\"}", "1.5", "", "expected integer, got number 1.5");
    expect_invalid("{\"type\":\"string\"}", "5", "", "expected string, got integer 5");
    expect_invalid("{\"type\":\"object\"}", "[1]", "", "expected object, got array");
    expect_invalid("{\"type\":\"array\"}", "{}", "", "expected array, got object");
    expect_invalid("{\"type\":\"null\"}", "false", "", "expected null, got boolean false");
    expect_invalid("{\"type\":\"boolean\"}", "null", "", "expected boolean, got null");
    expect_invalid("{\"type\":\"number\"}", "\"1\"", "", "expected number, got string \"1\"");
}

static void test_type_array(void **state)
{
    (void)state;
    expect_valid("{\"type\":[\"string\",\"null\"]}", "null");
    expect_valid("{\"type\":[\"string\",\"null\"]}", "\"x\"");
    expect_invalid("{\"type\":[\"string\",\"null\"]}", "5", "",
                   "expected string or null, got integer 5");
    expect_invalid("{\"type\":[\"string\",\"integer\",\"null\"]}", "true", "",
                   "expected string, integer or null, got boolean true");
    expect_invalid("{\"type\":[\"integer\"]}", "0.5", "", "expected integer, got number 0.5");
}

static void test_enum(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"string\",\"enum\":[\"error\",\"warn\",\"info\",\"debug\"]}";
    expect_valid(s, "\"warn\"");
    expect_invalid(s, "\"loud\"", "",
                   "expected one of \"error\", \"warn\", \"info\", \"debug\", got string \"loud\"");
    /* Case matters. */
    expect_invalid(s, "\"INFO\"", "",
                   "expected one of \"error\", \"warn\", \"info\", \"debug\", got string \"INFO\"");
    /* Mixed values compare as JSON. */
    expect_valid("{\"enum\":[1,null,[2]]}", "[2]");
    expect_valid("{\"enum\":[1,null,[2]]}", "null");
    expect_invalid("{\"enum\":[1,null,[2]]}", "2", "",
                   "expected one of 1, null, [2], got integer 2");
}

static void test_required(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"object\",\"required\":[\"enabled\",\"file\"]}";
    expect_valid(s, "{\"enabled\":true,\"file\":\"x\",\"other\":1}");
    expect_invalid(s, "{\"file\":\"x\"}", "enabled", "required key missing");
    expect_invalid(s, "{\"enabled\":true}", "file", "required key missing");
    /* A present null counts as present: types are the type keyword's job. */
    expect_valid(s, "{\"enabled\":null,\"file\":null}");
    /* Nested: the path names the missing key under its parent. */
    expect_invalid("{\"properties\":{\"agent\":{\"required\":[\"data_dir\"]}}}", "{\"agent\":{}}",
                   "agent.data_dir", "required key missing");
}

static const char *plugin_entry =
    "{\"type\":\"object\",\"additionalProperties\":false,"
    "\"properties\":{\"enabled\":{\"type\":\"boolean\"},\"file\":{\"type\":\"string\"},"
    "\"config\":{\"type\":\"object\"}}}";

static void test_additional_properties_false(void **state)
{
    (void)state;
    expect_valid(plugin_entry, "{\"enabled\":true,\"file\":\"a.so\"}");
    /* A close typo gets a hint. */
    expect_invalid(plugin_entry, "{\"enabeld\":true}", "enabeld",
                   "unknown key; did you mean \"enabled\"? (allowed: enabled, file, config)");
    expect_invalid(plugin_entry, "{\"confg\":{}}", "confg",
                   "unknown key; did you mean \"config\"? (allowed: enabled, file, config)");
    expect_invalid(plugin_entry, "{\"File\":\"a.so\"}", "File",
                   "unknown key; did you mean \"file\"? (allowed: enabled, file, config)");
    /* Far from every allowed key: no hint. */
    expect_invalid(plugin_entry, "{\"priority\":1}", "priority",
                   "unknown key (allowed: enabled, file, config)");
    /* No properties at all. */
    expect_invalid("{\"additionalProperties\":false}", "{\"x\":1}", "x",
                   "unknown key (no keys are allowed here)");
    expect_valid("{\"additionalProperties\":false}", "{}");
    /* Nested: the path leads to the unknown key. */
    expect_invalid("{\"properties\":{\"plugins\":{\"additionalProperties\":{\"type\":\"object\","
                   "\"additionalProperties\":false,\"properties\":{\"enabled\":{}}}}}}",
                   "{\"plugins\":{\"proc\":{\"enable\":true}}}", "plugins.proc.enable",
                   "unknown key; did you mean \"enabled\"? (allowed: enabled)");
}

static void test_additional_properties_schema(void **state)
{
    (void)state;
    const char *s = "{\"additionalProperties\":{\"type\":\"integer\"},"
                    "\"properties\":{\"name\":{\"type\":\"string\"}}}";
    expect_valid(s, "{\"name\":\"n\",\"a\":1,\"b\":2}");
    expect_invalid(s, "{\"name\":\"n\",\"a\":\"x\"}", "a", "expected integer, got string \"x\"");
    /* additionalProperties true (or absent) lets anything through. */
    expect_valid("{\"additionalProperties\":true}", "{\"a\":[1,{\"b\":null}]}");
    expect_valid("{\"type\":\"object\"}", "{\"a\":[1,{\"b\":null}]}");
}

static void test_property_names(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"object\",\"propertyNames\":{\"type\":\"string\",\"format\":"
                    "\"name\",\"maxLength\":8},\"additionalProperties\":{\"type\":\"object\"}}";
    const char *name_rule = "invalid key: expected a name of letters, digits, '_', '-' and '.' "
                            "that does not start with '.' or '-' and has no \"..\", got ";
    char want[512];
    expect_valid(s, "{\"proc\":{},\"net-1\":{},\"a.b_c\":{}}");
    snprintf(want, sizeof want, "%sstring \"bad/name\"", name_rule);
    expect_invalid(s, "{\"bad/name\":{}}", "[\"bad/name\"]", want);
    snprintf(want, sizeof want, "%sstring \".hidden\"", name_rule);
    expect_invalid(s, "{\".hidden\":{}}", "[\".hidden\"]", want);
    snprintf(want, sizeof want, "%sstring \"a..b\"", name_rule);
    expect_invalid(s, "{\"a..b\":{}}", "[\"a..b\"]", want);
    snprintf(want, sizeof want, "%sstring \"\"", name_rule);
    expect_invalid(s, "{\"\":{}}", "[\"\"]", want);
    expect_invalid(s, "{\"abcdefghi\":{}}", "abcdefghi",
                   "invalid key: expected a string of at most 8 bytes, got string \"abcdefghi\"");
    /* The key is checked before its value. */
    snprintf(want, sizeof want, "%sstring \"-x\"", name_rule);
    expect_invalid(s, "{\"-x\":5}", "-x", want);
}

static void test_items_and_counts(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"array\",\"minItems\":1,\"maxItems\":3,"
                    "\"items\":{\"type\":\"string\"}}";
    expect_valid(s, "[\"a\"]");
    expect_valid(s, "[\"a\",\"b\",\"c\"]");
    expect_invalid(s, "[]", "", "expected at least 1 item(s), got 0");
    expect_invalid(s, "[\"a\",\"b\",\"c\",\"d\"]", "", "expected at most 3 item(s), got 4");
    expect_invalid(s, "[\"a\",\"b\",7]", "[2]", "expected string, got integer 7");
    expect_valid("{\"items\":{\"type\":\"integer\"}}", "[]");
}

static void test_paths(void **state)
{
    (void)state;
    const char *s = "{\"properties\":{\"a\":{\"properties\":{\"b\":{\"items\":{\"properties\":"
                    "{\"c\":{\"type\":\"string\"}}}}}}}}";
    expect_invalid(s, "{\"a\":{\"b\":[{},{\"c\":\"ok\"},{\"c\":1}]}}", "a.b[2].c",
                   "expected string, got integer 1");
    /* Keys that are not plain are quoted in brackets. */
    const char *any = "{\"additionalProperties\":{\"additionalProperties\":{\"type\":\"string\"}}}";
    expect_invalid(any, "{\"x.y\":{\"z\":1}}", "[\"x.y\"].z", "expected string, got integer 1");
    expect_invalid(any, "{\"a\":{\"x.y\":1}}", "a[\"x.y\"]", "expected string, got integer 1");
    expect_invalid(any, "{\"a\":{\"sp ace\":1}}", "a[\"sp ace\"]",
                   "expected string, got integer 1");
    expect_invalid(any, "{\"a\":{\"q\\\"b\\\\\":1}}", "a[\"q\\\"b\\\\\"]",
                   "expected string, got integer 1");
    expect_invalid(any, "{\"a\":{\"nl\\n\":1}}", "a[\"nl\\x0a\"]",
                   "expected string, got integer 1");
    /* Plain keys may hold '_', '-' and '@'. */
    expect_invalid(any, "{\"@x\":{\"a_b-c\":1}}", "@x.a_b-c", "expected string, got integer 1");
    /* Arrays of arrays. */
    expect_invalid("{\"items\":{\"items\":{\"type\":\"null\"}}}", "[[null],[null,null,0]]",
                   "[1][2]", "expected null, got integer 0");
}

static void test_path_format(void **state)
{
    (void)state;
    struct rp__json_seg segv[] = {{"plugins", 0}, {"proc", 0}, {NULL, 3}, {"x.y", 0}};
    char buf[64];
    rp__json_path_format(segv, 4, buf, sizeof buf);
    assert_string_equal(buf, "plugins.proc[3][\"x.y\"]");
    rp__json_path_format(segv, 0, buf, sizeof buf);
    assert_string_equal(buf, "");
    /* A short buffer is cut and still terminated. */
    char small[8];
    rp__json_path_format(segv, 4, small, sizeof small);
    assert_string_equal(small, "plugins");
    struct rp__json_seg first_index[] = {{NULL, 0}, {"a", 0}};
    rp__json_path_format(first_index, 2, buf, sizeof buf);
    assert_string_equal(buf, "[0].a");
}

static void test_minimum_maximum(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"number\",\"minimum\":1,\"maximum\":10}";
    expect_valid(s, "1");
    expect_valid(s, "10");
    expect_valid(s, "5.5");
    expect_invalid(s, "0", "", "expected a number >= 1, got integer 0");
    expect_invalid(s, "11", "", "expected a number <= 10, got integer 11");
    expect_invalid(s, "10.5", "", "expected a number <= 10, got number 10.5");
    expect_invalid("{\"minimum\":0.5}", "0.25", "", "expected a number >= 0.5, got number 0.25");
    expect_invalid("{\"maximum\":-1}", "0", "", "expected a number <= -1, got integer 0");
}

static void test_min_max_length(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"string\",\"minLength\":2,\"maxLength\":3}";
    expect_valid(s, "\"ab\"");
    expect_valid(s, "\"abc\"");
    expect_invalid(s, "\"a\"", "", "expected a string of at least 2 byte(s), got string \"a\"");
    expect_invalid(s, "\"abcd\"", "", "expected a string of at most 3 bytes, got string \"abcd\"");
    /* Lengths count bytes: "é" is two. */
    expect_valid(s, "\"\\u00e9\"");
    expect_invalid("{\"maxLength\":1}", "\"\\u00e9\"", "",
                   "expected a string of at most 1 bytes, got string \"\\xc3\\xa9\"");
    expect_invalid("{\"minLength\":1}", "\"\"", "",
                   "expected a string of at least 1 byte(s), got string \"\"");
}

static void test_format_name(void **state)
{
    (void)state;
    const char *s = "{\"type\":\"string\",\"format\":\"name\"}";
    const char *rule = "expected a name of letters, digits, '_', '-' and '.' that does not start "
                       "with '.' or '-' and has no \"..\", got ";
    const char *good[] = {"north", "site-1", "a.b", "A_Z.09", "x", "a.b.c", "x-"};
    const char *bad[] = {"",    ".",      "..",  ".hidden", "-x",          "a..b",
                         "a/b", "../etc", "a b", "a\\b",    "caf\xc3\xa9", "a:b"};
    char doc[64], want[512], got[96];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(doc, sizeof doc, "\"%s\"", good[i]);
        expect_valid(s, doc);
        assert_true(rp__schema_is_name(good[i]));
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_false(rp__schema_is_name(bad[i]));
        json_t *str = json_string(bad[i]);
        assert_non_null(str);
        char *text = json_dumps(str, JSON_ENCODE_ANY);
        rp__json_describe(str, got, sizeof got);
        snprintf(want, sizeof want, "%s%s", rule, got);
        expect_invalid(s, text, "", want);
        free(text);
        json_decref(str);
    }
    assert_false(rp__schema_is_name(NULL));
    /* An embedded NUL cannot hide the rest of the name. */
    snprintf(want, sizeof want, "%sstring \"ok\\x00/..\"", rule);
    expect_invalid(s, "\"ok\\u0000/..\"", "", want);
    /* format applies to strings only. */
    expect_valid("{\"format\":\"name\"}", "5");
}

static void test_false_schema(void **state)
{
    (void)state;
    expect_invalid("{\"properties\":{\"gone\":false}}", "{\"gone\":1}", "gone",
                   "no value is allowed here, got integer 1");
    expect_valid("{\"properties\":{\"gone\":false}}", "{}");
    expect_valid("true", "{\"anything\":[1]}");
}

/* Builds levels nested {"items": ...} around inner into buf. */
static void nested_items(char *buf, size_t len, int levels, const char *inner)
{
    size_t pos = 0;
    for (int i = 0; i < levels; i++)
        pos += (size_t)snprintf(buf + pos, len - pos, "{\"items\":");
    pos += (size_t)snprintf(buf + pos, len - pos, "%s", inner);
    for (int i = 0; i < levels && pos + 1 < len; i++)
        buf[pos++] = '}';
    buf[pos] = '\0';
}

static void test_nesting_limit(void **state)
{
    (void)state;
    /* The document is deeper than the error path can record: a clean error. */
    char doc[256], text[1024];
    size_t pos = 0;
    for (int i = 0; i < 40; i++)
        doc[pos++] = '[';
    for (int i = 0; i < 40; i++)
        doc[pos++] = ']';
    doc[pos] = '\0';
    nested_items(text, sizeof text, 40, "{}");
    json_t *schema = parse(text);
    json_t *d = parse(doc);
    rp__schema_error err;
    assert_int_equal(rp__schema_validate(schema, d, &err), RP_ERR_CONFIG);
    assert_string_equal(err.message, "nesting deeper than 32 levels");
    assert_int_equal(err.depth, RP__SCHEMA_MAX_DEPTH);
    json_decref(d);
    json_decref(schema);
}

static void test_check_unknown_keywords(void **state)
{
    (void)state;
    /* Typos and keywords outside the subset switch nothing off silently. */
    expect_bad_schema("{\"type\":\"string\",\"maxlength\":3}",
                      "schema: unknown keyword \"maxlength\"");
    expect_bad_schema("{\"patternProperties\":{}}",
                      "schema: unknown keyword \"patternProperties\"");
    expect_bad_schema("{\"oneOf\":[]}", "schema: unknown keyword \"oneOf\"");
    expect_bad_schema("{\"$ref\":\"#/x\"}", "schema: unknown keyword \"$ref\"");
    /* Found at any depth. */
    expect_bad_schema("{\"properties\":{\"a\":{\"requierd\":[]}}}",
                      "schema: unknown keyword \"requierd\"");
    expect_bad_schema("{\"items\":{\"additionalProperties\":{\"minimun\":1}}}",
                      "schema: unknown keyword \"minimun\"");
    expect_bad_schema("{\"propertyNames\":{\"fromat\":\"name\"}}",
                      "schema: unknown keyword \"fromat\"");
    /* The annotations are accepted. */
    rp__schema_error err;
    json_t *ok = parse("{\"description\":\"d\",\"default\":1,\"title\":\"t\",\"examples\":[1],"
                       "\"$comment\":\"c\",\"type\":\"integer\"}");
    assert_int_equal(rp__schema_check(ok, &err), 0);
    json_decref(ok);
}

static void test_check_keyword_types(void **state)
{
    (void)state;
    const char *type_msg = "schema: \"type\" must be one of object, array, string, integer, "
                           "number, boolean, null (or an array of them)";
    expect_bad_schema("{\"type\":\"str\"}", type_msg);
    expect_bad_schema("{\"type\":5}", type_msg);
    expect_bad_schema("{\"type\":[\"string\",\"float\"]}", type_msg);
    expect_bad_schema("{\"type\":[\"string\",1]}", type_msg);
    expect_bad_schema("{\"properties\":[]}", "schema: \"properties\" must be an object");
    expect_bad_schema("{\"properties\":{\"a\":5}}", "schema: expected an object or a boolean");
    expect_bad_schema("{\"additionalProperties\":\"no\"}",
                      "schema: expected an object or a boolean");
    expect_bad_schema("{\"items\":[{}]}", "schema: expected an object or a boolean");
    expect_bad_schema("{\"required\":\"a\"}", "schema: \"required\" must be an array");
    expect_bad_schema("{\"required\":[\"a\",1]}", "schema: \"required\" must list strings");
    expect_bad_schema("{\"enum\":{}}", "schema: \"enum\" must be an array");
    expect_bad_schema("{\"minimum\":\"1\"}", "schema: \"minimum\" must be a number");
    expect_bad_schema("{\"maximum\":null}", "schema: \"maximum\" must be a number");
    expect_bad_schema("{\"minLength\":-1}", "schema: \"minLength\" must be a non-negative integer");
    expect_bad_schema("{\"maxLength\":1.5}",
                      "schema: \"maxLength\" must be a non-negative integer");
    expect_bad_schema("{\"minItems\":\"2\"}",
                      "schema: \"minItems\" must be a non-negative integer");
    expect_bad_schema("{\"maxItems\":true}", "schema: \"maxItems\" must be a non-negative integer");
    const char *format_msg = "schema: \"format\" supports only \"name\" and \"absolute-path\"";
    expect_bad_schema("{\"format\":\"email\"}", format_msg);
    expect_bad_schema("{\"format\":1}", format_msg);
    const char *pattern_msg =
        "schema: \"pattern\" must be a POSIX extended regular expression of at most 512 bytes";
    expect_bad_schema("{\"pattern\":\"a(\"}", pattern_msg);
    expect_bad_schema("{\"pattern\":3}", pattern_msg);
    expect_bad_schema("{\"properties\":{\"a\":{\"pattern\":\"[z-a]\"}}}", pattern_msg);
    expect_bad_schema("5", "schema: expected an object or a boolean");
    expect_bad_schema("[]", "schema: expected an object or a boolean");

    /* Nesting in the schema is bounded too. */
    char deep[1024];
    nested_items(deep, sizeof deep, 40, "{}");
    expect_bad_schema(deep, "schema: nested deeper than 32 levels");
}

static void count_one(void *arg, const rp__schema_error *e)
{
    (void)e;
    ++*(int *)arg;
}

static void test_format_absolute_path(void **state)
{
    (void)state;
    const char *schema = "{\"type\":\"string\",\"format\":\"absolute-path\"}";
    expect_valid(schema, "\"/\"");
    expect_valid(schema, "\"/etc\"");
    expect_valid(schema, "\"/var/log/../tmp/\"");
    expect_invalid(schema, "\"tmp\"", "", "expected an absolute path, got string \"tmp\"");
    expect_invalid(schema, "\"./etc\"", "", "expected an absolute path, got string \"./etc\"");
    expect_invalid(schema, "\"\"", "", "expected an absolute path, got string \"\"");
    expect_invalid(schema, "\"~/x\"", "", "expected an absolute path, got string \"~/x\"");
    /* A NUL byte would cut the path the plugin sees. */
    expect_invalid(schema, "\"/etc\\u0000x\"", "",
                   "expected an absolute path, got string \"/etc\\x00x\"");
    /* Only strings are looked at. */
    expect_valid("{\"format\":\"absolute-path\"}", "5");
}

static void test_pattern(void **state)
{
    (void)state;
    const char *schema = "{\"type\":\"string\",\"pattern\":\"^[a-z]+(-[a-z]+)*$\"}";
    expect_valid(schema, "\"north\"");
    expect_valid(schema, "\"north-east\"");
    expect_invalid(schema, "\"North\"", "",
                   "expected a string matching the pattern \"^[a-z]+(-[a-z]+)*$\", got string "
                   "\"North\"");
    expect_invalid(schema, "\"north-\"", "",
                   "expected a string matching the pattern \"^[a-z]+(-[a-z]+)*$\", got string "
                   "\"north-\"");
    /* Not anchored unless it says so, as in JSON Schema. */
    expect_valid("{\"pattern\":\"b\"}", "\"abc\"");
    expect_invalid("{\"pattern\":\"b\"}", "\"ac\"", "",
                   "expected a string matching the pattern \"b\", got string \"ac\"");
    /* A string with a NUL byte never matches. */
    expect_invalid("{\"pattern\":\"^a\"}", "\"a\\u0000\"", "",
                   "expected a string matching the pattern \"^a\", got string \"a\\x00\"");
    /* Inside objects and arrays, with the path. */
    expect_invalid("{\"properties\":{\"p\":{\"items\":{\"pattern\":\"^/\"}}}}",
                   "{\"p\":[\"/a\",\"b\"]}", "p[1]",
                   "expected a string matching the pattern \"^/\", got string \"b\"");
}

struct seen {
    char lines[16][1100];
    int n;
};

static void remember(void *arg, const rp__schema_error *e)
{
    struct seen *s = arg;
    if (s->n < 16)
        snprintf(s->lines[s->n++], sizeof s->lines[0], "%s: %s", e->path, e->message);
}

static void test_validate_all_reports_every_error(void **state)
{
    (void)state;
    json_t *schema =
        parse("{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"a\",\"z\"],"
              "\"properties\":{\"a\":{\"type\":\"integer\",\"minimum\":1},"
              "\"paths\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"format\":\"absolute-"
              "path\"}},"
              "\"o\":{\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"boolean\"},"
              "\"n\":{\"maximum\":5}}},\"z\":{}}}");
    json_t *doc = parse("{\"a\":0,\"paths\":[\"/ok\",\"rel\",7],\"o\":{\"b\":1,\"n\":6},"
                        "\"colour\":1}");
    rp__schema_error err;
    struct seen s = {.n = 0};
    assert_int_equal(rp__schema_check(schema, &err), 0);
    assert_int_equal(rp__schema_validate_all(schema, doc, remember, &s, &err), RP_ERR_CONFIG);
    assert_int_equal(s.n, 7);
    assert_string_equal(s.lines[0], "a: expected a number >= 1, got integer 0");
    assert_string_equal(s.lines[1], "paths[1]: expected an absolute path, got string \"rel\"");
    assert_string_equal(s.lines[2], "paths[2]: expected string, got integer 7");
    assert_string_equal(s.lines[3], "o.b: expected boolean, got integer 1");
    assert_string_equal(s.lines[4], "o.n: expected a number <= 5, got integer 6");
    assert_string_equal(s.lines[5], "colour: unknown key (allowed: a, paths, o, z)");
    assert_string_equal(s.lines[6], "z: required key missing");
    /* The first-error form still stops at the first. */
    assert_int_equal(rp__schema_validate(schema, doc, &err), RP_ERR_CONFIG);
    assert_string_equal(err.path, "a");
    /* A valid document reports nothing. */
    json_t *good = parse("{\"a\":1,\"z\":null}");
    s.n = 0;
    assert_int_equal(rp__schema_validate_all(schema, good, remember, &s, &err), 0);
    assert_int_equal(s.n, 0);
    json_decref(good);
    json_decref(doc);
    json_decref(schema);
}

static void test_validate_all_is_bounded(void **state)
{
    (void)state;
    /* Far more errors than the cap: at most RP__SCHEMA_MAX_ERRORS reported. */
    json_t *schema = parse("{\"items\":{\"type\":\"string\"}}");
    json_t *doc = json_array();
    for (int i = 0; i < 1000; i++)
        json_array_append_new(doc, json_integer(i));
    rp__schema_error err;
    struct counter {
        int n;
    } c = {0};
    assert_int_equal(rp__schema_validate_all(schema, doc, count_one, &c, &err), RP_ERR_CONFIG);
    assert_int_equal(c.n, RP__SCHEMA_MAX_ERRORS);
    json_decref(doc);
    json_decref(schema);
}

static void test_validate_reports_broken_schema(void **state)
{
    (void)state;
    /* rp__schema_validate on an unchecked broken schema blames the schema. */
    json_t *schema = parse("{\"type\":7}");
    json_t *doc = parse("1");
    rp__schema_error err;
    assert_int_equal(rp__schema_validate(schema, doc, &err), RP_ERR_INVAL);
    assert_int_equal(err.schema_is_broken, 1);
    assert_string_equal(err.message, "schema: \"type\" must be a string or an array");
    json_decref(doc);
    json_decref(schema);
}

static void test_builtin_config_schema_is_valid(void **state)
{
    (void)state;
    json_t *schema = parse(rp__config_schema_json);
    rp__schema_error err;
    int rc = rp__schema_check(schema, &err);
    if (rc != 0)
        fail_msg("core/config_schema.json: %s", err.message);
    json_t *defaults = parse(rp__config_defaults_json);
    assert_int_equal(rp__schema_validate(schema, defaults, &err), 0);
    json_decref(defaults);
    json_decref(schema);
}

static void test_layer_mentions(void **state)
{
    (void)state;
    json_t *layer = parse("{\"plugins\":{\"proc\":{\"enabled\":\"yes\"},\"net\":null},"
                          "\"output\":5,\"list\":[1]}");
    struct rp__json_seg enabled[] = {{"plugins", 0}, {"proc", 0}, {"enabled", 0}};
    struct rp__json_seg file[] = {{"plugins", 0}, {"proc", 0}, {"file", 0}};
    struct rp__json_seg net_file[] = {{"plugins", 0}, {"net", 0}, {"file", 0}};
    struct rp__json_seg out_file[] = {{"output", 0}, {"file", 0}};
    struct rp__json_seg agent[] = {{"agent", 0}, {"data_dir", 0}};
    struct rp__json_seg list0[] = {{"list", 0}, {NULL, 0}};
    /* Sets the value itself. */
    assert_true(rp__json_layer_mentions(layer, enabled, 3));
    /* Sets a parent (an object) but not the value: not this layer's doing. */
    assert_false(rp__json_layer_mentions(layer, file, 3));
    /* Sets a parent to null (deletes it): this layer removed the value. */
    assert_true(rp__json_layer_mentions(layer, net_file, 3));
    /* Sets a parent to a scalar: this layer replaced everything below. */
    assert_true(rp__json_layer_mentions(layer, out_file, 2));
    /* Does not touch the section at all. */
    assert_false(rp__json_layer_mentions(layer, agent, 2));
    /* Replaces an array, so every index in it. */
    assert_true(rp__json_layer_mentions(layer, list0, 2));
    /* Parents only. */
    assert_true(rp__json_layer_mentions(layer, enabled, 1));
    assert_true(rp__json_layer_mentions(layer, enabled, 0));
    json_decref(layer);

    /* An empty layer mentions nothing but the top. */
    json_t *empty = parse("{}");
    assert_false(rp__json_layer_mentions(empty, enabled, 3));
    json_decref(empty);
    /* A layer that is not an object mentions nothing below the top. */
    json_t *arr = parse("[1]");
    assert_false(rp__json_layer_mentions(arr, enabled, 3));
    json_decref(arr);
}

static void describe(const char *json_text, const char *want, size_t buflen)
{
    json_t *v = parse(json_text);
    char buf[256];
    assert_true(buflen <= sizeof buf);
    memset(buf, 'Z', sizeof buf);
    rp__json_describe(v, buf, buflen);
    assert_string_equal(buf, want);
    json_decref(v);
}

static void test_describe(void **state)
{
    (void)state;
    describe("\"yes\"", "string \"yes\"", 96);
    describe("5", "integer 5", 96);
    describe("-9223372036854775807", "integer -9223372036854775807", 96);
    describe("2.5", "number 2.5", 96);
    describe("1e300", "number 1e+300", 96);
    describe("true", "boolean true", 96);
    describe("false", "boolean false", 96);
    describe("null", "null", 96);
    describe("{\"a\":1}", "object", 96);
    describe("[1,2]", "array", 96);
    /* Control bytes, quotes, backslashes and non-ASCII bytes are escaped, so
     * an error line stays one printable line. */
    describe("\"a\\nb\\tc\\u0001\\u001f\\u007f\"", "string \"a\\x0ab\\x09c\\x01\\x1f\\x7f\"", 96);
    describe("\"say \\\"hi\\\" \\\\ bye\"", "string \"say \\\"hi\\\" \\\\ bye\"", 96);
    describe("\"\\u00e9\"", "string \"\\xc3\\xa9\"", 96);
    describe("\"a\\u0000b\"", "string \"a\\x00b\"", 96);
    /* Long strings are cut after 40 bytes and marked. */
    describe("\"0123456789012345678901234567890123456789\"",
             "string \"0123456789012345678901234567890123456789\"", 96);
    describe("\"0123456789012345678901234567890123456789X\"",
             "string \"0123456789012345678901234567890123456789\"...", 96);
    char longstr[1200], want[128];
    longstr[0] = '"';
    memset(longstr + 1, 'x', 1000);
    longstr[1001] = '"';
    longstr[1002] = '\0';
    snprintf(want, sizeof want, "string \"%.40s\"...", longstr + 1);
    describe(longstr, want, 96);
    /* A small buffer is cut and stays terminated. */
    describe("\"yes\"", "strin", 6);
    describe("\"a\\nb\"", "string \"a\\x", 12);
    describe("12345", "", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_single),
        cmocka_unit_test(test_type_array),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_additional_properties_false),
        cmocka_unit_test(test_additional_properties_schema),
        cmocka_unit_test(test_property_names),
        cmocka_unit_test(test_items_and_counts),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_path_format),
        cmocka_unit_test(test_minimum_maximum),
        cmocka_unit_test(test_min_max_length),
        cmocka_unit_test(test_format_name),
        cmocka_unit_test(test_false_schema),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_check_unknown_keywords),
        cmocka_unit_test(test_check_keyword_types),
        cmocka_unit_test(test_validate_reports_broken_schema),
        cmocka_unit_test(test_format_absolute_path),
        cmocka_unit_test(test_pattern),
        cmocka_unit_test(test_validate_all_reports_every_error),
        cmocka_unit_test(test_validate_all_is_bounded),
        cmocka_unit_test(test_builtin_config_schema_is_valid),
        cmocka_unit_test(test_layer_mentions),
        cmocka_unit_test(test_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
