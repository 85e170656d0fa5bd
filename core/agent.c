/* core/agent.c - the agent's lifecycle. */
#include "agent.h"
#include "supervisor.h"
#include "runtime/faults.h"
#include "control.h"
#include "runtime/bus.h"
#include "runtime/event.h"
#include "exitcodes.h"
#include "runtime/fields.h"
#include "runtime/host.h"
#include "lib/log.h"
#include "runtime/loop.h"
#include "output/ndjson.h"
#include "output/output_format.h"
#include "lib/schema.h"
#include "output/sink.h"
#include "output/spool.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_thread.h"
#include "runtime/topic.h"
#include "runtime/watchdog.h"
#include "runtime/workers.h"
#include "output/uploader.h"
#include "privileges.h"
#include "lib/secrets.h"
#include "lib/uuid.h"
#include "version.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rp__agent {
    rp__config *cfg;      /* the running config; replaced by reload */
    rp__config *boot_cfg; /* the config the plugin host was built from */
    /* The runtime: the agent owns the bus, the loop and the worker pool and
     * hands them to the plugin host and the sink. The bus and the loop are
     * made by rp__agent_prepare (no threads yet), the workers and every
     * thread by rp__agent_start. */
    rp__bus *bus;
    rp__loop *loop;
    rp__workers *workers;
    rp__host *host;
    atomic_int host_running; /* read by the loop and uploader threads */
    /* The agent's folders, each opened once and checked at start-up; every
     * file in them is opened relative to these (never by its path again). */
    rp__os_dir *data;       /* agent.data_dir: agent_id, status.json */
    rp__os_dir *deadletter; /* <data_dir>/deadletter when uploading; lent to the uploader */
    rp__os_dir *spool_dir;  /* <data_dir>/spool when uploading, until the spool opens */
    rp__os_dir *events_dir; /* the folder of output.file; lent to the sink */
    char *events_name;      /* output.file's name in it */
    rp__sink *sink;         /* built from the config at start-up */
    uint64_t sink_sub;      /* its bus subscription */
    /* Upload (output.url set at start-up): the spool and its reader. */
    rp__spool *spool;
    rp__uploader *uploader;
    /* Held by the health tick (loop thread); the control thread takes it to
     * turn the tick off before it stops the host, whose plugin states the
     * tick reads. */
    rp__os_mutex *health_lock;
    int health_off;
    int64_t started_ns;
    /* Figures already reported in an alert, so each alert says what is new. */
    uint64_t alerted_spool_dropped, alerted_spool_corrupt, alerted_sink_dropped;
    /* One flag per plugin (host index): its failure was alerted. The
     * plugin set is fixed for the life of the host. */
    unsigned char *plugin_alerted;
    size_t nplugin_alerted;
    uint64_t alerted_bus_episodes, alerted_rotation_bursts, alerted_rss_episodes;
    /* The stop watchdog (agent.stop_grace_ms): stop_done under stop_lock. */
    rp__os_mutex *stop_lock;
    rp__os_cond *stop_cond;
    int stop_done;
    int sink_closing;       /* under stop_lock: the stop watchdog no longer flushes it */
    rp__watchdog *watchdog; /* deadlines and budgets, from start to stop */
    char *config_file;
    char *site;
    int foreground;
    int started;
    rp__os_pidfile *pidfile;
    rp__control *ctl;      /* agent.control_socket, from start to stop */
    rp__os_dir *ctl_dir;   /* the socket's folder, opened once and checked */
    char reload_err[1024]; /* why the last reload was refused, for the socket */
    int health_cut_logged; /* the agent.health event outgrew its caps once */
    char agent_id[RP__UUID_STR_LEN + 1];
    char hostname[256];
    rp__ndjson_stamp stamp; /* identity on every line; built at start */
    rp__privileges privs;   /* the capability drop at start (privileges.h) */
};

int rp__agent_create(const rp__agent_opts *opts, rp__config *cfg, rp__agent **out)
{
    rp__agent *a = calloc(1, sizeof *a);
    if (!a) {
        rp__config_destroy(cfg);
        return RP_ERR_NOMEM;
    }
    a->cfg = cfg;
    a->boot_cfg = cfg;
    if (rp__os_mutex_create(&a->health_lock) != 0 || rp__os_mutex_create(&a->stop_lock) != 0 ||
        rp__os_cond_create(&a->stop_cond) != 0) {
        rp__os_cond_destroy(a->stop_cond);
        rp__os_mutex_destroy(a->stop_lock);
        rp__os_mutex_destroy(a->health_lock);
        rp__config_destroy(cfg);
        free(a);
        return RP_ERR_NOMEM;
    }
    a->foreground = opts->foreground;
    a->config_file = strdup(opts->config_file);
    a->site = opts->site ? strdup(opts->site) : NULL;
    if (!a->config_file || (opts->site && !a->site)) {
        rp__agent_destroy(a);
        return RP_ERR_NOMEM;
    }
    rp__os_hostname(a->hostname, sizeof a->hostname);
    *out = a;
    return 0;
}

const rp__config *rp__agent_config(const rp__agent *agent)
{
    return agent->cfg;
}

/* True if s is exactly one UUID in its canonical text form (lowercase,
 * dashed 8-4-4-4-12), optionally followed by one newline. */
static int agent_id_valid(const char *s, size_t len)
{
    if (len == RP__UUID_STR_LEN + 1 && s[RP__UUID_STR_LEN] == '\n')
        len--;
    if (len != RP__UUID_STR_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* The agent id lives in the data folder so it survives restarts and upgrades.
 * It names the agent on every event, so it is read only from a file of the
 * agent's own (no link, owned by root or the agent's user) and only when it
 * is a UUID; anything else is replaced by a new id, with a warning. */
static int load_agent_id(rp__agent *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/agent_id", a->cfg->data_dir);
    char *data = NULL, why[4096 + 256] = "";
    size_t len = 0;
    int rc = rp__os_dir_read_small(a->data, "agent_id", 64, &data, &len, why, sizeof why);
    if (rc == 0 && agent_id_valid(data, len)) {
        memcpy(a->agent_id, data, RP__UUID_STR_LEN);
        a->agent_id[RP__UUID_STR_LEN] = '\0';
        free(data);
        return 0;
    }
    free(data);
    if (rc == 0)
        snprintf(why, sizeof why, "%s: expected one UUID like 0190c7e4-5b8a-7c3d-9e2f-1a2b3c4d5e6f",
                 path);
    else if (rc != RP_ERR_NOTFOUND && rc != RP_ERR_PERM && rc != RP_ERR_RANGE)
        return rc;
    int planted = rc != RP_ERR_NOTFOUND;
    rc = rp__uuid7(rp__os_time_ns() / 1000000, a->agent_id);
    if (rc != 0)
        return rc;
    if (planted)
        rp__log_warn("%s; not used as the agent id: a new one, %s, replaces it", why, a->agent_id);
    char line[RP__UUID_STR_LEN + 2];
    int n = snprintf(line, sizeof line, "%s\n", a->agent_id);
    /* The rename replaces whatever has the name (a link itself, not its
     * target). */
    return rp__os_dir_write_atomic(a->data, "agent_id", line, (size_t)n, 0644);
}

/* The agent's folders must be its own before anything in them is trusted:
 * agent.data_dir, and the folders of agent.pid_file and output.file (which
 * may lie elsewhere). Each is opened once, here, and what the agent writes
 * later goes through these handles: a folder renamed away and replaced
 * after this check is never written through. The pid file is acquired here
 * too, in the folder just checked. */
static int open_state_folders(rp__agent *a, long *holder_pid, char *err, size_t errlen)
{
    const rp__config *cfg = a->cfg;
    char why[1024];
    int rc = rp__os_dir_open(cfg->data_dir, &a->data, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errlen, "agent.data_dir: %s", why);
        return rc;
    }
    /* The agent's own subfolders: a link planted there would send the spool
     * or the dead letters elsewhere. When uploading both are made here, so
     * that the spool and the uploader get these handles; otherwise they are
     * only checked when present. */
    rc = rp__os_dir_sub(a->data, "spool", cfg->output_url ? 0700 : 0, &a->spool_dir, why,
                        sizeof why);
    if (!cfg->output_url) {
        rp__os_dir_close(a->spool_dir);
        a->spool_dir = NULL;
    }
    if (rc == 0 || rc == RP_ERR_NOTFOUND)
        rc = rp__os_dir_sub(a->data, "deadletter", cfg->output_url ? 0700 : 0, &a->deadletter, why,
                            sizeof why);
    if (rc != 0 && rc != RP_ERR_NOTFOUND) {
        snprintf(err, errlen, "agent.data_dir: %s", why);
        return rc;
    }
    rp__os_dir *pid_dir = NULL;
    const char *pid_name = NULL;
    if ((rc = rp__os_dir_open_parent(cfg->pid_file, &pid_dir, &pid_name, why, sizeof why)) != 0) {
        snprintf(err, errlen, "agent.pid_file (%s): %s", cfg->pid_file, why);
        return rc;
    }
    rc = rp__os_dir_pidfile_acquire(pid_dir, pid_name, &a->pidfile, holder_pid);
    rp__os_dir_close(pid_dir); /* the pid file keeps its own for the release */
    if (rc == RP_ERR_BUSY) {
        snprintf(err, errlen, "%s: another rampartd (pid %ld) is running on this data folder",
                 cfg->pid_file, *holder_pid);
        return rc;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot create the pid file: %s", cfg->pid_file,
                 rc == RP_ERR_PERM ? "expected a regular file owned by root or the agent's "
                                     "user, with one name and no symbolic link"
                                   : rp_strerror(rc));
        return rc;
    }
    if (cfg->output_file) {
        const char *name = NULL;
        rc = rp__os_dir_open_parent(cfg->output_file, &a->events_dir, &name, why, sizeof why);
        if (rc != 0) {
            snprintf(err, errlen, "output.file (%s): %s", cfg->output_file, why);
            return rc;
        }
        if (!(a->events_name = strdup(name)))
            return RP_ERR_NOMEM;
    }
    return 0;
}

static void on_spool_append(void *ctx, uint64_t id)
{
    (void)id;
    rp__agent *a = ctx;
    rp__uploader_wake(a->uploader);
}

static void raise_alert(void *arg, const char *rule_id, const char *rule_name, int severity,
                        const char *message);

/* The formats' own settings (output.auth_scheme, output.elastic, .splunk,
 * .loki, .otlp), borrowed from a config; the uploader copies them. */
#define FORMAT_LABELS_MAX 32
struct format_opts {
    rp__format_ctx ctx;
    rp__format_label loki[FORMAT_LABELS_MAX];
    rp__format_label otlp[FORMAT_LABELS_MAX];
};

static const char *opt_str(const json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    return v && *v ? v : NULL;
}

/* Copies an object of strings into pairs; the schema caps the count. */
static size_t opt_pairs(const json_t *obj, rp__format_label *out)
{
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (n == FORMAT_LABELS_MAX || !json_is_string(v))
            break;
        out[n].name = k;
        out[n].value = json_string_value(v);
        n++;
    }
    return n;
}

