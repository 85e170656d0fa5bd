#!/usr/bin/env bash
# collector_file on the real kernel, through the real agent:
#  1. fanotify (filesystem mark) with the agent's data folder INSIDE the
#     watched folder and the events file rotating on every few events: a
#     process creates, writes, renames and deletes files with pauses, then,
#     while the agent is held with SIGSTOP, does create+write+rename and
#     create+write+delete (the kernel merges each name's changes into one
#     queued record), then runs a program from the folder. Each
#     step gives exactly one event with the right paths, stat fields and the
#     acting process; the agent's own writes, renames and creates give none.
#  2. the same folder layout with exclude_self off: the agent's own events
#     do show up (so check 1 can fail).
#  3. fanotify with inode marks (the fallback for filesystems that refuse a
#     filesystem mark): the same events.
#  4. mode "inotify": the same create/modify/rename/delete events, without
#     process fields and without exec.
#  Every case also excludes a subfolder, whose activity must not show.
#  5. A queue overflow is counted and logged.
# Run as: bash test_file.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
PLUGIN_DIR=${4:?usage: $0 RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR}
PLUGIN_DIR=$(cd "$PLUGIN_DIR" && pwd -P)
[ -f "$PLUGIN_DIR/collector_file.so" ] || fail "no collector_file.so in $PLUGIN_DIR"
[ "$(id -u)" -eq 0 ] || fail "needs root (fanotify filesystem marks, open_by_handle_at)"
cd "$T"

# write_cfg NAME DATA_DIR PLUGIN_CONFIG_JSON [KEEP]: $T/NAME.json, events
# rotated past 2000 bytes (so the agent renames and creates files in its data
# folder while it runs), KEEP (100) rotated files kept, flushed every 50 ms.
write_cfg() {
    cat >"$T/$1.json" <<EOF
{
  "agent": {"data_dir": "$2", "plugin_dir": "$PLUGIN_DIR", "log_level": "info"},
  "output": {"file": "events.ndjson", "stdout": false, "flush_interval_ms": 50,
             "file_max_bytes": 2000, "file_keep": ${4:-100}},
  "plugins": {"file": {"enabled": true, "file": "collector_file.so", "config": $3}}
}
EOF
}

# start_agent NAME: runs the agent on $T/NAME.json; sets APID.
start_agent() {
    "$RAMPARTD" --foreground --config "$T/$1.json" >"$T/$1.out" 2>"$T/$1.err" &
    APID=$!
    AGENT_PIDS+=("$APID")
    wait_for 10 "plugin file running ($1)" file_has "$T/$1.err" "plugin file: running"
    # The agent's worker (docs/supervisor.md): the process that reads and writes.
    WPID=$(worker_pid "$APID")
}

# stop_agent NAME: SIGTERM, exit status 0, and the plugin's counter summary.
stop_agent() {
    kill -TERM "$APID"
    wait_for 10 "the agent to exit ($1)" pid_gone "$APID"
    RC=0
    wait "$APID" || RC=$?
    expect_rc 0 "agent exit ($1)"
    file_has "$T/$1.err" "plugin file: stopped: records_read" || fail "no counter summary ($1)"
}

# counter NAME COUNTER: a counter's value from the summary logged at stop.
counter() {
    sed -n "s/.*plugin file: stopped: .*$2 \([0-9]*\).*/\1/p" "$T/$1.err" | tail -n 1
}

# The acting process: does a scenario in a folder, writes what it did to a
# JSON file, then stays alive (so the agent can still read its /proc entry)
# until $T/release appears or 20 s pass. Before the quick part it waits for
# the test to stop the agent (files in the gate folder).
cat >"$T/actor.py" <<'PY'
import json, os, shutil, subprocess, sys, time
d, scenario, out, release, gate = sys.argv[1:6]
os.umask(0o022)
info = {"pid": os.getpid(), "exe": os.readlink("/proc/self/exe"), "ino": {}, "child": None}
P = lambda n: os.path.join(d, n)
def pause():
    time.sleep(0.3)
