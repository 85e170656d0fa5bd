/* rampartctl - controls a running rampartd; checks and tests Sigma rules
 * without one (rules.c). */
#include "config.h"
#include "control.h"
#include "exitcodes.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "os/os_sock.h"
#include "lib/schema.h"
#include "rules.h"
#include "sign.h"
#include "view.h"
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
    "  reload      make the running agent re-read its configuration and say\n"
    "              whether it took it; this also resumes uploads paused by a\n"
    "              refused token\n"
    "  status [--json]\n"
    "              the agent's state, uploads, spool and plugins, asked of the\n"
    "              running agent; when it is down, what it last wrote to\n"
    "              <data_dir>/status.json (said so on stderr)\n"
    "  plugins [--json]\n"
    "              one line per plugin: name, id, version, vendor, kind, state,\n"
    "              events in/out/dropped, CPU ms, counters (and gauges)\n"
    "  plugins enable NAME\n"
    "              start plugin NAME again after the agent disabled it for\n"
    "              repeated faults (crashes, hangs, budgets): its faults are\n"
    "              forgotten and the agent's worker restarts to load it\n"
    "  plugin NAME COMMAND [ARGS...]\n"
    "              send a command to plugin instance NAME, as the JSON object\n"
    "              {\"command\":COMMAND,\"args\":[ARGS...]}; prints each reply as\n"
    "              it comes (a string as it is, anything else as JSON)\n"
    "  rules check [DIR_OR_FILE...] [--json] [--fields-from PLUGIN_DIR]\n"
    "              load Sigma rules as the agent would, without it: what loads,\n"
    "              what can never match, what is skipped, and why\n"
    "  rules test RULE_OR_DIR... --events FILE.ndjson [--raw-fields] [--json]\n"
    "              which events of the file each rule matches, and why\n"
    "              (`rampartctl rules --help` for both)\n"
    "  sign --key PRIVATE_KEY.pem PLUGIN.so\n"
    "              write PLUGIN.so.sig, an ECDSA P-256 signature of the file\n"
    "  verify [--key PUBLIC_KEY.pem]... PLUGIN.so\n"
    "              check PLUGIN.so.sig as the agent would, against the keys given\n"
    "              or agent.trusted_keys (`rampartctl sign --help` for both)\n"
    "  version     print the version\n"
    "\n"
    "The agent is reached through its control socket, agent.control_socket\n"
    "(default <data_dir>/control.sock; root and the agent's user only), which\n"
    "the configuration (default " RP_DEFAULT_CONFIG ") names, as it names\n"
    "data_dir. Without the socket, reload signals the agent named by\n"
    "agent.pid_file.\n"
    "\n"
    "exit status of status: 0 the agent reported state ok; 1 it reported state\n"
    "degraded (a plugin failed to load or start; the reason is printed);\n"
    "69 the agent is not running (no status yet, or its last one is shown);\n"
    "75 no answer in time; 77 permission denied; 78 invalid configuration\n"
    "(also: reload rejected); 64 bad command line.\n"
    "exit status of plugin: 0 the last reply came; 70 the plugin answered with\n"
    "an error; 75 busy or past agent.plugin_command_timeout_ms; 69 the agent or\n"
    "the plugin is not running, or the plugin takes no commands; 64 no such\n"
    "plugin.\n"
    "exit status of rules: 0 ok; 1 a rule failed to load or is dead, or an\n"
    "event line was malformed; 2 bad command line or unreadable input.\n"
    "exit status of verify: 0 the signature verifies; 1 refused (the reason is\n"
    "printed); 64 bad command line; 66 a file cannot be read; 78 invalid\n"
    "configuration or a key that is not EC P-256. sign: `sign --help`.\n";

/* rampartctl status: the agent runs but is degraded. sysexits(3) has no
 * code for "running, but not fully", and monitoring wants a plain non-zero
 * answer distinct from "not running" (69): 1, as documented above. */
#define CTL_EX_DEGRADED 1

/* Loads the configuration for its data_dir and pid file; prints why not. */
static int load_config(const char *config_file, const char *site, rp__config **cfg)
{
    static char err[RP__CONFIG_ERR_MAX];
    int rc = rp__config_load(config_file, site, cfg, err, sizeof err);
    if (rc == 0)
        return 0;
    if (rc == RP_ERR_CONFIG)
        rp__config_err_print(stderr, "rampartctl: ", err);
    else
        fprintf(stderr, "rampartctl: %s\n", rp_strerror(rc));
    return RP_EX_CONFIG;
}

