/*
 * tests/fuzz/fuzz_sigma_conf.c - libFuzzer target for detector_sigma's
 * config reader (ds_conf_parse in plugins/detector_sigma/tune.c, compiled
 * into this binary: plugins never link the host). The config is the site's
 * (the main file layered with a site overlay), and `rampartctl rules` hands
 * the same reader text of its own, without the host's schema check first.
 *
 * The whole input is the config's JSON text. Checks, any failure aborts:
 *   - it parses (0) or is refused with RP_ERR_CONFIG and a non-empty,
 *     terminated message, also in a tiny message buffer;
 *   - what it accepts keeps tune.h's promises: every count within its cap,
 *     rules, tags, statuses and folders sorted by key with no key twice, tag
 *     keys lower-cased, every key at most DS_CONF_KEY_MAX bytes, levels -1, 0
 *     or 1, min_level a level;
 *   - the lookups find each entry (a tag in upper case too), and the tuning
 *     decision follows the entries: a rule whose rules.<id>.enabled is set
 *     loads exactly when it is true; otherwise a tag with enabled false
 *     leaves a rule out, naming that setting.
 *
 * Built without the core (tests/fuzz/CMakeLists.txt reads these lines):
 * fuzz-standalone: plugins/detector_sigma/tune.c
 * fuzz-pkg: jansson
 */
#include "tune.h"
#include <rampart/plugin.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_sigma_conf: check failed at line %d: %s\n", __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_key(const char *k)
{
    CHECK(k != NULL);
    CHECK(strlen(k) <= DS_CONF_KEY_MAX);
}

static void check_entries(const struct ds_tune_entry *e, uint32_t n, int lower)
{
    CHECK(n <= DS_CONF_ENTRIES_MAX);
    for (uint32_t i = 0; i < n; i++) {
        check_key(e[i].key);
        if (i > 0)
            CHECK(strcmp(e[i - 1].key, e[i].key) < 0);
        CHECK(e[i].enabled >= -1 && e[i].enabled <= 1);
        CHECK(e[i].n_exceptions <= DS_CONF_EXCEPTIONS_MAX);
        for (uint32_t k = 0; k < e[i].n_exceptions; k++)
            CHECK(e[i].exceptions[k] != NULL);
        if (lower)
            for (const char *p = e[i].key; *p; p++)
                CHECK(!(*p >= 'A' && *p <= 'Z'));
    }
}

static void check_flags(const struct ds_tune_flag *f, uint32_t n)
{
    CHECK(n <= DS_CONF_ENTRIES_MAX);
    for (uint32_t i = 0; i < n; i++) {
        check_key(f[i].key);
        if (i > 0)
            CHECK(strcmp(f[i - 1].key, f[i].key) < 0);
        CHECK(f[i].on == 0 || f[i].on == 1);
    }
}

static void check_decisions(const struct ds_conf *c)
{
    struct ds_rule rule;
    char why[256];
    memset(&rule, 0, sizeof rule);
    rule.status = "stable";
    rule.level = DS_LEVEL_CRITICAL;
    for (uint32_t i = 0; i < c->n_rules && i < 64; i++) {
        const struct ds_tune_entry *e = &c->rules[i];
        CHECK(ds_conf_rule(c, e->key) == e);
        if (e->enabled < 0)
            continue;
        bool ok = ds_tune_accept(c, e->key, &rule, "a/b/rule.yml", why, sizeof why);
        CHECK(ok == (e->enabled == 1));
        CHECK(ok ? why[0] == '\0' : strstr(why, "rules.") != NULL);
    }
    for (uint32_t i = 0; i < c->n_tags && i < 64; i++) {
        const struct ds_tune_entry *e = &c->tags[i];
        char upper[DS_CONF_KEY_MAX + 1];
        size_t n = strlen(e->key);
        for (size_t k = 0; k <= n; k++)
            upper[k] = (char)toupper((unsigned char)e->key[k]);
        CHECK(ds_conf_tag(c, e->key) == e);
        CHECK(ds_conf_tag(c, upper) == e);
        if (e->enabled != 0)
            continue;
        const char *tags[1] = {upper};
        rule.tags.v = tags;
        rule.tags.n = 1;
        /* An id no rules entry has: the tag decides. */
        const char *id = "\x01 not a rule id";
        if (ds_conf_rule(c, id) == NULL) {
            CHECK(!ds_tune_accept(c, id, &rule, NULL, why, sizeof why));
            CHECK(strstr(why, "tags.") != NULL);
        }
        rule.tags.n = 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes: ASan sees any read past it. */
    char *text = malloc(size ? size : 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    struct ds_conf *c = NULL;
    char err[512];
    memset(err, 0x55, sizeof err);
    int rc = ds_conf_parse(text, size, &c, err, sizeof err);
    CHECK(rc == 0 || rc == RP_ERR_CONFIG || rc == RP_ERR_NOMEM);
    if (rc != 0) {
        CHECK(c == NULL);
        CHECK(memchr(err, '\0', sizeof err) != NULL && err[0] != '\0');
        /* A message buffer too small for it is cut, still terminated. */
        char tiny[4];
        memset(tiny, 0x55, sizeof tiny);
        struct ds_conf *again = NULL;
        CHECK(ds_conf_parse(text, size, &again, tiny, sizeof tiny) == rc);
        CHECK(again == NULL && memchr(tiny, '\0', sizeof tiny) != NULL);
        free(text);
        return 0;
    }
    CHECK(c != NULL);
    CHECK(c->n_rule_dirs <= DS_CONF_DIRS_MAX);
    for (uint32_t i = 0; i < c->n_rule_dirs; i++)
        CHECK(c->rule_dirs[i] != NULL && c->rule_dirs[i][0] == '/');
    CHECK(c->n_fields <= DS_CONF_ENTRIES_MAX);
    for (uint32_t i = 0; i < c->n_fields; i++)
        CHECK(c->fields[i].logsource && c->fields[i].sigma && c->fields[i].ecs);
    CHECK(c->n_placeholders <= DS_PLACEHOLDERS_MAX);
    for (uint32_t i = 0; i < c->n_placeholders; i++) {
        CHECK(c->placeholders[i].name != NULL);
        CHECK(c->placeholders[i].nvalues <= DS_PLACEHOLDER_VALUES_MAX);
        for (size_t k = 0; k < c->placeholders[i].nvalues; k++)
            CHECK(c->placeholders[i].values[k] != NULL);
    }
    CHECK(c->min_level >= DS_LEVEL_INFO && c->min_level <= DS_LEVEL_CRITICAL);
    for (int i = 0; i < 6; i++)
        CHECK(c->levels[i] >= -1 && c->levels[i] <= 1);
    check_entries(c->rules, c->n_rules, 0);
    check_entries(c->tags, c->n_tags, 1);
    check_flags(c->statuses, c->n_statuses);
    check_flags(c->folders, c->n_folders);
    check_decisions(c);
    ds_conf_destroy(c);
    free(text);
    return 0;
}
