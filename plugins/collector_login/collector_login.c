/*
 * collector_login - logins, logouts and failed logins from the utmp, wtmp and
 * btmp files (glibc's struct utmpx records, 384 bytes on x86_64).
 *
 * The files are watched with inotify, never polled: each file for writes,
 * and each file's folder for files created, renamed or deleted, so a file
 * that appears or is rotated later is picked up. The inotify fd sits in the
 * host loop; an idle plugin costs nothing.
 *
 * wtmp and btmp are append-only logs: the plugin keeps the offset of the
 * next record and reads what was appended since. utmp is a table rewritten
 * in place (a login reuses a slot), so it is read whole on every change and
 * compared slot by slot with the previous copy. A session table (by tty)
 * remembers open sessions, so that a logout (whose record usually has no user
 * name) carries the user, the source and the session's duration, and so that
 * the same login seen in both utmp and wtmp is published once.
 *
 * Everything runs on the host's loop thread after start; start itself runs
 * before the fd is watched, so the state needs no lock except around the
 * continuation timer, which stop races with.
 */
#define _GNU_SOURCE

#include <rampart/plugin.h>
/* Log lines name up to two paths: room for them before the cut. */
#define RP_UTIL_LOG_MAX 768
#include <rampart/plugin_util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "record.h"

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"utmp\":{\"type\":\"string\",\"maxLength\":4095,\"default\":\"/var/run/utmp\","
    "\"description\":\"current sessions table; empty string: not read\"},"
    "\"wtmp\":{\"type\":\"string\",\"maxLength\":4095,\"default\":\"/var/log/wtmp\","
    "\"description\":\"log of logins and logouts; empty string: not read\"},"
    "\"btmp\":{\"type\":\"string\",\"maxLength\":4095,\"default\":\"/var/log/btmp\","
    "\"description\":\"log of failed logins; empty string: not read\"},"
    "\"replay_existing\":{\"type\":\"boolean\",\"default\":false,"
    "\"description\":\"publish the records already in the files at start\"}}}";

/* The record layout (glibc's struct utmpx) and its parser are in record.c. */

/* ------------------------------------------------------------------------ */
/* Caps. Each says what happens when it is reached. */

/* Records read into one buffer (24 KiB). */
#define CHUNK_RECORDS 64u
/* Records handled per loop wakeup; the rest are read by a 5 ms one-shot
 * timer, so a replay of a large wtmp never holds the loop for long. */
#define MAX_RECORDS_PER_WAKE 4096u
#define CONTINUE_MS          5u
/* utmp is read whole: slots past this size are not read (logged once). */
#define UTMP_MAX_BYTES (CL_REC_SIZE * 2048u)
/* At start, the last records of wtmp are read without publishing to learn
 * which sessions are open, so their logouts carry the user. */
#define SEED_TAIL_BYTES (CL_REC_SIZE * 1024u)
/* Sessions remembered; at the cap a newcomer evicts an ended session, else
 * the oldest open one (counted in sessions_evicted). */
#define MAX_SESSIONS 256
/* inotify events are read in buffers of this size, at most this many reads
 * per wakeup (the fd is level-triggered, the rest comes next wakeup). */
#define INOTIFY_BUF            4096
#define INOTIFY_READS_PER_WAKE 16
/* A bad record is logged at most once a minute per file; the others are
 * counted and the next log line says how many. */
#define BAD_LOG_INTERVAL_NS (60ll * 1000000000ll)
/* A second logout record for a tty within this time of the first is the
 * same logout written to both utmp and wtmp. */
#define LOGOUT_DUP_NS (2ll * 1000000000ll)

#define FILE_MASK (IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF)
#define DIR_MASK                                                                                   \
    (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |         \
     IN_ONLYDIR)

enum { SRC_UTMP, SRC_WTMP, SRC_BTMP, SRC_COUNT };
static const char *const src_names[SRC_COUNT] = {"utmp", "wtmp", "btmp"};
static const char *const src_defaults[SRC_COUNT] = {"/var/run/utmp", "/var/log/wtmp",
                                                    "/var/log/btmp"};

enum {
    F_TS,
    F_CREATED,
    F_CATEGORY,
    F_TYPE,
    F_ACTION,
    F_OUTCOME,
    F_PROVIDER,
    F_START,
    F_DURATION,
    F_USER,
    F_SRC_IP,
    F_SRC_ADDR,
    F_PID,
    F_REL_USER,
    F_REL_IP,
    F_LOG_PATH,
    F_TTY,
    F_DATASET,
    F_COUNT_
};

