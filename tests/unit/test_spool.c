/*
 * tests/unit/test_spool.c - the write-ahead spool (core/output/spool.c; its
 * CRC-32C is tested in test_crc32c.c): append / next / ack in order,
 * persistence across reopen, the byte cap and what it drops, torn records at
 * every byte offset, flipped bytes anywhere, tampered files, ids never
 * reused, the folder opened once (swapped after open, planted names), a real
 * full disk (tmpfs in a private mount namespace), one appender and one reader
 * thread at once, and a child killed with SIGKILL while it appends and acks.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/log.h"
#include "output/ndjson.h"
#include "output/spool.h"

#include <rampart/plugin.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HDR    RP__SPOOL_HEADER_LEN
#define FOOTER 64 /* a sealed segment's footer (docs/spool.md) */

/* ---- helpers ---- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* A payload that names itself: 8 bytes of sequence number, then bytes
 * derived from it, of a length derived from it (8 .. max). */
static size_t gen_payload(uint64_t seq, uint8_t *out, size_t max)
{
    size_t len = 8 + (size_t)((seq * 2654435761u) % (max - 7));
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(seq >> (8 * i));
    uint64_t s = seq * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 8; i < len; i++)
        out[i] = (uint8_t)xorshift(&s);
    return len;
}

static uint32_t events_of(uint64_t seq)
{
    return (uint32_t)(seq % 1000 + 1);
}

/* 0 when p is exactly what gen_payload made for its sequence number. */
static int check_payload(const void *p, size_t len, size_t max, uint64_t *seq_out)
{
    static uint8_t want[1 << 16];
    if (len < 8 || max > sizeof want)
        return -1;
    uint64_t seq = 0;
    for (int i = 0; i < 8; i++)
        seq |= (uint64_t)((const uint8_t *)p)[i] << (8 * i);
    size_t wl = gen_payload(seq, want, max);
    if (wl != len || memcmp(want, p, len) != 0)
        return -1;
    if (seq_out)
        *seq_out = seq;
    return 0;
}

static rp__spool *open_spool(const char *dir, uint64_t max_bytes, uint64_t seg_bytes)
{
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.max_bytes = max_bytes;
    o.segment_bytes = seg_bytes;
    o.fsync = RP__SPOOL_FSYNC_NEVER;
    rp__spool *sp = NULL;
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    assert_non_null(sp);
    return sp;
}

static uint64_t append_seq(rp__spool *sp, uint64_t seq, size_t max)
{
    uint8_t buf[1 << 16];
    size_t len = gen_payload(seq, buf, max);
    uint64_t id = 0;
    assert_int_equal(rp__spool_append(sp, buf, len, events_of(seq), (uint32_t)seq & 1, &id), 0);
    assert_true(id > 0);
    return id;
}

/* Reads every batch in order (acking each when ack is set) and stores
 * their sequence numbers; fails the test on any payload that is not intact
 * or any id not above the previous one. Returns the count. */
static size_t drain(rp__spool *sp, int ack, size_t max, uint64_t *seqs, uint64_t *ids, size_t cap)
{
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    uint64_t last = 0;
    size_t n = 0;
    int rc;
    while ((rc = rp__spool_next(sp, last, &buf, &b)) == 0) {
        uint64_t seq = 0;
        assert_int_equal(check_payload(b.payload, b.len, max, &seq), 0);
        assert_true(b.id > last);
        assert_int_equal(b.events, events_of(seq));
        assert_int_equal(b.flags, (uint32_t)seq & 1);
        if (n < cap) {
            if (seqs)
                seqs[n] = seq;
            if (ids)
                ids[n] = b.id;
        }
        n++;
        last = b.id;
        if (ack)
            assert_int_equal(rp__spool_ack(sp, b.id), 0);
    }
    assert_true(rc == RP_ERR_NOTFOUND || rc == RP_ERR_BUSY);
    rp__buf_free(&buf);
    return n;
}

struct names {
    char name[64][32];
    int n;
};

static int cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The segment files of dir, sorted. */
static void seg_files(const char *dir, struct names *out)
{
    out->n = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".seg") == 0 && out->n < 64 && l < 32)
            memcpy(out->name[out->n++], e->d_name, l + 1);
    }
    closedir(d);
    qsort(out->name, (size_t)out->n, sizeof out->name[0], cmp_name);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_all(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static const char *join(char *buf, const char *dir, const char *name)
{
    const char *p = tu_path(buf, PATH_MAX, dir, name);
    assert_non_null(p);
    return p;
}

static int setup_quiet(void **state)
{
    (void)state;
    /* Recovery problems are logged as warnings; the tests make thousands. */
    rp__log_set_level(RP__LOG_ERROR);
    return 0;
}

static void test_fsync_parse(void **state)
{
    (void)state;
    enum rp__spool_fsync f;
    assert_int_equal(rp__spool_fsync_parse("always", &f), 0);
    assert_int_equal(f, RP__SPOOL_FSYNC_ALWAYS);
    assert_int_equal(rp__spool_fsync_parse("batch", &f), 0);
    assert_int_equal(f, RP__SPOOL_FSYNC_INTERVAL);
    assert_int_equal(rp__spool_fsync_parse("interval", &f), 0);
    assert_int_equal(f, RP__SPOOL_FSYNC_INTERVAL);
    assert_int_equal(rp__spool_fsync_parse("never", &f), 0);
    assert_int_equal(f, RP__SPOOL_FSYNC_NEVER);
    assert_int_equal(rp__spool_fsync_parse("sometimes", &f), RP_ERR_INVAL);
    assert_int_equal(rp__spool_fsync_parse("", &f), RP_ERR_INVAL);
}

/* ---- in order, across reopen ---- */

static void test_roundtrip_and_reopen(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    /* Small segments so that several files take part. */
    rp__spool *sp = open_spool(dir, 0, 4096);
    uint64_t ids[200];
    for (uint64_t i = 0; i < 200; i++) {
        ids[i] = append_seq(sp, i, 1500);
        if (i)
            assert_true(ids[i] > ids[i - 1]);
    }
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.queued_batches, 200);
    assert_int_equal(st.appended_batches, 200);
    assert_true(st.segments > 10);
    /* Records, and a footer per segment (the open one's reserved). */
    assert_int_equal(st.disk_bytes, st.queued_bytes + FOOTER * st.segments);
    uint64_t ev = 0;
    for (uint64_t i = 0; i < 200; i++)
        ev += events_of(i);
    assert_int_equal(st.queued_events, ev);

    /* Read 50 and ack them; read 10 more without acking; close. */
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    for (int i = 0; i < 60; i++) {
        assert_int_equal(rp__spool_next(sp, i ? ids[i - 1] : 0, &buf, &b), 0);
        assert_int_equal(b.id, ids[i]);
        uint64_t seq = 0;
        assert_int_equal(check_payload(b.payload, b.len, 1500, &seq), 0);
        assert_int_equal(seq, (uint64_t)i);
        if (i < 50)
            assert_int_equal(rp__spool_ack(sp, b.id), 0);
    }
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.acked_batches, 50);
    assert_int_equal(st.inflight_batches, 10);
    assert_int_equal(st.queued_batches, 150);
    assert_int_equal(st.acked_id, ids[49]);
    char key1[RP__SPOOL_KEY_MAX];
    assert_int_equal(rp__spool_next(sp, ids[49], &buf, &b), 0); /* the 51st again */
    assert_int_equal(b.id, ids[50]);
    size_t kl = rp__spool_idempotency_key(&b, key1);
    assert_int_equal(kl, 17 + strlen(strchr(key1, '-') + 1));
    uint64_t uid = st.uid;
    rp__spool_close(sp);

    /* Reopen: the 150 not acked are there, in order, from the 51st; the
     * Idempotency-Key of a batch has not changed; new ids are higher. */
    sp = open_spool(dir, 0, 4096);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.queued_batches, 150);
    assert_int_equal(st.uid, uid);
    assert_int_equal(st.corrupt_records + st.cut_torn_records, 0);
    assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
    assert_int_equal(b.id, ids[50]);
    char key2[RP__SPOOL_KEY_MAX];
    rp__spool_idempotency_key(&b, key2);
    assert_string_equal(key1, key2);
    assert_int_equal(rp__spool_ack(sp, b.id), 0);
    uint64_t more = append_seq(sp, 1000, 1500);
    assert_true(more > ids[199]);
    uint64_t seqs[200];
    size_t n = drain(sp, 1, 1500, seqs, NULL, 200);
    assert_int_equal(n, 150);
    for (size_t i = 0; i < 149; i++)
        assert_int_equal(seqs[i], 51 + i);
    assert_int_equal(seqs[149], 1000);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.queued_batches, 0);
    rp__spool_close(sp);

    /* Everything acked: every segment file is gone. */
    struct names nm;
    seg_files(dir, &nm);
    assert_int_equal(nm.n, 0);
    sp = open_spool(dir, 0, 4096);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.queued_batches, 0);
    assert_true(st.next_id > more);
    rp__spool_close(sp);
    rp__buf_free(&buf);
    tu_rm_rf(dir);
}

