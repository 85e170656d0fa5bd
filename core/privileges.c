/* core/privileges.c - the capability drop at start-up (privileges.h). */
#include "privileges.h"
#include "lib/log.h"
#include "os/os_caps.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <string.h>

/* What the core itself needs once started: the loop thread re-enters
 * real-time scheduling (SCHED_FIFO) after each back-off, which needs
 * CAP_SYS_NICE. Everything else the core does after start-up (its data
 * folder, spool, control socket, config files and plugin files, all owned
 * by the agent's user) needs no capability. */
static uint64_t core_needs(const rp__config *cfg)
{
    return cfg->loop_rt_max_cpu_pct > 0 ? RP_CAP_SYS_NICE : 0;
}

void rp__privileges_drop(const rp__config *cfg, rp__host *host, rp__privileges *out)
{
    memset(out, 0, sizeof *out);
    const json_t *on = json_object_get(json_object_get(cfg->root, "agent"), "drop_capabilities");
    if (json_is_false(on)) {
        snprintf(out->why, sizeof out->why, "agent.drop_capabilities is false");
        rp__log_info("capabilities: all kept (agent.drop_capabilities is false)");
        return;
    }
    uint64_t keep = core_needs(cfg);
    char plugins[256] = "";
    size_t pos = 0;
    for (size_t i = 0; i < rp__host_plugin_count(host); i++) {
        rp__plugin_info pi;
        if (rp__host_plugin_info(host, i, &pi) != 0 || pi.state != RP__PLUGIN_LOADED)
            continue; /* refused at load: it does not run, and a reload checks it again */
        if (!pi.caps_declared) {
            /* A 1.0 plugin, or a 1.1 one that says nothing: it may need
             * anything, so it keeps running as it always did. */
            snprintf(out->why, sizeof out->why,
                     "plugin %s (%s) does not declare the capabilities it needs", pi.name,
                     pi.id ? pi.id : "?");
            rp__log_warn("capabilities: all kept, no_new_privs not set: %s; the agent can drop "
                         "them once every enabled plugin declares its own",
                         out->why);
            return;
        }
        keep |= pi.capabilities;
        if (pi.capabilities && pos < sizeof plugins) {
            char names[192];
            rp__host_caps_format(pi.capabilities, names, sizeof names);
            int w = snprintf(plugins + pos, sizeof plugins - pos, "%s%s %s", pos ? "; " : "",
                             pi.name, names);
            pos += w > 0 ? (size_t)w : 0;
        }
    }
    rp__os_caps_result res;
    char why[256];
    int rc = rp__os_caps_limit(keep, &res, why, sizeof why);
    if (rc == RP_ERR_UNSUPPORTED) {
        snprintf(out->why, sizeof out->why, "%s", why);
        rp__log_debug("capabilities: %s", why);
        return;
    }
    if (rc != 0) {
        snprintf(out->why, sizeof out->why, "%s", why[0] ? why : rp_strerror(rc));
        rp__log_error("capabilities: could not be reduced, all kept: %s", out->why);
        return;
    }
    out->dropped = 1;
    out->kept = res.kept;
    out->bounding_reduced = res.bounding_reduced;
    out->no_new_privs = res.no_new_privs;
    rp__host_caps_limit(host, res.kept);
    char kept[512], core[64];
    rp__host_caps_format(res.kept, kept, sizeof kept);
    rp__host_caps_format(core_needs(cfg) & res.kept, core, sizeof core);
    rp__log_info("capabilities: kept %s (core: %s%s%s)%s; no_new_privs set", kept, core,
                 plugins[0] ? "; " : "", plugins,
                 res.bounding_reduced ? "; bounding set reduced to them"
                                      : "; bounding set unchanged (no CAP_SETPCAP)");
}

json_t *rp__privileges_json(const rp__privileges *p)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "dropped", json_boolean(p->dropped));
    if (p->dropped) {
        json_object_set_new(o, "kept", rp__host_caps_json(1, p->kept));
        json_object_set_new(o, "bounding_reduced", json_boolean(p->bounding_reduced));
    } else {
        json_object_set_new(o, "reason", json_string(p->why));
    }
    json_object_set_new(o, "no_new_privs", json_boolean(p->no_new_privs));
    return o;
}
