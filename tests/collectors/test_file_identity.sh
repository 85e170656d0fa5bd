#!/usr/bin/env bash
# collector_file: who did it, and what is noise. The real agent with the real
# file and process collectors (fanotify, the netlink proc connector), and an
# unprivileged user the test creates and removes, doing what an attacker or a
# busy desktop does:
#  1. runs one program 20 times: the program's and the dynamic loader's
#     executions are folded into one file.exec each (issue 10, item 5a);
#  2. a process that stays alive writes a file: the file event has
#     event.dataset, process.entity_id equal to the one collector_process
#     gives the same process, and user.id/user.name; a process gone before
#     its record is read says what is missing (item 5b, 5c);
#  3. a process run from a memfd named "x/../../usr/sbin/sshd", one whose
#     program was deleted, and one whose program is really named
#     "sshd (deleted)" write files: the first is flagged memfd with no name
#     taken from the memfd's, the second flagged deleted, the third keeps
#     its full name (item 15b);
#  4. a file created below 18 nested 250-byte folders (past PATH_MAX) is
#     published with its name, inode and a path_unresolved flag (item 12);
#  5. collectors.exclude: a program, a folder and a user listed there give no
#     events, and each rule kind is counted (item 5e).
# Run as: bash test_file_identity.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd -P)
[ "$(id -u)" -eq 0 ] || fail "needs root (fanotify, useradd)"
cd "$T"

# Two unprivileged users, removed on exit with everything else.
U1=rpfa$$
U2=rpfb$$
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$U1" || fail "useradd $U1"
useradd -M -N -d /nonexistent -s /usr/sbin/nologin "$U2" || { userdel "$U1"; fail "useradd $U2"; }
remove_users() { userdel "$U1" 2>/dev/null || true; userdel "$U2" 2>/dev/null || true; }
trap 'remove_users; cleanup' EXIT
UID1=$(id -u "$U1")
UID2=$(id -u "$U2")
as_user() { # as_user USER CMD... (bounded in time)
    local u=$1
    shift
    timeout -k 2 20 setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups "$@"
}

chmod 755 "$T"
W=$T/w
mkdir -m 1777 "$W"
mkdir -m 1777 "$W/skip"
LDSO=$(readlink -f /lib64/ld-linux-x86-64.so.2)
export W LDSO UID1 UID2 U1 U2

# write_cfg EXCLUDE_JSON: the agent with the file and process collectors.
write_cfg() {
    cat >"$T/agent.json" <<EOF
{
  "agent": {"data_dir": "$T/data", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50},
  "collectors": {"exclude": $1},
  "plugins": {
    "file": {"enabled": true, "file": "collector_file.so",
             "config": {"paths": ["$W", "$(dirname "$LDSO")"], "events":
                        ["create", "modify", "delete", "rename", "exec"]}},
    "process": {"enabled": true, "file": "collector_process.so", "config": {}}
  }
}
EOF
}
EVENTS=$T/data/events.ndjson
export EVENTS

start_agent() {
    "$RAMPARTD" --foreground --config "$T/agent.json" >"$T/agent.out" 2>"$T/agent.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 10 "plugin file running" file_has "$T/agent.err" "plugin file: running"
    wait_for 10 "plugin process running" file_has "$T/agent.err" "plugin process: running"
}
stop_agent() {
    kill -TERM "$APID"
    wait_for 15 "the agent to exit" pid_gone "$APID"
    RC=0
    wait "$APID" || RC=$?
    expect_rc 0 "agent exit"
}
counter() {
    sed -n "s/.*plugin file: stopped: .*[ ,]$1 \([0-9]*\).*/\1/p" "$T/agent.err" | tail -n 1
}
# events_match PYTHON_EXPR MIN: at least MIN events satisfy the expression.
events_match() {
    [ -f "$EVENTS" ] || return 1
    "$PY" - "$1" "$2" <<'PY'
import json, os, sys
env = os.environ
n = 0
for line in open(env["EVENTS"]):
    ev = json.loads(line)
    if eval(sys.argv[1]):
        n += 1
sys.exit(0 if n >= int(sys.argv[2]) else 1)
PY
}

