/*
 * core/os/win/secret_win.c - os_secret.h on Win32 handles and the file's DACL.
 * *** NOT BUILT ON LINUX, NOT YET TESTED ON WINDOWS. *** Compile-ready for
 * mingw-w64. Windows has no mode bits: "only its owner may access it" means
 * no allow entry of the DACL gives read access to Everyone, Authenticated
 * Users or BUILTIN\Users (a NULL DACL, which allows everyone, is refused).
 */
#include "os/os_secret.h"
#include "os/os_secret_int.h"

#include <rampart/plugin.h>

#include <windows.h>

#include <aclapi.h>

#include <stdio.h>
#include <stdlib.h>

/* Opens path (UTF-8) for reading, sharing reads only, and checks that it is
 * a regular file on disk. Returns the handle or NULL with *rc set. */
static HANDLE open_checked(const char *path, int missing_rc, int *rc, char *why, size_t whylen)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
    wchar_t *w = n > 0 ? malloc((size_t)n * sizeof *w) : NULL;
    if (!w || MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, w, n) != n) {
        free(w);
        rp__os_secret_say(why, whylen, "not a valid file name");
        *rc = missing_rc;
        return NULL;
    }
    HANDLE h = CreateFileW(w, GENERIC_READ | READ_CONTROL, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        int missing = e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND;
        rp__os_secret_say(why, whylen,
                          missing ? "No such file or directory" : "cannot open it (error %lu)",
                          (unsigned long)e);
        *rc = missing ? RP_ERR_NOTFOUND : e == ERROR_ACCESS_DENIED ? RP_ERR_PERM : missing_rc;
        return NULL;
    }
    BY_HANDLE_FILE_INFORMATION fi;
    if (GetFileType(h) != FILE_TYPE_DISK || !GetFileInformationByHandle(h, &fi) ||
        (fi.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_DEVICE))) {
        rp__os_secret_say(why, whylen, "not a regular file");
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

/* rp__os_secret_read_fn on a file handle, 64 KiB at a time at the most
 * (ReadFile counts in a DWORD). */
static int read_handle(void *h, char *dst, size_t want, size_t *got, char *why, size_t whylen)
{
    DWORD n = 0;
    if (!ReadFile((HANDLE)h, dst, (DWORD)(want > 65536 ? 65536 : want), &n, NULL)) {
        rp__os_secret_say(why, whylen, "read error %lu", (unsigned long)GetLastError());
        return RP_ERR_IO;
    }
    *got = n;
    return 0;
}

int rp__os_read_secret_file(const char *path, size_t max, char **buf_out, size_t *len_out,
                            char *why, size_t whylen)
{
    int rc = 0;
    HANDLE h = open_checked(path, RP_ERR_IO, &rc, why, whylen);
    if (!h)
        return rc;
    if (others_may_read(h)) {
        rp__os_secret_say(
            why, whylen,
            "its access list lets other users read it; it holds a secret, so allow its owner "
            "only");
        CloseHandle(h);
        return RP_ERR_PERM;
    }
    LARGE_INTEGER size;
    if (GetFileSizeEx(h, &size) && (unsigned long long)size.QuadPart > max) {
        rp__os_secret_say(why, whylen, "%llu bytes, more than the %zu allowed",
                          (unsigned long long)size.QuadPart, max);
        CloseHandle(h);
        return RP_ERR_RANGE;
    }
    /* Read to the end rather than trusting the size (rp__os_secret_read_to_end). */
    rc = rp__os_secret_read_to_end(read_handle, h, max, buf_out, len_out, why, whylen);
    CloseHandle(h);
    return rc;
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
