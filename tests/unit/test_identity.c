/* The agent's identity on every line (core/output/ndjson.h stamp), the console's
 * text form (core/output/console.h), and the sink writing both the spool and the
 * local copy (core/output/sink.h). */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "output/console.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "output/ndjson.h"
#include "output/sink.h"
#include "output/spool.h"
#include "testutil.h"
#include "runtime/topic.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    uint32_t t;
    rp_event *ev = NULL;
    assert_int_equal(rp__topic_intern(topic, strlen(topic), &t), 0);
    assert_int_equal(rp__event_create(t, topic, 0, &ev), 0);
    return ev;
}

static void set_str(rp_event *ev, const char *name, const char *v)
{
    assert_int_equal(rp__event_set_str(ev, fid(name, RP_TYPE_STR), v, strlen(v)), 0);
}

static void stamp_std(rp__ndjson_stamp *st)
{
    rp__ndjson_stamp_init(st);
    assert_int_equal(
        rp__ndjson_stamp_add(st, "agent.id", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", 36), 0);
    assert_int_equal(rp__ndjson_stamp_add(st, "host.name", "pc-17", 5), 0);
    assert_int_equal(rp__ndjson_stamp_add(st, "host.id", "0123456789abcdef0123456789abcdef", 32),
                     0);
    assert_int_equal(rp__ndjson_stamp_add(st, "labels.site", "north", 5), 0);
}

/* Parses a line strictly: duplicate keys are an error. */
static json_t *parse(const char *line, size_t len)
{
    assert_true(len > 2 && line[len - 1] == '\n');
    json_error_t jerr;
    json_t *o = json_loadb(line, len - 1, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        fail_msg("not JSON or a key repeats (%s): %.*s", jerr.text, (int)len, line);
    return o;
}

static void test_stamp_on_every_line(void **state)
{
    (void)state;
    rp__ndjson_stamp st;
    stamp_std(&st);
    rp_event *ev = new_event("process.exec");
    assert_int_equal(rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), 4242), 0);
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    assert_int_equal(rp__ndjson_encode_stamped(ev, &st, &b), 0);
    json_t *o = parse(b.data, b.len);
    assert_int_equal(json_integer_value(json_object_get(o, "process.pid")), 4242);
    assert_string_equal(json_string_value(json_object_get(o, "host.name")), "pc-17");
    assert_string_equal(json_string_value(json_object_get(o, "labels.site")), "north");
    assert_string_equal(json_string_value(json_object_get(o, "host.id")),
                        "0123456789abcdef0123456789abcdef");
    assert_string_equal(json_string_value(json_object_get(o, "agent.id")),
                        "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
    json_decref(o);
    /* Without a stamp: the event alone, as before. */
    rp__buf_reset(&b);
    assert_int_equal(rp__ndjson_encode(ev, &b), 0);
    o = parse(b.data, b.len);
    assert_null(json_object_get(o, "host.name"));
    json_decref(o);
    rp__event_release(ev);
    rp__buf_free(&b);
    rp__ndjson_stamp_free(&st);
}

/* An event that sets an identity field itself (a plugin claiming to be
 * another machine) gets the agent's value, and the key appears once. */
static void test_stamp_replaces_event_fields(void **state)
{
    (void)state;
    rp__ndjson_stamp st;
    stamp_std(&st);
    rp_event *ev = new_event("process.exec");
    set_str(ev, "host.name", "spoofed");
    set_str(ev, "labels.site", "south");
    set_str(ev, "process.name", "sh");
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    assert_int_equal(rp__ndjson_encode_stamped(ev, &st, &b), 0);
    json_t *o = parse(b.data, b.len); /* fails on a repeated key */
    assert_string_equal(json_string_value(json_object_get(o, "host.name")), "pc-17");
    assert_string_equal(json_string_value(json_object_get(o, "labels.site")), "north");
    assert_string_equal(json_string_value(json_object_get(o, "process.name")), "sh");
    assert_null(memmem(b.data, b.len, "spoofed", 7)); /* b.data is not NUL-terminated */
    json_decref(o);
    /* An event holding only stamped fields: still one valid object. */
    rp_event *only = new_event("process.exec");
    set_str(only, "host.name", "x");
    rp__buf_reset(&b);
    assert_int_equal(rp__ndjson_encode(only, &b), 0);
    o = parse(b.data, b.len);
    size_t own = json_object_size(o); /* host.name and what every event has */
    json_decref(o);
    rp__buf_reset(&b);
    assert_int_equal(rp__ndjson_encode_stamped(only, &st, &b), 0);
    o = parse(b.data, b.len);
    assert_int_equal(json_object_size(o), own - 1 + 4);
    assert_string_equal(json_string_value(json_object_get(o, "host.name")), "pc-17");
    json_decref(o);
    rp__event_release(only);
    rp__event_release(ev);
    rp__buf_free(&b);
    rp__ndjson_stamp_free(&st);
}

static void test_stamp_rules(void **state)
{
    (void)state;
    rp__ndjson_stamp st;
    rp__ndjson_stamp_init(&st);
    assert_int_equal(rp__ndjson_stamp_add(&st, "host.name", "a", 1), 0);
    assert_int_equal(rp__ndjson_stamp_add(&st, "host.name", "b", 1), RP_ERR_EXISTS);
    /* A field of another type cannot be stamped with a string. */
    fid("identitytest.number", RP_TYPE_U64);
    assert_int_equal(rp__ndjson_stamp_add(&st, "identitytest.number", "1", 1), RP_ERR_TYPE);
    /* Values are escaped like any string: a host name with a quote and a
     * control byte cannot break the line. */
    assert_int_equal(rp__ndjson_stamp_add(&st, "labels.room", "a\"b\x01", 4), 0);
    /* The stamp is capped. */
    char big[RP__NDJSON_STAMP_MAX];
    memset(big, 'x', sizeof big);
    assert_int_equal(rp__ndjson_stamp_add(&st, "labels.big", big, sizeof big), RP_ERR_FULL);
    rp_event *ev = new_event("file.create");
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    assert_int_equal(rp__ndjson_encode_stamped(ev, &st, &b), 0);
    json_t *o = parse(b.data, b.len);
    assert_string_equal(json_string_value(json_object_get(o, "labels.room")), "a\"b\x01");
    assert_null(json_object_get(o, "labels.big"));
    json_decref(o);
    /* All or nothing at the buffer's cap: the stamp does not fit, nothing is
     * written. */
    rp__buf small;
    rp__buf_init(&small, b.len - 1);
    assert_int_equal(rp__ndjson_encode_stamped(ev, &st, &small), RP_ERR_FULL);
    assert_int_equal(small.len, 0);
    rp__buf_free(&small);
    rp__event_release(ev);
    rp__buf_free(&b);
    rp__ndjson_stamp_free(&st);
    rp__ndjson_stamp_free(NULL);
}

/* ---- console ------------------------------------------------------------- */

static char *console_line(const rp_event *ev)
{
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    assert_int_equal(rp__console_format(ev, &b), 0);
    assert_true(b.len > 0 && b.data[b.len - 1] == '\n');
    char *s = strndup(b.data, b.len);
    rp__buf_free(&b);
    return s;
}

static void test_console_line(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    assert_int_equal(rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), 4242), 0);
    set_str(ev, "process.executable", "/usr/bin/true");
    set_str(ev, "process.name", "with space");
    rp_str args[2] = {{"true", 4}, {"-x", 2}};
    assert_int_equal(rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), args, 2),
                     0);
    char *s = console_line(ev);
    /* The event's own time of day (event.id, kind and the like are left
     * off), then the type and the fields. */
    int64_t t;
    assert_int_equal(rp__event_get_timestamp(ev, fid("@timestamp", RP_TYPE_TIMESTAMP), &t), 0);
    char ts[RP__JSON_TIMESTAMP_MAX + 1], want[512];
    rp__json_format_timestamp(t, ts);
    snprintf(want, sizeof want,
             "%s process.exec process.pid=4242 process.executable=/usr/bin/true "
             "process.name=\"with space\" process.args=[\"true\",\"-x\"]\n",
             ts + 11);
    assert_string_equal(s, want);
    free(s);
    rp__event_release(ev);
}

