/*
 * rampart/plugin.h - the one header a Rampart plugin includes.
 *
 * This header is the stable ABI between the agent and its plugins. It compiles
 * as C99, C11 and C++, includes only standard headers, and never anything from
 * the agent's core. See sdk/docs/abi-policy.md for what may change and how.
 */
#ifndef RAMPART_PLUGIN_H
#define RAMPART_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ABI version. Majors must be equal; the host's minor must be >= the minor a
 * plugin requires. The major is also part of the entry symbol's name. */
#define RP_ABI_MAJOR 1
#define RP_ABI_MINOR 1

/*
 * Error codes. Every function of the ABI returns int: 0 on success or one of
 * these negative codes. The numbers are part of the ABI and never change; new
 * codes are only appended. The table is an X-macro so that the names, the
 * numbers and the messages of rp_strerror() come from one place.
 */
#define RP_ERROR_TABLE(X)                                                                          \
    X(RP_OK, 0, "success")                                                                         \
    X(RP_ERR_NOMEM, -1, "out of memory")                                                           \
    X(RP_ERR_INVAL, -2, "invalid argument")                                                        \
    X(RP_ERR_IO, -3, "input/output error")                                                         \
    X(RP_ERR_NOTFOUND, -4, "not found")                                                            \
    X(RP_ERR_PERM, -5, "permission denied")                                                        \
    X(RP_ERR_CONFIG, -6, "invalid configuration")                                                  \
    X(RP_ERR_VERSION, -7, "incompatible ABI version")                                              \
    X(RP_ERR_FULL, -8, "queue or buffer full")                                                     \
    X(RP_ERR_BUSY, -9, "resource busy")                                                            \
    X(RP_ERR_UNSUPPORTED, -10, "not supported")                                                    \
    X(RP_ERR_PARSE, -11, "malformed input")                                                        \
    X(RP_ERR_RANGE, -12, "value out of range")                                                     \
    X(RP_ERR_TIMEOUT, -13, "timed out")                                                            \
    X(RP_ERR_AGAIN, -14, "try again later")                                                        \
    X(RP_ERR_STOPPED, -15, "shutting down")                                                        \
    X(RP_ERR_EXISTS, -16, "already exists")                                                        \
    X(RP_ERR_TYPE, -17, "wrong type")                                                              \
    X(RP_ERR_INTERNAL, -18, "internal error")

#define RP__ERROR_ENUM(name, value, text) name = (value),
enum rp_error { RP_ERROR_TABLE(RP__ERROR_ENUM) RP__ERROR_END_ };
#undef RP__ERROR_ENUM

/* rp_strerror: a static description of an error code. Never returns NULL; the
 * string is static and must not be freed. Safe from any thread. */
static inline const char *rp_strerror(int code)
{
    switch (code) {
#define RP__ERROR_TEXT(name, value, text)                                                          \
    case (value):                                                                                  \
        return (text);
        RP_ERROR_TABLE(RP__ERROR_TEXT)
#undef RP__ERROR_TEXT
    default:
        return "unknown error";
    }
}

/* rp_errname: the symbolic name of an error code ("RP_ERR_NOMEM"), or
 * "RP_ERR_UNKNOWN". Static string; safe from any thread. */
static inline const char *rp_errname(int code)
{
    switch (code) {
#define RP__ERROR_NAME(name, value, text)                                                          \
    case (value):                                                                                  \
        return #name;
        RP_ERROR_TABLE(RP__ERROR_NAME)
#undef RP__ERROR_NAME
    default:
        return "RP_ERR_UNKNOWN";
    }
}

/* The event schema (field names and types) has its own version, separate
 * from the call ABI and from a plugin's own semver. */
#define RP_EVENT_SCHEMA_VERSION 1

/* The one symbol a plugin exports. The ABI major is part of the name, so a
 * plugin of another major fails to load before any of its code runs. */
#define RP_ENTRY_SYMBOL "rampart_plugin_entry_v1"

#if defined(_WIN32) || defined(__CYGWIN__)
#define RP_PLUGIN_EXPORT __declspec(dllexport)
#else
#define RP_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* A compile-time check that works in C99, C11 and C++. */
#define RP__ASSERT_CAT2(a, b) a##b
#define RP__ASSERT_CAT(a, b)  RP__ASSERT_CAT2(a, b)
#define RP_STATIC_ASSERT(cond, name)                                                               \
    typedef char RP__ASSERT_CAT(rp_static_assert_, name)[(cond) ? 1 : -1]

/* ------------------------------------------------------------------------ */
/* Basic types. Plain C only: fixed-width integers, pointers, pointer + length
 * strings. No bool, enum, bit-fields, long or size_t in any struct. */

/* An event: opaque to plugins, reached only through host calls. */
typedef struct rp_event rp_event;

/* The host's handle for one plugin instance. Opaque; passed back to the host
 * in every call so the host knows who is calling. Valid from init until
 * destroy returns. */
typedef struct rp_plugin rp_plugin;

/* An interned field name ("process.pid"), valid for the life of the process.
 * 0 is never a valid id. */
typedef uint32_t rp_field_id;

/* A string that need not be NUL-terminated. */
typedef struct rp_str {
    const char *ptr;
    uint64_t len;
} rp_str;

/* An IP address: family 4 uses addr[0..3], family 6 all 16 bytes, network
 * byte order. */
typedef struct rp_ip {
    uint32_t family;
    uint8_t addr[16];
} rp_ip;

/* Value types of event fields. */
#define RP_TYPE_I64       1u
#define RP_TYPE_U64       2u
#define RP_TYPE_BOOL      3u
#define RP_TYPE_STR       4u /* UTF-8 expected; other bytes are escaped on output */
#define RP_TYPE_BYTES     5u /* binary, hex on output */
#define RP_TYPE_TIMESTAMP 6u /* nanoseconds since the Unix epoch, UTC */
#define RP_TYPE_IP        7u
#define RP_TYPE_STR_ARRAY 8u

