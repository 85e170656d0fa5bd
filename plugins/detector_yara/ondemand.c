/*
 * plugins/detector_yara/ondemand.c - on-demand and scheduled scans
 * (ondemand.h): a walk through descriptors (openat from the parent, never
 * a path twice), each file judged by the scanner; a scheduler thread at
 * idle I/O priority and nice 19.
 */
#define _GNU_SOURCE
#include "ondemand.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef TRACEFS_MAGIC
#define TRACEFS_MAGIC 0x74726163
#endif
#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef EFIVARFS_MAGIC
#define EFIVARFS_MAGIC 0xde5e81e4
#endif
#ifndef CONFIGFS_MAGIC
#define CONFIGFS_MAGIC 0x62656570
#endif

static const char *const skip_names[DY_OD_SKIP_COUNT] = {
    "symlink",  "not_regular", "excluded",  "pseudo_fs", "other_fs",
    "too_deep", "too_long",    "too_large", "vanished",
};

const char *dy_od_skip_name(int reason)
{
    return reason >= 0 && reason < DY_OD_SKIP_COUNT ? skip_names[reason] : "?";
}

/* Never walked, whatever the options: their files are the kernel's views,
 * not files (reading some blocks or has side effects). */
static const char *const always_excluded[] = {"/proc", "/sys", "/dev"};
#define ALWAYS_EXCLUDED (sizeof(always_excluded) / sizeof(always_excluded[0]))

/* ---- paths ---- */

/* Copies path into a fresh string in normal form: absolute, single
 * slashes, no trailing slash (but "/"), no "." or ".." component. */
static int normalize(const char *path, char **out)
{
    if (!path || path[0] != '/')
        return RP_ERR_INVAL;
    size_t n = strlen(path);
    if (n >= DY_OD_PATH_MAX)
        return RP_ERR_RANGE;
    char *p = malloc(n + 1);
    if (!p)
        return RP_ERR_NOMEM;
    size_t len = 0;
    const char *s = path;
    while (*s) {
        while (*s == '/')
            s++;
        if (!*s)
            break;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        size_t cl = (size_t)(e - s);
        if ((cl == 1 && s[0] == '.') || (cl == 2 && s[0] == '.' && s[1] == '.')) {
            free(p);
            return RP_ERR_INVAL;
        }
        p[len++] = '/';
        memcpy(p + len, s, cl);
        len += cl;
        s = e;
    }
    if (len == 0)
        p[len++] = '/';
    p[len] = '\0';
    *out = p;
    return 0;
}

static bool under(const char *path, size_t plen, const char *ex)
{
    size_t el = strlen(ex);
    if (el == 1) /* "/" */
        return true;
    return plen >= el && memcmp(path, ex, el) == 0 && (plen == el || path[el] == '/');
}

static bool pseudo_fs(long type)
{
    switch ((unsigned long)type) {
    case PROC_SUPER_MAGIC:
    case SYSFS_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case DEBUGFS_MAGIC:
    case TRACEFS_MAGIC:
    case SECURITYFS_MAGIC:
    case BPF_FS_MAGIC:
    case EFIVARFS_MAGIC:
    case CONFIGFS_MAGIC:
    case PSTOREFS_MAGIC:
        return true;
    default:
        return false;
    }
}

/* ---- the walk ---- */

