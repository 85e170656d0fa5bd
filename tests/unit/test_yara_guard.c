/*
 * tests/unit/test_yara_guard.c - detector_yara's exec guard
 * (plugins/detector_yara/guard.h) on the real kernel: children exec copies
 * of /bin/true in a temporary folder while the guard answers the kernel's
 * FAN_OPEN_EXEC_PERM events through the test's decide and submit
 * callbacks. Covered: a deny at once fails the exec with EPERM; a held exec
 * answered deny or allow; one never answered runs at its deadline (not
 * before, and within a margin), told to failed_open and counted; a late
 * answer is RP_ERR_NOTFOUND and counted; more than DY_GUARD_PENDING_MAX
 * held; a refused submit; never-blocked files and folders; the agent's
 * children and grandchildren; stop with execs held; a guard process killed
 * with SIGKILL while it holds an exec (a child it forked, still alive,
 * does not keep the group open); a file system mounted after start;
 * the threads' names.
 *
 * The guard marks every file system, so every exec on the machine passes
 * through these callbacks while a test runs: decide allows everything but
 * the test's own files, and every test arms alarm() so that a hung guard
 * dies (the kernel then lets every held exec run) instead of holding the
 * machine. The tests need root and a kernel with FAN_OPEN_EXEC_PERM; they
 * are named test_privileged_* and skip (exit 77) otherwise.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "guard.h"

#include <rampart/plugin.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define NFILES     16
#define QMAX       (DY_GUARD_PENDING_MAX + 16)
#define EXIT_EPERM 101 /* the child's exit code when execve failed with EPERM */
#define EXIT_OTHER 102 /* ... with another error */
#define ALARM_S    60  /* a test that hangs dies (and the kernel releases its execs) */
#define WAIT_MS    3000

enum mode { M_ALLOW, M_DENY, M_PENDING };

struct tfile {
    char path[PATH_MAX];
    dev_t dev;
    ino_t ino;
    _Atomic int mode;
};

struct held {
    uint64_t token;
    int fd;
    pid_t pid;
    uint64_t read_ns, deadline_ns;
};

static struct {
    char dir[PATH_MAX];
    struct tfile f[NFILES];
    _Atomic int nf; /* published after the file's fields: decide reads them meanwhile */
    pthread_mutex_t mu;
    struct held q[QMAX];
    _Atomic unsigned nq;
    _Atomic bool refuse;
    _Atomic unsigned failed_n;
    _Atomic pid_t failed_pid;
    _Atomic uint64_t failed_ino;
    int notify_fd;  /* the SIGKILL test's guard process: a byte per submit */
    bool own_mntns; /* main() gave the program a mount namespace of its own */
    pid_t other;    /* a sleeping child: an agent that is no exec's ancestor */
} T = {.mu = PTHREAD_MUTEX_INITIALIZER, .notify_fd = -1};

/* ---- callbacks ------------------------------------------------------------- */

static struct tfile *find(const struct dy_file_id *id)
{
    int nf = atomic_load(&T.nf);
    for (int i = 0; i < nf; i++)
        if (T.f[i].dev == (dev_t)id->dev && T.f[i].ino == (ino_t)id->ino)
            return &T.f[i];
    return NULL;
}

static int cb_decide(void *ctx, const struct dy_guard_event *ev)
{
    (void)ctx;
    struct tfile *f = find(&ev->id);
    if (!f)
        return DY_GUARD_ALLOW; /* the rest of the machine */
    int m = atomic_load(&f->mode);
    return m == M_DENY ? DY_GUARD_DENY : m == M_PENDING ? DY_GUARD_PENDING : DY_GUARD_ALLOW;
}

static int cb_submit(void *ctx, const struct dy_guard_event *ev, int fd_owned)
{
    (void)ctx;
    if (atomic_load(&T.refuse)) {
        close(fd_owned); /* the callee's, even when it refuses */
        return 1;
    }
    pthread_mutex_lock(&T.mu);
    unsigned n = atomic_load(&T.nq);
    int rc = 1;
    if (n < QMAX) {
        T.q[n] = (struct held){ev->token, fd_owned, ev->pid, ev->read_ns, ev->deadline_ns};
        atomic_store(&T.nq, n + 1);
        rc = 0;
    }
    pthread_mutex_unlock(&T.mu);
    if (rc != 0)
        close(fd_owned);
    if (rc == 0 && T.notify_fd >= 0) {
        char c = 'H';
        ssize_t w = write(T.notify_fd, &c, 1);
        (void)w;
    }
    return rc;
}

