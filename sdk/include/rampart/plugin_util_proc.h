/*
 * rampart/plugin_util_proc.h - optional helpers for collector plugins on
 * Linux that read a process from /proc, header-only, like plugin_util.h
 * (which it includes). Unlike that header it needs POSIX (open, readlink,
 * getpwnam_r) and Linux's /proc (define _GNU_SOURCE before any include, for
 * O_PATH); it is not part of the ABI either.
 *
 * Every function returns 0 or a negative RP_ERR_* code unless its comment
 * says otherwise. Any thread: they keep no state.
 */
#ifndef RAMPART_PLUGIN_UTIL_PROC_H
#define RAMPART_PLUGIN_UTIL_PROC_H

#include <rampart/plugin_util.h>

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* rp_util_sha256_fd: SHA-256 of the open file fd, read from its start with
 * pread (its offset is not moved) through the caller's scratch buf (cap
 * bytes, at least 1), into out. RP_ERR_RANGE once more than max bytes were
 * read (a file that grew past its cap), RP_ERR_IO on a read error,
 * RP_ERR_INVAL for a bad argument. */
static inline int rp_util_sha256_fd(int fd, uint64_t max, void *buf, size_t cap, uint8_t out[32])
{
    rp_util_sha256 s;
    uint64_t off = 0;
    if (fd < 0 || !buf || cap == 0 || !out)
        return RP_ERR_INVAL;
    rp_util_sha256_init(&s);
    for (;;) {
        ssize_t n = pread(fd, buf, cap, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return RP_ERR_IO;
        if (n == 0)
            break;
        rp_util_sha256_update(&s, buf, (size_t)n);
        off += (uint64_t)n;
        if (off > max)
            return RP_ERR_RANGE;
    }
    rp_util_sha256_final(&s, out);
    return 0;
}

/* rp_util_proc_user_uid: a rp_util_user_resolver through the system's user
 * database (NSS). */
static inline int rp_util_proc_user_uid(const char *name, uint32_t *uid)
{
    char buf[4096];
    struct passwd pw, *res = NULL;
    if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || !res)
        return RP_ERR_NOTFOUND;
    *uid = (uint32_t)res->pw_uid;
    return 0;
}

/* rp_util_proc_exe: the executable of pid, opened once through
 * /proc/<pid>/exe and named through that descriptor, so the name and the
 * checks are of the same file. flags says what it is:
 *   RP_UTIL_EXE_DELETED  the file was deleted (its last name is in exe,
 *                        without the kernel's " (deleted)");
 *   RP_UTIL_EXE_MEMFD    an anonymous memory file (memfd_create): exe is
 *                        left empty, as its "name" is whatever the creator
 *                        chose (it may read "/usr/sbin/sshd");
 * A name that merely ends in " (deleted)" on a file that still has links is
 * kept as it is. RP_ERR_NOTFOUND when the process is gone or has no
 * executable (kernel threads, a zombie), RP_ERR_RANGE when the name does
 * not fit cap (or is longer than the kernel can name: PATH_MAX). */
#define RP_UTIL_EXE_DELETED 0x1u
#define RP_UTIL_EXE_MEMFD   0x2u

static inline int rp_util_proc_exe(int32_t pid, char *exe, size_t cap, uint32_t *flags)
{
    char link[64];
    struct stat st;
    ssize_t n;
    int fd;
    static const char del[] = " (deleted)";
    size_t dl = sizeof del - 1;
    *flags = 0;
    if (cap < 2)
        return RP_ERR_INVAL;
    exe[0] = '\0';
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    fd = open(link, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENAMETOOLONG ? RP_ERR_RANGE : RP_ERR_NOTFOUND;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return RP_ERR_NOTFOUND;
    }
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, exe, cap - 1);
    close(fd);
    if (n <= 0 || (size_t)n >= cap - 1) {
        exe[0] = '\0';
        return n <= 0 && errno != ENAMETOOLONG ? RP_ERR_NOTFOUND : RP_ERR_RANGE;
    }
    exe[n] = '\0';
    if (st.st_nlink == 0) {
        *flags |= RP_UTIL_EXE_DELETED;
        if ((size_t)n > dl && memcmp(exe + n - dl, del, dl) == 0)
            exe[n - dl] = '\0';
        if (strncmp(exe, "/memfd:", 7) == 0) {
            *flags |= RP_UTIL_EXE_MEMFD;
            exe[0] = '\0';
        }
    }
    return 0;
}

