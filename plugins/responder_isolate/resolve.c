/*
 * resolve.c - a host name or address literal to allowed peers (nft.h,
 * ri_resolve): getaddrinfo for both families, each address once, at most
 * cap of them. The addresses are copied as bytes; the name itself never
 * reaches the table.
 */
#define _GNU_SOURCE
#include "allow.h"
#include "nft.h"

#include <rampart/plugin.h>

#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* The longest DNS name (RFC 1035) plus room for an IPv6 literal's zone. */
#define HOST_MAX 255

int ri_resolve(const char *host, uint16_t port, uint8_t proto, int role, struct ri_allow *out,
               uint32_t cap, uint32_t *n, char *err, size_t errcap)
{
    if (n)
        *n = 0;
    if (!host || !out || !n || cap == 0) {
        ri_errf(err, errcap, "resolve: no host, no room or no count");
        return RP_ERR_INVAL;
    }
    size_t len = strnlen(host, HOST_MAX + 1);
    if (len == 0 || len > HOST_MAX) {
        ri_errf(err, errcap, "resolve: host is %s, expected a name or address of 1 to %d bytes",
                len == 0 ? "empty" : "too long", HOST_MAX);
        return RP_ERR_INVAL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c >= 0x7f) {
            ri_errf(err, errcap, "resolve: host has a space or control byte at %zu", i);
            return RP_ERR_INVAL;
        }
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    /* One socket type: otherwise each address comes once per type. */
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, NULL, &hints, &res);
    if (gai != 0) {
        ri_errf(err, errcap, "resolve: %.*s: %s", HOST_MAX, host, gai_strerror(gai));
        if (gai == EAI_NONAME || gai == EAI_NODATA || gai == EAI_ADDRFAMILY)
            return RP_ERR_NOTFOUND;
        return gai == EAI_AGAIN ? RP_ERR_AGAIN : RP_ERR_IO;
    }
    uint32_t count = 0;
    for (struct addrinfo *ai = res; ai && count < cap; ai = ai->ai_next) {
        struct ri_allow a;
        memset(&a, 0, sizeof a);
        a.port = port;
        a.proto = proto;
        a.role = role;
        if (ai->ai_family == AF_INET && ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
            a.family = AF_INET;
            a.prefix_bits = 32;
            memcpy(a.addr, &sin->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6 && ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
            const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ai->ai_addr;
            a.family = AF_INET6;
            a.prefix_bits = 128;
            memcpy(a.addr, &sin6->sin6_addr, 16);
        } else {
            continue;
        }
        if (ri_allow_check(&a, err, errcap) != 0) {
            freeaddrinfo(res);
            return RP_ERR_INVAL;
        }
        int seen = 0;
        for (uint32_t i = 0; i < count && !seen; i++)
            seen = out[i].family == a.family && memcmp(out[i].addr, a.addr, 16) == 0;
        if (!seen)
            out[count++] = a;
    }
    freeaddrinfo(res);
    if (count == 0) {
        ri_errf(err, errcap, "resolve: %.*s has no IPv4 or IPv6 address", HOST_MAX, host);
        return RP_ERR_NOTFOUND;
    }
    *n = count;
    return 0;
}
