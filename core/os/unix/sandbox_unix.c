/* core/os/unix/sandbox_unix.c - isolated plugins on Linux (os/os_sandbox.h). */
#define _GNU_SOURCE
#include "os/os_sandbox.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#endif

int rp__os_shm_create(size_t size, int *fd, void **map)
{
#ifdef __linux__
    int f = memfd_create("rampart-iso", MFD_CLOEXEC);
    if (f < 0)
        return RP_ERR_IO;
    if (ftruncate(f, (off_t)size) != 0) {
        close(f);
        return RP_ERR_NOMEM;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    if (m == MAP_FAILED) {
        close(f);
        return RP_ERR_NOMEM;
    }
    *fd = f;
    *map = m;
    return 0;
#else
    (void)size, (void)fd, (void)map;
    return RP_ERR_UNSUPPORTED;
#endif
}

int rp__os_shm_map(int fd, size_t size, void **map)
{
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return RP_ERR_NOMEM;
    *map = m;
    return 0;
}

void rp__os_shm_unmap(void *map, size_t size)
{
    if (map)
        munmap(map, size);
}

int rp__os_wake_pair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) != 0)
        return RP_ERR_IO;
    return 0;
}

void rp__os_wake_send(int fd)
{
    char b = 1;
    /* EAGAIN: the socket is full of wake-ups already. */
    ssize_t n = send(fd, &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)n;
}

int rp__os_wake_wait(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, timeout_ms);
    if (n <= 0)
        return 0;
    if (pfd.revents & POLLIN) {
        char buf[64];
        ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (r == 0)
            return RP_ERR_STOPPED;
        return 1;
    }
    if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
        return RP_ERR_STOPPED;
    return 0;
}

void rp__os_fd_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

int rp__os_fd_dup_high(int fd)
{
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 10);
    return n < 0 ? RP_ERR_IO : n;
}

int rp__os_sandbox_spawn(int exe_fd, const int *fds, int nfds, char *const argv[], int64_t *pid,
                         char *err, size_t errlen)
{
    /* Sources at 10 and above so that moving them to 3, 4, ... never
     * overwrites one not moved yet. */
    int src[8];
    if (nfds < 0 || nfds > 6)
        return RP_ERR_INVAL;
    int hi_exe = rp__os_fd_dup_high(exe_fd);
    if (hi_exe < 0) {
        snprintf(err, errlen, "cannot copy a descriptor: %s", strerror(errno));
        return RP_ERR_IO;
    }
    int made = 0;
    for (; made < nfds; made++) {
        if ((src[made] = rp__os_fd_dup_high(fds[made])) < 0)
            break;
    }
    int devnull = made == nfds ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
    int rc = 0;
    if (made != nfds || devnull < 0) {
        snprintf(err, errlen, "cannot prepare the sandbox's descriptors: %s", strerror(errno));
        rc = RP_ERR_IO;
        goto out;
    }
    static char *const empty_env[] = {NULL};
    pid_t child = fork();
    if (child < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        rc = RP_ERR_IO;
        goto out;
    }
    if (child == 0) {
        /* Only async-signal-safe calls from here: the worker has threads. */
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* A session of its own: a terminal's ^C or a signal to the agent's
         * process group is the agent's to handle, not the sandbox's. */
        setsid();
        if (dup2(devnull, 0) < 0)
            _exit(126);
        for (int i = 0; i < nfds; i++)
            if (dup2(src[i], 3 + i) < 0)
                _exit(126);
        int exe = 3 + nfds;
        if (dup3(hi_exe, exe, O_CLOEXEC) < 0)
            _exit(126);
        syscall(SYS_close_range, (unsigned)(exe + 1), ~0u, 0u);
        /* The sandbox dies with the worker, whatever kills the worker. */
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        syscall(SYS_execveat, exe, "", argv, empty_env, AT_EMPTY_PATH);
        _exit(127);
    }
    *pid = child;
out:
    if (devnull >= 0)
        close(devnull);
    for (int i = 0; i < made; i++)
        close(src[i]);
    close(hi_exe);
    return rc;
}

void rp__os_proc_kill(int64_t pid)
{
    if (pid > 0)
        kill((pid_t)pid, SIGKILL);
}

