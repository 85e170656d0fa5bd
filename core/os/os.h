/*
 * core/os/os.h - the platform layer. Shared core code calls only these
 * functions for anything that differs between operating systems; the
 * implementations live in core/os/unix/ and core/os/win/.
 *
 * All functions return 0 or a negative RP_ERR_* code unless stated otherwise.
 */
#ifndef RP_CORE_OS_H
#define RP_CORE_OS_H

#include <stddef.h>
#include <stdint.h>

/* Wall clock in nanoseconds since the Unix epoch. */
int64_t rp__os_time_ns(void);
/* Monotonic clock in nanoseconds, for intervals. */
int64_t rp__os_monotonic_ns(void);

/* Fills buf with len bytes from the system's CSPRNG. */
int rp__os_random(void *buf, size_t len);
/* Tunes the allocator for the agent's pattern (events made on one thread,
 * freed on another, in bursts). Call once at start, before threads. */
void rp__os_tune_memory(void);
/* This process's CPU time (user + system, all threads) and peak resident
 * memory in bytes. */
int rp__os_process_usage(int64_t *cpu_ns, uint64_t *peak_rss_bytes);

/* Host name into buf (always terminated). */
int rp__os_hostname(char *buf, size_t len);
/* The machine's stable id as lowercase hex or a GUID (/etc/machine-id; on
 * Windows the MachineGuid of the registry), for host.id. A copied disk image
 * shares it until it is regenerated, which is what installers do. buf gets
 * at most len - 1 bytes and a NUL; RP_ERR_NOTFOUND when there is none,
 * RP_ERR_PARSE when it is not what it should be (never trusted as text). */
int rp__os_machine_id(char *buf, size_t len);

/* Current process id. */
long rp__os_getpid(void);

/* True if path is absolute on this platform. */
int rp__os_path_is_absolute(const char *path);

/* Current working directory into buf. */
int rp__os_getcwd(char *buf, size_t len);

/* Canonical absolute path of an existing file or folder, from malloc (caller
 * frees). */
int rp__os_realpath(const char *path, char **out);

/* Creates a directory and its missing parents with the given mode. An
 * existing directory is success. */
int rp__os_mkdir_p(const char *path, unsigned mode);

/*
 * Reads a whole regular file of at most max_bytes into a NUL-terminated buffer
 * from malloc (caller frees). Returns RP_ERR_NOTFOUND, RP_ERR_PERM, RP_ERR_RANGE
 * (too large), RP_ERR_INVAL (not a regular file) or RP_ERR_IO; on failure
 * errno_out (if not NULL) holds the system error number.
 */
int rp__os_read_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                     int *errno_out);

/* Replaces path with data atomically (temporary file, fsync, rename). */
int rp__os_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Append-only files (event logs). A handle is an fd on Unix. */
typedef struct rp__os_file rp__os_file;
/* Opens (creating with mode) for appending. errno_out as for rp__os_read_file. */
int rp__os_file_open_append(const char *path, unsigned mode, rp__os_file **out, int *errno_out);
/* Writes all of buf, retrying short writes. */
int rp__os_file_write(rp__os_file *f, const void *buf, size_t len);
int rp__os_file_sync(rp__os_file *f);
/* Current size of the file in bytes. */
int rp__os_file_size(rp__os_file *f, uint64_t *size);
/* Renames a file, replacing the target if it exists. */
int rp__os_rename(const char *from, const char *to);
/* Deletes a file. RP_ERR_NOTFOUND when it is not there. */
int rp__os_remove(const char *path);
/* Calls fn(arg, name, size) for each regular file directly in dir, in no
 * particular order; a nonzero return from fn stops the walk and is
 * returned. RP_ERR_NOTFOUND when dir does not exist. */
int rp__os_dir_files(const char *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                     void *arg);
/* NULL is a no-op. */
void rp__os_file_close(rp__os_file *f);

