/*
 * record.c - one utmp/wtmp/btmp record to a struct cl_rec (see record.h).
 *
 * The bytes come from files any root process (and, for btmp, anyone who
 * fails a login with a crafted user name) can fill: every field is read by
 * offset with memcpy and checked before it is used, and the parser reads
 * nothing past the record. tests/fuzz/fuzz_utmp.c fuzzes it.
 */
#define _GNU_SOURCE
#include "record.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#if defined(__GLIBC__) && defined(__x86_64__)
#include <utmpx.h>
#endif

/* The record: glibc's struct utmpx on x86_64 (and every 64-bit glibc target
 * with 32-bit ut_tv), read by offset so that a record is only ever bytes we
 * bound-check, never a struct we trust. */
#define OFF_TYPE    0u   /* int16 ut_type */
#define OFF_PID     4u   /* int32 ut_pid */
#define OFF_LINE    8u   /* char ut_line[32]: tty without /dev/ */
#define OFF_USER    44u  /* char ut_user[32] */
#define OFF_HOST    76u  /* char ut_host[256] */
#define OFF_TV_SEC  340u /* int32 ut_tv.tv_sec */
#define OFF_TV_USEC 344u /* int32 ut_tv.tv_usec */
#define OFF_ADDR    348u /* int32 ut_addr_v6[4], network byte order */

#if defined(__GLIBC__) && defined(__x86_64__)
/* The offsets above are the system's: a libc with another layout fails the
 * build here instead of producing garbage events. */
_Static_assert(sizeof(struct utmpx) == CL_REC_SIZE, "utmpx size");
_Static_assert(offsetof(struct utmpx, ut_type) == OFF_TYPE, "ut_type");
_Static_assert(offsetof(struct utmpx, ut_pid) == OFF_PID, "ut_pid");
_Static_assert(offsetof(struct utmpx, ut_line) == OFF_LINE, "ut_line");
_Static_assert(sizeof(((struct utmpx *)0)->ut_line) == CL_LEN_LINE, "ut_line size");
_Static_assert(offsetof(struct utmpx, ut_user) == OFF_USER, "ut_user");
_Static_assert(sizeof(((struct utmpx *)0)->ut_user) == CL_LEN_USER, "ut_user size");
_Static_assert(offsetof(struct utmpx, ut_host) == OFF_HOST, "ut_host");
_Static_assert(sizeof(((struct utmpx *)0)->ut_host) == CL_LEN_HOST, "ut_host size");
_Static_assert(offsetof(struct utmpx, ut_tv) == OFF_TV_SEC, "ut_tv");
_Static_assert(offsetof(struct utmpx, ut_addr_v6) == OFF_ADDR, "ut_addr_v6");
#endif

static int32_t rd_i32(const unsigned char *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v); /* records are in the writer's (this host's) byte order */
    return v;
}

static int16_t rd_i16(const unsigned char *p)
{
    int16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Copies a fixed-size char field that is NUL-terminated only when shorter
 * than the field. Control characters before the end make the record bad:
 * no writer puts them there, and they would end up in a log line. */
static int copy_field(char *dst, const unsigned char *src, size_t size)
{
    size_t n = 0;
    while (n < size && src[n] != 0) {
        if (src[n] < 0x20 || src[n] == 0x7f)
            return -1;
        n++;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

int cl_parse_record(const unsigned char *p, struct cl_rec *r, const char **why)
{
    memset(r, 0, sizeof *r);
    r->type = rd_i16(p + OFF_TYPE);
    if (r->type < 0 || r->type > CL_UT_ACCOUNTING) {
        *why = "record type out of range";
        return RP_ERR_PARSE;
    }
    r->pid = rd_i32(p + OFF_PID);
    if (r->pid < 0) {
        *why = "negative pid";
        return RP_ERR_PARSE;
    }
    int32_t sec = rd_i32(p + OFF_TV_SEC), usec = rd_i32(p + OFF_TV_USEC);
    if (usec < 0 || usec > 999999) {
        *why = "microseconds out of range";
        return RP_ERR_PARSE;
    }
    /* ut_tv.tv_sec is a 32-bit field; read unsigned it lasts until 2106. */
    if (sec != 0)
        r->time_ns = (int64_t)(uint32_t)sec * 1000000000 + (int64_t)usec * 1000;
    if (copy_field(r->line, p + OFF_LINE, CL_LEN_LINE) != 0 ||
        copy_field(r->user, p + OFF_USER, CL_LEN_USER) != 0 ||
        copy_field(r->host, p + OFF_HOST, CL_LEN_HOST) != 0) {
        *why = "control characters in a text field";
        return RP_ERR_PARSE;
    }
    if (r->type == CL_UT_USER_PROCESS && r->user[0] == '\0') {
        *why = "login record without a user name";
        return RP_ERR_PARSE;
    }
    unsigned char a[16];
    memcpy(a, p + OFF_ADDR, sizeof a);
    static const unsigned char zero[16], mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(a, zero, 16) != 0) {
        r->has_ip = 1;
        if (memcmp(a + 4, zero, 12) == 0) {
            /* glibc and sshd keep an IPv4 address in ut_addr_v6[0]. */
            r->ip.family = 4;
            memcpy(r->ip.addr, a, 4);
        } else if (memcmp(a, mapped, 12) == 0) {
            r->ip.family = 4;
            memcpy(r->ip.addr, a + 12, 4);
        } else {
            r->ip.family = 6;
            memcpy(r->ip.addr, a, 16);
        }
    } else if (r->host[0]) {
        /* Some writers fill only ut_host; take it when it is an address. */
        if (inet_pton(AF_INET, r->host, r->ip.addr) == 1) {
            r->has_ip = 1;
            r->ip.family = 4;
        } else if (inet_pton(AF_INET6, r->host, r->ip.addr) == 1) {
            r->has_ip = 1;
            r->ip.family = 6;
        } else {
            memset(r->ip.addr, 0, sizeof r->ip.addr);
        }
    }
    return 0;
}
