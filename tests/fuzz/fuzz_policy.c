/*
 * tests/fuzz/fuzz_policy.c - libFuzzer target for the response policy
 * (core/runtime/policy.c): the config's "policy" object, which decides
 * which alerts a responder acts on (kill, isolate, quarantine), made with
 * rp__policy_create and asked with rp__policy_resolve.
 *
 * Input layout:
 *   the policy's JSON text, up to the first NUL byte; then the alert:
 *   byte r    its rule id: the r % (n + 1)-th key of policy.rules, or for
 *             n a name no entry has
 *   byte s    its ruleset, the same way from policy.rulesets
 *   byte t    its number of tags (t % 9), then one byte per tag choosing a
 *             key of policy.tags the same way, and whether to upper-case it
 *             (bit 7)
 *
 * Checks, any failure aborts:
 *   - create returns 0, RP_ERR_CONFIG (having reported at least one error,
 *     each with a message) or RP_ERR_NOMEM; it reports nothing on 0; a
 *     check-only create (out NULL) gives the same result;
 *   - the decision is the one policy.h describes, computed here from the
 *     JSON: the rule's entry, else the matching tags' (prevent wins, the
 *     actions of every matching prevent entry united in tag order, without
 *     repeats, truncated past RP__POLICY_DECISION_ACTIONS), else the
 *     ruleset's, else the default; no actions in detect mode; matched
 *     names the deciding entries.
 */
#include "runtime/policy.h"
#include <rampart/plugin.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_policy: check failed at line %d: %s\n", __LINE__, #cond);        \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static unsigned reports;

static void report(void *arg, const struct rp__json_seg *segv, int depth, const char *msg)
{
    (void)arg;
    (void)segv;
    CHECK(depth >= 0);
    CHECK(msg != NULL && msg[0] != '\0');
    reports++;
}

/* The i-th key of obj's member name (or NULL past the last). */
static const char *nth_key(const json_t *policy, const char *name, size_t i)
{
    const json_t *obj = json_object_get(policy, name);
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (n++ == i)
            return k;
    }
    return NULL;
}

static size_t count(const json_t *policy, const char *name)
{
    return json_object_size(json_object_get(policy, name));
}

static uint32_t mode_of(const json_t *entry)
{
    const char *m = json_string_value(json_object_get(entry, "mode"));
    CHECK(m != NULL);
    return strcmp(m, "prevent") == 0 ? RP_POLICY_PREVENT : RP_POLICY_DETECT;
}

