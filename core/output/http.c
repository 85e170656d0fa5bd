/* core/output/http.c - the HTTPS client over libcurl: one reused connection, TLS
 * always verified, abortable from another thread. */
#include "output/curl_api.h"
#include "output/http.h"
#include "lib/log.h"
#include "lib/secrets.h"
#include "os/os.h"
#include "os/os_secret.h"
#include "os/os_thread.h"
#include "version.h"

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* CURLOPT_PROTOCOLS_STR (7.85) is the newest thing used; curl_easy_header
 * (7.84), curl_multi_poll and curl_multi_wakeup (7.68) come before it.
 * Debian 12 has 7.88. */
#if LIBCURL_VERSION_NUM < 0x075500
#error "libcurl 7.85 or newer is needed"
#endif

#define USER_AGENT "rampart/" RP_VERSION
/* A client key file larger than this is not a PEM key. */
#define KEY_FILE_MAX (64u << 10)
/* The response buffer is kept between requests up to this size; a larger
 * one (after a big answer) is given back, so an idle agent stays small. */
#define BODY_KEEP_MAX (64u << 10)
/* curl_multi_poll's longest sleep: curl shortens it to its own timers, and
 * rp__http_abort wakes it at once, so this only bounds a lost wakeup. */
#define POLL_MAX_MS 1000

struct rp__http {
    CURL *easy;
    CURLM *multi;
    atomic_int aborted;
    char *url;
    char *auth_line; /* "Authorization: <scheme> <token>", wiped on destroy */
    size_t max_body;
    char *body;
    size_t body_len;
    size_t body_cap;
    int body_truncated;
    int body_oom;
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- small helpers -------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) RP__PRINTF(3, 4);

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* RFC 9110 tchar: what a header name or an auth scheme may contain. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

/* A header value we agree to send: visible ASCII, spaces and tabs. Bytes
 * above 0x7e are refused too: no backend needs them in our headers, and
 * refusing them keeps header injection and encoding games off the table. */
static int is_header_value(const char *s, size_t max)
{
    size_t n = 0;
    for (; *s; s++, n++) {
        unsigned char c = (unsigned char)*s;
        if (n >= max || !((c >= 0x20 && c <= 0x7e) || c == '\t'))
            return 0;
    }
    return 1;
}

/* ---- libcurl set-up, once per process -------------------------------------- */

static rp__os_once_flag global_once = RP__OS_ONCE_INIT;
static int global_rc = RP_ERR_INTERNAL;
static char global_err[320];

