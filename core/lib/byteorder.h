/*
 * core/lib/byteorder.h - loads and stores of fixed-width integers in a
 * stated byte order, from and to byte arrays of any alignment.
 *
 * File formats and wire formats fix their byte order (the spool's records
 * are little-endian, network addresses big-endian); writing the shifts out
 * in one place keeps every caller free of the host's order and of unaligned
 * access. Compilers turn each of these into one load or store (plus a byte
 * swap when the orders differ).
 *
 * p must point to at least as many bytes as the width. Any thread.
 */
#ifndef RP_CORE_BYTEORDER_H
#define RP_CORE_BYTEORDER_H

#include <stdint.h>

static inline uint16_t rp__load_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rp__load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rp__load_le64(const uint8_t *p)
{
    return (uint64_t)rp__load_le32(p) | (uint64_t)rp__load_le32(p + 4) << 32;
}

static inline void rp__store_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void rp__store_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void rp__store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t rp__load_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rp__load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void rp__store_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void rp__store_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

#endif