static const struct {
    const char *name;
    uint32_t type;
    int optional; /* an older agent may not know it: left out then */
} field_defs[F_COUNT_] = {
    {"@timestamp", RP_TYPE_TIMESTAMP, 0},
    {"event.created", RP_TYPE_TIMESTAMP, 1},
    {"event.category", RP_TYPE_STR_ARRAY, 0},
    {"event.type", RP_TYPE_STR_ARRAY, 0},
    {"event.action", RP_TYPE_STR, 0},
    {"event.outcome", RP_TYPE_STR, 0},
    {"event.provider", RP_TYPE_STR, 1},
    {"event.start", RP_TYPE_TIMESTAMP, 1},
    {"event.duration", RP_TYPE_I64, 1},
    {"user.name", RP_TYPE_STR, 0},
    {"source.ip", RP_TYPE_IP, 0},
    {"source.address", RP_TYPE_STR, 0},
    {"process.pid", RP_TYPE_I64, 0},
    {"related.user", RP_TYPE_STR_ARRAY, 1},
    {"related.ip", RP_TYPE_STR_ARRAY, 1},
    {"log.file.path", RP_TYPE_STR, 1},
    {"login.tty", RP_TYPE_STR, 0},
    {"event.dataset", RP_TYPE_STR, 1},
};

enum {
    C_RECORDS,
    C_LOGINS,
    C_LOGOUTS,
    C_FAILURES,
    C_BAD,
    C_PUBLISH_FAILED,
    C_IGNORED,
    C_UNMATCHED,
    C_DUPLICATES,
    C_EVICTED,
    C_ROTATIONS,
    C_OVERFLOWS,
    C_COUNT_
};
static const char *const counter_names[C_COUNT_] = {
    "records_read", "logins",           "logouts",         "failures",
    "bad_records",  "publish_failed",   "records_ignored", "logouts_unmatched",
    "duplicates",   "sessions_evicted", "rotations",       "inotify_overflows",
};

#define SESS_FREE  0
#define SESS_OPEN  1
#define SESS_ENDED 2

struct session {
    int state;
    int32_t pid;
    int64_t start_ns;
    int64_t end_ns; /* SESS_ENDED: when */
    uint64_t order; /* insertion order, for eviction */
    int has_ip;
    rp_ip ip;
    char line[CL_LEN_LINE + 1];
    char user[CL_LEN_USER + 1];
    char host[CL_LEN_HOST + 1];
};

struct source {
    int kind;
    int enabled;
    char *path;
    char *dir;        /* the folder watched for the file's creation */
    const char *base; /* the file's name inside dir (points into path) */
    int fd;           /* -1: not open */
    dev_t dev;
    ino_t ino;
    int file_wd;         /* -1: no watch */
    int dir_wd;          /* -1: no watch (folder missing) */
    int dirty;           /* something changed: check it */
    int warned;          /* a non-regular file or read error was logged */
    uint64_t offset;     /* wtmp, btmp: bytes consumed (whole records) */
    unsigned char *snap; /* utmp: the table as last read */
    size_t snap_len;
    int64_t bad_logged_ns; /* monotonic time of the last bad-record log line */
    uint64_t bad_unlogged; /* bad records since then */
};

struct state {
    rp_plugin *self;
    const rp_host_api *host;
    rp_field_id f[F_COUNT_];
    rp_util_counters ctr; /* with totals, for the summary at stop */
    int replay;
    struct source src[SRC_COUNT];
    int ifd;
    uint64_t watch_id;
    int watching;
    pthread_mutex_t lock; /* guards stopping and cont_timer */
    int stopping;
    uint64_t cont_timer;
    uint64_t sess_order;
    struct session sessions[MAX_SESSIONS];
    unsigned char buf[CHUNK_RECORDS * CL_REC_SIZE];
};

/* ------------------------------------------------------------------------ */
/* Small helpers. */

static void bad_record(struct state *s, struct source *src, uint64_t offset, const char *why)
{
    rp_util_count(&s->ctr, C_BAD, 1);
    int64_t now = s->host->monotonic_ns();
    if (src->bad_logged_ns != 0 && now - src->bad_logged_ns < BAD_LOG_INTERVAL_NS) {
        src->bad_unlogged++;
        return;
    }
    char more[64] = "";
    if (src->bad_unlogged)
        snprintf(more, sizeof more, "; %llu more since the last report",
                 (unsigned long long)src->bad_unlogged);
    rp_util_logf(s->host, s->self, RP_LOG_WARN, "%s %s: bad record at offset %llu skipped (%s)%s",
                 src_names[src->kind], src->path, (unsigned long long)offset, why, more);
    src->bad_logged_ns = now;
    src->bad_unlogged = 0;
}

/* ------------------------------------------------------------------------ */
/* Sessions. */

static struct session *session_find(struct state *s, const struct cl_rec *r, int want_state)
{
    for (int i = 0; i < MAX_SESSIONS; i++) {
        struct session *x = &s->sessions[i];
        if (x->state != want_state)
            continue;
        /* The tty names a session; a record without one is matched by pid. */
        if (r->line[0] ? strcmp(x->line, r->line) == 0 : (x->line[0] == '\0' && x->pid == r->pid))
            return x;
    }
    return NULL;
}

