#!/usr/bin/env bash
# The agent is killed with SIGKILL mid-stream while the backend is down (so
# everything sits in the spool), then restarted with the backend back: every
# batch that reached the spool arrives. Only the events still in memory (at
# most one flush interval of them) can be lost: they are the newest, so what
# arrives is a gap-free prefix of the synthetic sequence.
. "$(dirname "$0")/lib.sh"
RATE=5000
FLUSH_MS=200
start_backend
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "{\"count\": 100000, \"rate\": $RATE}"
start_agent "$T/rampart.json"
sleep 3
# The last status (written every 200 ms) before the kill: what the spool held.
before=$(status 'd["spool"]["appended_events"]')
published=$(status 'd["plugins"]["synthetic"]["published"]')
age_ms=$("$PY" -c 'import os,sys,time; print(int((time.time() - os.path.getmtime(sys.argv[1])) * 1000))' "$T/data/status.json")
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=
note "killed: last status ${age_ms} ms before: $published published, $before events appended to the spool"
[ "$before" -gt 0 ] || fail "nothing reached the spool before the kill"

# Restart without the collector, with the backend back.
bash "$BACKEND" start-clickhouse "$BK" >/dev/null
write_config "$T/replay.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" ""
rm -f "$T/data/status.json"
start_agent "$T/replay.json" "$T/agent-replay.log"
wait_for 60 "the spool to drain after the restart" drained
sleep 0.5
read -r rows distinct seqs min max <<<"$(arrived)"
note "arrived: $rows rows, $distinct distinct event.id, seq $min..$max ($seqs distinct)"
[ "$min" = 0 ] && [ "$seqs" = $((max + 1)) ] && [ "$distinct" = "$seqs" ] ||
    fail "the events that arrived are not a gap-free prefix: $seqs distinct in $min..$max"
# Every event the spool held at the last status arrived (the agent's own
# events are in that figure too, so compare with all distinct ids).
all=$(ch "SELECT uniqExact(\`event.id\`) FROM rampart.events FORMAT TSV")
[ "$all" -ge "$before" ] || fail "only $all events arrived, but the spool held $before"
# In flight at the kill: published (estimated from the last status and the
# rate) but not spooled. Bounded by a flush interval plus the status age.
est=$((published + RATE * age_ms / 1000))
inflight=$((est - seqs))
[ "$inflight" -lt 0 ] && inflight=0
bound=$((RATE * (FLUSH_MS + age_ms + 300) / 1000))
note "in flight in memory at the kill: about $inflight events (bound $bound: rate $RATE/s x (flush ${FLUSH_MS} ms + status age ${age_ms} ms + 300 ms slack))"
[ "$inflight" -le "$bound" ] || fail "lost $inflight events in memory, more than one flush interval's worth ($bound)"
stop_agent
note "ok"
