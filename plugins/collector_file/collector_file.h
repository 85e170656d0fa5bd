/*
 * collector_file.h - shared state of the file collector: the plugin glue
 * (collector_file.c), the fanotify backend (fan.c) and the inotify fallback
 * (ino.c). Private to the plugin.
 */
#ifndef RP_COLLECTOR_FILE_H
#define RP_COLLECTOR_FILE_H

#include <rampart/plugin.h>
/* Log lines name paths of up to CF_PATH_MAX bytes: a line holds a long one
 * (cut beyond that). Every file of the plugin includes this header, so all
 * agree on it. */
#define RP_UTIL_LOG_MAX 1024
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_proc.h>

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Caps. Each says what happens when it is reached. */
#define CF_MAX_PATHS        64   /* config paths and exclude entries (the schema refuses more) */
#define CF_PATH_MAX         4096 /* longer paths are not resolved: counted as resolve failures */
#define CF_PROC_CACHE       64   /* processes remembered; a newcomer evicts its slot */
#define CF_OWNER_CACHE      32   /* uid -> name entries; a newcomer evicts its slot */
#define CF_READS_PER_WAKEUP 8    /* buffers read per callback; the rest on the next one */
#define CF_READ_BUF         (64 * 1024)

/* What happened to a name, in the order the splitter emits them. */
#define CF_EV_CREATE 0x01u
#define CF_EV_MODIFY 0x02u
#define CF_EV_EXEC   0x04u
#define CF_EV_RENAME 0x08u
#define CF_EV_DELETE 0x10u
#define CF_EV_ALL    0x1fu

/* Backends. */
#define CF_MODE_AUTO     0
#define CF_MODE_FANOTIFY 1
#define CF_MODE_INOTIFY  2

/* fanotify mark kinds. */
#define CF_MARK_AUTO       0
#define CF_MARK_FILESYSTEM 1
#define CF_MARK_INODE      2

enum cf_field {
    CF_F_CATEGORY,
    CF_F_TYPE,
    CF_F_ACTION,
    CF_F_PROVIDER,
    CF_F_PATH,
    CF_F_NAME,
    CF_F_DIR,
    CF_F_EXT,
    CF_F_SIZE,
    CF_F_INODE,
    CF_F_DEVICE,
    CF_F_MODE,
    CF_F_OWNER,
    CF_F_UID,
    CF_F_GID,
    CF_F_FTYPE,
    CF_F_MTIME,
    CF_F_CTIME,
    CF_F_PID,
    CF_F_PEXE,
    CF_F_PNAME,
    CF_F_ORIG_PATH,
    CF_F_ORIG_NAME,
    CF_F_DATASET,
    CF_F_ENTITY,
    CF_F_USER_ID,
    CF_F_USER_NAME,
    CF_F_EXE_MEMFD,
    CF_F_EXE_DELETED,
    CF_F_INCOMPLETE,
    CF_F_EXEC_FOLDED,
    CF_F_PATH_UNRESOLVED,
    CF_F_FOLD_COUNT,
    CF_F_FOLD_FIRST,
    CF_F_FOLD_LAST,
    CF_F_FOLD_SAMPLE,
    CF_F_INC_REASON,
    CF_F_COUNT_
};

enum cf_counter {
    CF_C_RECORDS,
    CF_C_PUBLISHED,
    CF_C_OVERFLOWS,
    CF_C_SELF,
    CF_C_EXCLUDED,
    CF_C_RESOLVE_FAILED,
    CF_C_PUBLISH_FAILED,
    CF_C_WATCH_CAP,
    CF_C_MERGED,
    CF_C_EXEC_FOLDED,
    CF_C_EXCL_EXE,
    CF_C_EXCL_PATH,
    CF_C_EXCL_USER,
    CF_C_PATH_UNRESOLVED,
    CF_C_JOINED_LATE,
    CF_C_JOIN_MISSED,
    CF_C_FLOOD_FOLDED,
    CF_C_FLOOD_SUMMARIES,
    CF_C_FLOOD_EVICTED,
    CF_C_COUNT_
};

/* A configured path prefix: canonical, no trailing slash ("/" is kept). */
struct cf_prefix {
    char *path;
    size_t len;
};

struct cf_proc {
    int32_t pid;        /* 0 = free slot */
    uint64_t start;     /* start time in clock ticks since boot (/proc/<pid>/stat field 22) */
    uint64_t batch;     /* the batch in which the start time was last checked */
    char *exe;          /* NULL when unreadable, or a memfd (see exe_flags) */
    char *name;         /* NULL when unreadable */
    uint32_t exe_flags; /* RP_UTIL_EXE_* */
    int exe_id_ok;      /* the executable's identity, to notice an exec */
    uint64_t exe_dev, exe_ino;
    int exe_gone; /* it had no links left when last named */
    int have_uid;
    uint32_t uid;
    /* Why a user process has no executable here (its events name it in
     * collector_file.incomplete_reason), NULL when it has one or is a kernel
     * thread: "exited" for a zombie or one past the point of its exit where
     * the kernel drops its memory (and with it the exe link),
     * "path_too_long", or "unreadable". */
    const char *exe_missing;
    char entity[RP_UTIL_ENTITY_ID_LEN + 1];
};

