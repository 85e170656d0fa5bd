/* rampartctl - controls a running rampartd. */
#include "config.h"
#include "exitcodes.h"
#include "os/os.h"
#include "version.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: rampartctl [--config FILE] [--site NAME] COMMAND\n"
    "\n"
    "commands:\n"
    "  reload      make the running agent re-read its configuration (SIGHUP)\n"
    "  version     print the version\n"
    "\n"
    "The agent is found through agent.pid_file of the configuration (default\n" RP_DEFAULT_CONFIG
    ").\n";

static int cmd_reload(const char *config_file, const char *site)
{
    char err[RP__CONFIG_ERR_MAX];
    rp__config *cfg = NULL;
    int rc = rp__config_load(config_file, site, &cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: %s\n", rc == RP_ERR_CONFIG ? err : rp_strerror(rc));
        return RP_EX_CONFIG;
    }
    char *data = NULL;
    size_t len = 0;
    rc = rp__os_read_file(cfg->pid_file, 64, &data, &len, NULL);
    long pid = 0;
    if (rc == 0) {
        char *end = NULL;
        pid = strtol(data, &end, 10);
        if (end == data)
            pid = 0;
        free(data);
    }
    if (pid <= 0) {
        fprintf(stderr, "rampartctl: %s: no running agent found\n", cfg->pid_file);
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
    fprintf(stderr, "rampartctl: unknown command '%s'\n%s", cmd, usage_text);
    return RP_EX_USAGE;
}
