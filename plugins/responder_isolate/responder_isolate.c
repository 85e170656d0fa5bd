/*
 * plugins/responder_isolate/responder_isolate.c - network isolation (issue
 * 15, item 4): on a prevent alert asking for "isolate", or on `rampartctl
 * plugin isolate isolate [reason]`, the machine is cut off the network but
 * for the agent's backend and proxy (the host's endpoints service), the DNS
 * resolvers, DHCP, loopback, the admin hosts and the extra peers the config
 * allows, with the one nftables table of nft.h. `release` deletes the
 * table, `status` says what is in force. README.md says what each config
 * key does and lists the reason codes of the response events.
 *
 * Threads. Every table operation (isolate, release, refresh, rollback, the
 * re-apply at start) holds op_lock, so they never interleave; they run on
 * host workers (work_submit), command workers or, at start, the control
 * thread, never on the loop: resolving a name and probing the backend may
 * block for seconds. `lock` guards the shared state and is held only for
 * copies. The timers (loop thread) only submit jobs, one of each kind at a
 * time.
 *
 * Persistence. isolated.json in the private folder (written to a temporary
 * name, synced and renamed) says an isolation is in force, why and since
 * when, and the backend's addresses it allowed; at start an isolation in
 * force is applied again, atomically, whether the table survived (a restart)
 * or not (a reboot). The table is never removed at stop.
 */
#define _GNU_SOURCE
#include "nft.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_response.h>
#include <rampart/service_endpoints.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_FILE     "isolated.json"
#define STATE_TMP      "isolated.json.tmp"
#define STATE_MAX      (256u * 1024u)
#define RESOLV_CONF    "/etc/resolv.conf"
#define RESOLV_MAX     (64u * 1024u)
#define REASON_MAX     256u
#define ALERT_ID_MAX   128u
#define DNS_MAX        8u
#define LIST_MAX       64u
#define ENTRY_MAX      64u
#define ENDPOINTS_MAX  8u
#define PEERS_PER_HOST 16u
#define PROBE_MAX      32u
#define ERR_MAX        512u

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"refresh_interval_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":86400,"
    "\"default\":300,\"description\":\"the backend's names are resolved again and the "
    "table's sets refreshed this often while isolated\"},"
    "\"rollback_after_s\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":604800,"
    "\"default\":600,\"description\":\"isolation is rolled back when no backend endpoint "
    "answers a TCP connect for this long; 0: never\"},"
    "\"probe_interval_s\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3600,\"default\":10,"
    "\"description\":\"how often the backend is probed while isolated\"},"
    "\"probe_timeout_ms\":{\"type\":\"integer\",\"minimum\":50,\"maximum\":30000,"
    "\"default\":2000,\"description\":\"the bound of one probe (all endpoints at once)\"},"
    "\"dns\":{\"type\":[\"string\",\"array\"],\"default\":\"auto\",\"maxItems\":8,"
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":63},"
    "\"description\":\"resolvers kept reachable (UDP and TCP 53): auto (the nameserver lines "
    "of /etc/resolv.conf at isolation), none, or a list of addresses\"},"
    "\"dhcp\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"keep DHCP, DHCPv6 and IPv6 router discovery open\"},"
    "\"admin_hosts\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":63},"
    "\"description\":\"addresses or prefixes allowed both ways on any port\"},"
    "\"allow\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":63},"
    "\"description\":\"more addresses or prefixes the machine may reach\"},"
    "\"isolate_without_backend\":{\"type\":\"boolean\",\"default\":false,"
    "\"description\":\"isolate also when the agent has no backend endpoint (it then "
    "cannot report)\"}}}";

/* The settings, read at init and reconfigure; the allowed peers that come
 * from the config alone (admin hosts, extra peers, listed resolvers) are
 * parsed once into statics. */
struct conf {
    uint32_t refresh_s, rollback_s, probe_s, probe_timeout_ms;
    bool dns_auto, dhcp, without_backend;
    struct ri_policy statics;
};

/* What isolated.json says. */
struct state {
    bool isolated;
    int64_t since_ns;
    char reason[REASON_MAX];
    char alert_id[ALERT_ID_MAX];
    char trigger[16];
};

/* The outcome of one action, for the command's reply. */
struct result {
    int outcome; /* RP_UTIL_RESPONSE_* */
    const char *code;
    char message[RP_UTIL_RESPONSE_MESSAGE_MAX];
    uint32_t allowed, reset;
};

enum field { F_ALLOWED, F_RESET, F_ISOLATE_REASON, F_COUNT };

static const rp_util_field_def field_defs[F_COUNT] = {
    {"isolate.allowed", RP_TYPE_STR_ARRAY},
    {"isolate.sessions_reset", RP_TYPE_U64},
    {"isolate.reason", RP_TYPE_STR},
};

struct ipl {
    const rp_host_api *host;
    rp_plugin *self;
    rp_util_response resp;
    rp_field_id f[F_COUNT];
    int dirfd; /* the private folder, the host's */

    pthread_mutex_t op_lock; /* one table operation at a time */
    pthread_mutex_t lock;    /* everything below */
    struct conf conf;
    struct state st;
    struct ri_policy pol; /* applied, while isolated */
    int64_t last_refresh_ns;
    int last_refresh_rc;
    char last_refresh_err[ERR_MAX];
    int64_t last_probe_ns, last_reachable_ns;
    /* The rollback's clock: monotonic, so a step of the wall clock neither
     * fires nor delays it. */
    int64_t reachable_mono_ns;
    int backend_reachable; /* -1 not probed yet, 0, 1 */

    uint64_t refresh_timer, probe_timer;
    uint32_t gauge_isolated, gauge_allowed;
    /* refresh_again: a reload asked for a refresh while one was under way
     * (it may have read the old endpoints): one more follows it. */
    atomic_int refresh_pending, refresh_again, probe_pending, stopping;
};

enum job_kind { J_ALERT, J_REFRESH, J_PROBE, J_REAPPLY };

struct job {
    struct ipl *p;
    enum job_kind kind;
    const rp_event *ev; /* J_ALERT: a reference */
};

/* ---- small helpers ------------------------------------------------------------------------- */

static int refuse(struct ipl *p, int rc, const char *msg)
{
    p->host->set_error(p->self, msg, strlen(msg));
    return rc;
}

static const char *role_name(int role)
{
    switch (role) {
    case RI_ROLE_BACKEND:
        return "backend";
    case RI_ROLE_PROXY:
        return "proxy";
    case RI_ROLE_DNS:
        return "dns";
    case RI_ROLE_ADMIN:
        return "admin";
    case RI_ROLE_EXTRA:
        return "extra";
    default:
        return "?";
    }
}

static int role_of(const char *name)
{
    for (int r = RI_ROLE_BACKEND; r <= RI_ROLE_EXTRA; r++)
        if (strcmp(role_name(r), name) == 0)
            return r;
    return 0;
}

static const char *proto_name(uint8_t proto)
{
    return proto == IPPROTO_TCP ? "tcp" : proto == IPPROTO_UDP ? "udp" : "any";
}

static void addr_text(const struct ri_allow *a, char *buf, size_t cap)
{
    if (!inet_ntop(a->family, a->addr, buf, (socklen_t)cap))
        snprintf(buf, cap, "?");
}

/* "192.0.2.7/32 tcp/443 backend" */
static void peer_text(const struct ri_allow *a, char *buf, size_t cap)
{
    char addr[INET6_ADDRSTRLEN];
    addr_text(a, addr, sizeof addr);
    if (a->port)
        snprintf(buf, cap, "%s/%u %s/%u %s", addr, a->prefix_bits, proto_name(a->proto), a->port,
                 role_name(a->role));
    else
        snprintf(buf, cap, "%s/%u %s %s", addr, a->prefix_bits, proto_name(a->proto),
                 role_name(a->role));
}

