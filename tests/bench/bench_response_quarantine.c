/*
 * tests/bench/bench_response_quarantine.c - responder_quarantine (issue 15):
 * the time from an alert to its file quarantined, for 1 MiB files.
 *
 *   agent:    build/bin/rampartd with the test-only plugin alert_inject
 *             (build/tests/plugins) and responder_quarantine, the policy
 *             prevent with the action quarantine for the ruleset "test".
 *   measure:  RP_BENCH_N (default 100) files of 1 MiB of pseudo-random bytes,
 *             one at a time: the bench writes the file, then injects an alert
 *             naming its path, device, inode and SHA-256 (`rampartctl plugin
 *             inject inject`), and waits for the file to be gone before the
 *             next. Each response.quarantine event carries
 *             rampart.response.latency_us, from the alert's @timestamp to
 *             the outcome (open, checks, encrypted copy fsynced with its
 *             folder, name removed): p50, p99 and max of those, in ms.
 *   baseline: the same bytes copied by the bench itself (read, write,
 *             fsync of the file and of its folder, unlink), p50 in ms: the
 *             disk's share of the figure.
 *
 * Goal: p99 <= 50 ms (goal_p99_le_50ms says whether this run met it). Every
 * wait is bounded; the temporary folder and the agent go at the end or on
 * failure (kept with RP_BENCH_KEEP=1).
 *
 *   bench_response_quarantine OUT.json
 *     RP_BENCH_N=n   files quarantined (default 100, 1 to 10000)
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <rampart/plugin_util.h>

#include <jansson.h>
#include <sys/sysmacros.h>

#define FILE_BYTES    (1u << 20)
#define WAIT_START_MS 30000
#define WAIT_GONE_MS  5000
#define GOAL_P99_MS   50.0
#define MAX_N         10000u

static struct bench_paths paths;
static char tmpdir[128], cfg[PATH_MAX], rampartctl[PATH_MAX + 32], inject_so[PATH_MAX + 64];
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

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_response_quarantine: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    cleanup();
    exit(1);
}

static void on_signal(int sig)
{
    if (agent > 0)
        kill(agent, SIGKILL);
    _exit(128 + sig);
}

static void start_agent(const char *log)
{
    char *argv[] = {paths.rampartd, "--foreground", "--config", cfg, NULL};
    agent = bench_spawn(argv, NULL, log);
    if (agent < 0)
        die("fork: %s", strerror(errno));
    for (int waited = 0; waited < WAIT_START_MS; waited += 20) {
        if (bench_file_contains(log, "plugin quarantine: running") &&
            bench_file_contains(log, " started: pid"))
            return;
        if (waitpid(agent, NULL, WNOHANG) == agent) {
            agent = -1;
            die("the agent exited at start; its log is %s", log);
        }
        bench_sleep_ms(20);
    }
    die("the agent did not start within %d ms", WAIT_START_MS);
}

/* 1 MiB of pseudo-random bytes (seeded, so each file differs) into buf. */
static void fill(uint64_t *buf, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < FILE_BYTES / sizeof *buf; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = x;
    }
}

static void write_file(const char *path, const void *buf)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, FILE_BYTES) != (ssize_t)FILE_BYTES || close(fd) != 0)
        die("write %s: %s", path, strerror(errno));
}

/* The baseline: read path, write a copy, fsync it and its folder, unlink;
 * ms. */
static double copy_fsync_ms(const char *path, int dirfd, void *buf)
{
    int64_t t0 = bench_now_ns();
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = openat(dirfd, "baseline.copy", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0 || read(in, buf, FILE_BYTES) != (ssize_t)FILE_BYTES ||
        write(out, buf, FILE_BYTES) != (ssize_t)FILE_BYTES || fsync(out) != 0 || fsync(dirfd) != 0)
        die("baseline copy of %s: %s", path, strerror(errno));
    close(in);
    close(out);
    if (unlinkat(dirfd, "baseline.copy", 0) != 0)
        die("baseline unlink: %s", strerror(errno));
    return (double)(bench_now_ns() - t0) / 1e6;
}

