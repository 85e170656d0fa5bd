/*
 * kill.h - the safe-kill core of responder_kill (issue 15, item 3): signal a
 * process named by its pid and its start time (clock ticks since boot, field
 * 22 of /proc/<pid>/stat: the unit of collector_process's process.start and
 * of the entity id), only if that pid still names that process, and never
 * pid 1, kernel threads, the agent, its ancestors or a protected program.
 *
 * Every function keeps no state between calls and may run on any thread.
 * Buffers are the caller's; nothing is allocated. Linux only (/proc, pidfd).
 */
#ifndef RP_RESPONDER_KILL_KILL_H
#define RP_RESPONDER_KILL_KILL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The outcome of one kill, which the responder publishes (rk_code_name gives
 * its name for the response event). Refusals are distinct so the analyst
 * reads why nothing happened. */
enum rk_code {
    RK_DONE = 0,               /* the signal was delivered to that process */
    RK_GONE,                   /* the process had already exited (or is a zombie) */
    RK_REFUSED_INIT,           /* pid <= 1: init, or no process at all */
    RK_REFUSED_KTHREAD,        /* a kernel thread (PF_KTHREAD, kthreadd or its child) */
    RK_REFUSED_SELF,           /* the agent, one of its threads or an ancestor */
    RK_REFUSED_PROTECTED_EXE,  /* its executable is on the protected list */
    RK_REFUSED_PROTECTED_COMM, /* its command name is on the protected list */
    RK_REFUSED_REUSED,         /* the pid now names another process (start differs) */
    RK_REFUSED_THREAD,         /* the id is a thread's, not a process's */
    RK_FAILED                  /* could not check or signal; rk_result.err says why */
};

/* Its name for events, such as "refused_reused"; "unknown" for other values. */
const char *rk_code_name(int code);

/* The protected list, made at config time. Executables are kept by device
 * and inode, taken when they are added, so a process is matched by the file
 * it runs, not by a name an attacker can copy or a path that can be
 * replaced. Names are matched against the 15-byte command name (comm), which
 * any process can set: an optional, weaker guard. At most RK_PROTECT_MAX of
 * each; adding one more returns RP_ERR_FULL. */
#define RK_PROTECT_MAX 64
#define RK_COMM_MAX    16

struct rk_protect {
    uint32_t n_exe, n_comm;
    dev_t exe_dev[RK_PROTECT_MAX];
    ino_t exe_ino[RK_PROTECT_MAX];
    char comm[RK_PROTECT_MAX][RK_COMM_MAX];
};

/* Adds the file at path (followed: the program that runs is the target);
 * RP_ERR_NOTFOUND when it does not exist, RP_ERR_INVAL when not a regular
 * file. */
int rk_protect_add_exe(struct rk_protect *p, const char *path);
/* Adds a command name; RP_ERR_RANGE when longer than 15 bytes. */
int rk_protect_add_comm(struct rk_protect *p, const char *comm);

/* Options of a kill; a zeroed struct is valid (no protected list). */
struct rk_opts {
    const struct rk_protect *protect; /* borrowed, may be NULL */
    int force_proc_fallback;          /* tests: act as if pidfd_open were ENOSYS */
    int force_ppid_scan;              /* tests: find children by scanning /proc */
    uint32_t tree_max_ms;             /* rk_kill_tree's time bound; 0: RK_TREE_MS */
    /* Tests: called after every check, right before the signal, to reuse
     * the pid in that window; NULL in the agent. */
    void (*before_signal)(void *arg);
    void *before_signal_arg;
};

struct rk_result {
    int code;          /* enum rk_code */
    int err;           /* errno of RK_FAILED, else 0 */
    int used_fallback; /* no pidfd: /proc/<pid> was re-checked right before kill(2) */
};

/* rk_kill_one: sends sig (0 checks only) to pid if its start time is start.
 * The pid is pinned first with pidfd_open; the start read from /proc after
 * that proves the pidfd is that process (a pidfd cannot be re-pointed), and
 * the signal goes through the pidfd. Without pidfd_open (ENOSYS, kernels
 * before 5.3) a descriptor of /proc/<pid> is held instead: the start is read
 * through it again right before kill(2), which narrows the window without
 * closing it, and result->used_fallback says so. Returns 0 with the outcome
 * in result (a refusal is not an error), or RP_ERR_INVAL for bad arguments. */
