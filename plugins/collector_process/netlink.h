/*
 * netlink.h - the proc connector reader of collector_process: a
 * NETLINK_CONNECTOR socket subscribed to process events (with the
 * per-socket event filter of Linux 6.6 where asked), batches of datagrams
 * received from it, and each datagram decoded into plain kernel events.
 * It keeps no state and makes no host calls: the order the events are
 * handled in, the process table and the /proc reads stay in
 * collector_process.c. Private to the plugin.
 */
#ifndef RP_COLLECTOR_PROCESS_NETLINK_H
#define RP_COLLECTOR_PROCESS_NETLINK_H

#include <linux/netlink.h>
#include <stddef.h>
#include <stdint.h>

/* Datagrams one cp_nl_recv takes off a socket at most. */
#define CP_NL_BATCH 32
/* Bytes of one datagram; a longer one is cut by the kernel and counted as
 * malformed. */
#define CP_NL_MSG_BUF 512
/* PROC_EVENT_ALL of Linux 6.6 (the Debian 12 headers predate it). */
#define CP_PROC_EVENT_ALL 0xe00003c7u

/* A kernel event decoded from one netlink message. The decoder fills what,
 * ts and the ids; the rest is the collector's bookkeeping. */
struct cp_kev {
    uint32_t what;                  /* PROC_EVENT_*; PROC_EVENT_NONE for kinds not used */
    uint8_t later_exec, later_exit; /* execs: another exec / the exit of the pid follows */
    int32_t pid, tgid, ppid, ptgid;
    int64_t ts;
    uint32_t code, id_real, id_eff;
    uint32_t seq;   /* read order, for a stable sort */
    int16_t cap;    /* index of the read-ahead capture, or -1 */
    uint8_t from_b; /* read from the fork/exit socket */
};

/* Receive buffers for CP_NL_BATCH datagrams (about 20 KiB). Owned by the
 * caller; freeing NULL is a no-op. */
struct cp_nl_bufs;
struct cp_nl_bufs *cp_nl_bufs_new(void);
void cp_nl_bufs_free(struct cp_nl_bufs *b);

/* Opens a proc connector socket (non-blocking, close-on-exec) with a receive
 * buffer of rcvbuf bytes (as much as net.core.rmem_max allows without
 * CAP_NET_ADMIN), subscribes it with sequence number seq and waits, at most 1 s,
 * for the kernel's acknowledgement, which only comes when
 * the subscription took. Returns 0 with the socket in *out, or -1 with why
 * (whylen bytes) saying what failed. */
int cp_nl_open(uint64_t rcvbuf, uint32_t seq, int *out, char *why, size_t whylen);

/* Sends a subscription request: the operation alone (every kernel), or with
 * an event filter (with_filter, Linux >= 6.6). Returns 0 or -1 (errno). */
int cp_nl_send(int fd, uint32_t seq, uint32_t op, int with_filter, uint32_t events);

/* Whether the running kernel filters proc connector events per socket
 * (Linux 6.6 and later). */
int cp_nl_filters_events(void);

/* Drops what is queued on fd (bounded). */
void cp_nl_discard(int fd);

/* Decodes one datagram of len bytes from from into kernel events (at most
 * max); returns how many. Adds to *malformed one for each message that is
 * not a whole, well-formed proc connector event, and for the datagram when
 * it is not from the kernel (from->nl_pid != 0: any local process may send
 * to the socket's port), which is then ignored whole. Every length is
 * checked before it is used. Pure: tests/fuzz can feed it any bytes. */
int cp_nl_decode(const char *buf, size_t len, const struct sockaddr_nl *from, struct cp_kev *out,
                 int max, uint64_t *malformed);

/* Receives up to CP_NL_BATCH datagrams from fd without waiting and decodes
 * them into out (at most max events); *nev is how many. Returns the number
 * of datagrams received, or -1 with errno from recvmmsg (EAGAIN: none
 * queued; ENOBUFS: the kernel dropped some). Cut datagrams and malformed
 * messages are added to *malformed. */
int cp_nl_recv(struct cp_nl_bufs *b, int fd, struct cp_kev *out, int max, int *nev,
               uint64_t *malformed);

#endif
