/*
 * ABI 1.1 drops, gauges, services and the private folder, with real plugin
 * binaries (plugins/services11.c, one role each) on a real bus, loop and
 * workers, and the real process collector for its lineage service.
 */
#include "config.h"
#include "runtime/event.h"
#include "runtime/host.h"
#include "runtime/topic.h"

#include <jansson.h>
#include <rampart/plugin.h>
#include <rampart/service_endpoints.h>

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../unit/testutil.h"
#include "host_runtime.h"

static char tmpdir[64];

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A runtime over the plugins named (role -> file), as the agent makes it. */
struct run {
    json_t *doc;
    rp__config *cfg;
    struct host_runtime rt;
};

static void run_start(struct run *r, json_t *plugins)
{
    memset(r, 0, sizeof *r);
    r->doc = json_pack("{s:{s:s, s:s}, s:o}", "agent", "data_dir", tmpdir, "plugin_dir",
                       RP_ABI_PLUGIN_DIR, "plugins", plugins);
    char err[1024];
    assert_int_equal(rp__config_from_docs(r->doc, "test.json", NULL, NULL, NULL, tmpdir, &r->cfg,
                                          err, sizeof err),
                     0);
    host_runtime_create(&r->rt, r->cfg, 0);
    assert_int_equal(rp__host_load(r->rt.host, err, sizeof err), 0);
    assert_int_equal(host_runtime_start(&r->rt), 0);
}

/* Stops the plugins (as the agent does), leaving the host readable. */
static void run_stop(struct run *r)
{
    host_runtime_stop(&r->rt);
}

static void run_end(struct run *r)
{
    rp__host_destroy(r->rt.host);
    rp__bus_destroy(r->rt.bus);
    rp__loop_destroy(r->rt.loop);
    rp__config_destroy(r->cfg);
    json_decref(r->doc);
}

static json_t *plugin(const char *file)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.so", RP_ABI_PLUGIN_DIR, file);
    return json_pack("{s:b, s:s}", "enabled", 1, "file", path);
}

static size_t index_of(rp__host *host, const char *name)
{
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        rp__plugin_info info;
        assert_int_equal(rp__host_plugin_info(host, i, &info), 0);
        if (strcmp(info.name, name) == 0)
            return i;
    }
    fail_msg("plugin %s not in the host", name);
    return 0;
}

static void info(rp__host *host, const char *name, rp__plugin_info *out)
{
    assert_int_equal(rp__host_plugin_info(host, index_of(host, name), out), 0);
}

static int64_t gauge(rp__host *host, const char *plugin_name, const char *want)
{
    size_t i = index_of(host, plugin_name);
    const char *name;
    int64_t v;
    for (uint32_t k = 0; rp__host_plugin_gauge(host, i, k, &name, &v) == 0; k++)
        if (strcmp(name, want) == 0)
            return v;
    fail_msg("plugin %s has no gauge %s", plugin_name, want);
    return 0;
}

/* ---- drops and gauges ------------------------------------------------------ */

static void publish_core(rp__bus *bus, uint32_t topic, int n)
{
    for (int i = 0; i < n; i++) {
        struct rp_event *ev;
        assert_int_equal(rp__event_create(topic, rp__topic_name(topic), 0, &ev), 0);
        int rc = rp__bus_publish(bus, ev);
        assert_int_equal(rc, 0);
    }
}

/* A flood into a slow subscriber: the bus drops for it, and dropped_get
 * tells the plugin exactly what the bus counted for it. */
