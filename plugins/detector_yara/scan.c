/*
 * plugins/detector_yara/scan.c - the scanner (scan.h): rule sets shared by
 * reference, one libyara scanner per thread and rule set, the verdict cache
 * in front, and the limits (size cap, timeout, per-user byte budget,
 * libyara's match limits), each counted when hit.
 *
 * Reading. A file's bytes are read with pread from the descriptor into a
 * buffer and libyara scans that buffer (yr_scanner_scan_mem), rather than a
 * mapping of the file: a file truncated while mapped raises SIGBUS, which
 * libyara 4.2 catches only by installing process-wide SIGBUS and SIGSEGV
 * handlers around each scan and restoring the old ones after; with several
 * scanning threads those installs and restores interleave, and a handler
 * left installed turns any later crash of the agent into a loop. Read into
 * memory, a truncated file is a short read, nothing faults, and the scanner
 * runs with SCAN_FLAGS_NO_TRYCATCH. The copy is the one cost the yara
 * command line does not pay: a few percent of the scan with the corpus's
 * Linux rules (timed apart in an instrumented build of bench_yara_scan),
 * about what a first scan gives away to the CLI. Small files gain back
 * the CLI's mmap, munmap and signal handler swaps. The SHA-256 of a
 * malicious file is taken from exactly the bytes that matched. Each thread keeps a buffer of up to
 * DY_SCAN_KEEP_BYTES; a larger file gets a buffer of its own, freed after.
 */
#define _GNU_SOURCE
#include "scan.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>

#include <yara.h>
#include <yara/proc.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A thread's read buffer is kept between scans up to this size. */
#define DY_SCAN_KEEP_BYTES (1u * 1024u * 1024u)
/* Upper bounds of the options (RP_ERR_RANGE beyond). A file is read whole
 * into memory, so the size cap is also the largest buffer a thread takes. */
#define DY_FILE_BYTES_MAX   (1024ull * 1024u * 1024u)
#define DY_TIMEOUT_S_MAX    3600u
#define DY_STRINGS_RULE_MAX 1000000u
#define DY_MATCH_DATA_MAX   4096u
#define DY_BUDGET_BUCKETS   2048u /* a power of two, twice DY_BUDGET_USERS */
#define DY_NIL              UINT32_MAX

/* ---- rule sets ---- */

struct dy_ruleset {
    atomic_uint refs;
    uint64_t serial;
    struct dy_rules *rules;
};

static atomic_uint_fast64_t dy_serial_next = 1;

int dy_ruleset_create(struct dy_rules *rules, struct dy_ruleset **out)
{
    if (!rules || !out)
        return RP_ERR_INVAL;
    *out = NULL;
    struct dy_ruleset *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return RP_ERR_NOMEM; /* rules stay the caller's */
    atomic_init(&rs->refs, 1);
    rs->serial = atomic_fetch_add(&dy_serial_next, 1);
    rs->rules = rules;
    *out = rs;
    return 0;
}

struct dy_ruleset *dy_ruleset_ref(struct dy_ruleset *rs)
{
    if (rs)
        atomic_fetch_add_explicit(&rs->refs, 1, memory_order_relaxed);
    return rs;
}

void dy_ruleset_unref(struct dy_ruleset *rs)
{
    if (!rs)
        return;
    if (atomic_fetch_sub_explicit(&rs->refs, 1, memory_order_acq_rel) != 1)
        return;
    dy_rules_destroy(rs->rules);
    free(rs);
}

const struct dy_rules *dy_ruleset_rules(const struct dy_ruleset *rs)
{
    return rs->rules;
}

uint64_t dy_ruleset_serial(const struct dy_ruleset *rs)
{
    return rs->serial;
}

/* ---- outcomes ---- */

static const char *const dy_outcome_names[DY_SCAN_OUTCOME_COUNT] = {
    [DY_SCAN_CLEAN] = "clean",
    [DY_SCAN_MALICIOUS] = "malicious",
    [DY_SCAN_NOT_REGULAR] = "not_regular",
    [DY_SCAN_TOO_LARGE] = "too_large",
    [DY_SCAN_BUDGET] = "budget",
    [DY_SCAN_TIMEOUT] = "timeout",
    [DY_SCAN_CHANGING] = "changing",
    [DY_SCAN_ERROR] = "error",
};

