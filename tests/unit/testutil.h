/*
 * tests/unit/testutil.h - small helpers shared by the unit tests: a private
 * temporary folder under /tmp, writing and reading whole files, removing a
 * tree. Header-only (static functions) so that every test_*.c stays one
 * self-contained program.
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

#endif