static void test_subscriber_sees_its_drops(void **state)
{
    (void)state;
    struct run r;
    json_t *plugins = json_pack("{s:o}", "sub", plugin("services11_sub"));
    run_start(&r, plugins);
    rp__host *host = r.rt.host;
    rp__plugin_info pi;
    info(host, "sub", &pi);
    assert_int_equal(pi.state, RP__PLUGIN_RUNNING);

    /* The gauge rules, checked by the plugin at init. */
    assert_int_equal(gauge(host, "sub", "long_rc"), RP_ERR_INVAL);
    assert_int_equal(gauge(host, "sub", "nul_rc"), RP_ERR_INVAL);
    assert_int_equal(gauge(host, "sub", "full_rc"), RP_ERR_FULL);
    assert_int_equal(gauge(host, "sub", "badset_rc"), RP_ERR_INVAL);
    assert_int_equal(gauge(host, "sub", "same_id"), 1);

    uint32_t topic;
    assert_int_equal(rp__topic_intern("svc11.flood", 11, &topic), 0);
    enum { N = 20000 };
    publish_core(r.rt.bus, topic, N);
    /* Every event is either handed to the plugin or dropped for it. */
    for (int i = 0; i < 3000; i++) {
        info(host, "sub", &pi);
        if (pi.delivered + pi.dropped >= N)
            break;
        usleep(10 * 1000);
    }
    info(host, "sub", &pi);
    assert_int_equal(pi.delivered + pi.dropped, N);
    assert_true(pi.dropped > 0);
    /* One more after the drain: the plugin reads the final count. */
    publish_core(r.rt.bus, topic, 1);
    for (int i = 0; i < 500 && gauge(host, "sub", "seen") < (int64_t)pi.delivered + 1; i++)
        usleep(10 * 1000);
    rp__plugin_info after;
    info(host, "sub", &after);
    assert_int_equal(gauge(host, "sub", "seen"), (int64_t)after.delivered);
    assert_int_equal(after.dropped, pi.dropped);
    assert_int_equal(gauge(host, "sub", "dropped"), (int64_t)after.dropped);
    fprintf(stderr, "flood of %d: %llu delivered, %llu dropped, dropped_get %lld\n", N,
            (unsigned long long)after.delivered, (unsigned long long)after.dropped,
            (long long)gauge(host, "sub", "dropped"));
    run_stop(&r);
    run_end(&r);
}

/* ---- services -------------------------------------------------------------- */

static void test_offer_acquire_versions_and_withdraw(void **state)
{
    (void)state;
    struct run r;
    json_t *plugins =
        json_pack("{s:o, s:o, s:o}", "provider", plugin("services11_provider"), "provider2",
                  plugin("services11_provider2"), "consumer", plugin("services11_consumer"));
    run_start(&r, plugins);
    rp__host *host = r.rt.host;

    /* One offer per name: whichever came second was refused. */
    int64_t a = gauge(host, "provider", "offer_rc"), b = gauge(host, "provider2", "offer_rc");
    assert_true((a == 0 && b == RP_ERR_EXISTS) || (a == RP_ERR_EXISTS && b == 0));
    const char *live = a == 0 ? "provider" : "provider2";
    assert_int_equal(gauge(host, "provider", "offer_again"), RP_ERR_EXISTS);
    assert_int_equal(gauge(host, "provider", "offer_host"), RP_ERR_PERM);
    assert_int_equal(gauge(host, "provider", "offer_bad"), RP_ERR_INVAL);

    /* 1.2 offered: 1.0 and 1.2 found, 1.3 and 2.0 not. */
    assert_int_equal(gauge(host, "consumer", "acq_1_0"), 0);
    assert_int_equal(gauge(host, "consumer", "add"), 5);
    assert_int_equal(gauge(host, "consumer", "release"), 0);
    assert_int_equal(gauge(host, "consumer", "release_again"), RP_ERR_NOTFOUND);
    assert_int_equal(gauge(host, "consumer", "acq_1_3"), RP_ERR_NOTFOUND);
    assert_int_equal(gauge(host, "consumer", "acq_2_0"), RP_ERR_NOTFOUND);
    assert_int_equal(gauge(host, "consumer", "acq_missing"), RP_ERR_NOTFOUND);

    /* The consumer keeps a hold until it sees the offer withdrawn: the
     * provider's stop must withdraw first, then wait for that release. */
    usleep(100 * 1000);
    assert_int_equal(gauge(host, "consumer", "released_ms"), 0);
    int64_t t0 = mono_ms();
    run_stop(&r);
    int64_t took = mono_ms() - t0;
    int64_t released = gauge(host, "consumer", "released_ms");
    int64_t stopped = gauge(host, live, "stopped_ms");
    fprintf(stderr, "hold released at +%lld ms, provider stopped at +%lld ms, stop took %lld ms\n",
            (long long)(released - t0), (long long)(stopped - t0), (long long)took);
    assert_true(released >= t0);
    assert_true(stopped >= released);
    assert_true(took < 1500); /* well inside the 2 s bound: it did not time out */
    run_end(&r);
}

