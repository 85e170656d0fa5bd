/* core/main.c - rampartd: command line, start-up and shutdown. */
#include "agent.h"
#include "config.h"
#include "exitcodes.h"
#include "runtime/callrec.h"
#include "runtime/faults.h"
#include "runtime/host.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_sup.h"
#include "supervisor.h"
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

/* What the agent runs with, in the worker or in the one process. */
struct worker {
    rp__agent_opts opts;
    rp__config *cfg; /* taken over by rp__agent_create */
    enum rp__log_target target;
};

/* Today's agent: prepare (errors on the terminal), detach, start, run,
 * stop. Returns the exit status. */
static int run_agent(struct worker *w)
{
    static char err[RP__CONFIG_ERR_MAX];
    rp__agent *agent = NULL;
    int supervised = rp__supervised();
    int rc = rp__agent_create(&w->opts, w->cfg, &agent);
    w->cfg = NULL;
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
    if (!w->opts.foreground &&
        (supervised ? rp__os_sup_worker_detach() : rp__os_daemonize()) != 0) {
        fprintf(stderr, "rampartd: cannot detach from the terminal\n");
        rp__agent_destroy(agent);
        return RP_EX_OSERR;
    }
    rp__log_open(w->target);
    if (rp__agent_start(agent) != 0) {
        rp__agent_destroy(agent);
        rp__log_close();
        return RP_EX_CANTCREAT;
    }
    rp__worker_ready();
    uint32_t restarts = 0;
    const char *cause = rp__supervisor_restart_cause(&restarts);
    rp__agent_announce(agent, cause, restarts);
    rp__agent_run(agent);
    rp__agent_stop(agent);
    rp__agent_destroy(agent);
    rp__log_info("rampartd %s", supervised ? "worker stopped" : "stopped");
    rp__log_close();
    return RP_EX_OK;
}

/* The worker under the supervisor (supervisor.h): crash handlers first, so
 * that a crash in a plugin's entry or constructors is attributed too; the
 * pid file names the supervisor, which outlives workers; a restarted worker
 * reads the config files again (the first one has them already). */
static int worker_main(void *arg)
{
    struct worker *w = arg;
    if (rp__os_crash_install(rp__callrec_crash) != 0)
        rp__log_warn("crash handlers not installed: a crash will not be attributed");
    rp__os_pidfile_set_owner(rp__supervisor_pid());
    uint32_t restarts = 0;
    (void)rp__supervisor_restart_cause(&restarts);
    if (restarts) {
        static char err[RP__CONFIG_ERR_MAX];
        rp__config *fresh = NULL;
        if (rp__config_load(w->opts.config_file, w->opts.site, &fresh, err, sizeof err) == 0) {
            rp__config_destroy(w->cfg);
            w->cfg = fresh;
        } else {
            rp__log_error("worker: the configuration files are invalid now; starting with the "
                          "one read at start-up");
        }
        rp__log_set_level(w->cfg->log_level);
    }
    return run_agent(w);
}

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
    struct worker w = {.opts = opts, .cfg = cfg, .target = target};
    const json_t *sup = json_object_get(json_object_get(cfg->root, "agent"), "supervisor");
    const json_t *faults = json_object_get(json_object_get(cfg->root, "agent"), "plugin_faults");
    if (rp__faults_open(cfg->data_dir, (uint32_t)json_integer_value(json_object_get(faults, "max")),
                        (uint32_t)json_integer_value(json_object_get(faults, "window_s"))) != 0) {
        fprintf(stderr, "rampartd: out of memory\n");
        rp__config_destroy(cfg);
        free(abs_config);
        return RP_EX_OSERR;
    }
    if (!json_is_true(json_object_get(sup, "enabled")) || !rp__os_sup_supported()) {
        /* One process, as before the supervisor (and on Windows). */
        rc = run_agent(&w);
        free(abs_config);
        return rc;
    }
    struct rp__callrec *table = NULL;
    if (rp__callrec_create_shared(&table) != 0) {
        fprintf(stderr, "rampartd: out of memory\n");
        rp__config_destroy(cfg);
        free(abs_config);
        return RP_EX_OSERR;
    }
#define SUP_U32(k) ((uint32_t)json_integer_value(json_object_get(sup, k)))
    rp__sup_opts so = {.foreground = opts.foreground,
                       .backoff_min_ms = SUP_U32("backoff_min_ms"),
                       .backoff_max_ms = SUP_U32("backoff_max_ms"),
                       .cpu_percent = SUP_U32("cpu_percent"),
                       .cpu_window_s = SUP_U32("cpu_window_s"),
                       .memory_mb = SUP_U32("memory_mb"),
                       .stop_grace_ms = cfg->stop_grace_ms,
                       .worker = worker_main,
                       .arg = &w};
#undef SUP_U32
    /* The supervisor logs where the agent would; its lines name its pid. */
    rp__log_open(target);
    rc = rp__supervise(&so, table);
    /* Only the supervisor gets here (the worker exits in worker_main). */
    rp__log_info("rampartd stopped");
    rp__log_close();
    rp__config_destroy(cfg);
    rp__callrec_destroy_shared(table);
    rp__faults_close();
    free(abs_config);
    return rc;
}