static struct session *session_slot(struct state *s, int emit)
{
    struct session *ended = NULL, *oldest = NULL;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        struct session *x = &s->sessions[i];
        if (x->state == SESS_FREE)
            return x;
        if (x->state == SESS_ENDED && (!ended || x->order < ended->order))
            ended = x;
        if (x->state == SESS_OPEN && (!oldest || x->order < oldest->order))
            oldest = x;
    }
    if (ended)
        return ended;
    if (emit)
        rp_util_count(&s->ctr, C_EVICTED, 1);
    return oldest;
}

/* ------------------------------------------------------------------------ */
/* Events. */

#define K_LOGIN  0
#define K_LOGOUT 1
#define K_FAILED 2

static void set_opt_str(struct state *s, rp_event *ev, int f, const char *v)
{
    if (s->f[f] && v && v[0])
        s->host->set_str(ev, s->f[f], v, strlen(v));
}

/* Publishes one login, logout or failed login. For a logout, sess (if any)
 * fills in what the logout record leaves out. */
static void publish(struct state *s, const struct source *src, int kind, const struct cl_rec *r,
                    const struct session *sess)
{
    const rp_host_api *h = s->host;
    rp_event *ev;
    const char *type = kind == K_LOGOUT ? "user.logout" : "user.login";
    if (h->event_create(s->self, type, strlen(type), &ev) != 0) {
        rp_util_count(&s->ctr, C_PUBLISH_FAILED, 1);
        return;
    }
    /* What each kind is in ECS: its categories, type, action and outcome. */
    static const struct {
        rp_str category[2];
        uint32_t ncategory;
        rp_str type;
        const char *action, *outcome;
    } kinds[] = {
        [K_LOGIN] =
            {{{"authentication", 14}, {"session", 7}}, 2, {"start", 5}, "logged-in", "success"},
        [K_LOGOUT] = {{{"session", 7}}, 1, {"end", 3}, "logged-out", "success"},
        [K_FAILED] = {{{"authentication", 14}}, 1, {"start", 5}, "login-failed", "failure"},
    };
    const int k = kind == K_LOGIN || kind == K_LOGOUT ? kind : K_FAILED;
    h->set_str_array(ev, s->f[F_CATEGORY], kinds[k].category, kinds[k].ncategory);
    h->set_str_array(ev, s->f[F_TYPE], &kinds[k].type, 1);
    h->set_str(ev, s->f[F_ACTION], kinds[k].action, strlen(kinds[k].action));
    h->set_str(ev, s->f[F_OUTCOME], kinds[k].outcome, strlen(kinds[k].outcome));
    set_opt_str(s, ev, F_PROVIDER, src_names[src->kind]);
    set_opt_str(s, ev, F_DATASET, "rampart.login");
    set_opt_str(s, ev, F_LOG_PATH, src->path);
    if (s->f[F_CREATED])
        h->set_timestamp(ev, s->f[F_CREATED], h->now_ns());
    if (r->time_ns)
        h->set_timestamp(ev, s->f[F_TS], r->time_ns);

    const char *user = r->user[0] ? r->user : (sess ? sess->user : "");
    const char *host = r->host[0] ? r->host : (sess ? sess->host : "");
    const char *line = r->line[0] ? r->line : (sess ? sess->line : "");
    const rp_ip *ip = r->has_ip ? &r->ip : (sess && sess->has_ip ? &sess->ip : NULL);
    int64_t pid = r->pid > 0 ? r->pid : (sess ? sess->pid : 0);

    set_opt_str(s, ev, F_USER, user);
    set_opt_str(s, ev, F_SRC_ADDR, host);
    set_opt_str(s, ev, F_TTY, line);
    if (pid > 0)
        h->set_i64(ev, s->f[F_PID], pid);
    if (user[0] && s->f[F_REL_USER]) {
        rp_str u = {user, strlen(user)};
        h->set_str_array(ev, s->f[F_REL_USER], &u, 1);
    }
    if (ip) {
        h->set_ip(ev, s->f[F_SRC_IP], ip);
        char text[INET6_ADDRSTRLEN];
        if (s->f[F_REL_IP] &&
            inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->addr, text, sizeof text)) {
            rp_str t = {text, strlen(text)};
            h->set_str_array(ev, s->f[F_REL_IP], &t, 1);
        }
    }
    if (kind == K_LOGOUT && sess && sess->start_ns) {
        if (s->f[F_START])
            h->set_timestamp(ev, s->f[F_START], sess->start_ns);
        if (s->f[F_DURATION] && r->time_ns >= sess->start_ns)
            h->set_i64(ev, s->f[F_DURATION], r->time_ns - sess->start_ns);
    }
    if (h->event_publish(s->self, ev) != 0)
        rp_util_count(&s->ctr, C_PUBLISH_FAILED, 1);
    else
        rp_util_count(&s->ctr,
                      kind == K_LOGIN    ? C_LOGINS
                      : kind == K_LOGOUT ? C_LOGOUTS
                                         : C_FAILURES,
                      1);
}

