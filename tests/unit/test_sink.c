/* The local sink: buffered lines reach the file on flush, every line is a
 * whole JSON object, rotation keeps the configured number of old files.
 * The batch sink against a real spool that pushes back: batches the spool
 * refuses are held in memory and reach it later in order, the oldest held
 * batch goes at the cap (counted), and a backlog spills batches
 * uncompressed while the spool is less than half full. */
#include "runtime/event.h"
#include "runtime/fields.h"
#include "output/gzip.h"
#include "output/sink.h"
#include "output/spool.h"
#include "runtime/topic.h"

#include <jansson.h>

#include <dirent.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

static struct rp_event *make_event(uint64_t seq)
{
    uint32_t topic;
    rp_field_id f_seq, f_cmd;
    struct rp_event *ev;
    assert_int_equal(rp__topic_intern("process.exec", 12, &topic), 0);
    assert_int_equal(rp__field_intern("sinktest.seq", 12, RP_TYPE_U64, &f_seq), 0);
    assert_int_equal(rp__field_intern("process.command_line", 20, RP_TYPE_STR, &f_cmd), 0);
    assert_int_equal(rp__event_create(topic, "process.exec", 0, &ev), 0);
    assert_int_equal(rp__event_set_u64(ev, f_seq, seq), 0);
    assert_int_equal(rp__event_set_str(ev, f_cmd, "/bin/true --flag", 16), 0);
    return ev;
}

/* Counts the lines of a file, checking each is a JSON object; returns -1 if
 * the file does not exist. Adds the sequence numbers seen to *sum. */
static long count_lines(const char *path, uint64_t *sum)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    long n = 0;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        assert_true(len > 0 && line[len - 1] == '\n');
        json_error_t jerr;
        json_t *obj = json_loads(line, 0, &jerr);
        if (!obj)
            fail_msg("%s line %ld is not JSON: %s", path, n + 1, jerr.text);
        assert_true(json_is_object(obj));
        *sum += (uint64_t)json_integer_value(json_object_get(obj, "sinktest.seq"));
        json_decref(obj);
        n++;
    }
    fclose(f);
    return n;
}

static void test_buffered_until_flush(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/a.ndjson", dir);
    rp__sink *s = NULL;
    rp__sink_opts o = {.file = path, .buffer_bytes = 1 << 20};
    assert_int_equal(rp__sink_create(&o, &s), 0);
    for (uint64_t i = 1; i <= 100; i++) {
        struct rp_event *ev = make_event(i);
        assert_int_equal(rp__sink_on_event(s, ev), 0);
        rp__event_release(ev);
    }
    uint64_t sum = 0;
    /* Below the buffer size nothing is written before a flush. */
    assert_int_equal(count_lines(path, &sum), 0);
    assert_int_equal(rp__sink_flush(s), 0);
    assert_int_equal(count_lines(path, &sum), 100);
    assert_int_equal(sum, 5050);
    rp__sink_stats st;
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.events, 100);
    assert_int_equal(st.write_errors, 0);
    rp__sink_destroy(s);
    unlink(path);
}

static int wakes;
static void on_wake(void *arg)
{
    (void)arg;
    wakes++;
}

/* The flush timer only runs while the sink holds something: the first
 * event wakes it once, a tick that empties the sink reports idle, and only
 * the next event wakes it again. */
