/*
 * plugins/responder_quarantine/responder_quarantine.c - the quarantine
 * responder (issue 15): on a prevent alert asking for "quarantine" that
 * names a file, the file is moved into the encrypted vault (vault.h) and its
 * name removed; the commands list, restore and delete entries. Every action
 * publishes a response.* event (sdk/docs/responses.md). README.md says what
 * each config key does and lists the reason codes.
 *
 * Threads. on_event (the dispatcher) only takes a reference to the alert
 * and hands it to a host worker (work_submit), at most max_pending at once;
 * the work opens, checks and copies the file there. Commands run on the
 * host's command workers. Every call into the vault is made under vlock,
 * since the vault does not synchronise itself.
 *
 * Trust. The alert's path is used once, to open the parent folder and then
 * the file in it with O_NOFOLLOW; every later step works from those two
 * descriptors: the identity (device, inode, SHA-256) is checked on the open
 * file, the allowed paths on the folder actually opened, and the name is
 * removed through the folder's descriptor only after it was renamed aside
 * and seen to still be the same inode.
 */
#define _GNU_SOURCE
#include "vault.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_proc.h>
#include <rampart/plugin_util_response.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PATHS_MAX       64u
#define VAULT_DIR       "vault"
#define KEY_FILE_DEF    "vault.key"
#define FILE_BYTES_DEF  (64ull << 20)
#define VAULT_BYTES_DEF (1ull << 30)
#define PENDING_DEF     64u
/* Entries in one list reply: far below the reply's 1 MiB cap even with
 * long paths would be 200; past it the reply says truncated. */
#define LIST_MAX 200u

#define PATH_ITEM                                                                                  \
    "{\"type\":\"string\",\"format\":\"absolute-path\",\"minLength\":1,\"maxLength\":4095}"

/* snprintf into a message buffer: a message cut at its buffer's end is
 * still a message (paths are at most PATH_MAX, messages shorter), so the
 * cut is accepted here once instead of checked at every call. */
