/* tests/unit/test_ndjson.c - the flat-ECS NDJSON encoder (core/output/ndjson.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/event.h"
#include "runtime/fields.h"
#include "output/ndjson.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Helpers */

static rp_field_id fid(const char *name, uint32_t type)
{
    rp_field_id id = 0;
    int rc = rp__field_intern(name, strlen(name), type, &id);
    if (rc != 0)
        fail_msg("intern %s: %s", name, rp_errname(rc));
    return id;
}

static rp_event *new_event(const char *topic)
{
    rp_event *ev = NULL;
    assert_int_equal(rp__event_create(1, topic, 0, &ev), 0);
    return ev;
}

/* Encodes ev alone and returns the line as a NUL-terminated malloc'd string. */
static char *encode_line(const rp_event *ev, size_t *len_out)
{
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    int rc = rp__ndjson_encode(ev, &b);
    if (rc != 0)
        fail_msg("encode: %s", rp_errname(rc));
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    if (len_out)
        *len_out = b.len;
    rp__buf_free(&b);
    return s;
}

/* Checks the line is one JSON object followed by exactly one "\n" and
 * returns it parsed (jansson also checks the text is valid UTF-8). */
static json_t *parse_line_flags(const char *line, size_t len, size_t flags)
{
    assert_true(len >= 3);
    assert_int_equal(line[len - 1], '\n');
    assert_null(memchr(line, '\n', len - 1));
    json_error_t jerr;
    json_t *obj = json_loadb(line, len - 1, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | flags, &jerr);
    if (!obj)
        fail_msg("not JSON (%s at %d): %s", jerr.text, jerr.position, line);
    assert_true(json_is_object(obj));
    return obj;
}

static json_t *parse_line(const char *line, size_t len)
{
    return parse_line_flags(line, len, 0);
}

/* Escapes s and returns the JSON string text (with quotes), malloc'd. */
static char *escaped(const char *s, size_t len, size_t *out_len)
{
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    assert_int_equal(rp__json_append_string(s, len, &b), 0);
    char *r = malloc(b.len + 1);
    assert_non_null(r);
    memcpy(r, b.data, b.len);
    r[b.len] = '\0';
    if (out_len)
        *out_len = b.len;
    rp__buf_free(&b);
    return r;
}

/* Parses one JSON string value with jansson: returns its bytes (malloc'd). */
static char *json_decode_string(const char *text, size_t len, size_t *out_len)
{
    json_error_t jerr;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v || !json_is_string(v))
        fail_msg("not a JSON string (%s): %s", v ? "type" : jerr.text, text);
    size_t n = json_string_length(v);
    char *r = malloc(n + 1);
    assert_non_null(r);
    memcpy(r, json_string_value(v), n + 1);
    *out_len = n;
    json_decref(v);
    return r;
}

/* ------------------------------------------------------------------------ */
/* Exact bytes of a small fixed event */

static void test_exact_small_event(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    assert_int_equal(rp__event_set_timestamp(ev, RP__F_TIMESTAMP, INT64_C(1795884722123456789)), 0);
    assert_int_equal(rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), 4242), 0);
    assert_int_equal(rp__event_set_str(ev, fid("process.name", RP_TYPE_STR), "bash", 4), 0);
    rp_str args[] = {{"ls", 2}, {"-l", 2}, {"/tmp/a \"b\"", 10}};
    assert_int_equal(rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), args, 3),
                     0);
    assert_int_equal(rp__event_set_bool(ev, fid("process.interactive", RP_TYPE_BOOL), 1), 0);
    assert_int_equal(rp__event_set_u64(ev, fid("file.size", RP_TYPE_U64), UINT64_MAX), 0);
    assert_int_equal(rp__event_set_i64(ev, fid("event.severity", RP_TYPE_I64), INT64_MIN), 0);
    rp_ip v4 = {4, {192, 0, 2, 1}};
    assert_int_equal(rp__event_set_ip(ev, fid("source.ip", RP_TYPE_IP), &v4), 0);
    rp_ip v6 = {6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    assert_int_equal(rp__event_set_ip(ev, fid("destination.ip", RP_TYPE_IP), &v6), 0);
    assert_int_equal(rp__event_set_bytes(ev, fid("acme.blob", RP_TYPE_BYTES), "\x00\xff\x10", 3),
                     0);
    assert_int_equal(rp__event_set_str_array(ev, fid("tags", RP_TYPE_STR_ARRAY), NULL, 0), 0);
    assert_int_equal(rp__event_set_bool(ev, fid("acme.flag", RP_TYPE_BOOL), 0), 0);
    assert_int_equal(rp__event_set_str(ev, fid("message", RP_TYPE_STR), "", 0), 0);

    const char *id;
    assert_int_equal(rp__event_get_str(ev, RP__F_EVENT_ID, &id, NULL), 0);
    char want[1024];
    snprintf(want, sizeof want,
             "{\"@timestamp\":\"2026-11-28T16:52:02.123456789Z\",\"event.id\":\"%s\","
             "\"event.kind\":\"event\",\"process.pid\":4242,\"process.name\":\"bash\","
             "\"process.args\":[\"ls\",\"-l\",\"/tmp/a \\\"b\\\"\"],\"process.interactive\":true,"
             "\"file.size\":18446744073709551615,\"event.severity\":-9223372036854775808,"
             "\"source.ip\":\"192.0.2.1\",\"destination.ip\":\"2001:db8::1\","
             "\"acme.blob\":\"00ff10\",\"tags\":[],\"acme.flag\":false,\"message\":\"\"}\n",
             id);
    size_t len;
    char *got = encode_line(ev, &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    /* jansson's integers are int64: UINT64_MAX parses only as a real. */
    json_decref(parse_line_flags(got, len, JSON_DECODE_INT_AS_REAL));
    free(got);
    rp__event_release(ev);
}

/* ------------------------------------------------------------------------ */
/* A realistic process.exec event, checked field by field through jansson */

static rp_event *process_exec_event(void)
{
    rp_event *ev = new_event("process.exec");
    rp_str cat[] = {{"process", 7}};
    rp_str typ[] = {{"start", 5}};
    rp__event_set_str_array(ev, fid("event.category", RP_TYPE_STR_ARRAY), cat, 1);
    rp__event_set_str_array(ev, fid("event.type", RP_TYPE_STR_ARRAY), typ, 1);
    rp__event_set_str(ev, fid("event.action", RP_TYPE_STR), "exec", 4);
    rp__event_set_str(ev, fid("host.name", RP_TYPE_STR), "ws-lab-017", 10);
    rp__event_set_str(ev, fid("host.id", RP_TYPE_STR), "4f1c0a3e9b2d4c7a8e6f5d4c3b2a1908", 32);
    rp__event_set_str(ev, fid("host.os.type", RP_TYPE_STR), "linux", 5);
    rp_ip hip = {4, {10, 20, 30, 40}};
    rp__event_set_ip(ev, fid("host.ip", RP_TYPE_IP), &hip);
    rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), 48211);
    rp__event_set_str(ev, fid("process.entity_id", RP_TYPE_STR), "ws-lab-017:48211:1795884722", 27);
    rp__event_set_str(ev, fid("process.name", RP_TYPE_STR), "curl", 4);
    rp__event_set_str(ev, fid("process.executable", RP_TYPE_STR), "/usr/bin/curl", 13);
