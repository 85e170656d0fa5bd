#!/usr/bin/env bash
# collector_file: a file written by a process that has exited but is not yet
# reaped (a zombie). /proc/<pid> still exists, but its exe link does not, so
# /proc shows no more than a kernel thread would: the command name. The real
# agent (fanotify, collector_file alone, no late joins) is held with SIGSTOP
# while a writer writes a file and exits; its parent keeps it a zombie until
# the agent has read the record. A third writer, as root, is held past the
# point of its exit where the kernel drops its memory but short of being a
# zombie (state S, no exe link: what /proc shows of a kernel thread), see
# below. Checked, for the three (one of them run as an unprivileged user the
# test creates):
#  - the event names the process (process.pid, process.entity_id, user.id)
#    and its command name (process.name), has no process.executable, and
#    says the executable is missing and why (rampart.incomplete,
#    collector_file.incomplete_reason "exited"): a rule on the executable
#    cannot match, and the reader can tell;
#  - a live writer's event has its executable and no incomplete flag.
# Run as: bash test_file_exiting.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd -P)
[ "$(id -u)" -eq 0 ] || fail "needs root (fanotify, useradd)"
cd "$T"

U1=rpfz$$
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$U1" || fail "useradd $U1"
trap 'userdel "$U1" 2>/dev/null || true; cleanup' EXIT
UID1=$(id -u "$U1")

chmod 755 "$T"
W=$T/w
mkdir -m 1777 "$W"
# The writer is a copy of dash under a name of its own, so its command name
# is known and differs from any other program's.
cp /bin/dash "$W/zwriter"
chmod 755 "$W/zwriter"
export W UID1

cat >"$T/agent.json" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "plugins": {
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"mode": "fanotify", "paths": ["$W"], "events": ["create", "modify"],
                        "join_wait_ms": 0}}
  }
}
EOF
EVENTS=$T/data/events.ndjson
export EVENTS

# The parent: runs the writer, waits (bounded) until it is a zombie, writes
# its pid, and reaps it only once the gate file is gone.
cat >"$T/parent.py" <<'PY'
import os, sys, time
w, tag = sys.argv[1], sys.argv[2]
pid = os.fork()
if pid == 0:
    os.execv(os.path.join(w, "zwriter"), ["zwriter", "-c", "echo x > %s/%s.txt" % (w, tag)])
for _ in range(200):
    with open("/proc/%d/stat" % pid) as f:
        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
            break
    time.sleep(0.01)
else:
    sys.exit("the writer did not become a zombie")
with open(os.path.join(w, tag + ".pid.tmp"), "w") as f:
    f.write(str(pid))
os.rename(os.path.join(w, tag + ".pid.tmp"), os.path.join(w, tag + ".pid"))
for _ in range(400):
    if not os.path.exists(os.path.join(w, tag + ".gate")):
        break
    time.sleep(0.05)
os.waitpid(pid, 0)
PY

events_match() { # events_match PYTHON_EXPR: some event satisfies it
    [ -f "$EVENTS" ] || return 1
    "$PY" - "$1" <<'PY'
import json, os, sys
env = os.environ
for line in open(env["EVENTS"]):
    ev = json.loads(line)
    if eval(sys.argv[1]):
        sys.exit(0)
sys.exit(1)
PY
}

"$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
APID=$!
AGENT_PIDS+=("$APID")
wait_for 10 "plugin file running" file_has "$T/agent.err" "plugin file: running"

# zombie_write TAG [setpriv args...]: the writer writes W/TAG.txt and exits
# while the agent is stopped; the agent reads the record while it is a
# zombie.
zombie_write() {
    local tag=$1
    shift
    touch "$W/$tag.gate"
    kill -STOP "$(worker_pid "$APID")"
    timeout -k 2 30 "$@" /usr/bin/python3 "$T/parent.py" "$W" "$tag" &
    local ppid=$!
    # (On a timeout the test ends, and its cleanup kills the stopped agent.)
    wait_for 10 "the $tag writer to be a zombie" test -s "$W/$tag.pid"
    kill -CONT "$(worker_pid "$APID")"
    wait_for 10 "the $tag file's event" events_match \
        "ev.get('file.path') == env['W'] + '/$tag.txt' and ev['event.action'] == 'modification'"
    rm -f "$W/$tag.gate"
    wait "$ppid" || fail "$tag: the parent failed"
}
zombie_write zuser setpriv --reuid="$UID1" --regid="$(id -g "$U1")" --clear-groups
zombie_write zroot

# A process past the point of its exit where the kernel dropped its memory
# (and its exe link) but not yet a zombie: /proc shows it running (state S)
# with a command name and no executable, just like a kernel thread. The
# writer is the first process (pid 1) of a new pid namespace; a helper
# outside the namespace forks a child into it and does not reap it, so the
# writer, once it exits, waits in the kernel for that child to be released
# (zap_pid_ns_processes) before it becomes a zombie.
cat >"$T/nschild.py" <<'PY'
import ctypes, os, sys, time
init, w = sys.argv[1], sys.argv[2]
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open("/proc/%s/ns/pid" % init, os.O_RDONLY)
if libc.setns(fd, 0x20000000) != 0:  # CLONE_NEWPID: for the children only
    sys.exit("setns: %s" % os.strerror(ctypes.get_errno()))
