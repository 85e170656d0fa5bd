#!/usr/bin/env bash
# 413 splits a batch in halves down to single events (a single event still
# too large is a dead letter), and an Elasticsearch-style answer with
# per-item errors acks the accepted lines and dead-letters the refused one.
# Each part first spools its batches with the backend out of reach and reads
# them on disk (spool_read.py), so it checks which line of which batch became
# a dead letter, and the exact number of 413 answers.
. "$(dirname "$0")/lib.sh"
start_backend

SPOOL_READ=$E2E_DIR/spool_read.py
# A port where nothing listens: uploads fail and retry, batches stay spooled.
NOWHERE=https://127.0.0.1:1/nowhere

# spool_batches CONFIG COUNT OUT : runs the agent on CONFIG until its COUNT
# synthetic events are spooled, stops it, and writes the spool's batches (id, then the
# event.id of each line in order) to OUT as JSON. The test then knows every
# batch the next run uploads, line by line.
spool_batches() {
    start_agent "$1" "$T/agent-spool.log"
    # Once the sink has them, stopping puts them in the spool: the stop cuts
    # the open batch and syncs. (Waiting for sink.events to equal the
    # spool's count instead races the agent's own health events, which keep
    # a batch open at most snapshots on a loaded machine.)
    wait_for 20 "the synthetic events at the sink" status_is \
        'd["plugins"]["synthetic"]["published"] == '"$2"' and d["sink"]["events"] >= '"$2" True
    stop_agent
    "$PY" "$SPOOL_READ" records "$T/data/spool" >"$T/records.json" || fail "cannot read the spool"
    "$PY" "$SPOOL_READ" events "$T/data/spool" >"$T/events.tsv" || fail "cannot read the spool"
    "$PY" - "$T/records.json" "$T/events.tsv" "$3" <<'PYEOF' || fail "the spooled batches"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
evs = [l.split("\t")[0] for l in open(sys.argv[2])]
out, at = [], 0
for r in recs:
    if r["status"] != "ok":
        sys.exit("damaged record in the spool: %s" % r)
    out.append({"id": r["id"], "lines": evs[at:at + r["events"]]})
    at += r["events"]
json.dump(out, open(sys.argv[3], "w"))
print("e2e: spooled batches of %s events" % [len(b["lines"]) for b in out])
PYEOF
}

# dead_letters : the dead letters as JSON: [{batch, path, lines, reason}],
# where path is the split path of the key (".1.2": first half, then its
# second half).
# wait_check SECONDS CHECK : runs CHECK every 200 ms until it passes; on
# timeout fails with what CHECK said the last time.
wait_check() {
    local end=$((SECONDS + $1)) out
    until out=$("$2" 2>&1); do
        [ "$SECONDS" -lt "$end" ] || fail "after $1 s: $out"
        sleep 0.2
    done
    echo "$out"
}

dead_letters() {
    "$PY" - "$T/data/deadletter" <<'PYEOF'
import json, os, re, sys
d = sys.argv[1]
out = []
for n in sorted(os.listdir(d)) if os.path.isdir(d) else []:
    m = re.match(r"^\d{20}-[0-9a-f]{16}-(\d+)((?:\.[12]|r)*)\.ndjson$", n)
    if not m:
        continue
    note = json.load(open(os.path.join(d, n[:-len(".ndjson")] + ".json")))
    lines = [json.loads(l)["event.id"] for l in open(os.path.join(d, n))]
    out.append({"batch": int(m.group(1)), "path": m.group(2), "lines": lines,
                "reason": note["reason"]})
print(json.dumps(out))
PYEOF
}

# 413 always: every batch is sent whole, then as halves, down to single
# events, each of which becomes a dead letter. A batch of k events makes
# exactly 2k-1 requests (a binary tree with k leaves), none sent twice.
FORMAT=ndjson write_config "$T/spool.json" "$NOWHERE" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 4" \
    '{"count": 4, "rate": 0}'
