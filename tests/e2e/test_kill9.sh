#!/usr/bin/env bash
# The agent is killed with SIGKILL mid-stream while the backend is down (so
# everything sits in the spool), then restarted with the backend back. The
# spool is read on disk right after the kill: what arrives must be exactly
# what it held (every synthetic event once, the agent's own events too).
# Only events still in memory can be lost: the newest record on disk is at
# most one flush interval older than the kill.
. "$(dirname "$0")/lib.sh"
RATE=5000
FLUSH_MS=200
start_backend
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "{\"count\": 100000, \"rate\": $RATE}"
start_agent "$T/rampart.json"
sleep 3
# rampartd is a supervisor and its worker (docs/supervisor.md): the worker,
# which holds the spool, dies first; the supervisor, which would restart it
# after its backoff, right after.
WPID=$(worker_pid "$AGENT_PID")
[ -n "$WPID" ] || fail "no worker under the supervisor $AGENT_PID"
kill_ns=$("$PY" -c 'import time; print(time.time_ns())')
kill -KILL "$WPID"
kill -KILL "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=

# What the spool holds on disk after the kill (tests/e2e/spool_read.py reads
# it as docs/spool.md describes, checksums included): that, exactly, must
# arrive after the restart.
SPOOL_READ=$E2E_DIR/spool_read.py
"$PY" "$SPOOL_READ" events "$T/data/spool" >"$T/persisted.tsv" || fail "cannot read the spool"
"$PY" "$SPOOL_READ" records "$T/data/spool" >"$T/records.json" || fail "cannot read the spool"
persisted=$(wc -l <"$T/persisted.tsv")
note "killed: the spool holds $persisted events in $(wc -l <"$T/records.json") records"
[ "$persisted" -gt 0 ] || fail "nothing reached the spool before the kill"
# The kill cut nothing but, at most, the newest record: every earlier one is
# whole, and the synthetic events on disk are a gap-free prefix 0..n-1.
"$PY" - "$T/records.json" "$T/persisted.tsv" "$kill_ns" "$FLUSH_MS" <<'PYEOF' || fail "the spool after the kill"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
bad = [r for r in recs[:-1] if r["status"] != "ok"]
if bad or (recs and recs[-1]["status"] not in ("ok", "torn")):
    sys.exit("damaged records besides a torn last one: %s" % (bad or recs[-1:]))
seqs = sorted(int(l.split("\t")[1]) for l in open(sys.argv[2]) if not l.rstrip().endswith("\t-"))
if seqs != list(range(len(seqs))):
    sys.exit("the synthetic events in the spool are not 0..%d" % (len(seqs) - 1))
# Only what the sink had not flushed yet was lost: the newest whole record
# is at most one flush interval (plus scheduling slack) older than the kill.
last = max(r["ts"] for r in recs if r["status"] == "ok")
age_ms = (int(sys.argv[3]) - last) / 1e6
print("e2e: %d synthetic events on disk; the newest record was written %.0f ms before the kill"
      % (len(seqs), age_ms))
if age_ms > int(sys.argv[4]) + 800:
    sys.exit("the newest record on disk is %.0f ms older than the kill: more than one flush "
             "interval of events was only in memory" % age_ms)
PYEOF

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
# What arrived is what was persisted: the same synthetic events, each once,
# and every other persisted event (the agent's own) among what arrived.
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
print("e2e: the %d persisted synthetic events arrived, each once, and the %d others"
      % (len(p_syn), len(persisted) - len(p_syn)))
PYEOF
stop_agent
note "ok"