/* The longest reply read (the agent's own cap is RP__CONTROL_MAX_REPLY). */
#define CTL_REPLY_MAX (16u << 20)

/* Connects to the control socket at path sock (agent.control_socket, as
 * the configuration resolves it): its folder is opened, then the name in
 * it, as rp__os_ctl_connect does. */
static int ctl_connect(const char *sock, int timeout_ms, int *fd)
{
    const char *slash = strrchr(sock, '/');
    if (!slash || !slash[1])
        return RP_ERR_NOTFOUND;
    char dir[4096];
    size_t n = (size_t)(slash - sock);
    if (n >= sizeof dir)
        return RP_ERR_RANGE;
    memcpy(dir, sock, n);
    dir[n ? n : 1] = '\0';
    if (!n)
        dir[0] = '/';
    return rp__os_ctl_connect(dir, slash + 1, timeout_ms, fd);
}

/*
 * Sends {"cmd":cmd} to the agent's control socket sock and reads its
 * one-line reply into *reply. Returns 0, or: RP_ERR_NOTFOUND (no socket) or
 * RP_ERR_STOPPED (no one listens): the agent is not running; RP_ERR_PERM;
 * RP_ERR_TIMEOUT; RP_ERR_PARSE (not a JSON object); RP_ERR_IO.
 */
static int ctl_ask(const char *sock, const char *cmd, int timeout_ms, json_t **reply)
{
    int fd = -1;
    int rc = ctl_connect(sock, timeout_ms, &fd);
    if (rc != 0)
        return rc;
    char req[64];
    int n = snprintf(req, sizeof req, "{\"cmd\":\"%s\"}\n", cmd);
    /* A failed send is not the end: an agent that refuses the connection
     * (busy, permission denied) says why and closes before reading, and
     * its line is still there to read. */
    (void)rp__os_sock_send_all(fd, req, (size_t)n);
    size_t len = 0, cap = 64 * 1024;
    char *buf = malloc(cap);
    if (!buf)
        rc = RP_ERR_NOMEM;
    while (rc == 0 && !memchr(buf, '\n', len)) {
        if (len == cap) {
            char *nb = cap < CTL_REPLY_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rc = RP_ERR_RANGE;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = 0;
        rc = rp__os_sock_recv_wait(fd, buf + len, cap - len, &got);
        if (rc == 0 && got == 0)
            rc = len ? RP_ERR_PARSE : RP_ERR_IO; /* closed before a whole line */
        len += got;
    }
    rp__os_sock_close(&fd);
    if (rc == 0) {
        json_error_t jerr;
        *reply = json_loadb(buf, (size_t)((char *)memchr(buf, '\n', len) - buf), 0, &jerr);
        if (!*reply || !json_is_object(*reply)) {
            json_decref(*reply);
            rc = RP_ERR_PARSE;
        }
    }
    free(buf);
    return rc;
}

/* One line for a socket that did not answer; the sysexits code. */
static int ctl_fail(const char *sock, int rc)
{
    if (rc == RP_ERR_NOTFOUND || rc == RP_ERR_STOPPED) {
        fprintf(stderr, "rampartctl: rampartd is not running (no control socket answers at %s)\n",
                sock);
        return RP_EX_UNAVAILABLE;
    }
    if (rc == RP_ERR_PERM) {
        fprintf(stderr,
                "rampartctl: %s: permission denied: only root and the agent's user "
                "may use rampartd's control socket\n",
                sock);
        return RP_EX_NOPERM;
    }
    if (rc == RP_ERR_TIMEOUT) {
        fprintf(stderr, "rampartctl: rampartd did not answer in time on %s\n", sock);
        return RP_EX_TEMPFAIL;
    }
    fprintf(stderr, "rampartctl: %s: %s\n", sock,
            rc == RP_ERR_PARSE ? "the agent's answer is not a JSON object" : rp_strerror(rc));
    return RP_EX_UNAVAILABLE;
}

/* The exit code of a reply {"ok":false,"error":...}. */
static int ctl_refused_code(const json_t *reply)
{
    const char *e = json_string_value(json_object_get(reply, "error"));
    if (e && strncmp(e, "permission denied", 17) == 0)
        return RP_EX_NOPERM;
    return e && strncmp(e, "busy", 4) == 0 ? RP_EX_TEMPFAIL : RP_EX_UNAVAILABLE;
}

/* Prints such a reply's error; returns its exit code. */
static int ctl_refused(const json_t *reply, const char *what)
{
    const char *e = json_string_value(json_object_get(reply, "error"));
    fprintf(stderr, "rampartctl: %s: %s\n", what, e ? e : "refused");
    return ctl_refused_code(reply);
}

/* The pid-file and signal path, for an agent without a control socket. */
static int reload_by_signal(rp__config *cfg)
{
    int rc;
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
        return RP_EX_UNAVAILABLE;
    }
    rc = rp__os_send_reload(pid);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: cannot signal rampartd (pid %ld): %s\n", pid, rp_strerror(rc));
        return RP_EX_UNAVAILABLE;
    }
    printf("rampartctl: asked rampartd (pid %ld) to reload; the result is in its log\n", pid);
    return RP_EX_OK;
}