/* Injects the alert naming path; its event.id into id. */
static void inject(const char *path, const void *buf, char *id, size_t idlen)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        die("stat %s: %s", path, strerror(errno));
    uint8_t sha[32];
    rp_util_sha256 s;
    rp_util_sha256_init(&s);
    rp_util_sha256_update(&s, buf, FILE_BYTES);
    rp_util_sha256_final(&s, sha);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", sha[i]);
    char json[PATH_MAX + 512];
    snprintf(json, sizeof json,
             "{\"rule_id\":\"bench.quarantine\",\"ruleset\":\"test\",\"reason\":\"bench\","
             "\"fields\":{\"file.path\":\"%s\",\"file.device\":\"%u:%u\",\"file.inode\":\"%llu\","
             "\"file.hash.sha256\":\"%s\"}}",
             path, major(sb.st_dev), minor(sb.st_dev), (unsigned long long)sb.st_ino, hex);
    char out[PATH_MAX], err[PATH_MAX];
    snprintf(out, sizeof out, "%s/inject.out", tmpdir);
    snprintf(err, sizeof err, "%s/inject.err", tmpdir);
    char *argv[] = {rampartctl, "--config", cfg, "plugin", "inject", "inject", json, NULL};
    pid_t pid = bench_spawn(argv, out, err);
    int st = pid < 0 ? -1 : bench_wait_pid(pid, 20000);
    if (st != 0) {
        char msg[512] = "";
        bench_read_file(err, msg, sizeof msg);
        die("rampartctl plugin inject exited with %d: %s", st, msg);
    }
    json_error_t je;
    json_t *r = json_load_file(out, 0, &je);
    const char *eid = json_string_value(json_object_get(r, "event_id"));
    if (!eid)
        die("inject replied without an event_id");
    snprintf(id, idlen, "%s", eid);
    json_decref(r);
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    if (bench_find_build(&paths) != 0)
        return 1;
    uint64_t n;
    if (bench_env_u64("RP_BENCH_N", 100, 1, MAX_N, &n) != 0) {
        fprintf(stderr, "bench_response_quarantine: RP_BENCH_N must be 1 to %u\n", MAX_N);
        return 1;
    }
    snprintf(rampartctl, sizeof rampartctl, "%s/bin/rampartctl", paths.build);
    snprintf(inject_so, sizeof inject_so, "%s/tests/plugins/alert_inject.so", paths.build);
    if (access(inject_so, R_OK) != 0)
        die("%s: %s (built with the tests)", inject_so, strerror(errno));
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rampart-bench-rq-XXXXXX");
    if (!mkdtemp(tmpdir))
        bench_die("mkdtemp");
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);

    char work[PATH_MAX], log[PATH_MAX], path[PATH_MAX + 64], events[PATH_MAX];
    snprintf(work, sizeof work, "%s/work", tmpdir);
    snprintf(log, sizeof log, "%s/agent.log", tmpdir);
    snprintf(events, sizeof events, "%s/data/events.ndjson", tmpdir);
    if (mkdir(work, 0755) != 0)
        die("mkdir %s: %s", work, strerror(errno));
    char text[4 * PATH_MAX];
    snprintf(text, sizeof text,
             "{\"agent\":{\"data_dir\":\"%s/data\",\"plugin_dir\":\"%s\",\"log_level\":\"info\"},"
             "\"output\":{\"file\":\"events.ndjson\",\"stdout\":false,\"flush_interval_ms\":100},"
             "\"policy\":{\"default\":{\"mode\":\"detect\"},\"rulesets\":{\"test\":"
             "{\"mode\":\"prevent\",\"actions\":[\"quarantine\"]}}},"
             "\"plugins\":{\"inject\":{\"enabled\":true,\"file\":\"%s\"},"
             "\"quarantine\":{\"enabled\":true,\"file\":\"responder_quarantine.so\","
             "\"config\":{\"max_vault_bytes\":%llu}}}}\n",
             tmpdir, paths.plugins, inject_so, (unsigned long long)(n + 4) * (FILE_BYTES + 8192));
    snprintf(cfg, sizeof cfg, "%s/rampart.json", tmpdir);
    if (bench_write_text(cfg, text, 0644) != 0)
        die("write the config");

    uint64_t *buf = malloc(FILE_BYTES), *copy = malloc(FILE_BYTES);
    double *base = calloc(n, sizeof *base), *lat = calloc(n, sizeof *lat);
    char(*ids)[64] = calloc(n, sizeof *ids);
    if (!buf || !copy || !base || !lat || !ids)
        die("out of memory");
    int wfd = open(work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (wfd < 0)
        die("open %s: %s", work, strerror(errno));

    start_agent(log);
    for (uint64_t i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/f-%llu", work, (unsigned long long)i);
        fill(buf, i + 1);
        write_file(path, buf);
        base[i] = copy_fsync_ms(path, wfd, copy);
        inject(path, buf, ids[i], sizeof ids[i]);
        int waited = 0;
        while (access(path, F_OK) == 0) {
            if (waited >= WAIT_GONE_MS)
                die("%s was not quarantined within %d ms; see %s and %s", path, WAIT_GONE_MS, log,
                    events);
            bench_sleep_ms(1);
            waited += 1;
        }
    }
    close(wfd);
    int st = bench_stop_child(agent, 15000, NULL);
    agent = -1;
    if (st != 0)
        die("the agent did not stop cleanly (%d)", st);

    /* The responses, by the alert each names. */
    FILE *f = fopen(events, "r");
    if (!f)
        die("%s: %s", events, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    uint64_t got = 0;
    while (getline(&line, &cap, f) > 0) {
        if (!strstr(line, "\"rampart.response.action\":\"quarantine\""))
            continue;
        json_t *e = json_loads(line, 0, NULL);
        const char *aid = json_string_value(json_object_get(e, "rampart.response.alert_id"));
        const char *oc = json_string_value(json_object_get(e, "rampart.response.outcome"));
        json_t *us = json_object_get(e, "rampart.response.latency_us");
        for (uint64_t i = 0; aid && i < n; i++) {
            if (strcmp(ids[i], aid) != 0)
                continue;
            if (!oc || strcmp(oc, "done") != 0 || !json_is_integer(us))
                die("the response to alert %s is not done: %s", aid, line);
            lat[i] = (double)json_integer_value(us) / 1e3;
            got++;
        }
        json_decref(e);
    }
    free(line);
    fclose(f);
    if (got != n)
        die("%llu responses done for %llu alerts", (unsigned long long)got, (unsigned long long)n);

    double p50 = bench_quantile(lat, n, 0.5), p99 = bench_quantile(lat, n, 0.99);
    double mx = bench_quantile(lat, n, 1.0), b50 = bench_quantile(base, n, 0.5);
    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "response_quarantine");
    bench_json_int(&j, "files", (long long)n);
    bench_json_int(&j, "file_bytes", FILE_BYTES);
    bench_json_num(&j, "p50_ms", p50);
    bench_json_num(&j, "p99_ms", p99);
    bench_json_num(&j, "max_ms", mx);
    bench_json_num(&j, "baseline_copy_fsync_p50_ms", b50);
    bench_json_num(&j, "ratio_p50_to_baseline", b50 > 0 ? p50 / b50 : 0);
    bench_json_key(&j, "goal_p99_le_50ms");
    bench_json_raw(&j, "%s", p99 <= GOAL_P99_MS ? "true" : "false");
    bench_json_num(&j, "load1", bench_load1());
    int rc = bench_json_finish(&j, out);
    free(buf);
    free(copy);
    free(base);
    free(lat);
    free(ids);
    cleanup();
    return rc;
}
