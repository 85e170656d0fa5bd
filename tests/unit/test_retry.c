/* tests/unit/test_retry.c - the retry policy (core/output/retry.c): verdicts for every
 * status class, Retry-After in all its forms, HTTP-dates, backoff bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "output/retry.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <string.h>

/* 2025-06-01 00:00:00 UTC, a Sunday: the clock for the date tests. */
#define NOW_2025 INT64_C(1748736000)
/* Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example. */
#define RFC_EXAMPLE INT64_C(784111777)

/* ---- verdicts ------------------------------------------------------------ */

static rp__retry_decision decide(long status, int transport, size_t events)
{
    rp__retry_batch batch = {0, 0};
    rp__retry_decision d = {RP__OUTCOME_DELIVERED, -1, NULL};
    assert_int_equal(rp__retry_decide(status, transport, events, &batch, &d), 0);
    assert_non_null(d.reason);
    assert_int_equal(batch.attempts, 1);
    return d;
}

static void expect(long status, enum rp__outcome action, int pause)
{
    rp__retry_decision d = decide(status, 0, 10);
    if (d.action != action || d.pause != pause)
        fail_msg("status %ld: got %s pause=%d, want %s pause=%d", status,
                 rp__outcome_name(d.action), d.pause, rp__outcome_name(action), pause);
}

static void test_decide_named_statuses(void **state)
{
    (void)state;
    expect(200, RP__OUTCOME_DELIVERED, 0);
    expect(201, RP__OUTCOME_DELIVERED, 0);
    expect(202, RP__OUTCOME_DELIVERED, 0);
    expect(204, RP__OUTCOME_DELIVERED, 0);
    expect(299, RP__OUTCOME_DELIVERED, 0);
    expect(409, RP__OUTCOME_DELIVERED, 0);
    expect(408, RP__OUTCOME_RETRY, 0);
    expect(429, RP__OUTCOME_RETRY, 0);
    expect(502, RP__OUTCOME_RETRY, 0);
    expect(503, RP__OUTCOME_RETRY, 0);
    expect(504, RP__OUTCOME_RETRY, 0);
    expect(413, RP__OUTCOME_SPLIT, 0);
    expect(400, RP__OUTCOME_DEAD_LETTER, 0);
    expect(404, RP__OUTCOME_DEAD_LETTER, 0);
    expect(422, RP__OUTCOME_DEAD_LETTER, 0);
    expect(401, RP__OUTCOME_DEAD_LETTER, 1);
    expect(403, RP__OUTCOME_DEAD_LETTER, 1);
    expect(407, RP__OUTCOME_DEAD_LETTER, 1);
    expect(301, RP__OUTCOME_DEAD_LETTER, 1);
    expect(302, RP__OUTCOME_DEAD_LETTER, 1);
    expect(307, RP__OUTCOME_DEAD_LETTER, 1);
    expect(308, RP__OUTCOME_DEAD_LETTER, 1);
    /* Bounded retries: the first such answer is retried. */
    expect(500, RP__OUTCOME_RETRY, 0);
    expect(501, RP__OUTCOME_RETRY, 0);
    expect(507, RP__OUTCOME_RETRY, 0);
    expect(100, RP__OUTCOME_RETRY, 0);
    expect(600, RP__OUTCOME_RETRY, 0);
    expect(999, RP__OUTCOME_RETRY, 0);
}

/* Every status from 100 to 999 falls in exactly the class the header says. */
static void test_decide_every_status(void **state)
{
    (void)state;
    for (long s = 100; s <= 999; s++) {
        rp__retry_decision d = decide(s, 0, 2);
        enum rp__outcome want;
        int pause = 0;
        if ((s >= 200 && s <= 299) || s == 409)
            want = RP__OUTCOME_DELIVERED;
        else if (s == 408 || s == 429 || s == 502 || s == 503 || s == 504)
            want = RP__OUTCOME_RETRY;
        else if (s == 413)
            want = RP__OUTCOME_SPLIT;
        else if (s == 401 || s == 403 || s == 407 || (s >= 300 && s <= 399)) {
            want = RP__OUTCOME_DEAD_LETTER;
            pause = 1;
        } else if (s >= 400 && s <= 499)
            want = RP__OUTCOME_DEAD_LETTER;
        else
            want = RP__OUTCOME_RETRY; /* 1xx, other 5xx, 600..999: bounded */
        if (d.action != want || d.pause != pause)
            fail_msg("status %ld: got %s pause=%d", s, rp__outcome_name(d.action), d.pause);
    }
}

