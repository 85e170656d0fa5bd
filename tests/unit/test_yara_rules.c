/*
 * tests/unit/test_yara_rules.c - detector_yara's rule loader and compiled
 * cache (plugins/detector_yara/rules.c) on real libyara and real files:
 * good rules, a syntax error (file, line, message) next to files that still
 * load, the slow-string warning, the size cap, a symbolic link and an
 * include refused, a rule name defined by two files; the cache: a hit on
 * restart compiles nothing, a change to any file misses, a torn cache file
 * and one planted as a symbolic link are ignored and written again.
 *
 * test_corpus_load compiles every rule of the YARA corpus (RP_YARA_CORPUS,
 * Elastic's public rules, test data outside the project) and prints the
 * compile report; it skips when the corpus is absent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <yara.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef RP_YARA_CORPUS
#define RP_YARA_CORPUS "/work/shared/corpus/yara"
#endif

#define REPS_MAX 64

struct rep {
    char relpath[256];
    enum dy_status status;
    enum dy_reason reason;
    uint32_t line, rules, n_warnings;
    char msg[DY_MSG_MAX];
    char warn_rule[DY_RULE_NAME_MAX], warn_msg[DY_MSG_MAX];
};

struct reps {
    struct rep r[REPS_MAX];
    size_t n;
};

static void collect(void *ctx, const struct dy_file_report *rep)
{
    struct reps *c = ctx;
    assert_true(c->n < REPS_MAX);
    struct rep *r = &c->r[c->n++];
    snprintf(r->relpath, sizeof(r->relpath), "%s", rep->relpath);
    r->status = rep->status;
    r->reason = rep->reason;
    r->line = rep->line;
    r->rules = rep->rules;
    r->n_warnings = rep->n_warnings;
    snprintf(r->msg, sizeof(r->msg), "%s", rep->msg);
    if (rep->n_warnings) {
        snprintf(r->warn_rule, sizeof(r->warn_rule), "%s", rep->warnings[0].rule);
        snprintf(r->warn_msg, sizeof(r->warn_msg), "%s", rep->warnings[0].msg);
    }
}

static const struct rep *find(const struct reps *c, const char *relpath)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->r[i].relpath, relpath) == 0)
            return &c->r[i];
    fail_msg("no report for %s", relpath);
    return NULL;
}

struct fx {
    char root[128];  /* the test's folder */
    char rules[160]; /* root/rules */
    char cache[160]; /* root/cache */
    int cache_fd;
};

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(tu_mkdtemp("yararules", fx->root, sizeof(fx->root)), 0);
    snprintf(fx->rules, sizeof(fx->rules), "%s/rules", fx->root);
    snprintf(fx->cache, sizeof(fx->cache), "%s/cache", fx->root);
    assert_int_equal(mkdir(fx->rules, 0700), 0);
    assert_int_equal(mkdir(fx->cache, 0700), 0);
    fx->cache_fd = open(fx->cache, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(fx->cache_fd >= 0);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    close(fx->cache_fd);
    tu_rm_rf(fx->root);
    free(fx);
    return 0;
}

static void put(const struct fx *fx, const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", fx->rules, rel);
    assert_int_equal(tu_write(p, text), 0);
}

/* Loads fx->rules (with the cache when cached) into *out; returns rc. */
static int load(const struct fx *fx, bool cached, struct reps *reps, struct dy_load_stats *st,
                struct dy_rules **out)
{
    const char *dirs[] = {fx->rules};
    struct dy_load_opts o = {.dirs = dirs, .n_dirs = 1, .cache_dirfd = cached ? fx->cache_fd : -1};
    char err[256];
    memset(reps, 0, sizeof(*reps));
    int rc = dy_rules_load(&o, collect, reps, out, st, err, sizeof(err));
    if (rc != 0)
        print_message("dy_rules_load: %d %s\n", rc, err);
    return rc;
}

static int on_match(YR_SCAN_CONTEXT *c, int message, void *data, void *user)
{
    (void)c;
    if (message == CALLBACK_MSG_RULE_MATCHING) {
        const YR_RULE *r = data;
        char *names = user;
        size_t len = strlen(names);
        snprintf(names + len, 256 - len, "%s%s", len ? "," : "", r->identifier);
    }
    return CALLBACK_CONTINUE;
}

