/*
 * core/output/http.h - the uploader's HTTPS client: one libcurl easy handle per
 * client, reused for every request so that the connection (and its TLS
 * session) stays open between batches.
 *
 * Security, not configurable: https:// only (plain http is refused, also for
 * tests, which run a real TLS server); the peer certificate and its host name
 * are always verified (CURLOPT_SSL_VERIFYPEER=1, VERIFYHOST=2); TLS 1.2 or
 * newer; redirects are never followed; the proxy is the configured one or
 * none at all (http_proxy/https_proxy/no_proxy in the environment are
 * ignored: the config is the only source of truth). Secrets (the token, the
 * client key) are read from files only their owner may access, and never
 * logged: errors name files and modes, never contents.
 *
 * Threads: a client is used by one thread at a time (the uploader's);
 * rp__http_abort alone may be called from any other thread while a request
 * runs. docs/uploader.md explains the choices.
 *
 * Caps: the response body kept is at most opts.max_response_bytes (default
 * RP__HTTP_RESPONSE_MAX_DEFAULT); the rest is read and dropped, and the
 * response is flagged truncated. A token holds at most RP__HTTP_TOKEN_MAX
 * bytes; a request at most RP__HTTP_HEADERS_MAX caller headers, each value at
 * most RP__HTTP_HEADER_VALUE_MAX bytes; a Retry-After value at most
 * RP__HTTP_RETRY_AFTER_MAX characters (a longer one is kept as "", which no
 * parser accepts).
 */
#ifndef RP_CORE_HTTP_H
#define RP_CORE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define RP__HTTP_RESPONSE_MAX_DEFAULT ((size_t)16 << 20)
/* The largest max_response_bytes accepted (RP_ERR_CONFIG above). */
#define RP__HTTP_RESPONSE_MAX_LIMIT ((size_t)1 << 30)
#define RP__HTTP_TIMEOUT_DEFAULT_MS 30000u
#define RP__HTTP_TOKEN_MAX          8192u
#define RP__HTTP_HEADERS_MAX        32u
#define RP__HTTP_HEADER_VALUE_MAX   8192u
#define RP__HTTP_RETRY_AFTER_MAX    64u
/* Room for curl's message (CURL_ERROR_SIZE) plus our prefix. */
#define RP__HTTP_ERROR_MAX 320u

typedef struct rp__http rp__http;

/* Why no HTTP answer came. NONE when one did (whatever its status). */
enum rp__http_transport {
    RP__HTTP_TRANSPORT_NONE = 0,
    RP__HTTP_TRANSPORT_CONNECT, /* could not connect (also to the proxy), or the
                                   connection broke before the answer was complete */
    RP__HTTP_TRANSPORT_TIMEOUT, /* timeout_ms passed */
    RP__HTTP_TRANSPORT_TLS,     /* handshake failed, certificate not trusted or not
                                   for this host, pinned key mismatch, bad client cert */
    RP__HTTP_TRANSPORT_DNS,     /* the host (or the proxy's) name did not resolve */
    RP__HTTP_TRANSPORT_ABORTED, /* rp__http_abort */
    RP__HTTP_TRANSPORT_OTHER,   /* anything else (a malformed answer, out of memory...) */
};

/* "none", "connect", "timeout", "tls", "dns", "aborted", "other". */
const char *rp__http_transport_name(enum rp__http_transport t);

/* Options, all copied by rp__http_create (the caller keeps its strings).
 * Error messages name the options by their config keys (output.<name>). */
typedef struct rp__http_opts {
    const char *url;           /* required; https:// only */
    const char *ca_file;       /* PEM bundle to trust instead of the system's; NULL = system */
    const char *client_cert;   /* PEM client certificate for mutual TLS; NULL = none */
    const char *client_key;    /* its unencrypted PEM key: required with client_cert;
                                  must be accessible by its owner only (RP_ERR_PERM) */
    const char *pinned_pubkey; /* "sha256//<base64>" (';' between several, for key
                                  rotation); NULL = no pinning */
    const char *token;         /* the secret (see rp__http_read_token); NULL = no
                                  Authorization header (mutual TLS alone) */
    const char *auth_scheme;   /* "Bearer" when NULL; "Splunk" for Splunk HEC */
    const char *proxy;         /* "http://host:port" etc.; NULL or "" = no proxy */
    uint32_t timeout_ms;       /* bounds the connection and the whole exchange;
                                  0 = RP__HTTP_TIMEOUT_DEFAULT_MS */
    size_t max_response_bytes; /* 0 = RP__HTTP_RESPONSE_MAX_DEFAULT; at most
                                  RP__HTTP_RESPONSE_MAX_LIMIT */
} rp__http_opts;

/* One request header, borrowed for the call. */
typedef struct rp__http_header {
    const char *name;  /* an HTTP token (letters, digits, !#$%&'*+-.^_`|~) */
    const char *value; /* visible ASCII, spaces and tabs; no CR, LF or NUL */
} rp__http_header;

/* What came back. All fields are set by every rp__http_post that got past its
 * argument checks. */
