/*
 * tests/unit/test_plugin_util.c - the SDK's header-only plugin helpers
 * (sdk/include/rampart/plugin_util.h): the config scanner (top-level keys
 * only, escapes, numbers at and past their limits, missing keys, truncated
 * and malformed text, arrays), checked against jansson on generated
 * documents; the log helper against a fake host->log; the counter table
 * against a fake counter_register/counter_add.
 */
#define _GNU_SOURCE /* O_PATH, for plugin_util_proc.h */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <rampart/plugin_util_json.h>
#include <rampart/plugin_util_proc.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every scanner call in these tests reads a heap copy of exactly len bytes
 * with no NUL after it, so an ASan build catches a read past len. */
static char *dup_exact(const char *text, size_t len)
{
    char *p = malloc(len ? len : 1);
    assert_non_null(p);
    if (len)
        memcpy(p, text, len);
    return p;
}

static int get_str(const char *text, const char *key, char *buf, size_t cap)
{
    size_t len = strlen(text), n = 12345;
    char *j = dup_exact(text, len);
    int rc = rp_util_config_str(j, len, key, "DFLT", buf, cap, &n);
    if (rc == 0)
        assert_int_equal(n, strlen(buf));
    else
        assert_true(strcmp(buf, "DFLT") == 0 || (cap <= 4 && buf[0] == '\0'));
    free(j);
    return rc;
}

static int get_uint(const char *text, const char *key, uint64_t *out)
{
    size_t len = strlen(text);
    char *j = dup_exact(text, len);
    int rc = rp_util_config_uint(j, len, key, 777, out);
    if (rc != 0)
        assert_true(*out == 777);
    free(j);
    return rc;
}

static int get_int(const char *text, const char *key, int64_t *out)
{
    size_t len = strlen(text);
    char *j = dup_exact(text, len);
    int rc = rp_util_config_int(j, len, key, -777, out);
    if (rc != 0)
        assert_true(*out == -777);
    free(j);
    return rc;
}

static int get_bool(const char *text, const char *key, int dflt, int *out)
{
    size_t len = strlen(text);
    char *j = dup_exact(text, len);
    int rc = rp_util_config_bool(j, len, key, dflt, out);
    if (rc != 0)
        assert_int_equal(*out, dflt);
    free(j);
    return rc;
}

/* ---- keys ------------------------------------------------------------------ */

static void test_key_inside_string_value_not_matched(void **st)
{
    (void)st;
    char buf[64];
    uint64_t u;
    /* The old strstr lookup found "mode": inside the first value. */
    assert_int_equal(get_str("{\"note\":\"\\\"mode\\\":\\\"poll\\\"\",\"mode\":\"auto\"}", "mode",
                             buf, sizeof buf),
                     0);
    assert_string_equal(buf, "auto");
    assert_int_equal(get_str("{\"note\":\"\\\"mode\\\":\\\"poll\\\"\"}", "mode", buf, sizeof buf),
                     RP_ERR_NOTFOUND);
    assert_int_equal(get_uint("{\"s\":\"\\\"rate\\\":5\",\"x\":1}", "rate", &u), RP_ERR_NOTFOUND);
    /* A key that is a prefix or a suffix of another is not that key. */
    assert_int_equal(get_uint("{\"rate_max\":5,\"max_rate\":6}", "rate", &u), RP_ERR_NOTFOUND);
    assert_int_equal(get_uint("{\"rate_max\":5,\"rate\":6}", "rate", &u), 0);
    assert_int_equal(u, 6);
    assert_int_equal(get_uint("{\"rat\":5}", "rate", &u), RP_ERR_NOTFOUND);
    /* A value that equals the key is not a key. */
    assert_int_equal(get_str("{\"a\":\"mode\",\"b\":\"x\"}", "mode", buf, sizeof buf),
                     RP_ERR_NOTFOUND);
}

static void test_key_of_nested_object_not_matched(void **st)
{
    (void)st;
    uint64_t u;
    char buf[32];
    assert_int_equal(get_uint("{\"o\":{\"count\":5}}", "count", &u), RP_ERR_NOTFOUND);
    assert_int_equal(
        get_uint("{\"a\":[{\"count\":5},[\"count\",1]],\"o\":{\"p\":{\"count\":2}}}", "count", &u),
        RP_ERR_NOTFOUND);
    assert_int_equal(get_uint("{\"o\":{\"count\":5},\"count\":9}", "count", &u), 0);
    assert_int_equal(u, 9);
    assert_int_equal(get_uint("{\"count\":9,\"o\":{\"count\":5}}", "count", &u), 0);
    assert_int_equal(u, 9);
    /* collector_file's shape: arrays of strings that look like keys. */
    assert_int_equal(get_str("{\"paths\":[\"\\\"mode\\\":\\\"inotify\\\"\",\"/etc\"],"
                             "\"mode\":\"auto\"}",
                             "mode", buf, sizeof buf),
                     0);
    assert_string_equal(buf, "auto");
}

static void test_escaped_key_and_duplicates(void **st)
{
    (void)st;
    uint64_t u;
    assert_int_equal(get_uint("{\"mo\\u0064e\":3}", "mode", &u), 0);
    assert_int_equal(u, 3);
    assert_int_equal(get_uint("{\"caf\\u00e9\":4}", "caf\xc3\xa9", &u), 0);
    assert_int_equal(u, 4);
    assert_int_equal(get_uint("{\"a\\/b\":5}", "a/b", &u), 0);
    assert_int_equal(get_uint("{\"a\\u0000\":5}", "a", &u), RP_ERR_NOTFOUND);
    /* The last of two equal keys wins, as in jansson. */
    assert_int_equal(get_uint("{\"n\":1,\"n\":2}", "n", &u), 0);
    assert_int_equal(u, 2);
    /* The empty key is a key like any other. */
    assert_int_equal(get_uint("{\"\":8}", "", &u), 0);
    assert_int_equal(u, 8);
}