static void format_opts_from(const rp__config *cfg, struct format_opts *f)
{
    memset(f, 0, sizeof *f);
    const json_t *out = json_object_get(cfg->root, "output");
    const char *scheme = opt_str(out, "auth_scheme");
    f->ctx.auth_scheme = scheme && strcmp(scheme, "auto") != 0 ? scheme : NULL;
    const json_t *el = json_object_get(out, "elastic");
    f->ctx.elastic_index = opt_str(el, "index");
    const json_t *sp = json_object_get(out, "splunk");
    f->ctx.splunk_index = opt_str(sp, "index");
    f->ctx.splunk_source = opt_str(sp, "source");
    f->ctx.splunk_sourcetype = opt_str(sp, "sourcetype");
    f->ctx.splunk_channel = opt_str(sp, "channel");
    const json_t *lk = json_object_get(out, "loki");
    f->ctx.loki_tenant = opt_str(lk, "tenant");
    f->ctx.loki_job = opt_str(lk, "job");
    f->ctx.loki_label_count = opt_pairs(json_object_get(lk, "labels"), f->loki);
    f->ctx.loki_labels = f->loki;
    const json_t *ot = json_object_get(out, "otlp");
    f->ctx.otlp_resource_count = opt_pairs(json_object_get(ot, "resource_attributes"), f->otlp);
    f->ctx.otlp_resource = f->otlp;
}

/* The uploader's options that come from the config alone; strings
 * borrowed from cfg and fo (filled here). */
static void upload_opts_from_config(const rp__config *cfg, rp__uploader_opts *o,
                                    struct format_opts *fo)
{
    memset(o, 0, sizeof *o);
    format_opts_from(cfg, fo);
    o->format_opts = &fo->ctx;
    enum rp__format f = 0;
    rp__format_parse(cfg->output_format, &f); /* the schema's enum rules out failure */
    o->url = cfg->output_url;
    o->format = f;
    o->ca_file = cfg->output_ca_file;
    o->client_cert = cfg->output_client_cert;
    o->client_key = cfg->output_client_key;
    o->pinned_pubkey = cfg->output_pinned_pubkey;
    o->proxy = cfg->output_proxy;
    o->token_file = cfg->output_token_file;
    o->timeout_ms = cfg->output_timeout_ms;
    o->gzip = cfg->output_gzip;
}

/* The uploader's options from a config; strings borrowed from cfg, a and
 * fo (filled here). */
static int upload_opts(rp__agent *a, const rp__config *cfg, rp__uploader_opts *o,
                       struct format_opts *fo, char *dl_dir, size_t dl_len)
{
    enum rp__format f;
    if (rp__format_parse(cfg->output_format, &f) != 0)
        return RP_ERR_CONFIG; /* the schema's enum rules this out */
    upload_opts_from_config(cfg, o, fo);
    snprintf(dl_dir, dl_len, "%s/deadletter", a->cfg->data_dir);
    o->spool = a->spool;
    o->deadletter_dir = dl_dir;
    o->deadletter = a->deadletter;
    o->deadletter_max_bytes = cfg->deadletter_max_bytes;
    o->host_name = a->hostname;
    o->agent_id = a->agent_id;
    o->on_alert = raise_alert;
    o->alert_arg = a;
    return 0;
}

/* The file that set output.<key> (the key is read from the start of an
 * uploader message: "output.ca_file /x: ..."), or that set output. */
static const char *output_source(const rp__config *cfg, const char *msg)
{
    char key[64] = "";
    if (strncmp(msg, "output.", 7) == 0) {
        size_t n = strcspn(msg + 7, " :");
        if (n < sizeof key) {
            memcpy(key, msg + 7, n);
            key[n] = '\0';
        }
    }
    struct rp__json_seg segv[2] = {{.key = "output"}, {.key = key}};
    return rp__config_source_of(cfg, segv, key[0] ? 2 : 1);
}

struct upload_errors {
    const rp__config *cfg;
    char *err;
    size_t errlen;
    int other; /* a failure that is not the config's fault (memory, libcurl) */
};

static void on_upload_error(void *arg, int rc, const char *message)
{
    struct upload_errors *ue = arg;
    if (rc == RP_ERR_NOMEM || rc == RP_ERR_INTERNAL)
        ue->other = rc;
    rp__config_err_add(ue->err, ue->errlen, "%s: %s", output_source(ue->cfg, message), message);
}

/*
 * Every check of the upload settings that start-up makes, before anything is
 * created: sizes, the spool's fsync mode, and the uploader's own checks of
 * the URL, files, permissions, pin and token (rp__uploader_check_opts).
 * Each problem is a line added to err. Returns 0, RP_ERR_CONFIG, or the
 * code of a failure that is not the config's (RP_ERR_NOMEM...).
 */
static int check_upload(const rp__config *cfg, char *err, size_t errlen)
{
    if (!cfg->output_url)
        return 0;
    int bad = 0;
    if ((uint64_t)cfg->batch_max_bytes * 4 > cfg->spool_max_bytes) {
        struct rp__json_seg segv[2] = {{.key = "output"}, {.key = "batch_max_bytes"}};
        rp__config_err_add(err, errlen,
                           "%s: output.batch_max_bytes: expected at most a quarter of "
                           "spool.max_bytes (%llu), got %u",
                           rp__config_source_of(cfg, segv, 2),
                           (unsigned long long)(cfg->spool_max_bytes / 4), cfg->batch_max_bytes);
        bad = 1;
    }
    enum rp__spool_fsync fs;
    if (rp__spool_fsync_parse(cfg->spool_fsync, &fs) != 0) {
        struct rp__json_seg segv[2] = {{.key = "spool"}, {.key = "fsync"}};
        rp__config_err_add(err, errlen, "%s: spool.fsync: expected always, batch or never",
                           rp__config_source_of(cfg, segv, 2));
        bad = 1;
    }
    rp__uploader_opts uo;
    struct format_opts fo;
    upload_opts_from_config(cfg, &uo, &fo);
    struct upload_errors ue = {cfg, err, errlen, 0};
    if (rp__uploader_check_opts(&uo, on_upload_error, &ue) != 0)
        bad = 1;
    if (ue.other)
        return ue.other;
    return bad ? RP_ERR_CONFIG : 0;
}

/*
 * The config checks that read nothing but the config and the plugins: the
 * upload settings (check_upload), then every plugin's settings against the
 * schema it declares, which host checks as it loads the plugins (loaded,
 * not started). Every error is a line in err, the plugins' after the
 * upload's. Returns 0, RP_ERR_CONFIG, or the code of a failure that is not
 * the config's (err names a failed load).
 */
static int check_upload_and_plugins(const rp__config *cfg, rp__host *host, char *err, size_t errlen)
{
    int rc = check_upload(cfg, err, errlen);
    if (rc != 0 && rc != RP_ERR_CONFIG)
        return rc;
    int bad = rc == RP_ERR_CONFIG;
    size_t used = strlen(err), skip = used ? used + 1 : 0;
    rc = rp__host_load(host, err + skip, errlen - skip);
    if (rc == RP_ERR_CONFIG && used)
        err[used] = '\n'; /* join the plugins' lines to the upload's */
    if (rc != 0 && rc != RP_ERR_CONFIG) {
        snprintf(err, errlen, "cannot load plugins: %s", rp_strerror(rc));
        return rc;
    }
    return bad || rc == RP_ERR_CONFIG ? RP_ERR_CONFIG : 0;
}

static void host_config_error(void *arg, char *err, size_t errlen, const struct rp__json_seg *segv,
                              int depth, const char *line)
{
    const rp__config *cfg = arg;
    rp__config_err_add(err, errlen, "%s: %s", rp__config_source_of(cfg, segv, depth), line);
}

void rp__agent_host_opts(const rp__config *cfg, rp__host_opts *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->plugin_dir = cfg->plugin_dir;
    opts->config_dir = cfg->config_dir;
    opts->plugins = json_object_get(cfg->root, "plugins");
    opts->exclude_rules = json_object_get(json_object_get(cfg->root, "collectors"), "exclude");
    opts->policy = json_object_get(cfg->root, "policy");
    opts->config_error = host_config_error;
    opts->config_error_arg = (void *)cfg;
    opts->data_dir = cfg->data_dir;
    opts->upload_url = cfg->output_url;
    opts->proxy_url = cfg->output_proxy;
    const json_t *agent = json_object_get(cfg->root, "agent");
    opts->trusted_keys = json_object_get(agent, "trusted_keys");
    opts->require_signed_plugins = json_is_true(json_object_get(agent, "require_signed_plugins"));
    opts->rss_ceiling = cfg->max_rss_bytes;
}

int rp__agent_check_config(const rp__config *cfg, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    /* A host of its own that only loads the plugins (entry only; nothing is
     * started), for check_upload_and_plugins. */
    rp__host *host = NULL;
    rp__host_opts hopts;
    rp__agent_host_opts(cfg, &hopts);
    hopts.load_only = 1;
    int rc = rp__host_create(&hopts, &host);
    if (rc != 0)
        return rc;
    rc = check_upload_and_plugins(cfg, host, err, errlen);
    if (rc != 0 && rc != RP_ERR_CONFIG) {
        rp__host_destroy(host);
        return rc;
    }
    int bad = rc == RP_ERR_CONFIG;
    /* The agent would run without a refused plugin (degraded); a check
     * should not pass it quietly. An empty error is a config refused above. */
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        rp__plugin_info info;
        rp__host_plugin_info(host, i, &info);
        if (info.state == RP__PLUGIN_REFUSED && info.error[0]) {
            struct rp__json_seg segv[2] = {{.key = "plugins"}, {.key = info.name}};
            rp__config_err_add(err, errlen, "%s: plugins.%s: %s",
                               rp__config_source_of(cfg, segv, 2), info.name, info.error);
            bad = 1;
        }
    }
    rp__host_destroy(host);
    /* Start-up refuses a data folder others can change; so does the check,
     * when the folder is there already. */
    char why[RP__CONFIG_ERR_MAX / 2];
    int drc = rp__os_dir_check_private(cfg->data_dir, why, sizeof why);
    if (drc != 0 && drc != RP_ERR_NOTFOUND) {
        struct rp__json_seg segv[2] = {{.key = "agent"}, {.key = "data_dir"}};
        rp__config_err_add(err, errlen, "%s: agent.data_dir: %s",
                           rp__config_source_of(cfg, segv, 2), why);
        bad = 1;
    }
    return bad ? RP_ERR_CONFIG : 0;
}

/* The bus, the loop and the plugin host over them, from the boot config. No
 * thread yet: the agent may still fork to daemonize. */
static int create_runtime(rp__agent *a)
{
    const rp__config *cfg = a->boot_cfg;
    rp__bus_opts bo;
    rp__bus_opts_init(&bo);
    bo.max_bytes = cfg->bus_max_bytes;
    bo.sub_max_bytes = cfg->bus_max_bytes / 100 * cfg->budget_bus_share_percent;
    rp__loop_opts lo = {.slice_us = cfg->loop_slice_us,
                        .realtime_max_cpu_pct = cfg->loop_rt_max_cpu_pct};
    int rc;
    if ((rc = rp__bus_create(&bo, &a->bus)) != 0 || (rc = rp__loop_create(&lo, &a->loop)) != 0)
        return rc;
    rp__host_opts ho;
    rp__agent_host_opts(cfg, &ho);
    ho.bus = a->bus;
    ho.loop = a->loop;
    return rp__host_create(&ho, &a->host);
}

