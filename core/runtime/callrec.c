/* core/runtime/callrec.c - per-thread call records (callrec.h). */
#include "runtime/callrec.h"
#include "os/os.h"
#include "os/os_thread.h"

#include <rampart/plugin.h>

#include <string.h>

struct rp__callrec *rp__callrec_table;

/* The slot this thread claimed; NULL until its first enter. A thread keeps
 * its slot for its life: claiming scans the table, entering must not. */
static _Thread_local struct rp__cr_slot *my_slot;
static _Thread_local struct rp__callrec *my_table;

static void stamp(struct rp__callrec *cr)
{
    cr->magic = RP__CR_MAGIC;
    cr->version = RP__CR_VERSION;
    cr->size = (uint32_t)sizeof *cr;
}

int rp__callrec_init(void)
{
    if (rp__callrec_table)
        return 0;
    struct rp__callrec *cr = rp__os_pages_alloc(sizeof *cr, 0);
    if (!cr)
        return RP_ERR_NOMEM;
    stamp(cr);
    atomic_store(&cr->worker_pid, (uint32_t)rp__os_getpid());
    rp__callrec_table = cr;
    return 0;
}

int rp__callrec_create_shared(struct rp__callrec **out)
{
    if (!out)
        return RP_ERR_INVAL;
    struct rp__callrec *cr = rp__os_pages_alloc(sizeof *cr, 1);
    if (!cr)
        return RP_ERR_NOMEM;
    stamp(cr);
    *out = cr;
    return 0;
}

void rp__callrec_destroy_shared(struct rp__callrec *cr)
{
    if (!cr)
        return;
    if (rp__callrec_table == cr)
        rp__callrec_table = NULL;
    rp__os_pages_free(cr, sizeof *cr);
}

void rp__callrec_use(struct rp__callrec *cr)
{
    rp__callrec_table = cr;
}

void rp__callrec_reset(struct rp__callrec *cr)
{
    if (!cr)
        return;
    /* Only between two workers: nothing writes to the table now. */
    memset(cr->plugins, 0, sizeof cr->plugins);
    memset(cr->slots, 0, sizeof cr->slots);
    memset(&cr->crash, 0, sizeof cr->crash);
    memset(&cr->exit, 0, sizeof cr->exit);
    atomic_store(&cr->nplugins, 0);
    atomic_store(&cr->slots_missed, 0);
    atomic_store(&cr->worker_pid, 0);
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1; /* the name is for people: a cut one still says enough */
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int rp__callrec_plugin_add(const char *name, const char *path, uint64_t dev, uint64_t ino,
                           uint64_t size, int64_t mtime_ns, uint32_t *index)
{
    if (!name || !index)
        return RP_ERR_INVAL;
    *index = 0;
    int rc = rp__callrec_init();
    if (rc != 0)
        return rc;
    struct rp__callrec *cr = rp__callrec_table;
    uint32_t i = atomic_fetch_add(&cr->nplugins, 1);
    if (i >= RP__CR_PLUGINS) {
        atomic_store(&cr->nplugins, RP__CR_PLUGINS);
        return RP_ERR_FULL;
    }
    struct rp__cr_plugin *p = &cr->plugins[i];
    copy_text(p->name, sizeof p->name, name);
    copy_text(p->path, sizeof p->path, path);
    p->dev = dev;
    p->ino = ino;
    p->size = size;
    p->mtime_ns = mtime_ns;
    p->nranges = 0;
    atomic_store(&p->hung, 0);
    atomic_store(&p->live, 1);
    *index = i + 1;
    return 0;
}

int rp__callrec_plugin_range(uint32_t index, uint64_t lo, uint64_t hi)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr || index == 0 || index > RP__CR_PLUGINS || lo >= hi)
        return RP_ERR_INVAL;
    struct rp__cr_plugin *p = &cr->plugins[index - 1];
    if (p->nranges >= RP__CR_RANGES)
        return RP_ERR_FULL;
    p->text_lo[p->nranges] = lo;
    p->text_hi[p->nranges] = hi;
    /* The crash handler reads nranges, then the ranges below it. */
    atomic_thread_fence(memory_order_release);
    p->nranges++;
    return 0;
}

void rp__callrec_plugin_gone(uint32_t index)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr || index == 0 || index > RP__CR_PLUGINS)
        return;
    atomic_store(&cr->plugins[index - 1].live, 0);
}

static struct rp__cr_slot *claim(void)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr)
        return NULL;
    if (my_slot && my_table == cr)
        return my_slot;
    my_slot = NULL;
    my_table = cr;
    uint32_t tid = rp__os_thread_tid();
    for (uint32_t i = 0; i < RP__CR_SLOTS; i++) {
        uint32_t free_tid = 0;
        if (atomic_load_explicit(&cr->slots[i].tid, memory_order_relaxed) == 0 &&
            atomic_compare_exchange_strong(&cr->slots[i].tid, &free_tid, tid)) {
            my_slot = &cr->slots[i];
            return my_slot;
        }
    }
    atomic_fetch_add_explicit(&cr->slots_missed, 1, memory_order_relaxed);
    return NULL;
}

