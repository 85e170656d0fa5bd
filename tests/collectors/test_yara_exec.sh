#!/usr/bin/env bash
# detector_yara's exec blocking (block_exec, guard.h) on the real agent and
# the real kernel (fanotify FAN_OPEN_EXEC_PERM), under the policy prevent for
# the yara ruleset:
#  - a program a rule matches fails to execute with EPERM, first seen
#    (held, scanned, denied) and again from the verdict cache (denied at
#    once), and an alert names the rule and says the exec was denied; a
#    program no rule matches runs;
#  - after the rule is removed and the agent reloaded, the same program runs;
#  - the scanning threads stopped (ptrace): a first-seen program runs at the
#    deadline, not before, and a fail-open alert is published;
#  - the agent stopped with SIGTERM while it holds an exec: the program runs
#    at once (well before the deadline);
#  - the agent killed with SIGKILL while it holds an exec: the program runs
#    at once, and later execs of first-seen programs are not held.
# While the agent runs, every exec on the machine passes through it: the
# test's programs live in its own folder under /tmp, and the system's and the
# project's folders are never blocked, so no other program waits on the
# paused scanners.
# Usage: bash test_yara_exec.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
# shellcheck source=tests/collectors/yara_exec_lib.sh
source "$(dirname "$0")/yara_exec_lib.sh"

PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
[ -f "$PLUGIN_DIR/detector_yara.so" ] || fail "no detector_yara.so in $PLUGIN_DIR"
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (fanotify permission events)"; exit 77; }
cd "$T"

EVENTS=$T/data/events.ndjson
CFG=$T/rampart.json
export EVENTS T
PAUSER=
trap 'resume_scanners; cleanup' EXIT

mkdir rules bin
MARK=rp-yara-exec-$RANDOM$RANDOM
BAD=$T/bin/bad
GOOD=$T/bin/good
make_prog "$BAD" "$MARK-bad"
make_prog "$GOOD" "$MARK-good"
cat >rules/exec.yar <<EOF
rule RP_Test_Exec_Bad : test_exec
{
    meta:
        description = "The exec test's bad program"
    strings:
        \$a = "$MARK-bad"
    condition:
        \$a
}
EOF

