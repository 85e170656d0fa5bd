/*
 * tests/unit/test_control.c - the control socket's server (core/control.c)
 * driven by rp__loop_run_once on the test's thread, with fake answers: the
 * request parser, replies in order on one connection, the request cap, the
 * connection cap, the deadline, the reload hand-off through the agent's own
 * signal, and the socket's mode and removal. The peer check (another uid is
 * refused) is tested end to end by tests/cli/test_control_peer.sh.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "control.h"
#include "os/os.h"
#include "testutil.h"
#include <rampart/plugin.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct fixture {
    char dir[256];
    rp__os_dir *d;
    rp__loop *loop;
    rp__control *ctl;
    int audits;
    char audit_action[64], audit_outcome[32];
};

static json_t *fake_status(void *arg)
{
    (void)arg;
    return json_pack("{s:s}", "state", "ok");
}

static json_t *fake_plugins(void *arg)
{
    (void)arg;
    return json_pack("[{s:s}]", "name", "synthetic");
}

static void fake_audit(void *arg, const char *action, const rp__os_peer *peer, const char *outcome,
                       const char *message)
{
    struct fixture *f = arg;
    (void)message;
    assert_int_equal(peer->uid, (long)geteuid());
    assert_int_equal(peer->pid, (long)getpid());
    f->audits++;
    snprintf(f->audit_action, sizeof f->audit_action, "%s", action);
    snprintf(f->audit_outcome, sizeof f->audit_outcome, "%s", outcome);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    assert_int_equal(tu_mkdtemp("control", f->dir, sizeof f->dir), 0);
    char why[512];
    assert_int_equal(rp__os_dir_open(f->dir, &f->d, why, sizeof why), 0);
    assert_int_equal(rp__loop_create(NULL, &f->loop), 0);
    rp__control_opts o = {.loop = f->loop,
                          .dir = f->d,
                          .ops = {fake_status, fake_plugins, fake_audit, f},
                          .max_conns = 2,
                          .deadline_ms = 300};
    assert_int_equal(rp__control_create(&o, &f->ctl, why, sizeof why), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rp__control_destroy(f->ctl);
    rp__loop_destroy(f->loop);
    rp__os_dir_close(f->d);
    tu_rm_rf(f->dir);
    free(f);
    return 0;
}

static void pump(struct fixture *f, int rounds)
{
    for (int i = 0; i < rounds; i++)
        assert_int_equal(rp__loop_run_once(f->loop, 5), 0);
}

static int client(struct fixture *f)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    assert_true(snprintf(sa.sun_path, sizeof sa.sun_path, "%.80s/%s", f->dir, RP__CONTROL_SOCKET) <
                (int)sizeof sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    pump(f, 2); /* accepted */
    return fd;
}

/* Reads one line (pumping the loop meanwhile) into buf; returns its length,
 * or -1 at end-of-file before a line. */
static int read_line(struct fixture *f, int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (int tries = 0; tries < 400; tries++) {
        pump(f, 1);
        ssize_t n = recv(fd, buf + len, cap - 1 - len, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return -1;
        if (n > 0)
            len += (size_t)n;
        buf[len] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl)
            return (int)(nl - buf);
    }
    fail_msg("no reply line");
    return -1;
}

