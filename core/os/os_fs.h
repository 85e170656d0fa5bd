/*
 * core/os/os_fs.h - files and folders, the one header of the platform layer
 * for them. First the one open-file type, rp__os_file, and its operations:
 * files opened, created, removed and listed in a folder opened once,
 * positioned reads and writes (the write-ahead spool, core/output/spool.c),
 * appends (event logs), truncation, data sync and folder sync; then (below)
 * whole files, append-only files, the agent's folders opened once, private
 * state files and the pid file.
 *
 * The spool's folder is an rp__os_dir (below), opened once by the agent:
 * every name is looked up in that open folder, never by a path again. A
 * rename of the folder, or a link put in place of its path later, does not
 * move the spool's files.
 *
 * Implementations: core/os/unix/file_unix.c (POSIX) and core/os/win/file_win.c
 * (Win32, compile-ready, not yet run on Windows); the folder handle and the
 * append-only open are those of os_unix.c and os_win.c (the folder's struct
 * in core/os/unix/dir_unix.h and core/os/win/dir_win.h).
 *
 * A file handle is a small value (an fd on Unix, a HANDLE on Windows) that the
 * caller keeps and must close once; nothing here allocates for an open file.
 * Functions return 0 or a negative RP_ERR_* code. Errors map as follows, so
 * that the spool can treat a full disk like a full spool:
 *   no space or quota exceeded (ENOSPC, EDQUOT, ERROR_DISK_FULL) -> RP_ERR_FULL
 *   the file exists (create only)                                -> RP_ERR_EXISTS
 *   no such file or folder                                       -> RP_ERR_NOTFOUND
 *   access denied                                                -> RP_ERR_PERM
 *   anything else                                                -> RP_ERR_IO
 * When errno_out is not NULL it receives the system's error number (a C errno
 * value, mapped on Windows) for the log line.
 *
 * On Unix an open refuses (RP_ERR_PERM) a symbolic link, anything but a
 * regular file, a file owned by another user than root or the agent's, and a
 * file with a second name (hard link): the agent writes it as root. Names
 * are single path components (no '/').
 *
 * Thread-safety: every function may be called from any thread; two threads
 * may read one handle at once (reads are positioned), but only one may write,
 * truncate or close it. Any number of threads may open, create, remove and
 * list names in one open folder at once; closing it must overlap none.
 */
#ifndef RP_CORE_OS_FS_H
#define RP_CORE_OS_FS_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp__os_file {
    intptr_t h; /* fd or HANDLE; RP__OS_FILE_NONE when closed */
} rp__os_file;

#define RP__OS_FILE_NONE ((intptr_t)-1)

/* 1 when f holds an open file. A handle that may stay unopened must start
 * as RP__OS_FILE_NONE (0 is a valid descriptor). */
static inline int rp__os_file_is_open(rp__os_file f)
{
    return f.h != RP__OS_FILE_NONE;
}

/* A folder of the agent's own, opened once: see rp__os_dir_open below. The
 * spool's files are opened, created, removed and listed in one. */
typedef struct rp__os_dir rp__os_dir;

/* Creates file name in dir (mode 0600 on Unix), opened for reading and
 * writing; RP_ERR_EXISTS if the name is taken. The name itself is durable
 * only after rp__os_dir_sync. */
int rp__os_file_create(const rp__os_dir *dir, const char *name, rp__os_file *out, int *errno_out);

/* Opens the existing file name in dir for reading and writing (writable !=
 * 0) or reading only; with create != 0 a missing file is created empty (mode
 * 0600). */
int rp__os_file_open(const rp__os_dir *dir, const char *name, int writable, int create,
                     rp__os_file *out, int *errno_out);

/* The current size in bytes. */
int rp__os_file_size(rp__os_file f, uint64_t *out);

/* Reads up to len bytes at offset off, retrying short reads; *got is the
 * number read, less than len only at the end of the file. */
int rp__os_file_read_at(rp__os_file f, uint64_t off, void *buf, size_t len, size_t *got);

/* Writes a[0..alen) then b[0..blen) at offset off, retrying short writes (one
 * system call for both on Unix). On failure some of the bytes may have been
 * written: the caller truncates them away. */
int rp__os_file_write_at(rp__os_file f, uint64_t off, const void *a, size_t alen, const void *b,
                         size_t blen, int *errno_out);

