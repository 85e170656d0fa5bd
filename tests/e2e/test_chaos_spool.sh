#!/usr/bin/env bash
# The bounded stop spools first (docs/containment.md), counted at the real
# backend: a detector stuck in on_event (the test plugin chaos, mode hang)
# must not keep SIGTERM from completing within agent.stop_grace_ms, and every
# event the synthetic collector published before the stop must arrive, each
# once, after a restart. The backend is down while the first agent runs, so
# everything waits in the spool, and the sink's flush interval is long, so
# the last batch reaches the spool only if the stop writes it out before it
# gives up on the stuck plugin.
. "$(dirname "$0")/lib.sh"
CHAOS=$(cd "$(dirname "$RAMPARTD")/../tests/plugins" 2>/dev/null && pwd -P)/chaos.so
[ -f "$CHAOS" ] || fail "no test plugin chaos.so next to $RAMPARTD (build/tests/plugins)"
N=3000
GRACE_MS=3000
start_backend
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
cat >"$T/rampart.json" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 200, "stop_grace_ms": $GRACE_MS,
            "deadlines": {"action": "report", "event_ms": 60000}},
  "output": {"url": "$RAMPART_E2E_BEARER_URL", "format": "clickhouse", "ca_file": "$RAMPART_E2E_CA",
             "token_file": "$RAMPART_E2E_TOKEN_FILE", "flush_interval_ms": 60000},
  "spool": {"fsync": "batch"},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so",
                  "config": {"count": $N, "rate": 5000}},
    "chaos": {"enabled": true, "file": "$CHAOS", "config": {"mode": "hang"}}
  }
}
EOF
start_agent "$T/rampart.json"
published() { status_is 'd["plugins"]["synthetic"]["published"]' "$N"; }
wait_for 30 "the collector to publish its $N events" published
wait_for 10 "chaos inside on_event" status_is 'd["plugins"]["chaos"]["counters"]["chaos.events"]' 1
ts=$(date +%s%N)
kill -TERM "$AGENT_PID"
for _ in $(seq 150); do
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.02
done
stop_ms=$((($(date +%s%N) - ts) / 1000000))
kill -0 "$AGENT_PID" 2>/dev/null && fail "still running ${stop_ms} ms after SIGTERM (grace ${GRACE_MS} ms)"
rc=0
wait "$AGENT_PID" 2>/dev/null || rc=$?
AGENT_PID=
note "stopped in ${stop_ms} ms (grace ${GRACE_MS} ms), status $rc"
[ "$stop_ms" -le $((GRACE_MS + 1000)) ] || fail "the stop took ${stop_ms} ms"
[ "$rc" -eq 70 ] || fail "exit status $rc, expected 70 (a stop that gave up on a plugin)"
grep -q "stop: gave up on 1 plugin whose calls did not return: plugin chaos" "$T/agent.log" ||
    fail "the log does not name the plugin the stop gave up on"

# Restart without the stuck plugin, with the backend back: what the spool
# holds is uploaded.
bash "$BACKEND" start-clickhouse "$BK" >/dev/null
write_config "$T/replay.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" ""
rm -f "$T/data/status.json"
start_agent "$T/replay.json" "$T/agent-replay.log"
wait_for 60 "the spool to drain after the restart" drained
wait_for 30 "all $N synthetic events at the backend" distinct_is "$N"
read -r rows distinct seqs min max <<<"$(arrived)"
note "arrived: $rows rows, $distinct distinct event.id, seq $min..$max ($seqs distinct)"
[ "$rows" -eq "$N" ] || fail "$rows rows for $N events: some arrived twice"
stop_agent
note "ok"
