/* tools/rampartctl/rules_fields.c - the collectors' provides, read from
 * their plugin files without running them (rules_fields.h). */
#include "rules_fields.h"

#include "engine.h"
#include "lib/path.h"
#include "os/os.h"
#include "os/os_fs.h"
#include "runtime/host.h"

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static char *dup_printf(const char *fmt, ...) RP__PRINTF(1, 2);

static char *dup_printf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return dup_str(buf);
}

static rp__ctl_plugin *add_plugin(rp__ctl_fields *f, const char *name, const char *path)
{
    if (f->nplugins == RP__CTL_PLUGINS_MAX) {
        f->truncated = 1;
        return NULL;
    }
    if (f->nplugins == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        rp__ctl_plugin *p = realloc(f->plugins, cap * sizeof *p);
        if (!p)
            return NULL;
        f->plugins = p;
        f->cap = cap;
    }
    rp__ctl_plugin *p = &f->plugins[f->nplugins];
    memset(p, 0, sizeof *p);
    p->name = dup_str(name);
    p->path = dup_str(path);
    if (!p->name || !p->path) {
        free(p->name);
        free(p->path);
        return NULL;
    }
    f->nplugins++;
    return p;
}

/* Copies d's provides into p. */
static int copy_provides(rp__ctl_plugin *p, const rp_event_fields *pv)
{
    uint32_t n = 0;
    while (pv[n].event_type)
        n++;
    p->types = calloc(n ? n : 1, sizeof *p->types);
    if (!p->types)
        return RP_ERR_NOMEM;
    for (uint32_t t = 0; t < n; t++) {
        struct rp__ctl_ptype *pt = &p->types[t];
        p->ntypes = t + 1;
        uint32_t k = 0;
        while (pv[t].fields[k])
            k++;
        pt->type = dup_str(pv[t].event_type);
        pt->fields = calloc(k ? k : 1, sizeof *pt->fields);
        if (!pt->type || !pt->fields)
            return RP_ERR_NOMEM;
        for (uint32_t i = 0; i < k; i++) {
            if (!(pt->fields[i] = dup_str(pv[t].fields[i])))
                return RP_ERR_NOMEM;
            pt->nfields = i + 1;
        }
    }
    return 0;
}

/* Loads the file at p->path the way the agent's loader does, up to and
 * including the entry point and the descriptor checks, and keeps what it
 * provides. Problems go to p->status; only a lack of memory is returned. */
static int ask_plugin(rp__ctl_fields *f, rp__ctl_plugin *p)
{
    char why[512];
    char *real = NULL;
    int rc = rp__os_realpath(p->path, &real);
    if (rc != 0) {
        p->status =
            dup_printf("not read: %s", rc == RP_ERR_NOTFOUND ? "no such file" : rp_strerror(rc));
        return p->status ? 0 : RP_ERR_NOMEM;
    }
    free(p->path);
    p->path = real;
    rp__os_dl *dl = NULL;
    rc = rp__os_dl_open_trusted(p->path, &dl, why, sizeof why);
    if (rc != 0) {
        p->status = dup_printf("refused: %s%s", rc == RP_ERR_PERM ? "untrusted file: " : "", why);
        return p->status ? 0 : RP_ERR_NOMEM;
    }
    rp__os_fn fn = rp__os_dl_sym(dl, RP_ENTRY_SYMBOL);
    if (!fn) {
        rp__os_dl_forget(dl);
        p->status = dup_printf("refused: does not export %s", RP_ENTRY_SYMBOL);
        return p->status ? 0 : RP_ERR_NOMEM;
    }
    rp_plugin_entry_fn entry;
    memcpy(&entry, &fn, sizeof entry);
    const rp_plugin_descriptor *d = NULL;
    /* Only the entry point runs: it hands out the plugin's static
     * descriptor. init is never called, so the plugin starts nothing. */
    rc = entry(rp__host_api(), &d);
    /* The library stays loaded: the descriptor's strings live in it, and
     * code that ran may have left callbacks behind (the agent never
     * unloads either). */
    rp__os_dl_forget(dl);
    if (rc != 0 || !d) {
        p->status =
            dup_printf("refused: entry point failed: %s", rc ? rp_strerror(rc) : "no descriptor");
        return p->status ? 0 : RP_ERR_NOMEM;
    }
    if (d->struct_size < RP_DESCRIPTOR_SIZE_1_0 || d->abi_major != RP_ABI_MAJOR ||
        d->abi_minor > RP_ABI_MINOR) {
        p->status =
            dup_printf("refused: built for plugin ABI %u.%u; this rampartctl reads %d.%d",
                       (unsigned)d->abi_major, (unsigned)d->abi_minor, RP_ABI_MAJOR, RP_ABI_MINOR);
        return p->status ? 0 : RP_ERR_NOMEM;
    }
    if (d->id && !(p->id = dup_str(d->id)))
        return RP_ERR_NOMEM;
    p->kind = d->kind;
    if (d->struct_size < RP_DESCRIPTOR_SIZE_1_1 || !d->provides) {
        p->status = dup_printf("declares no fields (no provides in its descriptor)");
        return p->status ? 0 : RP_ERR_NOMEM;
    }
    if (rp__host_check_fields(d, why, sizeof why) != 0) {
        p->status = dup_printf("refused: %s", why);
        return p->status ? 0 : RP_ERR_NOMEM;
    }
    rc = copy_provides(p, d->provides);
    if (rc == 0)
        f->declaring++;
    return rc;
}

struct dir_walk {
    char **names;
    size_t n, cap;
    int nomem;
};

