/*
 * Test plugins for the ABI conformance tests, one source built once per
 * variant (-DVARIANT_<NAME>): a good one, and one for each way a plugin must
 * be refused. Only the SDK header is included (a frozen 1.0 copy for the
 * "frozen" variant).
 */
#include <rampart/plugin.h>

#include <string.h>

static int t_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    (void)self;
    *state = (void *)host;
#ifdef VARIANT_INIT_FAILS
    host->set_error(self, "cannot open /dev/test-device", 28);
    return RP_ERR_UNSUPPORTED;
#else
    return 0;
#endif
}

static int t_start(rp_plugin *self, void *state)
{
    const rp_host_api *host = state;
    /* Prove the plugin can use the host: one event, published. */
    rp_event *ev;
    rp_field_id f;
    int rc = host->event_create(self, "test.hello", 10, &ev);
    if (rc != 0)
        return rc;
    if ((rc = host->field_id(self, "abitest.variant", 15, RP_TYPE_STR, &f)) != 0 ||
        (rc = host->set_str(ev, f, VARIANT_NAME, strlen(VARIANT_NAME))) != 0) {
        host->event_release(ev);
        return rc;
    }
    return host->event_publish(self, ev);
}

#ifndef VARIANT_MISSING_STOP
static int t_stop(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
    return 0;
}
#endif

static void t_destroy(rp_plugin *self, void *state)
{
    (void)self;
    (void)state;
}

static const rp_plugin_descriptor descriptor = {
#ifdef VARIANT_SMALL_DESCRIPTOR
    .struct_size = 16,
#else
    .struct_size = sizeof(rp_plugin_descriptor),
#endif
    .abi_major = RP_ABI_MAJOR,
#ifdef VARIANT_NEWER_MINOR
    .abi_minor = RP_ABI_MINOR + 3,
#else
    .abi_minor = 0,
#endif
    .kind = RP_KIND_COLLECTOR,
#ifdef VARIANT_NEWER_SCHEMA
    .event_schema_version = RP_EVENT_SCHEMA_VERSION + 1,
#else
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
#endif
#ifdef VARIANT_RESERVED_SET
    .reserved = 7,
#endif
#ifdef VARIANT_DUP_ID
    .id = "org.rampart.test.frozen",
#else
    .id = "org.rampart.test." VARIANT_NAME,
#endif
    .version = "0.0.1",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "ABI conformance test plugin",
    .init = t_init,
    .start = t_start,
#ifndef VARIANT_MISSING_STOP
    .stop = t_stop,
#endif
    .destroy = t_destroy,
};

#if defined(VARIANT_OTHER_MAJOR)
RP_PLUGIN_EXPORT int rampart_plugin_entry_v2(const rp_host_api *host,
                                             const rp_plugin_descriptor **out);
RP_PLUGIN_EXPORT int rampart_plugin_entry_v2(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
#elif defined(VARIANT_NOT_A_PLUGIN)
RP_PLUGIN_EXPORT int some_other_library_function(const rp_host_api *host,
                                                 const rp_plugin_descriptor **out);
RP_PLUGIN_EXPORT int some_other_library_function(const rp_host_api *host,
                                                 const rp_plugin_descriptor **out)
#else
RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
#endif
{
    (void)host;
    *out = &descriptor;
    return 0;
}
