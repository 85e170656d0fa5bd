#!/usr/bin/env bash
# The backend is down and the spool reaches spool.max_bytes: the oldest
# batches are dropped, counted in events and bytes, reported in status.json
# (agent.health) and as an alert. When the backend returns, exactly the
# events not dropped arrive, and they are the newest ones.
. "$(dirname "$0")/lib.sh"
N=60000
start_backend
bash "$BACKEND" stop-clickhouse "$BK" >/dev/null
write_config "$T/rampart.json" "$RAMPART_E2E_BEARER_URL" \
    ", \"token_file\": \"$RAMPART_E2E_TOKEN_FILE\", \"batch_max_bytes\": 65536" \
    "{\"count\": $N, \"rate\": 0}" ', "max_bytes": 1048576'
start_agent "$T/rampart.json"
wait_for 30 "all $N events published" status_is 'd["plugins"]["synthetic"]["published"]' $N
wait_for 10 "all $N events through the sink" status_is 'd["sink"]["events"] >= '$N True
wait_for 10 "the spool to drop its oldest batches" status_is 'd["spool"]["dropped_full_events"] > 0' True
sleep 0.5
dropped=$(status 'd["spool"]["dropped_full_events"]')
dbytes=$(status 'd["spool"]["dropped_full_bytes"]')
disk=$(status 'd["spool"]["disk_bytes"]')
note "spool full: dropped $dropped events ($dbytes bytes), $disk bytes on disk (cap 1048576)"
[ "$disk" -le 1048576 ] || fail "the spool holds $disk bytes, over its cap"
grep -q 'spool full' "$T/agent.log" || fail "no log line about the full spool"
# Only the agent-started event and health events are not synthetic; the
# synthetic ones dropped are counted among "dropped".
bash "$BACKEND" start-clickhouse "$BK" >/dev/null
wait_for 60 "the spool to drain" drained
sleep 0.5
read -r rows distinct seqs min max <<<"$(arrived)"
note "arrived: $distinct distinct synthetic events, seq $min..$max"
[ "$max" = $((N - 1)) ] || fail "the newest event did not arrive (max seq $max)"
# What arrived: the oldest segment, which holds the batch the uploader was
# sending when the backend went away (a batch in flight is never dropped, it
# may be half sent, and the spool drops whole segments), then a gap (the
# oldest batches, dropped), then every newer event.
ch "SELECT \`synthetic.seq\` FROM rampart.events WHERE \`event.action\` = 'exec' ORDER BY 1 FORMAT TSV" >"$T/seqs"
ranges=$("$PY" - "$T/seqs" <<'PYEOF'
import sys
seqs = sorted(set(int(l) for l in open(sys.argv[1]) if l.strip()))
r = []
for s in seqs:
    if r and s == r[-1][1] + 1:
        r[-1][1] = s
    else:
        r.append([s, s])
print(" ".join("%d-%d" % (a, b) for a, b in r))
PYEOF
)
note "arrived seq ranges: $ranges"
set -- $ranges
[ $# -le 2 ] || fail "more than one gap in what arrived: $ranges"
if [ $# = 2 ]; then
    first=${1%-*}
    first_end=${1#*-}
    [ "$first" = 0 ] && [ "$first_end" -lt 1000 ] || fail "the range before the gap is not the in-flight first segment: $1"
fi
[ "$min" -gt 0 ] || [ $# = 2 ] || fail "the oldest events were not the ones dropped"
# Exact accounting, with the final figure (drops go on while the flood is
# still being spooled)
dropped=$(status 'd["spool"]["dropped_full_events"]')
# Exact accounting: every synthetic event arrived or was counted as dropped
# (the dropped figure also holds the few agent events that were dropped).
lost=$((N - distinct))
[ "$lost" -le "$dropped" ] || fail "$lost events missing but only $dropped counted as dropped"
nonsyn=$((dropped - lost))
[ "$nonsyn" -le 50 ] || fail "dropped counts $nonsyn events more than the synthetic ones missing"
alert=$(ch "SELECT count() FROM rampart.events WHERE \`rule.id\` = 'rampart.spool.dropped' FORMAT TSV")
note "spool-full alerts that arrived: $alert"
[ "$alert" -ge 1 ] || fail "no rampart.spool.dropped alert arrived"
stop_agent
note "ok"
