/* core/main.c - rampartd: command line, start-up and shutdown. */
#include "agent.h"
#include "config.h"
#include "exitcodes.h"
#include "runtime/host.h"
#include "lib/log.h"
#include "os/os.h"
#include "lib/path.h"
#include "lib/schema.h"
#include "redact.h"
#include "version.h"

#include <rampart/plugin.h>

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: rampartd [--config FILE] [--site NAME] [--foreground] [--check-config]\n"
    "                [--print-config] [--version] [--help]\n"
    "\n"
    "  -c, --config FILE   main configuration file (default " RP_DEFAULT_CONFIG ")\n"
    "  -s, --site NAME     apply the overlay sites/NAME.json next to FILE; without it\n"
    "                      the site is read from " RP__SITE_FILE_DEFAULT " (written by the\n"
    "                      installer; $" RP__SITE_FILE_ENV " names another file), else\n"
    "                      from agent.site\n"
    "  -f, --foreground    stay in the foreground, log to stderr, events to stdout\n"
    "      --check-config  run every check start-up runs, report every error, and exit\n"
    "                      (0 valid, 78 invalid)\n"
    "      --print-config  print the effective configuration as JSON and exit\n"
    "  -V, --version       print the version and exit\n";

enum { OPT_CHECK = 256, OPT_PRINT };

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"site", required_argument, NULL, 's'},
        {"foreground", no_argument, NULL, 'f'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"print-config", no_argument, NULL, OPT_PRINT},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    rp__agent_opts opts = {.config_file = RP_DEFAULT_CONFIG};
    int check_only = 0, print_only = 0, c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:s:fVh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opts.config_file = optarg;
            break;
        case 's':
            opts.site = optarg;
            break;
        case 'f':
            opts.foreground = 1;
            break;
        case OPT_CHECK:
            check_only = 1;
            break;
        case OPT_PRINT:
            print_only = 1;
            break;
        case 'V':
            printf("rampartd %s (plugin ABI %d.%d)\n", RP_VERSION, RP_ABI_MAJOR, RP_ABI_MINOR);
            return RP_EX_OK;
        case 'h':
            fputs(usage_text, stdout);
            return RP_EX_OK;
        case ':':
            fprintf(stderr, "rampartd: option '%s' needs a value\n%s", argv[optind - 1],
                    usage_text);
            return RP_EX_USAGE;
        default: {
            /* A close long option is suggested, as for config keys. */
            const char *given = argv[optind - 1], *best = NULL;
            size_t best_d = 3;
            for (int k = 0; given[0] == '-' && given[1] == '-' && longopts[k].name; k++) {
                size_t d = rp__edit_distance(given + 2, longopts[k].name);
                if (d < best_d) {
                    best_d = d;
                    best = longopts[k].name;
                }
            }
            if (best)
                fprintf(stderr, "rampartd: unknown option '%s'; did you mean '--%s'?\n%s", given,
                        best, usage_text);
            else
                fprintf(stderr, "rampartd: unknown option '%s'\n%s", given, usage_text);
            return RP_EX_USAGE;
        }
        }
    }
    if (optind < argc) {
        fprintf(stderr, "rampartd: unexpected argument '%s'\n%s", argv[optind], usage_text);
        return RP_EX_USAGE;
    }

    static char err[RP__CONFIG_ERR_MAX];
    rp__config *cfg = NULL;
    int rc = rp__config_load(opts.config_file, opts.site, &cfg, err, sizeof err);
    if (rc != 0) {
        if (rc == RP_ERR_CONFIG)
            rp__config_err_print(stderr, "rampartd: ", err);
        else
            fprintf(stderr, "rampartd: %s\n", rp_strerror(rc));
        return rc == RP_ERR_CONFIG ? RP_EX_CONFIG : RP_EX_SOFTWARE;
    }
    if (check_only) {
        /* The same checks as start-up (rp__agent_prepare runs them too),
         * every error reported, nothing created. */
        rc = rp__agent_check_config(cfg, err, sizeof err);
        if (rc != 0) {
            if (rc == RP_ERR_CONFIG)
                rp__config_err_print(stderr, "rampartd: ", err);
            else
                fprintf(stderr, "rampartd: %s\n", rp_strerror(rc));
            rp__config_destroy(cfg);
            return rc == RP_ERR_CONFIG ? RP_EX_CONFIG : RP_EX_SOFTWARE;
        }
        printf("rampartd: configuration OK: %s%s%s\n", cfg->main_file, cfg->site ? " + " : "",
               cfg->site_file ? cfg->site_file : "");
        rp__config_destroy(cfg);
        return RP_EX_OK;
    }
    if (print_only) {
        json_t *shown = rp__agent_config_redacted(cfg); /* secrets: <redacted> */
        int ok = shown && json_dumpf(shown, stdout, JSON_INDENT(2)) == 0;
        json_decref(shown);
        fputc('\n', stdout);
        rp__config_destroy(cfg);
        return ok ? RP_EX_OK : RP_EX_SOFTWARE;
    }

    rp__log_set_level(cfg->log_level);
    enum rp__log_target target = RP__LOG_TO_STDERR;
    if (cfg->log_target == RP__LOG_TARGET_SYSLOG ||
        (cfg->log_target == RP__LOG_TARGET_AUTO && !opts.foreground))
        target = RP__LOG_TO_SYSLOG;

    rp__os_tune_memory();
    /* Block the stop and reload signals before any thread exists, so that
     * only the main loop ever receives them. */
    if (rp__os_signals_block() != 0) {
        fprintf(stderr, "rampartd: cannot set up signal handling\n");
        rp__config_destroy(cfg);
        return RP_EX_OSERR;
    }

    /* A daemon works in "/": give the agent the main file by absolute path so
     * that a reload still finds it (and the site overlay next to it). */
    char *abs_config = NULL;
    if (!opts.foreground) {
        const char *slash = strrchr(opts.config_file, '/');
        abs_config = rp__path_resolve(cfg->config_dir, slash ? slash + 1 : opts.config_file);
        if (!abs_config) {
            fprintf(stderr, "rampartd: out of memory\n");
            rp__config_destroy(cfg);
            return RP_EX_OSERR;
        }
        opts.config_file = abs_config;
    }
    rp__agent *agent = NULL;
    rc = rp__agent_create(&opts, cfg, &agent);
    free(abs_config); /* copied by rp__agent_create */
    if (rc != 0) {
        fprintf(stderr, "rampartd: out of memory\n");
        return RP_EX_OSERR;
    }
    long holder = 0;
    rc = rp__agent_prepare(agent, &holder, err, sizeof err);
    if (rc != 0) {
        /* Still attached to the terminal: say it there. */
        rp__config_err_print(stderr, "rampartd: ", err);
        rp__agent_destroy(agent);
        return rc == RP_ERR_BUSY     ? RP_EX_UNAVAILABLE
               : rc == RP_ERR_CONFIG ? RP_EX_CONFIG
                                     : RP_EX_CANTCREAT;
    }
    if (!opts.foreground && rp__os_daemonize() != 0) {
        fprintf(stderr, "rampartd: cannot detach from the terminal\n");
        rp__agent_destroy(agent);
        return RP_EX_OSERR;
    }
    rp__log_open(target);
    if (rp__agent_start(agent) != 0) {
        rp__agent_destroy(agent);
        rp__log_close();
        return RP_EX_CANTCREAT;
    }
    rp__agent_run(agent);
    rp__agent_stop(agent);
    rp__agent_destroy(agent);
    rp__log_info("rampartd stopped");
    rp__log_close();
    return RP_EX_OK;
}
