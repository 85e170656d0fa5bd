/*
 * tests/unit/test_os_trust.c - the trust rules of the Unix platform layer
 * (core/os/unix/os_unix.c): the folder walk from / (group-writable and
 * sticky folders, symbolic links followed by walking their target, loops),
 * private state files (links, hard links, modes) and loading a plugin through
 * its checked descriptor, which must stay open: a plugin loaded after another
 * was forgotten must be a new object, not the old one under a reused name;
 * folders opened once (rp__os_dir): every file function works in the folder
 * that was checked, even after it is renamed away and a link planted at its
 * old path. Signed plugins (rp__os_dl_open_checked): the bytes checked are
 * the bytes loaded even when the file is swapped on disk, by a rename or a
 * rewrite in place, between the check and the load (the check callback does
 * the swap: it runs exactly there); the .sig is read from the checked folder
 * and refused when others can write it or it is a link.
 */
#define _GNU_SOURCE /* dladdr */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "os/os.h"
#include "os/os_fs.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp("trust", tmp, sizeof tmp);
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(tmp);
}

static const char *at(char *buf, size_t len, const char *name)
{
    const char *p = tu_path(buf, len, tmp, name);
    assert_non_null(p);
    return p;
}

static void expect_refusal(int rc, int want_rc, const char *reason, const char *want)
{
    if (rc != want_rc || !strstr(reason, want))
        fail_msg("got %d \"%s\"; wanted %d with \"%s\"", rc, reason, want_rc, want);
}

static void test_folder_rules(void **state)
{
    (void)state;
    char g[256], d[256], reason[1024] = "", want[512];
    assert_int_equal(rp__os_dir_check_private(tmp, reason, sizeof reason), 0);
    assert_int_equal(mkdir(at(g, sizeof g, "g"), 0700), 0);
    assert_int_equal(mkdir(at(d, sizeof d, "g/d"), 0700), 0);

    /* A group-writable folder above: refused, named, with its mode. */
    assert_int_equal(chmod(g, 0775), 0);
    snprintf(want, sizeof want,
             "%s: writable by group (mode 0775); expected a folder only root or the agent's "
             "user can change (or one with the sticky bit, like /tmp)",
             g);
    expect_refusal(rp__os_dir_check_private(d, reason, sizeof reason), RP_ERR_PERM, reason, want);

    /* Sticky above: accepted. As the folder itself: never. */
    assert_int_equal(chmod(g, 01777), 0);
    assert_int_equal(rp__os_dir_check_private(d, reason, sizeof reason), 0);
    snprintf(want, sizeof want,
             "%s: writable by others (mode 1777); expected a folder only root or the agent's "
             "user can change",
             g);
    expect_refusal(rp__os_dir_check_private(g, reason, sizeof reason), RP_ERR_PERM, reason, want);
    assert_null(strstr(reason, "sticky"));

    char missing[256];
    assert_int_equal(
        rp__os_dir_check_private(at(missing, sizeof missing, "g/none"), reason, sizeof reason),
        RP_ERR_NOTFOUND);
    assert_int_equal(chmod(g, 0700), 0);
}

