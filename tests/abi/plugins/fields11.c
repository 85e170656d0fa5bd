/*
 * Test plugins for the field registry of ABI 1.1 (tests/abi/test_fields11.c),
 * one source built once per variant (-DFIELDS11_<NAME>):
 *
 * - CHECK, a detector of ABI 1.1 with namespace "fcheck": uses every field
 *   call, and checks that each field of each event it sees is declared by a
 *   running collector for that event type (field_provided), and that the
 *   host's fields come first. Its findings are counters.
 * - ACME, namespace "acme": registers acme.count, and tries a custom field
 *   outside its namespace.
 * - ACME_DUP, namespace "acme" as well: refused at load.
 * - SQUAT, built against the frozen 1.0 header (no namespace): tries a new
 *   field inside acme's namespace and acme.count with another type, then
 *   takes acme.count with its own type.
 * - BAD_NS and BAD_PROVIDES: refused at load.
 * Only the SDK header is included.
 */
#include <rampart/plugin.h>

#include <stdio.h>
#include <string.h>

#define NAME_AND_LEN(s) (s), (uint64_t)(sizeof(s) - 1)

struct st {
    rp_plugin *self;
    const rp_host_api *host;
    uint32_t c_events, c_undeclared, c_order_bad, c_failed;
};

static struct st the_state;

#ifdef FIELDS11_CHECK
static void note(struct st *s, uint32_t counter, const char *msg)
{
    s->host->counter_add(s->self, counter, 1);
    if (msg)
        s->host->log(s->self, RP_LOG_WARN, msg, strlen(msg));
}

#endif

