/*
 * core/output/spool_codec.c - the spool's on-disk records (spool_codec.h,
 * docs/spool.md): pure functions of bytes, no files.
 */
#include "output/spool_codec.h"

#include "lib/byteorder.h"
#include "lib/crc32c.h"

#include <string.h>

/* The short names the spool's files use. */
#define HDR           RP__SPOOL_HEADER_LEN
#define REC_MAGIC     RP__SPOOL_REC_MAGIC
#define REC_VERSION   RP__SPOOL_REC_VERSION
#define FOOTER_MAGIC  RP__SPOOL_FOOTER_MAGIC
#define FOOTER_LEN    RP__SPOOL_FOOTER_LEN
#define SMALL_VERSION RP__SPOOL_SMALL_VERSION
#define SMALL_LEN     RP__SPOOL_SMALL_LEN
#define ID_MAX        RP__SPOOL_ID_MAX

void rp__spool_encode_header(uint8_t out[RP__SPOOL_HEADER_LEN], uint64_t id, uint64_t uid,
                             uint32_t events, uint32_t flags, int64_t created_ns,
                             const void *payload, uint32_t len)
{
    rp__store_le32(out + 0, REC_MAGIC);
    rp__store_le16(out + 4, REC_VERSION);
    rp__store_le16(out + 6, HDR);
    rp__store_le32(out + 8, flags);
    rp__store_le32(out + 12, events);
    rp__store_le64(out + 16, id);
    rp__store_le64(out + 24, uid);
    rp__store_le64(out + 32, (uint64_t)created_ns);
    rp__store_le32(out + 40, len);
    rp__store_le32(out + 44, rp__crc32c(0, payload, len));
    rp__store_le32(out + 48, 0);
    rp__store_le32(out + 52, rp__crc32c(0, out, 52));
}

int rp__spool_rec_decode(const uint8_t *p, struct rp__spool_rec *h)
{
    if (rp__load_le32(p) != REC_MAGIC || rp__load_le16(p + 4) != REC_VERSION ||
        rp__load_le16(p + 6) != HDR)
        return -1;
    if (rp__load_le32(p + 52) != rp__crc32c(0, p, 52))
        return -1;
    h->flags = rp__load_le32(p + 8);
    h->events = rp__load_le32(p + 12);
    h->id = rp__load_le64(p + 16);
    h->uid = rp__load_le64(p + 24);
    h->created_ns = (int64_t)rp__load_le64(p + 32);
    h->len = rp__load_le32(p + 40);
    h->payload_crc = rp__load_le32(p + 44);
    if (h->len > RP__SPOOL_PAYLOAD_MAX || h->id == 0 || h->id > ID_MAX)
        return -1;
    return 0;
}

size_t rp__spool_find_record(const uint8_t *p, size_t n, uint64_t room)
{
    if (n < HDR)
        return SIZE_MAX;
    size_t last = n - HDR; /* last index where a whole header fits */
    for (size_t i = 0; i <= last; i++) {
        const uint8_t *q = memchr(p + i, 'R', last - i + 1);
        if (!q)
            break;
        i = (size_t)(q - p);
        struct rp__spool_rec h;
        if (rp__spool_rec_decode(q, &h) == 0 && i + HDR + (uint64_t)h.len <= room)
            return i;
    }
    return SIZE_MAX;
}

void rp__spool_small_encode(uint8_t out[SMALL_LEN], uint32_t magic, uint64_t uid, uint64_t value)
{
    memset(out, 0, SMALL_LEN);
    rp__store_le32(out, magic);
    rp__store_le16(out + 4, SMALL_VERSION);
    rp__store_le16(out + 6, SMALL_LEN);
    rp__store_le64(out + 8, uid);
    rp__store_le64(out + 16, value);
    rp__store_le32(out + 28, rp__crc32c(0, out, 28));
}

int rp__spool_small_decode(const uint8_t *p, size_t got, uint32_t magic, uint64_t *uid,
                           uint64_t *value)
{
    if (got < SMALL_LEN || rp__load_le32(p) != magic || rp__load_le16(p + 4) != SMALL_VERSION ||
        rp__load_le16(p + 6) != SMALL_LEN || rp__load_le32(p + 28) != rp__crc32c(0, p, 28))
        return -1;
    *uid = rp__load_le64(p + 8);
    *value = rp__load_le64(p + 16);
    return *uid && *value <= ID_MAX ? 0 : -1;
}

void rp__spool_footer_encode(uint8_t out[FOOTER_LEN], const struct rp__spool_footer *f)
{
    memset(out, 0, FOOTER_LEN);
    rp__store_le32(out, FOOTER_MAGIC);
    rp__store_le16(out + 4, 1);
    rp__store_le16(out + 6, FOOTER_LEN);
    rp__store_le64(out + 8, f->data_end);
    rp__store_le64(out + 16, f->count);
    rp__store_le64(out + 24, f->events);
    rp__store_le64(out + 32, f->first_id);
    rp__store_le64(out + 40, f->last_id);
    rp__store_le64(out + 48, f->bytes);
    rp__store_le32(out + 60, rp__crc32c(0, out, 60));
}

int rp__spool_footer_decode(const uint8_t *p, uint64_t at, struct rp__spool_footer *f)
{
    if (rp__load_le32(p) != FOOTER_MAGIC || rp__load_le16(p + 4) != 1 ||
        rp__load_le16(p + 6) != FOOTER_LEN || rp__load_le32(p + 60) != rp__crc32c(0, p, 60))
        return -1;
    f->data_end = rp__load_le64(p + 8);
    f->count = rp__load_le64(p + 16);
    f->events = rp__load_le64(p + 24);
    f->first_id = rp__load_le64(p + 32);
    f->last_id = rp__load_le64(p + 40);
    f->bytes = rp__load_le64(p + 48);
    if (f->data_end != at || f->count == 0 || f->first_id == 0 || f->last_id < f->first_id ||
        f->last_id > ID_MAX || f->last_id - f->first_id + 1 < f->count || f->bytes > f->data_end ||
        f->count > f->bytes / HDR)
        return -1;
    return 0;
}
