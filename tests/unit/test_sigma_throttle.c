/*
 * tests/unit/test_sigma_throttle.c - detector_sigma's alert throttle
 * (plugins/detector_sigma/throttle.c): one alert per (rule, process) key per
 * window, the count of suppressed alerts carried by the next one, distinct
 * keys apart, the cap evicting the key seen least recently, and a table that
 * stays consistent through many evictions (checked against a plain model).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "throttle.h"

#include <rampart/plugin.h>

#include <stdlib.h>
#include <string.h>

#define SEC 1000000000ll

static struct ds_throttle_result check(struct ds_throttle *t, uint64_t k1, uint64_t k2, int64_t now)
{
    struct ds_throttle_result r;
    ds_throttle_check(t, k1, k2, now, &r);
    return r;
}

static void test_window(void **state)
{
    (void)state;
    struct ds_throttle *t;
    assert_int_equal(ds_throttle_create(16, 60 * SEC, &t), 0);
    struct ds_throttle_result r = check(t, 1, 100, 0);
    assert_int_equal(r.pass, 1);
    assert_int_equal(r.carried, 0);
    /* Three more inside the window: suppressed. */
    for (int i = 1; i <= 3; i++)
        assert_int_equal(check(t, 1, 100, i * SEC).pass, 0);
    assert_int_equal(check(t, 1, 100, 60 * SEC - 1).pass, 0);
    /* Another process of the same rule, and another rule of the same
     * process, have windows of their own. */
    assert_int_equal(check(t, 1, 101, 2 * SEC).pass, 1);
    assert_int_equal(check(t, 2, 100, 2 * SEC).pass, 1);
    assert_int_equal(ds_throttle_size(t), 3);
    /* After the window: passes, carrying the four suppressed, and opens a
     * new window from now. */
    r = check(t, 1, 100, 60 * SEC);
    assert_int_equal(r.pass, 1);
    assert_int_equal(r.carried, 4);
    assert_int_equal(r.evicted, 0);
    assert_int_equal(check(t, 1, 100, 119 * SEC).pass, 0);
    r = check(t, 1, 100, 120 * SEC);
    assert_int_equal(r.pass, 1);
    assert_int_equal(r.carried, 1);
    r = check(t, 1, 100, 500 * SEC);
    assert_int_equal(r.pass, 1);
    assert_int_equal(r.carried, 0);
    ds_throttle_destroy(t);
}

static void test_no_window(void **state)
{
    (void)state;
    struct ds_throttle *t;
    assert_int_equal(ds_throttle_create(4, 0, &t), 0);
    for (int i = 0; i < 10; i++) {
        struct ds_throttle_result r = check(t, 1, 1, i);
        assert_int_equal(r.pass, 1);
        assert_int_equal(r.carried, 0);
    }
    assert_int_equal(ds_throttle_size(t), 0);
    ds_throttle_destroy(t);
    ds_throttle_destroy(NULL);
    assert_int_equal(ds_throttle_create(0, SEC, &t), RP_ERR_INVAL);
    assert_null(t);
    assert_int_equal(ds_throttle_create(DS_THROTTLE_KEYS_MAX + 1, SEC, &t), RP_ERR_INVAL);
}

static void test_cap_evicts_least_recent(void **state)
{
    (void)state;
    struct ds_throttle *t;
    assert_int_equal(ds_throttle_create(3, 60 * SEC, &t), 0);
    assert_int_equal(check(t, 1, 1, 0).pass, 1);
    assert_int_equal(check(t, 2, 2, 1).pass, 1);
    assert_int_equal(check(t, 3, 3, 2).pass, 1);
    /* Key 1 is seen again (suppressed): key 2 is now the least recent. */
    assert_int_equal(check(t, 1, 1, 3).pass, 0);
    assert_int_equal(check(t, 2, 2, 4).pass, 0);
    assert_int_equal(check(t, 2, 2, 5).pass, 0);
    assert_int_equal(check(t, 3, 3, 6).pass, 0);
    assert_int_equal(check(t, 1, 1, 7).pass, 0);
    /* Order now, most recent first: 1, 3, 2. A fourth key evicts 2 and its
     * two pending suppressions are reported lost. */
    struct ds_throttle_result r = check(t, 4, 4, 8);
    assert_int_equal(r.pass, 1);
    assert_int_equal(r.evicted, 1);
    assert_int_equal(r.lost, 2);
    assert_int_equal(ds_throttle_size(t), 3);
    /* 1, 3 and 4 are still throttled; 2 starts over. */
    assert_int_equal(check(t, 1, 1, 9).pass, 0);
    assert_int_equal(check(t, 3, 3, 9).pass, 0);
    assert_int_equal(check(t, 4, 4, 9).pass, 0);
    r = check(t, 2, 2, 10);
    assert_int_equal(r.pass, 1);
    assert_int_equal(r.carried, 0);
    assert_int_equal(r.evicted, 1);
    ds_throttle_destroy(t);
}

/* Many keys through a small table whose hashes collide on purpose (k2 only
 * differs in high bits), against a model that keeps the same LRU order in
 * an array: every decision must agree. */
static void test_against_model(void **state)
{
    (void)state;
    enum { CAP = 37, KEYS = 200, STEPS = 20000 };
    struct {
        uint64_t k;
        int64_t start;
        uint64_t sup;
        int64_t seen;
    } model[CAP];
    int nm = 0;
    struct ds_throttle *t;
    assert_int_equal(ds_throttle_create(CAP, 50, &t), 0);
    uint32_t seed = 12345;
    for (int step = 0; step < STEPS; step++) {
        seed = seed * 1103515245u + 12345u;
        uint64_t k = (seed >> 8) % KEYS;
        int64_t now = step;
        struct ds_throttle_result r = check(t, 7, k << 40, now);
        int found = -1;
        for (int i = 0; i < nm; i++)
            if (model[i].k == k)
                found = i;
        if (found >= 0) {
            model[found].seen = now;
            if (now - model[found].start < 50) {
                model[found].sup++;
                assert_int_equal(r.pass, 0);
            } else {
                assert_int_equal(r.pass, 1);
                assert_int_equal(r.carried, model[found].sup);
                model[found].sup = 0;
                model[found].start = now;
            }
            assert_int_equal(r.evicted, 0);
            continue;
        }
        assert_int_equal(r.pass, 1);
        assert_int_equal(r.carried, 0);
        int slot = nm;
        if (nm == CAP) {
            slot = 0;
            for (int i = 1; i < nm; i++)
                if (model[i].seen < model[slot].seen)
                    slot = i;
            assert_int_equal(r.evicted, 1);
            assert_int_equal(r.lost, model[slot].sup);
        } else {
            assert_int_equal(r.evicted, 0);
            nm++;
        }
        model[slot].k = k;
        model[slot].start = now;
        model[slot].sup = 0;
        model[slot].seen = now;
        assert_int_equal(ds_throttle_size(t), (uint32_t)nm);
    }
    ds_throttle_destroy(t);
}

static void test_hash(void **state)
{
    (void)state;
    /* FNV-1a 64 of "a" (the published test vector). */
    assert_true(ds_throttle_hash(DS_THROTTLE_HASH_SEED, "a", 1) == 0xaf63dc4c8601ec8cull);
    uint64_t h1 = ds_throttle_hash(DS_THROTTLE_HASH_SEED, "rule-1", 6);
    uint64_t h2 = ds_throttle_hash(DS_THROTTLE_HASH_SEED, "rule-2", 6);
    assert_true(h1 != h2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_no_window),
        cmocka_unit_test(test_cap_evicts_least_recent),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
