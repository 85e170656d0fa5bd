/* tests/unit/test_isolate_wire.c - what crosses between the worker and an
 * isolated plugin's sandbox (core/runtime/isolate_wire.c): the rings (order,
 * wrap-around, full, wake-ups, a corrupt peer) and the binary event form
 * (every field type round trip, stamps, malformed records refused). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/isolate_wire.h"
#include "runtime/topic.h"

#include <stdlib.h>
#include <string.h>

#define RING 4096u

struct pair {
    unsigned char *mem;
    rp__iso_end prod, cons;
};

static void pair_make(struct pair *p)
{
    p->mem = aligned_alloc(64, RP__ISO_RING_HDR + RING);
    assert_non_null(p->mem);
    assert_int_equal(rp__iso_end_init(&p->prod, p->mem, RING, 1), 0);
    assert_int_equal(rp__iso_end_init(&p->cons, p->mem, RING, 0), 0);
}

static void test_ring_order_and_wrap(void **state)
{
    (void)state;
    struct pair p;
    pair_make(&p);
    unsigned char buf[RING], out[RING];
    /* Records of changing sizes, many times round the ring: each comes out
     * whole and in order, also those split at the end of the data. */
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t len = (i * 37) % 700;
        for (uint32_t k = 0; k < len; k++)
            buf[k] = (unsigned char)(i + k);
        int wake = 0;
        assert_int_equal(
            rp__iso_put(&p.prod, 7, i, buf, len / 2, buf + len / 2, len - len / 2, &wake), 0);
        rp__iso_hdr h;
        assert_int_equal(rp__iso_get(&p.cons, &h, out, sizeof out), 1);
        assert_int_equal(h.type, 7);
        assert_int_equal(h.seq, i);
        assert_int_equal(h.len, len);
        assert_memory_equal(out, buf, len);
        assert_int_equal(rp__iso_get(&p.cons, &h, out, sizeof out), 0);
    }
    free(p.mem);
}

static void test_ring_full_and_wake(void **state)
{
    (void)state;
    struct pair p;
    pair_make(&p);
    unsigned char buf[1000] = {0}, out[RING];
    int wake = 0, n = 0, rc;
    while ((rc = rp__iso_put(&p.prod, 1, 0, buf, sizeof buf, NULL, 0, &wake)) == 0)
        n++;
    /* 4096 bytes hold four records of 1016 (header and padding): the fifth waits. */
    assert_int_equal(rc, RP_ERR_FULL);
    assert_int_equal(n, 4);
    assert_int_equal(wake, 0); /* nobody sleeps */
    rp__iso_hdr h;
    assert_int_equal(rp__iso_get(&p.cons, &h, out, sizeof out), 1);
    assert_int_equal(rp__iso_put(&p.prod, 1, 0, buf, 8, NULL, 0, &wake), 0);
    /* A consumer that drained and sleeps is woken by the next put. */
    while (rp__iso_get(&p.cons, &h, out, sizeof out) == 1)
        ;
    assert_int_equal(rp__iso_sleep_prepare(&p.cons), 0);
    assert_int_equal(rp__iso_put(&p.prod, 1, 0, buf, 8, NULL, 0, &wake), 0);
    assert_int_equal(wake, 1);
    rp__iso_awake(&p.cons);
    /* A record announced while it prepared to sleep keeps it awake. */
    assert_int_equal(rp__iso_sleep_prepare(&p.cons), 1);
    /* Over the record cap: refused before anything is written. */
    assert_int_equal(rp__iso_put(&p.prod, 1, 0, NULL, RP__ISO_REC_MAX, buf, 1, &wake),
                     RP_ERR_RANGE);
    free(p.mem);
}

/* A peer that scribbles on the shared positions or headers is caught, never
 * followed. */
