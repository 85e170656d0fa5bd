/*
 * core/os/win/os_win.c - the platform layer (os.h) for Windows. *** NOT BUILT
 * ON LINUX, NOT YET TESTED ON WINDOWS. *** Compile-ready for mingw-w64;
 * needs Windows 8 or later (GetSystemTimePreciseAsFileTime,
 * LOAD_LIBRARY_SEARCH_*) and links with advapi32 (security, event log) and
 * bcrypt (random numbers).
 *
 * House rules of this file, because the core speaks Unix:
 *   - Paths arrive in UTF-8, often with '/' separators from core/lib/path.c.
 *     win_path() turns them into full UTF-16 paths with '\' separators and
 *     adds the \\?\ prefix to long ones, so every file function here accepts
 *     both separators and paths past MAX_PATH.
 *   - The Unix "mode" arguments are ignored: a new file or folder inherits the
 *     access control list of its parent folder, which the installer sets.
 *   - errno_out receives a C errno value mapped from the Win32 error (callers
 *     hand it to strerror()); the exact Win32 code is lost.
 */
#include "os/os.h"
#include "os/os_fs.h"
#include "os/win/conv_win.h"
#include "os/win/dir_win.h"

#include <rampart/plugin.h>

#include <windows.h>

#include <aclapi.h>
#include <psapi.h>
#include <bcrypt.h>
#include <sddl.h>

#include <errno.h>
#include <limits.h>
#include <malloc.h> /* _aligned_malloc */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

/* Win32 file functions refuse paths this long without the \\?\ prefix
 * (CreateDirectoryW's limit, the strictest: MAX_PATH minus an 8.3 name). */
#define LONG_PATH_AT (MAX_PATH - 12)

/* The largest ReadFile/WriteFile request; their sizes are DWORDs. */
#define IO_CHUNK ((DWORD)1 << 30)

/* 1601-01-01 (FILETIME's epoch) to 1970-01-01 in 100 ns units. */
#define FILETIME_UNIX_EPOCH 116444736000000000ULL

/* ---- conversions and error mapping ---------------------------------- */

