/* core/runtime/plugin_sig.c - signature files, trusted keys, and the
 * ECDSA P-256 check of a plugin's bytes (plugin_sig.h). mbedTLS does the
 * cryptography; the format is parsed here, strictly and within fixed sizes. */
#include "runtime/plugin_sig.h"

#include "os/os_fs.h"

#include <rampart/plugin.h>

#include <mbedtls/base64.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rp__sig_key {
    mbedtls_pk_context pk;
    uint8_t id[RP__SIG_ID_LEN];
};

/* Base64 of at most RP__SIG_DER_MAX bytes. */
#define B64_MAX (((RP__SIG_DER_MAX + 2) / 3) * 4)

void rp__sig_hex(const uint8_t *id, size_t digits, char *out)
{
    static const char hex[] = "0123456789abcdef";
    if (digits > 2 * RP__SIG_ID_LEN)
        digits = 2 * RP__SIG_ID_LEN;
    for (size_t i = 0; i < digits; i++)
        out[i] = hex[(id[i / 2] >> (i % 2 ? 0 : 4)) & 0xf];
    out[digits] = '\0';
}

int rp__sig_sha256(const void *data, size_t len, uint8_t out[RP__SIG_ID_LEN])
{
    return mbedtls_sha256_ret(data, len, out, 0) == 0 ? 0 : RP_ERR_IO;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is not the format's */
}

/* One line of the file: starts at text[*pos], ends at the next "\n", which
 * must be there. *line and *n get it without the "\n". */
static int next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return RP_ERR_INVAL;
    const char *start = text + *pos;
    const char *nl = memchr(start, '\n', len - *pos);
    if (!nl)
        return RP_ERR_INVAL;
    *line = start;
    *n = (size_t)(nl - start);
    *pos += *n + 1;
    return 0;
}

