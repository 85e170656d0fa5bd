/*
 * plugins/detector_yara/guard.c - blocking on exec (guard.h): one fanotify
 * FAN_CLASS_CONTENT group with FAN_OPEN_EXEC_PERM marks, an answering
 * thread that never waits for a scanner, a watchdog that allows every held
 * exec at its deadline, and a fixed table of held execs whose slots are
 * claimed with a compare-and-swap by whoever answers first.
 *
 * A slot's word `tok` is its whole state: 0 free, SLOT_CLAIMED while one
 * thread writes the answer, otherwise the token of the exec it holds. Only
 * the answering thread turns 0 into a token (after filling the slot), and
 * only the thread whose compare-and-swap turned the token into
 * SLOT_CLAIMED answers, closes the descriptor and frees the slot. A token
 * carries the slot's index in its low bits and a sequence number above, so
 * an answer for an exec answered long ago never claims the slot's next
 * exec.
 *
 * The watchdog sleeps until the earliest deadline of the held execs. It
 * publishes that time in wd_next_ns (UINT64_MAX before it scans the
 * table); the answering thread wakes it through an eventfd only when a new
 * deadline is earlier than that, which with one deadline for all is the
 * first exec held after the table was empty. Storing UINT64_MAX before the
 * scan is what keeps a wake-up from being lost: an exec held while the
 * watchdog scans sees either UINT64_MAX (and wakes it) or the time it will
 * wake anyway.
 */
#define _GNU_SOURCE
#include "guard.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define SLOT_CLAIMED   UINT64_MAX
#define TOKEN_IDX_BITS 16u
#define READ_BUF_BYTES 16384u /* a read of events: about 680 of them */
#define READS_PER_WAKE 64u    /* reads before the stop and the mount table are looked at again */
#define MOUNT_BUF      65536u /* mountinfo is read in pieces of this size */
#define MOUNT_LINE_MAX 8192u  /* a longer mountinfo line is skipped */
#define MARKS_MAX      4096u  /* file systems remembered per scan of the mount table */
#define STAT_READ_MAX  512u   /* bytes read of /proc/PID/stat */
#define STOP_WAIT_NS   2000000000ull /* stop waits this long for answers being written */
#define DRAIN_QUIET_MS 20            /* stop: the queue stays empty this long, then close */
#define DRAIN_MAX_NS   1000000000ull /* stop: allow what is queued for at most this long */
#define FORK_FDS_MAX   16u           /* guards per process whose group a fork child closes */

_Static_assert(DY_GUARD_PENDING_MAX <= (1u << TOKEN_IDX_BITS), "slot index fits in a token");

/* Latency histogram: log-linear, LAT_SUB linear buckets per power of two
 * (about 6 % wide), exact below 2 * LAT_SUB ns, capped at 2^LAT_MSB_MAX ns. */
#define LAT_SUB_BITS 4u
#define LAT_SUB      (1u << LAT_SUB_BITS)
#define LAT_MSB_MAX  47u
#define LAT_BUCKETS  ((LAT_MSB_MAX - LAT_SUB_BITS + 1u) * LAT_SUB + LAT_SUB)

struct lat_hist {
    _Atomic uint64_t count, max_ns;
    _Atomic uint64_t bucket[LAT_BUCKETS];
};

struct slot {
    _Atomic uint64_t tok;         /* 0, SLOT_CLAIMED or the held exec's token */
    _Atomic uint64_t deadline_ns; /* read by the watchdog before it claims */
    /* Written by the answering thread while tok is 0, read by the claimer. */
    int fd; /* the kernel's event descriptor */
    pid_t pid;
    struct dy_file_id id;
    uint64_t read_ns;
};

struct file_key {
    dev_t dev;
    ino_t ino;
};

struct dy_guard {
    struct dy_guard_callbacks cb;
    uint64_t deadline_rel_ns;
    pid_t agent_pid;
    struct file_key files[DY_GUARD_ALLOW_MAX]; /* sorted by dev, ino */
    uint32_t n_files;
    char *dirs[DY_GUARD_ALLOW_MAX]; /* resolved, no trailing slash ("/" stays) */
    size_t dir_len[DY_GUARD_ALLOW_MAX];
    uint32_t n_dirs;

    int fan_fd, stop_fd, wd_fd, mnt_fd;
    bool started, stopped, have_answer, have_wd;
    pthread_t answer_thr, wd_thr;
    _Atomic bool stopping;
    _Atomic uint64_t wd_next_ns;

    /* Answering thread only. */
    uint64_t seq;
    uint32_t hint;
    char *mount_buf;     /* MOUNT_BUF + MOUNT_LINE_MAX */
    uint64_t *scan_keys; /* MARKS_MAX: file systems marked in this scan */
    int last_mark_errno;

