/*
 * tests/abi/plugins/commands11_plugin.c - a 1.1 plugin that answers commands
 * (on_command, command_reply), for tests/unit/test_host_command.c and
 * tests/cli/test_plugin_command.sh. The request is rampartctl's form,
 * {"command":NAME,"args":[...]}:
 *
 *   echo           the last reply {"request":<the request as received>}
 *   progress [N]   N progress replies {"step":i,"of":N} 50 ms apart, then
 *                  the last {"done":N}
 *   slow [MS]      sleeps MS ms (default 2000), then tries its last reply;
 *                  counts what command_reply said: late_timeout (RP_ERR_TIMEOUT)
 *                  or late_other
 *   block          progress replies every 20 ms until command_reply refuses
 *                  one (the deadline, or the plugin stopping): counts
 *                  block_stopped (RP_ERR_STOPPED), block_timeout, block_other
 *   fail           set_error + RP_ERR_IO, no reply
 *   noreply        returns 0 without a last reply
 *   checks         command_reply's refusals: not JSON (RP_ERR_INVAL), bad
 *                  flags (RP_ERR_INVAL), over RP_MAX_COMMAND_REPLY
 *                  (RP_ERR_FULL), a reply after the last (RP_ERR_INVAL); the
 *                  last reply says which held, {"not_json":1,...}
 *
 * Every call of on_command checks that the plugin is started and not
 * stopped, and counts outside_run when it is not (a test reads it).
 */
#define _POSIX_C_SOURCE 200809L

#include <rampart/plugin.h>
#include <rampart/plugin_util.h>
#include <rampart/plugin_util_json.h> /* the command request is JSON text */

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    C_OUTSIDE,
    C_LATE_TIMEOUT,
    C_LATE_OTHER,
    C_BLOCK_STOPPED,
    C_BLOCK_TIMEOUT,
    C_BLOCK_OTHER,
    C_N
};
static const char *const counter_names[C_N] = {"outside_run",   "late_timeout",  "late_other",
                                               "block_stopped", "block_timeout", "block_other"};

struct state {
    const rp_host_api *host;
    uint32_t ids[C_N];
    atomic_int running;
};

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int reply(struct state *s, rp_command *cmd, const char *text, uint32_t flags)
{
    return s->host->command_reply(cmd, text, strlen(text), flags);
}

static void count(struct state *s, rp_plugin *self, int which)
{
    s->host->counter_add(self, s->ids[which], 1);
}

/* The first item of "args" as a number, or dflt. */
static long arg_num(const char *req, size_t len, long dflt)
{
    rp_util_config_iter it;
    char buf[32];
    if (rp_util_config_array(req, len, "args", &it) != 0 ||
        rp_util_config_next_str(&it, buf, sizeof buf, NULL) != 0)
        return dflt;
    char *end = NULL;
    long v = strtol(buf, &end, 10);
    return end && *end == '\0' && v >= 0 && v <= 600000 ? v : dflt;
}