/* The names of the rules of r matching text, joined by ",". */
static void matching(struct dy_rules *r, const char *text, char names[256])
{
    names[0] = '\0';
    assert_int_equal(yr_rules_scan_mem(dy_rules_yara(r), (const uint8_t *)text, strlen(text), 0,
                                       on_match, names, 0),
                     ERROR_SUCCESS);
}

static const char good_a[] = "rule alpha { strings: $s = \"alpha-marker\" condition: $s }\n";
static const char good_b[] =
    "rule beta : tag1 { meta: author = \"t\" strings: $s = \"beta-marker\" "
    "condition: $s }\nrule gamma { condition: filesize == 3 }\n";

static void test_good_rules(void **state)
{
    struct fx *fx = *state;
    put(fx, "b.yara", good_b);
    char sub[256];
    snprintf(sub, sizeof(sub), "%s/sub", fx->rules);
    assert_int_equal(mkdir(sub, 0700), 0);
    put(fx, "sub/a.yar", good_a);
    put(fx, "notes.txt", "rule not_loaded { condition: true }\n");
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, false, &reps, &st, &r), 0);
    /* Name order, subfolders in place; other names are not rule files. */
    assert_int_equal(reps.n, 2);
    assert_string_equal(reps.r[0].relpath, "b.yara");
    assert_string_equal(reps.r[1].relpath, "sub/a.yar");
    assert_int_equal(reps.r[0].status, DY_ST_COMPILED);
    assert_int_equal(reps.r[0].rules, 2);
    assert_int_equal(reps.r[1].rules, 1);
    assert_int_equal(st.files, 2);
    assert_int_equal(st.compiled, 2);
    assert_int_equal(st.rules, 3);
    assert_int_equal(dy_rules_count(r), 3);
    assert_int_equal(st.cache, DY_CACHE_OFF);
    /* Nothing failed: each file went to libyara once (one compiler). */
    assert_int_equal(st.compiles, 2);
    char names[256];
    matching(r, "xx alpha-marker beta-marker", names);
    assert_string_equal(names, "beta,alpha");
    dy_rules_destroy(r);
}

static void test_syntax_error_reported_others_load(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    put(fx, "broken.yar", "rule ok1 { condition: true }\n\nrule bad { condition: $nothere }\n");
    put(fx, "c.yar", "rule c1 { condition: true\n");
    put(fx, "z.yar", good_b);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, false, &reps, &st, &r), 0);
    const struct rep *b = find(&reps, "broken.yar");
    assert_int_equal(b->status, DY_ST_FAILED);
    assert_int_equal(b->reason, DY_R_COMPILE);
    assert_int_equal(b->line, 3);
    assert_non_null(strstr(b->msg, "broken.yar:3: undefined string \"$nothere\""));
    const struct rep *c = find(&reps, "c.yar");
    assert_int_equal(c->status, DY_ST_FAILED);
    assert_int_equal(c->reason, DY_R_SYNTAX);
    assert_non_null(strstr(c->msg, "c.yar:"));
    assert_non_null(strstr(c->msg, "syntax error"));
    assert_int_equal(st.failed, 2);
    assert_int_equal(st.compiled, 2);
    /* The others loaded, and nothing of the failed files did. */
    char names[256];
    matching(r, "alpha-marker beta-marker", names);
    assert_string_equal(names, "alpha,beta");
    assert_int_equal(dy_rules_count(r), 3);
    dy_rules_destroy(r);
}

static void test_slow_rule_warning(void **state)
{
    struct fx *fx = *state;
    put(fx, "slow.yar",
        "rule fast { strings: $a = \"abcdefgh\" condition: $a }\n"
        "rule slowpoke { strings: $a = { 00 ?? } condition: $a }\n");
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, false, &reps, &st, &r), 0);
    const struct rep *s = find(&reps, "slow.yar");
    assert_int_equal(s->status, DY_ST_COMPILED);
    assert_int_equal(s->n_warnings, 1);
    assert_string_equal(s->warn_rule, "slowpoke");
    assert_non_null(strstr(s->warn_msg, "slow down scanning"));
    assert_int_equal(st.warnings, 1);
    dy_rules_destroy(r);
}