static int cmd_reload(const char *config_file, const char *site)
{
    rp__config *cfg = NULL;
    if (load_config(config_file, site, &cfg) != 0)
        return RP_EX_CONFIG;
    json_t *reply = NULL;
    /* A reload reads files and may wait for the uploader: a minute at most
     * (the agent's own bound, RP__CONTROL_RELOAD_DEADLINE_MS). */
    int rc =
        ctl_ask(cfg->control_socket, "reload", (int)RP__CONTROL_RELOAD_DEADLINE_MS + 5000, &reply);
    int status;
    if (rc == RP_ERR_NOTFOUND || rc == RP_ERR_STOPPED) {
        /* No control socket (an older agent, or none running): the signal,
         * which finds out whether an agent holds the pid file. */
        status = reload_by_signal(cfg);
    } else if (rc != 0) {
        status = ctl_fail(cfg->control_socket, rc);
    } else if (json_is_true(json_object_get(reply, "ok"))) {
        printf("rampartctl: rampartd reloaded its configuration\n");
        status = RP_EX_OK;
    } else {
        const char *e = json_string_value(json_object_get(reply, "error"));
        if (e && strncmp(e, "permission denied", 17) == 0) {
            status = ctl_refused(reply, "reload");
        } else {
            fprintf(stderr,
                    "rampartctl: reload rejected; rampartd keeps its running configuration: "
                    "%s\n",
                    e ? e : "see its log");
            status = RP_EX_CONFIG;
        }
    }
    json_decref(reply);
    rp__config_destroy(cfg);
    return status;
}

/* Reads <data_dir>/status.json (when the agent cannot be asked). */
static json_t *read_status_file(const char *data_dir, const char *why)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/status.json", data_dir);
    char *data = NULL;
    size_t len = 0;
    int rc = rp__os_read_file(path, 16u << 20, &data, &len, NULL);
    if (rc != 0) {
        fprintf(stderr, "rampartctl: %s, and there is no status yet: %s: %s\n", why, path,
                rp_strerror(rc));
        return NULL;
    }
    json_error_t jerr;
    json_t *d = json_loadb(data, len, 0, &jerr);
    free(data);
    if (!d) {
        fprintf(stderr, "rampartctl: %s: not valid JSON: %s\n", path, jerr.text);
        return NULL;
    }
    fprintf(stderr, "rampartctl: %s; showing what it last wrote to %s (as of %s)\n", why, path,
            json_is_string(json_object_get(d, "time"))
                ? json_string_value(json_object_get(d, "time"))
                : "?");
    return d;
}

