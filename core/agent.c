/* core/agent.c - the agent's lifecycle. */
#include "agent.h"
#include "event.h"
#include "exitcodes.h"
#include "fields.h"
#include "host.h"
#include "log.h"
#include "sink.h"
#include "os/os.h"
#include "topic.h"
#include "uuid.h"
#include "version.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rp__agent {
    rp__config *cfg;      /* the running config; replaced by reload */
    rp__config *boot_cfg; /* the config the plugin host was built from */
    rp__host *host;
    int host_running;
    rp__sink *sink; /* built from the config at start-up */
    char *config_file;
    char *site;
    int foreground;
    int started;
    rp__os_pidfile *pidfile;
    char agent_id[RP__UUID_STR_LEN + 1];
    char hostname[256];
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

/* The agent id lives in the data folder so it survives restarts and upgrades. */
static int load_agent_id(rp__agent *a)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/agent_id", a->cfg->data_dir);
    char *data = NULL;
    size_t len = 0;
    if (rp__os_read_file(path, 64, &data, &len, NULL) == 0) {
        if (len >= RP__UUID_STR_LEN) {
            memcpy(a->agent_id, data, RP__UUID_STR_LEN);
            a->agent_id[RP__UUID_STR_LEN] = '\0';
            free(data);
            return 0;
        }
        free(data);
    }
    int rc = rp__uuid7(rp__os_time_ns() / 1000000, a->agent_id);
    if (rc != 0)
        return rc;
    char line[RP__UUID_STR_LEN + 2];
    int n = snprintf(line, sizeof line, "%s\n", a->agent_id);
    return rp__os_write_file_atomic(path, line, (size_t)n, 0644);
}

int rp__agent_prepare(rp__agent *a, long *holder_pid, char *err, size_t errlen)
{
    const rp__config *cfg = a->cfg;
    int rc = rp__os_mkdir_p(cfg->data_dir, 0750);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot create the data folder (agent.data_dir): %s",
                 cfg->data_dir, rp_strerror(rc));
        return rc;
    }
    rc = rp__os_pidfile_acquire(cfg->pid_file, &a->pidfile, holder_pid);
    if (rc == RP_ERR_BUSY) {
        snprintf(err, errlen, "%s: another rampartd (pid %ld) is running on this data folder",
                 cfg->pid_file, *holder_pid);
        return rc;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot create the pid file: %s", cfg->pid_file,
                 rp_strerror(rc));
        return rc;
    }
    rc = load_agent_id(a);
    if (rc != 0) {
        snprintf(err, errlen, "%s/agent_id: cannot read or create the agent id: %s",
                 cfg->data_dir, rp_strerror(rc));
        return rc;
    }
    /* Plugins are loaded (not started) here, before the agent detaches, so a
     * plugin config error still reaches the terminal and exits with 78. No
     * thread exists yet: the host starts its threads in rp__agent_start. */
    if ((rc = rp__host_create(NULL, cfg, &a->host)) != 0) {
        snprintf(err, errlen, "cannot create the plugin host: %s", rp_strerror(rc));
        return rc;
    }
    rc = rp__host_load(a->host, err, errlen);
    if (rc != 0 && rc != RP_ERR_CONFIG)
        snprintf(err, errlen, "cannot load plugins: %s", rp_strerror(rc));
    return rc;
}

static void flush_tick(void *arg)
{
    rp__agent *a = arg;
    rp__sink_flush(a->sink);
}

/* Publishes one of the agent's own lifecycle events through the bus, so it
 * takes the same path to the outputs as every plugin event. */
static void emit_agent_event(rp__agent *a, const char *action, const char *category,
                             const char *type, const char *outcome, const char *message)
{
    static const char *const names[] = {"event.category", "event.type",    "event.action",
                                        "event.outcome",  "event.dataset", "message",
                                        "agent.type",     "agent.version", "agent.id",
                                        "host.hostname",  "process.pid",   "labels.site"};
    rp_field_id f[12];
    uint32_t topic;
    struct rp_event *ev;
    if (!a->host_running)
        return;
    for (int i = 0; i < 12; i++) {
        uint32_t t = i < 2 ? RP_TYPE_STR_ARRAY : i == 10 ? RP_TYPE_I64 : RP_TYPE_STR;
        if (rp__field_intern(names[i], strlen(names[i]), t, &f[i]) != 0)
            return;
    }
    if (rp__topic_intern("agent.lifecycle", 15, &topic) != 0 ||
        rp__event_create(topic, "agent.lifecycle", 0, &ev) != 0)
        return;
    rp_str cat = {category, strlen(category)}, typ = {type, strlen(type)};
    rp__event_set_str_array(ev, f[0], &cat, 1);
    rp__event_set_str_array(ev, f[1], &typ, 1);
    rp__event_set_str(ev, f[2], action, strlen(action));
    rp__event_set_str(ev, f[3], outcome, strlen(outcome));
    rp__event_set_str(ev, f[4], "rampart.agent", 13);
    rp__event_set_str(ev, f[5], message, strlen(message));
    rp__event_set_str(ev, f[6], "rampart", 7);
    rp__event_set_str(ev, f[7], RP_VERSION, strlen(RP_VERSION));
    rp__event_set_str(ev, f[8], a->agent_id, strlen(a->agent_id));
    rp__event_set_str(ev, f[9], a->hostname, strlen(a->hostname));
    rp__event_set_i64(ev, f[10], rp__os_getpid());
    if (a->cfg->site)
        rp__event_set_str(ev, f[11], a->cfg->site, strlen(a->cfg->site));
    rp__host_publish_core(a->host, ev);
}

