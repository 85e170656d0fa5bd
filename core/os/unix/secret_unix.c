/* core/os/unix/secret_unix.c - os_secret.h with open, fstat and read. */
#include "os/os_secret.h"
#include "os/os_secret_int.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* O_NONBLOCK: a FIFO planted at the path must not hang the agent before
 * fstat can refuse it. */
static int open_checked(const char *path, struct stat *st, int missing_rc, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        rp__os_secret_say(why, whylen, "%s", strerror(e));
        return e == ENOENT ? RP_ERR_NOTFOUND : e == EACCES ? RP_ERR_PERM : missing_rc;
    }
    if (fstat(fd, st) != 0) {
        rp__os_secret_say(why, whylen, "%s", strerror(errno));
        close(fd);
        return missing_rc;
    }
    if (!S_ISREG(st->st_mode)) {
        rp__os_secret_say(why, whylen, "not a regular file");
        close(fd);
        return RP_ERR_CONFIG;
    }
    return fd;
}

/* rp__os_secret_read_fn on a descriptor (h points to it). */
static int read_fd(void *h, char *dst, size_t want, size_t *got, char *why, size_t whylen)
{
    for (;;) {
        ssize_t n = read(*(const int *)h, dst, want);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno != EINTR) {
            rp__os_secret_say(why, whylen, "%s", strerror(errno));
            return RP_ERR_IO;
        }
    }
}

int rp__os_read_secret_file(const char *path, size_t max, char **buf_out, size_t *len_out,
                            char *why, size_t whylen)
{
    struct stat st;
    int fd = open_checked(path, &st, RP_ERR_IO, why, whylen);
    if (fd < 0)
        return fd;
    if (st.st_mode & 077) {
        rp__os_secret_say(
            why, whylen,
            "mode %04o lets group or others access it; it holds a secret, so allow its owner "
            "only (chmod 600 %s)",
            (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return RP_ERR_PERM;
    }
    if ((size_t)st.st_size > max) {
        rp__os_secret_say(why, whylen, "%zu bytes, more than the %zu allowed", (size_t)st.st_size,
                          max);
        close(fd);
        return RP_ERR_RANGE;
    }
    /* Read to EOF rather than trusting st_size (rp__os_secret_read_to_end). */
    int rc = rp__os_secret_read_to_end(read_fd, &fd, max, buf_out, len_out, why, whylen);
    close(fd);
    return rc;
}

int rp__os_check_readable_file(const char *path, char *why, size_t whylen)
{
    struct stat st;
    int fd = open_checked(path, &st, RP_ERR_CONFIG, why, whylen);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}
