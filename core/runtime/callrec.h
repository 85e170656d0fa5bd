/*
 * core/runtime/callrec.h - which plugin and which callback each thread is
 * running, kept in memory another process can read.
 *
 * The host calls rp__callrec_enter before every call into a plugin and
 * rp__callrec_leave after it. Each thread that ever enters a plugin owns one
 * slot of a fixed table; entering writes three words to it (no clock, no
 * syscall), so it costs a few nanoseconds on the event path. Readers:
 *  - the crash handler (async-signal-safe): the faulting thread's own slot
 *    says which plugin and callback the fault happened in;
 *  - the supervisor, after the worker died (the table lives in a MAP_SHARED
 *    mapping made before fork, so it survives the worker);
 *  - the hang watchdog: a slot whose seq did not move while it stayed inside
 *    a plugin for longer than that callback's deadline is a hang.
 *
 * Without a supervisor the table is private memory of the process (same code
 * path). Caps: RP__CR_SLOTS threads and RP__CR_PLUGINS plugin records; a
 * thread that finds no free slot is not recorded (counted in slots_missed),
 * and a plugin past the record cap gets index 0 (not attributable, logged by
 * the loader).
 */
#ifndef RP_CORE_CALLREC_H
#define RP_CORE_CALLREC_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RP__CR_MAGIC    0x52504352u /* "RPCR" */
#define RP__CR_VERSION  1u
#define RP__CR_SLOTS    256u
#define RP__CR_PLUGINS  128u
#define RP__CR_NAME_MAX 64u
#define RP__CR_PATH_MAX 512u
#define RP__CR_RANGES   8u
#define RP__CR_TEXT_MAX 512u

/* The kind of call a thread is in. Stable numbers: the supervisor of one
 * build may read the table of a worker of the same build only, but the
 * numbers also appear in logs and alerts by name (rp__callrec_kind_name). */
enum rp__cr_kind {
    RP__CR_NONE = 0,
    RP__CR_ENTRY,        /* rampart_plugin_entry_v1 */
    RP__CR_CHECK_CONFIG, /* check_config */
    RP__CR_INIT,
    RP__CR_START,
    RP__CR_STOP,
    RP__CR_DESTROY,
    RP__CR_RECONFIGURE,
    RP__CR_EVENT,      /* on_event */
    RP__CR_COMMAND,    /* on_command */
    RP__CR_TIMER,      /* a timer callback */
    RP__CR_FD,         /* an fd watch callback */
    RP__CR_JOB,        /* a worker job's work function */
    RP__CR_JOB_DONE,   /* a worker job's done callback */
    RP__CR_OWN_THREAD, /* not entered: found by the faulting address (crash only) */
    RP__CR_KINDS
};

/* One thread's record. Written only by its thread (relaxed atomics: readers
 * want a recent value, never a consistent snapshot of several slots). A
 * cache line each: threads entering plugins at once must not write to
 * one line. */
struct rp__cr_slot {
    _Alignas(64) _Atomic uint32_t tid; /* kernel thread id; 0 = free */
    _Atomic uint32_t plugin;           /* plugin record index + 1; 0 = in the core */
    _Atomic uint32_t kind;             /* enum rp__cr_kind; RP__CR_NONE in the core */
    _Atomic uint32_t seq; /* +1 at every enter: a watchdog tells a new call from a long one */
};

/* One loaded plugin, written by the loader before the plugin's code first
 * runs, read by the crash handler and the supervisor. The text ranges are
 * the plugin's executable segments, to attribute a crash on a thread the
 * plugin made itself (no slot says "in plugin" there). */
struct rp__cr_plugin {
    char name[RP__CR_NAME_MAX];
    char path[RP__CR_PATH_MAX]; /* the file as configured (not the memfd copy) */
    uint64_t dev, ino, size;    /* the file's identity when loaded: a changed file is */
    int64_t mtime_ns;           /* a new plugin for the fault ledger */
    uint64_t text_lo[RP__CR_RANGES], text_hi[RP__CR_RANGES]; /* [lo, hi) */
    uint32_t nranges;
    _Atomic uint32_t live; /* 1 while loaded: ranges valid */
    _Atomic uint32_t hung; /* set by the watchdog, shown as state "hung" */
    uint32_t reserved;
};

/* What the crash handler writes (first fault wins; the handler then lets the
 * signal kill the process). */
struct rp__cr_crash {
    _Atomic uint32_t signo; /* 0 = none recorded */
    int32_t code;           /* si_code */
    uint32_t tid;
    uint32_t plugin; /* plugin record index + 1, 0 = the core or unknown */
    uint32_t kind;   /* enum rp__cr_kind */
    uint32_t reserved;
    uint64_t pc;   /* faulting instruction, 0 if unknown */
    uint64_t addr; /* si_addr */
};