int rp__os_win_wide(const char *s, int strict, wchar_t **out)
{
    DWORD flags = strict ? MB_ERR_INVALID_CHARS : 0;
    int n = MultiByteToWideChar(CP_UTF8, flags, s, -1, NULL, 0);
    if (n <= 0)
        return GetLastError() == ERROR_NO_UNICODE_TRANSLATION ? RP_ERR_INVAL : RP_ERR_IO;
    wchar_t *w = malloc((size_t)n * sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    if (MultiByteToWideChar(CP_UTF8, flags, s, -1, w, n) != n) {
        free(w);
        return RP_ERR_IO;
    }
    *out = w;
    return 0;
}

/* UTF-16 to UTF-8 from malloc. strict rejects unpaired surrogates, which
 * NTFS allows in names but UTF-8 cannot carry. */
static int to_utf8(const wchar_t *w, int strict, char **out)
{
    DWORD flags = strict ? WC_ERR_INVALID_CHARS : 0;
    int n = WideCharToMultiByte(CP_UTF8, flags, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        return GetLastError() == ERROR_NO_UNICODE_TRANSLATION ? RP_ERR_INVAL : RP_ERR_IO;
    char *s = malloc((size_t)n);
    if (!s)
        return RP_ERR_NOMEM;
    if (WideCharToMultiByte(CP_UTF8, flags, w, -1, s, n, NULL, NULL) != n) {
        free(s);
        return RP_ERR_IO;
    }
    *out = s;
    return 0;
}

/* Each Win32 error the platform layer tells apart, with the RP_ERR code of
 * os.h (the same table as errno_to_rp() in os_unix.c) and the C errno value
 * (for callers that call strerror()) it stands for. Any other error is
 * RP_ERR_IO and EIO. */
static const struct win_error {
    DWORD win;
    int rp;
    int err;
} win_errors[] = {
    {ERROR_FILE_NOT_FOUND, RP_ERR_NOTFOUND, ENOENT},
    {ERROR_PATH_NOT_FOUND, RP_ERR_NOTFOUND, ENOENT},
    {ERROR_INVALID_DRIVE, RP_ERR_NOTFOUND, ENOENT},
    {ERROR_BAD_NETPATH, RP_ERR_NOTFOUND, ENOENT},
    {ERROR_BAD_NET_NAME, RP_ERR_NOTFOUND, ENOENT},
    {ERROR_INVALID_NAME, RP_ERR_NOTFOUND, ENOENT},
    /* A path component is not a folder. */
    {ERROR_DIRECTORY, RP_ERR_NOTFOUND, ENOTDIR},
    {ERROR_ACCESS_DENIED, RP_ERR_PERM, EACCES},
    {ERROR_PRIVILEGE_NOT_HELD, RP_ERR_PERM, EACCES},
    /* Another process holds the file open; EACCES is what the C runtime
     * reports for it too. */
    {ERROR_SHARING_VIOLATION, RP_ERR_BUSY, EACCES},
    {ERROR_LOCK_VIOLATION, RP_ERR_BUSY, EACCES},
    {ERROR_NOT_ENOUGH_MEMORY, RP_ERR_NOMEM, ENOMEM},
    {ERROR_OUTOFMEMORY, RP_ERR_NOMEM, ENOMEM},
    {ERROR_FILE_EXISTS, RP_ERR_EXISTS, EEXIST},
    {ERROR_ALREADY_EXISTS, RP_ERR_EXISTS, EEXIST},
    {ERROR_DISK_FULL, RP_ERR_IO, ENOSPC},
    {ERROR_HANDLE_DISK_FULL, RP_ERR_IO, ENOSPC},
    {ERROR_WRITE_PROTECT, RP_ERR_IO, EROFS},
};

static const struct win_error *win_error_of(DWORD e)
{
    for (size_t i = 0; i < sizeof win_errors / sizeof win_errors[0]; i++)
        if (win_errors[i].win == e)
            return &win_errors[i];
    return NULL;
}

static int win_to_rp(DWORD e)
{
    const struct win_error *w = win_error_of(e);
    return w ? w->rp : RP_ERR_IO;
}

int rp__os_win_errno(DWORD e)
{
    const struct win_error *w = win_error_of(e);
    return w ? w->err : EIO;
}

/* The system's text for a Win32 error, in UTF-8: "Access is denied. (error 5)". */
static void win_message(DWORD e, char *buf, size_t len)
{
    wchar_t w[512];
    char text[1024] = "";
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS |
                                 FORMAT_MESSAGE_MAX_WIDTH_MASK,
                             NULL, e, 0, w, sizeof w / sizeof w[0], NULL);
    /* FORMAT_MESSAGE_MAX_WIDTH_MASK turns the line breaks into spaces. */
    while (n > 0 && (w[n - 1] == L' ' || w[n - 1] == L'\r' || w[n - 1] == L'\n'))
        n--;
    if (n > 0) {
        w[n] = L'\0';
        if (WideCharToMultiByte(CP_UTF8, 0, w, -1, text, (int)sizeof text, NULL, NULL) <= 0)
            text[0] = '\0';
    }
    if (len == 0)
        return;
    if (text[0])
        snprintf(buf, len, "%s (error %lu)", text, (unsigned long)e);
    else
        snprintf(buf, len, "error %lu", (unsigned long)e);
}

/* ---- paths ------------------------------------------------------------ */

static int is_sep(wchar_t c)
{
    return c == L'\\' || c == L'/';
}

static int is_drive_letter(wchar_t c)
{
    return (c >= L'A' && c <= L'Z') || (c >= L'a' && c <= L'z');
}

/*
 * Length of the part of a full path (as win_path() makes them) that names a
 * volume and is never created or split: "C:\", "\\server\share\",
 * "\\?\C:\", "\\?\UNC\server\share\".
 */
static size_t root_len(const wchar_t *p)
{
    size_t i = 0;
    int unc = 0;
    if (p[0] == L'\\' && p[1] == L'\\' && (p[2] == L'?' || p[2] == L'.') && p[3] == L'\\') {
        i = 4;
        if (wcsncmp(p + 4, L"UNC\\", 4) == 0) {
            i = 8;
            unc = 1;
        }
    } else if (p[0] == L'\\' && p[1] == L'\\') {
        i = 2;
        unc = 1;
    }
    if (unc) {
        for (int part = 0; part < 2; part++) { /* server, then share */
            while (p[i] && p[i] != L'\\')
                i++;
            if (p[i] == L'\\')
                i++;
        }
        return i;
    }
    if (is_drive_letter(p[i]) && p[i + 1] == L':')
        return p[i + 2] == L'\\' ? i + 3 : i + 2;
    return i;
}

/*
 * A UTF-8 path as a full UTF-16 path from malloc: relative paths resolved
 * against the current folder, '/' turned into '\', "." and ".." removed (all
 * by GetFullPathNameW, the normalization every Win32 file function applies
 * anyway), then the \\?\ prefix added when the path is too long to work
 * without it. The prefix comes last because it switches normalization off.
 */
static int win_path(const char *path, wchar_t **out)
{
    wchar_t *w = NULL, *full = NULL;
    if (!path || !path[0])
        return RP_ERR_NOTFOUND;
    int rc = rp__os_win_wide(path, 1, &w);
    if (rc != 0)
        return rc;
    DWORD need = GetFullPathNameW(w, 0, NULL, NULL);
    if (need == 0) {
        rc = win_to_rp(GetLastError());
        goto out;
    }
    /* Room for the longest prefix, "\\?\UNC\" (8), in front. */
    full = malloc(((size_t)need + 8) * sizeof *full);
    if (!full) {
        rc = RP_ERR_NOMEM;
        goto out;
    }
    DWORD n = GetFullPathNameW(w, need, full + 8, NULL);
    if (n == 0 || n >= need) { /* n >= need: the current folder changed meanwhile */
        rc = n == 0 ? win_to_rp(GetLastError()) : RP_ERR_IO;
        goto out;
    }
    wchar_t *p = full + 8;
    size_t start = 8;
    int prefixed =
        p[0] == L'\\' && p[1] == L'\\' && (p[2] == L'?' || p[2] == L'.') && p[3] == L'\\';
    if (n >= LONG_PATH_AT && !prefixed) {
        if (p[0] == L'\\' && p[1] == L'\\') {
            /* \\server\share\x -> \\?\UNC\server\share\x: overwrite the
             * leading "\\" with the tail of the prefix. */
            start = 2;
            memcpy(full + start, L"\\\\?\\UNC", 7 * sizeof(wchar_t));
            full[start + 7] = L'\\';
        } else {
            start = 4;
            memcpy(full + start, L"\\\\?\\", 4 * sizeof(wchar_t));
        }
    }
    memmove(full, full + start, ((size_t)n + 8 - start + 1) * sizeof *full);
    *out = full;
    full = NULL;
out:
    free(full);
    free(w);
    return rc;
}

/* A path from the system (GetFinalPathNameByHandleW, win_path) back to the
 * UTF-8 form users know: without the \\?\ or \\?\UNC\ prefix. */
static int shown_path(const wchar_t *w, char **out)
{
    if (wcsncmp(w, L"\\\\?\\UNC\\", 8) == 0) {
        /* "\\?\UNC\server\share" is "\\server\share". */
        size_t n = wcslen(w + 8);
        wchar_t *t = malloc((n + 3) * sizeof *t);
        if (!t)
            return RP_ERR_NOMEM;
        t[0] = L'\\';
        t[1] = L'\\';
        memcpy(t + 2, w + 8, (n + 1) * sizeof *t);
        int rc = to_utf8(t, 1, out);
        free(t);
        return rc;
    }
    if (wcsncmp(w, L"\\\\?\\", 4) == 0 && is_drive_letter(w[4]) && w[5] == L':')
        return to_utf8(w + 4, 1, out);
    return to_utf8(w, 1, out);
}

/* ---- clocks, random, identity --------------------------------------- */

int64_t rp__os_time_ns(void)
{
    FILETIME ft;
    GetSystemTimePreciseAsFileTime(&ft);
    ULARGE_INTEGER t = {.u = {ft.dwLowDateTime, ft.dwHighDateTime}};
    return (int64_t)(t.QuadPart - FILETIME_UNIX_EPOCH) * 100;
}

int64_t rp__os_monotonic_ns(void)
{
    LARGE_INTEGER c, f;
    /* Both always succeed from Windows XP on; the frequency is fixed at boot
     * and reading it is as cheap as caching it. */
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    /* Whole seconds and remainder apart so that counter * 1e9 cannot overflow. */
    int64_t secs = c.QuadPart / f.QuadPart, rem = c.QuadPart % f.QuadPart;
    return secs * 1000000000 + rem * 1000000000 / f.QuadPart;
}

void *rp__os_aligned_alloc(size_t align, size_t size)
{
    /* The Windows C runtime has no aligned_alloc (its free cannot release
     * such a block); _aligned_malloc pairs with _aligned_free. */
    return _aligned_malloc(size ? size : 1, align);
}

void rp__os_aligned_free(void *p)
{
    _aligned_free(p);
}

void *rp__os_pages_alloc(size_t size, int shared)
{
    /* No fork on Windows: shared memory between a supervisor and its worker
     * would be a named section; a private zeroed region is what exists. */
    (void)shared;
    return VirtualAlloc(NULL, size, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
}

void rp__os_pages_free(void *p, size_t size)
{
    (void)size;
    if (p)
        VirtualFree(p, 0, MEM_RELEASE);
}

int rp__os_random(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ULONG n = len > IO_CHUNK ? (ULONG)IO_CHUNK : (ULONG)len;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return RP_ERR_IO;
        p += n;
        len -= n;
    }
    return 0;
}

int rp__os_hostname(char *buf, size_t len)
{
    /* The W call and a UTF-8 conversion rather than GetComputerNameExA:
     * the A form would give the ANSI code page, and host names end up in
     * JSON events, which must be UTF-8. */
    wchar_t w[256];
    DWORD n = sizeof w / sizeof w[0];
    if (len == 0)
        return RP_ERR_INVAL;
    buf[0] = '\0';
    if (!GetComputerNameExW(ComputerNameDnsHostname, w, &n))
        return RP_ERR_IO;
    int cap = len > INT_MAX ? INT_MAX : (int)len;
    /* Fails when buf is too small, like gethostname() on Linux. */
    if (WideCharToMultiByte(CP_UTF8, 0, w, -1, buf, cap, NULL, NULL) <= 0) {
        buf[0] = '\0';
        return RP_ERR_IO;
    }
    buf[len - 1] = '\0';
    return 0;
}

int rp__os_machine_id(char *buf, size_t len)
{
    char guid[64];
    DWORD n = sizeof guid;
    if (len < 37)
        return RP_ERR_INVAL;
    buf[0] = '\0';
    if (RegGetValueA(HKEY_LOCAL_MACHINE, "SOFTWARE\\Microsoft\\Cryptography", "MachineGuid",
                     RRF_RT_REG_SZ, NULL, guid, &n) != ERROR_SUCCESS)
        return RP_ERR_NOTFOUND;
    if (n != 37 || guid[36] != '\0')
        return RP_ERR_PARSE;
    for (int k = 0; k < 36; k++) {
        char c = guid[k];
        int dash = k == 8 || k == 13 || k == 18 || k == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return RP_ERR_PARSE;
    }
    memcpy(buf, guid, 37);
    return 0;
}

long rp__os_getpid(void)
{
    return (long)GetCurrentProcessId();
}

int rp__os_path_is_absolute(const char *path)
{
    if (!path)
        return 0;
    /* "C:\x" or "C:/x". "C:x" (relative to C:'s current folder) and "\x"
     * (relative to the current drive) are not absolute. */
    if (is_drive_letter((unsigned char)path[0]) && path[1] == ':' &&
        (path[2] == '\\' || path[2] == '/'))
        return 1;
    /* UNC "\\server\share\x"; Windows takes "//server/share/x" alike. */
    return is_sep((unsigned char)path[0]) && is_sep((unsigned char)path[1]);
}

int rp__os_getcwd(char *buf, size_t len)
{
    char *s = NULL;
    DWORD need = GetCurrentDirectoryW(0, NULL);
    if (need == 0 || len == 0)
        return RP_ERR_RANGE;
    wchar_t *w = malloc((size_t)need * sizeof *w);
    if (!w)
        return RP_ERR_NOMEM;
    DWORD n = GetCurrentDirectoryW(need, w);
    int rc = (n == 0 || n >= need) ? RP_ERR_RANGE : shown_path(w, &s);
    free(w);
    if (rc != 0)
        return rc == RP_ERR_NOMEM ? rc : RP_ERR_RANGE; /* os_unix.c's one error */
    size_t sl = strlen(s);
    if (sl >= len) {
        free(s);
        return RP_ERR_RANGE;
    }
    memcpy(buf, s, sl + 1);
    free(s);
    return 0;
}

int rp__os_realpath(const char *path, char **out)
{
    wchar_t *w = NULL, *fin = NULL;
    int rc = win_path(path, &w);
    if (rc != 0)
        return rc;
    /* BACKUP_SEMANTICS lets the open work on folders too; following links
     * (no OPEN_REPARSE_POINT) is what makes the final name canonical. */
    HANDLE h =
        CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                    NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        rc = win_to_rp(GetLastError());
        goto out;
    }
    DWORD flags = FILE_NAME_NORMALIZED | VOLUME_NAME_DOS;
    DWORD need = GetFinalPathNameByHandleW(h, NULL, 0, flags);
    if (need == 0) {
        rc = win_to_rp(GetLastError());
        goto out;
    }
    fin = malloc((size_t)need * sizeof *fin);
    if (!fin) {
        rc = RP_ERR_NOMEM;
        goto out;
    }
    DWORD n = GetFinalPathNameByHandleW(h, fin, need, flags);
    if (n == 0 || n >= need) {
        rc = n == 0 ? win_to_rp(GetLastError()) : RP_ERR_IO;
        goto out;
    }
    rc = shown_path(fin, out);
out:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    free(fin);
    free(w);
    return rc;
}

