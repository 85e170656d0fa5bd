/*
 * core/os/win/file_win.c - the operations on an open file (rp__os_file,
 * os_fs.h) for Windows, and the spool's files opened in a folder opened by
 * os_win.c (which opens the append-only files). *** NOT BUILT ON LINUX, NOT YET TESTED ON WINDOWS.
 * *** Compile-ready for mingw-w64 (Windows 8 or later).
 *
 * Notes, because the spool was written against POSIX:
 *   - Every handle is opened with FILE_SHARE_READ | FILE_SHARE_WRITE |
 *     FILE_SHARE_DELETE, so the appender, the reader and unlink can work on
 *     one file at once as they do on Unix. A deleted file that is still open
 *     keeps its name until the last handle closes; the spool never reuses a
 *     segment name, so that does not matter.
 *   - Reads and writes are positioned (OVERLAPPED offsets on a synchronous
 *     handle), and truncation uses SetFileInformationByHandle, so no call
 *     depends on or moves a shared file pointer.
 *   - NTFS journals names itself: the folder "sync" is a no-op.
 *   - Paths arrive in UTF-8 with '/' or '\' separators; the spool's paths are
 *     short (folder + 21 characters), so no \\?\ prefix is added here.
 *   - The folder "handle" keeps the folder's path, and files are opened by
 *     that path joined with their name: Win32 has no documented call that
 *     opens a name relative to a folder handle (NtCreateFile's
 *     RootDirectory is the native API). What Unix gets from openat is had
 *     by pinning instead: the folder handle (rp__os_dir, os_win.c) keeps the
 *     folder open without FILE_SHARE_DELETE, so nobody can rename or remove
 *     it (and put something else at its path) while the spool holds it, and
 *     rp__os_dir_sub refuses a reparse point (symbolic link or junction)
 *     there.
 */
#include "os/os_fs.h"
#include "os/os_fs_int.h"
#include "os/win/conv_win.h"
#include "os/win/dir_win.h"

#include <rampart/plugin.h>

#include <windows.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* A failed Win32 file call as a Unix one would fail: the errno value the
 * rest of the Windows layer gives the error, and the RP_ERR code file_unix.c
 * gives that errno value. */
static int win_to_rp(DWORD e, int *errno_out)
{
    int en = rp__os_win_errno(e);
    if (errno_out)
        *errno_out = en;
    return rp__os_fs_error(en);
}

/* UTF-8 path to a UTF-16 one from malloc with '\' separators. */
static int wide_path(const char *path, wchar_t **out)
{
    wchar_t *w;
    int rc = rp__os_win_wide(path, 1, &w);
    if (rc != 0)
        return rc;
    for (wchar_t *p = w; *p; p++)
        if (*p == L'/')
            *p = L'\\';
    *out = w;
    return 0;
}

/* The UTF-16 path of name in dir, from malloc. */
static int name_path(const rp__os_dir *dir, const char *name, wchar_t **out)
{
    size_t dl = strlen(dir->path), nl = strlen(name);
    char *p = malloc(dl + 1 + nl + 1);
    if (!p)
        return RP_ERR_NOMEM;
    memcpy(p, dir->path, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    int rc = wide_path(p, out);
    free(p);
    return rc;
}

static int open_handle(const rp__os_dir *dir, const char *name, DWORD access, DWORD disposition,
                       rp__os_file *out, int *errno_out)
{
    out->h = RP__OS_FILE_NONE;
    if (errno_out)
        *errno_out = 0;
    wchar_t *w;
    int rc = name_path(dir, name, &w);
    if (rc != 0)
        return rc;
    HANDLE h = CreateFileW(w, access, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           disposition, FILE_ATTRIBUTE_NORMAL, NULL);
    DWORD e = GetLastError();
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return win_to_rp(e, errno_out);
    out->h = (intptr_t)h;
    return 0;
}

int rp__os_file_create(const rp__os_dir *dir, const char *name, rp__os_file *out, int *errno_out)
{
    return open_handle(dir, name, GENERIC_READ | GENERIC_WRITE, CREATE_NEW, out, errno_out);
}

int rp__os_file_open(const rp__os_dir *dir, const char *name, int writable, int create,
                     rp__os_file *out, int *errno_out)
{
    DWORD access = GENERIC_READ | (writable ? GENERIC_WRITE : 0);
    return open_handle(dir, name, access, create ? OPEN_ALWAYS : OPEN_EXISTING, out, errno_out);
}

int rp__os_file_size(rp__os_file f, uint64_t *out)
{
    LARGE_INTEGER sz;
    if (!GetFileSizeEx((HANDLE)f.h, &sz))
        return win_to_rp(GetLastError(), NULL);
    *out = (uint64_t)sz.QuadPart;
    return 0;
}

static OVERLAPPED at(uint64_t off)
{
    OVERLAPPED ov;
    memset(&ov, 0, sizeof ov);
    ov.Offset = (DWORD)off;
    ov.OffsetHigh = (DWORD)(off >> 32);
    return ov;
}

/* ReadFile and WriteFile take a DWORD length: big requests go in slices. */
#define SLICE ((size_t)1 << 30)

int rp__os_file_read_at(rp__os_file f, uint64_t off, void *buf, size_t len, size_t *got)
{
    char *p = buf;
    size_t done = 0;
    *got = 0;
    while (done < len) {
        size_t want = len - done < SLICE ? len - done : SLICE;
        OVERLAPPED ov = at(off + done);
        DWORD n = 0;
        if (!ReadFile((HANDLE)f.h, p + done, (DWORD)want, &n, &ov)) {
            DWORD e = GetLastError();
            if (e == ERROR_HANDLE_EOF)
                break;
            *got = done;
            return win_to_rp(e, NULL);
        }
        if (n == 0)
            break;
        done += n;
    }
    *got = done;
    return 0;
}

static int write_part(HANDLE h, uint64_t off, const char *p, size_t len, int *errno_out)
{
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < SLICE ? len - done : SLICE;
        OVERLAPPED ov = at(off + done);
        DWORD n = 0;
        if (!WriteFile(h, p + done, (DWORD)want, &n, &ov))
            return win_to_rp(GetLastError(), errno_out);
        if (n == 0)
            return win_to_rp(ERROR_DISK_FULL, errno_out);
        done += n;
    }
    return 0;
}