/* Opens the spool and makes the uploader when output.url is set. Config
 * mistakes (a bad URL, a missing or readable token file, bad certificates)
 * are RP_ERR_CONFIG, every one a line naming the file and the key. */
static int prepare_upload(rp__agent *a, char *err, size_t errlen)
{
    const rp__config *cfg = a->cfg;
    if (!cfg->output_url)
        return 0;
    /* check_upload has run (rp__agent_prepare). */
    int rc;
    const char *src = cfg->overlay_doc && json_object_get(cfg->overlay_doc, "output")
                          ? cfg->site_file
                          : cfg->main_file;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/spool", cfg->data_dir);
    rp__spool_opts so;
    rp__spool_opts_init(&so, dir);
    so.folder = a->spool_dir; /* opened and checked by open_state_folders */
    so.max_bytes = cfg->spool_max_bytes;
    so.fsync_interval_ms = cfg->flush_interval_ms;
    so.on_append = on_spool_append;
    so.on_append_ctx = a;
    if (rp__spool_fsync_parse(cfg->spool_fsync, &so.fsync) != 0) {
        snprintf(err, errlen, "%s: spool.fsync: expected always, batch or never", src);
        return RP_ERR_CONFIG;
    }
    rc = rp__spool_open(&so, &a->spool);
    /* The spool keeps a handle of its own. */
    rp__os_dir_close(a->spool_dir);
    a->spool_dir = NULL;
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot open the spool: %s", dir, rp_strerror(rc));
        return rc;
    }
    rp__uploader_opts uo;
    struct format_opts fo;
    char dl[4096];
    upload_opts(a, cfg, &uo, &fo, dl, sizeof dl);
    char uerr[1024] = "";
    rc = rp__uploader_create(&uo, &a->uploader, uerr, sizeof uerr);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", src, uerr[0] ? uerr : rp_strerror(rc));
        return rc == RP_ERR_NOMEM || rc == RP_ERR_IO ? rc : RP_ERR_CONFIG;
    }
    return 0;
}

int rp__agent_prepare(rp__agent *a, long *holder_pid, char *err, size_t errlen)
{
    const rp__config *cfg = a->cfg;
    if (err && errlen)
        err[0] = '\0';
    /* The config checks run before the disk is touched, as in
     * --check-config: the upload settings, then every plugin's (loaded, not
     * started, before the agent detaches so that the errors reach the
     * terminal with status 78). All errors are reported together. No
     * thread exists yet: the host starts its threads in rp__agent_start. */
    int rc = create_runtime(a);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create the plugin host: %s", rp_strerror(rc));
        return rc;
    }
    if ((rc = check_upload_and_plugins(cfg, a->host, err, errlen)) != 0)
        return rc;

    rc = rp__os_mkdir_p(cfg->data_dir, 0750);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot create the data folder (agent.data_dir): %s",
                 cfg->data_dir, rp_strerror(rc));
        return rc;
    }
    if ((rc = open_state_folders(a, holder_pid, err, errlen)) != 0)
        return rc;
    rc = load_agent_id(a);
    if (rc != 0) {
        snprintf(err, errlen, "%s/agent_id: cannot read or create the agent id: %s", cfg->data_dir,
                 rp_strerror(rc));
        return rc;
    }
    return prepare_upload(a, err, errlen);
}

static void flush_arm(rp__agent *a);

/* The flush timer is a one-shot re-armed while the sink holds anything;
 * once a tick leaves it empty the timer lapses, and the sink's next event
 * arms it again (flush_wake), so an idle agent never wakes to flush. */
static void flush_tick(void *arg)
{
    rp__agent *a = arg;
    int idle = 0;
    rp__sink_tick(a->sink, &idle);
    if (!idle)
        flush_arm(a);
}

static void flush_arm(rp__agent *a)
{
    uint64_t id;
    /* The boot config: this runs on the bus and loop threads, and a reload
     * replaces (and frees) a->cfg under them; output batching changes take
     * effect at restart anyway. */
    int rc =
        rp__loop_timer_add(a->loop, NULL, a->boot_cfg->flush_interval_ms, 0, flush_tick, a, &id);
    if (rc != 0)
        rp__log_error("cannot arm the flush timer: %s; events wait for the next one",
                      rp_strerror(rc));
}

static void flush_wake(void *arg)
{
    flush_arm(arg);
}

/* Setters by field name for the agent's own events (interning is cached by
 * the registry; these run a few times a minute at most). A field the
 * registry refuses is skipped: the event still goes out. */
static void put_str(struct rp_event *ev, const char *name, const char *v)
{
    rp_field_id f;
    if (v && rp__field_intern(name, strlen(name), RP_TYPE_STR, &f) == 0)
        rp__event_set_str(ev, f, v, strlen(v));
}

static void put_i64(struct rp_event *ev, const char *name, int64_t v)
{
    rp_field_id f;
    if (rp__field_intern(name, strlen(name), RP_TYPE_I64, &f) == 0)
        rp__event_set_i64(ev, f, v);
}

static void put_arr1(struct rp_event *ev, const char *name, const char *v)
{
    rp_field_id f;
    rp_str item = {v, strlen(v)};
    if (rp__field_intern(name, strlen(name), RP_TYPE_STR_ARRAY, &f) == 0)
        rp__event_set_str_array(ev, f, &item, 1);
}

/* A new event of the agent's own with the agent and host fields set. */
static struct rp_event *agent_event(rp__agent *a, const char *topic_name)
{
    uint32_t topic;
    struct rp_event *ev;
    if (!a->host_running || rp__topic_intern(topic_name, strlen(topic_name), &topic) != 0 ||
        rp__event_create(topic, topic_name, 0, &ev) != 0)
        return NULL;
    put_str(ev, "event.dataset", "rampart.agent");
    put_str(ev, "agent.type", "rampart");
    put_str(ev, "agent.version", RP_VERSION);
    put_str(ev, "agent.id", a->agent_id);
    put_str(ev, "host.hostname", a->hostname);
    put_i64(ev, "process.pid", rp__os_getpid());
    /* The boot config: other threads call this, and a reload replaces
     * a->cfg under them. */
    if (a->boot_cfg->site)
        put_str(ev, "labels.site", a->boot_cfg->site);
    return ev;
}

/* Publishes one of the agent's own lifecycle events through the bus, so it
 * takes the same path to the outputs as every plugin event. A reason (may
 * be NULL) goes to event.reason and marks the agent degraded
 * (rampart.state). */
static void emit_agent_event_reason(rp__agent *a, const char *action, const char *category,
                                    const char *type, const char *outcome, const char *message,
                                    const char *reason)
{
    struct rp_event *ev = agent_event(a, "agent.lifecycle");
    if (!ev)
        return;
    put_arr1(ev, "event.category", category);
    put_arr1(ev, "event.type", type);
    put_str(ev, "event.action", action);
    put_str(ev, "event.outcome", outcome);
    put_str(ev, "message", message);
    if (reason) {
        put_str(ev, "event.reason", reason);
        put_str(ev, "rampart.state", "degraded");
    }
    rp__bus_publish(a->bus, ev);
}

static void emit_agent_event(rp__agent *a, const char *action, const char *category,
                             const char *type, const char *outcome, const char *message)
{
    emit_agent_event_reason(a, action, category, type, outcome, message, NULL);
}

/* An alert of the agent's own (topic "alert", kind alert): spool drops and
 * damage, dead letters, paused uploads. Also logged by the caller. Any
 * thread. */
static void raise_alert(void *arg, const char *rule_id, const char *rule_name, int severity,
                        const char *message)
{
    rp__agent *a = arg;
    struct rp_event *ev = agent_event(a, "alert");
    if (!ev)
        return;
    put_arr1(ev, "event.category", "host");
    put_arr1(ev, "event.type", "info");
    put_str(ev, "event.action", rule_id);
    put_str(ev, "rule.id", rule_id);
    put_str(ev, "rule.name", rule_name);
    put_str(ev, "rule.ruleset", "rampart");
    put_i64(ev, "event.severity", severity);
    put_str(ev, "message", message);
    rp__bus_publish(a->bus, ev);
}

/* ---- plugin failures: the agent's state ------------------------------------ */

#define DEGRADED_REASON_MAX 1024

/*
 * The agent is "degraded" while an enabled plugin is not running because it
 * could not be loaded or failed to start (or failed later); reason lists
 * them ("plugin file: start failed: ...; plugin x: ..."), cut to fit.
 * Returns 1 when degraded. *running and *enabled may be NULL.
 */
static int plugin_state(const rp__agent *a, size_t *running, size_t *enabled, char *reason,
                        size_t len)
{
    size_t on = 0, run = 0, pos = 0;
    int degraded = 0;
    if (len)
        reason[0] = '\0';
    for (size_t i = 0; a->host && i < rp__host_plugin_count(a->host); i++) {
        rp__plugin_info pi;
        if (rp__host_plugin_info(a->host, i, &pi) != 0)
            continue;
        on++;
        if (pi.state == RP__PLUGIN_RUNNING && !pi.hung) {
            run++;
            continue;
        }
        if (pi.state != RP__PLUGIN_REFUSED && pi.state != RP__PLUGIN_FAILED &&
            pi.state != RP__PLUGIN_DISABLED && !pi.hung)
            continue; /* loaded or stopping: not a failure */
        degraded = 1;
        if (pos < len) {
            int n = snprintf(reason + pos, len - pos, "%splugin %s: %s", pos ? "; " : "", pi.name,
                             pi.hung       ? "hung in a callback past its deadline"
                             : pi.error[0] ? pi.error
                                           : "not running");
            pos = n < 0 ? len : pos + (size_t)n;
        }
    }
    if (running)
        *running = run;
    if (enabled)
        *enabled = on;
    return degraded;
}

/* One rampart.plugin.failed alert per plugin that failed, the first time
 * it is seen failed (at start-up, or at a later health tick). */
static void alert_plugin_failures(rp__agent *a)
{
    for (size_t i = 0; i < a->nplugin_alerted; i++) {
        rp__plugin_info pi;
        if (a->plugin_alerted[i] || rp__host_plugin_info(a->host, i, &pi) != 0 ||
            (pi.state != RP__PLUGIN_REFUSED && pi.state != RP__PLUGIN_FAILED))
            continue;
        a->plugin_alerted[i] = 1;
        char msg[768];
        snprintf(msg, sizeof msg, "plugin %s is not running, the agent is degraded: %s", pi.name,
                 pi.error[0] ? pi.error : "unknown reason");
        raise_alert(a, "rampart.plugin.failed", "Plugin failed: agent degraded", 73, msg);
    }
}

/* The alerts a worker raises once it runs (supervisor.h): why the
 * supervisor restarted it, and each plugin the fault ledger disabled. */
void rp__agent_announce(rp__agent *a, const char *restart_cause, uint32_t restarts)
{
    if (restart_cause && restart_cause[0]) {
        char msg[768];
        snprintf(msg, sizeof msg, "%.600s (restart %u)", restart_cause, restarts);
        rp__log_warn("%s", msg);
        raise_alert(a, "rampart.agent.restarted", "Agent worker restarted", 73, msg);
    }
    rp__os_mutex_lock(a->health_lock);
    for (size_t i = 0; i < a->nplugin_alerted; i++) {
        rp__plugin_info pi;
        if (a->plugin_alerted[i] || rp__host_plugin_info(a->host, i, &pi) != 0 ||
            pi.state != RP__PLUGIN_DISABLED)
            continue;
        a->plugin_alerted[i] = 1;
        char msg[768];
        snprintf(msg, sizeof msg, "plugin %s is disabled: %s", pi.name, pi.error);
        raise_alert(a, "rampart.plugin.disabled", "Plugin disabled after repeated faults", 73, msg);
    }
    rp__os_mutex_unlock(a->health_lock);
}