static int cmd_status(const char *config_file, const char *site, int as_json)
{
    rp__config *cfg = NULL;
    if (load_config(config_file, site, &cfg) != 0)
        return RP_EX_CONFIG;
    json_t *reply = NULL, *d = NULL;
    int rc = ctl_ask(cfg->control_socket, "status", 10000, &reply);
    int down = 0;
    char why[4200];
    if (rc == 0 && json_is_true(json_object_get(reply, "ok")) &&
        json_is_object(json_object_get(reply, "status"))) {
        d = json_incref(json_object_get(reply, "status"));
    } else if (rc == RP_ERR_NOTFOUND || rc == RP_ERR_STOPPED) {
        down = 1;
        snprintf(why, sizeof why, "rampartd is not running (no control socket answers at %.2048s)",
                 cfg->control_socket);
        d = read_status_file(cfg->data_dir, why);
    } else if (rc == RP_ERR_PERM || (rc == 0 && ctl_refused_code(reply) == RP_EX_NOPERM)) {
        /* The socket is root's and the agent's; status.json may still be
         * readable by this user (mode 0640). */
        snprintf(why, sizeof why, "the control socket refused this user (%.200s)",
                 rc == 0 && json_is_string(json_object_get(reply, "error"))
                     ? json_string_value(json_object_get(reply, "error"))
                     : "permission denied");
        d = read_status_file(cfg->data_dir, why);
    } else {
        int ex = rc == 0 ? ctl_refused(reply, "status") : ctl_fail(cfg->control_socket, rc);
        json_decref(reply);
        rp__config_destroy(cfg);
        return ex;
    }
    json_decref(reply);
    rp__config_destroy(cfg);
    if (!d)
        return RP_EX_UNAVAILABLE;
    /* A status without a state (an older agent) reads as ok. */
    int degraded = strcmp(rp__ctl_str(d, "state", NULL), "degraded") == 0;
    int status = down ? RP_EX_UNAVAILABLE : degraded ? CTL_EX_DEGRADED : RP_EX_OK;
    if (as_json) {
        json_dumpf(d, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        fputc('\n', stdout);
        json_decref(d);
        return status;
    }
    if (rp__ctl_print_status(stdout, d, degraded) != 0) {
        json_decref(d);
        return RP_EX_OSERR;
    }
    json_decref(d);
    return status;
}

/* ---- rampartctl plugin NAME COMMAND [ARGS...] ------------------------------- */

/* A line reader over the socket: lines of at most CTL_REPLY_MAX bytes. */
struct line_reader {
    int fd;
    char *buf;
    size_t len, cap;
};

/* The next line (without its newline) into *line, *n bytes, valid until the
 * next call. RP_ERR_IO when the agent closed before a whole line. */
static int read_line(struct line_reader *r, char **line, size_t *n)
{
    for (;;) {
        char *nl = r->len ? memchr(r->buf, '\n', r->len) : NULL;
        if (nl) {
            *line = r->buf;
            *n = (size_t)(nl - r->buf);
            *nl = '\0';
            return 0;
        }
        if (r->len == r->cap) {
            char *nb = r->cap < CTL_REPLY_MAX ? realloc(r->buf, r->cap ? r->cap * 2 : 65536) : NULL;
            if (!nb)
                return RP_ERR_RANGE;
            r->buf = nb;
            r->cap = r->cap ? r->cap * 2 : 65536;
        }
        size_t got = 0;
        int rc = rp__os_sock_recv_wait(r->fd, r->buf + r->len, r->cap - r->len, &got);
        if (rc != 0)
            return rc;
        if (got == 0)
            return RP_ERR_IO;
        r->len += got;
    }
}

/* Drops the line read_line gave. */
static void drop_line(struct line_reader *r, size_t n)
{
    memmove(r->buf, r->buf + n + 1, r->len - n - 1);
    r->len -= n + 1;
}

/* Prints one reply value: a string as it is, anything else as compact JSON. */
static void print_value(const json_t *v)
{
    if (json_is_string(v)) {
        fwrite(json_string_value(v), 1, json_string_length(v), stdout);
        fputc('\n', stdout);
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s\n", t ? t : "null");
        free(t);
    }
    fflush(stdout);
}

/* The exit code of a plugin command's error reply (docs/control.md). */
static int command_error_code(const json_t *reply)
{
    if (json_is_true(json_object_get(reply, "plugin_error")))
        return RP_EX_SOFTWARE;
    const char *code = json_string_value(json_object_get(reply, "code"));
    if (!code)
        return ctl_refused_code(reply);
    if (strcmp(code, "RP_ERR_TIMEOUT") == 0 || strcmp(code, "RP_ERR_BUSY") == 0)
        return RP_EX_TEMPFAIL;
    if (strcmp(code, "RP_ERR_NOTFOUND") == 0 || strcmp(code, "RP_ERR_INVAL") == 0)
        return RP_EX_USAGE;
    if (strcmp(code, "RP_ERR_STOPPED") == 0 || strcmp(code, "RP_ERR_UNSUPPORTED") == 0)
        return RP_EX_UNAVAILABLE;
    return RP_EX_SOFTWARE;
}

static int cmd_plugin(const char *config_file, const char *site, int argc, char **argv)
{
    /* argv: NAME COMMAND [ARGS...] */
    json_t *command = json_object();
    json_t *args = json_array();
    json_object_set_new(command, "command", json_string(argv[1]));
    for (int k = 2; k < argc; k++)
        json_array_append_new(args, json_string(argv[k]));
    json_object_set_new(command, "args", args);
    json_t *req = json_object();
    json_object_set_new(req, "cmd", json_string("plugin"));
    json_object_set_new(req, "name", json_string(argv[0]));
    json_object_set_new(req, "command", command);
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text) {
        fprintf(stderr, "rampartctl: plugin: the arguments are not valid UTF-8 text\n");
        return RP_EX_USAGE;
    }
    size_t tlen = strlen(text);
    if (tlen + 1 > RP__CONTROL_MAX_REQUEST) {
        fprintf(stderr, "rampartctl: plugin: the command is %zu bytes, over the cap of %u\n", tlen,
                RP__CONTROL_MAX_REQUEST - 1);
        free(text);
        return RP_EX_USAGE;
    }
    rp__config *cfg = NULL;
    if (load_config(config_file, site, &cfg) != 0) {
        free(text);
        return RP_EX_CONFIG;
    }
    /* Each wait is bounded by the command's deadline and a margin: the
     * agent says "timed out" itself when the plugin takes longer. */
    int wait_ms = (int)cfg->plugin_command_timeout_ms + 10000;
    int fd = -1;
    int rc = ctl_connect(cfg->control_socket, wait_ms, &fd);
    if (rc != 0) {
        int ex = ctl_fail(cfg->control_socket, rc);
        free(text);
        rp__config_destroy(cfg);
        return ex;
    }
    text[tlen] = '\n';
    (void)rp__os_sock_send_all(fd, text, tlen + 1);
    free(text);
    struct line_reader r = {.fd = fd};
    int ex = -1;
    while (ex < 0) {
        char *line;
        size_t n;
        rc = read_line(&r, &line, &n);
        if (rc != 0) {
            ex = rc == RP_ERR_IO ? (fprintf(stderr,
                                            "rampartctl: plugin %s: the agent closed the "
                                            "connection before the last reply\n",
                                            argv[0]),
                                    RP_EX_UNAVAILABLE)
                                 : ctl_fail(cfg->control_socket, rc);
            break;
        }
        json_t *reply = json_loadb(line, n, 0, NULL);
        drop_line(&r, n);
        if (!json_is_object(reply)) {
            json_decref(reply);
            ex = ctl_fail(cfg->control_socket, RP_ERR_PARSE);
            break;
        }
        if (json_is_true(json_object_get(reply, "ok"))) {
            print_value(json_object_get(reply, "reply"));
            if (!json_is_true(json_object_get(reply, "more")))
                ex = RP_EX_OK;
        } else {
            const char *e = json_string_value(json_object_get(reply, "error"));
            fprintf(stderr, "rampartctl: plugin %s: %s\n", argv[0], e ? e : "refused");
            ex = command_error_code(reply);
        }
        json_decref(reply);
    }
    free(r.buf);
    rp__os_sock_close(&fd);
    rp__config_destroy(cfg);
    return ex;
}

