/*
 * tests/bench/plugins/plugin_path.h - what bench_plugin_path.c and its two
 * plugins (pp_collector.c, pp_detector.c) share: the control page they all
 * map from one file (named in each plugin's config as "ctl") and the event
 * the collector makes, so that the bench can build the same event to report
 * its size. Plugin side: only the SDK header and the C library.
 *
 * Why a shared page: the bench measures delivery, not loss. As in
 * bench_bus_throughput, the collector keeps at most "window" events in
 * flight (published, on_event not yet returned), with the window under the
 * subscriber's queue capacity, so the bus never drops; it learns how far the
 * detector got from the page. The page also carries the start signal and
 * the two timestamps the figure is made of, taken by the plugins themselves
 * so that the bench's polling does not enter the figure.
 */
#ifndef RP_BENCH_PLUGIN_PATH_H
#define RP_BENCH_PLUGIN_PATH_H

#include <rampart/plugin.h>

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#define PP_TOPIC     "bench.plugin_path"
#define PP_FIELDS    10u /* fields the collector sets on each event */
#define PP_VARIANTS  4u  /* the collector cycles through this many value sets */
#define PP_ARGS      3u  /* items of process.args */
#define PP_CTL_BYTES 4096u

/* Modes of a run (pp_ctl.mode). */
#define PP_MODE_PUBLISH 0u /* create, fill, publish: the plugin path end to end */
#define PP_MODE_FILL    1u /* create, fill, release: the collector's share alone */

struct pp_ctl {
    /* Written by the detector (one dispatcher thread at a time): events
     * seen since the plugins started, cumulative over runs. */
    _Alignas(64) atomic_uint_least64_t done;
    /* When done reached target: the detector's monotonic clock. */
    atomic_int_least64_t t_last_ns;
    atomic_uint_least64_t bad; /* events whose fields were not what was sent */

    /* Written by the bench before it raises go; read by the collector. */
    _Alignas(64) atomic_uint_least64_t go; /* run number to start (1, 2, ...) */
    atomic_uint_least64_t quit;            /* the bench gives up: abandon the run */
    atomic_uint_least64_t mode;
    atomic_uint_least64_t events; /* events in this run */
    atomic_uint_least64_t window; /* events in flight at most */
    atomic_uint_least64_t target; /* done value that ends this run */

    /* Written by the collector. */
    _Alignas(64) atomic_uint_least64_t ran; /* last run number it finished */
    atomic_int_least64_t t_first_ns;        /* before the run's first event_create */
    atomic_int_least64_t t_end_ns;          /* after its last publish (or release) */
    atomic_int_least64_t failed;            /* first error of a host call (negative), or 0 */
    atomic_uint_least64_t failed_step;      /* which call: see pp_step_names */
};

_Static_assert(sizeof(struct pp_ctl) <= PP_CTL_BYTES, "the control page is one page");

/* Which host call failed (pp_ctl.failed_step). */
#define PP_STEP_CREATE  1u
#define PP_STEP_SET     2u
#define PP_STEP_PUBLISH 3u

/* The values of the event: PP_VARIANTS sets of plausible process.exec
 * strings, the sort a process collector fills. */
static const char *const pp_names[PP_VARIANTS] = {"bash", "python3", "sshd", "curl"};
static const char *const pp_exes[PP_VARIANTS] = {"/usr/bin/bash", "/usr/bin/python3.12",
                                                 "/usr/sbin/sshd", "/usr/bin/curl"};
static const char *const pp_cmdlines[PP_VARIANTS] = {
    "/usr/bin/bash -c 'for f in /var/log/*.log; do gzip -9 \"$f\"; done'",
    "/usr/bin/python3.12 /opt/app/manage.py runworker --queue default --concurrency 4",
    "sshd: deploy [priv] -oLogLevel=VERBOSE -oPermitRootLogin=no",
    "/usr/bin/curl -fsSL --retry 3 https://updates.example.com/v2/manifest.json"};
static const char *const pp_args[PP_VARIANTS][PP_ARGS] = {
    {"/usr/bin/bash", "-c", "for f in /var/log/*.log; do gzip -9 \"$f\"; done"},
    {"/usr/bin/python3.12", "/opt/app/manage.py", "runworker"},
    {"sshd:", "deploy", "[priv]"},
    {"/usr/bin/curl", "-fsSL", "https://updates.example.com/v2/manifest.json"}};
static const char *const pp_uids[PP_VARIANTS] = {"0", "1000", "0", "33"};
static const char *const pp_users[PP_VARIANTS] = {"root", "deploy", "root", "www-data"};
#define PP_HOSTNAME "build-worker-07.eu-west.internal.example.com"

