/*
 * collector_process - process.exec and process.exit events from the Linux
 * netlink proc connector, enriched from /proc, with a process table for
 * lineage and a /proc polling fallback. See README.md for the fields, the
 * configuration and the counters.
 *
 * Threads: everything runs on the host's loop thread (the netlink fd, the
 * timers and the completions of hash jobs), except the hashing itself, which
 * runs on the host's worker pool and touches only its own job. One mutex
 * guards the state against stop(), which runs on the control thread while
 * completions may still arrive.
 */
#define _GNU_SOURCE
#include "hcache.h"
#include "names.h"
#include "netlink.h"
#include "procfs.h"
#include "ptable.h"

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_proc.h>
#include <rampart/service_lineage.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cn_proc.h>
#include <mbedtls/sha256.h>
#include <mbedtls/version.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char config_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"mode\":{\"enum\":[\"auto\",\"netlink\",\"poll\"],\"default\":\"auto\","
    "\"description\":\"auto: proc connector, else /proc polling; netlink: proc connector "
    "or fail; poll: /proc polling only\"},"
    "\"rcvbuf_bytes\":{\"type\":\"integer\",\"minimum\":65536,\"maximum\":1073741824,"
    "\"default\":8388608,\"description\":\"netlink receive buffer (SO_RCVBUFFORCE)\"},"
    "\"poll_interval_ms\":{\"type\":\"integer\",\"minimum\":100,\"maximum\":600000,"
    "\"default\":1000,\"description\":\"period of the /proc scan in poll mode\"},"
    "\"max_processes\":{\"type\":\"integer\",\"minimum\":64,\"maximum\":4194304,"
    "\"default\":16384,\"description\":\"entries of the process table\"},"
    "\"hash_executables\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"add process.hash.sha256\"},"
    "\"hash_max_bytes\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1099511627776,"
    "\"default\":104857600,\"description\":\"larger executables are not hashed\"},"
    "\"hash_cache_entries\":{\"type\":\"integer\",\"minimum\":16,\"maximum\":1048576,"
    "\"default\":4096,\"description\":\"executable hashes kept\"},"
    "\"max_pending\":{\"type\":\"integer\",\"minimum\":16,\"maximum\":1048576,"
    "\"default\":4096,\"description\":\"events held back waiting for a hash\"},"
    "\"args_max_bytes\":{\"type\":\"integer\",\"minimum\":256,\"maximum\":16384,"
    "\"default\":16384,\"description\":\"bytes of the argument vector read per exec\"},"
    "\"container_id\":{\"enum\":[\"auto\",\"always\",\"never\"],\"default\":\"auto\","
    "\"description\":\"read container.id from /proc/<pid>/cgroup: auto = when a container "
    "runtime is installed\"},"
    "\"split_sockets\":{\"type\":\"boolean\",\"default\":true,"
    "\"description\":\"on Linux >= 6.6, exec events on a socket of their own; false: one "
    "socket for all events, as on older kernels\"},"
    "\"hash_user_bytes_per_minute\":{\"type\":\"integer\",\"minimum\":0,"
    "\"maximum\":1099511627776,\"default\":268435456,\"description\":\"bytes of executables "
    "hashed per minute for the processes of one user other than root; beyond it execs are "
    "not hashed but flagged (0: no limit)\"},"
    "\"batch_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":1000,\"default\":100,"
    "\"description\":\"events are published in batches at most this old, and fork and exit "
    "events read this late; 0 = at once\"}," RP_UTIL_EXCLUDE_SCHEMA "}}";

#define MODE_AUTO    0
#define MODE_NETLINK 1
#define MODE_POLL    2

#define CONT_AUTO   0
#define CONT_ALWAYS 1
#define CONT_NEVER  2

/* Parent command lines kept in the table are cut here: the table holds up to
 * max_processes of them. The event's own args use args_max_bytes. */
#define TABLE_ARGS_MAX 2048u
/* An exec event this soon after a rescan read the same pid, for the same
 * image, is the exec the rescan caught half done (see exec_repeats_rescan). */
#define RESCAN_RACE_NS    (100LL * 1000000LL)
#define MAX_ARGS_ITEMS    1024u
#define NL_READ_CAP       1024 /* messages read from one socket per drain */
#define KEV_CAP           2048 /* decoded kernel events held at once (read, not yet handled) */
#define CAPT_MAX          16   /* execs per drain whose /proc data is read ahead */
#define HOUSEKEEPING_MS   60000u
#define RESCAN_MIN_GAP_NS 1000000000LL
#define NAMES_CAP         1024u
#define BLOCKED_MAX       64
#define HASH_CHUNK        65536
#define RBUF_MIN          8192
#define PEND_FLUSH_AT     256 /* queued events that are published without waiting for the timer */

/* Why an event is incomplete (collector_process.incomplete_reason). */
#define INC_NONE       0
#define INC_EXITED     1 /* the process was gone before /proc could be read */
#define INC_REEXEC     2 /* it exec'd again before /proc was read: that shows a later image */
#define INC_LOST       3 /* the kernel dropped events: whether it exec'd is unknown */
#define INC_UNREADABLE 4 /* /proc refused or cut a read */
#define INC_PATH_LONG  5 /* a path longer than the kernel prints (PATH_MAX) */
#define INC_UNKNOWN    6 /* a process the table does not know */
static const char *const inc_name[] = {"",           "exited",        "reexec",      "events_lost",
                                       "unreadable", "path_too_long", "not_in_table"};

#define SRC_NETLINK 0
#define SRC_RESCAN  1
#define SRC_POLL    2
static const char *const src_name[] = {"netlink", "rescan", "poll"};

enum {
    F_TS,
    F_CATEGORY,
    F_TYPE,
    F_ACTION,
    F_PID,
    F_ENTITY,
    F_NAME,
    F_EXE,
    F_ARGS,
    F_ARGC,
    F_CMD,
    F_CWD,
    F_START,
    F_END,
    F_EXIT_CODE,
    F_DURATION,
    F_HASH,
    F_PPID,
    F_PENTITY,
    F_PNAME,
    F_PEXE,
    F_PCMD,
    F_PSTART,
    F_UID,
    F_UNAME,
    F_GID,
    F_GNAME,
    F_EUID,
    F_EUNAME,
    F_CONTAINER,
    F_SOURCE,
    F_SIGNAL,
    F_CODE_KNOWN,
    F_ARGS_TRUNC,
    F_OUTCOME,
    F_INCOMPLETE,
    F_INC_REASON,
    F_PATH_UNRES,
    F_EXE_INODE,
    F_EXE_DEV,
    F_HASH_SKIP,
    F_DATASET,
    F_EXE_MEMFD,
    F_EXE_DELETED,
    F_COUNT_
};

static const rp_util_field_def field_defs[F_COUNT_] = {
    [F_TS] = {"@timestamp", RP_TYPE_TIMESTAMP},
    [F_CATEGORY] = {"event.category", RP_TYPE_STR_ARRAY},
    [F_TYPE] = {"event.type", RP_TYPE_STR_ARRAY},
    [F_ACTION] = {"event.action", RP_TYPE_STR},
    [F_PID] = {"process.pid", RP_TYPE_I64},
    [F_ENTITY] = {"process.entity_id", RP_TYPE_STR},
    [F_NAME] = {"process.name", RP_TYPE_STR},
    [F_EXE] = {"process.executable", RP_TYPE_STR},
    [F_ARGS] = {"process.args", RP_TYPE_STR_ARRAY},
    [F_ARGC] = {"process.args_count", RP_TYPE_I64},
    [F_CMD] = {"process.command_line", RP_TYPE_STR},
    [F_CWD] = {"process.working_directory", RP_TYPE_STR},
    [F_START] = {"process.start", RP_TYPE_TIMESTAMP},
    [F_END] = {"process.end", RP_TYPE_TIMESTAMP},
    [F_EXIT_CODE] = {"process.exit_code", RP_TYPE_I64},
    [F_DURATION] = {"event.duration", RP_TYPE_I64},
    [F_HASH] = {"process.hash.sha256", RP_TYPE_STR},
    [F_PPID] = {"process.parent.pid", RP_TYPE_I64},
    [F_PENTITY] = {"process.parent.entity_id", RP_TYPE_STR},
    [F_PNAME] = {"process.parent.name", RP_TYPE_STR},
    [F_PEXE] = {"process.parent.executable", RP_TYPE_STR},
    [F_PCMD] = {"process.parent.command_line", RP_TYPE_STR},
    [F_PSTART] = {"process.parent.start", RP_TYPE_TIMESTAMP},
    [F_UID] = {"user.id", RP_TYPE_STR},
    [F_UNAME] = {"user.name", RP_TYPE_STR},
    [F_GID] = {"group.id", RP_TYPE_STR},
    [F_GNAME] = {"group.name", RP_TYPE_STR},
    [F_EUID] = {"user.effective.id", RP_TYPE_STR},
    [F_EUNAME] = {"user.effective.name", RP_TYPE_STR},
    [F_CONTAINER] = {"container.id", RP_TYPE_STR},
    [F_SOURCE] = {"collector_process.source", RP_TYPE_STR},
    [F_SIGNAL] = {"collector_process.exit_signal", RP_TYPE_I64},
    [F_CODE_KNOWN] = {"collector_process.exit_code_known", RP_TYPE_BOOL},
    [F_ARGS_TRUNC] = {"collector_process.args_truncated", RP_TYPE_BOOL},
    [F_OUTCOME] = {"event.outcome", RP_TYPE_STR},
    /* The ECS names of what could not be had, as the other collectors say it. */
    [F_INCOMPLETE] = {"rampart.incomplete", RP_TYPE_STR_ARRAY},
    [F_INC_REASON] = {"collector_process.incomplete_reason", RP_TYPE_STR},
    [F_PATH_UNRES] = {"collector_process.path_unresolved", RP_TYPE_BOOL},
    [F_EXE_INODE] = {"collector_process.executable_inode", RP_TYPE_U64},
    [F_EXE_DEV] = {"collector_process.executable_device", RP_TYPE_U64},
    [F_HASH_SKIP] = {"collector_process.hash_skipped", RP_TYPE_STR},
    [F_DATASET] = {"event.dataset", RP_TYPE_STR},
    /* A memfd's "path" is whatever name its creator chose, and a deleted
     * file's a name it no longer has: these say so (as in file and network
     * events) instead. */
    [F_EXE_MEMFD] = {"rampart.process.executable_memfd", RP_TYPE_BOOL},
    [F_EXE_DELETED] = {"rampart.process.executable_deleted", RP_TYPE_BOOL},
};

enum {
    C_KERNEL_EVENTS,
    C_KERNEL_LOST,
    C_KERNEL_MALFORMED,
    C_RESCANS,
    C_RESCAN_EXECS,
    C_RESCAN_EXITS,
    C_RESCAN_DUPS,
    C_POLLS,
    C_EXEC,
    C_EXIT,
    C_PARTIAL,
    C_PUBLISHED,
    C_PUBLISH_FAILED,
    C_EVICT,
    C_EVICT_LIVE,
    C_HHIT,
    C_HMISS,
    C_HFAIL,
    C_HSKIP,
    C_HFULL,
    C_PEND_OVF,
    C_MODE_NETLINK,
    C_MODE_POLL,
    C_REEXEC,
    C_EXIT_UNKNOWN_IMAGE,
    C_LEADER_DEFER,
    C_PATH_UNRES,
    C_HCHANGED,
    C_HSPARSE,
    C_HBUDGET,
    C_HPRIO,
    C_ORDER_FORCED,
    C_EXCL_EXE,
    C_EXCL_PATH,
    C_EXCL_USER,
    C_COUNT_
};

static const char *const counter_names[C_COUNT_] = {
    [C_KERNEL_EVENTS] = "kernel_events",
    [C_KERNEL_LOST] = "kernel_lost",
    [C_KERNEL_MALFORMED] = "kernel_malformed",
    [C_RESCANS] = "rescans",
    [C_RESCAN_EXECS] = "rescan_execs",
    [C_RESCAN_EXITS] = "rescan_exits",
    [C_RESCAN_DUPS] = "rescan_duplicates",
    [C_POLLS] = "polls",
    [C_EXEC] = "exec_events",
    [C_EXIT] = "exit_events",
    [C_PARTIAL] = "exec_partial",
    [C_PUBLISHED] = "published",
    [C_PUBLISH_FAILED] = "publish_failed",
    [C_EVICT] = "table_evictions",
    [C_EVICT_LIVE] = "table_evictions_live",
    [C_HHIT] = "hash_cache_hits",
    [C_HMISS] = "hash_cache_misses",
    [C_HFAIL] = "hash_failed",
    [C_HSKIP] = "hash_skipped",
    [C_HFULL] = "hash_queue_full",
    [C_PEND_OVF] = "pending_overflow",
    [C_MODE_NETLINK] = "mode_netlink",
    [C_MODE_POLL] = "mode_poll",
    [C_REEXEC] = "exec_reexec_raced",
    [C_EXIT_UNKNOWN_IMAGE] = "exit_image_unknown",
    [C_LEADER_DEFER] = "leader_exits_deferred",
    [C_PATH_UNRES] = "path_unresolved",
    [C_HCHANGED] = "hash_changed",
    [C_HSPARSE] = "hash_skipped_sparse",
    [C_HBUDGET] = "hash_skipped_budget",
    [C_HPRIO] = "hash_priority_failed",
    [C_ORDER_FORCED] = "order_forced",
    [C_EXCL_EXE] = "excluded_executable",
    [C_EXCL_PATH] = "excluded_path",
    [C_EXCL_USER] = "excluded_user",
};

struct cfg {
    int mode;
    uint64_t rcvbuf, poll_ms, max_processes, hash_max, hash_entries, max_pending, args_max;
    uint64_t batch_ms, hash_user_budget;
    int split;
    int containers; /* CONT_* */
    int hash;
};

/* A string arena for the /proc data captured in one batch. */
struct arena {
    char *buf;
    size_t cap, used;
};

/* What is read from /proc right at exec, before the process can vanish:
 * the executable, its identity (for the hash cache), the arguments and the
 * working directory. Strings live in an arena. */
struct capture {
    int32_t pid;
    int64_t ts_mono; /* kernel time of the exec; 0 for scans */
    uint8_t done, have_st, args_trunc;
    /* Why the capture is not the exec's own, whole image (an INC_* reason),
     * and whether the executable's path was too long to read. */
    uint8_t reason, path_unres;
    uint32_t exe_flags; /* CP_F_EXE_DELETED, CP_F_EXE_MEMFD */
    struct stat st;
    const char *exe, *cwd, *args;
    uint32_t exe_len, cwd_len, args_len;
};

/* An event on its way out (see the pending queue below). */
struct pend {
    rp_event *ev;
    int32_t pid;
    uint32_t hidx; /* hash entry waited for; CP_NONE when ready */
    uint8_t used;
    uint8_t is_exec;
};

/* A snapshot of a parent's details, holding references, so that it stays
 * valid even if the parent's table entry is evicted meanwhile. */
