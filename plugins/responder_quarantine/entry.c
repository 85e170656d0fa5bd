/*
 * plugins/responder_quarantine/entry.c - the entry header: encoding and a
 * parser that trusts no length it has not checked (entry.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "entry.h"

#include <rampart/plugin.h>

#include <string.h>

static void put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

int rq_entry_encode(const struct rq_meta *meta, const uint8_t nonce[RQ_NONCE_LEN], uint8_t *out,
                    size_t cap, size_t *len)
{
    size_t path_len = strnlen(meta->path, RQ_PATH_MAX + 1);
    size_t rule_len = strnlen(meta->rule, RQ_RULE_MAX + 1);
    if (path_len > RQ_PATH_MAX || rule_len > RQ_RULE_MAX)
        return RP_ERR_RANGE;
    size_t meta_len = RQ_META_FIXED + path_len + rule_len;
    if (cap < RQ_PREFIX_LEN + meta_len)
        return RP_ERR_FULL;
    uint8_t *p = out;
    memcpy(p, RQ_MAGIC, 4);
    put_u32(p + 4, RQ_VERSION);
    put_u32(p + 8, (uint32_t)meta_len);
    memcpy(p + 12, nonce, RQ_NONCE_LEN);
    p += RQ_PREFIX_LEN;
    put_u64(p, meta->size);
    put_u32(p + 8, meta->mode);
    put_u32(p + 12, meta->uid);
    put_u32(p + 16, meta->gid);
    put_u64(p + 20, (uint64_t)meta->mtime_ns);
    put_u64(p + 28, (uint64_t)meta->time_ns);
    memcpy(p + 36, meta->sha256, RQ_SHA256_LEN);
    put_u16(p + 68, (uint16_t)path_len);
    put_u16(p + 70, (uint16_t)rule_len);
    p += RQ_META_FIXED;
    memcpy(p, meta->path, path_len);
    memcpy(p + path_len, meta->rule, rule_len);
    *len = RQ_PREFIX_LEN + meta_len;
    return 0;
}

int rq_entry_header_len(const uint8_t *buf, size_t len, size_t *header_len)
{
    if (len < RQ_PREFIX_LEN || memcmp(buf, RQ_MAGIC, 4) != 0 || get_u32(buf + 4) != RQ_VERSION)
        return RP_ERR_PARSE;
    uint32_t meta_len = get_u32(buf + 8);
    if (meta_len < RQ_META_FIXED || meta_len > RQ_META_MAX)
        return RP_ERR_PARSE;
    *header_len = RQ_PREFIX_LEN + meta_len;
    return 0;
}

int rq_entry_decode(const uint8_t *buf, size_t len, struct rq_meta *meta,
                    uint8_t nonce[RQ_NONCE_LEN], size_t *header_len)
{
    size_t total;
    int rc = rq_entry_header_len(buf, len, &total);
    if (rc < 0)
        return rc;
    if (total > len)
        return RP_ERR_PARSE;
    const uint8_t *p = buf + RQ_PREFIX_LEN;
    size_t meta_len = total - RQ_PREFIX_LEN;
    size_t path_len = get_u16(p + 68);
    size_t rule_len = get_u16(p + 70);
    /* Both lengths are checked against their caps before they are added, and
     * together they must use the metadata exactly: no slack to hide bytes. */
    if (path_len > RQ_PATH_MAX || rule_len > RQ_RULE_MAX ||
        RQ_META_FIXED + path_len + rule_len != meta_len)
        return RP_ERR_PARSE;
    const uint8_t *path = p + RQ_META_FIXED;
    const uint8_t *rule = path + path_len;
    if (memchr(path, 0, path_len) != NULL || memchr(rule, 0, rule_len) != NULL)
        return RP_ERR_PARSE;
    memset(meta, 0, sizeof(*meta));
    meta->size = get_u64(p);
    meta->mode = get_u32(p + 8);
    meta->uid = get_u32(p + 12);
    meta->gid = get_u32(p + 16);
    meta->mtime_ns = (int64_t)get_u64(p + 20);
    meta->time_ns = (int64_t)get_u64(p + 28);
    memcpy(meta->sha256, p + 36, RQ_SHA256_LEN);
    memcpy(meta->path, path, path_len);
    memcpy(meta->rule, rule, rule_len);
    memcpy(nonce, buf + 12, RQ_NONCE_LEN);
    *header_len = total;
    return 0;
}
