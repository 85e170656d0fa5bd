/*
 * tests/fuzz/fuzz_sockdiag.c - libFuzzer target for collector_network's
 * sock_diag parser (plugins/collector_network/sockdiag.c, compiled into this
 * binary: plugins never link the host). Whatever a NETLINK_SOCK_DIAG
 * datagram holds, walking it and parsing its messages must never read past
 * it, loop forever or hand out a socket record that breaks the parser's
 * promises.
 *
 * Input layout:
 *   byte 0    control bits
 *               0x01  the protocol to assume without INET_DIAG_PROTOCOL
 *                     (as a dump of that protocol does): UDP, else TCP
 *               0x02  dump with a sequence number that matches no message
 *                     (the tail of an abandoned dump), else the first
 *                     message's own
 *   then      one datagram as recvfrom() returns it: netlink messages one
 *             after the other (corpus/sockdiag/ holds real ones captured with
 *             tools/fuzz-seeds/sockdiag.py).
 *
 * The datagram goes through the three ways the plugin reads one: cn_nd_parse()
 * on it as a single message, cn_nd_dump_datagram() (the dump reader) and an
 * cn_nd_msg_next() walk with cn_nd_parse() on each message (the destroy reader).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/collector_network/sockdiag.c
 */
#define _GNU_SOURCE
#include "sockdiag.h"

#include <rampart/plugin.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sockdiag: check failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The smallest netlink message: its header (16 bytes). */
#define NL_HDR 16u

/* What cn_nd_parse promises about a record it accepted. */
static void check_sock(const struct cn_nd_sock *s)
{
    static const uint8_t zero[16];
    CHECK(s->family == AF_INET || s->family == AF_INET6);
    CHECK(s->proto == IPPROTO_TCP || s->proto == IPPROTO_UDP);
    CHECK(s->has_info == 0 || s->has_info == 1);
    if (!s->has_info)
        CHECK(s->bytes_acked == 0 && s->bytes_received == 0);
    /* An AF_INET socket's address is the first 4 bytes; the rest is zero. */
    if (s->family == AF_INET) {
        CHECK(memcmp(s->src + 4, zero, 12) == 0);
        CHECK(memcmp(s->dst + 4, zero, 12) == 0);
    }
}

struct seen {
    size_t n;
};

static void on_sock(void *arg, const struct cn_nd_sock *s)
{
    struct seen *seen = arg;
    check_sock(s);
    seen->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t ctl = data[0];
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    uint8_t proto = (ctl & 0x01) ? IPPROTO_UDP : IPPROTO_TCP;

    /* The whole datagram as one message. */
    struct cn_nd_sock s;
    if (cn_nd_parse(buf, len, proto, &s) == 0)
        check_sock(&s);

    /* The dump reader. */
    uint32_t seq = 0;
    if (len >= NL_HDR)
        memcpy(&seq, buf + 8, sizeof seq); /* nlmsg_seq of the first message */
    if (ctl & 0x02)
        seq ^= 0x5a5a5a5au;
    struct seen seen = {0};
    uint64_t bad = 0;
    int done = -1;
    int rc = cn_nd_dump_datagram(buf, len, seq, proto, on_sock, &seen, &bad, &done);
    CHECK(rc == 0 || rc == RP_ERR_PARSE || rc == RP_ERR_UNSUPPORTED || rc == RP_ERR_IO);
    CHECK(done == 0 || done == 1);
    /* Each message takes at least a header, so neither count can pass the
     * number of headers the datagram holds. */
    CHECK(seen.n <= len / NL_HDR);
    CHECK(bad <= len / NL_HDR + 1);

    /* The destroy reader: every message, whatever its sequence. */
    size_t off = 0, msgs = 0, prev = 0;
    struct cn_nd_msg m;
    while ((rc = cn_nd_msg_next(buf, len, &off, &m)) == 0) {
        CHECK(m.data >= buf && m.len >= NL_HDR);
        CHECK((size_t)(m.data - buf) + m.len <= len);
        CHECK(off > prev || msgs == 0);
        CHECK(off <= len);
        prev = off;
        CHECK(++msgs <= len / NL_HDR);
        struct cn_nd_sock d;
        if (cn_nd_parse(m.data, m.len, 0, &d) == 0)
            check_sock(&d);
    }
    CHECK(rc == RP_ERR_NOTFOUND || rc == RP_ERR_PARSE);
    CHECK(off <= len);
    return 0;
}