static void test_tick_idle_and_wake(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/w.ndjson", dir);
    rp__sink *s = NULL;
    wakes = 0;
    rp__sink_opts o = {.file = path, .buffer_bytes = 1 << 20, .wake = on_wake};
    assert_int_equal(rp__sink_create(&o, &s), 0);
    for (uint64_t i = 1; i <= 3; i++) {
        struct rp_event *ev = make_event(i);
        assert_int_equal(rp__sink_on_event(s, ev), 0);
        rp__event_release(ev);
    }
    assert_int_equal(wakes, 1);
    int idle = -1;
    assert_int_equal(rp__sink_tick(s, &idle), 0);
    assert_int_equal(idle, 1);
    uint64_t sum = 0;
    assert_int_equal(count_lines(path, &sum), 3);
    /* Asleep: a tick with nothing to do stays idle and wakes nobody. */
    assert_int_equal(rp__sink_tick(s, &idle), 0);
    assert_int_equal(idle, 1);
    assert_int_equal(wakes, 1);
    struct rp_event *ev = make_event(4);
    assert_int_equal(rp__sink_on_event(s, ev), 0);
    rp__event_release(ev);
    ev = make_event(5);
    assert_int_equal(rp__sink_on_event(s, ev), 0);
    rp__event_release(ev);
    assert_int_equal(wakes, 2);
    rp__sink_destroy(s);
    sum = 0;
    assert_int_equal(count_lines(path, &sum), 5);
    assert_int_equal(sum, 15);
    unlink(path);
}

static void test_rotation_keeps_n_files(void **state)
{
    (void)state;
    char path[128], name[160];
    snprintf(path, sizeof path, "%s/r.ndjson", dir);
    rp__sink *s = NULL;
    /* Small files and a tiny buffer: many rotations. */
    rp__sink_opts o = {.file = path, .file_max_bytes = 4096, .file_keep = 2, .buffer_bytes = 1};
    assert_int_equal(rp__sink_create(&o, &s), 0);
    for (uint64_t i = 1; i <= 500; i++) {
        struct rp_event *ev = make_event(i);
        assert_int_equal(rp__sink_on_event(s, ev), 0);
        rp__event_release(ev);
    }
    rp__sink_stats st;
    rp__sink_get_stats(s, &st);
    rp__sink_destroy(s);
    assert_true(st.rotations > 2);

    uint64_t sum = 0;
    long n0 = count_lines(path, &sum);
    snprintf(name, sizeof name, "%s.1", path);
    long n1 = count_lines(name, &sum);
    snprintf(name, sizeof name, "%s.2", path);
    long n2 = count_lines(name, &sum);
    snprintf(name, sizeof name, "%s.3", path);
    uint64_t ignored = 0;
    assert_int_equal(count_lines(name, &ignored), -1); /* only 2 old files kept */
    assert_true(n0 > 0 && n1 > 0 && n2 > 0);
    /* The files hold the newest events, contiguous up to the last one. */
    long total = n0 + n1 + n2;
    uint64_t first = 500 - (uint64_t)total + 1;
    assert_int_equal(sum, (first + 500) * (uint64_t)total / 2);
    /* No file grew past the limit by more than one buffer (one line here). */
    FILE *f = fopen(path, "r");
    fseek(f, 0, SEEK_END);
    assert_true(ftell(f) <= 4096);
    fclose(f);
    unlink(path);
    snprintf(name, sizeof name, "%s.1", path);
    unlink(name);
    snprintf(name, sizeof name, "%s.2", path);
    unlink(name);
}

/* ---- batch mode: the spool pushes back ---- */

#define SEQ_CAP 8192

/* What a reader took out of the spool: every event's sequence number, in
 * spool order, and the ids of the batches it holds in flight. */
struct reader {
    rp__spool *sp;
    rp__buf buf, raw;
    rp__gzip *gz;
    uint64_t last_id;
    uint64_t seqs[SEQ_CAP];
    size_t nseq;
    uint64_t ids[SEQ_CAP];
    size_t nids;
    uint32_t gzip_batches, plain_batches;
};

static rp__spool *open_spool(const char *name, uint64_t max_bytes)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rp__spool_opts o;
    rp__spool_opts_init(&o, path);
    o.max_bytes = max_bytes;
    o.segment_bytes = 16 << 10;
    o.fsync = RP__SPOOL_FSYNC_NEVER;
    o.max_inflight = 1 << 16;
    rp__spool *sp = NULL;
    assert_int_equal(rp__spool_open(&o, &sp), 0);
    return sp;
}