static void cb_failed_open(void *ctx, pid_t pid, const struct dy_file_id *id)
{
    (void)ctx;
    atomic_store(&T.failed_pid, pid);
    atomic_store(&T.failed_ino, id->ino);
    atomic_fetch_add(&T.failed_n, 1);
}

static const struct dy_guard_callbacks callbacks = {NULL, cb_decide, cb_submit, cb_failed_open};

/* ---- helpers --------------------------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Copies /bin/true to path, mode 0755. */
static void copy_true(const char *path)
{
    int in = open("/bin/true", O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    assert_true(out >= 0);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    assert_int_equal(n, 0);
    close(in);
    assert_int_equal(close(out), 0);
}

/* A copy of /bin/true at dir/name (sub folders made), with its mode. */
static struct tfile *add_file(const char *name, int mode)
{
    int nf = atomic_load(&T.nf);
    assert_true(nf < NFILES);
    struct tfile *f = &T.f[nf];
    char dir[PATH_MAX];
    memcpy(dir, T.dir, sizeof dir); /* tu_path's source must not lie inside T */
    assert_non_null(tu_path(f->path, sizeof f->path, dir, name));
    char *slash = strrchr(f->path, '/');
    if (slash && slash - f->path > (long)strlen(T.dir)) {
        *slash = '\0';
        mkdir(f->path, 0755);
        *slash = '/';
    }
    copy_true(f->path);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    atomic_store(&f->mode, mode);
    atomic_store(&T.nf, nf + 1);
    return f;
}

/* Forks a child that execs path; it exits 0 (ran), EXIT_EPERM or EXIT_OTHER. */
static pid_t spawn(const char *path)
{
    char *argv[] = {(char *)path, NULL};
    char *envp[] = {NULL};
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execve(path, argv, envp);
        _exit(errno == EPERM ? EXIT_EPERM : EXIT_OTHER);
    }
    return pid;
}

/* Waits up to ms for pid; its exit code, or -1 on timeout (pid left running). */
static int wait_exit(pid_t pid, unsigned ms)
{
    uint64_t until = now_ms() + ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        assert_int_equal(r, 0);
        if (now_ms() >= until)
            return -1;
        sleep_ms(2);
    }
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* Waits until submit was called n times in all. */
static bool wait_submits(unsigned n, unsigned ms)
{
    uint64_t until = now_ms() + ms;
    while (atomic_load(&T.nq) < n) {
        if (now_ms() >= until)
            return false;
        sleep_ms(1);
    }
    return true;
}

static void reset(void)
{
    atomic_store(&T.nf, 0);
    atomic_store(&T.nq, 0);
    atomic_store(&T.refuse, false);
    atomic_store(&T.failed_n, 0);
    atomic_store(&T.failed_pid, 0);
    atomic_store(&T.failed_ino, 0);
    assert_int_equal(tu_mkdtemp("guard", T.dir, sizeof T.dir), 0);
}

static void cleanup(void)
{
    for (unsigned i = 0; i < atomic_load(&T.nq); i++)
        if (T.q[i].fd >= 0)
            close(T.q[i].fd);
    atomic_store(&T.nq, 0);
    if (T.dir[0])
        tu_rm_rf(T.dir);
    T.dir[0] = '\0';
    alarm(0);
}

/* Also after a failed test, whose own cleanup() was skipped. */
static int teardown(void **state)
{
    (void)state;
    cleanup();
    return 0;
}

/* Skips unless root; creates and starts a guard (skips without fanotify
 * permission events). agent 0: the sleeping child (no exec's ancestor). */
