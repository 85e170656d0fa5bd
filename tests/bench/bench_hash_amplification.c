/*
 * tests/bench/bench_hash_amplification.c - how much CPU an unprivileged user
 * can make the process collector spend on hashing executables, per CPU
 * second the user spends (issue 10, item 11).
 *
 * The attacker (a child process running as nobody, uid 65534) runs a program
 * RUNS times (default 20) and changes its times before each run (futimens:
 * a new ctime, so the collector's hash cache cannot answer), in three phases
 * with one agent (rampartd with only collector_process, default config):
 *
 *   baseline: a copy of /bin/true (small: what any exec costs the agent);
 *   sparse:   /bin/true followed by holes up to SIZE MiB (default 100), the
 *             program of the attack in the issue (40 runs of such a file once
 *             cost the agent 16.6 s for 0.39 s of the attacker's);
 *   dense:    /bin/true followed by DENSE MiB (default 32) of real zeros,
 *             which only the per-user budget limits.
 *
 * Attacker CPU: the child's own user + system time (getrusage, children
 * included). Agent CPU: utime + stime of rampartd from /proc/<pid>/stat,
 * before the phase and after it has been quiet (no CPU used for 1 s, at most
 * 60 s). amplification = agent CPU / attacker CPU per phase; the ratio of
 * sparse and dense to the baseline says what the file's size adds. The exec
 * events of each phase are counted by how their hash ended (hashed, or
 * collector_process.hash_skipped and its reason).
 *
 * Needs root (the proc connector, and to run the attacker as nobody).
 *
 *   bench_hash_amplification OUT.json   (RP_BENCH_RUNS, RP_BENCH_SIZE_MB,
 *                                        RP_BENCH_DENSE_MB change the sizes)
 */
#define _GNU_SOURCE
#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define WAIT_START_MS 60000 /* a busy machine starts the agent slowly */
#define QUIET_MS      1000
#define QUIET_MAX_MS  60000
#define NOBODY        65534

static struct bench_paths paths;
static char tmpdir[128];

struct phase {
    const char *name;
    char prog[256];
    double attacker_s, agent_s;
    int agent_quiet; /* the agent went quiet after the phase: agent_s is whole */
    long long hashed, skipped_sparse, skipped_budget, skipped_size, skipped_changed, skipped_other,
        no_hash;
};

/* Builds prog: /bin/true, then extra_mb MiB of holes (sparse) or zeros. */
static void make_prog(const char *path, long long extra_mb, int sparse)
{
    if (bench_copy_file("/bin/true", path, 0755) != 0)
        bench_die("copy /bin/true");
    if (extra_mb > 0) {
        int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (fd < 0)
            bench_die("open the program");
        struct stat st;
        if (fstat(fd, &st) != 0)
            bench_die("fstat the program");
        off_t end = st.st_size + (off_t)extra_mb * 1048576;
        if (sparse) {
            if (ftruncate(fd, end) != 0)
                bench_die("ftruncate");
        } else {
            static char zeros[1 << 16];
            for (off_t left = end - st.st_size; left > 0;) {
                size_t n = left < (off_t)sizeof zeros ? (size_t)left : sizeof zeros;
                ssize_t w = write(fd, zeros, n);
                if (w <= 0)
                    bench_die("write the program");
                left -= w;
            }
        }
        close(fd);
    }
    if (chown(path, NOBODY, NOBODY) != 0)
        bench_die("chown the program");
}

/* The attacker: as nobody, runs prog `runs` times, touching it after each.
 * Returns its CPU seconds (its own and its children's). */
static double attack(const char *prog, int runs)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        bench_die("pipe");
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork");
    if (pid == 0) {
        close(pfd[0]);
        if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0)
            _exit(126);
        int fd = open(prog, O_RDONLY | O_CLOEXEC);
        for (int i = 0; i < runs; i++) {
            if (fd >= 0)
                futimens(fd, NULL); /* a new ctime: another file version */
            pid_t c = fork();
            if (c == 0) {
                execl(prog, prog, (char *)NULL);
                _exit(127);
            }
            if (c < 0)
                _exit(125);
            int st;
            waitpid(c, &st, 0);
        }
        struct rusage self, kids;
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &kids);
        double s = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec +
                            kids.ru_stime.tv_sec) +
                   (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec +
                            kids.ru_stime.tv_usec) /
                       1e6;
        if (write(pfd[1], &s, sizeof s) != (ssize_t)sizeof s)
            _exit(124);
        _exit(0);
    }
    close(pfd[1]);
    double s = -1;
    if (read(pfd[0], &s, sizeof s) != (ssize_t)sizeof s)
        s = -1;
    close(pfd[0]);
    if (bench_wait_pid(pid, 600000) != 0 || s < 0) {
        fprintf(stderr, "bench_hash_amplification: the attacker failed\n");
        exit(1);
    }
    return s;
}

