/*
 * plugins/detector_yara/rules.c - the YARA rule loader and its compiled
 * cache (rules.h).
 */
#define _GNU_SOURCE
#include "rules.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>

#include <yara.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const dy_reason_names[DY_REASON_COUNT] = {
    [DY_OK] = "compiled",
    [DY_R_IO] = "io_error",
    [DY_R_SYMLINK] = "symlink",
    [DY_R_NOT_REGULAR] = "not_regular",
    [DY_R_TOO_LARGE] = "too_large",
    [DY_R_TOO_DEEP] = "too_deep",
    [DY_R_NOT_TEXT] = "not_text",
    [DY_R_SYNTAX] = "syntax_error",
    [DY_R_UNDEFINED] = "undefined_identifier",
    [DY_R_UNKNOWN_MODULE] = "unknown_module",
    [DY_R_INCLUDE] = "include_refused",
    [DY_R_DUPLICATE_RULE] = "duplicate_rule",
    [DY_R_COMPILE] = "compile_error",
};

const char *dy_reason_name(int reason)
{
    return reason >= 0 && reason < DY_REASON_COUNT ? dy_reason_names[reason] : "?";
}

const char *dy_status_name(int status)
{
    switch (status) {
    case DY_ST_COMPILED:
        return "compiled";
    case DY_ST_FAILED:
        return "failed";
    case DY_ST_SKIPPED:
        return "skipped";
    }
    return "?";
}

const char *dy_cache_state_name(int state)
{
    static const char *const names[] = {"off",     "hit",     "absent",  "stale",
                                        "refused", "damaged", "io_error"};
    return state >= 0 && state < (int)(sizeof(names) / sizeof(names[0])) ? names[state] : "?";
}

/* ---- one file ---- */

struct dy_file {
    char *path, *relpath;
    uint32_t dir;
    enum dy_status status;
    enum dy_reason reason;
    uint32_t line, rules;
    char msg[DY_MSG_MAX];
    struct dy_warning *warnings; /* DY_WARNINGS_MAX, or NULL when none */
    uint32_t n_warnings, warnings_dropped;
    char *data; /* the content, NUL-terminated; NULL unless read */
    size_t len;
    char **names; /* its rules' names, while the set is built */
    uint32_t n_names;
};

struct dy_rules {
    YR_RULES *rules;
    uint8_t hash[32], key[32];
    uint32_t count;
};

struct dy_load {
    const struct dy_load_opts *opts;
    struct dy_file *files;
    size_t n, cap;
    uint64_t source_bytes;
    struct dy_load_stats *st;
    char *err;
    size_t errlen;
};

static double dy_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void dy_file_free(struct dy_file *f)
{
    free(f->path);
    free(f->relpath);
    free(f->warnings);
    free(f->data);
    for (uint32_t i = 0; i < f->n_names; i++)
        free(f->names[i]);
    free(f->names);
}

static void dy_set_msg(struct dy_file *f, enum dy_status status, enum dy_reason reason,
                       uint32_t line, const char *fmt, const char *a, const char *b)
{
    f->status = status;
    f->reason = reason;
    f->line = line;
    snprintf(f->msg, sizeof(f->msg), fmt, a, b);
}

/* A new file entry (path, relpath copied), or NULL without memory. */
static struct dy_file *dy_add(struct dy_load *l, const char *path, size_t root_len, uint32_t dir)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        struct dy_file *nf = realloc(l->files, ncap * sizeof(*nf));
        if (!nf)
            return NULL;
        l->files = nf;
        l->cap = ncap;
    }
    struct dy_file *f = &l->files[l->n];
    memset(f, 0, sizeof(*f));
    f->dir = dir;
    f->path = strdup(path);
    f->relpath = strdup(path + root_len + 1);
    if (!f->path || !f->relpath) {
        dy_file_free(f);
        return NULL;
    }
    l->n++;
    return f;
}

/* Reads dfd/name once through one descriptor into f. */
static void dy_read_at(struct dy_load *l, struct dy_file *f, int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            dy_set_msg(f, DY_ST_SKIPPED, DY_R_SYMLINK, 0,
                       "%s: a symbolic link, which is not followed%s", f->path, "");
        else
            dy_set_msg(f, DY_ST_SKIPPED, DY_R_IO, 0, "%s: cannot open: %s", f->path, strerror(e));
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        dy_set_msg(f, DY_ST_SKIPPED, DY_R_NOT_REGULAR, 0, "%s: not a regular file%s", f->path, "");
        return;
    }
    if ((uint64_t)st.st_size > DY_RULE_FILE_MAX) {
        close(fd);
        char cap[32];
        snprintf(cap, sizeof(cap), "%u", DY_RULE_FILE_MAX);
        dy_set_msg(f, DY_ST_SKIPPED, DY_R_TOO_LARGE, 0,
                   "%s: larger than the cap of %s bytes per rule file", f->path, cap);
        return;
    }
    char *buf = malloc(DY_RULE_FILE_MAX + 2u);
    if (!buf) {
        close(fd);
        dy_set_msg(f, DY_ST_SKIPPED, DY_R_IO, 0, "%s: %s", f->path, "out of memory");
        return;
    }
    size_t len = 0;
    int e = 0;
    /* Read to the cap plus one: the file may have grown since fstat. */
    while (len < DY_RULE_FILE_MAX + 1u) {
        ssize_t n = read(fd, buf + len, DY_RULE_FILE_MAX + 1u - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (e) {
        free(buf);
        dy_set_msg(f, DY_ST_SKIPPED, DY_R_IO, 0, "%s: cannot read: %s", f->path, strerror(e));
        return;
    }
    if (len > DY_RULE_FILE_MAX || l->source_bytes + len > DY_SOURCES_MAX) {
        free(buf);
        dy_set_msg(f, DY_ST_SKIPPED, DY_R_TOO_LARGE, 0, "%s: %s", f->path,
                   len > DY_RULE_FILE_MAX ? "larger than the cap of bytes per rule file"
                                          : "past the cap of rule bytes per load");
        return;
    }
    buf[len] = '\0';
    f->data = buf;
    f->len = len;
    l->source_bytes += len;
    /* yr_compiler_add_string stops at a NUL; a rule file is text. */
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        char off[32];
        snprintf(off, sizeof(off), "%zu", (size_t)(nul - buf));
        dy_set_msg(f, DY_ST_FAILED, DY_R_NOT_TEXT, 0, "%s: a NUL byte at offset %s", f->path, off);
        return;
    }
    f->status = DY_ST_COMPILED; /* until compiling says otherwise */
}