/* Reads what the host logged to stderr while fn ran. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[128];
    snprintf(path, sizeof path, "%s/stderr.log", tmpdir);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        text = realloc(text, len + n + 1);
        memcpy(text + len, buf, n);
        len += n;
        text[len] = '\0';
    }
    fclose(f);
    unlink(path);
    fputs(text ? text : "", stderr);
    return text ? text : strdup("");
}

static void stop_cb(void *arg)
{
    run_stop(arg);
}

static void test_hold_outliving_the_wait_is_logged(void **state)
{
    (void)state;
    struct run r;
    json_t *plugins = json_pack("{s:o, s:o}", "provider", plugin("services11_provider"), "stuck",
                                plugin("services11_stuck"));
    run_start(&r, plugins);
    rp__host *host = r.rt.host;
    assert_int_equal(gauge(host, "stuck", "acq_1_0"), 0);
    int64_t t0 = mono_ms();
    char *log = capture_stderr(stop_cb, &r);
    int64_t took = mono_ms() - t0;
    /* The provider waited its bound, then went on; both plugins are named. */
    assert_true(took >= 2000);
    assert_true(took < 6000);
    assert_non_null(strstr(log, "plugin stuck still holds service org.example.svc11 of plugin "
                                "provider 2000 ms after provider began to stop"));
    assert_non_null(strstr(log, "plugin provider: another plugin still holds its service; "
                                "destroyed once every plugin has stopped"));
    /* ... and it was: the provider's destroy ran after the holder stopped. */
    assert_int_equal(gauge(r.rt.host, "provider", "destroyed"), 1);
    /* The holder's own stop released its hold, as a bug of its. */
    assert_non_null(strstr(log, "plugin stuck stopped still holding service org.example.svc11 of "
                                "provider; released by the host"));
    free(log);
    run_end(&r);
}

/* ---- the private folder ---------------------------------------------------- */

