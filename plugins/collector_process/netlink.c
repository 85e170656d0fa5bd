/*
 * netlink.c - the proc connector reader of collector_process (netlink.h):
 * subscribing, receiving and decoding. Moved out of collector_process.c
 * unchanged apart from its interface, so that the collector's logic and the
 * kernel's wire format are read, and fuzzed, apart.
 */
#define _GNU_SOURCE
#include "netlink.h"

#include <errno.h>
#include <limits.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define ACK_WAIT_MS 1000

struct cp_nl_bufs {
    struct mmsghdr msgs[CP_NL_BATCH];
    struct iovec iov[CP_NL_BATCH];
    struct sockaddr_nl addr[CP_NL_BATCH];
    _Alignas(8) char data[CP_NL_BATCH][CP_NL_MSG_BUF];
};

struct cp_nl_bufs *cp_nl_bufs_new(void)
{
    return calloc(1, sizeof(struct cp_nl_bufs));
}

void cp_nl_bufs_free(struct cp_nl_bufs *b)
{
    free(b);
}

static int64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* struct proc_input of Linux 6.6 (the Debian 12 headers predate it): a
 * subscription with an event filter. */
struct cp_proc_input {
    uint32_t mcast_op;
    uint32_t event_type;
};

int cp_nl_send(int fd, uint32_t seq, uint32_t op, int with_filter, uint32_t events)
{
    struct cp_proc_input in = {op, events};
    uint32_t len = with_filter ? (uint32_t)sizeof in : (uint32_t)sizeof op;
    _Alignas(struct nlmsghdr) char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof in)];
    memset(buf, 0, sizeof buf);
    struct nlmsghdr *nh = (struct nlmsghdr *)buf;
    nh->nlmsg_len = NLMSG_LENGTH(sizeof(struct cn_msg) + len);
    nh->nlmsg_type = NLMSG_DONE;
    nh->nlmsg_seq = seq;
    struct cn_msg *cn = NLMSG_DATA(nh);
    cn->id.idx = CN_IDX_PROC;
    cn->id.val = CN_VAL_PROC;
    cn->seq = seq;
    cn->ack = seq; /* the kernel acknowledges with ack + 1 (it rewrites seq) */
    cn->len = (uint16_t)len;
    memcpy(cn->data, &in, len);
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    return sendto(fd, buf, nh->nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) ==
                   (ssize_t)nh->nlmsg_len
               ? 0
               : -1;
}

/* NLMSG_OK and NLMSG_NEXT with unsigned lengths. */
static int nlmsg_ok(const struct nlmsghdr *nh, size_t rem)
{
    return rem >= sizeof *nh && nh->nlmsg_len >= sizeof *nh && nh->nlmsg_len <= rem;
}

static const struct nlmsghdr *nlmsg_next(const struct nlmsghdr *nh, size_t *rem)
{
    size_t step = NLMSG_ALIGN(nh->nlmsg_len);
    if (step >= *rem) {
        *rem = 0; /* the end: nothing past the buffer is formed */
        return nh;
    }
    *rem -= step;
    return (const struct nlmsghdr *)((const char *)nh + step);
}

int cp_nl_decode(const char *buf, size_t len, const struct sockaddr_nl *from, struct cp_kev *out,
                 int max, uint64_t *malformed)
{
    if (from->nl_pid != 0) {
        (*malformed)++;
        return 0;
    }
    int n = 0;
    const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
    size_t rem = len;
    for (; nlmsg_ok(nh, rem); nh = nlmsg_next(nh, &rem)) {
        if (nh->nlmsg_type == NLMSG_NOOP || nh->nlmsg_type == NLMSG_ERROR)
            continue;
        size_t plen = NLMSG_PAYLOAD(nh, 0);
        const struct cn_msg *cn = NLMSG_DATA(nh);
        if (plen < sizeof *cn || cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC ||
            cn->len > plen - sizeof *cn) {
            (*malformed)++;
            continue;
        }
        /* The event sits 4 bytes off its 8-byte alignment after the
         * headers (a kernel layout): copied out before it is read. */
        struct proc_event pev;
        memset(&pev, 0, sizeof pev);
        memcpy(&pev, cn->data, cn->len < sizeof pev ? cn->len : sizeof pev);
        const struct proc_event *pe = &pev;
        size_t head = offsetof(struct proc_event, event_data);
        if (cn->len < head) {
            (*malformed)++;
            continue;
        }
        if (n >= max) {
            (*malformed)++;
            break;
        }
        struct cp_kev *k = &out[n];
        memset(k, 0, sizeof *k);
        k->what = pe->what;
        k->ts = (int64_t)pe->timestamp_ns;
        size_t need = head;
        switch (pe->what) {
        case PROC_EVENT_FORK:
            need += sizeof pe->event_data.fork;
            if (cn->len >= need) {
                k->ppid = pe->event_data.fork.parent_pid;
                k->ptgid = pe->event_data.fork.parent_tgid;
                k->pid = pe->event_data.fork.child_pid;
                k->tgid = pe->event_data.fork.child_tgid;
            }
            break;
        case PROC_EVENT_EXEC:
            need += sizeof pe->event_data.exec;
            if (cn->len >= need) {
                k->pid = pe->event_data.exec.process_pid;
                k->tgid = pe->event_data.exec.process_tgid;
            }
            break;
        case PROC_EVENT_EXIT:
            need += offsetof(struct exit_proc_event, exit_signal);
            if (cn->len >= need) {
                k->pid = pe->event_data.exit.process_pid;
                k->tgid = pe->event_data.exit.process_tgid;
                k->code = pe->event_data.exit.exit_code;
            }
            break;
        case PROC_EVENT_UID:
        case PROC_EVENT_GID:
            need += sizeof pe->event_data.id;
            if (cn->len >= need) {
                k->pid = pe->event_data.id.process_pid;
                k->tgid = pe->event_data.id.process_tgid;
                k->id_real = pe->event_data.id.r.ruid;
                k->id_eff = pe->event_data.id.e.euid;
            }
            break;
        default:
            k->what = PROC_EVENT_NONE; /* not used */
            break;
        }
        if (cn->len < need || (k->what != PROC_EVENT_NONE && (k->pid <= 0 || k->tgid <= 0))) {
            (*malformed)++;
            continue;
        }
        n++;
    }
    return n;
}