static void say(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"allowed_paths\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"description\":\"folders or files quarantined even under a refused prefix (the longest "
    "matching prefix decides)\",\"items\":" PATH_ITEM "},"
    "\"refused_paths\":{\"type\":\"array\",\"maxItems\":64,\"default\":[],"
    "\"description\":\"folders or files never quarantined, besides the system folders and the "
    "agent's own files\",\"items\":" PATH_ITEM "},"
    "\"max_file_bytes\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":17179869184,"
    "\"default\":67108864},"
    "\"max_vault_bytes\":{\"type\":\"integer\",\"minimum\":65536,\"maximum\":1099511627776,"
    "\"default\":1073741824},"
    "\"max_pending\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":4096,\"default\":64},"
    "\"key_file\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"default\":\"vault.key\","
    "\"description\":\"name of the vault key in the plugin's private folder\"}}}";

/* Folders a quarantine never touches unless allowed_paths names them. */
static const char *const system_paths[] = {"/usr",   "/bin",    "/sbin", "/lib", "/lib32",
                                           "/lib64", "/libx32", "/etc",  "/boot"};

enum counter {
    C_ALERTS,
    C_QUARANTINED,
    C_REFUSED,
    C_FAILED,
    C_QUEUE_FULL,
    C_RESTORED,
    C_RESTORE_REFUSED,
    C_DELETED,
    C_COUNT
};
static const char *const counter_names[C_COUNT] = {
    "alerts",     "quarantined", "refused",         "failed",
    "queue_full", "restored",    "restore_refused", "deleted",
};

enum field { F_PATH, F_DEVICE, F_INODE, F_SHA256, F_SIZE, F_QID, F_COUNT };
static const rp_util_field_def field_defs[F_COUNT] = {
    [F_PATH] = {"file.path", RP_TYPE_STR},   [F_DEVICE] = {"file.device", RP_TYPE_STR},
    [F_INODE] = {"file.inode", RP_TYPE_STR}, [F_SHA256] = {"file.hash.sha256", RP_TYPE_STR},
    [F_SIZE] = {"file.size", RP_TYPE_U64},   [F_QID] = {"quarantine.id", RP_TYPE_STR},
};

struct conf {
    char *allowed[PATHS_MAX];
    uint32_t n_allowed;
    char *refused[PATHS_MAX];
    uint32_t n_refused;
    uint64_t max_file_bytes, max_vault_bytes;
    uint32_t max_pending;
    char key_file[65];
};

struct rq {
    rp_plugin *self;
    const rp_host_api *host;
    rp_util_response resp;
    rp_util_counters counters;
    rp_field_id f[F_COUNT];
    struct conf conf;
    /* The agent's own files, refused whatever allowed_paths says for the
     * private folder, and unless it names them for the others. */
    char own[5][PATH_MAX];
    uint32_t n_own;
    char private_path[PATH_MAX];
    int private_fd; /* the host's */
    int vault_fd;   /* ours */
    pthread_mutex_t vlock;
    struct rq_vault *vault; /* under vlock */
    atomic_uint pending;
};

static void count(struct rq *p, enum counter c)
{
    rp_util_count(&p->counters, c, 1);
}

static int refuse(struct rq *p, int rc, const char *msg)
{
    p->host->set_error(p->self, msg, strlen(msg));
    return rc;
}

/* ---- config ---------------------------------------------------------------- */

static void conf_free(struct conf *c)
{
    for (uint32_t i = 0; i < c->n_allowed; i++)
        free(c->allowed[i]);
    for (uint32_t i = 0; i < c->n_refused; i++)
        free(c->refused[i]);
    memset(c, 0, sizeof *c);
}

static int conf_paths(const rp_host_api *host, rp_plugin *self, const char *key, char **out,
                      uint32_t *n, char *err, size_t errlen)
{
    char ptr[64], buf[PATH_MAX];
    uint32_t count = 0;
    snprintf(ptr, sizeof ptr, "/%s", key);
    *n = 0;
    int rc = rp_util_conf_str_count(host, self, ptr, &count);
    if (rc == RP_ERR_NOTFOUND)
        return 0;
    if (rc != 0 || count > PATHS_MAX) {
        say(err, errlen, "%s: expected at most %u absolute paths", key, PATHS_MAX);
        return RP_ERR_CONFIG;
    }
    for (uint32_t i = 0; i < count; i++) {
        size_t len = 0;
        if (rp_util_conf_str_item(host, self, ptr, i, buf, sizeof buf, &len) != 0 ||
            !rp_util_path_normal(buf)) {
            say(err, errlen,
                "%s[%u]: expected an absolute path without \".\", \"..\" or \"//\", got "
                "\"%.200s\"",
                key, i, buf);
            return RP_ERR_CONFIG;
        }
        /* A trailing "/" is dropped so that prefixes compare whole components. */
        while (len > 1 && buf[len - 1] == '/')
            buf[--len] = '\0';
        if (!(out[*n] = strdup(buf)))
            return RP_ERR_NOMEM;
        (*n)++;
    }
    return 0;
}

static int conf_read(const rp_host_api *host, rp_plugin *self, struct conf *c, char *err,
                     size_t errlen)
{
    memset(c, 0, sizeof *c);
    uint64_t v = 0;
    int rc = conf_paths(host, self, "allowed_paths", c->allowed, &c->n_allowed, err, errlen);
    if (rc == 0)
        rc = conf_paths(host, self, "refused_paths", c->refused, &c->n_refused, err, errlen);
#define U64(key, dflt, min, max, dst)                                                              \
    do {                                                                                           \
        if (rc == 0) {                                                                             \
            int r_ = rp_util_conf_u64(host, self, "/" key, dflt, &v);                              \
            if ((r_ != 0 && r_ != RP_ERR_NOTFOUND) || v < (min) || v > (max)) {                    \
                say(err, errlen, "%s: expected an integer from %llu to %llu", key,                 \
                    (unsigned long long)(min), (unsigned long long)(max));                         \
                rc = RP_ERR_CONFIG;                                                                \
            } else {                                                                               \
                dst = v;                                                                           \
            }                                                                                      \
        }                                                                                          \
    } while (0)
    U64("max_file_bytes", FILE_BYTES_DEF, 1, 17179869184ull, c->max_file_bytes);
    U64("max_vault_bytes", VAULT_BYTES_DEF, 65536, 1099511627776ull, c->max_vault_bytes);
    U64("max_pending", PENDING_DEF, 1, 4096, c->max_pending);
#undef U64
    if (rc == 0) {
        size_t len = 0;
        int r = rp_util_conf_str(host, self, "/key_file", KEY_FILE_DEF, c->key_file,
                                 sizeof c->key_file, &len);
        if ((r != 0 && r != RP_ERR_NOTFOUND) || len == 0 || strchr(c->key_file, '/') ||
            strcmp(c->key_file, ".") == 0 || strcmp(c->key_file, "..") == 0 ||
            strcmp(c->key_file, VAULT_DIR) == 0) {
            say(err, errlen,
                "key_file: expected a file name (no \"/\", not \".\", \"..\" or \"%s\") of "
                "at most 64 bytes",
                VAULT_DIR);
            rc = RP_ERR_CONFIG;
        }
    }
    if (rc != 0)
        conf_free(c);
    return rc;
}

/* ---- paths ----------------------------------------------------------------- */

/* Length of prefix when it is path or a folder above it, else 0. */
static size_t prefix_len(const char *prefix, const char *path)
{
    size_t n = strlen(prefix);
    if (n == 1 && prefix[0] == '/')
        return 1;
    if (strncmp(prefix, path, n) != 0 || (path[n] != '\0' && path[n] != '/'))
        return 0;
    return n;
}

/* NULL when path may be quarantined, else why not (for the message). The
 * longest matching prefix decides: an allowed_paths entry at least as long
 * as every refused one that matches lets the path through; the private
 * folder (the vault) is refused whatever the config says. */
static const char *path_refused(const struct rq *p, const char *path)
{
    if (p->private_path[0] && prefix_len(p->private_path, path))
        return "the plugin's private folder (the vault)";
    size_t refused = 0, allowed = 0;
    const char *why = NULL;
    for (size_t i = 0; i < sizeof system_paths / sizeof system_paths[0]; i++) {
        size_t n = prefix_len(system_paths[i], path);
        if (n > refused) {
            refused = n;
            why = "a system folder";
        }
    }
    for (uint32_t i = 0; i < p->n_own; i++) {
        size_t n = prefix_len(p->own[i], path);
        if (n > refused) {
            refused = n;
            why = "one of the agent's own files";
        }
    }
    for (uint32_t i = 0; i < p->conf.n_refused; i++) {
        size_t n = prefix_len(p->conf.refused[i], path);
        if (n > refused) {
            refused = n;
            why = "under refused_paths";
        }
    }
    for (uint32_t i = 0; i < p->conf.n_allowed; i++) {
        size_t n = prefix_len(p->conf.allowed[i], path);
        if (n > allowed)
            allowed = n;
    }
    return refused > 0 && allowed < refused ? why : NULL;
}

static void own_add(struct rq *p, const char *path)
{
    if (!path[0] || p->n_own >= sizeof p->own / sizeof p->own[0])
        return;
    char real[PATH_MAX];
    snprintf(p->own[p->n_own++], PATH_MAX, "%s", realpath(path, real) ? real : path);
}

/* The agent's own files: its executable, the folder this plugin was loaded
 * from, the data folder (the private folder is <data_dir>/plugins/<name>)
 * and the config file named by --config on the command line. */
static void own_paths(struct rq *p)
{
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    own_add(p, buf);
    Dl_info info;
    if (dladdr((void *)own_paths, &info) && info.dli_fname && info.dli_fname[0] == '/') {
        char real[PATH_MAX];
        rp_util_path_dir(realpath(info.dli_fname, real) ? real : info.dli_fname, buf, sizeof buf);
        own_add(p, buf);
    }
    char up[PATH_MAX];
    rp_util_path_dir(p->private_path, up, sizeof up);
    rp_util_path_dir(up, buf, sizeof buf);
    own_add(p, buf);
    /* --config FILE or --config=FILE; the arguments are NUL-separated. */
    static char cmdline[16384];
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t len = fd >= 0 ? read(fd, cmdline, sizeof cmdline - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (len <= 0)
        return;
    cmdline[len] = '\0';
    for (const char *a = cmdline; a < cmdline + len; a += strlen(a) + 1) {
        const char *cfg = NULL;
        if (strcmp(a, "--config") == 0 && a + strlen(a) + 1 < cmdline + len)
            cfg = a + strlen(a) + 1;
        else if (strncmp(a, "--config=", 9) == 0)
            cfg = a + 9;
        if (cfg) {
            own_add(p, cfg);
            return;
        }
    }
}

/* ---- the alert's subject ------------------------------------------------------ */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A decimal number of at most 20 digits, the whole string. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* file.device as collector_file writes it, "major:minor", or a plain
 * st_dev number. */
static int parse_dev(const char *s, size_t n, dev_t *out)
{
    const char *colon = memchr(s, ':', n);
    uint64_t a, b;
    if (!colon) {
        if (parse_u64(s, n, &a) != 0)
            return -1;
        *out = (dev_t)a;
        return 0;
    }
    if (parse_u64(s, (size_t)(colon - s), &a) != 0 ||
        parse_u64(colon + 1, n - (size_t)(colon - s) - 1, &b) != 0 || a > UINT32_MAX ||
        b > UINT32_MAX)
        return -1;
    *out = makedev((unsigned)a, (unsigned)b);
    return 0;
}

/* What the alert named. */
struct subject {
    char path[RQ_PATH_MAX + 1];
    char rule[RQ_RULE_MAX + 1];
    bool have_id, have_sha;
    dev_t dev;
    ino_t ino;
    uint8_t sha[RQ_SHA256_LEN];
};

/* Reads the subject; a message and reason code when it is unusable. */
static int subject_read(struct rq *p, const rp_event *ev, struct subject *s, const char **reason,
                        char *msg, size_t msglen)
{
    const rp_host_api *h = p->host;
    const char *v;
    uint64_t n;
    memset(s, 0, sizeof *s);
    if (h->get_str(ev, p->f[F_PATH], &v, &n) != 0) {
        *reason = "no_file";
        say(msg, msglen, "the alert names no file (no file.path); nothing quarantined");
        return -1;
    }
    if (n > RQ_PATH_MAX || memchr(v, '\0', (size_t)n)) {
        *reason = "path_invalid";
        say(msg, msglen, "file.path of %llu bytes is over %u or holds a NUL; not quarantined",
            (unsigned long long)n, RQ_PATH_MAX);
        return -1;
    }
    memcpy(s->path, v, (size_t)n);
    s->path[n] = '\0';
    if (!rp_util_path_normal(s->path) || n < 2) {
        *reason = "path_invalid";
        say(msg, msglen,
            "%s: not an absolute path without \".\", \"..\" or \"//\"; not quarantined", s->path);
        return -1;
    }
    if (h->get_str(ev, p->resp.id[RP_UTIL_RF_RULE_ID], &v, &n) == 0) {
        n = n > RQ_RULE_MAX ? RQ_RULE_MAX : n;
        memcpy(s->rule, v, (size_t)n);
        s->rule[n] = '\0';
        if (memchr(v, '\0', (size_t)n))
            s->rule[0] = '\0';
    }
    const char *dv, *iv;
    uint64_t dn, in;
    uint64_t ino;
    if (h->get_str(ev, p->f[F_DEVICE], &dv, &dn) != 0 ||
        h->get_str(ev, p->f[F_INODE], &iv, &in) != 0) {
        *reason = "identity_unknown";
        say(msg, msglen,
            "%s: the alert gives no file.device and file.inode, so the file acted on could "
            "not be proved to be the one detected; not quarantined",
            s->path);
        return -1;
    }
    if (parse_dev(dv, (size_t)dn, &s->dev) != 0 || parse_u64(iv, (size_t)in, &ino) != 0) {
        *reason = "identity_unknown";
        say(msg, msglen,
            "%s: file.device \"%.40s\" (expected major:minor) or file.inode \"%.40s\" "
            "(expected a number) malformed; not quarantined",
            s->path, dv, iv);
        return -1;
    }
    s->ino = (ino_t)ino;
    s->have_id = true;
    if (h->get_str(ev, p->f[F_SHA256], &v, &n) == 0) {
        if (n != 64) {
            *reason = "identity_unknown";
            say(msg, msglen, "%s: file.hash.sha256 is not 64 hex digits; not quarantined", s->path);
            return -1;
        }
        for (size_t i = 0; i < 32; i++) {
            int hi = hexval(v[2 * i]), lo = hexval(v[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                *reason = "identity_unknown";
                say(msg, msglen, "%s: file.hash.sha256 is not 64 hex digits; not quarantined",
                    s->path);
                return -1;
            }
            s->sha[i] = (uint8_t)(hi << 4 | lo);
        }
        s->have_sha = true;
    }
    return 0;
}

/* SHA-256 of the open file from its start (rp_util_sha256_fd), at most max
 * bytes, through this thread's buffer. */
static int hash_file(int fd, uint64_t max, uint8_t out[32])
{
    static _Thread_local uint8_t buf[65536];
    return rp_util_sha256_fd(fd, max, buf, sizeof buf, out);
}

/* ---- the response event ---------------------------------------------------------- */

static void set_file_fields(struct rq *p, rp_event *out, const char *path, const struct stat *sb,
                            const uint8_t *sha, const char *qid)
{
    const rp_host_api *h = p->host;
    char buf[64];
    if (path)
        h->set_str(out, p->f[F_PATH], path, strlen(path));
    if (sb) {
        int n = snprintf(buf, sizeof buf, "%u:%u", major(sb->st_dev), minor(sb->st_dev));
        h->set_str(out, p->f[F_DEVICE], buf, (uint64_t)n);
        n = snprintf(buf, sizeof buf, "%llu", (unsigned long long)sb->st_ino);
        h->set_str(out, p->f[F_INODE], buf, (uint64_t)n);
        h->set_u64(out, p->f[F_SIZE], (uint64_t)sb->st_size);
    }
    if (sha) {
        char hex[65];
        rp_util_hex(sha, 32, hex);
        h->set_str(out, p->f[F_SHA256], hex, 64);
    }
    if (qid && qid[0])
        h->set_str(out, p->f[F_QID], qid, strlen(qid));
}

/* ---- quarantine of one alert's file ---------------------------------------------- */

struct job {
    struct rq *p;
    const rp_event *alert; /* retained */
};

/* The outcome of one quarantine, filled as it goes. */
struct result {
    int outcome;
    const char *reason;
    char msg[RP_UTIL_RESPONSE_MESSAGE_MAX];
    char qid[RQ_ID_LEN + 1];
    bool have_stat;
    struct stat sb;
    bool have_sha;
    uint8_t sha[RQ_SHA256_LEN];
};

static void res_set(struct result *r, int outcome, const char *reason, const char *fmt, ...)
    RP_UTIL_PRINTF(4, 5);
static void res_set(struct result *r, int outcome, const char *reason, const char *fmt, ...)
{
    va_list ap;
    r->outcome = outcome;
    r->reason = reason;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
}

/* Removes the name base in the folder pfd only while it is still the file
 * quarantined: renamed aside first (atomic), checked there, unlinked; put
 * back when it is another file. 0, or -1 with r set. */
static int remove_name(int pfd, const char *base, const char *path, const struct stat *sb,
                       struct result *r)
{
    char aside[64];
    snprintf(aside, sizeof aside, ".rq-remove-%.16s", r->qid);
    if (renameat2(pfd, base, pfd, aside, RENAME_NOREPLACE) != 0) {
        res_set(r, RP_UTIL_RESPONSE_FAILED, "remove_failed",
                "%s copied into quarantine entry %s, but its name could not be removed: %s", path,
                r->qid, strerror(errno));
        return -1;
    }
    struct stat now;
    if (fstatat(pfd, aside, &now, AT_SYMLINK_NOFOLLOW) != 0 || now.st_dev != sb->st_dev ||
        now.st_ino != sb->st_ino) {
        int back = renameat2(pfd, aside, pfd, base, RENAME_NOREPLACE);
        res_set(r, RP_UTIL_RESPONSE_FAILED, "identity_changed",
                "%s copied into quarantine entry %s, but its name now points to another file, "
                "which was left in place%s",
                path, r->qid, back == 0 ? "" : " (renamed aside: it could not be put back)");
        return -1;
    }
    if (unlinkat(pfd, aside, 0) != 0 || fsync(pfd) != 0) {
        res_set(r, RP_UTIL_RESPONSE_FAILED, "remove_failed",
                "%s copied into quarantine entry %s, but its name could not be removed: %s", path,
                r->qid, strerror(errno));
        return -1;
    }
    return 0;
}

static const char *vault_reason(enum rq_why why, int *outcome)
{
    *outcome = RP_UTIL_RESPONSE_REFUSED;
    switch (why) {
    case RQ_WHY_CHANGED:
        return "identity_changed";
    case RQ_WHY_HASH:
        return "hash_mismatch";
    case RQ_WHY_FIELD:
        return "field_too_long";
    case RQ_WHY_CAP:
        *outcome = RP_UTIL_RESPONSE_FAILED;
        return "vault_full";
    default:
        *outcome = RP_UTIL_RESPONSE_FAILED;
        return "io_error";
    }
}

static void quarantine(struct rq *p, const rp_event *alert, struct result *r)
{
    struct subject s;
    const char *reason = NULL;
    char dir[PATH_MAX], real[PATH_MAX], link[64];
    int pfd = -1, fd = -1;
    if (subject_read(p, alert, &s, &reason, r->msg, sizeof r->msg) != 0) {
        r->outcome = RP_UTIL_RESPONSE_REFUSED;
        r->reason = reason;
        return;
    }
    const char *why = path_refused(p, s.path);
    if (why) {
        res_set(r, RP_UTIL_RESPONSE_REFUSED, "path_not_allowed",
                "%s is %s; not quarantined (allowed_paths may allow it)", s.path, why);
        return;
    }
    const char *base = strrchr(s.path, '/') + 1;
    rp_util_path_dir(s.path, dir, sizeof dir);
    if (!dir[0])
        snprintf(dir, sizeof dir, "/");
    /* The path is read once: the folder, then the file in it without
     * following a link; all later steps use these descriptors. */
    pfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        res_set(r, RP_UTIL_RESPONSE_REFUSED, "not_found", "%s: folder %s: %s; not quarantined",
                s.path, dir, strerror(errno));
        goto out;
    }
    fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            res_set(r, RP_UTIL_RESPONSE_REFUSED, "symlink",
                    "%s is a symbolic link: links are never followed nor quarantined", s.path);
        else if (e == ENOENT)
            res_set(r, RP_UTIL_RESPONSE_REFUSED, "not_found",
                    "%s no longer exists; nothing quarantined", s.path);
        else
            res_set(r, RP_UTIL_RESPONSE_FAILED, "open_failed", "%s: open: %s; not quarantined",
                    s.path, strerror(e));
        goto out;
    }
    /* The allowed paths again, on the folder actually opened: a link in
     * a folder above the file may lead elsewhere than the text said. */
    snprintf(link, sizeof link, "/proc/self/fd/%d", pfd);
    ssize_t rn = readlink(link, real, sizeof real - 1);
    if (rn <= 0 || real[0] != '/') {
        res_set(r, RP_UTIL_RESPONSE_FAILED, "open_failed",
                "%s: where its folder lies could not be read; not quarantined", s.path);
        goto out;
    }
    real[rn] = '\0';
    char opened[PATH_MAX + 256];
    snprintf(opened, sizeof opened, "%s/%s", strcmp(real, "/") == 0 ? "" : real, base);
    if ((why = path_refused(p, opened)) != NULL) {
        res_set(r, RP_UTIL_RESPONSE_REFUSED, "path_not_allowed",
                "%s is %s (%s once links are followed); not quarantined", s.path, why, opened);
        goto out;
    }
    if (fstat(fd, &r->sb) != 0) {
        res_set(r, RP_UTIL_RESPONSE_FAILED, "open_failed", "%s: fstat: %s", s.path,
                strerror(errno));
        goto out;
    }
    r->have_stat = true;
    if (!S_ISREG(r->sb.st_mode)) {
        res_set(r, RP_UTIL_RESPONSE_REFUSED, "not_regular",
                "%s is not a regular file; only regular files are quarantined", s.path);
        goto out;
    }
    if (r->sb.st_dev != s.dev || r->sb.st_ino != s.ino) {
        res_set(r, RP_UTIL_RESPONSE_REFUSED, "identity_changed",
                "%s is now another file (device %u:%u inode %llu, the alert named %u:%u inode "
                "%llu): it was replaced after the detection; not quarantined, left as it is",
                s.path, major(r->sb.st_dev), minor(r->sb.st_dev), (unsigned long long)r->sb.st_ino,
                major(s.dev), minor(s.dev), (unsigned long long)s.ino);
        goto out;
    }
    if (r->sb.st_nlink > 1) {
        res_set(r, RP_UTIL_RESPONSE_REFUSED, "hard_links",
                "%s has %llu names (hard links): removing one would leave the file in place; "
                "not quarantined",
                s.path, (unsigned long long)r->sb.st_nlink);
        goto out;
    }
    if ((uint64_t)r->sb.st_size > p->conf.max_file_bytes) {
        res_set(r, RP_UTIL_RESPONSE_REFUSED, "too_large",
                "%s: %lld bytes, over max_file_bytes (%llu); not quarantined", s.path,
                (long long)r->sb.st_size, (unsigned long long)p->conf.max_file_bytes);
        goto out;
    }
    struct rq_expect ex = {.dev = r->sb.st_dev, .ino = r->sb.st_ino};
    if (s.have_sha) {
        memcpy(ex.sha256, s.sha, sizeof ex.sha256);
    } else if (hash_file(fd, p->conf.max_file_bytes, ex.sha256) != 0) {
        res_set(r, RP_UTIL_RESPONSE_FAILED, "io_error", "%s: cannot read it to hash it: %s", s.path,
                strerror(errno));
        goto out;
    }
    memcpy(r->sha, ex.sha256, sizeof r->sha);
    r->have_sha = true;
    struct rq_status st;
    pthread_mutex_lock(&p->vlock);
    int rc = p->vault ? rq_vault_quarantine(p->vault, fd, &ex, s.path, s.rule, p->host->now_ns(),
                                            r->qid, &st)
                      : RP_ERR_STOPPED;
    pthread_mutex_unlock(&p->vlock);
    if (rc == RP_ERR_STOPPED) {
        res_set(r, RP_UTIL_RESPONSE_FAILED, "stopping", "%s: the plugin is stopping", s.path);
        goto out;
    }
    if (rc != 0) {
        int outcome;
        const char *code = vault_reason(st.why, &outcome);
        res_set(r, outcome, code, "%s", st.msg);
        goto out;
    }
    if (remove_name(pfd, base, s.path, &r->sb, r) != 0)
        goto out;
    res_set(r, RP_UTIL_RESPONSE_DONE, NULL,
            "%s quarantined as entry %s (%lld bytes, encrypted) and removed%s", s.path, r->qid,
            (long long)r->sb.st_size,
            s.have_sha ? ""
                       : "; the alert gave no file.hash.sha256, so the file was identified by "
                         "device and inode only");
out:
    if (fd >= 0)
        close(fd);
    if (pfd >= 0)
        close(pfd);
    /* Without a hash of its own the response reports the alert's. */
    if (!r->have_sha && s.have_sha) {
        memcpy(r->sha, s.sha, sizeof r->sha);
        r->have_sha = true;
    }
}

static void job_work(void *arg)
{
    struct job *j = arg;
    struct rq *p = j->p;
    struct result r;
    memset(&r, 0, sizeof r);
    quarantine(p, j->alert, &r);
    rp_event *out = NULL;
    if (rp_util_response_begin(&p->resp, j->alert, "quarantine", "file", "deletion", &out) == 0) {
        const char *path = NULL;
        uint64_t n;
        if (p->host->get_str(j->alert, p->f[F_PATH], &path, &n) != 0)
            path = NULL;
        set_file_fields(p, out, path, r.have_stat ? &r.sb : NULL, r.have_sha ? r.sha : NULL, r.qid);
        /* Nothing was opened: the file is named as the alert named it. */
        if (!r.have_stat) {
            const char *v;
            uint64_t vn;
            if (p->host->get_str(j->alert, p->f[F_DEVICE], &v, &vn) == 0)
                p->host->set_str(out, p->f[F_DEVICE], v, vn);
            if (p->host->get_str(j->alert, p->f[F_INODE], &v, &vn) == 0)
                p->host->set_str(out, p->f[F_INODE], v, vn);
        }
        rp_util_response_finish(&p->resp, out, j->alert, r.outcome, r.reason, "%s", r.msg);
    }
    count(p, r.outcome == RP_UTIL_RESPONSE_DONE      ? C_QUARANTINED
             : r.outcome == RP_UTIL_RESPONSE_REFUSED ? C_REFUSED
                                                     : C_FAILED);
    rp_util_logf(p->host, p->self, r.outcome == RP_UTIL_RESPONSE_DONE ? RP_LOG_INFO : RP_LOG_WARN,
                 "%s%s%s", r.reason ? r.reason : "", r.reason ? ": " : "", r.msg);
}

static void job_done(void *arg, int status)
{
    struct job *j = arg;
    if (status == RP_ERR_STOPPED)
        rp_util_logf(j->p->host, j->p->self, RP_LOG_WARN,
                     "a quarantine asked by an alert was not run: the plugin stopped first");
    atomic_fetch_sub(&j->p->pending, 1);
    j->p->host->event_release(j->alert);
    free(j);
}

static int rq_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct rq *p = state;
    (void)self;
    if (!rp_util_response_wants(&p->resp, ev, "quarantine"))
        return 0;
    count(p, C_ALERTS);
    struct job *j = NULL;
    int rc = RP_ERR_FULL;
    if (atomic_fetch_add(&p->pending, 1) < p->conf.max_pending && (j = calloc(1, sizeof *j))) {
        j->p = p;
        j->alert = ev;
        p->host->event_retain(ev);
        rc = p->host->work_submit(p->self, job_work, job_done, j);
        if (rc != 0) {
            p->host->event_release(ev);
            free(j);
        }
    }
    if (rc == 0)
        return 0;
    atomic_fetch_sub(&p->pending, 1);
    count(p, C_QUEUE_FULL);
    count(p, C_FAILED);
    rp_event *out = NULL;
    if (rp_util_response_begin(&p->resp, ev, "quarantine", "file", "deletion", &out) == 0) {
        const char *path = NULL;
        uint64_t n;
        if (p->host->get_str(ev, p->f[F_PATH], &path, &n) == 0)
            p->host->set_str(out, p->f[F_PATH], path, n);
        rp_util_response_finish(&p->resp, out, ev, RP_UTIL_RESPONSE_FAILED, "queue_full",
                                "%u quarantines are already waiting (max_pending): this one was "
                                "not done",
                                p->conf.max_pending);
    }
    return 0;
}

