/*
 * tests/bench/bench_exec_block.c - detector_yara's exec blocking (issue 14):
 * how long the agent takes to answer the kernel for an exec, measured inside
 * the agent (the guard's histograms, from reading the fanotify event to
 * writing the answer, read with `rampartctl plugin yara stats`), and what
 * the exec loop costs with the agent on.
 *
 *   agent:      build/bin/rampartd with detector_yara alone, block_exec on,
 *               exec_deadline_ms 200 (the default), the policy prevent for
 *               the yara ruleset, scans of writes and of process.exec
 *               events off; rules: the project's pack (config/rules/yara,
 *               when present) and one rule of the bench's own that no
 *               program here matches.
 *   rate:       fork + execve + waitpid of one copy of /bin/true in a loop,
 *               RP_BENCH_EXECS (default 5000) per round, ROUNDS rounds
 *               without the agent and ROUNDS with it, interleaved (without,
 *               with, without, ...), each with-round in a fresh agent whose
 *               verdicts come from the saved cache; medians of the rates.
 *   cached:     a fresh agent (verdicts loaded from the last one's saved
 *               cache) and the loop again: the guard's at_once histogram,
 *               p50, p99 and max. It counts every exec the guard answered at
 *               once, the machine's other programs' too (also cached).
 *   first seen: a fresh agent and RP_BENCH_FIRST_SEEN (default 100)
 *               distinct copies of /bin/true padded to 1 MiB with
 *               pseudo-random bytes, each executed once: the guard's scanned
 *               histogram (held, scanned, answered), p50, p99 and max, and
 *               how many the watchdog allowed at the deadline.
 *
 * Goals: p99 of a cached answer <= 50 us; no exec held past the deadline
 * (max of the held ones <= deadline). goal_* say whether this run met them.
 * Needs root (fanotify permission events); prints why and exits 1 without.
 * While it runs, every exec on the machine is answered by the agent.
 *
 *   bench_exec_block OUT.json
 *     RP_BENCH_EXECS=n        execs per loop round (default 5000)
 *     RP_BENCH_ROUNDS=n       rounds with and without the agent (default 3)
 *     RP_BENCH_FIRST_SEEN=n   first-seen 1 MiB programs (default 100)
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <jansson.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#ifndef RP_SOURCE_DIR
#error "RP_SOURCE_DIR must name the source folder (tests/bench/CMakeLists.txt sets it)"
#endif

#define DEADLINE_MS     200
#define PROG_BYTES      (1u << 20)
#define WAIT_START_MS   60000
#define MAX_FIRST_SEEN  10000u
#define GOAL_CACHED_P99 50000.0 /* ns */

static struct bench_paths paths;
static char tmpdir[128], cfg[PATH_MAX], rampartctl[PATH_MAX + 32];
static pid_t agent = -1;

static void cleanup(void)
{
    if (agent > 0) {
        kill(agent, SIGKILL);
        waitpid(agent, NULL, 0);
        agent = -1;
    }
    if (tmpdir[0] && !getenv("RP_BENCH_KEEP"))
        bench_rm_tree(tmpdir);
}

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "bench_exec_block: %s\n", what);
    cleanup();
    exit(1);
}

static void on_signal(int sig)
{
    /* The agent is killed so that nothing on the machine waits for it. */
    if (agent > 0)
        kill(agent, SIGKILL);
    _exit(128 + sig);
}

static void start_agent(const char *log)
{
    char *argv[] = {paths.rampartd, "--foreground", "--config", cfg, NULL};
    /* The last agent's log must not answer for this one. */
    unlink(log);
    agent = bench_spawn(argv, NULL, log);
    if (agent < 0)
        die("fork");
    for (int waited = 0; waited < WAIT_START_MS; waited += 20) {
        /* "started" comes once the control socket answers, after the plugins. */
        if (bench_file_contains(log, "plugin yara: running") &&
            bench_file_contains(log, " started: pid")) {
            if (!bench_file_contains(log, "plugin yara: blocking execs"))
                die("the agent runs without the exec guard (see the log)");
            return;
        }
        if (waitpid(agent, NULL, WNOHANG) == agent) {
            agent = -1;
            fprintf(stderr, "bench_exec_block: the agent exited; its log is %s\n", log);
            die("the agent did not start");
        }
        bench_sleep_ms(20);
    }
    die("the agent did not start in time");
}

static void stop_agent(void)
{
    if (agent <= 0)
        return;
    int st = bench_stop_child(agent, 15000, NULL);
    agent = -1;
    if (st != 0)
        die("the agent did not stop cleanly");
}

