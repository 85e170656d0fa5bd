/*
 * core/output/console.h - the one-line text form of an event for a person watching
 * the foreground agent (`output.stdout: "text"`).
 *
 *   05:01:02.123 process.exec process.pid=4242 user.name=root
 *       process.executable=/usr/bin/true process.args=["true","-x"]
 *
 * (one line; wrapped here). The time is the event's @timestamp in UTC, then
 * the event type, then every field but those a reader does not need on a
 * console (@timestamp, event.id, event.kind, event.category, event.type,
 * event.dataset and the agent's identity fields).
 *
 * What an attacker names (paths, argv, process names) reaches a terminal, so
 * nothing that a terminal acts on passes through: control bytes, DEL, the C1
 * controls U+0080..U+009F and the bidirectional overrides U+202A..U+202E,
 * U+2066..U+2069 are written as \xNN or \u{XXXX}, invalid UTF-8 as \xNN, and a
 * value with a space, a quote, '=' or an escape is put in double quotes. A
 * value is cut after RP__CONSOLE_VALUE_MAX bytes and the line after
 * RP__CONSOLE_LINE_MAX, each cut marked "...(+N)" with the bytes left out.
 *
 * Thread-safety: any thread; one rp__buf per thread.
 */
#ifndef RP_CORE_CONSOLE_H
#define RP_CORE_CONSOLE_H

#include "output/ndjson.h"

#include <rampart/plugin.h>

#define RP__CONSOLE_VALUE_MAX 512u
#define RP__CONSOLE_LINE_MAX  4096u

/* Appends the event's line, "\n" included, to out. All or nothing
 * (RP_ERR_FULL, RP_ERR_NOMEM leave out as it was). */
int rp__console_format(const rp_event *ev, rp__buf *out);

#endif
