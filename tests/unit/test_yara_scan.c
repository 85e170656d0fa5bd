/*
 * tests/unit/test_yara_scan.c - detector_yara's scanner
 * (plugins/detector_yara/scan.c) on real libyara, real rule files loaded
 * with dy_rules_load from a temporary folder, and real files: clean and
 * malicious files (the rule's tags and meta, the strings that matched, the
 * SHA-256 against sha256sum's), the verdict cache (a second scan is a hit,
 * a rewritten file is scanned again, a file scanned within its ctime's
 * clock tick is not stored), each limit (size cap, per-user budget and its
 * bounded table, timeout, libyara's match limit), files that are not
 * regular, a rule set swapped while a result of the old one is still read,
 * a file changed during the scan (retried, or answered "changing"), the
 * verdicts saved and loaded through the scanner.
 *
 * test_privileged_pid scans the memory of child processes (libyara reads
 * /proc/PID/mem): it needs root and skips otherwise (ctest's skip code).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "scan.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <yara.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A rule with tags, meta and two strings. */
#define MARK1 "RAMPART-SCAN-MARKER-ONE"
#define MARK2 "RAMPART-SCAN-MARKER-TWO"
static const char rule_marker[] = "rule marker_rule : tag_one tag_two\n"
                                  "{\n"
                                  "    meta:\n"
                                  "        author = \"rampart tests\"\n"
                                  "        severity = 7\n"
                                  "    strings:\n"
                                  "        $a = \"" MARK1 "\"\n"
                                  "        $b = \"" MARK2 "\"\n"
                                  "    condition:\n"
                                  "        any of them\n"
                                  "}\n";

struct fx {
    char root[128];
    unsigned n_sets;
    struct dy_scanner *s;
    struct dy_scan_thread *t;
    struct dy_ruleset *rs;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(tu_mkdtemp("yarascan", fx->root, sizeof(fx->root)), 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    dy_scan_thread_destroy(fx->t);
    dy_ruleset_unref(fx->rs);
    dy_scanner_destroy(fx->s);
    tu_rm_rf(fx->root);
    free(fx);
    return 0;
}

/* Loads text as the only rule file of a new folder into a new set. */
static struct dy_ruleset *load(struct fx *fx, const char *text)
{
    char dir[256], file[300], err[256] = "";
    snprintf(dir, sizeof(dir), "%s/rules%u", fx->root, fx->n_sets++);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(file, sizeof(file), "%s/test.yar", dir);
    assert_int_equal(tu_write(file, text), 0);
    const char *dirs[] = {dir};
    struct dy_load_opts lo = {.dirs = dirs, .n_dirs = 1, .cache_dirfd = -1};
    struct dy_rules *rules = NULL;
    struct dy_load_stats st;
    assert_int_equal(dy_rules_load(&lo, NULL, NULL, &rules, &st, err, sizeof(err)), 0);
    assert_int_equal(st.failed, 0);
    assert_true(st.compiled == 1);
    struct dy_ruleset *rs = NULL;
    assert_int_equal(dy_ruleset_create(rules, &rs), 0);
    return rs;
}

/* The scanner with opts (NULL: defaults), a thread and the set of text. */
static void start(struct fx *fx, const struct dy_scan_opts *opts, const char *text)
{
    assert_int_equal(dy_scanner_create(opts, &fx->s), 0);
    assert_int_equal(dy_scan_thread_create(fx->s, &fx->t), 0);
    fx->rs = load(fx, text);
}

/* Waits until the kernel's coarse clock, which stamps file changes, has
 * passed the file's ctime: only then may a verdict be stored (scan.c). */
static void settle(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    int64_t ct = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
    for (int i = 0; i < 1000; i++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        if ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec > ct)
            return;
        usleep(1000);
    }
    fail_msg("the coarse clock did not pass %s's ctime in 1 s", path);
}

/* Writes len bytes of c, then text (may be NULL), to name under the
 * test's folder; the path goes to path. */
