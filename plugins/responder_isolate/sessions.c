/*
 * sessions.c - resets the TCP sessions a policy does not allow (nft.h,
 * ri_reset_sessions) through sock_diag: a dump of this network namespace's
 * TCP sockets of both families, then SOCK_DESTROY for each one whose peer
 * the table would not let through. The kernel aborts such a socket: its
 * owner sees ECONNABORTED at once and the peer gets a reset, instead of the
 * session lingering until its next packet meets the table's reject rule.
 * Needs CAP_NET_ADMIN and a kernel with CONFIG_INET_DIAG_DESTROY.
 */
#define _GNU_SOURCE
#include "allow.h"
#include "nft.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Sockets collected per dump and dumps per call: a bound on the work one
 * call does; a socket left past it is reset by the table's reject rule. */
#define VICTIMS_MAX 4096
#define PASSES_MAX  8
#define RECV_BUF    32768
#define RECV_WAIT_S 2

/* The states of a session that can still carry data (not LISTEN, CLOSE or
 * TIME_WAIT). */
#define LIVE_STATES                                                                                \
    ((1u << TCP_ESTABLISHED) | (1u << TCP_SYN_SENT) | (1u << TCP_SYN_RECV) |                       \
     (1u << TCP_FIN_WAIT1) | (1u << TCP_FIN_WAIT2) | (1u << TCP_CLOSE_WAIT) |                      \
     (1u << TCP_LAST_ACK) | (1u << TCP_CLOSING))

struct victim {
    uint8_t family;
    struct inet_diag_sockid id;
};

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* 1 when the table lets a TCP session with this peer through. */
static int session_allowed(const struct ri_policy *p, const struct inet_diag_msg *m)
{
    int family = m->idiag_family;
    const uint8_t *dst = (const uint8_t *)m->id.idiag_dst;
    const uint8_t *src = (const uint8_t *)m->id.idiag_src;
    uint16_t dport = ntohs(m->id.idiag_dport);
    if (family == AF_INET6 && memcmp(dst, v4_mapped, sizeof v4_mapped) == 0) {
        family = AF_INET; /* an IPv6 socket talking IPv4: the table sees IPv4 */
        dst += 12;
        src += 12;
    }
    size_t len = family == AF_INET ? 4 : 16;
    /* Loopback and the machine's own addresses go through "lo". */
    if (memcmp(src, dst, len) == 0)
        return 1;
    if (family == AF_INET && dst[0] == 127)
        return 1;
    if (family == AF_INET6 && memcmp(dst, &in6addr_loopback, 16) == 0)
        return 1;
    for (uint32_t i = 0; i < p->n_allow && i < RI_ALLOW_MAX; i++) {
        const struct ri_allow *a = &p->allow[i];
        if (!ri_allow_covers(a, family, dst))
            continue;
        if (a->role == RI_ROLE_ADMIN)
            return 1;
        if (a->proto != 0 && a->proto != IPPROTO_TCP)
            continue;
        uint16_t port = a->port == 0 && a->role == RI_ROLE_DNS ? 53 : a->port;
        if (port == 0 || port == dport)
            return 1;
    }
    return 0;
}

static int nl_send(int fd, uint16_t type, uint16_t flags, uint8_t family,
                   const struct inet_diag_sockid *id)
{
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 req;
    } msg;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    memset(&msg, 0, sizeof msg);
    msg.nh.nlmsg_len = sizeof msg;
    msg.nh.nlmsg_type = type;
    msg.nh.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    msg.req.sdiag_family = family;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = id ? ~0u : LIVE_STATES;
    if (id)
        msg.req.id = *id;
    ssize_t n = sendto(fd, &msg, sizeof msg, 0, (struct sockaddr *)&kernel, sizeof kernel);
    return n == (ssize_t)sizeof msg ? 0 : -errno;
}

