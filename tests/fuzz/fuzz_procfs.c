/*
 * tests/fuzz/fuzz_procfs.c - libFuzzer target for the parsers of /proc files
 * that read what a process controls: its command name (prctl(PR_SET_NAME)
 * sets any 15 bytes, ')' and spaces included), its arguments and its cgroup
 * path. Three readers of /proc/<pid>/stat must agree, since responder_kill
 * checks a process's start time against the one collector_process saw:
 * collector_process's (cp_parse_stat, cp_parse_status, cp_container_id,
 * cp_split_args, cp_join_args in plugins/collector_process/procfs.c),
 * responder_kill's (rk_parse_stat in plugins/responder_kill/kill.c) and the
 * SDK's (rp_util_proc_stat_start, rp_util_proc_status_uid in
 * sdk/include/rampart/plugin_util_proc.h). Compiled into this binary:
 * plugins never link the host.
 *
 * Input layout: byte 0 picks the mode (modulo 6), the rest is its input.
 *   0  raw stat text: no parser may read past it (cp_parse_stat gets it in a
 *      buffer of its exact length, the others NUL-terminated, as they read
 *      it), and a command name that comes back is terminated within its cap;
 *   1  a stat line written here as the kernel writes it, from the input (any
 *      command name of up to 15 bytes without NUL, 22 to 52 fields, numbers
 *      of every sign and size): all three parsers must accept it and give
 *      exactly the values it was written from;
 *   2  raw status text, both parsers; 3  a status file written here (the
 *      name escaped as the kernel does), both must give its ids;
 *   4  raw cgroup text: a container id found is 64 lower-case hex digits
 *      that the text holds on a line naming a container runtime;
 *   5  a raw cmdline: split items lie in the buffer, in order, and do not
 *      hold a NUL; the joined line is the vector with NULs as spaces, cut
 *      at its cap (taken from the input's first byte).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/collector_process/procfs.c plugins/responder_kill/kill.c
 */
#define _GNU_SOURCE
#include "kill.h"
#include "procfs.h"
#include <rampart/plugin.h>
#include <rampart/plugin_util_proc.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_procfs: check failed at line %d: %s\n", __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct reader {
    const uint8_t *p;
    size_t left;
};

static uint8_t rd_byte(struct reader *r)
{
    if (!r->left)
        return 0;
    r->left--;
    return *r->p++;
}

static uint64_t rd_u64(struct reader *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)rd_byte(r) << (8 * i);
    return v;
}

/* A copy of data with a NUL after it, as the readers' read() buffers are. */
static char *terminated(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    CHECK(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void raw_stat(const uint8_t *data, size_t size)
{
    /* Exactly size bytes, so ASan sees a read past the end. */
    char *exact = malloc(size ? size : 1);
    CHECK(exact != NULL);
    memcpy(exact, data, size);
    struct cp_stat cs;
    int rc = cp_parse_stat(exact, size, &cs);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);
    CHECK(memchr(cs.comm, '\0', sizeof cs.comm) != NULL);
    if (rc == 0)
        CHECK(cs.has_exit_code == 0 || cs.has_exit_code == 1);
    free(exact);

    char *text = terminated(data, size);
    struct rk_stat ks;
    memset(&ks, 0, sizeof ks);
    rc = rk_parse_stat(text, &ks);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);
    if (rc == 0)
        CHECK(memchr(ks.comm, '\0', sizeof ks.comm) != NULL);
    uint64_t ticks;
    rc = rp_util_proc_stat_start(text, &ticks);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);
    free(text);
}

/* Appends to a fixed buffer; the sizes below always fit. */
struct out {
    char buf[4096];
    size_t len;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, sizeof o->buf - o->len, fmt, ap);
    va_end(ap);
    CHECK(n >= 0 && (size_t)n < sizeof o->buf - o->len);
    o->len += (size_t)n;
}

/* The command name: up to 15 bytes, any but NUL. */
static size_t rd_comm(struct reader *r, char comm[16])
{
    size_t n = rd_byte(r) % 16;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = rd_byte(r);
        comm[i] = c ? (char)c : ')';
    }
    comm[n] = '\0';
    return n;
}

static void made_stat(struct reader *r)
{
    static const char states[] = "RSDZTtWXxKPI";
    char comm[16];
    size_t clen = rd_comm(r, comm);
    int32_t pid = (int32_t)(rd_u64(r, 4) % 4194304u) + 1;
    char state = states[rd_byte(r) % (sizeof states - 1)];
    int nfields = 22 + rd_byte(r) % 31;
    int32_t ppid = (int32_t)(rd_u64(r, 4) % 4194305u);
    uint32_t flags = (uint32_t)rd_u64(r, 4);
    int64_t threads = (int64_t)(rd_u64(r, 2) + 1);
    uint64_t start = rd_u64(r, 8) >> 2; /* ticks since boot: far below 2^63 */
    int32_t exit_code = (int32_t)rd_u64(r, 4);

    struct out o = {.len = 0};
    put(&o, "%d (", (int)pid);
    memcpy(o.buf + o.len, comm, clen);
    o.len += clen;
    put(&o, ") %c", state);
    for (int f = 4; f <= nfields; f++) {
        if (f == 4)
            put(&o, " %d", (int)ppid);
        else if (f == 9)
            put(&o, " %" PRIu32, flags);
        else if (f == 20)
            put(&o, " %" PRId64, threads);
        else if (f == 22)
            put(&o, " %" PRIu64, start);
        else if (f == 52)
            put(&o, " %d", (int)exit_code);
        else if (f == 25)
            put(&o, " %" PRIu64, rd_u64(r, 8)); /* rsslim: RLIM_INFINITY is 2^64-1 */
        else if (f >= 16 && f <= 19)
            put(&o, " %" PRId64, (int64_t)(rd_u64(r, 4) - 0x80000000u)); /* may be < 0 */
        else
            put(&o, " %" PRIu64, rd_u64(r, rd_byte(r) % 9));
    }
    put(&o, "\n");

    struct cp_stat cs;
    CHECK(cp_parse_stat(o.buf, o.len, &cs) == 0);
    CHECK(cs.ppid == ppid && cs.state == state && cs.flags == flags);
    CHECK(cs.num_threads == threads && cs.starttime == start);
    CHECK(strcmp(cs.comm, comm) == 0);
    CHECK(cs.has_exit_code == (nfields == 52));
    if (nfields == 52)
        CHECK(cs.exit_code == exit_code);

    struct rk_stat ks;
    memset(&ks, 0, sizeof ks);
    CHECK(rk_parse_stat(o.buf, &ks) == 0);
    CHECK(ks.ppid == ppid && ks.state == state && ks.flags == flags && ks.start == start);
    CHECK(strcmp(ks.comm, comm) == 0);

    uint64_t ticks = 0;
    CHECK(rp_util_proc_stat_start(o.buf, &ticks) == 0);
    CHECK(ticks == start);
}