struct snap {
    int have;
    int32_t pid;
    int64_t start_ns;
    char entity[CP_ENTITY_LEN + 1];
    char comm[17];
    cp_blob *exe, *args;
    uint32_t uid, euid, gid, egid;
    uint32_t flags;
};

struct hjob {
    struct cp *s;
    int fd;
    uint64_t size;  /* the file's size when it was looked at */
    struct stat st; /* the file version the hash is for (the cache key) */
    uint32_t hidx;
    int rc;        /* 0, RP_ERR_IO, or HASH_CHANGED */
    int prio_fail; /* the worker's scheduling could not be restored */
    char hex[65];
};

/* hjob.rc: the file changed while it was hashed, so the hash is of neither
 * version (or of the wrong one) and is discarded. */
#define HASH_CHANGED 1
/* Bytes hashed between two checks that the file is unchanged. */
#define HASH_RECHECK (4u << 20)
/* The nice value hashing runs at. */
#define HASH_NICE 19

/* Per-user hashing budget: bytes submitted in the current minute. */
#define BUDGET_USERS     64
#define BUDGET_WINDOW_NS (60LL * 1000000000LL)
/* A file this large with under a quarter of it on disk is mostly holes:
 * cheap for anyone to make, as costly as a real one to hash. */
#define SPARSE_MIN_BYTES (1u << 20)

struct budget {
    uint32_t uid;
    uint8_t used;
    int64_t window_start;
    uint64_t bytes;
};

struct cp {
    rp_plugin *self;
    const rp_host_api *host;
    pthread_mutex_t lock;
    struct cfg cfg;
    rp_field_id f[F_COUNT_];
    rp_util_counters ctr;
    rp_util_exclude excl;   /* the agent-wide collectors.exclude */
    uint64_t lost, rescans; /* for the log */
    uint64_t lost_drain0;   /* uncertainty() when the current drain began */
    uint64_t forced;        /* drains that had to handle events out of order */
    int64_t a_upto, b_upto; /* every event stamped before is read, per socket */

    int procfd;
    int nlfd, nlfd_b; /* exec (or all) events; fork, exit, uid, gid events or -1 */
    int mode;
    uint32_t nl_seq;
    atomic_uint_fast64_t nl_watch, nlb_watch, b_timer, poll_timer, hk_timer, rescan_timer,
        flush_timer;
    atomic_int stopping;

    cp_table *table;
    cp_hcache *hcache;
    cp_names *users, *groups;

    struct pend *pend;
    uint32_t pend_head, pend_count; /* slots from head, holes included */
    int64_t ready_since; /* monotonic ns when the oldest unpublished ready event came; 0: none */

    char machine_id[64];
    size_t mid_len;
    int64_t mono2wall, mono2boot, boot_wall;
    uint64_t tick_ns;
    int64_t last_hk_mono;

    int read_cgroups; /* container ids are looked for */
    uint32_t gen;
    int need_rescan;
    int64_t last_rescan_mono;
    /* Monotonic ns until which the table saw every event: the start of the
     * last drain without an overrun, or of the last poll. A process the table
     * lacks that started before it was evicted, not missed. */
    int64_t sync_mono;

    struct budget budget[BUDGET_USERS + 1]; /* the last one is shared by users beyond */
    atomic_int no_idle_prio; /* a restore failed once: hash at the worker's priority */
    /* (Read by the workers: atomic.) */

    char *rbuf; /* scratch for /proc reads: rbuf_cap bytes */
    size_t rbuf_cap;
    rp_str *items; /* MAX_ARGS_ITEMS, for process.args */
    struct arena batch, single;
    struct cp_nl_bufs *nl;
    struct cp_kev *kev; /* KEV_CAP */
    int nkev;
    struct capture caps[CAPT_MAX];
    rp_lineage_service lineage; /* offered to other plugins (ABI 1.1 hosts) */
};

/* ---- small helpers ------------------------------------------------------ */

/* Stops the timer / ends the fd watch whose id *slot holds, if any, and
 * clears the slot: the exchange makes sure only one caller does it. */
static void timer_off(struct cp *s, atomic_uint_fast64_t *slot)
{
    uint64_t id = atomic_exchange(slot, 0);
    if (id)
        s->host->timer_stop(s->self, id);
}

static void watch_off(struct cp *s, atomic_uint_fast64_t *slot)
{
    uint64_t id = atomic_exchange(slot, 0);
    if (id)
        s->host->fd_unwatch(s->self, id);
}

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The kernel's and the /proc clocks: offsets from the monotonic clock (the
 * connector's timestamps) to the wall clock and to the boot-time clock (the
 * start times in /proc), refreshed by the housekeeping timer so NTP steps are
 * followed. */
static void refresh_clocks(struct cp *s)
{
    int64_t m0 = clock_ns(CLOCK_MONOTONIC);
    int64_t r = clock_ns(CLOCK_REALTIME);
    int64_t b = clock_ns(CLOCK_BOOTTIME);
    int64_t m1 = clock_ns(CLOCK_MONOTONIC);
    int64_t m = m0 + (m1 - m0) / 2;
    s->mono2wall = r - m;
    s->mono2boot = b - m;
    s->boot_wall = r - b;
    s->last_hk_mono = m;
}

static int64_t ticks_to_wall(const struct cp *s, uint64_t ticks)
{
    return s->boot_wall + (int64_t)(ticks * s->tick_ns);
}

static uint64_t mono_to_ticks(const struct cp *s, int64_t mono)
{
    int64_t b = mono + s->mono2boot;
    return b > 0 ? (uint64_t)b / s->tick_ns : 0;
}

/* The scheme every collector shares (plugin_util.h); machine_id holds at
 * most 63 bytes, under the 64 that rp_util_entity_id keeps. */
_Static_assert(CP_ENTITY_LEN == RP_UTIL_ENTITY_ID_LEN, "one entity id length");
static void make_entity(const struct cp *s, int32_t pid, uint64_t ticks,
                        char out[CP_ENTITY_LEN + 1])
{
    rp_util_entity_id(s->machine_id, s->mid_len, pid, ticks, out);
}

static const char *base_name(const char *path, size_t len, size_t *out_len)
{
    const char *b = path;
    for (size_t i = 0; i < len; i++)
        if (path[i] == '/')
            b = path + i + 1;
    *out_len = len - (size_t)(b - path);
    return b;
}

static char *arena_put(struct arena *a, const char *p, size_t len)
{
    if (a->cap - a->used < len + 1)
        return NULL;
    char *d = a->buf + a->used;
    memcpy(d, p, len);
    d[len] = '\0';
    a->used += len + 1;
    return d;
}

/* What the kernel prints as the executable of a process whose file has no
 * link left (unlinked): its last name with " (deleted)" appended, or for an
 * anonymous memory file "/memfd:<name> (deleted)", where <name> is whatever
 * its creator chose (it may read "x/../../usr/sbin/sshd"). Cuts the suffix
 * of a deleted file's name, drops a memfd's name altogether (*len 0), and
 * returns the CP_F_EXE_* flags that say which it was. */
static uint32_t exe_unlinked(const char *link, size_t *len, int unlinked)
{
    static const char del[] = " (deleted)";
    const size_t dl = sizeof del - 1;
    if (!unlinked)
        return 0;
    if (*len > dl && memcmp(link + *len - dl, del, dl) == 0)
        *len -= dl;
    if (*len >= 7 && memcmp(link, "/memfd:", 7) == 0) {
        *len = 0;
        return CP_F_EXE_DELETED | CP_F_EXE_MEMFD;
    }
    return CP_F_EXE_DELETED;
}

/* Worst case of one capture in an arena. */
static size_t capture_need(const struct cp *s)
{
    return 2 * (PATH_MAX + 1) + s->cfg.args_max + 1;
}

static void set_s(struct cp *s, rp_event *ev, int f, const char *str, size_t len)
{
    s->host->set_str(ev, s->f[f], str, len);
}

static void set_z(struct cp *s, rp_event *ev, int f, const char *str)
{
    s->host->set_str(ev, s->f[f], str, strlen(str));
}

static void set_id(struct cp *s, rp_event *ev, int f, uint32_t id)
{
    char b[16];
    int n = snprintf(b, sizeof b, "%u", id);
    s->host->set_str(ev, s->f[f], b, (uint64_t)n);
}

/* ---- config ------------------------------------------------------------- */

/* The host validated the config against the schema above and filled in its
 * defaults; the getters read it by JSON Pointer. A getter fails only on a
 * host that broke that promise: 0, or RP_ERR_CONFIG after telling the host
 * which setting (rp_util_conf_ok). */
