/*
 * core/runtime/host_config.c - ABI 1.1 typed config getters (config_bool,
 * config_i64, config_str, config_str_array_count, config_str_array_item,
 * config_json), the descriptor's check_config callback, and what the host
 * reports about a plugin's declared capabilities.
 *
 * The getters read the jansson tree the loader validated (schema checked,
 * defaults applied), addressed by a JSON Pointer (RFC 6901). The tree is
 * never changed once installed: rp__host_plugin_set_config puts a new one in
 * its place, and the one before stays allocated until the next replacement
 * or destroy, so a getter racing one replacement on another thread still
 * reads memory that is alive, and every pointer a getter returned stays valid
 * at least until the plugin's next reconfigure, as the header promises.
 */
#include "lib/log.h"
#include "os/os_thread.h"
#include "runtime/host.h"
#include "runtime/host_private.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A JSON Pointer longer than this, or with more reference tokens, is refused
 * with RP_ERR_INVAL: the host copies each token onto the stack, and no
 * config the schema subset can describe nests deeper. */
#define POINTER_MAX 1024u
#define DEPTH_MAX   32u

/* config_json's text of one value, made on first request and kept with the
 * tree it was made from. Keyed by the value, not the path, so the cache
 * holds at most one text per value of the config whatever paths are asked. */
struct rp__config_text {
    const json_t *node;
    char *text;
    size_t len;
    struct rp__config_text *next;
};

/* The plugin whose check_config runs on this thread, and the config it
 * checks (which may be a candidate not yet installed, during a reload). */
static _Thread_local struct rp_plugin *checking;
static _Thread_local const json_t *checking_doc;
static _Thread_local char *checking_text;

int rp__host_checking(const struct rp_plugin *p)
{
    return p && checking == p;
}

static void texts_free(struct rp__config_text *t)
{
    while (t) {
        struct rp__config_text *next = t->next;
        free(t->text);
        free(t);
        t = next;
    }
}

int rp__host_plugin_set_config(struct rp_plugin *p, json_t *config)
{
    if (!p || !json_is_object(config))
        return RP_ERR_INVAL;
    char *text = json_dumps(config, JSON_COMPACT);
    if (!text)
        return RP_ERR_NOMEM;
    json_incref(config);
    rp__os_mutex_lock(p->lock);
    json_t *old_prev = p->config_prev;
    struct rp__config_text *old_texts = p->config_texts_prev;
    char *old_json = p->config_json_prev;
    p->config_prev = p->config_doc;
    p->config_texts_prev = p->config_texts;
    p->config_json_prev = p->config_json;
    p->config_doc = config;
    p->config_texts = NULL;
    p->config_json = text;
    rp__os_mutex_unlock(p->lock);
    json_decref(old_prev);
    texts_free(old_texts);
    free(old_json);
    return 0;
}

void rp__host_plugin_config_free(struct rp_plugin *p)
{
    json_decref(p->config_doc);
    json_decref(p->config_prev);
    texts_free(p->config_texts);
    texts_free(p->config_texts_prev);
    free(p->config_json_prev);
    p->config_doc = p->config_prev = NULL;
    p->config_texts = p->config_texts_prev = NULL;
    p->config_json_prev = NULL;
}

/*
 * Checks the whole pointer's syntax before anything is looked up, so that a
 * malformed pointer is RP_ERR_INVAL whatever the config holds: "" or a
 * sequence of "/" + token, "~" only as "~0" (~) or "~1" (/), no NUL byte,
 * at most POINTER_MAX bytes and DEPTH_MAX tokens.
 */
static int pointer_check(const char *path, uint64_t len)
{
    if (!path)
        return RP_ERR_INVAL;
    if (len == 0)
        return 0;
    if (len > POINTER_MAX || path[0] != '/')
        return RP_ERR_INVAL;
    unsigned tokens = 0;
    for (uint64_t i = 0; i < len; i++) {
        char c = path[i];
        if (c == '\0')
            return RP_ERR_INVAL;
        if (c == '/' && ++tokens > DEPTH_MAX)
            return RP_ERR_INVAL;
        if (c == '~' && (i + 1 >= len || (path[i + 1] != '0' && path[i + 1] != '1')))
            return RP_ERR_INVAL;
    }
    return 0;
}