/* One CreateDirectoryW; an existing folder is success. */
static int make_dir(const wchar_t *w, int last)
{
    if (CreateDirectoryW(w, NULL))
        return 0;
    DWORD e = GetLastError();
    /* Check existence rather than trusting the error: some existing folders
     * answer ERROR_ACCESS_DENIED (no right to create in the parent). */
    DWORD a = GetFileAttributesW(w);
    if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY))
        return 0;
    /* A parent that exists as a file: the next level then fails with
     * ERROR_PATH_NOT_FOUND, i.e. RP_ERR_NOTFOUND as ENOTDIR on Unix. */
    if (!last && a != INVALID_FILE_ATTRIBUTES)
        return 0;
    return win_to_rp(e);
}

int rp__os_mkdir_p(const char *path, unsigned mode)
{
    (void)mode; /* the new folders inherit their parent's access control list */
    wchar_t *w = NULL;
    if (!path || !path[0])
        return RP_ERR_RANGE; /* as os_unix.c */
    int rc = win_path(path, &w);
    if (rc != 0)
        return rc;
    size_t len = wcslen(w), root = root_len(w);
    while (len > root && w[len - 1] == L'\\')
        w[--len] = L'\0';
    /* Create each parent in turn below the volume root, which always exists
     * and cannot be created. */
    for (size_t i = root; i < len && rc == 0; i++) {
        if (w[i] != L'\\')
            continue;
        w[i] = L'\0';
        rc = make_dir(w, 0);
        w[i] = L'\\';
    }
    if (rc == 0)
        rc = make_dir(w, 1);
    free(w);
    return rc;
}

/* ---- whole files -------------------------------------------------------- */

int rp__os_read_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                     int *errno_out)
{
    wchar_t *w = NULL;
    HANDLE h = INVALID_HANDLE_VALUE;
    int err = 0, rc;

    if (errno_out)
        *errno_out = 0;
    rc = win_path(path, &w);
    if (rc != 0) {
        /* No file can have a name that is not valid UTF-8 here. */
        err = rc == RP_ERR_NOMEM ? ENOMEM : rc == RP_ERR_INVAL ? EILSEQ : ENOENT;
        rc = rc == RP_ERR_INVAL ? RP_ERR_NOTFOUND : rc;
        goto out;
    }
    /* Every share flag: the writer of the file (the agent itself for the pid
     * file, which is deleted on close) must not be blocked by a reader. */
    h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                    OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        /* Opening a folder as a file fails with ERROR_ACCESS_DENIED; the
         * contract (and os_unix.c) says "not a regular file" for it. */
        DWORD a = GetFileAttributesW(w);
        if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY)) {
            err = EISDIR;
            rc = RP_ERR_INVAL;
        } else {
            err = rp__os_win_errno(e);
            rc = win_to_rp(e);
        }
        goto out;
    }
    /* Pipes and devices ("NUL", "CON", \\.\pipe\x) are not regular files. */
    if (GetFileType(h) != FILE_TYPE_DISK) {
        err = EINVAL;
        rc = RP_ERR_INVAL;
        goto out;
    }
    LARGE_INTEGER size;
    if (!GetFileSizeEx(h, &size)) {
        err = rp__os_win_errno(GetLastError());
        rc = RP_ERR_IO;
        goto out;
    }
    if (size.QuadPart < 0) {
        err = EFBIG;
        rc = RP_ERR_RANGE;
        goto out;
    }
    rc = rp__os_read_to_end((rp__os_file){(intptr_t)h}, (uint64_t)size.QuadPart, max_bytes,
                            data_out, len_out, &err);
out:
    free(w);
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (errno_out)
        *errno_out = err;
    return rc;
}

/* Writes all of buf to h; ERROR_DISK_FULL is RP_ERR_FULL as ENOSPC on Unix. */
static int write_all(HANDLE h, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        DWORD n = 0;
        if (!WriteFile(h, p, len > IO_CHUNK ? IO_CHUNK : (DWORD)len, &n, NULL)) {
            DWORD e = GetLastError();
            return (e == ERROR_DISK_FULL || e == ERROR_HANDLE_DISK_FULL) ? RP_ERR_FULL : RP_ERR_IO;
        }
        if (n == 0)
            return RP_ERR_IO; /* no progress: never spin */
        p += n;
        len -= n;
    }
    return 0;
}

int rp__os_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    (void)mode; /* the file inherits its folder's access control list */
    wchar_t *w = NULL, *wtmp = NULL;
    size_t pl = strlen(path);
    char *tmp = malloc(pl + sizeof ".tmp");
    if (!tmp)
        return RP_ERR_NOMEM;
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp", sizeof ".tmp");
    int rc = win_path(path, &w);
    if (rc == 0)
        rc = win_path(tmp, &wtmp);
    free(tmp);
    if (rc != 0)
        goto out;
    /* O_NOFOLLOW's counterpart: remove whatever sits at the temporary name
     * (DeleteFileW removes a link, not its target), then create the file
     * new; a file planted in between makes CREATE_NEW fail, not follow. */
    DeleteFileW(wtmp);
    HANDLE h = CreateFileW(wtmp, GENERIC_WRITE, 0, NULL, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        rc = win_to_rp(GetLastError());
        goto out;
    }
    rc = write_all(h, data, len);
    if (rc == 0 && !FlushFileBuffers(h))
        rc = RP_ERR_IO;
    CloseHandle(h);
    /* WRITE_THROUGH: return only once the rename itself is on disk, the
     * counterpart of rename() on a journalled file system. */
    if (rc == 0 && !MoveFileExW(wtmp, w, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        rc = win_to_rp(GetLastError());
    if (rc != 0)
        DeleteFileW(wtmp);
out:
    free(w);
    free(wtmp);
    return rc;
}

/* ---- append-only files ---------------------------------------------- */

int rp__os_file_open_append(const char *path, unsigned mode, rp__os_file *out, int *errno_out)
{
    (void)mode; /* the file inherits its folder's access control list */
    out->h = RP__OS_FILE_NONE;
    wchar_t *w = NULL;
    if (errno_out)
        *errno_out = 0;
    int rc = win_path(path, &w);
    if (rc != 0) {
        if (errno_out)
            *errno_out = rc == RP_ERR_NOMEM ? ENOMEM : rc == RP_ERR_INVAL ? EILSEQ : ENOENT;
        return rc;
    }
    /* FILE_APPEND_DATA without FILE_WRITE_DATA: every write goes to the end
     * of the file, like O_APPEND, even with other writers. The share flags
     * let readers and log rotation (rename, delete) work while it is open.
     * FILE_READ_ATTRIBUTES is for rp__os_file_size (GetFileSizeEx). */
    HANDLE h = CreateFileW(w, FILE_APPEND_DATA | FILE_READ_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        if (errno_out)
            *errno_out = rp__os_win_errno(e);
        return win_to_rp(e);
    }
    out->h = (intptr_t)h;
    return 0;
}

int rp__os_file_write(rp__os_file f, const void *buf, size_t len)
{
    return write_all((HANDLE)f.h, buf, len);
}

void rp__os_tune_memory(void)
{
    /* The Windows heap needs no tuning for this pattern (low-fragmentation
     * heap is the default). */
}

int rp__os_process_rss(uint64_t *rss_bytes)
{
    PROCESS_MEMORY_COUNTERS pmc;
    if (!K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc))
        return win_to_rp(GetLastError());
    *rss_bytes = (uint64_t)pmc.WorkingSetSize;
    return 0;
}

void rp__os_trim_memory(void)
{
    /* The Windows heap gives whole free segments back on its own. */
}

int rp__os_process_usage(int64_t *cpu_ns, uint64_t *peak_rss_bytes)
{
    FILETIME c, e, k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u))
        return win_to_rp(GetLastError());
    uint64_t kt = ((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime;
    uint64_t ut = ((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime;
    *cpu_ns = (int64_t)((kt + ut) * 100); /* 100 ns units */
    PROCESS_MEMORY_COUNTERS pmc;
    *peak_rss_bytes = K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc)
                          ? (uint64_t)pmc.PeakWorkingSetSize
                          : 0;
    return 0;
}

int rp__os_remove(const char *path)
{
    wchar_t *w = NULL;
    int rc = win_path(path, &w);
    if (rc == 0 && !DeleteFileW(w)) {
        DWORD err = GetLastError();
        rc = err == ERROR_FILE_NOT_FOUND ? RP_ERR_NOTFOUND : win_to_rp(err);
    }
    free(w);
    return rc;
}

int rp__os_dir_files(const char *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                     void *arg)
{
    size_t n = strlen(dir);
    char *pattern = malloc(n + 3);
    if (!pattern)
        return RP_ERR_NOMEM;
    memcpy(pattern, dir, n);
    memcpy(pattern + n, "\\*", 3);
    wchar_t *w = NULL;
    int rc = win_path(pattern, &w);
    free(pattern);
    if (rc != 0)
        return rc;
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(w, &fd);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        return err == ERROR_PATH_NOT_FOUND || err == ERROR_FILE_NOT_FOUND ? RP_ERR_NOTFOUND
                                                                          : win_to_rp(err);
    }
    do {
        if (fd.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT))
            continue;
        char *name = NULL;
        if (to_utf8(fd.cFileName, 1, &name) != 0)
            continue;
        rc = fn(arg, name, ((uint64_t)fd.nFileSizeHigh << 32) | fd.nFileSizeLow);
        free(name);
    } while (rc == 0 && FindNextFileW(h, &fd));
    FindClose(h);
    return rc;
}

