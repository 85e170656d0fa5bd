/*
 * collector_network - TCP and UDP connections, accepts, listeners and closes
 * over IPv4 and IPv6, from the kernel's sock_diag interface.
 *
 * A host timer dumps the sockets of each enabled protocol and family
 * (NETLINK_SOCK_DIAG, inet_diag_req_v2, states filtered in the request so
 * TIME_WAIT and request sockets never cross into user space) and compares
 * them with a bounded table of sockets already known, keyed by the kernel's
 * socket cookie. A socket not in the table is new: a listener, an accepted
 * connection (its local port is one a listener of the same protocol, family
 * and address holds) or an outgoing one. Its process is found through an
 * incremental socket-inode map (procscan.c) that reads /proc only when
 * something is new. Closes come from the sock_diag destroy multicast groups,
 * watched on the host loop; a destroy message carries the cookie and
 * tcp_info (bytes acked and received) but no inode, so the cookie joins it
 * to the connection record, which keeps the pid and process identity even
 * after the process is gone.
 *
 * A TCP dump walks the kernel's whole established hash, which costs
 * milliseconds on a large machine, so a protocol whose socket counts in
 * /proc/net/sockstat{,6} did not move and none of whose sockets was
 * destroyed since its last dump is not dumped again (skip_unchanged).
 *
 * Everything after start runs on the host's loop thread (timer and fd
 * callbacks), so the tables need no locks.
 */
#define _GNU_SOURCE
#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_proc.h>

#include "procscan.h"
#include "sockdiag.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"poll_interval_ms\":{\"type\":\"integer\",\"minimum\":50,\"maximum\":60000,"
    "\"default\":1000,\"description\":\"how often the socket tables are dumped\"},"
    "\"tcp\":{\"type\":\"boolean\",\"default\":true,\"description\":\"watch TCP sockets\"},"
    "\"udp\":{\"type\":\"boolean\",\"default\":true,\"description\":\"watch UDP sockets\"},"
    "\"ipv6\":{\"type\":\"boolean\",\"default\":true,\"description\":\"watch IPv6 sockets\"},"
    "\"exclude_self\":{\"type\":\"boolean\",\"default\":false,"
    "\"description\":\"drop the agent's own sockets (its uploader's connections)\"},"
    "\"report_existing\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"report the sockets open at start (event.type info)\"},"
    "\"skip_unchanged\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"skip a protocol's dump when its socket count did not move and no "
    "socket of it closed\"},"
    "\"report_unmatched_close\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"report closes of connections never seen in a dump\"},"
    "\"max_sockets\":{\"type\":\"integer\",\"minimum\":256,\"maximum\":1048576,"
    "\"default\":16384,\"description\":\"sockets tracked at most; the oldest is evicted\"},"
    "\"max_fd_reads\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":10000000,"
    "\"default\":20000,\"description\":\"/proc/<pid>/fd links read per poll at "
    "most\"}," RP_UTIL_EXCLUDE_SCHEMA "}}";

/* TCP state numbers (include/net/tcp_states.h, part of the kernel ABI). UDP
 * sockets are ESTABLISHED when connected and CLOSE when only bound. */
enum {
    ST_ESTABLISHED = 1,
    ST_SYN_SENT,
    ST_SYN_RECV,
    ST_FIN_WAIT1,
    ST_FIN_WAIT2,
    ST_TIME_WAIT,
    ST_CLOSE,
    ST_CLOSE_WAIT,
    ST_LAST_ACK,
    ST_LISTEN,
    ST_CLOSING
};
#define STBIT(s) (1u << (s))
/* Every TCP state of a full socket but TIME_WAIT: a connection that is
 * already closing is still the same socket, and leaving those states out
 * would lose sight of it before its destroy message. SYN_RECV (request
 * sockets, no inode) and CLOSE (not hashed) are left out. */
#define TCP_STATES                                                                                 \
    (STBIT(ST_ESTABLISHED) | STBIT(ST_SYN_SENT) | STBIT(ST_FIN_WAIT1) | STBIT(ST_FIN_WAIT2) |      \
     STBIT(ST_CLOSE_WAIT) | STBIT(ST_LAST_ACK) | STBIT(ST_LISTEN) | STBIT(ST_CLOSING))
#define UDP_STATES (STBIT(ST_ESTABLISHED) | STBIT(ST_CLOSE))

/* A socket missing from the dumps this long without a destroy message is
 * taken as closed (the message was lost or the destroy groups are off). */
#define EXPIRE_NS (2000LL * 1000000LL)
/* A forced /proc pass (reading processes whose count of open files did not
 * change) runs at most this often. */
#define FORCE_GAP_NS (2000LL * 1000000LL)
/* A new socket whose process is not found is reported at the latest after
 * this long, without the process. */
#define PENDING_MAX_NS (5000LL * 1000000LL)
/* With skip_unchanged, a protocol is dumped at least this often anyway: a
 * safety net for count-neutral changes no destroy message shows (a UDP
 * socket disconnected, which unhashes it without destroying it, and another
 * bound meanwhile). A forced dump costs about 2 ms on a large hash, so this
 * is what the gate costs at idle: kept rare. */
#define MAX_SKIP_NS (60000LL * 1000000LL)
/* Listeners remembered per poll for telling accepts from connects; past
 * the cap a connection to an extra listener reads as a connect. */
#define MAX_LISTENERS 4096u
/* Destroy messages handled per wakeup before the loop gets back control. */
#define DESTROY_BATCH 256
/* Receive buffer of the destroy socket: rides out bursts of closes. */
#define DESTROY_RCVBUF (1 << 20)
/* Netlink receive buffer: the kernel fills dump messages up to 32 KiB. */
#define BUF_LEN (64u * 1024u)

enum {
    F_TIMESTAMP,
    F_CATEGORY,
    F_TYPE,
    F_ACTION,
    F_REASON,
    F_SRC_IP,
    F_SRC_PORT,
    F_SRC_BYTES,
    F_SRC_PACKETS,
    F_DST_IP,
    F_DST_PORT,
    F_DST_BYTES,
    F_DST_PACKETS,
    F_TRANSPORT,
    F_NETTYPE,
    F_IANA,
    F_DIRECTION,
    F_NET_BYTES,
    F_NET_PACKETS,
    F_PID,
    F_PNAME,
    F_PEXE,
    F_UID,
    F_DATASET,
    F_THREAD_NAME,
    F_ENTITY,
    F_EXE_MEMFD,
    F_EXE_DELETED,
    F_INCOMPLETE,
    F_COUNT_
};

