/*
 * tools/rampartctl/view.h - the text rampartctl prints for the agent's
 * answers (`status`, `plugins`), apart from the socket code so that
 * tests/fuzz/fuzz_ctl_view.c can feed it any answer. Depends on jansson
 * alone.
 */
#ifndef RP_RAMPARTCTL_VIEW_H
#define RP_RAMPARTCTL_VIEW_H

#include <jansson.h>
#include <stdio.h>

/* o[a] (or o[a][b] when b is not NULL): its integer, else -1; its string,
 * else "?". */
long long rp__ctl_num(const json_t *o, const char *a, const char *b);
const char *rp__ctl_str(const json_t *o, const char *a, const char *b);

/* The status object d as lines for a terminal (degraded: its state says
 * so). 0, or RP_ERR_NOMEM. */
int rp__ctl_print_status(FILE *out, const json_t *d, int degraded);

/* The plugins list as an aligned table, one line per plugin. 0, or
 * RP_ERR_NOMEM. */
int rp__ctl_print_plugins(FILE *out, const json_t *list);

#endif
