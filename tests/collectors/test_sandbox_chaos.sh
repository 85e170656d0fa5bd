#!/usr/bin/env bash
# The chaos test plugin (tests/plugins/chaos) isolated (plugins.<name>.isolation
# "process") next to the real process collector and the real Sigma detector
# in-process, with a rule on a unique program:
#  - segv on its 2nd event (and every one after): each crash is logged with
#    the plugin, the signal and the callback, the sandbox is restarted, the
#    agent keeps running, and not one event of the other plugins is lost:
#    every exec of the unique program the test runs is in the output, and
#    so is the Sigma alert of each; status.json shows the sandbox's pid,
#    restarts and the events lost with it;
#  - hang in on_event: caught by the deadline (plugins.<name>.sandbox.
#    deadline_ms), the sandbox killed and restarted, the other events all
#    there, and SIGTERM ends the agent at once;
#  - a reload that changes its config re-creates it (it has no reconfigure)
#    in the same sandbox, and it gets events again.
# Usage: bash test_sandbox_chaos.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# (RP_TEST_PLUGIN_DIR: the folder of chaos.so).
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
CHAOS=${RP_TEST_PLUGIN_DIR:-$(dirname "$PLUGIN_DIR")/tests/plugins}/chaos.so
for so in collector_process detector_sigma; do
    [ -f "$PLUGIN_DIR/$so.so" ] || fail "no $so.so in $PLUGIN_DIR"
done
[ -f "$CHAOS" ] || fail "no chaos.so at $CHAOS"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (proc connector)"; exit 77; }
cd "$T"
chmod 755 "$T"
mkdir bin rules
chmod 755 bin
UNAME=rp-chaos-$RANDOM$RANDOM
# A program that lives a second, so the collector reads it whole even on a
# busy machine.
cp /bin/sleep "bin/$UNAME"
chmod 755 "bin/$UNAME"
RULE_ID=6b0f7c1e-5a2d-4c8e-9f10-00000000c4a0
cat >rules/r.yml <<EOF
title: RP chaos neighbour
id: $RULE_ID
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
EVENTS=$T/data/events.ndjson
N=40
export UNAME EVENTS RULE_ID

# start MODE : the collector, chaos isolated in MODE on process.exec, and
# the Sigma detector in-process.
start() {
    rm -rf "$T/data" "$T/agent.out" "$T/agent.err"
    cat >"$T/rampart.json" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 200},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "plugins": {
    "process": {"enabled": true, "file": "collector_process.so"},
    "bad": {"enabled": true, "file": "$CHAOS", "isolation": "${ISO:-process}",
            "sandbox": {"deadline_ms": 500},
            "config": {"mode": "${MODE:-$1}", "nth": 2, "topic": "process.exec"}},
    "sigma": {"enabled": true, "file": "detector_sigma.so",
              "config": {"rule_dirs": ["$T/rules"]}}
  }
}
EOF
    "$RAMPARTD" --foreground --config "$T/rampart.json" >"$T/agent.out" 2>"$T/agent.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 20 "the agent to run its plugins" file_has "$T/agent.err" "3 running"
}

# run_execs : N execs of the unique program, 100 ms apart (each lives a
# second), so that the isolated plugin crashes (or hangs) several times
# while they happen.
run_execs() {
    local pids=()
    for _ in $(seq "$N"); do
        "$T/bin/$UNAME" 1 &
        pids+=($!)
        sleep 0.1
    done
    wait "${pids[@]}"
}

execs_out() {
    [ -f "$EVENTS" ] || { echo 0; return; }
    grep -F '"event.action":"exec"' "$EVENTS" | grep -cF "\"process.name\":\"$UNAME\"" || true
}

execs_all() { [ "$(execs_out)" -ge "$N" ]; }

# sandbox_status : status.json says the isolated plugin's sandbox was
# restarted (after the agent dropped its capabilities) and counts the
# events lost with it, and the in-process detector lost none.
sandbox_status() {
    "$PY" - "$T/data/status.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
p = doc["plugins"]
sb = p["bad"]["sandbox"]
# Every plugin declares its capabilities, so the agent dropped the others
# after start-up: the sandboxes were restarted by a worker without them.
if not doc["capabilities"]["dropped"]:
    sys.exit(1)
ok = sb["restarts"] >= 1 and sb["events_lost"] >= 1 and sb["pid"] >= 0
ok = ok and "sandbox" not in p["sigma"] and p["sigma"]["dropped"] == 0
sys.exit(0 if ok else 1)
PY
}

