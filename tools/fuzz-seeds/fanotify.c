/*
 * tools/fuzz-seeds/fanotify.c - writes the seed corpus of
 * tests/fuzz/fuzz_fanotify.c from this machine's kernel (root needed):
 *   cc -O1 -o /tmp/fanseeds tools/fuzz-seeds/fanotify.c && /tmp/fanseeds OUT_DIR
 *
 * A fanotify group made as collector_file makes it (FAN_CLASS_NOTIF,
 * FAN_REPORT_DFID_NAME | FAN_REPORT_FID | FAN_REPORT_TARGET_FID) marks a
 * temporary folder (an inode mark with FAN_EVENT_ON_CHILD) for create,
 * delete, rename, close-write and exec-open, and each seed is one read()
 * buffer, byte for byte:
 *   real_create     a file created and written (CREATE and CLOSE_WRITE,
 *                   which the kernel may merge)
 *   real_rename     a file renamed (FAN_RENAME: OLD_DFID_NAME,
 *                   NEW_DFID_NAME and the file's FID)
 *   real_dir        a folder created, renamed and removed (FAN_ONDIR)
 *   real_delete     a file deleted
 *   real_mixed      all of the above and a long name in one read
 *   real_pidfd      a create with FAN_REPORT_PIDFD added (a PIDFD info
 *                   record), when the kernel allows that combination
 * Then malformed ones derived from real_rename (malformed_*): each breaks one
 * length the parser checks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FAN_REPORT_DFID_NAME
#define FAN_REPORT_DFID_NAME 0x00000c00
#endif
#ifndef FAN_REPORT_TARGET_FID
#define FAN_REPORT_TARGET_FID 0x00001000
#endif
#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_REPORT_PIDFD
#define FAN_REPORT_PIDFD 0x00000080
#endif

#define MASK                                                                                       \
    (FAN_CREATE | FAN_DELETE | FAN_RENAME | FAN_CLOSE_WRITE | FAN_OPEN_EXEC | FAN_ONDIR |          \
     FAN_EVENT_ON_CHILD)

static const char *out_dir;
static char tmp[] = "/tmp/fanseeds-XXXXXX";

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void save(const char *name, const void *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
        die(path);
    printf("%s: %zu bytes\n", name, len);
}

static int group(unsigned extra)
{
    int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_REPORT_DFID_NAME | FAN_REPORT_FID |
                               FAN_REPORT_TARGET_FID | extra,
                           O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (fanotify_mark(fd, FAN_MARK_ADD, MASK, AT_FDCWD, tmp) != 0)
        die("fanotify_mark");
    return fd;
}

static void touch(const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) < 0 || close(fd) != 0)
        die(path);
}

static void in_tmp(const char *a, char *out)
{
    snprintf(out, 4096, "%s/%s", tmp, a);
}

/* One read of everything queued (the group is blocking: the actions ran). */
static size_t drain(int fd, char *buf, size_t cap)
{
    ssize_t n = read(fd, buf, cap);
    if (n < 0)
        die("read");
    return (size_t)n;
}

/* Offset of the first info record of type t in the first event record. */
static size_t find_info(const unsigned char *b, size_t len, uint8_t t)
{
    struct fanotify_event_metadata m;
    memcpy(&m, b, sizeof m);
    for (size_t off = m.metadata_len; off + 4 <= m.event_len && off + 4 <= len;) {
        struct fanotify_event_info_header h;
        memcpy(&h, b + off, sizeof h);
        if (h.info_type == t)
            return off;
        if (h.len == 0)
            break;
        off += h.len;
    }
    fprintf(stderr, "info type %u not found\n", t);
    exit(1);
}

static void put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put16(unsigned char *p, uint16_t v)
{
    memcpy(p, &v, 2);
}

