/* core/os/unix/os_unix.c - the platform layer for Linux and other Unix systems. */
#define _GNU_SOURCE
#include "os/os.h"
#include "os/os_fs.h"
#include "os/unix/dir_unix.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
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
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static int owner_trusted(uid_t uid);

int64_t rp__os_time_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void *rp__os_aligned_alloc(size_t align, size_t size)
{
    /* posix_memalign, not aligned_alloc: it takes any size, where C11 asked
     * for a multiple of the alignment until C17 relaxed it. */
    void *p = NULL;
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

void rp__os_aligned_free(void *p)
{
    free(p);
}

void *rp__os_pages_alloc(size_t size, int shared)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
                   (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void rp__os_pages_free(void *p, size_t size)
{
    if (p)
        munmap(p, size);
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

int rp__os_process_rss(uint64_t *rss_bytes)
{
#ifdef __linux__
    /* statm's second number is the resident pages; the file is opened per
     * call (a descriptor kept open would be inherited by every child the
     * agent or a plugin starts). */
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_IO;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return RP_ERR_IO;
    buf[n] = '\0';
    unsigned long long size = 0, resident = 0;
    if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
        return RP_ERR_PARSE;
    *rss_bytes = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
    return 0;
#else
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return RP_ERR_IO;
    *rss_bytes = (uint64_t)ru.ru_maxrss * 1024; /* only the peak is known */
    return 0;
#endif
}

void rp__os_trim_memory(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
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
    return errno == ENOENT                     ? RP_ERR_NOTFOUND
           : errno == EACCES || errno == EPERM ? RP_ERR_PERM
                                               : RP_ERR_IO;
}

/* Calls fn for each regular file of the open folder d (links not followed),
 * then closes d. */
static int list_regular(DIR *d, int (*fn)(void *arg, const char *name, uint64_t size), void *arg)
{
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

int rp__os_dir_files(const char *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                     void *arg)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? RP_ERR_NOTFOUND : RP_ERR_IO;
    return list_regular(d, fn, arg);
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

/* Reads the whole regular file open as fd (rules of rp__os_read_file); the
 * caller closes fd. */
static int read_fd(int fd, size_t max_bytes, char **data_out, size_t *len_out, int *errno_out)
{
    struct stat st;
    int err = 0, rc = RP_ERR_IO;

    if (fstat(fd, &st) != 0)
        err = errno;
    else if (!S_ISREG(st.st_mode)) {
        err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        rc = RP_ERR_INVAL;
    } else
        return rp__os_read_to_end((rp__os_file){fd}, (uint64_t)st.st_size, max_bytes, data_out,
                                  len_out, errno_out);
    if (errno_out)
        *errno_out = err;
    return rc;
}

int rp__os_read_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                     int *errno_out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno_out)
            *errno_out = errno;
        return errno_to_rp(errno);
    }
    int rc = read_fd(fd, max_bytes, data_out, len_out, errno_out);
    close(fd);
    return rc;
}

int rp__os_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return RP_ERR_RANGE;
    /* A leftover temporary file may be a hard link to someone else's file:
     * remove the name and create a new file, never truncate what is there. */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, (mode_t)mode);
    if (fd < 0)
        return errno_to_rp(errno);
    int rc = rp__os_file_write((rp__os_file){fd}, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = RP_ERR_IO;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = errno_to_rp(errno);
    if (rc != 0)
        unlink(tmp);
    return rc;
}

/* path relative to dirfd (AT_FDCWD: as given). */
static int open_append_at(int dirfd, const char *path, unsigned mode, rp__os_file *out,
                          int *errno_out)
{
    out->h = RP__OS_FILE_NONE;
    if (errno_out)
        *errno_out = 0;
    /* No symbolic link, no device or pipe, nothing someone else owns, no
     * second name: the agent appends as root, so what it opens must be its
     * own file (a link planted as events.ndjson would append to its target). */
    int fd = openat(dirfd, path,
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK,
                    (mode_t)mode);
    if (fd < 0) {
        if (errno_out)
            *errno_out = errno;
        return errno == ELOOP ? RP_ERR_PERM : errno_to_rp(errno);
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !owner_trusted(st.st_uid) ||
        st.st_nlink != 1) {
        if (errno_out)
            *errno_out = EPERM;
        close(fd);
        return RP_ERR_PERM;
    }
    out->h = fd;
    return 0;
}

int rp__os_file_open_append(const char *path, unsigned mode, rp__os_file *out, int *errno_out)
{
    return open_append_at(AT_FDCWD, path, mode, out, errno_out);
}

