/*
 * tests/unit/test_http.c - the HTTPS client (core/output/http.c) against a real
 * nginx on 127.0.0.1 that this test starts itself, with a CA, server and
 * client certificates it makes with openssl in a temporary folder.
 *
 * nginx and openssl are required (tools/deps.sh installs nginx-light and
 * openssl for tests): without them the group set-up fails, and so does the
 * test. nginx runs as a child in the foreground (master_process off), is
 * killed by its PID at the end, and dies with this process if it crashes
 * (PR_SET_PDEATHSIG). Every wait is bounded.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "output/http.h"
#include "output/retry.h"
#include "version.h"

#include "testutil.h"

#include <rampart/plugin.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char dir[PATH_MAX];
static int port_main, port_mtls, port_wrongname, port_blackhole;
static int blackhole_fd = -1;
static pid_t nginx_pid = -1;
static char server_pin[128]; /* sha256//... of the server key */
static char wrong_pin[128];  /* sha256//... of the CA key */

static const char *tmp_path(const char *name)
{
    /* A small ring, so that a few paths can be alive at once. */
    static char ring[8][PATH_MAX];
    static unsigned next;
    char *buf = ring[next++ % 8];
    if (!tu_path(buf, PATH_MAX, dir, name))
        fail_msg("path too long: %s/%s", dir, name);
    return buf;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- child processes ------------------------------------------------------- */

/* execvp, then the usual sbin/bin folders: ctest's PATH may lack /usr/sbin. */
static void exec_tool(char *const argv[])
{
    execvp(argv[0], argv);
    const char *dirs[] = {"/usr/sbin/", "/usr/bin/", "/sbin/", "/bin/"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s%s", dirs[i], argv[0]);
        execv(p, argv);
    }
}

/* Runs a tool in dir with output appended to dir/tools.log; waits at most
 * timeout_ms. Returns its exit status, or -1. */
static int run_tool(char *const argv[], int timeout_ms)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(tmp_path("tools.log"), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (chdir(dir) != 0)
            _exit(126);
        exec_tool(argv);
        _exit(127);
    }
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (r < 0 || now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        sleep_ms(5);
    }
}

