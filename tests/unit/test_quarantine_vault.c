/*
 * tests/unit/test_quarantine_vault.c - responder_quarantine's vault
 * (plugins/responder_quarantine/vault.h) on real files in a temporary
 * folder: a round trip gives back the same bytes, mode, mtime (and owner,
 * as root); an entry altered anywhere, a wrong hash, a swapped file, an
 * existing target, a bad key file and the cap are each refused with their
 * own reason, and a refused restore leaves no file behind.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "vault.h"

#include <rampart/plugin.h>

#include <mbedtls/gcm.h>
#include <mbedtls/sha256.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

struct fx {
    char root[64];
    char files[96];
    int vfd;
    uint8_t key[RQ_KEY_LEN];
    struct rq_vault *v;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->root, sizeof(f->root), "/tmp/rq-test.XXXXXX");
    assert_non_null(mkdtemp(f->root));
    char vault[96];
    snprintf(vault, sizeof(vault), "%s/vault", f->root);
    snprintf(f->files, sizeof(f->files), "%s/files", f->root);
    assert_int_equal(mkdir(vault, 0700), 0);
    assert_int_equal(mkdir(f->files, 0755), 0);
    f->vfd = open(vault, O_RDONLY | O_DIRECTORY);
    assert_true(f->vfd >= 0);
    struct rq_status st;
    assert_int_equal(rq_key_load_or_create(f->vfd, "key", f->key, &st), 0);
    assert_int_equal(rq_vault_open(f->vfd, f->key, 64u << 20, &f->v, &st), 0);
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rq_vault_close(f->v);
    close(f->vfd);
    nftw(f->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void sha256_of(const uint8_t *buf, size_t len, uint8_t out[32])
{
    assert_int_equal(mbedtls_sha256_ret(buf, len, out, 0), 0);
}

static uint8_t *random_buf(size_t len)
{
    uint8_t *b = malloc(len ? len : 1);
    assert_non_null(b);
    for (size_t got = 0; got < len;) {
        ssize_t n = getrandom(b + got, len - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    return b;
}

static void write_file(const char *path, const uint8_t *buf, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, buf + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    assert_int_equal(fchmod(fd, mode), 0);
    struct timespec t[2] = {{1600000000, 123456789}, {1600000000, 987654321}};
    assert_int_equal(futimens(fd, t), 0);
    close(fd);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return NULL;
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    uint8_t *b = malloc((size_t)sb.st_size + 1);
    size_t done = 0;
    while (done < (size_t)sb.st_size) {
        ssize_t n = read(fd, b + done, (size_t)sb.st_size - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    close(fd);
    *len = done;
    return b;
}

/* Opens path as the plugin will (O_NOFOLLOW), takes its identity and the
 * given sha256 (NULL: the content's own) and quarantines it. */
static int quarantine(struct fx *f, const char *path, const uint8_t *sha, char id[RQ_ID_LEN + 1],
                      struct rq_status *st)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    struct rq_expect e = {.dev = sb.st_dev, .ino = sb.st_ino};
    if (sha != NULL) {
        memcpy(e.sha256, sha, 32);
    } else {
        size_t len;
        uint8_t *b = read_file(path, &len);
        sha256_of(b, len, e.sha256);
        free(b);
    }
    int rc =
        rq_vault_quarantine(f->v, fd, &e, path, "EICAR_test_rule", 1700000000000000000LL, id, st);
    close(fd);
    return rc;
}

static int count_names(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(d);
    return n;
}

static int count_entries(struct fx *f)
{
    char vault[96];
    snprintf(vault, sizeof(vault), "%s/vault", f->root);
    int n = 0;
    DIR *d = opendir(vault);
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strlen(e->d_name) == RQ_ID_LEN)
            n++;
    closedir(d);
    return n;
}

