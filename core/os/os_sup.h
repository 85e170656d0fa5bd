/*
 * core/os/os_sup.h - what the supervisor (core/supervisor.c) and the
 * worker's crash handlers need from the system: detaching in two steps,
 * forking the worker with a pipe that says it is ready, waiting for signals
 * and the worker, reading the worker's CPU time and resident memory, and
 * the fatal-signal handlers.
 *
 * Linux only. Elsewhere (the Windows port) rp__os_sup_supported is 0, every
 * other function returns RP_ERR_UNSUPPORTED, and rampartd runs as one
 * process, as with agent.supervisor.enabled false.
 */
#ifndef RP_CORE_OS_SUP_H
#define RP_CORE_OS_SUP_H

#include "os/os_fs.h"

#include <stddef.h>
#include <stdint.h>

/* 1 where the supervisor can run. */
int rp__os_sup_supported(void);

/*
 * Detaching, in two steps, so that the errors of the first worker's start-up
 * still reach the terminal with their exit status. begin forks: the
 * original process waits for the status rp__os_sup_detach_done sends and
 * exits with it (0 when the daemon ran, or the worker's start-up failure);
 * the child starts a new session and forks again, and that process (the
 * daemon) returns 0, still holding the terminal's stdio and working folder.
 * done sends code to the waiting process (once), then moves the daemon to
 * "/" and its stdio to /dev/null.
 */
int rp__os_sup_detach_begin(void);
void rp__os_sup_detach_done(int code);

/* A worker's own detach once its start-up worked: "/" and /dev/null for
 * stdio, as rp__os_daemonize does, without forking. */
int rp__os_sup_worker_detach(void);

/*
 * Forks the worker. In the supervisor *pid is the worker's pid and *ready_fd
 * the read end of a pipe on which the worker writes one byte when it runs
 * (rp__os_sup_worker_ready); EOF without that byte: it died first. In the
 * worker *pid is 0 and the stop/reload signals stay blocked (the agent
 * waits for them as before).
 */
int rp__os_sup_fork(long *pid, int *ready_fd);
/* In the worker: its start-up is done. */
void rp__os_sup_worker_ready(void);
/* Closes a descriptor rp__os_sup_fork gave (-1 is a no-op). */
void rp__os_sup_close(int fd);

/* What rp__os_sup_wait woke for. */
enum rp__os_sup_wake {
    RP__OS_SUP_TIMEOUT = 0,
    RP__OS_SUP_STOP,   /* SIGTERM or SIGINT: *signo says which */
    RP__OS_SUP_RELOAD, /* SIGHUP */
    RP__OS_SUP_CHILD,  /* a child changed state: reap it */
    RP__OS_SUP_READY,  /* ready_fd is readable (a byte or EOF) */
};
/* Sets up the supervisor's signals (stop, reload and child blocked and
 * read through a descriptor). Once, before the first fork. */
int rp__os_sup_signals(void);
/* Waits up to timeout_ms for one of the above; ready_fd -1: not watched. */
int rp__os_sup_wait(int ready_fd, int timeout_ms, enum rp__os_sup_wake *what, int *signo);
/* Reads the ready byte: 1 when the worker said it runs, 0 at EOF. */
int rp__os_sup_ready_read(int ready_fd);

/* Reaps pid without waiting: 1 when it ended (*code its exit status, or -1
 * when a signal killed it, then *signo), 0 when it still runs. */
int rp__os_sup_reap(long pid, int *code, int *signo);
/* Blocks until pid ended, at most timeout_ms (-1: no limit); as reap. */
int rp__os_sup_reap_wait(long pid, int timeout_ms, int *code, int *signo);

enum rp__os_sup_sig {
    RP__OS_SUP_SIGTERM,
    RP__OS_SUP_SIGINT,
    RP__OS_SUP_SIGHUP,
    RP__OS_SUP_SIGKILL
};
int rp__os_sup_signal(long pid, enum rp__os_sup_sig sig);
/* The signal number rp__os_sup_wait reported, as one of the above. */
enum rp__os_sup_sig rp__os_sup_sig_of(int signo);

/* pid's CPU time (user + system) and resident memory, from /proc. */
int rp__os_sup_usage(long pid, int64_t *cpu_ns, uint64_t *rss_bytes);

/* "SIGSEGV", "SIGKILL"..., or "signal N" in buf. */
const char *rp__os_signal_name(int signo, char *buf, size_t len);

/*
 * Crash handlers (in the worker): SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT
 * and SIGSYS call record (async-signal-safe; pc from the signal's context,
 * 0 if unknown) on an alternate stack where the thread has one, then the
 * signal kills the process as it would have. The calling thread gets an
 * alternate stack; threads started by rp__os_thread_start get theirs.
 */
typedef void (*rp__os_crash_fn)(int signo, int code, uint64_t pc, uint64_t addr);
int rp__os_crash_install(rp__os_crash_fn record);
/* An alternate signal stack for the calling thread (NULL when none could be
 * made or no handler is installed); rp__os_crash_thread_end frees it. */
void *rp__os_crash_thread_begin(void);
void rp__os_crash_thread_end(void *stack);

/* A lock file in an open folder (os_fs.h), held with flock until released:
 * serialises the writers of one state file across processes. */
int rp__os_dir_lock(rp__os_dir *dir, const char *name, int *fd_out);
void rp__os_dir_unlock(int fd);

#endif
