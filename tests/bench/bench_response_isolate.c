/*
 * tests/bench/bench_response_isolate.c - responder_isolate (issue 15, item
 * 4): the time from an alert, and from the isolate command, to the
 * isolation applied, p50 and p99 in milliseconds (goal: p99 <= 200 ms), and
 * the time of a release.
 *
 *   namespace: the bench moves itself into a network namespace of its own
 *              (unshare CLONE_NEWNET) before it starts the agent, so the
 *              table is made there, never on the machine's interfaces, and
 *              goes with the namespace when the bench ends;
 *   agent:      build/bin/rampartd with responder_isolate and the test
 *              plugin alert_inject (build/tests/plugins), uploading to
 *              https://127.0.0.1:9/ (nothing answers: the backend only has
 *              to be known), rollback off, the policy prevent [isolate] for
 *              the bench's rule;
 *   command:    RP_BENCH_CYCLES (default 30) of `isolate` then `release`,
 *              each a plugin command written to the agent's control socket
 *              and timed until its last reply (the plugin replies once the
 *              table is applied, or deleted); after each isolate the table
 *              is checked to be there (ri_nft_present), after each release
 *              to be gone. It includes the socket's round trip and
 *              resolving the backend (a literal here): what an operator's
 *              command waits for;
 *   alert:      as many cycles of an alert injected (`inject`, its reply
 *              awaited) then the table polled every 0.2 ms until it is
 *              there (alert_to_table_*: from sending the inject command),
 *              then `release`; and the responses' own
 *              rampart.response.latency_us (from the alert's @timestamp to
 *              the outcome, alert_latency_*), read from the events file.
 * Needs root (CLONE_NEWNET, nftables); prints why and exits 1 without.
 *
 *   bench_response_isolate OUT.json
 *     RP_BENCH_CYCLES=n   isolate/release cycles (default 30)
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include "nft.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#define WAIT_START_MS  20000
#define REPLY_MS       10000
#define GOAL_P99_MS    200.0
#define MAX_CYCLES     10000u
#define REPLY_LINE_MAX 65536

static pid_t agent_pid = -1;
static char tmp_dir[PATH_MAX];

static void cleanup(void)
{
    if (agent_pid > 0)
        bench_stop_child(agent_pid, 10000, NULL);
    agent_pid = -1;
    if (tmp_dir[0] && !getenv("RP_BENCH_KEEP"))
        bench_rm_tree(tmp_dir);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", RP_BENCH_NAME);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup();
    exit(1);
}

/* One plugin command on the control socket (plugin, then the command
 * object's text): 0 when its last reply is ok, with that line in line; -1
 * otherwise (line says why). */
static int command_to(const char *sock_path, const char *plugin, const char *cmd, char *line,
                      size_t cap)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock_path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(line, cap, "connect %s: %s", sock_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = REPLY_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[1024];
    int n = snprintf(req, sizeof req, "{\"cmd\":\"plugin\",\"name\":\"%s\",\"command\":%s}\n",
                     plugin, cmd);
    if (write(fd, req, (size_t)n) != n) {
        snprintf(line, cap, "write: %s", strerror(errno));
        close(fd);
        return -1;
    }
    size_t got = 0;
    int rc = -1;
    for (;;) {
        ssize_t r = read(fd, line + got, cap - 1 - got);
        if (r <= 0) {
            line[got] = '\0';
            break;
        }
        got += (size_t)r;
        line[got] = '\0';
        char *nl = strchr(line, '\n');
        if (!nl)
            continue;
        *nl = '\0';
        json_t *j = json_loads(line, 0, NULL);
        int more = json_is_true(json_object_get(j, "more"));
        int ok = json_is_true(json_object_get(j, "ok"));
        json_decref(j);
        if (more) { /* a progress reply: drop it and read on */
            size_t rest = got - (size_t)(nl + 1 - line);
            memmove(line, nl + 1, rest);
            got = rest;
            continue;
        }
        rc = ok ? 0 : -1;
        break;
    }
    close(fd);
    return rc;
}

static int command(const char *sock_path, const char *name, char *line, size_t cap)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "{\"command\":\"%s\",\"args\":[]}", name);
    return command_to(sock_path, "isolate", cmd, line, cap);
}

