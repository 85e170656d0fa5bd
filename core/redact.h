/*
 * core/redact.h - the effective config as rampartd --print-config shows it:
 * every value a schema marks "secret" (the core's, and each enabled
 * plugin's) replaced by "<redacted>" (docs/config.md, "Secrets").
 */
#ifndef RP_CORE_REDACT_H
#define RP_CORE_REDACT_H

#include "config.h"

#include <jansson.h>

/* A new document: cfg->root with its secrets redacted; NULL on no memory.
 * Loads the enabled plugins (entry only, as --check-config does) to read
 * their schemas; a plugin it cannot load has the string values of its
 * config keys named like secrets (password, token, ...) redacted instead. */
json_t *rp__agent_config_redacted(const rp__config *cfg);

#endif