static int parse_config(const rp_host_api *host, rp_plugin *self, struct cfg *c)
{
    char word[16]; /* the longest enum value is "netlink" */
    const struct {
        const char *ptr;
        uint64_t dflt;
        uint64_t *out;
    } nums[] = {{"/rcvbuf_bytes", 8388608, &c->rcvbuf},
                {"/poll_interval_ms", 1000, &c->poll_ms},
                {"/max_processes", 16384, &c->max_processes},
                {"/hash_max_bytes", 104857600, &c->hash_max},
                {"/hash_cache_entries", 4096, &c->hash_entries},
                {"/max_pending", 4096, &c->max_pending},
                {"/args_max_bytes", 16384, &c->args_max},
                {"/batch_ms", 100, &c->batch_ms},
                {"/hash_user_bytes_per_minute", 268435456, &c->hash_user_budget}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        if (!rp_util_conf_ok(host, self, nums[i].ptr,
                             rp_util_conf_u64(host, self, nums[i].ptr, nums[i].dflt, nums[i].out)))
            return RP_ERR_CONFIG;
    if (!rp_util_conf_ok(host, self, "/hash_executables",
                         rp_util_conf_bool(host, self, "/hash_executables", 1, &c->hash)) ||
        !rp_util_conf_ok(host, self, "/split_sockets",
                         rp_util_conf_bool(host, self, "/split_sockets", 1, &c->split)) ||
        !rp_util_conf_ok(host, self, "/mode",
                         rp_util_conf_str(host, self, "/mode", "auto", word, sizeof word, NULL)))
        return RP_ERR_CONFIG;
    c->mode = MODE_AUTO;
    if (strcmp(word, "netlink") == 0)
        c->mode = MODE_NETLINK;
    else if (strcmp(word, "poll") == 0)
        c->mode = MODE_POLL;
    if (!rp_util_conf_ok(
            host, self, "/container_id",
            rp_util_conf_str(host, self, "/container_id", "auto", word, sizeof word, NULL)))
        return RP_ERR_CONFIG;
    c->containers = CONT_AUTO;
    if (strcmp(word, "always") == 0)
        c->containers = CONT_ALWAYS;
    else if (strcmp(word, "never") == 0)
        c->containers = CONT_NEVER;
    return 0;
}

/* ---- the pending queue ----------------------------------------------------
 *
 * Events of one pid leave in the order they happened: an exec waiting for
 * its executable's hash holds back later events of the same pid (its exit),
 * while other pids' events pass. Ready events whose pid has nothing waiting
 * are published at once; the others wait in a ring of max_pending slots.
 * At the cap the oldest waiting event goes out without its hash (counted as
 * pending_overflow) to make room, so memory stays bounded and nothing is
 * dropped. */

static void publish(struct cp *s, rp_event *ev)
{
    int rc = s->host->event_publish(s->self, ev);
    rp_util_count(&s->ctr, rc == 0 ? C_PUBLISHED : C_PUBLISH_FAILED, 1);
}

static struct pend *pend_at(struct cp *s, uint32_t k)
{
    return &s->pend[(s->pend_head + k) % s->cfg.max_pending];
}

static int pid_waiting(struct cp *s, int32_t pid)
{
    for (uint32_t k = 0; k < s->pend_count; k++) {
        struct pend *p = pend_at(s, k);
        if (p->used && p->pid == pid && p->hidx != CP_NONE)
            return 1;
    }
    return 0;
}

static void pend_flush(struct cp *s)
{
    int32_t blocked[BLOCKED_MAX];
    int nb = 0;
    for (uint32_t k = 0; k < s->pend_count; k++) {
        struct pend *p = pend_at(s, k);
        if (!p->used)
            continue;
        int is_blocked = 0;
        for (int i = 0; i < nb && !is_blocked; i++)
            is_blocked = blocked[i] == p->pid;
        if (p->hidx != CP_NONE || is_blocked) {
            if (is_blocked)
                continue;
            if (nb == BLOCKED_MAX)
                break; /* too many waiting pids to track: keep the rest in order */
            blocked[nb++] = p->pid;
            continue;
        }
        publish(s, p->ev);
        p->ev = NULL;
        p->used = 0;
    }
    /* Ready events left behind wait for a hash of their pid, whose completion
     * flushes again: no timer needed for them. */
    s->ready_since = 0;
    /* The events left move together, in order: an event waiting long for a
     * large file's hash must not make the slots of every event published
     * after it count against max_pending. */
    uint32_t kept = 0;
    for (uint32_t k = 0; k < s->pend_count; k++) {
        struct pend *p = pend_at(s, k);
        if (!p->used)
            continue;
        if (k != kept) {
            *pend_at(s, kept) = *p;
            p->used = 0;
            p->ev = NULL;
        }
        kept++;
    }
    s->pend_count = kept;
}

static void pend_push_kind(struct cp *s, rp_event *ev, int32_t pid, uint32_t hidx, int is_exec);

static void pend_push(struct cp *s, rp_event *ev, int32_t pid, uint32_t hidx)
{
    pend_push_kind(s, ev, pid, hidx, 0);
}

static void pend_push_kind(struct cp *s, rp_event *ev, int32_t pid, uint32_t hidx, int is_exec)
{
    if (s->cfg.batch_ms == 0 && hidx == CP_NONE && (s->pend_count == 0 || !pid_waiting(s, pid))) {
        publish(s, ev);
        return;
    }
    if (s->pend_count == s->cfg.max_pending) {
        struct pend *h = pend_at(s, 0);
        if (h->hidx != CP_NONE) {
            rp_util_count(&s->ctr, C_PEND_OVF, 1);
            set_z(s, h->ev, F_HASH_SKIP, "pending_overflow");
        }
        h->hidx = CP_NONE;
        pend_flush(s); /* the head is never blocked, so a slot frees up */
    }
    struct pend *p = pend_at(s, s->pend_count++);
    p->ev = ev;
    p->pid = pid;
    p->hidx = hidx;
    p->used = 1;
    p->is_exec = (uint8_t)is_exec;
    if (hidx == CP_NONE && !s->ready_since)
        s->ready_since = clock_ns(CLOCK_MONOTONIC);
}

static void on_flush_timer(void *arg);

/* Called at the end of every callback that may have queued events: publishes
 * the ready ones once the oldest is batch_ms old (or many are queued), else
 * makes sure a timer will. Each publish into an idle bus wakes a dispatcher
 * thread, so a batch every batch_ms costs far less than a wake-up per event
 * (the sink writes at most every flush_interval_ms anyway). During a burst
 * the batches go out from the callbacks the events come with, and the timer
 * only catches the tail. */
static void pend_kick(struct cp *s)
{
    if (s->ready_since) {
        int64_t age = clock_ns(CLOCK_MONOTONIC) - s->ready_since;
        int64_t batch = (int64_t)s->cfg.batch_ms * 1000000;
        if (age >= batch || s->pend_count >= PEND_FLUSH_AT || atomic_load(&s->stopping)) {
            pend_flush(s);
        } else if (!atomic_load(&s->flush_timer)) {
            uint64_t t;
            if (s->host->timer_start(s->self, (uint64_t)((batch - age) / 1000000) + 1, 0,
                                     on_flush_timer, s, &t) == 0)
                atomic_store(&s->flush_timer, t);
            else
                pend_flush(s);
            return;
        } else {
            return;
        }
    }
    /* Nothing left to time: a pending timer would only wake the loop. */
    timer_off(s, &s->flush_timer);
}

static void on_flush_timer(void *arg)
{
    struct cp *s = arg;
    /* A one-shot that fired: the host releases it after this returns. (Not
     * timer_stop here: the host would then compare the freed handle with the
     * one of a timer started below, which may get the same address.) */
    atomic_store(&s->flush_timer, 0);
    pthread_mutex_lock(&s->lock);
    pend_flush(s);
    pthread_mutex_unlock(&s->lock);
}

/* A hash finished (or failed): every event waiting for it gets it now, so no
 * event refers to the cache entry afterwards. */
static void pend_resolve(struct cp *s, uint32_t hidx, const char *hex, const char *why_not)
{
    for (uint32_t k = 0; k < s->pend_count; k++) {
        struct pend *p = pend_at(s, k);
        if (!p->used || p->hidx != hidx)
            continue;
        if (hex)
            set_s(s, p->ev, F_HASH, hex, 64);
        else
            set_z(s, p->ev, F_HASH_SKIP, why_not);
        p->hidx = CP_NONE;
    }
    pend_flush(s);
}

/* ---- hashing ------------------------------------------------------------ */

/* SHA-256 comes from mbedTLS (libmbedcrypto). Its 2.x API names the calls
 * that return an error *_ret; 3.x gave those names to the plain calls. */
#if MBEDTLS_VERSION_MAJOR >= 3
#define sha256_starts mbedtls_sha256_starts
#define sha256_update mbedtls_sha256_update
#define sha256_finish mbedtls_sha256_finish
#else
#define sha256_starts mbedtls_sha256_starts_ret
#define sha256_update mbedtls_sha256_update_ret
#define sha256_finish mbedtls_sha256_finish_ret
#endif

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void hash_work(void *arg)
{
    struct hjob *j = arg;
    j->rc = RP_ERR_IO;
    /* Hashing is work an unprivileged user can cause: it runs at the lowest
     * priority (nice 19: CPU others want goes to them first; SCHED_IDLE
     * would starve it for minutes on a busy desktop, and the events waiting
     * for it with it). The nice value of one thread (Linux: per thread) is
     * changed, and put back afterwards, as the pool's threads are shared with
     * other plugins' jobs; if that ever fails (without CAP_SYS_NICE),
     * hashing stays at the worker's priority from then on. */
    struct cp *s = j->s;
    id_t tid = (id_t)syscall(SYS_gettid);
    int lowered = 0, old_nice = 0;
    if (!atomic_load(&s->no_idle_prio)) {
        errno = 0;
        old_nice = getpriority(PRIO_PROCESS, tid);
        lowered =
            errno == 0 && old_nice < HASH_NICE && setpriority(PRIO_PROCESS, tid, HASH_NICE) == 0;
    }
    char *buf = malloc(HASH_CHUNK);
    mbedtls_sha256_context h;
    mbedtls_sha256_init(&h);
    if (buf && sha256_starts(&h, 0) != 0) {
        free(buf);
        buf = NULL;
    }
    if (buf) {
        uint64_t left = j->size;
        struct stat now;
        /* A file that changed since it ran (touched or rewritten while the
         * job waited) is not read at all, and one that changes while it is
         * read is given up every HASH_RECHECK bytes: no CPU is spent on a
         * hash that would be thrown away. */
        if (fstat(j->fd, &now) != 0 || !same_file(&now, &j->st)) {
            j->rc = HASH_CHANGED;
            left = 0;
            free(buf);
            buf = NULL;
        }
        for (uint64_t done = 0; buf;) {
            if (done >= HASH_RECHECK) {
                done = 0;
                if (fstat(j->fd, &now) != 0 || !same_file(&now, &j->st)) {
                    j->rc = HASH_CHANGED;
                    break;
                }
            }
            /* At most the size the cache key names: a file that grows
             * meanwhile is another version, and must not keep a worker busy. */
            ssize_t n = left ? read(j->fd, buf, left < HASH_CHUNK ? (size_t)left : HASH_CHUNK) : 0;
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                break;
            if (n == 0) {
                if (left != 0) {
                    j->rc = HASH_CHANGED; /* shrank: another version */
                    break;
                }
                /* The bytes read are those of the version that ran only if
                 * the file is still that version: a write meanwhile (the
                 * program replaced after it ran) changes ctime, which no
                 * one can set back. */
                struct stat after;
                if (fstat(j->fd, &after) != 0 || !same_file(&after, &j->st)) {
                    j->rc = HASH_CHANGED;
                    break;
                }
                uint8_t d[32];
                if (sha256_finish(&h, d) == 0) {
                    rp_util_hex(d, sizeof d, j->hex);
                    j->rc = 0;
                }
                break;
            }
            if (sha256_update(&h, (const unsigned char *)buf, (size_t)n) != 0)
                break;
            left -= (uint64_t)n;
            done += (uint64_t)n;
        }
        free(buf);
    }
    mbedtls_sha256_free(&h);
    close(j->fd);
    j->fd = -1;
    if (lowered && setpriority(PRIO_PROCESS, tid, old_nice) != 0) {
        j->prio_fail = 1;
        atomic_store(&s->no_idle_prio, 1);
    }
}

static void hash_done(void *arg, int status)
{
    struct hjob *j = arg;
    struct cp *s = j->s;
    if (j->fd >= 0) { /* cancelled before it ran */
        close(j->fd);
        j->fd = -1;
    }
    pthread_mutex_lock(&s->lock);
    cp_hentry *e = cp_hcache_at(s->hcache, j->hidx);
    int ok = status == 0 && j->rc == 0;
    int changed = status == 0 && j->rc == HASH_CHANGED;
    if (e) {
        e->state = ok ? CP_H_READY : CP_H_FAILED;
        if (ok)
            memcpy(e->hex, j->hex, sizeof e->hex);
    }
    if (changed)
        rp_util_count(&s->ctr, C_HCHANGED, 1);
    else if (!ok)
        rp_util_count(&s->ctr, C_HFAIL, 1);
    if (j->prio_fail) {
        rp_util_count(&s->ctr, C_HPRIO, 1);
        rp_util_logf(s->host, s->self, RP_LOG_WARN,
                     "cannot restore a worker's nice value after hashing at nice %d (without "
                     "CAP_SYS_NICE?); hashing runs at the worker's priority from now on",
                     HASH_NICE);
    }
    pend_resolve(s, j->hidx, ok ? j->hex : NULL, changed ? "changed" : "failed");
    pthread_mutex_unlock(&s->lock);
    free(j);
}

/* Opens the executable of a capture for hashing: through /proc/<pid>/exe
 * while the process lives (the very file it runs, even if renamed or
 * deleted), else by path, and only if it is still the same file version. */
static int open_exe(struct cp *s, const struct capture *c)
{
    char path[40];
    struct stat st;
    int fd = openat(s->procfd, cp_pid_path(path, sizeof path, c->pid, "exe"),
                    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0 && c->exe && c->exe[0] == '/')
        fd = open(c->exe, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || !same_file(&st, &c->st)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Charges size bytes of hashing to uid's budget (root has none: it needs
 * no trick to spend the machine's CPU). Returns 0 when within it. */
static int budget_charge(struct cp *s, int have_uid, uint32_t uid, uint64_t size)
{
    if (!s->cfg.hash_user_budget || (have_uid && uid == 0))
        return 0;
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    struct budget *b = NULL, *free_slot = NULL;
    for (int i = 0; i < BUDGET_USERS && !b; i++) {
        struct budget *x = &s->budget[i];
        if (x->used && have_uid && x->uid == uid)
            b = x;
        else if (!free_slot && (!x->used || now - x->window_start >= BUDGET_WINDOW_NS))
            free_slot = x;
    }
    if (!b && have_uid && free_slot) {
        b = free_slot;
        b->used = 1;
        b->uid = uid;
        b->window_start = now;
        b->bytes = 0;
    }
    if (!b) /* unknown user, or more users at once than slots: one shared budget */
        b = &s->budget[BUDGET_USERS];
    if (now - b->window_start >= BUDGET_WINDOW_NS) {
        b->window_start = now;
        b->bytes = 0;
    }
    if (b->bytes + size > s->cfg.hash_user_budget)
        return -1;
    b->bytes += size;
    return 0;
}

/* Sets the hash on ev if known; returns the cache entry to wait for, or
 * CP_NONE. A hash not computed is said so in collector_process.hash_skipped
 * (never a partial or guessed one). uid: the user the budget is charged to. */
static uint32_t hash_for(struct cp *s, rp_event *ev, const struct capture *c, int have_uid,
                         uint32_t uid)
{
    if (!s->cfg.hash || !c->have_st || !S_ISREG(c->st.st_mode))
        return CP_NONE;
    if ((uint64_t)c->st.st_size > s->cfg.hash_max) {
        rp_util_count(&s->ctr, C_HSKIP, 1);
        set_z(s, ev, F_HASH_SKIP, "size");
        return CP_NONE;
    }
    if ((uint64_t)c->st.st_size >= SPARSE_MIN_BYTES &&
        (uint64_t)c->st.st_blocks * 512u < (uint64_t)c->st.st_size / 4u) {
        rp_util_count(&s->ctr, C_HSPARSE, 1);
        set_z(s, ev, F_HASH_SKIP, "sparse");
        return CP_NONE;
    }
    cp_hkey key = {.dev = (uint64_t)c->st.st_dev,
                   .ino = (uint64_t)c->st.st_ino,
                   .size = (uint64_t)c->st.st_size,
                   .mtime_ns = (int64_t)c->st.st_mtim.tv_sec * 1000000000 + c->st.st_mtim.tv_nsec,
                   .ctime_ns = (int64_t)c->st.st_ctim.tv_sec * 1000000000 + c->st.st_ctim.tv_nsec};
    cp_hentry *e = cp_hcache_get(s->hcache, &key);
    if (e && e->state == CP_H_READY) {
        rp_util_count(&s->ctr, C_HHIT, 1);
        set_s(s, ev, F_HASH, e->hex, 64);
        return CP_NONE;
    }
    if (e && e->state == CP_H_PENDING) {
        rp_util_count(&s->ctr, C_HHIT, 1); /* joins the job already running */
        return cp_hcache_index(s->hcache, e);
    }
    if (e) /* failed before: try again */
        cp_hcache_del(s->hcache, e);
    rp_util_count(&s->ctr, C_HMISS, 1);
    if (budget_charge(s, have_uid, uid, (uint64_t)c->st.st_size) != 0) {
        rp_util_count(&s->ctr, C_HBUDGET, 1);
        set_z(s, ev, F_HASH_SKIP, "budget");
        return CP_NONE;
    }
    int fd = open_exe(s, c);
    if (fd < 0) {
        rp_util_count(&s->ctr, C_HFAIL, 1);
        set_z(s, ev, F_HASH_SKIP, "failed");
        return CP_NONE;
    }
    struct hjob *j = calloc(1, sizeof *j);
    e = j ? cp_hcache_add(s->hcache, &key) : NULL;
    if (!e) {
        close(fd);
        free(j);
        rp_util_count(&s->ctr, C_HFULL, 1);
        set_z(s, ev, F_HASH_SKIP, "queue_full");
        return CP_NONE;
    }
    j->s = s;
    j->fd = fd;
    j->st = c->st;
    j->size = (uint64_t)c->st.st_size;
    j->hidx = cp_hcache_index(s->hcache, e);
    if (s->host->work_submit(s->self, hash_work, hash_done, j) != 0) {
        cp_hcache_del(s->hcache, e);
        close(fd);
        free(j);
        rp_util_count(&s->ctr, C_HFULL, 1);
        set_z(s, ev, F_HASH_SKIP, "queue_full");
        return CP_NONE;
    }
    return j->hidx;
}

/* ---- the process table from /proc ---------------------------------------- */

static void set_image(struct cp_proc *p, const char *exe, size_t exe_len, const char *args,
                      size_t args_len)
{
    cp_blob_set(&p->exe, exe ? cp_blob_new(exe, exe_len) : NULL);
    if (args && args_len > TABLE_ARGS_MAX)
        args_len = TABLE_ARGS_MAX;
    cp_blob_set(&p->args, args && args_len ? cp_blob_new(args, args_len) : NULL);
}

static cp_proc *table_put(struct cp *s, int32_t pid)
{
    uint64_t ev = 0, evl = 0;
    cp_proc *p = cp_table_put(s->table, pid, &ev, &evl);
    rp_util_count(&s->ctr, C_EVICT, ev);
    rp_util_count(&s->ctr, C_EVICT_LIVE, evl);
    return p;
}

/* Records the start read from /proc. An entry keeps the entity id it was
 * given first: one estimated from a fork event (off by one tick for about one
 * process in 3,000) stays, so that all events of a process agree. */
static void set_start_exact(struct cp *s, cp_proc *p, uint64_t ticks, int keep_precise)
{
    p->start_ticks = ticks;
    if (!keep_precise || !p->start_ns)
        p->start_ns = ticks_to_wall(s, ticks);
    p->flags |= CP_F_EXACT;
    if (!p->entity_id[0])
        make_entity(s, p->pid, ticks, p->entity_id);
}

/* Whether a start read from /proc is that of the table's process: exact
 * starts must be equal; estimated ones are at most a tick or two late. */
static int ticks_match(const cp_proc *p, uint64_t ticks)
{
    if (p->flags & CP_F_EXACT)
        return p->start_ticks == ticks;
    return ticks + 2 >= p->start_ticks && ticks <= p->start_ticks + 2;
}

/* Reads /proc/<pid>/<name> into s->rbuf (at most rbuf_cap bytes); *len is
 * what it holds. 0 or cp_read_at's error. */
static int read_pid_file(struct cp *s, int32_t pid, const char *name, size_t *len)
{
    char path[40];
    return cp_read_at(s->procfd, cp_pid_path(path, sizeof path, pid, name), s->rbuf, s->rbuf_cap,
                      len);
}

static int read_creds(struct cp *s, int32_t pid, struct cp_creds *cr)
{
    size_t len;
    if (read_pid_file(s, pid, "status", &len) != 0)
        return -1;
    return cp_parse_status(s->rbuf, len, cr);
}

static int read_stat(struct cp *s, int32_t pid, struct cp_stat *st)
{
    size_t len;
    if (read_pid_file(s, pid, "stat", &len) != 0)
        return -1;
    return cp_parse_stat(s->rbuf, len, st);
}

/* Loads what the table keeps of a running process from /proc, without an
 * event (the seed scan, and parents the table does not know). */
static cp_proc *table_load(struct cp *s, int32_t pid, const struct cp_stat *known)
{
    struct cp_stat st;
    if (known)
        st = *known;
    else if (read_stat(s, pid, &st) != 0)
        return NULL;
    cp_proc *p = table_put(s, pid);
    p->ppid = st.ppid;
    memcpy(p->comm, st.comm, sizeof p->comm);
    set_start_exact(s, p, st.starttime, 0);
    p->gen = s->gen;
    if (st.num_threads > 1)
        p->flags |= CP_F_THREADS;
    if (st.state == 'Z' && st.num_threads <= 1)
        cp_table_exit(s->table, p); /* exited before we looked: no exit event */
    if (st.flags & CP_PF_KTHREAD) {
        p->flags |= CP_F_KTHREAD;
        return p;
    }
    struct cp_creds cr;
    if (read_creds(s, pid, &cr) == 0) {
        p->uid = cr.uid;
        p->euid = cr.euid;
        p->gid = cr.gid;
        p->egid = cr.egid;
        p->flags |= CP_F_CREDS;
    }
    char path[40], exe[PATH_MAX];
    struct stat xst;
    ssize_t n = readlinkat(s->procfd, cp_pid_path(path, sizeof path, pid, "exe"), exe, sizeof exe);
    size_t xlen = n > 0 && (size_t)n < sizeof exe ? (size_t)n : 0;
    /* (A parent running a memfd or a deleted file must not lend its events
     * a name it does not have.) */
    if (xlen && fstatat(s->procfd, path, &xst, 0) == 0)
        p->flags |= exe_unlinked(exe, &xlen, xst.st_nlink == 0);
    size_t alen = 0;
    cp_read_at(s->procfd, cp_pid_path(path, sizeof path, pid, "cmdline"), s->rbuf, TABLE_ARGS_MAX,
               &alen);
    set_image(p, xlen ? exe : NULL, xlen, s->rbuf, alen);
    return p;
}

static void snap_take(struct snap *sn, const cp_proc *p)
{
    memset(sn, 0, sizeof *sn);
    if (!p)
        return;
    sn->have = 1;
    sn->pid = p->pid;
    sn->start_ns = p->start_ns;
    memcpy(sn->entity, p->entity_id, sizeof sn->entity);
    memcpy(sn->comm, p->comm, sizeof sn->comm);
    sn->exe = cp_blob_ref(p->exe);
    sn->args = cp_blob_ref(p->args);
    sn->uid = p->uid;
    sn->euid = p->euid;
    sn->gid = p->gid;
    sn->egid = p->egid;
    sn->flags = p->flags;
}

static void snap_drop(struct snap *sn)
{
    cp_blob_unref(sn->exe);
    cp_blob_unref(sn->args);
    memset(sn, 0, sizeof *sn);
}

/* The parent of an exec'ing process, from the table, else from /proc. */
static void parent_snap(struct cp *s, int32_t ppid, struct snap *sn)
{
    memset(sn, 0, sizeof *sn);
    if (ppid <= 0)
        return;
    cp_proc *pp = cp_table_get(s->table, ppid);
    if (!pp)
        pp = table_load(s, ppid, NULL);
    snap_take(sn, pp);
}

/* ---- events --------------------------------------------------------------- */

static rp_event *new_event(struct cp *s, const char *type, const char *etype, const char *action,
                           int64_t ts_mono, int src)
{
    rp_event *ev;
    if (s->host->event_create(s->self, type, strlen(type), &ev) != 0) {
        rp_util_count(&s->ctr, C_PUBLISH_FAILED, 1);
        return NULL;
    }
    if (ts_mono)
        s->host->set_timestamp(ev, s->f[F_TS], ts_mono + s->mono2wall);
    rp_str cat = {"process", 7}, typ = {etype, strlen(etype)};
    s->host->set_str_array(ev, s->f[F_CATEGORY], &cat, 1);
    s->host->set_str_array(ev, s->f[F_TYPE], &typ, 1);
    set_z(s, ev, F_ACTION, action);
    set_z(s, ev, F_SOURCE, src_name[src]);
    set_s(s, ev, F_DATASET, "rampart.process", 15);
    return ev;
}

static void set_user(struct cp *s, rp_event *ev, uint32_t uid, uint32_t euid, uint32_t gid)
{
    set_id(s, ev, F_UID, uid);
    const char *n = cp_names_get(s->users, uid);
    if (n)
        set_z(s, ev, F_UNAME, n);
    set_id(s, ev, F_GID, gid);
    n = cp_names_get(s->groups, gid);
    if (n)
        set_z(s, ev, F_GNAME, n);
    if (euid != uid) {
        set_id(s, ev, F_EUID, euid);
        n = cp_names_get(s->users, euid);
        if (n)
            set_z(s, ev, F_EUNAME, n);
    }
}

static void set_args(struct cp *s, rp_event *ev, const char *args, size_t len, int with_vector)
{
    if (!args || !len)
        return;
    if (with_vector) {
        uint32_t n = cp_split_args(args, len, s->items, MAX_ARGS_ITEMS);
        s->host->set_str_array(ev, s->f[F_ARGS], s->items, n);
        s->host->set_i64(ev, s->f[F_ARGC], n);
    }
    char *cmd = s->single.buf + s->single.used; /* scratch after the capture */
    size_t room = s->single.cap - s->single.used;
    size_t n = cp_join_args(args, len, cmd, room);
    set_s(s, ev, F_CMD, cmd, n);
}

/* A process's image: its executable's path and base name when the path is
 * known (exe, exe_len), else the name alone from comm, but not for an image
 * run from a memfd, whose comm names no file. */
static void set_exe_name(struct cp *s, rp_event *ev, int f_exe, int f_name, const char *exe,
                         size_t exe_len, const char *comm, int memfd)
{
    if (exe) {
        size_t bl;
        const char *b = base_name(exe, exe_len, &bl);
        set_s(s, ev, f_exe, exe, exe_len);
        set_s(s, ev, f_name, b, bl);
    } else if (comm[0] && !memfd) {
        set_z(s, ev, f_name, comm);
    }
}

static void set_parent(struct cp *s, rp_event *ev, int32_t ppid, const struct snap *pp)
{
    if (ppid <= 0)
        return;
    s->host->set_i64(ev, s->f[F_PPID], ppid);
    if (!pp->have)
        return;
    set_z(s, ev, F_PENTITY, pp->entity);
    if (pp->start_ns)
        s->host->set_timestamp(ev, s->f[F_PSTART], pp->start_ns);
    set_exe_name(s, ev, F_PEXE, F_PNAME, pp->exe ? pp->exe->data : NULL, pp->exe ? pp->exe->len : 0,
                 pp->comm, (pp->flags & CP_F_EXE_MEMFD) != 0);
    if (pp->args) {
        char cmd[TABLE_ARGS_MAX + 1];
        size_t n = cp_join_args(pp->args->data, pp->args->len, cmd, sizeof cmd);
        set_s(s, ev, F_PCMD, cmd, n);
    }
}

/* Reads the urgent part of an exec from /proc: what disappears when the
 * process exits (executable, arguments, working directory). */
/* Forgets what was read of a capture's image: it may be another exec's. */
static void discard_image(struct capture *c, int reason)
{
    c->exe = c->args = NULL;
    c->exe_len = c->args_len = 0;
    c->have_st = c->args_trunc = c->path_unres = 0;
    c->exe_flags = 0;
    c->reason = (uint8_t)reason;
}

static void capture(struct cp *s, struct arena *a, struct capture *c)
{
    char path[40], tmp[PATH_MAX];
    c->done = 1;
    cp_pid_path(path, sizeof path, c->pid, "exe");
    ssize_t n = readlinkat(s->procfd, path, tmp, sizeof tmp);
    int link_err = n < 0 ? errno : n >= (ssize_t)sizeof tmp ? ENAMETOOLONG : 0;
    if (n > 0 && (size_t)n < sizeof tmp && (c->exe = arena_put(a, tmp, (size_t)n)) != NULL)
        c->exe_len = (uint32_t)n;
    /* The file itself, through the link: this works even when its path is
     * longer than the kernel can print (ENAMETOOLONG), so such a program
     * still gets its inode and hash. */
    c->have_st = fstatat(s->procfd, path, &c->st, 0) == 0;
    if (!c->exe && c->have_st && link_err == ENAMETOOLONG)
        c->path_unres = 1;
    else if (!c->exe)
        c->reason = link_err == ENOENT || link_err == ESRCH ? INC_EXITED : INC_UNREADABLE;
    size_t len = 0;
    cp_read_at(s->procfd, cp_pid_path(path, sizeof path, c->pid, "cmdline"), s->rbuf,
               s->cfg.args_max, &len);
    if (len > 0 && (c->args = arena_put(a, s->rbuf, len)) != NULL) {
        c->args_len = (uint32_t)len;
        c->args_trunc = len == s->cfg.args_max;
    } else if (!c->reason) {
        /* Since Linux 5.18 even an empty argument vector shows as one empty
         * string: an empty cmdline is that of a zombie, of a gone process, or
         * of one in the middle of another exec (its new memory has no
         * arguments yet, and the executable read may be either image). */
        struct cp_stat st;
        if (read_stat(s, c->pid, &st) != 0 || st.state == 'Z' || st.state == 'X')
            c->reason = INC_EXITED;
        else
            discard_image(c, INC_REEXEC);
    }
    if (c->exe && !c->reason) {
        /* The executable again: if it changed while the arguments were read,
         * they may be of another image than the path. */
        char again[PATH_MAX];
        n = readlinkat(s->procfd, cp_pid_path(path, sizeof path, c->pid, "exe"), again,
                       sizeof again);
        if (n >= 0 && ((size_t)n != c->exe_len || memcmp(again, c->exe, (size_t)n) != 0))
            discard_image(c, INC_REEXEC);
    }
    if (c->exe && c->have_st) {
        size_t l = c->exe_len;
        c->exe_flags = exe_unlinked(c->exe, &l, c->st.st_nlink == 0);
        c->exe_len = (uint32_t)l;
        if (l == 0)
            c->exe = NULL; /* a memfd: its name is its creator's choice */
        else
            ((char *)c->exe)[l] = '\0'; /* (arena memory of this capture) */
    }
    n = readlinkat(s->procfd, cp_pid_path(path, sizeof path, c->pid, "cwd"), tmp, sizeof tmp);
    if (n > 0 && (size_t)n < sizeof tmp && (c->cwd = arena_put(a, tmp, (size_t)n)) != NULL)
        c->cwd_len = (uint32_t)n;
}

static int container_id(struct cp *s, int32_t pid, char cid[65])
{
    size_t len;
    return s->read_cgroups && read_pid_file(s, pid, "cgroup", &len) == 0 &&
           cp_container_id(s->rbuf, len, cid) == 0;
}

#define MISS_EXE  0x1u
#define MISS_ARGS 0x2u
#define MISS_CWD  0x4u

/* Marks an event incomplete: what is missing and why, so that an empty
 * field is never mistaken for an empty value or for another image's. */
static void set_incomplete(struct cp *s, rp_event *ev, int reason, uint32_t missing)
{
    rp_str items[3];
    uint32_t n = 0;
    if (missing & MISS_EXE)
        items[n++] = (rp_str){"process.executable", 18};
    if (missing & MISS_ARGS)
        items[n++] = (rp_str){"process.args", 12};
    if (missing & MISS_CWD)
        items[n++] = (rp_str){"process.working_directory", 25};
    set_z(s, ev, F_OUTCOME, "unknown");
    if (n)
        s->host->set_str_array(ev, s->f[F_INCOMPLETE], items, n);
    if (reason != INC_NONE)
        set_z(s, ev, F_INC_REASON, inc_name[reason]);
}

/* Fields of an exec event that describe its image (and go when the image
 * read may be another exec's). */
static int image_field(int f)
{
    return f == F_EXE || f == F_NAME || f == F_ARGS || f == F_ARGC || f == F_CMD || f == F_HASH ||
           f == F_ARGS_TRUNC || f == F_PATH_UNRES || f == F_EXE_INODE || f == F_EXE_DEV ||
           f == F_HASH_SKIP || f == F_INCOMPLETE || f == F_INC_REASON || f == F_OUTCOME ||
           f == F_EXE_MEMFD || f == F_EXE_DELETED;
}

/* Replaces the still unpublished exec event of pid whose image may be that of
 * the process's next exec by a copy without the image, flagged reexec.
 * Returns 1 when one was found. (Events cannot lose fields, so a copy of the
 * rest is made field by field.) */
static int strip_pending_exec(struct cp *s, int32_t pid)
{
    struct pend *hit = NULL;
    for (uint32_t k = 0; k < s->pend_count; k++) {
        struct pend *p = pend_at(s, k);
        if (p->used && p->pid == pid && p->is_exec)
            hit = p; /* the latest */
    }
    rp_event *nev;
    if (!hit || s->host->event_create(s->self, "process.exec", 12, &nev) != 0)
        return 0;
    const rp_host_api *h = s->host;
    for (int f = 0; f < F_COUNT_; f++) {
        if (image_field(f))
            continue;
        const char *str;
        uint64_t len, u;
        int64_t i;
        int32_t b;
        uint32_t n;
        switch (field_defs[f].type) {
        case RP_TYPE_STR:
            if (h->get_str(hit->ev, s->f[f], &str, &len) == 0)
                h->set_str(nev, s->f[f], str, len);
            break;
        case RP_TYPE_I64:
            if (h->get_i64(hit->ev, s->f[f], &i) == 0)
                h->set_i64(nev, s->f[f], i);
            break;
        case RP_TYPE_U64:
            if (h->get_u64(hit->ev, s->f[f], &u) == 0)
                h->set_u64(nev, s->f[f], u);
            break;
        case RP_TYPE_BOOL:
            if (h->get_bool(hit->ev, s->f[f], &b) == 0)
                h->set_bool(nev, s->f[f], b);
            break;
        case RP_TYPE_TIMESTAMP:
            if (h->get_timestamp(hit->ev, s->f[f], &i) == 0)
                h->set_timestamp(nev, s->f[f], i);
            break;
        case RP_TYPE_STR_ARRAY:
            if (h->get_str_array_count(hit->ev, s->f[f], &n) == 0 && n <= 8) {
                rp_str items[8];
                uint32_t got = 0;
                for (uint32_t x = 0; x < n; x++)
                    if (h->get_str_array_item(hit->ev, s->f[f], x, &items[got].ptr,
                                              &items[got].len) == 0)
                        got++;
                h->set_str_array(nev, s->f[f], items, got);
            }
            break;
        default:
            break;
        }
    }
    set_incomplete(s, nev, INC_REEXEC, MISS_EXE | MISS_ARGS);
    h->event_release(hit->ev);
    hit->ev = nev;
    hit->hidx = CP_NONE; /* a hash of the later image is not this exec's */
    return 1;
}

/* The collectors.exclude rule that covers a process (as its C_EXCL_*
 * counter), or 0. exe: its executable (NULL when unknown, or a memfd: then
 * no executable or path rule applies); have_uid: whether its real uid is
 * known (else no user rule applies). */
static int rule_for(const struct cp *s, const char *exe, size_t len, int have_uid, uint32_t uid)
{
    if (exe && rp_util_exclude_exe(&s->excl, exe, len))
        return C_EXCL_EXE;
    if (exe && rp_util_exclude_path(&s->excl, exe, len))
        return C_EXCL_PATH; /* a program run from an excluded folder */
    if (have_uid && rp_util_exclude_uid(&s->excl, uid))
        return C_EXCL_USER;
    return 0;
}

/* Sets the flags of a memfd or deleted executable. */
static void set_exe_flags(struct cp *s, rp_event *ev, uint32_t flags)
{
    if (flags & CP_F_EXE_MEMFD)
        s->host->set_bool(ev, s->f[F_EXE_MEMFD], 1);
    else if (flags & CP_F_EXE_DELETED)
        s->host->set_bool(ev, s->f[F_EXE_DELETED], 1);
}

/* An exec (from the kernel, or a new process found by a scan): updates the
 * table and publishes process.exec. known: the process's stat when the
 * caller already read it. */
static void handle_exec(struct cp *s, struct capture *c, int src, const struct cp_stat *known,
                        int64_t scan_mono)
{
    /* A process whose fork the table saw live, with no exit since, needs no
     * /proc/<pid>/stat: the fork event gave its parent and its start. */
    cp_proc *p = cp_table_get(s->table, c->pid);
    int forked = src == SRC_NETLINK && p && (p->flags & CP_F_FORKED) && !(p->flags & CP_F_EXITED);
    struct cp_stat st;
    int have_stat = known != NULL;
    if (known) {
        st = *known;
    } else if (!forked || (c->path_unres && c->reason == INC_NONE)) {
        /* (A path too long to read leaves the name to the kernel's comm.) */
        have_stat = read_stat(s, c->pid, &st) == 0;
    }
    char cid[65];
    int have_cid = container_id(s, c->pid, cid);
    int same = p && !(p->flags & CP_F_EXITED) && (!have_stat || ticks_match(p, st.starttime));
    int32_t ppid = same && (p->flags & CP_F_FORKED) ? p->ppid
                   : have_stat                      ? st.ppid
                   : same                           ? p->ppid
                                                    : 0;
    /* The parent next: loading it may evict entries, the exec'ing process's
     * included (unless just touched), so that one is looked up again after. */
    if (same)
        cp_table_touch(s->table, p);
    struct snap par;
    parent_snap(s, ppid, &par);

    p = same ? cp_table_get(s->table, c->pid) : NULL;
    if (!p) {
        p = table_put(s, c->pid);
        p->ppid = ppid;
        if (par.have && (par.flags & CP_F_CREDS)) {
            p->uid = par.uid;
            p->euid = par.euid;
            p->gid = par.gid;
            p->egid = par.egid;
            p->flags |= CP_F_CREDS;
        }
        if (!have_stat) {
            /* Gone before its start could be read: estimate it from the
             * exec, so the process still gets an entity id. */
            uint64_t t = mono_to_ticks(s, c->ts_mono ? c->ts_mono : clock_ns(CLOCK_MONOTONIC));
            p->start_ticks = t;
            make_entity(s, p->pid, t, p->entity_id);
        }
    }
    if (have_stat) {
        memcpy(p->comm, st.comm, sizeof p->comm);
        if (!(p->flags & CP_F_EXACT) || p->start_ticks != st.starttime)
            set_start_exact(s, p, st.starttime, (p->flags & CP_F_FORKED) != 0);
    }
    /* Credentials: a process keeps its parent's across fork and exec (the
     * table follows setuid() and friends through the connector's uid and gid
     * events), except when it runs a set-user-id or set-group-id file. Only
     * then, or when the table does not know them, is /proc/<pid>/status read
     * (the costliest of the /proc files here). */
    struct cp_creds cr;
    int setid = !c->have_st || (c->st.st_mode & (S_ISUID | S_ISGID));
    if ((setid || !(p->flags & CP_F_CREDS)) && read_creds(s, c->pid, &cr) == 0) {
        p->uid = cr.uid;
        p->euid = cr.euid;
        p->gid = cr.gid;
        p->egid = cr.egid;
        p->flags |= CP_F_CREDS;
    }
    /* The process exec'd before, and what was read then is exactly what is
     * read now: that earlier read may have been of this image already (a
     * program that re-execs at once). If that exec's event is still here,
     * it loses the image rather than carry this one's. (A program that
     * re-execs itself with the very same arguments loses it too.) */
    if (src == SRC_NETLINK && same && (p->flags & CP_F_EXECED) && p->exe && c->exe && p->args &&
        c->args && p->exe->len == c->exe_len && memcmp(p->exe->data, c->exe, c->exe_len) == 0 &&
        p->args->len == (c->args_len > TABLE_ARGS_MAX ? TABLE_ARGS_MAX : c->args_len) &&
        memcmp(p->args->data, c->args, p->args->len) == 0 && strip_pending_exec(s, c->pid))
        rp_util_count(&s->ctr, C_REEXEC, 1);
    set_image(p, c->exe, c->exe_len, c->args, c->args_len);
    if (!have_stat || c->reason == INC_REEXEC)
        p->comm[0] = '\0'; /* the exec renamed it; the parent's name is wrong now */
    /* Its image is its own from now on, whatever could be read of it; the
     * exec also ended every other thread. */
    p->flags |= CP_F_EXECED;
    p->exec_mono = c->ts_mono ? c->ts_mono : clock_ns(CLOCK_MONOTONIC);
    p->flags &= ~(uint32_t)(CP_F_THREADS | CP_F_LEADER_GONE);
    p->flags = (p->flags & ~(uint32_t)(CP_F_EXE_DELETED | CP_F_EXE_MEMFD)) | c->exe_flags;
    int memfd = (c->exe_flags & CP_F_EXE_MEMFD) != 0;
    p->inc_reason = (uint8_t)(c->exe || memfd ? INC_NONE
                              : c->reason     ? c->reason
                              : c->path_unres ? INC_PATH_LONG
                                              : INC_UNREADABLE);
    p->gen = s->gen;
    if (src == SRC_NETLINK) {
        p->flags &= ~(uint32_t)CP_F_RESCAN;
    } else {
        p->flags |= CP_F_RESCAN;
        p->scan_mono = scan_mono;
    }
    /* The table keeps the process (for lineage and its exit) whatever the
     * rules say; only the event goes, and its exit with it (see
     * publish_exit). */
    p->excluded = (uint8_t)rule_for(s, c->exe, c->exe_len, (p->flags & CP_F_CREDS) != 0, p->uid);
    if (p->excluded) {
        rp_util_count(&s->ctr, p->excluded, 1);
        snap_drop(&par);
        return;
    }
    if ((!c->exe && !memfd) || !c->args)
        rp_util_count(&s->ctr, C_PARTIAL, 1);

    rp_event *ev = new_event(s, "process.exec", "start", "exec", c->ts_mono, src);
    if (!ev) {
        snap_drop(&par);
        return;
    }
    const rp_host_api *h = s->host;
    h->set_i64(ev, s->f[F_PID], c->pid);
    set_z(s, ev, F_ENTITY, p->entity_id);
    set_exe_name(s, ev, F_EXE, F_NAME, c->exe, c->exe_len, p->comm, memfd);
    set_exe_flags(s, ev, c->exe_flags);
    set_args(s, ev, c->args, c->args_len, 1);
    if (c->args_trunc)
        h->set_bool(ev, s->f[F_ARGS_TRUNC], 1);
    if (c->cwd)
        set_s(s, ev, F_CWD, c->cwd, c->cwd_len);
    if (c->path_unres) {
        /* The file is known by its identity only: say so, and name it by
         * device and inode (the hash is still of that very file). */
        rp_util_count(&s->ctr, C_PATH_UNRES, 1);
        h->set_bool(ev, s->f[F_PATH_UNRES], 1);
        h->set_u64(ev, s->f[F_EXE_INODE], (uint64_t)c->st.st_ino);
        h->set_u64(ev, s->f[F_EXE_DEV], (uint64_t)c->st.st_dev);
    }
    if (c->reason == INC_REEXEC)
        rp_util_count(&s->ctr, C_REEXEC, 1);
    uint32_t missing = (c->exe || memfd ? 0 : MISS_EXE) | (c->cwd ? 0 : MISS_CWD) |
                       (c->args || c->reason == INC_NONE ? 0 : MISS_ARGS);
    if (missing)
        set_incomplete(s, ev,
                       c->reason != INC_NONE ? c->reason
                       : c->path_unres       ? INC_PATH_LONG
                                             : INC_UNREADABLE,
                       missing);
    if (p->start_ns)
        h->set_timestamp(ev, s->f[F_START], p->start_ns);
    set_parent(s, ev, ppid, &par);
    if (p->flags & CP_F_CREDS)
        set_user(s, ev, p->uid, p->euid, p->gid);
    if (have_cid)
        set_s(s, ev, F_CONTAINER, cid, 64);
    snap_drop(&par);
    uint32_t hidx = hash_for(s, ev, c, (p->flags & CP_F_CREDS) != 0, p->uid);
    rp_util_count(&s->ctr, src == SRC_NETLINK ? C_EXEC : C_RESCAN_EXECS, 1);
    if (src != SRC_NETLINK)
        rp_util_count(&s->ctr, C_EXEC, 1);
    pend_push_kind(s, ev, c->pid, hidx, 1);
}

/* process.exit for the table entry p (NULL: a process the table does not
 * know). code: the kernel's waitpid status, or -1 when unknown. */
static void publish_exit(struct cp *s, int32_t pid, cp_proc *p, int64_t ts_mono, int64_t code,
                         int src)
{
    if (p && (p->flags & CP_F_KTHREAD)) { /* kernel threads: no exec, no exit */
        cp_table_exit(s->table, p);
        return;
    }
    /* A child known from its fork runs its parent's image until it execs;
     * but if the kernel dropped events since that fork, its exec may be
     * among them, and the parent's image would be a lie. */
    int unknown_image = p && (p->flags & CP_F_FORKED) && !(p->flags & CP_F_EXECED) &&
                        p->lost_at_fork != s->lost + s->forced;
    /* The exit of a process whose exec was excluded goes too; one whose exec
     * was not seen (a forked child running its parent's image, a process
     * older than the agent) is judged by what its exit would carry. */
    int rule = !p ? 0
               : (p->flags & CP_F_EXECED)
                   ? p->excluded
                   : rule_for(s, p->exe && !unknown_image ? p->exe->data : NULL,
                              p->exe ? p->exe->len : 0, (p->flags & CP_F_CREDS) != 0, p->uid);
    if (rule)
        rp_util_count(&s->ctr, rule, 1);
    rp_event *ev = rule ? NULL : new_event(s, "process.exit", "end", "exit", ts_mono, src);
    if (ev) {
        const rp_host_api *h = s->host;
        int64_t end = ts_mono ? ts_mono + s->mono2wall : h->now_ns();
        h->set_i64(ev, s->f[F_PID], pid);
        h->set_timestamp(ev, s->f[F_END], end);
        if (code >= 0) {
            int sig = (int)(code & 0x7f);
            h->set_i64(ev, s->f[F_EXIT_CODE], sig ? 128 + sig : (code >> 8) & 0xff);
            if (sig)
                h->set_i64(ev, s->f[F_SIGNAL], sig);
        }
        h->set_bool(ev, s->f[F_CODE_KNOWN], code >= 0);
        if (!p) {
            set_incomplete(s, ev, INC_UNKNOWN, MISS_EXE | MISS_ARGS);
        } else if (unknown_image) {
            rp_util_count(&s->ctr, C_EXIT_UNKNOWN_IMAGE, 1);
            set_incomplete(s, ev, INC_LOST, MISS_EXE | MISS_ARGS);
        } else if (!p->exe && !(p->flags & (CP_F_KTHREAD | CP_F_EXE_MEMFD))) {
            set_incomplete(s, ev, p->inc_reason ? p->inc_reason : INC_UNREADABLE,
                           MISS_EXE | (p->args ? 0 : MISS_ARGS));
        }
        if (p) {
            set_z(s, ev, F_ENTITY, p->entity_id);
            /* An unknown image has neither path nor name: both would be the
             * parent's. */
            if (!unknown_image) {
                set_exe_name(s, ev, F_EXE, F_NAME, p->exe ? p->exe->data : NULL,
                             p->exe ? p->exe->len : 0, p->comm, (p->flags & CP_F_EXE_MEMFD) != 0);
                set_exe_flags(s, ev, p->flags);
            }
            if (p->args && !unknown_image)
                set_args(s, ev, p->args->data, p->args->len, 0);
            if (p->start_ns) {
                h->set_timestamp(ev, s->f[F_START], p->start_ns);
                if (end >= p->start_ns)
                    h->set_i64(ev, s->f[F_DURATION], end - p->start_ns);
            }
            if (p->ppid > 0) {
                h->set_i64(ev, s->f[F_PPID], p->ppid);
                cp_proc *pp = cp_table_get(s->table, p->ppid);
                if (pp && pp->entity_id[0])
                    set_z(s, ev, F_PENTITY, pp->entity_id);
            }
            if (p->flags & CP_F_CREDS)
                set_user(s, ev, p->uid, p->euid, p->gid);
        }
        rp_util_count(&s->ctr, src == SRC_NETLINK ? C_EXIT : C_RESCAN_EXITS, 1);
        if (src != SRC_NETLINK)
            rp_util_count(&s->ctr, C_EXIT, 1);
        pend_push(s, ev, pid, CP_NONE);
    }
    if (p) {
        cp_table_exit(s->table, p);
        if (src != SRC_NETLINK) {
            p->flags |= CP_F_RESCAN;
            p->scan_mono = clock_ns(CLOCK_MONOTONIC);
        }
    }
}

/* ---- /proc scans: seed, rescan after a loss, poll mode --------------------- */

static int32_t parse_pid(const char *name)
{
    int64_t v = 0;
    if (!*name)
        return 0;
    for (const char *p = name; *p; p++) {
        if (*p < '0' || *p > '9' || v > INT32_MAX / 10)
            return 0;
        v = v * 10 + (*p - '0');
    }
    return v <= INT32_MAX ? (int32_t)v : 0;
}

/* Walks /proc. emit < 0: only fill the table (start-up); else report what
 * changed since the table was last right, as events of source emit. */
static void scan(struct cp *s, int emit)
{
    s->gen++;
    int dfd = openat(s->procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        rp_util_logf(s->host, s->self, RP_LOG_WARN, "cannot list /proc: %s", strerror(errno));
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int32_t pid = parse_pid(de->d_name);
        struct cp_stat st;
        if (pid <= 0 || read_stat(s, pid, &st) != 0)
            continue;
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        cp_proc *p = cp_table_get(s->table, pid);
        int live = p && !(p->flags & CP_F_EXITED);
        if (p && !live && ticks_match(p, st.starttime)) {
            p->gen = s->gen;
            continue; /* a zombie whose exit was reported already */
        }
        if (live && ticks_match(p, st.starttime)) {
            p->gen = s->gen;
            if (!(p->flags & CP_F_EXACT))
                set_start_exact(s, p, st.starttime, 1);
            if (emit < 0)
                continue;
            /* (A zombie leader whose other threads run is a live process.) */
            if (st.state == 'Z' && st.num_threads <= 1) {
                publish_exit(s, pid, p, 0, st.has_exit_code ? st.exit_code : -1, emit);
                continue;
            }
            if (p->flags & CP_F_KTHREAD)
                continue;
            /* An exec in place (same pid, same start, new image) since the
             * table was last right. */
            char path[40], exe[PATH_MAX];
            ssize_t n =
                readlinkat(s->procfd, cp_pid_path(path, sizeof path, pid, "exe"), exe, sizeof exe);
            /* (The table keeps a deleted file's name without the kernel's
             * " (deleted)", which it also appends when the file is deleted
             * while the process runs: the same image either way.) */
            size_t dn = n > 0 && (size_t)n < sizeof exe ? (size_t)n : 0;
            static const char del[] = " (deleted)";
            int same_exe = p->exe && dn &&
                           ((p->exe->len == dn && memcmp(p->exe->data, exe, dn) == 0) ||
                            (p->exe->len + sizeof del - 1 == dn &&
                             memcmp(p->exe->data, exe, p->exe->len) == 0 &&
                             memcmp(exe + p->exe->len, del, sizeof del - 1) == 0));
            if (same_exe && (p->flags & CP_F_FORKED) && !(p->flags & CP_F_EXECED) &&
                p->lost_at_fork != s->lost + s->forced) {
                /* A child that may have exec'd during the loss: if it still
                 * shows its parent's executable and arguments, that is
                 * what it runs, and its exit may say so again. */
                size_t alen = 0;
                if (p->args &&
                    cp_read_at(s->procfd, cp_pid_path(path, sizeof path, pid, "cmdline"), s->rbuf,
                               TABLE_ARGS_MAX, &alen) == 0 &&
                    alen == p->args->len && memcmp(s->rbuf, p->args->data, alen) == 0)
                    p->lost_at_fork = s->lost + s->forced;
            }
            if (!p->exe || n <= 0 || (size_t)n >= sizeof exe || same_exe)
                continue;
        } else if (live && emit >= 0) {
            publish_exit(s, pid, p, 0, -1, emit); /* the pid was reused meanwhile */
        }
        /* Not in the table but older than the last moment the table was
         * complete: evicted when the table was full (or started before the
         * agent), not a new process. */
        int64_t start_mono =
            (int64_t)(st.starttime * s->tick_ns) - s->mono2boot + (int64_t)s->tick_ns;
        int old = !live && s->sync_mono && start_mono < s->sync_mono;
        if (emit < 0 || (st.flags & CP_F_KTHREAD) || old) {
            table_load(s, pid, &st);
            continue;
        }
        struct capture c = {.pid = pid};
        s->single.used = 0;
        capture(s, &s->single, &c);
        handle_exec(s, &c, emit, &st, now);
        if (st.state == 'Z' && st.num_threads <= 1)
            publish_exit(s, pid, cp_table_get(s->table, pid), 0,
                         st.has_exit_code ? st.exit_code : -1, emit);
    }
    closedir(d);
    if (emit < 0)
        return;
    /* Processes the table thinks alive that the walk did not find. */
    uint32_t i = 0;
    cp_proc *p;
    while ((p = cp_table_next(s->table, &i)) != NULL)
        if (!(p->flags & CP_F_EXITED) && p->gen != s->gen)
            publish_exit(s, p->pid, p, 0, -1, emit);
}

/* Whether a container runtime is installed: without one no process can be in
 * a container, and the cgroup read (a tenth of the cost of an exec) is saved. */
static int runtime_present(void)
{
    static const char *const paths[] = {"/run/containerd",
                                        "/run/docker.sock",
                                        "/var/run/docker.sock",
                                        "/run/podman",
                                        "/run/crio",
                                        "/var/lib/kubelet",
                                        "/usr/bin/runc",
                                        "/usr/sbin/runc",
                                        "/usr/local/bin/runc",
                                        "/usr/local/sbin/runc",
                                        "/usr/bin/crun",
                                        "/usr/local/bin/crun",
                                        "/usr/bin/podman",
                                        "/usr/bin/containerd",
                                        "/usr/local/bin/containerd",
                                        NULL};
    for (int i = 0; paths[i]; i++)
        if (access(paths[i], F_OK) == 0)
            return 1;
    return 0;
}

static void check_containers(struct cp *s)
{
    int was = s->read_cgroups;
    s->read_cgroups =
        s->cfg.containers == CONT_ALWAYS || (s->cfg.containers == CONT_AUTO && runtime_present());
    if (was != s->read_cgroups && s->cfg.containers == CONT_AUTO && s->last_hk_mono)
        rp_util_logf(s->host, s->self, RP_LOG_INFO, "container runtime %s: container.id %s",
                     s->read_cgroups ? "found" : "not found",
                     s->read_cgroups ? "read from /proc/<pid>/cgroup" : "not looked for");
}

static void housekeeping(struct cp *s)
{
    refresh_clocks(s);
    check_containers(s);
    cp_names_check(s->users);
    cp_names_check(s->groups);
}

static void do_rescan(struct cp *s)
{
    s->need_rescan = 0;
    s->last_rescan_mono = clock_ns(CLOCK_MONOTONIC);
    s->rescans++;
    rp_util_count(&s->ctr, C_RESCANS, 1);
    scan(s, SRC_RESCAN);
    rp_util_logf(s->host, s->self, RP_LOG_WARN,
                 "kernel dropped process events (receive buffer overrun, %llu so far); "
                 "rescanned /proc to resynchronise (%llu rescans)",
                 (unsigned long long)s->lost, (unsigned long long)s->rescans);
}

static void on_rescan_timer(void *arg)
{
    struct cp *s = arg;
    /* A one-shot that fired: the host releases it (see on_flush_timer). */
    atomic_store(&s->rescan_timer, 0);
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping) && s->need_rescan)
        do_rescan(s);
    pend_kick(s);
    pthread_mutex_unlock(&s->lock);
}

/* Rescans at once, or (at most once a second, as a burst may overrun the
 * buffer again and again) when the gap has passed. */
static void maybe_rescan(struct cp *s)
{
    int64_t now = clock_ns(CLOCK_MONOTONIC);
    int64_t wait = s->last_rescan_mono + RESCAN_MIN_GAP_NS - now;
    if (wait <= 0 || !s->last_rescan_mono) {
        do_rescan(s);
        return;
    }
    if (atomic_load(&s->rescan_timer))
        return;
    uint64_t t;
    if (s->host->timer_start(s->self, (uint64_t)wait / 1000000 + 1, 0, on_rescan_timer, s, &t) == 0)
        atomic_store(&s->rescan_timer, t);
    else
        do_rescan(s);
}

static void on_poll(void *arg)
{
    struct cp *s = arg;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping)) {
        rp_util_count(&s->ctr, C_POLLS, 1);
        int64_t t0 = clock_ns(CLOCK_MONOTONIC);
        scan(s, SRC_POLL);
        s->sync_mono = t0;
        if (clock_ns(CLOCK_MONOTONIC) - s->last_hk_mono >= (int64_t)HOUSEKEEPING_MS * 1000000)
            housekeeping(s);
    }
    pend_kick(s);
    pthread_mutex_unlock(&s->lock);
}