#define S(lit) {lit, sizeof(lit) - 1}
    rp_str args[] = {S("curl"), S("-sS"), S("-o"), S("/tmp/Überweisung\t.pdf"),
                     S("https://example.org/a?b=\"c\"")};
#undef S
    rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), args, 5);
    rp__event_set_i64(ev, fid("process.args_count", RP_TYPE_I64), 5);
    const char *cmd = "curl -sS -o '/tmp/Überweisung\t.pdf' https://example.org/a?b=\"c\"";
    rp__event_set_str(ev, fid("process.command_line", RP_TYPE_STR), cmd, strlen(cmd));
    rp__event_set_str(ev, fid("process.working_directory", RP_TYPE_STR), "/home/anna", 10);
    rp__event_set_str(ev, fid("user.id", RP_TYPE_STR), "1000", 4);
    rp__event_set_str(ev, fid("user.name", RP_TYPE_STR), "anna", 4);
    rp__event_set_i64(ev, fid("process.parent.pid", RP_TYPE_I64), 1201);
    rp__event_set_str(ev, fid("process.parent.name", RP_TYPE_STR), "bash", 4);
    rp__event_set_str(ev, fid("process.parent.executable", RP_TYPE_STR), "/usr/bin/bash", 13);
    rp__event_set_str(ev, fid("process.hash.sha256", RP_TYPE_STR),
                      "3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed", 64);
    rp__event_set_timestamp(ev, fid("process.start", RP_TYPE_TIMESTAMP),
                            INT64_C(1795884722000000000));
    rp__event_set_u64(ev, fid("file.size", RP_TYPE_U64), UINT64_C(12345678901234));
    rp__event_set_bool(ev, fid("process.interactive", RP_TYPE_BOOL), 0);
    rp__event_set_bytes(ev, fid("acme.raw", RP_TYPE_BYTES), "\x00\x01\xfe\xff", 4);
    return ev;
}

/* Checks every field of ev against the parsed object. */
static void check_fields_match(const rp_event *ev, json_t *obj, const char *line)
{
    uint32_t n = rp__event_field_count(ev);
    assert_int_equal(json_object_size(obj), n);
    const char *prev = line;
    for (uint32_t i = 0; i < n; i++) {
        rp__field_view v;
        assert_int_equal(rp__event_field_at(ev, i, &v), 0);
        size_t nlen;
        const char *name = rp__field_name(v.id, &nlen);
        json_t *j = json_object_get(obj, name);
        if (!j)
            fail_msg("key %s missing in %s", name, line);
        /* The keys come in the event's field order. */
        char quoted[160];
        snprintf(quoted, sizeof quoted, "\"%s\":", name);
        const char *at = strstr(line, quoted);
        assert_non_null(at);
        assert_true(at >= prev);
        prev = at;
        switch (v.type) {
        case RP_TYPE_I64:
            assert_true(json_is_integer(j));
            assert_true(json_integer_value(j) == v.i64);
            break;
        case RP_TYPE_U64: /* jansson integers are signed: compare the text */
            assert_true(json_is_integer(j) || json_is_real(j));
            {
                char num[32];
                snprintf(num, sizeof num, "\"%s\":%llu", name, (unsigned long long)v.u64);
                assert_non_null(strstr(line, num));
            }
            break;
        case RP_TYPE_BOOL:
            assert_true(json_is_boolean(j));
            assert_int_equal(json_is_true(j), v.u64 != 0);
            break;
        case RP_TYPE_STR:
            assert_true(json_is_string(j));
            assert_int_equal(json_string_length(j), v.len);
            assert_memory_equal(json_string_value(j), v.ptr, v.len);
            break;
        case RP_TYPE_BYTES: {
            assert_true(json_is_string(j));
            assert_int_equal(json_string_length(j), 2 * v.len);
            const unsigned char *b = v.ptr;
            for (uint64_t k = 0; k < v.len; k++) {
                char hx[3];
                snprintf(hx, sizeof hx, "%02x", b[k]);
                assert_memory_equal(json_string_value(j) + 2 * k, hx, 2);
            }
            break;
        }
        case RP_TYPE_TIMESTAMP: {
            char ts[RP__JSON_TIMESTAMP_MAX + 1];
            rp__json_format_timestamp(v.i64, ts);
            assert_string_equal(json_string_value(j), ts);
            break;
        }
        case RP_TYPE_IP: {
            rp_ip ip;
            memcpy(&ip, v.ptr, sizeof ip);
            unsigned char back[16];
            int af = ip.family == 4 ? AF_INET : AF_INET6;
            assert_int_equal(inet_pton(af, json_string_value(j), back), 1);
            assert_memory_equal(back, ip.addr, ip.family == 4 ? 4 : 16);
            break;
        }
        case RP_TYPE_STR_ARRAY:
            assert_true(json_is_array(j));
            assert_int_equal(json_array_size(j), v.count);
            for (uint32_t k = 0; k < v.count; k++) {
                const char *s;
                uint64_t len;
                assert_int_equal(rp__event_get_str_array_item(ev, v.id, k, &s, &len), 0);
                json_t *item = json_array_get(j, k);
                assert_true(json_is_string(item));
                assert_int_equal(json_string_length(item), len);
                assert_memory_equal(json_string_value(item), s, len);
            }
            break;
        default:
            fail_msg("unexpected type %u", v.type);
        }
    }
}

static void test_process_exec_parses_back(void **state)
{
    (void)state;
    rp_event *ev = process_exec_event();
    size_t len;
    char *line = encode_line(ev, &len);
    json_t *obj = parse_line(line, len);
    check_fields_match(ev, obj, line);
    /* Spot checks of the shape, independent of the loop above. */
    assert_string_equal(json_string_value(json_object_get(obj, "event.kind")), "event");
    assert_int_equal(json_integer_value(json_object_get(obj, "process.pid")), 48211);
    assert_non_null(
        strstr(line, "\"process.args\":[\"curl\",\"-sS\",\"-o\",\"/tmp/Überweisung\\t.pdf\","));
    assert_non_null(strstr(line, "\"acme.raw\":\"0001feff\""));
    assert_non_null(strstr(line, "\"process.start\":\"2026-11-28T16:52:02.000Z\""));
    json_decref(obj);
    free(line);
    rp__event_release(ev);
}

