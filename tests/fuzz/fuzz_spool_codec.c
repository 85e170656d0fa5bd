/*
 * tests/fuzz/fuzz_spool_codec.c - libFuzzer target for the spool's record
 * codec (core/output/spool_codec.c) on its own: whatever bytes it is given,
 * decoding a record header, a footer or a state file, and looking for the
 * next record after damage, must never read out of bounds, and what they
 * accept must be exactly what the encoders write.
 *
 * Input layout: byte 0 shifts the room that rp__spool_find_record is told
 * remains in the file (the input's length minus 64 up to plus 191); the rest
 * is the bytes. Each decoder looks at the bytes from offset 1.
 *
 * Checked: a header that decodes re-encodes to the same bytes (its payload
 * taken from what follows it, when that is there and matches its CRC); a
 * footer or small file that decodes re-encodes to a value that decodes to
 * the same fields; rp__spool_find_record returns the first index where a
 * header decodes and its record fits the room, and nothing before it does.
 */
#include "output/spool_codec.h"

#include "lib/crc32c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_spool_codec: check failed at line %d: %s\n", __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define HDR RP__SPOOL_HEADER_LEN
/* The brute-force cross-check of rp__spool_find_record is quadratic-ish in
 * candidates; longer inputs are searched but not cross-checked. */
#define CROSS_CHECK_MAX 4096

static int fits_at(const uint8_t *p, size_t n, size_t i, uint64_t room)
{
    struct rp__spool_rec h;
    return i + HDR <= n && rp__spool_rec_decode(p + i, &h) == 0 &&
           i + HDR + (uint64_t)h.len <= room;
}

static void check_header(const uint8_t *p, size_t n)
{
    struct rp__spool_rec h;
    if (n < HDR || rp__spool_rec_decode(p, &h) != 0)
        return;
    CHECK(h.id != 0 && h.id <= RP__SPOOL_ID_MAX && h.len <= RP__SPOOL_PAYLOAD_MAX);
    if (n - HDR < h.len || rp__crc32c(0, p + HDR, h.len) != h.payload_crc)
        return;
    uint8_t again[HDR];
    rp__spool_encode_header(again, h.id, h.uid, h.events, h.flags, h.created_ns, p + HDR, h.len);
    /* Bytes 48..51 are reserved: written as zero, not looked at (the header
     * checksum covers them, so only zeros re-encode to the same bytes). */
    CHECK(memcmp(again, p, 48) == 0);
    if (memcmp(p + 48, "\0\0\0\0", 4) == 0)
        CHECK(memcmp(again, p, HDR) == 0);
    struct rp__spool_rec h2;
    CHECK(rp__spool_rec_decode(again, &h2) == 0);
    CHECK(memcmp(&h, &h2, sizeof h) == 0);
}

static void check_footer(const uint8_t *p, size_t n)
{
    if (n < RP__SPOOL_FOOTER_LEN)
        return;
    /* The footer's own data_end is the offset it claims to sit at. */
    uint64_t at = 0;
    for (int i = 0; i < 8; i++)
        at |= (uint64_t)p[8 + i] << (8 * i);
    struct rp__spool_footer f, f2;
    if (rp__spool_footer_decode(p, at, &f) != 0)
        return;
    CHECK(f.count > 0 && f.first_id > 0 && f.first_id <= f.last_id);
    CHECK(f.last_id <= RP__SPOOL_ID_MAX && f.bytes <= f.data_end);
    CHECK(f.count <= f.bytes / HDR);
    uint8_t again[RP__SPOOL_FOOTER_LEN];
    rp__spool_footer_encode(again, &f);
    CHECK(rp__spool_footer_decode(again, at, &f2) == 0);
    CHECK(memcmp(&f, &f2, sizeof f) == 0);
    CHECK(rp__spool_footer_decode(again, at + 1, &f2) != 0);
}

static void check_small(const uint8_t *p, size_t n)
{
    static const uint32_t magics[] = {RP__SPOOL_STATE_MAGIC, RP__SPOOL_ACKED_MAGIC};
    for (size_t m = 0; m < 2; m++) {
        uint64_t uid, value, uid2, value2;
        if (rp__spool_small_decode(p, n, magics[m], &uid, &value) != 0)
            continue;
        CHECK(uid != 0 && value <= RP__SPOOL_ID_MAX);
        uint8_t again[RP__SPOOL_SMALL_LEN];
        rp__spool_small_encode(again, magics[m], uid, value);
        CHECK(rp__spool_small_decode(again, sizeof again, magics[m], &uid2, &value2) == 0);
        CHECK(uid2 == uid && value2 == value);
        CHECK(rp__spool_small_decode(again, sizeof again, magics[1 - m], &uid2, &value2) != 0);
        CHECK(rp__spool_small_decode(again, sizeof again - 1, magics[m], &uid2, &value2) != 0);
    }
}

static void check_find(const uint8_t *p, size_t n, uint64_t room)
{
    size_t i = rp__spool_find_record(p, n, room);
    if (n > CROSS_CHECK_MAX) {
        CHECK(i == SIZE_MAX || fits_at(p, n, i, room));
        return;
    }
    size_t first = SIZE_MAX;
    for (size_t j = 0; j + HDR <= n; j++) {
        if (fits_at(p, n, j, room)) {
            first = j;
            break;
        }
    }
    CHECK(i == first);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    int64_t room = (int64_t)n - 64 + data[0];
    check_header(p, n);
    check_footer(p, n);
    check_small(p, n);
    check_find(p, n, room < 0 ? 0 : (uint64_t)room);
    return 0;
}