static void on_housekeeping(void *arg)
{
    struct cp *s = arg;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping))
        housekeeping(s);
    pthread_mutex_unlock(&s->lock);
}

/* ---- the kernel's events ------------------------------------------------- */

/* The sockets are opened, read and decoded by netlink.c; what follows puts
 * the events in order and handles them. */

/* Grows whenever the kernel's events may be incomplete or out of order (an
 * overrun, a forced drain): a child's fork seen before, its exit after, and
 * its exec could be among those missed. */
static uint64_t uncertainty(const struct cp *s)
{
    return s->lost + s->forced;
}

static int exec_is_rescan_dup(struct cp *s, int32_t pid, int64_t ts)
{
    cp_proc *p = cp_table_get(s->table, pid);
    return p && (p->flags & CP_F_RESCAN) && !(p->flags & CP_F_EXITED) && ts <= p->scan_mono;
}

/* A rescan that runs while an exec is under way can already see the new
 * executable and arguments (execve switches them early) before the kernel
 * sends the exec event (at its very end), so it reports that exec, and the
 * event comes after the rescan's time. The first exec event of such a pid
 * that follows within RESCAN_RACE_NS, for the very same image, is that same
 * exec: counted, not reported again. */
static int exec_repeats_rescan(struct cp *s, int32_t pid, int64_t ts, const struct capture *c)
{
    cp_proc *p = cp_table_get(s->table, pid);
    if (!p || !(p->flags & CP_F_RESCAN) || (p->flags & CP_F_EXITED) ||
        ts - p->scan_mono > RESCAN_RACE_NS || !c->exe || !p->exe || !c->args || !p->args)
        return 0;
    size_t args_len = c->args_len > TABLE_ARGS_MAX ? TABLE_ARGS_MAX : c->args_len;
    return p->exe->len == c->exe_len && memcmp(p->exe->data, c->exe, c->exe_len) == 0 &&
           p->args->len == args_len && memcmp(p->args->data, c->args, args_len) == 0;
}

