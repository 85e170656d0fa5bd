/*
 * tests/fuzz/fuzz_yara_guard.c - libFuzzer target for the text parsers of
 * detector_yara's exec guard (plugins/detector_yara/guard.c, compiled into
 * this binary: plugins never link the host). With block_exec the guard
 * marks every file system listed in /proc/self/mountinfo, so a line it
 * misreads is a file system whose programs run unscanned; and it walks
 * parents through /proc/PID/stat to let the agent's own children run.
 * Mount points are chosen by whoever mounts (in a user namespace, anyone)
 * and command names by every process.
 *
 * Input layout: byte 0 picks the mode (modulo 4), the rest is its input.
 *   0  raw mountinfo text, each line parsed in a heap copy of exactly its
 *      size: what comes back lies inside the line, terminated;
 *   1  a mountinfo line written here as the kernel writes it (the mount
 *      point escaped with \ooo for space, tab, newline and backslash; 0 to
 *      8 optional tags; a file system type, a source and options), from the
 *      input: it must parse to exactly the device number, type and mount
 *      point it was written from;
 *   2  raw stat text: the parent is -1 or a pid;
 *   3  a stat line written here as the kernel writes it (any command name
 *      of up to 15 bytes without NUL): its parent must come back.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads this line):
 * fuzz-standalone: plugins/detector_yara/guard.c plugins/detector_yara/verdict.c
 */
#define _GNU_SOURCE
#include "guard.h"
#include <rampart/plugin.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_yara_guard: check failed at line %d: %s\n", __LINE__, #cond);    \
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

static uint32_t rd_u32(struct reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)rd_byte(r) << (8 * i);
    return v;
}

struct out {
    char buf[8192];
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

static void raw_mountinfo(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char *line = malloc(n + 1);
        CHECK(line != NULL);
        memcpy(line, p, n);
        line[n] = '\0';
        struct dy_mount m;
        if (dy_guard_mount_line(line, &m)) {
            CHECK(m.path >= line && m.path <= line + n);
            CHECK(m.fstype >= line && m.fstype < line + n);
            CHECK(strlen(m.path) <= n && m.fstype[0] != '\0' && !strchr(m.fstype, ' '));
        }
        free(line);
        p += n + 1;
    }
}

static void made_mountinfo(struct reader *r)
{
    static const char *const types[] = {"ext4", "proc", "tmpfs", "overlay", "fuse.sshfs", "-"};
    char mnt[256];
    size_t mlen = 1 + rd_byte(r) % 200;
    mnt[0] = '/';
    for (size_t i = 1; i < mlen; i++) {
        uint8_t c = rd_byte(r);
        mnt[i] = c ? (char)c : ' ';
    }
    mnt[mlen] = '\0';
    uint32_t maj = rd_u32(r), min = rd_u32(r);
    const char *type = types[rd_byte(r) % (sizeof types / sizeof types[0])];
    uint32_t ntags = rd_byte(r) % 9;

    struct out o = {.len = 0};
    put(&o, "%u %u %" PRIu32 ":%" PRIu32 " / ", rd_u32(r), rd_u32(r), maj, min);
    /* The kernel's mangle(): space, tab, newline and backslash as \ooo. */
    for (size_t i = 0; i < mlen; i++) {
        unsigned char c = (unsigned char)mnt[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\\')
            put(&o, "\\%03o", c);
        else
            put(&o, "%c", c);
    }
    put(&o, " rw,nosuid,relatime");
    for (uint32_t i = 0; i < ntags; i++)
        put(&o, i % 2 ? " master:%u" : " shared:%u", rd_byte(r));
    put(&o, " - %s /dev/sda1 rw,errors=remount-ro", type);

    struct dy_mount m;
    CHECK(dy_guard_mount_line(o.buf, &m));
    CHECK(m.key == ((uint64_t)maj << 32 | min));
    CHECK(strcmp(m.fstype, type) == 0);
    CHECK(strcmp(m.path, mnt) == 0);
}

static void made_stat(struct reader *r)
{
    char comm[16];
    size_t clen = rd_byte(r) % 16;
    for (size_t i = 0; i < clen; i++) {
        uint8_t c = rd_byte(r);
        comm[i] = c ? (char)c : ')';
    }
    comm[clen] = '\0';
    int32_t ppid = (int32_t)(rd_u32(r) % 4194305u);
    struct out o = {.len = 0};
    put(&o, "%u (%s) %c %d 1 1 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 12345\n",
        rd_u32(r) % 4194304u + 1, comm, "RSDZT"[rd_byte(r) % 5], (int)ppid);
    CHECK(dy_guard_stat_ppid(o.buf) == ppid);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct reader r = {data + 1, size - 1};
    switch (data[0] % 4) {
    case 0:
        raw_mountinfo(data + 1, size - 1);
        break;
    case 1:
        made_mountinfo(&r);
        break;
    case 2: {
        char *text = malloc(size);
        CHECK(text != NULL);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        pid_t pp = dy_guard_stat_ppid(text);
        CHECK(pp >= -1);
        free(text);
        break;
    }
    default:
        made_stat(&r);
        break;
    }
    return 0;
}
