/*
 * core/lib/crc32c.c - CRC-32C (crc32c.h): slice-by-8 tables, and the SSE4.2
 * instruction on x86-64 when the CPU has it.
 */
#include "lib/crc32c.h"

#include "lib/byteorder.h"

#include <stdatomic.h>
#include <string.h>

static uint32_t crc_tab[8][256];
/* 0: not built, 1: being built, 2: ready. The tables are built once by
 * whichever thread comes first; the others wait the few microseconds it
 * takes, which keeps the build free of data races without a platform once. */
static atomic_int crc_tab_state;

static void crc_tables_ready(void)
{
    if (atomic_load_explicit(&crc_tab_state, memory_order_acquire) == 2)
        return;
    int expected = 0;
    if (atomic_compare_exchange_strong(&crc_tab_state, &expected, 1)) {
        for (uint32_t n = 0; n < 256; n++) {
            uint32_t c = n;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
            crc_tab[0][n] = c;
        }
        for (uint32_t n = 0; n < 256; n++)
            for (int k = 1; k < 8; k++)
                crc_tab[k][n] = (crc_tab[k - 1][n] >> 8) ^ crc_tab[0][crc_tab[k - 1][n] & 0xff];
        atomic_store_explicit(&crc_tab_state, 2, memory_order_release);
        return;
    }
    while (atomic_load_explicit(&crc_tab_state, memory_order_acquire) != 2) {
    }
}

uint32_t rp__crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    crc_tables_ready();
    const uint8_t *p = data;
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo = crc ^ rp__load_le32(p), hi = rp__load_le32(p + 4);
        crc = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
              crc_tab[4][lo >> 24] ^ crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
              crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RP_CRC_HW 1
/* The SSE4.2 crc32 instruction computes exactly CRC-32C. One 8-byte step per
 * instruction (about 8 GB/s) is several times faster than reading the data
 * from the page cache, so no interleaving is needed. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                            size_t len)
{
    const uint8_t *p = data;
    uint64_t c = ~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

/* 0: not probed, 1: no SSE4.2, 2: SSE4.2. Probing twice is harmless. */
static atomic_int crc_hw_state;
#endif

uint32_t rp__crc32c(uint32_t crc, const void *data, size_t len)
{
#ifdef RP_CRC_HW
    int hw = atomic_load_explicit(&crc_hw_state, memory_order_relaxed);
    if (hw == 0) {
        __builtin_cpu_init();
        hw = __builtin_cpu_supports("sse4.2") ? 2 : 1;
        atomic_store_explicit(&crc_hw_state, hw, memory_order_relaxed);
    }
    if (hw == 2)
        return crc32c_hw(crc, data, len);
#endif
    return rp__crc32c_sw(crc, data, len);
}
