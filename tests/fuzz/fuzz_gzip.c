/*
 * tests/fuzz/fuzz_gzip.c - libFuzzer target for the gzip decoder
 * (core/output/gzip.c), which the uploader runs over each spooled batch
 * stored compressed: the spool is the agent's own, but a bad sector, a torn
 * write or a hostile local root can leave any bytes there, and the member's
 * trailer names the size the decoder reserves.
 *
 * Input layout:
 *   byte 0    the cap of the output buffer: 0 none (RP__SPOOL_PAYLOAD_MAX,
 *             as the uploader's), otherwise byte * 64 bytes
 *   byte 1    a position (scaled to the member) of a byte to flip in part 2
 *   the rest  the bytes
 *
 * Checks, any failure aborts:
 *   1. the bytes decoded as a stored batch: 0, RP_ERR_PARSE or (only when
 *      the trailer's size passes the cap) RP_ERR_FULL; on an error the
 *      buffer is as it was (what it held before is still there, its length
 *      unchanged); on success the output compressed again decodes to
 *      itself;
 *   2. the bytes compressed (levels 1 and 12) decode to exactly the bytes;
 *      with one byte past the header flipped, the member either is refused
 *      or still decodes to exactly the bytes (the CRC and size must catch
 *      any change of the content).
 */
#include "output/gzip.h"
#include "output/spool.h"
#include <rampart/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_gzip: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char prefix[] = "before\n";
#define PREFIX_LEN (sizeof prefix - 1)

/* Decodes in[0..len) after a prefix into a buffer of max bytes; returns the
 * result code and, on success, the decoded bytes in *out (the caller frees
 * it with rp__buf_free). */
static int decode(rp__gzip *gz, const void *in, size_t len, size_t max, rp__buf *out)
{
    rp__buf_init(out, max);
    CHECK(rp__buf_append(out, prefix, PREFIX_LEN) == 0);
    int rc = rp__gzip_decompress(gz, in, len, out);
    CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_FULL);
    CHECK(out->len >= PREFIX_LEN && memcmp(out->data, prefix, PREFIX_LEN) == 0);
    if (rc != 0)
        CHECK(out->len == PREFIX_LEN);
    CHECK(out->len <= out->max);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = data[0] ? PREFIX_LEN + (size_t)data[0] * 64 : RP__SPOOL_PAYLOAD_MAX;
    uint8_t flip_at = data[1];
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    static rp__gzip *gz, *fast, *best;
    if (!gz) {
        CHECK(rp__gzip_create(RP__GZIP_LEVEL, &gz) == 0);
        CHECK(rp__gzip_create(1, &fast) == 0);
        CHECK(rp__gzip_create(12, &best) == 0);
    }

    /* 1. The bytes as a stored member. A copy of exactly len bytes, so that
     *    ASan sees any read past it. */
    uint8_t *copy = malloc(len ? len : 1);
    CHECK(copy != NULL);
    memcpy(copy, in, len);
    rp__buf out;
    int rc = decode(gz, copy, len, max, &out);
    if (rc == RP_ERR_FULL) {
        CHECK(len >= 4);
        uint32_t isize = (uint32_t)in[len - 4] | (uint32_t)in[len - 3] << 8 |
                         (uint32_t)in[len - 2] << 16 | (uint32_t)in[len - 1] << 24;
        CHECK(PREFIX_LEN + (isize ? isize : 1) > max);
    }
    if (rc == 0) {
        rp__buf z, back;
        rp__buf_init(&z, RP__BUF_NO_MAX);
        CHECK(rp__gzip_compress(fast, out.data + PREFIX_LEN, out.len - PREFIX_LEN, &z) == 0);
        CHECK(decode(gz, z.data, z.len, RP__BUF_NO_MAX, &back) == 0);
        CHECK(back.len == out.len && memcmp(back.data, out.data, out.len) == 0);
        rp__buf_free(&back);
        rp__buf_free(&z);
    }
    rp__buf_free(&out);
    free(copy);

    /* 2. The bytes compressed, then decoded; then damaged. */
    for (int level = 0; level < 2; level++) {
        rp__buf z, back;
        rp__buf_init(&z, RP__BUF_NO_MAX);
        CHECK(rp__gzip_compress(level ? best : fast, in, len, &z) == 0);
        CHECK(z.len >= 20);
        CHECK(decode(gz, z.data, z.len, RP__BUF_NO_MAX, &back) == 0);
        CHECK(back.len == PREFIX_LEN + len);
        CHECK(len == 0 || memcmp(back.data + PREFIX_LEN, in, len) == 0);
        rp__buf_free(&back);
        /* Bytes 4-9 of the header (time, flags, OS) say nothing about the
         * content; any byte after them does. */
        size_t at = 10 + (size_t)flip_at * (z.len - 10) / 256;
        z.data[at] ^= (char)(1u << (flip_at & 7));
        /* Under the uploader's cap: a flipped size byte may claim 4 GiB. */
        rc = decode(gz, z.data, z.len, RP__SPOOL_PAYLOAD_MAX, &back);
        if (rc == 0) {
            CHECK(back.len == PREFIX_LEN + len);
            CHECK(len == 0 || memcmp(back.data + PREFIX_LEN, in, len) == 0);
        }
        rp__buf_free(&back);
        rp__buf_free(&z);
    }
    return 0;
}
