/*
 * tests/unit/test_yara_ondemand.c - on-demand and scheduled scans
 * (plugins/detector_yara/ondemand.c) on real libyara and a real tree of
 * files in a temporary folder: the counts of a walk (files, bytes, matches,
 * each skip reason) and the match callback's paths; symbolic links to a
 * file and to a folder outside the tree never followed; a link given as the
 * path skipped; excluded paths and the depth bound; /proc, /sys and /dev
 * skipped and other file systems not entered from "/" nor from the tree
 * (a tmpfs mounted inside it in a private mount namespace), unless
 * cross_fs; access times of files and folders left alone; progress at most once
 * per interval with growing counts and one final summary; cancel before and
 * during a walk; a second walk of the unchanged tree answered wholly by the
 * verdict cache, nothing read; bad paths refused. The scheduler: its thread
 * really runs at idle I/O class and nice 19 (read back with ioprio_get and
 * getpriority on its thread id) while the test's own thread keeps its
 * priorities; it scans every interval and on trigger; stop cancels a scan
 * under way within a bound.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ondemand.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <yara.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARK "RAMPART-ONDEMAND-MARKER"
static const char rule_text[] = "rule od_marker : test\n"
                                "{\n"
                                "    strings:\n"
                                "        $a = \"" MARK "\"\n"
                                "    condition:\n"
                                "        $a\n"
                                "}\n";

struct fx {
    char root[128];    /* the test's folder */
    char tree[160];    /* root/tree: what is scanned */
    char outside[160]; /* root/outside: only reachable through links */
    struct dy_scanner *s;
    struct dy_ruleset *rs;
    struct dy_sched *sc; /* stopped by teardown, also after a failed assertion */
    uint64_t tree_bytes; /* the sizes of the regular files the walk judges */
};

static void mkdir_p(const char *path)
{
    assert_int_equal(mkdir(path, 0700), 0);
}

static void put(struct fx *fx, const char *dir, const char *rel, const char *text, bool counted)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    assert_int_equal(tu_write(p, text), 0);
    if (counted)
        fx->tree_bytes += strlen(text);
}

/* Waits until the kernel's coarse clock, which stamps file changes, has
 * passed path's ctime: the scanner does not store a verdict before (a
 * change within the same tick would keep the file's identity). */
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

/*
 * The tree:
 *   tree/a.txt                   clean
 *   tree/bad1.txt                MARK
 *   tree/sub/b.txt               clean
 *   tree/sub/deep/bad2.txt       MARK (folder depth 2)
 *   tree/sub/deep/d3/c.txt       clean (folder depth 3)
 *   tree/skipme/bad3.txt         MARK, excluded by the tests that exclude it
 *   tree/fifo                    a FIFO: not a regular file
 *   tree/link-file -> outside/bad-out.txt      MARK, never followed
 *   tree/link-dir  -> outside                  never followed
 */
