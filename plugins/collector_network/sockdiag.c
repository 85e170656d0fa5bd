/*
 * sockdiag.c - NETLINK_SOCK_DIAG sockets and the inet_diag message parser.
 *
 * Everything the kernel sends is checked against its stated and actual
 * length before it is read, and copied out with memcpy, so a short, corrupt
 * or misaligned message is counted and skipped, never trusted.
 */
#define _GNU_SOURCE
#include "sockdiag.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* A dump that has not answered within this time is abandoned; the next one
 * uses a new sequence number and skips what is left of it. */
#define DUMP_TIMEOUT_MS 1000

/* EINTR retries before a dump gives up. */
#define MAX_EINTR 16

/* Where a tcp_info field ends, for the length check of INET_DIAG_INFO
 * (older kernels send a shorter struct). */
#define INFO_END(field) (offsetof(struct tcp_info, field) + sizeof(((struct tcp_info *)0)->field))

static void info_u64(const uint8_t *info, size_t len, size_t off, size_t end, uint64_t *out,
                     uint8_t *ok)
{
    if (len >= end) {
        memcpy(out, info + off, sizeof *out);
    } else {
        *out = 0;
        *ok = 0;
    }
}

static void info_u32(const uint8_t *info, size_t len, size_t off, size_t end, uint32_t *out)
{
    if (len >= end)
        memcpy(out, info + off, sizeof *out);
    else
        *out = 0;
}

int cn_nd_parse(const void *msg, size_t len, uint8_t proto, struct cn_nd_sock *out)
{
    struct nlmsghdr h;
    struct inet_diag_msg m;
    const uint8_t *p = msg;

    if (len < NLMSG_LENGTH(sizeof m))
        return RP_ERR_PARSE;
    memcpy(&h, p, sizeof h);
    if (h.nlmsg_len < NLMSG_LENGTH(sizeof m) || h.nlmsg_len > len ||
        h.nlmsg_type != SOCK_DIAG_BY_FAMILY)
        return RP_ERR_PARSE;
    memcpy(&m, p + NLMSG_HDRLEN, sizeof m);
    if (m.idiag_family != AF_INET && m.idiag_family != AF_INET6)
        return RP_ERR_PARSE;

    memset(out, 0, sizeof *out);
    out->family = m.idiag_family;
    out->proto = proto;
    out->state = m.idiag_state;
    out->uid = m.idiag_uid;
    out->inode = m.idiag_inode;
    out->cookie = (uint64_t)m.id.idiag_cookie[0] | ((uint64_t)m.id.idiag_cookie[1] << 32);
    out->sport = ntohs(m.id.idiag_sport);
    out->dport = ntohs(m.id.idiag_dport);
    /* An AF_INET socket's address is the first 4 bytes; the rest is zero. */
    size_t alen = m.idiag_family == AF_INET ? 4 : 16;
    memcpy(out->src, m.id.idiag_src, alen);
    memcpy(out->dst, m.id.idiag_dst, alen);

    /* Attributes follow the message, each 4-byte aligned. */
    size_t off = NLMSG_ALIGN(NLMSG_LENGTH(sizeof m));
    size_t end = h.nlmsg_len;
    while (off + NLA_HDRLEN <= end) {
        struct nlattr a;
        memcpy(&a, p + off, sizeof a);
        if (a.nla_len < NLA_HDRLEN || a.nla_len > end - off)
            return RP_ERR_PARSE;
        const uint8_t *data = p + off + NLA_HDRLEN;
        size_t dlen = a.nla_len - NLA_HDRLEN;
        switch (a.nla_type & NLA_TYPE_MASK) {
        case INET_DIAG_PROTOCOL:
            if (dlen >= 1)
                out->proto = data[0];
            break;
        case INET_DIAG_INFO: {
            /* Only TCP sends tcp_info; bytes need at least a 4.1 kernel's
             * struct. Segment counts are best effort. */
            uint8_t ok = 1;
            info_u64(data, dlen, offsetof(struct tcp_info, tcpi_bytes_acked),
                     INFO_END(tcpi_bytes_acked), &out->bytes_acked, &ok);
            info_u64(data, dlen, offsetof(struct tcp_info, tcpi_bytes_received),
                     INFO_END(tcpi_bytes_received), &out->bytes_received, &ok);
            info_u32(data, dlen, offsetof(struct tcp_info, tcpi_segs_out), INFO_END(tcpi_segs_out),
                     &out->segs_out);
            info_u32(data, dlen, offsetof(struct tcp_info, tcpi_segs_in), INFO_END(tcpi_segs_in),
                     &out->segs_in);
            /* A struct too short for one of the two counts makes neither
             * valid: none is handed out (sockdiag.h). */
            if (!ok)
                out->bytes_acked = out->bytes_received = 0;
            out->has_info = ok;
            break;
        }
        default:
            break;
        }
        off += NLA_ALIGN(a.nla_len);
    }
    if (out->proto != IPPROTO_TCP && out->proto != IPPROTO_UDP)
        return RP_ERR_PARSE;
    return 0;
}

int cn_nd_open_dump(int *fd)
{
    int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (s < 0)
        return errno == EACCES || errno == EPERM ? RP_ERR_PERM : RP_ERR_UNSUPPORTED;
    struct timeval tv = {.tv_sec = DUMP_TIMEOUT_MS / 1000,
                         .tv_usec = (DUMP_TIMEOUT_MS % 1000) * 1000};
    if (setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
        close(s);
        return RP_ERR_IO;
    }
    *fd = s;
    return 0;
}

