/*
 * core/os/os_fs_int.h - what file_unix.c and file_win.c share, in
 * core/os/fs_common.c: the RP_ERR code of a failed file operation. Private to
 * core/os/.
 */
#ifndef RP_CORE_OS_FS_INT_H
#define RP_CORE_OS_FS_INT_H

/* The RP_ERR_* code of os_fs.h for a C errno value from an operation on an
 * open file or a file in an rp__os_dir: RP_ERR_FULL for a full disk or
 * quota, RP_ERR_EXISTS, RP_ERR_NOTFOUND, RP_ERR_PERM (read-only file
 * systems included), RP_ERR_NOMEM, and RP_ERR_IO for anything else. */
int rp__os_fs_error(int e);

#endif
