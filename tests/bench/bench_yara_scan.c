/*
 * tests/bench/bench_yara_scan.c - detector_yara's scanner (scan.h) against
 * the yara command line on the same rules and files, in the same run.
 *
 * The tree: a temporary folder of generated files, mixed in size (1 KiB to
 * 8 MiB, log-uniform) and type: text, random binary and ELF programs
 * copied from /usr/bin, BENCH_YARA_MB megabytes in all (default 200; set it
 * small for a quick check). The rules: the Linux rules of the YARA corpus
 * (RP_YARA_CORPUS, Elastic's public rules: the files whose name starts with
 * Linux_, copied into the temporary folder, never into the project) plus
 * the project's own pack (config/rules/yara) when it exists; the files our
 * loader compiles are also compiled with yarac, so both sides run the same
 * rule set precompiled and neither pays compilation.
 *
 * Runs, after the tree is read once (page cache warm for both):
 *  - cli: `yara -p 1 -w -r -C rules.yarc TREE` (one scanning thread). Its
 *    fixed cost (process start, loading the compiled rules), measured on an
 *    empty folder, is taken off: the rate compared is the scanning alone;
 *  - first: our scanner on one thread over the same files, without the
 *    verdict cache (DY_SCAN_NO_CACHE), each file opened and judged through
 *    dy_scan_fd;
 *  - the cli and first runs alternate BENCH_YARA_RUNS times (default 3);
 *    medians are reported;
 *  - then one pass with the cache fills it, and the rescan of the unchanged
 *    tree (each file opened, dy_scan_fd answered by the cache) runs 5
 *    times; rescan_stat is the same from a stat alone (dy_scan_stat).
 *
 * Matches: the rules each side found per file; mismatch_files counts the
 * files where the count differs or a rule we name is not among the CLI's.
 * Goals (issue 14): first >= 1.0x the CLI, rescan >= 50x the CLI.
 *
 * Usage: bench_yara_scan OUTPUT.json.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "bench_common.h"

#include "scan.h"

#include <rampart/plugin.h>

#include <yara.h>

#ifndef RP_YARA_CORPUS
#define RP_YARA_CORPUS "/work/shared/corpus/yara"
#endif

#define MAX_FILES      20000
#define RESCAN_RUNS    5
#define MAX_RUNS       9
#define MAX_RULE_FILES 4096
#define FILE_MIN       1024u
#define FILE_MAX       (8u * 1024u * 1024u)
#define SAMPLES_MAX    40 /* files planted to match (plant_samples) */

struct file {
    char path[160];
    uint64_t size;
    uint32_t ours;   /* rules we found */
    uint32_t cli;    /* rules the CLI found */
    uint32_t n_kept; /* names we kept (scan.h keeps DY_SCAN_MATCHES_MAX) */
    char kept[4][64];
};

static struct file *files;
static size_t n_files;
static uint64_t tree_bytes;

/* ---- the tree ---- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void write_all(int fd, const void *p, size_t n)
{
    const uint8_t *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0)
            bench_die("write");
        b += w;
        n -= (size_t)w;
    }
}

static const char *const words[] = {
    "the",    "agent",  "reads",   "events", "from", "the",   "kernel", "and",
    "writes", "alerts", "process", "file",   "open", "close", "user",   "config",
    "int",    "return", "static",  "const",  "char", "void",  "if",     "while",
    "http",   "server", "error",   "debug",  "info", "path",  "/usr",   "lib",
};

static void gen_text(int fd, uint64_t size)
{
    char buf[8192];
    uint64_t done = 0;
    while (done < size) {
        size_t n = 0;
        while (n < sizeof(buf) - 16) {
            const char *w = words[next_rand() % (sizeof(words) / sizeof(words[0]))];
            size_t l = strlen(w);
            memcpy(buf + n, w, l);
            n += l;
            buf[n++] = next_rand() % 12 == 0 ? '\n' : ' ';
        }
        if (n > size - done)
            n = (size_t)(size - done);
        write_all(fd, buf, n);
        done += n;
    }
}

static void gen_random(int fd, uint64_t size)
{
    uint64_t buf[1024];
    uint64_t done = 0;
    while (done < size) {
        for (size_t i = 0; i < 1024; i++)
            buf[i] = next_rand();
        size_t n = sizeof(buf);
        if (n > size - done)
            n = (size_t)(size - done);
        write_all(fd, buf, n);
        done += n;
    }
}

/* ELF programs of /usr/bin up to FILE_MAX, in name order. */
static char (*elves)[300];
static size_t n_elves;