    _Atomic uint64_t events, allowed, denied, allowed_listed, allowed_agent, held, deadline_allowed,
        overflow, submit_refused, late_answers, errors;
    _Atomic uint32_t held_now, marks, mark_errors, realtime;
    struct lat_hist at_once, scanned;

    struct slot slots[DY_GUARD_PENDING_MAX];
    _Alignas(struct fanotify_event_metadata) char buf[READ_BUF_BYTES];
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count(_Atomic uint64_t *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* ---- forks ----------------------------------------------------------------- */

/* A child forked while the guard runs holds the group open until its exec
 * succeeds, and its exec (or a later one, once this process is gone) can be
 * held by that very group: if this process dies first, nobody answers and
 * the group never closes, which holds every exec on the machine. So a
 * child closes the groups at once, in a fork handler (glibc runs it for
 * fork(), and unregisters it when the plugin is unloaded). Not covered:
 * clone() and vfork()-style spawns skip the handlers; those children hold
 * the group only until their exec, which is allowed at once as the
 * agent's child while the guard runs. */
static _Atomic int fork_fds[FORK_FDS_MAX]; /* descriptor + 1; 0: empty */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void fork_child(void)
{
    for (uint32_t i = 0; i < FORK_FDS_MAX; i++) {
        int fd1 = atomic_load(&fork_fds[i]);
        if (fd1 > 0)
            close(fd1 - 1);
        atomic_store(&fork_fds[i], 0);
    }
}

static void fork_init(void)
{
    pthread_atfork(NULL, NULL, fork_child);
}

static void fork_register(int fd)
{
    pthread_once(&fork_once, fork_init);
    for (uint32_t i = 0; i < FORK_FDS_MAX; i++) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&fork_fds[i], &zero, fd + 1))
            return;
    }
}

static void fork_unregister(int fd)
{
    for (uint32_t i = 0; i < FORK_FDS_MAX; i++) {
        int expect = fd + 1;
        if (atomic_compare_exchange_strong(&fork_fds[i], &expect, 0))
            return;
    }
}

/* ---- latency ------------------------------------------------------------- */

static uint32_t lat_index(uint64_t v)
{
    if (v < 2u * LAT_SUB)
        return (uint32_t)v;
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(v);
    if (msb > LAT_MSB_MAX)
        return LAT_BUCKETS - 1u;
    uint32_t shift = msb - LAT_SUB_BITS;
    return (shift + 1u) * LAT_SUB + (uint32_t)((v >> shift) & (LAT_SUB - 1u));
}

/* The largest value a bucket holds. */
static uint64_t lat_upper(uint32_t idx)
{
    if (idx < 2u * LAT_SUB)
        return idx;
    uint32_t shift = idx / LAT_SUB - 1u, sub = idx % LAT_SUB;
    return (((uint64_t)LAT_SUB + sub) << shift) + (1ull << shift) - 1u;
}