int rp__os_rename(const char *from, const char *to)
{
    wchar_t *wf = NULL, *wt = NULL;
    int rc = win_path(from, &wf);
    if (rc == 0)
        rc = win_path(to, &wt);
    if (rc == 0 && !MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        rc = win_to_rp(GetLastError());
    free(wf);
    free(wt);
    return rc;
}

int rp__os_gmtime(int64_t unix_secs, struct tm *out)
{
    /* The 64-bit form whatever time_t is. The C runtime refuses times before
     * 1970 and after year 3000: RP_ERR_RANGE, where Linux would succeed. */
    __time64_t t = (__time64_t)unix_secs;
    return _gmtime64_s(out, &t) == 0 ? 0 : RP_ERR_RANGE;
}

/* ---- pid file ----------------------------------------------------------- */

struct rp__os_pidfile {
    HANDLE h;
};

/* The pid the running agent wrote, or 0. Opened with every share flag, which
 * the holder's FILE_FLAG_DELETE_ON_CLOSE requires of any other open. */
static long read_holder_pid(const wchar_t *w)
{
    HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
    char buf[32] = {0};
    DWORD n = 0;
    long pid = 0;
    if (h == INVALID_HANDLE_VALUE)
        return 0;
    if (ReadFile(h, buf, sizeof buf - 1, &n, NULL) && n > 0) {
        char *end = NULL;
        buf[n] = '\0';
        pid = strtol(buf, &end, 10);
        if (end == buf || pid < 0)
            pid = 0;
    }
    CloseHandle(h);
    return pid;
}

int rp__os_pidfile_acquire(const char *path, rp__os_pidfile **out, long *holder_pid)
{
    wchar_t *w = NULL;
    HANDLE h = INVALID_HANDLE_VALUE;
    DWORD e = 0;
    *holder_pid = 0;
    int rc = win_path(path, &w);
    if (rc != 0)
        return rc;
    /*
     * The open is the lock, held by the handle for the life of the process:
     *   - no FILE_SHARE_WRITE, so a second agent's open (which asks for write
     *     access) fails with ERROR_SHARING_VIOLATION;
     *   - FILE_SHARE_READ, so rampartctl and the refused agent can still read
     *     the pid (the "share mode 0" alternative would hide it from both);
     *   - FILE_FLAG_DELETE_ON_CLOSE removes the file when the handle closes,
     *     including when the process dies, so no stale file is left behind;
     *   - FILE_FLAG_OPEN_REPARSE_POINT is O_NOFOLLOW: a link planted at this
     *     name is opened (and deleted) itself, its target never touched.
     * While a closing agent's file is still being deleted the open fails
     * with ERROR_ACCESS_DENIED ("delete pending"): retried briefly so a quick
     * restart is not refused. A real permission problem costs 200 ms.
     */
    for (int attempt = 0; attempt < 10; attempt++) {
        h = CreateFileW(
            w, GENERIC_READ | GENERIC_WRITE | DELETE, FILE_SHARE_READ, NULL, OPEN_ALWAYS,
            FILE_ATTRIBUTE_NORMAL | FILE_FLAG_DELETE_ON_CLOSE | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
        if (h != INVALID_HANDLE_VALUE)
            break;
        e = GetLastError();
        if (e != ERROR_ACCESS_DENIED)
            break;
        Sleep(20);
    }
    if (h == INVALID_HANDLE_VALUE) {
        if (e == ERROR_SHARING_VIOLATION) {
            *holder_pid = read_holder_pid(w);
            rc = RP_ERR_BUSY;
        } else {
            rc = win_to_rp(e);
        }
        free(w);
        return rc;
    }
    free(w);
    rp__os_pidfile *pf = malloc(sizeof *pf);
    if (!pf) {
        CloseHandle(h);
        return RP_ERR_NOMEM;
    }
    pf->h = h;
    *out = pf;
    return rp__os_pidfile_write(pf);
}

int rp__os_pidfile_write(rp__os_pidfile *pf)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", rp__os_getpid());
    LARGE_INTEGER zero = {.QuadPart = 0};
    if (n <= 0 || !SetFilePointerEx(pf->h, zero, NULL, FILE_BEGIN) ||
        write_all(pf->h, buf, (size_t)n) != 0 || !SetEndOfFile(pf->h))
        return RP_ERR_IO;
    return 0;
}

void rp__os_pidfile_release(rp__os_pidfile *pf)
{
    if (!pf)
        return;
    /* FILE_FLAG_DELETE_ON_CLOSE deletes the file as the lock goes away. */
    CloseHandle(pf->h);
    free(pf);
}

int rp__os_daemonize(void)
{
    /* Windows has no fork and no controlling terminal to leave: the agent
     * runs in the foreground under the service wrapper (installers/msi, to
     * come), which the Service Control Manager starts and stops. */
    return RP_ERR_UNSUPPORTED;
}

/* ---- stop and reload -------------------------------------------------- */

/* Both are created by rp__os_signals_block() before any other thread
 * exists (the console handler's thread included) and never change after. */
static HANDLE sig_stop;   /* manual-reset: once stopping, every wait says so */
static HANDLE sig_reload; /* auto-reset, named; rp__os_send_reload sets it */

static BOOL WINAPI console_handler(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        SetEvent(sig_stop);
        return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        SetEvent(sig_stop);
        /* The system ends the process as soon as this handler returns (or
         * after its own time limit). Waiting here gives the main thread that
         * time to stop cleanly; its exit ends this thread. */
        Sleep(INFINITE);
        return TRUE;
    case CTRL_LOGOFF_EVENT:
        /* A service gets this whenever any user logs off: no reason to stop.
         * TRUE keeps the default handler, which calls ExitProcess, away. */
        return TRUE;
    default:
        return FALSE;
    }
}

/* The agent's user from the process token: *sid points into *buf (malloc). */
static int process_user(PSID *sid, void **buf)
{
    HANDLE tok = NULL;
    DWORD need = 0;
    void *b = NULL;
    int rc = RP_ERR_INTERNAL;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok))
        return RP_ERR_INTERNAL;
    GetTokenInformation(tok, TokenUser, NULL, 0, &need);
    if (need > 0 && (b = malloc(need)) == NULL)
        rc = RP_ERR_NOMEM;
    else if (need > 0 && GetTokenInformation(tok, TokenUser, b, need, &need))
        rc = 0;
    CloseHandle(tok);
    if (rc != 0) {
        free(b);
        return rc;
    }
    *sid = ((TOKEN_USER *)b)->User.Sid;
    *buf = b;
    return 0;
}

/*
 * The reload event: "Local\rampartd-reload-<pid>". Its access control list
 * admits SYSTEM, Administrators and the agent's user only, as kill(SIGHUP)
 * needs root or the same user on Unix; the default list of a service's
 * objects would not even let Administrators set it.
 */
static int create_reload_event(void)
{
    PSID user = NULL;
    void *ubuf = NULL;
    char *user_s = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    wchar_t *wsddl = NULL, *wname = NULL;
    char sddl[256], name[64];
    int rc = process_user(&user, &ubuf);
    if (rc != 0)
        return rc;
    if (!ConvertSidToStringSidA(user, &user_s)) {
        rc = RP_ERR_INTERNAL;
        goto out;
    }
    /* P: protected, nothing inherited; GA: all access. */
    if (snprintf(sddl, sizeof sddl, "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;%s)", user_s) >=
            (int)sizeof sddl ||
        snprintf(name, sizeof name, "Local\\rampartd-reload-%lu",
                 (unsigned long)GetCurrentProcessId()) >= (int)sizeof name) {
        rc = RP_ERR_INTERNAL;
        goto out;
    }
    if ((rc = rp__os_win_wide(sddl, 1, &wsddl)) != 0 ||
        (rc = rp__os_win_wide(name, 1, &wname)) != 0)
        goto out;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(wsddl, SDDL_REVISION_1, &sd, NULL)) {
        rc = RP_ERR_INTERNAL;
        goto out;
    }
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    SetLastError(ERROR_SUCCESS); /* read below only to tell "opened" from "created" */
    sig_reload = CreateEventW(&sa, FALSE, FALSE, wname);
    if (!sig_reload) {
        rc = win_to_rp(GetLastError());
        goto out;
    }
    /* An event that already exists under our pid's name was made by someone
     * else, who could then reload us at will (and keeps its own access list):
     * refuse it. Creating in this namespace takes a process of the same
     * session, or for session 0 (services) SeCreateGlobalPrivilege. */
    if (GetLastError() == ERROR_ALREADY_EXISTS) {
        CloseHandle(sig_reload);
        sig_reload = NULL;
        rc = RP_ERR_EXISTS;
    }
