/*
 * plugins/responder_quarantine/vault.c - the quarantine vault (vault.h,
 * README.md). Every file is opened once, relative to a folder descriptor,
 * with O_NOFOLLOW, and checked on its descriptor; nothing becomes visible
 * under its final name before it is complete, verified and fsynced.
 */
#define _GNU_SOURCE
#include "vault.h"

#include <rampart/plugin.h>

#include <mbedtls/gcm.h>
#include <mbedtls/sha256.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 65536u /* a multiple of 16, as mbedTLS 2.28's GCM update wants */

struct rq_vault {
    int dfd;
    uint64_t cap;
    uint8_t key[RQ_KEY_LEN];
};

static int fail(struct rq_status *st, int rc, enum rq_why why, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(struct rq_status *st, int rc, enum rq_why why, const char *fmt, ...)
{
    if (st != NULL) {
        st->why = why;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

static void ok(struct rq_status *st)
{
    if (st != NULL) {
        st->why = RQ_WHY_NONE;
        st->msg[0] = '\0';
    }
}

static void wipe(void *p, size_t n)
{
    volatile uint8_t *q = p;
    while (n-- > 0)
        *q++ = 0;
}

static int random_bytes(uint8_t *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom(buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        got += (size_t)n;
    }
    return 0;
}

static void hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Reads exactly len bytes at off; 0, or -1 with errno (0 at a short file). */
static int pread_all(int fd, void *buf, size_t len, off_t off)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = pread(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = 0;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

static int equal_ct(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static int valid_id(const char *id)
{
    if (id == NULL || strlen(id) != RQ_ID_LEN)
        return 0;
    for (size_t i = 0; i < RQ_ID_LEN; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return 0;
    return 1;
}

static int64_t ns_of(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- key ---- */

static int key_load(int dirfd, const char *name, uint8_t key[RQ_KEY_LEN], struct rq_status *st)
{
    /* O_NONBLOCK: a FIFO planted under the key's name must not hang the agent. */
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return RP_ERR_NOTFOUND;
        if (errno == ELOOP)
            return fail(st, RP_ERR_PERM, RQ_WHY_KEY,
                        "quarantine key %s: is a symbolic link, expected a regular file; "
                        "not replaced (entries need the original key)",
                        name);
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key %s: open: %s", name, strerror(errno));
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key %s: fstat: %s", name, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) {
        rc = fail(st, RP_ERR_PERM, RQ_WHY_KEY,
                  "quarantine key %s: not a regular file, expected a regular file; not replaced",
                  name);
    } else if (sb.st_uid != geteuid()) {
        rc = fail(st, RP_ERR_PERM, RQ_WHY_KEY,
                  "quarantine key %s: owned by uid %u, expected uid %u; not replaced", name,
                  (unsigned)sb.st_uid, (unsigned)geteuid());
    } else if ((sb.st_mode & 07777) != 0600) {
        rc = fail(st, RP_ERR_PERM, RQ_WHY_KEY,
                  "quarantine key %s: mode %04o, expected 0600; not replaced", name,
                  (unsigned)(sb.st_mode & 07777));
    } else if (sb.st_size != RQ_KEY_LEN) {
        rc = fail(st, RP_ERR_PERM, RQ_WHY_KEY,
                  "quarantine key %s: %lld bytes, expected %u; not replaced", name,
                  (long long)sb.st_size, RQ_KEY_LEN);
    } else if (pread_all(fd, key, RQ_KEY_LEN, 0) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key %s: read: %s", name,
                  errno != 0 ? strerror(errno) : "short file");
    }
    close(fd);
    return rc;
}

int rq_key_load_or_create(int dirfd, const char *name, uint8_t key[RQ_KEY_LEN],
                          struct rq_status *st)
{
    ok(st);
    int rc = key_load(dirfd, name, key, st);
    if (rc != RP_ERR_NOTFOUND)
        return rc;
    /* Written under a temporary name and renamed without replacing: a crash
     * mid-write leaves no short key that a later start would refuse. */
    char tmp[300];
    if ((size_t)snprintf(tmp, sizeof(tmp), ".%s.tmp", name) >= sizeof(tmp))
        return fail(st, RP_ERR_INVAL, RQ_WHY_KEY, "quarantine key name too long");
    if (unlinkat(dirfd, tmp, 0) != 0 && errno != ENOENT)
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key %s: unlink: %s", tmp,
                    strerror(errno));
    int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key %s: create: %s", tmp,
                    strerror(errno));
    uint8_t fresh[RQ_KEY_LEN];
    rc = 0;
    if (fchmod(fd, 0600) != 0 || random_bytes(fresh, sizeof(fresh)) != 0 ||
        write_all(fd, fresh, sizeof(fresh)) != 0 || fsync(fd) != 0)
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key %s: write: %s", tmp, strerror(errno));
    wipe(fresh, sizeof(fresh));
    close(fd);
    if (rc == 0 && renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) != 0 && errno != EEXIST)
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key %s: rename: %s", name, strerror(errno));
    unlinkat(dirfd, tmp, 0); /* left only when the rename did not happen */
    if (rc == 0 && fsync(dirfd) != 0)
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine key folder: fsync: %s", strerror(errno));
    if (rc != 0)
        return rc;
    /* Read back through the same checks: what is used is what is on disk. */
    return key_load(dirfd, name, key, st);
}

/* ---- vault ---- */

int rq_vault_open(int dirfd, const uint8_t key[RQ_KEY_LEN], uint64_t cap_bytes,
                  struct rq_vault **out, struct rq_status *st)
{
    ok(st);
    struct rq_vault *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return fail(st, RP_ERR_NOMEM, RQ_WHY_IO, "quarantine vault: out of memory");
    v->dfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (v->dfd < 0) {
        free(v);
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: dup: %s", strerror(errno));
    }
    memcpy(v->key, key, RQ_KEY_LEN);
    v->cap = cap_bytes;
    *out = v;
    return 0;
}

void rq_vault_close(struct rq_vault *v)
{
    if (v == NULL)
        return;
    close(v->dfd);
    wipe(v->key, sizeof(v->key));
    free(v);
}

static DIR *open_dir(int dfd)
{
    int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (d == NULL)
        close(fd);
    return d;
}

/* Bytes of the vault's regular files, temporary ones included. */
static int vault_usage(struct rq_vault *v, uint64_t *total)
{
    DIR *d = open_dir(v->dfd);
    if (d == NULL)
        return -1;
    *total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (fstatat(v->dfd, e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
            *total += (uint64_t)sb.st_size;
    }
    closedir(d);
    return 0;
}

int rq_vault_quarantine(struct rq_vault *v, int fd, const struct rq_expect *expect,
                        const char *orig_path, const char *rule, int64_t time_ns,
                        char id_out[RQ_ID_LEN + 1], struct rq_status *st)
{
    ok(st);
    id_out[0] = '\0';
    struct stat before;
    if (fstat(fd, &before) != 0)
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "%s: fstat: %s", orig_path, strerror(errno));
    if (!S_ISREG(before.st_mode) || before.st_dev != expect->dev || before.st_ino != expect->ino)
        return fail(st, RP_ERR_BUSY, RQ_WHY_CHANGED,
                    "%s: not the file the alert named (device/inode differ or not a regular "
                    "file); not quarantined",
                    orig_path);
    if (strnlen(orig_path, RQ_PATH_MAX + 1) > RQ_PATH_MAX ||
        strnlen(rule, RQ_RULE_MAX + 1) > RQ_RULE_MAX)
        return fail(st, RP_ERR_RANGE, RQ_WHY_FIELD,
                    "%.64s: path longer than %u bytes or rule longer than %u bytes", orig_path,
                    RQ_PATH_MAX, RQ_RULE_MAX);

    struct rq_meta *meta = calloc(1, sizeof(*meta));
    uint8_t *hdr = malloc(RQ_HEADER_MAX);
    uint8_t *in = malloc(CHUNK);
    uint8_t *out = malloc(CHUNK);
    int rc = 0, tfd = -1;
    char tmp[RQ_ID_LEN + 8] = "";
    mbedtls_gcm_context gcm;
    mbedtls_sha256_context sha;
    mbedtls_gcm_init(&gcm);
    mbedtls_sha256_init(&sha);
    if (meta == NULL || hdr == NULL || in == NULL || out == NULL) {
        rc = fail(st, RP_ERR_NOMEM, RQ_WHY_IO, "quarantine: out of memory");
        goto done;
    }
    meta->size = (uint64_t)before.st_size;
    meta->mode = (uint32_t)before.st_mode;
    meta->uid = (uint32_t)before.st_uid;
    meta->gid = (uint32_t)before.st_gid;
    meta->mtime_ns = ns_of(before.st_mtim);
    meta->time_ns = time_ns;
    memcpy(meta->sha256, expect->sha256, RQ_SHA256_LEN);
    memcpy(meta->path, orig_path, strlen(orig_path) + 1);
    memcpy(meta->rule, rule, strlen(rule) + 1);

    uint8_t nonce[RQ_NONCE_LEN], idbytes[RQ_ID_LEN / 2];
    size_t hdr_len;
    if (random_bytes(nonce, sizeof(nonce)) != 0 || random_bytes(idbytes, sizeof(idbytes)) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine: getrandom: %s", strerror(errno));
        goto done;
    }
    hex(idbytes, sizeof(idbytes), id_out);
    rc = rq_entry_encode(meta, nonce, hdr, RQ_HEADER_MAX, &hdr_len);
    if (rc < 0) {
        rc = fail(st, rc, RQ_WHY_FIELD, "%.64s: metadata over its caps", orig_path);
        goto done;
    }

    uint64_t used;
    if (vault_usage(v, &used) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: read folder: %s", strerror(errno));
        goto done;
    }
    uint64_t need = (uint64_t)hdr_len + meta->size + RQ_TAG_LEN;
    if (used > v->cap || need > v->cap - used) {
        rc = fail(st, RP_ERR_FULL, RQ_WHY_CAP,
                  "%s: %llu bytes would pass the quarantine cap (%llu of %llu bytes used)",
                  orig_path, (unsigned long long)need, (unsigned long long)used,
                  (unsigned long long)v->cap);
        goto done;
    }

    snprintf(tmp, sizeof(tmp), ".tmp-%s", id_out);
    tfd = openat(v->dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (tfd < 0) {
        tmp[0] = '\0';
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: create entry: %s", strerror(errno));
        goto done;
    }
    if (write_all(tfd, hdr, hdr_len) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: write: %s", strerror(errno));
        goto done;
    }
    /* The whole header is the additional data: altering any of it, the
     * nonce and the format version included, fails the tag. */
    if (mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, v->key, 256) != 0 ||
        mbedtls_gcm_starts(&gcm, MBEDTLS_GCM_ENCRYPT, nonce, RQ_NONCE_LEN, hdr, hdr_len) != 0 ||
        mbedtls_sha256_starts_ret(&sha, 0) != 0) {
        rc = fail(st, RP_ERR_INTERNAL, RQ_WHY_IO, "quarantine: cipher setup failed");
        goto done;
    }
    uint64_t done_bytes = 0;
    for (;;) {
        ssize_t n = pread(fd, in, CHUNK, (off_t)done_bytes);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "%s: read: %s", orig_path, strerror(errno));
            goto done;
        }
        if (n == 0)
            break;
        if ((uint64_t)n > meta->size - done_bytes) {
            rc = fail(st, RP_ERR_BUSY, RQ_WHY_CHANGED, "%s: grew while read; not quarantined",
                      orig_path);
            goto done;
        }
        /* A short read mid-file would break GCM's 16-byte rule: refill. */
        if ((size_t)n < CHUNK && done_bytes + (uint64_t)n < meta->size) {
            ssize_t more = 0;
            while ((size_t)n < CHUNK && done_bytes + (uint64_t)n < meta->size) {
                more = pread(fd, in + n, CHUNK - (size_t)n, (off_t)(done_bytes + (uint64_t)n));
                if (more <= 0)
                    break;
                n += more;
            }
            if ((size_t)n % 16 != 0 && done_bytes + (uint64_t)n < meta->size) {
                rc = fail(st, RP_ERR_BUSY, RQ_WHY_CHANGED, "%s: shrank while read; not quarantined",
                          orig_path);
                goto done;
            }
        }
        if (mbedtls_gcm_update(&gcm, (size_t)n, in, out) != 0 ||
            mbedtls_sha256_update_ret(&sha, in, (size_t)n) != 0) {
            rc = fail(st, RP_ERR_INTERNAL, RQ_WHY_IO, "quarantine: cipher failed");
            goto done;
        }
        if (write_all(tfd, out, (size_t)n) != 0) {
            rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: write: %s", strerror(errno));
            goto done;
        }
        done_bytes += (uint64_t)n;
    }
    struct stat after;
    if (done_bytes != meta->size || fstat(fd, &after) != 0 || after.st_size != before.st_size ||
        ns_of(after.st_mtim) != ns_of(before.st_mtim) ||
        ns_of(after.st_ctim) != ns_of(before.st_ctim)) {
        rc = fail(st, RP_ERR_BUSY, RQ_WHY_CHANGED, "%s: changed while read; not quarantined",
                  orig_path);
        goto done;
    }
    uint8_t tag[RQ_TAG_LEN], digest[RQ_SHA256_LEN];
    if (mbedtls_gcm_finish(&gcm, tag, sizeof(tag)) != 0 ||
        mbedtls_sha256_finish_ret(&sha, digest) != 0) {
        rc = fail(st, RP_ERR_INTERNAL, RQ_WHY_IO, "quarantine: cipher failed");
        goto done;
    }
    if (memcmp(digest, expect->sha256, RQ_SHA256_LEN) != 0) {
        char want[2 * RQ_SHA256_LEN + 1], got[2 * RQ_SHA256_LEN + 1];
        hex(expect->sha256, RQ_SHA256_LEN, want);
        hex(digest, RQ_SHA256_LEN, got);
        rc =
            fail(st, RP_ERR_INVAL, RQ_WHY_HASH,
                 "%s: sha256 %s, expected %s (the alert's); not quarantined", orig_path, got, want);
        goto done;
    }
    if (write_all(tfd, tag, sizeof(tag)) != 0 || fsync(tfd) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: write: %s", strerror(errno));
        goto done;
    }
    close(tfd);
    tfd = -1;
    if (renameat2(v->dfd, tmp, v->dfd, id_out, RENAME_NOREPLACE) != 0 || fsync(v->dfd) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: publish entry %s: %s", id_out,
                  strerror(errno));
        goto done;
    }
    tmp[0] = '\0';