int cn_nd_open_destroy(uint32_t groups, int rcvbuf, int *fd)
{
    int s = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_SOCK_DIAG);
    if (s < 0)
        return errno == EACCES || errno == EPERM ? RP_ERR_PERM : RP_ERR_UNSUPPORTED;
    /* A larger buffer rides out bursts of closes; FORCE (CAP_NET_ADMIN)
     * goes past net.core.rmem_max, plain SO_RCVBUF is the fallback. */
    if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
        (void)setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = groups;
    if (bind(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(s);
        return e == EPERM || e == EACCES ? RP_ERR_PERM : RP_ERR_UNSUPPORTED;
    }
    *fd = s;
    return 0;
}

int cn_nd_msg_next(const uint8_t *buf, size_t len, size_t *off, struct cn_nd_msg *msg)
{
    if (*off > len || len - *off < NLMSG_HDRLEN)
        return RP_ERR_NOTFOUND;
    struct nlmsghdr h;
    memcpy(&h, buf + *off, sizeof h);
    if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > len - *off) {
        *off = len;
        return RP_ERR_PARSE;
    }
    msg->data = buf + *off;
    msg->len = h.nlmsg_len;
    msg->type = h.nlmsg_type;
    msg->seq = h.nlmsg_seq;
    /* The last message of a datagram whose length is not a multiple of 4
     * lacks its padding: the step then ends at the datagram's end, not past
     * it, where len - *off would wrap around and the walk run off the
     * buffer (found by tests/fuzz/fuzz_sockdiag.c). */
    size_t step = NLMSG_ALIGN(h.nlmsg_len);
    *off = step > len - *off ? len : *off + step;
    return 0;
}

int cn_nd_dump_datagram(const uint8_t *buf, size_t len, uint32_t seq, uint8_t proto,
                        cn_nd_sock_cb cb, void *arg, uint64_t *bad, int *done)
{
    size_t off = 0;
    struct cn_nd_msg m;
    int rc;
    *done = 0;
    while ((rc = cn_nd_msg_next(buf, len, &off, &m)) == 0) {
        /* Messages of an earlier, abandoned dump are skipped. */
        if (m.seq != seq)
            continue;
        if (m.type == NLMSG_DONE || m.type == NLMSG_ERROR) {
            /* Both carry an int: the dump's result in NLMSG_DONE (negative
             * when the kernel could not dump, e.g. -ENOENT without the
             * protocol's diag module), the request's in NLMSG_ERROR. */
            int err = 0;
            if (m.len >= NLMSG_LENGTH(sizeof err))
                memcpy(&err, m.data + NLMSG_HDRLEN, sizeof err);
            else if (m.type == NLMSG_ERROR)
                return RP_ERR_PARSE;
            *done = 1;
            if (err >= 0)
                return 0;
            return err == -ENOENT || err == -EINVAL || err == -EPROTONOSUPPORT ? RP_ERR_UNSUPPORTED
                                                                               : RP_ERR_IO;
        }
        struct cn_nd_sock s;
        if (cn_nd_parse(m.data, m.len, proto, &s) == 0)
            cb(arg, &s);
        else
            (*bad)++;
    }
    if (rc == RP_ERR_PARSE)
        (*bad)++;
    return 0;
}

int cn_nd_dump(int fd, uint8_t family, uint8_t proto, uint32_t states, uint8_t *buf, size_t buflen,
               uint32_t seq, cn_nd_sock_cb cb, void *arg, uint64_t *bad)
{
    struct {
        struct nlmsghdr nlh;
        struct inet_diag_req_v2 req;
    } rq;
    memset(&rq, 0, sizeof rq);
    rq.nlh.nlmsg_len = sizeof rq;
    rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    rq.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    rq.nlh.nlmsg_seq = seq;
    rq.req.sdiag_family = family;
    rq.req.sdiag_protocol = proto;
    rq.req.idiag_states = states;
    /* No extensions: a dump needs only the base message, which keeps it
     * small; tcp_info comes with the destroy messages. */
    rq.req.idiag_ext = 0;

    struct sockaddr_nl kernel;
    memset(&kernel, 0, sizeof kernel);
    kernel.nl_family = AF_NETLINK;
    int tries = 0;
    while (sendto(fd, &rq, sizeof rq, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        if (errno != EINTR || ++tries > MAX_EINTR)
            return RP_ERR_IO;
    }

    for (;;) {
        struct sockaddr_nl from;
        socklen_t fromlen = sizeof from;
        ssize_t n = recvfrom(fd, buf, buflen, 0, (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EINTR && ++tries <= MAX_EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return RP_ERR_TIMEOUT;
            if (errno == ENOBUFS) {
                /* Only the multicast socket should see this; a dump that
                 * overran is incomplete, which the caller treats as an
                 * error for this round. */
                return RP_ERR_FULL;
            }
            return RP_ERR_IO;
        }
        if (from.nl_pid != 0)
            continue; /* not from the kernel */
        int done = 0;
        int rc = cn_nd_dump_datagram(buf, (size_t)n, seq, proto, cb, arg, bad, &done);
        if (rc != 0 || done)
            return rc;
    }
}