static void test_inflight_window(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.max_inflight = 4;
    o.fsync = RP__SPOOL_FSYNC_ALWAYS;
    rp__spool *sp;
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    assert_int_equal(rp__spool_next(sp, 0, &buf, &b), RP_ERR_NOTFOUND);
    uint64_t ids[6];
    for (int i = 0; i < 6; i++)
        ids[i] = append_seq(sp, (uint64_t)i, 300);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(rp__spool_next(sp, i ? ids[i - 1] : 0, &buf, &b), 0);
        assert_int_equal(b.id, ids[i]);
    }
    assert_int_equal(rp__spool_next(sp, ids[3], &buf, &b), RP_ERR_BUSY);
    /* Asking from 0 gives the oldest in flight again; from ids[1] the third. */
    assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
    assert_int_equal(b.id, ids[0]);
    assert_int_equal(rp__spool_next(sp, ids[1], &buf, &b), 0);
    assert_int_equal(b.id, ids[2]);
    /* Acks out of order: the watermark waits for the oldest. */
    assert_int_equal(rp__spool_ack(sp, ids[1]), 0);
    assert_int_equal(rp__spool_ack(sp, ids[1]), RP_ERR_NOTFOUND);
    assert_int_equal(rp__spool_ack(sp, ids[5]), RP_ERR_NOTFOUND); /* never handed out */
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    assert_true(st.acked_id < ids[0]);
    assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
    assert_int_equal(b.id, ids[0]);
    assert_int_equal(rp__spool_ack(sp, ids[0]), 0);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.acked_id, ids[1]);
    /* Still full: the window spans from the oldest unacked one (ids[2]). */
    assert_int_equal(rp__spool_next(sp, ids[3], &buf, &b), 0);
    assert_int_equal(b.id, ids[4]);
    assert_int_equal(rp__spool_next(sp, ids[4], &buf, &b), 0);
    assert_int_equal(b.id, ids[5]);
    assert_int_equal(rp__spool_next(sp, ids[5], &buf, &b), RP_ERR_BUSY);
    assert_int_equal(rp__spool_ack(sp, ids[2]), 0);
    assert_int_equal(rp__spool_next(sp, ids[5], &buf, &b), RP_ERR_NOTFOUND);

    /* A buffer too small consumes nothing. */
    rp__buf small;
    rp__buf_init(&small, 4);
    assert_int_equal(rp__spool_next(sp, 0, &small, &b), RP_ERR_RANGE);
    assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
    assert_int_equal(b.id, ids[3]);
    rp__buf_free(&small);

    /* Batches in flight at close come back after reopen. */
    rp__spool_close(sp);
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    uint64_t seqs[8];
    assert_int_equal(drain(sp, 1, 300, seqs, NULL, 8), 3);
    assert_int_equal(seqs[0], 3);
    assert_int_equal(seqs[2], 5);
    rp__spool_close(sp);
    rp__buf_free(&buf);
    tu_rm_rf(dir);
}

static atomic_int appended_cb;

static void on_append(void *ctx, uint64_t id)
{
    (void)ctx;
    (void)id;
    atomic_fetch_add(&appended_cb, 1);
}

static void test_reader_follows_appender_and_sync(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.fsync = RP__SPOOL_FSYNC_INTERVAL;
    o.fsync_interval_ms = 3600 * 1000;
    o.segment_bytes = 2000;
    o.on_append = on_append;
    rp__spool *sp;
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    uint64_t last = 0;
    for (uint64_t i = 0; i < 50; i++) {
        uint64_t id = append_seq(sp, i, 900);
        assert_int_equal(rp__spool_next(sp, last, &buf, &b), 0);
        assert_int_equal(b.id, id);
        assert_int_equal(rp__spool_next(sp, id, &buf, &b), RP_ERR_NOTFOUND);
        assert_int_equal(rp__spool_ack(sp, id), 0);
        last = id;
    }
    assert_int_equal(atomic_load(&appended_cb), 50);
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    uint64_t syncs = st.syncs;
    /* Rotations sync the closed segment; the open one waits for the
     * interval or a forced sync. */
    assert_true(syncs > 0);
    assert_int_equal(rp__spool_sync(sp, 0), 0);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.syncs, syncs);
    append_seq(sp, 99, 900);
    assert_int_equal(rp__spool_sync(sp, 1), 0);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.syncs, syncs + 1);
    /* Acked segments are deleted as they close: only the open one stays. */
    assert_true(st.segments <= 2);
    struct names nm;
    seg_files(dir, &nm);
    assert_int_equal((uint64_t)nm.n, st.segments);
    rp__spool_close(sp);
    rp__buf_free(&buf);
    tu_rm_rf(dir);
}

/* ---- the cap ---- */