/* What an attacker names must not reach the terminal as control sequences:
 * ESC, CSI as C1 (U+009B), BEL, bidi overrides, invalid UTF-8. */
static void test_console_escapes_terminal_controls(void **state)
{
    (void)state;
    rp_event *ev = new_event("file.create");
    set_str(ev, "file.path",
            "/tmp/\x1b]0;owned\x07\xc2\x9b"
            "31m\xe2\x80\xaegpj.exe\xff");
    set_str(ev, "file.name", "caf\xc3\xa9");
    char *s = console_line(ev);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\n')
            fail_msg("control byte 0x%02x on the console line: %s", *p, s);
    assert_null(strstr(s, "\xc2\x9b"));
    assert_null(strstr(s, "\xe2\x80\xae"));
    assert_non_null(
        strstr(s, "file.path=\"/tmp/\\x1b]0;owned\\x07\\u{009b}31m\\u{202e}gpj.exe\\xff\""));
    /* Plain UTF-8 stays readable. */
    assert_non_null(strstr(s, "file.name=caf\xc3\xa9"));
    free(s);
    rp__event_release(ev);
}

static void test_console_caps(void **state)
{
    (void)state;
    rp_event *ev = new_event("file.create");
    char big[2000];
    memset(big, 'a', sizeof big);
    assert_int_equal(rp__event_set_str(ev, fid("file.path", RP_TYPE_STR), big, sizeof big), 0);
    for (int i = 0; i < 12; i++) {
        char name[32];
        snprintf(name, sizeof name, "identitytest.f%d", i);
        assert_int_equal(rp__event_set_str(ev, fid(name, RP_TYPE_STR), big, sizeof big), 0);
    }
    char *s = console_line(ev);
    assert_true(strlen(s) <= RP__CONSOLE_LINE_MAX + 64);
    assert_non_null(strstr(s, "...(+1488)"));
    assert_non_null(strstr(s, " fields)\n"));
    free(s);
    rp__event_release(ev);
}

