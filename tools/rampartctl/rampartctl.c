/* rampartctl - controls a running rampartd. */
#include "config.h"
#include "exitcodes.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "lib/schema.h"
#include "version.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: rampartctl [--config FILE] [--site NAME] COMMAND\n"
    "\n"
    "commands:\n"
    "  reload      make the running agent re-read its configuration (SIGHUP);\n"
    "              this also resumes uploads paused by a refused token\n"
    "  status [--json]\n"
    "              what the agent last reported (<data_dir>/status.json, rewritten\n"
    "              every agent.health_interval_ms): state, uploads, spool, plugins\n"
    "  version     print the version\n"
    "\n"
    "The agent is found through agent.pid_file of the configuration (default\n" RP_DEFAULT_CONFIG
    ").\n"
    "\n"
    "exit status of status: 0 the agent reported state ok; 1 it reported state\n"
    "degraded (a plugin failed to load or start; the reason is printed);\n"
    "69 no status yet; 78 invalid configuration; 64 bad command line.\n";

/* rampartctl status: the agent runs but is degraded. sysexits(3) has no
 * code for "running, but not fully", and monitoring wants a plain non-zero
 * answer distinct from "not running" (69): 1, as documented above. */
#define CTL_EX_DEGRADED 1

static int cmd_reload(const char *config_file, const char *site)
{
    static char err[RP__CONFIG_ERR_MAX];
    rp__config *cfg = NULL;
    int rc = rp__config_load(config_file, site, &cfg, err, sizeof err);
    if (rc != 0) {
        if (rc == RP_ERR_CONFIG)
            rp__config_err_print(stderr, "rampartctl: ", err);
        else
            fprintf(stderr, "rampartctl: %s\n", rp_strerror(rc));
        return RP_EX_CONFIG;
    }
    /* Only a pid whose agent still holds the pid file's lock is signalled: a
     * stale file (the agent died without removing it) may name any process
     * by now. */
    long pid = 0;
    rc = rp__os_pidfile_holder(cfg->pid_file, &pid);
    if (rc != 0) {
        if (rc == RP_ERR_PERM)
            fprintf(stderr,
                    "rampartctl: %s: not used: expected a regular file owned by root or this "
                    "user, not a symbolic link\n",
                    cfg->pid_file);
        else
            fprintf(stderr, "rampartctl: %s: no running agent found (%s)\n", cfg->pid_file,
                    rc == RP_ERR_NOTFOUND ? "no agent holds its lock; the pid in it, if any, "
                                            "is stale and was not signalled"
                                          : rp_strerror(rc));
        rp__config_destroy(cfg);
        return RP_EX_UNAVAILABLE;
    }
    rc = rp__os_send_reload(pid);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: cannot signal rampartd (pid %ld): %s\n", pid,
                rp_strerror(rc));
        rp__config_destroy(cfg);
        return RP_EX_UNAVAILABLE;
    }
    printf("rampartctl: asked rampartd (pid %ld) to reload; the result is in its log\n", pid);
    rp__config_destroy(cfg);
    return RP_EX_OK;
}

