/* core/output/gzip.c - whole-buffer gzip on libdeflate. */
#include "output/gzip.h"

#include "lib/byteorder.h"

#include <rampart/plugin.h>

#include <libdeflate.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct rp__gzip {
    int level;
    struct libdeflate_compressor *c;   /* made on first compress */
    struct libdeflate_decompressor *d; /* made on first decompress */
};

int rp__gzip_create(int level, rp__gzip **out)
{
    if (!out || level < 0 || level > 12)
        return RP_ERR_INVAL;
    rp__gzip *gz = calloc(1, sizeof *gz);
    if (!gz)
        return RP_ERR_NOMEM;
    gz->level = level;
    *out = gz;
    return 0;
}

void rp__gzip_destroy(rp__gzip *gz)
{
    if (!gz)
        return;
    if (gz->c)
        libdeflate_free_compressor(gz->c);
    if (gz->d)
        libdeflate_free_decompressor(gz->d);
    free(gz);
}

int rp__gzip_compress(rp__gzip *gz, const void *in, size_t len, rp__buf *out)
{
    if (!gz->c && !(gz->c = libdeflate_alloc_compressor(gz->level)))
        return RP_ERR_NOMEM;
    size_t bound = libdeflate_gzip_compress_bound(gz->c, len);
    int rc = rp__buf_reserve(out, bound);
    if (rc != 0)
        return rc;
    size_t n = libdeflate_gzip_compress(gz->c, in, len, out->data + out->len, bound);
    if (n == 0)
        return RP_ERR_INTERNAL; /* cannot happen with the bound's room */
    out->len += n;
    return 0;
}

int rp__gzip_decompress(rp__gzip *gz, const void *in, size_t len, rp__buf *out)
{
    /* The smallest member is a 10-byte header, an empty deflate block and
     * the 8-byte trailer, whose last 4 bytes are the size mod 2^32. Batches
     * are far below 4 GiB, so the size is exact; a forged one only makes the
     * inflate fail, it cannot overflow the room reserved. */
    const uint8_t *p = in;
    if (len < 20 || p[0] != 0x1f || p[1] != 0x8b)
        return RP_ERR_PARSE;
    size_t size = rp__load_le32(p + len - 4);
    int rc = rp__buf_reserve(out, size ? size : 1);
    if (rc != 0)
        return rc;
    if (!gz->d && !(gz->d = libdeflate_alloc_decompressor()))
        return RP_ERR_NOMEM;
    size_t got = 0, used = 0;
    enum libdeflate_result r =
        libdeflate_gzip_decompress_ex(gz->d, in, len, out->data + out->len, size, &used, &got);
    if (r != LIBDEFLATE_SUCCESS || got != size || used != len)
        return RP_ERR_PARSE;
    out->len += got;
    return 0;
}
