/*
 * tests/fuzz/fuzz_sigma_eval.c - libFuzzer target for detector_sigma's
 * evaluation path: rule loading, compiling, the index and the evaluator
 * (plugins/detector_sigma/, compiled into this binary: plugins never link
 * the host). Rules come from third parties and event values from whoever
 * runs processes on the machine, so whatever both hold, nothing may crash,
 * leak or read out of bounds, and the index may never change a result: an
 * indexed engine must match exactly the rules an engine that evaluates
 * every rule matches (a rule the index wrongly skips is a missed alert).
 *
 * Input layout:
 *   the rule text(s) up to the first NUL byte; a byte 0x01 separates up to
 *   DS_FZ_RULES rules (YAML has no use for it), each loaded with
 *   ds_rule_load_buffer;
 *   then records, read until the input ends:
 *     0xF0-0xFF   a new event of type (byte & 0x0F) % DS_EV_COUNT
 *     other b     a field of the current event (the first starts as
 *                 process.exec): its name is names[b % DS_FZ_NAMES], or,
 *                 for the last index, one length byte and that many bytes;
 *                 then its value: a 2-byte little-endian length (cut at
 *                 DS_FZ_VALUE_MAX and at the input's end) and its bytes,
 *                 any bytes, NUL included.
 * tools/fuzz-seeds/sigma_eval.py writes the seeds in corpus/sigma_eval/.
 *
 * The rules go into pairs of engines that must agree, event by event: the
 * built-in field map with a collector list that leaves some fields unfilled
 * (indexed / no_index), the same without a collector list, and rules test's
 * any_logsource (with and without raw field names; no index there, so those
 * only have to survive).
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads these lines):
 * fuzz-standalone: plugins/detector_sigma/rule.c plugins/detector_sigma/cond.c
 * fuzz-standalone: plugins/detector_sigma/mod.c plugins/detector_sigma/arena.c
 * fuzz-standalone: plugins/detector_sigma/match.c plugins/detector_sigma/ac.c
 * fuzz-standalone: plugins/detector_sigma/engine.c plugins/detector_sigma/compile.c
 * fuzz-standalone: plugins/detector_sigma/eval.c plugins/detector_sigma/index.c
 * fuzz-standalone: plugins/detector_sigma/fieldmap.c plugins/detector_sigma/strmap.c
 * fuzz-pkg: yaml-0.1 libpcre2-8
 */
#include "engine.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sigma_eval: %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define DS_FZ_RULES     4u
#define DS_FZ_EVENTS    8u
#define DS_FZ_FIELDS    16u
#define DS_FZ_VALUE_MAX 4096u

/* ECS names the built-in map gives, a few Sigma names for raw_fields, and
 * the inline name (last). */
static const char *const names[] = {
    "process.executable",
    "process.command_line",
    "process.parent.executable",
    "process.parent.command_line",
    "user.name",
    "process.working_directory",
    "process.pid",
    "process.parent.pid",
    "file.path",
    "collector_file.original.path",
    "destination.ip",
    "destination.port",
    "destination.domain",
    "source.ip",
    "source.port",
    "network.direction",
    "network.transport",
    "process.name",
    "Image",
    "CommandLine",
    "TargetFilename",
    NULL,
};
#define DS_FZ_NAMES (sizeof(names) / sizeof(names[0]))

struct fz_field {
    const char *name;
    size_t name_len;
    const char *value;
    size_t len;
};

struct fz_event {
    int type;
    struct fz_field f[DS_FZ_FIELDS];
    uint32_t n;
};

struct fz_view {
    const struct fz_event *ev;
    const struct ds_engine *eng;
};

static int fz_get(void *ctx, uint32_t slot, const char **v, size_t *len)
{
    struct fz_view *fv = ctx;
    const char *name = ds_engine_slot_name(fv->eng, slot);
    CHECK(name != NULL);
    size_t nl = strlen(name);
    for (uint32_t i = 0; i < fv->ev->n; i++) {
        const struct fz_field *f = &fv->ev->f[i];
        if (f->name_len == nl && memcmp(f->name, name, nl) == 0) {
            *v = f->value;
            *len = f->len;
            return 1;
        }
    }
    return 0;
}

