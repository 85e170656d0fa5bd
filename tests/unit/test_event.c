/* tests/unit/test_event.c - events: typed fields, stamping, caps, copy and
 * reference counting (core/runtime/event.c). Run it in the ASan build too: that is
 * what proves release frees exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/event.h"
#include "runtime/fields.h"
#include "lib/uuid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
    assert_int_equal(rp__event_create(7, topic, 3, &ev), 0);
    assert_non_null(ev);
    return ev;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *get_kind(const rp_event *ev)
{
    const char *s;
    uint64_t len;
    assert_int_equal(rp__event_get_str(ev, RP__F_EVENT_KIND, &s, &len), 0);
    assert_int_equal(len, strlen(s));
    return s;
}

/* A UUIDv7 in its canonical text form; returns its 48-bit millisecond time. */
static int64_t check_uuid7(const char *s, uint64_t len)
{
    assert_int_equal(len, RP__UUID_STR_LEN);
    assert_int_equal(strlen(s), RP__UUID_STR_LEN);
    int64_t ms = 0;
    for (int i = 0; i < RP__UUID_STR_LEN; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(c, '-');
            continue;
        }
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (!hex)
            fail_msg("not lowercase hex at %d: %s", i, s);
        if (i < 13)
            ms = ms * 16 + (c <= '9' ? c - '0' : c - 'a' + 10);
    }
    assert_int_equal(s[14], '7');           /* version 7 */
    assert_non_null(strchr("89ab", s[19])); /* RFC 9562 variant */
    return ms;
}

/* ------------------------------------------------------------------------ */

static void test_create_stamps(void **state)
{
    (void)state;
    int64_t before = wall_ns();
    rp_event *ev = new_event("process.exec");
    int64_t after = wall_ns();

    assert_int_equal(rp__event_topic(ev), 7);
    assert_int_equal(rp__event_head_of(ev)->producer, 3);
    assert_int_equal(rp__event_head_of(ev)->flags & RP__EVENT_PUBLISHED, 0);

    int64_t ts;
    assert_int_equal(rp__event_get_timestamp(ev, RP__F_TIMESTAMP, &ts), 0);
    assert_true(ts >= before && ts <= after);

    const char *id;
    uint64_t len;
    assert_int_equal(rp__event_get_str(ev, RP__F_EVENT_ID, &id, &len), 0);
    int64_t ms = check_uuid7(id, len);
    /* The id's time is @timestamp's millisecond (or the next, when many ids
     * in one millisecond push the clock of the id forward). */
    assert_true(ms >= ts / 1000000 && ms <= ts / 1000000 + 1);

    assert_string_equal(get_kind(ev), "event");
    /* The stamped fields come first, in this order. */
    assert_int_equal(rp__event_field_count(ev), 3);
    rp__field_view v;
    assert_int_equal(rp__event_field_at(ev, 0, &v), 0);
    assert_int_equal(v.id, RP__F_TIMESTAMP);
    assert_int_equal(v.type, RP_TYPE_TIMESTAMP);
    assert_true(v.i64 == ts);
    assert_int_equal(rp__event_field_at(ev, 1, &v), 0);
    assert_int_equal(v.id, RP__F_EVENT_ID);
    assert_int_equal(v.type, RP_TYPE_STR);
    assert_int_equal(v.len, RP__UUID_STR_LEN);
    assert_int_equal(rp__event_field_at(ev, 2, &v), 0);
    assert_int_equal(v.id, RP__F_EVENT_KIND);
    assert_int_equal(rp__event_field_at(ev, 3, &v), RP_ERR_RANGE);
    rp__event_release(ev);
}

