/* core/output/retry.c - the retry policy: verdicts, backoff, Retry-After and HTTP-date. */
#include "output/retry.h"
#include "lib/civil_time.h"

#include <rampart/plugin.h>

#include <stdio.h>
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

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/*
 * The three forms of RFC 9110 section 5.6.7 as templates: 'w' a short day
 * name, 'W' a long one, 'n' a month name, 'D' a digit of the day ('_' the
 * same or a space, asctime's padding), 'Y' of the year, 'h', 'm', 's' of
 * the time; any other character stands for itself. libcurl's curl_getdate
 * converts the date, but it reads far more than these forms (any case,
 * other zones, missing parts), so the form is checked here first, exactly.
 */
enum { FORM_IMF, FORM_RFC850, FORM_ASCTIME };
static const char *const forms[] = {
    [FORM_IMF] = "w, DD n YYYY hh:mm:ss GMT",
    [FORM_RFC850] = "W, DD-n-YY hh:mm:ss GMT",
    [FORM_ASCTIME] = "w n _D hh:mm:ss YYYY",
};

typedef struct date_fields {
    int wday, month0, day, hour, min, sec;
    int64_t year;
} date_fields;

/* One of the names, matched exactly (case-sensitive); its index in *out.
 * Names in one table never prefix each other, so the first match is it. */
static int take_name(const char **p, const char *end, const char *const *names, int count, int *out)
{
    for (int i = 0; i < count; i++) {
        size_t n = strlen(names[i]);
        if ((size_t)(end - *p) >= n && memcmp(*p, names[i], n) == 0) {
            *p += n;
            *out = i;
            return 0;
        }
    }
    return -1;
}

/* Whether s[0..len) is exactly of the form; its fields into *f. */
static int match_form(const char *s, size_t len, const char *form, date_fields *f)
{
    const char *p = s, *end = s + len;
    memset(f, 0, sizeof *f);
    for (const char *t = form; *t; t++) {
        int *num = NULL;
        switch (*t) {
        case 'w':
        case 'W':
            if (take_name(&p, end, *t == 'w' ? day_short : day_long, 7, &f->wday))
                return -1;
            continue;
        case 'n':
            if (take_name(&p, end, month_short, 12, &f->month0))
                return -1;
            continue;
        case '_':
            if (p < end && *p == ' ') {
                p++;
                continue;
            }
            num = &f->day;
            break;
        case 'D':
            num = &f->day;
            break;
        case 'h':
            num = &f->hour;
            break;
        case 'm':
            num = &f->min;
            break;
        case 's':
            num = &f->sec;
            break;
        case 'Y':
            if (p >= end || !is_digit(*p))
                return -1;
            f->year = f->year * 10 + (*p++ - '0');
            continue;
        default:
            if (p >= end || *p != *t)
                return -1;
            p++;
            continue;
        }
        if (p >= end || !is_digit(*p))
            return -1;
        *num = *num * 10 + (*p++ - '0');
    }
    return p == end ? 0 : -1;
}

/* The civil year of a Unix time, for the RFC 850 two-digit-year rule. */
static int64_t year_of(int64_t unix_s)
{
    int64_t y;
    unsigned m, d;
    rp__civil_from_days(unix_s / 86400 - (unix_s % 86400 < 0), &y, &m, &d);
    return y;
}

int rp__http_date_parse(const char *s, size_t len, int64_t now_unix_s, int64_t *unix_s)
{
    if (!s || !unix_s || !now_in_range(now_unix_s))
        return RP_ERR_INVAL;
    date_fields f;
    int form = FORM_IMF;
    while (form <= FORM_ASCTIME && match_form(s, len, forms[form], &f) != 0)
        form++;
    if (form > FORM_ASCTIME)
        return RP_ERR_PARSE;
    if (form == FORM_RFC850) {
        /* RFC 9110 section 5.6.7: a year that appears more than 50 years in
         * the future is the most recent past year with the same last two
         * digits (curl_getdate would use a fixed 1970-2069 window instead). */
        int64_t now_year = year_of(now_unix_s);
        int64_t year = now_year - (now_year % 100 + 100) % 100 + f.year;
        f.year = year - now_year > 50 ? year - 100 : year;
    }
    /* What curl_getdate lets pass: a day the month does not have (it rolls
     * into the next month), a leap second at any minute (RFC 9110 allows
     * only 23:59:60), a day name that is not the date's. */
    if (f.day < 1 || (unsigned)f.day > rp__civil_days_in_month(f.year, (unsigned)f.month0 + 1) ||
        f.hour > 23 || f.min > 59 || f.sec > 60 || (f.sec == 60 && (f.hour != 23 || f.min != 59)))
        return RP_ERR_PARSE;
    /* curl_getdate reads years from 1583 only and answers -1 both for
     * failure and for 1969-12-31 23:59:59; the Gregorian calendar repeats
     * every 400 years (146097 days, whole weeks), so the date goes to curl
     * moved into 2000-2399 and comes back by as many cycles. */
    int64_t cycles = (f.year - 2000 - (f.year < 2000 ? 399 : 0)) / 400;
    char moved[96]; /* room for any int the compiler cannot bound */
    snprintf(moved, sizeof moved, "%02d %s %04lld %02d:%02d:%02d GMT", f.day, month_short[f.month0],
             (long long)(f.year - cycles * 400), f.hour, f.min, f.sec);
    int64_t t;
    if (rp__retry_curl_getdate(moved, &t) != 0)
        return RP_ERR_PARSE;
    t += cycles * 146097 * 86400;
    /* 23:59:60 is the next day's first second; its day name is the day's. */
    int64_t at = t - (f.sec == 60);
    if (rp__civil_weekday(at / 86400 - (at % 86400 < 0)) != (unsigned)f.wday)
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