static void test_private_dir_made_0700(void **state)
{
    (void)state;
    /* An older folder of the plugin's, opened to the group: closed again. */
    char p[256];
    snprintf(p, sizeof p, "%s/plugins", tmpdir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/plugins/dir", tmpdir);
    assert_int_equal(mkdir(p, 0700), 0);
    assert_int_equal(chmod(p, 0750), 0);

    struct run r;
    run_start(&r, json_pack("{s:o}", "dir", plugin("services11_dir")));
    rp__host *host = r.rt.host;
    assert_int_equal(gauge(host, "dir", "dir_rc"), 0);
    assert_int_equal(gauge(host, "dir", "probe_rc"), 0);
    assert_int_equal(gauge(host, "dir", "path_ok"), 1);
    assert_int_equal(gauge(host, "dir", "same_fd"), 1);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    assert_int_equal(st.st_uid, geteuid());
    snprintf(p, sizeof p, "%s/plugins/dir/probe", tmpdir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    run_stop(&r);
    run_end(&r);
    unlink(p);
    snprintf(p, sizeof p, "%s/plugins/dir", tmpdir);
    rmdir(p);
    snprintf(p, sizeof p, "%s/plugins", tmpdir);
    rmdir(p);
}

/* The unprivileged user the planted-link test creates and removes. */
static char user[32];
static uid_t user_uid;
static gid_t user_gid;

static int run_cmd(char *const argv[])
{
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void user_remove(void)
{
    if (!user[0])
        return;
    char *argv[] = {"userdel", "-r", user, NULL};
    run_cmd(argv);
    user[0] = '\0';
}

/* As the user: symlink(target, link). 0 when it was made. */
static int plant_link_as_user(const char *target, const char *link)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(user_gid) != 0 || setuid(user_uid) != 0)
            _exit(2);
        _exit(symlink(target, link) == 0 ? 0 : 1);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs the dir plugin over a planted <data>/plugins/dir and checks the host
 * refused it, saying why, and wrote nothing where the link leads. */
static void start_dir_cb(void *arg)
{
    run_start(arg, json_pack("{s:o}", "dir", plugin("services11_dir")));
}

static void expect_refused(const char *target, const char *why)
{
    struct run r;
    char *log = capture_stderr(start_dir_cb, &r);
    assert_int_equal(gauge(r.rt.host, "dir", "dir_rc"), RP_ERR_PERM);
    assert_non_null(strstr(log, "plugin dir: private folder refused: "));
    assert_non_null(strstr(log, why));
    free(log);
    run_stop(&r);
    run_end(&r);
    char p[256];
    struct stat st;
    snprintf(p, sizeof p, "%s/probe", target);
    assert_int_not_equal(lstat(p, &st), 0);
}

static void test_private_dir_planted_link_refused(void **state)
{
    (void)state;
    if (geteuid() != 0)
        tu_skip("needs root to create an unprivileged user");
    snprintf(user, sizeof user, "rpsvc11%d", (int)getpid() % 100000);
    char *add[] = {"useradd", "-M", "-s", "/usr/sbin/nologin", user, NULL};
    if (run_cmd(add) != 0)
        tu_skip("useradd failed");
    atexit(user_remove);
    struct passwd *pw = getpwnam(user);
    assert_non_null(pw);
    user_uid = pw->pw_uid;
    user_gid = pw->pw_gid;

    /* The user may pass through the data folder (not write in it). */
    assert_int_equal(chmod(tmpdir, 0711), 0);
    /* Where the user wants the agent's writes to go: a folder of theirs. */
    char target[128], plugins[256], mine[256];
    snprintf(target, sizeof target, "%s/elsewhere", tmpdir);
    assert_int_equal(mkdir(target, 0755), 0);
    assert_int_equal(chown(target, user_uid, user_gid), 0);
    snprintf(plugins, sizeof plugins, "%s/plugins", tmpdir);
    snprintf(mine, sizeof mine, "%s/plugins/dir", tmpdir);

    /* 1. The folder of plugins' folders was left to the user, who plants a
     * link for this plugin in it. */
    assert_int_equal(mkdir(plugins, 0700), 0);
    assert_int_equal(chown(plugins, user_uid, user_gid), 0);
    assert_int_equal(plant_link_as_user(target, mine), 0);
    expect_refused(target, "owned by uid");
    assert_int_equal(unlink(mine), 0);

    /* 2. The user's link, moved into the agent's own plugins folder. */
    assert_int_equal(chown(plugins, 0, 0), 0);
    char staged[256];
    snprintf(staged, sizeof staged, "%s/link", target);
    assert_int_equal(plant_link_as_user(target, staged), 0);
    assert_int_equal(rename(staged, mine), 0);
    expect_refused(target, "a symbolic link");
    assert_int_equal(unlink(mine), 0);

    /* 3. A folder of the user's at the plugin's place. */
    assert_int_equal(mkdir(mine, 0700), 0);
    assert_int_equal(chown(mine, user_uid, user_gid), 0);
    expect_refused(mine, "owned by uid");
    assert_int_equal(rmdir(mine), 0);

    assert_int_equal(rmdir(plugins), 0);
    assert_int_equal(rmdir(target), 0);
    assert_int_equal(chmod(tmpdir, 0700), 0);
    user_remove();
}

/* ---- the process collector's lineage service ------------------------------- */

static void test_lineage_service_of_collector_process(void **state)
{
    (void)state;
    struct run r;
    json_t *cp =
        json_pack("{s:b, s:s}", "enabled", 1, "file", RP_PLUGIN_DIR "/collector_process.so");
    run_start(&r, json_pack("{s:o, s:o}", "process", cp, "lineage", plugin("services11_lineage")));
    rp__host *host = r.rt.host;
    rp__plugin_info pi;
    info(host, "process", &pi);
    assert_int_equal(pi.state, RP__PLUGIN_RUNNING);
    for (int i = 0; i < 500 && gauge(host, "lineage", "done") != 1; i++)
        usleep(10 * 1000);
    assert_int_equal(gauge(host, "lineage", "self_rc"), 0);
    assert_int_equal(gauge(host, "lineage", "done"), 1);
    assert_int_equal(gauge(host, "lineage", "ppid_ok"), 1);
    assert_int_equal(gauge(host, "lineage", "entity_ok"), 1);
    assert_int_equal(gauge(host, "lineage", "start_ok"), 1);
    assert_int_equal(gauge(host, "lineage", "child_ok"), 1);
    /* 1.0 offered: a caller that needs 1.1 does not get it. */
    assert_int_equal(gauge(host, "lineage", "v1_1_rc"), RP_ERR_NOTFOUND);
    run_stop(&r);
    run_end(&r);
}

static int setup(void **state)
{
    (void)state;
    return host_runtime_tmpdir(tmpdir, sizeof tmpdir, "svc11");
}

static int teardown(void **state)
{
    (void)state;
    host_runtime_tmpdir_remove(tmpdir);
    user_remove();
    return 0;
}

/* ---- the host's endpoints service ------------------------------------------ */

static void test_endpoint_parse(void **state)
{
    (void)state;
    rp_endpoint e;
    assert_int_equal(rp__endpoint_parse("https://Backend.Example:8443/x?y#z", 1, &e), 0);
    assert_string_equal(e.host, "backend.example");
    assert_int_equal(e.port, 8443);
    assert_int_equal(e.role, 1);
    assert_int_equal(e.struct_size, sizeof e);
    assert_int_equal(rp__endpoint_parse("https://10.0.0.7", 1, &e), 0);
    assert_string_equal(e.host, "10.0.0.7");
    assert_int_equal(e.port, 443);
    assert_int_equal(rp__endpoint_parse("http://u:p@w@[2001:DB8::1]:3128", 2, &e), 0);
    assert_string_equal(e.host, "2001:db8::1");
    assert_int_equal(e.port, 3128);
    /* A proxy without a scheme is HTTP, as libcurl reads it. */
    assert_int_equal(rp__endpoint_parse("proxy.lan:8080", 2, &e), 0);
    assert_string_equal(e.host, "proxy.lan");
    assert_int_equal(e.port, 8080);
    assert_int_equal(rp__endpoint_parse("proxy.lan", 2, &e), 0);
    assert_int_equal(e.port, 80);
    assert_int_equal(rp__endpoint_parse("socks5h://sock:1081", 2, &e), 0);
    assert_int_equal(e.port, 1081);
    /* An IPv6 zone is written "%25<zone>" in a URL (RFC 6874); libcurl
     * connects to "<address>%<zone>" (found by fuzz_endpoint). */
    assert_int_equal(rp__endpoint_parse("http://[fe80::1%25eth0]:8080/", 1, &e), 0);
    assert_string_equal(e.host, "fe80::1%eth0");
    assert_int_equal(e.port, 8080);
    /* Only the first '%' starts the zone, and only there is %25 a '%'. */
    assert_int_equal(rp__endpoint_parse("http://[FE80::1%Eth0%25x]/", 1, &e), 0);
    assert_string_equal(e.host, "fe80::1%Eth0%25x");
    /* libcurl decodes %XX in a host name, and connects to what it decoded. */
    assert_int_equal(rp__endpoint_parse("https://exa%6Dple.com:81/", 1, &e), 0);
    assert_string_equal(e.host, "example.com");
    assert_int_equal(rp__endpoint_parse("https://a%2Fb/", 1, &e), RP_ERR_INVAL);
    static const char *const bad[] = {
        "ftp://x",
        "https://",
        "https://:443/",
        "https://h:0",
        "https://h:65536",
        "https://h:44a",
        "https://[::1",
        "https://[::1]x",
        "https://h o",
        "https://h\"x",
        "://h",
        "https://h:",
        "averyveryveryveryverylongschemename://h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(rp__endpoint_parse(bad[i], 1, &e), RP_ERR_INVAL);
    char longhost[400];
    memset(longhost, 'a', sizeof longhost);
    memcpy(longhost, "https://", 8);
    longhost[sizeof longhost - 1] = '\0';
    assert_int_equal(rp__endpoint_parse(longhost, 1, &e), RP_ERR_INVAL);
}

static int64_t wait_gauge(rp__host *host, const char *name, int64_t want_not, int64_t at_least)
{
    int64_t v = 0;
    for (int i = 0; i < 300; i++) {
        v = gauge(host, "endpoints", name);
        if (v != want_not && v >= at_least)
            break;
        usleep(10000);
    }
    return v;
}

static void test_endpoints_service_of_the_host(void **state)
{
    (void)state;
    struct run r;
    memset(&r, 0, sizeof r);
    r.doc = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:o}}", "agent", "data_dir", tmpdir,
                      "plugin_dir", RP_ABI_PLUGIN_DIR, "output", "url",
                      "https://Backend.Example:8443/ingest", "proxy",
                      "http://user:pw@[2001:db8::1]:3128", "plugins", "endpoints",
                      plugin("services11_endpoints"));
    char err[1024];
    assert_int_equal(
        rp__config_from_docs(r.doc, "test.json", NULL, NULL, NULL, tmpdir, &r.cfg, err, sizeof err),
        0);
    host_runtime_create(&r.rt, r.cfg, 0);
    assert_int_equal(rp__host_load(r.rt.host, err, sizeof err), 0);
    assert_int_equal(host_runtime_start(&r.rt), 0);
    rp__host *host = r.rt.host;
    assert_int_equal(wait_gauge(host, "done", 0, 1), 1);
    assert_int_equal(gauge(host, "endpoints", "acq_rc"), 0);
    assert_int_equal(gauge(host, "endpoints", "count"), 2);
    assert_int_equal(gauge(host, "endpoints", "ep0"), 100000 + 8443);
    assert_int_equal(gauge(host, "endpoints", "ep1"), 200000 + 3128);
    assert_int_equal(gauge(host, "endpoints", "host0_is_backend"), 1);
    assert_int_equal(gauge(host, "endpoints", "host1_is_v6"), 1);
    int64_t gen = gauge(host, "endpoints", "generation");
    /* The same URLs again change nothing; new ones bump the generation. */
    assert_int_equal(rp__host_endpoints_set(host, "https://Backend.Example:8443/ingest",
                                            "http://user:pw@[2001:db8::1]:3128"),
                     0);
    usleep(60000);
    assert_int_equal(gauge(host, "endpoints", "generation"), gen);
    assert_int_equal(rp__host_endpoints_set(host, "https://10.1.2.3/", NULL), 0);
    assert_true(wait_gauge(host, "generation", gen, 0) != gen);
    assert_true(wait_gauge(host, "count", 2, 0) == 1);
    assert_int_equal(gauge(host, "endpoints", "ep0"), 100000 + 443);
    assert_int_equal(gauge(host, "endpoints", "host0_is_backend"), 0);
    /* A URL that cannot be split is left out and said. */
    assert_int_equal(rp__host_endpoints_set(host, "https://bad host/", "proxy.lan:3128"),
                     RP_ERR_INVAL);
    assert_true(wait_gauge(host, "ep0", 100000 + 443, 0) == 200000 + 3128);
    assert_int_equal(gauge(host, "endpoints", "count"), 1);
    run_stop(&r);
    run_end(&r);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscriber_sees_its_drops),
        cmocka_unit_test(test_offer_acquire_versions_and_withdraw),
        cmocka_unit_test(test_hold_outliving_the_wait_is_logged),
        cmocka_unit_test(test_private_dir_made_0700),
        cmocka_unit_test(test_private_dir_planted_link_refused),
        cmocka_unit_test(test_lineage_service_of_collector_process),
        cmocka_unit_test(test_endpoint_parse),
        cmocka_unit_test(test_endpoints_service_of_the_host),
    };
    return tu_run_tests(tests, setup, teardown, argc, argv);
}