#define TOOL(...)                                                                                  \
    do {                                                                                           \
        char *const argv_[] = {__VA_ARGS__, NULL};                                                 \
        if (run_tool(argv_, 20000) != 0) {                                                         \
            print_file("tools.log");                                                               \
            fprintf(stderr, "test_http: %s failed\n", argv_[0]);                                   \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

static void print_file(const char *name)
{
    char *text = tu_read(tmp_path(name));
    if (text) {
        fprintf(stderr, "---- %s ----\n%s\n----\n", name, text);
        free(text);
    }
}

/* A port nothing listens on right now (bound, read, closed). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* A listener that never accepts: connections complete in the kernel's
 * backlog and then nothing is ever said. nginx proxies /slow to it. */
static int open_blackhole(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* ---- certificates ------------------------------------------------------------ */

static int base64_file(const char *name, char *out, size_t outlen)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    FILE *f = fopen(tmp_path(name), "rb");
    if (!f)
        return -1;
    unsigned char in[64];
    size_t n = fread(in, 1, sizeof in, f);
    fclose(f);
    if (n != 32)
        return -1;
    size_t o = 0;
    o += (size_t)snprintf(out, outlen, "sha256//");
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        if (o + 5 > outlen)
            return -1;
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return 0;
}

/* A CA, a server certificate for 127.0.0.1 and a client certificate signed
 * by it; a second, unrelated CA with its own client certificate; the SHA-256
 * pins of the server key and of the CA key. EC P-256 keys: fast to make. */
static int make_certs(void)
{
    char *ec = "ec_paramgen_curve:prime256v1";
    TOOL("openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-keyout",
         "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=rampart-test-ca");
    TOOL("openssl", "req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-keyout",
         "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=rampart-other-ca");
    if (tu_write(tmp_path("server.ext"),
                 "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n") ||
        tu_write(tmp_path("client.ext"), "extendedKeyUsage=clientAuth\n"))
        return -1;
    TOOL("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-keyout",
         "server.key", "-out", "server.csr", "-subj", "/CN=localhost");
    TOOL("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-set_serial", "2", "-days", "2", "-extfile", "server.ext", "-out", "server.pem");
    /* Signed by the right CA, for another name: only the host check refuses it. */
    if (tu_write(tmp_path("wrongname.ext"), "subjectAltName=DNS:wrong.example\n"))
        return -1;
    TOOL("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-set_serial", "5", "-days", "2", "-extfile", "wrongname.ext", "-out", "wrongname.pem");
    TOOL("openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", ec, "-nodes", "-keyout",
         "client.key", "-out", "client.csr", "-subj", "/CN=rampart-client");
    TOOL("openssl", "x509", "-req", "-in", "client.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-set_serial", "3", "-days", "2", "-extfile", "client.ext", "-out", "client.pem");
    TOOL("openssl", "x509", "-req", "-in", "client.csr", "-CA", "other-ca.pem", "-CAkey",
         "other-ca.key", "-set_serial", "4", "-days", "2", "-extfile", "client.ext", "-out",
         "other-client.pem");
    TOOL("openssl", "pkey", "-in", "server.key", "-pubout", "-outform", "DER", "-out",
         "server.pub.der");
    TOOL("openssl", "dgst", "-sha256", "-binary", "-out", "server.pin", "server.pub.der");
    TOOL("openssl", "pkey", "-in", "ca.key", "-pubout", "-outform", "DER", "-out", "ca.pub.der");
    TOOL("openssl", "dgst", "-sha256", "-binary", "-out", "ca.pin", "ca.pub.der");
    if (base64_file("server.pin", server_pin, sizeof server_pin) ||
        base64_file("ca.pin", wrong_pin, sizeof wrong_pin))
        return -1;
    /* The client key must be private for rp__http_create to take it. */
    if (chmod(tmp_path("client.key"), 0600) != 0)
        return -1;
    return 0;
}

/* ---- nginx --------------------------------------------------------------------- */

static int write_nginx_conf(void)
{
    static char conf[8192];
    int n = snprintf(
        conf, sizeof conf,
        "master_process off;\n"
        "daemon off;\n"
        "worker_processes 1;\n"
        "pid %1$s/nginx.pid;\n"
        "error_log %1$s/error.log info;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        "  access_log off;\n"
        "  client_body_temp_path %1$s/t_body;\n"
        "  proxy_temp_path %1$s/t_proxy;\n"
        "  fastcgi_temp_path %1$s/t_fastcgi;\n"
        "  uwsgi_temp_path %1$s/t_uwsgi;\n"
        "  scgi_temp_path %1$s/t_scgi;\n"
        "  client_max_body_size 64m;\n"
        "  keepalive_requests 1000;\n"
        "  keepalive_timeout 60s;\n"
        "  ssl_certificate %1$s/server.pem;\n"
        "  ssl_certificate_key %1$s/server.key;\n"
        "  server {\n"
        "    listen 127.0.0.1:%2$d ssl;\n"
        "    location = /ok { return 200 \"ok\\n\"; }\n"
        "    location = /echo {\n"
        "      return 200 \"ua=$http_user_agent\\nkey=$http_idempotency_key\\n"
        "auth=$http_authorization\\nexpect=[$http_expect]\\nce=$http_content_encoding\\n"
        "ct=$content_type\\nlen=$content_length\\nconn=$connection\\n"
        "req=$connection_requests\\n\";\n"
        "    }\n"
        "    location = /bearer {\n"
        "      if ($http_authorization != \"Bearer s3cret-token\") { return 401 \"no\\n\"; }\n"
        "      return 200 \"welcome\\n\";\n"
        "    }\n"
        "    location = /status/429 { add_header Retry-After 2 always; return 429 \"slow\\n\"; }\n"
        "    location = /status/503 {\n"
        "      add_header Retry-After \"Sun, 06 Nov 1994 08:49:37 GMT\" always;\n"
        "      return 503 \"down\\n\";\n"
        "    }\n"
        "    location = /small { client_max_body_size 1k; return 200 \"ok\\n\"; }\n"
        "    location = /slow {\n"
        "      proxy_pass http://127.0.0.1:%4$d;\n"
        "      proxy_read_timeout 60s;\n"
        "    }\n"
        "  }\n"
        "  server {\n"
        "    listen 127.0.0.1:%3$d ssl;\n"
        "    ssl_verify_client on;\n"
        "    ssl_client_certificate %1$s/ca.pem;\n"
        "    location / { return 200 \"mtls ok $ssl_client_s_dn\\n\"; }\n"
        "  }\n"
        "  server {\n"
        "    listen 127.0.0.1:%5$d ssl;\n"
        "    ssl_certificate %1$s/wrongname.pem;\n"
        "    location / { return 200 \"ok\\n\"; }\n"
        "  }\n"
        "}\n",
        dir, port_main, port_mtls, port_blackhole, port_wrongname);
    if (n < 0 || (size_t)n >= sizeof conf)
        return -1;
    return tu_write(tmp_path("nginx.conf"), conf);
}

static void stop_nginx(void)
{
    if (nginx_pid <= 0)
        return;
    kill(nginx_pid, SIGTERM);
    int64_t deadline = now_ms() + 3000;
    int st;
    while (waitpid(nginx_pid, &st, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(nginx_pid, SIGKILL);
            waitpid(nginx_pid, &st, 0);
            break;
        }
        sleep_ms(10);
    }
    nginx_pid = -1;
}

static int start_nginx(void)
{
    char conf[PATH_MAX], err[PATH_MAX];
    if (!tu_path(conf, sizeof conf, dir, "nginx.conf") ||
        !tu_path(err, sizeof err, dir, "error.log"))
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* Dies with the test even if the test crashes before its clean-up. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int fd = open(tmp_path("nginx.out"), O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        char *const argv[] = {"nginx", "-p", dir, "-c", conf, "-e", err, NULL};
        exec_tool(argv);
        fprintf(stderr, "test_http: cannot run nginx: %s (install nginx-light)\n", strerror(errno));
        _exit(127);
    }
    nginx_pid = pid;
    /* Ready when both TLS ports accept; nginx starts in well under a second. */
    int64_t deadline = now_ms() + 5000;
    while (!(can_connect(port_main) && can_connect(port_mtls) && can_connect(port_wrongname))) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            nginx_pid = -1;
            print_file("nginx.out");
            print_file("error.log");
            fprintf(stderr, "test_http: nginx exited at start\n");
            return -1;
        }
        if (now_ms() > deadline) {
            print_file("error.log");
            fprintf(stderr, "test_http: nginx did not listen within 5 s\n");
            stop_nginx();
            return -1;
        }
        sleep_ms(10);
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_nginx();
    if (blackhole_fd >= 0)
        close(blackhole_fd);
    blackhole_fd = -1;
    if (dir[0])
        tu_rm_rf(dir);
    dir[0] = '\0';
    return 0;
}

static int setup_all(void)
{
    if (tu_mkdtemp("http", dir, sizeof dir) != 0)
        return -1;
    if (make_certs() != 0)
        return -1;
    blackhole_fd = open_blackhole(&port_blackhole);
    port_main = free_port();
    port_mtls = free_port();
    port_wrongname = free_port();
    if (blackhole_fd < 0 || port_main <= 0 || port_mtls <= 0 || port_wrongname <= 0 ||
        port_main == port_mtls || port_main == port_wrongname || port_mtls == port_wrongname)
        return -1;
    if (write_nginx_conf() != 0)
        return -1;
    return start_nginx();
}

/* Cleans up itself when the set-up fails (the teardown is idempotent, so it
 * does not matter whether cmocka calls it then too). */
static int group_setup(void **state)
{
    if (setup_all() == 0)
        return 0;
    group_teardown(state);
    return -1;
}

/* ---- helpers for the tests -------------------------------------------------------- */

static const char *url_for(int port, const char *path)
{
    static char ring[4][256];
    static unsigned next;
    char *buf = ring[next++ % 4];
    snprintf(buf, 256, "https://127.0.0.1:%d%s", port, path);
    return buf;
}

static rp__http_opts base_opts(const char *path)
{
    rp__http_opts o;
    memset(&o, 0, sizeof o);
    o.url = url_for(port_main, path);
    o.ca_file = tmp_path("ca.pem");
    o.timeout_ms = 5000;
    return o;
}

static rp__http *make_client(const rp__http_opts *o)
{
    rp__http *h = NULL;
    char err[512] = "";
    int rc = rp__http_create(o, &h, err, sizeof err);
    if (rc != 0)
        fail_msg("rp__http_create: %d: %s", rc, err);
    return h;
}

static const rp__http_header std_headers[] = {
    {"Idempotency-Key", "batch-0001"},
    {"Content-Type", "application/x-ndjson"},
    {"Content-Encoding", "gzip"},
};
#define NSTD (sizeof std_headers / sizeof *std_headers)

static const char payload[] = "{\"event.id\":\"1\"}\n";

static int post(rp__http *h, const char *url, rp__http_response *r)
{
    return rp__http_post(h, url, std_headers, NSTD, payload, sizeof payload - 1, r);
}

static void expect_line(const rp__http_response *r, const char *line)
{
    if (!strstr(r->body, line))
        fail_msg("answer lacks \"%s\":\n%s", line, r->body);
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_post_ok_over_tls(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/ok");
    rp__http *h = make_client(&o);
    rp__http_response r;
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_NONE);
    assert_string_equal(r.body, "ok\n");
    assert_int_equal(r.body_len, 3);
    assert_int_equal(r.body_truncated, 0);
    assert_int_equal(r.new_connections, 1);
    assert_int_equal(r.has_retry_after, 0);
    assert_string_equal(r.error, "");
    rp__http_destroy(h);
}

static void test_headers_sent(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/echo");
    o.token = "t0ken-abc";
    rp__http *h = make_client(&o);
    rp__http_response r;
    /* 2 MiB: over curl's 1 MiB threshold for Expect: 100-continue. */
    size_t big = 2u << 20;
    char *body = malloc(big);
    assert_non_null(body);
    memset(body, 'x', big);
    int64_t t0 = now_ms();
    assert_int_equal(rp__http_post(h, NULL, std_headers, NSTD, body, big, &r), 0);
    int64_t took = now_ms() - t0;
    free(body);
    assert_int_equal(r.status, 200);
    expect_line(&r, "ua=rampart/" RP_VERSION "\n");
    expect_line(&r, "key=batch-0001\n");
    expect_line(&r, "auth=Bearer t0ken-abc\n");
    expect_line(&r, "expect=[]\n");
    expect_line(&r, "ce=gzip\n");
    expect_line(&r, "ct=application/x-ndjson\n");
    expect_line(&r, "len=2097152\n");
    /* No 100-continue wait (curl would stall up to 1 s for it). */
    assert_true(took < 900);
    rp__http_destroy(h);

    /* Another scheme; and no token at all. */
    o.token = "hec-123";
    o.auth_scheme = "Splunk";
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    expect_line(&r, "auth=Splunk hec-123\n");
    rp__http_destroy(h);
    o.token = NULL;
    o.auth_scheme = NULL;
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    expect_line(&r, "auth=\n");
    /* Without a Content-Type from the caller: a neutral one, not curl's form type. */
    const rp__http_header only_key[] = {{"Idempotency-Key", "k"}};
    assert_int_equal(rp__http_post(h, NULL, only_key, 1, "x", 1, &r), 0);
    expect_line(&r, "ct=application/octet-stream\n");
    rp__http_destroy(h);
}

static void test_bearer_route(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/bearer");
    o.token = "s3cret-token";
    rp__http *h = make_client(&o);
    rp__http_response r;
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    rp__http_destroy(h);

    o.token = "wrong-token";
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 401);
    rp__retry_batch b = {0, 0};
    rp__retry_decision d;
    assert_int_equal(rp__retry_decide(r.status, (int)r.transport, 100, &b, &d), 0);
    assert_int_equal(d.action, RP__OUTCOME_DEAD_LETTER);
    assert_int_equal(d.pause, 1);
    rp__http_destroy(h);
}

