/* core/runtime/fields.c - the field registry with the built-in ECS fields. */
#include "runtime/fields.h"
#include "os/os_thread.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct std_field {
    const char *name;
    uint32_t type;
};

/* The first three must stay in the order of RP__F_*. */
static const struct std_field std_fields[] = {
    {"@timestamp", RP_TYPE_TIMESTAMP},
    {"event.id", RP_TYPE_STR},
    {"event.kind", RP_TYPE_STR},
    {"event.category", RP_TYPE_STR_ARRAY},
    {"event.type", RP_TYPE_STR_ARRAY},
    {"event.action", RP_TYPE_STR},
    {"event.outcome", RP_TYPE_STR},
    {"event.severity", RP_TYPE_I64},
    {"event.dataset", RP_TYPE_STR},
    {"event.module", RP_TYPE_STR},
    {"event.provider", RP_TYPE_STR},
    {"event.code", RP_TYPE_STR},
    {"event.reason", RP_TYPE_STR},
    {"event.created", RP_TYPE_TIMESTAMP},
    {"event.start", RP_TYPE_TIMESTAMP},
    {"event.end", RP_TYPE_TIMESTAMP},
    {"event.duration", RP_TYPE_I64},
    {"event.sequence", RP_TYPE_I64},
    {"event.original", RP_TYPE_STR},
    {"message", RP_TYPE_STR},
    {"tags", RP_TYPE_STR_ARRAY},
    {"agent.id", RP_TYPE_STR},
    {"agent.name", RP_TYPE_STR},
    {"agent.type", RP_TYPE_STR},
    {"agent.version", RP_TYPE_STR},
    {"host.hostname", RP_TYPE_STR},
    {"host.name", RP_TYPE_STR},
    {"host.id", RP_TYPE_STR},
    {"host.ip", RP_TYPE_IP},
    {"host.os.type", RP_TYPE_STR},
    {"host.os.kernel", RP_TYPE_STR},
    {"process.pid", RP_TYPE_I64},
    {"process.entity_id", RP_TYPE_STR},
    {"process.name", RP_TYPE_STR},
    {"process.executable", RP_TYPE_STR},
    {"process.args", RP_TYPE_STR_ARRAY},
    {"process.args_count", RP_TYPE_I64},
    {"process.command_line", RP_TYPE_STR},
    {"process.working_directory", RP_TYPE_STR},
    {"process.start", RP_TYPE_TIMESTAMP},
    {"process.end", RP_TYPE_TIMESTAMP},
    {"process.uptime", RP_TYPE_I64},
    {"process.exit_code", RP_TYPE_I64},
    {"process.hash.md5", RP_TYPE_STR},
    {"process.hash.sha1", RP_TYPE_STR},
    {"process.hash.sha256", RP_TYPE_STR},
    {"process.title", RP_TYPE_STR},
    {"process.thread.name", RP_TYPE_STR},
    {"process.interactive", RP_TYPE_BOOL},
    {"process.tty.char_device.major", RP_TYPE_I64},
    {"process.tty.char_device.minor", RP_TYPE_I64},
    {"process.user.id", RP_TYPE_STR},
    {"process.user.name", RP_TYPE_STR},
    {"process.group.id", RP_TYPE_STR},
    {"process.group.name", RP_TYPE_STR},
    {"process.parent.pid", RP_TYPE_I64},
    {"process.parent.entity_id", RP_TYPE_STR},
    {"process.parent.name", RP_TYPE_STR},
    {"process.parent.executable", RP_TYPE_STR},
    {"process.parent.args", RP_TYPE_STR_ARRAY},
    {"process.parent.command_line", RP_TYPE_STR},
    {"process.parent.start", RP_TYPE_TIMESTAMP},
    {"process.parent.hash.sha256", RP_TYPE_STR},
    {"user.id", RP_TYPE_STR},
    {"user.name", RP_TYPE_STR},
    {"user.domain", RP_TYPE_STR},
    {"user.effective.id", RP_TYPE_STR},
    {"user.effective.name", RP_TYPE_STR},
    {"group.id", RP_TYPE_STR},
    {"group.name", RP_TYPE_STR},
    {"container.id", RP_TYPE_STR},
    {"container.runtime", RP_TYPE_STR},
    {"file.path", RP_TYPE_STR},
    {"file.name", RP_TYPE_STR},
    {"file.directory", RP_TYPE_STR},
    {"file.extension", RP_TYPE_STR},
    {"file.size", RP_TYPE_U64},
    {"file.inode", RP_TYPE_STR},
    {"file.device", RP_TYPE_STR},
    {"file.mode", RP_TYPE_STR},
    {"file.owner", RP_TYPE_STR},
    {"file.uid", RP_TYPE_STR},
    {"file.gid", RP_TYPE_STR},
    {"file.group", RP_TYPE_STR},
    {"file.type", RP_TYPE_STR},
    {"file.mtime", RP_TYPE_TIMESTAMP},
    {"file.ctime", RP_TYPE_TIMESTAMP},
    {"file.target_path", RP_TYPE_STR},
    {"file.hash.md5", RP_TYPE_STR},
    {"file.hash.sha1", RP_TYPE_STR},
    {"file.hash.sha256", RP_TYPE_STR},
    {"file.mime_type", RP_TYPE_STR},
    {"source.ip", RP_TYPE_IP},
    {"source.port", RP_TYPE_I64},
    {"source.address", RP_TYPE_STR},
    {"source.bytes", RP_TYPE_U64},
    {"source.packets", RP_TYPE_U64},
    {"destination.ip", RP_TYPE_IP},
    {"destination.port", RP_TYPE_I64},
    {"destination.address", RP_TYPE_STR},
    {"destination.bytes", RP_TYPE_U64},
    {"destination.packets", RP_TYPE_U64},
    {"network.transport", RP_TYPE_STR},
    {"network.type", RP_TYPE_STR},
    {"network.direction", RP_TYPE_STR},
    {"network.protocol", RP_TYPE_STR},
    {"network.iana_number", RP_TYPE_STR},
    {"network.bytes", RP_TYPE_U64},
    {"network.packets", RP_TYPE_U64},
    {"network.community_id", RP_TYPE_STR},
    {"related.ip", RP_TYPE_STR_ARRAY},
    {"related.user", RP_TYPE_STR_ARRAY},
    {"related.hash", RP_TYPE_STR_ARRAY},
    /* Not ECS: the agent's own fields (the "rampart" namespace is the
     * host's), which several collectors fill alike. */
    {"rampart.incomplete", RP_TYPE_STR_ARRAY},
    {"rampart.process.executable_memfd", RP_TYPE_BOOL},
    {"rampart.process.executable_deleted", RP_TYPE_BOOL},
    {"rule.id", RP_TYPE_STR},
    {"rule.uuid", RP_TYPE_STR},
    {"rule.name", RP_TYPE_STR},
    {"rule.ruleset", RP_TYPE_STR},
    {"rule.description", RP_TYPE_STR},
    {"rule.category", RP_TYPE_STR},
    {"rule.reference", RP_TYPE_STR},
    {"rule.author", RP_TYPE_STR_ARRAY},
    {"rule.version", RP_TYPE_STR},
    {"rule.license", RP_TYPE_STR},
    /* Not ECS: the tags of the rule that raised an alert, which select its
     * policy (sdk/docs/alerts.md). */
    {"rule.tags", RP_TYPE_STR_ARRAY},
    {"threat.framework", RP_TYPE_STR},
    {"threat.technique.id", RP_TYPE_STR_ARRAY},
    {"threat.technique.name", RP_TYPE_STR_ARRAY},
    {"threat.tactic.id", RP_TYPE_STR_ARRAY},
    {"threat.tactic.name", RP_TYPE_STR_ARRAY},
    /* Rampart's own alert fields (alert_create, sdk/docs/alerts.md): typed
     * here so that no plugin can register them first with another type. */
    {"rampart.alert.source_ids", RP_TYPE_STR_ARRAY},
    {"rampart.policy.mode", RP_TYPE_STR},
    {"rampart.policy.actions", RP_TYPE_STR_ARRAY},
    {"rampart.policy.matched", RP_TYPE_STR_ARRAY},
    /* Rampart's response fields (sdk/docs/responses.md). */
    {"rampart.response.action", RP_TYPE_STR},
    {"rampart.response.outcome", RP_TYPE_STR},
    {"rampart.response.reason", RP_TYPE_STR},
    {"rampart.response.trigger", RP_TYPE_STR},
    {"rampart.response.alert_id", RP_TYPE_STR},
    {"rampart.response.latency_us", RP_TYPE_U64},
    {"log.level", RP_TYPE_STR},
    {"log.logger", RP_TYPE_STR},
    {"log.file.path", RP_TYPE_STR},
    {"error.message", RP_TYPE_STR},
    {"error.code", RP_TYPE_STR},
    {"error.type", RP_TYPE_STR},
    {"service.name", RP_TYPE_STR},
    {"service.type", RP_TYPE_STR},
    {"url.full", RP_TYPE_STR},
    {"url.domain", RP_TYPE_STR},
    {"dns.question.name", RP_TYPE_STR},
    {"dns.question.type", RP_TYPE_STR},
    {"observer.hostname", RP_TYPE_STR},
    {"observer.type", RP_TYPE_STR},
    {"observer.vendor", RP_TYPE_STR},
    {"observer.product", RP_TYPE_STR},
    {"observer.version", RP_TYPE_STR},
    {"ecs.version", RP_TYPE_STR},
    /* Not ECS: true when a value was cut to its cap (core/runtime/event.h). */
    {"event.truncated", RP_TYPE_BOOL},
};