/* The guard's stats from `rampartctl plugin yara stats`; the caller frees. */
static json_t *guard_stats(void)
{
    char out[PATH_MAX], err[PATH_MAX];
    snprintf(out, sizeof out, "%s/stats.json", tmpdir);
    snprintf(err, sizeof err, "%s/stats.err", tmpdir);
    char *argv[] = {rampartctl, "--config", cfg, "plugin", "yara", "stats", NULL};
    pid_t pid = bench_spawn(argv, out, err);
    int st = pid < 0 ? -1 : bench_wait_pid(pid, 20000);
    if (st != 0) {
        char msg[512] = "";
        bench_read_file(err, msg, sizeof msg);
        fprintf(stderr, "bench_exec_block: rampartctl exited with %d: %s\n", st, msg);
        die("rampartctl plugin yara stats failed");
    }
    json_error_t e;
    json_t *root = json_load_file(out, 0, &e);
    json_t *g = root ? json_object_get(root, "guard") : NULL;
    if (!json_is_object(g))
        die("the stats have no guard object");
    json_incref(g);
    json_decref(root);
    return g;
}

static double num(json_t *o, const char *a, const char *b, const char *c)
{
    json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    if (!json_is_integer(v))
        die("a figure is missing from the guard's stats");
    return (double)json_integer_value(v);
}

