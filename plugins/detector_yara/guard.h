/*
 * plugins/detector_yara/guard.h - blocking on exec: the agent answers the
 * kernel for every program about to be executed, through fanotify
 * FAN_OPEN_EXEC_PERM in its own FAN_CLASS_CONTENT group.
 *
 * The kernel holds the exec until the agent writes an answer, so the guard
 * is built so that nothing stays held:
 *  - one answering thread reads the events and answers what it can at once:
 *    the never-blocked files (the agent's own, the configured list), then
 *    the caller's decide callback (the verdict cache: clean answers allow,
 *    a malicious verdict deny under `prevent`). It never scans, never waits
 *    for a scanner and does no I/O but fstat on the event's descriptor
 *    (and, only for an exec it would deny or hold, a bounded walk of
 *    /proc/PID/stat parents to allow the agent and its children at once,
 *    and a readlink of the descriptor to match the never-blocked folders);
 *  - an unknown file is handed to the caller's submit callback with a
 *    duplicate of the descriptor and a deadline (opts.deadline_ms); a
 *    scanner answers with dy_guard_answer;
 *  - a watchdog thread of its own answers allow for every held exec whose
 *    deadline passed, whatever the scanners or the answering thread do
 *    (fail open; counted, and the caller's failed_open callback is told so
 *    it can alert). Every held event is answered exactly once: a slot's
 *    state is claimed with an atomic exchange by whoever answers first;
 *  - at most DY_GUARD_PENDING_MAX execs are held at once; one more is
 *    allowed at once, counted as overflow;
 *  - dy_guard_stop and dy_guard_destroy answer allow for everything held
 *    and close the group; if the process dies (crash, SIGKILL) the kernel
 *    closes the group and lets every held exec run.
 * Not covered: the whole agent process stopped (SIGSTOP, a debugger) holds
 * execs until it runs again; the kernel has no timeout for permission
 * events.
 *
 * Marks: every mounted file system that can hold programs (from
 * /proc/self/mountinfo, pseudo file systems such as proc, sysfs, cgroup
 * left out) is marked with FAN_MARK_FILESYSTEM (FAN_MARK_MOUNT where the
 * file system refuses it); the mount table is watched (POLLPRI) and new
 * file systems are marked as they appear.
 */
#ifndef RP_DETECTOR_YARA_GUARD_H
#define RP_DETECTOR_YARA_GUARD_H

#include "verdict.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define DY_GUARD_PENDING_MAX  256u
#define DY_GUARD_DEADLINE_DEF 200u   /* ms */
#define DY_GUARD_DEADLINE_MAX 10000u /* ms; more is RP_ERR_RANGE */
#define DY_GUARD_ALLOW_MAX    256u   /* never-blocked paths */
#define DY_GUARD_ANCESTRY_MAX 64u    /* parents walked to find the agent */

enum dy_guard_decision {
    DY_GUARD_ALLOW = 0,
    DY_GUARD_DENY = 1,
    DY_GUARD_PENDING = 2, /* decide only: not known, hand it to submit */
};

/* One exec permission event, borrowed for the callback. */
struct dy_guard_event {
    int fd;                /* the event's descriptor (the program, opened by the kernel) */
    pid_t pid;             /* the process that execs */
    const struct stat *st; /* fstat of fd */
    struct dy_file_id id;  /* from st */
    uint64_t read_ns;      /* CLOCK_MONOTONIC when the event was read */
    uint64_t deadline_ns;  /* CLOCK_MONOTONIC past which the watchdog allows */
    uint64_t token;        /* names the held exec for dy_guard_answer */
};

struct dy_guard_callbacks {
    void *ctx;
    /* On the answering thread; must not block. DY_GUARD_ALLOW or
     * DY_GUARD_DENY answer now (a deny of the agent's own process or its
     * children is turned into allow); DY_GUARD_PENDING holds the exec and
     * calls submit. */
    int (*decide)(void *ctx, const struct dy_guard_event *ev);
    /* On the answering thread; must not block. fd_owned is a duplicate of
     * the event's descriptor, owned by the callee (close it when done). The
     * callee answers later with dy_guard_answer(token). Nonzero: it cannot
     * take it (its queue is full): allowed at once, counted. fd_owned is
     * the callee's in both cases (on refusal it closes it before it
     * returns). The callee may answer before submit returns. */
    int (*submit)(void *ctx, const struct dy_guard_event *ev, int fd_owned);
    /* On the watchdog thread, after it allowed a held exec at its deadline;
     * must not block (count it, queue an alert). May be NULL. */
    void (*failed_open)(void *ctx, pid_t pid, const struct dy_file_id *id);
};

