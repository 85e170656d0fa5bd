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

/* Replaces path with data atomically (a new temporary file "<path>.tmp",
 * never an existing one, fsync, rename). */
int rp__os_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Append-only files (event logs). A handle is an fd on Unix. */
typedef struct rp__os_file rp__os_file;
/* Opens (creating with mode) for appending. errno_out as for rp__os_read_file.
 * RP_ERR_PERM (errno EPERM or ELOOP) for a symbolic link, anything but a
 * regular file, a file owned by another user than root or the agent's, or one
 * with a second name (hard link): the agent appends as root. */
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
 * is the pid recorded by the running agent (0 if unknown). RP_ERR_PERM when
 * path is a symbolic link or not a regular file of root or the agent's user.
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
 * Plugins as shared libraries. rp__os_dl_open_trusted loads an absolute path
 * with every symbol bound now and none exported to later loads (RTLD_NOW |
 * RTLD_LOCAL on Unix; LoadLibraryExW with a restricted search path on
 * Windows), after the trust check (ARCHITECTURE section 3 rule 11), without
 * ever trusting the path twice:
 *   - every folder from the root down to the file's folder, reached one
 *     component at a time from a descriptor of its parent (symbolic links
 *     followed the same way), must be owned by root or by the agent's own
 *     user and not writable by group or others. A folder writable by group
 *     or others is accepted above the file's folder only when it has the
 *     sticky bit (like /tmp): there, only an entry's owner may rename or
 *     remove it, and every entry the walk passes through must itself be owned
 *     by root or the agent's user, so no one else can swap it;
 *   - the file's own folder is never writable by group or others;
 *   - the file is opened once (no symbolic link as its last component), and
 *     that descriptor is checked (a regular file, owned by root or the
 *     agent's user, not writable by group or others) and loaded
 *     (/proc/self/fd/N). The descriptor stays open for the life of the
 *     process: the C library knows loaded objects by name, and a reused N
 *     would give back the plugin loaded before.
 * Returns 0; RP_ERR_PERM when the trust check refuses, with the reason in
 * err ("/x/y: writable by group (mode 0775); expected ..."); another code
 * (RP_ERR_IO) when the system cannot load the file, with its reason in err.
 */
typedef struct rp__os_dl rp__os_dl;
typedef void (*rp__os_fn)(void);
int rp__os_dl_open_trusted(const char *abs_path, rp__os_dl **out, char *err, size_t errlen);
/* The address of an exported function, or NULL. */
rp__os_fn rp__os_dl_sym(rp__os_dl *dl, const char *name);
/* Frees the handle record and keeps the library loaded (and its descriptor
 * open) for the life of the process (what production does). NULL is a
 * no-op. */
void rp__os_dl_forget(rp__os_dl *dl);
/* Unloads. Production code never unloads a plugin (its code may still be on
 * a stack or referenced by a callback); tests may. NULL is a no-op. */
void rp__os_dl_close(rp__os_dl *dl);

/*
 * The agent's own folders (agent.data_dir, and the folders of agent.pid_file
 * and output.file): every folder from the root down to path follows the rule
 * of rp__os_dl_open_trusted, and path itself must be owned by root or the
 * agent's user and not writable by group or others (sticky or not), so that
 * no one else can plant or swap a file in it. Returns 0, or RP_ERR_PERM with
 * the reason in reason ("/srv/x: owned by uid 1001; expected root or the
 * agent's user (uid 0)"), RP_ERR_NOTFOUND when a folder is missing.
 */
int rp__os_dir_check_private(const char *path, char *reason, size_t len);
/* As rp__os_dir_check_private for a folder inside one already checked
 * (<data_dir>/spool): path itself must not be a symbolic link either, since
 * one there would send the agent's writes elsewhere. RP_ERR_NOTFOUND when it
 * is not there (yet). */
int rp__os_subdir_check_private(const char *path, char *reason, size_t len);

/*
 * A folder of the agent's own, opened once (ARCHITECTURE rule: never trust a
 * path twice). The path is resolved and checked when the folder is opened;
 * every file function below then works relative to that open folder, so
 * renaming the folder away and planting a link or another folder at its old
 * path changes nothing: what the agent writes still lands in the folder it
 * checked. A Unix handle is a descriptor; the Windows port keeps the checked
 * path for now (see core/os/win/os_win.c).
 *
 * Names given to these functions are one component: no separator, not "."
 * or ".." (RP_ERR_INVAL otherwise). reason (when a function takes one) gets a
 * message naming "<folder>/<name>". Thread-safety: a handle may be used from
 * several threads at once (each call is one system call on the descriptor or
 * a file of its own); closing it must wait until no one uses it.
 */
typedef struct rp__os_dir rp__os_dir;

/* Opens folder path after the rule of rp__os_dir_check_private (every folder
 * from the root checked, path itself private). *out is the caller's. */
int rp__os_dir_open(const char *path, rp__os_dir **out, char *reason, size_t len);
/* Opens the folder that holds file path (absolute) as rp__os_dir_open does;
 * *name points at the file's last component inside path. */
int rp__os_dir_open_parent(const char *path, rp__os_dir **out, const char **name, char *reason,
                           size_t len);
/* Opens subfolder name of dir, first creating it with create_mode when that
 * is not 0 and it is missing. It must be a folder, not a symbolic link, owned
 * by root or the agent's user and writable by neither group nor others.
 * RP_ERR_NOTFOUND when it is missing (and create_mode is 0); RP_ERR_PERM with
 * the reason otherwise. */
int rp__os_dir_sub(rp__os_dir *dir, const char *name, unsigned create_mode, rp__os_dir **out,
                   char *reason, size_t len);
/* A second handle on the same folder (for a module that keeps its own). */
int rp__os_dir_dup(const rp__os_dir *dir, rp__os_dir **out);
/* The path the folder was opened by, for messages only; never reopened. */
const char *rp__os_dir_path(const rp__os_dir *dir);
/* NULL is a no-op. */
void rp__os_dir_close(rp__os_dir *dir);

/* Replaces name in dir with data atomically: a new temporary file of a
 * random name (created exclusively, never following a link), fsync, rename
 * over name, fsync of the folder. A link at name is replaced, never
 * followed. */
int rp__os_dir_write_atomic(rp__os_dir *dir, const char *name, const void *data, size_t len,
                            unsigned mode);
/* Reads small state file name of dir (at most max_bytes), refused
 * (RP_ERR_PERM, reason) unless a regular file with one name, owned by root
 * or the agent's user, not writable by group or others, and not a symbolic
 * link; checked on the open descriptor. *data_out is NUL-terminated (caller
 * frees). RP_ERR_NOTFOUND when missing, RP_ERR_RANGE when larger. */
int rp__os_dir_read_small(rp__os_dir *dir, const char *name, size_t max_bytes, char **data_out,
                          size_t *len_out, char *reason, size_t len);
/* As rp__os_file_open_append for file name of dir (the same refusals,
 * checked on the descriptor). */
int rp__os_dir_open_append(rp__os_dir *dir, const char *name, unsigned mode, rp__os_file **out,
                           int *errno_out);
/* Renames from to to inside dir, replacing to. RP_ERR_NOTFOUND when from is
 * missing. */
int rp__os_dir_rename(rp__os_dir *dir, const char *from, const char *to);
/* Removes file name of dir. RP_ERR_NOTFOUND when it is not there. */
int rp__os_dir_remove(rp__os_dir *dir, const char *name);
/* As rp__os_dir_files for the open folder. */
int rp__os_dir_list(rp__os_dir *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                    void *arg);
/* As rp__os_pidfile_acquire for file name of dir; the release removes that
 * name from that folder. */
int rp__os_dir_pidfile_acquire(rp__os_dir *dir, const char *name, rp__os_pidfile **out,
                               long *holder_pid);

/*
 * Reads a small state file of the agent's own (agent_id): as rp__os_read_file,
 * but opened without following a symbolic link, and refused (RP_ERR_PERM,
 * reason in reason) unless it is a regular file with one link, owned by root
 * or the agent's user and not writable by group or others.
 */
int rp__os_read_private_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                             char *reason, size_t len);

/*
 * The pid of the agent that holds the lock on pid file path (see
 * rp__os_pidfile_acquire). RP_ERR_NOTFOUND when there is no file or no one
 * holds its lock (a stale file: the pid it names may belong to anyone now);
 * RP_ERR_PERM when the file is not a regular file owned by root or the
 * caller's user. *pid is set only on success.
 */
int rp__os_pidfile_holder(const char *path, long *pid);

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
