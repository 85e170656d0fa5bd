/* core/os/unix/sup_unix.c - the supervisor's and the crash handlers' system
 * calls (os_sup.h), Linux. */
#define _GNU_SOURCE
#include "os/os_sup.h"
#include "os/unix/dir_unix.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

int rp__os_sup_supported(void)
{
    return 1;
}

/* ---- detaching --------------------------------------------------------------- */

/* The write end of the pipe the original process waits on; -1 once told. */
static int detach_fd = -1;

static void redirect_null(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
}

int rp__os_sup_detach_begin(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return RP_ERR_IO;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return RP_ERR_IO;
    }
    if (pid > 0) {
        /* The original process: its exit status is the start-up's. */
        close(p[1]);
        unsigned char code = 0;
        ssize_t n;
        do
            n = read(p[0], &code, 1);
        while (n < 0 && errno == EINTR);
        /* EOF without a status: the daemon died before saying. */
        _exit(n == 1 ? code : 70);
    }
    close(p[0]);
    if (setsid() < 0)
        return RP_ERR_IO;
    /* The second fork makes sure the daemon can never reacquire a terminal. */
    pid = fork();
    if (pid < 0)
        return RP_ERR_IO;
    if (pid > 0)
        _exit(0);
    umask(027);
    detach_fd = p[1];
    return 0;
}

void rp__os_sup_detach_done(int code)
{
    if (detach_fd < 0)
        return;
    unsigned char c = (unsigned char)code;
    ssize_t n;
    do
        n = write(detach_fd, &c, 1);
    while (n < 0 && errno == EINTR);
    close(detach_fd);
    detach_fd = -1;
    if (chdir("/") != 0) {
        /* "/" always exists; nothing better to do if it did not. */
    }
    redirect_null();
}

int rp__os_sup_worker_detach(void)
{
    if (chdir("/") != 0)
        return RP_ERR_IO;
    redirect_null();
    return 0;
}

/* ---- the worker -------------------------------------------------------------- */

static int ready_wfd = -1;
static int sig_fd = -1;

int rp__os_sup_fork(long *pid, int *ready_fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return RP_ERR_IO;
    pid_t c = fork();
    if (c < 0) {
        close(p[0]);
        close(p[1]);
        return RP_ERR_IO;
    }
    if (c == 0) {
        close(p[0]);
        ready_wfd = p[1];
        if (sig_fd >= 0)
            close(sig_fd);
        sig_fd = -1;
        /* The terminal waits for the supervisor's word, not the worker's. */
        if (detach_fd >= 0)
            close(detach_fd);
        detach_fd = -1;
        /* SIGCHLD is the supervisor's: the worker's own children (none of
         * the core's) are reaped by whoever made them. */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGCHLD);
        pthread_sigmask(SIG_UNBLOCK, &set, NULL);
        /* The worker stops with the supervisor rather than run unwatched. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        *pid = 0;
        *ready_fd = -1;
        return 0;
    }
    close(p[1]);
    *pid = c;
    *ready_fd = p[0];
    return 0;
}

void rp__os_sup_worker_ready(void)
{
    if (ready_wfd < 0)
        return;
    unsigned char b = 1;
    ssize_t n;
    do
        n = write(ready_wfd, &b, 1);
    while (n < 0 && errno == EINTR);
    close(ready_wfd);
    ready_wfd = -1;
}

void rp__os_sup_close(int fd)
{
    if (fd >= 0)
        close(fd);
}

int rp__os_sup_signals(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGCHLD);
    signal(SIGPIPE, SIG_IGN);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return RP_ERR_INTERNAL;
    sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return sig_fd >= 0 ? 0 : RP_ERR_IO;
}

int rp__os_sup_wait(int ready_fd, int timeout_ms, enum rp__os_sup_wake *what, int *signo)
{
    *what = RP__OS_SUP_TIMEOUT;
    *signo = 0;
    struct signalfd_siginfo si;
    /* A signal already queued goes first. */
    if (read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
        goto got;
    struct pollfd pf[2] = {{.fd = sig_fd, .events = POLLIN}, {.fd = ready_fd, .events = POLLIN}};
    int n = poll(pf, ready_fd >= 0 ? 2 : 1, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : RP_ERR_IO;
    if (n == 0)
        return 0;
    if (pf[0].revents && read(sig_fd, &si, sizeof si) == (ssize_t)sizeof si)
        goto got;
    if (ready_fd >= 0 && pf[1].revents)
        *what = RP__OS_SUP_READY;
    return 0;
got:
    *signo = (int)si.ssi_signo;
    *what = si.ssi_signo == SIGCHLD  ? RP__OS_SUP_CHILD
            : si.ssi_signo == SIGHUP ? RP__OS_SUP_RELOAD
                                     : RP__OS_SUP_STOP;
    return 0;
}

int rp__os_sup_ready_read(int ready_fd)
{
    unsigned char b = 0;
    ssize_t n;
    do
        n = read(ready_fd, &b, 1);
    while (n < 0 && errno == EINTR);
    return n == 1 && b == 1;
}

static int decode(int status, int *code, int *signo)
{
    *signo = 0;
    *code = -1;
    if (WIFEXITED(status))
        *code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        *signo = WTERMSIG(status);
    return 1;
}

int rp__os_sup_reap(long pid, int *code, int *signo)
{
    int status = 0;
    pid_t r;
    do
        r = waitpid((pid_t)pid, &status, WNOHANG);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0) {
        /* Not our child any more (reaped already): say it ended. */
        *code = -1;
        *signo = 0;
        return 1;
    }
    return decode(status, code, signo);
}

int rp__os_sup_reap_wait(long pid, int timeout_ms, int *code, int *signo)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int r = rp__os_sup_reap(pid, code, signo);
        if (r != 0)
            return r;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (timeout_ms >= 0 && ms >= timeout_ms)
            return 0;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int rp__os_sup_signal(long pid, enum rp__os_sup_sig sig)
{
    static const int nums[] = {SIGTERM, SIGINT, SIGHUP, SIGKILL};
    if (pid <= 0 || (unsigned)sig > RP__OS_SUP_SIGKILL)
        return RP_ERR_INVAL;
    return kill((pid_t)pid, nums[sig]) == 0 ? 0 : RP_ERR_IO;
}

enum rp__os_sup_sig rp__os_sup_sig_of(int signo)
{
    return signo == SIGINT   ? RP__OS_SUP_SIGINT
           : signo == SIGHUP ? RP__OS_SUP_SIGHUP
                             : RP__OS_SUP_SIGTERM;
}

int rp__os_sup_usage(long pid, int64_t *cpu_ns, uint64_t *rss_bytes)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return RP_ERR_NOTFOUND;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return RP_ERR_IO;
    buf[n] = '\0';
    /* The command name may hold spaces and ')': fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return RP_ERR_PARSE;
    p++;
    /* Fields from 3 on, space-separated: utime is 14, stime 15, rss 24 (pages). */
    unsigned long long f[25] = {0};
    int field = 3;
    while (*p == ' ')
        p++;
    while (*p && field <= 24) {
        char *end = p;
        unsigned long long v = strtoull(p, &end, 10);
        if (field >= 14)
            f[field] = v;
        while (*end && *end != ' ')
            end++;
        while (*end == ' ')
            end++;
        p = end;
        field++;
    }
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    if (hz <= 0)
        hz = 100;
    *cpu_ns = (int64_t)((f[14] + f[15]) * (1000000000ull / (unsigned long long)hz));
    *rss_bytes = f[24] * (unsigned long long)(page > 0 ? page : 4096);
    return 0;
}