static void test_peer_verification(void **state)
{
    (void)state;
    rp__http_response r;
    /* The system store does not know our CA. */
    rp__http_opts o = base_opts("/ok");
    o.ca_file = NULL;
    rp__http *h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), RP_ERR_IO);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_TLS);
    assert_true(strlen(r.error) > 0);
    rp__http_destroy(h);
    /* Nor does another CA. */
    o.ca_file = tmp_path("other-ca.pem");
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), RP_ERR_IO);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_TLS);
    rp__http_destroy(h);
    /* A certificate from our CA, but for another name: the host name check
     * (VERIFYHOST=2) refuses it. */
    o = base_opts("/ok");
    o.url = url_for(port_wrongname, "/ok");
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), RP_ERR_IO);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_TLS);
    rp__http_destroy(h);
}

static void test_pinned_key(void **state)
{
    (void)state;
    rp__http_response r;
    rp__http_opts o = base_opts("/ok");
    o.pinned_pubkey = server_pin;
    rp__http *h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    rp__http_destroy(h);

    /* Several pins (rotation): one matching is enough. */
    char both[300];
    snprintf(both, sizeof both, "%s;%s", wrong_pin, server_pin);
    o.pinned_pubkey = both;
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    rp__http_destroy(h);

    o.pinned_pubkey = wrong_pin;
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), RP_ERR_IO);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_TLS);
    rp__http_destroy(h);

    /* Malformed pins are configuration errors, found at create. */
    const char *bad[] = {
        "abc",        "sha256//",    "sha256//short=",
        "sha1//AAAA", "/etc/passwd", "sha256//A9LGtrSCUezqZIujjhJovdgITe+bTLf+OSXi86ErHW8=;"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        o.pinned_pubkey = bad[i];
        rp__http *x = NULL;
        char err[512];
        assert_int_equal(rp__http_create(&o, &x, err, sizeof err), RP_ERR_CONFIG);
        assert_null(x);
        assert_non_null(strstr(err, "output.pinned_pubkey"));
    }
}