out:
    if (sd)
        LocalFree(sd);
    if (user_s)
        LocalFree(user_s);
    free(wsddl);
    free(wname);
    free(ubuf);
    return rc;
}

int rp__os_signals_block(void)
{
    if (sig_stop)
        return 0; /* already set up */
    sig_stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!sig_stop)
        return RP_ERR_INTERNAL;
    int rc = create_reload_event();
    if (rc == 0 && !SetConsoleCtrlHandler(console_handler, TRUE))
        rc = RP_ERR_INTERNAL;
    if (rc != 0) {
        if (sig_reload)
            CloseHandle(sig_reload);
        CloseHandle(sig_stop);
        sig_reload = sig_stop = NULL;
    }
    return rc;
}

int rp__os_signal_wait(int timeout_ms, enum rp__os_signal *sig)
{
    *sig = RP__OS_SIG_NONE;
    if (!sig_stop || !sig_reload)
        return RP_ERR_INTERNAL; /* rp__os_signals_block() was not called */
    /* Stop first: when both are set, WaitForMultipleObjects reports the
     * lowest index, and stopping wins over reloading. */
    HANDLE hs[2] = {sig_stop, sig_reload};
    DWORD r = WaitForMultipleObjects(2, hs, FALSE, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
    if (r == WAIT_OBJECT_0)
        *sig = RP__OS_SIG_STOP;
    else if (r == WAIT_OBJECT_0 + 1)
        *sig = RP__OS_SIG_RELOAD;
    else if (r != WAIT_TIMEOUT)
        return RP_ERR_IO;
    return 0;
}

int rp__os_send_reload(long pid)
{
    /* Local\ is the caller's session: right for an agent started from a
     * console of the same session. A service runs in session 0, whose Local\
     * is what other sessions call Global\: try that next. */
    static const char *const spaces[] = {"Local", "Global"};
    DWORD e = ERROR_FILE_NOT_FOUND;
    if (pid <= 0 || (unsigned long)pid > 0xFFFFFFFFUL)
        return RP_ERR_INVAL;
    for (size_t i = 0; i < sizeof spaces / sizeof spaces[0]; i++) {
        char name[64];
        wchar_t *w = NULL;
        snprintf(name, sizeof name, "%s\\rampartd-reload-%lu", spaces[i], (unsigned long)pid);
        int rc = rp__os_win_wide(name, 1, &w);
        if (rc != 0)
            return rc;
        HANDLE h = OpenEventW(EVENT_MODIFY_STATE, FALSE, w);
        free(w);
        if (h) {
            BOOL ok = SetEvent(h);
            DWORD se = GetLastError();
            CloseHandle(h);
            return ok ? 0 : win_to_rp(se);
        }
        /* Report "access denied" over "not found" if either namespace said so. */
        DWORD oe = GetLastError();
        if (oe != ERROR_FILE_NOT_FOUND)
            e = oe;
    }
    return win_to_rp(e);
}

/* ---- the event log -------------------------------------------------------- */

/*
 * ReportEventW needs the source registered under
 * HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\rampartd with
 * an EventMessageFile for Event Viewer to show the text cleanly; without it
 * the entry still holds the message, after a "description for Event ID 1
 * cannot be found" note. Registering it is the installer's job.
 */
#define EVENT_ID 1
/* ReportEventW refuses a string longer than 31839 characters. */
#define EVENT_TEXT_MAX 31000

static SRWLOCK ev_lock = SRWLOCK_INIT;
static HANDLE ev_source; /* guarded by ev_lock: writers may race with close */

void rp__os_syslog_open(const char *ident)
{
    wchar_t *w = NULL;
    if (ident && rp__os_win_wide(ident, 0, &w) != 0)
        w = NULL;
    AcquireSRWLockExclusive(&ev_lock);
    if (!ev_source)
        ev_source = RegisterEventSourceW(NULL, w ? w : L"rampartd");
    ReleaseSRWLockExclusive(&ev_lock);
    free(w);
}

void rp__os_syslog_write(int level, const char *msg)
{
    static const WORD types[] = {EVENTLOG_ERROR_TYPE, EVENTLOG_WARNING_TYPE,
                                 EVENTLOG_INFORMATION_TYPE, EVENTLOG_INFORMATION_TYPE};
    WORD type = (level >= 0 && level < 4) ? types[level] : EVENTLOG_INFORMATION_TYPE;
    wchar_t *w = NULL;
    if (!msg || rp__os_win_wide(msg, 0, &w) != 0)
        return;
    if (wcslen(w) > EVENT_TEXT_MAX)
        w[EVENT_TEXT_MAX] = L'\0';
    LPCWSTR strings[1] = {w};
    AcquireSRWLockShared(&ev_lock);
    if (ev_source)
        ReportEventW(ev_source, type, 0, EVENT_ID, NULL, 1, 0, strings, NULL);
    ReleaseSRWLockShared(&ev_lock);
    free(w);
}

void rp__os_syslog_close(void)
{
    AcquireSRWLockExclusive(&ev_lock);
    if (ev_source)
        DeregisterEventSource(ev_source);
    ev_source = NULL;
    ReleaseSRWLockExclusive(&ev_lock);
}

/* ---- plugins ------------------------------------------------------------ */

struct rp__os_dl {
    HMODULE h;
};

static int dl_open(const char *abs_path, rp__os_dl **out, char *err, size_t errlen)
{
    wchar_t *w = NULL;
    if (!rp__os_path_is_absolute(abs_path)) {
        snprintf(err, errlen, "not an absolute path");
        return RP_ERR_INVAL;
    }
    /* win_path also turns '/' into '\': LoadLibraryExW wants backslashes. */
    int rc = win_path(abs_path, &w);
    if (rc != 0) {
        snprintf(err, errlen, "%s",
                 rc == RP_ERR_INVAL ? "the path is not valid UTF-8" : rp_strerror(rc));
        return rc;
    }
    rp__os_dl *dl = malloc(sizeof *dl);
    if (!dl) {
        free(w);
        return RP_ERR_NOMEM;
    }
    /* No "cannot find DLL" message box from the system: this is a service. */
    DWORD old_mode = 0;
    BOOL restore = SetThreadErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX, &old_mode);
    /* The plugin's dependencies come from its own folder and System32 only,
     * never from the current folder or PATH (DLL planting). Symbols are
     * bound at load and private to the module, as RTLD_NOW | RTLD_LOCAL. */
    dl->h =
        LoadLibraryExW(w, NULL, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32);
    DWORD e = GetLastError();
    if (restore)
        SetThreadErrorMode(old_mode, NULL);
    if (!dl->h) {
        if (e == ERROR_BAD_EXE_FORMAT) /* the system text is "%1 is not a valid..." */
            snprintf(err, errlen,
                     "not a DLL for this machine (a 32-bit or foreign build?) (error %lu)",
                     (unsigned long)e);
        else
            win_message(e, err, errlen);
        /* "The specified module could not be found" also means a missing
         * dependency: say which when the file itself is there. */
        if (e == ERROR_MOD_NOT_FOUND && GetFileAttributesW(w) != INVALID_FILE_ATTRIBUTES) {
            size_t used = strlen(err);
            if (used < errlen)
                snprintf(err + used, errlen - used,
                         "; a DLL it depends on is missing (searched: its own folder, System32)");
        }
        free(w);
        free(dl);
        return RP_ERR_IO;
    }
    free(w);
    *out = dl;
    return 0;
}

