/*
 * core/lib/crc32c.h - CRC-32C (Castagnoli, reflected, as in iSCSI and ext4),
 * the checksum of the spool's records (docs/spool.md).
 *
 * crc is 0 to start, or the previous result to continue over more bytes:
 * rp__crc32c(rp__crc32c(0, a, n), b, m) is the CRC of a then b. data may be
 * NULL when len is 0. Uses the SSE4.2 instruction when the CPU has it, else
 * slice-by-8 tables (built once, on first use, by whichever thread comes
 * first). rp__crc32c_sw always uses the tables, so tests can compare the two.
 * Any thread.
 */
#ifndef RP_CORE_CRC32C_H
#define RP_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t rp__crc32c(uint32_t crc, const void *data, size_t len);
uint32_t rp__crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
