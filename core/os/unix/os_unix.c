/* core/os/unix/os_unix.c - the platform layer for Linux and other Unix systems. */
#define _GNU_SOURCE
#include "os/os.h"
#include "log.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

struct rp__os_file {
    int fd;
};

int64_t rp__os_time_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t rp__os_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void rp__os_tune_memory(void)
{
#ifdef __GLIBC__
    /* glibc gives the top of a heap back to the kernel as soon as 128 KiB
     * are free there, and grows it again page by page: under a burst the
     * publisher's arena shrank and grew all the time, and that churn (with
     * its page faults and arena lock traffic) cost half of the agent's CPU
     * per event. Keeping up to 16 MiB and growing 2 MiB at a time halves it;
     * memory beyond that still goes back, and an idle agent never grows. */
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
    mallopt(M_TOP_PAD, 2 << 20);
#endif
}

int rp__os_process_usage(int64_t *cpu_ns, uint64_t *peak_rss_bytes)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return RP_ERR_IO;
    *cpu_ns = ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
              ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
    *peak_rss_bytes = (uint64_t)ru.ru_maxrss * 1024; /* Linux reports KiB */
    return 0;
}

int rp__os_remove(const char *path)
{
    if (unlink(path) == 0)
        return 0;
    return errno == ENOENT ? RP_ERR_NOTFOUND : errno == EACCES || errno == EPERM ? RP_ERR_PERM
                                                                                 : RP_ERR_IO;
}

int rp__os_dir_files(const char *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                     void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? RP_ERR_NOTFOUND : RP_ERR_IO;
    int rc = 0;
    struct dirent *e;
    struct stat st;
    while (rc == 0 && (e = readdir(d))) {
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue;
        rc = fn(arg, e->d_name, (uint64_t)st.st_size);
    }
    closedir(d);
    return rc;
}

int rp__os_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return RP_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rp__os_hostname(char *buf, size_t len)
{
    if (len == 0)
        return RP_ERR_INVAL;
    if (gethostname(buf, len) != 0) {
        buf[0] = '\0';
        return RP_ERR_IO;
    }
    buf[len - 1] = '\0';
    return 0;
}

int rp__os_machine_id(char *buf, size_t len)
{
    static const char *const paths[] = {"/etc/machine-id", "/var/lib/dbus/machine-id"};
    if (len < 33)
        return RP_ERR_INVAL;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int fd = open(paths[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue;
        char raw[40];
        ssize_t n = read(fd, raw, sizeof raw);
        close(fd);
        /* machine-id(5): 32 lowercase hex digits and a newline. */
        if (n < 32)
            return RP_ERR_PARSE;
        for (int k = 0; k < 32; k++)
            if (!((raw[k] >= '0' && raw[k] <= '9') || (raw[k] >= 'a' && raw[k] <= 'f')))
                return RP_ERR_PARSE;
        if (n > 32 && raw[32] != '\n')
            return RP_ERR_PARSE;
        memcpy(buf, raw, 32);
        buf[32] = '\0';
        return 0;
    }
    return RP_ERR_NOTFOUND;
}

long rp__os_getpid(void)
{
    return (long)getpid();
}

int rp__os_path_is_absolute(const char *path)
{
    return path != NULL && path[0] == '/';
}

int rp__os_getcwd(char *buf, size_t len)
{
    return getcwd(buf, len) ? 0 : RP_ERR_RANGE;
}

static int errno_to_rp(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return RP_ERR_NOTFOUND;
    case EACCES:
    case EPERM:
        return RP_ERR_PERM;
    case ENOMEM:
        return RP_ERR_NOMEM;
    case EEXIST:
        return RP_ERR_EXISTS;
    default:
        return RP_ERR_IO;
    }
}

int rp__os_realpath(const char *path, char **out)
{
    char *r = realpath(path, NULL);
    if (!r)
        return errno_to_rp(errno);
    *out = r;
    return 0;
}

int rp__os_mkdir_p(const char *path, unsigned mode)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return RP_ERR_RANGE;
    memcpy(buf, path, len + 1);
    /* Create each parent in turn; EEXIST on a parent is expected. */
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
            return errno_to_rp(errno);
        *p = '/';
    }
    if (mkdir(buf, (mode_t)mode) != 0) {
        struct stat st;
        if (errno == EEXIST && stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        return errno_to_rp(errno);
    }
    return 0;
}