static void find_elves(void)
{
    DIR *d = opendir("/usr/bin");
    if (!d)
        return;
    elves = calloc(4096, sizeof(*elves));
    if (!elves)
        bench_die("calloc");
    struct dirent *e;
    while ((e = readdir(d)) && n_elves < 4096) {
        char p[300];
        snprintf(p, sizeof(p), "/usr/bin/%s", e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 4096 ||
            st.st_size > (off_t)FILE_MAX)
            continue;
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        char m[4];
        if (read(fd, m, 4) == 4 && memcmp(m,
                                          "\x7f"
                                          "ELF",
                                          4) == 0)
            snprintf(elves[n_elves++], sizeof(elves[0]), "%s", p);
        close(fd);
    }
    closedir(d);
    qsort(elves, n_elves, sizeof(elves[0]), (int (*)(const void *, const void *))strcmp);
}

static void make_tree(const char *root, uint64_t target)
{
    files = calloc(MAX_FILES, sizeof(*files));
    if (!files)
        bench_die("calloc");
    find_elves();
    size_t elf_next = 0;
    while (tree_bytes < target && n_files < MAX_FILES - SAMPLES_MAX) {
        struct file *f = &files[n_files];
        char dir[160];
        if (snprintf(dir, sizeof(dir), "%s/d%02zu", root, n_files % 16) >= (int)sizeof(dir))
            bench_die("tree path too long");
        mkdir(dir, 0700);
        uint64_t kind = next_rand() % 10;
        if (kind < 3 && elf_next < n_elves) {
            /* Every seventh ELF of the list, for variety across /usr/bin. */
            const char *src = elves[(elf_next * 7) % n_elves];
            elf_next++;
            if (snprintf(f->path, sizeof(f->path), "%s/elf%05zu", dir, n_files) >=
                (int)sizeof(f->path))
                bench_die("path too long");
            if (bench_copy_file(src, f->path, 0600) != 0)
                bench_die(src);
        } else {
            /* Most files small, as on a real disk: 70 % of 1 to 16 KiB,
             * 25 % up to 512 KiB, 5 % up to 8 MiB (log-uniform within). */
            uint64_t band = next_rand() % 20, lo = FILE_MIN, span = 4;
            if (band >= 14 && band < 19)
                lo = 16u * 1024u, span = 5;
            else if (band == 19)
                lo = 512u * 1024u, span = 4;
            uint64_t size = lo << (next_rand() % span);
            size += next_rand() % size;
            if (snprintf(f->path, sizeof(f->path), "%s/%s%05zu", dir, kind < 7 ? "txt" : "bin",
                         n_files) >= (int)sizeof(f->path))
                bench_die("path too long");
            int fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
            if (fd < 0)
                bench_die(f->path);
            if (kind < 7)
                gen_text(fd, size);
            else
                gen_random(fd, size);
            close(fd);
        }
        struct stat st;
        if (stat(f->path, &st) != 0)
            bench_die(f->path);
        f->size = (uint64_t)st.st_size;
        tree_bytes += f->size;
        n_files++;
    }
}

/* ---- planted samples ----
 *
 * The corpus's rules find nothing in generated files, and a comparison of
 * zero matches with zero proves little. So for some rules whose strings are
 * all plain text (no modifier beyond ascii, fullword, nocase) and whose
 * condition is "all of them" or "N of them", a file holding those strings,
 * between lines of text, is added to the tree: both sides must find them. */

