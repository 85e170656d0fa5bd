/* core/lib/path.c - path helpers. Unix separators; core/os/win normalizes before use. */
#include "lib/path.h"
#include "os/os.h"

#include <stdlib.h>
#include <string.h>

char *rp__path_resolve(const char *base, const char *path)
{
    if (rp__os_path_is_absolute(path))
        return strdup(path);
    size_t bl = strlen(base), pl = strlen(path);
    char *out = malloc(bl + pl + 3);
    if (!out)
        return NULL;
    memcpy(out, base, bl);
    size_t len = bl;
    while (len > 1 && out[len - 1] == '/')
        len--;
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        if (seg == 0 || (seg == 1 && p[0] == '.')) {
            /* Empty or "." segments change nothing. */
        } else if (seg == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1)
                len--;
        } else {
            if (len == 0 || out[len - 1] != '/')
                out[len++] = '/';
            memcpy(out + len, p, seg);
            len += seg;
        }
        p += seg;
        if (*p == '/')
            p++;
    }
    if (len == 0)
        out[len++] = '/';
    out[len] = '\0';
    return out;
}

/* A new string of the first n bytes of s (strndup, which the Windows C
 * runtime lacks). */
static char *dup_prefix(const char *s, size_t n)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

char *rp__path_dir_prefix(const char *path)
{
    const char *slash = strrchr(path, '/');
    return dup_prefix(path, slash ? (size_t)(slash - path) + 1 : 0);
}

char *rp__path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return dup_prefix(path, (size_t)(slash - path));
}