static struct dy_guard *start_guard(uint32_t deadline_ms, const char *const *allow,
                                    uint32_t n_allow, pid_t agent)
{
    if (geteuid() != 0)
        tu_skip("needs root (fanotify permission events)");
    alarm(ALARM_S);
    struct dy_guard_opts o = {deadline_ms, allow, n_allow, agent ? agent : T.other};
    struct dy_guard *g = NULL;
    char err[256];
    int rc = dy_guard_create(&o, &callbacks, &g, err, sizeof err);
    if (rc != 0)
        fail_msg("dy_guard_create: %s: %s", rp_errname(rc), err);
    rc = dy_guard_start(g, err, sizeof err);
    if (rc == RP_ERR_UNSUPPORTED || rc == RP_ERR_PERM) {
        dy_guard_destroy(g);
        tu_skip(err);
    }
    if (rc != 0)
        fail_msg("dy_guard_start: %s: %s", rp_errname(rc), err);
    return g;
}

/* ---- without privileges ---------------------------------------------------- */

static void test_create_errors(void **state)
{
    (void)state;
    struct dy_guard *g = NULL;
    char err[256];
    struct dy_guard_opts o = {DY_GUARD_DEADLINE_MAX + 1, NULL, 0, 0};
    assert_int_equal(dy_guard_create(&o, &callbacks, &g, err, sizeof err), RP_ERR_RANGE);
    assert_null(g);
    assert_non_null(strstr(err, "deadline"));

    static const char *many[DY_GUARD_ALLOW_MAX + 1];
    for (unsigned i = 0; i <= DY_GUARD_ALLOW_MAX; i++)
        many[i] = "/";
    o = (struct dy_guard_opts){0, many, DY_GUARD_ALLOW_MAX + 1, 0};
    assert_int_equal(dy_guard_create(&o, &callbacks, &g, err, sizeof err), RP_ERR_RANGE);

    const char *missing[] = {"/", "/nonexistent/rampart-guard-test"};
    o = (struct dy_guard_opts){0, missing, 2, 0};
    assert_int_equal(dy_guard_create(&o, &callbacks, &g, err, sizeof err), RP_ERR_NOTFOUND);
    assert_non_null(strstr(err, "/nonexistent/rampart-guard-test"));

    /* A guard never started: nothing held, stop is a no-op. */
    o = (struct dy_guard_opts){DY_GUARD_DEADLINE_MAX, missing, 1, 0};
    assert_int_equal(dy_guard_create(&o, &callbacks, &g, err, sizeof err), 0);
    assert_int_equal(dy_guard_answer(g, 1, DY_GUARD_ALLOW), RP_ERR_NOTFOUND);
    assert_int_equal(dy_guard_answer(g, 1, 7), RP_ERR_INVAL);
    assert_int_equal(dy_guard_stop(g), 0);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.events, 0);
    assert_int_equal(s.held_now, 0);
    dy_guard_destroy(g);
    dy_guard_destroy(NULL);
}

/* ---- the kernel ------------------------------------------------------------ */

static bool thread_named(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX], comm[64] = "";
        snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(p, "r");
        if (f) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        found = strcmp(comm, name) == 0;
    }
    closedir(d);
    return found;
}

/* The threads name themselves once running: wait (bounded) for want. */
static bool thread_named_within(const char *name, bool want, unsigned ms)
{
    uint64_t until = now_ms() + ms;
    while (thread_named(name) != want) {
        if (now_ms() >= until)
            return false;
        sleep_ms(1);
    }
    return true;
}