/* One valid record from a source. emit = 0 while learning the open sessions
 * at start: the session table is updated, nothing is published or counted. */
static void handle_record(struct state *s, struct source *src, const struct cl_rec *r, int emit)
{
    if (src->kind == SRC_BTMP) {
        /* Failed attempts are written as LOGIN_PROCESS (sshd, login) or
         * USER_PROCESS records; anything else in btmp is not an attempt. */
        if (r->type != CL_UT_LOGIN_PROCESS && r->type != CL_UT_USER_PROCESS) {
            if (emit)
                rp_util_count(&s->ctr, C_IGNORED, 1);
            return;
        }
        if (emit)
            publish(s, src, K_FAILED, r, NULL);
        return;
    }
    if (r->type == CL_UT_USER_PROCESS) {
        /* The same login written to utmp and to wtmp is one login. */
        struct session *x = session_find(s, r, SESS_OPEN);
        if (!x)
            x = session_find(s, r, SESS_ENDED);
        if (x && x->pid == r->pid && x->start_ns == r->time_ns) {
            if (emit)
                rp_util_count(&s->ctr, C_DUPLICATES, 1);
            return;
        }
        if (!x)
            x = session_slot(s, emit);
        memset(x, 0, sizeof *x);
        x->state = SESS_OPEN;
        x->pid = r->pid;
        x->start_ns = r->time_ns;
        x->order = ++s->sess_order;
        x->has_ip = r->has_ip;
        x->ip = r->ip;
        memcpy(x->line, r->line, sizeof x->line);
        memcpy(x->user, r->user, sizeof x->user);
        memcpy(x->host, r->host, sizeof x->host);
        if (emit)
            publish(s, src, K_LOGIN, r, NULL);
        return;
    }
    if (r->type == CL_UT_DEAD_PROCESS) {
        struct session *x = session_find(s, r, SESS_OPEN);
        if (x) {
            if (emit)
                publish(s, src, K_LOGOUT, r, x);
            x->state = SESS_ENDED;
            x->end_ns = r->time_ns;
            x->pid = r->pid ? r->pid : x->pid;
            return;
        }
        x = session_find(s, r, SESS_ENDED);
        if (x && (x->pid == r->pid || (r->time_ns - x->end_ns < LOGOUT_DUP_NS &&
                                       x->end_ns - r->time_ns < LOGOUT_DUP_NS))) {
            if (emit)
                rp_util_count(&s->ctr, C_DUPLICATES, 1);
            return;
        }
        /* A logout of a session we never saw start: worth an event when it
         * names the user; without one it is usually a getty or a terminal
         * that ended without a login. */
        if (!emit)
            return;
        if (r->user[0])
            publish(s, src, K_LOGOUT, r, NULL);
        else
            rp_util_count(&s->ctr, C_UNMATCHED, 1);
        return;
    }
    /* Boot, run level, clock changes, getty and init records. */
    if (emit)
        rp_util_count(&s->ctr, C_IGNORED, 1);
}

/* ------------------------------------------------------------------------ */
/* Reading the files. */

