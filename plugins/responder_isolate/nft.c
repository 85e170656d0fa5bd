/*
 * nft.c - the isolation table (nft.h) as nftables text, run through
 * libnftables in one transaction per call.
 *
 * The text is built here from constants and from numbers only: addresses
 * are printed with inet_ntop, prefixes, protocols and ports as numbers or
 * fixed words, so nothing that came from config or DNS reaches the parser
 * as it was written. Every libnftables context buffers its output and its
 * errors (the agent's stdout and stderr stay clean); an error is quoted,
 * on one line, in err.
 */
#define _GNU_SOURCE
#include "allow.h"
#include "nft.h"

#include <rampart/plugin.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <nftables/libnftables.h>

/* One policy renders to about 60 bytes per element (two for a peer of both
 * protocols) plus 3 kB of rules: 64 kB holds RI_ALLOW_MAX peers with room. */
#define TEXT_CAP (64u * 1024u)

#define TABLE RI_TABLE_FAMILY " " RI_TABLE_NAME

/* The table's sets: what each holds and the element type it needs. */
enum set_id { SET_ALLOW4, SET_ALLOW6, SET_PORT4, SET_PORT6, SET_ADMIN4, SET_ADMIN6, SET_COUNT };

static const char *const set_names[SET_COUNT] = {
    [SET_ALLOW4] = "allow4",     [SET_ALLOW6] = "allow6", [SET_PORT4] = "allow4_port",
    [SET_PORT6] = "allow6_port", [SET_ADMIN4] = "admin4", [SET_ADMIN6] = "admin6",
};

/* The fixed part of the table. Sets are declared empty and filled by "add
 * element" lines after it, the same lines ri_nft_refresh uses. */
static const char table_text[] =
    "table " TABLE " {\n"
    "\tset allow4 { type ipv4_addr; flags interval; auto-merge; }\n"
    "\tset allow6 { type ipv6_addr; flags interval; auto-merge; }\n"
    "\tset allow4_port { type ipv4_addr . inet_proto . inet_service; flags interval; }\n"
    "\tset allow6_port { type ipv6_addr . inet_proto . inet_service; flags interval; }\n"
    "\tset admin4 { type ipv4_addr; flags interval; auto-merge; }\n"
    "\tset admin6 { type ipv6_addr; flags interval; auto-merge; }\n"
    "\tchain input {\n"
    "\t\ttype filter hook input priority -10; policy drop;\n"
    "\t\tiif \"lo\" accept\n"
    "\t\tip saddr @admin4 accept\n"
    "\t\tip6 saddr @admin6 accept\n"
    "\t\tct state established,related ip saddr @allow4 accept\n"
    "\t\tct state established,related ip6 saddr @allow6 accept\n"
    "\t\tct state established,related ip saddr . meta l4proto . th sport @allow4_port accept\n"
    "\t\tct state established,related ip6 saddr . meta l4proto . th sport @allow6_port accept\n"
    "\t\tct state related meta l4proto { icmp, ipv6-icmp } accept\n"
    "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept\n"
    "%s" /* DHCP in */
    "\t}\n"
    "\tchain forward {\n"
    "\t\ttype filter hook forward priority -10; policy drop;\n"
    "\t}\n"
    "\tchain output {\n"
    "\t\ttype filter hook output priority -10; policy drop;\n"
    "\t\toif \"lo\" accept\n"
    "\t\tip daddr @admin4 accept\n"
    "\t\tip6 daddr @admin6 accept\n"
    "\t\tip daddr @allow4 accept\n"
    "\t\tip6 daddr @allow6 accept\n"
    "\t\tip daddr . meta l4proto . th dport @allow4_port accept\n"
    "\t\tip6 daddr . meta l4proto . th dport @allow6_port accept\n"
    "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } ip6 hoplimit 255 accept\n"
    "%s" /* DHCP out */
    "\t\tmeta l4proto tcp reject with tcp reset\n"
    "\t\treject with icmpx admin-prohibited\n"
    "\t}\n"
    "}\n";

