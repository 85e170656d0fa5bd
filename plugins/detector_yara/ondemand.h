/*
 * plugins/detector_yara/ondemand.h - on-demand scans (walk folders, judge
 * every file with the scanner) and scheduled scans (the same on a thread of
 * their own, every interval, at idle I/O priority and nice 19). A library:
 * no host API inside; what it finds goes out through the callbacks below.
 *
 * The walk (dy_ondemand_run). Each path of the list is opened once
 * (O_NOFOLLOW); a regular file is scanned, a folder walked recursively
 * (entries in the order the file system gives them). Nothing is ever
 * followed: symbolic links are skipped, every folder and file is opened
 * with openat(O_NOFOLLOW) from its parent's descriptor, so a link or a
 * rename planted during the walk cannot lead it elsewhere, and files are
 * opened with O_NOATIME where the kernel allows it (the owner, or
 * CAP_FOWNER), so a scan does not touch access times. Skipped, each counted
 * by reason (dy_od_skip_name): a folder on another file system than its
 * path's (a mount point; unless cross_fs), a folder deeper than max_depth,
 * a path under an excluded path, /proc, /sys and /dev (always, and any
 * folder on a pseudo file system such as procfs or sysfs, wherever it is
 * mounted), anything but folders and regular files, files over the
 * scanner's size cap, paths longer than DY_OD_PATH_MAX, entries that vanish
 * during the walk. Each file is judged by dy_scan_fd with DY_SCAN_NO_BUDGET
 * (on-demand scans are never charged to a user); the verdict cache answers
 * for files already judged, so a rescan of an unchanged tree reads nothing.
 *
 * Reports. progress is called at most once per progress_ms (default 1 s)
 * with the counts so far, and once at the end with final set (the summary,
 * also returned); match once per file judged malicious; error once per file
 * or folder that could not be read or judged. The callbacks run on the
 * walking thread, between files; the path and result they get are borrowed
 * for the call.
 *
 * Cancel: the walk stops before the next entry once *cancel is true; the
 * file being scanned is finished first (a scan is bounded by the scanner's
 * per-scan timeout).
 *
 * Scheduled scans (dy_sched_*). A thread of its own scans the configured
 * paths every interval_s (from the start of one scan to the start of the
 * next; a scan longer than the interval is followed by the next at once,
 * never by a backlog). Before anything else the thread sets its own I/O
 * priority class to idle (ioprio_set, IOPRIO_CLASS_IDLE: it gets the disk
 * only when nobody else wants it) and its nice value to 19 (setpriority on
 * its thread id); Linux keeps both per thread, so the agent's other threads
 * keep theirs. If either fails, dy_sched_start fails and nothing is
 * scanned: a scheduled scan at normal priority is what must not happen.
 * Each scan takes the current rule set from the rules callback (a new
 * reference, released after the scan); a reload between scans is picked up
 * by the next. dy_sched_stop cancels a scan under way and joins the thread:
 * it returns once the file being scanned is done.
 */
#ifndef RP_DETECTOR_YARA_ONDEMAND_H
#define RP_DETECTOR_YARA_ONDEMAND_H

#include "scan.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DY_OD_PATHS_MAX       64u   /* paths of one scan: RP_ERR_RANGE */
#define DY_OD_EXCLUDES_MAX    256u  /* excluded paths: RP_ERR_RANGE */
#define DY_OD_PATH_MAX        4096u /* a longer path (given: RP_ERR_RANGE; found: skipped) */
#define DY_OD_DEPTH_DEF       64u   /* max_depth 0 */
#define DY_OD_DEPTH_MAX       256u  /* one descriptor per level is open: RP_ERR_RANGE past it */
#define DY_OD_PROGRESS_MS_DEF 1000u /* progress_ms 0 */
#define DY_SCHED_INTERVAL_MAX (366u * 24u * 3600u)

/* Why an entry was not judged. */
enum dy_od_skip {
    DY_OD_SKIP_SYMLINK,     /* symlink: never followed */
    DY_OD_SKIP_NOT_REGULAR, /* not_regular: a device, FIFO or socket */
    DY_OD_SKIP_EXCLUDED,    /* excluded: under an excluded path */
    DY_OD_SKIP_PSEUDO_FS,   /* pseudo_fs: /proc, /sys, /dev or a pseudo file system */
    DY_OD_SKIP_OTHER_FS,    /* other_fs: another file system (cross_fs off) */
    DY_OD_SKIP_TOO_DEEP,    /* too_deep: a folder past max_depth */
    DY_OD_SKIP_TOO_LONG,    /* too_long: a path past DY_OD_PATH_MAX */
    DY_OD_SKIP_TOO_LARGE,   /* too_large: over the scanner's size cap */
    DY_OD_SKIP_VANISHED,    /* vanished: removed or replaced during the walk */
    DY_OD_SKIP_COUNT
};
const char *dy_od_skip_name(int reason); /* "symlink", ...; "?" out of range */