/* Waits until the agent used no CPU for QUIET_MS (at most QUIET_MAX_MS);
 * returns its CPU seconds then. *quiet (if not NULL) tells whether it was
 * quiet: if not, the agent was still busy and a figure taken now is a floor. */
static double agent_quiet_cpu(pid_t agent, int *quiet)
{
    if (quiet)
        *quiet = 0;
    double last = bench_proc_cpu_s(agent);
    int64_t quiet_since = bench_now_ns(), start = quiet_since;
    while (bench_now_ns() - start < (int64_t)QUIET_MAX_MS * 1000000) {
        bench_sleep_ms(100);
        double c = bench_proc_cpu_s(agent);
        if (c > last + 0.005) {
            last = c;
            quiet_since = bench_now_ns();
        } else if (bench_now_ns() - quiet_since >= (int64_t)QUIET_MS * 1000000) {
            if (quiet)
                *quiet = 1;
            break;
        }
    }
    return last;
}

static int line_has(const char *line, const char *needle)
{
    return strstr(line, needle) != NULL;
}

/* Counts the exec events of each phase's program by how their hash ended. */
static void count_events(const char *events, struct phase *ph, int n)
{
    FILE *f = fopen(events, "re");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        if (!line_has(line, "\"event.action\":\"exec\""))
            continue;
        for (int i = 0; i < n; i++) {
            char want[300];
            snprintf(want, sizeof want, "\"process.executable\":\"%s\"", ph[i].prog);
            if (!line_has(line, want))
                continue;
            if (line_has(line, "\"process.hash.sha256\""))
                ph[i].hashed++;
            else if (line_has(line, "\"collector_process.hash_skipped\":\"sparse\""))
                ph[i].skipped_sparse++;
            else if (line_has(line, "\"collector_process.hash_skipped\":\"budget\""))
                ph[i].skipped_budget++;
            else if (line_has(line, "\"collector_process.hash_skipped\":\"size\""))
                ph[i].skipped_size++;
            else if (line_has(line, "\"collector_process.hash_skipped\":\"changed\""))
                ph[i].skipped_changed++;
            else if (line_has(line, "\"collector_process.hash_skipped\""))
                ph[i].skipped_other++;
            else
                ph[i].no_hash++;
        }
    }
    free(line);
    fclose(f);
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : NULL;
    if (bench_find_build(&paths) != 0)
        return 1;
    uint64_t runs, size_mb, dense_mb;
    if (bench_env_u64("RP_BENCH_RUNS", 20, 1, 10000, &runs) != 0 ||
        bench_env_u64("RP_BENCH_SIZE_MB", 100, 1, 65536, &size_mb) != 0 ||
        bench_env_u64("RP_BENCH_DENSE_MB", 32, 1, 4096, &dense_mb) != 0) {
        fprintf(stderr, "bench_hash_amplification: RP_BENCH_RUNS, RP_BENCH_SIZE_MB or "
                        "RP_BENCH_DENSE_MB is not a number in range\n");
        return 1;
    }
    if (geteuid() != 0) {
        fprintf(stderr, "bench_hash_amplification: needs root (proc connector, setuid)\n");
        return 1;
    }
    if (access(paths.rampartd, X_OK) != 0) {
        fprintf(stderr, "bench_hash_amplification: no %s\n", paths.rampartd);
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rp-bench-hash.XXXXXX");
    if (!mkdtemp(tmpdir))
        bench_die("mkdtemp");
    chmod(tmpdir, 0755);

    struct phase ph[3] = {{.name = "baseline"}, {.name = "sparse"}, {.name = "dense"}};
    long long tag = (long long)(bench_now_ns() % 1000000007);
    for (int i = 0; i < 3; i++)
        snprintf(ph[i].prog, sizeof ph[i].prog, "%s/rp-hash-%s-%lld", tmpdir, ph[i].name, tag);
    make_prog(ph[0].prog, 0, 0);
    make_prog(ph[1].prog, (long long)size_mb, 1);
    make_prog(ph[2].prog, (long long)dense_mb, 0);

    char events[256], errlog[256];
    snprintf(events, sizeof events, "%s/data/events.ndjson", tmpdir);
    snprintf(errlog, sizeof errlog, "%s/agent.err", tmpdir);
    pid_t agent = bench_start_process_agent(&paths, tmpdir, errlog, WAIT_START_MS);
    if (agent == -2) {
        fprintf(stderr, "bench_hash_amplification: the agent exited at start (see %s)\n", errlog);
        return 1;
    }
    if (agent < 0) {
        /* Slow is not broken: the figures are missing, and the JSON says why. */
        bench_json j;
        bench_json_begin(&j);
        bench_json_str(&j, "bench", "hash_amplification");
        bench_json_str(&j, "missing",
                       "the agent's process collector was not running within "
                       "60 s of its start: the machine was too busy");
        bench_json_num(&j, "load1", bench_load1());
        int rc = bench_json_finish(&j, out);
        bench_rm_tree(tmpdir);
        return rc == 0 ? 0 : 1;
    }
    double load1 = bench_load1();
    for (int i = 0; i < 3; i++) {
        fprintf(stderr, "bench_hash_amplification: %s, %llu runs\n", ph[i].name,
                (unsigned long long)runs);
        double c0 = agent_quiet_cpu(agent, NULL);
        ph[i].attacker_s = attack(ph[i].prog, (int)runs);
        ph[i].agent_s = agent_quiet_cpu(agent, &ph[i].agent_quiet) - c0;
    }
    bench_stop_child(agent, 15000, NULL);
    count_events(events, ph, 3);

    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "hash_amplification");
    bench_json_int(&j, "runs", (long long)runs);
    bench_json_int(&j, "sparse_mib", (long long)size_mb);
    bench_json_int(&j, "dense_mib", (long long)dense_mb);
    bench_json_num(&j, "load1_before", load1);
    double base_amp = 0;
    for (int i = 0; i < 3; i++) {
        char key[64];
        double amp = ph[i].attacker_s > 0 ? ph[i].agent_s / ph[i].attacker_s : -1;
        if (i == 0)
            base_amp = amp;
        snprintf(key, sizeof key, "%s_attacker_cpu_s", ph[i].name);
        bench_json_num(&j, key, ph[i].attacker_s);
        snprintf(key, sizeof key, "%s_agent_cpu_s", ph[i].name);
        bench_json_num(&j, key, ph[i].agent_s);
        /* Not quiet within QUIET_MAX_MS: the agent was still hashing, and
         * its CPU (and the amplification) is a floor, not the figure. */
        snprintf(key, sizeof key, "%s_agent_cpu_complete", ph[i].name);
        bench_json_int(&j, key, ph[i].agent_quiet);
        snprintf(key, sizeof key, "%s_amplification", ph[i].name);
        bench_json_num(&j, key, amp);
        if (i > 0) {
            snprintf(key, sizeof key, "%s_vs_baseline", ph[i].name);
            bench_json_num(&j, key, base_amp > 0 && amp >= 0 ? amp / base_amp : -1);
        }
        snprintf(key, sizeof key, "%s_execs_hashed", ph[i].name);
        bench_json_int(&j, key, ph[i].hashed);
        snprintf(key, sizeof key, "%s_execs_skipped_sparse", ph[i].name);
        bench_json_int(&j, key, ph[i].skipped_sparse);
        snprintf(key, sizeof key, "%s_execs_skipped_budget", ph[i].name);
        bench_json_int(&j, key, ph[i].skipped_budget);
        snprintf(key, sizeof key, "%s_execs_skipped_size", ph[i].name);
        bench_json_int(&j, key, ph[i].skipped_size);
        snprintf(key, sizeof key, "%s_execs_skipped_changed", ph[i].name);
        bench_json_int(&j, key, ph[i].skipped_changed);
        snprintf(key, sizeof key, "%s_execs_skipped_other", ph[i].name);
        bench_json_int(&j, key, ph[i].skipped_other);
        snprintf(key, sizeof key, "%s_execs_without_hash_or_reason", ph[i].name);
        bench_json_int(&j, key, ph[i].no_hash);
    }
    int rc = bench_json_finish(&j, out);
    bench_rm_tree(tmpdir);
    return rc == 0 ? 0 : 1;
}