static void time_text(int64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    if (ns <= 0 || !gmtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, cap, "never");
}

static json_t *time_json(int64_t ns)
{
    char buf[40];
    if (ns <= 0)
        return json_null();
    time_text(ns, buf, sizeof buf);
    return json_string(buf);
}

static void copy_str(char *dst, size_t cap, const char *src, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* The gauges of status.json and `rampartctl plugins`: isolated (0 or 1)
 * and the allowed peers in force. */
static void gauges_set(struct ipl *p)
{
    pthread_mutex_lock(&p->lock);
    int64_t on = p->st.isolated, n = p->st.isolated ? (int64_t)p->pol.n_allow : 0;
    pthread_mutex_unlock(&p->lock);
    p->host->gauge_set(p->self, p->gauge_isolated, on);
    p->host->gauge_set(p->self, p->gauge_allowed, n);
}

static bool is_backend_role(int role)
{
    return role == RI_ROLE_BACKEND || role == RI_ROLE_PROXY;
}

/* ---- config ---------------------------------------------------------------------------------- */

/* An entry of a list of addresses (key names the list) into p with role;
 * a DNS entry is port 53 (UDP and TCP). */
static int conf_entry(const char *key, uint32_t i, const char *text, int role,
                      struct ri_policy *pol, char *err, size_t errcap)
{
    struct ri_allow a;
    char why[256] = "";
    int rc = ri_allow_parse(text, role, &a, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errcap, "config /%s/%u: \"%s\" is not an address or prefix (%s)", key, i,
                 text, why[0] ? why : rp_strerror(rc));
        return RP_ERR_CONFIG;
    }
    if (role == RI_ROLE_DNS)
        a.port = 53;
    rc = ri_policy_add(pol, &a);
    if (rc != 0) {
        snprintf(err, errcap, "config /%s: more than %u allowed peers", key, RI_ALLOW_MAX);
        return RP_ERR_CONFIG;
    }
    return 0;
}

static int conf_list(const rp_host_api *host, rp_plugin *self, const char *key, int role,
                     struct ri_policy *pol, char *err, size_t errcap)
{
    char ptr[32], text[ENTRY_MAX];
    uint32_t n = 0;
    snprintf(ptr, sizeof ptr, "/%s", key);
    int rc = rp_util_conf_str_count(host, self, ptr, &n);
    if (rc == RP_ERR_NOTFOUND)
        return 0;
    if (rc != 0) {
        snprintf(err, errcap, "config /%s: %s", key, rp_strerror(rc));
        return RP_ERR_CONFIG;
    }
    for (uint32_t i = 0; i < n && i < LIST_MAX; i++) {
        rc = rp_util_conf_str_item(host, self, ptr, i, text, sizeof text, NULL);
        if (rc != 0) {
            snprintf(err, errcap, "config /%s/%u: %s", key, i, rp_strerror(rc));
            return RP_ERR_CONFIG;
        }
        if ((rc = conf_entry(key, i, text, role, pol, err, errcap)) != 0)
            return rc;
    }
    return 0;
}

static int conf_u32(const rp_host_api *host, rp_plugin *self, const char *ptr, uint32_t dflt,
                    uint32_t *out, char *err, size_t errcap)
{
    uint64_t v = 0;
    int rc = rp_util_conf_u64(host, self, ptr, dflt, &v);
    if (rc != 0 && rc != RP_ERR_NOTFOUND) {
        snprintf(err, errcap, "config %s: %s", ptr, rp_strerror(rc));
        return RP_ERR_CONFIG;
    }
    *out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
    return 0;
}

static int conf_flag(const rp_host_api *host, rp_plugin *self, const char *ptr, int dflt, bool *out,
                     char *err, size_t errcap)
{
    int v = dflt;
    int rc = rp_util_conf_bool(host, self, ptr, dflt, &v);
    if (rc != 0 && rc != RP_ERR_NOTFOUND) {
        snprintf(err, errcap, "config %s: %s", ptr, rp_strerror(rc));
        return RP_ERR_CONFIG;
    }
    *out = v != 0;
    return 0;
}

/* Reads and checks the config into c; RP_ERR_CONFIG with err naming the key. */
static int conf_read(const rp_host_api *host, rp_plugin *self, struct conf *c, char *err,
                     size_t errcap)
{
    memset(c, 0, sizeof *c);
    int rc = conf_u32(host, self, "/refresh_interval_s", 300, &c->refresh_s, err, errcap);
    if (rc == 0)
        rc = conf_u32(host, self, "/rollback_after_s", 600, &c->rollback_s, err, errcap);
    if (rc == 0)
        rc = conf_u32(host, self, "/probe_interval_s", 10, &c->probe_s, err, errcap);
    if (rc == 0)
        rc = conf_u32(host, self, "/probe_timeout_ms", 2000, &c->probe_timeout_ms, err, errcap);
    if (rc == 0)
        rc = conf_flag(host, self, "/dhcp", 1, &c->dhcp, err, errcap);
    if (rc == 0)
        rc = conf_flag(host, self, "/isolate_without_backend", 0, &c->without_backend, err, errcap);
    if (rc != 0)
        return rc;
    c->statics.flags = c->dhcp ? RI_POLICY_DHCP : 0;
    /* dns: "auto", "none", or a list of addresses. */
    char word[16];
    rc = rp_util_conf_str(host, self, "/dns", "auto", word, sizeof word, NULL);
    if (rc == 0 || rc == RP_ERR_NOTFOUND) {
        if (strcmp(word, "auto") == 0)
            c->dns_auto = true;
        else if (strcmp(word, "none") != 0) {
            snprintf(err, errcap,
                     "config /dns: \"%s\" is neither \"auto\", \"none\" nor a list "
                     "of addresses",
                     word);
            return RP_ERR_CONFIG;
        }
    } else if (rc == RP_ERR_TYPE) {
        if ((rc = conf_list(host, self, "dns", RI_ROLE_DNS, &c->statics, err, errcap)) != 0)
            return rc;
    } else {
        snprintf(err, errcap, "config /dns: %s", rp_strerror(rc));
        return RP_ERR_CONFIG;
    }
    rc = conf_list(host, self, "admin_hosts", RI_ROLE_ADMIN, &c->statics, err, errcap);
    if (rc == 0)
        rc = conf_list(host, self, "allow", RI_ROLE_EXTRA, &c->statics, err, errcap);
    return rc;
}

/* ---- the allowed set ------------------------------------------------------------------------- */

/* The nameserver lines of /etc/resolv.conf (read now: it may have changed
 * since the agent started) into pol, port 53, at most DNS_MAX. */