/* Lines append one after another; an event with only the stamped fields. */
static void test_lines_append(void **state)
{
    (void)state;
    rp_event *a = new_event("alert");
    rp_event *h = new_event("agent.health");
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    assert_int_equal(rp__ndjson_encode(a, &b), 0);
    size_t first = b.len;
    assert_int_equal(rp__ndjson_encode(h, &b), 0);
    assert_int_equal(rp__ndjson_encode(a, &b), 0);
    json_t *o1 = parse_line(b.data, first);
    const char *second = b.data + first;
    const char *nl = memchr(second, '\n', b.len - first);
    assert_non_null(nl);
    json_t *o2 = parse_line(second, (size_t)(nl - second) + 1);
    assert_string_equal(json_string_value(json_object_get(o1, "event.kind")), "alert");
    assert_string_equal(json_string_value(json_object_get(o2, "event.kind")), "metric");
    assert_int_equal(json_object_size(o1), 3);
    /* The third line is the first one again, byte for byte. */
    assert_memory_equal(b.data + b.len - first, b.data, first);
    json_decref(o1);
    json_decref(o2);
    rp__buf_free(&b);
    rp__event_release(a);
    rp__event_release(h);
}

/* ------------------------------------------------------------------------ */
/* Escaping */

static void test_escape_control_chars(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 0x20; c++) {
        char in[3] = {'a', (char)c, 'b'};
        char want[16];
        switch (c) {
        case '\b':
            snprintf(want, sizeof want, "\"a\\bb\"");
            break;
        case '\t':
            snprintf(want, sizeof want, "\"a\\tb\"");
            break;
        case '\n':
            snprintf(want, sizeof want, "\"a\\nb\"");
            break;
        case '\f':
            snprintf(want, sizeof want, "\"a\\fb\"");
            break;
        case '\r':
            snprintf(want, sizeof want, "\"a\\rb\"");
            break;
        default:
            snprintf(want, sizeof want, "\"a\\u00%02xb\"", c);
            break;
        }
        size_t n;
        char *got = escaped(in, 3, &n);
        assert_string_equal(got, want);
        /* jansson reads back the exact byte. */
        size_t dn;
        char *dec = json_decode_string(got, n, &dn);
        assert_int_equal(dn, 3);
        assert_memory_equal(dec, in, 3);
        free(dec);
        free(got);
    }
}

static void test_escape_specials(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"", 0, "\"\""},
        {"\"", 1, "\"\\\"\""},
        {"\\", 1, "\"\\\\\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\\\"\\\"", 4, "\"\\\\\\\"\\\\\\\"\""},
        {"/", 1, "\"/\""},
        {"\x7f", 1, "\"\x7f\""}, /* DEL is fine raw */
        {"\x00\x00", 2, "\"\\u0000\\u0000\""},
        {" ~!#$%&'()*+,-.", 15, "\" ~!#$%&'()*+,-.\""},
        {"0123456789abcdefghijklmnopqrstuvwxyz\"", 37,
         "\"0123456789abcdefghijklmnopqrstuvwxyz\\\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = escaped(cases[i].in, cases[i].len, NULL);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu: want %s got %s", i, cases[i].want, got);
        free(got);
    }
    /* Without quotes, appended after existing content. */
    rp__buf b;
    rp__buf_init(&b, 64);
    assert_int_equal(rp__buf_append_cstr(&b, "x="), 0);
    assert_int_equal(rp__json_escape("a\nb", 3, &b), 0);
    assert_int_equal(b.len, 6);
    assert_memory_equal(b.data, "x=a\\nb", 6);
    assert_int_equal(rp__json_escape(NULL, 0, &b), 0);
    assert_int_equal(b.len, 6);
    rp__buf_free(&b);
}

/* Every special byte at every position around the 8-byte scanner's word
 * boundaries, inside long plain runs. */
static void test_escape_positions(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\n', 0x01, 0x1f, '\0'};
    for (size_t si = 0; si < sizeof specials; si++) {
        for (size_t pos = 0; pos < 40; pos++) {
            char in[41];
            memset(in, 'x', sizeof in);
            in[pos] = specials[si];
            size_t n;
            char *got = escaped(in, sizeof in, &n);
            size_t dn;
            char *dec = json_decode_string(got, n, &dn);
            assert_int_equal(dn, sizeof in);
            assert_memory_equal(dec, in, sizeof in);
            free(dec);
            free(got);
        }
    }
}

struct utf8_case {
    const char *in;
    const char *want; /* inside the quotes */
};

#define FFFD "\xef\xbf\xbd"

/* From Markus Kuhn's UTF-8 decoder capability and stress test, and the
 * example of Unicode chapter 3 (U+FFFD substitution of maximal subparts). */
