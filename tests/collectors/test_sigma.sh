#!/usr/bin/env bash
# detector_sigma on the real agent with the real process and file
# collectors, rules from a temporary folder, and site tuning through
# reloads:
#  - a uniquely named program run as nobody raises exactly one alert of the
#    target rule, carrying every field of the alert contract (rule.*,
#    event.severity from the level, threat.* from the attack tags, the
#    exec's process.* and its event.id in rampart.alert.source_ids, the
#    matched selections); a near miss (the program without the trigger
#    argument) raises none; a rule without an id gets the id derived from
#    its path; a file rule alerts on a file written in a watched folder; a
#    network rule (an address range, a port number, Initiated) alerts on a
#    connection the program opens; a keyword rule finds its keyword in the
#    command line and nowhere else;
#  - a dead rule (a field no collector fills) is logged as "can never
#    match" and listed as dead by `rampartctl plugin sigma rules`;
#  - one process that triggers the rule four times raises two alerts: the
#    first, and the first after the throttle window, which carries the two
#    suppressed in between;
#  - turning the rule off by id, tag (through the site overlay), level,
#    status and folder, and an exception, each through a reload, stops its
#    alert while a canary rule on the same exec still alerts;
#  - a rule file changed on disk is picked up by `rampartctl reload` with an
#    unchanged config;
#  - a reload whose rule_dir is missing (a new config, or the folder moved
#    away under an unchanged one) keeps the old rules, which still alert,
#    and logs why.
# Usage: bash test_sigma.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
for so in collector_process collector_file collector_network detector_sigma; do
    [ -f "$PLUGIN_DIR/$so.so" ] || fail "no $so.so in $PLUGIN_DIR"
done
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (proc connector, fanotify)"; exit 77; }
cd "$T"
# The programs run as nobody, who must reach them.
chmod 755 "$T"

EVENTS=$T/data/events.ndjson
CFG=$T/rampart.json
export EVENTS T

# ---- the programs and the rules ---------------------------------------------------
mkdir bin watch rules rules/a rules/c sites
chmod 755 bin rules rules/a rules/c
chmod 777 watch
UNAME=rp-sigma-$RANDOM$RANDOM
UNAME2=$UNAME-two
UPROG=$T/bin/$UNAME
UPROG2=$T/bin/$UNAME2
UNET=$T/bin/$UNAME-net
cp /bin/dash "$UPROG"
cp /bin/dash "$UPROG2"
# bash opens TCP connections itself (/dev/tcp).
cp /bin/bash "$UNET"
chmod 755 "$UPROG" "$UPROG2" "$UNET"
PORT=$((20000 + RANDOM % 20000))
# thr.sh N: the same process execs the program again N times (N + 1 execs
# with the first); before the last exec it waits past the throttle window
# (3 s).
cat >bin/thr.sh <<'EOF'
n=$1
[ "$n" -le 0 ] && exit 0
[ "$n" -eq 1 ] && /bin/sleep 3.5
exec "$UPROG" "$THR" $((n - 1)) rp-trigger run-thr
EOF
chmod 644 bin/thr.sh
export UNAME UNAME2 UPROG UPROG2 UNET PORT THR=$T/bin/thr.sh

ID_A=6b0f7c1e-5a2d-4c8e-9f10-0000000000a1
ID_C=6b0f7c1e-5a2d-4c8e-9f10-0000000000c1
ID_F=6b0f7c1e-5a2d-4c8e-9f10-0000000000f1
ID_D=6b0f7c1e-5a2d-4c8e-9f10-0000000000d1
ID_N=6b0f7c1e-5a2d-4c8e-9f10-0000000000e1
ID_K=6b0f7c1e-5a2d-4c8e-9f10-0000000000b1
export ID_A ID_C ID_F ID_D ID_N ID_K

