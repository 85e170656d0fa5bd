/*
 * tests/unit/testutil.h - small helpers shared by the unit tests: a private
 * temporary folder under /tmp, writing and reading whole files, removing a
 * tree; skips that ctest sees (tu_skip, tu_run_tests). Header-only (static functions) so that every
 * test_*.c stays one self-contained program.
 */
#ifndef RP_TESTS_TESTUTIL_H
#define RP_TESTS_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates a new folder /tmp/rampart-<tag>-XXXXXX; the name goes into buf. */
static inline int tu_mkdtemp(const char *tag, char *buf, size_t len)
{
    if (snprintf(buf, len, "/tmp/rampart-%s-XXXXXX", tag) >= (int)len)
        return -1;
    return mkdtemp(buf) ? 0 : -1;
}

/* snprintf into buf that fails loudly (returns NULL) when cut. */
static inline const char *tu_path(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    return (n < 0 || (size_t)n >= len) ? NULL : buf;
}

/* Writes text (whole) to path, replacing it. */
static inline int tu_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

/* Reads a whole file into a NUL-terminated buffer from malloc, or NULL. */
static inline char *tu_read(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (len + 1 == cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

static inline int tu_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Counts the lines of text that contain needle. */
static inline int tu_count_lines_with(const char *text, const char *needle)
{
    int count = 0;
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        size_t nl = strlen(needle);
        for (size_t i = 0; i + nl <= len; i++) {
            if (memcmp(line + i, needle, nl) == 0) {
                count++;
                break;
            }
        }
        line = end ? end + 1 : NULL;
    }
    return count;
}

/* Removes a file or a whole tree (no symlinks followed). */
static inline int tu_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[PATH_MAX];
        if (!tu_path(child, sizeof child, path, e->d_name) || tu_rm_rf(child) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

#ifdef cmocka_unit_test
/*
 * Skips that ctest can see. cmocka's skip() alone lets the program exit 0,
 * so a check that did not run reported as passed. A test that cannot run
 * here calls tu_skip(reason); the program then exits 77, which ctest
 * reports as skipped (SKIP_RETURN_CODE in tests/unit/CMakeLists.txt). With
 * RP_REQUIRE_ALL=1 in the environment (.ci/run sets it: the CI machine must
 * run everything) the skip is a failure instead. The tests that may skip
 * are registered as ctest tests of their own (--only PATTERN, the others
 * with --except PATTERN), so one skip does not hide the other results.
 */
static int tu__skipped;

static inline int tu_require_all(void)
{
    const char *v = getenv("RP_REQUIRE_ALL");
    return v && strcmp(v, "1") == 0;
}

#define tu_skip(why)                                                                               \
    do {                                                                                           \
        if (tu_require_all())                                                                      \
            fail_msg("cannot run here: %s (RP_REQUIRE_ALL=1: a skip is a failure)", (why));        \
        fprintf(stderr, "skipped: %s\n", (why));                                                   \
        tu__skipped = 1;                                                                           \
        skip();                                                                                    \
    } while (0)

/* Runs the group; argv may hold "--only PATTERN" or "--except PATTERN" (a
 * cmocka glob on test names). Exits 77 when a test skipped and none failed. */
static inline int tu__run(const char *name, const struct CMUnitTest *tests, size_t n,
                          CMFixtureFunction setup, CMFixtureFunction teardown, int argc,
                          char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--only") == 0)
        cmocka_set_test_filter(argv[2]);
    else if (argc == 3 && strcmp(argv[1], "--except") == 0)
        cmocka_set_skip_filter(argv[2]);
    else if (argc != 1) {
        fprintf(stderr, "usage: %s [--only PATTERN | --except PATTERN]\n", argv[0]);
        return 64;
    }
    int failed = _cmocka_run_group_tests(name, tests, n, setup, teardown);
    if (failed)
        return failed;
    return tu__skipped ? 77 : 0;
}
#define tu_run_tests(tests, setup, teardown, argc, argv)                                           \
    tu__run(#tests, (tests), sizeof(tests) / sizeof((tests)[0]), (setup), (teardown), (argc),      \
            (argv))
#endif

#endif
