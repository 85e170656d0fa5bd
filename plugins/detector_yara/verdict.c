/*
 * plugins/detector_yara/verdict.c - the verdict cache (verdict.h): a hash
 * table chained through entry indices, an LRU list through the same
 * entries, all taken at create; persistence in fixed-size records with a
 * CRC32C each.
 */
#define _GNU_SOURCE
#include "verdict.h"

#include <rampart/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define NIL UINT32_MAX

static const char magic[8] = {'R', 'P', 'Y', 'V', 'R', 'D', 'C', 'T'};

struct entry {
    struct dy_file_id id;
    uint8_t rules[DY_RULES_HASH_BYTES];
    uint32_t hnext;      /* next in the bucket's chain */
    uint32_t prev, next; /* LRU list: prev towards the head (most recent) */
    uint32_t used;
    uint64_t tick; /* when last looked up or stored, for the saved order */
    struct dy_verdict v;
};

struct dy_verdict_cache {
    pthread_mutex_t lock;
    uint32_t cap, count, mask;
    uint32_t free_head;
    uint32_t head, tail;
    uint64_t seed, tick;
    uint32_t *buckets;
    struct entry *e;
    struct dy_verdict_stats st;
};

/* ---- CRC32C ---- */

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t dy_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

/* ---- little-endian fields ---- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* ---- the table ---- */

