/* core/runtime/faults.c - the fault ledger (faults.h). Placeholder until the
 * supervisor's ledger lands: faults are logged, nothing is disabled. */
#include "runtime/faults.h"
#include "lib/log.h"

#include <rampart/plugin.h>

int rp__faults_report(const struct rp__fault *f)
{
    if (!f || !f->plugin)
        return RP_ERR_INVAL;
    rp__log_error("plugin %s: fault in %s%s%s", f->plugin, f->callback ? f->callback : "?",
                  f->detail ? ": " : "", f->detail ? f->detail : "");
    return 0;
}

int rp__faults_disabled(const char *plugin, uint64_t dev, uint64_t ino, uint64_t size,
                        int64_t mtime_ns, char *why, size_t whylen)
{
    (void)plugin, (void)dev, (void)ino, (void)size, (void)mtime_ns;
    if (why && whylen)
        why[0] = '\0';
    return 0;
}
