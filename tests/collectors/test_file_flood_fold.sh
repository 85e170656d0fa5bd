#!/usr/bin/env bash
# A file-event flood from one process is folded into counted summaries, and
# everyone else's events still arrive one by one (collector_file on real
# fanotify, the real agent, its default flood settings: a burst of 200
# events per process and action, refilled at 100 a second, one summary a
# second):
#  - a user made for the test (removed on exit) runs one process that
#    creates and unlinks 5000 fresh names in a watched folder over about 3 s
#    (10000 file events), then stays alive a moment;
#  - meanwhile root creates 10 files, one every 0.3 s;
#  - root's 10 creates all arrive as individual events;
#  - the attacker's individual events per action are at most the burst plus
#    the refill over the flood's duration (and 2 s for the agent reading
#    later than the attacker wrote, on a loaded machine);
#  - per action, its individual events plus the counts its summaries carry
#    equal the operations it did (at most that if the kernel's queue
#    overflowed, which the overflow counter then says), and that before the
#    agent is stopped (the final summary comes by itself);
#  - each summary carries the process (pid, entity id, executable, user),
#    the folder, a sample path in it, first <= last, event.kind "event";
#    the flood lasts long enough for more than one summary per action;
#  - the plugin's flood_folded and flood_summaries counters match;
#  - a flood spread over 1100 processes (more than the 1024 buckets; here
#    with a burst of 1, no refill and a summary interval longer than the
#    test, so every bucket holds a count): buckets are evicted, each with
#    its summary, and every process's 3 creates are accounted for, by pid.
# The config uses no key newer than the plugin, so the same script shows
# what a plugin without the folding does (it fails on the bound).
# Run as: bash test_file_flood_fold.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd -P)
[ -f "$PLUGIN_DIR/collector_file.so" ] || fail "no collector_file.so in $PLUGIN_DIR"
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
    echo "SKIP: needs root, useradd and setpriv (a test user, fanotify)" >&2
    exit 77
fi

OPS=5000
BURST=200
RATE=100
USER_NAME="rpfold$$"
ATTACKER=""
finish() {
    [ -n "$ATTACKER" ] && kill -KILL "$ATTACKER" 2>/dev/null
    userdel "$USER_NAME" 2>/dev/null || true
    cleanup
}
trap finish EXIT
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    "$USER_NAME" || fail "cannot create the test user"
USER_ID=$(id -u "$USER_NAME")

chmod 0755 "$T"
mkdir "$T/data"
W=$T/w
mkdir -m 1777 "$W"

cat >"$T/agent.json" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {"file": {"enabled": true, "file": "collector_file.so",
                       "config": {"paths": ["$W"], "join_wait_ms": 0}}}
}
EOF

# The attacker: one process, a fresh name each time (the kernel merges
# queued events of one name), opened read-only so that each name makes one
# create and one delete. It pauses 60 ms every 100 names, so the flood
# lasts about 3 s and the refill matters; then it stays alive 1.5 s so that
# the records read last still name it.
cat >"$T/attacker.py" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
t0 = time.monotonic()
for i in range(n):
    p = "%s/a%d" % (d, i)
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_RDONLY, 0o600))
    os.unlink(p)
    if i % 100 == 99:
        time.sleep(0.06)
print(os.getpid(), n, "%.3f" % (time.monotonic() - t0), flush=True)
time.sleep(1.5)
PY
chmod 0644 "$T/attacker.py"

"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin file running" file_has "$T/agent.err" "plugin file: running"

setpriv --reuid="$USER_ID" --regid="$(id -g "$USER_NAME")" --clear-groups \
    timeout -k 2 30 "$PY" "$T/attacker.py" "$W" "$OPS" >"$T/attacker.txt" 2>"$T/attacker.err" &
ATTACKER=$!
# The benign process, root, during the flood.
"$PY" - "$W" >"$T/benign.txt" <<'PY' &
import os, sys, time
time.sleep(0.2)
print(os.getpid(), flush=True)
for i in range(10):
    open("%s/benign-%d" % (sys.argv[1], i), "x").close()
    time.sleep(0.3)
PY
BENIGN=$!
wait "$BENIGN" || fail "the benign process failed"
RC=0
wait "$ATTACKER" || RC=$?
ATTACKER=""
[ "$RC" -eq 0 ] || fail "the attacker failed (exit $RC): $(cat "$T/attacker.err")"
read -r ATTACKER_PID DONE SECS <"$T/attacker.txt"
[ "$DONE" -eq "$OPS" ] || fail "the attacker did $DONE of $OPS"
BENIGN_PID=$(cat "$T/benign.txt")
echo "attacker pid $ATTACKER_PID: $DONE create+unlink in ${SECS} s; benign pid $BENIGN_PID"

