/* core/supervisor.c - rampartd's supervisor and its worker side
 * (supervisor.h). */
#include "supervisor.h"

#include "exitcodes.h"
#include "lib/log.h"
#include "os/os.h"
#include "os/os_sup.h"
#include "runtime/faults.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A worker that lived this long starts the backoff over. */
#define BACKOFF_RESET_MS 60000
/* Beyond agent.stop_grace_ms, what a stop may take before SIGKILL: the
 * worker's own watchdog exits at the grace; this covers its exit. */
#define STOP_MARGIN_MS 3000
/* A fault in a plugin restarts the worker at once this many times in a row
 * (the ledger disables the plugin before, at agent.plugin_faults.max); past
 * that, as for a crash in the core, the backoff holds. */
#define QUICK_RESTARTS 10
#define CPU_WINDOW_MAX 3600

/* The worker's side: set in the child by rp__supervise. */
static int supervised;
static struct rp__callrec *sup_table;
static long sup_pid;

int rp__supervised(void)
{
    return supervised;
}

long rp__supervisor_pid(void)
{
    return supervised ? sup_pid : 0;
}

void rp__worker_ready(void)
{
    if (supervised)
        rp__os_sup_worker_ready();
}

int rp__worker_request_restart(const char *why)
{
    if (!supervised || !sup_table)
        return RP_ERR_UNSUPPORTED;
    uint32_t none = RP__CR_EXIT_NONE;
    snprintf(sup_table->exit.detail, sizeof sup_table->exit.detail, "plugin %s enabled again",
             why ? why : "?");
    if (!atomic_compare_exchange_strong(&sup_table->exit.cause, &none, RP__CR_EXIT_RESTART))
        return RP_ERR_BUSY; /* already exiting for another reason */
    return 0;
}

void rp__worker_restart_signal(void)
{
    rp__os_sup_signal(rp__os_getpid(), RP__OS_SUP_SIGTERM);
}

json_t *rp__supervisor_status(void)
{
    if (!supervised || !sup_table)
        return NULL;
    json_t *o = json_object();
    json_object_set_new(o, "pid", json_integer(sup_pid));
    uint32_t n = atomic_load(&sup_table->restart_seq);
    json_object_set_new(o, "restarts", json_integer(n));
    json_object_set_new(o, "last_cause", n ? json_string(sup_table->restart_cause) : json_null());
    return o;
}

const char *rp__supervisor_restart_cause(uint32_t *restarts)
{
    if (!supervised || !sup_table)
        return NULL;
    uint32_t n = atomic_load(&sup_table->restart_seq);
    if (restarts)
        *restarts = n;
    return n ? sup_table->restart_cause : NULL;
}

/* ---- the supervisor ------------------------------------------------------------- */

static int permanent(int code)
{
    return code == RP_EX_USAGE || code == RP_EX_CONFIG || code == RP_EX_UNAVAILABLE ||
           code == RP_EX_CANTCREAT;
}

struct sup {
    const rp__sup_opts *o;
    struct rp__callrec *cr;
    uint32_t restarts;
    uint32_t quick; /* plugin crashes in a row restarted at once */
    uint32_t backoff_ms;
    int told_terminal;
    int ever_ready; /* a worker ran: a later failure is not a start-up's */
    /* CPU samples, one a second, of the running worker. */
    int64_t cpu[CPU_WINDOW_MAX + 1];
    uint32_t ncpu;
};

/* The plugin record idx (index + 1) of the worker that died, as the fault
 * ledger wants it; 0 when unknown. */
static int fault_of(struct rp__callrec *cr, uint32_t idx, struct rp__fault *f)
{
    if (idx == 0 || idx > RP__CR_PLUGINS)
        return 0;
    const struct rp__cr_plugin *p = &cr->plugins[idx - 1];
    if (!p->name[0])
        return 0;
    f->plugin = p->name;
    f->path = p->path[0] ? p->path : NULL;
    f->dev = p->dev;
    f->ino = p->ino;
    f->size = p->size;
    f->mtime_ns = p->mtime_ns;
    return 1;
}

static void cpu_reset(struct sup *s)
{
    s->ncpu = 0;
}

/* The worker's CPU share and memory, checked once a second: a reason to
 * restart it in why, or 0. */
