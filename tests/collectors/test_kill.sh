#!/usr/bin/env bash
# responder_kill on the real agent, with the real process collector and the
# Sigma detector, under a policy that says prevent with actions [kill] for
# one test rule (tests/data/kill/rule.yml, matching a marker argument):
#  - a program of an unprivileged test user run with the marker is killed
#    (ended by SIGKILL) within a bounded time, and so is the child it had
#    before its matching exec (kill_descendants, found through the process
#    collector's lineage); its response.kill event names the alert's
#    event.id in rampart.response.alert_id, the process, outcome done and
#    one descendant or more killed;
#  - the same program copied to a path listed in protected_executables is
#    not killed: its response says refused, reason
#    refused_protected_executable, and the process lives on.
# The test user and every process of it are removed on exit.
# Usage: bash test_kill.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
for so in collector_process detector_sigma responder_kill; do
    [ -f "$PLUGIN_DIR/$so.so" ] || fail "no $so.so in $PLUGIN_DIR"
done
if [ "$(id -u)" -ne 0 ] || ! command -v useradd >/dev/null || ! command -v setpriv >/dev/null; then
    echo "SKIP: needs root (proc connector), useradd and setpriv" >&2
    exit 77
fi
cd "$T"
chmod 755 "$T"

USER_NAME="rpkill$$"
VICTIMS=()
finish() {
    local pid
    for pid in "${VICTIMS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    # Whatever the test user still runs (children of the victims).
    for pid in $(pgrep -u "$USER_NAME" 2>/dev/null || true); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    userdel "$USER_NAME" 2>/dev/null || true
    cleanup
}
trap finish EXIT
useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
    "$USER_NAME" || fail "cannot create the test user"
USER_ID=$(id -u "$USER_NAME")
GROUP_ID=$(id -g "$USER_NAME")

EVENTS=$T/data/events.ndjson
CFG=$T/rampart.json
RULE_ID=6b0f7c1e-5a2d-4c8e-9f10-00000000c111
MARK=rp-kill-marker
export EVENTS RULE_ID

mkdir bin rules run
chmod 755 bin rules
chmod 777 run
UPROG=$T/bin/rp-kill-$RANDOM
PROT=$T/bin/rp-kill-protected-$RANDOM
cp /bin/dash "$UPROG"
cp /bin/dash "$PROT"
chmod 755 "$UPROG" "$PROT"
sed "s/@RULE_ID@/$RULE_ID/; s/@MARK@/$MARK/" "$SRC_DIR/tests/data/kill/rule.yml" >rules/kill.yml

cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "policy": {"default": {"mode": "detect"},
             "rules": {"$RULE_ID": {"mode": "prevent", "actions": ["kill"]}}},
  "plugins": {
    "process": {"enabled": true, "file": "collector_process.so", "config": {}},
    "sigma": {"enabled": true, "file": "detector_sigma.so",
              "config": {"rule_dirs": ["$T/rules"]}},
    "kill": {"enabled": true, "file": "responder_kill.so",
             "config": {"kill_descendants": true, "protected_executables": ["$PROT"]}}
  }
}
EOF

"$RAMPARTD" --foreground --config "$CFG" >agent.out 2>agent.err &
AGENT_PIDS+=("$!")
wait_for 20 "the detector to run" file_has agent.err "plugin sigma: running"
wait_for 20 "the responder to run" file_has agent.err "plugin kill: running"

# as_user PROGRAM ARGS...: runs PROGRAM as the test user in the background;
# $! is its pid (setpriv execs it).
as_user() {
    setpriv --reuid="$USER_ID" --regid="$GROUP_ID" --clear-groups "$@" </dev/null &
}
# dead PID: no such process, or a zombie (killed, not yet reaped).
dead() {
    local st
    st=$(cut -d')' -f2 "/proc/$1/stat" 2>/dev/null | cut -d' ' -f2) || return 0
    [ -z "$st" ] || [ "$st" = Z ]
}
# response RUN: the response.kill event to the alert whose command line has
# RUN, as JSON; fails until both are in the output.
response() {
    [ -f "$EVENTS" ] || return 1
    # The marker goes through the environment: a command line holding it
    # would match the rule, and this one runs as root, not as the test user.
    RUN=$1 "$PY" - <<'PY'
import json, os, sys
alert = None
resp = []
for line in open(os.environ["EVENTS"]):
    ev = json.loads(line)
    if ev.get("event.kind") == "alert" and ev.get("rule.id") == os.environ["RULE_ID"] and \
            os.environ["RUN"] in ev.get("process.command_line", ""):
        alert = ev
    if ev.get("rampart.response.action") == "kill":
        resp.append(ev)
if alert is None:
    sys.exit(1)
mine = [r for r in resp if r.get("rampart.response.alert_id") == alert["event.id"]]
if not mine:
    sys.exit(1)
assert len(mine) == 1, mine
print(json.dumps({"alert": alert, "response": mine[0]}))
PY
}
has_response() { response "$1" >/dev/null; }

