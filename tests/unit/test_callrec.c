/* tests/unit/test_callrec.c - the call records (core/runtime/callrec.h: slots,
 * nesting, attribution by address, the crash handler's record in a real
 * crash) and the fault ledger (core/runtime/faults.h: window, identity,
 * enable, a damaged file). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "os/os.h"
#include "os/os_sup.h"
#include "os/os_thread.h"
#include "runtime/callrec.h"
#include "runtime/faults.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- slots and nesting ---------------------------------------------------------- */

static void test_slot_nesting(void **state)
{
    (void)state;
    struct rp__callrec *cr = NULL;
    assert_int_equal(rp__callrec_create_shared(&cr), 0);
    rp__callrec_use(cr);
    uint32_t a = 0, b = 0;
    assert_int_equal(rp__callrec_plugin_add("alpha", "/x/alpha.so", 1, 2, 3, 4, &a), 0);
    assert_int_equal(rp__callrec_plugin_add("beta", "/x/beta.so", 1, 5, 3, 4, &b), 0);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    assert_null(rp__callrec_slot()); /* no slot before the first enter */
    uint64_t s1 = rp__callrec_enter(a, RP__CR_EVENT);
    struct rp__cr_slot *s = rp__callrec_slot();
    assert_non_null(s);
    assert_int_equal(atomic_load(&s->tid), rp__os_thread_tid());
    assert_int_equal(atomic_load(&s->plugin), a);
    assert_int_equal(atomic_load(&s->kind), RP__CR_EVENT);
    uint32_t seq = atomic_load(&s->seq);
    /* alpha calls the host, which calls beta's command: nested. */
    uint64_t s2 = rp__callrec_enter(b, RP__CR_COMMAND);
    assert_int_equal(atomic_load(&s->plugin), b);
    assert_int_equal(atomic_load(&s->kind), RP__CR_COMMAND);
    rp__callrec_leave(s2);
    assert_int_equal(atomic_load(&s->plugin), a);
    assert_int_equal(atomic_load(&s->kind), RP__CR_EVENT);
    rp__callrec_leave(s1);
    assert_int_equal(atomic_load(&s->plugin), 0);
    assert_int_equal(atomic_load(&s->kind), RP__CR_NONE);
    assert_true(atomic_load(&s->seq) > seq);
    assert_string_equal(rp__callrec_kind_name(RP__CR_EVENT), "on_event");
    assert_string_equal(rp__callrec_kind_name(999), "unknown");
    rp__callrec_thread_exit();
    assert_int_equal(atomic_load(&s->tid), 0);
    rp__callrec_use(NULL);
    rp__callrec_destroy_shared(cr);
}

static atomic_int other_done;
static struct rp__cr_slot *other_slot;

static void other_thread(void *arg)
{
    uint32_t idx = *(uint32_t *)arg;
    uint64_t sv = rp__callrec_enter(idx, RP__CR_TIMER);
    other_slot = rp__callrec_slot();
    rp__callrec_leave(sv);
    atomic_store(&other_done, 1);
}

static void test_slots_per_thread(void **state)
{
    (void)state;
    struct rp__callrec *cr = NULL;
    assert_int_equal(rp__callrec_create_shared(&cr), 0);
    rp__callrec_use(cr);
    uint32_t a = 0;
    assert_int_equal(rp__callrec_plugin_add("alpha", NULL, 0, 0, 0, 0, &a), 0);
    uint64_t sv = rp__callrec_enter(a, RP__CR_EVENT);
    rp__os_thread *t = NULL;
    assert_int_equal(rp__os_thread_start(&t, "cr-test", other_thread, &a), 0);
    rp__os_thread_join(t);
    assert_true(atomic_load(&other_done));
    assert_non_null(other_slot);
    assert_ptr_not_equal(other_slot, rp__callrec_slot());
    /* This thread's record was not touched by the other's. */
    assert_int_equal(atomic_load(&rp__callrec_slot()->kind), RP__CR_EVENT);
    rp__callrec_leave(sv);
    rp__callrec_thread_exit();
    rp__callrec_use(NULL);
    rp__callrec_destroy_shared(cr);
}

/* ---- attribution by address -------------------------------------------------------- */