/* Why a worker is about to exit on purpose (a hang, a budget): written by
 * the worker before it exits, read by the supervisor for the restart's cause
 * and the fault ledger. cause 0 = none. */
enum rp__cr_exit_cause {
    RP__CR_EXIT_NONE = 0,
    RP__CR_EXIT_HANG,    /* a plugin overran a callback deadline */
    RP__CR_EXIT_BUDGET,  /* a plugin or the worker overran a budget */
    RP__CR_EXIT_STOP,    /* asked to stop (SIGTERM): not a fault */
    RP__CR_EXIT_RESTART, /* asked to restart now (rampartctl plugins enable): not a fault */
};

struct rp__cr_exit {
    _Atomic uint32_t cause; /* enum rp__cr_exit_cause */
    uint32_t plugin;        /* plugin record index + 1, 0 = none */
    uint32_t kind;          /* enum rp__cr_kind */
    uint32_t reserved;
    char detail[RP__CR_TEXT_MAX]; /* one sentence, NUL-terminated */
};

struct rp__callrec {
    uint32_t magic, version, size; /* RP__CR_MAGIC, RP__CR_VERSION, sizeof */
    _Atomic uint32_t worker_pid;
    _Atomic uint32_t nplugins; /* records in use (grows; never reused in one worker) */
    _Atomic uint32_t slots_missed;
    struct rp__cr_crash crash;
    struct rp__cr_exit exit;
    /* Supervisor -> worker: the restarts so far and the last one's cause, for
     * the alert the new worker raises once it runs (restart_seq > 0). */
    _Atomic uint32_t restart_seq;
    uint32_t reserved;
    char restart_cause[RP__CR_TEXT_MAX];
    struct rp__cr_plugin plugins[RP__CR_PLUGINS];
    struct rp__cr_slot slots[RP__CR_SLOTS];
};

/* The table the process writes to: the supervisor's shared mapping, or the
 * process's own (made at first use). Never NULL after rp__callrec_init. */
extern struct rp__callrec *rp__callrec_table;

/* Maps a table of its own (private anonymous memory) when none is set.
 * 0, or RP_ERR_NOMEM. Idempotent. */
int rp__callrec_init(void);
/* Makes a MAP_SHARED table for a worker to inherit across fork; the caller
 * (the supervisor) keeps the pointer. rp__callrec_reset clears what one
 * worker left (slots, plugins, crash, exit) but keeps the restart fields. */
int rp__callrec_create_shared(struct rp__callrec **out);
void rp__callrec_destroy_shared(struct rp__callrec *cr);
void rp__callrec_use(struct rp__callrec *cr);
void rp__callrec_reset(struct rp__callrec *cr);

/* Registers a plugin (name and file identity); *index gets the record index
 * + 1 to pass to rp__callrec_enter, or 0 when the table is full. */
int rp__callrec_plugin_add(const char *name, const char *path, uint64_t dev, uint64_t ino,
                           uint64_t size, int64_t mtime_ns, uint32_t *index);
/* Adds an executable range of a loaded plugin; RP_ERR_FULL past RP__CR_RANGES. */
int rp__callrec_plugin_range(uint32_t index, uint64_t lo, uint64_t hi);
/* The plugin was unloaded: its ranges no longer attribute anything. */
void rp__callrec_plugin_gone(uint32_t index);

/* Around a call into a plugin (index from rp__callrec_plugin_add; 0 records
 * nothing). Returns what the slot held, for rp__callrec_leave to restore:
 * a plugin calling the host that calls another plugin nests correctly. */
uint64_t rp__callrec_enter(uint32_t index, enum rp__cr_kind kind);
void rp__callrec_leave(uint64_t saved);

/* This thread's slot, or NULL (not claimed yet, or none free). Safe in a
 * signal handler. */
struct rp__cr_slot *rp__callrec_slot(void);
/* Frees this thread's slot; threads that end call it (optional: a slot of a
 * dead thread only wastes room). */
void rp__callrec_thread_exit(void);

/* The plugin whose text holds pc, as index + 1, or 0. Async-signal-safe. */
uint32_t rp__callrec_plugin_at(const struct rp__callrec *cr, uint64_t pc);

/* The crash handler's record (os_sup.h rp__os_crash_install): the first
 * fault of the process writes table->crash with the faulting thread's slot,
 * or, when that says "core", the plugin whose text holds pc (kind
 * RP__CR_OWN_THREAD). Async-signal-safe. */
void rp__callrec_crash(int signo, int code, uint64_t pc, uint64_t addr);

/* "on_event", "init", "timer"... for logs and alerts. */
const char *rp__callrec_kind_name(uint32_t kind);

#endif