static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(tu_mkdtemp("yaraod", fx->root, sizeof(fx->root)), 0);
    snprintf(fx->tree, sizeof(fx->tree), "%s/tree", fx->root);
    snprintf(fx->outside, sizeof(fx->outside), "%s/outside", fx->root);
    char p[512], rules[200];
    mkdir_p(fx->tree);
    mkdir_p(fx->outside);
    snprintf(p, sizeof(p), "%s/sub", fx->tree);
    mkdir_p(p);
    snprintf(p, sizeof(p), "%s/sub/deep", fx->tree);
    mkdir_p(p);
    snprintf(p, sizeof(p), "%s/sub/deep/d3", fx->tree);
    mkdir_p(p);
    snprintf(p, sizeof(p), "%s/skipme", fx->tree);
    mkdir_p(p);
    put(fx, fx->tree, "a.txt", "nothing to see here\n", true);
    put(fx, fx->tree, "bad1.txt", "xx " MARK " xx\n", true);
    put(fx, fx->tree, "sub/b.txt", "plain text, longer than the others, still clean\n", true);
    put(fx, fx->tree, "sub/deep/bad2.txt", MARK "\n", true);
    put(fx, fx->tree, "sub/deep/d3/c.txt", "deepest\n", true);
    put(fx, fx->tree, "skipme/bad3.txt", MARK " excluded\n", false);
    put(fx, fx->outside, "bad-out.txt", MARK " outside\n", false);
    snprintf(p, sizeof(p), "%s/fifo", fx->tree);
    assert_int_equal(mkfifo(p, 0600), 0);
    char target[300];
    snprintf(p, sizeof(p), "%s/link-file", fx->tree);
    snprintf(target, sizeof(target), "%s/bad-out.txt", fx->outside);
    assert_int_equal(symlink(target, p), 0);
    snprintf(p, sizeof(p), "%s/link-dir", fx->tree);
    assert_int_equal(symlink(fx->outside, p), 0);

    /* The scanner first: it sets libyara's process-wide limits. */
    assert_int_equal(dy_scanner_create(NULL, &fx->s), 0);
    snprintf(rules, sizeof(rules), "%s/rules", fx->root);
    mkdir_p(rules);
    put(fx, rules, "od.yar", rule_text, false);
    const char *dirs[] = {rules};
    struct dy_load_opts lo = {.dirs = dirs, .n_dirs = 1, .cache_dirfd = -1};
    struct dy_rules *r = NULL;
    struct dy_load_stats st;
    char err[256] = "";
    assert_int_equal(dy_rules_load(&lo, NULL, NULL, &r, &st, err, sizeof(err)), 0);
    assert_int_equal(st.compiled, 1);
    assert_int_equal(dy_ruleset_create(r, &fx->rs), 0);
    /* The last file written (the rule file, after every file of the tree
     * and skipme/bad3.txt): the coarse clock past its ctime is past theirs. */
    snprintf(p, sizeof(p), "%s/od.yar", rules);
    settle(p);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    dy_sched_stop(fx->sc);
    dy_ruleset_unref(fx->rs);
    dy_scanner_destroy(fx->s);
    tu_rm_rf(fx->root);
    free(fx);
    return 0;
}

/* What the callbacks saw. */
#define SEEN_MAX 64
struct seen {
    char matches[SEEN_MAX][512];
    char match_rule[SEEN_MAX][DY_VERDICT_NAME_MAX];
    unsigned n_matches;
    unsigned n_errors;
    unsigned n_progress, n_final;
    struct dy_od_progress progress[SEEN_MAX];
    uint64_t progress_ns[SEEN_MAX];
    /* Set cancel at the match number cancel_at (0: never). */
    atomic_bool cancel;
    unsigned cancel_at;
    unsigned sleep_ms_per_match;
};

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_progress(void *ctx, const struct dy_od_progress *p)
{
    struct seen *s = ctx;
    if (p->final)
        s->n_final++;
    if (s->n_progress < SEEN_MAX) {
        s->progress[s->n_progress] = *p;
        s->progress_ns[s->n_progress] = mono_ns();
    }
    s->n_progress++;
}

static void on_match(void *ctx, const char *path, const struct dy_scan_result *res)
{
    struct seen *s = ctx;
    assert_true(s->n_matches < SEEN_MAX);
    snprintf(s->matches[s->n_matches], sizeof(s->matches[0]), "%s", path);
    const char *rule = res->n_matches ? res->matches[0].rule->identifier : res->cached_rule;
    snprintf(s->match_rule[s->n_matches], sizeof(s->match_rule[0]), "%s", rule);
    s->n_matches++;
    if (s->cancel_at && s->n_matches == s->cancel_at)
        atomic_store(&s->cancel, true);
    if (s->sleep_ms_per_match)
        usleep(s->sleep_ms_per_match * 1000u);
}

static void on_error(void *ctx, const char *path, int err, const char *what)
{
    struct seen *s = ctx;
    print_message("error: %s: %s (%s)\n", path, what, rp_errname(err));
    s->n_errors++;
}

static bool matched(const struct seen *s, const char *path)
{
    for (unsigned i = 0; i < s->n_matches; i++)
        if (strcmp(s->matches[i], path) == 0)
            return true;
    return false;
}

static struct dy_od_opts opts_for(const char *const *paths, size_t n, struct seen *s)
{
    struct dy_od_opts o = {.paths = paths,
                           .n_paths = n,
                           .progress = on_progress,
                           .match = on_match,
                           .error = on_error,
                           .ctx = s,
                           .cancel = &s->cancel};
    return o;
}