static int over_budget(struct sup *s, long pid, char *why, size_t len)
{
    int64_t cpu = 0;
    uint64_t rss = 0;
    if (rp__os_sup_usage(pid, &cpu, &rss) != 0)
        return 0;
    const rp__sup_opts *o = s->o;
    if (o->memory_mb && rss > (uint64_t)o->memory_mb << 20) {
        snprintf(why, len,
                 "worker over its memory budget: %llu MiB resident > %u MiB "
                 "(agent.supervisor.memory_mb)",
                 (unsigned long long)(rss >> 20), o->memory_mb);
        return 1;
    }
    if (!o->cpu_percent)
        return 0;
    uint32_t w = o->cpu_window_s < CPU_WINDOW_MAX ? o->cpu_window_s : CPU_WINDOW_MAX;
    if (s->ncpu < w + 1) {
        s->cpu[s->ncpu++] = cpu;
    } else {
        memmove(s->cpu, s->cpu + 1, w * sizeof s->cpu[0]);
        s->cpu[w] = cpu;
    }
    if (s->ncpu < w + 1)
        return 0;
    int64_t used = s->cpu[w] - s->cpu[0];
    uint64_t pct = (uint64_t)(used > 0 ? used : 0) / 10000000u / w; /* ns -> % of one CPU */
    if (pct > o->cpu_percent) {
        snprintf(why, len,
                 "worker over its CPU budget: %llu%% of a CPU for %u s > %u%% "
                 "(agent.supervisor.cpu_percent)",
                 (unsigned long long)pct, w, o->cpu_percent);
        return 1;
    }
    return 0;
}

/* What the supervisor does after the worker ended. */
enum next { NEXT_EXIT, NEXT_RESTART_NOW, NEXT_RESTART_BACKOFF };

static enum next judge(struct sup *s, long pid, int code, int signo, int stopping, int ready,
                       const char *budget_why, char *cause, size_t len, int *exit_code)
{
    struct rp__callrec *cr = s->cr;
    char sig[32];
    *exit_code = code >= 0 ? code : RP_EX_SOFTWARE;
    uint32_t exit_cause = atomic_load(&cr->exit.cause);
    if (stopping) {
        if (signo)
            rp__log_error("worker (pid %ld) ended by %s while stopping", pid,
                          rp__os_signal_name(signo, sig, sizeof sig));
        return NEXT_EXIT;
    }
    if (signo == 0 && permanent(code)) {
        rp__log_error("worker (pid %ld) exited with status %d (%s): not restarted", pid, code,
                      ready ? "after it ran" : "at start-up");
        return NEXT_EXIT;
    }
    if (budget_why) {
        snprintf(cause, len, "worker restarted: %s", budget_why);
        rp__log_error("%s", cause);
        return NEXT_RESTART_BACKOFF;
    }
    if (signo) {
        uint32_t csig = atomic_load(&cr->crash.signo);
        struct rp__fault f = {.kind = RP__FAULT_CRASH, .signo = signo};
        if (csig && fault_of(cr, cr->crash.plugin, &f)) {
            f.callback = rp__callrec_kind_name(cr->crash.kind);
            char detail[256];
            snprintf(detail, sizeof detail, "%s (code %d) at pc 0x%llx, address 0x%llx, tid %u",
                     rp__os_signal_name((int)csig, sig, sizeof sig), cr->crash.code,
                     (unsigned long long)cr->crash.pc, (unsigned long long)cr->crash.addr,
                     cr->crash.tid);
            f.detail = detail;
            f.signo = (int)csig;
            snprintf(cause, len, "worker restarted after %s in plugin %s (%s)",
                     rp__os_signal_name((int)csig, sig, sizeof sig), f.plugin, f.callback);
            rp__log_error("worker (pid %ld) died of %s in plugin %s (%s): pc 0x%llx, address "
                          "0x%llx; restarting it",
                          pid, sig, f.plugin, f.callback, (unsigned long long)cr->crash.pc,
                          (unsigned long long)cr->crash.addr);
            if (rp__faults_report(&f) == 1) {
                size_t n = strlen(cause);
                snprintf(cause + n, len - n, "; plugin %s is now disabled", f.plugin);
            }
            return NEXT_RESTART_NOW;
        }
        if (csig) {
            snprintf(cause, len, "worker restarted after %s in the core",
                     rp__os_signal_name((int)csig, sig, sizeof sig));
            rp__log_error("worker (pid %ld) died of %s in the core (pc 0x%llx, address 0x%llx); "
                          "restarting it",
                          pid, sig, (unsigned long long)cr->crash.pc,
                          (unsigned long long)cr->crash.addr);
        } else {
            snprintf(cause, len, "worker restarted after it was killed by %s",
                     rp__os_signal_name(signo, sig, sizeof sig));
            rp__log_error("worker (pid %ld) was killed by %s; restarting it", pid, sig);
        }
        return NEXT_RESTART_BACKOFF;
    }
    if (exit_cause == RP__CR_EXIT_HANG || exit_cause == RP__CR_EXIT_BUDGET) {
        struct rp__fault f = {.kind = exit_cause == RP__CR_EXIT_HANG ? RP__FAULT_HANG
                                                                     : RP__FAULT_BUDGET};
        const char *what = exit_cause == RP__CR_EXIT_HANG ? "a hang" : "a budget overrun";
        cr->exit.detail[sizeof cr->exit.detail - 1] = '\0';
        if (fault_of(cr, cr->exit.plugin, &f)) {
            f.callback = rp__callrec_kind_name(cr->exit.kind);
            f.detail = cr->exit.detail[0] ? cr->exit.detail : NULL;
            snprintf(cause, len, "worker restarted after %s in plugin %s (%s)", what, f.plugin,
                     f.callback);
            rp__log_error("worker (pid %ld) exited after %s in plugin %s (%s): %s; restarting it",
                          pid, what, f.plugin, f.callback, cr->exit.detail);
            if (rp__faults_report(&f) == 1) {
                size_t n = strlen(cause);
                snprintf(cause + n, len - n, "; plugin %s is now disabled", f.plugin);
            }
            return NEXT_RESTART_NOW;
        }
        /* The cause is cut to what the restart alert carries. */
        snprintf(cause, len, "worker restarted after %s: %.400s", what, cr->exit.detail);
        rp__log_error("worker (pid %ld) exited after %s: %s; restarting it", pid, what,
                      cr->exit.detail);
        return NEXT_RESTART_BACKOFF;
    }
    if (exit_cause == RP__CR_EXIT_RESTART) {
        cr->exit.detail[sizeof cr->exit.detail - 1] = '\0';
        snprintf(cause, len, "worker restarted on request: %.400s",
                 cr->exit.detail[0] ? cr->exit.detail : "asked through the control socket");
        rp__log_info("worker (pid %ld) asked to be restarted: %s", pid, cr->exit.detail);
        s->quick = 0; /* not a fault */
        return NEXT_RESTART_NOW;
    }
    if (code > 0 && !s->ever_ready) {
        /* No worker ever ran: a failed start-up ends rampartd with its
         * status, as before the supervisor (a crash is retried above). */
        rp__log_error("worker (pid %ld) failed at start-up with status %d: not restarted", pid,
                      code);
        return NEXT_EXIT;
    }
    if (code == 0 || exit_cause == RP__CR_EXIT_STOP) {
        /* Stopped by someone who signalled the worker itself: a stop, also
         * when it had to cut the stop short (agent.stop_grace_ms). */
        rp__log_info("worker (pid %ld) stopped", pid);
        return NEXT_EXIT;
    }
    snprintf(cause, len, "worker restarted after it exited with status %d", code);
    rp__log_error("worker (pid %ld) exited with status %d; restarting it", pid, code);
    return NEXT_RESTART_BACKOFF;
}