static void dns_auto(struct ipl *p, struct ri_policy *pol)
{
    int fd = open(RESOLV_CONF, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        rp_util_logf(p->host, p->self, RP_LOG_WARN,
                     "dns auto: cannot open %s: %s; no resolver "
                     "kept reachable",
                     RESOLV_CONF, strerror(errno));
        return;
    }
    char *buf = malloc(RESOLV_MAX + 1);
    size_t got = 0;
    while (buf && got < RESOLV_MAX) {
        ssize_t n = read(fd, buf + got, RESOLV_MAX - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (!buf)
        return;
    buf[got] = '\0';
    uint32_t found = 0;
    for (char *line = buf, *next; line && found < DNS_MAX; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        while (*line == ' ' || *line == '\t')
            line++;
        if (strncmp(line, "nameserver", 10) != 0 || (line[10] != ' ' && line[10] != '\t'))
            continue;
        char *a = line + 10;
        while (*a == ' ' || *a == '\t')
            a++;
        size_t n = strcspn(a, " \t\r#;%"); /* an IPv6 zone (%eth0) is cut */
        char addr[INET6_ADDRSTRLEN];
        if (n == 0 || n >= sizeof addr)
            continue;
        memcpy(addr, a, n);
        addr[n] = '\0';
        struct ri_allow al;
        char why[128];
        if (ri_allow_parse(addr, RI_ROLE_DNS, &al, why, sizeof why) != 0) {
            rp_util_logf(p->host, p->self, RP_LOG_WARN, "dns auto: %s: \"%s\" skipped (%s)",
                         RESOLV_CONF, addr, why);
            continue;
        }
        al.port = 53;
        if (ri_policy_add(pol, &al) == 0)
            found++;
    }
    free(buf);
}

/*
 * The backend's peers: every endpoint of the host's endpoints service
 * resolved now (TCP to its port, role backend or proxy) into out. *endpoints
 * is how many endpoints there are, *unresolved how many gave no address
 * (err names the last). Blocks while resolving: workers and the control
 * thread only.
 */
static void backend_resolve(struct ipl *p, struct ri_policy *out, uint32_t *endpoints,
                            uint32_t *unresolved, char *err, size_t errcap)
{
    const rp_endpoints_service *eps = NULL;
    uint64_t hold = 0;
    memset(out, 0, sizeof *out);
    *endpoints = *unresolved = 0;
    if (p->host->service_acquire(p->self, RP_ENDPOINTS_SERVICE, sizeof RP_ENDPOINTS_SERVICE - 1,
                                 RP_ENDPOINTS_VERSION, (const void **)&eps, &hold) != 0)
        return;
    rp_endpoint e[ENDPOINTS_MAX];
    uint32_t n = 0;
    for (; n < ENDPOINTS_MAX; n++) {
        memset(&e[n], 0, sizeof e[n]);
        e[n].struct_size = sizeof e[n];
        if (eps->get(eps->ctx, n, &e[n], NULL) != 0)
            break;
        e[n].host[RP_ENDPOINT_HOST_MAX - 1] = '\0';
    }
    /* The copy is taken: resolving, which may take long, holds nothing. */
    p->host->service_release(p->self, hold);
    *endpoints = n;
    for (uint32_t i = 0; i < n; i++) {
        struct ri_allow peers[PEERS_PER_HOST];
        uint32_t got = 0;
        char why[256] = "";
        int role = e[i].role == RP_ENDPOINT_PROXY ? RI_ROLE_PROXY : RI_ROLE_BACKEND;
        int rc = ri_resolve(e[i].host, (uint16_t)e[i].port, IPPROTO_TCP, role, peers,
                            PEERS_PER_HOST, &got, why, sizeof why);
        if (rc != 0 || got == 0) {
            (*unresolved)++;
            snprintf(err, errcap, "%s: %s", e[i].host, why[0] ? why : rp_strerror(rc));
            continue;
        }
        for (uint32_t j = 0; j < got; j++)
            (void)ri_policy_add(out, &peers[j]);
    }
}

/* The whole policy: the backend's peers, then the resolvers (auto: read
 * now), the admin hosts and the extra peers of the config. */
static void policy_build(struct ipl *p, const struct conf *c, const struct ri_policy *backend,
                         struct ri_policy *out)
{
    memset(out, 0, sizeof *out);
    out->flags = c->statics.flags;
    for (uint32_t i = 0; i < backend->n_allow; i++)
        (void)ri_policy_add(out, &backend->allow[i]);
    if (c->dns_auto)
        dns_auto(p, out);
    for (uint32_t i = 0; i < c->statics.n_allow; i++)
        (void)ri_policy_add(out, &c->statics.allow[i]);
}

static json_t *peers_json(const struct ri_policy *pol, bool backend_only)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; arr && i < pol->n_allow; i++) {
        const struct ri_allow *a = &pol->allow[i];
        if (backend_only && !is_backend_role(a->role))
            continue;
        char addr[INET6_ADDRSTRLEN];
        addr_text(a, addr, sizeof addr);
        json_array_append_new(arr, json_pack("{s:s,s:i,s:s,s:i,s:s}", "address", addr, "prefix",
                                             (int)a->prefix_bits, "proto", proto_name(a->proto),
                                             "port", (int)a->port, "role", role_name(a->role)));
    }
    return arr;
}

/* ---- isolated.json --------------------------------------------------------------------------- */

/* Writes the state and the backend's peers atomically (temporary file,
 * fsync, rename, fsync of the folder). */
static int state_save(struct ipl *p, const struct state *st, const struct ri_policy *pol, char *err,
                      size_t errcap)
{
    json_t *j = json_pack("{s:i,s:b,s:I,s:s,s:s,s:s,s:o}", "version", 1, "isolated", 1, "since_ns",
                          (json_int_t)st->since_ns, "reason", st->reason, "alert_id", st->alert_id,
                          "trigger", st->trigger, "backend_peers", peers_json(pol, true));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        snprintf(err, errcap, "out of memory");
        return RP_ERR_NOMEM;
    }
    int rc = 0;
    size_t len = strlen(text), off = 0;
    int fd =
        openat(p->dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        rc = RP_ERR_IO;
    while (rc == 0 && off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = RP_ERR_IO;
        else
            off += (size_t)n;
    }
    if (rc == 0 && fsync(fd) != 0)
        rc = RP_ERR_IO;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = RP_ERR_IO;
    if (rc == 0 && renameat(p->dirfd, STATE_TMP, p->dirfd, STATE_FILE) != 0)
        rc = RP_ERR_IO;
    if (rc == 0 && fsync(p->dirfd) != 0)
        rc = RP_ERR_IO;
    if (rc != 0) {
        snprintf(err, errcap, "cannot write %s: %s", STATE_FILE, strerror(errno));
        (void)unlinkat(p->dirfd, STATE_TMP, 0);
    }
    free(text);
    return rc;
}

static int state_clear(struct ipl *p, char *err, size_t errcap)
{
    if (unlinkat(p->dirfd, STATE_FILE, 0) != 0 && errno != ENOENT) {
        snprintf(err, errcap, "cannot remove %s: %s", STATE_FILE, strerror(errno));
        return RP_ERR_IO;
    }
    (void)fsync(p->dirfd);
    return 0;
}

/*
 * Reads isolated.json: RP_ERR_NOTFOUND when there is none (not isolated),
 * RP_ERR_PARSE with err naming the field for one that cannot be read. The
 * file is opened once, without following a link, and must be a regular file
 * of the agent's user with one name.
 */
