/*
 * core/output/retry.h - the uploader's retry policy (ARCHITECTURE.md §7), as pure
 * functions: what to do with a batch after an upload attempt, how long to
 * wait before the next attempt, and the Retry-After header's two forms.
 *
 * Nothing here does I/O, reads the clock or keeps global state: the caller
 * passes the time and the random numbers in, so every decision can be tested
 * exactly. All functions are safe from any thread on distinct state objects.
 * docs/uploader.md explains the rules and why they are what they are.
 */
#ifndef RP_CORE_RETRY_H
#define RP_CORE_RETRY_H

#include "output/outcome.h"

#include <stddef.h>
#include <stdint.h>

/* The longest wait a Retry-After header may impose: a server asking for more
 * (or a date further ahead) gets this much. An hour keeps a misconfigured
 * backend from parking the agent for a day while still honouring any
 * reasonable maintenance window; the spool holds the data meanwhile. */
#define RP__RETRY_AFTER_MAX_MS ((int64_t)3600 * 1000)

/* Backoff defaults (rp__backoff_init with 0): the first retry waits up to
 * 500 ms, each further one up to twice as long, never more than 60 s. */
#define RP__BACKOFF_BASE_MS 500u
#define RP__BACKOFF_CAP_MS  60000u

/* A batch answered by a 5xx outside 502/503/504 (or by a status no rule
 * names) is retried this many times in all, then dead-lettered: such answers
 * may be a passing fault or a batch the backend will never take (ClickHouse
 * answers 500 to unparsable rows), and one poison batch must not block the
 * spool behind it forever. */
#define RP__RETRY_SERVER_ERROR_MAX 10u

/* The verdict on one attempt: action is DELIVERED, RETRY, SPLIT or
 * DEAD_LETTER. */
typedef struct rp__retry_decision {
    enum rp__outcome action;
    /* 1 when uploads must stop (after this batch is dead-lettered) until the
     * configuration changes or an operator resumes them: the backend refuses
     * our credentials or wants us elsewhere, so every further batch would
     * fail the same way. */
    int pause;
    /* Why, for the log line and the alert: a static string. */
    const char *reason;
} rp__retry_decision;

/* What the policy remembers about one batch across its attempts. Zero it for
 * a new batch, and for each half of a split batch. */
typedef struct rp__retry_batch {
    uint32_t attempts;      /* attempts judged so far */
    uint32_t server_errors; /* of which answered by a status with a bounded retry */
} rp__retry_batch;

/*
 * Judges one attempt to upload a batch of batch_events events.
 *   transport_error: nonzero when no HTTP answer came (connect, DNS, TLS,
 *     timeout, abort: an enum rp__http_transport from http.h); status is then
 *     ignored and the batch is retried, however often, because the batch is
 *     not at fault and the spool keeps it safe meanwhile;
 *   status: the HTTP status otherwise (100..999).
 * The rules, in order:
 *   2xx, 409                     delivered (409: the Idempotency-Key was seen);
 *   408, 429, 502, 503, 504      retry;
 *   413                          split; dead-letter if batch_events <= 1;
 *   401, 403, 407                dead-letter and pause (credentials refused);
 *   3xx                          dead-letter and pause (redirects are never
 *                                followed: output.url must be the endpoint);
 *   other 4xx (400, 404, 422...) dead-letter;
 *   other 5xx, 1xx, 600..999     retry until RP__RETRY_SERVER_ERROR_MAX such
 *                                answers for this batch, then dead-letter.
 * Updates *batch. Returns 0, or RP_ERR_INVAL (NULL pointer, or no transport
 * error and a status outside 100..999; *out and *batch are then untouched).
 */
int rp__retry_decide(long status, int transport_error, size_t batch_events, rp__retry_batch *batch,
                     rp__retry_decision *out);

