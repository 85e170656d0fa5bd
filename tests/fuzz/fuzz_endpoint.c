/*
 * tests/fuzz/fuzz_endpoint.c - libFuzzer target for the split of output.url
 * and output.proxy into host and port (rp__endpoint_parse,
 * core/runtime/host_endpoints.c), which the endpoints service hands to
 * responder_isolate: the machine cut off from the network keeps exactly
 * that host and port reachable. The URL comes from the site's config.
 *
 * Input layout:
 *   byte 0    the role: even RP_ENDPOINT_UPLOAD, odd RP_ENDPOINT_PROXY
 *   the rest  the URL (a NUL ends it, as in the config's C string)
 *
 * Checks, any failure aborts:
 *   - the result is 0 or RP_ERR_INVAL; on RP_ERR_INVAL nothing is promised;
 *   - an endpoint has the role asked, a port 1-65535, a non-empty host of
 *     lower-case name and address characters only (an IPv6 zone keeps its
 *     case), terminated within
 *     RP_ENDPOINT_HOST_MAX, that the URL holds (in any case);
 *   - libcurl, which the uploader gives the same URL, agrees: when the URL
 *     names its scheme and libcurl parses it too, libcurl's host and port
 *     are the endpoint's (the same address when both are address literals
 *     written differently), or the isolated machine would keep the wrong
 *     host reachable and lose its backend.
 */
#include "runtime/host.h"
#include <rampart/plugin.h>
#include <rampart/service_endpoints.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_endpoint: check failed at line %d: %s\n", __LINE__, #cond);      \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Both name the same address: IPv4 in any form inet_aton reads, or IPv6
 * (libcurl writes it in its shortest form) with the same zone after '%'. */
static int same_address(const char *a, const char *b)
{
    struct in_addr a4, b4;
    struct in6_addr a6, b6;
    if (inet_aton(a, &a4) && inet_aton(b, &b4))
        return a4.s_addr == b4.s_addr;
    char x[RP_ENDPOINT_HOST_MAX + 8], y[RP_ENDPOINT_HOST_MAX + 8];
    snprintf(x, sizeof x, "%s", a);
    snprintf(y, sizeof y, "%s", b);
    char *xz = strchr(x, '%'), *yz = strchr(y, '%');
    if (!xz != !yz || (xz && strcmp(xz, yz) != 0))
        return 0;
    if (xz)
        *xz = *yz = '\0';
    if (inet_pton(AF_INET6, x, &a6) == 1 && inet_pton(AF_INET6, y, &b6) == 1)
        return memcmp(&a6, &b6, sizeof a6) == 0;
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void compare_with_curl(const char *url, const rp_endpoint *ep)
{
    CURLU *u = curl_url();
    CHECK(u != NULL);
    char *host = NULL, *port = NULL, *zone = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return;
    }
    /* libcurl keeps an IPv6 zone apart (ZONEID); the endpoint keeps it in
     * the host, after '%'. */
    (void)curl_url_get(u, CURLUPART_ZONEID, &zone, 0);
    char h[RP_ENDPOINT_HOST_MAX + 8];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']')
        snprintf(h, sizeof h, "%.*s%s%s", (int)(n - 2), host + 1, zone ? "%" : "",
                 zone ? zone : "");
    else
        snprintf(h, sizeof h, "%s", host);
    int host_ok = strcasecmp(h, ep->host) == 0 || same_address(h, ep->host);
    if (!host_ok || strtoul(port, NULL, 10) != ep->port) {
        fprintf(stderr, "fuzz_endpoint: url \"%s\": endpoint %s port %u, libcurl %s port %s\n", url,
                ep->host, ep->port, h, port);
        abort();
    }
    curl_free(zone);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint32_t role = data[0] & 1 ? RP_ENDPOINT_PROXY : RP_ENDPOINT_UPLOAD;
    /* Exactly the text and its NUL: ASan sees a read past it. */
    size_t len = strnlen((const char *)data + 1, size - 1);
    char *url = malloc(len + 1);
    CHECK(url != NULL);
    memcpy(url, data + 1, len);
    url[len] = '\0';

    rp_endpoint ep;
    int rc = rp__endpoint_parse(url, role, &ep);
    CHECK(rc == 0 || rc == RP_ERR_INVAL);
    if (rc == 0) {
        CHECK(ep.struct_size == sizeof ep && ep.role == role && ep.reserved == 0);
        CHECK(ep.port >= 1 && ep.port <= 65535);
        size_t hl = strnlen(ep.host, sizeof ep.host);
        CHECK(hl > 0 && hl < sizeof ep.host);
        const char *zone = strchr(url, '[') ? strchr(ep.host, '%') : NULL;
        for (size_t i = 0; i < hl; i++) {
            char c = ep.host[i];
            /* An IPv6 zone (an interface name) keeps its case. */
            if (zone && ep.host + i > zone && c >= 'A' && c <= 'Z')
                continue;
            CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                  c == ':' || c == '_' || c == '%');
        }
        /* The URL holds the host, but for an IPv6 zone's "%25", which
         * stands for '%': the URL with one "%25" written '%' does. */
        int found = 0;
        for (size_t i = 0; !found && i + hl <= len; i++)
            found = strncasecmp(url + i, ep.host, hl) == 0;
        char *plain = malloc(len + 1);
        CHECK(plain != NULL);
        for (size_t k = 0; !found && k + 3 <= len; k++) {
            if (memcmp(url + k, "%25", 3) != 0)
                continue;
            memcpy(plain, url, k + 1);
            memcpy(plain + k + 1, url + k + 3, len - k - 3);
            size_t pl = len - 2;
            for (size_t i = 0; !found && i + hl <= pl; i++)
                found = strncasecmp(plain + i, ep.host, hl) == 0;
        }
        /* Or, for a name libcurl decodes, the URL with every %XX decoded. */
        size_t dl = 0;
        for (size_t i = 0; i < len; i++) {
            int h1 = i + 2 < len ? hexval(url[i + 1]) : -1,
                h2 = i + 2 < len ? hexval(url[i + 2]) : -1;
            if (url[i] == '%' && h1 >= 0 && h2 >= 0) {
                plain[dl++] = (char)(h1 * 16 + h2);
                i += 2;
            } else {
                plain[dl++] = url[i];
            }
        }
        for (size_t i = 0; !found && i + hl <= dl; i++)
            found = strncasecmp(plain + i, ep.host, hl) == 0;
        free(plain);
        CHECK(found);
        /* libcurl, for a URL that names its scheme; a bracketed literal only
         * when it holds an IPv6 address (text that is none, which the split
         * lets through for getaddrinfo to refuse, is no config's). */
        char addr[RP_ENDPOINT_HOST_MAX];
        struct in6_addr a6;
        snprintf(addr, sizeof addr, "%s", ep.host);
        addr[strcspn(addr, "%")] = '\0';
        if (strstr(url, "://") && (!strchr(url, '[') || inet_pton(AF_INET6, addr, &a6) == 1))
            compare_with_curl(url, &ep);
    }
    free(url);
    return 0;
}
