#!/usr/bin/env bash
# A reload (SIGHUP) changes where and how the agent uploads, live: it starts
# with a URL where nothing listens, the ndjson format and a CA that did not
# sign the backend's certificate, so every event waits in the spool. Then:
#  1. a reload whose CA file does not exist: the uploader refuses it, so the
#     reload fails (agent-config-rejected) and the running settings stay;
#  2. the backend's URL and format, still the wrong CA: applied, and the
#     uploads now fail on the certificate (nothing arrives);
#  3. the right CA: every event arrives, exactly once.
# The agent's own events say which reloads failed and which were applied.
. "$(dirname "$0")/lib.sh"
N=2000
start_backend
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$T/wrong.key" -out "$T/wrong-ca.pem" -subj /CN=rampart-e2e-wrong-ca -days 2 \
    >/dev/null 2>&1 || fail "openssl could not make the wrong CA"

# reload_config URL FORMAT CA PLUGIN_ENABLED : the main config, in place.
reload_config() {
    cat >"$T/rampart.json" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 1000},
  "output": {"url": "$1", "format": "$2", "ca_file": "$3",
             "token_file": "$RAMPART_E2E_TOKEN_FILE", "flush_interval_ms": 200},
  "spool": {"fsync": "batch"},
  "plugins": {"synthetic": {"enabled": true, "file": "collector_synthetic.so",
                            "config": {"count": $N, "rate": 0}}}
}
EOF
}
synthetic_rows() { ch "SELECT count() FROM rampart.events WHERE \`event.action\` = 'exec' FORMAT TSV"; }
reloads_logged() { [ "$(grep -c -e 'configuration reloaded' -e 'reload rejected' "$T/agent.log")" -ge "$1" ]; }

reload_config https://127.0.0.1:1/nowhere ndjson "$T/wrong-ca.pem"
start_agent "$T/rampart.json"
wait_for 20 "$N events in the spool" status_is 'd["spool"]["appended_events"] >= '$N True

# 1. The uploader refuses a CA file it cannot read: the reload fails.
reload_config "$RAMPART_E2E_BEARER_URL" clickhouse "$T/missing-ca.pem"
kill -HUP "$AGENT_PID"
wait_for 10 "the first reload's outcome in the log" reloads_logged 1
grep -q 'reload rejected, keeping the running configuration: upload settings refused: .*output.ca_file' \
    "$T/agent.log" || fail "the reload with a missing CA file was not rejected: $(grep -e reload "$T/agent.log")"
sleep 1
[ "$(synthetic_rows)" = 0 ] || fail "events arrived although the reload was refused"

# 2. The backend's URL and format, but a CA that did not sign its
#    certificate: applied; the uploads fail on the certificate.
reload_config "$RAMPART_E2E_BEARER_URL" clickhouse "$T/wrong-ca.pem"
kill -HUP "$AGENT_PID"
wait_for 10 "the second reload's outcome in the log" reloads_logged 2
grep -q 'configuration reloaded' "$T/agent.log" || fail "the reload to the backend's URL was not applied"
wait_for 10 "a certificate error from the new URL" status_is \
    '"certificate" in d["upload"]["last_error"].lower() or "ssl" in d["upload"]["last_error"].lower()' True
note "with the wrong CA: $(status 'd["upload"]["last_error"]')"
[ "$(synthetic_rows)" = 0 ] || fail "events arrived over a connection whose certificate the CA did not sign"

# 3. The right CA: everything arrives, once.
reload_config "$RAMPART_E2E_BEARER_URL" clickhouse "$RAMPART_E2E_CA"
kill -HUP "$AGENT_PID"
wait_for 60 "$N distinct events after the reload with the right CA" distinct_is $N
wait_for 30 "the spool to drain" drained
sleep 0.5
read -r rows distinct seqs min max <<<"$(arrived)"
note "arrived: $rows rows, $distinct distinct event.id, seq $min..$max"
[ "$rows" = $N ] && [ "$distinct" = $N ] && [ "$seqs" = $N ] || fail "$rows rows, $distinct distinct, expected $N"
# The agent's own account of the reloads: one refused (naming the CA file),
# two applied, in that order.
actions=$(ch "SELECT \`event.action\` FROM rampart.events WHERE \`event.action\` LIKE 'agent-config-%' ORDER BY \`event.id\` FORMAT TSV" | tr '\n' ' ')
note "reload events: $actions"
[ "$actions" = "agent-config-rejected agent-config-reloaded agent-config-reloaded " ] ||
    fail "reload events: $actions; expected one rejected, then two reloaded"
msg=$(ch "SELECT message FROM rampart.events WHERE \`event.action\` = 'agent-config-rejected' FORMAT TSV")
case $msg in
*output.ca_file*missing-ca.pem*) ;;
*) fail "the rejection does not name the CA file: $msg" ;;
esac
stop_agent
note "ok"
