/*
 * fan.c - the fanotify backend of collector_file.
 *
 * One notification group (FAN_CLASS_NOTIF) reports directory file handles
 * and names (FAN_REPORT_DFID_NAME), the child's own handle and, for
 * FAN_RENAME, the old and the new name in one record
 * (FAN_REPORT_TARGET_FID, Linux 5.17). Each configured folder's filesystem
 * gets one FAN_MARK_FILESYSTEM mark; where the kernel refuses that (a btrfs
 * subvolume, a filesystem without a unique fsid) the folder and its
 * subfolders get inode marks instead, up to max_watches. Mount marks are no
 * use here: the kernel refuses directory-entry events (create, delete,
 * rename) on them. Events outside the configured folders are dropped in user
 * space.
 *
 * Paths are resolved when a record is read: open_by_handle_at on a mount fd
 * of the same filesystem, then /proc/self/fd. A small cache keyed by the
 * directory handle saves those calls for busy folders and still names a
 * folder deleted since; it is emptied whenever a folder is renamed, so it
 * never hands out a stale path.
 */
#define _GNU_SOURCE
#include "collector_file.h"
#include "fanrec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <unistd.h>

/* Older headers: the values are the kernel's ABI. */
#ifndef FAN_REPORT_DFID_NAME
#define FAN_REPORT_DFID_NAME 0x00000c00
#endif
#ifndef FAN_REPORT_FID
#define FAN_REPORT_FID 0x00000200
#endif
#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID 0x00001000
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_MARK_FILESYSTEM
#define FAN_MARK_FILESYSTEM 0x00000100
#endif
#ifndef MAX_HANDLE_SZ
#define MAX_HANDLE_SZ 128
#endif
/* fanrec.c accepts no handle larger than the kernel's largest. */
_Static_assert(CF_FAN_HANDLE_MAX <= MAX_HANDLE_SZ, "handle size");

#define DCACHE_SLOTS 256 /* directory paths remembered; a newcomer evicts its slot */
#define KEY_MAX      (8 + 4 + MAX_HANDLE_SZ)
#define DEEP_SLOTS   64 /* deep folders remembered; a newcomer evicts its slot */

struct fs_entry {
    unsigned char fsid[8];
    int mount_fd; /* a folder on that filesystem, for open_by_handle_at */
    int fs_marked;
};

struct dcache_entry {
    uint32_t keylen; /* 0 = empty */
    unsigned char key[KEY_MAX];
    char *path;
};

/* A file handle as the kernel wants it, with room for the largest one. */
union handle_buf {
    struct file_handle fh;
    unsigned char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

struct cf_fan {
    int fd;
    int pumping;
    uint64_t mask;    /* what the marks ask the kernel for */
    uint64_t publish; /* the part of it that maps to events the config wants */
    uint32_t nmarks;  /* inode marks placed (not lowered when folders go) */
    int any_inode_marks;
    struct fs_entry fs[CF_MAX_PATHS];
    uint32_t nfs;
    struct dcache_entry dcache[DCACHE_SLOTS];
    /* Folders too deep to name, and whether they lie under a watched one:
     * finding out walks up every level, so a flood of records in one deep
     * folder must not repeat the walk each time. Emptied with the path
     * cache, on every folder rename. */
    struct {
        uint32_t keylen; /* 0 = empty */
        unsigned char key[KEY_MAX];
        int wanted;
    } deep[DEEP_SLOTS];
};

/* ---- filesystems and path resolution -------------------------------------- */

static struct fs_entry *fs_find(struct cf_fan *fan, const unsigned char *fsid)
{
    for (uint32_t i = 0; i < fan->nfs; i++)
        if (memcmp(fan->fs[i].fsid, fsid, 8) == 0)
            return &fan->fs[i];
    return NULL;
}

static uint32_t key_hash(const unsigned char *k, uint32_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < len; i++) {
        h ^= k[i];
        h *= 16777619u;
    }
    return h;
}

