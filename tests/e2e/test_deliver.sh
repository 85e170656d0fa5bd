#!/usr/bin/env bash
# N events from collector_synthetic arrive in ClickHouse, each exactly once
# by event.id: over the Bearer port (token file) and over the mutual-TLS port
# (client certificate, pinned server key), through nginx, gzip and the spool.
. "$(dirname "$0")/lib.sh"
N=20000
start_backend

# Bearer.
write_config "$T/bearer.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" "{\"count\": $N, \"rate\": 0}"
start_agent "$T/bearer.json"
wait_for 60 "$N distinct events over the Bearer port" distinct_is $N
read -r rows distinct seqs min max <<<"$(arrived)"
note "bearer: rows $rows, distinct event.id $distinct, distinct seq $seqs ($min..$max)"
# Each event exactly once: as many rows as distinct ids as events.
[ "$rows" = $N ] && [ "$distinct" = $N ] || fail "bearer: $rows rows, $distinct distinct event.id, expected $N of each"
[ "$seqs" = $N ] && [ "$min" = 0 ] && [ "$max" = $((N - 1)) ] || fail "bearer: seq $seqs $min..$max"
wait_for 10 "the spool to drain" drained
# Drained: nothing more arrives (no batch sent twice).
read -r rows distinct seqs min max <<<"$(arrived)"
[ "$rows" = $N ] && [ "$distinct" = $N ] || fail "bearer: after the drain, $rows rows and $distinct distinct event.id, expected $N"
[ "$(status 'd["upload"]["dead_batches"]')" = 0 ] || fail "bearer: dead letters"
# What went over the wire was gzip (the sink compresses, or under a backlog
# spools NDJSON and the uploader compresses on the way out).
[ "$(status 'd["upload"]["sent_bytes"] < d["sink"]["batch_raw_bytes"] // 4')" = True ] ||
    fail "bearer: the requests were not compressed"
wire=$(requests "$RAMPART_E2E_BEARER_PORT" "/?query=" | awk '$1 == 200 { n += $2 } END { print n + 0 }')
[ "$wire" -lt "$(status 'd["sink"]["batch_raw_bytes"] // 4')" ] || fail "bearer: $wire bytes on the wire for $(status 'd["sink"]["batch_raw_bytes"]') bytes of NDJSON"
gz=$(requests "$RAMPART_E2E_BEARER_PORT" "/?query=" | awk '$1 == 200 { n++ } END { print n + 0 }')
note "bearer: $gz requests answered 200; $(status 'd["sink"]["batch_raw_bytes"]') NDJSON bytes sent as $(status 'd["upload"]["sent_bytes"]') gzip bytes ($wire with headers); $(status 'd["sink"]["spilled_batches"]') of $(status 'd["sink"]["batches"]') batches spooled uncompressed under the burst"
stop_agent
# The agent's own lifecycle events went the same way.
[ "$(ch "SELECT count() FROM rampart.events WHERE \`event.action\` = 'agent-started' FORMAT TSV")" -ge 1 ] ||
    fail "no agent-started event"

# Mutual TLS (no token), with the server's key pinned, to a fresh table.
bash "$BACKEND" reset "$BK" >/dev/null
rm -rf "$T/data"
write_config "$T/mtls.json" "$RAMPART_E2E_MTLS_URL" \
    ", \"client_cert\": \"$RAMPART_E2E_CLIENT_CERT\", \"client_key\": \"$RAMPART_E2E_CLIENT_KEY\", \"pinned_pubkey\": \"$RAMPART_E2E_SERVER_PIN\"" \
    "{\"count\": $N, \"rate\": 0}"
start_agent "$T/mtls.json" "$T/agent-mtls.log"
wait_for 60 "$N distinct events over the mTLS port" distinct_is $N
read -r rows distinct seqs min max <<<"$(arrived)"
note "mtls: rows $rows, distinct event.id $distinct, distinct seq $seqs ($min..$max)"
[ "$rows" = $N ] && [ "$distinct" = $N ] || fail "mtls: $rows rows, $distinct distinct event.id, expected $N of each"
[ "$seqs" = $N ] && [ "$min" = 0 ] && [ "$max" = $((N - 1)) ] || fail "mtls: seq $seqs $min..$max"
[ "$(requests "$RAMPART_E2E_MTLS_PORT" "/?query=" | awk '$1 == 200 { n++ } END { print n + 0 }')" -ge 1 ] ||
    fail "mtls: no request reached the mTLS port"
stop_agent
note "ok"
