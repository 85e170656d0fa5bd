/*
 * sockdiag.h - the NETLINK_SOCK_DIAG side of collector_network: the dump
 * socket polled on a timer, the socket joined to the destroy multicast groups,
 * and the parser that turns one inet_diag message into a plain record.
 * Private to the plugin.
 */
#ifndef RP_COLLECTOR_NETWORK_SOCKDIAG_H
#define RP_COLLECTOR_NETWORK_SOCKDIAG_H

#include <stddef.h>
#include <stdint.h>

/* One socket as the kernel described it. Addresses are in network byte order
 * as in the socket's own family (an IPv4-mapped peer of an AF_INET6 socket is
 * kept mapped here); ports are in host byte order. */
struct cn_nd_sock {
    uint64_t cookie; /* the kernel's socket cookie: unique per boot, never reused */
    uint64_t inode;  /* 0 in destroy messages and for orphaned sockets */
    uint32_t uid;
    uint8_t family;   /* AF_INET or AF_INET6 */
    uint8_t proto;    /* IPPROTO_TCP or IPPROTO_UDP */
    uint8_t state;    /* TCP_* state numbers (UDP uses ESTABLISHED and CLOSE) */
    uint8_t has_info; /* the tcp_info figures below are valid (else the bytes are 0) */
    uint8_t src[16], dst[16];
    uint16_t sport, dport;
    uint64_t bytes_acked, bytes_received;
    uint32_t segs_out, segs_in;
};

/* Parses one SOCK_DIAG_BY_FAMILY message of len bytes (header included).
 * proto is the protocol to assume when the message has no
 * INET_DIAG_PROTOCOL attribute (dumps are per protocol). Returns 0 or
 * RP_ERR_PARSE for anything malformed; never reads past len. */
int cn_nd_parse(const void *msg, size_t len, uint8_t proto, struct cn_nd_sock *out);

/* A socket for dumps, blocking with a receive timeout so a dump can never
 * hang the loop. Returns 0 or a negative RP_ERR_*; *fd is set on success. */
int cn_nd_open_dump(int *fd);

/* A non-blocking socket joined to the destroy groups in groups (bit n-1 for
 * SKNLGRP n), with a receive buffer of rcvbuf bytes if the kernel allows it.
 * RP_ERR_PERM without CAP_NET_ADMIN. */
int cn_nd_open_destroy(uint32_t groups, int rcvbuf, int *fd);

typedef void (*cn_nd_sock_cb)(void *arg, const struct cn_nd_sock *s);

/* One netlink message inside a datagram: data points at its header, len is
 * its stated length (header included), already checked to fit. */
struct cn_nd_msg {
    const uint8_t *data;
    uint32_t len;
    uint16_t type;
    uint32_t seq;
};

/* Steps through the netlink messages of one datagram of len bytes, the way
 * NLMSG_OK/NLMSG_NEXT do but with every length checked: *off is 0 for the
 * first message and is moved past each one returned. Returns 0 with *msg set,
 * RP_ERR_NOTFOUND when no whole header is left, or RP_ERR_PARSE when a
 * header's length does not fit in what is left (the messages after it cannot
 * be found then, so *off is moved to the end). */
int cn_nd_msg_next(const uint8_t *buf, size_t len, size_t *off, struct cn_nd_msg *msg);

/* Handles one datagram of a dump's answer: messages of sequence seq are
 * parsed and passed to cb (*bad counts those that do not parse, and a
 * header that does not fit); others belong to an abandoned dump and are
 * skipped. Returns 0 with *done = 1 at the dump's end (NLMSG_DONE or an
 * acknowledgement), 0 with *done = 0 when more datagrams follow, or the
 * negative RP_ERR_* that a kernel error maps to (as for cn_nd_dump). */
int cn_nd_dump_datagram(const uint8_t *buf, size_t len, uint32_t seq, uint8_t proto,
                        cn_nd_sock_cb cb, void *arg, uint64_t *bad, int *done);

/* Dumps the sockets of one family and protocol whose state bit is in states,
 * calling cb for each. buf is the receive buffer (at least 32 KiB). seq must
 * differ from the previous dump's, so that the tail of an abandoned dump is
 * skipped. *bad counts malformed messages. Returns 0 or a negative RP_ERR_*
 * (RP_ERR_UNSUPPORTED when the kernel lacks the protocol's diag module,
 * RP_ERR_TIMEOUT when the kernel stopped answering). */
int cn_nd_dump(int fd, uint8_t family, uint8_t proto, uint32_t states, uint8_t *buf, size_t buflen,
               uint32_t seq, cn_nd_sock_cb cb, void *arg, uint64_t *bad);

#endif
