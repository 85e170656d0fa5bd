/* The local sink: buffered lines reach the file on flush, every line is a
 * whole JSON object, rotation keeps the configured number of old files. */
#include "event.h"
#include "fields.h"
#include "sink.h"
#include "topic.h"

#include <jansson.h>

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

/* More rotations in a minute than output.file_max_rotations_per_min is one
 * burst (what the agent alerts on); as many as allowed is none. */
static void test_rotation_bursts_counted(void **state)
{
    (void)state;
    char path[128], name[160];
    snprintf(path, sizeof path, "%s/b.ndjson", dir);
    for (int over = 0; over <= 1; over++) {
        rp__sink *s = NULL;
        rp__sink_opts o = {.file = path, .file_max_bytes = 1024, .file_keep = 1,
                           .buffer_bytes = 1, .max_rotations_per_min = 4};
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
