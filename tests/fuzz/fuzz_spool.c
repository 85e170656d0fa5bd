/*
 * tests/fuzz/fuzz_spool.c - libFuzzer target for the spool's recovery
 * (core/output/spool_recover.c, through spool.c; the record codec alone has
 * fuzz_spool_codec.c): whatever the files in a spool folder hold, opening it,
 * reading every batch, acking, appending and reopening must never crash,
 * leak or hand out a batch that is not intact.
 *
 * Input layout:
 *   byte 0    control bits
 *               0x01  fix up checksums: walk each segment chunk as records
 *                     (by their length fields) and rewrite both CRCs, and a
 *                     footer's, so the fuzzer reaches the checks behind them
 *                     (ids, lengths, order, footer sums) instead of stopping
 *                     at the checksums
 *               0x06  ack pattern: all, none, every other one, the first only
 *               0x08  a small max_bytes, so the append drops batches
 *               0x10  a small read buffer (RP_ERR_RANGE path)
 *               0x20  one record per segment on append
 *   then      file contents separated by "RPSPLIT!": a chunk starting with
 *             "RPST" becomes the state file, "RPAK" the acked file, any
 *             other the next segment file (0000000000000001.seg, ...).
 *
 * Checked: every batch handed out has its payload's CRC-32C (recomputed
 * here), ids strictly increase, a successful append comes back intact after
 * a reopen, and the reopen finds no torn tail (the first open cut them).
 */
#define _GNU_SOURCE
#include "lib/log.h"
#include "output/ndjson.h"
#include "output/spool.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_spool: check failed at line %d: %s\n", __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define SEP        "RPSPLIT!"
#define SEP_LEN    8
#define MAX_CHUNKS 8
#define HDR        RP__SPOOL_HEADER_LEN
#define FOOTER_LEN 64

static char dir[PATH_MAX];

static void clear_dir(void)
{
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    struct dirent *e;
    char path[PATH_MAX + 300];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    closedir(d);
}

static void remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

static void init_once(void)
{
    if (dir[0])
        return;
    /* Damaged records are logged as warnings; thousands a second here. */
    rp__log_set_level(RP__LOG_ERROR);
    /* Each open syncs the state file: on a disk that costs milliseconds, on
     * tmpfs nothing, so /dev/shm (when there is one) makes the fuzzer several
     * times faster. TMPDIR overrides. */
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0])
        tmp = access("/dev/shm", W_OK | X_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/rampart-fuzz-spool-XXXXXX", tmp);
    CHECK(mkdtemp(dir) != NULL);
    atexit(remove_dir);
}

static void put_file(const char *name, const uint8_t *p, size_t len)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    CHECK(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        CHECK(n > 0);
        off += (size_t)n;
    }
    close(fd);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the payload and header CRCs of each record found by walking the
 * chunk by its length fields, stopping at the first that does not fit or
 * at a footer ("RPSF"), whose CRC is rewritten too. */
static void fix_crcs(uint8_t *p, size_t len)
{
    size_t off = 0;
    while (len - off >= HDR) {
        uint8_t *h = p + off;
        if (len - off >= FOOTER_LEN && memcmp(h, "RPSF", 4) == 0) {
            wr32(h + 60, rp__crc32c(0, h, 60));
            break;
        }
        uint32_t plen = rd32(h + 40);
        if (plen > len - off - HDR)
            break;
        wr32(h + 44, rp__crc32c(0, h + HDR, plen));
        wr32(h + 52, rp__crc32c(0, h, 52));
        off += HDR + plen;
    }
}

static const uint8_t *find_sep(const uint8_t *p, size_t len)
{
    if (len < SEP_LEN)
        return NULL;
    for (size_t i = 0; i + SEP_LEN <= len; i++)
        if (p[i] == 'R' && memcmp(p + i, SEP, SEP_LEN) == 0)
            return p + i;
    return NULL;
}

/* Opens the spool, hands out every batch it can (acking per pattern) and
 * returns the number handed out. want_id/want (if want_id) must appear. */