static void test_privileged_deny_at_once(void **state)
{
    (void)state;
    reset();
    struct tfile *bad = add_file("bad", M_DENY);
    struct tfile *good = add_file("good", M_ALLOW);
    struct dy_guard *g = start_guard(0, NULL, 0, 0);
    assert_true(thread_named_within("yara-guard", true, WAIT_MS));
    assert_true(thread_named_within("yara-watchdog", true, WAIT_MS));

    assert_int_equal(wait_exit(spawn(bad->path), WAIT_MS), EXIT_EPERM);
    assert_int_equal(wait_exit(spawn(good->path), WAIT_MS), 0);

    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_true(s.marks >= 1);
    assert_int_equal(s.denied, 1);
    assert_int_equal(s.held, 0);
    assert_true(s.events >= 2);
    assert_true(s.allowed >= 1);
    /* Every answer was at once and timed (other programs on the machine
     * are counted too, so only bounds hold). */
    assert_true(s.at_once.count >= 2);
    assert_true(s.at_once.max_ns > 0);
    assert_true(s.at_once.p50_ns <= s.at_once.p99_ns);
    assert_true(s.at_once.p99_ns <= s.at_once.max_ns);
    assert_int_equal(s.scanned.count, 0);
    print_message("marks %u (errors %u), at once: %llu answers, p50 %llu ns p99 %llu ns max %llu "
                  "ns\n",
                  s.marks, s.mark_errors, (unsigned long long)s.at_once.count,
                  (unsigned long long)s.at_once.p50_ns, (unsigned long long)s.at_once.p99_ns,
                  (unsigned long long)s.at_once.max_ns);

    assert_int_equal(dy_guard_stop(g), 0);
    assert_false(thread_named("yara-guard"));
    assert_false(thread_named("yara-watchdog"));
    /* Stopped: the same file runs. */
    assert_int_equal(wait_exit(spawn(bad->path), WAIT_MS), 0);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_pending_answered(void **state)
{
    (void)state;
    reset();
    struct tfile *p = add_file("pending", M_PENDING);
    struct dy_guard *g = start_guard(5000, NULL, 0, 0);

    /* Answered deny. */
    pid_t c = spawn(p->path);
    assert_true(wait_submits(1, WAIT_MS));
    assert_int_equal(T.q[0].pid, c);
    assert_int_equal(T.q[0].deadline_ns - T.q[0].read_ns, 5000ull * 1000000ull);
    struct stat st;
    assert_int_equal(fstat(T.q[0].fd, &st), 0); /* the duplicate is the program */
    assert_int_equal(st.st_ino, p->ino);
    assert_int_equal(wait_exit(c, 100), -1); /* held */
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.held_now, 1);
    assert_int_equal(dy_guard_answer(g, T.q[0].token, DY_GUARD_DENY), 0);
    assert_int_equal(wait_exit(c, WAIT_MS), EXIT_EPERM);
    /* Answered once only. */
    assert_int_equal(dy_guard_answer(g, T.q[0].token, DY_GUARD_ALLOW), RP_ERR_NOTFOUND);

    /* Answered allow. */
    c = spawn(p->path);
    assert_true(wait_submits(2, WAIT_MS));
    assert_int_equal(wait_exit(c, 100), -1);
    assert_int_equal(dy_guard_answer(g, T.q[1].token, DY_GUARD_ALLOW), 0);
    assert_int_equal(wait_exit(c, WAIT_MS), 0);

    dy_guard_stats(g, &s);
    assert_int_equal(s.held, 2);
    assert_int_equal(s.held_now, 0);
    assert_int_equal(s.denied, 1);
    assert_int_equal(s.deadline_allowed, 0);
    assert_int_equal(s.scanned.count, 2);
    assert_true(s.scanned.max_ns >= 100ull * 1000000ull); /* held at least the 100 ms above */
    assert_true(s.scanned.max_ns < 5000ull * 1000000ull);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_deadline_fail_open(void **state)
{
    (void)state;
    reset();
    struct tfile *p = add_file("slow", M_PENDING);
    const unsigned deadline = 300, margin = 1500;
    struct dy_guard *g = start_guard(deadline, NULL, 0, 0);

    uint64_t t0 = now_ms();
    pid_t c = spawn(p->path);
    int code = wait_exit(c, deadline + margin);
    uint64_t took = now_ms() - t0;
    assert_int_equal(code, 0);
    assert_true(took >= deadline);
    assert_true(took <= deadline + margin);
    assert_int_equal(atomic_load(&T.nq), 1); /* held, never answered */
    assert_int_equal(atomic_load(&T.failed_n), 1);
    assert_int_equal(atomic_load(&T.failed_pid), c);
    assert_int_equal(atomic_load(&T.failed_ino), p->ino);

    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.deadline_allowed, 1);
    assert_int_equal(s.held_now, 0);
    assert_int_equal(s.scanned.count, 1);
    assert_true(s.scanned.max_ns >= deadline * 1000000ull);
    assert_true(s.scanned.max_ns <= (deadline + margin) * 1000000ull);
    print_message("held %llu ns for a %u ms deadline\n", (unsigned long long)s.scanned.max_ns,
                  deadline);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_late_answer(void **state)
{
    (void)state;
    reset();
    struct tfile *p = add_file("late", M_PENDING);
    struct dy_guard *g = start_guard(100, NULL, 0, 0);
    assert_int_equal(wait_exit(spawn(p->path), WAIT_MS), 0);
    assert_int_equal(atomic_load(&T.nq), 1);
    assert_int_equal(dy_guard_answer(g, T.q[0].token, DY_GUARD_DENY), RP_ERR_NOTFOUND);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.late_answers, 1);
    assert_int_equal(s.denied, 0);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_overflow(void **state)
{
    (void)state;
    reset();
    struct tfile *p = add_file("many", M_PENDING);
    struct dy_guard *g = start_guard(DY_GUARD_DEADLINE_MAX, NULL, 0, 0);
    static pid_t kids[DY_GUARD_PENDING_MAX];
    for (unsigned i = 0; i < DY_GUARD_PENDING_MAX; i++)
        kids[i] = spawn(p->path);
    bool all = wait_submits(DY_GUARD_PENDING_MAX, 8000);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    if (!all || s.held_now != DY_GUARD_PENDING_MAX) {
        dy_guard_destroy(g); /* lets them run before the test fails */
        for (unsigned i = 0; i < DY_GUARD_PENDING_MAX; i++)
            reap(kids[i]);
        fail_msg("held %u of %u", s.held_now, DY_GUARD_PENDING_MAX);
    }
    /* One more: no slot left, allowed at once. */
    assert_int_equal(wait_exit(spawn(p->path), WAIT_MS), 0);
    dy_guard_stats(g, &s);
    assert_int_equal(s.overflow, 1);
    assert_int_equal(s.held_now, DY_GUARD_PENDING_MAX);
    assert_int_equal(atomic_load(&T.nq), DY_GUARD_PENDING_MAX);
    for (unsigned i = 0; i < DY_GUARD_PENDING_MAX; i++)
        assert_int_equal(dy_guard_answer(g, T.q[i].token, DY_GUARD_ALLOW), 0);
    for (unsigned i = 0; i < DY_GUARD_PENDING_MAX; i++)
        assert_int_equal(wait_exit(kids[i], WAIT_MS), 0);
    dy_guard_stats(g, &s);
    assert_int_equal(s.held_now, 0);
    assert_int_equal(s.deadline_allowed, 0);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_submit_refused(void **state)
{
    (void)state;
    reset();
    struct tfile *p = add_file("refused", M_PENDING);
    struct dy_guard *g = start_guard(DY_GUARD_DEADLINE_MAX, NULL, 0, 0);
    atomic_store(&T.refuse, true);
    assert_int_equal(wait_exit(spawn(p->path), 1000), 0);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.submit_refused, 1);
    assert_int_equal(s.held_now, 0);
    assert_int_equal(s.deadline_allowed, 0);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_allow_listed(void **state)
{
    (void)state;
    reset();
    struct tfile *listed = add_file("listed", M_DENY);
    struct tfile *in_dir = add_file("trusted/prog", M_DENY);
    struct tfile *held_in_dir = add_file("trusted/held", M_PENDING);
    struct tfile *prefix = add_file("trustedx/prog", M_DENY); /* a name that only starts alike */
    struct tfile *outside = add_file("outside", M_DENY);
    char dir[PATH_MAX];
    assert_non_null(tu_path(dir, sizeof dir, T.dir, "trusted/"));
    const char *allow[] = {listed->path, dir};
    struct dy_guard *g = start_guard(DY_GUARD_DEADLINE_MAX, allow, 2, 0);

    assert_int_equal(wait_exit(spawn(listed->path), WAIT_MS), 0);
    assert_int_equal(wait_exit(spawn(in_dir->path), WAIT_MS), 0);
    assert_int_equal(wait_exit(spawn(held_in_dir->path), WAIT_MS), 0);
    assert_int_equal(wait_exit(spawn(prefix->path), WAIT_MS), EXIT_EPERM);
    assert_int_equal(wait_exit(spawn(outside->path), WAIT_MS), EXIT_EPERM);
    assert_int_equal(atomic_load(&T.nq), 0);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.allowed_listed, 3);
    assert_int_equal(s.denied, 2);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_agent_children(void **state)
{
    (void)state;
    reset();
    struct tfile *bad = add_file("bad", M_DENY);
    struct tfile *p = add_file("pending", M_PENDING);
    struct dy_guard *g = start_guard(DY_GUARD_DEADLINE_MAX, NULL, 0, getpid());

    assert_int_equal(wait_exit(spawn(bad->path), WAIT_MS), 0);
    assert_int_equal(wait_exit(spawn(p->path), WAIT_MS), 0);
    /* A grandchild: the walk goes up more than one parent. */
    char *argv[] = {bad->path, NULL};
    char *envp[] = {NULL};
    pid_t c = fork();
    assert_true(c >= 0);
    if (c == 0) {
        pid_t gc = fork();
        if (gc == 0) {
            execve(bad->path, argv, envp);
            _exit(errno == EPERM ? EXIT_EPERM : EXIT_OTHER);
        }
        int st;
        if (gc < 0 || waitpid(gc, &st, 0) != gc || !WIFEXITED(st))
            _exit(EXIT_OTHER);
        _exit(WEXITSTATUS(st));
    }
    assert_int_equal(wait_exit(c, WAIT_MS), 0);
    assert_int_equal(atomic_load(&T.nq), 0);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.allowed_agent, 3);
    assert_int_equal(s.denied, 0);
    assert_int_equal(s.held, 0);
    dy_guard_destroy(g);
    cleanup();
}

static void test_privileged_stop_releases(void **state)
{
    (void)state;
    reset();
    struct tfile *p = add_file("held", M_PENDING);
    struct dy_guard *g = start_guard(DY_GUARD_DEADLINE_MAX, NULL, 0, 0);
    pid_t c[3];
    for (int i = 0; i < 3; i++)
        c[i] = spawn(p->path);
    assert_true(wait_submits(3, WAIT_MS));
    assert_int_equal(wait_exit(c[0], 100), -1);
    uint64_t t0 = now_ms();
    assert_int_equal(dy_guard_stop(g), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wait_exit(c[i], 1000), 0);
    assert_true(now_ms() - t0 < 1000);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    assert_int_equal(s.held_now, 0);
    assert_int_equal(s.deadline_allowed, 0);
    /* The scanners' answers after stop find nothing. */
    assert_int_equal(dy_guard_answer(g, T.q[0].token, DY_GUARD_DENY), RP_ERR_NOTFOUND);
    dy_guard_destroy(g);
    cleanup();
}

/* Reads one byte from fd within ms; the byte, or -1. */
static int read_byte(int fd, unsigned ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, (int)ms) != 1)
        return -1;
    char c;
    return read(fd, &c, 1) == 1 ? c : -1;
}