/* ECS field sets: an unknown name under one of these is refused rather than
 * made a custom field, so typos do not create new fields silently. */
static const char *const ecs_roots[] = {
    "agent",     "as",          "client",      "cloud",        "code_signature",
    "container", "data_stream", "destination", "device",       "dll",
    "dns",       "ecs",         "elf",         "email",        "error",
    "event",     "faas",        "file",        "geo",          "group",
    "hash",      "host",        "http",        "interface",    "log",
    "macho",     "network",     "observer",    "orchestrator", "organization",
    "os",        "package",     "pe",          "process",      "registry",
    "related",   "risk",        "rule",        "server",       "service",
    "source",    "threat",      "tls",         "tracing",      "url",
    "user",      "user_agent",  "vlan",        "volume",       "vulnerability",
    "x509",      "message",     "tags",        "@timestamp",   NULL,
};

struct field {
    char name[RP__FIELD_NAME_MAX + 1];
    uint32_t len;
    uint32_t type;
};

#define HASH_SLOTS (RP__FIELD_MAX * 2)

/* Owners: each distinct owner text once, fields point at it by index (0 =
 * the agent). Past OWNERS_MAX distinct owners, new ones are told as "a
 * plugin": the registry still works, only the message is vaguer. */
#define OWNERS_MAX     256
#define OWNER_TEXT_MAX 160
static char owners[OWNERS_MAX][OWNER_TEXT_MAX]; /* guarded by reg_lock; never changed once set */
static uint32_t nowners = 1;                    /* owners[0] is the agent */
static uint16_t field_owners[RP__FIELD_MAX + 1];