/* ---- commands -------------------------------------------------------------------- */

static int reply(struct rq *p, rp_command *cmd, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return RP_ERR_NOMEM;
    int rc = p->host->command_reply(cmd, text, strlen(text), 0);
    free(text);
    return rc;
}

static json_t *meta_json(const char *id, const struct rq_meta *m)
{
    if (!m)
        return json_pack("{s:s,s:b,s:s}", "id", id, "valid", 0, "error",
                         "header malformed: the entry cannot be restored");
    char sha[65], mode[8];
    rp_util_hex(m->sha256, 32, sha);
    snprintf(mode, sizeof mode, "%04o", (unsigned)(m->mode & 07777));
    return json_pack("{s:s,s:b,s:s,s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:s}", "id", id, "valid", 1, "path",
                     m->path, "size", (json_int_t)m->size, "sha256", sha, "mode", mode, "uid",
                     (json_int_t)m->uid, "gid", (json_int_t)m->gid, "mtime_ns",
                     (json_int_t)m->mtime_ns, "time_ns", (json_int_t)m->time_ns, "rule", m->rule);
}

struct list_ctx {
    json_t *entries;
    uint32_t n, total;
    const char *want; /* find: one id */
    struct rq_meta *found;
    bool have;
};

static int list_one(void *ctx, const char *id, const struct rq_meta *meta)
{
    struct list_ctx *lc = ctx;
    lc->total++;
    if (lc->n < LIST_MAX) {
        json_array_append_new(lc->entries, meta_json(id, meta));
        lc->n++;
    }
    return 0;
}