int cp_nl_open(uint64_t rcvbuf, uint32_t seq, int *out, char *why, size_t whylen)
{
    int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
    if (fd < 0) {
        snprintf(why, whylen, "socket(NETLINK_CONNECTOR): %s", strerror(errno));
        return -1;
    }
    int sz = rcvbuf > INT_MAX ? INT_MAX : (int)rcvbuf;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0) {
        /* Without CAP_NET_ADMIN: as much as net.core.rmem_max allows. */
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(why, whylen, "bind to the proc connector: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (cp_nl_send(fd, seq, PROC_CN_MCAST_LISTEN, 0, 0) != 0) {
        snprintf(why, whylen, "subscribe to the proc connector: %s", strerror(errno));
        close(fd);
        return -1;
    }
    int64_t deadline = mono_ns() + (int64_t)ACK_WAIT_MS * 1000000;
    int acked = 0, err = 0;
    while (!acked) {
        int64_t left = (deadline - mono_ns()) / 1000000;
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        _Alignas(8) char buf[CP_NL_MSG_BUF];
        struct sockaddr_nl from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fl);
        if (n <= 0 || from.nl_pid != 0)
            continue;
        const struct nlmsghdr *nh = (const struct nlmsghdr *)buf;
        if (!nlmsg_ok(nh, (size_t)n) || NLMSG_PAYLOAD(nh, 0) < sizeof(struct cn_msg))
            continue;
        const struct cn_msg *cn = NLMSG_DATA(nh);
        if (cn->len > (size_t)n - ((const char *)cn->data - buf))
            continue;
        struct proc_event pev;
        memset(&pev, 0, sizeof pev);
        memcpy(&pev, cn->data, cn->len < sizeof pev ? cn->len : sizeof pev);
        const struct proc_event *pe = &pev;
        if (cn->id.idx == CN_IDX_PROC && cn->ack == seq + 1 &&
            cn->len >= offsetof(struct proc_event, event_data) + sizeof pe->event_data.ack &&
            pe->what == PROC_EVENT_NONE) {
            acked = 1;
            err = (int)pe->event_data.ack.err;
        }
    }
    if (!acked || err != 0) {
        if (!acked)
            snprintf(why, whylen,
                     "the proc connector did not acknowledge the subscription within %d ms "
                     "(needs CAP_NET_ADMIN in the initial user and pid namespaces)",
                     ACK_WAIT_MS);
        else
            snprintf(why, whylen, "the proc connector refused the subscription: %s", strerror(err));
        close(fd);
        return -1;
    }
    *out = fd;
    return 0;
}

int cp_nl_filters_events(void)
{
    struct utsname u;
    unsigned major = 0, minor = 0;
    if (uname(&u) != 0 || sscanf(u.release, "%u.%u", &major, &minor) != 2)
        return 0;
    return major > 6 || (major == 6 && minor >= 6);
}

void cp_nl_discard(int fd)
{
    char junk[CP_NL_MSG_BUF];
    for (int i = 0; i < 100000 && recv(fd, junk, sizeof junk, MSG_DONTWAIT) >= 0; i++)
        ;
}

int cp_nl_recv(struct cp_nl_bufs *b, int fd, struct cp_kev *out, int max, int *nev,
               uint64_t *malformed)
{
    *nev = 0;
    for (int i = 0; i < CP_NL_BATCH; i++) {
        struct msghdr *m = &b->msgs[i].msg_hdr;
        b->iov[i].iov_base = b->data[i];
        b->iov[i].iov_len = CP_NL_MSG_BUF;
        m->msg_name = &b->addr[i];
        m->msg_namelen = sizeof b->addr[i];
        m->msg_iov = &b->iov[i];
        m->msg_iovlen = 1;
        m->msg_control = NULL;
        m->msg_controllen = 0;
        m->msg_flags = 0;
    }
    int n = recvmmsg(fd, b->msgs, CP_NL_BATCH, MSG_DONTWAIT, NULL);
    if (n < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
            (*malformed)++;
            continue;
        }
        *nev += cp_nl_decode(b->data[i], b->msgs[i].msg_len, &b->addr[i], out + *nev, max - *nev,
                             malformed);
    }
    return n;
}
