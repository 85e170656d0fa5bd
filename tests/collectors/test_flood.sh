#!/usr/bin/env bash
# A file-event flood by an unprivileged local user must neither blind nor
# bloat the agent (collector_file on real fanotify, the real agent):
#  - a user made for the test (removed on exit) runs two processes that for
#    8 s create, write and unlink files (in tmpfs) under 14 nested folders
#    whose names are 250 control bytes each (every byte escapes to six in
#    JSON), then, after the agent caught up, starts again for the stop;
#  - the agent's resident memory stays under the bus cap (64 MiB, the
#    default agent.bus_max_bytes) plus 64 MiB, all along;
#  - no line of the local events file grows with the input: each stays
#    under 32 KiB, is valid JSON, and one whose values were cut says so with
#    event.truncated;
#  - the overflow is counted (events refused at the cap, collector paused,
#    the kernel's queue overflowing) and alerted (rampart.bus.full), and
#    the events file rotating faster than output.file_max_rotations_per_min
#    is alerted too (rampart.output.rotations);
#  - SIGTERM, sent while the flood goes on, ends the agent within the
#    default agent.stop_grace_ms (10 s).
# This tests the core's backstop, what holds when many processes share the
# flood: the file collector's own per-process folding (flood_burst, tested
# by test_file_flood_fold.sh) is turned off, so one process's events reach
# the bus cap. Besides that key the config uses none newer than the caps.
# Run as: bash test_flood.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd -P)
[ -f "$PLUGIN_DIR/collector_file.so" ] || fail "no collector_file.so in $PLUGIN_DIR"
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
    echo "SKIP: needs root, useradd and setpriv (a test user, fanotify)" >&2
    exit 77
fi
command -v cc >/dev/null || { echo "SKIP: no C compiler for the attacker" >&2; exit 77; }

RSS_BOUND_KB=$(((64 + 64) * 1024))
LINE_MAX=$((32 * 1024))
GRACE_MS=10000
FLOOD_S=8

USER_NAME="rpflood$$"
WORKERS=()
finish() {
    local pid
    for pid in "${WORKERS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    pkill -KILL -u "$USER_NAME" 2>/dev/null || true
    userdel "$USER_NAME" 2>/dev/null || true
    [ -n "${FLOOD_DIR:-}" ] && rm -rf "$FLOOD_DIR"
    cleanup
}
trap finish EXIT
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    "$USER_NAME" || fail "cannot create the test user"
USER_ID=$(id -u "$USER_NAME")

# The flood goes to memory (tmpfs), where the attacker is not slowed down by
# a disk that other work on the machine may be keeping busy.
chmod 0711 "$T"
mkdir "$T/data"
FLOOD_DIR=$(mktemp -d /dev/shm/rampart-flood.XXXXXX)
chown "$USER_NAME" "$FLOOD_DIR"

cat >"$T/agent.json" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 1000},
  "output": {"file": "events.ndjson", "stdout": false, "file_max_bytes": 8388608,
             "file_keep": 20},
  "plugins": {"file": {"enabled": true, "file": "collector_file.so",
                       "config": {"mode": "auto", "paths": ["$FLOOD_DIR"],
                                  "flood_burst": 0}}}
}
EOF

# The attacker: creates, writes and unlinks one file after another (a new
# name each time: the kernel merges queued events of one name) at the bottom
# of 14 nested folders named with control bytes, for SECONDS and at most 5
# million files. In C, so that one process makes a real flood even on a
# loaded machine.
cat >"$T/flood.c" <<'C'
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    char seg[251], name[260];
    for (int i = 0; i < 250; i++)
        seg[i] = (char)(1 + i % 31);
    seg[250] = '\0';
    int dir = open(argv[1], O_RDONLY | O_DIRECTORY);
    char w[16];
    snprintf(w, sizeof w, "w%s", argv[3]);
    if (dir < 0 || mkdirat(dir, w, 0700) != 0)
        return 3;
    int d = openat(dir, w, O_RDONLY | O_DIRECTORY);
    for (int level = 0; level < 14 && d >= 0; level++) {
        if (mkdirat(d, seg, 0700) != 0)
            return 4;
        int next = openat(d, seg, O_RDONLY | O_DIRECTORY);
        close(d);
        d = next;
    }
    if (d < 0)
        return 5;
    double end = now() + atof(argv[2]);
    long n = 0;
    while (n < 5000000 && ((n & 255) || now() < end)) {
        snprintf(name, sizeof name, "%.200s%ld", seg, n);
        int fd = openat(d, name, O_CREAT | O_WRONLY | O_TRUNC, 0600);
        if (fd < 0)
            return 6;
        if (write(fd, "x", 1) != 1)
            return 7;
        close(fd);
        unlinkat(d, name, 0);
        n++;
    }
    printf("%ld\n", n);
    return 0;
}
C
cc -O2 -o "$T/attacker" "$T/flood.c" || fail "cannot build the attacker"
chmod 0755 "$T/attacker"

