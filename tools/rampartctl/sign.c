/* rampartctl sign and verify: signatures of plugin files (sdk/docs/signing.md,
 * core/runtime/plugin_sig.h), made and checked exactly as the agent's loader
 * checks them. */
#include "sign.h"

#include "config.h"
#include "exitcodes.h"
#include "lib/path.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "runtime/plugin_sig.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sysexits(3): an input file is missing or unreadable, or holds bad data. */
#define CTL_EX_NOINPUT 66
#define CTL_EX_DATAERR 65
/* verify: the signature was checked and refused. */
#define CTL_EX_REFUSED 1

static const char sign_usage[] =
    "usage: rampartctl sign --key PRIVATE_KEY.pem PLUGIN.so\n"
    "       rampartctl verify [--key PUBLIC_KEY.pem]... PLUGIN.so\n"
    "\n"
    "sign writes PLUGIN.so.sig: an ECDSA P-256 signature of the SHA-256 of the\n"
    "file, with the key's id (SHA-256 of its public key), in the format of\n"
    "sdk/docs/signing.md. The key is an unencrypted PEM EC private key on\n"
    "P-256, e.g. from\n"
    "  openssl ecparam -name prime256v1 -genkey -noout -out key.pem\n"
    "  openssl ec -in key.pem -pubout -out key.pub.pem\n"
    "exit status of sign: 0 written; 64 bad command line; 66 the plugin or\n"
    "the key cannot be read; 65 the key is not an EC P-256 private key;\n"
    "73 the signature file cannot be written.\n"
    "\n"
    "verify checks PLUGIN.so.sig as the agent does, against the keys given\n"
    "with --key or, without one, the configuration's agent.trusted_keys\n"
    "(checked as the agent checks them).\n"
    "exit status of verify: 0 the signature verifies (the key is printed);\n"
    "1 refused, with the reason: bad signature, unknown key, no or malformed\n"
    ".sig; 64 bad command line; 66 the plugin or a key file cannot be read;\n"
    "78 invalid configuration, or a key is not an EC P-256 public key.\n";

/* Reads path whole (at most max bytes); says why not on stderr. */
static int read_all(const char *what, const char *path, size_t max, char **data, size_t *len)
{
    int sys = 0;
    int rc = rp__os_read_file(path, max, data, len, &sys);
    if (rc == 0)
        return 0;
    fprintf(stderr, "rampartctl: %s %s: %s\n", what, path,
            rc == RP_ERR_RANGE ? "too large"
            : sys              ? strerror(sys)
                               : rp_strerror(rc));
    return rc;
}

static int sig_path(const char *plugin, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.sig", plugin);
    if (n < 0 || (size_t)n >= outlen) {
        fprintf(stderr, "rampartctl: %s: path too long\n", plugin);
        return RP_ERR_RANGE;
    }
    return 0;
}

int rp__ctl_sign(int argc, char **argv)
{
    const char *key = NULL, *plugin = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc && !key) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(sign_usage, stdout);
            return RP_EX_OK;
        } else if (argv[i][0] != '-' && !plugin) {
            plugin = argv[i];
        } else {
            fprintf(stderr, "rampartctl: sign: unexpected argument '%s'\n%s", argv[i], sign_usage);
            return RP_EX_USAGE;
        }
    }
    if (!key || !plugin) {
        fprintf(stderr, "rampartctl: sign needs --key PRIVATE_KEY.pem and a plugin file\n%s",
                sign_usage);
        return RP_EX_USAGE;
    }
    char out[4096];
    if (sig_path(plugin, out, sizeof out) != 0)
        return RP_EX_USAGE;
    char *pem = NULL, *bytes = NULL;
    size_t pemlen = 0, len = 0;
    if (read_all("key", key, RP__SIG_KEY_FILE_MAX, &pem, &pemlen) != 0)
        return CTL_EX_NOINPUT;
    if (read_all("plugin", plugin, (size_t)RP__OS_DL_COPY_MAX, &bytes, &len) != 0) {
        free(pem);
        return CTL_EX_NOINPUT;
    }
    rp__sig sig;
    char err[512], text[RP__SIG_FILE_MAX];
    size_t tlen = 0;
    int rc = rp__sig_sign(bytes, len, pem, pemlen, &sig, err, sizeof err);
    memset(pem, 0, pemlen);
    free(pem);
    free(bytes);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: key %s: %s\n", key, err);
        return rc == RP_ERR_INVAL ? CTL_EX_DATAERR : RP_EX_SOFTWARE;
    }
    if (rp__sig_format(&sig, text, sizeof text, &tlen) != 0) {
        fprintf(stderr, "rampartctl: cannot format the signature\n");
        return RP_EX_SOFTWARE;
    }
    if ((rc = rp__os_write_file_atomic(out, text, tlen, 0644)) != 0) {
        fprintf(stderr, "rampartctl: cannot write %s: %s\n", out, rp_strerror(rc));
        return RP_EX_CANTCREAT;
    }
    char id[RP__SIG_ID_SHOWN + 1];
    rp__sig_hex(sig.key_id, RP__SIG_ID_SHOWN, id);
    printf("%s: signed by key %s\n", out, id);
    return RP_EX_OK;
}