/* Whether a process whose leader thread exited still has other threads. At
 * a thread's exit event the kernel has released it already (it no longer
 * counts), while an exited leader counts until the whole group is gone. */
static int threads_left(struct cp *s, const struct cp_kev *k)
{
    /* A later thread exit read already: that one (or a later) is the last. */
    for (const struct cp_kev *e = k + 1; e < s->kev + s->nkev; e++)
        if (e->what == PROC_EVENT_EXIT && e->tgid == k->tgid && e->pid != k->tgid)
            return 1;
    struct cp_stat st;
    return read_stat(s, k->tgid, &st) == 0 && st.num_threads > 1;
}

static void handle_fork(struct cp *s, const struct cp_kev *k)
{
    if (k->pid != k->tgid) {
        /* A new thread, not a process: from now on its leader may exit
         * before the process does. */
        cp_proc *t = cp_table_get(s->table, k->tgid);
        if (t && !(t->flags & CP_F_EXITED))
            t->flags |= CP_F_THREADS;
        return;
    }
    cp_proc *old = cp_table_get(s->table, k->tgid);
    if (old && (old->flags & CP_F_RESCAN) && !(old->flags & CP_F_EXITED) && k->ts <= old->scan_mono)
        return; /* a rescan already saw this process, and later than this */
    if (old && (old->flags & CP_F_EXECED) && old->exec_mono > k->ts) {
        /* The fork of a process whose (later) exec was handled first, as
         * happens after a forced drain: the entry already has its own image,
         * which the parent's must not replace. */
        if (!(old->flags & CP_F_FORKED)) {
            old->ppid = k->ptgid;
            old->flags |= CP_F_FORKED;
        }
        return;
    }
    cp_proc *pp = cp_table_get(s->table, k->ptgid);
    if (pp && !(pp->flags & CP_F_EXITED))
        cp_table_touch(s->table, pp);
    struct snap par;
    snap_take(&par, pp && !(pp->flags & CP_F_EXITED) ? pp : NULL);
    cp_proc *c = table_put(s, k->tgid);
    c->ppid = k->ptgid;
    c->flags |= CP_F_FORKED;
    c->lost_at_fork = s->lost_drain0;
    c->start_ns = k->ts + s->mono2wall;
    c->start_ticks = mono_to_ticks(s, k->ts);
    c->gen = s->gen;
    make_entity(s, c->pid, c->start_ticks, c->entity_id);
    if (par.have) {
        /* A child runs its parent's image and credentials until it execs. */
        c->exe = cp_blob_ref(par.exe);
        c->args = cp_blob_ref(par.args);
        memcpy(c->comm, par.comm, sizeof c->comm);
        c->uid = par.uid;
        c->euid = par.euid;
        c->gid = par.gid;
        c->egid = par.egid;
        c->flags |= par.flags & (CP_F_CREDS | CP_F_KTHREAD | CP_F_EXE_DELETED | CP_F_EXE_MEMFD);
    }
    if (k->ptgid == 2) /* kthreadd's children are kernel threads */
        c->flags |= CP_F_KTHREAD;
    snap_drop(&par);
}