static const char dhcp_in[] = "\t\tudp sport 67 udp dport 68 accept\n"
                              "\t\tudp sport 547 udp dport 546 accept\n"
                              "\t\ticmpv6 type nd-router-advert ip6 hoplimit 255 accept\n";
static const char dhcp_out[] = "\t\tudp sport 68 udp dport 67 accept\n"
                               "\t\tudp sport 546 udp dport 547 accept\n"
                               "\t\ticmpv6 type nd-router-solicit ip6 hoplimit 255 accept\n";

/* A bounded text buffer; a write past its cap marks it cut. */
struct text {
    char *buf;
    size_t len, cap;
    int cut;
};

__attribute__((format(printf, 2, 3))) static void text_add(struct text *t, const char *fmt, ...)
{
    if (t->cut)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= t->cap - t->len) {
        t->cut = 1;
        t->buf[t->len] = '\0';
        return;
    }
    t->len += (size_t)n;
}

static int text_init(struct text *t, char *err, size_t errcap)
{
    t->buf = malloc(TEXT_CAP);
    t->len = 0;
    t->cap = TEXT_CAP;
    t->cut = 0;
    if (!t->buf) {
        ri_errf(err, errcap, "nft: no memory for the table's text");
        return RP_ERR_NOMEM;
    }
    t->buf[0] = '\0';
    return 0;
}

/* One set element, as the table prints it. */
#define ELEM_MAX (INET6_ADDRSTRLEN + 32)

static const char *proto_word(uint8_t proto)
{
    return proto == IPPROTO_UDP ? "udp" : "tcp";
}

/* Renders the address part ("192.0.2.7" or "2001:db8::/64") of a. */
static int render_addr(const struct ri_allow *a, char *out, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];
    unsigned bits = a->family == AF_INET ? 32u : 128u;
    if (!inet_ntop(a->family, a->addr, addr, sizeof addr))
        return RP_ERR_INVAL;
    int n = a->prefix_bits == bits ? snprintf(out, cap, "%s", addr)
                                   : snprintf(out, cap, "%s/%u", addr, a->prefix_bits);
    return n < 0 || (size_t)n >= cap ? RP_ERR_INVAL : 0;
}

/* The elements of one set, one after the other, separated by ", ". */
struct elems {
    struct text t;
    unsigned count;
};

/* Adds elem to the set unless it is already there (the same peer may come
 * as backend and proxy; the table needs it once). */
static void elems_add(struct elems *e, const char *elem)
{
    size_t n = strlen(elem);
    const char *p = e->t.buf;
    for (unsigned i = 0; i < e->count && p; i++) {
        const char *end = strstr(p, ", ");
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, elem, n) == 0)
            return;
        p = end ? end + 2 : NULL;
    }
    text_add(&e->t, "%s%s", e->count ? ", " : "", elem);
    e->count++;
}