const char *dy_scan_outcome_name(int outcome)
{
    if (outcome < 0 || outcome >= DY_SCAN_OUTCOME_COUNT)
        return "?";
    return dy_outcome_names[outcome];
}

/* ---- the shared scanner ---- */

/* One user's budget: a token bucket of bytes, refilled at
 * user_bytes_per_min per minute up to one minute's worth. A memory scan is
 * charged after it ran (its size is known only then), so tokens may go
 * below zero: the user then waits until the debt is refilled. */
struct dy_budget {
    uint64_t key;        /* the uid, with DY_BUDGET_MEMORY for memory scans */
    uint32_t hnext;      /* next in the bucket's chain */
    uint32_t prev, next; /* recency list, prev towards the most recent */
    int64_t tokens;
    int64_t last_ns; /* when tokens were last refilled */
};

struct dy_scanner {
    uint64_t max_file_bytes;
    uint32_t timeout_s;
    uint64_t user_bytes_per_min; /* UINT64_MAX: no budget */
    struct dy_verdict_cache *vc;
    /* The verdict cache has one writer: puts from every scanning thread,
     * save and load are serialised here. */
    pthread_mutex_t writer;

    pthread_mutex_t budget_lock;
    uint32_t budget_buckets[DY_BUDGET_BUCKETS];
    struct dy_budget budgets[DY_BUDGET_USERS];
    uint32_t n_budgets, head, tail;

    atomic_uint_fast64_t scans, scanned, bytes, cache_hits, match_limit, retries;
    atomic_uint_fast64_t outcome[DY_SCAN_OUTCOME_COUNT];
};

/* The per-thread state. */
struct dy_scan_thread {
    struct dy_scanner *s;
    YR_SCANNER *ys;
    struct dy_ruleset *rs; /* the set ys is bound to; a reference is held */
    uint64_t serial;
    uint8_t *buf; /* kept up to DY_SCAN_KEEP_BYTES */
    size_t buf_cap;
    struct dy_scan_result *cur; /* the result the callback fills */
    dy_scan_hook_fn hook;
    void *hook_ctx;
};