static const struct utf8_case utf8_cases[] = {
    /* correct sequences at the boundaries pass through unchanged */
    {"\xc2\x80", "\xc2\x80"},
    {"\xdf\xbf", "\xdf\xbf"},
    {"\xe0\xa0\x80", "\xe0\xa0\x80"},
    {"\xed\x9f\xbf", "\xed\x9f\xbf"}, /* U+D7FF */
    {"\xee\x80\x80", "\xee\x80\x80"}, /* U+E000 */
    {"\xef\xbf\xbd", "\xef\xbf\xbd"},
    {"\xef\xbf\xbf", "\xef\xbf\xbf"}, /* U+FFFF */
    {"\xf0\x90\x80\x80", "\xf0\x90\x80\x80"},
    {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},                 /* U+10FFFF */
    {"\xe2\x80\xa8\xe2\x80\xa9", "\xe2\x80\xa8\xe2\x80\xa9"}, /* U+2028/9 */
    {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
     "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"},
    /* 3.1 unexpected continuation bytes */
    {"\x80", FFFD},
    {"\xbf", FFFD},
    {"\x80\xbf", FFFD FFFD},
    {"\x80\xbf\x80\xbf\x80", FFFD FFFD FFFD FFFD FFFD},
    /* 3.2 lonely start characters */
    {"\xc0 \xdf ", FFFD " " FFFD " "},
    {"\xe0 \xef ", FFFD " " FFFD " "},
    {"\xf0 \xf7 ", FFFD " " FFFD " "},
    {"\xf8 \xfb \xfc \xfd ", FFFD " " FFFD " " FFFD " " FFFD " "},
    /* 3.3 sequences with the last byte missing */
    {"\xc3", FFFD},
    {"\xe2\x82", FFFD},
    {"a\xe2\x82", "a" FFFD}, /* truncated 3-byte sequence at the end */
    {"\xe2\x82x", FFFD "x"},
    {"\xf0\x9f\x98", FFFD},
    {"\xf0\x9f", FFFD},
    {"\xdf", FFFD},
    {"\xef\xbf", FFFD},
    /* 3.4 concatenation of incomplete sequences */
    {"\xc3\xe2\x82\xf0\x9f\x98", FFFD FFFD FFFD},
    /* 3.5 impossible bytes */
    {"\xfe", FFFD},
    {"\xff", FFFD},
    {"\xfe\xfe\xff\xff", FFFD FFFD FFFD FFFD},
    {"\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD}, /* above U+10FFFF by lead byte */
    {"\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD}, /* U+110000 */
    /* 4.1 overlong "/" */
    {"\xc0\xaf", FFFD FFFD},
    {"\xe0\x80\xaf", FFFD FFFD FFFD},
    {"\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD},
    {"\xf8\x80\x80\x80\xaf", FFFD FFFD FFFD FFFD FFFD},
    /* 4.2 maximum overlongs */
    {"\xc1\xbf", FFFD FFFD},
    {"\xe0\x9f\xbf", FFFD FFFD FFFD},
    {"\xf0\x8f\xbf\xbf", FFFD FFFD FFFD FFFD},
    /* 4.3 overlong NUL */
    {"\xc0\x80", FFFD FFFD},
    /* 5.1 single UTF-16 surrogates */
    {"\xed\xa0\x80", FFFD FFFD FFFD},
    {"\xed\xad\xbf", FFFD FFFD FFFD},
    {"\xed\xbf\xbf", FFFD FFFD FFFD},
    /* 5.2 paired UTF-16 surrogates */
    {"\xed\xa0\x80\xed\xb0\x80", FFFD FFFD FFFD FFFD FFFD FFFD},
    /* Unicode 3-8 example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
    {"a\xf1\x80\x80\xe1\x80\xc2"
     "b\x80"
     "c\x80\xbf"
     "d",
     "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d"},
    /* invalid bytes next to characters that need escaping */
    {"\xc3\"", FFFD "\\\""},
    {"\xe2\x82\n", FFFD "\\n"},
};

static void test_utf8_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof utf8_cases / sizeof utf8_cases[0]; i++) {
        const struct utf8_case *c = &utf8_cases[i];
        /* The case inside plain runs of every alignment. */
        for (size_t pad = 0; pad < 17; pad += (pad < 9 ? 1 : 8)) {
            char in[256], want[512];
            memset(in, 'p', pad);
            memcpy(in + pad, c->in, strlen(c->in));
            memset(in + pad + strlen(c->in), 'q', pad);
            size_t in_len = 2 * pad + strlen(c->in);
            want[0] = '"';
            memset(want + 1, 'p', pad);
            memcpy(want + 1 + pad, c->want, strlen(c->want));
            memset(want + 1 + pad + strlen(c->want), 'q', pad);
            size_t want_len = 2 + 2 * pad + strlen(c->want);
            want[want_len - 1] = '"';
            want[want_len] = '\0';
            size_t n;
            char *got = escaped(in, in_len, &n);
            if (n != want_len || memcmp(got, want, n) != 0)
                fail_msg("case %zu pad %zu: want %s got %s", i, pad, want, got);
            /* Always valid UTF-8: jansson refuses anything else. */
            size_t dn;
            free(json_decode_string(got, n, &dn));
            free(got);
        }
    }
}

/* An independent reference for the substitution: the set of every prefix of
 * every well-formed UTF-8 sequence, built by encoding all scalar values.
 * At each non-ASCII position the longest prefix found in the set is either
 * a whole character (copied) or the maximal subpart (one U+FFFD). */
static unsigned char *prefix_set; /* bit per (len, bytes) key */
static unsigned char complete_set[1u << 24 >> 3];

static uint32_t prefix_key(const unsigned char *s, size_t n)
{
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++)
        k = k << 8 | s[i];
    return k;
}

static void set_bit(unsigned char *set, uint32_t k)
{
    set[k >> 3] |= (unsigned char)(1u << (k & 7));
}

static int get_bit(const unsigned char *set, uint32_t k)
{
    return (set[k >> 3] >> (k & 7)) & 1;
}

/* prefix_set holds keys of 1, 2 and 3 bytes in three separate ranges. */
#define PREFIX_BITS ((1u << 8) + (1u << 16) + (1u << 24))
static uint32_t prefix_index(const unsigned char *s, size_t n)
{
    uint32_t base = n == 1 ? 0 : n == 2 ? (1u << 8) : (1u << 8) + (1u << 16);
    return base + prefix_key(s, n);
}

static void build_reference(void)
{
    prefix_set = calloc(PREFIX_BITS / 8 + 1, 1);
    assert_non_null(prefix_set);
    for (uint32_t cp = 0x80; cp <= 0x10ffff; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff)
            continue;
        unsigned char e[4];
        size_t n;
        if (cp < 0x800) {
            e[0] = (unsigned char)(0xc0 | cp >> 6);
            e[1] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 2;
        } else if (cp < 0x10000) {
            e[0] = (unsigned char)(0xe0 | cp >> 12);
            e[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
            e[2] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 3;
        } else {
            e[0] = (unsigned char)(0xf0 | cp >> 18);
            e[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
            e[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
            e[3] = (unsigned char)(0x80 | (cp & 0x3f));
            n = 4;
        }
        for (size_t k = 1; k < n && k <= 3; k++)
            set_bit(prefix_set, prefix_index(e, k));
        if (n <= 3)
            set_bit(complete_set,
                    prefix_key(e, n)); /* 2- and 3-byte keys do not collide: lead bytes differ */
    }
}

/* Reference escaping of s into out (room for 6 * len + 2). */
static size_t reference_escape(const unsigned char *s, size_t len, char *out)
{
    char *p = out;
    *p++ = '"';
    for (size_t i = 0; i < len;) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == '"' || c == '\\') {
                *p++ = '\\';
                *p++ = (char)c;
            } else if (c < 0x20) {
                const char *m = c == '\b'   ? "\\b"
                                : c == '\t' ? "\\t"
                                : c == '\n' ? "\\n"
                                : c == '\f' ? "\\f"
                                : c == '\r' ? "\\r"
                                            : NULL;
                if (m) {
                    memcpy(p, m, 2);
                    p += 2;
                } else {
                    p += snprintf(p, 7, "\\u%04x", c);
                }
            } else {
                *p++ = (char)c;
            }
            i++;
            continue;
        }
        /* Longest k such that s[i..i+k) is a prefix (k <= 3) or a complete
         * well-formed sequence (k in 2..4). */
        size_t best = 0;
        int complete = 0;
        for (size_t k = 1; k <= 4 && i + k <= len; k++) {
            int is_complete;
            if (k == 4) {
                /* A 4-byte sequence is complete iff its 3-byte prefix is a
                 * prefix and the last byte is a continuation byte. */
                is_complete = get_bit(prefix_set, prefix_index(s + i, 3)) &&
                              (s[i + 3] & 0xc0) == 0x80 && s[i] >= 0xf0;
            } else {
                is_complete = k >= 2 && get_bit(complete_set, prefix_key(s + i, k));
            }
            int is_prefix = k <= 3 && get_bit(prefix_set, prefix_index(s + i, k));
            if (is_complete) {
                best = k;
                complete = 1;
                break;
            }
            if (!is_prefix)
                break;
            best = k;
        }
        if (complete) {
            memcpy(p, s + i, best);
            p += best;
            i += best;
        } else {
            memcpy(p, FFFD, 3);
            p += 3;
            i += best ? best : 1;
        }
    }
    *p++ = '"';
    return (size_t)(p - out);
}

