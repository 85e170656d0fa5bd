#!/usr/bin/env bash
# Hangs (docs/containment.md): a detector whose on_event overruns
# agent.deadlines.event_ms is caught by the watchdog.
#  - action restart (the default): the log names the plugin, the callback and
#    how long; the alert rampart.plugin.hung reaches the output with every
#    event the collector published; the worker stops by itself within the
#    grace (status 70: it gave up on the plugin) for the supervisor to start
#    it again.
#  - action report: the agent runs on; the plugin shows state "hung" and the
#    agent "degraded" while the call lasts, events to it meanwhile are
#    dropped and counted, the other plugin keeps publishing, and once the
#    call returns the plugin is "running" again.
#  - a hang in start (the control thread): the worker still ends, by the
#    watchdog's last resort, status 70.
# Run as: bash test_chaos_hang.sh RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
ABI_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR}
CHAOS_DIR=${5:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR}
ABI_DIR=$(cd "$ABI_DIR" && pwd -P)
CHAOS_DIR=$(cd "$CHAOS_DIR" && pwd -P)
[ -f "$ABI_DIR/abi_flood.so" ] || fail "no abi_flood.so in $ABI_DIR"
[ -f "$CHAOS_DIR/chaos.so" ] || fail "no chaos.so in $CHAOS_DIR"
cd "$T"
GRACE_MS=3000
DEADLINE_MS=800