static void test_file_past_size_cap_skipped(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    char p[512];
    snprintf(p, sizeof(p), "%s/big.yar", fx->rules);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("rule big { condition: true }\n", f);
    /* One byte past the cap, in comment lines. */
    for (long at = ftell(f); at < (long)DY_RULE_FILE_MAX; at = ftell(f))
        fputs(at % 64 == 63 ? "\n" : "/", f);
    assert_int_equal(ftell(f), (long)DY_RULE_FILE_MAX);
    fputs("\n", f);
    assert_int_equal(fclose(f), 0);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, false, &reps, &st, &r), 0);
    const struct rep *b = find(&reps, "big.yar");
    assert_int_equal(b->status, DY_ST_SKIPPED);
    assert_int_equal(b->reason, DY_R_TOO_LARGE);
    assert_non_null(strstr(b->msg, "cap"));
    assert_int_equal(st.skipped, 1);
    assert_int_equal(dy_rules_count(r), 1);
    dy_rules_destroy(r);
}

static void test_symlink_refused(void **state)
{
    struct fx *fx = *state;
    char target[256], link[256];
    snprintf(target, sizeof(target), "%s/outside.txt", fx->root);
    assert_int_equal(tu_write(target, "rule from_outside { condition: true }\n"), 0);
    snprintf(link, sizeof(link), "%s/link.yar", fx->rules);
    assert_int_equal(symlink(target, link), 0);
    put(fx, "a.yar", good_a);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, false, &reps, &st, &r), 0);
    const struct rep *l = find(&reps, "link.yar");
    assert_int_equal(l->status, DY_ST_SKIPPED);
    assert_int_equal(l->reason, DY_R_SYMLINK);
    char names[256];
    matching(r, "anything", names);
    assert_string_equal(names, ""); /* from_outside (condition true) is not in the set */
    assert_int_equal(dy_rules_count(r), 1);
    dy_rules_destroy(r);
}

static void test_include_refused(void **state)
{
    struct fx *fx = *state;
    char target[256], text[512];
    snprintf(target, sizeof(target), "%s/included.yar", fx->root);
    assert_int_equal(tu_write(target, "rule included { condition: true }\n"), 0);
    snprintf(text, sizeof(text), "include \"%s\"\nrule inc { condition: true }\n", target);
    put(fx, "inc.yar", text);
    put(fx, "a.yar", good_a);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, false, &reps, &st, &r), 0);
    const struct rep *i = find(&reps, "inc.yar");
    assert_int_equal(i->status, DY_ST_FAILED);
    assert_int_equal(i->reason, DY_R_INCLUDE);
    assert_int_equal(i->line, 1);
    assert_int_equal(dy_rules_count(r), 1);
    char names[256];
    matching(r, "anything", names);
    assert_string_equal(names, "");
    dy_rules_destroy(r);
}

static void test_duplicate_rule_names(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    put(fx, "b.yar",
        "rule only_b { condition: true }\nrule alpha { strings: $s = \"x\" condition: $s }\n");
    put(fx, "c.yar", good_b);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, false, &reps, &st, &r), 0);
    /* libyara's own answer in one compiler is "duplicated identifier" and
     * an unusable compiler: the loader fails the later file instead. */
    const struct rep *b = find(&reps, "b.yar");
    assert_int_equal(b->status, DY_ST_FAILED);
    assert_int_equal(b->reason, DY_R_DUPLICATE_RULE);
    assert_non_null(strstr(b->msg, "rule \"alpha\" is already defined in"));
    assert_non_null(strstr(b->msg, "/a.yar"));
    assert_int_equal(find(&reps, "a.yar")->status, DY_ST_COMPILED);
    assert_int_equal(find(&reps, "c.yar")->status, DY_ST_COMPILED);
    assert_int_equal(st.per_reason[DY_R_DUPLICATE_RULE], 1);
    assert_int_equal(dy_rules_count(r), 3);
    dy_rules_destroy(r);
}

