/* core/os/fs_common.c - the parts of files and folders that are the same on
 * every platform, built on the platform's primitives (os_fs.h). Compiled
 * into the platform layer of both unix/ and win/. */
#include "os/os_fs.h"
#include "os/os_fs_int.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <stdlib.h>

int rp__os_fs_error(int e)
{
    switch (e) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return RP_ERR_FULL;
    case EEXIST:
        return RP_ERR_EXISTS;
    case ENOENT:
    case ENOTDIR:
        return RP_ERR_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return RP_ERR_PERM;
    case ENOMEM:
        return RP_ERR_NOMEM;
    default:
        return RP_ERR_IO;
    }
}

int rp__os_read_to_end(rp__os_file f, uint64_t size, size_t max_bytes, char **data_out,
                       size_t *len_out, int *errno_out)
{
    int err = 0, rc = 0;
    char *data = NULL;
    size_t used = 0;

    if (size > max_bytes) {
        err = EFBIG;
        rc = RP_ERR_RANGE;
        goto out;
    }
    /* Read to the end rather than trusting the size: the file may change
     * under us, and the cap holds whatever it grows to. */
    size_t cap = (size_t)size + 1;
    data = malloc(cap);
    if (!data) {
        rc = RP_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        if (used + 1 >= cap) {
            if (cap > max_bytes) {
                err = EFBIG;
                rc = RP_ERR_RANGE;
                goto out;
            }
            size_t ncap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            if (ncap <= cap)
                ncap = cap + 1;
            char *n = realloc(data, ncap);
            if (!n) {
                rc = RP_ERR_NOMEM;
                goto out;
            }
            data = n;
            cap = ncap;
        }
        size_t got = 0;
        rc = rp__os_file_read_at(f, used, data + used, cap - 1 - used, &got);
        if (rc != 0) {
            err = EIO;
            goto out;
        }
        if (got == 0)
            break;
        used += got;
    }
    data[used] = '\0';
    *data_out = data;
    *len_out = used;
    data = NULL;
out:
    free(data);
    if (errno_out)
        *errno_out = err;
    return rc;
}
