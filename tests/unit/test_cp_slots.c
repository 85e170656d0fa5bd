/*
 * tests/unit/test_cp_slots.c - the index-linked slots that collector_process's
 * process table and hash cache share (plugins/collector_process/slots.c):
 * hash chains, the free list and recency lists, all through indexes into one
 * fixed array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "slots.h"

#include <stdio.h>
#include <string.h>

struct item {
    uint64_t payload;
    cp_links links;
    char tail[5];
};

static struct item *at(cp_slots *s, uint32_t i)
{
    return cp_slots_at(s, i);
}

/* The indexes of list l, head first, as "a b c". */
static const char *order(cp_slots *s, const cp_list *l)
{
    static char out[128];
    size_t used = 0;
    out[0] = '\0';
    uint32_t prev = CP_SLOT_NONE;
    for (uint32_t i = l->head; i != CP_SLOT_NONE; i = cp_slots_links(s, i)->next) {
        assert_int_equal(cp_slots_links(s, i)->prev, prev); /* both directions agree */
        used += (size_t)snprintf(out + used, sizeof out - used, "%s%u", used ? " " : "", i);
        prev = i;
    }
    assert_int_equal(l->tail, prev);
    return out;
}

/* How many entries bucket b's chain holds, and whether it holds i. */
static int chain_has(cp_slots *s, uint32_t b, uint32_t i, int *n)
{
    int found = 0;
    *n = 0;
    for (uint32_t j = cp_slots_bucket(s, b); j != CP_SLOT_NONE; j = cp_slots_links(s, j)->hnext) {
        found |= j == i;
        (*n)++;
    }
    return found;
}

static void test_take_until_full_and_release(void **state)
{
    (void)state;
    cp_slots s;
    assert_int_equal(cp_slots_init(&s, 0, sizeof(struct item), offsetof(struct item, links)), -1);
    assert_int_equal(cp_slots_init(&s, 5, sizeof(struct item), offsetof(struct item, links)), 0);
    assert_int_equal(s.mask, 7); /* 8 buckets: the power of two at or above 5 */
    uint32_t got[5];
    for (int k = 0; k < 5; k++) {
        got[k] = cp_slots_take(&s, 3); /* all in one chain */
        assert_true(got[k] < 5);
        assert_ptr_equal(at(&s, got[k]), (char *)s.e + got[k] * sizeof(struct item));
        assert_int_equal(cp_slots_index(&s, at(&s, got[k])), got[k]);
        at(&s, got[k])->payload = 100 + (uint64_t)k;
        memcpy(at(&s, got[k])->tail, "full", 5);
    }
    for (int k = 0; k < 5; k++)
        for (int j = 0; j < k; j++)
            assert_int_not_equal(got[k], got[j]);
    assert_int_equal(cp_slots_take(&s, 3), CP_SLOT_NONE); /* full */
    int n;
    assert_true(chain_has(&s, 3 + 8, got[2], &n)); /* the bucket number is masked */
    assert_int_equal(n, 5);
    /* Out of the middle of the chain: the others stay in it, the slot is
     * zeroed and is the next one taken. */
    cp_slots_release(&s, 3, got[2]);
    assert_false(chain_has(&s, 3, got[2], &n));
    assert_int_equal(n, 4);
    assert_int_equal(at(&s, got[2])->payload, 0);
    assert_int_equal(at(&s, got[2])->tail[0], '\0');
    assert_int_equal(at(&s, got[1])->payload, 101);
    assert_int_equal(cp_slots_take(&s, 6), got[2]);
    assert_true(chain_has(&s, 6, got[2], &n));
    assert_int_equal(n, 1);
    assert_int_equal(at(&s, got[2])->payload, 0);
    /* The head and the tail of a chain. */
    cp_slots_release(&s, 3, cp_slots_bucket(&s, 3));
    cp_slots_release(&s, 3, got[0]);
    assert_false(chain_has(&s, 3, got[0], &n));
    assert_int_equal(n, 2);
    cp_slots_fini(&s);
}

/* Entries never used are handed out in order and a released one is taken
 * again before them, so a big table stays untouched (not resident) past the
 * entries a machine really uses. */
static void test_fresh_entries_in_order(void **state)
{
    (void)state;
    cp_slots s;
    assert_int_equal(cp_slots_init(&s, 4, sizeof(struct item), offsetof(struct item, links)), 0);
    assert_false(cp_slots_full(&s));
    assert_int_equal(cp_slots_take(&s, 1), 0);
    assert_int_equal(cp_slots_take(&s, 2), 1);
    cp_slots_release(&s, 1, 0);
    assert_int_equal(cp_slots_take(&s, 5), 0); /* the released one, not entry 2 */
    assert_int_equal(cp_slots_take(&s, 1), 2);
    assert_false(cp_slots_full(&s));
    assert_int_equal(cp_slots_take(&s, 1), 3);
    assert_true(cp_slots_full(&s));
    assert_int_equal(cp_slots_take(&s, 1), CP_SLOT_NONE);
    cp_slots_release(&s, 2, 1);
    assert_false(cp_slots_full(&s));
    assert_int_equal(cp_slots_take(&s, 1), 1);
    cp_slots_fini(&s);
}

static void test_lists(void **state)
{
    (void)state;
    cp_slots s;
    assert_int_equal(cp_slots_init(&s, 4, sizeof(struct item), offsetof(struct item, links)), 0);
    cp_list a, b;
    cp_list_init(&a);
    cp_list_init(&b);
    assert_string_equal(order(&s, &a), "");
    for (uint32_t k = 0; k < 4; k++)
        assert_int_equal(cp_slots_take(&s, k), k); /* free slots go in index order */
    for (uint32_t k = 0; k < 4; k++)
        cp_list_append(&s, &a, k);
    assert_string_equal(order(&s, &a), "0 1 2 3");
    cp_list_unlink(&s, &a, 1); /* middle */
    cp_list_append(&s, &b, 1);
    assert_string_equal(order(&s, &a), "0 2 3");
    assert_string_equal(order(&s, &b), "1");
    cp_list_unlink(&s, &a, 0); /* head */
    cp_list_append(&s, &a, 0); /* made most recent */
    assert_string_equal(order(&s, &a), "2 3 0");
    cp_list_unlink(&s, &a, 0); /* tail */
    cp_list_append(&s, &b, 0);
    assert_string_equal(order(&s, &a), "2 3");
    assert_string_equal(order(&s, &b), "1 0");
    cp_list_unlink(&s, &b, 1);
    cp_list_unlink(&s, &b, 0);
    assert_string_equal(order(&s, &b), "");
    assert_int_equal(b.head, CP_SLOT_NONE);
    /* Released slots leave their hash chain but no list link behind. */
    cp_slots_release(&s, 1, 1);
    assert_int_equal(cp_slots_links(&s, 1)->prev, CP_SLOT_NONE);
    assert_int_equal(cp_slots_links(&s, 1)->next, CP_SLOT_NONE);
    cp_slots_fini(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_until_full_and_release),
        cmocka_unit_test(test_fresh_entries_in_order),
        cmocka_unit_test(test_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