static void test_mutual_tls(void **state)
{
    (void)state;
    rp__http_response r;
    rp__http_opts o = base_opts("/");
    o.url = url_for(port_mtls, "/");
    /* Without a client certificate nginx answers 400 ("No required SSL
     * certificate was sent"): refused, never delivered. */
    rp__http *h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 400);
    rp__http_destroy(h);

    o.client_cert = tmp_path("client.pem");
    o.client_key = tmp_path("client.key");
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    expect_line(&r, "mtls ok CN=rampart-client");
    rp__http_destroy(h);

    /* A certificate from a CA the server does not trust: refused. */
    o.client_cert = tmp_path("other-client.pem");
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 400);
    rp__http_destroy(h);

    /* The key must be private; and cert and key go together. */
    char err[512];
    rp__http *x = NULL;
    o.client_cert = tmp_path("client.pem");
    assert_int_equal(chmod(o.client_key, 0644), 0);
    assert_int_equal(rp__http_create(&o, &x, err, sizeof err), RP_ERR_PERM);
    assert_non_null(strstr(err, "client.key"));
    assert_non_null(strstr(err, "0644"));
    assert_int_equal(chmod(o.client_key, 0600), 0);
    o.client_key = NULL;
    assert_int_equal(rp__http_create(&o, &x, err, sizeof err), RP_ERR_CONFIG);
    o.client_key = tmp_path("no-such.key");
    assert_int_equal(rp__http_create(&o, &x, err, sizeof err), RP_ERR_NOTFOUND);
    assert_null(x);
}

