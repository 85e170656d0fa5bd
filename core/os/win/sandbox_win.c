/* core/os/win/sandbox_win.c - isolated plugins are not supported on Windows
 * (os/os_sandbox.h): every call answers RP_ERR_UNSUPPORTED. */
#include "os/os.h"
#include "os/os_sandbox.h"

#include <rampart/plugin.h>

#include <stdio.h>

int rp__os_shm_create(size_t size, int *fd, void **map)
{
    (void)size, (void)fd, (void)map;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_shm_map(int fd, size_t size, void **map)
{
    (void)fd, (void)size, (void)map;
    return RP_ERR_UNSUPPORTED;
}

void rp__os_shm_unmap(void *map, size_t size)
{
    (void)map, (void)size;
}

int rp__os_wake_pair(int fds[2])
{
    (void)fds;
    return RP_ERR_UNSUPPORTED;
}

void rp__os_wake_send(int fd)
{
    (void)fd;
}

int rp__os_wake_wait(int fd, int timeout_ms)
{
    (void)fd, (void)timeout_ms;
    return RP_ERR_STOPPED;
}

void rp__os_fd_close(int fd)
{
    (void)fd;
}

int rp__os_fd_dup_high(int fd)
{
    (void)fd;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sandbox_spawn(int exe_fd, const int *fds, int nfds, char *const argv[], int64_t *pid,
                         char *err, size_t errlen)
{
    (void)exe_fd, (void)fds, (void)nfds, (void)argv, (void)pid;
    snprintf(err, errlen, "isolation \"process\" is not supported on Windows");
    return RP_ERR_UNSUPPORTED;
}

void rp__os_proc_kill(int64_t pid)
{
    (void)pid;
}

int rp__os_proc_reap(int64_t pid, int wait, int *signo, int *status)
{
    (void)pid, (void)wait, (void)signo, (void)status;
    return RP_ERR_NOTFOUND;
}

int rp__os_user_ids(const char *name, uint32_t *uid, uint32_t *gid)
{
    (void)name;
    *uid = *gid = 1;
    return 0;
}

int rp__os_sandbox_exe(const char *fallback, char *out, size_t outlen)
{
    (void)fallback, (void)out, (void)outlen;
    return RP_ERR_NOTFOUND;
}

int rp__os_sandbox_confine(uint32_t uid, uint32_t gid, uint64_t memory_mb, uint32_t nofile,
                           char *err, size_t errlen)
{
    (void)uid, (void)gid, (void)memory_mb, (void)nofile;
    snprintf(err, errlen, "not supported on Windows");
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sandbox_seccomp(char *err, size_t errlen)
{
    snprintf(err, errlen, "not supported on Windows");
    return RP_ERR_UNSUPPORTED;
}

int rp__os_file_open_checked(const char *abs_path, int require_sig, size_t sig_max,
                             rp__os_dl_check_fn check, void *arg, int *fd, rp__os_file_id *id,
                             char *err, size_t errlen)
{
    (void)abs_path, (void)require_sig, (void)sig_max, (void)check, (void)arg, (void)fd, (void)id;
    snprintf(err, errlen, "isolation \"process\" is not supported on Windows");
    return RP_ERR_UNSUPPORTED;
}

int rp__os_dl_open_fd(int fd, rp__os_dl **out, char *err, size_t errlen)
{
    (void)fd, (void)out;
    snprintf(err, errlen, "not supported on Windows");
    return RP_ERR_UNSUPPORTED;
}