# ---- 0. the shared rules are checked where the config is ------------------------
write_cfg '{"executables": ["bin/x"]}'
run_cmd "$T/cc.out" "$T/cc.err" "$RAMPARTD" --check-config --config "$T/agent.json"
expect_rc 78 "a relative path in collectors.exclude"
file_has "$T/cc.err" 'collectors.exclude.executables[0]: expected an absolute path' ||
    fail "check-config: $(cat "$T/cc.err")"
write_cfg '{}'
"$PY" - "$T/agent.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["plugins"]["file"]["config"]["exclude_rules"] = {"users": ["root"]}
json.dump(c, open(sys.argv[1], "w"))
PY
run_cmd "$T/cc.out" "$T/cc.err" "$RAMPARTD" --check-config --config "$T/agent.json"
expect_rc 78 "exclude_rules set in a plugin's own config"
file_has "$T/cc.err" 'plugins.file.config.exclude_rules: set by the agent from collectors.exclude' ||
    fail "check-config: $(cat "$T/cc.err")"

write_cfg '{}'
start_agent

# ---- 1. the same program 20 times ----------------------------------------------
cp /usr/bin/true "$W/mytrue"
chmod 755 "$W/mytrue"
for _ in $(seq 20); do as_user "$U1" "$W/mytrue" || fail "mytrue"; done

# ---- 2. a live process and a short-lived one -------------------------------------
cat >"$W/alive.py" <<'PY'
import os, sys, time
w = sys.argv[1]
with open(os.path.join(w, "alive.txt"), "w") as f:
    f.write("x")
# Stay until the agent has read the record (the test removes the gate).
for _ in range(200):
    if not os.path.exists(os.path.join(w, "gate")):
        break
    time.sleep(0.05)
PY
touch "$W/gate"
as_user "$U1" /usr/bin/python3 "$W/alive.py" "$W" &
ALIVE=$!
wait_for 10 "the live process's file event" events_match \
    'ev.get("file.path") == env["W"] + "/alive.txt" and ev["event.action"] == "modification"' 1
rm -f "$W/gate"
wait "$ALIVE" || fail "alive.py"
# Gone before the agent reads its record: the agent is held while the shell
# writes and exits (and is reaped).
kill -STOP "$(worker_pid "$APID")"
as_user "$U1" /bin/sh -c "echo x > $W/short.txt" || { kill -CONT "$(worker_pid "$APID")"; fail "short"; }
kill -CONT "$(worker_pid "$APID")"

# ---- 3. memfd, deleted, and a name that only looks deleted ------------------------
cat >"$W/memfd.py" <<'PY'
import os, sys
w = sys.argv[1]
fd = os.memfd_create("x/../../usr/sbin/sshd", 0)
with open("/bin/dash", "rb") as f:
    os.write(fd, f.read())
os.execv("/proc/self/fd/%d" % fd, ["sshd", "-c", "echo x > %s/memfd.txt; sleep 1" % w])
PY
as_user "$U1" /usr/bin/python3 "$W/memfd.py" "$W" || fail "memfd"
cp /bin/dash "$W/dashcopy"
chmod 755 "$W/dashcopy"
chown "$U1" "$W/dashcopy"
as_user "$U1" "$W/dashcopy" -c "rm -f $W/dashcopy; echo x > $W/deleted.txt; sleep 1" ||
    fail "deleted"
cp /bin/dash "$W/sshd (deleted)"
chmod 755 "$W/sshd (deleted)"
as_user "$U1" "$W/sshd (deleted)" -c "echo x > $W/fakedel.txt; sleep 1" || fail "fakedel"