int main(int argc, char **argv)
{
    static char buf[8192];
    char a[4096], b[4096];
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 64;
    }
    out_dir = argv[1];
    mkdir(out_dir, 0755);
    if (!mkdtemp(tmp))
        die("mkdtemp");
    int fd = group(0);
    if (fd < 0)
        die("fanotify_init");

    touch("new.txt", "hello\n");
    save("real_create", buf, drain(fd, buf, sizeof buf));

    in_tmp("new.txt", a);
    in_tmp("renamed.txt", b);
    if (rename(a, b) != 0)
        die("rename");
    size_t rn_len = drain(fd, buf, sizeof buf);
    static unsigned char rn[8192];
    memcpy(rn, buf, rn_len);
    save("real_rename", rn, rn_len);

    in_tmp("sub", a);
    in_tmp("sub2", b);
    if (mkdir(a, 0755) != 0 || rename(a, b) != 0 || rmdir(b) != 0)
        die("dir");
    save("real_dir", buf, drain(fd, buf, sizeof buf));

    in_tmp("renamed.txt", a);
    if (unlink(a) != 0)
        die("unlink");
    save("real_delete", buf, drain(fd, buf, sizeof buf));

    char longname[256];
    memset(longname, 'n', 255);
    longname[255] = '\0';
    touch(longname, "x");
    touch("m.txt", "y");
    in_tmp("m.txt", a);
    in_tmp("m2.txt", b);
    if (rename(a, b) != 0 || unlink(b) != 0)
        die("mixed");
    in_tmp(longname, a);
    if (unlink(a) != 0)
        die("unlink long");
    save("real_mixed", buf, drain(fd, buf, sizeof buf));
    close(fd);

    fd = group(FAN_REPORT_PIDFD);
    if (fd >= 0) {
        touch("p.txt", "z");
        size_t n = drain(fd, buf, sizeof buf);
        save("real_pidfd", buf, n);
        /* The pidfds the kernel opened for us. */
        for (size_t off = 0; off + FAN_EVENT_METADATA_LEN <= n;) {
            struct fanotify_event_metadata m;
            memcpy(&m, buf + off, sizeof m);
            for (size_t i = m.metadata_len; i + 8 <= m.event_len;) {
                struct fanotify_event_info_header h;
                memcpy(&h, buf + off + i, sizeof h);
                if (h.info_type == 4) {
                    int32_t pfd;
                    memcpy(&pfd, buf + off + i + 4, 4);
                    if (pfd >= 0)
                        close(pfd);
                }
                if (h.len == 0)
                    break;
                i += h.len;
            }
            if (m.event_len == 0)
                break;
            off += m.event_len;
        }
        close(fd);
        in_tmp("p.txt", a);
        unlink(a);
    } else {
        printf("real_pidfd: skipped, fanotify_init with FAN_REPORT_PIDFD: %s\n", strerror(errno));
    }
    rmdir(tmp);

    /* Malformed, from the rename buffer (its first record holds
     * OLD_DFID_NAME, NEW_DFID_NAME and FID). */
    static unsigned char m[8192];
    size_t old = find_info(rn, rn_len, FAN_EVENT_INFO_TYPE_OLD_DFID_NAME);
    size_t nw = find_info(rn, rn_len, FAN_EVENT_INFO_TYPE_NEW_DFID_NAME);
    struct {
        const char *name;
        size_t off;
        int width; /* 2 or 4 */
        uint32_t value;
    } cases[] = {
        {"malformed_event_len_zero", 0, 4, 0},
        {"malformed_event_len_huge", 0, 4, 0xFFFFFFF0u},
        {"malformed_event_len_short", 0, 4, FAN_EVENT_METADATA_LEN - 1},
        {"malformed_metadata_len_big", 6, 2, 0xFFFF},
        {"malformed_metadata_len_zero", 6, 2, 0},
        {"malformed_version", 4, 2, 0x0002}, /* vers 2, reserved 0 */
        {"malformed_info_len_zero", old + 2, 2, 0},
        {"malformed_info_len_huge", old + 2, 2, 0xFFFF},
        {"malformed_handle_bytes_huge", old + 12, 4, 0xFFFFFFFFu},
        {"malformed_handle_bytes_129", nw + 12, 4, 129},
        {"malformed_handle_bytes_past_name", old + 12, 4, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(m, rn, rn_len);
        if (cases[i].width == 4)
            put32(m + cases[i].off, cases[i].value);
        else
            put16(m + cases[i].off, (uint16_t)cases[i].value);
        save(cases[i].name, m, rn_len);
    }
    /* Names: without a NUL in their record, and with a '/'. */
    struct fanotify_event_info_header h;
    uint32_t hb;
    memcpy(&h, rn + old, sizeof h);
    memcpy(&hb, rn + old + 12, 4);
    memcpy(m, rn, rn_len);
    memset(m + old + 20 + hb, 'A', h.len - 20 - hb);
    save("malformed_name_no_nul", m, rn_len);
    memcpy(m, rn, rn_len);
    m[old + 20 + hb] = '/';
    save("malformed_name_slash", m, rn_len);
    /* Cut short: inside the first record, and inside its header. */
    save("malformed_truncated", rn, rn_len - 5);
    save("malformed_short_header", rn, 20);
    return 0;
}
