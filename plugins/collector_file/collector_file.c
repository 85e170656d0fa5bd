/*
 * collector_file - file events from the kernel: file.create, file.modify
 * (closed after a write), file.delete, file.rename and file.exec (opened for
 * execution) under configured folders.
 *
 * The main backend is fanotify (fan.c) with directory file handles and names,
 * which attributes every event to the process that caused it; where the
 * kernel lacks what that needs, an inotify backend (ino.c) watches the
 * folders recursively, without process attribution. This file holds the
 * plugin glue: config, fields, counters, path filters, the process and owner
 * caches and the event builder both backends share. Everything after start
 * runs on the host's loop thread, so the caches need no locks.
 */
#define _GNU_SOURCE
#include "collector_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"mode\":{\"type\":\"string\",\"enum\":[\"auto\",\"fanotify\",\"inotify\"],"
    "\"default\":\"auto\",\"description\":\"auto: fanotify, else inotify\"},"
    "\"fanotify_marks\":{\"type\":\"string\",\"enum\":[\"auto\",\"filesystem\",\"inode\"],"
    "\"default\":\"auto\",\"description\":\"auto: a filesystem mark, else inode marks\"},"
    "\"paths\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":64,"
    "\"items\":{\"type\":\"string\",\"format\":\"absolute-path\",\"minLength\":1,"
    "\"maxLength\":4095},"
    "\"default\":[\"/etc\",\"/usr\",\"/opt\",\"/boot\",\"/root\",\"/home\",\"/tmp\",\"/var/tmp\","
    "\"/dev/shm\"],\"description\":\"absolute folders to watch, each with all below it\"},"
    "\"exclude\":{\"type\":\"array\",\"maxItems\":64,"
    "\"items\":{\"type\":\"string\",\"format\":\"absolute-path\",\"minLength\":1,"
    "\"maxLength\":4095},\"default\":[],"
    "\"description\":\"absolute folders or files whose events are dropped\"},"
    "\"exclude_self\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"drop events caused by the agent itself (fanotify only)\"},"
    "\"events\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":5,"
    "\"items\":{\"type\":\"string\",\"enum\":[\"create\",\"modify\",\"delete\",\"rename\","
    "\"exec\"]},\"default\":[\"create\",\"modify\",\"delete\",\"rename\",\"exec\"]},"
    "\"max_watches\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1048576,\"default\":8192,"
    "\"description\":\"inotify watches or fanotify inode marks at most\"},"
    "\"exec_fold_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400,"
    "\"default\":60,\"description\":\"one exec event per file in this window; 0: all\"},"
    "\"join_wait_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":2000,\"default\":300,"
    "\"description\":\"how long an event of a gone process waits for its exec event\"},"
    "\"flood_burst\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000000,\"default\":200,"
    "\"description\":\"events per process and action published before folding; 0: off\"},"
    "\"flood_rate_per_s\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000000,"
    "\"default\":100,\"description\":\"events per second refilling the burst allowance\"},"
    "\"flood_summary_interval_ms\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":60000,"
    "\"default\":1000,\"description\":\"one summary of folded events per process and action "
    "in this interval\"}," RP_UTIL_EXCLUDE_SCHEMA "}}";

static const rp_util_field_def field_defs[CF_F_COUNT_] = {
    [CF_F_CATEGORY] = {"event.category", RP_TYPE_STR_ARRAY},
    [CF_F_TYPE] = {"event.type", RP_TYPE_STR_ARRAY},
    [CF_F_ACTION] = {"event.action", RP_TYPE_STR},
    [CF_F_PROVIDER] = {"event.provider", RP_TYPE_STR},
    [CF_F_PATH] = {"file.path", RP_TYPE_STR},
    [CF_F_NAME] = {"file.name", RP_TYPE_STR},
    [CF_F_DIR] = {"file.directory", RP_TYPE_STR},
    [CF_F_EXT] = {"file.extension", RP_TYPE_STR},
    [CF_F_SIZE] = {"file.size", RP_TYPE_U64},
    [CF_F_INODE] = {"file.inode", RP_TYPE_STR},
    [CF_F_DEVICE] = {"file.device", RP_TYPE_STR},
    [CF_F_MODE] = {"file.mode", RP_TYPE_STR},
    [CF_F_OWNER] = {"file.owner", RP_TYPE_STR},
    [CF_F_UID] = {"file.uid", RP_TYPE_STR},
    [CF_F_GID] = {"file.gid", RP_TYPE_STR},
    [CF_F_FTYPE] = {"file.type", RP_TYPE_STR},
    [CF_F_MTIME] = {"file.mtime", RP_TYPE_TIMESTAMP},
    [CF_F_CTIME] = {"file.ctime", RP_TYPE_TIMESTAMP},
    [CF_F_PID] = {"process.pid", RP_TYPE_I64},
    [CF_F_PEXE] = {"process.executable", RP_TYPE_STR},
    [CF_F_PNAME] = {"process.name", RP_TYPE_STR},
    /* ECS has no field for the name a file had before a rename; Elastic's
     * own agent keeps it outside ECS too (file.Ext.original.path), so it
     * lives in the plugin's namespace under the same shape. */
    [CF_F_ORIG_PATH] = {"collector_file.original.path", RP_TYPE_STR},
    [CF_F_ORIG_NAME] = {"collector_file.original.name", RP_TYPE_STR},
    [CF_F_DATASET] = {"event.dataset", RP_TYPE_STR},
    [CF_F_ENTITY] = {"process.entity_id", RP_TYPE_STR},
    [CF_F_USER_ID] = {"user.id", RP_TYPE_STR},
    [CF_F_USER_NAME] = {"user.name", RP_TYPE_STR},
    /* ECS has no word for an executable that is an anonymous memory file or
     * was deleted; these say so instead of a name the file never had. */
    [CF_F_EXE_MEMFD] = {"rampart.process.executable_memfd", RP_TYPE_BOOL},
    [CF_F_EXE_DELETED] = {"rampart.process.executable_deleted", RP_TYPE_BOOL},
    [CF_F_INCOMPLETE] = {"rampart.incomplete", RP_TYPE_STR_ARRAY},
    [CF_F_EXEC_FOLDED] = {"collector_file.exec.folded", RP_TYPE_U64},
    [CF_F_PATH_UNRESOLVED] = {"collector_file.path_unresolved", RP_TYPE_BOOL},
    [CF_F_FOLD_COUNT] = {"collector_file.folded.count", RP_TYPE_U64},
    [CF_F_FOLD_FIRST] = {"collector_file.folded.first", RP_TYPE_TIMESTAMP},
    [CF_F_FOLD_LAST] = {"collector_file.folded.last", RP_TYPE_TIMESTAMP},
    [CF_F_FOLD_SAMPLE] = {"collector_file.folded.sample_path", RP_TYPE_STR},
    [CF_F_INC_REASON] = {"collector_file.incomplete_reason", RP_TYPE_STR},
};

static const char *const counter_names[CF_C_COUNT_] = {
    [CF_C_RECORDS] = "records_read",          [CF_C_PUBLISHED] = "events_published",
    [CF_C_OVERFLOWS] = "overflows",           [CF_C_SELF] = "self_excluded",
    [CF_C_EXCLUDED] = "path_excluded",        [CF_C_RESOLVE_FAILED] = "resolve_failed",
    [CF_C_PUBLISH_FAILED] = "publish_failed", [CF_C_WATCH_CAP] = "watch_cap_hit",
    [CF_C_MERGED] = "records_merged",         [CF_C_EXEC_FOLDED] = "exec_folded",
    [CF_C_EXCL_EXE] = "excluded_executable",  [CF_C_EXCL_PATH] = "excluded_path",
    [CF_C_EXCL_USER] = "excluded_user",       [CF_C_PATH_UNRESOLVED] = "path_unresolved",
    [CF_C_JOINED_LATE] = "joined_late",       [CF_C_JOIN_MISSED] = "join_missed",
    [CF_C_FLOOD_FOLDED] = "flood_folded",     [CF_C_FLOOD_SUMMARIES] = "flood_summaries",
    [CF_C_FLOOD_EVICTED] = "flood_evicted",
};

/* Per change kind: bus topic, event.action, event.type. */
static const struct {
    uint32_t kind;
    const char *topic;
    const char *action;
    const char *type;
} kinds[] = {
    {CF_EV_CREATE, "file.create", "creation", "creation"},
    {CF_EV_MODIFY, "file.modify", "modification", "change"},
    {CF_EV_EXEC, "file.exec", "execution", "access"},
    {CF_EV_RENAME, "file.rename", "rename", "change"},
    {CF_EV_DELETE, "file.delete", "deletion", "deletion"},
};