static void global_init(void *arg)
{
    (void)arg;
    /* libcurl is loaded here, at its first use (curl_api.h). */
    if (rp__curl_load(global_err, sizeof global_err) != 0)
        return;
    /* Never paired with curl_global_cleanup: the uploader may be re-created on
     * reload, and libcurl's globals live as long as the process. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return;
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    if (!v || v->version_num < 0x075500 || !(v->features & CURL_VERSION_SSL)) {
        snprintf(global_err, sizeof global_err, "libcurl %s could not start, or has no TLS support",
                 curl_version());
        return;
    }
    global_rc = 0;
}

/* ---- secret files ----------------------------------------------------------- */

/* Reads a whole secret file of at most max bytes into a NUL-terminated buffer
 * (os_secret.h makes every check on the open file); what names the option
 * for the message. */
static int read_secret(const char *path, const char *what, size_t max, char **out, size_t *len_out,
                       char *err, size_t errlen)
{
    char why[512] = "";
    int rc = rp__os_read_secret_file(path, max, out, len_out, why, sizeof why);
    if (rc != 0 && rc != RP_ERR_NOMEM)
        set_err(err, errlen, "%s %s: %s", what, path, why);
    return rc;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int rp__http_read_token(const char *path, char **token, char *err, size_t errlen)
{
    if (!path || !token) {
        set_err(err, errlen, "output.token_file: no path given");
        return RP_ERR_INVAL;
    }
    char *buf;
    size_t len;
    int rc = read_secret(path, "output.token_file", RP__HTTP_TOKEN_MAX, &buf, &len, err, errlen);
    if (rc != 0)
        return rc;
    size_t start = 0, end = len;
    while (start < end && is_space(buf[start]))
        start++;
    while (end > start && is_space(buf[end - 1]))
        end--;
    if (start == end) {
        set_err(err, errlen, "output.token_file %s: the file is empty", path);
        rc = RP_ERR_CONFIG;
    }
    for (size_t i = start; rc == 0 && i < end; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c < 0x21 || c > 0x7e) {
            /* Name the position, never the byte's neighbours: they are secret. */
            set_err(err, errlen,
                    "output.token_file %s: byte %zu is not a visible ASCII character; a token "
                    "is one line of printable characters without spaces",
                    path, i + 1);
            rc = RP_ERR_CONFIG;
        }
    }
    if (rc != 0) {
        rp__os_secret_wipe(buf, len);
        free(buf);
        return rc;
    }
    memmove(buf, buf + start, end - start);
    rp__os_secret_wipe(buf + (end - start), len - (end - start));
    buf[end - start] = '\0';
    /* Should a backend echo the token in an answer the agent reports, or a
     * plugin log it, the log and status show <redacted> (lib/secrets.h). */
    (void)rp__secrets_add(buf, end - start);
    *token = buf;
    return 0;
}

void rp__http_token_free(char *token)
{
    if (!token)
        return;
    rp__os_secret_wipe(token, strlen(token));
    free(token);
}

/* ---- option checks ------------------------------------------------------------ */

/* An https:// URL with a host and no user name or password in it (those
 * would go out as Basic auth next to our Authorization header). */
static int check_url(const char *url, const char *what, char *err, size_t errlen)
{
    if (!url || !*url) {
        set_err(err, errlen, "%s: missing; expected an https:// URL", what);
        return RP_ERR_CONFIG;
    }
    if (!is_header_value(url, 8192) || strchr(url, ' ') || strchr(url, '\t')) {
        set_err(err, errlen, "%s: contains spaces or control characters, or is longer than 8192",
                what);
        return RP_ERR_CONFIG;
    }
    CURLU *u = curl_url();
    if (!u)
        return RP_ERR_NOMEM;
    int rc = 0;
    char *scheme = NULL, *host = NULL, *user = NULL, *password = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc != CURLUE_OK) {
        /* Not echoed when it may hold a credential that curl could not
         * parse out (the check below never runs then). */
        size_t off, len;
        if (rp__secrets_url_userinfo(url, &off, &len) == 0)
            set_err(err, errlen, "%s: \"%.*s" RP__REDACTED "%s\" is not a URL (%s)", what, (int)off,
                    url, url + off + len, curl_url_strerror(uc));
        else
            set_err(err, errlen, "%s: \"%s\" is not a URL (%s)", what, url, curl_url_strerror(uc));
        rc = RP_ERR_CONFIG;
    } else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
               curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK) {
        /* Checked first, and the URL is not echoed: it holds a credential. */
        set_err(err, errlen,
                "%s: the URL carries a user name or password; put the secret in "
                "output.token_file instead",
                what);
        rc = RP_ERR_CONFIG;
    } else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
               strcasecmp(scheme, "https") != 0) {
        set_err(err, errlen, "%s: \"%s\" is not an https:// URL; events only travel over TLS", what,
                url);
        rc = RP_ERR_CONFIG;
    } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
        set_err(err, errlen, "%s: \"%s\" has no host", what, url);
        rc = RP_ERR_CONFIG;
    }
    if (password)
        rp__os_secret_wipe(password, strlen(password));
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(password);
    curl_url_cleanup(u);
    return rc;
}

/* A file curl will read at each handshake: check now that it is there, so a
 * typo is a config error at start and not a TLS error on every upload. */
static int check_readable(const char *path, const char *what, char *err, size_t errlen)
{
    char why[512] = "";
    int rc = rp__os_check_readable_file(path, why, sizeof why);
    if (rc != 0)
        set_err(err, errlen, "%s %s: %s", what, path, why);
    return rc;
}

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* "sha256//" + the base64 of 32 bytes (43 characters and '='), one or more
 * separated by ';'. curl also takes a key file's path here; we do not, so
 * that a typo cannot silently turn into a file name. */
