/*
 * plugins/detector_sigma/engine.c - the rule set of engine.h: loading rule
 * files and folders, adding compiled rules, building the buckets and the
 * per-evaluation scratch. compile.c compiles one rule, eval.c evaluates,
 * index.c builds and queries the index.
 */
#define _GNU_SOURCE
#include "engine_int.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const ds_event_type_names[DS_EV_COUNT] = {
    [DS_EV_PROCESS_EXEC] = "process.exec",     [DS_EV_FILE_CREATE] = "file.create",
    [DS_EV_FILE_MODIFY] = "file.modify",       [DS_EV_FILE_RENAME] = "file.rename",
    [DS_EV_FILE_DELETE] = "file.delete",       [DS_EV_NETWORK_CONNECT] = "network.connect",
    [DS_EV_NETWORK_ACCEPT] = "network.accept",
};

const char *ds_event_type_name(int type)
{
    if (type < 0 || type >= DS_EV_COUNT)
        return "?";
    return ds_event_type_names[type];
}

int ds_event_type_lookup(const char *name, size_t len)
{
    for (int i = 0; i < DS_EV_COUNT; i++)
        if (strlen(ds_event_type_names[i]) == len && memcmp(ds_event_type_names[i], name, len) == 0)
            return i;
    return -1;
}

bool ds_logsource_covers(int ls, int type)
{
    switch (ls) {
    case DS_LS_PROCESS_CREATION:
        return type == DS_EV_PROCESS_EXEC;
    case DS_LS_FILE_EVENT:
        return type == DS_EV_FILE_CREATE || type == DS_EV_FILE_MODIFY || type == DS_EV_FILE_RENAME;
    case DS_LS_FILE_CHANGE:
        return type == DS_EV_FILE_MODIFY;
    case DS_LS_FILE_RENAME:
        return type == DS_EV_FILE_RENAME;
    case DS_LS_FILE_DELETE:
        return type == DS_EV_FILE_DELETE;
    case DS_LS_NETWORK_CONNECTION:
        return type == DS_EV_NETWORK_CONNECT || type == DS_EV_NETWORK_ACCEPT;
    default:
        return false;
    }
}

int ds_engine_create(const struct ds_engine_opts *opts, struct ds_engine **out)
{
    *out = NULL;
    struct ds_engine *eng = calloc(1, sizeof(*eng));
    if (!eng)
        return RP_ERR_NOMEM;
    if (opts)
        eng->opts = *opts;
    /* The placeholders are borrowed for the call only (match.h): the
     * engine compiles while rules are added, so they must outlive the adds;
     * the caller keeps them (documented in engine.h). */
    ds_strmap_init(&eng->ids, false);
    ds_strmap_init(&eng->slots, false);
    if (eng->opts.fieldmap) {
        eng->map = eng->opts.fieldmap;
    } else {
        int rc = ds_fieldmap_create(&eng->own_map);
        if (rc) {
            free(eng);
            return rc;
        }
        eng->map = eng->own_map;
    }
    *out = eng;
    return 0;
}

void ds_engine_destroy(struct ds_engine *eng)
{
    if (!eng)
        return;
    ds_index_destroy(eng->index);
    for (uint32_t i = 0; i < eng->n_rules; i++)
        ds_crule_free(eng->rules[i]);
    free(eng->rules);
    ds_strmap_free(&eng->ids);
    ds_strmap_free(&eng->slots);
    for (uint32_t i = 0; i < eng->n_slots; i++)
        free(eng->slot_names[i]);
    free(eng->slot_names);
    for (int b = 0; b < DS_BUCKETS; b++)
        free(eng->bucket[b]);
    free(eng->slot_gen);
    free(eng->slot_val);
    free(eng->slot_len);
    free(eng->sel_gen);
    free(eng->sel_val);
    free(eng->ref_val);
    free(eng->ref_len);
    ds_fieldmap_destroy(eng->own_map);
    free(eng);
}

static void ds_report_init(struct ds_report *rep, const char *path)
{
    memset(rep, 0, sizeof(*rep));
    rep->path = path;
}