static void reader_init(struct reader *r, rp__spool *sp)
{
    memset(r, 0, sizeof *r);
    r->sp = sp;
    rp__buf_init(&r->buf, RP__SPOOL_PAYLOAD_MAX);
    rp__buf_init(&r->raw, RP__SPOOL_PAYLOAD_MAX);
    assert_int_equal(rp__gzip_create(1, &r->gz), 0);
}

static void reader_free(struct reader *r)
{
    rp__buf_free(&r->buf);
    rp__buf_free(&r->raw);
    rp__gzip_destroy(r->gz);
}

/* Takes every batch the spool hands out now (they stay in flight, so the
 * spool cannot drop them), and records the events' sequence numbers. */
static void take_all(struct reader *r)
{
    rp__spool_batch b;
    int rc;
    while ((rc = rp__spool_next(r->sp, r->last_id, &r->buf, &b)) == 0) {
        r->last_id = b.id;
        assert_true(r->nids < SEQ_CAP);
        r->ids[r->nids++] = b.id;
        const char *p = b.payload;
        size_t len = b.len;
        if (b.flags & RP__SPOOL_FLAG_GZIP) {
            r->gzip_batches++;
            rp__buf_reset(&r->raw);
            assert_int_equal(rp__gzip_decompress(r->gz, b.payload, b.len, &r->raw), 0);
            p = r->raw.data;
            len = r->raw.len;
        } else {
            r->plain_batches++;
        }
        uint32_t lines = 0;
        for (size_t at = 0; at < len;) {
            const char *nl = memchr(p + at, '\n', len - at);
            assert_non_null(nl);
            json_error_t jerr;
            json_t *obj = json_loadb(p + at, (size_t)(nl - (p + at)), 0, &jerr);
            if (!obj)
                fail_msg("batch %llu: a line is not JSON: %s", (unsigned long long)b.id, jerr.text);
            assert_true(r->nseq < SEQ_CAP);
            r->seqs[r->nseq++] = (uint64_t)json_integer_value(json_object_get(obj, "sinktest.seq"));
            json_decref(obj);
            lines++;
            at = (size_t)(nl - p) + 1;
        }
        assert_int_equal(lines, b.events);
    }
    assert_int_equal(rc, RP_ERR_NOTFOUND);
}

static void ack_all(struct reader *r)
{
    for (size_t i = 0; i < r->nids; i++)
        assert_int_equal(rp__spool_ack(r->sp, r->ids[i]), 0);
    r->nids = 0;
}

static void feed(rp__sink *s, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i <= to; i++) {
        struct rp_event *ev = make_event(i);
        assert_int_equal(rp__sink_on_event(s, ev), 0);
        rp__event_release(ev);
    }
}

static void assert_seqs(const struct reader *r, uint64_t first, uint64_t last)
{
    assert_int_equal(r->nseq, last - first + 1);
    for (size_t i = 0; i < r->nseq; i++)
        if (r->seqs[i] != first + i)
            fail_msg("event %zu in the spool has seq %llu, expected %llu", i,
                     (unsigned long long)r->seqs[i], (unsigned long long)(first + i));
}

static void rm_spool(const char *name)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "%s/%s", dir, name);
    DIR *d = opendir(cmd);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[512];
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", cmd, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(cmd);
}

/* A full spool whose batches are all in flight refuses the next one: the
 * sink holds it, and every later batch behind it (never ahead of it), then
 * hands them all over, in order, once the reader acks and a flush runs.
 * Nothing is lost, nothing is duplicated, the order of events is kept. */
