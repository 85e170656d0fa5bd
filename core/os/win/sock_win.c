/* core/os/win/sock_win.c - the control socket of os_sock.h on Windows: not
 * there yet. Every call answers RP_ERR_UNSUPPORTED, so the agent runs without
 * a control socket and rampartctl falls back to status.json; a named pipe
 * with its own access check will take its place. */
#include "os/os_sock.h"

#include <rampart/plugin.h>

long rp__os_euid(void)
{
    return -1;
}

int rp__os_ctl_listen(rp__os_dir *dir, const char *name, unsigned mode, int backlog, int *fd_out,
                      char *reason, size_t len)
{
    (void)dir, (void)name, (void)mode, (void)backlog, (void)fd_out;
    if (len)
        reason[0] = '\0';
    return RP_ERR_UNSUPPORTED;
}

int rp__os_ctl_accept(int lfd, int *fd_out, rp__os_peer *peer)
{
    (void)lfd, (void)fd_out, (void)peer;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_ctl_unlink(rp__os_dir *dir, const char *name)
{
    (void)dir, (void)name;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sock_recv(int fd, void *buf, size_t len, size_t *got)
{
    (void)fd, (void)buf, (void)len, (void)got;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sock_send(int fd, const void *buf, size_t len, size_t *sent)
{
    (void)fd, (void)buf, (void)len, (void)sent;
    return RP_ERR_UNSUPPORTED;
}

void rp__os_sock_close(int *fd)
{
    *fd = -1;
}

int rp__os_ctl_connect(const char *dir_path, const char *name, int timeout_ms, int *fd_out)
{
    (void)dir_path, (void)name, (void)timeout_ms, (void)fd_out;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sock_recv_wait(int fd, void *buf, size_t len, size_t *got)
{
    (void)fd, (void)buf, (void)len, (void)got;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sock_send_all(int fd, const void *buf, size_t len)
{
    (void)fd, (void)buf, (void)len;
    return RP_ERR_UNSUPPORTED;
}
