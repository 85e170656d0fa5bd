/* core/os/win/sup_win.c - the supervisor is not ported to Windows (os_sup.h):
 * rampartd runs as one process there, as with agent.supervisor.enabled
 * false, and crashes are not attributed to plugins. */
#include "os/os_sup.h"

#include <rampart/plugin.h>

#include <stdio.h>

int rp__os_sup_supported(void)
{
    return 0;
}

int rp__os_sup_detach_begin(void)
{
    return RP_ERR_UNSUPPORTED;
}

void rp__os_sup_detach_done(int code)
{
    (void)code;
}

int rp__os_sup_worker_detach(void)
{
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sup_fork(long *pid, int *ready_fd)
{
    *pid = -1;
    *ready_fd = -1;
    return RP_ERR_UNSUPPORTED;
}

void rp__os_sup_worker_ready(void)
{
}

void rp__os_sup_close(int fd)
{
    (void)fd;
}

int rp__os_sup_signals(void)
{
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sup_wait(int ready_fd, int timeout_ms, enum rp__os_sup_wake *what, int *signo)
{
    (void)ready_fd, (void)timeout_ms;
    *what = RP__OS_SUP_TIMEOUT;
    *signo = 0;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sup_ready_read(int ready_fd)
{
    (void)ready_fd;
    return 0;
}

int rp__os_sup_reap(long pid, int *code, int *signo)
{
    (void)pid;
    *code = -1;
    *signo = 0;
    return RP_ERR_UNSUPPORTED;
}

int rp__os_sup_reap_wait(long pid, int timeout_ms, int *code, int *signo)
{
    (void)timeout_ms;
    return rp__os_sup_reap(pid, code, signo);
}

int rp__os_sup_signal(long pid, enum rp__os_sup_sig sig)
{
    (void)pid, (void)sig;
    return RP_ERR_UNSUPPORTED;
}

enum rp__os_sup_sig rp__os_sup_sig_of(int signo)
{
    (void)signo;
    return RP__OS_SUP_SIGTERM;
}

int rp__os_sup_usage(long pid, int64_t *cpu_ns, uint64_t *rss_bytes)
{
    (void)pid;
    *cpu_ns = 0;
    *rss_bytes = 0;
    return RP_ERR_UNSUPPORTED;
}

const char *rp__os_signal_name(int signo, char *buf, size_t len)
{
    snprintf(buf, len, "signal %d", signo);
    return buf;
}

int rp__os_crash_install(rp__os_crash_fn record)
{
    (void)record;
    return RP_ERR_UNSUPPORTED;
}

void *rp__os_crash_thread_begin(void)
{
    return NULL;
}

void rp__os_crash_thread_end(void *stack)
{
    (void)stack;
}

int rp__os_dir_lock(rp__os_dir *dir, const char *name, int *fd_out)
{
    (void)dir, (void)name;
    *fd_out = -1;
    return RP_ERR_UNSUPPORTED;
}

void rp__os_dir_unlock(int fd)
{
    (void)fd;
}
