/*
 * procscan.c - socket inode to pid attribution for collector_network.
 *
 * Reading every /proc/<pid>/fd link on each new connection would cost a
 * syscall per open file on the machine, so the work is incremental: each
 * process is remembered with the count of its open files (the size that
 * stat reports for /proc/<pid>/fd since Linux 6.2) and the time it was last
 * read, and a pass reads only processes that are new or whose count moved.
 * Every socket link met on the way goes into the inode map, so a socket
 * created just before its process was read is found later without reading
 * anything. A forced pass (rate-limited by the caller) also reads processes
 * that were last read before the socket appeared, which catches the rare
 * process that closed one file and opened a socket between two reads.
 */
#define _GNU_SOURCE
#include "procscan.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INO_SLOTS  (CN_PS_INODE_CAP * 2u) /* power of two is not needed: modulo */
#define PROC_SLOTS 4096u                  /* hash buckets for the process table */

struct cn_ps_proc {
    struct cn_ps_proc *next;
    int32_t pid;
    uint32_t seen_gen; /* pass_gen of the last pass that listed it */
    uint64_t dir_ino;  /* /proc/<pid>/fd's inode: a reused pid gets another */
    int64_t fd_count;  /* st_size of /proc/<pid>/fd when last read */
    int64_t last_read_ns;
};

static uint32_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

int cn_ps_init(struct cn_ps *ps)
{
    memset(ps, 0, sizeof *ps);
    ps->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ps->procfd < 0)
        return RP_ERR_UNSUPPORTED;
    ps->ino_keys = calloc(INO_SLOTS, sizeof *ps->ino_keys);
    ps->ino_pids = calloc(INO_SLOTS, sizeof *ps->ino_pids);
    ps->proc_slots = calloc(PROC_SLOTS, sizeof *ps->proc_slots);
    if (!ps->ino_keys || !ps->ino_pids || !ps->proc_slots) {
        cn_ps_fini(ps);
        return RP_ERR_NOMEM;
    }
    return 0;
}

void cn_ps_fini(struct cn_ps *ps)
{
    if (ps->proc_slots) {
        for (uint32_t i = 0; i < PROC_SLOTS; i++) {
            struct cn_ps_proc *p = ps->proc_slots[i];
            while (p) {
                struct cn_ps_proc *n = p->next;
                free(p);
                p = n;
            }
        }
    }
    free(ps->proc_slots);
    free(ps->ino_keys);
    free(ps->ino_pids);
    if (ps->procfd >= 0)
        close(ps->procfd);
    memset(ps, 0, sizeof *ps);
    ps->procfd = -1;
}

static uint32_t ino_slot(const struct cn_ps *ps, uint64_t inode)
{
    uint32_t i = mix64(inode) % INO_SLOTS;
    while (ps->ino_keys[i] != 0 && ps->ino_keys[i] != inode)
        i = (i + 1) % INO_SLOTS;
    return i;
}

int32_t cn_ps_lookup(const struct cn_ps *ps, uint64_t inode)
{
    if (inode == 0)
        return 0;
    uint32_t i = ino_slot(ps, inode);
    return ps->ino_keys[i] == inode && ps->ino_pids[i] > 0 ? ps->ino_pids[i] : 0;
}

void cn_ps_forget(struct cn_ps *ps, uint64_t inode)
{
    if (inode == 0)
        return;
    uint32_t i = ino_slot(ps, inode);
    if (ps->ino_keys[i] == inode)
        ps->ino_pids[i] = -1;
}

static void ino_put(struct cn_ps *ps, uint64_t inode, int32_t pid)
{
    uint32_t i = ino_slot(ps, inode);
    if (ps->ino_keys[i] != inode) {
        /* At the cap the map starts over: entries are only a shortcut, and
         * with half the slots free, probes stay short. */
        if (ps->ino_count >= CN_PS_INODE_CAP) {
            memset(ps->ino_keys, 0, INO_SLOTS * sizeof *ps->ino_keys);
            ps->ino_count = 0;
            ps->map_resets++;
            i = ino_slot(ps, inode);
        }
        ps->ino_keys[i] = inode;
        ps->ino_count++;
    }
    ps->ino_pids[i] = pid;
}

static struct cn_ps_proc **proc_ref(struct cn_ps *ps, int32_t pid)
{
    struct cn_ps_proc **pp = &ps->proc_slots[mix64((uint64_t)(uint32_t)pid) % PROC_SLOTS];
    while (*pp && (*pp)->pid != pid)
        pp = &(*pp)->next;
    return pp;
}

static void want_mark(struct cn_ps_want *want, uint64_t inode)
{
    if (!want || want->n == 0)
        return;
    size_t lo = 0, hi = want->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (want->inodes[mid] < inode)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < want->n && want->inodes[lo] == inode && !want->found[lo]) {
        want->found[lo] = 1;
        want->left--;
    }
}