int rp__os_file_write(rp__os_file f, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write((int)f.h, p, len);
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

int rp__os_rename(const char *from, const char *to)
{
    return rename(from, to) == 0 ? 0 : errno_to_rp(errno);
}

int rp__os_gmtime(int64_t unix_secs, struct tm *out)
{
    time_t t = (time_t)unix_secs;
    return gmtime_r(&t, out) ? 0 : RP_ERR_RANGE;
}

struct rp__os_pidfile {
    int fd;
    int dirfd; /* the folder path is relative to (owned), or AT_FDCWD */
    char *path;
};

/* path relative to dirfd (AT_FDCWD: as given); dirfd is the caller's. */
static int pidfile_acquire_at(int dirfd, const char *path, rp__os_pidfile **out, long *holder_pid)
{
    *holder_pid = 0;
    int fd = openat(dirfd, path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0)
        return errno == ELOOP ? RP_ERR_PERM : errno_to_rp(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !owner_trusted(st.st_uid) ||
        st.st_nlink != 1) {
        /* It is truncated and rewritten below: it must be the agent's own. */
        close(fd);
        return RP_ERR_PERM;
    }
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
    pf->dirfd = AT_FDCWD;
    if (dirfd != AT_FDCWD && (pf->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0) {
        close(fd); /* the lock goes with it; the file is left for the next start */
        free(pf->path);
        free(pf);
        return RP_ERR_IO;
    }
    *out = pf;
    return rp__os_pidfile_write(pf);
}

int rp__os_pidfile_acquire(const char *path, rp__os_pidfile **out, long *holder_pid)
{
    return pidfile_acquire_at(AT_FDCWD, path, out, holder_pid);
}

int rp__os_pidfile_holder(const char *path, long *pid)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT  ? RP_ERR_NOTFOUND
               : errno == ELOOP ? RP_ERR_PERM
                                : errno_to_rp(errno);
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !owner_trusted(st.st_uid)) {
        close(fd);
        return RP_ERR_PERM;
    }
    /* The agent holds an exclusive lock for as long as it runs. If a shared
     * one can be taken, no agent runs and the pid in the file is stale: it
     * may name any process by now. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        close(fd);
        return RP_ERR_NOTFOUND;
    }
    if (errno != EWOULDBLOCK) {
        int e = errno;
        close(fd);
        return errno_to_rp(e);
    }
    char buf[32] = {0};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    close(fd);
    char *end = NULL;
    long v = n > 0 ? strtol(buf, &end, 10) : 0;
    if (n <= 0 || end == buf || v <= 0)
        return RP_ERR_NOTFOUND; /* locked, but the pid is not written yet */
    *pid = v;
    return 0;
}

static long pidfile_owner;

void rp__os_pidfile_set_owner(long pid)
{
    pidfile_owner = pid;
}

int rp__os_pidfile_write(rp__os_pidfile *pf)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", pidfile_owner > 0 ? pidfile_owner : (long)getpid());
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
    unlinkat(pf->dirfd, pf->path, 0);
    close(pf->fd);
    if (pf->dirfd != AT_FDCWD)
        close(pf->dirfd);
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

int rp__os_stop_self(void)
{
    return kill(getpid(), SIGTERM) == 0 ? 0 : errno_to_rp(errno);
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

/* ---- trust before load ------------------------------------------------ */

/* Who may own what the agent trusts: root, or the user the agent runs as. */
static int owner_trusted(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

static const char *writers(mode_t mode)
{
    return (mode & S_IWOTH) ? "others" : "group";
}

/* What check_folder and check_file_fd share: the type (a folder when
 * want_dir, else a regular file), an owner the agent trusts, and no writers
 * but root and that owner (a sticky folder excepted unless strict). */
static int check_trusted(int fd, const char *shown, int want_dir, int strict, char *reason,
                         size_t len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(reason, len, "%s: %s", shown, strerror(errno));
        return RP_ERR_IO;
    }
    if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
        snprintf(reason, len, "%s: not a %s", shown, want_dir ? "folder" : "regular file");
        return RP_ERR_PERM;
    }
    if (!owner_trusted(st.st_uid)) {
        snprintf(reason, len, "%s: owned by uid %u; expected root or the agent's user (uid %u)",
                 shown, (unsigned)st.st_uid, (unsigned)geteuid());
        return RP_ERR_PERM;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (strict || !(st.st_mode & S_ISVTX))) {
        snprintf(reason, len,
                 "%s: writable by %s (mode %04o); expected a %s only root or the agent's "
                 "user can change%s",
                 shown, writers(st.st_mode), (unsigned)(st.st_mode & 07777),
                 want_dir ? "folder" : "file",
                 strict ? "" : " (or one with the sticky bit, like /tmp)");
        return RP_ERR_PERM;
    }
    return 0;
}

/*
 * Checks a folder the walk reached (fd). strict: the folder will hold the
 * files the agent opens by name, so it must not be writable by group or
 * others at all; otherwise a sticky folder (like /tmp) is accepted, because
 * only an entry's owner may rename or remove it there and the walk requires
 * every entry it passes through to be owned by root or the agent's user.
 */