int ds_engine_add_rule(struct ds_engine *eng, struct ds_rule *rule, const char *path,
                       struct ds_report *rep, const struct ds_crule **out)
{
    struct ds_report local;
    if (!rep)
        rep = &local;
    if (out)
        *out = NULL;
    ds_report_init(rep, path);
    if (!rule)
        return RP_ERR_INVAL;
    rep->logsource = rule->logsource;
    rep->linux_product = rule->product && strcmp(rule->product, "linux") == 0;
    if (eng->built) {
        ds_rule_destroy(rule);
        return RP_ERR_BUSY;
    }
    if (rule->id) {
        uint32_t *first = ds_strmap_get(&eng->ids, rule->id, strlen(rule->id));
        if (first) {
            rep->status = DS_ST_SKIPPED;
            rep->reason = DS_SKIP_DUPLICATE_ID;
            snprintf(rep->msg, sizeof(rep->msg),
                     "%s: id %s is already used by %s, which stays loaded; expected ids to be "
                     "unique",
                     path, rule->id, eng->rules[*first]->path);
            ds_rule_destroy(rule);
            return 0;
        }
    }
    if (eng->n_rules == eng->cap_rules) {
        uint32_t ncap = eng->cap_rules ? eng->cap_rules * 2 : 64;
        struct ds_crule **nr = realloc(eng->rules, ncap * sizeof(*nr));
        if (!nr) {
            ds_rule_destroy(rule);
            return RP_ERR_NOMEM;
        }
        eng->rules = nr;
        eng->cap_rules = ncap;
    }
    struct ds_crule *cr = NULL;
    int rc = ds_crule_compile(eng, rule, path, rep, &cr);
    if (rc < 0 || !cr)
        return rc;
    rep->rule = cr->rule;
    if (cr->rule->id &&
        ds_strmap_put(&eng->ids, cr->rule->id, strlen(cr->rule->id), eng->n_rules, NULL, NULL)) {
        ds_crule_free(cr);
        rep->rule = NULL;
        return RP_ERR_NOMEM;
    }
    cr->index = eng->n_rules;
    cr->sel_base = eng->n_sels;
    eng->n_sels += cr->n_sels;
    eng->rules[eng->n_rules++] = cr;
    eng->mem += cr->mem;
    if (out)
        *out = cr;
    return 0;
}

/* One file's bytes through the loader, the caller's filter and the
 * compiler, then to report. */
static int ds_engine_load(struct ds_engine *eng, const char *path, const char *relpath,
                          const char *data, size_t len, ds_accept_fn accept, ds_report_fn report,
                          void *ctx)
{
    struct ds_rule *rule = NULL;
    struct ds_load_result res;
    int rc = ds_rule_load_buffer_flags(
        path, data, len, eng->opts.any_logsource ? DS_LOAD_ANY_LOGSOURCE : 0, &rule, &res);
    if (rc < 0)
        return rc;
    struct ds_report rep;
    ds_report_init(&rep, path);
    rep.logsource = res.logsource;
    rep.linux_product = res.linux_product;
    if (!rule) {
        rep.status = DS_ST_SKIPPED;
        rep.reason = res.reason;
        memcpy(rep.msg, res.msg, sizeof(rep.msg));
    } else if (accept && !accept(ctx, rule, relpath, rep.msg, sizeof(rep.msg))) {
        rep.status = DS_ST_DISABLED;
        rep.rule = rule;
        if (report)
            report(ctx, &rep);
        ds_rule_destroy(rule);
        return 0;
    } else {
        rep.msg[0] = '\0';
        rc = ds_engine_add_rule(eng, rule, path, &rep, NULL);
        if (rc < 0)
            return rc;
    }
    if (report)
        report(ctx, &rep);
    return 0;
}

static void ds_report_io(const char *path, const char *why, int err, ds_report_fn report, void *ctx)
{
    struct ds_report rep;
    ds_report_init(&rep, path);
    rep.status = DS_ST_SKIPPED;
    rep.reason = DS_SKIP_IO;
    if (err)
        snprintf(rep.msg, sizeof(rep.msg), "%s: %s: %s", path, why, strerror(err));
    else
        snprintf(rep.msg, sizeof(rep.msg), "%s: %s", path, why);
    if (report)
        report(ctx, &rep);
}

/* Reads the file dfd/name (dfd may be AT_FDCWD) once through one
 * descriptor: no symbolic link, a regular file, at most the cap. */