static void dcache_flush(struct cf_fan *fan)
{
    for (int i = 0; i < DCACHE_SLOTS; i++) {
        free(fan->dcache[i].path);
        fan->dcache[i].path = NULL;
        fan->dcache[i].keylen = 0;
    }
    for (int i = 0; i < DEEP_SLOTS; i++)
        fan->deep[i].keylen = 0;
}

/* The directory of ref as an absolute path into out. */
static int resolve_dir(struct cf_fan *fan, const struct cf_fid_ref *ref, char *out, size_t cap)
{
    if (ref->handle_bytes > MAX_HANDLE_SZ)
        return RP_ERR_RANGE;
    unsigned char key[KEY_MAX];
    uint32_t keylen = 12 + ref->handle_bytes;
    memcpy(key, ref->fsid, 8);
    memcpy(key + 8, &ref->handle_type, 4);
    memcpy(key + 12, ref->handle, ref->handle_bytes);
    struct dcache_entry *e = &fan->dcache[key_hash(key, keylen) % DCACHE_SLOTS];
    if (e->keylen == keylen && memcmp(e->key, key, keylen) == 0 && e->path) {
        size_t n = strlen(e->path);
        if (n >= cap)
            return RP_ERR_RANGE;
        memcpy(out, e->path, n + 1);
        return 0;
    }

    struct fs_entry *fs = fs_find(fan, ref->fsid);
    if (!fs)
        return RP_ERR_NOTFOUND;
    union handle_buf hb;
    hb.fh.handle_bytes = ref->handle_bytes;
    hb.fh.handle_type = (int)ref->handle_type;
    memcpy(hb.fh.f_handle, ref->handle, ref->handle_bytes);
    int fd = open_by_handle_at(fs->mount_fd, &hb.fh, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_NOTFOUND; /* gone (ESTALE) or not ours to open */
    errno = 0;
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, cap - 1);
    struct stat st;
    int st_ok = fstat(fd, &st) == 0;
    close(fd);
    if ((n < 0 && errno == ENAMETOOLONG) || (n > 0 && (size_t)n >= cap - 1))
        return RP_ERR_RANGE; /* longer than a path can be named */
    if (n <= 0 || out[0] != '/')
        return RP_ERR_NOTFOUND;
    out[n] = '\0';
    /* A folder removed since keeps a name with " (deleted)" appended. */
    static const char del[] = " (deleted)";
    size_t dl = sizeof del - 1;
    if (st_ok && st.st_nlink == 0 && (size_t)n > dl && strcmp(out + n - dl, del) == 0)
        out[n - dl] = '\0';

    char *copy = strdup(out);
    if (copy) {
        free(e->path);
        e->path = copy;
        e->keylen = keylen;
        memcpy(e->key, key, keylen);
    }
    return 0;
}

/* dir/name of ref into out; counts a failure. RP_ERR_RANGE when the path
 * is too long to name (the folder exists), RP_ERR_NOTFOUND otherwise. */
static int resolve_path(struct cf *cf, const struct cf_fid_ref *ref, char *out, size_t cap)
{
    char dir[CF_PATH_MAX];
    int rc = ref->fsid ? resolve_dir(cf->fan, ref, dir, sizeof dir) : RP_ERR_NOTFOUND;
    if (rc == 0 && cf_join(out, cap, dir, ref->name) != 0)
        rc = RP_ERR_RANGE;
    if (rc != 0) {
        rp_util_count(&cf->ctr, CF_C_RESOLVE_FAILED, 1);
        return rc == RP_ERR_RANGE ? RP_ERR_RANGE : RP_ERR_NOTFOUND;
    }
    return 0;
}

/* Whether the folder of ref, whose path is too long to name, lies under a
 * configured path and under no exclude entry: walks up through ".." from
 * the folder's own descriptor, comparing each folder with the configured
 * ones by device and inode (so no name is trusted), at most CF_WALK_UP
 * levels. The nearest configured folder decides. */
