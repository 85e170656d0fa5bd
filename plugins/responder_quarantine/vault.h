/*
 * plugins/responder_quarantine/vault.h - the quarantine vault: files copied
 * encrypted with AES-256-GCM into one folder, each entry authenticated with
 * its metadata, and restored only after the tag and the SHA-256 both hold
 * (README.md). The plugin (to come) owns the descriptors it passes in.
 *
 * Every call returns 0 or a negative RP_ERR_*, and when st is not NULL
 * fills st->why (one reason per refusal, distinct) and st->msg (one line
 * naming the file and what was expected).
 */
#ifndef RP_RESPONDER_QUARANTINE_VAULT_H
#define RP_RESPONDER_QUARANTINE_VAULT_H

#include "entry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RQ_KEY_LEN 32u
#define RQ_ID_LEN  32u /* 128 random bits in lowercase hex */

enum rq_why {
    RQ_WHY_NONE = 0,
    RQ_WHY_IO,           /* a system call failed (RP_ERR_IO, or RP_ERR_NOMEM) */
    RQ_WHY_KEY,          /* key file not a private 32-byte regular file (RP_ERR_PERM) */
    RQ_WHY_CHANGED,      /* the file is not (or no longer) the one named (RP_ERR_BUSY) */
    RQ_WHY_HASH,         /* its content's SHA-256 is not the expected one (RP_ERR_INVAL) */
    RQ_WHY_CAP,          /* the vault would pass its byte cap (RP_ERR_FULL) */
    RQ_WHY_FIELD,        /* a metadata field over its cap (RP_ERR_RANGE) */
    RQ_WHY_NOTFOUND,     /* no such entry (RP_ERR_NOTFOUND) */
    RQ_WHY_FORMAT,       /* the entry's header or length is malformed (RP_ERR_PARSE) */
    RQ_WHY_TAG,          /* GCM authentication failed: entry altered (RP_ERR_PARSE) */
    RQ_WHY_RESTORE_HASH, /* decrypted bytes differ from the recorded SHA-256 (RP_ERR_PARSE) */
    RQ_WHY_EXISTS,       /* the restore target exists and overwrite was not asked (RP_ERR_EXISTS) */
    RQ_WHY_TARGET,       /* the restore target path is unusable (RP_ERR_INVAL) */
};

struct rq_status {
    enum rq_why why;
    char msg[512];
};

/* rq_key_load_or_create: loads the vault key from name in the folder dirfd,
 * or creates it when absent: 32 bytes from getrandom, mode 0600, written to
 * a temporary file and linked in with O_EXCL semantics, file and folder
 * fsynced. An existing key is used only if it is a regular file (not a
 * symlink) owned by the effective user, mode exactly 0600 and exactly 32
 * bytes; anything else is RP_ERR_PERM (RQ_WHY_KEY) and the file is left as
 * it is: replacing the key would make every entry unrecoverable. */
int rq_key_load_or_create(int dirfd, const char *name, uint8_t key[RQ_KEY_LEN],
                          struct rq_status *st);

struct rq_vault;

/* rq_vault_open: a vault over the folder dirfd (duplicated: the caller keeps
 * its own), with a copy of key, holding at most cap_bytes of entry files.
 * *out is the caller's, released with rq_vault_close. Calls on one vault
 * are not synchronised: the caller serialises them. */
int rq_vault_open(int dirfd, const uint8_t key[RQ_KEY_LEN], uint64_t cap_bytes,
                  struct rq_vault **out, struct rq_status *st);
/* Wipes the key copy; NULL is a no-op. */
void rq_vault_close(struct rq_vault *v);

/* What the caller knows of the file it opened (with O_NOFOLLOW). */
struct rq_expect {
    dev_t dev;
    ino_t ino;
    uint8_t sha256[RQ_SHA256_LEN];
};

/* rq_vault_quarantine: copies the file open on fd (read from offset 0 with
 * pread; fd stays the caller's) into a new entry, id written to id_out
 * (RQ_ID_LEN + 1 bytes). Refuses when fd is not a regular file of expect's
 * device and inode or changes while read (RQ_WHY_CHANGED), when its content
 * hashes to another SHA-256 (RQ_WHY_HASH), when path or rule are over their
 * caps (RQ_WHY_FIELD), when the vault would pass its cap (RQ_WHY_CAP). The
 * entry is visible only once complete and fsynced with its folder; after a
 * refusal or failure nothing is left in the vault. Removing the original is
 * the caller's job, after this returned 0. */
int rq_vault_quarantine(struct rq_vault *v, int fd, const struct rq_expect *expect,
                        const char *orig_path, const char *rule, int64_t time_ns,
                        char id_out[RQ_ID_LEN + 1], struct rq_status *st);

/* rq_vault_list: calls fn for each entry with its metadata as read from the
 * header: unverified (the tag covers the whole entry and is checked only by
 * restore). Entries whose header does not parse are passed with meta NULL.
 * id and meta are borrowed for the duration of the call only.
 * A non-zero return of fn stops the walk and is returned. */
typedef int (*rq_list_fn)(void *ctx, const char *id, const struct rq_meta *meta);
int rq_vault_list(struct rq_vault *v, rq_list_fn fn, void *ctx, struct rq_status *st);

/* rq_vault_delete: unlinks the entry and fsyncs the folder. */
int rq_vault_delete(struct rq_vault *v, const char *id, struct rq_status *st);

#define RQ_RESTORE_OVERWRITE 1u

/* rq_vault_restore: decrypts entry id to target (NULL: the original path),
 * which must be absolute. The parent folder is opened once and everything
 * after works relative to it: the bytes go to a temporary file there, and
 * only when the GCM tag (RQ_WHY_TAG) and the recorded SHA-256
 * (RQ_WHY_RESTORE_HASH) both hold, with mode, owner and mtime set, is it
 * renamed to the target - without replacing an existing file unless flags
 * has RQ_RESTORE_OVERWRITE (RQ_WHY_EXISTS). On any refusal no file appears
 * at the target. The entry is kept; delete it after. */
int rq_vault_restore(struct rq_vault *v, const char *id, const char *target, unsigned flags,
                     struct rq_status *st);

#endif