struct walker {
    struct dy_scanner *s;
    struct dy_scan_thread *t;
    const struct dy_ruleset *rs;
    const struct dy_od_opts *o;
    char **excludes; /* normalized, the always-excluded ones first */
    size_t n_excludes;
    uint32_t max_depth;
    uint64_t t0_ns, last_ns, every_ns;
    dev_t root_dev;
    struct dy_od_progress p;
    /* One result for the whole walk: results are large, and the walk
     * recurses once per folder level. */
    struct dy_scan_result res;
    char path[DY_OD_PATH_MAX];
    size_t len;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool cancelled(struct walker *w)
{
    if (w->p.cancelled)
        return true;
    if (w->o->cancel && atomic_load_explicit(w->o->cancel, memory_order_relaxed))
        w->p.cancelled = true;
    return w->p.cancelled;
}

static void fill_rates(struct walker *w, uint64_t now)
{
    w->p.elapsed_s = (double)(now - w->t0_ns) / 1e9;
    if (w->p.elapsed_s > 0) {
        w->p.mb_per_s = (double)w->p.bytes / 1e6 / w->p.elapsed_s;
        w->p.files_per_s = (double)w->p.files / w->p.elapsed_s;
    }
}

/* Called between entries: progress at most once per interval. */
static void tick(struct walker *w)
{
    if (!w->o->progress)
        return;
    uint64_t now = now_ns();
    if (now - w->last_ns < w->every_ns)
        return;
    w->last_ns = now;
    fill_rates(w, now);
    w->o->progress(w->o->ctx, &w->p);
}

static void skip(struct walker *w, enum dy_od_skip why)
{
    w->p.skip[why]++;
    w->p.skipped++;
}

static void fail(struct walker *w, int err, const char *what)
{
    w->p.errors++;
    if (w->o->error)
        w->o->error(w->o->ctx, w->path, err, what);
}

/* Whether w->path is excluded: -1 no, else the reason. */
static int excluded(const struct walker *w)
{
    for (size_t i = 0; i < w->n_excludes; i++)
        if (under(w->path, w->len, w->excludes[i]))
            return i < ALWAYS_EXCLUDED ? DY_OD_SKIP_PSEUDO_FS : DY_OD_SKIP_EXCLUDED;
    return -1;
}

/* Appends "/name" to w->path; false (and the path unchanged) when too long. */
static bool push(struct walker *w, const char *name, size_t *saved)
{
    size_t nl = strlen(name);
    size_t sep = (w->len == 1 && w->path[0] == '/') ? 0 : 1;
    if (w->len + sep + nl >= sizeof(w->path))
        return false;
    *saved = w->len;
    if (sep)
        w->path[w->len++] = '/';
    memcpy(w->path + w->len, name, nl + 1);
    w->len += nl;
    return true;
}

static void pop(struct walker *w, size_t saved)
{
    w->len = saved;
    w->path[saved] = '\0';
}

/* Opens name under dfd (AT_FDCWD with an absolute name for a path of the
 * list) without following a link, without touching its access time where
 * the kernel lets us. */
static int open_nofollow(int dfd, const char *name, int extra)
{
    int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | extra;
    int fd = openat(dfd, name, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM) /* O_NOATIME: neither the owner nor CAP_FOWNER */
        fd = openat(dfd, name, flags);
    return fd;
}

static int open_errno_code(int e)
{
    return (e == EACCES || e == EPERM) ? RP_ERR_PERM : RP_ERR_IO;
}

/* Counts one file's result. */
static void account(struct walker *w, const struct dy_scan_result *res)
{
    switch (res->outcome) {
    case DY_SCAN_CLEAN:
    case DY_SCAN_MALICIOUS:
        w->p.files++;
        w->p.bytes += res->id.size;
        w->p.bytes_read += res->bytes;
        w->p.cache_hits += res->from_cache;
        if (res->outcome == DY_SCAN_MALICIOUS) {
            w->p.matches++;
            if (w->o->match)
                w->o->match(w->o->ctx, w->path, res);
        }
        break;
    case DY_SCAN_NOT_REGULAR:
        skip(w, DY_OD_SKIP_NOT_REGULAR);
        break;
    case DY_SCAN_TOO_LARGE:
        skip(w, DY_OD_SKIP_TOO_LARGE);
        break;
    case DY_SCAN_TIMEOUT:
        fail(w, RP_ERR_TIMEOUT, "scan timed out");
        break;
    case DY_SCAN_CHANGING:
        fail(w, RP_ERR_AGAIN, "changed during every scan");
        break;
    case DY_SCAN_BUDGET: /* not charged (DY_SCAN_NO_BUDGET): never expected */
    case DY_SCAN_ERROR:
    default:
        fail(w, res->error ? res->error : RP_ERR_INTERNAL,
             res->msg[0] ? res->msg : dy_scan_outcome_name(res->outcome));
        break;
    }
}

/* Judges the open regular file fd (owned: closed here). */
static void judge(struct walker *w, int fd)
{
    int rc = dy_scan_fd(w->t, w->rs, fd, 0, DY_SCAN_NO_BUDGET, &w->res);
    close(fd);
    if (rc != 0)
        fail(w, rc, "scan");
    else
        account(w, &w->res);
}

static void walk_dir(struct walker *w, int dfd, uint32_t depth);

/* Walks the folder open as fd (owned), whose stat is st. */
static void enter_dir(struct walker *w, int fd, const struct stat *st, uint32_t depth)
{
    struct statfs sf;
    if (fstatfs(fd, &sf) == 0 && pseudo_fs((long)sf.f_type)) {
        close(fd);
        skip(w, DY_OD_SKIP_PSEUDO_FS);
        return;
    }
    if (!w->o->cross_fs && st->st_dev != w->root_dev) {
        close(fd);
        skip(w, DY_OD_SKIP_OTHER_FS);
        return;
    }
    walk_dir(w, fd, depth);
}

/* One entry of the folder dfd, whose path is w->path. */
static void visit(struct walker *w, int dfd, const char *name, unsigned char dtype, uint32_t depth)
{
    if (dtype == DT_LNK) {
        skip(w, DY_OD_SKIP_SYMLINK);
        return;
    }
    int ex = excluded(w);
    if (ex >= 0) {
        skip(w, (enum dy_od_skip)ex);
        return;
    }
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)
            skip(w, DY_OD_SKIP_VANISHED);
        else
            fail(w, open_errno_code(errno), "stat");
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        skip(w, DY_OD_SKIP_SYMLINK);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        if (depth + 1 > w->max_depth) {
            skip(w, DY_OD_SKIP_TOO_DEEP);
            return;
        }
        if (!w->o->cross_fs && st.st_dev != w->root_dev) {
            skip(w, DY_OD_SKIP_OTHER_FS); /* a mount point: not even opened */
            return;
        }
        int fd = open_nofollow(dfd, name, O_DIRECTORY);
        if (fd < 0) {
            if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR)
                skip(w, DY_OD_SKIP_VANISHED); /* removed or replaced since the stat */
            else
                fail(w, open_errno_code(errno), "open folder");
            return;
        }
        /* Decide on what was opened, not on what the stat saw. */
        if (fstat(fd, &st) != 0) {
            close(fd);
            fail(w, RP_ERR_IO, "stat folder");
            return;
        }
        enter_dir(w, fd, &st, depth + 1);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        skip(w, DY_OD_SKIP_NOT_REGULAR);
        return;
    }
    if (!w->o->cross_fs && st.st_dev != w->root_dev) {
        skip(w, DY_OD_SKIP_OTHER_FS); /* a file mounted over (bind mount) */
        return;
    }
    /* A file already judged is answered from its stat alone: a rescan of
     * an unchanged tree opens and reads nothing. */
    if (dy_scan_stat(w->s, w->rs, &st, &w->res) == 0) {
        account(w, &w->res);
        return;
    }
    int fd = open_nofollow(dfd, name, 0);
    if (fd < 0) {
        if (errno == ENOENT || errno == ELOOP)
            skip(w, DY_OD_SKIP_VANISHED);
        else
            fail(w, open_errno_code(errno), "open");
        return;
    }
    judge(w, fd); /* dy_scan_fd checks the descriptor is a regular file */
}