/* ---- small helpers ------------------------------------------------------- */

void cf_overflow(struct cf *cf, const char *what)
{
    rp_util_count(&cf->ctr, CF_C_OVERFLOWS, 1);
    /* An overflow tends to come in bursts; one line a minute says enough
     * and the counter has the exact number. */
    int64_t now = cf->host->monotonic_ns();
    if (cf->last_overflow_log_ns == 0 || now - cf->last_overflow_log_ns >= 60000000000LL) {
        cf->last_overflow_log_ns = now;
        rp_util_logf(cf->host, cf->self, RP_LOG_WARN,
                     "%s queue overflowed: the kernel dropped events (%llu overflows so far)", what,
                     (unsigned long long)rp_util_counter_total(&cf->ctr, CF_C_OVERFLOWS));
    }
}

int cf_join(char *out, size_t cap, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    if (!name || !name[0] || (name[0] == '.' && !name[1])) {
        if (dl >= cap)
            return RP_ERR_RANGE;
        memcpy(out, dir, dl + 1);
        return 0;
    }
    size_t nl = strlen(name);
    int slash = !(dl > 0 && dir[dl - 1] == '/');
    if (dl + (size_t)slash + nl >= cap)
        return RP_ERR_RANGE;
    memcpy(out, dir, dl);
    if (slash)
        out[dl] = '/';
    memcpy(out + dl + (size_t)slash, name, nl + 1);
    return 0;
}

static int under(const struct cf_prefix *p, const char *path, size_t len)
{
    if (p->len == 1 && p->path[0] == '/')
        return path[0] == '/';
    return len >= p->len && memcmp(path, p->path, p->len) == 0 &&
           (len == p->len || path[p->len] == '/');
}

int cf_path_wanted(const struct cf *cf, const char *path)
{
    size_t len = strlen(path);
    int in = 0;
    for (uint32_t i = 0; i < cf->npaths && !in; i++)
        in = under(&cf->paths[i], path, len);
    if (!in)
        return 0;
    for (uint32_t i = 0; i < cf->nexclude; i++)
        if (under(&cf->exclude[i], path, len))
            return 0;
    return 1;
}

/* ---- reading the kernel's fd ----------------------------------------------- */

/* The mode switches (fd <-> timer) run on the loop thread under p->lock;
 * stop takes the lock only to raise p->stopping and read the state, then
 * removes the fd watch or the timer outside it (those calls wait for a
 * running callback, which must not wait for the lock meanwhile). */

static void pump_on_fd(void *arg, int64_t fd, uint32_t revents);

/* One turn's reads of the fd; returns the bytes read (0: nothing waited). */
static uint64_t pump_drain(struct cf *cf)
{
    struct cf_pump *p = &cf->pump;
    uint64_t total = 0;
    for (int i = 0; i < CF_READS_PER_WAKEUP; i++) {
        ssize_t n = read(p->fd, p->buf, sizeof p->buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN)
                rp_util_logf(cf->host, cf->self, RP_LOG_ERROR, "%s read: %s", cf->provider,
                             strerror(errno));
            if (p->emptied)
                p->emptied(cf);
            break;
        }
        total += (uint64_t)n;
        p->records(cf, p->buf, (size_t)n);
    }
    return total;
}

static void pump_on_timer(void *arg)
{
    struct cf *cf = arg;
    struct cf_pump *p = &cf->pump;
    cf->batch++;
    if (pump_drain(cf) > 0)
        return; /* still busy: the next tick reads on */
    pthread_mutex_lock(&p->lock);
    /* Quiet again: back to sleeping in epoll. Anything that arrived since the
     * last read makes the level-triggered watch fire at once. */
    if (!p->stopping &&
        cf->host->fd_watch(cf->self, p->fd, RP_FD_READ, pump_on_fd, cf, &p->watch_id) == 0) {
        p->watching = 1;
        cf->host->timer_stop(cf->self, p->timer_id);
        p->timing = 0;
        p->last_wake_ns = cf->host->monotonic_ns();
    } /* else the timer goes on reading */
    pthread_mutex_unlock(&p->lock);
}

static void pump_on_fd(void *arg, int64_t fd, uint32_t revents)
{
    (void)fd;
    (void)revents;
    struct cf *cf = arg;
    struct cf_pump *p = &cf->pump;
    cf->batch++;
    pump_drain(cf);
    pthread_mutex_lock(&p->lock);
    /* Before start has the watch id (the host may call this first), or once
     * stop has begun, stay as is. */
    if (p->ready && !p->stopping) {
        int64_t now = cf->host->monotonic_ns();
        int busy = now - p->last_wake_ns < (int64_t)CF_BATCH_MS * 1000000;
        p->last_wake_ns = now;
        if (busy && cf->host->timer_start(cf->self, CF_BATCH_MS, CF_BATCH_MS, pump_on_timer, cf,
                                          &p->timer_id) == 0) {
            p->timing = 1;
            cf->host->fd_unwatch(cf->self, p->watch_id);
            p->watching = 0;
        }
    }
    pthread_mutex_unlock(&p->lock);
}