/* Waits ms for a stop signal (1: one came; its number in *signo). */
static int sleep_or_stop(uint32_t ms, int *signo)
{
    int64_t end = rp__os_monotonic_ns() + (int64_t)ms * 1000000;
    for (;;) {
        int64_t left = (end - rp__os_monotonic_ns()) / 1000000;
        if (left <= 0)
            return 0;
        enum rp__os_sup_wake what;
        rp__os_sup_wait(-1, (int)left, &what, signo);
        if (what == RP__OS_SUP_STOP)
            return 1;
    }
}

int rp__supervise(const rp__sup_opts *o, struct rp__callrec *cr)
{
    struct sup *s = calloc(1, sizeof *s);
    if (!s)
        return RP_EX_OSERR;
    s->o = o;
    s->cr = cr;
    s->backoff_ms = o->backoff_min_ms;
    if (!o->foreground && rp__os_sup_detach_begin() != 0) {
        fprintf(stderr, "rampartd: cannot detach from the terminal\n");
        free(s);
        return RP_EX_OSERR;
    }
    if (rp__os_sup_signals() != 0) {
        fprintf(stderr, "rampartd: cannot set up signal handling\n");
        rp__os_sup_detach_done(RP_EX_OSERR);
        free(s);
        return RP_EX_OSERR;
    }
    long self = rp__os_getpid();
    int result = RP_EX_OK;
    for (;;) {
        rp__callrec_reset(cr);
        long pid = 0;
        int ready_fd = -1;
        if (rp__os_sup_fork(&pid, &ready_fd) != 0) {
            rp__log_error("supervisor: cannot start the worker; retrying in %u ms", s->backoff_ms);
            int sig;
            if (sleep_or_stop(s->backoff_ms ? s->backoff_ms : 1000, &sig))
                break;
            continue;
        }
        if (pid == 0) {
            /* The worker. */
            supervised = 1;
            sup_table = cr;
            sup_pid = self;
            rp__callrec_use(cr);
            atomic_store(&cr->worker_pid, (uint32_t)rp__os_getpid());
            free(s);
            exit(o->worker(o->arg));
        }
        rp__log_debug("supervisor: worker pid %ld started", pid);
        int64_t started = rp__os_monotonic_ns();
        int ready = 0, stopping = 0, killed = 0, code = 0, signo = 0;
        int64_t kill_at = 0, next_tick = started + 1000000000;
        char budget_why[256] = "";
        cpu_reset(s);
        for (;;) {
            int64_t now = rp__os_monotonic_ns();
            int timeout = (int)((next_tick - now) / 1000000);
            if (kill_at && (kill_at - now) / 1000000 < timeout)
                timeout = (int)((kill_at - now) / 1000000);
            enum rp__os_sup_wake what;
            int got = 0;
            rp__os_sup_wait(ready_fd, timeout > 0 ? timeout : 0, &what, &got);
            if (what == RP__OS_SUP_STOP && !stopping) {
                stopping = 1;
                rp__log_info("supervisor: stopping the worker (pid %ld)", pid);
                rp__os_sup_signal(pid, rp__os_sup_sig_of(got));
                kill_at =
                    rp__os_monotonic_ns() + ((int64_t)o->stop_grace_ms + STOP_MARGIN_MS) * 1000000;
            } else if (what == RP__OS_SUP_RELOAD) {
                rp__os_sup_signal(pid, RP__OS_SUP_SIGHUP);
            } else if (what == RP__OS_SUP_READY) {
                ready = rp__os_sup_ready_read(ready_fd);
                rp__os_sup_close(ready_fd);
                ready_fd = -1;
                if (ready)
                    s->ever_ready = 1;
                if (ready && !s->told_terminal) {
                    /* The first worker runs: the terminal gets its status. */
                    s->told_terminal = 1;
                    rp__os_sup_detach_done(RP_EX_OK);
                }
            }
            if (rp__os_sup_reap(pid, &code, &signo) == 1)
                break;
            now = rp__os_monotonic_ns();
            if (kill_at && now >= kill_at && !killed) {
                killed = 1;
                rp__log_error("supervisor: the worker (pid %ld) did not end within %u ms; "
                              "killing it",
                              pid,
                              (stopping ? o->stop_grace_ms : o->stop_grace_ms) + STOP_MARGIN_MS);
                rp__os_sup_signal(pid, RP__OS_SUP_SIGKILL);
            }
            if (now >= next_tick) {
                next_tick = now + 1000000000;
                if (ready && !stopping && !budget_why[0] &&
                    over_budget(s, pid, budget_why, sizeof budget_why)) {
                    rp__log_error("supervisor: %s; stopping it", budget_why);
                    rp__os_sup_signal(pid, RP__OS_SUP_SIGTERM);
                    kill_at = now + ((int64_t)o->stop_grace_ms + STOP_MARGIN_MS) * 1000000;
                }
            }
        }
        rp__os_sup_close(ready_fd);
        int64_t lived_ms = (rp__os_monotonic_ns() - started) / 1000000;
        char cause[RP__CR_TEXT_MAX] = "";
        int exit_code = 0;
        enum next n = judge(s, pid, code, signo, stopping, ready, budget_why[0] ? budget_why : NULL,
                            cause, sizeof cause, &exit_code);
        if (n == NEXT_EXIT) {
            result = stopping ? (code >= 0 ? code : RP_EX_SOFTWARE) : exit_code;
            if (stopping && signo == 0 && code < 0)
                result = RP_EX_SOFTWARE;
            break;
        }
        if (lived_ms >= BACKOFF_RESET_MS) {
            s->backoff_ms = o->backoff_min_ms;
            s->quick = 0;
        }
        uint32_t delay = 0;
        if (n == NEXT_RESTART_NOW && s->quick < QUICK_RESTARTS) {
            s->quick++;
        } else {
            delay = s->backoff_ms;
            uint64_t next = (uint64_t)s->backoff_ms * 2;
            s->backoff_ms = (uint32_t)(next > o->backoff_max_ms ? o->backoff_max_ms : next);
            if (s->backoff_ms < o->backoff_min_ms)
                s->backoff_ms = o->backoff_min_ms;
        }
        s->restarts++;
        snprintf(cr->restart_cause, sizeof cr->restart_cause, "%s", cause);
        atomic_store(&cr->restart_seq, s->restarts);
        if (delay)
            rp__log_info("supervisor: restarting the worker in %u ms (restart %u)", delay,
                         s->restarts);
        int sig;
        if (delay && sleep_or_stop(delay, &sig)) {
            rp__log_info("supervisor: stop asked while waiting to restart the worker");
            break;
        }
    }
    if (!s->told_terminal)
        rp__os_sup_detach_done(result);
    free(s);
    return result;
}