static void test_cap_drops_oldest(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    /* Records of exactly 1000 bytes, 4 per segment (4064 bytes with the
     * footer), 40 at most. */
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.max_bytes = 40640;
    o.segment_bytes = 4000;
    o.fsync = RP__SPOOL_FSYNC_NEVER;
    o.max_inflight = 1000;
    rp__spool *sp;
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    static uint8_t pay[RP__SPOOL_PAYLOAD_MAX / 64];
    uint64_t ids[100];
    for (int i = 0; i < 40; i++) {
        memset(pay, i, 1000 - HDR);
        assert_int_equal(rp__spool_append(sp, pay, 1000 - HDR, 10, 0, &ids[i]), 0);
    }
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.disk_bytes, 40640);
    assert_int_equal(st.dropped_full_batches, 0);

    /* The 41st drops the oldest segment: 4 batches, 40 events. */
    memset(pay, 40, 1000 - HDR);
    assert_int_equal(rp__spool_append(sp, pay, 1000 - HDR, 10, 0, &ids[40]), 0);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.dropped_full_batches, 4);
    assert_int_equal(st.dropped_full_events, 40);
    assert_int_equal(st.dropped_full_bytes, 4000);
    assert_int_equal(st.queued_batches, 37);
    assert_true(st.disk_bytes <= 40640);

    /* The reader takes the oldest (ids[4]); it is in flight, so its segment
     * survives the next drops while younger ones go. */
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
    assert_int_equal(b.id, ids[4]);
    assert_int_equal(((const uint8_t *)b.payload)[0], 4);
    for (int i = 41; i < 45; i++) {
        memset(pay, i, 1000 - HDR);
        assert_int_equal(rp__spool_append(sp, pay, 1000 - HDR, 10, 0, &ids[i]), 0);
    }
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.dropped_full_batches, 8);
    assert_true(st.disk_bytes <= 40640);
    /* Next after ids[4] skips the dropped segment (ids[8..11]). */
    assert_int_equal(rp__spool_next(sp, ids[4], &buf, &b), 0);
    assert_int_equal(b.id, ids[5]);
    assert_int_equal(rp__spool_next(sp, ids[5], &buf, &b), 0);
    assert_int_equal(b.id, ids[6]);
    assert_int_equal(rp__spool_next(sp, ids[6], &buf, &b), 0);
    assert_int_equal(b.id, ids[7]);
    assert_int_equal(rp__spool_next(sp, ids[7], &buf, &b), 0);
    assert_int_equal(b.id, ids[12]);

    /* Too big for the cap, or for the payload limit. */
    assert_int_equal(rp__spool_append(sp, pay, 40640 - FOOTER - HDR + 1, 1, 0, NULL), RP_ERR_RANGE);
    assert_int_equal(rp__spool_append(sp, NULL, (size_t)RP__SPOOL_PAYLOAD_MAX + 1, 1, 0, NULL),
                     RP_ERR_RANGE);
    /* Exactly the cap fits, once everything else may go. */
    rp__spool_close(sp);
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    assert_int_equal(rp__spool_append(sp, pay, 40640 - FOOTER - HDR, 1, 0, NULL), 0);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.disk_bytes, 40640);
    assert_int_equal(st.queued_batches, 1);

    /* All in flight: nothing may be dropped, so the append is refused and
     * the spool is unchanged. */
    assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
    assert_int_equal(rp__spool_append(sp, pay, 100, 1, 0, NULL), RP_ERR_FULL);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.refused_full, 1);
    assert_int_equal(st.queued_batches, 1);
    assert_int_equal(rp__spool_ack(sp, b.id), 0);
    assert_int_equal(rp__spool_append(sp, pay, 100, 1, 0, NULL), 0);
    rp__spool_close(sp);

    /* A smaller cap at the next open applies at the next append. */
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    for (int i = 0; i < 30; i++)
        assert_int_equal(rp__spool_append(sp, pay, 1000 - HDR, 10, 0, NULL), 0);
    rp__spool_close(sp);
    o.max_bytes = 10000;
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    rp__spool_get_stats(sp, &st);
    assert_true(st.disk_bytes > 10000);
    assert_int_equal(rp__spool_append(sp, pay, 1000 - HDR, 10, 0, NULL), 0);
    rp__spool_get_stats(sp, &st);
    assert_true(st.disk_bytes <= 10000);
    rp__spool_close(sp);
    rp__buf_free(&buf);
    tu_rm_rf(dir);
}

/* ---- damage: torn, flipped, tampered ---- */

struct pristine {
    char dir[PATH_MAX];
    char seg[PATH_MAX];
    uint8_t *data;
    size_t len;        /* records and footer */
    size_t starts[16]; /* record offsets, plus the end of the records */
    int n;
    uint8_t *state, *acked;
    size_t state_len, acked_len;
};

/* A spool of n small records in one segment, closed, with its bytes kept. */
static void make_pristine(struct pristine *p, int n)
{
    assert_int_equal(tu_mkdtemp("spool", p->dir, sizeof p->dir), 0);
    rp__spool *sp = open_spool(p->dir, 0, 0);
    p->n = n;
    p->starts[0] = 0;
    for (int i = 0; i < n; i++) {
        uint8_t buf[64];
        size_t len = gen_payload((uint64_t)i, buf, 40);
        append_seq(sp, (uint64_t)i, 40);
        p->starts[i + 1] = p->starts[i] + HDR + len;
    }
    rp__spool_close(sp);
    struct names nm;
    seg_files(p->dir, &nm);
    assert_int_equal(nm.n, 1);
    join(p->seg, p->dir, nm.name[0]);
    p->data = read_all(p->seg, &p->len);
    assert_int_equal(p->len, p->starts[n] + FOOTER);
    char path[PATH_MAX];
    p->state = read_all(join(path, p->dir, "state"), &p->state_len);
    p->acked = read_all(join(path, p->dir, "acked"), &p->acked_len);
}

static void restore(struct pristine *p)
{
    char path[PATH_MAX];
    write_all(p->seg, p->data, p->len);
    write_all(join(path, p->dir, "state"), p->state, p->state_len);
    write_all(join(path, p->dir, "acked"), p->acked, p->acked_len);
}

static void free_pristine(struct pristine *p)
{
    free(p->data);
    free(p->state);
    free(p->acked);
    tu_rm_rf(p->dir);
}

/* Opens, drains without acking and checks: the records listed in keep[] are
 * there, intact and in order, nothing else; lost bytes are accounted. */
static void expect_records(struct pristine *p, const int *keep, int nkeep, uint64_t lost_bytes)
{
    rp__spool *sp = open_spool(p->dir, 0, 0);
    uint64_t seqs[16];
    size_t n = drain(sp, 0, 40, seqs, NULL, 16);
    assert_int_equal(n, (size_t)nkeep);
    for (int i = 0; i < nkeep; i++)
        assert_int_equal(seqs[i], (uint64_t)keep[i]);
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.corrupt_bytes + st.cut_torn_bytes, lost_bytes);
    assert_int_equal(st.corrupt_records + st.cut_torn_records, lost_bytes ? 1 : 0);
    rp__spool_close(sp);
}

static void test_torn_at_every_offset(void **state)
{
    (void)state;
    struct pristine p;
    make_pristine(&p, 5);
    for (size_t cut = 0; cut < p.len; cut++) {
        restore(&p);
        assert_int_equal(truncate(p.seg, (off_t)cut), 0);
        /* A cut inside the footer leaves every record and a torn tail of
         * footer bytes; without the footer the segment is walked. */
        int keep[16], nk = 0;
        while (nk < p.n && p.starts[nk + 1] <= cut)
            keep[nk] = nk, nk++;
        expect_records(&p, keep, nk, cut - p.starts[nk]);
        /* The tail was cut to the last whole record (or the file removed). */
        struct stat sb;
        if (nk == 0)
            assert_true(stat(p.seg, &sb) != 0 || sb.st_size == 0);
        else
            assert_true(stat(p.seg, &sb) == 0 && (size_t)sb.st_size == p.starts[nk]);
        /* Appending after the cut works, and reopening finds everything. */
        rp__spool *sp = open_spool(p.dir, 0, 0);
        append_seq(sp, 77, 40);
        rp__spool_close(sp);
        sp = open_spool(p.dir, 0, 0);
        uint64_t seqs[16];
        assert_int_equal(drain(sp, 0, 40, seqs, NULL, 16), (size_t)nk + 1);
        assert_int_equal(seqs[nk], 77);
        rp__spool_stats st;
        rp__spool_get_stats(sp, &st);
        assert_int_equal(st.corrupt_records + st.cut_torn_records, 0);
        rp__spool_close(sp);
        /* Back to one segment for the next round. */
        struct names nm;
        seg_files(p.dir, &nm);
        char path[PATH_MAX];
        for (int i = 0; i < nm.n; i++)
            unlink(join(path, p.dir, nm.name[i]));
    }
    free_pristine(&p);
}

