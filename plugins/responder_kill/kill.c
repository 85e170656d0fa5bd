/*
 * kill.c - the safe-kill core of responder_kill (kill.h). Every check reads
 * /proc through a descriptor opened after the pid was pinned, so what is
 * checked and what is signalled are the same process.
 */
#define _GNU_SOURCE
#include "kill.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PF_KTHREAD_FLAG 0x00200000u
#define KTHREADD_PID    2
#define ANCESTOR_MAX    64    /* levels of the agent's parents checked */
#define SCAN_MAX        65536 /* /proc entries one scan reads (the fallback) */

static const char *const code_names[] = {
    [RK_DONE] = "done",
    [RK_GONE] = "gone",
    [RK_REFUSED_INIT] = "refused_init",
    [RK_REFUSED_KTHREAD] = "refused_kernel_thread",
    [RK_REFUSED_SELF] = "refused_agent",
    [RK_REFUSED_PROTECTED_EXE] = "refused_protected_executable",
    [RK_REFUSED_PROTECTED_COMM] = "refused_protected_name",
    [RK_REFUSED_REUSED] = "refused_pid_reused",
    [RK_REFUSED_THREAD] = "refused_thread",
    [RK_FAILED] = "failed",
};

const char *rk_code_name(int code)
{
    if (code < 0 || (size_t)code >= sizeof code_names / sizeof code_names[0] || !code_names[code])
        return "unknown";
    return code_names[code];
}

int rk_protect_add_exe(struct rk_protect *p, const char *path)
{
    struct stat st;
    if (!p || !path)
        return RP_ERR_INVAL;
    if (p->n_exe >= RK_PROTECT_MAX)
        return RP_ERR_FULL;
    if (stat(path, &st) != 0)
        return RP_ERR_NOTFOUND;
    if (!S_ISREG(st.st_mode))
        return RP_ERR_INVAL;
    p->exe_dev[p->n_exe] = st.st_dev;
    p->exe_ino[p->n_exe] = st.st_ino;
    p->n_exe++;
    return 0;
}

int rk_protect_add_comm(struct rk_protect *p, const char *comm)
{
    size_t len;
    if (!p || !comm || !comm[0])
        return RP_ERR_INVAL;
    len = strlen(comm);
    if (len >= RK_COMM_MAX)
        return RP_ERR_RANGE;
    if (p->n_comm >= RK_PROTECT_MAX)
        return RP_ERR_FULL;
    memcpy(p->comm[p->n_comm], comm, len + 1);
    p->n_comm++;
    return 0;
}

/* The command name may hold spaces and parentheses, so fields are counted
 * after the last ')'. */
int rk_parse_stat(const char *buf, struct rk_stat *st)
{
    const char *open_paren = strchr(buf, '('), *close_paren = strrchr(buf, ')');
    const char *p;
    char *end;
    int field;
    size_t clen;
    if (!open_paren || !close_paren || close_paren < open_paren)
        return RP_ERR_PARSE;
    clen = (size_t)(close_paren - open_paren - 1);
    if (clen >= RK_COMM_MAX)
        clen = RK_COMM_MAX - 1;
    memcpy(st->comm, open_paren + 1, clen);
    st->comm[clen] = '\0';
    p = close_paren + 1;
    for (field = 3; field <= 22; field++) {
        unsigned long long v;
        while (*p == ' ')
            p++;
        if (!*p)
            return RP_ERR_PARSE;
        if (field == 3) {
            st->state = *p;
        } else if (field == 4 || field == 9 || field == 22) {
            v = strtoull(p, &end, 10);
            if (end == p)
                return RP_ERR_PARSE;
            if (field == 4)
                st->ppid = (int32_t)v;
            else if (field == 9)
                st->flags = (uint32_t)v;
            else
                st->start = (uint64_t)v;
        }
        while (*p && *p != ' ')
            p++;
    }
    return 0;
}

