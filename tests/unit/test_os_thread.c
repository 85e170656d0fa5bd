/* tests/unit/test_os_thread.c - the once, static mutex and fork hook of
 * core/os/os_thread.h that keep pthreads out of shared code. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "os/os.h"
#include "os/os_thread.h"
#include "testutil.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 6

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- rp__os_once ------------------------------------------------------------ */

static rp__os_once_flag once_flag = RP__OS_ONCE_INIT;
static atomic_int once_runs, once_done, go;

static void once_fn(void *arg)
{
    atomic_fetch_add(&once_runs, 1);
    /* Long enough for the other threads to arrive and have to wait. */
    sleep_ms(50);
    atomic_store(&once_done, *(int *)arg);
}

struct once_seen {
    int done_after; /* once_done as this thread saw it when rp__os_once returned */
};

static void once_thread(void *arg)
{
    struct once_seen *seen = arg;
    static int value = 42;
    while (!atomic_load(&go))
        ;
    rp__os_once(&once_flag, once_fn, &value);
    seen->done_after = atomic_load(&once_done);
}

static void test_once_runs_once_and_others_wait(void **state)
{
    (void)state;
    rp__os_thread *t[NTHREADS];
    struct once_seen seen[NTHREADS] = {{0}};
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(rp__os_thread_start(&t[i], "once", once_thread, &seen[i]), 0);
    atomic_store(&go, 1);
    for (int i = 0; i < NTHREADS; i++)
        rp__os_thread_join(t[i]);
    assert_int_equal(atomic_load(&once_runs), 1);
    /* Every caller returned only after fn had finished, whoever ran it. */
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(seen[i].done_after, 42);
    /* Later calls do nothing. */
    int other = 7;
    rp__os_once(&once_flag, once_fn, &other);
    assert_int_equal(atomic_load(&once_runs), 1);
    assert_int_equal(atomic_load(&once_done), 42);
}

/* ---- rp__os_static_mutex ------------------------------------------------------- */

static rp__os_static_mutex counter_lock = RP__OS_STATIC_MUTEX_INIT;
static volatile long counter; /* plain on purpose: only the lock orders it */
static atomic_int go2;

#define ROUNDS 100000

static void count_thread(void *arg)
{
    (void)arg;
    while (!atomic_load(&go2))
        ;
    for (int i = 0; i < ROUNDS; i++) {
        rp__os_static_mutex_lock(&counter_lock);
        long v = counter;
        counter = v + 1;
        rp__os_static_mutex_unlock(&counter_lock);
    }
}

static void test_static_mutex_excludes_without_create(void **state)
{
    (void)state;
    rp__os_thread *t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(rp__os_thread_start(&t[i], "count", count_thread, NULL), 0);
    atomic_store(&go2, 1);
    for (int i = 0; i < NTHREADS; i++)
        rp__os_thread_join(t[i]);
    assert_int_equal(counter, (long)NTHREADS * ROUNDS);
}

/* ---- rp__os_atfork_child ------------------------------------------------------ */

static volatile int in_child;

static void mark_child(void)
{
    in_child = 1;
}

static void test_atfork_child_runs_in_the_child_only(void **state)
{
    (void)state;
    assert_int_equal(rp__os_atfork_child(mark_child), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(in_child ? 3 : 4);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    assert_int_equal(in_child, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_runs_once_and_others_wait),
        cmocka_unit_test(test_static_mutex_excludes_without_create),
        cmocka_unit_test(test_atfork_child_runs_in_the_child_only),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