static int64_t dy_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void dy_count(atomic_uint_fast64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

int dy_scanner_create(const struct dy_scan_opts *opts, struct dy_scanner **out)
{
    if (!out)
        return RP_ERR_INVAL;
    *out = NULL;
    struct dy_scan_opts o = {0};
    if (opts)
        o = *opts;
    if (o.max_file_bytes > DY_FILE_BYTES_MAX || o.timeout_s > DY_TIMEOUT_S_MAX ||
        o.max_strings_per_rule > DY_STRINGS_RULE_MAX || o.max_match_data > DY_MATCH_DATA_MAX)
        return RP_ERR_RANGE;
    struct dy_scanner *s = calloc(1, sizeof(*s));
    if (!s)
        return RP_ERR_NOMEM;
    s->max_file_bytes = o.max_file_bytes ? o.max_file_bytes : DY_FILE_BYTES_DEF;
    s->timeout_s = o.timeout_s ? o.timeout_s : DY_TIMEOUT_S_DEF;
    s->user_bytes_per_min = o.user_bytes_per_min ? o.user_bytes_per_min : DY_USER_BYTES_MIN_DEF;
    int rc = dy_verdict_create(&o.verdicts, &s->vc);
    if (rc != 0) {
        free(s);
        return rc;
    }
    /* The scanner holds a libyara reference of its own: yr_initialize
     * resets the configuration to libyara's defaults when its count goes
     * from 0 to 1, which would undo the limits below if the first rule
     * load came after this. */
    if (dy_yara_init() != 0) {
        dy_verdict_destroy(s->vc);
        free(s);
        return RP_ERR_INTERNAL;
    }
    uint32_t strings = o.max_strings_per_rule ? o.max_strings_per_rule : DY_MAX_STRINGS_RULE_DEF;
    uint32_t match_data = o.max_match_data ? o.max_match_data : DY_MAX_MATCH_DATA_DEF;
    if (yr_set_configuration_uint32(YR_CONFIG_MAX_STRINGS_PER_RULE, strings) != ERROR_SUCCESS ||
        yr_set_configuration_uint32(YR_CONFIG_MAX_MATCH_DATA, match_data) != ERROR_SUCCESS) {
        dy_yara_fini();
        dy_verdict_destroy(s->vc);
        free(s);
        return RP_ERR_INTERNAL;
    }
    pthread_mutex_init(&s->writer, NULL);
    pthread_mutex_init(&s->budget_lock, NULL);
    for (uint32_t i = 0; i < DY_BUDGET_BUCKETS; i++)
        s->budget_buckets[i] = DY_NIL;
    s->head = s->tail = DY_NIL;
    *out = s;
    return 0;
}

void dy_scanner_destroy(struct dy_scanner *s)
{
    if (!s)
        return;
    dy_verdict_destroy(s->vc);
    pthread_mutex_destroy(&s->writer);
    pthread_mutex_destroy(&s->budget_lock);
    free(s);
    dy_yara_fini();
}

struct dy_verdict_cache *dy_scanner_verdicts(struct dy_scanner *s)
{
    return s->vc;
}

int dy_scanner_verdicts_save(struct dy_scanner *s, int dirfd, const char *name,
                             const struct dy_ruleset *rs, uint32_t *saved)
{
    if (!s || !rs)
        return RP_ERR_INVAL;
    pthread_mutex_lock(&s->writer);
    int rc = dy_verdict_save(s->vc, dirfd, name, dy_rules_hash(rs->rules), saved);
    pthread_mutex_unlock(&s->writer);
    return rc;
}

int dy_scanner_verdicts_load(struct dy_scanner *s, int dirfd, const char *name,
                             const struct dy_ruleset *rs, struct dy_verdict_load_report *rep)
{
    if (!s || !rs)
        return RP_ERR_INVAL;
    pthread_mutex_lock(&s->writer);
    int rc = dy_verdict_load(s->vc, dirfd, name, dy_rules_hash(rs->rules), rep);
    pthread_mutex_unlock(&s->writer);
    return rc;
}

void dy_scanner_stats(struct dy_scanner *s, struct dy_scan_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->scans = atomic_load_explicit(&s->scans, memory_order_relaxed);
    out->scanned = atomic_load_explicit(&s->scanned, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&s->bytes, memory_order_relaxed);
    out->cache_hits = atomic_load_explicit(&s->cache_hits, memory_order_relaxed);
    for (int i = 0; i < DY_SCAN_OUTCOME_COUNT; i++)
        out->outcome[i] = atomic_load_explicit(&s->outcome[i], memory_order_relaxed);
    out->match_limit = atomic_load_explicit(&s->match_limit, memory_order_relaxed);
    out->retries = atomic_load_explicit(&s->retries, memory_order_relaxed);
    pthread_mutex_lock(&s->budget_lock);
    out->budget_users = s->n_budgets;
    pthread_mutex_unlock(&s->budget_lock);
}

/* ---- per-user budgets ---- */

/* Memory scans have a budget of their own per user: with memory_scan on,
 * every exec charges its user with the process's memory, which would
 * otherwise leave nothing for the user's file scans. */
#define DY_BUDGET_MEMORY ((uint64_t)1 << 32)

static uint32_t dy_budget_bucket(uint64_t key)
{
    uint32_t k = (uint32_t)key ^ ((uint32_t)(key >> 32) * 0x9e3779b9u);
    return (k * 2654435761u) >> 21; /* the top 11 bits: DY_BUDGET_BUCKETS */
}

static void dy_budget_unlink(struct dy_scanner *s, uint32_t i)
{
    struct dy_budget *b = &s->budgets[i];
    if (b->prev != DY_NIL)
        s->budgets[b->prev].next = b->next;
    else
        s->head = b->next;
    if (b->next != DY_NIL)
        s->budgets[b->next].prev = b->prev;
    else
        s->tail = b->prev;
}

static void dy_budget_push_front(struct dy_scanner *s, uint32_t i)
{
    struct dy_budget *b = &s->budgets[i];
    b->prev = DY_NIL;
    b->next = s->head;
    if (s->head != DY_NIL)
        s->budgets[s->head].prev = i;
    s->head = i;
    if (s->tail == DY_NIL)
        s->tail = i;
}

/* The entry of uid, made (forgetting the least recently charged user at
 * the cap) when absent; moved to the front. Under budget_lock. */
static struct dy_budget *dy_budget_of(struct dy_scanner *s, uint64_t key, int64_t now)
{
    uint32_t h = dy_budget_bucket(key);
    for (uint32_t i = s->budget_buckets[h]; i != DY_NIL; i = s->budgets[i].hnext) {
        if (s->budgets[i].key == key) {
            dy_budget_unlink(s, i);
            dy_budget_push_front(s, i);
            return &s->budgets[i];
        }
    }
    uint32_t i;
    if (s->n_budgets < DY_BUDGET_USERS) {
        i = s->n_budgets++;
    } else {
        i = s->tail;
        dy_budget_unlink(s, i);
        uint32_t *p = &s->budget_buckets[dy_budget_bucket(s->budgets[i].key)];
        while (*p != i)
            p = &s->budgets[*p].hnext;
        *p = s->budgets[i].hnext;
    }
    struct dy_budget *b = &s->budgets[i];
    b->key = key;
    b->tokens = (int64_t)s->user_bytes_per_min;
    b->last_ns = now;
    b->hnext = s->budget_buckets[h];
    s->budget_buckets[h] = i;
    dy_budget_push_front(s, i);
    return b;
}

static void dy_budget_refill(const struct dy_scanner *s, struct dy_budget *b, int64_t now)
{
    int64_t cap = (int64_t)s->user_bytes_per_min;
    int64_t dt = now - b->last_ns;
    if (dt <= 0)
        return;
    double add = (double)dt * (double)cap / 60e9;
    if (add >= (double)cap || (double)b->tokens + add >= (double)cap)
        b->tokens = cap;
    else
        b->tokens += (int64_t)add;
    b->last_ns = now;
}

/* What dy_budget_take does. */
enum dy_take {
    DY_TAKE_CHARGE, /* take bytes, or refuse when fewer are left */
    DY_TAKE_CHECK,  /* refuse when nothing is left; take nothing */
    DY_TAKE_DEBT,   /* take bytes whatever is left (a memory scan done) */
};

/* uid's budget: 0, or RP_ERR_FULL when refused. */
static int dy_budget_take(struct dy_scanner *s, uint64_t key, uint64_t bytes, enum dy_take how)
{
    if (s->user_bytes_per_min > INT64_MAX)
        return 0; /* UINT64_MAX: no budget */
    int64_t cap = (int64_t)s->user_bytes_per_min;
    int64_t want = bytes > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)bytes;
    int64_t now = dy_mono_ns();
    int rc = 0;
    pthread_mutex_lock(&s->budget_lock);
    struct dy_budget *b = dy_budget_of(s, key, now);
    dy_budget_refill(s, b, now);
    switch (how) {
    case DY_TAKE_CHARGE:
        if (b->tokens >= want)
            b->tokens -= want;
        else
            rc = RP_ERR_FULL;
        break;
    case DY_TAKE_CHECK:
        if (b->tokens <= 0)
            rc = RP_ERR_FULL;
        break;
    case DY_TAKE_DEBT:
        /* At most one minute of debt: a user is never shut out longer. */
        b->tokens = want > b->tokens + cap ? -cap : b->tokens - want;
        break;
    }
    pthread_mutex_unlock(&s->budget_lock);
    return rc;
}

