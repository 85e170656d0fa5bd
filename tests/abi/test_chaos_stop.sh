#!/usr/bin/env bash
# The bounded stop (docs/containment.md): a detector that never returns from
# on_event, because it sleeps forever (mode hang) or burns CPU forever (mode
# spin), must not hold SIGTERM up past agent.stop_grace_ms, and every event
# the collectors published before the stop must reach the output first. The
# collector is abi_flood (one event per byte written to its FIFO); the sink
# is told to flush only every 60 s, so the events reach the file only if the
# stop writes them out before it gives up on the stuck plugin. The agent
# says in its log which plugin it gave up on and exits with status 70.
# Run as: bash test_chaos_stop.sh RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR
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
EVENTS=20

run_case() {
    local mode=$1 dir="$T/$1"
    mkdir -p "$dir"
    mkfifo "$dir/feed"
    # The hang is only reported (action report, a long deadline): this test
    # is about the stop, not about the watchdog ending the worker first.
    cat >"$dir/agent.json" <<JSON
{
  "agent": {"data_dir": "$dir/data", "plugin_dir": "$ABI_DIR", "log_level": "info",
            "stop_grace_ms": $GRACE_MS, "health_interval_ms": 3600000,
            "deadlines": {"action": "report", "event_ms": 60000}},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 60000},
  "plugins": {
    "flood": {"enabled": true, "file": "abi_flood.so", "config": {"path": "$dir/feed"}},
    "chaos": {"enabled": true, "file": "$CHAOS_DIR/chaos.so",
              "config": {"mode": "$mode", "topic": "test.flood"}}
  }
}
JSON
    "$RAMPARTD" --foreground --config "$dir/agent.json" >"$dir/agent.out" 2>"$dir/agent.err" &
    local apid=$!
    AGENT_PIDS+=("$apid")
    wait_for 10 "plugin flood running ($mode)" file_has "$dir/agent.err" "plugin flood: running"
    wait_for 10 "plugin chaos running ($mode)" file_has "$dir/agent.err" "plugin chaos: running"
    # Held open for the whole case: one writer, so the collector never sees
    # the end of the FIFO.
    exec 7>"$dir/feed"
    head -c "$EVENTS" /dev/zero >&7
    # chaos got its first event and is stuck in it (it counts before it
    # misbehaves); the others queue behind it.
    wait_for 10 "chaos inside on_event ($mode)" ctl_count "$dir/agent.json" chaos 1
    local ts deadline stop_ms rc=0
    ts=$(date +%s%N)
    kill -TERM "$apid"
    deadline=$((ts + 15 * 1000000000))
    while kill -0 "$apid" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.02; done
    stop_ms=$((($(date +%s%N) - ts) / 1000000))
    exec 7>&-
    kill -0 "$apid" 2>/dev/null && fail "$mode: still running ${stop_ms} ms after SIGTERM (grace ${GRACE_MS} ms)"
    wait "$apid" || rc=$?
    echo "$mode: stopped in ${stop_ms} ms (grace ${GRACE_MS} ms), exit status $rc"
    [ "$stop_ms" -le $((GRACE_MS + 1000)) ] || fail "$mode: stop took ${stop_ms} ms (grace ${GRACE_MS} ms)"
    [ "$rc" -eq 70 ] || fail "$mode: exit status $rc, expected 70 (a stop that gave up on a plugin)"
    file_has "$dir/agent.err" "stop: gave up on 1 plugin whose calls did not return: plugin chaos (still in on_event)" ||
        fail "$mode: the log does not name the plugin the stop gave up on"
    # abi_flood's events are the lines whose message is its payload of x.
    local got
    got=$(count_lines "$dir/data/events.ndjson" '"message":"xxxxxxxxxxxxxxxx')
    echo "$mode: $got of $EVENTS collector events in the output"
    [ "$got" -eq "$EVENTS" ] || fail "$mode: $got of $EVENTS events reached the output"
    file_has "$dir/data/events.ndjson" '"event.action":"agent-stopped"' ||
        fail "$mode: the agent-stopped event did not reach the output"
}

# ctl_count CONFIG PLUGIN N : the plugin's chaos.events counter is at least N.
ctl_count() {
    "$RAMPARTCTL" --config "$1" plugins --json >"$T/ctl.json" 2>/dev/null || return 1
    "$PY" - "$T/ctl.json" "$2" "$3" <<'PY'
import json, sys
for p in json.load(open(sys.argv[1])):
    if p["name"] == sys.argv[2]:
        sys.exit(0 if p["counters"].get("chaos.events", 0) >= int(sys.argv[3]) else 1)
sys.exit(1)
PY
}

run_case hang
run_case spin
echo PASS
