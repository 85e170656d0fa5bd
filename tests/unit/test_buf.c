/*
 * tests/unit/test_buf.c - the capped byte buffer (core/lib/buf.c): memory
 * never grows past max, an append that does not fit leaves the buffer
 * exactly as it was, and the buffer is reusable after reset and free. The
 * byte order helpers (core/lib/byteorder.h) are checked here too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/buf.h"
#include "lib/byteorder.h"

#include <rampart/plugin.h>

#include "testutil.h"

#include <string.h>

static void test_cap_all_or_nothing(void **state)
{
    (void)state;
    rp__buf b;
    rp__buf_init(&b, 10);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(rp__buf_append(&b, NULL, 0), 0);
    assert_null(b.data); /* an empty append allocates nothing */
    assert_int_equal(rp__buf_append(&b, "hello", 5), 0);
    /* 5 + 6 > 10: refused whole, content and length untouched. */
    assert_int_equal(rp__buf_append(&b, "world!", 6), RP_ERR_FULL);
    assert_int_equal(b.len, 5);
    assert_memory_equal(b.data, "hello", 5);
    assert_int_equal(rp__buf_append_cstr(&b, "world"), 0);
    assert_int_equal(b.len, 10);
    assert_memory_equal(b.data, "helloworld", 10);
    assert_true(b.cap <= b.max);
    /* At the cap: nothing more, not even one byte, but empty appends pass. */
    assert_int_equal(rp__buf_append(&b, "x", 1), RP_ERR_FULL);
    assert_int_equal(rp__buf_append_cstr(&b, ""), 0);
    assert_int_equal(rp__buf_reserve(&b, 0), 0);
    assert_int_equal(rp__buf_reserve(&b, 1), RP_ERR_FULL);
    assert_int_equal(b.len, 10);
    rp__buf_free(&b);

    /* max 0 takes nothing but empty appends. */
    rp__buf_init(&b, 0);
    assert_int_equal(rp__buf_append(&b, "a", 1), RP_ERR_FULL);
    assert_int_equal(rp__buf_reserve(&b, 1), RP_ERR_FULL);
    assert_int_equal(b.len, 0);
    rp__buf_free(&b);
}

/* Growth by doubling stops at max exactly: the allocation never exceeds the
 * cap, even when doubling would, and a reserve up to the cap succeeds. */
static void test_growth_stops_at_max(void **state)
{
    (void)state;
    rp__buf b;
    rp__buf_init(&b, 1000);
    for (int i = 0; i < 999; i++) {
        assert_int_equal(rp__buf_append(&b, "z", 1), 0);
        assert_true(b.cap <= 1000);
        assert_true(b.cap >= b.len);
    }
    assert_int_equal(rp__buf_reserve(&b, 1), 0);
    assert_true(b.cap - b.len >= 1);
    assert_int_equal(b.cap, 1000);
    assert_int_equal(rp__buf_reserve(&b, 2), RP_ERR_FULL);
    assert_int_equal(rp__buf_append(&b, "ab", 2), RP_ERR_FULL);
    assert_int_equal(b.len, 999);
    assert_int_equal(rp__buf_append(&b, "a", 1), 0);
    assert_int_equal(b.len, 1000);
    rp__buf_free(&b);

    /* A max close to SIZE_MAX must not overflow the length arithmetic. */
    rp__buf_init(&b, RP__BUF_NO_MAX);
    assert_int_equal(rp__buf_append(&b, "abc", 3), 0);
    assert_int_equal(rp__buf_reserve(&b, (size_t)-1), RP_ERR_FULL);
    assert_int_equal(rp__buf_reserve(&b, RP__BUF_NO_MAX - 2), RP_ERR_FULL);
    assert_int_equal(b.len, 3);
    rp__buf_free(&b);
}

static void test_truncate_reset_free(void **state)
{
    (void)state;
    rp__buf b;
    rp__buf_init(&b, 64);
    assert_int_equal(rp__buf_append_cstr(&b, "abcdef"), 0);
    rp__buf_truncate(&b, 3);
    assert_int_equal(b.len, 3);
    rp__buf_truncate(&b, 7); /* longer than the content: no-op */
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "abc", 3);
    rp__buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_non_null(b.data); /* memory kept for the next appends */
    rp__buf_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 64); /* reusable with the same cap */
    assert_int_equal(rp__buf_append_cstr(&b, "again"), 0);
    assert_memory_equal(b.data, "again", 5);
    rp__buf_free(&b);
    rp__buf_free(NULL);
}

static void test_byteorder(void **state)
{
    (void)state;
    const uint8_t in[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xf8};
    assert_int_equal(rp__load_le16(in), 0x0201);
    assert_int_equal(rp__load_le32(in), 0x04030201u);
    assert_true(rp__load_le64(in) == 0xf807060504030201ull);
    assert_int_equal(rp__load_be16(in), 0x0102);
    assert_int_equal(rp__load_be32(in + 4), 0x050607f8u);

    uint8_t out[9];
    memset(out, 0xee, sizeof out);
    rp__store_le64(out + 1, 0xf807060504030201ull); /* unaligned on purpose */
    assert_memory_equal(out + 1, in, 8);
    assert_int_equal(out[0], 0xee);
    memset(out, 0xee, sizeof out);
    rp__store_le32(out, 0x04030201u);
    rp__store_le16(out + 4, 0x0605);
    assert_memory_equal(out, in, 6);
    assert_int_equal(out[6], 0xee);
    rp__store_be32(out, 0x01020304u);
    rp__store_be16(out + 4, 0x0506);
    assert_memory_equal(out, in, 6);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_all_or_nothing),
        cmocka_unit_test(test_growth_stops_at_max),
        cmocka_unit_test(test_truncate_reset_free),
        cmocka_unit_test(test_byteorder),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