void *rp__os_lib_open(const char *soname, char *err, size_t errlen)
{
    /* LOAD_LIBRARY_SEARCH_SYSTEM32 keeps the current folder out of the search. */
    HMODULE h = LoadLibraryExA(soname, NULL, LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (!h && err && errlen)
        snprintf(err, errlen, "%s: cannot be loaded (error %lu)", soname,
                 (unsigned long)GetLastError());
    return (void *)h;
}

rp__os_fn rp__os_lib_sym(void *lib, const char *name)
{
    FARPROC p = lib ? GetProcAddress((HMODULE)lib, name) : NULL;
    rp__os_fn fn;
    memcpy(&fn, &p, sizeof fn);
    return fn;
}

rp__os_fn rp__os_dl_sym(rp__os_dl *dl, const char *name)
{
    FARPROC p = GetProcAddress(dl->h, name);
    rp__os_fn fn;
    /* FARPROC and rp__os_fn are both function pointers of different types;
     * the copy keeps -Wcast-function-type quiet and says what is meant. */
    _Static_assert(sizeof p == sizeof fn, "FARPROC and rp__os_fn differ in size");
    memcpy(&fn, &p, sizeof fn);
    return fn;
}

void rp__os_dl_forget(rp__os_dl *dl)
{
    free(dl); /* the module stays loaded for the life of the process */
}

void rp__os_dl_close(rp__os_dl *dl)
{
    if (!dl)
        return;
    FreeLibrary(dl->h);
    free(dl);
}

/* ---- trust before load ------------------------------------------------ */

/* Rights that let a principal change the file (or, on a folder, add,
 * replace or remove files in it), or take that power. On a folder
 * FILE_WRITE_DATA is "add file", FILE_APPEND_DATA "add subfolder". */
#define WRITE_RIGHTS                                                                               \
    (FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_DELETE_CHILD | WRITE_DAC | WRITE_OWNER | DELETE |   \
     GENERIC_WRITE | GENERIC_ALL)

/* The principals as trusted as the agent itself. */
struct trust {
    BYTE admins[SECURITY_MAX_SID_SIZE];
    BYTE system[SECURITY_MAX_SID_SIZE];
    BYTE creator_owner[SECURITY_MAX_SID_SIZE];
    BYTE owner_rights[SECURITY_MAX_SID_SIZE];
    PSID installer; /* NT SERVICE\TrustedInstaller, from AllocateAndInitializeSid */
    PSID user;      /* points into user_buf */
    void *user_buf;
};

static int well_known(WELL_KNOWN_SID_TYPE type, BYTE *buf)
{
    DWORD size = SECURITY_MAX_SID_SIZE;
    return CreateWellKnownSid(type, NULL, buf, &size) ? 0 : RP_ERR_INTERNAL;
}

static void trust_free(struct trust *t)
{
    if (t->installer)
        FreeSid(t->installer);
    free(t->user_buf);
}

static int trust_init(struct trust *t)
{
    memset(t, 0, sizeof *t);
    SID_IDENTIFIER_AUTHORITY nt = {SECURITY_NT_AUTHORITY};
    int rc = well_known(WinBuiltinAdministratorsSid, t->admins);
    if (rc == 0)
        rc = well_known(WinLocalSystemSid, t->system);
    if (rc == 0)
        rc = well_known(WinCreatorOwnerSid, t->creator_owner);
    if (rc == 0)
        rc = well_known(WinCreatorOwnerRightsSid, t->owner_rights);
    /* S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464. */
    if (rc == 0 &&
        !AllocateAndInitializeSid(&nt, 6, SECURITY_SERVICE_ID_BASE_RID, 956008885, 3418522649,
                                  1831038044, 1853292631, 2271478464, 0, 0, &t->installer))
        rc = RP_ERR_INTERNAL;
    if (rc == 0)
        rc = process_user(&t->user, &t->user_buf);
    if (rc != 0)
        trust_free(t);
    return rc;
}

/*
 * Owners that pass: Administrators, SYSTEM, the agent's user - and
 * TrustedInstaller, which owns what Windows itself installs and outranks
 * Administrators.
 */
static int trusted_owner(const struct trust *t, PSID sid)
{
    return EqualSid(sid, (PSID)t->admins) || EqualSid(sid, (PSID)t->system) ||
           EqualSid(sid, t->user) || EqualSid(sid, t->installer);
}

/*
 * Principals that may hold write rights: the trusted owners (TrustedInstaller
 * too: Program Files hands it full control of every folder created below),
 * plus two placeholders that give no one else anything: CREATOR OWNER in an
 * effective entry matches no token, and OWNER RIGHTS is the owner, already
 * checked.
 */
static int trusted_writer(const struct trust *t, PSID sid)
{
    return trusted_owner(t, sid) || EqualSid(sid, (PSID)t->creator_owner) ||
           EqualSid(sid, (PSID)t->owner_rights);
}

/* "S-1-5-32-545 (BUILTIN\Users)": the SID, and the name of the usual
 * suspects without an account lookup (which can block on a domain). */
static void sid_text(PSID sid, char *buf, size_t len)
{
    static const struct {
        const char *sid, *name;
    } names[] = {
        {"S-1-1-0", "Everyone"},
        {"S-1-5-11", "Authenticated Users"},
        {"S-1-5-32-545", "BUILTIN\\Users"},
        {"S-1-5-4", "INTERACTIVE"},
        {"S-1-5-32-547", "BUILTIN\\Power Users"},
        {"S-1-5-7", "ANONYMOUS LOGON"},
    };
    char *s = NULL;
    if (!ConvertSidToStringSidA(sid, &s)) {
        snprintf(buf, len, "an unreadable SID");
        return;
    }
    const char *name = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].sid) == 0)
            name = names[i].name;
    if (name)
        snprintf(buf, len, "%s (%s)", s, name);
    else
        snprintf(buf, len, "%s", s);
    LocalFree(s);
}

/* The SID of an allow entry that grants write rights, or NULL. Object entries
 * (Active Directory's) do not occur on files, but are read all the same
 * rather than skipped: their SID sits after one or two optional GUIDs. */
static PSID write_grant(const ACE_HEADER *hd)
{
    switch (hd->AceType) {
    case ACCESS_ALLOWED_ACE_TYPE:
    case ACCESS_ALLOWED_CALLBACK_ACE_TYPE: { /* same layout; its condition may hold */
        const ACCESS_ALLOWED_ACE *a = (const ACCESS_ALLOWED_ACE *)hd;
        return (a->Mask & WRITE_RIGHTS) ? (PSID)&a->SidStart : NULL;
    }
    case ACCESS_ALLOWED_OBJECT_ACE_TYPE:
    case ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE: {
        const ACCESS_ALLOWED_OBJECT_ACE *a = (const ACCESS_ALLOWED_OBJECT_ACE *)hd;
        if (!(a->Mask & WRITE_RIGHTS))
            return NULL;
        size_t off = offsetof(ACCESS_ALLOWED_OBJECT_ACE, ObjectType);
        if (a->Flags & ACE_OBJECT_TYPE_PRESENT)
            off += sizeof(GUID);
        if (a->Flags & ACE_INHERITED_OBJECT_TYPE_PRESENT)
            off += sizeof(GUID);
        return (PSID)((const BYTE *)hd + off);
    }
    default:
        return NULL; /* deny entries only take rights away */
    }
}

/* The verdict on one owner and DACL (separate from reading them so that it
 * can be tried on descriptors made from SDDL); shown names the object. */
static int check_owner_dacl(PSID owner, const ACL *dacl, const char *shown, const struct trust *t,
                            char *reason, size_t len)
{
    char who[256];
    if (!owner || !IsValidSid(owner)) {
        snprintf(reason, len, "%s: has no owner (the file system keeps no permissions)", shown);
        return RP_ERR_PERM;
    }
    if (!trusted_owner(t, owner)) {
        sid_text(owner, who, sizeof who);
        snprintf(reason, len, "%s: owned by %s, not by Administrators, SYSTEM or the agent's user",
                 shown, who);
        return RP_ERR_PERM;
    }
    /* A NULL DACL (not an empty one, which grants nothing) grants everything
     * to everyone. */
    if (!dacl) {
        snprintf(reason, len, "%s: writable by everyone (it has no access control list)", shown);
        return RP_ERR_PERM;
    }
    for (DWORD i = 0; i < dacl->AceCount; i++) {
        void *ace = NULL;
        if (!GetAce((PACL)dacl, i, &ace)) {
            snprintf(reason, len, "%s: unreadable access control list", shown);
            return RP_ERR_PERM;
        }
        const ACE_HEADER *hd = ace;
        /* Inherit-only entries are templates for children, not rights here. */
        if (hd->AceFlags & INHERIT_ONLY_ACE)
            continue;
        PSID sid = write_grant(hd);
        if (!sid || (IsValidSid(sid) && trusted_writer(t, sid)))
            continue;
        if (IsValidSid(sid))
            sid_text(sid, who, sizeof who);
        else
            snprintf(who, sizeof who, "an unreadable SID");
        snprintf(reason, len, "%s: writable by %s", shown, who);
        return RP_ERR_PERM;
    }
    return 0;
}

/* Owner and DACL of an open file or folder, checked. */
static int check_security(HANDLE h, const char *shown, const struct trust *t, char *reason,
                          size_t len)
{
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD e =
        GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                        &owner, NULL, &dacl, NULL, &sd);
    if (e != ERROR_SUCCESS) {
        char msg[256];
        win_message(e, msg, sizeof msg);
        snprintf(reason, len, "%s: cannot read its permissions: %s", shown, msg);
        return e == ERROR_ACCESS_DENIED ? RP_ERR_PERM : RP_ERR_IO;
    }
    int rc = check_owner_dacl(owner, dacl, shown, t, reason, len);
    LocalFree(sd);
    return rc;
}

/* Writes "<shown>: <the system's text for e>" into reason and returns the
 * RP_ERR code of e: the answer to a failed Win32 call on a checked path. */
