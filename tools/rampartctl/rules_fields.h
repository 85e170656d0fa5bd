/*
 * tools/rampartctl/rules_fields.h - what the collectors fill, for
 * `rampartctl rules check` to tell a rule that can never match ("dead")
 * without a running agent.
 *
 * The agent knows it from the running collectors' descriptors (ABI 1.1
 * `provides`, asked through the host's field_provided). rampartctl has no
 * running agent, so it reads the same descriptors from the plugin files: each
 * file passes the agent's trust check (rp__os_dl_open_trusted: owner, mode,
 * no symbolic link, one open descriptor), is loaded, and only its entry point
 * is called (never init: nothing of the plugin runs). The descriptor is
 * checked as the agent checks it (ABI version, rp__host_check_fields for the
 * provides list); a file refused by any check counts for nothing, with the
 * reason kept for the report. The plugins stay loaded until the process
 * exits, as the agent keeps them.
 *
 * A field counts as filled for an event type when a plugin's provides names
 * it for that type, or in its "*" entry when "*" covers the type (the
 * host's rule: "*" covers the types the plugin names, or every type when it
 * names none); @timestamp, event.id, event.kind and event.truncated count for
 * any type some plugin declares.
 *
 * Caps: RP__CTL_PLUGINS_MAX plugin files are read; more are reported and left
 * out.
 */
#ifndef RP_TOOLS_RAMPARTCTL_RULES_FIELDS_H
#define RP_TOOLS_RAMPARTCTL_RULES_FIELDS_H

#include "config.h"

#include <stddef.h>
#include <stdint.h>

#define RP__CTL_PLUGINS_MAX 256u

/* One plugin file asked. Strings are owned by the rp__ctl_fields. */
typedef struct rp__ctl_plugin {
    char *name; /* the instance name in the config, or the file name */
    char *path;
    char *id;      /* descriptor id; NULL when the file was refused */
    char *status;  /* NULL: its provides count; else why not ("refused: ...") */
    uint32_t kind; /* RP_KIND_* of its descriptor; 0 when the file was refused */
    uint32_t ntypes;
    struct rp__ctl_ptype {
        char *type; /* "process.exec", or "*" */
        char **fields;
        uint32_t nfields;
    } * types;
} rp__ctl_plugin;

typedef struct rp__ctl_fields {
    char *source; /* what was read: "plugin folder DIR" or "configuration FILE" */
    rp__ctl_plugin *plugins;
    size_t nplugins, cap;
    uint32_t declaring; /* plugins whose provides count */
    int truncated;      /* more than RP__CTL_PLUGINS_MAX files were found */
} rp__ctl_fields;

/* Every "*.so" file directly in dir (in name order). Returns 0 (the
 * plugins' own problems are in their status), RP_ERR_NOTFOUND when dir does
 * not exist, RP_ERR_NOMEM, or another error reading dir. */
int rp__ctl_fields_from_dir(const char *dir, rp__ctl_fields **out);

/* The enabled plugins of a loaded agent configuration, each file found as
 * the agent finds it (absolute; a bare name in agent.plugin_dir; another
 * relative name from the configuration's folder). */
int rp__ctl_fields_from_config(const rp__config *cfg, rp__ctl_fields **out);

void rp__ctl_fields_destroy(rp__ctl_fields *f);

/* A ds_filled_fn (engine.h): ctx is the rp__ctl_fields, type an enum
 * ds_event_type. */
int rp__ctl_fields_filled(void *ctx, int type, const char *field);

#endif