/* ---- threads ---- */

int dy_scan_thread_create(struct dy_scanner *s, struct dy_scan_thread **out)
{
    if (!s || !out)
        return RP_ERR_INVAL;
    struct dy_scan_thread *t = calloc(1, sizeof(*t));
    if (!t)
        return RP_ERR_NOMEM;
    t->s = s;
    *out = t;
    return 0;
}

static void dy_thread_unbind(struct dy_scan_thread *t)
{
    if (t->ys)
        yr_scanner_destroy(t->ys);
    t->ys = NULL;
    dy_ruleset_unref(t->rs);
    t->rs = NULL;
    t->serial = 0;
}

void dy_scan_thread_destroy(struct dy_scan_thread *t)
{
    if (!t)
        return;
    dy_thread_unbind(t);
    free(t->buf);
    free(t);
}

void dy_scan_thread_set_hook(struct dy_scan_thread *t, dy_scan_hook_fn fn, void *ctx)
{
    t->hook = fn;
    t->hook_ctx = ctx;
}

static int dy_strings_matched(YR_SCAN_CONTEXT *ctx, const YR_RULE *rule)
{
    int n = 0;
    const YR_STRING *str;
    yr_rule_strings_foreach(rule, str)
    {
        if (ctx->matches[str->idx].count > 0)
            n++;
    }
    return n;
}