# config DIR DEADLINES_JSON CHAOS_JSON [SUPERVISOR_JSON]: the worker alone
# unless SUPERVISOR_JSON says otherwise, so that its own exit is seen.
config() {
    mkdir -p "$1"
    mkfifo "$1/feed"
    cat >"$1/agent.json" <<JSON
{
  "agent": {"data_dir": "$1/data", "plugin_dir": "$ABI_DIR", "log_level": "info",
            "stop_grace_ms": $GRACE_MS, "health_interval_ms": 3600000,
            "supervisor": ${4:-{\"enabled\": false\}},
            "deadlines": $2},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "flood": {"enabled": true, "file": "abi_flood.so", "config": {"path": "$1/feed"}},
    "chaos": {"enabled": true, "file": "$CHAOS_DIR/chaos.so", "config": $3}
  }
}
JSON
}

# plugins_json CONFIG : rampartctl plugins --json into $T/ctl.json.
plugins_json() { "$RAMPARTCTL" --config "$1" plugins --json >"$T/ctl.json" 2>/dev/null; }

# plugin_is CONFIG PLUGIN PYTHON_EXPR : the expression holds for the plugin's
# entry p of rampartctl plugins --json.
plugin_is() {
    plugins_json "$1" || return 1
    "$PY" - "$T/ctl.json" "$2" "$3" <<'PY'
import json, sys
for p in json.load(open(sys.argv[1])):
    if p["name"] == sys.argv[2]:
        sys.exit(0 if eval(sys.argv[3]) else 1)
sys.exit(1)
PY
}

flood_lines() { count_lines "$1/data/events.ndjson" '"message":"xxxxxxxxxxxxxxxx'; }
flood_at_least() { [ "$(flood_lines "$1")" -ge "$2" ]; }

# ---- action restart
D="$T/restart"
config "$D" "{\"event_ms\": $DEADLINE_MS}" '{"mode": "hang", "topic": "test.flood"}'
"$RAMPARTD" --foreground --config "$D/agent.json" >"$D/agent.out" 2>"$D/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin flood running" file_has "$D/agent.err" "plugin flood: running"
exec 7>"$D/feed"
head -c 5 /dev/zero >&7
TS=$(date +%s%N)
deadline=$((TS + 15 * 1000000000))
while kill -0 "$APID" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.02; done
GONE_MS=$((($(date +%s%N) - TS) / 1000000))
exec 7>&-
kill -0 "$APID" 2>/dev/null && fail "restart: the worker still runs ${GONE_MS} ms after the hang"
RC=0
wait "$APID" || RC=$?
echo "restart: the worker exited ${GONE_MS} ms after the events, status $RC"
[ "$GONE_MS" -le $((DEADLINE_MS + GRACE_MS + 1500)) ] ||
    fail "restart: exit took ${GONE_MS} ms (deadline ${DEADLINE_MS} ms, grace ${GRACE_MS} ms)"
[ "$RC" -eq 70 ] || fail "restart: exit status $RC, expected 70"
grep -qE "plugin chaos hung in on_event: the call has not returned after [0-9]+ ms \(agent.deadlines.event_ms $DEADLINE_MS\)" "$D/agent.err" ||
    fail "restart: no log line naming the plugin, the callback and how long"
file_has "$D/agent.err" "the worker stops to start again without it running" ||
    fail "restart: the log does not say the worker stops"
file_has "$D/data/events.ndjson" '"rule.id":"rampart.plugin.hung"' ||
    fail "restart: the alert rampart.plugin.hung did not reach the output"
[ "$(flood_lines "$D")" -eq 5 ] || fail "restart: $(flood_lines "$D") of 5 collector events reached the output"

# ---- action restart under the supervisor: the worker's exit is a fault of
# the plugin, and the supervisor starts a new worker at once.
D="$T/supervised"
config "$D" "{\"event_ms\": $DEADLINE_MS}" '{"mode": "hang", "topic": "test.flood"}' '{"enabled": true}'
"$RAMPARTD" --foreground --config "$D/agent.json" >"$D/agent.out" 2>"$D/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin flood running" file_has "$D/agent.err" "plugin flood: running"
W1=$(worker_pid "$APID")
exec 7>"$D/feed"
head -c 1 /dev/zero >&7
wait_for $(((DEADLINE_MS + GRACE_MS) / 1000 + 5)) "the supervisor names the hang" grep -qE \
    "worker \(pid $W1\) exited after a hang in plugin chaos \(on_event\)" "$D/agent.err"
new_worker() { local w; w=$(worker_pid "$APID") && [ -n "$w" ] && [ "$w" != "$W1" ]; }
wait_for 10 "a new worker" new_worker
kill -0 "$APID" || fail "supervised: the supervisor exited"
exec 7>&-
kill -TERM "$APID"
RC=0
wait "$APID" || RC=$?
[ "$RC" -eq 0 ] || fail "supervised: exit status $RC after SIGTERM, expected 0"
echo "supervised: worker $W1 ended by its hang, a new worker started"

# ---- action report: the call returns after 3 s of CPU
D="$T/report"
config "$D" "{\"action\": \"report\", \"event_ms\": $DEADLINE_MS}" \
    '{"mode": "spin", "spin_ms": 3000, "topic": "test.flood"}'
"$RAMPARTD" --foreground --config "$D/agent.json" >"$D/agent.out" 2>"$D/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin flood running" file_has "$D/agent.err" "plugin flood: running"
exec 7>"$D/feed"
head -c 1 /dev/zero >&7
wait_for 5 "chaos shown hung" plugin_is "$D/agent.json" chaos 'p["state"] == "hung"'
run_cmd st.out st.err "$RAMPARTCTL" --config "$D/agent.json" status --json
"$PY" - st.out <<'PY' || fail "report: status does not say degraded by a hung plugin: $(cat st.out)"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["state"] == "degraded", d["state"]
assert "plugin chaos: hung" in d["state_reason"], d["state_reason"]
PY
# Events while it is hung: the collector's reach the output; chaos's are
# dropped and counted once its call returns.
head -c 4 /dev/zero >&7
wait_for 5 "the collector's events in the output" flood_at_least "$D" 5
kill -0 "$APID" || fail "report: the agent exited"
wait_for 10 "the hung call returned" file_has "$D/agent.err" "plugin chaos: the hung on_event call returned after"
wait_for 5 "chaos running again" plugin_is "$D/agent.json" chaos 'p["state"] == "running" and p["hung_dropped"] >= 1'
plugin_is "$D/agent.json" chaos 'p["counters"]["chaos.events"] == 1' ||
    fail "report: chaos got events while hung: $(cat "$T/ctl.json")"
file_has "$D/data/events.ndjson" '"rule.id":"rampart.plugin.hung"' ||
    fail "report: the alert rampart.plugin.hung did not reach the output"
exec 7>&-
kill -TERM "$APID"
RC=0
wait "$APID" || RC=$?
[ "$RC" -eq 0 ] || fail "report: exit status $RC after SIGTERM, expected 0"

# ---- a hang in start: the control thread itself is stuck, so nothing but
# the watchdog can end the worker (after the grace and 2 s more).
D="$T/start"
config "$D" "{\"start_ms\": $DEADLINE_MS}" '{"mode": "hang", "where": "start"}'
TS=$(date +%s%N)
RC=0
timeout -k 2 30 "$RAMPARTD" --foreground --config "$D/agent.json" >"$D/agent.out" 2>"$D/agent.err" || RC=$?
GONE_MS=$((($(date +%s%N) - TS) / 1000000))
echo "start: the worker exited after ${GONE_MS} ms, status $RC"
[ "$RC" -eq 70 ] || fail "start: exit status $RC, expected 70"
[ "$GONE_MS" -le $((DEADLINE_MS + GRACE_MS + 2000 + 2000)) ] || fail "start: exit took ${GONE_MS} ms"
file_has "$D/agent.err" "plugin chaos hung in start: the call has not returned after" ||
    fail "start: no log line naming the plugin and the callback"
file_has "$D/agent.err" "watchdog: the worker did not stop within agent.stop_grace_ms after a hang" ||
    fail "start: the last-resort exit is not logged"
echo PASS