int rp__os_read_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                     int *errno_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    int err = 0, rc = 0;
    char *data = NULL;
    size_t used = 0;
    struct stat st;

    if (errno_out)
        *errno_out = 0;
    if (fd < 0) {
        err = errno;
        rc = errno_to_rp(err);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        err = errno;
        rc = RP_ERR_IO;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        rc = RP_ERR_INVAL;
        goto out;
    }
    if ((uint64_t)st.st_size > max_bytes) {
        err = EFBIG;
        rc = RP_ERR_RANGE;
        goto out;
    }
    /* Read to EOF rather than trusting st_size: the file may change under us. */
    size_t cap = (size_t)st.st_size + 1;
    data = malloc(cap);
    if (!data) {
        rc = RP_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        if (used + 1 >= cap) {
            if (cap > max_bytes) {
                err = EFBIG;
                rc = RP_ERR_RANGE;
                goto out;
            }
            size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            if (ncap <= cap)
                ncap = cap + 1;
            char *n = realloc(data, ncap);
            if (!n) {
                rc = RP_ERR_NOMEM;
                goto out;
            }
            data = n;
            cap = ncap;
        }
        ssize_t n = read(fd, data + used, cap - 1 - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            rc = RP_ERR_IO;
            goto out;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    data[used] = '\0';
    *data_out = data;
    *len_out = used;
    data = NULL;
out:
    free(data);
    if (fd >= 0)
        close(fd);
    if (errno_out)
        *errno_out = err;
    return rc;
}

int rp__os_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return RP_ERR_RANGE;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0)
        return errno_to_rp(errno);
    rp__os_file f = {fd};
    int rc = rp__os_file_write(&f, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = RP_ERR_IO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = errno_to_rp(errno);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

int rp__os_file_open_append(const char *path, unsigned mode, rp__os_file **out, int *errno_out)
{
    if (errno_out)
        *errno_out = 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, (mode_t)mode);
    if (fd < 0) {
        if (errno_out)
            *errno_out = errno;
        return errno_to_rp(errno);
    }
    rp__os_file *f = malloc(sizeof *f);
    if (!f) {
        close(fd);
        return RP_ERR_NOMEM;
    }
    f->fd = fd;
    *out = f;
    return 0;
}

int rp__os_file_write(rp__os_file *f, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == ENOSPC ? RP_ERR_FULL : RP_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rp__os_file_sync(rp__os_file *f)
{
    return fsync(f->fd) == 0 ? 0 : RP_ERR_IO;
}

int rp__os_file_size(rp__os_file *f, uint64_t *size)
{
    struct stat st;
    if (fstat(f->fd, &st) != 0)
        return RP_ERR_IO;
    *size = (uint64_t)st.st_size;
    return 0;
}

int rp__os_rename(const char *from, const char *to)
{
    return rename(from, to) == 0 ? 0 : errno_to_rp(errno);
}

void rp__os_file_close(rp__os_file *f)
{
    if (!f)
        return;
    close(f->fd);
    free(f);
}

int rp__os_gmtime(int64_t unix_secs, struct tm *out)
{
    time_t t = (time_t)unix_secs;
    return gmtime_r(&t, out) ? 0 : RP_ERR_RANGE;
}

struct rp__os_pidfile {
    int fd;
    char *path;
};

int rp__os_pidfile_acquire(const char *path, rp__os_pidfile **out, long *holder_pid)
{
    *holder_pid = 0;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return errno_to_rp(errno);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char buf[32] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0) {
            char *end = NULL;
            long pid = strtol(buf, &end, 10);
            if (end != buf && pid > 0)
                *holder_pid = pid;
        }
        close(fd);
        return e == EWOULDBLOCK ? RP_ERR_BUSY : errno_to_rp(e);
    }
    rp__os_pidfile *pf = calloc(1, sizeof *pf);
    if (!pf || !(pf->path = strdup(path))) {
        free(pf);
        close(fd);
        return RP_ERR_NOMEM;
    }
    pf->fd = fd;
    *out = pf;
    return rp__os_pidfile_write(pf);
}

int rp__os_pidfile_write(rp__os_pidfile *pf)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (ftruncate(pf->fd, 0) != 0 || pwrite(pf->fd, buf, (size_t)n, 0) != n)
        return RP_ERR_IO;
    return 0;
}

void rp__os_pidfile_release(rp__os_pidfile *pf)
{
    if (!pf)
        return;
    /* Unlink while still holding the lock, so a new agent never sees a stale
     * file that it could lock while we remove it. */
    unlink(pf->path);
    close(pf->fd);
    free(pf->path);
    free(pf);
}

