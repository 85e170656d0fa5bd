/* core/os/win/dir_win.h - the open folder of os_fs.h (rp__os_dir) as the
 * Windows files of the platform layer share it: os_win.c opens and checks
 * it, file_win.c opens the spool's files in it. Not for the rest of core/. */
#ifndef RP_CORE_OS_WIN_DIR_WIN_H
#define RP_CORE_OS_WIN_DIR_WIN_H

#include "os/os_fs.h"

#include <windows.h>

struct rp__os_dir {
    char *path; /* UTF-8, as checked; files are opened by "<path>\<name>" */
    HANDLE pin; /* the folder, opened without FILE_SHARE_DELETE */
};

#endif
