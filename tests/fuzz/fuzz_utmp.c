/*
 * tests/fuzz/fuzz_utmp.c - libFuzzer target for collector_login's record
 * parser (plugins/collector_login/record.c, compiled into this binary:
 * plugins never link the host). utmp, wtmp and btmp can hold anything a
 * root process (or, through btmp, a failed login's user name) puts there:
 * whatever the bytes, cl_parse_record must read no more than its record,
 * never crash, and hand out only what it promises.
 *
 * Input layout: the bytes of a utmp/wtmp/btmp file. They are cut into
 * 384-byte records, each parsed in place as the plugin parses a buffer it
 * read (so a read past a record's end at the input's end is caught); a
 * short tail, which the plugin leaves for its next read, is parsed too as
 * the start of a record whose rest is zero (corpus/utmp/ holds real files
 * written by glibc with tools/fuzz-seeds/utmp.py).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/collector_login/record.c
 */
#define _GNU_SOURCE
#include "record.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_utmp: check failed at line %d: %s\n", __LINE__, #cond);          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A text field: NUL-terminated within its bound, no control characters. */
static void check_text(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    CHECK(n <= max);
    for (size_t i = 0; i < n; i++)
        CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] != 0x7f);
}

static void parse_one(const unsigned char *p)
{
    struct cl_rec r, again;
    const char *why = NULL;
    int rc = cl_parse_record(p, &r, &why);
    if (rc != 0) {
        CHECK(rc == RP_ERR_PARSE);
        CHECK(why != NULL && why[0] != '\0');
        return;
    }
    CHECK(r.type >= 0 && r.type <= CL_UT_ACCOUNTING);
    CHECK(r.pid >= 0);
    CHECK(r.time_ns >= 0);
    check_text(r.line, CL_LEN_LINE);
    check_text(r.user, CL_LEN_USER);
    check_text(r.host, CL_LEN_HOST);
    CHECK(r.type != CL_UT_USER_PROCESS || r.user[0] != '\0');
    CHECK(r.has_ip == 0 || r.has_ip == 1);
    if (r.has_ip)
        CHECK(r.ip.family == 4 || r.ip.family == 6);
    else
        CHECK(r.ip.family == 0);
    /* The parser depends on the record alone: the same bytes give the same
     * result (the plugin compares utmp slots by their bytes). */
    CHECK(cl_parse_record(p, &again, &why) == 0);
    CHECK(again.type == r.type && again.pid == r.pid && again.time_ns == r.time_ns);
    CHECK(again.has_ip == r.has_ip && again.ip.family == r.ip.family);
    CHECK(memcmp(again.ip.addr, r.ip.addr, sizeof r.ip.addr) == 0);
    CHECK(strcmp(again.line, r.line) == 0 && strcmp(again.user, r.user) == 0);
    CHECK(strcmp(again.host, r.host) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t whole = size / CL_REC_SIZE;
    for (size_t i = 0; i < whole; i++)
        parse_one(data + i * CL_REC_SIZE);
    size_t tail = size - whole * CL_REC_SIZE;
    if (tail > 0) {
        /* Exactly one record on the heap, so that ASan sees a read past it. */
        unsigned char *rec = calloc(1, CL_REC_SIZE);
        CHECK(rec != NULL);
        memcpy(rec, data + whole * CL_REC_SIZE, tail);
        parse_one(rec);
        free(rec);
    }
    return 0;
}
