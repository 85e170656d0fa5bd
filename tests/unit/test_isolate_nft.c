/*
 * tests/unit/test_isolate_nft.c - responder_isolate's table
 * (plugins/responder_isolate/nft.h) on real nftables, only inside network
 * namespaces this test makes, never on the machine's own interfaces.
 *
 * Each privileged test moves this program into a new network namespace of
 * its own (unshare) and forks a peer that moves into another; a veth pair
 * made inside the first joins them, and the addresses (192.0.2.0/24 and
 * 2001:db8::/64, documentation ranges) exist only there. The peer echoes on
 * two addresses per family (P1 .2 / ::2, P2 .3 / ::3) and ports 7000 and
 * 7001, and on request connects back to this side. The namespaces have no
 * name: they vanish with their last process, so nothing is left behind even
 * when a test fails or is killed (the peer dies with this program through
 * PR_SET_PDEATHSIG). Every wait is bounded in time.
 *
 * The other tests check the parser and the policy list (no privilege).
 */
#define _GNU_SOURCE
#include "allow.h"
#include "nft.h"

#include <rampart/plugin.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include <nftables/libnftables.h>

#include <cmocka.h>

#include "testutil.h"

#define SELF4   "192.0.2.1"
#define P1_4    "192.0.2.2"
#define P2_4    "192.0.2.3"
#define SELF6   "2001:db8::1"
#define P1_6    "2001:db8::2"
#define P2_6    "2001:db8::3"
#define PORT_A  7000
#define PORT_B  7001
#define PORT_IN 7100 /* this side's listener, for connections in */
#define IF_SELF "rpric0"
#define IF_PEER "rpric1"

/* Connection outcomes. */
enum { CONN_OK = 'o', CONN_FAILED = 'x', CONN_TIMEOUT = 't' };

static pid_t peer_pid = -1;
static int peer_ctl = -1; /* this side of the socketpair to the peer */

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Runs a program (ip) with a bounded wait; its exit status, or -1. */
static int run_prog(char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            dup2(devnull, STDOUT_FILENO);
        execvp(argv[0], argv);
        _exit(127);
    }
    for (int i = 0; i < 500; i++) {
        int status = 0;
        pid_t got = waitpid(pid, &status, WNOHANG);
        if (got == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

#define IP(...)                                                                                    \
    do {                                                                                           \
        char *const ip_argv_[] = {"ip", __VA_ARGS__, NULL};                                        \
        if (run_prog(ip_argv_) != 0)                                                               \
            return -1;                                                                             \
    } while (0)

/* A socket address from text. */
static socklen_t sockaddr_of(const char *addr, uint16_t port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        return sizeof *sin;
    }
    if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        return sizeof *sin6;
    }
    return 0;
}

/* Connects (from src when given) to addr:port within wait_ms: CONN_OK with
 * the socket in *fd, else CONN_FAILED (an error came back) or CONN_TIMEOUT. */
static int connect_to(const char *src, const char *addr, uint16_t port, long wait_ms, int *fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sockaddr_of(addr, port, &ss);
    *fd = -1;
    if (len == 0)
        return CONN_FAILED;
    int s = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return CONN_FAILED;
    if (src) {
        struct sockaddr_storage from;
        socklen_t flen = sockaddr_of(src, 0, &from);
        if (flen == 0 || bind(s, (struct sockaddr *)&from, flen) != 0) {
            close(s);
            return CONN_FAILED;
        }
    }
    if (connect(s, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        close(s);
        return CONN_FAILED;
    }
    struct pollfd pfd = {.fd = s, .events = POLLOUT};
    int n = poll(&pfd, 1, (int)wait_ms);
    int soerr = 0;
    socklen_t elen = sizeof soerr;
    if (n == 0) {
        close(s);
        return CONN_TIMEOUT;
    }
    if (n < 0 || getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0 || soerr != 0) {
        close(s);
        return CONN_FAILED;
    }
    *fd = s;
    return CONN_OK;
}

/* Sends one byte and waits for its echo: 0, or the errno that ended the
 * session, or ETIMEDOUT when nothing came back within wait_ms. */
static int echo_once(int fd, long wait_ms)
{
    char c = 'e', got = 0;
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
        return errno;
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n = poll(&pfd, 1, (int)wait_ms);
    if (n == 0)
        return ETIMEDOUT;
    ssize_t r = recv(fd, &got, 1, 0);
    if (r == 1)
        return got == c ? 0 : EPROTO;
    return r == 0 ? EPIPE : errno;
}

/* A connection that works: it opens and echoes. */
static int works(const char *addr, uint16_t port)
{
    int fd;
    int rc = connect_to(NULL, addr, port, 3000, &fd);
    if (rc != CONN_OK)
        return 0;
    rc = echo_once(fd, 3000);
    close(fd);
    return rc == 0;
}

/* A connection refused at once (the table's reset), not one that hangs. */
static void assert_refused_at_once(const char *addr, uint16_t port)
{
    int fd;
    long t0 = now_ms();
    int rc = connect_to(NULL, addr, port, 3000, &fd);
    long took = now_ms() - t0;
    if (fd >= 0)
        close(fd);
    if (rc != CONN_FAILED || took > 1000)
        fail_msg("connect to [%s]:%u: %s after %ld ms, expected refused at once", addr, port,
                 rc == CONN_OK        ? "connected"
                 : rc == CONN_TIMEOUT ? "no answer"
                                      : "refused",
                 took);
}

#define assert_works(addr, port)                                                                   \
    do {                                                                                           \
        if (!works((addr), (port)))                                                                \
            fail_msg("connect to [%s]:%u and echo: failed, expected to work", (addr), (port));     \
    } while (0)

/* ---- the peer: a process in its own network namespace ---- */

struct peer_req {
    char src[INET6_ADDRSTRLEN];
    char dst[INET6_ADDRSTRLEN];
    uint16_t port;
};

static int peer_listen(uint16_t port)
{
    int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int off = 0, on = 1;
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    if (s < 0 || setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off) != 0 ||
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        bind(s, (struct sockaddr *)&any, sizeof any) != 0 || listen(s, 16) != 0)
        return -1;
    return s;
}