static int state_load(struct ipl *p, struct state *st, struct ri_policy *backend, char *err,
                      size_t errcap)
{
    memset(st, 0, sizeof *st);
    memset(backend, 0, sizeof *backend);
    int fd = openat(p->dirfd, STATE_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return RP_ERR_NOTFOUND;
        snprintf(err, errcap, "%s: cannot open: %s", STATE_FILE, strerror(errno));
        return RP_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() || sb.st_nlink != 1 ||
        sb.st_size > (off_t)STATE_MAX) {
        close(fd);
        snprintf(err, errcap,
                 "%s: not a regular file of the agent's user with one name, at "
                 "most %u bytes",
                 STATE_FILE, STATE_MAX);
        return RP_ERR_PARSE;
    }
    json_error_t je;
    json_t *j = json_loadfd(fd, 0, &je);
    close(fd);
    if (!j) {
        snprintf(err, errcap, "%s: line %d: %s", STATE_FILE, je.line, je.text);
        return RP_ERR_PARSE;
    }
    int rc = 0;
    const char *reason = json_string_value(json_object_get(j, "reason"));
    const char *alert_id = json_string_value(json_object_get(j, "alert_id"));
    const char *trigger = json_string_value(json_object_get(j, "trigger"));
    json_t *since = json_object_get(j, "since_ns"), *peers = json_object_get(j, "backend_peers");
    if (!json_is_true(json_object_get(j, "isolated")))
        snprintf(err, errcap, "%s: \"isolated\" is not true", STATE_FILE), rc = RP_ERR_PARSE;
    else if (!reason || !alert_id || !trigger)
        snprintf(err, errcap, "%s: \"reason\", \"alert_id\" and \"trigger\" must be strings",
                 STATE_FILE),
            rc = RP_ERR_PARSE;
    else if (!json_is_integer(since) || !json_is_array(peers))
        snprintf(err, errcap,
                 "%s: \"since_ns\" must be an integer and \"backend_peers\" an "
                 "array",
                 STATE_FILE),
            rc = RP_ERR_PARSE;
    for (size_t i = 0; rc == 0 && i < json_array_size(peers) && i < RI_ALLOW_MAX; i++) {
        json_t *e = json_array_get(peers, i);
        const char *addr = json_string_value(json_object_get(e, "address"));
        const char *role = json_string_value(json_object_get(e, "role"));
        const char *proto = json_string_value(json_object_get(e, "proto"));
        json_int_t prefix = json_integer_value(json_object_get(e, "prefix"));
        json_int_t port = json_integer_value(json_object_get(e, "port"));
        char text[INET6_ADDRSTRLEN + 8], why[128] = "";
        struct ri_allow a;
        int r = addr && role && proto ? role_of(role) : 0;
        if (!is_backend_role(r) || port < 1 || port > 65535 || prefix < 1 || prefix > 128) {
            snprintf(err, errcap,
                     "%s: backend_peers/%zu: expected an address, a prefix, a port "
                     "and the role backend or proxy",
                     STATE_FILE, i);
            rc = RP_ERR_PARSE;
            break;
        }
        snprintf(text, sizeof text, "%s/%d", addr, (int)prefix);
        if (ri_allow_parse(text, r, &a, why, sizeof why) != 0) {
            snprintf(err, errcap, "%s: backend_peers/%zu: %s", STATE_FILE, i, why);
            rc = RP_ERR_PARSE;
            break;
        }
        a.port = (uint16_t)port;
        a.proto = strcmp(proto, "udp") == 0   ? IPPROTO_UDP
                  : strcmp(proto, "tcp") == 0 ? IPPROTO_TCP
                                              : 0;
        (void)ri_policy_add(backend, &a);
    }
    if (rc == 0) {
        st->isolated = true;
        st->since_ns = (int64_t)json_integer_value(since);
        copy_str(st->reason, sizeof st->reason, reason, strlen(reason));
        copy_str(st->alert_id, sizeof st->alert_id, alert_id, strlen(alert_id));
        copy_str(st->trigger, sizeof st->trigger, trigger, strlen(trigger));
    }
    json_decref(j);
    return rc;
}

/* ---- response events ------------------------------------------------------------------------- */

static void set_allowed(struct ipl *p, rp_event *ev, const struct ri_policy *pol)
{
    static char texts[RI_ALLOW_MAX][INET6_ADDRSTRLEN + 32];
    static pthread_mutex_t texts_lock = PTHREAD_MUTEX_INITIALIZER;
    rp_str items[RI_ALLOW_MAX];
    uint32_t n = pol->n_allow < RI_ALLOW_MAX ? pol->n_allow : RI_ALLOW_MAX;
    /* set_str_array copies; the static buffer only saves stack. */
    pthread_mutex_lock(&texts_lock);
    for (uint32_t i = 0; i < n; i++) {
        peer_text(&pol->allow[i], texts[i], sizeof texts[i]);
        items[i].ptr = texts[i];
        items[i].len = strlen(texts[i]);
    }
    (void)p->host->set_str_array(ev, p->f[F_ALLOWED], items, n);
    pthread_mutex_unlock(&texts_lock);
}

/*
 * Publishes response.<action> with r's outcome: linked to alert when there
 * is one, else trigger (command, start) and, for a step of an isolation
 * begun by an alert (a rollback, a re-apply), alert_id.
 */
static void publish(struct ipl *p, const char *action, const rp_event *alert, const char *trigger,
                    const char *alert_id, const struct ri_policy *pol, const char *why,
                    const struct result *r)
{
    rp_event *ev = NULL;
    const rp_util_response *R = &p->resp;
    if (rp_util_response_begin(R, alert, action, "network",
                               strcmp(action, "release") == 0 ? "allowed" : "denied", &ev) != 0) {
        rp_util_logf(p->host, p->self, RP_LOG_ERROR, "cannot make the response event: %s",
                     r->message);
        return;
    }
    if (!alert && trigger && strcmp(trigger, "command") != 0)
        (void)p->host->set_str(ev, R->id[RP_UTIL_RF_TRIGGER], trigger, strlen(trigger));
    if (!alert && alert_id && alert_id[0])
        (void)p->host->set_str(ev, R->id[RP_UTIL_RF_ALERT_ID], alert_id, strlen(alert_id));
    if (pol)
        set_allowed(p, ev, pol);
    if (why && why[0])
        (void)p->host->set_str(ev, p->f[F_ISOLATE_REASON], why, strlen(why));
    if (r->outcome == RP_UTIL_RESPONSE_DONE && strcmp(action, "isolate") == 0)
        (void)p->host->set_u64(ev, p->f[F_RESET], r->reset);
    int rc = rp_util_response_finish(R, ev, alert, r->outcome, r->code, "%s", r->message);
    if (rc != 0)
        rp_util_logf(p->host, p->self, RP_LOG_WARN, "response.%s not published: %s", action,
                     rp_strerror(rc));
    rp_util_logf(p->host, p->self, r->outcome == RP_UTIL_RESPONSE_DONE ? RP_LOG_INFO : RP_LOG_WARN,
                 "%s%s%s: %s", action, r->code ? " " : "", r->code ? r->code : "", r->message);
}

static void result_set(struct result *r, int outcome, const char *code, const char *fmt, ...)
    RP_UTIL_PRINTF(4, 5);
static void result_set(struct result *r, int outcome, const char *code, const char *fmt, ...)
{
    va_list ap;
    r->outcome = outcome;
    r->code = code;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
}

/* ---- actions (op_lock held) ------------------------------------------------------------------ */

/* Applies pol and resets the sessions it does not allow; 0 or the error of
 * the apply (err says it). */
static int table_apply(struct ipl *p, const struct ri_policy *pol, uint32_t *reset, char *err,
                       size_t errcap)
{
    *reset = 0;
    int rc = ri_nft_apply(pol, err, errcap);
    if (rc != 0)
        return rc;
    char why[256] = "";
    int r2 = ri_reset_sessions(pol, reset, why, sizeof why);
    if (r2 != 0 && r2 != RP_ERR_UNSUPPORTED)
        rp_util_logf(p->host, p->self, RP_LOG_WARN,
                     "sessions not reset (the table resets them at their next packet): %s", why);
    return 0;
}

