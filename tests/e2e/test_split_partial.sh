#!/usr/bin/env bash
# 413 splits a batch in halves down to single events (a single event still
# too large is a dead letter), and an Elasticsearch-style answer with
# per-item errors acks the accepted lines and dead-letters the refused one.
. "$(dirname "$0")/lib.sh"
start_backend

dead_exec_is() { [ "$(cat "$T"/data/deadletter/*.ndjson 2>/dev/null | grep -c '"event.action":"exec"')" = "$1" ]; }

# 413 always: a batch of 4 events is sent whole, as 2 halves, then as 4
# single events, each of which becomes a dead letter.
FORMAT=ndjson write_config "$T/split.json" "$RAMPART_E2E_STATUS_URL/413" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 4" \
    '{"count": 4, "rate": 0}'
start_agent "$T/split.json"
wait_for 20 "4 synthetic events dead-lettered" dead_exec_is 4
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
# second refused. With health events only every second, 6 synthetic events
# published at once make mostly
# 2-line batches; a 1-line batch (cut by the flush timer) gets an answer
# for 2 items, which cannot be matched, so it is dead-lettered whole.
HEALTH_MS=1000 FORMAT=elastic-bulk write_config "$T/bulk.json" "$RAMPART_E2E_BULK2_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_events\": 2" \
    '{"count": 6, "rate": 0}'
start_agent "$T/bulk.json"
wait_for 20 "the spool to drain" status_is 'd["spool"]["queued_events"] <= 1 and d["plugins"]["synthetic"]["published"] == 6' True
sleep 0.3
dead=$(cat "$T"/data/deadletter/*.ndjson | grep -c '"event.action":"exec"' || true)
partial=$(grep -l '"lines refused by the backend"' "$T"/data/deadletter/*.json | wc -l)
note "bulk: $dead of 6 synthetic events dead-lettered; $partial dead letters from per-item answers"
[ "$partial" -ge 1 ] || fail "no dead letter from a per-item answer"
for n in $(grep -l '"lines refused by the backend"' "$T"/data/deadletter/*.json); do
    grep -q mapper_parsing_exception "$n" || fail "the note lacks the item's error: $(cat "$n")"
    [ "$(wc -l <"${n%.json}.ndjson")" = 1 ] || fail "a per-item dead letter holds more than the refused line"
done
[ "$dead" -ge 1 ] && [ "$dead" -le 4 ] || fail "expected the second line of each batch refused, $dead of 6 were"
# A backend refusing everything must not get an alert per dead letter (the
# alerts are dead-lettered in turn): one per minute at most.
alerts=$(cat "$T"/data/deadletter/*.ndjson | grep -c '"rule.id":"rampart.upload.dead_letter"' || true)
note "dead-letter alerts among the dead letters: $alerts"
[ "$alerts" -le 1 ] || fail "$alerts dead-letter alerts in a few seconds: they feed on themselves"
stop_agent
note "ok"