# target_rule PROGRAM_NAME: the rule under test, on rules/a/target.yml.
target_rule() {
    cat >rules/a/target.yml <<EOF
title: RP test - unique program with the trigger argument
id: $ID_A
status: test
description: The unique test program ran with the trigger argument.
references:
  - https://example.org/rp-target
  - https://example.org/rp-target-2
author: Alice, Bob
license: MIT
level: high
tags:
  - attack.execution
  - attack.t1059.004
  - rampart.test-a
logsource:
  product: linux
  category: process_creation
detection:
  selection_img:
    Image|endswith: '/$1'
  selection_arg:
    CommandLine|contains: 'rp-trigger'
  condition: selection_img and selection_arg
EOF
}
target_rule "$UNAME"
# The canary: any exec of the program. It stays on while the target is
# turned off, so a test knows the exec was evaluated.
cat >rules/c/canary.yml <<EOF
title: RP test - canary
id: $ID_C
status: stable
level: medium
tags:
  - attack.discovery
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: '/$UNAME'
  condition: selection
EOF
cat >rules/c/noid.yml <<EOF
title: RP test - a rule without an id
status: stable
level: low
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    Image|endswith: '/$UNAME'
    CommandLine|contains: 'run-noid'
  condition: selection
EOF
cat >rules/c/file.yml <<EOF
title: RP test - file dropped
id: $ID_F
status: stable
level: low
tags:
  - attack.persistence
  - attack.t1053.003
logsource:
  product: linux
  category: file_event
detection:
  selection:
    TargetFilename|endswith: '/rp-sigma-drop-$UNAME.txt'
  condition: selection
EOF
# Numbers and addresses are matched as text: the port, the range, and
# Initiated (network.direction).
cat >rules/c/net.yml <<EOF
title: RP test - connection to a local port
id: $ID_N
status: stable
level: medium
tags:
  - attack.command-and-control
logsource:
  product: linux
  category: network_connection
detection:
  selection:
    Image|endswith: '/$UNAME-net'
    DestinationIp|cidr: '127.0.0.0/8'
    DestinationPort: $PORT
    Initiated: 'true'
  condition: selection
EOF
cat >rules/c/keyword.yml <<EOF
title: RP test - keyword
id: $ID_K
status: stable
level: low
logsource:
  product: linux
  category: process_creation
detection:
  keywords:
    - 'rp-kw-$UNAME'
  condition: keywords
EOF
# process.exit_code is an ECS field, but no collector fills it on an exec.
cat >rules/c/dead.yml <<EOF
title: RP test - dead rule
id: $ID_D
status: stable
level: low
logsource:
  product: linux
  category: process_creation
detection:
  selection:
    process.exit_code: 0
  condition: selection
EOF

# write_cfg EXTRA_SIGMA_CONFIG_JSON [RULE_DIRS_JSON]: the main config; the
# detector's config is the base one plus EXTRA's keys.
write_cfg() {
    local dirs=${2:-'["'"$T"'/rules"]'}
    cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info", "site": "north"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "process": {"enabled": true, "file": "collector_process.so", "config": {}},
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"paths": ["$T/watch"], "events": ["create", "modify"]}},
    "network": {"enabled": true, "file": "collector_network.so",
                "config": {"poll_interval_ms": 100}},
    "sigma": {"enabled": true, "file": "detector_sigma.so",
              "config": {"rule_dirs": $dirs, "throttle": {"seconds": 3}${1:+, $1}}}
  }
}
EOF
}
write_cfg ""
echo '{}' >sites/north.json

"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 20 "the detector to run" file_has agent.err "plugin sigma: running"
wait_for 20 "the file collector to run" file_has agent.err "plugin file: running"
wait_for 20 "the network collector to run" file_has agent.err "plugin network: running"

