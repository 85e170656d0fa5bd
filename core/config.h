/*
 * core/config.h - loading, merging and validating the agent configuration.
 *
 * Layers, each an RFC 7386 merge patch over the previous one:
 *   1. the defaults built into the binary (core/config_defaults.json);
 *   2. the main file (--config, config/rampart.json in a checkout);
 *   3. the site overlay <folder of the main file>/sites/<site>.json, where
 *      the site comes from, first found: --site; the per-machine site file
 *      (RP__SITE_FILE_DEFAULT, or the file $RAMPART_SITE_FILE names), which
 *      an installer writes; agent.site of the main file.
 * The merged document is validated against core/config_schema.json. Every
 * error is one line naming the file, the JSON path, what was expected and
 * what was found; all errors are reported, one line each (err holds them
 * separated by '\n').
 */
#ifndef RP_CORE_CONFIG_H
#define RP_CORE_CONFIG_H

#include "lib/log.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A config file larger than this is refused rather than read. */
#define RP__CONFIG_MAX_BYTES (4u * 1024 * 1024)
/* Room for every error line of one check; lines past it are replaced by a
 * note that more errors were found. */
#define RP__CONFIG_ERR_MAX 16384

/* The per-machine site file: one line, the site name. Root-owned, not
 * writable by group or others (and its folder likewise). The environment
 * variable RP__SITE_FILE_ENV names another file (tests, unusual layouts). */
#define RP__SITE_FILE_DEFAULT "/etc/rampart/site"
#define RP__SITE_FILE_ENV     "RAMPART_SITE_FILE"

enum { RP__STDOUT_OFF = 0, RP__STDOUT_JSON = 1, RP__STDOUT_TEXT = 2 };

enum rp__log_target_choice {
    RP__LOG_TARGET_AUTO = 0,
    RP__LOG_TARGET_STDERR,
    RP__LOG_TARGET_SYSLOG
};

/* A loaded configuration. Immutable after load; every pointer is owned by the
 * struct and freed by rp__config_destroy(). */
typedef struct rp__config {
    json_t *root;         /* the merged, validated document */
    char *main_file;      /* the main file as named by the user */
    char *site;           /* NULL without a site */
    char *site_file;      /* NULL without a site */
    char *site_from;      /* what chose the site: "--site", the site file's path or
                             "agent.site"; NULL without a site */
    char *config_dir;     /* absolute folder of the main file */
    char *data_dir;       /* absolute */
    char *plugin_dir;     /* absolute */
    char *pid_file;       /* absolute */
    char *control_socket; /* agent.control_socket, absolute */
    char *output_file;    /* absolute; NULL when output.file is empty */
    int output_stdout;    /* RP__STDOUT_*: output.stdout, false/true/"json"/"text" */
    uint64_t output_file_max_bytes;
    uint32_t output_file_keep;
    uint32_t flush_interval_ms;
    /* Upload: output_url is NULL when output.url is empty (no upload). The
     * const strings point into root; the char * paths are resolved against
     * config_dir and owned; NULL when empty. */
    const char *output_url;
    const char *output_format;
    char *output_ca_file;
    char *output_client_cert;
    char *output_client_key;
    char *output_token_file;
    const char *output_pinned_pubkey;
    const char *output_proxy;
    uint32_t output_timeout_ms;
    uint32_t batch_max_events;
    uint32_t batch_max_bytes;
    int output_gzip;
    uint64_t spool_max_bytes;
    const char *spool_fsync;
    uint64_t deadletter_max_bytes;
    uint32_t health_interval_ms;
    uint64_t bus_max_bytes;             /* agent.bus_max_bytes: cap on the bytes of queued events */
    uint64_t max_rss_bytes;             /* agent.max_rss_bytes: RSS ceiling, 0 = none */
    uint32_t stop_grace_ms;             /* agent.stop_grace_ms: how long a stop may take */
    uint32_t plugin_command_timeout_ms; /* agent.plugin_command_timeout_ms */
    uint32_t plugin_file_reloads_max;   /* agent.plugin_file_reloads_max: new copies per plugin */
    uint32_t output_file_max_rotations_per_min; /* 0 = no alert */
    uint32_t loop_slice_us;       /* agent.loop_slice_us: 0 = the kernel's default slice */
    uint32_t loop_rt_max_cpu_pct; /* agent.loop_realtime_max_cpu_pct: 0 = never real-time */
    enum rp__log_level log_level;
    enum rp__log_target_choice log_target;
    json_t *main_doc;    /* the main file as parsed, for naming where a value came from */
    json_t *overlay_doc; /* the site overlay as parsed, or NULL */
} rp__config;

/*
 * Loads the main file and the site overlay. site_override (from --site) wins
 * over the per-machine site file, which wins over agent.site. On success
 * *out is a new config (caller destroys). On failure returns RP_ERR_CONFIG
 * (or RP_ERR_NOMEM) and writes the errors into err, one line each.
 */
int rp__config_load(const char *main_file, const char *site_override, rp__config **out, char *err,
                    size_t errlen);

/*
 * The same from already parsed documents, for tests and the fuzz target.
 * main_doc is required, overlay_doc may be NULL; both are borrowed. The names
 * are used in error messages; cwd stands in for the folder of the main file.
 */
int rp__config_from_docs(const json_t *main_doc, const char *main_name, const json_t *overlay_doc,
                         const char *overlay_name, const char *site, const char *config_dir,
                         rp__config **out, char *err, size_t errlen);

/* NULL is a no-op. */
void rp__config_destroy(rp__config *cfg);

/*
 * The per-machine site: reads the site file (path as above). Returns 0 with
 * *site NULL when there is none, 0 with *site a new string (caller frees) and
 * *from the file's path (static or from getenv), or RP_ERR_CONFIG with one
 * line in err when the file is unsafe or does not hold a valid site name.
 */
int rp__config_machine_site(char **site, const char **from, char *err, size_t errlen);

/* Appends one error line to the lines in err (err[0] == '\0' when none).
 * When the buffer is nearly full, a last line says that more errors were
 * found and further lines are dropped. */
void rp__config_err_add(char *err, size_t errlen, const char *fmt, ...) RP__PRINTF(3, 4);

/* Writes every line of err to f, each after prefix. */
void rp__config_err_print(FILE *f, const char *prefix, const char *err);

struct rp__json_seg;
/* The file a value at the path came from: the overlay if it sets it, else
 * the main file, else "built-in defaults". Static or owned by cfg. */
const char *rp__config_source_of(const rp__config *cfg, const struct rp__json_seg *segv, int depth);

/* The built-in defaults and schema as JSON text (static storage). */
extern const char rp__config_defaults_json[];
extern const char rp__config_schema_json[];

#endif
