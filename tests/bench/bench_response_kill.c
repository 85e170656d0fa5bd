/*
 * tests/bench/bench_response_kill.c - responder_kill (issue 15, item 3): the
 * time from an alert to the kill of its process, as the responder reports
 * it in rampart.response.latency_us (from the alert's @timestamp, stamped
 * when the detector made it, to the outcome, after the signal), p50 and p99
 * in ms. Goal: p99 <= 5 ms.
 *
 *   agent:   build/bin/rampartd with collector_process, detector_sigma and
 *            responder_kill (kill_descendants on, its default); one Sigma
 *            rule (tests/data/kill/rule.yml) matching the victims' program
 *            path, under the policy prevent with actions [kill].
 *   victims: RP_BENCH_KILLS (default 200) processes, one after the other,
 *            of a test user the bench creates (useradd) and removes: each
 *            a copy of /bin/sleep whose path holds the rule's marker,
 *            waited for (5 s at most) until the kill ends it.
 *
 * Needs root (the proc connector, useradd, setuid); prints why and exits 1
 * without.
 *
 *   bench_response_kill OUT.json
 *     RP_BENCH_KILLS=n   victims (default 200)
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef RP_SOURCE_DIR
#error "RP_SOURCE_DIR must name the source folder (tests/bench/CMakeLists.txt sets it)"
#endif

#define RULE_ID       "6b0f7c1e-5a2d-4c8e-9f10-00000000c112"
#define MARK          "rp-bench-kill-victim"
#define WAIT_START_MS 60000
#define VICTIM_MS     5000
#define MAX_KILLS     100000u
#define GOAL_P99_MS   5.0

static struct bench_paths paths;
static char tmpdir[128], cfg[PATH_MAX], user[64];
static pid_t agent = -1;
static int user_made;

static int run(char *const argv[])
{
    pid_t pid = bench_spawn(argv, NULL, NULL);
    return pid < 0 ? -1 : bench_wait_pid(pid, 20000);
}

static void cleanup(void)
{
    if (agent > 0) {
        kill(agent, SIGKILL);
        waitpid(agent, NULL, 0);
        agent = -1;
    }
    if (user_made) {
        char *argv[] = {"userdel", user, NULL};
        run(argv);
        user_made = 0;
    }
    if (tmpdir[0] && !getenv("RP_BENCH_KEEP"))
        bench_rm_tree(tmpdir);
}

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "bench_response_kill: %s\n", what);
    cleanup();
    exit(1);
}

/* A JSON string's value, or dflt when it is not one. */
static const char *str_or(const json_t *v, const char *dflt)
{
    const char *s = json_string_value(v);
    return s ? s : dflt;
}

static void on_signal(int sig)
{
    if (agent > 0)
        kill(agent, SIGKILL);
    _exit(128 + sig);
}

/* The rule of the test, with its id and marker filled in. */
static void write_rule(const char *path)
{
    char src[PATH_MAX], text[4096], out[4096];
    snprintf(src, sizeof src, "%s/tests/data/kill/rule.yml", RP_SOURCE_DIR);
    if (bench_read_file(src, text, sizeof text) <= 0)
        die("cannot read tests/data/kill/rule.yml");
    size_t o = 0;
    for (const char *s = text; *s && o + 64 < sizeof out;) {
        if (strncmp(s, "@RULE_ID@", 9) == 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", RULE_ID);
            s += 9;
        } else if (strncmp(s, "@MARK@", 6) == 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", MARK);
            s += 6;
        } else {
            out[o++] = *s++;
        }
    }
    out[o] = '\0';
    if (bench_write_text(path, out, 0644) != 0)
        die("write the rule");
}

static void start_agent(const char *log)
{
    char *argv[] = {paths.rampartd, "--foreground", "--config", cfg, NULL};
    agent = bench_spawn(argv, NULL, log);
    if (agent < 0)
        die("fork");
    for (int waited = 0; waited < WAIT_START_MS; waited += 20) {
        if (bench_file_contains(log, "plugin kill: running") &&
            bench_file_contains(log, "plugin sigma: running") &&
            bench_file_contains(log, " started: pid"))
            return;
        if (waitpid(agent, NULL, WNOHANG) == agent) {
            agent = -1;
            fprintf(stderr, "bench_response_kill: the agent exited; its log is %s\n", log);
            die("the agent did not start");
        }
        bench_sleep_ms(20);
    }
    die("the agent did not start in time");
}

/* One victim as the test user: the marked copy of sleep. Returns how it
 * ended (128 + 9 when killed), -1 when it outlived VICTIM_MS (then it is
 * killed here). */