static int dy_yara_cb(YR_SCAN_CONTEXT *ctx, int message, void *data, void *user)
{
    struct dy_scan_thread *t = user;
    struct dy_scan_result *r = t->cur;
    if (message == CALLBACK_MSG_RULE_MATCHING) {
        const YR_RULE *rule = data;
        r->n_rules++;
        if (r->n_matches < DY_SCAN_MATCHES_MAX) {
            struct dy_scan_match *m = &r->matches[r->n_matches++];
            m->rule = rule;
            m->strings_matched = (uint32_t)dy_strings_matched(ctx, rule);
        } else {
            r->matches_dropped++;
        }
    } else if (message == CALLBACK_MSG_TOO_MANY_MATCHES) {
        /* libyara stops recording this string and scans on. */
        r->match_limit = true;
    }
    return CALLBACK_CONTINUE;
}

/* Binds t to rs: its YR_SCANNER is for rs's rules, made again when the set
 * changed. The thread holds a reference to the set its scanner reads, so
 * the set outlives the scanner whatever the caller drops. */
static int dy_thread_bind(struct dy_scan_thread *t, const struct dy_ruleset *rs,
                          struct dy_scan_result *res)
{
    if (t->ys && t->serial == rs->serial)
        return 0;
    dy_thread_unbind(t);
    YR_SCANNER *ys = NULL;
    int yr = yr_scanner_create(dy_rules_yara(rs->rules), &ys);
    if (yr != ERROR_SUCCESS) {
        res->outcome = DY_SCAN_ERROR;
        res->error = yr == ERROR_INSUFFICIENT_MEMORY ? RP_ERR_NOMEM : RP_ERR_INTERNAL;
        snprintf(res->msg, sizeof(res->msg), "libyara cannot make a scanner (error %d)", yr);
        return res->error;
    }
    yr_scanner_set_callback(ys, dy_yara_cb, t);
    yr_scanner_set_timeout(ys, (int)t->s->timeout_s);
    yr_scanner_set_flags(ys, SCAN_FLAGS_REPORT_RULES_MATCHING | SCAN_FLAGS_NO_TRYCATCH);
    t->ys = ys;
    t->rs = dy_ruleset_ref((struct dy_ruleset *)rs);
    t->serial = rs->serial;
    return 0;
}

static void dy_set_error(struct dy_scan_result *res, int err, const char *what, int e)
{
    res->outcome = DY_SCAN_ERROR;
    res->error = err;
    snprintf(res->msg, sizeof(res->msg), "%s: %s", what, strerror(e));
}

/* The outcome of a libyara scan. */
static void dy_yara_outcome(struct dy_scan_result *res, int yr)
{
    if (yr == ERROR_SUCCESS) {
        res->outcome = res->n_rules ? DY_SCAN_MALICIOUS : DY_SCAN_CLEAN;
    } else if (yr == ERROR_SCAN_TIMEOUT) {
        res->outcome = DY_SCAN_TIMEOUT;
    } else {
        res->outcome = DY_SCAN_ERROR;
        res->error = yr == ERROR_INSUFFICIENT_MEMORY ? RP_ERR_NOMEM : RP_ERR_INTERNAL;
        snprintf(res->msg, sizeof(res->msg), "libyara failed the scan (error %d)", yr);
    }
}

/* Whether a verdict for a file of ctime ctime_ns, stat'ed just now, may be
 * stored. The kernel stamps a change with its coarse clock (one tick, 1 to
 * 10 ms): a file changed again within the tick of its ctime keeps the same
 * ctime, and with the same size its identity would not move, so a verdict
 * taken now could be served for other bytes ("racy git"). Once the coarse
 * clock has passed ctime, any later change gets a later ctime; until then
 * the verdict is answered but not stored, and the file is scanned again
 * next time. Taken after the first fstat, before the bytes are read, so a
 * change during the read is also seen. */
static bool dy_settled(int64_t ctime_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec > ctime_ns;
}

