/*
 * tests/unit/test_civil_time.c - the calendar maths (core/lib/civil_time.c):
 * known dates around 1970, leap days, 2038 and 9999, every day of 1600-10000
 * against the calendar's own succession, agreement with the C library's
 * gmtime_r, weekdays; and the RFC 3339 parser.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/civil_time.h"
#include "output/ndjson.h"

#include <rampart/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------------ */
/* Calendar */

static void test_known_dates(void **state)
{
    (void)state;
    static const struct {
        int64_t y;
        unsigned m, d;
        int64_t days;
        unsigned weekday;
    } known[] = {
        {1970, 1, 1, 0, 4},       /* the epoch, a Thursday */
        {1969, 12, 31, -1, 3},    /* the day before */
        {1970, 12, 31, 364, 4},   /* last day of a common year */
        {1971, 1, 1, 365, 5},     /* ... and the next year's first */
        {1972, 2, 29, 789, 2},    /* the first leap day after 1970 */
        {1972, 12, 31, 1095, 0},  /* day 366 of a leap year */
        {1900, 2, 28, -25509, 3}, /* 1900 is not a leap year: */
        {1900, 3, 1, -25508, 4},  /* ... 1 March follows 28 February */
        {2000, 2, 29, 11016, 2},  /* 2000 is (every 400th year) */
        {2000, 3, 1, 11017, 3},
        {2038, 1, 19, 24855, 2}, /* 2^31 s after the epoch falls on it */
        {2038, 1, 20, 24856, 3},
        {2100, 3, 1, 47541, 1},     /* 2100 is not a leap year */
        {9999, 12, 31, 2932896, 5}, /* the last four-digit day */
        {10000, 1, 1, 2932897, 6},
        {1, 1, 1, -719162, 1}, /* proleptic: 1 January 1 was a Monday */
        {0, 3, 1, -719468, 3}, /* the algorithm's own origin */
        {0, 1, 1, -719528, 6}, /* year 0 is a leap year */
        {-1, 12, 31, -719529, 5},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        int64_t days = rp__days_from_civil(known[i].y, known[i].m, known[i].d);
        if (days != known[i].days)
            fail_msg("%" PRId64 "-%02u-%02u: day %" PRId64 ", want %" PRId64, known[i].y,
                     known[i].m, known[i].d, days, known[i].days);
        int64_t y;
        unsigned m, d;
        rp__civil_from_days(known[i].days, &y, &m, &d);
        if (y != known[i].y || m != known[i].m || d != known[i].d)
            fail_msg("day %" PRId64 ": %" PRId64 "-%02u-%02u", known[i].days, y, m, d);
        if (rp__civil_weekday(known[i].days) != known[i].weekday)
            fail_msg("day %" PRId64 ": weekday %u, want %u", known[i].days,
                     rp__civil_weekday(known[i].days), known[i].weekday);
    }
    /* 2^31 - 1 s is 2038-01-19T03:14:07Z. */
    assert_int_equal(INT64_C(2147483647) / 86400, 24855);
    assert_int_equal(INT64_C(2147483647) % 86400, 3 * 3600 + 14 * 60 + 7);
}

static void test_leap_years_and_month_lengths(void **state)
{
    (void)state;
    static const struct {
        int64_t y;
        int leap;
    } years[] = {{1970, 0}, {1972, 1}, {1900, 0}, {2000, 1}, {2024, 1}, {2023, 0},
                 {2100, 0}, {2400, 1}, {9996, 1}, {9999, 0}, {0, 1},    {-4, 1},
                 {-100, 0}, {-400, 1}, {1600, 1}, {1700, 0}};
    for (size_t i = 0; i < sizeof years / sizeof years[0]; i++) {
        if (rp__civil_is_leap(years[i].y) != years[i].leap)
            fail_msg("%" PRId64 ": leap %d", years[i].y, rp__civil_is_leap(years[i].y));
        assert_int_equal(rp__civil_days_in_month(years[i].y, 2), years[i].leap ? 29 : 28);
        /* The year's length agrees with the day counts. */
        assert_int_equal(rp__days_from_civil(years[i].y + 1, 1, 1) -
                             rp__days_from_civil(years[i].y, 1, 1),
                         years[i].leap ? 366 : 365);
    }
    static const unsigned len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (unsigned m = 1; m <= 12; m++)
        assert_int_equal(rp__civil_days_in_month(2023, m), len[m - 1]);
    assert_int_equal(rp__civil_days_in_month(2023, 0), 0);
    assert_int_equal(rp__civil_days_in_month(2023, 13), 0);
}

/* Every day from 1 January 1600 to 1 January 10001 follows the one before
 * it as the calendar says (the next day of the month, or the first of the
 * next month, or of the next year at 31 December), and converts back. */