/* ---- the cache ---- */

static void cache_path(const struct fx *fx, char *p, size_t n)
{
    snprintf(p, n, "%s/%s", fx->cache, DY_CACHE_NAME);
}

static void test_cache_hit_on_restart(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    put(fx, "slow.yar", "rule slowpoke { strings: $a = { 00 ?? } condition: $a }\n");
    put(fx, "broken.yar", "rule x {\n condition: nope }\n");
    struct reps r1, r2;
    struct dy_load_stats s1, s2;
    struct dy_rules *a, *b;
    assert_int_equal(load(fx, true, &r1, &s1, &a), 0);
    assert_int_equal(s1.cache, DY_CACHE_ABSENT);
    assert_true(s1.compiles >= 3);
    assert_int_equal(s1.cache_save_rc, 0);
    char p[256];
    cache_path(fx, p, sizeof(p));
    struct stat sb;
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* The restart: nothing compiled, the same rules, hash and report. */
    assert_int_equal(load(fx, true, &r2, &s2, &b), 0);
    assert_int_equal(s2.cache, DY_CACHE_HIT);
    assert_int_equal(s2.compiles, 0);
    assert_memory_equal(dy_rules_hash(a), dy_rules_hash(b), 32);
    assert_int_equal(dy_rules_count(b), 2);
    assert_int_equal(r2.n, 3);
    for (size_t i = 0; i < r1.n; i++) {
        assert_string_equal(r1.r[i].relpath, r2.r[i].relpath);
        assert_int_equal(r1.r[i].status, r2.r[i].status);
        assert_int_equal(r1.r[i].reason, r2.r[i].reason);
        assert_int_equal(r1.r[i].line, r2.r[i].line);
        assert_int_equal(r1.r[i].rules, r2.r[i].rules);
        assert_int_equal(r1.r[i].n_warnings, r2.r[i].n_warnings);
        assert_string_equal(r1.r[i].msg, r2.r[i].msg);
        assert_string_equal(r1.r[i].warn_msg, r2.r[i].warn_msg);
    }
    assert_int_equal(find(&r2, "broken.yar")->line, 2);
    char names[256];
    matching(b, "zz alpha-marker", names);
    assert_string_equal(names, "alpha");
    dy_rules_destroy(a);
    dy_rules_destroy(b);
}

static void test_cache_miss_after_any_change(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    put(fx, "b.yar", good_b);
    put(fx, "broken.yar", "rule x { condition: nope }\n");
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r0, *r1, *r2, *r3;
    assert_int_equal(load(fx, true, &reps, &st, &r0), 0);
    assert_true(st.compiles > 0);
    /* A change to the broken file (of the same size, so that only the
     * content tells): a miss, but the same rules hash. */
    put(fx, "broken.yar", "rule x { condition: nopf }\n");
    assert_int_equal(load(fx, true, &reps, &st, &r1), 0);
    assert_int_equal(st.cache, DY_CACHE_STALE);
    assert_true(st.compiles > 0);
    assert_memory_equal(dy_rules_hash(r0), dy_rules_hash(r1), 32);
    assert_memory_not_equal(dy_rules_source_key(r0), dy_rules_source_key(r1), 32);
    /* One byte of a good file: a miss and another rules hash. */
    char changed[sizeof(good_b)];
    memcpy(changed, good_b, sizeof(good_b));
    char *m = strstr(changed, "beta-marker");
    assert_non_null(m);
    m[5] = 'M';
    put(fx, "b.yar", changed);
    assert_int_equal(load(fx, true, &reps, &st, &r2), 0);
    assert_int_equal(st.cache, DY_CACHE_STALE);
    assert_memory_not_equal(dy_rules_hash(r1), dy_rules_hash(r2), 32);
    char names[256];
    matching(r2, "beta-Marker beta-marker", names);
    assert_string_equal(names, "beta");
    /* And that one is now the cache. */
    assert_int_equal(load(fx, true, &reps, &st, &r3), 0);
    assert_int_equal(st.cache, DY_CACHE_HIT);
    assert_int_equal(st.compiles, 0);
    dy_rules_destroy(r0);
    dy_rules_destroy(r1);
    dy_rules_destroy(r2);
    dy_rules_destroy(r3);
}