void dy_file_id_from_stat(const struct stat *st, struct dy_file_id *id)
{
    id->dev = (uint64_t)st->st_dev;
    id->ino = (uint64_t)st->st_ino;
    id->size = (uint64_t)st->st_size;
    id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

size_t dy_verdict_entry_bytes(void)
{
    /* An entry and its share of the buckets (at most two per entry). */
    return sizeof(struct entry) + 2 * sizeof(uint32_t);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static uint32_t bucket_of(const struct dy_verdict_cache *c, const struct dy_file_id *id,
                          const uint8_t *rules)
{
    uint64_t r;
    memcpy(&r, rules, sizeof r);
    uint64_t h = mix(c->seed ^ id->dev);
    h = mix(h ^ id->ino);
    h = mix(h ^ id->size);
    h = mix(h ^ (uint64_t)id->mtime_ns);
    h = mix(h ^ (uint64_t)id->ctime_ns);
    h = mix(h ^ r);
    return (uint32_t)h & c->mask;
}

static bool id_equal(const struct dy_file_id *a, const struct dy_file_id *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

static uint32_t find(const struct dy_verdict_cache *c, uint32_t b, const struct dy_file_id *id,
                     const uint8_t *rules)
{
    for (uint32_t i = c->buckets[b]; i != NIL; i = c->e[i].hnext) {
        const struct entry *e = &c->e[i];
        if (id_equal(&e->id, id) && memcmp(e->rules, rules, DY_RULES_HASH_BYTES) == 0)
            return i;
    }
    return NIL;
}

static void lru_unlink(struct dy_verdict_cache *c, uint32_t i)
{
    struct entry *e = &c->e[i];
    if (e->prev != NIL)
        c->e[e->prev].next = e->next;
    else
        c->head = e->next;
    if (e->next != NIL)
        c->e[e->next].prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NIL;
}

static void lru_push_front(struct dy_verdict_cache *c, uint32_t i)
{
    struct entry *e = &c->e[i];
    e->prev = NIL;
    e->next = c->head;
    if (c->head != NIL)
        c->e[c->head].prev = i;
    c->head = i;
    if (c->tail == NIL)
        c->tail = i;
    e->tick = ++c->tick;
}

static void chain_remove(struct dy_verdict_cache *c, uint32_t i)
{
    uint32_t b = bucket_of(c, &c->e[i].id, c->e[i].rules);
    uint32_t *link = &c->buckets[b];
    while (*link != NIL && *link != i)
        link = &c->e[*link].hnext;
    if (*link == i)
        *link = c->e[i].hnext;
}

/* Stores under the lock: replaces the entry of the same key, or takes a
 * free one, or evicts the least recently used. */
static void store_locked(struct dy_verdict_cache *c, const struct dy_file_id *id,
                         const uint8_t *rules, const struct dy_verdict *v)
{
    uint32_t b = bucket_of(c, id, rules);
    uint32_t i = find(c, b, id, rules);
    if (i != NIL) {
        lru_unlink(c, i);
    } else {
        if (c->free_head == NIL) {
            uint32_t old = c->tail;
            chain_remove(c, old);
            lru_unlink(c, old);
            c->e[old].used = 0;
            c->e[old].hnext = c->free_head;
            c->free_head = old;
            c->count--;
            c->st.evictions++;
        }
        i = c->free_head;
        c->free_head = c->e[i].hnext;
        struct entry *e = &c->e[i];
        e->id = *id;
        memcpy(e->rules, rules, DY_RULES_HASH_BYTES);
        e->used = 1;
        e->hnext = c->buckets[b];
        c->buckets[b] = i;
        c->count++;
    }
    struct entry *e = &c->e[i];
    e->v.kind = v->kind;
    e->v.matches = v->matches;
    e->v.judged_ns = v->judged_ns;
    /* The name is cut to fit and always terminated. */
    size_t n = strnlen(v->rule, DY_VERDICT_NAME_MAX - 1);
    memcpy(e->v.rule, v->rule, n);
    memset(e->v.rule + n, 0, DY_VERDICT_NAME_MAX - n);
    lru_push_front(c, i);
}

int dy_verdict_create(const struct dy_verdict_opts *opts, struct dy_verdict_cache **out)
{
    *out = NULL;
    uint64_t max_entries = opts && opts->max_entries ? opts->max_entries : DY_VERDICT_ENTRIES_DEF;
    uint64_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : DY_VERDICT_BYTES_DEF;
    if (max_entries > DY_VERDICT_ENTRIES_MAX)
        return RP_ERR_RANGE;
    uint64_t fit = max_bytes / dy_verdict_entry_bytes();
    uint64_t cap = max_entries < fit ? max_entries : fit;
    if (cap == 0)
        return RP_ERR_RANGE;
    uint32_t nb = 1;
    while (nb < cap)
        nb <<= 1;
    struct dy_verdict_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return RP_ERR_NOMEM;
    c->buckets = malloc((size_t)nb * sizeof(uint32_t));
    c->e = calloc((size_t)cap, sizeof(struct entry));
    if (!c->buckets || !c->e) {
        free(c->buckets);
        free(c->e);
        free(c);
        return RP_ERR_NOMEM;
    }
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    /* Spin briefly before sleeping: the lock is held for a probe. */
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = pthread_mutex_init(&c->lock, &a);
    pthread_mutexattr_destroy(&a);
    if (rc != 0) {
        free(c->buckets);
        free(c->e);
        free(c);
        return RP_ERR_NOMEM;
    }
    c->cap = (uint32_t)cap;
    c->mask = nb - 1;
    for (uint32_t b = 0; b < nb; b++)
        c->buckets[b] = NIL;
    for (uint32_t i = 0; i < c->cap; i++) {
        c->e[i].hnext = i + 1 < c->cap ? i + 1 : NIL;
        c->e[i].prev = c->e[i].next = NIL;
    }
    c->free_head = 0;
    c->head = c->tail = NIL;
    /* A random seed keeps chains short whatever inode numbers a user can
     * arrange; without one the table still works, only predictably. */
    if (getrandom(&c->seed, sizeof c->seed, GRND_NONBLOCK) != (ssize_t)sizeof c->seed)
        c->seed = (uint64_t)(uintptr_t)c ^ (uint64_t)time(NULL);
    *out = c;
    return 0;
}

void dy_verdict_destroy(struct dy_verdict_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c->buckets);
    free(c->e);
    free(c);
}

uint32_t dy_verdict_capacity(const struct dy_verdict_cache *c)
{
    return c->cap;
}

uint32_t dy_verdict_count(struct dy_verdict_cache *c)
{
    pthread_mutex_lock(&c->lock);
    uint32_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}

int dy_verdict_get(struct dy_verdict_cache *c, const struct dy_file_id *id,
                   const uint8_t rules[DY_RULES_HASH_BYTES], struct dy_verdict *out)
{
    uint32_t b = bucket_of(c, id, rules);
    pthread_mutex_lock(&c->lock);
    uint32_t i = find(c, b, id, rules);
    if (i == NIL) {
        c->st.misses++;
        pthread_mutex_unlock(&c->lock);
        return RP_ERR_NOTFOUND;
    }
    lru_unlink(c, i);
    lru_push_front(c, i);
    *out = c->e[i].v;
    c->st.hits++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

int dy_verdict_put(struct dy_verdict_cache *c, const struct dy_file_id *before,
                   const struct dy_file_id *after, const uint8_t rules[DY_RULES_HASH_BYTES],
                   const struct dy_verdict *v)
{
    if ((unsigned)v->kind > DY_VERDICT_ERROR)
        return RP_ERR_INVAL;
    struct dy_verdict copy = *v;
    if (copy.judged_ns == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        copy.judged_ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    }
    pthread_mutex_lock(&c->lock);
    if (!id_equal(before, after)) {
        c->st.refused++;
        pthread_mutex_unlock(&c->lock);
        return RP_ERR_AGAIN;
    }
    store_locked(c, after, rules, &copy);
    c->st.stores++;
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void dy_verdict_stats(struct dy_verdict_cache *c, struct dy_verdict_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->st;
    pthread_mutex_unlock(&c->lock);
}

/* ---- records ---- */

static void encode_header(uint8_t *h, const uint8_t *rules, uint32_t count)
{
    memset(h, 0, DY_VERDICT_HEADER_BYTES);
    memcpy(h, magic, sizeof magic);
    put32(h + 8, DY_VERDICT_FORMAT);
    put32(h + 12, DY_VERDICT_RECORD_BYTES);
    memcpy(h + 16, rules, DY_RULES_HASH_BYTES);
    put32(h + 48, count);
    put32(h + 60, dy_crc32c(0, h, 60));
}

static void encode_record(uint8_t *r, const struct dy_file_id *id, const struct dy_verdict *v)
{
    memset(r, 0, DY_VERDICT_RECORD_BYTES);
    put64(r, id->dev);
    put64(r + 8, id->ino);
    put64(r + 16, id->size);
    put64(r + 24, (uint64_t)id->mtime_ns);
    put64(r + 32, (uint64_t)id->ctime_ns);
    put64(r + 40, (uint64_t)v->judged_ns);
    put32(r + 48, v->matches);
    r[52] = (uint8_t)v->kind;
    size_t n = strnlen(v->rule, DY_VERDICT_NAME_MAX - 1);
    r[53] = (uint8_t)n;
    memcpy(r + 56, v->rule, n);
    put32(r + 188, dy_crc32c(0, r, 188));
}

/* false when the CRC or a field is wrong. */
static bool decode_record(const uint8_t *r, struct dy_file_id *id, struct dy_verdict *v)
{
    if (get32(r + 188) != dy_crc32c(0, r, 188))
        return false;
    uint32_t kind = r[52], n = r[53];
    if (kind > DY_VERDICT_ERROR || n >= DY_VERDICT_NAME_MAX || r[54] || r[55] || get32(r + 184))
        return false;
    if (memchr(r + 56, 0, n))
        return false;
    for (uint32_t k = n; k < DY_VERDICT_NAME_MAX; k++)
        if (r[56 + k])
            return false;
    id->dev = get64(r);
    id->ino = get64(r + 8);
    id->size = get64(r + 16);
    id->mtime_ns = (int64_t)get64(r + 24);
    id->ctime_ns = (int64_t)get64(r + 32);
    v->judged_ns = (int64_t)get64(r + 40);
    v->matches = get32(r + 48);
    v->kind = (enum dy_verdict_kind)kind;
    memcpy(v->rule, r + 56, n);
    memset(v->rule + n, 0, DY_VERDICT_NAME_MAX - n);
    return true;
}

/* ---- save ---- */

struct snap {
    struct dy_file_id id;
    struct dy_verdict v;
    uint64_t tick;
};

static int snap_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct snap *)a)->tick, y = ((const struct snap *)b)->tick;
    return x < y ? -1 : x > y;
}

static bool name_ok(const char *name)
{
    size_t n = name ? strnlen(name, DY_VERDICT_FILE_NAME_MAX + 1) : 0;
    return n > 0 && n <= DY_VERDICT_FILE_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") &&
           strcmp(name, "..");
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return RP_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

#define IO_RECORDS 64u

int dy_verdict_save(struct dy_verdict_cache *c, int dirfd, const char *name,
                    const uint8_t rules[DY_RULES_HASH_BYTES], uint32_t *saved)
{
    if (saved)
        *saved = 0;
    if (!name_ok(name))
        return RP_ERR_INVAL;
    char tmp[DY_VERDICT_FILE_NAME_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);

    /* Copy in chunks so a lookup never waits for more than a chunk; the
     * entries themselves only change on this (the writer's) thread. */
    struct snap *s = malloc((size_t)c->cap * sizeof(*s));
    if (!s)
        return RP_ERR_NOMEM;
    uint32_t n = 0;
    for (uint32_t at = 0; at < c->cap; at += DY_VERDICT_SAVE_CHUNK) {
        uint32_t end = at + DY_VERDICT_SAVE_CHUNK < c->cap ? at + DY_VERDICT_SAVE_CHUNK : c->cap;
        pthread_mutex_lock(&c->lock);
        for (uint32_t i = at; i < end; i++) {
            const struct entry *e = &c->e[i];
            if (!e->used || memcmp(e->rules, rules, DY_RULES_HASH_BYTES) != 0)
                continue;
            s[n].id = e->id;
            s[n].v = e->v;
            s[n].tick = e->tick;
            n++;
        }
        pthread_mutex_unlock(&c->lock);
    }
    /* Least recently used first, so a load rebuilds the same order. */
    qsort(s, n, sizeof(*s), snap_cmp);

    int fd = -1;
    for (int attempt = 0; attempt < 2 && fd < 0; attempt++) {
        fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        /* A temporary file left by a crash (or planted) is removed, never
         * followed: unlinkat removes a symbolic link itself. */
        if (fd < 0 && errno == EEXIST && attempt == 0)
            unlinkat(dirfd, tmp, 0);
    }
    if (fd < 0) {
        free(s);
        return RP_ERR_IO;
    }
    int rc = fchmod(fd, 0600) == 0 ? 0 : RP_ERR_IO;
    uint8_t buf[IO_RECORDS * DY_VERDICT_RECORD_BYTES];
    if (rc == 0) {
        encode_header(buf, rules, n);
        rc = write_all(fd, buf, DY_VERDICT_HEADER_BYTES);
    }
    for (uint32_t at = 0; rc == 0 && at < n; at += IO_RECORDS) {
        uint32_t k = n - at < IO_RECORDS ? n - at : IO_RECORDS;
        for (uint32_t j = 0; j < k; j++)
            encode_record(buf + (size_t)j * DY_VERDICT_RECORD_BYTES, &s[at + j].id, &s[at + j].v);
        rc = write_all(fd, buf, (size_t)k * DY_VERDICT_RECORD_BYTES);
    }
    free(s);
    if (rc == 0 && fsync(fd) != 0)
        rc = RP_ERR_IO;
    if (close(fd) != 0 && rc == 0)
        rc = RP_ERR_IO;
    if (rc == 0 && renameat(dirfd, tmp, dirfd, name) != 0)
        rc = RP_ERR_IO;
    if (rc != 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        errno = e;
        return rc;
    }
    /* The rename is durable only once the folder is. */
    if (fsync(dirfd) != 0)
        return RP_ERR_IO;
    if (saved)
        *saved = n;
    return 0;
}

/* ---- load ---- */

/* The bytes being parsed: a descriptor (read with pread) or memory. */
struct src {
    int fd;
    const uint8_t *mem;
    uint64_t size;
};

/* Reads n bytes at off; false when fewer are there (the file shrank). */
static bool src_read(const struct src *s, uint64_t off, uint8_t *buf, size_t n)
{
    if (off > s->size || n > s->size - off)
        return false;
    if (s->mem) {
        memcpy(buf, s->mem + off, n);
        return true;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(s->fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

static int parse(struct dy_verdict_cache *c, const struct src *s, const uint8_t *rules,
                 struct dy_verdict_load_report *rep)
{
    uint8_t h[DY_VERDICT_HEADER_BYTES];
    if (!src_read(s, 0, h, sizeof h)) {
        snprintf(rep->msg, sizeof rep->msg, "header torn: %llu bytes, %u expected",
                 (unsigned long long)s->size, DY_VERDICT_HEADER_BYTES);
        return RP_ERR_PARSE;
    }
    if (memcmp(h, magic, sizeof magic) != 0 || get32(h + 60) != dy_crc32c(0, h, 60)) {
        snprintf(rep->msg, sizeof rep->msg, "header corrupt: bad magic or CRC32C");
        return RP_ERR_PARSE;
    }
    if (get32(h + 8) != DY_VERDICT_FORMAT || get32(h + 12) != DY_VERDICT_RECORD_BYTES) {
        snprintf(rep->msg, sizeof rep->msg, "format %u with %u-byte records, expected %u with %u",
                 get32(h + 8), get32(h + 12), DY_VERDICT_FORMAT, DY_VERDICT_RECORD_BYTES);
        return RP_ERR_PARSE;
    }
    /* The count is believed only as far as the file's size reaches. */
    uint32_t count = get32(h + 48);
    rep->count = count;
    uint64_t avail = (s->size - DY_VERDICT_HEADER_BYTES) / DY_VERDICT_RECORD_BYTES;
    uint32_t n = count < avail ? count : (uint32_t)avail;
    rep->torn = count - n;
    if (memcmp(h + 16, rules, DY_RULES_HASH_BYTES) != 0) {
        rep->other_rules = n;
        snprintf(rep->msg, sizeof rep->msg, "%u records of another rule set dropped", n);
        return 0;
    }
    /* Beyond the cap, the oldest records (first in the file) are left. */
    uint32_t skip = n > c->cap ? n - c->cap : 0;
    rep->over_cap = skip;
    uint8_t buf[IO_RECORDS * DY_VERDICT_RECORD_BYTES];
    for (uint32_t at = skip; at < n; at += IO_RECORDS) {
        uint32_t k = n - at < IO_RECORDS ? n - at : IO_RECORDS;
        uint64_t off = DY_VERDICT_HEADER_BYTES + (uint64_t)at * DY_VERDICT_RECORD_BYTES;
        if (!src_read(s, off, buf, (size_t)k * DY_VERDICT_RECORD_BYTES)) {
            rep->torn += n - at;
            break;
        }
        pthread_mutex_lock(&c->lock);
        for (uint32_t j = 0; j < k; j++) {
            struct dy_file_id id;
            struct dy_verdict v;
            if (!decode_record(buf + (size_t)j * DY_VERDICT_RECORD_BYTES, &id, &v)) {
                rep->corrupt++;
                continue;
            }
            store_locked(c, &id, rules, &v);
            rep->loaded++;
        }
        pthread_mutex_unlock(&c->lock);
    }
    if (rep->torn || rep->corrupt || rep->over_cap)
        snprintf(rep->msg, sizeof rep->msg,
                 "%u of %u records loaded: %u torn (file cut short), %u corrupt, %u beyond the cap",
                 rep->loaded, count, rep->torn, rep->corrupt, rep->over_cap);
    return 0;
}

static int load_src(struct dy_verdict_cache *c, const struct src *s, const uint8_t *rules,
                    struct dy_verdict_load_report *rep)
{
    struct dy_verdict_load_report local;
    if (!rep)
        rep = &local;
    memset(rep, 0, sizeof(*rep));
    int rc = parse(c, s, rules, rep);
    pthread_mutex_lock(&c->lock);
    c->st.loaded += rep->loaded;
    c->st.dropped += (uint64_t)rep->corrupt + rep->torn + rep->over_cap + rep->other_rules;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int dy_verdict_load_mem(struct dy_verdict_cache *c, const void *data, size_t len,
                        const uint8_t rules[DY_RULES_HASH_BYTES],
                        struct dy_verdict_load_report *rep)
{
    struct src s = {.fd = -1, .mem = data, .size = len};
    if (!data)
        s.size = 0;
    return load_src(c, &s, rules, rep);
}

int dy_verdict_load(struct dy_verdict_cache *c, int dirfd, const char *name,
                    const uint8_t rules[DY_RULES_HASH_BYTES], struct dy_verdict_load_report *rep)
{
    if (rep)
        memset(rep, 0, sizeof(*rep));
    if (!name_ok(name))
        return RP_ERR_INVAL;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (rep)
            snprintf(rep->msg, sizeof rep->msg, "%s: %s", name, strerror(e));
        return e == ENOENT ? RP_ERR_NOTFOUND : e == ELOOP ? RP_ERR_PERM : RP_ERR_IO;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = RP_ERR_IO;
    } else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
        if (rep)
            snprintf(rep->msg, sizeof rep->msg, "%s: not a regular file of user %u", name,
                     (unsigned)geteuid());
        rc = RP_ERR_PERM;
    } else if ((uint64_t)st.st_size > DY_VERDICT_FILE_MAX) {
        if (rep)
            snprintf(rep->msg, sizeof rep->msg, "%s: %llu bytes, at most %llu expected", name,
                     (unsigned long long)st.st_size, (unsigned long long)DY_VERDICT_FILE_MAX);
        rc = RP_ERR_RANGE;
    }
    if (rc == 0) {
        struct src s = {.fd = fd, .size = (uint64_t)st.st_size};
        rc = load_src(c, &s, rules, rep);
    }
    close(fd);
    return rc;
}
