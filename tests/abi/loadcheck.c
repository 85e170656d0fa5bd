/*
 * abi_loadcheck PLUGIN.so - loads a plugin the way the agent does, in a
 * process that is not the agent and exports nothing to it: dlopen with
 * RTLD_NOW | RTLD_LOCAL fails if the plugin needs any symbol it does not
 * bring itself (or get from its own libraries). Then calls the entry with an
 * empty host table and checks the descriptor's header. Exit 0 when loadable.
 */
#include <rampart/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: abi_loadcheck PLUGIN.so\n");
        return 64;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "%s: dlopen: %s\n", argv[1], dlerror());
        return 1;
    }
    void *sym = dlsym(h, RP_ENTRY_SYMBOL);
    if (!sym) {
        fprintf(stderr, "%s: no %s\n", argv[1], RP_ENTRY_SYMBOL);
        return 1;
    }
    rp_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    rp_host_api host;
    memset(&host, 0, sizeof host);
    host.struct_size = sizeof host;
    host.abi_major = RP_ABI_MAJOR;
    host.abi_minor = RP_ABI_MINOR;
    const rp_plugin_descriptor *d = NULL;
    int rc = entry(&host, &d);
    if (rc != 0 || !d) {
        fprintf(stderr, "%s: entry returned %d (%s)\n", argv[1], rc, rp_strerror(rc));
        return 1;
    }
    if (d->struct_size < RP_DESCRIPTOR_SIZE_1_0 || d->abi_major != RP_ABI_MAJOR || !d->id) {
        fprintf(stderr, "%s: bad descriptor (size %u, ABI %u.%u)\n", argv[1],
                (unsigned)d->struct_size, (unsigned)d->abi_major, (unsigned)d->abi_minor);
        return 1;
    }
    printf("%s: %s %s, ABI %u.%u, descriptor %u bytes\n", argv[1], d->id,
           d->version ? d->version : "?", (unsigned)d->abi_major, (unsigned)d->abi_minor,
           (unsigned)d->struct_size);
    return 0;
}