/* An array index token: "0" or digits without a leading zero, below the
 * array's size. "-" (the element after the last) and anything else never
 * names an existing element. */
static int array_index(const char *tok, size_t len, size_t size, size_t *index)
{
    if (len == 0 || len > 10 || (len > 1 && tok[0] == '0'))
        return RP_ERR_NOTFOUND;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return RP_ERR_NOTFOUND;
        v = v * 10 + (uint64_t)(tok[i] - '0');
    }
    if (v >= size)
        return RP_ERR_NOTFOUND;
    *index = (size_t)v;
    return 0;
}

/* The value at a checked pointer, or RP_ERR_NOTFOUND (also when a token
 * steps into a string, number, boolean or null). */
static int pointer_resolve(const json_t *doc, const char *path, uint64_t len, const json_t **out)
{
    char tok[POINTER_MAX];
    const json_t *node = doc;
    uint64_t i = 0;
    while (i < len) {
        size_t tlen = 0;
        for (i++; i < len && path[i] != '/'; i++) {
            char c = path[i];
            if (c == '~') {
                c = path[i + 1] == '0' ? '~' : '/';
                i++;
            }
            tok[tlen++] = c;
        }
        if (json_is_object(node)) {
            node = json_object_getn(node, tok, tlen);
        } else if (json_is_array(node)) {
            size_t index;
            if (array_index(tok, tlen, json_array_size(node), &index) != 0)
                return RP_ERR_NOTFOUND;
            node = json_array_get(node, index);
        } else {
            node = NULL;
        }
        if (!node)
            return RP_ERR_NOTFOUND;
    }
    *out = node;
    return 0;
}

/*
 * The value at path in the config self's getters read: the candidate under
 * check on this thread, else the installed one. The tree is read after the
 * lock is dropped; see the file comment for why it stays alive.
 */
static int lookup(rp_plugin *self, const char *path, uint64_t len, const json_t **out)
{
    if (!self)
        return RP_ERR_INVAL;
    int rc = pointer_check(path, len);
    if (rc != 0)
        return rc;
    const json_t *doc;
    if (checking == self) {
        doc = checking_doc;
    } else {
        rp__os_mutex_lock(self->lock);
        doc = self->config_doc;
        rp__os_mutex_unlock(self->lock);
    }
    if (!doc)
        return RP_ERR_NOTFOUND; /* refused before its config was validated */
    return pointer_resolve(doc, path, len, out);
}

/* A mask of JSON types (1 << json_type) a getter takes. */
#define JSON_TYPES(t) (1u << (t))

/*
 * What every getter reads first: the value at path, which must be of one of
 * the JSON types in types (0: any), for a result that goes to dst
 * (RP_ERR_INVAL without one).
 */
static int getter_value(rp_plugin *self, const char *path, uint64_t len, const void *dst,
                        unsigned types, const json_t **v)
{
    if (!dst)
        return RP_ERR_INVAL;
    int rc = lookup(self, path, len, v);
    if (rc != 0)
        return rc;
    if (types && !(types & JSON_TYPES(json_typeof(*v))))
        return RP_ERR_TYPE;
    return 0;
}

int rp__host_config_bool(rp_plugin *self, const char *path, uint64_t path_len, int32_t *out)
{
    const json_t *v;
    int rc =
        getter_value(self, path, path_len, out, JSON_TYPES(JSON_TRUE) | JSON_TYPES(JSON_FALSE), &v);
    if (rc != 0)
        return rc;
    *out = json_is_true(v) ? 1 : 0;
    return 0;
}

