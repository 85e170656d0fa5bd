/* tests/unit/test_os_secret.c - reading credential files (core/os/os_secret.h):
 * what the token and key readers rely on, checked on the platform layer
 * itself. The messages through output.* are checked in test_http.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "os/os_secret.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static const char *path_of(const char *name)
{
    static char buf[512];
    return tu_path(buf, sizeof buf, dir, name);
}

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp("os_secret", dir, sizeof dir);
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(dir);
}

static void test_reads_an_owner_only_file(void **state)
{
    (void)state;
    const char *p = path_of("key");
    assert_int_equal(tu_write(p, "secret-bytes\n"), 0);
    assert_int_equal(chmod(p, 0600), 0);
    char *buf = NULL, why[256] = "";
    size_t len = 0;
    assert_int_equal(rp__os_read_secret_file(p, 64, &buf, &len, why, sizeof why), 0);
    assert_int_equal(len, 13);
    assert_memory_equal(buf, "secret-bytes\n", 14); /* NUL-terminated */
    free(buf);
}

static void test_refuses_group_or_other_access(void **state)
{
    (void)state;
    const char *p = path_of("open-key");
    assert_int_equal(tu_write(p, "secret-bytes"), 0);
    static const mode_t modes[] = {0640, 0604, 0660, 0644};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(p, modes[i]), 0);
        char *buf = NULL, why[256] = "";
        size_t len = 0;
        assert_int_equal(rp__os_read_secret_file(p, 64, &buf, &len, why, sizeof why), RP_ERR_PERM);
        assert_null(buf);
        char mode[8];
        snprintf(mode, sizeof mode, "%04o", (unsigned)modes[i]);
        assert_non_null(strstr(why, mode));
        assert_null(strstr(why, "secret-bytes"));
    }
}

static void test_size_cap(void **state)
{
    (void)state;
    const char *p = path_of("big");
    assert_int_equal(tu_write(p, "0123456789"), 0);
    assert_int_equal(chmod(p, 0600), 0);
    char *buf = NULL, why[256] = "";
    size_t len = 0;
    assert_int_equal(rp__os_read_secret_file(p, 9, &buf, &len, why, sizeof why), RP_ERR_RANGE);
    assert_null(buf);
    assert_non_null(strstr(why, "9 allowed"));
    assert_int_equal(rp__os_read_secret_file(p, 10, &buf, &len, why, sizeof why), 0);
    assert_int_equal(len, 10);
    free(buf);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "a FIFO at the path hung the reader\n";
    ssize_t n = write(2, msg, sizeof msg - 1);
    (void)n;
    _exit(1);
}

/* A FIFO planted where the token should be has no writer: opening it for
 * reading would block for ever without O_NONBLOCK. It is refused at once. */
static void test_fifo_is_refused_without_hanging(void **state)
{
    (void)state;
    const char *p = path_of("fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    signal(SIGALRM, on_alarm);
    alarm(5);
    char *buf = NULL, why[256] = "";
    size_t len = 0;
    assert_int_equal(rp__os_read_secret_file(p, 64, &buf, &len, why, sizeof why), RP_ERR_CONFIG);
    assert_string_equal(why, "not a regular file");
    assert_int_equal(rp__os_check_readable_file(p, why, sizeof why), RP_ERR_CONFIG);
    alarm(0);
    assert_null(buf);
}

static void test_missing_and_folder(void **state)
{
    (void)state;
    char *buf = NULL, why[256] = "";
    size_t len = 0;
    assert_int_equal(rp__os_read_secret_file(path_of("none"), 64, &buf, &len, why, sizeof why),
                     RP_ERR_NOTFOUND);
    assert_int_equal(rp__os_check_readable_file(path_of("none"), why, sizeof why), RP_ERR_NOTFOUND);
    assert_int_equal(mkdir(path_of("sub"), 0700), 0);
    assert_int_equal(rp__os_read_secret_file(path_of("sub"), 64, &buf, &len, why, sizeof why),
                     RP_ERR_CONFIG);
    assert_int_equal(rp__os_check_readable_file(path_of("sub"), why, sizeof why), RP_ERR_CONFIG);
    assert_string_equal(why, "not a regular file");
    /* A CA bundle need not be private: readable is enough. */
    assert_int_equal(tu_write(path_of("ca.pem"), "pem"), 0);
    assert_int_equal(chmod(path_of("ca.pem"), 0644), 0);
    assert_int_equal(rp__os_check_readable_file(path_of("ca.pem"), why, sizeof why), 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_an_owner_only_file),
        cmocka_unit_test(test_refuses_group_or_other_access),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_fifo_is_refused_without_hanging),
        cmocka_unit_test(test_missing_and_folder),
    };
    return tu_run_tests(tests, setup, teardown, argc, argv);
}