/* Repeated executions of one file (the dynamic loader runs with every
 * program) are folded: one event per file and fold window, the next one
 * carrying how many were folded. Keyed by device, inode and ctime, so a
 * file that changed is reported again at once. */
#define CF_EXEC_SLOTS 256 /* files remembered; a newcomer evicts its slot */
struct cf_exec_seen {
    uint64_t dev, ino;
    int64_t ctime_ns;
    int64_t last_ns; /* monotonic time it was last published; 0 = free */
    uint64_t folded; /* executions not published since */
};

/* Late joins. A process gone before its record is read (a short-lived one)
 * has no /proc entry left, but collector_process published its exec: the
 * plugin keeps the identity of recent process.exec events by pid, and an
 * event of a gone process waits up to join_wait_ms for it. While one waits,
 * the events after it wait too, so the plugin's events keep their order. */
#define CF_JOIN_SLOTS   1024 /* exec events remembered; a newcomer evicts its slot */
#define CF_JOIN_QUEUE   1024 /* events waiting; at the cap the oldest goes out as it is */
#define CF_JOIN_TICK_MS 20
struct cf_joined {
    int32_t pid; /* 0 = free */
    char entity[RP_UTIL_ENTITY_ID_LEN + 1];
    char *exe, *name, *user_name; /* NULL when the exec event had none */
    char uid[16];                 /* "" when unknown */
};
struct cf_held {
    rp_event *ev;
    int32_t pid;   /* the process whose identity is awaited; 0 = none */
    int64_t since; /* monotonic */
};

/* Flood folding. Each process (by process.entity_id, else pid) and action
 * (create, modify, rename, delete) has a token bucket: flood_burst events,
 * refilled at flood_rate_per_s. Past it the process's events of that action
 * are counted instead of published, and a summary event carries the count
 * once per flood_summary_interval_ms. The table is fixed: CF_FLOOD_SETS sets
 * of CF_FLOOD_WAYS entries, a newcomer evicts the least recently used entry
 * of its set, whose pending count goes out as a summary first. */
#define CF_FLOOD_SETS 128
#define CF_FLOOD_WAYS 8 /* 1024 entries in all */
struct cf_flood {
    int64_t last_seen; /* monotonic; 0 = free */
    int32_t pid;
    uint32_t kind;                          /* one CF_EV_* bit */
    char entity[RP_UTIL_ENTITY_ID_LEN + 1]; /* "" when the process was unknown */
    double tokens;
    int64_t refill_ns;         /* monotonic time tokens were last refilled */
    uint64_t folded;           /* events counted since the last summary */
    int64_t since;             /* monotonic time of the first of them */
    int64_t first_ns, last_ns; /* their wall-clock times */
    char *sample;              /* the last one's path (or name when unresolved) */
    size_t sample_cap;
    int sample_unresolved;
    /* The process as it was at the first folded event, for the summary. */
    char *exe, *name;
    uint32_t exe_flags;
    int have_uid;
    uint32_t uid;
};

struct cf_owner {
    int used;
    uid_t uid;
    char *name; /* NULL: no such user (remembered too) */
};

/* One change to publish. path is the name after the change (for a rename
 * the new name; NULL when unknown), old_path the name before a rename. */
struct cf_change {
    uint32_t kind; /* one CF_EV_* bit */
    const char *path;
    const char *old_path;
    int is_dir;            /* 1 dir, 0 not, -1 unknown */
    int32_t pid;           /* 0 unknown */
    const struct stat *st; /* NULL when the file could not be stat'ed */
    int unresolved;        /* the path could not be named: path holds the name alone */
};

/* Reads a backend's fd on the host loop. Idle, it sleeps in the loop's
 * epoll; when wakeups come closer than CF_BATCH_MS apart it stops watching
 * the fd and drains it from a CF_BATCH_MS timer instead, until a tick finds
 * nothing: a busy filesystem then costs at most 1000 / CF_BATCH_MS wakeups a
 * second, whatever its event rate, for at most CF_BATCH_MS of latency. */
#define CF_BATCH_MS 10
struct cf;
/* What a backend does with the n bytes of records one read returned. */
typedef void (*cf_records_fn)(struct cf *cf, const char *buf, size_t n);
/* Called when a read finds the kernel's queue empty (or fails). */
typedef void (*cf_emptied_fn)(struct cf *cf);
struct cf_pump {
    int fd;
    cf_records_fn records;
    cf_emptied_fn emptied; /* NULL: nothing to do */
    pthread_mutex_t lock;  /* guards the fields below (see collector_file.c) */
    int lock_ok;
    int ready;    /* start has stored watch_id */
    int stopping; /* stop has begun: no more switches */
    uint64_t watch_id, timer_id;
    int watching, timing;
    int64_t last_wake_ns;
    char buf[CF_READ_BUF] __attribute__((aligned(8)));
};