static void test_flipped_bytes_anywhere(void **state)
{
    (void)state;
    struct pristine p;
    make_pristine(&p, 5);
    static const uint8_t masks[] = {0x01, 0x80, 0xff};
    for (size_t at = 0; at < p.len; at++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            restore(&p);
            uint8_t *copy = malloc(p.len);
            memcpy(copy, p.data, p.len);
            copy[at] ^= masks[m];
            write_all(p.seg, copy, p.len);
            free(copy);
            int bad = 0;
            while (bad < p.n && p.starts[bad + 1] <= at)
                bad++;
            int keep[16], nk = 0;
            for (int i = 0; i < p.n; i++)
                if (i != bad)
                    keep[nk++] = i;
            /* A damaged footer: the records are walked, the footer cut. */
            uint64_t lost = bad == p.n ? FOOTER : p.starts[bad + 1] - p.starts[bad];
            expect_records(&p, keep, nk, lost);
        }
    }
    /* A damaged state file means a new identity, not lost batches; a
     * damaged acked file means batches are sent again. */
    for (size_t at = 0; at < p.state_len; at++) {
        restore(&p);
        char path[PATH_MAX];
        uint8_t copy[64];
        memcpy(copy, p.state, p.state_len);
        copy[at] ^= 0x10;
        write_all(join(path, p.dir, "state"), copy, p.state_len);
        int keep[] = {0, 1, 2, 3, 4};
        expect_records(&p, keep, 5, 0);
    }
    for (size_t at = 0; at < p.acked_len; at++) {
        restore(&p);
        char path[PATH_MAX];
        uint8_t copy[64];
        memcpy(copy, p.acked, p.acked_len);
        copy[at] ^= 0x10;
        write_all(join(path, p.dir, "acked"), copy, p.acked_len);
        int keep[] = {0, 1, 2, 3, 4};
        expect_records(&p, keep, 5, 0);
    }
    free_pristine(&p);
}

static void test_tampered_files(void **state)
{
    (void)state;
    struct pristine p;
    make_pristine(&p, 5);
    char path[PATH_MAX];

    /* Zeros after the last record (delayed allocation after power loss):
     * a torn tail, cut. */
    restore(&p);
    size_t end = p.starts[p.n];
    uint8_t *big = calloc(1, p.len + 5000);
    memcpy(big, p.data, end);
    write_all(p.seg, big, end + 5000);
    int all[] = {0, 1, 2, 3, 4};
    expect_records(&p, all, 5, 5000);

    /* Garbage between records 2 and 3: skipped, the rest delivered. */
    restore(&p);
    memcpy(big, p.data, p.starts[3]);
    memset(big + p.starts[3], 'R', 300); /* many false starts for the resync */
    memcpy(big + p.starts[3] + 300, p.data + p.starts[3], end - p.starts[3]);
    write_all(p.seg, big, end + 300);
    expect_records(&p, all, 5, 300);

    /* A damaged header inside a segment with an intact footer: the footer
     * is believed at open, and the damage is found when read. */
    restore(&p);
    {
        uint8_t *copy = malloc(p.len);
        memcpy(copy, p.data, p.len);
        memset(copy + p.starts[1], 0, HDR); /* record 1's header, footer intact */
        write_all(p.seg, copy, p.len);
        free(copy);
        rp__spool *sp = open_spool(p.dir, 0, 0);
        rp__spool_stats st;
        rp__spool_get_stats(sp, &st);
        assert_int_equal(st.queued_batches, 5); /* the footer's word, until read */
        assert_int_equal(st.queued_events, (uint64_t)events_of(0) + events_of(1) + events_of(2) +
                                               events_of(3) + events_of(4));
        uint64_t seqs[8];
        assert_int_equal(drain(sp, 1, 40, seqs, NULL, 8), 4);
        assert_int_equal(seqs[1], 2);
        rp__spool_get_stats(sp, &st);
        assert_int_equal(st.corrupt_records, 1);
        assert_int_equal(st.corrupt_bytes, p.starts[2] - p.starts[1]);
        assert_int_equal(st.corrupt_events, events_of(1));
        assert_int_equal(st.queued_batches, 0);
        assert_int_equal(st.segments, 0); /* all retired: the file is gone */
        rp__spool_close(sp);
    }

    /* A record whose payload runs past the end of a middle segment, and an
     * empty segment file: torn and nothing. */
    restore(&p);
    write_all(join(path, p.dir, "0000000000000000.seg"), "", 0);
    expect_records(&p, all, 5, 0);

    /* The same records again under a later name: out of order, skipped. */
    restore(&p);
    write_all(join(path, p.dir, "ffffffffffffff00.seg"), p.data, p.starts[2]);
    {
        rp__spool *sp = open_spool(p.dir, 0, 0);
        assert_int_equal(drain(sp, 0, 40, NULL, NULL, 0), 5);
        rp__spool_stats st;
        rp__spool_get_stats(sp, &st);
        assert_int_equal(st.corrupt_records, 2);
        assert_int_equal(st.corrupt_bytes, p.starts[2]);
        rp__spool_close(sp);
    }
    unlink(path);

    /* Files that are not segments are left alone; a folder named like a
     * segment too. */
    restore(&p);
    write_all(join(path, p.dir, "notes.txt"), "hello", 5);
    assert_int_equal(mkdir(join(path, p.dir, "1000000000000000.seg"), 0700), 0);
    expect_records(&p, all, 5, 0);
    assert_true(tu_exists(join(path, p.dir, "notes.txt")));
    rmdir(join(path, p.dir, "1000000000000000.seg"));

    /* The file changes under an open spool: the reader notices. */
    restore(&p);
    {
        rp__spool *sp = open_spool(p.dir, 0, 0);
        uint8_t *copy = malloc(p.len);
        memcpy(copy, p.data, p.len);
        copy[p.starts[1] + HDR] ^= 1; /* record 1's payload */
        write_all(p.seg, copy, p.len);
        free(copy);
        uint64_t seqs[8];
        assert_int_equal(drain(sp, 0, 40, seqs, NULL, 8), 4);
        assert_int_equal(seqs[1], 2);
        rp__spool_stats st;
        rp__spool_get_stats(sp, &st);
        assert_int_equal(st.corrupt_records, 1);
        assert_int_equal(st.corrupt_events, events_of(1));
        rp__spool_close(sp);
    }
    /* A batch in flight whose bytes change before it is asked for again:
     * dropped as corrupt, not handed out. */
    restore(&p);
    {
        rp__spool *sp = open_spool(p.dir, 0, 0);
        rp__buf buf;
        rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
        rp__spool_batch b;
        assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
        uint64_t first = b.id;
        assert_int_equal(rp__spool_next(sp, first, &buf, &b), 0);
        uint8_t *copy = malloc(p.len);
        memcpy(copy, p.data, p.len);
        copy[HDR + 2] ^= 1; /* record 0's payload */
        write_all(p.seg, copy, p.len);
        free(copy);
        assert_int_equal(rp__spool_next(sp, 0, &buf, &b), 0);
        assert_true(b.id > first); /* the second, not the damaged first */
        rp__spool_stats st;
        rp__spool_get_stats(sp, &st);
        assert_int_equal(st.corrupt_records, 1);
        assert_int_equal(st.inflight_batches, 1);
        assert_int_equal(st.acked_id, first);
        rp__buf_free(&buf);
        rp__spool_close(sp);
    }
    restore(&p);
    {
        rp__spool *sp = open_spool(p.dir, 0, 0);
        assert_int_equal(truncate(p.seg, (off_t)p.starts[2] + 3), 0);
        uint64_t seqs[8];
        assert_int_equal(drain(sp, 0, 40, seqs, NULL, 8), 2);
        rp__spool_stats st;
        rp__spool_get_stats(sp, &st);
        assert_int_equal(st.corrupt_records, 1);
        assert_int_equal(st.queued_batches, 2); /* the two in flight */
        rp__spool_close(sp);
    }
    free(big);
    free_pristine(&p);
}

