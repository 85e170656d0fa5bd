#!/usr/bin/env bash
# 413 splits a batch in halves down to single events (a single event still
# too large is a dead letter), and an Elasticsearch-style answer with
# per-item errors acks the accepted lines and dead-letters the refused one.
. "$(dirname "$0")/lib.sh"
start_backend

# 413 always: a batch of 4 events is sent whole, as 2 halves, then as 4
# single events, each of which becomes a dead letter.
FORMAT=ndjson write_config "$T/split.json" "$RAMPART_E2E_STATUS_URL/413" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 4" \
    '{"count": 4, "rate": 0}'
start_agent "$T/split.json"
wait_for 20 "4 synthetic events dead-lettered" test "$(cat "$T"/data/deadletter/*.ndjson 2>/dev/null | grep -c '"event.action":"exec"')" = 4
got=$(requests "$RAMPART_E2E_BEARER_PORT" "/status/413" | awk '$1 == 413 { n++ } END { print n + 0 }')
keys=$(ls "$T/data/deadletter" | sed -n 's/^[0-9]*-[0-9a-f]*-\([0-9]*\(\.[12]\)*\)\.ndjson$/\1/p' | sort | tr '\n' ' ')
note "413: $got requests; dead letters by key: $keys; splits $(status 'd["upload"]["splits"]')"
[ "$(status 'd["upload"]["splits"]')" -ge 3 ] || fail "expected at least 3 splits (4 -> 2+2 -> 1+1+1+1)"
for f in "$T"/data/deadletter/*.ndjson; do
    [ "$(wc -l <"$f")" = 1 ] || fail "a dead letter after splitting holds $(wc -l <"$f") lines: $f"
done
stop_agent
rm -rf "$T/data"

# Per-item answer: each batch of 2 lines has its first line accepted and its
# second refused.
FORMAT=elastic-bulk write_config "$T/bulk.json" "$RAMPART_E2E_BULK2_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 2" \
    '{"count": 2, "rate": 0}'
start_agent "$T/bulk.json"
wait_for 20 "a dead letter of the refused line" test "$(cat "$T"/data/deadletter/*.ndjson 2>/dev/null | grep -c '"event.action":"exec"')" -ge 1
sleep 0.5
n=$(cat "$T"/data/deadletter/*.ndjson | grep -c '"synthetic.seq":1' || true)
a=$(cat "$T"/data/deadletter/*.ndjson | grep -c '"synthetic.seq":0' || true)
note "bulk: dead letters hold seq 1: $n time(s), seq 0: $a time(s)"
[ "$n" = 1 ] && [ "$a" = 0 ] || fail "expected only the second line (seq 1) as a dead letter"
grep -h mapper_parsing_exception "$T"/data/deadletter/*.json >/dev/null || fail "the dead-letter note lacks the item's error"
stop_agent
note "ok"