/* rampartctl plugins enable NAME: the agent forgets the plugin's faults
 * (runtime/faults.h) and starts it again, restarting its worker when the
 * plugin was kept out; what it did is printed. */
static int cmd_plugins_enable(const char *config_file, const char *site, const char *name)
{
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > RP__CONTROL_NAME_MAX) {
        fprintf(stderr, "rampartctl: plugins enable: '%s' is not a plugin instance name\n", name);
        return RP_EX_USAGE;
    }
    json_t *req = json_object();
    json_object_set_new(req, "cmd", json_string("plugin-enable"));
    json_object_set_new(req, "name", json_string(name));
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!text) {
        fprintf(stderr, "rampartctl: plugins enable: the name is not valid UTF-8 text\n");
        return RP_EX_USAGE;
    }
    rp__config *cfg = NULL;
    if (load_config(config_file, site, &cfg) != 0) {
        free(text);
        return RP_EX_CONFIG;
    }
    int fd = -1;
    int rc = ctl_connect(cfg->control_socket, 10000, &fd);
    if (rc != 0) {
        int ex = ctl_fail(cfg->control_socket, rc);
        free(text);
        rp__config_destroy(cfg);
        return ex;
    }
    size_t tlen = strlen(text);
    text[tlen] = '\n';
    (void)rp__os_sock_send_all(fd, text, tlen + 1);
    free(text);
    struct line_reader r = {.fd = fd};
    char *line;
    size_t n;
    int ex;
    rc = read_line(&r, &line, &n);
    json_t *reply = rc == 0 ? json_loadb(line, n, 0, NULL) : NULL;
    if (rc != 0 || !json_is_object(reply)) {
        ex = ctl_fail(cfg->control_socket, rc != 0 ? rc : RP_ERR_PARSE);
    } else if (!json_is_true(json_object_get(reply, "ok"))) {
        ex = ctl_refused(reply, "plugins enable");
    } else {
        const char *m = json_string_value(json_object_get(reply, "message"));
        printf("rampartctl: %s\n", m ? m : "done");
        ex = RP_EX_OK;
    }
    json_decref(reply);
    free(r.buf);
    rp__os_sock_close(&fd);
    rp__config_destroy(cfg);
    return ex;
}

