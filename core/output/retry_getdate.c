/* core/output/retry_getdate.c - HTTP dates converted by libcurl (see retry.h). */
#include "output/retry.h"

#include <rampart/plugin.h>

#include "output/curl_api.h"

/* Dates up to 9999 (and the 2000-2399 window retry.c uses) need more than a
 * 32-bit time_t, which curl would clamp at 2038. */
_Static_assert(sizeof(time_t) >= 8, "curl_getdate needs a 64-bit time_t here");

int rp__retry_curl_getdate(const char *date, int64_t *unix_s)
{
    if (!date || !unix_s)
        return RP_ERR_INVAL;
    if (rp__curl_load(NULL, 0) != 0)
        return RP_ERR_UNSUPPORTED;
    time_t t = curl_getdate(date, NULL);
    if (t == -1)
        return RP_ERR_PARSE;
    *unix_s = (int64_t)t;
    return 0;
}
