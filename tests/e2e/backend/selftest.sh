#!/usr/bin/env bash
# tests/e2e/backend/selftest.sh - proves the e2e backend (backend.sh) works:
# starts it in a temporary folder, checks every port and route with curl and
# the facts about ClickHouse 18.16 that README.md states, measures start time
# and the insert rate, stops it and checks that nothing is left running.
# Ends with "selftest: N passed, N failed"; exit status 0 only if none failed.
# Options: RUNS=5 BATCHES=40 (rate measurement). Needs root only to install.
# ClickHouse names its dotted columns in backquotes, inside single quotes here.
# shellcheck disable=SC2016
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BACKEND=$HERE/backend.sh
RUNS=${RUNS:-5}       # rate measurement: runs, the median is reported
BATCHES=${BATCHES:-40} # 1000-event batches per run
PASS=0
FAIL=0
DIR=

say() { printf '%s\n' "$*"; }
ok() {
    PASS=$((PASS + 1))
    say "ok   - $*"
}
bad() {
    FAIL=$((FAIL + 1))
    say "FAIL - $*"
}
check() { # check DESC GOT WANT
    if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', want '$3'"; fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

cleanup() {
    if [ -n "$DIR" ]; then
        "$BACKEND" stop "$DIR" >/dev/null 2>&1 || true
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# gen_events PREFIX FIRST N: N flat-ECS process events, one a line, about
# 650 bytes each, event.id a UUID unique by PREFIX (24 chars) and counter.
gen_events() {
    awk -v prefix="$1" -v first="$2" -v n="$3" -v ts="$(date -u +%Y-%m-%dT%H:%M:%S)" 'BEGIN {
        split("/usr/bin/curl /usr/bin/python3 /bin/bash /usr/bin/ssh /usr/sbin/cron", exe, " ")
        for (i = first; i < first + n; i++) {
            e = exe[i % 5 + 1]; nm = e; sub(/.*\//, "", nm); pid = 10000 + i % 50000
            url = "https://updates.example.org/pkg/" i
            printf "{\"@timestamp\":\"%s.%06dZ\",\"event.id\":\"%s%012x\",\"event.kind\":\"event\",", ts, i % 1000000, prefix, i
            printf "\"event.category\":[\"process\"],\"event.type\":[\"start\"],\"event.action\":\"exec\","
            printf "\"process.pid\":%d,\"process.name\":\"%s\",\"process.executable\":\"%s\",", pid, nm, e
            printf "\"process.args\":[\"%s\",\"-s\",\"%s\"],", nm, url
            printf "\"process.command_line\":\"%s -s %s\",", nm, url
            printf "\"process.working_directory\":\"/home/teacher\",\"process.entity_id\":\"vm-%d-%d\",", pid, i
            printf "\"process.parent.pid\":4242,\"process.parent.name\":\"bash\",\"process.parent.executable\":\"/bin/bash\","
            printf "\"user.id\":\"1000\",\"user.name\":\"teacher\",\"host.hostname\":\"classroom-07\",\"synthetic.seq\":%d}\n", i
        }
    }'
}

# post URL BODYFILE [curl options]: prints the HTTP status; headers in $HDR.
HDR=
post() {
    local url=$1 body=$2
    shift 2
    curl --noproxy '*' -sS --max-time 30 -o "$DIR/resp.body" -D "$HDR" -w '%{http_code}' \
        --cacert "$RAMPART_E2E_CA" "$@" --data-binary "@$body" "$url" 2>"$DIR/curl.err" || true
}
header() { tr -d '\r' <"$HDR" | sed -n "s/^$1: *//Ip" | head -n1; }
bearer=()
gz=(-H 'Content-Encoding: gzip' -H 'Content-Type: application/x-ndjson')
count() { "$BACKEND" count "$DIR" | tr '\t' ' '; }
q() { "$BACKEND" query "$DIR" "$1"; }

# ------------------------------------------------------------------ setup
say "# e2e backend selftest"
"$BACKEND" install
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rampart-e2e-backend.XXXXXX")
HDR=$DIR/resp.hdr
t=$(now)
"$BACKEND" start "$DIR" >"$DIR/start.out"
START_S=$(elapsed "$t")
# shellcheck disable=SC1091
. "$DIR/env.sh"
check "env.sh lists the ports and files" "$(grep -c '^export RAMPART_E2E_' "$DIR/env.sh")" 33
check "token file mode" "$(stat -c %a "$RAMPART_E2E_TOKEN_FILE")" 600
check "server certificate verifies against the CA" \
    "$(openssl verify -CAfile "$RAMPART_E2E_CA" "$RAMPART_E2E_SERVER_CERT" 2>&1)" "$RAMPART_E2E_SERVER_CERT: OK"
check "client certificate verifies against the CA" \
    "$(openssl verify -CAfile "$RAMPART_E2E_CA" "$RAMPART_E2E_CLIENT_CERT" 2>&1)" "$RAMPART_E2E_CLIENT_CERT: OK"
bearer=(-H "Authorization: Bearer $(cat "$RAMPART_E2E_TOKEN_FILE")")

PREFIX=$(cut -c1-24 /proc/sys/kernel/random/uuid)
NEXT=0
make_batch() { # make_batch FILE N: a fresh gzip batch of N events
    gen_events "$PREFIX" "$NEXT" "$2" | gzip -1 >"$1"
    NEXT=$((NEXT + $2))
}
make_batch "$DIR/b1.gz" 1000
BATCH_BYTES="$(gzip -dc "$DIR/b1.gz" | wc -c) bytes of NDJSON, $(stat -c %s "$DIR/b1.gz") gzipped"
say "# batch: 1000 events, $BATCH_BYTES"

# ------------------------------------------------------------------ Bearer
check "Bearer port, right token, gzip batch" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b1.gz" "${bearer[@]}" "${gz[@]}")" 200
check "count after 1000 events" "$(count)" "1000 1000"
make_batch "$DIR/b2.gz" 1000
check "Bearer port, wrong token" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b2.gz" -H 'Authorization: Bearer wrong' "${gz[@]}")" 401
check "401 carries WWW-Authenticate" "$(header WWW-Authenticate)" 'Bearer realm="rampart-e2e"'
check "Bearer port, no token" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b2.gz" "${gz[@]}")" 401
check "count unchanged after 401s" "$(count)" "1000 1000"
check "same batch again (a retry)" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b1.gz" "${bearer[@]}" "${gz[@]}")" 200
check "a resent batch: rows doubled, distinct event.id not" "$(count)" "2000 1000"
check "the hostname localhost also verifies" \
    "$(post "https://localhost:$RAMPART_E2E_BEARER_PORT/discard" "$DIR/b1.gz" "${bearer[@]}")" 200

# ------------------------------------------------------------------ mTLS
mtls=(--cert "$RAMPART_E2E_CLIENT_CERT" --key "$RAMPART_E2E_CLIENT_KEY")
check "mTLS port with the client certificate" "$(post "$RAMPART_E2E_MTLS_URL" "$DIR/b2.gz" "${mtls[@]}" "${gz[@]}")" 200
check "count after mTLS batch" "$(count)" "3000 2000"
make_batch "$DIR/b3.gz" 1000
code=$(post "$RAMPART_E2E_MTLS_URL" "$DIR/b3.gz" "${gz[@]}")
check "mTLS port without a client certificate (nginx: 400 'No required SSL certificate was sent')" "$code" 400
if grep -q 'No required SSL certificate was sent' "$DIR/resp.body"; then ok "  ... with that text"; else bad "  ... body: $(head -c 200 "$DIR/resp.body")"; fi
code=$(post "$RAMPART_E2E_MTLS_URL" "$DIR/b3.gz" --cert "$RAMPART_E2E_ROGUE_CERT" --key "$RAMPART_E2E_ROGUE_KEY" "${gz[@]}")
check "mTLS port with a certificate of another CA (nginx: 400 'The SSL certificate error')" "$code" 400
check "count unchanged after refused mTLS" "$(count)" "3000 2000"

# ------------------------------------------------------------------ status routes
for s in 429:2 503:3; do
    check "/status/${s%:*}" "$(post "$RAMPART_E2E_STATUS_URL/${s%:*}" "$DIR/b3.gz" "${bearer[@]}" "${gz[@]}")" "${s%:*}"
    check "  ... Retry-After" "$(header Retry-After)" "${s#*:}"
done
for s in 400 401 403 404 409 413 422 500 502 504; do
    check "/status/$s" "$(post "$RAMPART_E2E_STATUS_URL/$s" "$DIR/b3.gz" "${bearer[@]}" "${gz[@]}")" "$s"
done
check "/status routes also on the mTLS port" \
    "$(post "https://127.0.0.1:$RAMPART_E2E_MTLS_PORT/status/429" "$DIR/b3.gz" "${mtls[@]}")" 429
check "/status/429 needs the token too" "$(post "$RAMPART_E2E_STATUS_URL/429" "$DIR/b3.gz")" 401

# ------------------------------------------------------------------ flaky
touch "$RAMPART_E2E_FLAKY_FILE"
check "flaky while DIR/flaky exists" "$(post "$RAMPART_E2E_FLAKY_URL" "$DIR/b3.gz" "${bearer[@]}" "${gz[@]}")" 503
check "  ... Retry-After" "$(header Retry-After)" 2
rm -f "$RAMPART_E2E_FLAKY_FILE"
check "flaky once DIR/flaky is gone: to ClickHouse" "$(post "$RAMPART_E2E_FLAKY_URL" "$DIR/b3.gz" "${bearer[@]}" "${gz[@]}")" 200
check "count after flaky" "$(count)" "4000 3000"

# ------------------------------------------------------------------ discard
make_batch "$DIR/b4.gz" 1000
check "DISCARD port" "$(post "$RAMPART_E2E_DISCARD_URL" "$DIR/b4.gz" "${gz[@]}")" 200
check "DISCARD, any path and query" "$(post "${RAMPART_E2E_DISCARD_URL}x/y$RAMPART_E2E_INSERT_QUERY" "$DIR/b4.gz" "${gz[@]}")" 200
check "/discard on the Bearer port" "$(post "https://127.0.0.1:$RAMPART_E2E_BEARER_PORT/discard" "$DIR/b4.gz" "${bearer[@]}" "${gz[@]}")" 200
# /capture/<name>: the body kept as sent, the answer of that backend.
capture() { # capture NAME STATUS BODY
    check "/capture/$1 answers as that backend" \
        "$(post "$RAMPART_E2E_CAPTURE_URL/$1" "$DIR/b4.gz" "${bearer[@]}" "${gz[@]}") $(cat "$DIR/resp.body")" "$2 $3"
    check "  ... and kept the body as sent" "$(cmp "$RAMPART_E2E_CAPTURE_DIR/$1"/* "$DIR/b4.gz" && echo same)" same
}
capture ndjson 200 ok
capture elastic 200 '{"took":1,"errors":false,"items":[]}'
capture splunk 200 '{"text":"Success","code":0}'
capture loki 204 ''
capture otlp 200 '{}'
rm -f "$RAMPART_E2E_CAPTURE_DIR"/*/*
# The users' schema (docs/clickhouse-schema.sql in database ecs) takes what
# rampart.events cannot: event.category and event.type of unequal length.
printf '%s\n' '{"@timestamp":"2026-11-28T16:52:02.5Z","event.id":"s-net","event.category":["network"],"event.type":["connection","start"],"process.args":["a","b\"c"],"host.name":"h1"}' >"$DIR/ecs.json"
check "ECS_URL takes unequal event.category/event.type" "$(post "$RAMPART_E2E_ECS_URL" "$DIR/ecs.json" "${bearer[@]}")" 200
check "  ... parsed into ecs.events" "$(q "SELECT \`event.category\`, \`event.type\`, \`process.args\`, \`host.name\`, toString(\`@timestamp\`) FROM ecs.events WHERE \`event.id\` = 's-net'" | tr '\t' ' ')" \
    "['network'] ['connection','start'] ['a','b\"c'] h1 2026-11-28 16:52:02"
head -c 20000000 /dev/urandom >"$DIR/big.bin"
check "DISCARD takes a 20 MB body" "$(post "$RAMPART_E2E_DISCARD_URL" "$DIR/big.bin")" 200
got=$(awk -v p="$RAMPART_E2E_DISCARD_PORT" '$4 == p && $1 == 200 { n = $2 } END { print (n > 20000000) ? "read" : "not read: " n }' "$DIR/nginx/access.log")
check "  ... read whole before the answer (request_length in the access log)" "$got" read
head -c 70000000 /dev/zero >"$DIR/huge.bin"
check "DISCARD refuses a body over client_max_body_size 64m" "$(post "$RAMPART_E2E_DISCARD_URL" "$DIR/huge.bin")" 413
rm -f "$DIR/big.bin" "$DIR/huge.bin"
check "count unchanged after discards" "$(count)" "4000 3000"

# ------------------------------------------------------------------ ClickHouse 18.16 facts
# Checked on a scratch table of the same columns, so the counts above stay.
q "CREATE TABLE rampart.scratch AS rampart.events" >/dev/null
SCRATCH="http://127.0.0.1:$RAMPART_E2E_CH_HTTP_PORT/?query=INSERT%20INTO%20rampart.scratch%20FORMAT%20JSONEachRow&date_time_input_format=best_effort&input_format_skip_unknown_fields=1"
fact() { # fact DESC WANT_CODE URL JSON_LINES [curl options]
    local desc=$1 want=$2 url=$3 json=$4
    shift 4
    printf '%s' "$json" >"$DIR/fact.json"
    check "$desc" "$(post "$url" "$DIR/fact.json" "$@")" "$want"
}
scratch() { q "SELECT $1 FROM rampart.scratch WHERE \`event.id\` = '$2'"; }
check "gzip body + Content-Encoding: gzip, no enable_http_compression" \
    "$(post "$SCRATCH" "$DIR/b1.gz" -H 'Content-Encoding: gzip')" 200
check "  ... all 1000 rows" "$(q 'SELECT count() FROM rampart.scratch')" 1000
q 'TRUNCATE TABLE rampart.scratch' >/dev/null
check "gzip body without Content-Encoding: refused (500, Code 27)" "$(post "$SCRATCH" "$DIR/b1.gz")" 500
if grep -q 'Code: 27' "$DIR/resp.body"; then ok "  ... Code: 27"; else bad "  ... $(head -c 200 "$DIR/resp.body")"; fi
head -c 5000 "$DIR/b1.gz" >"$DIR/torn.gz"
check "a torn gzip body: 500 (Code 354, inflate failed)" "$(post "$SCRATCH" "$DIR/torn.gz" -H 'Content-Encoding: gzip')" 500
if grep -q 'Code: 354' "$DIR/resp.body"; then ok "  ... Code: 354"; else bad "  ... $(head -c 200 "$DIR/resp.body")"; fi
check "  ... and nothing of it stored" "$(q 'SELECT count() FROM rampart.scratch')" 0
fact "RFC 3339 time with microseconds" 200 "$SCRATCH" \
    '{"@timestamp":"2026-11-28T16:52:02.987654Z","event.id":"f-ts"}'
check "  ... DateTime truncates to seconds" "$(scratch 'toString(`@timestamp`)' f-ts)" "2026-11-28 16:52:02"
fact "RFC 3339 time with an offset" 200 "$SCRATCH" \
    '{"@timestamp":"2026-11-28T18:52:02+02:00","event.id":"f-tz"}'
check "  ... is converted to UTC" "$(scratch 'toString(`@timestamp`)' f-tz)" "2026-11-28 16:52:02"
fact "RFC 3339 time without date_time_input_format=best_effort: 500" 500 \
    "${SCRATCH%%&*}&input_format_skip_unknown_fields=1" '{"@timestamp":"2026-11-28T16:52:02.1Z","event.id":"f-nobe"}'
fact "an unknown field without input_format_skip_unknown_fields=1: 500 (Code 117)" 500 \
    "${SCRATCH%%&*}&date_time_input_format=best_effort" '{"event.id":"f-unk","acme.x":1}'
fact "an omitted field" 200 "$SCRATCH" '{"event.id":"f-omit"}'
check "  ... gets the type's default, not the column's DEFAULT expression" \
    "$(scratch 'toString(`@timestamp`), toString(`process.start`)' f-omit | tr '\t' ' ')" "0000-00-00 00:00:00 0000-00-00 00:00:00"
fact "event.category and event.type of equal length (2 and 2)" 200 "$SCRATCH" \
    '{"event.id":"f-eq","event.category":["network","process"],"event.type":["connection","start"]}'
fact "event.category 1 item, event.type 2 items: whole batch refused (500, Code 190)" 500 "$SCRATCH" \
    "$(printf '%s\n' '{"event.id":"f-ok1","event.category":["process"],"event.type":["start"]}' \
        '{"event.id":"f-ne","event.category":["network"],"event.type":["connection","start"]}')"
if grep -q 'Code: 190' "$DIR/resp.body"; then ok "  ... Code: 190 (Nested arrays of different sizes)"; else bad "  ... $(head -c 200 "$DIR/resp.body")"; fi
check "  ... and its good row was not stored either" "$(q "SELECT count() FROM rampart.scratch WHERE \`event.id\` = 'f-ok1'")" 0
fact "event.category without event.type: 500 too (omitted = [])" 500 "$SCRATCH" \
    '{"event.id":"f-cat","event.category":["process"]}'
fact "neither event.category nor event.type: 200" 200 "$SCRATCH" '{"event.id":"f-none"}'
fact "a nested JSON object (unknown field, skipped): 200" 200 "$SCRATCH" \
    '{"event":{"id":"f-nested"},"process":{"pid":1}}'
check "  ... stores an empty row, silently" "$(q "SELECT count() FROM rampart.scratch WHERE \`event.id\` = ''")" 1
fact "a nested JSON object without skip_unknown_fields: 500" 500 "${SCRATCH%%&*}&date_time_input_format=best_effort" \
    '{"event":{"id":"f-nested2"}}'
fact "JSON true/false into UInt8 (process.interactive)" 200 "$SCRATCH" '{"event.id":"f-bool","process.interactive":true}'
fact "JSON true into Int64: 500 (Code 27)" 500 "$SCRATCH" '{"event.id":"f-bool2","process.pid":true}'
fact "null for a String column: 400 (Code 26)" 400 "$SCRATCH" '{"event.id":null}'
fact "a number for a String column: 400 (Code 26)" 400 "$SCRATCH" '{"event.id":12}'
fact "invalid JSON: 400 (Code 26)" 400 "$SCRATCH" '{"event.id":"f-bad",'
fact "an unknown table: 404 (Code 60)" 404 \
    "http://127.0.0.1:$RAMPART_E2E_CH_HTTP_PORT/?query=INSERT%20INTO%20rampart.nope%20FORMAT%20JSONEachRow" '{"event.id":"x"}'
fact "an empty body: 200, nothing stored" 200 "$SCRATCH" ''
fact "escapes and non-ASCII in strings" 200 "$SCRATCH" \
    '{"event.id":"f-esc","message":"\u00dc\ud83d\ude00 tab\t quote\" back\\ nl\n \u0000"}'
check "  ... stored decoded" "$(scratch "hex(message)" f-esc)" \
    "$(printf 'Ü😀 tab\t quote" back\\ nl\n \0' | od -An -tx1 | tr -d ' \n' | tr a-f A-F)"
fact "u64 max into Int64: 200, wraps" 200 "$SCRATCH" '{"event.id":"f-u64","process.pid":18446744073709551615}'
check "  ... to -1" "$(scratch '`process.pid`' f-u64)" "-1"
fact "Authorization: Bearer reaching ClickHouse itself: 500 (why nginx drops it)" 500 "$SCRATCH" \
    '{"event.id":"f-auth"}' -H "Authorization: Bearer x"
q "DROP TABLE rampart.scratch" >/dev/null

# ------------------------------------------------------------------ ClickHouse stopped
before=$(count)
t=$(now)
"$BACKEND" stop-clickhouse "$DIR"
STOPCH_S=$(elapsed "$t")
check "ClickHouse stopped: Bearer port answers 502 (nginx: Bad Gateway)" \
    "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b4.gz" "${bearer[@]}" "${gz[@]}")" 502
check "ClickHouse stopped: mTLS port answers 502" "$(post "$RAMPART_E2E_MTLS_URL" "$DIR/b4.gz" "${mtls[@]}" "${gz[@]}")" 502
check "ClickHouse stopped: DISCARD still 200" "$(post "$RAMPART_E2E_DISCARD_URL" "$DIR/b4.gz" "${gz[@]}")" 200
t=$(now)
"$BACKEND" start-clickhouse "$DIR" >/dev/null
RESTART_S=$(elapsed "$t")
check "data survived the restart" "$(count)" "$before"
check "Bearer port after the restart" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b4.gz" "${bearer[@]}" "${gz[@]}")" 200
check "count after the restart" "$(count)" "5000 4000"

# ------------------------------------------------------------------ insert rate
# One curl process, one kept-alive connection, BATCHES POSTs of distinct
# pre-made 1000-event gzip batches; events/s = BATCHES*1000 / wall time.
NB=10
for ((i = 0; i < NB; i++)); do make_batch "$DIR/r$i.gz" 1000; done
cpu_ticks() { # cpu_ticks PID: utime+stime of a process, in clock ticks
    sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}
CH_TICKS=0
rate_run() { # rate_run URL [curlrc lines]: prints events/s; ClickHouse's ticks in CH_TICKS_RUN
    local url=$1 cfg=$DIR/rate.curlrc i t c0
    shift
    : >"$cfg"
    for ((i = 0; i < BATCHES; i++)); do
        {
            [ "$i" -gt 0 ] && echo next
            printf 'url = "%s"\ndata-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' \
                "$url" "$DIR/r$((i % NB)).gz"
            printf 'header = "Content-Encoding: gzip"\nheader = "Content-Type: application/x-ndjson"\n'
            printf 'cacert = "%s"\nnoproxy = "*"\nmax-time = 60\n' "$RAMPART_E2E_CA"
            [ "$#" -eq 0 ] || printf '%s\n' "$@"
        } >>"$cfg"
    done
    c0=$(cpu_ticks "$(cat "$DIR/clickhouse.pid")")
    t=$(now)
    curl -sS -K "$cfg" >"$DIR/rate.codes" || true
    local s
    s=$(elapsed "$t")
    CH_TICKS=$((CH_TICKS + $(cpu_ticks "$(cat "$DIR/clickhouse.pid")") - c0))
    if [ "$(grep -c '^200$' "$DIR/rate.codes")" != "$BATCHES" ]; then
        echo "error: $(sort "$DIR/rate.codes" | uniq -c | tr '\n' ' ')"
        return
    fi
    awk -v n="$BATCHES" -v s="$s" 'BEGIN { printf "%d\n", n * 1000 / s }'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
measure() { # measure NAME URL [curlrc lines]
    local name=$1 runs="" r i
    shift
    CH_TICKS=0
    for ((i = 0; i < RUNS; i++)); do
        rate_run "$@" >"$DIR/rate.out"
        r=$(cat "$DIR/rate.out")
        case "$r" in error*)
            bad "$name: $r"
            return ;;
        esac
        runs="$runs $r"
    done
    printf -v "RATE_${name}" '%s' "$(echo "$runs" | median)"
    printf -v "RUNS_${name}" '%s' "$runs"
    # ClickHouse's own CPU during the runs (merges that finish later excluded)
    printf -v "CPU_${name}" '%s' "$(awk -v t="$CH_TICKS" -v hz="$(getconf CLK_TCK)" -v n="$((RUNS * BATCHES))" \
        'BEGIN { printf "%.1f", t * 1000 / hz / n }')"
    ok "rate $name: median $(echo "$runs" | median) events/s (runs:$runs)"
}
before=$(count)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
measure clickhouse_http "$RAMPART_E2E_CH_URL$RAMPART_E2E_INSERT_QUERY"
measure nginx_bearer "$RAMPART_E2E_BEARER_URL" "header = \"Authorization: Bearer $RAMPART_E2E_TOKEN\""
measure discard "$RAMPART_E2E_DISCARD_URL"
USED=$((BATCHES < NB ? BATCHES : NB)) # distinct batch files the runs posted
check "rate runs: all distinct events arrived" "$(count | cut -d' ' -f2)" "$(($(echo "$before" | cut -d' ' -f2) + USED * 1000))"

# ------------------------------------------------------------------ stop
children() { # children PID: its child processes, from /proc
    cat /proc/[0-9]*/stat 2>/dev/null |
        awk -v p="$1" '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); if (f[2] == p) print $1 }' || true
}
stop_and_check() { # stops the backend in $DIR, checks nothing is left; sets STOP_S
    local pids ports t left="" listening="" p st
    pids="$RAMPART_E2E_NGINX_PID $(cat "$DIR/clickhouse.pid") $(children "$RAMPART_E2E_NGINX_PID" | tr '\n' ' ')"
    ports="$RAMPART_E2E_CH_HTTP_PORT $RAMPART_E2E_CH_TCP_PORT $RAMPART_E2E_BEARER_PORT $RAMPART_E2E_MTLS_PORT $RAMPART_E2E_DISCARD_PORT"
    t=$(now)
    "$BACKEND" stop "$DIR"
    STOP_S=$(elapsed "$t")
    for p in $pids; do
        st=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null | cut -d' ' -f1 || true)
        if [ -n "$st" ] && [ "$st" != Z ]; then left="$left $p"; fi
    done
    check "no process left (nginx master, workers, ClickHouse)" "${left:-none}" none
    for p in $ports; do
        if awk -v p="$(printf '%04X' "$p")" 'NR > 1 && $4 == "0A" { split($2, a, ":"); if (a[2] == p) f = 1 } END { exit !f }' /proc/net/tcp; then
            listening="$listening $p"
        fi
    done
    check "no port left listening" "${listening:-none}" none
    check "status after stop" "$("$BACKEND" status "$DIR" | tr '\n' ' ')" "clickhouse stopped nginx stopped "
}
stop_and_check