/* The keys of agent.trusted_keys, read as the agent reads them. */
static int config_keys(const char *config_file, const char *site, rp__sig_key ***keys, size_t *n)
{
    static char err[RP__CONFIG_ERR_MAX];
    rp__config *cfg = NULL;
    int rc = rp__config_load(config_file, site, &cfg, err, sizeof err);
    if (rc != 0) {
        if (rc == RP_ERR_CONFIG)
            rp__config_err_print(stderr, "rampartctl: ", err);
        else
            fprintf(stderr, "rampartctl: %s: %s\n", config_file, rp_strerror(rc));
        return RP_EX_CONFIG;
    }
    const json_t *list = json_object_get(json_object_get(cfg->root, "agent"), "trusted_keys");
    size_t count = json_array_size(list);
    int bad = 0;
    *keys = calloc(count ? count : 1, sizeof **keys);
    if (!*keys) {
        rp__config_destroy(cfg);
        return RP_EX_OSERR;
    }
    for (size_t i = 0; i < count; i++) {
        char *path = rp__path_resolve(cfg->config_dir, json_string_value(json_array_get(list, i)));
        char why[1024];
        if (!path || rp__sig_key_load(path, &(*keys)[*n], why, sizeof why) != 0) {
            fprintf(stderr, "rampartctl: %s: agent.trusted_keys[%zu]: %s\n", config_file, i,
                    path ? why : "out of memory");
            bad = 1;
        } else {
            (*n)++;
        }
        free(path);
    }
    rp__config_destroy(cfg);
    return bad ? RP_EX_CONFIG : 0;
}

int rp__ctl_verify(int argc, char **argv, const char *config_file, const char *site)
{
    const char *plugin = NULL;
    const char *key_files[16];
    size_t nkey_files = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            if (nkey_files == sizeof key_files / sizeof key_files[0]) {
                fprintf(stderr, "rampartctl: verify: at most 16 keys\n");
                return RP_EX_USAGE;
            }
            key_files[nkey_files++] = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(sign_usage, stdout);
            return RP_EX_OK;
        } else if (argv[i][0] != '-' && !plugin) {
            plugin = argv[i];
        } else {
            fprintf(stderr, "rampartctl: verify: unexpected argument '%s'\n%s", argv[i],
                    sign_usage);
            return RP_EX_USAGE;
        }
    }
    if (!plugin) {
        fprintf(stderr, "rampartctl: verify needs a plugin file\n%s", sign_usage);
        return RP_EX_USAGE;
    }
    rp__sig_key **keys = NULL;
    size_t nkeys = 0;
    int ex = 0;
    if (nkey_files) {
        keys = calloc(nkey_files, sizeof *keys);
        if (!keys)
            return RP_EX_OSERR;
        for (size_t i = 0; i < nkey_files && !ex; i++) {
            char *pem = NULL, why[512];
            size_t len = 0;
            if (read_all("key", key_files[i], RP__SIG_KEY_FILE_MAX, &pem, &len) != 0) {
                ex = CTL_EX_NOINPUT;
            } else if (rp__sig_key_parse(pem, len, &keys[nkeys], why, sizeof why) != 0) {
                fprintf(stderr, "rampartctl: key %s: %s\n", key_files[i], why);
                ex = RP_EX_CONFIG;
            } else {
                nkeys++;
            }
            free(pem);
        }
    } else {
        ex = config_keys(config_file, site, &keys, &nkeys);
    }
    char sp[4096], *text = NULL, *bytes = NULL, why[512];
    size_t tlen = 0, len = 0;
    rp__sig sig;
    const rp__sig_key *signer = NULL;
    if (ex == 0 && sig_path(plugin, sp, sizeof sp) != 0)
        ex = RP_EX_USAGE;
    if (ex == 0 && read_all("plugin", plugin, (size_t)RP__OS_DL_COPY_MAX, &bytes, &len) != 0)
        ex = CTL_EX_NOINPUT;
    if (ex == 0) {
        int sys = 0;
        int rc = rp__os_read_file(sp, RP__SIG_FILE_MAX, &text, &tlen, &sys);
        if (rc == RP_ERR_NOTFOUND) {
            printf("%s: refused: not signed (no %s)\n", plugin, sp);
            ex = CTL_EX_REFUSED;
        } else if (rc == RP_ERR_RANGE) {
            printf("%s: refused: malformed signature file %s: larger than %d bytes\n", plugin, sp,
                   RP__SIG_FILE_MAX);
            ex = CTL_EX_REFUSED;
        } else if (rc != 0) {
            fprintf(stderr, "rampartctl: %s: %s\n", sp, sys ? strerror(sys) : rp_strerror(rc));
            ex = CTL_EX_NOINPUT;
        } else if (rp__sig_parse(text, tlen, &sig, why, sizeof why) != 0) {
            printf("%s: refused: malformed signature file %s: %s\n", plugin, sp, why);
            ex = CTL_EX_REFUSED;
        } else if (rp__sig_verify(bytes, len, &sig, keys, nkeys, &signer, why, sizeof why) != 0) {
            printf("%s: refused: %s\n", plugin, why);
            ex = CTL_EX_REFUSED;
        } else {
            char id[RP__SIG_ID_SHOWN + 1];
            rp__sig_hex(rp__sig_key_id(signer), RP__SIG_ID_SHOWN, id);
            printf("%s: signature OK, signed by key %s\n", plugin, id);
        }
    }
    free(text);
    free(bytes);
    for (size_t i = 0; i < nkeys; i++)
        rp__sig_key_free(keys[i]);
    free(keys);
    return ex;
}