# nobody RUN_ID [PROGRAM] [ARGS...]: runs the program as nobody with -c true.
nobody() {
    local run=$1 prog=${2:-$UPROG}
    shift 2 || shift $#
    (cd "$T" && exec setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$prog" -c true "$@" "$run") || fail "the test program failed ($run)"
}

# alerts_of RULE_ID RUN: how many alerts of the rule name RUN in their
# command line.
alerts_of() {
    [ -f "$EVENTS" ] || { echo 0; return; }
    "$PY" - "$1" "$2" <<'PY'
import json, os, sys
n = 0
for line in open(os.environ["EVENTS"]):
    ev = json.loads(line)
    if ev.get("event.kind") == "alert" and ev.get("rule.id") == sys.argv[1] and \
            sys.argv[2] in ev.get("process.command_line", ""):
        n += 1
print(n)
PY
}
has_alert() { [ "$(alerts_of "$1" "$2")" -ge 1 ]; }
# alerts_at_least RULE_ID RUN N
alerts_at_least() { [ "$(alerts_of "$1" "$2")" -ge "$3" ]; }
# more_lines FILE TEXT N: FILE has more than N lines with TEXT.
more_lines() { [ "$(count_lines "$1" "$2")" -gt "$3" ]; }

# expect_target RUN: the canary alerted for RUN, and so did the target.
expect_target() {
    wait_for 15 "the canary alert of $1" has_alert "$ID_C" "$1"
    wait_for 15 "the target alert of $1" has_alert "$ID_A" "$1"
}
# expect_no_target RUN WHY: the canary alerted for RUN, the target did not.
expect_no_target() {
    wait_for 15 "the canary alert of $1" has_alert "$ID_C" "$1"
    # The target's match is made by the same evaluation as the canary's,
    # before it: a short grace covers the alert's way to the output.
    sleep 0.5
    [ "$(alerts_of "$ID_A" "$1")" -eq 0 ] || fail "the target alerted for $1 although $2"
}

reloads_logged() { count_lines agent.err "$1"; }
# reload_cfg WHAT: rampartctl reload; waits until the detector reconfigured.
reload_cfg() {
    local before
    before=$(reloads_logged "plugin sigma: reconfigured")
    run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
    expect_rc 0 "reload ($1): $(cat reload.err)"
    wait_for 15 "the reconfigure ($1)" more_lines agent.err "plugin sigma: reconfigured" "$before"
}
stats() {
    run_cmd stats.out stats.err "$RAMPARTCTL" --config "$CFG" plugin sigma stats
    expect_rc 0 "stats: $(cat stats.err)"
}

# ---- the load report: a dead rule ------------------------------------------------------
grep -F "dead.yml" agent.err | grep -qF "can never match" ||
    fail "the dead rule is not reported as 'can never match': $(grep -F 'plugin sigma' agent.err)"
grep -qF "plugin sigma: loaded 7 rule files from $T/rules: 6 loaded, 1 dead, 0 skipped, 0 disabled" \
    agent.err || fail "load summary: $(grep -F 'plugin sigma: loaded' agent.err)"
grep -qF "plugin sigma: evaluating process.exec, file.create, file.modify, file.rename, network.connect, network.accept" agent.err ||
    fail "subscriptions: $(grep -F 'plugin sigma: evaluating' agent.err)"
run_cmd rules.out rules.err "$RAMPARTCTL" --config "$CFG" plugin sigma rules
expect_rc 0 "rules: $(cat rules.err)"
"$PY" - rules.out <<'PY' || fail "rules command: $(cat rules.out)"
import hashlib, json, os, sys
env = os.environ
rules = json.load(open(sys.argv[1]))["rules"]
by = {os.path.basename(r["path"]): r for r in rules}
assert sorted(by) == ["canary.yml", "dead.yml", "file.yml", "keyword.yml", "net.yml", "noid.yml",
                      "target.yml"], by
assert by["dead.yml"]["status"] == "dead" and "can never match" in by["dead.yml"]["message"], by
for f in ("canary.yml", "file.yml", "keyword.yml", "net.yml", "noid.yml", "target.yml"):
    assert by[f]["status"] == "loaded" and by[f]["message"] == "", by[f]
t = by["target.yml"]
assert t["id"] == env["ID_A"] and t["level"] == "high" and t["path"] == env["T"] + "/rules/a/target.yml", t
assert t["title"] == "RP test - unique program with the trigger argument", t
noid = "sigma-" + hashlib.sha256(b"c/noid.yml").hexdigest()[:16]
assert by["noid.yml"]["id"] == noid, (by["noid.yml"], noid)
PY

# ---- one alert with every field; a near miss; no id; a file rule ------------------------
nobody run-1 "$UPROG" rp-trigger
nobody run-near
nobody run-noid
nobody run-kw "$UPROG" "rp-kw-$UNAME"
# A listener of root's and a connection from the unique program, held open
# long enough for the network collector's polls.
"$PY" - <<'PY' &
import os, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen(1)
s.settimeout(20)
open(os.environ["T"] + "/listening", "w").close()
c, _ = s.accept()
c.settimeout(20)
c.recv(1)
PY
LISTENER=$!
wait_for 10 "the listener" test -e "$T/listening"
# shellcheck disable=SC2016 # $PORT is expanded by the program (exported)
setpriv --reuid=65534 --regid=65534 --clear-groups "$UNET" -c \
    'exec 3<>"/dev/tcp/127.0.0.1/$PORT" && /bin/sleep 1 && echo x >&3' ||
    fail "the network test program failed"
wait "$LISTENER" || fail "the listener failed"
setpriv --reuid=65534 --regid=65534 --clear-groups /bin/sh -c \
    "echo x > '$T/watch/rp-sigma-drop-$UNAME.txt'" || fail "cannot write the dropped file"
wait_for 15 "the target alert of run-1" has_alert "$ID_A" run-1
wait_for 15 "the file alert" "$PY" -c '
import json, os, sys
sys.exit(0 if any(json.loads(l).get("rule.id") == os.environ["ID_F"] for l in open(os.environ["EVENTS"])) else 1)'
expect_no_target run-near "the trigger argument was missing"
wait_for 15 "the alert of the rule without an id" has_alert \
    "sigma-$(printf 'c/noid.yml' | sha256sum | cut -c1-16)" run-noid
wait_for 15 "the keyword alert" has_alert "$ID_K" run-kw
wait_for 15 "the network alert" "$PY" -c '
import json, os, sys
sys.exit(0 if any(json.loads(l).get("rule.id") == os.environ["ID_N"] for l in open(os.environ["EVENTS"])) else 1)'
[ "$(alerts_of "$ID_K" run-)" -eq 1 ] || fail "the keyword rule alerted for other runs"
"$PY" - <<'PY' || fail "alert fields"
import json, os
env = os.environ
evs = [json.loads(l) for l in open(env["EVENTS"])]
execs = [e for e in evs if e.get("event.action") == "exec" and e.get("event.kind") == "event"
         and e.get("process.executable") == env["UPROG"] and "run-1" in e.get("process.command_line", "")]
assert len(execs) == 1, "expected one exec of run-1, got %d" % len(execs)
x = execs[0]
alerts = [e for e in evs if e.get("event.kind") == "alert" and e.get("rule.id") == env["ID_A"]]
assert len(alerts) == 1, "expected exactly one target alert, got %d: %s" % (len(alerts), alerts)
a = alerts[0]
want = {
    "event.kind": "alert",
    "event.category": ["intrusion_detection"],
    "event.type": ["info"],
    "event.severity": 73,
    "rule.id": env["ID_A"],
    "rule.name": "RP test - unique program with the trigger argument",
    "rule.ruleset": "sigma",
    "rule.description": "The unique test program ran with the trigger argument.",
    "rule.reference": "https://example.org/rp-target",
    "rule.author": ["Alice", "Bob"],
    "rule.license": "MIT",
    "rule.tags": ["attack.execution", "attack.t1059.004", "rampart.test-a"],
    "threat.framework": "MITRE ATT&CK",
    "threat.technique.id": ["T1059.004"],
    "threat.tactic.id": ["TA0002"],
    "threat.tactic.name": ["Execution"],
    "rampart.alert.source_ids": [x["event.id"]],
    "process.executable": env["UPROG"],
    "process.pid": x["process.pid"],
    "process.entity_id": x["process.entity_id"],
    "process.command_line": x["process.command_line"],
    "process.parent.pid": x["process.parent.pid"],
    "user.id": "65534",
    "user.name": "nobody",
    "sigma.level": "high",
    "sigma.rule_path": env["T"] + "/rules/a/target.yml",
}
for k, v in want.items():
    assert a.get(k) == v, "alert %s: %r, expected %r\n%s" % (k, a.get(k), v, a)
assert sorted(a["sigma.selections"].split(", ")) == ["selection_arg", "selection_img"], a
r = a["event.reason"]
for part in ("RP test - unique program with the trigger argument", env["UPROG"], "selection_img",
             "selection_arg", "process.exec"):
    assert part in r, "reason %r lacks %r" % (r, part)
# The exec's own categorisation is not the alert's.
assert a.get("event.action") is None and "sigma.throttled_count" not in a, a
assert a["event.id"] != x["event.id"], a
f = [e for e in evs if e.get("rule.id") == env["ID_F"]]
assert len(f) == 1, f
f = f[0]
assert f["event.severity"] == 21 and f["file.path"] == env["T"] + "/watch/rp-sigma-drop-%s.txt" % env["UNAME"], f
assert f["threat.technique.id"] == ["T1053.003"] and f["threat.tactic.name"] == ["Persistence"], f
assert f["file.path"] in f["event.reason"], f
n = [e for e in evs if e.get("rule.id") == env["ID_N"]]
assert len(n) == 1, n
n = n[0]
assert n["process.executable"] == env["UNET"] and n["destination.port"] == int(env["PORT"]), n
assert n["destination.ip"] == "127.0.0.1" and n["network.direction"] == "egress", n
assert n["threat.tactic.id"] == ["TA0011"] and n["threat.tactic.name"] == ["Command and Control"], n
print("alert %s for exec %s (pid %d)" % (a["event.id"], x["event.id"], x["process.pid"]))
PY

# ---- throttling: one process, four triggers, two alerts --------------------------------
stats
throttled_before=$(json_get stats.out 'd["counters"]["alerts_throttled"]')
setpriv --reuid=65534 --regid=65534 --clear-groups "$UPROG" "$THR" 3 rp-trigger run-thr ||
    fail "the throttle program failed"
wait_for 15 "the second target alert of run-thr" alerts_at_least "$ID_A" run-thr 2
"$PY" - <<'PY' || fail "throttled alerts"
import json, os
env = os.environ
evs = [json.loads(l) for l in open(env["EVENTS"])]
execs = [e for e in evs if e.get("event.kind") == "event" and e.get("event.action") == "exec"
         and e.get("process.executable") == env["UPROG"] and "run-thr" in e.get("process.command_line", "")]
assert len(execs) == 4 and len({e["process.entity_id"] for e in execs}) == 1, execs
alerts = [e for e in evs if e.get("event.kind") == "alert" and e.get("rule.id") == env["ID_A"]
          and "run-thr" in e.get("process.command_line", "")]
assert len(alerts) == 2, alerts
assert "sigma.throttled_count" not in alerts[0], alerts[0]
assert alerts[1]["sigma.throttled_count"] == 2, alerts[1]
assert alerts[0]["rampart.alert.source_ids"] == [execs[0]["event.id"]], alerts[0]
assert alerts[1]["rampart.alert.source_ids"] == [execs[3]["event.id"]], alerts[1]
PY
stats
# The target and the canary each suppressed two.
[ "$(json_get stats.out 'd["counters"]["alerts_throttled"]')" -eq $((throttled_before + 4)) ] ||
    fail "alerts_throttled (was $throttled_before): $(cat stats.out)"

# ---- tuning through reloads --------------------------------------------------------------
write_cfg '"rules": {"'"$ID_A"'": {"enabled": false}}'
reload_cfg "rule id"
grep -qF "1 disabled" agent.err || fail "no rule reported disabled: $(grep -F 'plugin sigma' agent.err | tail -3)"
nobody run-off-id "$UPROG" rp-trigger
expect_no_target run-off-id "rules.<id>.enabled is false"

# The site overlay turns one tag off; the main file is back to the base.
write_cfg ""
echo '{"plugins": {"sigma": {"config": {"tags": {"Rampart.Test-A": {"enabled": false}}}}}}' \
    >sites/north.json
reload_cfg "tag in the site overlay"
nobody run-off-tag "$UPROG" rp-trigger
expect_no_target run-off-tag "its tag is turned off in the site overlay"
echo '{}' >sites/north.json

write_cfg '"levels": {"high": false}'
reload_cfg "level"
nobody run-off-level "$UPROG" rp-trigger
expect_no_target run-off-level "levels.high is false"

write_cfg '"statuses": {"test": false}'
reload_cfg "status"
nobody run-off-status "$UPROG" rp-trigger
expect_no_target run-off-status "statuses.test is false"

write_cfg '"folders": {"a": false}'
reload_cfg "folder"
nobody run-off-folder "$UPROG" rp-trigger
expect_no_target run-off-folder "folders.a is false"

write_cfg '"rules": {"'"$ID_A"'": {"exceptions": [{"CommandLine|contains": "run-exc"}]}}'
reload_cfg "exception"
nobody run-exc "$UPROG" rp-trigger
expect_no_target run-exc "an exception holds"
nobody run-not-exc "$UPROG" rp-trigger
expect_target run-not-exc
stats
[ "$(json_get stats.out 'd["counters"]["alerts_excepted"]')" -eq 1 ] ||
    fail "alerts_excepted: $(cat stats.out)"

write_cfg ""
reload_cfg "back to the base"
nobody run-base "$UPROG" rp-trigger
expect_target run-base

# ---- a changed rule file, unchanged config -----------------------------------------------
target_rule "$UNAME2"
before=$(reloads_logged "plugin sigma: reloaded")
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload (changed rule file): $(cat reload.err)"
wait_for 15 "the rules re-read" more_lines agent.err "plugin sigma: reloaded" "$before"
nobody run-file1 "$UPROG" rp-trigger
expect_no_target run-file1 "the rule file now names another program"
nobody run-file2 "$UPROG2" rp-trigger
wait_for 15 "the target alert of the changed rule" has_alert "$ID_A" run-file2

# ---- a missing rule_dir keeps the old rules ----------------------------------------------
write_cfg "" '["'"$T"'/rules", "'"$T"'/missing"]'
before=$(count_lines agent.err "new config not applied")
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
wait_for 15 "the refused reconfigure" more_lines agent.err "new config not applied" "$before"
grep -F "new config not applied" agent.err | tail -n1 | grep -qF "$T/missing" ||
    fail "the error does not name the folder: $(grep -F 'new config not applied' agent.err)"
nobody run-missing1 "$UPROG2" rp-trigger
wait_for 15 "the old rule's alert after the refused config" has_alert "$ID_A" run-missing1

write_cfg ""
mv rules rules.away
before=$(count_lines agent.err "plugin sigma: reload failed")
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload (rules moved away): $(cat reload.err)"
wait_for 15 "the failed rebuild" more_lines agent.err "plugin sigma: reload failed" "$before"
grep -F "plugin sigma: reload failed" agent.err | tail -n1 | grep -qF "$T/rules" ||
    fail "the error does not name the folder: $(grep -F 'reload failed' agent.err)"
nobody run-missing2 "$UPROG2" rp-trigger
wait_for 15 "the old rule's alert after the failed rebuild" has_alert "$ID_A" run-missing2
mv rules.away rules
stats
[ "$(json_get stats.out 'd["counters"]["reload_failures"]')" -eq 2 ] ||
    fail "reload_failures: $(cat stats.out)"

kill -TERM "$APID"
wait_for 30 "the agent to exit" pid_gone "$APID"
wait "$APID" || fail "the agent exited with status $?"
grep -qF "plugin sigma: stopped:" agent.err || fail "no stop line"
echo "detector_sigma: alerts, throttling, tuning and reloads as expected"