struct cf_fan; /* fan.c */
struct cf_ino; /* ino.c */

/* A queue that a one-shot timer flushes (late joins, flood summaries): lock
 * guards the queue and the fields here; armed while the timer runs; stopping
 * from stop on, when no timer is armed again. */
struct cf_timed {
    pthread_mutex_t lock;
    int lock_ok;
    int armed, stopping;
    uint64_t timer_id;
};

struct cf {
    rp_plugin *self;
    const rp_host_api *host;
    rp_field_id f[CF_F_COUNT_];
    rp_util_counters ctr; /* with totals, for the summary logged at stop */

    /* Config. */
    int mode;
    int mark;
    struct cf_prefix paths[CF_MAX_PATHS];
    uint32_t npaths;
    struct cf_prefix exclude[CF_MAX_PATHS];
    uint32_t nexclude;
    /* The configured folders' identities, taken at start: a folder whose
     * path is too long to name is placed by walking up to one of them. */
    struct cf_id {
        int ok;
        dev_t dev;
        ino_t ino;
    } path_id[CF_MAX_PATHS], exclude_id[CF_MAX_PATHS];
    int exclude_self;
    uint32_t events;
    uint32_t max_watches;
    uint32_t exec_fold_s;  /* 0: every execution is published */
    uint32_t join_wait_ms; /* 0: no late joins */
    uint32_t flood_burst;  /* 0: no flood folding */
    uint32_t flood_rate;   /* tokens per second */
    uint32_t flood_interval_ms;
    rp_util_exclude excl; /* the agent-wide collectors.exclude */

    char err[CF_PATH_MAX + 128]; /* why init failed, for set_error */
    int32_t self_pid;
    const char *provider; /* "fanotify" or "inotify" once started */
    struct cf_fan *fan;
    struct cf_ino *ino;
    struct cf_pump pump;
    uint64_t batch; /* counts drains: one batch of records read together */
    int64_t last_overflow_log_ns;

    char machine_id[64];
    size_t mid_len;
    struct cf_exec_seen execs[CF_EXEC_SLOTS];
    /* Late joins: join_q.lock guards everything below it in this group (the
     * map is filled by on_event on a dispatcher thread). */
    struct cf_timed join_q;
    struct cf_joined *joined; /* CF_JOIN_SLOTS */
    struct cf_held *held;     /* ring of CF_JOIN_QUEUE */
    uint32_t held_head, held_n;

    /* Flood folding: flood_q.lock guards the group (records on the loop
     * thread, the summary timer, and stop). */
    struct cf_timed flood_q;
    struct cf_flood *flood; /* CF_FLOOD_SETS * CF_FLOOD_WAYS, NULL when off */
    uint32_t flood_pending; /* entries with folded > 0 */

    struct cf_proc procs[CF_PROC_CACHE];
    struct cf_owner owners[CF_OWNER_CACHE];
};

/* collector_file.c */
/* Starts reading fd (see struct cf_pump): up to CF_READS_PER_WAKEUP reads
 * of CF_READ_BUF bytes a turn, each handed to records, and emptied (may be
 * NULL) when a read finds nothing more; a read error is logged under
 * cf->provider's name. stop undoes it. */
int cf_pump_start(struct cf *cf, int fd, cf_records_fn records, cf_emptied_fn emptied);
void cf_pump_stop(struct cf *cf);
/* 1 when path is under a configured path and under no exclude entry. */
int cf_path_wanted(const struct cf *cf, const char *path);
/* Filters and publishes one change (counted either way). */
void cf_emit(struct cf *cf, const struct cf_change *ch);
/* A kernel queue overflow: counted, logged at most once a minute. */
void cf_overflow(struct cf *cf, const char *what);
/* Joins dir and name into out ("dir/name"; dir alone for "" or "."). */
int cf_join(char *out, size_t cap, const char *dir, const char *name);
/* Calls fn for root and each folder below it on the same filesystem,
 * depth first, without following symlinks. fn returns 0 to go on into the
 * folder, 1 to skip what lies below it, or an error to stop the walk (which
 * returns it). The walk visits at most max_dirs folders; past that the rest
 * are skipped and RP_ERR_FULL is returned. */
typedef int (*cf_dir_fn)(void *arg, const char *path);
int cf_walk_dirs(const char *root, uint32_t max_dirs, cf_dir_fn fn, void *arg);

/* fan.c: 0, RP_ERR_UNSUPPORTED when the kernel lacks a needed feature (the
 * caller may fall back to inotify), or another error. */
int cf_fan_start(struct cf *cf);
void cf_fan_stop(struct cf *cf);

/* ino.c */
int cf_ino_start(struct cf *cf);
void cf_ino_stop(struct cf *cf);

#endif