static int check_folder(int fd, const char *shown, int strict, char *reason, size_t len)
{
    return check_trusted(fd, shown, 1, strict, reason, len);
}

/* Appends "/name" to the shown path (for messages only; cut if too long). */
static void shown_push(char *shown, size_t cap, const char *name)
{
    size_t used = strlen(shown);
    if (used == 1 && shown[0] == '/')
        used = 0;
    snprintf(shown + used, cap - used, "/%s", name);
}

/*
 * Opens folder path (absolute) as an O_PATH descriptor, one component at a
 * time from a descriptor of "/", checking every folder met on the way,
 * including those a symbolic link leads through (its target is walked the
 * same way; the link itself must be owned by root or the agent's user). No
 * path is resolved twice: each step is an openat() on the checked parent.
 * With WALK_STRICT the last folder is checked strictly (check_folder); with
 * WALK_NO_LINK it must not be a symbolic link itself. Returns 0 and the
 * descriptor in *out, or an RP_ERR_* with the reason in reason.
 */
enum { WALK_STRICT = 1, WALK_NO_LINK = 2 };

/* True when only separators are left: the component just taken was the last. */
static int at_last(const char *rest)
{
    for (; *rest; rest++)
        if (*rest != '/')
            return 0;
    return 1;
}

static int walk_folder(const char *path, int flags, int *out, char *reason, size_t len)
{
    enum { MAX_LINKS = 40 };
    char rest[2 * PATH_MAX], next[2 * PATH_MAX], target[PATH_MAX], shown[PATH_MAX];
    int links = 0, fd = -1, rc;
    size_t plen = strlen(path);
    if (path[0] != '/' || plen >= PATH_MAX) {
        snprintf(reason, len, "%s: expected an absolute path shorter than %d bytes", path,
                 PATH_MAX);
        return RP_ERR_INVAL;
    }
    memcpy(rest, path, plen + 1);
restart:
    if (fd >= 0)
        close(fd);
    fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    snprintf(shown, sizeof shown, "/");
    if (fd < 0) {
        snprintf(reason, len, "/: %s", strerror(errno));
        return RP_ERR_IO;
    }
    if ((rc = check_folder(fd, shown, 0, reason, len)) != 0)
        goto fail;
    for (;;) {
        char *p = rest;
        while (*p == '/')
            p++;
        if (!*p)
            break;
        char *end = strchr(p, '/');
        size_t nlen = end ? (size_t)(end - p) : strlen(p);
        char name[NAME_MAX + 1];
        if (nlen > NAME_MAX) {
            snprintf(reason, len, "%s: a path component is longer than %d bytes", path, NAME_MAX);
            rc = RP_ERR_RANGE;
            goto fail;
        }
        memcpy(name, p, nlen);
        name[nlen] = '\0';
        memmove(rest, p + nlen, strlen(p + nlen) + 1);
        if (strcmp(name, ".") == 0)
            continue;
        shown_push(shown, sizeof shown, name);
        struct stat st;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = errno_to_rp(errno);
            snprintf(reason, len, "%s: %s", shown, strerror(errno));
            goto fail;
        }
        if (S_ISLNK(st.st_mode)) {
            if ((flags & WALK_NO_LINK) && at_last(rest)) {
                snprintf(reason, len, "%s: a symbolic link; expected a folder", shown);
                rc = RP_ERR_PERM;
                goto fail;
            }
            if (!owner_trusted(st.st_uid)) {
                snprintf(reason, len,
                         "%s: symbolic link owned by uid %u; expected root or the agent's user "
                         "(uid %u)",
                         shown, (unsigned)st.st_uid, (unsigned)geteuid());
                rc = RP_ERR_PERM;
                goto fail;
            }
            ssize_t tl = readlinkat(fd, name, target, sizeof target - 1);
            if (tl < 0 || ++links > MAX_LINKS) {
                snprintf(reason, len, "%s: %s", shown,
                         tl < 0 ? strerror(errno) : "too many symbolic links");
                rc = tl < 0 ? errno_to_rp(errno) : RP_ERR_RANGE;
                goto fail;
            }
            target[tl] = '\0';
            if ((size_t)snprintf(next, sizeof next, "%s/%s", target, rest) >= sizeof next) {
                snprintf(reason, len, "%s: path too long", shown);
                rc = RP_ERR_RANGE;
                goto fail;
            }
            memcpy(rest, next, strlen(next) + 1);
            if (target[0] == '/')
                goto restart;
            /* A relative target continues from the link's folder. */
            char *cut = strrchr(shown, '/');
            if (cut)
                cut[cut == shown ? 1 : 0] = '\0';
            continue;
        }
        int nfd = openat(fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0) {
            int e = errno;
            snprintf(reason, len, "%s: %s", shown,
                     e == ENOTDIR || e == ELOOP ? "not a folder (or changed while checked)"
                                                : strerror(e));
            rc = e == ENOTDIR || e == ELOOP ? RP_ERR_PERM : errno_to_rp(e);
            goto fail;
        }
        close(fd);
        fd = nfd;
        if ((rc = check_folder(fd, shown, at_last(rest) && (flags & WALK_STRICT), reason, len)) !=
            0)
            goto fail;
    }
    if ((flags & WALK_STRICT) && (rc = check_folder(fd, shown, 1, reason, len)) != 0)
        goto fail;
    *out = fd;
    return 0;