static void isolate_locked(struct ipl *p, const rp_event *alert, const char *reason,
                           const char *alert_id, struct result *r)
{
    struct conf c;
    struct state st;
    pthread_mutex_lock(&p->lock);
    c = p->conf;
    st = p->st;
    pthread_mutex_unlock(&p->lock);
    const char *trigger = alert ? "alert" : "command";
    memset(r, 0, sizeof *r);
    /* In force already: nothing changes, unless the table went away behind
     * the plugin's back, when it is applied anew. */
    int present = 1;
    char perr[ERR_MAX];
    if (st.isolated && ri_nft_present(&present, perr, sizeof perr) != 0)
        present = 1;
    if (st.isolated && present) {
        char since[40];
        time_text(st.since_ns, since, sizeof since);
        result_set(r, RP_UTIL_RESPONSE_DONE, NULL, "already isolated since %s (%s)", since,
                   st.reason);
        publish(p, "isolate", alert, trigger, alert_id, NULL, reason, r);
        return;
    }
    struct ri_policy *backend = malloc(sizeof *backend), *pol = malloc(sizeof *pol);
    if (!backend || !pol) {
        result_set(r, RP_UTIL_RESPONSE_FAILED, "no_memory", "not isolated: out of memory");
        publish(p, "isolate", alert, trigger, alert_id, NULL, reason, r);
        free(backend);
        free(pol);
        return;
    }
    char err[ERR_MAX] = "";
    uint32_t endpoints = 0, unresolved = 0;
    backend_resolve(p, backend, &endpoints, &unresolved, err, sizeof err);
    if (endpoints == 0 && !c.without_backend) {
        result_set(r, RP_UTIL_RESPONSE_REFUSED, "no_backend",
                   "not isolated: the agent has no backend endpoint (output.url), so isolating "
                   "would leave no one to report to; isolate_without_backend allows it");
    } else if (endpoints > 0 && backend->n_allow == 0) {
        result_set(r, RP_UTIL_RESPONSE_REFUSED, "backend_unresolved",
                   "not isolated: no address of the backend is known (%s)", err);
    } else {
        policy_build(p, &c, backend, pol);
        st.isolated = true;
        st.since_ns = p->host->now_ns();
        copy_str(st.reason, sizeof st.reason, reason, strlen(reason));
        copy_str(st.alert_id, sizeof st.alert_id, alert_id ? alert_id : "",
                 alert_id ? strlen(alert_id) : 0);
        copy_str(st.trigger, sizeof st.trigger, trigger, strlen(trigger));
        /* The state first: a crash after the apply must find the isolation
         * to keep. A state that cannot be written does not stop the
         * isolation (the threat is now); the response says it will not
         * outlive the agent. */
        char serr[ERR_MAX] = "";
        int saved = state_save(p, &st, pol, serr, sizeof serr);
        int rc = table_apply(p, pol, &r->reset, err, sizeof err);
        if (rc != 0) {
            char cerr[ERR_MAX];
            (void)state_clear(p, cerr, sizeof cerr);
            result_set(r, RP_UTIL_RESPONSE_FAILED, "nft_failed", "not isolated: %s", err);
        } else {
            r->allowed = pol->n_allow;
            pthread_mutex_lock(&p->lock);
            p->st = st;
            p->pol = *pol;
            p->last_refresh_ns = st.since_ns;
            p->last_refresh_rc = 0;
            p->last_refresh_err[0] = '\0';
            p->last_reachable_ns = st.since_ns;
            p->reachable_mono_ns = p->host->monotonic_ns();
            p->backend_reachable = -1;
            pthread_mutex_unlock(&p->lock);
            result_set(r, RP_UTIL_RESPONSE_DONE, NULL,
                       "isolated: %u peers allowed (%u backend endpoints%s), %u sessions reset%s%s",
                       pol->n_allow, endpoints, unresolved ? ", some unresolved" : "", r->reset,
                       saved != 0 ? "; the isolation will not survive a restart: " : "",
                       saved != 0 ? serr : "");
        }
    }
    publish(p, "isolate", alert, trigger, alert_id,
            r->outcome == RP_UTIL_RESPONSE_DONE ? pol : NULL, reason, r);
    free(backend);
    free(pol);
}

static void release_locked(struct ipl *p, const char *trigger, struct result *r)
{
    struct state st;
    pthread_mutex_lock(&p->lock);
    st = p->st;
    pthread_mutex_unlock(&p->lock);
    memset(r, 0, sizeof *r);
    char err[ERR_MAX] = "";
    int present = 0;
    (void)ri_nft_present(&present, err, sizeof err);
    if (!st.isolated && !present) {
        result_set(r, RP_UTIL_RESPONSE_REFUSED, "not_isolated", "not isolated: nothing to release");
    } else if (ri_nft_remove(err, sizeof err) != 0) {
        result_set(r, RP_UTIL_RESPONSE_FAILED, "nft_failed", "still isolated: %s", err);
    } else {
        int rc = state_clear(p, err, sizeof err);
        pthread_mutex_lock(&p->lock);
        memset(&p->st, 0, sizeof p->st);
        p->pol.n_allow = 0;
        pthread_mutex_unlock(&p->lock);
        char since[40];
        time_text(st.since_ns, since, sizeof since);
        result_set(r, RP_UTIL_RESPONSE_DONE, NULL,
                   "released: the isolation table is deleted%s%s%s%s",
                   st.isolated ? " (isolated since " : "", st.isolated ? since : "",
                   st.isolated ? ")" : "", rc != 0 ? "; but the state file stays" : "");
    }
    publish(p, "release", NULL, trigger, st.alert_id, NULL, NULL, r);
}

/* The backend's names resolved again and the table's sets refreshed; a name
 * that does not resolve now keeps the addresses it had. */
static void refresh_locked(struct ipl *p)
{
    struct conf c;
    struct ri_policy *old = malloc(sizeof *old), *backend = malloc(sizeof *backend),
                     *pol = malloc(sizeof *pol);
    struct state st;
    if (!old || !backend || !pol)
        goto out;
    pthread_mutex_lock(&p->lock);
    c = p->conf;
    st = p->st;
    *old = p->pol;
    pthread_mutex_unlock(&p->lock);
    if (!st.isolated)
        goto out;
    char err[ERR_MAX] = "";
    uint32_t endpoints = 0, unresolved = 0;
    backend_resolve(p, backend, &endpoints, &unresolved, err, sizeof err);
    if (unresolved > 0 || endpoints == 0)
        for (uint32_t i = 0; i < old->n_allow; i++)
            if (is_backend_role(old->allow[i].role))
                (void)ri_policy_add(backend, &old->allow[i]);
    policy_build(p, &c, backend, pol);
    int rc = ri_nft_refresh(pol, err, sizeof err);
    if (rc == RP_ERR_NOTFOUND) {
        /* Someone deleted the table: the isolation is still in force. */
        rp_util_logf(p->host, p->self, RP_LOG_WARN,
                     "the isolation table was gone at refresh; applying it again");
        uint32_t reset = 0;
        rc = table_apply(p, pol, &reset, err, sizeof err);
    }
    if (rc == 0) {
        char serr[ERR_MAX];
        if (state_save(p, &st, pol, serr, sizeof serr) != 0)
            rp_util_logf(p->host, p->self, RP_LOG_WARN, "refresh: %s", serr);
    } else
        rp_util_logf(p->host, p->self, RP_LOG_ERROR, "refresh failed: %s", err);
    pthread_mutex_lock(&p->lock);
    if (p->st.isolated && p->st.since_ns == st.since_ns) {
        if (rc == 0)
            p->pol = *pol;
        p->last_refresh_ns = p->host->now_ns();
        p->last_refresh_rc = rc;
        const char *shown = rc != 0 || unresolved ? err : "";
        copy_str(p->last_refresh_err, sizeof p->last_refresh_err, shown, strlen(shown));
    }
    pthread_mutex_unlock(&p->lock);
out:
    free(old);
    free(backend);
    free(pol);
}

/*
 * One TCP connect to each peer at once (at most PROBE_MAX), bounded by
 * timeout_ms in all: 1 when one of them completed, else 0.
 */