static void test_decide_transport_errors_always_retry(void **state)
{
    (void)state;
    rp__retry_batch batch = {0, 0};
    rp__retry_decision d;
    /* However many times, and whatever status field is left over. */
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(rp__retry_decide(i % 2 ? 0 : 400, 1 + i % 6, 1, &batch, &d), 0);
        assert_int_equal(d.action, RP__OUTCOME_RETRY);
        assert_int_equal(d.pause, 0);
    }
    assert_int_equal(batch.attempts, 1000);
    assert_int_equal(batch.server_errors, 0);
}

static void test_decide_server_errors_bounded(void **state)
{
    (void)state;
    rp__retry_batch batch = {0, 0};
    rp__retry_decision d;
    /* Retryable answers in between do not count towards the bound. */
    for (int i = 0; i < 50; i++) {
        assert_int_equal(rp__retry_decide(503, 0, 5, &batch, &d), 0);
        assert_int_equal(d.action, RP__OUTCOME_RETRY);
    }
    for (unsigned i = 1; i < RP__RETRY_SERVER_ERROR_MAX; i++) {
        assert_int_equal(rp__retry_decide(i % 2 ? 500 : 505, 0, 5, &batch, &d), 0);
        assert_int_equal(d.action, RP__OUTCOME_RETRY);
    }
    assert_int_equal(rp__retry_decide(500, 0, 5, &batch, &d), 0);
    assert_int_equal(d.action, RP__OUTCOME_DEAD_LETTER);
    assert_int_equal(d.pause, 0);
    assert_int_equal(batch.server_errors, RP__RETRY_SERVER_ERROR_MAX);
    assert_int_equal(batch.attempts, 50 + RP__RETRY_SERVER_ERROR_MAX);
}

static void test_decide_413_single_event(void **state)
{
    (void)state;
    assert_int_equal(decide(413, 0, 2).action, RP__OUTCOME_SPLIT);
    assert_int_equal(decide(413, 0, 1).action, RP__OUTCOME_DEAD_LETTER);
    assert_int_equal(decide(413, 0, 0).action, RP__OUTCOME_DEAD_LETTER);
}

static void test_decide_invalid(void **state)
{
    (void)state;
    rp__retry_batch batch = {0, 0};
    rp__retry_decision d = {RP__OUTCOME_SPLIT, 7, "untouched"};
    assert_int_equal(rp__retry_decide(0, 0, 1, &batch, &d), RP_ERR_INVAL);
    assert_int_equal(rp__retry_decide(99, 0, 1, &batch, &d), RP_ERR_INVAL);
    assert_int_equal(rp__retry_decide(1000, 0, 1, &batch, &d), RP_ERR_INVAL);
    assert_int_equal(rp__retry_decide(-200, 0, 1, &batch, &d), RP_ERR_INVAL);
    assert_int_equal(rp__retry_decide(200, 0, 1, NULL, &d), RP_ERR_INVAL);
    assert_int_equal(rp__retry_decide(200, 0, 1, &batch, NULL), RP_ERR_INVAL);
    assert_int_equal(d.action, RP__OUTCOME_SPLIT);
    assert_int_equal(d.pause, 7);
    assert_int_equal(batch.attempts, 0);
    assert_string_equal(rp__outcome_name(RP__OUTCOME_DEAD_LETTER), "dead-letter");
}

/* ---- Retry-After: delta-seconds ------------------------------------------ */

static int64_t ra_ok(const char *value)
{
    int64_t ms = -12345;
    int rc = rp__retry_after_parse(value, strlen(value), NOW_2025, &ms);
    if (rc != 0)
        fail_msg("Retry-After \"%s\": refused (%d)", value, rc);
    return ms;
}

static void ra_bad(const char *value)
{
    int64_t ms = -12345;
    int rc = rp__retry_after_parse(value, strlen(value), NOW_2025, &ms);
    if (rc != RP_ERR_PARSE)
        fail_msg("Retry-After \"%s\": got %d (%lld ms), want RP_ERR_PARSE", value, rc,
                 (long long)ms);
    assert_int_equal(ms, -12345);
}