/* Reads a small /proc file relative to dirfd; -errno on failure. */
static int read_small(int dirfd, const char *rel, char *buf, size_t cap)
{
    int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
    ssize_t n;
    if (fd < 0)
        return -errno;
    n = read(fd, buf, cap - 1);
    if (n < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    buf[n] = '\0';
    return n > 0 ? 0 : -ESRCH;
}

/* The stat of the process dirfd names; -errno, or -EPROTO on text not
 * understood. */
static int stat_at(int dirfd, struct rk_stat *st)
{
    char buf[1024];
    int rc = read_small(dirfd, "stat", buf, sizeof buf);
    if (rc < 0)
        return rc;
    return rk_parse_stat(buf, st) == 0 ? 0 : -EPROTO;
}

static int open_pid_dir(int32_t pid)
{
    char path[32];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int rk_proc_parent(int32_t pid, int32_t *ppid, uint64_t *start)
{
    struct rk_stat st;
    int fd, rc;
    if (!ppid || !start || pid <= 0)
        return RP_ERR_INVAL;
    fd = open_pid_dir(pid);
    if (fd < 0)
        return RP_ERR_NOTFOUND;
    rc = stat_at(fd, &st);
    close(fd);
    if (rc == -EPROTO)
        return RP_ERR_PARSE;
    if (rc != 0)
        return RP_ERR_NOTFOUND;
    *ppid = st.ppid;
    *start = st.start;
    return 0;
}

/* The Tgid line of status: the process a thread id belongs to. */
static int tgid_at(int dirfd, int32_t *tgid)
{
    char buf[4096];
    const char *p;
    char *end;
    long v;
    int rc = read_small(dirfd, "status", buf, sizeof buf);
    if (rc < 0)
        return rc;
    p = strstr(buf, "\nTgid:");
    if (!p)
        return -EPROTO;
    v = strtol(p + 6, &end, 10);
    if (end == p + 6)
        return -EPROTO;
    *tgid = (int32_t)v;
    return 0;
}

/* Whether pid is one of the agent's ancestors: killing the service manager
 * or shell that runs the agent is never what a detection asks for. A live
 * ancestor's pid cannot be reused, so the pid alone names it. */
static int is_ancestor(int32_t pid)
{
    int32_t cur = (int32_t)getppid();
    int i;
    for (i = 0; i < ANCESTOR_MAX && cur > 1; i++) {
        struct rk_stat st;
        int fd;
        if (cur == pid)
            return 1;
        fd = open_pid_dir(cur);
        if (fd < 0)
            return 0;
        if (stat_at(fd, &st) != 0) {
            close(fd);
            return 0;
        }
        close(fd);
        cur = st.ppid;
    }
    return 0;
}

static int is_gone_errno(int e)
{
    return e == ESRCH || e == ENOENT;
}

/* Matches the process dirfd names against the protected list. */
static int check_protected(int dirfd, const struct rk_stat *st, const struct rk_protect *p,
                           struct rk_result *res)
{
    uint32_t i;
    if (!p)
        return 0;
    for (i = 0; i < p->n_comm; i++) {
        if (strcmp(p->comm[i], st->comm) == 0) {
            res->code = RK_REFUSED_PROTECTED_COMM;
            return 1;
        }
    }
    if (p->n_exe) {
        struct stat est;
        int fd = openat(dirfd, "exe", O_PATH | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &est) != 0) {
            /* Without its executable the list cannot be checked: a gone
             * process is reported as such, anything else fails closed. */
            int e = errno;
            struct rk_stat again;
            if (fd >= 0)
                close(fd);
            if (is_gone_errno(e) &&
                (stat_at(dirfd, &again) != 0 || again.state == 'Z' || again.state == 'X')) {
                res->code = RK_GONE;
            } else {
                res->code = RK_FAILED;
                res->err = e;
            }
            return 1;
        }
        close(fd);
        for (i = 0; i < p->n_exe; i++) {
            if (est.st_dev == p->exe_dev[i] && est.st_ino == p->exe_ino[i]) {
                res->code = RK_REFUSED_PROTECTED_EXE;
                return 1;
            }
        }
    }
    return 0;
}

static int sys_pidfd_open(int32_t pid)
{
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0u);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int sys_pidfd_send_signal(int pidfd, int sig)
{
#ifdef SYS_pidfd_send_signal
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0u);
#else
    (void)pidfd;
    (void)sig;
    errno = ENOSYS;
    return -1;
#endif
}