/* Broken-down UTC time of a Unix time in seconds. */
struct tm;
int rp__os_gmtime(int64_t unix_secs, struct tm *out);

/*
 * Pid file: created (mode 0644) and locked for the life of the process so a
 * second agent on the same data folder is refused. On RP_ERR_BUSY, *holder_pid
 * is the pid recorded by the running agent (0 if unknown).
 */
typedef struct rp__os_pidfile rp__os_pidfile;
int rp__os_pidfile_acquire(const char *path, rp__os_pidfile **out, long *holder_pid);
/* Writes the current pid (after daemonizing the pid changes). */
int rp__os_pidfile_write(rp__os_pidfile *pf);
/* Unlocks and removes the file. NULL is a no-op. */
void rp__os_pidfile_release(rp__os_pidfile *pf);

/* Detaches from the terminal: double fork, new session, stdio to /dev/null,
 * working directory "/". Returns in the grandchild only. */
int rp__os_daemonize(void);

/* Signals the agent acts on. */
enum rp__os_signal { RP__OS_SIG_NONE = 0, RP__OS_SIG_STOP, RP__OS_SIG_RELOAD };

/* Blocks the stop and reload signals in the calling thread and every thread
 * it creates later, so that only rp__os_signal_wait() receives them. Call it
 * before any thread starts. */
int rp__os_signals_block(void);
/* Waits up to timeout_ms (-1 = forever) for a stop or reload signal and
 * stores which in *sig (RP__OS_SIG_NONE on timeout). */
int rp__os_signal_wait(int timeout_ms, enum rp__os_signal *sig);

/*
 * Plugins as shared libraries. rp__os_dl_open loads an absolute path with
 * every symbol bound now and none exported to later loads (RTLD_NOW |
 * RTLD_LOCAL on Unix; LoadLibraryExW with a restricted search path on
 * Windows). On failure err holds the system's reason.
 */
typedef struct rp__os_dl rp__os_dl;
typedef void (*rp__os_fn)(void);
int rp__os_dl_open(const char *abs_path, rp__os_dl **out, char *err, size_t errlen);
/* The address of an exported function, or NULL. */
rp__os_fn rp__os_dl_sym(rp__os_dl *dl, const char *name);
/* Frees the handle record and keeps the library loaded for the life of the
 * process (what production does). NULL is a no-op. */
void rp__os_dl_forget(rp__os_dl *dl);
/* Unloads. Production code never unloads a plugin (its code may still be on
 * a stack or referenced by a callback); tests may. NULL is a no-op. */
void rp__os_dl_close(rp__os_dl *dl);

/*
 * Trust before load: the file must be a regular file, and both it and its
 * folder must be owned by root or by the agent's own user and not writable
 * by group or others. Returns 0, or RP_ERR_PERM with the reason in reason
 * ("/x/y.so: writable by others (mode 0666)").
 */
int rp__os_check_trusted(const char *path, char *reason, size_t len);

/*
 * Reads a small file that only root may write (the per-machine site file):
 * a regular file, not a symbolic link, in a folder, both owned by root or the
 * agent's own user and writable by neither group nor others; at most
 * max_bytes. Checked on the opened descriptors. *data_out is NUL-terminated
 * (caller frees). RP_ERR_NOTFOUND when the file (or its folder) is missing;
 * RP_ERR_PERM, RP_ERR_INVAL, RP_ERR_RANGE or RP_ERR_IO with the reason
 * naming the path.
 */
int rp__os_read_protected_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                               char *reason, size_t len);

/* Asks the agent with this pid to reload its configuration (SIGHUP). */
int rp__os_send_reload(long pid);

/* System log (syslog/journald on Unix, the event log on Windows). level is an
 * rp__log_level value. */
void rp__os_syslog_open(const char *ident);
void rp__os_syslog_write(int level, const char *msg);
void rp__os_syslog_close(void);

#endif