static bool dy_id_equal(const struct dy_file_id *a, const struct dy_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static void dy_from_verdict(struct dy_scan_result *res, const struct dy_verdict *v)
{
    res->from_cache = true;
    switch (v->kind) {
    case DY_VERDICT_MALICIOUS:
        res->outcome = DY_SCAN_MALICIOUS;
        res->n_rules = v->matches;
        snprintf(res->cached_rule, sizeof(res->cached_rule), "%s", v->rule);
        break;
    case DY_VERDICT_ERROR:
        /* Only timeouts are stored as errors (scan.h). */
        res->outcome = DY_SCAN_TIMEOUT;
        break;
    default:
        res->outcome = DY_SCAN_CLEAN;
        break;
    }
}

static int dy_finish(struct dy_scanner *s, struct dy_scan_result *res)
{
    dy_count(&s->outcome[res->outcome], 1);
    if (res->match_limit)
        dy_count(&s->match_limit, 1);
    return 0;
}

int dy_scan_stat(struct dy_scanner *s, const struct dy_ruleset *rs, const struct stat *st,
                 struct dy_scan_result *res)
{
    if (!s || !rs || !st || !res)
        return RP_ERR_INVAL;
    memset(res, 0, sizeof(*res));
    if (!S_ISREG(st->st_mode))
        return RP_ERR_NOTFOUND;
    dy_file_id_from_stat(st, &res->id);
    struct dy_verdict v;
    if (dy_verdict_get(s->vc, &res->id, dy_rules_hash(rs->rules), &v) != 0)
        return RP_ERR_NOTFOUND;
    dy_count(&s->scans, 1);
    dy_count(&s->cache_hits, 1);
    dy_from_verdict(res, &v);
    return dy_finish(s, res);
}

/* Reads size bytes of fd from offset 0 into dst. 0, 1 when the file ended
 * sooner (it shrank), or -errno. */
static int dy_read_all(int fd, uint8_t *dst, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, dst + got, size - got, (off_t)got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return 1;
        got += (size_t)n;
    }
    return 0;
}

/* A buffer of size bytes: the thread's own (grown up to
 * DY_SCAN_KEEP_BYTES) or, beyond, one of its own that the caller frees. */
static uint8_t *dy_buffer(struct dy_scan_thread *t, size_t size, bool *own)
{
    *own = false;
    if (size > DY_SCAN_KEEP_BYTES) {
        *own = true;
        return malloc(size ? size : 1);
    }
    if (t->buf_cap < size || !t->buf) {
        size_t cap = t->buf_cap ? t->buf_cap : 64u * 1024u;
        while (cap < size)
            cap *= 2;
        if (cap > DY_SCAN_KEEP_BYTES)
            cap = DY_SCAN_KEEP_BYTES;
        uint8_t *b = realloc(t->buf, cap);
        if (!b)
            return NULL;
        t->buf = b;
        t->buf_cap = cap;
    }
    return t->buf;
}

static void dy_scan_sha256_mem(const void *data, size_t len, uint8_t out[32])
{
    rp_util_sha256 h;
    rp_util_sha256_init(&h);
    rp_util_sha256_update(&h, data, len);
    rp_util_sha256_final(&h, out);
}

int dy_scan_sha256_fd(int fd, uint8_t out[32])
{
    uint8_t buf[64 * 1024];
    rp_util_sha256 h;
    rp_util_sha256_init(&h);
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof(buf), off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return RP_ERR_IO;
        }
        if (n == 0)
            break;
        rp_util_sha256_update(&h, buf, (size_t)n);
        off += n;
    }
    rp_util_sha256_final(&h, out);
    return 0;
}

/* Stores the verdict of res (clean, malicious or a timeout) under the
 * writer lock; the verdict cache re-checks before against after. */
static void dy_store(struct dy_scanner *s, const struct dy_ruleset *rs,
                     const struct dy_file_id *before, const struct dy_file_id *after,
                     const struct dy_scan_result *res)
{
    struct dy_verdict v = {0};
    if (res->outcome == DY_SCAN_MALICIOUS) {
        v.kind = DY_VERDICT_MALICIOUS;
        v.matches = res->n_rules;
        if (res->n_matches)
            snprintf(v.rule, sizeof(v.rule), "%s", res->matches[0].rule->identifier);
    } else if (res->outcome == DY_SCAN_TIMEOUT) {
        v.kind = DY_VERDICT_ERROR;
    } else if (res->outcome == DY_SCAN_CLEAN) {
        v.kind = DY_VERDICT_CLEAN;
    } else {
        return;
    }
    pthread_mutex_lock(&s->writer);
    (void)dy_verdict_put(s->vc, before, after, dy_rules_hash(rs->rules), &v);
    pthread_mutex_unlock(&s->writer);
}

