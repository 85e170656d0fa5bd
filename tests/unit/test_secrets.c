/* tests/unit/test_secrets.c - secret values kept out of what the agent prints
 * (core/lib/secrets.c) and the schema keyword "secret" (core/lib/schema.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/schema.h"
#include "lib/secrets.h"

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
        fail_msg("test data is not JSON: %s: %s", text, jerr.text);
    return v;
}

static int reset(void **state)
{
    (void)state;
    rp__secrets_clear();
    return 0;
}

static void test_scrub_text(void **state)
{
    (void)state;
    char buf[128] = "token=Xyzzy-42 and again Xyzzy-42.";
    assert_int_equal(rp__secrets_scrub(buf, sizeof buf), 0); /* nothing registered */
    assert_int_equal(rp__secrets_add("Xyzzy-42", 8), 0);
    assert_int_equal(rp__secrets_add("Xyzzy-42", 8), 0); /* once only */
    assert_int_equal(rp__secrets_add("abc", 3), RP_ERR_INVAL);
    assert_int_equal(rp__secrets_scrub(buf, sizeof buf), 2);
    assert_string_equal(buf, "token=<redacted> and again <redacted>.");
    /* A line that grows past its room is cut, never left with the secret. */
    char small[16] = "k=Xyzzy-42 tail";
    rp__secrets_scrub(small, sizeof small);
    assert_string_equal(small, "k=<redacted> ta");
    char edge[12] = "abcXyzzy-42";
    rp__secrets_scrub(edge, sizeof edge);
    assert_string_equal(edge, "abc<redacte");
    assert_null(strstr(edge, "Xyzzy"));
}

static void test_scrub_json(void **state)
{
    (void)state;
    assert_int_equal(rp__secrets_add("hunter2-secret", 14), 0);
    json_t *d = parse("{\"a\":\"ok\",\"b\":{\"err\":\"401: bad key hunter2-secret\"},"
                      "\"c\":[\"hunter2-secret\",1]}");
    assert_int_equal(rp__secrets_scrub_json(d), 2);
    char *s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"a\":\"ok\",\"b\":{\"err\":\"401: bad key <redacted>\"},"
                           "\"c\":[\"<redacted>\",1]}");
    free(s);
    json_decref(d);
}

static void found(void *arg, const char *s, size_t len)
{
    json_array_append_new(arg, json_stringn(s, len));
}

static void test_schema_redact(void **state)
{
    (void)state;
    json_t *schema =
        parse("{\"type\":\"object\",\"properties\":{"
              "\"key\":{\"type\":\"string\",\"secret\":true},"
              "\"proxy\":{\"type\":\"string\",\"secret\":\"userinfo\"},"
              "\"plain\":{\"type\":\"string\"},"
              "\"creds\":{\"type\":\"object\",\"secret\":true},"
              "\"list\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"secret\":true}},"
              "\"empty\":{\"type\":\"string\",\"secret\":true}}}");
    rp__schema_error err;
    assert_int_equal(rp__schema_check(schema, &err), 0);
    json_t *doc = parse("{\"key\":\"k-123456\",\"proxy\":\"http://bob:p%40ss@proxy:3128/\","
                        "\"plain\":\"visible\",\"creds\":{\"user\":\"u-1\",\"pass\":\"p-2\"},"
                        "\"list\":[\"one-1\",\"two-2\"],\"empty\":\"\"}");
    json_t *seen = json_array();
    rp__schema_redact(schema, doc, 1, found, seen);
    char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"creds\":{\"pass\":\"<redacted>\",\"user\":\"<redacted>\"},"
                           "\"empty\":\"\",\"key\":\"<redacted>\",\"list\":[\"<redacted>\","
                           "\"<redacted>\"],\"plain\":\"visible\","
                           "\"proxy\":\"http://<redacted>@proxy:3128/\"}");
    free(s);
    s = json_dumps(seen, JSON_COMPACT);
    assert_string_equal(s, "[\"k-123456\",\"bob:p%40ss\",\"u-1\",\"p-2\",\"one-1\",\"two-2\"]");
    free(s);
    /* A URL without user information says nothing secret. */
    json_t *plain = parse("{\"proxy\":\"http://proxy:3128\"}");
    rp__schema_redact(schema, plain, 1, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(plain, "proxy")), "http://proxy:3128");
    json_decref(plain);
    json_decref(seen);
    json_decref(doc);
    json_decref(schema);
}

static void test_errors_never_echo_a_secret(void **state)
{
    (void)state;
    json_t *schema = parse("{\"type\":\"object\",\"properties\":{"
                           "\"key\":{\"type\":\"string\",\"maxLength\":4,\"secret\":true},"
                           "\"n\":{\"enum\":[\"a\"],\"secret\":true}}}");
    rp__schema_error err;
    json_t *doc = parse("{\"key\":\"sup3r-s3cret\"}");
    assert_int_equal(rp__schema_validate(schema, doc, &err), RP_ERR_CONFIG);
    assert_string_equal(err.message, "expected a string of at most 4 bytes, got string <redacted>");
    json_decref(doc);
    doc = parse("{\"n\":\"sup3r-s3cret\"}");
    assert_int_equal(rp__schema_validate(schema, doc, &err), RP_ERR_CONFIG);
    assert_string_equal(err.message, "expected one of \"a\", got string <redacted>");
    json_decref(doc);
    json_decref(schema);
    /* The keyword takes true, false or "userinfo" only. */
    schema = parse("{\"type\":\"string\",\"secret\":\"yes\"}");
    assert_int_equal(rp__schema_check(schema, &err), RP_ERR_INVAL);
    assert_string_equal(err.message, "schema: \"secret\" must be true, false or \"userinfo\"");
    json_decref(schema);
}

static void test_url_userinfo(void **state)
{
    (void)state;
    size_t off, len;
    assert_int_equal(rp__secrets_url_userinfo("https://u:p@h/x@y", &off, &len), 0);
    assert_int_equal(off, 8);
    assert_int_equal(len, 3);
    assert_int_equal(rp__secrets_url_userinfo("https://h/x@y", &off, &len), RP_ERR_NOTFOUND);
    assert_int_equal(rp__secrets_url_userinfo("http://a@b:c@h:1", &off, &len), 0);
    assert_int_equal(len, 5); /* the last '@' ends it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_scrub_text, reset),
        cmocka_unit_test_setup(test_scrub_json, reset),
        cmocka_unit_test_setup(test_schema_redact, reset),
        cmocka_unit_test_setup(test_errors_never_echo_a_secret, reset),
        cmocka_unit_test_setup(test_url_userinfo, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