static void test_privileged_sigkill_releases(void **state)
{
    (void)state;
    reset();
    if (geteuid() != 0)
        tu_skip("needs root (fanotify permission events)");
    alarm(ALARM_S);
    struct tfile *p = add_file("held", M_PENDING);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    /* The guard runs in a process of its own, which holds the exec (no
     * deadline within the test's time) until it is killed. */
    pid_t guard = fork();
    assert_true(guard >= 0);
    if (guard == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        close(pfd[0]);
        alarm(ALARM_S);
        T.notify_fd = pfd[1];
        struct dy_guard_opts o = {DY_GUARD_DEADLINE_MAX, NULL, 0, 0};
        struct dy_guard *g = NULL;
        char err[256];
        if (dy_guard_create(&o, &callbacks, &g, err, sizeof err) != 0 ||
            dy_guard_start(g, err, sizeof err) != 0) {
            ssize_t w = write(pfd[1], "E", 1);
            (void)w;
            _exit(1);
        }
        /* A child of the "agent" that outlives it (a helper it started):
         * it must not keep the fanotify group open, or the group would
         * outlive the agent with nobody to answer. */
        pid_t helper = fork();
        if (helper == 0) {
            alarm(5);
            for (;;)
                pause();
        }
        char msg[1 + sizeof helper] = {'R'};
        memcpy(msg + 1, &helper, sizeof helper);
        ssize_t w = write(pfd[1], msg, sizeof msg);
        (void)w;
        for (;;)
            pause();
    }
    close(pfd[1]);
    int c0 = read_byte(pfd[0], 5000);
    pid_t helper = -1;
    if (c0 != 'R' || read(pfd[0], &helper, sizeof helper) != (ssize_t)sizeof helper ||
        helper <= 0) {
        reap(guard);
        close(pfd[0]);
        fail_msg("the guard process did not start (%d)", c0);
    }
    pid_t c = spawn(p->path);
    assert_int_equal(read_byte(pfd[0], WAIT_MS), 'H');
    assert_int_equal(wait_exit(c, 200), -1); /* held by the guard process */
    uint64_t t0 = now_ms();
    assert_int_equal(kill(guard, SIGKILL), 0);
    int code = wait_exit(c, 1000);
    kill(helper, SIGKILL); /* the helper lives on otherwise (not our child) */
    assert_int_equal(code, 0);
    print_message("ran %llu ms after SIGKILL\n", (unsigned long long)(now_ms() - t0));
    assert_int_equal(waitpid(guard, NULL, 0), guard);
    /* Nothing stays blocked: another exec of the file runs at once. */
    assert_int_equal(wait_exit(spawn(p->path), 1000), 0);
    close(pfd[0]);
    cleanup();
}

