#!/usr/bin/env bash
# detector_sigma with plugins.sigma.isolation "process" (sdk/docs/isolation.md)
# on the real agent and the real process collector:
#  - a uniquely named program raises the alert of a Sigma rule, with the same
#    rule, severity, reason, policy and ATT&CK fields as the same rule raises
#    in-process, and rampart.alert.source_ids naming the exec's event.id;
#  - the sandbox (a child of rampartd, rampart-sandbox) runs as nobody with
#    no capability in any set, NoNewPrivs 1 and Seccomp 2 (filter), read from
#    /proc/<pid>/status while the rule matches;
#  - a reload that turns the rule off reaches the isolated plugin's
#    reconfigure (same sandbox): the next exec raises only a canary rule's
#    alert;
#  - the collector refuses isolation: --check-config names the key.
# Usage: bash test_sandbox_sigma.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
for so in collector_process detector_sigma; do
    [ -f "$PLUGIN_DIR/$so.so" ] || fail "no $so.so in $PLUGIN_DIR"
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (proc connector, a user to drop to)"; exit 77; }
NOBODY=$(id -u nobody) || { echo "SKIP: no user nobody"; exit 77; }
cd "$T"
# The sandbox reads the rules as nobody.
chmod 755 "$T"
mkdir bin rules
chmod 755 bin rules
UNAME=rp-sbx-$RANDOM$RANDOM
cp /bin/true "bin/$UNAME"
chmod 755 "bin/$UNAME"
RULE_ID=6b0f7c1e-5a2d-4c8e-9f10-00000000cafe
cat >rules/target.yml <<EOF
title: RP sandbox test
id: $RULE_ID
status: test
description: The unique test program ran.
level: high
tags:
  - attack.execution
  - attack.t1059.004
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: '/$UNAME'
  condition: selection
EOF
# The canary: the same exec; it stays on when a reload turns the target off.
CANARY_ID=6b0f7c1e-5a2d-4c8e-9f10-00000000c0de
cat >rules/canary.yml <<EOF
title: RP sandbox canary
id: $CANARY_ID
status: test
level: low
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: '/$UNAME'
  condition: selection
EOF
chmod 644 rules/target.yml rules/canary.yml
EVENTS=$T/data/events.ndjson
export UNAME RULE_ID EVENTS

# config ISOLATION [SIGMA_EXTRA] : the agent's config, the detector's
# config with SIGMA_EXTRA (JSON members) added.
config() {
    cat >"$T/rampart.json" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "process": {"enabled": true, "file": "collector_process.so"},
    "sigma": {"enabled": true, "file": "detector_sigma.so", "isolation": "$1",
              "config": {"rule_dirs": ["$T/rules"]${2:+, $2}}}
  }
}
EOF
}

# start ISOLATION : the agent with the process collector and the detector.
start() {
    rm -rf "$T/data" "$T/agent.out" "$T/agent.err"
    config "$1"
    "$RAMPARTD" --foreground --config "$T/rampart.json" >"$T/agent.out" 2>"$T/agent.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 20 "the agent to run both plugins" file_has "$T/agent.err" "2 running"
}

stop() {
    kill -TERM "$APID"
    wait_for 30 "the agent to exit" pid_gone "$APID"
    wait "$APID" || fail "the agent exited with status $?"
}

alert_seen() {
    [ -f "$EVENTS" ] && grep -q "\"rule.id\":\"$RULE_ID\"" "$EVENTS"
}

alerts_of() {
    [ -f "$EVENTS" ] || { echo 0; return; }
    grep -cF "\"rule.id\":\"$1\"" "$EVENTS" || true
}

alerts_at_least() { [ "$(alerts_of "$1")" -ge "$2" ]; }