/* The decision must be exactly entry's, named path. */
static void expect_entry(const rp__policy_decision *d, const json_t *entry, const char *path)
{
    uint32_t mode = entry ? mode_of(entry) : RP_POLICY_DETECT;
    CHECK(d->mode == mode);
    CHECK(d->nmatched == 1 && strcmp(d->matched[0], path) == 0);
    const json_t *acts = json_object_get(entry, "actions");
    if (mode == RP_POLICY_DETECT) {
        CHECK(d->nactions == 0);
        return;
    }
    CHECK(d->nactions == json_array_size(acts) && !d->truncated);
    for (uint32_t i = 0; i < d->nactions; i++)
        CHECK(strcmp(d->actions[i], json_string_value(json_array_get(acts, i))) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *alert = nul ? nul + 1 : data + size;
    size_t alen = (size_t)(data + size - alert);
    json_t *policy = json_loadb((const char *)data, tlen, JSON_REJECT_DUPLICATES, NULL);
    if (!policy)
        return 0;

    reports = 0;
    rp__policy *p = NULL;
    int rc = rp__policy_create(policy, report, NULL, &p);
    CHECK(rc == 0 || rc == RP_ERR_CONFIG || rc == RP_ERR_NOMEM);
    if (rc == RP_ERR_CONFIG)
        CHECK(reports > 0 && p == NULL);
    if (rc == 0)
        CHECK(reports == 0 && p != NULL);
    unsigned first = reports;
    reports = 0;
    CHECK(rp__policy_create(policy, report, NULL, NULL) == rc);
    CHECK(reports == first);
    if (rc != 0) {
        json_decref(policy);
        return 0;
    }

    /* The alert, from keys of the policy. */
    size_t at = 0;
#define NEXT() (at < alen ? alert[at++] : 0)
    const char *rule = nth_key(policy, "rules", NEXT() % (count(policy, "rules") + 1));
    const char *ruleset = nth_key(policy, "rulesets", NEXT() % (count(policy, "rulesets") + 1));
    if (!rule)
        rule = "\x01no such rule";
    if (!ruleset)
        ruleset = "\x01no such ruleset";
    uint32_t ntags = NEXT() % 9;
    char tagbuf[8][RP__POLICY_KEY_MAX + 32];
    const char *tags[8];
    for (uint32_t i = 0; i < ntags; i++) {
        uint8_t b = NEXT();
        const char *k = nth_key(policy, "tags", (b & 0x7f) % (count(policy, "tags") + 1));
        snprintf(tagbuf[i], sizeof tagbuf[i], "%s", k ? k : "no.such.tag");
        if (b & 0x80)
            for (char *q = tagbuf[i]; *q; q++)
                if (*q >= 'a' && *q <= 'z')
                    *q = (char)(*q - 'a' + 'A');
        tags[i] = tagbuf[i];
    }
#undef NEXT

    rp__policy_decision d;
    memset(&d, 0x55, sizeof d);
    rp__policy_resolve(p, rule, ruleset, ntags ? tags : NULL, ntags, &d);
    CHECK(d.mode == RP_POLICY_DETECT || d.mode == RP_POLICY_PREVENT);
    CHECK(d.nactions <= RP__POLICY_DECISION_ACTIONS);
    CHECK(d.nmatched >= 1 && d.nmatched <= RP__POLICY_DECISION_MATCHED);
    for (uint32_t i = 0; i < d.nactions; i++)
        CHECK(rp__policy_is_action(d.actions[i]));
    for (uint32_t i = 0; i < d.nmatched; i++)
        CHECK(strncmp(d.matched[i], "policy.", 7) == 0);

    /* The reference. */
    char path[RP__POLICY_KEY_MAX + 64];
    const json_t *rules = json_object_get(policy, "rules");
    const json_t *tmap = json_object_get(policy, "tags");
    const json_t *e = json_object_get(rules, rule);
    if (e) {
        snprintf(path, sizeof path, "policy.rules.%s", rule);
        expect_entry(&d, e, path);
    } else {
        /* The matching tag entries, in the alert's tag order, each once. */
        const char *hit[8];
        uint32_t nhit = 0, prevent = 0;
        for (uint32_t i = 0; i < ntags; i++) {
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)tmap, k, v)
            {
                if (strcasecmp(k, tags[i]) != 0)
                    continue;
                int seen = 0;
                for (uint32_t j = 0; j < nhit; j++)
                    seen |= strcmp(hit[j], k) == 0;
                if (!seen) {
                    hit[nhit++] = k;
                    prevent |= mode_of(v) == RP_POLICY_PREVENT;
                }
            }
        }
        if (nhit > 0) {
            CHECK(d.mode == (prevent ? RP_POLICY_PREVENT : RP_POLICY_DETECT));
            const char *want[RP__POLICY_MAX_ACTIONS * 8];
            uint32_t nwant = 0;
            for (uint32_t j = 0; j < nhit && prevent; j++) {
                const json_t *v = json_object_get(tmap, hit[j]);
                if (mode_of(v) != RP_POLICY_PREVENT)
                    continue;
                const json_t *acts = json_object_get(v, "actions");
                for (size_t a = 0; a < json_array_size(acts); a++) {
                    const char *name = json_string_value(json_array_get(acts, a));
                    int seen = 0;
                    for (uint32_t w = 0; w < nwant; w++)
                        seen |= strcmp(want[w], name) == 0;
                    if (!seen)
                        want[nwant++] = name;
                }
            }
            uint32_t fit =
                nwant < RP__POLICY_DECISION_ACTIONS ? nwant : RP__POLICY_DECISION_ACTIONS;
            CHECK(d.nactions == fit && d.truncated == (nwant > fit));
            for (uint32_t w = 0; w < fit; w++)
                CHECK(strcmp(d.actions[w], want[w]) == 0);
        } else if ((e = json_object_get(json_object_get(policy, "rulesets"), ruleset)) != NULL) {
            snprintf(path, sizeof path, "policy.rulesets.%s", ruleset);
            expect_entry(&d, e, path);
        } else {
            expect_entry(&d, json_object_get(policy, "default"), "policy.default");
        }
    }
    rp__policy_release(p);
    json_decref(policy);
    return 0;
}