static void walk_dir(struct walker *w, int dfd, uint32_t depth)
{
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        fail(w, RP_ERR_NOMEM, "fdopendir");
        return;
    }
    w->p.dirs++;
    for (;;) {
        if (cancelled(w))
            break;
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno != 0)
                fail(w, RP_ERR_IO, "read folder");
            break;
        }
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t saved;
        if (!push(w, e->d_name, &saved)) {
            skip(w, DY_OD_SKIP_TOO_LONG);
            continue;
        }
        visit(w, dirfd(d), e->d_name, e->d_type, depth);
        pop(w, saved);
        tick(w);
    }
    closedir(d);
}

/* One path of the list (normalized, in w->path). */
static void scan_root(struct walker *w)
{
    int ex = excluded(w);
    if (ex >= 0) {
        skip(w, (enum dy_od_skip)ex);
        return;
    }
    int fd = open_nofollow(AT_FDCWD, w->path, 0);
    if (fd < 0) {
        if (errno == ELOOP)
            skip(w, DY_OD_SKIP_SYMLINK);
        else if (errno == ENOENT)
            fail(w, RP_ERR_NOTFOUND, "no such file or folder");
        else
            fail(w, open_errno_code(errno), "open");
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        fail(w, RP_ERR_IO, "stat");
        return;
    }
    w->root_dev = st.st_dev;
    if (S_ISDIR(st.st_mode))
        enter_dir(w, fd, &st, 0);
    else if (S_ISREG(st.st_mode))
        judge(w, fd);
    else {
        close(fd);
        skip(w, DY_OD_SKIP_NOT_REGULAR);
    }
}