fail:
    close(fd);
    return rc == 0 ? RP_ERR_IO : rc;
}

int rp__os_dir_check_private(const char *path, char *reason, size_t len)
{
    int fd = -1;
    int rc = walk_folder(path, WALK_STRICT, &fd, reason, len);
    if (rc == 0)
        close(fd);
    return rc;
}

int rp__os_subdir_check_private(const char *path, char *reason, size_t len)
{
    int fd = -1;
    int rc = walk_folder(path, WALK_STRICT | WALK_NO_LINK, &fd, reason, len);
    if (rc == 0)
        close(fd);
    return rc;
}

/* Checks an open file the agent is about to trust: a regular file owned by
 * root or the agent's user, not writable by group or others. */
static int check_file_fd(int fd, const char *shown, char *reason, size_t len)
{
    return check_trusted(fd, shown, 0, 1, reason, len);
}

/* Splits an absolute file path into its folder and its last component. */
static int split_path(const char *path, char *dir, size_t dirlen, const char **base, char *reason,
                      size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash || !slash[1] || path[0] != '/') {
        snprintf(reason, len, "%s: expected an absolute path to a file", path);
        return RP_ERR_INVAL;
    }
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    if (n >= dirlen) {
        snprintf(reason, len, "%s: path too long", path);
        return RP_ERR_RANGE;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    *base = slash + 1;
    return 0;
}

/* Opens name in the folder dfd (or a path with AT_FDCWD) without following a
 * link, checks the open file (check_file_fd, and one name) and reads it
 * through that descriptor, never by its name again. shown names it in
 * reason. */
static int read_private_at(int dfd, const char *name, const char *shown, size_t max_bytes,
                           char **data_out, size_t *len_out, char *reason, size_t len)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        snprintf(reason, len, "%s: %s", shown,
                 e == ELOOP ? "a symbolic link; expected a regular file" : strerror(e));
        return e == ELOOP ? RP_ERR_PERM : errno_to_rp(e);
    }
    int rc = check_file_fd(fd, shown, reason, len);
    struct stat st;
    if (rc == 0 && fstat(fd, &st) == 0 && st.st_nlink > 1) {
        snprintf(reason, len, "%s: has %lu names (hard links); expected one", shown,
                 (unsigned long)st.st_nlink);
        rc = RP_ERR_PERM;
    }
    int sys = 0;
    if (rc == 0 && (rc = read_fd(fd, max_bytes, data_out, len_out, &sys)) != 0)
        snprintf(reason, len, "%s: %s", shown, sys ? strerror(sys) : rp_strerror(rc));
    close(fd);
    return rc;
}

int rp__os_read_private_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                             char *reason, size_t len)
{
    return read_private_at(AT_FDCWD, path, path, max_bytes, data_out, len_out, reason, len);
}

struct rp__os_dl {
    void *handle;
    int fd; /* the plugin file (or its private copy), open for the life of the process */
    rp__os_file_id src; /* the file as checked */
};

static void file_id_of(const struct stat *st, rp__os_file_id *out)
{
    out->dev = (uint64_t)st->st_dev;
    out->ino = (uint64_t)st->st_ino;
    out->size = (uint64_t)st->st_size;
    out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* Copies the checked plugin file into a sealed memory file: its contents can
 * no longer change, and it is a new inode for the C library. */
static int private_copy(int fd, const char *shown, int *out, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > RP__OS_DL_COPY_MAX) {
        snprintf(err, errlen, "%s: larger than %llu bytes; not copied", shown,
                 (unsigned long long)RP__OS_DL_COPY_MAX);
        return RP_ERR_RANGE;
    }
    int mfd = memfd_create("rampart-plugin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0) {
        snprintf(err, errlen, "%s: cannot make a private copy: %s", shown, strerror(errno));
        return RP_ERR_IO;
    }
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (uint64_t)off + (uint64_t)n > RP__OS_DL_COPY_MAX) {
            snprintf(err, errlen, "%s: cannot copy: %s", shown, n < 0 ? strerror(errno) : "grew");
            close(mfd);
            return RP_ERR_IO;
        }
        if (n == 0)
            break;
        for (ssize_t w = 0; w < n;) {
            ssize_t k = write(mfd, buf + w, (size_t)(n - w));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0) {
                snprintf(err, errlen, "%s: cannot copy: %s", shown, strerror(errno));
                close(mfd);
                return RP_ERR_IO;
            }
            w += k;
        }
        off += n;
    }
    if (fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        snprintf(err, errlen, "%s: cannot seal the private copy: %s", shown, strerror(errno));
        close(mfd);
        return RP_ERR_IO;
    }
    *out = mfd;
    return 0;
}

