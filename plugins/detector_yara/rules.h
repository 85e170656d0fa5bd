/*
 * plugins/detector_yara/rules.h - the YARA rule loader: every *.yar / *.yara
 * file under a list of folders compiled by libyara into one rule set, with a
 * compiled cache so that a restart with unchanged sources does not compile.
 *
 * Files. Each folder is walked recursively in name order (strcmp), at most
 * DY_DIR_DEPTH_MAX folders deep (a deeper folder is reported as too_deep
 * and left out) and DY_DIR_FILES_MAX rule files in all (past it the load
 * fails with RP_ERR_RANGE). Symbolic links are never followed: each file is
 * opened once with O_NOFOLLOW, checked to be a regular file of at most
 * DY_RULE_FILE_MAX bytes, and read whole from that descriptor; the bytes of
 * all files read stay under DY_SOURCES_MAX. A file outside a cap is
 * skipped with its reason.
 *
 * Compiling. All files read go to one compiler first, as the yara command
 * line compiles them (a compiler per file costs about ten times more). If
 * one fails, libyara's compiler cannot be used again, so the careful path
 * runs: every file is compiled on its own (its errors, warnings and rule
 * count are its own), and the set is then built from the files that
 * compiled, all in libyara's default namespace (as the command line puts
 * them, so rule names in alerts are the names authors wrote). A file
 * defining a rule name an earlier file (in load order) already defines is
 * failed as duplicate_rule, naming the earlier file: libyara would refuse
 * the whole set for it ("duplicated identifier"). A file that still fails
 * in the set (any other conflict between files) is failed with libyara's
 * message and the set is built again without it. Rules that refer to a
 * rule of another file are not supported: they load only while every
 * file compiles, and fail as undefined_identifier otherwise.
 *
 * Includes are disabled: `include` fails the file as include_refused. The
 * agent compiles rules as root, and an include names any path on the
 * machine; every file under the rule folders is loaded anyway, so an
 * include has nothing left to add.
 *
 * Warnings (a string that "may slow down scanning", and whatever else
 * libyara warns about) are kept per file with the rule and line, at most
 * DY_WARNINGS_MAX per file (more are counted as dropped).
 *
 * The compiled cache. When the caller gives a folder (an open descriptor,
 * which it owns), the set is saved there as one file (DY_CACHE_NAME unless
 * named) holding a header, the per-file results and libyara's compiled
 * rules (yr_rules_save_stream). It is keyed by the source key: SHA-256
 * over the loader's format version, libyara's version and its compiled
 * format version, and, in load order, every file read whole (compiled or
 * failed): its folder's index in the list, its relative path and its
 * content. A load whose key matches loads the compiled rules and the
 * per-file results from the cache and compiles nothing. The key covers the
 * failed files too because which files compile is only known by compiling
 * them. The cache file is opened with O_NOFOLLOW and used only when it is a
 * regular file owned by the effective user, not writable by group or
 * others, of at most DY_CACHE_MAX bytes, with a matching header, key and
 * SHA-256 of its body; otherwise it is ignored (stats say why) and written
 * again. It is written atomically: a temporary file (mode 0600,
 * O_EXCL|O_NOFOLLOW), fsync, renameat over the old one, fsync of the
 * folder; a temporary file a crash left behind is removed first. One
 * loader writes one cache folder at a time.
 *
 * The rules hash (dy_rules_hash) is SHA-256 over the same versions and the
 * files that compiled into the set only: a broken file that changes does
 * not change it. Verdicts are keyed by it.
 *
 * Threads: a load runs on one thread; libyara's yr_initialize /
 * yr_finalize are reference counted and called by create / destroy.
 */
#ifndef RP_DETECTOR_YARA_RULES_H
#define RP_DETECTOR_YARA_RULES_H

#include <yara.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DY_DIR_DEPTH_MAX 16u
#define DY_DIR_FILES_MAX 16384u
#define DY_RULE_FILE_MAX (4u * 1024u * 1024u)
#define DY_SOURCES_MAX   (256u * 1024u * 1024u)
#define DY_CACHE_MAX     (512u * 1024u * 1024u)
#define DY_WARNINGS_MAX  64u
#define DY_MSG_MAX       256u
#define DY_RULE_NAME_MAX 128u
#define DY_CACHE_NAME    "yara-rules.cache"
/* The loader's cache format; part of both keys. */
#define DY_CACHE_FORMAT 1u

enum dy_status {
    DY_ST_COMPILED, /* in the set */
    DY_ST_FAILED,   /* read, refused by libyara or by the set */
    DY_ST_SKIPPED,  /* not read whole: a cap, a link, not a file */
};

/* Why a file ended as it did; dy_reason_name gives the code users see. */
enum dy_reason {
    DY_OK,               /* compiled */
    DY_R_IO,             /* io_error: cannot open or read */
    DY_R_SYMLINK,        /* symlink: a symbolic link, not followed */
    DY_R_NOT_REGULAR,    /* not_regular: not a regular file */
    DY_R_TOO_LARGE,      /* too_large: DY_RULE_FILE_MAX or DY_SOURCES_MAX */
    DY_R_TOO_DEEP,       /* too_deep: a folder past DY_DIR_DEPTH_MAX */
    DY_R_NOT_TEXT,       /* not_text: a NUL byte */
    DY_R_SYNTAX,         /* syntax_error */
    DY_R_UNDEFINED,      /* undefined_identifier */
    DY_R_UNKNOWN_MODULE, /* unknown_module: an import libyara lacks */
    DY_R_INCLUDE,        /* include_refused */
    DY_R_DUPLICATE_RULE, /* duplicate_rule: a name an earlier file defines */
    DY_R_COMPILE,        /* compile_error: any other error of libyara */
    DY_REASON_COUNT
};