static int find_one(void *ctx, const char *id, const struct rq_meta *meta)
{
    struct list_ctx *lc = ctx;
    if (strcmp(id, lc->want) != 0 || !meta)
        return 0;
    memcpy(lc->found, meta, sizeof *meta);
    lc->have = true;
    return 1;
}

static int cmd_list(struct rq *p, rp_command *cmd)
{
    struct list_ctx lc = {.entries = json_array()};
    struct rq_status st;
    pthread_mutex_lock(&p->vlock);
    int rc = rq_vault_list(p->vault, list_one, &lc, &st);
    pthread_mutex_unlock(&p->vlock);
    if (rc != 0) {
        json_decref(lc.entries);
        return refuse(p, rc, st.msg);
    }
    return reply(p, cmd,
                 json_pack("{s:o,s:I,s:b}", "entries", lc.entries, "count", (json_int_t)lc.total,
                           "truncated", lc.total > lc.n));
}

static const char *restore_reason(enum rq_why why, int *outcome)
{
    *outcome = RP_UTIL_RESPONSE_REFUSED;
    switch (why) {
    case RQ_WHY_TAG:
        return "tag_mismatch";
    case RQ_WHY_RESTORE_HASH:
        return "hash_mismatch";
    case RQ_WHY_EXISTS:
        return "target_exists";
    case RQ_WHY_TARGET:
        return "bad_target";
    case RQ_WHY_NOTFOUND:
        return "not_found";
    case RQ_WHY_FORMAT:
        return "entry_malformed";
    default:
        *outcome = RP_UTIL_RESPONSE_FAILED;
        return "io_error";
    }
}