static void test_kind_by_topic(void **state)
{
    (void)state;
    static const struct {
        const char *topic, *kind;
    } cases[] = {
        {"alert", "alert"},       {"agent.health", "metric"},   {"process.exec", "event"},
        {"file.create", "event"}, {"network.connect", "event"}, {"alert.sigma", "event"},
        {"alerts", "event"},      {"agent.healthy", "event"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rp_event *ev = new_event(cases[i].topic);
        if (strcmp(get_kind(ev), cases[i].kind) != 0)
            fail_msg("%s: want %s got %s", cases[i].topic, cases[i].kind, get_kind(ev));
        rp__event_release(ev);
    }
    /* No topic name (core events): kind "event". */
    rp_event *ev;
    assert_int_equal(rp__event_create(1, NULL, 0, &ev), 0);
    assert_string_equal(get_kind(ev), "event");
    rp__event_release(ev);
}

static void test_ids_unique_and_ordered(void **state)
{
    (void)state;
    enum { N = 2000 };
    static char ids[N][RP__UUID_STR_LEN + 1];
    for (int i = 0; i < N; i++) {
        rp_event *ev = new_event("process.exec");
        const char *id;
        uint64_t len;
        assert_int_equal(rp__event_get_str(ev, RP__F_EVENT_ID, &id, &len), 0);
        memcpy(ids[i], id, RP__UUID_STR_LEN + 1);
        rp__event_release(ev);
        if (i > 0 && strcmp(ids[i - 1], ids[i]) >= 0)
            fail_msg("ids not increasing: %s then %s", ids[i - 1], ids[i]);
    }
}

/* ------------------------------------------------------------------------ */
/* Round trips */

static void test_scalar_round_trips(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id i = fid("process.pid", RP_TYPE_I64), u = fid("file.size", RP_TYPE_U64),
                b = fid("process.interactive", RP_TYPE_BOOL),
                t = fid("process.start", RP_TYPE_TIMESTAMP);
    static const int64_t ivals[] = {0, -1, 4242, INT64_MIN, INT64_MAX};
    for (size_t k = 0; k < sizeof ivals / sizeof ivals[0]; k++) {
        int64_t got;
        assert_int_equal(rp__event_set_i64(ev, i, ivals[k]), 0);
        assert_int_equal(rp__event_get_i64(ev, i, &got), 0);
        assert_true(got == ivals[k]);
        assert_int_equal(rp__event_set_timestamp(ev, t, ivals[k]), 0);
        assert_int_equal(rp__event_get_timestamp(ev, t, &got), 0);
        assert_true(got == ivals[k]);
    }
    static const uint64_t uvals[] = {0, 1, UINT64_C(1) << 63, UINT64_MAX};
    for (size_t k = 0; k < sizeof uvals / sizeof uvals[0]; k++) {
        uint64_t got;
        assert_int_equal(rp__event_set_u64(ev, u, uvals[k]), 0);
        assert_int_equal(rp__event_get_u64(ev, u, &got), 0);
        assert_true(got == uvals[k]);
    }
    int32_t got;
    assert_int_equal(rp__event_set_bool(ev, b, 1), 0);
    assert_int_equal(rp__event_get_bool(ev, b, &got), 0);
    assert_int_equal(got, 1);
    assert_int_equal(rp__event_set_bool(ev, b, 0), 0);
    assert_int_equal(rp__event_get_bool(ev, b, &got), 0);
    assert_int_equal(got, 0);
    assert_int_equal(rp__event_set_bool(ev, b, -7), 0); /* any non-zero is true */
    assert_int_equal(rp__event_get_bool(ev, b, &got), 0);
    assert_int_equal(got, 1);
    /* Each field was set many times but exists once. */
    assert_int_equal(rp__event_field_count(ev), 3 + 4);
    /* @timestamp may be overwritten. */
    int64_t ts;
    assert_int_equal(rp__event_set_timestamp(ev, RP__F_TIMESTAMP, 42), 0);
    assert_int_equal(rp__event_get_timestamp(ev, RP__F_TIMESTAMP, &ts), 0);
    assert_true(ts == 42);
    rp__event_release(ev);
}

static void test_string_and_bytes_round_trips(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id s = fid("process.command_line", RP_TYPE_STR), y = fid("acme.raw", RP_TYPE_BYTES);
    const char *out;
    uint64_t len;

    assert_int_equal(rp__event_set_str(ev, s, "", 0), 0);
    assert_int_equal(rp__event_get_str(ev, s, &out, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    assert_int_equal(rp__event_set_str(ev, s, NULL, 0), 0);
    assert_int_equal(rp__event_get_str(ev, s, &out, NULL), 0); /* len is optional */
    assert_string_equal(out, "");

    /* Stored by length: embedded NULs and any bytes survive, and the copy is
     * NUL-terminated. */
    char src[] = "a\0b\xff\xc3\xa9";
    assert_int_equal(rp__event_set_str(ev, s, src, sizeof src - 1), 0);
    src[0] = 'X'; /* the event holds a copy */
    assert_int_equal(rp__event_get_str(ev, s, &out, &len), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(out, "a\0b\xff\xc3\xa9", 6);
    assert_int_equal(out[6], '\0');

    const void *bp;
    unsigned char bin[300];
    for (size_t k = 0; k < sizeof bin; k++)
        bin[k] = (unsigned char)(k * 7);
    bin[0] = bin[100] = 0;
    assert_int_equal(rp__event_set_bytes(ev, y, bin, sizeof bin), 0);
    assert_int_equal(rp__event_get_bytes(ev, y, &bp, &len), 0);
    assert_int_equal(len, sizeof bin);
    assert_memory_equal(bp, bin, sizeof bin);
    assert_int_equal(rp__event_set_bytes(ev, y, NULL, 0), 0);
    assert_int_equal(rp__event_get_bytes(ev, y, &bp, &len), 0);
    assert_int_equal(len, 0);

    /* Replacing with shorter and longer values. */
    const char *vals[] = {"short", "a much longer value than the first one was", "x", ""};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(rp__event_set_str(ev, s, vals[k], strlen(vals[k])), 0);
        assert_int_equal(rp__event_get_str(ev, s, &out, &len), 0);
        assert_int_equal(len, strlen(vals[k]));
        assert_string_equal(out, vals[k]);
    }
    assert_int_equal(rp__event_field_count(ev), 3 + 2);

    /* NULL with a length is refused. */
    assert_int_equal(rp__event_set_str(ev, s, NULL, 3), RP_ERR_INVAL);
    assert_int_equal(rp__event_set_bytes(ev, y, NULL, 3), RP_ERR_INVAL);
    rp__event_release(ev);
}

static void test_ip_round_trips(void **state)
{
    (void)state;
    rp_event *ev = new_event("network.connect");
    rp_field_id src = fid("source.ip", RP_TYPE_IP), dst = fid("destination.ip", RP_TYPE_IP);
    rp_ip v4 = {4, {192, 0, 2, 1}};
    rp_ip v6 = {6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd}};
    rp_ip got;
    assert_int_equal(rp__event_set_ip(ev, src, &v4), 0);
    assert_int_equal(rp__event_set_ip(ev, dst, &v6), 0);
    assert_int_equal(rp__event_get_ip(ev, src, &got), 0);
    assert_int_equal(got.family, 4);
    assert_memory_equal(got.addr, v4.addr, 4);
    assert_int_equal(rp__event_get_ip(ev, dst, &got), 0);
    assert_int_equal(got.family, 6);
    assert_memory_equal(got.addr, v6.addr, 16);
    /* Replace a v4 by a v6. */
    assert_int_equal(rp__event_set_ip(ev, src, &v6), 0);
    assert_int_equal(rp__event_get_ip(ev, src, &got), 0);
    assert_int_equal(got.family, 6);
    assert_memory_equal(got.addr, v6.addr, 16);
    /* Bad families and NULL. */
    rp_ip bad = {5, {0}};
    assert_int_equal(rp__event_set_ip(ev, src, &bad), RP_ERR_INVAL);
    bad.family = 0;
    assert_int_equal(rp__event_set_ip(ev, src, &bad), RP_ERR_INVAL);
    assert_int_equal(rp__event_set_ip(ev, src, NULL), RP_ERR_INVAL);
    assert_int_equal(rp__event_get_ip(ev, src, &got), 0);
    assert_int_equal(got.family, 6);
    rp__event_release(ev);
}

/* Checks a string array field holds exactly items[0..count). */
static void check_array(const rp_event *ev, rp_field_id f, const rp_str *items, uint32_t count)
{
    uint32_t n = 12345;
    assert_int_equal(rp__event_get_str_array_count(ev, f, &n), 0);
    assert_int_equal(n, count);
    for (uint32_t k = 0; k < count; k++) {
        const char *s;
        uint64_t len;
        assert_int_equal(rp__event_get_str_array_item(ev, f, k, &s, &len), 0);
        assert_int_equal(len, items[k].len);
        if (len)
            assert_memory_equal(s, items[k].ptr, len);
        assert_int_equal(s[len], '\0');
    }
    const char *s;
    assert_int_equal(rp__event_get_str_array_item(ev, f, count, &s, NULL), RP_ERR_RANGE);
    assert_int_equal(rp__event_get_str_array_item(ev, f, UINT32_MAX, &s, NULL), RP_ERR_RANGE);
}

static char big_texts[100][16];
static rp_str big_items[100];

static void fill_big_items(void)
{
    for (int k = 0; k < 100; k++) {
        int n = snprintf(big_texts[k], sizeof big_texts[k], "arg-%d", k * 37);
        big_items[k].ptr = big_texts[k];
        big_items[k].len = (uint64_t)n;
    }
    big_items[50].len = 0; /* an empty item in the middle */
    big_items[60].ptr = "nul\0inside";
    big_items[60].len = 10;
}

static void test_str_array_round_trips(void **state)
{
    (void)state;
    fill_big_items();
    rp_event *ev = new_event("process.exec");
    rp_field_id a = fid("process.args", RP_TYPE_STR_ARRAY);

    assert_int_equal(rp__event_set_str_array(ev, a, NULL, 0), 0);
    check_array(ev, a, NULL, 0);
    rp_str one = {"only", 4};
    assert_int_equal(rp__event_set_str_array(ev, a, &one, 1), 0);
    check_array(ev, a, &one, 1);
    assert_int_equal(rp__event_set_str_array(ev, a, big_items, 100), 0);
    check_array(ev, a, big_items, 100);
    rp_str empty_item = {NULL, 0};
    assert_int_equal(rp__event_set_str_array(ev, a, &empty_item, 1), 0);
    check_array(ev, a, &empty_item, 1);
    assert_int_equal(rp__event_field_count(ev), 3 + 1);

    /* The view reports the count. */
    rp__field_view v;
    assert_int_equal(rp__event_field_at(ev, 3, &v), 0);
    assert_int_equal(v.type, RP_TYPE_STR_ARRAY);
    assert_int_equal(v.count, 1);

    /* Bad input is refused and leaves the field alone. */
    rp_str bad = {NULL, 5};
    assert_int_equal(rp__event_set_str_array(ev, a, &bad, 1), RP_ERR_INVAL);
    assert_int_equal(rp__event_set_str_array(ev, a, NULL, 2), RP_ERR_INVAL);
    check_array(ev, a, &empty_item, 1);
    rp__event_release(ev);
}

/* ------------------------------------------------------------------------ */
/* Errors */

static void test_get_errors(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id pid = fid("process.pid", RP_TYPE_I64), name = fid("process.name", RP_TYPE_STR),
                args = fid("process.args", RP_TYPE_STR_ARRAY);
    int64_t i;
    uint64_t u, len;
    int32_t b;
    const char *s;
    const void *p;
    rp_ip ip;
    uint32_t n;
    /* Missing. */
    assert_int_equal(rp__event_get_i64(ev, pid, &i), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_get_str(ev, name, &s, &len), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_get_str_array_count(ev, args, &n), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_get_str_array_item(ev, args, 0, &s, &len), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_get_i64(ev, 0, &i), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_get_i64(ev, 999999, &i), RP_ERR_NOTFOUND);
    /* Wrong type, for every getter. */
    assert_int_equal(rp__event_set_i64(ev, pid, 1), 0);
    assert_int_equal(rp__event_set_str(ev, name, "x", 1), 0);
    assert_int_equal(rp__event_get_u64(ev, pid, &u), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_bool(ev, pid, &b), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_timestamp(ev, pid, &i), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_str(ev, pid, &s, &len), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_bytes(ev, name, &p, &len), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_ip(ev, name, &ip), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_i64(ev, name, &i), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_str_array_count(ev, name, &n), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_str_array_item(ev, name, 0, &s, &len), RP_ERR_TYPE);
    assert_int_equal(rp__event_get_i64(ev, RP__F_EVENT_ID, &i), RP_ERR_TYPE);
    rp__event_release(ev);
}

static void test_set_errors(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id pid = fid("process.pid", RP_TYPE_I64);
    /* The registry's type wins over the setter's. */
    assert_int_equal(rp__event_set_str(ev, pid, "1", 1), RP_ERR_TYPE);
    assert_int_equal(rp__event_set_u64(ev, pid, 1), RP_ERR_TYPE);
    assert_int_equal(rp__event_set_timestamp(ev, pid, 1), RP_ERR_TYPE);
    /* Unknown ids. */
    assert_int_equal(rp__event_set_i64(ev, 0, 1), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_set_i64(ev, 999999, 1), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_field_count(ev), 3);
    rp__event_release(ev);
}

static void test_readonly_fields(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    const char *id0, *id1;
    assert_int_equal(rp__event_get_str(ev, RP__F_EVENT_ID, &id0, NULL), 0);
    char saved[RP__UUID_STR_LEN + 1];
    memcpy(saved, id0, sizeof saved);
    assert_int_equal(rp__event_set_str(ev, RP__F_EVENT_ID, "x", 1), RP_ERR_PERM);
    assert_int_equal(rp__event_set_str(ev, RP__F_EVENT_KIND, "alert", 5), RP_ERR_PERM);
    /* Read-only whatever the setter's type. */
    assert_int_equal(rp__event_set_i64(ev, RP__F_EVENT_ID, 1), RP_ERR_PERM);
    assert_int_equal(rp__event_set_bytes(ev, RP__F_EVENT_KIND, "a", 1), RP_ERR_PERM);
    rp_str item = {"a", 1};
    assert_int_equal(rp__event_set_str_array(ev, RP__F_EVENT_KIND, &item, 1), RP_ERR_PERM);
    assert_int_equal(rp__event_get_str(ev, RP__F_EVENT_ID, &id1, NULL), 0);
    assert_string_equal(id1, saved);
    assert_string_equal(get_kind(ev), "event");
    rp__event_release(ev);
}

static void test_frozen_event(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id i = fid("process.pid", RP_TYPE_I64), u = fid("file.size", RP_TYPE_U64),
                b = fid("process.interactive", RP_TYPE_BOOL), s = fid("process.name", RP_TYPE_STR),
                y = fid("acme.raw", RP_TYPE_BYTES), t = fid("process.start", RP_TYPE_TIMESTAMP),
                ip = fid("source.ip", RP_TYPE_IP), a = fid("process.args", RP_TYPE_STR_ARRAY);
    assert_int_equal(rp__event_set_i64(ev, i, 1), 0);
    assert_int_equal(rp__event_set_str(ev, s, "before", 6), 0);
    rp__event_freeze(ev);
    assert_true(rp__event_head_of(ev)->flags & RP__EVENT_PUBLISHED);
    rp_ip addr = {4, {1, 2, 3, 4}};
    rp_str item = {"a", 1};
    /* Existing fields and new ones alike. */
    assert_int_equal(rp__event_set_i64(ev, i, 2), RP_ERR_PERM);
    assert_int_equal(rp__event_set_u64(ev, u, 2), RP_ERR_PERM);
    assert_int_equal(rp__event_set_bool(ev, b, 1), RP_ERR_PERM);
    assert_int_equal(rp__event_set_str(ev, s, "after", 5), RP_ERR_PERM);
    assert_int_equal(rp__event_set_bytes(ev, y, "a", 1), RP_ERR_PERM);
    assert_int_equal(rp__event_set_timestamp(ev, t, 1), RP_ERR_PERM);
    assert_int_equal(rp__event_set_timestamp(ev, RP__F_TIMESTAMP, 1), RP_ERR_PERM);
    assert_int_equal(rp__event_set_ip(ev, ip, &addr), RP_ERR_PERM);
    assert_int_equal(rp__event_set_str_array(ev, a, &item, 1), RP_ERR_PERM);
    assert_int_equal(rp__event_set_str_array(ev, a, NULL, 0), RP_ERR_PERM);
    assert_int_equal(rp__event_set_str(ev, RP__F_EVENT_ID, "x", 1), RP_ERR_PERM);
    /* Reads still work and see the values from before. */
    int64_t v;
    const char *str;
    assert_int_equal(rp__event_get_i64(ev, i, &v), 0);
    assert_true(v == 1);
    assert_int_equal(rp__event_get_str(ev, s, &str, NULL), 0);
    assert_string_equal(str, "before");
    assert_int_equal(rp__event_field_count(ev), 3 + 2);
    rp__event_release(ev);
}

/* ------------------------------------------------------------------------ */
/* Caps */

static void test_data_cap(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id pid = fid("process.pid", RP_TYPE_I64), name = fid("process.name", RP_TYPE_STR),
                cmd = fid("process.command_line", RP_TYPE_STR),
                args = fid("process.args", RP_TYPE_STR_ARRAY), raw = fid("acme.raw", RP_TYPE_BYTES),
                fill = fid("acme.fill", RP_TYPE_BYTES);
    char *big = malloc(RP__EVENT_MAX_DATA + 1);
    assert_non_null(big);
    memset(big, 'z', RP__EVENT_MAX_DATA + 1);

    assert_int_equal(rp__event_set_i64(ev, pid, 77), 0);
    assert_int_equal(rp__event_set_str(ev, name, "bash", 4), 0);
    uint32_t count = rp__event_field_count(ev);

    /* A single value larger than the cap. */
    assert_int_equal(rp__event_set_str(ev, cmd, big, RP__EVENT_MAX_DATA), RP_ERR_FULL);
    assert_int_equal(rp__event_set_bytes(ev, raw, big, RP__EVENT_MAX_DATA + 1), RP_ERR_FULL);
    assert_int_equal(rp__event_field_count(ev), count);

    /* Fill most of the data (bytes are stored whole, strings are cut at
     * RP__EVENT_STR_MAX), then overflow with a new field and with a
     * replacement of an existing one. */
    assert_int_equal(rp__event_set_bytes(ev, fill, big, 62000), 0);
    count = rp__event_field_count(ev);
    assert_int_equal(rp__event_set_bytes(ev, raw, big, 6000), RP_ERR_FULL);
    assert_int_equal(rp__event_field_count(ev), count);
    assert_int_equal(rp__event_set_str(ev, name, big, 6000), RP_ERR_FULL);
    rp_str items[2] = {{big, 3000}, {big, 3000}};
    assert_int_equal(rp__event_set_str_array(ev, args, items, 2), RP_ERR_FULL);

    /* Everything from before is intact. */
    int64_t v;
    const char *s;
    uint64_t len;
    const void *p;
    assert_int_equal(rp__event_get_i64(ev, pid, &v), 0);
    assert_true(v == 77);
    assert_int_equal(rp__event_get_str(ev, name, &s, &len), 0);
    assert_int_equal(len, 4);
    assert_string_equal(s, "bash");
    assert_int_equal(rp__event_get_bytes(ev, fill, &p, &len), 0);
    assert_int_equal(len, 62000);
    assert_memory_equal(p, big, 62000);
    assert_int_equal(rp__event_get_bytes(ev, raw, &p, &len), RP_ERR_NOTFOUND);
    assert_int_equal(rp__event_get_str_array_count(ev, args, &count), RP_ERR_NOTFOUND);
    int64_t ts;
    assert_int_equal(rp__event_get_timestamp(ev, RP__F_TIMESTAMP, &ts), 0);
    assert_int_equal(rp__event_get_str(ev, RP__F_EVENT_ID, &s, &len), 0);
    check_uuid7(s, len);

    /* Small values still fit, and scalars never need data. */
    assert_int_equal(rp__event_set_bytes(ev, raw, "ok", 2), 0);
    assert_int_equal(rp__event_get_bytes(ev, raw, &p, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(rp__event_set_i64(ev, pid, 78), 0);
    free(big);
    rp__event_release(ev);
}

/* A string longer than RP__EVENT_STR_MAX is stored cut, never between the
 * bytes of one UTF-8 character, and the event says it is incomplete; an
 * event without a long value says nothing. */
static void test_string_cap_marks_truncated(void **state)
{
    (void)state;
    rp_field_id path = fid("file.path", RP_TYPE_STR), args = fid("process.args", RP_TYPE_STR_ARRAY);
    rp_field_id trunc = fid(RP__EVENT_TRUNCATED_FIELD, RP_TYPE_BOOL);
    rp_event *ok = new_event("file.create");
    assert_int_equal(rp__event_set_str(ok, path, "/tmp/x", 6), 0);
    int32_t b = 0;
    assert_int_equal(rp__event_get_bool(ok, trunc, &b), RP_ERR_NOTFOUND);
    rp__event_release(ok);

    char *big = malloc(10000);
    assert_non_null(big);
    memset(big, '\x01', 10000); /* control bytes: six bytes each once escaped */
    /* An "é" (2 bytes) straddling the cap: cut before it. */
    big[RP__EVENT_STR_MAX - 1] = (char)0xc3;
    big[RP__EVENT_STR_MAX] = (char)0xa9;
    rp_event *ev = new_event("file.create");
    assert_int_equal(rp__event_set_str(ev, path, big, 10000), 0);
    const char *s;
    uint64_t len;
    assert_int_equal(rp__event_get_str(ev, path, &s, &len), 0);
    assert_int_equal(len, RP__EVENT_STR_MAX - 1);
    assert_memory_equal(s, big, len);
    assert_int_equal(rp__event_get_bool(ev, trunc, &b), 0);
    assert_int_equal(b, 1);
    rp__event_release(ev);

    ev = new_event("process.exec");
    rp_str items[2] = {{"short", 5}, {big + 5000, 5000}};
    assert_int_equal(rp__event_set_str_array(ev, args, items, 2), 0);
    assert_int_equal(rp__event_get_str_array_item(ev, args, 1, &s, &len), 0);
    assert_int_equal(len, RP__EVENT_STR_MAX);
    assert_int_equal(rp__event_get_str_array_item(ev, args, 0, &s, &len), 0);
    assert_int_equal(len, 5);
    assert_int_equal(rp__event_get_bool(ev, trunc, &b), 0);
    assert_int_equal(b, 1);
    rp__event_release(ev);
    free(big);
}

/* A string array whose item table alone passes the cap. */
static void test_array_cap(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id args = fid("process.args", RP_TYPE_STR_ARRAY);
    enum { N = 9000 }; /* 8 bytes of index per item: 72000 > 64 KiB */
    rp_str *items = calloc(N, sizeof *items);
    assert_non_null(items);
    assert_int_equal(rp__event_set_str_array(ev, args, items, N), RP_ERR_FULL);
    assert_int_equal(rp__event_field_count(ev), 3);
    assert_int_equal(rp__event_set_str_array(ev, args, items, 1000), 0);
    uint32_t n;
    assert_int_equal(rp__event_get_str_array_count(ev, args, &n), 0);
    assert_int_equal(n, 1000);
    free(items);
    rp__event_release(ev);
}

/* An item length near 2^64 must not wrap the size sum into something small
 * (the item would then be copied with a 4 GiB memcpy). Runs last: before the
 * fix in rp__event_set_str_array this overflows the heap, which ASan turns
 * into an abort of the whole program. */
static void test_array_item_len_overflow(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    rp_field_id args = fid("process.args", RP_TYPE_STR_ARRAY);
    rp_str one = {"keep", 4};
    assert_int_equal(rp__event_set_str_array(ev, args, &one, 1), 0);
    static const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 3, UINT64_MAX - 70000,
                                    (uint64_t)UINT32_MAX + 1, RP__EVENT_MAX_DATA};
    for (size_t k = 0; k < sizeof huge / sizeof huge[0]; k++) {
        rp_str bad[2] = {{"a", 1}, {"b", huge[k]}};
        assert_int_equal(rp__event_set_str_array(ev, args, bad, 2), RP_ERR_FULL);
    }
    check_array(ev, args, &one, 1);
    rp__event_release(ev);
}

/* Custom fields acme.many.f<k> of alternating types. */
static rp_field_id many_field(int k)
{
    char name[32];
    snprintf(name, sizeof name, "acme.many.f%d", k);
    return fid(name, k % 2 ? RP_TYPE_STR : RP_TYPE_I64);
}

static void set_many(rp_event *ev, int k, int *rc)
{
    char text[24];
    int n = snprintf(text, sizeof text, "value-%d", k);
    if (k % 2)
        *rc = rp__event_set_str(ev, many_field(k), text, (uint64_t)n);
    else
        *rc = rp__event_set_i64(ev, many_field(k), k * 1000);
}

static void check_many(const rp_event *ev, int first, int last)
{
    for (int k = first; k < last; k++) {
        if (k % 2) {
            const char *s;
            char want[24];
            snprintf(want, sizeof want, "value-%d", k);
            assert_int_equal(rp__event_get_str(ev, many_field(k), &s, NULL), 0);
            assert_string_equal(s, want);
        } else {
            int64_t v;
            assert_int_equal(rp__event_get_i64(ev, many_field(k), &v), 0);
            assert_true(v == k * 1000);
        }
    }
}

static void test_field_count_cap(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    int rc;
    /* 3 stamped + 13 = the 16 inline entries; the 17th spills to the heap. */
    for (int k = 0; k < 20; k++) {
        set_many(ev, k, &rc);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rp__event_field_count(ev), 23);
    check_many(ev, 0, 20);
    for (int k = 20; k < (int)RP__EVENT_MAX_FIELDS - 3; k++) {
        set_many(ev, k, &rc);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(rp__event_field_count(ev), RP__EVENT_MAX_FIELDS);
    /* The 257th field is refused; the event is unchanged and usable. */
    set_many(ev, 1000, &rc);
    assert_int_equal(rc, RP_ERR_FULL);
    set_many(ev, 1001, &rc);
    assert_int_equal(rc, RP_ERR_FULL);
    assert_int_equal(rp__event_field_count(ev), RP__EVENT_MAX_FIELDS);
    check_many(ev, 0, (int)RP__EVENT_MAX_FIELDS - 3);
    /* Replacing an existing field still works at the cap. */
    assert_int_equal(rp__event_set_i64(ev, many_field(0), 5), 0);
    int64_t v;
    assert_int_equal(rp__event_get_i64(ev, many_field(0), &v), 0);
    assert_true(v == 5);
    /* Insertion order is kept across the spill. */
    for (uint32_t k = 3; k < RP__EVENT_MAX_FIELDS; k++) {
        rp__field_view view;
        assert_int_equal(rp__event_field_at(ev, k, &view), 0);
        assert_int_equal(view.id, many_field((int)k - 3));
    }
    rp__event_release(ev);
}

/* ------------------------------------------------------------------------ */
/* Copy */

static void test_copy(void **state)
{
    (void)state;
    fill_big_items();
    rp_event *src = new_event("process.exec");
    rp_field_id pid = fid("process.pid", RP_TYPE_I64), size = fid("file.size", RP_TYPE_U64),
                inter = fid("process.interactive", RP_TYPE_BOOL),
                start = fid("process.start", RP_TYPE_TIMESTAMP),
                name = fid("process.name", RP_TYPE_STR), raw = fid("acme.raw", RP_TYPE_BYTES),
                ip = fid("source.ip", RP_TYPE_IP), args = fid("process.args", RP_TYPE_STR_ARRAY),
                cat = fid("event.category", RP_TYPE_STR_ARRAY),
                tags = fid("tags", RP_TYPE_STR_ARRAY);
    rp_ip addr = {6, {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
    rp_str c1 = {"process", 7};
    /* Data before the arrays, so their offsets in src are large; a replaced
     * value leaves a hole, so they differ from the copy's. */
    assert_int_equal(rp__event_set_str(src, name, "a fairly long process name to take space", 41),
                     0);
    assert_int_equal(rp__event_set_str(src, name, "bash", 4), 0);
    assert_int_equal(rp__event_set_i64(src, pid, -5), 0);
    assert_int_equal(rp__event_set_u64(src, size, UINT64_MAX), 0);
    assert_int_equal(rp__event_set_bool(src, inter, 1), 0);
    assert_int_equal(rp__event_set_timestamp(src, start, 123456789), 0);
    assert_int_equal(rp__event_set_bytes(src, raw, "\0\1\2", 3), 0);
    assert_int_equal(rp__event_set_ip(src, ip, &addr), 0);
    assert_int_equal(rp__event_set_str_array(src, args, big_items, 100), 0);
    assert_int_equal(rp__event_set_str_array(src, cat, &c1, 1), 0);
    assert_int_equal(rp__event_set_str_array(src, tags, NULL, 0), 0);
    for (int k = 0; k < 10; k++) { /* spill past the inline entries */
        int rc;
        set_many(src, k, &rc);
        assert_int_equal(rc, 0);
    }
    /* An alert made from a frozen (published) event. */
    rp__event_freeze(src);
    int64_t src_ts;
    const char *src_id;
    assert_int_equal(rp__event_get_timestamp(src, RP__F_TIMESTAMP, &src_ts), 0);
    assert_int_equal(rp__event_get_str(src, RP__F_EVENT_ID, &src_id, NULL), 0);
    char saved_id[RP__UUID_STR_LEN + 1];
    memcpy(saved_id, src_id, sizeof saved_id);

    rp_event *cp;
    assert_int_equal(rp__event_copy(src, 9, "alert", 4, &cp), 0);
    rp__event_release(src); /* the copy must not point into src */

    assert_int_equal(rp__event_topic(cp), 9);
    assert_int_equal(rp__event_head_of(cp)->producer, 4);
    assert_int_equal(rp__event_head_of(cp)->flags & RP__EVENT_PUBLISHED, 0);
    assert_int_equal(rp__event_field_count(cp), 3 + 10 + 10);
    const char *id;
    uint64_t len;
    assert_int_equal(rp__event_get_str(cp, RP__F_EVENT_ID, &id, &len), 0);
    check_uuid7(id, len);
    assert_string_not_equal(id, saved_id);
    assert_string_equal(get_kind(cp), "alert");
    int64_t ts;
    assert_int_equal(rp__event_get_timestamp(cp, RP__F_TIMESTAMP, &ts), 0);
    assert_true(ts >= src_ts);

    int64_t i;
    uint64_t u;
    int32_t b;
    const char *s;
    const void *p;
    rp_ip gip;
    assert_int_equal(rp__event_get_i64(cp, pid, &i), 0);
    assert_true(i == -5);
    assert_int_equal(rp__event_get_u64(cp, size, &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(rp__event_get_bool(cp, inter, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(rp__event_get_timestamp(cp, start, &i), 0);
    assert_true(i == 123456789);
    assert_int_equal(rp__event_get_str(cp, name, &s, &len), 0);
    assert_int_equal(len, 4);
    assert_string_equal(s, "bash");
    assert_int_equal(rp__event_get_bytes(cp, raw, &p, &len), 0);
    assert_int_equal(len, 3);
    assert_memory_equal(p, "\0\1\2", 3);
    assert_int_equal(rp__event_get_ip(cp, ip, &gip), 0);
    assert_int_equal(gip.family, 6);
    assert_memory_equal(gip.addr, addr.addr, 16);
    check_array(cp, args, big_items, 100);
    check_array(cp, cat, &c1, 1);
    check_array(cp, tags, NULL, 0);
    check_many(cp, 0, 10);

    /* The copy is a normal, writable event. */
    rp_str one = {"x", 1};
    assert_int_equal(rp__event_set_str_array(cp, args, &one, 1), 0);
    check_array(cp, args, &one, 1);
    check_array(cp, cat, &c1, 1);
    assert_int_equal(rp__event_set_str(cp, RP__F_EVENT_KIND, "event", 5), RP_ERR_PERM);

    /* A copy of a copy, to a plain topic. */
    rp_event *cp2;
    assert_int_equal(rp__event_copy(cp, 10, "process.exec", 0, &cp2), 0);
    assert_string_equal(get_kind(cp2), "event");
    check_array(cp2, cat, &c1, 1);
    check_array(cp2, args, &one, 1);
    rp__event_release(cp);
    rp__event_release(cp2);
}

/* ------------------------------------------------------------------------ */
/* Reference counting */

static void test_retain_release(void **state)
{
    (void)state;
    rp_event *ev = new_event("process.exec");
    assert_int_equal(atomic_load(&rp__event_head_of(ev)->refs), 1);
    rp__event_retain(ev);
    rp__event_retain(ev);
    assert_int_equal(atomic_load(&rp__event_head_of(ev)->refs), 3);
    rp__event_release(ev);
    rp__event_release(ev);
    assert_int_equal(atomic_load(&rp__event_head_of(ev)->refs), 1);
    /* Still alive with one reference: readable. */
    int64_t ts;
    assert_int_equal(rp__event_get_timestamp(ev, RP__F_TIMESTAMP, &ts), 0);
    rp__event_release(ev); /* frees; ASan reports a leak or double free here */

    /* Heap-spilled entries and data are freed with the block too. */
    ev = new_event("process.exec");
    char big[4000];
    memset(big, 'q', sizeof big);
    assert_int_equal(rp__event_set_str(ev, fid("message", RP_TYPE_STR), big, sizeof big), 0);
    for (int k = 0; k < 40; k++) {
        int rc;
        set_many(ev, k, &rc);
        assert_int_equal(rc, 0);
    }
    rp__event_retain(ev);
    rp__event_release(ev);
    rp__event_release(ev);
}

static void test_bare_alloc(void **state)
{
    (void)state;
    rp_event *ev = rp__event_alloc(5, 0);
    assert_non_null(ev);
    assert_int_equal(rp__event_field_count(ev), 0);
    assert_int_equal(rp__event_topic(ev), 5);
    int64_t ts;
    assert_int_equal(rp__event_get_timestamp(ev, RP__F_TIMESTAMP, &ts), RP_ERR_NOTFOUND);
    /* Data grows on demand from zero room. */
    assert_int_equal(rp__event_set_str(ev, fid("message", RP_TYPE_STR), "hello", 5), 0);
    const char *s;
    assert_int_equal(rp__event_get_str(ev, fid("message", RP_TYPE_STR), &s, NULL), 0);
    assert_string_equal(s, "hello");
    rp__event_release(ev);
    /* A request above the cap is clamped, not refused. */
    ev = rp__event_alloc(5, (size_t)RP__EVENT_MAX_DATA * 4);
    assert_non_null(ev);
    rp__event_release(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_stamps),
        cmocka_unit_test(test_kind_by_topic),
        cmocka_unit_test(test_ids_unique_and_ordered),
        cmocka_unit_test(test_scalar_round_trips),
        cmocka_unit_test(test_string_and_bytes_round_trips),
        cmocka_unit_test(test_ip_round_trips),
        cmocka_unit_test(test_str_array_round_trips),
        cmocka_unit_test(test_get_errors),
        cmocka_unit_test(test_set_errors),
        cmocka_unit_test(test_readonly_fields),
        cmocka_unit_test(test_frozen_event),
        cmocka_unit_test(test_data_cap),
        cmocka_unit_test(test_string_cap_marks_truncated),
        cmocka_unit_test(test_array_cap),
        cmocka_unit_test(test_field_count_cap),
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_retain_release),
        cmocka_unit_test(test_bare_alloc),
        cmocka_unit_test(test_array_item_len_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