const char *dy_reason_name(int reason); /* "?" out of range */
const char *dy_status_name(int status); /* "compiled", "failed", "skipped" */

struct dy_warning {
    uint32_t line;
    char rule[DY_RULE_NAME_MAX]; /* "" when outside a rule */
    char msg[DY_MSG_MAX];
};

/* One file's fate, borrowed for the report callback. */
struct dy_file_report {
    const char *path;    /* folder "/" relpath */
    const char *relpath; /* under its folder */
    enum dy_status status;
    enum dy_reason reason;
    uint32_t line;        /* of the error; 0 when none or unknown */
    char msg[DY_MSG_MAX]; /* the error, "" when compiled */
    uint32_t rules;       /* rules the file defines (compiled) */
    const struct dy_warning *warnings;
    uint32_t n_warnings, warnings_dropped;
};

typedef void (*dy_report_fn)(void *ctx, const struct dy_file_report *rep);

/* Why the cache was not used. */
enum dy_cache_state {
    DY_CACHE_OFF,     /* no cache folder given */
    DY_CACHE_HIT,     /* loaded from the cache, nothing compiled */
    DY_CACHE_ABSENT,  /* no cache file */
    DY_CACHE_STALE,   /* another key: the sources or the versions changed */
    DY_CACHE_REFUSED, /* a link, not a regular file, wrong owner or mode, too large */
    DY_CACHE_DAMAGED, /* torn or corrupt (header, body hash, records, libyara refused) */
    DY_CACHE_IO,      /* cannot be read */
};
const char *dy_cache_state_name(int state);

struct dy_load_opts {
    const char *const *dirs; /* borrowed for the call */
    size_t n_dirs;
    int cache_dirfd;        /* -1: no cache; else borrowed, not closed */
    const char *cache_name; /* NULL: DY_CACHE_NAME */
};

struct dy_load_stats {
    uint32_t files, compiled, failed, skipped, rules, warnings;
    uint32_t per_reason[DY_REASON_COUNT];
    uint32_t compiles; /* files given to libyara's compiler (0 on a cache hit) */
    uint64_t source_bytes;
    enum dy_cache_state cache;
    char cache_msg[DY_MSG_MAX]; /* why the cache was not used, or "" */
    int cache_save_rc;          /* 0, or why the cache could not be written */
    uint64_t cache_bytes;       /* the cache file's size (read or written) */
    double compile_ms, cache_load_ms, cache_save_ms;
};

struct dy_rules;

/* Loads the rules. report (may be NULL) is called once per rule file found,
 * in load order, after the set is built. stats (may be NULL) is filled.
 * *out gets the set (possibly empty). Returns 0; RP_ERR_IO when a folder of
 * the list cannot be opened (err says which); RP_ERR_RANGE past
 * DY_DIR_FILES_MAX; RP_ERR_NOMEM; RP_ERR_INTERNAL when libyara fails
 * outside a rule file. A failed cache write is not an error (stats). */
int dy_rules_load(const struct dy_load_opts *opts, dy_report_fn report, void *ctx,
                  struct dy_rules **out, struct dy_load_stats *stats, char *err, size_t errlen);
void dy_rules_destroy(struct dy_rules *r);

/* libyara's yr_initialize / yr_finalize under one lock (libyara counts them
 * without one); everything in this folder calls these instead. */
int dy_yara_init(void);
void dy_yara_fini(void);

/* The compiled rules, owned by r. */
YR_RULES *dy_rules_yara(const struct dy_rules *r);
/* The rules hash (32 bytes, owned by r) and the source key. */
const uint8_t *dy_rules_hash(const struct dy_rules *r);
const uint8_t *dy_rules_source_key(const struct dy_rules *r);
uint32_t dy_rules_count(const struct dy_rules *r);

/* The cache file's layout, little-endian:
 *   0   8  magic "RPDYRC\r\n"
 *   8   4  DY_CACHE_FORMAT
 *   12  4  libyara's YR_VERSION_HEX
 *   16  32 source key
 *   48  32 rules hash
 *   80  4  file records
 *   84  4  rules in the set
 *   88  8  bytes of the records
 *   96  8  bytes of libyara's compiled rules
 *   104 32 SHA-256 of everything after the header
 *   136    records, then the compiled rules.
 * A record: u8 status, u8 reason, u16 warnings, u32 line, u32 rules,
 * u16 relpath bytes, u16 message bytes, the relpath, the message; then per
 * warning u32 line, u16 rule bytes, u16 message bytes, the rule, the message.
 * Lengths are within the caps above. */
#define DY_CACHE_HEADER 136u

/* A parsed cache file, pointing into the bytes given to dy_cache_parse. */
struct dy_cache_view {
    uint8_t source_key[32], rules_hash[32];
    uint32_t n_records, n_rules;
    const uint8_t *records, *blob;
    size_t records_len, blob_len;
};

/* Checks buf[0..len) as a cache file: header, lengths, body hash and every
 * record. Returns 0, RP_ERR_VERSION (another format or libyara),
 * RP_ERR_PARSE (torn or corrupt; why says what). */
int dy_cache_parse(const uint8_t *buf, size_t len, struct dy_cache_view *v, char *why,
                   size_t whylen);

/* One record of a checked view: *at is the offset in v->records (start at
 * 0). Fills rep (its relpath and path point into the view, not
 * NUL-terminated: relpath_len) and warnings[0..DY_WARNINGS_MAX).
 * Returns 1 with a record, 0 past the last, RP_ERR_PARSE. */
int dy_cache_record(const struct dy_cache_view *v, size_t *at, struct dy_file_report *rep,
                    const char **relpath, size_t *relpath_len, struct dy_warning *warnings);

#endif