/* Dumps family's live TCP sockets; those p does not allow go to v. */
static int collect(int fd, uint8_t family, const struct ri_policy *p, struct victim *v,
                   uint32_t *nv, char *buf, char *err, size_t errcap)
{
    int rc = nl_send(fd, SOCK_DIAG_BY_FAMILY, NLM_F_DUMP, family, NULL);
    if (rc != 0) {
        ri_errf(err, errcap, "sock_diag: dump request: %s", strerror(-rc));
        return RP_ERR_IO;
    }
    for (;;) {
        ssize_t n = recv(fd, buf, RECV_BUF, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ri_errf(err, errcap, "sock_diag: dump: %s", strerror(errno));
            return errno == EAGAIN || errno == EWOULDBLOCK ? RP_ERR_TIMEOUT : RP_ERR_IO;
        }
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_DONE)
                return 0;
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                int code = h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) ? -e->error : EIO;
                ri_errf(err, errcap, "sock_diag: dump: %s", strerror(code));
                return code == EPERM ? RP_ERR_PERM : RP_ERR_IO;
            }
            if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
                h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
                continue;
            const struct inet_diag_msg *m = NLMSG_DATA(h);
            if ((m->idiag_family != AF_INET && m->idiag_family != AF_INET6) ||
                session_allowed(p, m) || *nv >= VICTIMS_MAX)
                continue;
            v[*nv].family = m->idiag_family;
            v[*nv].id = m->id;
            (*nv)++;
        }
    }
}

/* Asks the kernel to destroy one socket: 0, or the kernel's errno. */
static int destroy(int fd, const struct victim *v, char *buf)
{
    int rc = nl_send(fd, SOCK_DESTROY, NLM_F_ACK, v->family, &v->id);
    if (rc != 0)
        return -rc;
    for (;;) {
        ssize_t n = recv(fd, buf, RECV_BUF, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
             h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type == NLMSG_ERROR) {
                const struct nlmsgerr *e = NLMSG_DATA(h);
                return h->nlmsg_len >= NLMSG_LENGTH(sizeof *e) ? -e->error : EIO;
            }
        }
    }
}

int ri_reset_sessions(const struct ri_policy *p, uint32_t *reset, char *err, size_t errcap)
{
    uint32_t total = 0;
    if (reset)
        *reset = 0;
    if (!p || p->n_allow > RI_ALLOW_MAX) {
        ri_errf(err, errcap, "sock_diag: no policy or too many peers");
        return RP_ERR_INVAL;
    }
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        int e = errno;
        ri_errf(err, errcap, "sock_diag: socket: %s", strerror(e));
        return e == EPROTONOSUPPORT || e == EAFNOSUPPORT ? RP_ERR_UNSUPPORTED : RP_ERR_IO;
    }
    /* Every wait for the kernel's answer is bounded. */
    struct timeval tv = {.tv_sec = RECV_WAIT_S, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct victim *v = malloc(sizeof *v * VICTIMS_MAX);
    char *buf = malloc(RECV_BUF);
    int rc = v && buf ? 0 : RP_ERR_NOMEM;
    if (rc != 0)
        ri_errf(err, errcap, "sock_diag: no memory");
    /* Destroyed sockets leave the live states, so each pass finds only the
     * ones not yet reset; a pass that finds none ends the work. */
    for (int pass = 0; pass < PASSES_MAX && rc == 0; pass++) {
        uint32_t nv = 0;
        rc = collect(fd, AF_INET, p, v, &nv, buf, err, errcap);
        if (rc == 0)
            rc = collect(fd, AF_INET6, p, v, &nv, buf, err, errcap);
        if (rc != 0 || nv == 0)
            break;
        uint32_t done = 0;
        for (uint32_t i = 0; i < nv && rc == 0; i++) {
            int e = destroy(fd, &v[i], buf);
            if (e == 0) {
                done++;
            } else if (e == EOPNOTSUPP) {
                ri_errf(err, errcap,
                        "sock_diag: the kernel cannot destroy sockets (no "
                        "CONFIG_INET_DIAG_DESTROY); the table resets each session at its next "
                        "packet");
                rc = RP_ERR_UNSUPPORTED;
            } else if (e == EPERM || e == EACCES) {
                ri_errf(err, errcap, "sock_diag: destroy: %s (needs CAP_NET_ADMIN)", strerror(e));
                rc = RP_ERR_PERM;
            } else if (e != ENOENT) {
                /* ENOENT: the socket closed meanwhile, which is the aim. */
                ri_errf(err, errcap, "sock_diag: destroy: %s", strerror(e));
                rc = e == EAGAIN || e == EWOULDBLOCK ? RP_ERR_TIMEOUT : RP_ERR_IO;
            }
        }
        total += done;
        if (done == 0)
            break;
    }
    free(v);
    free(buf);
    close(fd);
    if (reset)
        *reset = total;
    return rc;
}