static void round_trip(struct fx *f, size_t len, int chown_it)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/sample.bin", f->files);
    uint8_t *data = random_buf(len);
    write_file(path, data, len, 0640);
    if (chown_it)
        assert_int_equal(chown(path, 1234, 5678), 0);
    char id[RQ_ID_LEN + 1];
    struct rq_status st;
    assert_int_equal(quarantine(f, path, NULL, id, &st), 0);
    assert_int_equal(strlen(id), RQ_ID_LEN);
    assert_int_equal(count_names(f->root, "vault/.tmp"), 0);
    assert_int_equal(unlink(path), 0); /* the caller's part */

    assert_int_equal(rq_vault_restore(f->v, id, NULL, 0, &st), 0);
    size_t got_len;
    uint8_t *got = read_file(path, &got_len);
    assert_non_null(got);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, data, len);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    assert_int_equal(sb.st_mtim.tv_sec, 1600000000);
    assert_int_equal(sb.st_mtim.tv_nsec, 987654321);
    if (chown_it) {
        assert_int_equal(sb.st_uid, 1234);
        assert_int_equal(sb.st_gid, 5678);
    }
    assert_int_equal(count_names(f->files, ".rq-restore"), 0);
    free(got);
    free(data);
}

static void test_round_trip(void **state)
{
    round_trip(*state, 100000 + 7, 0);
}

static void test_empty_file_round_trip(void **state)
{
    round_trip(*state, 0, 0);
}

static void test_large_file_streamed(void **state)
{
    round_trip(*state, 8u << 20, 0);
}

static void test_privileged_owner_round_trip(void **state)
{
    if (geteuid() != 0)
        tu_skip("restoring another user's ownership needs root");
    round_trip(*state, 5000, 1);
}

/* Quarantines a file, flips one byte at off (negative: from the end), and
 * checks the restore is refused with why and leaves nothing at the target. */
static void flipped(struct fx *f, long off, enum rq_why why)
{
    char path[160], entry[160], target[160];
    snprintf(path, sizeof(path), "%s/victim", f->files);
    snprintf(target, sizeof(target), "%s/restored", f->files);
    uint8_t *data = random_buf(70000);
    write_file(path, data, 70000, 0644);
    char id[RQ_ID_LEN + 1];
    struct rq_status st;
    assert_int_equal(quarantine(f, path, NULL, id, &st), 0);
    snprintf(entry, sizeof(entry), "%s/vault/%s", f->root, id);
    int fd = open(entry, O_RDWR);
    assert_true(fd >= 0);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    off_t at = off >= 0 ? off : sb.st_size + off;
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x01;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);

    int rc = rq_vault_restore(f->v, id, target, 0, &st);
    assert_int_not_equal(rc, 0);
    assert_int_equal(st.why, why);
    assert_int_equal(access(target, F_OK), -1);
    assert_int_equal(count_names(f->files, ".rq-restore"), 0);
    free(data);
}

static void test_flipped_ciphertext_refused(void **state)
{
    flipped(*state, RQ_PREFIX_LEN + RQ_META_FIXED + 200 + 5000, RQ_WHY_TAG);
}

static void test_flipped_metadata_refused(void **state)
{
    /* The mode field, then the first byte of the original path. */
    flipped(*state, RQ_PREFIX_LEN + 8, RQ_WHY_TAG);
    flipped(*state, RQ_PREFIX_LEN + RQ_META_FIXED, RQ_WHY_TAG);
}

static void test_flipped_nonce_refused(void **state)
{
    flipped(*state, 12, RQ_WHY_TAG);
}

static void test_flipped_tag_refused(void **state)
{
    flipped(*state, -1, RQ_WHY_TAG);
}