int rp__host_config_i64(rp_plugin *self, const char *path, uint64_t path_len, int64_t *out)
{
    /* 2.0 is a number but no integer. The host's parser refuses integers
     * past int64 when it reads the config, so RP_ERR_RANGE cannot happen
     * with jansson's json_int_t (long long) and is checked for the day it
     * might. */
    const json_t *v;
    int rc = getter_value(self, path, path_len, out, JSON_TYPES(JSON_INTEGER), &v);
    if (rc != 0)
        return rc;
    json_int_t n = json_integer_value(v);
    if (n < INT64_MIN || n > INT64_MAX)
        return RP_ERR_RANGE;
    *out = (int64_t)n;
    return 0;
}

int rp__host_config_str(rp_plugin *self, const char *path, uint64_t path_len, const char **out,
                        uint64_t *len)
{
    const json_t *v;
    int rc = getter_value(self, path, path_len, out, JSON_TYPES(JSON_STRING), &v);
    if (rc != 0)
        return rc;
    /* jansson's strings end with a NUL; a value may hold "\u0000", so the
     * length is the caller's measure. */
    *out = json_string_value(v);
    if (len)
        *len = json_string_length(v);
    return 0;
}

/* The array at path when every item is a string, else RP_ERR_TYPE; for a
 * result that goes to dst. */
static int str_array(rp_plugin *self, const char *path, uint64_t path_len, const void *dst,
                     const json_t **out)
{
    const json_t *v;
    int rc = getter_value(self, path, path_len, dst, JSON_TYPES(JSON_ARRAY), &v);
    if (rc != 0)
        return rc;
    size_t i;
    const json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!json_is_string(item))
            return RP_ERR_TYPE;
    }
    if (json_array_size(v) > UINT32_MAX)
        return RP_ERR_RANGE;
    *out = v;
    return 0;
}

int rp__host_config_str_array_count(rp_plugin *self, const char *path, uint64_t path_len,
                                    uint32_t *count)
{
    const json_t *v;
    int rc = str_array(self, path, path_len, count, &v);
    if (rc != 0)
        return rc;
    *count = (uint32_t)json_array_size(v);
    return 0;
}

int rp__host_config_str_array_item(rp_plugin *self, const char *path, uint64_t path_len,
                                   uint32_t index, const char **out, uint64_t *len)
{
    const json_t *v;
    int rc = str_array(self, path, path_len, out, &v);
    if (rc != 0)
        return rc;
    if (index >= json_array_size(v))
        return RP_ERR_RANGE; /* as get_str_array_item past the count */
    const json_t *item = json_array_get(v, index);
    *out = json_string_value(item);
    if (len)
        *len = json_string_length(item);
    return 0;
}

int rp__host_config_json(rp_plugin *self, const char *path, uint64_t path_len, const char **json,
                         uint64_t *len)
{
    const json_t *v;
    int rc = getter_value(self, path, path_len, json, 0, &v);
    if (rc != 0)
        return rc;
    /* A candidate under check keeps its texts apart, freed when the check
     * ends (rp__host_plugin_check_config). */
    rp__os_mutex_lock(self->lock);
    struct rp__config_text **list =
        checking == self ? &self->config_check_texts : &self->config_texts;
    struct rp__config_text *t = *list;
    while (t && t->node != v)
        t = t->next;
    if (!t) {
        t = calloc(1, sizeof *t);
        char *text = t ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        if (!text) {
            rp__os_mutex_unlock(self->lock);
            free(t);
            return RP_ERR_NOMEM;
        }
        t->node = v;
        t->text = text;
        t->len = strlen(text);
        t->next = *list;
        *list = t;
    }
    rp__os_mutex_unlock(self->lock);
    *json = t->text;
    if (len)
        *len = t->len;
    return 0;
}

int rp__host_config_checking_text(const char **json, uint64_t *len)
{
    *json = checking_text;
    if (len)
        *len = strlen(checking_text);
    return 0;
}

/* ---- check_config ---------------------------------------------------------- */

