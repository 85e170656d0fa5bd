/* core/os/unix/dir_unix.h - the open folder of os_fs.h (rp__os_dir) as the
 * Unix files of the platform layer share it: os_unix.c opens and checks it,
 * file_unix.c opens the spool's files in it. Not for the rest of core/. */
#ifndef RP_CORE_OS_UNIX_DIR_UNIX_H
#define RP_CORE_OS_UNIX_DIR_UNIX_H

#include "os/os_fs.h"

struct rp__os_dir {
    int fd;     /* O_RDONLY | O_DIRECTORY: usable by the *at() calls and fsync */
    char *path; /* for messages only */
};

#endif