static int peer_setup(void)
{
    IP("link", "set", "lo", "up");
    IP("addr", "add", P1_4 "/24", "dev", IF_PEER);
    IP("addr", "add", P2_4 "/24", "dev", IF_PEER);
    IP("-6", "addr", "add", P1_6 "/64", "dev", IF_PEER, "nodad");
    IP("-6", "addr", "add", P2_6 "/64", "dev", IF_PEER, "nodad");
    IP("link", "set", IF_PEER, "up");
    return 0;
}

/* Echoes on both ports until the control socket closes; on a request on it
 * connects back and answers with the outcome. */
static void peer_serve(int ctl, int la, int lb)
{
    enum { MAXFD = 64 };
    struct pollfd fds[MAXFD];
    int n = 3;
    fds[0] = (struct pollfd){.fd = ctl, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = la, .events = POLLIN};
    fds[2] = (struct pollfd){.fd = lb, .events = POLLIN};
    for (;;) {
        if (poll(fds, (nfds_t)n, 1000) < 0 && errno != EINTR)
            _exit(2);
        if (fds[0].revents) {
            struct peer_req req;
            if (recv(ctl, &req, sizeof req, MSG_WAITALL) != (ssize_t)sizeof req)
                _exit(0);
            req.src[sizeof req.src - 1] = req.dst[sizeof req.dst - 1] = '\0';
            int fd;
            char out = (char)connect_to(req.src, req.dst, req.port, 1000, &fd);
            if (fd >= 0)
                close(fd);
            if (send(ctl, &out, 1, MSG_NOSIGNAL) != 1)
                _exit(0);
        }
        for (int i = 1; i < 3; i++) {
            if ((fds[i].revents & POLLIN) && n < MAXFD) {
                int c = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
                if (c >= 0)
                    fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
            }
        }
        for (int i = 3; i < n; i++) {
            if (!fds[i].revents)
                continue;
            char buf[256];
            ssize_t r = recv(fds[i].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r > 0 && send(fds[i].fd, buf, (size_t)r, MSG_NOSIGNAL) == r)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            close(fds[i].fd);
            fds[i--] = fds[--n];
        }
    }
}

