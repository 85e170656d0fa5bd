/*
 * tests/plugins/alert_inject/alert_inject.c - a test-only detector (never
 * installed) whose command `inject` publishes one alert made by
 * host->alert_create from a JSON description, so that end-to-end tests and
 * benchmarks can raise an alert that names exactly the file or process they
 * prepared. The agent's policy applies to it as to any alert.
 *
 *   rampartctl plugin NAME inject '{"rule_id": "t.swap", "rule_name": "Swap",
 *       "ruleset": "test", "severity": 73, "reason": "why",
 *       "tags": ["a.b"], "fields": {"file.path": "/tmp/x",
 *       "file.inode": "1234", "file.size": {"u64": 5}}}'
 *
 * rule_id, ruleset and reason are required; rule_name defaults to rule_id,
 * severity to 73. Each member of "fields" is set on a source event whose
 * subject alert_create copies (file.*, process.*, user.*...): a plain JSON
 * value takes the field's registered type (a string for a string field, an
 * integer for i64/u64/timestamp, true/false for bool, an array of strings for
 * a string array, an address for ip; for a field no plugin registered yet,
 * the type its JSON suggests, else the first the host accepts for a
 * standard field: i64, timestamp or u64 for an integer, ip for a string),
 * and an object {"TYPE": value} names the type itself (str, i64, u64, bool,
 * timestamp, ip, strs). Custom fields must lie in the namespace
 * "alert_inject". The reply is
 * {"event_id": the alert's event.id, "mode": its rampart.policy.mode,
 * "actions": [...]}; a bad description is refused naming the member.
 */
#define _GNU_SOURCE
#include <rampart/plugin.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS_MAX 128u
#define TAGS_MAX   32u

struct ai {
    rp_plugin *self;
    const rp_host_api *host;
};

static int refuse(struct ai *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct ai *p, int rc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->host->set_error(p->self, msg,
                       n < 0                    ? 0
                       : (size_t)n < sizeof msg ? (size_t)n
                                                : sizeof msg - 1);
    return rc;
}

static const struct {
    const char *name;
    uint32_t type;
} type_names[] = {{"str", RP_TYPE_STR},
                  {"i64", RP_TYPE_I64},
                  {"u64", RP_TYPE_U64},
                  {"bool", RP_TYPE_BOOL},
                  {"timestamp", RP_TYPE_TIMESTAMP},
                  {"ip", RP_TYPE_IP},
                  {"strs", RP_TYPE_STR_ARRAY}};

/* The type a plain JSON value means for a field no one registered. */
static uint32_t type_of_json(const json_t *v)
{
    return json_is_string(v)    ? RP_TYPE_STR
           : json_is_integer(v) ? (json_integer_value(v) < 0 ? RP_TYPE_I64 : RP_TYPE_U64)
           : json_is_boolean(v) ? RP_TYPE_BOOL
           : json_is_array(v)   ? RP_TYPE_STR_ARRAY
                                : 0;
}

/* Sets field name (type type) on ev from v; a message in err when v does
 * not fit the type. */
static int set_value(struct ai *p, rp_event *ev, rp_field_id id, uint32_t type, const json_t *v,
                     const char *name)
{
    const rp_host_api *h = p->host;
    switch (type) {
    case RP_TYPE_STR:
        if (!json_is_string(v))
            break;
        return h->set_str(ev, id, json_string_value(v), json_string_length(v));
    case RP_TYPE_I64:
        if (!json_is_integer(v))
            break;
        return h->set_i64(ev, id, (int64_t)json_integer_value(v));
    case RP_TYPE_U64:
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            break;
        return h->set_u64(ev, id, (uint64_t)json_integer_value(v));
    case RP_TYPE_TIMESTAMP:
        if (!json_is_integer(v))
            break;
        return h->set_timestamp(ev, id, (int64_t)json_integer_value(v));
    case RP_TYPE_BOOL:
        if (!json_is_boolean(v))
            break;
        return h->set_bool(ev, id, json_is_true(v));
    case RP_TYPE_IP: {
        rp_ip ip;
        memset(&ip, 0, sizeof ip);
        const char *s = json_string_value(v);
        if (s && inet_pton(AF_INET, s, ip.addr) == 1)
            ip.family = 4;
        else if (s && inet_pton(AF_INET6, s, ip.addr) == 1)
            ip.family = 6;
        else
            break;
        return h->set_ip(ev, id, &ip);
    }
    case RP_TYPE_STR_ARRAY: {
        rp_str items[64];
        size_t n = json_array_size(v);
        if (!json_is_array(v) || n > 64)
            break;
        for (size_t i = 0; i < n; i++) {
            const json_t *it = json_array_get(v, i);
            if (!json_is_string(it))
                return refuse(p, RP_ERR_TYPE, "fields.%s[%zu]: expected a string", name, i);
            items[i].ptr = json_string_value(it);
            items[i].len = json_string_length(it);
        }
        return h->set_str_array(ev, id, items, (uint32_t)n);
    }
    default:
        return refuse(p, RP_ERR_TYPE, "fields.%s: its type (%u) cannot be set from JSON", name,
                      type);
    }
    return refuse(p, RP_ERR_TYPE, "fields.%s: the value does not fit the field's type (%u)", name,
                  type);
}