/* A file system mounted after start is marked (the mount table is watched):
 * an exec from it is denied. Runs in the program's own mount namespace. */
static void test_privileged_new_mount_marked(void **state)
{
    (void)state;
    reset();
    if (geteuid() != 0)
        tu_skip("needs root (fanotify permission events)");
    if (!T.own_mntns)
        tu_skip("no mount namespace of its own (unshare failed)");
    char mnt[PATH_MAX];
    assert_non_null(tu_path(mnt, sizeof mnt, T.dir, "mnt"));
    assert_int_equal(mkdir(mnt, 0755), 0);
    struct dy_guard *g = start_guard(0, NULL, 0, 0);
    struct dy_guard_stats s;
    dy_guard_stats(g, &s);
    uint32_t before = s.marks;
    assert_int_equal(mount("rampart-guard-test", mnt, "tmpfs", 0, "size=16m"), 0);
    uint64_t until = now_ms() + WAIT_MS;
    do {
        sleep_ms(5);
        dy_guard_stats(g, &s);
    } while (s.marks <= before && now_ms() < until);
    assert_int_equal(s.marks, before + 1);
    struct tfile *f = add_file("mnt/bad", M_DENY);
    assert_int_equal(wait_exit(spawn(f->path), WAIT_MS), EXIT_EPERM);
    dy_guard_destroy(g);
    assert_int_equal(umount2(mnt, MNT_DETACH), 0);
    cleanup();
}

