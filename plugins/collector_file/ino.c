/*
 * ino.c - the inotify fallback of collector_file, for kernels without the
 * fanotify features fan.c needs (or mode "inotify").
 *
 * Every configured folder and each folder below it (on the same filesystem,
 * up to max_watches in all) gets a watch; folders created or moved in later
 * get theirs as they appear. inotify says nothing about who caused an event,
 * so these events carry no process fields and exclude_self cannot work: the
 * agent's own folders must be listed in exclude when they lie under paths.
 * There is no exec event either (inotify cannot tell an exec from an open).
 *
 * A rename is a moved-from and a moved-to with the same cookie, which the
 * kernel queues together; they are joined into one file.rename. A move out
 * of the watched folders has no moved-to: it is reported with the old name
 * only, and a move in from outside with the new name only.
 */
#define _GNU_SOURCE
#include "collector_file.h"
#include "inorec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct watch {
    int wd; /* -1 = empty */
    char *path;
};

struct pending_move {
    int active;
    uint32_t cookie;
    int is_dir;
    char path[CF_PATH_MAX];
};

struct cf_ino {
    int fd;
    int pumping;
    uint32_t mask;
    /* wd -> folder path, open addressing; grows by doubling while it holds
     * fewer than max_watches entries, at most half full. */
    struct watch *tab;
    uint32_t cap, count;
    int cap_logged;
    struct pending_move move;
};

/* ---- the watch table ------------------------------------------------------- */

static uint32_t wd_slot(const struct cf_ino *ino, int wd)
{
    return ((uint32_t)wd * 2654435761u) & (ino->cap - 1);
}

static struct watch *tab_find(struct cf_ino *ino, int wd)
{
    for (uint32_t s = wd_slot(ino, wd);; s = (s + 1) & (ino->cap - 1)) {
        if (ino->tab[s].wd == wd)
            return &ino->tab[s];
        if (ino->tab[s].wd == -1)
            return NULL;
    }
}

static int tab_grow(struct cf_ino *ino)
{
    uint32_t ncap = ino->cap * 2;
    struct watch *nt = malloc(sizeof *nt * ncap);
    if (!nt)
        return RP_ERR_NOMEM;
    for (uint32_t i = 0; i < ncap; i++)
        nt[i].wd = -1, nt[i].path = NULL;
    struct watch *old = ino->tab;
    uint32_t ocap = ino->cap;
    ino->tab = nt;
    ino->cap = ncap;
    for (uint32_t i = 0; i < ocap; i++) {
        if (old[i].wd == -1)
            continue;
        uint32_t s = wd_slot(ino, old[i].wd);
        while (nt[s].wd != -1)
            s = (s + 1) & (ncap - 1);
        nt[s] = old[i];
    }
    free(old);
    return 0;
}

static int tab_put(struct cf_ino *ino, int wd, const char *path)
{
    struct watch *w = tab_find(ino, wd);
    char *copy = strdup(path);
    if (!copy)
        return RP_ERR_NOMEM;
    if (w) {
        /* The same folder again (a watch is per inode): keep the new name. */
        free(w->path);
        w->path = copy;
        return 0;
    }
    if ((ino->count + 1) * 2 > ino->cap && tab_grow(ino) != 0) {
        free(copy);
        return RP_ERR_NOMEM;
    }
    uint32_t s = wd_slot(ino, wd);
    while (ino->tab[s].wd != -1)
        s = (s + 1) & (ino->cap - 1);
    ino->tab[s].wd = wd;
    ino->tab[s].path = copy;
    ino->count++;
    return 0;
}

static void tab_del(struct cf_ino *ino, int wd)
{
    struct watch *w = tab_find(ino, wd);
    if (!w)
        return;
    free(w->path);
    uint32_t hole = (uint32_t)(w - ino->tab);
    ino->tab[hole].wd = -1;
    ino->tab[hole].path = NULL;
    ino->count--;
    /* Backward-shift deletion keeps every probe chain unbroken without
     * tombstones. */
    for (uint32_t s = (hole + 1) & (ino->cap - 1); ino->tab[s].wd != -1;
         s = (s + 1) & (ino->cap - 1)) {
        uint32_t home = wd_slot(ino, ino->tab[s].wd);
        int movable = (hole <= s) ? (home <= hole || home > s) : (home <= hole && home > s);
        if (movable) {
            ino->tab[hole] = ino->tab[s];
            ino->tab[s].wd = -1;
            ino->tab[s].path = NULL;
            hole = s;
        }
    }
}

/* ---- watches ----------------------------------------------------------------- */

