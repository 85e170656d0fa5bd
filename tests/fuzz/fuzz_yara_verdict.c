/*
 * tests/fuzz/fuzz_yara_verdict.c - libFuzzer target for the parser of
 * detector_yara's saved verdict cache (plugins/detector_yara/verdict.c,
 * compiled into this binary: plugins never link the host). The file lives
 * in the agent's private folder, but a torn write, a full disk or a bad
 * sector can leave anything there: whatever its bytes, a load must not
 * crash, must believe the header's count only as far as the bytes and the
 * cap reach, must account for every counted record (loaded, corrupt, torn,
 * beyond the cap, or of another rule set), and what it loaded must be
 * exactly the records whose CRC32C and fields hold.
 *
 * Input layout: the file's bytes, loaded twice: once with the rules hash of
 * its own header (so the records are parsed) and once with a fixed hash
 * (so they are dropped as another rule set's). The cache holds 8 entries,
 * so a longer file also exercises the cap. Seeds: tools/fuzz-seeds/
 * yara_verdict.c.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/detector_yara/verdict.c
 */
#include "verdict.h"

#include <rampart/plugin.h>

#include <stdbool.h>
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

#define CAP 8u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The record's validity as the format (verdict.h) states it, written
 * independently of verdict.c's decoder. */
static bool record_valid(const uint8_t *r)
{
    if (le32(r + 188) != dy_crc32c(0, r, 188))
        return false;
    uint32_t n = r[53];
    if (r[52] > DY_VERDICT_ERROR || n >= DY_VERDICT_NAME_MAX || r[54] || r[55] || le32(r + 184))
        return false;
    for (uint32_t k = 0; k < DY_VERDICT_NAME_MAX; k++)
        if ((k < n) != (r[56 + k] != 0))
            return false;
    return true;
}

static void run(const uint8_t *data, size_t size, const uint8_t *rules, bool own)
{
    struct dy_verdict_opts o = {.max_entries = CAP};
    struct dy_verdict_cache *c = NULL;
    CHECK(dy_verdict_create(&o, &c) == 0);
    struct dy_verdict_load_report rep;
    int rc = dy_verdict_load_mem(c, data, size, rules, &rep);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);
    CHECK(memchr(rep.msg, 0, sizeof rep.msg) != NULL);
    struct dy_verdict_stats st;
    dy_verdict_stats(c, &st);
    CHECK(st.loaded == rep.loaded);
    CHECK(dy_verdict_count(c) <= CAP);
    CHECK(dy_verdict_count(c) <= rep.loaded);
    if (rc != 0) {
        CHECK(rep.loaded == 0 && dy_verdict_count(c) == 0);
        dy_verdict_destroy(c);
        return;
    }
    CHECK(size >= DY_VERDICT_HEADER_BYTES);
    uint64_t avail = (size - DY_VERDICT_HEADER_BYTES) / DY_VERDICT_RECORD_BYTES;
    uint32_t count = le32(data + 48);
    CHECK(rep.count == count);
    uint64_t whole = count < avail ? count : avail;
    CHECK(rep.torn == count - whole);
    if (!own) {
        CHECK(rep.loaded == 0 && rep.other_rules == whole);
        dy_verdict_destroy(c);
        return;
    }
    CHECK(rep.other_rules == 0);
    CHECK(rep.over_cap == (whole > CAP ? whole - CAP : 0));
    CHECK((uint64_t)rep.loaded + rep.corrupt + rep.over_cap == whole);
    /* Every valid record read is in the cache with its value, unless a
     * later record of the same file identity replaced it. */
    uint32_t valid = 0;
    for (uint64_t i = rep.over_cap; i < whole; i++) {
        const uint8_t *r = data + DY_VERDICT_HEADER_BYTES + i * DY_VERDICT_RECORD_BYTES;
        if (!record_valid(r))
            continue;
        valid++;
        struct dy_file_id id = {.dev = le64(r),
                                .ino = le64(r + 8),
                                .size = le64(r + 16),
                                .mtime_ns = (int64_t)le64(r + 24),
                                .ctime_ns = (int64_t)le64(r + 32)};
        struct dy_verdict v;
        CHECK(dy_verdict_get(c, &id, rules, &v) == 0);
        CHECK(v.rule[DY_VERDICT_NAME_MAX - 1] == '\0');
        CHECK((unsigned)v.kind <= DY_VERDICT_ERROR);
    }
    CHECK(valid == rep.loaded);
    dy_verdict_destroy(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t fixed[DY_RULES_HASH_BYTES] = {0xfe, 0xed, [31] = 0x77};
    uint8_t own[DY_RULES_HASH_BYTES];
    bool has_header = size >= 48;
    if (has_header)
        memcpy(own, data + 16, sizeof own);
    run(data, size, has_header ? own : fixed, has_header);
    if (!has_header || memcmp(own, fixed, sizeof own) != 0)
        run(data, size, fixed, false);
    return 0;
}