static void test_ring_corrupt(void **state)
{
    (void)state;
    struct pair p;
    pair_make(&p);
    unsigned char buf[64] = {0}, out[RING];
    rp__iso_hdr h;
    int wake = 0;
    /* A head more than a ring ahead. */
    atomic_store(&p.prod.ring->head, RING * 2);
    assert_int_equal(rp__iso_get(&p.cons, &h, out, sizeof out), RP_ERR_PARSE);
    /* A head behind the consumer. */
    p.cons.pos = 128;
    atomic_store(&p.prod.ring->head, 64);
    assert_int_equal(rp__iso_get(&p.cons, &h, out, sizeof out), RP_ERR_PARSE);
    free(p.mem);
    pair_make(&p);
    /* A record whose length runs past what was written. */
    assert_int_equal(rp__iso_put(&p.prod, 1, 0, buf, 16, NULL, 0, &wake), 0);
    uint32_t huge = 3000;
    memcpy(p.mem + RP__ISO_RING_HDR, &huge, 4);
    assert_int_equal(rp__iso_get(&p.cons, &h, out, sizeof out), RP_ERR_PARSE);
    /* A length over the reader's buffer. */
    huge = 16;
    memcpy(p.mem + RP__ISO_RING_HDR, &huge, 4);
    assert_int_equal(rp__iso_get(&p.cons, &h, out, 8), RP_ERR_PARSE);
    /* A tail ahead of the producer. */
    atomic_store(&p.prod.ring->tail, p.prod.pos + 8);
    assert_int_equal(rp__iso_put(&p.prod, 1, 0, buf, 8, NULL, 0, &wake), RP_ERR_PARSE);
    free(p.mem);
}

static rp_field_id fid(const char *name, uint32_t type)
{
    rp_field_id id = 0;
    int rc = rp__field_intern(name, strlen(name), type, &id);
    if (rc != 0)
        fail_msg("intern %s: %s", name, rp_errname(rc));
    return id;
}

static rp_event *make_full_event(void)
{
    uint32_t topic;
    assert_int_equal(rp__topic_intern("process.exec", 12, &topic), 0);
    rp_event *ev = NULL;
    assert_int_equal(rp__event_create(topic, "process.exec", 5, &ev), 0);
    rp_ip ip4 = {4, {10, 1, 2, 3}}, ip6 = {6, {0x20, 0x01, 0x0d, 0xb8, [15] = 1}};
    rp_str items[] = {{"sh", 2}, {"-c", 2}, {"a\0b", 3}, {"", 0}};
    assert_int_equal(rp__event_set_i64(ev, fid("process.pid", RP_TYPE_I64), -42), 0);
    assert_int_equal(rp__event_set_u64(ev, fid("isot.u", RP_TYPE_U64), UINT64_MAX), 0);
    assert_int_equal(rp__event_set_bool(ev, fid("process.interactive", RP_TYPE_BOOL), 1), 0);
    assert_int_equal(rp__event_set_str(ev, fid("process.name", RP_TYPE_STR), "bash\0x", 6), 0);
    assert_int_equal(rp__event_set_bytes(ev, fid("isot.b", RP_TYPE_BYTES), "\x00\xff\x10", 3), 0);
    assert_int_equal(
        rp__event_set_timestamp(ev, fid("process.start", RP_TYPE_TIMESTAMP), 1234567890123), 0);
    assert_int_equal(rp__event_set_ip(ev, fid("source.ip", RP_TYPE_IP), &ip4), 0);
    assert_int_equal(rp__event_set_ip(ev, fid("destination.ip", RP_TYPE_IP), &ip6), 0);
    assert_int_equal(rp__event_set_str_array(ev, fid("process.args", RP_TYPE_STR_ARRAY), items, 4),
                     0);
    return ev;
}