/* ---- agent.health and status.json ------------------------------------------ */

static void jset_u(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)(v > INT64_MAX ? INT64_MAX : v)));
}

/* A uint64_t or uint32_t member of a stats struct, shown in status.json
 * under key (its own name with U64_MEMBER). The sizeof compares pointers
 * without evaluating them: a member of another type fails to compile. */
struct u64_member {
    const char *name;
    size_t off;
    size_t size;
};
/* clang-format cannot lay out a braced initializer in a macro. */
/* clang-format off */
#define UINT_MEMBER(type, member, key, utype) \
    {key, offsetof(type, member), sizeof(utype) + 0 * sizeof(&((type *)0)->member == (utype *)0)}
/* clang-format on */
#define U64_MEMBER(type, member)    UINT_MEMBER(type, member, #member, uint64_t)
#define U64_MEMBERS(o, stats, list) jset_members(o, &(stats), list, sizeof list / sizeof list[0])

static void jset_members(json_t *o, const void *stats, const struct u64_member *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t v;
        uint32_t v32;
        if (m[i].size == sizeof v32) {
            memcpy(&v32, (const char *)stats + m[i].off, sizeof v32);
            v = v32;
        } else {
            memcpy(&v, (const char *)stats + m[i].off, sizeof v);
        }
        jset_u(o, m[i].name, v);
    }
}

#define FLOW(m) U64_MEMBER(rp__host_flow, m)
static const struct u64_member flow_members[] = {
    FLOW(queued_bytes),
    FLOW(peak_bytes),
    FLOW(max_bytes),
    FLOW(refused_full),
    UINT_MEMBER(rp__host_flow, episodes, "full_episodes", uint64_t),
    FLOW(suspensions),
    UINT_MEMBER(rp__host_flow, suspended_now, "suspended_plugins", uint32_t)};
/* The RSS ceiling, under "memory" in agent.health and status. */
static const struct u64_member rss_members[] = {
    UINT_MEMBER(rp__host_flow, rss_ceiling, "max_rss_bytes", uint64_t),
    UINT_MEMBER(rp__host_flow, rss_last, "rss_bytes", uint64_t),
    UINT_MEMBER(rp__host_flow, rss_refused, "refused", uint64_t),
    UINT_MEMBER(rp__host_flow, rss_episodes, "ceiling_episodes", uint64_t),
    UINT_MEMBER(rp__host_flow, rss_over, "over_ceiling", uint32_t)};
#undef FLOW
#define LOOP(m) U64_MEMBER(rp__loop_stats, m)
static const struct u64_member loop_members[] = {
    LOOP(wakeups), LOOP(callbacks), UINT_MEMBER(rp__loop_stats, realtime, "realtime", uint32_t),
    LOOP(rt_demotions)};
#undef LOOP
#define SINK(m) U64_MEMBER(rp__sink_stats, m)
static const struct u64_member sink_members[] = {SINK(events), SINK(bytes), SINK(encode_errors),
                                                 SINK(write_errors)};
static const struct u64_member sink_file_members[] = {SINK(rotations), SINK(rotation_bursts)};
static const struct u64_member sink_spool_members[] = {
    SINK(batches),      SINK(batch_raw_bytes), SINK(batch_bytes),     SINK(spilled_batches),
    SINK(spool_errors), SINK(held_batches),    SINK(dropped_batches), SINK(dropped_events)};
#undef SINK
#define SPOOL(m) U64_MEMBER(rp__spool_stats, m)
static const struct u64_member spool_members[] = {
    SPOOL(queued_batches),      SPOOL(queued_events),
    SPOOL(queued_bytes),        SPOOL(disk_bytes),
    SPOOL(max_bytes),           SPOOL(appended_events),
    SPOOL(acked_events),        SPOOL(dropped_full_batches),
    SPOOL(dropped_full_events), SPOOL(dropped_full_bytes),
    SPOOL(refused_full),        SPOOL(enospc),
    SPOOL(cut_torn_records),    SPOOL(cut_torn_bytes),
    SPOOL(corrupt_records),     SPOOL(corrupt_events),
    SPOOL(corrupt_bytes),       SPOOL(io_errors)};
#undef SPOOL
#define COMMAND(m) U64_MEMBER(rp__command_stats, m)
static const struct u64_member command_members[] = {
    COMMAND(started), COMMAND(refused_busy), COMMAND(timeouts), COMMAND(replies), COMMAND(failed)};
#undef COMMAND
#define UPLOAD(m) U64_MEMBER(rp__uploader_stats, m)
static const struct u64_member upload_members[] = {UPLOAD(requests),
                                                   UPLOAD(delivered_batches),
                                                   UPLOAD(delivered_events),
                                                   UPLOAD(sent_bytes),
                                                   UPLOAD(retries),
                                                   UPLOAD(transport_errors),
                                                   UPLOAD(splits),
                                                   UPLOAD(dead_batches),
                                                   UPLOAD(dead_events),
                                                   UPLOAD(deadletter_bytes),
                                                   UPLOAD(deadletter_deleted),
                                                   UPLOAD(pauses)};
#undef UPLOAD

/* A plugin's state as status.json and the control socket name it. */
static const char *plugin_state_name(unsigned state)
{
    static const char *const states[] = {"refused", "loaded",  "initialized", "running",
                                         "failed",  "stopped", "disabled"};
    return state < sizeof states / sizeof states[0] ? states[state] : "?";
}

/* Plugin i's counters as one JSON object, name -> value. */
static json_t *plugin_counters(rp__agent *a, size_t i, uint32_t n)
{
    json_t *c = json_object();
    for (uint32_t k = 0; k < n; k++) {
        const char *name;
        uint64_t v;
        if (rp__host_plugin_counter(a->host, i, k, &name, &v) == 0)
            jset_u(c, name, v);
    }
    return c;
}

/* Plugin i's gauges as one JSON object, name -> value. */
static json_t *plugin_gauges(rp__agent *a, size_t i)
{
    json_t *g = json_object();
    const char *name;
    int64_t v;
    for (uint32_t k = 0; rp__host_plugin_gauge(a->host, i, k, &name, &v) == 0; k++)
        json_object_set_new(g, name, json_integer(v));
    return g;
}

/* What status.json and the control socket's plugins reply both say of plugin
 * i (each names its event counts in its own words). */
static void plugin_figures(rp__agent *a, size_t i, const rp__plugin_info *pi, json_t *o)
{
    /* hung: a call of it overran its deadline (watchdog.c); it is still
     * running as far as its lifecycle goes. */
    json_object_set_new(o, "state", json_string(pi->hung ? "hung" : plugin_state_name(pi->state)));
    if (pi->error[0])
        json_object_set_new(o, "error", json_string(pi->error));
    jset_u(o, "dropped", pi->dropped);
    jset_u(o, "lifecycle_dropped", pi->lifecycle_dropped);
    jset_u(o, "refused_full", pi->publish_full);
    jset_u(o, "cpu_ms", pi->cpu_ns / 1000000);
    json_object_set_new(o, "over_cpu_budget", json_boolean(pi->over_cpu_budget));
    jset_u(o, "budget_dropped", pi->budget_dropped);
    jset_u(o, "hung_dropped", pi->hung_dropped);
    jset_u(o, "bus_share_dropped", pi->share_dropped);
    jset_u(o, "bus_held_bytes", pi->held_bytes);
    jset_u(o, "file_reloads", pi->file_reloads);
    jset_u(o, "file_reloads_refused", pi->file_reloads_refused);
    json_object_set_new(o, "counters", plugin_counters(a, i, pi->ncounters));
    json_object_set_new(o, "gauges", plugin_gauges(a, i));
    json_object_set_new(o, "capabilities", rp__host_caps_json(pi->caps_declared, pi->capabilities));
    if (pi->isolated) /* plugins.<name>.isolation "process" (runtime/isolate.h) */
        json_object_set_new(o, "sandbox",
                            json_pack("{s:I, s:I, s:I}", "pid", (json_int_t)pi->sandbox_pid,
                                      "restarts", (json_int_t)pi->sandbox_restarts, "events_lost",
                                      (json_int_t)pi->sandbox_lost));
}

static void refused_type(void *arg, const char *type, uint64_t n)
{
    jset_u(arg, type, n);
}

/* Everything the agent knows about itself, as one JSON document: the body of
 * <data_dir>/status.json and, flattened, of the agent.health event. */
static json_t *health_doc(rp__agent *a)
{
    json_t *d = json_object();
    int64_t now = rp__os_time_ns();
    char ts[RP__JSON_TIMESTAMP_MAX + 1];
    rp__json_format_timestamp(now, ts);
    json_object_set_new(d, "time", json_string(ts));
    json_object_set_new(d, "version", json_string(RP_VERSION));
    json_object_set_new(d, "agent_id", json_string(a->agent_id));
    char reason[DEGRADED_REASON_MAX];
    int degraded = plugin_state(a, NULL, NULL, reason, sizeof reason);
    json_object_set_new(d, "state", json_string(degraded ? "degraded" : "ok"));
    if (degraded)
        json_object_set_new(d, "state_reason", json_string(reason));
    jset_u(d, "pid", (uint64_t)rp__os_getpid());
    json_t *sv = rp__supervisor_status(); /* its pid, the restarts and the last cause */
    if (sv)
        json_object_set_new(d, "supervisor", sv);
    jset_u(d, "uptime_s", (uint64_t)((now - a->started_ns) / 1000000000));
    int64_t cpu = 0;
    uint64_t rss = 0;
    if (rp__os_process_usage(&cpu, &rss) == 0) {
        jset_u(d, "cpu_ms", (uint64_t)(cpu / 1000000));
        jset_u(d, "peak_rss_bytes", rss);
    }
    rp__bus_stats bs;
    rp__bus_stats_total(a->bus, &bs);
    json_t *bus = json_object();
    jset_u(bus, "published", bs.published);
    jset_u(bus, "dropped", bs.dropped);
    rp__host_flow fl;
    rp__host_flow_stats(a->host, &fl);
    U64_MEMBERS(bus, fl, flow_members);
    json_t *by_type = json_object();
    rp__host_refused_by_type(a->host, refused_type, by_type);
    json_object_set_new(bus, "refused_full_by_type", by_type);
    json_object_set_new(d, "bus", bus);
    /* The RSS ceiling: the current RSS is sampled while events flow, so an
     * idle agent's figure is read here. */
    if (rp__os_process_rss(&fl.rss_last) != 0)
        fl.rss_last = 0;
    json_t *mem = json_object();
    U64_MEMBERS(mem, fl, rss_members);
    json_object_set_new(d, "memory", mem);

    rp__loop_stats ls;
    rp__loop_get_stats(a->loop, &ls);
    json_t *loop = json_object();
    U64_MEMBERS(loop, ls, loop_members);
    json_object_set_new(d, "loop", loop);

    rp__sink_stats ss;
    rp__sink_get_stats(a->sink, &ss);
    json_t *sink = json_object();
    U64_MEMBERS(sink, ss, sink_members);
    if (a->spool)
        U64_MEMBERS(sink, ss, sink_spool_members);
    else
        U64_MEMBERS(sink, ss, sink_file_members);
    json_object_set_new(d, "sink", sink);

    if (a->spool) {
        rp__spool_stats sp;
        rp__spool_get_stats(a->spool, &sp);
        json_t *o = json_object();
        U64_MEMBERS(o, sp, spool_members);
        json_object_set_new(d, "spool", o);
    }
    if (a->uploader) {
        rp__uploader_stats us;
        rp__uploader_get_stats(a->uploader, &us);
        json_t *o = json_object();
        json_object_set_new(o, "state",
                            json_string(us.paused    ? "paused"
                                        : us.waiting ? "retrying"
                                                     : "running"));
        U64_MEMBERS(o, us, upload_members);
        json_object_set_new(o, "last_status", json_integer(us.last_status));
        json_object_set_new(o, "last_error", json_string(us.last_error));
        json_object_set_new(d, "upload", o);
    }
    /* Plugin commands through the control socket (rampartctl plugin). */
    rp__command_stats cs;
    rp__host_command_stats(a->host, &cs);
    json_t *cmds = json_object();
    U64_MEMBERS(cmds, cs, command_members);
    json_object_set_new(d, "plugin_commands", cmds);
    json_t *plugins = json_object();
    for (size_t i = 0; i < rp__host_plugin_count(a->host); i++) {
        rp__plugin_info pi;
        if (rp__host_plugin_info(a->host, i, &pi) != 0)
            continue;
        json_t *o = json_object();
        jset_u(o, "published", pi.published);
        jset_u(o, "delivered", pi.delivered);
        jset_u(o, "suspensions", pi.suspensions);
        json_object_set_new(o, "suspended", json_boolean(pi.suspended));
        plugin_figures(a, i, &pi, o);
        json_object_set_new(plugins, pi.name, o);
    }
    json_object_set_new(d, "plugins", plugins);
    json_object_set_new(d, "capabilities", rp__privileges_json(&a->privs));
    rp__secrets_scrub_json(d); /* errors plugins or a backend wrote may quote a secret */
    return d;
}