if "slow" in scenario:
    fd = os.open(P("a.txt"), os.O_CREAT | os.O_EXCL | os.O_RDONLY, 0o640)
    os.close(fd)
    info["ino"]["a.txt"] = os.stat(P("a.txt")).st_ino
    pause()
    fd = os.open(P("a.txt"), os.O_WRONLY)
    os.write(fd, b"hello world\n")
    os.close(fd)
    pause()
    os.rename(P("a.txt"), P("b.txt"))
    pause()
    os.unlink(P("b.txt"))
    pause()
    os.mkdir(P("sub"))
    pause()
    os.close(os.open(P("sub/c.log"), os.O_CREAT | os.O_EXCL | os.O_RDONLY, 0o600))
    pause()
    # Every case excludes <dir>/skip: none of this may show.
    os.mkdir(P("skip"))
    with open(P("skip/x.txt"), "w") as f:
        f.write("x")
    os.rename(P("skip/x.txt"), P("skip/y.txt"))
    os.unlink(P("skip/y.txt"))
    pause()
if "quick" in scenario:
    # The test stops the agent (SIGSTOP) while this runs, so the records of
    # one name wait in the kernel's queue and merge there.
    open(os.path.join(gate, "ready-quick"), "w").close()
    end = time.monotonic() + 10
    while not os.path.exists(os.path.join(gate, "go-quick")) and time.monotonic() < end:
        time.sleep(0.02)
    fd = os.open(P("q.tmp"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, b"12345")
    os.close(fd)
    os.rename(P("q.tmp"), P("q.dat"))
    fd = os.open(P("z.tmp"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, b"12345")
    os.close(fd)
    os.unlink(P("z.tmp"))
    open(os.path.join(gate, "quick-done"), "w").close()
    pause()
if "exec" in scenario:
    shutil.copy("/bin/true", P("tool"))
    pause()
    child = subprocess.Popen([P("tool")])
    info["child"] = child.pid
    child.wait()
    pause()
with open(out + ".tmp", "w") as f:
    json.dump(info, f)
os.rename(out + ".tmp", out)
end = time.monotonic() + 20
while not os.path.exists(release) and time.monotonic() < end:
    time.sleep(0.05)
PY

# The checker: the plugin's events (those with event.provider) from every
# events file of a data folder, oldest first, compared with what the actor
# did. "count" prints how many there are; "check" asserts them.
cat >"$T/check.py" <<'PY'
import glob, json, os, re, sys

def events(data, live=False):
    """live: the agent is running, so a file may be rotated away between
    listing and opening, and its last line may be half written."""
    files = glob.glob(os.path.join(data, "events.ndjson*"))
    def age(p):
        m = re.search(r"\.ndjson\.(\d+)$", p)
        return -int(m.group(1)) if m else 0
    out = []
    for p in sorted(files, key=age):
        try:
            with open(p) as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            if live:
                continue
            raise
        if lines and lines[-1] == "":
            lines.pop()
        elif live and lines:
            lines.pop()
        for line in lines:
            ev = json.loads(line)
            if "event.provider" in ev:
                out.append(ev)
    return out

cmd, data = sys.argv[1], sys.argv[2]
if cmd == "count":
    print(len(events(data, live=True)))
    sys.exit(0)
if cmd == "count_under":
    prefix = sys.argv[3].rstrip("/") + "/"
    print(sum(1 for e in events(data, live=True)
              if (e.get("file.path") or e.get("collector_file.original.path") or "").startswith(prefix)))
    sys.exit(0)

d, actor_json, mode = sys.argv[3], sys.argv[4], sys.argv[5]
scenario = sys.argv[6]
actor = json.load(open(actor_json))
P = lambda n: os.path.join(d, n)
ACT = {"creation": "creation", "modification": "change", "rename": "change",
       "deletion": "deletion", "execution": "access"}
want = []
if "slow" in scenario:
    want += [("creation", P("a.txt"), None), ("modification", P("a.txt"), None),
             ("rename", P("b.txt"), P("a.txt")), ("deletion", P("b.txt"), None),
             ("creation", P("sub"), None), ("creation", P("sub/c.log"), None)]
if "quick" in scenario:
    want += [("creation", P("q.tmp"), None), ("modification", P("q.tmp"), None),
             ("rename", P("q.dat"), P("q.tmp")),
             ("creation", P("z.tmp"), None), ("modification", P("z.tmp"), None),
             ("deletion", P("z.tmp"), None)]
if "exec" in scenario:
    want += [("creation", P("tool"), None), ("modification", P("tool"), None),
             ("execution", P("tool"), None)]

evs = events(data)
# Nothing from the agent's own data folder, whatever else went wrong.
own = [e for e in evs if (e.get("file.path") or "").startswith(data + "/") or
       (e.get("collector_file.original.path") or "").startswith(data + "/")]
assert not own, "events about the agent's own files: %s" % own[:3]
got = [(e["event.action"], e.get("file.path"), e.get("collector_file.original.path")) for e in evs]
assert got == want, "events differ:\n got  %s\n want %s" % ("\n      ".join(map(str, got)),
                                                            "\n      ".join(map(str, want)))
for e in evs:
    act = e["event.action"]
    assert e["event.category"] == ["file"], e
    assert e["event.type"] == [ACT[act]], e
    assert e["event.provider"] == mode, e
    path = e["file.path"]
    assert e["file.name"] == os.path.basename(path), e
    assert e["file.directory"] == os.path.dirname(path), e
    if mode == "fanotify":
        want_pid = actor["child"] if act == "execution" else actor["pid"]
        assert e.get("process.pid") == want_pid, ("pid", want_pid, e)
        if act != "execution":
            # The actor was alive when the agent read the record.
            assert e.get("process.executable") == actor["exe"], e
            assert e.get("process.name") == os.path.basename(actor["exe"]), e
    else:
        assert "process.pid" not in e, e
    if act == "rename":
        assert e["collector_file.original.name"] == os.path.basename(e["collector_file.original.path"]), e

if "slow" in scenario:
    byk = {(e["event.action"], e["file.path"]): e for e in evs}
    m = byk[("modification", P("a.txt"))]
    assert m["file.size"] == 12, m
    assert m["file.inode"] == str(actor["ino"]["a.txt"]), m
    assert m["file.mode"] == "0640", m
    assert m["file.uid"] == "0" and m["file.owner"] == "root" and m["file.gid"] == "0", m
    assert m["file.extension"] == "txt" and m["file.type"] == "file", m
    r = byk[("rename", P("b.txt"))]
    assert r["file.inode"] == str(actor["ino"]["a.txt"]), r
    assert r["collector_file.original.name"] == "a.txt" and r["file.name"] == "b.txt", r
    c = byk[("creation", P("sub"))]
    assert c["file.type"] == "dir" and c["file.mode"] == "0755", c
    dl = byk[("deletion", P("b.txt"))]
    assert "file.size" not in dl, dl
print("ok: %d events" % len(evs))
PY

# run_case NAME WATCHED DATA_DIR PLUGIN_CONFIG MODE SCENARIO EXPECTED_COUNT
run_case() {
    local name=$1 dir=$2 data=$3 pcfg=$4 mode=$5 scenario=$6 n=$7
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    rm -f "$T/release" "$T/$name.actor.json"
    write_cfg "$name" "$data" "$pcfg"
    start_agent "$name"
    file_has "$T/$name.err" "plugin file: $mode: watching 1 of 1 folders" ||
        fail "$name: not watching with $mode: $(grep 'plugin file' "$T/$name.err")"
    local gate=$T/$name.gate
    mkdir -p "$gate"
    "$PY" "$T/actor.py" "$dir" "$scenario" "$T/$name.actor.json" "$T/release" "$gate" &
    local actor=$!
    # The quick part runs while the agent is stopped: its records queue up.
    wait_for 20 "$name: the actor's slow part" test -f "$gate/ready-quick"
    kill -STOP "$WPID"
    touch "$gate/go-quick"
    wait_for 10 "$name: the actor's quick part" test -f "$gate/quick-done"
    kill -CONT "$WPID"
    wait_for 20 "$name: the actor" test -f "$T/$name.actor.json"
    wait_for 10 "$name: $n events" test_count "$T/$data" "$n"
    touch "$T/release"
    wait "$actor" || fail "$name: the actor failed"
    sleep 0.3 # time for anything unexpected to arrive
    stop_agent "$name"
    "$PY" "$T/check.py" check "$T/$data" "$dir" "$T/$name.actor.json" "$mode" "$scenario" ||
        fail "$name: wrong events"
}

test_count() { [ "$("$PY" "$T/check.py" count "$1")" -ge "$2" ]; }

# 1. fanotify, filesystem mark, the data folder inside the watched one.
run_case fan "$T/w1" w1/data '{"mode": "fanotify", "paths": ["'"$T"'/w1"], "exclude": ["'"$T"'/w1/skip"]}' \
    fanotify slow,quick,exec 15
grep -qF "(1 filesystem marks, 0 inode marks)" "$T/fan.err" || fail "fan: no filesystem mark"
# The agent did write, rotate and create in the watched folder while the
# plugin ran, and the plugin saw and dropped it.
[ -f "$T/w1/data/events.ndjson.1" ] || fail "fan: the events file never rotated"
self=$(counter fan self_excluded)
[ "${self:-0}" -gt 0 ] || fail "fan: self_excluded is '${self}'"
[ "$(counter fan events_published)" -eq 15 ] || fail "fan: events_published $(counter fan events_published)"
# z.tmp's create, write-close and delete waited in one merged record.
merged=$(counter fan records_merged)
[ "${merged:-0}" -gt 0 ] || fail "fan: no merged record (records_merged '${merged}')"
echo "fanotify: records_read $(counter fan records_read), events_published 15, self_excluded $self, records_merged $merged"

# 2. Control: with exclude_self off the agent's own rotation shows up.
mkdir -p "$T/w2"
# The agent then feeds on itself (each rotation's events fill the next
# file), so it keeps few files and stops as soon as that is seen.
write_cfg self "w2/data" '{"mode": "fanotify", "exclude_self": false, "paths": ["'"$T"'/w2"]}' 3
start_agent self
# Each poll adds a file (two events): the sink rotates only when a flush
# finds the file non-empty, so one burst of seeds might all fit in the first
# write and never rotate.
SEEDS=0
own_events() {
    SEEDS=$((SEEDS + 1))
    : >"$T/w2/seed$SEEDS"
    "$PY" "$T/check.py" count_under "$T/w2/data" "$T/w2/data" >"$T/own.count" 2>"$T/own.err" &&
        [ "$(cat "$T/own.count")" -gt 0 ]
}
wait_for 10 "events about the agent's own files" own_events
stop_agent self
"$PY" - "$T/w2/data" "$WPID" <<'PY' || fail "self: own events not attributed to the agent"
import glob, json, sys
data, apid = sys.argv[1], int(sys.argv[2])
own = [json.loads(l) for p in glob.glob(data + "/events.ndjson*") for l in open(p)]
own = [e for e in own if (e.get("file.path") or "").startswith(data + "/")]
assert own and all(e.get("process.pid") == apid for e in own), own[:3]
PY
[ "$(counter self self_excluded)" = 0 ] || fail "self: self_excluded $(counter self self_excluded)"

# 3. fanotify with inode marks on the folder tree.
run_case inode "$T/w3" data3 \
    '{"mode": "fanotify", "fanotify_marks": "inode", "paths": ["'"$T"'/w3"], "exclude": ["'"$T"'/w3/skip"]}' \
    fanotify slow,quick 12
grep -qE "\(0 filesystem marks, [1-9][0-9]* inode marks\)" "$T/inode.err" || fail "inode: no inode marks"
[ "$(counter inode records_merged)" -gt 0 ] || fail "inode: no merged record"

# 4. inotify: same changes, no process fields, no exec.
run_case ino "$T/w4" data4 '{"mode": "inotify", "paths": ["'"$T"'/w4"], "exclude": ["'"$T"'/w4/skip"]}' \
    inotify slow,quick 12
grep -qF "inotify: watching 1 of 1 folders (1 watches)" "$T/ino.err" || fail "ino: watch count"
# Only the creation of skip is seen and dropped: an excluded folder gets no
# watch, so nothing inside it reaches the plugin.
[ "$(counter ino path_excluded)" -eq 1 ] || fail "ino: path_excluded $(counter ino path_excluded)"
[ "$(counter inode path_excluded)" -eq 1 ] || fail "inode: path_excluded $(counter inode path_excluded)"

# 5. Queue overflow: with the agent stopped, 20000 renames to new names
# (records the kernel cannot merge) overflow the default 16384-record queue. Only exec
# events are asked for, so none of them is published.
mkdir -p "$T/w5"
: >"$T/w5/f0"
write_cfg ovf data5 '{"mode": "fanotify", "fanotify_marks": "filesystem", "events": ["exec"], "paths": ["'"$T"'/w5"]}'
start_agent ovf
kill -STOP "$WPID"
"$PY" - "$T/w5" <<'PY' || { kill -CONT "$WPID"; fail "ovf: renames"; }
import os, sys
# Each rename to a new name: the kernel merges identical records only.
for i in range(20000):
    os.rename(os.path.join(sys.argv[1], "f%d" % i), os.path.join(sys.argv[1], "f%d" % (i + 1)))
PY
kill -CONT "$WPID"
wait_for 15 "ovf: the overflow warning" file_has "$T/ovf.err" "fanotify queue overflowed"
stop_agent ovf
[ "$(counter ovf overflows)" -ge 1 ] || fail "ovf: overflows $(counter ovf overflows)"
[ "$(counter ovf events_published)" -eq 0 ] || fail "ovf: events_published $(counter ovf events_published)"
[ "$(counter ovf records_read)" -ge 16384 ] || fail "ovf: records_read $(counter ovf records_read)"

echo "ok"