static int probe_peers(const struct ri_allow *peers, uint32_t n, uint32_t timeout_ms)
{
    struct pollfd pfd[PROBE_MAX];
    uint32_t k = 0;
    int ok = 0;
    for (uint32_t i = 0; i < n && k < PROBE_MAX && !ok; i++) {
        struct sockaddr_storage ss;
        socklen_t sl;
        memset(&ss, 0, sizeof ss);
        if (peers[i].family == AF_INET) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
            s4->sin_family = AF_INET;
            s4->sin_port = htons(peers[i].port);
            memcpy(&s4->sin_addr, peers[i].addr, 4);
            sl = sizeof *s4;
        } else {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
            s6->sin6_family = AF_INET6;
            s6->sin6_port = htons(peers[i].port);
            memcpy(&s6->sin6_addr, peers[i].addr, 16);
            sl = sizeof *s6;
        }
        int fd = socket(peers[i].family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, (struct sockaddr *)&ss, sl) == 0)
            ok = 1;
        if (ok || errno != EINPROGRESS) {
            close(fd);
            continue;
        }
        pfd[k].fd = fd;
        pfd[k].events = POLLOUT;
        k++;
    }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint32_t open = k;
    while (!ok && open > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= (int64_t)timeout_ms)
            break;
        int r = poll(pfd, k, (int)((int64_t)timeout_ms - spent));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (uint32_t i = 0; i < k; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents)
                continue;
            int soerr = 1;
            socklen_t el = sizeof soerr;
            if (getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &el) == 0 && soerr == 0)
                ok = 1;
            close(pfd[i].fd);
            pfd[i].fd = -1;
            open--;
        }
    }
    for (uint32_t i = 0; i < k; i++)
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
    return ok;
}

/* Probes the backend (the proxy when there is one: uploads go through it)
 * and rolls the isolation back when nothing answered for rollback_after_s. */
static void probe(struct ipl *p)
{
    struct ri_allow *peers = malloc(sizeof(struct ri_allow) * PROBE_MAX);
    struct state st;
    struct conf c;
    uint32_t n = 0;
    bool proxy = false;
    if (!peers)
        return;
    pthread_mutex_lock(&p->lock);
    st = p->st;
    c = p->conf;
    for (uint32_t i = 0; i < p->pol.n_allow; i++)
        proxy = proxy || p->pol.allow[i].role == RI_ROLE_PROXY;
    for (uint32_t i = 0; i < p->pol.n_allow && n < PROBE_MAX; i++)
        if (p->pol.allow[i].role == (proxy ? RI_ROLE_PROXY : RI_ROLE_BACKEND) &&
            p->pol.allow[i].port)
            peers[n++] = p->pol.allow[i];
    pthread_mutex_unlock(&p->lock);
    if (!st.isolated || n == 0) {
        free(peers);
        return;
    }
    /* Outside op_lock: a probe takes up to probe_timeout_ms. */
    int ok = probe_peers(peers, n, c.probe_timeout_ms);
    free(peers);
    int64_t now = p->host->now_ns(), mono = p->host->monotonic_ns();
    pthread_mutex_lock(&p->op_lock);
    pthread_mutex_lock(&p->lock);
    bool same = p->st.isolated && p->st.since_ns == st.since_ns;
    if (same) {
        p->last_probe_ns = now;
        p->backend_reachable = ok;
        if (ok) {
            p->last_reachable_ns = now;
            p->reachable_mono_ns = mono;
        }
    }
    int64_t last_ok = p->reachable_mono_ns;
    pthread_mutex_unlock(&p->lock);
    if (same && !ok && c.rollback_s > 0 && mono - last_ok >= (int64_t)c.rollback_s * 1000000000) {
        struct result r;
        char err[ERR_MAX] = "";
        memset(&r, 0, sizeof r);
        if (ri_nft_remove(err, sizeof err) != 0) {
            result_set(&r, RP_UTIL_RESPONSE_FAILED, "backend_unreachable",
                       "the backend was unreachable for %u s but the rollback failed: %s",
                       c.rollback_s, err);
        } else {
            (void)state_clear(p, err, sizeof err);
            pthread_mutex_lock(&p->lock);
            memset(&p->st, 0, sizeof p->st);
            p->pol.n_allow = 0;
            pthread_mutex_unlock(&p->lock);
            result_set(&r, RP_UTIL_RESPONSE_FAILED, "backend_unreachable",
                       "rolled back: no backend endpoint answered for %u s after isolating, so "
                       "the isolation table is deleted",
                       c.rollback_s);
        }
        publish(p, "isolate", NULL, st.trigger, st.alert_id, NULL, st.reason, &r);
    }
    pthread_mutex_unlock(&p->op_lock);
    gauges_set(p);
}

/* At start: an isolation in force is applied again (the table replaced in
 * one transaction whether it is there or not), with the backend's addresses
 * it had; a refresh job resolves them again afterwards. */
static void reapply_at_start(struct ipl *p)
{
    struct ri_policy *backend = malloc(sizeof *backend), *pol = malloc(sizeof *pol);
    struct state st;
    struct result r;
    char err[ERR_MAX] = "";
    memset(&r, 0, sizeof r);
    if (!backend || !pol)
        goto out;
    int rc = state_load(p, &st, backend, err, sizeof err);
    if (rc == RP_ERR_NOTFOUND)
        goto out;
    if (rc != 0) {
        /* The table, if there, is left as it is: release deletes it. */
        result_set(&r, RP_UTIL_RESPONSE_FAILED, "state_unreadable",
                   "the isolation state cannot be read, nothing re-applied: %s", err);
        publish(p, "isolate", NULL, "start", NULL, NULL, NULL, &r);
        goto out;
    }
    pthread_mutex_lock(&p->lock);
    struct conf c = p->conf;
    pthread_mutex_unlock(&p->lock);
    policy_build(p, &c, backend, pol);
    int present = 0;
    char perr[ERR_MAX];
    (void)ri_nft_present(&present, perr, sizeof perr);
    rc = table_apply(p, pol, &r.reset, err, sizeof err);
    char since[40];
    time_text(st.since_ns, since, sizeof since);
    if (rc != 0) {
        result_set(&r, RP_UTIL_RESPONSE_FAILED, "nft_failed",
                   "the isolation in force since %s could not be applied again: %s", since, err);
    } else {
        int64_t now = p->host->now_ns();
        pthread_mutex_lock(&p->lock);
        p->st = st;
        p->pol = *pol;
        p->last_refresh_ns = now;
        p->last_reachable_ns = now; /* the rollback window starts again */
        p->reachable_mono_ns = p->host->monotonic_ns();
        p->backend_reachable = -1;
        pthread_mutex_unlock(&p->lock);
        r.allowed = pol->n_allow;
        result_set(&r, RP_UTIL_RESPONSE_DONE, NULL,
                   "isolation in force since %s applied again at start (%s): %u peers allowed",
                   since, present ? "the table was there" : "the table was gone", pol->n_allow);
    }
    publish(p, "isolate", NULL, "start", st.alert_id, rc == 0 ? pol : NULL, st.reason, &r);
out:
    free(backend);
    free(pol);
}

/* ---- jobs and timers ------------------------------------------------------------------------- */

static void alert_isolate(struct ipl *p, const rp_event *ev)
{
    const char *s = NULL;
    uint64_t n = 0;
    char id[ALERT_ID_MAX] = "", reason[REASON_MAX] = "alert";
    if (p->host->get_str(ev, p->resp.id[RP_UTIL_RF_EVENT_ID], &s, &n) == 0)
        copy_str(id, sizeof id, s, (size_t)n);
    if (p->host->get_str(ev, p->resp.id[RP_UTIL_RF_RULE_NAME], &s, &n) == 0 ||
        p->host->get_str(ev, p->resp.id[RP_UTIL_RF_RULE_ID], &s, &n) == 0)
        snprintf(reason, sizeof reason, "alert: %.*s", (int)(n < 200 ? n : 200), s);
    struct result r;
    pthread_mutex_lock(&p->op_lock);
    isolate_locked(p, ev, reason, id, &r);
    pthread_mutex_unlock(&p->op_lock);
    gauges_set(p);
}

