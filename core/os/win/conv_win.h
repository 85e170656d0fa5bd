/* core/os/win/conv_win.h - the conversions os_win.c makes that the other
 * Windows files of the platform layer share: UTF-8 to UTF-16, and a Win32
 * error to a C errno value. Not for the rest of core/. */
#ifndef RP_CORE_OS_WIN_CONV_WIN_H
#define RP_CORE_OS_WIN_CONV_WIN_H

#include <windows.h>

#include <wchar.h>

/* UTF-8 to UTF-16 into *out, from malloc (the caller frees it). strict
 * rejects invalid UTF-8 with RP_ERR_INVAL (a path must not silently become
 * another name); otherwise bad bytes become U+FFFD. RP_ERR_NOMEM, or
 * RP_ERR_IO for another failure. */
int rp__os_win_wide(const char *s, int strict, wchar_t **out);

/* The C errno value (ENOENT, EACCES, ENOSPC...) a Win32 error stands for,
 * for callers that hand it to strerror(); EIO for one it does not know. */
int rp__os_win_errno(DWORD e);

#endif