/* Parses "socket:[12345]"; 0 for any other link. */
static uint64_t socket_inode(const char *link, size_t len)
{
    static const char pre[] = "socket:[";
    size_t plen = sizeof pre - 1;
    if (len < plen + 2 || memcmp(link, pre, plen) != 0 || link[len - 1] != ']')
        return 0;
    uint64_t v = 0;
    for (size_t i = plen; i < len - 1; i++) {
        if (link[i] < '0' || link[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return 0;
        v = v * 10 + (uint64_t)(link[i] - '0');
    }
    return v;
}

/* Reads every link of one fd folder. Returns 1 when it read all of them, 0
 * when the budget ran out or the folder went away. */
static int read_fd_dir(struct cn_ps *ps, int32_t pid, struct cn_ps_want *want, uint64_t *budget)
{
    char path[32];
    snprintf(path, sizeof path, "%d/fd", (int)pid);
    int dfd = openat(ps->procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return 0;
    }
    ps->fd_dirs_read++;
    int all = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (*budget == 0) {
            all = 0;
            break;
        }
        (*budget)--;
        ps->links_read++;
        char link[64];
        ssize_t n = readlinkat(dirfd(d), e->d_name, link, sizeof link);
        if (n <= 0 || (size_t)n >= sizeof link)
            continue; /* closed meanwhile, or a long path: not a socket */
        uint64_t ino = socket_inode(link, (size_t)n);
        if (ino == 0)
            continue;
        ino_put(ps, ino, pid);
        want_mark(want, ino);
    }
    closedir(d);
    return all;
}

/* The body of cn_ps_scan_pid with the process record, if any, already found. */
static int scan_one(struct cn_ps *ps, int32_t pid, int64_t not_before_ns, int64_t now_ns,
                    struct cn_ps_want *want, uint64_t *budget, struct cn_ps_proc **pp)
{
    char path[32];
    struct stat st;
    snprintf(path, sizeof path, "%d/fd", (int)pid);
    if (fstatat(ps->procfd, path, &st, 0) != 0)
        return errno == ENOENT || errno == ESRCH ? RP_ERR_NOTFOUND : RP_ERR_PERM;
    struct cn_ps_proc *p = *pp;
    if (p) {
        p->seen_gen = ps->pass_gen;
        /* A size of 0 means the kernel does not count open files (before
         * 6.2) or there are none: reading is then the only way to know. */
        if (p->dir_ino == (uint64_t)st.st_ino && p->fd_count == (int64_t)st.st_size &&
            st.st_size != 0 && p->last_read_ns >= not_before_ns)
            return 0;
    }
    if (read_fd_dir(ps, pid, want, budget) == 0)
        return 0; /* partial: left as it was, so it is read again */
    if (!p) {
        if (ps->proc_count >= CN_PS_PROC_CAP)
            return 0;
        p = calloc(1, sizeof *p);
        if (!p)
            return RP_ERR_NOMEM;
        p->pid = pid;
        p->next = NULL;
        *pp = p;
        ps->proc_count++;
    }
    p->seen_gen = ps->pass_gen;
    p->dir_ino = (uint64_t)st.st_ino;
    p->fd_count = (int64_t)st.st_size;
    p->last_read_ns = now_ns;
    return 0;
}

int cn_ps_scan_pid(struct cn_ps *ps, int32_t pid, int64_t not_before_ns, int64_t now_ns,
                   struct cn_ps_want *want, uint64_t *budget)
{
    if (pid <= 0)
        return RP_ERR_INVAL;
    return scan_one(ps, pid, not_before_ns, now_ns, want, budget, proc_ref(ps, pid));
}

static int32_t parse_pid(const char *s)
{
    int32_t v = 0;
    if (*s == '\0')
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT32_MAX - 9) / 10)
            return 0;
        v = v * 10 + (*s - '0');
    }
    return v;
}

int cn_ps_pass(struct cn_ps *ps, int force, int64_t not_before_ns, int64_t now_ns,
               struct cn_ps_want *want, uint64_t *budget, int *complete)
{
    *complete = 0;
    int dfd = openat(ps->procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return RP_ERR_IO;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return RP_ERR_IO;
    }
    ps->pass_gen++;
    int64_t nb = force ? not_before_ns : INT64_MIN;
    int all = 1, rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int32_t pid = parse_pid(e->d_name);
        if (pid <= 0)
            continue;
        if ((want && want->left == 0) || *budget == 0) {
            all = 0;
            break;
        }
        rc = scan_one(ps, pid, nb, now_ns, want, budget, proc_ref(ps, pid));
        if (rc == RP_ERR_NOMEM) {
            all = 0;
            break;
        }
        rc = 0;
    }
    closedir(d);
    if (!all)
        return rc;
    *complete = 1;
    /* Every live process was listed: the rest are gone. */
    for (uint32_t i = 0; i < PROC_SLOTS; i++) {
        struct cn_ps_proc **pp = &ps->proc_slots[i];
        while (*pp) {
            if ((*pp)->seen_gen != ps->pass_gen) {
                struct cn_ps_proc *dead = *pp;
                *pp = dead->next;
                free(dead);
                ps->proc_count--;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    return 0;
}

int cn_ps_identity(const struct cn_ps *ps, int32_t pid, char comm[16], char *exe, size_t exe_len)
{
    char path[32];
    comm[0] = '\0';
    if (exe_len)
        exe[0] = '\0';
    snprintf(path, sizeof path, "%d/comm", (int)pid);
    int fd = openat(ps->procfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_NOTFOUND;
    char buf[32];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return RP_ERR_NOTFOUND;
    /* The kernel keeps at most 15 bytes and adds a newline. */
    size_t len = (size_t)n;
    while (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 15)
        len = 15;
    memcpy(comm, buf, len);
    comm[len] = '\0';
    if (exe_len > 1) {
        snprintf(path, sizeof path, "%d/exe", (int)pid);
        ssize_t m = readlinkat(ps->procfd, path, exe, exe_len - 1);
        exe[m > 0 ? (size_t)m : 0] = '\0';
    }
    return 0;
}
