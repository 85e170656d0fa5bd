#!/usr/bin/env bash
# The agent.health event has a cap of fields (256): with three plugins that
# register every counter and gauge the host allows, its figures do not fit.
# The event must then say it is incomplete (event.truncated) and the agent
# must log it once, while status.json keeps every figure.
# Run as: bash test_health_cap.sh RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
ABI_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR}
ABI_DIR=$(cd "$ABI_DIR" && pwd -P)
for f in many_figures_a.so many_figures_b.so many_figures_c.so; do
    [ -f "$ABI_DIR/$f" ] || fail "no $f in $ABI_DIR"
done
cd "$T"
cat >"$T/agent.json" <<JSON
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$ABI_DIR", "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {
    "a": {"enabled": true, "file": "many_figures_a.so"},
    "b": {"enabled": true, "file": "many_figures_b.so"},
    "c": {"enabled": true, "file": "many_figures_c.so"}
  }
}
JSON
"$RAMPARTD" --foreground --config "$T/agent.json" >agent.out 2>agent.err &
AGENT_PIDS+=("$!")
health() { grep -q '"event.action":"agent-health"' data/events.ndjson 2>/dev/null; }
wait_for 15 "an agent.health event" health
line=$(grep -m1 '"event.action":"agent-health"' data/events.ndjson)
printf '%s\n' "$line" | grep -qF '"event.truncated":true' ||
    fail "the health event does not say it is incomplete: $(printf '%s' "$line" | head -c 300)"
grep -qF "agent.health: " agent.err && grep -qF "did not fit in the event" agent.err ||
    fail "the agent did not log the cut: $(cat agent.err)"
[ "$(grep -c 'did not fit in the event' agent.err)" -eq 1 ] || fail "the cut was logged more than once"
# status.json has every figure of the three plugins.
[ "$(json_get data/status.json 'sum(len(p["counters"]) + len(p["gauges"]) for p in d["plugins"].values())')" = 288 ] ||
    fail "status.json lacks figures: $(json_get data/status.json 'd["plugins"]["a"]')"
echo "PASS"