static void test_spool_full_batches_held_in_order(void **state)
{
    (void)state;
    rp__spool *sp = open_spool("held", 128 << 10);
    struct reader r;
    reader_init(&r, sp);
    rp__sink *s = NULL;
    rp__sink_opts o = {.spool = sp, .batch_max_events = 10};
    assert_int_equal(rp__sink_create(&o, &s), 0);

    /* Fill the spool, keeping every batch in flight. */
    rp__sink_stats st;
    uint64_t n = 0;
    do {
        feed(s, n + 1, n + 10);
        n += 10;
        take_all(&r);
        rp__sink_get_stats(s, &st);
        assert_true(n < 4000);
    } while (st.spool_errors == 0);
    assert_int_equal(st.held_batches, 1);
    uint64_t spooled = n - 10;
    assert_int_equal(st.batches, spooled / 10);
    /* Later batches queue behind the held one, even a batch of one event
     * that the spool has room for (the sizes are the same on every run),
     * and a flush while the spool is still full keeps them. */
    rp__spool_stats ss;
    rp__spool_get_stats(sp, &ss);
    uint64_t one_line = st.bytes / st.events;
    assert_true(ss.disk_bytes + RP__SPOOL_HEADER_LEN + one_line + 64 < ss.max_bytes);
    feed(s, n + 1, n + 1);
    n += 1;
    assert_int_equal(rp__sink_flush(s), 0);
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.held_batches, 2);
    assert_int_equal(st.batches, spooled / 10);
    feed(s, n + 1, n + 49);
    n += 49;
    assert_int_equal(rp__sink_flush(s), 0);
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.held_batches, 7);
    assert_int_equal(st.batches, spooled / 10);
    assert_int_equal(st.dropped_batches, 0);
    take_all(&r);
    assert_seqs(&r, 1, spooled);

    /* The reader acks: the next flush hands the held batches over. */
    ack_all(&r);
    assert_int_equal(rp__sink_flush(s), 0);
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.held_batches, 0);
    assert_int_equal(st.dropped_batches, 0);
    assert_int_equal(st.dropped_events, 0);
    assert_int_equal(st.batches, spooled / 10 + 7);
    take_all(&r);
    assert_seqs(&r, 1, n);
    ack_all(&r);
    rp__sink_destroy(s);
    rp__spool_close(sp);
    reader_free(&r);
    rm_spool("held");
}

/* Past RP__SINK_HELD_BATCHES the oldest held batch is dropped and counted;
 * the newer ones still reach the spool in order. */
static void test_held_cap_drops_oldest_counted(void **state)
{
    (void)state;
    rp__spool *sp = open_spool("cap", 128 << 10);
    struct reader r;
    reader_init(&r, sp);
    rp__sink *s = NULL;
    rp__sink_opts o = {.spool = sp, .batch_max_events = 2};
    assert_int_equal(rp__sink_create(&o, &s), 0);
    rp__sink_stats st;
    uint64_t n = 0;
    do {
        feed(s, n + 1, n + 2);
        n += 2;
        take_all(&r);
        rp__sink_get_stats(s, &st);
        assert_true(n < 8000);
    } while (st.spool_errors == 0);
    uint64_t spooled = n - 2;
    /* 1 held now; RP__SINK_HELD_BATCHES + 3 more: the 4 oldest go. */
    feed(s, n + 1, n + 2 * (RP__SINK_HELD_BATCHES + 3));
    n += 2 * (RP__SINK_HELD_BATCHES + 3);
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.held_batches, RP__SINK_HELD_BATCHES);
    assert_int_equal(st.dropped_batches, 4);
    assert_int_equal(st.dropped_events, 8);
    ack_all(&r);
    assert_int_equal(rp__sink_flush(s), 0);
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.held_batches, 0);
    r.nseq = 0;
    take_all(&r);
    /* What reached the spool after the acks: the newest held batches only. */
    assert_seqs(&r, spooled + 9, n);
    ack_all(&r);
    rp__sink_destroy(s);
    rp__spool_close(sp);
    reader_free(&r);
    rm_spool("cap");
}

static uint64_t backlog_now;
static uint64_t backlog_of(void *arg)
{
    (void)arg;
    return backlog_now;
}