/* Parses the YARA text string starting after the opening quote at *p
 * into out (escapes \\ \" \n \t \r \xHH); returns the end (after the
 * closing quote), or NULL. */
static const char *parse_text(const char *p, char *out, size_t cap, size_t *len)
{
    size_t n = 0;
    while (*p && *p != '"') {
        char c = *p++;
        if (c == '\\') {
            char e = *p++;
            if (e == 'n')
                c = '\n';
            else if (e == 't')
                c = '\t';
            else if (e == 'r')
                c = '\r';
            else if (e == 'x' && p[0] && p[1]) {
                char hx[3] = {p[0], p[1], 0};
                c = (char)strtol(hx, NULL, 16);
                p += 2;
            } else if (e)
                c = e;
            else
                return NULL;
        }
        if (n + 1 >= cap)
            return NULL;
        out[n++] = c;
    }
    if (*p != '"')
        return NULL;
    *len = n;
    return p + 1;
}

static bool modifiers_ok(const char *p)
{
    char w[32];
    int used;
    while (sscanf(p, " %31s%n", w, &used) == 1) {
        if (strcmp(w, "ascii") != 0 && strcmp(w, "fullword") != 0 && strcmp(w, "nocase") != 0)
            return w[0] == '/' && w[1] == '/'; /* a comment ends the line */
        p += used;
    }
    return true;
}

static size_t plant_samples(const char *rdir, const char *tree)
{
    DIR *d = opendir(rdir);
    if (!d)
        return 0;
    char(*names)[256] = calloc(MAX_RULE_FILES, sizeof(*names));
    size_t n_names = 0;
    struct dirent *e;
    while (names && (e = readdir(d)) && n_names < MAX_RULE_FILES)
        if (e->d_name[0] != '.')
            snprintf(names[n_names++], sizeof(names[0]), "%s", e->d_name);
    closedir(d);
    if (!names)
        return 0;
    qsort(names, n_names, sizeof(names[0]), (int (*)(const void *, const void *))strcmp);
    size_t planted = 0;
    static char body[64 * 1024];
    for (size_t i = 0; i < n_names && planted < SAMPLES_MAX; i++) {
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", rdir, names[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        char line[2048];
        size_t blen = 0;
        bool in_rule = false, usable = false, cond = false, wrote = false;
        while (fgets(line, sizeof(line), f) && planted < SAMPLES_MAX) {
            const char *l = line + strspn(line, " \t");
            if (strncmp(l, "rule ", 5) == 0) {
                in_rule = usable = true;
                cond = wrote = false;
                blen = 0;
                continue;
            }
            if (!in_rule)
                continue;
            if (l[0] == '$' && !cond) {
                const char *q = strchr(l, '=');
                q = q ? q + 1 + strspn(q + 1, " \t") : NULL;
                size_t len;
                if (!q || *q != '"' || blen + 2048 > sizeof(body)) {
                    usable = false;
                    continue;
                }
                q = parse_text(q + 1, body + blen, sizeof(body) - blen - 1, &len);
                if (!q || !modifiers_ok(q)) {
                    usable = false;
                    continue;
                }
                blen += len;
                body[blen++] = '\n';
            } else if (strncmp(l, "condition:", 10) == 0) {
                cond = true;
            } else if (cond && !wrote && l[0] != '\n') {
                int k = 0, used = 0;
                bool of_them = strncmp(l, "all of them", 11) == 0 ||
                               (sscanf(l, "%d of them%n", &k, &used) == 1 && used > 0);
                wrote = true;
                if (usable && of_them && blen > 0) {
                    char sp[300];
                    if (snprintf(sp, sizeof(sp), "%s/sample%03zu", tree, planted) >=
                        (int)sizeof(sp))
                        bench_die("sample path too long");
                    int fd = open(sp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                    if (fd < 0)
                        bench_die(sp);
                    gen_text(fd, 2000);
                    write_all(fd, "\n", 1);
                    write_all(fd, body, blen);
                    gen_text(fd, 2000);
                    close(fd);
                    struct file *sf = &files[n_files++];
                    if (snprintf(sf->path, sizeof(sf->path), "%s", sp) >= (int)sizeof(sf->path))
                        bench_die("path too long");
                    struct stat st;
                    if (stat(sp, &st) != 0)
                        bench_die(sp);
                    sf->size = (uint64_t)st.st_size;
                    tree_bytes += sf->size;
                    planted++;
                }
            } else if (l[0] == '}') {
                in_rule = false;
            }
        }
        fclose(f);
    }
    free(names);
    return planted;
}

/* Reads every file once: the page cache is warm for both sides. */
static void warm(void)
{
    static char buf[1 << 16];
    for (size_t i = 0; i < n_files; i++) {
        int fd = open(files[i].path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            bench_die(files[i].path);
        while (read(fd, buf, sizeof(buf)) > 0)
            ;
        close(fd);
    }
}

/* ---- rules ---- */

struct rule_files {
    char (*path)[400];
    size_t n;
};

static void on_report(void *ctx, const struct dy_file_report *rep)
{
    struct rule_files *rf = ctx;
    if (rep->status == DY_ST_COMPILED && rf->n < MAX_RULE_FILES)
        snprintf(rf->path[rf->n++], sizeof(rf->path[0]), "%s", rep->path);
}

/* Copies the corpus's Linux_* rule files into dst. */
static size_t copy_linux_rules(const char *dst)
{
    char src[512];
    snprintf(src, sizeof(src), "%s/yara/rules", RP_YARA_CORPUS);
    DIR *d = opendir(src);
    if (!d) {
        snprintf(src, sizeof(src), "%s/rules", RP_YARA_CORPUS);
        d = opendir(src);
    }
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, "Linux_", 6) != 0)
            continue;
        char from[800], to[800];
        snprintf(from, sizeof(from), "%s/%s", src, e->d_name);
        snprintf(to, sizeof(to), "%s/%s", dst, e->d_name);
        if (bench_copy_file(from, to, 0600) != 0)
            bench_die(from);
        n++;
    }
    closedir(d);
    return n;
}