static void lat_record(struct lat_hist *h, uint64_t ns)
{
    atomic_fetch_add_explicit(&h->bucket[lat_index(ns)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    uint64_t m = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
    while (ns > m && !atomic_compare_exchange_weak_explicit(
                         &h->max_ns, &m, ns, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Percentiles from a copy of the buckets (taken while answers go on, so
 * the figures are as of about now); each is the bucket's upper bound,
 * never above the maximum. */
static void lat_read(struct lat_hist *h, struct dy_guard_latency *out)
{
    uint64_t counts[LAT_BUCKETS], total = 0;
    for (uint32_t i = 0; i < LAT_BUCKETS; i++) {
        counts[i] = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        total += counts[i];
    }
    memset(out, 0, sizeof *out);
    out->count = total;
    out->max_ns = atomic_load_explicit(&h->max_ns, memory_order_relaxed);
    if (total == 0)
        return;
    uint64_t want50 = (total + 1) / 2, want99 = (total * 99 + 99) / 100, seen = 0;
    bool got50 = false;
    for (uint32_t i = 0; i < LAT_BUCKETS; i++) {
        seen += counts[i];
        if (!got50 && seen >= want50) {
            out->p50_ns = lat_upper(i);
            got50 = true;
        }
        if (seen >= want99) {
            out->p99_ns = lat_upper(i);
            break;
        }
    }
    if (out->p50_ns > out->max_ns)
        out->p50_ns = out->max_ns;
    if (out->p99_ns > out->max_ns)
        out->p99_ns = out->max_ns;
}

/* ---- answers ------------------------------------------------------------- */

/* Writes the answer, then closes the event's descriptor (the kernel finds
 * the event by its descriptor, so the number must stay ours until then). */
static void respond(struct dy_guard *g, int fd, bool allow)
{
    struct fanotify_response r = {.fd = fd, .response = allow ? FAN_ALLOW : FAN_DENY};
    ssize_t n;
    do {
        n = write(g->fan_fd, &r, sizeof r);
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof r)
        count(&g->errors);
    count(allow ? &g->allowed : &g->denied);
    close(fd);
}

/* Answers the slot the caller claimed and frees it. */
static void answer_slot(struct dy_guard *g, struct slot *s, bool allow, struct lat_hist *h)
{
    uint64_t read_ns = s->read_ns;
    respond(g, s->fd, allow);
    lat_record(h, mono_ns() - read_ns);
    s->fd = -1;
    atomic_store_explicit(&s->tok, 0, memory_order_release);
    atomic_fetch_sub_explicit(&g->held_now, 1, memory_order_relaxed);
}

static bool claim(struct slot *s, uint64_t token)
{
    uint64_t expect = token;
    return atomic_compare_exchange_strong(&s->tok, &expect, SLOT_CLAIMED);
}

int dy_guard_answer(struct dy_guard *g, uint64_t token, int decision)
{
    if (!g)
        return RP_ERR_INVAL;
    if (decision != DY_GUARD_ALLOW && decision != DY_GUARD_DENY)
        return RP_ERR_INVAL;
    uint64_t idx = token & ((1u << TOKEN_IDX_BITS) - 1u);
    if (token == 0 || token == SLOT_CLAIMED || idx >= DY_GUARD_PENDING_MAX)
        return RP_ERR_NOTFOUND;
    struct slot *s = &g->slots[idx];
    if (!claim(s, token)) {
        count(&g->late_answers);
        return RP_ERR_NOTFOUND;
    }
    /* Held execs are never the agent's (they are allowed before a hold),
     * so a deny stands. */
    answer_slot(g, s, decision == DY_GUARD_ALLOW, &g->scanned);
    return 0;
}

/* ---- never-blocked files, folders and the agent --------------------------- */

static int key_cmp(const void *a, const void *b)
{
    const struct file_key *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return 0;
}

static bool file_listed(const struct dy_guard *g, const struct stat *st)
{
    if (g->n_files == 0)
        return false;
    struct file_key k = {st->st_dev, st->st_ino};
    return bsearch(&k, g->files, g->n_files, sizeof k, key_cmp) != NULL;
}

/* The descriptor's path (as the kernel resolves it now) under a listed
 * folder. Only asked for an exec that would be denied or held. */
static bool dir_listed(const struct dy_guard *g, int fd)
{
    if (g->n_dirs == 0)
        return false;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path);
    if (n <= 0 || (size_t)n >= sizeof path || path[0] != '/')
        return false;
    path[n] = '\0';
    for (uint32_t i = 0; i < g->n_dirs; i++) {
        size_t len = g->dir_len[i];
        if (len == 1) /* "/" */
            return true;
        if ((size_t)n > len && memcmp(path, g->dirs[i], len) == 0 && path[len] == '/')
            return true;
    }
    return false;
}

pid_t dy_guard_stat_ppid(const char *text)
{
    /* The field after the command, which ends at the last ')'. */
    const char *p = strrchr(text, ')');
    if (!p || p[1] != ' ' || p[2] == '\0' || p[3] != ' ')
        return -1;
    p += 4;
    long v = 0;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9' && v <= INT32_MAX)
        v = v * 10 + (*p++ - '0');
    /* A number past a pid's range is no pid (not a truncated one). */
    return *p == ' ' && v <= INT32_MAX ? (pid_t)v : -1;
}

/* The parent of pid from /proc/PID/stat, or -1. */
static pid_t read_ppid(pid_t pid)
{
    char path[48], buf[STAT_READ_MAX + 1];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do {
        n = read(fd, buf, STAT_READ_MAX);
    } while (n < 0 && errno == EINTR);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return dy_guard_stat_ppid(buf);
}

/* pid is the agent or a descendant within DY_GUARD_ANCESTRY_MAX parents. */
static bool is_agent(const struct dy_guard *g, pid_t pid)
{
    if (pid == g->agent_pid)
        return true;
    pid_t cur = pid;
    for (uint32_t i = 0; i < DY_GUARD_ANCESTRY_MAX; i++) {
        pid_t pp = read_ppid(cur);
        if (pp == g->agent_pid)
            return true;
        if (pp <= 1 || pp == cur)
            return false;
        cur = pp;
    }
    return false;
}

/* ---- the answering thread ------------------------------------------------ */

static void wake(int efd)
{
    uint64_t one = 1;
    ssize_t n = write(efd, &one, sizeof one);
    (void)n; /* a full counter already wakes the reader */
}

static void hold(struct dy_guard *g, struct dy_guard_event *ev)
{
    struct slot *s = NULL;
    uint32_t idx = 0;
    for (uint32_t i = 0; i < DY_GUARD_PENDING_MAX; i++) {
        uint32_t j = (g->hint + i) % DY_GUARD_PENDING_MAX;
        if (atomic_load_explicit(&g->slots[j].tok, memory_order_acquire) == 0) {
            s = &g->slots[j];
            idx = j;
            break;
        }
    }
    if (!s) {
        count(&g->overflow);
        respond(g, ev->fd, true);
        lat_record(&g->at_once, mono_ns() - ev->read_ns);
        return;
    }
    g->hint = (idx + 1) % DY_GUARD_PENDING_MAX;
    int dfd = fcntl(ev->fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0) {
        count(&g->errors);
        respond(g, ev->fd, true);
        lat_record(&g->at_once, mono_ns() - ev->read_ns);
        return;
    }
    uint64_t token = (++g->seq << TOKEN_IDX_BITS) | idx;
    s->fd = ev->fd;
    s->pid = ev->pid;
    s->id = ev->id;
    s->read_ns = ev->read_ns;
    atomic_store_explicit(&s->deadline_ns, ev->deadline_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&g->held_now, 1, memory_order_relaxed);
    count(&g->held);
    atomic_store(&s->tok, token); /* publishes the slot's fields */
    if (ev->deadline_ns < atomic_load(&g->wd_next_ns))
        wake(g->wd_fd);
    ev->token = token;
    /* dfd is the callee's from here on, refused or not (guard.h). */
    int refused = 1;
    if (g->cb.submit)
        refused = g->cb.submit(g->cb.ctx, ev, dfd);
    else
        close(dfd);
    if (refused != 0) {
        count(&g->submit_refused);
        if (claim(s, token))
            answer_slot(g, s, true, &g->at_once);
    }
}

static void handle(struct dy_guard *g, int fd, pid_t pid, uint64_t read_ns)
{
    count(&g->events);
    if (atomic_load_explicit(&g->stopping, memory_order_relaxed)) {
        respond(g, fd, true);
        lat_record(&g->at_once, mono_ns() - read_ns);
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        count(&g->errors);
        respond(g, fd, true);
        lat_record(&g->at_once, mono_ns() - read_ns);
        return;
    }
    if (file_listed(g, &st)) {
        count(&g->allowed_listed);
        respond(g, fd, true);
        lat_record(&g->at_once, mono_ns() - read_ns);
        return;
    }
    struct dy_guard_event ev = {fd, pid, &st, {0}, read_ns, read_ns + g->deadline_rel_ns, 0};
    dy_file_id_from_stat(&st, &ev.id);
    int d = g->cb.decide ? g->cb.decide(g->cb.ctx, &ev) : DY_GUARD_ALLOW;
    if (d == DY_GUARD_DENY || d == DY_GUARD_PENDING) {
        if (dir_listed(g, fd)) {
            count(&g->allowed_listed);
            d = DY_GUARD_ALLOW;
        } else if (is_agent(g, pid)) {
            count(&g->allowed_agent);
            d = DY_GUARD_ALLOW;
        }
    }
    if (d == DY_GUARD_PENDING) {
        hold(g, &ev);
        return;
    }
    respond(g, fd, d != DY_GUARD_DENY);
    lat_record(&g->at_once, mono_ns() - read_ns);
}

/* Reads and answers what is queued, up to READS_PER_WAKE reads. */
static void drain(struct dy_guard *g)
{
    for (uint32_t r = 0; r < READS_PER_WAKE; r++) {
        ssize_t len = read(g->fan_fd, g->buf, sizeof g->buf);
        if (len < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                count(&g->errors);
            return;
        }
        if (len == 0)
            return;
        uint64_t read_ns = mono_ns();
        const struct fanotify_event_metadata *m = (const void *)g->buf;
        for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
            if (m->vers != FANOTIFY_METADATA_VERSION) {
                /* Another layout cannot be answered; it never happens with
                 * the headers the kernel accepted the group for. */
                count(&g->errors);
                return;
            }
            if (m->fd < 0) /* FAN_NOFD: a queue overflow, nothing to answer */
                continue;
            if (m->mask & FAN_OPEN_EXEC_PERM)
                handle(g, m->fd, m->pid, read_ns);
            else
                close(m->fd);
        }
    }
}

/* ---- marks ----------------------------------------------------------------- */

/* File systems that never hold programs; marking them costs for nothing. */
static const char *const skip_fstypes[] = {
    "proc",        "sysfs",     "cgroup",     "cgroup2",    "devpts",   "mqueue",    "bpf",
    "tracefs",     "debugfs",   "securityfs", "pstore",     "configfs", "fusectl",   "autofs",
    "binfmt_misc", "hugetlbfs", "efivarfs",   "rpc_pipefs", "nsfs",     "selinuxfs", "nfsd",
    "pipefs",      "sockfs",    "smackfs",    "apparmorfs", "resctrl",
};

static bool fstype_skipped(const char *t)
{
    for (size_t i = 0; i < sizeof skip_fstypes / sizeof skip_fstypes[0]; i++)
        if (strcmp(t, skip_fstypes[i]) == 0)
            return true;
    return false;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r;) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

struct mark_scan {
    uint32_t n_keys, marked, failed;
};

static bool key_seen(struct dy_guard *g, struct mark_scan *ms, uint64_t key)
{
    for (uint32_t i = 0; i < ms->n_keys; i++)
        if (g->scan_keys[i] == key)
            return true;
    if (ms->n_keys < MARKS_MAX)
        g->scan_keys[ms->n_keys++] = key;
    return false;
}

/* Parses "MAJ:MIN" (the file system's device number) into a key. */
static bool parse_devkey(const char *s, uint64_t *key)
{
    uint64_t v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        if (*s < '0' || *s > '9')
            return false;
        while (*s >= '0' && *s <= '9' && v[k] <= UINT32_MAX)
            v[k] = v[k] * 10 + (uint64_t)(*s++ - '0');
        if (v[k] > UINT32_MAX || *s != (k == 0 ? ':' : '\0'))
            return false;
        s++;
    }
    *key = v[0] << 32 | v[1];
    return true;
}

#define MOUNT_FIELDS_MAX 64u

bool dy_guard_mount_line(char *line, struct dy_mount *out)
{
    char *f[MOUNT_FIELDS_MAX];
    uint32_t nf = 0;
    for (char *p = line; *p && nf < MOUNT_FIELDS_MAX;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        f[nf++] = p;
        while (*p && *p != ' ')
            p++;
        /* Each field ends here, the last one read too: ending fields only
         * at the next one's start left the cap's last field running on to
         * the end of the line, spaces and all. */
        if (*p)
            *p++ = '\0';
    }
    uint32_t sep = 6;
    while (sep < nf && strcmp(f[sep], "-") != 0)
        sep++;
    if (nf < 5 || sep + 1 >= nf)
        return false;
    if (!parse_devkey(f[2], &out->key))
        return false;
    out->fstype = f[sep + 1];
    out->path = f[4];
    unescape(out->path);
    return true;
}

/* Marks the file system of one mountinfo line. */
static void mark_line(struct dy_guard *g, struct mark_scan *ms, char *line)
{
    struct dy_mount m;
    if (!dy_guard_mount_line(line, &m) || fstype_skipped(m.fstype))
        return;
    /* A file system mounted several times (bind mounts) is marked once. */
    if (key_seen(g, ms, m.key))
        return;
    char *path = m.path;
    /* Marking again an already marked file system or mount only renews
     * the mask: every scan marks everything it sees, so a file system that
     * took the number of one unmounted since is never missed. */
    if (fanotify_mark(g->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM, AT_FDCWD,
                      path) == 0 ||
        fanotify_mark(g->fan_fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD,
                      path) == 0) {
        ms->marked++;
        return;
    }
    g->last_mark_errno = errno;
    ms->failed++;
}

/* Reads the whole mount table and marks every file system in it. */
static int mark_all(struct dy_guard *g)
{
    struct mark_scan ms = {0, 0, 0};
    if (lseek(g->mnt_fd, 0, SEEK_SET) != 0)
        return RP_ERR_IO;
    char *buf = g->mount_buf;
    size_t have = 0;
    bool skipping = false; /* inside a line longer than MOUNT_LINE_MAX */
    for (;;) {
        ssize_t n = read(g->mnt_fd, buf + have, MOUNT_BUF + MOUNT_LINE_MAX - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return RP_ERR_IO;
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf;
        char *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf))) != NULL) {
            *nl = '\0';
            if (!skipping)
                mark_line(g, &ms, line);
            skipping = false;
            line = nl + 1;
        }
        size_t rest = have - (size_t)(line - buf);
        if (n == 0) {
            if (rest && !skipping)
                mark_line(g, &ms, line);
            break;
        }
        if (rest >= MOUNT_LINE_MAX) {
            skipping = true;
            rest = 0;
        }
        memmove(buf, line, rest);
        have = rest;
    }
    atomic_store(&g->marks, ms.marked);
    atomic_store(&g->mark_errors, ms.failed);
    return 0;
}