/* Sets the size to len (cutting or zero-extending). */
int rp__os_file_truncate(rp__os_file f, uint64_t len);

/* Makes the file's data and size durable (fdatasync / FlushFileBuffers). */
int rp__os_file_sync(rp__os_file f, int *errno_out);

/* Closes *f and marks it RP__OS_FILE_NONE; a closed handle is a no-op. */
void rp__os_file_close(rp__os_file *f);

/* Makes the creation and removal of names in dir durable (fsync of the
 * folder on Unix; NTFS journals names itself, so a no-op on Windows). */
int rp__os_dir_sync(const rp__os_dir *dir);

/* Calls fn(ctx, name) for every entry of dir except "." and ".." (names only,
 * whatever their type, in no particular order). A non-zero return from fn
 * stops the walk and is returned. */
int rp__os_dir_names(const rp__os_dir *dir, int (*fn)(void *ctx, const char *name), void *ctx);

/* ---- whole files, append-only files, folders ------------------------------
 * Implementations: core/os/unix/os_unix.c and protected_unix.c (POSIX),
 * core/os/win/os_win.c (Win32). */

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

/* Reads the open file f from its start to its end, which may be past size
 * (its size when it was checked) but never past max_bytes (RP_ERR_RANGE,
 * errno EFBIG), into a NUL-terminated buffer from malloc (caller frees).
 * Shared by every platform's readers (fs_common.c); f stays open. */
int rp__os_read_to_end(rp__os_file f, uint64_t size, size_t max_bytes, char **data_out,
                       size_t *len_out, int *errno_out);

/* Replaces path with data atomically (a new temporary file "<path>.tmp",
 * never an existing one, fsync, rename). */
int rp__os_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* Append-only files (event logs): an rp__os_file (see the top), opened
 * (creating with mode) for appending; every write goes to the end. errno_out
 * as for rp__os_read_file. RP_ERR_PERM (errno EPERM or ELOOP) for a symbolic
 * link, anything but a regular file, a file owned by another user than root
 * or the agent's, or one with a second name (hard link): the agent appends as
 * root. Close with rp__os_file_close; rp__os_file_size and rp__os_file_sync
 * work on it too. */
int rp__os_file_open_append(const char *path, unsigned mode, rp__os_file *out, int *errno_out);
/* Writes all of buf at the end of a file opened for appending (at the
 * current position of any other), retrying short writes. RP_ERR_FULL when
 * the disk is full, RP_ERR_IO otherwise. */
int rp__os_file_write(rp__os_file f, const void *buf, size_t len);
/* Renames a file, replacing the target if it exists. */
int rp__os_rename(const char *from, const char *to);
/* Deletes a file. RP_ERR_NOTFOUND when it is not there. */
int rp__os_remove(const char *path);
/* Calls fn(arg, name, size) for each regular file directly in dir, in no
 * particular order; a nonzero return from fn stops the walk and is
 * returned. RP_ERR_NOTFOUND when dir does not exist. */
int rp__os_dir_files(const char *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                     void *arg);

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
/* The pid pid files name from now on in place of the current process's
 * (0: the current one): a worker names its supervisor, which outlives it
 * and is the process to signal. */
void rp__os_pidfile_set_owner(long pid);

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
/* Opens folder path after the rule of rp__os_dir_check_private (every folder
 * from the root checked, path itself private). *out is the caller's. */
int rp__os_dir_open(const char *path, rp__os_dir **out, char *reason, size_t len);
/* As rp__os_dir_open, but path itself must not be a symbolic link either
 * (RP_ERR_PERM), as rp__os_subdir_check_private says: for a folder of the
 * agent's own named by path (the spool's, when opened by path). */
int rp__os_dir_open_nolink(const char *path, rp__os_dir **out, char *reason, size_t len);
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
/* The folder's descriptor, for a plugin's openat (its private folder); -1
 * where the platform has none (Windows keeps the checked path). Borrowed:
 * valid until rp__os_dir_close. */
int64_t rp__os_dir_native(const rp__os_dir *dir);
/* Sets the folder's permission bits to mode through the open handle (never
 * by path); a no-op on Windows, whose folders take their parent's ACL. */
int rp__os_dir_set_mode(rp__os_dir *dir, unsigned mode);
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
int rp__os_dir_open_append(rp__os_dir *dir, const char *name, unsigned mode, rp__os_file *out,
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

#endif
