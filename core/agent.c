/* core/agent.c - the agent's lifecycle. */
#include "agent.h"
#include "exitcodes.h"
#include "log.h"
#include "os/os.h"
#include "uuid.h"
#include "version.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rp__agent {
    rp__config *cfg;
    char *config_file;
    char *site;
    int foreground;
    int started;
    rp__os_pidfile *pidfile;
    rp__os_file *events;
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
    return 0;
}

static void format_timestamp(char *buf, size_t len)
{
    int64_t now = rp__os_time_ns();
    struct tm tm;
    rp__os_gmtime(now / 1000000000, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", base, (int)((now / 1000000) % 1000));
}

/*
 * Writes one agent lifecycle event as a flat-ECS NDJSON line to the local
 * events file and, in the foreground, to stdout. These are the agent's own
 * events; plugin events take the sink of the output pipeline.
 */
static void emit_agent_event(rp__agent *a, const char *action, const char *category,
                             const char *type, const char *outcome, const char *message)
{
    char stamp[40], id[RP__UUID_STR_LEN + 1];
    format_timestamp(stamp, sizeof stamp);
    if (rp__uuid7(rp__os_time_ns() / 1000000, id) != 0)
        return;
    json_t *ev = json_pack("{s:s, s:s, s:s, s:[s], s:[s], s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
                           "s:s, s:I}",
                           "@timestamp", stamp, "event.id", id, "event.kind", "event",
                           "event.category", category, "event.type", type, "event.action",
                           action, "event.outcome", outcome, "event.dataset", "rampart.agent",
                           "message", message, "agent.type", "rampart", "agent.version",
                           RP_VERSION, "agent.id", a->agent_id, "host.hostname", a->hostname,
                           "process.pid", (json_int_t)rp__os_getpid());
    if (!ev)
        return;
    if (a->cfg->site)
        json_object_set_new(ev, "labels.site", json_string(a->cfg->site));
    char *line = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(ev);
    if (!line)
        return;
    size_t len = strlen(line);
    line[len] = '\n'; /* json_dumps leaves room: replace the NUL, write len + 1 bytes */
    int rc = a->events ? rp__os_file_write(a->events, line, len + 1) : 0;
    if (rc != 0)
        rp__log_error("%s: cannot write event: %s", a->cfg->output_file, rp_strerror(rc));
    if (a->foreground && a->cfg->output_stdout) {
        fwrite(line, 1, len + 1, stdout);
        fflush(stdout);
    }
    free(line);
}

static int open_outputs(rp__agent *a)
{
    if (!a->cfg->output_file)
        return 0;
    int sys = 0;
    int rc = rp__os_file_open_append(a->cfg->output_file, 0640, &a->events, &sys);
    if (rc != 0)
        rp__log_error("%s: cannot open the events file (output.file): %s", a->cfg->output_file,
                      sys ? strerror(sys) : rp_strerror(rc));
    return rc;
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
    int rc = open_outputs(a);
    if (rc != 0)
        return rc;
    if (a->pidfile)
        rp__os_pidfile_write(a->pidfile);
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
    if (a->events &&
        (!next->output_file || !old->output_file || strcmp(next->output_file, old->output_file))) {
        rp__os_file_close(a->events);
        a->events = NULL;
    }
    if (!a->events)
        open_outputs(a);
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
    if (a->events) {
        rp__os_file_sync(a->events);
        rp__os_file_close(a->events);
        a->events = NULL;
    }
    rp__os_pidfile_release(a->pidfile);
    a->pidfile = NULL;
}

void rp__agent_destroy(rp__agent *a)
{
    if (!a)
        return;
    rp__agent_stop(a);
    rp__config_destroy(a->cfg);
    free(a->config_file);
    free(a->site);
    free(a);
}
