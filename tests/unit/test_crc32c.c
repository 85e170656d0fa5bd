/*
 * tests/unit/test_crc32c.c - CRC-32C (core/lib/crc32c.c): the published check
 * values, the hardware path against the tables at every length and
 * alignment, and continuing a CRC over a second part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/crc32c.h"

#include "testutil.h"

#include <string.h>

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static void test_crc32c_vectors(void **state)
{
    (void)state;
    /* The check value of CRC-32C, and RFC 3720 B.4's 32 zero bytes. */
    assert_int_equal(rp__crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(rp__crc32c_sw(0, "123456789", 9), 0xe3069283u);
    uint8_t z[32] = {0}, ff[32];
    memset(ff, 0xff, sizeof ff);
    assert_int_equal(rp__crc32c(0, z, 32), 0x8a9136aau);
    assert_int_equal(rp__crc32c(0, ff, 32), 0x62a8ab43u);
    assert_int_equal(rp__crc32c(0, NULL, 0), 0);

    /* Hardware and tables agree at every length and alignment, and a CRC
     * continued in two parts equals the whole. */
    static uint8_t buf[4096 + 16];
    uint64_t s = 42;
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)xorshift(&s);
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len < 300; len++)
            assert_int_equal(rp__crc32c(0, buf + off, len), rp__crc32c_sw(0, buf + off, len));
    uint32_t whole = rp__crc32c(0, buf, 4096);
    for (size_t cut = 0; cut <= 4096; cut += 77)
        assert_int_equal(rp__crc32c(rp__crc32c(0, buf, cut), buf + cut, 4096 - cut), whole);
    assert_int_equal(rp__crc32c_sw(rp__crc32c_sw(0, buf, 1000), buf + 1000, 3096), whole);
}

/* RFC 3720 B.4's other vectors: 32 bytes counting up and counting down. */
static void test_crc32c_rfc3720(void **state)
{
    (void)state;
    uint8_t up[32], down[32];
    for (int i = 0; i < 32; i++) {
        up[i] = (uint8_t)i;
        down[i] = (uint8_t)(31 - i);
    }
    assert_int_equal(rp__crc32c(0, up, 32), 0x46dd794eu);
    assert_int_equal(rp__crc32c(0, down, 32), 0x113fdb5cu);
    assert_int_equal(rp__crc32c_sw(0, up, 32), 0x46dd794eu);
    assert_int_equal(rp__crc32c_sw(0, down, 32), 0x113fdb5cu);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_crc32c_rfc3720),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
