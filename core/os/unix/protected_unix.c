/* core/os/unix/protected_unix.c - reading small files that only root may
 * write (the per-machine site), checked on the opened descriptors. */
#include "os/os.h"
#include "os/os_fs.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Owned by root or by the agent's own user, and writable by neither group
 * nor others: otherwise someone else could choose what the agent reads. */
static int owner_mode_ok(const char *what, const struct stat *st, char *reason, size_t len)
{
    uid_t me = geteuid();
    if (st->st_uid != 0 && st->st_uid != me) {
        snprintf(reason, len, "%s: owned by uid %u, not by root or the agent's user (uid %u)", what,
                 (unsigned)st->st_uid, (unsigned)me);
        return RP_ERR_PERM;
    }
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(reason, len, "%s: writable by %s (mode %04o); chmod go-w it", what,
                 (st->st_mode & S_IWOTH) ? "others" : "group", (unsigned)(st->st_mode & 07777));
        return RP_ERR_PERM;
    }
    return 0;
}

int rp__os_read_protected_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                               char *reason, size_t len)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (slash && n == 0)
        n = 1; /* the root folder */
    if (n >= sizeof dir || !*base) {
        snprintf(reason, len, "%s: not a file name", path);
        return RP_ERR_INVAL;
    }
    if (slash)
        memcpy(dir, path, n);
    else
        dir[n++] = '.';
    dir[n] = '\0';

    /* The folder and the file are checked through the descriptors that are
     * then read, so neither can be swapped between the check and the read. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        int e = errno;
        snprintf(reason, len, "%s: %s", dir, strerror(e));
        return e == ENOENT ? RP_ERR_NOTFOUND : RP_ERR_IO;
    }
    struct stat st;
    int rc = fstat(dfd, &st) == 0 ? owner_mode_ok(dir, &st, reason, len) : RP_ERR_IO;
    if (rc != 0) {
        close(dfd);
        return rc;
    }
    int fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    int e = errno;
    close(dfd);
    if (fd < 0) {
        snprintf(reason, len, "%s: %s", path,
                 e == ELOOP ? "a symbolic link; expected a regular file" : strerror(e));
        return e == ENOENT ? RP_ERR_NOTFOUND : e == ELOOP ? RP_ERR_PERM : RP_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(reason, len, "%s: not a regular file", path);
        close(fd);
        return RP_ERR_INVAL;
    }
    if ((rc = owner_mode_ok(path, &st, reason, len)) != 0) {
        close(fd);
        return rc;
    }
    char *buf = malloc(max_bytes + 1);
    if (!buf) {
        close(fd);
        return RP_ERR_NOMEM;
    }
    size_t used = 0;
    for (;;) {
        ssize_t r = read(fd, buf + used, max_bytes + 1 - used);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(reason, len, "%s: %s", path, strerror(errno));
            rc = RP_ERR_IO;
            break;
        }
        if (r == 0)
            break;
        used += (size_t)r;
        if (used > max_bytes) {
            snprintf(reason, len, "%s: larger than %zu bytes", path, max_bytes);
            rc = RP_ERR_RANGE;
            break;
        }
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    buf[used] = '\0';
    *data_out = buf;
    *len_out = used;
    return 0;
}