static size_t drain(rp__spool *sp, rp__buf *buf, int pattern, uint64_t want_id, const uint8_t *want,
                    size_t want_len, int *found)
{
    rp__spool_batch b;
    uint64_t last = 0;
    size_t n = 0;
    int rc;
    /* Bounded: a spool made from the input holds at most input-size records
     * of 56 bytes, and appends add one. */
    for (int guard = 0; guard < 100000; guard++) {
        rc = rp__spool_next(sp, last, buf, &b);
        if (rc != 0)
            break;
        CHECK(b.id > last);
        CHECK(b.len <= buf->max);
        CHECK(b.len == 0 || b.payload != NULL);
        /* Every byte handed out is readable (ASan checks the reads). */
        volatile uint32_t crc = rp__crc32c(0, b.payload, b.len);
        (void)crc;
        if (want_id && b.id == want_id) {
            CHECK(b.len == want_len && memcmp(b.payload, want, want_len) == 0);
            *found = 1;
        }
        last = b.id;
        int ack = pattern == 0 || (pattern == 2 && n % 2 == 0) || (pattern == 3 && n == 0);
        if (ack)
            CHECK(rp__spool_ack(sp, b.id) == 0);
        n++;
    }
    CHECK(rc == RP_ERR_NOTFOUND || rc == RP_ERR_BUSY || rc == RP_ERR_RANGE);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_once();
    clear_dir();
    if (size == 0)
        return 0;
    uint8_t ctl = data[0];
    const uint8_t *p = data + 1;
    size_t left = size - 1;
    int nseg = 0;
    for (int chunk = 0; chunk < MAX_CHUNKS; chunk++) {
        const uint8_t *sep = find_sep(p, left);
        size_t len = sep ? (size_t)(sep - p) : left;
        if (len >= 4 && memcmp(p, "RPST", 4) == 0) {
            put_file("state", p, len);
        } else if (len >= 4 && memcmp(p, "RPAK", 4) == 0) {
            put_file("acked", p, len);
        } else {
            uint8_t *copy = malloc(len ? len : 1);
            CHECK(copy != NULL);
            memcpy(copy, p, len);
            if (ctl & 0x01)
                fix_crcs(copy, len);
            char name[32];
            snprintf(name, sizeof name, "%016x.seg", ++nseg);
            put_file(name, copy, len);
            free(copy);
        }
        if (!sep)
            break;
        p = sep + SEP_LEN;
        left -= len + SEP_LEN;
    }

    rp__spool_opts o;
    rp__spool_opts_init(&o, dir);
    o.fsync = RP__SPOOL_FSYNC_NEVER;
    o.max_bytes = (ctl & 0x08) ? 4096 : 1 << 20;
    o.segment_bytes = (ctl & 0x20) ? 1 : 0;
    o.max_inflight = 16;
    int pattern = (ctl >> 1) & 3;
    rp__buf buf;
    rp__buf_init(&buf, (ctl & 0x10) ? 64 : RP__SPOOL_PAYLOAD_MAX);

    rp__spool *sp = NULL;
    CHECK(rp__spool_open(&o, &sp) == 0);
    rp__spool_stats st;
    rp__spool_get_stats(sp, &st);
    CHECK(st.queued_batches <= size / HDR + 1);
    drain(sp, &buf, pattern, 0, NULL, 0, NULL);

    /* One append: a piece of the input as payload. */
    size_t plen = size < 200 ? size : 200;
    uint64_t id = 0;
    int rc = rp__spool_append(sp, data, plen, 7, 0, &id);
    /* RP_ERR_RANGE: the files claim the largest id there may be. */
    CHECK(rc == 0 || rc == RP_ERR_FULL || rc == RP_ERR_RANGE);
    drain(sp, &buf, 1, 0, NULL, 0, NULL); /* read without acking */
    rp__spool_get_stats(sp, &st);
    /* A successful append made room for itself under the cap. */
    CHECK(rc != 0 || st.disk_bytes <= o.max_bytes);
    rp__spool_close(sp);

    /* Reopen: the tails are cut already, and the new batch is there. */
    sp = NULL;
    CHECK(rp__spool_open(&o, &sp) == 0);
    rp__spool_get_stats(sp, &st);
    CHECK(st.cut_torn_records == 0);
    rp__buf_reset(&buf);
    buf.max = RP__SPOOL_PAYLOAD_MAX;
    int found = 0;
    drain(sp, &buf, 0, rc == 0 ? id : 0, data, plen, &found);
    CHECK(rc != 0 || found);
    rp__spool_close(sp);
    rp__buf_free(&buf);
    return 0;
}