static void test_ids_never_reused(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    rp__spool *sp = open_spool(dir, 0, 0);
    uint64_t a = append_seq(sp, 1, 100);
    drain(sp, 1, 100, NULL, NULL, 0);
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    uint64_t uid = st.uid;
    rp__spool_close(sp);

    /* Every segment acked and gone, and the acked file lost too: the ids
     * reserved in the state file still move on. */
    unlink(join(path, dir, "acked"));
    sp = open_spool(dir, 0, 0);
    uint64_t b = append_seq(sp, 2, 100);
    assert_true(b > a);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.uid, uid);
    drain(sp, 1, 100, NULL, NULL, 0);
    rp__spool_close(sp);

    /* Past the ids reserved at open (65536): a new reservation is written
     * before they are used, and a reopen starts above it. */
    sp = open_spool(dir, 0, 0);
    uint64_t first = 0, id = 0;
    for (int i = 0; i < 70000; i++) {
        assert_int_equal(rp__spool_append(sp, "x", 1, 1, 0, &id), 0);
        if (!first)
            first = id;
    }
    assert_int_equal(id, first + 69999);
    size_t slen;
    uint8_t *st_bytes = read_all(join(path, dir, "state"), &slen);
    assert_int_equal(slen, 32);
    uint64_t reserved = 0;
    for (int i = 0; i < 8; i++)
        reserved |= (uint64_t)st_bytes[16 + i] << (8 * i);
    free(st_bytes);
    assert_true(reserved > id);
    rp__spool_close(sp);
    sp = open_spool(dir, 0, 0);
    rp__spool_get_stats(sp, &st);
    assert_true(st.next_id >= reserved);
    assert_int_equal(st.queued_batches, 70000);
    rp__spool_close(sp);

    /* The state file lost as well: ids may start again, but under a new
     * uid, so no Idempotency-Key repeats. */
    unlink(join(path, dir, "state"));
    sp = open_spool(dir, 0, 0);
    rp__spool_get_stats(sp, &st);
    assert_true(st.uid != uid);
    rp__spool_close(sp);

    /* A damaged state file: counted. */
    write_all(join(path, dir, "state"), "garbage garbage garbage garbage!", 32);
    sp = open_spool(dir, 0, 0);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.state_resets, 1);
    rp__spool_close(sp);
    tu_rm_rf(dir);
}

static void test_bad_folder(void **state)
{
    (void)state;
    rp__spool_opts o;
    rp__spool_opts_init(&o, "");
    rp__spool *sp = NULL;
    assert_int_equal(rp__spool_open(&o, &sp), RP_ERR_INVAL);
    o.dir = "/proc/self/no/such/spool";
    assert_true(rp__spool_open(&o, &sp) < 0);
    assert_null(sp);
    rp__spool_close(NULL);
}

/* ---- the folder is trusted once ---- */

/* Entries of dir other than "." and "..". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The spool's folder path is looked up once, at open. Code with root's
 * power that swaps the folder afterwards (renames it away and puts a
 * symbolic link to another folder at its path) must not redirect a single
 * file: new segments, removals and the acked file stay in the folder the
 * spool opened. A link at the path is refused at the next open, and so is a
 * folder that group or others may write. */
