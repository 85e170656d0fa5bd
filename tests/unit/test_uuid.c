/* tests/unit/test_uuid.c - UUIDv7 (core/lib/uuid.c): layout, timestamp, strict order
 * per thread, uniqueness across threads and across fork. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/uuid.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * Each thread's generator keeps the last millisecond it used, so each test
 * takes its own millisecond, one second after the previous test's, all
 * later than anything used before in this process.
 */
static int64_t next_ms(void)
{
    static int64_t ms = 0;
    if (ms == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ms = (int64_t)ts.tv_sec * 1000 + 1000000; /* well ahead of "now" */
    }
    ms += 1000;
    return ms;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Checks the textual layout and returns the 48-bit timestamp. */
static int64_t check_format(const char *id)
{
    assert_int_equal(strlen(id), RP__UUID_STR_LEN);
    for (int i = 0; i < RP__UUID_STR_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            assert_int_equal(id[i], '-');
            continue;
        }
        if (hexval(id[i]) < 0)
            fail_msg("%s: character %d is not lowercase hex", id, i);
    }
    /* Version 7 in the high nibble of byte 6. */
    assert_int_equal(id[14], '7');
    /* Variant 10xx in the high bits of byte 8. */
    int v = hexval(id[19]);
    assert_true(v >= 8 && v <= 11);
    int64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8)
            continue;
        ms = ms * 16 + hexval(id[i]);
    }
    return ms;
}

static void test_format_and_timestamp(void **state)
{
    (void)state;
    char id[RP__UUID_STR_LEN + 1];
    memset(id, 'Z', sizeof id);
    int64_t ms = next_ms();
    assert_int_equal(rp__uuid7(ms, id), 0);
    assert_int_equal(id[RP__UUID_STR_LEN], '\0');
    assert_int_equal(check_format(id), ms);

    /* A known timestamp reads back in the first 48 bits, big-endian. */
    int64_t known = next_ms();
    char want[16];
    snprintf(want, sizeof want, "%08llx-%04llx", (unsigned long long)(known >> 16),
             (unsigned long long)(known & 0xffff));
    assert_int_equal(rp__uuid7(known, id), 0);
    assert_memory_equal(id, want, 13);

    /* Many ids: layout holds for every one of them. */
    for (int i = 0; i < 1000; i++) {
        int64_t t = next_ms();
        assert_int_equal(rp__uuid7(t, id), 0);
        assert_int_equal(check_format(id), t);
    }
}

static void test_increasing_within_one_ms(void **state)
{
    (void)state;
    enum { N = 10000 };
    char prev[RP__UUID_STR_LEN + 1], cur[RP__UUID_STR_LEN + 1];
    int64_t ms = next_ms();
    assert_int_equal(rp__uuid7(ms, prev), 0);
    assert_int_equal(check_format(prev), ms);
    int64_t last_ts = ms;
    for (int i = 1; i < N; i++) {
        assert_int_equal(rp__uuid7(ms, cur), 0);
        if (strcmp(prev, cur) >= 0)
            fail_msg("call %d: %s is not after %s", i, cur, prev);
        /* The 12-bit counter may run out: the timestamp then moves forward by
         * one, never backward and never far. */
        int64_t ts = check_format(cur);
        assert_true(ts >= last_ts);
        assert_true(ts <= ms + N / 1024 + 1);
        last_ts = ts;
        memcpy(prev, cur, sizeof prev);
    }
}

static void test_increasing_when_clock_goes_back(void **state)
{
    (void)state;
    char a[RP__UUID_STR_LEN + 1], b[RP__UUID_STR_LEN + 1];
    int64_t ms = next_ms();
    assert_int_equal(rp__uuid7(ms, a), 0);
    /* The wall clock steps back 5 s: ids still increase. */
    assert_int_equal(rp__uuid7(ms - 5000, b), 0);
    assert_true(strcmp(a, b) < 0);
    assert_int_equal(check_format(b), ms);
}

enum { THREADS = 4, PER_THREAD = 10000 };

struct worker {
    pthread_t tid;
    int64_t ms;
    int failures;
    char (*ids)[RP__UUID_STR_LEN + 1];
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (rp__uuid7(w->ms, w->ids[i]) != 0)
            w->failures++;
        /* Ids from one thread are strictly increasing. */
        if (i > 0 && strcmp(w->ids[i - 1], w->ids[i]) >= 0)
            w->failures++;
    }
    return NULL;
}

static int cmp_id(const void *a, const void *b)
{
    return memcmp(a, b, RP__UUID_STR_LEN);
}