static const rp_util_field_def field_defs[F_COUNT_] = {
    [F_TIMESTAMP] = {"@timestamp", RP_TYPE_TIMESTAMP},
    [F_CATEGORY] = {"event.category", RP_TYPE_STR_ARRAY},
    [F_TYPE] = {"event.type", RP_TYPE_STR_ARRAY},
    [F_ACTION] = {"event.action", RP_TYPE_STR},
    [F_REASON] = {"event.reason", RP_TYPE_STR},
    [F_SRC_IP] = {"source.ip", RP_TYPE_IP},
    [F_SRC_PORT] = {"source.port", RP_TYPE_I64},
    [F_SRC_BYTES] = {"source.bytes", RP_TYPE_U64},
    [F_SRC_PACKETS] = {"source.packets", RP_TYPE_U64},
    [F_DST_IP] = {"destination.ip", RP_TYPE_IP},
    [F_DST_PORT] = {"destination.port", RP_TYPE_I64},
    [F_DST_BYTES] = {"destination.bytes", RP_TYPE_U64},
    [F_DST_PACKETS] = {"destination.packets", RP_TYPE_U64},
    [F_TRANSPORT] = {"network.transport", RP_TYPE_STR},
    [F_NETTYPE] = {"network.type", RP_TYPE_STR},
    [F_IANA] = {"network.iana_number", RP_TYPE_STR},
    [F_DIRECTION] = {"network.direction", RP_TYPE_STR},
    [F_NET_BYTES] = {"network.bytes", RP_TYPE_U64},
    [F_NET_PACKETS] = {"network.packets", RP_TYPE_U64},
    [F_PID] = {"process.pid", RP_TYPE_I64},
    [F_PNAME] = {"process.name", RP_TYPE_STR},
    [F_PEXE] = {"process.executable", RP_TYPE_STR},
    [F_UID] = {"user.id", RP_TYPE_STR},
    [F_DATASET] = {"event.dataset", RP_TYPE_STR},
    /* comm: what the process calls itself (prctl(PR_SET_NAME) sets it), kept
     * apart from process.name, which comes from the executable. */
    [F_THREAD_NAME] = {"process.thread.name", RP_TYPE_STR},
    [F_ENTITY] = {"process.entity_id", RP_TYPE_STR},
    [F_EXE_MEMFD] = {"rampart.process.executable_memfd", RP_TYPE_BOOL},
    [F_EXE_DELETED] = {"rampart.process.executable_deleted", RP_TYPE_BOOL},
    [F_INCOMPLETE] = {"rampart.incomplete", RP_TYPE_STR_ARRAY},
};

enum {
    C_DUMPS,
    C_DUMP_ERRORS,
    C_SEEN,
    C_CONNECT,
    C_ACCEPT,
    C_LISTEN,
    C_CLOSE,
    C_DESTROY,
    C_UNMATCHED,
    C_EXPIRED,
    C_DROPS,
    C_EVICT,
    C_UNRESOLVED,
    C_FD_DIRS,
    C_LINKS,
    C_MAP_RESETS,
    C_PARSE,
    C_PUBFAIL,
    C_SELF,
    C_SKIPPED,
    C_EXCL_EXE,
    C_EXCL_PATH,
    C_EXCL_USER,
    C_COUNT_
};

static const char *const counter_names[C_COUNT_] = {
    [C_DUMPS] = "dumps",
    [C_DUMP_ERRORS] = "dump_errors",
    [C_SEEN] = "sockets_seen",
    [C_CONNECT] = "connect_published",
    [C_ACCEPT] = "accept_published",
    [C_LISTEN] = "listen_published",
    [C_CLOSE] = "close_published",
    [C_DESTROY] = "destroy_messages",
    [C_UNMATCHED] = "close_unmatched",
    [C_EXPIRED] = "close_expired",
    [C_DROPS] = "kernel_drops",
    [C_EVICT] = "table_evictions",
    [C_UNRESOLVED] = "pid_unresolved",
    [C_FD_DIRS] = "proc_fd_dirs_read",
    [C_LINKS] = "proc_fd_links_read",
    [C_MAP_RESETS] = "inode_map_resets",
    [C_PARSE] = "parse_errors",
    [C_PUBFAIL] = "publish_failed",
    [C_SELF] = "self_excluded",
    [C_SKIPPED] = "dumps_skipped",
    [C_EXCL_EXE] = "excluded_executable",
    [C_EXCL_PATH] = "excluded_path",
    [C_EXCL_USER] = "excluded_user",
};

enum { K_UNSET, K_CONNECT, K_ACCEPT, K_LISTEN };

#define RF_PENDING  0x1u  /* start event not published yet */
#define RF_SELF     0x2u  /* the agent's own socket, not reported */
#define RF_EXISTING 0x4u  /* open before the first poll */
#define RF_NO_UID   0x8u  /* known only from a destroy message, which has no uid */
#define RF_EXCLUDED 0x10u /* a collectors.exclude rule covers it: not reported */

/* One known socket. */
struct rec {
    struct rec *hnext;         /* cookie hash chain */
    struct rec *older, *newer; /* age list, for eviction and expiry */
    struct rec *pnext;         /* pending list */
    uint64_t cookie, inode;
    uint64_t lis_cookie; /* the listener an accept belongs to */
    int64_t first_mono_ns, first_wall_ns, missing_since_ns;
    uint32_t seen_gen, uid;
    int32_t pid;      /* 0 = unknown */
    int32_t last_pid; /* a holder found earlier that is gone now */
    uint8_t family, proto, state, kind, flags;
    uint8_t laddr[16], raddr[16];
    uint16_t lport, rport;
    char comm[16];
    char *exe;                              /* NULL when unknown (or a memfd: see exe_flags) */
    uint32_t exe_flags;                     /* RP_UTIL_EXE_* */
    char entity[RP_UTIL_ENTITY_ID_LEN + 1]; /* "" when unknown */
};

struct listener {
    uint64_t cookie;
    uint8_t family, proto;
    uint16_t port;
    uint8_t addr[16];
};

/* One dump per enabled protocol and family. */
struct dump_kind {
    uint8_t family, proto;
    int enabled;
    int last_rc;   /* logged when it changes */
    int dumped;    /* dumped (successfully) in the current poll */
    uint32_t nrec; /* records of this kind in the table */
};

/* The change gate of one protocol (skip_unchanged). */
struct gate {
    int64_t inuse[2];     /* v4 and v6 "inuse" of /proc/net/sockstat{,6} at the last dump */
    uint64_t destroys;    /* destroy messages since the last dump */
    int64_t last_dump_ns; /* monotonic */
    int valid;            /* inuse holds the values of a successful dump */
    int unaccepted;       /* the last dump saw a connection not accepted yet */
};

struct net {
    rp_plugin *self;
    const rp_host_api *host;
    rp_field_id f[F_COUNT_];
    rp_util_counters ctr;

    /* Config. */
    uint64_t poll_ms, max_sockets, max_fd_reads;
    int tcp, udp, ipv6, exclude_self, report_existing, report_unmatched, skip_unchanged;

    /* Kernel side. */
    int dump_fd, destroy_fd;
    uint64_t timer_id, watch_id;
    uint8_t *buf;
    uint32_t seq;
    struct dump_kind dumps[4]; /* kind_index order */
    int recv_error_logged;
    struct gate gates[2];  /* TCP, UDP */
    int stat_fd, stat6_fd; /* /proc/net/sockstat and sockstat6, -1 = no gate */
    int drops_since;       /* the kernel dropped destroy messages since the last poll */

    /* Socket table. */
    struct rec **slots;
    uint32_t nslots;
    uint32_t count;
    struct rec *oldest, *newest;
    struct rec *pending;
    uint32_t gen, seen_this_poll;
    struct listener *lis;
    uint32_t nlis;
    int first_done;
    int32_t mypid;

