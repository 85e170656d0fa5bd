/*
 * tests/unit/test_yara_verdict.c - detector_yara's verdict cache
 * (plugins/detector_yara/verdict.h): hits and misses on each member of the
 * key, a new rule set, LRU eviction at the cap, the refusal of a file that
 * changed during its scan, the saved file (round trip, torn at every byte,
 * a corrupt record, a planted symbolic link, another owner), no allocation
 * per lookup, and readers alongside the writer (run under TSan by make
 * test-tsan).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "verdict.h"

#include <rampart/plugin.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#include "alloc_count.h"

static const uint8_t rules_a[DY_RULES_HASH_BYTES] = {0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7};
static const uint8_t rules_b[DY_RULES_HASH_BYTES] = {0xa1, 0xa2, 0xa3, 0xa4,
                                                     0xa5, 0xa6, 0xa7, [31] = 1};

static struct dy_file_id fid(uint64_t n)
{
    struct dy_file_id id = {.dev = 0x801,
                            .ino = 1000 + n,
                            .size = 4096 + n,
                            .mtime_ns = 1700000000000000000 + (int64_t)n,
                            .ctime_ns = 1700000000500000000 + (int64_t)n};
    return id;
}

static struct dy_verdict bad(const char *rule, uint32_t matches)
{
    struct dy_verdict v = {.kind = DY_VERDICT_MALICIOUS, .matches = matches, .judged_ns = 42};
    snprintf(v.rule, sizeof v.rule, "%s", rule);
    return v;
}

static struct dy_verdict_cache *cache(uint32_t max_entries)
{
    struct dy_verdict_opts o = {.max_entries = max_entries};
    struct dy_verdict_cache *c = NULL;
    assert_int_equal(dy_verdict_create(&o, &c), 0);
    assert_non_null(c);
    return c;
}

static void put_ok(struct dy_verdict_cache *c, uint64_t n, const uint8_t *rules,
                   const struct dy_verdict *v)
{
    struct dy_file_id id = fid(n);
    assert_int_equal(dy_verdict_put(c, &id, &id, rules, v), 0);
}

static int get(struct dy_verdict_cache *c, uint64_t n, const uint8_t *rules, struct dy_verdict *v)
{
    struct dy_file_id id = fid(n);
    return dy_verdict_get(c, &id, rules, v);
}

static void test_crc32c(void **state)
{
    (void)state;
    /* The check value of CRC-32C (Castagnoli), as in RFC 3720's tables. */
    assert_int_equal(dy_crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(dy_crc32c(dy_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void test_hit(void **state)
{
    (void)state;
    struct dy_verdict_cache *c = cache(0);
    assert_int_equal(dy_verdict_capacity(c), DY_VERDICT_ENTRIES_DEF);
    struct dy_verdict v = bad("EICAR_Test_File", 3), got;
    put_ok(c, 1, rules_a, &v);
    struct dy_verdict clean = {.kind = DY_VERDICT_CLEAN};
    put_ok(c, 2, rules_a, &clean);
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    assert_int_equal(got.kind, DY_VERDICT_MALICIOUS);
    assert_int_equal(got.matches, 3);
    assert_int_equal(got.judged_ns, 42);
    assert_string_equal(got.rule, "EICAR_Test_File");
    assert_int_equal(get(c, 2, rules_a, &got), 0);
    assert_int_equal(got.kind, DY_VERDICT_CLEAN);
    assert_true(got.judged_ns > 0); /* 0 means now */
    assert_string_equal(got.rule, "");
    /* A newer verdict of the same key replaces the old one. */
    struct dy_verdict err = {.kind = DY_VERDICT_ERROR};
    put_ok(c, 1, rules_a, &err);
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    assert_int_equal(got.kind, DY_VERDICT_ERROR);
    assert_int_equal(dy_verdict_count(c), 2);
    /* A rule name filling the whole field, without a NUL, is cut and
     * terminated. */
    struct dy_verdict lv = {.kind = DY_VERDICT_MALICIOUS, .matches = 1};
    memset(lv.rule, 'x', sizeof lv.rule);
    put_ok(c, 3, rules_a, &lv);
    assert_int_equal(get(c, 3, rules_a, &got), 0);
    assert_int_equal(strlen(got.rule), DY_VERDICT_NAME_MAX - 1);
    struct dy_verdict_stats st;
    dy_verdict_stats(c, &st);
    assert_int_equal(st.hits, 4);
    assert_int_equal(st.misses, 0);
    assert_int_equal(st.stores, 4);
    struct dy_verdict odd = {.kind = (enum dy_verdict_kind)7};
    struct dy_file_id id = fid(9);
    assert_int_equal(dy_verdict_put(c, &id, &id, rules_a, &odd), RP_ERR_INVAL);
    dy_verdict_destroy(c);
    dy_verdict_destroy(NULL);
}

static void test_miss_on_each_key_member(void **state)
{
    (void)state;
    /* A cap of 1 has one bucket: every key shares the chain, so only the
     * comparison of the members (not the hash) tells them apart. */
    static const uint32_t caps[] = {1, 16};
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        struct dy_verdict_cache *c = cache(caps[k]);
        struct dy_verdict v = bad("r", 1), got;
        put_ok(c, 5, rules_a, &v);
        for (int member = 0; member < 5; member++) {
            struct dy_file_id id = fid(5);
            switch (member) {
            case 0:
                id.dev++;
                break;
            case 1:
                id.ino++;
                break;
            case 2:
                id.size++;
                break;
            case 3:
                id.mtime_ns++;
                break;
            case 4:
                id.ctime_ns++;
                break;
            }
            assert_int_equal(dy_verdict_get(c, &id, rules_a, &got), RP_ERR_NOTFOUND);
        }
        assert_int_equal(get(c, 5, rules_a, &got), 0);
        struct dy_verdict_stats st;
        dy_verdict_stats(c, &st);
        assert_int_equal(st.misses, 5);
        assert_int_equal(st.hits, 1);
        dy_verdict_destroy(c);
    }
}

static void test_rules_hash_change(void **state)
{
    (void)state;
    /* Two entries in a table of two buckets, and hashes that differ only in
     * their last byte. */
    struct dy_verdict_cache *c = cache(2);
    struct dy_verdict clean = {.kind = DY_VERDICT_CLEAN}, got;
    put_ok(c, 1, rules_a, &clean);
    /* Another rule set never gets the old "clean". */
    assert_int_equal(get(c, 1, rules_b, &got), RP_ERR_NOTFOUND);
    struct dy_verdict v = bad("new_rule", 1);
    put_ok(c, 1, rules_b, &v);
    assert_int_equal(get(c, 1, rules_b, &got), 0);
    assert_int_equal(got.kind, DY_VERDICT_MALICIOUS);
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    assert_int_equal(got.kind, DY_VERDICT_CLEAN);
    dy_verdict_destroy(c);
}

static void test_lru_eviction_at_cap(void **state)
{
    (void)state;
    struct dy_verdict_cache *c = cache(4);
    assert_int_equal(dy_verdict_capacity(c), 4);
    struct dy_verdict v = bad("r", 1), got;
    for (uint64_t n = 1; n <= 4; n++)
        put_ok(c, n, rules_a, &v);
    /* 1 is used again: 2 becomes the least recently used. */
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    put_ok(c, 5, rules_a, &v);
    assert_int_equal(get(c, 2, rules_a, &got), RP_ERR_NOTFOUND);
    for (uint64_t n = 1; n <= 5; n++)
        if (n != 2)
            assert_int_equal(get(c, n, rules_a, &got), 0);
    /* Order now 1 3 4 5 (5 newest): a store evicts 1, then 3. */
    put_ok(c, 6, rules_a, &v);
    put_ok(c, 7, rules_a, &v);
    assert_int_equal(get(c, 1, rules_a, &got), RP_ERR_NOTFOUND);
    assert_int_equal(get(c, 3, rules_a, &got), RP_ERR_NOTFOUND);
    assert_int_equal(dy_verdict_count(c), 4);
    struct dy_verdict_stats st;
    dy_verdict_stats(c, &st);
    assert_int_equal(st.evictions, 3);
    dy_verdict_destroy(c);

    /* The byte cap bounds the entries too. */
    struct dy_verdict_opts o = {.max_entries = 1000, .max_bytes = 10 * dy_verdict_entry_bytes()};
    assert_int_equal(dy_verdict_create(&o, &c), 0);
    assert_int_equal(dy_verdict_capacity(c), 10);
    for (uint64_t n = 0; n < 25; n++)
        put_ok(c, n, rules_a, &v);
    assert_int_equal(dy_verdict_count(c), 10);
    dy_verdict_destroy(c);
    o.max_bytes = 1;
    assert_int_equal(dy_verdict_create(&o, &c), RP_ERR_RANGE);
    o = (struct dy_verdict_opts){.max_entries = DY_VERDICT_ENTRIES_MAX + 1};
    assert_int_equal(dy_verdict_create(&o, &c), RP_ERR_RANGE);
}

static void test_changed_during_scan_refused(void **state)
{
    (void)state;
    struct dy_verdict_cache *c = cache(16);
    char dir[64];
    assert_int_equal(tu_mkdtemp("yverdict", dir, sizeof dir), 0);
    char path[128];
    assert_non_null(tu_path(path, sizeof path, dir, "prog"));
    assert_int_equal(tu_write(path, "clean bytes\n"), 0);
    /* The caller's sequence: fstat, scan, fstat on the same descriptor. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    struct dy_file_id before, after;
    dy_file_id_from_stat(&st, &before);
    /* Written during the "scan" (same size, mtime put back: only ctime
     * tells, which is why it is in the key). */
    int wfd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(wfd >= 0);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_int_equal(pwrite(wfd, "EVIL", 4, 0), 4);
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    assert_int_equal(futimens(wfd, times), 0);
    close(wfd);
    assert_int_equal(fstat(fd, &st), 0);
    dy_file_id_from_stat(&st, &after);
    assert_int_equal(after.mtime_ns, before.mtime_ns);
    assert_int_equal(after.size, before.size);
    struct dy_verdict clean = {.kind = DY_VERDICT_CLEAN}, got;
    assert_int_equal(dy_verdict_put(c, &before, &after, rules_a, &clean), RP_ERR_AGAIN);
    assert_int_equal(dy_verdict_get(c, &before, rules_a, &got), RP_ERR_NOTFOUND);
    assert_int_equal(dy_verdict_get(c, &after, rules_a, &got), RP_ERR_NOTFOUND);
    /* Scanned again, unchanged this time: stored, and the old identity
     * (what a touch -d back to the old mtime looks like) stays a miss. */
    assert_int_equal(dy_verdict_put(c, &after, &after, rules_a, &clean), 0);
    assert_int_equal(dy_verdict_get(c, &after, rules_a, &got), 0);
    assert_int_equal(dy_verdict_get(c, &before, rules_a, &got), RP_ERR_NOTFOUND);
    struct dy_verdict_stats s;
    dy_verdict_stats(c, &s);
    assert_int_equal(s.refused, 1);
    assert_int_equal(s.stores, 1);
    close(fd);
    tu_rm_rf(dir);
    dy_verdict_destroy(c);
}

/* ---- the saved file ---- */

struct tmpdir {
    char path[64];
    int fd;
};

static void tmpdir_open(struct tmpdir *t)
{
    assert_int_equal(tu_mkdtemp("yverdict", t->path, sizeof t->path), 0);
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->fd >= 0);
}

static void tmpdir_close(struct tmpdir *t)
{
    close(t->fd);
    tu_rm_rf(t->path);
}

static uint8_t *read_all(int dirfd, const char *name, size_t *len)
{
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

static void write_bytes(int dirfd, const char *name, const uint8_t *p, size_t n)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

static void fill_three(struct dy_verdict_cache *c)
{
    struct dy_verdict v1 = bad("Miner_XMRig", 2), v2 = {.kind = DY_VERDICT_CLEAN, .judged_ns = 7},
                      v3 = bad("Webshell_PHP", 5);
    put_ok(c, 1, rules_a, &v1);
    put_ok(c, 2, rules_a, &v2);
    put_ok(c, 3, rules_a, &v3);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_open(&t);
    struct dy_verdict_cache *c = cache(16);
    fill_three(c);
    struct dy_verdict v = bad("other", 1), got;
    put_ok(c, 4, rules_b, &v); /* another rule set: not saved */
    uint32_t saved = 0;
    assert_int_equal(dy_verdict_save(c, t.fd, "verdicts", rules_a, &saved), 0);
    assert_int_equal(saved, 3);
    struct stat st;
    assert_int_equal(fstatat(t.fd, "verdicts", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, DY_VERDICT_HEADER_BYTES + 3 * DY_VERDICT_RECORD_BYTES);
    assert_int_equal(faccessat(t.fd, "verdicts.tmp", F_OK, AT_SYMLINK_NOFOLLOW), -1);
    dy_verdict_destroy(c);

    c = cache(16);
    struct dy_verdict_load_report rep;
    assert_int_equal(dy_verdict_load(c, t.fd, "verdicts", rules_a, &rep), 0);
    assert_int_equal(rep.count, 3);
    assert_int_equal(rep.loaded, 3);
    assert_string_equal(rep.msg, "");
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    assert_int_equal(got.kind, DY_VERDICT_MALICIOUS);
    assert_int_equal(got.matches, 2);
    assert_int_equal(got.judged_ns, 42);
    assert_string_equal(got.rule, "Miner_XMRig");
    assert_int_equal(get(c, 2, rules_a, &got), 0);
    assert_int_equal(got.kind, DY_VERDICT_CLEAN);
    assert_int_equal(got.judged_ns, 7);
    assert_int_equal(get(c, 3, rules_a, &got), 0);
    assert_string_equal(got.rule, "Webshell_PHP");
    assert_int_equal(got.matches, 5);
    assert_int_equal(get(c, 4, rules_b, &got), RP_ERR_NOTFOUND);
    struct dy_verdict_stats s;
    dy_verdict_stats(c, &s);
    assert_int_equal(s.loaded, 3);
    assert_int_equal(s.dropped, 0);
    dy_verdict_destroy(c);

    /* The saved order is the LRU order: loaded into a cache of 2, the two
     * most recently used stay (3, then 1, which is looked up last). */
    c = cache(16);
    fill_three(c);
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    assert_int_equal(dy_verdict_save(c, t.fd, "verdicts", rules_a, NULL), 0);
    dy_verdict_destroy(c);
    c = cache(2);
    assert_int_equal(dy_verdict_load(c, t.fd, "verdicts", rules_a, &rep), 0);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.over_cap, 1);
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    assert_int_equal(get(c, 3, rules_a, &got), 0);
    assert_int_equal(get(c, 2, rules_a, &got), RP_ERR_NOTFOUND);
    dy_verdict_destroy(c);

    /* Another rule set at load: every record dropped and counted. */
    c = cache(16);
    assert_int_equal(dy_verdict_load(c, t.fd, "verdicts", rules_b, &rep), 0);
    assert_int_equal(rep.loaded, 0);
    assert_int_equal(rep.other_rules, 3);
    assert_int_equal(dy_verdict_count(c), 0);
    dy_verdict_stats(c, &s);
    assert_int_equal(s.dropped, 3);
    assert_int_equal(get(c, 2, rules_b, &got), RP_ERR_NOTFOUND);
    assert_int_equal(dy_verdict_load(c, t.fd, "absent", rules_a, &rep), RP_ERR_NOTFOUND);
    assert_int_equal(dy_verdict_load(c, t.fd, "../verdicts", rules_a, &rep), RP_ERR_INVAL);
    assert_int_equal(dy_verdict_save(c, t.fd, "a/b", rules_a, NULL), RP_ERR_INVAL);
    dy_verdict_destroy(c);
    tmpdir_close(&t);
}

static void test_torn_file_loads_prefix(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_open(&t);
    struct dy_verdict_cache *c = cache(16);
    fill_three(c);
    assert_int_equal(dy_verdict_save(c, t.fd, "verdicts", rules_a, NULL), 0);
    dy_verdict_destroy(c);
    size_t len;
    uint8_t *whole = read_all(t.fd, "verdicts", &len);
    for (size_t cut = 0; cut <= len; cut++) {
        write_bytes(t.fd, "torn", whole, cut);
        c = cache(16);
        struct dy_verdict_load_report rep;
        int rc = dy_verdict_load(c, t.fd, "torn", rules_a, &rep);
        if (cut < DY_VERDICT_HEADER_BYTES) {
            assert_int_equal(rc, RP_ERR_PARSE);
            assert_int_equal(rep.loaded, 0);
            assert_non_null(strstr(rep.msg, "header torn"));
        } else {
            uint32_t whole_records =
                (uint32_t)((cut - DY_VERDICT_HEADER_BYTES) / DY_VERDICT_RECORD_BYTES);
            assert_int_equal(rc, 0);
            assert_int_equal(rep.loaded, whole_records);
            assert_int_equal(rep.torn, 3 - whole_records);
            assert_int_equal(dy_verdict_count(c), whole_records);
            /* The prefix: the records before the cut, in order (1, 2, 3). */
            struct dy_verdict got;
            for (uint64_t n = 1; n <= 3; n++)
                assert_int_equal(get(c, n, rules_a, &got) == 0, n <= whole_records);
            if (whole_records < 3)
                assert_non_null(strstr(rep.msg, "torn"));
        }
        dy_verdict_destroy(c);
    }
    free(whole);
    tmpdir_close(&t);
}

static void test_corrupt_record_skipped(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_open(&t);
    struct dy_verdict_cache *c = cache(16);
    fill_three(c);
    assert_int_equal(dy_verdict_save(c, t.fd, "verdicts", rules_a, NULL), 0);
    dy_verdict_destroy(c);
    size_t len;
    uint8_t *buf = read_all(t.fd, "verdicts", &len);
    /* One bit of the third record's rule name: its CRC no longer holds. */
    buf[DY_VERDICT_HEADER_BYTES + 2 * DY_VERDICT_RECORD_BYTES + 60] ^= 0x01;
    write_bytes(t.fd, "corrupt", buf, len);
    c = cache(16);
    struct dy_verdict_load_report rep;
    assert_int_equal(dy_verdict_load(c, t.fd, "corrupt", rules_a, &rep), 0);
    assert_int_equal(rep.loaded, 2);
    assert_int_equal(rep.corrupt, 1);
    assert_non_null(strstr(rep.msg, "1 corrupt"));
    struct dy_verdict got;
    assert_int_equal(get(c, 1, rules_a, &got), 0);
    assert_int_equal(get(c, 2, rules_a, &got), 0);
    assert_int_equal(get(c, 3, rules_a, &got), RP_ERR_NOTFOUND);
    dy_verdict_destroy(c);

    /* A count larger than the file: believed only as far as the size. */
    buf[DY_VERDICT_HEADER_BYTES + 2 * DY_VERDICT_RECORD_BYTES + 60] ^= 0x01;
    uint32_t huge = 0x7fffffffu;
    memcpy(buf + 48, &huge, 4); /* little-endian machines only, as the CI */
    uint32_t crc = dy_crc32c(0, buf, 60);
    memcpy(buf + 60, &crc, 4);
    write_bytes(t.fd, "count", buf, len);
    c = cache(16);
    assert_int_equal(dy_verdict_load(c, t.fd, "count", rules_a, &rep), 0);
    assert_int_equal(rep.loaded, 3);
    assert_int_equal(rep.torn, huge - 3);
    dy_verdict_destroy(c);

    /* A corrupt header loads nothing. */
    buf[20] ^= 0x80;
    write_bytes(t.fd, "header", buf, len);
    c = cache(16);
    assert_int_equal(dy_verdict_load(c, t.fd, "header", rules_a, &rep), RP_ERR_PARSE);
    assert_int_equal(dy_verdict_count(c), 0);
    dy_verdict_destroy(c);
    free(buf);
    tmpdir_close(&t);
}

static void test_planted_symlink_refused(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_open(&t);
    struct dy_verdict_cache *c = cache(16);
    fill_three(c);
    assert_int_equal(dy_verdict_save(c, t.fd, "real", rules_a, NULL), 0);
    /* A link to a valid file is not followed at load. */
    assert_int_equal(symlinkat("real", t.fd, "verdicts"), 0);
    struct dy_verdict_cache *fresh = cache(16);
    struct dy_verdict_load_report rep;
    assert_int_equal(dy_verdict_load(fresh, t.fd, "verdicts", rules_a, &rep), RP_ERR_PERM);
    assert_int_equal(dy_verdict_count(fresh), 0);
    /* Nor at save: links planted at the temporary and the final name are
     * replaced, their target left alone. */
    char victim[128];
    assert_non_null(tu_path(victim, sizeof victim, t.path, "victim"));
    assert_int_equal(tu_write(victim, "keep me\n"), 0);
    assert_int_equal(symlinkat(victim, t.fd, "out.tmp"), 0);
    assert_int_equal(symlinkat(victim, t.fd, "out"), 0);
    assert_int_equal(dy_verdict_save(c, t.fd, "out", rules_a, NULL), 0);
    char *text = tu_read(victim);
    assert_non_null(text);
    assert_string_equal(text, "keep me\n");
    free(text);
    struct stat st;
    assert_int_equal(fstatat(t.fd, "out", &st, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(st.st_mode));
    /* A file past the size cap is refused before a byte is read (sparse:
     * it costs no disk). */
    int big = openat(t.fd, "big", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    assert_true(big >= 0);
    assert_int_equal(ftruncate(big, (off_t)DY_VERDICT_FILE_MAX + 1), 0);
    close(big);
    assert_int_equal(dy_verdict_load(fresh, t.fd, "big", rules_a, &rep), RP_ERR_RANGE);
    /* A folder in its place is not a regular file. */
    assert_int_equal(mkdirat(t.fd, "dir", 0700), 0);
    assert_int_equal(dy_verdict_load(fresh, t.fd, "dir", rules_a, &rep), RP_ERR_PERM);
    dy_verdict_destroy(fresh);
    dy_verdict_destroy(c);
    tmpdir_close(&t);
}

static void test_privileged_other_owner_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        tu_skip("changing a file's owner needs root");
    struct tmpdir t;
    tmpdir_open(&t);
    struct dy_verdict_cache *c = cache(16);
    fill_three(c);
    assert_int_equal(dy_verdict_save(c, t.fd, "verdicts", rules_a, NULL), 0);
    assert_int_equal(fchownat(t.fd, "verdicts", 65534, 65534, AT_SYMLINK_NOFOLLOW), 0);
    struct dy_verdict_cache *fresh = cache(16);
    struct dy_verdict_load_report rep;
    assert_int_equal(dy_verdict_load(fresh, t.fd, "verdicts", rules_a, &rep), RP_ERR_PERM);
    assert_int_equal(dy_verdict_count(fresh), 0);
    assert_non_null(strstr(rep.msg, "not a regular file of user"));
    dy_verdict_destroy(fresh);
    dy_verdict_destroy(c);
    tmpdir_close(&t);
}

static void test_no_allocation_per_lookup(void **state)
{
    (void)state;
    struct dy_verdict_cache *c = cache(1024);
    struct dy_verdict v = bad("r", 1), got;
    for (uint64_t n = 0; n < 1024; n++)
        put_ok(c, n, rules_a, &v);
    counting_install();
    allocations = 0;
    counting = 1;
    unsigned hits = 0;
    for (uint64_t n = 0; n < 2048; n++)
        hits += get(c, n, rules_a, &got) == 0;
    counting = 0;
    assert_int_equal(allocations, 0);
    assert_int_equal(hits, 1024);
    dy_verdict_destroy(c);
}

/* ---- readers alongside the writer ---- */

#define READERS 3
#define KEYS    256

struct race {
    struct dy_verdict_cache *c;
    atomic_int stop;
    atomic_ulong hits, bad;
};

/* Every verdict the writer stores for key n names "rule-<n>" with n
 * matches, so a reader seeing anything else saw a torn entry. */
static void *reader(void *arg)
{
    struct race *r = arg;
    struct dy_verdict got;
    uint64_t n = 0;
    while (!atomic_load(&r->stop)) {
        n = (n * 7 + 3) % KEYS;
        if (get(r->c, n, rules_a, &got) != 0)
            continue;
        char want[32];
        snprintf(want, sizeof want, "rule-%llu", (unsigned long long)n);
        if (got.matches != n || strcmp(got.rule, want) != 0)
            atomic_fetch_add(&r->bad, 1);
        atomic_fetch_add(&r->hits, 1);
    }
    return NULL;
}

static void test_concurrent_readers_one_writer(void **state)
{
    (void)state;
    struct tmpdir t;
    tmpdir_open(&t);
    /* Fewer entries than keys, so the writer evicts all the time. */
    struct race r = {.c = cache(KEYS / 2)};
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, reader, &r), 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t i = 0; i < 20000; i++) {
        uint64_t n = (i * 13) % KEYS;
        struct dy_verdict v;
        char name[32];
        snprintf(name, sizeof name, "rule-%llu", (unsigned long long)n);
        v = bad(name, (uint32_t)n);
        put_ok(r.c, n, rules_a, &v);
        if (i % 5000 == 0)
            assert_int_equal(dy_verdict_save(r.c, t.fd, "verdicts", rules_a, NULL), 0);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= 10)
            break; /* bounded under TSan on a busy machine */
    }
    atomic_store(&r.stop, 1);
    for (int i = 0; i < READERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.bad), 0);
    struct dy_verdict_stats s;
    dy_verdict_stats(r.c, &s);
    assert_true(s.evictions > 0);
    assert_int_equal(s.hits, atomic_load(&r.hits));
    dy_verdict_destroy(r.c);
    tmpdir_close(&t);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        cmocka_unit_test(test_hit),
        cmocka_unit_test(test_miss_on_each_key_member),
        cmocka_unit_test(test_rules_hash_change),
        cmocka_unit_test(test_lru_eviction_at_cap),
        cmocka_unit_test(test_changed_during_scan_refused),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_torn_file_loads_prefix),
        cmocka_unit_test(test_corrupt_record_skipped),
        cmocka_unit_test(test_planted_symlink_refused),
        cmocka_unit_test(test_privileged_other_owner_refused),
        cmocka_unit_test(test_no_allocation_per_lookup),
        cmocka_unit_test(test_concurrent_readers_one_writer),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