# alert_summary OUT : the alert's fields a user compares (not ids and times),
# and checks it names the exec that raised it.
alert_summary() {
    "$PY" - "$EVENTS" "$1" <<'PY'
import json, os, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
alerts = [e for e in evs if e.get("rule.id") == os.environ["RULE_ID"]]
assert len(alerts) == 1, "expected one alert, got %d" % len(alerts)
a = alerts[0]
execs = {e["event.id"] for e in evs
         if e.get("event.action") == "exec" and e.get("process.name") == os.environ["UNAME"]}
assert execs, "no exec event of the program"
src = a.get("rampart.alert.source_ids", [])
assert src and set(src) <= execs, "source_ids %r are not the exec %r" % (src, execs)
assert a["event.kind"] == "alert"
keep = {k: v for k, v in a.items()
        if k not in ("@timestamp", "event.id", "rampart.alert.source_ids", "event.created")
        and not k.startswith("process.") and not k.startswith("host.")
        and not k.startswith("agent.") and not k.startswith("user.")}
assert keep["rule.name"] == "RP sandbox test" and keep["event.severity"] == 73
json.dump(keep, open(sys.argv[2], "w"), sort_keys=True, indent=1)
PY
}

# ---- in-process: the reference ---------------------------------------------------
start in_process
"$T/bin/$UNAME"
wait_for 15 "the in-process alert" alert_seen
alert_summary "$T/in.json" || fail "the in-process alert is not right"
stop

# ---- isolated ---------------------------------------------------------------------
start process
grep -q "plugin sigma: loaded org.rampart.sigma" "$T/agent.err" || true
SBX=
# The sandbox is a child of the worker (the supervisor's child).
WPID=$(worker_pid "$APID")
[ -n "$WPID" ] || fail "no worker under the supervisor $APID"
for c in $(pgrep -P "$WPID" || true); do
    if tr '\0' ' ' <"/proc/$c/cmdline" | grep -q "^rampart-sandbox sigma "; then SBX=$c; fi
done
[ -n "$SBX" ] || fail "no rampart-sandbox child of the agent for sigma"
"$T/bin/$UNAME"
wait_for 15 "the isolated alert" alert_seen
alert_summary "$T/iso.json" || fail "the isolated alert is not right"
diff -u "$T/in.json" "$T/iso.json" || fail "the isolated alert differs from the in-process one"
status=$(cat "/proc/$SBX/status")
grep -qE "^Uid:[[:space:]]+$NOBODY[[:space:]]+$NOBODY[[:space:]]+$NOBODY[[:space:]]+$NOBODY$" \
    <<<"$status" || fail "the sandbox is not nobody: $(grep ^Uid <<<"$status")"
for k in CapInh CapPrm CapEff CapBnd CapAmb; do
    grep -qE "^$k:[[:space:]]+0000000000000000$" <<<"$status" ||
        fail "the sandbox has capabilities: $(grep "^$k" <<<"$status")"
done
grep -qE "^NoNewPrivs:[[:space:]]+1$" <<<"$status" || fail "no_new_privs is not set"
grep -qE "^Seccomp:[[:space:]]+2$" <<<"$status" || fail "no seccomp filter"
# A reload that turns the target rule off reaches the isolated plugin's
# reconfigure: the next exec raises the canary's alert, not the target's.
wait_for 10 "the canary's first alert" alerts_at_least "$CANARY_ID" 1
config process "\"rules\": {\"$RULE_ID\": {\"enabled\": false}}"
kill -HUP "$APID"
wait_for 15 "the reload" file_has "$T/agent.err" "plugin sigma: reconfigured"
"$T/bin/$UNAME"
wait_for 15 "the canary's second alert" alerts_at_least "$CANARY_ID" 2
[ "$(alerts_of "$RULE_ID")" -eq 1 ] || fail "the target rule still alerts after the reload turned it off"
pid_alive "$SBX" || fail "the reload restarted the sandbox instead of reconfiguring the plugin"
stop
pid_gone "$SBX" || fail "the sandbox outlived the agent"

# ---- a collector cannot be isolated --------------------------------------------------
cat >"$T/bad.json" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false},
  "plugins": {"process": {"enabled": true, "file": "collector_process.so", "isolation": "process"}}
}
EOF
run_cmd "$T/check.out" "$T/check.err" "$RAMPARTD" --check-config --config "$T/bad.json"
[ "$RC" -ne 0 ] || fail "--check-config accepted an isolated collector"
grep -q "plugins.process.isolation: \"process\" is for detectors and responders" "$T/check.err" ||
    fail "--check-config did not name plugins.process.isolation: $(cat "$T/check.err")"
echo "PASS: detector_sigma isolated: same alert as in-process, sandbox nobody/CapEff 0/NoNewPrivs/Seccomp 2"