static void peer_main(int ctl, pid_t parent)
{
    char c;
    /* The peer never outlives the test, whatever ends it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    alarm(110);
    if (unshare(CLONE_NEWNET) != 0) {
        c = 'E';
        (void)!write(ctl, &c, 1);
        _exit(1);
    }
    c = 'u';
    if (write(ctl, &c, 1) != 1 || read(ctl, &c, 1) != 1 || c != 'c')
        _exit(1);
    int la = -1, lb = -1;
    if (peer_setup() == 0) {
        la = peer_listen(PORT_A);
        lb = peer_listen(PORT_B);
    }
    c = la >= 0 && lb >= 0 ? 'r' : 'E';
    if (write(ctl, &c, 1) != 1 || c != 'r')
        _exit(1);
    peer_serve(ctl, la, lb);
}

/* Reads one byte from the peer within wait_ms; 0 on timeout or end. */
static char peer_read(long wait_ms)
{
    struct pollfd pfd = {.fd = peer_ctl, .events = POLLIN};
    char c = 0;
    if (poll(&pfd, 1, (int)wait_ms) == 1 && read(peer_ctl, &c, 1) == 1)
        return c;
    return 0;
}

/* Asks the peer to connect from src to this side's dst (PORT_IN). */
static char peer_connect_in(const char *src, const char *dst)
{
    struct peer_req req;
    memset(&req, 0, sizeof req);
    snprintf(req.src, sizeof req.src, "%s", src);
    snprintf(req.dst, sizeof req.dst, "%s", dst);
    req.port = PORT_IN;
    if (send(peer_ctl, &req, sizeof req, MSG_NOSIGNAL) != (ssize_t)sizeof req)
        return 0;
    return peer_read(3000);
}

static int self_setup(pid_t pid)
{
    char pidtext[16];
    snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
    IP("link", "set", "lo", "up");
    /* Made inside this namespace, its other end straight in the peer's:
     * the pair never exists in the machine's own namespace. */
    IP("link", "add", IF_SELF, "type", "veth", "peer", "name", IF_PEER, "netns", pidtext);
    IP("addr", "add", SELF4 "/24", "dev", IF_SELF);
    IP("-6", "addr", "add", SELF6 "/64", "dev", IF_SELF, "nodad");
    IP("link", "set", IF_SELF, "up");
    return 0;
}

static void peer_stop(void)
{
    if (peer_ctl >= 0)
        close(peer_ctl);
    peer_ctl = -1;
    if (peer_pid > 0) {
        kill(peer_pid, SIGKILL);
        waitpid(peer_pid, NULL, 0);
    }
    peer_pid = -1;
}

/* Moves this program into a new network namespace joined to a new peer;
 * skips when that cannot be done here. */
static void ns_up(void)
{
    int sv[2];
    if (geteuid() != 0)
        tu_skip("network namespaces and nftables need root");
    if (unshare(CLONE_NEWNET) != 0)
        tu_skip("no network namespaces here (unshare CLONE_NEWNET failed)");
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t parent = getpid();
    peer_pid = fork();
    assert_true(peer_pid >= 0);
    if (peer_pid == 0) {
        close(sv[0]);
        peer_main(sv[1], parent);
        _exit(0);
    }
    close(sv[1]);
    peer_ctl = sv[0];
    char c = peer_read(5000);
    if (c == 'E')
        tu_skip("the peer cannot make its network namespace");
    assert_int_equal(c, 'u');
    if (self_setup(peer_pid) != 0)
        fail_msg("ip could not make the veth pair in the test namespaces");
    c = 'c';
    assert_int_equal(write(peer_ctl, &c, 1), 1);
    if (peer_read(10000) != 'r')
        fail_msg("the peer did not get its addresses and listeners up within 10 s");
}

static int ns_down(void **state)
{
    (void)state;
    peer_stop();
    return 0;
}

/* ---- policies and listings ---- */

static void add_peer(struct ri_policy *p, const char *text, int role, uint8_t proto, uint16_t port)
{
    struct ri_allow a;
    char err[256] = "";
    if (ri_allow_parse(text, role, &a, err, sizeof err) != 0)
        fail_msg("parse %s: %s", text, err);
    a.proto = proto;
    a.port = port;
    assert_int_equal(ri_policy_add(p, &a), 0);
}

static void apply_ok(const struct ri_policy *p)
{
    char err[512] = "";
    int rc = ri_nft_apply(p, err, sizeof err);
    if (rc != 0)
        fail_msg("ri_nft_apply: %s: %s", rp_errname(rc), err);
}

static void refresh_ok(const struct ri_policy *p)
{
    char err[512] = "";
    int rc = ri_nft_refresh(p, err, sizeof err);
    if (rc != 0)
        fail_msg("ri_nft_refresh: %s: %s", rp_errname(rc), err);
}

static int present(void)
{
    char err[512] = "";
    int here = -1;
    int rc = ri_nft_present(&here, err, sizeof err);
    if (rc != 0)
        fail_msg("ri_nft_present: %s: %s", rp_errname(rc), err);
    return here;
}

/* What nft lists for cmd (with handles), from malloc; the test frees it. */
static char *nft_list(const char *cmd)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    assert_non_null(ctx);
    nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_HANDLE);
    assert_int_equal(nft_ctx_buffer_output(ctx), 0);
    assert_int_equal(nft_ctx_buffer_error(ctx), 0);
    char *out = NULL;
    if (nft_run_cmd_from_buffer(ctx, cmd) == 0)
        out = strdup(nft_ctx_get_output_buffer(ctx));
    else
        out = strdup("");
    nft_ctx_free(ctx);
    assert_non_null(out);
    return out;
}

/* The kernel's handle of the table: a new one each time it is added. */
static long table_handle(void)
{
    char *out = nft_list("list table inet rampart_isolate");
    const char *h = strstr(out, "# handle ");
    long v = h ? strtol(h + 9, NULL, 10) : -1;
    free(out);
    return v;
}

/* ---- privileged: the table in the test's namespaces ---- */

static void test_privileged_apply_cuts_then_allows(void **state)
{
    (void)state;
    static struct ri_policy p;
    ns_up();
    assert_works(P1_4, PORT_A);
    assert_works(P1_6, PORT_A);
    assert_int_equal(present(), 0);

    memset(&p, 0, sizeof p);
    apply_ok(&p);
    assert_int_equal(present(), 1);
    assert_refused_at_once(P1_4, PORT_A);
    assert_refused_at_once(P1_6, PORT_A);

    /* P1 allowed (any port), P2 not. The neighbour caches are emptied so
     * IPv6 must find P1 again through the table. */
    add_peer(&p, P1_4, RI_ROLE_BACKEND, 0, 0);
    add_peer(&p, P1_6, RI_ROLE_BACKEND, 0, 0);
    apply_ok(&p);
    char *const flush[] = {"ip", "neigh", "flush", "dev", IF_SELF, NULL};
    assert_int_equal(run_prog(flush), 0);
    assert_works(P1_4, PORT_A);
    assert_works(P1_6, PORT_A);
    assert_works(P1_4, PORT_B);
    assert_works(P1_6, PORT_B);
    assert_refused_at_once(P2_4, PORT_A);
    assert_refused_at_once(P2_6, PORT_A);

    /* P1 on TCP port 7000 only. */
    memset(&p, 0, sizeof p);
    add_peer(&p, P1_4, RI_ROLE_BACKEND, IPPROTO_TCP, PORT_A);
    add_peer(&p, P1_6, RI_ROLE_BACKEND, IPPROTO_TCP, PORT_A);
    apply_ok(&p);
    assert_works(P1_4, PORT_A);
    assert_works(P1_6, PORT_A);
    assert_refused_at_once(P1_4, PORT_B);
    assert_refused_at_once(P1_6, PORT_B);

    /* A prefix lets in every address under it. */
    memset(&p, 0, sizeof p);
    add_peer(&p, "192.0.2.0/24", RI_ROLE_EXTRA, 0, 0);
    add_peer(&p, "2001:db8::/64", RI_ROLE_EXTRA, 0, 0);
    apply_ok(&p);
    assert_works(P2_4, PORT_A);
    assert_works(P2_6, PORT_A);
}