    /* Process attribution. */
    struct cn_ps ps;
    int ps_ok;
    int64_t last_forced_ns, forced_complete_ns;
    char exe_buf[PATH_MAX];
    char machine_id[64];
    size_t mid_len;
    rp_util_exclude excl; /* the agent-wide collectors.exclude */
};

/* ---- helpers ------------------------------------------------------------ */

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static size_t addr_len(uint8_t family)
{
    return family == AF_INET ? 4 : 16;
}

static int addr_is_any(const uint8_t *a, uint8_t family)
{
    for (size_t i = 0; i < addr_len(family); i++)
        if (a[i])
            return 0;
    return 1;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* An address as ECS wants it: an IPv4-mapped IPv6 address (a dual-stack
 * socket talking IPv4) becomes the IPv4 address. */
static void to_ip(uint8_t family, const uint8_t *a, rp_ip *out)
{
    memset(out, 0, sizeof *out);
    if (family == AF_INET) {
        out->family = 4;
        memcpy(out->addr, a, 4);
    } else if (memcmp(a, v4mapped, sizeof v4mapped) == 0) {
        out->family = 4;
        memcpy(out->addr, a + 12, 4);
    } else {
        out->family = 6;
        memcpy(out->addr, a, 16);
    }
}

static int is_listener_state(uint8_t proto, uint8_t state)
{
    return proto == IPPROTO_TCP ? state == ST_LISTEN : state == ST_CLOSE;
}

/* dumps[] and gates[] index: TCP v4, TCP v6, UDP v4, UDP v6. */
static int kind_index(uint8_t proto, uint8_t family)
{
    return (proto == IPPROTO_UDP ? 2 : 0) + (family == AF_INET6 ? 1 : 0);
}

/* ---- socket table --------------------------------------------------------- */

static uint32_t cookie_slot(const struct net *n, uint64_t cookie)
{
    uint64_t x = cookie * 0x9e3779b97f4a7c15ULL;
    return (uint32_t)(x >> 32) & (n->nslots - 1);
}

static struct rec *rec_find(const struct net *n, uint64_t cookie)
{
    for (struct rec *r = n->slots[cookie_slot(n, cookie)]; r; r = r->hnext)
        if (r->cookie == cookie)
            return r;
    return NULL;
}

static void pending_unlink(struct net *n, struct rec *r)
{
    for (struct rec **pp = &n->pending; *pp; pp = &(*pp)->pnext) {
        if (*pp == r) {
            *pp = r->pnext;
            r->pnext = NULL;
            return;
        }
    }
}

/* Takes r out of every list and frees it. */
static void rec_remove(struct net *n, struct rec *r)
{
    for (struct rec **pp = &n->slots[cookie_slot(n, r->cookie)]; *pp; pp = &(*pp)->hnext) {
        if (*pp == r) {
            *pp = r->hnext;
            break;
        }
    }
    if (r->older)
        r->older->newer = r->newer;
    else
        n->oldest = r->newer;
    if (r->newer)
        r->newer->older = r->older;
    else
        n->newest = r->older;
    if (r->flags & RF_PENDING)
        pending_unlink(n, r);
    if (r->seen_gen == n->gen && n->seen_this_poll > 0)
        n->seen_this_poll--;
    n->dumps[kind_index(r->proto, r->family)].nrec--;
    n->count--;
    free(r->exe);
    free(r);
}

/* ---- events ---------------------------------------------------------------- */

/* Sets the endpoints the ECS way: the source is the side that opened the
 * connection (local for a connect, the peer for an accept); a listener has
 * only a destination, the address connections will come to. */
static void set_endpoints(struct net *n, rp_event *ev, const struct rec *r)
{
    const rp_host_api *h = n->host;
    rp_ip local, remote;
    to_ip(r->family, r->laddr, &local);
    to_ip(r->family, r->raddr, &remote);
    int inbound = r->kind == K_LISTEN || r->kind == K_ACCEPT;
    if (r->kind != K_LISTEN) {
        h->set_ip(ev, n->f[F_SRC_IP], inbound ? &remote : &local);
        h->set_i64(ev, n->f[F_SRC_PORT], inbound ? r->rport : r->lport);
    }
    h->set_ip(ev, n->f[F_DST_IP], inbound ? &local : &remote);
    h->set_i64(ev, n->f[F_DST_PORT], inbound ? r->lport : r->rport);
    if (inbound)
        h->set_str(ev, n->f[F_DIRECTION], "ingress", 7);
    else
        h->set_str(ev, n->f[F_DIRECTION], "egress", 6);
    if (r->proto == IPPROTO_TCP) {
        h->set_str(ev, n->f[F_TRANSPORT], "tcp", 3);
        h->set_str(ev, n->f[F_IANA], "6", 1);
    } else {
        h->set_str(ev, n->f[F_TRANSPORT], "udp", 3);
        h->set_str(ev, n->f[F_IANA], "17", 2);
    }
    if (local.family == 4)
        h->set_str(ev, n->f[F_NETTYPE], "ipv4", 4);
    else
        h->set_str(ev, n->f[F_NETTYPE], "ipv6", 4);
    if (!(r->flags & RF_NO_UID)) {
        char uid[16];
        int ulen = snprintf(uid, sizeof uid, "%u", (unsigned)r->uid);
        h->set_str(ev, n->f[F_UID], uid, (uint64_t)ulen);
    }
    h->set_str(ev, n->f[F_DATASET], "rampart.network", 15);
    int32_t pid = r->pid > 0 ? r->pid : r->last_pid;
    /* What could not be had is named, so that a reader knows the event is
     * not joined rather than guessing. */
    rp_str missing[4];
    uint32_t nmissing = 0;
    if (pid > 0) {
        h->set_i64(ev, n->f[F_PID], pid);
        if (r->pid > 0 && r->comm[0])
            h->set_str(ev, n->f[F_THREAD_NAME], r->comm, strlen(r->comm));
        if (r->pid > 0 && r->exe) {
            /* The name of the program, as for process events; comm is
             * whatever the process chose to call itself. */
            const char *base = rp_util_proc_base(r->exe);
            h->set_str(ev, n->f[F_PEXE], r->exe, strlen(r->exe));
            h->set_str(ev, n->f[F_PNAME], base, strlen(base));
        }
        if (r->pid > 0 && (r->exe_flags & RP_UTIL_EXE_MEMFD))
            h->set_bool(ev, n->f[F_EXE_MEMFD], 1);
        else if (r->pid > 0 && (r->exe_flags & RP_UTIL_EXE_DELETED))
            h->set_bool(ev, n->f[F_EXE_DELETED], 1);
        if (r->pid > 0 && r->entity[0])
            h->set_str(ev, n->f[F_ENTITY], r->entity, strlen(r->entity));
        else
            missing[nmissing++] = (rp_str){"process.entity_id", 17};
        if (!(r->pid > 0 && (r->exe || (r->exe_flags & RP_UTIL_EXE_MEMFD))))
            missing[nmissing++] = (rp_str){"process.executable", 18};
    } else {
        /* A connection opened and closed between two polls: the kernel's
         * destroy message names no process, and none was seen holding it. */
        missing[nmissing++] = (rp_str){"process.pid", 11};
        missing[nmissing++] = (rp_str){"process.entity_id", 17};
        missing[nmissing++] = (rp_str){"process.executable", 18};
    }
    if (r->flags & RF_NO_UID)
        missing[nmissing++] = (rp_str){"user.id", 7};
    if (nmissing)
        h->set_str_array(ev, n->f[F_INCOMPLETE], missing, nmissing);
}

static void publish(struct net *n, rp_event *ev, int counter)
{
    int rc = n->host->event_publish(n->self, ev);
    rp_util_count(&n->ctr, rc == 0 ? counter : C_PUBFAIL, 1);
}

static void publish_start(struct net *n, const struct rec *r)
{
    const rp_host_api *h = n->host;
    static const char *const topics[] = {[K_CONNECT] = "network.connect",
                                         [K_ACCEPT] = "network.accept",
                                         [K_LISTEN] = "network.listen"};
    static const char *const actions[] = {
        [K_CONNECT] = "connect", [K_ACCEPT] = "accept", [K_LISTEN] = "listen"};
    static const int counters[] = {
        [K_CONNECT] = C_CONNECT, [K_ACCEPT] = C_ACCEPT, [K_LISTEN] = C_LISTEN};
    int kind = r->kind == K_UNSET ? K_CONNECT : r->kind;
    rp_event *ev;
    if (h->event_create(n->self, topics[kind], strlen(topics[kind]), &ev) != 0) {
        rp_util_count(&n->ctr, C_PUBFAIL, 1);
        return;
    }
    /* A socket open before the agent started is state, not a start. */
    const char *when = (r->flags & RF_EXISTING) ? "info" : "start";
    rp_str cat = {"network", 7};
    rp_str types[2] = {{"connection", 10}, {when, strlen(when)}};
    h->set_str_array(ev, n->f[F_CATEGORY], &cat, 1);
    if (kind == K_LISTEN)
        h->set_str_array(ev, n->f[F_TYPE], &types[1], 1);
    else
        h->set_str_array(ev, n->f[F_TYPE], types, 2);
    h->set_str(ev, n->f[F_ACTION], actions[kind], strlen(actions[kind]));
    h->set_timestamp(ev, n->f[F_TIMESTAMP], r->first_wall_ns);
    set_endpoints(n, ev, r);
    publish(n, ev, counters[kind]);
}

/* A close, with the byte and segment counts of tcp_info when the kernel
 * sent them (d may be NULL: the socket vanished without a message). */
static void publish_close(struct net *n, const struct rec *r, const struct cn_nd_sock *d,
                          const char *reason)
{
    const rp_host_api *h = n->host;
    rp_event *ev;
    if (h->event_create(n->self, "network.close", 13, &ev) != 0) {
        rp_util_count(&n->ctr, C_PUBFAIL, 1);
        return;
    }
    rp_str cat = {"network", 7};
    rp_str types[2] = {{"connection", 10}, {"end", 3}};
    h->set_str_array(ev, n->f[F_CATEGORY], &cat, 1);
    if (r->kind == K_LISTEN)
        h->set_str_array(ev, n->f[F_TYPE], &types[1], 1);
    else
        h->set_str_array(ev, n->f[F_TYPE], types, 2);
    h->set_str(ev, n->f[F_ACTION], "close", 5);
    if (reason)
        h->set_str(ev, n->f[F_REASON], reason, strlen(reason));
    set_endpoints(n, ev, r);
    if (d && d->has_info && r->kind != K_LISTEN) {
        /* tcp_info counts from the local side: acked = sent by us,
         * received = sent by the peer. The source is the opener. */
        uint64_t local_b = d->bytes_acked, remote_b = d->bytes_received;
        uint64_t local_p = d->segs_out, remote_p = d->segs_in;
        int egress = r->kind != K_ACCEPT;
        h->set_u64(ev, n->f[F_SRC_BYTES], egress ? local_b : remote_b);
        h->set_u64(ev, n->f[F_DST_BYTES], egress ? remote_b : local_b);
        h->set_u64(ev, n->f[F_NET_BYTES], local_b + remote_b);
        h->set_u64(ev, n->f[F_SRC_PACKETS], egress ? local_p : remote_p);
        h->set_u64(ev, n->f[F_DST_PACKETS], egress ? remote_p : local_p);
        h->set_u64(ev, n->f[F_NET_PACKETS], local_p + remote_p);
    }
    publish(n, ev, C_CLOSE);
}

/* ---- classification and attribution ------------------------------------------ */

static const struct listener *listener_for(const struct net *n, const struct rec *r)
{
    for (uint32_t i = 0; i < n->nlis; i++) {
        const struct listener *l = &n->lis[i];
        if (l->proto == r->proto && l->family == r->family && l->port == r->lport &&
            l->cookie != r->cookie &&
            (addr_is_any(l->addr, l->family) ||
             memcmp(l->addr, r->laddr, addr_len(r->family)) == 0))
            return l;
    }
    return NULL;
}

static void classify(const struct net *n, struct rec *r)
{
    if (is_listener_state(r->proto, r->state)) {
        r->kind = K_LISTEN;
        return;
    }
    const struct listener *l = listener_for(n, r);
    r->kind = l ? K_ACCEPT : K_CONNECT;
    r->lis_cookie = l ? l->cookie : 0;
}

/* Takes the holder from the inode map if its process is still there. */
static void try_map(struct net *n, struct rec *r)
{
    if (r->pid > 0 || !n->ps_ok)
        return;
    int32_t pid = cn_ps_lookup(&n->ps, r->inode);
    if (pid <= 0)
        return;
    if (cn_ps_identity(&n->ps, pid, r->comm, n->exe_buf, sizeof n->exe_buf) != 0) {
        /* Gone: another process may hold the socket now (it was passed or
         * inherited); if none does, this pid is still the best answer. */
        cn_ps_forget(&n->ps, r->inode);
        r->last_pid = pid;
        r->comm[0] = '\0';
        return;
    }
    r->pid = pid;
    free(r->exe);
    r->exe = NULL;
    /* The executable through one open descriptor, so a memfd or a deleted
     * file says so rather than lending its chosen name. */
    if (rp_util_proc_exe(pid, n->exe_buf, sizeof n->exe_buf, &r->exe_flags) == 0 &&
        n->exe_buf[0] == '/')
        r->exe = strdup(n->exe_buf);
    uint64_t start;
    r->entity[0] = '\0';
    if (rp_util_proc_start(pid, &start) == 0)
        rp_util_entity_id(n->machine_id, n->mid_len, pid, start, r->entity);
}

/* 1 when a collectors.exclude rule covers the socket's holder (counted). */
static int rule_excludes(struct net *n, const struct rec *r)
{
    const rp_util_exclude *x = &n->excl;
    if (r->pid > 0 && r->exe &&
        (rp_util_exclude_exe(x, r->exe, strlen(r->exe)) ||
         rp_util_exclude_path(x, r->exe, strlen(r->exe)))) {
        rp_util_count(&n->ctr,
                      rp_util_exclude_exe(x, r->exe, strlen(r->exe)) ? C_EXCL_EXE : C_EXCL_PATH, 1);
        return 1;
    }
    if (!(r->flags & RF_NO_UID) && rp_util_exclude_uid(x, r->uid)) {
        rp_util_count(&n->ctr, C_EXCL_USER, 1);
        return 1;
    }
    return 0;
}

/* Publishes the start event of a pending socket (or marks it the agent's). */
static void finalize(struct net *n, struct rec *r)
{
    r->flags &= ~RF_PENDING;
    if (n->exclude_self && (r->pid == n->mypid || (r->pid <= 0 && r->last_pid == n->mypid))) {
        r->flags |= RF_SELF;
        rp_util_count(&n->ctr, C_SELF, 1);
        return;
    }
    if (rule_excludes(n, r)) {
        r->flags |= RF_EXCLUDED;
        return;
    }
    if (r->pid <= 0 && r->last_pid <= 0)
        rp_util_count(&n->ctr, C_UNRESOLVED, 1);
    if ((r->flags & RF_EXISTING) && !n->report_existing)
        return;
    publish_start(n, r);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void sync_ps_counters(struct net *n)
{
    rp_util_count(&n->ctr, C_FD_DIRS, n->ps.fd_dirs_read);
    rp_util_count(&n->ctr, C_LINKS, n->ps.links_read);
    rp_util_count(&n->ctr, C_MAP_RESETS, n->ps.map_resets);
    n->ps.fd_dirs_read = n->ps.links_read = n->ps.map_resets = 0;
}

/* Finds the processes of pending sockets, reading /proc only when the inode
 * map does not know them, then publishes those that are ready. */
static void resolve_pending(struct net *n, int64_t now)
{
    size_t unresolved = 0;
    for (struct rec *r = n->pending; r; r = r->pnext) {
        try_map(n, r);
        if (r->pid <= 0)
            unresolved++;
    }
    if (unresolved && n->ps_ok) {
        uint64_t *inodes = malloc(unresolved * sizeof *inodes);
        uint8_t *found = calloc(unresolved, 1);
        if (inodes && found) {
            size_t k = 0;
            int64_t oldest = now;
            for (struct rec *r = n->pending; r; r = r->pnext) {
                if (r->pid > 0)
                    continue;
                inodes[k++] = r->inode;
                if (r->first_mono_ns < oldest)
                    oldest = r->first_mono_ns;
            }
            qsort(inodes, k, sizeof *inodes, cmp_u64);
            size_t u = 0;
            for (size_t i = 0; i < k; i++)
                if (u == 0 || inodes[u - 1] != inodes[i])
                    inodes[u++] = inodes[i];
            struct cn_ps_want want = {inodes, found, u, u};
            uint64_t budget = n->max_fd_reads;
            int complete = 0;

            /* An accepted socket most likely belongs to its listener's
             * process: read that one first, even if its count of open
             * files did not move (a busy server closes as it accepts). */
            for (struct rec *r = n->pending; r && want.left && budget; r = r->pnext) {
                if (r->pid > 0 || r->kind != K_ACCEPT || !r->lis_cookie)
                    continue;
                const struct rec *l = rec_find(n, r->lis_cookie);
                if (l && l->pid > 0)
                    cn_ps_scan_pid(&n->ps, l->pid, r->first_mono_ns, now, &want, &budget);
            }
            /* New processes and those whose open files changed. */
            if (want.left && budget)
                cn_ps_pass(&n->ps, 0, oldest, now, &want, &budget, &complete);
            /* Then, rate-limited, every process not read since the oldest
             * pending socket appeared. */
            if (want.left && budget && now - n->last_forced_ns >= FORCE_GAP_NS) {
                n->last_forced_ns = now;
                cn_ps_pass(&n->ps, 1, oldest, now, &want, &budget, &complete);
                if (complete)
                    n->forced_complete_ns = now;
            }
            sync_ps_counters(n);
            for (struct rec *r = n->pending; r; r = r->pnext)
                try_map(n, r);
        }
        free(inodes);
        free(found);
    }
    /* Publish what is resolved, or has been looked for everywhere, or has
     * waited long enough. The pending list is newest first; moving the
     * ready ones onto a list of their own turns them oldest first, the
     * order they were seen in. */
    struct rec *ready = NULL;
    struct rec **pp = &n->pending;
    while (*pp) {
        struct rec *r = *pp;
        if (r->pid > 0 || !n->ps_ok || n->forced_complete_ns >= r->first_mono_ns ||
            now - r->first_mono_ns >= PENDING_MAX_NS) {
            *pp = r->pnext;
            r->pnext = ready;
            ready = r;
        } else {
            pp = &r->pnext;
        }
    }
    while (ready) {
        struct rec *r = ready;
        ready = r->pnext;
        r->pnext = NULL;
        finalize(n, r);
    }
}

/* ---- polling -------------------------------------------------------------- */

static void evict_oldest(struct net *n)
{
    struct rec *r = n->oldest;
    if (!r)
        return;
    if (r->flags & RF_PENDING) {
        pending_unlink(n, r);
        finalize(n, r);
    }
    rec_remove(n, r);
    rp_util_count(&n->ctr, C_EVICT, 1);
}

/* One socket of a dump: known (mark it seen) or new (add it, pending). */
static void on_dump_sock(void *arg, const struct cn_nd_sock *s)
{
    struct net *n = arg;
    if (is_listener_state(s->proto, s->state) && n->nlis < MAX_LISTENERS) {
        struct listener *l = &n->lis[n->nlis++];
        l->cookie = s->cookie;
        l->family = s->family;
        l->proto = s->proto;
        l->port = s->sport;
        memcpy(l->addr, s->src, sizeof l->addr);
    }
    struct rec *r = rec_find(n, s->cookie);
    if (r) {
        if (r->seen_gen != n->gen)
            n->seen_this_poll++;
        r->seen_gen = n->gen;
        r->missing_since_ns = 0;
        r->state = s->state;
        if (!r->inode)
            r->inode = s->inode;
        return;
    }
    /* No inode: either a connection waiting in a listener's queue, which
     * gets one when the server accepts it without moving the socket
     * count, so the gate must stay open until it is seen again; or a
     * socket no process holds any more (closed, finishing its FIN
     * exchange) that was never seen open, whose destroy message will
     * tell. */
    if (s->inode == 0) {
        if (s->state == ST_ESTABLISHED || s->state == ST_CLOSE_WAIT)
            n->gates[s->proto == IPPROTO_UDP].unaccepted = 1;
        return;
    }
    if (n->count >= n->max_sockets)
        evict_oldest(n);
    r = calloc(1, sizeof *r);
    if (!r)
        return;
    r->cookie = s->cookie;
    r->inode = s->inode;
    r->uid = s->uid;
    r->family = s->family;
    r->proto = s->proto;
    r->state = s->state;
    memcpy(r->laddr, s->src, sizeof r->laddr);
    memcpy(r->raddr, s->dst, sizeof r->raddr);
    r->lport = s->sport;
    r->rport = s->dport;
    r->first_mono_ns = n->host->monotonic_ns();
    r->first_wall_ns = n->host->now_ns();
    r->seen_gen = n->gen;
    r->flags = RF_PENDING | (n->first_done ? 0 : RF_EXISTING);
    uint32_t slot = cookie_slot(n, r->cookie);
    r->hnext = n->slots[slot];
    n->slots[slot] = r;
    r->older = n->newest;
    if (n->newest)
        n->newest->newer = r;
    else
        n->oldest = r;
    n->newest = r;
    r->pnext = n->pending;
    n->pending = r;
    n->dumps[kind_index(r->proto, r->family)].nrec++;
    n->count++;
    n->seen_this_poll++;
    rp_util_count(&n->ctr, C_SEEN, 1);
}

/* Sockets that left the dumps: a lost destroy message, or no destroy groups.
 * After a grace period they count as closed. */
static void expire_missing(struct net *n, int64_t now)
{
    struct rec *r = n->oldest;
    while (r) {
        struct rec *next = r->newer;
        if (r->seen_gen != n->gen && n->dumps[kind_index(r->proto, r->family)].dumped) {
            if (!r->missing_since_ns) {
                r->missing_since_ns = now;
            } else if (now - r->missing_since_ns >= EXPIRE_NS) {
                if (r->flags & RF_PENDING) {
                    pending_unlink(n, r);
                    finalize(n, r);
                }
                if (!(r->flags & (RF_SELF | RF_EXCLUDED))) {
                    publish_close(n, r, NULL,
                                  "no destroy message came for this socket; it left the "
                                  "kernel's tables about 2 s before this event");
                    rp_util_count(&n->ctr, C_EXPIRED, 1);
                }
                rec_remove(n, r);
            }
        }
        r = next;
    }
}

static void reopen_dump(struct net *n)
{
    /* An abandoned dump keeps the socket busy until drained; a new socket
     * is the simple way out. */
    int fd;
    if (cn_nd_open_dump(&fd) == 0) {
        close(n->dump_fd);
        n->dump_fd = fd;
    }
}

/* Reads the "inuse" figure of a protocol line ("TCP: inuse 5 ...") of a
 * sockstat file; -1 when it is missing. */
static int64_t sockstat_inuse(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, line, len) != 0 || strncmp(p + len, " inuse ", 7) != 0)
            continue;
        p += len + 7;
        int64_t v = 0;
        int digits = 0;
        while (*p >= '0' && *p <= '9' && v < INT64_MAX / 10 - 10) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        return digits ? v : -1;
    }
    return -1;
}

