/*
 * core/os/os_spool.h - the file operations the write-ahead spool (core/output/spool.c)
 * needs beyond core/os/os.h: positioned reads and writes, truncation, data
 * sync, unlink, directory listing and directory sync.
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
 * file with a second name (hard link): the agent writes it as root.
 *
 * Thread-safety: every function may be called from any thread; two threads
 * may read one handle at once (reads are positioned), but only one may write,
 * truncate or close it.
 */
#ifndef RP_CORE_OS_SPOOL_H
#define RP_CORE_OS_SPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct rp__os_sfile {
    intptr_t h; /* fd or HANDLE; RP__OS_SFILE_NONE when closed */
} rp__os_sfile;

#define RP__OS_SFILE_NONE ((intptr_t)-1)

/* Creates a new file (mode 0600 on Unix) opened for reading and writing;
 * RP_ERR_EXISTS if the name is taken. The name itself is durable only after
 * rp__os_spool_dir_sync on its folder. */
int rp__os_sfile_create(const char *path, rp__os_sfile *out, int *errno_out);

/* Opens an existing file for reading and writing (writable != 0) or reading
 * only; with create != 0 a missing file is created empty (mode 0600). */
int rp__os_sfile_open(const char *path, int writable, int create, rp__os_sfile *out,
                      int *errno_out);

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

/* Removes a file; a missing file is success (someone else removed it). On
 * Windows the file may still be open elsewhere: every handle here is opened
 * with FILE_SHARE_DELETE. */
int rp__os_spool_unlink(const char *path);

/* Makes the creation and removal of names in folder dir durable (fsync of the
 * folder on Unix; NTFS journals names itself, so a no-op on Windows). */
int rp__os_spool_dir_sync(const char *dir);

/* Calls fn(ctx, name) for every entry of dir except "." and ".." (names only,
 * in no particular order). A non-zero return from fn stops the walk and is
 * returned. */
int rp__os_spool_dir_list(const char *dir, int (*fn)(void *ctx, const char *name), void *ctx);

#endif
