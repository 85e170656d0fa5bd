/*
 * tools/rampartctl/view.c - how rampartctl shows what the agent answers
 * (see view.h).
 *
 * The answer is the agent's, but its strings are not all the agent's own: a
 * plugin's name, state, error, counter and gauge names come from plugins,
 * third-party ones included, and status.json is read from disk when the
 * agent does not answer. So every string is printed through show(), which
 * replaces what a terminal acts on (bytes below 0x20 and DEL) with '?': an
 * answer cannot move the cursor, rewrite what was printed or add lines.
 */
#include "view.h"

#include <rampart/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* NAME .. COUNTERS, and GAUGES when a plugin reports any. */
#define PCOLS 12

/* Replaces, in place, every byte a terminal acts on with '?'. */
static char *show(char *s)
{
    for (char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return s;
}

long long rp__ctl_num(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

const char *rp__ctl_str(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : "?";
}

/* A string of the answer (rp__ctl_str) in buf, as show() has it. */
static const char *shown(char *buf, size_t cap, const json_t *o, const char *a, const char *b)
{
    snprintf(buf, cap, "%s", rp__ctl_str(o, a, b));
    return show(buf);
}

/* A cell of name=value pairs (counters, gauges), cut at a whole pair; "-"
 * when there are none. A value that is not an integer is shown as JSON. */
static void kv_cell(const json_t *obj, char *c, size_t cap)
{
    size_t used = 0;
    const char *name;
    json_t *v;
    c[0] = '\0';
    json_object_foreach((json_t *)obj, name, v)
    {
        char val[64];
        if (json_is_integer(v)) {
            snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        } else {
            char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            snprintf(val, sizeof val, "%s", t ? t : "?");
            free(t);
        }
        int w = snprintf(c + used, cap - used, "%s%s=%s", used ? "," : "", name, val);
        if (w < 0 || (size_t)w >= cap - used) {
            c[used] = '\0';
            break;
        }
        used += (size_t)w;
    }
    if (!used)
        snprintf(c, cap, "-");
}

int rp__ctl_print_status(FILE *out, const json_t *d, int degraded)
{
    /* Strings past these sizes are cut: a status line is not the place for
     * them (--json shows them whole). */
    char ver[256], tim[128], reason[1024], ustate[128], uerr[1024];
    fprintf(out, "rampartd %s, pid %lld, up %lld s, as of %s\n",
            shown(ver, sizeof ver, d, "version", NULL), rp__ctl_num(d, "pid", NULL),
            rp__ctl_num(d, "uptime_s", NULL), shown(tim, sizeof tim, d, "time", NULL));
    /* Labels in one column, values in the next. */
#define ROW(label, ...)                                                                            \
    do {                                                                                           \
        fprintf(out, "  %-7s ", label);                                                            \
        fprintf(out, __VA_ARGS__);                                                                 \
        fputc('\n', out);                                                                          \
    } while (0)
    if (degraded)
        ROW("state", "degraded: %s", shown(reason, sizeof reason, d, "state_reason", NULL));
    else
        ROW("state", "ok");
    /* The supervisor (docs/supervisor.md) restarts the worker; how often and
     * why the last time (the cause names plugins: shown, not raw). */
    if (json_is_object(json_object_get(d, "supervisor"))) {
        char cause[512];
        long long restarts = rp__ctl_num(d, "supervisor", "restarts");
        ROW("restart", "%lld by the supervisor (pid %lld)%s%s", restarts,
            rp__ctl_num(d, "supervisor", "pid"), restarts ? "; last: " : "",
            restarts ? shown(cause, sizeof cause, d, "supervisor", "last_cause") : "");
    }
    ROW("cpu", "%lld ms, peak memory %lld KiB", rp__ctl_num(d, "cpu_ms", NULL),
        rp__ctl_num(d, "peak_rss_bytes", NULL) / 1024);
    ROW("bus", "%lld events, %lld dropped", rp__ctl_num(d, "bus", "published"),
        rp__ctl_num(d, "bus", "dropped"));
    if (json_object_get(d, "upload")) {
        ROW("upload",
            "%s, %lld events delivered in %lld batches, %lld retries, %lld dead letters (%lld "
            "events), last status %lld%s%s",
            shown(ustate, sizeof ustate, d, "upload", "state"),
            rp__ctl_num(d, "upload", "delivered_events"),
            rp__ctl_num(d, "upload", "delivered_batches"), rp__ctl_num(d, "upload", "retries"),
            rp__ctl_num(d, "upload", "dead_batches"), rp__ctl_num(d, "upload", "dead_events"),
            rp__ctl_num(d, "upload", "last_status"),
            *shown(uerr, sizeof uerr, d, "upload", "last_error") ? ": " : "", uerr);
        ROW("spool",
            "%lld events in %lld batches waiting, %lld of %lld bytes on disk; dropped when full "
            "%lld events; damaged records cut %lld",
            rp__ctl_num(d, "spool", "queued_events"), rp__ctl_num(d, "spool", "queued_batches"),
            rp__ctl_num(d, "spool", "disk_bytes"), rp__ctl_num(d, "spool", "max_bytes"),
            rp__ctl_num(d, "spool", "dropped_full_events"),
            rp__ctl_num(d, "spool", "corrupt_records") +
                rp__ctl_num(d, "spool", "cut_torn_records"));
    } else {
        ROW("output", "%lld events written locally", rp__ctl_num(d, "sink", "events"));
    }
#undef ROW
    /* The plugins as a table: text left, numbers right, each column as
     * wide as its widest cell; the error, last, is not padded. */
    enum { SCOLS = 6 };
    static const char *const head[SCOLS] = {"PLUGIN",  "STATE",  "PUBLISHED",
                                            "DROPPED", "CPU_MS", "ERROR"};
    const json_t *plugins = json_object_get(d, "plugins");
    size_t n = json_object_size(plugins);
    char(*cells)[SCOLS][256] = calloc(n ? n : 1, sizeof *cells);
    if (!cells) {
        return RP_ERR_NOMEM;
    }
    size_t width[SCOLS], row = 0;
    for (int k = 0; k < SCOLS; k++)
        width[k] = strlen(head[k]);
    const char *name;
    json_t *p;
    json_object_foreach((json_t *)plugins, name, p)
    {
        snprintf(cells[row][0], sizeof cells[row][0], "%s", name);
        snprintf(cells[row][1], sizeof cells[row][1], "%s", rp__ctl_str(p, "state", NULL));
        snprintf(cells[row][2], sizeof cells[row][2], "%lld", rp__ctl_num(p, "published", NULL));
        snprintf(cells[row][3], sizeof cells[row][3], "%lld", rp__ctl_num(p, "dropped", NULL));
        snprintf(cells[row][4], sizeof cells[row][4], "%lld", rp__ctl_num(p, "cpu_ms", NULL));
        snprintf(cells[row][5], sizeof cells[row][5], "%s",
                 json_object_get(p, "error") ? rp__ctl_str(p, "error", NULL) : "-");
        for (int k = 0; k < SCOLS; k++)
            show(cells[row][k]);
        for (int k = 0; k < SCOLS; k++)
            if (strlen(cells[row][k]) > width[k])
                width[k] = strlen(cells[row][k]);
        row++;
    }
    if (n) {
        fputc('\n', out);
        for (size_t i = 0; i <= n; i++) {
            const char *const *line = i == 0 ? head : NULL;
            fprintf(out, " ");
            for (int k = 0; k < SCOLS; k++) {
                const char *cell = line ? line[k] : cells[i - 1][k];
                if (k == SCOLS - 1)
                    fprintf(out, " %s\n", cell);
                else
                    fprintf(out, k >= 2 ? " %*s " : " %-*s ", (int)width[k], cell);
            }
        }
    }
    free(cells);
    return 0;
}

int rp__ctl_print_plugins(FILE *out, const json_t *list)
{
    static const char *const head[PCOLS] = {"NAME",    "ID",     "VERSION",  "VENDOR",
                                            "KIND",    "STATE",  "IN",       "OUT",
                                            "DROPPED", "CPU_MS", "COUNTERS", "GAUGES"};
    size_t n = json_array_size(list);
    int ncols = PCOLS - 1;
    for (size_t i = 0; i < n; i++)
        if (json_object_size(json_object_get(json_array_get(list, i), "gauges")))
            ncols = PCOLS;
    /* Every cell as text first, so the columns can be as wide as their
     * widest cell. */
    char(*cells)[PCOLS][256] = calloc(n ? n : 1, sizeof *cells);
    if (!cells) {
        return RP_ERR_NOMEM;
    }
    size_t width[PCOLS];
    for (int k = 0; k < PCOLS; k++)
        width[k] = strlen(head[k]);
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(list, i);
        static const char *const keys[] = {"name", "id", "version", "vendor", "kind", "state"};
        for (int k = 0; k < 6; k++) {
            const char *v = json_string_value(json_object_get(p, keys[k]));
            snprintf(cells[i][k], sizeof cells[i][k], "%s", v && *v ? v : "-");
        }
        static const char *const nums[] = {"events_in", "events_out", "dropped", "cpu_ms"};
        for (int k = 0; k < 4; k++)
            snprintf(cells[i][6 + k], sizeof cells[i][6 + k], "%lld",
                     rp__ctl_num(p, nums[k], NULL));
        kv_cell(json_object_get(p, "counters"), cells[i][10], sizeof cells[i][10]);
        kv_cell(json_object_get(p, "gauges"), cells[i][11], sizeof cells[i][11]);
        for (int k = 0; k < PCOLS; k++)
            show(cells[i][k]);
        for (int k = 0; k < PCOLS; k++)
            if (strlen(cells[i][k]) > width[k])
                width[k] = strlen(cells[i][k]);
    }
    /* Numbers (IN to CPU_MS) align right, text left; the last column is
     * not padded. */
    for (int k = 0; k + 1 < ncols; k++)
        fprintf(out, k >= 6 && k <= 9 ? "%*s  " : "%-*s  ", (int)width[k], head[k]);
    fprintf(out, "%s\n", head[ncols - 1]);
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k + 1 < ncols; k++)
            fprintf(out, k >= 6 && k <= 9 ? "%*s  " : "%-*s  ", (int)width[k], cells[i][k]);
        fprintf(out, "%s\n", cells[i][ncols - 1]);
    }
    free(cells);
    return 0;
}