/* "label <64 hex>" into out. */
static int parse_hex_line(const char *line, size_t n, const char *label, uint8_t *out)
{
    size_t ll = strlen(label);
    if (n != ll + 1 + 2 * RP__SIG_ID_LEN || memcmp(line, label, ll) != 0 || line[ll] != ' ')
        return RP_ERR_INVAL;
    const char *h = line + ll + 1;
    for (size_t i = 0; i < RP__SIG_ID_LEN; i++) {
        int hi = hex_digit(h[2 * i]), lo = hex_digit(h[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return RP_ERR_INVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static int b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

/* "signature <base64>": canonical base64 (padded, no line breaks, the one
 * encoding of its bytes) of 8 to RP__SIG_DER_MAX bytes. */
static int parse_sig_line(const char *line, size_t n, rp__sig *out)
{
    static const char label[] = "signature ";
    size_t ll = sizeof label - 1;
    if (n <= ll || memcmp(line, label, ll) != 0)
        return RP_ERR_INVAL;
    const char *b = line + ll;
    size_t bn = n - ll;
    if (bn % 4 != 0 || bn > B64_MAX)
        return RP_ERR_INVAL;
    for (size_t i = 0; i < bn; i++) {
        int pad_ok = i >= bn - 2 && b[i] == '=' && (i == bn - 1 || b[bn - 1] == '=');
        if (!b64_char(b[i]) && !pad_ok)
            return RP_ERR_INVAL;
    }
    size_t got = 0;
    if (mbedtls_base64_decode(out->der, sizeof out->der, &got, (const unsigned char *)b, bn) != 0 ||
        got < 8)
        return RP_ERR_INVAL;
    /* Only the canonical encoding: stray bits in the last character would
     * let two texts stand for one signature. */
    unsigned char again[B64_MAX + 1];
    size_t an = 0;
    if (mbedtls_base64_encode(again, sizeof again, &an, out->der, got) != 0 || an != bn ||
        memcmp(again, b, bn) != 0)
        return RP_ERR_INVAL;
    out->der_len = got;
    return 0;
}

int rp__sig_parse(const char *text, size_t len, rp__sig *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > RP__SIG_FILE_MAX) {
        snprintf(err, errlen, "%zu bytes; a signature file has at most %d", len, RP__SIG_FILE_MAX);
        return RP_ERR_RANGE;
    }
    static const char *const expected[] = {
        "\"" RP__SIG_MAGIC "\"",
        "\"key-id \" and 64 lower-case hex digits",
        "\"file-sha256 \" and 64 lower-case hex digits",
        "\"signature \" and the base64 of a DER signature of at most 80 bytes",
    };
    size_t pos = 0;
    for (int i = 0; i < 4; i++) {
        const char *line = NULL;
        size_t n = 0;
        int rc = next_line(text, len, &pos, &line, &n);
        if (rc == 0) {
            switch (i) {
            case 0:
                if (n != sizeof RP__SIG_MAGIC - 1 || memcmp(line, RP__SIG_MAGIC, n) != 0)
                    rc = RP_ERR_INVAL;
                break;
            case 1:
                rc = parse_hex_line(line, n, "key-id", out->key_id);
                break;
            case 2:
                rc = parse_hex_line(line, n, "file-sha256", out->file_sha256);
                break;
            default:
                rc = parse_sig_line(line, n, out);
                break;
            }
        }
        if (rc != 0) {
            if (i == 0 && len >= 25 && memcmp(text, "rampart-plugin-signature ", 25) == 0)
                snprintf(err, errlen, "line 1: unknown format version; expected %s", expected[0]);
            else
                snprintf(err, errlen, "line %d: expected %s, ended by a newline", i + 1,
                         expected[i]);
            return RP_ERR_INVAL;
        }
    }
    if (pos != len) {
        snprintf(err, errlen, "line 5: expected the end of the file after the signature line");
        return RP_ERR_INVAL;
    }
    return 0;
}

int rp__sig_format(const rp__sig *sig, char *buf, size_t buflen, size_t *outlen)
{
    char kid[2 * RP__SIG_ID_LEN + 1], fh[2 * RP__SIG_ID_LEN + 1];
    unsigned char b64[B64_MAX + 1];
    size_t bn = 0;
    if (sig->der_len == 0 || sig->der_len > sizeof sig->der ||
        mbedtls_base64_encode(b64, sizeof b64, &bn, sig->der, sig->der_len) != 0)
        return RP_ERR_INVAL;
    rp__sig_hex(sig->key_id, sizeof kid - 1, kid);
    rp__sig_hex(sig->file_sha256, sizeof fh - 1, fh);
    int n = snprintf(buf, buflen, "%s\nkey-id %s\nfile-sha256 %s\nsignature %.*s\n", RP__SIG_MAGIC,
                     kid, fh, (int)bn, (const char *)b64);
    if (n < 0 || (size_t)n >= buflen)
        return RP_ERR_RANGE;
    if (outlen)
        *outlen = (size_t)n;
    return 0;
}

/* What a key is when it is not an EC key on P-256, for the refusal. */
static void describe_key(const mbedtls_pk_context *pk, char *out, size_t outlen)
{
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    if (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECKEY_DH || t == MBEDTLS_PK_ECDSA) {
        const mbedtls_ecp_curve_info *ci =
            mbedtls_ecp_curve_info_from_grp_id(mbedtls_pk_ec(*pk)->grp.id);
        snprintf(out, outlen, "an EC key on curve %s", ci ? ci->name : "unknown");
    } else {
        snprintf(out, outlen, "a%s %s key", t == MBEDTLS_PK_RSA ? "n" : "",
                 mbedtls_pk_get_name(pk));
    }
}

static int is_p256(const mbedtls_pk_context *pk)
{
    mbedtls_pk_type_t t = mbedtls_pk_get_type(pk);
    return (t == MBEDTLS_PK_ECKEY || t == MBEDTLS_PK_ECDSA) &&
           mbedtls_pk_ec(*pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

/* The id of a parsed key: SHA-256 of its SubjectPublicKeyInfo DER. */
static int key_id_of(mbedtls_pk_context *pk, uint8_t out[RP__SIG_ID_LEN])
{
    unsigned char der[256];
    int n = mbedtls_pk_write_pubkey_der(pk, der, sizeof der);
    if (n <= 0)
        return RP_ERR_INVAL;
    /* mbedTLS writes at the end of the buffer. */
    return rp__sig_sha256(der + sizeof der - (size_t)n, (size_t)n, out);
}

/* 1 when data[0..len) holds a PEM header. */
static int has_pem(const unsigned char *data, size_t len)
{
    static const char begin[] = "-----BEGIN";
    for (size_t i = 0; i + sizeof begin - 1 <= len; i++)
        if (memcmp(data + i, begin, sizeof begin - 1) == 0)
            return 1;
    return 0;
}

/* mbedTLS reads PEM only from a NUL-terminated buffer whose length counts
 * the NUL; DER as it is. *out is from malloc (caller frees). */
static int terminated(const void *data, size_t len, unsigned char **out, size_t *outlen)
{
    unsigned char *b = malloc(len + 1);
    if (!b)
        return RP_ERR_NOMEM;
    memcpy(b, data, len);
    b[len] = '\0';
    *out = b;
    *outlen = has_pem(b, len) ? len + 1 : len;
    return 0;
}

int rp__sig_key_parse(const void *data, size_t len, rp__sig_key **out, char *err, size_t errlen)
{
    rp__sig_key *k = calloc(1, sizeof *k);
    unsigned char *buf = NULL;
    size_t blen = 0;
    if (!k || terminated(data, len, &buf, &blen) != 0) {
        free(k);
        return RP_ERR_NOMEM;
    }
    mbedtls_pk_init(&k->pk);
    int rc = 0;
    if (mbedtls_pk_parse_public_key(&k->pk, buf, blen) != 0) {
        snprintf(err, errlen,
                 "not a public key (expected a PEM \"PUBLIC KEY\" of an EC key on P-256)");
        rc = RP_ERR_INVAL;
    } else if (!is_p256(&k->pk)) {
        char what[96];
        describe_key(&k->pk, what, sizeof what);
        snprintf(err, errlen, "%s; expected an EC key on P-256 (prime256v1, secp256r1)", what);
        rc = RP_ERR_INVAL;
    } else if ((rc = key_id_of(&k->pk, k->id)) != 0) {
        snprintf(err, errlen, "cannot encode the key");
    }
    free(buf);
    if (rc != 0) {
        rp__sig_key_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int rp__sig_key_load(const char *abs_path, rp__sig_key **out, char *err, size_t errlen)
{
    rp__os_dir *dir = NULL;
    const char *name = NULL;
    char why[512];
    char *data = NULL;
    size_t len = 0;
    int rc = rp__os_dir_open_parent(abs_path, &dir, &name, why, sizeof why);
    if (rc == 0)
        rc = rp__os_dir_read_small(dir, name, RP__SIG_KEY_FILE_MAX, &data, &len, why, sizeof why);
    rp__os_dir_close(dir);
    if (rc != 0) {
        if (rc == RP_ERR_NOTFOUND)
            snprintf(err, errlen, "%s: no such file", abs_path);
        else if (rc == RP_ERR_RANGE)
            snprintf(err, errlen, "%s: larger than %d bytes; not a public key", abs_path,
                     RP__SIG_KEY_FILE_MAX);
        else
            snprintf(err, errlen, "%s: untrusted file: %s", abs_path, why);
        free(data);
        return rc == RP_ERR_NOMEM ? rc : RP_ERR_PERM;
    }
    rc = rp__sig_key_parse(data, len, out, why, sizeof why);
    free(data);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", abs_path, why);
    return rc;
}

const uint8_t *rp__sig_key_id(const rp__sig_key *key)
{
    return key->id;
}

void rp__sig_key_free(rp__sig_key *key)
{
    if (!key)
        return;
    mbedtls_pk_free(&key->pk);
    free(key);
}

int rp__sig_verify(const void *data, size_t len, const rp__sig *sig, rp__sig_key *const *keys,
                   size_t nkeys, const rp__sig_key **signer, char *err, size_t errlen)
{
    char id[RP__SIG_ID_SHOWN + 1];
    rp__sig_hex(sig->key_id, RP__SIG_ID_SHOWN, id);
    rp__sig_key *key = NULL;
    for (size_t i = 0; i < nkeys && !key; i++)
        if (memcmp(keys[i]->id, sig->key_id, RP__SIG_ID_LEN) == 0)
            key = keys[i];
    if (!key) {
        int n = snprintf(err, errlen, "signed by an unknown key %s; trusted: ", id);
        for (size_t i = 0; i < nkeys && n >= 0 && (size_t)n < errlen; i++) {
            char other[RP__SIG_ID_SHOWN + 1];
            rp__sig_hex(keys[i]->id, RP__SIG_ID_SHOWN, other);
            n += snprintf(err + n, errlen - (size_t)n, "%s%s", i ? ", " : "", other);
        }
        if (nkeys == 0 && n >= 0 && (size_t)n < errlen)
            snprintf(err + n, errlen - (size_t)n, "none (agent.trusted_keys is empty)");
        return RP_ERR_PERM;
    }
    uint8_t hash[RP__SIG_ID_LEN];
    if (rp__sig_sha256(data, len, hash) != 0) {
        snprintf(err, errlen, "cannot hash the file");
        return RP_ERR_IO;
    }
    /* The signature decides; the signed hash only says why it failed. */
    if (mbedtls_pk_verify(&key->pk, MBEDTLS_MD_SHA256, hash, sizeof hash, sig->der, sig->der_len) !=
        0) {
        if (memcmp(hash, sig->file_sha256, sizeof hash) != 0) {
            char now[17], then[17];
            rp__sig_hex(hash, 16, now);
            rp__sig_hex(sig->file_sha256, 16, then);
            snprintf(err, errlen,
                     "bad signature: the file changed after it was signed (SHA-256 %s..., "
                     "signed %s...)",
                     now, then);
        } else {
            snprintf(err, errlen, "bad signature: does not verify with key %s", id);
        }
        return RP_ERR_PERM;
    }
    if (signer)
        *signer = key;
    return 0;
}

int rp__sig_sign(const void *data, size_t len, const void *pem, size_t pemlen, rp__sig *out,
                 char *err, size_t errlen)
{
    mbedtls_pk_context pk;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    unsigned char *buf = NULL;
    size_t blen = 0;
    static const char pers[] = "rampart-plugin-sign";
    unsigned char der[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t dlen = 0;
    int rc = terminated(pem, pemlen, &buf, &blen);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof *out);
    mbedtls_pk_init(&pk);
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    if (mbedtls_pk_parse_key(&pk, buf, blen, NULL, 0) != 0) {
        snprintf(err, errlen,
                 "not a private key (expected a PEM EC private key on P-256, "
                 "unencrypted)");
        rc = RP_ERR_INVAL;
    } else if (!is_p256(&pk)) {
        char what[96];
        describe_key(&pk, what, sizeof what);
        snprintf(err, errlen, "%s; expected an EC key on P-256 (prime256v1, secp256r1)", what);
        rc = RP_ERR_INVAL;
    } else if (key_id_of(&pk, out->key_id) != 0 ||
               rp__sig_sha256(data, len, out->file_sha256) != 0) {
        snprintf(err, errlen, "cannot hash the key or the file");
        rc = RP_ERR_IO;
    } else if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
                                     (const unsigned char *)pers, sizeof pers - 1) != 0 ||
               mbedtls_pk_sign(&pk, MBEDTLS_MD_SHA256, out->file_sha256, RP__SIG_ID_LEN, der, &dlen,
                               mbedtls_ctr_drbg_random, &drbg) != 0 ||
               dlen == 0 || dlen > sizeof out->der) {
        snprintf(err, errlen, "cannot sign");
        rc = RP_ERR_IO;
    } else {
        memcpy(out->der, der, dlen);
        out->der_len = dlen;
    }
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
    mbedtls_pk_free(&pk);
    /* The private key's text is wiped before it is freed. */
    volatile unsigned char *v = buf;
    for (size_t i = 0; i < blen; i++)
        v[i] = 0;
    free(buf);
    return rc;
}
