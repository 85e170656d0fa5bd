/*
 * plugins/detector_yara/verdict.h - the verdict cache: what the rules said
 * about a file, kept so that an unchanged file is never scanned twice and an
 * exec of a judged program is answered at once.
 *
 * Key: the file's identity (device, inode, size, mtime and ctime in ns) and
 * the rules' hash (32 bytes, SHA-256 of the rule set, given by the caller).
 * Value: the verdict (clean, malicious, error), for a malicious file the
 * first matching rule's name (at most DY_VERDICT_NAME_MAX - 1 bytes, cut
 * beyond) and the match count, and when it was judged. An entry of another
 * rules hash is a miss: a new rule set never gets a stale "clean".
 *
 * Why the identity is enough: any write to a file moves its ctime to the
 * kernel's current time, and no system call sets ctime to a chosen value
 * (utimensat, touch -d, sets mtime and atime, and itself moves ctime to
 * now). A file rewritten and then touched back to its old mtime therefore
 * still has a new ctime, so its identity differs and its old verdict is a
 * miss. The same holds for a verdict loaded from disk after a restart: it is
 * trusted only when the file's identity (taken with fstat on the descriptor
 * being judged) still equals the stored one. What this does not cover: an
 * attacker who can set the clock back, or who writes the block device under
 * the file system (both need root, who can also stop the agent).
 *
 * Bounds: the cache holds at most `cap` entries, the smaller of
 * opts.max_entries and what fits in opts.max_bytes (dy_verdict_entry_bytes()
 * each); all its memory is taken at create. The only later allocation is
 * the copy dy_verdict_save writes from (up to cap entries, about the size
 * of the entries themselves, freed before it returns).
 * At the cap, storing a new entry evicts the least recently used one (looked
 * up or stored), counted in evictions.
 *
 * The re-check after a scan: the caller takes the identity before the scan
 * (fstat on the open descriptor) and after it (fstat on the same
 * descriptor); dy_verdict_put refuses to store when they differ
 * (RP_ERR_AGAIN: the file changed during the scan, scan it again).
 *
 * Threads: one writer thread (dy_verdict_put, dy_verdict_save,
 * dy_verdict_load*) and any number of reader threads (dy_verdict_get,
 * dy_verdict_stats, dy_verdict_count) at the same time. Every operation
 * holds one adaptive mutex for a hash probe and a relink of the LRU list (a
 * few cache lines, well under a microsecond): a lookup moves its entry to
 * the front, so even a reader writes, and a lock-free design would either
 * drop exact LRU or need per-entry atomics for the list. The adaptive mutex
 * spins briefly before it sleeps, so with the hold this short a contended
 * lookup almost never reaches the futex. dy_verdict_save copies the entries
 * in chunks of DY_VERDICT_SAVE_CHUNK under the lock and does its I/O without
 * it, so saving never holds a lookup for longer than a chunk's copy; it must
 * run on the writer thread, which is what keeps the chunks consistent (only
 * the writer changes entries). create and destroy are not concurrent with
 * anything.
 *
 * Persistence (dy_verdict_save, dy_verdict_load): a file in a folder the
 * caller opened (the plugin's private folder). Format, little-endian:
 *   header (DY_VERDICT_HEADER_BYTES): magic "RPYVRDCT", format version,
 *     record size, the rules hash, the record count, CRC32C of the above;
 *   records (DY_VERDICT_RECORD_BYTES each, least recently used first):
 *     identity, judged time, verdict, match count, name length and name
 *     (NUL padded), CRC32C of the record.
 * Saved atomically: a temporary file "<name>.tmp" (O_EXCL, O_NOFOLLOW, mode
 * 0600), fsync, renameat over the name, fsync of the folder. Loaded with
 * O_NOFOLLOW, checked to be a regular file owned by the process's effective
 * user and at most DY_VERDICT_FILE_MAX bytes. The count is believed only as
 * far as the file's size and the cache's cap reach; a record whose CRC or
 * fields are wrong is skipped, a torn tail is cut, and the report says how
 * many of each. A file of another rules hash loads nothing (its records are
 * counted as dropped).
 */
#ifndef RP_DETECTOR_YARA_VERDICT_H
#define RP_DETECTOR_YARA_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#define DY_RULES_HASH_BYTES    32u
#define DY_VERDICT_NAME_MAX    128u /* with the NUL; a longer rule name is cut */
#define DY_VERDICT_ENTRIES_DEF 65536u
#define DY_VERDICT_ENTRIES_MAX 4194304u /* max_entries beyond: RP_ERR_RANGE */
#define DY_VERDICT_BYTES_DEF   (32u * 1024u * 1024u)
#define DY_VERDICT_SAVE_CHUNK  512u /* entries copied per hold of the lock */

/* The persisted format. */
#define DY_VERDICT_FORMAT       1u
#define DY_VERDICT_HEADER_BYTES 64u
#define DY_VERDICT_RECORD_BYTES 192u
#define DY_VERDICT_FILE_MAX                                                                        \
    ((uint64_t)DY_VERDICT_HEADER_BYTES + (uint64_t)DY_VERDICT_ENTRIES_MAX * DY_VERDICT_RECORD_BYTES)
#define DY_VERDICT_FILE_NAME_MAX 200u /* name for save and load, without "/" */

enum dy_verdict_kind {
    DY_VERDICT_CLEAN = 0,
    DY_VERDICT_MALICIOUS = 1,
    /* The scan failed or timed out: stored as given; the caller decides
     * whether such a hit is scanned again. */
    DY_VERDICT_ERROR = 2,
};