/* Appends "add element" lines that fill the sets with p's peers. */
static int render_elements(struct text *t, const struct ri_policy *p, char *err, size_t errcap)
{
    struct elems sets[SET_COUNT];
    int rc = 0;
    memset(sets, 0, sizeof sets);
    if (p->n_allow > RI_ALLOW_MAX) {
        ri_errf(err, errcap, "nft: policy holds %u peers, at most %u", p->n_allow, RI_ALLOW_MAX);
        return RP_ERR_INVAL;
    }
    for (int s = 0; s < SET_COUNT && rc == 0; s++)
        rc = text_init(&sets[s].t, err, errcap);
    for (uint32_t i = 0; i < p->n_allow && rc == 0; i++) {
        const struct ri_allow *a = &p->allow[i];
        char addr[ELEM_MAX], elem[ELEM_MAX * 2];
        char why[160] = "its address cannot be printed";
        rc = ri_allow_check(a, why, sizeof why);
        if (rc == 0)
            rc = render_addr(a, addr, sizeof addr);
        if (rc != 0) {
            ri_errf(err, errcap, "nft: peer %u of the policy: %s", i, why);
            break;
        }
        int v6 = a->family == AF_INET6;
        uint16_t port = a->port;
        uint8_t proto = a->proto;
        if (a->role == RI_ROLE_ADMIN) {
            /* The admin host: any port, both directions. */
            elems_add(&sets[v6 ? SET_ADMIN6 : SET_ADMIN4], addr);
            continue;
        }
        if (a->role == RI_ROLE_DNS && port == 0)
            port = 53; /* a resolver is reached on its port only */
        if (port == 0 && proto == 0) {
            elems_add(&sets[v6 ? SET_ALLOW6 : SET_ALLOW4], addr);
            continue;
        }
        for (int k = 0; k < 2; k++) {
            uint8_t pr = k == 0 ? IPPROTO_TCP : IPPROTO_UDP;
            if (proto != 0 && proto != pr)
                continue;
            if (port == 0)
                snprintf(elem, sizeof elem, "%s . %s . 0-65535", addr, proto_word(pr));
            else
                snprintf(elem, sizeof elem, "%s . %s . %u", addr, proto_word(pr), port);
            elems_add(&sets[v6 ? SET_PORT6 : SET_PORT4], elem);
        }
    }
    for (int s = 0; s < SET_COUNT && rc == 0; s++) {
        if (sets[s].t.cut) {
            ri_errf(err, errcap, "nft: set %s does not fit in %u bytes", set_names[s], TEXT_CAP);
            rc = RP_ERR_FULL;
        } else if (sets[s].count > 0) {
            text_add(t, "add element " TABLE " %s { %s }\n", set_names[s], sets[s].t.buf);
        }
    }
    for (int s = 0; s < SET_COUNT; s++)
        free(sets[s].t.buf);
    if (rc == 0 && t->cut) {
        ri_errf(err, errcap, "nft: the table's text does not fit in %u bytes", TEXT_CAP);
        rc = RP_ERR_FULL;
    }
    return rc;
}

/* Copies libnftables' error text into err on one line: the message and the
 * command it names, control characters replaced. */
static void quote_error(const char *what, const char *text, char *err, size_t errcap)
{
    char line[512];
    size_t n = 0;
    int lines = 0;
    for (const char *c = text ? text : ""; *c && n + 1 < sizeof line && lines < 2; c++) {
        if (*c == '\n') {
            /* The line after the message repeats the command; the third
             * only underlines it. */
            lines++;
            if (lines < 2 && c[1] != '\0' && n + 3 < sizeof line) {
                memcpy(line + n, " | ", 3);
                n += 3;
            }
            continue;
        }
        line[n++] = isprint((unsigned char)*c) ? *c : ' ';
    }
    while (n > 0 && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    ri_errf(err, errcap, "nft: %s: %s", what, n ? line : "failed without a message");
}

/* 1 when the calling thread has CAP_NET_ADMIN in its effective set. */
static int has_net_admin(void)
{
    struct __user_cap_header_struct head = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &head, data) != 0)
        return 1; /* unknown: let the kernel answer */
    return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

/* Runs cmds (one transaction) in a new context of the calling thread's
 * network namespace. On success, when out is given, *out gets a malloc'd
 * copy of the output. */