done:
    if (tfd >= 0)
        close(tfd);
    if (tmp[0] != '\0')
        unlinkat(v->dfd, tmp, 0);
    if (rc != 0)
        id_out[0] = '\0';
    mbedtls_gcm_free(&gcm);
    mbedtls_sha256_free(&sha);
    free(meta);
    free(hdr);
    free(in);
    free(out);
    return rc;
}

/* Opens entry id and reads its header into hdr (RQ_HEADER_MAX bytes); the
 * file's length must be exactly header + content + tag. */
static int open_entry(struct rq_vault *v, const char *id, int *fd_out, struct rq_meta *meta,
                      uint8_t nonce[RQ_NONCE_LEN], uint8_t *hdr, size_t *hdr_len,
                      struct rq_status *st)
{
    if (!valid_id(id))
        return fail(st, RP_ERR_NOTFOUND, RQ_WHY_NOTFOUND,
                    "quarantine entry \"%.40s\": expected 32 lowercase hex digits", id);
    int fd = openat(v->dfd, id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return fail(st, RP_ERR_NOTFOUND, RQ_WHY_NOTFOUND, "quarantine entry %s: not found", id);
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine entry %s: open: %s", id, strerror(errno));
    }
    struct stat sb;
    int rc = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        rc = fail(st, RP_ERR_PARSE, RQ_WHY_FORMAT, "quarantine entry %s: not a regular file", id);
    } else if (pread_all(fd, hdr, RQ_PREFIX_LEN, 0) != 0 ||
               rq_entry_header_len(hdr, RQ_PREFIX_LEN, hdr_len) != 0 ||
               pread_all(fd, hdr + RQ_PREFIX_LEN, *hdr_len - RQ_PREFIX_LEN, RQ_PREFIX_LEN) != 0 ||
               rq_entry_decode(hdr, *hdr_len, meta, nonce, hdr_len) != 0) {
        rc = fail(st, RP_ERR_PARSE, RQ_WHY_FORMAT,
                  "quarantine entry %s: header malformed (magic, version or lengths)", id);
    } else if (meta->size > (uint64_t)sb.st_size ||
               (uint64_t)sb.st_size != *hdr_len + meta->size + RQ_TAG_LEN) {
        rc = fail(st, RP_ERR_PARSE, RQ_WHY_FORMAT,
                  "quarantine entry %s: %lld bytes, expected header + %llu content + tag", id,
                  (long long)sb.st_size, (unsigned long long)meta->size);
    }
    if (rc != 0) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return 0;
}