static void test_links(void **state)
{
    (void)state;
    char real[256], rel[256], abs[256], dotdot[256], l1[256], l2[256], reason[1024] = "";
    char want[512];
    assert_int_equal(mkdir(at(real, sizeof real, "real"), 0700), 0);
    assert_int_equal(symlink("real", at(rel, sizeof rel, "rel")), 0);
    assert_int_equal(symlink(real, at(abs, sizeof abs, "abs")), 0);
    assert_int_equal(symlink("real/../rel", at(dotdot, sizeof dotdot, "dotdot")), 0);
    assert_int_equal(rp__os_dir_check_private(rel, reason, sizeof reason), 0);
    assert_int_equal(rp__os_dir_check_private(abs, reason, sizeof reason), 0);
    assert_int_equal(rp__os_dir_check_private(dotdot, reason, sizeof reason), 0);

    /* The target is walked too: a group-writable target is refused. */
    assert_int_equal(chmod(real, 0770), 0);
    snprintf(want, sizeof want, "%s: writable by group (mode 0770)", real);
    expect_refusal(rp__os_dir_check_private(rel, reason, sizeof reason), RP_ERR_PERM, reason, want);
    assert_int_equal(chmod(real, 0700), 0);

    /* A loop ends. */
    assert_int_equal(symlink("loop2", at(l1, sizeof l1, "loop1")), 0);
    assert_int_equal(symlink("loop1", at(l2, sizeof l2, "loop2")), 0);
    expect_refusal(rp__os_dir_check_private(l1, reason, sizeof reason), RP_ERR_RANGE, reason,
                   "too many symbolic links");

    /* A subfolder of the agent's must not be a link at all. */
    snprintf(want, sizeof want, "%s: a symbolic link; expected a folder", rel);
    expect_refusal(rp__os_subdir_check_private(rel, reason, sizeof reason), RP_ERR_PERM, reason,
                   want);
    assert_int_equal(rp__os_subdir_check_private(real, reason, sizeof reason), 0);

    /* A link of another user's is not followed. */
    if (geteuid() == 0) {
        assert_int_equal(lchown(rel, 65534, 65534), 0);
        snprintf(want, sizeof want,
                 "%s: symbolic link owned by uid 65534; expected root or the agent's user", rel);
        expect_refusal(rp__os_dir_check_private(rel, reason, sizeof reason), RP_ERR_PERM, reason,
                       want);
    }
}

static void test_private_file(void **state)
{
    (void)state;
    char id[256], lnk[256], hard[256], reason[1024] = "", want[512];
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(tu_write(at(id, sizeof id, "agent_id"), "hello\n"), 0);
    assert_int_equal(chmod(id, 0644), 0);
    assert_int_equal(rp__os_read_private_file(id, 64, &data, &len, reason, sizeof reason), 0);
    assert_int_equal(len, 6);
    assert_memory_equal(data, "hello\n", 6);
    free(data);

    assert_int_equal(symlink(id, at(lnk, sizeof lnk, "link")), 0);
    snprintf(want, sizeof want, "%s: a symbolic link; expected a regular file", lnk);
    expect_refusal(rp__os_read_private_file(lnk, 64, &data, &len, reason, sizeof reason),
                   RP_ERR_PERM, reason, want);

    assert_int_equal(link(id, at(hard, sizeof hard, "hard")), 0);
    snprintf(want, sizeof want, "%s: has 2 names (hard links); expected one", id);
    expect_refusal(rp__os_read_private_file(id, 64, &data, &len, reason, sizeof reason),
                   RP_ERR_PERM, reason, want);
    assert_int_equal(unlink(hard), 0);

    assert_int_equal(chmod(id, 0666), 0);
    snprintf(want, sizeof want, "%s: writable by others (mode 0666)", id);
    expect_refusal(rp__os_read_private_file(id, 64, &data, &len, reason, sizeof reason),
                   RP_ERR_PERM, reason, want);
}

static int count_file(void *arg, const char *name, uint64_t size)
{
    (void)name;
    (void)size;
    ++*(int *)arg;
    return 0;
}

/* A folder opened once, then renamed away with a link to another folder
 * planted at its old path (and a subfolder replaced the same way): every
 * write, read, rename, removal and listing still works in the folder that
 * was opened, and the other one is never touched. */