static void cap_hit(struct cf *cf, const char *where)
{
    struct cf_ino *ino = cf->ino;
    rp_util_count(&cf->ctr, CF_C_WATCH_CAP, 1);
    if (!ino->cap_logged) {
        ino->cap_logged = 1;
        rp_util_logf(cf->host, cf->self, RP_LOG_WARN,
                     "inotify: watch limit reached at %s (max_watches %u, or the "
                     "system's fs.inotify.max_user_watches); folders past it are not watched",
                     where, cf->max_watches);
    }
}

static int watch_one(void *arg, const char *path)
{
    struct cf *cf = arg;
    struct cf_ino *ino = cf->ino;
    if (!cf_path_wanted(cf, path))
        return 1; /* an excluded folder and all below it cost nothing */
    if (ino->count >= cf->max_watches)
        return RP_ERR_FULL;
    int wd = inotify_add_watch(ino->fd, path, ino->mask);
    if (wd < 0) {
        if (errno == ENOSPC)
            return RP_ERR_FULL;
        return 0; /* unreadable or already gone: the rest still counts */
    }
    return tab_put(ino, wd, path) == 0 ? 0 : RP_ERR_NOMEM;
}

static void watch_tree(struct cf *cf, const char *root)
{
    struct cf_ino *ino = cf->ino;
    uint32_t left = cf->max_watches > ino->count ? cf->max_watches - ino->count : 0;
    int rc = left ? cf_walk_dirs(root, left, watch_one, cf) : RP_ERR_FULL;
    if (rc == RP_ERR_FULL)
        cap_hit(cf, root);
}

static int under_path(const char *path, const char *prefix, size_t plen)
{
    return strncmp(path, prefix, plen) == 0 && (path[plen] == '\0' || path[plen] == '/');
}

/* A folder moved within the watched tree: its watches follow it, their
 * names change. */
static void rename_watches(struct cf_ino *ino, const char *from, const char *to)
{
    size_t fl = strlen(from), tl = strlen(to);
    for (uint32_t i = 0; i < ino->cap; i++) {
        struct watch *w = &ino->tab[i];
        if (w->wd == -1 || !under_path(w->path, from, fl))
            continue;
        size_t rest = strlen(w->path + fl);
        if (tl + rest >= CF_PATH_MAX)
            continue;
        char *np = malloc(tl + rest + 1);
        if (!np)
            continue;
        memcpy(np, to, tl);
        memcpy(np + tl, w->path + fl, rest + 1);
        free(w->path);
        w->path = np;
    }
}

/* A folder moved out: where it went is unknown, so its watches go. */
static void drop_watches(struct cf_ino *ino, const char *from)
{
    size_t fl = strlen(from);
    for (uint32_t i = 0; i < ino->cap;) {
        struct watch *w = &ino->tab[i];
        if (w->wd != -1 && under_path(w->path, from, fl)) {
            int wd = w->wd;
            inotify_rm_watch(ino->fd, wd);
            tab_del(ino, wd);
            continue; /* the shift may have moved another entry into slot i */
        }
        i++;
    }
}

/* ---- events ------------------------------------------------------------------ */

static void emit(struct cf *cf, uint32_t kind, const char *path, const char *old, int is_dir,
                 int do_stat)
{
    struct stat st;
    int st_ok = do_stat && path && lstat(path, &st) == 0;
    struct cf_change ch = {kind, path, old, is_dir, 0, st_ok ? &st : NULL, 0};
    cf_emit(cf, &ch);
}

static void flush_move(struct cf *cf)
{
    struct cf_ino *ino = cf->ino;
    if (!ino->move.active)
        return;
    ino->move.active = 0;
    emit(cf, CF_EV_RENAME, NULL, ino->move.path, ino->move.is_dir, 0);
    if (ino->move.is_dir)
        drop_watches(ino, ino->move.path);
}

