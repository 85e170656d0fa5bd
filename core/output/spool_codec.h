/*
 * core/output/spool_codec.h - the spool's on-disk records (docs/spool.md):
 * encoding and checking record headers, segment footers and the small state
 * and acked files. Private to the spool (spool.c, spool_recover.c) and to
 * its tests and fuzz targets; nothing here touches a file or allocates, so
 * every function may be fed any bytes. Any thread.
 */
#ifndef RP_CORE_SPOOL_CODEC_H
#define RP_CORE_SPOOL_CODEC_H

#include "output/spool.h"

#include <stddef.h>
#include <stdint.h>

#define RP__SPOOL_REC_MAGIC     0x31535052u /* "RPS1" */
#define RP__SPOOL_REC_VERSION   1u
#define RP__SPOOL_FOOTER_MAGIC  0x46535052u /* "RPSF" */
#define RP__SPOOL_FOOTER_LEN    64u
#define RP__SPOOL_STATE_MAGIC   0x54535052u /* "RPST" */
#define RP__SPOOL_ACKED_MAGIC   0x4b415052u /* "RPAK" */
#define RP__SPOOL_SMALL_VERSION 1u
#define RP__SPOOL_SMALL_LEN     32u
/* Larger ids are damage (2^62 batches would take 146,000 years at a million
 * a second); the bound keeps id arithmetic far from overflow. */
#define RP__SPOOL_ID_MAX ((uint64_t)1 << 62)

/* A record header, decoded. */
struct rp__spool_rec {
    uint32_t flags, events, len, payload_crc;
    uint64_t id, uid;
    int64_t created_ns;
};

/* 0 when p (RP__SPOOL_HEADER_LEN bytes) holds a whole, self-consistent v1
 * header: magic, version, length, checksum, a payload length within
 * RP__SPOOL_PAYLOAD_MAX and an id in 1..RP__SPOOL_ID_MAX; else -1. The
 * payload is not looked at. */
int rp__spool_rec_decode(const uint8_t *p, struct rp__spool_rec *h);

/* The first index i in p[0..n) where a header that rp__spool_rec_decode
 * accepts starts and whose whole record (header and payload) ends within
 * room bytes of p[0]; SIZE_MAX when there is none. Only headers that fit
 * whole in p[0..n) are looked at. The work is linear in n plus one checksum
 * per byte that could start a magic. */
size_t rp__spool_find_record(const uint8_t *p, size_t n, uint64_t room);

/* The state and acked files: magic, version, length, uid, value, CRC. */
void rp__spool_small_encode(uint8_t out[RP__SPOOL_SMALL_LEN], uint32_t magic, uint64_t uid,
                            uint64_t value);
/* 0 when p[0..got) holds such a file with this magic, a non-zero uid and a
 * value within RP__SPOOL_ID_MAX; else -1. */
int rp__spool_small_decode(const uint8_t *p, size_t got, uint32_t magic, uint64_t *uid,
                           uint64_t *value);

/*
 * The footer a sealed segment ends with: the sums of its records, so that an
 * open reads one block per segment instead of every record's header.
 */
struct rp__spool_footer {
    uint64_t data_end, count, events, first_id, last_id, bytes;
};

void rp__spool_footer_encode(uint8_t out[RP__SPOOL_FOOTER_LEN], const struct rp__spool_footer *f);
/* 0 when p is a footer that is consistent with itself and sits at the end of
 * its data (its data_end equals at); else -1. */
int rp__spool_footer_decode(const uint8_t *p, uint64_t at, struct rp__spool_footer *f);

#endif