/* The checks and the signal, with pidfd (or -1) and the /proc directory. */
static void kill_checked(int32_t pid, uint64_t start, int sig, const struct rk_opts *opts,
                         int pidfd, int dirfd, struct rk_result *res)
{
    struct rk_stat st;
    int32_t tgid = 0;
    int rc = tgid_at(dirfd, &tgid);
    if (rc < 0) {
        res->code = is_gone_errno(-rc) ? RK_GONE : RK_FAILED;
        res->err = is_gone_errno(-rc) ? 0 : -rc;
        return;
    }
    if (tgid != pid) {
        /* /proc/<tid> of a thread exists but is not listed: an id of one
         * of the agent's own threads names the agent. */
        res->code = tgid == (int32_t)getpid() ? RK_REFUSED_SELF : RK_REFUSED_THREAD;
        return;
    }
    rc = stat_at(dirfd, &st);
    if (rc < 0) {
        res->code = is_gone_errno(-rc) ? RK_GONE : RK_FAILED;
        res->err = is_gone_errno(-rc) ? 0 : -rc;
        return;
    }
    if ((st.flags & PF_KTHREAD_FLAG) || st.ppid == KTHREADD_PID) {
        res->code = RK_REFUSED_KTHREAD;
        return;
    }
    if (st.start != start) {
        res->code = RK_REFUSED_REUSED;
        return;
    }
    if (st.state == 'Z' || st.state == 'X') {
        res->code = RK_GONE;
        return;
    }
    if (check_protected(dirfd, &st, opts ? opts->protect : NULL, res))
        return;
    if (opts && opts->before_signal)
        opts->before_signal(opts->before_signal_arg);
    if (pidfd >= 0) {
        /* The start read after pidfd_open matched: the pidfd is that
         * process, whatever happens to the pid from here on. */
        if (sys_pidfd_send_signal(pidfd, sig) != 0) {
            res->code = errno == ESRCH ? RK_GONE : RK_FAILED;
            res->err = errno == ESRCH ? 0 : errno;
            return;
        }
    } else {
        /* No pidfd: the directory still names the process it was opened
         * for (reads fail once it is gone), so a start read through it
         * right now narrows the reuse window to this read and kill(2). */
        rc = stat_at(dirfd, &st);
        if (rc < 0 || st.start != start) {
            res->code = rc < 0 ? RK_GONE : RK_REFUSED_REUSED;
            return;
        }
        if (kill((pid_t)pid, sig) != 0) {
            res->code = errno == ESRCH ? RK_GONE : RK_FAILED;
            res->err = errno == ESRCH ? 0 : errno;
            return;
        }
    }
    res->code = RK_DONE;
}

int rk_kill_one(int32_t pid, uint64_t start, int sig, const struct rk_opts *opts,
                struct rk_result *res)
{
    int pidfd = -1, dirfd;
    if (!res || sig < 0 || sig > 64)
        return RP_ERR_INVAL;
    memset(res, 0, sizeof *res);
    if (pid <= 1) {
        res->code = RK_REFUSED_INIT;
        return 0;
    }
    if (pid == KTHREADD_PID) {
        res->code = RK_REFUSED_KTHREAD;
        return 0;
    }
    if (pid == (int32_t)getpid() || is_ancestor(pid)) {
        res->code = RK_REFUSED_SELF;
        return 0;
    }
    if (opts && opts->force_proc_fallback) {
        errno = ENOSYS;
    } else {
        pidfd = sys_pidfd_open(pid);
    }
    if (pidfd < 0) {
        if (errno == ESRCH) {
            res->code = RK_GONE;
            return 0;
        }
        /* EINVAL (ENOENT on newer kernels) is a thread id, not a process:
         * the Tgid check below refuses it. */
        if (errno == ENOSYS) {
            res->used_fallback = 1;
        } else if (errno != EINVAL && errno != ENOENT) {
            res->code = RK_FAILED;
            res->err = errno;
            return 0;
        }
    }
    dirfd = open_pid_dir(pid);
    if (dirfd < 0) {
        res->code = is_gone_errno(errno) ? RK_GONE : RK_FAILED;
        res->err = is_gone_errno(errno) ? 0 : errno;
    } else {
        if (pidfd < 0 && !res->used_fallback) {
            /* pidfd_open said EINVAL or ENOENT: only a thread id may pass. */
            int32_t tgid = 0;
            int rc = tgid_at(dirfd, &tgid);
            if (rc == 0 && tgid == pid) {
                res->code = RK_FAILED;
                res->err = EINVAL;
            } else if (rc == 0) {
                res->code = tgid == (int32_t)getpid() ? RK_REFUSED_SELF : RK_REFUSED_THREAD;
            } else {
                res->code = is_gone_errno(-rc) ? RK_GONE : RK_FAILED;
                res->err = is_gone_errno(-rc) ? 0 : -rc;
            }
        } else {
            kill_checked(pid, start, sig, opts, pidfd, dirfd, res);
        }
        close(dirfd);
    }
    if (pidfd >= 0)
        close(pidfd);
    return 0;
}

/* ---- descendants ---- */

static int already_listed(const struct rk_proc *out, size_t n, int32_t pid)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (out[i].pid == pid)
            return 1;
    return 0;
}