int rk_kill_one(int32_t pid, uint64_t start, int sig, const struct rk_opts *opts,
                struct rk_result *result);

/* A process found in a tree: pid, start (clock ticks), its depth under the
 * root (1: a child) and its state letter when found ('T': stopped). */
struct rk_proc {
    int32_t pid;
    uint64_t start;
    uint32_t depth;
    char state;
};

#define RK_TREE_DEPTH_MAX 64   /* levels followed under the root */
#define RK_TREE_MAX       4096 /* processes rk_kill_tree handles */
#define RK_TREE_MS        2000 /* rk_kill_tree's default time bound */

/* rk_proc_parent: the parent pid and the start (clock ticks) of pid, from
 * one read of /proc/<pid>/stat. RP_ERR_NOTFOUND when it is gone,
 * RP_ERR_PARSE for stat text it cannot read. */
int rk_proc_parent(int32_t pid, int32_t *ppid, uint64_t *start);

/* The fields of /proc/<pid>/stat used here. */
struct rk_stat {
    char state;
    int32_t ppid;
    uint32_t flags;
    uint64_t start;
    char comm[RK_COMM_MAX];
};

/* rk_parse_stat: the fields of the NUL-terminated text of a
 * /proc/<pid>/stat file into st; RP_ERR_PARSE on text it does not
 * understand. Separate from the readers so that it can be fuzzed
 * (tests/fuzz/fuzz_procfs.c). */
int rk_parse_stat(const char *buf, struct rk_stat *st);

/* rk_descendants: the live descendants of pid (whose start must be start),
 * breadth first, into out (cap entries, cap >= 1), *n of them: at most
 * cap - 1, since the walk keeps the root in out[0] while it runs. From
 * /proc/<pid>/task/<tid>/children when the kernel has it, else from one
 * bounded scan of /proc/<pid>/stat's parent pids. A child whose start is
 * before its parent's is left out (its pid was reused during the walk).
 * Returns 0; RP_ERR_NOTFOUND when pid is gone or now another process;
 * RP_ERR_FULL when they did not all fit (out holds the first *n);
 * RP_ERR_RANGE when deeper than RK_TREE_DEPTH_MAX (out holds what was
 * found). */
int rk_descendants(int32_t pid, uint64_t start, const struct rk_opts *opts, struct rk_proc *out,
                   size_t cap, size_t *n);

/* The outcome of a tree kill. */
struct rk_tree_result {
    int code;          /* the root's outcome (enum rk_code) */
    uint32_t killed;   /* descendants that got SIGKILL */
    uint32_t refused;  /* descendants refused (protected ones are spared) */
    uint32_t gone;     /* descendants that exited on their own meanwhile */
    uint32_t rounds;   /* stop-and-rescan rounds */
    int limited;       /* the count or time bound was hit: some may survive */
    int used_fallback; /* any kill used the /proc fallback */
};

/* rk_kill_tree: kills pid (start) and its descendants. The root is stopped
 * first (SIGSTOP) so it forks no more; then, round by round, every
 * descendant found is stopped too, until a round finds no new one: a stopped
 * process cannot fork, so the set is closed. Then each descendant gets
 * SIGKILL, deepest first, and the root last, every one with the pid and
 * start re-check of rk_kill_one. Killing the children while their parents
 * are stopped, rather than the parent first, keeps them from being
 * reparented out of the tree before they are found. Bounded by RK_TREE_MAX
 * processes (work is the caller's buffer of work_cap entries, at most that
 * many are used) and opts->tree_max_ms; past either, what was found is
 * killed all the same (a runaway tree is better cut than left stopped) and
 * result->limited is set. Returns 0 with the outcome in result, or
 * RP_ERR_INVAL. */
int rk_kill_tree(int32_t pid, uint64_t start, const struct rk_opts *opts, struct rk_proc *work,
                 size_t work_cap, struct rk_tree_result *result);

#endif