/* Plugin kinds. */
#define RP_KIND_COLLECTOR 1u
#define RP_KIND_DETECTOR  2u
#define RP_KIND_RESPONDER 3u

/* Descriptor flags. */
/* on_event may run on several threads at once for this plugin. */
#define RP_PLUGIN_CONCURRENT_EVENTS 0x1u
/* 1.1: the descriptor's capabilities member says what the plugin needs; without
 * this flag the host assumes the plugin may need every capability. */
#define RP_PLUGIN_CAPS_DECLARED 0x2u

/* Caps the host enforces, in bytes unless stated (ABI 1.1 states them here;
 * they held in 1.0 as well). Past a cap a call fails with the error named. */
#define RP_MAX_DESCRIPTOR_STRING                                                                   \
    256u /* id, version, vendor, license, description, namespace: the plugin is refused */
#define RP_MAX_CONFIG_SCHEMA   65536u   /* config_schema text: the plugin is refused */
#define RP_MAX_EVENT_TYPE      64u      /* event type or subscription pattern: RP_ERR_INVAL */
#define RP_MAX_FIELD_NAME      128u     /* field name: RP_ERR_INVAL */
#define RP_MAX_FIELDS          4096u    /* field names in the agent (ECS and custom): RP_ERR_FULL */
#define RP_MAX_EVENT_FIELDS    256u     /* fields in one event, the host's included: RP_ERR_FULL */
#define RP_MAX_EVENT_DATA      65536u   /* field data in one event: RP_ERR_FULL */
#define RP_MAX_STR_VALUE       4096u    /* one string value: stored cut, event.truncated set */
#define RP_MAX_COUNTER_NAME    63u      /* counter or gauge name: RP_ERR_INVAL */
#define RP_MAX_COUNTERS        64u      /* counters per plugin: RP_ERR_FULL */
#define RP_MAX_GAUGES          32u      /* gauges per plugin (1.1): RP_ERR_FULL */
#define RP_MAX_SUBSCRIPTIONS   16u      /* subscriptions per plugin: RP_ERR_FULL */
#define RP_MAX_COMMAND_REQUEST 65536u   /* a plugin command's request (1.1) */
#define RP_MAX_COMMAND_REPLY   1048576u /* one reply of a plugin command (1.1): RP_ERR_FULL */

/* Alert severities (event.severity, 0-100) and their named levels. */
#define RP_SEVERITY_INFO     0u
#define RP_SEVERITY_LOW      21u
#define RP_SEVERITY_MEDIUM   47u
#define RP_SEVERITY_HIGH     73u
#define RP_SEVERITY_CRITICAL 99u

/* Policy modes stamped on alerts as rampart.policy.mode (1.1). */
#define RP_POLICY_DETECT  1u
#define RP_POLICY_PREVENT 2u

/* Flags of command_reply (1.1). */
#define RP_REPLY_MORE 0x1u /* a progress reply: more replies follow */

/* Service versions: major in the high 16 bits, minor in the low 16. A lookup
 * for (major, minor) finds an offer of the same major and a minor >= it. */
#define RP_SERVICE_VERSION(major, minor) ((uint32_t)(((uint32_t)(major) << 16) | (uint32_t)(minor)))

/* Linux capability numbers for the descriptor's capabilities mask (1.1):
 * bit n stands for capability n, as in linux/capability.h. */
#define RP_CAP(n)              ((uint64_t)1 << (n))
#define RP_CAP_CHOWN           RP_CAP(0)
#define RP_CAP_DAC_OVERRIDE    RP_CAP(1)
#define RP_CAP_DAC_READ_SEARCH RP_CAP(2)
#define RP_CAP_FOWNER          RP_CAP(3)
#define RP_CAP_KILL            RP_CAP(5)
#define RP_CAP_NET_ADMIN       RP_CAP(12)
#define RP_CAP_NET_RAW         RP_CAP(13)
#define RP_CAP_SYS_PTRACE      RP_CAP(19)
#define RP_CAP_SYS_ADMIN       RP_CAP(21)
#define RP_CAP_SYS_NICE        RP_CAP(23)
#define RP_CAP_SYS_RESOURCE    RP_CAP(24)
#define RP_CAP_AUDIT_CONTROL   RP_CAP(30)
#define RP_CAP_AUDIT_READ      RP_CAP(37)
#define RP_CAP_PERFMON         RP_CAP(38)
#define RP_CAP_BPF             RP_CAP(39)

/* Log levels for rp_host_api.log. */
#define RP_LOG_ERROR 0
#define RP_LOG_WARN  1
#define RP_LOG_INFO  2
#define RP_LOG_DEBUG 3

/* fd watch events (requested and reported). */
#define RP_FD_READ  0x1u
#define RP_FD_WRITE 0x2u
#define RP_FD_ERROR 0x4u /* reported only */
#define RP_FD_HUP   0x8u /* reported only */

/* Callbacks the host makes on its threads on the plugin's behalf. fd and
 * timer callbacks run on the loop thread; work runs on a worker thread and
 * done on the loop thread. None of them may block for long: move slow work
 * to work_submit. */
typedef void (*rp_fd_cb)(void *arg, int64_t fd, uint32_t revents);
typedef void (*rp_timer_cb)(void *arg);
typedef void (*rp_work_cb)(void *arg);
typedef void (*rp_work_done_cb)(void *arg, int status);

/* 1.1: one control request to a plugin's on_command, answered through
 * command_reply. Opaque; valid until on_command returns. */
typedef struct rp_command rp_command;