static void make_file(struct fx *fx, const char *name, size_t len, char c, const char *text,
                      char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", fx->root, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (size_t i = 0; i < len; i++)
        fputc(c, f);
    if (text)
        fputs(text, f);
    assert_int_equal(fclose(f), 0);
    settle(path);
}

static int scan_path(struct fx *fx, const struct dy_ruleset *rs, const char *path, uint32_t uid,
                     uint32_t flags, struct dy_scan_result *res)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    int rc = dy_scan_fd(fx->t, rs, fd, uid, flags, res);
    close(fd);
    return rc;
}

static void stats(struct fx *fx, struct dy_scan_stats *st)
{
    dy_scanner_stats(fx->s, st);
}

static void test_clean(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char p[256];
    make_file(fx, "clean.txt", 5000, 'x', "RAMPART-SCAN-MARKER-THREE\n", p, sizeof(p));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    assert_string_equal(dy_scan_outcome_name(r.outcome), "clean");
    assert_false(r.from_cache);
    assert_false(r.has_sha256);
    assert_int_equal(r.bytes, 5026);
    assert_int_equal(r.id.size, 5026);
    assert_int_equal(r.n_rules, 0);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.scans, 1);
    assert_int_equal(st.scanned, 1);
    assert_int_equal(st.bytes, 5026);
    assert_int_equal(st.outcome[DY_SCAN_CLEAN], 1);
}

/* The SHA-256 sha256sum prints for path, into hex. */
static void sha256sum(const char *path, char hex[65])
{
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(hex, 65, p));
    pclose(p);
    assert_int_equal(strlen(hex), 64);
}