/* Reads "<base>.sig" of the checked folder dfd, if it is there: *sig_out
 * stays NULL when it is not. Refused (RP_ERR_PERM) when it is a link or not
 * a file the agent may trust, RP_ERR_RANGE past sig_max bytes. */
static int read_sig_at(int dfd, const char *base, const char *abs_path, size_t sig_max,
                       char **sig_out, size_t *sig_len, char *err, size_t errlen)
{
    char name[NAME_MAX + 1], shown[PATH_MAX + 8];
    *sig_out = NULL;
    *sig_len = 0;
    int n = snprintf(name, sizeof name, "%s.sig", base);
    if (n < 0 || (size_t)n >= sizeof name) {
        snprintf(err, errlen, "%s: name too long for a signature file next to it", abs_path);
        return RP_ERR_RANGE;
    }
    snprintf(shown, sizeof shown, "%s.sig", abs_path);
    int rc = read_private_at(dfd, name, shown, sig_max, sig_out, sig_len, err, errlen);
    if (rc == RP_ERR_NOTFOUND)
        return 0;
    if (rc == RP_ERR_RANGE)
        snprintf(err, errlen, "%s: larger than %zu bytes; not a signature file", shown, sig_max);
    return rc == 0 || rc == RP_ERR_RANGE || rc == RP_ERR_NOMEM ? rc : RP_ERR_PERM;
}

/* Calls check on the bytes of the sealed copy mfd, mapped read-only: they
 * can no longer change, so they are the bytes that will be loaded. */
static int check_copy(int mfd, const char *abs_path, const char *sig, size_t sig_len,
                      rp__os_dl_check_fn check, void *arg, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(mfd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", abs_path, strerror(errno));
        return RP_ERR_IO;
    }
    size_t len = (size_t)st.st_size;
    void *map = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE, mfd, 0) : NULL;
    if (len && map == MAP_FAILED) {
        snprintf(err, errlen, "%s: cannot map the private copy: %s", abs_path, strerror(errno));
        return RP_ERR_IO;
    }
    int rc = check(arg, len ? map : "", len, sig, sig_len, err, errlen);
    if (len)
        munmap(map, len);
    return rc;
}