static int set_field(struct ai *p, rp_event *ev, const char *name, const json_t *v)
{
    const rp_host_api *h = p->host;
    uint32_t type = 0, known = 0;
    rp_field_id id = 0;
    int typed = json_is_object(v);
    if (h->field_lookup(p->self, name, strlen(name), &id, &known) != 0)
        known = 0;
    if (json_is_object(v)) {
        const char *k;
        json_t *inner;
        if (json_object_size(v) != 1)
            return refuse(p, RP_ERR_INVAL, "fields.%s: a typed value is one {\"TYPE\": value}",
                          name);
        json_object_foreach((json_t *)v, k, inner)
        {
            for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
                if (strcmp(k, type_names[i].name) == 0)
                    type = type_names[i].type;
            v = inner;
        }
        if (!type)
            return refuse(p, RP_ERR_INVAL,
                          "fields.%s: unknown type; expected str, i64, u64, bool, timestamp, ip "
                          "or strs",
                          name);
    } else {
        type = known ? known : type_of_json(v);
        if (!type)
            return refuse(p, RP_ERR_INVAL,
                          "fields.%s: expected a string, integer, boolean, "
                          "array of strings or {\"TYPE\": value}",
                          name);
    }
    int rc = h->field_id(p->self, name, strlen(name), type, &id);
    /* A standard field no plugin registered yet has a fixed type the
     * registry does not show: a plain value tries the other types it can
     * stand for (an integer for i64, u64 or a timestamp; a string for an
     * address). */
    static const uint32_t ints[] = {RP_TYPE_I64, RP_TYPE_TIMESTAMP, RP_TYPE_U64};
    for (size_t i = 0; rc == RP_ERR_TYPE && !known && !typed && json_is_integer(v) &&
                       i < sizeof ints / sizeof ints[0];
         i++)
        if ((rc = h->field_id(p->self, name, strlen(name), ints[i], &id)) == 0)
            type = ints[i];
    if (rc == RP_ERR_TYPE && !known && !typed && json_is_string(v) &&
        (rc = h->field_id(p->self, name, strlen(name), RP_TYPE_IP, &id)) == 0)
        type = RP_TYPE_IP;
    if (rc != 0)
        return refuse(p, rc, "fields.%s: the host refused the field as type %u (%s)", name, type,
                      rp_errname(rc));
    return set_value(p, ev, id, type, v, name);
}