static void flush_marks(struct dy_guard *g)
{
    fanotify_mark(g->fan_fd, FAN_MARK_FLUSH | FAN_MARK_FILESYSTEM, 0, AT_FDCWD, "/");
    fanotify_mark(g->fan_fd, FAN_MARK_FLUSH | FAN_MARK_MOUNT, 0, AT_FDCWD, "/");
    fanotify_mark(g->fan_fd, FAN_MARK_FLUSH, 0, AT_FDCWD, "/");
}

/* The kernel holds every exec on the machine until the answering thread
 * writes, and a held exec past its deadline is the watchdog's: both run at
 * the lowest real-time priority (SCHED_FIFO 1), so a busy machine's
 * ordinary threads cannot delay an answer by a time slice (measured by
 * bench.exec_block: p99 of cached answers went from about 0.9 ms under an
 * exec loop to microseconds). Each does bounded work per wake and sleeps in
 * poll, and the kernel's real-time throttling bounds them anyway; children
 * do not inherit it (SCHED_RESET_ON_FORK). Without the privilege they stay
 * ordinary threads (stats.realtime says how many are real-time). */
static void go_realtime(struct dy_guard *g)
{
    struct sched_param sp = {.sched_priority = 1};
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) == 0)
        atomic_fetch_add(&g->realtime, 1);
}

