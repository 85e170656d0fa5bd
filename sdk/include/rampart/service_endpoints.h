/*
 * rampart/service_endpoints.h - the agent's own network endpoints, offered
 * by the host: where it uploads events (output.url) and the proxy it goes
 * through (output.proxy). A responder that isolates the machine keeps these
 * reachable, whatever the site's config says, and re-reads them after a
 * reload.
 *
 *     const rp_endpoints_service *eps;
 *     uint64_t hold;
 *     if (host->service_acquire(self, RP_ENDPOINTS_SERVICE, sizeof RP_ENDPOINTS_SERVICE - 1,
 *                               RP_ENDPOINTS_VERSION, (const void **)&eps, &hold) == 0) {
 *         rp_endpoint e = {sizeof e};
 *         for (uint32_t i = 0; eps->get(eps->ctx, i, &e, NULL) == 0; i++)
 *             ... e.host, e.port ...
 *         host->service_release(self, hold);
 *     }
 *
 * The table is stable like plugin.h: members are only appended (a minor
 * version step), and every member is pinned below. The naming and versioning
 * rules are in sdk/docs/services.md. Compiles as C99, C11 and C++.
 */
#ifndef RAMPART_SERVICE_ENDPOINTS_H
#define RAMPART_SERVICE_ENDPOINTS_H

#include <rampart/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RP_ENDPOINTS_SERVICE "org.rampart.host.endpoints"
#define RP_ENDPOINTS_VERSION RP_SERVICE_VERSION(1, 0)

/* Bytes of a host name or address, its NUL included (a DNS name is at most
 * 253 bytes). */
#define RP_ENDPOINT_HOST_MAX 256u

/* Roles of an endpoint. */
#define RP_ENDPOINT_UPLOAD 1u /* output.url: where batches are POSTed */
#define RP_ENDPOINT_PROXY  2u /* output.proxy: what the uploads go through */

/* One endpoint of the current config. */
typedef struct rp_endpoint {
    uint32_t struct_size; /* set by the caller: sizeof(rp_endpoint) as built */
    uint32_t role;        /* RP_ENDPOINT_* */
    uint32_t port;        /* 1-65535: the URL's port, else its scheme's default */
    uint32_t reserved;    /* 0 */
    /* The URL's host, NUL-terminated: a DNS name or an address literal (an
     * IPv6 one without its brackets), lower-case as written in the config
     * (percent-encoding decoded as libcurl does; an IPv6 zone, after '%',
     * keeps its case: it names an interface).
     * Names are not resolved: the caller resolves them, again when it needs
     * fresh addresses. */
    char host[RP_ENDPOINT_HOST_MAX];
} rp_endpoint;

/*
 * The service's table, owned by the host; valid while the hold that returned
 * it is held. Any thread; never blocks for long (a lock held for a copy).
 */
typedef struct rp_endpoints_service {
    uint32_t struct_size; /* sizeof(rp_endpoints_service) as built by the host */
    uint32_t reserved;    /* 0 */
    void *ctx;            /* passed back as the first argument of every function */
    /* The endpoint at index (0, 1, ... in a stable order: upload, then
     * proxy) into *out, whose struct_size must be set first (RP_ERR_INVAL
     * when smaller than 1.0's struct). RP_ERR_RANGE past the last, so a loop
     * from 0 reads them all; there are none when the agent does not upload.
     * *generation (may be NULL) is a number that changes whenever a reload
     * changes the endpoints: a caller that saw another one re-reads all. */
    int (*get)(void *ctx, uint32_t index, rp_endpoint *out, uint64_t *generation);
} rp_endpoints_service;

/* Layout pins (see plugin.h): every member's offset and each struct's size. */
RP_STATIC_ASSERT(RP__OFF(rp_endpoint, struct_size) == 0, endpoint_struct_size);
RP_STATIC_ASSERT(RP__OFF(rp_endpoint, role) == 4, endpoint_role);
RP_STATIC_ASSERT(RP__OFF(rp_endpoint, port) == 8, endpoint_port);
RP_STATIC_ASSERT(RP__OFF(rp_endpoint, reserved) == 12, endpoint_reserved);
RP_STATIC_ASSERT(RP__OFF(rp_endpoint, host) == 16, endpoint_host);
RP_STATIC_ASSERT(sizeof(rp_endpoint) == 16u + RP_ENDPOINT_HOST_MAX, endpoint_size);
RP_STATIC_ASSERT(RP__OFF(rp_endpoints_service, struct_size) == 0, endpoints_service_struct_size);
RP_STATIC_ASSERT(RP__OFF(rp_endpoints_service, reserved) == 4, endpoints_service_reserved);
RP_STATIC_ASSERT(RP__OFF(rp_endpoints_service, ctx) == 8, endpoints_service_ctx);
RP_STATIC_ASSERT(RP__OFF(rp_endpoints_service, get) == 8u + RP__PTR, endpoints_service_get);
RP_STATIC_ASSERT(sizeof(rp_endpoints_service) == 8u + 2u * RP__PTR, endpoints_service_size);

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_SERVICE_ENDPOINTS_H */