/*
 * Parses a Retry-After field value (RFC 9110 §10.2.3): delta-seconds
 * ("120") or an HTTP-date (see rp__http_date_parse), with optional spaces or
 * tabs around it. *delay_ms gets the wait from now_unix_s: 0 for a date in
 * the past, at most RP__RETRY_AFTER_MAX_MS (longer waits and any number of
 * digits are capped, not refused). value need not be NUL-terminated.
 * Returns 0, RP_ERR_PARSE for anything else (empty, sign, fraction, units,
 * garbage, an impossible date; *delay_ms untouched) or RP_ERR_INVAL (NULL,
 * or now_unix_s out of range, see below).
 */
int rp__retry_after_parse(const char *value, size_t len, int64_t now_unix_s, int64_t *delay_ms);

/* Both parsers take the caller's clock, which must lie within ±2^40 s of
 * 1970 (RP_ERR_INVAL otherwise), so that no arithmetic can overflow. */

/*
 * Parses an HTTP-date (RFC 9110 §5.6.7) into seconds since 1970 (UTC), in
 * its three forms, case-sensitively as the RFC's grammar says:
 *   IMF-fixdate  "Sun, 06 Nov 1994 08:49:37 GMT"
 *   RFC 850      "Sunday, 06-Nov-94 08:49:37 GMT"  (the two-digit year is
 *                the one nearest now_unix_s that is not more than 50 years
 *                ahead, per the RFC)
 *   asctime      "Sun Nov  6 08:49:37 1994"
 * Strict: exact spacing, a real calendar day (leap years included), hours
 * 0-23, minutes and seconds 0-59 (second 60 only at 23:59, a leap second),
 * and the day name must be that date's. No surrounding spaces. The form is
 * checked here, libcurl's curl_getdate converts it (rp__retry_curl_getdate).
 * Returns 0, RP_ERR_PARSE or RP_ERR_INVAL (NULL).
 */
int rp__http_date_parse(const char *s, size_t len, int64_t now_unix_s, int64_t *unix_s);

/*
 * libcurl's curl_getdate, for rp__http_date_parse (in retry_getdate.c, so
 * that retry.c itself needs no libcurl headers): date (NUL-terminated) into
 * seconds since 1970, UTC. curl reads far more than HTTP allows (any case,
 * other zones, missing parts) and checks neither the day against the month
 * nor the day name, which is why rp__http_date_parse checks the form first.
 * RP_ERR_PARSE when curl cannot read it (also for years before 1583, and
 * for 1969-12-31 23:59:59, which curl answers like a failure).
 */
int rp__retry_curl_getdate(const char *date, int64_t *unix_s);

/* Exponential backoff with full jitter: attempt n (from 0) waits a uniformly
 * random time in [0, min(cap, base * 2^n)] milliseconds. Full jitter spreads
 * a fleet of agents that lost the backend at the same moment, so they do not
 * come back in lockstep. */
typedef struct rp__backoff {
    uint32_t base_ms;
    uint32_t cap_ms;
    uint32_t attempt; /* retries since the last success */
} rp__backoff;

/* base_ms or cap_ms 0 = the default (RP__BACKOFF_BASE_MS, RP__BACKOFF_CAP_MS);
 * a base above the cap is lowered to it. */
void rp__backoff_init(rp__backoff *b, uint32_t base_ms, uint32_t cap_ms);
/* The wait before the next retry, in ms, from a random 64-bit number (the
 * caller's generator: tests pass fixed values); counts the attempt. */
int64_t rp__backoff_next(rp__backoff *b, uint64_t random);
/* After a delivered batch: the next failure starts from base again. */
void rp__backoff_reset(rp__backoff *b);

/* The wait before a retry: the longer of the backoff and the server's
 * Retry-After (retry_after_ms < 0: the answer had none, or it did not
 * parse). A server that names a time gets at least that; a server that says
 * "0" while failing still gets the backoff. */
int64_t rp__retry_wait_ms(int64_t backoff_ms, int64_t retry_after_ms);

#endif