spool_batches "$T/spool.json" 4 "$T/batches413.json"
# The same spool to the 413 endpoint, the collector off and health events
# rare, so the only later batches are the agent's own few.
HEALTH_MS=60000 FORMAT=ndjson write_config "$T/split.json" "$RAMPART_E2E_STATUS_URL/413" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 4" ""
start_agent "$T/split.json"
got413() { requests "$RAMPART_E2E_BEARER_PORT" "/status/413" | awk '$1 == 413 { n++ } END { print n + 0 }'; }
# check413 : every spooled batch is dead-lettered line by line, each line in
# the place its key names, and the 413 answers are exactly 2k-1 per batch.
check413() {
    dead_letters >"$T/dl.json"
    "$PY" - "$T/batches413.json" "$T/dl.json" "$(got413)" <<'PYEOF'
import collections, json, sys
batches = json.load(open(sys.argv[1]))
dls = json.load(open(sys.argv[2]))
got = int(sys.argv[3])
by = collections.defaultdict(list)
for d in dls:
    by[d["batch"]].append(d)
if any("r" in d["path"] for d in dls):
    sys.exit("a part was sent again after a 413: %s" % [d for d in dls if "r" in d["path"]])
for b in batches:
    parts = sorted(by.get(b["id"], []), key=lambda d: [int(x) for x in d["path"].split(".")[1:]])
    lines = [l for d in parts for l in d["lines"]]
    if any(len(d["lines"]) != 1 for d in parts):
        sys.exit("batch %d: a dead letter of more than one line after splitting" % b["id"])
    if lines != b["lines"]:
        sys.exit("batch %d: dead-lettered %s in key order, the batch held %s"
                 % (b["id"], lines, b["lines"]))
want = sum(2 * len(v) - 1 for v in by.values())
if got != want:
    sys.exit("%d answers 413, expected %d (2k-1 for each batch of k events: %s)"
             % (got, want, {k: len(v) for k, v in by.items()}))
print("e2e: 413: %d answers for %d batches (%d events), each line dead-lettered once in its place"
      % (got, len(by), sum(len(v) for v in by.values())))
PYEOF
}
wait_check 30 check413
sleep 1
# A second later: no request sent again.
out=$(check413 2>&1) || fail "after the dead letters: $out"
stop_agent
rm -rf "$T/data"

# Per-item answer: each batch of 2 lines has its first line accepted and its
# second refused; a 1-line batch gets an answer for 2 items, which cannot be
# matched, so it is dead-lettered whole. The batches are spooled first, so
# the test knows which line of which batch must be the dead letter.
HEALTH_MS=1000 FORMAT=elastic-bulk write_config "$T/spool2.json" "$NOWHERE" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 2" \
    '{"count": 6, "rate": 0}'
spool_batches "$T/spool2.json" 6 "$T/batches2.json"
HEALTH_MS=60000 FORMAT=elastic-bulk write_config "$T/bulk.json" "$RAMPART_E2E_BULK2_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 2" ""
start_agent "$T/bulk.json"
checkbulk() {
    dead_letters >"$T/dl.json"
    "$PY" - "$T/batches2.json" "$T/dl.json" <<'PYEOF'
import collections, json, sys
batches = json.load(open(sys.argv[1]))
dls = json.load(open(sys.argv[2]))
by = collections.defaultdict(list)
for d in dls:
    by[d["batch"]].append(d)
partial = 0
for b in batches:
    got = by.get(b["id"], [])
    if len(got) != 1:
        sys.exit("batch %d (%d lines): %d dead letters, expected 1" % (b["id"], len(b["lines"]), len(got)))
    d = got[0]
    if len(b["lines"]) == 2:
        if d["reason"] != "lines refused by the backend" or d["lines"] != b["lines"][1:]:
            sys.exit("batch %d: dead letter %s (%s); expected its second line %s only"
                     % (b["id"], d["lines"], d["reason"], b["lines"][1]))
        partial += 1
    elif d["lines"] != b["lines"]:
        sys.exit("batch %d: dead letter %s, expected the whole batch %s" % (b["id"], d["lines"], b["lines"]))
if partial == 0:
    sys.exit("no 2-line batch: the per-item answer was not exercised")
print("e2e: bulk: %d batches; the second line of each of the %d 2-line batches dead-lettered, "
      "nothing else" % (len(batches), partial))
PYEOF
}
wait_check 30 checkbulk
out=$(checkbulk 2>&1) || fail "bulk: $out"
for n in $(grep -l '"lines refused by the backend"' "$T"/data/deadletter/*.json); do
    grep -q mapper_parsing_exception "$n" || fail "the note lacks the item's error: $(cat "$n")"
done
# A backend refusing everything must not get an alert per dead letter (the
# alerts are dead-lettered in turn): one per minute at most.
alerts=$(cat "$T"/data/deadletter/*.ndjson | grep -c '"rule.id":"rampart.upload.dead_letter"' || true)
note "dead-letter alerts among the dead letters: $alerts"
[ "$alerts" -le 1 ] || fail "$alerts dead-letter alerts in a few seconds: they feed on themselves"
stop_agent
note "ok"