int main(int argc, char **argv)
{
    /* A mount namespace of its own (before any thread): the mount test's
     * tmpfs never shows outside this program. */
    if (geteuid() == 0 && unshare(CLONE_NEWNS) == 0 &&
        mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
        T.own_mntns = true;
    /* An agent that is no exec's ancestor, for the tests that deny. */
    T.other = fork();
    if (T.other == 0) {
        /* Dies with the program, and keeps no pipe of the caller open. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        dup2(null, 1);
        dup2(null, 2);
        alarm(600);
        for (;;)
            pause();
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_errors),
        cmocka_unit_test_teardown(test_privileged_deny_at_once, teardown),
        cmocka_unit_test_teardown(test_privileged_pending_answered, teardown),
        cmocka_unit_test_teardown(test_privileged_deadline_fail_open, teardown),
        cmocka_unit_test_teardown(test_privileged_late_answer, teardown),
        cmocka_unit_test_teardown(test_privileged_overflow, teardown),
        cmocka_unit_test_teardown(test_privileged_submit_refused, teardown),
        cmocka_unit_test_teardown(test_privileged_allow_listed, teardown),
        cmocka_unit_test_teardown(test_privileged_agent_children, teardown),
        cmocka_unit_test_teardown(test_privileged_stop_releases, teardown),
        cmocka_unit_test_teardown(test_privileged_sigkill_releases, teardown),
        cmocka_unit_test_teardown(test_privileged_new_mount_marked, teardown),
    };
    int rc = tu_run_tests(tests, NULL, NULL, argc, argv);
    if (T.other > 0)
        reap(T.other);
    return rc;
}