static void test_every_day_follows_the_calendar(void **state)
{
    (void)state;
    int64_t first = rp__days_from_civil(1600, 1, 1), last = rp__days_from_civil(10001, 1, 1);
    int64_t py = 1599;
    unsigned pm = 12, pd = 31, pw = rp__civil_weekday(first - 1);
    for (int64_t days = first; days <= last; days++) {
        int64_t y;
        unsigned m, d;
        rp__civil_from_days(days, &y, &m, &d);
        int next_day = y == py && m == pm && d == pd + 1;
        int next_month = y == py && m == pm + 1 && d == 1 && pd == rp__civil_days_in_month(py, pm);
        int next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
        if (!next_day && !next_month && !next_year)
            fail_msg("day %" PRId64 " is %" PRId64 "-%02u-%02u after %" PRId64 "-%02u-%02u", days,
                     y, m, d, py, pm, pd);
        if (rp__days_from_civil(y, m, d) != days)
            fail_msg("%" PRId64 "-%02u-%02u does not convert back to day %" PRId64, y, m, d, days);
        unsigned w = rp__civil_weekday(days);
        if (w != (pw + 1) % 7)
            fail_msg("day %" PRId64 ": weekday %u after %u", days, w, pw);
        py = y;
        pm = m;
        pd = d;
        pw = w;
    }
}

/* The C library's UTC calendar is an independent witness, where time_t
 * reaches (64 bits here: past 2038). */
static void test_agrees_with_gmtime(void **state)
{
    (void)state;
    /* A 32-bit time_t reaches 1901-2038 only. */
    int64_t first = sizeof(time_t) >= 8 ? -719528 : -24855;
    int64_t last = sizeof(time_t) >= 8 ? 2932897 : 24854;
    for (int64_t days = first; days <= last; days += 13) {
        time_t t = (time_t)(days * 86400 + 43200);
        struct tm tm;
        assert_non_null(gmtime_r(&t, &tm));
        int64_t y;
        unsigned m, d;
        rp__civil_from_days(days, &y, &m, &d);
        if (y != (int64_t)tm.tm_year + 1900 || m != (unsigned)tm.tm_mon + 1 ||
            d != (unsigned)tm.tm_mday || rp__civil_weekday(days) != (unsigned)tm.tm_wday)
            fail_msg("day %" PRId64 ": %" PRId64 "-%02u-%02u, gmtime says %d-%02d-%02d", days, y, m,
                     d, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    }
}

/* ------------------------------------------------------------------------ */
/* RFC 3339 */

static void test_rfc3339_values(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int64_t ns;
    } ok[] = {
        {"1970-01-01T00:00:00.000Z", 0},
        {"1970-01-01T00:00:00Z", 0},
        {"2024-05-01T12:00:00.123Z", INT64_C(1714564800123000000)},
        {"2024-05-01T12:00:01.123456789Z", INT64_C(1714564801123456789)},
        {"2024-05-01T12:00:02.000500Z", INT64_C(1714564802000500000)},
        {"2024-05-01T12:00:00.5Z", INT64_C(1714564800500000000)},
        {"2024-05-01T14:00:00.123+02:00", INT64_C(1714564800123000000)},
        {"2024-05-01T07:30:00.123-04:30", INT64_C(1714564800123000000)},
        {"2024-05-01T12:00:00.123-00:00", INT64_C(1714564800123000000)},
        {"1969-12-31T23:59:59.999999999Z", -1},
        {"2024-02-29T00:00:00Z", INT64_C(1709164800000000000)},
        {"2000-02-29T00:00:00Z", INT64_C(951782400000000000)},
        {"2262-04-11T23:47:16.854775807Z", INT64_MAX},
        {"1677-09-21T00:12:43.145224192Z", INT64_MIN},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int64_t ns = 42;
        int rc = rp__rfc3339_parse_ns(ok[i].text, strlen(ok[i].text), &ns);
        if (rc != 0 || ns != ok[i].ns)
            fail_msg("%s: rc %d ns %" PRId64 ", want %" PRId64, ok[i].text, rc, ns, ok[i].ns);
    }
    static const char *const bad[] = {
        "",
        "2024-05-01",
        "2024-05-01T12:00:00",             /* no offset */
        "2024-05-01t12:00:00Z",            /* lower-case t */
        "2024-05-01T12:00:00z",            /* lower-case z */
        "2024-05-01 12:00:00Z",            /* space */
        "2024-13-01T12:00:00Z",            /* month */
        "2024-00-01T12:00:00Z",            /* month */
        "2023-02-29T12:00:00Z",            /* not a leap year */
        "1900-02-29T12:00:00Z",            /* not a leap year */
        "2024-04-31T12:00:00Z",            /* April has 30 days */
        "2024-05-00T12:00:00Z",            /* day */
        "2024-05-01T24:00:00Z",            /* hour */
        "2024-05-01T12:60:00Z",            /* minute */
        "2024-05-01T12:00:60Z",            /* leap second */
        "2024-05-01T12:00:00.Z",           /* empty fraction */
        "2024-05-01T12:00:00.1234567890Z", /* ten digits */
        "2024-05-01T12:00:00.123ZZ",       /* trailing */
        "2024-05-01T12:00:00.123Z ",       /* trailing */
        "2024-05-01T12:00:00+2:00",        /* short offset */
        "2024-05-01T12:00:00+24:00",       /* offset hour */
        "2024-05-01T12:00:00+02:60",       /* offset minute */
        "2024-05-01T12:00:00+0200",        /* no colon */
        "+024-05-01T12:00:00Z",
        "2024-5-01T12:00:00Z",
        "2024-05-01T12:00:0aZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns;
        int rc = rp__rfc3339_parse_ns(bad[i], strlen(bad[i]), &ns);
        if (rc != RP_ERR_PARSE)
            fail_msg("%s: rc %s, want RP_ERR_PARSE", bad[i], rp_errname(rc));
    }
    int64_t ns;
    assert_int_equal(rp__rfc3339_parse_ns("2262-04-11T23:47:16.854775808Z", 30, &ns), RP_ERR_RANGE);
    assert_int_equal(rp__rfc3339_parse_ns("1677-09-21T00:12:43.145224191Z", 30, &ns), RP_ERR_RANGE);
    assert_int_equal(rp__rfc3339_parse_ns("9999-12-31T23:59:59Z", 20, &ns), RP_ERR_RANGE);
    assert_int_equal(rp__rfc3339_parse_ns("0000-01-01T00:00:00Z", 20, &ns), RP_ERR_RANGE);
    /* Length is honoured: no reading past it. */
    assert_int_equal(rp__rfc3339_parse_ns("2024-05-01T12:00:00Zjunk", 20, &ns), 0);
    assert_int_equal(rp__rfc3339_parse_ns("2024-05-01T12:00:00.123Z", 23, &ns), RP_ERR_PARSE);
}