/* ---- strings --------------------------------------------------------------- */

static void test_string_escapes(void **st)
{
    (void)st;
    char buf[64];
    assert_int_equal(
        get_str("{\"s\":\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"}", "s", buf, sizeof buf), 0);
    assert_string_equal(buf, "a\"b\\c/d\be\ff\ng\rh\ti");
    assert_int_equal(
        get_str("{\"s\":\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"}", "s", buf, sizeof buf), 0);
    assert_string_equal(buf, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_int_equal(get_str("{\"s\":\"\\uD800\\uDC00\\uDBFF\\uDFFF\\u07FF\\u0080\\uFFFF\"}", "s",
                             buf, sizeof buf),
                     0);
    assert_string_equal(buf, "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\xdf\xbf\xc2\x80\xef\xbf\xbf");
    /* Raw UTF-8 passes as it is. */
    assert_int_equal(get_str("{\"s\":\"\xc3\xa9t\xc3\xa9\"}", "s", buf, sizeof buf), 0);
    assert_string_equal(buf, "\xc3\xa9t\xc3\xa9");
    assert_int_equal(get_str("{\"s\":\"\"}", "s", buf, sizeof buf), 0);
    assert_string_equal(buf, "");
}

static void test_string_bad_escapes(void **st)
{
    (void)st;
    char buf[64];
    static const char *const bad[] = {
        "{\"s\":\"\\ud83d\"}",        /* lone high surrogate */
        "{\"s\":\"\\ude00\"}",        /* lone low surrogate */
        "{\"s\":\"\\ude00\\ud83d\"}", /* reversed pair */
        "{\"s\":\"\\ud83d\\u0041\"}", /* high, then not a low one */
        "{\"s\":\"\\ud83dx\"}",       /* high, then no escape */
        "{\"s\":\"\\ud83d\\n\"}",     /* high, then another escape */
        "{\"s\":\"\\u12g4\"}",        /* not hex */
        "{\"s\":\"\\u12\"}",          /* short */
        "{\"s\":\"\\x41\"}",          /* no such escape */
        "{\"s\":\"\\U0041\"}",        /* upper-case u */
        "{\"s\":\"\\'\"}",
        "{\"s\":\"a\nb\"}", /* raw control character */
        "{\"s\":\"a\tb\"}",
        "{\"s\":\"abc}", /* unterminated */
        "{\"s\":\"abc\\\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = get_str(bad[i], "s", buf, sizeof buf);
        if (rc != RP_ERR_PARSE)
            fail_msg("%s: %s, expected RP_ERR_PARSE", bad[i], rp_errname(rc));
        /* The same text is invalid whatever key is asked for. */
        assert_int_equal(get_str(bad[i], "other", buf, sizeof buf), RP_ERR_PARSE);
    }
    /* A NUL would cut the C string: refused, and not only for the value. */
    assert_int_equal(get_str("{\"s\":\"a\\u0000b\"}", "s", buf, sizeof buf), RP_ERR_UNSUPPORTED);
    assert_string_equal(buf, "DFLT");
    assert_int_equal(get_str("{\"s\":\"a\\u0000b\",\"t\":\"ok\"}", "t", buf, sizeof buf), 0);
    assert_string_equal(buf, "ok");
}

static void test_string_buffer_cap(void **st)
{
    (void)st;
    char buf[8];
    const char *doc = "{\"s\":\"1234567\",\"t\":\"12345678\",\"u\":\"123456\\u00e9\"}";
    assert_int_equal(get_str(doc, "s", buf, sizeof buf), 0); /* 7 bytes + NUL: fits */
    assert_string_equal(buf, "1234567");
    assert_int_equal(get_str(doc, "t", buf, sizeof buf), RP_ERR_FULL); /* never cut */
    assert_string_equal(buf, "DFLT");
    /* A 2-byte character that would leave no room for the NUL. */
    assert_int_equal(get_str(doc, "u", buf, sizeof buf), RP_ERR_FULL);
    /* A default that does not fit either: "". */
    size_t n = 99;
    assert_int_equal(
        rp_util_config_str(doc, strlen(doc), "t", "much too long", buf, sizeof buf, &n),
        RP_ERR_FULL);
    assert_string_equal(buf, "");
    assert_int_equal(n, 0);
    assert_int_equal(rp_util_config_str(doc, strlen(doc), "s", NULL, buf, 0, &n), RP_ERR_INVAL);
    assert_int_equal(rp_util_config_str(doc, strlen(doc), "s", NULL, NULL, 8, &n), RP_ERR_INVAL);
    /* Other types. */
    assert_int_equal(get_str("{\"s\":1}", "s", buf, sizeof buf), RP_ERR_TYPE);
    assert_int_equal(get_str("{\"s\":null}", "s", buf, sizeof buf), RP_ERR_TYPE);
    assert_int_equal(get_str("{\"s\":[\"x\"]}", "s", buf, sizeof buf), RP_ERR_TYPE);
}

/* ---- numbers and booleans ------------------------------------------------------ */

static void test_numbers(void **st)
{
    (void)st;
    uint64_t u;
    int64_t i;
    assert_int_equal(get_uint("{\"n\":0}", "n", &u), 0);
    assert_int_equal(u, 0);
    assert_int_equal(get_uint("{\"n\":18446744073709551615}", "n", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(get_uint("{\"n\":18446744073709551616}", "n", &u), RP_ERR_RANGE);
    assert_int_equal(get_uint("{\"n\":99999999999999999999999999}", "n", &u), RP_ERR_RANGE);
    assert_int_equal(get_uint("{\"n\":-1}", "n", &u), RP_ERR_RANGE);
    assert_int_equal(get_uint("{\"n\":-0}", "n", &u), 0);
    assert_int_equal(u, 0);
    assert_int_equal(get_uint("{\"n\":1.5}", "n", &u), RP_ERR_TYPE);
    assert_int_equal(get_uint("{\"n\":1.0}", "n", &u), RP_ERR_TYPE);
    assert_int_equal(get_uint("{\"n\":1e3}", "n", &u), RP_ERR_TYPE);
    assert_int_equal(get_uint("{\"n\":\"5\"}", "n", &u), RP_ERR_TYPE);
    assert_int_equal(get_uint("{\"n\":true}", "n", &u), RP_ERR_TYPE);
    assert_int_equal(get_uint("{\"n\":null}", "n", &u), RP_ERR_TYPE);
    assert_int_equal(get_uint("{\"n\":{}}", "n", &u), RP_ERR_TYPE);

    assert_int_equal(get_int("{\"n\":9223372036854775807}", "n", &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(get_int("{\"n\":9223372036854775808}", "n", &i), RP_ERR_RANGE);
    assert_int_equal(get_int("{\"n\":-9223372036854775808}", "n", &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(get_int("{\"n\":-9223372036854775809}", "n", &i), RP_ERR_RANGE);
    assert_int_equal(get_int("{\"n\":-42}", "n", &i), 0);
    assert_true(i == -42);
    assert_int_equal(get_int("{\"n\":-4.2E1}", "n", &i), RP_ERR_TYPE);

    /* Numbers outside the JSON grammar make the whole text invalid. */
    static const char *const bad[] = {"{\"n\":01}",       "{\"n\":-}",    "{\"n\":1.}",
                                      "{\"n\":.5}",       "{\"n\":+1}",   "{\"n\":1e}",
                                      "{\"n\":1e+}",      "{\"n\":0x10}", "{\"n\":1 2}",
                                      "{\"n\":Infinity}", "{\"n\":NaN}",  "{\"n\":--1}"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = get_uint(bad[k], "n", &u);
        if (rc != RP_ERR_PARSE)
            fail_msg("%s: %s, expected RP_ERR_PARSE", bad[k], rp_errname(rc));
    }
    /* Valid numbers of other shapes are skipped fine. */
    assert_int_equal(get_uint("{\"x\":-0.5e-7,\"y\":1E+2,\"z\":0.0,\"n\":3}", "n", &u), 0);
    assert_int_equal(u, 3);
}

static void test_booleans(void **st)
{
    (void)st;
    int b;
    assert_int_equal(get_bool("{\"b\":true}", "b", 0, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(get_bool("{\"b\":false}", "b", 1, &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(get_bool("{\"b\":null}", "b", 1, &b), RP_ERR_TYPE);
    assert_int_equal(get_bool("{\"b\":\"true\"}", "b", 1, &b), RP_ERR_TYPE);
    assert_int_equal(get_bool("{\"b\":1}", "b", 0, &b), RP_ERR_TYPE);
    assert_int_equal(get_bool("{\"b\":tru}", "b", 0, &b), RP_ERR_PARSE);
    assert_int_equal(get_bool("{\"b\":truex}", "b", 0, &b), RP_ERR_PARSE);
    assert_int_equal(get_bool("{\"b\":True}", "b", 0, &b), RP_ERR_PARSE);
    assert_int_equal(get_bool("{\"b\":nul}", "b", 0, &b), RP_ERR_PARSE);
}

/* ---- missing keys, truncation, malformed text ------------------------------------ */

static void test_missing_keys(void **st)
{
    (void)st;
    uint64_t u = 0;
    int b = 0;
    char buf[16];
    assert_int_equal(get_uint("{}", "n", &u), RP_ERR_NOTFOUND);
    assert_int_equal(u, 777);
    assert_int_equal(get_uint(" { } ", "n", &u), RP_ERR_NOTFOUND);
    assert_int_equal(get_bool("{\"a\":1}", "b", 1, &b), RP_ERR_NOTFOUND);
    assert_int_equal(b, 1);
    assert_int_equal(get_str("{\"a\":\"x\"}", "b", buf, sizeof buf), RP_ERR_NOTFOUND);
    assert_string_equal(buf, "DFLT");
    /* NULL arguments. */
    assert_int_equal(rp_util_config_uint(NULL, 0, "n", 5, &u), RP_ERR_INVAL);
    assert_int_equal(u, 5);
    assert_int_equal(rp_util_config_uint("{}", 2, NULL, 6, &u), RP_ERR_INVAL);
    assert_int_equal(u, 6);
    assert_int_equal(rp_util_config_valid(NULL, 3), RP_ERR_INVAL);
    /* The out pointer may be NULL: the result alone is asked for. */
    assert_int_equal(rp_util_config_uint("{\"n\":1}", 7, "n", 0, NULL), 0);
}

static const char full_doc[] =
    "{\"mode\":\"auto\",\"count\":1000,\"rate\":18446744073709551615,\"flag\":true,"
    "\"paths\":[\"/etc\",\"/h\\u00e9\\ud83d\\ude00\",\"a\\\"b\"],\"o\":{\"k\":[1,{\"z\":null}]},"
    "\"neg\":-1.5e-3,\"off\":false,\"nil\":null}";

static void test_truncated_input(void **st)
{
    (void)st;
    size_t len = sizeof full_doc - 1;
    char *j = dup_exact(full_doc, len);
    assert_int_equal(rp_util_config_valid(j, len), 0);
    free(j);
    /* Every proper prefix (whitespace aside, none is an object) is invalid,
     * for every key and every typed getter, and nothing past it is read. */
    static const char *const keys[] = {"mode", "count", "rate", "flag", "paths", "o", "zzz"};
    for (size_t cut = 0; cut < len; cut++) {
        j = dup_exact(full_doc, cut);
        assert_int_equal(rp_util_config_valid(j, cut), RP_ERR_PARSE);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            uint64_t u;
            int b;
            char buf[64];
            rp_util_config_iter it;
            assert_int_equal(rp_util_config_uint(j, cut, keys[k], 1, &u), RP_ERR_PARSE);
            assert_int_equal(rp_util_config_bool(j, cut, keys[k], 1, &b), RP_ERR_PARSE);
            assert_int_equal(rp_util_config_str(j, cut, keys[k], "d", buf, sizeof buf, NULL),
                             RP_ERR_PARSE);
            assert_int_equal(rp_util_config_array(j, cut, keys[k], &it), RP_ERR_PARSE);
            assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, NULL), RP_ERR_NOTFOUND);
        }
        free(j);
    }
}

static void test_malformed_text(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "",
        " ",
        "[]",
        "\"a\"",
        "1",
        "null",
        "{",
        "}",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\" 1}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\":1}}",
        "{\"a\":1}x",
        "{\"a\":1}{}",
        "{\"a\":[1,]}",
        "{\"a\":[,1]}",
        "{\"a\":[1 2]}",
        "{\"a\":{\"b\"}}",
        "{\"a\":{1:2}}",
        "{\"a\":[}",
        "{\"a\":{]}",
        "{\"a\":1\"b\":2}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = strlen(bad[i]);
        char *j = dup_exact(bad[i], len);
        int rc = rp_util_config_valid(j, len);
        if (rc != RP_ERR_PARSE)
            fail_msg("'%s': %s, expected RP_ERR_PARSE", bad[i], rp_errname(rc));
        free(j);
    }
    /* A NUL inside the length is not whitespace. */
    assert_int_equal(rp_util_config_valid("{}\0", 3), RP_ERR_PARSE);
    assert_int_equal(rp_util_config_valid("{\"a\"\0:1}", 8), RP_ERR_PARSE);
    /* Whitespace anywhere between tokens is fine. */
    uint64_t u;
    assert_int_equal(get_uint(" \t\r\n{ \"a\" :\n[ 1 , { } ] , \"n\" : 4 }\n ", "n", &u), 0);
    assert_int_equal(u, 4);
}

static void test_depth_cap(void **st)
{
    (void)st;
    char doc[256];
    uint64_t u;
    /* "{"a": + (depth-1) '[' + ']'s + ,"n":1}": depth counts the top object. */
    for (int depth = 2; depth <= RP_UTIL_JSON_DEPTH_MAX + 2; depth++) {
        size_t n = 0;
        n += (size_t)snprintf(doc + n, sizeof doc - n, "{\"a\":");
        for (int i = 1; i < depth; i++)
            doc[n++] = '[';
        for (int i = 1; i < depth; i++)
            doc[n++] = ']';
        n += (size_t)snprintf(doc + n, sizeof doc - n, ",\"n\":1}");
        int rc = rp_util_config_uint(doc, n, "n", 0, &u);
        if (depth <= RP_UTIL_JSON_DEPTH_MAX)
            assert_int_equal(rc, 0);
        else
            assert_int_equal(rc, RP_ERR_RANGE);
    }
}

/* ---- arrays ----------------------------------------------------------------------- */

static void test_array_iteration(void **st)
{
    (void)st;
    size_t len = sizeof full_doc - 1, n;
    char *j = dup_exact(full_doc, len);
    rp_util_config_iter it;
    char buf[32];
    assert_int_equal(rp_util_config_array(j, len, "paths", &it), 0);
    assert_int_equal(it.count, 3);
    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), 0);
    assert_string_equal(buf, "/etc");
    assert_int_equal(n, 4);
    assert_int_equal(it.index, 0);
    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), 0);
    assert_string_equal(buf, "/h\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(it.index, 1);
    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), 0);
    assert_string_equal(buf, "a\"b");
    assert_int_equal(it.index, 2);
    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), RP_ERR_NOTFOUND);
    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), RP_ERR_NOTFOUND);
    /* Not arrays. */
    assert_int_equal(rp_util_config_array(j, len, "mode", &it), RP_ERR_TYPE);
    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), RP_ERR_NOTFOUND);
    assert_int_equal(rp_util_config_array(j, len, "o", &it), RP_ERR_TYPE);
    /* The array nested in "o" is not a top-level key. */
    assert_int_equal(rp_util_config_array(j, len, "k", &it), RP_ERR_NOTFOUND);
    free(j);

    /* Empty arrays, and items of other types, which are passed over. */
    const char *doc = "{\"e\":[ ],\"m\":[\"a\",1,[\"b\",\"c\"],{\"d\":\"e\"},null,\"0123456789\","
                      "\"x\\u0000\",\"last\"]}";
    len = strlen(doc);
    j = dup_exact(doc, len);
    assert_int_equal(rp_util_config_array(j, len, "e", &it), 0);
    assert_int_equal(it.count, 0);
    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), RP_ERR_NOTFOUND);
    assert_int_equal(rp_util_config_array(j, len, "m", &it), 0);
    assert_int_equal(it.count, 8);
    static const int want_rc[] = {0,           RP_ERR_TYPE, RP_ERR_TYPE,        RP_ERR_TYPE,
                                  RP_ERR_TYPE, RP_ERR_FULL, RP_ERR_UNSUPPORTED, 0};
    static const char *const want[] = {"a", "", "", "", "", "", "", "last"};
    char small[8];
    for (uint32_t k = 0; k < 8; k++) {
        int rc = rp_util_config_next_str(&it, small, sizeof small, &n);
        assert_int_equal(rc, want_rc[k]);
        assert_int_equal(it.index, k);
        assert_string_equal(small, want[k]);
        assert_int_equal(n, strlen(want[k]));
    }
    assert_int_equal(rp_util_config_next_str(&it, small, sizeof small, &n), RP_ERR_NOTFOUND);
    free(j);
}