"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin file running" file_has "$T/agent.err" "plugin file: running"
# The worker's memory (docs/supervisor.md: the agent runs in a child of rampartd).
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$(worker_pid "$APID")/status"; }
RSS_START=$(rss_kb)

# start_flood TAG SECONDS: two attacker processes as the test user.
start_flood() {
    local w
    for w in 1 2; do
        setpriv --reuid="$USER_ID" --regid="$(id -g "$USER_NAME")" --clear-groups \
            "$T/attacker" "$FLOOD_DIR" "$2" "$1$w" >"$T/worker-$1$w.txt" 2>"$T/worker-$1$w.err" &
        WORKERS+=($!)
    done
}
# sample_rss: the agent's resident memory into RSS_MAX (it must be alive).
RSS_MAX=0
sample_rss() {
    kill -0 "$APID" 2>/dev/null || fail "the agent died during the flood"
    local r
    r=$(rss_kb)
    [ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
    # Checked at once: an agent without a bound would take the machine's
    # memory before the end of the test.
    [ "$r" -lt "$RSS_BOUND_KB" ] || fail "agent RSS reached ${r} kB under the flood (bound ${RSS_BOUND_KB} kB)"
}
workers_alive() {
    local pid
    for pid in "${WORKERS[@]}"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}
status_get() { json_get "$T/data/status.json" "$1" 2>/dev/null || echo 0; }

# 1. A flood of FLOOD_S seconds, memory sampled every 100 ms all along and
# while the agent catches up afterwards. The kernel's queue overflow record
# comes at the end of its queue, so the collector counts it once it has read
# what was queued before it.
T0=$(date +%s%N)
start_flood a "$FLOOD_S"
while workers_alive; do
    sample_rss
    [ $(($(date +%s%N) - T0)) -lt $(((FLOOD_S + 20) * 1000000000)) ] || fail "the flood did not end"
    sleep 0.1
done
FLOOD_MS=$((($(date +%s%N) - T0) / 1000000))
for pid in "${WORKERS[@]}"; do wait "$pid" || fail "an attacker process failed"; done
WORKERS=()
FILES=$(cat "$T"/worker-a*.txt | awk '{s += $1} END {print s + 0}')
[ "$FILES" -gt 10000 ] || fail "the flood did not run ($FILES files)"
T1=$(date +%s%N)
until [ "$(status_get 'd["plugins"]["file"]["counters"].get("overflows", 0)')" -gt 0 ] &&
    [ "$(status_get 'd["plugins"]["file"].get("suspended")')" = False ]; do
    sample_rss
    [ $(($(date +%s%N) - T1)) -lt 60000000000 ] ||
        fail "no kernel queue overflow counted 60 s after the flood: $(cat "$T/data/status.json")"
    sleep 0.1
done
cp "$T/data/status.json" "$T/status-flood.json"
CATCHUP_MS=$((($(date +%s%N) - T1) / 1000000))

# 2. SIGTERM while a new flood goes on: the agent must be gone within the
# grace period.
start_flood b 20
T2=$(date +%s%N)
while [ $(($(date +%s%N) - T2)) -lt 3000000000 ]; do
    sample_rss
    sleep 0.1
done
workers_alive || fail "the second flood ended before the stop"
TS=$(date +%s%N)
kill -TERM "$APID"
deadline=$((TS + (GRACE_MS + 2000) * 1000000))
while kill -0 "$APID" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.02; done
STOP_MS=$((($(date +%s%N) - TS) / 1000000))
if kill -0 "$APID" 2>/dev/null; then
    kill -KILL "$APID"
    fail "SIGTERM under the flood: still running after ${STOP_MS} ms (grace ${GRACE_MS} ms)"
fi
RC=0
wait "$APID" || RC=$?
for pid in "${WORKERS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; done
WORKERS=()
echo "flood: $FILES files in ${FLOOD_MS} ms, caught up ${CATCHUP_MS} ms later; agent RSS ${RSS_START} kB at start, ${RSS_MAX} kB at most; SIGTERM under a flood: stopped in ${STOP_MS} ms (exit $RC)"

[ "$RSS_MAX" -lt "$RSS_BOUND_KB" ] ||
    fail "agent RSS reached ${RSS_MAX} kB under the flood (bound ${RSS_BOUND_KB} kB)"
# The grace runs from when the agent starts stopping; 1 s of slack for the
# signal's delivery and the exit on a loaded machine.
[ "$STOP_MS" -le $((GRACE_MS + 1000)) ] || fail "stop took ${STOP_MS} ms (grace ${GRACE_MS} ms)"
expect_rc 0 "agent exit after SIGTERM under the flood"

# The local files: every line bounded and valid; cut values flagged; the
# agent's own alerts about the flood are there.
"$PY" - "$T/data" "$LINE_MAX" >"$T/lines.txt" <<'EOF' || fail "bad events file: $(cat "$T/lines.txt")"
import glob, json, os, sys
data, line_max = sys.argv[1], int(sys.argv[2])
files = sorted(glob.glob(os.path.join(data, "events.ndjson*")))
longest = lines = flagged = 0
rules = set()
for name in files:
    with open(name, "rb") as f:
        for n, raw in enumerate(f, 1):
            lines += 1
            longest = max(longest, len(raw))
            if len(raw) > line_max:
                print("%s:%d: a line of %d bytes (cap %d)" % (name, n, len(raw), line_max))
                sys.exit(1)
            ev = json.loads(raw)
            path = ev.get("file.path", "")
            if ev.get("event.truncated") is True:
                flagged += 1
            elif len(path) >= 4096:
                print("%s:%d: a path of %d characters kept whole?" % (name, n, len(path)))
                sys.exit(1)
            if ev.get("event.kind") == "alert":
                rules.add(ev.get("rule.id"))
print("files %d lines %d longest %d flagged %d rules %s" % (len(files), lines, longest, flagged,
                                                            ",".join(sorted(r for r in rules if r))))
EOF
cat "$T/lines.txt"
grep -q "flagged [1-9]" "$T/lines.txt" || fail "no event says its values were cut"
grep -q "rampart.bus.full" "$T/lines.txt" || fail "no rampart.bus.full alert in the events files"

# The counters: refused at the cap, the collector paused, the kernel's queue
# overflowing (counted by the collector), rotations too fast for the limit.
S="$T/status-flood.json"
echo "status: $(json_get "$S" 'd["bus"]')"
echo "file plugin: $(json_get "$S" 'd["plugins"]["file"]')"
[ "$(json_get "$S" 'd["bus"].get("refused_full", 0)')" -gt 0 ] || fail "no event refused at the cap"
[ "$(json_get "$S" 'sum(n for t, n in d["bus"].get("refused_full_by_type", {}).items() if t.startswith("file."))')" -gt 0 ] ||
    fail "refusals not counted per event type"
[ "$(json_get "$S" 'd["plugins"]["file"].get("refused_full", 0)')" -gt 0 ] ||
    fail "refusals not counted for the plugin"
[ "$(json_get "$S" 'd["plugins"]["file"].get("suspensions", 0)')" -gt 0 ] ||
    fail "the file collector was never paused"
[ "$(json_get "$S" 'd["plugins"]["file"]["counters"].get("overflows", 0)')" -gt 0 ] ||
    fail "no kernel queue overflow counted"
[ "$(json_get "$S" 'd["sink"].get("rotation_bursts", 0)')" -gt 0 ] ||
    fail "rotations faster than the limit not counted"
file_has "$T/agent.err" "rotated more than 6 times in a minute" ||
    fail "no alert about the events file rotating too fast"
file_has "$T/agent.err" "event bus full" || fail "no alert about the full bus in the log"
echo "PASS"
