/*
 * tests/unit/test_json_scan.c - the strict JSON scanner (core/lib/json_scan.c):
 * the keys it finds, what it refuses, agreement with jansson on valid text,
 * and the depth cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/json_scan.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Scanner */

static void test_scan_finds_keys(void **state)
{
    (void)state;
    static const char *const keys[] = {"event.id", "@timestamp", "absent", "n", "o"};
    rp__json_span v[5];
    const char *s = " {\"@timestamp\":\"t\" , \"x\":[1,{\"event.id\":\"inner\"}],\"event.id\":"
                    "\"abc\",\"n\":-1.5e+3,\"o\":{\"a\":[]}}\r\n";
    assert_int_equal(rp__json_scan_object(s, strlen(s), keys, 5, v), 0);
    assert_int_equal(v[0].type, RP__JSON_STRING);
    assert_int_equal(v[0].len, 5);
    assert_memory_equal(v[0].ptr, "\"abc\"", 5);
    assert_int_equal(v[1].type, RP__JSON_STRING);
    assert_memory_equal(v[1].ptr, "\"t\"", 3);
    assert_int_equal(v[2].type, RP__JSON_ABSENT);
    assert_null(v[2].ptr);
    assert_int_equal(v[3].type, RP__JSON_NUMBER);
    assert_memory_equal(v[3].ptr, "-1.5e+3", 7);
    assert_int_equal(v[4].type, RP__JSON_OBJECT);
    assert_memory_equal(v[4].ptr, "{\"a\":[]}", 8);

    /* Keys compare after unescaping; values decode. */
    const char *e = "{\"event\\u002eid\":\"a\\u00e9\\ud83d\\ude00\\n\\\"\\/\"}";
    assert_int_equal(rp__json_scan_object(e, strlen(e), keys, 1, v), 0);
    char out[32];
    size_t n;
    assert_int_equal(rp__json_string_decode(&v[0], out, sizeof out, &n), 0);
    assert_int_equal(n, 1 + 2 + 4 + 1 + 1 + 1);
    assert_memory_equal(out, "a\xc3\xa9\xf0\x9f\x98\x80\n\"/", n);
    assert_int_equal(rp__json_string_decode(&v[0], out, 5, &n), RP_ERR_FULL);
    rp__json_span num = {"1", 1, RP__JSON_NUMBER};
    assert_int_equal(rp__json_string_decode(&num, out, sizeof out, &n), RP_ERR_TYPE);

    /* A wanted key twice is ambiguous; other duplicates are JSON's business. */
    const char *d = "{\"event.id\":\"a\",\"x\":1,\"x\":2,\"event.id\":\"b\"}";
    assert_int_equal(rp__json_scan_object(d, strlen(d), keys, 1, v), RP_ERR_EXISTS);
    assert_int_equal(rp__json_scan_object(d, strlen(d), keys + 1, 1, v), 0);
    /* No keys wanted: a plain validity check. */
    assert_int_equal(rp__json_scan_object("{}", 2, NULL, 0, NULL), 0);
}

static void test_scan_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        " ",
        "[]",
        "\"s\"",
        "1",
        "{",
        "}",
        "{}{}",
        "{} x",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\":1 \"b\":2}",
        "{a:1}",
        "{'a':1}",
        "{\"a\":01}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":+1}",
        "{\"a\":-}",
        "{\"a\":0x10}",
        "{\"a\":NaN}",
        "{\"a\":Infinity}",
        "{\"a\":tru}",
        "{\"a\":True}",
        "{\"a\":nul}",
        "{\"a\":[1,]}",
        "{\"a\":[1 2]}",
        "{\"a\":[}",
        "{\"a\":{\"b\"}}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\u12G4\"}",
        "{\"a\":\"\\ud800\"}",        /* lone high surrogate */
        "{\"a\":\"\\udc00\"}",        /* lone low surrogate */
        "{\"a\":\"\\ud800\\u0041\"}", /* high then not low */
        "{\"a\":\"tab\there\"}",      /* raw control character */
        "{\"a\":\"nl\nx\"}",
        "{\"a\":\"\xff\"}",             /* not UTF-8 */
        "{\"a\":\"\xc0\xaf\"}",         /* overlong */
        "{\"a\":\"\xed\xa0\x80\"}",     /* UTF-8 surrogate */
        "{\"a\":\"\xf4\x90\x80\x80\"}", /* above U+10FFFF */
        "{\"a\":\"\xe2\x82\"}",         /* truncated */
        "{\"a\xff\":1}",                /* bad key */
        "\xef\xbb\xbf{}",               /* byte order mark */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = rp__json_scan_object(bad[i], strlen(bad[i]), NULL, 0, NULL);
        if (rc != RP_ERR_PARSE)
            fail_msg("case %zu (%s): %s, want RP_ERR_PARSE", i, bad[i], rp_errname(rc));
        /* jansson agrees that none of them is a JSON object. */
        json_error_t err;
        json_t *j = json_loads(bad[i], 0, &err);
        if (j && json_is_object(j))
            fail_msg("case %zu (%s): jansson accepts it", i, bad[i]);
        json_decref(j);
    }
    /* NUL inside the text is a raw control character. */
    assert_int_equal(rp__json_scan_object("{\"a\":\"\0\"}", 9, NULL, 0, NULL), RP_ERR_PARSE);
    /* The length is the end: the closing brace beyond it does not count. */
    assert_int_equal(rp__json_scan_object("{\"a\":1}", 6, NULL, 0, NULL), RP_ERR_PARSE);
}