static void test_wrong_key_refused(void **state)
{
    struct fx *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/k", f->files);
    write_file(path, (const uint8_t *)"hello", 5, 0644);
    char id[RQ_ID_LEN + 1];
    struct rq_status st;
    assert_int_equal(quarantine(f, path, NULL, id, &st), 0);
    assert_int_equal(unlink(path), 0);
    uint8_t other[RQ_KEY_LEN];
    memcpy(other, f->key, sizeof(other));
    other[0] ^= 1;
    struct rq_vault *v2;
    assert_int_equal(rq_vault_open(f->vfd, other, 1u << 20, &v2, &st), 0);
    assert_int_equal(rq_vault_restore(v2, id, NULL, 0, &st), RP_ERR_PARSE);
    assert_int_equal(st.why, RQ_WHY_TAG);
    assert_int_equal(access(path, F_OK), -1);
    rq_vault_close(v2);
}

/* An entry whose tag holds but whose recorded SHA-256 is not its content's
 * (a writer that erred: the vault's own quarantine refuses to write one) is
 * refused too: the tag alone does not prove the bytes are the alert's. */
static void test_restore_hash_mismatch_refused(void **state)
{
    struct fx *f = *state;
    char target[160];
    snprintf(target, sizeof(target), "%s/forged", f->files);
    struct rq_meta *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->size = 7;
    m->mode = 0100644;
    m->uid = getuid();
    m->gid = getgid();
    sha256_of((const uint8_t *)"other", 5, m->sha256);
    snprintf(m->path, sizeof(m->path), "%s", target);
    uint8_t nonce[RQ_NONCE_LEN] = {1, 2, 3};
    static uint8_t hdr[RQ_HEADER_MAX];
    size_t hdr_len;
    assert_int_equal(rq_entry_encode(m, nonce, hdr, sizeof(hdr), &hdr_len), 0);
    uint8_t ct[7], tag[RQ_TAG_LEN];
    mbedtls_gcm_context gcm;
    mbedtls_gcm_init(&gcm);
    assert_int_equal(mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, f->key, 256), 0);
    assert_int_equal(mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, 7, nonce, sizeof(nonce),
                                               hdr, hdr_len, (const uint8_t *)"content", ct,
                                               sizeof(tag), tag),
                     0);
    mbedtls_gcm_free(&gcm);
    const char *id = "0123456789abcdef0123456789abcdef";
    int fd = openat(f->vfd, id, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hdr, hdr_len), (ssize_t)hdr_len);
    assert_int_equal(write(fd, ct, sizeof(ct)), (ssize_t)sizeof(ct));
    assert_int_equal(write(fd, tag, sizeof(tag)), (ssize_t)sizeof(tag));
    close(fd);
    struct rq_status st;
    assert_int_equal(rq_vault_restore(f->v, id, NULL, 0, &st), RP_ERR_PARSE);
    assert_int_equal(st.why, RQ_WHY_RESTORE_HASH);
    assert_int_equal(access(target, F_OK), -1);
    assert_int_equal(count_names(f->files, ".rq-restore"), 0);
    /* The same entry with the right hash restores: the forgery is sound. */
    sha256_of((const uint8_t *)"content", 7, m->sha256);
    assert_int_equal(rq_entry_encode(m, nonce, hdr, sizeof(hdr), &hdr_len), 0);
    mbedtls_gcm_init(&gcm);
    assert_int_equal(mbedtls_gcm_setkey(&gcm, MBEDTLS_CIPHER_ID_AES, f->key, 256), 0);
    assert_int_equal(mbedtls_gcm_crypt_and_tag(&gcm, MBEDTLS_GCM_ENCRYPT, 7, nonce, sizeof(nonce),
                                               hdr, hdr_len, (const uint8_t *)"content", ct,
                                               sizeof(tag), tag),
                     0);
    mbedtls_gcm_free(&gcm);
    fd = openat(f->vfd, id, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, hdr, hdr_len), (ssize_t)hdr_len);
    assert_int_equal(write(fd, ct, sizeof(ct)), (ssize_t)sizeof(ct));
    assert_int_equal(write(fd, tag, sizeof(tag)), (ssize_t)sizeof(tag));
    close(fd);
    assert_int_equal(rq_vault_restore(f->v, id, NULL, 0, &st), 0);
    assert_int_equal(access(target, F_OK), 0);
    free(m);
}