static void test_walk_counts(void **state)
{
    struct fx *fx = *state;
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    char excl[256];
    snprintf(excl, sizeof(excl), "%s/skipme/", fx->tree); /* a trailing slash is fine */
    const char *paths[] = {fx->tree};
    const char *excludes[] = {excl};
    struct dy_od_opts o = opts_for(paths, 1, s);
    o.excludes = excludes;
    o.n_excludes = 1;
    struct dy_od_progress sum;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);

    assert_int_equal(sum.files, 5); /* a, bad1, b, bad2, c */
    assert_int_equal(sum.bytes, fx->tree_bytes);
    assert_int_equal(sum.bytes_read, fx->tree_bytes);
    assert_int_equal(sum.cache_hits, 0);
    assert_int_equal(sum.matches, 2);
    assert_int_equal(sum.errors, 0);
    assert_int_equal(s->n_errors, 0);
    assert_int_equal(sum.skip[DY_OD_SKIP_SYMLINK], 2);
    assert_int_equal(sum.skip[DY_OD_SKIP_EXCLUDED], 1);
    assert_int_equal(sum.skip[DY_OD_SKIP_NOT_REGULAR], 1);
    assert_int_equal(sum.skipped, 4);
    assert_int_equal(sum.dirs, 4); /* tree, sub, deep, d3 */
    assert_true(sum.final);
    assert_false(sum.cancelled);

    /* The match callback named the two files, with the rule; nothing
     * outside the tree (links) or under the excluded folder. */
    char p[512];
    assert_int_equal(s->n_matches, 2);
    snprintf(p, sizeof(p), "%s/bad1.txt", fx->tree);
    assert_true(matched(s, p));
    snprintf(p, sizeof(p), "%s/sub/deep/bad2.txt", fx->tree);
    assert_true(matched(s, p));
    assert_string_equal(s->match_rule[0], "od_marker");
    /* A fast walk: one progress call, the final one, equal to the summary. */
    assert_int_equal(s->n_progress, 1);
    assert_int_equal(s->n_final, 1);
    assert_int_equal(s->progress[0].files, sum.files);
    assert_int_equal(s->progress[0].matches, sum.matches);
    free(s);
}

static void test_symlinks_never_followed(void **state)
{
    struct fx *fx = *state;
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    /* Links given as the paths themselves: skipped, not followed. */
    char lf[256], ld[256];
    snprintf(lf, sizeof(lf), "%s/link-file", fx->tree);
    snprintf(ld, sizeof(ld), "%s/link-dir", fx->tree);
    const char *paths[] = {lf, ld};
    struct dy_od_opts o = opts_for(paths, 2, s);
    struct dy_od_progress sum;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    assert_int_equal(sum.files, 0);
    assert_int_equal(sum.matches, 0);
    assert_int_equal(sum.skip[DY_OD_SKIP_SYMLINK], 2);
    assert_int_equal(s->n_matches, 0);

    /* The folder the link points to, given itself, is scanned: the links
     * above were skipped for being links, not for what they point to. */
    memset(s, 0, sizeof(*s));
    const char *out[] = {fx->outside};
    o = opts_for(out, 1, s);
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    assert_int_equal(sum.files, 1);
    assert_int_equal(sum.matches, 1);
    free(s);
}

static void test_depth_bound_and_bad_paths(void **state)
{
    struct fx *fx = *state;
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    const char *paths[] = {fx->tree};
    struct dy_od_opts o = opts_for(paths, 1, s);
    o.max_depth = 2; /* tree (0), sub (1), deep (2); d3 (3) is too deep */
    struct dy_od_progress sum;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    assert_int_equal(sum.skip[DY_OD_SKIP_TOO_DEEP], 1);
    assert_int_equal(sum.files, 5); /* a, bad1, b, bad2, skipme/bad3 */
    assert_int_equal(sum.matches, 3);
    assert_int_equal(sum.dirs, 4); /* tree, sub, deep, skipme */

    /* Paths must be absolute, without "." or ".."; caps are enforced. */
    const char *rel[] = {"tmp/x"};
    o = opts_for(rel, 1, s);
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), RP_ERR_INVAL);
    char dotdot[256];
    snprintf(dotdot, sizeof(dotdot), "%s/sub/../sub", fx->tree);
    const char *dd[] = {dotdot};
    o = opts_for(dd, 1, s);
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), RP_ERR_INVAL);
    o = opts_for(paths, 1, s);
    o.max_depth = DY_OD_DEPTH_MAX + 1;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), RP_ERR_RANGE);
    o = opts_for(paths, 0, s);
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), RP_ERR_INVAL);
    free(s);
}

