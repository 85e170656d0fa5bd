/*
 * core/os/win/secret_win.c - os_secret.h on Win32 handles and the file's DACL.
 * *** NOT BUILT ON LINUX, NOT YET TESTED ON WINDOWS. *** Compile-ready for
 * mingw-w64. Windows has no mode bits: "only its owner may access it" means
 * no allow entry of the DACL gives read access to Everyone, Authenticated
 * Users or BUILTIN\Users (a NULL DACL, which allows everyone, is refused).
 */
#include "os/os_secret.h"

#include <rampart/plugin.h>

#include <windows.h>

#include <aclapi.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void say(char *why, size_t whylen, const char *fmt, ...)
{
    if (!why || whylen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

/* Opens path (UTF-8) for reading, sharing reads only, and checks that it is
 * a regular file on disk. Returns the handle or NULL with *rc set. */
static HANDLE open_checked(const char *path, int missing_rc, int *rc, char *why, size_t whylen)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (!w || MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, n) != n) {
        free(w);
        say(why, whylen, "not a valid file name");
        *rc = missing_rc;
        return NULL;
    }
    HANDLE h = CreateFileW(w, GENERIC_READ | READ_CONTROL, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        int missing = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND;
        say(why, whylen, missing ? "No such file or directory" : "cannot open it (error %lu)",
            (unsigned long)e);
        *rc = missing ? RP_ERR_NOTFOUND : e == ERROR_ACCESS_DENIED ? RP_ERR_PERM : missing_rc;
        return NULL;
    }
    BY_HANDLE_FILE_INFORMATION fi;
    if (GetFileType(h) != FILE_TYPE_DISK || !GetFileInformationByHandle(h, &fi) ||
        (fi.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE))) {
        say(why, whylen, "not a regular file");
        CloseHandle(h);
        *rc = RP_ERR_CONFIG;
        return NULL;
    }
    return h;
}

/* 1 when an allow entry of the file's DACL lets a broad group read it. */
static int others_may_read(HANDLE h)
{
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    if (GetSecurityInfo(h, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL, &dacl, NULL,
                        &sd) != ERROR_SUCCESS)
        return 1;
    int broad = !dacl;
    static const WELL_KNOWN_SID_TYPE groups[] = {WinWorldSid, WinAuthenticatedUserSid,
                                                 WinBuiltinUsersSid};
    BYTE sids[3][SECURITY_MAX_SID_SIZE];
    for (int g = 0; g < 3 && !broad; g++) {
        DWORD size = sizeof sids[g];
        if (!CreateWellKnownSid(groups[g], NULL, sids[g], &size))
            broad = 1;
    }
    for (DWORD i = 0; dacl && !broad && i < dacl->AceCount; i++) {
        ACE_HEADER *ace;
        if (!GetAce(dacl, i, (void **)&ace))
            continue;
        if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE)
            continue;
        ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *)ace;
        if (!(a->Mask & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL)))
            continue;
        for (int g = 0; g < 3; g++)
            if (EqualSid((PSID)&a->SidStart, (PSID)sids[g]))
                broad = 1;
    }
    LocalFree(sd);
    return broad;
}

int rp__os_read_secret_file(const char *path, size_t max, char **buf_out, size_t *len_out,
                            char *why, size_t whylen)
{
    int rc = 0;
    HANDLE h = open_checked(path, RP_ERR_IO, &rc, why, whylen);
    if (!h)
        return rc;
    if (others_may_read(h)) {
        say(why, whylen,
            "its access list lets other users read it; it holds a secret, so allow its owner "
            "only");
        CloseHandle(h);
        return RP_ERR_PERM;
    }
    LARGE_INTEGER size;
    if (GetFileSizeEx(h, &size) && (unsigned long long)size.QuadPart > max) {
        say(why, whylen, "%llu bytes, more than the %zu allowed", (unsigned long long)size.QuadPart,
            max);
        CloseHandle(h);
        return RP_ERR_RANGE;
    }
    char *buf = malloc(max + 1);
    if (!buf) {
        CloseHandle(h);
        return RP_ERR_NOMEM;
    }
    /* To the end, bounded by max + 1, as on Unix. */
    size_t len = 0;
    for (;;) {
        DWORD want = (DWORD)(max + 1 - len > 65536 ? 65536 : max + 1 - len), got = 0;
        if (!ReadFile(h, buf + len, want, &got, NULL)) {
            say(why, whylen, "read error %lu", (unsigned long)GetLastError());
            rc = RP_ERR_IO;
            break;
        }
        if (got == 0)
            break;
        len += got;
        if (len > max) {
            say(why, whylen, "more than the %zu bytes allowed", max);
            rc = RP_ERR_RANGE;
            break;
        }
    }
    CloseHandle(h);
    if (rc != 0) {
        wipe(buf, max + 1);
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *buf_out = buf;
    *len_out = len;
    return 0;
}

int rp__os_check_readable_file(const char *path, char *why, size_t whylen)
{
    int rc = 0;
    HANDLE h = open_checked(path, RP_ERR_CONFIG, &rc, why, whylen);
    if (!h)
        return rc;
    CloseHandle(h);
    return 0;
}