static int fz_str(void *ctx, uint32_t i, const char **v, size_t *len)
{
    struct fz_view *fv = ctx;
    if (i >= fv->ev->n)
        return 0;
    *v = fv->ev->f[i].value;
    *len = fv->ev->f[i].len;
    return 1;
}

/* Some fields are not filled for some types, so items fold to constants
 * and rules turn dead: a fixed function of the name and the type. */
static int fz_filled(void *ctx, int type, const char *field)
{
    (void)ctx;
    uint32_t h = 2166136261u;
    for (const char *p = field; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (h + (uint32_t)type) % 5 != 0;
}

/* The matches of one evaluation as a bit set over rule indexes. */
static int fz_on_match(void *ctx, const struct ds_crule *r)
{
    uint32_t *bits = ctx;
    uint32_t i = ds_crule_index(r);
    CHECK(i < 32);
    CHECK(!(*bits & (1u << i))); /* each rule once */
    *bits |= 1u << i;
    return 0;
}

static uint32_t fz_eval(struct ds_engine *eng, int type, const struct fz_event *ev)
{
    struct fz_view fv = {ev, eng};
    struct ds_view v = {.get = fz_get, .string_at = fz_str, .ctx = &fv};
    uint32_t bits = 0;
    struct ds_eval_stats st;
    CHECK(ds_engine_eval(eng, type, &v, fz_on_match, &bits, &st) == 0);
    CHECK(st.matched <= st.candidates && st.candidates <= ds_engine_rule_count(eng));
    return bits;
}

/* One rule at a time gives the answers of the whole set, and explaining a
 * match (into a buffer small enough to be cut) does not break. */
static void fz_each_rule(struct ds_engine *eng, int type, const struct fz_event *ev, uint32_t bits)
{
    struct fz_view fv = {ev, eng};
    struct ds_view v = {.get = fz_get, .string_at = fz_str, .ctx = &fv};
    for (uint32_t i = 0; i < ds_engine_rule_count(eng); i++) {
        const struct ds_crule *r = ds_engine_rule_at(eng, i);
        bool one = ds_engine_eval_rule(eng, r, &v);
        if (type >= 0 && !ds_logsource_covers(ds_crule_rule(r)->logsource, type))
            continue;
        CHECK(one == ((bits >> i) & 1u));
        char why[24];
        CHECK(ds_engine_explain(eng, r, &v, why, sizeof(why)) == 0);
        CHECK(strlen(why) < sizeof(why));
    }
}

static struct ds_engine *fz_engine(const struct ds_engine_opts *o, const char *const *rules,
                                   const size_t *lens, uint32_t n)
{
    struct ds_engine *eng = NULL;
    CHECK(ds_engine_create(o, &eng) == 0);
    unsigned flags = o->any_logsource ? DS_LOAD_ANY_LOGSOURCE : 0;
    for (uint32_t i = 0; i < n; i++) {
        struct ds_rule *r = NULL;
        struct ds_load_result res;
        int rc = ds_rule_load_buffer_flags("fuzz.yml", rules[i], lens[i], flags, &r, &res);
        CHECK(rc == 0 || rc == RP_ERR_NOMEM);
        if (!r)
            continue;
        struct ds_report rep;
        const struct ds_crule *cr = NULL;
        rc = ds_engine_add_rule(eng, r, "fuzz.yml", &rep, &cr);
        CHECK(rc == 0 || rc == RP_ERR_NOMEM);
        CHECK(rep.status != DS_ST_SKIPPED || rep.msg[0]);
        CHECK((cr != NULL) == (rep.status == DS_ST_LOADED || rep.status == DS_ST_DEAD));
        if (getenv("FUZZ_SIGMA_EVAL_DEBUG"))
            fprintf(stderr, "rule %u: status %d %s\n", i, rep.status, rep.msg);
    }
    int rc = ds_engine_build(eng);
    CHECK(rc == 0 || rc == RP_ERR_NOMEM);
    if (rc) {
        ds_engine_destroy(eng);
        return NULL;
    }
    return eng;
}

/* Reads the events; returns how many. */
static uint32_t fz_events(const unsigned char *p, size_t n, struct fz_event *ev)
{
    uint32_t ne = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char t = p[i++];
        if (t >= 0xF0) {
            if (ne == DS_FZ_EVENTS)
                break;
            ev[ne++] = (struct fz_event){.type = (t & 0x0F) % DS_EV_COUNT};
            continue;
        }
        if (ne == 0)
            ev[ne++] = (struct fz_event){.type = DS_EV_PROCESS_EXEC};
        struct fz_event *e = &ev[ne - 1];
        struct fz_field f = {0};
        const char *name = names[t % DS_FZ_NAMES];
        if (name) {
            f.name = name;
            f.name_len = strlen(name);
        } else {
            size_t nl = i < n ? p[i++] : 0;
            if (nl > n - i)
                nl = n - i;
            f.name = (const char *)p + i;
            f.name_len = nl;
            i += nl;
        }
        size_t vl = 0;
        if (i < n)
            vl = p[i++];
        if (i < n)
            vl |= (size_t)p[i++] << 8;
        if (vl > DS_FZ_VALUE_MAX)
            vl = DS_FZ_VALUE_MAX;
        if (vl > n - i)
            vl = n - i;
        f.value = (const char *)p + i;
        f.len = vl;
        i += vl;
        if (e->n < DS_FZ_FIELDS)
            e->f[e->n++] = f;
    }
    return ne;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const unsigned char *nul = memchr(data, '\0', size);
    size_t rlen = nul ? (size_t)(nul - data) : size;
    const char *rules[DS_FZ_RULES];
    size_t lens[DS_FZ_RULES];
    uint32_t nr = 0;
    for (size_t at = 0; at <= rlen && nr < DS_FZ_RULES;) {
        const unsigned char *sep = memchr(data + at, 0x01, rlen - at);
        size_t end = sep ? (size_t)(sep - data) : rlen;
        rules[nr] = (const char *)data + at;
        lens[nr++] = end - at;
        at = end + 1;
    }
    static struct fz_event ev[DS_FZ_EVENTS];
    uint32_t ne = nul ? fz_events(nul + 1, size - rlen - 1, ev) : 0;

    static const char *const dirs[] = {"/tmp", "/dev/shm"};
    static const struct ds_placeholder ph = {"dir", dirs, 2};
    const struct ds_match_opts mo = {.placeholders = &ph, .nplaceholders = 1};
    const struct ds_engine_opts opts[6] = {
        {.filled = fz_filled, .match = mo},
        {.filled = fz_filled, .no_index = true, .match = mo},
        {.match = mo},
        {.no_index = true, .match = mo},
        {.any_logsource = true, .match = mo},
        {.any_logsource = true, .raw_fields = true, .match = mo},
    };
    struct ds_engine *eng[6];
    for (int k = 0; k < 6; k++)
        eng[k] = fz_engine(&opts[k], rules, lens, nr);
    for (int k = 0; k < 4; k += 2)
        if (eng[k] && eng[k + 1])
            CHECK(ds_engine_rule_count(eng[k]) == ds_engine_rule_count(eng[k + 1]));

    for (uint32_t e = 0; e < ne; e++) {
        for (int k = 0; k < 4; k += 2) {
            if (!eng[k] || !eng[k + 1])
                continue;
            uint32_t with = fz_eval(eng[k], ev[e].type, &ev[e]);
            uint32_t without = fz_eval(eng[k + 1], ev[e].type, &ev[e]);
            if (getenv("FUZZ_SIGMA_EVAL_DEBUG"))
                fprintf(stderr, "event %u engines %d/%d: %#x %#x\n", e, k, k + 1, with, without);
            if (with != without) {
                fprintf(stderr, "fuzz_sigma_eval: event %u (type %s): index %#x, full %#x\n", e,
                        ds_event_type_name(ev[e].type), with, without);
                abort();
            }
            fz_each_rule(eng[k], ev[e].type, &ev[e], with);
            fz_each_rule(eng[k + 1], ev[e].type, &ev[e], without);
        }
        for (int k = 4; k < 6; k++)
            if (eng[k])
                fz_each_rule(eng[k], -1, &ev[e], fz_eval(eng[k], -1, &ev[e]));
    }
    for (int k = 0; k < 6; k++)
        ds_engine_destroy(eng[k]);
    return 0;
}
