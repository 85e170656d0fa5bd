/*
 * tests/fuzz/fuzz_quarantine_entry.c - libFuzzer target for the parser of
 * a quarantine entry's header (plugins/responder_quarantine/entry.c,
 * compiled into this binary: plugins never link the host). The vault is
 * the agent's private folder, but a torn write or a bad sector can leave
 * anything in an entry, and list reads headers before any tag is checked:
 * whatever the bytes, the parser must not read past them, must keep every
 * string within its cap and NUL-terminated, and what it accepts must be
 * exactly what the encoder writes for the same metadata (so no byte of an
 * accepted header escapes the GCM additional data unnoticed).
 *
 * Input: the entry file's bytes (a header, then anything). Seeds:
 * tools/fuzz-seeds/quarantine_entry.py.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/responder_quarantine/entry.c
 */
#define _POSIX_C_SOURCE 200809L
#include "entry.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that ASan sees any read past them. */
    uint8_t *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    if (size > 0)
        memcpy(buf, data, size);
    static struct rq_meta meta;
    static uint8_t again[RQ_HEADER_MAX];
    uint8_t nonce[RQ_NONCE_LEN];
    size_t header_len = 0, prefix_len = 0;
    int rc = rq_entry_decode(buf, size, &meta, nonce, &header_len);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);
    if (rc == 0) {
        CHECK(header_len <= size && header_len <= RQ_HEADER_MAX);
        CHECK(rq_entry_header_len(buf, size, &prefix_len) == 0 && prefix_len == header_len);
        CHECK(strnlen(meta.path, sizeof(meta.path)) <= RQ_PATH_MAX);
        CHECK(strnlen(meta.rule, sizeof(meta.rule)) <= RQ_RULE_MAX);
        size_t len = 0;
        CHECK(rq_entry_encode(&meta, nonce, again, sizeof(again), &len) == 0);
        CHECK(len == header_len && memcmp(again, buf, len) == 0);
    }
    free(buf);
    return 0;
}