static void test_folder_swapped_after_open(void **state)
{
    (void)state;
    char base[PATH_MAX], dir[PATH_MAX], moved[PATH_MAX], other[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", base, sizeof base), 0);
    join(dir, base, "spool");
    join(moved, base, "moved");
    join(other, base, "other");
    assert_int_equal(mkdir(other, 0700), 0);

    rp__spool *sp = open_spool(dir, 0, 4096);
    uint64_t ids[100];
    for (uint64_t i = 0; i < 20; i++)
        ids[i] = append_seq(sp, i, 1500);
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    uint64_t segs_before = st.segments;

    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(symlink(other, dir), 0);

    /* Enough to rotate through many new segments, then read and ack the
     * first half, which removes their segments. */
    for (uint64_t i = 20; i < 100; i++)
        ids[i] = append_seq(sp, i, 1500);
    rp__spool_get_stats(sp, &st);
    assert_true(st.segments > segs_before + 5);
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    for (int i = 0; i < 50; i++) {
        assert_int_equal(rp__spool_next(sp, i ? ids[i - 1] : 0, &buf, &b), 0);
        assert_int_equal(b.id, ids[i]);
        assert_int_equal(rp__spool_ack(sp, b.id), 0);
    }
    rp__buf_free(&buf);
    assert_int_equal(rp__spool_sync(sp, 1), 0);
    rp__spool_close(sp);
    assert_int_equal(count_entries(other), 0);

    /* A link as the folder is refused, not followed. */
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    sp = NULL;
    assert_int_equal(rp__spool_open(&o, &sp), RP_ERR_PERM);
    assert_null(sp);
    assert_int_equal(count_entries(other), 0);

    /* So is a folder someone else could plant files in. */
    assert_int_equal(chmod(moved, 0770), 0);
    rp__spool_opts_init(&o, moved);
    assert_int_equal(rp__spool_open(&o, &sp), RP_ERR_PERM);
    assert_int_equal(chmod(moved, 0700), 0);

    /* Everything is in the folder the spool opened: the 50 not acked, in
     * order and intact, and nothing of the acked half. */
    sp = open_spool(moved, 0, 4096);
    uint64_t seqs[100];
    assert_int_equal(drain(sp, 0, 1500, seqs, NULL, 100), 50);
    for (int i = 0; i < 50; i++)
        assert_int_equal(seqs[i], 50 + i);
    rp__spool_get_stats(sp, &st);
    assert_int_equal(st.corrupt_records + st.cut_torn_records, 0);
    rp__spool_close(sp);
    tu_rm_rf(base);
}

/* The agent opens <data_dir>/spool once, with the rest of its folders, and
 * hands the open folder to the spool: the folder swapped for a link between
 * that check and the spool's open must not matter. The spool works in the
 * folder it was handed (its path, now a link to another folder, is given
 * too and must not be looked up), and nothing lands in the link's target. */
static void test_folder_handle_swapped_before_open(void **state)
{
    (void)state;
    char base[PATH_MAX], dir[PATH_MAX], moved[PATH_MAX], other[PATH_MAX], why[512];
    assert_int_equal(tu_mkdtemp("spool", base, sizeof base), 0);
    join(dir, base, "spool");
    join(moved, base, "moved");
    join(other, base, "other");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(mkdir(other, 0700), 0);
    rp__os_dir *folder = NULL;
    assert_int_equal(rp__os_dir_open(dir, &folder, why, sizeof why), 0);

    assert_int_equal(rename(dir, moved), 0);
    assert_int_equal(symlink(other, dir), 0);

    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.folder = folder;
    o.segment_bytes = 4096;
    o.fsync = RP__SPOOL_FSYNC_NEVER;
    rp__spool *sp = NULL;
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    /* The spool keeps a handle of its own. */
    rp__os_dir_close(folder);
    for (uint64_t i = 0; i < 30; i++)
        append_seq(sp, i, 1500);
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    assert_true(st.segments > 5);
    rp__spool_close(sp);
    assert_int_equal(count_entries(other), 0);

    sp = open_spool(moved, 0, 4096);
    uint64_t seqs[30];
    assert_int_equal(drain(sp, 0, 1500, seqs, NULL, 30), 30);
    for (int i = 0; i < 30; i++)
        assert_int_equal(seqs[i], i);
    rp__spool_close(sp);
    tu_rm_rf(base);
}

/* Names in the folder that are not the spool's own files are never written
 * through: a symbolic link, a second name (hard link) of another file, and
 * a FIFO, each under a segment's name, are left alone at open and their
 * targets untouched. */
static void test_planted_segment_names(void **state)
{
    (void)state;
    char base[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], secret[PATH_MAX], other[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", base, sizeof base), 0);
    join(dir, base, "spool");
    assert_int_equal(mkdir(dir, 0700), 0);
    join(secret, base, "secret");
    join(other, base, "other");
    write_all(secret, "root only\n", 10);
    write_all(other, "second name\n", 12);
    assert_int_equal(symlink(secret, join(path, dir, "0000000000000001.seg")), 0);
    assert_int_equal(link(other, join(path, dir, "0000000000000002.seg")), 0);
    assert_int_equal(mkfifo(join(path, dir, "0000000000000003.seg"), 0600), 0);

    rp__spool *sp = open_spool(dir, 0, 4096);
    for (uint64_t i = 0; i < 30; i++)
        append_seq(sp, i, 1500);
    assert_int_equal(drain(sp, 1, 1500, NULL, NULL, 0), 30);
    rp__spool_close(sp);

    size_t len;
    uint8_t *p = read_all(secret, &len);
    assert_int_equal(len, 10);
    assert_memory_equal(p, "root only\n", 10);
    free(p);
    p = read_all(other, &len);
    assert_int_equal(len, 12);
    assert_memory_equal(p, "second name\n", 12);
    free(p);
    /* Left as they were, under their names. */
    struct stat st;
    assert_int_equal(lstat(join(path, dir, "0000000000000001.seg"), &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(join(path, dir, "0000000000000002.seg"), &st), 0);
    assert_int_equal(st.st_nlink, 2);
    assert_int_equal(lstat(join(path, dir, "0000000000000003.seg"), &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    tu_rm_rf(base);
}

/* ---- a real full disk ---- */

#define ENOSPC_FAIL(...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "enospc child: " __VA_ARGS__);                                             \
        fputc('\n', stderr);                                                                       \
        _exit(1);                                                                                  \
    } while (0)

/* Runs in a child with its own mount namespace and a 1 MiB tmpfs. */
static void enospc_child(const char *dir)
{
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.max_bytes = 64 << 20; /* far above the disk: only ENOSPC limits */
    o.segment_bytes = 64 << 10;
    o.max_inflight = 100000;
    o.fsync = RP__SPOOL_FSYNC_ALWAYS;
    rp__spool *sp;
    if (rp__spool_open(&o, &sp) != 0)
        ENOSPC_FAIL("open");
    /* Three times the disk: the oldest make room. */
    static uint8_t pay[8000];
    uint64_t last = 0;
    for (uint64_t i = 0; i < 400; i++) {
        size_t len = gen_payload(i, pay, sizeof pay);
        int rc = rp__spool_append(sp, pay, len, events_of(i), 0, &last);
        if (rc != 0)
            ENOSPC_FAIL("append %" PRIu64 ": %s", i, rp_errname(rc));
    }
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    if (st.enospc == 0 || st.dropped_full_batches == 0)
        ENOSPC_FAIL("no ENOSPC seen (%" PRIu64 ") or nothing dropped", st.enospc);
    if (st.appended_batches != 400 || st.queued_batches + st.dropped_full_batches != 400)
        ENOSPC_FAIL("counts: queued %" PRIu64 " dropped %" PRIu64, st.queued_batches,
                    st.dropped_full_batches);
    /* Everything in flight: nothing may go, so a full disk refuses. */
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    uint64_t after = 0, n = 0, prev_seq = 0;
    while (rp__spool_next(sp, after, &buf, &b) == 0) {
        uint64_t seq = 0;
        if (check_payload(b.payload, b.len, sizeof pay, &seq) != 0 || (n && seq <= prev_seq))
            ENOSPC_FAIL("batch %" PRIu64 " damaged or out of order", b.id);
        prev_seq = seq;
        after = b.id;
        n++;
    }
    if (n != st.queued_batches || prev_seq != 399)
        ENOSPC_FAIL("read %" PRIu64 " of %" PRIu64 ", last seq %" PRIu64, n, st.queued_batches,
                    prev_seq);
    int rc = 0;
    for (uint64_t i = 400; i < 1000 && rc == 0; i++) {
        size_t len = gen_payload(i, pay, sizeof pay);
        rc = rp__spool_append(sp, pay, len, events_of(i), 0, NULL);
    }
    if (rc != RP_ERR_FULL)
        ENOSPC_FAIL("expected RP_ERR_FULL, got %s", rp_errname(rc));
    rp__spool_get_stats(sp, &st);
    uint64_t queued = st.queued_batches;
    rp__spool_close(sp);
    /* Consistent: it opens clean and holds exactly what was queued. */
    if (rp__spool_open(&o, &sp) != 0)
        ENOSPC_FAIL("reopen");
    rp__spool_get_stats(sp, &st);
    if (st.cut_torn_bytes || st.corrupt_records || st.queued_batches != queued)
        ENOSPC_FAIL("after reopen: torn %" PRIu64 " corrupt %" PRIu64 " queued %" PRIu64
                    " (want %" PRIu64 ")",
                    st.cut_torn_bytes, st.corrupt_records, st.queued_batches, queued);
    after = 0;
    n = 0;
    while (rp__spool_next(sp, after, &buf, &b) == 0) {
        if (check_payload(b.payload, b.len, sizeof pay, NULL) != 0)
            ENOSPC_FAIL("damaged after reopen");
        after = b.id;
        rp__spool_ack(sp, b.id);
        n++;
    }
    if (n != queued)
        ENOSPC_FAIL("reopen read %" PRIu64 " of %" PRIu64, n, queued);
    /* Acked: room again. */
    size_t len = gen_payload(5000, pay, sizeof pay);
    if (rp__spool_append(sp, pay, len, 1, 0, NULL) != 0)
        ENOSPC_FAIL("append after acks");
    rp__spool_close(sp);
    rp__buf_free(&buf);
    _exit(0);
}

static void test_enospc_on_tmpfs(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* A private mount namespace (and a user namespace when not root), so
         * the tmpfs is seen by this child only and vanishes with it. */
        int flags = CLONE_NEWNS | (geteuid() == 0 ? 0 : CLONE_NEWUSER);
        if (unshare(flags) != 0)
            _exit(77);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
            _exit(77);
        if (mount("tmpfs", dir, "tmpfs", 0, "size=1m,mode=0700") != 0)
            _exit(77);
        enospc_child(dir);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    tu_rm_rf(dir);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77) {
        tu_skip("no private mount namespace for a 1 MB tmpfs here");
    }
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- one appender thread, one reader thread ---- */

#define MT_BATCHES 6000

struct mt {
    rp__spool *sp;
    atomic_int done_appending;
    atomic_int errors;
    atomic_uint_fast64_t read, acked_events;
    uint64_t stats_calls;
};

static void *mt_appender(void *arg)
{
    struct mt *m = arg;
    static uint8_t pay[6000];
    for (uint64_t i = 0; i < MT_BATCHES; i++) {
        size_t len = gen_payload(i, pay, sizeof pay);
        int rc;
        while ((rc = rp__spool_append(m->sp, pay, len, events_of(i), 0, NULL)) == RP_ERR_FULL)
            sched_yield();
        if (rc != 0)
            atomic_fetch_add(&m->errors, 1);
        if (i % 64 == 0)
            rp__spool_sync(m->sp, 1);
    }
    atomic_store(&m->done_appending, 1);
    return NULL;
}

static void *mt_reader(void *arg)
{
    struct mt *m = arg;
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    uint64_t last_id = 0, last_seq = 0;
    int pending = 0;
    uint64_t pend[4];
    for (;;) {
        int rc = rp__spool_next(m->sp, last_id, &buf, &b);
        if (rc == RP_ERR_NOTFOUND || rc == RP_ERR_BUSY) {
            /* Nothing new: ack what is held, stop once the appender is done
             * and nothing is left. */
            for (int i = 0; i < pending; i++)
                if (rp__spool_ack(m->sp, pend[i]) != 0)
                    atomic_fetch_add(&m->errors, 1);
            pending = 0;
            if (rc == RP_ERR_NOTFOUND && atomic_load(&m->done_appending)) {
                if (rp__spool_next(m->sp, last_id, &buf, &b) == RP_ERR_NOTFOUND)
                    break;
                continue;
            }
            sched_yield();
            continue;
        }
        uint64_t seq = 0;
        if (rc != 0 || check_payload(b.payload, b.len, 6000, &seq) != 0 || b.id <= last_id ||
            (last_id && seq <= last_seq)) {
            atomic_fetch_add(&m->errors, 1);
            break;
        }
        last_id = b.id;
        last_seq = seq;
        atomic_fetch_add(&m->read, 1);
        atomic_fetch_add(&m->acked_events, b.events);
        /* Hold up to 4 in flight, acked in reverse: out-of-order acks. */
        pend[pending++] = b.id;
        if (pending == 4) {
            for (int i = 3; i >= 0; i--)
                if (rp__spool_ack(m->sp, pend[i]) != 0)
                    atomic_fetch_add(&m->errors, 1);
            pending = 0;
        }
    }
    rp__buf_free(&buf);
    return NULL;
}

static void test_appender_and_reader_threads(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.max_bytes = 400 << 10; /* small: the appender outruns the reader now and then */
    o.segment_bytes = 24 << 10;
    o.fsync = RP__SPOOL_FSYNC_NEVER;
    o.max_inflight = 8;
    struct mt m;
    memset(&m, 0, sizeof m);
    assert_int_equal(rp__spool_open(&o, &m.sp), 0);
    pthread_t ta, tr;
    assert_int_equal(pthread_create(&tr, NULL, mt_reader, &m), 0);
    assert_int_equal(pthread_create(&ta, NULL, mt_appender, &m), 0);
    /* Stats from a third thread meanwhile. */
    rp__spool_stats st;
    while (!atomic_load(&m.done_appending)) {
        rp__spool_get_stats(m.sp, &st);
        assert_true(st.disk_bytes <= o.max_bytes);
        sched_yield();
    }
    pthread_join(ta, NULL);
    pthread_join(tr, NULL);
    assert_int_equal(atomic_load(&m.errors), 0);
    rp__spool_get_stats(m.sp, &st);
    /* Every batch is accounted for: read and acked, or dropped for room. */
    assert_int_equal(st.appended_batches, MT_BATCHES);
    assert_int_equal(st.acked_batches, atomic_load(&m.read));
    assert_int_equal(st.acked_batches + st.dropped_full_batches + st.queued_batches, MT_BATCHES);
    assert_int_equal(st.queued_batches, 0);
    assert_int_equal(st.acked_events + st.dropped_full_events, st.appended_events);
    assert_int_equal(st.corrupt_records, 0);
    rp__spool_close(m.sp);
    tu_rm_rf(dir);
}

/* ---- SIGKILL while appending and acking ---- */

#define KILL_ROUNDS        8
#define KILL_MAX_PER_ROUND 15000
#define KILL_PAYLOAD_MAX   3000
/* The parent reads everything before acking: a window this wide holds all
 * the rounds together. */
#define KILL_INFLIGHT (KILL_ROUNDS * KILL_MAX_PER_ROUND + 16)

enum { MSG_APPENDED = 1, MSG_ACKING = 2 };

struct kill_msg {
    uint64_t type, id, seq;
};

struct kill_child {
    rp__spool *sp;
    int fd;
    atomic_int stop;
};

static void send_msg(int fd, uint64_t type, uint64_t id, uint64_t seq)
{
    struct kill_msg m = {type, id, seq};
    /* sizeof m < PIPE_BUF: the write is atomic between the two threads. */
    while (write(fd, &m, sizeof m) < 0 && errno == EINTR) {
    }
}

static void *kill_reader(void *arg)
{
    struct kill_child *c = arg;
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    rp__spool_batch b;
    uint64_t last = 0;
    while (!atomic_load(&c->stop)) {
        if (rp__spool_next(c->sp, last, &buf, &b) != 0) {
            sched_yield();
            continue;
        }
        last = b.id;
        /* Said before acking: the parent must not miss it if the kill comes
         * between the ack and the message. */
        send_msg(c->fd, MSG_ACKING, b.id, 0);
        rp__spool_ack(c->sp, b.id);
    }
    return NULL;
}

static void kill_child_main(const char *dir, int fd, uint64_t base, enum rp__spool_fsync policy,
                            int with_reader)
{
    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.segment_bytes = 32 << 10;
    o.fsync = policy;
    o.fsync_interval_ms = 5;
    struct kill_child c = {.fd = fd};
    if (rp__spool_open(&o, &c.sp) != 0)
        _exit(3);
    pthread_t t;
    if (with_reader && pthread_create(&t, NULL, kill_reader, &c) != 0)
        _exit(4);
    static uint8_t pay[KILL_PAYLOAD_MAX];
    for (uint64_t i = 0; i < KILL_MAX_PER_ROUND; i++) {
        uint64_t seq = base + i, id;
        size_t len = gen_payload(seq, pay, sizeof pay);
        if (rp__spool_append(c.sp, pay, len, events_of(seq), (uint32_t)seq & 1, &id) != 0)
            _exit(5);
        send_msg(fd, MSG_APPENDED, id, seq);
    }
    /* Not killed in time: stop normally (the parent checks the same way). */
    atomic_store(&c.stop, 1);
    if (with_reader)
        pthread_join(t, NULL);
    rp__spool_close(c.sp);
    _exit(0);
}

struct known {
    uint64_t id, seq;
    int maybe_acked; /* the child was acking it when it was killed */
};

static int cmp_known(const void *a, const void *b)
{
    uint64_t x = ((const struct known *)a)->id, y = ((const struct known *)b)->id;
    return (x > y) - (x < y);
}

static struct known *find_known(struct known *k, size_t n, uint64_t id)
{
    struct known key = {.id = id};
    return bsearch(&key, k, n, sizeof *k, cmp_known);
}

/* Collects the child's reports until it is dead: kills it kill_after_ms
 * after the start. The pipe is read all along, so the child never waits on
 * it and is killed while it works. Returns the wait status. */
static int watch_child(pid_t pid, int fd, int64_t kill_after_ms, struct known *k, size_t *nk,
                       size_t cap, uint64_t *max_id)
{
    /* The reader thread may say it acks a batch before the appender has
     * said it appended it: acking ids are matched once all is in. */
    uint64_t *acking = calloc(cap, sizeof *acking);
    assert_non_null(acking);
    size_t nacking = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int killed = 0;
    char partial[sizeof(struct kill_msg)];
    size_t have = 0;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (!killed && ms >= kill_after_ms) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        poll(&pf, 1, killed ? 2000 : 1);
        if (!(pf.revents & (POLLIN | POLLHUP)))
            continue;
        ssize_t r = read(fd, partial + have, sizeof partial - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        if (have < sizeof partial)
            continue;
        have = 0;
        struct kill_msg msg;
        memcpy(&msg, partial, sizeof msg);
        if (msg.type == MSG_APPENDED) {
            assert_true(*nk < cap);
            assert_true(msg.id > *max_id); /* ids never go back, even across kills */
            *max_id = msg.id;
            k[*nk] = (struct known){msg.id, msg.seq, 0};
            (*nk)++;
        } else {
            assert_true(nacking < cap);
            acking[nacking++] = msg.id;
        }
    }
    for (size_t i = 0; i < nacking; i++) {
        struct known *e = find_known(k, *nk, acking[i]);
        /* Not found: appended and acked, but killed before it said so. */
        if (e)
            e->maybe_acked = 1;
    }
    free(acking);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void test_sigkill_at_random_moments(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    assert_int_equal(tu_mkdtemp("spool", dir, sizeof dir), 0);
    size_t cap = KILL_INFLIGHT;
    struct known *k = calloc(cap, sizeof *k);
    uint64_t *seen = calloc(cap, sizeof *seen);
    assert_non_null(k);
    assert_non_null(seen);
    size_t nk = 0;
    uint64_t max_id = 0, acked_upto = 0;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "test_sigkill_at_random_moments: seed %u\n", seed);
    srand(seed);
    rp__buf buf;
    rp__buf_init(&buf, RP__SPOOL_PAYLOAD_MAX);
    static const enum rp__spool_fsync policies[] = {RP__SPOOL_FSYNC_NEVER, RP__SPOOL_FSYNC_INTERVAL,
                                                    RP__SPOOL_FSYNC_ALWAYS};
    int kills = 0;
    uint64_t torn = 0;

    for (int round = 0; round < KILL_ROUNDS; round++) {
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        uint64_t base = (uint64_t)round * KILL_MAX_PER_ROUND;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            kill_child_main(dir, pfd[1], base, policies[round % 3], round % 2);
        }
        close(pfd[1]);
        int status = watch_child(pid, pfd[0], 5 + rand() % 76, k, &nk, cap, &max_id);
        close(pfd[0]);
        assert_true((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                    (WIFEXITED(status) && WEXITSTATUS(status) == 0));
        kills += WIFSIGNALED(status);

        /* Reopen: every batch reported appended is there, intact and in
         * order, unless the child was acking it or the parent acked it in
         * an earlier round. */
        rp__spool_opts o;
        rp__spool_opts_init(&o, dir);
        o.segment_bytes = 32 << 10;
        o.max_inflight = KILL_INFLIGHT;
        rp__spool *sp;
        assert_int_equal(rp__spool_open(&o, &sp), 0);
        rp__spool_stats st;
        rp__spool_get_stats(sp, &st);
        /* kill -9 leaves whole records (write() had returned) or a torn
         * tail of the record being written; never damage in the middle. */
        assert_int_equal(st.corrupt_records, 0);
        assert_true(st.cut_torn_records <= 1);
        torn += st.cut_torn_records;
        size_t next_expected = 0, nseen = 0;
        uint64_t after = 0;
        rp__spool_batch b;
        int rc;
        while ((rc = rp__spool_next(sp, after, &buf, &b)) == 0) {
            uint64_t seq = 0;
            assert_int_equal(check_payload(b.payload, b.len, KILL_PAYLOAD_MAX, &seq), 0);
            assert_int_equal(b.events, events_of(seq));
            assert_true(b.id > acked_upto);
            struct known *e = find_known(k, nk, b.id);
            if (e) {
                assert_int_equal(e->seq, seq);
                size_t idx = (size_t)(e - k);
                assert_true(idx >= next_expected);
                for (size_t j = next_expected; j < idx; j++)
                    assert_true(k[j].id <= acked_upto || k[j].maybe_acked);
                next_expected = idx + 1;
            } else {
                /* Appended but killed before it said so: the newest. */
                assert_true(b.id > max_id);
                assert_true(nk < cap);
                max_id = b.id;
                k[nk++] = (struct known){b.id, seq, 0};
                next_expected = nk;
            }
            assert_true(nseen < cap);
            seen[nseen++] = b.id;
            after = b.id;
        }
        assert_int_equal(rc, RP_ERR_NOTFOUND);
        for (size_t j = next_expected; j < nk; j++)
            assert_true(k[j].id <= acked_upto || k[j].maybe_acked);
        /* Ack the older half, in order: those must never come back. */
        for (size_t j = 0; j < nseen / 2; j++) {
            assert_int_equal(rp__spool_ack(sp, seen[j]), 0);
            acked_upto = seen[j];
        }
        rp__spool_close(sp);
    }
    fprintf(stderr,
            "test_sigkill_at_random_moments: %d of %d rounds killed, %zu batches, %" PRIu64
            " torn records cut\n",
            kills, KILL_ROUNDS, nk, torn);
    assert_true(kills > 0);
    rp__buf_free(&buf);
    free(seen);
    free(k);
    tu_rm_rf(dir);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fsync_parse),
        cmocka_unit_test(test_roundtrip_and_reopen),
        cmocka_unit_test(test_inflight_window),
        cmocka_unit_test(test_reader_follows_appender_and_sync),
        cmocka_unit_test(test_cap_drops_oldest),
        cmocka_unit_test(test_torn_at_every_offset),
        cmocka_unit_test(test_flipped_bytes_anywhere),
        cmocka_unit_test(test_tampered_files),
        cmocka_unit_test(test_ids_never_reused),
        cmocka_unit_test(test_bad_folder),
        cmocka_unit_test(test_folder_swapped_after_open),
        cmocka_unit_test(test_folder_handle_swapped_before_open),
        cmocka_unit_test(test_planted_segment_names),
        cmocka_unit_test(test_enospc_on_tmpfs),
        cmocka_unit_test(test_appender_and_reader_threads),
        cmocka_unit_test(test_sigkill_at_random_moments),
    };
    return tu_run_tests(tests, setup_quiet, NULL, argc, argv);
}