/* Every field of a with the same type and value in b, in the same order. */
static void assert_same_fields(const rp_event *a, const rp_event *b)
{
    assert_int_equal(rp__event_field_count(a), rp__event_field_count(b));
    for (uint32_t i = 0; i < rp__event_field_count(a); i++) {
        rp__field_view va, vb;
        assert_int_equal(rp__event_field_at(a, i, &va), 0);
        assert_int_equal(rp__event_field_at(b, i, &vb), 0);
        assert_int_equal(va.id, vb.id);
        assert_int_equal(va.type, vb.type);
        assert_int_equal(va.i64, vb.i64);
        assert_int_equal(va.u64, vb.u64);
        assert_int_equal(va.len, vb.len);
        assert_int_equal(va.count, vb.count);
        if (va.len)
            assert_memory_equal(va.ptr, vb.ptr, va.len);
        for (uint32_t k = 0; k < va.count; k++) {
            const char *sa, *sb;
            uint64_t la, lb;
            assert_int_equal(rp__event_get_str_array_item(a, va.id, k, &sa, &la), 0);
            assert_int_equal(rp__event_get_str_array_item(b, vb.id, k, &sb, &lb), 0);
            assert_int_equal(la, lb);
            assert_memory_equal(sa, sb, la);
        }
    }
}

static void test_event_round_trip_exact(void **state)
{
    (void)state;
    rp_event *ev = make_full_event();
    unsigned char buf[8192];
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, sizeof buf);
    assert_int_equal(rp__iso_event_encode(&w, ev), 0);
    rp__iso_rd r;
    rp__iso_rd_init(&r, buf, w.len);
    rp_event *copy = NULL;
    assert_int_equal(rp__iso_event_decode(&r, RP__ISO_DECODE_EXACT, 9, &copy), 0);
    /* The copy is the event: its stamps (event.id, kind, @timestamp) too. */
    assert_same_fields(ev, copy);
    assert_int_equal(rp__event_topic(copy), rp__event_topic(ev));
    assert_int_equal(rp__event_head_of(copy)->producer, 9);
    rp__event_release(copy);
    rp__event_release(ev);
}

static void test_event_publish_mode(void **state)
{
    (void)state;
    rp_event *ev = make_full_event();
    unsigned char buf[8192];
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, sizeof buf);
    assert_int_equal(rp__iso_event_encode(&w, ev), 0);
    rp__iso_rd r;
    rp__iso_rd_init(&r, buf, w.len);
    rp_event *pub = NULL;
    assert_int_equal(rp__iso_event_decode(&r, RP__ISO_DECODE_PUBLISH, 4, &pub), 0);
    /* The plugin's id and time are kept; the kind is the worker's own. */
    assert_same_fields(ev, pub);
    assert_int_equal(rp__event_head_of(pub)->producer, 4);
    rp__event_release(pub);
    rp__event_release(ev);

    /* An event.kind "alert" on a process.exec is not taken from the plugin. */
    uint32_t topic;
    assert_int_equal(rp__topic_intern("file.create", 11, &topic), 0);
    unsigned char rec[256];
    rp__iso_wr_init(&w, rec, sizeof rec);
    rp__iso_wr_str(&w, "file.create", 11);
    rp__iso_wr_u32(&w, 1);
    rp__iso_wr_u32(&w, RP__F_EVENT_KIND);
    rp__iso_wr_u32(&w, RP_TYPE_STR);
    rp__iso_wr_str(&w, "alert", 5);
    rp__iso_rd_init(&r, rec, w.len);
    assert_int_equal(rp__iso_event_decode(&r, RP__ISO_DECODE_PUBLISH, 4, &pub), 0);
    const char *kind;
    uint64_t klen;
    assert_int_equal(rp__event_get_str(pub, RP__F_EVENT_KIND, &kind, &klen), 0);
    assert_string_equal(kind, "event");
    rp__event_release(pub);
}

/* decode of rec (len bytes) must fail with want and make nothing. */
static void refused(const unsigned char *rec, size_t len, int want)
{
    rp__iso_rd r;
    rp__iso_rd_init(&r, rec, len);
    rp_event *ev = NULL;
    assert_int_equal(rp__iso_event_decode(&r, RP__ISO_DECODE_PUBLISH, 1, &ev), want);
    assert_null(ev);
}

