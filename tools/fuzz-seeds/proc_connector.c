/*
 * tools/fuzz-seeds/proc_connector.c - writes the seed corpus of
 * tests/fuzz/fuzz_proc_connector.c from this machine's kernel (root needed):
 *   cc -O1 -Iplugins/collector_process -o /tmp/pcseeds \
 *       tools/fuzz-seeds/proc_connector.c plugins/collector_process/netlink.c
 *   /tmp/pcseeds OUT_DIR
 *
 * A proc connector socket subscribed as collector_process subscribes it
 * (cp_nl_open: every event) sees a child fork, change its gid and uid,
 * exec /bin/true and exit; the first datagram of each kind about that child
 * is one seed, byte for byte:
 *   real_fork, real_uid, real_gid, real_exec, real_exit
 * Then ones derived from them: real_two (the fork and the exec in one
 * datagram, as netlink allows) and malformed_* (each breaks one length or
 * id the decoder checks).
 */
#define _GNU_SOURCE
#include "netlink.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define KINDS 5
static const char *const names[KINDS] = {"real_fork", "real_uid", "real_gid", "real_exec",
                                         "real_exit"};
static const unsigned whats[KINDS] = {PROC_EVENT_FORK, PROC_EVENT_UID, PROC_EVENT_GID,
                                      PROC_EVENT_EXEC, PROC_EVENT_EXIT};

static char got[KINDS][CP_NL_MSG_BUF];
static size_t got_len[KINDS];

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void save(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die(path);
    printf("%s: %zu bytes\n", path, n);
}

/* A copy of seed k with one change, saved as name. */
static void derive(const char *dir, const char *name, int k, void (*edit)(char *, size_t *))
{
    _Alignas(8) char buf[CP_NL_MSG_BUF * 2];
    size_t n = got_len[k];
    memcpy(buf, got[k], n);
    edit(buf, &n);
    save(dir, name, buf, n);
}

static struct cn_msg *cn_of(char *buf)
{
    return NLMSG_DATA((struct nlmsghdr *)buf);
}

static void nlmsg_len_huge(char *b, size_t *n)
{
    (void)n;
    ((struct nlmsghdr *)b)->nlmsg_len = 0xfffffff0u;
}

static void nlmsg_len_zero(char *b, size_t *n)
{
    (void)n;
    ((struct nlmsghdr *)b)->nlmsg_len = 0;
}

static void cn_len_past_end(char *b, size_t *n)
{
    (void)n;
    cn_of(b)->len = 0xffff;
}

static void cn_len_short(char *b, size_t *n)
{
    (void)n;
    cn_of(b)->len = (uint16_t)offsetof(struct proc_event, event_data) + 4; /* a cut exec */
}

static void wrong_idx(char *b, size_t *n)
{
    (void)n;
    cn_of(b)->id.idx = CN_IDX_PROC + 1;
}

static void cut_datagram(char *b, size_t *n)
{
    (void)b;
    *n = *n / 2;
}

static void pid_zero(char *b, size_t *n)
{
    (void)n;
    struct proc_event pe;
    memcpy(&pe, cn_of(b)->data, sizeof pe);
    pe.event_data.exec.process_pid = 0;
    memcpy(cn_of(b)->data, &pe, sizeof pe);
}

static void unknown_kind(char *b, size_t *n)
{
    (void)n;
    struct proc_event pe;
    memcpy(&pe, cn_of(b)->data, sizeof pe);
    pe.what = 0x40000000u; /* PROC_EVENT_COREDUMP: not used by the collector */
    memcpy(cn_of(b)->data, &pe, sizeof pe);
}

static void append_exec(char *b, size_t *n)
{
    size_t at = NLMSG_ALIGN(*n);
    memset(b + *n, 0, at - *n);
    memcpy(b + at, got[3], got_len[3]);
    *n = at + got_len[3];
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 64;
    }
    int fd;
    char why[256];
    if (cp_nl_open(1 << 20, 1, &fd, why, sizeof why) != 0) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        usleep(100000); /* the parent is listening by then */
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            _exit(3);
        execl("/bin/true", "true", (char *)NULL);
        _exit(4);
    }
    int have = 0;
    for (int round = 0; round < 2000 && have < KINDS; round++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0)
            continue;
        _Alignas(8) char buf[CP_NL_MSG_BUF];
        struct sockaddr_nl from;
        socklen_t fl = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
        if (n <= 0)
            continue;
        struct cp_kev k;
        uint64_t bad = 0;
        if (cp_nl_decode(buf, (size_t)n, &from, &k, 1, &bad) != 1 || k.tgid != child)
            continue;
        for (int i = 0; i < KINDS; i++)
            if (k.what == whats[i] && !got_len[i]) {
                memcpy(got[i], buf, (size_t)n);
                got_len[i] = (size_t)n;
                have++;
            }
    }
    waitpid(child, NULL, 0);
    for (int i = 0; i < KINDS; i++) {
        if (!got_len[i]) {
            fprintf(stderr, "no %s event seen for pid %d\n", names[i], (int)child);
            return 1;
        }
        save(argv[1], names[i], got[i], got_len[i]);
    }
    derive(argv[1], "real_two", 0, append_exec);
    derive(argv[1], "malformed_nlmsg_len_huge", 3, nlmsg_len_huge);
    derive(argv[1], "malformed_nlmsg_len_zero", 3, nlmsg_len_zero);
    derive(argv[1], "malformed_cn_len_past_end", 3, cn_len_past_end);
    derive(argv[1], "malformed_cn_len_short", 3, cn_len_short);
    derive(argv[1], "malformed_wrong_idx", 3, wrong_idx);
    derive(argv[1], "malformed_cut", 4, cut_datagram);
    derive(argv[1], "malformed_pid_zero", 3, pid_zero);
    derive(argv[1], "unknown_kind", 4, unknown_kind);
    close(fd);
    return 0;
}