/* A file's identity, from fstat on the descriptor that is judged. */
struct dy_file_id {
    uint64_t dev, ino, size;
    int64_t mtime_ns, ctime_ns;
};

/* Fills id from st (no system call). */
void dy_file_id_from_stat(const struct stat *st, struct dy_file_id *id);

struct dy_verdict {
    enum dy_verdict_kind kind;
    uint32_t matches;               /* matching rules; 0 unless malicious */
    int64_t judged_ns;              /* CLOCK_REALTIME; 0 in put: now */
    char rule[DY_VERDICT_NAME_MAX]; /* first matching rule, "" unless malicious */
};

struct dy_verdict_opts {
    uint32_t max_entries; /* 0: DY_VERDICT_ENTRIES_DEF */
    uint64_t max_bytes;   /* 0: DY_VERDICT_BYTES_DEF */
};

struct dy_verdict_stats {
    uint64_t hits, misses, stores;
    uint64_t refused;   /* put refused: the file changed during the scan */
    uint64_t evictions; /* LRU entries pushed out at the cap */
    uint64_t loaded;    /* entries taken from disk */
    uint64_t dropped;   /* records on disk not taken: other rules hash, corrupt, torn */
};

/* What one load found. */
struct dy_verdict_load_report {
    uint32_t count;       /* the header's record count (0 when the header is bad) */
    uint32_t loaded;      /* records taken into the cache */
    uint32_t corrupt;     /* records skipped: bad CRC or impossible fields */
    uint32_t torn;        /* records the header counts that the file does not hold whole */
    uint32_t over_cap;    /* the oldest records beyond the cache's cap, left out */
    uint32_t other_rules; /* records of another rules hash, dropped */
    char msg[256];        /* "" when everything loaded, else what was cut and why */
};

struct dy_verdict_cache;

/* Bytes one entry costs (for opts.max_bytes). */
size_t dy_verdict_entry_bytes(void);

/* Creates a cache; *out is owned by the caller until dy_verdict_destroy.
 * RP_ERR_RANGE when max_entries exceeds DY_VERDICT_ENTRIES_MAX or max_bytes
 * holds not one entry, RP_ERR_NOMEM. */
int dy_verdict_create(const struct dy_verdict_opts *opts, struct dy_verdict_cache **out);
/* Frees everything; NULL is a no-op. */
void dy_verdict_destroy(struct dy_verdict_cache *c);

/* The cap in entries, and the entries held now. */
uint32_t dy_verdict_capacity(const struct dy_verdict_cache *c);
uint32_t dy_verdict_count(struct dy_verdict_cache *c);

/* The hot path. 0 and *out filled on a hit, RP_ERR_NOTFOUND on a miss
 * (another identity or another rules hash). O(1), no allocation, no system
 * call outside a contended lock. */
int dy_verdict_get(struct dy_verdict_cache *c, const struct dy_file_id *id,
                   const uint8_t rules[DY_RULES_HASH_BYTES], struct dy_verdict *out);

/* Stores v for the file judged with rules. before: the identity taken
 * before the scan, after: the one taken after it on the same descriptor.
 * Returns 0 (stored, replacing an older entry of the same key), RP_ERR_AGAIN
 * when before and after differ (nothing stored, counted in refused: scan
 * again), RP_ERR_INVAL for a kind out of range. Writer thread only. */
int dy_verdict_put(struct dy_verdict_cache *c, const struct dy_file_id *before,
                   const struct dy_file_id *after, const uint8_t rules[DY_RULES_HASH_BYTES],
                   const struct dy_verdict *v);

void dy_verdict_stats(struct dy_verdict_cache *c, struct dy_verdict_stats *out);

/* Saves the entries of rules (others are left out) to name in the folder
 * dirfd; *saved (may be NULL) gets how many. 0, RP_ERR_INVAL for a bad name,
 * RP_ERR_IO (errno kept), RP_ERR_NOMEM. Writer thread only. */
int dy_verdict_save(struct dy_verdict_cache *c, int dirfd, const char *name,
                    const uint8_t rules[DY_RULES_HASH_BYTES], uint32_t *saved);

/* Loads name from the folder dirfd into the cache (entries of rules only);
 * rep (may be NULL) says what was cut. 0 also when records were cut or the
 * file is of another rules hash (the report says so); RP_ERR_NOTFOUND when
 * there is no file, RP_ERR_PERM when it is a symbolic link, not a regular
 * file, or owned by another user, RP_ERR_RANGE past DY_VERDICT_FILE_MAX,
 * RP_ERR_PARSE when the header is torn or corrupt (nothing loaded),
 * RP_ERR_IO. Writer thread only. */
int dy_verdict_load(struct dy_verdict_cache *c, int dirfd, const char *name,
                    const uint8_t rules[DY_RULES_HASH_BYTES], struct dy_verdict_load_report *rep);

/* The same parser over bytes in memory (the fuzz target's entry). */
int dy_verdict_load_mem(struct dy_verdict_cache *c, const void *data, size_t len,
                        const uint8_t rules[DY_RULES_HASH_BYTES],
                        struct dy_verdict_load_report *rep);

/* CRC32C (Castagnoli) of data, continuing from crc (0 to start). */
uint32_t dy_crc32c(uint32_t crc, const void *data, size_t len);

#endif
