/*
 * plugins/detector_yara/scan.h - the scanner: one file descriptor (or one
 * process's memory) judged by a rule set, through the verdict cache, within
 * the size cap, the per-scan timeout, the per-user byte budget and libyara's
 * match limits. Every limit hit is counted (dy_scan_stats) and said in the
 * result; nothing is guessed.
 *
 * Objects.
 *  - struct dy_ruleset: a loaded rule set (struct dy_rules) with a reference
 *    count, so a reload can swap the plugin's current set while scans of the
 *    old one finish; results point into the set they were made with and stay
 *    valid while the caller holds that reference.
 *  - struct dy_scanner: what all scanning threads share: the verdict cache,
 *    the limits, the per-user budgets and the counters. Thread-safe.
 *  - struct dy_scan_thread: one thread's libyara scanner (YR_SCANNER) for one
 *    rule set, created lazily and recreated when the set changes. Used by one
 *    thread at a time; never shared.
 *
 * A scan (dy_scan_fd): fstat the descriptor (a regular file, else
 * DY_SCAN_NOT_REGULAR); look its identity up in the verdict cache with the
 * set's hash (a hit answers with from_cache set and nothing read); the size
 * cap; the user's budget (charged with the file's size before scanning);
 * then libyara scans the descriptor's bytes (read with pread into memory,
 * never by path; scan.c says why not a mapping); fstat again and store the
 * verdict unless the file changed during the scan (dy_verdict_put's
 * re-check: then it is scanned again, at most DY_SCAN_RETRIES times, and
 * otherwise answered DY_SCAN_CHANGING, not stored). A try that matched is
 * answered malicious at once even when the file moved after (not stored):
 * the bytes that matched were the file's. A verdict is also not stored
 * while the kernel's coarse clock has not passed the file's ctime (a change
 * within that tick would keep the identity); such a file is scanned again
 * next time. A malicious verdict also gets the file's SHA-256, of the same
 * bytes that were scanned; clean files are not hashed (that would double
 * the cost of a first scan).
 *
 * Limits, each counted when hit:
 *  - max_file_bytes: a larger file is not scanned (DY_SCAN_TOO_LARGE);
 *  - timeout_s: libyara's scan timeout (whole seconds: libyara's unit);
 *    DY_SCAN_TIMEOUT, stored in the cache as an error verdict so the same
 *    file is not rescanned in a loop;
 *  - user_bytes_per_min: bytes scanned per minute per uid (the file's
 *    owner for file events, the process's uid for execs, 0 for on-demand
 *    scans, which are never budgeted). Past it the file is not scanned
 *    (DY_SCAN_BUDGET), so a user writing files in a loop cannot turn the
 *    scanner into a CPU amplifier; at most DY_BUDGET_USERS users are
 *    tracked (the least recently charged is forgotten);
 *  - libyara's match limits (YR_CONFIG_MAX_STRINGS_PER_RULE,
 *    YR_CONFIG_MAX_MATCH_DATA, process-wide, set at create), and
 *    CALLBACK_MSG_TOO_MANY_MATCHES: the scan goes on, result.match_limit is
 *    set and counted;
 *  - at most DY_SCAN_MATCHES_MAX matching rules are kept in a result (more
 *    set matches_dropped; n_rules counts all).
 */
#ifndef RP_DETECTOR_YARA_SCAN_H
#define RP_DETECTOR_YARA_SCAN_H

#include "rules.h"
#include "verdict.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define DY_SCAN_MATCHES_MAX     16u
#define DY_SCAN_RETRIES         2u
#define DY_BUDGET_USERS         1024u
#define DY_FILE_BYTES_DEF       (64u * 1024u * 1024u) /* max_file_bytes 0 */
#define DY_TIMEOUT_S_DEF        10u                   /* timeout_s 0 */
#define DY_USER_BYTES_MIN_DEF   (512ull * 1024u * 1024u)
#define DY_MAX_STRINGS_RULE_DEF 10000u
#define DY_MAX_MATCH_DATA_DEF   64u