#define CF_WALK_UP 4096
static int long_dir_wanted(struct cf *cf, const struct cf_fid_ref *ref)
{
    struct cf_fan *fan = cf->fan;
    struct fs_entry *fs = ref->fsid ? fs_find(fan, ref->fsid) : NULL;
    if (!fs || ref->handle_bytes > MAX_HANDLE_SZ)
        return 0;
    unsigned char key[KEY_MAX];
    uint32_t keylen = 12 + ref->handle_bytes;
    memcpy(key, ref->fsid, 8);
    memcpy(key + 8, &ref->handle_type, 4);
    memcpy(key + 12, ref->handle, ref->handle_bytes);
    uint32_t slot = key_hash(key, keylen) % DEEP_SLOTS;
    if (fan->deep[slot].keylen == keylen && memcmp(fan->deep[slot].key, key, keylen) == 0)
        return fan->deep[slot].wanted;
    union handle_buf hb;
    hb.fh.handle_bytes = ref->handle_bytes;
    hb.fh.handle_type = (int)ref->handle_type;
    memcpy(hb.fh.f_handle, ref->handle, ref->handle_bytes);
    int fd = open_by_handle_at(fs->mount_fd, &hb.fh, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int wanted = 0;
    for (int level = 0; fd >= 0 && level < CF_WALK_UP; level++) {
        struct stat st;
        if (fstat(fd, &st) != 0)
            break;
        int decided = 0;
        for (uint32_t i = 0; i < cf->nexclude && !decided; i++)
            if (cf->exclude_id[i].ok && cf->exclude_id[i].dev == st.st_dev &&
                cf->exclude_id[i].ino == st.st_ino)
                decided = 1;
        for (uint32_t i = 0; i < cf->npaths && !decided; i++)
            if (cf->path_id[i].ok && cf->path_id[i].dev == st.st_dev &&
                cf->path_id[i].ino == st.st_ino)
                decided = wanted = 1;
        if (decided)
            break;
        int up = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat ust;
        int top =
            up < 0 || fstat(up, &ust) != 0 || (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino);
        close(fd);
        fd = up;
        if (top)
            break;
    }
    if (fd >= 0)
        close(fd);
    fan->deep[slot].keylen = keylen;
    memcpy(fan->deep[slot].key, key, keylen);
    fan->deep[slot].wanted = wanted;
    return wanted;
}

/* The kernel merges what happened to one name while the record waited in
 * the queue into one mask; it is split back in the order things must have
 * happened: created, written, executed, deleted. */
static const struct {
    uint64_t bit;
    uint32_t kind;
} split_order[] = {{FAN_CREATE, CF_EV_CREATE},
                   {FAN_CLOSE_WRITE, CF_EV_MODIFY},
                   {FAN_OPEN_EXEC, CF_EV_EXEC},
                   {FAN_DELETE, CF_EV_DELETE}};

/* A record whose path is too long to name is published, not dropped (a
 * deep enough folder would otherwise hide anything done in it): with the
 * name, the file's own stat through its handle, and a flag, when its folder
 * is a watched one. */
static void emit_unresolved(struct cf *cf, const struct cf_fanrec *m, uint64_t rest)
{
    struct cf_fan *fan = cf->fan;
    if (!long_dir_wanted(cf, &m->dfid)) {
        rp_util_count(&cf->ctr, CF_C_EXCLUDED, 1);
        return;
    }
    struct stat st;
    int st_ok = 0;
    if (m->have_fid && !(rest & FAN_DELETE) && m->fid.handle_bytes <= MAX_HANDLE_SZ) {
        struct fs_entry *fs = m->fid.fsid ? fs_find(fan, m->fid.fsid) : NULL;
        union handle_buf hb;
        hb.fh.handle_bytes = m->fid.handle_bytes;
        hb.fh.handle_type = (int)m->fid.handle_type;
        memcpy(hb.fh.f_handle, m->fid.handle, m->fid.handle_bytes);
        int fd = fs ? open_by_handle_at(fs->mount_fd, &hb.fh, O_PATH | O_CLOEXEC) : -1;
        if (fd >= 0) {
            st_ok = fstat(fd, &st) == 0;
            close(fd);
        }
    }
    for (size_t i = 0; i < sizeof split_order / sizeof split_order[0]; i++) {
        if (!(rest & split_order[i].bit))
            continue;
        struct cf_change ch = {split_order[i].kind,
                               m->dfid.name ? m->dfid.name : "",
                               NULL,
                               (m->mask & FAN_ONDIR) != 0,
                               m->pid,
                               st_ok ? &st : NULL,
                               1};
        rp_util_count(&cf->ctr, CF_C_PATH_UNRESOLVED, 1);
        cf_emit(cf, &ch);
    }
}

/* ---- marks ------------------------------------------------------------------ */

struct mark_walk {
    struct cf *cf;
    int err;
};

static int mark_one_dir(void *arg, const char *path)
{
    struct mark_walk *w = arg;
    struct cf_fan *fan = w->cf->fan;
    if (!cf_path_wanted(w->cf, path))
        return 1; /* an excluded folder and all below it cost nothing */
    if (fan->nmarks >= w->cf->max_watches)
        return RP_ERR_FULL;
    if (fanotify_mark(fan->fd, FAN_MARK_ADD, fan->mask | FAN_EVENT_ON_CHILD, AT_FDCWD, path) != 0) {
        if (!w->err)
            w->err = errno;
        return 0; /* an unreadable folder does not stop the rest */
    }
    fan->nmarks++;
    fan->any_inode_marks = 1;
    return 0;
}

/* Inode marks on root and every folder below it on the same filesystem. */
static int mark_tree(struct cf *cf, const char *root)
{
    struct cf_fan *fan = cf->fan;
    uint32_t left = cf->max_watches > fan->nmarks ? cf->max_watches - fan->nmarks : 0;
    struct mark_walk w = {cf, 0};
    int rc = left ? cf_walk_dirs(root, left, mark_one_dir, &w) : RP_ERR_FULL;
    if (rc == RP_ERR_FULL) {
        rp_util_count(&cf->ctr, CF_C_WATCH_CAP, 1);
        rp_util_logf(cf->host, cf->self, RP_LOG_WARN,
                     "fanotify: %u inode marks (max_watches) reached under %s; "
                     "folders past it are not watched",
                     cf->max_watches, root);
    }
    if (w.err)
        rp_util_logf(cf->host, cf->self, RP_LOG_DEBUG,
                     "fanotify: some folders under %s could not be marked: %s", root,
                     strerror(w.err));
    return rc == RP_ERR_FULL ? 0 : rc;
}

/* Probes a configured folder and marks it; RP_ERR_UNSUPPORTED when fanotify
 * cannot cover it at all. */
static int add_path(struct cf *cf, const char *path)
{
    struct cf_fan *fan = cf->fan;
    struct statfs sfs;
    if (statfs(path, &sfs) != 0) {
        rp_util_logf(cf->host, cf->self, RP_LOG_WARN, "%s: %s; not watched", path, strerror(errno));
        return RP_ERR_NOTFOUND;
    }
    unsigned char fsid[8];
    memcpy(fsid, &sfs.f_fsid, 8);
    struct fs_entry *fs = fs_find(fan, fsid);
    if (!fs) {
        /* The folder must be able to give a handle and get it back: this
         * needs export support in the filesystem and CAP_DAC_READ_SEARCH. */
        union handle_buf hb;
        int mnt_id;
        hb.fh.handle_bytes = MAX_HANDLE_SZ;
        if (name_to_handle_at(AT_FDCWD, path, &hb.fh, &mnt_id, 0) != 0) {
            rp_util_logf(cf->host, cf->self, RP_LOG_WARN, "fanotify: %s: no file handles (%s)",
                         path, strerror(errno));
            return RP_ERR_UNSUPPORTED;
        }
        int mfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (mfd < 0) {
            rp_util_logf(cf->host, cf->self, RP_LOG_WARN, "%s: %s; not watched", path,
                         strerror(errno));
            return RP_ERR_NOTFOUND;
        }
        int fd = open_by_handle_at(mfd, &hb.fh, O_PATH | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            close(mfd);
            rp_util_logf(cf->host, cf->self, RP_LOG_WARN,
                         "fanotify: %s: cannot open file handles (%s)", path, strerror(e));
            return RP_ERR_UNSUPPORTED;
        }
        close(fd);
        if (fan->nfs >= CF_MAX_PATHS) {
            close(mfd);
            return RP_ERR_FULL;
        }
        fs = &fan->fs[fan->nfs++];
        memcpy(fs->fsid, fsid, 8);
        fs->mount_fd = mfd;
        fs->fs_marked = 0;
    }
    if (fs->fs_marked)
        return 0;
    if (cf->mark != CF_MARK_INODE) {
        if (fanotify_mark(fan->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, fan->mask, AT_FDCWD, path) ==
            0) {
            fs->fs_marked = 1;
            return 0;
        }
        int e = errno;
        if (cf->mark == CF_MARK_FILESYSTEM) {
            rp_util_logf(cf->host, cf->self, RP_LOG_ERROR, "fanotify: %s: no filesystem mark: %s",
                         path, strerror(e));
            return RP_ERR_UNSUPPORTED;
        }
        rp_util_logf(cf->host, cf->self, RP_LOG_INFO,
                     "fanotify: %s: no filesystem mark (%s); using inode marks", path, strerror(e));
    }
    return mark_tree(cf, path);
}

/* ---- reading ---------------------------------------------------------------- */

/* One record, parsed by fanrec.c (its refs point into the read buffer).
 * The child's own FID is not used: paths come from the directory and name. */
static void handle_record(struct cf *cf, const struct cf_fanrec *m)
{
    struct cf_fan *fan = cf->fan;
    const struct cf_fid_ref *dfid = &m->dfid, *oldr = &m->old_dfid, *newr = &m->new_dfid;
    int have_dfid = m->have_dfid, have_old = m->have_old, have_new = m->have_new;

    int is_dir = (m->mask & FAN_ONDIR) != 0;
    int32_t pid = m->pid;
    char path[CF_PATH_MAX], old[CF_PATH_MAX];
    struct stat st;

    if (m->mask & FAN_RENAME) {
        int rc_old = have_old ? resolve_path(cf, oldr, old, sizeof old) : RP_ERR_NOTFOUND;
        int rc_new = have_new ? resolve_path(cf, newr, path, sizeof path) : RP_ERR_NOTFOUND;
        int ok_old = rc_old == 0, ok_new = rc_new == 0;
        if (!have_old || !have_new)
            rp_util_count(&cf->ctr, CF_C_RESOLVE_FAILED, 1);
        if (!ok_old && !ok_new && (rc_old == RP_ERR_RANGE || rc_new == RP_ERR_RANGE)) {
            /* Both ends too deep to name (or one, the other unknown): the
             * new name, flagged, when a deep end is watched. */
            const struct cf_fid_ref *deep = rc_new == RP_ERR_RANGE ? newr : oldr;
            if (long_dir_wanted(cf, deep)) {
                struct cf_change ch = {
                    CF_EV_RENAME, newr->name ? newr->name : "", NULL, is_dir, pid, NULL, 1};
                rp_util_count(&cf->ctr, CF_C_PATH_UNRESOLVED, 1);
                cf_emit(cf, &ch);
            } else {
                rp_util_count(&cf->ctr, CF_C_EXCLUDED, 1);
            }
        } else if (!(ok_old && cf_path_wanted(cf, old)) && !(ok_new && cf_path_wanted(cf, path))) {
            if (ok_old || ok_new)
                rp_util_count(&cf->ctr, CF_C_EXCLUDED, 1);
        } else {
            int st_ok = ok_new && lstat(path, &st) == 0;
            struct cf_change ch = {CF_EV_RENAME,
                                   ok_new ? path : NULL,
                                   ok_old ? old : NULL,
                                   is_dir,
                                   pid,
                                   st_ok ? &st : NULL,
                                   0};
            cf_emit(cf, &ch);
            /* A folder moved in from outside the marked tree needs marks. */
            if (is_dir && fan->any_inode_marks && ok_new && cf_path_wanted(cf, path) &&
                !(ok_old && cf_path_wanted(cf, old)))
                mark_tree(cf, path);
        }
        /* Every path cached below a renamed folder is now wrong. */
        if (is_dir)
            dcache_flush(fan);
    }

    uint64_t rest = m->mask & (FAN_CREATE | FAN_CLOSE_WRITE | FAN_OPEN_EXEC | FAN_DELETE);
    if (!rest)
        return;
    if (!have_dfid) {
        rp_util_count(&cf->ctr, CF_C_RESOLVE_FAILED, 1);
        return;
    }
    int prc = resolve_path(cf, dfid, path, sizeof path);
    if (prc == RP_ERR_RANGE)
        emit_unresolved(cf, m, rest);
    if (prc != 0)
        return;
    /* Most records on a marked filesystem are about other folders: drop them
     * before any further system call. */
    if (!cf_path_wanted(cf, path)) {
        rp_util_count(&cf->ctr, CF_C_EXCLUDED, (uint64_t)__builtin_popcountll(rest & fan->publish));
        return;
    }
    /* With a delete in the record the name is gone (or names another file
     * by now): no stat then. */
    int st_ok = !(rest & FAN_DELETE) && lstat(path, &st) == 0;
    /* One record can stand for several changes (split_order). */
    if (rest & (rest - 1))
        rp_util_count(&cf->ctr, CF_C_MERGED, 1);
    for (size_t i = 0; i < sizeof split_order / sizeof split_order[0]; i++) {
        if (!(rest & split_order[i].bit))
            continue;
        struct cf_change ch = {split_order[i].kind, path, NULL, is_dir, pid, st_ok ? &st : NULL, 0};
        cf_emit(cf, &ch);
    }
    if (is_dir && (rest & FAN_CREATE) && fan->any_inode_marks && !(rest & FAN_DELETE) &&
        cf_path_wanted(cf, path))
        mark_tree(cf, path);
}

static void process_buffer(struct cf *cf, const char *buf, size_t len)
{
    struct cf_fanwalk w;
    struct cf_fanrec m;
    int rc;
    cf_fanwalk_init(&w, buf, len);
    while ((rc = cf_fanwalk_next(&w, &m)) == 0) {
        rp_util_count(&cf->ctr, CF_C_RECORDS, 1);
        if (m.vers != FANOTIFY_METADATA_VERSION) {
            rp_util_count(&cf->ctr, CF_C_RESOLVE_FAILED, 1);
            continue;
        }
        if (m.fd >= 0)
            close(m.fd); /* not expected with FID reporting; never leak one */
        if (m.mask & FAN_Q_OVERFLOW) {
            cf_overflow(cf, "fanotify");
            continue;
        }
        if (cf->exclude_self && m.pid == cf->self_pid) {
            rp_util_count(&cf->ctr, CF_C_SELF, 1);
            continue;
        }
        handle_record(cf, &m);
    }
    /* A record whose lengths do not fit: the rest of this read is dropped,
     * as the next record cannot be found. */
    if (rc == RP_ERR_PARSE)
        rp_util_count(&cf->ctr, CF_C_RESOLVE_FAILED, 1);
}

/* ---- lifecycle -------------------------------------------------------------- */

int cf_fan_start(struct cf *cf)
{
    struct cf_fan *fan = calloc(1, sizeof *fan);
    if (!fan)
        return RP_ERR_NOMEM;
    fan->fd = -1;
    for (int i = 0; i < CF_MAX_PATHS; i++)
        fan->fs[i].mount_fd = -1;
    cf->fan = fan;

    unsigned int flags = FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME |
                         FAN_REPORT_FID | FAN_REPORT_TARGET_FID;
    /* The default queue (16384 records): an unlimited one would let a burst
     * eat the machine's memory; an overflow is counted and logged instead. */
    fan->fd = fanotify_init(flags, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (fan->fd < 0) {
        int e = errno;
        rp_util_logf(cf->host, cf->self, cf->mode == CF_MODE_FANOTIFY ? RP_LOG_ERROR : RP_LOG_INFO,
                     "fanotify_init with names and rename records (Linux 5.17) failed: %s",
                     strerror(e));
        cf_fan_stop(cf);
        return (e == EINVAL || e == EPERM || e == ENOSYS || e == EOPNOTSUPP) ? RP_ERR_UNSUPPORTED
                                                                             : RP_ERR_IO;
    }
    fan->mask = FAN_ONDIR | FAN_RENAME;
    if (cf->events & CF_EV_CREATE || cf->mark != CF_MARK_FILESYSTEM)
        fan->mask |= FAN_CREATE; /* also how new folders get inode marks */
    if (cf->events & CF_EV_DELETE)
        fan->mask |= FAN_DELETE;
    if (cf->events & CF_EV_MODIFY)
        fan->mask |= FAN_CLOSE_WRITE;
    if (cf->events & CF_EV_EXEC)
        fan->mask |= FAN_OPEN_EXEC;
    fan->publish = fan->mask & (FAN_DELETE | FAN_CLOSE_WRITE | FAN_OPEN_EXEC);
    if (cf->events & CF_EV_CREATE)
        fan->publish |= FAN_CREATE;

    uint32_t watched = 0, unsupported = 0;
    for (uint32_t i = 0; i < cf->npaths; i++) {
        int rc = add_path(cf, cf->paths[i].path);
        if (rc == 0)
            watched++;
        else if (rc == RP_ERR_UNSUPPORTED)
            unsupported++;
        else if (rc != RP_ERR_NOTFOUND) {
            cf_fan_stop(cf);
            return rc;
        }
    }
    if (watched == 0) {
        rp_util_logf(cf->host, cf->self, RP_LOG_ERROR,
                     "fanotify: none of the %u configured folders can be watched", cf->npaths);
        cf_fan_stop(cf);
        return unsupported ? RP_ERR_UNSUPPORTED : RP_ERR_NOTFOUND;
    }
    /* Everything the loop thread reads is set before the fd goes to it: the
     * first records may arrive at once. */
    cf->provider = "fanotify";
    uint32_t fs_marks = 0, inode_marks = fan->nmarks;
    for (uint32_t i = 0; i < fan->nfs; i++)
        fs_marks += (uint32_t)fan->fs[i].fs_marked;
    int rc = cf_pump_start(cf, fan->fd, process_buffer, NULL);
    if (rc != 0) {
        cf_fan_stop(cf);
        return rc;
    }
    fan->pumping = 1;
    rp_util_logf(cf->host, cf->self, RP_LOG_INFO,
                 "fanotify: watching %u of %u folders (%u filesystem marks, %u inode marks)%s",
                 watched, cf->npaths, fs_marks, inode_marks,
                 cf->exclude_self ? "; the agent's own file activity is ignored" : "");
    return 0;
}

void cf_fan_stop(struct cf *cf)
{
    struct cf_fan *fan = cf->fan;
    if (!fan)
        return;
    if (fan->pumping)
        cf_pump_stop(cf);
    if (fan->fd >= 0)
        close(fan->fd);
    for (uint32_t i = 0; i < fan->nfs; i++)
        if (fan->fs[i].mount_fd >= 0)
            close(fan->fs[i].mount_fd);
    dcache_flush(fan);
    free(fan);
    cf->fan = NULL;
}