int rq_vault_list(struct rq_vault *v, rq_list_fn fn, void *ctx, struct rq_status *st)
{
    ok(st);
    DIR *d = open_dir(v->dfd);
    if (d == NULL)
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: read folder: %s", strerror(errno));
    struct rq_meta *meta = malloc(sizeof(*meta));
    uint8_t *hdr = malloc(RQ_HEADER_MAX);
    int rc = 0;
    if (meta == NULL || hdr == NULL) {
        rc = fail(st, RP_ERR_NOMEM, RQ_WHY_IO, "quarantine vault: out of memory");
        goto done;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!valid_id(e->d_name))
            continue; /* ., .., temporary files */
        int fd;
        uint8_t nonce[RQ_NONCE_LEN];
        size_t hdr_len;
        int r = open_entry(v, e->d_name, &fd, meta, nonce, hdr, &hdr_len, NULL);
        if (r == RP_ERR_NOTFOUND)
            continue; /* deleted meanwhile */
        if (r == 0)
            close(fd);
        rc = fn(ctx, e->d_name, r == 0 ? meta : NULL);
        if (rc != 0)
            break;
    }
done:
    closedir(d);
    free(meta);
    free(hdr);
    return rc;
}

int rq_vault_delete(struct rq_vault *v, const char *id, struct rq_status *st)
{
    ok(st);
    if (!valid_id(id))
        return fail(st, RP_ERR_NOTFOUND, RQ_WHY_NOTFOUND,
                    "quarantine entry \"%.40s\": expected 32 lowercase hex digits", id);
    if (unlinkat(v->dfd, id, 0) != 0) {
        if (errno == ENOENT)
            return fail(st, RP_ERR_NOTFOUND, RQ_WHY_NOTFOUND, "quarantine entry %s: not found", id);
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine entry %s: unlink: %s", id,
                    strerror(errno));
    }
    if (fsync(v->dfd) != 0)
        return fail(st, RP_ERR_IO, RQ_WHY_IO, "quarantine vault: fsync: %s", strerror(errno));
    return 0;
}