struct dy_guard_opts {
    uint32_t deadline_ms; /* 0: DY_GUARD_DEADLINE_DEF */
    /* Never blocked (borrowed for create): files (matched by device and
     * inode, taken at create) and folders (matched by the resolved path of
     * the event's descriptor), the agent's own included by the caller. */
    const char *const *allow_paths;
    uint32_t n_allow_paths;
    /* The agent's process id (0: getpid()); it and its descendants are
     * allowed at once. */
    pid_t agent_pid;
};

/* Latency of answers, from reading the event to writing the answer. */
struct dy_guard_latency {
    uint64_t count;
    uint64_t p50_ns, p99_ns, max_ns;
};

struct dy_guard_stats {
    uint64_t events;           /* exec permission events read */
    uint64_t allowed;          /* answered allow, all reasons */
    uint64_t denied;           /* answered deny */
    uint64_t allowed_listed;   /* never-blocked file or folder */
    uint64_t allowed_agent;    /* the agent or a child of it */
    uint64_t held;             /* handed to submit */
    uint64_t deadline_allowed; /* allowed by the watchdog at the deadline (fail open) */
    uint64_t overflow;         /* allowed because DY_GUARD_PENDING_MAX were held */
    uint64_t submit_refused;   /* allowed because submit refused */
    uint64_t late_answers;     /* dy_guard_answer after the watchdog answered */
    uint32_t held_now;
    uint32_t marks; /* file systems (or mounts) marked */
    /* Answered by the answering thread at once (decide, the lists, the
     * agent, overflow, a refused submit), and held execs answered later
     * (by dy_guard_answer, by the watchdog at the deadline or by stop). */
    struct dy_guard_latency at_once, scanned;
    /* Added after the first version (guard.c): */
    uint64_t errors;      /* fstat, dup or the answer's write failed (the exec is allowed) */
    uint32_t mark_errors; /* file systems in the mount table that could not be marked */
    uint32_t realtime;    /* the guard's threads running at SCHED_FIFO 1 (0-2) */
};

struct dy_guard;

/* Creates the guard (no thread, no fanotify group yet). RP_ERR_RANGE for a
 * deadline past DY_GUARD_DEADLINE_MAX or more than DY_GUARD_ALLOW_MAX
 * paths; RP_ERR_NOTFOUND for an allow path that does not exist (err says
 * which). cb is copied. */
int dy_guard_create(const struct dy_guard_opts *opts, const struct dy_guard_callbacks *cb,
                    struct dy_guard **out, char *err, size_t errlen);
/* Opens the fanotify group, marks the file systems and starts the two
 * threads. RP_ERR_PERM without CAP_SYS_ADMIN, RP_ERR_UNSUPPORTED when the
 * kernel has no FAN_OPEN_EXEC_PERM (err says which). */
int dy_guard_start(struct dy_guard *g, char *err, size_t errlen);
/* Allows everything held, stops and joins the threads, closes the group.
 * Idempotent. */
int dy_guard_stop(struct dy_guard *g);
void dy_guard_destroy(struct dy_guard *g); /* stops first; NULL: no-op */

/* Answers a held exec (any thread). 0; RP_ERR_NOTFOUND when it was already
 * answered (the watchdog allowed it at its deadline, or dy_guard_stop:
 * counted late); RP_ERR_INVAL for a decision other than allow or deny. A
 * deny for the agent or its children is turned into allow. Must not race
 * dy_guard_destroy (stop the scanners first). */
int dy_guard_answer(struct dy_guard *g, uint64_t token, int decision);

void dy_guard_stats(struct dy_guard *g, struct dy_guard_stats *out);

/* The parsers of what the guard reads from the kernel, apart from the
 * readers so that tests/fuzz/fuzz_yara_guard.c can feed them any text. */

/* One line of /proc/self/mountinfo ("ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS
 * [TAGS...] - FSTYPE SRC SOPTS"), split in place: the mount point is
 * unescaped (\ooo), path and fstype point into line. key is the file
 * system's device number, MAJ << 32 | MIN. false for a line that does not
 * have these fields. */
struct dy_mount {
    uint64_t key;
    const char *fstype;
    char *path;
};
bool dy_guard_mount_line(char *line, struct dy_mount *out);

/* The parent pid in the NUL-terminated text of /proc/PID/stat, or -1. */
pid_t dy_guard_stat_ppid(const char *text);

#endif