/* Sets rampart.<path> = value for every number, string and boolean of doc;
 * counts in *left_out the figures the event had no room for (its field and
 * data caps) or whose names the registry refused. */
static void flatten(struct rp_event *ev, const json_t *doc, char *prefix, size_t plen, size_t cap,
                    uint64_t *left_out)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        int n = snprintf(prefix + plen, cap - plen, "%s%s", plen ? "." : "", k);
        if (n < 0 || (size_t)n >= cap - plen) {
            (*left_out)++;
            continue;
        }
        rp_field_id f;
        int rc = 0;
        if (json_is_object(v)) {
            flatten(ev, v, prefix, plen + (size_t)n, cap, left_out);
        } else if (rp__event_field_count(ev) >= RP__EVENT_MAX_FIELDS - 1) {
            rc = RP_ERR_FULL; /* the last field is kept for event.truncated */
        } else if (json_is_integer(v)) {
            if ((rc = rp__field_intern(prefix, strlen(prefix), RP_TYPE_I64, &f)) == 0)
                rc = rp__event_set_i64(ev, f, json_integer_value(v));
        } else if (json_is_string(v)) {
            if ((rc = rp__field_intern(prefix, strlen(prefix), RP_TYPE_STR, &f)) == 0)
                rc = rp__event_set_str(ev, f, json_string_value(v), json_string_length(v));
        } else if (json_is_boolean(v)) {
            if ((rc = rp__field_intern(prefix, strlen(prefix), RP_TYPE_BOOL, &f)) == 0)
                rc = rp__event_set_bool(ev, f, json_is_true(v));
        }
        if (rc != 0)
            (*left_out)++;
        prefix[plen] = '\0';
    }
}

/* When a loss counter has grown since the last look (*seen): remembers it,
 * logs the message as an error and raises it as an alert. */
static void RP__PRINTF(7, 8)
    report_rise(rp__agent *a, uint64_t now, uint64_t *seen, const char *rule_id,
                const char *rule_name, int severity, const char *fmt, ...)
{
    if (now <= *seen)
        return;
    *seen = now;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rp__log_error("%s", msg);
    raise_alert(a, rule_id, rule_name, severity, msg);
}

/* Alerts for what the spool and the sink lost since the last look. */
static void check_losses(rp__agent *a)
{
    if (a->spool) {
        rp__spool_stats sp;
        rp__spool_get_stats(a->spool, &sp);
        report_rise(a, sp.dropped_full_events + sp.dropped_full_batches, &a->alerted_spool_dropped,
                    "rampart.spool.dropped", "Spool full: oldest events dropped", 73,
                    "spool full (spool.max_bytes %llu, or the disk): dropped the oldest %llu "
                    "batches, %llu events, %llu bytes so far",
                    (unsigned long long)sp.max_bytes, (unsigned long long)sp.dropped_full_batches,
                    (unsigned long long)sp.dropped_full_events,
                    (unsigned long long)sp.dropped_full_bytes);
        /* Damage found on disk, of its own lower severity. */
        report_rise(a, sp.corrupt_records + sp.cut_torn_records, &a->alerted_spool_corrupt,
                    "rampart.spool.corrupt", "Spool damaged: records cut", 47,
                    "spool damage found and cut: %llu torn records (%llu bytes), %llu corrupt "
                    "records (%llu events, %llu bytes)",
                    (unsigned long long)sp.cut_torn_records, (unsigned long long)sp.cut_torn_bytes,
                    (unsigned long long)sp.corrupt_records, (unsigned long long)sp.corrupt_events,
                    (unsigned long long)sp.corrupt_bytes);
    }
    rp__sink_stats ss;
    rp__sink_get_stats(a->sink, &ss);
    report_rise(a, ss.dropped_events, &a->alerted_sink_dropped, "rampart.sink.dropped",
                "Events dropped before the spool", 73,
                "the spool refused batches for too long: %llu events dropped from memory",
                (unsigned long long)ss.dropped_events);
    /* A full bus: one alert per episode at most, and one per health tick. */
    rp__host_flow fl;
    rp__host_flow_stats(a->host, &fl);
    report_rise(a, fl.rss_episodes, &a->alerted_rss_episodes, "rampart.memory.ceiling",
                "Memory ceiling reached: events refused, collectors paused", 73,
                "the agent reached its memory ceiling (agent.max_rss_bytes %llu, %llu bytes "
                "resident at the last sample) %llu times: %llu events of plugins were refused and "
                "collectors stopped reading their kernel sources meanwhile",
                (unsigned long long)fl.rss_ceiling, (unsigned long long)fl.rss_last,
                (unsigned long long)fl.rss_episodes, (unsigned long long)fl.rss_refused);
    if (fl.episodes > a->alerted_bus_episodes) {
        char per_plugin[256] = "";
        size_t n = 0;
        for (size_t i = 0; n < sizeof per_plugin && i < rp__host_plugin_count(a->host); i++) {
            rp__plugin_info pi;
            int k = 0;
            if (rp__host_plugin_info(a->host, i, &pi) == 0 && pi.publish_full)
                k = snprintf(per_plugin + n, sizeof per_plugin - n, " %s %llu", pi.name,
                             (unsigned long long)pi.publish_full);
            n += k > 0 ? (size_t)k : 0;
        }
        report_rise(a, fl.episodes, &a->alerted_bus_episodes, "rampart.bus.full",
                    "Event bus full: events refused, collectors paused", 73,
                    "event bus full (agent.bus_max_bytes %llu): %llu events refused in %llu "
                    "episodes; collectors stopped reading their kernel sources %llu times, so "
                    "the kernel dropped what came meanwhile (counted by each plugin as "
                    "overflows). Refused per plugin:%s",
                    (unsigned long long)fl.max_bytes, (unsigned long long)fl.refused_full,
                    (unsigned long long)fl.episodes, (unsigned long long)fl.suspensions,
                    per_plugin);
    }
    report_rise(a, ss.rotation_bursts, &a->alerted_rotation_bursts, "rampart.output.rotations",
                "Events file rotating too fast", 73,
                "the events file %s rotated more than %u times in a minute (%llu rotations so "
                "far): older local events are being rotated away, perhaps on purpose",
                a->cfg->output_file ? a->cfg->output_file : "",
                a->boot_cfg->output_file_max_rotations_per_min, (unsigned long long)ss.rotations);
}

/* Rewrites <data_dir>/status.json; returns the document (caller decrefs). */
static json_t *write_status(rp__agent *a)
{
    json_t *doc = health_doc(a);
    if (!doc)
        return NULL;
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text) {
        size_t len = strlen(text);
        text[len] = '\n'; /* the NUL's place: written as len + 1 bytes */
        rp__os_dir_write_atomic(a->data, "status.json", text, len + 1, 0640);
        free(text);
    }
    return doc;
}

static void health_tick(void *arg)
{
    rp__agent *a = arg;
    rp__os_mutex_lock(a->health_lock);
    if (a->health_off) {
        rp__os_mutex_unlock(a->health_lock);
        return;
    }
    check_losses(a);
    alert_plugin_failures(a);
    json_t *doc = write_status(a);
    rp__os_mutex_unlock(a->health_lock);
    if (!doc)
        return;
    struct rp_event *ev = agent_event(a, "agent.health");
    if (ev) {
        put_arr1(ev, "event.category", "host");
        put_arr1(ev, "event.type", "info");
        put_str(ev, "event.action", "agent-health");
        char prefix[256] = "rampart";
        uint64_t left_out = 0;
        flatten(ev, doc, prefix, strlen(prefix), sizeof prefix, &left_out);
        if (left_out) {
            /* Many plugins with many counters outgrow one event: say the
             * event is incomplete rather than let it look whole.
             * status.json has every figure. */
            rp_field_id t = rp__event_truncated_field();
            if (t)
                rp__event_set_bool(ev, t, 1);
            if (!a->health_cut_logged) {
                a->health_cut_logged = 1;
                rp__log_warn("agent.health: %llu figures did not fit in the event (at most %u "
                             "fields); it is marked event.truncated, and status.json has them all",
                             (unsigned long long)left_out, RP__EVENT_MAX_FIELDS);
            }
        }
        rp__bus_publish(a->bus, ev);
    }
    json_decref(doc);
}

static uint64_t sink_backlog(void *arg)
{
    rp__agent *a = arg;
    rp__bus_sub_stats st;
    if (rp__bus_stats_sub(a->bus, a->sink_sub, &st) != 0)
        return 0;
    return st.queued + st.overflow_depth;
}

/* The identity every line carries (core/output/ndjson.h): which machine, which
 * agent, which site, and the operator's labels (agent.labels). */