/* 1.1: what an alert says, for alert_create (sdk/docs/alerts.md). Strings
 * are NUL-terminated and borrowed for the call (the host copies them).
 * Required: rule_id (1-128 bytes of printable ASCII, no spaces), rule_name
 * (1-256 bytes), ruleset (a name of at most 64 bytes), reason (not empty);
 * severity 0-100 (RP_SEVERITY_*). The others may be NULL. Lists hold at most
 * 32 items. */
typedef struct rp_alert {
    uint32_t struct_size; /* sizeof(rp_alert) as built */
    uint32_t severity;    /* event.severity, 0-100 */
    const char *rule_id;  /* rule.id: stable across rule versions */
    const char *rule_name;
    const char *ruleset; /* rule.ruleset: "sigma", "yara", or the plugin's own */
    const char *reason;  /* event.reason: one line a person reads */
    const char *rule_description;
    const char *rule_reference; /* a URL */
    /* NULL-terminated lists, or NULL. Tags select the policy (rule.tags);
     * ATT&CK ids go to threat.tactic.id and threat.technique.id. */
    const char *const *tags;
    const char *const *tactic_ids;    /* "TA0002" */
    const char *const *technique_ids; /* "T1059", "T1059.004" */
} rp_alert;

/* 1.1: the fields a collector fills for one event type, in its descriptor's
 * provides list (which ends with an entry whose event_type is NULL). */
typedef struct rp_event_fields {
    const char *event_type;    /* "process.exec" */
    const char *const *fields; /* NULL-terminated field names */
} rp_event_fields;

/* ------------------------------------------------------------------------ */
/* The host API: a table of functions the host passes to the plugin. It only
 * ever grows at the end. Before calling a function added after 1.0, check it
 * is there with RP_HOST_HAS(host, member).
 *
 * Ownership, everywhere unless stated: pointers the plugin passes in are
 * borrowed for the duration of the call (the host copies what it keeps);
 * pointers the host returns are borrowed from the host for as long as stated;
 * memory one side frees must come from host->alloc. */
