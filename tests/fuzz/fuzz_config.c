/*
 * tests/fuzz/fuzz_config.c - libFuzzer target for configuration parsing,
 * merging and validation.
 *
 * The input is a main document, optionally followed by a 0x00 byte and a
 * site overlay. Both are parsed as the agent parses files (duplicate keys
 * rejected; scalars are accepted too, so that the "not an object" paths are
 * reached), then layered and validated by rp__config_from_docs. The merge
 * patch and the schema engine (first error and every error) are also driven
 * directly, with the main document used as a schema for the overlay, so
 * arbitrary schemas are covered as well. Nothing may crash, leak or read out of bounds.
 */
#include "config.h"
#include "lib/json_merge.h"
#include "lib/schema.h"

#include <rampart/plugin.h>

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *parse(const uint8_t *data, size_t len)
{
    json_error_t jerr;
    return json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
}

/* Uses every part of a schema error, as the config layer does. */
static void use_error(const json_t *layer, const rp__schema_error *err)
{
    char path[512];
    rp__json_path_format(err->segv, err->depth, path, sizeof path);
    if (strcmp(path, err->path) != 0)
        __builtin_trap();
    if (layer)
        (void)rp__json_layer_mentions(layer, err->segv, err->depth);
}

/* The same for each error rp__schema_validate_all reports. */
static void use_each(void *arg, const rp__schema_error *err)
{
    use_error(arg, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *config_schema;
    if (!config_schema) {
        config_schema = json_loads(rp__config_schema_json, 0, NULL);
        if (!config_schema)
            __builtin_trap();
    }

    const uint8_t *nul = memchr(data, 0, size);
    size_t main_len = nul ? (size_t)(nul - data) : size;
    json_t *main_doc = parse(data, main_len);
    json_t *overlay = nul ? parse(nul + 1, size - main_len - 1) : NULL;

    char err[RP__CONFIG_ERR_MAX] = "", describe[96];
    rp__config *cfg = NULL;
    if (main_doc) {
        /* The site as the loader would pick it: agent.site when it is a valid name. */
        const char *site =
            json_string_value(json_object_get(json_object_get(main_doc, "agent"), "site"));
        if (site && !rp__schema_is_name(site))
            site = NULL;
        if (!site && overlay)
            site = "fuzz";
        int rc = rp__config_from_docs(main_doc, "rampart.json", overlay,
                                      overlay ? "sites/fuzz.json" : NULL, site, "/tmp", &cfg, err,
                                      sizeof err);
        if (rc == 0) {
            /* A valid config has every typed field filled. */
            if (!cfg || !cfg->root || !cfg->data_dir || !cfg->plugin_dir || !cfg->pid_file ||
                cfg->data_dir[0] != '/' || cfg->pid_file[0] != '/')
                __builtin_trap();
            rp__config_destroy(cfg);
        } else if (memchr(err, '\0', sizeof err) == NULL || !err[0] || strstr(err, "\n\n") ||
                   err[strlen(err) - 1] == '\n') {
            __builtin_trap(); /* terminated lines, none empty */
        }
        rp__json_describe(main_doc, describe, sizeof describe);
    }

    /* The merge patch on its own, both ways round, and from nothing. */
    json_t *m1 = rp__json_merge_patch(main_doc, overlay ? overlay : main_doc);
    json_t *m2 = overlay ? rp__json_merge_patch(overlay, main_doc) : NULL;
    json_t *m3 = main_doc ? rp__json_merge_patch(NULL, main_doc) : NULL;

    rp__schema_error serr;
    if (m1) {
        if (rp__schema_validate(config_schema, m1, &serr) == RP_ERR_CONFIG)
            use_error(overlay ? overlay : main_doc, &serr);
        rp__json_describe(m1, describe, sizeof describe);
    }
    /* The main document as a schema: checked, then used on the overlay. */
    if (main_doc) {
        (void)rp__schema_check(main_doc, &serr);
        const json_t *target = overlay ? overlay : m3;
        if (target && rp__schema_validate(main_doc, target, &serr) == RP_ERR_CONFIG)
            use_error(target, &serr);
        if (target)
            (void)rp__schema_validate_all(main_doc, target, use_each, (void *)target, &serr);
    }

    json_decref(m3);
    json_decref(m2);
    json_decref(m1);
    json_decref(overlay);
    json_decref(main_doc);
    return 0;
}
