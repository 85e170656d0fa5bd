/*
 * test_kill.c - responder_kill's safe-kill core (plugins/responder_kill/
 * kill.c) on real processes: children of this test are killed by pid and
 * start time and reaped to see the signal that ended them; the refusals are
 * tried with signal 0, so a broken refusal reports "done" without harming
 * pid 1, a kernel thread or this test. The tree tests make this test a child
 * subreaper, so every process of the tree is reaped here and its end seen.
 * Every wait is bounded in time.
 */
#define _GNU_SOURCE
#include "kill.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util_proc.h>

#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t start_of(pid_t pid)
{
    uint64_t t = 0;
    assert_int_equal(rp_util_proc_start((int32_t)pid, &t), 0);
    return t;
}

/* A child running prog with one argument, after its exec is done (its exe
 * names prog's file), so checks see the program, not the forked test. */
static pid_t spawn(const char *prog, const char *arg)
{
    pid_t pid = fork();
    struct stat want;
    int i;
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(prog, prog, arg, (char *)NULL);
        _exit(127);
    }
    assert_int_equal(stat(prog, &want), 0);
    for (i = 0; i < 2000; i++) {
        char link[64];
        struct stat got;
        snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
        if (stat(link, &got) == 0 && got.st_ino == want.st_ino && got.st_dev == want.st_dev)
            return pid;
        sleep_ms(1);
    }
    fail_msg("child %d did not exec %s within 2 s", (int)pid, prog);
    return -1;
}