static int build_stamp(rp__agent *a)
{
    const rp__config *cfg = a->boot_cfg;
    rp__ndjson_stamp *st = &a->stamp;
    char machine[64];
    int rc = 0;
    rp__ndjson_stamp_init(st);
#define STAMP(name, v)                                                                             \
    do {                                                                                           \
        if (rc == 0)                                                                               \
            rc = rp__ndjson_stamp_add(st, name, v, strlen(v));                                     \
    } while (0)
    STAMP("agent.id", a->agent_id);
    STAMP("agent.type", "rampart");
    STAMP("agent.version", RP_VERSION);
    if (a->hostname[0]) {
        STAMP("host.name", a->hostname);
        STAMP("host.hostname", a->hostname);
    }
    int mrc = rp__os_machine_id(machine, sizeof machine);
    if (mrc == 0)
        STAMP("host.id", machine);
    else
        rp__log_warn("no machine id for host.id (%s); events carry agent.id only",
                     rp_strerror(mrc));
    if (cfg->site)
        STAMP("labels.site", cfg->site);
#undef STAMP
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(json_object_get(cfg->root, "agent"), "labels"), k, v)
    {
        char name[96];
        snprintf(name, sizeof name, "labels.%s", k);
        const char *val = json_string_value(v);
        if (rc != 0 || !val)
            break;
        rc = rp__ndjson_stamp_add(st, name, val, strlen(val));
        if (rc == RP_ERR_EXISTS) {
            /* Only "site" can collide (a JSON object has no key twice): the
             * chosen site wins over a label of that name. */
            rp__log_warn("agent.labels.%s: ignored, labels.%s is set by the agent", k, k);
            rc = 0;
        }
    }
    if (rc != 0)
        rp__log_error("cannot build the identity fields of events: %s", rp_strerror(rc));
    return rc;
}

static int open_outputs(rp__agent *a)
{
    int rc = build_stamp(a);
    if (rc != 0)
        return rc;
    rp__sink_opts so = {
        .file = a->cfg->output_file,
        .file_dir = a->events_dir,
        .file_name = a->events_name,
        .file_max_bytes = a->cfg->output_file_max_bytes,
        .file_keep = a->cfg->output_file_keep,
        .max_rotations_per_min = a->cfg->output_file_max_rotations_per_min,
        .to_stdout = a->foreground ? a->cfg->output_stdout : RP__SINK_STDOUT_OFF,
        .stamp = &a->stamp,
        .spool = a->spool,
        .batch_max_events = a->cfg->batch_max_events,
        .batch_max_bytes = a->cfg->batch_max_bytes,
        .gzip = a->cfg->output_gzip,
        .backlog = sink_backlog,
        .backlog_arg = a,
        .wake = flush_wake,
        .wake_arg = a,
    };
    return rp__sink_create(&so, &a->sink);
}

static size_t count_enabled(const rp__config *cfg, size_t *total)
{
    const char *name;
    json_t *p;
    size_t on = 0;
    *total = 0;
    json_object_foreach(json_object_get(cfg->root, "plugins"), name, p)
    {
        (void)name;
        (*total)++;
        on += json_is_true(json_object_get(p, "enabled"));
    }
    return on;
}

/* ---- the control socket (core/control.h) ------------------------------------ */

static json_t *ctl_status(void *arg)
{
    rp__agent *a = arg;
    json_t *doc = NULL;
    rp__os_mutex_lock(a->health_lock);
    if (!a->health_off)
        doc = health_doc(a);
    rp__os_mutex_unlock(a->health_lock);
    return doc;
}

static json_t *ctl_plugins(void *arg)
{
    rp__agent *a = arg;
    rp__os_mutex_lock(a->health_lock);
    if (a->health_off) {
        rp__os_mutex_unlock(a->health_lock);
        return NULL;
    }
    static const char *const kinds[] = {"", "collector", "detector", "responder"};
    json_t *arr = json_array();
    for (size_t i = 0; i < rp__host_plugin_count(a->host); i++) {
        rp__plugin_info pi;
        if (rp__host_plugin_info(a->host, i, &pi) != 0)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(pi.name));
        json_object_set_new(o, "id", pi.id ? json_string(pi.id) : json_null());
        json_object_set_new(o, "version", pi.version ? json_string(pi.version) : json_null());
        json_object_set_new(o, "vendor", pi.vendor ? json_string(pi.vendor) : json_null());
        json_object_set_new(o, "kind", json_string(pi.kind < 4 ? kinds[pi.kind] : "?"));
        jset_u(o, "events_in", pi.delivered);
        jset_u(o, "events_out", pi.published);
        plugin_figures(a, i, &pi, o);
        json_array_append_new(arr, o);
    }
    rp__os_mutex_unlock(a->health_lock);
    rp__secrets_scrub_json(arr);
    return arr;
}

/* The agent.control event every audited socket action starts from: who
 * (uid and pid as the kernel saw them), what, and how it ended. NULL when
 * no event could be made. */
static struct rp_event *control_event(rp__agent *a, const rp__os_peer *peer, const char *category,
                                      const char *type, const char *action, const char *outcome,
                                      const char *message)
{
    struct rp_event *ev = agent_event(a, "agent.control");
    if (!ev)
        return NULL;
    put_arr1(ev, "event.category", category);
    put_arr1(ev, "event.type", type);
    put_str(ev, "event.action", action);
    put_str(ev, "event.outcome", outcome);
    put_str(ev, "message", message);
    char uid[32];
    snprintf(uid, sizeof uid, "%ld", peer->uid);
    put_str(ev, "user.id", uid);
    put_i64(ev, "rampart.control.uid", peer->uid);
    put_i64(ev, "rampart.control.pid", peer->pid);
    return ev;
}

/* An audit event for what a caller did through the socket: who (uid and pid
 * as the kernel saw them), what, and how it ended. */
static void ctl_audit(void *arg, const char *action, const rp__os_peer *peer, const char *outcome,
                      const char *message)
{
    rp__agent *a = arg;
    int reload = strcmp(action, "control-reload") == 0;
    struct rp_event *ev = control_event(a, peer, reload ? "configuration" : "network",
                                        reload ? "change" : "denied", action, outcome, message);
    if (!ev)
        return;
    rp__bus_publish(a->bus, ev);
}

/* A plugin command asked through the socket (core/runtime/host_command.h),
 * with the configured deadline. */
static int ctl_command(void *arg, const rp__control_request *req, void (*notify)(void *narg),
                       void *narg, rp__command **out, uint32_t *timeout_ms, char *err,
                       size_t errlen)
{
    rp__agent *a = arg;
    /* The boot config: the loop thread must not read one a reload swaps. */
    *timeout_ms = a->boot_cfg->plugin_command_timeout_ms;
    return rp__host_command_start(a->host, req->plugin, req->command, req->command_len, *timeout_ms,
                                  notify, narg, out, err, errlen);
}

/* The audit event of a plugin command: as ctl_audit, with the plugin
 * instance and the command's name. */
static void ctl_command_audit(void *arg, const rp__os_peer *peer, const char *plugin,
                              const char *command, const char *outcome, const char *message)
{
    rp__agent *a = arg;
    struct rp_event *ev =
        control_event(a, peer, "process", "access", "control-plugin-command", outcome, message);
    if (!ev)
        return;
    put_str(ev, "rampart.control.plugin", plugin);
    put_str(ev, "rampart.control.command", command);
    rp__bus_publish(a->bus, ev);
}

static void restart_tick(void *arg)
{
    (void)arg;
    rp__worker_restart_signal();
}

/* rampartctl plugins enable NAME: the ledger forgets the plugin's faults; a
 * plugin that was kept out is started by restarting the worker (its record
 * in the host was never loaded), once the reply is out. */
static json_t *ctl_enable(void *arg, const char *name, const rp__os_peer *peer)
{
    rp__agent *a = arg;
    int state = -1; /* the plugin's, or -1 when no enabled plugin has that name */
    rp__os_mutex_lock(a->health_lock); /* as ctl_plugins: a reload may change the set */
    for (size_t i = 0; !a->health_off && state < 0 && i < rp__host_plugin_count(a->host); i++) {
        rp__plugin_info pi;
        if (rp__host_plugin_info(a->host, i, &pi) == 0 && strcmp(pi.name, name) == 0)
            state = (int)pi.state;
    }
    rp__os_mutex_unlock(a->health_lock);
    char msg[512];
    int rc = state >= 0 ? rp__faults_enable(name) : RP_ERR_NOTFOUND;
    json_t *r = json_object();
    if (rc < 0) {
        if (state >= 0)
            snprintf(msg, sizeof msg, "plugin %s: the fault ledger cannot be changed: %s", name,
                     rp_strerror(rc));
        else
            snprintf(msg, sizeof msg, "no enabled plugin %s in the configuration", name);
        json_object_set_new(r, "ok", json_false());
        json_object_set_new(r, "error", json_string(msg));
    } else {
        int restart = state == RP__PLUGIN_DISABLED;
        if (restart && rp__worker_request_restart(name) == 0) {
            snprintf(msg, sizeof msg, "plugin %s enabled; the agent's worker restarts to start it",
                     name);
            uint64_t t;
            rp__loop_timer_add(a->loop, NULL, 200, 0, restart_tick, a, &t);
        } else if (restart) {
            restart = 0;
            snprintf(msg, sizeof msg,
                     "plugin %s enabled; it starts when rampartd is restarted (no supervisor "
                     "runs to restart the worker)",
                     name);
        } else {
            snprintf(msg, sizeof msg, "plugin %s was not disabled%s", name,
                     rc == 1 ? "; its faults are forgotten" : "");
        }
        json_object_set_new(r, "ok", json_true());
        json_object_set_new(r, "plugin", json_string(name));
        json_object_set_new(r, "was_disabled", json_boolean(rc == 1));
        json_object_set_new(r, "restart", json_boolean(restart));
        json_object_set_new(r, "message", json_string(msg));
    }
    rp__log(rc < 0 ? RP__LOG_WARN : RP__LOG_INFO, "control: %s", msg);
    struct rp_event *ev = control_event(a, peer, "configuration", "change", "control-plugin-enable",
                                        rc < 0 ? "failure" : "success", msg);
    if (ev) {
        put_str(ev, "rampart.control.plugin", name);
        rp__bus_publish(a->bus, ev);
    }
    return r;
}

static void start_control(rp__agent *a)
{
    /* The socket's folder (the data folder unless agent.control_socket
     * names another, e.g. /run/rampart) is checked as the data folder is
     * and then only used through the descriptor opened here. */
    const char *name = NULL;
    char why[512] = "";
    int rc =
        rp__os_dir_open_parent(a->boot_cfg->control_socket, &a->ctl_dir, &name, why, sizeof why);
    if (rc != 0) {
        rp__log_warn("control socket not available: agent.control_socket (%s): %s",
                     a->boot_cfg->control_socket, why[0] ? why : rp_strerror(rc));
        return;
    }
    rp__control_opts co = {
        .loop = a->loop,
        .dir = a->ctl_dir,
        .name = name,
        .ops = {ctl_status, ctl_plugins, ctl_audit, a, ctl_command, ctl_command_audit, ctl_enable}};
    rc = rp__control_create(&co, &a->ctl, why, sizeof why);
    /* Without the socket the agent still runs: rampartctl falls back to
     * status.json and the reload signal. */
    if (rc != 0)
        rp__log_warn("control socket not available: %s", why[0] ? why : rp_strerror(rc));
}

/* The watchdog's hands (watchdog.h): its alerts are the agent's, its stop
 * is a SIGTERM to the worker itself, and before a last-resort exit it
 * writes out what the sink holds. */
static void wd_stop(void *arg)
{
    (void)arg;
    if (rp__os_stop_self() != 0)
        rp__log_error("watchdog: cannot signal the worker to stop");
}