/* Publishes the response of a command (restore, delete). */
static void command_response(struct rq *p, const char *action, const char *type, const char *id,
                             const char *path, const struct rq_meta *m, int outcome,
                             const char *reason, const char *msg)
{
    rp_event *out = NULL;
    if (rp_util_response_begin(&p->resp, NULL, action, "file", type, &out) != 0)
        return;
    set_file_fields(p, out, path, NULL, m ? m->sha256 : NULL, id);
    if (m)
        p->host->set_u64(out, p->f[F_SIZE], m->size);
    rp_util_response_finish(&p->resp, out, NULL, outcome, reason, "%s", msg);
}

static int cmd_restore(struct rq *p, rp_command *cmd, json_t *args)
{
    static const char usage[] = "usage: restore ID [--to PATH] [--overwrite]";
    size_t n = json_array_size(args);
    const char *id = NULL, *to = NULL;
    unsigned flags = 0;
    char msg[700];
    for (size_t i = 0; i < n; i++) {
        const char *a = json_string_value(json_array_get(args, i));
        if (!a)
            return refuse(p, RP_ERR_INVAL, usage);
        if (strcmp(a, "--overwrite") == 0) {
            flags |= RQ_RESTORE_OVERWRITE;
        } else if (strcmp(a, "--to") == 0) {
            const char *t = json_string_value(json_array_get(args, i + 1));
            if (!t || to) {
                snprintf(msg, sizeof msg, "restore: --to needs one absolute path; %s", usage);
                return refuse(p, RP_ERR_INVAL, msg);
            }
            to = t;
            i++;
        } else if (a[0] == '-' || id) {
            snprintf(msg, sizeof msg, "restore: unexpected argument \"%.100s\"; %s", a, usage);
            return refuse(p, RP_ERR_INVAL, msg);
        } else {
            id = a;
        }
    }
    if (!id) {
        snprintf(msg, sizeof msg, "restore: no entry id given; %s", usage);
        return refuse(p, RP_ERR_INVAL, msg);
    }
    if (to && (!rp_util_path_normal(to) || strlen(to) > RQ_PATH_MAX)) {
        snprintf(msg, sizeof msg,
                 "restore: --to \"%.200s\": expected an absolute path without \".\", \"..\" or "
                 "\"//\"",
                 to);
        return refuse(p, RP_ERR_INVAL, msg);
    }
    struct rq_meta *m = calloc(1, sizeof *m);
    if (!m)
        return RP_ERR_NOMEM;
    struct list_ctx lc = {.want = id, .found = m};
    struct rq_status st;
    pthread_mutex_lock(&p->vlock);
    rq_vault_list(p->vault, find_one, &lc, NULL);
    int rc = rq_vault_restore(p->vault, id, to, flags, &st);
    pthread_mutex_unlock(&p->vlock);
    const char *target = to ? to : lc.have ? m->path : NULL;
    if (rc != 0) {
        int outcome;
        const char *reason = restore_reason(st.why, &outcome);
        count(p, C_RESTORE_REFUSED);
        command_response(p, "restore", "creation", id, target, lc.have ? m : NULL, outcome, reason,
                         st.msg);
        snprintf(msg, sizeof msg, "%s (%s)", st.msg, reason);
        free(m);
        return refuse(p, rc, msg);
    }
    count(p, C_RESTORED);
    snprintf(
        msg, sizeof msg,
        "quarantine entry %s restored to %.500s (tag and sha256 verified; mode, owner and mtime "
        "set)",
        id, target ? target : "its original path");
    command_response(p, "restore", "creation", id, target, lc.have ? m : NULL,
                     RP_UTIL_RESPONSE_DONE, NULL, msg);
    json_t *j = lc.have ? meta_json(id, m) : json_pack("{s:s}", "id", id);
    json_object_set_new(j, "restored_to", json_string(target ? target : ""));
    json_object_set_new(j, "message", json_string(msg));
    free(m);
    return reply(p, cmd, j);
}