static int dl_open_trusted(const char *abs_path, int copy, int require_sig, size_t sig_max,
                           rp__os_dl_check_fn check, void *arg, rp__os_dl **out, char *err,
                           size_t errlen, int *fd_out, rp__os_file_id *id_out)
{
    char dir[PATH_MAX];
    const char *base = NULL;
    int dfd = -1, fd = -1;
    int rc = split_path(abs_path, dir, sizeof dir, &base, err, errlen);
    if (rc != 0)
        return rc;
    if ((rc = walk_folder(dir, WALK_STRICT, &dfd, err, errlen)) != 0)
        return RP_ERR_PERM;
    fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int e = errno;
    if (fd < 0) {
        close(dfd);
        snprintf(err, errlen, "%s: %s", abs_path,
                 e == ELOOP ? "a symbolic link; expected a regular file" : strerror(e));
        return RP_ERR_PERM;
    }
    if ((rc = check_file_fd(fd, abs_path, err, errlen)) != 0) {
        close(dfd);
        close(fd);
        return RP_ERR_PERM;
    }
    /* The signature is read from the folder checked above, never by path. */
    char *sig = NULL;
    size_t sig_len = 0;
    if (check &&
        (rc = read_sig_at(dfd, base, abs_path, sig_max, &sig, &sig_len, err, errlen)) != 0) {
        close(dfd);
        close(fd);
        return rc;
    }
    close(dfd);
    int checking = check && (sig || require_sig);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", abs_path, strerror(errno));
        free(sig);
        close(fd);
        return RP_ERR_IO;
    }
    if (copy || checking) {
        int mfd = -1;
        rc = private_copy(fd, abs_path, &mfd, err, errlen);
        close(fd);
        if (rc == 0 && checking &&
            (rc = check_copy(mfd, abs_path, sig, sig_len, check, arg, err, errlen)) != 0)
            close(mfd);
        if (rc != 0) {
            free(sig);
            return rc;
        }
        fd = mfd;
    }
    free(sig);
    if (fd_out) {
        /* Checked, not loaded: an isolated plugin's sandbox loads this very
         * descriptor (rp__os_dl_open_fd). */
        file_id_of(&st, id_out);
        *fd_out = fd;
        return 0;
    }
    rp__os_dl *dl = malloc(sizeof *dl);
    if (!dl) {
        close(fd);
        return RP_ERR_NOMEM;
    }
    file_id_of(&st, &dl->src);
    /* Load the very file checked above: the kernel reopens the descriptor's
     * file whatever happened to the path since. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    dlerror();
    dl->handle = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
    if (!dl->handle) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s%s", why ? why : "dlopen failed",
                 access("/proc/self/fd", R_OK) != 0 ? " (is /proc mounted?)" : "");
        close(fd);
        free(dl);
        return RP_ERR_IO;
    }
    dl->fd = fd;
    *out = dl;
    return 0;
}

int rp__os_dl_open_trusted(const char *abs_path, rp__os_dl **out, char *err, size_t errlen)
{
    return dl_open_trusted(abs_path, 0, 0, 0, NULL, NULL, out, err, errlen, NULL, NULL);
}

int rp__os_dl_open_trusted_copy(const char *abs_path, rp__os_dl **out, char *err, size_t errlen)
{
    return dl_open_trusted(abs_path, 1, 0, 0, NULL, NULL, out, err, errlen, NULL, NULL);
}

int rp__os_dl_open_checked(const char *abs_path, int copy, int require_sig, size_t sig_max,
                           rp__os_dl_check_fn check, void *arg, rp__os_dl **out, char *err,
                           size_t errlen)
{
    if (!check)
        return RP_ERR_INVAL;
    return dl_open_trusted(abs_path, copy, require_sig, sig_max, check, arg, out, err, errlen, NULL,
                           NULL);
}

int rp__os_file_open_checked(const char *abs_path, int require_sig, size_t sig_max,
                             rp__os_dl_check_fn check, void *arg, int *fd, rp__os_file_id *id,
                             char *err, size_t errlen)
{
    if (!fd || !id)
        return RP_ERR_INVAL;
    return dl_open_trusted(abs_path, 0, require_sig, sig_max, check, arg, NULL, err, errlen, fd,
                           id);
}

int rp__os_dl_open_fd(int fd, rp__os_dl **out, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "plugin descriptor %d: %s", fd, strerror(errno));
        return RP_ERR_IO;
    }
    rp__os_dl *dl = malloc(sizeof *dl);
    if (!dl)
        return RP_ERR_NOMEM;
    file_id_of(&st, &dl->src);
    /* A process that changed its user is not dumpable, and the kernel then
     * refuses it its own /proc/self/fd links: dumpable only for the load. */
    int dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (dumpable == 0)
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    dlerror();
    dl->handle = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
    if (dumpable == 0)
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (!dl->handle) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s", why ? why : "dlopen failed");
        free(dl);
        return RP_ERR_IO;
    }
    dl->fd = fd;
    *out = dl;
    return 0;
}

int rp__os_dl_file_id(const rp__os_dl *dl, rp__os_file_id *out)
{
    if (!dl || !out)
        return RP_ERR_INVAL;
    *out = dl->src;
    return 0;
}

/* dl_iterate_phdr's walk for rp__os_dl_text_ranges: the object loaded at
 * base (its link map's l_addr). */
struct text_walk {
    uintptr_t base;
    const char *name;
    uint64_t *lo, *hi;
    size_t cap, n;
    int found;
};

static int text_phdr(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct text_walk *w = arg;
    if (info->dlpi_addr != w->base || !info->dlpi_name || strcmp(info->dlpi_name, w->name) != 0)
        return 0;
    w->found = 1;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || w->n >= w->cap)
            continue;
        w->lo[w->n] = (uint64_t)(info->dlpi_addr + ph->p_vaddr);
        w->hi[w->n] = w->lo[w->n] + (uint64_t)ph->p_memsz;
        w->n++;
    }
    return 1;
}

int rp__os_dl_text_ranges(rp__os_dl *dl, uint64_t *lo, uint64_t *hi, size_t cap, size_t *n)
{
    *n = 0;
    if (!dl || !dl->handle)
        return RP_ERR_INVAL;
    struct link_map *lm = NULL;
    if (dlinfo(dl->handle, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
        return RP_ERR_NOTFOUND;
    struct text_walk w = {(uintptr_t)lm->l_addr, lm->l_name ? lm->l_name : "", lo, hi, cap, 0, 0};
    dl_iterate_phdr(text_phdr, &w);
    *n = w.n;
    return w.found ? 0 : RP_ERR_NOTFOUND;
}

int rp__os_path_file_id(const char *abs_path, rp__os_file_id *out)
{
    struct stat st;
    if (!abs_path || !out)
        return RP_ERR_INVAL;
    if (stat(abs_path, &st) != 0)
        return errno == ENOENT ? RP_ERR_NOTFOUND : RP_ERR_IO;
    file_id_of(&st, out);
    return 0;
}

void *rp__os_lib_open(const char *soname, char *err, size_t errlen)
{
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h && err && errlen) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s", why ? why : "cannot be loaded");
    }
    return h;
}