static int check_pin(const char *pin, char *err, size_t errlen)
{
    const char *p = pin;
    for (;;) {
        if (strncmp(p, "sha256//", 8) != 0)
            goto bad;
        p += 8;
        for (int i = 0; i < 43; i++, p++)
            if (!is_b64(*p))
                goto bad;
        if (*p++ != '=')
            goto bad;
        if (*p == '\0')
            return 0;
        if (*p++ != ';')
            goto bad;
    }
bad:
    set_err(err, errlen,
            "output.pinned_pubkey: expected sha256//<base64 of the SHA-256 of the server's "
            "public key> (44 characters), several separated by ';'");
    return RP_ERR_CONFIG;
}

/* ---- libcurl callbacks -------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    rp__http *h = arg;
    size_t len = size * nmemb;
    size_t room = h->max_body - h->body_len;
    size_t take = len < room ? len : room;
    if (take < len)
        h->body_truncated = 1; /* keep reading, so the connection stays usable */
    if (take == 0)
        return len;
    if (h->body_len + take + 1 > h->body_cap) {
        size_t cap = h->body_cap ? h->body_cap : 4096;
        while (cap < h->body_len + take + 1)
            cap *= 2;
        if (cap > h->max_body + 1)
            cap = h->max_body + 1;
        char *nb = realloc(h->body, cap);
        if (!nb) {
            h->body_oom = 1;
            return 0; /* anything but len stops the transfer */
        }
        h->body = nb;
        h->body_cap = cap;
    }
    memcpy(h->body + h->body_len, data, take);
    h->body_len += take;
    h->body[h->body_len] = '\0';
    return len;
}

/* Called by curl during a transfer: a nonzero return makes it stop with
 * CURLE_ABORTED_BY_CALLBACK. The poll loop checks the flag too; this makes
 * curl itself tear the transfer down cleanly. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    rp__http *h = arg;
    return atomic_load_explicit(&h->aborted, memory_order_relaxed) != 0;
}

/* ---- all option checks ------------------------------------------------------- */

/* The first failure, for rp__http_create, which stops at it. */
struct first_error {
    char *err;
    size_t errlen;
    int rc;
};

static void keep_first(void *arg, int rc, const char *message)
{
    struct first_error *f = arg;
    if (f->rc == 0) {
        f->rc = rc;
        set_err(f->err, f->errlen, "%s", message);
    }
}

/*
 * Every check of the options, each failure reported with its own message;
 * with all_errors 0 it stops at the first. The one list that both
 * rp__http_create and rp__http_check_opts (--check-config) run. Returns the
 * first failure's code or 0.
 */
static int check_opts(const rp__http_opts *opts, const char *token_file, int all_errors,
                      rp__http_report_fn report, void *arg)
{
    char msg[RP__HTTP_ERROR_MAX + 1024];
    int first = 0, rc;
#define CHECKED(expr)                                                                              \
    do {                                                                                           \
        msg[0] = '\0';                                                                             \
        if ((rc = (expr)) != 0) {                                                                  \
            report(arg, rc, msg);                                                                  \
            if (!first)                                                                            \
                first = rc;                                                                        \
            if (!all_errors || rc == RP_ERR_NOMEM)                                                 \
                return first;                                                                      \
        }                                                                                          \
    } while (0)

    CHECKED(check_url(opts->url, "output.url", msg, sizeof msg));
    if (opts->ca_file)
        CHECKED(check_readable(opts->ca_file, "output.ca_file", msg, sizeof msg));
    if (!opts->client_cert != !opts->client_key)
        CHECKED((set_err(msg, sizeof msg,
                         "output.client_cert and output.client_key: give both "
                         "(mutual TLS) or neither"),
                 RP_ERR_CONFIG));
    if (opts->client_cert)
        CHECKED(check_readable(opts->client_cert, "output.client_cert", msg, sizeof msg));
    if (opts->client_key && opts->client_cert && all_errors) {
        /* rp__http_create reads the key itself; the check reads it the same
         * way (owner only) and forgets it. */
        char *key = NULL;
        size_t key_len = 0;
        CHECKED(read_secret(opts->client_key, "output.client_key", KEY_FILE_MAX, &key, &key_len,
                            msg, sizeof msg));
        if (key) {
            rp__os_secret_wipe(key, key_len);
            free(key);
        }
    }
    if (opts->pinned_pubkey)
        CHECKED(check_pin(opts->pinned_pubkey, msg, sizeof msg));
    const char *scheme = opts->auth_scheme ? opts->auth_scheme : "Bearer";
    if (!is_token(scheme))
        CHECKED((set_err(msg, sizeof msg,
                         "auth scheme \"%s\": expected one word such as Bearer or Splunk", scheme),
                 RP_ERR_CONFIG));
    if (opts->token) {
        size_t n = strlen(opts->token);
        int ok = n > 0 && n <= RP__HTTP_TOKEN_MAX;
        for (size_t i = 0; ok && i < n; i++)
            ok = (unsigned char)opts->token[i] >= 0x21 && (unsigned char)opts->token[i] <= 0x7e;
        if (!ok)
            CHECKED((set_err(msg, sizeof msg,
                             "output.token_file: the token must be 1 to %u printable characters "
                             "without spaces",
                             RP__HTTP_TOKEN_MAX),
                     RP_ERR_CONFIG));
    }
    if (token_file) {
        char *token = NULL;
        CHECKED(rp__http_read_token(token_file, &token, msg, sizeof msg));
        rp__http_token_free(token);
    }
    if (opts->max_response_bytes > RP__HTTP_RESPONSE_MAX_LIMIT)
        CHECKED((set_err(msg, sizeof msg, "response cap %zu: at most %zu bytes",
                         opts->max_response_bytes, RP__HTTP_RESPONSE_MAX_LIMIT),
                 RP_ERR_CONFIG));
    const char *proxy = opts->proxy ? opts->proxy : "";
    if (!is_header_value(proxy, 8192) || strchr(proxy, ' ') || strchr(proxy, '\t'))
        CHECKED((set_err(msg, sizeof msg,
                         "output.proxy: contains spaces or control characters, or is longer "
                         "than 8192"),
                 RP_ERR_CONFIG));
#undef CHECKED
    return first;
}