typedef struct rp_host_api {
    uint32_t struct_size; /* sizeof the host's table */
    uint16_t abi_major;   /* RP_ABI_MAJOR of the host */
    uint16_t abi_minor;   /* RP_ABI_MINOR of the host */

    /* --- 1.0 --------------------------------------------------------- */

    /* Writes a log line attributed to the plugin. Any thread. */
    void (*log)(rp_plugin *self, int32_t level, const char *msg, uint64_t len);

    /* Leaves a message explaining the error the plugin is about to return
     * from a callback; the host logs it with the error code. Any thread (the
     * message is kept per plugin, last one wins). */
    void (*set_error)(rp_plugin *self, const char *msg, uint64_t len);

    /* The host allocator. Any thread. alloc(0) returns a unique pointer;
     * free(NULL) is a no-op. Use it for memory the host will free. */
    void *(*alloc)(uint64_t size);
    void *(*realloc)(void *ptr, uint64_t size);
    void (*free)(void *ptr);

    /* The plugin's own "config" object from the agent configuration, as
     * compact JSON text (NUL-terminated; "{}" when absent), already validated
     * against the descriptor's config_schema. Borrowed until the plugin's
     * next reconfigure or destroy. len may be NULL. Control thread. */
    int (*config_get)(rp_plugin *self, const char **json, uint64_t *len);

    /* Interns a field name and checks its type. Standard ECS fields have
     * fixed types (RP_ERR_TYPE on a mismatch); other names are custom fields,
     * typed by their first registration, and must not start with an ECS
     * field set ("process.", "file.", ...) unless the host knows them
     * (RP_ERR_NOTFOUND). Any thread; call once at init and keep the id. */
    int (*field_id)(rp_plugin *self, const char *name, uint64_t len, uint32_t type,
                    rp_field_id *out);

    /* Creates an event of a type ("process.exec", "alert"), with one
     * reference owned by the caller. The host stamps @timestamp (now, may be
     * overwritten), event.id (UUIDv7, read-only) and event.kind (alert for
     * "alert", metric for "agent.health", event otherwise). Any thread. */
    int (*event_create)(rp_plugin *self, const char *type, uint64_t type_len, rp_event **out);

    /* Creates a new event of another type holding a copy of every field of
     * src except event.id, event.kind and @timestamp (stamped anew). This is
     * how an alert carries the fields of the event that raised it. The caller
     * owns one reference to the result. Any thread. */
    int (*event_copy)(rp_plugin *self, const rp_event *src, const char *type, uint64_t type_len,
                      rp_event **out);

    /* Publishes the event on the bus and takes over the caller's reference,
     * also on failure. Never blocks. After this the event is immutable: set_*
     * calls return RP_ERR_PERM. Any thread.
     * RP_ERR_FULL: the agent's queued events are at their byte cap
     * (agent.bus_max_bytes); the event was released and counted. Alerts
     * have a reserve above the cap. The host
     * then stops serving the plugin's fd watches (no callbacks) until the
     * queue drains under 3/4 of the cap, so the data waits in the kernel,
     * whose queue overflow the plugin should count. A plugin need not act
     * on RP_ERR_FULL, though stopping its current read loop saves work. */
    int (*event_publish)(rp_plugin *self, rp_event *ev);

    /* Reference counting. on_event's event is borrowed for the call; retain
     * it to keep it longer, then release. Any thread. */
    void (*event_retain)(const rp_event *ev);
    void (*event_release)(const rp_event *ev);

    /* The event's type. The string is borrowed while a reference is held. */
    int (*event_type)(const rp_event *ev, const char **type, uint64_t *len);

    /* Typed setters: only before publish, only by the reference owner.
     * RP_ERR_TYPE if the field has another type, RP_ERR_PERM after publish
     * or for read-only fields, RP_ERR_FULL past the event's caps: 256
     * fields (the host's @timestamp, event.id and event.kind among them) or
     * 64 KiB of field data. Setting a field again replaces it (its old bytes
     * stay counted). Values are copied. A string (and each item of a string array) longer than 4
     * KiB is stored cut to 4 KiB, never inside a UTF-8 character, and the event gets
     * event.truncated = true; the setter still returns 0. */
    int (*set_i64)(rp_event *ev, rp_field_id field, int64_t value);
    int (*set_u64)(rp_event *ev, rp_field_id field, uint64_t value);
    int (*set_bool)(rp_event *ev, rp_field_id field, int32_t value);
    int (*set_str)(rp_event *ev, rp_field_id field, const char *value, uint64_t len);
    int (*set_bytes)(rp_event *ev, rp_field_id field, const void *value, uint64_t len);
    int (*set_timestamp)(rp_event *ev, rp_field_id field, int64_t unix_ns);
    int (*set_ip)(rp_event *ev, rp_field_id field, const rp_ip *value);
    int (*set_str_array)(rp_event *ev, rp_field_id field, const rp_str *items, uint32_t count);

    /* Typed getters. RP_ERR_NOTFOUND when the event has no such field,
     * RP_ERR_TYPE when it has another type. Returned pointers are borrowed
     * while a reference to the event is held. A string from get_str or
     * get_str_array_item is followed by a NUL byte that len does not count;
     * the value itself may hold NUL bytes, so len is its length (get_str and
     * get_str_array_item accept a NULL len). Any thread. */
    int (*get_i64)(const rp_event *ev, rp_field_id field, int64_t *out);
    int (*get_u64)(const rp_event *ev, rp_field_id field, uint64_t *out);
    int (*get_bool)(const rp_event *ev, rp_field_id field, int32_t *out);
    int (*get_str)(const rp_event *ev, rp_field_id field, const char **out, uint64_t *len);
    int (*get_bytes)(const rp_event *ev, rp_field_id field, const void **out, uint64_t *len);
    int (*get_timestamp)(const rp_event *ev, rp_field_id field, int64_t *unix_ns);
    int (*get_ip)(const rp_event *ev, rp_field_id field, rp_ip *out);
    /* String arrays: the count, then items by index. */
    int (*get_str_array_count)(const rp_event *ev, rp_field_id field, uint32_t *count);
    int (*get_str_array_item)(const rp_event *ev, rp_field_id field, uint32_t index,
                              const char **out, uint64_t *len);

    /* Subscribes the plugin's on_event to an event type ("process.exec"), a
     * prefix ("file.*") or everything ("*"). flags must be 0. Events come on
     * host dispatcher threads; a plugin's on_event never runs on two threads
     * at once unless it set RP_PLUGIN_CONCURRENT_EVENTS. When the plugin
     * falls behind, events to it are dropped and counted. Control thread,
     * during init or start. */
    int (*subscribe)(rp_plugin *self, const char *pattern, uint64_t len, uint32_t flags);

    /* Watches a file descriptor (a socket HANDLE on Windows) on the host's
     * loop thread; cb runs there with the ready events. The plugin still owns
     * the fd and closes it after fd_unwatch. Any thread; RP_ERR_STOPPED
     * once the plugin's stop began (the host removes what is left). */
    int (*fd_watch)(rp_plugin *self, int64_t fd, uint32_t events, rp_fd_cb cb, void *arg,
                    uint64_t *watch_id);
    /* After it returns, cb is not running and never runs again. Any thread,
     * also from inside cb. */
    int (*fd_unwatch)(rp_plugin *self, uint64_t watch_id);

    /* A timer on the loop thread: first after first_ms, then every
     * interval_ms (0 = once). The host coalesces nearby timers to save
     * wakeups, so a periodic timer may fire up to an eighth of its interval
     * late. Any thread; RP_ERR_STOPPED once the plugin's stop began. */
    int (*timer_start)(rp_plugin *self, uint64_t first_ms, uint64_t interval_ms, rp_timer_cb cb,
                       void *arg, uint64_t *timer_id);
    /* Same guarantee as fd_unwatch. */
    int (*timer_stop)(rp_plugin *self, uint64_t timer_id);

    /* Runs work(arg) on a host worker thread, then done(arg, status) on the
     * loop thread, exactly once and before destroy (status 0, or
     * RP_ERR_STOPPED when the plugin stopped before the job ran and work
     * never ran; done may be NULL). RP_ERR_FULL when the queue is at its cap
     * and RP_ERR_STOPPED once the plugin's stop began: the job was not taken
     * and arg still belongs to the caller. Any thread. */
    int (*work_submit)(rp_plugin *self, rp_work_cb work, rp_work_done_cb done, void *arg);

    /* Named counters ("events_seen", "kernel_lost") published in the agent's
     * health reports. Register at init; add from any thread. */
    int (*counter_register)(rp_plugin *self, const char *name, uint64_t len, uint32_t *counter_id);
    int (*counter_add)(rp_plugin *self, uint32_t counter_id, uint64_t delta);

    /* Clocks: wall time and a monotonic clock, in nanoseconds. Any thread. */
    int64_t (*now_ns)(void);
    int64_t (*monotonic_ns)(void);

    /* --- 1.1 --------------------------------------------------------- */

    /* The field registry, for engines that learn field names at run time.
     * field_lookup: a known field's id and type by name (RP_ERR_NOTFOUND
     * when no one registered it). field_info: name (NUL-terminated, static
     * for the life of the process) and type of an id; ids are dense, 1 to
     * field_count, so a loop over them lists the registry. Any thread. */
    int (*field_lookup)(rp_plugin *self, const char *name, uint64_t len, rp_field_id *id,
                        uint32_t *type);
    int (*field_info)(rp_plugin *self, rp_field_id id, const char **name, uint64_t *len,
                      uint32_t *type);
    int (*field_count)(rp_plugin *self, uint32_t *count);
    /* How many running collectors declare (descriptor provides) that they
     * fill field for events of event_type ("*": of any type); 0 means a
     * rule on that field cannot match. A collector counts from its load
     * until it fails or stops, so also at a detector's init and start. The
     * host's @timestamp, event.id, event.kind and event.truncated count for
     * every collector declaring the type. Any thread. */
    int (*field_provided)(rp_plugin *self, const char *event_type, uint64_t type_len,
                          rp_field_id field, uint32_t *collectors);
    /* The fields an event holds, in the order they were first set (the
     * host's first): index 0 to count-1. Any thread, reference held. */
    int (*event_field_count)(const rp_event *ev, uint32_t *count);
    int (*event_field_at)(const rp_event *ev, uint32_t index, rp_field_id *id, uint32_t *type);

    /* Creates an alert by the alert contract (sdk/docs/alerts.md): event
     * type "alert", kind alert, the rule.*, event.severity, event.reason and
     * threat.* fields from alert, the fields of sources[0] that describe the
     * subject (process.*, file.*, user.*, host.*, network fields...) but not
     * its event.* categorisation, the event.id of every source in
     * rampart.alert.source_ids, and the policy that applies
     * (rampart.policy.mode "detect" or "prevent", rampart.policy.actions).
     * nsources may be 0 (sources NULL), at most 64. The caller owns one
     * reference; it may add fields, then publishes it. RP_ERR_INVAL for a
     * missing or malformed member of alert, RP_ERR_RANGE for a severity past
     * 100; nothing is made then. Any thread. */
    int (*alert_create)(rp_plugin *self, const rp_alert *alert, const rp_event *const *sources,
                        uint32_t nsources, rp_event **out);

    /* Events dropped for this plugin's subscriptions (its queue was full)
     * since it started; a windowed detector compares it between windows to
     * know a count may be low. The publisher is not told: event_publish
     * returns 0 when a subscriber's queue is full. Any thread. */
    int (*dropped_get)(rp_plugin *self, uint64_t *dropped);

    /* Gauges: named values that are set, not added ("users_tracked"), shown
     * in health reports, status and rampartctl plugins. Register at init;
     * set from any thread. */
    int (*gauge_register)(rp_plugin *self, const char *name, uint64_t len, uint32_t *gauge_id);
    int (*gauge_set)(rp_plugin *self, uint32_t gauge_id, int64_t value);

    /* Typed config getters over the plugin's validated config. path is a
     * JSON Pointer (RFC 6901: "" is the whole object, "/window/seconds",
     * "/users/0"; "~1" is "/" and "~0" is "~" in a key). RP_ERR_NOTFOUND
     * when absent, RP_ERR_TYPE for another JSON type (config_i64 takes
     * integers only, RP_ERR_RANGE past int64), RP_ERR_INVAL for a malformed
     * pointer or one over 1024 bytes or 32 tokens; RP_ERR_RANGE for an
     * index past the count. Strings are NUL-terminated (len may be NULL);
     * config_json gives any value as compact JSON text. Returned pointers
     * are borrowed until the plugin's next reconfigure or destroy. Control
     * thread and the plugin's own callbacks; also inside check_config. */
    int (*config_bool)(rp_plugin *self, const char *path, uint64_t path_len, int32_t *out);
    int (*config_i64)(rp_plugin *self, const char *path, uint64_t path_len, int64_t *out);
    int (*config_str)(rp_plugin *self, const char *path, uint64_t path_len, const char **out,
                      uint64_t *len);
    int (*config_str_array_count)(rp_plugin *self, const char *path, uint64_t path_len,
                                  uint32_t *count);
    int (*config_str_array_item)(rp_plugin *self, const char *path, uint64_t path_len,
                                 uint32_t index, const char **out, uint64_t *len);
    int (*config_json)(rp_plugin *self, const char *path, uint64_t path_len, const char **json,
                       uint64_t *len);

    /* Services: versioned tables of functions one plugin (or the host)
     * offers to others, named in reverse DNS ("org.rampart.process.lineage")
     * with RP_SERVICE_VERSION(major, minor). service_offer: at init or
     * start; table is borrowed until the plugin stops, when the host
     * withdraws it (RP_ERR_EXISTS when the name is offered already).
     * service_acquire: the table of an offer of the same major and a minor
     * >= the one asked, held until service_release; the provider's stop
     * waits for holds to be released (RP_ERR_NOTFOUND when none). Release in
     * the same callback or before your own stop. Any thread.
     * Names: [a-z0-9_-] labels joined by single dots, two or more, at most
     * 128 bytes (RP_ERR_INVAL); org.rampart.host.* is the host's
     * (RP_ERR_PERM); acquire finds the host's offers and plugins' alike.
     * The provider's stop waits at most 2 s for holds (sdk/docs/services.md
     * says what happens past that). */
    int (*service_offer)(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                         const void *table);
    int (*service_acquire)(rp_plugin *self, const char *name, uint64_t len, uint32_t version,
                           const void **table, uint64_t *hold);
    int (*service_release)(rp_plugin *self, uint64_t hold);

    /* The plugin instance's private folder, <agent.data_dir>/plugins/<name>,
     * created by the host with mode 0700 and owned by the agent: an open
     * directory descriptor (use openat; -1 where the platform has none) and
     * its path, both owned by the host and valid until destroy returns.
     * Made at the first call; a symbolic link or a folder of another user
     * at that place is refused (RP_ERR_PERM). len may be NULL. Any thread. */
    int (*private_dir)(rp_plugin *self, int64_t *dirfd, const char **path, uint64_t *len);

    /* Answers a command given to on_command with one JSON value (at most
     * RP_MAX_COMMAND_REPLY bytes, copied; all replies of one command at
     * most 8 MiB: RP_ERR_FULL past either). RP_REPLY_MORE marks a progress
     * reply; the reply without it is the last. RP_ERR_TIMEOUT once the
     * command's deadline passed or the caller went away (the caller was
     * told), RP_ERR_STOPPED once the plugin's stop began (return then),
     * RP_ERR_INVAL for text that is not JSON, other flags, or a reply after
     * the last or outside on_command. The thread running on_command. */
    int (*command_reply)(rp_command *cmd, const char *json, uint64_t len, uint32_t flags);

    /* --- new functions of later minors go here, at the end ------------- */
} rp_host_api;