static void reap_killed(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

/* The child is alive and not waitable: nothing was done to it. */
static void assert_alive(pid_t pid)
{
    int status = 0;
    sleep_ms(20);
    assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
    assert_int_equal(kill(pid, 0), 0);
}

static void cleanup(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static void test_kill_child(void **state)
{
    struct rk_result r;
    pid_t pid = spawn("/bin/sleep", "100");
    (void)state;
    assert_int_equal(rk_kill_one(pid, start_of(pid), SIGKILL, NULL, &r), 0);
    assert_int_equal(r.code, RK_DONE);
    assert_int_equal(r.used_fallback, 0);
    assert_string_equal(rk_code_name(r.code), "done");
    reap_killed(pid);
}

static void test_kill_child_proc_fallback(void **state)
{
    struct rk_opts o = {0};
    struct rk_result r;
    pid_t pid = spawn("/bin/sleep", "100");
    (void)state;
    o.force_proc_fallback = 1;
    assert_int_equal(rk_kill_one(pid, start_of(pid), SIGKILL, &o, &r), 0);
    assert_int_equal(r.code, RK_DONE);
    assert_int_equal(r.used_fallback, 1);
    reap_killed(pid);
}

static void test_wrong_start_refused(void **state)
{
    struct rk_opts o = {0};
    struct rk_result r;
    pid_t pid = spawn("/bin/sleep", "100");
    uint64_t start = start_of(pid);
    (void)state;
    assert_int_equal(rk_kill_one(pid, start + 1, SIGKILL, NULL, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_REUSED);
    assert_string_equal(rk_code_name(r.code), "refused_pid_reused");
    assert_alive(pid);
    o.force_proc_fallback = 1;
    assert_int_equal(rk_kill_one(pid, start - 1, SIGKILL, &o, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_REUSED);
    assert_alive(pid);
    cleanup(pid);
}

static void test_pid1_refused(void **state)
{
    struct rk_result r;
    int32_t bad[] = {1, 0, -1, -12345};
    size_t i;
    uint64_t start = 0;
    (void)state;
    rp_util_proc_start(1, &start);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(rk_kill_one(bad[i], start, 0, NULL, &r), 0);
        assert_int_equal(r.code, RK_REFUSED_INIT);
    }
}

static void test_proc_parent(void **state)
{
    int32_t ppid = -1;
    uint64_t start = 0;
    (void)state;
    assert_int_equal(rk_proc_parent((int32_t)getpid(), &ppid, &start), 0);
    assert_int_equal(ppid, (int32_t)getppid());
    assert_int_equal(start, start_of(getpid()));
    assert_int_equal(rk_proc_parent(0, &ppid, &start), RP_ERR_INVAL);
    assert_int_equal(rk_proc_parent(INT32_MAX, &ppid, &start), RP_ERR_NOTFOUND);
}

/* test_host_*: needs a kernel thread in /proc (none in a pid namespace),
 * so it runs as unit.test_kill.privileged and skips visibly without one.
 * A kernel thread other than kthreadd (pid 2, refused by number), so the
 * PF_KTHREAD test of stat is what refuses it. */
static int32_t find_kthread(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int32_t found = 0;
    assert_non_null(d);
    while (!found && (e = readdir(d)) != NULL) {
        char path[300], buf[1024];
        long pid = strtol(e->d_name, NULL, 10);
        FILE *f;
        if (pid <= 2)
            continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(buf, sizeof buf, f)) {
            char *p = strrchr(buf, ')');
            unsigned long flags = 0;
            int field;
            for (field = 3; p && field <= 9; field++) {
                p = strchr(p + 1, ' ');
                if (p && field == 9)
                    flags = strtoul(p + 1, NULL, 10);
            }
            if (flags & 0x00200000u)
                found = (int32_t)pid;
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

static void test_host_kthread_refused(void **state)
{
    struct rk_opts o = {0};
    struct rk_result r;
    uint64_t start = 0;
    int32_t kt;
    (void)state;
    assert_int_equal(rk_kill_one(2, 0, 0, NULL, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_KTHREAD);
    kt = find_kthread();
    if (!kt)
        tu_skip("no kernel thread visible in /proc (a pid namespace)");
    assert_int_equal(rp_util_proc_start(kt, &start), 0);
    assert_int_equal(rk_kill_one(kt, start, 0, NULL, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_KTHREAD);
    assert_string_equal(rk_code_name(r.code), "refused_kernel_thread");
    o.force_proc_fallback = 1;
    assert_int_equal(rk_kill_one(kt, start, 0, &o, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_KTHREAD);
}

static pthread_mutex_t tid_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tid_cond = PTHREAD_COND_INITIALIZER;
static int32_t thread_tid;
static int thread_done;

static void *thread_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&tid_lock);
    thread_tid = (int32_t)syscall(SYS_gettid);
    pthread_cond_broadcast(&tid_cond);
    while (!thread_done)
        pthread_cond_wait(&tid_cond, &tid_lock);
    pthread_mutex_unlock(&tid_lock);
    return NULL;
}

static void test_self_refused(void **state)
{
    struct rk_opts o = {0};
    struct rk_result r;
    pthread_t th;
    uint64_t start = 0;
    int i;
    (void)state;
    assert_int_equal(rk_kill_one(getpid(), start_of(getpid()), 0, NULL, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_SELF);
    assert_string_equal(rk_code_name(r.code), "refused_agent");
    /* The parent (ctest or a shell) is an ancestor of the agent. */
    assert_int_equal(rk_kill_one(getppid(), start_of(getppid()), 0, NULL, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_SELF);
    /* One of the agent's own threads, by its thread id. */
    assert_int_equal(pthread_create(&th, NULL, thread_main, NULL), 0);
    pthread_mutex_lock(&tid_lock);
    while (!thread_tid)
        pthread_cond_wait(&tid_cond, &tid_lock);
    pthread_mutex_unlock(&tid_lock);
    rp_util_proc_start(thread_tid, &start);
    for (i = 0; i < 2; i++) {
        o.force_proc_fallback = i;
        assert_int_equal(rk_kill_one(thread_tid, start, 0, &o, &r), 0);
        assert_int_equal(r.code, RK_REFUSED_SELF);
    }
    pthread_mutex_lock(&tid_lock);
    thread_done = 1;
    pthread_cond_broadcast(&tid_cond);
    pthread_mutex_unlock(&tid_lock);
    pthread_join(th, NULL);
}

/* test_host_*: the pid is reused between the checks and the signal (the
 * window the pidfd closes). Making the kernel hand out a chosen pid
 * (ns_last_pid) needs CAP_SYS_ADMIN, so this runs as
 * unit.test_kill.privileged and skips visibly without it. */
struct reuse {
    pid_t target, newborn;
    int landed;
};

static int set_last_pid(pid_t pid)
{
    FILE *f = fopen("/proc/sys/kernel/ns_last_pid", "w");
    int ok;
    if (!f)
        return -1;
    ok = fprintf(f, "%d", (int)pid) > 0;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

/* Kills and reaps the target, then forks until a child gets its pid (other
 * tests fork too, so a few tries may be needed; at most 200). */
static void reuse_pid(void *arg)
{
    struct reuse *r = arg;
    int i;
    kill(r->target, SIGKILL);
    waitpid(r->target, NULL, 0);
    for (i = 0; i < 200 && !r->landed; i++) {
        pid_t p;
        if (set_last_pid(r->target - 1) != 0)
            return;
        p = fork();
        if (p == 0) {
            pause();
            _exit(0);
        }
        if (p == r->target) {
            r->newborn = p;
            r->landed = 1;
        } else if (p > 0) {
            kill(p, SIGKILL);
            waitpid(p, NULL, 0);
        }
    }
}

static void test_host_pid_reused_before_signal(void **state)
{
    int fallback;
    (void)state;
    if (set_last_pid(0) != 0)
        tu_skip("cannot write /proc/sys/kernel/ns_last_pid (needs CAP_SYS_ADMIN)");
    for (fallback = 0; fallback < 2; fallback++) {
        struct rk_result r;
        struct reuse ru;
        int tries;
        /* Another process may take the freed pid for good (a thread of any
         * busy program): then a new target is tried, at most 5. */
        for (tries = 0; tries < 5; tries++) {
            struct rk_opts o = {0};
            memset(&ru, 0, sizeof ru);
            ru.target = spawn("/bin/sleep", "100");
            o.force_proc_fallback = fallback;
            o.before_signal = reuse_pid;
            o.before_signal_arg = &ru;
            assert_int_equal(rk_kill_one(ru.target, start_of(ru.target), SIGKILL, &o, &r), 0);
            if (ru.landed)
                break;
        }
        if (!ru.landed)
            tu_skip("the kernel did not hand out the reused pid (5 targets, 200 forks each)");
        /* The process that was checked is gone; the newcomer with its pid
         * was not touched. */
        assert_int_equal(r.code, RK_GONE);
        assert_alive(ru.newborn);
        cleanup(ru.newborn);
    }
}

/* Copies /bin/sleep to dst, executable. */
static void copy_sleep(const char *dst)
{
    FILE *in = fopen("/bin/sleep", "rb"), *out = fopen(dst, "wb");
    char buf[8192];
    size_t n;
    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(dst, 0755), 0);
}

static void test_protected_refused(void **state)
{
    char dir[128], exe[256];
    struct rk_protect prot;
    struct rk_opts o = {0};
    struct rk_result r;
    pid_t guarded, other;
    (void)state;
    memset(&prot, 0, sizeof prot);
    assert_int_equal(tu_mkdtemp("kill", dir, sizeof dir), 0);
    assert_non_null(tu_path(exe, sizeof exe, dir, "guarded-sleep"));
    copy_sleep(exe);
    assert_int_equal(rk_protect_add_exe(&prot, exe), 0);
    assert_int_equal(rk_protect_add_exe(&prot, "/nonexistent/x"), RP_ERR_NOTFOUND);
    assert_int_equal(rk_protect_add_exe(&prot, dir), RP_ERR_INVAL);
    o.protect = &prot;
    guarded = spawn(exe, "100");
    other = spawn("/bin/sleep", "100");
    assert_int_equal(rk_kill_one(guarded, start_of(guarded), SIGKILL, &o, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_PROTECTED_EXE);
    assert_string_equal(rk_code_name(r.code), "refused_protected_executable");
    assert_alive(guarded);
    /* The same program under another file is not protected. */
    assert_int_equal(rk_kill_one(other, start_of(other), SIGKILL, &o, &r), 0);
    assert_int_equal(r.code, RK_DONE);
    reap_killed(other);
    /* By command name: the guarded copy's comm is "guarded-sleep". */
    other = spawn("/bin/sleep", "100");
    assert_int_equal(rk_protect_add_comm(&prot, "sleep"), 0);
    assert_int_equal(rk_protect_add_comm(&prot, "a-name-of-16-chr"), RP_ERR_RANGE);
    assert_int_equal(rk_kill_one(other, start_of(other), SIGKILL, &o, &r), 0);
    assert_int_equal(r.code, RK_REFUSED_PROTECTED_COMM);
    assert_alive(other);
    cleanup(other);
    cleanup(guarded);
    unlink(exe);
    rmdir(dir);
}

static void test_gone(void **state)
{
    struct rk_result r;
    uint64_t start;
    pid_t pid = fork();
    int i;
    char path[64], buf[256];
    (void)state;
    assert_true(pid >= 0);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    start = start_of(pid);
    kill(pid, SIGTERM);
    /* A zombie (exited, not reaped yet) has nothing left to kill. */
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (i = 0; i < 2000; i++) {
        char *text = tu_read(path);
        int zombie = text && strstr(text, ") Z ");
        free(text);
        if (zombie)
            break;
        sleep_ms(1);
    }
    assert_int_equal(rk_kill_one(pid, start, SIGKILL, NULL, &r), 0);
    assert_int_equal(r.code, RK_GONE);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    /* Reaped: the pid names nothing (or, rarely, another process). */
    assert_int_equal(rk_kill_one(pid, start, SIGKILL, NULL, &r), 0);
    assert_int_equal(r.code, RK_GONE);
    assert_string_equal(rk_code_name(r.code), "gone");
    (void)buf;
}

/* On a failure, what the kill missed is killed here and reaped, for at
 * most 2 s, so no process of the test outlives it: as a subreaper this test
 * is the parent of every orphan of its trees. */
static void kill_leftovers(void)
{
    int i;
    for (i = 0; i < 200; i++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        if (!d)
            return;
        while ((e = readdir(d)) != NULL) {
            char path[300], *text, *p;
            long pid = strtol(e->d_name, NULL, 10);
            if (pid <= 1)
                continue;
            snprintf(path, sizeof path, "/proc/%ld/stat", pid);
            text = tu_read(path);
            p = text ? strrchr(text, ')') : NULL;
            if (p && strtol(p + 4, NULL, 10) == (long)getpid())
                kill((pid_t)pid, SIGKILL);
            free(text);
        }
        closedir(d);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
        if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
            return;
        sleep_ms(10);
    }
}

/* Reaps every child (this test is a subreaper, so the orphans of a killed
 * tree come here) for at most 5 s; each must have died of SIGKILL. Returns
 * how many were reaped. */
static int reap_all_killed(void)
{
    int reaped = 0, i;
    for (i = 0; i < 5000; i++) {
        int status = 0;
        pid_t p = waitpid(-1, &status, WNOHANG);
        if (p < 0 && errno == ECHILD)
            return reaped;
        if (p > 0) {
            if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
                fail_msg("process %d ended with status 0x%x, not SIGKILL", (int)p, status);
            reaped++;
            continue;
        }
        sleep_ms(1);
    }
    kill_leftovers();
    fail_msg("children left after 5 s (%d reaped)", reaped);
    return reaped;
}

/* A shell with two children and a subshell with two more: 5 descendants. */
static pid_t spawn_shell_tree(struct rk_proc *found, size_t cap, const struct rk_opts *o, size_t *n)
{
    pid_t pid = fork();
    int i;
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c",
              "sleep 100 & sleep 100 & (sleep 100 & sleep 100 & wait) & wait", (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 5000; i++) {
        uint64_t start = 0;
        size_t j, sleeping = 0;
        if (rp_util_proc_start(pid, &start) == 0 &&
            rk_descendants(pid, start, o, found, cap, n) == 0 && *n == 5) {
            /* All four sleeps have exec'd: the tree is complete. */
            for (j = 0; j < *n; j++) {
                char path[64], *comm;
                snprintf(path, sizeof path, "/proc/%d/comm", (int)found[j].pid);
                comm = tu_read(path);
                sleeping += comm && strcmp(comm, "sleep\n") == 0;
                free(comm);
            }
            if (sleeping == 4)
                return pid;
        }
        sleep_ms(1);
    }
    fail_msg("the shell tree did not form within 5 s");
    return -1;
}

static void tree_case(int force_scan)
{
    static struct rk_proc work[RK_TREE_MAX];
    struct rk_proc found[16];
    struct rk_opts o = {0};
    struct rk_tree_result tr;
    size_t n = 0, i;
    pid_t root;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    o.force_ppid_scan = force_scan;
    root = spawn_shell_tree(found, 16, &o, &n);
    assert_int_equal(n, 5);
    for (i = 0; i < n; i++) {
        assert_true(found[i].depth == 1 || found[i].depth == 2);
        assert_int_equal(found[i].start, start_of(found[i].pid));
    }
    /* A cap smaller than the tree says so, and out is not written past cap
     * (found[2] is a canary). */
    found[2].pid = -7;
    assert_int_equal(rk_descendants(root, start_of(root), &o, found, 2, &n), RP_ERR_FULL);
    assert_int_equal(n, 1);
    assert_int_equal(found[2].pid, -7);
    assert_int_equal(rk_descendants(root, start_of(root) + 1, &o, found, 16, &n), RP_ERR_NOTFOUND);
    assert_int_equal(rk_kill_tree(root, start_of(root), &o, work, RK_TREE_MAX, &tr), 0);
    assert_int_equal(tr.code, RK_DONE);
    assert_int_equal(tr.killed, 5);
    assert_int_equal(tr.limited, 0);
    assert_int_equal(reap_all_killed(), 6);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

static void test_tree(void **state)
{
    (void)state;
    tree_case(0);
}

static void test_tree_ppid_scan(void **state)
{
    (void)state;
    tree_case(1);
}

/* A bounded fork bomb: every process, new ones too, forks a child every
 * 2 ms until BOMB_MAX processes were made in all (a counter shared by the
 * whole tree), then waits. Killed 6 ms after it starts, it is still
 * growing: a tree kill that looked only once would leave the children forked
 * after its look running, and reap_all_killed would find them. */
#define BOMB_MAX 50
static int *bomb_count;

static void bomb(void)
{
    for (;;) {
        if (__atomic_fetch_add(bomb_count, 1, __ATOMIC_SEQ_CST) < BOMB_MAX - 1) {
            if (fork() == 0)
                continue; /* the child grows the tree too */
        } else {
            __atomic_fetch_sub(bomb_count, 1, __ATOMIC_SEQ_CST);
            pause();
        }
        sleep_ms(2);
    }
}

static void test_fork_bomb_killed(void **state)
{
    static struct rk_proc work[RK_TREE_MAX];
    struct rk_tree_result tr;
    pid_t root;
    int reaped;
    (void)state;
    bomb_count =
        mmap(NULL, sizeof *bomb_count, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(bomb_count != MAP_FAILED);
    *bomb_count = 0;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    root = fork();
    assert_true(root >= 0);
    if (root == 0)
        bomb();
    sleep_ms(6);
    assert_int_equal(rk_kill_tree(root, start_of(root), NULL, work, RK_TREE_MAX, &tr), 0);
    assert_int_equal(tr.code, RK_DONE);
    assert_int_equal(tr.limited, 0);
    assert_true(tr.killed >= 1);
    reaped = reap_all_killed();
    assert_int_equal(reaped, (int)tr.killed + 1);
    assert_true(reaped <= BOMB_MAX);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
    munmap(bomb_count, sizeof *bomb_count);
}

static void test_bad_args(void **state)
{
    struct rk_result r;
    struct rk_proc out[1];
    size_t n;
    (void)state;
    assert_int_equal(rk_kill_one(100, 0, 0, NULL, NULL), RP_ERR_INVAL);
    assert_int_equal(rk_kill_one(100, 0, -1, NULL, &r), RP_ERR_INVAL);
    assert_int_equal(rk_descendants(1, 0, NULL, out, 1, &n), RP_ERR_INVAL);
    assert_string_equal(rk_code_name(999), "unknown");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_child),
        cmocka_unit_test(test_kill_child_proc_fallback),
        cmocka_unit_test(test_wrong_start_refused),
        cmocka_unit_test(test_pid1_refused),
        cmocka_unit_test(test_proc_parent),
        cmocka_unit_test(test_host_kthread_refused),
        cmocka_unit_test(test_self_refused),
        cmocka_unit_test(test_host_pid_reused_before_signal),
        cmocka_unit_test(test_protected_refused),
        cmocka_unit_test(test_gone),
        cmocka_unit_test(test_tree),
        cmocka_unit_test(test_tree_ppid_scan),
        cmocka_unit_test(test_fork_bomb_killed),
        cmocka_unit_test(test_bad_args),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