static void job_work(void *arg)
{
    struct job *j = arg;
    struct ipl *p = j->p;
    if (atomic_load(&p->stopping))
        return;
    switch (j->kind) {
    case J_ALERT:
        alert_isolate(p, j->ev);
        break;
    case J_REFRESH:
    case J_REAPPLY:
        pthread_mutex_lock(&p->op_lock);
        refresh_locked(p);
        pthread_mutex_unlock(&p->op_lock);
        gauges_set(p);
        break;
    case J_PROBE:
        probe(p);
        break;
    }
}

static int job_submit(struct ipl *p, enum job_kind kind, const rp_event *ev);

static void job_done(void *arg, int status)
{
    struct job *j = arg;
    struct ipl *p = j->p;
    bool again = false;
    if (j->kind == J_REFRESH || j->kind == J_REAPPLY) {
        atomic_store(&p->refresh_pending, 0);
        again = atomic_exchange(&p->refresh_again, 0) && status == 0 && !atomic_load(&p->stopping);
    } else if (j->kind == J_PROBE)
        atomic_store(&p->probe_pending, 0);
    if (j->ev)
        p->host->event_release(j->ev);
    free(j);
    if (again)
        (void)job_submit(p, J_REAPPLY, NULL);
}

static int job_submit(struct ipl *p, enum job_kind kind, const rp_event *ev)
{
    atomic_int *pending = kind == J_PROBE                          ? &p->probe_pending
                          : kind == J_REFRESH || kind == J_REAPPLY ? &p->refresh_pending
                                                                   : NULL;
    if (pending && atomic_exchange(pending, 1)) {
        /* One of its kind is queued or running; after a reload one more
         * runs once it is done. */
        if (kind == J_REAPPLY)
            atomic_store(&p->refresh_again, 1);
        return 0;
    }
    struct job *j = calloc(1, sizeof *j);
    int rc = j ? 0 : RP_ERR_NOMEM;
    if (j) {
        j->p = p;
        j->kind = kind;
        if (ev) {
            p->host->event_retain(ev);
            j->ev = ev;
        }
        rc = p->host->work_submit(p->self, job_work, job_done, j);
        if (rc != 0) {
            if (ev)
                p->host->event_release(ev);
            free(j);
        }
    }
    if (rc != 0 && pending)
        atomic_store(pending, 0);
    return rc;
}

static bool isolated_now(struct ipl *p)
{
    pthread_mutex_lock(&p->lock);
    bool on = p->st.isolated;
    pthread_mutex_unlock(&p->lock);
    return on;
}

static void refresh_tick(void *arg)
{
    struct ipl *p = arg;
    if (isolated_now(p))
        (void)job_submit(p, J_REFRESH, NULL);
}

static void probe_tick(void *arg)
{
    struct ipl *p = arg;
    if (isolated_now(p))
        (void)job_submit(p, J_PROBE, NULL);
}

static void timers_stop(struct ipl *p)
{
    if (p->refresh_timer)
        p->host->timer_stop(p->self, p->refresh_timer);
    if (p->probe_timer)
        p->host->timer_stop(p->self, p->probe_timer);
    p->refresh_timer = p->probe_timer = 0;
}

static int timers_start(struct ipl *p, const struct conf *c)
{
    uint64_t rms = (uint64_t)c->refresh_s * 1000u, pms = (uint64_t)c->probe_s * 1000u;
    int rc = p->host->timer_start(p->self, rms, rms, refresh_tick, p, &p->refresh_timer);
    if (rc == 0)
        rc = p->host->timer_start(p->self, pms, pms, probe_tick, p, &p->probe_timer);
    return rc;
}

/* ---- plugin callbacks ------------------------------------------------------------------------ */

static int ri_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct ipl *p = state;
    (void)self;
    const char *type = NULL, *action = NULL;
    uint64_t tlen = 0, alen = 0;
    /* After a reload the host's endpoints may be others (a new output.url
     * or proxy): an isolation in force is refreshed at once. */
    if (p->host->event_type(ev, &type, &tlen) == 0 && tlen == sizeof "agent.lifecycle" - 1 &&
        memcmp(type, "agent.lifecycle", tlen) == 0) {
        if (p->host->get_str(ev, p->resp.id[RP_UTIL_RF_EVENT_ACTION], &action, &alen) == 0 &&
            alen == sizeof "agent-config-reloaded" - 1 &&
            memcmp(action, "agent-config-reloaded", alen) == 0 && isolated_now(p))
            (void)job_submit(p, J_REAPPLY, NULL);
        return 0;
    }
    if (!rp_util_response_wants(&p->resp, ev, "isolate"))
        return 0;
    /* Resolving the backend may block: the isolation runs on a worker. */
    int rc = job_submit(p, J_ALERT, ev);
    if (rc != 0) {
        struct result r;
        memset(&r, 0, sizeof r);
        result_set(&r, RP_UTIL_RESPONSE_FAILED, "busy",
                   "not isolated: the isolation could not be queued (%s)", rp_strerror(rc));
        publish(p, "isolate", ev, "alert", NULL, NULL, NULL, &r);
    }
    return 0;
}

static int reply_json(struct ipl *p, rp_command *cmd, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return refuse(p, RP_ERR_NOMEM, "out of memory");
    int rc = p->host->command_reply(cmd, text, strlen(text), 0);
    free(text);
    return rc;
}

/* A done action is replied as JSON; a refused or failed one is the
 * command's error (rampartctl exits 70 with the message). */
static int reply_result(struct ipl *p, rp_command *cmd, const char *action, const struct result *r)
{
    if (r->outcome != RP_UTIL_RESPONSE_DONE) {
        char msg[RP_UTIL_RESPONSE_MESSAGE_MAX + 64];
        snprintf(msg, sizeof msg, "%s %s (%s): %s", action,
                 r->outcome == RP_UTIL_RESPONSE_REFUSED ? "refused" : "failed", r->code,
                 r->message);
        return refuse(p, r->outcome == RP_UTIL_RESPONSE_REFUSED ? RP_ERR_PERM : RP_ERR_IO, msg);
    }
    return reply_json(p, cmd,
                      json_pack("{s:s,s:s,s:s,s:i,s:i}", "action", action, "outcome", "done",
                                "message", r->message, "allowed", (int)r->allowed, "sessions_reset",
                                (int)r->reset));
}

static int cmd_status(struct ipl *p, rp_command *cmd)
{
    struct ri_policy *pol = malloc(sizeof *pol);
    if (!pol)
        return refuse(p, RP_ERR_NOMEM, "out of memory");
    int present = 0;
    char err[ERR_MAX] = "";
    int prc = ri_nft_present(&present, err, sizeof err);
    pthread_mutex_lock(&p->lock);
    struct state st = p->st;
    *pol = p->pol;
    int64_t refresh = p->last_refresh_ns, probe_ns = p->last_probe_ns, reach = p->last_reachable_ns;
    int refresh_rc = p->last_refresh_rc, reachable = p->backend_reachable;
    char refresh_err[ERR_MAX];
    copy_str(refresh_err, sizeof refresh_err, p->last_refresh_err, strlen(p->last_refresh_err));
    struct conf c = p->conf;
    pthread_mutex_unlock(&p->lock);
    json_t *j = json_object();
    json_object_set_new(j, "isolated", json_boolean(st.isolated));
    json_object_set_new(j, "table_present", prc == 0 ? json_boolean(present) : json_null());
    if (st.isolated) {
        json_object_set_new(j, "since", time_json(st.since_ns));
        json_object_set_new(j, "reason", json_string(st.reason));
        json_object_set_new(j, "trigger", json_string(st.trigger));
        json_object_set_new(j, "alert_id", st.alert_id[0] ? json_string(st.alert_id) : json_null());
        json_object_set_new(j, "allowed", peers_json(pol, false));
        json_object_set_new(j, "loopback", json_true());
        json_object_set_new(j, "dhcp", json_boolean(pol->flags & RI_POLICY_DHCP));
        json_object_set_new(j, "last_refresh", time_json(refresh));
        json_object_set_new(j, "last_refresh_ok", json_boolean(refresh_rc == 0));
        if (refresh_err[0])
            json_object_set_new(j, "last_refresh_error", json_string(refresh_err));
        json_object_set_new(j, "backend_reachable",
                            reachable < 0 ? json_null() : json_boolean(reachable));
        json_object_set_new(j, "last_probe", time_json(probe_ns));
        json_object_set_new(j, "last_reachable", time_json(reach));
        json_object_set_new(j, "rollback_after_s", json_integer(c.rollback_s));
    }
    free(pol);
    return reply_json(p, cmd, j);
}