static void test_dir_handle_survives_swap(void **state)
{
    (void)state;
    char data[256], moved[256], other[256], p[256], q[256], reason[1024] = "";
    assert_int_equal(mkdir(at(data, sizeof data, "data"), 0700), 0);
    assert_int_equal(mkdir(at(other, sizeof other, "other"), 0700), 0);
    assert_int_equal(mkdir(at(p, sizeof p, "other/deadletter"), 0700), 0);
    assert_int_equal(tu_write(at(p, sizeof p, "other/agent_id"), "planted\n"), 0);
    assert_int_equal(tu_write(at(p, sizeof p, "other/deadletter/old"), "x"), 0);

    rp__os_dir *d = NULL, *dl = NULL, *dup = NULL;
    assert_int_equal(rp__os_dir_open(data, &d, reason, sizeof reason), 0);
    assert_string_equal(rp__os_dir_path(d), data);
    assert_int_equal(rp__os_dir_sub(d, "deadletter", 0700, &dl, reason, sizeof reason), 0);
    assert_int_equal(rp__os_dir_dup(d, &dup), 0);
    rp__os_dir_close(d);

    assert_int_equal(rename(data, at(moved, sizeof moved, "moved")), 0);
    assert_int_equal(symlink(other, data), 0);

    assert_int_equal(rp__os_dir_write_atomic(dup, "agent_id", "mine\n", 5, 0644), 0);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(rp__os_dir_read_small(dup, "agent_id", 64, &text, &len, reason, sizeof reason),
                     0);
    assert_string_equal(text, "mine\n");
    free(text);
    rp__os_file f = {RP__OS_FILE_NONE};
    int sys = 0;
    assert_int_equal(rp__os_dir_open_append(dup, "events.ndjson", 0640, &f, &sys), 0);
    assert_int_equal(rp__os_file_write(f, "{}\n", 3), 0);
    rp__os_file_close(&f);
    assert_int_equal(rp__os_dir_rename(dup, "events.ndjson", "events.ndjson.1"), 0);
    assert_int_equal(rp__os_dir_write_atomic(dl, "letter", "y", 1, 0600), 0);
    int n = 0;
    assert_int_equal(rp__os_dir_list(dl, count_file, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(rp__os_dir_remove(dl, "letter"), 0);
    assert_int_equal(rp__os_dir_remove(dl, "letter"), RP_ERR_NOTFOUND);
    rp__os_pidfile *pf = NULL;
    long holder = 0;
    assert_int_equal(rp__os_dir_pidfile_acquire(dup, "rampartd.pid", &pf, &holder), 0);
    assert_true(tu_exists(at(p, sizeof p, "moved/rampartd.pid")));
    rp__os_pidfile_release(pf);
    assert_false(tu_exists(p));

    text = tu_read(at(p, sizeof p, "moved/agent_id"));
    assert_non_null(text);
    assert_string_equal(text, "mine\n");
    free(text);
    assert_true(tu_exists(at(p, sizeof p, "moved/events.ndjson.1")));
    text = tu_read(at(p, sizeof p, "other/agent_id"));
    assert_non_null(text);
    assert_string_equal(text, "planted\n");
    free(text);
    assert_false(tu_exists(at(p, sizeof p, "other/events.ndjson")));
    assert_false(tu_exists(at(p, sizeof p, "other/events.ndjson.1")));
    assert_false(tu_exists(at(p, sizeof p, "other/rampartd.pid")));
    assert_true(tu_exists(at(p, sizeof p, "other/deadletter/old")));
    assert_false(tu_exists(at(q, sizeof q, "other/deadletter/letter")));
    rp__os_dir_close(dup);
    rp__os_dir_close(dl);
}

/* The rules at the names themselves: a link in place of a state file is
 * refused (read) or replaced (write), never followed; a link or a folder
 * others can write in place of a subfolder is refused; names that would
 * leave the folder are refused. */
static void test_dir_handle_rules(void **state)
{
    (void)state;
    char data[256], target[256], p[256], reason[1024] = "", want[512];
    assert_int_equal(mkdir(at(data, sizeof data, "data"), 0700), 0);
    assert_int_equal(tu_write(at(target, sizeof target, "target"), "root only\n"), 0);
    rp__os_dir *d = NULL, *sub = NULL;
    assert_int_equal(rp__os_dir_open(data, &d, reason, sizeof reason), 0);

    assert_int_equal(symlink(target, at(p, sizeof p, "data/agent_id")), 0);
    char *text = NULL;
    size_t len = 0;
    snprintf(want, sizeof want, "%s: a symbolic link; expected a regular file", p);
    expect_refusal(rp__os_dir_read_small(d, "agent_id", 64, &text, &len, reason, sizeof reason),
                   RP_ERR_PERM, reason, want);
    assert_int_equal(rp__os_dir_write_atomic(d, "agent_id", "new\n", 4, 0644), 0);
    struct stat st;
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    text = tu_read(target);
    assert_string_equal(text, "root only\n");
    free(text);

    rp__os_file f = {RP__OS_FILE_NONE};
    int sys = 0;
    assert_int_equal(symlink(target, at(p, sizeof p, "data/events.ndjson")), 0);
    assert_int_equal(rp__os_dir_open_append(d, "events.ndjson", 0640, &f, &sys), RP_ERR_PERM);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(link(target, p), 0);
    assert_int_equal(rp__os_dir_open_append(d, "events.ndjson", 0640, &f, &sys), RP_ERR_PERM);

    assert_int_equal(symlink(tmp, at(p, sizeof p, "data/spool")), 0);
    snprintf(want, sizeof want, "%s: a symbolic link; expected a folder", p);
    expect_refusal(rp__os_dir_sub(d, "spool", 0, &sub, reason, sizeof reason), RP_ERR_PERM, reason,
                   want);
    assert_int_equal(mkdir(at(p, sizeof p, "data/deadletter"), 0700), 0);
    assert_int_equal(chmod(p, 0777), 0);
    snprintf(want, sizeof want, "%s: writable by others (mode 0777)", p);
    expect_refusal(rp__os_dir_sub(d, "deadletter", 0700, &sub, reason, sizeof reason), RP_ERR_PERM,
                   reason, want);
    assert_int_equal(rp__os_dir_sub(d, "none", 0, &sub, reason, sizeof reason), RP_ERR_NOTFOUND);

    assert_int_equal(rp__os_dir_write_atomic(d, "../x", "", 0, 0644), RP_ERR_INVAL);
    assert_int_equal(rp__os_dir_write_atomic(d, "..", "", 0, 0644), RP_ERR_INVAL);
    assert_int_equal(rp__os_dir_remove(d, "a/b"), RP_ERR_INVAL);
    assert_int_equal(rp__os_dir_sub(d, ".", 0, &sub, reason, sizeof reason), RP_ERR_INVAL);
    rp__os_dir_close(d);

    /* The folder itself follows rp__os_dir_check_private. */
    assert_int_equal(chmod(data, 0770), 0);
    snprintf(want, sizeof want, "%s: writable by group (mode 0770)", data);
    expect_refusal(rp__os_dir_open(data, &d, reason, sizeof reason), RP_ERR_PERM, reason, want);
    const char *name = NULL;
    assert_int_equal(chmod(data, 0700), 0);
    assert_int_equal(rp__os_dir_open_parent(at(p, sizeof p, "data/status.json"), &d, &name, reason,
                                            sizeof reason),
                     0);
    assert_string_equal(name, "status.json");
    assert_string_equal(rp__os_dir_path(d), data);
    rp__os_dir_close(d);
}

/* Copies a built plugin into tmp/p/name, mode 0644. */
static void install(const char *from, const char *name, char *dst, size_t dstlen)
{
    char dir[256];
    mkdir(at(dir, sizeof dir, "p"), 0755);
    assert_non_null(tu_path(dst, dstlen, dir, name));
    char *bytes = NULL;
    size_t n = 0;
    int sys = 0;
    assert_int_equal(rp__os_read_file(from, 64u << 20, &bytes, &n, &sys), 0);
    FILE *f = fopen(dst, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    free(bytes);
    assert_int_equal(chmod(dst, 0644), 0);
}

static void test_dl_open_trusted(void **state)
{
    (void)state;
    char a[256], b[256], lnk[256], err[1024] = "", want[512];
    install(RP_BINARY_DIR "/plugins/collector_synthetic.so", "a.so", a, sizeof a);
    install(RP_BINARY_DIR "/tests/abi-plugins/abi_frozen.so", "b.so", b, sizeof b);

    rp__os_dl *dl = NULL;
    assert_int_equal(rp__os_dl_open_trusted(a, &dl, err, sizeof err), 0);
    rp__os_fn entry_a = rp__os_dl_sym(dl, RP_ENTRY_SYMBOL);
    assert_non_null(entry_a);
    /* As production does: the library and its descriptor stay. */
    rp__os_dl_forget(dl);

    /* The next plugin must be itself, not the first one again under a
     * reused /proc/self/fd/N. */
    assert_int_equal(rp__os_dl_open_trusted(b, &dl, err, sizeof err), 0);
    rp__os_fn entry_b = rp__os_dl_sym(dl, RP_ENTRY_SYMBOL);
    assert_non_null(entry_b);
    assert_true(entry_a != entry_b);
    rp__os_dl_forget(dl);

    /* A link as the plugin file is refused, not followed. */
    assert_int_equal(symlink(a, at(lnk, sizeof lnk, "p/link.so")), 0);
    snprintf(want, sizeof want, "%s: a symbolic link; expected a regular file", lnk);
    expect_refusal(rp__os_dl_open_trusted(lnk, &dl, err, sizeof err), RP_ERR_PERM, err, want);

    /* So is a file others can write. */
    assert_int_equal(chmod(b, 0646), 0);
    snprintf(want, sizeof want, "%s: writable by others (mode 0646)", b);
    expect_refusal(rp__os_dl_open_trusted(b, &dl, err, sizeof err), RP_ERR_PERM, err, want);
}

/* What the check of test_dl_open_checked_swap does and saw. */
struct swap_check {
    const char *path;  /* the plugin file, swapped by the check */
    const char *other; /* bytes put in its place */
    size_t other_len;
    int in_place; /* rewrite the file (same inode) instead of a rename */
    int calls;
    int saw_sig;
    char *seen; /* a copy of the bytes the check was given */
    size_t seen_len;
};

static int swap_during_check(void *arg, const void *data, size_t len, const char *sig,
                             size_t sig_len, char *err, size_t errlen)
{
    (void)sig_len;
    (void)err;
    (void)errlen;
    struct swap_check *sc = arg;
    sc->calls++;
    sc->saw_sig = sig != NULL;
    free(sc->seen);
    sc->seen = malloc(len ? len : 1);
    assert_non_null(sc->seen);
    memcpy(sc->seen, data, len);
    sc->seen_len = len;
    /* The swap, after the file was opened and checked, before it loads. */
    char tmpname[300];
    snprintf(tmpname, sizeof tmpname, "%s.new", sc->path);
    const char *target = sc->in_place ? sc->path : tmpname;
    int fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, sc->other, sc->other_len), (ssize_t)sc->other_len);
    assert_int_equal(close(fd), 0);
    if (!sc->in_place)
        assert_int_equal(rename(tmpname, sc->path), 0);
    return 0;
}

/* The bytes of the object the entry point of dl was loaded from: dlopen was
 * given /proc/self/fd/N, which stays open for the life of the process. */
static char *loaded_bytes(rp__os_dl *dl, size_t *len)
{
    rp__os_fn fn = rp__os_dl_sym(dl, RP_ENTRY_SYMBOL);
    assert_non_null(fn);
    void *addr;
    memcpy(&addr, &fn, sizeof addr);
    Dl_info info;
    assert_true(dladdr(addr, &info) != 0);
    assert_non_null(strstr(info.dli_fname, "/proc/self/fd/"));
    char *bytes = NULL;
    int sys = 0;
    assert_int_equal(rp__os_read_file(info.dli_fname, 64u << 20, &bytes, len, &sys), 0);
    return bytes;
}

static void test_dl_open_checked_swap(void **state)
{
    (void)state;
    char a[256], b[256], sig[256], err[1024] = "", want[512];
    install(RP_BINARY_DIR "/plugins/collector_synthetic.so", "a.so", a, sizeof a);
    install(RP_BINARY_DIR "/tests/abi-plugins/abi_frozen.so", "b.so", b, sizeof b);
    char *orig = NULL, *other = NULL;
    size_t orig_len = 0, other_len = 0;
    int sys = 0;
    assert_int_equal(rp__os_read_file(a, 64u << 20, &orig, &orig_len, &sys), 0);
    assert_int_equal(rp__os_read_file(b, 64u << 20, &other, &other_len, &sys), 0);
    assert_true(orig_len != other_len || memcmp(orig, other, orig_len) != 0);

    for (int in_place = 0; in_place <= 1; in_place++) {
        struct swap_check sc = {
            .path = a, .other = other, .other_len = other_len, .in_place = in_place};
        rp__os_dl *dl = NULL;
        /* Signatures required, no .sig: the check is called (without one). */
        assert_int_equal(
            rp__os_dl_open_checked(a, 0, 1, 1024, swap_during_check, &sc, &dl, err, sizeof err), 0);
        assert_int_equal(sc.calls, 1);
        assert_false(sc.saw_sig);
        /* The check saw the original bytes... */
        assert_int_equal(sc.seen_len, orig_len);
        assert_memory_equal(sc.seen, orig, orig_len);
        /* ...the path now holds the other file... */
        char *now = NULL;
        size_t now_len = 0;
        assert_int_equal(rp__os_read_file(a, 64u << 20, &now, &now_len, &sys), 0);
        assert_int_equal(now_len, other_len);
        free(now);
        /* ...and what was loaded is what was checked, not what is there now. */
        size_t got_len = 0;
        char *got = loaded_bytes(dl, &got_len);
        assert_int_equal(got_len, orig_len);
        assert_memory_equal(got, orig, orig_len);
        free(got);
        free(sc.seen);
        rp__os_dl_forget(dl);
        /* Put the original back for the next round. */
        int fd = open(a, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, orig, orig_len), (ssize_t)orig_len);
        assert_int_equal(close(fd), 0);
    }

    /* Not required and no .sig: no check, nothing copied. A .sig next to it:
     * the check is called with its text. */
    /* (Its swap writes a scratch file: b itself is mapped by the first load.) */
    char scratch[256];
    assert_non_null(tu_path(scratch, sizeof scratch, tmp, "scratch"));
    struct swap_check none = {
        .path = scratch, .other = other, .other_len = other_len, .in_place = 1};
    rp__os_dl *dl = NULL;
    assert_int_equal(
        rp__os_dl_open_checked(b, 0, 0, 1024, swap_during_check, &none, &dl, err, sizeof err), 0);
    assert_int_equal(none.calls, 0);
    rp__os_dl_forget(dl);
    assert_non_null(tu_path(sig, sizeof sig, tmp, "p/b.so.sig"));
    assert_int_equal(tu_write(sig, "anything\n"), 0);
    assert_int_equal(chmod(sig, 0644), 0);
    assert_int_equal(
        rp__os_dl_open_checked(b, 0, 0, 1024, swap_during_check, &none, &dl, err, sizeof err), 0);
    assert_int_equal(none.calls, 1);
    assert_true(none.saw_sig);
    free(none.seen);
    rp__os_dl_forget(dl);
    /* A .sig others can write, a .sig that is a link, one too large. */
    assert_int_equal(chmod(sig, 0666), 0);
    snprintf(want, sizeof want, "%s: writable by others (mode 0666)", sig);
    expect_refusal(
        rp__os_dl_open_checked(b, 0, 0, 1024, swap_during_check, &none, &dl, err, sizeof err),
        RP_ERR_PERM, err, want);
    assert_int_equal(unlink(sig), 0);
    assert_int_equal(symlink(a, sig), 0);
    snprintf(want, sizeof want, "%s: a symbolic link; expected a regular file", sig);
    expect_refusal(
        rp__os_dl_open_checked(b, 0, 0, 1024, swap_during_check, &none, &dl, err, sizeof err),
        RP_ERR_PERM, err, want);
    assert_int_equal(unlink(sig), 0);
    assert_int_equal(tu_write(sig, "0123456789abcdef\n"), 0);
    assert_int_equal(chmod(sig, 0644), 0);
    snprintf(want, sizeof want, "%s: larger than 8 bytes; not a signature file", sig);
    expect_refusal(
        rp__os_dl_open_checked(b, 0, 0, 8, swap_during_check, &none, &dl, err, sizeof err),
        RP_ERR_RANGE, err, want);
    assert_int_equal(none.calls, 1);
    free(orig);
    free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_folder_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_private_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dl_open_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dl_open_checked_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_handle_survives_swap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_handle_rules, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
