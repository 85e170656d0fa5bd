/*
 * core/os/os_spool.h - the file operations the write-ahead spool (core/output/spool.c)
 * needs beyond core/os/os.h: a folder opened once, files opened, created,
 * removed and listed in it, positioned reads and writes, truncation, data
 * sync and folder sync.
 *
 * The spool's path is trusted once: rp__os_spool_dir_open opens the folder
 * and checks what it opened; every name after that is looked up in that
 * open folder, never by a path again. A rename of the folder, or a link put
 * in place of its path later, does not move the spool's files.
 *
 * Implementations: core/os/unix/spool_unix.c (POSIX) and core/os/win/spool_win.c
 * (Win32, compile-ready, not yet run on Windows).
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
#ifndef RP_CORE_OS_SPOOL_H
#define RP_CORE_OS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp__os_sfile {
    intptr_t h; /* fd or HANDLE; RP__OS_SFILE_NONE when closed */
} rp__os_sfile;

#define RP__OS_SFILE_NONE ((intptr_t)-1)

/* An open folder. Unix: its descriptor. Windows: its path, and a handle on
 * the folder opened without FILE_SHARE_DELETE so that nobody can rename or
 * remove it while the spool holds it; Win32 has no open-relative-to-a-handle
 * call, so the names are joined to that pinned path. */
typedef struct rp__os_sdir rp__os_sdir;

/* Opens folder path, not following a symbolic link in its last component,
 * and checks the open folder: a directory, owned by root or the agent's user,
 * writable by neither group nor others (RP_ERR_PERM otherwise; RP_ERR_NOTFOUND
 * when missing). *out is freed by rp__os_spool_dir_close. */
int rp__os_spool_dir_open(const char *path, rp__os_sdir **out);

/* Closes the folder. NULL is a no-op. Files opened in it stay open. */
void rp__os_spool_dir_close(rp__os_sdir *dir);

/* Creates file name in dir (mode 0600 on Unix), opened for reading and
 * writing; RP_ERR_EXISTS if the name is taken. The name itself is durable
 * only after rp__os_spool_dir_sync. */
int rp__os_sfile_create(const rp__os_sdir *dir, const char *name, rp__os_sfile *out,
                        int *errno_out);

/* Opens the existing file name in dir for reading and writing (writable !=
 * 0) or reading only; with create != 0 a missing file is created empty (mode
 * 0600). */
int rp__os_sfile_open(const rp__os_sdir *dir, const char *name, int writable, int create,
                      rp__os_sfile *out, int *errno_out);

/* The current size in bytes. */
int rp__os_sfile_size(rp__os_sfile f, uint64_t *out);

/* Reads up to len bytes at offset off, retrying short reads; *got is the
 * number read, less than len only at the end of the file. */
int rp__os_sfile_read_at(rp__os_sfile f, uint64_t off, void *buf, size_t len, size_t *got);

/* Writes a[0..alen) then b[0..blen) at offset off, retrying short writes (one
 * system call for both on Unix). On failure some of the bytes may have been
 * written: the caller truncates them away. */
int rp__os_sfile_write_at(rp__os_sfile f, uint64_t off, const void *a, size_t alen, const void *b,
                          size_t blen, int *errno_out);

/* Sets the size to len (cutting or zero-extending). */
int rp__os_sfile_truncate(rp__os_sfile f, uint64_t len);

/* Makes the file's data and size durable (fdatasync / FlushFileBuffers). */
int rp__os_sfile_sync(rp__os_sfile f, int *errno_out);

/* Closes *f and marks it RP__OS_SFILE_NONE; a closed handle is a no-op. */
void rp__os_sfile_close(rp__os_sfile *f);

/* Removes file name from dir; a missing file is success (someone else
 * removed it). On Windows the file may still be open elsewhere: every handle
 * here is opened with FILE_SHARE_DELETE. */
int rp__os_spool_unlink(const rp__os_sdir *dir, const char *name);

/* Makes the creation and removal of names in dir durable (fsync of the
 * folder on Unix; NTFS journals names itself, so a no-op on Windows). */
int rp__os_spool_dir_sync(const rp__os_sdir *dir);

/* Calls fn(ctx, name) for every entry of dir except "." and ".." (names only,
 * in no particular order). A non-zero return from fn stops the walk and is
 * returned. */
int rp__os_spool_dir_list(const rp__os_sdir *dir, int (*fn)(void *ctx, const char *name),
                          void *ctx);

#endif