static void test_utf8_random_vs_reference(void **state)
{
    (void)state;
    build_reference();
    /* Bytes biased towards the interesting ones: continuation bytes, leads
     * with edge ranges, ASCII specials. */
    static const unsigned char pool[] = {'a',  'b',  ' ',  '"',  '\\', '\n', 0x00, 0x1f, 0x7f,
                                         0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                         0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1,
                                         0xf3, 0xf4, 0xf5, 0xf8, 0xfe, 0xff};
    unsigned seed = 12345;
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    char want[6 * 64 + 2];
    unsigned char in[64];
    for (int iter = 0; iter < 200000; iter++) {
        size_t len = (size_t)(rand_r(&seed) % 40);
        for (size_t i = 0; i < len; i++) {
            unsigned r = (unsigned)rand_r(&seed);
            in[i] = (r & 3) ? pool[(r >> 2) % sizeof pool] : (unsigned char)(r >> 8);
        }
        rp__buf_reset(&b);
        assert_int_equal(rp__json_append_string((const char *)in, len, &b), 0);
        size_t wn = reference_escape(in, len, want);
        if (b.len != wn || memcmp(b.data, want, wn) != 0) {
            char hex[3 * 64 + 1] = "";
            for (size_t i = 0; i < len; i++)
                snprintf(hex + 3 * i, 4, "%02x ", in[i]);
            fail_msg("input %s: want %.*s got %.*s", hex, (int)wn, want, (int)b.len, b.data);
        }
        if (iter % 16 == 0) {
            size_t dn;
            free(json_decode_string(b.data, b.len, &dn));
        }
    }
    rp__buf_free(&b);
    free(prefix_set);
}

/* ------------------------------------------------------------------------ */
/* Scalars */

static void test_timestamps(void **state)
{
    (void)state;
    static const struct {
        int64_t ns;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1, "1970-01-01T00:00:00.000000001Z"},
        {1000, "1970-01-01T00:00:00.000001Z"},
        {1000000, "1970-01-01T00:00:00.001Z"},
        {1500000000, "1970-01-01T00:00:01.500Z"},
        {123456000, "1970-01-01T00:00:00.123456Z"},
        {-1, "1969-12-31T23:59:59.999999999Z"},
        {-1000000000, "1969-12-31T23:59:59.000Z"},
        {INT64_C(951782400000000000), "2000-02-29T00:00:00.000Z"},
        {INT64_C(1709164799999000000), "2024-02-28T23:59:59.999Z"},
        {INT64_C(1709251199000000000), "2024-02-29T23:59:59.000Z"},
        {INT64_C(1795884722123456789), "2026-11-28T16:52:02.123456789Z"},
        {INT64_C(4102444800000000000), "2100-01-01T00:00:00.000Z"},
        {INT64_MAX, "2262-04-11T23:47:16.854775807Z"},
        {INT64_MIN, "1677-09-21T00:12:43.145224192Z"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[RP__JSON_TIMESTAMP_MAX + 1];
        size_t n = rp__json_format_timestamp(cases[i].ns, out);
        assert_string_equal(out, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
        assert_true(n <= RP__JSON_TIMESTAMP_MAX);
    }
    /* Same second one after another (the formatter reuses the date part
     * of the previous call), then another second, then back. */
    static const struct {
        int64_t ns;
        const char *want;
    } seq[] = {
        {INT64_C(1795884722000000000), "2026-11-28T16:52:02.000Z"},
        {INT64_C(1795884722999999999), "2026-11-28T16:52:02.999999999Z"},
        {INT64_C(1795884723000000000), "2026-11-28T16:52:03.000Z"},
        {INT64_C(1795884722000001000), "2026-11-28T16:52:02.000001Z"},
        {INT64_C(1795884722000001000) - INT64_C(86400000000000), "2026-11-27T16:52:02.000001Z"},
        {INT64_C(1795884722000001000), "2026-11-28T16:52:02.000001Z"},
    };
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        char out[RP__JSON_TIMESTAMP_MAX + 1];
        rp__json_format_timestamp(seq[i].ns, out);
        assert_string_equal(out, seq[i].want);
    }
    /* Against gmtime_r over the whole range. */
    unsigned seed = 99;
    for (int i = 0; i < 100000; i++) {
        int64_t ns = (int64_t)((uint64_t)rand_r(&seed) << 42 ^ (uint64_t)rand_r(&seed) << 21 ^
                               (uint64_t)rand_r(&seed));
        if (i % 3 == 0)
            ns -= ns % 1000000; /* whole milliseconds */
        int64_t secs = ns / 1000000000, frac = ns % 1000000000;
        if (frac < 0) {
            frac += 1000000000;
            secs--;
        }
        time_t t = (time_t)secs;
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        char want[64];
        int n =
            snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%09lld", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)frac);
        /* Trim zeros in steps of three, down to milliseconds. */
        while (n > 23 && memcmp(want + n - 3, "000", 3) == 0)
            n -= 3;
        want[n] = 'Z';
        want[n + 1] = '\0';
        char out[RP__JSON_TIMESTAMP_MAX + 1];
        rp__json_format_timestamp(ns, out);
        assert_string_equal(out, want);
    }
}