static void test_privileged_admin_opens_in(void **state)
{
    (void)state;
    static struct ri_policy p;
    ns_up();
    int l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int off = 0;
    struct sockaddr_in6 any = {.sin6_family = AF_INET6, .sin6_port = htons(PORT_IN)};
    assert_true(l >= 0);
    assert_int_equal(setsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off), 0);
    assert_int_equal(bind(l, (struct sockaddr *)&any, sizeof any), 0);
    assert_int_equal(listen(l, 16), 0);
    assert_int_equal(peer_connect_in(P1_4, SELF4), CONN_OK);

    /* A backend may be reached, not reach in. */
    memset(&p, 0, sizeof p);
    add_peer(&p, P1_4, RI_ROLE_BACKEND, 0, 0);
    add_peer(&p, P1_6, RI_ROLE_BACKEND, 0, 0);
    apply_ok(&p);
    assert_int_not_equal(peer_connect_in(P1_4, SELF4), CONN_OK);
    assert_int_not_equal(peer_connect_in(P1_6, SELF6), CONN_OK);

    /* The admin host opens connections in, and is reached on any port. */
    memset(&p, 0, sizeof p);
    add_peer(&p, P1_4, RI_ROLE_ADMIN, 0, 0);
    add_peer(&p, P1_6, RI_ROLE_ADMIN, 0, 0);
    apply_ok(&p);
    assert_int_equal(peer_connect_in(P1_4, SELF4), CONN_OK);
    assert_int_equal(peer_connect_in(P1_6, SELF6), CONN_OK);
    assert_int_not_equal(peer_connect_in(P2_4, SELF4), CONN_OK);
    assert_int_not_equal(peer_connect_in(P2_6, SELF6), CONN_OK);
    assert_works(P1_4, PORT_B);
    assert_works(P1_6, PORT_B);
    close(l);
}

static void test_privileged_established_reset_by_table(void **state)
{
    (void)state;
    static struct ri_policy p;
    int s1, s2, s2v6;
    ns_up();
    assert_int_equal(connect_to(NULL, P1_4, PORT_A, 3000, &s1), CONN_OK);
    assert_int_equal(connect_to(NULL, P2_4, PORT_A, 3000, &s2), CONN_OK);
    assert_int_equal(connect_to(NULL, P2_6, PORT_A, 3000, &s2v6), CONN_OK);
    assert_int_equal(echo_once(s2, 3000), 0);
    assert_int_equal(echo_once(s2v6, 3000), 0);

    memset(&p, 0, sizeof p);
    add_peer(&p, P1_4, RI_ROLE_BACKEND, 0, 0);
    apply_ok(&p);
    /* The next packet of a session the table does not allow resets it. */
    long t0 = now_ms();
    assert_int_equal(echo_once(s2, 3000), ECONNRESET);
    assert_int_equal(echo_once(s2v6, 3000), ECONNRESET);
    assert_true(now_ms() - t0 < 2000);
    assert_int_equal(echo_once(s1, 3000), 0);
    close(s1);
    close(s2);
    close(s2v6);
}