static int dy_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool dy_is_rule_name(const char *n)
{
    size_t l = strlen(n);
    return (l > 4 && strcmp(n + l - 4, ".yar") == 0) || (l > 5 && strcmp(n + l - 5, ".yara") == 0);
}

/* Walks the folder open at fd (taken), named path. */
static int dy_walk(struct dy_load *l, int fd, const char *path, size_t root_len, uint32_t dir,
                   unsigned depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        snprintf(l->err, l->errlen, "%s: cannot read the folder: %s", path, strerror(e));
        return RP_ERR_IO;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n >= DY_DIR_FILES_MAX) {
            snprintf(l->err, l->errlen, "%s: more entries than the cap of %u", path,
                     DY_DIR_FILES_MAX);
            rc = RP_ERR_RANGE;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn) {
                rc = RP_ERR_NOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name))) {
            rc = RP_ERR_NOMEM;
            break;
        }
        n++;
    }
    if (rc == 0 && errno != 0) {
        snprintf(l->err, l->errlen, "%s: cannot read the folder: %s", path, strerror(errno));
        rc = RP_ERR_IO;
    }
    /* Name order: the same folder gives the same set, key and first of two
     * rules with one name on every machine. */
    if (rc == 0)
        qsort(names, n, sizeof(*names), dy_name_cmp);
    int dfd = dirfd(d);
    size_t plen = strlen(path);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t clen = plen + 1 + strlen(names[i]);
        char *child = malloc(clen + 1);
        if (!child) {
            rc = RP_ERR_NOMEM;
            break;
        }
        snprintf(child, clen + 1, "%s/%s", path, names[i]);
        struct stat st;
        if (fstatat(dfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0) {
            /* Gone since it was listed: nothing to load. */
        } else if (S_ISDIR(st.st_mode)) {
            if (depth + 1 > DY_DIR_DEPTH_MAX) {
                struct dy_file *f = dy_add(l, child, root_len, dir);
                if (!f)
                    rc = RP_ERR_NOMEM;
                else
                    snprintf(f->msg, sizeof(f->msg),
                             "%s: a folder deeper than the cap of %u levels, not loaded", child,
                             DY_DIR_DEPTH_MAX);
                if (f) {
                    f->status = DY_ST_SKIPPED;
                    f->reason = DY_R_TOO_DEEP;
                }
            } else {
                int cfd = openat(dfd, names[i],
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (cfd >= 0) {
                    rc = dy_walk(l, cfd, child, root_len, dir, depth + 1);
                } else {
                    struct dy_file *f = dy_add(l, child, root_len, dir);
                    if (!f)
                        rc = RP_ERR_NOMEM;
                    else
                        dy_set_msg(f, DY_ST_SKIPPED, DY_R_IO, 0, "%s: cannot open the folder: %s",
                                   child, strerror(errno));
                }
            }
        } else if (dy_is_rule_name(names[i])) {
            if (l->n >= DY_DIR_FILES_MAX) {
                snprintf(l->err, l->errlen, "%s: past the cap of %u rule files per load", child,
                         DY_DIR_FILES_MAX);
                rc = RP_ERR_RANGE;
            } else {
                struct dy_file *f = dy_add(l, child, root_len, dir);
                if (!f)
                    rc = RP_ERR_NOMEM;
                else
                    dy_read_at(l, f, dfd, names[i]);
            }
        }
        free(child);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

/* ---- keys ---- */

static void dy_hash_u64(rp_util_sha256 *s, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    rp_util_sha256_update(s, b, sizeof(b));
}

/* SHA-256 over the versions and the files whose status is at least as
 * good as `upto` (DY_ST_FAILED: every file read; DY_ST_COMPILED: the
 * set). */
static void dy_key(const struct dy_load *l, const char *domain, enum dy_status upto,
                   uint8_t out[32])
{
    rp_util_sha256 s;
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, domain, strlen(domain) + 1);
    dy_hash_u64(&s, DY_CACHE_FORMAT);
    dy_hash_u64(&s, YR_VERSION_HEX);
    dy_hash_u64(&s, YR_ARENA_FILE_VERSION);
    for (size_t i = 0; i < l->n; i++) {
        const struct dy_file *f = &l->files[i];
        if (!f->data || f->status > upto)
            continue;
        dy_hash_u64(&s, f->dir);
        dy_hash_u64(&s, strlen(f->relpath));
        rp_util_sha256_update(&s, f->relpath, strlen(f->relpath));
        dy_hash_u64(&s, f->len);
        rp_util_sha256_update(&s, f->data, f->len);
    }
    rp_util_sha256_final(&s, out);
}

/* ---- compiling ---- */

struct dy_cctx {
    struct dy_file *f;
    bool errored, include_refused, keep_warnings;
};

static void dy_compiler_cb(int level, const char *file_name, int line, const YR_RULE *rule,
                           const char *message, void *user)
{
    (void)file_name;
    struct dy_cctx *c = user;
    struct dy_file *f = c->f;
    if (!f)
        return;
    if (level == YARA_ERROR_LEVEL_ERROR) {
        /* The first error is the one that stopped the file. */
        if (!c->errored) {
            c->errored = true;
            f->line = line > 0 ? (uint32_t)line : 0;
            snprintf(f->msg, sizeof(f->msg), "%s:%d: %s", f->path, line, message);
        }
        return;
    }
    if (!c->keep_warnings)
        return;
    if (f->n_warnings >= DY_WARNINGS_MAX) {
        f->warnings_dropped++;
        return;
    }
    if (!f->warnings && !(f->warnings = calloc(DY_WARNINGS_MAX, sizeof(*f->warnings)))) {
        f->warnings_dropped++;
        return;
    }
    struct dy_warning *w = &f->warnings[f->n_warnings++];
    w->line = line > 0 ? (uint32_t)line : 0;
    snprintf(w->rule, sizeof(w->rule), "%s", rule && rule->identifier ? rule->identifier : "");
    snprintf(w->msg, sizeof(w->msg), "%s", message);
}

/* Refuses every include (rules.h says why); the flag tells the error's
 * reason apart from other errors. */
static const char *dy_include_cb(const char *include_name, const char *calling_file,
                                 const char *calling_ns, void *user)
{
    (void)include_name;
    (void)calling_file;
    (void)calling_ns;
    struct dy_cctx *c = user;
    c->include_refused = true;
    return NULL;
}

static enum dy_reason dy_reason_of(const YR_COMPILER *comp, const struct dy_cctx *c)
{
    if (c->include_refused)
        return DY_R_INCLUDE;
    switch (comp->last_error) {
    case ERROR_SYNTAX_ERROR:
        return DY_R_SYNTAX;
    case ERROR_UNDEFINED_IDENTIFIER:
        return DY_R_UNDEFINED;
    case ERROR_UNKNOWN_MODULE:
        return DY_R_UNKNOWN_MODULE;
    case ERROR_DUPLICATED_IDENTIFIER:
        return DY_R_DUPLICATE_RULE;
    }
    return DY_R_COMPILE;
}

/* A compiler with the loader's callbacks. */
static int dy_compiler(YR_COMPILER **comp, struct dy_cctx *c)
{
    if (yr_compiler_create(comp) != ERROR_SUCCESS)
        return RP_ERR_NOMEM;
    yr_compiler_set_callback(*comp, dy_compiler_cb, c);
    yr_compiler_set_include_callback(*comp, dy_include_cb, NULL, c);
    return 0;
}

/* Adds f to comp: 0 when it compiled, 1 when it failed (f says why). */
static int dy_add_file(YR_COMPILER *comp, struct dy_cctx *c, struct dy_file *f,
                       struct dy_load_stats *st)
{
    c->f = f;
    c->errored = false;
    c->include_refused = false;
    st->compiles++;
    int errors = yr_compiler_add_string(comp, f->data, NULL);
    c->f = NULL;
    if (errors == 0)
        return 0;
    f->status = DY_ST_FAILED;
    f->reason = dy_reason_of(comp, c);
    if (!c->errored)
        snprintf(f->msg, sizeof(f->msg), "%s: libyara error %d", f->path, comp->last_error);
    return 1;
}

/* Compiles f on its own: status, reason, message, warnings, rule names. */
static int dy_compile_alone(struct dy_file *f, struct dy_load_stats *st)
{
    struct dy_cctx c = {.keep_warnings = true};
    YR_COMPILER *comp;
    int rc = dy_compiler(&comp, &c);
    if (rc < 0)
        return rc;
    if (dy_add_file(comp, &c, f, st) != 0) {
        yr_compiler_destroy(comp);
        return 0;
    }
    YR_RULES *rules = NULL;
    if (yr_compiler_get_rules(comp, &rules) != ERROR_SUCCESS) {
        yr_compiler_destroy(comp);
        return RP_ERR_NOMEM;
    }
    const YR_RULE *r;
    uint32_t n = 0;
    yr_rules_foreach(rules, r) n++;
    f->rules = n;
    f->names = n ? calloc(n, sizeof(*f->names)) : NULL;
    if (n && !f->names)
        rc = RP_ERR_NOMEM;
    yr_rules_foreach(rules, r)
    {
        if (rc < 0)
            break;
        if (!(f->names[f->n_names] = strdup(r->identifier)))
            rc = RP_ERR_NOMEM;
        else
            f->n_names++;
    }
    yr_rules_destroy(rules);
    yr_compiler_destroy(comp);
    return rc;
}

/* Fails each file defining a rule name that an earlier compiled file
 * defines: libyara would refuse the whole set for it. */
static int dy_check_duplicates(struct dy_load *l)
{
    size_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        if (l->files[i].status == DY_ST_COMPILED)
            total += l->files[i].n_names;
    size_t cap = 16;
    while (cap < total * 2)
        cap *= 2;
    /* Open addressing over the names of the files kept so far; the value
     * is the file index + 1. */
    const char **keys = calloc(cap, sizeof(*keys));
    size_t *owner = calloc(cap, sizeof(*owner));
    if (!keys || !owner) {
        free(keys);
        free(owner);
        return RP_ERR_NOMEM;
    }
    for (size_t i = 0; i < l->n; i++) {
        struct dy_file *f = &l->files[i];
        if (f->status != DY_ST_COMPILED)
            continue;
        size_t clash = 0;
        const char *clash_name = NULL;
        for (uint32_t k = 0; k < f->n_names && !clash; k++) {
            uint8_t h[32];
            rp_util_sha256 s;
            rp_util_sha256_init(&s);
            rp_util_sha256_update(&s, f->names[k], strlen(f->names[k]));
            rp_util_sha256_final(&s, h);
            size_t at = (((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3]) &
                        (cap - 1);
            while (keys[at]) {
                if (strcmp(keys[at], f->names[k]) == 0) {
                    clash = owner[at];
                    clash_name = f->names[k];
                    break;
                }
                at = (at + 1) & (cap - 1);
            }
        }
        if (clash) {
            f->status = DY_ST_FAILED;
            f->reason = DY_R_DUPLICATE_RULE;
            f->line = 0;
            snprintf(f->msg, sizeof(f->msg), "%s: rule \"%s\" is already defined in %s", f->path,
                     clash_name, l->files[clash - 1].path);
            continue;
        }
        for (uint32_t k = 0; k < f->n_names; k++) {
            uint8_t h[32];
            rp_util_sha256 s;
            rp_util_sha256_init(&s);
            rp_util_sha256_update(&s, f->names[k], strlen(f->names[k]));
            rp_util_sha256_final(&s, h);
            size_t at = (((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3]) &
                        (cap - 1);
            while (keys[at] && strcmp(keys[at], f->names[k]) != 0)
                at = (at + 1) & (cap - 1);
            if (!keys[at]) {
                keys[at] = f->names[k];
                owner[at] = i + 1;
            }
        }
    }
    free(keys);
    free(owner);
    return 0;
}

/* Puts every file read back to "read, not compiled yet". */
static void dy_reset_pending(struct dy_load *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct dy_file *f = &l->files[i];
        if (!f->data)
            continue;
        f->status = f->reason == DY_R_NOT_TEXT ? DY_ST_FAILED : DY_ST_COMPILED;
        if (f->reason != DY_R_NOT_TEXT) {
            f->reason = DY_OK;
            f->line = 0;
            f->msg[0] = '\0';
        }
        f->rules = 0;
        f->n_warnings = 0;
        f->warnings_dropped = 0;
        free(f->warnings);
        f->warnings = NULL;
    }
}

/* The fast path: every file read added to one compiler, which is how the
 * yara command line compiles and about ten times faster than a compiler
 * per file (each builds its own tables). Returns 0 with the set, 1 when a
 * file failed (every file is then back to pending and the careful path
 * runs: a compiler cannot go on after an error), or an error. */
static int dy_build_at_once(struct dy_load *l, YR_RULES **out)
{
    struct dy_cctx c = {.keep_warnings = true};
    YR_COMPILER *comp;
    int rc = dy_compiler(&comp, &c);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < l->n; i++) {
        struct dy_file *f = &l->files[i];
        if (f->status != DY_ST_COMPILED)
            continue;
        uint32_t before = comp->next_rule_idx;
        if (dy_add_file(comp, &c, f, l->st) != 0) {
            yr_compiler_destroy(comp);
            dy_reset_pending(l);
            return 1;
        }
        f->rules = comp->next_rule_idx - before;
    }
    rc = yr_compiler_get_rules(comp, out) == ERROR_SUCCESS ? 0 : RP_ERR_NOMEM;
    yr_compiler_destroy(comp);
    return rc;
}

/* Builds the set from the files that compiled; a file that fails in the
 * set is failed and the set built again without it. */
static int dy_build(struct dy_load *l, YR_RULES **out)
{
    for (;;) {
        struct dy_cctx c = {.keep_warnings = false};
        YR_COMPILER *comp;
        int rc = dy_compiler(&comp, &c);
        if (rc < 0)
            return rc;
        bool failed = false;
        for (size_t i = 0; i < l->n && !failed; i++) {
            struct dy_file *f = &l->files[i];
            if (f->status != DY_ST_COMPILED)
                continue;
            f->line = 0;
            failed = dy_add_file(comp, &c, f, l->st) != 0;
        }
        if (failed) {
            yr_compiler_destroy(comp);
            continue;
        }
        rc = yr_compiler_get_rules(comp, out) == ERROR_SUCCESS ? 0 : RP_ERR_NOMEM;
        yr_compiler_destroy(comp);
        return rc;
    }
}

/* ---- the cache ---- */

struct dy_buf {
    uint8_t *p;
    size_t len, cap;
    bool failed;
};

static void dy_put(struct dy_buf *b, const void *data, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap < b->len + n)
            ncap *= 2;
        uint8_t *np = ncap <= DY_CACHE_MAX ? realloc(b->p, ncap) : NULL;
        if (!np) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void dy_put_le(struct dy_buf *b, uint64_t v, size_t n)
{
    uint8_t x[8];
    for (size_t i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    dy_put(b, x, n);
}

static uint64_t dy_get_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static size_t dy_stream_write(const void *ptr, size_t size, size_t count, void *user)
{
    struct dy_buf *b = user;
    if (size && count > SIZE_MAX / size)
        return 0;
    dy_put(b, ptr, size * count);
    return b->failed ? 0 : count;
}

struct dy_rd {
    const uint8_t *p;
    size_t len, at;
};

static size_t dy_stream_read(void *ptr, size_t size, size_t count, void *user)
{
    struct dy_rd *r = user;
    if (size == 0)
        return 0;
    size_t n = (r->len - r->at) / size;
    if (n > count)
        n = count;
    memcpy(ptr, r->p + r->at, n * size);
    r->at += n * size;
    return n;
}

static const uint8_t dy_magic[8] = {'R', 'P', 'D', 'Y', 'R', 'C', '\r', '\n'};

static size_t dy_strnlen(const char *s, size_t max)
{
    const char *e = memchr(s, '\0', max);
    return e ? (size_t)(e - s) : max;
}

int dy_cache_parse(const uint8_t *buf, size_t len, struct dy_cache_view *v, char *why,
                   size_t whylen)
{
    memset(v, 0, sizeof(*v));
    if (len < DY_CACHE_HEADER || memcmp(buf, dy_magic, sizeof(dy_magic)) != 0) {
        snprintf(why, whylen, "no cache header (%zu bytes)", len);
        return RP_ERR_PARSE;
    }
    uint32_t format = (uint32_t)dy_get_le(buf + 8, 4), yver = (uint32_t)dy_get_le(buf + 12, 4);
    if (format != DY_CACHE_FORMAT || yver != YR_VERSION_HEX) {
        snprintf(why, whylen, "format %u of libyara %06x, expected format %u of libyara %06x",
                 format, yver, DY_CACHE_FORMAT, (unsigned)YR_VERSION_HEX);
        return RP_ERR_VERSION;
    }
    memcpy(v->source_key, buf + 16, 32);
    memcpy(v->rules_hash, buf + 48, 32);
    v->n_records = (uint32_t)dy_get_le(buf + 80, 4);
    v->n_rules = (uint32_t)dy_get_le(buf + 84, 4);
    uint64_t rlen = dy_get_le(buf + 88, 8), blen = dy_get_le(buf + 96, 8);
    size_t body = len - DY_CACHE_HEADER;
    if (rlen > body || blen != body - rlen || v->n_records > DY_DIR_FILES_MAX) {
        snprintf(why, whylen, "torn: the header announces %llu + %llu bytes, the file has %zu",
                 (unsigned long long)rlen, (unsigned long long)blen, body);
        return RP_ERR_PARSE;
    }
    uint8_t h[32];
    rp_util_sha256 s;
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, buf + DY_CACHE_HEADER, body);
    rp_util_sha256_final(&s, h);
    if (memcmp(h, buf + 104, 32) != 0) {
        snprintf(why, whylen, "%s", "corrupt: the body does not match its SHA-256");
        return RP_ERR_PARSE;
    }
    v->records = buf + DY_CACHE_HEADER;
    v->records_len = (size_t)rlen;
    v->blob = v->records + rlen;
    v->blob_len = (size_t)blen;
    /* Every record is checked now, so that using them cannot fail half way. */
    size_t at = 0;
    struct dy_warning *ws = malloc(DY_WARNINGS_MAX * sizeof(*ws));
    if (!ws)
        return RP_ERR_NOMEM;
    struct dy_file_report rep;
    const char *rel;
    size_t rel_len;
    uint32_t n = 0;
    int rc;
    while ((rc = dy_cache_record(v, &at, &rep, &rel, &rel_len, ws)) == 1)
        n++;
    free(ws);
    if (rc < 0 || n != v->n_records) {
        snprintf(why, whylen, "corrupt: record %u of %u does not parse", n, v->n_records);
        return RP_ERR_PARSE;
    }
    return 0;
}

int dy_cache_record(const struct dy_cache_view *v, size_t *at, struct dy_file_report *rep,
                    const char **relpath, size_t *relpath_len, struct dy_warning *warnings)
{
    const uint8_t *p = v->records;
    size_t len = v->records_len, i = *at;
    if (i == len)
        return 0;
    if (len - i < 16)
        return RP_ERR_PARSE;
    memset(rep, 0, sizeof(*rep));
    uint32_t status = p[i], reason = p[i + 1];
    uint32_t nw = (uint32_t)dy_get_le(p + i + 2, 2);
    rep->line = (uint32_t)dy_get_le(p + i + 4, 4);
    rep->rules = (uint32_t)dy_get_le(p + i + 8, 4);
    size_t rl = (size_t)dy_get_le(p + i + 12, 2), ml = (size_t)dy_get_le(p + i + 14, 2);
    i += 16;
    if (status > DY_ST_FAILED || reason >= DY_REASON_COUNT || nw > DY_WARNINGS_MAX ||
        (status == DY_ST_COMPILED) != (reason == DY_OK) || rl == 0 || rl > PATH_MAX ||
        ml >= DY_MSG_MAX || len - i < rl + ml)
        return RP_ERR_PARSE;
    rep->status = (enum dy_status)status;
    rep->reason = (enum dy_reason)reason;
    *relpath = (const char *)p + i;
    *relpath_len = rl;
    memcpy(rep->msg, p + i + rl, ml);
    rep->msg[ml] = '\0';
    i += rl + ml;
    for (uint32_t k = 0; k < nw; k++) {
        if (len - i < 8)
            return RP_ERR_PARSE;
        struct dy_warning *w = &warnings[k];
        w->line = (uint32_t)dy_get_le(p + i, 4);
        size_t wr = (size_t)dy_get_le(p + i + 4, 2), wm = (size_t)dy_get_le(p + i + 6, 2);
        i += 8;
        if (wr >= DY_RULE_NAME_MAX || wm >= DY_MSG_MAX || len - i < wr + wm)
            return RP_ERR_PARSE;
        memcpy(w->rule, p + i, wr);
        w->rule[wr] = '\0';
        memcpy(w->msg, p + i + wr, wm);
        w->msg[wm] = '\0';
        i += wr + wm;
    }
    rep->warnings = warnings;
    rep->n_warnings = nw;
    *at = i;
    return 1;
}

static void dy_put_str(struct dy_buf *b, const char *s, size_t max)
{
    dy_put(b, s, dy_strnlen(s, max));
}

/* Serializes the set and the per-file results. */
static int dy_cache_encode(const struct dy_load *l, const struct dy_rules *r, struct dy_buf *b)
{
    uint8_t zero[DY_CACHE_HEADER] = {0};
    dy_put(b, zero, sizeof(zero));
    uint32_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct dy_file *f = &l->files[i];
        if (!f->data)
            continue;
        n++;
        dy_put_le(b, f->status, 1);
        dy_put_le(b, f->reason, 1);
        dy_put_le(b, f->n_warnings, 2);
        dy_put_le(b, f->line, 4);
        dy_put_le(b, f->rules, 4);
        dy_put_le(b, dy_strnlen(f->relpath, PATH_MAX), 2);
        dy_put_le(b, dy_strnlen(f->msg, DY_MSG_MAX - 1), 2);
        dy_put_str(b, f->relpath, PATH_MAX);
        dy_put_str(b, f->msg, DY_MSG_MAX - 1);
        for (uint32_t k = 0; k < f->n_warnings; k++) {
            const struct dy_warning *w = &f->warnings[k];
            dy_put_le(b, w->line, 4);
            dy_put_le(b, dy_strnlen(w->rule, DY_RULE_NAME_MAX - 1), 2);
            dy_put_le(b, dy_strnlen(w->msg, DY_MSG_MAX - 1), 2);
            dy_put_str(b, w->rule, DY_RULE_NAME_MAX - 1);
            dy_put_str(b, w->msg, DY_MSG_MAX - 1);
        }
    }
    size_t rec_end = b->len;
    YR_STREAM stream = {.user_data = b, .write = dy_stream_write};
    if (b->failed || yr_rules_save_stream(r->rules, &stream) != ERROR_SUCCESS || b->failed)
        return b->failed ? RP_ERR_RANGE : RP_ERR_INTERNAL;
    uint8_t *h = b->p;
    memcpy(h, dy_magic, sizeof(dy_magic));
    for (int i = 0; i < 4; i++) {
        h[8 + i] = (uint8_t)(DY_CACHE_FORMAT >> (8 * i));
        h[12 + i] = (uint8_t)((uint32_t)YR_VERSION_HEX >> (8 * i));
        h[80 + i] = (uint8_t)(n >> (8 * i));
        h[84 + i] = (uint8_t)(r->count >> (8 * i));
    }
    memcpy(h + 16, r->key, 32);
    memcpy(h + 48, r->hash, 32);
    uint64_t rlen = rec_end - DY_CACHE_HEADER, blen = b->len - rec_end;
    for (int i = 0; i < 8; i++) {
        h[88 + i] = (uint8_t)(rlen >> (8 * i));
        h[96 + i] = (uint8_t)(blen >> (8 * i));
    }
    rp_util_sha256 s;
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, b->p + DY_CACHE_HEADER, b->len - DY_CACHE_HEADER);
    rp_util_sha256_final(&s, h + 104);
    return 0;
}

