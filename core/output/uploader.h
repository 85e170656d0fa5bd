/*
 * core/output/uploader.h - the uploader: one thread that sends the spool's batches
 * to output.url, in order, and applies the retry rules of ARCHITECTURE.md §7.
 *
 * It works from the spool only, so it never blocks the bus: the sink appends
 * batches, the uploader reads the oldest one, shapes it for output.format
 * (core/output/output_format.h), POSTs it on one persistent HTTPS connection
 * (core/output/http.h) and judges the answer (core/output/retry.h):
 *   delivered (2xx, 409)        the batch is acked and leaves the spool;
 *   retry (transport errors, 408, 429, 502-504, bounded other 5xx)
 *                               the same batch is sent again after the longer
 *                               of a jittered exponential backoff and the
 *                               server's Retry-After, with the same
 *                               Idempotency-Key; nothing behind it overtakes;
 *   split (413)                 each half is sent as its own request (key
 *                               "<key>.1", "<key>.2"), recursively;
 *   dead letter (400, 404, 422, unparsable rows, ...)
 *                               the lines are written to the dead-letter
 *                               folder with a note of why, an alert is
 *                               raised, and the batch is acked;
 *   pause (401, 403, 407, 3xx)  as dead letter, then no upload at all until
 *                               rp__uploader_resume or rp__uploader_reconfigure
 *                               (the agent calls them on reload), because
 *                               every further batch would fail the same way.
 * Per-line answers (elastic-bulk items, Splunk's invalid event number) ack
 * the delivered lines, dead-letter the refused ones and resend the rest.
 * docs/uploader.md has the rules and the dead-letter files.
 *
 * Caps: one batch is worked on at a time (its decoded lines at most
 * RP__SPOOL_PAYLOAD_MAX bytes); a split goes at most RP__UPLOAD_MAX_PARTS
 * parts deep; the request body of the part being sent is built and
 * compressed once and kept for its retries (at most 2 * RP__SPOOL_PAYLOAD_MAX
 * bytes shaped plus as much gzipped, the two buffers any attempt needs
 * anyway; the next part reuses them); the dead-letter folder holds at most deadletter_max_bytes,
 * the oldest dead letters are deleted first (counted).
 *
 * Threads: create, start, reconfigure, stop and destroy on the control
 * thread; wake, resume and get_stats from any thread. The uploader is the
 * spool's only reader.
 */
#ifndef RP_CORE_UPLOADER_H
#define RP_CORE_UPLOADER_H

#include "output/http.h"
#include "output/output_format.h"

#include <stddef.h>
#include <stdint.h>

struct rp__spool;
struct rp__os_dir;
typedef struct rp__uploader rp__uploader;

#define RP__UPLOAD_MAX_PARTS 64u

/* Raised for dead letters and pauses. Called on the uploader's thread with
 * no lock held; the strings are borrowed for the call. severity is ECS
 * event.severity (0-100). */
typedef void (*rp__uploader_alert_fn)(void *arg, const char *rule_id, const char *rule_name,
                                      int severity, const char *message);

/*
 * How a request goes out. The uploader's own unit tests
 * (tests/unit/test_uploader.c) put a fake backend here; everything else
 * leaves rp__uploader_opts.transport NULL, which is core/output/http.h's
 * HTTPS client. Internal: no config key reaches it. post must behave as
 * rp__http_post to output.url (same returns, same response fields, body
 * borrowed until the next post); abort, which may be called from any
 * thread, must make the post in flight and every later one return
 * RP_ERR_STOPPED until abort_clear. The HTTPS client is made (and checked)
 * all the same, so the options mean the same with and without a transport.
 */
typedef struct rp__uploader_transport {
    int (*post)(void *arg, const rp__http_header *headers, size_t nheaders, const void *body,
                size_t len, rp__http_response *resp);
    void (*abort)(void *arg);
    void (*abort_clear)(void *arg);
    void *arg;
} rp__uploader_transport;