static void test_numbers_and_bools(void **state)
{
    (void)state;
    rp_field_id i = fid("acme.num.i", RP_TYPE_I64), u = fid("acme.num.u", RP_TYPE_U64);
    static const int64_t ivals[] = {0,         1,        -1, 9, 10, 99, 100, -100, 12345678901234,
                                    INT64_MAX, INT64_MIN};
    for (size_t k = 0; k < sizeof ivals / sizeof ivals[0]; k++) {
        rp_event *ev = new_event("process.exec");
        assert_int_equal(rp__event_set_i64(ev, i, ivals[k]), 0);
        char *line = encode_line(ev, NULL);
        char want[64];
        snprintf(want, sizeof want, ",\"acme.num.i\":%lld}\n", (long long)ivals[k]);
        assert_non_null(strstr(line, want));
        free(line);
        rp__event_release(ev);
    }
    static const uint64_t uvals[] = {0, 7, 10, 1000000, UINT64_C(10000000000000000000), UINT64_MAX};
    for (size_t k = 0; k < sizeof uvals / sizeof uvals[0]; k++) {
        rp_event *ev = new_event("process.exec");
        assert_int_equal(rp__event_set_u64(ev, u, uvals[k]), 0);
        char *line = encode_line(ev, NULL);
        char want[64];
        snprintf(want, sizeof want, ",\"acme.num.u\":%llu}\n", (unsigned long long)uvals[k]);
        assert_non_null(strstr(line, want));
        free(line);
        rp__event_release(ev);
    }
}

static void test_bytes_hex(void **state)
{
    (void)state;
    rp_field_id f = fid("acme.bin", RP_TYPE_BYTES);
    rp_event *ev = new_event("process.exec");
    assert_int_equal(rp__event_set_bytes(ev, f, NULL, 0), 0);
    char *line = encode_line(ev, NULL);
    assert_non_null(strstr(line, ",\"acme.bin\":\"\"}\n"));
    free(line);
    unsigned char all[256];
    for (int k = 0; k < 256; k++)
        all[k] = (unsigned char)k;
    assert_int_equal(rp__event_set_bytes(ev, f, all, sizeof all), 0);
    line = encode_line(ev, NULL);
    char want[600] = ",\"acme.bin\":\"";
    for (int k = 0; k < 256; k++)
        snprintf(want + 13 + 2 * k, 3, "%02x", k);
    memcpy(want + 13 + 512, "\"}\n", 4);
    assert_non_null(strstr(line, want));
    free(line);
    rp__event_release(ev);
}

/* ------------------------------------------------------------------------ */
/* IP addresses */

static void check_ip(uint32_t family, const char *text_in, const char *want)
{
    rp_ip ip = {family, {0}};
    assert_int_equal(inet_pton(family == 4 ? AF_INET : AF_INET6, text_in, ip.addr), 1);
    char out[RP__IP_STR_MAX + 1];
    size_t n = rp__ip_format(&ip, out);
    if (strcmp(out, want) != 0)
        fail_msg("%s: want %s got %s", text_in, want, out);
    assert_int_equal(n, strlen(want));
}

