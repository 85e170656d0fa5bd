/* core/os/win/caps_win.c - Windows has no capability sets to reduce: the
 * service's privileges are set by its account (installers/). */
#include "os/os_caps.h"

#include <rampart/plugin.h>

#include <stdio.h>

int rp__os_caps_limit(uint64_t keep, rp__os_caps_result *out, char *why, size_t whylen)
{
    (void)keep;
    if (out)
        *out = (rp__os_caps_result){0};
    if (why && whylen)
        snprintf(why, whylen, "no capability sets on this platform");
    return RP_ERR_UNSUPPORTED;
}

int rp__os_caps_permitted(uint64_t *out)
{
    *out = 0;
    return RP_ERR_UNSUPPORTED;
}