typedef struct rp__uploader_opts {
    struct rp__spool *spool; /* borrowed; outlives the uploader */
    const char *url;         /* output.url (https://); copied */
    enum rp__format format;
    const char *ca_file, *client_cert, *client_key, *pinned_pubkey, *proxy; /* NULL = none */
    const char *token_file; /* read at create and at each reconfigure; NULL = no token */
    uint32_t timeout_ms;
    int gzip;                   /* send Content-Encoding: gzip bodies */
    const char *deadletter_dir; /* created 0700 if missing; copied */
    /* That folder opened by the caller (borrowed; the uploader keeps a handle
     * of its own and writes every dead letter through it); NULL = the
     * uploader opens deadletter_dir itself. */
    struct rp__os_dir *deadletter;
    uint64_t deadletter_max_bytes; /* 0 = dead letters are only counted and logged */
    const char *host_name;         /* for the formats that name the host; copied */
    /* The format's own settings (output.auth_scheme, output.elastic,
     * output.splunk, output.loki, output.otlp): its auth_scheme, clickhouse_table,
     * elastic_*, splunk_*, loki_* and otlp_* members, copied; the rest of it is
     * the uploader's. NULL = the formats' defaults. */
    const rp__format_ctx *format_opts;
    const char *agent_id;                     /* copied */
    uint32_t backoff_base_ms, backoff_cap_ms; /* 0 = core/output/retry.h defaults */
    rp__uploader_alert_fn on_alert;           /* may be NULL */
    void *alert_arg;
    const rp__uploader_transport *transport; /* NULL = core/output/http.h; copied */
} rp__uploader_opts;

typedef struct rp__uploader_stats {
    uint64_t requests;
    uint64_t delivered_batches, delivered_events; /* spool batches acked as delivered */
    uint64_t sent_bytes;                          /* request bodies of delivered requests */
    uint64_t retries;                             /* attempts that will be made again */
    uint64_t transport_errors;                    /* attempts without an HTTP answer */
    uint64_t splits;                              /* 413 answers */
    uint64_t dead_batches, dead_events;           /* parts dead-lettered, their events */
    uint64_t deadletter_deleted;                  /* dead-letter files removed at the cap */
    uint64_t deadletter_bytes;                    /* the folder's size now */
    uint64_t pauses;
    uint64_t bodies_built;     /* request bodies shaped and compressed: once per part */
    int paused;                /* 1 while uploads wait for a resume */
    int waiting;               /* 1 while waiting to retry */
    long last_status;          /* last HTTP status, 0 = none yet or no answer */
    int64_t last_delivered_ns; /* wall clock of the last delivery, 0 = none */
    char last_error[RP__HTTP_ERROR_MAX + 64]; /* the last failure, "" = none */
} rp__uploader_stats;

/* Checks the options, reads the token and makes the HTTPS client; no
 * traffic. err gets one line naming the option (output.<key>) on failure:
 * RP_ERR_CONFIG, RP_ERR_PERM, RP_ERR_NOTFOUND, RP_ERR_NOMEM, RP_ERR_IO. */
int rp__uploader_create(const rp__uploader_opts *opts, rp__uploader **out, char *err,
                        size_t errlen);

/*
 * Runs every check rp__uploader_create makes on the options (URL, format,
 * files, key and token permissions, pin, proxy; the same code) and reports
 * each failure with a message naming the option (output.<key>), instead of
 * stopping at the first. Makes nothing and sends nothing; --check-config
 * and the agent's start-up both use it. Returns the first failure's code
 * or 0. opts.spool and opts.deadletter_dir are not looked at.
 */
int rp__uploader_check_opts(const rp__uploader_opts *opts, rp__http_report_fn report, void *arg);

/* Starts the thread. */
int rp__uploader_start(rp__uploader *u);

/* There may be new batches: the spool's on_append calls this. Any thread. */
void rp__uploader_wake(rp__uploader *u);

/* Lets uploads run again after a pause. Any thread. */
void rp__uploader_resume(rp__uploader *u);

/* Applies new options (the spool must be the same): builds the new client
 * first and keeps the old one if that fails (error in err); otherwise hands
 * it to the thread, which switches after the batch in flight: a request on
 * the wire is answered with the old settings, then the next batch (or the
 * same one, when it was to wait for a retry or a resume) is sent with the
 * new ones. Clears a pause. Returns without waiting for the switch. */
int rp__uploader_reconfigure(rp__uploader *u, const rp__uploader_opts *opts, char *err,
                             size_t errlen);

/* Abandons the request in flight (the batch stays in the spool) and joins
 * the thread. Safe to call twice. */
void rp__uploader_stop(rp__uploader *u);

/* Stops first if needed. NULL is a no-op. */
void rp__uploader_destroy(rp__uploader *u);

void rp__uploader_get_stats(rp__uploader *u, rp__uploader_stats *out);

#endif