static void test_connection_reused(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/echo");
    rp__http *h = make_client(&o);
    rp__http_response r;
    char conn[64] = "";
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(post(h, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        /* curl: only the first request opened a connection. */
        assert_int_equal(r.new_connections, i == 1 ? 1 : 0);
        /* nginx: the same connection, its i-th request. */
        char want[32];
        snprintf(want, sizeof want, "req=%d\n", i);
        expect_line(&r, want);
        const char *c = strstr(r.body, "conn=");
        assert_non_null(c);
        size_t n = strcspn(c, "\n");
        if (i == 1) {
            assert_true(n < sizeof conn);
            memcpy(conn, c, n);
            conn[n] = '\0';
        } else {
            expect_line(&r, conn);
        }
    }
    /* Another path on the same host: still the same connection. */
    assert_int_equal(post(h, url_for(port_main, "/ok"), &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.new_connections, 0);
    rp__http_destroy(h);
}

static void test_token_file(void **state)
{
    (void)state;
    const char *secret = "tok-9f8e7d6c5b4a";
    const char *path = tmp_path("token");
    char err[512];
    char *tok = NULL;

    assert_int_equal(tu_write(path, "tok-9f8e7d6c5b4a\n"), 0);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), RP_ERR_PERM);
    assert_null(tok);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "0644"));
    assert_null(strstr(err, secret)); /* never the content */

    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), RP_ERR_PERM);
    assert_non_null(strstr(err, "0640"));
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), RP_ERR_PERM);

    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), 0);
    assert_string_equal(tok, secret); /* final newline dropped */
    rp__http_token_free(tok);
    tok = NULL;
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), 0);
    rp__http_token_free(tok);
    tok = NULL;
    assert_int_equal(chmod(path, 0600), 0);

    /* Empty, a space inside, a control character: refused, content unnamed. */
    const char *bad[] = {"", "\n\n", "two words\n", "tab\there", "nul-less\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(tu_write(path, bad[i]), 0);
        assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), RP_ERR_CONFIG);
        assert_null(tok);
        assert_non_null(strstr(err, path));
    }
    /* Too large. */
    char *huge = malloc(RP__HTTP_TOKEN_MAX + 2);
    assert_non_null(huge);
    memset(huge, 'a', RP__HTTP_TOKEN_MAX + 1);
    huge[RP__HTTP_TOKEN_MAX + 1] = '\0';
    assert_int_equal(tu_write(path, huge), 0);
    free(huge);
    assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), RP_ERR_RANGE);
    /* Missing, and a folder. */
    assert_int_equal(rp__http_read_token(tmp_path("no-such-token"), &tok, err, sizeof err),
                     RP_ERR_NOTFOUND);
    assert_non_null(strstr(err, "no-such-token"));
    assert_int_equal(mkdir(tmp_path("tokdir"), 0700), 0);
    assert_int_equal(rp__http_read_token(tmp_path("tokdir"), &tok, err, sizeof err), RP_ERR_CONFIG);
    assert_null(tok);

    /* The token read from the file works against the Bearer route. */
    assert_int_equal(tu_write(path, "  s3cret-token\r\n"), 0);
    assert_int_equal(rp__http_read_token(path, &tok, err, sizeof err), 0);
    rp__http_opts o = base_opts("/bearer");
    o.token = tok;
    rp__http *h = make_client(&o);
    rp__http_token_free(tok);
    rp__http_response r;
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    rp__http_destroy(h);
}

