/*
 * core/output/gzip.h - whole-buffer gzip (RFC 1952) for upload batches, on
 * libdeflate.
 *
 * A compressor or decompressor is not shared between threads: the sink owns
 * one compressor, the uploader one of each. Output goes to an rp__buf whose
 * max is the cap: a result that would not fit gives RP_ERR_FULL and leaves
 * the buffer as it was.
 */
#ifndef RP_CORE_GZIP_H
#define RP_CORE_GZIP_H

#include "output/ndjson.h"

#include <stddef.h>

/* Level 1: libdeflate's fastest level compresses the agent's NDJSON about
 * 6-8x at several hundred MB/s on one core; higher levels gain a little
 * ratio for several times the CPU, and the CPU is what the endpoint pays. */
#define RP__GZIP_LEVEL 1

typedef struct rp__gzip rp__gzip;

/* level 0..12; RP_ERR_INVAL outside, RP_ERR_NOMEM. */
int rp__gzip_create(int level, rp__gzip **out);
/* NULL is a no-op. */
void rp__gzip_destroy(rp__gzip *gz);

/* Appends the gzip member of in[0..len) to out. RP_ERR_FULL when out->max
 * cannot hold the worst case, RP_ERR_NOMEM. */
int rp__gzip_compress(rp__gzip *gz, const void *in, size_t len, rp__buf *out);

/*
 * Appends the decompressed content of one gzip member in[0..len) to out. The
 * member's trailer names the size, which must fit out->max (RP_ERR_FULL
 * otherwise, before anything is inflated); a damaged member (bad header,
 * bad data, CRC or size mismatch, trailing bytes) gives RP_ERR_PARSE. out
 * is as it was on any error.
 */
int rp__gzip_decompress(rp__gzip *gz, const void *in, size_t len, rp__buf *out);

#endif