static void *answer_main(void *arg)
{
    struct dy_guard *g = arg;
    prctl(PR_SET_NAME, "yara-guard", 0, 0, 0);
    go_realtime(g);
    struct pollfd p[3] = {
        {g->fan_fd, POLLIN, 0},
        {g->stop_fd, POLLIN, 0},
        {g->mnt_fd, POLLPRI, 0},
    };
    for (;;) {
        int n = poll(p, 3, -1);
        if (n < 0) {
            if (errno != EINTR) {
                /* Never seen; a pause keeps it from spinning a core. */
                count(&g->errors);
                struct timespec ts = {0, 1000000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (p[1].revents)
            break;
        if (p[2].revents & (POLLPRI | POLLERR))
            mark_all(g);
        if (p[0].revents & POLLIN)
            drain(g);
    }
    /* Stopping. Closing the group is not enough to let execs run: a child
     * forked by this process and still inside execve holds the group open
     * (close-on-exec acts only once the exec succeeds), and an exec held
     * by a group nobody reads waits forever, the child's own included. So
     * the marks go first (no new event on the machine), then what is
     * queued is allowed until the queue stays empty for DRAIN_QUIET_MS (an
     * event the kernel was queueing while the marks went). */
    flush_marks(g);
    uint64_t until = mono_ns() + DRAIN_MAX_NS;
    while (mono_ns() < until) {
        struct pollfd q = {g->fan_fd, POLLIN, 0};
        int n = poll(&q, 1, DRAIN_QUIET_MS);
        if (n == 0)
            break;
        if (n > 0)
            drain(g); /* stopping: handle() allows everything */
    }
    return NULL;
}

/* ---- the watchdog ---------------------------------------------------------- */

/* Allows every held exec past its deadline; returns the earliest deadline
 * still ahead (UINT64_MAX: none held). */
static uint64_t expire(struct dy_guard *g, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < DY_GUARD_PENDING_MAX; i++) {
        struct slot *s = &g->slots[i];
        uint64_t t = atomic_load(&s->tok);
        if (t == 0 || t == SLOT_CLAIMED)
            continue;
        uint64_t dl = atomic_load_explicit(&s->deadline_ns, memory_order_relaxed);
        if (dl > now) {
            if (dl < next)
                next = dl;
            continue;
        }
        if (!claim(s, t))
            continue;
        pid_t pid = s->pid;
        struct dy_file_id id = s->id;
        answer_slot(g, s, true, &g->scanned);
        count(&g->deadline_allowed);
        if (g->cb.failed_open)
            g->cb.failed_open(g->cb.ctx, pid, &id);
    }
    return next;
}

static void *watchdog_main(void *arg)
{
    struct dy_guard *g = arg;
    prctl(PR_SET_NAME, "yara-watchdog", 0, 0, 0);
    go_realtime(g);
    while (!atomic_load(&g->stopping)) {
        atomic_store(&g->wd_next_ns, UINT64_MAX);
        uint64_t now = mono_ns();
        uint64_t next = expire(g, now);
        atomic_store(&g->wd_next_ns, next);
        struct pollfd p[2] = {{g->wd_fd, POLLIN, 0}, {g->stop_fd, POLLIN, 0}};
        struct timespec ts, *tp = NULL;
        if (next != UINT64_MAX) {
            uint64_t left = next > now ? next - now : 0;
            ts.tv_sec = (time_t)(left / 1000000000ull);
            ts.tv_nsec = (long)(left % 1000000000ull);
            tp = &ts;
        }
        int n = ppoll(p, 2, tp, NULL);
        if (n > 0 && (p[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(g->wd_fd, &v, sizeof v);
            (void)r; /* EAGAIN: another wake-up already consumed */
        }
    }
    return NULL;
}

/* ---- lifetime -------------------------------------------------------------- */

int dy_guard_create(const struct dy_guard_opts *opts, const struct dy_guard_callbacks *cb,
                    struct dy_guard **out, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (!opts || !cb || !out)
        return RP_ERR_INVAL;
    *out = NULL;
    if (opts->deadline_ms > DY_GUARD_DEADLINE_MAX) {
        set_err(err, errlen, "deadline %u ms: at most %u ms", opts->deadline_ms,
                DY_GUARD_DEADLINE_MAX);
        return RP_ERR_RANGE;
    }
    if (opts->n_allow_paths > DY_GUARD_ALLOW_MAX) {
        set_err(err, errlen, "%u never-blocked paths: at most %u", opts->n_allow_paths,
                DY_GUARD_ALLOW_MAX);
        return RP_ERR_RANGE;
    }
    if (opts->n_allow_paths && !opts->allow_paths)
        return RP_ERR_INVAL;
    struct dy_guard *g = calloc(1, sizeof *g);
    if (!g)
        return RP_ERR_NOMEM;
    g->cb = *cb;
    g->deadline_rel_ns =
        (uint64_t)(opts->deadline_ms ? opts->deadline_ms : DY_GUARD_DEADLINE_DEF) * 1000000ull;
    g->agent_pid = opts->agent_pid ? opts->agent_pid : getpid();
    g->fan_fd = g->stop_fd = g->wd_fd = g->mnt_fd = -1;
    atomic_store(&g->wd_next_ns, UINT64_MAX);
    for (uint32_t i = 0; i < DY_GUARD_PENDING_MAX; i++)
        g->slots[i].fd = -1;
    int rc = 0;
    for (uint32_t i = 0; i < opts->n_allow_paths && rc == 0; i++) {
        const char *p = opts->allow_paths[i];
        struct stat st;
        if (!p || stat(p, &st) != 0) {
            set_err(err, errlen, "never-blocked path %s: %s", p ? p : "(null)",
                    p ? strerror(errno) : "no path");
            rc = p ? RP_ERR_NOTFOUND : RP_ERR_INVAL;
        } else if (S_ISDIR(st.st_mode)) {
            char *r = realpath(p, NULL);
            if (!r) {
                set_err(err, errlen, "never-blocked folder %s: %s", p, strerror(errno));
                rc = RP_ERR_NOTFOUND;
            } else {
                size_t len = strlen(r);
                while (len > 1 && r[len - 1] == '/')
                    r[--len] = '\0';
                g->dirs[g->n_dirs] = r;
                g->dir_len[g->n_dirs++] = len;
            }
        } else {
            g->files[g->n_files++] = (struct file_key){st.st_dev, st.st_ino};
        }
    }
    if (rc != 0) {
        dy_guard_destroy(g);
        return rc;
    }
    qsort(g->files, g->n_files, sizeof g->files[0], key_cmp);
    *out = g;
    return 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void release_all(struct dy_guard *g)
{
    if (g->fan_fd >= 0)
        fork_unregister(g->fan_fd);
    close_fd(&g->fan_fd); /* the kernel allows every exec still queued */
    close_fd(&g->mnt_fd);
    close_fd(&g->stop_fd);
    close_fd(&g->wd_fd);
    free(g->mount_buf);
    g->mount_buf = NULL;
    free(g->scan_keys);
    g->scan_keys = NULL;
}

int dy_guard_start(struct dy_guard *g, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    if (!g)
        return RP_ERR_INVAL;
    if (g->started)
        return RP_ERR_BUSY;
    g->fan_fd = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK,
                              O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    if (g->fan_fd < 0) {
        int e = errno;
        if (e == EPERM) {
            set_err(err, errlen, "fanotify_init: %s (needs CAP_SYS_ADMIN)", strerror(e));
            return RP_ERR_PERM;
        }
        set_err(err, errlen, "fanotify_init with permission events: %s", strerror(e));
        return (e == EINVAL || e == ENOSYS) ? RP_ERR_UNSUPPORTED : RP_ERR_IO;
    }
    fork_register(g->fan_fd);
    /* The probe: the root's file system, or its mount. EINVAL from both
     * is a kernel without FAN_OPEN_EXEC_PERM (before Linux 5.0). */
    if (fanotify_mark(g->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM, AT_FDCWD,
                      "/") != 0 &&
        fanotify_mark(g->fan_fd, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN_EXEC_PERM, AT_FDCWD,
                      "/") != 0) {
        int e = errno;
        release_all(g);
        set_err(err, errlen, "fanotify_mark FAN_OPEN_EXEC_PERM on /: %s", strerror(e));
        return e == EINVAL ? RP_ERR_UNSUPPORTED : e == EPERM ? RP_ERR_PERM : RP_ERR_IO;
    }
    g->mount_buf = malloc(MOUNT_BUF + MOUNT_LINE_MAX);
    g->scan_keys = malloc(MARKS_MAX * sizeof *g->scan_keys);
    g->mnt_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
    g->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    g->wd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!g->mount_buf || !g->scan_keys || g->mnt_fd < 0 || g->stop_fd < 0 || g->wd_fd < 0) {
        int e = errno;
        release_all(g);
        set_err(err, errlen, "guard setup (mountinfo, eventfd): %s", strerror(e));
        return RP_ERR_IO;
    }
    if (mark_all(g) != 0) {
        int e = errno;
        release_all(g);
        set_err(err, errlen, "/proc/self/mountinfo: %s", strerror(e));
        return RP_ERR_IO;
    }
    /* The threads take no signal: the agent's handlers run elsewhere. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&g->answer_thr, NULL, answer_main, g);
    g->have_answer = e == 0;
    if (e == 0) {
        e = pthread_create(&g->wd_thr, NULL, watchdog_main, g);
        g->have_wd = e == 0;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    g->started = true;
    if (e != 0) {
        dy_guard_stop(g);
        set_err(err, errlen, "guard threads: %s", strerror(e));
        return RP_ERR_NOMEM;
    }
    return 0;
}

int dy_guard_stop(struct dy_guard *g)
{
    if (!g || !g->started || g->stopped)
        return 0;
    g->stopped = true;
    atomic_store(&g->stopping, true);
    if (g->stop_fd >= 0)
        wake(g->stop_fd);
    if (g->have_answer)
        pthread_join(g->answer_thr, NULL);
    /* Nothing new is held now; allow what is. */
    for (uint32_t i = 0; i < DY_GUARD_PENDING_MAX; i++) {
        struct slot *s = &g->slots[i];
        uint64_t t = atomic_load(&s->tok);
        if (t != 0 && t != SLOT_CLAIMED && claim(s, t))
            answer_slot(g, s, true, &g->scanned);
    }
    if (g->have_wd)
        pthread_join(g->wd_thr, NULL);
    /* A dy_guard_answer that claimed a slot may still be writing its answer
     * to the group: wait (bounded) before closing it. */
    uint64_t until = mono_ns() + STOP_WAIT_NS;
    for (uint32_t i = 0; i < DY_GUARD_PENDING_MAX && mono_ns() < until;) {
        if (atomic_load(&g->slots[i].tok) == 0) {
            i++;
            continue;
        }
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    release_all(g);
    return 0;
}

void dy_guard_destroy(struct dy_guard *g)
{
    if (!g)
        return;
    dy_guard_stop(g);
    release_all(g);
    for (uint32_t i = 0; i < g->n_dirs; i++)
        free(g->dirs[i]);
    free(g);
}

void dy_guard_stats(struct dy_guard *g, struct dy_guard_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!g)
        return;
    out->events = atomic_load(&g->events);
    out->allowed = atomic_load(&g->allowed);
    out->denied = atomic_load(&g->denied);
    out->allowed_listed = atomic_load(&g->allowed_listed);
    out->allowed_agent = atomic_load(&g->allowed_agent);
    out->held = atomic_load(&g->held);
    out->deadline_allowed = atomic_load(&g->deadline_allowed);
    out->overflow = atomic_load(&g->overflow);
    out->submit_refused = atomic_load(&g->submit_refused);
    out->late_answers = atomic_load(&g->late_answers);
    out->held_now = atomic_load(&g->held_now);
    out->marks = atomic_load(&g->marks);
    lat_read(&g->at_once, &out->at_once);
    lat_read(&g->scanned, &out->scanned);
    out->errors = atomic_load(&g->errors);
    out->mark_errors = atomic_load(&g->mark_errors);
    out->realtime = atomic_load(&g->realtime);
}