static void test_malicious(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char p[256], q[256];
    make_file(fx, "one.bin", 3000, '\x01', "xx" MARK1 "yy", p, sizeof(p));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_false(r.from_cache);
    assert_int_equal(r.n_rules, 1);
    assert_int_equal(r.n_matches, 1);
    assert_int_equal(r.matches_dropped, 0);
    const YR_RULE *rule = r.matches[0].rule;
    assert_string_equal(rule->identifier, "marker_rule");
    assert_int_equal(r.matches[0].strings_matched, 1);
    const char *tag;
    char tags[128] = "";
    yr_rule_tags_foreach(rule, tag)
    {
        strncat(tags, tag, sizeof(tags) - strlen(tags) - 2);
        strncat(tags, ",", sizeof(tags) - strlen(tags) - 1);
    }
    assert_string_equal(tags, "tag_one,tag_two,");
    const YR_META *meta;
    int metas = 0;
    yr_rule_metas_foreach(rule, meta)
    {
        if (strcmp(meta->identifier, "author") == 0)
            assert_string_equal(meta->string, "rampart tests"), metas++;
        if (strcmp(meta->identifier, "severity") == 0)
            assert_int_equal(meta->integer, 7), metas++;
    }
    assert_int_equal(metas, 2);
    assert_true(r.has_sha256);
    char want[65], got[65];
    sha256sum(p, want);
    for (int i = 0; i < 32; i++)
        snprintf(got + 2 * i, 3, "%02x", r.sha256[i]);
    assert_string_equal(got, want);

    /* Both strings: two strings matched. */
    make_file(fx, "two.bin", 10, 'z', MARK2 "--" MARK1, q, sizeof(q));
    assert_int_equal(scan_path(fx, fx->rs, q, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_int_equal(r.matches[0].strings_matched, 2);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.outcome[DY_SCAN_MALICIOUS], 2);

    /* The same hash from the descriptor (for a verdict from the cache). */
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    uint8_t h[32];
    assert_int_equal(dy_scan_sha256_fd(fd, h), 0);
    close(fd);
    for (int i = 0; i < 32; i++)
        snprintf(got + 2 * i, 3, "%02x", h[i]);
    assert_string_equal(got, want);
}

static void test_cache_hit(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char clean[256], bad[256];
    make_file(fx, "clean", 100000, 'c', NULL, clean, sizeof(clean));
    make_file(fx, "bad", 100, 'b', MARK1, bad, sizeof(bad));
    struct dy_scan_result r;
    struct stat st;
    assert_int_equal(stat(clean, &st), 0);
    assert_int_equal(dy_scan_stat(fx->s, fx->rs, &st, &r), RP_ERR_NOTFOUND);
    assert_int_equal(scan_path(fx, fx->rs, clean, 1000, 0, &r), 0);
    assert_false(r.from_cache);
    assert_int_equal(scan_path(fx, fx->rs, bad, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);

    assert_int_equal(scan_path(fx, fx->rs, clean, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    assert_true(r.from_cache);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(scan_path(fx, fx->rs, bad, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_true(r.from_cache);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(r.n_rules, 1);
    assert_int_equal(r.n_matches, 0);
    assert_false(r.has_sha256);
    assert_string_equal(r.cached_rule, "marker_rule");

    /* From a stat alone. */
    assert_int_equal(dy_scan_stat(fx->s, fx->rs, &st, &r), 0);
    assert_true(r.from_cache);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    struct stat dst;
    assert_int_equal(stat(fx->root, &dst), 0);
    assert_int_equal(dy_scan_stat(fx->s, fx->rs, &dst, &r), RP_ERR_NOTFOUND);

    struct dy_scan_stats s;
    stats(fx, &s);
    assert_int_equal(s.scans, 5);
    assert_int_equal(s.scanned, 2);
    assert_int_equal(s.cache_hits, 3);
    assert_int_equal(s.bytes, 100000 + 100 + strlen(MARK1));

    /* DY_SCAN_NO_CACHE reads it again. */
    assert_int_equal(scan_path(fx, fx->rs, clean, 1000, DY_SCAN_NO_CACHE, &r), 0);
    assert_false(r.from_cache);
    assert_int_equal(r.bytes, 100000);

    /* Another rule set does not get this set's verdicts. */
    struct dy_ruleset *other = load(fx, "rule other_rule { condition: false }\n");
    assert_int_equal(scan_path(fx, other, clean, 1000, 0, &r), 0);
    assert_false(r.from_cache);
    dy_ruleset_unref(other);
}

static void test_rewritten_is_scanned_again(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char p[256];
    /* The same size before and after: only the times tell. */
    make_file(fx, "f", strlen(MARK1), 'A', NULL, p, sizeof(p));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_true(r.from_cache);
    struct dy_file_id first = r.id;
    make_file(fx, "f", 0, 0, MARK1, p, sizeof(p));
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_false(r.from_cache);
    assert_int_equal(r.id.ino, first.ino);
    assert_int_equal(r.id.size, first.size);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.scanned, 2);
}

/* A file scanned while the coarse clock has not passed its ctime is
 * answered but not stored: a change within that tick would keep its
 * identity. */
static void test_racy_file_not_stored(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char p[256];
    snprintf(p, sizeof(p), "%s/racy", fx->root);
    int seen = 0;
    for (int i = 0; i < 100 && !seen; i++) {
        assert_int_equal(tu_write(p, "racy content"), 0);
        struct dy_scan_result r;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        uint32_t before = dy_verdict_count(dy_scanner_verdicts(fx->s));
        assert_int_equal(dy_scan_fd(fx->t, fx->rs, fd, 1000, 0, &r), 0);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME_COARSE, &ts);
        close(fd);
        assert_int_equal(r.outcome, DY_SCAN_CLEAN);
        if ((int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec >
            (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec)
            continue; /* the tick passed during the scan: not racy */
        seen = 1;
        assert_int_equal(dy_verdict_count(dy_scanner_verdicts(fx->s)), before);
    }
    assert_true(seen);
    /* Once settled, it is stored. */
    settle(p);
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_true(r.from_cache);
}

static void test_too_large(void **state)
{
    struct fx *fx = *state;
    struct dy_scan_opts o = {.max_file_bytes = 4096};
    start(fx, &o, rule_marker);
    char big[256], fits[256];
    make_file(fx, "big", 4097 - strlen(MARK1), 'q', MARK1, big, sizeof(big));
    make_file(fx, "fits", 4096 - strlen(MARK1), 'q', MARK1, fits, sizeof(fits));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, big, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_TOO_LARGE);
    assert_int_equal(r.bytes, 0);
    assert_int_equal(scan_path(fx, fx->rs, fits, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.outcome[DY_SCAN_TOO_LARGE], 1);
    assert_int_equal(st.scanned, 1);
    /* Not stored: asked again, still too large, still counted. */
    assert_int_equal(scan_path(fx, fx->rs, big, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_TOO_LARGE);
    stats(fx, &st);
    assert_int_equal(st.outcome[DY_SCAN_TOO_LARGE], 2);
    /* Out of range options. */
    struct dy_scanner *s = NULL;
    struct dy_scan_opts bad = {.max_file_bytes = 2ull << 30};
    assert_int_equal(dy_scanner_create(&bad, &s), RP_ERR_RANGE);
    assert_null(s);
}

static void test_budget_per_uid(void **state)
{
    struct fx *fx = *state;
    struct dy_scan_opts o = {.user_bytes_per_min = 100000};
    start(fx, &o, rule_marker);
    char a[256], b[256], c[256], d[256], e[256];
    make_file(fx, "a", 60000, 'a', NULL, a, sizeof(a));
    make_file(fx, "b", 60000, 'b', NULL, b, sizeof(b));
    make_file(fx, "c", 60000, 'c', NULL, c, sizeof(c));
    make_file(fx, "d", 30000, 'd', NULL, d, sizeof(d));
    make_file(fx, "e", 60000, 'e', NULL, e, sizeof(e));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, a, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    /* 40000 left for uid 1000 (a minute refills 100000: milliseconds here
     * add a few bytes). */
    assert_int_equal(scan_path(fx, fx->rs, b, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_BUDGET);
    assert_string_equal(dy_scan_outcome_name(r.outcome), "budget");
    assert_int_equal(r.bytes, 0);
    /* Another user has a budget of its own. */
    assert_int_equal(scan_path(fx, fx->rs, b, 1001, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    /* An on-demand scan is neither refused nor charged... */
    assert_int_equal(scan_path(fx, fx->rs, c, 1000, DY_SCAN_NO_BUDGET, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    /* ...so uid 1000 still has its 40000. */
    assert_int_equal(scan_path(fx, fx->rs, d, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    assert_int_equal(scan_path(fx, fx->rs, e, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_BUDGET);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.outcome[DY_SCAN_BUDGET], 2);
    assert_int_equal(st.budget_users, 2);
    assert_int_equal(st.scanned, 4);
}

/* At most DY_BUDGET_USERS users are tracked; the least recently charged is
 * forgotten (and so starts again with a full budget). */
static void test_budget_table_bounded(void **state)
{
    struct fx *fx = *state;
    struct dy_scan_opts o = {.user_bytes_per_min = 100000};
    start(fx, &o, rule_marker);
    char big[256], small[256];
    make_file(fx, "big", 60000, 'a', NULL, big, sizeof(big));
    make_file(fx, "small", 1, 'a', NULL, small, sizeof(small));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, big, 5, DY_SCAN_NO_CACHE, &r), 0);
    assert_int_equal(scan_path(fx, fx->rs, big, 5, DY_SCAN_NO_CACHE, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_BUDGET);
    for (uint32_t uid = 100; uid < 100 + DY_BUDGET_USERS - 1; uid++) {
        assert_int_equal(scan_path(fx, fx->rs, small, uid, DY_SCAN_NO_CACHE, &r), 0);
        assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    }
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.budget_users, DY_BUDGET_USERS);
    /* Still tracked: still refused, and now the most recent. */
    assert_int_equal(scan_path(fx, fx->rs, big, 5, DY_SCAN_NO_CACHE, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_BUDGET);
    /* One more user pushes out the least recent (uid 100), not uid 5. */
    assert_int_equal(scan_path(fx, fx->rs, small, 5000, DY_SCAN_NO_CACHE, &r), 0);
    assert_int_equal(scan_path(fx, fx->rs, big, 5, DY_SCAN_NO_CACHE, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_BUDGET);
    /* DY_BUDGET_USERS newer users push uid 5 out too. */
    for (uint32_t uid = 5001; uid < 5001 + DY_BUDGET_USERS; uid++)
        assert_int_equal(scan_path(fx, fx->rs, small, uid, DY_SCAN_NO_CACHE, &r), 0);
    stats(fx, &st);
    assert_int_equal(st.budget_users, DY_BUDGET_USERS);
    /* Forgotten, it starts again with a full budget. */
    assert_int_equal(scan_path(fx, fx->rs, big, 5, DY_SCAN_NO_CACHE, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
}

static void test_timeout(void **state)
{
    struct fx *fx = *state;
    struct dy_scan_opts o = {.timeout_s = 1};
    /* About 10^10 loop iterations over 1 MiB: hours without the timeout. */
    start(fx, &o,
          "rule slow_rule {\n"
          "  condition:\n"
          "    for any i in (0..filesize) : (\n"
          "      for any j in (0..10000) : (uint8(i + j) == 0x41 and uint8(i) == 0x42))\n"
          "}\n");
    char p[256];
    make_file(fx, "slow", 1u << 20, 'z', NULL, p, sizeof(p));
    struct dy_scan_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_int_equal(r.outcome, DY_SCAN_TIMEOUT);
    assert_true(s >= 0.9 && s < 10);
    /* Stored as an error verdict: not scanned again in a loop. */
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_TIMEOUT);
    assert_true(r.from_cache);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.outcome[DY_SCAN_TIMEOUT], 2);
    assert_int_equal(st.scanned, 1);
}

static void test_match_limit(void **state)
{
    struct fx *fx = *state;
    /* One byte of match data per match keeps libyara's million matches
     * small. */
    struct dy_scan_opts o = {.max_match_data = 1};
    start(fx, &o, "rule every_position { strings: $a = \"AAAA\" condition: $a }\n");
    char p[256], q[256];
    make_file(fx, "many", 1100000, 'A', NULL, p, sizeof(p));
    make_file(fx, "few", 1000, 'A', NULL, q, sizeof(q));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, q, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_false(r.match_limit);
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    /* The scan went on: the rule still matched. */
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_true(r.match_limit);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.match_limit, 1);
}

static void test_not_regular(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(write(pfd[1], MARK1, strlen(MARK1)), (ssize_t)strlen(MARK1));
    struct dy_scan_result r;
    assert_int_equal(dy_scan_fd(fx->t, fx->rs, pfd[0], 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_NOT_REGULAR);
    close(pfd[0]);
    close(pfd[1]);
    int dfd = open(fx->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    assert_int_equal(dy_scan_fd(fx->t, fx->rs, dfd, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_NOT_REGULAR);
    close(dfd);
    assert_int_equal(dy_scan_fd(fx->t, fx->rs, -1, 1000, 0, &r), RP_ERR_INVAL);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.outcome[DY_SCAN_NOT_REGULAR], 2);
    assert_int_equal(st.scanned, 0);
}

/* A reload swaps the current set: a result of the old set stays readable
 * while its holder keeps a reference, the thread moves to the new set, and
 * the old set is freed at its last unref (ASan, which CI runs on unit
 * tests, reports a read after free or a leak). */
static void test_ruleset_swap(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, "rule alpha_rule { strings: $a = \"" MARK1 "\" condition: $a }\n");
    char p[256];
    make_file(fx, "f", 10, 'x', MARK1 MARK2, p, sizeof(p));
    /* The caller's reference for its scan, as the plugin takes it. */
    struct dy_ruleset *old = dy_ruleset_ref(fx->rs);
    uint64_t old_serial = dy_ruleset_serial(old);
    struct dy_scan_result ra, rb;
    assert_int_equal(scan_path(fx, old, p, 1000, 0, &ra), 0);
    assert_int_equal(ra.outcome, DY_SCAN_MALICIOUS);
    /* The swap: the plugin's current set becomes the new one. */
    struct dy_ruleset *cur =
        load(fx, "rule beta_rule { strings: $b = \"" MARK2 "\" condition: $b }\n");
    assert_true(dy_ruleset_serial(cur) != old_serial);
    dy_ruleset_unref(fx->rs);
    fx->rs = cur;
    assert_int_equal(scan_path(fx, cur, p, 1000, 0, &rb), 0);
    assert_int_equal(rb.outcome, DY_SCAN_MALICIOUS);
    assert_false(rb.from_cache);
    assert_string_equal(rb.matches[0].rule->identifier, "beta_rule");
    /* The old result still reads its rule: the caller's reference holds it. */
    assert_string_equal(ra.matches[0].rule->identifier, "alpha_rule");
    assert_string_equal(dy_rules_yara(dy_ruleset_rules(old))->rules_table[0].identifier,
                        "alpha_rule");
    dy_ruleset_unref(old); /* the last reference: freed here */
    /* And the thread goes back and forth without trouble. */
    assert_int_equal(scan_path(fx, cur, p, 1000, DY_SCAN_NO_CACHE, &rb), 0);
    assert_string_equal(rb.matches[0].rule->identifier, "beta_rule");
}

/* The test hook changes the file after the first `changes` tries. */
struct change {
    uint32_t changes, calls;
};

static void change_hook(void *ctx, int fd, uint32_t attempt)
{
    struct change *c = ctx;
    c->calls++;
    if (attempt < c->changes) {
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        assert_true(w >= 0);
        assert_int_equal(write(w, "+", 1), 1);
        close(w);
    }
}

static void test_changed_during_scan(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char p[256];
    make_file(fx, "grows", 2000, 'g', NULL, p, sizeof(p));
    struct change ch = {.changes = 1};
    dy_scan_thread_set_hook(fx->t, change_hook, &ch);
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    assert_int_equal(ch.calls, 2);
    assert_int_equal(r.id.size, 2001);
    assert_int_equal(r.bytes, 2001);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.retries, 1);
    assert_int_equal(st.scanned, 2);
    struct dy_verdict_stats vs;
    dy_verdict_stats(dy_scanner_verdicts(fx->s), &vs);
    assert_int_equal(vs.refused, 1);

    /* Changing on every try: "changing", not stored. */
    ch = (struct change){.changes = 100};
    make_file(fx, "always", 2000, 'g', NULL, p, sizeof(p));
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CHANGING);
    assert_string_equal(dy_scan_outcome_name(r.outcome), "changing");
    assert_int_equal(ch.calls, 1 + DY_SCAN_RETRIES);
    stats(fx, &st);
    assert_int_equal(st.retries, 1 + DY_SCAN_RETRIES);
    assert_int_equal(st.outcome[DY_SCAN_CHANGING], 1);
    dy_scan_thread_set_hook(fx->t, NULL, NULL);
    settle(p);
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_false(r.from_cache);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);

    /* A match is answered at once, however the file moves after. */
    ch = (struct change){.changes = 100};
    dy_scan_thread_set_hook(fx->t, change_hook, &ch);
    make_file(fx, "bad", 10, 'g', MARK1, p, sizeof(p));
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_int_equal(ch.calls, 1);
    assert_true(r.has_sha256);
    dy_scan_thread_set_hook(fx->t, NULL, NULL);
    settle(p);
    assert_int_equal(scan_path(fx, fx->rs, p, 1000, 0, &r), 0);
    assert_false(r.from_cache);
}

static void test_verdicts_save_load(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char bad[256], clean[256], dir[200];
    make_file(fx, "bad", 10, 'x', MARK2, bad, sizeof(bad));
    make_file(fx, "clean", 10, 'x', NULL, clean, sizeof(clean));
    struct dy_scan_result r;
    assert_int_equal(scan_path(fx, fx->rs, bad, 1000, 0, &r), 0);
    assert_int_equal(scan_path(fx, fx->rs, clean, 1000, 0, &r), 0);
    snprintf(dir, sizeof(dir), "%s/state", fx->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    uint32_t saved = 0;
    assert_int_equal(dy_scanner_verdicts_save(fx->s, dfd, "verdicts", fx->rs, &saved), 0);
    assert_int_equal(saved, 2);

    /* A restart: a new scanner loads them and answers without reading. */
    struct dy_scanner *s2 = NULL;
    struct dy_scan_thread *t2 = NULL;
    assert_int_equal(dy_scanner_create(NULL, &s2), 0);
    assert_int_equal(dy_scan_thread_create(s2, &t2), 0);
    struct dy_verdict_load_report rep;
    assert_int_equal(dy_scanner_verdicts_load(s2, dfd, "verdicts", fx->rs, &rep), 0);
    assert_int_equal(rep.loaded, 2);
    int fd = open(bad, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(dy_scan_fd(t2, fx->rs, fd, 1000, 0, &r), 0);
    close(fd);
    assert_true(r.from_cache);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_string_equal(r.cached_rule, "marker_rule");
    struct dy_scan_stats st;
    dy_scanner_stats(s2, &st);
    assert_int_equal(st.scanned, 0);
    assert_int_equal(st.cache_hits, 1);
    dy_scan_thread_destroy(t2);
    dy_scanner_destroy(s2);
    close(dfd);
}

/* Several threads, each with its own dy_scan_thread, share one scanner:
 * every answer right, every call counted once, puts serialised (TSan, which
 * CI runs on unit tests, checks the scanner's own state). */
#define THREADS      4
#define THREAD_SCANS 200
#define THREAD_FILES 8

struct worker {
    struct fx *fx;
    char (*paths)[256];
    int wrong;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct dy_scan_thread *t = NULL;
    if (dy_scan_thread_create(w->fx->s, &t) != 0) {
        w->wrong++;
        return NULL;
    }
    for (int i = 0; i < THREAD_SCANS; i++) {
        int k = i % THREAD_FILES;
        int fd = open(w->paths[k], O_RDONLY | O_CLOEXEC);
        struct dy_scan_result r;
        if (fd < 0 || dy_scan_fd(t, w->fx->rs, fd, 1000 + (uint32_t)k, 0, &r) != 0)
            w->wrong++;
        else if (r.outcome != (k % 2 ? DY_SCAN_MALICIOUS : DY_SCAN_CLEAN))
            w->wrong++;
        if (fd >= 0)
            close(fd);
    }
    dy_scan_thread_destroy(t);
    return NULL;
}

static void test_threads_share_scanner(void **state)
{
    struct fx *fx = *state;
    start(fx, NULL, rule_marker);
    char paths[THREAD_FILES][256];
    for (int k = 0; k < THREAD_FILES; k++) {
        char name[32];
        snprintf(name, sizeof(name), "f%d", k);
        make_file(fx, name, 1000u * (unsigned)(k + 1), 'x', k % 2 ? MARK2 : NULL, paths[k],
                  sizeof(paths[k]));
    }
    struct worker w[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct worker){.fx = fx, .paths = paths};
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].wrong, 0);
    }
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.scans, THREADS * THREAD_SCANS);
    assert_int_equal(st.scanned + st.cache_hits, THREADS * THREAD_SCANS);
    /* Each file is read at least once, and at most once per thread (two
     * threads may miss the cache for the same file at the same time). */
    assert_true(st.scanned >= THREAD_FILES && st.scanned <= THREADS * THREAD_FILES);
    assert_int_equal(st.outcome[DY_SCAN_MALICIOUS] + st.outcome[DY_SCAN_CLEAN],
                     THREADS * THREAD_SCANS);
    assert_int_equal(st.budget_users, THREAD_FILES);
    assert_int_equal(dy_verdict_count(dy_scanner_verdicts(fx->s)), THREAD_FILES);
}

/* ---- process memory (root) ---- */

/* A child running sleep with env in its environment (on its stack); the
 * marker is never in the test's own image or the child's. */
static pid_t spawn_sleeper(const char *env)
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char *argv[] = {"sleep", "30", NULL};
        char *envp[] = {(char *)env, NULL};
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    close(p[1]);
    char c;
    /* EOF once the child has exec'd (the pipe is close-on-exec). */
    assert_int_equal(read(p[0], &c, 1), 0);
    close(p[0]);
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_privileged_pid(void **state)
{
    struct fx *fx = *state;
    if (geteuid() != 0)
        tu_skip("dy_scan_pid reads /proc/PID/mem of another process: needs root");
    /* The marker is XOR-coded here and in the rule (a hex string), so only
     * the child's environment holds its bytes. */
    static const uint8_t coded[] = {0x18, 0x0b, 0x07, 0x1a, 0x0b, 0x18, 0x1e, 0x67,
                                    0x1a, 0x18, 0x05, 0x09, 0x67, 0x6d, 0x6d, 0x6c};
    char env[64] = "RP_TEST_MARKER=";
    size_t n = strlen(env);
    char hexs[3 * sizeof(coded) + 1] = "";
    for (size_t i = 0; i < sizeof(coded); i++) {
        env[n + i] = (char)(coded[i] ^ 0x4a);
        snprintf(hexs + 3 * i, 4, "%02X ", (unsigned)(coded[i] ^ 0x4a));
    }
    env[n + sizeof(coded)] = '\0';
    pid_t with = spawn_sleeper(env);
    pid_t without = spawn_sleeper("RP_TEST_MARKER=nothing");
    struct dy_scan_opts o = {.user_bytes_per_min = 1000};
    char rule[256];
    snprintf(rule, sizeof(rule), "rule proc_marker { strings: $m = { %s} condition: $m }\n", hexs);
    start(fx, &o, rule);
    struct dy_scan_result r;
    assert_int_equal(dy_scan_pid(fx->t, fx->rs, with, 1000, DY_SCAN_NO_BUDGET, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_string_equal(r.matches[0].rule->identifier, "proc_marker");
    assert_true(r.bytes > 0);
    assert_false(r.from_cache);
    assert_int_equal(r.id.size, 0);
    assert_int_equal(dy_scan_pid(fx->t, fx->rs, without, 1000, DY_SCAN_NO_BUDGET, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    /* Budgeted: the first scan runs (its size is unknown before), the
     * megabytes it read put uid 1000 past its 1000 bytes a minute. */
    assert_int_equal(dy_scan_pid(fx->t, fx->rs, with, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_MALICIOUS);
    assert_int_equal(dy_scan_pid(fx->t, fx->rs, with, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_BUDGET);
    /* Memory scans spend a budget of their own: uid 1000's file scans still
     * have theirs (a 900-byte file fits in 1000 bytes a minute). */
    char small[256];
    make_file(fx, "small", 900, 's', NULL, small, sizeof(small));
    assert_int_equal(scan_path(fx, fx->rs, small, 1000, 0, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_CLEAN);
    reap(with);
    reap(without);
    /* A process that is gone. */
    assert_int_equal(dy_scan_pid(fx->t, fx->rs, without, 1000, DY_SCAN_NO_BUDGET, &r), 0);
    assert_int_equal(r.outcome, DY_SCAN_ERROR);
    struct dy_scan_stats st;
    stats(fx, &st);
    assert_int_equal(st.cache_hits, 0);
    assert_int_equal(st.outcome[DY_SCAN_BUDGET], 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_clean, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malicious, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rewritten_is_scanned_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_racy_file_not_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_per_uid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget_table_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_match_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_regular, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ruleset_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changed_during_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verdicts_save_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_threads_share_scanner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_privileged_pid, setup, teardown),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
