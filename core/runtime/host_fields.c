/*
 * core/runtime/host_fields.c - the field registry's host calls (ABI 1.1):
 * lookups by name and id, the fields an event holds, what collectors declare
 * they fill (descriptor provides), and custom field namespaces (descriptor
 * field_namespace) with the owner of every custom field.
 *
 * Rules (sdk/docs/plugin-guide.md, "Fields: registry, provides, namespace"):
 * - A plugin with a field namespace creates custom fields only under
 *   "<namespace>."; fields that exist already (ECS, the host's, or another
 *   plugin's) it may still ask for by name and type.
 * - No plugin, of any ABI minor, creates a field inside another plugin's
 *   namespace, or asks for a field with another type than its owner gave it;
 *   both are refused with a log line naming both plugins.
 * - A plugin without a namespace keeps the 1.0 rule: custom fields anywhere
 *   outside the ECS field sets.
 */
#include "lib/log.h"
#include "runtime/event.h"
#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/host_private.h"
#include "runtime/topic.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A namespace is one segment of [a-z0-9_], at most this long. */
#define NS_MAX 64u

/* The host's copy of one provides entry; "*" as type stands for any type. */
struct provides_type {
    char *type;
    uint32_t nfields;
    char **fields;
};

struct rp__provides {
    uint32_t ntypes;
    struct provides_type types[];
};

/* Namespaces no plugin may claim: the host's own ("rampart.*" holds the
 * agent's fields that are not ECS), and ECS names the registry does not list
 * as field sets but ECS reserves. */
static const char *const reserved_ns[] = {"rampart", "labels",      "span",
                                          "trace",   "transaction", NULL};

static void say(char *why, size_t whylen, const char *fmt, ...) RP__PRINTF(3, 4);

static void say(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
}

/* 1 when name is ns itself or lies under "ns.". */
static int in_ns(const char *ns, const char *name, size_t len)
{
    size_t nl = strlen(ns);
    return len >= nl && memcmp(name, ns, nl) == 0 && (len == nl || name[nl] == '.');
}

/* Whether o is p or another copy of the same plugin instance (same name in
 * the config, same descriptor id), as a reload may load next to the old one:
 * a copy keeps its own namespace. */
static int same_instance(const struct rp_plugin *o, const struct rp_plugin *p)
{
    return o == p || (p && strcmp(o->name, p->name) == 0 && o->desc.id && p->desc.id &&
                      strcmp(o->desc.id, p->desc.id) == 0);
}

/* The plugin of host, other than self, whose namespace holds name; NULL when
 * none. Namespaces are set at load and never change while the host lives. */
static struct rp_plugin *ns_holder(rp__host *host, const struct rp_plugin *self, const char *name,
                                   size_t len)
{
    for (size_t i = 0; host && i < host->nplugins; i++) {
        struct rp_plugin *o = host->plugins[i];
        if (!same_instance(o, self) && o->field_ns && in_ns(o->field_ns, name, len))
            return o;
    }
    return NULL;
}