typedef struct rp__http_response {
    long status;                                    /* HTTP status; 0 without an answer */
    enum rp__http_transport transport;              /* NONE when status is set */
    char error[RP__HTTP_ERROR_MAX];                 /* curl's message; "" when none */
    int has_retry_after;                            /* 1 if the answer had a Retry-After */
    char retry_after[RP__HTTP_RETRY_AFTER_MAX + 1]; /* its value, NUL-terminated */
    /* The answer's body, NUL-terminated, borrowed from the client: valid until
     * the next rp__http_post or rp__http_destroy on it. Never NULL. */
    const char *body;
    size_t body_len;
    int body_truncated;   /* 1 when the body was longer than the cap */
    long new_connections; /* connections this request opened: 0 = reused */
    int64_t elapsed_us;   /* wall time of the exchange */
} rp__http_response;

/*
 * Makes a client. Checks the options (https URL, files readable, key file
 * private, pin syntax, token free of characters that would break the header)
 * and fails with one message in err naming the option and what was expected:
 * RP_ERR_CONFIG (bad value), RP_ERR_PERM (a key file others can read),
 * RP_ERR_NOTFOUND (a file missing), RP_ERR_NOMEM, RP_ERR_INTERNAL (libcurl
 * failed to start, or lacks TLS). No network traffic happens here. err may be
 * NULL. curl_global_init runs once per process, on the first call.
 */
int rp__http_create(const rp__http_opts *opts, rp__http **out, char *err, size_t errlen);

/* Called once per failed check by rp__http_check_opts: rc is what
 * rp__http_create would return for it, message names the option. */
typedef void (*rp__http_report_fn)(void *arg, int rc, const char *message);

/*
 * Runs every check rp__http_create runs on opts (the same code), and also
 * reads token_file (when not NULL) as rp__http_read_token does, reporting
 * each failure instead of stopping at the first. No client is made and no
 * traffic happens. Returns the first failure's code, or 0.
 */
int rp__http_check_opts(const rp__http_opts *opts, const char *token_file,
                        rp__http_report_fn report, void *arg);

/* Closes the connection and frees the client; the token copy is wiped first.
 * NULL is a no-op. Must not overlap any other call on h, rp__http_abort
 * included. */
void rp__http_destroy(rp__http *h);

/*
 * POSTs body (len bytes, sent as is: the caller compresses it and passes
 * Content-Encoding) to url_or_NULL, or to opts.url when NULL (https:// only).
 * Blocks until the answer, the timeout, or rp__http_abort.
 *
 * Headers sent: User-Agent: rampart/<version>; Authorization: <scheme>
 * <token> when a token is set; an empty Expect (no 100-continue round trip,
 * whose wait would stall every batch); then the caller's headers, which must
 * include Idempotency-Key (the batch id, the same for every retry of the
 * batch; RP_ERR_INVAL without it) and should include Content-Type
 * (application/octet-stream when absent). The caller may not set Host,
 * Content-Length, Transfer-Encoding, Connection, Expect, User-Agent or
 * Authorization (RP_ERR_INVAL): the client owns them.
 *
 * Returns 0 when an HTTP answer came, whatever its status (judge it with
 * rp__retry_decide); RP_ERR_TIMEOUT or RP_ERR_IO when none came
 * (resp->transport says why, resp->error has curl's words); RP_ERR_STOPPED
 * after rp__http_abort (transport ABORTED); RP_ERR_NOMEM; RP_ERR_INVAL for
 * bad arguments (resp then untouched, nothing sent).
 */
int rp__http_post(rp__http *h, const char *url_or_NULL, const rp__http_header *headers,
                  size_t nheaders, const void *body, size_t len, rp__http_response *resp);

/*
 * Makes the request in flight on h, if any, return promptly with
 * RP_ERR_STOPPED, and every later rp__http_post on h too, until
 * rp__http_abort_clear: an abort that lands just before a request starts is
 * not lost. Safe from any thread (not from a signal handler); it only sets a
 * flag and wakes the client's poll.
 */
void rp__http_abort(rp__http *h);
/* Lets requests run again after rp__http_abort. Same thread as rp__http_post. */
void rp__http_abort_clear(rp__http *h);

/*
 * Reads a secret token from path (output.token_file). Refuses a file that
 * group or others may access in any way (RP_ERR_PERM: "... mode 0644 ...;
 * chmod 600 it"), that is not a regular file (RP_ERR_CONFIG), is missing
 * (RP_ERR_NOTFOUND), larger than RP__HTTP_TOKEN_MAX (RP_ERR_RANGE), empty or
 * holding characters a header cannot carry (RP_ERR_CONFIG). Leading and
 * trailing whitespace (the usual final newline) is dropped. The check is
 * made on the opened file (fstat), so the file cannot be swapped in between.
 * On success *token is a NUL-terminated copy the caller frees with
 * rp__http_token_free; err names the file and the problem, never the
 * content. err may be NULL.
 */
int rp__http_read_token(const char *path, char **token, char *err, size_t errlen);
/* Wipes and frees a token from rp__http_read_token. NULL is a no-op. */
void rp__http_token_free(char *token);

#endif