static void test_cache_torn_ignored_and_rebuilt(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    put(fx, "b.yar", good_b);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    dy_rules_destroy(r);
    char p[256];
    cache_path(fx, p, sizeof(p));
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    /* Torn in the middle of libyara's compiled rules. */
    assert_int_equal(truncate(p, sb.st_size - 100), 0);
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache, DY_CACHE_DAMAGED);
    assert_non_null(strstr(st.cache_msg, "torn"));
    assert_true(st.compiles > 0);
    assert_int_equal(dy_rules_count(r), 3);
    dy_rules_destroy(r);
    /* A flipped byte in the body. */
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_size > 0, 1);
    int fd = open(p, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, sb.st_size - 10), 1);
    c ^= 0x55;
    assert_int_equal(pwrite(fd, &c, 1, sb.st_size - 10), 1);
    close(fd);
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache, DY_CACHE_DAMAGED);
    dy_rules_destroy(r);
    /* Written again: the next load hits. */
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache, DY_CACHE_HIT);
    assert_int_equal(dy_rules_count(r), 3);
    dy_rules_destroy(r);
}

static void test_cache_planted_symlink_refused(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    /* A valid cache elsewhere, linked in: it must not be read through the
     * link, and the link's target must not be written through. */
    int other = open(fx->root, O_RDONLY | O_DIRECTORY);
    assert_true(other >= 0);
    const char *dirs[] = {fx->rules};
    struct dy_load_opts o = {.dirs = dirs, .n_dirs = 1, .cache_dirfd = other, .cache_name = "x"};
    assert_int_equal(dy_rules_load(&o, NULL, NULL, &r, &st, NULL, 0), 0);
    dy_rules_destroy(r);
    close(other);
    char target[256], p[256];
    snprintf(target, sizeof(target), "%s/x", fx->root);
    char *before = tu_read(target);
    assert_non_null(before);
    struct stat tb;
    assert_int_equal(stat(target, &tb), 0);
    cache_path(fx, p, sizeof(p));
    assert_int_equal(symlink(target, p), 0);
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache, DY_CACHE_REFUSED);
    assert_non_null(strstr(st.cache_msg, "symbolic link"));
    assert_true(st.compiles > 0);
    dy_rules_destroy(r);
    /* The link was replaced by a cache file of its own; the target is
     * untouched. */
    struct stat sb;
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    struct stat ta;
    assert_int_equal(stat(target, &ta), 0);
    assert_int_equal(ta.st_size, tb.st_size);
    assert_int_equal(ta.st_mtim.tv_nsec, tb.st_mtim.tv_nsec);
    free(before);
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache, DY_CACHE_HIT);
    dy_rules_destroy(r);
}

static void test_cache_stale_temporary_removed(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    /* A temporary file left by a crash, here a link planted in its place:
     * it goes, and nothing is written through it. */
    char target[256], tmp[256];
    snprintf(target, sizeof(target), "%s/victim", fx->root);
    assert_int_equal(tu_write(target, "untouched"), 0);
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", fx->cache, DY_CACHE_NAME);
    assert_int_equal(symlink(target, tmp), 0);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache_save_rc, 0);
    dy_rules_destroy(r);
    assert_false(tu_exists(tmp));
    char *v = tu_read(target);
    assert_non_null(v);
    assert_string_equal(v, "untouched");
    free(v);
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache, DY_CACHE_HIT);
    dy_rules_destroy(r);
}