pid = os.fork()
if pid == 0:
    time.sleep(60)
    os._exit(0)
open(os.path.join(w, "zns.child"), "w").close()
for _ in range(400):
    if not os.path.exists(os.path.join(w, "zns.gate")):
        break
    time.sleep(0.05)
os.waitpid(pid, 0)
PY
touch "$W/zns.gate"
kill -STOP "$(worker_pid "$APID")"
timeout -k 2 30 unshare --pid --fork "$W/zwriter" -c \
    "echo x > $W/zns.txt; while [ ! -e $W/zns.go ]; do sleep 0.05; done" &
UPID=$!
wait_for 10 "the namespace's first process to write" test -s "$W/zns.txt"
# timeout runs unshare, which forks the namespace's first process.
UNS=$(cat "/proc/$UPID/task/$UPID/children")
UNS=${UNS%% *}
ZNS=$(cat "/proc/$UNS/task/$UNS/children" 2>/dev/null)
ZNS=${ZNS%% *}
if [ -z "$ZNS" ] || [ "$(readlink "/proc/$ZNS/ns/pid")" = "$(readlink /proc/self/ns/pid)" ]; then
    fail "no pid for the namespace's first process"
fi
timeout -k 2 30 /usr/bin/python3 "$T/nschild.py" "$ZNS" "$W" &
NSCHILD=$!
wait_for 10 "the child in the namespace" test -e "$W/zns.child"
touch "$W/zns.go"
exiting() { # the writer has dropped its memory (no exe link) and is no zombie
    local st
    st=$(sed 's/.*) \(.\).*/\1/' "/proc/$ZNS/stat") && [ -n "$st" ] && [ "$st" != Z ] &&
        ! readlink "/proc/$ZNS/exe" >/dev/null
}
wait_for 10 "the writer to be exiting, not yet a zombie" exiting
kill -CONT "$(worker_pid "$APID")"
wait_for 10 "the zns file's event" events_match \
    "ev.get('file.path') == env['W'] + '/zns.txt' and ev['event.action'] == 'modification'"
exiting || fail "the writer left the exiting state before its record was read"
rm -f "$W/zns.gate"
wait "$NSCHILD" || fail "nschild.py"
wait "$UPID" || true # its first process was killed along with the namespace
echo "$ZNS" >"$W/zns.pid"

# A live writer, for contrast: it stays until its record has been read.
touch "$W/live.gate"
timeout -k 2 30 setpriv --reuid="$UID1" --regid="$(id -g "$U1")" --clear-groups \
    "$W/zwriter" -c "echo x > $W/live.txt; while [ -e $W/live.gate ]; do sleep 0.05; done" &
LIVE=$!
wait_for 10 "the live file's event" events_match \
    "ev.get('file.path') == env['W'] + '/live.txt' and ev['event.action'] == 'modification'"
rm -f "$W/live.gate"
wait "$LIVE" || fail "live writer"

kill -TERM "$APID"
wait_for 15 "the agent to exit" pid_gone "$APID"
RC=0
wait "$APID" || RC=$?
expect_rc 0 "agent exit"

ZUSER=$(cat "$W/zuser.pid") ZROOT=$(cat "$W/zroot.pid") ZNS=$(cat "$W/zns.pid") "$PY" - <<'PY' || fail "events of exited writers"
import json, os
env = os.environ
W = env["W"]
evs = [json.loads(l) for l in open(env["EVENTS"])]
def mod(name):
    got = [e for e in evs if e.get("file.path") == W + "/" + name and
           e.get("event.action") == "modification"]
    assert got, "no modification event for " + name
    return got[0]
for tag, uid in (("zns", "0"), ("zuser", env["UID1"]), ("zroot", "0")):
    e = mod(tag + ".txt")
    assert e.get("process.pid") == int(env[tag.upper()]), (tag, e)
    # What /proc still knows of a zombie is published...
    assert e.get("process.name") == "zwriter", "%s: process.name %r" % (tag, e.get("process.name"))
    assert e.get("user.id") == uid, (tag, e)
    assert e.get("process.entity_id"), (tag, e)
    # ...and no executable is guessed: the event says it is missing, and why.
    assert "process.executable" not in e, (tag, e)
    assert "process.executable" in e.get("rampart.incomplete", []), \
        "%s: an exited writer's event without process.executable is not marked incomplete: %s" \
        % (tag, e)
    assert e.get("collector_file.incomplete_reason") == "exited", (tag, e)
live = mod("live.txt")
assert live.get("process.executable") == W + "/zwriter", live
assert live.get("process.name") == "zwriter", live
assert "rampart.incomplete" not in live and "collector_file.incomplete_reason" not in live, live
print("ok: zombie writers (user and root) marked incomplete, live writer complete")
PY
echo "ok"