static void test_wrong_sha256_refused(void **state)
{
    struct fx *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/w", f->files);
    write_file(path, (const uint8_t *)"content", 7, 0644);
    uint8_t wrong[32];
    sha256_of((const uint8_t *)"other", 5, wrong);
    char id[RQ_ID_LEN + 1];
    struct rq_status st;
    assert_int_equal(quarantine(f, path, wrong, id, &st), RP_ERR_INVAL);
    assert_int_equal(st.why, RQ_WHY_HASH);
    assert_non_null(strstr(st.msg, path));
    assert_int_equal(count_entries(f), 0);
    assert_int_equal(count_names(f->root, "vault/.tmp"), 0);
    char vault[96];
    snprintf(vault, sizeof(vault), "%s/vault", f->root);
    assert_int_equal(count_names(vault, ".tmp"), 0);
}

static void test_swapped_file_refused(void **state)
{
    struct fx *f = *state;
    char path[160], other[160];
    snprintf(path, sizeof(path), "%s/named", f->files);
    snprintf(other, sizeof(other), "%s/swap", f->files);
    write_file(path, (const uint8_t *)"the alert's file", 16, 0644);
    struct stat named;
    assert_int_equal(stat(path, &named), 0);
    uint8_t sha[32];
    sha256_of((const uint8_t *)"the alert's file", 16, sha);
    /* Between the alert and the action the path gets another file. */
    write_file(other, (const uint8_t *)"the alert's file", 16, 0644);
    assert_int_equal(rename(other, path), 0);
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    assert_true(fd >= 0);
    struct rq_expect e = {.dev = named.st_dev, .ino = named.st_ino};
    memcpy(e.sha256, sha, 32);
    char id[RQ_ID_LEN + 1];
    struct rq_status st;
    assert_int_equal(rq_vault_quarantine(f->v, fd, &e, path, "r", 1, id, &st), RP_ERR_BUSY);
    assert_int_equal(st.why, RQ_WHY_CHANGED);
    close(fd);
    assert_int_equal(count_entries(f), 0);
}

