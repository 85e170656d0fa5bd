/*
 * tests/unit/test_plugin_sig.c - signed plugins (core/runtime/plugin_sig.c):
 * the signature file's strict parser (every line, its order, sizes, hex case,
 * canonical base64, the end of the file), keys (only EC P-256; the key id is
 * the SHA-256 of the public key's DER, as `openssl pkey -pubin -outform DER |
 * sha256sum` gives), key files checked like plugin files, and the verify
 * function: a valid signature, one byte changed, an unknown key, a key id
 * borrowed from a trusted key by another key's signature.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "runtime/plugin_sig.h"
#include "testutil.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Made with openssl ecparam -name prime256v1 -genkey -noout; a.pub with
 * openssl ec -pubout. */
static const char a_priv[] = "-----BEGIN EC PRIVATE KEY-----\n"
                             "MHcCAQEEIFPGL1Mj7/T/Q2U4Nea/r2R06Q16RGZHszn20wq8/3xaoAoGCCqGSM49\n"
                             "AwEHoUQDQgAEuXa0X+1+bAfCcQ8/wvAHB7u0Gx9PqGrqeaWP0Fut2IK8kyNtl0k5\n"
                             "dADu56nbygXpF9jNM4lV49EzhNujj5a9fw==\n"
                             "-----END EC PRIVATE KEY-----\n";
static const char a_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEuXa0X+1+bAfCcQ8/wvAHB7u0Gx9P\n"
                            "qGrqeaWP0Fut2IK8kyNtl0k5dADu56nbygXpF9jNM4lV49EzhNujj5a9fw==\n"
                            "-----END PUBLIC KEY-----\n";
/* openssl pkey -pubin -in a.pub -outform DER | sha256sum */
static const char a_id[] = "0933e24dc98a744a7934af5d6b0d4713c8389a9ded95f772684bbbdcae8ae31f";
static const char b_priv[] = "-----BEGIN EC PRIVATE KEY-----\n"
                             "MHcCAQEEIFSiVJ2alpCVpbBnk6yU2fbVgVQeF5Sq1P9FXJHA7waXoAoGCCqGSM49\n"
                             "AwEHoUQDQgAES+z7k174Fnn3uzp2uG2Ifjk1CO1N1bTcEHj/7TfnSxhy0DME6s5r\n"
                             "QcNG+/0vc7wwdoRBdXHBHZYkZB+rFi7UtQ==\n"
                             "-----END EC PRIVATE KEY-----\n";
/* P-384 and Ed25519: not what the agent takes. */
static const char c384_priv[] = "-----BEGIN EC PRIVATE KEY-----\n"
                                "MIGkAgEBBDCSVZbLRqhnwQJIlZXinvFs8dKzLErdn5ytTRgX2I4CvPGD0SdhEShZ\n"
                                "ZORlKVAJ4aCgBwYFK4EEACKhZANiAASlxM2bo2gADLihNGN7OHcll1haw33ZIlnK\n"
                                "86DSqCImkhJePBeTrL58lyHt530ljZH4dqSyKXDCt9OiPylCI6jsDiMc2moEdUpT\n"
                                "HuWRc+Izr1o925OuAJwIAFQLQVNZqs0=\n"
                                "-----END EC PRIVATE KEY-----\n";
static const char c384_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                               "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEpcTNm6NoAAy4oTRjezh3JZdYWsN92SJZ\n"
                               "yvOg0qgiJpISXjwXk6y+fJch7ed9JY2R+HaksilwwrfToj8pQiOo7A4jHNpqBHVK\n"
                               "Ux7lkXPiM69aPduTrgCcCABUC0FTWarN\n"
                               "-----END PUBLIC KEY-----\n";