# ------------------------------------------------------------------ Buffer mode
# RAMPART_E2E_CH_BUFFER=1: rampart.events is a Buffer table in front of
# rampart.events_store; rows are visible at once, flushed every 2 s and at a
# graceful stop (SIGTERM). Same checks, in a second backend.
say "# Buffer mode (RAMPART_E2E_CH_BUFFER=1)"
rm -rf "$DIR"
DIR=$(mktemp -d "${TMPDIR:-/tmp}/rampart-e2e-backend.XXXXXX")
HDR=$DIR/resp.hdr
t=$(now)
RAMPART_E2E_CH_BUFFER=1 "$BACKEND" start "$DIR" >/dev/null
START_BUF_S=$(elapsed "$t")
# shellcheck disable=SC1091
. "$DIR/env.sh"
bearer=(-H "Authorization: Bearer $(cat "$RAMPART_E2E_TOKEN_FILE")")
check "env.sh says Buffer mode" "$RAMPART_E2E_CH_BUFFER" 1
check "engine of rampart.events" "$(q "SELECT engine FROM system.tables WHERE database = 'rampart' AND name = 'events'")" Buffer
make_batch "$DIR/b1.gz" 1000
check "Bearer port into the Buffer" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b1.gz" "${bearer[@]}" "${gz[@]}")" 200
check "rows visible at once" "$(count)" "1000 1000"
check "Buffer refuses unequal event.category/event.type too" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b1.gz" "${bearer[@]}" \
    --data-binary '{"event.id":"x","event.category":["a"],"event.type":["b","c"]}')" 500