# tally: individual and folded counts of the attacker per action, from the
# events file; checks every summary's fields on the way.
cat >"$T/tally.py" <<'PY'
import json, sys
path, w, apid, auid, bpid = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
ind = {"creation": 0, "deletion": 0}
fold = {"creation": 0, "deletion": 0}
summ = {"creation": 0, "deletion": 0}
benign = set()
with open(path) as f:
    for line in f:
        ev = json.loads(line)
        if ev.get("event.dataset") != "rampart.file":
            continue
        act, pid = ev.get("event.action"), ev.get("process.pid")
        if pid == bpid and act == "creation" and "collector_file.folded.count" not in ev:
            benign.add(ev.get("file.name"))
        if pid != apid or act not in ind:
            continue
        n = ev.get("collector_file.folded.count")
        if n is None:
            ind[act] += 1
            continue
        bad = []
        if not (isinstance(n, int) and n > 0): bad.append("count")
        if ev.get("event.kind") != "event": bad.append("event.kind")
        if ev.get("user.id") != auid: bad.append("user.id")
        if len(ev.get("process.entity_id", "")) != 32: bad.append("process.entity_id")
        if not ev.get("process.executable", "").startswith("/"): bad.append("process.executable")
        if ev.get("file.directory") != w: bad.append("file.directory")
        if not ev.get("collector_file.folded.sample_path", "").startswith(w + "/a"):
            bad.append("sample_path")
        if not ev.get("collector_file.folded.first", "") <= ev.get("collector_file.folded.last", ""):
            bad.append("first/last")
        if "collector_file.folded.first" not in ev: bad.append("first")
        if bad:
            print("bad summary (%s): %s" % (",".join(bad), line.strip()))
            sys.exit(1)
        fold[act] += n
        summ[act] += 1
print(ind["creation"], ind["deletion"], fold["creation"], fold["deletion"],
      summ["creation"], summ["deletion"], len(benign))
PY
tally() { "$PY" "$T/tally.py" "$T/data/events.ndjson" "$W" "$ATTACKER_PID" "$USER_ID" "$BENIGN_PID"; }
all_counted() {
    local t
    t=$(tally) || return 1
    read -r IC ID FC FD SC SD NB <<<"$t"
    [ $((IC + FC)) -eq "$OPS" ] && [ $((ID + FD)) -eq "$OPS" ]
}
# The final summaries come within 1.5 intervals of the flood's end, with no
# stop: wait for them (bounded), then stop the agent.
IC=0 ID=0 FC=0 FD=0 SC=0 SD=0 NB=0
TW=$(date +%s)
while ! all_counted; do
    [ $(($(date +%s) - TW)) -lt 15 ] || break
    sleep 0.2
done
T_RES=$(tally) || fail "$T_RES"
read -r IC ID FC FD SC SD NB <<<"$T_RES"
echo "creates: $IC individual + $FC folded in $SC summaries; deletes: $ID individual + $FD folded in $SD summaries; benign creates $NB of 10"
kill -TERM "$APID"
wait_for 15 "agent stopped" pid_gone "$APID"
STOPLINE=$(grep -F "plugin file" "$T/agent.err" | grep -F "stopped:" | tail -n 1) ||
    fail "no counter line at stop"
counter() { sed -n "s/.*[ :]$1 \([0-9]*\).*/\1/p" <<<"$STOPLINE"; }
OVERFLOWS=$(counter overflows)
FOLDED=$(counter flood_folded)
SUMMARIES=$(counter flood_summaries)
echo "counters: overflows $OVERFLOWS flood_folded ${FOLDED:-none} flood_summaries ${SUMMARIES:-none} flood_evicted $(counter flood_evicted)"

[ "$NB" -eq 10 ] || fail "the benign process's creates: $NB of 10 arrived one by one"
# The bound: the burst, the refill over the flood, 2 s for the agent
# reading later than the attacker wrote (without folding all 5000 come).
BOUND=$("$PY" -c "import sys; print(int($BURST + $RATE * ($SECS + 2)))")
[ "$IC" -le "$BOUND" ] || fail "$IC individual creates from the attacker (bound $BOUND)"
[ "$ID" -le "$BOUND" ] || fail "$ID individual deletes from the attacker (bound $BOUND)"
if [ "$OVERFLOWS" -eq 0 ]; then
    [ $((IC + FC)) -eq "$OPS" ] || fail "creates: $IC individual + $FC folded, $OPS done"
    [ $((ID + FD)) -eq "$OPS" ] || fail "deletes: $ID individual + $FD folded, $OPS done"