/* Counts of a scan so far (progress) or in all (final). */
struct dy_od_progress {
    uint64_t files;      /* files judged: scanned or answered by the cache */
    uint64_t bytes;      /* the sizes of the files judged */
    uint64_t bytes_read; /* bytes libyara read (cache hits read nothing) */
    uint64_t cache_hits; /* files answered by the verdict cache */
    uint64_t matches;    /* files judged malicious */
    uint64_t errors;     /* files or folders that could not be read or judged */
    uint64_t skipped;    /* the sum of skip[] */
    uint64_t skip[DY_OD_SKIP_COUNT];
    uint64_t dirs;      /* folders walked */
    double elapsed_s;   /* since the scan started */
    double mb_per_s;    /* bytes / 1e6 / elapsed_s (0 before any time has passed) */
    double files_per_s; /* files / elapsed_s */
    bool final;         /* the summary: the scan is over */
    bool cancelled;     /* it stopped on *cancel */
};

typedef void (*dy_od_progress_fn)(void *ctx, const struct dy_od_progress *p);
/* A file judged malicious: its path and the scanner's result. */
typedef void (*dy_od_match_fn)(void *ctx, const char *path, const struct dy_scan_result *res);
/* A file or folder that could not be opened, read or judged: err is an
 * RP_ERR_* (RP_ERR_TIMEOUT: the scan timed out; RP_ERR_AGAIN: it kept
 * changing while scanned), what says what failed. */
typedef void (*dy_od_error_fn)(void *ctx, const char *path, int err, const char *what);

struct dy_od_opts {
    /* Absolute paths without "." or ".." components (extra and trailing
     * slashes are fine); borrowed for the call. RP_ERR_INVAL otherwise. */
    const char *const *paths;
    size_t n_paths;
    /* Absolute paths left out with everything below them; the same form. */
    const char *const *excludes;
    size_t n_excludes;
    uint32_t max_depth;         /* folder levels below a path; 0: DY_OD_DEPTH_DEF */
    bool cross_fs;              /* walk into other file systems (never pseudo ones) */
    uint32_t progress_ms;       /* 0: DY_OD_PROGRESS_MS_DEF */
    const atomic_bool *cancel;  /* NULL: not cancellable */
    dy_od_progress_fn progress; /* each may be NULL */
    dy_od_match_fn match;
    dy_od_error_fn error;
    void *ctx;
};

/* Scans o->paths with rs (the caller holds its reference) through s, on the
 * calling thread (which gets its own dy_scan_thread for the call). summary
 * (may be NULL) gets the final counts, as the last progress call does.
 * Returns 0 when the walk ran (to its end or cancelled: summary says;
 * errors on files are counted, not returned), RP_ERR_INVAL for bad options
 * or paths, RP_ERR_RANGE past a cap, RP_ERR_NOMEM. */
int dy_ondemand_run(struct dy_scanner *s, const struct dy_ruleset *rs, const struct dy_od_opts *o,
                    struct dy_od_progress *summary);

/* Scheduled scans. */

/* A new reference to the rule set to scan with, or NULL to skip this round
 * (no rules loaded yet). Called on the scheduler's thread. */
typedef struct dy_ruleset *(*dy_sched_rules_fn)(void *ctx);

struct dy_sched_opts {
    /* As in dy_od_opts; the paths are copied at start, cancel is unused
     * (dy_sched_stop cancels), and scan.ctx is given to every callback
     * (rules and done included). */
    struct dy_od_opts scan;
    uint32_t interval_s;    /* 1..DY_SCHED_INTERVAL_MAX */
    uint32_t first_delay_s; /* before the first scan (0: at once) */
    dy_sched_rules_fn rules;
    /* Called after each scan with its summary (also given to
     * scan.progress as the final call). May be NULL. */
    dy_od_progress_fn done;
};

struct dy_sched_stats {
    uint64_t runs;              /* scans finished (cancelled ones included) */
    uint64_t no_rules;          /* rounds skipped: the rules callback gave NULL */
    bool running;               /* a scan is under way */
    pid_t tid;                  /* the scheduler thread's kernel thread id */
    struct dy_od_progress last; /* the last finished scan's summary */
};

struct dy_sched;

/* Starts the scheduler thread and waits until it has set its priorities.
 * RP_ERR_INVAL / RP_ERR_RANGE for bad options (as dy_ondemand_run, checked
 * here), RP_ERR_PERM or RP_ERR_IO when the thread could not set its I/O
 * class or nice value (err says which; the thread has ended), RP_ERR_NOMEM.
 * s must outlive the scheduler. */
int dy_sched_start(struct dy_scanner *s, const struct dy_sched_opts *o, struct dy_sched **out,
                   char *err, size_t errlen);
/* Runs a scan now (the interval restarts from it); RP_ERR_BUSY while one is
 * under way. */
int dy_sched_trigger(struct dy_sched *sc);
void dy_sched_stats(struct dy_sched *sc, struct dy_sched_stats *out);
/* Cancels a scan under way, stops and joins the thread, frees sc. Returns
 * once the file being scanned is done. NULL: no-op. */
void dy_sched_stop(struct dy_sched *sc);

#endif