/* From "/", with every folder of the root file system excluded: what is
 * left are /proc, /sys and /dev (pseudo_fs) and the other file systems
 * mounted at the top (other_fs), none of them entered. */
static void test_pseudo_and_other_fs_not_entered(void **state)
{
    struct fx *fx = *state;
    struct stat root;
    assert_int_equal(lstat("/", &root), 0);
    DIR *d = opendir("/");
    assert_non_null(d);
    char *excl[256];
    size_t n_excl = 0;
    unsigned other = 0, pseudo = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[300];
        snprintf(p, sizeof(p), "/%s", e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0 || S_ISLNK(st.st_mode))
            continue;
        if (strcmp(p, "/proc") == 0 || strcmp(p, "/sys") == 0 || strcmp(p, "/dev") == 0) {
            pseudo++;
            continue;
        }
        if (st.st_dev != root.st_dev && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
            other++;
            continue;
        }
        if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
            assert_true(n_excl < 256);
            excl[n_excl++] = strdup(p);
        }
    }
    closedir(d);
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    const char *paths[] = {"/"};
    struct dy_od_opts o = opts_for(paths, 1, s);
    o.excludes = (const char *const *)excl;
    o.n_excludes = n_excl;
    struct dy_od_progress sum;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    print_message("/: %u pseudo, %u other file systems, %zu excluded\n", pseudo, other, n_excl);
    assert_int_equal(sum.skip[DY_OD_SKIP_PSEUDO_FS], pseudo);
    assert_int_equal(sum.skip[DY_OD_SKIP_OTHER_FS], other);
    assert_int_equal(sum.skip[DY_OD_SKIP_EXCLUDED], n_excl);
    assert_int_equal(sum.files, 0);
    assert_int_equal(sum.dirs, 1);
    assert_true(pseudo >= 1); /* the test proves nothing without them */
    /* /proc given as the path: skipped as well. */
    const char *procp[] = {"/proc/self"};
    o = opts_for(procp, 1, s);
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    assert_int_equal(sum.skip[DY_OD_SKIP_PSEUDO_FS], 1);
    assert_int_equal(sum.files, 0);
    for (size_t i = 0; i < n_excl; i++)
        free(excl[i]);
    free(s);
}

/* A file system mounted inside the tree (a tmpfs, in a private mount
 * namespace of a child process): not entered unless cross_fs. The child
 * exits 0 when both walks saw what they should, 77 when it cannot mount. */