static void test_privileged_reset_sessions(void **state)
{
    (void)state;
    static struct ri_policy p;
    int s1, s1v6, s1v6b, s2, s2v6;
    char err[512] = "";
    uint32_t reset = 0;
    ns_up();
    assert_int_equal(connect_to(NULL, P1_4, PORT_A, 3000, &s1), CONN_OK);
    assert_int_equal(connect_to(NULL, P1_6, PORT_A, 3000, &s1v6), CONN_OK);
    assert_int_equal(connect_to(NULL, P1_6, PORT_B, 3000, &s1v6b), CONN_OK);
    assert_int_equal(connect_to(NULL, P2_4, PORT_A, 3000, &s2), CONN_OK);
    assert_int_equal(connect_to(NULL, P2_6, PORT_B, 3000, &s2v6), CONN_OK);

    memset(&p, 0, sizeof p);
    add_peer(&p, P1_4, RI_ROLE_BACKEND, 0, 0);
    add_peer(&p, P1_6, RI_ROLE_BACKEND, IPPROTO_TCP, PORT_A);
    apply_ok(&p);
    int rc = ri_reset_sessions(&p, &reset, err, sizeof err);
    if (rc == RP_ERR_UNSUPPORTED)
        tu_skip("this kernel cannot destroy sockets (no CONFIG_INET_DIAG_DESTROY)");
    if (rc != 0)
        fail_msg("ri_reset_sessions: %s: %s", rp_errname(rc), err);
    /* P2 on both families, and P1 over IPv6 on the port it is not allowed. */
    assert_int_equal(reset, 3);

    /* Reset now, before any sends anything: the owner sees it at once. */
    int gone[3] = {s2, s2v6, s1v6b};
    for (int i = 0; i < 3; i++) {
        struct pollfd pfd = {.fd = gone[i], .events = POLLIN};
        int soerr = 0;
        socklen_t len = sizeof soerr;
        assert_int_equal(poll(&pfd, 1, 0), 1);
        assert_int_equal(getsockopt(gone[i], SOL_SOCKET, SO_ERROR, &soerr, &len), 0);
        assert_int_equal(soerr, ECONNABORTED);
    }
    assert_int_equal(echo_once(s1, 3000), 0);
    assert_int_equal(echo_once(s1v6, 3000), 0);

    /* Nothing left to reset. */
    assert_int_equal(ri_reset_sessions(&p, &reset, err, sizeof err), 0);
    assert_int_equal(reset, 0);
    close(s1);
    close(s1v6);
    close(s1v6b);
    close(s2);
    close(s2v6);
}

static void test_privileged_refresh_swaps_sets(void **state)
{
    (void)state;
    static struct ri_policy p1, p2;
    char err[512] = "";
    ns_up();
    memset(&p1, 0, sizeof p1);
    add_peer(&p1, P1_4, RI_ROLE_BACKEND, 0, 0);
    add_peer(&p1, P1_6, RI_ROLE_BACKEND, IPPROTO_TCP, PORT_A);
    memset(&p2, 0, sizeof p2);
    add_peer(&p2, P2_4, RI_ROLE_BACKEND, IPPROTO_TCP, PORT_A);
    add_peer(&p2, P2_6, RI_ROLE_BACKEND, 0, 0);

    /* No table: nothing to refresh, and none made. */
    assert_int_equal(ri_nft_refresh(&p1, err, sizeof err), RP_ERR_NOTFOUND);
    assert_true(strstr(err, "rampart_isolate") != NULL);
    assert_int_equal(present(), 0);

    apply_ok(&p1);
    long handle = table_handle();
    assert_true(handle > 0);
    assert_works(P1_4, PORT_A);
    assert_refused_at_once(P2_4, PORT_A);

    refresh_ok(&p2);
    assert_works(P2_4, PORT_A);
    assert_works(P2_6, PORT_B);
    assert_refused_at_once(P1_4, PORT_A);
    assert_refused_at_once(P1_6, PORT_A);
    assert_refused_at_once(P2_4, PORT_B);

    refresh_ok(&p1);
    assert_works(P1_4, PORT_B);
    assert_works(P1_6, PORT_A);
    assert_refused_at_once(P2_4, PORT_A);
    assert_refused_at_once(P2_6, PORT_A);
    /* The same table all along: only the sets changed. */
    assert_int_equal(table_handle(), handle);
}