static const char *str_member(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

static int cmd_inject(struct ai *p, rp_command *cmd, const json_t *args)
{
    const rp_host_api *h = p->host;
    const char *text = json_string_value(json_array_get(args, 0));
    if (json_array_size(args) != 1 || !text)
        return refuse(p, RP_ERR_INVAL, "usage: inject JSON (one argument)");
    json_error_t je;
    json_t *d = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(d)) {
        json_decref(d);
        return refuse(p, RP_ERR_PARSE, "inject: not a JSON object (%s at column %d)", je.text,
                      je.column);
    }
    const char *tags[TAGS_MAX + 1];
    json_t *jt = json_object_get(d, "tags"), *fields = json_object_get(d, "fields");
    json_t *sev = json_object_get(d, "severity");
    size_t nt = json_array_size(jt);
    int rc = 0;
    if ((jt && !json_is_array(jt)) || nt > TAGS_MAX)
        rc = refuse(p, RP_ERR_INVAL, "tags: expected an array of at most %u strings", TAGS_MAX);
    for (size_t i = 0; rc == 0 && i < nt; i++)
        if (!(tags[i] = json_string_value(json_array_get(jt, i))))
            rc = refuse(p, RP_ERR_INVAL, "tags[%zu]: expected a string", i);
    tags[nt] = NULL;
    if (rc == 0 && fields && (!json_is_object(fields) || json_object_size(fields) > FIELDS_MAX))
        rc = refuse(p, RP_ERR_INVAL, "fields: expected an object of at most %u fields", FIELDS_MAX);
    if (rc == 0 && sev && (!json_is_integer(sev) || json_integer_value(sev) < 0))
        rc = refuse(p, RP_ERR_INVAL, "severity: expected an integer from 0 to 100");
    const char *rule_id = str_member(d, "rule_id", NULL);
    rp_alert a = {
        .struct_size = sizeof a,
        .severity = sev ? (uint32_t)json_integer_value(sev) : RP_SEVERITY_HIGH,
        .rule_id = rule_id,
        .rule_name = str_member(d, "rule_name", rule_id),
        .ruleset = str_member(d, "ruleset", NULL),
        .reason = str_member(d, "reason", NULL),
        .tags = nt ? tags : NULL,
    };
    if (rc == 0 && (!a.rule_id || !a.ruleset || !a.reason))
        rc = refuse(p, RP_ERR_INVAL, "rule_id, ruleset and reason are required strings");
    rp_event *src = NULL, *alert = NULL;
    if (rc == 0 && (rc = h->event_create(p->self, "test.inject", 11, &src)) != 0)
        refuse(p, rc, "cannot create the source event");
    const char *k;
    json_t *v;
    if (rc == 0 && fields)
        json_object_foreach(fields, k, v)
        {
            if ((rc = set_field(p, src, k, v)) != 0)
                break;
        }
    const rp_event *srcs[1] = {src};
    if (rc == 0 && (rc = h->alert_create(p->self, &a, srcs, 1, &alert)) != 0)
        refuse(p, rc,
               "alert_create refused the alert (%s): check rule_id, ruleset, reason, "
               "severity and tags against sdk/docs/alerts.md",
               rp_errname(rc));
    if (src)
        h->event_release(src);
    json_t *out = NULL;
    if (rc == 0) {
        rp_field_id fid, fmode, facts;
        uint32_t t;
        const char *id = "", *mode = "";
        uint64_t n;
        out = json_object();
        if (h->field_lookup(p->self, "event.id", 8, &fid, &t) == 0)
            h->get_str(alert, fid, &id, &n);
        if (h->field_lookup(p->self, "rampart.policy.mode", 19, &fmode, &t) == 0)
            h->get_str(alert, fmode, &mode, &n);
        json_t *acts = json_array();
        uint32_t na = 0;
        if (h->field_lookup(p->self, "rampart.policy.actions", 22, &facts, &t) == 0 &&
            h->get_str_array_count(alert, facts, &na) == 0)
            for (uint32_t i = 0; i < na; i++) {
                const char *s;
                if (h->get_str_array_item(alert, facts, i, &s, &n) == 0)
                    json_array_append_new(acts, json_stringn(s, (size_t)n));
            }
        json_object_set_new(out, "event_id", json_string(id));
        json_object_set_new(out, "mode", json_string(mode));
        json_object_set_new(out, "actions", acts);
        if ((rc = h->event_publish(p->self, alert)) != 0)
            refuse(p, rc, "the alert could not be published (%s)", rp_errname(rc));
    }
    json_decref(d);
    if (rc != 0) {
        json_decref(out);
        return rc;
    }
    char *reply = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    if (!reply)
        return RP_ERR_NOMEM;
    rc = h->command_reply(cmd, reply, strlen(reply), 0);
    free(reply);
    return rc;
}

static int ai_on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                         uint64_t len)
{
    struct ai *p = state;
    (void)self;
    json_t *req = json_loadb(request, (size_t)len, 0, NULL);
    const char *name = json_string_value(json_object_get(req, "command"));
    int rc = name && strcmp(name, "inject") == 0
                 ? cmd_inject(p, cmd, json_object_get(req, "args"))
                 : refuse(p, RP_ERR_NOTFOUND, "unknown command; try: inject JSON");
    json_decref(req);
    return rc;
}

static int ai_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    struct ai *p = calloc(1, sizeof *p);
    if (!p)
        return RP_ERR_NOMEM;
    p->self = self;
    p->host = host;
    *state = p;
    return 0;
}

static int ai_start(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static int ai_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void ai_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1, /* alert_create, field registry, commands */
    .kind = RP_KIND_DETECTOR,
    .flags = RP_PLUGIN_CAPS_DECLARED,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.alert_inject",
    .version = "1.0.0",
    .vendor = "Rampart",
    .license = "Apache-2.0",
    .description = "Test only: publishes the alert a command describes",
    .init = ai_init,
    .start = ai_start,
    .stop = ai_stop,
    .destroy = ai_destroy,
    .field_namespace = "alert_inject",
    .on_command = ai_on_command,
    .capabilities = 0,
};

RP_PLUGIN_ENTRY(descriptor)