/* c: the exec's /proc data read ahead, or NULL to read it now. */
static void handle_kev(struct cp *s, const struct cp_kev *k, struct capture *c)
{
    switch (k->what) {
    case PROC_EVENT_FORK:
        handle_fork(s, k);
        break;
    case PROC_EVENT_EXEC: {
        struct capture now;
        if (exec_is_rescan_dup(s, k->tgid, k->ts))
            break;
        s->single.used = 0;
        if (!c) {
            memset(&now, 0, sizeof now);
            now.pid = k->tgid;
            now.ts_mono = k->ts;
            c = &now;
            if (k->later_exec || k->later_exit) {
                c->done = 1;
                c->reason = k->later_exec ? INC_REEXEC : INC_EXITED;
            } else {
                capture(s, &s->single, c);
            }
        }
        if (exec_repeats_rescan(s, k->tgid, k->ts, c)) {
            rp_util_count(&s->ctr, C_RESCAN_DUPS, 1);
            break;
        }
        handle_exec(s, c, SRC_NETLINK, NULL, 0);
        break;
    }
    case PROC_EVENT_EXIT: {
        if (k->pid != k->tgid) {
            /* A thread. If its leader exited before, this may be the last
             * thread, and so the end of the process. */
            cp_proc *t = cp_table_get(s->table, k->tgid);
            if (t && (t->flags & CP_F_LEADER_GONE) && !(t->flags & CP_F_EXITED) &&
                !threads_left(s, k))
                publish_exit(s, k->tgid, t, k->ts, k->code, SRC_NETLINK);
            break;
        }
        cp_proc *p = cp_table_get(s->table, k->tgid);
        /* The leader thread of a process that has other threads may exit
         * first (pthread_exit in main): the process goes on, and ends with
         * its last thread, whose exit is reported instead. */
        if (p && !(p->flags & CP_F_EXITED) && (p->flags & CP_F_THREADS) && threads_left(s, k)) {
            p->flags |= CP_F_LEADER_GONE;
            rp_util_count(&s->ctr, C_LEADER_DEFER, 1);
            break;
        }
        if (p && (p->flags & CP_F_EXITED)) {
            if ((p->flags & CP_F_RESCAN) && k->ts <= p->scan_mono)
                break; /* a rescan reported it already */
            p = NULL;  /* an older process of the same pid */
        }
        publish_exit(s, k->tgid, p, k->ts, k->code, SRC_NETLINK);
        break;
    }
    case PROC_EVENT_UID:
    case PROC_EVENT_GID: {
        cp_proc *p = cp_table_get(s->table, k->tgid);
        if (!p || (p->flags & CP_F_EXITED))
            break;
        if (k->what == PROC_EVENT_UID) {
            p->uid = k->id_real;
            p->euid = k->id_eff;
        } else {
            p->gid = k->id_real;
            p->egid = k->id_eff;
        }
        break;
    }
    default:
        break;
    }
}

