#!/usr/bin/env bash
# collector_process and the agent-wide collectors.exclude, event.dataset and
# memfd/deleted executables, against the real kernel:
# 1. a program on the executables list, one run from under a path prefix,
#    and one run by an excluded user (a user this test creates and removes)
#    produce no process event at all, neither exec nor exit, while the
#    counters excluded_executable, excluded_path and excluded_user count both
#    of each; a program under none of the rules is still reported, exec and
#    exit, each with event.dataset "rampart.process".
# 2. a program run from a memfd named "x/../../usr/sbin/sshd" is flagged
#    rampart.process.executable_memfd and named by nothing of that name; one
#    run from a deleted file is flagged rampart.process.executable_deleted
#    and keeps its last name without the kernel's " (deleted)".
# Usage: bash test_process_exclude.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
# shellcheck source=tests/collectors/process_lib.sh
source "$(dirname "$0")/process_lib.sh"
if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (the proc connector, a test user)" >&2
    [ "${RP_REQUIRE_ALL:-}" = 1 ] && exit 1 # (a machine that must run every test)
    exit 77
fi

make_user
mkdir -m 755 "$T/xdir"
for p in xprog kprog uprog xdir/pprog; do
    cp /bin/dash "$T/$p"
    chmod 755 "$T/$p"
done
export XPROG=$T/xprog KPROG=$T/kprog UPROG=$T/uprog PPROG=$T/xdir/pprog

# start_agent_excl : the process collector with the shared rules, and
# status.json rewritten often enough to read the counters from it.
start_agent_excl() {
    rm -rf "$T/data" "$T/agent.out" "$T/agent.err"
    cat >"$T/rampart.json" <<EOF
{
  "agent": {"data_dir": "data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info",
            "health_interval_ms": 300},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 100},
  "collectors": {"exclude": {"executables": ["$XPROG"], "path_prefixes": ["$T/xdir"],
                             "users": ["$TUSER"]}},
  "plugins": {"process": {"enabled": true, "file": "collector_process.so",
                          "config": {"mode": "netlink"}}}
}
EOF
    "$RAMPARTD" --foreground --config "$T/rampart.json" >"$T/agent.out" 2>"$T/agent.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 15 "the plugin to run" file_has "$T/agent.err" "plugin process: running"
}

# ---- 1. exclusion rules ----------------------------------------------------------
start_agent_excl
# Each program exits by itself, without a child (dash runs "read" and "exit"
# in place), after a second: read waits for its pipe to close, so the
# collector reads /proc/PID (where the executable is told) before the
# program is gone, even on a loaded machine. The three run side by side.
(sleep 1 | "$XPROG" -c 'read x; exit 3') &
P1=$!
(sleep 1 | "$PPROG" -c 'read x; exit 4') &
P2=$!
# setpriv runs as root, then becomes the user and execs the program in place.
(sleep 1 | as_user "$UPROG" -c 'read x; exit 5') &
P3=$!
wait "$P1" || [ $? = 3 ] || fail "$XPROG"
wait "$P2" || [ $? = 4 ] || fail "$PPROG"
wait "$P3" || [ $? = 5 ] || fail "$UPROG as $TUSER"
"$KPROG" -c 'exit 6' || [ $? = 6 ] || fail "$KPROG"
# Events come in kernel order: once the last program's exit is out, the
# others' were handled.
wait_for 20 "the exit event of $KPROG" events_match \
    'ev["event.action"] == "exit" and ev.get("process.executable") == env["KPROG"]' 1

cat >"$T/counters.py" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["plugins"]["process"]["counters"]
got = {k: c.get(k) for k in ("excluded_executable", "excluded_path", "excluded_user")}
# Exec and exit of each excluded program.
if got != {"excluded_executable": 2, "excluded_path": 2, "excluded_user": 2}:
    sys.exit("counters %r" % got)