int rp__http_check_opts(const rp__http_opts *opts, const char *token_file,
                        rp__http_report_fn report, void *arg)
{
    rp__os_once(&global_once, global_init, NULL);
    if (global_rc != 0) {
        report(arg, RP_ERR_INTERNAL, global_err);
        return RP_ERR_INTERNAL;
    }
    return check_opts(opts, token_file, 1, report, arg);
}

/* ---- create / destroy ---------------------------------------------------------- */

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (curl_easy_setopt(h->easy, opt, val) != CURLE_OK) {                                     \
            set_err(err, errlen, "libcurl refused option %s", #opt);                               \
            rc = RP_ERR_INTERNAL;                                                                  \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

int rp__http_create(const rp__http_opts *opts, rp__http **out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!opts || !out) {
        set_err(err, errlen, "rp__http_create: no options");
        return RP_ERR_INVAL;
    }
    *out = NULL;
    rp__os_once(&global_once, global_init, NULL);
    if (global_rc != 0) {
        set_err(err, errlen, "%s", global_err);
        return RP_ERR_INTERNAL;
    }

    struct first_error first = {err, errlen, 0};
    int rc = check_opts(opts, NULL, 0, keep_first, &first);
    if (rc != 0)
        return rc;
    const char *scheme = opts->auth_scheme ? opts->auth_scheme : "Bearer";
    const char *proxy = opts->proxy ? opts->proxy : "";

    rp__http *h = calloc(1, sizeof *h);
    if (!h)
        return RP_ERR_NOMEM;
    atomic_init(&h->aborted, 0);
    h->max_body =
        opts->max_response_bytes ? opts->max_response_bytes : RP__HTTP_RESPONSE_MAX_DEFAULT;
    char *key = NULL;
    size_t key_len = 0;
    h->url = dup_str(opts->url);
    h->easy = curl_easy_init();
    h->multi = curl_multi_init();
    if (!h->url || !h->easy || !h->multi) {
        rc = RP_ERR_NOMEM;
        goto fail;
    }
    if (opts->token) {
        size_t n = strlen("Authorization: ") + strlen(scheme) + 1 + strlen(opts->token) + 1;
        h->auth_line = malloc(n);
        if (!h->auth_line) {
            rc = RP_ERR_NOMEM;
            goto fail;
        }
        snprintf(h->auth_line, n, "Authorization: %s %s", scheme, opts->token);
    }

    /* The client key goes to curl as bytes read through the checked
     * descriptor, not as a path curl would open again later. */
    if (opts->client_key) {
        rc = read_secret(opts->client_key, "output.client_key", KEY_FILE_MAX, &key, &key_len, err,
                         errlen);
        if (rc != 0)
            goto fail;
    }

    uint32_t timeout = opts->timeout_ms ? opts->timeout_ms : RP__HTTP_TIMEOUT_DEFAULT_MS;

    /* Threads and signals: the agent is multi-threaded, so no SIGALRM for
     * DNS timeouts (curl's threaded resolver does not need it). */
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_ERRORBUFFER, h->errbuf);
    /* Only https, and never a redirect to anything. */
    SETOPT(CURLOPT_PROTOCOLS_STR, "https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "https");
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    /* Verification is not an option. */
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    SETOPT(CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
    SETOPT(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    if (opts->ca_file) {
        /* The configured CA replaces the system's: without clearing CAPATH,
         * curl would also trust every CA under /etc/ssl/certs. */
        SETOPT(CURLOPT_CAINFO, opts->ca_file);
        SETOPT(CURLOPT_CAPATH, (char *)NULL);
    }
    if (opts->client_cert) {
        struct curl_blob blob = {key, key_len, CURL_BLOB_COPY};
        SETOPT(CURLOPT_SSLCERT, opts->client_cert);
        SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
        SETOPT(CURLOPT_SSLKEY_BLOB, &blob);
        SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (opts->pinned_pubkey)
        SETOPT(CURLOPT_PINNEDPUBLICKEY, opts->pinned_pubkey);
    /* The config is the only source of the proxy: "" makes curl ignore
     * http_proxy/https_proxy/all_proxy, and with a proxy set, NOPROXY ""
     * makes it ignore no_proxy. An agent started from a shell must behave
     * as the same agent started by systemd. */
    SETOPT(CURLOPT_PROXY, proxy);
    if (*proxy)
        SETOPT(CURLOPT_NOPROXY, "");
    SETOPT(CURLOPT_USERAGENT, USER_AGENT);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)timeout);
    /* Probe an idle connection so a dead one is noticed (and replaced)
     * before a batch is written into it. */
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_TCP_KEEPIDLE, 60L);
    SETOPT(CURLOPT_TCP_KEEPINTVL, 30L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, h);
    SETOPT(CURLOPT_NOPROGRESS, 0L);
    SETOPT(CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(CURLOPT_XFERINFODATA, h);
    SETOPT(CURLOPT_POST, 1L);
    if (key) {
        rp__os_secret_wipe(key, key_len);
        free(key);
    }
    *out = h;
    return 0;

fail:
    if (key) {
        rp__os_secret_wipe(key, key_len);
        free(key);
    }
    rp__http_destroy(h);
    return rc;
}

#undef SETOPT

void rp__http_destroy(rp__http *h)
{
    if (!h)
        return;
    if (h->easy)
        curl_easy_cleanup(h->easy);
    if (h->multi)
        curl_multi_cleanup(h->multi);
    if (h->auth_line) {
        rp__os_secret_wipe(h->auth_line, strlen(h->auth_line));
        free(h->auth_line);
    }
    free(h->url);
    free(h->body);
    free(h);
}

void rp__http_abort(rp__http *h)
{
    if (!h)
        return;
    atomic_store(&h->aborted, 1);
    /* Wakes curl_multi_poll in rp__http_post; harmless when nothing waits. */
    curl_multi_wakeup(h->multi);
}

void rp__http_abort_clear(rp__http *h)
{
    if (h)
        atomic_store(&h->aborted, 0);
}

const char *rp__http_transport_name(enum rp__http_transport t)
{
    switch (t) {
    case RP__HTTP_TRANSPORT_NONE:
        return "none";
    case RP__HTTP_TRANSPORT_CONNECT:
        return "connect";
    case RP__HTTP_TRANSPORT_TIMEOUT:
        return "timeout";
    case RP__HTTP_TRANSPORT_TLS:
        return "tls";
    case RP__HTTP_TRANSPORT_DNS:
        return "dns";
    case RP__HTTP_TRANSPORT_ABORTED:
        return "aborted";
    case RP__HTTP_TRANSPORT_OTHER:
        return "other";
    }
    return "unknown";
}

/* ---- one request ---------------------------------------------------------------- */

static enum rp__http_transport classify(CURLcode code)
{
    switch (code) {
    case CURLE_OK:
        return RP__HTTP_TRANSPORT_NONE;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return RP__HTTP_TRANSPORT_DNS;
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_PROXY:
        return RP__HTTP_TRANSPORT_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return RP__HTTP_TRANSPORT_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return RP__HTTP_TRANSPORT_TLS;
    case CURLE_ABORTED_BY_CALLBACK:
        return RP__HTTP_TRANSPORT_ABORTED;
    default:
        return RP__HTTP_TRANSPORT_OTHER;
    }
}

/* Header names the client sets itself, which a caller may not repeat. */
static int is_reserved_header(const char *name)
{
    static const char *const reserved[] = {"Host",         "Content-Length", "Transfer-Encoding",
                                           "Connection",   "Expect",         "User-Agent",
                                           "Authorization"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

static void free_headers(struct curl_slist *list)
{
    /* The list holds a copy of the Authorization line: wipe before freeing. */
    for (struct curl_slist *l = list; l; l = l->next)
        rp__os_secret_wipe(l->data, strlen(l->data));
    curl_slist_free_all(list);
}

static int append_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *n = curl_slist_append(*list, line);
    if (!n)
        return RP_ERR_NOMEM;
    *list = n;
    return 0;
}

/* Checks the caller's headers and builds curl's list; RP_ERR_INVAL names no
 * one here (the caller is code, not an operator), so keep it simple. */
static int build_headers(const rp__http *h, const rp__http_header *headers, size_t nheaders,
                         struct curl_slist **out)
{
    if (nheaders > RP__HTTP_HEADERS_MAX || (nheaders && !headers))
        return RP_ERR_INVAL;
    int have_key = 0, have_type = 0;
    for (size_t i = 0; i < nheaders; i++) {
        const rp__http_header *hd = &headers[i];
        if (!hd->name || !hd->value || !is_token(hd->name) || strlen(hd->name) > 256 ||
            is_reserved_header(hd->name) || !is_header_value(hd->value, RP__HTTP_HEADER_VALUE_MAX))
            return RP_ERR_INVAL;
        if (strcasecmp(hd->name, "Idempotency-Key") == 0) {
            if (have_key || !*hd->value)
                return RP_ERR_INVAL;
            have_key = 1;
        }
        if (strcasecmp(hd->name, "Content-Type") == 0)
            have_type = 1;
    }
    if (!have_key)
        return RP_ERR_INVAL;

    struct curl_slist *list = NULL;
    /* An empty Expect stops curl from asking for 100-continue on bodies
     * over 1 MiB, which costs a round trip (or a 1 s stall with servers that
     * never answer it) on every large batch. */
    int rc = append_header(&list, "Expect:");
    if (rc == 0 && h->auth_line)
        rc = append_header(&list, h->auth_line);
    if (rc == 0 && !have_type)
        rc = append_header(&list, "Content-Type: application/octet-stream");
    char line[300 + RP__HTTP_HEADER_VALUE_MAX];
    for (size_t i = 0; rc == 0 && i < nheaders; i++) {
        snprintf(line, sizeof line, "%s: %s", headers[i].name, headers[i].value);
        rc = append_header(&list, line);
    }
    if (rc != 0) {
        free_headers(list);
        return rc;
    }
    *out = list;
    return 0;
}

static void reset_response(rp__http_response *resp)
{
    resp->status = 0;
    resp->transport = RP__HTTP_TRANSPORT_NONE;
    resp->error[0] = '\0';
    resp->has_retry_after = 0;
    resp->retry_after[0] = '\0';
    resp->body = "";
    resp->body_len = 0;
    resp->body_truncated = 0;
    resp->new_connections = 0;
    resp->elapsed_us = 0;
}

/* Drives the transfer with the multi interface, so rp__http_abort can wake
 * the wait at once (curl_easy_perform would sleep up to a second between
 * progress calls). Returns curl's result. */
static CURLcode run_transfer(rp__http *h)
{
    CURLMcode mc = curl_multi_add_handle(h->multi, h->easy);
    if (mc != CURLM_OK)
        return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
    CURLcode result = CURLE_OK;
    int done = 0;
    while (!done) {
        int running = 0;
        mc = curl_multi_perform(h->multi, &running);
        if (mc != CURLM_OK) {
            result = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
            break;
        }
        int queued;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(h->multi, &queued)) != NULL) {
            if (msg->msg == CURLMSG_DONE && msg->easy_handle == h->easy) {
                result = msg->data.result;
                done = 1;
            }
        }
        if (done)
            break;
        if (atomic_load(&h->aborted)) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        mc = curl_multi_poll(h->multi, NULL, 0, POLL_MAX_MS, NULL);
        if (mc != CURLM_OK) {
            result = CURLE_FAILED_INIT;
            break;
        }
    }
    /* Removing a transfer that has not finished closes its connection: the
     * next request opens a new one, which is right after an abort. */
    curl_multi_remove_handle(h->multi, h->easy);
    return result;
}

static void capture_retry_after(rp__http *h, rp__http_response *resp)
{
    struct curl_header *hdr = NULL;
    if (curl_easy_header(h->easy, "Retry-After", 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK || !hdr)
        return;
    resp->has_retry_after = 1;
    size_t n = strlen(hdr->value);
    if (n <= RP__HTTP_RETRY_AFTER_MAX)
        memcpy(resp->retry_after, hdr->value, n + 1);
}

int rp__http_post(rp__http *h, const char *url_or_NULL, const rp__http_header *headers,
                  size_t nheaders, const void *body, size_t len, rp__http_response *resp)
{
    if (!h || !resp || (len && !body))
        return RP_ERR_INVAL;
    if (url_or_NULL && check_url(url_or_NULL, "url", NULL, 0) != 0)
        return RP_ERR_INVAL;
    struct curl_slist *list = NULL;
    int rc = build_headers(h, headers, nheaders, &list);
    if (rc != 0)
        return rc;

    reset_response(resp);
    /* A buffer grown by a large answer is given back. */
    if (h->body_cap > BODY_KEEP_MAX) {
        free(h->body);
        h->body = NULL;
        h->body_cap = 0;
    }
    h->body_len = 0;
    h->body_truncated = 0;
    h->body_oom = 0;
    if (h->body)
        h->body[0] = '\0';
    h->errbuf[0] = '\0';

    if (atomic_load(&h->aborted)) {
        free_headers(list);
        resp->transport = RP__HTTP_TRANSPORT_ABORTED;
        snprintf(resp->error, sizeof resp->error, "aborted: the uploader is stopping");
        return RP_ERR_STOPPED;
    }

    int bad = curl_easy_setopt(h->easy, CURLOPT_URL, url_or_NULL ? url_or_NULL : h->url) ||
              curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, list) ||
              curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len) ||
              curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, len ? body : "");
    if (bad) {
        free_headers(list);
        curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
        return RP_ERR_NOMEM;
    }

    int64_t t0 = rp__os_monotonic_ns();
    CURLcode code = run_transfer(h);
    resp->elapsed_us = (rp__os_monotonic_ns() - t0) / 1000;

    /* Do not leave curl pointing at memory that is about to go. */
    curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    free_headers(list);

    long conns = 0;
    if (curl_easy_getinfo(h->easy, CURLINFO_NUM_CONNECTS, &conns) == CURLE_OK)
        resp->new_connections = conns;
    resp->body = h->body ? h->body : "";
    resp->body_len = h->body_len;
    resp->body_truncated = h->body_truncated;

    if (code == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
        resp->status = status;
        capture_retry_after(h, resp);
        return 0;
    }

    int aborted = atomic_load(&h->aborted);
    resp->transport = aborted ? RP__HTTP_TRANSPORT_ABORTED : classify(code);
    if (aborted)
        snprintf(resp->error, sizeof resp->error, "aborted: the uploader is stopping");
    else
        snprintf(resp->error, sizeof resp->error, "%s (curl %d: %s)",
                 h->errbuf[0] ? h->errbuf : curl_easy_strerror(code), (int)code,
                 curl_easy_strerror(code));
    if (aborted)
        return RP_ERR_STOPPED;
    if (h->body_oom || code == CURLE_OUT_OF_MEMORY)
        return RP_ERR_NOMEM;
    return code == CURLE_OPERATION_TIMEDOUT ? RP_ERR_TIMEOUT : RP_ERR_IO;
}