static void test_retry_after_seconds(void **state)
{
    (void)state;
    assert_int_equal(ra_ok("0"), 0);
    assert_int_equal(ra_ok("1"), 1000);
    assert_int_equal(ra_ok("120"), 120000);
    assert_int_equal(ra_ok("00120"), 120000);
    assert_int_equal(ra_ok(" 120"), 120000);
    assert_int_equal(ra_ok("120 \t"), 120000);
    assert_int_equal(ra_ok("3599"), 3599000);
    assert_int_equal(ra_ok("3600"), RP__RETRY_AFTER_MAX_MS);
    /* Huge values are capped, never overflow. */
    assert_int_equal(ra_ok("3601"), RP__RETRY_AFTER_MAX_MS);
    assert_int_equal(ra_ok("86400"), RP__RETRY_AFTER_MAX_MS);
    assert_int_equal(ra_ok("9223372036854775807"), RP__RETRY_AFTER_MAX_MS);
    assert_int_equal(ra_ok("99999999999999999999999999999999999999999999"), RP__RETRY_AFTER_MAX_MS);
}

static void test_retry_after_garbage(void **state)
{
    (void)state;
    ra_bad("");
    ra_bad(" ");
    ra_bad("\t \t");
    ra_bad("-1");
    ra_bad("-0");
    ra_bad("+5");
    ra_bad("5.0");
    ra_bad("1e3");
    ra_bad("5s");
    ra_bad("0x10");
    ra_bad("1 2");
    ra_bad("12,3");
    ra_bad("soon");
    ra_bad("120\r\n");
    ra_bad("\n120");
    /* An embedded NUL is not a digit. */
    int64_t ms = -1;
    assert_int_equal(rp__retry_after_parse("12\0"
                                           "3",
                                           4, NOW_2025, &ms),
                     RP_ERR_PARSE);
    /* The length is honoured: the value need not be NUL-terminated. */
    assert_int_equal(rp__retry_after_parse("120X", 3, NOW_2025, &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(rp__retry_after_parse("120", 0, NOW_2025, &ms), RP_ERR_PARSE);
    assert_int_equal(rp__retry_after_parse(NULL, 3, NOW_2025, &ms), RP_ERR_INVAL);
    assert_int_equal(rp__retry_after_parse("1", 1, NOW_2025, NULL), RP_ERR_INVAL);
    assert_int_equal(rp__retry_after_parse("1", 1, INT64_MAX, &ms), RP_ERR_INVAL);
    assert_int_equal(rp__retry_after_parse("1", 1, INT64_MIN, &ms), RP_ERR_INVAL);
}

/* ---- HTTP-dates ----------------------------------------------------------- */

static int64_t date_ok(const char *s, int64_t now)
{
    int64_t t = -777;
    int rc = rp__http_date_parse(s, strlen(s), now, &t);
    if (rc != 0)
        fail_msg("date \"%s\": refused (%d)", s, rc);
    return t;
}

static void date_bad(const char *s)
{
    int64_t t = -777;
    int rc = rp__http_date_parse(s, strlen(s), NOW_2025, &t);
    if (rc != RP_ERR_PARSE)
        fail_msg("date \"%s\": got %d (%lld), want RP_ERR_PARSE", s, rc, (long long)t);
    assert_int_equal(t, -777);
    /* And as a Retry-After value too. */
    ra_bad(s);
}

static void test_date_three_forms(void **state)
{
    (void)state;
    assert_int_equal(date_ok("Sun, 06 Nov 1994 08:49:37 GMT", NOW_2025), RFC_EXAMPLE);
    assert_int_equal(date_ok("Sunday, 06-Nov-94 08:49:37 GMT", NOW_2025), RFC_EXAMPLE);
    assert_int_equal(date_ok("Sun Nov  6 08:49:37 1994", NOW_2025), RFC_EXAMPLE);
    assert_int_equal(date_ok("Sun Nov 06 08:49:37 1994", NOW_2025), RFC_EXAMPLE);
    assert_int_equal(date_ok("Thu, 01 Jan 1970 00:00:00 GMT", NOW_2025), 0);
    assert_int_equal(date_ok("Wed, 31 Dec 1969 23:59:59 GMT", NOW_2025), -1);
    assert_int_equal(date_ok("Fri, 31 Dec 9999 23:59:59 GMT", NOW_2025), INT64_C(253402300799));
    assert_int_equal(date_ok("Mon, 01 Jan 0001 00:00:00 GMT", NOW_2025), INT64_C(-62135596800));
    assert_int_equal(date_ok("Sunday, 01-Jun-25 00:00:00 GMT", NOW_2025), NOW_2025);
    assert_int_equal(date_ok("Sun Jun  1 00:00:00 2025", NOW_2025), NOW_2025);
}

static void test_date_leap_years(void **state)
{
    (void)state;
    assert_int_equal(date_ok("Tue, 29 Feb 2000 12:00:00 GMT", NOW_2025), INT64_C(951825600));
    assert_int_equal(date_ok("Thu, 29 Feb 2024 00:00:00 GMT", NOW_2025), INT64_C(1709164800));
    assert_int_equal(date_ok("Tue, 29 Feb 1600 00:00:00 GMT", NOW_2025), INT64_C(-11670998400));
    assert_int_equal(date_ok("Thu Feb 29 00:00:00 2024", NOW_2025), INT64_C(1709164800));
    date_bad("Thu, 29 Feb 1900 00:00:00 GMT"); /* divisible by 100, not by 400 */
    date_bad("Wed, 29 Feb 2023 00:00:00 GMT");
    date_bad("Fri, 30 Feb 2024 00:00:00 GMT");
    date_bad("Mon, 31 Apr 2024 00:00:00 GMT");
    date_bad("Thu, 31 Nov 1994 08:49:37 GMT");
    date_bad("Sat, 00 Nov 1994 08:49:37 GMT");
    date_bad("Sun, 32 Dec 2024 00:00:00 GMT");
}

static void test_date_rfc850_two_digit_year(void **state)
{
    (void)state;
    /* From 2025: "75" is 2075 (50 years ahead, not more), "76" is 1976. */
    assert_int_equal(date_ok("Friday, 01-Mar-75 00:00:00 GMT", NOW_2025), INT64_C(3318624000));
    assert_int_equal(date_ok("Monday, 01-Mar-76 00:00:00 GMT", NOW_2025), INT64_C(194486400));
    /* The weekday has to agree with the year the rule picks. */
    date_bad("Monday, 01-Mar-75 00:00:00 GMT");
    date_bad("Friday, 01-Mar-76 00:00:00 GMT");
}

static void test_date_leap_second(void **state)
{
    (void)state;
    /* 23:59:60 is the second after 23:59:59. */
    assert_int_equal(date_ok("Sat, 31 Dec 2016 23:59:60 GMT", NOW_2025), INT64_C(1483228800));
    date_bad("Sat, 31 Dec 2016 23:58:60 GMT");
    date_bad("Sat, 31 Dec 2016 12:00:60 GMT");
    date_bad("Sat, 31 Dec 2016 23:59:61 GMT");
}

static void test_date_strict(void **state)
{
    (void)state;
    date_bad("Mon, 06 Nov 1994 08:49:37 GMT"); /* it was a Sunday */
    date_bad("sun, 06 Nov 1994 08:49:37 GMT");
    date_bad("Sun, 06 nov 1994 08:49:37 GMT");
    date_bad("Sun, 06 NOV 1994 08:49:37 GMT");
    date_bad("Sun, 06 Nov 1994 08:49:37 gmt");
    date_bad("Sun, 06 Nov 1994 08:49:37 UTC");
    date_bad("Sun, 06 Nov 1994 08:49:37 +0000");
    date_bad("Sun, 06 Nov 1994 08:49:37");
    date_bad("Sun, 06 Nov 1994 08:49:37 GMTX");
    date_bad("Sun, 6 Nov 1994 08:49:37 GMT");
    date_bad("Sun,  06 Nov 1994 08:49:37 GMT");
    date_bad("Sun 06 Nov 1994 08:49:37 GMT");
    date_bad("Sun, 06 Nov 94 08:49:37 GMT");
    date_bad("Sun, 06 Nov 01994 08:49:37 GMT");
    date_bad("Sun, 06 Nov 1994 8:49:37 GMT");
    date_bad("Sun, 06 Nov 1994 08:49 GMT");
    date_bad("Sun, 06 Nov 1994 24:00:00 GMT");
    date_bad("Sun, 06 Nov 1994 08:60:00 GMT");
    date_bad("Sun, 06 Foo 1994 08:49:37 GMT");
    date_bad("Sun, 06 November 1994 08:49:37 GMT");
    date_bad("Sunday, 06 Nov 1994 08:49:37 GMT"); /* long name, IMF body */
    date_bad("Sun, 06-Nov-94 08:49:37 GMT");      /* short name, RFC 850 body */
    date_bad("Sunday, 06-Nov-1994 08:49:37 GMT");
    date_bad("Sunday, 6-Nov-94 08:49:37 GMT");
    date_bad("Sunday,06-Nov-94 08:49:37 GMT");
    date_bad("Sun Nov 6 08:49:37 1994"); /* asctime pads with a space */
    date_bad("Sun Nov   6 08:49:37 1994");
    date_bad("Sun Nov  6 08:49:37 94");
    date_bad("Sun Nov  6 08:49:37 1994 GMT");
    date_bad("Sun Nov 6  08:49:37 1994");
    date_bad("Sun  Nov  6 08:49:37 1994");
    date_bad("Sun");
    date_bad("Sun,");
    date_bad("Sunday");
    date_bad("Someday, 06-Nov-94 08:49:37 GMT");
    date_bad("Sun, -6 Nov 1994 08:49:37 GMT");
    date_bad("Sun, 06 Nov 1994 08:49:3x GMT");
}

/* Every proper prefix of a valid date is refused: no read past the end. */
static void test_date_truncated(void **state)
{
    (void)state;
    const char *dates[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                           "Sun Nov  6 08:49:37 1994"};
    for (size_t i = 0; i < sizeof dates / sizeof *dates; i++) {
        size_t n = strlen(dates[i]);
        for (size_t k = 0; k < n; k++) {
            int64_t t = -777;
            if (rp__http_date_parse(dates[i], k, NOW_2025, &t) != RP_ERR_PARSE)
                fail_msg("prefix %zu of \"%s\" was accepted", k, dates[i]);
        }
    }
}

static void test_retry_after_dates(void **state)
{
    (void)state;
    int64_t ms = -1;
    const char *imf = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
    const char *asc = "Sun Nov  6 08:49:37 1994";
    const char *forms[] = {imf, rfc850, asc};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(forms[i]);
        /* Two minutes ahead. */
        assert_int_equal(rp__retry_after_parse(forms[i], n, RFC_EXAMPLE - 120, &ms), 0);
        assert_int_equal(ms, 120000);
        /* Now exactly, and in the past: no wait. */
        assert_int_equal(rp__retry_after_parse(forms[i], n, RFC_EXAMPLE, &ms), 0);
        assert_int_equal(ms, 0);
        assert_int_equal(rp__retry_after_parse(forms[i], n, RFC_EXAMPLE + 1, &ms), 0);
        assert_int_equal(ms, 0);
        assert_int_equal(rp__retry_after_parse(forms[i], n, NOW_2025, &ms), 0);
        assert_int_equal(ms, 0);
        /* Far ahead: capped. */
        assert_int_equal(rp__retry_after_parse(forms[i], n, RFC_EXAMPLE - 86400, &ms), 0);
        assert_int_equal(ms, RP__RETRY_AFTER_MAX_MS);
    }
    /* With spaces around it. */
    const char *spaced = "  Sun, 06 Nov 1994 08:49:37 GMT\t";
    assert_int_equal(rp__retry_after_parse(spaced, strlen(spaced), RFC_EXAMPLE - 5, &ms), 0);
    assert_int_equal(ms, 5000);
    /* The year 9999 from 1970 does not overflow. */
    assert_int_equal(rp__retry_after_parse("Fri, 31 Dec 9999 23:59:59 GMT", 29, 0, &ms), 0);
    assert_int_equal(ms, RP__RETRY_AFTER_MAX_MS);
}

/* ---- backoff -------------------------------------------------------------- */

static void test_backoff_growth_and_cap(void **state)
{
    (void)state;
    rp__backoff b;
    rp__backoff_init(&b, 0, 0);
    assert_int_equal(b.base_ms, RP__BACKOFF_BASE_MS);
    assert_int_equal(b.cap_ms, RP__BACKOFF_CAP_MS);
    const int64_t ceilings[] = {500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
    for (size_t i = 0; i < sizeof ceilings / sizeof *ceilings; i++) {
        int64_t c = ceilings[i];
        /* Probe copies: the range is exactly [0, ceiling]. */
        rp__backoff probe = b;
        assert_int_equal(rp__backoff_next(&probe, 0), 0);
        probe = b;
        assert_int_equal(rp__backoff_next(&probe, (uint64_t)c), c);
        probe = b;
        assert_int_equal(rp__backoff_next(&probe, (uint64_t)c + 1), 0);
        probe = b;
        assert_int_equal(rp__backoff_next(&probe, ((uint64_t)c + 1) * 7 + 3), 3);
        assert_int_equal(rp__backoff_next(&b, (uint64_t)c), c);
    }
    /* Many failures later: still the cap, no overflow. */
    for (int i = 0; i < 100; i++)
        assert_int_equal(rp__backoff_next(&b, 60000), 60000);
    b.attempt = UINT32_MAX - 1;
    assert_int_equal(rp__backoff_next(&b, UINT64_MAX), (int64_t)(UINT64_MAX % 60001));
    assert_int_equal(rp__backoff_next(&b, 60000), 60000);
    assert_int_equal(b.attempt, UINT32_MAX);
    /* A success starts over. */
    rp__backoff_reset(&b);
    assert_int_equal(rp__backoff_next(&b, 500), 500);
    assert_int_equal(rp__backoff_next(&b, 1001), 0);
}

static void test_backoff_custom(void **state)
{
    (void)state;
    rp__backoff b;
    rp__backoff_init(&b, 100, 250);
    assert_int_equal(rp__backoff_next(&b, 100), 100);
    assert_int_equal(rp__backoff_next(&b, 200), 200);
    assert_int_equal(rp__backoff_next(&b, 250), 250);
    assert_int_equal(rp__backoff_next(&b, 250), 250);
    rp__backoff_init(&b, 5000, 1000); /* base above the cap */
    assert_int_equal(b.base_ms, 1000);
    assert_int_equal(rp__backoff_next(&b, 1000), 1000);
    assert_int_equal(rp__backoff_next(&b, 1001), 0);
}

/* With a deterministic generator, the jitter covers its range evenly. */
static void test_backoff_jitter_bounds(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift64 seed */
    for (uint32_t attempt = 0; attempt < 12; attempt++) {
        int64_t ceiling = 500;
        for (uint32_t i = 0; i < attempt && ceiling < 60000; i++)
            ceiling *= 2;
        if (ceiling > 60000)
            ceiling = 60000;
        int64_t lo = INT64_MAX, hi = -1;
        double sum = 0;
        const int n = 20000;
        for (int k = 0; k < n; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            rp__backoff b;
            rp__backoff_init(&b, 0, 0);
            b.attempt = attempt;
            int64_t d = rp__backoff_next(&b, x);
            assert_true(d >= 0 && d <= ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
            sum += (double)d;
        }
        double mean = sum / n;
        /* Full jitter: both ends reached closely, mean near the middle. */
        assert_true(lo <= ceiling / 100);
        assert_true(hi >= ceiling - ceiling / 100);
        assert_true(mean > ceiling * 0.47 && mean < ceiling * 0.53);
    }
}

static void test_wait_is_the_longer(void **state)
{
    (void)state;
    assert_int_equal(rp__retry_wait_ms(700, -1), 700);
    assert_int_equal(rp__retry_wait_ms(700, 2000), 2000);
    assert_int_equal(rp__retry_wait_ms(7000, 2000), 7000);
    assert_int_equal(rp__retry_wait_ms(700, 0), 700);
    assert_int_equal(rp__retry_wait_ms(0, 0), 0);
    assert_int_equal(rp__retry_wait_ms(-5, -1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_named_statuses),
        cmocka_unit_test(test_decide_every_status),
        cmocka_unit_test(test_decide_transport_errors_always_retry),
        cmocka_unit_test(test_decide_server_errors_bounded),
        cmocka_unit_test(test_decide_413_single_event),
        cmocka_unit_test(test_decide_invalid),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_garbage),
        cmocka_unit_test(test_date_three_forms),
        cmocka_unit_test(test_date_leap_years),
        cmocka_unit_test(test_date_rfc850_two_digit_year),
        cmocka_unit_test(test_date_leap_second),
        cmocka_unit_test(test_date_strict),
        cmocka_unit_test(test_date_truncated),
        cmocka_unit_test(test_retry_after_dates),
        cmocka_unit_test(test_backoff_growth_and_cap),
        cmocka_unit_test(test_backoff_custom),
        cmocka_unit_test(test_backoff_jitter_bounds),
        cmocka_unit_test(test_wait_is_the_longer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