int rp__os_file_write_at(rp__os_file f, uint64_t off, const void *a, size_t alen, const void *b,
                         size_t blen, int *errno_out)
{
    if (errno_out)
        *errno_out = 0;
    int rc = write_part((HANDLE)f.h, off, a, alen, errno_out);
    if (rc == 0 && blen)
        rc = write_part((HANDLE)f.h, off + alen, b, blen, errno_out);
    return rc;
}

int rp__os_file_truncate(rp__os_file f, uint64_t len)
{
    FILE_END_OF_FILE_INFO info;
    info.EndOfFile.QuadPart = (LONGLONG)len;
    if (!SetFileInformationByHandle((HANDLE)f.h, FileEndOfFileInfo, &info, sizeof info))
        return win_to_rp(GetLastError(), NULL);
    return 0;
}

int rp__os_file_sync(rp__os_file f, int *errno_out)
{
    if (errno_out)
        *errno_out = 0;
    /* FlushFileBuffers takes FILE_APPEND_DATA as write access (event logs). */
    if (!FlushFileBuffers((HANDLE)f.h))
        return win_to_rp(GetLastError(), errno_out);
    return 0;
}

void rp__os_file_close(rp__os_file *f)
{
    if (!f || f->h == RP__OS_FILE_NONE)
        return;
    CloseHandle((HANDLE)f->h);
    f->h = RP__OS_FILE_NONE;
}

int rp__os_dir_sync(const rp__os_dir *dir)
{
    (void)dir;
    return 0;
}

int rp__os_dir_names(const rp__os_dir *dir, int (*fn)(void *ctx, const char *name), void *ctx)
{
    size_t len = strlen(dir->path);
    char *pattern = malloc(len + 3);
    if (!pattern)
        return RP_ERR_NOMEM;
    memcpy(pattern, dir->path, len);
    memcpy(pattern + len, "/*", 3);
    wchar_t *w;
    int rc = wide_path(pattern, &w);
    free(pattern);
    if (rc != 0)
        return rc;
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileExW(w, FindExInfoBasic, &fd, FindExSearchNameMatch, NULL, 0);
    DWORD e = GetLastError();
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return e == ERROR_FILE_NOT_FOUND ? 0 : win_to_rp(e, NULL);
    do {
        if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
            continue;
        char name[MAX_PATH * 3 + 1];
        int n =
            WideCharToMultiByte(CP_UTF8, 0, fd.cFileName, -1, name, (int)sizeof name, NULL, NULL);
        if (n <= 0)
            continue; /* not a name the spool made */
        rc = fn(ctx, name);
    } while (rc == 0 && FindNextFileW(h, &fd));
    if (rc == 0 && GetLastError() != ERROR_NO_MORE_FILES)
        rc = win_to_rp(GetLastError(), NULL);
    FindClose(h);
    return rc;
}