# ---- a matching process is killed, and its child too ------------------------
# The first shell starts a child, then execs the test program with the
# marker: the process that matches already has a child, which the process
# collector has seen.
RUN_A=$MARK-a-$RANDOM
T0=$(date +%s%N)
# The marker is read from a file, so the first shell's own command line
# does not match.
printf '%s' "$RUN_A" >run/name-a
as_user /bin/dash -c 'sleep 300 & echo $! >"$1"; sleep 0.5; exec "$2" -c "while :; do sleep 1; done" "$(cat "$3")"' \
    sh "$T/run/kid-a" "$UPROG" "$T/run/name-a"
VA=$!
VICTIMS+=("$VA")
wait_for 5 "the child's pid" test -s "$T/run/kid-a"
KID_A=$(cat "$T/run/kid-a")
VICTIMS+=("$KID_A")
wait_for 10 "process $VA to be killed" dead "$VA"
T1=$(date +%s%N)
RC=0
wait "$VA" || RC=$?
[ "$RC" -eq 137 ] || fail "process $VA ended with status $RC, not by SIGKILL (137)"
wait_for 5 "its child $KID_A to be killed" dead "$KID_A"
wait_for 10 "the response.kill event of $RUN_A" has_response "$RUN_A"
response "$RUN_A" >resp-a.json
VA=$VA "$PY" - resp-a.json <<'PY' || fail "response of the kill: $(cat resp-a.json)"
import json, os, sys
d = json.load(open(sys.argv[1]))
a, r = d["alert"], d["response"]
assert a["rampart.policy.mode"] == "prevent" and a["rampart.policy.actions"] == ["kill"], a
assert r["rampart.response.alert_id"] == a["event.id"], r
assert r["rampart.response.outcome"] == "done" and r["event.outcome"] == "success", r
assert r["rampart.response.trigger"] == "alert", r
assert "rampart.response.reason" not in r, r
assert r["process.pid"] == int(os.environ["VA"]), r
assert r["process.entity_id"] == a["process.entity_id"], r
assert r["process.executable"] == a["process.executable"], r
assert r["kill.descendants_killed"] >= 1, r
assert r["kill.descendants_source"].startswith("lineage"), r
assert r["rule.id"] == os.environ["RULE_ID"], r
assert isinstance(r["rampart.response.latency_us"], int), r
PY
echo "killed $VA and its child $KID_A in $(((T1 - T0) / 1000000)) ms (from its start)"

# ---- a protected program is not killed -------------------------------------
RUN_B=$MARK-b-$RANDOM
as_user "$PROT" -c 'while :; do sleep 1; done' "$RUN_B"
VB=$!
VICTIMS+=("$VB")
wait_for 10 "the response.kill event of $RUN_B" has_response "$RUN_B"
response "$RUN_B" >resp-b.json
"$PY" - resp-b.json <<'PY' || fail "response of the protected one: $(cat resp-b.json)"
import json, sys
d = json.load(open(sys.argv[1]))
a, r = d["alert"], d["response"]
assert r["rampart.response.alert_id"] == a["event.id"], r
assert r["rampart.response.outcome"] == "refused" and r["event.outcome"] == "failure", r
assert r["rampart.response.reason"] == "refused_protected_executable", r
PY
sleep 0.5
dead "$VB" && fail "the protected process $VB was killed"
kill -KILL "$VB"
wait "$VB" 2>/dev/null || true

run_cmd stats.out stats.err "$RAMPARTCTL" --config "$CFG" plugin kill stats
expect_rc 0 "stats: $(cat stats.err)"
[ "$(json_get stats.out 'd["counters"]["done"]')" -ge 1 ] || fail "stats: $(cat stats.out)"
[ "$(json_get stats.out 'd["counters"]["refused"]')" -ge 1 ] || fail "stats: $(cat stats.out)"
echo "PASS"