static void send_str(int fd, const char *s)
{
    assert_int_equal(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

static void test_parse(void **state)
{
    (void)state;
    enum rp__control_cmd cmd;
    char err[256];
    static const struct {
        const char *in;
        int rc;
        enum rp__control_cmd cmd;
        const char *err;
    } cases[] = {
        {"{\"cmd\":\"status\"}", 0, RP__CONTROL_STATUS, ""},
        {" {\"cmd\" : \"plugins\"} ", 0, RP__CONTROL_PLUGINS, ""},
        {"{\"cmd\":\"reload\"}", 0, RP__CONTROL_RELOAD, ""},
        {"{\"cmd\":\"reboot\"}", RP_ERR_PARSE, 0, "unknown command \"reboot\""},
        {"{\"cmd\":\"status\",\"x\":1}", RP_ERR_PARSE, 0, "unknown member \"x\""},
        {"{\"cmd\":\"status\",\"cmd\":\"reload\"}", RP_ERR_PARSE, 0, "duplicate"},
        {"[\"status\"]", RP_ERR_PARSE, 0, "expected a JSON object"},
        {"{\"cmd\":1}", RP_ERR_PARSE, 0, "not a string"},
        {"{}", RP_ERR_PARSE, 0, "missing"},
        {"", RP_ERR_PARSE, 0, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cmd = 0;
        int rc = rp__control_parse(cases[i].in, strlen(cases[i].in), &cmd, err, sizeof err);
        assert_int_equal(rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(cmd, cases[i].cmd);
        else if (!strstr(err, cases[i].err))
            fail_msg("%s: error '%s' lacks '%s'", cases[i].in, err, cases[i].err);
    }
    /* A NUL inside the command's name is not "status". */
    static const char nul[] = "{\"cmd\":\"status\\u0000x\"}";
    assert_int_equal(rp__control_parse(nul, sizeof nul - 1, &cmd, err, sizeof err), RP_ERR_PARSE);

    /* A plugin command: the instance, the command object as compact text
     * and its "command" member for the log. */
    rp__control_request req;
    static const char plug[] =
        "{\"cmd\":\"plugin\",\"name\":\"scan\",\"command\":{ \"command\" : \"run\", "
        "\"args\":[\"/tmp\"]}}";
    assert_int_equal(rp__control_parse_request(plug, sizeof plug - 1, &req, err, sizeof err), 0);
    assert_int_equal(req.cmd, RP__CONTROL_PLUGIN);
    assert_string_equal(req.plugin, "scan");
    assert_string_equal(req.command_name, "run");
    assert_string_equal(req.command, "{\"command\":\"run\",\"args\":[\"/tmp\"]}");
    assert_int_equal(req.command_len, strlen(req.command));
    rp__control_request_clear(&req);
    /* rampartctl plugins enable NAME: the name alone. */
    static const char enable[] = "{\"cmd\":\"plugin-enable\",\"name\":\"chaos\"}";
    assert_int_equal(rp__control_parse_request(enable, sizeof enable - 1, &req, err, sizeof err),
                     0);
    assert_int_equal(req.cmd, RP__CONTROL_PLUGIN_ENABLE);
    assert_string_equal(req.plugin, "chaos");
    assert_null(req.command);
    rp__control_request_clear(&req);
    static const struct {
        const char *in, *err;
    } bad[] = {
        {"{\"cmd\":\"plugin-enable\"}", "\"name\" missing"},
        {"{\"cmd\":\"plugin-enable\",\"name\":\"a\",\"command\":{}}",
         "a plugin-enable request has \"cmd\" and \"name\""},
        {"{\"cmd\":\"plugin\",\"command\":{}}", "\"name\" missing"},
        {"{\"cmd\":\"plugin\",\"name\":\"\",\"command\":{}}", "\"name\" missing"},
        {"{\"cmd\":\"plugin\",\"name\":\"a b\",\"command\":{}}", "printable ASCII"},
        {"{\"cmd\":\"plugin\",\"name\":\"a\",\"command\":[]}", "not a JSON object"},
        {"{\"cmd\":\"plugin\",\"name\":\"a\"}", "\"command\" missing"},
        {"{\"cmd\":\"plugin\",\"name\":\"a\",\"command\":{},\"x\":1}", "unknown member \"x\""},
        {"{\"cmd\":\"status\",\"name\":\"a\"}", "unknown member \"name\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&req, 0x55, sizeof req);
        assert_int_equal(
            rp__control_parse_request(bad[i].in, strlen(bad[i].in), &req, err, sizeof err),
            RP_ERR_PARSE);
        assert_null(req.command); /* cleared: nothing to free */
        if (!strstr(err, bad[i].err))
            fail_msg("%s: error '%s' lacks '%s'", bad[i].in, err, bad[i].err);
    }
}

static void test_socket_mode_and_removal(void **state)
{
    struct fixture *f = *state;
    char path[512];
    struct stat st;
    assert_non_null(tu_path(path, sizeof path, f->dir, RP__CONTROL_SOCKET));
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    rp__control_destroy(f->ctl);
    f->ctl = NULL;
    assert_int_equal(lstat(path, &st), -1);
    /* Anything but a socket at the name is not replaced. */
    assert_int_equal(tu_write(path, "x"), 0);
    rp__control_opts o = {
        .loop = f->loop, .dir = f->d, .ops = {fake_status, fake_plugins, fake_audit, f}};
    char why[512] = "";
    assert_int_equal(rp__control_create(&o, &f->ctl, why, sizeof why), RP_ERR_EXISTS);
    assert_non_null(strstr(why, "not a socket"));
    assert_null(f->ctl);
}

static void test_replies_in_order(void **state)
{
    struct fixture *f = *state;
    int fd = client(f);
    send_str(fd, "{\"cmd\":\"status\"}\n{\"cmd\":\"plugins\"}\n{\"cmd\":\"nope\"}\n");
    char buf[4096];
    assert_true(read_line(f, fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "{\"ok\":true,\"status\":{\"state\":\"ok\"}}\n"));
    char *rest = strchr(buf, '\n') + 1;
    if (!strchr(rest, '\n'))
        assert_true(read_line(f, fd, rest, sizeof buf - (size_t)(rest - buf)) > 0);
    assert_non_null(strstr(rest, "{\"ok\":true,\"plugins\":[{\"name\":\"synthetic\"}]}\n"));
    rest = strchr(rest, '\n') + 1;
    if (!strchr(rest, '\n'))
        assert_true(read_line(f, fd, rest, sizeof buf - (size_t)(rest - buf)) > 0);
    assert_non_null(strstr(rest, "\"ok\":false"));
    assert_non_null(strstr(rest, "unknown command"));
    rp__control_stats st;
    rp__control_get_stats(f->ctl, &st);
    assert_int_equal(st.requests, 3);
    assert_int_equal(st.bad_requests, 1);
    assert_int_equal(f->audits, 0); /* nothing changed: no audit */
    close(fd);
}

static void test_oversized_request(void **state)
{
    struct fixture *f = *state;
    int fd = client(f);
    size_t n = RP__CONTROL_MAX_REQUEST + 100;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    big[0] = '{';
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, big + off, n - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        pump(f, 1);
    }
    free(big);
    char buf[512];
    assert_true(read_line(f, fd, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "request longer than the cap of 65536 bytes"));
    /* Then closed. */
    assert_int_equal(read_line(f, fd, buf + strlen(buf), sizeof buf - strlen(buf)), -1);
    rp__control_stats st;
    rp__control_get_stats(f->ctl, &st);
    assert_int_equal(st.oversized, 1);
    close(fd);
}

static void test_busy_and_deadline(void **state)
{
    struct fixture *f = *state;
    int a = client(f), b = client(f), c = client(f);
    char buf[512];
    assert_true(read_line(f, c, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "busy: too many control connections"));
    close(c);
    rp__control_stats st;
    rp__control_get_stats(f->ctl, &st);
    assert_int_equal(st.accepted, 2);
    assert_int_equal(st.refused_busy, 1);
    /* The two idle ones are closed at their deadline (300 ms). */
    int64_t t0 = rp__os_monotonic_ns();
    assert_int_equal(read_line(f, a, buf, sizeof buf), -1);
    assert_int_equal(read_line(f, b, buf, sizeof buf), -1);
    int64_t ms = (rp__os_monotonic_ns() - t0) / 1000000;
    assert_true(ms >= 150 && ms < 2000);
    rp__control_get_stats(f->ctl, &st);
    assert_int_equal(st.timeouts, 2);
    close(a);
    close(b);
    /* The slots are free again. */
    int d = client(f);
    send_str(d, "{\"cmd\":\"status\"}\n");
    assert_true(read_line(f, d, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "\"ok\":true"));
    close(d);
}

static void test_reload_handoff(void **state)
{
    struct fixture *f = *state;
    /* The server asks for the reload with the agent's own reload signal:
     * blocked here, as in the agent, and taken by rp__os_signal_wait. */
    assert_int_equal(rp__os_signals_block(), 0);
    int fd = client(f);
    send_str(fd, "{\"cmd\":\"reload\"}\n");
    pump(f, 3);
    enum rp__os_signal sig = RP__OS_SIG_NONE;
    assert_int_equal(rp__os_signal_wait(2000, &sig), 0);
    assert_int_equal(sig, RP__OS_SIG_RELOAD);
    uint64_t seq = rp__control_reload_begin(f->ctl);
    assert_int_equal(seq, 1);
    /* A request after the reload began is not answered by it. */
    int late = client(f);
    send_str(late, "{\"cmd\":\"reload\"}\n");
    pump(f, 3);
    rp__control_reload_done(f->ctl, seq, RP_ERR_CONFIG, "agent.log_level: expected one of");
    char buf[512];
    assert_true(read_line(f, fd, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"ok\":false,\"error\":\"agent.log_level: expected one of\"}\n");
    assert_int_equal(f->audits, 1);
    assert_string_equal(f->audit_action, "control-reload");
    assert_string_equal(f->audit_outcome, "failure");
    assert_int_equal(recv(late, buf, sizeof buf, MSG_DONTWAIT), -1);
    assert_int_equal(rp__os_signal_wait(2000, &sig), 0);
    assert_int_equal(sig, RP__OS_SIG_RELOAD);
    seq = rp__control_reload_begin(f->ctl);
    rp__control_reload_done(f->ctl, seq, 0, NULL);
    assert_true(read_line(f, late, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"ok\":true,\"result\":\"configuration reloaded\"}\n");
    assert_int_equal(f->audits, 2);
    assert_string_equal(f->audit_outcome, "success");
    close(fd);
    close(late);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_socket_mode_and_removal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replies_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_and_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_handoff, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