/* Reads one socket until it is empty or the event buffer is full. Returns 1
 * when the socket was read to its end. *last_ts gets the newest timestamp
 * read; *upto (may be NULL), when it returns 1, the monotonic time before the
 * last receive, which found the socket empty: every event the kernel stamped
 * before it was queued by then (exec events are queued before the process
 * can go on), so none older is still to come. */
static int nl_read(struct cp *s, int fd, int from_b, int64_t *last_ts, int64_t *upto)
{
    for (int got = 0; got < NL_READ_CAP;) {
        if (upto)
            *upto = clock_ns(CLOCK_MONOTONIC);
        if (s->nkev + CP_NL_BATCH > KEV_CAP)
            return 0;
        int k = 0;
        uint64_t bad = 0;
        int n = cp_nl_recv(s->nl, fd, s->kev + s->nkev, KEV_CAP - s->nkev, &k, &bad);
        rp_util_count(&s->ctr, C_KERNEL_MALFORMED, bad);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                /* The kernel dropped messages: the socket's buffer overran.
                 * What is still queued is intact; read it, then rescan. */
                s->lost++;
                rp_util_count(&s->ctr, C_KERNEL_LOST, 1);
                s->need_rescan = 1;
                got++; /* bounds the loop if the overrun repeats */
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                rp_util_logf(s->host, s->self, RP_LOG_WARN, "netlink receive failed: %s",
                             strerror(errno));
            return 1;
        }
        for (int j = 0; j < k; j++) {
            struct cp_kev *e = &s->kev[s->nkev + j];
            e->from_b = (uint8_t)from_b;
            if (e->ts > *last_ts)
                *last_ts = e->ts;
        }
        s->nkev += k;
        rp_util_count(&s->ctr, C_KERNEL_EVENTS, (uint64_t)k);
        got += n;
        if (n < CP_NL_BATCH)
            return 1;
    }
    return 0;
}