else
    [ $((IC + FC)) -le "$OPS" ] || fail "creates: more counted ($IC + $FC) than done"
    [ $((ID + FD)) -le "$OPS" ] || fail "deletes: more counted ($ID + $FD) than done"
    [ $((IC + FC + ID + FD)) -gt $((OPS / 2)) ] || fail "most of the flood unaccounted for"
fi
# About 3 s of flood at one summary a second: several, not one at the end.
[ "$SC" -ge 2 ] || fail "$SC summaries of creates (want >= 2)"
[ "$SD" -ge 2 ] || fail "$SD summaries of deletes (want >= 2)"
[ "${FOLDED:-x}" = $((FC + FD)) ] || fail "flood_folded ${FOLDED:-missing}, summaries carry $((FC + FD))"
[ "${SUMMARIES:-x}" = $((SC + SD)) ] || fail "flood_summaries ${SUMMARIES:-missing}, $((SC + SD)) summaries seen"

# 2. Many processes: 1100 subshells of the test user, 3 creates each.
W2=$T/w2
mkdir -m 1777 "$W2"
mkdir "$T/data2"
cat >"$T/agent.json" <<EOF
{
  "agent": {"data_dir": "$T/data2", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {"file": {"enabled": true, "file": "collector_file.so",
                       "config": {"paths": ["$W2"], "join_wait_ms": 0, "events": ["create"],
                                  "flood_burst": 1, "flood_rate_per_s": 0,
                                  "flood_summary_interval_ms": 60000}}}
}
EOF
"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin file running" file_has "$T/agent.err" "plugin file: running"
PROCS=1100
# shellcheck disable=SC2016 # expanded by the inner bash
setpriv --reuid="$USER_ID" --regid="$(id -g "$USER_NAME")" --clear-groups \
    timeout -k 2 60 bash -c 'for i in $(seq 1 "$2"); do (: >"$1/m$i.1"; : >"$1/m$i.2"; : >"$1/m$i.3"); done' \
    _ "$W2" "$PROCS" || fail "the many-process flood failed"
# Evicted buckets' summaries come at once; the others at stop.
sleep 1
kill -TERM "$APID"
wait_for 15 "agent stopped" pid_gone "$APID"
STOPLINE=$(grep -F "plugin file" "$T/agent.err" | grep -F "stopped:" | tail -n 1) ||
    fail "no counter line at stop"
OVERFLOWS=$(counter overflows)
EVICTED=$(counter flood_evicted)
"$PY" - "$T/data2/events.ndjson" "$W2" "$PROCS" "$OVERFLOWS" >"$T/many.txt" <<'PY' ||
import json, sys
from collections import Counter
path, w, procs, overflows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ind, fold = Counter(), Counter()
nsum = 0
with open(path) as f:
    for line in f:
        ev = json.loads(line)
        if ev.get("event.action") != "creation":
            continue
        pid = ev.get("process.pid")
        n = ev.get("collector_file.folded.count")
        if n is None and ev.get("file.path", "").startswith(w + "/m"):
            ind[pid] += 1
        elif n is not None and ev.get("file.directory") == w:
            fold[pid] += n
            nsum += 1
pids = set(ind) | set(fold)
total = sum(ind.values()) + sum(fold.values())
print("processes %d, individual %d, folded %d in %d summaries"
      % (len(pids), sum(ind.values()), sum(fold.values()), nsum))
if max(ind.values() or [0]) > 1:
    print("a process had more than its burst of 1 published")
    sys.exit(1)
bad = [p for p in pids if ind[p] + fold[p] != 3]
if overflows == 0 and (len(pids) != procs or total != 3 * procs or bad):
    print("not every process's 3 creates accounted for (%d wrong)" % len(bad))
    sys.exit(1)
if overflows > 0 and total > 3 * procs:
    print("more counted than done")
    sys.exit(1)
PY
    fail "many processes: $(cat "$T/many.txt")"
cat "$T/many.txt"
echo "counters: overflows $OVERFLOWS flood_evicted ${EVICTED:-none} flood_summaries $(counter flood_summaries)"
[ "${EVICTED:-0}" -ge $((PROCS - 1024)) ] ||
    fail "flood_evicted ${EVICTED:-missing} with $PROCS processes and 1024 buckets"
echo "PASS"
