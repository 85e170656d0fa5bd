#!/usr/bin/env bash
# A damaged spool (a test truncates the last segment and flips bytes in the
# middle of the first): the agent starts, cuts what is damaged, counts and
# reports it (status.json and an alert), and ships the rest.
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
first=${segs[0]}
last=${segs[${#segs[@]} - 1]}
# Flip 16 bytes in the middle of the first segment (inside some record).
size=$(stat -c %s "$first")
"$PY" - "$first" $((size / 2)) <<'PYEOF'
import sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(off)
    b = f.read(16)
    f.seek(off)
    f.write(bytes(x ^ 0xFF for x in b))
PYEOF
# Cut the last segment in the middle of a record (and its footer).
lsize=$(stat -c %s "$last")
truncate -s $((lsize - 1000)) "$last"

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
[ "$torn" -ge 1 ] || fail "the truncated record was not cut"
[ "$corrupt" -ge 1 ] || fail "the flipped bytes were not detected"
grep -q 'spool damage found' "$T/agent-replay.log" || fail "no log line about the damage"
read -r rows distinct seqs min max <<<"$(arrived)"
note "arrived: $distinct of $N synthetic events (seq $min..$max)"
[ "$distinct" -lt $N ] || fail "all events arrived although records were damaged"
# At most the damaged records' batches are missing: one corrupt batch and
# one torn one of at most 500 events each (a flip may span two records).
[ "$distinct" -ge $((N - 3 * 500)) ] || fail "more was lost than the damaged records: $distinct of $N arrived"
alert=$(ch "SELECT count() FROM rampart.events WHERE \`rule.id\` = 'rampart.spool.corrupt' FORMAT TSV")
[ "$alert" -ge 1 ] || fail "no rampart.spool.corrupt alert arrived"
stop_agent
note "ok"
