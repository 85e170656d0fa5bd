/* core/output/retry.c - the retry policy: verdicts, backoff, Retry-After and HTTP-date. */
#include "output/retry.h"
#include "lib/civil_time.h"

#include <rampart/plugin.h>

#include <string.h>

/* ---- verdicts ---------------------------------------------------------- */

static void set_decision(rp__retry_decision *out, enum rp__outcome action, int pause,
                         const char *reason)
{
    out->action = action;
    out->pause = pause;
    out->reason = reason;
}

/* A status whose meaning may be passing or permanent: retried a bounded
 * number of times for this batch (see RP__RETRY_SERVER_ERROR_MAX). */
static void bounded_retry(rp__retry_batch *batch, rp__retry_decision *out, const char *reason,
                          const char *final_reason)
{
    if (batch->server_errors < UINT32_MAX)
        batch->server_errors++;
    if (batch->server_errors >= RP__RETRY_SERVER_ERROR_MAX)
        set_decision(out, RP__OUTCOME_DEAD_LETTER, 0, final_reason);
    else
        set_decision(out, RP__OUTCOME_RETRY, 0, reason);
}

int rp__retry_decide(long status, int transport_error, size_t batch_events, rp__retry_batch *batch,
                     rp__retry_decision *out)
{
    if (!batch || !out)
        return RP_ERR_INVAL;
    if (!transport_error && (status < 100 || status > 999))
        return RP_ERR_INVAL;
    if (batch->attempts < UINT32_MAX)
        batch->attempts++;

    if (transport_error) {
        set_decision(out, RP__OUTCOME_RETRY, 0, "no answer from the backend (transport error)");
        return 0;
    }
    if (status >= 200 && status <= 299) {
        set_decision(out, RP__OUTCOME_DELIVERED, 0, "accepted");
        return 0;
    }
    switch (status) {
    case 409:
        /* The backend already holds a batch with this Idempotency-Key: an
         * earlier attempt got through even though we never saw its answer. */
        set_decision(out, RP__OUTCOME_DELIVERED, 0,
                     "409: already delivered (same Idempotency-Key)");
        return 0;
    case 408:
        set_decision(out, RP__OUTCOME_RETRY, 0, "408: the backend timed out reading the request");
        return 0;
    case 429:
        set_decision(out, RP__OUTCOME_RETRY, 0, "429: the backend asks us to slow down");
        return 0;
    case 502:
    case 503:
    case 504:
        set_decision(out, RP__OUTCOME_RETRY, 0, "502/503/504: the backend is unavailable");
        return 0;
    case 413:
        if (batch_events > 1)
            set_decision(out, RP__OUTCOME_SPLIT, 0, "413: batch too large, splitting it");
        else
            set_decision(out, RP__OUTCOME_DEAD_LETTER, 0,
                         "413: a single event is larger than the backend accepts");
        return 0;
    case 401:
    case 403:
    case 407:
        set_decision(out, RP__OUTCOME_DEAD_LETTER, 1,
                     "401/403/407: the backend refuses our credentials; uploads paused");
        return 0;
    default:
        break;
    }
    if (status >= 300 && status <= 399) {
        set_decision(
            out, RP__OUTCOME_DEAD_LETTER, 1,
            "3xx: the backend redirects; output.url must name the endpoint; uploads paused");
        return 0;
    }
    if (status >= 400 && status <= 499) {
        set_decision(out, RP__OUTCOME_DEAD_LETTER, 0, "4xx: the backend refused the batch");
        return 0;
    }
    if (status >= 500 && status <= 599) {
        bounded_retry(batch, out, "5xx: server error, retrying a bounded number of times",
                      "5xx: server error on every attempt, giving the batch up");
        return 0;
    }
    /* 1xx as a final answer, or 600..999: the server does not speak HTTP as
     * we know it; give it the same bounded patience as a server error. */
    bounded_retry(batch, out, "unexpected status, retrying a bounded number of times",
                  "unexpected status on every attempt, giving the batch up");
    return 0;
}

const char *rp__outcome_name(enum rp__outcome o)
{
    switch (o) {
    case RP__OUTCOME_STATUS:
        return "status";
    case RP__OUTCOME_DELIVERED:
        return "delivered";
    case RP__OUTCOME_RETRY:
        return "retry";
    case RP__OUTCOME_SPLIT:
        return "split";
    case RP__OUTCOME_DEAD_LETTER:
        return "dead-letter";
    case RP__OUTCOME_PARTIAL:
        return "partial";
    }
    return "unknown";
}

/* ---- HTTP-date ----------------------------------------------------------- */

/* The clock the caller passes must be within ±2^40 s (±34,000 years) of
 * 1970: with dates limited to 4-digit years, no sum or difference below can
 * then overflow. */
#define NOW_LIMIT ((int64_t)1 << 40)