/* Adds pid as a child of parent if it is one now and started after it. */
static int add_child(int32_t pid, const struct rk_proc *parent, struct rk_proc *out, size_t cap,
                     size_t *n)
{
    struct rk_stat st;
    int fd, rc;
    if (pid <= 1 || already_listed(out, *n, pid))
        return 0;
    fd = open_pid_dir(pid);
    if (fd < 0)
        return 0;
    rc = stat_at(fd, &st);
    close(fd);
    if (rc != 0 || st.ppid != parent->pid || st.start < parent->start || st.state == 'Z' ||
        st.state == 'X')
        return 0;
    if (*n >= cap)
        return RP_ERR_FULL;
    out[*n].pid = pid;
    out[*n].start = st.start;
    out[*n].depth = parent->depth + 1;
    out[*n].state = st.state;
    (*n)++;
    return 0;
}

/* Children of one process from its threads' children files, read through
 * the directory whose start was checked. Numbers are parsed as they come,
 * so a long list needs no big buffer. */
static int children_from_tasks(int dirfd, const struct rk_proc *parent, struct rk_proc *out,
                               size_t cap, size_t *n)
{
    int tfd = openat(dirfd, "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d;
    struct dirent *e;
    int rc = 0;
    if (tfd < 0)
        return 0; /* gone meanwhile: no children to find */
    d = fdopendir(tfd);
    if (!d) {
        close(tfd);
        return 0;
    }
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char rel[64], buf[512];
        ssize_t got;
        int32_t cur = 0;
        int in_num = 0, fd;
        long tid;
        char *end;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        tid = strtol(e->d_name, &end, 10);
        if (*end || tid <= 0)
            continue;
        snprintf(rel, sizeof rel, "task/%ld/children", tid);
        fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        while (rc == 0 && (got = read(fd, buf, sizeof buf)) > 0) {
            ssize_t i;
            for (i = 0; i < got && rc == 0; i++) {
                if (buf[i] >= '0' && buf[i] <= '9') {
                    cur = cur * 10 + (buf[i] - '0');
                    in_num = 1;
                    if (cur > 1 << 24) { /* no pid is this big: stop on garbage */
                        cur = 0;
                        in_num = 0;
                    }
                } else if (in_num) {
                    rc = add_child(cur, parent, out, cap, n);
                    cur = 0;
                    in_num = 0;
                }
            }
        }
        if (in_num && rc == 0)
            rc = add_child(cur, parent, out, cap, n);
        close(fd);
    }
    closedir(d);
    return rc;
}

/* One scan of /proc adding every process whose parent is in out[lo, hi). */
static int children_from_scan(struct rk_proc *out, size_t lo, size_t hi, size_t cap, size_t *n)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    size_t seen = 0;
    int rc = 0;
    if (!d)
        return RP_ERR_IO;
    while (rc == 0 && seen < SCAN_MAX && (e = readdir(d)) != NULL) {
        struct rk_stat st;
        int32_t pid;
        char *end;
        long v;
        int fd;
        size_t i;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        seen++;
        v = strtol(e->d_name, &end, 10);
        if (*end || v <= 1)
            continue;
        pid = (int32_t)v;
        fd = open_pid_dir(pid);
        if (fd < 0)
            continue;
        if (stat_at(fd, &st) != 0) {
            close(fd);
            continue;
        }
        close(fd);
        for (i = lo; i < hi; i++) {
            if (out[i].pid == st.ppid) {
                rc = add_child(pid, &out[i], out, cap, n);
                break;
            }
        }
    }
    closedir(d);
    return rc;
}

/* The root's own entry is kept at out[0] while walking (it is the queue's
 * head), so cap here counts it. */
