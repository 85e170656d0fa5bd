/* core/os/unix/sock_unix.c - the control socket of os_sock.h as a
 * UNIX-domain stream socket. */
#define _GNU_SOURCE /* accept4, struct ucred (SO_PEERCRED) */
#include "os/os_sock.h"
#include "os/unix/dir_unix.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

long rp__os_euid(void)
{
    return (long)geteuid();
}

static int name_ok(const char *name)
{
    return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* There is no bindat(): the folder's open descriptor is named through
 * /proc/self/fd, which the kernel resolves to that very folder, so the name
 * lands where the agent checked, whatever its path has become since, and a
 * long data_dir does not run into the 108 bytes of sun_path. */
static int addr_in(int dirfd, const char *name, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    int n = snprintf(sa->sun_path, sizeof sa->sun_path, "/proc/self/fd/%d/%s", dirfd, name);
    return n > 0 && (size_t)n < sizeof sa->sun_path ? 0 : RP_ERR_RANGE;
}

int rp__os_ctl_listen(rp__os_dir *dir, const char *name, unsigned mode, int backlog, int *fd_out,
                      char *reason, size_t len)
{
    if (!name_ok(name))
        return RP_ERR_INVAL;
    struct sockaddr_un sa;
    if (addr_in(dir->fd, name, &sa) != 0) {
        snprintf(reason, len, "%s/%s: name too long for a socket", dir->path, name);
        return RP_ERR_RANGE;
    }
    /* The pid file's lock makes this the only agent on the folder, so a
     * socket at the name is a dead agent's; anything else is not ours to
     * remove. */
    struct stat st;
    if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(reason, len, "%s/%s: exists and is not a socket; not replaced", dir->path,
                     name);
            return RP_ERR_EXISTS;
        }
        if (unlinkat(dir->fd, name, 0) != 0 && errno != ENOENT) {
            snprintf(reason, len, "%s/%s: cannot remove the old socket: %s", dir->path, name,
                     strerror(errno));
            return RP_ERR_IO;
        }
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(reason, len, "socket: %s", strerror(errno));
        return RP_ERR_IO;
    }
    /* Bound, then its mode set, then listening: until listen() every
     * connect() is refused, so no one connects while the mode is the
     * umask's. The peer's uid is checked on every connection anyway. */
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(reason, len, "%s/%s: bind: %s", dir->path, name, strerror(errno));
        close(fd);
        return errno == EADDRINUSE ? RP_ERR_EXISTS : RP_ERR_IO;
    }
    if (fchmodat(dir->fd, name, (mode_t)mode, 0) != 0 || listen(fd, backlog) != 0) {
        snprintf(reason, len, "%s/%s: %s", dir->path, name, strerror(errno));
        unlinkat(dir->fd, name, 0);
        close(fd);
        return RP_ERR_IO;
    }
    *fd_out = fd;
    return 0;
}

int rp__os_ctl_accept(int lfd, int *fd_out, rp__os_peer *peer)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
            return RP_ERR_AGAIN;
        return errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM
                   ? RP_ERR_FULL
                   : RP_ERR_IO;
    }
    struct ucred cr;
    socklen_t cl = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 || cl != sizeof cr) {
        close(fd);
        return RP_ERR_IO;
    }
    peer->uid = (long)cr.uid;
    peer->pid = (long)cr.pid;
    *fd_out = fd;
    return 0;
}

int rp__os_ctl_unlink(rp__os_dir *dir, const char *name)
{
    struct stat st;
    if (!name_ok(name))
        return RP_ERR_INVAL;
    if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? RP_ERR_NOTFOUND : RP_ERR_IO;
    if (!S_ISSOCK(st.st_mode))
        return RP_ERR_EXISTS;
    return unlinkat(dir->fd, name, 0) == 0 ? 0 : RP_ERR_IO;
}

int rp__os_sock_recv(int fd, void *buf, size_t len, size_t *got)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? RP_ERR_AGAIN : RP_ERR_IO;
    }
}

int rp__os_sock_send(int fd, const void *buf, size_t len, size_t *sent)
{
    for (;;) {
        ssize_t n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            *sent = (size_t)n;
            return 0;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? RP_ERR_AGAIN : RP_ERR_IO;
    }
}

void rp__os_sock_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

int rp__os_ctl_connect(const char *dir_path, const char *name, int timeout_ms, int *fd_out)
{
    if (!name_ok(name))
        return RP_ERR_INVAL;
    int dfd = open(dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return errno == ENOENT || errno == ENOTDIR ? RP_ERR_NOTFOUND
               : errno == EACCES                   ? RP_ERR_PERM
                                                   : RP_ERR_IO;
    struct sockaddr_un sa;
    int rc = addr_in(dfd, name, &sa);
    int fd = rc == 0 ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
    if (rc == 0 && fd < 0)
        rc = RP_ERR_IO;
    if (rc == 0) {
        struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            rc = errno == ENOENT                     ? RP_ERR_NOTFOUND
                 : errno == ECONNREFUSED             ? RP_ERR_STOPPED
                 : errno == EACCES || errno == EPERM ? RP_ERR_PERM
                 : errno == EAGAIN                   ? RP_ERR_BUSY
                                                     : RP_ERR_IO;
            close(fd);
            fd = -1;
        }
    }
    close(dfd);
    if (rc == 0)
        *fd_out = fd;
    return rc;
}

int rp__os_sock_recv_wait(int fd, void *buf, size_t len, size_t *got)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0) {
            *got = (size_t)n;
            return 0;
        }
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? RP_ERR_TIMEOUT : RP_ERR_IO;
    }
}

int rp__os_sock_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN || errno == EWOULDBLOCK ? RP_ERR_TIMEOUT : RP_ERR_IO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