/* True when the host's table has the member (and it is not NULL). */
#define RP_HOST_HAS(host, member)                                                                  \
    ((uint64_t)((const char *)&((host)->member) - (const char *)(host)) +                          \
             sizeof((host)->member) <=                                                             \
         (host)->struct_size &&                                                                    \
     (host)->member != 0)

/* ------------------------------------------------------------------------ */
/* The plugin descriptor: static data the plugin returns from its entry. It
 * only ever grows at the end; the host copies what it knows and zero-fills
 * the rest. All strings are NUL-terminated, static, and owned by the plugin. */
typedef struct rp_plugin_descriptor {
    uint32_t struct_size;          /* sizeof(rp_plugin_descriptor) as built */
    uint16_t abi_major;            /* RP_ABI_MAJOR the plugin was built with */
    uint16_t abi_minor;            /* the lowest host minor the plugin needs */
    uint32_t kind;                 /* RP_KIND_* */
    uint32_t flags;                /* RP_PLUGIN_* */
    uint32_t event_schema_version; /* RP_EVENT_SCHEMA_VERSION built with */
    uint32_t reserved;             /* must be 0 */

    const char *id;          /* unique, reverse DNS: "org.example.hello" */
    const char *version;     /* the plugin's semver: "1.2.0" */
    const char *vendor;      /* "Example Corp" */
    const char *license;     /* SPDX: "Apache-2.0" */
    const char *description; /* one line */
    /* JSON Schema (the subset described in sdk/docs/host-api.md) for the
     * plugin's "config" object; NULL accepts only an empty or absent one. */
    const char *config_schema;

    /* Lifecycle, on the host's control thread (never the loop thread), in
     * this order: init, start, (reconfigure)*, stop, destroy. init gets the
     * host table (borrowed for the life of the plugin) and stores the
     * plugin's state in *state. A failing init or start leaves the plugin
     * off; destroy still runs after a successful init. Any thread the
     * plugin starts is joined in stop. After stop returns the host cancels
     * the plugin's jobs not started (their done gets RP_ERR_STOPPED) and
     * removes its timers and watches; nothing of the plugin runs once
     * destroy is called (sdk/docs/host-api.md, "Threads and lifetimes"). */
    int (*init)(rp_plugin *self, const rp_host_api *host, void **state); /* required */
    int (*start)(rp_plugin *self, void *state);                          /* required */
    int (*stop)(rp_plugin *self, void *state);                           /* required */
    void (*destroy)(rp_plugin *self, void *state);                       /* required */
    /* Optional: apply a new config (config_get returns it) without a
     * restart. NULL: the host stops, destroys and re-creates the plugin. */
    int (*reconfigure)(rp_plugin *self, void *state);
    /* Required for plugins that subscribe: an event the plugin subscribed
     * to, borrowed for the call. A returned error is counted. Runs only
     * from the return of start to the beginning of stop, never during
     * reconfigure: events arriving before start returned or during
     * reconfigure wait; those arriving after stop began are dropped and
     * counted. */
    int (*on_event)(rp_plugin *self, void *state, const rp_event *ev);

    /* --- 1.1 --------------------------------------------------------- */

    /* The namespace of the plugin's custom fields ("acme" for "acme.*"):
     * field_id refuses a custom field outside it. NULL keeps the 1.0 rule
     * (custom fields anywhere outside the ECS field sets). A name taken by
     * another plugin is refused with a message naming both. */
    const char *field_namespace;
    /* Collectors: the fields filled for each event type, ending with an
     * entry whose event_type is NULL; NULL declares nothing. Checked at load
     * (at most 64 event types of RP_MAX_EVENT_FIELDS fields, known ECS
     * names, custom ones in the namespace): the plugin is refused. */
    const rp_event_fields *provides;
    /* Optional: validates what the schema cannot express, before init and
     * by `rampartd --check-config`, without starting the plugin. Only the
     * config getters, log and set_error may be called (others answer
     * RP_ERR_BUSY); return RP_ERR_CONFIG with set_error saying which key and
     * why: the plugin is then left off with that message. */
    int (*check_config)(rp_plugin *self, const rp_host_api *host);
    /* Optional: answers a control request (`rampartctl plugin NAME CMD`),
     * a JSON object in request (borrowed for the call, NUL-terminated), by
     * command_reply, on a worker thread, never on the loop thread, and never
     * before start or after stop; at most 2 of a plugin's commands run at
     * once. A return without a last reply answers with the error (its name
     * and the set_error message). */
    int (*on_command)(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                      uint64_t len);
    /* RP_CAP_* the plugin needs, valid with RP_PLUGIN_CAPS_DECLARED. */
    uint64_t capabilities;

    /* --- new members of later minors go here, at the end --------------- */
} rp_plugin_descriptor;