/* Runs argv; stdout to out_path (may be NULL: /dev/null). Returns the
 * wall time in ns, or dies. */
static int64_t run(char *const argv[], const char *out_path)
{
    int64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0)
        bench_die("fork");
    if (pid == 0) {
        int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            _exit(126);
        dup2(fd, 1);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0)
            dup2(dn, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0)
        bench_die("waitpid");
    int64_t t = bench_now_ns() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s: %s exited with %d\n", RP_BENCH_NAME, argv[0],
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        exit(1);
    }
    return t;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(((const struct file *)a)->path, ((const struct file *)b)->path);
}

/* Reads the CLI's output ("rule path" per line) into files[].cli; returns
 * the matches. files must be sorted by path. */
static uint64_t read_cli(const char *out, char (**names)[128], size_t **owner, size_t *n_names)
{
    FILE *f = fopen(out, "r");
    if (!f)
        bench_die(out);
    char line[1024];
    uint64_t n = 0;
    size_t cap = 0;
    while (fgets(line, sizeof(line), f)) {
        char *sp = strchr(line, ' ');
        if (!sp)
            continue;
        *sp = '\0';
        char *path = sp + 1;
        path[strcspn(path, "\n")] = '\0';
        struct file key;
        snprintf(key.path, sizeof(key.path), "%s", path);
        struct file *hit = bsearch(&key, files, n_files, sizeof(*files), cmp_path);
        if (!hit)
            continue;
        hit->cli++;
        n++;
        if (*n_names == cap) {
            cap = cap ? cap * 2 : 1024;
            *names = realloc(*names, cap * sizeof(**names));
            *owner = realloc(*owner, cap * sizeof(**owner));
            if (!*names || !*owner)
                bench_die("realloc");
        }
        if (snprintf((*names)[*n_names], sizeof((*names)[0]), "%s", line) >=
            (int)sizeof((*names)[0]))
            continue; /* no rule name is this long */
        (*owner)[*n_names] = (size_t)(hit - files);
        (*n_names)++;
    }
    fclose(f);
    return n;
}