static long long num(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

static const char *str(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : "?";
}

static int cmd_status(const char *config_file, const char *site, int as_json)
{
    static char err[RP__CONFIG_ERR_MAX];
    rp__config *cfg = NULL;
    int rc = rp__config_load(config_file, site, &cfg, err, sizeof err);
    if (rc != 0) {
        if (rc == RP_ERR_CONFIG)
            rp__config_err_print(stderr, "rampartctl: ", err);
        else
            fprintf(stderr, "rampartctl: %s\n", rp_strerror(rc));
        return RP_EX_CONFIG;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/status.json", cfg->data_dir);
    rp__config_destroy(cfg);
    char *data = NULL;
    size_t len = 0;
    rc = rp__os_read_file(path, 16u << 20, &data, &len, NULL);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: %s: no status yet (is rampartd running?): %s\n", path,
                rp_strerror(rc));
        return RP_EX_UNAVAILABLE;
    }
    json_error_t jerr;
    json_t *d = json_loadb(data, len, 0, &jerr);
    if (!d) {
        fprintf(stderr, "rampartctl: %s: not valid JSON: %s\n", path, jerr.text);
        free(data);
        return RP_EX_UNAVAILABLE;
    }
    /* A status without a state (an older agent) reads as ok. */
    int degraded = strcmp(str(d, "state", NULL), "degraded") == 0;
    int status = degraded ? CTL_EX_DEGRADED : RP_EX_OK;
    if (as_json) {
        fwrite(data, 1, len, stdout);
        free(data);
        json_decref(d);
        return status;
    }
    free(data);
    printf("rampartd %s, pid %lld, up %lld s, as of %s\n", str(d, "version", NULL),
           num(d, "pid", NULL), num(d, "uptime_s", NULL), str(d, "time", NULL));
    if (degraded)
        printf("  state: degraded: %s\n", str(d, "state_reason", NULL));
    else
        printf("  state: ok\n");
    printf("  cpu %lld ms, peak memory %lld KiB; bus: %lld events, %lld dropped\n",
           num(d, "cpu_ms", NULL), num(d, "peak_rss_bytes", NULL) / 1024,
           num(d, "bus", "published"), num(d, "bus", "dropped"));
    if (json_object_get(d, "upload")) {
        printf("  upload: %s, %lld events delivered in %lld batches, %lld retries, %lld dead "
               "letters (%lld events), last status %lld%s%s\n",
               str(d, "upload", "state"), num(d, "upload", "delivered_events"),
               num(d, "upload", "delivered_batches"), num(d, "upload", "retries"),
               num(d, "upload", "dead_batches"), num(d, "upload", "dead_events"),
               num(d, "upload", "last_status"), *str(d, "upload", "last_error") ? ": " : "",
               str(d, "upload", "last_error"));
        printf("  spool: %lld events in %lld batches waiting, %lld of %lld bytes on disk; "
               "dropped when full %lld events; damaged records cut %lld\n",
               num(d, "spool", "queued_events"), num(d, "spool", "queued_batches"),
               num(d, "spool", "disk_bytes"), num(d, "spool", "max_bytes"),
               num(d, "spool", "dropped_full_events"),
               num(d, "spool", "corrupt_records") + num(d, "spool", "cut_torn_records"));
    } else {
        printf("  output: %lld events written locally\n", num(d, "sink", "events"));
    }
    const char *name;
    json_t *p;
    json_object_foreach(json_object_get(d, "plugins"), name, p)
    {
        printf("  plugin %s: %s, %lld published, %lld dropped, cpu %lld ms%s%s\n", name,
               str(p, "state", NULL), num(p, "published", NULL), num(p, "dropped", NULL),
               num(p, "cpu_ms", NULL), json_object_get(p, "error") ? ": " : "",
               json_object_get(p, "error") ? str(p, "error", NULL) : "");
    }
    json_decref(d);
    return status;
}

int main(int argc, char **argv)
{
    const char *config_file = RP_DEFAULT_CONFIG, *site = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            config_file = argv[++i];
        } else if ((strcmp(argv[i], "--site") == 0 || strcmp(argv[i], "-s") == 0) &&
                   i + 1 < argc) {
            site = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return RP_EX_OK;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("rampartctl %s\n", RP_VERSION);
            return RP_EX_OK;
        } else {
            fprintf(stderr, "rampartctl: unknown option or missing value: '%s'\n%s", argv[i],
                    usage_text);
            return RP_EX_USAGE;
        }
    }
    if (i >= argc) {
        fprintf(stderr, "rampartctl: no command given\n%s", usage_text);
        return RP_EX_USAGE;
    }
    const char *cmd = argv[i];
    if (strcmp(cmd, "status") == 0) {
        int as_json = i + 1 < argc && strcmp(argv[i + 1], "--json") == 0;
        if (i + 1 + as_json < argc) {
            fprintf(stderr, "rampartctl: unexpected argument '%s'\n%s", argv[i + 1 + as_json],
                    usage_text);
            return RP_EX_USAGE;
        }
        return cmd_status(config_file, site, as_json);
    }
    if (i + 1 < argc) {
        fprintf(stderr, "rampartctl: unexpected argument '%s'\n%s", argv[i + 1], usage_text);
        return RP_EX_USAGE;
    }
    if (strcmp(cmd, "reload") == 0)
        return cmd_reload(config_file, site);
    if (strcmp(cmd, "version") == 0) {
        printf("rampartctl %s\n", RP_VERSION);
        return RP_EX_OK;
    }
    /* A close command name is suggested, as for config keys. */
    static const char *const commands[] = {"reload", "status", "version"};
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        size_t d = rp__edit_distance(cmd, commands[k]);
        if (d < best_d) {
            best_d = d;
            best = commands[k];
        }
    }
    if (best)
        fprintf(stderr, "rampartctl: unknown command '%s'; did you mean '%s'?\n%s", cmd, best,
                usage_text);
    else
        fprintf(stderr, "rampartctl: unknown command '%s'\n%s", cmd, usage_text);
    return RP_EX_USAGE;
}
