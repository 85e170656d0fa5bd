/*
 * core/os/os_sandbox.h - what isolated plugins need of the platform: shared
 * memory, a wake-up channel, starting and ending the sandbox process, and,
 * inside the sandbox, giving up every privilege before the plugin loads.
 *
 * Linux only (core/os/unix/sandbox_unix.c); elsewhere every call answers
 * RP_ERR_UNSUPPORTED and isolation "process" is refused at load.
 */
#ifndef RP_CORE_OS_SANDBOX_H
#define RP_CORE_OS_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

/* Shared memory of size bytes (an anonymous memory file, zero-filled),
 * mapped read-write and shared. *fd is close-on-exec and owned by the
 * caller, as the mapping (rp__os_shm_unmap). */
int rp__os_shm_create(size_t size, int *fd, void **map);
int rp__os_shm_map(int fd, size_t size, void **map);
void rp__os_shm_unmap(void *map, size_t size);

/* A wake-up channel: a connected pair of sockets. Each side sends a byte to
 * wake the other (never blocks; a full socket already means "awake"), and
 * waits up to timeout_ms: 1 woken (bytes drained), 0 timed out,
 * RP_ERR_STOPPED when the other side is gone (its process died). */
int rp__os_wake_pair(int fds[2]);
void rp__os_wake_send(int fd);
int rp__os_wake_wait(int fd, int timeout_ms);
void rp__os_fd_close(int fd);
/* A descriptor copy at or above 10, close-on-exec (the spawn's sources). */
int rp__os_fd_dup_high(int fd);

/* Starts the sandbox: fork, then execveat of exe_fd (the sandbox program,
 * trust-checked by the caller) with fds[0..nfds) as descriptors 3, 4, ...
 * and every other descriptor closed, stdin from /dev/null. */
int rp__os_sandbox_spawn(int exe_fd, const int *fds, int nfds, char *const argv[], int64_t *pid,
                         char *err, size_t errlen);
/* SIGKILL, then, reaping: 1 and how it ended (signo > 0 for a signal, else
 * the exit status in *status) once it has, 0 while it runs (wait 0), or
 * RP_ERR_NOTFOUND. wait: block until it ended. */
void rp__os_proc_kill(int64_t pid);
int rp__os_proc_reap(int64_t pid, int wait, int *signo, int *status);
/* The user (and its group) a sandbox runs as; RP_ERR_NOTFOUND. */
int rp__os_user_ids(const char *name, uint32_t *uid, uint32_t *gid);
/* The sandbox program next to the running executable, or at fallback. */
int rp__os_sandbox_exe(const char *fallback, char *out, size_t outlen);

/* In the sandbox, before the plugin loads: another user (when root), no
 * supplementary groups, no capabilities (bounding set too), no new
 * privileges, no core dumps, address space at most memory_mb MiB and
 * nofile descriptors. err says which step failed. */
int rp__os_sandbox_confine(uint32_t uid, uint32_t gid, uint64_t memory_mb, uint32_t nofile,
                           char *err, size_t errlen);
/* The seccomp filter (allow-list of system calls; anything else kills the
 * process). RP_ERR_UNSUPPORTED on an architecture it has no list for. */
int rp__os_sandbox_seccomp(char *err, size_t errlen);

#endif