static int cmd_delete(struct rq *p, rp_command *cmd, json_t *args)
{
    const char *id = json_string_value(json_array_get(args, 0));
    if (json_array_size(args) != 1 || !id)
        return refuse(p, RP_ERR_INVAL, "usage: delete ID (one entry id, as list shows it)");
    struct rq_meta *m = calloc(1, sizeof *m);
    if (!m)
        return RP_ERR_NOMEM;
    struct list_ctx lc = {.want = id, .found = m};
    struct rq_status st;
    char msg[700];
    pthread_mutex_lock(&p->vlock);
    rq_vault_list(p->vault, find_one, &lc, NULL);
    int rc = rq_vault_delete(p->vault, id, &st);
    pthread_mutex_unlock(&p->vlock);
    if (rc != 0) {
        int outcome =
            st.why == RQ_WHY_NOTFOUND ? RP_UTIL_RESPONSE_REFUSED : RP_UTIL_RESPONSE_FAILED;
        const char *reason = st.why == RQ_WHY_NOTFOUND ? "not_found" : "io_error";
        command_response(p, "delete", "deletion", id, NULL, NULL, outcome, reason, st.msg);
        snprintf(msg, sizeof msg, "%s (%s)", st.msg, reason);
        free(m);
        return refuse(p, rc, msg);
    }
    count(p, C_DELETED);
    snprintf(msg, sizeof msg, "quarantine entry %s deleted%s%.500s: its content is gone for good",
             id, lc.have ? ", once " : "", lc.have ? m->path : "");
    command_response(p, "delete", "deletion", id, lc.have ? m->path : NULL, lc.have ? m : NULL,
                     RP_UTIL_RESPONSE_DONE, NULL, msg);
    free(m);
    return reply(p, cmd, json_pack("{s:s,s:s}", "deleted", id, "message", msg));
}