/*
 * The entry point, the only symbol a plugin exports. Called once after the
 * plugin is loaded, on the control thread, before anything else. The host
 * table is borrowed for the life of the plugin. Returns 0 and stores a
 * pointer to the plugin's static descriptor, or a negative error.
 */
typedef int (*rp_plugin_entry_fn)(const rp_host_api *host, const rp_plugin_descriptor **out);
RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out);

/* Defines that entry point for the usual plugin, whose entry only hands out
 * its static descriptor: RP_PLUGIN_ENTRY(descriptor) at file scope, after the
 * descriptor. A plugin that must check the host before answering (or return
 * one of several descriptors) writes the function itself. Added in 1.1; a
 * macro only, so the ABI is unchanged. */
#define RP_PLUGIN_ENTRY(descriptor)                                                                \
    RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,                          \
                                                 const rp_plugin_descriptor **out)                 \
    {                                                                                              \
        (void)host;                                                                                \
        *out = &(descriptor);                                                                      \
        return 0;                                                                                  \
    }

/* Sizes of the tables as of ABI 1.0; the host refuses anything smaller. */
#define RP_HOST_API_SIZE_1_0   (8u + 40u * (uint32_t)sizeof(void *))
#define RP_DESCRIPTOR_SIZE_1_0 (24u + 12u * (uint32_t)sizeof(void *))
/* Sizes as of ABI 1.1. */
#define RP_HOST_API_SIZE_1_1   (8u + 61u * (uint32_t)sizeof(void *))
#define RP_DESCRIPTOR_SIZE_1_1 (24u + 16u * (uint32_t)sizeof(void *) + 8u)
#define RP_ALERT_SIZE_1_1      (8u + 9u * (uint32_t)sizeof(void *))