static ssize_t pread_full(int fd, unsigned char *buf, size_t len, uint64_t offset)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(offset + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

static void read_error(struct state *s, struct source *src, const char *what)
{
    if (src->warned)
        return;
    src->warned = 1;
    rp_util_logf(s->host, s->self, RP_LOG_WARN, "%s %s: %s: %s", src_names[src->kind], src->path,
                 what, strerror(errno));
}

/* wtmp and btmp: handles the whole records appended since the last read, at
 * most *budget of them. A partial record at the end stays for the next read.
 * Returns 1 when whole records remain (the budget ran out). */
static int read_log(struct state *s, struct source *src, unsigned *budget, int emit)
{
    struct stat st;
    if (fstat(src->fd, &st) != 0) {
        read_error(s, src, "fstat");
        return 0;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < src->offset) {
        rp_util_logf(s->host, s->self, RP_LOG_INFO,
                     "%s %s: truncated (%llu bytes, was at %llu): reading from the start",
                     src_names[src->kind], src->path, (unsigned long long)size,
                     (unsigned long long)src->offset);
        src->offset = 0;
    }
    while (src->offset + CL_REC_SIZE <= size && *budget > 0) {
        uint64_t whole = (size - src->offset) / CL_REC_SIZE;
        if (whole > CHUNK_RECORDS)
            whole = CHUNK_RECORDS;
        if (whole > *budget)
            whole = *budget;
        ssize_t n = pread_full(src->fd, s->buf, (size_t)(whole * CL_REC_SIZE), src->offset);
        if (n < 0) {
            read_error(s, src, "read");
            return 0;
        }
        size_t recs = (size_t)n / CL_REC_SIZE;
        if (recs == 0)
            break; /* the file shrank under us; the next event says more */
        for (size_t i = 0; i < recs; i++) {
            struct cl_rec r;
            const char *why = "";
            uint64_t at = src->offset + i * CL_REC_SIZE;
            if (emit)
                rp_util_count(&s->ctr, C_RECORDS, 1);
            if (cl_parse_record(s->buf + i * CL_REC_SIZE, &r, &why) != 0) {
                if (emit)
                    bad_record(s, src, at, why);
                continue;
            }
            handle_record(s, src, &r, emit);
        }
        src->offset += recs * CL_REC_SIZE;
        *budget -= (unsigned)recs;
        if (recs < whole)
            break;
    }
    return src->offset + CL_REC_SIZE <= size;
}

/* utmp: reads the table and handles the slots that changed since the last
 * read (all of them for a new file). Bounded by UTMP_MAX_BYTES. */
static void read_table(struct state *s, struct source *src, int emit)
{
    struct stat st;
    if (fstat(src->fd, &st) != 0) {
        read_error(s, src, "fstat");
        return;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size > UTMP_MAX_BYTES) {
        if (!src->warned)
            rp_util_logf(s->host, s->self, RP_LOG_WARN,
                         "%s %s: %llu bytes; only the first %u slots are read",
                         src_names[src->kind], src->path, (unsigned long long)size,
                         UTMP_MAX_BYTES / CL_REC_SIZE);
        src->warned = 1;
        size = UTMP_MAX_BYTES;
    }
    size_t len = (size_t)(size / CL_REC_SIZE * CL_REC_SIZE);
    unsigned char *now = malloc(len ? len : 1);
    if (!now) {
        rp_util_logf(s->host, s->self, RP_LOG_ERROR, "%s %s: out of memory", src_names[src->kind],
                     src->path);
        return;
    }
    ssize_t n = pread_full(src->fd, now, len, 0);
    if (n < 0) {
        read_error(s, src, "read");
        free(now);
        return;
    }
    len = (size_t)n / CL_REC_SIZE * CL_REC_SIZE;
    for (size_t off = 0; off < len; off += CL_REC_SIZE) {
        if (off + CL_REC_SIZE <= src->snap_len &&
            memcmp(now + off, src->snap + off, CL_REC_SIZE) == 0)
            continue;
        struct cl_rec r;
        const char *why = "";
        if (emit)
            rp_util_count(&s->ctr, C_RECORDS, 1);
        if (cl_parse_record(now + off, &r, &why) != 0) {
            if (emit)
                bad_record(s, src, off, why);
            continue;
        }
        /* Slots that became a login or a logout; a slot rewritten as a
         * getty or init entry is none of our business. */
        if (r.type == CL_UT_USER_PROCESS || r.type == CL_UT_DEAD_PROCESS)
            handle_record(s, src, &r, emit);
        else if (emit)
            rp_util_count(&s->ctr, C_IGNORED, 1);
    }
    free(src->snap);
    src->snap = now;
    src->snap_len = len;
}

/* Reads what changed in an open source. Returns 1 when records remain. */
static int read_source(struct state *s, struct source *src, unsigned *budget, int emit)
{
    if (src->kind == SRC_UTMP) {
        read_table(s, src, emit);
        return 0;
    }
    return read_log(s, src, budget, emit);
}

static void close_source(struct state *s, struct source *src)
{
    if (src->file_wd >= 0)
        inotify_rm_watch(s->ifd, src->file_wd); /* fails harmlessly if the file is gone */
    src->file_wd = -1;
    if (src->fd >= 0)
        close(src->fd);
    src->fd = -1;
    src->offset = 0;
    free(src->snap);
    src->snap = NULL;
    src->snap_len = 0;
}

/* Opens the file at src->path. At start (initial) the reading begins at the
 * end, unless replay_existing; a file that appears later is read from its
 * first record. Returns 0 when open. */
static int open_source(struct state *s, struct source *src, int initial)
{
    /* Never open what is not a plain file: opening some devices has side
     * effects. fstat below closes the window between this check and open. */
    struct stat pre;
    if (stat(src->path, &pre) == 0 && !S_ISREG(pre.st_mode)) {
        if (!src->warned)
            rp_util_logf(s->host, s->self, RP_LOG_WARN, "%s %s: not a regular file; ignored",
                         src_names[src->kind], src->path);
        src->warned = 1;
        return RP_ERR_INVAL;
    }
    int fd = open(src->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno != ENOENT && errno != ENOTDIR)
            read_error(s, src, "open");
        return RP_ERR_NOTFOUND;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (!src->warned)
            rp_util_logf(s->host, s->self, RP_LOG_WARN, "%s %s: not a regular file; ignored",
                         src_names[src->kind], src->path);
        src->warned = 1;
        close(fd);
        return RP_ERR_INVAL;
    }
    src->fd = fd;
    src->dev = st.st_dev;
    src->ino = st.st_ino;
    src->warned = 0;
    src->offset = 0;
    /* The watch goes on the inode now at the path; if the file is replaced
     * between open and here, the folder watch reports it and the next check
     * reopens both. */
    src->file_wd = inotify_add_watch(s->ifd, src->path, FILE_MASK);
    if (src->file_wd < 0)
        rp_util_logf(s->host, s->self, RP_LOG_WARN, "%s %s: cannot watch: %s", src_names[src->kind],
                     src->path, strerror(errno));
    if (!initial || s->replay)
        return 0;

    /* Start at the end; first learn the sessions that are open now. */
    uint64_t end = (uint64_t)st.st_size / CL_REC_SIZE * CL_REC_SIZE;
    unsigned budget = UINT32_MAX;
    if (src->kind == SRC_UTMP) {
        read_table(s, src, 0);
    } else if (src->kind == SRC_WTMP) {
        src->offset = end > SEED_TAIL_BYTES ? end - SEED_TAIL_BYTES : 0;
        read_log(s, src, &budget, 0);
    }
    src->offset = end;
    return 0;
}

