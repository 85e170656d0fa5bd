/*
 * tests/fuzz/fuzz_plugin_sig.c - libFuzzer target for the plugin signature
 * file parser (core/runtime/plugin_sig.c), which reads "<plugin>.sig" files
 * that come with vendors' plugins.
 *
 * The whole input is one signature file. Checks, any failure aborts:
 *   - it parses, or fails with RP_ERR_INVAL or RP_ERR_RANGE (only past
 *     RP__SIG_FILE_MAX bytes) and a non-empty reason;
 *   - a parsed signature has 8 to RP__SIG_DER_MAX bytes, and written back
 *     with rp__sig_format it is the input byte for byte (the format has one
 *     spelling of each signature), which parses again to the same record;
 *   - verifying it against one fixed key never crashes and either passes or
 *     refuses with a reason (no fuzzer input should pass: it would be a
 *     forged signature).
 */
#include "runtime/plugin_sig.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_plugin_sig: check failed at line %d: %s\n", __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static const char key_pem[] = "-----BEGIN PUBLIC KEY-----\n"
                              "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEuXa0X+1+bAfCcQ8/wvAHB7u0Gx9P\n"
                              "qGrqeaWP0Fut2IK8kyNtl0k5dADu56nbygXpF9jNM4lV49EzhNujj5a9fw==\n"
                              "-----END PUBLIC KEY-----\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rp__sig_key *key;
    if (!key) {
        char kerr[256];
        CHECK(rp__sig_key_parse(key_pem, sizeof key_pem - 1, &key, kerr, sizeof kerr) == 0);
    }
    rp__sig sig;
    char err[512] = "";
    int rc = rp__sig_parse((const char *)data, size, &sig, err, sizeof err);
    if (rc != 0) {
        CHECK(rc == RP_ERR_INVAL || (rc == RP_ERR_RANGE && size > RP__SIG_FILE_MAX));
        CHECK(err[0] != '\0');
        return 0;
    }
    CHECK(size <= RP__SIG_FILE_MAX);
    CHECK(sig.der_len >= 8 && sig.der_len <= RP__SIG_DER_MAX);
    char text[RP__SIG_FILE_MAX + 1];
    size_t n = 0;
    CHECK(rp__sig_format(&sig, text, sizeof text, &n) == 0);
    CHECK(n == size && memcmp(text, data, size) == 0);
    rp__sig again;
    CHECK(rp__sig_parse(text, n, &again, err, sizeof err) == 0);
    CHECK(memcmp(&again, &sig, sizeof sig) == 0);
    static const char payload[] = "plugin bytes";
    rp__sig_key *keys[1] = {key};
    err[0] = '\0';
    rc = rp__sig_verify(payload, sizeof payload, &sig, keys, 1, NULL, err, sizeof err);
    CHECK(rc == RP_ERR_PERM && err[0] != '\0');
    return 0;
}