/* A rule set shared by reference. Created with one reference (the caller's);
 * takes ownership of rules (destroyed with the last reference). */
struct dy_ruleset;
int dy_ruleset_create(struct dy_rules *rules, struct dy_ruleset **out);
struct dy_ruleset *dy_ruleset_ref(struct dy_ruleset *rs);
void dy_ruleset_unref(struct dy_ruleset *rs); /* NULL: no-op */
const struct dy_rules *dy_ruleset_rules(const struct dy_ruleset *rs);
/* A serial number, new for each set created in the process: a thread's
 * scanner compares it to know its YR_SCANNER is of another set. */
uint64_t dy_ruleset_serial(const struct dy_ruleset *rs);

struct dy_scan_opts {
    uint64_t max_file_bytes;     /* 0: DY_FILE_BYTES_DEF */
    uint32_t timeout_s;          /* 0: DY_TIMEOUT_S_DEF */
    uint64_t user_bytes_per_min; /* 0: DY_USER_BYTES_MIN_DEF; UINT64_MAX: no budget */
    uint32_t max_strings_per_rule;
    uint32_t max_match_data;
    struct dy_verdict_opts verdicts;
};

enum dy_scan_outcome {
    DY_SCAN_CLEAN,       /* scanned (or cached): no rule matched */
    DY_SCAN_MALICIOUS,   /* scanned (or cached): rules matched */
    DY_SCAN_NOT_REGULAR, /* not a regular file: not scanned */
    DY_SCAN_TOO_LARGE,   /* over max_file_bytes: not scanned */
    DY_SCAN_BUDGET,      /* the user's budget is spent: not scanned */
    DY_SCAN_TIMEOUT,     /* libyara's timeout: verdict unknown */
    DY_SCAN_CHANGING,    /* changed during every try: verdict unknown */
    DY_SCAN_ERROR,       /* I/O or libyara error (result.error, result.msg) */
    DY_SCAN_OUTCOME_COUNT
};
const char *dy_scan_outcome_name(int outcome); /* "clean", "malicious", ... */

/* One matching rule; the pointers are into the rule set the scan used. */
struct dy_scan_match {
    const YR_RULE *rule;      /* its identifier, namespace, tags and metas */
    uint32_t strings_matched; /* strings of the rule with at least one match */
};

struct dy_scan_result {
    enum dy_scan_outcome outcome;
    bool from_cache;      /* answered by the verdict cache, nothing read */
    bool match_limit;     /* libyara's match limits were hit */
    bool has_sha256;      /* sha256 filled (malicious and freshly scanned) */
    struct dy_file_id id; /* the identity the verdict is for */
    uint64_t bytes;       /* bytes scanned (0 from the cache) */
    uint32_t n_rules;     /* matching rules, all of them */
    uint32_t n_matches;   /* kept in matches (<= DY_SCAN_MATCHES_MAX) */
    uint32_t matches_dropped;
    struct dy_scan_match matches[DY_SCAN_MATCHES_MAX];
    /* A cached malicious verdict has no YR_RULE: its first rule's name. */
    char cached_rule[DY_VERDICT_NAME_MAX];
    uint8_t sha256[32];
    int error;     /* RP_ERR_* for DY_SCAN_ERROR */
    char msg[160]; /* what failed, for the log */
};

struct dy_scan_stats {
    uint64_t scans;      /* dy_scan_fd / dy_scan_pid calls */
    uint64_t scanned;    /* actually read by libyara */
    uint64_t bytes;      /* bytes read by libyara */
    uint64_t cache_hits; /* answered from the verdict cache */
    uint64_t outcome[DY_SCAN_OUTCOME_COUNT];
    uint64_t match_limit;  /* scans that hit libyara's match limits */
    uint64_t retries;      /* rescans because the file changed */
    uint64_t budget_users; /* users tracked now */
};

