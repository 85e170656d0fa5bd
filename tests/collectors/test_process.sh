#!/usr/bin/env bash
# collector_process against the real kernel: a uniquely named program run as
# "nobody" from a known folder with known arguments must show up as exactly
# one process.exec with the right executable, arguments, working directory,
# user, parent and hash, then a process.exit with its exit code; its child's
# exec must name it as the parent. Both with exec events on a socket of their
# own (Linux >= 6.6) and with one socket for all events. After a netlink
# overrun (the agent is stopped while a burst fills a small receive buffer) a
# rescan must report a process whose events were lost. In poll mode, execs
# must still arrive. Exec and exit events name their dataset (rampart.process).
# Usage: bash test_process.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
# shellcheck source=tests/collectors/process_lib.sh
source "$(dirname "$0")/process_lib.sh"

# ---- netlink mode: exec, exit, enrichment, lineage -----------------------------
# check_netlink CONFIG SOCKETS_LOG_TEXT : one agent run: a unique program, its
# exec, exit and child. (The body is not indented: its heredocs end at column 0.)
check_netlink() {
start_agent "$1"
grep -qF "plugin process: mode netlink (proc connector)" agent.err ||
    fail "the plugin did not use the proc connector: $(grep 'plugin process' agent.err)"
grep -qF "$2" agent.err || fail "expected '$2' in: $(grep 'proc connector' agent.err)"

UNIQ=$T/rp-uniq-$RANDOM$RANDOM
cp /bin/dash "$UNIQ"
chmod 755 "$UNIQ"
mkdir -p -m 755 "$T/wd"
SCRIPT='/bin/sleep 0.3; exit 7'
# A subshell of this script runs setpriv, which runs the program as nobody in
# the same process: its parent is this script.
rc=0
(cd "$T/wd" && exec setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$UNIQ" -c "$SCRIPT" rp-arg1 "rp arg 2") || rc=$?
[ "$rc" -eq 7 ] || fail "the test program exited with $rc, not 7"

export UNIQ SCRIPT WD=$T/wd PARENT_PID=$$ PARENT_EXE
PARENT_EXE=$(readlink "/proc/$$/exe")
SHA=$(sha256sum "$UNIQ" | cut -d' ' -f1)
export SHA
wait_for 20 "the exit event of $UNIQ" events_match \
    'ev["event.action"] == "exit" and ev.get("process.executable") == env["UNIQ"]' 1

"$PY" - "$EVENTS" <<'PY' || fail "netlink events"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
execs = [e for e in evs if e["event.action"] == "exec" and e.get("process.executable") == env["UNIQ"]]
assert len(execs) == 1, "expected exactly one exec of %s, got %d" % (env["UNIQ"], len(execs))
x = execs[0]
want = {
    "event.kind": "event",
    "event.category": ["process"],
    "event.type": ["start"],
    "event.dataset": "rampart.process",
    "collector_process.source": "netlink",
    "process.name": os.path.basename(env["UNIQ"]),
    "process.args": [env["UNIQ"], "-c", env["SCRIPT"], "rp-arg1", "rp arg 2"],
    "process.args_count": 5,
    "process.command_line": " ".join([env["UNIQ"], "-c", env["SCRIPT"], "rp-arg1", "rp arg 2"]),
    "process.working_directory": env["WD"],
    "user.id": "65534",
    "user.name": "nobody",
    "group.id": "65534",
    "process.parent.pid": int(env["PARENT_PID"]),
    "process.parent.executable": env["PARENT_EXE"],
    "process.parent.name": os.path.basename(env["PARENT_EXE"]),
    "process.hash.sha256": env["SHA"],
}
for k, v in want.items():
    assert x.get(k) == v, "exec %s: %r, expected %r\n%s" % (k, x.get(k), v, x)
for k in ("process.entity_id", "process.parent.entity_id", "process.start", "@timestamp",
          "process.parent.command_line"):
    assert x.get(k), "exec without %s: %s" % (k, x)
assert len(x["process.entity_id"]) == 32 and x["process.entity_id"] != x["process.parent.entity_id"], x
pid = x["process.pid"]

exits = [e for e in evs if e["event.action"] == "exit" and e["process.pid"] == pid]
assert len(exits) == 1, "expected one exit of pid %d, got %d" % (pid, len(exits))
y = exits[0]
assert y["event.type"] == ["end"] and y["event.category"] == ["process"], y
assert y.get("event.dataset") == "rampart.process", y
assert y["process.exit_code"] == 7, "exit code %r" % y.get("process.exit_code")
assert y["collector_process.exit_code_known"] is True, y
assert y["process.entity_id"] == x["process.entity_id"], (y, x)
assert y["process.executable"] == env["UNIQ"], y
# It ran /bin/sleep 0.3 before exiting: at least 0.3 s.
assert 300_000_000 <= y["event.duration"] < 20_000_000_000, y["event.duration"]
assert y["process.end"] >= x["process.start"], (y, x)
# Events of one pid come in order: the exec line before the exit line.
assert evs.index(x) < evs.index(y)

# Lineage: the sleep it forked names it as the parent, with its entity id.
kids = [e for e in evs if e["event.action"] == "exec" and e.get("process.parent.pid") == pid]
assert len(kids) == 1, "expected one child exec of pid %d, got %d" % (pid, len(kids))
k = kids[0]
assert k["process.executable"] == os.path.realpath("/bin/sleep"), k
assert k["process.args"] == ["/bin/sleep", "0.3"], k
assert k["process.parent.executable"] == env["UNIQ"], k
assert k["process.parent.entity_id"] == x["process.entity_id"], k
assert k["user.id"] == "65534", k
print("netlink: exec pid %d, exit code 7, child %d" % (pid, k["process.pid"]))
PY
stop_agent
grep -qF "plugin process: stopped:" agent.err || fail "no stop line"
}

# Linux >= 6.6 filters events per socket: exec events on their own socket.
if [ "$(printf '%s\n6.6\n' "$(uname -r | cut -d. -f1,2)" | sort -V | head -n1)" = "6.6" ]; then
    check_netlink '{"mode": "auto"}' "exec events on one socket, fork, exit, uid and gid on another"
else
    check_netlink '{"mode": "auto"}' "one socket for all events"
fi
# One socket for all events, as on older kernels.
check_netlink '{"mode": "netlink", "split_sockets": false}' "one socket for all events"

# ---- overrun: a burst while the agent is stopped, then a rescan ---------------
start_agent '{"mode": "netlink", "rcvbuf_bytes": 65536}'
kill -STOP "$(worker_pid "$APID")"
# Far more proc connector messages than 64 KiB of receive buffer holds.
for _ in $(seq 1 400); do /bin/true; done
UNIQ3=$T/rp-uniq3-$RANDOM$RANDOM
cp /bin/sleep "$UNIQ3"
"$UNIQ3" 30 &
U3PID=$!
# Continue the agent only once the exec is over (the program sleeps in
# clock_nanosleep, syscall 230): a rescan that runs while the exec is half
# done sees the new executable before the kernel sends the exec event, and
# reports the process once more when that event arrives.
in_nanosleep() { read -r nr _ <"/proc/$1/syscall" && [ "$nr" = 230 ]; }
wait_for 10 "$UNIQ3 to finish its exec" in_nanosleep "$U3PID"
kill -CONT "$(worker_pid "$APID")"
export UNIQ3 U3PID
wait_for 20 "the rescan" file_has agent.err "rescanned /proc to resynchronise"
wait_for 20 "the rescan's exec of $UNIQ3" events_match \
    'ev["event.action"] == "exec" and ev.get("process.executable") == env["UNIQ3"]' 1
kill "$U3PID"
wait "$U3PID" 2>/dev/null || true
"$PY" - "$EVENTS" <<'PY' || fail "rescan events"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
execs = [e for e in evs if e["event.action"] == "exec" and e.get("process.executable") == env["UNIQ3"]]
assert len(execs) == 1, "expected one exec of %s, got %d" % (env["UNIQ3"], len(execs))
x = execs[0]
assert x["collector_process.source"] == "rescan", x
assert x["process.pid"] == int(env["U3PID"]), x
assert x["process.args"] == [env["UNIQ3"], "30"], x
print("rescan: exec of pid %d reported after the overrun" % x["process.pid"])
PY
stop_agent
grep -qE "stopped: .* [1-9][0-9]* kernel overruns, [1-9][0-9]* rescans" agent.err ||
    fail "stop line without the overrun: $(grep 'stopped:' agent.err)"

# ---- poll mode ----------------------------------------------------------------
start_agent '{"mode": "poll", "poll_interval_ms": 200}'
grep -qF "plugin process: mode poll (configured)" agent.err ||
    fail "poll mode not reported: $(grep 'plugin process' agent.err)"
UNIQ2=$T/rp-uniq2-$RANDOM$RANDOM
cp /bin/sleep "$UNIQ2"
(cd "$T/wd" && exec "$UNIQ2" 1.5)
export UNIQ2
wait_for 20 "the polled exit of $UNIQ2" events_match \
    'ev["event.action"] == "exit" and ev.get("process.executable") == env["UNIQ2"]' 1
"$PY" - "$EVENTS" <<'PY' || fail "poll events"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
execs = [e for e in evs if e["event.action"] == "exec" and e.get("process.executable") == env["UNIQ2"]]
assert len(execs) == 1, "expected one exec of %s, got %d" % (env["UNIQ2"], len(execs))
x = execs[0]
assert x["collector_process.source"] == "poll", x
assert x["process.args"] == [env["UNIQ2"], "1.5"], x
assert x["process.working_directory"] == env["WD"], x
assert x["process.parent.pid"] == int(env["PARENT_PID"]), x
assert x.get("process.hash.sha256"), x
exits = [e for e in evs if e["event.action"] == "exit" and e["process.pid"] == x["process.pid"]]
assert len(exits) == 1, exits
# The poller cannot know how it ended, and says so.
assert "process.exit_code" not in exits[0], exits[0]
assert exits[0]["collector_process.exit_code_known"] is False, exits[0]
print("poll: exec and exit of pid %d" % x["process.pid"])
PY
stop_agent
echo "PASS"