static void test_event_malformed(void **state)
{
    (void)state;
    rp_event *ev = make_full_event();
    unsigned char buf[8192], bad[8192];
    rp__iso_wr w;
    rp__iso_wr_init(&w, buf, sizeof buf);
    assert_int_equal(rp__iso_event_encode(&w, ev), 0);
    rp__event_release(ev);
    /* Every cut of a good record is refused (no read past the end; ASan
     * proves it in that build) and makes nothing. */
    for (size_t n = 0; n < w.len; n++) {
        rp__iso_rd r;
        rp__iso_rd_init(&r, buf, n);
        rp_event *e = NULL;
        assert_int_not_equal(rp__iso_event_decode(&r, RP__ISO_DECODE_PUBLISH, 1, &e), 0);
        assert_null(e);
    }
    /* Trailing bytes. */
    memcpy(bad, buf, w.len);
    bad[w.len] = 0;
    refused(bad, w.len + 1, RP_ERR_PARSE);
    rp__iso_wr b;
    /* A type name that is no topic. */
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "Not A Topic", 11);
    rp__iso_wr_u32(&b, 0);
    refused(bad, b.len, RP_ERR_INVAL);
    /* More fields than an event holds. */
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 100000);
    refused(bad, b.len, RP_ERR_PARSE);
    /* A field id the registry does not know, and a known one of another type. */
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, RP__FIELD_MAX + 7);
    rp__iso_wr_u32(&b, RP_TYPE_I64);
    rp__iso_wr_u64(&b, 1);
    refused(bad, b.len, RP_ERR_NOTFOUND);
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, fid("process.pid", RP_TYPE_I64));
    rp__iso_wr_u32(&b, RP_TYPE_STR);
    rp__iso_wr_str(&b, "12", 2);
    refused(bad, b.len, RP_ERR_TYPE);
    /* A string array whose count the record cannot hold. */
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, fid("process.args", RP_TYPE_STR_ARRAY));
    rp__iso_wr_u32(&b, RP_TYPE_STR_ARRAY);
    rp__iso_wr_u32(&b, 7000);
    refused(bad, b.len, RP_ERR_PARSE);
    /* A boolean that is neither 0 nor 1, an IP of a bad family or size. */
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, fid("process.interactive", RP_TYPE_BOOL));
    rp__iso_wr_u32(&b, RP_TYPE_BOOL);
    rp__iso_wr_u64(&b, 2);
    refused(bad, b.len, RP_ERR_PARSE);
    rp_ip ip = {5, {0}};
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, fid("source.ip", RP_TYPE_IP));
    rp__iso_wr_u32(&b, RP_TYPE_IP);
    rp__iso_wr_str(&b, (const char *)&ip, sizeof ip);
    refused(bad, b.len, RP_ERR_PARSE);
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, fid("source.ip", RP_TYPE_IP));
    rp__iso_wr_u32(&b, RP_TYPE_IP);
    rp__iso_wr_str(&b, "abcd", 4);
    refused(bad, b.len, RP_ERR_PARSE);
    /* A string length past the record. */
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, fid("process.name", RP_TYPE_STR));
    rp__iso_wr_u32(&b, RP_TYPE_STR);
    rp__iso_wr_u32(&b, 60000);
    refused(bad, b.len, RP_ERR_PARSE);
    /* An event.id that is no id (empty, or longer than one). */
    rp__iso_wr_init(&b, bad, sizeof bad);
    rp__iso_wr_str(&b, "file.create", 11);
    rp__iso_wr_u32(&b, 1);
    rp__iso_wr_u32(&b, RP__F_EVENT_ID);
    rp__iso_wr_u32(&b, RP_TYPE_STR);
    rp__iso_wr_str(&b, "", 0);
    refused(bad, b.len, RP_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_order_and_wrap), cmocka_unit_test(test_ring_full_and_wake),
        cmocka_unit_test(test_ring_corrupt),        cmocka_unit_test(test_event_round_trip_exact),
        cmocka_unit_test(test_event_publish_mode),  cmocka_unit_test(test_event_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