static void test_retry_after_captured(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/status/429");
    rp__http *h = make_client(&o);
    rp__http_response r;
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 429);
    assert_int_equal(r.has_retry_after, 1);
    assert_string_equal(r.retry_after, "2");
    int64_t ms = -1;
    assert_int_equal(rp__retry_after_parse(r.retry_after, strlen(r.retry_after), 0, &ms), 0);
    assert_int_equal(ms, 2000);
    rp__retry_batch b = {0, 0};
    rp__retry_decision d;
    assert_int_equal(rp__retry_decide(r.status, (int)r.transport, 10, &b, &d), 0);
    assert_int_equal(d.action, RP__OUTCOME_RETRY);
    /* The wait honours the server over a shorter backoff. */
    assert_int_equal(rp__retry_wait_ms(300, ms), 2000);

    assert_int_equal(post(h, url_for(port_main, "/status/503"), &r), 0);
    assert_int_equal(r.status, 503);
    assert_int_equal(r.has_retry_after, 1);
    assert_string_equal(r.retry_after, "Sun, 06 Nov 1994 08:49:37 GMT");
    assert_int_equal(
        rp__retry_after_parse(r.retry_after, strlen(r.retry_after), INT64_C(784111777) - 30, &ms),
        0);
    assert_int_equal(ms, 30000);

    /* An answer without the header leaves nothing behind from the last one. */
    assert_int_equal(post(h, url_for(port_main, "/ok"), &r), 0);
    assert_int_equal(r.has_retry_after, 0);
    assert_string_equal(r.retry_after, "");
    rp__http_destroy(h);
}

static void test_413_splits(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/small");
    rp__http *h = make_client(&o);
    rp__http_response r;
    char body[4096];
    memset(body, 'e', sizeof body);
    assert_int_equal(rp__http_post(h, NULL, std_headers, NSTD, body, sizeof body, &r), 0);
    assert_int_equal(r.status, 413);
    rp__retry_batch b = {0, 0};
    rp__retry_decision d;
    assert_int_equal(rp__retry_decide(r.status, (int)r.transport, 40, &b, &d), 0);
    assert_int_equal(d.action, RP__OUTCOME_SPLIT);
    rp__http_destroy(h);
}

