/*
 * core/lib/log.h - leveled logging for the agent.
 *
 * Lines go to stderr (foreground) or to the system log (daemon). Every
 * function is safe from any thread; a line longer than RP__LOG_LINE_MAX is
 * truncated and marked with "...".
 */
#ifndef RP_CORE_LOG_H
#define RP_CORE_LOG_H

#define RP__LOG_LINE_MAX 2048

enum rp__log_level { RP__LOG_ERROR = 0, RP__LOG_WARN, RP__LOG_INFO, RP__LOG_DEBUG };
enum rp__log_target { RP__LOG_TO_STDERR = 0, RP__LOG_TO_SYSLOG };

/* Chooses where lines go. Until called, lines go to stderr. */
void rp__log_open(enum rp__log_target target);
void rp__log_close(void);
void rp__log_set_level(enum rp__log_level level);
enum rp__log_level rp__log_get_level(void);
/* Parses "error", "warn", "info" or "debug"; returns 0 or RP_ERR_INVAL. */
int rp__log_level_parse(const char *name, enum rp__log_level *out);

#if defined(__GNUC__)
#include <stdio.h> /* __MINGW_PRINTF_FORMAT, where there is one */
#endif
#if defined(__GNUC__) && defined(__MINGW_PRINTF_FORMAT)
/* mingw-w64 reads the "printf" archetype as Microsoft's printf, which knows
 * no %zu; its macro names the printf the program links. */
#define RP__PRINTF(a, b) __attribute__((format(__MINGW_PRINTF_FORMAT, a, b)))
#elif defined(__GNUC__)
#define RP__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define RP__PRINTF(a, b)
#endif

void rp__log(enum rp__log_level level, const char *fmt, ...) RP__PRINTF(2, 3);

#define rp__log_error(...) rp__log(RP__LOG_ERROR, __VA_ARGS__)
#define rp__log_warn(...)  rp__log(RP__LOG_WARN, __VA_ARGS__)
#define rp__log_info(...)  rp__log(RP__LOG_INFO, __VA_ARGS__)
#define rp__log_debug(...) rp__log(RP__LOG_DEBUG, __VA_ARGS__)

#endif
