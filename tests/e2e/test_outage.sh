#!/usr/bin/env bash
# The backend goes away under load (ClickHouse stopped: nginx answers 502)
# and comes back: every event arrives, nothing is lost, the uploader retried.
. "$(dirname "$0")/lib.sh"
N=20000
start_backend
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "{\"count\": $N, \"rate\": 2500}"
start_agent "$T/rampart.json"
sleep 1.5
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
note "clickhouse stopped at $(status 'd["plugins"]["synthetic"]["published"]') events"
sleep 4
queued=$(status 'd["spool"]["queued_events"]')
retries=$(status 'd["upload"]["retries"]')
note "during the outage: $queued events waiting in the spool, $retries retries"
[ "$queued" -gt 0 ] || fail "nothing waited in the spool during the outage"
[ "$retries" -gt 0 ] || fail "no retries during the outage"
bash "$BACKEND" start-clickhouse "$BK" >/dev/null
note "clickhouse back"
wait_for 90 "$N distinct events after the outage" distinct_is $N
read -r rows distinct seqs min max <<<"$(arrived)"
note "rows $rows, distinct event.id $distinct, distinct seq $seqs ($min..$max)"
[ "$distinct" = $N ] || fail "$distinct distinct event.id, expected $N"
[ "$seqs" = $N ] && [ "$min" = 0 ] && [ "$max" = $((N - 1)) ] || fail "seq $seqs $min..$max"
# Once the spool is drained every retried batch has landed: each event
# arrived exactly once, none twice although batches were sent again.
wait_for 30 "the spool to drain" drained
sleep 0.5
read -r rows distinct seqs min max <<<"$(arrived)"
[ "$rows" = $N ] && [ "$distinct" = $N ] || fail "after the drain: $rows rows, $distinct distinct event.id, expected $N of each"
stop_agent
note "ok"