static void free_list(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Checks and normalizes a list of paths into *out (n entries, after the
 * `first` fixed entries). */
static int norm_list(const char *const *in, size_t n, size_t cap, const char *const *first,
                     size_t n_first, char ***out, size_t *n_out)
{
    if (n > cap || (n && !in))
        return n > cap ? RP_ERR_RANGE : RP_ERR_INVAL;
    char **v = calloc(n_first + n + 1, sizeof(*v));
    if (!v)
        return RP_ERR_NOMEM;
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n_first && rc == 0; i++)
        rc = normalize(first[i], &v[k++]);
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = normalize(in[i], &v[k]);
        if (rc == 0)
            k++;
    }
    if (rc != 0) {
        free_list(v, k);
        return rc;
    }
    *out = v;
    *n_out = k;
    return 0;
}

static int check_opts(const struct dy_od_opts *o)
{
    if (!o || (o->n_paths && !o->paths) || o->n_paths == 0)
        return RP_ERR_INVAL;
    if (o->n_paths > DY_OD_PATHS_MAX || o->n_excludes > DY_OD_EXCLUDES_MAX ||
        o->max_depth > DY_OD_DEPTH_MAX)
        return RP_ERR_RANGE;
    return 0;
}

int dy_ondemand_run(struct dy_scanner *s, const struct dy_ruleset *rs, const struct dy_od_opts *o,
                    struct dy_od_progress *summary)
{
    if (!s || !rs)
        return RP_ERR_INVAL;
    int rc = check_opts(o);
    if (rc != 0)
        return rc;
    struct walker *w = calloc(1, sizeof(*w));
    if (!w)
        return RP_ERR_NOMEM;
    char **paths = NULL;
    size_t n_paths = 0;
    rc = norm_list(o->paths, o->n_paths, DY_OD_PATHS_MAX, NULL, 0, &paths, &n_paths);
    if (rc == 0)
        rc = norm_list(o->excludes, o->n_excludes, DY_OD_EXCLUDES_MAX, always_excluded,
                       ALWAYS_EXCLUDED, &w->excludes, &w->n_excludes);
    if (rc == 0)
        rc = dy_scan_thread_create(s, &w->t);
    if (rc != 0)
        goto out;
    w->s = s;
    w->rs = rs;
    w->o = o;
    w->max_depth = o->max_depth ? o->max_depth : DY_OD_DEPTH_DEF;
    w->every_ns = (uint64_t)(o->progress_ms ? o->progress_ms : DY_OD_PROGRESS_MS_DEF) * 1000000ull;
    w->t0_ns = w->last_ns = now_ns();
    for (size_t i = 0; i < n_paths && !cancelled(w); i++) {
        size_t l = strlen(paths[i]);
        memcpy(w->path, paths[i], l + 1);
        w->len = l;
        scan_root(w);
        tick(w);
    }
    w->path[0] = '\0';
    w->len = 0;
    w->p.final = true;
    fill_rates(w, now_ns());
    if (o->progress)
        o->progress(o->ctx, &w->p);
    if (summary)
        *summary = w->p;
out:
    dy_scan_thread_destroy(w->t);
    free_list(paths, n_paths);
    free_list(w->excludes, w->n_excludes);
    free(w);
    return rc;
}