/* ---- our scanner ---- */

/* One pass over the tree; returns the wall time in ns. keep: record the
 * matches in files[]. */
static int64_t pass(struct dy_scan_thread *t, const struct dy_ruleset *rs, uint32_t flags,
                    bool keep, uint64_t *matches, uint64_t *hits)
{
    struct dy_scan_result r;
    *matches = 0;
    *hits = 0;
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n_files; i++) {
        int fd = open(files[i].path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            bench_die(files[i].path);
        if (dy_scan_fd(t, rs, fd, 0, flags | DY_SCAN_NO_BUDGET, &r) != 0)
            bench_die("dy_scan_fd");
        close(fd);
        if (r.outcome != DY_SCAN_CLEAN && r.outcome != DY_SCAN_MALICIOUS) {
            fprintf(stderr, "%s: %s: %s %s\n", RP_BENCH_NAME, files[i].path,
                    dy_scan_outcome_name(r.outcome), r.msg);
            exit(1);
        }
        *matches += r.n_rules;
        *hits += r.from_cache;
        if (keep) {
            files[i].ours = r.n_rules;
            files[i].n_kept = 0;
            for (uint32_t k = 0; k < r.n_matches && k < 4; k++)
                snprintf(files[i].kept[files[i].n_kept++], sizeof(files[i].kept[0]), "%s",
                         r.matches[k].rule->identifier);
        }
    }
    return bench_now_ns() - t0;
}