/* The kernel's count of hashed sockets per protocol and family, in this
 * network namespace: every socket that binds, listens, connects or is
 * accepted moves it, every unhashed one moves it back and sends a destroy
 * message. Returns 0 and fills inuse[proto][family], or -1. */
static int read_inuse(const struct net *n, int64_t inuse[2][2])
{
    char a[2048], b[2048];
    ssize_t la = pread(n->stat_fd, a, sizeof a - 1, 0);
    ssize_t lb = pread(n->stat6_fd, b, sizeof b - 1, 0);
    if (la <= 0 || lb <= 0)
        return -1;
    a[la] = '\0';
    b[lb] = '\0';
    inuse[0][0] = sockstat_inuse(a, "TCP:");
    inuse[0][1] = sockstat_inuse(b, "TCP6:");
    inuse[1][0] = sockstat_inuse(a, "UDP:");
    inuse[1][1] = sockstat_inuse(b, "UDP6:");
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (inuse[i][j] < 0)
                return -1;
    return 0;
}

/* Drops one protocol's listeners before that protocol is dumped again. */
static void forget_listeners(struct net *n, uint8_t proto)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n->nlis; i++)
        if (n->lis[i].proto != proto)
            n->lis[k++] = n->lis[i];
    n->nlis = k;
}