static void flush_guarded(rp__agent *a)
{
    rp__os_mutex_lock(a->stop_lock);
    if (!a->sink_closing && a->sink)
        rp__sink_flush(a->sink);
    rp__os_mutex_unlock(a->stop_lock);
}

static void wd_flush(void *arg)
{
    flush_guarded(arg);
}

static void start_watchdog(rp__agent *a)
{
    const rp__config *c = a->boot_cfg;
    rp__watchdog_opts o = {
        .host = a->host,
        .sample_ms = c->deadline_sample_ms ? c->deadline_sample_ms : 200,
        .deadlines = {.event_ms = c->deadline_event_ms,
                      .command_ms = c->deadline_command_ms,
                      .timer_ms = c->deadline_timer_ms,
                      .fd_ms = c->deadline_fd_ms,
                      .job_ms = c->deadline_job_ms,
                      .init_ms = c->deadline_init_ms,
                      .start_ms = c->deadline_start_ms,
                      .stop_ms = c->deadline_stop_ms,
                      .reconfigure_ms = c->deadline_reconfigure_ms},
        .restart = c->deadline_restart,
        .stop_grace_ms = c->stop_grace_ms,
        .cpu_percent = c->budget_cpu_percent,
        .window_s = c->budget_window_s ? c->budget_window_s : 10,
        .alert = raise_alert,
        .stop = wd_stop,
        .flush = wd_flush,
        .arg = a,
    };
    int rc = rp__watchdog_start(&o, &a->watchdog);
    if (rc != 0)
        rp__log_warn("cannot start the watchdog (%s): agent.deadlines and agent.plugin_budget "
                     "are not enforced",
                     rp_strerror(rc));
}

int rp__agent_start(rp__agent *a)
{
    int rc;
    if ((rc = open_outputs(a)) != 0)
        return rc;
    if (a->pidfile)
        rp__os_pidfile_write(a->pidfile);
    /* The sink takes every event without loss; then the threads start:
     * workers (their completions wait for the loop), loop, bus, and the
     * plugins last. */
    rp__privileges_drop(a->boot_cfg, a->host, &a->privs); /* while one thread runs */
    rp__workers_opts wo = {.hooks = rp__host_hooks()};
    if ((rc = rp__bus_subscribe(a->bus, "*", rp__sink_on_event, a->sink, 0, RP__BUS_LOSSLESS, 0,
                                &a->sink_sub)) != 0 ||
        (rc = rp__workers_create(&wo, a->loop, &a->workers)) != 0 ||
        (rc = rp__loop_start(a->loop)) != 0 || (rc = rp__bus_start(a->bus)) != 0) {
        rp__log_error("cannot start the plugin host: %s", rp_strerror(rc));
        return rc;
    }
    /* Before the plugins' init and start, whose hangs it watches too. */
    start_watchdog(a);
    if ((rc = rp__host_start(a->host, a->workers)) != 0) {
        rp__log_error("cannot start the plugin host: %s", rp_strerror(rc));
        return rc;
    }
    a->host_running = 1;
    a->started_ns = rp__os_time_ns();
    /* Before the health timer runs, which reads the flags. */
    a->nplugin_alerted = rp__host_plugin_count(a->host);
    a->plugin_alerted = calloc(a->nplugin_alerted ? a->nplugin_alerted : 1, 1);
    if (!a->plugin_alerted)
        a->nplugin_alerted = 0; /* the failures are still in the log and status */
    if (a->uploader && (rc = rp__uploader_start(a->uploader)) != 0) {
        rp__log_error("cannot start the uploader: %s", rp_strerror(rc));
        return rc;
    }
    uint64_t health_timer;
    if ((rc = rp__loop_timer_add(a->loop, NULL, a->cfg->health_interval_ms,
                                 a->cfg->health_interval_ms, health_tick, a, &health_timer)) != 0) {
        rp__log_error("cannot start the health timer: %s", rp_strerror(rc));
        return rc;
    }
    start_control(a);
    size_t total, on = count_enabled(a->cfg, &total), running = 0;
    char reason[DEGRADED_REASON_MAX];
    int degraded = plugin_state(a, &running, NULL, reason, sizeof reason);
    /* A plugin that failed is said at once, with why, not counted as if
     * it ran. */
    rp__log(degraded ? RP__LOG_WARN : RP__LOG_INFO,
            "rampartd %s started%s: pid %ld, config %s%s%s, data %s, %zu of %zu plugins "
            "enabled, %zu running%s%s",
            RP_VERSION, degraded ? " degraded" : "", rp__os_getpid(), a->cfg->main_file,
            a->cfg->site ? " + " : "", a->cfg->site_file ? a->cfg->site_file : "", a->cfg->data_dir,
            on, total, running, degraded ? "; failed: " : "", degraded ? reason : "");
    if (a->spool) {
        rp__spool_stats sp;
        rp__spool_get_stats(a->spool, &sp);
        rp__log_info("uploading to %s (%s); spool %s/spool: %llu batches, %llu events waiting",
                     a->cfg->output_url, a->cfg->output_format, a->cfg->data_dir,
                     (unsigned long long)sp.queued_batches, (unsigned long long)sp.queued_events);
    }
    if (degraded) {
        char msg[DEGRADED_REASON_MAX + 128];
        snprintf(msg, sizeof msg, "rampartd started degraded: %zu of %zu enabled plugins running",
                 running, on);
        emit_agent_event_reason(a, "agent-started", "process", "start", "failure", msg, reason);
    } else {
        emit_agent_event(a, "agent-started", "process", "start", "success", "rampartd started");
    }
    /* Damage the spool found while opening is reported at once, and
     * status.json exists from the start. */
    rp__os_mutex_lock(a->health_lock);
    check_losses(a);
    alert_plugin_failures(a);
    json_decref(write_status(a));
    rp__os_mutex_unlock(a->health_lock);
    a->started = 1;
    return 0;
}

int rp__agent_reload(rp__agent *a)
{
    char err[RP__CONFIG_ERR_MAX];
    rp__config *next = NULL;
    int rc = rp__config_load(a->config_file, a->site, &next, err, sizeof err);
    a->reload_err[0] = '\0';
    /* The plugin changes are planned and checked (schemas, files) before
     * anything changes, and applied once the upload settings are taken
     * (core/runtime/host_reload.c, docs/reload.md). */
    rp__host_reload_plan *plan = NULL;
    if (rc == 0) {
        rp__host_reload_opts ro = {
            .plugins = json_object_get(next->root, "plugins"),
            .exclude_rules = json_object_get(json_object_get(next->root, "collectors"), "exclude"),
            .config_error_arg = next,
            .file_reloads_max = next->plugin_file_reloads_max};
        if ((rc = rp__host_reload_prepare(a->host, &ro, &plan, err, sizeof err)) != 0)
            rp__config_destroy(next);
    }
    if (rc != 0) {
        snprintf(a->reload_err, sizeof a->reload_err, "%.1000s",
                 rc == RP_ERR_CONFIG ? err : rp_strerror(rc));
        /* One log line per error, as at start-up. */
        for (const char *line = rc == RP_ERR_CONFIG ? err : rp_strerror(rc); line;) {
            const char *nl = strchr(line, '\n');
            rp__log_error("reload rejected, keeping the running configuration: %.*s",
                          nl ? (int)(nl - line) : (int)strlen(line), line);
            line = nl ? nl + 1 : NULL;
        }
        emit_agent_event(a, "agent-config-rejected", "configuration", "change", "failure",
                         rc == RP_ERR_CONFIG ? err : rp_strerror(rc));
        return RP_ERR_CONFIG;
    }
    /* The uploader takes the new endpoint, credentials and token file at
     * once, and a reload is also how an operator resumes paused uploads.
     * It is asked first: when it refuses the new settings (a CA or token
     * file it cannot read, a bad pin), the whole reload is refused and the
     * running configuration stays, so what the agent reports is what runs.
     * The sink's batching and the plugins keep what they started with in
     * this version; say so rather than pretend. */
    int upload_applied = 0;
    if (a->uploader && next->output_url) {
        rp__uploader_opts uo;
        struct format_opts fo;
        char dl[4096], uerr[1024] = "";
        upload_opts(a, next, &uo, &fo, dl, sizeof dl);
        int urc = rp__uploader_reconfigure(a->uploader, &uo, uerr, sizeof uerr);
        if (urc != 0) {
            char msg[1200];
            snprintf(msg, sizeof msg, "%s: %s",
                     next->overlay_doc && json_object_get(next->overlay_doc, "output")
                         ? next->site_file
                         : next->main_file,
                     uerr[0] ? uerr : rp_strerror(urc));
            rp__log_error("reload rejected, keeping the running configuration: upload "
                          "settings refused: %s",
                          msg);
            emit_agent_event(a, "agent-config-rejected", "configuration", "change", "failure", msg);
            snprintf(a->reload_err, sizeof a->reload_err, "upload settings refused: %.990s", msg);
            rp__host_reload_abort(plan);
            rp__config_destroy(next);
            return RP_ERR_CONFIG;
        }
        upload_applied = 1;
    }
    size_t not_applied = 0;
    rp__host_reload_commit(a->host, plan, a->health_lock, &not_applied);
    rp__os_mutex_lock(a->health_lock);
    size_t np = rp__host_plugin_count(a->host);
    unsigned char *grown = np > a->nplugin_alerted ? realloc(a->plugin_alerted, np) : NULL;
    if (grown) { /* a plugin enabled by the reload; without it, no failure alert for it */
        memset(grown + a->nplugin_alerted, 0, np - a->nplugin_alerted);
        a->plugin_alerted = grown;
        a->nplugin_alerted = np;
    }
    rp__os_mutex_unlock(a->health_lock);
    /* Folders and the pid file are fixed for the life of the process. */
    if (strcmp(next->data_dir, a->cfg->data_dir) != 0 ||
        strcmp(next->pid_file, a->cfg->pid_file) != 0)
        rp__log_warn("agent.data_dir or agent.pid_file changed: takes effect at restart");
    rp__config *old = a->cfg;
    a->cfg = next;
    /* The data folder keeps its old location until restart (see above). */
    char *swap = a->cfg->data_dir;
    a->cfg->data_dir = old->data_dir;
    old->data_dir = swap;
    swap = a->cfg->pid_file;
    a->cfg->pid_file = old->pid_file;
    old->pid_file = swap;
    rp__log_set_level(next->log_level);
    /* The response policy applies to the next alert (checked with the config). */
    if (rp__host_set_policy(a->host, json_object_get(next->root, "policy")) != 0)
        rp__log_error("reload: the response policy could not be applied; the old one stays");
    /* The endpoints offered to plugins (org.rampart.host.endpoints) follow
     * what the uploader uses, which takes a new URL only when it applied
     * the reload's upload settings. */
    if (upload_applied)
        (void)rp__host_endpoints_set(a->host, next->output_url, next->output_proxy);
    json_t *out_old = json_deep_copy(json_object_get(a->boot_cfg->root, "output"));
    json_t *out_new = json_deep_copy(json_object_get(next->root, "output"));
    if (upload_applied && out_old && out_new) {
        static const char *const live[] = {
            "url",           "format",     "ca_file", "client_cert", "client_key",
            "pinned_pubkey", "token_file", "proxy",   "timeout_ms",  "auth_scheme",
            "elastic",       "splunk",     "loki",    "otlp"};
        for (size_t i = 0; i < sizeof live / sizeof live[0]; i++) {
            json_object_del(out_old, live[i]);
            json_object_del(out_new, live[i]);
        }
    }
    if (!json_equal(out_old, out_new) || !json_equal(json_object_get(next->root, "spool"),
                                                     json_object_get(a->boot_cfg->root, "spool")))
        rp__log_warn("changes to spool and output batching take effect at restart");
    json_decref(out_old);
    json_decref(out_new);
    if (old != a->boot_cfg)
        rp__config_destroy(old);
    size_t total, on = count_enabled(a->cfg, &total);
    rp__log(not_applied ? RP__LOG_WARN : RP__LOG_INFO,
            "configuration reloaded: %s%s%s, %zu of %zu plugins enabled%s", a->cfg->main_file,
            a->cfg->site ? " + " : "", a->cfg->site_file ? a->cfg->site_file : "", on, total,
            not_applied ? "; some plugin changes were not applied (see above)" : "");
    emit_agent_event(a, "agent-config-reloaded", "configuration", "change", "success",
                     "configuration reloaded");
    return 0;
}