static void test_scan_valid_agrees_with_jansson(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{}",
        " { } ",
        "{\"a\":[]}",
        "{\"a\":[[],{}]}",
        /* One literal split in two (parenthesized: the join is meant). */
        ("{\"a\":0,\"b\":-0,\"c\":0.5,\"d\":1E5,\"e\":-12.5e-3,\"f\":"
         "123456789012345678901234567890}"),
        "{\"a\":true,\"b\":false,\"c\":null}",
        "{\"a\":\"\\u0000\"}",
        "{\"\":\"\"}",
        "{\"a\":\"\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"}",
        "{\"a\":\"\\ud83d\\ude00\\uFFFF\\b\\f\\n\\r\\t\\/\\\\\\\"\"}",
        "\t{\"a\"\n:\r1 ,\"b\" : [ 1 , 2 ] }\n",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int rc = rp__json_scan_object(good[i], strlen(good[i]), NULL, 0, NULL);
        if (rc != 0)
            fail_msg("case %zu (%s): %s", i, good[i], rp_errname(rc));
        json_error_t err;
        json_t *j =
            json_loadb(good[i], strlen(good[i]), JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
        if (!j)
            fail_msg("case %zu: jansson refuses (%s)", i, err.text);
        json_decref(j);
    }
}

static void test_scan_depth(void **state)
{
    (void)state;
    /* {"a": + (depth-1) arrays: the top-level object counts as one level. */
    char s[2 * RP__JSON_SCAN_MAX_DEPTH + 16];
    for (int extra = -1; extra <= 1; extra++) {
        int arrays = RP__JSON_SCAN_MAX_DEPTH - 1 + extra;
        size_t n = 0;
        memcpy(s + n, "{\"a\":", 5);
        n += 5;
        for (int i = 0; i < arrays; i++)
            s[n++] = '[';
        for (int i = 0; i < arrays; i++)
            s[n++] = ']';
        s[n++] = '}';
        int rc = rp__json_scan_object(s, n, NULL, 0, NULL);
        assert_int_equal(rc, extra <= 0 ? 0 : RP_ERR_RANGE);
    }
    /* Hostile depth far beyond: refused, not a crash. */
    size_t big = 1u << 20;
    char *deep = malloc(big);
    assert_non_null(deep);
    memcpy(deep, "{\"a\":", 5);
    memset(deep + 5, '[', big - 5);
    assert_int_equal(rp__json_scan_object(deep, big, NULL, 0, NULL), RP_ERR_RANGE);
    memset(deep + 5, '{', big - 5);
    assert_int_equal(rp__json_scan_object(deep, big, NULL, 0, NULL), RP_ERR_PARSE);
    free(deep);
}

static void test_skip_ws(void **state)
{
    (void)state;
    assert_int_equal(rp__json_skip_ws(" \t\r\n{", 5, 0), 4);
    assert_int_equal(rp__json_skip_ws("  ", 2, 0), 2);
    assert_int_equal(rp__json_skip_ws("a ", 2, 0), 0);
    assert_int_equal(rp__json_skip_ws("a \v", 3, 1), 2); /* \v is not JSON whitespace */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_finds_keys),
        cmocka_unit_test(test_scan_rejects),
        cmocka_unit_test(test_scan_valid_agrees_with_jansson),
        cmocka_unit_test(test_scan_depth),
        cmocka_unit_test(test_skip_ws),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