int rp__os_proc_reap(int64_t pid, int wait, int *signo, int *status)
{
    int st = 0;
    pid_t r;
    do
        r = waitpid((pid_t)pid, &st, wait ? 0 : WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return RP_ERR_NOTFOUND;
    if (r == 0)
        return 0;
    *signo = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return 1;
}

int rp__os_user_ids(const char *name, uint32_t *uid, uint32_t *gid)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwnam_r(name, &pw, buf, sizeof buf, &res) != 0 || !res)
        return RP_ERR_NOTFOUND;
    *uid = (uint32_t)pw.pw_uid;
    *gid = (uint32_t)pw.pw_gid;
    return 0;
}

int rp__os_sandbox_exe(const char *fallback, char *out, size_t outlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            int w = snprintf(out, outlen, "%s/rampart-sandbox", self);
            if (w > 0 && (size_t)w < outlen && access(out, X_OK) == 0)
                return 0;
        }
    }
    if (fallback && *fallback) {
        int w = snprintf(out, outlen, "%s", fallback);
        if (w > 0 && (size_t)w < outlen && access(out, X_OK) == 0)
            return 0;
    }
    return RP_ERR_NOTFOUND;
}

int rp__os_sandbox_confine(uint32_t uid, uint32_t gid, uint64_t memory_mb, uint32_t nofile,
                           char *err, size_t errlen)
{
#ifdef __linux__
    struct rlimit core0 = {0, 0};
    setrlimit(RLIMIT_CORE, &core0);
    if (geteuid() == 0) {
        /* The bounding set first, while CAP_SETPCAP is still held. */
        for (int cap = 0; cap <= 63; cap++)
            if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno == EINVAL)
                break;
        if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 ||
            setresuid(uid, uid, uid) != 0) {
            snprintf(err, errlen, "cannot become uid %u gid %u: %s", (unsigned)uid, (unsigned)gid,
                     strerror(errno));
            return RP_ERR_PERM;
        }
        if (geteuid() == 0 || getuid() == 0) {
            snprintf(err, errlen, "still root after setresuid(%u)", (unsigned)uid);
            return RP_ERR_PERM;
        }
    }
    /* No capability in any set, even when started without root. */
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0) {
        snprintf(err, errlen, "capset: %s", strerror(errno));
        return RP_ERR_PERM;
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        snprintf(err, errlen, "no_new_privs: %s", strerror(errno));
        return RP_ERR_PERM;
    }
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* A change of user cleared the parent-death signal set at the spawn:
     * set it again, and leave if the worker is already gone. */
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != parent || parent == 1) {
        snprintf(err, errlen, "the agent is gone");
        return RP_ERR_STOPPED;
    }
    if (memory_mb) {
        struct rlimit as = {(rlim_t)memory_mb << 20, (rlim_t)memory_mb << 20};
        if (setrlimit(RLIMIT_AS, &as) != 0) {
            snprintf(err, errlen, "RLIMIT_AS: %s", strerror(errno));
            return RP_ERR_PERM;
        }
    }
    if (nofile) {
        struct rlimit nf = {nofile, nofile};
        if (setrlimit(RLIMIT_NOFILE, &nf) != 0) {
            snprintf(err, errlen, "RLIMIT_NOFILE: %s", strerror(errno));
            return RP_ERR_PERM;
        }
    }
    return 0;
#else
    (void)uid, (void)gid, (void)memory_mb, (void)nofile;
    snprintf(err, errlen, "not supported on this platform");
    return RP_ERR_UNSUPPORTED;
#endif
}

#if defined(__linux__) && defined(__x86_64__)
#define RP_SECCOMP_ARCH AUDIT_ARCH_X86_64
#elif defined(__linux__) && defined(__aarch64__)
#define RP_SECCOMP_ARCH AUDIT_ARCH_AARCH64
#endif

#ifdef RP_SECCOMP_ARCH
/* What the host API in the sandbox, the C library, the dynamic loader and
 * the plugins shipped (the Sigma and YARA detectors: rule files read, memory,
 * threads, clocks) need. No socket is made, no process started or signalled,
 * no file written or created: open is allowed read-only only (checked
 * below), and writes go to descriptors the sandbox already holds. */