static int counters(struct st *s, const char *const *names, uint32_t *ids, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        int rc = s->host->counter_register(s->self, names[i], strlen(names[i]), &ids[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

#ifdef FIELDS11_CHECK
/* 1 when the registry answers as the ABI says; failures are counted. */
static void check_registry(struct st *s)
{
    const rp_host_api *h = s->host;
    rp_field_id id, hits;
    uint32_t type = 0, count = 0;
    const char *name;
    uint64_t len;
    char msg[256];
    if (h->field_lookup(s->self, NAME_AND_LEN("process.pid"), &id, &type) != 0 ||
        type != RP_TYPE_I64)
        note(s, s->c_failed, "field_lookup(process.pid) did not give an i64");
    else if (h->field_info(s->self, id, &name, &len, &type) != 0 || len != 11 ||
             strcmp(name, "process.pid") != 0 || type != RP_TYPE_I64)
        note(s, s->c_failed, "field_info(id of process.pid) did not give its name and type");
    if (h->field_lookup(s->self, NAME_AND_LEN("fcheck.never_registered"), &id, &type) !=
        RP_ERR_NOTFOUND)
        note(s, s->c_failed, "field_lookup of an unknown name did not say RP_ERR_NOTFOUND");
    if (h->field_lookup(s->self, NULL, 3, &id, &type) != RP_ERR_INVAL ||
        h->field_lookup(s->self, NAME_AND_LEN("process.pid"), NULL, &type) != RP_ERR_INVAL ||
        h->field_count(s->self, NULL) != RP_ERR_INVAL ||
        h->field_info(s->self, 0, &name, &len, &type) != RP_ERR_NOTFOUND ||
        h->event_field_count(NULL, &count) != RP_ERR_INVAL)
        note(s, s->c_failed, "a bad argument was not refused");
    /* Ids are dense: the last one has a name, the one after it none. */
    if (h->field_id(s->self, NAME_AND_LEN("fcheck.hits"), RP_TYPE_U64, &hits) != 0 ||
        h->field_count(s->self, &count) != 0 || count < hits ||
        h->field_info(s->self, count, &name, &len, &type) != 0 ||
        h->field_info(s->self, count + 1, &name, &len, &type) != RP_ERR_NOTFOUND)
        note(s, s->c_failed, "field ids are not 1..field_count");
    /* What the running plugins declare. */
    static const struct {
        const char *type, *field;
        uint32_t want;
    } provided[] = {
        /* synthetic declares process.exec; acme declares acme.count for "*". */
        {"process.exec", "process.pid", 1}, {"*", "synthetic.seq", 1},
        {"file.create", "process.pid", 0},  {"process.exec", "process.hash.md5", 0},
        {"process.exec", "@timestamp", 2},  {"*", "event.id", 2},
        {"file.create", "event.kind", 1},   {"file.create", "acme.count", 1},
        {"process.exec", "acme.count", 1},  {"*", "acme.count", 1},
    };
    for (size_t i = 0; i < sizeof provided / sizeof provided[0]; i++) {
        uint32_t n = 99;
        if (h->field_lookup(s->self, provided[i].field, strlen(provided[i].field), &id, NULL) !=
                0 ||
            h->field_provided(s->self, provided[i].type, strlen(provided[i].type), id, &n) != 0 ||
            n != provided[i].want) {
            snprintf(msg, sizeof msg, "field_provided(%s, %s) = %u; wanted %u", provided[i].type,
                     provided[i].field, (unsigned)n, (unsigned)provided[i].want);
            note(s, s->c_failed, msg);
        }
    }
    uint32_t n;
    if (h->field_provided(s->self, NAME_AND_LEN("process..exec"), 1, &n) != RP_ERR_INVAL ||
        h->field_provided(s->self, NAME_AND_LEN("process.exec"), 0, &n) != RP_ERR_NOTFOUND)
        note(s, s->c_failed, "field_provided took a bad event type or field");
    /* The plugin's own namespace: a field outside it is refused. */
    if (h->field_id(s->self, NAME_AND_LEN("elsewhere.hits"), RP_TYPE_U64, &id) != RP_ERR_PERM)
        note(s, s->c_failed, "a custom field outside the namespace was not refused");
}

static int t_on_event(rp_plugin *self, void *state, const rp_event *ev)
{
    struct st *s = state;
    const rp_host_api *h = s->host;
    const char *type;
    uint64_t tlen;
    uint32_t n = 0;
    char msg[256];
    (void)self;
    note(s, s->c_events, NULL);
    if (h->event_type(ev, &type, &tlen) != 0 || h->event_field_count(ev, &n) != 0 || n < 3) {
        note(s, s->c_failed, "event_type or event_field_count failed");
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        rp_field_id id;
        uint32_t ftype, by = 0;
        const char *name = "?";
        uint64_t len;
        if (h->event_field_at(ev, i, &id, &ftype) != 0 ||
            h->field_info(s->self, id, &name, &len, NULL) != 0) {
            note(s, s->c_failed, "event_field_at or field_info failed");
            continue;
        }
        /* The host's stamps first, in this order. */
        static const char *const first[] = {"@timestamp", "event.id", "event.kind"};
        if (i < 3 && strcmp(name, first[i]) != 0) {
            snprintf(msg, sizeof msg, "field %u of %.*s is %s; wanted %s", (unsigned)i, (int)tlen,
                     type, name, first[i]);
            note(s, s->c_order_bad, msg);
        }
        if (h->field_provided(s->self, type, tlen, id, &by) != 0 || by == 0) {
            snprintf(msg, sizeof msg, "%.*s carries %s, which no running collector declares",
                     (int)tlen, type, name);
            note(s, s->c_undeclared, msg);
        }
    }
    rp_field_id id;
    if (h->event_field_at(ev, n, &id, NULL) != RP_ERR_RANGE)
        note(s, s->c_failed, "event_field_at past the count did not say RP_ERR_RANGE");
    return 0;
}
#endif

static int t_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct st *s = &the_state;
    s->self = self;
    s->host = host;
    *state = s;
#ifdef FIELDS11_CHECK
    static const char *const names[] = {"events", "undeclared", "order_bad", "failed"};
    uint32_t ids[4];
    int rc = counters(s, names, ids, 4);
    if (rc != 0)
        return rc;
    s->c_events = ids[0], s->c_undeclared = ids[1], s->c_order_bad = ids[2], s->c_failed = ids[3];
    if (!RP_HOST_HAS(host, event_field_at))
        return RP_ERR_VERSION;
    return host->subscribe(self, "process.exec", 12, 0);
#elif defined(FIELDS11_ACME)
    static const char *const names[] = {"own_ok", "outside_perm"};
    uint32_t ids[2];
    rp_field_id f;
    int rc = counters(s, names, ids, 2);
    if (rc != 0)
        return rc;
    if (host->field_id(self, NAME_AND_LEN("acme.count"), RP_TYPE_U64, &f) == 0)
        host->counter_add(self, ids[0], 1);
    if (host->field_id(self, NAME_AND_LEN("elsewhere.count"), RP_TYPE_U64, &f) == RP_ERR_PERM)
        host->counter_add(self, ids[1], 1);
    return 0;
#elif defined(FIELDS11_SQUAT)
    static const char *const names[] = {"squat_perm", "type_refused", "existing_ok"};
    uint32_t ids[3];
    rp_field_id f;
    int rc = counters(s, names, ids, 3);
    if (rc != 0)
        return rc;
    if (host->field_id(self, NAME_AND_LEN("acme.squat"), RP_TYPE_U64, &f) == RP_ERR_PERM)
        host->counter_add(self, ids[0], 1);
    if (host->field_id(self, NAME_AND_LEN("acme.count"), RP_TYPE_STR, &f) == RP_ERR_TYPE)
        host->counter_add(self, ids[1], 1);
    if (host->field_id(self, NAME_AND_LEN("acme.count"), RP_TYPE_U64, &f) == 0)
        host->counter_add(self, ids[2], 1);
    return 0;
#else
    (void)counters;
    return 0;
#endif
}

static int t_start(rp_plugin *self, void *state)
{
    (void)self;
#ifdef FIELDS11_CHECK
    check_registry(state);
#else
    (void)state;
#endif
    return 0;
}

static int t_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}

static void t_destroy(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
}

#ifdef FIELDS11_ACME
/* Any event type it would publish carries its field. */
static const char *const acme_fields[] = {"acme.count", NULL};
static const rp_event_fields acme_provides[] = {{"*", acme_fields}, {NULL, NULL}};
#endif

#ifdef FIELDS11_BAD_PROVIDES
static const char *const bad_fields[] = {"process.pid", "process.pdi", NULL};
static const rp_event_fields bad_provides[] = {{"process.exec", bad_fields}, {NULL, NULL}};
#endif

static const rp_plugin_descriptor descriptor = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
#ifdef FIELDS11_CHECK
    .abi_minor = 1, /* calls the 1.1 field functions */
    .kind = RP_KIND_DETECTOR,
    .on_event = t_on_event,
#else
    .abi_minor = 0,
    .kind = RP_KIND_DETECTOR,
#endif
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.fields11." FIELDS11_NAME,
    .version = "0.0.1",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "ABI 1.1 field registry test plugin",
    .init = t_init,
    .start = t_start,
    .stop = t_stop,
    .destroy = t_destroy,
#if defined(FIELDS11_CHECK)
    .field_namespace = "fcheck",
#elif defined(FIELDS11_ACME)
    .field_namespace = "acme",
    .provides = acme_provides,
#elif defined(FIELDS11_ACME_DUP)
    .field_namespace = "acme",
#elif defined(FIELDS11_BAD_NS)
    .field_namespace = "process",
#elif defined(FIELDS11_BAD_PROVIDES)
    .provides = bad_provides,
#endif
};

RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
{
    (void)host;
    *out = &descriptor;
    return 0;
}