static int table_present(void)
{
    int present = 0;
    char err[256];
    if (ri_nft_present(&present, err, sizeof err) != 0)
        fail("cannot look for the table: %s", err);
    return present;
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    uint64_t cycles = 30;
    if (bench_env_u64("RP_BENCH_CYCLES", 30, 1, MAX_CYCLES, &cycles) != 0)
        fail("RP_BENCH_CYCLES must be an integer from 1 to %u", MAX_CYCLES);
    if (geteuid() != 0)
        fail("needs root (a network namespace and nftables)");
    struct bench_paths paths;
    if (bench_find_build(&paths) != 0)
        return 1;
    /* From here on, this process and the agent it starts live in a network
     * namespace of their own: the table never touches the machine's. */
    if (unshare(CLONE_NEWNET) != 0)
        fail("unshare(CLONE_NEWNET): %s", strerror(errno));
    if (table_present())
        fail("a table in a namespace just made?");

    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/rampart-bench-isolate.XXXXXX");
    if (!mkdtemp(tmp_dir))
        fail("mkdtemp: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    char cfg[PATH_MAX + 32], errlog[PATH_MAX + 32], sock[PATH_MAX + 32], events[PATH_MAX + 32],
        inject[PATH_MAX + 64], text[3 * PATH_MAX + 1024];
    snprintf(inject, sizeof inject, "%s/tests/plugins/alert_inject.so", paths.build);
    if (access(inject, R_OK) != 0)
        fail("no %s (the test plugin alert_inject)", inject);
    snprintf(events, sizeof events, "%s/data/events.ndjson", tmp_dir);
    snprintf(cfg, sizeof cfg, "%s/rampart.json", tmp_dir);
    snprintf(errlog, sizeof errlog, "%s/agent.err", tmp_dir);
    snprintf(sock, sizeof sock, "%s/data/control.sock", tmp_dir);
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"%s/data\",\"plugin_dir\":\"%s\",\"log_level\":\"info\"},"
             "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false,\"flush_interval_ms\":100,"
             "\"url\":\"https://127.0.0.1:9/\"},"
             "\"policy\":{\"default\":{\"mode\":\"detect\"},"
             "\"rules\":{\"bench.isolate\":{\"mode\":\"prevent\",\"actions\":[\"isolate\"]}}},"
             "\"plugins\":{\"isolate\":{\"enabled\":true,\"file\":\"responder_isolate.so\","
             "\"config\":{\"dns\":\"none\",\"rollback_after_s\":0,\"refresh_interval_s\":86400,"
             "\"probe_interval_s\":3600}},"
             "\"inject\":{\"enabled\":true,\"file\":\"%s\"}}}\n",
             tmp_dir, paths.plugins, inject);
    if (bench_write_text(cfg, text, 0644) != 0)
        fail("cannot write %s", cfg);
    char *av[] = {paths.rampartd, "--foreground", "--config", cfg, NULL};
    agent_pid = bench_spawn(av, NULL, errlog);
    if (agent_pid < 0)
        fail("fork: %s", strerror(errno));
    int waited = 0;
    struct stat sb;
    while (stat(sock, &sb) != 0 || !bench_file_contains(errlog, "plugin isolate: running") ||
           !bench_file_contains(errlog, "plugin inject: running")) {
        if (waitpid(agent_pid, NULL, WNOHANG) == agent_pid) {
            agent_pid = -1;
            fail("the agent exited at start: see %s (RP_BENCH_KEEP=1 keeps it)", errlog);
        }
        if ((waited += 50) > WAIT_START_MS)
            fail("the agent did not start within %d ms", WAIT_START_MS);
        bench_sleep_ms(50);
    }

    double *iso = calloc(cycles, sizeof *iso), *rel = calloc(cycles, sizeof *rel);
    double *alert = calloc(cycles, sizeof *alert), *lat = calloc(cycles, sizeof *lat);
    char *line = malloc(REPLY_LINE_MAX);
    if (!iso || !rel || !alert || !lat || !line)
        fail("out of memory");
    for (uint64_t i = 0; i < cycles; i++) {
        int64_t t0 = bench_now_ns();
        if (command(sock, "isolate", line, REPLY_LINE_MAX) != 0)
            fail("isolate %llu: %s", (unsigned long long)i, line);
        int64_t t1 = bench_now_ns();
        if (!table_present())
            fail("isolate %llu answered but no table is there: %s", (unsigned long long)i, line);
        int64_t t2 = bench_now_ns();
        if (command(sock, "release", line, REPLY_LINE_MAX) != 0)
            fail("release %llu: %s", (unsigned long long)i, line);
        int64_t t3 = bench_now_ns();
        if (table_present())
            fail("release %llu answered but the table is there", (unsigned long long)i);
        iso[i] = (double)(t1 - t0) / 1e6;
        rel[i] = (double)(t3 - t2) / 1e6;
    }
    static const char inject_cmd[] =
        "{\"command\":\"inject\",\"args\":[\"{\\\"rule_id\\\":\\\"bench.isolate\\\","
        "\\\"ruleset\\\":\\\"bench\\\",\\\"reason\\\":\\\"bench\\\",\\\"severity\\\":73,"
        "\\\"tags\\\":[],\\\"fields\\\":{}}\"]}";
    for (uint64_t i = 0; i < cycles; i++) {
        int64_t t0 = bench_now_ns();
        if (command_to(sock, "inject", inject_cmd, line, REPLY_LINE_MAX) != 0)
            fail("inject %llu: %s", (unsigned long long)i, line);
        int64_t t1 = t0;
        while (!table_present()) {
            t1 = bench_now_ns();
            if (t1 - t0 > (int64_t)REPLY_MS * 1000000)
                fail("no table %d ms after alert %llu", REPLY_MS, (unsigned long long)i);
            usleep(200);
        }
        t1 = bench_now_ns();
        alert[i] = (double)(t1 - t0) / 1e6;
        if (command(sock, "release", line, REPLY_LINE_MAX) != 0)
            fail("release after alert %llu: %s", (unsigned long long)i, line);
    }
    int st = bench_stop_child(agent_pid, 10000, NULL);
    agent_pid = -1;
    if (st != 0)
        fail("the agent exited with %d", st);

    double iso_p50 = bench_quantile(iso, cycles, 0.50), iso_p99 = bench_quantile(iso, cycles, 0.99);
    double rel_p50 = bench_quantile(rel, cycles, 0.50), rel_p99 = bench_quantile(rel, cycles, 0.99);
    double iso_max = bench_quantile(iso, cycles, 1.0);
    /* The responses' own latency, from the events file the agent wrote. */
    size_t nlat = 0;
    FILE *ef = fopen(events, "r");
    while (ef && fgets(line, REPLY_LINE_MAX, ef) && nlat < cycles) {
        json_t *ev = json_loads(line, 0, NULL);
        const char *trig = json_string_value(json_object_get(ev, "rampart.response.trigger"));
        const char *outc = json_string_value(json_object_get(ev, "rampart.response.outcome"));
        json_t *us = json_object_get(ev, "rampart.response.latency_us");
        if (trig && outc && strcmp(trig, "alert") == 0 && strcmp(outc, "done") == 0 &&
            json_is_integer(us))
            lat[nlat++] = (double)json_integer_value(us) / 1000.0;
        json_decref(ev);
    }
    if (ef)
        fclose(ef);
    if (nlat != cycles)
        fail("%zu responses to alerts in %s, expected %llu", nlat, events,
             (unsigned long long)cycles);
    double al_p50 = bench_quantile(alert, cycles, 0.50),
           al_p99 = bench_quantile(alert, cycles, 0.99);
    double lat_p50 = bench_quantile(lat, nlat, 0.50), lat_p99 = bench_quantile(lat, nlat, 0.99);
    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "response_isolate");
    bench_json_int(&j, "cycles", (long long)cycles);
    bench_json_num(&j, "alert_to_table_p50_ms", al_p50);
    bench_json_num(&j, "alert_to_table_p99_ms", al_p99);
    bench_json_num(&j, "alert_latency_p50_ms", lat_p50);
    bench_json_num(&j, "alert_latency_p99_ms", lat_p99);
    bench_json_num(&j, "isolate_p50_ms", iso_p50);
    bench_json_num(&j, "isolate_p99_ms", iso_p99);
    bench_json_num(&j, "isolate_max_ms", iso_max);
    bench_json_num(&j, "release_p50_ms", rel_p50);
    bench_json_num(&j, "release_p99_ms", rel_p99);
    bench_json_num(&j, "goal_isolate_p99_ms", GOAL_P99_MS);
    bench_json_key(&j, "goal_met");
    bench_json_raw(&j, "%s", iso_p99 <= GOAL_P99_MS && al_p99 <= GOAL_P99_MS ? "true" : "false");
    bench_json_num(&j, "load1", bench_load1());
    free(iso);
    free(rel);
    free(alert);
    free(lat);
    free(line);
    cleanup();
    return bench_json_finish(&j, out);
}
