/*
 * tools/rampartctl/rules_events.h - the events of `rampartctl rules test`:
 * a bounded reader of NDJSON lines and the view (engine.h, struct ds_view)
 * through which the Sigma engine reads one parsed event.
 *
 * Events are JSON objects, one a line, with flat dotted keys as the agent
 * writes them ("process.executable": "/usr/bin/curl") or nested objects
 * ({"process": {"executable": ...}}), or a mix: a dotted name is looked up
 * as a key first, then through the objects its leading parts name. Lines are
 * parsed by jansson; this file only reads lines and turns values into text.
 *
 * Caps (a line past RP__CTL_LINE_MAX is reported and skipped; the caller
 * stops at RP__CTL_EVENTS_MAX events and says so):
 *   RP__CTL_LINE_MAX    bytes in one line, without its newline (1 MiB)
 *   RP__CTL_EVENTS_MAX  events read from one file (1,000,000)
 *   RP__CTL_NEST_MAX    nesting of objects and arrays searched (64)
 *   RP__CTL_STRINGS_MAX string values one event offers keyword rules (65536)
 */
#ifndef RP_TOOLS_RAMPARTCTL_RULES_EVENTS_H
#define RP_TOOLS_RAMPARTCTL_RULES_EVENTS_H

#include "engine.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RP__CTL_LINE_MAX    (1024u * 1024u)
#define RP__CTL_EVENTS_MAX  1000000u
#define RP__CTL_NEST_MAX    64u
#define RP__CTL_STRINGS_MAX 65536u

/* Reads lines of f (borrowed; the caller closes it). */
typedef struct rp__ctl_lines {
    FILE *f;
    char *line;  /* RP__CTL_LINE_MAX + 1 bytes, from malloc */
    char *chunk; /* what fread gave, not yet consumed */
    size_t pos, end;
    uint64_t lineno; /* of the line last returned, 1-based */
    int eof;
} rp__ctl_lines;

int rp__ctl_lines_init(rp__ctl_lines *r, FILE *f);
void rp__ctl_lines_free(rp__ctl_lines *r);

/* The next line, without its newline (and a "\r" before it), NUL-terminated
 * in r's buffer until the next call: returns 1 with *line and *len; 0 at the
 * end of the file; RP_ERR_RANGE for a line longer than RP__CTL_LINE_MAX,
 * which is skipped up to its newline (r->lineno is its number); RP_ERR_IO
 * when the file cannot be read. */
int rp__ctl_lines_next(rp__ctl_lines *r, char **line, size_t *len);

/* The value a dotted name gives in obj: the member of that exact name, else
 * the member named by a leading part of it (up to a dot) when it is an
 * object holding the rest, searched left to right. NULL when none. */
json_t *rp__ctl_json_lookup(const json_t *obj, const char *name, size_t len);

/* One event for the engine. slots[0..nslots) are the engine's field names
 * (ds_engine_slot_name), resolved by name at each get. */
typedef struct rp__ctl_event {
    const json_t *doc; /* the event being evaluated, borrowed */
    const char *const *slots;
    uint32_t nslots;
    /* Text made for slots whose values are not strings (numbers, booleans,
     * arrays), one buffer per slot, kept for the next event. */
    char **text;
    size_t *text_cap;
    /* The event's string values, for keyword rules, gathered at first use. */
    const char **strs;
    size_t *lens;
    uint32_t nstrs, cap_strs;
    int strs_ready;
} rp__ctl_event;

/* slots is borrowed (the engine's names live as long as it does). */
int rp__ctl_event_init(rp__ctl_event *e, const char *const *slots, uint32_t nslots);
void rp__ctl_event_free(rp__ctl_event *e);
/* Points e at the next event (borrowed until the next call) and fills view. */
void rp__ctl_event_set(rp__ctl_event *e, const json_t *doc, struct ds_view *view);

/* The view's functions (ctx is the rp__ctl_event). get: strings as they
 * are, integers and reals in decimal, true / false, an array's strings,
 * numbers and booleans joined by single spaces; null, objects and absent
 * names are "no value". string_at: every string value of the event, also
 * inside nested objects and arrays, in document order. */
int rp__ctl_event_get(void *ctx, uint32_t slot, const char **value, size_t *len);
int rp__ctl_event_string_at(void *ctx, uint32_t i, const char **value, size_t *len);

#endif