/*
 * Layout pins: every member of every public struct has its offset pinned here
 * and every struct its size, so a change that moves, swaps, resizes or inserts
 * a member fails the build (tests/abi/check_layout.py fails when a member has
 * no pin). The offsets are written in terms of the pointer size and the
 * alignment of uint64_t, so they hold on every target: on x86_64 and the
 * other LP64/LLP64 targets a pointer slot is 8 bytes; on 32-bit targets 4.
 */
#define RP__OFF(type, member) ((uint64_t)offsetof(type, member))
#define RP__PTR               ((uint64_t)sizeof(void *))
/* Host table: a uint32_t and two uint16_t, then one pointer per slot. */
#define RP__SLOT(n) (8u + (n)*RP__PTR)
/* Descriptor: six uint32_t-sized members, then one pointer per slot. */
#define RP__DSLOT(n) (24u + (n)*RP__PTR)
/* Not ABI: only measures uint64_t's alignment, 8 on x86_64 and 4 on i386. */
typedef struct rp__align_u64 {
    uint8_t pad;
    uint64_t value;
} rp__align_u64;
#define RP__ALIGN_U64 RP__OFF(rp__align_u64, value)
/* rp_str.len follows the pointer, rounded up to uint64_t's alignment. */
#define RP__STR_LEN ((RP__PTR + RP__ALIGN_U64 - 1u) / RP__ALIGN_U64 * RP__ALIGN_U64)
RP_STATIC_ASSERT(RP__OFF(rp_str, ptr) == 0, str_ptr);
RP_STATIC_ASSERT(RP__OFF(rp_str, len) == RP__STR_LEN, str_len);
RP_STATIC_ASSERT(sizeof(rp_str) == RP__STR_LEN + 8u, str_size);
RP_STATIC_ASSERT(RP__OFF(rp_ip, family) == 0, ip_family);
RP_STATIC_ASSERT(RP__OFF(rp_ip, addr) == 4, ip_addr);
RP_STATIC_ASSERT(sizeof(rp_ip) == 20, rp_ip_size);
RP_STATIC_ASSERT(sizeof(rp_host_api) == RP_HOST_API_SIZE_1_1, host_api_size);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, struct_size) == 0, host_struct_size);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, abi_major) == 4, host_abi_major);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, abi_minor) == 6, host_abi_minor);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, log) == RP__SLOT(0), host_log);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_error) == RP__SLOT(1), host_set_error);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, alloc) == RP__SLOT(2), host_alloc);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, realloc) == RP__SLOT(3), host_realloc);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, free) == RP__SLOT(4), host_free);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, config_get) == RP__SLOT(5), host_config_get);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, field_id) == RP__SLOT(6), host_field_id);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_create) == RP__SLOT(7), host_event_create);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_copy) == RP__SLOT(8), host_event_copy);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_publish) == RP__SLOT(9), host_event_publish);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_retain) == RP__SLOT(10), host_event_retain);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_release) == RP__SLOT(11), host_event_release);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_type) == RP__SLOT(12), host_event_type);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_i64) == RP__SLOT(13), host_set_i64);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_u64) == RP__SLOT(14), host_set_u64);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_bool) == RP__SLOT(15), host_set_bool);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_str) == RP__SLOT(16), host_set_str);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_bytes) == RP__SLOT(17), host_set_bytes);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_timestamp) == RP__SLOT(18), host_set_timestamp);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_ip) == RP__SLOT(19), host_set_ip);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, set_str_array) == RP__SLOT(20), host_set_str_array);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_i64) == RP__SLOT(21), host_get_i64);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_u64) == RP__SLOT(22), host_get_u64);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_bool) == RP__SLOT(23), host_get_bool);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_str) == RP__SLOT(24), host_get_str);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_bytes) == RP__SLOT(25), host_get_bytes);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_timestamp) == RP__SLOT(26), host_get_timestamp);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_ip) == RP__SLOT(27), host_get_ip);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_str_array_count) == RP__SLOT(28),
                 host_get_str_array_count);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, get_str_array_item) == RP__SLOT(29), host_get_str_array_item);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, subscribe) == RP__SLOT(30), host_subscribe);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, fd_watch) == RP__SLOT(31), host_fd_watch);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, fd_unwatch) == RP__SLOT(32), host_fd_unwatch);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, timer_start) == RP__SLOT(33), host_timer_start);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, timer_stop) == RP__SLOT(34), host_timer_stop);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, work_submit) == RP__SLOT(35), host_work_submit);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, counter_register) == RP__SLOT(36), host_counter_register);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, counter_add) == RP__SLOT(37), host_counter_add);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, now_ns) == RP__SLOT(38), host_now_ns);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, monotonic_ns) == RP__SLOT(39), host_monotonic_ns);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, field_lookup) == RP__SLOT(40), host_field_lookup);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, field_info) == RP__SLOT(41), host_field_info);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, field_count) == RP__SLOT(42), host_field_count);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, field_provided) == RP__SLOT(43), host_field_provided);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_field_count) == RP__SLOT(44), host_event_field_count);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, event_field_at) == RP__SLOT(45), host_event_field_at);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, alert_create) == RP__SLOT(46), host_alert_create);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, dropped_get) == RP__SLOT(47), host_dropped_get);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, gauge_register) == RP__SLOT(48), host_gauge_register);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, gauge_set) == RP__SLOT(49), host_gauge_set);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, config_bool) == RP__SLOT(50), host_config_bool);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, config_i64) == RP__SLOT(51), host_config_i64);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, config_str) == RP__SLOT(52), host_config_str);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, config_str_array_count) == RP__SLOT(53),
                 host_config_str_array_count);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, config_str_array_item) == RP__SLOT(54),
                 host_config_str_array_item);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, config_json) == RP__SLOT(55), host_config_json);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, service_offer) == RP__SLOT(56), host_service_offer);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, service_acquire) == RP__SLOT(57), host_service_acquire);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, service_release) == RP__SLOT(58), host_service_release);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, private_dir) == RP__SLOT(59), host_private_dir);