/* Only the slot's own thread writes seq: a load and a store, not a locked
 * read-modify-write, on every call into a plugin. */
static inline void bump(struct rp__cr_slot *s)
{
    atomic_store_explicit(&s->seq, atomic_load_explicit(&s->seq, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

uint64_t rp__callrec_enter(uint32_t index, enum rp__cr_kind kind)
{
    struct rp__cr_slot *s = (my_slot && my_table == rp__callrec_table) ? my_slot : claim();
    if (!s)
        return 0;
    uint32_t prev_plugin = atomic_load_explicit(&s->plugin, memory_order_relaxed);
    uint32_t prev_kind = atomic_load_explicit(&s->kind, memory_order_relaxed);
    atomic_store_explicit(&s->kind, (uint32_t)kind, memory_order_relaxed);
    atomic_store_explicit(&s->plugin, index, memory_order_relaxed);
    bump(s);
    return (uint64_t)prev_plugin << 32 | prev_kind;
}

void rp__callrec_leave(uint64_t saved)
{
    struct rp__cr_slot *s = my_slot;
    if (!s || my_table != rp__callrec_table)
        return;
    atomic_store_explicit(&s->plugin, (uint32_t)(saved >> 32), memory_order_relaxed);
    atomic_store_explicit(&s->kind, (uint32_t)saved, memory_order_relaxed);
    /* A return to an outer call is a new state for the watchdog too. */
    bump(s);
}

struct rp__cr_slot *rp__callrec_slot(void)
{
    return my_table == rp__callrec_table ? my_slot : NULL;
}

void rp__callrec_thread_exit(void)
{
    struct rp__cr_slot *s = rp__callrec_slot();
    if (!s)
        return;
    atomic_store(&s->plugin, 0);
    atomic_store(&s->kind, 0);
    atomic_store(&s->tid, 0);
    my_slot = NULL;
}

uint32_t rp__callrec_plugin_at(const struct rp__callrec *cr, uint64_t pc)
{
    if (!cr || pc == 0)
        return 0;
    uint32_t n = atomic_load_explicit(&((struct rp__callrec *)cr)->nplugins, memory_order_acquire);
    if (n > RP__CR_PLUGINS)
        n = RP__CR_PLUGINS;
    for (uint32_t i = 0; i < n; i++) {
        const struct rp__cr_plugin *p = &cr->plugins[i];
        /* An unloaded plugin's addresses may hold another library now. */
        if (!atomic_load_explicit((_Atomic uint32_t *)&p->live, memory_order_relaxed))
            continue;
        uint32_t nr = p->nranges;
        if (nr > RP__CR_RANGES)
            nr = RP__CR_RANGES;
        for (uint32_t r = 0; r < nr; r++)
            if (pc >= p->text_lo[r] && pc < p->text_hi[r])
                return i + 1;
    }
    return 0;
}

const char *rp__callrec_kind_name(uint32_t kind)
{
    static const char *const names[RP__CR_KINDS] = {
        [RP__CR_NONE] = "core",
        [RP__CR_ENTRY] = "entry",
        [RP__CR_CHECK_CONFIG] = "check_config",
        [RP__CR_INIT] = "init",
        [RP__CR_START] = "start",
        [RP__CR_STOP] = "stop",
        [RP__CR_DESTROY] = "destroy",
        [RP__CR_RECONFIGURE] = "reconfigure",
        [RP__CR_EVENT] = "on_event",
        [RP__CR_COMMAND] = "on_command",
        [RP__CR_TIMER] = "timer",
        [RP__CR_FD] = "fd watch",
        [RP__CR_JOB] = "job",
        [RP__CR_JOB_DONE] = "job done",
        [RP__CR_OWN_THREAD] = "its own thread",
    };
    return kind < RP__CR_KINDS && names[kind] ? names[kind] : "unknown";
}

void rp__callrec_crash(int signo, int code, uint64_t pc, uint64_t addr)
{
    struct rp__callrec *cr = rp__callrec_table;
    if (!cr)
        return;
    uint32_t none = 0;
    /* First fault wins: a second thread faulting meanwhile is not the cause. */
    if (!atomic_compare_exchange_strong(&cr->crash.signo, &none, (uint32_t)signo))
        return;
    struct rp__cr_slot *s = rp__callrec_slot();
    uint32_t plugin = s ? atomic_load_explicit(&s->plugin, memory_order_relaxed) : 0;
    uint32_t kind = s ? atomic_load_explicit(&s->kind, memory_order_relaxed) : RP__CR_NONE;
    if (plugin == 0) {
        /* Not inside a callback: a thread the plugin made, found by address. */
        uint32_t at = rp__callrec_plugin_at(cr, pc);
        if (at) {
            plugin = at;
            kind = RP__CR_OWN_THREAD;
        }
    }
    cr->crash.code = code;
    cr->crash.tid = rp__os_thread_tid();
    cr->crash.plugin = plugin;
    cr->crash.kind = kind;
    cr->crash.pc = pc;
    cr->crash.addr = addr;
}