print(" ".join("%s %d" % kv for kv in got.items()))
PY
wait_for 10 "the exclusion counters in status.json" "$PY" "$T/counters.py" "$T/data/status.json"
"$PY" "$T/counters.py" "$T/data/status.json"

"$PY" - "$EVENTS" <<'PY' || fail "exclusion events"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
# The collector's events (the agent's own start event is of category process too).
procs = [e for e in evs if e.get("event.category") == ["process"]
         and e.get("event.action") in ("exec", "exit")]
for prog in ("XPROG", "PPROG", "UPROG"):
    hit = [e for e in procs if e.get("process.executable") == env[prog]]
    assert not hit, "%s was excluded but published: %s" % (env[prog], hit)
mine = [e for e in procs if e.get("user.id") == env["TUID"]]
assert not mine, "events of the excluded user %s: %s" % (env["TUSER"], mine)
kept = [e for e in procs if e.get("process.executable") == env["KPROG"]]
assert sorted(e["event.action"] for e in kept) == ["exec", "exit"], kept
for e in kept:
    assert e.get("event.dataset") == "rampart.process", e
ex = [e for e in kept if e["event.action"] == "exit"][0]
assert ex.get("process.exit_code") == 6, ex
# Every process event names its dataset.
other = [e for e in procs if e.get("event.dataset") != "rampart.process"]
assert not other, other[:3]
print("excluded: no events of the three; %s: exec and exit, %d process events with "
      "event.dataset" % (env["KPROG"], len(procs)))
PY

# ---- 2. memfd and deleted executables ------------------------------------------------
export SLEEP_BIN SLEEP_SHA DEL=$T/delprog
SLEEP_BIN=$(readlink -f /bin/sleep)
SLEEP_SHA=$(sha256sum "$SLEEP_BIN" | cut -d' ' -f1)
cp "$SLEEP_BIN" "$DEL"
"$PY" - <<'PY' || fail "could not run the memfd and deleted programs"
import os
data = open(os.environ["SLEEP_BIN"], "rb").read()
# A memfd whose chosen name reads like a path to sshd.
mfd = os.memfd_create("x/../../usr/sbin/sshd", 0)
os.write(mfd, data)
# A file deleted after it was opened, run through that descriptor.
dfd = os.open(os.environ["DEL"], os.O_RDONLY)
os.unlink(os.environ["DEL"])
for fd, arg in ((mfd, "0.31"), (dfd, "0.32")):
    pid = os.fork()
    if pid == 0:
        os.execve(fd, ["sleep", arg], {})
    _, st = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(st) == 0
PY
wait_for 20 "the exit of the deleted program" events_match \
    'ev["event.action"] == "exit" and ev.get("process.command_line") == "sleep 0.32"' 1
"$PY" - "$EVENTS" <<'PY' || fail "memfd and deleted executables"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
def two(arg):
    # (Exit events carry the command line, not the argument list.)
    got = sorted((e for e in evs if e.get("process.command_line") == "sleep " + arg),
                 key=lambda e: e["event.action"])
    assert [e["event.action"] for e in got] == ["exec", "exit"], got
    # Both ran sleep's bytes: the hash is of the file that ran, name or not.
    assert got[0].get("process.hash.sha256") == env["SLEEP_SHA"], got[0]
    return got
for e in two("0.31"):
    assert e.get("rampart.process.executable_memfd") is True, e
    assert "process.executable" not in e, e
    assert "sshd" not in e.get("process.name", ""), e
    # Nothing is missing: the file has no name to give.
    assert "rampart.incomplete" not in e and e.get("event.outcome") != "unknown", e
for e in two("0.32"):
    assert e.get("rampart.process.executable_deleted") is True, e
    assert e.get("process.executable") == env["DEL"], e
    assert e.get("process.name") == "delprog", e
    assert "rampart.process.executable_memfd" not in e, e
print("memfd: flagged, no sshd in any name; deleted: flagged, named %s" % env["DEL"])
PY
stop_agent
echo "PASS"