# Every top-level folder but /tmp, and the project's checkout and build
# (which may lie anywhere), are never blocked.
NEVER=
for d in /*; do
    if [ -d "$d" ] && [ ! -L "$d" ] && [ "$d" != /tmp ] && [ "$d" != /proc ] && [ "$d" != /sys ]; then
        NEVER="$NEVER\"$d\", "
    fi
done
NEVER="$NEVER\"$SRC_DIR\", \"$(dirname "$(readlink -f "$RAMPARTCTL")")\""

# write_cfg DEADLINE_MS
write_cfg() {
    cat >"$CFG" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "policy": {"default": {"mode": "detect"}, "rulesets": {"yara": {"mode": "prevent"}}},
  "plugins": {
    "yara": {"enabled": true, "file": "detector_yara.so",
             "config": {"rule_dirs": ["$T/rules"], "scan_execs": false, "scan_writes": false,
                        "block_exec": true, "exec_deadline_ms": $1, "alert_throttle_s": 0,
                        "never_block": [$NEVER]}}
  }
}
EOF
}

start_agent() {
    "$RAMPARTD" --foreground --config "$CFG" >"$1.out" 2>"$1.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    if ! wait_for_quiet 20 file_has "$1.err" "plugin yara: running"; then
        if grep -q "block_exec:.*\(not supported\|FAN_OPEN_EXEC_PERM\)" "$1.err"; then
            echo "SKIP: no fanotify exec permission events here: $(grep -F block_exec: "$1.err")"
            exit 77
        fi
        fail "the detector did not start"
    fi
    grep -qF "plugin yara: blocking execs" "$1.err" || fail "the exec guard is not on"
}
wait_for_quiet() {
    local secs=$1
    shift
    local tries=$((secs * 20))
    while ! "$@" 2>/dev/null; do
        tries=$((tries - 1))
        [ "$tries" -gt 0 ] || return 1
        kill -0 "$APID" 2>/dev/null || return 1
        sleep 0.05
    done
}
stats() {
    run_cmd stats.out stats.err "$RAMPARTCTL" --config "$CFG" plugin yara stats
    expect_rc 0 "stats: $(cat stats.err)"
}
stat_of() {
    stats
    json_get stats.out "$1"
}
stat_is() { [ "$(stat_of "$1")" = "$2" ]; }
# pid_dead PID: gone, or a zombie its parent (this script) has not reaped.
pid_dead() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
    st=${st##*) }
    [ "${st%% *}" = Z ]
}
more_lines() { [ "$(count_lines "$1" "$2")" -gt "$3" ]; }
# alerts_of RULE_ID [PATH]: the alerts of the rule (about PATH), as JSON lines.
alerts_of() {
    [ -f "$EVENTS" ] || return 0
    "$PY" - "$1" "${2:-}" <<'PY'
import json, os, sys
for line in open(os.environ["EVENTS"]):
    ev = json.loads(line)
    if ev.get("event.kind") == "alert" and ev.get("rule.id") == sys.argv[1] and \
            (not sys.argv[2] or ev.get("file.path") == sys.argv[2]):
        print(json.dumps(ev))
PY
}
n_alerts() { alerts_of "$@" | wc -l; }
more_alerts() { [ "$(n_alerts "$1" "${3:-}")" -gt "$2" ]; }
# expect_run PATH WANT_CODE [SECONDS]: runs PATH; sets MS to how long it took.
expect_run() {
    local got
    got=$(run_prog "$1" "${3:-10}")
    MS=${got#* }
    [ "${got%% *}" = "$2" ] || fail "$1: expected $2, got ${got%% *} after $MS ms"
}
# hold_one PATH: runs PATH in the background (result in $T/held.res) and
# waits until the guard holds it.
hold_one() {
    rm -f "$T/held.res"
    (run_prog "$1" 30 >"$T/held.res.tmp" && mv "$T/held.res.tmp" "$T/held.res") &
    wait_for 10 "the guard to hold the exec" stat_is 'd["guard"]["held_now"]' 1
    [ ! -f "$T/held.res" ] || fail "the exec ended while it should be held: $(cat "$T/held.res")"
}
held_result() { [ -f "$T/held.res" ]; }

write_cfg 1000
start_agent agent

# ---- deny: first seen (held, scanned), then from the cache ------------------------------
expect_run "$BAD" 101
first_ms=$MS
expect_run "$BAD" 101
expect_run "$GOOD" 0
wait_for 10 "the alerts of the denials" more_alerts yara.RP_Test_Exec_Bad 1 "$BAD"
alerts_of yara.RP_Test_Exec_Bad "$BAD" >bad.alerts
"$PY" - bad.alerts <<'PY' || fail "the denial alerts: $(cat bad.alerts)"
import json, sys
alerts = [json.loads(l) for l in open(sys.argv[1])]
assert len(alerts) == 2, len(alerts)
for a in alerts:
    assert a["rule.name"] == "RP_Test_Exec_Bad", a["rule.name"]
    assert a["rule.ruleset"] == "yara", a
    assert a["rampart.policy.mode"] == "prevent", a
    assert a["yara.exec_denied"] is True, a
    assert a["yara.scan"] == "exec", a
    assert a["process.pid"] > 0, a
assert sorted(a.get("yara.from_cache", False) for a in alerts) == [False, True], alerts
PY
# Each denial is a response (sdk/docs/responses.md), linked to its alert.
denial_responses() {
    "$PY" - bad.alerts <<'PY'
import json, os, sys
alerts = {json.loads(l)["event.id"]: json.loads(l) for l in open(sys.argv[1])}
seen = 0
for line in open(os.environ["EVENTS"]):
    r = json.loads(line)
    if r.get("rampart.response.action") != "block_exec":
        continue
    a = alerts.get(r.get("rampart.response.alert_id"))
    if a is None:
        continue
    assert r["rampart.response.outcome"] == "done", r
    assert r["event.outcome"] == "success", r
    assert r["rampart.response.trigger"] == "alert", r
    assert r["rule.id"] == a["rule.id"] and r["process.pid"] == a["process.pid"], r
    assert r["rampart.response.latency_us"] < 10_000_000, r
    seen += 1
sys.exit(0 if seen == len(alerts) else 1)
PY
}
wait_for 10 "a response.block_exec event for each denial" denial_responses
[ "$(stat_of 'd["guard"]["denied"]')" -ge 2 ] || fail "guard denials: $(cat stats.out)"
[ "$(stat_of 'd["guard"]["held"]')" -ge 2 ] || fail "guard holds: $(cat stats.out)"
echo "denied: first seen in $first_ms ms (a scan), from the cache at once"

# ---- the rule removed, reloaded: the program runs ----------------------------------------
cat >rules/exec.yar <<EOF
rule RP_Test_Exec_Other
{
    strings:
        \$a = "$MARK-nothing-has-this"
    condition:
        \$a
}
EOF
before=$(count_lines agent.err "plugin yara: reloaded")
run_cmd reload.out reload.err "$RAMPARTCTL" --config "$CFG" reload
expect_rc 0 "reload: $(cat reload.err)"
wait_for 15 "the rules reloaded" more_lines agent.err "plugin yara: reloaded" "$before"
expect_run "$BAD" 0
[ "$(n_alerts yara.RP_Test_Exec_Bad "$BAD")" -eq 2 ] || fail "an alert after the rule went"
echo "the rule removed and reloaded: the program runs"

# ---- scanners hung: fail open at the deadline, alerted -----------------------------------
make_prog "$T/bin/slow" "$MARK-slow"
pause_scanners "$(worker_pid "$APID")" 60
expect_run "$T/bin/slow" 0 10
[ "$MS" -ge 1000 ] || fail "the held exec ran after $MS ms, before the 1000 ms deadline"
[ "$MS" -le 2500 ] || fail "the held exec ran after $MS ms, long past the 1000 ms deadline"
wait_for 10 "the fail-open alert" more_alerts yara.exec-deadline-passed 0
stats
[ "$(json_get stats.out 'd["guard"]["deadline_allowed"]')" -ge 1 ] ||
    fail "deadline_allowed: $(cat stats.out)"
max_ns=$(json_get stats.out 'd["guard"]["latency"]["scanned"]["max_ns"]')
[ "$max_ns" -le 2500000000 ] || fail "an exec was held $max_ns ns"
resume_scanners
echo "scanners paused: the exec ran after $MS ms (deadline 1000 ms), fail-open alert published"
kill -TERM "$APID"
wait_for 30 "the agent to exit" pid_gone "$APID"
wait "$APID" || fail "the agent exited with status $?"

# ---- SIGTERM while an exec is held: it runs at once ----------------------------------------
write_cfg 10000
start_agent agent2
make_prog "$T/bin/term" "$MARK-term"
pause_scanners "$(worker_pid "$APID")" 60
hold_one "$T/bin/term"
t0=$(date +%s%N)
kill -TERM "$APID"
wait_for 3 "the held exec to end after SIGTERM" held_result
read -r code ms <"$T/held.res"
[ "$code" = 0 ] || fail "after SIGTERM the exec ended with $code"
took=$((($(date +%s%N) - t0) / 1000000))
[ "$took" -lt 3000 ] || fail "the exec ran $took ms after SIGTERM"
# The agent finishes its stop once its scanning threads run again.
resume_scanners
wait_for 30 "the agent to exit" pid_gone "$APID"
wait "$APID" || fail "the agent exited with status $?"
echo "SIGTERM while holding: the exec ran (held $ms ms in all, deadline 10000 ms)"

# ---- SIGKILL while an exec is held: it runs at once, nothing stays blocked -------------------
start_agent agent3
make_prog "$T/bin/kill" "$MARK-kill"
pause_scanners "$(worker_pid "$APID")" 60
hold_one "$T/bin/kill"
kill -KILL "$APID"
wait_for 3 "the held exec to end after SIGKILL" held_result
read -r code ms <"$T/held.res"
[ "$code" = 0 ] || fail "after SIGKILL the exec ended with $code"
wait_for 10 "the agent to be gone" pid_dead "$APID"
wait "$APID" 2>/dev/null || true
resume_scanners
make_prog "$T/bin/after" "$MARK-after"
expect_run "$T/bin/after" 0 2
[ "$MS" -lt 1000 ] || fail "an exec after the kill took $MS ms"
echo "SIGKILL while holding: the exec ran (held $ms ms in all, deadline 10000 ms); later execs run"

echo "detector_yara exec blocking: deny, reload, fail open, SIGTERM and SIGKILL as expected"
