#!/usr/bin/env bash
# A token the backend refuses (401): no retry loop; the batch goes to the
# dead-letter folder with a note, an alert is raised, uploads pause while new
# events wait in the spool. Fixing the token file and reloading (SIGHUP, what
# `rampartctl reload` sends) resumes them: the waiting events and the alert
# arrive.
. "$(dirname "$0")/lib.sh"
start_backend
printf 'not-the-token\n' >"$T/bad-token"
chmod 600 "$T/bad-token"
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$T/bad-token\"" '{"count": 3000, "rate": 1000}'
start_agent "$T/rampart.json"
wait_for 15 "uploads paused" status_is 'd["upload"]["state"]' paused
# Events keep coming for 2 more seconds: still exactly one refused request.
sleep 2
refused=$(requests "$RAMPART_E2E_BEARER_PORT" "/?query=" | awk '$1 == 401 { n++ } END { print n + 0 }')
note "requests answered 401: $refused"
[ "$refused" = 1 ] || fail "expected exactly 1 request answered 401 (no retry loop), got $refused"
[ "$(status 'd["upload"]["dead_batches"]')" = 1 ] || fail "dead_batches"
[ "$(status 'd["upload"]["pauses"]')" = 1 ] || fail "pauses"
dead=$(status 'd["upload"]["dead_events"]')
queued=$(status 'd["spool"]["queued_events"]')
note "dead-lettered events: $dead; waiting in the spool: $queued"
[ "$queued" -gt 0 ] || fail "no events waiting in the spool while paused"
# The dead letter: the batch's lines and a note naming the status.
lines=$(ls "$T/data/deadletter"/*.ndjson | head -1)
note=${lines%.ndjson}.json
[ -f "$note" ] || fail "no dead-letter note next to $lines"
[ "$(wc -l <"$lines")" = "$dead" ] || fail "dead letter holds $(wc -l <"$lines") lines, expected $dead"
"$PY" - "$note" <<'PYEOF' || fail "dead-letter note: $(cat "$note")"
import json, sys
n = json.load(open(sys.argv[1]))
assert n["http_status"] == 401, n
assert "credentials" in n["reason"] or "refused" in n["reason"], n
PYEOF
grep -q 'uploads paused' "$T/agent.log" || fail "no log line about the pause"
grep -q 'refused a batch' "$T/agent.log" || fail "no log line about the dead letter"

# The operator fixes the token file and reloads.
cp "$RAMPART_E2E_TOKEN_FILE" "$T/bad-token"
chmod 600 "$T/bad-token"
kill -HUP "$AGENT_PID"
wait_for 30 "uploads running again" status_is 'd["upload"]["state"]' running
dead_exec=$(grep -c '"event.action":"exec"' "$lines" || true)
wait_for 30 "every event not dead-lettered ($((3000 - dead_exec)))" distinct_is $((3000 - dead_exec))
alerts=$(ch "SELECT count() FROM rampart.events WHERE \`event.kind\` = 'alert' AND \`rule.id\` IN ('rampart.upload.dead_letter', 'rampart.upload.paused') FORMAT TSV")
note "alerts that arrived after the resume: $alerts"
[ "$alerts" = 2 ] || fail "expected the dead-letter and pause alerts in ClickHouse, got $alerts"
stop_agent
note "ok"
