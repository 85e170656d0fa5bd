/*
 * tests/unit/test_yara_pack.c - the project's own YARA rules
 * (config/rules/yara/) on real libyara: every file compiles through the
 * plugin's loader (plugins/detector_yara/rules.c) with no warning (no rule
 * libyara calls slow), the rule count and each rule's meta and tags; each
 * rule matches its sample and only it, and its near miss matches nothing;
 * and no rule matches any program or library of this machine (/usr/bin,
 * /usr/lib/x86_64-linux-gnu, bounded).
 *
 * Samples that anti-virus software flags (the EICAR string, web shells) are
 * built here from pieces, so that no file of the project holds them whole;
 * UPX-packed ELF files are built here in UPX's layout (see build_upx); the
 * text samples are in tests/data/yara/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rules.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <yara.h>

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PACK_DIR RP_SOURCE_DIR "/config/rules/yara"
#define DATA_DIR RP_SOURCE_DIR "/tests/data/yara"

/* The rules of the pack; the count is checked so that a rule file that
 * stops defining a rule (or one added without a test here) is noticed. */
static const char *const pack_rules[] = {
    "Rampart_EICAR_Test_File",           "Rampart_Packer_UPX_ELF",
    "Rampart_Miner_XMRig_Config",        "Rampart_Webshell_PHP_Request_Exec",
    "Rampart_Webshell_JSP_Request_Exec", "Rampart_Packer_Ezuri_ELF",
};
#define PACK_RULES (sizeof(pack_rules) / sizeof(pack_rules[0]))
#define PACK_FILES 4u

/* The false-positive sweep's bounds. */
#define SWEEP_FILES_MAX 6000u
#define SWEEP_FILE_MAX  (4u * 1024u * 1024u)
#define SWEEP_DEPTH_MAX 4

struct fx {
    struct dy_rules *rules;
    char tmp[128];
};

static void report(void *ctx, const struct dy_file_report *rep)
{
    unsigned *warned = ctx;
    if (rep->status != DY_ST_COMPILED)
        print_message("%s: %s %s line %u: %s\n", rep->relpath, dy_status_name(rep->status),
                      dy_reason_name(rep->reason), rep->line, rep->msg);
    for (uint32_t i = 0; i < rep->n_warnings; i++) {
        print_message("%s line %u: rule %s: warning: %s\n", rep->relpath, rep->warnings[i].line,
                      rep->warnings[i].rule, rep->warnings[i].msg);
        (*warned)++;
    }
}

static int setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    assert_int_equal(tu_mkdtemp("yarapack", fx->tmp, sizeof(fx->tmp)), 0);
    const char *dirs[] = {PACK_DIR};
    struct dy_load_opts o = {.dirs = dirs, .n_dirs = 1, .cache_dirfd = -1};
    struct dy_load_stats st;
    char err[256] = "";
    unsigned warned = 0;
    int rc = dy_rules_load(&o, report, &warned, &fx->rules, &st, err, sizeof(err));
    if (rc != 0)
        fail_msg("dy_rules_load(%s): %d %s", PACK_DIR, rc, err);
    /* Every file compiles, nothing is skipped, and libyara warns about
     * nothing (a "slow" string would cost every scan on every machine). */
    assert_int_equal(st.files, PACK_FILES);
    assert_int_equal(st.compiled, PACK_FILES);
    assert_int_equal(st.failed, 0);
    assert_int_equal(st.skipped, 0);
    assert_int_equal(st.warnings, 0);
    assert_int_equal(warned, 0);
    assert_int_equal(st.rules, PACK_RULES);
    assert_int_equal(dy_rules_count(fx->rules), PACK_RULES);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fx *fx = *state;
    dy_rules_destroy(fx->rules);
    tu_rm_rf(fx->tmp);
    free(fx);
    return 0;
}

/* ---- scanning ---- */

struct hits {
    char names[512]; /* matching rules, joined by "," */
    unsigned n;
};

static int on_match(YR_SCAN_CONTEXT *c, int message, void *data, void *user)
{
    (void)c;
    if (message == CALLBACK_MSG_RULE_MATCHING) {
        const YR_RULE *r = data;
        struct hits *h = user;
        size_t len = strlen(h->names);
        snprintf(h->names + len, sizeof(h->names) - len, "%s%s", len ? "," : "", r->identifier);
        h->n++;
    }
    return CALLBACK_CONTINUE;
}