static void test_privileged_bad_policy_keeps_table(void **state)
{
    (void)state;
    static struct ri_policy good, bad;
    char err[512] = "";
    ns_up();
    memset(&good, 0, sizeof good);
    add_peer(&good, P1_4, RI_ROLE_BACKEND, 0, 0);
    apply_ok(&good);
    long handle = table_handle();
    char *before = nft_list("list table inet rampart_isolate");

    /* A peer that passes no check (ri_policy_add would refuse it). */
    bad = good;
    bad.allow[1] = good.allow[0];
    bad.allow[1].prefix_bits = 0;
    bad.n_allow = 2;
    assert_int_equal(ri_nft_apply(&bad, err, sizeof err), RP_ERR_INVAL);
    assert_true(strstr(err, "prefix") != NULL);
    err[0] = '\0';
    assert_int_equal(ri_nft_refresh(&bad, err, sizeof err), RP_ERR_INVAL);
    assert_true(err[0] != '\0');
    bad.n_allow = RI_ALLOW_MAX + 1;
    assert_int_equal(ri_nft_apply(&bad, err, sizeof err), RP_ERR_INVAL);

    /* libnftables itself failing: without CAP_NET_ADMIN (a child that
     * dropped root) the kernel refuses; the error is quoted in err and
     * nothing reaches stdout or stderr. */
    char dir[64], outpath[96];
    assert_int_equal(tu_mkdtemp("isolate", dir, sizeof dir), 0);
    assert_non_null(tu_path(outpath, sizeof outpath, dir, "out"));
    int sv[2];
    assert_int_equal(pipe(sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char msg[512] = "";
        if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0 ||
            setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
            _exit(3);
        int rc = ri_nft_apply(&good, msg, sizeof msg);
        fflush(NULL);
        (void)!write(sv[1], msg, strlen(msg) + 1);
        _exit(rc == RP_ERR_PERM ? 0 : rc == 0 ? 1 : 2);
    }
    close(sv[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char msg[512] = "";
    ssize_t got = read(sv[0], msg, sizeof msg - 1);
    close(sv[0]);
    assert_true(got > 0);
    msg[got] = '\0';
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("unprivileged apply: exit %d, err \"%s\", expected RP_ERR_PERM",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1, msg);
    assert_true(strstr(msg, "Operation not permitted") != NULL);
    char *printed = tu_read(outpath);
    assert_non_null(printed);
    assert_string_equal(printed, "");
    free(printed);
    tu_rm_rf(dir);

    /* The table is the one applied before, rules and sets alike. */
    assert_int_equal(table_handle(), handle);
    char *after = nft_list("list table inet rampart_isolate");
    assert_string_equal(before, after);
    free(before);
    free(after);
    assert_works(P1_4, PORT_A);
    assert_refused_at_once(P2_4, PORT_A);
}

static void test_privileged_apply_twice_one_table(void **state)
{
    (void)state;
    static struct ri_policy p;
    ns_up();
    memset(&p, 0, sizeof p);
    add_peer(&p, P1_4, RI_ROLE_BACKEND, 0, 0);
    apply_ok(&p);
    long first = table_handle();
    memset(&p, 0, sizeof p);
    add_peer(&p, P2_4, RI_ROLE_BACKEND, 0, 0);
    apply_ok(&p);
    char *tables = nft_list("list tables");
    assert_int_equal(tu_count_lines_with(tables, "rampart_isolate"), 1);
    free(tables);
    /* Replaced, not merged: only the second policy's peer is allowed. */
    assert_int_not_equal(table_handle(), first);
    assert_works(P2_4, PORT_A);
    assert_refused_at_once(P1_4, PORT_A);
    assert_int_equal(present(), 1);
}

static void test_privileged_remove_restores(void **state)
{
    (void)state;
    static struct ri_policy p;
    char err[512] = "";
    ns_up();
    memset(&p, 0, sizeof p);
    apply_ok(&p);
    assert_int_equal(present(), 1);
    assert_refused_at_once(P1_4, PORT_A);
    assert_int_equal(ri_nft_remove(err, sizeof err), 0);
    assert_int_equal(present(), 0);
    assert_works(P1_4, PORT_A);
    assert_works(P1_6, PORT_A);
    assert_works(P2_4, PORT_B);
    /* Removing what is not there is not an error. */
    assert_int_equal(ri_nft_remove(err, sizeof err), 0);
    assert_int_equal(present(), 0);
    char *tables = nft_list("list tables");
    assert_int_equal(tu_count_lines_with(tables, "rampart_isolate"), 0);
    free(tables);
}

static void test_privileged_dhcp_rules(void **state)
{
    (void)state;
    static struct ri_policy p;
    static const char *const rules[] = {
        "udp sport 67 udp dport 68 accept",   "udp sport 68 udp dport 67 accept",
        "udp sport 547 udp dport 546 accept", "udp sport 546 udp dport 547 accept",
        "icmpv6 type nd-router-advert ip6",   "icmpv6 type nd-router-solicit ip6",
    };
    ns_up();
    memset(&p, 0, sizeof p);
    apply_ok(&p);
    char *out = nft_list("list table inet rampart_isolate");
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (strstr(out, rules[i]))
            fail_msg("without RI_POLICY_DHCP the table has \"%s\"", rules[i]);
    }
    free(out);
    p.flags = RI_POLICY_DHCP;
    apply_ok(&p);
    out = nft_list("list table inet rampart_isolate");
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!strstr(out, rules[i]))
            fail_msg("with RI_POLICY_DHCP the table lacks \"%s\":\n%s", rules[i], out);
    }
    free(out);
}

/* ---- no privilege: the parser and the policy list ---- */

static void test_parse_accepts(void **state)
{
    (void)state;
    struct ri_allow a;
    char err[256] = "";
    static const uint8_t v4[4] = {192, 0, 2, 7};
    assert_int_equal(ri_allow_parse("192.0.2.7", RI_ROLE_BACKEND, &a, err, sizeof err), 0);
    assert_int_equal(a.family, AF_INET);
    assert_memory_equal(a.addr, v4, 4);
    assert_int_equal(a.prefix_bits, 32);
    assert_int_equal(a.proto, 0);
    assert_int_equal(a.port, 0);
    assert_int_equal(a.role, RI_ROLE_BACKEND);

    assert_int_equal(ri_allow_parse("2001:db8::/64", RI_ROLE_EXTRA, &a, err, sizeof err), 0);
    assert_int_equal(a.family, AF_INET6);
    assert_int_equal(a.prefix_bits, 64);
    assert_int_equal(a.addr[0], 0x20);
    assert_int_equal(a.addr[1], 0x01);
    assert_int_equal(a.role, RI_ROLE_EXTRA);

    assert_int_equal(ri_allow_parse("10.0.0.0/8", RI_ROLE_ADMIN, &a, err, sizeof err), 0);
    assert_int_equal(a.prefix_bits, 8);
    assert_int_equal(ri_allow_parse("::1", RI_ROLE_DNS, &a, err, sizeof err), 0);
    assert_int_equal(a.prefix_bits, 128);
    assert_int_equal(ri_allow_parse("0.0.0.0/1", RI_ROLE_EXTRA, &a, err, sizeof err), 0);
    assert_int_equal(ri_allow_parse("2001:db8::1/128", RI_ROLE_EXTRA, &a, err, sizeof err), 0);
    assert_int_equal(ri_allow_parse("192.0.2.7/32", RI_ROLE_EXTRA, &a, err, sizeof err), 0);
}