static int ds_engine_load_at(struct ds_engine *eng, int dfd, const char *name, const char *path,
                             const char *relpath, char *buf, ds_accept_fn accept,
                             ds_report_fn report, void *ctx)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        ds_report_io(path, e == ELOOP ? "a symbolic link, which is not followed" : "cannot open",
                     e == ELOOP ? 0 : e, report, ctx);
        return 0;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        ds_report_io(path, "not a regular file", 0, report, ctx);
        return 0;
    }
    size_t len = 0;
    int err = 0;
    while (len < DS_RULE_FILE_MAX + 1u) {
        ssize_t n = read(fd, buf + len, DS_RULE_FILE_MAX + 1u - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (err) {
        ds_report_io(path, "cannot read", err, report, ctx);
        return 0;
    }
    /* Over the cap: the loader reports it as too_large. */
    return ds_engine_load(eng, path, relpath, buf, len, accept, report, ctx);
}

int ds_engine_add_file(struct ds_engine *eng, const char *path, ds_accept_fn accept,
                       ds_report_fn report, void *ctx)
{
    if (eng->built)
        return RP_ERR_BUSY;
    char *buf = malloc(DS_RULE_FILE_MAX + 1u);
    if (!buf)
        return RP_ERR_NOMEM;
    const char *base = strrchr(path, '/');
    int rc = ds_engine_load_at(eng, AT_FDCWD, path, path, base ? base + 1 : path, buf, accept,
                               report, ctx);
    free(buf);
    return rc;
}

/* ---- folders ---- */

struct ds_walk {
    struct ds_engine *eng;
    ds_accept_fn accept;
    ds_report_fn report;
    void *ctx;
    char *err;
    size_t errlen;
    char *buf; /* one file's bytes */
    uint32_t files;
    size_t root_len; /* relpath = path + root_len + 1 */
};

static int ds_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool ds_is_rule_name(const char *n)
{
    size_t l = strlen(n);
    return (l > 4 && strcmp(n + l - 4, ".yml") == 0) || (l > 5 && strcmp(n + l - 5, ".yaml") == 0);
}

static void ds_walk_err(struct ds_walk *w, const char *fmt, const char *path, const char *why)
{
    if (w->err && w->errlen)
        snprintf(w->err, w->errlen, fmt, path, why);
}

/* Loads the folder open at fd (taken), whose path is path, depth folders
 * below the root. */
static int ds_walk_dir(struct ds_walk *w, int fd, const char *path, unsigned depth)
{
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        ds_walk_err(w, "%s: cannot read the folder: %s", path, strerror(e));
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
        if (n >= DS_DIR_FILES_MAX) {
            ds_walk_err(w, "%s: %s", path, "more entries than the cap of files per load");
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
        ds_walk_err(w, "%s: cannot read the folder: %s", path, strerror(errno));
        rc = RP_ERR_IO;
    }
    /* Name order, so two machines load the same folder the same way and
     * the first of two rules with one id is always the same. */
    if (rc == 0)
        qsort(names, n, sizeof(*names), ds_name_cmp);
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
            if (depth + 1 > DS_DIR_DEPTH_MAX) {
                ds_walk_err(w, "%s: %s", child, "deeper than the cap of folders");
                rc = RP_ERR_RANGE;
            } else {
                int cfd = openat(dfd, names[i],
                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
                if (cfd < 0)
                    ds_report_io(child, "cannot open the folder", errno, w->report, w->ctx);
                else
                    rc = ds_walk_dir(w, cfd, child, depth + 1);
                /* A subfolder that cannot be read is that folder's
                 * problem: reported, and the others still load. */
                if (rc == RP_ERR_IO) {
                    ds_report_io(child, "cannot read the folder", 0, w->report, w->ctx);
                    if (w->err && w->errlen)
                        w->err[0] = '\0';
                    rc = 0;
                }
            }
        } else if ((S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) && ds_is_rule_name(names[i])) {
            if (++w->files > DS_DIR_FILES_MAX) {
                ds_walk_err(w, "%s: %s", child, "past the cap of files per load");
                rc = RP_ERR_RANGE;
            } else {
                rc = ds_engine_load_at(w->eng, dfd, names[i], child, child + w->root_len + 1,
                                       w->buf, w->accept, w->report, w->ctx);
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

int ds_engine_add_dir(struct ds_engine *eng, const char *dir, ds_accept_fn accept,
                      ds_report_fn report, void *ctx, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (eng->built)
        return RP_ERR_BUSY;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (err)
            snprintf(err, errlen, "%s: cannot open the rule folder: %s", dir, strerror(errno));
        return RP_ERR_IO;
    }
    struct ds_walk w = {.eng = eng,
                        .accept = accept,
                        .report = report,
                        .ctx = ctx,
                        .err = err,
                        .errlen = errlen,
                        .root_len = strlen(dir)};
    /* A trailing slash must not leave one at the start of relpath. */
    while (w.root_len > 1 && dir[w.root_len - 1] == '/')
        w.root_len--;
    char *root = strndup(dir, w.root_len);
    w.buf = malloc(DS_RULE_FILE_MAX + 1u);
    if (!w.buf || !root) {
        free(w.buf);
        free(root);
        close(fd);
        return RP_ERR_NOMEM;
    }
    int rc = ds_walk_dir(&w, fd, root, 0);
    free(w.buf);
    free(root);
    return rc;
}

/* ---- build ---- */

int ds_engine_build(struct ds_engine *eng)
{
    if (eng->built)
        return RP_ERR_BUSY;
    for (int b = 0; b < DS_BUCKETS; b++) {
        eng->bucket[b] = calloc(eng->n_rules ? eng->n_rules : 1, sizeof(uint32_t));
        if (!eng->bucket[b])
            return RP_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < eng->n_rules; i++) {
        const struct ds_crule *r = eng->rules[i];
        if (r->dead)
            continue;
        if (eng->opts.any_logsource) {
            eng->bucket[DS_BUCKET_ANY][eng->n_bucket[DS_BUCKET_ANY]++] = i;
            continue;
        }
        uint32_t types = ds_crule_types(eng, r);
        for (int t = 0; t < DS_EV_COUNT; t++)
            if (types & (1u << t))
                eng->bucket[t][eng->n_bucket[t]++] = i;
    }
    uint32_t ns = eng->n_slots ? eng->n_slots : 1, nsel = eng->n_sels ? eng->n_sels : 1;
    uint32_t nref = eng->max_refs ? eng->max_refs : 1;
    eng->slot_gen = calloc(ns, sizeof(*eng->slot_gen));
    eng->slot_val = calloc(ns, sizeof(*eng->slot_val));
    eng->slot_len = calloc(ns, sizeof(*eng->slot_len));
    eng->sel_gen = calloc(nsel, sizeof(*eng->sel_gen));
    eng->sel_val = calloc(nsel, sizeof(*eng->sel_val));
    eng->ref_val = calloc(nref, sizeof(*eng->ref_val));
    eng->ref_len = calloc(nref, sizeof(*eng->ref_len));
    if (!eng->slot_gen || !eng->slot_val || !eng->slot_len || !eng->sel_gen || !eng->sel_val ||
        !eng->ref_val || !eng->ref_len)
        return RP_ERR_NOMEM;
    eng->mem += (size_t)DS_BUCKETS * (eng->n_rules ? eng->n_rules : 1) * sizeof(uint32_t) +
                ns * (sizeof(uint32_t) + sizeof(char *) + sizeof(size_t)) +
                nsel * (sizeof(uint32_t) + 1) + nref * (sizeof(char *) + sizeof(size_t)) +
                ds_strmap_memory(&eng->ids) + ds_strmap_memory(&eng->slots) +
                eng->cap_rules * sizeof(*eng->rules) + eng->cap_slots * sizeof(char *) +
                sizeof(*eng);
    /* The index is only worth its memory when rules are bucketed by type;
     * rules test (any_logsource) runs every rule anyway. */
    if (!eng->opts.no_index && !eng->opts.any_logsource) {
        int rc = ds_index_build(eng, &eng->index);
        if (rc)
            return rc;
    }
    eng->built = true;
    return 0;
}

/* ---- accessors ---- */

uint32_t ds_engine_slot_count(const struct ds_engine *eng)
{
    return eng->n_slots;
}

const char *ds_engine_slot_name(const struct ds_engine *eng, uint32_t slot)
{
    return slot < eng->n_slots ? eng->slot_names[slot] : NULL;
}

uint32_t ds_engine_rule_count(const struct ds_engine *eng)
{
    return eng->n_rules;
}

const struct ds_crule *ds_engine_rule_at(const struct ds_engine *eng, uint32_t i)
{
    return i < eng->n_rules ? eng->rules[i] : NULL;
}

const struct ds_rule *ds_crule_rule(const struct ds_crule *r)
{
    return r->rule;
}

const char *ds_crule_path(const struct ds_crule *r)
{
    return r->path;
}

bool ds_crule_dead(const struct ds_crule *r)
{
    return r->dead;
}

uint32_t ds_crule_index(const struct ds_crule *r)
{
    return r->index;
}

uint64_t ds_engine_regex_errors(const struct ds_engine *eng)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < eng->n_rules; i++)
        for (uint32_t k = 0; k < eng->rules[i]->n_fields; k++)
            n += ds_field_errors(eng->rules[i]->fields[k].f);
    return n;
}

size_t ds_engine_memory(const struct ds_engine *eng)
{
    return eng->mem + (eng->index ? ds_index_memory(eng->index) : 0);
}