/* Everything the encoder writes parses back to the same nanosecond. */
static void test_rfc3339_roundtrip(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t want;
        switch (i % 4) {
        case 0:
            want = (int64_t)x;
            break;
        case 1:
            want = (int64_t)(x % 4000000000u) * 1000000000; /* whole seconds */
            break;
        case 2:
            want = (int64_t)(x >> 4) / 1000 * 1000; /* microseconds */
            break;
        default:
            want = (int64_t)(x >> 2) / 1000000 * 1000000; /* milliseconds */
            break;
        }
        if (i == 0)
            want = INT64_MIN;
        if (i == 1)
            want = INT64_MAX;
        char text[RP__JSON_TIMESTAMP_MAX + 1];
        size_t n = rp__json_format_timestamp(want, text);
        int64_t got;
        int rc = rp__rfc3339_parse_ns(text, n, &got);
        if (rc != 0 || got != want)
            fail_msg("%s: rc %d got %" PRId64 " want %" PRId64, text, rc, got, want);
    }
}

static void test_rfc3339_calendar_edges(void **state)
{
    (void)state;
    int64_t ns;
    /* The last second of a leap year and the next year's first. */
    assert_int_equal(rp__rfc3339_parse_ns("2024-12-31T23:59:59Z", 20, &ns), 0);
    assert_int_equal(ns, INT64_C(1735689599000000000));
    assert_int_equal(rp__rfc3339_parse_ns("2025-01-01T00:00:00Z", 20, &ns), 0);
    assert_int_equal(ns, INT64_C(1735689600000000000));
    /* 2^31 s, where 32-bit time_t ends. */
    assert_int_equal(rp__rfc3339_parse_ns("2038-01-19T03:14:08Z", 20, &ns), 0);
    assert_int_equal(ns, INT64_C(2147483648000000000));
    /* Leap days only in leap years. */
    assert_int_equal(rp__rfc3339_parse_ns("2100-02-29T00:00:00Z", 20, &ns), RP_ERR_PARSE);
    assert_int_equal(rp__rfc3339_parse_ns("1900-02-29T00:00:00Z", 20, &ns), RP_ERR_PARSE);
    assert_int_equal(rp__rfc3339_parse_ns("2023-02-29T00:00:00Z", 20, &ns), RP_ERR_PARSE);
    assert_int_equal(rp__rfc3339_parse_ns("2000-02-29T00:00:00Z", 20, &ns), 0);
    assert_int_equal(rp__rfc3339_parse_ns("2024-04-31T00:00:00Z", 20, &ns), RP_ERR_PARSE);
    assert_int_equal(rp__rfc3339_parse_ns("2024-12-32T00:00:00Z", 20, &ns), RP_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_dates),
        cmocka_unit_test(test_leap_years_and_month_lengths),
        cmocka_unit_test(test_every_day_follows_the_calendar),
        cmocka_unit_test(test_agrees_with_gmtime),
        cmocka_unit_test(test_rfc3339_values),
        cmocka_unit_test(test_rfc3339_roundtrip),
        cmocka_unit_test(test_rfc3339_calendar_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