static struct field fields[RP__FIELD_MAX + 1]; /* index = id; 0 unused */
static atomic_uint field_count;
static uint16_t hash_slots[HASH_SLOTS]; /* id, 0 = empty; guarded by reg_lock */
static rp__os_static_mutex reg_lock = RP__OS_STATIC_MUTEX_INIT;
static rp__os_once_flag std_once = RP__OS_ONCE_INIT;

static uint32_t hash_name(const char *s, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

int rp__field_name_valid(const char *s, size_t len)
{
    if (len == 0 || len > RP__FIELD_NAME_MAX)
        return 0;
    if (len == 10 && memcmp(s, "@timestamp", 10) == 0)
        return 1;
    if (s[0] == '.' || s[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                 (c == '.' && s[i + 1] != '.');
        if (!ok)
            return 0;
    }
    return 1;
}

/* Finds a name's slot; returns the id or 0, and the slot to insert into. */
static uint32_t find_locked(const char *name, size_t len, uint32_t *slot_out)
{
    uint32_t slot = hash_name(name, len) % HASH_SLOTS;
    for (;;) {
        uint32_t id = hash_slots[slot];
        if (id == 0) {
            *slot_out = slot;
            return 0;
        }
        if (fields[id].len == len && memcmp(fields[id].name, name, len) == 0)
            return id;
        slot = (slot + 1) % HASH_SLOTS;
    }
}

static int add_locked(const char *name, size_t len, uint32_t type, uint32_t slot, rp_field_id *out)
{
    uint32_t n = atomic_load_explicit(&field_count, memory_order_relaxed);
    if (n >= RP__FIELD_MAX)
        return RP_ERR_FULL;
    struct field *f = &fields[n + 1];
    memcpy(f->name, name, len);
    f->name[len] = '\0';
    f->len = (uint32_t)len;
    f->type = type;
    hash_slots[slot] = (uint16_t)(n + 1);
    /* Readers find the entry by id only after this release store. */
    atomic_store_explicit(&field_count, n + 1, memory_order_release);
    *out = n + 1;
    return 0;
}

static void register_std(void *arg)
{
    (void)arg;
    rp__os_static_mutex_lock(&reg_lock);
    for (size_t i = 0; i < sizeof std_fields / sizeof std_fields[0]; i++) {
        uint32_t slot;
        rp_field_id id;
        size_t len = strlen(std_fields[i].name);
        if (find_locked(std_fields[i].name, len, &slot) == 0)
            add_locked(std_fields[i].name, len, std_fields[i].type, slot, &id);
    }
    rp__os_static_mutex_unlock(&reg_lock);
}

int rp__field_under_ecs(const char *name, size_t len)
{
    if (!name)
        return 0;
    for (int i = 0; ecs_roots[i]; i++) {
        size_t rl = strlen(ecs_roots[i]);
        if (len >= rl && memcmp(name, ecs_roots[i], rl) == 0 && (len == rl || name[rl] == '.'))
            return 1;
    }
    return 0;
}

/* The index of an owner's text, added on first use; 0 for the agent. */
static uint16_t owner_index_locked(const char *owner)
{
    if (!owner)
        return 0;
    for (uint32_t i = 1; i < nowners; i++)
        if (strncmp(owners[i], owner, OWNER_TEXT_MAX - 1) == 0)
            return (uint16_t)i;
    if (nowners >= OWNERS_MAX)
        return OWNERS_MAX; /* told as "a plugin" */
    snprintf(owners[nowners], OWNER_TEXT_MAX, "%s", owner);
    return (uint16_t)nowners++;
}

static const char *owner_text(uint16_t index)
{
    if (index == 0)
        return "the agent";
    return index < OWNERS_MAX ? owners[index] : "a plugin";
}

int rp__field_intern(const char *name, size_t len, uint32_t type, rp_field_id *out)
{
    return rp__field_intern_owned(name, len, type, NULL, out, NULL);
}

int rp__field_intern_owned(const char *name, size_t len, uint32_t type, const char *owner,
                           rp_field_id *out, const char **other)
{
    rp__os_once(&std_once, register_std, NULL);
    if (!name || !rp__field_name_valid(name, len))
        return RP_ERR_INVAL;
    if (type < RP_TYPE_I64 || type > RP_TYPE_STR_ARRAY)
        return RP_ERR_INVAL;
    rp__os_static_mutex_lock(&reg_lock);
    uint32_t slot;
    uint32_t id = find_locked(name, len, &slot);
    int rc = 0;
    if (id) {
        if (fields[id].type != type) {
            rc = RP_ERR_TYPE;
            if (other)
                *other = owner_text(field_owners[id]);
        } else {
            *out = id;
        }
    } else if (rp__field_under_ecs(name, len)) {
        rc = RP_ERR_NOTFOUND;
    } else {
        uint16_t oi = owner_index_locked(owner);
        if ((rc = add_locked(name, len, type, slot, out)) == 0)
            field_owners[*out] = oi;
    }
    rp__os_static_mutex_unlock(&reg_lock);
    return rc;
}

rp_field_id rp__field_lookup(const char *name, size_t len)
{
    rp__os_once(&std_once, register_std, NULL);
    if (!name || len > RP__FIELD_NAME_MAX)
        return 0;
    uint32_t slot;
    rp__os_static_mutex_lock(&reg_lock);
    uint32_t id = find_locked(name, len, &slot);
    rp__os_static_mutex_unlock(&reg_lock);
    return id;
}

const char *rp__field_name(rp_field_id id, size_t *len)
{
    rp__os_once(&std_once, register_std, NULL);
    if (id == 0 || id > atomic_load_explicit(&field_count, memory_order_acquire))
        return NULL;
    if (len)
        *len = fields[id].len;
    return fields[id].name;
}

const char *rp__field_owner(rp_field_id id)
{
    rp__os_once(&std_once, register_std, NULL);
    if (id == 0 || id > atomic_load_explicit(&field_count, memory_order_acquire))
        return NULL;
    rp__os_static_mutex_lock(&reg_lock);
    const char *text = owner_text(field_owners[id]);
    rp__os_static_mutex_unlock(&reg_lock);
    return text;
}

uint32_t rp__field_type(rp_field_id id)
{
    rp__os_once(&std_once, register_std, NULL);
    if (id == 0 || id > atomic_load_explicit(&field_count, memory_order_acquire))
        return 0;
    return fields[id].type;
}

uint32_t rp__field_count(void)
{
    rp__os_once(&std_once, register_std, NULL);
    return atomic_load_explicit(&field_count, memory_order_acquire);
}

const char *rp__type_name(uint32_t type)
{
    static const char *const names[] = {"none",  "i64",       "u64", "bool",        "string",
                                        "bytes", "timestamp", "ip",  "string array"};
    return type <= RP_TYPE_STR_ARRAY ? names[type] : "unknown";
}
