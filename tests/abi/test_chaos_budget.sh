#!/usr/bin/env bash
# CPU budgets (docs/containment.md): a detector that burns 50 ms of CPU on
# each event, with an event every 100 ms, wants half a CPU; over a budget of
# 10 % over 2 s (agent.plugin_budget), events to it are dropped and
# counted until the window ends, the alert rampart.plugin.cpu_budget is
# raised (at most one per window), and the agent and the other plugin (the
# collector abi_flood, whose every event must reach the output) keep
# working.
# Run as: bash test_chaos_budget.sh RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
ABI_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR}
CHAOS_DIR=${5:?usage: $0 RAMPARTD RAMPARTCTL VERSION ABI_PLUGIN_DIR TEST_PLUGIN_DIR}
ABI_DIR=$(cd "$ABI_DIR" && pwd -P)
CHAOS_DIR=$(cd "$CHAOS_DIR" && pwd -P)
[ -f "$ABI_DIR/abi_flood.so" ] || fail "no abi_flood.so in $ABI_DIR"
[ -f "$CHAOS_DIR/chaos.so" ] || fail "no chaos.so in $CHAOS_DIR"
cd "$T"
EVENTS=50
WINDOW_S=2
mkfifo "$T/feed"
cat >"$T/agent.json" <<JSON
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$ABI_DIR", "log_level": "info",
            "health_interval_ms": 3600000,
            "plugin_budget": {"cpu_percent": 10, "window_s": $WINDOW_S}},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "flood": {"enabled": true, "file": "abi_flood.so", "config": {"path": "$T/feed"}},
    "chaos": {"enabled": true, "file": "$CHAOS_DIR/chaos.so",
              "config": {"mode": "spin", "spin_ms": 50, "topic": "test.flood"}}
  }
}
JSON
"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin flood running" file_has "$T/agent.err" "plugin flood: running"
exec 7>"$T/feed"
START=$(date +%s%N)
for _ in $(seq "$EVENTS"); do
    printf x >&7
    sleep 0.1
done
flood_lines() { count_lines "$T/data/events.ndjson" '"message":"xxxxxxxxxxxxxxxx'; }
flood_all() { [ "$(flood_lines)" -eq "$EVENTS" ]; }
wait_for 10 "every collector event in the output" flood_all
kill -0 "$APID" || fail "the agent exited"
# chaos has had every event, delivered or dropped (it may lag behind).
chaos_done() {
    "$RAMPARTCTL" --config "$T/agent.json" plugins --json >"$T/ctl.json" 2>/dev/null || return 1
    "$PY" - "$T/ctl.json" "$EVENTS" <<'PY'
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))}["chaos"]
sys.exit(0 if c["counters"]["chaos.events"] + c["budget_dropped"] == int(sys.argv[2]) else 1)
PY
}
wait_for 30 "chaos had every event, delivered or dropped" chaos_done
ELAPSED_S=$((($(date +%s%N) - START) / 1000000000 + 1))
run_cmd pj.out pj.err "$RAMPARTCTL" --config "$T/agent.json" plugins --json
expect_rc 0 "plugins --json: $(cat pj.err)"
"$PY" - pj.out "$EVENTS" <<'PY' || fail "chaos's figures: $(cat pj.out)"
import json, sys
p = {x["name"]: x for x in json.load(open(sys.argv[1]))}
c, n = p["chaos"], int(sys.argv[2])
seen = c["counters"]["chaos.events"]
print("chaos: %d of %d events delivered, %d dropped over budget, cpu %d ms"
      % (seen, n, c["budget_dropped"], c["cpu_ms"]))
assert c["budget_dropped"] > 0, c
assert seen + c["budget_dropped"] == n, c
assert c["cpu_ms"] >= 50 * seen * 0.8, c  # on_event is measured
assert p["flood"]["budget_dropped"] == 0, p["flood"]
PY
grep -q "plugin chaos used [0-9]* ms of CPU in [0-9]* ms, over its budget of 10% of one CPU over $WINDOW_S s" "$T/agent.err" ||
    fail "no log line saying chaos went over its CPU budget"
ALERTS=$(count_lines "$T/data/events.ndjson" '"rule.id":"rampart.plugin.cpu_budget"')
echo "$ALERTS cpu_budget alerts in ${ELAPSED_S} s (window ${WINDOW_S} s)"
[ "$ALERTS" -ge 1 ] || fail "the alert rampart.plugin.cpu_budget did not reach the output"
[ "$ALERTS" -le $((ELAPSED_S / WINDOW_S + 1)) ] || fail "$ALERTS alerts: more than one per window"
exec 7>&-
kill -TERM "$APID"
RC=0
wait "$APID" || RC=$?
[ "$RC" -eq 0 ] || fail "exit status $RC after SIGTERM"

# The same plugin with a budget of its own, none (plugins.chaos.cpu_percent
# 0, for a plugin whose work is legitimately heavy): nothing is dropped.
rm -rf "$T/data"
EVENTS=20
sed -i 's|"file": "'"$CHAOS_DIR"'/chaos.so",|"file": "'"$CHAOS_DIR"'/chaos.so", "cpu_percent": 0,|' "$T/agent.json"
grep -q '"cpu_percent": 0,' "$T/agent.json" || fail "the override is not in the config"
"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent2.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin flood running" file_has "$T/agent2.err" "plugin flood: running"
exec 7>"$T/feed"
for _ in $(seq "$EVENTS"); do
    printf x >&7
    sleep 0.1
done
wait_for 30 "chaos had every event, delivered or dropped" chaos_done
"$PY" - "$T/ctl.json" "$EVENTS" <<'PY' || fail "chaos with its own budget: $(cat "$T/ctl.json")"
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))}["chaos"]
print("chaos (cpu_percent 0): %d events delivered, %d dropped" % (c["counters"]["chaos.events"], c["budget_dropped"]))
assert c["budget_dropped"] == 0 and c["counters"]["chaos.events"] == int(sys.argv[2]), c
PY
file_has "$T/agent2.err" "over its budget" && fail "a plugin without a budget was said to be over it"
exec 7>&-
kill -TERM "$APID"
wait "$APID" || fail "exit status after SIGTERM (second run)"
echo PASS