static int64_t pass_stat(struct dy_scanner *s, const struct dy_ruleset *rs, uint64_t *hits)
{
    struct dy_scan_result r;
    *hits = 0;
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n_files; i++) {
        struct stat st;
        if (lstat(files[i].path, &st) != 0)
            bench_die(files[i].path);
        if (dy_scan_stat(s, rs, &st, &r) == 0)
            (*hits)++;
    }
    return bench_now_ns() - t0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT.json\n", argv[0]);
        return 64;
    }
    uint64_t mb, runs;
    if (bench_env_u64("BENCH_YARA_MB", 200, 1, 4096, &mb) != 0 ||
        bench_env_u64("BENCH_YARA_RUNS", 3, 1, MAX_RUNS, &runs) != 0) {
        fprintf(stderr, "%s: BENCH_YARA_MB (1..4096) or BENCH_YARA_RUNS (1..%d) is wrong\n",
                RP_BENCH_NAME, MAX_RUNS);
        return 64;
    }
    const char *tmp = getenv("TMPDIR");
    char root[256];
    snprintf(root, sizeof(root), "%s/bench_yara_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root))
        bench_die("mkdtemp");
    char tree[300], rdir[300], yarc[300], empty[300], out[300];
    snprintf(tree, sizeof(tree), "%s/tree", root);
    snprintf(rdir, sizeof(rdir), "%s/rules", root);
    snprintf(yarc, sizeof(yarc), "%s/rules.yarc", root);
    snprintf(empty, sizeof(empty), "%s/empty", root);
    snprintf(out, sizeof(out), "%s/cli.out", root);
    if (mkdir(tree, 0700) != 0 || mkdir(rdir, 0700) != 0 || mkdir(empty, 0700) != 0)
        bench_die("mkdir");

    /* Rules: ours compiles them; the files it compiled go to yarac. */
    size_t linux_files = copy_linux_rules(rdir);
    char own[400];
    snprintf(own, sizeof(own), "%s/config/rules/yara", RP_SOURCE_DIR);
    struct stat ost;
    bool has_own = stat(own, &ost) == 0 && S_ISDIR(ost.st_mode);
    if (linux_files == 0 && !has_own) {
        fprintf(stderr, "%s: no rules: neither %s nor %s\n", RP_BENCH_NAME, RP_YARA_CORPUS, own);
        bench_rm_tree(root);
        return 1;
    }
    struct dy_scan_opts so = {.timeout_s = 600, .max_file_bytes = 256u * 1024u * 1024u};
    struct dy_scanner *s = NULL;
    if (dy_scanner_create(&so, &s) != 0)
        bench_die("dy_scanner_create");
    const char *dirs[2] = {rdir, own};
    struct dy_load_opts lo = {.dirs = dirs, .n_dirs = has_own ? 2 : 1, .cache_dirfd = -1};
    struct rule_files rf = {.path = calloc(MAX_RULE_FILES, 400)};
    if (!rf.path)
        bench_die("calloc");
    struct dy_rules *rules = NULL;
    struct dy_load_stats lst;
    char err[256] = "";
    if (dy_rules_load(&lo, on_report, &rf, &rules, &lst, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", RP_BENCH_NAME, err);
        return 1;
    }
    struct dy_ruleset *rs = NULL;
    if (dy_ruleset_create(rules, &rs) != 0)
        bench_die("dy_ruleset_create");
    char **yarac = calloc(rf.n + 3, sizeof(char *));
    if (!yarac)
        bench_die("calloc");
    yarac[0] = "yarac";
    for (size_t i = 0; i < rf.n; i++)
        yarac[1 + i] = rf.path[i];
    yarac[1 + rf.n] = yarc;
    run(yarac, NULL);

    make_tree(tree, mb * 1024 * 1024);
    size_t planted = n_files < MAX_FILES - SAMPLES_MAX ? plant_samples(rdir, tree) : 0;
    qsort(files, n_files, sizeof(*files), cmp_path);
    warm();

    struct dy_scan_thread *t = NULL;
    if (dy_scan_thread_create(s, &t) != 0)
        bench_die("dy_scan_thread_create");

    /* The CLI's fixed cost: start and load the compiled rules. */
    char *cli_empty[] = {"yara", "-p", "1", "-w", "-r", "-C", yarc, empty, NULL};
    char *cli_tree[] = {"yara", "-p", "1", "-w", "-r", "-C", yarc, tree, NULL};
    double fixed[MAX_RUNS], cli[MAX_RUNS], first[MAX_RUNS], rescan[RESCAN_RUNS],
        rescan_stat[RESCAN_RUNS];
    uint64_t m_ours = 0, hits = 0;
    for (uint64_t i = 0; i < runs; i++) {
        fixed[i] = (double)run(cli_empty, NULL) / 1e6;
        cli[i] = (double)run(cli_tree, i == 0 ? out : NULL) / 1e6;
        first[i] = (double)pass(t, rs, DY_SCAN_NO_CACHE, i == 0, &m_ours, &hits) / 1e6;
    }
    char(*names)[128] = NULL;
    size_t *owner = NULL, n_names = 0;
    uint64_t m_cli = read_cli(out, &names, &owner, &n_names);
    size_t mismatch = 0;
    for (size_t i = 0; i < n_files; i++) {
        bool bad = files[i].ours != files[i].cli;
        for (uint32_t k = 0; k < files[i].n_kept && !bad; k++) {
            bool found = false;
            for (size_t j = 0; j < n_names && !found; j++)
                found = owner[j] == i && strcmp(names[j], files[i].kept[k]) == 0;
            bad = !found;
        }
        if (bad && mismatch < 5)
            fprintf(stderr, "%s: mismatch %s: ours %u, cli %u\n", RP_BENCH_NAME, files[i].path,
                    files[i].ours, files[i].cli);
        mismatch += bad;
    }

    /* Fill the cache, then rescan the unchanged tree. */
    uint64_t m_fill, m_rescan = 0, h_rescan = 0, h_stat = 0;
    double fill_ms = (double)pass(t, rs, 0, false, &m_fill, &hits) / 1e6;
    for (int i = 0; i < RESCAN_RUNS; i++) {
        rescan[i] = (double)pass(t, rs, 0, false, &m_rescan, &h_rescan) / 1e6;
        rescan_stat[i] = (double)pass_stat(s, rs, &h_stat) / 1e6;
    }

    double fixed_ms = bench_median(fixed, runs);
    double cli_ms = bench_median(cli, runs);
    double cli_scan_ms = cli_ms - fixed_ms > 0.001 ? cli_ms - fixed_ms : 0.001;
    double first_ms = bench_median(first, runs);
    double rescan_ms = bench_median(rescan, RESCAN_RUNS);
    double rstat_ms = bench_median(rescan_stat, RESCAN_RUNS);
    double mbytes = (double)tree_bytes / 1e6;
    double load[3];
    bench_loadavg(load);

    bench_json j;
    bench_json_begin(&j);
    bench_json_str(&j, "bench", "yara_scan");
    bench_json_int(&j, "files", (long long)n_files);
    bench_json_num(&j, "mb", mbytes);
    bench_json_int(&j, "elf_files_available", (long long)n_elves);
    bench_json_int(&j, "planted_samples", (long long)planted);
    bench_json_int(&j, "rule_files", (long long)rf.n);
    bench_json_int(&j, "rules", dy_rules_count(rules));
    bench_json_str(&j, "own_ruleset", has_own ? own : "absent");
    bench_json_int(&j, "runs", (long long)runs);
    bench_json_num(&j, "cli_ms", cli_ms);
    bench_json_num(&j, "cli_fixed_ms", fixed_ms);
    bench_json_num(&j, "cli_mb_s", mbytes / (cli_scan_ms / 1e3));
    bench_json_num(&j, "cli_files_s", (double)n_files / (cli_scan_ms / 1e3));
    bench_json_num(&j, "cli_mb_s_with_fixed", mbytes / (cli_ms / 1e3));
    bench_json_num(&j, "first_ms", first_ms);
    bench_json_num(&j, "first_mb_s", mbytes / (first_ms / 1e3));
    bench_json_num(&j, "first_files_s", (double)n_files / (first_ms / 1e3));
    bench_json_num(&j, "fill_cache_ms", fill_ms);
    bench_json_num(&j, "rescan_ms", rescan_ms);
    bench_json_num(&j, "rescan_mb_s", mbytes / (rescan_ms / 1e3));
    bench_json_num(&j, "rescan_files_s", (double)n_files / (rescan_ms / 1e3));
    bench_json_num(&j, "rescan_stat_ms", rstat_ms);
    bench_json_num(&j, "rescan_stat_files_s", (double)n_files / (rstat_ms / 1e3));
    bench_json_num(&j, "ratio_first_cli", cli_scan_ms / first_ms);
    bench_json_num(&j, "ratio_first_cli_with_fixed", cli_ms / first_ms);
    bench_json_num(&j, "ratio_rescan_cli", cli_scan_ms / rescan_ms);
    bench_json_num(&j, "ratio_rescan_stat_cli", cli_scan_ms / rstat_ms);
    bench_json_array(&j, "cli_ms_runs", cli, runs);
    bench_json_array(&j, "first_ms_runs", first, runs);
    bench_json_int(&j, "matches_cli", (long long)m_cli);
    bench_json_int(&j, "matches_ours", (long long)m_ours);
    bench_json_int(&j, "mismatch_files", (long long)mismatch);
    bench_json_int(&j, "rescan_cache_hits", (long long)h_rescan);
    bench_json_int(&j, "rescan_stat_cache_hits", (long long)h_stat);
    bench_json_num(&j, "load1", load[0]);
    bench_json_num(&j, "load5", load[1]);
    bench_json_num(&j, "load15", load[2]);
    bench_json_str(&j, "goals", "ratio_first_cli >= 1.0; ratio_rescan_cli >= 50");
    int rc = bench_json_finish(&j, argv[1]);

    dy_scan_thread_destroy(t);
    dy_ruleset_unref(rs);
    dy_scanner_destroy(s);
    bench_rm_tree(root);
    free(names);
    free(owner);
    free(yarac);
    free(rf.path);
    free(files);
    free(elves);
    return rc;
}