int cf_pump_start(struct cf *cf, int fd, cf_records_fn records, cf_emptied_fn emptied)
{
    struct cf_pump *p = &cf->pump;
    if (pthread_mutex_init(&p->lock, NULL) != 0)
        return RP_ERR_NOMEM;
    p->lock_ok = 1;
    p->fd = fd;
    p->records = records;
    p->emptied = emptied;
    p->ready = p->stopping = p->timing = 0;
    p->last_wake_ns = 0;
    p->watching = 1;
    uint64_t id;
    int rc = cf->host->fd_watch(cf->self, fd, RP_FD_READ, pump_on_fd, cf, &id);
    pthread_mutex_lock(&p->lock);
    if (rc == 0) {
        p->watch_id = id;
        p->ready = 1;
    } else {
        p->watching = 0;
    }
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void cf_pump_stop(struct cf *cf)
{
    struct cf_pump *p = &cf->pump;
    if (!p->lock_ok)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    int watching = p->watching, timing = p->timing;
    uint64_t watch_id = p->watch_id, timer_id = p->timer_id;
    p->watching = p->timing = 0;
    pthread_mutex_unlock(&p->lock);
    /* Both guarantee the callback is not running and never runs again. */
    if (watching)
        cf->host->fd_unwatch(cf->self, watch_id);
    if (timing)
        cf->host->timer_stop(cf->self, timer_id);
    pthread_mutex_destroy(&p->lock);
    p->lock_ok = 0;
}

/* ---- process and owner caches --------------------------------------------- */

/* From /proc/<pid>/stat of a process whose exe link could not be read:
 * whether it is a kernel thread (PF_KTHREAD in the flags, field 9), whether
 * it is exiting (state Z or X, or PF_EXITING), and its comm (between the
 * first '(' and the last ')', as comm may hold both). */
static int proc_stat_kind(int32_t pid, int *kthread, int *exited, char **comm)
{
    enum { PF_EXITING_ = 0x4, PF_KTHREAD_ = 0x00200000 };
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_NOTFOUND;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return RP_ERR_NOTFOUND;
    buf[n] = '\0';
    char *open_p = strchr(buf, '(');
    char *close_p = strrchr(buf, ')');
    if (!open_p || !close_p || close_p < open_p || close_p[1] != ' ')
        return RP_ERR_PARSE;
    char state = close_p[2];
    char *p = close_p + 3;
    /* Fields 4 to 8 (ppid, pgrp, session, tty, tpgid), then the flags. */
    for (int field = 4; field < 9; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    char *end;
    unsigned long long flags = strtoull(p, &end, 10);
    if (end == p)
        return RP_ERR_PARSE;
    *kthread = (flags & PF_KTHREAD_) != 0;
    *exited = state == 'Z' || state == 'X' || (flags & PF_EXITING_) != 0;
    if (close_p > open_p + 1)
        *comm = strndup(open_p + 1, (size_t)(close_p - open_p - 1));
    return 0;
}

/* For a process that has exited: its executable and name from
 * collector_process's exec event, when that event is of this very process
 * (the same entity id, so the same pid and start time). An earlier entry of
 * the process cache is not used: the process may have run another program
 * since (an exec keeps pid and start time). */
static void join_exact(struct cf *cf, struct cf_proc *e)
{
    if (!cf->joined)
        return;
    pthread_mutex_lock(&cf->join_q.lock);
    const struct cf_joined *j = &cf->joined[(uint32_t)e->pid % CF_JOIN_SLOTS];
    if (j->pid == e->pid && j->exe && strcmp(j->entity, e->entity) == 0) {
        char *exe = strdup(j->exe);
        char *name = j->name ? strdup(j->name) : NULL;
        if (exe) {
            free(e->exe);
            free(e->name);
            e->exe = exe;
            e->name = name;
            e->exe_missing = NULL;
        } else {
            free(name);
        }
    }
    pthread_mutex_unlock(&cf->join_q.lock);
}

/* The process behind pid, from the cache when its start time still matches
 * (pids are reused); NULL when it is gone. */
static const struct cf_proc *proc_lookup(struct cf *cf, int32_t pid)
{
    uint64_t start;
    if (pid <= 0)
        return NULL;
    struct cf_proc *e = &cf->procs[(uint32_t)pid % CF_PROC_CACHE];
    /* Within one batch (records read within a few milliseconds) a pid is not
     * reused: the kernel would have to cycle through every other pid first.
     * So one start-time check per process and batch is enough. */
    if (e->pid == pid && e->batch == cf->batch)
        return e;
    if (rp_util_proc_start(pid, &start) != 0)
        return NULL;
    /* An exec keeps the pid and the start time: the executable's identity
     * tells a process that ran another program since it was cached. */
    char link[64];
    struct stat xst;
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    int x_ok = stat(link, &xst) == 0;
    if (e->pid == pid && e->start == start && x_ok == e->exe_id_ok &&
        (!x_ok || (e->exe_dev == (uint64_t)xst.st_dev && e->exe_ino == (uint64_t)xst.st_ino &&
                   e->exe_gone == (xst.st_nlink == 0)))) {
        e->batch = cf->batch;
        return e;
    }
    e->exe_id_ok = x_ok;
    e->exe_dev = x_ok ? (uint64_t)xst.st_dev : 0;
    e->exe_ino = x_ok ? (uint64_t)xst.st_ino : 0;
    e->exe_gone = x_ok && xst.st_nlink == 0; /* deleted since: named anew */
    e->batch = cf->batch;
    free(e->exe);
    free(e->name);
    e->exe = e->name = NULL;
    e->pid = pid;
    e->start = start;
    e->exe_flags = 0;
    e->exe_missing = NULL;
    /* The same id collector_process gives the process, so the two join. */
    rp_util_entity_id(cf->machine_id, cf->mid_len, pid, start, e->entity);
    e->have_uid = rp_util_proc_uid(pid, &e->uid) == 0;

    char exe[CF_PATH_MAX];
    int rc = rp_util_proc_exe(pid, exe, sizeof exe, &e->exe_flags);
    if (rc == 0 && exe[0] == '/') {
        e->exe = strdup(exe);
        /* The program's file name, as ECS asks; comm is cut at 15 bytes and
         * set by the process itself. */
        e->name = strdup(rp_util_proc_base(exe));
    } else if (rc == RP_ERR_NOTFOUND) {
        int kthread = 0, exited = 0;
        e->exe_missing = "exited";
        if (proc_stat_kind(pid, &kthread, &exited, &e->name) != 0)
            return e; /* gone between the two reads: nothing more is known */
        /* A kernel thread has no executable, and its comm (which a user
         * process cannot set) is all there is: complete as it is. A user
         * process without one has exited (a zombie, or past the point where
         * the kernel drops its memory and with it the exe link): its comm
         * is what is known of it, and the event says the executable is
         * missing rather than letting it pass for a kernel thread. */
        if (kthread) {
            e->exe_missing = NULL;
        } else {
            if (!exited)
                e->exe_missing = "unreadable";
            join_exact(cf, e);
        }
    } else if (rc != 0) {
        e->exe_missing = rc == RP_ERR_RANGE ? "path_too_long" : "unreadable";
    }
    return e;
}

static const char *owner_name(struct cf *cf, uid_t uid)
{
    struct cf_owner *e = &cf->owners[uid % CF_OWNER_CACHE];
    if (e->used && e->uid == uid)
        return e->name;
    free(e->name);
    e->name = NULL;
    e->used = 1;
    e->uid = uid;
    char buf[4096];
    struct passwd pw, *res = NULL;
    if (getpwuid_r(uid, &pw, buf, sizeof buf, &res) == 0 && res && res->pw_name)
        e->name = strdup(res->pw_name);
    return e->name;
}

/* ---- the event builder ----------------------------------------------------- */

static void set_s(struct cf *cf, rp_event *ev, enum cf_field f, const char *s, size_t len)
{
    cf->host->set_str(ev, cf->f[f], s, (uint64_t)len);
}

static void set_path_fields(struct cf *cf, rp_event *ev, const char *path)
{
    size_t len = strlen(path);
    set_s(cf, ev, CF_F_PATH, path, len);
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (*name)
        set_s(cf, ev, CF_F_NAME, name, strlen(name));
    if (slash)
        set_s(cf, ev, CF_F_DIR, path, slash == path ? 1 : (size_t)(slash - path));
    /* ECS: the last extension, without the dot; none for ".profile" or
     * "name.". */
    const char *dot = strrchr(name, '.');
    if (dot && dot != name && dot[1])
        set_s(cf, ev, CF_F_EXT, dot + 1, strlen(dot + 1));
}

static void set_stat_fields(struct cf *cf, rp_event *ev, const struct stat *st)
{
    const rp_host_api *h = cf->host;
    char buf[64];
    int n;
    if (S_ISREG(st->st_mode))
        h->set_u64(ev, cf->f[CF_F_SIZE], (uint64_t)st->st_size);
    n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)st->st_ino);
    set_s(cf, ev, CF_F_INODE, buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "%u:%u", major(st->st_dev), minor(st->st_dev));
    set_s(cf, ev, CF_F_DEVICE, buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "%04o", (unsigned)(st->st_mode & 07777));
    set_s(cf, ev, CF_F_MODE, buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "%u", (unsigned)st->st_uid);
    set_s(cf, ev, CF_F_UID, buf, (size_t)n);
    n = snprintf(buf, sizeof buf, "%u", (unsigned)st->st_gid);
    set_s(cf, ev, CF_F_GID, buf, (size_t)n);
    const char *owner = owner_name(cf, st->st_uid);
    if (owner)
        set_s(cf, ev, CF_F_OWNER, owner, strlen(owner));
    const char *type = S_ISREG(st->st_mode)   ? "file"
                       : S_ISDIR(st->st_mode) ? "dir"
                       : S_ISLNK(st->st_mode) ? "symlink"
                                              : NULL;
    if (type)
        set_s(cf, ev, CF_F_FTYPE, type, strlen(type));
    h->set_timestamp(ev, cf->f[CF_F_MTIME],
                     (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec);
    h->set_timestamp(ev, cf->f[CF_F_CTIME],
                     (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec);
}

/* What is known of the process that did it (a cached exec, or the one a
 * flood entry counts): its entity id, executable, name, whether the
 * executable was a memfd or deleted, and its user when known. */
static void set_process(struct cf *cf, rp_event *ev, const char *entity, const char *exe,
                        const char *name, uint32_t exe_flags, int have_uid, uint32_t uid)
{
    set_s(cf, ev, CF_F_ENTITY, entity, strlen(entity));
    if (exe)
        set_s(cf, ev, CF_F_PEXE, exe, strlen(exe));
    if (name)
        set_s(cf, ev, CF_F_PNAME, name, strlen(name));
    if (exe_flags & RP_UTIL_EXE_MEMFD)
        cf->host->set_bool(ev, cf->f[CF_F_EXE_MEMFD], 1);
    else if (exe_flags & RP_UTIL_EXE_DELETED)
        cf->host->set_bool(ev, cf->f[CF_F_EXE_DELETED], 1);
    if (have_uid) {
        char buf[16];
        int n = snprintf(buf, sizeof buf, "%u", (unsigned)uid);
        set_s(cf, ev, CF_F_USER_ID, buf, (size_t)n);
        const char *uname = owner_name(cf, (uid_t)uid);
        if (uname)
            set_s(cf, ev, CF_F_USER_NAME, uname, strlen(uname));
    }
}

/* A new event of kinds[k] with its category and type; a failure is counted
 * in publish_failed. */
static int start_event(struct cf *cf, size_t k, rp_event **ev)
{
    const rp_host_api *h = cf->host;
    int rc = h->event_create(cf->self, kinds[k].topic, strlen(kinds[k].topic), ev);
    if (rc != 0) {
        rp_util_count(&cf->ctr, CF_C_PUBLISH_FAILED, 1);
        return rc;
    }
    rp_str cat = {"file", 4};
    rp_str typ = {kinds[k].type, strlen(kinds[k].type)};
    h->set_str_array(*ev, cf->f[CF_F_CATEGORY], &cat, 1);
    h->set_str_array(*ev, cf->f[CF_F_TYPE], &typ, 1);
    return 0;
}

static int publish(struct cf *cf, rp_event *ev)
{
    int rc = cf->host->event_publish(cf->self, ev);
    rp_util_count(&cf->ctr, rc == 0 ? CF_C_PUBLISHED : CF_C_PUBLISH_FAILED, 1);
    return rc;
}

/* The process was gone before its record was read, and no exec event of it
 * came: only the pid is known, and the event says so. */
static void set_gone(struct cf *cf, rp_event *ev)
{
    rp_str missing[3] = {{"process.entity_id", 17}, {"process.executable", 18}, {"user.id", 7}};
    cf->host->set_str_array(ev, cf->f[CF_F_INCOMPLETE], missing, 3);
    set_s(cf, ev, CF_F_INC_REASON, "exited", 6);
}

/* ---- timed queues (struct cf_timed): late joins and flood summaries ------- */

/* Arms q's one-shot timer to call fn in ms, unless it is armed or the plugin
 * stops. Under q->lock. */
static void timed_arm(struct cf *cf, struct cf_timed *q, uint64_t ms, rp_timer_cb fn)
{
    if (!q->armed && !q->stopping &&
        cf->host->timer_start(cf->self, ms, 0, fn, cf, &q->timer_id) == 0)
        q->armed = 1;
}

/* q's timer fired (a one-shot: the host releases it): flushes what is due,
 * unless the plugin stops (stop flushes everything itself). */
static void timed_fired(struct cf *cf, struct cf_timed *q, void (*flush)(struct cf *, int))
{
    pthread_mutex_lock(&q->lock);
    q->armed = 0;
    if (!q->stopping)
        flush(cf, 0);
    pthread_mutex_unlock(&q->lock);
}

/* ---- late joins (see struct cf_joined); all under join_q.lock -------------- */

/* Fills ev from the exec event of pid if one came; 1 when it did. */
static int join_fill(struct cf *cf, rp_event *ev, int32_t pid)
{
    const struct cf_joined *j = &cf->joined[(uint32_t)pid % CF_JOIN_SLOTS];
    if (j->pid != pid)
        return 0;
    const rp_host_api *h = cf->host;
    if (j->entity[0])
        set_s(cf, ev, CF_F_ENTITY, j->entity, strlen(j->entity));
    if (j->exe)
        set_s(cf, ev, CF_F_PEXE, j->exe, strlen(j->exe));
    if (j->name)
        set_s(cf, ev, CF_F_PNAME, j->name, strlen(j->name));
    if (j->uid[0])
        set_s(cf, ev, CF_F_USER_ID, j->uid, strlen(j->uid));
    if (j->user_name)
        set_s(cf, ev, CF_F_USER_NAME, j->user_name, strlen(j->user_name));
    rp_str missing[3];
    uint32_t n = 0;
    if (!j->entity[0])
        missing[n++] = (rp_str){"process.entity_id", 17};
    if (!j->exe)
        missing[n++] = (rp_str){"process.executable", 18};
    if (!j->uid[0])
        missing[n++] = (rp_str){"user.id", 7};
    if (n) {
        h->set_str_array(ev, cf->f[CF_F_INCOMPLETE], missing, n);
        set_s(cf, ev, CF_F_INC_REASON, "exited", 6);
    }
    return 1;
}

static void join_on_timer(void *arg);

/* Publishes the waiting events whose process is known by now or whose wait
 * is over (all of them with force), in order; keeps a timer going while any
 * wait. */
static void join_flush(struct cf *cf, int force)
{
    int64_t now = cf->host->monotonic_ns();
    while (cf->held_n > 0) {
        struct cf_held *e = &cf->held[cf->held_head];
        if (e->pid > 0) {
            if (join_fill(cf, e->ev, e->pid)) {
                rp_util_count(&cf->ctr, CF_C_JOINED_LATE, 1);
            } else if (force || now - e->since >= (int64_t)cf->join_wait_ms * 1000000) {
                set_gone(cf, e->ev);
                rp_util_count(&cf->ctr, CF_C_JOIN_MISSED, 1);
            } else {
                break; /* the ones behind it wait with it, in order */
            }
        }
        publish(cf, e->ev);
        e->ev = NULL;
        cf->held_head = (cf->held_head + 1) % CF_JOIN_QUEUE;
        cf->held_n--;
    }
    if (cf->held_n > 0)
        timed_arm(cf, &cf->join_q, CF_JOIN_TICK_MS, join_on_timer);
}

static void join_on_timer(void *arg)
{
    struct cf *cf = arg;
    timed_fired(cf, &cf->join_q, join_flush);
}

/* Queues ev; at the cap the oldest waiting event goes out as it is. */
static void hold(struct cf *cf, rp_event *ev, int32_t pid)
{
    if (cf->held_n == CF_JOIN_QUEUE) {
        struct cf_held *e = &cf->held[cf->held_head];
        if (e->pid > 0) {
            set_gone(cf, e->ev);
            rp_util_count(&cf->ctr, CF_C_JOIN_MISSED, 1);
        }
        publish(cf, e->ev);
        cf->held_head = (cf->held_head + 1) % CF_JOIN_QUEUE;
        cf->held_n--;
    }
    struct cf_held *t = &cf->held[(cf->held_head + cf->held_n) % CF_JOIN_QUEUE];
    t->ev = ev;
    t->pid = pid;
    t->since = cf->host->monotonic_ns();
    cf->held_n++;
}

static char *dup_field(const rp_host_api *h, const rp_event *ev, rp_field_id f, size_t max)
{
    const char *s;
    uint64_t len;
    if (h->get_str(ev, f, &s, &len) != 0 || len == 0 || len > max)
        return NULL;
    return strndup(s, (size_t)len);
}

/* A process.exec event from collector_process (a dispatcher thread). */
static int file_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    (void)self;
    struct cf *cf = state;
    const rp_host_api *h = cf->host;
    int64_t pid;
    if (h->get_i64(ev, cf->f[CF_F_PID], &pid) != 0 || pid <= 0 || pid > INT32_MAX)
        return 0;
    /* Copied outside the lock; the slot is replaced under it. */
    struct cf_joined n;
    memset(&n, 0, sizeof n);
    n.pid = (int32_t)pid;
    const char *s;
    uint64_t len;
    if (h->get_str(ev, cf->f[CF_F_ENTITY], &s, &len) == 0 && len <= RP_UTIL_ENTITY_ID_LEN)
        memcpy(n.entity, s, (size_t)len);
    if (h->get_str(ev, cf->f[CF_F_USER_ID], &s, &len) == 0 && len < sizeof n.uid)
        memcpy(n.uid, s, (size_t)len);
    n.exe = dup_field(h, ev, cf->f[CF_F_PEXE], CF_PATH_MAX);
    n.name = dup_field(h, ev, cf->f[CF_F_PNAME], 4096);
    n.user_name = dup_field(h, ev, cf->f[CF_F_USER_NAME], 256);
    pthread_mutex_lock(&cf->join_q.lock);
    struct cf_joined *j = &cf->joined[(uint32_t)n.pid % CF_JOIN_SLOTS];
    struct cf_joined old = *j;
    *j = n;
    pthread_mutex_unlock(&cf->join_q.lock);
    free(old.exe);
    free(old.name);
    free(old.user_name);
    return 0;
}

/* Exec folding (see struct cf_exec_seen): 1 when this execution is folded
 * into one published earlier; else *folded is how many were folded since
 * that one. */
static int exec_fold(struct cf *cf, const struct stat *st, uint64_t *folded)
{
    *folded = 0;
    if (cf->exec_fold_s == 0 || !st)
        return 0;
    int64_t ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
    uint64_t h = ((uint64_t)st->st_dev * 0x9e3779b97f4a7c15ull) ^ (uint64_t)st->st_ino;
    struct cf_exec_seen *e = &cf->execs[(h ^ (h >> 29)) % CF_EXEC_SLOTS];
    int64_t now = cf->host->monotonic_ns();
    if (e->last_ns != 0 && e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
        e->ctime_ns == ctime_ns && now - e->last_ns < (int64_t)cf->exec_fold_s * 1000000000LL) {
        e->folded++;
        rp_util_count(&cf->ctr, CF_C_EXEC_FOLDED, 1);
        return 1;
    }
    if (e->last_ns != 0 && e->dev == (uint64_t)st->st_dev && e->ino == (uint64_t)st->st_ino &&
        e->ctime_ns == ctime_ns)
        *folded = e->folded;
    e->dev = (uint64_t)st->st_dev;
    e->ino = (uint64_t)st->st_ino;
    e->ctime_ns = ctime_ns;
    e->last_ns = now;
    e->folded = 0;
    return 0;
}

/* 1 when a rule of collectors.exclude covers the change (counted). */
static int excluded(struct cf *cf, const struct cf_change *ch, const struct cf_proc *p)
{
    const rp_util_exclude *x = &cf->excl;
    if (p && p->exe && rp_util_exclude_exe(x, p->exe, strlen(p->exe))) {
        rp_util_count(&cf->ctr, CF_C_EXCL_EXE, 1);
        return 1;
    }
    if (p && p->exe && rp_util_exclude_path(x, p->exe, strlen(p->exe))) {
        rp_util_count(&cf->ctr, CF_C_EXCL_PATH, 1); /* a program run from an excluded folder */
        return 1;
    }
    if (p && p->have_uid && rp_util_exclude_uid(x, p->uid)) {
        rp_util_count(&cf->ctr, CF_C_EXCL_USER, 1);
        return 1;
    }
    /* A rename stays reported when either end is outside the rules. */
    int path_in =
        ch->path && !ch->unresolved && rp_util_exclude_path(x, ch->path, strlen(ch->path));
    int old_in = ch->old_path && rp_util_exclude_path(x, ch->old_path, strlen(ch->old_path));
    if ((ch->path || ch->old_path) && (!ch->path || path_in) && (!ch->old_path || old_in) &&
        (path_in || old_in)) {
        rp_util_count(&cf->ctr, CF_C_EXCL_PATH, 1);
        return 1;
    }
    return 0;
}

/* Publishes ev, or queues it behind the events waiting for a late join (see
 * struct cf_joined) so the plugin's events keep their order; await is the
 * pid whose exec event ev itself waits for, 0 for none. Returns what the
 * bus answered, 0 when the event was queued. */
static int send_event(struct cf *cf, rp_event *ev, int32_t await)
{
    if (!cf->join_wait_ms)
        return publish(cf, ev);
    int rc = 0;
    pthread_mutex_lock(&cf->join_q.lock);
    if (await || cf->held_n > 0)
        hold(cf, ev, await);
    else
        rc = publish(cf, ev);
    join_flush(cf, 0);
    pthread_mutex_unlock(&cf->join_q.lock);
    return rc;
}

/* ---- flood folding (see struct cf_flood); all under flood_q.lock ------------ */

static size_t kind_index(uint32_t kind)
{
    size_t k = 0;
    while (k < sizeof kinds / sizeof kinds[0] && kinds[k].kind != kind)
        k++;
    return k;
}

/* Publishes the summary of e's folded events and starts a new count. With
 * keep, a summary the bus refuses at its cap is not lost: the count stays
 * pending and the next tick tries again (the host has stopped serving the
 * plugin's reads meanwhile, so the count does not grow much). Without keep
 * (the entry is being reused, or the plugin stops) it is counted as refused
 * in publish_failed. */
static void flood_summary(struct cf *cf, struct cf_flood *e, int keep)
{
    if (e->folded == 0)
        return;
    const rp_host_api *h = cf->host;
    size_t k = kind_index(e->kind);
    rp_event *ev;
    uint64_t folded = e->folded;
    e->folded = 0;
    cf->flood_pending--;
    if (start_event(cf, k, &ev) != 0)
        return;
    /* event.kind is the host's ("event" here): read-only for plugins. */
    set_s(cf, ev, CF_F_ACTION, kinds[k].action, strlen(kinds[k].action));
    set_s(cf, ev, CF_F_PROVIDER, cf->provider, strlen(cf->provider));
    set_s(cf, ev, CF_F_DATASET, "rampart.file", 12);
    h->set_u64(ev, cf->f[CF_F_FOLD_COUNT], folded);
    h->set_timestamp(ev, cf->f[CF_F_FOLD_FIRST], e->first_ns);
    h->set_timestamp(ev, cf->f[CF_F_FOLD_LAST], e->last_ns);
    if (e->sample && e->sample[0]) {
        set_s(cf, ev, CF_F_FOLD_SAMPLE, e->sample, strlen(e->sample));
        /* The folder, so that "which folder is being flooded" needs no
         * parsing; not for a name whose folder could not be named. */
        const char *slash = e->sample_unresolved ? NULL : strrchr(e->sample, '/');
        if (slash)
            set_s(cf, ev, CF_F_DIR, e->sample,
                  slash == e->sample ? 1 : (size_t)(slash - e->sample));
        if (e->sample_unresolved)
            h->set_bool(ev, cf->f[CF_F_PATH_UNRESOLVED], 1);
    }
    h->set_i64(ev, cf->f[CF_F_PID], e->pid);
    int32_t await = 0;
    if (e->entity[0]) {
        set_process(cf, ev, e->entity, e->exe, e->name, e->exe_flags, e->have_uid, e->uid);
    } else if (cf->join_wait_ms) {
        await = e->pid; /* the process was gone: its exec event may name it */
    } else {
        set_gone(cf, ev);
    }
    if (send_event(cf, ev, await) == RP_ERR_FULL && keep) {
        e->folded += folded;
        cf->flood_pending++;
        return;
    }
    rp_util_count(&cf->ctr, CF_C_FLOOD_SUMMARIES, 1);
}

static void flood_on_timer(void *arg);

/* Sends the summaries that are due (all of them with force) and keeps a
 * one-shot timer going while counts are pending. */
static void flood_flush(struct cf *cf, int force)
{
    int64_t now = cf->host->monotonic_ns();
    int64_t interval = (int64_t)cf->flood_interval_ms * 1000000;
    for (uint32_t i = 0; cf->flood_pending > 0 && i < CF_FLOOD_SETS * CF_FLOOD_WAYS; i++) {
        struct cf_flood *e = &cf->flood[i];
        if (e->folded > 0 && (force || now - e->since >= interval))
            flood_summary(cf, e, !force);
    }
    /* Half the interval: a summary goes out at most 1.5 intervals after
     * the first event it counts. */
    if (cf->flood_pending > 0)
        timed_arm(cf, &cf->flood_q, cf->flood_interval_ms / 2, flood_on_timer);
}

static void flood_on_timer(void *arg)
{
    struct cf *cf = arg;
    timed_fired(cf, &cf->flood_q, flood_flush);
}

static void flood_entry_clear(struct cf_flood *e)
{
    free(e->exe);
    free(e->name);
    e->exe = e->name = NULL;
    e->exe_flags = 0;
    e->have_uid = 0;
}

/* The bucket of the change's process and action: 1 when the change is
 * folded into a summary instead of being published on its own. Exec events
 * have their own folding and pass; so do events without a process (inotify),
 * which the bus cap bounds. */
static int flood_fold(struct cf *cf, const struct cf_change *ch, const struct cf_proc *p)
{
    if (!cf->flood || ch->pid <= 0 || ch->kind == CF_EV_EXEC)
        return 0;
    const char *entity = p ? p->entity : "";
    /* Keyed by pid and action, the entity id telling a reused pid apart: the
     * records of a process read after it exited (its entity id no longer to
     * be had) still count against its bucket, instead of opening a fresh
     * one with a whole burst. FNV-1a. */
    uint64_t hv = 0xcbf29ce484222325ull;
    hv = (hv ^ (uint32_t)ch->pid) * 0x100000001b3ull;
    hv = (hv ^ ch->kind) * 0x100000001b3ull;
    pthread_mutex_lock(&cf->flood_q.lock);
    struct cf_flood *set = &cf->flood[(hv ^ (hv >> 32)) % CF_FLOOD_SETS * CF_FLOOD_WAYS];
    struct cf_flood *e = NULL, *victim = &set[0];
    for (int w = 0; w < CF_FLOOD_WAYS && !e; w++) {
        struct cf_flood *c = &set[w];
        if (c->last_seen != 0 && c->pid == ch->pid && c->kind == ch->kind)
            e = c;
        else if (c->last_seen < victim->last_seen)
            victim = c; /* a free entry (0) wins over any used one */
    }
    int64_t now = cf->host->monotonic_ns();
    if (e && entity[0] && e->entity[0] && strcmp(e->entity, entity) != 0) {
        /* The pid was reused: another process, its own bucket. */
        flood_summary(cf, e, 0);
        e->last_seen = 0;
    } else if (e && entity[0] && !e->entity[0]) {
        memcpy(e->entity, entity, strlen(entity) + 1);
    }
    if (!e || e->last_seen == 0) {
        if (!e) {
            e = victim;
            if (e->last_seen != 0) {
                /* Its count is never lost: the summary goes out first. */
                flood_summary(cf, e, 0);
                rp_util_count(&cf->ctr, CF_C_FLOOD_EVICTED, 1);
            }
        }
        flood_entry_clear(e);
        e->pid = ch->pid;
        e->kind = ch->kind;
        memcpy(e->entity, entity, strlen(entity) + 1);
        e->tokens = cf->flood_burst;
        e->refill_ns = now;
    }
    e->last_seen = now;
    e->tokens += (double)(now - e->refill_ns) / 1e9 * cf->flood_rate;
    if (e->tokens > cf->flood_burst)
        e->tokens = cf->flood_burst;
    e->refill_ns = now;
    if (e->tokens >= 1.0) {
        e->tokens -= 1.0;
        pthread_mutex_unlock(&cf->flood_q.lock);
        return 0;
    }
    int64_t wall = cf->host->now_ns();
    if (e->folded == 0) {
        e->since = now;
        e->first_ns = wall;
        cf->flood_pending++;
        flood_entry_clear(e);
        if (p) {
            e->exe = p->exe ? strdup(p->exe) : NULL;
            e->name = p->name ? strdup(p->name) : NULL;
            e->exe_flags = p->exe_flags;
            e->have_uid = p->have_uid;
            e->uid = p->uid;
        }
    }
    e->folded++;
    e->last_ns = wall;
    const char *path = ch->path ? ch->path : ch->old_path;
    size_t plen = path ? strlen(path) : 0;
    if (plen + 1 > e->sample_cap) {
        char *n = realloc(e->sample, plen + 1);
        if (n) {
            e->sample = n;
            e->sample_cap = plen + 1;
        }
    }
    if (e->sample && plen + 1 <= e->sample_cap) {
        memcpy(e->sample, path ? path : "", plen + 1);
        e->sample_unresolved = ch->unresolved && ch->path;
    }
    rp_util_count(&cf->ctr, CF_C_FLOOD_FOLDED, 1);
    if (now - e->since >= (int64_t)cf->flood_interval_ms * 1000000)
        flood_summary(cf, e, 1);
    flood_flush(cf, 0);
    pthread_mutex_unlock(&cf->flood_q.lock);
    return 1;
}

void cf_emit(struct cf *cf, const struct cf_change *ch)
{
    const rp_host_api *h = cf->host;
    size_t k = 0;
    while (k < sizeof kinds / sizeof kinds[0] && kinds[k].kind != ch->kind)
        k++;
    if (k == sizeof kinds / sizeof kinds[0] || !(cf->events & ch->kind))
        return;
    /* A rename counts when either end is watched: a file moved out of a
     * watched folder matters as much as one moved in. A path that could not
     * be named was checked by the caller. */
    int wanted = ch->unresolved || (ch->path && cf_path_wanted(cf, ch->path)) ||
                 (ch->old_path && cf_path_wanted(cf, ch->old_path));
    if (!wanted) {
        rp_util_count(&cf->ctr, CF_C_EXCLUDED, 1);
        return;
    }
    const struct cf_proc *p = ch->pid > 0 ? proc_lookup(cf, ch->pid) : NULL;
    if (excluded(cf, ch, p))
        return;
    uint64_t folded = 0;
    int32_t await = 0;
    if (ch->kind == CF_EV_EXEC && exec_fold(cf, ch->st, &folded))
        return;
    if (flood_fold(cf, ch, p))
        return;
    rp_event *ev;
    if (start_event(cf, k, &ev) != 0)
        return;
    set_s(cf, ev, CF_F_ACTION, kinds[k].action, strlen(kinds[k].action));
    set_s(cf, ev, CF_F_PROVIDER, cf->provider, strlen(cf->provider));
    set_s(cf, ev, CF_F_DATASET, "rampart.file", 12);
    if (ch->unresolved) {
        /* Only the name is known: no path, folder or extension that would
         * pretend otherwise. */
        h->set_bool(ev, cf->f[CF_F_PATH_UNRESOLVED], 1);
        if (ch->path && ch->path[0])
            set_s(cf, ev, CF_F_NAME, ch->path, strlen(ch->path));
    } else if (ch->path) {
        set_path_fields(cf, ev, ch->path);
    }
    if (ch->old_path) {
        set_s(cf, ev, CF_F_ORIG_PATH, ch->old_path, strlen(ch->old_path));
        const char *slash = strrchr(ch->old_path, '/');
        const char *name = slash ? slash + 1 : ch->old_path;
        if (*name)
            set_s(cf, ev, CF_F_ORIG_NAME, name, strlen(name));
    }
    if (ch->st)
        set_stat_fields(cf, ev, ch->st);
    else if (ch->is_dir >= 0)
        set_s(cf, ev, CF_F_FTYPE, ch->is_dir ? "dir" : "file", ch->is_dir ? 3 : 4);
    if (folded)
        h->set_u64(ev, cf->f[CF_F_EXEC_FOLDED], folded);
    if (ch->pid > 0) {
        h->set_i64(ev, cf->f[CF_F_PID], ch->pid);
        /* What could not be had is named, so that a reader knows the event
         * is not joined rather than guessing. */
        rp_str missing[4];
        uint32_t nmissing = 0;
        if (p) {
            set_process(cf, ev, p->entity, p->exe, p->name, p->exe_flags, p->have_uid, p->uid);
            /* Only a kernel thread has a name and no executable by nature. */
            if (!p->exe && !(p->exe_flags & RP_UTIL_EXE_MEMFD) && (p->exe_missing || !p->name))
                missing[nmissing++] = (rp_str){"process.executable", 18};
            if (!p->have_uid)
                missing[nmissing++] = (rp_str){"user.id", 7};
            if (nmissing) {
                const char *why = p->exe_missing ? p->exe_missing : "unreadable";
                set_s(cf, ev, CF_F_INC_REASON, why, strlen(why));
            }
        } else if (!cf->join_wait_ms) {
            /* Gone before its record was read: only the pid is left. */
            set_gone(cf, ev);
        } else {
            await = ch->pid; /* its exec event may still come */
        }
        if (nmissing)
            h->set_str_array(ev, cf->f[CF_F_INCOMPLETE], missing, nmissing);
    } else {
        /* inotify cannot tell who did it. */
        rp_str missing = {"process.pid", 11};
        h->set_str_array(ev, cf->f[CF_F_INCOMPLETE], &missing, 1);
        set_s(cf, ev, CF_F_INC_REASON, "inotify", 7);
    }
    send_event(cf, ev, await);
}

/* ---- folder walk ----------------------------------------------------------- */

int cf_walk_dirs(const char *root, uint32_t max_dirs, cf_dir_fn fn, void *arg)
{
    struct stat rst;
    if (lstat(root, &rst) != 0)
        return RP_ERR_NOTFOUND;
    if (!S_ISDIR(rst.st_mode))
        return RP_ERR_INVAL;
    /* An explicit stack of pending folders instead of recursion: deep trees
     * cannot exhaust the loop thread's stack, and the cap bounds memory. */
    char **stack = malloc(sizeof *stack * (size_t)max_dirs);
    if (!stack)
        return RP_ERR_NOMEM;
    uint32_t top = 0;
    int rc = 0;
    stack[top] = strdup(root);
    if (!stack[top]) {
        free(stack);
        return RP_ERR_NOMEM;
    }
    top++;
    uint32_t visited = 0;
    while (top > 0 && rc == 0) {
        char *dir = stack[--top];
        if (++visited > max_dirs) {
            free(dir);
            rc = RP_ERR_FULL;
            break;
        }
        rc = fn(arg, dir);
        if (rc < 0) {
            free(dir);
            break;
        }
        DIR *d = rc == 0 ? opendir(dir) : NULL;
        rc = 0;
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (de->d_name[0] == '.' &&
                (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
                continue;
            if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                continue;
            char child[CF_PATH_MAX];
            struct stat st;
            if (cf_join(child, sizeof child, dir, de->d_name) != 0 || lstat(child, &st) != 0 ||
                !S_ISDIR(st.st_mode) || st.st_dev != rst.st_dev)
                continue;
            if (top >= max_dirs) {
                rc = RP_ERR_FULL;
                break;
            }
            stack[top] = strdup(child);
            if (stack[top])
                top++;
        }
        if (d)
            closedir(d);
        free(dir);
    }
    while (top > 0)
        free(stack[--top]);
    free(stack);
    return rc;
}

/* ---- config ---------------------------------------------------------------- */

/* 1 when rc, an rp_util_conf_* result for ptr, leaves a value to use (0,
 * or absent: the default was written); otherwise names the setting in
 * cf->err, which init hands to the host. */
static int conf_ok(struct cf *cf, const char *ptr, int rc)
{
    if (rc == 0 || rc == RP_ERR_NOTFOUND)
        return 1;
    snprintf(cf->err, sizeof cf->err, "config %s: %s", ptr, rp_strerror(rc));
    return 0;
}

/* Loads the array of paths under /key, if there is one. An item that does
 * not fit CF_PATH_MAX reads as "", which is refused. */
static int load_prefixes(struct cf *cf, const char *key, struct cf_prefix *out, uint32_t *count)
{
    char ptr[32], s[CF_PATH_MAX];
    uint32_t n = 0;
    snprintf(ptr, sizeof ptr, "/%s", key);
    int rc = rp_util_conf_str_count(cf->host, cf->self, ptr, &n);
    if (rc == RP_ERR_NOTFOUND)
        return 0;
    if (!conf_ok(cf, ptr, rc))
        return RP_ERR_CONFIG;
    for (uint32_t i = 0; i < n; i++) {
        rc = rp_util_conf_str_item(cf->host, cf->self, ptr, i, s, sizeof s, NULL);
        if (rc != 0 || s[0] != '/' || *count >= CF_MAX_PATHS) {
            snprintf(cf->err, sizeof cf->err,
                     "config.%s[%u]: expected an absolute path, got \"%s\"", key, (unsigned)i, s);
            return RP_ERR_CONFIG;
        }
        /* Canonical form, so a prefix matches the paths the kernel reports:
         * symlinks resolved when the path exists, trailing slashes cut. */
        char *canon = realpath(s, NULL);
        if (!canon)
            canon = strdup(s);
        if (!canon)
            return RP_ERR_NOMEM;
        size_t clen = strlen(canon);
        while (clen > 1 && canon[clen - 1] == '/')
            canon[--clen] = '\0';
        out[*count].path = canon;
        out[*count].len = clen;
        (*count)++;
    }
    return 0;
}

/* A whole number at ptr within [lo, hi], else dflt (out of range only with a
 * host that skips validation). 0, or RP_ERR_CONFIG with cf->err set. */
static int conf_u32(struct cf *cf, const char *ptr, uint64_t dflt, uint64_t lo, uint64_t hi,
                    uint32_t *out)
{
    uint64_t v;
    if (!conf_ok(cf, ptr, rp_util_conf_u64(cf->host, cf->self, ptr, dflt, &v)))
        return RP_ERR_CONFIG;
    *out = (uint32_t)(v >= lo && v <= hi ? v : dflt);
    return 0;
}

/* One word of an enum setting and the value it stands for. */
struct cf_word {
    const char *word;
    int value;
};

/* The value of the word at ptr among words; out stays as it is for a word
 * none matches ("auto"). 0, or RP_ERR_CONFIG with cf->err set. */
static int conf_word(struct cf *cf, const char *ptr, const struct cf_word *words, size_t n,
                     int *out)
{
    char word[16]; /* longer than any enum value: a longer one matches none */
    if (!conf_ok(cf, ptr, rp_util_conf_str(cf->host, cf->self, ptr, NULL, word, sizeof word, NULL)))
        return RP_ERR_CONFIG;
    for (size_t i = 0; i < n; i++)
        if (strcmp(word, words[i].word) == 0)
            *out = words[i].value;
    return 0;
}

/* The host validated the config against the schema and filled in its
 * defaults; the typed getters read it by JSON Pointer. A getter fails only
 * on a host that broke that promise, and init then says which setting. */
static int load_config(struct cf *cf)
{
    const rp_host_api *h = cf->host;
    int rc;
    cf->mode = CF_MODE_AUTO;
    cf->mark = CF_MARK_AUTO;
    cf->events = CF_EV_ALL;

    static const struct cf_word modes[] = {{"fanotify", CF_MODE_FANOTIFY},
                                           {"inotify", CF_MODE_INOTIFY}};
    static const struct cf_word marks[] = {{"filesystem", CF_MARK_FILESYSTEM},
                                           {"inode", CF_MARK_INODE}};
    if ((rc = conf_word(cf, "/mode", modes, 2, &cf->mode)) != 0 ||
        (rc = conf_word(cf, "/fanotify_marks", marks, 2, &cf->mark)) != 0)
        return rc;
    char word[16]; /* longer than any event name: a longer one matches none */
    if (!conf_ok(cf, "/exclude_self",
                 rp_util_conf_bool(h, cf->self, "/exclude_self", 1, &cf->exclude_self)))
        return RP_ERR_CONFIG;
    uint32_t nev = 0;
    rc = rp_util_conf_str_count(h, cf->self, "/events", &nev);
    if (!conf_ok(cf, "/events", rc))
        return RP_ERR_CONFIG;
    if (nev > 0) {
        static const char *const names[] = {"create", "modify", "exec", "rename", "delete"};
        cf->events = 0;
        /* Items too long to be a name match none. */
        for (uint32_t i = 0; i < nev; i++)
            if (rp_util_conf_str_item(h, cf->self, "/events", i, word, sizeof word, NULL) == 0)
                for (uint32_t b = 0; b < 5; b++)
                    if (strcmp(word, names[b]) == 0)
                        cf->events |= 1u << b;
    }
    if ((rc = conf_u32(cf, "/max_watches", 8192, 1, 1048576, &cf->max_watches)) != 0 ||
        (rc = conf_u32(cf, "/exec_fold_seconds", 60, 0, 86400, &cf->exec_fold_s)) != 0 ||
        (rc = conf_u32(cf, "/join_wait_ms", 300, 0, 2000, &cf->join_wait_ms)) != 0 ||
        (rc = conf_u32(cf, "/flood_burst", 200, 0, 1000000, &cf->flood_burst)) != 0 ||
        (rc = conf_u32(cf, "/flood_rate_per_s", 100, 0, 1000000, &cf->flood_rate)) != 0 ||
        (rc = conf_u32(cf, "/flood_summary_interval_ms", 1000, 100, 60000,
                       &cf->flood_interval_ms)) != 0)
        return rc;
    rc = rp_util_exclude_read(h, cf->self, &cf->excl, rp_util_proc_user_uid, cf->err,
                              sizeof cf->err);
    if (rc != 0)
        return rc;
    rc = load_prefixes(cf, "paths", cf->paths, &cf->npaths);
    if (rc == 0 && cf->npaths == 0) {
        snprintf(cf->err, sizeof cf->err, "config.paths: no folder to watch");
        rc = RP_ERR_CONFIG;
    }
    if (rc == 0)
        rc = load_prefixes(cf, "exclude", cf->exclude, &cf->nexclude);
    return rc;
}

/* ---- lifecycle -------------------------------------------------------------- */

static void cf_free(struct cf *cf)
{
    for (uint32_t i = 0; i < cf->npaths; i++)
        free(cf->paths[i].path);
    for (uint32_t i = 0; i < cf->nexclude; i++)
        free(cf->exclude[i].path);
    for (int i = 0; i < CF_PROC_CACHE; i++) {
        free(cf->procs[i].exe);
        free(cf->procs[i].name);
    }
    for (int i = 0; i < CF_OWNER_CACHE; i++)
        free(cf->owners[i].name);
    rp_util_exclude_free(&cf->excl);
    if (cf->joined)
        for (int i = 0; i < CF_JOIN_SLOTS; i++) {
            free(cf->joined[i].exe);
            free(cf->joined[i].name);
            free(cf->joined[i].user_name);
        }
    free(cf->joined);
    for (uint32_t i = 0; cf->held && i < cf->held_n; i++)
        cf->host->event_release(cf->held[(cf->held_head + i) % CF_JOIN_QUEUE].ev);
    free(cf->held);
    if (cf->join_q.lock_ok)
        pthread_mutex_destroy(&cf->join_q.lock);
    for (uint32_t i = 0; cf->flood && i < CF_FLOOD_SETS * CF_FLOOD_WAYS; i++) {
        flood_entry_clear(&cf->flood[i]);
        free(cf->flood[i].sample);
    }
    free(cf->flood);
    if (cf->flood_q.lock_ok)
        pthread_mutex_destroy(&cf->flood_q.lock);
    free(cf);
}

static int file_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct cf *cf = calloc(1, sizeof *cf);
    if (!cf)
        return RP_ERR_NOMEM;
    cf->self = self;
    cf->host = host;
    cf->self_pid = (int32_t)getpid();
    rp_util_machine_id(cf->machine_id, sizeof cf->machine_id, &cf->mid_len);
    int rc = rp_util_fields_register(host, self, field_defs, CF_F_COUNT_, cf->f);
    if (rc != 0) {
        cf_free(cf);
        return rc;
    }
    rc = rp_util_counters_register(&cf->ctr, host, self, counter_names, CF_C_COUNT_,
                                   RP_UTIL_COUNTERS_TOTALS);
    if (rc != 0) {
        cf_free(cf);
        return rc;
    }
    rc = load_config(cf);
    if (rc != 0) {
        if (!cf->err[0])
            snprintf(cf->err, sizeof cf->err, "cannot read config: %s", rp_strerror(rc));
        host->set_error(self, cf->err, strlen(cf->err));
        cf_free(cf);
        return rc;
    }
    if (cf->flood_burst > 0) {
        cf->flood = calloc(CF_FLOOD_SETS * CF_FLOOD_WAYS, sizeof *cf->flood);
        cf->flood_q.lock_ok = cf->flood && pthread_mutex_init(&cf->flood_q.lock, NULL) == 0;
        if (!cf->flood_q.lock_ok) {
            cf_free(cf);
            return RP_ERR_NOMEM;
        }
    }
    if (cf->join_wait_ms > 0 && cf->mode != CF_MODE_INOTIFY) {
        /* Late joins need collector_process's exec events; without that
         * plugin nothing comes and events of gone processes only wait. */
        cf->joined = calloc(CF_JOIN_SLOTS, sizeof *cf->joined);
        cf->held = calloc(CF_JOIN_QUEUE, sizeof *cf->held);
        rc = cf->joined && cf->held ? 0 : RP_ERR_NOMEM;
        if (rc == 0 && pthread_mutex_init(&cf->join_q.lock, NULL) != 0)
            rc = RP_ERR_NOMEM;
        cf->join_q.lock_ok = rc == 0;
        if (rc == 0)
            rc = host->subscribe(self, "process.exec", 12, 0);
        if (rc != 0) {
            cf_free(cf);
            return rc;
        }
    } else {
        cf->join_wait_ms = 0;
    }
    *state = cf;
    return 0;
}

static int file_start(rp_plugin *self, void *state)
{
    struct cf *cf = state;
    int rc = RP_ERR_UNSUPPORTED;
    struct stat st;
    for (uint32_t i = 0; i < cf->npaths; i++)
        if ((cf->path_id[i].ok = stat(cf->paths[i].path, &st) == 0) != 0)
            cf->path_id[i].dev = st.st_dev, cf->path_id[i].ino = st.st_ino;
    for (uint32_t i = 0; i < cf->nexclude; i++)
        if ((cf->exclude_id[i].ok = stat(cf->exclude[i].path, &st) == 0) != 0)
            cf->exclude_id[i].dev = st.st_dev, cf->exclude_id[i].ino = st.st_ino;
    if (cf->mode != CF_MODE_INOTIFY) {
        rc = cf_fan_start(cf);
        if (rc == RP_ERR_UNSUPPORTED && cf->mode == CF_MODE_AUTO)
            rp_util_logf(cf->host, cf->self, RP_LOG_WARN,
                         "fanotify lacks what this collector needs here; falling "
                         "back to inotify (no process attribution)");
        else if (rc != 0) {
            const char *msg = "cannot start fanotify (see the log)";
            cf->host->set_error(self, msg, strlen(msg));
            return rc;
        }
    }
    if (rc != 0) {
        rc = cf_ino_start(cf);
        if (rc != 0) {
            const char *msg = "cannot start inotify (see the log)";
            cf->host->set_error(self, msg, strlen(msg));
            return rc;
        }
        if (cf->exclude_self)
            rp_util_logf(cf->host, cf->self, RP_LOG_INFO,
                         "inotify cannot tell who caused an event: list the agent's "
                         "own folders in exclude if they lie under paths");
    }
    return 0;
}

/* At stop: marks a timed queue stopping, stops its timer (outside the lock,
 * as the timer's callback takes it) and flushes what it holds. */
static void stop_and_flush(struct cf *cf, struct cf_timed *q, void (*flush)(struct cf *, int))
{
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    int was_armed = q->armed;
    uint64_t id = q->timer_id;
    pthread_mutex_unlock(&q->lock);
    if (was_armed)
        cf->host->timer_stop(cf->self, id);
    pthread_mutex_lock(&q->lock);
    q->armed = 0;
    flush(cf, 1);
    pthread_mutex_unlock(&q->lock);
}

static int file_stop(rp_plugin *self, void *state)
{
    (void)self;
    struct cf *cf = state;
    cf_fan_stop(cf);
    cf_ino_stop(cf);
    /* No record comes any more: every pending flood count goes out as a
     * summary, then the events waiting for a join go out with what is
     * known (in that order: the summaries may queue for a join). */
    if (cf->flood_q.lock_ok)
        stop_and_flush(cf, &cf->flood_q, flood_flush);
    if (cf->join_q.lock_ok)
        stop_and_flush(cf, &cf->join_q, join_flush);
    char msg[900];
    size_t off = 0;
    for (int i = 0; i < CF_C_COUNT_ && off < sizeof msg; i++) {
        int n = snprintf(msg + off, sizeof msg - off, "%s%s %llu", i ? ", " : "", counter_names[i],
                         (unsigned long long)rp_util_counter_total(&cf->ctr, (uint32_t)i));
        if (n < 0)
            break;
        off += (size_t)n;
    }
    rp_util_logf(cf->host, cf->self, RP_LOG_INFO, "stopped: %s", msg);
    return 0;
}

static void file_destroy(rp_plugin *self, void *state)
{
    (void)self;
    struct cf *cf = state;
    if (!cf)
        return;
    cf_fan_stop(cf);
    cf_ino_stop(cf);
    cf_free(cf);
}

/* What each event type carries (ABI 1.1 provides; sdk/docs/fields.md is
 * generated from it). A 1.0 agent would ignore it. Every type carries
 * common_fields; each type adds its own. A deletion has no stat of the file;
 * a rename names the file's old path. */
static const char *const common_fields[] = {"event.category",
                                            "event.type",
                                            "event.action",
                                            "event.provider",
                                            "event.dataset",
                                            "file.path",
                                            "file.name",
                                            "file.directory",
                                            "file.extension",
                                            "file.type",
                                            "collector_file.path_unresolved",
                                            "process.pid",
                                            "process.entity_id",
                                            "process.executable",
                                            "process.name",
                                            "rampart.process.executable_memfd",
                                            "rampart.process.executable_deleted",
                                            "user.id",
                                            "user.name",
                                            "rampart.incomplete",
                                            "collector_file.incomplete_reason",
                                            "collector_file.folded.count",
                                            "collector_file.folded.first",
                                            "collector_file.folded.last",
                                            "collector_file.folded.sample_path",
                                            NULL};
#define CF_STAT_FIELDS                                                                             \
    "file.size", "file.inode", "file.device", "file.mode", "file.uid", "file.gid", "file.owner",   \
        "file.mtime", "file.ctime"
static const char *const stat_fields[] = {CF_STAT_FIELDS, NULL};
static const char *const exec_fields[] = {CF_STAT_FIELDS, "collector_file.exec.folded", NULL};
static const char *const rename_fields[] = {CF_STAT_FIELDS, "collector_file.original.path",
                                            "collector_file.original.name", NULL};
#undef CF_STAT_FIELDS
static const char *const delete_fields[] = {NULL};

static const rp_event_fields provides[] = {{"*", common_fields},
                                           {"file.create", stat_fields},
                                           {"file.modify", stat_fields},
                                           {"file.exec", exec_fields},
                                           {"file.rename", rename_fields},
                                           {"file.delete", delete_fields},
                                           {NULL, NULL}};

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_COLLECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.collector.file",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "File create, modify, delete, rename and exec events (fanotify, inotify)",
    .config_schema = config_schema,
    .init = file_init,
    .start = file_start,
    .stop = file_stop,
    .destroy = file_destroy,
    .on_event = file_on_event,
    /* fanotify_init and its marks: CAP_SYS_ADMIN; file handles
     * (name_to_handle_at, open_by_handle_at) and folders of every user:
     * CAP_DAC_READ_SEARCH; /proc/<pid>/exe of the process that acted:
     * CAP_SYS_PTRACE. */
    .capabilities = RP_CAP_SYS_ADMIN | RP_CAP_DAC_READ_SEARCH | RP_CAP_SYS_PTRACE,
    .field_namespace = "collector_file",
    .provides = provides,
};

RP_PLUGIN_ENTRY(descriptor)
