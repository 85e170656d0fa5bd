/* core/lib/log.c - leveled logging to stderr or the system log. */
#include "lib/log.h"
#include "lib/secrets.h"
#include "os/os.h"

#include <rampart/plugin.h>

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static atomic_int log_level = RP__LOG_INFO;
static atomic_int log_target = RP__LOG_TO_STDERR;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void rp__log_open(enum rp__log_target target)
{
    if (target == RP__LOG_TO_SYSLOG)
        rp__os_syslog_open("rampartd");
    atomic_store(&log_target, (int)target);
}

void rp__log_close(void)
{
    if (atomic_exchange(&log_target, RP__LOG_TO_STDERR) == RP__LOG_TO_SYSLOG)
        rp__os_syslog_close();
}

void rp__log_set_level(enum rp__log_level level)
{
    atomic_store(&log_level, (int)level);
}

enum rp__log_level rp__log_get_level(void)
{
    return (enum rp__log_level)atomic_load(&log_level);
}

int rp__log_level_parse(const char *name, enum rp__log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum rp__log_level)i;
            return 0;
        }
    }
    return RP_ERR_INVAL;
}

void rp__log(enum rp__log_level level, const char *fmt, ...)
{
    if ((int)level > atomic_load(&log_level))
        return;
    char msg[RP__LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof msg)
        memcpy(msg + sizeof msg - 4, "...", 4);
    rp__secrets_scrub(msg, sizeof msg); /* lib/secrets.h: no line carries a secret */

    if (atomic_load(&log_target) == RP__LOG_TO_SYSLOG) {
        rp__os_syslog_write((int)level, msg);
        return;
    }
    int64_t now = rp__os_time_ns();
    struct tm tm;
    char stamp[32];
    rp__os_gmtime(now / 1000000000, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    /* One fprintf per line keeps lines from different threads whole. */
    fprintf(stderr, "%s.%03dZ rampartd[%ld] %s: %s\n", stamp, (int)((now / 1000000) % 1000),
            rp__os_getpid(), level_names[level], msg);
}