static int rq_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                         uint64_t len)
{
    struct rq *p = state;
    (void)self;
    json_t *req = json_loadb(request, (size_t)len, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "command"));
    json_t *args = json_object_get(req, "args");
    int rc;
    if (!name)
        rc = refuse(p, RP_ERR_INVAL, "no command; try: list, restore ID, delete ID");
    else if (strcmp(name, "list") == 0)
        rc = json_array_size(args) ? refuse(p, RP_ERR_INVAL, "list takes no argument")
                                   : cmd_list(p, cmd);
    else if (strcmp(name, "restore") == 0)
        rc = cmd_restore(p, cmd, args);
    else if (strcmp(name, "delete") == 0)
        rc = cmd_delete(p, cmd, args);
    else
        rc = refuse(p, RP_ERR_NOTFOUND,
                    "unknown command; try: list, restore ID [--to PATH] [--overwrite], delete ID");
    json_decref(req);
    return rc;
}

/* ---- lifecycle -------------------------------------------------------------------- */

static int rq_check_config(rp_plugin *self, const rp_host_api *host)
{
    struct conf c;
    char err[512] = "";
    int rc = conf_read(host, self, &c, err, sizeof err);
    if (rc == 0)
        conf_free(&c);
    else if (err[0])
        host->set_error(self, err, strlen(err));
    return rc;
}

