/*
 * tests/fuzz/fuzz_retry_after.c - libFuzzer target for the Retry-After and
 * HTTP-date parsers (core/output/retry.c), which read what a backend sends.
 *
 * The whole input is one header value, parsed against a few fixed clocks
 * (1970, 1900, the RFC's example date, 2025, 2100). Checks, any failure
 * aborts:
 *   - a Retry-After either parses to a wait in [0, RP__RETRY_AFTER_MAX_MS]
 *     or fails with RP_ERR_PARSE and leaves the output untouched;
 *   - an all-digit value gives exactly min(value, cap) seconds, computed
 *     here independently;
 *   - a value that parses as an HTTP-date gives a time of a 4-digit year;
 *     written back as an IMF-fixdate (with gmtime_r and the C locale's
 *     names) it parses to the same time; and the Retry-After wait of the
 *     same value is that time minus now, clamped to [0, cap].
 */
#include "output/retry.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_retry_after: check failed at line %d: %s\n", __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define YEAR0_S        INT64_C(-62167219200)
#define YEAR9999_END_S INT64_C(253402300799)

static const char *const wday_names[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static void check_round_trip(int64_t t, int64_t now)
{
    time_t tt = (time_t)t;
    struct tm tm;
    CHECK(gmtime_r(&tt, &tm) != NULL);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", wday_names[tm.tm_wday],
                     tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                     tm.tm_sec);
    CHECK(n == 29);
    int64_t back = 0;
    CHECK(rp__http_date_parse(buf, (size_t)n, now, &back) == 0);
    CHECK(back == t);
}

static void check_digits(const char *s, size_t len, int64_t ms)
{
    const int64_t cap_s = RP__RETRY_AFTER_MAX_MS / 1000;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        v = v * 10 + (s[i] - '0');
        if (v > cap_s)
            v = cap_s;
    }
    CHECK(ms == v * 1000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t clocks[] = {0, INT64_C(-2208988800), INT64_C(784111777),
                                     INT64_C(1748736000), INT64_C(4102444800)};
    const char *s = (const char *)data;

    int all_digits = size > 0;
    for (size_t i = 0; i < size; i++)
        all_digits &= s[i] >= '0' && s[i] <= '9';

    for (size_t c = 0; c < sizeof clocks / sizeof *clocks; c++) {
        int64_t now = clocks[c];

        int64_t ms = -42;
        int rc = rp__retry_after_parse(s, size, now, &ms);
        if (rc == 0) {
            CHECK(ms >= 0 && ms <= RP__RETRY_AFTER_MAX_MS);
        } else {
            CHECK(rc == RP_ERR_PARSE);
            CHECK(ms == -42);
        }
        if (all_digits) {
            CHECK(rc == 0);
            check_digits(s, size, ms);
        }

        int64_t t = -42;
        int drc = rp__http_date_parse(s, size, now, &t);
        if (drc != 0) {
            CHECK(drc == RP_ERR_PARSE);
            CHECK(t == -42);
            continue;
        }
        CHECK(t >= YEAR0_S && t <= YEAR9999_END_S + 1); /* +1: a leap second */
        if (t <= YEAR9999_END_S) /* 9999-12-31 23:59:60 has no 4-digit-year spelling */
            check_round_trip(t, now);
        /* The same bytes as a Retry-After: the wait until that time. */
        CHECK(rc == 0);
        int64_t diff = t - now;
        int64_t want = diff <= 0                               ? 0
                       : diff >= RP__RETRY_AFTER_MAX_MS / 1000 ? RP__RETRY_AFTER_MAX_MS
                                                               : diff * 1000;
        CHECK(ms == want);
    }
    return 0;
}