static const char ed_pub[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MCowBQYDK2VwAyEAD5azLi/Yercceb+gPjspk+qpR8rvvLcaI2LEayP7M/g=\n"
                             "-----END PUBLIC KEY-----\n";

static const char payload[] = "\177ELF pretend plugin bytes, long enough to be a file";

static const char good_text[] =
    "rampart-plugin-signature 1\n"
    "key-id 0933e24dc98a744a7934af5d6b0d4713c8389a9ded95f772684bbbdcae8ae31f\n"
    "file-sha256 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
    "signature "
    "MEUCIAMxujQg5GkhFhe9G7yKoKYhmfwIByE4c07mLvx+tC5yAiEAv60a6f6Nyue6ZbrUpLnZc4GWpVrWAh1be"
    "44ukD9BJzM=\n";

static rp__sig_key *key_of(const char *pem)
{
    rp__sig_key *k = NULL;
    char err[256] = "";
    if (rp__sig_key_parse(pem, strlen(pem), &k, err, sizeof err) != 0)
        fail_msg("key refused: %s", err);
    return k;
}

static void expect_parse_error(const char *text, size_t len, int want_rc, const char *want)
{
    rp__sig s;
    char err[512] = "";
    int rc = rp__sig_parse(text, len, &s, err, sizeof err);
    if (rc != want_rc || !strstr(err, want))
        fail_msg("parse of [%.*s]: got %d \"%s\"; wanted %d with \"%s\"", (int)len, text, rc, err,
                 want_rc, want);
}

static void test_parse_and_format(void **state)
{
    (void)state;
    rp__sig s;
    char err[512] = "", out[RP__SIG_FILE_MAX], hex[65];
    size_t n = 0;
    assert_int_equal(rp__sig_parse(good_text, strlen(good_text), &s, err, sizeof err), 0);
    rp__sig_hex(s.key_id, 64, hex);
    assert_string_equal(hex, a_id);
    assert_int_equal(s.file_sha256[31], 0x1f);
    assert_int_equal(s.der_len, 71);
    assert_int_equal(s.der[0], 0x30);
    /* Writing it back gives the same text, byte for byte. */
    assert_int_equal(rp__sig_format(&s, out, sizeof out, &n), 0);
    assert_int_equal(n, strlen(good_text));
    assert_string_equal(out, good_text);
    /* Too small a buffer is refused, not cut. */
    assert_int_equal(rp__sig_format(&s, out, 100, &n), RP_ERR_RANGE);
}

/* good_text with line k (1-4) replaced by repl (NULL: removed). */
static const char *with_line(int k, const char *repl, char *buf, size_t len)
{
    const char *p = good_text;
    size_t used = 0;
    for (int i = 1; i <= 4; i++) {
        const char *nl = strchr(p, '\n');
        const char *line = i == k ? repl : p;
        size_t ll = i == k ? (repl ? strlen(repl) : 0) : (size_t)(nl - p + 1);
        assert_true(used + ll < len);
        if (line)
            memcpy(buf + used, line, ll);
        used += ll;
        p = nl + 1;
    }
    buf[used] = '\0';
    return buf;
}

/* Arguments are evaluated in no set order: the text is made first. */
static void expect_line_error(int k, const char *repl, int want_rc, const char *want)
{
    char b[2048];
    with_line(k, repl, b, sizeof b);
    expect_parse_error(b, strlen(b), want_rc, want);
}

static void test_parse_refusals(void **state)
{
    (void)state;
    char b[2048];
    const char *hex64 = "0933e24dc98a744a7934af5d6b0d4713c8389a9ded95f772684bbbdcae8ae31f";
    expect_parse_error("", 0, RP_ERR_INVAL, "line 1: expected \"rampart-plugin-signature 1\"");
    expect_line_error(1, "rampart-plugin-signature 2\n", RP_ERR_INVAL,
                      "line 1: unknown format version");
    expect_line_error(1, "rampart-plugin-signature 1 \n", RP_ERR_INVAL,
                      "line 1: unknown format version");
    expect_line_error(1, "RAMPART-plugin-signature 1\n", RP_ERR_INVAL, "line 1: expected");
    /* Upper-case hex, a short id, a missing or doubled space, a wrong label. */
    snprintf(b, sizeof b, "key-id %s\n", hex64);
    b[7] = 'A';
    char line[256];
    memcpy(line, b, strlen(b) + 1);
    expect_line_error(2, line, RP_ERR_INVAL,
                      "line 2: expected \"key-id \" and 64 lower-case hex digits");
    expect_line_error(2, "key-id 0933e24d\n", RP_ERR_INVAL, "line 2:");
    snprintf(line, sizeof line, "key-id  %s\n", hex64);
    expect_line_error(2, line, RP_ERR_INVAL, "line 2:");
    snprintf(line, sizeof line, "keyid %s\n", hex64);
    expect_line_error(2, line, RP_ERR_INVAL, "line 2:");
    snprintf(line, sizeof line, "key-id %s\r\n", hex64);
    expect_line_error(2, line, RP_ERR_INVAL, "line 2:");
    expect_line_error(3, NULL, RP_ERR_INVAL, "line 3: expected \"file-sha256 \"");
    /* Lines out of order. */
    snprintf(line, sizeof line, "file-sha256 %s\n", hex64);
    expect_line_error(2, line, RP_ERR_INVAL, "line 2:");
    /* Base64: not padded, bad characters, padding inside, line breaks,
     * non-canonical last character, too long, too short, empty. */
    expect_line_error(4, "signature MEUCIQ\n", RP_ERR_INVAL, "line 4: expected \"signature \"");
    expect_line_error(4, "signature MEUC*Q==\n", RP_ERR_INVAL, "line 4:");
    expect_line_error(4, "signature ME=CIQDd\n", RP_ERR_INVAL, "line 4:");
    expect_line_error(4, "signature MEUCIQDd8Vb2\nyZ0Jq5dP\n", RP_ERR_INVAL,
                      "line 5: expected the end of the file");
    /* "b=" leaves two bits set that no encoder writes. */
    expect_line_error(4, "signature MEUCIQDd8Vb=\n", RP_ERR_INVAL, "line 4:");
    char big[300] = "signature ";
    memset(big + 10, 'A', 112);
    memcpy(big + 122, "\n", 2);
    expect_line_error(4, big, RP_ERR_INVAL, "line 4:");
    expect_line_error(4, "signature AAAA\n", RP_ERR_INVAL, "line 4:");
    expect_line_error(4, "signature \n", RP_ERR_INVAL, "line 4:");
    /* No newline at the end, something after the last line, a NUL inside. */
    size_t gl = strlen(good_text);
    expect_parse_error(good_text, gl - 1, RP_ERR_INVAL, "line 4:");
    snprintf(b, sizeof b, "%s\n", good_text);
    expect_parse_error(b, strlen(b), RP_ERR_INVAL, "line 5: expected the end of the file");
    memcpy(b, good_text, gl + 1);
    b[10] = '\0';
    expect_parse_error(b, gl, RP_ERR_INVAL, "line 1:");
    /* Larger than the cap: refused before reading. */
    char *huge = calloc(1, RP__SIG_FILE_MAX + 2);
    assert_non_null(huge);
    memcpy(huge, good_text, gl);
    memset(huge + gl, '\n', RP__SIG_FILE_MAX + 1 - gl);
    expect_parse_error(huge, RP__SIG_FILE_MAX + 1, RP_ERR_RANGE, "a signature file has at most");
    free(huge);
}

static void test_keys(void **state)
{
    (void)state;
    rp__sig_key *k = key_of(a_pub);
    char hex[65];
    rp__sig_hex(rp__sig_key_id(k), 64, hex);
    assert_string_equal(hex, a_id);
    rp__sig_key_free(k);
    rp__sig_key_free(NULL);

    struct {
        const char *pem, *want;
    } bad[] = {
        {c384_pub, "an EC key on curve secp384r1; expected an EC key on P-256"},
        {ed_pub, "not a public key"},
        {"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a public key"},
        {a_priv, "not a public key"},
        {"", "not a public key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[256] = "";
        k = NULL;
        assert_int_equal(rp__sig_key_parse(bad[i].pem, strlen(bad[i].pem), &k, err, sizeof err),
                         RP_ERR_INVAL);
        assert_null(k);
        if (!strstr(err, bad[i].want))
            fail_msg("key %zu: got \"%s\", wanted \"%s\"", i, err, bad[i].want);
    }
    /* Signing takes only a P-256 private key too. */
    rp__sig s;
    char err[256] = "";
    assert_int_equal(
        rp__sig_sign(payload, sizeof payload, c384_priv, strlen(c384_priv), &s, err, sizeof err),
        RP_ERR_INVAL);
    assert_non_null(strstr(err, "an EC key on curve secp384r1; expected an EC key on P-256"));
    assert_int_equal(
        rp__sig_sign(payload, sizeof payload, a_pub, strlen(a_pub), &s, err, sizeof err),
        RP_ERR_INVAL);
    assert_non_null(strstr(err, "not a private key"));
}

static void expect_verify(const void *data, size_t len, const rp__sig *s, rp__sig_key *const *keys,
                          size_t nkeys, int want_rc, const char *want)
{
    char err[512] = "";
    const rp__sig_key *signer = NULL;
    int rc = rp__sig_verify(data, len, s, keys, nkeys, &signer, err, sizeof err);
    if (rc != want_rc || !strstr(err, want))
        fail_msg("verify: got %d \"%s\"; wanted %d with \"%s\"", rc, err, want_rc, want);
    if (rc == 0)
        assert_ptr_equal(signer, keys[0]);
}

static void test_sign_and_verify(void **state)
{
    (void)state;
    rp__sig_key *keys[1] = {key_of(a_pub)};
    rp__sig s, t;
    char err[512] = "", text[RP__SIG_FILE_MAX];
    size_t n = 0;
    assert_int_equal(
        rp__sig_sign(payload, sizeof payload, a_priv, strlen(a_priv), &s, err, sizeof err), 0);
    /* Through the file format and back, as the agent reads it. */
    assert_int_equal(rp__sig_format(&s, text, sizeof text, &n), 0);
    assert_int_equal(rp__sig_parse(text, n, &t, err, sizeof err), 0);
    assert_memory_equal(t.key_id, rp__sig_key_id(keys[0]), RP__SIG_ID_LEN);
    expect_verify(payload, sizeof payload, &t, keys, 1, 0, "");

    /* One byte changed after signing. */
    char tampered[sizeof payload];
    memcpy(tampered, payload, sizeof payload);
    tampered[20] ^= 1;
    expect_verify(tampered, sizeof tampered, &t, keys, 1, RP_ERR_PERM,
                  "bad signature: the file changed after it was signed (SHA-256 ");
    /* One byte fewer. */
    expect_verify(payload, sizeof payload - 1, &t, keys, 1, RP_ERR_PERM,
                  "bad signature: the file changed after it was signed");
    /* The signature's own bytes changed: the hash still matches. */
    rp__sig bent = t;
    bent.der[bent.der_len - 1] ^= 1;
    expect_verify(payload, sizeof payload, &bent, keys, 1, RP_ERR_PERM,
                  "bad signature: does not verify with key 0933e24dc98a744a");
    /* No trusted keys, or not this one. */
    expect_verify(payload, sizeof payload, &t, keys, 0, RP_ERR_PERM,
                  "signed by an unknown key 0933e24dc98a744a; trusted: none");
    rp__sig u;
    assert_int_equal(
        rp__sig_sign(payload, sizeof payload, b_priv, strlen(b_priv), &u, err, sizeof err), 0);
    char bid[17];
    rp__sig_hex(u.key_id, 16, bid);
    char want[128];
    snprintf(want, sizeof want, "signed by an unknown key %s; trusted: 0933e24dc98a744a", bid);
    expect_verify(payload, sizeof payload, &u, keys, 1, RP_ERR_PERM, want);
    /* Another key's signature wearing the trusted key's id. */
    memcpy(u.key_id, t.key_id, RP__SIG_ID_LEN);
    expect_verify(payload, sizeof payload, &u, keys, 1, RP_ERR_PERM,
                  "bad signature: does not verify with key 0933e24dc98a744a");
    /* An empty file signs and verifies like any other. */
    assert_int_equal(rp__sig_sign("", 0, a_priv, strlen(a_priv), &s, err, sizeof err), 0);
    expect_verify("", 0, &s, keys, 1, 0, "");
    rp__sig_key_free(keys[0]);
}

static char tmp[64];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp("sig", tmp, sizeof tmp);
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(tmp);
}

static void test_key_files(void **state)
{
    (void)state;
    char path[256], lnk[256], sub[256], err[1024] = "", want[1024];
    assert_non_null(tu_path(path, sizeof path, tmp, "a.pub.pem"));
    assert_int_equal(tu_write(path, a_pub), 0);
    assert_int_equal(chmod(path, 0644), 0);
    rp__sig_key *k = NULL;
    assert_int_equal(rp__sig_key_load(path, &k, err, sizeof err), 0);
    rp__sig_key_free(k);

    /* Writable by others, through a link, missing, in a folder others can
     * write: refused, naming the file. */
    assert_int_equal(chmod(path, 0646), 0);
    snprintf(want, sizeof want, "%s: untrusted file: %s: writable by others (mode 0646)", path,
             path);
    k = NULL;
    assert_int_equal(rp__sig_key_load(path, &k, err, sizeof err), RP_ERR_PERM);
    if (!strstr(err, want))
        fail_msg("got \"%s\", wanted \"%s\"", err, want);
    assert_int_equal(chmod(path, 0644), 0);
    assert_non_null(tu_path(lnk, sizeof lnk, tmp, "link.pem"));
    assert_int_equal(symlink(path, lnk), 0);
    assert_int_equal(rp__sig_key_load(lnk, &k, err, sizeof err), RP_ERR_PERM);
    assert_non_null(strstr(err, "symbolic link"));
    assert_non_null(tu_path(lnk, sizeof lnk, tmp, "none.pem"));
    assert_int_equal(rp__sig_key_load(lnk, &k, err, sizeof err), RP_ERR_PERM);
    snprintf(want, sizeof want, "%s: no such file", lnk);
    assert_string_equal(err, want);
    assert_non_null(tu_path(sub, sizeof sub, tmp, "open"));
    assert_int_equal(mkdir(sub, 0755), 0);
    assert_non_null(tu_path(path, sizeof path, sub, "k.pem"));
    assert_int_equal(tu_write(path, a_pub), 0);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(chmod(sub, 0777), 0);
    assert_int_equal(rp__sig_key_load(path, &k, err, sizeof err), RP_ERR_PERM);
    snprintf(want, sizeof want, "%s: writable by others (mode 0777)", sub);
    if (!strstr(err, want))
        fail_msg("got \"%s\", wanted \"%s\"", err, want);
    /* Not P-256: refused naming the file and what it is. */
    assert_int_equal(chmod(sub, 0755), 0);
    assert_int_equal(tu_write(path, c384_pub), 0);
    assert_int_equal(rp__sig_key_load(path, &k, err, sizeof err), RP_ERR_INVAL);
    snprintf(want, sizeof want, "%s: an EC key on curve secp384r1", path);
    if (!strstr(err, want))
        fail_msg("got \"%s\", wanted \"%s\"", err, want);
    assert_null(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_format),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_sign_and_verify),
        cmocka_unit_test_setup_teardown(test_key_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
