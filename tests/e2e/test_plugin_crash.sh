#!/usr/bin/env bash
# A detector that segfaults on its Nth event (tests/plugins/chaos) next to
# collector_synthetic, under the supervisor (docs/supervisor.md):
#  - each crash restarts the worker, and the supervisor's log line names the
#    plugin, the callback and the signal;
#  - after 3 crashes the plugin is disabled: status says so and why, and it
#    stays disabled when the agent is started again;
#  - the alerts (one rampart.agent.restarted per restart, rampart.plugin.disabled)
#    are uploaded;
#  - every event that reached the spool arrives at the backend (distinct
#    event.id), and what was lost in memory at each crash is reported and
#    bounded by the flush interval;
#  - `rampartctl plugins enable chaos` brings it back.
# ClickHouse is down while the plugin crashes, so that everything the workers
# spooled is still on disk to compare with what arrives afterwards.
. "$(dirname "$0")/lib.sh"
RAMPARTCTL=$(dirname "$RAMPARTD")/rampartctl
CHAOS_SO=$(dirname "$RAMPARTD")/../tests/plugins/chaos.so
[ -f "$CHAOS_SO" ] || fail "no chaos plugin at $CHAOS_SO"
RATE=1500
NTH=1500
FLUSH_MS=200
mkdir -p "$T/plugins"
cp "$CHAOS_SO" "$T/plugins/chaos.so"

# write_chaos_config FILE SYNTHETIC_JSON: lib.sh's config plus the chaos detector.
write_chaos_config() {
    write_config "$1" "$RAMPART_E2E_BEARER_URL" \
        ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "$2"
    "$PY" - "$1" "$T/plugins/chaos.so" "$NTH" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugins"]["chaos"] = {"enabled": True, "file": sys.argv[2],
                         "config": {"mode": "segv", "nth": int(sys.argv[3]),
                                    "topic": "process.*"}}
json.dump(c, open(sys.argv[1], "w"), indent=1)
PYEOF
}

start_backend
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
write_chaos_config "$T/rampart.json" "{\"count\": 0, \"rate\": $RATE}"
start_agent "$T/rampart.json"
crashes() { grep -c "died of SIGSEGV in plugin chaos (on_event)" "$T/agent.log" || true; }
three_crashes() { [ "$(crashes)" -ge 3 ]; }
wait_for 30 "three crashes of the chaos plugin" three_crashes
chaos_disabled() { status_is 'd["plugins"]["chaos"]["state"]' disabled; }
wait_for 10 "the chaos plugin to be disabled" chaos_disabled
sleep 1
[ "$(crashes)" = 3 ] || fail "$(crashes) crashes: a disabled plugin crashed again"
# One log line per crash, by the supervisor, naming plugin, callback and signal.
grep -qE "rampartd\[$AGENT_PID\] error: worker \(pid [0-9]+\) died of SIGSEGV in plugin chaos \(on_event\): pc 0x[0-9a-f]+, address 0x0; restarting it$" "$T/agent.log" ||
    fail "no supervisor line naming plugin, callback and signal"
grep -qF "plugin chaos not loaded: disabled after 3 faults in 600 s (last: crash SIGSEGV in on_event)" "$T/agent.log" ||
    fail "the worker did not say why chaos is not loaded"
status_is 'd["supervisor"]["pid"]' "$AGENT_PID" || fail "status: supervisor pid"
status_is 'd["supervisor"]["restarts"]' 3 || fail "status: $(status 'd["supervisor"]') restarts"
status_is 'd["state"]' degraded || fail "status: state $(status 'd["state"]')"
status 'd["plugins"]["chaos"]["error"]' | grep -qF "rampartctl plugins enable chaos" ||
    fail "status: chaos error $(status 'd["plugins"]["chaos"]["error"]')"
status_is 'd["plugins"]["synthetic"]["state"]' running || fail "status: synthetic not running"
stop_agent

# What the spool holds: every worker's events, in order. synthetic.seq starts
# at 0 in each worker, so the lives are told apart; each must be a gap-free
# prefix (nothing lost but the newest, in memory at the crash), and the newest
# record before each crash at most one flush interval (plus slack) older.
SPOOL_READ=$E2E_DIR/spool_read.py
"$PY" "$SPOOL_READ" events "$T/data/spool" >"$T/persisted.tsv" || fail "cannot read the spool"
"$PY" "$SPOOL_READ" records "$T/data/spool" >"$T/records.json" || fail "cannot read the spool"
grep "died of SIGSEGV in plugin chaos" "$T/agent.log" | cut -d' ' -f1 >"$T/crash_times"
"$PY" - "$T/persisted.tsv" "$T/records.json" "$T/crash_times" "$NTH" "$FLUSH_MS" <<'PYEOF' || fail "the spool after the crashes"
import datetime, json, sys
seqs = [int(l.split("\t")[1]) for l in open(sys.argv[1]) if not l.rstrip().endswith("\t-")]
lives = []
for s in seqs:
    if s == 0 or not lives:
        lives.append([])
    lives[-1].append(s)