int rp__os_daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return RP_ERR_IO;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return RP_ERR_IO;
    /* The second fork makes sure the daemon can never reacquire a terminal. */
    pid = fork();
    if (pid < 0)
        return RP_ERR_IO;
    if (pid > 0)
        _exit(0);
    umask(027);
    if (chdir("/") != 0)
        return RP_ERR_IO;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_IO;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    return 0;
}

static void agent_signal_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

int rp__os_signals_block(void)
{
    sigset_t set;
    agent_signal_set(&set);
    /* A closed pipe or socket must be an error return, never a process kill. */
    signal(SIGPIPE, SIG_IGN);
    return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : RP_ERR_INTERNAL;
}

int rp__os_signal_wait(int timeout_ms, enum rp__os_signal *sig)
{
    sigset_t set;
    siginfo_t info;
    int signo;
    agent_signal_set(&set);
    *sig = RP__OS_SIG_NONE;
    if (timeout_ms < 0) {
        signo = sigwaitinfo(&set, &info);
    } else {
        struct timespec ts = {timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L};
        signo = sigtimedwait(&set, &info, &ts);
    }
    if (signo < 0)
        return (errno == EAGAIN || errno == EINTR) ? 0 : RP_ERR_IO;
    *sig = signo == SIGHUP ? RP__OS_SIG_RELOAD : RP__OS_SIG_STOP;
    return 0;
}

int rp__os_send_reload(long pid)
{
    if (pid <= 0)
        return RP_ERR_INVAL;
    return kill((pid_t)pid, SIGHUP) == 0 ? 0 : errno_to_rp(errno);
}

void rp__os_syslog_open(const char *ident)
{
    openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void rp__os_syslog_write(int level, const char *msg)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    int p = (level >= 0 && level < 4) ? prio[level] : LOG_INFO;
    syslog(p, "%s", msg);
}

void rp__os_syslog_close(void)
{
    closelog();
}

struct rp__os_dl {
    void *handle;
};

int rp__os_dl_open(const char *abs_path, rp__os_dl **out, char *err, size_t errlen)
{
    if (!rp__os_path_is_absolute(abs_path)) {
        snprintf(err, errlen, "not an absolute path");
        return RP_ERR_INVAL;
    }
    rp__os_dl *dl = malloc(sizeof *dl);
    if (!dl)
        return RP_ERR_NOMEM;
    dlerror();
    dl->handle = dlopen(abs_path, RTLD_NOW | RTLD_LOCAL);
    if (!dl->handle) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s", why ? why : "dlopen failed");
        free(dl);
        return RP_ERR_IO;
    }
    *out = dl;
    return 0;
}

rp__os_fn rp__os_dl_sym(rp__os_dl *dl, const char *name)
{
    void *p = dlsym(dl->handle, name);
    rp__os_fn fn;
    /* POSIX guarantees data and function pointers convert; ISO C does not,
     * hence the copy instead of a cast. */
    memcpy(&fn, &p, sizeof fn);
    return fn;
}

void rp__os_dl_forget(rp__os_dl *dl)
{
    free(dl);
}

void rp__os_dl_close(rp__os_dl *dl)
{
    if (!dl)
        return;
    dlclose(dl->handle);
    free(dl);
}

static int check_owner_mode(const char *path, const struct stat *st, char *reason, size_t len)
{
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me) {
        snprintf(reason, len, "%s: owned by uid %u, not by root or the agent's user (uid %u)",
                 path, (unsigned)st->st_uid, (unsigned)me);
        return RP_ERR_PERM;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(reason, len, "%s: writable by %s (mode %04o)", path,
                 (st->st_mode & S_IWOTH) ? "others" : "group", (unsigned)(st->st_mode & 07777));
        return RP_ERR_PERM;
    }
    return 0;
}

int rp__os_check_trusted(const char *path, char *reason, size_t len)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        snprintf(reason, len, "%s: %s", path, strerror(errno));
        return errno_to_rp(errno);
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(reason, len, "%s: not a regular file", path);
        return RP_ERR_PERM;
    }
    int rc = check_owner_mode(path, &st, reason, len);
    if (rc != 0)
        return rc;
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (n == 0)
        n = 1; /* the root folder */
    if (n >= sizeof dir) {
        snprintf(reason, len, "%s: path too long", path);
        return RP_ERR_RANGE;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (stat(dir, &st) != 0) {
        snprintf(reason, len, "%s: %s", dir, strerror(errno));
        return errno_to_rp(errno);
    }
    return check_owner_mode(dir, &st, reason, len);
}