/* Brings one source up to date: follows a replaced or removed file (after
 * reading what is left of the old one), opens a file that appeared, reads
 * what changed. Returns 1 when records remain for another round. */
static int check_source(struct state *s, struct source *src, unsigned *budget)
{
    struct stat st;
    int present = stat(src->path, &st) == 0;
    if (src->fd >= 0 && (!present || st.st_dev != src->dev || st.st_ino != src->ino)) {
        /* Rotated, replaced or deleted: the records appended to the old file
         * since the last read are still ours (bounded by that file). */
        unsigned all = UINT32_MAX;
        read_source(s, src, &all, 1);
        close_source(s, src);
        rp_util_count(&s->ctr, C_ROTATIONS, 1);
        rp_util_logf(s->host, s->self, RP_LOG_INFO, "%s %s: %s", src_names[src->kind], src->path,
                     present ? "replaced" : "moved away or removed; waiting for a new one");
    }
    if (!present)
        return 0;
    if (src->fd < 0) {
        if (open_source(s, src, 0) != 0)
            return 0;
        rp_util_logf(s->host, s->self, RP_LOG_INFO, "%s %s: new file; reading it from the start",
                     src_names[src->kind], src->path);
    }
    return read_source(s, src, budget, 1);
}

/* ------------------------------------------------------------------------ */
/* The loop side. */

static void on_continue(void *arg);

static void arm_continue(struct state *s)
{
    pthread_mutex_lock(&s->lock);
    if (!s->stopping && s->cont_timer == 0) {
        uint64_t id;
        if (s->host->timer_start(s->self, CONTINUE_MS, 0, on_continue, s, &id) == 0)
            s->cont_timer = id;
        else
            rp_util_logf(s->host, s->self, RP_LOG_WARN,
                         "cannot start a timer; the remaining records are read at the "
                         "next change");
    }
    pthread_mutex_unlock(&s->lock);
}

static void process_dirty(struct state *s)
{
    unsigned budget = MAX_RECORDS_PER_WAKE;
    int more = 0;
    for (int i = 0; i < SRC_COUNT; i++) {
        struct source *src = &s->src[i];
        if (!src->enabled || !src->dirty)
            continue;
        src->dirty = 0;
        if (check_source(s, src, &budget)) {
            src->dirty = 1;
            more = 1;
        }
    }
    if (more)
        arm_continue(s);
}

static void on_continue(void *arg)
{
    struct state *s = arg;
    pthread_mutex_lock(&s->lock);
    s->cont_timer = 0; /* a one-shot: done once it fires */
    int stopping = s->stopping;
    pthread_mutex_unlock(&s->lock);
    if (!stopping)
        process_dirty(s);
}

static void mark_event(struct state *s, const struct inotify_event *ev)
{
    if (ev->mask & IN_Q_OVERFLOW) {
        /* Events were lost: check every file. */
        rp_util_count(&s->ctr, C_OVERFLOWS, 1);
        for (int i = 0; i < SRC_COUNT; i++)
            s->src[i].dirty = 1;
        return;
    }
    for (int i = 0; i < SRC_COUNT; i++) {
        struct source *src = &s->src[i];
        if (!src->enabled)
            continue;
        if (ev->wd == src->file_wd) {
            src->dirty = 1;
            if (ev->mask & IN_IGNORED)
                src->file_wd = -1; /* the kernel removed it with the file */
        }
        if (ev->wd == src->dir_wd) {
            if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
                if (ev->mask & IN_IGNORED) {
                    rp_util_logf(s->host, s->self, RP_LOG_WARN,
                                 "%s: folder %s removed or moved; this file is no "
                                 "longer followed until the plugin restarts",
                                 src_names[src->kind], src->dir);
                    src->dir_wd = -1;
                }
                src->dirty = 1;
            } else if (ev->len > 0 && strcmp(ev->name, src->base) == 0) {
                src->dirty = 1;
            }
        }
    }
}