static int victim(const char *prog, uid_t uid, gid_t gid)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0)
            _exit(126);
        char *argv[] = {(char *)prog, "30", NULL};
        execv(prog, argv);
        _exit(127);
    }
    int st = bench_wait_pid(pid, VICTIM_MS);
    if (st == -1) {
        kill(pid, SIGKILL);
        bench_wait_pid(pid, 5000);
    }
    return st;
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    if (bench_find_build(&paths) != 0)
        return 1;
    if (geteuid() != 0) {
        fprintf(stderr, "bench_response_kill: needs root (proc connector, useradd)\n");
        return 1;
    }
    uint64_t kills;
    if (bench_env_u64("RP_BENCH_KILLS", 200, 1, MAX_KILLS, &kills) != 0) {
        fprintf(stderr, "bench_response_kill: RP_BENCH_KILLS out of range\n");
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rampart-bench-kill-XXXXXX");
    if (!mkdtemp(tmpdir) || chmod(tmpdir, 0755) != 0)
        bench_die("mkdtemp");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    snprintf(user, sizeof user, "rpbkill%d", (int)getpid());
    char *ua[] = {"useradd",           "--system",     "--no-create-home",
                  "--home-dir",        "/nonexistent", "--shell",
                  "/usr/sbin/nologin", user,           NULL};
    if (run(ua) != 0)
        die("useradd failed");
    user_made = 1;
    struct passwd *pw = getpwnam(user);
    if (!pw)
        die("the test user is not found");
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;

    char rules[PATH_MAX], path[PATH_MAX + 64], prog[PATH_MAX + 64], log[PATH_MAX + 64];
    snprintf(rules, sizeof rules, "%s/rules", tmpdir);
    if (mkdir(rules, 0755) != 0)
        die("mkdir rules");
    snprintf(path, sizeof path, "%s/kill.yml", rules);
    write_rule(path);
    snprintf(prog, sizeof prog, "%s/" MARK "-sleep", tmpdir);
    if (bench_copy_file("/bin/sleep", prog, 0755) != 0)
        die("copy /bin/sleep");
    char text[4 * PATH_MAX];
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"%s/data\",\"plugin_dir\":\"%s\",\"log_level\":\"info\"},"
             "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false,\"flush_interval_ms\":200},"
             "\"policy\":{\"default\":{\"mode\":\"detect\"},"
             "\"rules\":{\"" RULE_ID "\":{\"mode\":\"prevent\",\"actions\":[\"kill\"]}}},"
             "\"plugins\":{"
             "\"process\":{\"enabled\":true,\"file\":\"collector_process.so\",\"config\":{}},"
             "\"sigma\":{\"enabled\":true,\"file\":\"detector_sigma.so\","
             "\"config\":{\"rule_dirs\":[\"%s\"],\"throttle\":{\"seconds\":0}}},"
             "\"kill\":{\"enabled\":true,\"file\":\"responder_kill.so\",\"config\":{}}}}\n",
             tmpdir, paths.plugins, rules);
    snprintf(cfg, sizeof cfg, "%s/rampart.json", tmpdir);
    if (bench_write_text(cfg, text, 0644) != 0)
        die("write the config");
    snprintf(log, sizeof log, "%s/agent.log", tmpdir);

    start_agent(log);
    uint64_t killed = 0, survived = 0;
    int64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < kills; i++) {
        int st = victim(prog, uid, gid);
        if (st == 128 + SIGKILL)
            killed++;
        else
            survived++;
    }
    double wall_s = (double)(bench_now_ns() - t0) / 1e9;
    /* The last responses reach the file at the next flush; a clean stop
     * flushes what is left. */
    bench_sleep_ms(500);
    if (bench_stop_child(agent, 15000, NULL) != 0) {
        agent = -1;
        die("the agent did not stop cleanly");
    }
    agent = -1;

    snprintf(path, sizeof path, "%s/data/events.ndjson", tmpdir);
    FILE *f = fopen(path, "r");
    if (!f)
        die("no events file");
    double *lat = calloc(kills + 1, sizeof *lat);
    if (!lat)
        die("calloc");
    size_t n = 0;
    uint64_t done = 0, refused = 0, failed = 0, alerts = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *ev = json_loads(line, 0, NULL);
        if (!ev)
            continue;
        const char *kind = json_string_value(json_object_get(ev, "event.kind"));
        const char *rid = json_string_value(json_object_get(ev, "rule.id"));
        if (kind && strcmp(kind, "alert") == 0 && rid && strcmp(rid, RULE_ID) == 0)
            alerts++;
        const char *act = json_string_value(json_object_get(ev, "rampart.response.action"));
        const char *outc = json_string_value(json_object_get(ev, "rampart.response.outcome"));
        json_t *us = json_object_get(ev, "rampart.response.latency_us");
        if (act && strcmp(act, "kill") == 0 && outc) {
            if (strcmp(outc, "done") == 0) {
                done++;
                if (json_is_integer(us) && n < kills)
                    lat[n++] = (double)json_integer_value(us) / 1e3;
            } else {
                /* Say why (the first few): a refusal is safe, but a bench
                 * that only counts it leaves the cause unknown. */
                if (refused + failed < 10)
                    fprintf(stderr, "bench_response_kill: pid %lld %s: %s: %s\n",
                            (long long)json_integer_value(json_object_get(ev, "process.pid")), outc,
                            str_or(json_object_get(ev, "rampart.response.reason"), "(no reason)"),
                            str_or(json_object_get(ev, "message"), ""));
                if (strcmp(outc, "refused") == 0)
                    refused++;
                else
                    failed++;
            }
        }
        json_decref(ev);
    }
    free(line);
    fclose(f);
    if (n == 0)
        die("no response.kill with outcome done in the output");

    double p50 = bench_quantile(lat, n, 0.50);
    double p99 = bench_quantile(lat, n, 0.99);
    double max = lat[n - 1];
    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "response_kill");
    bench_json_int(&j, "victims", (long long)kills);
    bench_json_int(&j, "killed", (long long)killed);
    bench_json_int(&j, "survived", (long long)survived);
    bench_json_int(&j, "alerts", (long long)alerts);
    bench_json_int(&j, "responses_done", (long long)done);
    bench_json_int(&j, "responses_refused", (long long)refused);
    bench_json_int(&j, "responses_failed", (long long)failed);
    bench_json_num(&j, "alert_to_kill_p50_ms", p50);
    bench_json_num(&j, "alert_to_kill_p99_ms", p99);
    bench_json_num(&j, "alert_to_kill_max_ms", max);
    bench_json_num(&j, "wall_s", wall_s);
    bench_json_key(&j, "goal_p99_le_5ms");
    bench_json_raw(&j, "%s", p99 <= GOAL_P99_MS ? "true" : "false");
    bench_json_num(&j, "load1", bench_load1());
    int rc = bench_json_finish(&j, out);
    free(lat);
    cleanup();
    return rc;
}