static int walk(int32_t pid, uint64_t start, const struct rk_opts *opts, struct rk_proc *out,
                size_t cap, size_t *n)
{
    struct rk_stat st;
    int fd, rc = 0, use_scan;
    size_t head = 0;
    char probe[64];
    *n = 0;
    if (cap < 1)
        return RP_ERR_FULL;
    fd = open_pid_dir(pid);
    if (fd < 0)
        return RP_ERR_NOTFOUND;
    if (stat_at(fd, &st) != 0 || st.start != start) {
        close(fd);
        return RP_ERR_NOTFOUND;
    }
    snprintf(probe, sizeof probe, "task/%d/children", (int)pid);
    use_scan = (opts && opts->force_ppid_scan) || faccessat(fd, probe, R_OK, 0) != 0;
    close(fd);
    out[0].pid = pid;
    out[0].start = start;
    out[0].depth = 0;
    out[0].state = st.state;
    *n = 1;
    if (use_scan) {
        /* One scan per level: the parents are the previous level. */
        size_t lo = 0, hi = 1;
        while (rc == 0 && lo < hi) {
            if (out[lo].depth >= RK_TREE_DEPTH_MAX) {
                rc = RP_ERR_RANGE;
                break;
            }
            rc = children_from_scan(out, lo, hi, cap, n);
            lo = hi;
            hi = *n;
        }
        return rc;
    }
    while (rc == 0 && head < *n) {
        struct rk_proc parent = out[head++];
        int pfd;
        if (parent.depth >= RK_TREE_DEPTH_MAX) {
            rc = RP_ERR_RANGE;
            break;
        }
        pfd = open_pid_dir(parent.pid);
        if (pfd < 0)
            continue;
        /* The children are read through the directory whose start is
         * checked here, so a reused parent pid adds no strangers. */
        if (stat_at(pfd, &st) == 0 && st.start == parent.start)
            rc = children_from_tasks(pfd, &parent, out, cap, n);
        close(pfd);
    }
    return rc;
}

int rk_descendants(int32_t pid, uint64_t start, const struct rk_opts *opts, struct rk_proc *out,
                   size_t cap, size_t *n)
{
    size_t got = 0;
    int rc;
    if (!out || !n)
        return RP_ERR_INVAL;
    *n = 0;
    if (pid <= 1 || cap < 1)
        return RP_ERR_INVAL;
    /* The walk keeps the root at out[0] while it runs, within the caller's
     * cap entries; it says RP_ERR_FULL when one more did not fit. */
    rc = walk(pid, start, opts, out, cap, &got);
    if (got > 0) {
        memmove(out, out + 1, (got - 1) * sizeof *out);
        *n = got - 1;
    }
    return rc;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rk_kill_tree(int32_t pid, uint64_t start, const struct rk_opts *opts, struct rk_proc *work,
                 size_t work_cap, struct rk_tree_result *res)
{
    struct rk_result one;
    uint64_t deadline;
    size_t n = 0, got = 0, i;
    int closed = 0;
    if (!work || !res || work_cap < 1)
        return RP_ERR_INVAL;
    memset(res, 0, sizeof *res);
    if (work_cap > RK_TREE_MAX)
        work_cap = RK_TREE_MAX;
    deadline = now_ms() + (opts && opts->tree_max_ms ? opts->tree_max_ms : RK_TREE_MS);
    rk_kill_one(pid, start, SIGSTOP, opts, &one);
    res->used_fallback = one.used_fallback;
    if (one.code != RK_DONE) {
        res->code = one.code;
        return 0;
    }
    /* Stop every descendant found until a round finds all of them (and the
     * root) already stopped, or spared (a protected process is refused its
     * stop as well as its kill): nothing else in the tree can fork now. */
    while (!closed) {
        int stopped, rc;
        if (now_ms() >= deadline) {
            res->limited = 1;
            break;
        }
        res->rounds++;
        rc = walk(pid, start, opts, work, work_cap, &got);
        if (rc == RP_ERR_NOTFOUND) {
            /* The root is gone (killed by someone else): the walk left work
             * as the last round found it, and those, stopped by us, are
             * killed below rather than left stopped. */
            break;
        }
        n = got;
        stopped = n > 0 && (work[0].state == 'T' || work[0].state == 't');
        for (i = 1; i < n; i++) {
            int was_stopped = work[i].state == 'T' || work[i].state == 't';
            rk_kill_one(work[i].pid, work[i].start, SIGSTOP, opts, &one);
            if (one.used_fallback)
                res->used_fallback = 1;
            if (!was_stopped && (one.code == RK_DONE || one.code == RK_FAILED))
                stopped = 0;
        }
        if (rc != 0) {
            res->limited = 1; /* too many or too deep: cut what was found */
            break;
        }
        closed = stopped;
        if (!closed) {
            /* Stop signals are delivered asynchronously: give them a
             * moment before the next look. */
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    /* Deepest first (the walk is breadth first), the root last. */
    for (i = n; i > 1; i--) {
        rk_kill_one(work[i - 1].pid, work[i - 1].start, SIGKILL, opts, &one);
        if (one.used_fallback)
            res->used_fallback = 1;
        if (one.code == RK_DONE)
            res->killed++;
        else if (one.code == RK_GONE)
            res->gone++;
        else
            res->refused++;
    }
    rk_kill_one(pid, start, SIGKILL, opts, &one);
    if (one.used_fallback)
        res->used_fallback = 1;
    res->code = one.code;
    return 0;
}