static void test_ip_formats(void **state)
{
    (void)state;
    check_ip(4, "0.0.0.0", "0.0.0.0");
    check_ip(4, "192.0.2.1", "192.0.2.1");
    check_ip(4, "255.255.255.255", "255.255.255.255");
    check_ip(4, "10.0.100.9", "10.0.100.9");
    check_ip(6, "::", "::");
    check_ip(6, "::1", "::1");
    check_ip(6, "1::", "1::");
    check_ip(6, "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
    check_ip(6, "::ffff:192.0.2.1", "::ffff:192.0.2.1");
    check_ip(6, "::ffff:0:0", "::ffff:0.0.0.0");
    /* A single zero group is not compressed (RFC 5952 4.2.2). */
    check_ip(6, "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1");
    /* The longest run wins (4.2.3)... */
    check_ip(6, "2001:0:0:1:0:0:0:1", "2001:0:0:1::1");
    /* ...and the first on a tie. */
    check_ip(6, "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");
    check_ip(6, "0:0:1:0:0:1:0:0", "::1:0:0:1:0:0");
    check_ip(6, "1:0:0:0:0:0:0:0", "1::");
    check_ip(6, "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8");
    check_ip(6, "fe80::a00:27ff:fe4e:66a1", "fe80::a00:27ff:fe4e:66a1");
    check_ip(6, "ABCD:EF01:2345:6789:ABCD:EF01:2345:6789",
             "abcd:ef01:2345:6789:abcd:ef01:2345:6789");
    check_ip(6, "0:0:0:0:0:0:0:1", "::1");
    check_ip(6, "1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0");
    check_ip(6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    /* Not mapped: ::fffe:... and ::1:ffff:... stay hexadecimal. */
    check_ip(6, "::fffe:c000:201", "::fffe:c000:201");
    check_ip(6, "::1:ffff:c000:201", "::1:ffff:c000:201");

    /* Random addresses, many zero groups: glibc's inet_ntop agrees (it uses
     * dotted form also for ::a.b.c.d, so those are only round-tripped). */
    unsigned seed = 7;
    for (int i = 0; i < 100000; i++) {
        rp_ip ip = {6, {0}};
        for (int g = 0; g < 8; g++) {
            unsigned r = (unsigned)rand_r(&seed);
            if (r & 1) {
                ip.addr[2 * g] = (r >> 4) & 1 ? (unsigned char)(r >> 8) : 0;
                ip.addr[2 * g + 1] = (unsigned char)(r >> 16);
            }
        }
        char out[RP__IP_STR_MAX + 1];
        rp__ip_format(&ip, out);
        unsigned char back[16];
        assert_int_equal(inet_pton(AF_INET6, out, back), 1);
        assert_memory_equal(back, ip.addr, 16);
        static const unsigned char zero10[10] = {0};
        if (memcmp(ip.addr, zero10, 10) != 0) {
            char want[INET6_ADDRSTRLEN];
            assert_non_null(inet_ntop(AF_INET6, ip.addr, want, sizeof want));
            if (strcmp(out, want) != 0)
                fail_msg("want %s got %s", want, out);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Buffer cap */

static void test_buf_api(void **state)
{
    (void)state;
    rp__buf b;
    rp__buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(rp__buf_append(&b, NULL, 0), 0);
    assert_int_equal(rp__buf_append(&b, "hello", 5), 0);
    assert_int_equal(rp__buf_append(&b, "world!", 6), RP_ERR_FULL);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "hello", 5);
    assert_true(b.cap <= b.max);
    assert_int_equal(rp__buf_append_cstr(&b, "world"), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(rp__buf_reserve(&b, 0), 0);
    assert_int_equal(rp__buf_reserve(&b, 1), RP_ERR_FULL);
    assert_int_equal(rp__json_escape("x", 1, &b), RP_ERR_FULL);
    assert_int_equal(rp__json_append_string("", 0, &b), RP_ERR_FULL);
    assert_int_equal(b.len, 10);
    rp__buf_truncate(&b, 3);
    assert_int_equal(b.len, 3);
    rp__buf_truncate(&b, 7);
    assert_int_equal(b.len, 3);
    /* An escape needing 6 bytes for 1 does not fit in 7 - 3 = 4... */
    assert_int_equal(rp__json_escape("ab\x01", 3, &b), RP_ERR_FULL);
    assert_int_equal(b.len, 3);
    /* ...but the same text without the control character does. */
    assert_int_equal(rp__json_escape("ab", 2, &b), 0);
    assert_int_equal(b.len, 5);
    rp__buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data);
    rp__buf_free(&b);
    assert_null(b.data);
    rp__buf_free(NULL);
    /* max 0 takes nothing but empty appends. */
    rp__buf_init(&b, 0);
    assert_int_equal(rp__buf_append(&b, "a", 1), RP_ERR_FULL);
    assert_int_equal(rp__json_escape("", 0, &b), 0);
    rp__buf_free(&b);
}

/* Every cap between "just the previous content" and "the whole line" fails
 * with RP_ERR_FULL and leaves the buffer as it was; the exact size succeeds. */
static void test_encode_cap(void **state)
{
    (void)state;
    rp_event *ev = process_exec_event();
    size_t line_len;
    char *line = encode_line(ev, &line_len);
    static const char prev[] = "{\"previous\":1}\n";
    size_t plen = sizeof prev - 1;
    for (size_t max = plen; max <= plen + line_len; max++) {
        rp__buf b;
        rp__buf_init(&b, max);
        assert_int_equal(rp__buf_append(&b, prev, plen), 0);
        int rc = rp__ndjson_encode(ev, &b);
        if (max < plen + line_len) {
            if (rc != RP_ERR_FULL)
                fail_msg("max %zu: rc %s", max, rp_errname(rc));
            assert_int_equal(b.len, plen);
            assert_memory_equal(b.data, prev, plen);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(b.len, plen + line_len);
            assert_memory_equal(b.data + plen, line, line_len);
        }
        assert_true(b.cap <= max);
        rp__buf_free(&b);
    }
    /* Fill a batch buffer until it refuses: the content is whole lines. */
    rp__buf b;
    rp__buf_init(&b, 10 * line_len + line_len / 2);
    int n = 0;
    while (rp__ndjson_encode(ev, &b) == 0)
        n++;
    assert_int_equal(n, 10);
    assert_int_equal(b.len, 10 * line_len);
    rp__buf_free(&b);
    free(line);
    rp__event_release(ev);
}

/* Sweeps every cap around the end of a line: the encoder must succeed at
 * exactly the line's length, whatever the last field's type (a value
 * reserved with a generous guess would refuse a line that fits). */
static void sweep_cap(const rp_event *ev)
{
    size_t line_len;
    char *line = encode_line(ev, &line_len);
    for (size_t max = line_len > 80 ? line_len - 80 : 0; max <= line_len + 8; max++) {
        for (size_t prefix = 0; prefix < 3; prefix++) {
            rp__buf b;
            rp__buf_init(&b, max + prefix);
            assert_int_equal(rp__buf_append(&b, "ab", prefix), 0);
            int rc = rp__ndjson_encode(ev, &b);
            if (max >= line_len) {
                if (rc != 0)
                    fail_msg("max %zu for a line of %zu: %s: %s", max, line_len, rp_errname(rc),
                             line);
                assert_memory_equal(b.data + prefix, line, line_len);
            } else {
                assert_int_equal(rc, RP_ERR_FULL);
                assert_int_equal(b.len, prefix);
            }
            rp__buf_free(&b);
        }
    }
    free(line);
}

static void test_encode_cap_last_field(void **state)
{
    (void)state;
    rp_ip v4 = {4, {192, 0, 2, 1}};
    rp_ip v6 = {6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    rp_str items[] = {{"a\n", 2}, {"\xc3\xa9", 2}};
    for (int kind = 0; kind < 14; kind++) {
        rp_event *ev = new_event("process.exec");
        switch (kind) {
        case 0:
            rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), 7);
            break;
        case 1:
            rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), INT64_MIN);
            break;
        case 2:
            rp__event_set_u64(ev, fid("file.size", RP_TYPE_U64), 5);
            break;
        case 3:
            rp__event_set_timestamp(ev, fid("process.start", RP_TYPE_TIMESTAMP), 0);
            break;
        case 4:
            rp__event_set_ip(ev, fid("source.ip", RP_TYPE_IP), &v4);
            break;
        case 5:
            rp__event_set_ip(ev, fid("source.ip", RP_TYPE_IP), &v6);
            break;
        case 6:
            rp__event_set_str(ev, fid("message", RP_TYPE_STR), "x\n", 2);
            break;
        case 7:
            rp__event_set_str(ev, fid("message", RP_TYPE_STR), "x\"", 2);
            break;
        case 8:
            rp__event_set_str(ev, fid("message", RP_TYPE_STR), "caf\xc3\xa9", 5);
            break;
        case 9:
            rp__event_set_str(ev, fid("message", RP_TYPE_STR), "bad\xff", 4);
            break;
        case 10:
            rp__event_set_str(ev, fid("message", RP_TYPE_STR), "\x01", 1);
            break;
        case 11:
            rp__event_set_bool(ev, fid("process.interactive", RP_TYPE_BOOL), 1);
            break;
        case 12:
            rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), items, 2);
            break;
        case 13:
            rp__event_set_bytes(ev, fid("acme.raw", RP_TYPE_BYTES), "\x01", 1);
            break;
        }
        sweep_cap(ev);
        rp__event_release(ev);
    }
}

/* ------------------------------------------------------------------------ */
/* Strings and arrays through events */

