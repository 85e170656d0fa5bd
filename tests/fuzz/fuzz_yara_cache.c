/*
 * tests/fuzz/fuzz_yara_cache.c - libFuzzer target for detector_yara's
 * compiled cache reader (dy_cache_parse, dy_cache_record in
 * plugins/detector_yara/rules.c, compiled into this binary: plugins never
 * link the host). A cache file is the loader's own format, read back after
 * a crash, a full disk or a bad block: whatever the bytes, the reader must
 * refuse them cleanly or hand out records within the caps of rules.h, and
 * never more records than the header announces. libyara's compiled rules
 * (the blob after the records) are not parsed here: the loader gives them
 * to libyara only after the SHA-256 of the body matched.
 *
 * Input layout:
 *   byte 0     0: the rest is a whole cache file, as read from disk;
 *              otherwise: the rest is the records section, wrapped in a
 *              valid header (lengths and body hash right, byte 0 - 1 as
 *              the announced record count), so that the record parser is
 *              reached past the hash check
 *   the rest   the bytes
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads these lines):
 * fuzz-standalone: plugins/detector_yara/rules.c
 * fuzz-pkg: yara
 */
#include "rules.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>

#include <yara.h>

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

static void put_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A valid header around the records rec[0..n). */
static uint8_t *wrap(const uint8_t *rec, size_t n, uint32_t count, size_t *len)
{
    uint8_t *b = calloc(1, DY_CACHE_HEADER + n);
    CHECK(b != NULL);
    memcpy(b, "RPDYRC\r\n", 8);
    put_le(b + 8, DY_CACHE_FORMAT, 4);
    put_le(b + 12, YR_VERSION_HEX, 4);
    put_le(b + 80, count, 4);
    put_le(b + 88, n, 8);
    if (n)
        memcpy(b + DY_CACHE_HEADER, rec, n);
    rp_util_sha256 s;
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, b + DY_CACHE_HEADER, n);
    rp_util_sha256_final(&s, b + 104);
    *len = DY_CACHE_HEADER + n;
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t len = size - 1;
    uint8_t *buf;
    if (data[0] == 0) {
        buf = malloc(len ? len : 1);
        CHECK(buf != NULL);
        memcpy(buf, data + 1, len);
    } else {
        buf = wrap(data + 1, len, (uint32_t)data[0] - 1u, &len);
    }
    struct dy_cache_view v;
    char why[128];
    int rc = dy_cache_parse(buf, len, &v, why, sizeof(why));
    CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_VERSION || rc == RP_ERR_NOMEM);
    if (rc == 0) {
        CHECK(v.records + v.records_len == v.blob);
        CHECK(v.blob + v.blob_len == buf + len);
        static struct dy_warning ws[DY_WARNINGS_MAX];
        struct dy_file_report rep;
        const char *rel;
        size_t rel_len, at = 0;
        uint32_t n = 0;
        while ((rc = dy_cache_record(&v, &at, &rep, &rel, &rel_len, ws)) == 1) {
            n++;
            CHECK(at <= v.records_len);
            CHECK(rel >= (const char *)v.records && rel + rel_len <= (const char *)v.blob);
            CHECK(rel_len > 0);
            CHECK(rep.status == DY_ST_COMPILED || rep.status == DY_ST_FAILED);
            CHECK(rep.reason < DY_REASON_COUNT);
            CHECK(strlen(rep.msg) < DY_MSG_MAX);
            CHECK(rep.n_warnings <= DY_WARNINGS_MAX);
            for (uint32_t k = 0; k < rep.n_warnings; k++)
                CHECK(strlen(ws[k].rule) < DY_RULE_NAME_MAX && strlen(ws[k].msg) < DY_MSG_MAX);
        }
        /* A parsed view holds exactly the records it announces. */
        CHECK(rc == 0);
        CHECK(n == v.n_records);
        CHECK(at == v.records_len);
    }
    free(buf);
    return 0;
}