rp__os_fn rp__os_lib_sym(void *lib, const char *name)
{
    void *p = lib ? dlsym(lib, name) : NULL;
    rp__os_fn fn;
    memcpy(&fn, &p, sizeof fn);
    return fn;
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
    /* The descriptor stays open on purpose: its number is the library's name
     * in the C library's list of loaded objects. */
    free(dl);
}

void rp__os_dl_close(rp__os_dl *dl)
{
    if (!dl)
        return;
    dlclose(dl->handle);
    close(dl->fd);
    free(dl);
}

/* ---- folders opened once ------------------------------------------------ */

/* A name is one component: a separator or a dot name would leave the folder. */
static int name_ok(const char *name)
{
    return name && name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0 && strlen(name) <= NAME_MAX;
}

static int dir_new(int fd, const char *path, size_t plen, rp__os_dir **out)
{
    rp__os_dir *d = malloc(sizeof *d);
    char *p = malloc(plen + 1);
    if (!d || !p) {
        free(d);
        free(p);
        close(fd);
        return RP_ERR_NOMEM;
    }
    memcpy(p, path, plen);
    p[plen] = '\0';
    d->fd = fd;
    d->path = p;
    *out = d;
    return 0;
}

/* "<folder>/<name>" for messages. */
static void dir_shown(const rp__os_dir *d, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s", d->path, strcmp(d->path, "/") == 0 ? "" : "/", name);
}

static int dir_open_len(const char *path, size_t plen, int flags, rp__os_dir **out, char *reason,
                        size_t len)
{
    char buf[PATH_MAX];
    if (plen >= sizeof buf) {
        snprintf(reason, len, "%.*s: path too long", (int)plen, path);
        return RP_ERR_RANGE;
    }
    memcpy(buf, path, plen);
    buf[plen] = '\0';
    int pfd = -1;
    int rc = walk_folder(buf, WALK_STRICT | flags, &pfd, reason, len);
    if (rc != 0)
        return rc;
    /* The walk hands back an O_PATH descriptor; reopening "." of it gives one
     * that fsync and readdir accept, without resolving the path again. */
    int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    close(pfd);
    if (fd < 0) {
        snprintf(reason, len, "%s: %s", buf, strerror(e));
        return errno_to_rp(e);
    }
    return dir_new(fd, buf, plen, out);
}

int rp__os_dir_open(const char *path, rp__os_dir **out, char *reason, size_t len)
{
    return dir_open_len(path, strlen(path), 0, out, reason, len);
}

int rp__os_dir_open_nolink(const char *path, rp__os_dir **out, char *reason, size_t len)
{
    return dir_open_len(path, strlen(path), WALK_NO_LINK, out, reason, len);
}

int rp__os_dir_open_parent(const char *path, rp__os_dir **out, const char **name, char *reason,
                           size_t len)
{
    const char *slash = strrchr(path, '/');
    if (path[0] != '/' || !slash || !name_ok(slash + 1)) {
        snprintf(reason, len, "%s: expected an absolute path to a file", path);
        return RP_ERR_INVAL;
    }
    int rc = dir_open_len(path, slash == path ? 1 : (size_t)(slash - path), 0, out, reason, len);
    if (rc == 0)
        *name = slash + 1;
    return rc;
}

int rp__os_dir_sub(rp__os_dir *dir, const char *name, unsigned create_mode, rp__os_dir **out,
                   char *reason, size_t len)
{
    char shown[PATH_MAX + NAME_MAX + 2];
    dir_shown(dir, name, shown, sizeof shown);
    if (!name_ok(name)) {
        snprintf(reason, len, "%s: expected one file name", shown);
        return RP_ERR_INVAL;
    }
    if (create_mode && mkdirat(dir->fd, name, (mode_t)create_mode) != 0 && errno != EEXIST) {
        int e = errno;
        snprintf(reason, len, "%s: cannot create the folder: %s", shown, strerror(e));
        return errno_to_rp(e);
    }
    int fd = openat(dir->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        struct stat st;
        int link = (e == ELOOP || e == ENOTDIR) &&
                   fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
        if (link)
            snprintf(reason, len, "%s: a symbolic link; expected a folder", shown);
        else
            snprintf(reason, len, "%s: %s", shown,
                     e == ENOTDIR || e == ELOOP ? "not a folder" : strerror(e));
        return e == ENOENT ? RP_ERR_NOTFOUND : link || e == ENOTDIR ? RP_ERR_PERM : errno_to_rp(e);
    }
    int rc = check_folder(fd, shown, 1, reason, len);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return dir_new(fd, shown, strlen(shown), out);
}

