/*
 * record.h - collector_login's parser of one utmp/wtmp/btmp record (glibc's
 * struct utmpx, 384 bytes on x86_64), kept apart from the plugin's reading
 * and session logic so that tests/fuzz/fuzz_utmp.c can feed it any bytes.
 * Private to the plugin.
 */
#ifndef RP_COLLECTOR_LOGIN_RECORD_H
#define RP_COLLECTOR_LOGIN_RECORD_H

#include <rampart/plugin.h>

#include <stdint.h>

/* The size of one record; the files hold whole records one after the other. */
#define CL_REC_SIZE 384u

/* The text fields' sizes in the record (NUL-terminated only when shorter). */
#define CL_LEN_LINE 32u  /* ut_line: tty without /dev/ */
#define CL_LEN_USER 32u  /* ut_user */
#define CL_LEN_HOST 256u /* ut_host */

/* ut_type values (they are the same in every libc that has utmpx). */
#define CL_UT_LOGIN_PROCESS 6
#define CL_UT_USER_PROCESS  7
#define CL_UT_DEAD_PROCESS  8
#define CL_UT_ACCOUNTING    9

/* A record after validation: strings NUL-terminated, lengths bounded. */
struct cl_rec {
    int type;        /* 0..CL_UT_ACCOUNTING */
    int32_t pid;     /* >= 0 */
    int64_t time_ns; /* 0: the record has no time */
    int has_ip;
    rp_ip ip; /* family 4 or 6 when has_ip */
    char line[CL_LEN_LINE + 1];
    char user[CL_LEN_USER + 1];
    char host[CL_LEN_HOST + 1];
};

/* Parses and validates the CL_REC_SIZE bytes at p (it reads no more).
 * Returns 0 with *r filled, or RP_ERR_PARSE with *why saying what was wrong
 * (a static string). */
int cl_parse_record(const unsigned char *p, struct cl_rec *r, const char **why);

#endif