static void plugin_free(struct rq *p)
{
    rq_vault_close(p->vault);
    if (p->vault_fd >= 0)
        close(p->vault_fd);
    conf_free(&p->conf);
    pthread_mutex_destroy(&p->vlock);
    free(p);
}

/* The vault folder in the private folder: made 0700 when absent, never a
 * link, and the vault over it with the key beside it. */
static int vault_open(struct rq *p, char *err, size_t errlen)
{
    struct rq_status st;
    uint8_t key[RQ_KEY_LEN];
    int rc = rq_key_load_or_create(p->private_fd, p->conf.key_file, key, &st);
    if (rc != 0) {
        say(err, errlen, "%s", st.msg);
        return rc;
    }
    if (mkdirat(p->private_fd, VAULT_DIR, 0700) != 0 && errno != EEXIST) {
        say(err, errlen, "cannot make %s/%s: %s", p->private_path, VAULT_DIR, strerror(errno));
        rc = RP_ERR_IO;
    }
    if (rc == 0) {
        p->vault_fd =
            openat(p->private_fd, VAULT_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        if (p->vault_fd < 0 || fstat(p->vault_fd, &sb) != 0 || sb.st_uid != geteuid() ||
            (sb.st_mode & 077) != 0) {
            say(err, errlen,
                "%s/%s: expected a folder of the agent's user with mode 0700, not a link",
                p->private_path, VAULT_DIR);
            rc = RP_ERR_PERM;
        }
    }
    if (rc == 0 &&
        (rc = rq_vault_open(p->vault_fd, key, p->conf.max_vault_bytes, &p->vault, &st)) != 0)
        say(err, errlen, "%s", st.msg);
    memset(key, 0, sizeof key);
    return rc;
}

static int rq_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    struct rq *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    p->self = self;
    p->host = host;
    p->vault_fd = -1;
    p->private_fd = -1;
    pthread_mutex_init(&p->vlock, NULL);
    char err[512] = "";
    int rc = rp_util_counters_register(&p->counters, host, self, counter_names, C_COUNT, 0);
    if (rc == 0)
        rc = rp_util_fields_register(host, self, field_defs, F_COUNT, p->f);
    if (rc == 0 && (rc = rp_util_response_init(&p->resp, host, self)) != 0)
        snprintf(err, sizeof err, "cannot register the response fields");
    if (rc == 0)
        rc = conf_read(host, self, &p->conf, err, sizeof err);
    if (rc == 0) {
        int64_t fd;
        const char *path;
        uint64_t plen;
        rc = host->private_dir(self, &fd, &path, &plen);
        if (rc != 0) {
            snprintf(err, sizeof err, "cannot open the plugin's private folder");
        } else {
            p->private_fd = (int)fd;
            snprintf(p->private_path, sizeof p->private_path, "%s", path);
            own_paths(p);
        }
    }
    if (rc == 0)
        rc = vault_open(p, err, sizeof err);
    if (rc != 0) {
        if (err[0])
            refuse(p, rc, err);
        plugin_free(p);
        return rc;
    }
    *state = p;
    return 0;
}

static int rq_start(rp_plugin *self, void *state)
{
    struct rq *p = state;
    int rc = p->host->subscribe(self, "alert", 5, 0);
    if (rc != 0)
        return refuse(p, rc, "cannot subscribe to alerts");
    rp_util_logf(p->host, p->self, RP_LOG_INFO,
                 "quarantining files of prevent alerts into %s/%s (at most %llu bytes a file, "
                 "%llu in the vault; %u allowed and %u refused paths configured)",
                 p->private_path, VAULT_DIR, (unsigned long long)p->conf.max_file_bytes,
                 (unsigned long long)p->conf.max_vault_bytes, p->conf.n_allowed, p->conf.n_refused);
    return 0;
}

static int rq_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void rq_destroy(rp_plugin *self, void *state)
{
    (void)self;
    if (state)
        plugin_free(state);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* commands, private_dir, config getters */
    .kind = RP_KIND_RESPONDER,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.responder.quarantine",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "Moves the files of prevent alerts into an encrypted vault; restores them",
    .config_schema = config_schema,
    .init = rq_init,
    .start = rq_start,
    .stop = rq_stop,
    .destroy = rq_destroy,
    .on_event = rq_on_event,
    .field_namespace = "quarantine",
    .check_config = rq_check_config,
    .on_command = rq_on_command,
    /* Reading any file, removing its name from any folder (sticky ones
     * too), and giving a restored file back its owner. */
    .capabilities = RP_CAP_CHOWN | RP_CAP_DAC_OVERRIDE | RP_CAP_DAC_READ_SEARCH | RP_CAP_FOWNER,
};

RP_PLUGIN_ENTRY(descriptor)