static int win_fail(DWORD e, const char *shown, char *reason, size_t len)
{
    char msg[256];
    win_message(e, msg, sizeof msg);
    snprintf(reason, len, "%s: %s", shown, msg);
    return win_to_rp(e);
}

/* Opens a file or folder for reading its attributes and security. */
static HANDLE open_meta(const wchar_t *w, DWORD extra_flags)
{
    /* READ_CONTROL reads owner and DACL; BACKUP_SEMANTICS is what lets
     * CreateFileW open a folder at all. */
    return CreateFileW(w, READ_CONTROL | FILE_READ_ATTRIBUTES,
                       FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL, OPEN_EXISTING,
                       FILE_FLAG_BACKUP_SEMANTICS | extra_flags, NULL);
}

static int check_trusted(const char *path, char *reason, size_t len)
{
    wchar_t *w = NULL;
    char *shown_dir = NULL;
    struct trust t;
    HANDLE h = INVALID_HANDLE_VALUE;
    int have_trust = 0;
    int rc = win_path(path, &w);
    if (rc != 0) {
        snprintf(reason, len, "%s: %s", path,
                 rc == RP_ERR_INVAL ? "the path is not valid UTF-8" : rp_strerror(rc));
        return rc;
    }
    /* One handle for both the type and the security checks, so that they
     * look at the same file. OPEN_REPARSE_POINT is lstat(): a link is
     * examined (and refused) itself, not its target. */
    h = open_meta(w, FILE_FLAG_OPEN_REPARSE_POINT);
    if (h == INVALID_HANDLE_VALUE) {
        rc = win_fail(GetLastError(), path, reason, len);
        goto out;
    }
    BY_HANDLE_FILE_INFORMATION info;
    if (!GetFileInformationByHandle(h, &info)) {
        rc = win_fail(GetLastError(), path, reason, len);
        goto out;
    }
    if (GetFileType(h) != FILE_TYPE_DISK ||
        (info.dwFileAttributes &
         (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT | FILE_ATTRIBUTE_DEVICE))) {
        snprintf(reason, len, "%s: not a regular file", path);
        rc = RP_ERR_PERM;
        goto out;
    }
    if ((rc = trust_init(&t)) != 0) {
        snprintf(reason, len, "%s: cannot read the agent's own identity: %s", path,
                 rp_strerror(rc));
        goto out;
    }
    have_trust = 1;
    if ((rc = check_security(h, path, &t, reason, len)) != 0)
        goto out;
    CloseHandle(h);
    h = INVALID_HANDLE_VALUE;

    /* The folder: cut the last component; a volume root stays whole ("C:\"). */
    size_t root = root_len(w), cut = wcslen(w);
    while (cut > root && w[cut - 1] != L'\\')
        cut--;
    if (cut > root)
        cut--; /* drop the separator too, except after the root */
    if (cut < root)
        cut = root;
    w[cut] = L'\0';
    if ((rc = shown_path(w, &shown_dir)) != 0) {
        snprintf(reason, len, "%s: %s", path, rp_strerror(rc));
        goto out;
    }
    /* Followed if it is a link, as stat() in os_unix.c: the path came
     * through rp__os_realpath, so the folder is already the final one. */
    h = open_meta(w, 0);
    if (h == INVALID_HANDLE_VALUE) {
        rc = win_fail(GetLastError(), shown_dir, reason, len);
        goto out;
    }
    rc = check_security(h, shown_dir, &t, reason, len);
out:
    if (h != INVALID_HANDLE_VALUE)
        CloseHandle(h);
    if (have_trust)
        trust_free(&t);
    free(shown_dir);
    free(w);
    return rc;
}

/*
 * Windows keeps the check and the load apart for now (the port is compiled,
 * not yet run): the file is checked by its path, then loaded by it. The Unix
 * version opens the file once and loads that descriptor; the Windows
 * equivalent (a handle without FILE_SHARE_WRITE | FILE_SHARE_DELETE held for
 * the life of the process, and every folder from the volume root checked) is
 * to come with the port.
 */
int rp__os_dl_open_trusted(const char *abs_path, rp__os_dl **out, char *err, size_t errlen)
{
    int rc = check_trusted(abs_path, err, errlen);
    if (rc != 0)
        return RP_ERR_PERM;
    return dl_open(abs_path, out, err, errlen);
}

/* A changed plugin file is not detected on Windows yet: a reload keeps the
 * loaded copy (docs/reload.md). */
int rp__os_dl_open_trusted_copy(const char *abs_path, rp__os_dl **out, char *err, size_t errlen)
{
    (void)abs_path;
    (void)out;
    snprintf(err, errlen, "loading a private copy of a plugin is not supported on Windows");
    return RP_ERR_UNSUPPORTED;
}

/* Signed plugins need the private copy (the checked bytes must be the loaded
 * bytes), which Windows lacks for now: a plugin with a signature, or any
 * plugin when signatures are required, is refused rather than loaded
 * unchecked. */
int rp__os_dl_open_checked(const char *abs_path, int copy, int require_sig, size_t sig_max,
                           rp__os_dl_check_fn check, void *arg, rp__os_dl **out, char *err,
                           size_t errlen)
{
    (void)arg;
    if (!check)
        return RP_ERR_INVAL;
    char sig_path[1100];
    char *sig = NULL;
    size_t sig_len = 0;
    int n = snprintf(sig_path, sizeof sig_path, "%s.sig", abs_path);
    int found = n < 0 || (size_t)n >= sizeof sig_path ||
                rp__os_read_file(sig_path, sig_max, &sig, &sig_len, NULL) != RP_ERR_NOTFOUND;
    free(sig);
    if (found || require_sig) {
        snprintf(err, errlen, "%s: signed plugins are not supported on Windows yet", abs_path);
        return RP_ERR_UNSUPPORTED;
    }
    return copy ? rp__os_dl_open_trusted_copy(abs_path, out, err, errlen)
                : rp__os_dl_open_trusted(abs_path, out, err, errlen);
}