static void test_plugin_at(void **state)
{
    (void)state;
    struct rp__callrec *cr = NULL;
    assert_int_equal(rp__callrec_create_shared(&cr), 0);
    rp__callrec_use(cr);
    uint32_t a = 0, b = 0;
    assert_int_equal(rp__callrec_plugin_add("alpha", NULL, 0, 0, 0, 0, &a), 0);
    assert_int_equal(rp__callrec_plugin_add("beta", NULL, 0, 0, 0, 0, &b), 0);
    assert_int_equal(rp__callrec_plugin_range(a, 0x1000, 0x2000), 0);
    assert_int_equal(rp__callrec_plugin_range(b, 0x5000, 0x6000), 0);
    assert_int_equal(rp__callrec_plugin_range(b, 0x9000, 0x9100), 0);
    assert_int_equal(rp__callrec_plugin_range(a, 0x3000, 0x3000), RP_ERR_INVAL);
    assert_int_equal(rp__callrec_plugin_at(cr, 0x1000), a);
    assert_int_equal(rp__callrec_plugin_at(cr, 0x1fff), a);
    assert_int_equal(rp__callrec_plugin_at(cr, 0x2000), 0); /* [lo, hi) */
    assert_int_equal(rp__callrec_plugin_at(cr, 0x90ff), b);
    assert_int_equal(rp__callrec_plugin_at(cr, 0x4000), 0);
    assert_int_equal(rp__callrec_plugin_at(cr, 0), 0);
    for (uint32_t i = 2; i < RP__CR_RANGES; i++)
        assert_int_equal(rp__callrec_plugin_range(b, 0x10000 + i * 16, 0x10008 + i * 16), 0);
    assert_int_equal(rp__callrec_plugin_range(b, 0x20000, 0x20010), RP_ERR_FULL);
    /* Unloaded: its addresses may hold another library now. */
    rp__callrec_plugin_gone(b);
    assert_int_equal(rp__callrec_plugin_at(cr, 0x5000), 0);
    assert_int_equal(rp__callrec_plugin_at(cr, 0x1000), a);

    /* The crash handler's record: in the core, by address; first wins. */
    rp__callrec_crash(SIGSEGV, 1, 0x1800, 0x10);
    assert_int_equal(atomic_load(&cr->crash.signo), SIGSEGV);
    assert_int_equal(cr->crash.plugin, a);
    assert_int_equal(cr->crash.kind, RP__CR_OWN_THREAD);
    assert_int_equal(cr->crash.pc, 0x1800);
    assert_int_equal(cr->crash.addr, 0x10);
    rp__callrec_crash(SIGBUS, 2, 0x4444, 0x20);
    assert_int_equal(atomic_load(&cr->crash.signo), SIGSEGV);
    assert_int_equal(cr->crash.pc, 0x1800);
    /* Inside a callback the slot says which, wherever pc is. */
    rp__callrec_reset(cr);
    assert_int_equal(rp__callrec_plugin_add("gamma", NULL, 0, 0, 0, 0, &a), 0);
    uint64_t sv = rp__callrec_enter(a, RP__CR_START);
    rp__callrec_crash(SIGABRT, -6, 0x4444, 0);
    rp__callrec_leave(sv);
    assert_int_equal(cr->crash.plugin, a);
    assert_int_equal(cr->crash.kind, RP__CR_START);
    rp__callrec_thread_exit();
    rp__callrec_use(NULL);
    rp__callrec_destroy_shared(cr);
}

/* Stores to p with no sanitizer check in the way: in the sanitizer builds a
 * store through NULL is reported (and the child ended) by UBSan before any
 * fault, so the test faults on a page mapped without access instead, and
 * the store must reach the hardware for the signal to come. */
__attribute__((no_sanitize("address", "undefined", "thread"), noinline)) static void
fault_at(volatile int *p)
{
    *p = 1;
}

/* A real crash in a child: the handlers write the shared table, the signal
 * still ends the child. */
static void test_crash_handler(void **state)
{
    (void)state;
    struct rp__callrec *cr = NULL;
    assert_int_equal(rp__callrec_create_shared(&cr), 0);
    void *page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(page != MAP_FAILED);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's own handler would catch the fault in the child: the
         * default action is what comes after the record, as in rampartd. */
        signal(SIGSEGV, SIG_DFL);
        rp__callrec_use(cr);
        uint32_t a = 0;
        if (rp__callrec_plugin_add("crasher", NULL, 0, 0, 0, 0, &a) != 0 ||
            rp__os_crash_install(rp__callrec_crash) != 0)
            _exit(3);
        (void)rp__callrec_enter(a, RP__CR_EVENT);
        fault_at(page);
        _exit(4);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
    assert_int_equal(atomic_load(&cr->crash.signo), SIGSEGV);
    assert_int_equal(cr->crash.plugin, 1);
    assert_int_equal(cr->crash.kind, RP__CR_EVENT);
    assert_int_equal(cr->crash.addr, (uint64_t)(uintptr_t)page);
    assert_true(cr->crash.pc != 0);
    assert_int_equal(cr->crash.tid, (uint32_t)pid);
    assert_string_equal(cr->plugins[0].name, "crasher");
    munmap(page, 4096);
    rp__callrec_destroy_shared(cr);
}

/* ---- the fault ledger ---------------------------------------------------------------- */

static char dir[256];

static int ledger_setup(void **state)
{
    (void)state;
    if (tu_mkdtemp("faults", dir, sizeof dir) != 0 || chmod(dir, 0700) != 0)
        return -1;
    return rp__faults_open(dir, 3, 600);
}

static int ledger_teardown(void **state)
{
    (void)state;
    rp__faults_close();
    rp__faults_test_clock(0);
    return tu_rm_rf(dir);
}

static int crash(const char *name, uint64_t ino)
{
    struct rp__fault f = {.plugin = name,
                          .path = "/p/x.so",
                          .dev = 7,
                          .ino = ino,
                          .size = 100,
                          .mtime_ns = 1234,
                          .kind = RP__FAULT_CRASH,
                          .callback = "on_event",
                          .signo = SIGSEGV,
                          .detail = "pc 0x1"};
    return rp__faults_report(&f);
}

