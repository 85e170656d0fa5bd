/*
 * allow.c - the allowed peers of the isolation table (nft.h): parsing an
 * address or prefix from config, the checks every peer passes before it is
 * rendered into the table, and the policy's bounded, duplicate-free list.
 */
#define _GNU_SOURCE
#include "allow.h"

#include <rampart/plugin.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

void ri_errf(char *err, size_t errcap, const char *fmt, ...)
{
    va_list ap;
    if (!err || errcap == 0)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(err, errcap, fmt, ap);
    va_end(ap);
    if (n < 0)
        err[0] = '\0';
}

static unsigned addr_bits(int family)
{
    return family == AF_INET ? 32u : family == AF_INET6 ? 128u : 0u;
}

/* 1 when a bit of addr past prefix bits is set. */
static int host_bits_set(const uint8_t *addr, unsigned bits, unsigned prefix)
{
    for (unsigned i = prefix; i < bits; i++) {
        if (addr[i / 8] & (0x80u >> (i % 8)))
            return 1;
    }
    return 0;
}

int ri_allow_check(const struct ri_allow *a, char *err, size_t errcap)
{
    if (!a) {
        ri_errf(err, errcap, "allowed peer: none given");
        return RP_ERR_INVAL;
    }
    unsigned bits = addr_bits(a->family);
    if (bits == 0) {
        ri_errf(err, errcap, "allowed peer: family %d is neither AF_INET nor AF_INET6", a->family);
        return RP_ERR_INVAL;
    }
    if (a->prefix_bits == 0 || a->prefix_bits > bits) {
        ri_errf(err, errcap, "allowed peer: prefix /%u, expected 1 to %u", a->prefix_bits, bits);
        return RP_ERR_INVAL;
    }
    if (host_bits_set(a->addr, bits, a->prefix_bits)) {
        ri_errf(err, errcap, "allowed peer: address has bits set past its prefix /%u",
                a->prefix_bits);
        return RP_ERR_INVAL;
    }
    if (a->proto != 0 && a->proto != IPPROTO_TCP && a->proto != IPPROTO_UDP) {
        ri_errf(err, errcap, "allowed peer: protocol %u, expected 0 (both), TCP or UDP", a->proto);
        return RP_ERR_INVAL;
    }
    if (a->role < RI_ROLE_BACKEND || a->role > RI_ROLE_EXTRA) {
        ri_errf(err, errcap, "allowed peer: role %d is not an enum ri_role", a->role);
        return RP_ERR_INVAL;
    }
    return 0;
}

int ri_allow_covers(const struct ri_allow *a, int family, const uint8_t *addr)
{
    unsigned bits = addr_bits(family);
    if (!a || !addr || family != a->family || bits == 0 || a->prefix_bits > bits)
        return 0;
    unsigned full = a->prefix_bits / 8u, rest = a->prefix_bits % 8u;
    if (memcmp(a->addr, addr, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xffu << (8u - rest));
    return (a->addr[full] & mask) == (addr[full] & mask);
}

/* Two peers are the same when every field the table and the event show is. */
static int same_peer(const struct ri_allow *x, const struct ri_allow *y)
{
    size_t len = x->family == AF_INET ? 4 : 16;
    return x->family == y->family && memcmp(x->addr, y->addr, len) == 0 &&
           x->prefix_bits == y->prefix_bits && x->proto == y->proto && x->port == y->port &&
           x->role == y->role;
}

int ri_policy_add(struct ri_policy *p, const struct ri_allow *a)
{
    if (!p || p->n_allow > RI_ALLOW_MAX)
        return RP_ERR_INVAL;
    int rc = ri_allow_check(a, NULL, 0);
    if (rc != 0)
        return rc;
    /* The unused bytes of an IPv4 address are cleared, so that the same
     * peer always compares (and is rendered) the same. */
    struct ri_allow copy = *a;
    if (copy.family == AF_INET)
        memset(copy.addr + 4, 0, sizeof copy.addr - 4);
    for (uint32_t i = 0; i < p->n_allow; i++) {
        if (same_peer(&p->allow[i], &copy))
            return 0;
    }
    if (p->n_allow == RI_ALLOW_MAX)
        return RP_ERR_FULL;
    p->allow[p->n_allow++] = copy;
    return 0;
}

/* Reads the decimal prefix length after '/': 1 to 3 digits, no sign, no
 * space, no leading zero. -1 when it is anything else. */
static int parse_prefix(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int ri_allow_parse(const char *text, int role, struct ri_allow *a, char *err, size_t errcap)
{
    char buf[RI_ALLOW_TEXT_MAX + 1];
    if (!text || !a) {
        ri_errf(err, errcap, "allowed peer: no text");
        return RP_ERR_INVAL;
    }
    size_t len = strnlen(text, sizeof buf);
    if (len == 0 || len >= sizeof buf) {
        ri_errf(err, errcap,
                "allowed peer: %s, expected an IPv4 or IPv6 address, optionally /prefix",
                len == 0 ? "empty" : "too long");
        return RP_ERR_INVAL;
    }
    memcpy(buf, text, len + 1);

    struct ri_allow out;
    memset(&out, 0, sizeof out);
    out.role = role;
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    /* inet_pton takes no spaces, zone ids or shortened IPv4 forms; its
     * output is what the table gets, never the text. */
    if (inet_pton(AF_INET, buf, out.addr) == 1) {
        out.family = AF_INET;
    } else if (inet_pton(AF_INET6, buf, out.addr) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        out.family = AF_INET6;
        if (memcmp(out.addr, mapped, sizeof mapped) == 0) {
            ri_errf(err, errcap,
                    "allowed peer: an IPv4-mapped IPv6 address, expected the IPv4 address itself");
            return RP_ERR_INVAL;
        }
    } else {
        ri_errf(err, errcap, "allowed peer: \"%.*s\" is not an IPv4 or IPv6 address",
                RI_ALLOW_TEXT_MAX, buf);
        return RP_ERR_INVAL;
    }
    unsigned bits = addr_bits(out.family);
    if (slash) {
        int prefix = parse_prefix(slash + 1);
        if (prefix < 1 || (unsigned)prefix > bits) {
            ri_errf(err, errcap, "allowed peer: prefix after '/' must be a number from 1 to %u",
                    bits);
            return RP_ERR_INVAL;
        }
        out.prefix_bits = (uint8_t)prefix;
    } else {
        out.prefix_bits = (uint8_t)bits;
    }
    /* A prefix with host bits ("10.0.0.1/8") is most often a typo that
     * would open far more than meant: refused, not rounded. */
    int rc = ri_allow_check(&out, err, errcap);
    if (rc != 0)
        return rc;
    *a = out;
    return 0;
}