/* The ids of the ten fields (field_id at init). */
struct pp_fields {
    rp_field_id pid, start, interactive, name, exe, cmdline, args, uid, user, hostname;
};

static inline int pp_fields_init(const rp_host_api *h, rp_plugin *self, struct pp_fields *f)
{
#define PP_ID(var, fname, type)                                                                    \
    if ((rc = h->field_id(self, fname, sizeof fname - 1, type, &f->var)) != 0)                     \
        return rc;
    int rc;
    PP_ID(pid, "process.pid", RP_TYPE_I64)
    PP_ID(start, "process.start", RP_TYPE_TIMESTAMP)
    PP_ID(interactive, "process.interactive", RP_TYPE_BOOL)
    PP_ID(name, "process.name", RP_TYPE_STR)
    PP_ID(exe, "process.executable", RP_TYPE_STR)
    PP_ID(cmdline, "process.command_line", RP_TYPE_STR)
    PP_ID(args, "process.args", RP_TYPE_STR_ARRAY)
    PP_ID(uid, "user.id", RP_TYPE_STR)
    PP_ID(user, "user.name", RP_TYPE_STR)
    PP_ID(hostname, "host.hostname", RP_TYPE_STR)
#undef PP_ID
    return 0;
}

/* Sets the ten fields of event number i (its process.pid is i, so that the
 * detector can check order and loss). 0 or the first setter's error. */
static inline int pp_fill(const rp_host_api *h, rp_event *ev, const struct pp_fields *f, uint64_t i,
                          int64_t start_ns)
{
    unsigned v = (unsigned)(i % PP_VARIANTS);
    rp_str args[PP_ARGS];
    for (unsigned k = 0; k < PP_ARGS; k++) {
        args[k].ptr = pp_args[v][k];
        args[k].len = strlen(pp_args[v][k]);
    }
    int rc;
    if ((rc = h->set_i64(ev, f->pid, (int64_t)i)) != 0 ||
        (rc = h->set_timestamp(ev, f->start, start_ns)) != 0 ||
        (rc = h->set_bool(ev, f->interactive, v == 2)) != 0 ||
        (rc = h->set_str(ev, f->name, pp_names[v], strlen(pp_names[v]))) != 0 ||
        (rc = h->set_str(ev, f->exe, pp_exes[v], strlen(pp_exes[v]))) != 0 ||
        (rc = h->set_str(ev, f->cmdline, pp_cmdlines[v], strlen(pp_cmdlines[v]))) != 0 ||
        (rc = h->set_str_array(ev, f->args, args, PP_ARGS)) != 0 ||
        (rc = h->set_str(ev, f->uid, pp_uids[v], strlen(pp_uids[v]))) != 0 ||
        (rc = h->set_str(ev, f->user, pp_users[v], strlen(pp_users[v]))) != 0 ||
        (rc = h->set_str(ev, f->hostname, PP_HOSTNAME, sizeof PP_HOSTNAME - 1)) != 0)
        return rc;
    return 0;
}

/* The bytes of field values of event i (strings, items, 8 per scalar). */
static inline uint64_t pp_value_bytes(uint64_t i)
{
    unsigned v = (unsigned)(i % PP_VARIANTS);
    uint64_t n = 3 * 8 + strlen(pp_names[v]) + strlen(pp_exes[v]) + strlen(pp_cmdlines[v]) +
                 strlen(pp_uids[v]) + strlen(pp_users[v]) + sizeof PP_HOSTNAME - 1;
    for (unsigned k = 0; k < PP_ARGS; k++)
        n += strlen(pp_args[v][k]);
    return n;
}

/* Maps the control page named by the plugin's config ("ctl": a path) through
 * the host's config getter; both bench plugins share the page. 0, or an
 * RP_ERR_* with set_error saying what failed. */
static inline int pp_ctl_map(const rp_host_api *host, rp_plugin *self, struct pp_ctl **out)
{
    const char *path;
    int rc = host->config_str(self, "/ctl", 4, &path, NULL);
    if (rc != 0)
        return rc;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    void *m =
        fd >= 0 ? mmap(NULL, PP_CTL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
    if (fd >= 0)
        close(fd);
    if (m == MAP_FAILED) {
        host->set_error(self, "cannot map the control file", 27);
        return RP_ERR_IO;
    }
    *out = (struct pp_ctl *)m;
    return 0;
}

#define PP_CONFIG_SCHEMA                                                                           \
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"ctl\"],"                  \
    "\"properties\":{\"ctl\":{\"type\":\"string\"}}}"

#endif
