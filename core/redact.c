/* core/redact.c - the config with its secrets redacted (redact.h). */
#include "redact.h"
#include "agent.h"
#include "lib/log.h"
#include "lib/schema.h"
#include "lib/secrets.h"
#include "runtime/host.h"

#include <ctype.h>
#include <string.h>

/* A key that names a secret, for a plugin whose schema is not at hand: its
 * value is redacted rather than shown. Names of files holding secrets
 * (token_file) are not secrets. */
static int secret_name(const char *key)
{
    static const char *const words[] = {"password",   "passwd",     "passphrase", "secret",
                                        "token",      "api_key",    "apikey",     "authorization",
                                        "credential", "private_key"};
    char low[128];
    size_t n = strlen(key);
    if (n >= sizeof low)
        n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)key[i]);
    low[n] = '\0';
    static const char *const not_values[] = {"_file", "_path", "_dir"};
    for (size_t i = 0; i < sizeof not_values / sizeof not_values[0]; i++) {
        size_t m = strlen(not_values[i]);
        if (n >= m && strcmp(low + n - m, not_values[i]) == 0)
            return 0;
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strstr(low, words[i]))
            return 1;
    return 0;
}

static void redact_by_name(json_t *v, int level)
{
    if (level > 32)
        return;
    const char *k;
    json_t *sub;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, sub)
        {
            if (json_is_string(sub) && json_string_length(sub) && secret_name(k))
                json_object_set_new(v, k, json_string(RP__REDACTED));
            else
                redact_by_name(sub, level + 1);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, sub) redact_by_name(sub, level + 1);
    }
}

json_t *rp__agent_config_redacted(const rp__config *cfg)
{
    json_t *doc = json_deep_copy(cfg->root);
    json_error_t jerr;
    json_t *schema = json_loads(rp__config_schema_json, 0, &jerr);
    if (!doc || !schema) {
        json_decref(doc);
        json_decref(schema);
        return NULL;
    }
    rp__schema_redact(schema, doc, 1, NULL, NULL);
    json_decref(schema);
    /* Each enabled plugin's schema, from a host that only loads them; what
     * the loading says is for --check-config, not for this output. */
    json_t *plugins = json_object_get(doc, "plugins");
    json_t *done = json_object();
    rp__host_opts ho;
    rp__agent_host_opts(cfg, &ho);
    ho.load_only = 1;
    rp__host *host = NULL;
    enum rp__log_level level = rp__log_get_level();
    rp__log_set_level(RP__LOG_ERROR);
    if (done && rp__host_create(&ho, &host) == 0) {
        char err[1024];
        (void)rp__host_load(host, err, sizeof err); /* refusals: redacted by name below */
        for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
            rp__plugin_info pi;
            const char *text = rp__host_plugin_schema(host, i);
            if (rp__host_plugin_info(host, i, &pi) != 0 || !text)
                continue;
            json_t *ps = json_loads(text, 0, &jerr);
            json_t *entry = json_object_get(plugins, pi.name);
            if (ps && json_is_object(json_object_get(entry, "config"))) {
                rp__schema_redact(ps, json_object_get(entry, "config"), 1, NULL, NULL);
                json_object_set_new(done, pi.name, json_true());
            }
            json_decref(ps);
        }
        rp__host_destroy(host);
    }
    rp__log_set_level(level);
    const char *name;
    json_t *entry;
    json_object_foreach(plugins, name, entry)
    {
        if (!json_object_get(done, name))
            redact_by_name(json_object_get(entry, "config"), 0);
    }
    json_decref(done);
    /* Whatever else holds a registered secret (lib/secrets.h). */
    rp__secrets_scrub_json(doc);
    return doc;
}