static void test_strings_in_events(void **state)
{
    (void)state;
    rp_field_id s = fid("acme.text", RP_TYPE_STR), a = fid("acme.list", RP_TYPE_STR_ARRAY);
    rp_event *ev = new_event("process.exec");
    /* NUL bytes and invalid UTF-8 inside a string field. */
    assert_int_equal(rp__event_set_str(ev, s, "a\0b\xff", 4), 0);
    rp_str items[100];
    char texts[100][8];
    for (int k = 0; k < 100; k++) {
        int n = snprintf(texts[k], sizeof texts[k], "i%d\"", k);
        items[k].ptr = texts[k];
        items[k].len = (uint64_t)n;
    }
    assert_int_equal(rp__event_set_str_array(ev, a, items, 100), 0);
    size_t len;
    char *line = encode_line(ev, &len);
    assert_non_null(strstr(line, ",\"acme.text\":\"a\\u0000b" FFFD "\","));
    json_t *obj = parse_line(line, len);
    json_t *arr = json_object_get(obj, "acme.list");
    assert_int_equal(json_array_size(arr), 100);
    for (int k = 0; k < 100; k++)
        assert_string_equal(json_string_value(json_array_get(arr, (size_t)k)), texts[k]);
    json_decref(obj);
    free(line);

    rp_str one = {"", 0};
    assert_int_equal(rp__event_set_str_array(ev, a, &one, 1), 0);
    line = encode_line(ev, NULL);
    assert_non_null(strstr(line, ",\"acme.list\":[\"\"]}\n"));
    free(line);
    rp__event_release(ev);
}

/* ------------------------------------------------------------------------ */
/* The key cache is filled from several threads at once. */

#define KEY_THREADS 4
#define KEY_FIELDS  64

static rp_field_id key_ids[KEY_FIELDS];

static void *encode_thread(void *arg)
{
    rp__buf *b = arg;
    for (int round = 0; round < 50; round++) {
        rp_event *ev;
        if (rp__event_create(1, "process.exec", 0, &ev) != 0)
            return (void *)1;
        for (int k = 0; k < KEY_FIELDS; k++)
            rp__event_set_i64(ev, key_ids[(k + round) % KEY_FIELDS], k);
        rp__event_set_timestamp(ev, RP__F_TIMESTAMP, 0);
        rp__buf_reset(b);
        int rc = rp__ndjson_encode(ev, b);
        rp__event_release(ev);
        if (rc != 0)
            return (void *)1;
    }
    return NULL;
}

static void test_key_cache_threads(void **state)
{
    (void)state;
    for (int k = 0; k < KEY_FIELDS; k++) {
        char name[32];
        snprintf(name, sizeof name, "acme.thread.k%d", k);
        key_ids[k] = fid(name, RP_TYPE_I64);
    }
    pthread_t t[KEY_THREADS];
    rp__buf bufs[KEY_THREADS];
    for (int i = 0; i < KEY_THREADS; i++) {
        rp__buf_init(&bufs[i], RP__BUF_NO_MAX);
        assert_int_equal(pthread_create(&t[i], NULL, encode_thread, &bufs[i]), 0);
    }
    for (int i = 0; i < KEY_THREADS; i++) {
        void *ret;
        assert_int_equal(pthread_join(t[i], &ret), 0);
        assert_null(ret);
    }
    /* Every thread's last line lists the same keys the same way, apart
     * from event.id. */
    for (int i = 0; i < KEY_THREADS; i++) {
        json_t *obj = parse_line(bufs[i].data, bufs[i].len);
        assert_int_equal(json_object_size(obj), 3 + KEY_FIELDS);
        for (int k = 0; k < KEY_FIELDS; k++) {
            char name[32];
            snprintf(name, sizeof name, "acme.thread.k%d", k);
            assert_non_null(json_object_get(obj, name));
        }
        json_decref(obj);
        rp__buf_free(&bufs[i]);
    }
}

/* Control bytes escape to six bytes each. A hostile file name repeated in
 * many fields must not make a line grow with it: each string is cut to
 * RP__NDJSON_STR_OUT_MAX between its quotes, the line stays near its
 * budget, it stays valid JSON, and it says "event.truncated":true once. */
static void test_line_cap_control_bytes(void **state)
{
    (void)state;
    char *ctl = malloc(RP__EVENT_STR_MAX);
    assert_non_null(ctl);
    for (size_t i = 0; i < RP__EVENT_STR_MAX; i++)
        ctl[i] = (char)(1 + i % 31); /* every control byte but NUL */
    rp_event *ev = new_event("file.create");
    static const char *const names[] = {"file.path",
                                        "file.target_path",
                                        "file.name",
                                        "file.directory",
                                        "process.executable",
                                        "process.working_directory",
                                        "process.command_line",
                                        "message",
                                        "event.original",
                                        "process.title",
                                        "process.name",
                                        "file.extension"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        assert_int_equal(rp__event_set_str(ev, fid(names[k], RP_TYPE_STR), ctl, RP__EVENT_STR_MAX),
                         0);
    rp_str items[3] = {{ctl, 4000}, {ctl, 4000}, {ctl, 4000}};
    assert_int_equal(rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), items, 3),
                     0);
    size_t len;
    char *line = encode_line(ev, &len);
    /* 15 values of 24 KiB escaped each would be 360 KiB. */
    assert_true(len <= 2 * RP__NDJSON_LINE_BUDGET);
    json_t *obj = parse_line(line, len);
    assert_true(json_is_true(json_object_get(obj, "event.truncated")));
    const char *v = json_string_value(json_object_get(obj, "file.path"));
    assert_non_null(v);
    /* What is kept is the start of the value, unchanged. */
    assert_true(strlen(v) > 0 && memcmp(v, ctl, strlen(v)) == 0);
    assert_null(strstr(strstr(line, "\"event.truncated\"") + 1, "\"event.truncated\""));
    json_decref(obj);
    free(line);
    rp__event_release(ev);

    /* Values that fit are written whole, with no flag. */
    ev = new_event("file.create");
    assert_int_equal(rp__event_set_str(ev, fid("file.path", RP_TYPE_STR), ctl, 1000), 0);
    line = encode_line(ev, &len);
    obj = parse_line(line, len);
    assert_null(json_object_get(obj, "event.truncated"));
    assert_int_equal(json_string_length(json_object_get(obj, "file.path")), 1000);
    json_decref(obj);
    free(line);
    rp__event_release(ev);
    free(ctl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_small_event),
        cmocka_unit_test(test_process_exec_parses_back),
        cmocka_unit_test(test_lines_append),
        cmocka_unit_test(test_escape_control_chars),
        cmocka_unit_test(test_escape_specials),
        cmocka_unit_test(test_escape_positions),
        cmocka_unit_test(test_utf8_invalid),
        cmocka_unit_test(test_utf8_random_vs_reference),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_numbers_and_bools),
        cmocka_unit_test(test_bytes_hex),
        cmocka_unit_test(test_ip_formats),
        cmocka_unit_test(test_buf_api),
        cmocka_unit_test(test_encode_cap),
        cmocka_unit_test(test_encode_cap_last_field),
        cmocka_unit_test(test_strings_in_events),
        cmocka_unit_test(test_key_cache_threads),
        cmocka_unit_test(test_line_cap_control_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
