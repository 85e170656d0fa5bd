#!/usr/bin/env bash
# 503 with Retry-After: 2 and 429 with Retry-After: 3: the next attempt of the
# batch comes no sooner than the server asked (times from nginx's access
# log), and once the route recovers every event arrives.
. "$(dirname "$0")/lib.sh"
start_backend

answers_at_least() { # PATH STATUS N
    [ "$(requests "$RAMPART_E2E_BEARER_PORT" "$1?" | awk -v c="$2" '$1 == c { n++ } END { print n + 0 }')" -ge "$3" ]
}

check_route() { # URL PATH STATUS SECONDS
    local url=$1 path=$2 code=$3 secs=$4
    bash "$BACKEND" reset "$BK" >/dev/null
    rm -rf "$T/data"
    : >"$RAMPART_E2E_FLAKY_FILE"
    write_config "$T/rampart.json" "$url" \
        ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\"" '{"count": 500, "rate": 0}'
    start_agent "$T/rampart.json" "$T/agent-$code.log"
    wait_for 30 "3 answers $code on $path" answers_at_least "$path" "$code" 3
    rm -f "$RAMPART_E2E_FLAKY_FILE"
    wait_for 30 "500 events after the $code answers" distinct_is 500
    # Gaps between an answer $code and the next request on the route.
    requests "$RAMPART_E2E_BEARER_PORT" "$path?" | awk -v c="$code" -v s="$secs" '
        prev != "" { gap = $NF - prev; print "gap " gap; if (gap < s - 0.05) bad++ }
        { prev = ($1 == c) ? $NF : "" }
        END { exit bad > 0 }' >"$T/gaps-$code" || fail "$code: a retry came sooner than Retry-After $secs s: $(tr '\n' ' ' <"$T/gaps-$code")"
    note "$code Retry-After $secs: $(tr '\n' ' ' <"$T/gaps-$code")"
    [ "$(wc -l <"$T/gaps-$code")" -ge 3 ] || fail "$code: fewer than 3 retries measured"
    stop_agent
}
check_route "$RAMPART_E2E_FLAKY_URL" /flaky 503 2
check_route "$RAMPART_E2E_FLAKY429_URL" /flaky429 429 3
note "ok"
