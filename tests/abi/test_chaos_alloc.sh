#!/usr/bin/env bash
# A detector that allocates without bound (chaos mode alloc: 32 MiB per
# event, touched, never freed). The worker's memory budget is the
# supervisor's (agent.supervisor.memory_mb, docs/containment.md); what this
# test checks is the worker's side: the agent survives the growth, the other
# plugin's events all reach the output, and the agent reports the memory it
# holds (peak_rss_bytes in status) so that the growth is visible.
# Run as: bash test_chaos_alloc.sh RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
ABI_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR}
CHAOS_DIR=${5:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR}
ABI_DIR=$(cd "$ABI_DIR" && pwd -P)
CHAOS_DIR=$(cd "$CHAOS_DIR" && pwd -P)
[ -f "$ABI_DIR/abi_flood.so" ] || fail "no abi_flood.so in $ABI_DIR"
[ -f "$CHAOS_DIR/chaos.so" ] || fail "no chaos.so in $CHAOS_DIR"
cd "$T"
EVENTS=8
MB=32
mkfifo "$T/feed"
cat >"$T/agent.json" <<JSON
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$ABI_DIR", "log_level": "info",
            "health_interval_ms": 3600000},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "flood": {"enabled": true, "file": "abi_flood.so", "config": {"path": "$T/feed"}},
    "chaos": {"enabled": true, "file": "$CHAOS_DIR/chaos.so",
              "config": {"mode": "alloc", "alloc_mb": $MB, "alloc_max_mb": $((EVENTS * MB)),
                         "topic": "test.flood"}}
  }
}
JSON
# The plugin leaks on purpose: in an ASan build, LeakSanitizer must not turn
# that into the agent's exit status.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    "$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin flood running" file_has "$T/agent.err" "plugin flood: running"
exec 7>"$T/feed"
head -c "$EVENTS" /dev/zero >&7
flood_all() { [ "$(count_lines "$T/data/events.ndjson" '"message":"xxxxxxxxxxxxxxxx')" -eq "$EVENTS" ]; }
wait_for 10 "every collector event in the output" flood_all
grown() {
    "$RAMPARTCTL" --config "$T/agent.json" status --json >"$T/st.json" 2>/dev/null || return 1
    "$PY" - "$T/st.json" "$((EVENTS * MB))" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["peak_rss_bytes"] >= int(sys.argv[2]) << 20 else 1)
PY
}
wait_for 20 "status reports the memory chaos took" grown
echo "peak_rss_bytes: $(json_get "$T/st.json" 'd["peak_rss_bytes"]')"
kill -0 "$APID" || fail "the agent exited"
exec 7>&-
kill -TERM "$APID"
RC=0
wait "$APID" || RC=$?
[ "$RC" -eq 0 ] || fail "exit status $RC after SIGTERM"
echo PASS