static void test_response_cap(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/echo");
    o.max_response_bytes = 8;
    rp__http *h = make_client(&o);
    rp__http_response r;
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 8);
    assert_int_equal(r.body_truncated, 1);
    assert_int_equal(strlen(r.body), 8);
    assert_memory_equal(r.body, "ua=rampa", 8);
    /* The rest was read and dropped: the connection is still good. */
    assert_int_equal(post(h, url_for(port_main, "/ok"), &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_truncated, 0);
    assert_int_equal(r.new_connections, 0);
    rp__http_destroy(h);
}

static void test_timeout(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/slow");
    o.timeout_ms = 500;
    rp__http *h = make_client(&o);
    rp__http_response r;
    int64_t t0 = now_ms();
    assert_int_equal(post(h, NULL, &r), RP_ERR_TIMEOUT);
    int64_t took = now_ms() - t0;
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_TIMEOUT);
    assert_int_equal(r.status, 0);
    assert_true(took >= 450 && took < 3000);
    rp__retry_batch b = {0, 0};
    rp__retry_decision d;
    assert_int_equal(rp__retry_decide(r.status, (int)r.transport, 10, &b, &d), 0);
    assert_int_equal(d.action, RP__OUTCOME_RETRY);
    rp__http_destroy(h);
}

static void *abort_later(void *arg)
{
    sleep_ms(200);
    rp__http_abort(arg);
    return NULL;
}

static void test_abort_from_another_thread(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/slow");
    o.timeout_ms = 10000;
    rp__http *h = make_client(&o);
    rp__http_response r;
    pthread_t t;
    int64_t t0 = now_ms();
    assert_int_equal(pthread_create(&t, NULL, abort_later, h), 0);
    int rc = post(h, NULL, &r);
    int64_t took = now_ms() - t0;
    pthread_join(t, NULL);
    assert_int_equal(rc, RP_ERR_STOPPED);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_ABORTED);
    /* 200 ms until the abort, then well under a second to return. */
    if (took >= 1200)
        fail_msg("abort took %lld ms to return", (long long)(took - 200));

    /* The abort sticks: a request that starts after it does not run. */
    t0 = now_ms();
    assert_int_equal(post(h, url_for(port_main, "/ok"), &r), RP_ERR_STOPPED);
    assert_true(now_ms() - t0 < 100);
    /* Until cleared. */
    rp__http_abort_clear(h);
    assert_int_equal(post(h, url_for(port_main, "/ok"), &r), 0);
    assert_int_equal(r.status, 200);
    rp__http_destroy(h);
}

static void test_https_only_and_option_errors(void **state)
{
    (void)state;
    char err[512];
    rp__http *h = NULL;
    rp__http_opts o = base_opts("/ok");
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", port_main);
    o.url = url;
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    assert_non_null(strstr(err, "output.url"));
    assert_non_null(strstr(err, "https"));
    o.url = "ftp://example.org/";
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    o.url = "https://user:pa55@127.0.0.1/";
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    assert_null(strstr(err, "pa55"));
    o.url = "https://";
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    o.url = "https://host/with space";
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    o.url = NULL;
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    o = base_opts("/ok");
    o.ca_file = tmp_path("no-such-ca.pem");
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_NOTFOUND);
    assert_non_null(strstr(err, "output.ca_file"));
    o = base_opts("/ok");
    o.auth_scheme = "Two words";
    o.token = "x";
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    o = base_opts("/ok");
    o.max_response_bytes = RP__HTTP_RESPONSE_MAX_LIMIT + 1;
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    o = base_opts("/ok");
    o.proxy = "http://proxy\n:3128";
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    assert_non_null(strstr(err, "output.proxy"));
    o = base_opts("/ok");
    o.token = "has\nnewline";
    assert_int_equal(rp__http_create(&o, &h, err, sizeof err), RP_ERR_CONFIG);
    assert_null(strstr(err, "newline"));
    assert_null(h);

    /* Per request: https only too, nothing sent. */
    o = base_opts("/ok");
    h = make_client(&o);
    rp__http_response r;
    assert_int_equal(post(h, url, &r), RP_ERR_INVAL);
    rp__http_destroy(h);
}