static int other_fs_child(struct fx *fx, const char *mnt)
{
    int flags = CLONE_NEWNS | (geteuid() == 0 ? 0 : CLONE_NEWUSER);
    if (unshare(flags) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=1m,mode=0700") != 0)
        return 77;
    char p[512];
    snprintf(p, sizeof(p), "%s/on-tmpfs.txt", mnt);
    if (tu_write(p, MARK " on another file system\n") != 0)
        return 10;
    struct seen *s = calloc(1, sizeof(*s));
    if (!s)
        return 11;
    const char *paths[] = {fx->tree};
    struct dy_od_opts o = opts_for(paths, 1, s);
    struct dy_od_progress sum;
    if (dy_ondemand_run(fx->s, fx->rs, &o, &sum) != 0)
        return 12;
    fprintf(stderr, "one fs: files %llu matches %llu other_fs %llu\n",
            (unsigned long long)sum.files, (unsigned long long)sum.matches,
            (unsigned long long)sum.skip[DY_OD_SKIP_OTHER_FS]);
    if (sum.skip[DY_OD_SKIP_OTHER_FS] != 1 || sum.files != 6 || matched(s, p))
        return 13;
    memset(s, 0, sizeof(*s));
    o = opts_for(paths, 1, s);
    o.cross_fs = true;
    if (dy_ondemand_run(fx->s, fx->rs, &o, &sum) != 0)
        return 14;
    fprintf(stderr, "cross_fs: files %llu matches %llu other_fs %llu\n",
            (unsigned long long)sum.files, (unsigned long long)sum.matches,
            (unsigned long long)sum.skip[DY_OD_SKIP_OTHER_FS]);
    if (sum.skip[DY_OD_SKIP_OTHER_FS] != 0 || sum.files != 7 || !matched(s, p))
        return 15;
    free(s);
    return 0;
}

static void test_privileged_other_fs(void **state)
{
    struct fx *fx = *state;
    char mnt[256];
    snprintf(mnt, sizeof(mnt), "%s/mnt", fx->tree);
    mkdir_p(mnt);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(other_fs_child(fx, mnt));
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        tu_skip("no private mount namespace for a tmpfs here");
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Files and folders are read with O_NOATIME: a scan leaves their access
 * times alone. The times are set days back, where the relatime default of
 * the mount would otherwise move them on a read. */
static void test_access_times_untouched(void **state)
{
    struct fx *fx = *state;
    char file[512], dir[512];
    snprintf(file, sizeof(file), "%s/sub/b.txt", fx->tree);
    snprintf(dir, sizeof(dir), "%s/sub", fx->tree);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec old[2] = {{.tv_sec = now.tv_sec - 3 * 86400},
                              {.tv_sec = now.tv_sec - 4 * 86400}};
    assert_int_equal(utimensat(AT_FDCWD, file, old, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(utimensat(AT_FDCWD, dir, old, AT_SYMLINK_NOFOLLOW), 0);
    settle(file);
    settle(dir);
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    const char *paths[] = {fx->tree};
    struct dy_od_opts o = opts_for(paths, 1, s);
    struct dy_od_progress sum;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    assert_int_equal(sum.bytes_read, sum.bytes); /* the files were read */
    struct stat fst, dst;
    assert_int_equal(stat(file, &fst), 0);
    assert_int_equal(stat(dir, &dst), 0);
    assert_int_equal(fst.st_atim.tv_sec, old[0].tv_sec);
    assert_int_equal(dst.st_atim.tv_sec, old[0].tv_sec);
    free(s);
}

static void test_second_walk_all_cache_hits(void **state)
{
    struct fx *fx = *state;
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    const char *paths[] = {fx->tree};
    struct dy_od_opts o = opts_for(paths, 1, s);
    struct dy_od_progress first, second;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &first), 0);
    assert_int_equal(first.cache_hits, 0);
    assert_int_equal(first.files, 6);
    struct dy_scan_stats before, after;
    dy_scanner_stats(fx->s, &before);
    memset(s, 0, sizeof(*s));
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &second), 0);
    dy_scanner_stats(fx->s, &after);
    /* Every file answered by the verdict cache, nothing read, the same
     * verdicts (the match callback still names the malicious files). */
    assert_int_equal(second.files, first.files);
    assert_int_equal(second.cache_hits, second.files);
    assert_int_equal(second.bytes_read, 0);
    assert_int_equal(second.bytes, first.bytes);
    assert_int_equal(second.matches, first.matches);
    assert_int_equal(s->n_matches, 3);
    assert_string_equal(s->match_rule[0], "od_marker");
    assert_int_equal(after.scanned, before.scanned);
    assert_int_equal(after.cache_hits - before.cache_hits, second.files);

    /* A file changed since is read again, the others are not. */
    char p[512];
    snprintf(p, sizeof(p), "%s/a.txt", fx->tree);
    assert_int_equal(tu_write(p, "changed, and now " MARK "\n"), 0);
    settle(p);
    memset(s, 0, sizeof(*s));
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &second), 0);
    assert_int_equal(second.cache_hits, second.files - 1);
    assert_int_equal(second.matches, first.matches + 1);
    free(s);
}

static void test_cancel(void **state)
{
    struct fx *fx = *state;
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    const char *paths[] = {fx->tree};
    struct dy_od_opts o = opts_for(paths, 1, s);
    /* Cancelled before it starts: nothing judged. */
    atomic_store(&s->cancel, true);
    struct dy_od_progress sum;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    assert_true(sum.cancelled);
    assert_int_equal(sum.files, 0);
    assert_int_equal(s->n_final, 1);

    /* Cancelled at the first match: the walk stops before the next entry. */
    char many[512];
    snprintf(many, sizeof(many), "%s/many", fx->root);
    mkdir_p(many);
    for (int i = 0; i < 50; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%02d.txt", i);
        put(fx, many, name, MARK "\n", false);
    }
    memset(s, 0, sizeof(*s));
    s->cancel_at = 1;
    const char *mp[] = {many};
    o = opts_for(mp, 1, s);
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    assert_true(sum.cancelled);
    assert_int_equal(sum.matches, 1);
    assert_int_equal(sum.files, 1);
    free(s);
}