int rp__os_dl_file_id(const rp__os_dl *dl, rp__os_file_id *out)
{
    (void)dl;
    (void)out;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_path_file_id(const char *abs_path, rp__os_file_id *out)
{
    (void)abs_path;
    (void)out;
    return RP_ERR_UNSUPPORTED;
}

/* The folder itself only (its owner and DACL), as check_trusted does for a
 * plugin's folder; its parents are left to the port. */
int rp__os_dir_check_private(const char *path, char *reason, size_t len)
{
    wchar_t *w = NULL;
    struct trust t;
    int rc = win_path(path, &w);
    if (rc != 0) {
        snprintf(reason, len, "%s: %s", path,
                 rc == RP_ERR_INVAL ? "the path is not valid UTF-8" : rp_strerror(rc));
        return rc;
    }
    HANDLE h = open_meta(w, 0);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return win_fail(GetLastError(), path, reason, len);
    if ((rc = trust_init(&t)) != 0) {
        snprintf(reason, len, "%s: cannot read the agent's own identity: %s", path,
                 rp_strerror(rc));
        CloseHandle(h);
        return rc;
    }
    rc = check_security(h, path, &t, reason, len);
    trust_free(&t);
    CloseHandle(h);
    return rc;
}

/* Windows: the folder's owner and DACL, as above; refusing a link (reparse
 * point) in its place is left to the port. */
int rp__os_subdir_check_private(const char *path, char *reason, size_t len)
{
    return rp__os_dir_check_private(path, reason, len);
}

int rp__os_read_private_file(const char *path, size_t max_bytes, char **data_out, size_t *len_out,
                             char *reason, size_t len)
{
    int rc = check_trusted(path, reason, len);
    if (rc != 0)
        return rc;
    int sys = 0;
    rc = rp__os_read_file(path, max_bytes, data_out, len_out, &sys);
    if (rc != 0)
        snprintf(reason, len, "%s: %s", path, rp_strerror(rc));
    return rc;
}

/* The holder's handle deletes the file when it closes (even when the
 * process dies), so a file that is there names a running agent. */
int rp__os_pidfile_holder(const char *path, long *pid)
{
    wchar_t *w = NULL;
    int rc = win_path(path, &w);
    if (rc != 0)
        return rc;
    long v = read_holder_pid(w);
    free(w);
    if (v <= 0)
        return RP_ERR_NOTFOUND;
    *pid = v;
    return 0;
}

/* ---- folders opened once ------------------------------------------------ */

/*
 * The Windows port keeps the checked path in the handle, and every function
 * below works on "<path>\<name>": Win32 has no documented call that opens a
 * name relative to a folder handle (NtCreateFile's RootDirectory is the
 * native API). What Unix gets from openat is had by pinning instead: the
 * handle keeps the folder open without FILE_SHARE_DELETE, so nobody can
 * rename or remove it (and put something else at its path) while it is
 * held. A subfolder (rp__os_dir_sub) that is a reparse point (symbolic link
 * or junction) is refused, as a link is on Unix.
 */
static int is_sep8(char c)
{
    return c == '/' || c == '\\';
}

/* A name is one component: a separator, a drive or a dot name would leave
 * the folder. */
static int name_ok(const char *name)
{
    return name && name[0] && !strpbrk(name, "/\\:") && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

static void dir_free(rp__os_dir *d)
{
    if (d->pin != INVALID_HANDLE_VALUE)
        CloseHandle(d->pin);
    free(d->path);
    free(d);
}

/* A handle on path[0..plen), pinned. With no_reparse a reparse point there
 * is refused (RP_ERR_PERM), not followed. */
static int dir_new(const char *path, size_t plen, int no_reparse, rp__os_dir **out)
{
    rp__os_dir *d = malloc(sizeof *d);
    char *p = malloc(plen + 1);
    if (!d || !p) {
        free(d);
        free(p);
        return RP_ERR_NOMEM;
    }
    memcpy(p, path, plen);
    p[plen] = '\0';
    d->path = p;
    d->pin = INVALID_HANDLE_VALUE;
    wchar_t *w;
    int rc = rp__os_win_wide(p, 1, &w);
    if (rc != 0) {
        dir_free(d);
        return rc;
    }
    d->pin = CreateFileW(
        w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING,
        FILE_FLAG_BACKUP_SEMANTICS | (no_reparse ? FILE_FLAG_OPEN_REPARSE_POINT : 0), NULL);
    DWORD e = GetLastError();
    free(w);
    if (d->pin == INVALID_HANDLE_VALUE) {
        dir_free(d);
        return win_to_rp(e);
    }
    BY_HANDLE_FILE_INFORMATION info;
    if (!GetFileInformationByHandle(d->pin, &info) ||
        !(info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ||
        (no_reparse && (info.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))) {
        dir_free(d);
        return RP_ERR_PERM;
    }
    *out = d;
    return 0;
}

/* "<folder>\<name>" from malloc, or NULL. */
static char *dir_join(const rp__os_dir *d, const char *name)
{
    size_t a = strlen(d->path), b = strlen(name);
    int sep = a > 0 && !is_sep8(d->path[a - 1]);
    char *p = malloc(a + (size_t)sep + b + 1);
    if (!p)
        return NULL;
    memcpy(p, d->path, a);
    if (sep)
        p[a] = '\\';
    memcpy(p + a + sep, name, b + 1);
    return p;
}

static int dir_open_len(const char *path, size_t plen, int nolink, rp__os_dir **out, char *reason,
                        size_t len)
{
    char *p = malloc(plen + 1);
    if (!p)
        return RP_ERR_NOMEM;
    memcpy(p, path, plen);
    p[plen] = '\0';
    int rc = nolink ? rp__os_subdir_check_private(p, reason, len)
                    : rp__os_dir_check_private(p, reason, len);
    if (rc == 0)
        rc = dir_new(p, plen, nolink, out);
    free(p);
    return rc;
}

int rp__os_dir_open(const char *path, rp__os_dir **out, char *reason, size_t len)
{
    return dir_open_len(path, strlen(path), 0, out, reason, len);
}

int rp__os_dir_open_nolink(const char *path, rp__os_dir **out, char *reason, size_t len)
{
    return dir_open_len(path, strlen(path), 1, out, reason, len);
}

int rp__os_dir_open_parent(const char *path, rp__os_dir **out, const char **name, char *reason,
                           size_t len)
{
    const char *sep = NULL;
    for (const char *p = path; *p; p++)
        if (is_sep8(*p))
            sep = p;
    if (!rp__os_path_is_absolute(path) || !sep || !name_ok(sep + 1)) {
        snprintf(reason, len, "%s: expected an absolute path to a file", path);
        return RP_ERR_INVAL;
    }
    /* Keep the separator of a volume root ("C:\"). */
    size_t plen = (size_t)(sep - path);
    if (plen == 0 || path[plen - 1] == ':')
        plen++;
    int rc = dir_open_len(path, plen, 0, out, reason, len);
    if (rc == 0)
        *name = sep + 1;
    return rc;
}

/* The path of name in dir (caller frees), or NULL with *rc RP_ERR_INVAL for
 * a name that is not one file name, RP_ERR_NOMEM. */
static char *dir_name_path(const rp__os_dir *dir, const char *name, int *rc)
{
    char *p = name_ok(name) ? dir_join(dir, name) : NULL;
    *rc = p ? 0 : name_ok(name) ? RP_ERR_NOMEM : RP_ERR_INVAL;
    return p;
}

int rp__os_dir_sub(rp__os_dir *dir, const char *name, unsigned create_mode, rp__os_dir **out,
                   char *reason, size_t len)
{
    if (!name_ok(name)) {
        snprintf(reason, len, "%s: %s: expected one file name", dir->path, name ? name : "");
        return RP_ERR_INVAL;
    }
    char *p = dir_join(dir, name);
    if (!p)
        return RP_ERR_NOMEM;
    int rc = 0;
    if (create_mode && (rc = rp__os_mkdir_p(p, create_mode)) != 0)
        snprintf(reason, len, "%s: cannot create the folder: %s", p, rp_strerror(rc));
    if (rc == 0)
        rc = rp__os_subdir_check_private(p, reason, len);
    if (rc == 0)
        rc = dir_new(p, strlen(p), 1, out);
    free(p);
    return rc;
}

int rp__os_dir_dup(const rp__os_dir *dir, rp__os_dir **out)
{
    size_t plen = strlen(dir->path);
    rp__os_dir *d = malloc(sizeof *d);
    char *p = malloc(plen + 1);
    HANDLE pin = INVALID_HANDLE_VALUE;
    if (p)
        memcpy(p, dir->path, plen + 1);
    if (!d || !p ||
        !DuplicateHandle(GetCurrentProcess(), dir->pin, GetCurrentProcess(), &pin, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        free(d);
        free(p);
        return d && p ? win_to_rp(GetLastError()) : RP_ERR_NOMEM;
    }
    d->path = p;
    d->pin = pin;
    *out = d;
    return 0;
}

const char *rp__os_dir_path(const rp__os_dir *dir)
{
    return dir->path;
}

int64_t rp__os_dir_native(const rp__os_dir *dir)
{
    (void)dir;
    return -1;
}

int rp__os_dir_set_mode(rp__os_dir *dir, unsigned mode)
{
    (void)dir;
    (void)mode;
    return 0;
}

void rp__os_dir_close(rp__os_dir *dir)
{
    if (dir)
        dir_free(dir);
}

int rp__os_dir_write_atomic(rp__os_dir *dir, const char *name, const void *data, size_t len,
                            unsigned mode)
{
    int rc;
    char *p = dir_name_path(dir, name, &rc);
    if (p)
        rc = rp__os_write_file_atomic(p, data, len, mode);
    free(p);
    return rc;
}

int rp__os_dir_read_small(rp__os_dir *dir, const char *name, size_t max_bytes, char **data_out,
                          size_t *len_out, char *reason, size_t len)
{
    int rc;
    char *p = dir_name_path(dir, name, &rc);
    if (p)
        rc = rp__os_read_private_file(p, max_bytes, data_out, len_out, reason, len);
    else if (rc == RP_ERR_INVAL)
        snprintf(reason, len, "%s: %s: expected one file name", dir->path, name ? name : "");
    free(p);
    return rc;
}

int rp__os_dir_open_append(rp__os_dir *dir, const char *name, unsigned mode, rp__os_file *out,
                           int *errno_out)
{
    out->h = RP__OS_FILE_NONE;
    if (errno_out)
        *errno_out = 0;
    int rc;
    char *p = dir_name_path(dir, name, &rc);
    if (p)
        rc = rp__os_file_open_append(p, mode, out, errno_out);
    free(p);
    return rc;
}

int rp__os_dir_rename(rp__os_dir *dir, const char *from, const char *to)
{
    if (!name_ok(from) || !name_ok(to))
        return RP_ERR_INVAL;
    char *a = dir_join(dir, from), *b = dir_join(dir, to);
    int rc = a && b ? rp__os_rename(a, b) : RP_ERR_NOMEM;
    free(a);
    free(b);
    return rc;
}

int rp__os_dir_remove(rp__os_dir *dir, const char *name)
{
    int rc;
    char *p = dir_name_path(dir, name, &rc);
    if (p)
        rc = rp__os_remove(p);
    free(p);
    return rc;
}

int rp__os_dir_list(rp__os_dir *dir, int (*fn)(void *arg, const char *name, uint64_t size),
                    void *arg)
{
    return rp__os_dir_files(dir->path, fn, arg);
}

int rp__os_dir_pidfile_acquire(rp__os_dir *dir, const char *name, rp__os_pidfile **out,
                               long *holder_pid)
{
    *holder_pid = 0;
    int rc;
    char *p = dir_name_path(dir, name, &rc);
    if (p)
        rc = rp__os_pidfile_acquire(p, out, holder_pid);
    free(p);
    return rc;
}