static int dy_write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return RP_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int dy_cache_save(const struct dy_load *l, const struct dy_rules *r, const char *name,
                         uint64_t *bytes)
{
    int dfd = l->opts->cache_dirfd;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", name) >= (int)sizeof(tmp))
        return RP_ERR_RANGE;
    struct dy_buf b = {0};
    int rc = dy_cache_encode(l, r, &b);
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    /* A temporary file a crash left behind goes first; O_EXCL then makes
     * sure nothing planted in its place is written through. */
    unlinkat(dfd, tmp, 0);
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(b.p);
        return RP_ERR_IO;
    }
    rc = dy_write_all(fd, b.p, b.len);
    if (rc == 0 && fsync(fd) != 0)
        rc = RP_ERR_IO;
    if (close(fd) != 0 && rc == 0)
        rc = RP_ERR_IO;
    if (rc == 0 && renameat(dfd, tmp, dfd, name) != 0)
        rc = RP_ERR_IO;
    if (rc == 0 && fsync(dfd) != 0)
        rc = RP_ERR_IO;
    if (rc < 0)
        unlinkat(dfd, tmp, 0);
    else
        *bytes = b.len;
    free(b.p);
    return rc;
}

/* Reads the cache file whole through one checked descriptor. */
static int dy_cache_read(const struct dy_load *l, const char *name, uint8_t **out, size_t *len)
{
    struct dy_load_stats *st = l->st;
    int fd = openat(l->opts->cache_dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        st->cache = e == ENOENT ? DY_CACHE_ABSENT : e == ELOOP ? DY_CACHE_REFUSED : DY_CACHE_IO;
        snprintf(st->cache_msg, sizeof(st->cache_msg), "%s: %s", name,
                 e == ELOOP ? "a symbolic link, refused" : strerror(e));
        return RP_ERR_IO;
    }
    struct stat s;
    const char *bad = NULL;
    if (fstat(fd, &s) != 0)
        bad = "cannot be examined";
    else if (!S_ISREG(s.st_mode))
        bad = "not a regular file";
    else if (s.st_uid != geteuid())
        bad = "owned by another user";
    else if (s.st_mode & 022)
        bad = "writable by group or others";
    else if ((uint64_t)s.st_size > DY_CACHE_MAX)
        bad = "larger than the cache cap";
    if (bad) {
        close(fd);
        st->cache = DY_CACHE_REFUSED;
        snprintf(st->cache_msg, sizeof(st->cache_msg), "%s: %s, refused", name, bad);
        return RP_ERR_PERM;
    }
    size_t want = (size_t)s.st_size, n = 0;
    uint8_t *buf = malloc(want ? want : 1);
    if (!buf) {
        close(fd);
        return RP_ERR_NOMEM;
    }
    int e = 0;
    while (n < want) {
        ssize_t k = read(fd, buf + n, want - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            e = errno;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (e) {
        free(buf);
        st->cache = DY_CACHE_IO;
        snprintf(st->cache_msg, sizeof(st->cache_msg), "%s: %s", name, strerror(e));
        return RP_ERR_IO;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Loads the set and the per-file results from the cache: 0 on a hit, 1 on
 * a miss (stats say why), RP_ERR_NOMEM. */
static int dy_cache_load(struct dy_load *l, struct dy_rules *r, const char *name)
{
    struct dy_load_stats *st = l->st;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = dy_cache_read(l, name, &buf, &len);
    if (rc == RP_ERR_NOMEM)
        return rc;
    if (rc < 0)
        return 1;
    st->cache_bytes = len;
    struct dy_cache_view v;
    char why[DY_MSG_MAX - 64];
    rc = dy_cache_parse(buf, len, &v, why, sizeof(why));
    if (rc == 0 && memcmp(v.source_key, r->key, 32) != 0) {
        st->cache = DY_CACHE_STALE;
        snprintf(st->cache_msg, sizeof(st->cache_msg), "%s: made from other sources", name);
        free(buf);
        return 1;
    }
    if (rc < 0) {
        st->cache = rc == RP_ERR_VERSION ? DY_CACHE_STALE : DY_CACHE_DAMAGED;
        snprintf(st->cache_msg, sizeof(st->cache_msg), "%s: %s", name, why);
        free(buf);
        return 1;
    }
    /* The records belong to the files read, in order. */
    size_t at = 0, k = 0;
    struct dy_file_report rep;
    const char *rel;
    size_t rel_len;
    bool ok = true;
    struct dy_warning *ws = malloc(DY_WARNINGS_MAX * sizeof(*ws));
    if (!ws) {
        free(buf);
        return RP_ERR_NOMEM;
    }
    for (size_t i = 0; i < l->n && ok; i++) {
        struct dy_file *f = &l->files[i];
        if (!f->data)
            continue;
        ok = dy_cache_record(&v, &at, &rep, &rel, &rel_len, ws) == 1 &&
             rel_len == strlen(f->relpath) && memcmp(rel, f->relpath, rel_len) == 0;
        /* Warnings take memory only where there are some (the compile
         * path gives a file DY_WARNINGS_MAX at its first). */
        if (ok && rep.n_warnings) {
            f->warnings = calloc(DY_WARNINGS_MAX, sizeof(*f->warnings));
            if (!f->warnings) {
                free(ws);
                free(buf);
                return RP_ERR_NOMEM;
            }
            memcpy(f->warnings, ws, rep.n_warnings * sizeof(*ws));
        }
        if (ok) {
            f->status = rep.status;
            f->reason = rep.reason;
            f->line = rep.line;
            f->rules = rep.rules;
            f->n_warnings = rep.n_warnings;
            memcpy(f->msg, rep.msg, sizeof(f->msg));
            k++;
        }
    }
    free(ws);
    if (ok && k != v.n_records)
        ok = false;
    YR_RULES *rules = NULL;
    if (ok) {
        struct dy_rd rd = {v.blob, v.blob_len, 0};
        YR_STREAM stream = {.user_data = &rd, .read = dy_stream_read};
        ok = yr_rules_load_stream(&stream, &rules) == ERROR_SUCCESS;
    }
    if (ok) {
        const YR_RULE *rule;
        uint32_t n = 0;
        yr_rules_foreach(rules, rule) n++;
        ok = n == v.n_rules;
    }
    if (!ok) {
        if (rules)
            yr_rules_destroy(rules);
        st->cache = DY_CACHE_DAMAGED;
        snprintf(st->cache_msg, sizeof(st->cache_msg), "%s: %s", name,
                 "the records or the compiled rules do not load");
        free(buf);
        dy_reset_pending(l);
        return 1;
    }
    r->rules = rules;
    r->count = v.n_rules;
    memcpy(r->hash, v.rules_hash, 32);
    st->cache = DY_CACHE_HIT;
    free(buf);
    return 0;
}

/* ---- the load ---- */

/* libyara counts yr_initialize / yr_finalize in a plain integer, and a rule
 * set's last reference can drop on a scanning thread while a reload loads
 * the next set on another: both calls go through one lock. */
static pthread_mutex_t dy_yara_lock = PTHREAD_MUTEX_INITIALIZER;

int dy_yara_init(void)
{
    pthread_mutex_lock(&dy_yara_lock);
    int rc = yr_initialize();
    pthread_mutex_unlock(&dy_yara_lock);
    return rc == ERROR_SUCCESS ? 0 : RP_ERR_INTERNAL;
}

void dy_yara_fini(void)
{
    pthread_mutex_lock(&dy_yara_lock);
    yr_finalize();
    pthread_mutex_unlock(&dy_yara_lock);
}

int dy_rules_load(const struct dy_load_opts *opts, dy_report_fn report, void *ctx,
                  struct dy_rules **out, struct dy_load_stats *stats, char *err, size_t errlen)
{
    struct dy_load_stats local;
    char errbuf[1];
    struct dy_load l = {.opts = opts,
                        .st = stats ? stats : &local,
                        .err = err && errlen ? err : errbuf,
                        .errlen = err && errlen ? errlen : sizeof(errbuf)};
    memset(l.st, 0, sizeof(*l.st));
    l.err[0] = '\0';
    *out = NULL;
    struct dy_load_stats *st = l.st;
    st->cache = opts->cache_dirfd >= 0 ? DY_CACHE_ABSENT : DY_CACHE_OFF;
    if (dy_yara_init() != 0)
        return RP_ERR_INTERNAL;
    struct dy_rules *r = calloc(1, sizeof(*r));
    if (!r) {
        dy_yara_fini();
        return RP_ERR_NOMEM;
    }
    int rc = 0;

    for (size_t d = 0; rc == 0 && d < opts->n_dirs; d++) {
        const char *dir = opts->dirs[d];
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            snprintf(l.err, l.errlen, "%s: cannot open the rule folder: %s", dir, strerror(errno));
            rc = RP_ERR_IO;
            break;
        }
        size_t root_len = strlen(dir);
        /* A trailing slash must not leave one at the start of relpath. */
        while (root_len > 1 && dir[root_len - 1] == '/')
            root_len--;
        char *root = strndup(dir, root_len);
        if (!root) {
            close(fd);
            rc = RP_ERR_NOMEM;
            break;
        }
        rc = dy_walk(&l, fd, root, root_len, (uint32_t)d, 0);
        free(root);
    }
    st->source_bytes = l.source_bytes;

    const char *name = opts->cache_name ? opts->cache_name : DY_CACHE_NAME;
    if (rc == 0) {
        dy_key(&l, "rampart-yara-sources", DY_ST_FAILED, r->key);
        if (opts->cache_dirfd >= 0) {
            double t0 = dy_now_ms();
            rc = dy_cache_load(&l, r, name);
            st->cache_load_ms = dy_now_ms() - t0;
            if (rc == 0)
                goto done;
            if (rc < 0)
                goto done;
            rc = 0;
        }
        double t0 = dy_now_ms();
        rc = dy_build_at_once(&l, &r->rules);
        if (rc == 1) {
            rc = 0;
            for (size_t i = 0; rc == 0 && i < l.n; i++)
                if (l.files[i].status == DY_ST_COMPILED)
                    rc = dy_compile_alone(&l.files[i], st);
            if (rc == 0)
                rc = dy_check_duplicates(&l);
            if (rc == 0)
                rc = dy_build(&l, &r->rules);
        }
        st->compile_ms = dy_now_ms() - t0;
        if (rc == 0) {
            const YR_RULE *rule;
            yr_rules_foreach(r->rules, rule) r->count++;
            dy_key(&l, "rampart-yara-rules", DY_ST_COMPILED, r->hash);
            if (opts->cache_dirfd >= 0) {
                t0 = dy_now_ms();
                st->cache_save_rc = dy_cache_save(&l, r, name, &st->cache_bytes);
                st->cache_save_ms = dy_now_ms() - t0;
            }
        }
    }
done:
    for (size_t i = 0; i < l.n; i++) {
        struct dy_file *f = &l.files[i];
        if (rc == 0) {
            st->files++;
            st->per_reason[f->reason]++;
            st->warnings += f->n_warnings + f->warnings_dropped;
            if (f->status == DY_ST_COMPILED) {
                st->compiled++;
                st->rules += f->rules;
            } else if (f->status == DY_ST_FAILED) {
                st->failed++;
            } else {
                st->skipped++;
            }
            if (report) {
                struct dy_file_report rep = {.path = f->path,
                                             .relpath = f->relpath,
                                             .status = f->status,
                                             .reason = f->reason,
                                             .line = f->line,
                                             .rules = f->status == DY_ST_COMPILED ? f->rules : 0,
                                             .warnings = f->warnings,
                                             .n_warnings = f->n_warnings,
                                             .warnings_dropped = f->warnings_dropped};
                memcpy(rep.msg, f->msg, sizeof(rep.msg));
                report(ctx, &rep);
            }
        }
        dy_file_free(f);
    }
    free(l.files);
    if (rc < 0) {
        dy_rules_destroy(r);
        return rc;
    }
    *out = r;
    return 0;
}

void dy_rules_destroy(struct dy_rules *r)
{
    if (!r)
        return;
    if (r->rules)
        yr_rules_destroy(r->rules);
    free(r);
    dy_yara_fini();
}

YR_RULES *dy_rules_yara(const struct dy_rules *r)
{
    return r->rules;
}

const uint8_t *dy_rules_hash(const struct dy_rules *r)
{
    return r->hash;
}

const uint8_t *dy_rules_source_key(const struct dy_rules *r)
{
    return r->key;
}

uint32_t dy_rules_count(const struct dy_rules *r)
{
    return r->count;
}