static void scan_mem(const struct fx *fx, const void *buf, size_t len, struct hits *h)
{
    memset(h, 0, sizeof(*h));
    assert_int_equal(yr_rules_scan_mem(dy_rules_yara(fx->rules), buf, len, 0, on_match, h, 10),
                     ERROR_SUCCESS);
}

/* Scans the file at path (read through one descriptor, never followed). */
static int scan_path(const struct fx *fx, const char *path, struct hits *h)
{
    memset(h, 0, sizeof(*h));
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    int rc = yr_rules_scan_fd(dy_rules_yara(fx->rules), fd, 0, on_match, h, 10);
    close(fd);
    return rc;
}

/* The sample matches rule and no other rule. */
static void expect_only(const struct fx *fx, const char *path, const char *rule)
{
    struct hits h;
    assert_int_equal(scan_path(fx, path, &h), ERROR_SUCCESS);
    if (h.n != 1 || strcmp(h.names, rule) != 0)
        fail_msg("%s: expected exactly %s, matched [%s]", path, rule, h.names);
}

static void expect_none(const struct fx *fx, const char *path)
{
    struct hits h;
    assert_int_equal(scan_path(fx, path, &h), ERROR_SUCCESS);
    if (h.n != 0)
        fail_msg("%s: a near miss, expected no match, matched [%s]", path, h.names);
}

static void write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static const char *tmp_path(const struct fx *fx, const char *name, char *buf, size_t len)
{
    const char *p = tu_path(buf, len, fx->tmp, name);
    assert_non_null(p);
    return p;
}

/* ---- the rules' meta and tags ---- */

static void test_meta_and_tags(void **state)
{
    struct fx *fx = *state;
    const YR_RULE *rule;
    unsigned n = 0;
    yr_rules_foreach(dy_rules_yara(fx->rules), rule)
    {
        bool known = false;
        for (size_t i = 0; i < PACK_RULES; i++)
            known |= strcmp(rule->identifier, pack_rules[i]) == 0;
        if (!known)
            fail_msg("rule %s is not in this test's list", rule->identifier);
        const char *desc = NULL, *author = NULL, *ref = NULL, *date = NULL;
        bool severity_ok = false;
        const YR_META *m;
        yr_rule_metas_foreach(rule, m)
        {
            if (strcmp(m->identifier, "description") == 0 && m->type == META_TYPE_STRING)
                desc = m->string;
            else if (strcmp(m->identifier, "author") == 0 && m->type == META_TYPE_STRING)
                author = m->string;
            else if (strcmp(m->identifier, "reference") == 0 && m->type == META_TYPE_STRING)
                ref = m->string;
            else if (strcmp(m->identifier, "date") == 0 && m->type == META_TYPE_STRING)
                date = m->string;
            else if (strcmp(m->identifier, "severity") == 0) {
                if (m->type == META_TYPE_INTEGER)
                    severity_ok = m->integer >= 0 && m->integer <= 100;
                else if (m->type == META_TYPE_STRING)
                    severity_ok =
                        strcmp(m->string, "low") == 0 || strcmp(m->string, "medium") == 0 ||
                        strcmp(m->string, "high") == 0 || strcmp(m->string, "critical") == 0;
            }
        }
        if (!desc || strlen(desc) < 16)
            fail_msg("%s: no description", rule->identifier);
        if (!author || strcmp(author, "Rampart project") != 0)
            fail_msg("%s: author must be \"Rampart project\"", rule->identifier);
        if (!ref || strncmp(ref, "https://", 8) != 0)
            fail_msg("%s: reference must be an https URL", rule->identifier);
        unsigned y = 0, mo = 0, d = 0;
        if (!date || strlen(date) != 10 || sscanf(date, "%4u-%2u-%2u", &y, &mo, &d) != 3 ||
            y < 2020 || mo < 1 || mo > 12 || d < 1 || d > 31)
            fail_msg("%s: date must be YYYY-MM-DD", rule->identifier);
        if (!severity_ok)
            fail_msg("%s: severity must be low/medium/high/critical or 0..100", rule->identifier);
        const char *tag;
        unsigned tags = 0;
        yr_rule_tags_foreach(rule, tag)
        {
            tags++;
        }
        if (tags == 0)
            fail_msg("%s: no tags", rule->identifier);
        n++;
    }
    assert_int_equal(n, PACK_RULES);
}

/* ---- EICAR ---- */

/* The EICAR string, built from pieces so that no file of the project holds
 * it whole (anti-virus software would flag the file). */
