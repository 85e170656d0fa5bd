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
#    refused_protected_executable, and the process lives on;
#  - a pid that names another process than the alert meant is never hit:
#    alerts made by the test plugin alert_inject (tests/plugins) name a
#    live process's pid with another process's process.entity_id, or
#    without one and with a process.start ten seconds off, and are refused
#    with refused_pid_reused while the process lives on; the same alert with
#    the process's own entity id kills it (so the refusals are not a
#    broken injection);
#  - alerts naming the agent itself or pid 1 (with their own entity ids)
#    are refused (refused_agent, refused_init) and the agent runs on;
#  - a protected executable that is a folder is refused by --check-config,
#    naming the key.
# The test user and every process of it are removed on exit.
# Usage: bash test_kill.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
for so in collector_process detector_sigma responder_kill; do
    [ -f "$PLUGIN_DIR/$so.so" ] || fail "no $so.so in $PLUGIN_DIR"
done
# The test-only plugins are built next to the shipped ones (tests/plugins).
INJECT_SO=$(cd "$PLUGIN_DIR/.." && pwd -P)/tests/plugins/alert_inject.so
[ -f "$INJECT_SO" ] || fail "no $INJECT_SO"
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
             "rules": {"$RULE_ID": {"mode": "prevent", "actions": ["kill"]},
                       "rp.kill.inject": {"mode": "prevent", "actions": ["kill"]}}},
  "plugins": {
    "process": {"enabled": true, "file": "collector_process.so", "config": {}},
    "sigma": {"enabled": true, "file": "detector_sigma.so",
              "config": {"rule_dirs": ["$T/rules"]}},
    "kill": {"enabled": true, "file": "responder_kill.so",
             "config": {"kill_descendants": true, "protected_executables": ["$PROT"]}},
    "inject": {"enabled": true, "file": "$INJECT_SO"}
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
# shellcheck disable=SC2016 # expanded by the test user's shell
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

# ---- a big tree is killed whole, on a worker -------------------------------
# 40 children (more than the 32 killed on the event thread), started before
# the matching exec.
RUN_T=$MARK-t-$RANDOM
printf '%s' "$RUN_T" >run/name-t
# shellcheck disable=SC2016 # expanded by the test user's shell
as_user /bin/dash -c 'i=0; while [ $i -lt 40 ]; do sleep 300 & echo $! >>"$1"; i=$((i + 1)); done; sleep 0.5; exec "$2" -c "while :; do sleep 1; done" "$(cat "$3")"' \
    sh "$T/run/kids-t" "$UPROG" "$T/run/name-t"
VT=$!
VICTIMS+=("$VT")
kids_listed() { [ "$(wc -l <"$T/run/kids-t")" -eq 40 ]; }
wait_for 5 "the 40 children's pids" kids_listed
mapfile -t KIDS_T <"$T/run/kids-t"
VICTIMS+=("${KIDS_T[@]}")
wait_for 10 "process $VT to be killed" dead "$VT"
RC=0
wait "$VT" || RC=$?
[ "$RC" -eq 137 ] || fail "process $VT ended with status $RC, not by SIGKILL (137)"
for k in "${KIDS_T[@]}"; do wait_for 5 "its child $k to be killed" dead "$k"; done
wait_for 10 "the response.kill event of $RUN_T" has_response "$RUN_T"
response "$RUN_T" >resp-t.json
"$PY" - resp-t.json <<'PY' || fail "response of the tree: $(cat resp-t.json)"
import json, sys
r = json.load(open(sys.argv[1]))["response"]
assert r["rampart.response.outcome"] == "done", r
assert r["kill.descendants_killed"] >= 40 and r["kill.limited"] is False, r
PY
run_cmd stats.out stats.err "$RAMPARTCTL" --config "$CFG" plugin kill stats
expect_rc 0 "stats: $(cat stats.err)"
[ "$(json_get stats.out 'd["counters"]["on_worker"]')" -eq 1 ] ||
    fail "the big tree was not killed on a worker: $(cat stats.out)"

# ---- a protected program is not killed -------------------------------------
RUN_B=$MARK-b-$RANDOM
# As above, only the protected program's exec carries the marker: setpriv's
# would match first, before it runs the protected program.
printf '%s' "$RUN_B" >run/name-b
# shellcheck disable=SC2016 # expanded by the test user's shell
as_user /bin/dash -c 'exec "$1" -c "while :; do sleep 1; done" "$(cat "$2")"' sh "$PROT" "$T/run/name-b"
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

# ---- a pid that names another process is not hit ----------------------------
# entity PID: the process.entity_id of the live process PID, by the scheme of
# sdk/include/rampart/plugin_util.h (machine id, pid, start in ticks).
entity() {
    "$PY" - "$1" <<'PY'
import hashlib, sys
pid = sys.argv[1]
stat = open("/proc/%s/stat" % pid).read()
start = stat[stat.rindex(")") + 2:].split()[19]
mid = open("/etc/machine-id").read().strip()
print(hashlib.sha256(("%s:%s:%s" % (mid, pid, start)).encode()).hexdigest()[:32])
PY
}
# inject NAME FIELDS_JSON: an alert of rule rp.kill.inject (prevent, kill)
# naming FIELDS; NAME.id gets its event.id.
inject() {
    run_cmd "$1.out" "$1.err" "$RAMPARTCTL" --config "$CFG" plugin inject inject \
        '{"rule_id": "rp.kill.inject", "ruleset": "test", "reason": "kill test", "fields": '"$2"'}'
    [ "$RC" -eq 0 ] || fail "inject $1: exit status $RC: $(tr -d '\0' <"$1.err")"
    json_get "$1.out" 'd["event_id"]' >"$1.id"
    [ "$(json_get "$1.out" 'd["mode"]')" = prevent ] || fail "inject $1: $(cat "$1.out")"
}
# response_to ID: the response.kill to the alert whose event.id is ID.
response_to() {
    [ -f "$EVENTS" ] || return 1
    ID=$1 "$PY" - <<'PY'
import json, os, sys
mine = []
for line in open(os.environ["EVENTS"]):
    ev = json.loads(line)
    if ev.get("rampart.response.action") == "kill" and \
            ev.get("rampart.response.alert_id") == os.environ["ID"]:
        mine.append(ev)
if not mine:
    sys.exit(1)
assert len(mine) == 1, mine
print(json.dumps(mine[0]))
PY
}
has_response_to() { response_to "$1" >/dev/null; }
# expect_refused NAME [REASON]: the alert NAME was refused, as a reused pid
# unless REASON says otherwise.
expect_refused() {
    local id
    id=$(cat "$1.id")
    wait_for 10 "the response.kill to $1" has_response_to "$id"
    response_to "$id" >"resp-$1.json"
    REASON=${2:-refused_pid_reused} "$PY" - "resp-$1.json" <<'PY' ||
import json, os, sys
r = json.load(open(sys.argv[1]))
assert r["rampart.response.outcome"] == "refused", r
assert r["rampart.response.reason"] == os.environ["REASON"], r
PY
        fail "response to $1: $(cat "resp-$1.json")"
}

as_user "$UPROG" -c 'while :; do sleep 1; done' plain-c
VC=$!
VICTIMS+=("$VC")
as_user "$UPROG" -c 'while :; do sleep 1; done' plain-d
VD=$!
VICTIMS+=("$VD")
# Both have exec'd the test program (their exe is no longer setpriv).
exe_is() { [ "$(readlink "/proc/$1/exe")" = "$2" ]; }
wait_for 5 "process $VC to run the test program" exe_is "$VC" "$UPROG"
wait_for 5 "process $VD to run the test program" exe_is "$VD" "$UPROG"
EID_C=$(entity "$VC")
EID_D=$(entity "$VD")
[ "$EID_C" != "$EID_D" ] || fail "two processes with one entity id"
# C's pid with D's entity id: the pid names another process than the alert's.
inject reused '{"process.pid": {"i64": '"$VC"'}, "process.entity_id": "'"$EID_D"'", "process.executable": "'"$UPROG"'"}'
expect_refused reused
# No entity id; a process.start 10 s before C's real start.
START_C=$("$PY" - "$VC" <<'PY'
import os, sys, time
pid = sys.argv[1]
stat = open("/proc/%s/stat" % pid).read()
ticks = int(stat[stat.rindex(")") + 2:].split()[19])
boot = time.clock_gettime_ns(time.CLOCK_REALTIME) - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
print(boot + ticks * (10**9 // os.sysconf("SC_CLK_TCK")) - 10 * 10**9)
PY
)
inject early '{"process.pid": {"i64": '"$VC"'}, "process.start": {"timestamp": '"$START_C"'}}'
expect_refused early
sleep 0.3
dead "$VC" && fail "process $VC was killed by an alert that named another process"
# The same alert with C's own entity id kills it.
inject own '{"process.pid": {"i64": '"$VC"'}, "process.entity_id": "'"$EID_C"'", "process.executable": "'"$UPROG"'"}'
wait_for 10 "process $VC to be killed by its own alert" dead "$VC"
wait_for 10 "the response.kill to own" has_response_to "$(cat own.id)"
[ "$(response_to "$(cat own.id)" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["rampart.response.outcome"])')" = "done" ] ||
    fail "the alert with the process's own entity id: $(response_to "$(cat own.id)")"
dead "$VD" && fail "process $VD, whose entity id was named with another pid, was killed"
kill -KILL "$VD"

# ---- the agent and init are never killed, whatever the alert says -----------
# The agent's worker, the process the responder runs in (docs/supervisor.md).
APID=$(worker_pid "${AGENT_PIDS[0]}")
inject agent '{"process.pid": {"i64": '"$APID"'}, "process.entity_id": "'"$(entity "$APID")"'"}'
expect_refused agent refused_agent
inject init '{"process.pid": {"i64": 1}, "process.entity_id": "'"$(entity 1)"'"}'
expect_refused init refused_init
kill -0 "$APID" || fail "the agent is gone"

run_cmd stats.out stats.err "$RAMPARTCTL" --config "$CFG" plugin kill stats
expect_rc 0 "stats: $(cat stats.err)"
[ "$(json_get stats.out 'd["counters"]["done"]')" -ge 1 ] || fail "stats: $(cat stats.out)"
[ "$(json_get stats.out 'd["counters"]["refused"]')" -ge 1 ] || fail "stats: $(cat stats.out)"
# ---- a protected executable that is not a program is refused by --check-config
sed "s|\"protected_executables\": \[\"$PROT\"\]|\"protected_executables\": [\"$T/bin\"]|" "$CFG" >bad.json
grep -qF "\"protected_executables\": [\"$T/bin\"]" bad.json || fail "bad.json: $(cat bad.json)"
run_cmd cc.out cc.err "$RAMPARTD" --check-config --config bad.json
expect_rc 78 "check-config with a folder as a protected executable: $(cat cc.err)"
grep -F "plugins.kill" cc.err | grep -qF "/protected_executables/0: $T/bin is not a regular file" ||
    fail "check-config: $(cat cc.err)"
echo "PASS"