static void raw_status(const uint8_t *data, size_t size)
{
    char *exact = malloc(size ? size : 1);
    CHECK(exact != NULL);
    memcpy(exact, data, size);
    struct cp_creds cr;
    int rc = cp_parse_status(exact, size, &cr);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);
    free(exact);
    char *text = terminated(data, size);
    uint32_t uid;
    rc = rp_util_proc_status_uid(text, &uid);
    CHECK(rc == 0 || rc == RP_ERR_PARSE);
    free(text);
}

static void made_status(struct reader *r)
{
    char comm[16];
    size_t clen = rd_comm(r, comm);
    uint32_t id[8];
    for (int i = 0; i < 8; i++)
        id[i] = (uint32_t)rd_u64(r, 4);
    struct out o = {.len = 0};
    /* The kernel escapes the name (seq_escape_str with "\n\\"), so that it
     * cannot make a line of its own. */
    put(&o, "Name:\t");
    for (size_t i = 0; i < clen; i++) {
        if (comm[i] == '\n')
            put(&o, "\\n");
        else if (comm[i] == '\\')
            put(&o, "\\\\");
        else if (comm[i] == '\t')
            put(&o, "\\t");
        else
            put(&o, "%c", comm[i]);
    }
    put(&o, "\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nNgid:\t0\nPid:\t42\nPPid:\t1\n"
            "TracerPid:\t0\n");
    put(&o, "Uid:\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\n", id[0], id[1], id[2],
        id[3]);
    put(&o, "Gid:\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\t%" PRIu32 "\n", id[4], id[5], id[6],
        id[7]);
    put(&o, "FDSize:\t64\nGroups:\t4 24 27\nVmPeak:\t  10000 kB\n");

    struct cp_creds cr;
    CHECK(cp_parse_status(o.buf, o.len, &cr) == 0);
    CHECK(cr.uid == id[0] && cr.euid == id[1] && cr.gid == id[4] && cr.egid == id[5]);
    uint32_t uid = 0;
    CHECK(rp_util_proc_status_uid(o.buf, &uid) == 0);
    CHECK(uid == id[0]);
}

static void raw_cgroup(const uint8_t *data, size_t size)
{
    char *exact = malloc(size ? size : 1);
    CHECK(exact != NULL);
    memcpy(exact, data, size);
    char id[65];
    int rc = cp_container_id(exact, size, id);
    CHECK(rc == 0 || rc == RP_ERR_NOTFOUND);
    if (rc == 0) {
        CHECK(id[64] == '\0');
        for (int i = 0; i < 64; i++)
            CHECK((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
        CHECK(memmem(exact, size, id, 64) != NULL);
    }
    free(exact);
}

static void raw_cmdline(const uint8_t *data, size_t size)
{
    size_t cap = size ? 1 + data[0] * 2u : 1;
    char *exact = malloc(size ? size : 1);
    CHECK(exact != NULL);
    memcpy(exact, data, size);
    rp_str items[8];
    uint32_t n = cp_split_args(exact, size, items, 8);
    CHECK(n <= 8);
    const char *at = exact;
    for (uint32_t i = 0; i < n; i++) {
        CHECK(items[i].ptr == at);
        CHECK(items[i].ptr + items[i].len <= exact + size);
        CHECK(memchr(items[i].ptr, '\0', items[i].len) == NULL);
        at = items[i].ptr + items[i].len + 1;
    }
    if (n < 8)
        CHECK(at >= exact + size);

    char *line = malloc(cap);
    CHECK(line != NULL);
    size_t len = cp_join_args(exact, size, line, cap);
    size_t want = size;
    while (want > 0 && exact[want - 1] == '\0')
        want--;
    if (want > cap - 1)
        want = cap - 1;
    CHECK(len == want && line[len] == '\0');
    for (size_t i = 0; i < len; i++)
        CHECK(line[i] == (exact[i] ? exact[i] : ' '));
    free(line);
    free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct reader r = {data + 1, size - 1};
    switch (data[0] % 6) {
    case 0:
        raw_stat(data + 1, size - 1);
        break;
    case 1:
        made_stat(&r);
        break;
    case 2:
        raw_status(data + 1, size - 1);
        break;
    case 3:
        made_status(&r);
        break;
    case 4:
        raw_cgroup(data + 1, size - 1);
        break;
    default:
        raw_cmdline(data + 1, size - 1);
        break;
    }
    return 0;
}