make_batch "$DIR/b2.gz" 1000
check "second batch" "$(post "$RAMPART_E2E_BEARER_URL" "$DIR/b2.gz" "${bearer[@]}" "${gz[@]}")" 200
"$BACKEND" stop-clickhouse "$DIR"
"$BACKEND" start-clickhouse "$DIR" >/dev/null
check "a graceful stop flushed the Buffer" "$(q 'SELECT count() FROM rampart.events_store')" 2000
check "count after the restart" "$(count)" "2000 2000"
NB=10
for ((i = 0; i < NB; i++)); do make_batch "$DIR/r$i.gz" 1000; done
LOAD_BEFORE_BUF=$(cut -d' ' -f1-3 /proc/loadavg)
measure clickhouse_http_buffer "$RAMPART_E2E_CH_URL$RAMPART_E2E_INSERT_QUERY"
measure nginx_bearer_buffer "$RAMPART_E2E_BEARER_URL" "header = \"Authorization: Bearer $RAMPART_E2E_TOKEN\""
check "rate runs: all distinct events arrived" "$(count | cut -d' ' -f2)" "$((2000 + USED * 1000))"
"$BACKEND" reset "$DIR"
check "reset empties both tables" "$(count) $(q 'SELECT count() FROM rampart.events_store')" "0 0 0"
stop_and_check

