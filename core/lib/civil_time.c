/*
 * core/lib/civil_time.c - the proleptic Gregorian calendar in Unix days, by
 * H. Hinnant's algorithms ("chrono-Compatible Low-Level Date Algorithms"):
 * exact for every year whose day count fits an int64, no tables, no libc
 * (timegm is not portable and gmtime/mktime depend on the time zone and may
 * take a lock).
 */
#include "lib/civil_time.h"

#include <rampart/plugin.h>

int rp__civil_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned rp__civil_days_in_month(int64_t y, unsigned m)
{
    static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    return m == 2 && rp__civil_is_leap(y) ? 29 : dim[m - 1];
}

int64_t rp__days_from_civil(int64_t y, unsigned m, unsigned d)
{
    /* The year starts on 1 March, so that the leap day ends it; eras are
     * 400 years (146097 days) long. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                            /* [0, 399] */
    int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                    /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void rp__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

unsigned rp__civil_weekday(int64_t days)
{
    /* 1970-01-01 was a Thursday (4). */
    int64_t w = (days + 4) % 7;
    return (unsigned)(w < 0 ? w + 7 : w);
}

/* ---- RFC 3339 ------------------------------------------------------------ */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* n decimal digits at s into *out; -1 if any is not a digit. */
static int read_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(s[k]))
            return -1;
        v = v * 10 + (unsigned)(s[k] - '0');
    }
    *out = v;
    return 0;
}

int rp__rfc3339_parse_ns(const char *s, size_t len, int64_t *ns)
{
    if ((!s && len) || !ns)
        return RP_ERR_INVAL;
    unsigned year, mon, day, hour, min, sec;
    if (len < 20 || read_digits(s, 4, &year) || s[4] != '-' || read_digits(s + 5, 2, &mon) ||
        s[7] != '-' || read_digits(s + 8, 2, &day) || s[10] != 'T' ||
        read_digits(s + 11, 2, &hour) || s[13] != ':' || read_digits(s + 14, 2, &min) ||
        s[16] != ':' || read_digits(s + 17, 2, &sec))
        return RP_ERR_PARSE;
    size_t i = 19;
    uint32_t frac = 0;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < len && is_digit(s[i]) && i - start < 9)
            frac = frac * 10 + (uint32_t)(s[i++] - '0');
        size_t nd = i - start;
        if (nd == 0 || (i < len && is_digit(s[i])))
            return RP_ERR_PARSE; /* no digit, or more than nine */
        for (; nd < 9; nd++)
            frac *= 10;
    }
    int64_t offset = 0;
    if (i < len && s[i] == 'Z') {
        i++;
    } else if (i < len && (s[i] == '+' || s[i] == '-')) {
        unsigned oh, om;
        if (len - i < 6 || read_digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            read_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return RP_ERR_PARSE;
        offset = (int64_t)oh * 3600 + om * 60;
        if (s[i] == '-')
            offset = -offset;
        i += 6;
    } else {
        return RP_ERR_PARSE;
    }
    if (i != len)
        return RP_ERR_PARSE;
    if (mon < 1 || mon > 12 || day < 1 || day > rp__civil_days_in_month(year, mon) || hour > 23 ||
        min > 59 || sec > 59)
        return RP_ERR_PARSE;

    /* Local time minus its offset is UTC. Years 0000-9999 keep this well
     * inside int64 seconds; the nanoseconds need the range check. */
    int64_t secs = rp__days_from_civil(year, mon, day) * 86400 + (int64_t)hour * 3600 + min * 60 +
                   sec - offset;
    if (secs > INT64_MAX / 1000000000 ||
        (secs == INT64_MAX / 1000000000 && frac > (uint32_t)(INT64_MAX % 1000000000)))
        return RP_ERR_RANGE;
    /* INT64_MIN is -9223372036.854775808 s: floor seconds -9223372037 with
     * a fraction of at least 145224192 ns. */
    if (secs < INT64_MIN / 1000000000 - 1 ||
        (secs == INT64_MIN / 1000000000 - 1 && frac < 1000000000u - 854775808u))
        return RP_ERR_RANGE;
    if (secs >= 0)
        *ns = secs * 1000000000 + (int64_t)frac;
    else /* in two steps that each stay in range */
        *ns = (secs + 1) * 1000000000 + ((int64_t)frac - 1000000000);
    return 0;
}