static int on_command(rp_plugin *self, void *state, rp_command *cmd, const char *request,
                      uint64_t len)
{
    struct state *s = state;
    const rp_host_api *h = s->host;
    if (!atomic_load(&s->running))
        count(s, self, C_OUTSIDE);
    char name[64];
    rp_util_config_str(request, (size_t)len, "command", "", name, sizeof name, NULL);
    char out[1024];
    if (strcmp(name, "echo") == 0) {
        if (len > sizeof out - 16)
            return RP_ERR_RANGE;
        snprintf(out, sizeof out, "{\"request\":%.*s}", (int)len, request);
        return reply(s, cmd, out, 0);
    }
    if (strcmp(name, "progress") == 0) {
        long n = arg_num(request, (size_t)len, 3);
        for (long i = 1; i <= n; i++) {
            snprintf(out, sizeof out, "{\"step\":%ld,\"of\":%ld}", i, n);
            int rc = reply(s, cmd, out, RP_REPLY_MORE);
            if (rc != 0)
                return rc;
            nap_ms(50);
        }
        snprintf(out, sizeof out, "{\"done\":%ld}", n);
        return reply(s, cmd, out, 0);
    }
    if (strcmp(name, "slow") == 0) {
        nap_ms(arg_num(request, (size_t)len, 2000));
        int rc = reply(s, cmd, "{\"late\":true}", 0);
        count(s, self, rc == RP_ERR_TIMEOUT ? C_LATE_TIMEOUT : C_LATE_OTHER);
        return rc;
    }
    if (strcmp(name, "block") == 0) {
        for (int i = 0; i < 100000; i++) {
            int rc = reply(s, cmd, "{\"waiting\":true}", RP_REPLY_MORE);
            if (rc != 0) {
                count(s, self,
                      rc == RP_ERR_STOPPED   ? C_BLOCK_STOPPED
                      : rc == RP_ERR_TIMEOUT ? C_BLOCK_TIMEOUT
                                             : C_BLOCK_OTHER);
                return rc;
            }
            nap_ms(20);
        }
        return RP_ERR_INTERNAL;
    }
    if (strcmp(name, "failslow") == 0) {
        /* Leaves its message, waits, then fails: a second command of the
         * plugin failing meanwhile must not swap the two messages. */
        static const char msg[] = "the slow one failed";
        h->set_error(self, msg, sizeof msg - 1);
        nap_ms(300);
        return RP_ERR_IO;
    }
    if (strcmp(name, "fail") == 0) {
        static const char msg[] = "the fail command always fails";
        h->set_error(self, msg, sizeof msg - 1);
        return RP_ERR_IO;
    }
    if (strcmp(name, "noreply") == 0)
        return 0;
    if (strcmp(name, "checks") == 0) {
        int not_json = h->command_reply(cmd, "{nope", 5, RP_REPLY_MORE) == RP_ERR_INVAL;
        int bad_flags = h->command_reply(cmd, "1", 1, 0x80u) == RP_ERR_INVAL;
        int null_text = h->command_reply(cmd, NULL, 0, 0) == RP_ERR_INVAL;
        size_t big_len = RP_MAX_COMMAND_REPLY + 2;
        char *big = malloc(big_len + 1);
        int too_big = 0;
        if (big) {
            /* A JSON string one byte over the cap. */
            memset(big, 'x', big_len);
            big[0] = big[big_len - 1] = '"';
            big[big_len] = '\0';
            too_big = h->command_reply(cmd, big, big_len, 0) == RP_ERR_FULL;
            free(big);
        }
        snprintf(out, sizeof out,
                 "{\"not_json\":%d,\"bad_flags\":%d,\"null_text\":%d,\"too_big\":%d}", not_json,
                 bad_flags, null_text, too_big);
        int rc = reply(s, cmd, out, 0);
        if (rc != 0)
            return rc;
        /* After the last reply: refused, and the caller never sees it. */
        if (reply(s, cmd, "{\"after_last\":true}", 0) != RP_ERR_INVAL)
            count(s, self, C_LATE_OTHER);
        return 0;
    }
    snprintf(out, sizeof out, "unknown command \"%.40s\"", name);
    h->set_error(self, out, strlen(out));
    return RP_ERR_NOTFOUND;
}

static int p_init(rp_plugin *self, const rp_host_api *host, void **state)
{
    struct state *s = calloc(1, sizeof *s);
    if (!s)
        return RP_ERR_NOMEM;
    s->host = host;
    for (int i = 0; i < C_N; i++) {
        int rc =
            host->counter_register(self, counter_names[i], strlen(counter_names[i]), &s->ids[i]);
        if (rc != 0) {
            free(s);
            return rc;
        }
    }
    *state = s;
    return 0;
}

static int p_start(rp_plugin *self, void *state)
{
    (void)self;
    atomic_store(&((struct state *)state)->running, 1);
    return 0;
}

static int p_stop(rp_plugin *self, void *state)
{
    (void)self;
    atomic_store(&((struct state *)state)->running, 0);
    return 0;
}

static void p_destroy(rp_plugin *self, void *state)
{
    (void)self;
    free(state);
}

static const rp_plugin_descriptor desc = {
    .struct_size = sizeof(rp_plugin_descriptor),
    .abi_major = RP_ABI_MAJOR,
    .abi_minor = 1,
    .kind = RP_KIND_RESPONDER,
    .event_schema_version = RP_EVENT_SCHEMA_VERSION,
    .id = "org.rampart.test.commands11",
    .version = "1.1.0",
    .vendor = "Rampart tests",
    .license = "Apache-2.0",
    .description = "answers plugin commands for the tests",
    .init = p_init,
    .start = p_start,
    .stop = p_stop,
    .destroy = p_destroy,
    .on_command = on_command,
};

RP_PLUGIN_EXPORT int rampart_plugin_entry_v1(const rp_host_api *host,
                                             const rp_plugin_descriptor **out)
{
    if (!RP_HOST_HAS(host, command_reply))
        return RP_ERR_VERSION;
    *out = &desc;
    return 0;
}