/* Dumps one kind; returns 0 or the error (already counted and logged). */
static int dump_kind(struct net *n, struct dump_kind *k)
{
    uint64_t bad = 0;
    uint32_t states = k->proto == IPPROTO_TCP ? TCP_STATES : UDP_STATES;
    int rc = cn_nd_dump(n->dump_fd, k->family, k->proto, states, n->buf, BUF_LEN, ++n->seq,
                        on_dump_sock, n, &bad);
    rp_util_count(&n->ctr, C_DUMPS, 1);
    rp_util_count(&n->ctr, C_PARSE, bad);
    const char *what = k->proto == IPPROTO_TCP ? (k->family == AF_INET ? "tcp" : "tcp6")
                                               : (k->family == AF_INET ? "udp" : "udp6");
    if (rc != 0) {
        rp_util_count(&n->ctr, C_DUMP_ERRORS, 1);
        if (rc == RP_ERR_UNSUPPORTED) {
            k->enabled = 0;
            rp_util_logf(
                n->host, n->self, RP_LOG_WARN,
                "%s sockets cannot be dumped on this kernel (no %s_diag module?); %s is not "
                "watched",
                what, k->proto == IPPROTO_TCP ? "tcp" : "udp", what);
        } else if (rc != k->last_rc) {
            rp_util_logf(n->host, n->self, RP_LOG_WARN, "%s dump failed: %s", what,
                         rp_strerror(rc));
        }
        reopen_dump(n);
    } else {
        if (k->last_rc != 0)
            rp_util_logf(n->host, n->self, RP_LOG_INFO, "%s dumps work again", what);
        k->dumped = 1;
    }
    k->last_rc = rc;
    return rc;
}