# ---- 4. past PATH_MAX ---------------------------------------------------------------
as_user "$U1" /usr/bin/python3 - "$W" <<'PY' || fail "deep"
import os, sys
os.chdir(sys.argv[1])
for i in range(18):
    n = ("d%02d" % i) + "x" * 247
    os.mkdir(n)
    os.chdir(n)
with open("deep.txt", "w") as f:
    f.write("x")
print(os.stat("deep.txt").st_ino, file=open(os.path.join(sys.argv[1], "deep.ino"), "w"))
with open("deep1.txt", "w") as f:
    f.write("x")
os.rename("deep1.txt", "deep2.txt")
os.unlink("deep2.txt")
PY
DEEP_INO=$(cat "$W/deep.ino")
export DEEP_INO

wait_for 10 "the deep file's events" events_match \
    'ev.get("file.name") == "deep2.txt" and ev["event.action"] == "deletion"' 1
wait_for 10 "the fake-deleted file's event" events_match \
    'ev.get("file.path") == env["W"] + "/fakedel.txt" and ev["event.action"] == "creation"' 1
sleep 0.5
stop_agent
FOLDED=$(counter exec_folded)
UNRES=$(counter path_unresolved)
JOINED=$(counter joined_late)

"$PY" - <<'PY' || fail "file identity events"
import hashlib, json, os, sys
env = os.environ
W = env["W"]
evs = [json.loads(l) for l in open(env["EVENTS"])]
fev = [e for e in evs if e.get("event.category") == ["file"]]
def one(pred, what):
    got = [e for e in fev if pred(e)]
    assert got, "no event for " + what
    return got[0]

# 1. folding
mytrue = [e for e in fev if e["event.action"] == "execution" and e.get("file.path") == W + "/mytrue"]
assert len(mytrue) == 1, "20 runs of mytrue gave %d file.exec events, want 1 (folded)" % len(mytrue)
ld = [e for e in fev if e["event.action"] == "execution" and e.get("file.path") == env["LDSO"]]
assert 1 <= len(ld) <= 2, "the dynamic loader gave %d file.exec events, want 1 or 2" % len(ld)

# 2. joins
mid = open("/etc/machine-id").read().strip()
alive = one(lambda e: e.get("file.path") == W + "/alive.txt" and e["event.action"] == "modification",
            "alive.txt")
assert alive.get("event.dataset") == "rampart.file", alive
pid = alive["process.pid"]
assert alive.get("user.id") == env["UID1"], alive
assert alive.get("user.name") == env["U1"], alive
assert alive.get("process.executable") == "/usr/bin/python3.11" or \
    alive.get("process.executable", "").startswith("/usr/bin/python3"), alive
execs = [e for e in evs if e.get("event.action") == "exec" and e.get("process.pid") == pid]
assert execs, "collector_process published no exec for pid %d" % pid
assert alive.get("process.entity_id") == execs[-1]["process.entity_id"], \
    "file event entity_id %s != process exec entity_id %s" % (alive.get("process.entity_id"),
                                                             execs[-1]["process.entity_id"])
short = one(lambda e: e.get("file.path") == W + "/short.txt" and e["event.action"] == "creation",
            "short.txt")
assert short.get("event.dataset") == "rampart.file", short
# Gone before its record was read: joined through collector_process's exec
# event of the same pid.
sexec = [e for e in evs if e.get("event.action") == "exec" and e.get("process.pid") == short["process.pid"]]
assert sexec, "collector_process published no exec for the short-lived pid %d" % short["process.pid"]
assert short.get("process.entity_id") == sexec[-1]["process.entity_id"], \
    "short-lived process: file event %s, exec event entity %s" % (short, sexec[-1]["process.entity_id"])
assert short.get("user.id") == env["UID1"], short
# What the exec event knew, the file event has (collector_process itself may
# miss the executable of a process gone before it looked); what it lacks is
# named.
assert short.get("process.executable") == sexec[-1].get("process.executable"), (short, sexec[-1])
if "process.executable" not in short:
    assert "process.executable" in short.get("rampart.incomplete", []), short