static void test_unique_across_threads(void **state)
{
    (void)state;
    char(*all)[RP__UUID_STR_LEN + 1] = calloc(THREADS * PER_THREAD, sizeof *all);
    assert_non_null(all);
    struct worker w[THREADS];
    int64_t ms = next_ms();
    for (int t = 0; t < THREADS; t++) {
        w[t].ms = ms;
        w[t].failures = 0;
        w[t].ids = all + t * PER_THREAD;
        assert_int_equal(pthread_create(&w[t].tid, NULL, worker_main, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(w[t].tid, NULL), 0);
        assert_int_equal(w[t].failures, 0);
    }
    qsort(all, THREADS * PER_THREAD, sizeof *all, cmp_id);
    for (int i = 0; i < THREADS * PER_THREAD; i++) {
        check_format(all[i]);
        if (i > 0 && memcmp(all[i - 1], all[i], RP__UUID_STR_LEN) == 0)
            fail_msg("duplicate id %s", all[i]);
    }
    free(all);
}

/*
 * The generator is per thread (core/lib/uuid.c): many threads, some living
 * only for a few ids, make ids in the same milliseconds on the real clock.
 * Every id has version 7 and variant 10, each thread's ids are strictly
 * increasing, and no two ids of the process are equal.
 */
enum { WAVES = 4, WAVE_THREADS = 8, SHORT_IDS = 64, LONG_IDS = 20000 };

struct wave_worker {
    pthread_t tid;
    int n;
    int failures;
    char (*ids)[RP__UUID_STR_LEN + 1];
};

static void *wave_main(void *arg)
{
    struct wave_worker *w = arg;
    for (int i = 0; i < w->n; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (rp__uuid7((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, w->ids[i]) != 0)
            w->failures++;
        if (i > 0 && strcmp(w->ids[i - 1], w->ids[i]) >= 0)
            w->failures++;
    }
    return NULL;
}

static void test_per_thread_generators(void **state)
{
    (void)state;
    /* Half the threads of each wave make many ids, half a few and exit, so
     * thread numbers are handed out while others still make ids. */
    size_t total = 0;
    int counts[WAVES][WAVE_THREADS];
    for (int v = 0; v < WAVES; v++)
        for (int t = 0; t < WAVE_THREADS; t++)
            total += (size_t)(counts[v][t] = t % 2 ? SHORT_IDS : LONG_IDS / WAVES);
    char(*all)[RP__UUID_STR_LEN + 1] = calloc(total, sizeof *all);
    assert_non_null(all);
    size_t at = 0;
    for (int v = 0; v < WAVES; v++) {
        struct wave_worker w[WAVE_THREADS];
        for (int t = 0; t < WAVE_THREADS; t++) {
            w[t] = (struct wave_worker){.n = counts[v][t], .ids = all + at};
            at += (size_t)counts[v][t];
            assert_int_equal(pthread_create(&w[t].tid, NULL, wave_main, &w[t]), 0);
        }
        for (int t = 0; t < WAVE_THREADS; t++) {
            assert_int_equal(pthread_join(w[t].tid, NULL), 0);
            assert_int_equal(w[t].failures, 0);
        }
    }
    assert_int_equal(at, total);
    qsort(all, total, sizeof *all, cmp_id);
    for (size_t i = 0; i < total; i++) {
        check_format(all[i]);
        if (i > 0 && memcmp(all[i - 1], all[i], RP__UUID_STR_LEN) == 0)
            fail_msg("duplicate id %s", all[i]);
    }
    free(all);
}

/*
 * A forked child inherits its parent's generator; it must not go on with
 * the parent's sequence, or both would make the same ids in the same
 * millisecond. Parent and child each make ids for one millisecond after
 * the fork; none may be shared.
 */
static void test_forked_child_makes_other_ids(void **state)
{
    (void)state;
    enum { K = 1000 };
    char id[RP__UUID_STR_LEN + 1];
    int64_t before = next_ms(), ms = next_ms();
    assert_int_equal(rp__uuid7(before, id), 0); /* the generator is in use */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        for (int i = 0; i < K; i++) {
            if (rp__uuid7(ms, id) != 0 || write(fds[1], id, RP__UUID_STR_LEN) != RP__UUID_STR_LEN)
                _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    char(*mine)[RP__UUID_STR_LEN + 1] = calloc(K, sizeof *mine);
    assert_non_null(mine);
    for (int i = 0; i < K; i++)
        assert_int_equal(rp__uuid7(ms, mine[i]), 0);
    qsort(mine, K, sizeof *mine, cmp_id);
    int got = 0;
    char theirs[RP__UUID_STR_LEN + 1] = {0};
    for (;;) {
        size_t have = 0;
        while (have < RP__UUID_STR_LEN) {
            ssize_t r = read(fds[0], theirs + have, RP__UUID_STR_LEN - have);
            if (r <= 0)
                break;
            have += (size_t)r;
        }
        if (have < RP__UUID_STR_LEN)
            break;
        check_format(theirs);
        if (bsearch(theirs, mine, K, sizeof *mine, cmp_id))
            fail_msg("the child made %s, as the parent did", theirs);
        got++;
    }
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(got, K);
    free(mine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_timestamp),
        cmocka_unit_test(test_increasing_within_one_ms),
        cmocka_unit_test(test_increasing_when_clock_goes_back),
        cmocka_unit_test(test_unique_across_threads),
        cmocka_unit_test(test_per_thread_generators),
        cmocka_unit_test(test_forked_child_makes_other_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