/* ---- the sink: spool and local copy -------------------------------------- */

static void test_sink_uploads_and_keeps_local_copy(void **state)
{
    (void)state;
    char dir[] = "/tmp/rp-identity.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char spool_dir[128], file[128];
    snprintf(spool_dir, sizeof spool_dir, "%s/spool", dir);
    snprintf(file, sizeof file, "%s/events.ndjson", dir);
    rp__spool_opts so;
    rp__spool_opts_init(&so, spool_dir);
    rp__spool *sp = NULL;
    assert_int_equal(rp__spool_open(&so, &sp), 0);
    rp__ndjson_stamp st;
    stamp_std(&st);
    rp__sink_opts o = {.file = file, .spool = sp, .batch_max_events = 10, .stamp = &st};
    rp__sink *s = NULL;
    assert_int_equal(rp__sink_create(&o, &s), 0);
    for (int i = 0; i < 25; i++) {
        rp_event *ev = new_event("process.exec");
        assert_int_equal(rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), i), 0);
        assert_int_equal(rp__sink_on_event(s, ev), 0);
        rp__event_release(ev);
    }
    assert_int_equal(rp__sink_flush(s), 0);
    rp__sink_destroy(s);

    /* The spool has every event, each with the identity. */
    rp__buf b;
    rp__buf_init(&b, RP__BUF_NO_MAX);
    rp__spool_batch batch;
    uint64_t after = 0;
    int events = 0;
    while (rp__spool_next(sp, after, &b, &batch) == 0) {
        after = batch.id;
        const char *p = batch.payload, *end = p + batch.len;
        assert_false(batch.flags & RP__SPOOL_FLAG_GZIP);
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            assert_non_null(nl);
            json_t *obj = parse(p, (size_t)(nl - p) + 1);
            assert_string_equal(json_string_value(json_object_get(obj, "host.name")), "pc-17");
            assert_int_equal(json_integer_value(json_object_get(obj, "process.pid")), events);
            json_decref(obj);
            events++;
            p = nl + 1;
        }
    }
    assert_int_equal(events, 25);
    rp__buf_free(&b);
    rp__spool_close(sp);

    /* And so does the local file, in the same order. */
    FILE *f = fopen(file, "r");
    assert_non_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *obj = parse(line, strlen(line));
        assert_int_equal(json_integer_value(json_object_get(obj, "process.pid")), n);
        assert_string_equal(json_string_value(json_object_get(obj, "labels.site")), "north");
        json_decref(obj);
        n++;
    }
    fclose(f);
    assert_int_equal(n, 25);
    rp__ndjson_stamp_free(&st);
    assert_int_equal(tu_rm_rf(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stamp_on_every_line),
        cmocka_unit_test(test_stamp_replaces_event_fields),
        cmocka_unit_test(test_stamp_rules),
        cmocka_unit_test(test_console_line),
        cmocka_unit_test(test_console_escapes_terminal_controls),
        cmocka_unit_test(test_console_caps),
        cmocka_unit_test(test_sink_uploads_and_keeps_local_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