static size_t eicar(char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s%s%s%s", "X5O!P%@AP[4\\PZX5", "4(P^)7CC)7}$EIC",
                     "AR-STANDARD-ANTIVIRUS-TES", "T-FILE!$H+H*");
    assert_int_equal(n, 68);
    return (size_t)n;
}

static void test_eicar(void **state)
{
    struct fx *fx = *state;
    char s[80], buf[256], p[256];
    size_t n = eicar(s, sizeof(s));

    write_bytes(tmp_path(fx, "eicar.com", p, sizeof(p)), s, n);
    expect_only(fx, p, "Rampart_EICAR_Test_File");
    /* Trailing white space is allowed by EICAR's definition. */
    int m = snprintf(buf, sizeof(buf), "%s\r\n \t\n", s);
    write_bytes(tmp_path(fx, "eicar-crlf.txt", p, sizeof(p)), buf, (size_t)m);
    expect_only(fx, p, "Rampart_EICAR_Test_File");

    /* Near misses: the string quoted inside a document, and followed by
     * other text; neither is the test file. */
    m = snprintf(buf, sizeof(buf), "The test string is %s, see eicar.org.\n", s);
    write_bytes(tmp_path(fx, "eicar-quoted.txt", p, sizeof(p)), buf, (size_t)m);
    expect_none(fx, p);
    m = snprintf(buf, sizeof(buf), "%s and more text\n", s);
    write_bytes(tmp_path(fx, "eicar-more.txt", p, sizeof(p)), buf, (size_t)m);
    expect_none(fx, p);
}

/* ---- UPX ---- */

/* UPX's records (github.com/upx/upx src/p_unix.h, src/packhead.cpp). */
struct upx_l_info {
    uint32_t l_checksum;
    char l_magic[4]; /* "UPX!" */
    uint16_t l_lsize;
    uint8_t l_version, l_format;
};
struct upx_p_info {
    uint32_t p_progid, p_filesize, p_blocksize;
};
#define UPX_F_LINUX_ELF64_AMD64 22

enum upx_shape {
    UPX_EXEC,        /* a packed executable as UPX 4 writes it */
    UPX_LOPPED,      /* the same with its trailing PackHeader cut off */
    UPX_SHLIB,       /* l_info further in (a packed shared library) */
    UPX_STRINGS_ONLY /* a real program that merely holds UPX's strings */
};

/* UPX's identity strings (src/packer.cpp, getIdentstr). */
static const char upx_ident[] =
    "\n\0$Info: This file is packed with the UPX executable packer http://upx.sf.net $\n\0"
    "$Id: UPX 4.23 Copyright (C) 1996-2024 the UPX Team. All Rights Reserved. $\n";

/* Builds a file laid out as UPX lays out a packed x86-64 ELF executable
 * (src/p_lx_elf.cpp, src/p_unix.cpp): the ELF header and three program
 * headers (two PT_LOAD and PT_GNU_STACK), l_info (magic "UPX!") and p_info
 * right after them, b_info and the compressed blocks (random bytes here),
 * the loader holding UPX's identity string, then the PackHeader (magic
 * "UPX!", version, format, method, level, checksums and sizes: 32 bytes)
 * and the 4-byte offset of l_info. Debian 12 has no upx package, so the
 * test cannot run the packer itself. */