static int disabled(const char *name, uint64_t ino, char *why, size_t len)
{
    return rp__faults_disabled(name, 7, ino, 100, 1234, why, len);
}

static void test_ledger_disables_at_max(void **state)
{
    (void)state;
    char why[512];
    rp__faults_test_clock(1000000);
    assert_int_equal(crash("chaos", 9), 0);
    rp__faults_test_clock(1000010);
    assert_int_equal(crash("chaos", 9), 0);
    assert_int_equal(disabled("chaos", 9, why, sizeof why), 0);
    rp__faults_test_clock(1000020);
    assert_int_equal(crash("chaos", 9), 1); /* the third in 600 s */
    assert_int_equal(disabled("chaos", 9, why, sizeof why), 1);
    assert_non_null(strstr(why, "disabled after 3 faults in 600 s"));
    assert_non_null(strstr(why, "SIGSEGV in on_event"));
    assert_non_null(strstr(why, "rampartctl plugins enable chaos"));
    /* Already off: a fourth does not disable it again. */
    assert_int_equal(crash("chaos", 9), 0);
    /* Another plugin is not touched. */
    assert_int_equal(disabled("other", 9, why, sizeof why), 0);
    /* The file says it, and survives a new ledger (a restart). */
    char path[512], *text = tu_read(tu_path(path, sizeof path, dir, "plugin_faults.json"));
    assert_non_null(text);
    assert_non_null(strstr(text, "\"disabled\":true"));
    free(text);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    rp__faults_close();
    assert_int_equal(rp__faults_open(dir, 3, 600), 0);
    assert_int_equal(disabled("chaos", 9, why, sizeof why), 1);
}

static void test_ledger_window(void **state)
{
    (void)state;
    char why[512];
    rp__faults_test_clock(2000000);
    assert_int_equal(crash("slow", 9), 0);
    rp__faults_test_clock(2000300);
    assert_int_equal(crash("slow", 9), 0);
    /* The first is out of the window by now: two in it, not three. */
    rp__faults_test_clock(2000601);
    assert_int_equal(crash("slow", 9), 0);
    assert_int_equal(disabled("slow", 9, why, sizeof why), 0);
    rp__faults_test_clock(2000650);
    assert_int_equal(crash("slow", 9), 1);
}

static void test_ledger_identity_and_enable(void **state)
{
    (void)state;
    char why[512];
    rp__faults_test_clock(3000000);
    for (int i = 0; i < 3; i++)
        assert_int_equal(crash("swap", 9), i == 2);
    assert_int_equal(disabled("swap", 9, why, sizeof why), 1);
    /* A changed file (another inode) is another plugin: on. */
    assert_int_equal(disabled("swap", 10, why, sizeof why), 0);
    assert_string_equal(why, "");
    /* Its faults start a new count. */
    assert_int_equal(crash("swap", 10), 0);
    assert_int_equal(disabled("swap", 9, why, sizeof why), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(crash("swap", 10), i == 1);
    assert_int_equal(disabled("swap", 10, why, sizeof why), 1);
    /* rampartctl plugins enable: forgotten, then counted from zero. */
    assert_int_equal(rp__faults_enable("swap"), 1);
    assert_int_equal(disabled("swap", 10, why, sizeof why), 0);
    assert_int_equal(rp__faults_enable("swap"), 0);
    assert_int_equal(crash("swap", 10), 0);
    assert_int_equal(crash("swap", 10), 0);
    assert_int_equal(disabled("swap", 10, why, sizeof why), 0);
}

static void test_ledger_damaged_and_off(void **state)
{
    (void)state;
    char why[512], path[512];
    assert_int_equal(tu_write(tu_path(path, sizeof path, dir, "plugin_faults.json"), "{not json"),
                     0);
    chmod(path, 0600);
    assert_int_equal(disabled("x", 9, why, sizeof why), 0);
    assert_int_equal(crash("x", 9), 0); /* a new ledger replaces it */
    char *text = tu_read(path);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"x\""));
    free(text);
    /* max 0: nothing is ever disabled. */
    rp__faults_close();
    assert_int_equal(rp__faults_open(dir, 0, 600), 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(crash("never", 9), 0);
    assert_int_equal(disabled("never", 9, why, sizeof why), 0);
    /* A data folder not made yet: no ledger, no error. */
    rp__faults_close();
    assert_int_equal(rp__faults_open("/nonexistent/rampart-data", 3, 600), 0);
    assert_int_equal(disabled("x", 9, why, sizeof why), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slot_nesting),
        cmocka_unit_test(test_slots_per_thread),
        cmocka_unit_test(test_plugin_at),
        cmocka_unit_test(test_crash_handler),
        cmocka_unit_test_setup_teardown(test_ledger_disables_at_max, ledger_setup, ledger_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_window, ledger_setup, ledger_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_identity_and_enable, ledger_setup,
                                        ledger_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_damaged_and_off, ledger_setup, ledger_teardown),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
