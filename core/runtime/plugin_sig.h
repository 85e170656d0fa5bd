/*
 * core/runtime/plugin_sig.h - signed plugins: the signature file next to a
 * plugin ("<file>.sig"), the trusted public keys and the check the loader
 * makes on the bytes it is about to load (loader.c), which rampartctl sign
 * and verify share. ECDSA P-256 over the SHA-256 of the plugin file, with
 * mbedTLS; the format is sdk/docs/signing.md's:
 *
 *   rampart-plugin-signature 1
 *   key-id <64 lower-case hex: SHA-256 of the public key's DER (SubjectPublicKeyInfo)>
 *   file-sha256 <64 lower-case hex: SHA-256 of the plugin file>
 *   signature <base64 of the DER ECDSA signature of that SHA-256>
 *
 * Exactly these four lines in this order, each ended by "\n", nothing else
 * (no blank line, no carriage return, no space but the one after the
 * label); at most RP__SIG_FILE_MAX bytes. file-sha256 is only a hint that
 * tells a changed file from a wrong key in the refusal; what decides is the
 * signature over the SHA-256 the agent computes itself.
 *
 * Ownership: an rp__sig_key is the caller's (rp__sig_key_free); every other
 * pointer is borrowed for the call. Thread-safety: none of these share
 * state; one key may be used by one thread at a time.
 */
#ifndef RP_RUNTIME_PLUGIN_SIG_H
#define RP_RUNTIME_PLUGIN_SIG_H

#include <stddef.h>
#include <stdint.h>

#define RP__SIG_MAGIC        "rampart-plugin-signature 1"
#define RP__SIG_FILE_MAX     1024  /* a .sig file is refused past it (RP_ERR_RANGE) */
#define RP__SIG_DER_MAX      80    /* a P-256 DER signature is at most 72 bytes */
#define RP__SIG_ID_LEN       32    /* key ids and file hashes: SHA-256 */
#define RP__SIG_KEY_FILE_MAX 16384 /* a PEM key file is refused past it */
#define RP__SIG_ID_SHOWN     16    /* hex digits of a key id in messages */

typedef struct rp__sig {
    uint8_t key_id[RP__SIG_ID_LEN];
    uint8_t file_sha256[RP__SIG_ID_LEN];
    uint8_t der[RP__SIG_DER_MAX];
    size_t der_len;
} rp__sig;

/* Parses a signature file's text[0..len) strictly (above). Returns 0, or
 * RP_ERR_INVAL (RP_ERR_RANGE when too large) with the line and what was
 * expected in err ("line 2: expected \"key-id \" and 64 hex digits"). */
int rp__sig_parse(const char *text, size_t len, rp__sig *out, char *err, size_t errlen);

/* Writes sig in that format into buf (NUL-terminated); *outlen gets its
 * length without the NUL. RP_ERR_RANGE when buf is too small (RP__SIG_FILE_MAX
 * is always enough). */
int rp__sig_format(const rp__sig *sig, char *buf, size_t buflen, size_t *outlen);

/* Lower-case hex of id[0..RP__SIG_ID_LEN) cut to digits (at most 64) into
 * out, which must hold digits + 1. */
void rp__sig_hex(const uint8_t *id, size_t digits, char *out);

/* SHA-256 of data[0..len). */
int rp__sig_sha256(const void *data, size_t len, uint8_t out[RP__SIG_ID_LEN]);

/* A public key the agent trusts. rp__sig_key_parse reads one PEM (or DER)
 * public key; it must be an EC key on P-256 (secp256r1), RP_ERR_INVAL with
 * what it is instead in err. */
typedef struct rp__sig_key rp__sig_key;
int rp__sig_key_parse(const void *data, size_t len, rp__sig_key **out, char *err, size_t errlen);
/* The same from a file: abs_path's folders are checked as a plugin's are
 * (os.h rp__os_dl_open_trusted) and the file must be a regular file of one
 * name, owned by root or the agent's user, writable by neither group nor
 * others, at most RP__SIG_KEY_FILE_MAX bytes. err names the file. */
int rp__sig_key_load(const char *abs_path, rp__sig_key **out, char *err, size_t errlen);
/* The key's id: SHA-256 of its DER SubjectPublicKeyInfo. */
const uint8_t *rp__sig_key_id(const rp__sig_key *key);
/* NULL is a no-op. */
void rp__sig_key_free(rp__sig_key *key);

/*
 * Checks data[0..len) (the very bytes to be loaded) against sig with the
 * trusted keys[0..nkeys). Returns 0 and the signing key in *signer (may be
 * NULL), or RP_ERR_PERM with the reason in err:
 *   "signed by an unknown key <id>; trusted: <id>, ..." (no key has its id),
 *   "bad signature: the file changed after it was signed (...)" (its hash
 *     differs from the signed one),
 *   "bad signature: does not verify with key <id>".
 */
int rp__sig_verify(const void *data, size_t len, const rp__sig *sig, rp__sig_key *const *keys,
                   size_t nkeys, const rp__sig_key **signer, char *err, size_t errlen);

/* Signs data[0..len) with the PEM (or DER) private key pem[0..pemlen),
 * which must be an EC key on P-256 (RP_ERR_INVAL otherwise, with what it
 * is). rampartctl sign. */
int rp__sig_sign(const void *data, size_t len, const void *pem, size_t pemlen, rp__sig *out,
                 char *err, size_t errlen);

#endif