/* rampartctl plugins: an aligned table, one row per plugin. */
static int cmd_plugins(const char *config_file, const char *site, int as_json)
{
    rp__config *cfg = NULL;
    if (load_config(config_file, site, &cfg) != 0)
        return RP_EX_CONFIG;
    json_t *reply = NULL;
    int rc = ctl_ask(cfg->control_socket, "plugins", 10000, &reply);
    int ex = RP_EX_OK;
    if (rc != 0)
        ex = ctl_fail(cfg->control_socket, rc);
    else if (!json_is_true(json_object_get(reply, "ok")) ||
             !json_is_array(json_object_get(reply, "plugins")))
        ex = ctl_refused(reply, "plugins");
    rp__config_destroy(cfg);
    if (ex != RP_EX_OK) {
        json_decref(reply);
        return ex;
    }
    const json_t *list = json_object_get(reply, "plugins");
    if (as_json) {
        json_dumpf(list, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(reply);
        return RP_EX_OK;
    }
    int prc = rp__ctl_print_plugins(stdout, list);
    json_decref(reply);
    return prc == 0 ? RP_EX_OK : RP_EX_OSERR;
}

int main(int argc, char **argv)
{
    const char *config_file = RP_DEFAULT_CONFIG, *site = NULL;
    int config_given = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            config_file = argv[++i];
            config_given = 1;
        } else if ((strcmp(argv[i], "--site") == 0 || strcmp(argv[i], "-s") == 0) && i + 1 < argc) {
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
    if (strcmp(cmd, "plugins") == 0 && i + 1 < argc && strcmp(argv[i + 1], "enable") == 0) {
        if (argc - (i + 2) != 1) {
            fprintf(stderr, "rampartctl: plugins enable needs one plugin name\n%s", usage_text);
            return RP_EX_USAGE;
        }
        return cmd_plugins_enable(config_file, site, argv[i + 2]);
    }
    if (strcmp(cmd, "plugins") == 0) {
        int as_json = i + 1 < argc && strcmp(argv[i + 1], "--json") == 0;
        if (i + 1 + as_json < argc) {
            fprintf(stderr, "rampartctl: unexpected argument '%s'\n%s", argv[i + 1 + as_json],
                    usage_text);
            return RP_EX_USAGE;
        }
        return cmd_plugins(config_file, site, as_json);
    }
    if (strcmp(cmd, "rules") == 0)
        return rp__ctl_rules(argc - i, argv + i, config_file, config_given, site);
    if (strcmp(cmd, "sign") == 0)
        return rp__ctl_sign(argc - i, argv + i);
    if (strcmp(cmd, "verify") == 0)
        return rp__ctl_verify(argc - i, argv + i, config_file, site);
    if (strcmp(cmd, "plugin") == 0) {
        if (argc - (i + 1) < 2) {
            fprintf(stderr, "rampartctl: plugin needs a plugin name and a command\n%s", usage_text);
            return RP_EX_USAGE;
        }
        return cmd_plugin(config_file, site, argc - (i + 1), argv + i + 1);
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
    static const char *const commands[] = {"plugin", "plugins", "reload", "rules",
                                           "sign",   "status",  "verify", "version"};
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