int rp__host_plugin_check_config(struct rp_plugin *p, const json_t *candidate, char *why,
                                 size_t whylen)
{
    if (why && whylen)
        why[0] = '\0';
    if (!p->desc.check_config)
        return 0;
    if (!json_is_object(candidate))
        return RP_ERR_INVAL;
    char *text = json_dumps(candidate, JSON_COMPACT);
    if (!text)
        return RP_ERR_NOMEM;
    rp__os_mutex_lock(p->lock);
    p->last_msg[0] = '\0';
    rp__os_mutex_unlock(p->lock);
    checking = p;
    checking_doc = candidate;
    checking_text = text;
    uint64_t cr = rp__host_enter(p, RP__CR_CHECK_CONFIG);
    int rc = p->desc.check_config(p, rp__host_api());
    rp__host_leave(cr);
    checking = NULL;
    checking_doc = NULL;
    checking_text = NULL;
    rp__os_mutex_lock(p->lock);
    struct rp__config_text *texts = p->config_check_texts;
    p->config_check_texts = NULL;
    if (rc != 0 && why && whylen)
        snprintf(why, whylen, "check_config refused the config%s%s%s%s%.400s",
                 rc == RP_ERR_CONFIG ? "" : " (", rc == RP_ERR_CONFIG ? "" : rp_errname(rc),
                 rc == RP_ERR_CONFIG ? "" : ")", p->last_msg[0] ? ": " : "", p->last_msg);
    rp__os_mutex_unlock(p->lock);
    texts_free(texts);
    free(text);
    if (rc == 0)
        return 0;
    /* Whatever the plugin answered, the config is what it refuses. */
    return RP_ERR_CONFIG;
}

/* ---- capabilities ---------------------------------------------------------- */

/* Linux capability names by number (linux/capability.h, as of 6.x). */
static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int rp__host_plugin_caps(const struct rp_plugin *p, uint64_t *caps)
{
    /* The member exists only in descriptors built against 1.1 or later; the
     * flag without it (a 1.0 plugin setting a bit 1.0 did not define) says
     * nothing. */
    uint64_t end = (uint64_t)offsetof(rp_plugin_descriptor, capabilities) + sizeof(uint64_t);
    if (!(p->desc.flags & RP_PLUGIN_CAPS_DECLARED) || p->desc.struct_size < end)
        return RP_ERR_NOTFOUND;
    *caps = p->desc.capabilities;
    return 0;
}

void rp__host_caps_format(uint64_t caps, char *buf, size_t len)
{
    size_t pos = 0;
    if (!len)
        return;
    buf[0] = '\0';
    json_t *names = rp__host_caps_json(1, caps);
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n)
    {
        int w = snprintf(buf + pos, len - pos, "%s%s", i ? ", " : "", json_string_value(n));
        if (w < 0 || (size_t)w >= len - pos) {
            buf[pos] = '\0'; /* whole names only */
            break;
        }
        pos += (size_t)w;
    }
    json_decref(names);
    if (!caps)
        snprintf(buf, len, "none");
}

const char *rp__host_plugin_schema(const rp__host *host, size_t index)
{
    if (index >= host->nplugins || !host->plugins[index]->dl)
        return NULL;
    return host->plugins[index]->desc.config_schema;
}

void rp__host_caps_limit(rp__host *host, uint64_t kept)
{
    host->caps_limited = 1;
    host->caps_kept = kept;
}

json_t *rp__host_caps_json(int declared, uint64_t caps)
{
    if (!declared)
        return json_string("undeclared");
    json_t *list = json_array();
    for (unsigned bit = 0; list && bit < 64; bit++) {
        if (!(caps & ((uint64_t)1 << bit)))
            continue;
        char other[16];
        const char *name = cap_names[0];
        if (bit < sizeof cap_names / sizeof cap_names[0]) {
            name = cap_names[bit];
        } else {
            /* A capability newer than this table: by number, still shown. */
            snprintf(other, sizeof other, "CAP_%u", bit);
            name = other;
        }
        json_array_append_new(list, json_string(name));
    }
    return list;
}
