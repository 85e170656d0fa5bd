#!/usr/bin/env bash
# A damaged spool (a test truncates the last segment and flips bytes in the
# middle of a record of the first): the agent starts, cuts what is damaged,
# counts and reports it (status.json and an alert), and ships the rest. The
# spool is read on disk before the damage (spool_read.py), so the test knows
# which batches the damage takes: the counters must name them (corrupt_events
# included) and exactly the other events must arrive.
. "$(dirname "$0")/lib.sh"
N=30000
start_backend
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 500" \
    "{\"count\": $N, \"rate\": 0}" ', "max_bytes": 16777216'
start_agent "$T/rampart.json"
wait_for 30 "all $N events in the spool" status_is 'd["spool"]["appended_events"] >= '$N True
[ "$(status 'd["spool"]["dropped_full_events"]')" = 0 ] || fail "the spool dropped events for room: the test's spool is too small"
stop_agent
segs=("$T"/data/spool/*.seg)
note "spool: ${#segs[@]} segments: $(du -b "${segs[@]}" | awk '{ printf "%s ", $1 }')"
[ "${#segs[@]}" -ge 2 ] || fail "expected at least 2 segments"
# The spool as it is on disk before the damage (tests/e2e/spool_read.py).
SPOOL_READ=$E2E_DIR/spool_read.py
"$PY" "$SPOOL_READ" records "$T/data/spool" >"$T/records.json" || fail "cannot read the spool"
"$PY" "$SPOOL_READ" events "$T/data/spool" >"$T/persisted.tsv" || fail "cannot read the spool"
# Flip 16 bytes in the middle of the payload of a record in the middle of the
# first segment, and cut the last segment 1000 bytes short (its footer and
# the end of its last record). Which records that damages, and so which
# events cannot arrive, is known exactly: lost.json.
"$PY" - "$T/records.json" "$T/data/spool" "$T/lost.json" <<'PYEOF' || fail "cannot damage the spool"
import json, os, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
spool = sys.argv[2]
segs = sorted(set(r["seg"] for r in recs))
if any(r["status"] != "ok" for r in recs):
    sys.exit("the spool was damaged before the test damaged it")
first = [r for r in recs if r["seg"] == segs[0]]
victim = first[len(first) // 2]
off = victim["payload_off"] + victim["len"] // 2
with open(os.path.join(spool, segs[0]), "r+b") as f:
    f.seek(off)
    b = f.read(16)
    f.seek(off)
    f.write(bytes(x ^ 0xFF for x in b))
last = os.path.join(spool, segs[-1])
size = os.path.getsize(last) - 1000
os.truncate(last, size)
torn = [r for r in recs if r["seg"] == segs[-1] and r["payload_off"] + r["len"] > size]
# A record cut before the end of its header leaves nothing the agent can
# count; one cut after it is a torn record.
counted_torn = [r for r in torn if r["off"] + 56 <= size]
json.dump({"corrupt": [victim["id"]], "corrupt_events": victim["events"],
           "torn": [r["id"] for r in torn], "torn_counted": len(counted_torn)},
          open(sys.argv[3], "w"))
print("e2e: flipped 16 bytes in batch %d (%d events); the cut takes batches %s"
      % (victim["id"], victim["events"], [r["id"] for r in torn]))
PYEOF

bash "$BACKEND" start-clickhouse "$BK" >/dev/null
write_config "$T/replay.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "" ', "max_bytes": 16777216'
rm -f "$T/data/status.json"
start_agent "$T/replay.json" "$T/agent-replay.log"
kill -0 "$AGENT_PID" || fail "the agent did not start on the damaged spool"
wait_for 60 "the spool to drain" drained
sleep 0.5
torn=$(status 'd["spool"]["cut_torn_records"]')
corrupt=$(status 'd["spool"]["corrupt_records"]')
cevents=$(status 'd["spool"]["corrupt_events"]')
note "cut: $torn torn records ($(status 'd["spool"]["cut_torn_bytes"]') bytes), $corrupt corrupt records ($cevents events)"
grep -q 'spool damage found' "$T/agent-replay.log" || fail "no log line about the damage"
# The counters name exactly the damage done: one corrupt batch with its
# events, and the torn record.
"$PY" - "$T/lost.json" "$corrupt" "$cevents" "$torn" <<'PYEOF' || fail "the damage counters"
import json, sys
lost = json.load(open(sys.argv[1]))
corrupt, cevents, torn = (int(x) for x in sys.argv[2:5])
if corrupt != 1 or cevents != lost["corrupt_events"]:
    sys.exit("corrupt_records %d, corrupt_events %d; expected 1 and %d"
             % (corrupt, cevents, lost["corrupt_events"]))
if torn != lost["torn_counted"]:
    sys.exit("cut_torn_records %d, expected %d" % (torn, lost["torn_counted"]))
PYEOF
read -r rows distinct seqs min max <<<"$(arrived)"
note "arrived: $distinct of $N synthetic events (seq $min..$max)"
# What arrived is what the spool held minus the damaged batches, exactly: the
# loss is the corrupt batch's events (corrupt_events) and the torn ones'.
ch "SELECT \`event.id\`, \`event.action\` = 'exec' FROM rampart.events FORMAT TSV" >"$T/arrived.tsv"
"$PY" - "$T/persisted.tsv" "$T/arrived.tsv" "$T/lost.json" "$T/records.json" "$N" <<'PYEOF' ||
import collections, gzip, json, sys
persisted = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
arrived = [l.rstrip("\n").split("\t") for l in open(sys.argv[2])]
lost = json.load(open(sys.argv[3]))
n = int(sys.argv[5])
# The events of each batch, in spool order (spool_read.py events keeps it).
recs = [json.loads(l) for l in open(sys.argv[4])]
by_batch, at = {}, 0
for r in recs:
    by_batch[r["id"]] = persisted[at:at + r["events"]]
    at += r["events"]
gone = set()
for bid in lost["corrupt"] + lost["torn"]:
    gone.update(e for e, s in by_batch[bid])
want_syn = collections.Counter(e for e, s in persisted if s != "-" and e not in gone)
got_syn = collections.Counter(e for e, x in arrived if x == "1")
lost_syn = sum(1 for e, s in persisted if s != "-" and e in gone)
if want_syn != got_syn:
    sys.exit("synthetic events: expected %d (the %d persisted minus %d in damaged batches), "
             "arrived %d; %d missing, %d unexpected, %d more than once"
             % (len(want_syn), n, lost_syn, len(got_syn), len(want_syn - got_syn),
                len(got_syn - want_syn), sum(1 for v in got_syn.values() if v > 1)))
a_all = set(e for e, x in arrived)
missing = [e for e, s in persisted if e not in gone and e not in a_all]
if missing:
    sys.exit("%d undamaged persisted events did not arrive" % len(missing))
if lost_syn == 0:
    sys.exit("the damage hit no synthetic event: the test proves nothing")
print("e2e: %d synthetic events lost, all in the damaged batches; the rest arrived once" % lost_syn)
PYEOF
    fail "what arrived is not the undamaged part of the spool"
alert=$(ch "SELECT count() FROM rampart.events WHERE \`rule.id\` = 'rampart.spool.corrupt' FORMAT TSV")
[ "$alert" -ge 1 ] || fail "no rampart.spool.corrupt alert arrived"
stop_agent
note "ok"