static void on_poll(void *arg)
{
    struct net *n = arg;
    int64_t t0 = n->host->monotonic_ns();
    n->gen++;
    n->seen_this_poll = 0;
    for (int i = 0; i < 4; i++)
        n->dumps[i].dumped = 0;

    /* The gate: a protocol whose socket counts did not move and none of
     * whose sockets was destroyed since its last dump has no new socket
     * (a new one would have moved the count, unless another was unhashed
     * meanwhile, and that one's destroy message reopens the gate), so its
     * dump, the main idle cost, is skipped. A connection still waiting to
     * be accepted keeps the gate open: accepting it gives it an inode
     * without moving any count. */
    int64_t inuse[2][2];
    int gate_ok = n->stat_fd >= 0 && n->skip_unchanged && n->first_done && !n->drops_since &&
                  read_inuse(n, inuse) == 0;
    n->drops_since = 0;
    for (int p = 0; p < 2; p++) {
        struct gate *g = &n->gates[p];
        struct dump_kind *k4 = &n->dumps[p * 2], *k6 = &n->dumps[p * 2 + 1];
        if (!k4->enabled && !k6->enabled)
            continue;
        if (gate_ok && g->valid && g->destroys == 0 && g->inuse[0] == inuse[p][0] &&
            g->inuse[1] == inuse[p][1] && t0 - g->last_dump_ns < MAX_SKIP_NS) {
            rp_util_count(&n->ctr, C_SKIPPED, 1);
            continue;
        }
        /* Counted from before the dump: anything that happens during it
         * shows at the next poll. */
        g->destroys = 0;
        g->last_dump_ns = t0;
        g->valid = gate_ok;
        if (gate_ok)
            memcpy(g->inuse, inuse[p], sizeof g->inuse);
        forget_listeners(n, k4->proto);
        g->unaccepted = 0;
        if (k4->enabled && dump_kind(n, k4) != 0)
            g->valid = 0;
        if (k6->enabled && dump_kind(n, k6) != 0)
            g->valid = 0;
        if (g->unaccepted)
            g->valid = 0;
    }
    for (struct rec *r = n->pending; r; r = r->pnext)
        if (r->kind == K_UNSET)
            classify(n, r);
    int64_t now = n->host->monotonic_ns();
    /* A socket can only be missing from a kind that was dumped, and
     * dumped without error. */
    uint32_t expected = 0;
    for (int i = 0; i < 4; i++)
        if (n->dumps[i].dumped)
            expected += n->dumps[i].nrec;
    if (n->seen_this_poll < expected)
        expire_missing(n, now);
    if (n->pending)
        resolve_pending(n, now);
    if (!n->first_done) {
        n->first_done = 1;
        int64_t t1 = n->host->monotonic_ns();
        rp_util_logf(n->host, n->self, RP_LOG_INFO,
                     "first poll: %u sockets (%u listening) in %.1f ms; polling every %llu ms%s",
                     (unsigned)n->count, (unsigned)n->nlis, (double)(t1 - t0) / 1e6,
                     (unsigned long long)n->poll_ms,
                     n->stat_fd >= 0 ? ", skipping unchanged protocols" : "");
    }
}