/* Clears what one try wrote, keeping the identity. */
static void dy_reset_try(struct dy_scan_result *res)
{
    struct dy_file_id id = res->id;
    memset(res, 0, sizeof(*res));
    res->id = id;
}

int dy_scan_fd(struct dy_scan_thread *t, const struct dy_ruleset *rs, int fd, uint32_t uid,
               uint32_t flags, struct dy_scan_result *res)
{
    if (!t || !rs || fd < 0 || !res)
        return RP_ERR_INVAL;
    memset(res, 0, sizeof(*res));
    struct dy_scanner *s = t->s;
    dy_count(&s->scans, 1);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        dy_set_error(res, RP_ERR_IO, "fstat", errno);
        return dy_finish(s, res);
    }
    if (!S_ISREG(st.st_mode)) {
        res->outcome = DY_SCAN_NOT_REGULAR;
        return dy_finish(s, res);
    }
    dy_file_id_from_stat(&st, &res->id);
    const uint8_t *hash = dy_rules_hash(rs->rules);
    bool cache = !(flags & DY_SCAN_NO_CACHE);
    if (cache) {
        struct dy_verdict v;
        if (dy_verdict_get(s->vc, &res->id, hash, &v) == 0) {
            dy_count(&s->cache_hits, 1);
            dy_from_verdict(res, &v);
            return dy_finish(s, res);
        }
    }
    if (dy_thread_bind(t, rs, res) != 0)
        return dy_finish(s, res);

    for (uint32_t attempt = 0;; attempt++) {
        struct dy_file_id before = res->id;
        bool settled = dy_settled(before.ctime_ns);
        if (before.size > s->max_file_bytes) {
            res->outcome = DY_SCAN_TOO_LARGE;
            return dy_finish(s, res);
        }
        if (!(flags & DY_SCAN_NO_BUDGET) &&
            dy_budget_take(s, uid, before.size, DY_TAKE_CHARGE) != 0) {
            res->outcome = DY_SCAN_BUDGET;
            return dy_finish(s, res);
        }
        size_t size = (size_t)before.size;
        bool own;
        uint8_t *buf = dy_buffer(t, size, &own);
        if (!buf) {
            dy_set_error(res, RP_ERR_NOMEM, "read buffer", ENOMEM);
            return dy_finish(s, res);
        }
        int rd = dy_read_all(fd, buf, size);
        if (rd < 0) {
            if (own)
                free(buf);
            dy_set_error(res, RP_ERR_IO, "read", -rd);
            return dy_finish(s, res);
        }
        bool changed = rd == 1; /* it shrank while read */
        if (!changed) {
            t->cur = res;
            int yr = yr_scanner_scan_mem(t->ys, buf, size);
            t->cur = NULL;
            dy_count(&s->scanned, 1);
            dy_count(&s->bytes, size);
            res->bytes = size;
            dy_yara_outcome(res, yr);
            if (res->outcome == DY_SCAN_MALICIOUS) {
                dy_scan_sha256_mem(buf, size, res->sha256);
                res->has_sha256 = true;
            }
        }
        if (own)
            free(buf);
        if (t->hook)
            t->hook(t->hook_ctx, fd, attempt);
        struct dy_file_id after;
        if (fstat(fd, &st) != 0) {
            dy_set_error(res, RP_ERR_IO, "fstat", errno);
            return dy_finish(s, res);
        }
        dy_file_id_from_stat(&st, &after);
        changed = changed || !dy_id_equal(&before, &after);
        if (!changed) {
            if (cache && settled)
                dy_store(s, rs, &before, &after, res);
            return dy_finish(s, res);
        }
        if (cache && !dy_id_equal(&before, &after)) {
            /* Counted by the verdict cache as refused. A short read with
             * the identity unchanged (a shrink and regrowth within one
             * tick) must not reach the put: it would be stored. */
            pthread_mutex_lock(&s->writer);
            struct dy_verdict none = {.kind = DY_VERDICT_CLEAN};
            (void)dy_verdict_put(s->vc, &before, &after, hash, &none);
            pthread_mutex_unlock(&s->writer);
        }
        /* Bytes that matched are evidence whatever came after: a file kept
         * changing must not hide them, so a match is answered at once (not
         * stored: its identity moved). */
        if (res->outcome == DY_SCAN_MALICIOUS) {
            res->id = before;
            return dy_finish(s, res);
        }
        if (attempt >= DY_SCAN_RETRIES) {
            res->id = after;
            res->outcome = DY_SCAN_CHANGING;
            res->bytes = 0;
            return dy_finish(s, res);
        }
        dy_count(&s->retries, 1);
        res->id = after;
        dy_reset_try(res);
    }
}

