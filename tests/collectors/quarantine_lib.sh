# shellcheck shell=bash
# tests/collectors/quarantine_lib.sh - what the responder_quarantine tests
# share: a test user (created here, removed on exit with everything it owns),
# the agent started and stopped by pid, alerts injected through the
# test-only plugin alert_inject (RP_TEST_PLUGIN_DIR), the quarantine
# commands, and the response events read back from the events file.
# Sourced after tests/cli/lib.sh; the caller sets CFG and EVENTS.

[ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null || {
    echo "SKIP: needs root, useradd and setpriv (a test user)"
    exit 77
}
INJECT_SO=${RP_TEST_PLUGIN_DIR:-}/alert_inject.so
[ -f "$INJECT_SO" ] || fail "no alert_inject.so in RP_TEST_PLUGIN_DIR (${RP_TEST_PLUGIN_DIR:-unset})"
PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd -P)
[ -f "$PLUGIN_DIR/responder_quarantine.so" ] || fail "no responder_quarantine.so in $PLUGIN_DIR"

QUSER="rpq$$"
EXTRA_CLEAN=()
q_finish() {
    local d
    pkill -KILL -u "$QUSER" 2>/dev/null || true
    userdel "$QUSER" 2>/dev/null || true
    for d in "${EXTRA_CLEAN[@]}"; do rm -rf -- "$d"; done
    cleanup
}
trap q_finish EXIT
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$QUSER" || fail "useradd $QUSER"
QUID=$(id -u "$QUSER")
QGID=$(id -g "$QUSER")
export QUID QGID
# The user reaches its folders under $T, and nothing else there.
chmod 0711 "$T"

# as_user CMD...: runs CMD as the test user, without root's groups or caps.
as_user() {
    timeout -k 2 10 setpriv --reuid="$QUID" --regid="$QGID" --clear-groups --inh-caps=-all "$@"
}

start_agent() {
    "$RAMPARTD" --foreground --config "$CFG" >"$1.out" 2>"$1.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 20 "the quarantine responder to run" file_has "$1.err" "plugin quarantine: running"
    wait_for 20 "the agent to start" file_has "$1.err" " started: pid"
}
stop_agent() {
    kill -TERM "$APID"
    wait_for 30 "the agent to exit" pid_gone "$APID"
    wait "$APID" || fail "the agent exited with status $?"
}

# qctl OUT ERR ARGS...: rampartctl plugin quarantine ARGS; sets RC.
qctl() {
    local out=$1 err=$2
    shift 2
    run_cmd "$out" "$err" "$RAMPARTCTL" --config "$CFG" plugin quarantine "$@"
}

# identity PATH: the JSON fields naming the file as collector_file does
# (file.device major:minor, file.inode) and its file.hash.sha256.
identity() {
    "$PY" - "$1" <<'PY'
import hashlib, json, os, sys
s = os.stat(sys.argv[1], follow_symlinks=False)
d = {"file.path": sys.argv[1], "file.device": "%d:%d" % (os.major(s.st_dev), os.minor(s.st_dev)),
     "file.inode": str(s.st_ino)}
if os.path.isfile(sys.argv[1]) and not os.path.islink(sys.argv[1]):
    d["file.hash.sha256"] = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
print(json.dumps(d))
PY
}

# inject RULE_ID FIELDS_JSON: an alert of ruleset "test" naming the fields;
# prints its event.id.
inject() {
    run_cmd inject.out inject.err "$RAMPARTCTL" --config "$CFG" plugin inject inject \
        "{\"rule_id\": \"$1\", \"ruleset\": \"test\", \"reason\": \"quarantine test\", \"fields\": $2}"
    expect_rc 0 "inject: $(cat inject.err)"
    json_get inject.out 'd["event_id"]'
}

# response ALERT_ID ACTION: the response.ACTION event of the alert as JSON
# (exit 1 when not there yet).
response() {
    [ -f "$EVENTS" ] || return 1
    "$PY" - "$1" "$2" <<'PY'
import json, os, sys
for line in open(os.environ["EVENTS"]):
    e = json.loads(line)
    if e.get("rampart.response.action") == sys.argv[2] and \
            e.get("rampart.response.alert_id", "") == sys.argv[1]:
        print(json.dumps(e))
        sys.exit(0)
sys.exit(1)
PY
}
has_response() { response "$1" "$2" >/dev/null; }

# command_responses ACTION ID: the response.ACTION events of commands on
# entry ID, one JSON line each.
command_responses() {
    [ -f "$EVENTS" ] || return 0
    "$PY" - "$1" "$2" <<'PY'
import json, os, sys
for line in open(os.environ["EVENTS"]):
    e = json.loads(line)
    if e.get("rampart.response.action") == sys.argv[1] and e.get("quarantine.id") == sys.argv[2] \
            and e.get("rampart.response.trigger") == "command":
        print(json.dumps(e))
PY
}
has_command_response() { [ -n "$(command_responses "$1" "$2" | grep -F "\"$3\"")" ]; }

# expect_response JSON OUTCOME [REASON]: the response's outcome and reason.
expect_response() {
    "$PY" - "$1" "$2" "${3:-}" <<'PY' || fail "response: $1"
import json, sys
e = json.loads(sys.argv[1])
assert e["rampart.response.outcome"] == sys.argv[2], e
assert e["event.outcome"] == ("success" if sys.argv[2] == "done" else "failure"), e
if sys.argv[3]:
    assert e.get("rampart.response.reason") == sys.argv[3], e
else:
    assert "rampart.response.reason" not in e, e
assert e["message"] and e["event.action"] == e["rampart.response.action"], e
assert e["rampart.response.trigger"] in ("alert", "command"), e
PY
}

# vault_files: the files in the vault folder, one per line.
vault_files() { find "$T/data/plugins/quarantine/vault" -mindepth 1 -printf '%f\n' 2>/dev/null; }