static void test_parse_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "192.0.2",
        "192.0.2.7/0",
        "192.0.2.7/33",
        "2001:db8::/129",
        "192.0.2.7/",
        "192.0.2.7/08",
        "192.0.2.7/+8",
        "192.0.2.7/8/8",
        "192.0.2.7/ 8",
        " 192.0.2.7",
        "192.0.2.7 ",
        "10.0.0.1/8", /* host bits past the prefix */
        "2001:db8::1/64",
        "::ffff:192.0.2.7",
        "fe80::1%eth0",
        "192.0.2.256",
        "0x7f.1",
        "example.org",
        "192.0.2.7\n",
        "192.0.2.7; flush ruleset",
        "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb:cccc:dddd:eeee/64",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ri_allow a;
        char err[256] = "";
        memset(&a, 0x5a, sizeof a);
        int rc = ri_allow_parse(bad[i], RI_ROLE_BACKEND, &a, err, sizeof err);
        if (rc != RP_ERR_INVAL)
            fail_msg("\"%s\": %s, expected RP_ERR_INVAL", bad[i], rp_errname(rc));
        if (strncmp(err, "allowed peer: ", 14) != 0 || strlen(err) < 20)
            fail_msg("\"%s\": message \"%s\" does not say what is wrong", bad[i], err);
        /* The output is untouched on error. */
        assert_int_equal(a.family, 0x5a5a5a5a);
    }
    struct ri_allow a;
    char err[256] = "";
    assert_int_equal(ri_allow_parse(NULL, RI_ROLE_BACKEND, &a, err, sizeof err), RP_ERR_INVAL);
    assert_int_equal(ri_allow_parse("192.0.2.7", 0, &a, err, sizeof err), RP_ERR_INVAL);
    assert_true(strstr(err, "role") != NULL);
    assert_int_equal(ri_allow_parse("192.0.2.7", 99, &a, err, sizeof err), RP_ERR_INVAL);
    /* A message cut to a tiny buffer stays terminated; no buffer is fine. */
    char tiny[8];
    assert_int_equal(ri_allow_parse("nope", RI_ROLE_BACKEND, &a, tiny, sizeof tiny), RP_ERR_INVAL);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_int_equal(ri_allow_parse("nope", RI_ROLE_BACKEND, &a, NULL, 0), RP_ERR_INVAL);
}

static void test_policy_add_dedupes_and_caps(void **state)
{
    (void)state;
    static struct ri_policy p;
    struct ri_allow a;
    char err[256];
    memset(&p, 0, sizeof p);
    assert_int_equal(ri_allow_parse("192.0.2.7", RI_ROLE_BACKEND, &a, err, sizeof err), 0);
    assert_int_equal(ri_policy_add(&p, &a), 0);
    /* The same peer again, even with other bytes past its IPv4 address. */
    memset(a.addr + 4, 0xee, sizeof a.addr - 4);
    assert_int_equal(ri_policy_add(&p, &a), 0);
    assert_int_equal(p.n_allow, 1);
    /* Another port, protocol or role is another peer. */
    a.port = 443;
    assert_int_equal(ri_policy_add(&p, &a), 0);
    a.proto = IPPROTO_TCP;
    assert_int_equal(ri_policy_add(&p, &a), 0);
    a.role = RI_ROLE_PROXY;
    assert_int_equal(ri_policy_add(&p, &a), 0);
    assert_int_equal(p.n_allow, 4);

    memset(&p, 0, sizeof p);
    for (uint32_t i = 0; i < RI_ALLOW_MAX; i++) {
        memset(&a, 0, sizeof a);
        a.family = AF_INET6;
        a.prefix_bits = 128;
        a.role = RI_ROLE_EXTRA;
        a.addr[0] = 0x20;
        a.addr[14] = (uint8_t)(i >> 8);
        a.addr[15] = (uint8_t)i;
        assert_int_equal(ri_policy_add(&p, &a), 0);
    }
    assert_int_equal(p.n_allow, RI_ALLOW_MAX);
    a.addr[13] = 1;
    assert_int_equal(ri_policy_add(&p, &a), RP_ERR_FULL);
    /* A peer already there is still fine at the cap. */
    a.addr[13] = 0;
    assert_int_equal(ri_policy_add(&p, &a), 0);
    assert_int_equal(p.n_allow, RI_ALLOW_MAX);
}