static void test_header_checks(void **state)
{
    (void)state;
    rp__http_opts o = base_opts("/ok");
    rp__http *h = make_client(&o);
    rp__http_response r;
    const rp__http_header no_key[] = {{"Content-Type", "application/x-ndjson"}};
    assert_int_equal(rp__http_post(h, NULL, no_key, 1, "x", 1, &r), RP_ERR_INVAL);
    const rp__http_header two_keys[] = {{"Idempotency-Key", "a"}, {"idempotency-key", "b"}};
    assert_int_equal(rp__http_post(h, NULL, two_keys, 2, "x", 1, &r), RP_ERR_INVAL);
    const rp__http_header crlf[] = {{"Idempotency-Key", "a\r\nX-Evil: 1"}};
    assert_int_equal(rp__http_post(h, NULL, crlf, 1, "x", 1, &r), RP_ERR_INVAL);
    const rp__http_header bad_name[] = {{"Idempotency-Key", "a"}, {"X Bad", "1"}};
    assert_int_equal(rp__http_post(h, NULL, bad_name, 2, "x", 1, &r), RP_ERR_INVAL);
    const char *reserved[] = {"Authorization",     "user-agent", "Host",      "Content-Length",
                              "Transfer-Encoding", "Expect",     "Connection"};
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        const rp__http_header hd[] = {{"Idempotency-Key", "a"}, {reserved[i], "x"}};
        assert_int_equal(rp__http_post(h, NULL, hd, 2, "x", 1, &r), RP_ERR_INVAL);
    }
    rp__http_header many[RP__HTTP_HEADERS_MAX + 1];
    for (size_t i = 0; i < RP__HTTP_HEADERS_MAX + 1; i++)
        many[i] = (rp__http_header){"Idempotency-Key", "a"};
    assert_int_equal(rp__http_post(h, NULL, many, RP__HTTP_HEADERS_MAX + 1, "x", 1, &r),
                     RP_ERR_INVAL);
    assert_int_equal(rp__http_post(h, NULL, std_headers, NSTD, NULL, 5, &r), RP_ERR_INVAL);
    /* An empty body is fine. */
    assert_int_equal(rp__http_post(h, NULL, std_headers, NSTD, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    rp__http_destroy(h);
}

static void test_transport_classes(void **state)
{
    (void)state;
    rp__http_response r;
    /* Nothing listens: connect. */
    rp__http_opts o = base_opts("/ok");
    o.url = url_for(free_port(), "/ok");
    rp__http *h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), RP_ERR_IO);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_CONNECT);
    assert_string_equal(rp__http_transport_name(r.transport), "connect");
    rp__http_destroy(h);
    /* A name that cannot resolve (RFC 6761 reserves .invalid): DNS. */
    o.url = "https://rampart-test.invalid/ok";
    o.timeout_ms = 4000;
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), RP_ERR_IO);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_DNS);
    rp__http_destroy(h);
}

/* The config decides about proxies; the environment does not. */
static void test_proxy_from_config_only(void **state)
{
    (void)state;
    rp__http_response r;
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", free_port());
    const char *vars[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        setenv(vars[i], dead, 1);
    /* No proxy configured: a proxy in the environment is not used. */
    rp__http_opts o = base_opts("/ok");
    rp__http *h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    rp__http_destroy(h);
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);

    /* A proxy configured: it is used, even for a host no_proxy names. */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    o.proxy = dead;
    h = make_client(&o);
    assert_int_equal(post(h, NULL, &r), RP_ERR_IO);
    assert_int_equal(r.transport, RP__HTTP_TRANSPORT_CONNECT);
    rp__http_destroy(h);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_ok_over_tls),
        cmocka_unit_test(test_headers_sent),
        cmocka_unit_test(test_bearer_route),
        cmocka_unit_test(test_peer_verification),
        cmocka_unit_test(test_pinned_key),
        cmocka_unit_test(test_mutual_tls),
        cmocka_unit_test(test_connection_reused),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_retry_after_captured),
        cmocka_unit_test(test_413_splits),
        cmocka_unit_test(test_response_cap),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_abort_from_another_thread),
        cmocka_unit_test(test_https_only_and_option_errors),
        cmocka_unit_test(test_header_checks),
        cmocka_unit_test(test_transport_classes),
        cmocka_unit_test(test_proxy_from_config_only),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