static void test_cache_refused_when_group_writable(void **state)
{
    struct fx *fx = *state;
    put(fx, "a.yar", good_a);
    struct reps reps;
    struct dy_load_stats st;
    struct dy_rules *r;
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    dy_rules_destroy(r);
    char p[256];
    cache_path(fx, p, sizeof(p));
    assert_int_equal(chmod(p, 0620), 0);
    assert_int_equal(load(fx, true, &reps, &st, &r), 0);
    assert_int_equal(st.cache, DY_CACHE_REFUSED);
    assert_true(st.compiles > 0);
    dy_rules_destroy(r);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_missing_folder_is_an_error(void **state)
{
    struct fx *fx = *state;
    char nope[256];
    snprintf(nope, sizeof(nope), "%s/nope", fx->root);
    const char *dirs[] = {nope};
    struct dy_load_opts o = {.dirs = dirs, .n_dirs = 1, .cache_dirfd = -1};
    char err[256];
    struct dy_rules *r = (struct dy_rules *)1;
    assert_int_equal(dy_rules_load(&o, NULL, NULL, &r, NULL, err, sizeof(err)), RP_ERR_IO);
    assert_null(r);
    assert_non_null(strstr(err, "nope: cannot open the rule folder"));
}

/* ---- the public corpus ---- */

struct corpus {
    uint32_t shown[DY_REASON_COUNT];
};

static void corpus_report(void *ctx, const struct dy_file_report *rep)
{
    struct corpus *c = ctx;
    if (rep->status != DY_ST_COMPILED && c->shown[rep->reason]++ < 20)
        printf("  %s %s: %s\n", dy_status_name(rep->status), dy_reason_name(rep->reason), rep->msg);
    for (uint32_t i = 0; i < rep->n_warnings && i < 3; i++)
        printf("  warning %s:%u rule %s: %s\n", rep->relpath, rep->warnings[i].line,
               rep->warnings[i].rule, rep->warnings[i].msg);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    fclose(f);
    return kib;
}

static void test_corpus_load(void **state)
{
    struct fx *fx = *state;
    const char *dir = RP_YARA_CORPUS;
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        char why[512];
        snprintf(why, sizeof(why),
                 "no YARA corpus at %s (set RP_YARA_CORPUS to Elastic's rules tree)", dir);
        tu_skip(why);
    }
    const char *dirs[] = {dir};
    struct dy_load_opts o = {.dirs = dirs, .n_dirs = 1, .cache_dirfd = fx->cache_fd};
    struct corpus c = {{0}};
    struct dy_load_stats st;
    struct dy_rules *r;
    char err[512];
    long rss0 = rss_kib();
    printf("yara corpus %s:\n", dir);
    int rc = dy_rules_load(&o, corpus_report, &c, &r, &st, err, sizeof(err));
    if (rc != 0)
        fail_msg("the load aborted: %d %s", rc, err);
    long rss1 = rss_kib();
    printf("files %u: compiled %u, failed %u, skipped %u; rules %u; warnings %u\n", st.files,
           st.compiled, st.failed, st.skipped, st.rules, st.warnings);
    for (int i = 1; i < DY_REASON_COUNT; i++)
        if (st.per_reason[i])
            printf("  %s: %u\n", dy_reason_name(i), st.per_reason[i]);
    printf("compile %.1f ms (%u files compiled, %.1f MB of sources); cache save %.1f ms, "
           "%.1f MB; memory %ld KiB more resident\n",
           st.compile_ms, st.compiles, (double)st.source_bytes / 1e6, st.cache_save_ms,
           (double)st.cache_bytes / 1e6, rss1 - rss0);
    assert_int_equal(st.files, st.compiled + st.failed + st.skipped);
    assert_true(st.compiled > 0);
    assert_int_equal(st.cache_save_rc, 0);
    struct dy_rules *r2;
    rc = dy_rules_load(&o, NULL, NULL, &r2, &st, err, sizeof(err));
    assert_int_equal(rc, 0);
    printf("restart: cache %s, load %.1f ms, %u files compiled\n", dy_cache_state_name(st.cache),
           st.cache_load_ms, st.compiles);
    assert_int_equal(st.cache, DY_CACHE_HIT);
    assert_memory_equal(dy_rules_hash(r), dy_rules_hash(r2), 32);
    dy_rules_destroy(r2);
    dy_rules_destroy(r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_reported_others_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slow_rule_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_past_size_cap_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_include_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_rule_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_hit_on_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_miss_after_any_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_torn_ignored_and_rebuilt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_planted_symlink_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_stale_temporary_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_refused_when_group_writable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_folder_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corpus_load, setup, teardown),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