/* ---- scheduled scans ---- */

struct dy_sched {
    struct dy_scanner *s;
    struct dy_sched_opts o; /* scan.paths / scan.excludes point into the copies */
    char **paths, **excludes;
    size_t n_paths, n_excludes;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, trigger, started;
    int start_rc;
    char start_err[160];
    atomic_bool cancel;
    /* Under mu. */
    struct dy_sched_stats st;
};

/* Lowers the calling thread's I/O class to idle and its nice value to 19.
 * Linux keeps both per thread (ioprio_set with who 0 is the calling
 * thread; setpriority with a thread id is that thread only). */
static int lower_priority(pid_t tid, char *err, size_t errlen)
{
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) !=
        0) {
        int e = errno;
        snprintf(err, errlen, "ioprio_set(IOPRIO_CLASS_IDLE): %s", strerror(e));
        return e == EPERM ? RP_ERR_PERM : RP_ERR_IO;
    }
    if (setpriority(PRIO_PROCESS, (id_t)tid, 19) != 0) {
        int e = errno;
        snprintf(err, errlen, "setpriority(nice 19): %s", strerror(e));
        return e == EPERM || e == EACCES ? RP_ERR_PERM : RP_ERR_IO;
    }
    return 0;
}

static void run_once(struct dy_sched *sc)
{
    struct dy_ruleset *rs = sc->o.rules(sc->o.scan.ctx);
    pthread_mutex_lock(&sc->mu);
    if (!rs) {
        sc->st.no_rules++;
        pthread_mutex_unlock(&sc->mu);
        return;
    }
    sc->st.running = true;
    pthread_mutex_unlock(&sc->mu);

    struct dy_od_opts o = sc->o.scan;
    o.cancel = &sc->cancel;
    struct dy_od_progress sum;
    memset(&sum, 0, sizeof(sum));
    int rc = dy_ondemand_run(sc->s, rs, &o, &sum);
    dy_ruleset_unref(rs);
    if (rc != 0 && o.error)
        o.error(o.ctx, "", rc, "scheduled scan");
    if (rc == 0 && sc->o.done)
        sc->o.done(o.ctx, &sum);

    pthread_mutex_lock(&sc->mu);
    sc->st.running = false;
    sc->st.runs++;
    if (rc == 0)
        sc->st.last = sum;
    pthread_mutex_unlock(&sc->mu);
}

static void *sched_main(void *arg)
{
    struct dy_sched *sc = arg;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    char err[160] = "";
    int rc = lower_priority(tid, err, sizeof(err));
    pthread_mutex_lock(&sc->mu);
    sc->st.tid = tid;
    sc->start_rc = rc;
    snprintf(sc->start_err, sizeof(sc->start_err), "%s", err);
    sc->started = true;
    pthread_cond_broadcast(&sc->cv);
    if (rc != 0) {
        pthread_mutex_unlock(&sc->mu);
        return NULL;
    }
    uint64_t next = now_ns() + (uint64_t)sc->o.first_delay_s * 1000000000ull;
    const uint64_t every = (uint64_t)sc->o.interval_s * 1000000000ull;
    while (!sc->stop) {
        uint64_t now = now_ns();
        if (!sc->trigger && now < next) {
            struct timespec ts = {.tv_sec = (time_t)(next / 1000000000ull),
                                  .tv_nsec = (long)(next % 1000000000ull)};
            pthread_cond_timedwait(&sc->cv, &sc->mu, &ts);
            continue;
        }
        sc->trigger = false;
        uint64_t started = now;
        pthread_mutex_unlock(&sc->mu);
        run_once(sc);
        pthread_mutex_lock(&sc->mu);
        /* From the start of this scan; a long scan is followed at once by
         * the next, never by a backlog of missed ones. */
        next = started + every;
    }
    pthread_mutex_unlock(&sc->mu);
    return NULL;
}