static const int allowed[] = {
    SYS_read,
    SYS_write,
    SYS_readv,
    SYS_writev,
    SYS_pread64,
    SYS_close,
    SYS_fstat,
    SYS_lseek,
    SYS_newfstatat,
    SYS_statx,
    SYS_getdents64,
    SYS_fcntl,
    SYS_dup,
    SYS_dup3,
    SYS_readlinkat,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_getcwd,
    SYS_mmap,
    SYS_mprotect,
    SYS_munmap,
    SYS_mremap,
    SYS_madvise,
    SYS_brk,
    SYS_mincore,
    SYS_futex,
    SYS_set_robust_list,
    SYS_get_robust_list,
    SYS_rseq,
    SYS_clone,
    SYS_clone3,
    SYS_set_tid_address,
    SYS_exit,
    SYS_exit_group,
    SYS_rt_sigaction,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_sigaltstack,
    SYS_tgkill,
    SYS_gettid,
    SYS_getpid,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_sched_yield,
    SYS_sched_getaffinity,
    SYS_nanosleep,
    SYS_clock_nanosleep,
    SYS_clock_gettime,
    SYS_clock_getres,
    SYS_gettimeofday,
    SYS_getrandom,
    SYS_prlimit64,
    SYS_getrusage,
    SYS_uname,
    SYS_sysinfo,
    SYS_ppoll,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_eventfd2,
    SYS_timerfd_create,
    SYS_timerfd_settime,
    SYS_timerfd_gettime,
    SYS_pipe2,
    SYS_sendto,
    SYS_recvfrom,
    SYS_sendmsg,
    SYS_recvmsg,
    SYS_membarrier,
#ifdef SYS_poll
    SYS_poll,
    SYS_epoll_wait,
    SYS_access,
    SYS_readlink,
    SYS_stat,
    SYS_lstat,
    SYS_time,
    SYS_arch_prctl,
    SYS_getdents,
#endif
#ifdef SYS_epoll_pwait2
    SYS_epoll_pwait2,
#endif
#ifdef SYS_pause
    SYS_pause,
#endif
    SYS_rt_sigsuspend,
    SYS_rt_sigtimedwait,
};

#define LD_NR    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#define RET(val) BPF_STMT(BPF_RET | BPF_K, (val))

int rp__os_sandbox_seccomp(char *err, size_t errlen)
{
    enum { N = sizeof allowed / sizeof allowed[0] };
    /* arch check (3), openat and prctl checks (12), the list, the default. */
    struct sock_filter f[N + 40];
    size_t n = 0;
    f[n++] =
        (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RP_SECCOMP_ARCH, 1, 0);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)LD_NR;
    /* openat: only without O_WRONLY, O_RDWR, O_CREAT and O_TRUNC in flags
     * (the low 32 bits of argument 2). */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, args[2]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K,
                                          O_WRONLY | O_RDWR | O_CREAT | O_TRUNC, 1, 0);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | EACCES);
    /* clone: threads only (CLONE_THREAD in the flags, argument 0); clone3,
     * whose flags the filter cannot read, answers ENOSYS and the C library
     * falls back to clone. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, args[0]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | ENOSYS);
    /* tgkill: only to the sandbox itself (abort, raise). */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_tgkill, 0, 4);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, args[0]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)getpid(), 0, 1);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)LD_NR;
    /* prctl: naming threads only. */
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 5);
    f[n++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                                          offsetof(struct seccomp_data, args[0]));
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_NAME, 2, 0);
    f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_GET_NAME, 1, 0);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ERRNO | EPERM);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    for (size_t i = 0; i < N; i++) {
        /* Equal: skip to the ALLOW after the last comparison. */
        f[n++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allowed[i],
                                              (uint8_t)(N - i), 0);
    }
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_KILL_PROCESS);
    f[n++] = (struct sock_filter)RET(SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0) {
        snprintf(err, errlen, "seccomp: %s", strerror(errno));
        return RP_ERR_PERM;
    }
    return 0;
}
#else
int rp__os_sandbox_seccomp(char *err, size_t errlen)
{
    snprintf(err, errlen, "no seccomp filter for this architecture");
    return RP_ERR_UNSUPPORTED;
}
#endif
