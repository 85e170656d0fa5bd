/*
 * tools/fuzz-seeds/yara_verdict.c - writes the seed corpus of
 * tests/fuzz/fuzz_yara_verdict.c with detector_yara's own saver
 * (plugins/detector_yara/verdict.c):
 *   cc -O1 -Iplugins/detector_yara -Isdk/include -o /tmp/yvseeds \
 *       tools/fuzz-seeds/yara_verdict.c plugins/detector_yara/verdict.c -lpthread
 *   /tmp/yvseeds tests/fuzz/corpus/yara_verdict
 *
 *   three        three records (clean, malicious, error), as dy_verdict_save
 *                writes them
 *   twelve       twelve records: more than the fuzz target's cap of 8
 *   empty_set    a header with no records
 *   torn_record  three records cut in the middle of the third
 *   torn_header  the first 40 bytes of three
 *   bad_crc      three with one bit of the second record flipped
 *   bad_count    three with the header's count raised (CRC fixed)
 *   bad_fields   three with the second record's kind set to 9 (CRC fixed)
 */
#define _GNU_SOURCE
#include "verdict.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint8_t rules[DY_RULES_HASH_BYTES] = {0x52, 0x50, 0x59, 0x56, [31] = 0x01};

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static size_t slurp(int dirfd, const char *name, uint8_t *buf, size_t cap)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die(name);
    ssize_t n = read(fd, buf, cap);
    if (n < 0)
        die(name);
    close(fd);
    return (size_t)n;
}

static void spit(int dirfd, const char *name, const uint8_t *buf, size_t n)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, n) != (ssize_t)n)
        die(name);
    close(fd);
}

static void save(int dirfd, const char *name, unsigned records)
{
    struct dy_verdict_cache *c;
    if (dy_verdict_create(NULL, &c) != 0)
        die("create");
    for (unsigned i = 0; i < records; i++) {
        struct dy_file_id id = {.dev = 0x803,
                                .ino = 4000 + i,
                                .size = 100 * (i + 1),
                                .mtime_ns = 1700000000000000000 + i,
                                .ctime_ns = 1700000001000000000 + i};
        struct dy_verdict v = {.kind = (enum dy_verdict_kind)(i % 3),
                               .judged_ns = 1750000000000000000 + i};
        if (v.kind == DY_VERDICT_MALICIOUS) {
            v.matches = i + 1;
            snprintf(v.rule, sizeof v.rule, "Seed_Rule_%u", i);
        }
        if (dy_verdict_put(c, &id, &id, rules, &v) != 0)
            die("put");
    }
    if (dy_verdict_save(c, dirfd, name, rules, NULL) != 0)
        die("save");
    dy_verdict_destroy(c);
}

static void fix_record_crc(uint8_t *r)
{
    uint32_t crc = dy_crc32c(0, r, 188);
    for (int i = 0; i < 4; i++)
        r[188 + i] = (uint8_t)(crc >> (8 * i));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 64;
    }
    int dirfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        die(argv[1]);
    save(dirfd, "three", 3);
    save(dirfd, "twelve", 12);
    save(dirfd, "empty_set", 0);
    uint8_t buf[DY_VERDICT_HEADER_BYTES + 3 * DY_VERDICT_RECORD_BYTES];
    size_t n = slurp(dirfd, "three", buf, sizeof buf);
    uint8_t *rec2 = buf + DY_VERDICT_HEADER_BYTES + DY_VERDICT_RECORD_BYTES;
    spit(dirfd, "torn_record", buf, n - DY_VERDICT_RECORD_BYTES / 2);
    spit(dirfd, "torn_header", buf, 40);
    rec2[10] ^= 0x04;
    spit(dirfd, "bad_crc", buf, n);
    rec2[10] ^= 0x04;
    rec2[52] = 9;
    fix_record_crc(rec2);
    spit(dirfd, "bad_fields", buf, n);
    n = slurp(dirfd, "three", buf, sizeof buf);
    buf[48] = 200;
    uint32_t crc = dy_crc32c(0, buf, 60);
    for (int i = 0; i < 4; i++)
        buf[60 + i] = (uint8_t)(crc >> (8 * i));
    spit(dirfd, "bad_count", buf, n);
    close(dirfd);
    return 0;
}