struct dy_scanner;
struct dy_scan_thread;

/* Creates the shared scanner and its verdict cache (owned by it). Sets
 * libyara's process-wide match limits. RP_ERR_RANGE for an option out of
 * range, RP_ERR_NOMEM. */
int dy_scanner_create(const struct dy_scan_opts *opts, struct dy_scanner **out);
void dy_scanner_destroy(struct dy_scanner *s); /* NULL: no-op */
/* The verdict cache, owned by s (load and save it through verdict.h; the
 * scanner serialises its own puts with a lock, so save and load must be
 * called through dy_scanner_verdicts_save / _load, which take that lock). */
struct dy_verdict_cache *dy_scanner_verdicts(struct dy_scanner *s);
int dy_scanner_verdicts_save(struct dy_scanner *s, int dirfd, const char *name,
                             const struct dy_ruleset *rs, uint32_t *saved);
int dy_scanner_verdicts_load(struct dy_scanner *s, int dirfd, const char *name,
                             const struct dy_ruleset *rs, struct dy_verdict_load_report *rep);
void dy_scanner_stats(struct dy_scanner *s, struct dy_scan_stats *out);

/* One thread's scanning state; create on the thread that uses it. */
int dy_scan_thread_create(struct dy_scanner *s, struct dy_scan_thread **out);
void dy_scan_thread_destroy(struct dy_scan_thread *t); /* NULL: no-op */

/* Flags of dy_scan_fd. */
#define DY_SCAN_NO_CACHE  0x1u /* neither look up nor store a verdict (benchmarks) */
#define DY_SCAN_NO_BUDGET 0x2u /* not charged to a user (on-demand scans) */

/* Judges the open file fd (borrowed, read from its start with pread/mmap,
 * never by path) with rs for uid; res is filled. Returns 0 whatever the
 * outcome (res->outcome says it), RP_ERR_INVAL for bad arguments. */
int dy_scan_fd(struct dy_scan_thread *t, const struct dy_ruleset *rs, int fd, uint32_t uid,
               uint32_t flags, struct dy_scan_result *res);

/* Scans the memory of process pid (libyara reads /proc/PID/mem, no
 * ptrace stop), never cached, budgeted to uid's memory-scan budget (as
 * large as the file-scan budget and apart from it, so memory scans at every
 * exec do not leave a user's written files unscanned). Same result (id is
 * zero). */
int dy_scan_pid(struct dy_scan_thread *t, const struct dy_ruleset *rs, pid_t pid, uint32_t uid,
                uint32_t flags, struct dy_scan_result *res);

/* Additions (issue 14, the scanner's first commit). */

/* Answers from the verdict cache alone, for a file stat'ed by the caller
 * (an on-demand scan walking a tree, a rescan): 0 with res filled
 * (from_cache set, counted as a scan and a cache hit) when st's identity
 * has a verdict of rs, RP_ERR_NOTFOUND otherwise (not a regular file, or
 * no verdict: open the file and call dy_scan_fd, which looks again).
 * Nothing is opened or read. RP_ERR_INVAL for bad arguments. */
int dy_scan_stat(struct dy_scanner *s, const struct dy_ruleset *rs, const struct stat *st,
                 struct dy_scan_result *res);

/* SHA-256 of the open file fd from offset 0 to its end, read with pread
 * (a verdict from the cache has no hash: an alert for it hashes the
 * descriptor it judged). 0 or RP_ERR_IO. */
int dy_scan_sha256_fd(int fd, uint8_t out[32]);

/* For tests: called by dy_scan_fd on t after each try has read and scanned
 * the file and before the file is stat'ed again (attempt 0, 1, ...), so a
 * test can change the file during a scan deterministically. NULL: none. */
typedef void (*dy_scan_hook_fn)(void *ctx, int fd, uint32_t attempt);
void dy_scan_thread_set_hook(struct dy_scan_thread *t, dy_scan_hook_fn fn, void *ctx);

#endif