static void sched_free(struct dy_sched *sc)
{
    free_list(sc->paths, sc->n_paths);
    free_list(sc->excludes, sc->n_excludes);
    pthread_cond_destroy(&sc->cv);
    pthread_mutex_destroy(&sc->mu);
    free(sc);
}

int dy_sched_start(struct dy_scanner *s, const struct dy_sched_opts *o, struct dy_sched **out,
                   char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!s || !o || !out || !o->rules)
        return RP_ERR_INVAL;
    int rc = check_opts(&o->scan);
    if (rc != 0)
        return rc;
    if (o->interval_s == 0 || o->interval_s > DY_SCHED_INTERVAL_MAX ||
        o->first_delay_s > DY_SCHED_INTERVAL_MAX)
        return RP_ERR_RANGE;
    struct dy_sched *sc = calloc(1, sizeof(*sc));
    if (!sc)
        return RP_ERR_NOMEM;
    sc->s = s;
    sc->o = *o;
    /* The paths are checked now, so that a bad one fails the start, and
     * copied, so that the caller's may go. */
    rc = norm_list(o->scan.paths, o->scan.n_paths, DY_OD_PATHS_MAX, NULL, 0, &sc->paths,
                   &sc->n_paths);
    if (rc == 0)
        rc = norm_list(o->scan.excludes, o->scan.n_excludes, DY_OD_EXCLUDES_MAX, NULL, 0,
                       &sc->excludes, &sc->n_excludes);
    if (rc != 0) {
        free_list(sc->paths, sc->n_paths);
        free(sc);
        return rc;
    }
    sc->o.scan.paths = (const char *const *)sc->paths;
    sc->o.scan.excludes = (const char *const *)sc->excludes;
    sc->o.scan.cancel = NULL;
    atomic_init(&sc->cancel, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sc->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&sc->mu, NULL);
    if (pthread_create(&sc->th, NULL, sched_main, sc) != 0) {
        sched_free(sc);
        return RP_ERR_NOMEM;
    }
    pthread_mutex_lock(&sc->mu);
    while (!sc->started)
        pthread_cond_wait(&sc->cv, &sc->mu);
    rc = sc->start_rc;
    if (rc != 0 && err && errlen)
        snprintf(err, errlen, "%s", sc->start_err);
    pthread_mutex_unlock(&sc->mu);
    if (rc != 0) {
        pthread_join(sc->th, NULL);
        sched_free(sc);
        return rc;
    }
    *out = sc;
    return 0;
}

int dy_sched_trigger(struct dy_sched *sc)
{
    if (!sc)
        return RP_ERR_INVAL;
    pthread_mutex_lock(&sc->mu);
    int rc = sc->st.running || sc->trigger ? RP_ERR_BUSY : 0;
    if (rc == 0) {
        sc->trigger = true;
        pthread_cond_broadcast(&sc->cv);
    }
    pthread_mutex_unlock(&sc->mu);
    return rc;
}

void dy_sched_stats(struct dy_sched *sc, struct dy_sched_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!sc)
        return;
    pthread_mutex_lock(&sc->mu);
    *out = sc->st;
    pthread_mutex_unlock(&sc->mu);
}

void dy_sched_stop(struct dy_sched *sc)
{
    if (!sc)
        return;
    pthread_mutex_lock(&sc->mu);
    sc->stop = true;
    atomic_store(&sc->cancel, true);
    pthread_cond_broadcast(&sc->cv);
    pthread_mutex_unlock(&sc->mu);
    pthread_join(sc->th, NULL);
    sched_free(sc);
}
