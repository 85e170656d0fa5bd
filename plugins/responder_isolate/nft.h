/*
 * nft.h - the isolation table of responder_isolate (issue 15, item 4): one
 * nftables table, "inet rampart_isolate", that cuts the machine off the
 * network except for what it allows, applied and removed atomically through
 * libnftables (Debian libnftables-dev), never by running nft(8).
 *
 * What the table does (nft.c builds it; README.md "The table" shows it):
 *   - input, output and forward chains of type filter at priority -10,
 *     policy drop: a packet any table drops is dropped, so a site's own
 *     accept rules elsewhere cannot reopen the machine;
 *   - loopback accepted both ways;
 *   - to each allowed peer (address/prefix, optional protocol and port) new
 *     and established traffic out, and its replies in (ct state
 *     established,related); an allowed peer of role RI_ROLE_ADMIN may also
 *     open connections in;
 *   - DHCP (UDP 67/68, DHCPv6 546/547) and the ICMPv6 neighbour discovery
 *     IPv6 needs, when RI_POLICY_DHCP is set;
 *   - everything else: TCP answered with a reset and the rest rejected with
 *     ICMP admin-prohibited on output (so local programs fail at once instead
 *     of hanging), dropped on input and forward; established sessions to
 *     peers that are not allowed are reset at their next packet;
 *   - the allowed addresses live in named sets (allow4, allow6, and the
 *     per-port sets), so ri_nft_refresh swaps them in one transaction
 *     without touching the rules.
 *
 * Every function is synchronous, keeps no state between calls but the
 * kernel's table, and may run on any thread (each makes and frees its own
 * nft context). They act in the calling thread's network namespace, which is
 * how the tests confine them to a namespace they create. Errors: 0 or a
 * negative RP_ERR_*, with a one-line message in err (NUL-terminated, cut to
 * errcap) naming what failed; libnftables' own message is quoted in it.
 */
#ifndef RP_RESPONDER_ISOLATE_NFT_H
#define RP_RESPONDER_ISOLATE_NFT_H

#include <stddef.h>
#include <stdint.h>

/* The one table: "table inet rampart_isolate". */
#define RI_TABLE_FAMILY "inet"
#define RI_TABLE_NAME   "rampart_isolate"

/* Allowed peers in one policy; adding past it is RP_ERR_FULL. */
#define RI_ALLOW_MAX 256

/* Why a peer is allowed (shown in status and in the response event). */
enum ri_role {
    RI_ROLE_BACKEND = 1, /* an upload endpoint (output.url) */
    RI_ROLE_PROXY,       /* the configured proxy (output.proxy) */
    RI_ROLE_DNS,         /* a configured resolver: UDP and TCP port 53 only */
    RI_ROLE_ADMIN,       /* the admin host: any port, both directions */
    RI_ROLE_EXTRA        /* another peer the site config allows */
};

/* One allowed peer. */
struct ri_allow {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* network order; the first 4 bytes for AF_INET */
    uint8_t prefix_bits; /* 32 or 128 for one host; 0 is refused (RP_ERR_INVAL) */
    uint8_t proto;       /* IPPROTO_TCP, IPPROTO_UDP, or 0 for both */
    uint16_t port;       /* host order; 0: any port */
    int role;            /* enum ri_role */
};

/* Flags of ri_policy. */
#define RI_POLICY_DHCP 0x1u /* keep DHCP and ICMPv6 neighbour discovery open */
/* (Added by nft.c's author.) Neighbour solicitation and advertisement
 * (hop limit 255, so on-link only) are accepted whatever the flags: without
 * them no IPv6 peer on the link, the router included, answers once its
 * neighbour entry expires, so an allowed IPv6 backend would be cut too.
 * RI_POLICY_DHCP adds DHCP, DHCPv6 and router solicitation/advertisement. */

struct ri_policy {
    uint32_t flags; /* RI_POLICY_* */
    uint32_t n_allow;
    struct ri_allow allow[RI_ALLOW_MAX];
};

/* Adds one peer to p; RP_ERR_FULL past RI_ALLOW_MAX, RP_ERR_INVAL for a bad
 * family or prefix. An identical peer already there is not added twice. */
int ri_policy_add(struct ri_policy *p, const struct ri_allow *a);

/* Parses "192.0.2.7", "2001:db8::/64", "10.0.0.0/8" into a (port 0, proto
 * 0, role given); RP_ERR_INVAL with a message for anything else. */
int ri_allow_parse(const char *text, int role, struct ri_allow *a, char *err, size_t errcap);

/* Resolves host (a name or an address literal) to at most cap peers of
 * role, port and proto given (getaddrinfo, both families), into out; *n is
 * how many. RP_ERR_NOTFOUND with a message when it has no address. Blocks
 * for as long as the resolver does: call it from a worker, never the loop. */
int ri_resolve(const char *host, uint16_t port, uint8_t proto, int role, struct ri_allow *out,
               uint32_t cap, uint32_t *n, char *err, size_t errcap);

/* Applies p: in one libnftables transaction, removes the table if it exists
 * and adds it anew with its sets filled, so the machine is never without
 * the table once isolated and never sees half of it. */
int ri_nft_apply(const struct ri_policy *p, char *err, size_t errcap);

/* Replaces the contents of the table's sets by p's peers in one
 * transaction, rules untouched. RP_ERR_NOTFOUND when the table is not
 * there. */
int ri_nft_refresh(const struct ri_policy *p, char *err, size_t errcap);

/* Deletes the table (the only way isolation is undone). 0 also when it was
 * not there. */
int ri_nft_remove(char *err, size_t errcap);

/* *present = 1 when the table exists in this namespace, else 0. */
int ri_nft_present(int *present, char *err, size_t errcap);

/* Resets the TCP sessions of this namespace whose peer p does not allow
 * (sock_diag SOCK_DESTROY where the kernel has CONFIG_INET_DIAG_DESTROY),
 * counting them in *reset (may be NULL). RP_ERR_UNSUPPORTED when the kernel
 * cannot destroy sockets: the table's reject rule still resets each such
 * session at its next packet. */
int ri_reset_sessions(const struct ri_policy *p, uint32_t *reset, char *err, size_t errcap);

#endif /* RP_RESPONDER_ISOLATE_NFT_H */