static int run(const char *what, const char *cmds, char **out, char *err, size_t errcap)
{
    /* libnftables 1.0.6 writes "... (you must be root)" to stderr itself
     * when the kernel refuses with EPERM, whatever the context buffers: the
     * usual cause, a thread without CAP_NET_ADMIN, is answered here. */
    if (!has_net_admin()) {
        ri_errf(err, errcap, "nft: %s: Operation not permitted: the thread lacks CAP_NET_ADMIN",
                what);
        return RP_ERR_PERM;
    }
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    int rc = 0;
    if (!ctx) {
        ri_errf(err, errcap, "nft: %s: cannot make a libnftables context", what);
        return RP_ERR_NOMEM;
    }
    if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
        ri_errf(err, errcap, "nft: %s: cannot buffer libnftables' output", what);
        nft_ctx_free(ctx);
        return RP_ERR_NOMEM;
    }
    if (nft_run_cmd_from_buffer(ctx, cmds) != 0) {
        const char *e = nft_ctx_get_error_buffer(ctx);
        quote_error(what, e, err, errcap);
        rc = e && strstr(e, "Operation not permitted") ? RP_ERR_PERM : RP_ERR_IO;
    } else if (out) {
        const char *o = nft_ctx_get_output_buffer(ctx);
        *out = strdup(o ? o : "");
        if (!*out) {
            ri_errf(err, errcap, "nft: %s: no memory for the output", what);
            rc = RP_ERR_NOMEM;
        }
    }
    nft_ctx_free(ctx);
    return rc;
}

int ri_nft_apply(const struct ri_policy *p, char *err, size_t errcap)
{
    struct text t;
    if (!p) {
        ri_errf(err, errcap, "nft: apply: no policy");
        return RP_ERR_INVAL;
    }
    int rc = text_init(&t, err, errcap);
    if (rc != 0)
        return rc;
    /* "add" then "delete" makes the delete valid whether or not the table
     * exists; the three are one transaction, so the old table stays until
     * the new one is in, and stays as it was when anything fails. */
    text_add(&t, "add table " TABLE "\ndelete table " TABLE "\n");
    int dhcp = (p->flags & RI_POLICY_DHCP) != 0;
    text_add(&t, table_text, dhcp ? dhcp_in : "", dhcp ? dhcp_out : "");
    rc = render_elements(&t, p, err, errcap);
    if (rc == 0)
        rc = run("apply", t.buf, NULL, err, errcap);
    free(t.buf);
    return rc;
}

int ri_nft_refresh(const struct ri_policy *p, char *err, size_t errcap)
{
    struct text t;
    int present = 0;
    if (!p) {
        ri_errf(err, errcap, "nft: refresh: no policy");
        return RP_ERR_INVAL;
    }
    int rc = ri_nft_present(&present, err, errcap);
    if (rc != 0)
        return rc;
    if (!present) {
        ri_errf(err, errcap, "nft: refresh: table %s is not there", TABLE);
        return RP_ERR_NOTFOUND;
    }
    rc = text_init(&t, err, errcap);
    if (rc != 0)
        return rc;
    for (int s = 0; s < SET_COUNT; s++)
        text_add(&t, "flush set " TABLE " %s\n", set_names[s]);
    rc = render_elements(&t, p, err, errcap);
    if (rc == 0)
        rc = run("refresh", t.buf, NULL, err, errcap);
    free(t.buf);
    return rc;
}

int ri_nft_remove(char *err, size_t errcap)
{
    /* "add" first: deleting then succeeds when the table was not there. */
    return run("remove", "add table " TABLE "\ndelete table " TABLE "\n", NULL, err, errcap);
}

int ri_nft_present(int *present, char *err, size_t errcap)
{
    char *out = NULL;
    if (!present) {
        ri_errf(err, errcap, "nft: present: no result pointer");
        return RP_ERR_INVAL;
    }
    *present = 0;
    /* Listing the tables, not the table, tells "absent" from a failure. */
    int rc = run("list tables", "list tables " RI_TABLE_FAMILY "\n", &out, err, errcap);
    if (rc != 0)
        return rc;
    static const char want[] = "table " TABLE;
    for (const char *line = out; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len == sizeof want - 1 && memcmp(line, want, len) == 0)
            *present = 1;
        line = end ? end + 1 : NULL;
    }
    free(out);
    return 0;
}