static void on_inotify(void *arg, int64_t fd, uint32_t revents)
{
    struct state *s = arg;
    (void)revents;
    /* Aligned for struct inotify_event, as inotify(7) shows. */
    _Alignas(struct inotify_event) char buf[INOTIFY_BUF];
    for (int reads = 0; reads < INOTIFY_READS_PER_WAKE; reads++) {
        ssize_t n = read((int)fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EAGAIN: drained */
        for (ssize_t off = 0; off + (ssize_t)sizeof(struct inotify_event) <= n;) {
            const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
            if (off + (ssize_t)sizeof *ev + (ssize_t)ev->len > n)
                break;
            mark_event(s, ev);
            off += (ssize_t)sizeof *ev + (ssize_t)ev->len;
        }
    }
    process_dirty(s);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle. */

static int config_fail(rp_plugin *self, const rp_host_api *host, const char *msg)
{
    host->set_error(self, msg, strlen(msg));
    return RP_ERR_CONFIG;
}

/* Splits an absolute file path into its folder and name. */
static int set_path(struct source *src, const char *path)
{
    size_t len = strlen(path);
    const char *slash = strrchr(path, '/');
    if (len == 0 || path[0] != '/' || !slash || slash[1] == '\0' || strcmp(slash + 1, ".") == 0 ||
        strcmp(slash + 1, "..") == 0 || len >= PATH_MAX)
        return RP_ERR_CONFIG;
    src->path = strdup(path);
    size_t dlen = slash == path ? 1 : (size_t)(slash - path);
    src->dir = strndup(path, dlen);
    if (!src->path || !src->dir)
        return RP_ERR_NOMEM;
    src->base = src->path + (slash - path) + 1;
    return 0;
}

static void free_state(struct state *s)
{
    for (int i = 0; i < SRC_COUNT; i++) {
        free(s->src[i].path);
        free(s->src[i].dir);
        free(s->src[i].snap);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int login_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct state *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    s->self = self;
    s->host = host;
    s->ifd = -1;
    pthread_mutex_init(&s->lock, NULL);
    for (int i = 0; i < SRC_COUNT; i++) {
        s->src[i].kind = i;
        s->src[i].fd = -1;
        s->src[i].file_wd = -1;
        s->src[i].dir_wd = -1;
    }

    /* The host validated the config against the schema and filled in its
     * defaults; the typed getters read it by JSON Pointer. */
    int rc = rp_util_conf_bool(host, self, "/replay_existing", 0, &s->replay);
    if (!rp_util_conf_ok(host, self, "/replay_existing", rc)) {
        free_state(s);
        return RP_ERR_CONFIG;
    }
    for (int i = 0; i < SRC_COUNT; i++) {
        /* A path of PATH_MAX bytes or more (RP_ERR_FULL), or one holding a
         * NUL (RP_ERR_UNSUPPORTED), cannot name a file; an absent key takes
         * the default. */
        char path[PATH_MAX], ptr[16];
        snprintf(ptr, sizeof ptr, "/%s", src_names[i]);
        rc = rp_util_conf_str(host, self, ptr, src_defaults[i], path, sizeof path, NULL);
        if (rc == RP_ERR_NOTFOUND)
            rc = 0;
        if (path[0] == '\0' && rc == 0)
            continue; /* turned off */
        s->src[i].enabled = 1;
        if (rc != 0)
            rc = RP_ERR_CONFIG;
        else
            rc = set_path(&s->src[i], path);
        if (rc != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "%s: expected an absolute path to a file", src_names[i]);
            free_state(s);
            return rc == RP_ERR_CONFIG ? config_fail(self, host, msg) : rc;
        }
    }

    for (int i = 0; i < F_COUNT_; i++) {
        const char *name = field_defs[i].name;
        rc = host->field_id(self, name, strlen(name), field_defs[i].type, &s->f[i]);
        if (rc != 0 && field_defs[i].optional) {
            s->f[i] = 0;
        } else if (rc != 0) {
            host->set_error(self, name, strlen(name));
            free_state(s);
            return rc;
        }
    }
    rc = rp_util_counters_register(&s->ctr, host, self, counter_names, C_COUNT_,
                                   RP_UTIL_COUNTERS_TOTALS);
    if (rc != 0) {
        free_state(s);
        return rc;
    }
    *state = s;
    return 0;
}

static void shut_down(rp_plugin *self, struct state *s);

static int login_start(rp_plugin *self, void *state)
{
    struct state *s = state;
    s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (s->ifd < 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "inotify_init1: %s", strerror(errno));
        s->host->set_error(self, msg, strlen(msg));
        return RP_ERR_UNSUPPORTED;
    }
    int sources = 0;
    for (int i = 0; i < SRC_COUNT; i++) {
        struct source *src = &s->src[i];
        if (!src->enabled)
            continue;
        src->dir_wd = inotify_add_watch(s->ifd, src->dir, DIR_MASK);
        if (src->dir_wd < 0) {
            rp_util_logf(s->host, s->self, RP_LOG_WARN,
                         "%s %s: cannot watch the folder %s (%s); this file is not "
                         "followed",
                         src_names[i], src->path, src->dir, strerror(errno));
            src->enabled = 0;
            continue;
        }
        sources++;
        if (open_source(s, src, 1) != 0)
            rp_util_logf(s->host, s->self, RP_LOG_INFO, "%s %s: not present; watching %s for it",
                         src_names[i], src->path, src->dir);
        /* With replay_existing the first read publishes what is there. */
        src->dirty = 1;
    }
    process_dirty(s);
    int rc = s->host->fd_watch(self, s->ifd, RP_FD_READ, on_inotify, s, &s->watch_id);
    if (rc != 0) {
        shut_down(self, s);
        s->host->set_error(self, "cannot watch the inotify fd", 27);
        return rc;
    }
    s->watching = 1;
    rp_util_logf(s->host, s->self, RP_LOG_INFO,
                 "following %d of 3 files (utmp %s, wtmp %s, btmp %s)%s", sources,
                 s->src[SRC_UTMP].enabled ? s->src[SRC_UTMP].path : "off",
                 s->src[SRC_WTMP].enabled ? s->src[SRC_WTMP].path : "off",
                 s->src[SRC_BTMP].enabled ? s->src[SRC_BTMP].path : "off",
                 s->replay ? ", replaying existing records" : "");
    return 0;
}

/* Stops the callbacks, then closes the files and the inotify fd. Used by
 * stop and by a start that fails half-way. */
static void shut_down(rp_plugin *self, struct state *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    uint64_t t = s->cont_timer;
    s->cont_timer = 0;
    pthread_mutex_unlock(&s->lock);
    if (s->watching)
        s->host->fd_unwatch(self, s->watch_id);
    s->watching = 0;
    if (t)
        s->host->timer_stop(self, t);
    /* No callback runs any more: the files and the inotify fd can go. */
    for (int i = 0; i < SRC_COUNT; i++)
        close_source(s, &s->src[i]);
    if (s->ifd >= 0)
        close(s->ifd);
    s->ifd = -1;
}

static int login_stop(rp_plugin *self, void *state)
{
    struct state *s = state;
    shut_down(self, s);
    rp_util_logf(s->host, s->self, RP_LOG_INFO,
                 "stopped: %llu records read, %llu logins, %llu logouts, %llu failed logins, "
                 "%llu bad records, %llu publish failures",
                 (unsigned long long)rp_util_counter_total(&s->ctr, C_RECORDS),
                 (unsigned long long)rp_util_counter_total(&s->ctr, C_LOGINS),
                 (unsigned long long)rp_util_counter_total(&s->ctr, C_LOGOUTS),
                 (unsigned long long)rp_util_counter_total(&s->ctr, C_FAILURES),
                 (unsigned long long)rp_util_counter_total(&s->ctr, C_BAD),
                 (unsigned long long)rp_util_counter_total(&s->ctr, C_PUBLISH_FAILED));
    return 0;
}

static void login_destroy(rp_plugin *self, void *state)
{
    (void)self;
    struct state *s = state;
    if (!s)
        return;
    /* stop (or the failed start) closed the fds already. */
    free_state(s);
}

/* What each event type carries (ABI 1.1 provides; sdk/docs/fields.md is
 * generated from it). A 1.0 agent would ignore it. Both types carry
 * common_fields; a logout also tells when its session started and how long
 * it lasted. */
static const char *const common_fields[] = {"@timestamp",
                                            "event.created",
                                            "event.category",
                                            "event.type",
                                            "event.action",
                                            "event.outcome",
                                            "event.provider",
                                            "event.dataset",
                                            "log.file.path",
                                            "user.name",
                                            "source.address",
                                            "source.ip",
                                            "login.tty",
                                            "process.pid",
                                            "related.user",
                                            "related.ip",
                                            NULL};
static const char *const login_fields[] = {NULL};
static const char *const logout_fields[] = {"event.start", "event.duration", NULL};

static const rp_event_fields provides[] = {{"*", common_fields},
                                           {"user.login", login_fields},
                                           {"user.logout", logout_fields},
                                           {NULL, NULL}};

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_COLLECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.collector.login",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "Logins, logouts and failed logins from utmp, wtmp and btmp",
    .config_schema = config_schema,
    .init = login_init,
    .start = login_start,
    .stop = login_stop,
    .destroy = login_destroy,
    /* utmp, wtmp and btmp belong to root (btmp is mode 0660 root:utmp), the
     * agent's user: reading them needs no capability (checked with every
     * capability dropped). */
    .capabilities = 0,
    .field_namespace = "login",
    .provides = provides,
};

RP_PLUGIN_ENTRY(descriptor)