int rp__agent_run(rp__agent *a)
{
    for (;;) {
        enum rp__os_signal sig;
        if (rp__os_signal_wait(-1, &sig) != 0)
            continue;
        if (sig == RP__OS_SIG_STOP)
            return 0;
        if (sig == RP__OS_SIG_RELOAD) {
            /* Answers the reloads asked through the control socket. */
            uint64_t seq = rp__control_reload_begin(a->ctl);
            int rc = rp__agent_reload(a);
            rp__secrets_scrub(a->reload_err, sizeof a->reload_err);
            rp__control_reload_done(a->ctl, seq, rc, rc ? a->reload_err : NULL);
        }
    }
}

/*
 * Bounds a stop by agent.stop_grace_ms whatever holds it up (a flood still
 * queued, a plugin that does not return from stop). A quarter of the grace
 * (at most 1 s) before its end, the events still queued are abandoned, so
 * the sink can close and flush what it took to the file or spool; at the
 * end, if the stop is still not done, the agent logs it and exits at once.
 */
static void stop_watchdog(void *arg)
{
    rp__agent *a = arg;
    int64_t grace = a->boot_cfg->stop_grace_ms;
    int64_t margin = grace / 4 < 1000 ? grace / 4 : 1000;
    int64_t start = rp__os_monotonic_ns();
    int64_t soft = start + (grace - margin) * 1000000, hard = start + grace * 1000000;
    int abandoned = 0;
    rp__os_mutex_lock(a->stop_lock);
    for (;;) {
        if (a->stop_done)
            break;
        int64_t now = rp__os_monotonic_ns();
        if (!abandoned && now >= soft) {
            abandoned = 1;
            rp__os_mutex_unlock(a->stop_lock);
            rp__log_warn("stop: not done after %lld ms; abandoning the events still queued "
                         "(agent.stop_grace_ms %lld)",
                         (long long)(grace - margin), (long long)grace);
            rp__bus_abandon(a->bus);
            rp__os_mutex_lock(a->stop_lock);
            continue;
        }
        if (now >= hard) {
            /* Whatever holds the stop up, what the sink took is written out
             * (to the spool or the events file) before the exit. */
            if (!a->sink_closing && a->sink)
                rp__sink_flush(a->sink);
            rp__os_mutex_unlock(a->stop_lock);
            rp__host_flow fl;
            rp__host_flow_stats(a->host, &fl);
            rp__log_error("stop: not done within agent.stop_grace_ms (%lld ms); exiting now. "
                          "%llu queued events abandoned, %llu bytes still queued; a plugin's "
                          "stop or the output may be stuck",
                          (long long)grace, (unsigned long long)fl.abandoned,
                          (unsigned long long)fl.queued_bytes);
            rp__log_close();
            _Exit(RP_EX_SOFTWARE);
        }
        int64_t until = abandoned ? hard : soft;
        rp__os_cond_timedwait(a->stop_cond, a->stop_lock, (until - now) / 1000000 + 1);
    }
    rp__os_mutex_unlock(a->stop_lock);
}

/* Says in the call table's exit record (callrec.h) why the worker ends, for
 * the supervisor: a stop that was asked for is no fault. The first cause
 * wins (a hang the watchdog wrote stays); with the stop's cause, detail
 * replaces the sentence. */
static void exit_record(const char *detail)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr)
        return;
    uint32_t cause = atomic_load(&cr->exit.cause);
    if (cause != RP__CR_EXIT_NONE && cause != RP__CR_EXIT_STOP)
        return;
    snprintf(cr->exit.detail, sizeof cr->exit.detail, "%s", detail);
    atomic_store_explicit(&cr->exit.cause, RP__CR_EXIT_STOP, memory_order_release);
}

/* Waits (until deadline_ns) for the events queued for the sink to reach it:
 * it is empty twice 5 ms apart, so that an event a dispatcher took off the
 * queue has also been handed over. */
static void drain_sink(rp__agent *a, int64_t deadline_ns)
{
    int empty_once = 0;
    while (rp__os_monotonic_ns() < deadline_ns) {
        rp__bus_sub_stats st;
        if (rp__bus_stats_sub(a->bus, a->sink_sub, &st) != 0)
            return;
        int empty = st.queued == 0 && st.overflow_depth == 0;
        if (empty && empty_once)
            return;
        empty_once = empty;
        struct timespec ts = {0, empty ? 5000000 : 2000000};
        nanosleep(&ts, NULL);
    }
    rp__log_warn("stop: the output did not take every queued event in time");
}

/*
 * The bounded stop (docs/containment.md). What the collectors produced
 * reaches the spool (or the events file) before any detector or responder
 * can hold the stop up: the collectors stop (a quarter of
 * agent.stop_grace_ms for the calls of each under way), the bus drains into
 * the sink and the sink writes out; then the detectors and the responders
 * stop, the calls of each under way getting until half of the grace. A
 * plugin whose call does not return by then is given up on; then the
 * threads that may be inside it (bus dispatchers, the loop, the workers)
 * cannot be joined, so the agent writes out what the sink took since,
 * logs what it gave up on and exits with status 70. The stop watchdog
 * bounds the rest (a stop callback that does not return).
 */
static void stop_plugins(rp__agent *a, int64_t t0)
{
    int64_t grace = (int64_t)a->boot_cfg->stop_grace_ms * 1000000;
    char gave_up[1024] = "";
    size_t n =
        rp__host_stop_kind(a->host, RP_KIND_COLLECTOR, t0 + grace / 4, gave_up, sizeof gave_up);
    drain_sink(a, t0 + grace / 4);
    flush_guarded(a);
    n += rp__host_stop_kind(a->host, RP_KIND_DETECTOR, t0 + grace / 2, gave_up, sizeof gave_up);
    n += rp__host_stop_kind(a->host, RP_KIND_RESPONDER, t0 + grace / 2, gave_up, sizeof gave_up);
    if (n == 0)
        return;
    /* Alerts the detectors raised while stopping. */
    drain_sink(a, t0 + grace / 2 + grace / 8);
    flush_guarded(a);
    char detail[RP__CR_TEXT_MAX];
    snprintf(detail, sizeof detail, "stopped; gave up on %.480s", gave_up);
    exit_record(detail);
    rp__sink_stats ss;
    rp__sink_get_stats(a->sink, &ss);
    rp__log_error("stop: gave up on %zu plugin%s whose calls did not return: %s. A thread "
                  "inside a plugin cannot be cancelled; the %llu events the output took are "
                  "written out; exiting with status %d",
                  n, n == 1 ? "" : "s", gave_up, (unsigned long long)ss.events, RP_EX_SOFTWARE);
    rp__log_close();
    _Exit(RP_EX_SOFTWARE);
}

void rp__agent_stop(rp__agent *a)
{
    rp__os_thread *dog = NULL;
    int64_t t0 = rp__os_monotonic_ns();
    /* The stop is bounded on its own; a hang found now must not ask for
     * another stop. */
    rp__watchdog_stop(a->watchdog);
    a->watchdog = NULL;
    exit_record("stopped");
    if (a->started) {
        rp__log_info("rampartd stopping");
        a->stop_done = 0;
        if (rp__os_thread_start(&dog, "rp-stop", stop_watchdog, a) != 0) {
            dog = NULL;
            rp__log_warn("stop: cannot start the watchdog; agent.stop_grace_ms is not enforced");
        }
        emit_agent_event(a, "agent-stopped", "process", "end", "success", "rampartd stopped");
        a->started = 0;
    }
    if (a->health_lock) {
        rp__os_mutex_lock(a->health_lock);
        a->health_off = 1;
        rp__os_mutex_unlock(a->health_lock);
    }
    /* Stops plugins, then drains the bus into the sink before it closes
     * (cutting the last batch into the spool); the uploader stops after
     * that, leaving what it has not sent in the spool for the next start. */
    int was_running = a->host_running;
    if (was_running)
        stop_plugins(a, t0);
    rp__host_stop(a->host);
    /* Workers before the loop: their completions run on the loop. */
    rp__workers_destroy(a->workers);
    a->workers = NULL;
    rp__bus_stop(a->bus);
    rp__loop_stop(a->loop);
    /* The loop is stopped: no connection callback runs any more. */
    rp__control_destroy(a->ctl);
    a->ctl = NULL;
    rp__os_dir_close(a->ctl_dir);
    a->ctl_dir = NULL;
    a->host_running = 0;
    if (was_running) {
        rp__host_flow fl;
        rp__host_flow_stats(a->host, &fl);
        if (fl.abandoned)
            rp__log_error("stop: %llu queued events were abandoned to stop within "
                          "agent.stop_grace_ms; what the output had taken is flushed",
                          (unsigned long long)fl.abandoned);
    }
    rp__os_mutex_lock(a->stop_lock);
    a->sink_closing = 1;
    rp__os_mutex_unlock(a->stop_lock);
    rp__sink_destroy(a->sink);
    a->sink = NULL;
    rp__uploader_destroy(a->uploader);
    a->uploader = NULL;
    rp__spool_close(a->spool);
    a->spool = NULL;
    rp__os_pidfile_release(a->pidfile);
    a->pidfile = NULL;
    if (dog) {
        rp__os_mutex_lock(a->stop_lock);
        a->stop_done = 1;
        rp__os_cond_signal(a->stop_cond);
        rp__os_mutex_unlock(a->stop_lock);
        rp__os_thread_join(dog);
    }
}

void rp__agent_destroy(rp__agent *a)
{
    if (!a)
        return;
    rp__agent_stop(a);
    rp__host_destroy(a->host);
    rp__bus_destroy(a->bus);
    rp__loop_destroy(a->loop);
    rp__ndjson_stamp_free(&a->stamp); /* after the sink, which borrowed it */
    if (a->cfg != a->boot_cfg)
        rp__config_destroy(a->cfg);
    rp__config_destroy(a->boot_cfg);
    free(a->plugin_alerted);
    rp__os_dir_close(a->data);
    rp__os_dir_close(a->deadletter);
    rp__os_dir_close(a->spool_dir);
    rp__os_dir_close(a->events_dir);
    free(a->events_name);
    free(a->config_file);
    free(a->site);
    rp__os_mutex_destroy(a->health_lock);
    rp__os_cond_destroy(a->stop_cond);
    rp__os_mutex_destroy(a->stop_lock);
    free(a);
}
