/*
 * core/runtime/host_endpoints.c - the service the host offers itself,
 * org.rampart.host.endpoints (sdk/include/rampart/service_endpoints.h): the
 * agent's upload endpoint and proxy, parsed from output.url and
 * output.proxy, so that a responder that isolates the machine keeps them
 * reachable without reading the agent's config.
 *
 * The host keeps at most two endpoints behind a lock; a reload swaps them
 * whole (rp__host_endpoints_set) and bumps the generation when they change.
 * The URL is only split here (scheme, host, port), never fetched or
 * resolved: the uploader checked it already, and the caller resolves names
 * when it needs addresses.
 */
#include "lib/log.h"
#include "os/os_thread.h"
#include "runtime/host.h"
#include "runtime/host_private.h"

#include <rampart/service_endpoints.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ENDPOINTS_MAX 2u /* upload and proxy */

struct rp__host_endpoints {
    rp__os_mutex *lock;
    uint64_t generation;
    uint32_t n;
    rp_endpoint ep[ENDPOINTS_MAX];
    rp_endpoints_service table; /* what service_acquire hands out */
};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The value of a hex digit, or -1. */
static int hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)lower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The default port of a scheme (lower case, len bytes); 0 when unknown. A
 * proxy written without a scheme is HTTP, as libcurl takes it. */
static uint32_t scheme_port(const char *s, size_t len)
{
    static const struct {
        const char *name;
        uint32_t port;
    } known[] = {{"https", 443},    {"http", 80},     {"socks4", 1080},
                 {"socks4a", 1080}, {"socks5", 1080}, {"socks5h", 1080}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == len && memcmp(known[i].name, s, len) == 0)
            return known[i].port;
    return 0;
}

int rp__endpoint_parse(const char *url, uint32_t role, rp_endpoint *out)
{
    if (!url || !out)
        return RP_ERR_INVAL;
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->role = role;
    const char *p = url;
    const char *sep = strstr(url, "://");
    char scheme[16] = "http";
    size_t slen = 4;
    if (sep) {
        slen = (size_t)(sep - url);
        if (slen == 0 || slen >= sizeof scheme)
            return RP_ERR_INVAL;
        for (size_t i = 0; i < slen; i++)
            scheme[i] = (char)lower((unsigned char)url[i]);
        scheme[slen] = '\0';
        p = sep + 3;
    }
    uint32_t port = scheme_port(scheme, slen);
    if (!port)
        return RP_ERR_INVAL;
    /* The authority ends at the path, query or fragment. */
    size_t alen = strcspn(p, "/?#");
    const char *auth = p, *end = p + alen;
    /* Credentials: the host follows the last '@' of the authority. */
    for (const char *q = auth; q < end; q++)
        if (*q == '@')
            auth = q + 1;
    const char *host = auth, *hend;
    const char *colon = NULL;
    int v6 = *host == '[';
    if (v6) { /* an IPv6 literal */
        host++;
        hend = memchr(host, ']', (size_t)(end - host));
        if (!hend)
            return RP_ERR_INVAL;
        if (hend + 1 < end) {
            if (hend[1] != ':')
                return RP_ERR_INVAL;
            colon = hend + 1;
        }
    } else {
        hend = end;
        for (const char *q = host; q < end; q++)
            if (*q == ':') {
                hend = q;
                colon = q;
                break;
            }
    }
    size_t hlen = (size_t)(hend - host);
    if (hlen == 0 || hlen >= RP_ENDPOINT_HOST_MAX)
        return RP_ERR_INVAL;
    if (colon) {
        uint32_t v = 0;
        const char *q = colon + 1;
        if (q == end)
            return RP_ERR_INVAL;
        for (; q < end; q++) {
            if (*q < '0' || *q > '9')
                return RP_ERR_INVAL;
            v = v * 10u + (uint32_t)(*q - '0');
            if (v > 65535u)
                return RP_ERR_INVAL;
        }
        if (v == 0)
            return RP_ERR_INVAL;
        port = v;
    }
    size_t o = 0;
    int zone = 0;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        /* libcurl decodes %XX in a host name and connects to what it
         * decoded ("exa%6dple.com" is example.com), so the name handed out
         * is decoded too; a '%' without two hex digits stays, as there. */
        if (c == '%' && !v6 && hlen - i > 2 && hex(host[i + 1]) >= 0 && hex(host[i + 2]) >= 0) {
            c = (unsigned char)(hex(host[i + 1]) * 16 + hex(host[i + 2]));
            i += 2;
        }
        /* Name and address characters only: no space, control or quote
         * reaches a caller that may print it into a rule. */
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_' || c == '%'))
            return RP_ERR_INVAL;
        /* An IPv6 literal's zone follows its first '%', written "%25<zone>"
         * in a URL (RFC 6874): libcurl connects to "<address>%<zone>", and
         * so must the host handed out be, or getaddrinfo finds no interface
         * "25<zone>". The zone itself is taken as it is, as libcurl does. */
        if (c == '%' && v6 && !zone) {
            zone = 1;
            /* "%25" with nothing after it is the zone "25", as there. */
            if (hlen - i > 3 && host[i + 1] == '2' && host[i + 2] == '5')
                i += 2;
        }
        /* Interface names are case-sensitive: a zone keeps its case. */
        out->host[o++] = (char)(zone ? c : lower(c));
    }
    out->host[o] = '\0';
    out->port = port;
    return 0;
}

