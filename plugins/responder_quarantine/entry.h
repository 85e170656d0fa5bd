/*
 * plugins/responder_quarantine/entry.h - the on-disk header of one
 * quarantine entry and its bounded parser (README.md, "File format").
 * No cryptography here, so the fuzz target compiles this file alone.
 */
#ifndef RP_RESPONDER_QUARANTINE_ENTRY_H
#define RP_RESPONDER_QUARANTINE_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#define RQ_MAGIC      "RQV1"
#define RQ_VERSION    1u
#define RQ_NONCE_LEN  12u /* 96-bit GCM nonce, random per entry */
#define RQ_TAG_LEN    16u
#define RQ_SHA256_LEN 32u
#define RQ_PATH_MAX   4096u /* original path, bytes without NUL: longer is RP_ERR_RANGE */
#define RQ_RULE_MAX   256u  /* rule name, bytes without NUL: longer is RP_ERR_RANGE */
/* magic, version, metadata length, nonce. */
#define RQ_PREFIX_LEN (4u + 4u + 4u + RQ_NONCE_LEN)
/* size, mode, uid, gid, mtime ns, quarantine time ns, sha256, two lengths. */
#define RQ_META_FIXED (8u + 4u + 4u + 4u + 8u + 8u + RQ_SHA256_LEN + 2u + 2u)
#define RQ_META_MAX   (RQ_META_FIXED + RQ_PATH_MAX + RQ_RULE_MAX)
#define RQ_HEADER_MAX (RQ_PREFIX_LEN + RQ_META_MAX)

/* The metadata of one entry. The strings are NUL-terminated copies. */
struct rq_meta {
    uint64_t size;
    uint32_t mode; /* st_mode: file type and permission bits */
    uint32_t uid;
    uint32_t gid;
    int64_t mtime_ns;
    int64_t time_ns; /* when it was quarantined */
    uint8_t sha256[RQ_SHA256_LEN];
    char path[RQ_PATH_MAX + 1];
    char rule[RQ_RULE_MAX + 1];
};

/* rq_entry_encode: writes the header (prefix and metadata) for meta and
 * nonce into out (cap bytes), the length in *len. RP_ERR_RANGE when a
 * string is over its cap or holds a NUL-less overlong value, RP_ERR_FULL
 * when cap is too small (RQ_HEADER_MAX always fits). */
int rq_entry_encode(const struct rq_meta *meta, const uint8_t nonce[RQ_NONCE_LEN], uint8_t *out,
                    size_t cap, size_t *len);

/* rq_entry_header_len: from the first RQ_PREFIX_LEN bytes, the length of
 * the whole header (prefix + metadata). RP_ERR_PARSE on a wrong magic,
 * version or a metadata length outside [RQ_META_FIXED, RQ_META_MAX]. */
int rq_entry_header_len(const uint8_t *buf, size_t len, size_t *header_len);

/* rq_entry_decode: parses a whole header from buf (len bytes, any content):
 * every length is checked against the caps and the bytes present, the
 * strings must hold no NUL and the metadata must be used exactly.
 * RP_ERR_PARSE on anything else. On success fills meta, nonce and
 * *header_len (<= len). The result is unauthenticated until the GCM tag
 * at the end of the entry has been checked. */
int rq_entry_decode(const uint8_t *buf, size_t len, struct rq_meta *meta,
                    uint8_t nonce[RQ_NONCE_LEN], size_t *header_len);

#endif