/* rp_util_proc_base: the file name part of an executable path (a pointer
 * into it). */
static inline const char *rp_util_proc_base(const char *exe)
{
    const char *s = strrchr(exe, '/');
    return s ? s + 1 : exe;
}

/* rp_util_proc_status_uid: the real uid in the text of a /proc/<pid>/status
 * file (NUL-terminated; the "Uid:" line). RP_ERR_PARSE when there is none.
 * Apart from rp_util_proc_uid so that the parsing can be tested (fuzzed) on
 * any text. */
static inline int rp_util_proc_status_uid(const char *text, uint32_t *uid)
{
    const char *p;
    char *end;
    unsigned long v;
    p = strstr(text, "\nUid:");
    if (!p)
        return RP_ERR_PARSE;
    p += 5;
    while (*p == '\t' || *p == ' ')
        p++;
    v = strtoul(p, &end, 10);
    if (end == p)
        return RP_ERR_PARSE;
    *uid = (uint32_t)v;
    return 0;
}

/* rp_util_proc_uid: the real uid of pid (the "Uid:" line of status). */
static inline int rp_util_proc_uid(int32_t pid, uint32_t *uid)
{
    char path[64], buf[2048];
    ssize_t n;
    int fd;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_NOTFOUND;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return RP_ERR_NOTFOUND;
    buf[n] = '\0';
    return rp_util_proc_status_uid(buf, uid);
}

/* rp_util_proc_stat_start: the start time in clock ticks since boot in the
 * text of a /proc/<pid>/stat file (NUL-terminated; field 22: the command
 * name before it may hold spaces and parentheses, so fields are counted
 * after the last ')'). RP_ERR_PARSE on text it does not understand. Apart
 * from rp_util_proc_start so that the parsing can be tested (fuzzed) on any
 * text. */
static inline int rp_util_proc_stat_start(const char *text, uint64_t *ticks)
{
    const char *p;
    char *end;
    int field;
    unsigned long long v;
    p = strrchr(text, ')');
    if (!p)
        return RP_ERR_PARSE;
    p++;
    for (field = 3; field < 22; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
        if (!*p)
            return RP_ERR_PARSE;
    }
    while (*p == ' ')
        p++;
    if (*p < '0' || *p > '9')
        return RP_ERR_PARSE;
    v = strtoull(p, &end, 10);
    if (end == p)
        return RP_ERR_PARSE;
    *ticks = (uint64_t)v;
    return 0;
}

/* rp_util_proc_start: the start time of pid in clock ticks since boot
 * (field 22 of /proc/<pid>/stat). */
static inline int rp_util_proc_start(int32_t pid, uint64_t *ticks)
{
    char path[64], buf[1024];
    ssize_t n;
    int fd;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_NOTFOUND;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return RP_ERR_NOTFOUND;
    buf[n] = '\0';
    return rp_util_proc_stat_start(buf, ticks);
}

/* rp_util_machine_id: the machine id the entity id scheme uses, into buf
 * (NUL-terminated); *len its length. */
static inline void rp_util_machine_id(char *buf, size_t cap, size_t *len)
{
    static const char *const files[] = {"/etc/machine-id", "/var/lib/dbus/machine-id"};
    size_t i;
    *len = 0;
    if (cap < 2)
        return;
    for (i = 0; i < 2; i++) {
        int fd = open(files[i], O_RDONLY | O_CLOEXEC);
        ssize_t n;
        if (fd < 0)
            continue;
        n = read(fd, buf, cap - 1);
        close(fd);
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
            n--;
        if (n > 0) {
            buf[n] = '\0';
            *len = (size_t)n;
            return;
        }
    }
    /* No machine id: ids stay unique on this host, just not across hosts. */
    gethostname(buf, cap - 1);
    buf[cap - 1] = '\0';
    *len = strlen(buf);
}

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_PLUGIN_UTIL_PROC_H */
