/* core/output/curl_api.c - loading libcurl on first use (curl_api.h). */
#define RP__CURL_API_IMPL 1
#include "output/curl_api.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <string.h>

struct rp__curl_api rp__curl;

static rp__os_once_flag load_once = RP__OS_ONCE_INIT;
static int load_rc = RP_ERR_UNSUPPORTED;
static char load_err[256];

static void load(void *arg)
{
    (void)arg;
    void *lib = rp__os_lib_open(RP__CURL_SONAME, load_err, sizeof load_err);
    if (!lib)
        return;
    struct rp__curl_api api;
    rp__os_fn fn;
#define RP__CURL_RESOLVE(name)                                                                     \
    fn = rp__os_lib_sym(lib, #name);                                                               \
    if (!fn) {                                                                                     \
        snprintf(load_err, sizeof load_err, "%s has no %s (libcurl 7.84 or later is needed)",      \
                 RP__CURL_SONAME, #name);                                                          \
        return;                                                                                    \
    }                                                                                              \
    memcpy(&api.name, &fn, sizeof fn);
    RP__CURL_FUNCTIONS(RP__CURL_RESOLVE)
#undef RP__CURL_RESOLVE
    rp__curl = api;
    load_rc = 0;
}

int rp__curl_load(char *err, size_t errlen)
{
    rp__os_once(&load_once, load, NULL);
    if (load_rc != 0 && err && errlen)
        snprintf(err, errlen, "libcurl cannot be loaded: %s", load_err);
    return load_rc;
}