/* With a backlog on the bus above RP__SINK_SPILL_BACKLOG, batches are
 * spooled uncompressed (counted), as long as the spool is less than half
 * full; without a backlog, or with the spool half full, they are
 * compressed. The events are the same either way. */
static void test_backlog_spills_uncompressed(void **state)
{
    (void)state;
    rp__spool *sp = open_spool("spill", 256 << 10);
    struct reader r;
    reader_init(&r, sp);
    rp__sink *s = NULL;
    rp__sink_opts o = {.spool = sp, .batch_max_events = 10, .gzip = 1, .backlog = backlog_of};
    assert_int_equal(rp__sink_create(&o, &s), 0);

    backlog_now = 0;
    feed(s, 1, 20);
    take_all(&r);
    assert_int_equal(r.gzip_batches, 2);
    assert_int_equal(r.plain_batches, 0);

    backlog_now = RP__SINK_SPILL_BACKLOG + 1;
    feed(s, 21, 50);
    take_all(&r);
    assert_int_equal(r.gzip_batches, 2);
    assert_int_equal(r.plain_batches, 3);
    rp__sink_stats st;
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.spilled_batches, 3);

    /* Behind, but the spool at half its size: compressed again. */
    rp__spool_stats ss;
    uint64_t n = 50;
    for (;;) {
        rp__spool_get_stats(sp, &ss);
        if (ss.disk_bytes >= ss.max_bytes / 2)
            break;
        feed(s, n + 1, n + 10);
        n += 10;
        assert_true(n < 4000);
    }
    take_all(&r);
    uint32_t plain = r.plain_batches, gz = r.gzip_batches;
    feed(s, n + 1, n + 20);
    n += 20;
    take_all(&r);
    assert_int_equal(r.plain_batches, plain);
    assert_int_equal(r.gzip_batches, gz + 2);
    rp__sink_get_stats(s, &st);
    assert_int_equal(st.spilled_batches, plain);
    assert_int_equal(st.dropped_batches, 0);
    assert_seqs(&r, 1, n);
    ack_all(&r);
    rp__sink_destroy(s);
    rp__spool_close(sp);
    reader_free(&r);
    rm_spool("spill");
}

/* More rotations in a minute than output.file_max_rotations_per_min is one
 * burst (what the agent alerts on); as many as allowed is none. */
static void test_rotation_bursts_counted(void **state)
{
    (void)state;
    char path[128], name[160];
    snprintf(path, sizeof path, "%s/b.ndjson", dir);
    for (int over = 0; over <= 1; over++) {
        rp__sink *s = NULL;
        rp__sink_opts o = {.file = path,
                           .file_max_bytes = 1024,
                           .file_keep = 1,
                           .buffer_bytes = 1,
                           .max_rotations_per_min = 4};
        assert_int_equal(rp__sink_create(&o, &s), 0);
        rp__sink_stats st;
        for (uint64_t i = 1;; i++) {
            rp__sink_get_stats(s, &st);
            if (st.rotations == (over ? 12u : 4u))
                break;
            struct rp_event *ev = make_event(i);
            assert_int_equal(rp__sink_on_event(s, ev), 0);
            rp__event_release(ev);
        }
        rp__sink_destroy(s);
        assert_int_equal(st.rotation_bursts, over ? 1 : 0);
        unlink(path);
        snprintf(name, sizeof name, "%s.1", path);
        unlink(name);
    }
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rp-sink-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rmdir(dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buffered_until_flush),
        cmocka_unit_test(test_rotation_keeps_n_files),
        cmocka_unit_test(test_rotation_bursts_counted),
        cmocka_unit_test(test_tick_idle_and_wake),
        cmocka_unit_test(test_spool_full_batches_held_in_order),
        cmocka_unit_test(test_held_cap_drops_oldest_counted),
        cmocka_unit_test(test_backlog_spills_uncompressed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