static void test_policy_add_refuses_bad_peers(void **state)
{
    (void)state;
    static struct ri_policy p;
    struct ri_allow ok, a;
    char err[256];
    memset(&p, 0, sizeof p);
    assert_int_equal(ri_allow_parse("192.0.2.0/24", RI_ROLE_EXTRA, &ok, err, sizeof err), 0);
    a = ok;
    a.family = AF_UNIX;
    assert_int_equal(ri_policy_add(&p, &a), RP_ERR_INVAL);
    a = ok;
    a.prefix_bits = 0;
    assert_int_equal(ri_policy_add(&p, &a), RP_ERR_INVAL);
    a = ok;
    a.prefix_bits = 33;
    assert_int_equal(ri_policy_add(&p, &a), RP_ERR_INVAL);
    a = ok;
    a.addr[3] = 1; /* past the /24 */
    assert_int_equal(ri_policy_add(&p, &a), RP_ERR_INVAL);
    a = ok;
    a.proto = IPPROTO_ICMP;
    assert_int_equal(ri_policy_add(&p, &a), RP_ERR_INVAL);
    a = ok;
    a.role = 0;
    assert_int_equal(ri_policy_add(&p, &a), RP_ERR_INVAL);
    assert_int_equal(ri_policy_add(&p, NULL), RP_ERR_INVAL);
    assert_int_equal(ri_policy_add(NULL, &ok), RP_ERR_INVAL);
    assert_int_equal(p.n_allow, 0);
    assert_int_equal(ri_policy_add(&p, &ok), 0);
    assert_int_equal(p.n_allow, 1);
}

static void test_allow_covers(void **state)
{
    (void)state;
    struct ri_allow a;
    char err[256];
    uint8_t in[4] = {10, 1, 2, 3}, out[4] = {11, 0, 0, 0};
    assert_int_equal(ri_allow_parse("10.0.0.0/8", RI_ROLE_EXTRA, &a, err, sizeof err), 0);
    assert_true(ri_allow_covers(&a, AF_INET, in));
    assert_false(ri_allow_covers(&a, AF_INET, out));
    assert_false(ri_allow_covers(&a, AF_INET6, in));
    assert_int_equal(ri_allow_parse("2001:db8::/33", RI_ROLE_EXTRA, &a, err, sizeof err), 0);
    uint8_t v6in[16] = {0x20, 0x01, 0x0d, 0xb8, 0x7f}, v6out[16] = {0x20, 0x01, 0x0d, 0xb8, 0x80};
    assert_true(ri_allow_covers(&a, AF_INET6, v6in));
    assert_false(ri_allow_covers(&a, AF_INET6, v6out));
}

static void test_resolve_literals(void **state)
{
    (void)state;
    struct ri_allow out[4];
    uint32_t n = 99;
    char err[256] = "";
    assert_int_equal(
        ri_resolve("192.0.2.7", 443, IPPROTO_TCP, RI_ROLE_BACKEND, out, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].family, AF_INET);
    assert_int_equal(out[0].prefix_bits, 32);
    assert_int_equal(out[0].port, 443);
    assert_int_equal(out[0].proto, IPPROTO_TCP);
    assert_int_equal(out[0].role, RI_ROLE_BACKEND);
    assert_int_equal(ri_resolve("2001:db8::5", 0, 0, RI_ROLE_DNS, out, 4, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].family, AF_INET6);
    assert_int_equal(out[0].prefix_bits, 128);
    /* A name (from /etc/hosts): each address once, never more than cap. */
    assert_int_equal(ri_resolve("localhost", 53, 0, RI_ROLE_DNS, out, 4, &n, err, sizeof err), 0);
    assert_true(n >= 1 && n <= 4);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(ri_allow_check(&out[i], err, sizeof err), 0);
        for (uint32_t j = 0; j < i; j++)
            assert_false(out[i].family == out[j].family &&
                         memcmp(out[i].addr, out[j].addr, 16) == 0);
    }
    assert_int_equal(ri_resolve("localhost", 53, 0, RI_ROLE_DNS, out, 1, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ri_resolve("", 0, 0, RI_ROLE_DNS, out, 4, &n, err, sizeof err), RP_ERR_INVAL);
    assert_int_equal(ri_resolve("a b", 0, 0, RI_ROLE_DNS, out, 4, &n, err, sizeof err),
                     RP_ERR_INVAL);
    assert_int_equal(ri_resolve("192.0.2.7", 0, 0, RI_ROLE_DNS, out, 0, &n, err, sizeof err),
                     RP_ERR_INVAL);
    assert_int_equal(n, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_accepts),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_policy_add_dedupes_and_caps),
        cmocka_unit_test(test_policy_add_refuses_bad_peers),
        cmocka_unit_test(test_allow_covers),
        cmocka_unit_test(test_resolve_literals),
        cmocka_unit_test_teardown(test_privileged_apply_cuts_then_allows, ns_down),
        cmocka_unit_test_teardown(test_privileged_admin_opens_in, ns_down),
        cmocka_unit_test_teardown(test_privileged_established_reset_by_table, ns_down),
        cmocka_unit_test_teardown(test_privileged_reset_sessions, ns_down),
        cmocka_unit_test_teardown(test_privileged_refresh_swaps_sets, ns_down),
        cmocka_unit_test_teardown(test_privileged_bad_policy_keeps_table, ns_down),
        cmocka_unit_test_teardown(test_privileged_apply_twice_one_table, ns_down),
        cmocka_unit_test_teardown(test_privileged_remove_restores, ns_down),
        cmocka_unit_test_teardown(test_privileged_dhcp_rules, ns_down),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
