/*
 * core/os/os_sock.h - the agent's control socket (rampartctl talks to it):
 * a local stream socket created in a folder of the agent's own, the peer's
 * credentials read from the kernel (SO_PEERCRED), and non-blocking reads and
 * writes for the event loop. The policy (who may use it, caps, deadlines)
 * is the caller's: core/control.c.
 *
 * Implementations: core/os/unix/sock_unix.c (a UNIX-domain socket);
 * core/os/win/sock_win.c answers RP_ERR_UNSUPPORTED for now (Windows will use
 * a named pipe with its own access check).
 *
 * Sockets are plain int descriptors, as the loop's fd watches take them.
 * Functions return 0 or a negative RP_ERR_* code; any thread.
 */
#ifndef RP_CORE_OS_SOCK_H
#define RP_CORE_OS_SOCK_H

#include <stddef.h>

#include "os/os_fs.h"

/* Who is at the other end of a connection, as the kernel saw it when the
 * peer connected (not what the peer says). */
typedef struct rp__os_peer {
    long uid;
    long pid;
} rp__os_peer;

/* The agent's effective user id (0 for root). */
long rp__os_euid(void);

/*
 * Creates a listening stream socket named name in dir (opened once by the
 * agent; the name is bound relative to that open folder, never through its
 * path again), with mode (0600) set before it listens, so no connection is
 * taken before the mode is right. A socket left at name by an agent that
 * died is replaced; anything else there is refused (RP_ERR_EXISTS, reason).
 * The socket is non-blocking and close-on-exec; *fd_out is the caller's.
 */
int rp__os_ctl_listen(rp__os_dir *dir, const char *name, unsigned mode, int backlog, int *fd_out,
                      char *reason, size_t len);

/* Accepts one connection, non-blocking and close-on-exec, and reads its
 * peer's credentials. RP_ERR_AGAIN when none is waiting. */
int rp__os_ctl_accept(int lfd, int *fd_out, rp__os_peer *peer);

/* Removes name from dir if it is a socket (the agent's own, at stop). */
int rp__os_ctl_unlink(rp__os_dir *dir, const char *name);

/* Reads up to len bytes without blocking: *got 0 means the peer closed its
 * end. RP_ERR_AGAIN when nothing is there yet, RP_ERR_IO on an error. */
int rp__os_sock_recv(int fd, void *buf, size_t len, size_t *got);
/* Writes up to len bytes without blocking and without SIGPIPE; *sent may be
 * less than len. RP_ERR_AGAIN when the peer's buffer is full, RP_ERR_IO when
 * the peer is gone. */
int rp__os_sock_send(int fd, const void *buf, size_t len, size_t *sent);
/* Closes *fd and sets it to -1; -1 is a no-op. */
void rp__os_sock_close(int *fd);

/*
 * For the client (rampartctl): connects to socket name in folder dir_path,
 * blocking, with every later read and write bounded by timeout_ms. The folder
 * is opened first and the name reached through it, so a long data_dir is no
 * limit. RP_ERR_NOTFOUND when there is no socket (or folder), RP_ERR_STOPPED
 * when the socket is there but no one listens (the agent is down),
 * RP_ERR_PERM when refused by permissions, RP_ERR_IO otherwise.
 */
int rp__os_ctl_connect(const char *dir_path, const char *name, int timeout_ms, int *fd_out);
/* Blocking read for the client: as rp__os_sock_recv, RP_ERR_TIMEOUT when
 * nothing came within the connection's timeout. */
int rp__os_sock_recv_wait(int fd, void *buf, size_t len, size_t *got);
/* Blocking write of all of buf for the client. */
int rp__os_sock_send_all(int fd, const void *buf, size_t len);

#endif