static int now_in_range(int64_t now_unix_s)
{
    return now_unix_s >= -NOW_LIMIT && now_unix_s <= NOW_LIMIT;
}

static const char *const day_short[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_long[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};
static const char *const month_short[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* A small cursor over the input: every reader checks the bounds itself, so a
 * short or truncated value fails instead of reading past its end. */
typedef struct cursor {
    const char *p;
    const char *end;
} cursor;

static int take_char(cursor *c, char ch)
{
    if (c->p >= c->end || *c->p != ch)
        return -1;
    c->p++;
    return 0;
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Exactly n digits. */
static int take_digits(cursor *c, int n, int *out)
{
    if (c->end - c->p < n)
        return -1;
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(c->p[i]))
            return -1;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += n;
    *out = v;
    return 0;
}

/* One of the names, matched exactly (case-sensitive); its index in *out.
 * Names in one table never prefix each other, so the first match is it. */
static int take_name(cursor *c, const char *const *names, int count, int *out)
{
    for (int i = 0; i < count; i++) {
        size_t n = strlen(names[i]);
        if ((size_t)(c->end - c->p) >= n && memcmp(c->p, names[i], n) == 0) {
            c->p += n;
            *out = i;
            return 0;
        }
    }
    return -1;
}

/* "HH:MM:SS" */
static int take_time(cursor *c, int *h, int *m, int *s)
{
    if (take_digits(c, 2, h) || take_char(c, ':') || take_digits(c, 2, m) || take_char(c, ':') ||
        take_digits(c, 2, s))
        return -1;
    return 0;
}

/* The civil year of a Unix time, for the RFC 850 two-digit-year rule. */
static int64_t year_of(int64_t unix_s)
{
    int64_t y;
    unsigned m, d;
    rp__civil_from_days(unix_s / 86400 - (unix_s % 86400 < 0), &y, &m, &d);
    return y;
}

/* Checks the fields and turns them into seconds since 1970. */
static int compose(int64_t year, int month0, int day, int hour, int min, int sec, int weekday,
                   int64_t *unix_s)
{
    if (month0 < 0 || month0 > 11 || day < 1 ||
        (unsigned)day > rp__civil_days_in_month(year, (unsigned)month0 + 1))
        return -1;
    if (hour > 23 || min > 59 || sec > 60)
        return -1;
    /* RFC 9110: "00:00:00 - 23:59:60 (leap second)". */
    if (sec == 60 && !(hour == 23 && min == 59))
        return -1;
    int64_t days = rp__days_from_civil(year, (unsigned)month0 + 1, (unsigned)day);
    if (rp__civil_weekday(days) != (unsigned)weekday)
        return -1;
    *unix_s = days * 86400 + hour * 3600 + min * 60 + sec;
    return 0;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT", after the day name. */
static int parse_imf_rest(cursor *c, int wday, int64_t *unix_s)
{
    int day, month0, year, h, m, s;
    if (take_char(c, ',') || take_char(c, ' ') || take_digits(c, 2, &day) || take_char(c, ' ') ||
        take_name(c, month_short, 12, &month0) || take_char(c, ' ') || take_digits(c, 4, &year) ||
        take_char(c, ' ') || take_time(c, &h, &m, &s) || take_char(c, ' ') || take_char(c, 'G') ||
        take_char(c, 'M') || take_char(c, 'T') || c->p != c->end)
        return -1;
    return compose(year, month0, day, h, m, s, wday, unix_s);
}

/* "Sun Nov  6 08:49:37 1994", after the day name. */
static int parse_asctime_rest(cursor *c, int wday, int64_t *unix_s)
{
    int day, month0, year, h, m, s;
    if (take_char(c, ' ') || take_name(c, month_short, 12, &month0) || take_char(c, ' '))
        return -1;
    /* date3 = month SP ( 2DIGIT / ( SP DIGIT ) ) */
    if (c->p < c->end && *c->p == ' ') {
        c->p++;
        if (take_digits(c, 1, &day))
            return -1;
    } else if (take_digits(c, 2, &day)) {
        return -1;
    }
    if (take_char(c, ' ') || take_time(c, &h, &m, &s) || take_char(c, ' ') ||
        take_digits(c, 4, &year) || c->p != c->end)
        return -1;
    return compose(year, month0, day, h, m, s, wday, unix_s);
}

/* "Sunday, 06-Nov-94 08:49:37 GMT", after the day name. */
static int parse_rfc850_rest(cursor *c, int wday, int64_t now_unix_s, int64_t *unix_s)
{
    int day, month0, yy, h, m, s;
    if (take_char(c, ',') || take_char(c, ' ') || take_digits(c, 2, &day) || take_char(c, '-') ||
        take_name(c, month_short, 12, &month0) || take_char(c, '-') || take_digits(c, 2, &yy) ||
        take_char(c, ' ') || take_time(c, &h, &m, &s) || take_char(c, ' ') || take_char(c, 'G') ||
        take_char(c, 'M') || take_char(c, 'T') || c->p != c->end)
        return -1;
    /* RFC 9110 §5.6.7: a year that appears more than 50 years in the future
     * is the most recent past year with the same last two digits. */
    int64_t now_year = year_of(now_unix_s);
    int64_t year = now_year - (now_year % 100 + 100) % 100 + yy;
    if (year - now_year > 50)
        year -= 100;
    return compose(year, month0, day, h, m, s, wday, unix_s);
}

int rp__http_date_parse(const char *s, size_t len, int64_t now_unix_s, int64_t *unix_s)
{
    if (!s || !unix_s || !now_in_range(now_unix_s))
        return RP_ERR_INVAL;
    cursor c = {s, s + len};
    int wday;
    int64_t t;
    int rc;
    /* The long names start with the short ones, so try them first: "Sunday,"
     * is RFC 850, "Sun," IMF-fixdate and "Sun " asctime. */
    if (take_name(&c, day_long, 7, &wday) == 0) {
        rc = parse_rfc850_rest(&c, wday, now_unix_s, &t);
    } else if (take_name(&c, day_short, 7, &wday) == 0) {
        if (c.p < c.end && *c.p == ',')
            rc = parse_imf_rest(&c, wday, &t);
        else
            rc = parse_asctime_rest(&c, wday, &t);
    } else {
        return RP_ERR_PARSE;
    }
    if (rc != 0)
        return RP_ERR_PARSE;
    *unix_s = t;
    return 0;
}

/* ---- Retry-After --------------------------------------------------------- */

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

int rp__retry_after_parse(const char *value, size_t len, int64_t now_unix_s, int64_t *delay_ms)
{
    if (!value || !delay_ms || !now_in_range(now_unix_s))
        return RP_ERR_INVAL;
    const char *p = value, *end = value + len;
    while (p < end && is_ows(*p))
        p++;
    while (end > p && is_ows(end[-1]))
        end--;
    if (p == end)
        return RP_ERR_PARSE;

    if (is_digit(*p)) {
        /* delta-seconds = 1*DIGIT. Any length is valid; past the cap the
         * value no longer matters, so stop counting there (no overflow). */
        const int64_t cap_s = RP__RETRY_AFTER_MAX_MS / 1000;
        int64_t secs = 0;
        for (const char *q = p; q < end; q++) {
            if (!is_digit(*q))
                return RP_ERR_PARSE;
            if (secs <= cap_s)
                secs = secs * 10 + (*q - '0');
        }
        *delay_ms = secs >= cap_s ? RP__RETRY_AFTER_MAX_MS : secs * 1000;
        return 0;
    }

    int64_t when;
    if (rp__http_date_parse(p, (size_t)(end - p), now_unix_s, &when) != 0)
        return RP_ERR_PARSE;
    /* Both times are within ±2^40 s, so the difference cannot overflow;
     * clamp it before scaling it to milliseconds. */
    int64_t diff = when - now_unix_s;
    if (diff <= 0)
        *delay_ms = 0;
    else if (diff >= RP__RETRY_AFTER_MAX_MS / 1000)
        *delay_ms = RP__RETRY_AFTER_MAX_MS;
    else
        *delay_ms = diff * 1000;
    return 0;
}

/* ---- backoff ------------------------------------------------------------- */

void rp__backoff_init(rp__backoff *b, uint32_t base_ms, uint32_t cap_ms)
{
    b->base_ms = base_ms ? base_ms : RP__BACKOFF_BASE_MS;
    b->cap_ms = cap_ms ? cap_ms : RP__BACKOFF_CAP_MS;
    if (b->base_ms > b->cap_ms)
        b->base_ms = b->cap_ms;
    b->attempt = 0;
}

int64_t rp__backoff_next(rp__backoff *b, uint64_t random)
{
    /* base * 2^attempt, saturating at the cap before it can overflow. */
    uint64_t ceiling = b->base_ms;
    for (uint32_t i = 0; i < b->attempt && ceiling < b->cap_ms; i++)
        ceiling *= 2;
    if (ceiling > b->cap_ms)
        ceiling = b->cap_ms;
    if (b->attempt < UINT32_MAX)
        b->attempt++;
    return (int64_t)(random % (ceiling + 1));
}

void rp__backoff_reset(rp__backoff *b)
{
    b->attempt = 0;
}

int64_t rp__retry_wait_ms(int64_t backoff_ms, int64_t retry_after_ms)
{
    if (backoff_ms < 0)
        backoff_ms = 0;
    return retry_after_ms > backoff_ms ? retry_after_ms : backoff_ms;
}