/* ---- destroy messages ------------------------------------------------------ */

static void on_destroy_sock(struct net *n, const struct cn_nd_sock *d)
{
    rp_util_count(&n->ctr, C_DESTROY, 1);
    n->gates[d->proto == IPPROTO_UDP].destroys++;
    struct rec *r = rec_find(n, d->cookie);
    if (r) {
        if (r->flags & RF_PENDING) {
            /* Closed before its process was found: report what is known. */
            pending_unlink(n, r);
            if (r->kind == K_UNSET)
                classify(n, r);
            try_map(n, r);
            finalize(n, r);
        }
        if (!(r->flags & (RF_SELF | RF_EXCLUDED)))
            publish_close(n, r, d, NULL);
        rec_remove(n, r);
        return;
    }
    /* Opened and closed between two polls (or never in a watched state). */
    rp_util_count(&n->ctr, C_UNMATCHED, 1);
    if (!n->report_unmatched || d->dport == 0)
        return; /* an unconnected socket: nothing to tell */
    struct rec tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cookie = d->cookie;
    tmp.family = d->family;
    tmp.proto = d->proto;
    tmp.state = ST_ESTABLISHED;
    memcpy(tmp.laddr, d->src, sizeof tmp.laddr);
    memcpy(tmp.raddr, d->dst, sizeof tmp.raddr);
    tmp.lport = d->sport;
    tmp.rport = d->dport;
    tmp.flags = RF_NO_UID;
    classify(n, &tmp);
    publish_close(n, &tmp, d, NULL);
}

static void on_destroy_ready(void *arg, int64_t fd, uint32_t revents)
{
    struct net *n = arg;
    (void)revents;
    for (int i = 0; i < DESTROY_BATCH; i++) {
        struct sockaddr_nl from;
        socklen_t fromlen = sizeof from;
        ssize_t got =
            recvfrom((int)fd, n->buf, BUF_LEN, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                /* The kernel dropped messages: their sockets will expire
                 * from the table instead. */
                rp_util_count(&n->ctr, C_DROPS, 1);
                n->drops_since = 1;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK && !n->recv_error_logged) {
                n->recv_error_logged = 1;
                rp_util_logf(n->host, n->self, RP_LOG_WARN, "reading destroy messages: %s",
                             strerror(errno));
            }
            return;
        }
        if (from.nl_pid != 0)
            continue; /* only the kernel speaks for the destroy groups */
        size_t off = 0;
        struct cn_nd_msg m;
        int rc;
        while ((rc = cn_nd_msg_next(n->buf, (size_t)got, &off, &m)) == 0) {
            struct cn_nd_sock d;
            if (cn_nd_parse(m.data, m.len, 0, &d) == 0)
                on_destroy_sock(n, &d);
            else
                rp_util_count(&n->ctr, C_PARSE, 1);
        }
        if (rc == RP_ERR_PARSE)
            rp_util_count(&n->ctr, C_PARSE, 1);
    }
}

/* ---- lifecycle --------------------------------------------------------------- */

static void net_free(struct net *n)
{
    if (!n)
        return;
    if (n->slots) {
        struct rec *r = n->oldest;
        while (r) {
            struct rec *next = r->newer;
            free(r->exe);
            free(r);
            r = next;
        }
    }
    if (n->ps_ok)
        cn_ps_fini(&n->ps);
    free(n->slots);
    free(n->lis);
    free(n->buf);
    rp_util_exclude_free(&n->excl);
    free(n);
}

static int net_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct net *n = calloc(1, sizeof *n);
    if (!n)
        return RP_ERR_NOMEM;
    n->self = self;
    n->host = host;
    n->dump_fd = n->destroy_fd = n->stat_fd = n->stat6_fd = -1;
    int rc = rp_util_fields_register(host, self, field_defs, F_COUNT_, n->f);
    if (rc == 0)
        rc = rp_util_counters_register(&n->ctr, host, self, counter_names, C_COUNT_, 0);
    if (rc != 0) {
        free(n);
        return rc;
    }
    /* The config was validated against the schema with its defaults filled
     * in; a getter fails only on a host that broke that promise. */
    const struct {
        const char *ptr;
        uint64_t dflt;
        uint64_t *out;
    } nums[] = {{"/poll_interval_ms", 1000, &n->poll_ms},
                {"/max_sockets", 16384, &n->max_sockets},
                {"/max_fd_reads", 20000, &n->max_fd_reads}};
    const struct {
        const char *ptr;
        int dflt;
        int *out;
    } flags[] = {{"/tcp", 1, &n->tcp},
                 {"/udp", 1, &n->udp},
                 {"/ipv6", 1, &n->ipv6},
                 {"/exclude_self", 0, &n->exclude_self},
                 {"/report_existing", 1, &n->report_existing},
                 {"/report_unmatched_close", 1, &n->report_unmatched},
                 {"/skip_unchanged", 1, &n->skip_unchanged}};
    int conf_ok = 1;
    for (size_t i = 0; conf_ok && i < sizeof nums / sizeof nums[0]; i++)
        conf_ok =
            rp_util_conf_ok(host, self, nums[i].ptr,
                            rp_util_conf_u64(host, self, nums[i].ptr, nums[i].dflt, nums[i].out));
    for (size_t i = 0; conf_ok && i < sizeof flags / sizeof flags[0]; i++)
        conf_ok = rp_util_conf_ok(
            host, self, flags[i].ptr,
            rp_util_conf_bool(host, self, flags[i].ptr, flags[i].dflt, flags[i].out));
    if (!conf_ok) {
        free(n);
        return RP_ERR_CONFIG;
    }
    if (!n->tcp && !n->udp) {
        static const char msg[] = "tcp and udp are both off: nothing to watch";
        host->set_error(self, msg, sizeof msg - 1);
        free(n);
        return RP_ERR_CONFIG;
    }
    char xerr[256];
    rc = rp_util_exclude_read(host, self, &n->excl, rp_util_proc_user_uid, xerr, sizeof xerr);
    if (rc != 0) {
        host->set_error(self, xerr, strlen(xerr));
        free(n);
        return rc;
    }
    rp_util_machine_id(n->machine_id, sizeof n->machine_id, &n->mid_len);
    n->dumps[0] = (struct dump_kind){.family = AF_INET, .proto = IPPROTO_TCP, .enabled = n->tcp};
    n->dumps[1] =
        (struct dump_kind){.family = AF_INET6, .proto = IPPROTO_TCP, .enabled = n->tcp && n->ipv6};
    n->dumps[2] = (struct dump_kind){.family = AF_INET, .proto = IPPROTO_UDP, .enabled = n->udp};
    n->dumps[3] =
        (struct dump_kind){.family = AF_INET6, .proto = IPPROTO_UDP, .enabled = n->udp && n->ipv6};

    n->nslots = 256;
    while (n->nslots < n->max_sockets && n->nslots < (1u << 20))
        n->nslots <<= 1;
    n->slots = calloc(n->nslots, sizeof *n->slots);
    n->lis = calloc(MAX_LISTENERS, sizeof *n->lis);
    n->buf = malloc(BUF_LEN);
    if (!n->slots || !n->lis || !n->buf) {
        net_free(n);
        return RP_ERR_NOMEM;
    }
    n->mypid = (int32_t)getpid();
    n->last_forced_ns = INT64_MIN / 2;
    n->forced_complete_ns = INT64_MIN / 2;
    *state = n;
    return 0;
}

