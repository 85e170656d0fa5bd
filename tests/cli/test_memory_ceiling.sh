#!/usr/bin/env bash
# agent.max_rss_bytes: a detector that keeps 1 MiB of every event it sees
# (the test plugin chaos, mode alloc) drives the agent's memory up while
# collector_synthetic publishes. At the ceiling the synthetic events are
# refused, so the detector stops growing: the ceiling is seen soon after it
# is passed, memory then stays put, the log says so, and status and the
# alert rampart.memory.ceiling report it. The agent keeps running.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
BUILD=$(cd "$(dirname "$RAMPARTD")/.." && pwd -P)
CHAOS=$BUILD/tests/plugins/chaos.so
[ -f "$CHAOS" ] || fail "no $CHAOS"
cd "$T"
CEILING=$((96 * 1024 * 1024 + 4 * 1024 * 1024)) # bus cap 64 MiB + 36 MiB
cat >"$T/agent.json" <<JSON
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$BUILD/plugins", "log_level": "info",
            "health_interval_ms": 200, "max_rss_bytes": $CEILING},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so",
                  "config": {"count": 0, "rate": 300}},
    "chaos": {"enabled": true, "file": "$CHAOS",
              "config": {"mode": "alloc", "alloc_mb": 1, "alloc_max_mb": 400,
                         "topic": "process.exec"}}
  }
}
JSON
"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 20 "the memory ceiling in the log" file_has "$T/agent.err" "memory ceiling reached"

# status.json is rewritten every health tick: the figures under "memory".
mem_field() {
    $PY - "$T/data/status.json" "$1" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(1)
m = d.get("memory") or d.get("health", {}).get("memory") or {}
v = m.get(sys.argv[2])
if v is None:
    sys.exit(1)
print(v)
PY
}
has_refusals() { local n; n=$(mem_field refused) && [ "$n" -gt 0 ]; }
wait_for 10 "status memory.refused > 0" has_refusals
[ "$(mem_field max_rss_bytes)" -eq "$CEILING" ] || fail "status max_rss_bytes is not the ceiling"
[ "$(mem_field ceiling_episodes)" -ge 1 ] || fail "no ceiling episode in status"
wait_for 10 "the alert rampart.memory.ceiling" file_has "$T/data/events.ndjson" '"rampart.memory.ceiling"'

# The log line gives the resident size when the ceiling was seen: sampled
# every 50 ms while events flow, at 300 events/s of 1 MiB each that is
# within about 15 MiB of the ceiling (32 MiB allowed on a loaded machine).
seen=$(sed -n 's/.*memory ceiling reached (\([0-9]*\) bytes resident.*/\1/p' "$T/agent.err" | head -n 1)
[ -n "$seen" ] || fail "no resident size in the ceiling's log line"
[ "$seen" -le $((CEILING + 32 * 1024 * 1024)) ] ||
    fail "the ceiling was seen only at $seen bytes (ceiling $CEILING)"
# Refusing the detector's input stopped its growth: once the events queued
# for it before the ceiling are done, resident memory stays put.
kill -0 "$APID" || fail "the agent died at the ceiling"
# The process that holds the events (the worker, under a supervisor).
WPID=$($PY -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d.get("pid") or d["health"]["pid"])' "$T/data/status.json")
sleep 1
rss1=$(awk '/^VmRSS:/ {print $2}' "/proc/$WPID/status")
sleep 2
rss2=$(awk '/^VmRSS:/ {print $2}' "/proc/$WPID/status")
echo "ceiling $((CEILING / 1024)) kB, seen at $((seen / 1024)) kB, then ${rss1} kB, 2 s later ${rss2} kB" >&2
[ "$rss2" -le $((rss1 + 4096)) ] || fail "memory kept growing over the ceiling: ${rss1} kB then ${rss2} kB"
n1=$(mem_field refused)
sleep 0.5
n2=$(mem_field refused)
[ "$n2" -gt "$n1" ] || fail "the collector's events are no longer refused at the ceiling ($n1, $n2)"
kill -TERM "$APID"
wait_for 15 "the agent to stop" pid_gone "$APID"
echo "ok: memory ceiling held (seen at $((seen / 1024)) kB, then ${rss2} kB)"