static int collect_so(void *arg, const char *name, uint64_t size)
{
    (void)size;
    struct dir_walk *w = arg;
    size_t len = strlen(name);
    if (len < 4 || strcmp(name + len - 3, ".so") != 0)
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        char **v = realloc(w->names, cap * sizeof *v);
        if (!v) {
            w->nomem = 1;
            return RP_ERR_NOMEM;
        }
        w->names = v;
        w->cap = cap;
    }
    if (!(w->names[w->n] = dup_str(name))) {
        w->nomem = 1;
        return RP_ERR_NOMEM;
    }
    w->n++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int rp__ctl_fields_from_dir(const char *dir, rp__ctl_fields **out)
{
    *out = NULL;
    char *real = NULL;
    int rc = rp__os_realpath(dir, &real);
    if (rc != 0)
        return rc;
    rp__ctl_fields *f = calloc(1, sizeof *f);
    struct dir_walk w = {0};
    if (!f || !(f->source = dup_printf("plugin folder %s", real))) {
        rc = RP_ERR_NOMEM;
        goto done;
    }
    rc = rp__os_dir_files(real, collect_so, &w);
    if (rc != 0)
        goto done;
    qsort(w.names, w.n, sizeof *w.names, by_name);
    for (size_t i = 0; i < w.n && rc == 0; i++) {
        char *path = rp__path_resolve(real, w.names[i]);
        rp__ctl_plugin *p = path ? add_plugin(f, w.names[i], path) : NULL;
        free(path);
        if (!p) {
            if (!f->truncated)
                rc = RP_ERR_NOMEM;
            break;
        }
        rc = ask_plugin(f, p);
    }
done:
    for (size_t i = 0; i < w.n; i++)
        free(w.names[i]);
    free(w.names);
    free(real);
    if (rc != 0) {
        rp__ctl_fields_destroy(f);
        return rc;
    }
    *out = f;
    return 0;
}

int rp__ctl_fields_from_config(const rp__config *cfg, rp__ctl_fields **out)
{
    *out = NULL;
    rp__ctl_fields *f = calloc(1, sizeof *f);
    if (!f || !(f->source = dup_printf("configuration %s", cfg->main_file))) {
        rp__ctl_fields_destroy(f);
        return RP_ERR_NOMEM;
    }
    int rc = 0;
    const char *name;
    json_t *entry;
    json_object_foreach(json_object_get(cfg->root, "plugins"), name, entry)
    {
        const char *file = json_string_value(json_object_get(entry, "file"));
        if (!json_is_true(json_object_get(entry, "enabled")) || !file)
            continue;
        /* Where the agent looks for the file (rp__host_plugin_path). */
        char *path = rp__os_path_is_absolute(file) ? rp__path_resolve("/", file)
                     : !strchr(file, '/')          ? rp__path_resolve(cfg->plugin_dir, file)
                                                   : rp__path_resolve(cfg->config_dir, file);
        rp__ctl_plugin *p = path ? add_plugin(f, name, path) : NULL;
        free(path);
        if (!p) {
            if (!f->truncated)
                rc = RP_ERR_NOMEM;
            break;
        }
        if ((rc = ask_plugin(f, p)) != 0)
            break;
    }
    if (rc != 0) {
        rp__ctl_fields_destroy(f);
        return rc;
    }
    *out = f;
    return 0;
}

void rp__ctl_fields_destroy(rp__ctl_fields *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nplugins; i++) {
        rp__ctl_plugin *p = &f->plugins[i];
        for (uint32_t t = 0; p->types && t < p->ntypes; t++) {
            for (uint32_t k = 0; k < p->types[t].nfields; k++)
                free(p->types[t].fields[k]);
            free(p->types[t].fields);
            free(p->types[t].type);
        }
        free(p->types);
        free(p->name);
        free(p->path);
        free(p->id);
        free(p->status);
    }
    free(f->plugins);
    free(f->source);
    free(f);
}

/* The host's rule (core/runtime/host_fields.c, star_covers): a "*" entry
 * covers the types the plugin names, or any type when it names none. */
static int star_covers(const rp__ctl_plugin *p, const char *type)
{
    int named = 0;
    for (uint32_t t = 0; t < p->ntypes; t++) {
        if (strcmp(p->types[t].type, "*") == 0)
            continue;
        if (strcmp(p->types[t].type, type) == 0)
            return 1;
        named = 1;
    }
    return !named;
}

/* Fields the host stamps on every event a collector publishes. */
static int implied(const char *field)
{
    return strcmp(field, "@timestamp") == 0 || strcmp(field, "event.id") == 0 ||
           strcmp(field, "event.kind") == 0 || strcmp(field, "event.truncated") == 0;
}

int rp__ctl_fields_filled(void *ctx, int type, const char *field)
{
    const rp__ctl_fields *f = ctx;
    const char *tname = ds_event_type_name(type);
    int imp = implied(field);
    for (size_t i = 0; i < f->nplugins; i++) {
        const rp__ctl_plugin *p = &f->plugins[i];
        if (p->status || !p->types)
            continue;
        int star = star_covers(p, tname);
        for (uint32_t t = 0; t < p->ntypes; t++) {
            const struct rp__ctl_ptype *pt = &p->types[t];
            if (!(strcmp(pt->type, "*") == 0 ? star : strcmp(pt->type, tname) == 0))
                continue;
            if (imp)
                return 1;
            for (uint32_t k = 0; k < pt->nfields; k++)
                if (strcmp(pt->fields[k], field) == 0)
                    return 1;
        }
    }
    return 0;
}