static int kev_cmp(const void *a, const void *b)
{
    const struct cp_kev *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* The exec socket delivered something else: the kernel ignored the event
 * filter. From now on the exec socket carries everything alone. */
static void filter_failed(struct cp *s)
{
    rp_util_logf(s->host, s->self, RP_LOG_WARN,
                 "the kernel ignored the proc connector event filter; "
                 "using one socket for all events");
    watch_off(s, &s->nlb_watch);
    cp_nl_send(s->nlfd_b, s->nl_seq + 2, PROC_CN_MCAST_IGNORE, 0, 0);
    close(s->nlfd_b);
    s->nlfd_b = -1;
    /* The exec socket got all of them too: drop the second copies. */
    int k = 0;
    for (int i = 0; i < s->nkev; i++)
        if (!s->kev[i].from_b)
            s->kev[k++] = s->kev[i];
    s->nkev = k;
}

/*
 * Reads both sockets and handles, in timestamp order, every event whose
 * predecessors are known to be read. Exec events come on socket A (or, on
 * kernels without event filtering, everything does); fork, exit, uid and gid
 * events on socket B. A process's exit on B cannot be handled before its exec
 * on A: A is read first, so B events newer than the end of that read wait
 * for the next round (as do A events newer than the last B event read when B
 * was not read to its end).
 *
 * Each exec's volatile /proc data (executable, arguments, working folder) is
 * read for all execs first, before the rest of the work: a process may exit
 * within a millisecond, while the rest (its table entry, its zombie's stat)
 * outlives it.
 */
static int nl_drain_once(struct cp *s)
{
    int fresh_execs = 0;
    int64_t last_a = 0, last_b = 0;
    int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    uint64_t lost0 = s->lost;
    s->lost_drain0 = uncertainty(s);
    /* Held-back events filling the buffer leave no room to read what
     * releases them: then what is safe goes first, and only if nothing is,
     * the rest in timestamp order as it is (see below). */
    int full = s->nkev + CP_NL_BATCH > KEV_CAP;
    int64_t t_a = 0, t_b = 0;
    int a_done = nl_read(s, s->nlfd, 0, &last_a, &t_a);
    if (s->nlfd_b >= 0) {
        for (int i = 0; i < s->nkev; i++)
            if (!s->kev[i].from_b && s->kev[i].what != PROC_EVENT_EXEC) {
                filter_failed(s);
                break;
            }
    }
    int b_done = 1;
    if (s->nlfd_b >= 0)
        b_done = nl_read(s, s->nlfd_b, 1, &last_b, &t_b);
    /* Read to the end without an overrun: every event up to t0 is in hand. */
    if (a_done && b_done && s->lost == lost0 && !s->need_rescan)
        s->sync_mono = t0;
    /* How far each socket is known to be read, kept across drains (a drain
     * with a full buffer reads nothing). */
    if (a_done)
        s->a_upto = t_a;
    else if (last_a > s->a_upto)
        s->a_upto = last_a;
    if (s->nlfd_b < 0 || b_done)
        s->b_upto = s->nlfd_b < 0 ? INT64_MAX : t_b;
    else if (last_b > s->b_upto)
        s->b_upto = last_b;
    int64_t limit_b = s->a_upto, limit_a = s->b_upto;
    for (int i = 0; i < s->nkev; i++)
        s->kev[i].seq = (uint32_t)i;
    qsort(s->kev, (size_t)s->nkev, sizeof *s->kev, kev_cmp);
    /* The events to handle now: a prefix in timestamp order. */
    int n = 0;
    while (n < s->nkev && s->kev[n].ts <= (s->kev[n].from_b ? limit_b : limit_a))
        n++;
    if (full && n == 0) {
        /* Stuck: the buffer is full of events that wait for unread ones.
         * They go now, in timestamp order; an exit among them may precede
         * its process's exec (still unread), so the images of processes
         * known only from their fork become uncertain, as after a loss. */
        n = s->nkev;
        s->forced++;
        rp_util_count(&s->ctr, C_ORDER_FORCED, 1);
    }

    s->batch.used = 0;
    int ncap = 0;
    for (int i = 0; i < n; i++) {
        struct cp_kev *k = &s->kev[i];
        k->cap = -1;
        if (k->what != PROC_EVENT_EXEC)
            continue;
        /* What follows for the same process decides whether /proc can still
         * show this exec's image: not after its exit, and not after another
         * exec (it would show the later image, with the later arguments). */
        k->later_exec = k->later_exit = 0;
        for (int j = i + 1; j < s->nkev && !k->later_exec && !k->later_exit; j++) {
            const struct cp_kev *e = &s->kev[j];
            if (e->what == PROC_EVENT_EXEC && e->tgid == k->tgid)
                k->later_exec = 1;
            else if (e->what == PROC_EVENT_EXIT && e->pid == k->tgid)
                k->later_exit = 1;
        }
        if (ncap == CAPT_MAX || s->batch.cap - s->batch.used < capture_need(s) ||
            exec_is_rescan_dup(s, k->tgid, k->ts))
            continue;
        struct capture *c = &s->caps[ncap];
        memset(c, 0, sizeof *c);
        c->pid = k->tgid;
        c->ts_mono = k->ts;
        k->cap = (int16_t)ncap++;
        if (k->later_exec || k->later_exit) {
            c->done = 1;
            c->reason = k->later_exec ? INC_REEXEC : INC_EXITED;
        } else {
            capture(s, &s->batch, c);
        }
    }
    /* A process may exec again between its exec event and the reads above:
     * then they showed the later image. Its exec event is queued by the end
     * of that exec, so one more look at the exec socket catches most of
     * these; the captures of such pids are discarded. */
    if (ncap > 0) {
        int64_t last = 0;
        int before = s->nkev;
        nl_read(s, s->nlfd, 0, &last, NULL);
        for (int j = before; j < s->nkev && !fresh_execs; j++)
            fresh_execs = s->kev[j].what == PROC_EVENT_EXEC;
        for (int i = 0; i < n; i++) {
            struct cp_kev *k = &s->kev[i];
            if (k->cap < 0 || s->caps[k->cap].reason == INC_REEXEC)
                continue;
            for (int j = n; j < s->nkev; j++) {
                const struct cp_kev *e = &s->kev[j];
                if (e->what == PROC_EVENT_EXEC && e->tgid == k->tgid && e->ts > k->ts) {
                    struct capture *c = &s->caps[k->cap];
                    int32_t pid = c->pid;
                    int64_t ts = c->ts_mono;
                    memset(c, 0, sizeof *c);
                    c->pid = pid;
                    c->ts_mono = ts;
                    c->done = 1;
                    c->reason = INC_REEXEC;
                    break;
                }
            }
        }
    }
    for (int i = 0; i < n; i++)
        handle_kev(s, &s->kev[i], s->kev[i].cap >= 0 ? &s->caps[s->kev[i].cap] : NULL);
    memmove(s->kev, s->kev + n, (size_t)(s->nkev - n) * sizeof *s->kev);
    s->nkev -= n;
    return fresh_execs;
}

/* Execs that the look after the captures took off the socket would wait for
 * the next wake-up (the socket is empty now, so epoll reports nothing until
 * another process event), by when a short-lived program has exited and its
 * /proc is gone: their /proc is read in this same wake-up instead. Bounded,
 * so a fork storm cannot hold the loop. */
static void nl_drain(struct cp *s)
{
    for (int round = 0; round < 8 && nl_drain_once(s); round++)
        ;
}

static int arm_b_timer(struct cp *s, uint64_t delay_ms);

static void on_netlink(void *arg, int64_t fd, uint32_t revents)
{
    struct cp *s = arg;
    (void)fd;
    (void)revents;
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping)) {
        nl_drain(s);
        if (s->need_rescan)
            maybe_rescan(s);
        pend_kick(s);
        /* Events held back for order wait for the next read; with socket B
         * read lazily, make sure one comes. */
        if (s->nkev > 0 && s->nlfd_b >= 0)
            arm_b_timer(s, 1);
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_b_timer(void *arg);
static void on_netlink_b(void *arg, int64_t fd, uint32_t revents);
static void drain_and_rewatch(struct cp *s);

static int watch_b(struct cp *s)
{
    if (atomic_load(&s->nlb_watch))
        return 0; /* watched already */
    uint64_t id;
    int rc = s->host->fd_watch(s->self, s->nlfd_b, RP_FD_READ, on_netlink_b, s, &id);
    if (rc == 0)
        atomic_store(&s->nlb_watch, id);
    return rc;
}

/* The timer that reads both sockets and watches B again; one at a time.
 * Loop thread only. */
static int arm_b_timer(struct cp *s, uint64_t delay_ms)
{
    if (atomic_load(&s->b_timer))
        return 0;
    uint64_t t;
    int rc = s->host->timer_start(s->self, delay_ms, 0, on_b_timer, s, &t);
    if (rc == 0)
        atomic_store(&s->b_timer, t);
    return rc;
}

/* Socket B (fork, exit, uid, gid) is not urgent: when it becomes readable,
 * it is read batch_ms later, together with whatever came meanwhile, so a
 * burst costs a few wake-ups instead of one per event. Nothing waits at
 * idle. Exec events keep waking the loop at once on socket A. */
static void on_netlink_b(void *arg, int64_t fd, uint32_t revents)
{
    struct cp *s = arg;
    (void)fd;
    (void)revents;
    watch_off(s, &s->nlb_watch);
    if (atomic_load(&s->stopping))
        return;
    if (arm_b_timer(s, s->cfg.batch_ms ? s->cfg.batch_ms : 1) != 0)
        drain_and_rewatch(s);
}

/* Reads both sockets, then watches B again: under the lock, so that stop
 * (which waits for the lock before its last unwatch) never misses a watch
 * made meanwhile. */
static void drain_and_rewatch(struct cp *s)
{
    pthread_mutex_lock(&s->lock);
    if (!atomic_load(&s->stopping) && s->nlfd_b >= 0) {
        nl_drain(s);
        if (s->need_rescan)
            maybe_rescan(s);
        pend_kick(s);
        if (s->nlfd_b >= 0 && watch_b(s) != 0) /* (a failed filter closes B) */
            rp_util_logf(s->host, s->self, RP_LOG_ERROR,
                         "cannot watch the proc connector socket again");
        if (s->nkev > 0 && s->nlfd_b >= 0)
            arm_b_timer(s, 1); /* events held back for order: handle them soon */
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_b_timer(void *arg)
{
    struct cp *s = arg;
    /* A one-shot that fired: the host releases it (see on_flush_timer). */
    atomic_store(&s->b_timer, 0);
    drain_and_rewatch(s);
}

/* Subscribes: two sockets where the kernel filters events (execs apart, so
 * they wake the loop at once while the rest is read in batches), else one. */
static int nl_setup(struct cp *s, char *why, size_t whylen)
{
    if (cp_nl_open(s->cfg.rcvbuf, ++s->nl_seq, &s->nlfd, why, whylen) != 0)
        return -1;
    int got = 0;
    socklen_t gl = sizeof got;
    getsockopt(s->nlfd, SOL_SOCKET, SO_RCVBUF, &got, &gl);
    char why_b[256];
    if (s->cfg.split && cp_nl_filters_events() &&
        cp_nl_open(s->cfg.rcvbuf, ++s->nl_seq, &s->nlfd_b, why_b, sizeof why_b) == 0) {
        if (cp_nl_send(s->nlfd, ++s->nl_seq, PROC_CN_MCAST_LISTEN, 1, PROC_EVENT_EXEC) != 0 ||
            cp_nl_send(s->nlfd_b, ++s->nl_seq, PROC_CN_MCAST_LISTEN, 1,
                       PROC_EVENT_FORK | PROC_EVENT_EXIT | PROC_EVENT_UID | PROC_EVENT_GID) != 0) {
            cp_nl_send(s->nlfd, ++s->nl_seq, PROC_CN_MCAST_LISTEN, 1, CP_PROC_EVENT_ALL);
            cp_nl_send(s->nlfd_b, s->nl_seq, PROC_CN_MCAST_IGNORE, 0, 0);
            close(s->nlfd_b);
            s->nlfd_b = -1;
        }
    }
    /* Whatever came before the filters took effect predates the seed scan
     * that follows: drop it (the filter applies when the send returns). */
    cp_nl_discard(s->nlfd);
    if (s->nlfd_b >= 0)
        cp_nl_discard(s->nlfd_b);
    rp_util_logf(s->host, s->self, RP_LOG_INFO,
                 "proc connector subscribed (%s), receive buffer %llu bytes asked, %d granted",
                 s->nlfd_b >= 0 ? "exec events on one socket, fork, exit, uid and gid on another"
                                : "one socket for all events",
                 (unsigned long long)s->cfg.rcvbuf, got / 2);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void read_machine_id(struct cp *s)
{
    static const char *const files[] = {"/etc/machine-id", "/var/lib/dbus/machine-id", NULL};
    for (int i = 0; files[i]; i++) {
        size_t len = 0;
        if (cp_read_at(AT_FDCWD, files[i], s->machine_id, sizeof s->machine_id - 1, &len) != 0)
            continue;
        while (len > 0 && (s->machine_id[len - 1] == '\n' || s->machine_id[len - 1] == ' '))
            len--;
        if (len > 0) {
            s->machine_id[len] = '\0';
            s->mid_len = len;
            return;
        }
    }
    /* No machine id: ids stay unique on this host, just not across hosts. */
    gethostname(s->machine_id, sizeof s->machine_id - 1);
    s->machine_id[sizeof s->machine_id - 1] = '\0';
    s->mid_len = strlen(s->machine_id);
}

static void free_state(struct cp *s)
{
    if (!s)
        return;
    for (uint32_t k = 0; s->pend && k < s->pend_count; k++) {
        struct pend *p = pend_at(s, k);
        if (p->used && p->ev)
            s->host->event_release(p->ev);
    }
    free(s->pend);
    cp_table_free(s->table);
    cp_hcache_free(s->hcache);
    cp_names_free(s->users);
    cp_names_free(s->groups);
    rp_util_exclude_free(&s->excl);
    free(s->rbuf);
    free(s->items);
    free(s->batch.buf);
    free(s->single.buf);
    cp_nl_bufs_free(s->nl);
    free(s->kev);
    if (s->procfd >= 0)
        close(s->procfd);
    if (s->nlfd >= 0)
        close(s->nlfd);
    if (s->nlfd_b >= 0)
        close(s->nlfd_b);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- the lineage service (rampart/service_lineage.h) ------------------------
 * Read from other plugins' threads: each call holds the lock for one table
 * lookup or walk. The host withdraws the offer and waits for its holds
 * before cp_stop, so a call after stopping is a holder's bug; it is
 * answered with RP_ERR_STOPPED, and the table lives until destroy. */

static int lineage_process(void *ctx, int32_t pid, rp_lineage_process *out)
{
    struct cp *s = ctx;
    if (!s || !out || out->struct_size < sizeof(rp_lineage_process) || pid <= 0)
        return RP_ERR_INVAL;
    int rc = RP_ERR_NOTFOUND;
    pthread_mutex_lock(&s->lock);
    const cp_proc *p = NULL;
    if (atomic_load(&s->stopping))
        rc = RP_ERR_STOPPED;
    else
        p = cp_table_get(s->table, pid);
    if (p) {
        out->pid = p->pid;
        out->ppid = p->ppid > 0 ? p->ppid : 0;
        out->flags = (p->flags & CP_F_EXITED) ? RP_LINEAGE_EXITED : 0;
        out->start_ns = p->start_ns > 0 ? p->start_ns : 0;
        snprintf(out->entity_id, sizeof out->entity_id, "%s", p->entity_id);
        rc = 0;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static int lineage_children(void *ctx, int32_t pid, int32_t *pids, uint32_t cap, uint32_t *count)
{
    struct cp *s = ctx;
    if (!s || !count || (cap && !pids) || pid <= 0)
        return RP_ERR_INVAL;
    uint32_t n = 0, i = 0;
    pthread_mutex_lock(&s->lock);
    if (atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->lock);
        return RP_ERR_STOPPED;
    }
    const cp_proc *p;
    while ((p = cp_table_next(s->table, &i)) != NULL) {
        if (p->ppid != pid || p->pid == pid || (p->flags & CP_F_EXITED))
            continue;
        if (n < cap)
            pids[n] = p->pid;
        n++;
    }
    pthread_mutex_unlock(&s->lock);
    *count = n;
    return 0;
}

/* Offers the lineage of this instance's table where the host has services
 * (ABI 1.1); a second instance finds the name taken and runs without. */
static void lineage_offer(struct cp *s)
{
    if (!RP_HOST_HAS(s->host, service_offer))
        return;
    s->lineage.struct_size = sizeof s->lineage;
    s->lineage.ctx = s;
    s->lineage.process = lineage_process;
    s->lineage.children = lineage_children;
    int rc = s->host->service_offer(s->self, RP_LINEAGE_SERVICE, sizeof RP_LINEAGE_SERVICE - 1,
                                    RP_LINEAGE_VERSION, &s->lineage);
    if (rc != 0)
        rp_util_logf(s->host, s->self, RP_LOG_WARN, "cannot offer service %s: %s",
                     RP_LINEAGE_SERVICE, rp_strerror(rc));
}

static int cp_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct cp *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    s->self = self;
    s->host = host;
    s->procfd = -1;
    s->nlfd = -1;
    s->nlfd_b = -1;
    pthread_mutex_init(&s->lock, NULL);
    int rc = rp_util_fields_register(host, self, field_defs, F_COUNT_, s->f);
    if (rc == 0)
        rc = rp_util_counters_register(&s->ctr, host, self, counter_names, C_COUNT_, 0);
    if (rc != 0) {
        free_state(s);
        return rc;
    }
    if ((rc = parse_config(host, self, &s->cfg)) != 0) {
        free_state(s);
        return rc;
    }
    char xerr[256];
    rc = rp_util_exclude_read(host, self, &s->excl, rp_util_proc_user_uid, xerr, sizeof xerr);
    if (rc != 0) {
        host->set_error(self, xerr, strlen(xerr));
        free_state(s);
        return rc;
    }
    long hz = sysconf(_SC_CLK_TCK);
    s->tick_ns = hz > 0 ? (uint64_t)(1000000000 / hz) : 10000000;
    s->table = cp_table_new((uint32_t)s->cfg.max_processes);
    s->hcache = cp_hcache_new((uint32_t)s->cfg.hash_entries);
    s->users = cp_names_new("/etc/passwd", NAMES_CAP);
    s->groups = cp_names_new("/etc/group", NAMES_CAP);
    s->pend = calloc(s->cfg.max_pending, sizeof *s->pend);
    /* Large enough for the argument vector and for whole stat, status and
     * cgroup files (a cut status would lose its Uid line). */
    s->rbuf_cap = s->cfg.args_max > RBUF_MIN ? s->cfg.args_max : RBUF_MIN;
    s->rbuf = malloc(s->rbuf_cap);
    s->items = calloc(MAX_ARGS_ITEMS, sizeof *s->items);
    s->batch.cap = 10 * capture_need(s);
    s->batch.buf = malloc(s->batch.cap);
    s->single.cap = capture_need(s) + s->cfg.args_max + 1; /* + a joined command line */
    s->single.buf = malloc(s->single.cap);
    s->nl = cp_nl_bufs_new();
    s->kev = calloc(KEV_CAP, sizeof *s->kev);
    if (!s->kev || !s->table || !s->hcache || !s->users || !s->groups || !s->pend || !s->rbuf ||
        !s->items || !s->batch.buf || !s->single.buf || !s->nl) {
        free_state(s);
        return RP_ERR_NOMEM;
    }
    read_machine_id(s);
    refresh_clocks(s);
    /* Acknowledgements are multicast to every listener: a start of our own
     * makes another agent's subscription unlikely to pass for ours. */
    s->nl_seq = (uint32_t)getpid() * 2654435761u ^ (uint32_t)clock_ns(CLOCK_MONOTONIC);
    lineage_offer(s);
    *state = s;
    return 0;
}

static int cp_start(rp_plugin *self, void *state)
{
    struct cp *s = state;
    s->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->procfd < 0) {
        char msg[128];
        int n = snprintf(msg, sizeof msg, "cannot open /proc: %s", strerror(errno));
        s->host->set_error(self, msg, (uint64_t)n);
        return RP_ERR_UNSUPPORTED;
    }
    char why[256] = "";
    s->mode = MODE_POLL;
    if (s->cfg.mode != MODE_POLL) {
        if (nl_setup(s, why, sizeof why) == 0) {
            s->mode = MODE_NETLINK;
        } else if (s->cfg.mode == MODE_NETLINK) {
            s->host->set_error(self, why, strlen(why));
            return RP_ERR_UNSUPPORTED;
        }
    }
    pthread_mutex_lock(&s->lock);
    check_containers(s);
    s->sync_mono = clock_ns(CLOCK_MONOTONIC);
    scan(s, -1);
    uint32_t seeded = cp_table_count(s->table);
    pthread_mutex_unlock(&s->lock);
    uint64_t id;
    int rc;
    if (s->mode == MODE_NETLINK) {
        rc = s->host->fd_watch(self, s->nlfd, RP_FD_READ, on_netlink, s, &id);
        if (rc == 0) {
            atomic_store(&s->nl_watch, id);
            if (s->nlfd_b >= 0)
                rc = watch_b(s);
        }
        if (rc == 0) {
            rc = s->host->timer_start(self, HOUSEKEEPING_MS, HOUSEKEEPING_MS, on_housekeeping, s,
                                      &id);
            if (rc == 0)
                atomic_store(&s->hk_timer, id);
        }
        rp_util_count(&s->ctr, C_MODE_NETLINK, 1);
        rp_util_logf(
            s->host, s->self, RP_LOG_INFO,
            "mode netlink (proc connector): exec and exit events from the kernel; %u processes "
            "in the table (max %llu); container ids %s",
            seeded, (unsigned long long)s->cfg.max_processes,
            s->read_cgroups ? "read from /proc/<pid>/cgroup" : "not looked for (no runtime)");
    } else {
        rc = s->host->timer_start(self, s->cfg.poll_ms, s->cfg.poll_ms, on_poll, s, &id);
        if (rc == 0)
            atomic_store(&s->poll_timer, id);
        rp_util_count(&s->ctr, C_MODE_POLL, 1);
        if (s->cfg.mode == MODE_POLL)
            rp_util_logf(
                s->host, s->self, RP_LOG_INFO,
                "mode poll (configured): /proc scanned every %llu ms; processes shorter than "
                "that are missed and exit codes are unknown; %u processes in the table",
                (unsigned long long)s->cfg.poll_ms, seeded);
        else
            rp_util_logf(
                s->host, s->self, RP_LOG_WARN,
                "mode poll (fallback: %s): /proc scanned every %llu ms; processes shorter "
                "than that are missed and exit codes are unknown; %u processes in the table",
                why, (unsigned long long)s->cfg.poll_ms, seeded);
    }
    if (rc != 0)
        s->host->set_error(self, "cannot register the fd or timer", 31);
    return rc;
}

static int cp_stop(rp_plugin *self, void *state)
{
    (void)self;
    struct cp *s = state;
    atomic_store(&s->stopping, 1);
    /* Unwatch and stop timers before taking the lock: these wait for a
     * running callback, which may itself be waiting for the lock. */
    watch_off(s, &s->nl_watch);
    /* Socket B's watch and timer hand over to each other: unwatch, stop the
     * timer (which may have watched it again before it saw stopping), and
     * unwatch once more. */
    watch_off(s, &s->nlb_watch);
    timer_off(s, &s->b_timer);
    watch_off(s, &s->nlb_watch);
    timer_off(s, &s->poll_timer);
    timer_off(s, &s->hk_timer);
    timer_off(s, &s->rescan_timer);
    timer_off(s, &s->flush_timer);
    /* A drain that held the lock before stopping was set may have watched B
     * again; one that takes it later sees stopping. Wait for the former,
     * then unwatch what it left (outside the lock: B's callback may wait
     * for it). */
    pthread_mutex_lock(&s->lock);
    pthread_mutex_unlock(&s->lock);
    watch_off(s, &s->nlb_watch);
    pthread_mutex_lock(&s->lock);
    /* Unsubscribing lets the kernel stop building events nobody reads. */
    if (s->nlfd >= 0) {
        cp_nl_send(s->nlfd, ++s->nl_seq, PROC_CN_MCAST_IGNORE, 0, 0);
        close(s->nlfd);
        s->nlfd = -1;
    }
    if (s->nlfd_b >= 0) {
        cp_nl_send(s->nlfd_b, ++s->nl_seq, PROC_CN_MCAST_IGNORE, 0, 0);
        close(s->nlfd_b);
        s->nlfd_b = -1;
    }
    /* Events still waiting for a hash go out when their job completes or is
     * cancelled (the host cancels this plugin's jobs after stop). */
    pend_flush(s);
    rp_util_logf(s->host, s->self, RP_LOG_INFO,
                 "stopped: %u processes in the table, %u events still waiting for a hash, "
                 "%llu kernel overruns, %llu rescans, %llu drains out of order",
                 cp_table_count(s->table), s->pend_count, (unsigned long long)s->lost,
                 (unsigned long long)s->rescans, (unsigned long long)s->forced);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static void cp_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free_state(state);
}

/* What each event type carries (ABI 1.1 provides; sdk/docs/fields.md is
 * generated from it). A 1.0 agent would ignore it. Both types carry
 * common_fields; each adds its own. */
static const char *const common_fields[] = {"@timestamp",
                                            "event.category",
                                            "event.type",
                                            "event.action",
                                            "event.dataset",
                                            "collector_process.source",
                                            "process.pid",
                                            "process.entity_id",
                                            "process.executable",
                                            "process.name",
                                            "rampart.process.executable_memfd",
                                            "rampart.process.executable_deleted",
                                            "process.command_line",
                                            "event.outcome",
                                            "rampart.incomplete",
                                            "collector_process.incomplete_reason",
                                            "process.start",
                                            "process.parent.pid",
                                            "process.parent.entity_id",
                                            "user.id",
                                            "user.name",
                                            "group.id",
                                            "group.name",
                                            "user.effective.id",
                                            "user.effective.name",
                                            NULL};
static const char *const exec_fields[] = {"process.args",
                                          "process.args_count",
                                          "collector_process.args_truncated",
                                          "process.working_directory",
                                          "collector_process.path_unresolved",
                                          "collector_process.executable_inode",
                                          "collector_process.executable_device",
                                          "process.parent.start",
                                          "process.parent.executable",
                                          "process.parent.name",
                                          "process.parent.command_line",
                                          "container.id",
                                          "process.hash.sha256",
                                          "collector_process.hash_skipped",
                                          NULL};
static const char *const exit_fields[] = {"process.end",
                                          "process.exit_code",
                                          "collector_process.exit_signal",
                                          "collector_process.exit_code_known",
                                          "event.duration",
                                          NULL};

static const rp_event_fields provides[] = {{"*", common_fields},
                                           {"process.exec", exec_fields},
                                           {"process.exit", exit_fields},
                                           {NULL, NULL}};

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_COLLECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.collector.process",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description =
        "Process exec and exit events from the Linux proc connector, enriched from /proc",
    .config_schema = config_schema,
    .init = cp_init,
    .start = cp_start,
    .stop = cp_stop,
    .destroy = cp_destroy,
    /* The proc connector: CAP_NET_ADMIN (also for its receive buffer past
     * rmem_max); /proc/<pid>/exe, cwd and environ of every user:
     * CAP_SYS_PTRACE; hashing executables any user may run:
     * CAP_DAC_READ_SEARCH; restoring a hashing thread's priority after it
     * ran at nice 19: CAP_SYS_NICE. */
    .capabilities = RP_CAP_NET_ADMIN | RP_CAP_SYS_PTRACE | RP_CAP_DAC_READ_SEARCH | RP_CAP_SYS_NICE,
    .field_namespace = "collector_process",
    .provides = provides,
};

RP_PLUGIN_ENTRY(descriptor)