static int endpoints_get(void *ctx, uint32_t index, rp_endpoint *out, uint64_t *generation)
{
    struct rp__host_endpoints *e = ctx;
    if (!e || !out || out->struct_size < sizeof(rp_endpoint))
        return RP_ERR_INVAL;
    rp__os_mutex_lock(e->lock);
    int rc = RP_ERR_RANGE;
    if (index < e->n) {
        *out = e->ep[index];
        rc = 0;
    }
    if (generation)
        *generation = e->generation;
    rp__os_mutex_unlock(e->lock);
    return rc;
}

int rp__host_endpoints_set(rp__host *h, const char *upload_url, const char *proxy_url)
{
    if (!h || !h->endpoints)
        return RP_ERR_INVAL;
    rp_endpoint next[ENDPOINTS_MAX];
    uint32_t n = 0;
    int rc = 0;
    /* A URL the host cannot split is logged and left out rather than
     * failing the agent: the uploader owns the URL's validity. */
    if (upload_url && upload_url[0]) {
        rc = rp__endpoint_parse(upload_url, RP_ENDPOINT_UPLOAD, &next[n]);
        if (rc == 0)
            n++;
        else
            rp__log_warn("output.url: cannot tell its host and port; the endpoints service "
                         "leaves it out");
    }
    if (proxy_url && proxy_url[0]) {
        int prc = rp__endpoint_parse(proxy_url, RP_ENDPOINT_PROXY, &next[n]);
        if (prc == 0)
            n++;
        else
            rp__log_warn("output.proxy: cannot tell its host and port; the endpoints service "
                         "leaves it out");
        if (rc == 0)
            rc = prc;
    }
    struct rp__host_endpoints *e = h->endpoints;
    rp__os_mutex_lock(e->lock);
    if (n != e->n || memcmp(next, e->ep, n * sizeof next[0]) != 0) {
        memset(e->ep, 0, sizeof e->ep);
        memcpy(e->ep, next, n * sizeof next[0]);
        e->n = n;
        e->generation++;
    }
    rp__os_mutex_unlock(e->lock);
    return rc;
}

int rp__host_endpoints_create(rp__host *h)
{
    struct rp__host_endpoints *e = calloc(1, sizeof *e);
    if (!e)
        return RP_ERR_NOMEM;
    if (rp__os_mutex_create(&e->lock) != 0) {
        free(e);
        return RP_ERR_NOMEM;
    }
    e->generation = 1;
    e->table.struct_size = sizeof e->table;
    e->table.ctx = e;
    e->table.get = endpoints_get;
    h->endpoints = e;
    (void)rp__host_endpoints_set(h, h->opts.upload_url, h->opts.proxy_url);
    int rc = rp__host_service_offer_host(h, RP_ENDPOINTS_SERVICE, RP_ENDPOINTS_VERSION, &e->table);
    if (rc != 0) {
        rp__host_endpoints_destroy(h);
        return rc;
    }
    return 0;
}

void rp__host_endpoints_destroy(rp__host *h)
{
    if (!h || !h->endpoints)
        return;
    rp__host_services_withdraw_host(h);
    rp__os_mutex_destroy(h->endpoints->lock);
    free(h->endpoints);
    h->endpoints = NULL;
}