static int open_outputs(rp__agent *a)
{
    rp__sink_opts so = {
        .file = a->cfg->output_file,
        .file_max_bytes = a->cfg->output_file_max_bytes,
        .file_keep = a->cfg->output_file_keep,
        .to_stdout = a->foreground && a->cfg->output_stdout,
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

int rp__agent_start(rp__agent *a)
{
    int rc;
    if ((rc = open_outputs(a)) != 0)
        return rc;
    if (a->pidfile)
        rp__os_pidfile_write(a->pidfile);
    if ((rc = rp__host_subscribe_core(a->host, "*", rp__sink_on_event, a->sink)) != 0 ||
        (rc = rp__host_start(a->host)) != 0 ||
        (rc = rp__host_timer_core(a->host, a->cfg->flush_interval_ms, flush_tick, a)) != 0) {
        rp__log_error("cannot start the plugin host: %s", rp_strerror(rc));
        return rc;
    }
    a->host_running = 1;
    size_t total, on = count_enabled(a->cfg, &total);
    rp__log_info("rampartd %s started: pid %ld, config %s%s%s, data %s, %zu of %zu plugins "
                 "enabled",
                 RP_VERSION, rp__os_getpid(), a->cfg->main_file, a->cfg->site ? " + " : "",
                 a->cfg->site_file ? a->cfg->site_file : "", a->cfg->data_dir, on, total);
    emit_agent_event(a, "agent-started", "process", "start", "success", "rampartd started");
    a->started = 1;
    return 0;
}

int rp__agent_reload(rp__agent *a)
{
    char err[RP__CONFIG_ERR_MAX];
    rp__config *next = NULL;
    int rc = rp__config_load(a->config_file, a->site, &next, err, sizeof err);
    if (rc != 0) {
        rp__log_error("reload rejected, keeping the running configuration: %s",
                      rc == RP_ERR_CONFIG ? err : rp_strerror(rc));
        emit_agent_event(a, "agent-config-rejected", "configuration", "change", "failure",
                         rc == RP_ERR_CONFIG ? err : rp_strerror(rc));
        return RP_ERR_CONFIG;
    }
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
    /* The sink and the plugins keep what they started with in this version;
     * say so rather than pretend. */
    if (!json_equal(json_object_get(next->root, "plugins"),
                    json_object_get(a->boot_cfg->root, "plugins")) ||
        !json_equal(json_object_get(next->root, "output"),
                    json_object_get(a->boot_cfg->root, "output")))
        rp__log_warn("changes to plugins and output take effect at restart");
    if (old != a->boot_cfg)
        rp__config_destroy(old);
    size_t total, on = count_enabled(a->cfg, &total);
    rp__log_info("configuration reloaded: %s%s%s, %zu of %zu plugins enabled", a->cfg->main_file,
                 a->cfg->site ? " + " : "", a->cfg->site_file ? a->cfg->site_file : "", on,
                 total);
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
        if (sig == RP__OS_SIG_RELOAD)
            rp__agent_reload(a);
    }
}

void rp__agent_stop(rp__agent *a)
{
    if (a->started) {
        rp__log_info("rampartd stopping");
        emit_agent_event(a, "agent-stopped", "process", "end", "success", "rampartd stopped");
        a->started = 0;
    }
    /* Stops plugins, then drains the bus into the sink before it closes. */
    rp__host_stop(a->host);
    a->host_running = 0;
    rp__sink_destroy(a->sink);
    a->sink = NULL;
    rp__os_pidfile_release(a->pidfile);
    a->pidfile = NULL;
}

void rp__agent_destroy(rp__agent *a)
{
    if (!a)
        return;
    rp__agent_stop(a);
    rp__host_destroy(a->host);
    if (a->cfg != a->boot_cfg)
        rp__config_destroy(a->cfg);
    rp__config_destroy(a->boot_cfg);
    free(a->config_file);
    free(a->site);
    free(a);
}
