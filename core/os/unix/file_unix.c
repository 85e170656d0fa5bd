/* core/os/unix/file_unix.c - the operations on an open file (rp__os_file,
 * os_fs.h) for Linux and other Unix systems, and the spool's files opened in
 * a folder opened by os_unix.c (which opens the append-only files). */
#define _GNU_SOURCE
#include "os/os_fs.h"
#include "os/os_fs_int.h"
#include "os/unix/dir_unix.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int fail(int e, int *errno_out)
{
    if (errno_out)
        *errno_out = e;
    return rp__os_fs_error(e);
}

/* Refuses a file the agent (root) must not trust: one of another user than
 * root or the agent's own. */
static int owner_ok(const struct stat *st)
{
    return st->st_uid == 0 || st->st_uid == geteuid();
}

static int open_fd(const rp__os_dir *dir, const char *name, int flags, rp__os_file *out,
                   int *errno_out)
{
    out->h = RP__OS_FILE_NONE;
    if (errno_out)
        *errno_out = 0;
    int fd;
    do
        fd = openat(dir->fd, name, flags | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0600);
    while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return fail(errno == ELOOP ? EPERM : errno, errno_out);
    /* The spool is written and truncated as root: a symbolic link, a device,
     * a file of someone else's or a second name of one is refused. */
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !owner_ok(&st) || st.st_nlink != 1) {
        close(fd);
        return fail(EPERM, errno_out);
    }
    out->h = fd;
    return 0;
}

int rp__os_file_create(const rp__os_dir *dir, const char *name, rp__os_file *out, int *errno_out)
{
    return open_fd(dir, name, O_RDWR | O_CREAT | O_EXCL, out, errno_out);
}

int rp__os_file_open(const rp__os_dir *dir, const char *name, int writable, int create,
                     rp__os_file *out, int *errno_out)
{
    int flags = writable ? O_RDWR : O_RDONLY;
    if (create)
        flags |= O_CREAT;
    return open_fd(dir, name, flags, out, errno_out);
}

int rp__os_file_size(rp__os_file f, uint64_t *out)
{
    struct stat st;
    if (fstat((int)f.h, &st) != 0)
        return rp__os_fs_error(errno);
    if (!S_ISREG(st.st_mode))
        return RP_ERR_INVAL;
    *out = (uint64_t)st.st_size;
    return 0;
}

int rp__os_file_read_at(rp__os_file f, uint64_t off, void *buf, size_t len, size_t *got)
{
    char *p = buf;
    size_t done = 0;
    *got = 0;
    while (done < len) {
        /* Offsets past off_t's range cannot name bytes of a real file. */
        if (off + done > (uint64_t)INT64_MAX)
            break;
        ssize_t n = pread((int)f.h, p + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *got = done;
            return rp__os_fs_error(errno);
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

int rp__os_file_write_at(rp__os_file f, uint64_t off, const void *a, size_t alen, const void *b,
                         size_t blen, int *errno_out)
{
    if (errno_out)
        *errno_out = 0;
    struct iovec iov[2] = {{(void *)a, alen}, {(void *)b, blen}};
    int n_iov = 2, first = 0;
    while (first < n_iov) {
        if (iov[first].iov_len == 0) {
            first++;
            continue;
        }
        ssize_t n = pwritev((int)f.h, iov + first, n_iov - first, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail(errno, errno_out);
        }
        if (n == 0)
            return fail(ENOSPC, errno_out); /* no progress: treat as a full disk */
        off += (uint64_t)n;
        /* Skip what was written: whole vectors, then a part of one. */
        size_t left = (size_t)n;
        while (first < n_iov && left >= iov[first].iov_len) {
            left -= iov[first].iov_len;
            first++;
        }
        if (first < n_iov) {
            iov[first].iov_base = (char *)iov[first].iov_base + left;
            iov[first].iov_len -= left;
        }
    }
    return 0;
}

int rp__os_file_truncate(rp__os_file f, uint64_t len)
{
    if (len > (uint64_t)INT64_MAX)
        return RP_ERR_RANGE;
    int rc;
    do
        rc = ftruncate((int)f.h, (off_t)len);
    while (rc != 0 && errno == EINTR);
    return rc == 0 ? 0 : rp__os_fs_error(errno);
}

int rp__os_file_sync(rp__os_file f, int *errno_out)
{
    if (errno_out)
        *errno_out = 0;
#if defined(_POSIX_SYNCHRONIZED_IO) && _POSIX_SYNCHRONIZED_IO > 0
    /* fdatasync skips timestamps but still writes the size when it changed,
     * which is all a reader needs. */
    int rc = fdatasync((int)f.h);
#else
    int rc = fsync((int)f.h);
#endif
    return rc == 0 ? 0 : fail(errno, errno_out);
}

void rp__os_file_close(rp__os_file *f)
{
    if (!f || f->h == RP__OS_FILE_NONE)
        return;
    /* No retry on EINTR: on Linux the fd is gone either way. */
    close((int)f->h);
    f->h = RP__OS_FILE_NONE;
}

int rp__os_dir_sync(const rp__os_dir *dir)
{
    return fsync(dir->fd) == 0 ? 0 : rp__os_fs_error(errno);
}

int rp__os_dir_names(const rp__os_dir *dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
    /* A new open of the folder itself ("." of its descriptor, no path walked),
     * not a dup: closedir closes it, and its read position is its own. */
    int fd = openat(dir->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return rp__os_fs_error(errno);
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return rp__os_fs_error(e);
    }
    int rc = 0;
    struct dirent *e;
    errno = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        rc = fn(ctx, e->d_name);
        errno = 0;
    }
    if (rc == 0 && errno != 0)
        rc = rp__os_fs_error(errno);
    closedir(d);
    return rc;
}