/* fork + execve + waitpid of prog, n times; execs per second. */
static double exec_loop(const char *prog, uint64_t n)
{
    char *argv[] = {(char *)prog, NULL};
    char *envp[] = {NULL};
    int64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            die("fork");
        if (pid == 0) {
            execve(prog, argv, envp);
            _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            die("an exec of the loop failed");
    }
    return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

/* A copy of /bin/true padded to PROG_BYTES with pseudo-random bytes
 * (seeded by seed, so each file is distinct). */
static void make_padded(const char *path, uint64_t seed)
{
    if (bench_copy_file("/bin/true", path, 0755) != 0)
        die("copy /bin/true");
    long long have = bench_file_size(path);
    if (have <= 0 || have > PROG_BYTES)
        die("/bin/true is larger than the padded size");
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        die("open a padded program");
    static uint64_t buf[8192];
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    size_t left = PROG_BYTES - (size_t)have;
    while (left) {
        for (size_t i = 0; i < sizeof buf / sizeof buf[0]; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[i] = x;
        }
        size_t n = left < sizeof buf ? left : sizeof buf;
        if (write(fd, buf, n) != (ssize_t)n)
            die("write a padded program");
        left -= n;
    }
    close(fd);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    if (bench_find_build(&paths) != 0)
        return 1;
    if (geteuid() != 0) {
        fprintf(stderr, "bench_exec_block: needs root (fanotify permission events)\n");
        return 1;
    }
    uint64_t execs, rounds, first_seen;
    if (bench_env_u64("RP_BENCH_EXECS", 5000, 1, 10000000, &execs) != 0 ||
        bench_env_u64("RP_BENCH_ROUNDS", 3, 1, 100, &rounds) != 0 ||
        bench_env_u64("RP_BENCH_FIRST_SEEN", 100, 1, MAX_FIRST_SEEN, &first_seen) != 0) {
        fprintf(stderr, "bench_exec_block: RP_BENCH_EXECS, RP_BENCH_ROUNDS or "
                        "RP_BENCH_FIRST_SEEN out of range\n");
        return 1;
    }
    snprintf(rampartctl, sizeof rampartctl, "%s/bin/rampartctl", paths.build);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rampart-bench-exec-XXXXXX");
    if (!mkdtemp(tmpdir))
        bench_die("mkdtemp");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    /* Rules: the project's pack when present, and one of the bench's own. */
    char rules[PATH_MAX], pack[PATH_MAX], path[PATH_MAX + 64];
    snprintf(rules, sizeof rules, "%s/rules", tmpdir);
    snprintf(pack, sizeof pack, "%s/config/rules/yara", RP_SOURCE_DIR);
    if (mkdir(rules, 0755) != 0)
        die("mkdir rules");
    snprintf(path, sizeof path, "%s/bench.yar", rules);
    if (bench_write_text(path,
                         "rule RP_Bench_Exec_Nothing\n{\n    strings:\n        $a = "
                         "\"rp-bench-exec-block-never-present\"\n    condition:\n        $a\n}\n",
                         0644) != 0)
        die("write the rule");
    struct stat st;
    int have_pack = stat(pack, &st) == 0 && S_ISDIR(st.st_mode);
    char text[4 * PATH_MAX];
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"%s/data\",\"plugin_dir\":\"%s\",\"log_level\":\"info\"},"
             "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false,\"flush_interval_ms\":200},"
             "\"policy\":{\"default\":{\"mode\":\"detect\"},"
             "\"rulesets\":{\"yara\":{\"mode\":\"prevent\"}}},"
             "\"plugins\":{\"yara\":{\"enabled\":true,\"file\":\"detector_yara.so\","
             "\"config\":{\"rule_dirs\":[\"%s\"%s%s%s],\"scan_execs\":false,"
             "\"scan_writes\":false,\"block_exec\":true,\"exec_deadline_ms\":%d}}}}\n",
             tmpdir, paths.plugins, rules, have_pack ? ",\"" : "", have_pack ? pack : "",
             have_pack ? "\"" : "", DEADLINE_MS);
    snprintf(cfg, sizeof cfg, "%s/rampart.json", tmpdir);
    if (bench_write_text(cfg, text, 0644) != 0)
        die("write the config");

    char prog[PATH_MAX], log[PATH_MAX];
    snprintf(prog, sizeof prog, "%s/true-copy", tmpdir);
    if (bench_copy_file("/bin/true", prog, 0755) != 0)
        die("copy /bin/true");
    snprintf(log, sizeof log, "%s/agent.log", tmpdir);

    /* The first agent judges the loop's program (and ld.so) and saves it. */
    start_agent(log);
    exec_loop(prog, 20);
    stop_agent();

    /* Rates, interleaved: without, with, without, with, ... */
    double with[100], without[100];
    for (uint64_t r = 0; r < rounds; r++) {
        without[r] = exec_loop(prog, execs);
        start_agent(log);
        with[r] = exec_loop(prog, execs);
        stop_agent();
    }
    qsort(with, rounds, sizeof with[0], cmp_d);
    qsort(without, rounds, sizeof without[0], cmp_d);
    double rate_with = with[rounds / 2], rate_without = without[rounds / 2];

    /* Cached answers. */
    start_agent(log);
    exec_loop(prog, execs);
    json_t *g = guard_stats();
    double c_count = num(g, "latency", "at_once", "count");
    double c_p50 = num(g, "latency", "at_once", "p50_ns");
    double c_p99 = num(g, "latency", "at_once", "p99_ns");
    double c_max = num(g, "latency", "at_once", "max_ns");
    double c_held = num(g, "held", NULL, NULL);
    json_decref(g);
    stop_agent();

    /* First-seen 1 MiB programs, each executed once. */
    for (uint64_t i = 0; i < first_seen; i++) {
        snprintf(path, sizeof path, "%s/big-%llu", tmpdir, (unsigned long long)i);
        make_padded(path, i + 1);
    }
    start_agent(log);
    for (uint64_t i = 0; i < first_seen; i++) {
        snprintf(path, sizeof path, "%s/big-%llu", tmpdir, (unsigned long long)i);
        exec_loop(path, 1);
    }
    g = guard_stats();
    double s_count = num(g, "latency", "scanned", "count");
    double s_p50 = num(g, "latency", "scanned", "p50_ns");
    double s_p99 = num(g, "latency", "scanned", "p99_ns");
    double s_max = num(g, "latency", "scanned", "max_ns");
    double s_deadline = num(g, "deadline_allowed", NULL, NULL);
    json_decref(g);
    stop_agent();

    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "exec_block");
    bench_json_int(&j, "deadline_ms", DEADLINE_MS);
    bench_json_str(&j, "rules", have_pack ? "config/rules/yara + 1 bench rule" : "1 bench rule");
    bench_json_int(&j, "execs_per_round", (long long)execs);
    bench_json_int(&j, "rounds", (long long)rounds);
    bench_json_num(&j, "rate_without_agent_per_s", rate_without);
    bench_json_num(&j, "rate_with_agent_per_s", rate_with);
    bench_json_num(&j, "rate_ratio", rate_with / rate_without);
    bench_json_array(&j, "rates_without_agent", without, rounds);
    bench_json_array(&j, "rates_with_agent", with, rounds);
    bench_json_int(&j, "cached_answers", (long long)c_count);
    bench_json_int(&j, "cached_held", (long long)c_held);
    bench_json_num(&j, "cached_p50_us", c_p50 / 1e3);
    bench_json_num(&j, "cached_p99_us", c_p99 / 1e3);
    bench_json_num(&j, "cached_max_us", c_max / 1e3);
    bench_json_int(&j, "first_seen_programs", (long long)first_seen);
    bench_json_int(&j, "first_seen_bytes", PROG_BYTES);
    bench_json_int(&j, "first_seen_held", (long long)s_count);
    bench_json_num(&j, "first_seen_p50_us", s_p50 / 1e3);
    bench_json_num(&j, "first_seen_p99_us", s_p99 / 1e3);
    bench_json_num(&j, "first_seen_max_us", s_max / 1e3);
    bench_json_int(&j, "deadline_allowed", (long long)s_deadline);
    bench_json_key(&j, "goal_cached_p99_le_50us");
    bench_json_raw(&j, "%s", c_p99 <= GOAL_CACHED_P99 ? "true" : "false");
    bench_json_key(&j, "goal_max_le_deadline");
    bench_json_raw(&j, "%s",
                   s_max <= DEADLINE_MS * 1e6 && c_max <= DEADLINE_MS * 1e6 ? "true" : "false");
    bench_json_num(&j, "load1", bench_load1());
    int rc = bench_json_finish(&j, out);
    cleanup();
    return rc;
}
