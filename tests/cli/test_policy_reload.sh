#!/usr/bin/env bash
# The response policy reaches the alerts of a running agent and a reload
# changes it: the hello detector (alert_create) raises alerts on the
# synthetic collector's python3 execs, stamped detect by the default policy;
# after the config turns ruleset "hello" to prevent and the agent gets
# SIGHUP, the following alerts say prevent with the actions asked for, and
# never detect again (the policy is swapped whole). A reload with an invalid
# policy is rejected, naming the key, and the running policy stays.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$T"

CFG=$T/rampart.json
mkdir -p plugins
cp "$(dirname "$RAMPARTD")/../plugins/collector_synthetic.so" plugins/
cp "$(dirname "$RAMPARTD")/../plugins/hello_detector.so" plugins/
write_config() { # $1: the hello ruleset's policy entry
    cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "plugins", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {
    "synthetic": {"enabled": true, "file": "collector_synthetic.so", "config": {"count": 0, "rate": 50}},
    "hello": {"enabled": true, "file": "hello_detector.so", "config": {"substring": "python3"}}
  },
  "policy": {"default": {"mode": "detect"}, "rulesets": {"hello": $1}}
}
EOF
}
write_config '{"mode": "detect"}'

# The modes of the alerts so far, in order: "detect,detect,prevent:kill,...".
modes() {
    "$PY" - data/events.ndjson <<'PY'
import json, sys
out = []
for line in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(line)
    if e.get("event.kind") != "alert" or e.get("rule.id") != "hello-1":
        continue
    m = e["rampart.policy.mode"]
    if e["rampart.policy.actions"]:
        m += ":" + "+".join(e["rampart.policy.actions"])
    out.append(m)
print(",".join(out))
PY
}
count_mode() { modes | tr ',' '\n' | grep -cx "$1" || true; }
has_modes() { [ "$(count_mode "$1")" -ge "$2" ]; }

"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "the start-up line" file_has agent.err "rampartd $VERSION started"
wait_for 10 "two detect alerts" has_modes detect 2

write_config '{"mode": "prevent", "actions": ["kill", "quarantine"]}'
kill -HUP "$APID"
wait_for 10 "the reload" file_has agent.err "configuration reloaded"
wait_for 10 "two prevent alerts" has_modes prevent:kill+quarantine 2
m=$(modes)
echo "alert modes: $m"
# Once the new policy applies, it applies to every later alert.
case "$m" in
*prevent*detect*) fail "a detect alert after a prevent one: $m" ;;
esac
[ -z "$(modes | tr ',' '\n' | grep -vxE 'detect|prevent:kill\+quarantine')" ] || fail "other modes: $m"

# An invalid policy: rejected with the key named, and the running one stays.
write_config '{"mode": "block"}'
kill -HUP "$APID"
wait_for 10 "the rejected reload" file_has agent.err \
    'policy.rulesets.hello.mode: expected one of "detect", "prevent", got string "block"'
before=$(count_mode prevent:kill+quarantine)
wait_for 10 "two more prevent alerts" has_modes prevent:kill+quarantine $((before + 2))
case "$(modes)" in
*prevent*detect*) fail "a detect alert after the rejected reload: $(modes)" ;;
esac

kill -TERM "$APID"
wait_for 10 "the agent to stop" pid_gone "$APID"
echo "policy reload: ok"