static void handle_event(struct cf *cf, const struct cf_inorec *ie)
{
    struct cf_ino *ino = cf->ino;
    rp_util_count(&cf->ctr, CF_C_RECORDS, 1);
    if (ie->mask & IN_Q_OVERFLOW) {
        flush_move(cf);
        cf_overflow(cf, "inotify");
        return;
    }
    /* A moved-from is joined only with the moved-to right after it. */
    if (ino->move.active && !((ie->mask & IN_MOVED_TO) && ie->cookie == ino->move.cookie))
        flush_move(cf);
    if (ie->mask & IN_IGNORED) {
        tab_del(ino, ie->wd);
        return;
    }
    struct watch *w = tab_find(ino, ie->wd);
    char path[CF_PATH_MAX];
    if (!w || cf_join(path, sizeof path, w->path, ie->name) != 0) {
        rp_util_count(&cf->ctr, CF_C_RESOLVE_FAILED, 1);
        return;
    }
    int is_dir = (ie->mask & IN_ISDIR) != 0;
    if (ie->mask & IN_CREATE) {
        emit(cf, CF_EV_CREATE, path, NULL, is_dir, 1);
        if (is_dir && cf_path_wanted(cf, path))
            watch_tree(cf, path);
    }
    if (ie->mask & IN_CLOSE_WRITE)
        emit(cf, CF_EV_MODIFY, path, NULL, is_dir, 1);
    if (ie->mask & IN_DELETE)
        emit(cf, CF_EV_DELETE, path, NULL, is_dir, 0);
    if (ie->mask & IN_MOVED_FROM) {
        ino->move.active = 1;
        ino->move.cookie = ie->cookie;
        ino->move.is_dir = is_dir;
        memcpy(ino->move.path, path, strlen(path) + 1);
    }
    if (ie->mask & IN_MOVED_TO) {
        if (ino->move.active) {
            ino->move.active = 0;
            emit(cf, CF_EV_RENAME, path, ino->move.path, is_dir, 1);
            if (is_dir)
                rename_watches(ino, ino->move.path, path);
        } else {
            emit(cf, CF_EV_RENAME, path, NULL, is_dir, 1);
            if (is_dir && cf_path_wanted(cf, path))
                watch_tree(cf, path);
        }
    }
}

static void process_buffer(struct cf *cf, const char *buf, size_t len)
{
    struct cf_inowalk w;
    struct cf_inorec r;
    int rc;
    cf_inowalk_init(&w, buf, len);
    while ((rc = cf_inowalk_next(&w, &r)) != RP_ERR_NOTFOUND) {
        if (rc != 0) {
            rp_util_count(&cf->ctr, CF_C_RESOLVE_FAILED, 1);
            if (rc == RP_ERR_PARSE)
                return;
            continue;
        }
        handle_event(cf, &r);
    }
}

/* ---- lifecycle ------------------------------------------------------------------ */

int cf_ino_start(struct cf *cf)
{
    struct cf_ino *ino = calloc(1, sizeof *ino);
    if (!ino)
        return RP_ERR_NOMEM;
    ino->cap = 1024;
    ino->tab = malloc(sizeof *ino->tab * ino->cap);
    if (!ino->tab) {
        free(ino);
        return RP_ERR_NOMEM;
    }
    for (uint32_t i = 0; i < ino->cap; i++)
        ino->tab[i].wd = -1, ino->tab[i].path = NULL;
    cf->ino = ino;
    ino->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (ino->fd < 0) {
        rp_util_logf(cf->host, cf->self, RP_LOG_ERROR, "inotify_init1: %s", strerror(errno));
        cf_ino_stop(cf);
        return RP_ERR_IO;
    }
    /* Create and move events are always needed to follow new folders. */
    ino->mask =
        IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK;
    if (cf->events & CF_EV_DELETE)
        ino->mask |= IN_DELETE;
    if (cf->events & CF_EV_MODIFY)
        ino->mask |= IN_CLOSE_WRITE;

    uint32_t watched = 0;
    for (uint32_t i = 0; i < cf->npaths; i++) {
        uint32_t before = ino->count;
        struct stat st;
        if (stat(cf->paths[i].path, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rp_util_logf(cf->host, cf->self, RP_LOG_WARN, "%s: not a folder; not watched",
                         cf->paths[i].path);
            continue;
        }
        watch_tree(cf, cf->paths[i].path);
        if (ino->count > before)
            watched++;
    }
    if (watched == 0) {
        rp_util_logf(cf->host, cf->self, RP_LOG_ERROR,
                     "inotify: none of the %u configured folders can be watched", cf->npaths);
        cf_ino_stop(cf);
        return RP_ERR_NOTFOUND;
    }
    /* Everything the loop thread reads is set before the fd goes to it. */
    cf->provider = "inotify";
    uint32_t watches = ino->count;
    /* The kernel queues a rename's two halves together: with the queue
     * empty, a moved-from still alone was a move out (flush_move). */
    int rc = cf_pump_start(cf, ino->fd, process_buffer, flush_move);
    if (rc != 0) {
        cf_ino_stop(cf);
        return rc;
    }
    ino->pumping = 1;
    rp_util_logf(cf->host, cf->self, RP_LOG_INFO,
                 "inotify: watching %u of %u folders (%u watches); no process "
                 "attribution, no exec events",
                 watched, cf->npaths, watches);
    return 0;
}

void cf_ino_stop(struct cf *cf)
{
    struct cf_ino *ino = cf->ino;
    if (!ino)
        return;
    if (ino->pumping)
        cf_pump_stop(cf);
    if (ino->fd >= 0)
        close(ino->fd);
    for (uint32_t i = 0; i < ino->cap; i++)
        free(ino->tab[i].path);
    free(ino->tab);
    free(ino);
    cf->ino = NULL;
}