/* Checks a namespace's form: NULL reason when valid. */
static const char *ns_problem(const char *ns)
{
    size_t len = strnlen(ns, NS_MAX + 1);
    if (len == 0)
        return "is empty";
    if (len > NS_MAX)
        return "is longer than 64 bytes";
    for (size_t i = 0; i < len; i++) {
        char c = ns[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return "must be one segment of [a-z0-9_] (no dots)";
    }
    if (rp__field_under_ecs(ns, len))
        return "is an ECS field set";
    for (int i = 0; reserved_ns[i]; i++)
        if (strcmp(ns, reserved_ns[i]) == 0)
            return "is reserved for the agent";
    return NULL;
}

static int is_implied(rp_field_id id)
{
    /* The host stamps these on every event (event.truncated when it cuts a
     * value): a collector fills them by publishing at all. */
    return id == RP__F_TIMESTAMP || id == RP__F_EVENT_ID || id == RP__F_EVENT_KIND ||
           id == rp__event_truncated_field();
}

/* Whether self, with namespace ns (or none), may not create the custom
 * field name: NS_OUTSIDE when it lies outside ns, NS_OTHERS when it lies in
 * another plugin's namespace, with where it lies in where ("lies ..."); 0
 * when it may. The one rule for provides and for field_id. */
enum { NS_OUTSIDE = 1, NS_OTHERS };
static int ns_refuses(rp__host *host, const struct rp_plugin *self, const char *ns,
                      const char *name, size_t len, char *where, size_t wherelen)
{
    if (ns && !in_ns(ns, name, len)) {
        say(where, wherelen, "lies outside the plugin's field namespace \"%s\"", ns);
        return NS_OUTSIDE;
    }
    struct rp_plugin *o = ns_holder(host, self, name, len);
    if (o) {
        say(where, wherelen, "lies in field namespace \"%s\" of plugin %s (%s)", o->field_ns,
            o->name, o->desc.id);
        return NS_OTHERS;
    }
    return 0;
}

/* Checks one field name of a provides entry for the plugin (self may be NULL:
 * no namespace and no other plugins). */
static int check_field(rp__host *host, const struct rp_plugin *self, const char *ns,
                       const char *type, const char *name, char *why, size_t whylen)
{
    size_t len = strnlen(name, RP_MAX_FIELD_NAME + 1);
    if (!rp__field_name_valid(name, len)) {
        say(why, whylen,
            "provides[\"%s\"]: \"%.128s\" is not a field name ([a-z0-9_] segments "
            "joined by single dots, at most 128 bytes)",
            type, name);
        return RP_ERR_INVAL;
    }
    if (rp__field_lookup(name, len) != 0)
        return 0; /* known: ECS, the host's, or registered already */
    if (rp__field_under_ecs(name, len)) {
        say(why, whylen,
            "provides[\"%s\"]: \"%s\" is not a field the agent knows in that ECS "
            "field set",
            type, name);
        return RP_ERR_INVAL;
    }
    char where[ERR_LEN];
    if (ns_refuses(host, self, ns, name, len, where, sizeof where) != 0) {
        say(why, whylen, "provides[\"%s\"]: custom field \"%s\" %s", type, name, where);
        return RP_ERR_INVAL;
    }
    return 0;
}

/* Validates d's field_namespace and provides; with out, keeps a copy. */
static int check_provides(rp__host *host, const struct rp_plugin *self,
                          const rp_plugin_descriptor *d, struct rp__provides **out, char *why,
                          size_t whylen)
{
    const rp_event_fields *pv = d->provides;
    const char *ns = d->field_namespace;
    if (out)
        *out = NULL;
    if (!pv)
        return 0;
    uint32_t ntypes = 0;
    while (pv[ntypes].event_type) {
        if (++ntypes > RP__PROVIDES_MAX_TYPES) {
            say(why, whylen, "provides lists more than %u event types", RP__PROVIDES_MAX_TYPES);
            return RP_ERR_INVAL;
        }
    }
    for (uint32_t t = 0; t < ntypes; t++) {
        const char *type = pv[t].event_type;
        size_t tlen = strnlen(type, RP_MAX_EVENT_TYPE + 1);
        if (!(tlen == 1 && type[0] == '*') &&
            (tlen > RP_MAX_EVENT_TYPE || !rp__topic_valid(type, tlen))) {
            say(why, whylen,
                "provides[%u]: \"%.64s\" is not an event type (\"*\" or [a-z0-9_] "
                "segments joined by single dots, at most 64 bytes)",
                t, type);
            return RP_ERR_INVAL;
        }
        for (uint32_t u = 0; u < t; u++) {
            if (strcmp(pv[u].event_type, type) == 0) {
                say(why, whylen, "provides lists event type \"%s\" twice", type);
                return RP_ERR_INVAL;
            }
        }
        if (!pv[t].fields) {
            say(why, whylen, "provides[\"%s\"]: fields is NULL; expected a NULL-terminated list",
                type);
            return RP_ERR_INVAL;
        }
        for (uint32_t f = 0; pv[t].fields[f]; f++) {
            if (f >= RP__PROVIDES_MAX_FIELDS) {
                say(why, whylen, "provides[\"%s\"] lists more than %u fields", type,
                    RP__PROVIDES_MAX_FIELDS);
                return RP_ERR_INVAL;
            }
            int rc = check_field(host, self, ns, type, pv[t].fields[f], why, whylen);
            if (rc != 0)
                return rc;
            for (uint32_t g = 0; g < f; g++) {
                if (strcmp(pv[t].fields[g], pv[t].fields[f]) == 0) {
                    say(why, whylen, "provides[\"%s\"] lists \"%s\" twice", type, pv[t].fields[f]);
                    return RP_ERR_INVAL;
                }
            }
        }
    }
    if (!out)
        return 0;
    struct rp__provides *c = calloc(1, sizeof *c + ntypes * sizeof c->types[0]);
    if (!c)
        return RP_ERR_NOMEM;
    c->ntypes = ntypes;
    int rc = 0;
    for (uint32_t t = 0; t < ntypes && rc == 0; t++) {
        struct provides_type *pt = &c->types[t];
        uint32_t n = 0;
        while (pv[t].fields[n])
            n++;
        pt->type = strdup(pv[t].event_type);
        pt->fields = calloc(n ? n : 1, sizeof *pt->fields);
        if (!pt->type || !pt->fields) {
            rc = RP_ERR_NOMEM;
            break;
        }
        for (uint32_t f = 0; f < n; f++) {
            if (!(pt->fields[f] = strdup(pv[t].fields[f]))) {
                rc = RP_ERR_NOMEM;
                break;
            }
            pt->nfields = f + 1;
        }
    }
    if (rc != 0) {
        struct rp_plugin tmp = {.provides = c};
        rp__hf_free(&tmp);
        say(why, whylen, "out of memory");
        return rc;
    }
    *out = c;
    return 0;
}

int rp__host_check_fields(const rp_plugin_descriptor *d, char *why, size_t whylen)
{
    if (!d || !why || whylen == 0)
        return RP_ERR_INVAL;
    why[0] = '\0';
    const char *problem = d->field_namespace ? ns_problem(d->field_namespace) : NULL;
    if (problem) {
        say(why, whylen, "field_namespace \"%.64s\" %s", d->field_namespace, problem);
        return RP_ERR_INVAL;
    }
    return check_provides(NULL, NULL, d, NULL, why, whylen);
}

int rp__hf_load(rp__host *host, struct rp_plugin *p, char *why, size_t whylen)
{
    const rp_plugin_descriptor *d = &p->desc;
    snprintf(p->field_owner, sizeof p->field_owner, "%s (%s)", p->name, d->id);
    if (d->field_namespace) {
        const char *problem = ns_problem(d->field_namespace);
        if (problem) {
            say(why, whylen, "field_namespace \"%.64s\" %s", d->field_namespace, problem);
            return RP_ERR_INVAL;
        }
        for (size_t i = 0; i < host->nplugins; i++) {
            struct rp_plugin *o = host->plugins[i];
            if (!same_instance(o, p) && o->field_ns &&
                strcmp(o->field_ns, d->field_namespace) == 0) {
                say(why, whylen,
                    "field_namespace \"%s\" is claimed already by plugin %s (%s) "
                    "from %s",
                    d->field_namespace, o->name, o->desc.id, o->path);
                return RP_ERR_EXISTS;
            }
        }
    }
    struct rp__provides *c = NULL;
    int rc = check_provides(host, p, d, &c, why, whylen);
    if (rc != 0)
        return rc;
    if (d->field_namespace && !(p->field_ns = strdup(d->field_namespace))) {
        struct rp_plugin tmp = {.provides = c};
        rp__hf_free(&tmp);
        say(why, whylen, "out of memory");
        return RP_ERR_NOMEM;
    }
    p->provides = c;
    const char *check = getenv("RAMPART_CHECK_PROVIDES");
    p->check_provides = c && check && strcmp(check, "1") == 0;
    return 0;
}

void rp__hf_set_live(struct rp_plugin *p, int live)
{
    atomic_store(&p->provides_live, live);
}

void rp__hf_free(struct rp_plugin *p)
{
    struct rp__provides *c = p->provides;
    for (uint32_t t = 0; c && t < c->ntypes; t++) {
        for (uint32_t f = 0; f < c->types[t].nfields; f++)
            free(c->types[t].fields[f]);
        free(c->types[t].fields);
        free(c->types[t].type);
    }
    free(c);
    p->provides = NULL;
    free(p->field_ns);
    p->field_ns = NULL;
}

/* ---- host API --------------------------------------------------------------- */

static void refuse_field(struct rp_plugin *self, int rc, const char *fmt, ...) RP__PRINTF(3, 4);

/* Logs a refused registration and leaves it as the plugin's error message. */
static void refuse_field(struct rp_plugin *self, int rc, const char *fmt, ...)
{
    char msg[ERR_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rp__log_warn("plugin %s: %s (%s)", self->name, msg, rp_errname(rc));
    rp__host_api()->set_error(self, msg, strlen(msg));
}

int rp__hf_field_id(rp_plugin *self, const char *name, uint64_t len, uint32_t type,
                    rp_field_id *out)
{
    if (rp__host_checking(self))
        return RP_ERR_BUSY; /* inside check_config */
    if (!name || !out)
        return RP_ERR_INVAL;
    if (!self)
        return rp__field_intern(name, (size_t)len, type, out);
    int shown = (int)(len > RP_MAX_FIELD_NAME ? RP_MAX_FIELD_NAME : len);
    /* The namespace rules concern new names only: an existing field is asked
     * for by name and type whoever owns it. Fields are never removed, so a
     * name found here stays found for the intern below. */
    if (len <= RP_MAX_FIELD_NAME && rp__field_lookup(name, (size_t)len) == 0 &&
        rp__field_name_valid(name, (size_t)len) && !rp__field_under_ecs(name, (size_t)len)) {
        char where[ERR_LEN];
        int why =
            ns_refuses(self->host, self, self->field_ns, name, (size_t)len, where, sizeof where);
        if (why != 0) {
            int hint = why == NS_OUTSIDE;
            refuse_field(self, RP_ERR_PERM, "custom field \"%.*s\" refused: it %s%s%s%s", shown,
                         name, where, hint ? " (name it \"" : "", hint ? self->field_ns : "",
                         hint ? ".<name>\")" : "");
            return RP_ERR_PERM;
        }
    }
    const char *owner = self->field_owner[0] ? self->field_owner : self->name;
    const char *other = NULL;
    int rc = rp__field_intern_owned(name, (size_t)len, type, owner, out, &other);
    if (rc == RP_ERR_TYPE) {
        uint32_t known = rp__field_type(rp__field_lookup(name, (size_t)len));
        refuse_field(self, rc, "field \"%.*s\" as %s refused: %s registered it as %s", shown, name,
                     rp__type_name(type), other ? other : "another plugin", rp__type_name(known));
    } else if (rc != 0) {
        rp__log_debug("plugin %s: field \"%.*s\" as %s: %s", self->name, shown, name,
                      rp__type_name(type), rp_strerror(rc));
    }
    return rc;
}

int rp__hf_field_lookup(rp_plugin *self, const char *name, uint64_t len, rp_field_id *id,
                        uint32_t *type)
{
    if (!self || !name || !id || len == 0 || len > RP_MAX_FIELD_NAME)
        return RP_ERR_INVAL;
    rp_field_id f = rp__field_lookup(name, (size_t)len);
    if (f == 0)
        return RP_ERR_NOTFOUND;
    *id = f;
    if (type)
        *type = rp__field_type(f);
    return 0;
}

int rp__hf_field_info(rp_plugin *self, rp_field_id id, const char **name, uint64_t *len,
                      uint32_t *type)
{
    if (!self)
        return RP_ERR_INVAL;
    size_t n;
    const char *s = rp__field_name(id, &n);
    if (!s)
        return RP_ERR_NOTFOUND;
    if (name)
        *name = s;
    if (len)
        *len = n;
    if (type)
        *type = rp__field_type(id);
    return 0;
}

int rp__hf_field_count(rp_plugin *self, uint32_t *count)
{
    if (!self || !count)
        return RP_ERR_INVAL;
    *count = rp__field_count();
    return 0;
}

static int is_star(const struct provides_type *pt)
{
    return strcmp(pt->type, "*") == 0;
}

static int is_type(const struct provides_type *pt, const char *type, size_t tlen)
{
    return strlen(pt->type) == tlen && memcmp(pt->type, type, tlen) == 0;
}

/* Whether c's "*" entry, if any, covers type. "*" holds what every type the
 * collector publishes carries: when c also names types, those are the types
 * it publishes (it declares per-type fields for each), so "*" covers them
 * only; when "*" is all it lists, it covers any type. */
static int star_covers(const struct rp__provides *c, const char *type, size_t tlen)
{
    int named = 0;
    for (uint32_t t = 0; t < c->ntypes; t++) {
        if (is_star(&c->types[t]))
            continue;
        if (is_type(&c->types[t], type, tlen))
            return 1;
        named = 1;
    }
    return !named;
}

/* Whether c declares field name (or, implied, any field) for type. */
static int declares(const struct rp__provides *c, const char *type, size_t tlen, int any_type,
                    const char *name, int implied)
{
    int star = any_type || star_covers(c, type, tlen);
    for (uint32_t t = 0; t < c->ntypes; t++) {
        const struct provides_type *pt = &c->types[t];
        if (!any_type && !(is_star(pt) ? star : is_type(pt, type, tlen)))
            continue;
        if (implied)
            return 1;
        for (uint32_t f = 0; f < pt->nfields; f++)
            if (strcmp(pt->fields[f], name) == 0)
                return 1;
    }
    return 0;
}

int rp__hf_field_provided(rp_plugin *self, const char *event_type, uint64_t type_len,
                          rp_field_id field, uint32_t *collectors)
{
    if (!self || !event_type || !collectors || type_len == 0 || type_len > RP_MAX_EVENT_TYPE)
        return RP_ERR_INVAL;
    int any_type = type_len == 1 && event_type[0] == '*';
    if (!any_type && !rp__topic_valid(event_type, (size_t)type_len))
        return RP_ERR_INVAL;
    const char *name = rp__field_name(field, NULL);
    if (!name)
        return RP_ERR_NOTFOUND;
    int implied = is_implied(field);
    uint32_t n = 0;
    rp__host *host = self->host;
    for (size_t i = 0; host && i < host->nplugins; i++) {
        struct rp_plugin *o = host->plugins[i];
        if (o->provides && atomic_load(&o->provides_live) &&
            declares(o->provides, event_type, (size_t)type_len, any_type, name, implied))
            n++;
    }
    *collectors = n;
    return 0;
}

void rp__hf_check_published(struct rp_plugin *p, const rp_event *ev)
{
    const char *type = rp__topic_name(rp__event_topic(ev));
    if (!type)
        return;
    size_t tlen = strlen(type);
    uint32_t n = rp__event_field_count(ev);
    for (uint32_t i = 0; i < n; i++) {
        rp_field_id id;
        if (rp__event_field_id_at(ev, i, &id, NULL) != 0 || is_implied(id))
            continue;
        const char *name = rp__field_name(id, NULL);
        if (name && declares(p->provides, type, tlen, 0, name, 0))
            continue;
        rp__log_error("plugin %s (%s) published a %s event with field %s, which its descriptor's "
                      "provides does not declare for that event type (RAMPART_CHECK_PROVIDES=1: "
                      "aborting)",
                      p->name, p->desc.id, type, name ? name : "?");
        abort();
    }
}

int rp__hf_event_field_count(const rp_event *ev, uint32_t *count)
{
    if (!ev || !count)
        return RP_ERR_INVAL;
    *count = rp__event_field_count(ev);
    return 0;
}

int rp__hf_event_field_at(const rp_event *ev, uint32_t index, rp_field_id *id, uint32_t *type)
{
    if (!ev || !id)
        return RP_ERR_INVAL;
    return rp__event_field_id_at(ev, index, id, type);
}