alerts_out() {
    [ -f "$EVENTS" ] || { echo 0; return; }
    grep -cF "\"rule.id\":\"$RULE_ID\"" "$EVENTS" || true
}

alerts_all() { [ "$(alerts_out)" -ge "$N" ]; }

# ---- segv --------------------------------------------------------------------------
start segv
run_execs
wait_for 15 "every exec in the output (have $(execs_out))" execs_all
pid_alive "$APID" || fail "the agent died with its isolated plugin"
crashes=$(grep -c "plugin bad: its sandbox (pid [0-9]*) died of signal 11 in on_event" "$T/agent.err" || true)
[ "$crashes" -ge 2 ] || fail "expected the isolated plugin to crash at least twice, saw $crashes"
grep -q "plugin bad: its sandbox was restarted" "$T/agent.err" || fail "the sandbox was not restarted"
[ "$(execs_out)" -eq "$N" ] || fail "expected $N exec events of $UNAME, got $(execs_out)"
wait_for 15 "the Sigma alert of every exec" alerts_all
[ "$(alerts_out)" -eq "$N" ] || fail "expected $N alerts of the in-process detector, got $(alerts_out)"
wait_for 10 "status.json to show the sandbox's restarts and lost events" sandbox_status
stop_at=$(date +%s%N)
kill -TERM "$APID"
wait_for 10 "the agent to exit" pid_gone "$APID"
wait "$APID" || fail "the agent exited with status $?"
echo "segv: $crashes crashes, $N/$N execs kept, stopped in $((($(date +%s%N) - stop_at) / 1000000)) ms"

# ---- hang --------------------------------------------------------------------------
start hang
run_execs
wait_for 15 "every exec in the output (have $(execs_out))" execs_all
pid_alive "$APID" || fail "the agent died with its isolated plugin"
hangs=$(grep -c "plugin bad: its sandbox (pid [0-9]*) was killed: on_event did not return within the deadline" \
    "$T/agent.err" || true)
[ "$hangs" -ge 1 ] || fail "the hang was not caught by the deadline"
grep -q "plugin bad: its sandbox was restarted" "$T/agent.err" || fail "the sandbox was not restarted"
[ "$(execs_out)" -eq "$N" ] || fail "expected $N exec events of $UNAME, got $(execs_out)"
wait_for 15 "the Sigma alert of every exec" alerts_all
[ "$(alerts_out)" -eq "$N" ] || fail "expected $N alerts of the in-process detector, got $(alerts_out)"
stop_at=$(date +%s%N)
kill -TERM "$APID"
wait_for 10 "the agent to exit" pid_gone "$APID"
wait "$APID" || fail "the agent exited with status $?"
echo "hang: $hangs hangs caught, $N/$N execs kept, stopped in $((($(date +%s%N) - stop_at) / 1000000)) ms"
# ---- re-created by a reload -------------------------------------------------------
# chaos has no reconfigure: a reload that changes its config stops,
# destroys and initialises it again, in the same sandbox, subscribed again.
start none
sandbox_pid() {
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"]["bad"]["sandbox"]["pid"])' \
        "$T/data/status.json"
}
bad_seen() {
    "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["plugins"]["bad"]["counters"]["chaos.events"])' \
        "$T/data/status.json"
}
bad_seen_more() { [ "$(bad_seen)" -gt "$1" ]; }
wait_for 5 "status.json" test -s "$T/data/status.json"
pid0=$(sandbox_pid)
sed -i 's/"nth": 2/"nth": 3/' "$T/rampart.json"
kill -HUP "$APID"
wait_for 15 "the re-creation" file_has "$T/agent.err" "plugin bad: re-creating"
sleep 1
seen0=$(bad_seen)
"$T/bin/$UNAME" 0.3
wait_for 10 "the re-created plugin to see events" bad_seen_more "$seen0"
[ "$(sandbox_pid)" = "$pid0" ] || fail "the reload started another sandbox ($pid0 -> $(sandbox_pid))"
kill -TERM "$APID"
wait_for 10 "the agent to exit" pid_gone "$APID"
wait "$APID" || fail "the agent exited with status $?"
echo "reload: re-created in sandbox $pid0, events flow again"
echo "PASS"
