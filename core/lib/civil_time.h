/*
 * core/lib/civil_time.h - calendar maths for UTC: dates of the proleptic
 * Gregorian calendar to and from days since 1970-01-01, the weekday, leap
 * years; and reading an RFC 3339 date-time back. One implementation for
 * the encoder's @timestamp, the output formats and Retry-After dates.
 *
 * Months are 1..12, days 1..31, weekdays 0 (Sunday) .. 6. The conversions
 * are exact for every year within ±2^50 (so no int64 arithmetic
 * overflows); they do not check their input: validate a date with
 * rp__civil_days_in_month first. No state, no locale, no time zone: any
 * thread may call any function.
 */
#ifndef RP_LIB_CIVIL_TIME_H
#define RP_LIB_CIVIL_TIME_H

#include <stddef.h>
#include <stdint.h>

/* 1 for a leap year (every 4th, but not every 100th, but every 400th). */
int rp__civil_is_leap(int64_t y);
/* Days in month m (1..12) of year y; 0 for a month out of range. */
unsigned rp__civil_days_in_month(int64_t y, unsigned m);
/* Days since 1970-01-01 (negative before) of y-m-d. */
int64_t rp__days_from_civil(int64_t y, unsigned m, unsigned d);
/* The date of a day count from rp__days_from_civil. */
void rp__civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);
/* The weekday of a day count: 0 = Sunday ... 6 = Saturday. */
unsigned rp__civil_weekday(int64_t days);

/*
 * Parses an RFC 3339 date-time (section 5.6) into nanoseconds since the Unix
 * epoch: "YYYY-MM-DDTHH:MM:SS[.F]Z" or with "+HH:MM"/"-HH:MM" instead of Z;
 * F is 1 to 9 digits; 'T' and 'Z' upper case, as rp__json_format_timestamp
 * writes them. Dates and times are range-checked (days per month, leap
 * years; a leap second 60 is refused: Unix time has none). RP_ERR_PARSE for
 * anything else, RP_ERR_RANGE when the time does not fit an int64 of
 * nanoseconds (before 1677-09-21T00:12:43.145224192Z or after
 * 2262-04-11T23:47:16.854775807Z).
 */
int rp__rfc3339_parse_ns(const char *s, size_t len, int64_t *ns);

#endif