/* ---- against jansson ----------------------------------------------------------------- */

static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A random UTF-8 string of code points from every range (no NUL, no
 * surrogates), n characters. */
static size_t random_utf8(char *out, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp;
        switch (rng() % 6) {
        case 0:
            cp = 1 + rng() % 0x1F;
            break; /* control characters */
        case 1:
            cp = (uint32_t) "\"\\/ ab{}[]:,"[rng() % 12];
            break;
        case 2:
            cp = 0x20 + rng() % 0x60;
            break;
        case 3:
            cp = 0x80 + rng() % 0x780;
            break;
        case 4:
            cp = 0x800 + rng() % 0xF800;
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xE000;
            break;
        default:
            cp = 0x10000 + rng() % 0x100000;
            break;
        }
        if (cp < 0x80) {
            out[len++] = (char)cp;
        } else if (cp < 0x800) {
            out[len++] = (char)(0xC0 | (cp >> 6));
            out[len++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out[len++] = (char)(0xE0 | (cp >> 12));
            out[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[len++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[len++] = (char)(0xF0 | (cp >> 18));
            out[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            out[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[len++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[len] = '\0';
    return len;
}

static void test_matches_jansson(void **st)
{
    (void)st;
    /* Documents built and dumped by jansson, as the host makes them (and
     * with every non-ASCII character escaped, surrogate pairs included), read
     * back with the helper: every value must come back as jansson holds it. */
    for (int round = 0; round < 400; round++) {
        json_t *root = json_object();
        char keys[6][64];
        char vals[6][256];
        uint64_t nums[6];
        int kinds[6];
        for (int k = 0; k < 6; k++) {
            random_utf8(keys[k], 1 + rng() % 12);
            kinds[k] = (int)(rng() % 4);
            if (kinds[k] == 0) {
                random_utf8(vals[k], rng() % 40);
                json_object_set_new(root, keys[k], json_string(vals[k]));
            } else if (kinds[k] == 1) {
                nums[k] = ((uint64_t)rng() << 31 | rng()) % ((uint64_t)1 << 62);
                json_object_set_new(root, keys[k], json_integer((json_int_t)nums[k]));
            } else if (kinds[k] == 2) {
                /* A nested object whose keys repeat the top-level ones. */
                json_t *o = json_object();
                for (int m = 0; m <= k; m++)
                    json_object_set_new(o, keys[m], json_string(keys[m]));
                json_object_set_new(root, keys[k], json_pack("{s:o}", "in", o));
            } else {
                json_t *a = json_array();
                for (int m = 0; m <= k; m++)
                    json_array_append_new(a, json_string(keys[m]));
                json_object_set_new(root, keys[k], a);
            }
        }
        size_t flags = JSON_COMPACT | ((round & 1) ? JSON_ENSURE_ASCII : 0) |
                       ((round & 2) ? JSON_ESCAPE_SLASH : 0);
        char *text = json_dumps(root, flags);
        assert_non_null(text);
        size_t len = strlen(text);
        char *j = dup_exact(text, len);
        assert_int_equal(rp_util_config_valid(j, len), 0);
        for (int k = 0; k < 6; k++) {
            json_t *v = json_object_get(root, keys[k]);
            char buf[256];
            size_t n;
            uint64_t u;
            if (!v)
                continue;
            if (json_is_string(v)) {
                assert_int_equal(rp_util_config_str(j, len, keys[k], NULL, buf, sizeof buf, &n), 0);
                assert_int_equal(n, json_string_length(v));
                assert_memory_equal(buf, json_string_value(v), n);
            } else if (json_is_integer(v)) {
                assert_int_equal(rp_util_config_uint(j, len, keys[k], 0, &u), 0);
                assert_true(u == (uint64_t)json_integer_value(v));
            } else if (json_is_array(v)) {
                rp_util_config_iter it;
                assert_int_equal(rp_util_config_array(j, len, keys[k], &it), 0);
                assert_int_equal(it.count, json_array_size(v));
                for (size_t m = 0; m < json_array_size(v); m++) {
                    assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n), 0);
                    assert_string_equal(buf, json_string_value(json_array_get(v, m)));
                }
                assert_int_equal(rp_util_config_next_str(&it, buf, sizeof buf, &n),
                                 RP_ERR_NOTFOUND);
            } else {
                assert_int_equal(rp_util_config_uint(j, len, keys[k], 0, &u), RP_ERR_TYPE);
            }
        }
        /* A key of a nested object only ("in") is never found at the top. */
        if (!json_object_get(root, "in"))
            assert_int_equal(rp_util_config_uint(j, len, "in", 0, NULL), RP_ERR_NOTFOUND);
        free(j);
        free(text);
        json_decref(root);
    }
}

/* ---- logging --------------------------------------------------------------------- */

static char log_buf[4096];
static uint64_t log_len;
static int32_t log_level;
static rp_plugin *log_self;
static int log_calls;

static void fake_log(rp_plugin *self, int32_t level, const char *msg, uint64_t len)
{
    log_self = self;
    log_level = level;
    log_len = len;
    memcpy(log_buf, msg, (size_t)len);
    log_buf[len] = '\0';
    log_calls++;
}

static void test_logf(void **st)
{
    (void)st;
    rp_host_api host;
    memset(&host, 0, sizeof host);
    host.log = fake_log;
    rp_plugin *self = (rp_plugin *)(uintptr_t)0x1234;
    assert_int_equal(
        rp_util_logf(&host, self, RP_LOG_WARN, "%s: %d of %llu", "read", 3, (unsigned long long)7),
        0);
    assert_string_equal(log_buf, "read: 3 of 7");
    assert_int_equal(log_len, 12);
    assert_int_equal(log_level, RP_LOG_WARN);
    assert_ptr_equal(log_self, self);

    /* A long line is cut at RP_UTIL_LOG_MAX - 1 bytes, not dropped. */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(rp_util_logf(&host, self, RP_LOG_INFO, "<%s>", big), 0);
    assert_int_equal(log_len, RP_UTIL_LOG_MAX - 1);
    assert_int_equal(log_buf[0], '<');
    assert_int_equal(log_buf[log_len - 1], 'x');

    /* The cut never splits a UTF-8 character: place a 3-byte one across it. */
    for (size_t off = 0; off < 4; off++) {
        char s[RP_UTIL_LOG_MAX + 8];
        size_t start = RP_UTIL_LOG_MAX - 1 - off; /* where the euro sign starts */
        memset(s, 'y', start);
        memcpy(s + start, "\xe2\x82\xac", 3);
        memcpy(s + start + 3, "zzzz", 5);
        assert_int_equal(rp_util_logf(&host, self, RP_LOG_INFO, "%s", s), 0);
        if (off >= 3)
            assert_int_equal(log_len, RP_UTIL_LOG_MAX - 1); /* whole character kept */
        else
            assert_int_equal(log_len, start); /* the partial character is left out */
        assert_int_equal(log_buf[start - 1], 'y');
    }
    /* Exactly RP_UTIL_LOG_MAX - 1 bytes fit. */
    big[RP_UTIL_LOG_MAX - 1] = '\0';
    assert_int_equal(rp_util_logf(&host, self, RP_LOG_INFO, "%s", big), 0);
    assert_int_equal(log_len, RP_UTIL_LOG_MAX - 1);

    int calls = log_calls;
    assert_int_equal(rp_util_logf(NULL, self, RP_LOG_INFO, "x"), RP_ERR_INVAL);
    host.log = NULL;
    assert_int_equal(rp_util_logf(&host, self, RP_LOG_INFO, "x"), RP_ERR_INVAL);
    assert_int_equal(log_calls, calls);
}

/* ---- counters --------------------------------------------------------------------- */

#define FAKE_CAP 4
static char fake_names[FAKE_CAP][64];
static uint32_t fake_n;
static uint64_t fake_val[FAKE_CAP];
static uint64_t fake_adds;
static char fake_err[256];

static int fake_register(rp_plugin *self, const char *name, uint64_t len, uint32_t *id)
{
    (void)self;
    if (len == 0 || len >= 64)
        return RP_ERR_INVAL;
    for (uint32_t i = 0; i < fake_n; i++)
        if (strlen(fake_names[i]) == len && memcmp(fake_names[i], name, len) == 0) {
            *id = i;
            return 0;
        }
    if (fake_n >= FAKE_CAP)
        return RP_ERR_FULL;
    memcpy(fake_names[fake_n], name, len);
    fake_names[fake_n][len] = '\0';
    *id = fake_n++;
    return 0;
}

static int fake_add(rp_plugin *self, uint32_t id, uint64_t delta)
{
    (void)self;
    if (id >= fake_n)
        return RP_ERR_INVAL;
    fake_val[id] += delta;
    fake_adds++;
    return 0;
}

static void fake_set_error(rp_plugin *self, const char *msg, uint64_t len)
{
    (void)self;
    memcpy(fake_err, msg, (size_t)len);
    fake_err[len] = '\0';
}

static void fake_reset(void)
{
    fake_n = 0;
    fake_adds = 0;
    memset(fake_val, 0, sizeof fake_val);
    fake_err[0] = '\0';
}

static void test_counters(void **st)
{
    (void)st;
    rp_host_api host;
    memset(&host, 0, sizeof host);
    host.counter_register = fake_register;
    host.counter_add = fake_add;
    host.set_error = fake_set_error;
    rp_util_counters c;
    static const char *const names[] = {"seen", "published", "lost"};

    fake_reset();
    assert_int_equal(rp_util_counters_register(&c, &host, NULL, names, 3, 0), 0);
    assert_int_equal(c.count, 3);
    assert_int_equal(c.id[0], 0); /* 0 is a valid id */
    assert_int_equal(c.id[2], 2);
    assert_int_equal(rp_util_count(&c, 1, 5), 0);
    assert_int_equal(rp_util_count(&c, 1, 2), 0);
    assert_int_equal(rp_util_count(&c, 0, 0), 0); /* not passed on */
    assert_int_equal(fake_adds, 2);
    assert_true(fake_val[1] == 7);
    assert_int_equal(rp_util_count(&c, 3, 1), RP_ERR_INVAL);
    assert_true(rp_util_counter_total(&c, 1) == 0); /* no totals asked for */

    /* With totals; registering the same names again gives the same ids. */
    assert_int_equal(rp_util_counters_register(&c, &host, NULL, names, 3, RP_UTIL_COUNTERS_TOTALS),
                     0);
    assert_int_equal(fake_n, 3);
    rp_util_count(&c, 2, 4);
    rp_util_count(&c, 2, 1);
    assert_true(rp_util_counter_total(&c, 2) == 5);
    assert_true(fake_val[2] == 5);
    assert_true(rp_util_counter_total(&c, 9) == 0);

    /* The host's cap: the failing name is reported, nothing is counted. */
    static const char *const more[] = {"a", "b", "c", "d", "e"};
    fake_reset();
    assert_int_equal(rp_util_counters_register(&c, &host, NULL, more, 5, 0), RP_ERR_FULL);
    assert_string_equal(fake_err, "counter \"e\": queue or buffer full");
    assert_int_equal(c.count, 0);
    assert_int_equal(rp_util_count(&c, 0, 1), RP_ERR_INVAL);
    assert_int_equal(fake_adds, 0);

    static const char *const empty[] = {"ok", ""};
    fake_reset();
    assert_int_equal(rp_util_counters_register(&c, &host, NULL, empty, 2, 0), RP_ERR_INVAL);
    static const char *const null_name[] = {"ok", NULL};
    assert_int_equal(rp_util_counters_register(&c, &host, NULL, null_name, 2, 0), RP_ERR_INVAL);
    assert_int_equal(rp_util_counters_register(&c, &host, NULL, names, RP_UTIL_COUNTERS_MAX + 1, 0),
                     RP_ERR_RANGE);
    assert_int_equal(rp_util_counters_register(NULL, &host, NULL, names, 1, 0), RP_ERR_INVAL);
    assert_int_equal(rp_util_counters_register(&c, &host, NULL, NULL, 0, 0), 0);
    assert_int_equal(c.count, 0);
}

static int fake_field_calls;
static int fake_field_id(rp_plugin *self, const char *name, uint64_t len, uint32_t type,
                         rp_field_id *out)
{
    (void)self;
    fake_field_calls++;
    if (len >= 4 && memcmp(name, "bad.", 4) == 0)
        return RP_ERR_TYPE;
    *out = (rp_field_id)(100 + type + (uint32_t)len);
    return 0;
}

/* Field ids come back in table order; the first refusal names the field. */
static void test_fields(void **st)
{
    (void)st;
    rp_host_api host;
    memset(&host, 0, sizeof host);
    host.field_id = fake_field_id;
    host.set_error = fake_set_error;
    static const rp_util_field_def defs[] = {{"process.pid", RP_TYPE_I64},
                                             {"process.name", RP_TYPE_STR}};
    rp_field_id ids[2] = {0, 0};
    fake_reset();
    fake_field_calls = 0;
    assert_int_equal(rp_util_fields_register(&host, NULL, defs, 2, ids), 0);
    assert_int_equal(ids[0], 100 + RP_TYPE_I64 + 11);
    assert_int_equal(ids[1], 100 + RP_TYPE_STR + 12);
    static const rp_util_field_def bad[] = {
        {"process.pid", RP_TYPE_I64}, {"bad.field", RP_TYPE_STR}, {"never.asked", RP_TYPE_STR}};
    fake_field_calls = 0;
    assert_int_equal(rp_util_fields_register(&host, NULL, bad, 3, ids), RP_ERR_TYPE);
    assert_int_equal(fake_field_calls, 2);
    assert_non_null(strstr(fake_err, "bad.field"));
    assert_int_equal(rp_util_fields_register(&host, NULL, NULL, 1, ids), RP_ERR_INVAL);
}

static const char *fake_config;
static int fake_config_get(rp_plugin *self, const char **json, uint64_t *len)
{
    (void)self;
    if (!fake_config)
        return RP_ERR_NOTFOUND;
    *json = fake_config;
    *len = strlen(fake_config);
    return 0;
}

/* The host's text when it has one, "{}" (so every reader takes its default)
 * when it has none or the table lacks config_get. */
static void test_config_text(void **st)
{
    (void)st;
    rp_host_api host;
    memset(&host, 0, sizeof host);
    const char *json = NULL;
    size_t len = 0;
    rp_util_config_text(&host, NULL, &json, &len);
    assert_int_equal(len, 2);
    assert_memory_equal(json, "{}", 2);
    host.config_get = fake_config_get;
    fake_config = NULL;
    rp_util_config_text(&host, NULL, &json, &len);
    assert_memory_equal(json, "{}", 2);
    fake_config = "{\"rate\":5}";
    rp_util_config_text(&host, NULL, &json, &len);
    assert_ptr_equal(json, fake_config);
    uint64_t rate = 0;
    assert_int_equal(rp_util_config_uint(json, len, "rate", 1, &rate), 0);
    assert_true(rate == 5);
}

/* SHA-256 against known digests (empty, and longer than one block, fed in
 * uneven pieces), and the entity id scheme against a value computed
 * independently (python3 hashlib). */
static void hex32(const uint8_t d[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[64] = '\0';
}

static void test_hex_paths_and_file_hash(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    char hex[9];
    rp_util_hex(bytes, sizeof bytes, hex);
    assert_string_equal(hex, "000fa5ff");
    rp_util_hex(bytes, 0, hex);
    assert_string_equal(hex, "");

    static const char *const normal[] = {"/", "/etc", "/etc/", "/a/b.c/..d/.e", "/a/...", NULL};
    static const char *const not_normal[] = {"",      "etc",     "//", "/a//b", "/a/./b",
                                             "/a/..", "/a/../b", "/.", "/..",   NULL};
    for (int i = 0; normal[i]; i++)
        assert_int_equal(rp_util_path_normal(normal[i]), 1);
    for (int i = 0; not_normal[i]; i++)
        assert_int_equal(rp_util_path_normal(not_normal[i]), 0);
    assert_int_equal(rp_util_path_normal(NULL), 0);

    char dir[9]; /* "/usr/bin" and its NUL exactly */
    rp_util_path_dir("/usr/bin/x", dir, sizeof dir);
    assert_string_equal(dir, "/usr/bin");
    rp_util_path_dir("/x", dir, sizeof dir);
    assert_string_equal(dir, "");
    rp_util_path_dir("x", dir, sizeof dir);
    assert_string_equal(dir, "");
    rp_util_path_dir("/longer/than/cap", dir, sizeof dir);
    assert_string_equal(dir, "");

    /* SHA-256 of a file through a small buffer (several reads), its offset
     * untouched; a cap below its size refuses. */
    char path[] = "/tmp/rp-util-sha-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, "abc", 3), 3);
    uint8_t d[32], buf[2];
    assert_int_equal(rp_util_sha256_fd(fd, 3, buf, sizeof buf, d), 0);
    char dh[65];
    rp_util_hex(d, sizeof d, dh);
    assert_string_equal(dh, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 3);
    assert_int_equal(rp_util_sha256_fd(fd, 2, buf, sizeof buf, d), RP_ERR_RANGE);
    assert_int_equal(rp_util_sha256_fd(fd, 3, buf, 0, d), RP_ERR_INVAL);
    assert_int_equal(rp_util_sha256_fd(-1, 3, buf, sizeof buf, d), RP_ERR_INVAL);
    close(fd);
}

static void test_sha256_entity(void **state)
{
    (void)state;
    uint8_t d[32];
    char hex[65];
    rp_util_sha256 s;
    rp_util_sha256_init(&s);
    rp_util_sha256_final(&s, d);
    hex32(d, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char a[200];
    memset(a, 'a', sizeof a);
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, a, 7);
    rp_util_sha256_update(&s, a + 7, 64);
    rp_util_sha256_update(&s, a + 71, 129);
    rp_util_sha256_final(&s, d);
    hex32(d, hex);
    assert_string_equal(hex, "c2a908d98f5df987ade41b5fce213067efbcc21ef2240212a41e54b5e7c28ae5");
    char id[RP_UTIL_ENTITY_ID_LEN + 1];
    rp_util_entity_id("3d1219c7c4c5404aaa1f6d2a48adfda4", 32, 4242, 123456, id);
    assert_string_equal(id, "15d98bb66cefa319a598a3bf7a433201");
}

static int bob_only(const char *name, uint32_t *uid)
{
    if (strcmp(name, "bob") != 0)
        return RP_ERR_NOTFOUND;
    *uid = 777;
    return 0;
}

/* The exclusion rules: loading from a plugin config, whole-component prefix
 * matches, exact executables, numeric users, and clear refusals. */
static void test_exclude_rules(void **state)
{
    (void)state;
    static const char cfg[] =
        "{\"a\":1,\"exclude_rules\":{\"executables\":[\"/usr/bin/backup\"],"
        "\"path_prefixes\":[\"/var/cache/\",\"/srv\"],\"users\":[\"1001\",\"0\"]}}";
    rp_util_exclude x;
    char err[256] = "";
    char *j = dup_exact(cfg, sizeof cfg - 1);
    assert_int_equal(rp_util_exclude_load(j, sizeof cfg - 1, &x, NULL, err, sizeof err), 0);
    free(j);
    assert_int_equal(x.nexe, 1);
    assert_int_equal(x.nprefix, 2);
    assert_int_equal(x.nuid, 2);
    assert_true(rp_util_exclude_exe(&x, "/usr/bin/backup", 15));
    assert_false(rp_util_exclude_exe(&x, "/usr/bin/backup2", 16));
    assert_false(rp_util_exclude_exe(&x, "/usr/bin/backu", 14));
    assert_true(rp_util_exclude_path(&x, "/var/cache", 10)); /* trailing slash cut */
    assert_true(rp_util_exclude_path(&x, "/var/cache/x/y", 14));
    assert_false(rp_util_exclude_path(&x, "/var/cachex", 11));
    assert_false(rp_util_exclude_path(&x, "/var", 4));
    assert_true(rp_util_exclude_path(&x, "/srv/a", 6));
    assert_true(rp_util_exclude_uid(&x, 1001));
    assert_true(rp_util_exclude_uid(&x, 0));
    assert_false(rp_util_exclude_uid(&x, 1000));
    rp_util_exclude_free(&x);
    assert_int_equal(x.nexe, 0);

    /* No key: no rules. */
    assert_int_equal(rp_util_exclude_load("{\"a\":1}", 7, &x, NULL, err, sizeof err), 0);
    assert_false(rp_util_exclude_path(&x, "/", 1));
    assert_false(rp_util_exclude_uid(&x, 0));

    static const char rel[] = "{\"exclude_rules\":{\"path_prefixes\":[\"tmp\"]}}";
    assert_int_equal(rp_util_exclude_load(rel, sizeof rel - 1, &x, NULL, err, sizeof err),
                     RP_ERR_CONFIG);
    assert_non_null(strstr(err, "exclude_rules.path_prefixes[0]"));
    assert_int_equal(x.nprefix, 0);
    /* Names go through the resolver; one it does not know is refused, by
     * name; without a resolver every name is. */
    static const char name[] = "{\"exclude_rules\":{\"users\":[\"bob\",\"alice\"]}}";
    assert_int_equal(rp_util_exclude_load(name, sizeof name - 1, &x, bob_only, err, sizeof err),
                     RP_ERR_CONFIG);
    assert_non_null(strstr(err, "users[1]"));
    assert_non_null(strstr(err, "alice"));
    static const char bob[] = "{\"exclude_rules\":{\"users\":[\"bob\"]}}";
    assert_int_equal(rp_util_exclude_load(bob, sizeof bob - 1, &x, bob_only, err, sizeof err), 0);
    assert_true(rp_util_exclude_uid(&x, 777));
    rp_util_exclude_free(&x);
    assert_int_equal(rp_util_exclude_load(name, sizeof name - 1, &x, NULL, err, sizeof err),
                     RP_ERR_CONFIG);
    assert_non_null(strstr(err, "users[0]"));
    assert_non_null(strstr(err, "bob"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_inside_string_value_not_matched),
        cmocka_unit_test(test_key_of_nested_object_not_matched),
        cmocka_unit_test(test_escaped_key_and_duplicates),
        cmocka_unit_test(test_string_escapes),
        cmocka_unit_test(test_string_bad_escapes),
        cmocka_unit_test(test_string_buffer_cap),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_missing_keys),
        cmocka_unit_test(test_truncated_input),
        cmocka_unit_test(test_malformed_text),
        cmocka_unit_test(test_depth_cap),
        cmocka_unit_test(test_array_iteration),
        cmocka_unit_test(test_matches_jansson),
        cmocka_unit_test(test_logf),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_config_text),
        cmocka_unit_test(test_sha256_entity),
        cmocka_unit_test(test_hex_paths_and_file_hash),
        cmocka_unit_test(test_exclude_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