static int ri_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                         uint64_t len)
{
    struct ipl *p = state;
    (void)self;
    json_t *req = json_loadb(request, (size_t)len, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "command"));
    json_t *args = json_object_get(req, "args");
    size_t nargs = json_array_size(args);
    int rc;
    struct result r;
    if (name && strcmp(name, "isolate") == 0) {
        /* The arguments, joined by spaces, are the reason. */
        char reason[REASON_MAX] = "";
        size_t used = 0;
        for (size_t i = 0; i < nargs && used + 1 < sizeof reason; i++) {
            const char *a = json_string_value(json_array_get(args, i));
            if (!a)
                continue;
            int m = snprintf(reason + used, sizeof reason - used, "%s%s", used ? " " : "", a);
            if (m < 0)
                break;
            used += (size_t)m < sizeof reason - used ? (size_t)m : sizeof reason - used - 1;
        }
        if (!reason[0])
            snprintf(reason, sizeof reason, "command");
        pthread_mutex_lock(&p->op_lock);
        isolate_locked(p, NULL, reason, NULL, &r);
        pthread_mutex_unlock(&p->op_lock);
        gauges_set(p);
        rc = reply_result(p, cmd, "isolate", &r);
    } else if (name && strcmp(name, "release") == 0 && nargs == 0) {
        pthread_mutex_lock(&p->op_lock);
        release_locked(p, "command", &r);
        pthread_mutex_unlock(&p->op_lock);
        gauges_set(p);
        rc = reply_result(p, cmd, "release", &r);
    } else if (name && strcmp(name, "status") == 0 && nargs == 0) {
        rc = cmd_status(p, cmd);
    } else if (name && (strcmp(name, "release") == 0 || strcmp(name, "status") == 0)) {
        rc = refuse(p, RP_ERR_INVAL, "release and status take no argument");
    } else {
        rc = refuse(p, RP_ERR_NOTFOUND, "unknown command; try: isolate [REASON], release, status");
    }
    json_decref(req);
    return rc;
}

static int ri_check_config(rp_plugin *self, const rp_host_api *host)
{
    struct conf *c = malloc(sizeof *c);
    char err[ERR_MAX] = "";
    if (!c)
        return RP_ERR_NOMEM;
    int rc = conf_read(host, self, c, err, sizeof err);
    free(c);
    if (rc != 0)
        host->set_error(self, err, strlen(err));
    return rc;
}

static void plugin_free(struct ipl *p)
{
    pthread_mutex_destroy(&p->op_lock);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static int ri_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    struct ipl *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    p->self = self;
    p->host = host;
    p->dirfd = -1;
    p->backend_reachable = -1;
    pthread_mutex_init(&p->op_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    char err[ERR_MAX] = "";
    int rc = rp_util_response_init(&p->resp, host, self);
    if (rc == 0)
        rc = rp_util_fields_register(host, self, field_defs, F_COUNT, p->f);
    if (rc == 0)
        rc = host->gauge_register(self, "isolated", 8, &p->gauge_isolated);
    if (rc == 0)
        rc = host->gauge_register(self, "allowed_peers", 13, &p->gauge_allowed);
    if (rc == 0 && (rc = conf_read(host, self, &p->conf, err, sizeof err)) != 0)
        refuse(p, rc, err);
    if (rc == 0) {
        int64_t fd;
        const char *path;
        rc = host->private_dir(self, &fd, &path, NULL);
        if (rc != 0)
            refuse(p, rc, "cannot open the plugin's private folder");
        else
            p->dirfd = (int)fd;
    }
    if (rc != 0) {
        plugin_free(p);
        return rc;
    }
    *state = p;
    return 0;
}

static int ri_start(rp_plugin *self, void *state)
{
    struct ipl *p = state;
    int rc = p->host->subscribe(self, "alert", 5, 0);
    if (rc == 0)
        rc = p->host->subscribe(self, "agent.lifecycle", sizeof "agent.lifecycle" - 1, 0);
    if (rc != 0)
        return refuse(p, rc, "cannot subscribe to alerts and the agent's lifecycle events");
    pthread_mutex_lock(&p->op_lock);
    reapply_at_start(p);
    pthread_mutex_unlock(&p->op_lock);
    gauges_set(p);
    if ((rc = timers_start(p, &p->conf)) != 0) {
        timers_stop(p);
        return refuse(p, rc, "cannot start the refresh and probe timers");
    }
    /* The addresses applied at start are the ones saved: resolve again. */
    if (isolated_now(p))
        (void)job_submit(p, J_REAPPLY, NULL);
    return 0;
}

/* The table stays: an isolation outlives the agent until released. */
static int ri_stop(rp_plugin *self, void *state)
{
    struct ipl *p = state;
    (void)self;
    atomic_store(&p->stopping, 1);
    timers_stop(p);
    return 0;
}

static void ri_destroy(rp_plugin *self, void *state)
{
    (void)self;
    if (state)
        plugin_free(state);
}

/* A new config: the timers follow it, and an isolation in force is
 * refreshed with the new allowed set. */
static int ri_reconfigure(rp_plugin *self, void *state)
{
    struct ipl *p = state;
    (void)self;
    struct conf *c = malloc(sizeof *c);
    char err[ERR_MAX] = "";
    if (!c)
        return refuse(p, RP_ERR_NOMEM, "out of memory");
    int rc = conf_read(p->host, p->self, c, err, sizeof err);
    if (rc != 0) {
        free(c);
        return refuse(p, rc, err);
    }
    pthread_mutex_lock(&p->lock);
    p->conf = *c;
    pthread_mutex_unlock(&p->lock);
    timers_stop(p);
    rc = timers_start(p, c);
    free(c);
    if (rc != 0)
        return refuse(p, rc, "cannot start the refresh and probe timers");
    if (isolated_now(p))
        (void)job_submit(p, J_REAPPLY, NULL);
    return 0;
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* commands, private_dir, config getters, services */
    .kind = RP_KIND_RESPONDER,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.responder.isolate",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "network isolation but for the agent's backend, DNS, DHCP and admin hosts",
    .config_schema = config_schema,
    .init = ri_init,
    .start = ri_start,
    .stop = ri_stop,
    .destroy = ri_destroy,
    .reconfigure = ri_reconfigure,
    .on_event = ri_on_event,
    .field_namespace = "isolate",
    .check_config = ri_check_config,
    .on_command = ri_on_command,
    /* The nftables table and sock_diag's SOCK_DESTROY. */
    .capabilities = RP_CAP_NET_ADMIN,
};

RP_PLUGIN_ENTRY(descriptor)