static void test_progress_at_most_once_per_interval(void **state)
{
    struct fx *fx = *state;
    char many[512];
    snprintf(many, sizeof(many), "%s/slow", fx->root);
    mkdir_p(many);
    for (int i = 0; i < 30; i++) {
        char name[32];
        snprintf(name, sizeof(name), "s%02d.txt", i);
        put(fx, many, name, MARK "\n", false);
    }
    struct seen *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->sleep_ms_per_match = 20; /* the walk takes at least 600 ms */
    const char *mp[] = {many};
    struct dy_od_opts o = opts_for(mp, 1, s);
    o.progress_ms = 100;
    uint64_t t0 = mono_ns();
    struct dy_od_progress sum;
    assert_int_equal(dy_ondemand_run(fx->s, fx->rs, &o, &sum), 0);
    double took = (double)(mono_ns() - t0) / 1e9;
    assert_true(s->n_progress <= SEEN_MAX);
    unsigned interim = s->n_progress - 1;
    print_message("%.2f s, %u progress calls before the summary\n", took, interim);
    /* At most one per 100 ms, and some (the walk took 600 ms or more). */
    assert_true(interim >= 3);
    assert_true(interim <= (unsigned)(took / 0.1) + 1);
    for (unsigned i = 1; i < interim; i++) {
        assert_true(s->progress_ns[i] - s->progress_ns[i - 1] >= 100000000ull);
        assert_true(s->progress[i].files >= s->progress[i - 1].files);
    }
    for (unsigned i = 0; i < interim; i++) {
        assert_false(s->progress[i].final);
        assert_true(s->progress[i].elapsed_s > 0);
        assert_true(s->progress[i].files_per_s > 0);
        assert_true(s->progress[i].mb_per_s > 0);
    }
    assert_true(s->progress[interim].final);
    assert_int_equal(s->progress[interim].files, 30);
    assert_int_equal(sum.files, 30);
    assert_int_equal(s->n_final, 1);
    free(s);
}

/* ---- scheduled scans ---- */

struct sched_ctx {
    struct fx *fx;
    atomic_uint rules_calls, done_calls, matches;
    atomic_uint sleep_ms_per_match;
};

static struct dy_ruleset *sched_rules(void *ctx)
{
    struct sched_ctx *c = ctx;
    atomic_fetch_add(&c->rules_calls, 1);
    return dy_ruleset_ref(c->fx->rs);
}

static void sched_done(void *ctx, const struct dy_od_progress *p)
{
    struct sched_ctx *c = ctx;
    (void)p;
    atomic_fetch_add(&c->done_calls, 1);
}

static void sched_match(void *ctx, const char *path, const struct dy_scan_result *res)
{
    struct sched_ctx *c = ctx;
    (void)path;
    (void)res;
    atomic_fetch_add(&c->matches, 1);
    unsigned ms = atomic_load(&c->sleep_ms_per_match);
    if (ms)
        usleep(ms * 1000u);
}

static bool wait_for(atomic_uint *v, unsigned want, unsigned ms)
{
    for (unsigned i = 0; i < ms / 5; i++) {
        if (atomic_load(v) >= want)
            return true;
        usleep(5000);
    }
    return atomic_load(v) >= want;
}