say "# start: $START_S s (Buffer mode: $START_BUF_S s); stop-clickhouse: $STOPCH_S s; start-clickhouse: $RESTART_S s; stop: $STOP_S s"
say "# insert rate, 1000-event gzip batches ($BATCH_BYTES), one curl connection, median of $RUNS runs of $BATCHES"
say "# MergeTree (default), load average before: $LOAD_BEFORE:"
say "#   ClickHouse HTTP directly:        ${RATE_clickhouse_http:-?} events/s (${RUNS_clickhouse_http:-}), ClickHouse CPU ${CPU_clickhouse_http:-?} ms per batch"
say "#   nginx Bearer (TLS) + ClickHouse: ${RATE_nginx_bearer:-?} events/s (${RUNS_nginx_bearer:-}), ClickHouse CPU ${CPU_nginx_bearer:-?} ms per batch"
say "#   nginx DISCARD (TLS):             ${RATE_discard:-?} events/s (${RUNS_discard:-})"
say "# Buffer mode, load average before: $LOAD_BEFORE_BUF:"
say "#   ClickHouse HTTP directly:        ${RATE_clickhouse_http_buffer:-?} events/s (${RUNS_clickhouse_http_buffer:-}), ClickHouse CPU ${CPU_clickhouse_http_buffer:-?} ms per batch"
say "#   nginx Bearer (TLS) + ClickHouse: ${RATE_nginx_bearer_buffer:-?} events/s (${RUNS_nginx_bearer_buffer:-}), ClickHouse CPU ${CPU_nginx_bearer_buffer:-?} ms per batch"
say "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); cores: $(nproc)"
say "selftest: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