if len(lives) != 4:
    sys.exit("expected the synthetic events of 4 workers in the spool, found %d" % len(lives))
for i, life in enumerate(lives):
    if life != list(range(len(life))):
        sys.exit("worker %d: its synthetic events in the spool are not 0..%d" % (i + 1, len(life) - 1))
recs = [json.loads(l) for l in open(sys.argv[2])]
bad = [r for r in recs if r["status"] not in ("ok", "torn")]
if bad:
    sys.exit("damaged records: %s" % bad[:2])
crashes = []
for l in open(sys.argv[3]):
    t = datetime.datetime.strptime(l.strip(), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    crashes.append(int(t.timestamp() * 1000) * 1000000)
nth, flush = int(sys.argv[4]), int(sys.argv[5])
for i, c in enumerate(crashes):
    before = [r["ts"] for r in recs if r["status"] == "ok" and r["ts"] <= c]
    age_ms = (c - max(before)) / 1e6 if before else float("inf")
    lost = nth - len(lives[i])
    print("e2e: crash %d: %d synthetic events of that worker spooled; at least %d published "
          "(the detector saw %d) were only in memory and lost; the newest record was %.0f ms "
          "older than the crash" % (i + 1, len(lives[i]), max(lost, 0), nth, age_ms))
    if age_ms > flush + 800:
        sys.exit("crash %d: the newest record on disk is %.0f ms older than the crash: more than "
                 "one flush interval of events was only in memory" % (i + 1, age_ms))
PYEOF

# Started again with the backend back and no collector: the plugin stays
# disabled, and what the spool held arrives, each event once.
bash "$BACKEND" start-clickhouse "$BK" >/dev/null
write_chaos_config "$T/replay.json" ""
rm -f "$T/data/status.json"
start_agent "$T/replay.json" "$T/agent-replay.log"
wait_for 10 "status.json of the restarted agent" status_is 'd["plugins"]["chaos"]["state"]' disabled
wait_for 60 "the spool to drain after the restart" drained
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
# The alerts: one per restart with its cause, and the plugin disabled (once
# by the worker that found it so, once more by the agent started again).
ch "SELECT \`rule.id\`, \`message\` FROM rampart.events WHERE \`event.kind\` = 'alert' AND \`rule.ruleset\` = 'rampart' ORDER BY \`@timestamp\` FORMAT TSV" >"$T/alerts.tsv" 2>/dev/null ||
    ch "SELECT \`rule.id\`, \`message\` FROM rampart.events WHERE \`event.kind\` = 'alert' FORMAT TSV" >"$T/alerts.tsv"
n_restart=$(grep -c "^rampart.agent.restarted	worker restarted after SIGSEGV in plugin chaos (on_event)" "$T/alerts.tsv" || true)
n_disabled=$(grep -c "^rampart.plugin.disabled	plugin chaos is disabled: disabled after 3 faults" "$T/alerts.tsv" || true)
note "alerts at the backend: $n_restart restarts, $n_disabled plugin disabled"
[ "$n_restart" = 3 ] || fail "expected 3 restart alerts at the backend: $(cat "$T/alerts.tsv")"
[ "$n_disabled" = 2 ] || fail "expected 2 plugin-disabled alerts at the backend: $(cat "$T/alerts.tsv")"
grep -qF "plugin chaos is now disabled (restart 3)" "$T/alerts.tsv" || fail "the third restart's alert does not say chaos is disabled"

# rampartctl plugins enable: the ledger forgets it and the worker restarts
# to load it.
"$RAMPARTCTL" --config "$T/replay.json" plugins enable chaos >"$T/enable.out" 2>&1 ||
    fail "rampartctl plugins enable: $(cat "$T/enable.out")"
grep -qxF "rampartctl: plugin chaos enabled; the agent's worker restarts to start it" "$T/enable.out" ||
    fail "rampartctl plugins enable said: $(cat "$T/enable.out")"
wait_for 10 "chaos running again" status_is 'd["plugins"]["chaos"]["state"]' running
status 'd["supervisor"]["last_cause"]' | grep -qF "worker restarted on request: plugin chaos enabled again" ||
    fail "status: last cause $(status 'd["supervisor"]["last_cause"]')"
stop_agent
note "ok"
