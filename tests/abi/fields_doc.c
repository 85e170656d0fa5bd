/*
 * fields_doc OUT.md PLUGIN.so... - writes the SDK's table of the fields each
 * collector fills per event type (sdk/docs/fields.md) from the plugins' own
 * declarations: each file is loaded, its entry called, and its descriptor's
 * provides read, checked as the agent's loader checks it, and written out.
 * The test abi.fields_doc compares the committed file with what this writes;
 * `cmake --build build --target fields-doc` rewrites it.
 */
#include "runtime/fields.h"
#include "runtime/host.h"
#include "runtime/host_private.h"

#include <rampart/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct plugin {
    const char *file; /* base name without .so */
    const rp_plugin_descriptor *d;
};

static int by_file(const void *a, const void *b)
{
    return strcmp(((const struct plugin *)a)->file, ((const struct plugin *)b)->file);
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The type of a field the agent knows, or what a custom one is. */
static const char *type_of(const char *field)
{
    rp_field_id id = rp__field_lookup(field, strlen(field));
    return id ? rp__type_name(rp__field_type(id)) : "custom";
}

/* Whether entry e lists field f. */
static int lists(const rp_event_fields *e, const char *f)
{
    for (size_t i = 0; e->fields[i]; i++)
        if (strcmp(e->fields[i], f) == 0)
            return 1;
    return 0;
}

/* Whether d declares f for column entry c: in c itself or, beside named types,
 * in the "*" entry that every type the plugin publishes carries (star, or
 * NULL). */
static int fills(const rp_event_fields *c, const rp_event_fields *star, const char *f)
{
    return lists(c, f) || (star && lists(star, f));
}

static int is_star(const rp_event_fields *e)
{
    return strcmp(e->event_type, "*") == 0;
}

static void write_plugin(FILE *out, const struct plugin *p)
{
    const rp_plugin_descriptor *d = p->d;
    fprintf(out, "## %s\n\n`%s` %s: %s\n\n", p->file, d->id, d->version, d->description);
    if (d->field_namespace)
        fprintf(out, "Custom fields under `%s.`.\n\n", d->field_namespace);
    if (!d->provides || !d->provides[0].event_type) {
        fprintf(out, "Declares no fields.\n\n");
        return;
    }
    /* One column per named event type, with the "*" entry's fields in each;
     * "*" gets a column of its own only when it is all the plugin lists. */
    const rp_event_fields *star = NULL, *cols[RP__PROVIDES_MAX_TYPES];
    size_t ntypes = 0, ncols = 0;
    for (; d->provides[ntypes].event_type; ntypes++) {
        if (is_star(&d->provides[ntypes]))
            star = &d->provides[ntypes];
        else
            cols[ncols++] = &d->provides[ntypes];
    }
    if (ncols == 0) {
        cols[ncols++] = star;
        star = NULL;
    }
    fprintf(out, "| field | type |");
    for (size_t c = 0; c < ncols; c++)
        fprintf(out, " `%s` |", cols[c]->event_type);
    fprintf(out, "\n|---|---|");
    for (size_t c = 0; c < ncols; c++)
        fprintf(out, ":-:|");
    fprintf(out, "\n");
    /* Each field once, in the order of its first mention. */
    for (size_t t = 0; t < ntypes; t++) {
        for (size_t i = 0; d->provides[t].fields[i]; i++) {
            const char *f = d->provides[t].fields[i];
            int seen = 0;
            for (size_t u = 0; u < t && !seen; u++)
                seen = lists(&d->provides[u], f);
            if (seen)
                continue;
            fprintf(out, "| `%s` | %s |", f, type_of(f));
            for (size_t c = 0; c < ncols; c++)
                fprintf(out, " %s |", fills(cols[c], star, f) ? "x" : "");
            fprintf(out, "\n");
        }
    }
    fprintf(out, "\n");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s OUT.md PLUGIN.so...\n", argv[0]);
        return 2;
    }
    struct plugin *ps = calloc((size_t)argc, sizeof *ps);
    size_t n = 0;
    if (!ps)
        return 1;
    for (int i = 2; i < argc; i++) {
        void *dl = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
            fprintf(stderr, "%s: %s\n", argv[i], dlerror());
            return 1;
        }
        rp_plugin_entry_fn entry;
        void *sym = dlsym(dl, RP_ENTRY_SYMBOL);
        if (!sym) {
            fprintf(stderr, "%s: no %s\n", argv[i], RP_ENTRY_SYMBOL);
            return 1;
        }
        memcpy(&entry, &sym, sizeof entry);
        const rp_plugin_descriptor *d = NULL;
        if (entry(rp__host_api(), &d) != 0 || !d) {
            fprintf(stderr, "%s: the entry point failed\n", argv[i]);
            return 1;
        }
        char why[512];
        if (d->struct_size >= RP_DESCRIPTOR_SIZE_1_1 &&
            rp__host_check_fields(d, why, sizeof why) != 0) {
            fprintf(stderr, "%s (%s): %s\n", argv[i], d->id, why);
            return 1;
        }
        if (d->kind != RP_KIND_COLLECTOR &&
            (d->struct_size < RP_DESCRIPTOR_SIZE_1_1 || !d->provides))
            continue; /* a detector or responder that publishes nothing of its own */
        static char names[64][128];
        if (n >= 64)
            return 1;
        snprintf(names[n], sizeof names[n], "%s", base_name(argv[i]));
        char *dot = strrchr(names[n], '.');
        if (dot)
            *dot = '\0';
        ps[n].file = names[n];
        ps[n].d = d;
        n++;
    }
    qsort(ps, n, sizeof *ps, by_file);
    FILE *out = fopen(argv[1], "w");
    if (!out) {
        perror(argv[1]);
        return 1;
    }
    fprintf(out, "# Fields per collector and event type\n\n"
                 "Generated from each collector's descriptor (`provides`, ABI 1.1) by\n"
                 "`tests/abi/fields_doc.c`; do not edit it by hand. After changing a\n"
                 "declaration, run `cmake --build build --target fields-doc`; the test\n"
                 "`abi.fields_doc` fails while this file differs from the declarations.\n\n"
                 "A field is listed for an event type when the collector may fill it for\n"
                 "events of that type (some only when the value is known: see the\n"
                 "collector's README). Every event also carries the host's `@timestamp`,\n"
                 "`event.id` and `event.kind` (and `event.truncated` when a value was cut),\n"
                 "which are not listed. At run time, `field_provided` answers the same\n"
                 "question for the collectors that are running (see plugin-guide.md).\n"
                 "A type \"custom\" is a plugin's own field, typed when it registers it.\n\n");
    for (size_t i = 0; i < n; i++)
        write_plugin(out, &ps[i]);
    if (fclose(out) != 0) {
        perror(argv[1]);
        return 1;
    }
    free(ps);
    return 0;
}