static void build_upx(const char *path, enum upx_shape shape)
{
    size_t cap = 64 * 1024, len = 0;
    uint8_t *b = calloc(1, cap);
    assert_non_null(b);
    uint32_t rnd = 0x12345678u;

    size_t linfo_off = sizeof(Elf64_Ehdr) + 3 * sizeof(Elf64_Phdr);
    if (shape == UPX_SHLIB)
        linfo_off = 0x2400; /* past the text UPX leaves unpacked */
    Elf64_Ehdr eh = {0};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_ident[EI_OSABI] = ELFOSABI_LINUX;
    eh.e_type = shape == UPX_SHLIB ? ET_DYN : ET_EXEC;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_entry = 0x400000 + 0x3000;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 3;
    memcpy(b, &eh, sizeof(eh));
    len = sizeof(eh);
    Elf64_Phdr ph[3] = {
        {.p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_vaddr = 0x400000, .p_align = 0x1000},
        {.p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_vaddr = 0x600000, .p_align = 0x1000},
        {.p_type = PT_GNU_STACK, .p_flags = PF_R | PF_W, .p_align = 16},
    };
    memcpy(b + len, ph, sizeof(ph));
    len += sizeof(ph);
    /* A shared library keeps its first pages as they were: code-like bytes. */
    while (len < linfo_off) {
        rnd = rnd * 1103515245u + 12345u;
        b[len++] = (uint8_t)(rnd >> 16);
    }

    struct upx_l_info li = {.l_checksum = 0x5a5a1234u,
                            .l_lsize = 0x1f00,
                            .l_version = 14,
                            .l_format = UPX_F_LINUX_ELF64_AMD64};
    memcpy(li.l_magic, "UPX!", 4);
    struct upx_p_info pi = {.p_progid = 0, .p_filesize = 40960, .p_blocksize = 40960};
    memcpy(b + len, &li, sizeof(li));
    len += sizeof(li);
    memcpy(b + len, &pi, sizeof(pi));
    len += sizeof(pi);
    /* b_info (sz_unc, sz_cpr, method 14 = LZMA, filter 0x49) and the block. */
    uint32_t bi[3] = {40960, 16384, 0x0000490eu};
    memcpy(b + len, bi, sizeof(bi));
    len += sizeof(bi);
    for (size_t i = 0; i < 16384; i++) {
        rnd = rnd * 1103515245u + 12345u;
        b[len++] = (uint8_t)(rnd >> 16);
    }
    memcpy(b + len, upx_ident, sizeof(upx_ident) - 1);
    len += sizeof(upx_ident) - 1;
    for (size_t i = 0; i < 3000; i++) { /* the rest of the loader */
        rnd = rnd * 1103515245u + 12345u;
        b[len++] = (uint8_t)(rnd >> 16);
    }
    if (shape != UPX_LOPPED) {
        uint8_t phd[32] = {'U', 'P', 'X', '!', 14, UPX_F_LINUX_ELF64_AMD64, 14, 8};
        for (size_t i = 8; i < 31; i++) {
            rnd = rnd * 1103515245u + 12345u;
            phd[i] = (uint8_t)(rnd >> 16);
        }
        memcpy(b + len, phd, sizeof(phd));
        len += sizeof(phd);
        uint32_t overlay = (uint32_t)(linfo_off + sizeof(li));
        memcpy(b + len, &overlay, 4);
        len += 4;
    }
    assert_true(len <= cap);
    write_bytes(path, b, len);
    free(b);
}

/* Copies a real program of the machine to path, and appends extra. */
static void copy_program(const char *path, const void *extra, size_t extra_len)
{
    char *src = NULL;
    const char *cands[] = {"/usr/bin/true", "/bin/true", "/usr/bin/env"};
    for (size_t i = 0; i < 3 && !src; i++)
        if (access(cands[i], R_OK) == 0)
            src = strdup(cands[i]);
    assert_non_null(src);
    FILE *in = fopen(src, "rb");
    assert_non_null(in);
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    if (extra_len)
        assert_int_equal(fwrite(extra, 1, extra_len, out), extra_len);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    free(src);
}

static void test_upx(void **state)
{
    struct fx *fx = *state;
    char p[256];
    build_upx(tmp_path(fx, "packed", p, sizeof(p)), UPX_EXEC);
    expect_only(fx, p, "Rampart_Packer_UPX_ELF");
    /* Found by l_info alone when the PackHeader was cut off (as some
     * malware does to stop `upx -d`) ... */
    build_upx(tmp_path(fx, "packed-lopped", p, sizeof(p)), UPX_LOPPED);
    expect_only(fx, p, "Rampart_Packer_UPX_ELF");
    /* ... and by the PackHeader with the identity string when l_info is
     * not right after the program headers (a packed shared library). */
    build_upx(tmp_path(fx, "packed-shlib", p, sizeof(p)), UPX_SHLIB);
    expect_only(fx, p, "Rampart_Packer_UPX_ELF");

    /* The unpacked program. */
    copy_program(tmp_path(fx, "plain", p, sizeof(p)), NULL, 0);
    expect_none(fx, p);
    /* Near miss: a real program that holds UPX's magic and identity string
     * in its data (a tool that knows about UPX), not where UPX puts them. */
    uint8_t extra[512] = {0};
    memcpy(extra, "UPX!", 4);
    memcpy(extra + 8, upx_ident, sizeof(upx_ident) - 1);
    copy_program(tmp_path(fx, "knows-upx", p, sizeof(p)), extra, sizeof(extra));
    expect_none(fx, p);
    /* Near miss: UPX's markers in place, but not an ELF file. */
    size_t n = 8192;
    uint8_t *t = calloc(1, n);
    assert_non_null(t);
    memcpy(t + 232 + 4, "UPX!", 4);
    memcpy(t + 400, upx_ident, sizeof(upx_ident) - 1);
    memcpy(t + n - 36, "UPX!", 4);
    write_bytes(tmp_path(fx, "not-elf", p, sizeof(p)), t, n);
    free(t);
    expect_none(fx, p);

    /* Where the packer is installed (it is not in Debian 12), a program it
     * really packed must match as well. */
    const char *upx = access("/usr/bin/upx", X_OK) == 0         ? "/usr/bin/upx"
                      : access("/usr/local/bin/upx", X_OK) == 0 ? "/usr/local/bin/upx"
                                                                : NULL;
    if (!upx) {
        print_message("upx is not installed: UPX's layout checked on built files only\n");
        return;
    }
    char out[256];
    copy_program(tmp_path(fx, "real-plain", p, sizeof(p)), NULL, 0);
    tmp_path(fx, "real-packed", out, sizeof(out));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) {
            dup2(dn, 1);
            dup2(dn, 2);
        }
        execl(upx, upx, "-q", "-o", out, p, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    expect_only(fx, out, "Rampart_Packer_UPX_ELF");
}

