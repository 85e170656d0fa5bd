/* core/os/unix/secret_unix.c - os_secret.h with open, fstat and read. */
#include "os/os_secret.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* Overwrites what was read of a secret before the buffer is freed; the
 * volatile pointer keeps the compiler from dropping the stores. */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* O_NONBLOCK: a FIFO planted at the path must not hang the agent before
 * fstat can refuse it. */
static int open_checked(const char *path, struct stat *st, int missing_rc, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        say(why, whylen, "%s", strerror(e));
        return e == ENOENT ? RP_ERR_NOTFOUND : e == EACCES ? RP_ERR_PERM : missing_rc;
    }
    if (fstat(fd, st) != 0) {
        say(why, whylen, "%s", strerror(errno));
        close(fd);
        return missing_rc;
    }
    if (!S_ISREG(st->st_mode)) {
        say(why, whylen, "not a regular file");
        close(fd);
        return RP_ERR_CONFIG;
    }
    return fd;
}

int rp__os_read_secret_file(const char *path, size_t max, char **buf_out, size_t *len_out,
                            char *why, size_t whylen)
{
    struct stat st;
    int fd = open_checked(path, &st, RP_ERR_IO, why, whylen);
    if (fd < 0)
        return fd;
    if (st.st_mode & 077) {
        say(why, whylen,
            "mode %04o lets group or others access it; it holds a secret, so allow its owner "
            "only (chmod 600 %s)",
            (unsigned)(st.st_mode & 07777), path);
        close(fd);
        return RP_ERR_PERM;
    }
    if ((size_t)st.st_size > max) {
        say(why, whylen, "%zu bytes, more than the %zu allowed", (size_t)st.st_size, max);
        close(fd);
        return RP_ERR_RANGE;
    }
    char *buf = malloc(max + 1);
    if (!buf) {
        close(fd);
        return RP_ERR_NOMEM;
    }
    /* Read to EOF rather than trusting st_size, bounded by max + 1 so that a
     * file that grew meanwhile is still caught. */
    size_t len = 0;
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, max + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            say(why, whylen, "%s", strerror(errno));
            rc = RP_ERR_IO;
            break;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > max) {
            say(why, whylen, "more than the %zu bytes allowed", max);
            rc = RP_ERR_RANGE;
            break;
        }
    }
    close(fd);
    if (rc != 0) {
        wipe(buf, max + 1);
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    return 0;
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