/* ---- process memory ---- */

/* Wraps libyara's process iterator to count the bytes it hands out. */
struct dy_proc_iter {
    YR_MEMORY_BLOCK_ITERATOR inner;
    uint64_t bytes;
};

static YR_MEMORY_BLOCK *dy_proc_counted(YR_MEMORY_BLOCK_ITERATOR *it, YR_MEMORY_BLOCK *b)
{
    struct dy_proc_iter *p = it->context;
    it->last_error = p->inner.last_error;
    if (b)
        p->bytes += b->size;
    return b;
}

static YR_MEMORY_BLOCK *dy_proc_first(YR_MEMORY_BLOCK_ITERATOR *it)
{
    struct dy_proc_iter *p = it->context;
    return dy_proc_counted(it, p->inner.first(&p->inner));
}

static YR_MEMORY_BLOCK *dy_proc_next(YR_MEMORY_BLOCK_ITERATOR *it)
{
    struct dy_proc_iter *p = it->context;
    return dy_proc_counted(it, p->inner.next(&p->inner));
}

int dy_scan_pid(struct dy_scan_thread *t, const struct dy_ruleset *rs, pid_t pid, uint32_t uid,
                uint32_t flags, struct dy_scan_result *res)
{
    if (!t || !rs || pid <= 0 || !res)
        return RP_ERR_INVAL;
    memset(res, 0, sizeof(*res));
    struct dy_scanner *s = t->s;
    dy_count(&s->scans, 1);
    bool budget = !(flags & DY_SCAN_NO_BUDGET);
    /* The size is known only after the scan: a user already past the budget
     * is refused, the bytes are charged after. */
    if (budget && dy_budget_take(s, DY_BUDGET_MEMORY | uid, 0, DY_TAKE_CHECK) != 0) {
        res->outcome = DY_SCAN_BUDGET;
        return dy_finish(s, res);
    }
    if (dy_thread_bind(t, rs, res) != 0)
        return dy_finish(s, res);
    struct dy_proc_iter p = {0};
    int yr = yr_process_open_iterator((int)pid, &p.inner);
    if (yr != ERROR_SUCCESS) {
        res->outcome = DY_SCAN_ERROR;
        res->error = yr == ERROR_INSUFFICIENT_MEMORY ? RP_ERR_NOMEM : RP_ERR_PERM;
        snprintf(res->msg, sizeof(res->msg), "libyara cannot open process %d (error %d)", (int)pid,
                 yr);
        return dy_finish(s, res);
    }
    YR_MEMORY_BLOCK_ITERATOR it = {
        .context = &p,
        .first = dy_proc_first,
        .next = dy_proc_next,
        .file_size = NULL,
        .last_error = ERROR_SUCCESS,
    };
    yr_scanner_set_flags(t->ys, SCAN_FLAGS_REPORT_RULES_MATCHING | SCAN_FLAGS_NO_TRYCATCH |
                                    SCAN_FLAGS_PROCESS_MEMORY);
    t->cur = res;
    yr = yr_scanner_scan_mem_blocks(t->ys, &it);
    t->cur = NULL;
    yr_scanner_set_flags(t->ys, SCAN_FLAGS_REPORT_RULES_MATCHING | SCAN_FLAGS_NO_TRYCATCH);
    yr_process_close_iterator(&p.inner);
    dy_count(&s->scanned, 1);
    dy_count(&s->bytes, p.bytes);
    res->bytes = p.bytes;
    if (budget)
        (void)dy_budget_take(s, DY_BUDGET_MEMORY | uid, p.bytes, DY_TAKE_DEBT);
    dy_yara_outcome(res, yr);
    return dy_finish(s, res);
}