/* ---- Ezuri ---- */

/* The stub of the Ezuri crypter is a Go program (github.com/guitmz/ezuri,
 * stub/main.go); a Go binary keeps its function names in its function table
 * (NUL-terminated in funcnametab) and its string constants in its data. No
 * Go compiler is needed here: the names are appended to a real ELF program
 * as they would sit in the stub. */
static void test_ezuri(void **state)
{
    struct fx *fx = *state;
    char p[256];
    static const char stub[] = "runtime.main\0main.runFromMemory\0main.aesDec\0main.main\0"
                               "crypto/aes.NewCipher\0/dev/null/proc/self/fd/%d";
    copy_program(tmp_path(fx, "ezuri", p, sizeof(p)), stub, sizeof(stub));
    expect_only(fx, p, "Rampart_Packer_Ezuri_ELF");

    /* Near miss: a Go program with a function named aesDec that opens
     * /proc/self/fd (ordinary), without the in-memory runner. */
    static const char near[] = "runtime.main\0main.aesDec\0main.main\0/proc/self/fd/%d";
    copy_program(tmp_path(fx, "go-aes", p, sizeof(p)), near, sizeof(near));
    expect_none(fx, p);
    /* Near miss: the stub's source (not an ELF file). */
    static const char src[] = "package main\nfunc runFromMemory(procName string, b []byte) {}\n"
                              "// main.runFromMemory main.aesDec /proc/self/fd/%d\n";
    write_bytes(tmp_path(fx, "main.go", p, sizeof(p)), src, sizeof(src) - 1);
    expect_none(fx, p);
}

/* ---- coin miners ---- */

static void test_miner(void **state)
{
    struct fx *fx = *state;
    expect_only(fx, DATA_DIR "/miner_config.json", "Rampart_Miner_XMRig_Config");
    expect_only(fx, DATA_DIR "/miner_launch.sh", "Rampart_Miner_XMRig_Config");
    expect_none(fx, DATA_DIR "/miner_near_miss.txt");
    /* One word is never enough: a document naming xmrig, or one option. */
    struct hits h;
    const char *once = "We removed xmrig from the host; it used --donate-level 1.\n";
    scan_mem(fx, once, strlen(once), &h);
    assert_int_equal(h.n, 0);
}

/* ---- web shells ---- */