const char *rp__os_signal_name(int signo, char *buf, size_t len)
{
    const char *abbrev = sigabbrev_np(signo);
    if (abbrev)
        snprintf(buf, len, "SIG%s", abbrev);
    else
        snprintf(buf, len, "signal %d", signo);
    return buf;
}

/* ---- crash handlers ----------------------------------------------------------- */

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};
#define NCRASH (sizeof crash_signals / sizeof crash_signals[0])
/* What each signal did before (the default, or a sanitizer's report): put
 * back once the fault is recorded, so it still happens. */
static struct sigaction crash_prev[NCRASH];
static rp__os_crash_fn crash_record;
static atomic_int crash_installed;

#define ALT_STACK_SIZE (64u * 1024u)

static uint64_t context_pc(const void *ucv)
{
    const ucontext_t *uc = ucv;
    if (!uc)
        return 0;
#if defined(__x86_64__)
    return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__i386__)
    return (uint64_t)uc->uc_mcontext.gregs[REG_EIP];
#elif defined(__aarch64__)
    return (uint64_t)uc->uc_mcontext.pc;
#else
    return 0;
#endif
}

static void on_crash(int signo, siginfo_t *si, void *uc)
{
    int saved = errno;
    if (crash_record)
        crash_record(signo, si ? si->si_code : 0, context_pc(uc),
                     si ? (uint64_t)(uintptr_t)si->si_addr : 0);
    /* The handler was reset (SA_RESETHAND); the action from before goes
     * back: a fault returns to the instruction and faults again with it; a
     * signal sent by someone (abort, kill) is raised again, pending until
     * we return. */
    for (size_t i = 0; i < NCRASH; i++)
        if (crash_signals[i] == signo)
            sigaction(signo, &crash_prev[i], NULL);
    if (!si || si->si_code <= 0)
        raise(signo);
    errno = saved;
}

void *rp__os_crash_thread_begin(void)
{
    if (!atomic_load(&crash_installed))
        return NULL;
    void *mem =
        mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return NULL;
    stack_t ss = {.ss_sp = mem, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, ALT_STACK_SIZE);
        return NULL;
    }
    return mem;
}

void rp__os_crash_thread_end(void *stack)
{
    if (!stack)
        return;
    stack_t ss = {.ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    munmap(stack, ALT_STACK_SIZE);
}

int rp__os_crash_install(rp__os_crash_fn record)
{
    crash_record = record;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < NCRASH; i++)
        if (sigaction(crash_signals[i], &sa, &crash_prev[i]) != 0)
            return RP_ERR_INTERNAL;
    atomic_store(&crash_installed, 1);
    /* The main thread's stack, kept for the life of the process. */
    (void)rp__os_crash_thread_begin();
    return 0;
}

/* ---- lock files ---------------------------------------------------------------- */

int rp__os_dir_lock(rp__os_dir *dir, const char *name, int *fd_out)
{
    *fd_out = -1;
    if (!dir || !name || strchr(name, '/'))
        return RP_ERR_INVAL;
    int fd = openat(dir->fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return RP_ERR_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return RP_ERR_PERM;
    }
    int rc;
    do
        rc = flock(fd, LOCK_EX);
    while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        close(fd);
        return RP_ERR_IO;
    }
    *fd_out = fd;
    return 0;
}

void rp__os_dir_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* the lock goes with the descriptor */
}