RP_STATIC_ASSERT(RP__OFF(rp_host_api, command_reply) == RP__SLOT(60), host_command_reply);
RP_STATIC_ASSERT(sizeof(rp_plugin_descriptor) == RP_DESCRIPTOR_SIZE_1_1, descriptor_size);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, struct_size) == 0, desc_struct_size);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, abi_major) == 4, desc_abi_major);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, abi_minor) == 6, desc_abi_minor);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, kind) == 8, desc_kind);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, flags) == 12, desc_flags);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, event_schema_version) == 16,
                 desc_event_schema_version);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, reserved) == 20, desc_reserved);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, id) == RP__DSLOT(0), desc_id);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, version) == RP__DSLOT(1), desc_version);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, vendor) == RP__DSLOT(2), desc_vendor);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, license) == RP__DSLOT(3), desc_license);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, description) == RP__DSLOT(4), desc_description);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, config_schema) == RP__DSLOT(5), desc_config_schema);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, init) == RP__DSLOT(6), desc_init);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, start) == RP__DSLOT(7), desc_start);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, stop) == RP__DSLOT(8), desc_stop);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, destroy) == RP__DSLOT(9), desc_destroy);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, reconfigure) == RP__DSLOT(10), desc_reconfigure);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, on_event) == RP__DSLOT(11), desc_on_event);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, field_namespace) == RP__DSLOT(12),
                 desc_field_namespace);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, provides) == RP__DSLOT(13), desc_provides);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, check_config) == RP__DSLOT(14), desc_check_config);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, on_command) == RP__DSLOT(15), desc_on_command);
RP_STATIC_ASSERT(RP__OFF(rp_plugin_descriptor, capabilities) == RP__DSLOT(16), desc_capabilities);
RP_STATIC_ASSERT(sizeof(rp_alert) == RP_ALERT_SIZE_1_1, alert_size);
RP_STATIC_ASSERT(RP__OFF(rp_alert, struct_size) == 0, alert_struct_size);
RP_STATIC_ASSERT(RP__OFF(rp_alert, severity) == 4, alert_severity);
RP_STATIC_ASSERT(RP__OFF(rp_alert, rule_id) == 8u + 0u * RP__PTR, alert_rule_id);
RP_STATIC_ASSERT(RP__OFF(rp_alert, rule_name) == 8u + 1u * RP__PTR, alert_rule_name);
RP_STATIC_ASSERT(RP__OFF(rp_alert, ruleset) == 8u + 2u * RP__PTR, alert_ruleset);
RP_STATIC_ASSERT(RP__OFF(rp_alert, reason) == 8u + 3u * RP__PTR, alert_reason);
RP_STATIC_ASSERT(RP__OFF(rp_alert, rule_description) == 8u + 4u * RP__PTR, alert_rule_description);
RP_STATIC_ASSERT(RP__OFF(rp_alert, rule_reference) == 8u + 5u * RP__PTR, alert_rule_reference);
RP_STATIC_ASSERT(RP__OFF(rp_alert, tags) == 8u + 6u * RP__PTR, alert_tags);
RP_STATIC_ASSERT(RP__OFF(rp_alert, tactic_ids) == 8u + 7u * RP__PTR, alert_tactic_ids);
RP_STATIC_ASSERT(RP__OFF(rp_alert, technique_ids) == 8u + 8u * RP__PTR, alert_technique_ids);
RP_STATIC_ASSERT(sizeof(rp_event_fields) == 2u * RP__PTR, event_fields_size);
RP_STATIC_ASSERT(RP__OFF(rp_event_fields, event_type) == 0, event_fields_event_type);
RP_STATIC_ASSERT(RP__OFF(rp_event_fields, fields) == RP__PTR, event_fields_fields);

#ifdef __cplusplus
}
#endif

#endif /* RAMPART_PLUGIN_H */