/* Web shells are built from pieces (anti-virus software flags them). */
static void test_webshell_php(void **state)
{
    struct fx *fx = *state;
    char p[256], buf[512];
    int n = snprintf(buf, sizeof(buf), "<?php @%s(%s(%s['%s'])); ?>\n", "eval", "base64_decode",
                     "$_POST", "z0");
    write_bytes(tmp_path(fx, "shell1.php", p, sizeof(p)), buf, (size_t)n);
    expect_only(fx, p, "Rampart_Webshell_PHP_Request_Exec");
    n = snprintf(buf, sizeof(buf), "<?php if (isset($_GET['c'])) { echo '<pre>'; %s(%s['c']); }\n",
                 "passthru", "$_GET");
    write_bytes(tmp_path(fx, "shell2.php", p, sizeof(p)), buf, (size_t)n);
    expect_only(fx, p, "Rampart_Webshell_PHP_Request_Exec");
    n = snprintf(buf, sizeof(buf), "<?php\n$o = %s( %s[\"cmd\"] );\nprint $o;\n", "shell_exec",
                 "$_REQUEST");
    write_bytes(tmp_path(fx, "shell3.php", p, sizeof(p)), buf, (size_t)n);
    expect_only(fx, p, "Rampart_Webshell_PHP_Request_Exec");

    /* Near miss: the same functions on constants, and request input used
     * elsewhere in the same page. */
    n = snprintf(buf, sizeof(buf),
                 "<?php\n%s(%s('ZWNobyAnaGknOw=='));\n$up = %s('uptime');\n"
                 "echo htmlspecialchars($_GET['q']);\n%s('ls', $out);\n",
                 "eval", "base64_decode", "shell_exec", "exec");
    write_bytes(tmp_path(fx, "benign.php", p, sizeof(p)), buf, (size_t)n);
    expect_none(fx, p);
}

static void test_webshell_jsp(void **state)
{
    struct fx *fx = *state;
    char p[256], buf[512];
    int n = snprintf(buf, sizeof(buf),
                     "<%%@ page import=\"java.io.*\" %%>\n<%% Process pr = Runtime.getRuntime()"
                     ".%s(%s.getParameter(\"cmd\")); %%>\n",
                     "exec", "request");
    write_bytes(tmp_path(fx, "shell.jsp", p, sizeof(p)), buf, (size_t)n);
    expect_only(fx, p, "Rampart_Webshell_JSP_Request_Exec");
    n = snprintf(buf, sizeof(buf),
                 "<%% new %s(new String[]{\"/bin/sh\", \"-c\", %s.getParameter(\"c\")}).start(); "
                 "%%>\n",
                 "ProcessBuilder", "request");
    write_bytes(tmp_path(fx, "shell2.jsp", p, sizeof(p)), buf, (size_t)n);
    expect_only(fx, p, "Rampart_Webshell_JSP_Request_Exec");

    /* Near miss: a page that runs a fixed command and prints a parameter. */
    n = snprintf(buf, sizeof(buf),
                 "<%% Process pr = Runtime.getRuntime().%s(\"uptime\");\n"
                 "String who = %s.getParameter(\"name\"); %%>\n",
                 "exec", "request");
    write_bytes(tmp_path(fx, "benign.jsp", p, sizeof(p)), buf, (size_t)n);
    expect_none(fx, p);
}

/* ---- no match on the machine's own programs and libraries ---- */

struct sweep {
    const struct fx *fx;
    unsigned files, skipped, errors, matched;
    uint64_t bytes;
};

static void sweep_dir(struct sweep *s, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && s->files < SWEEP_FILES_MAX) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[4096];
        if (!tu_path(p, sizeof(p), dir, e->d_name))
            continue;
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < SWEEP_DEPTH_MAX)
                sweep_dir(s, p, depth + 1);
            continue;
        }
        if (!S_ISREG(st.st_mode) || st.st_size > (off_t)SWEEP_FILE_MAX) {
            s->skipped++;
            continue;
        }
        struct hits h;
        int rc = scan_path(s->fx, p, &h);
        if (rc != ERROR_SUCCESS) {
            s->errors++;
            continue;
        }
        s->files++;
        s->bytes += (uint64_t)st.st_size;
        if (h.n) {
            print_message("false positive: %s matched [%s]\n", p, h.names);
            s->matched++;
        }
    }
    closedir(d);
}

static void test_no_match_on_system_files(void **state)
{
    struct fx *fx = *state;
    struct sweep s = {.fx = fx};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sweep_dir(&s, "/usr/bin", SWEEP_DEPTH_MAX); /* its files, not below */
    sweep_dir(&s, "/usr/lib/x86_64-linux-gnu", 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("swept %u files, %.1f MB in %.1f s (%u skipped: not regular or over %u MB, %u "
                  "unreadable)\n",
                  s.files, (double)s.bytes / 1e6, secs, s.skipped, SWEEP_FILE_MAX >> 20, s.errors);
    /* The sweep must have looked at real programs, or it proves nothing. */
    assert_true(s.files >= 200);
    assert_int_equal(s.matched, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_meta_and_tags, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eicar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ezuri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_miner, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webshell_php, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webshell_jsp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_match_on_system_files, setup, teardown),
    };
    return tu_run_tests(tests, NULL, NULL, argc, argv);
}