int rq_vault_restore(struct rq_vault *v, const char *id, const char *target, unsigned flags,
                     struct rq_status *st)
{
    ok(st);
    struct rq_meta *meta = malloc(sizeof(*meta));
    uint8_t *hdr = malloc(RQ_HEADER_MAX);
    uint8_t *in = malloc(CHUNK);
    uint8_t *out = malloc(CHUNK);
    char *path = malloc(RQ_PATH_MAX + 1);
    int rc = 0, efd = -1, pfd = -1, tfd = -1;
    char tmp[64] = "";
    mbedtls_gcm_context gcm;
    mbedtls_sha256_context sha;
    mbedtls_gcm_init(&gcm);
    mbedtls_sha256_init(&sha);
    if (meta == NULL || hdr == NULL || in == NULL || out == NULL || path == NULL) {
        rc = fail(st, RP_ERR_NOMEM, RQ_WHY_IO, "restore: out of memory");
        goto done;
    }
    uint8_t nonce[RQ_NONCE_LEN];
    size_t hdr_len;
    rc = open_entry(v, id, &efd, meta, nonce, hdr, &hdr_len, st);
    if (rc != 0)
        goto done;
    if (target == NULL)
        target = meta->path;
    size_t tlen = strnlen(target, RQ_PATH_MAX + 1);
    const char *slash = strrchr(target, '/');
    const char *base = slash != NULL ? slash + 1 : "";
    if (tlen > RQ_PATH_MAX || target[0] != '/' || base[0] == '\0' || strcmp(base, ".") == 0 ||
        strcmp(base, "..") == 0 || strlen(base) > 255) {
        rc = fail(st, RP_ERR_INVAL, RQ_WHY_TARGET,
                  "restore %s: target \"%.200s\": expected an absolute path to a file", id, target);
        goto done;
    }
    size_t plen = slash == target ? 1 : (size_t)(slash - target);
    memcpy(path, target, plen);
    path[plen] = '\0';
    /* The parent is opened once; the temporary file, the check for an
     * existing target and the rename all work relative to it. */
    pfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pfd < 0) {
        rc = fail(st, RP_ERR_INVAL, RQ_WHY_TARGET, "restore %s: folder %s: %s", id, path,
                  strerror(errno));
        goto done;
    }
    struct stat sb;
    int overwrite = (flags & RQ_RESTORE_OVERWRITE) != 0;
    if (!overwrite && fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
        rc = fail(st, RP_ERR_EXISTS, RQ_WHY_EXISTS,
                  "restore %s: %s exists; not overwritten (ask for overwrite)", id, target);
        goto done;
    }
    uint8_t rnd[8];
    if (random_bytes(rnd, sizeof(rnd)) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore: getrandom: %s", strerror(errno));
        goto done;
    }
    char rhex[17];
    hex(rnd, sizeof(rnd), rhex);
    snprintf(tmp, sizeof(tmp), ".rq-restore-%s", rhex);
    tfd = openat(pfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (tfd < 0) {
        tmp[0] = '\0';
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore %s: create in %s: %s", id, path,
                  strerror(errno));
        goto done;
    }
    if (mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, v->key, 256) != 0 ||
        mbedtls_gcm_starts(&gcm, MBEDTLS_GCM_DECRYPT, nonce, RQ_NONCE_LEN, hdr, hdr_len) != 0 ||
        mbedtls_sha256_starts_ret(&sha, 0) != 0) {
        rc = fail(st, RP_ERR_INTERNAL, RQ_WHY_IO, "restore: cipher setup failed");
        goto done;
    }
    uint64_t off = 0;
    while (off < meta->size) {
        size_t n = meta->size - off < CHUNK ? (size_t)(meta->size - off) : CHUNK;
        if (pread_all(efd, in, n, (off_t)(hdr_len + off)) != 0) {
            rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore %s: read entry: %s", id,
                      errno != 0 ? strerror(errno) : "short file");
            goto done;
        }
        if (mbedtls_gcm_update(&gcm, n, in, out) != 0 ||
            mbedtls_sha256_update_ret(&sha, out, n) != 0) {
            rc = fail(st, RP_ERR_INTERNAL, RQ_WHY_IO, "restore: cipher failed");
            goto done;
        }
        if (write_all(tfd, out, n) != 0) {
            rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore %s: write: %s", id, strerror(errno));
            goto done;
        }
        off += n;
    }
    uint8_t want_tag[RQ_TAG_LEN], tag[RQ_TAG_LEN], digest[RQ_SHA256_LEN];
    if (pread_all(efd, want_tag, RQ_TAG_LEN, (off_t)(hdr_len + meta->size)) != 0 ||
        mbedtls_gcm_finish(&gcm, tag, sizeof(tag)) != 0 ||
        mbedtls_sha256_finish_ret(&sha, digest) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore %s: read tag failed", id);
        goto done;
    }
    if (!equal_ct(tag, want_tag, RQ_TAG_LEN)) {
        rc = fail(st, RP_ERR_PARSE, RQ_WHY_TAG,
                  "restore %s: authentication failed (entry altered or another key); nothing "
                  "restored",
                  id);
        goto done;
    }
    if (!equal_ct(digest, meta->sha256, RQ_SHA256_LEN)) {
        rc = fail(st, RP_ERR_PARSE, RQ_WHY_RESTORE_HASH,
                  "restore %s: decrypted bytes differ from the recorded sha256; nothing restored",
                  id);
        goto done;
    }
    /* Owner before mode: chown clears set-id bits that fchmod then sets. */
    struct timespec times[2] = {
        {.tv_sec = 0, .tv_nsec = UTIME_NOW},
        {.tv_sec = meta->mtime_ns / 1000000000, .tv_nsec = meta->mtime_ns % 1000000000}};
    if (times[1].tv_nsec < 0) {
        times[1].tv_sec -= 1;
        times[1].tv_nsec += 1000000000;
    }
    if (fchown(tfd, (uid_t)meta->uid, (gid_t)meta->gid) != 0 ||
        fchmod(tfd, (mode_t)(meta->mode & 07777)) != 0 || futimens(tfd, times) != 0 ||
        fsync(tfd) != 0) {
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore %s: set owner %u:%u, mode %04o, mtime: %s", id,
                  (unsigned)meta->uid, (unsigned)meta->gid, (unsigned)(meta->mode & 07777),
                  strerror(errno));
        goto done;
    }
    close(tfd);
    tfd = -1;
    if (renameat2(pfd, tmp, pfd, base, overwrite ? 0 : RENAME_NOREPLACE) != 0) {
        if (errno == EEXIST)
            rc = fail(st, RP_ERR_EXISTS, RQ_WHY_EXISTS,
                      "restore %s: %s exists; not overwritten (ask for overwrite)", id, target);
        else
            rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore %s: rename to %s: %s", id, target,
                      strerror(errno));
        goto done;
    }
    tmp[0] = '\0';
    if (fsync(pfd) != 0)
        rc = fail(st, RP_ERR_IO, RQ_WHY_IO, "restore %s: fsync %s: %s", id, path, strerror(errno));
done:
    if (tfd >= 0)
        close(tfd);
    if (tmp[0] != '\0')
        unlinkat(pfd, tmp, 0);
    if (pfd >= 0)
        close(pfd);
    if (efd >= 0)
        close(efd);
    mbedtls_gcm_free(&gcm);
    mbedtls_sha256_free(&sha);
    free(meta);
    free(hdr);
    free(in);
    free(out);
    free(path);
    return rc;
}