static int net_start(rp_plugin *self, void *state)
{
    struct net *n = state;
    const rp_host_api *h = n->host;
    int rc = cn_nd_open_dump(&n->dump_fd);
    if (rc != 0) {
        static const char msg[] = "cannot open a NETLINK_SOCK_DIAG socket";
        h->set_error(self, msg, sizeof msg - 1);
        return rc;
    }
    rc = cn_ps_init(&n->ps);
    n->ps_ok = rc == 0;
    if (!n->ps_ok)
        rp_util_logf(n->host, n->self, RP_LOG_WARN,
                     "cannot read /proc (%s): events will carry no process", rp_strerror(rc));

    uint32_t groups = 0;
    if (n->tcp)
        groups |= 1u << (SKNLGRP_INET_TCP_DESTROY - 1);
    if (n->udp)
        groups |= 1u << (SKNLGRP_INET_UDP_DESTROY - 1);
    if (n->tcp && n->ipv6)
        groups |= 1u << (SKNLGRP_INET6_TCP_DESTROY - 1);
    if (n->udp && n->ipv6)
        groups |= 1u << (SKNLGRP_INET6_UDP_DESTROY - 1);
    rc = cn_nd_open_destroy(groups, DESTROY_RCVBUF, &n->destroy_fd);
    if (rc == 0) {
        rc = h->fd_watch(self, n->destroy_fd, RP_FD_READ, on_destroy_ready, n, &n->watch_id);
        if (rc != 0) {
            close(n->destroy_fd);
            n->destroy_fd = -1;
        }
    }
    if (rc != 0)
        rp_util_logf(n->host, n->self, RP_LOG_WARN,
                     "no sock_diag destroy messages (%s; CAP_NET_ADMIN is needed): closes are "
                     "reported when a socket leaves the dumps, without byte counts",
                     rp_strerror(rc));

    /* The change gate needs the destroy messages (they are what tells a
     * socket that replaced another from no change at all). */
    if (n->skip_unchanged && n->destroy_fd >= 0) {
        n->stat_fd = open("/proc/net/sockstat", O_RDONLY | O_CLOEXEC);
        n->stat6_fd = open("/proc/net/sockstat6", O_RDONLY | O_CLOEXEC);
        int64_t probe[2][2];
        if (n->stat_fd < 0 || n->stat6_fd < 0 || read_inuse(n, probe) != 0) {
            rp_util_logf(n->host, n->self, RP_LOG_WARN,
                         "cannot read /proc/net/sockstat{,6}: every poll dumps");
            close_fd(&n->stat_fd);
            close_fd(&n->stat6_fd);
        }
    }

    rc = h->timer_start(self, 0, n->poll_ms, on_poll, n, &n->timer_id);
    if (rc != 0) {
        static const char msg[] = "cannot start the poll timer";
        h->set_error(self, msg, sizeof msg - 1);
        return rc;
    }
    return 0;
}

static int net_stop(rp_plugin *self, void *state)
{
    struct net *n = state;
    if (n->timer_id) {
        n->host->timer_stop(self, n->timer_id);
        n->timer_id = 0;
    }
    if (n->watch_id) {
        n->host->fd_unwatch(self, n->watch_id);
        n->watch_id = 0;
    }
    close_fd(&n->destroy_fd);
    close_fd(&n->dump_fd);
    close_fd(&n->stat_fd);
    close_fd(&n->stat6_fd);
    return 0;
}

static void net_destroy(rp_plugin *self, void *state)
{
    struct net *n = state;
    (void)self;
    if (n && (n->dump_fd >= 0 || n->destroy_fd >= 0 || n->stat_fd >= 0 || n->stat6_fd >= 0))
        net_stop(self, n);
    net_free(n);
}

/* What each event type carries (ABI 1.1 provides; sdk/docs/fields.md is
 * generated from it). A 1.0 agent would ignore it. Every type carries
 * common_fields; a listener has no source; a close has the counts of
 * tcp_info. */
static const char *const common_fields[] = {"@timestamp",
                                            "event.category",
                                            "event.type",
                                            "event.action",
                                            "destination.ip",
                                            "destination.port",
                                            "network.direction",
                                            "network.transport",
                                            "network.iana_number",
                                            "network.type",
                                            "user.id",
                                            "event.dataset",
                                            "process.pid",
                                            "process.thread.name",
                                            "process.executable",
                                            "process.name",
                                            "rampart.process.executable_memfd",
                                            "rampart.process.executable_deleted",
                                            "process.entity_id",
                                            "rampart.incomplete",
                                            NULL};
static const char *const conn_fields[] = {"source.ip", "source.port", NULL};
static const char *const listen_fields[] = {NULL};
static const char *const close_fields[] = {"event.reason",      "source.ip",
                                           "source.port",       "source.bytes",
                                           "destination.bytes", "network.bytes",
                                           "source.packets",    "destination.packets",
                                           "network.packets",   NULL};

static const rp_event_fields provides[] = {{"*", common_fields},
                                           {"network.connect", conn_fields},
                                           {"network.accept", conn_fields},
                                           {"network.listen", listen_fields},
                                           {"network.close", close_fields},
                                           {NULL, NULL}};

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_COLLECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.collector.network",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "TCP/UDP connects, accepts, listeners and closes from sock_diag",
    .config_schema = config_schema,
    .init = net_init,
    .start = net_start,
    .stop = net_stop,
    .destroy = net_destroy,
    /* sock_diag destroy multicast groups and the forced receive buffer:
     * CAP_NET_ADMIN; /proc/<pid>/fd links of every user, to name a
     * socket's process: CAP_SYS_PTRACE for the links and
     * CAP_DAC_READ_SEARCH to list the folder (mode 0500, owned by the
     * process's user; without it the agent, holding only what it declares,
     * names no other user's sockets: tests/collectors/test_network_identity.sh). */
    .capabilities = RP_CAP_NET_ADMIN | RP_CAP_SYS_PTRACE | RP_CAP_DAC_READ_SEARCH,
    .field_namespace = "collector_network",
    .provides = provides,
};

RP_PLUGIN_ENTRY(descriptor)
