#!/usr/bin/env bash
# The worker (docs/supervisor.md) is killed with SIGKILL every few seconds for
# a minute while collector_synthetic publishes 500 events a second: the supervisor
# restarts it each time (its log and status count every kill), the spool
# stays whole, and every event that reached the spool arrives at the backend,
# each once. ClickHouse is down during the kills so that what the workers
# spooled is still on disk to compare with what arrives afterwards.
. "$(dirname "$0")/lib.sh"
RATE=500
KILL_EVERY_S=3
KILL_FOR_S=${KILL_FOR_S:-60}
start_backend
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "{\"count\": 0, \"rate\": $RATE}"
# Restarts after a kill wait the backoff: short here, so that the minute is
# spent running.
"$PY" - "$T/rampart.json" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["agent"]["supervisor"] = {"backoff_min_ms": 100, "backoff_max_ms": 400}
# Larger records: the replay below sends one request per record.
c["output"]["flush_interval_ms"] = 1000
json.dump(c, open(sys.argv[1], "w"), indent=1)
PYEOF
start_agent "$T/rampart.json"
kills=0
end=$((SECONDS + KILL_FOR_S))
while [ "$SECONDS" -lt "$end" ]; do
    sleep "$KILL_EVERY_S"
    w=$(worker_pid "$AGENT_PID")
    [ -n "$w" ] || fail "no worker $KILL_EVERY_S s after the last kill ($kills kills so far)"
    # A worker that runs: it has written its status.json.
    wait_for 10 "worker $w to run" status_is 'd["pid"]' "$w"
    kill -KILL "$w"
    kills=$((kills + 1))
    new_worker() { local n; n=$(worker_pid "$AGENT_PID"); [ -n "$n" ] && [ "$n" != "$w" ]; }
    wait_for 10 "a new worker after kill $kills" new_worker
done
wait_for 10 "the last worker to run" status_is 'd["supervisor"]["restarts"]' "$kills"
killed=$(grep -c "was killed by SIGKILL; restarting it" "$T/agent.log" || true)
note "$kills kills in ${KILL_FOR_S} s; the supervisor logged $killed and restarted the worker $(status 'd["supervisor"]["restarts"]') times"
[ "$killed" = "$kills" ] || fail "$kills kills, $killed supervisor lines"
status 'd["supervisor"]["last_cause"]' | grep -qxF "worker restarted after it was killed by SIGKILL" ||
    fail "last cause: $(status 'd["supervisor"]["last_cause"]')"
stop_agent

# The spool: whole records only (each new worker cut what a kill tore), and
# each worker's synthetic events a gap-free prefix 0..n-1.
SPOOL_READ=$E2E_DIR/spool_read.py
"$PY" "$SPOOL_READ" events "$T/data/spool" >"$T/persisted.tsv" || fail "cannot read the spool"
"$PY" "$SPOOL_READ" records "$T/data/spool" >"$T/records.json" || fail "cannot read the spool"
"$PY" - "$T/persisted.tsv" "$T/records.json" "$kills" <<'PYEOF' || fail "the spool after the kills"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[2])]
bad = [r for r in recs if r["status"] != "ok"]
if bad:
    sys.exit("records not whole: %s" % bad[:2])
seqs = [int(l.split("\t")[1]) for l in open(sys.argv[1]) if not l.rstrip().endswith("\t-")]
lives = []
for s in seqs:
    if s == 0 or not lives:
        lives.append([])
    lives[-1].append(s)
if len(lives) != int(sys.argv[3]) + 1:
    sys.exit("the synthetic events of %d workers in the spool; expected %d" % (len(lives), int(sys.argv[3]) + 1))
for i, life in enumerate(lives):
    if life != list(range(len(life))):
        sys.exit("worker %d: its synthetic events in the spool are not 0..%d" % (i + 1, len(life) - 1))
print("e2e: %d synthetic events spooled by %d workers (%d to %d each)"
      % (len(seqs), len(lives), min(map(len, lives)), max(map(len, lives))))
PYEOF

bash "$BACKEND" start-clickhouse "$BK" >/dev/null
write_config "$T/replay.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" ""
rm -f "$T/data/status.json"
start_agent "$T/replay.json" "$T/agent-replay.log"
wait_for 120 "the spool to drain after the restart" drained
sleep 0.5
ch "SELECT \`event.id\`, \`event.action\` = 'exec' FROM rampart.events FORMAT TSV" >"$T/arrived.tsv"
"$PY" - "$T/persisted.tsv" "$T/arrived.tsv" <<'PYEOF' || fail "what arrived is not what the spool held"
import collections, sys
persisted = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
arrived = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
p_syn = collections.Counter(e for e, s in persisted if s != "-")
a_syn = collections.Counter(e for e, x in arrived if x == "1")
if p_syn != a_syn:
    sys.exit("synthetic events: %d persisted, %d arrived; %d persisted and missing, %d arrived "
             "but not persisted, %d arrived more than once"
             % (len(p_syn), len(a_syn), len(p_syn - a_syn), len(a_syn - p_syn),
                sum(1 for v in a_syn.values() if v > 1)))
a_all = set(e for e, x in arrived)
missing = [e for e, s in persisted if e not in a_all]
if missing:
    sys.exit("%d persisted events of the agent did not arrive, e.g. %s" % (len(missing), missing[0]))
print("e2e: the %d spooled synthetic events arrived, each once, and the %d others"
      % (len(p_syn), len(persisted) - len(p_syn)))
PYEOF
stop_agent
note "ok"