static void test_sched_idle_priority_and_runs(void **state)
{
    struct fx *fx = *state;
    struct sched_ctx c = {.fx = fx};
    const char *paths[] = {fx->tree};
    struct dy_sched_opts so = {
        .scan = {.paths = paths, .n_paths = 1, .match = sched_match, .ctx = &c},
        .interval_s = 1,
        .first_delay_s = 0,
        .rules = sched_rules,
        .done = sched_done};
    int mine_io = (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
    errno = 0;
    int mine_nice = getpriority(PRIO_PROCESS, 0);
    assert_int_equal(errno, 0);

    char err[160];
    int rc = dy_sched_start(fx->s, &so, &fx->sc, err, sizeof(err));
    if (rc != 0)
        fail_msg("dy_sched_start: %s: %s", rp_errname(rc), err);
    struct dy_sched *sc = fx->sc;
    struct dy_sched_stats st;
    dy_sched_stats(sc, &st);
    assert_true(st.tid > 0);
    assert_true(st.tid != (pid_t)syscall(SYS_gettid));
    /* The scheduler's thread, read back by its id: idle I/O class, nice 19. */
    int io = (int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, st.tid);
    assert_true(io >= 0);
    assert_int_equal(IOPRIO_PRIO_CLASS(io), IOPRIO_CLASS_IDLE);
    errno = 0;
    int nice = getpriority(PRIO_PROCESS, (id_t)st.tid);
    assert_int_equal(errno, 0);
    assert_int_equal(nice, 19);
    /* This thread (and so the rest of the agent) keeps its own. */
    assert_int_equal((int)syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0), mine_io);
    assert_int_equal(getpriority(PRIO_PROCESS, 0), mine_nice);

    /* It scans at once (first_delay_s 0) and again a second later. */
    assert_true(wait_for(&c.done_calls, 1, 3000));
    assert_true(wait_for(&c.done_calls, 2, 3000));
    dy_sched_stats(sc, &st);
    assert_true(st.runs >= 2);
    assert_int_equal(st.last.files, 6);
    assert_int_equal(st.last.matches, 3);
    assert_int_equal(st.last.cache_hits, 6); /* the second run: all cached */
    assert_true(atomic_load(&c.rules_calls) >= 2);
    dy_sched_stop(sc);
    fx->sc = NULL;
}

static void test_sched_trigger_and_stop_bounded(void **state)
{
    struct fx *fx = *state;
    char many[512];
    snprintf(many, sizeof(many), "%s/many", fx->root);
    mkdir_p(many);
    for (int i = 0; i < 200; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%03d.txt", i);
        put(fx, many, name, MARK "\n", false);
    }
    struct sched_ctx c = {.fx = fx};
    const char *paths[] = {many};
    struct dy_sched_opts so = {
        .scan = {.paths = paths, .n_paths = 1, .match = sched_match, .ctx = &c},
        .interval_s = 3600,
        .first_delay_s = 3600,
        .rules = sched_rules,
        .done = sched_done};
    char err[160];
    assert_int_equal(dy_sched_start(fx->s, &so, &fx->sc, err, sizeof(err)), 0);
    struct dy_sched *sc = fx->sc;
    /* Nothing before the first delay. */
    usleep(100000);
    assert_int_equal(atomic_load(&c.rules_calls), 0);
    /* A trigger runs one now; a second while it runs is refused. The scan
     * is slowed (20 ms a match, 4 s in all) so that stop meets it. */
    atomic_store(&c.sleep_ms_per_match, 20);
    assert_int_equal(dy_sched_trigger(sc), 0);
    assert_true(wait_for(&c.matches, 5, 3000));
    assert_int_equal(dy_sched_trigger(sc), RP_ERR_BUSY);
    struct dy_sched_stats st;
    dy_sched_stats(sc, &st);
    assert_true(st.running);
    /* Stop cancels it: back within the file under way (20 ms), far from
     * the 4 s the scan would take. */
    uint64_t t0 = mono_ns();
    dy_sched_stop(sc);
    fx->sc = NULL;
    double took = (double)(mono_ns() - t0) / 1e9;
    print_message("stop took %.3f s with %u of 200 files judged\n", took, atomic_load(&c.matches));
    assert_true(took < 0.5);
    assert_true(atomic_load(&c.matches) < 200);
    assert_int_equal(atomic_load(&c.done_calls), 1); /* the cancelled scan's summary */

    /* Bad options fail the start. */
    so.interval_s = 0;
    assert_int_equal(dy_sched_start(fx->s, &so, &sc, err, sizeof(err)), RP_ERR_RANGE);
    assert_null(fx->sc);
    so.interval_s = 10;
    const char *rel[] = {"relative"};
    so.scan.paths = rel;
    assert_int_equal(dy_sched_start(fx->s, &so, &sc, err, sizeof(err)), RP_ERR_INVAL);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_walk_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlinks_never_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_depth_bound_and_bad_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pseudo_and_other_fs_not_entered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_privileged_other_fs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_times_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_walk_all_cache_hits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_progress_at_most_once_per_interval, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_idle_priority_and_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sched_trigger_and_stop_bounded, setup, teardown),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