int rp__os_dir_dup(const rp__os_dir *dir, rp__os_dir **out)
{
    int fd = fcntl(dir->fd, F_DUPFD_CLOEXEC, 0);
    if (fd < 0)
        return errno_to_rp(errno);
    return dir_new(fd, dir->path, strlen(dir->path), out);
}

const char *rp__os_dir_path(const rp__os_dir *dir)
{
    return dir->path;
}

int64_t rp__os_dir_native(const rp__os_dir *dir)
{
    return dir->fd;
}

int rp__os_dir_set_mode(rp__os_dir *dir, unsigned mode)
{
    return fchmod(dir->fd, (mode_t)mode) == 0 ? 0 : errno_to_rp(errno);
}

void rp__os_dir_close(rp__os_dir *dir)
{
    if (!dir)
        return;
    close(dir->fd);
    free(dir->path);
    free(dir);
}

int rp__os_dir_write_atomic(rp__os_dir *dir, const char *name, const void *data, size_t len,
                            unsigned mode)
{
    if (!name_ok(name))
        return RP_ERR_INVAL;
    /* A fresh random name, created exclusively: nothing left over (or
     * planted) at a fixed temporary name is ever opened. */
    char tmp[NAME_MAX + 1];
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 8; tries++) {
        unsigned char r[6];
        if (rp__os_random(r, sizeof r) != 0)
            return RP_ERR_IO;
        if (snprintf(tmp, sizeof tmp, ".%.200s.%02x%02x%02x%02x%02x%02x.tmp", name, r[0], r[1],
                     r[2], r[3], r[4], r[5]) >= (int)sizeof tmp)
            return RP_ERR_RANGE;
        fd = openat(dir->fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                    (mode_t)mode);
        if (fd < 0 && errno != EEXIST)
            return errno_to_rp(errno);
    }
    if (fd < 0)
        return RP_ERR_EXISTS;
    int rc = rp__os_file_write((rp__os_file){fd}, data, len);
    if (rc == 0 && fsync(fd) != 0)
        rc = RP_ERR_IO;
    close(fd);
    if (rc == 0 && renameat(dir->fd, tmp, dir->fd, name) != 0)
        rc = errno_to_rp(errno);
    if (rc != 0)
        unlinkat(dir->fd, tmp, 0);
    /* The new name is durable once the folder is. */
    else if (fsync(dir->fd) != 0)
        rc = RP_ERR_IO;
    return rc;
}

int rp__os_dir_read_small(rp__os_dir *dir, const char *name, size_t max_bytes, char **data_out,
                          size_t *len_out, char *reason, size_t len)
{
    char shown[PATH_MAX + NAME_MAX + 2];
    dir_shown(dir, name, shown, sizeof shown);
    if (!name_ok(name)) {
        snprintf(reason, len, "%s: expected one file name", shown);
        return RP_ERR_INVAL;
    }
    return read_private_at(dir->fd, name, shown, max_bytes, data_out, len_out, reason, len);
}

int rp__os_dir_open_append(rp__os_dir *dir, const char *name, unsigned mode, rp__os_file *out,
                           int *errno_out)
{
    out->h = RP__OS_FILE_NONE;
    if (!name_ok(name)) {
        if (errno_out)
            *errno_out = EINVAL;
        return RP_ERR_INVAL;
    }
    return open_append_at(dir->fd, name, mode, out, errno_out);
}

int rp__os_dir_rename(rp__os_dir *dir, const char *from, const char *to)
{
    if (!name_ok(from) || !name_ok(to))
        return RP_ERR_INVAL;
    return renameat(dir->fd, from, dir->fd, to) == 0 ? 0 : errno_to_rp(errno);
}

int rp__os_dir_remove(rp__os_dir *dir, const char *name)
{
    if (!name_ok(name))
        return RP_ERR_INVAL;
    return unlinkat(dir->fd, name, 0) == 0 ? 0 : errno_to_rp(errno);
}

int rp__os_dir_list(rp__os_dir *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                    void *arg)
{
    /* A descriptor of its own: readdir moves the position of the one it
     * reads, and others may list the folder at the same time. */
    int fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno_to_rp(errno);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return RP_ERR_IO;
    }
    return list_regular(d, fn, arg);
}

int rp__os_dir_pidfile_acquire(rp__os_dir *dir, const char *name, rp__os_pidfile **out,
                               long *holder_pid)
{
    *holder_pid = 0;
    if (!name_ok(name))
        return RP_ERR_INVAL;
    return pidfile_acquire_at(dir->fd, name, out, holder_pid);
}