# 3. memfd and deleted
m = one(lambda e: e.get("file.path") == W + "/memfd.txt" and e["event.action"] == "creation",
        "memfd.txt")
assert m.get("process.name") != "sshd" and "sshd" not in m.get("process.executable", ""), \
    "a memfd named after sshd shows as sshd: %s" % m
assert m.get("rampart.process.executable_memfd") is True, m
d = one(lambda e: e.get("file.path") == W + "/deleted.txt" and e["event.action"] == "creation",
        "deleted.txt")
assert d.get("rampart.process.executable_deleted") is True, d
assert d.get("process.executable") == W + "/dashcopy", d
f = one(lambda e: e.get("file.path") == W + "/fakedel.txt" and e["event.action"] == "creation",
        "fakedel.txt")
assert f.get("process.name") == "sshd (deleted)", \
    "a program named 'sshd (deleted)' shows as %r" % f.get("process.name")
assert "rampart.process.executable_deleted" not in f, f

# 4. past PATH_MAX
deep = one(lambda e: e.get("file.name") == "deep.txt" and e["event.action"] == "creation", "deep.txt")
assert deep.get("collector_file.path_unresolved") is True, deep
assert deep.get("file.inode") == env["DEEP_INO"], deep
assert "file.path" not in deep, deep
for action in ("rename", "deletion"):
    e = one(lambda e: e.get("file.name") == "deep2.txt" and e["event.action"] == action,
            "deep2.txt " + action)
    assert e.get("collector_file.path_unresolved") is True and "file.path" not in e, e
print("ok: folding, joins, memfd/deleted, long path")
PY
[ "${FOLDED:-0}" -ge 19 ] || fail "exec_folded is ${FOLDED:-none}, want >= 19"
[ "${UNRES:-0}" -ge 1 ] || fail "path_unresolved is ${UNRES:-none}, want >= 1"
[ "${JOINED:-0}" -ge 1 ] || fail "joined_late is ${JOINED:-none}, want >= 1"
echo "exec_folded $FOLDED, path_unresolved $UNRES, joined_late $JOINED"
rm -rf "$W"/d00* "$T/data"

# ---- 5. collectors.exclude ------------------------------------------------------------
mkdir -m 1777 -p "$W/skip"
write_cfg "{\"executables\": [\"$W/excluded\"], \"path_prefixes\": [\"$W/skip\"], \"users\": [\"$U2\"]}"
start_agent
cp /bin/dash "$W/excluded"
chmod 755 "$W/excluded"
as_user "$U1" "$W/excluded" -c "echo x > $W/by_excluded.txt; sleep 0.5" || fail "excluded exe"
as_user "$U1" /bin/dash -c "echo x > $W/skip/in_skip.txt; sleep 0.5" || fail "skip"
as_user "$U2" /bin/dash -c "echo x > $W/by_u2.txt; sleep 0.5" || fail "u2"
as_user "$U1" /bin/dash -c "echo x > $W/kept.txt; sleep 0.5" || fail "kept"
wait_for 10 "the kept file's event" events_match \
    'ev.get("file.path") == env["W"] + "/kept.txt"' 1
sleep 0.3
stop_agent
"$PY" - <<'PY' || fail "exclusions"
import json, os
env = os.environ
W = env["W"]
evs = [json.loads(l) for l in open(env["EVENTS"])]
paths = [e.get("file.path") for e in evs if e.get("event.category") == ["file"]]
for p in ("by_excluded.txt", "skip/in_skip.txt", "by_u2.txt"):
    assert W + "/" + p not in paths, "excluded activity published: " + p
PY
for c in excluded_executable excluded_path excluded_user; do
    [ "$(counter $c)" -ge 1 ] || fail "counter $c is $(counter $c), want >= 1"
done
echo "excluded_executable $(counter excluded_executable), excluded_path $(counter excluded_path)," \
    "excluded_user $(counter excluded_user)"
echo "ok"
