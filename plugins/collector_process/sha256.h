/*
 * sha256.h - a small SHA-256 (FIPS 180-4) for hashing executables, so the
 * plugin needs no crypto library. Streaming: init, update as often as needed,
 * final. Not constant-time (it hashes public file contents, no secrets).
 */
#ifndef CP_SHA256_H
#define CP_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct cp_sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    uint8_t block[64];
    uint32_t used; /* bytes waiting in block */
} cp_sha256;

void cp_sha256_init(cp_sha256 *s);
void cp_sha256_update(cp_sha256 *s, const void *data, size_t len);
void cp_sha256_final(cp_sha256 *s, uint8_t out[32]);
/* One-shot helper. */
void cp_sha256_once(const void *data, size_t len, uint8_t out[32]);
/* Lower-case hex of n bytes into out (2n + 1 bytes with the NUL). */
void cp_hex(const uint8_t *in, size_t n, char *out);

#endif
