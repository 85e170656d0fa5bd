#!/usr/bin/env bash
# The crashing detector of e2e.plugin_crash (tests/plugins/chaos, SIGSEGV on
# its Nth event) isolated (plugins.chaos.isolation "process",
# sdk/docs/isolation.md), next to collector_synthetic, uploading to the real
# backend:
#  - each crash kills only its sandbox: the worker never restarts, the log
#    names the plugin and the signal, and after 3 faults the fault ledger
#    disables the plugin, so its sandbox is not started again;
#  - not one event of the other plugins is lost: every synthetic event the
#    collector published arrives at ClickHouse, each once (distinct
#    event.id).
. "$(dirname "$0")/lib.sh"
CHAOS_SO=$(dirname "$RAMPARTD")/../tests/plugins/chaos.so
[ -f "$CHAOS_SO" ] || fail "no chaos plugin at $CHAOS_SO"
COUNT=6000
RATE=1500
NTH=400
mkdir -p "$T/plugins"
cp "$CHAOS_SO" "$T/plugins/chaos.so"

start_backend
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "{\"count\": $COUNT, \"rate\": $RATE}"
"$PY" - "$T/rampart.json" "$T/plugins/chaos.so" "$NTH" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugins"]["chaos"] = {"enabled": True, "file": sys.argv[2], "isolation": "process",
                         "config": {"mode": "segv", "nth": int(sys.argv[3]),
                                    "topic": "process.*"}}
json.dump(c, open(sys.argv[1], "w"), indent=1)
PYEOF
start_agent "$T/rampart.json"
crashes() { grep -c "plugin chaos: its sandbox (pid [0-9]*) died of signal 11" "$T/agent.log" || true; }
three_crashes() { [ "$(crashes)" -ge 3 ]; }
wait_for 30 "three crashes of the isolated chaos plugin" three_crashes
wait_for 10 "the ledger to disable chaos" grep -qF \
    "plugin chaos: disabled by the fault ledger; its sandbox is not restarted" "$T/agent.log"
published_all() { status_is 'd["plugins"]["synthetic"]["published"]' "$COUNT"; }
wait_for 30 "the collector's $COUNT events" published_all
wait_for 60 "the spool to drain" drained
sleep 0.5
[ "$(crashes)" = 3 ] || fail "$(crashes) sandbox crashes: a disabled plugin ran again"
status_is 'd["supervisor"]["restarts"]' 0 ||
    fail "the worker restarted: $(status 'd["supervisor"]')"
grep -q "worker (pid [0-9]*) died" "$T/agent.log" && fail "the worker died with its isolated plugin"
lost=$(status 'd["plugins"]["chaos"]["sandbox"]["events_lost"]')
note "3 sandbox crashes; events of chaos lost with its sandboxes: $lost"

ch "SELECT count(), uniqExact(\`event.id\`) FROM rampart.events WHERE \`event.action\` = 'exec' FORMAT TSV" >"$T/count.tsv"
read -r rows distinct <"$T/count.tsv"
note "arrived: $rows synthetic rows, $distinct distinct event.id (published $COUNT)"
[ "$distinct" = "$COUNT" ] || fail "$distinct of $COUNT synthetic events arrived"
[ "$rows" = "$COUNT" ] || fail "$rows rows for $COUNT synthetic events: duplicates"
stop_agent
note "ok"