static void test_existing_target_refused_unless_overwrite(void **state)
{
    struct fx *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/e", f->files);
    write_file(path, (const uint8_t *)"quarantined", 11, 0644);
    char id[RQ_ID_LEN + 1];
    struct rq_status st;
    assert_int_equal(quarantine(f, path, NULL, id, &st), 0);
    write_file(path, (const uint8_t *)"newer", 5, 0644);
    assert_int_equal(rq_vault_restore(f->v, id, NULL, 0, &st), RP_ERR_EXISTS);
    assert_int_equal(st.why, RQ_WHY_EXISTS);
    size_t len;
    uint8_t *b = read_file(path, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(b, "newer", 5);
    free(b);
    assert_int_equal(rq_vault_restore(f->v, id, NULL, RQ_RESTORE_OVERWRITE, &st), 0);
    b = read_file(path, &len);
    assert_int_equal(len, 11);
    assert_memory_equal(b, "quarantined", 11);
    free(b);
    /* Another target: the original stays as it is. */
    char to[160];
    snprintf(to, sizeof(to), "%s/elsewhere", f->files);
    assert_int_equal(rq_vault_restore(f->v, id, to, 0, &st), 0);
    b = read_file(to, &len);
    assert_int_equal(len, 11);
    free(b);
    assert_int_equal(rq_vault_restore(f->v, id, "relative/path", 0, &st), RP_ERR_INVAL);
    assert_int_equal(st.why, RQ_WHY_TARGET);
}

static void test_key_created_private_and_stable(void **state)
{
    struct fx *f = *state;
    struct stat sb;
    assert_int_equal(fstatat(f->vfd, "key", &sb, AT_SYMLINK_NOFOLLOW), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_int_equal(sb.st_size, 32);
    uint8_t again[RQ_KEY_LEN];
    struct rq_status st;
    assert_int_equal(rq_key_load_or_create(f->vfd, "key", again, &st), 0);
    assert_memory_equal(again, f->key, RQ_KEY_LEN);
}

/* A bad key file is refused with RQ_WHY_KEY, and left as it was. */
static void bad_key(struct fx *f, const char *name, const char *expect_in_msg)
{
    struct stat before, after;
    assert_int_equal(fstatat(f->vfd, name, &before, AT_SYMLINK_NOFOLLOW), 0);
    uint8_t k[RQ_KEY_LEN];
    struct rq_status st;
    assert_int_equal(rq_key_load_or_create(f->vfd, name, k, &st), RP_ERR_PERM);
    assert_int_equal(st.why, RQ_WHY_KEY);
    assert_non_null(strstr(st.msg, expect_in_msg));
    assert_int_equal(fstatat(f->vfd, name, &after, AT_SYMLINK_NOFOLLOW), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(before.st_size, after.st_size);
    assert_int_equal(before.st_mode, after.st_mode);
}

static void make_key(struct fx *f, const char *name, size_t len, mode_t mode)
{
    int fd = openat(f->vfd, name, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    uint8_t *b = random_buf(len);
    assert_int_equal(write(fd, b, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    free(b);
}

static void test_bad_key_files_refused(void **state)
{
    struct fx *f = *state;
    make_key(f, "k644", 32, 0644);
    bad_key(f, "k644", "mode 0644, expected 0600");
    make_key(f, "k31", 31, 0600);
    bad_key(f, "k31", "31 bytes, expected 32");
    make_key(f, "k33", 33, 0600);
    bad_key(f, "k33", "33 bytes, expected 32");
    assert_int_equal(symlinkat("key", f->vfd, "klink"), 0);
    bad_key(f, "klink", "symbolic link");
    assert_int_equal(mkdirat(f->vfd, "kdir", 0600), 0);
    bad_key(f, "kdir", "not a regular file");
}

static void test_privileged_key_wrong_owner_refused(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        tu_skip("giving the key file to another user needs root");
    make_key(f, "kown", 32, 0600);
    assert_int_equal(fchownat(f->vfd, "kown", 4321, 4321, AT_SYMLINK_NOFOLLOW), 0);
    bad_key(f, "kown", "owned by uid 4321");
}

static void test_cap_refused(void **state)
{
    struct fx *f = *state;
    struct rq_vault *small;
    struct rq_status st;
    char vault[96];
    snprintf(vault, sizeof(vault), "%s/vault", f->root);
    /* The key file is 32 bytes of the vault folder too. */
    assert_int_equal(rq_vault_open(f->vfd, f->key, 32 + 10000, &small, &st), 0);
    struct rq_vault *keep = f->v;
    f->v = small;
    uint8_t *data = random_buf(4000);
    char path[160], id[RQ_ID_LEN + 1];
    snprintf(path, sizeof(path), "%s/c", f->files);
    write_file(path, data, 4000, 0644);
    assert_int_equal(quarantine(f, path, NULL, id, &st), 0);
    assert_int_equal(quarantine(f, path, NULL, id, &st), 0);
    assert_int_equal(quarantine(f, path, NULL, id, &st), RP_ERR_FULL);
    assert_int_equal(st.why, RQ_WHY_CAP);
    assert_int_equal(count_entries(f), 2);
    assert_int_equal(count_names(vault, ".tmp"), 0);
    f->v = keep;
    rq_vault_close(small);
    free(data);
}

struct seen {
    int n;
    int unparsed;
    char paths[4][RQ_PATH_MAX + 1];
};

static int collect(void *ctx, const char *id, const struct rq_meta *meta)
{
    struct seen *s = ctx;
    assert_int_equal(strlen(id), RQ_ID_LEN);
    if (meta == NULL) {
        s->unparsed++;
        return 0;
    }
    assert_true(s->n < 4);
    snprintf(s->paths[s->n++], sizeof(s->paths[0]), "%s", meta->path);
    assert_string_equal(meta->rule, "EICAR_test_rule");
    assert_int_equal(meta->time_ns, 1700000000000000000LL);
    return 0;
}

static void test_list_and_delete(void **state)
{
    struct fx *f = *state;
    char a[160], b[160], ida[RQ_ID_LEN + 1], idb[RQ_ID_LEN + 1];
    snprintf(a, sizeof(a), "%s/a", f->files);
    snprintf(b, sizeof(b), "%s/b", f->files);
    write_file(a, (const uint8_t *)"aaa", 3, 0644);
    write_file(b, (const uint8_t *)"bbbb", 4, 0644);
    struct rq_status st;
    assert_int_equal(quarantine(f, a, NULL, ida, &st), 0);
    assert_int_equal(quarantine(f, b, NULL, idb, &st), 0);
    struct seen s = {0};
    assert_int_equal(rq_vault_list(f->v, collect, &s, &st), 0);
    assert_int_equal(s.n, 2);
    assert_true((strcmp(s.paths[0], a) == 0 && strcmp(s.paths[1], b) == 0) ||
                (strcmp(s.paths[0], b) == 0 && strcmp(s.paths[1], a) == 0));
    assert_int_equal(rq_vault_delete(f->v, ida, &st), 0);
    memset(&s, 0, sizeof(s));
    assert_int_equal(rq_vault_list(f->v, collect, &s, &st), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.paths[0], b);
    assert_int_equal(rq_vault_delete(f->v, ida, &st), RP_ERR_NOTFOUND);
    assert_int_equal(st.why, RQ_WHY_NOTFOUND);
    assert_int_equal(rq_vault_restore(f->v, ida, NULL, 0, &st), RP_ERR_NOTFOUND);
    assert_int_equal(rq_vault_delete(f->v, "../key", &st), RP_ERR_NOTFOUND);
    /* A truncated entry is listed as unparsed and refused by restore. */
    int fd = openat(f->vfd, idb, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 30), 0);
    close(fd);
    memset(&s, 0, sizeof(s));
    assert_int_equal(rq_vault_list(f->v, collect, &s, &st), 0);
    assert_int_equal(s.unparsed, 1);
    assert_int_equal(rq_vault_restore(f->v, idb, NULL, 0, &st), RP_ERR_PARSE);
    assert_int_equal(st.why, RQ_WHY_FORMAT);
}

static void test_overlong_fields_refused(void **state)
{
    struct fx *f = *state;
    char path[160];
    snprintf(path, sizeof(path), "%s/long", f->files);
    write_file(path, (const uint8_t *)"x", 1, 0644);
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    struct stat sb;
    fstat(fd, &sb);
    struct rq_expect e = {.dev = sb.st_dev, .ino = sb.st_ino};
    char rule[RQ_RULE_MAX + 2];
    memset(rule, 'r', sizeof(rule) - 1);
    rule[sizeof(rule) - 1] = '\0';
    char id[RQ_ID_LEN + 1];
    struct rq_status st;
    assert_int_equal(rq_vault_quarantine(f->v, fd, &e, path, rule, 1, id, &st), RP_ERR_RANGE);
    assert_int_equal(st.why, RQ_WHY_FIELD);
    close(fd);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_file_streamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_privileged_owner_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_ciphertext_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_metadata_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_nonce_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flipped_tag_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_key_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restore_hash_mismatch_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_sha256_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_swapped_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_target_refused_unless_overwrite, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_created_private_and_stable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_key_files_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_privileged_key_wrong_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlong_fields_refused, setup, teardown),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
