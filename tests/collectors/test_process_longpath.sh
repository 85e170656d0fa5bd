#!/usr/bin/env bash
# collector_process reports a program whose path is longer than PATH_MAX
# (issue 10, item 12): an unprivileged user runs a binary under 18 nested
# folders of 250 characters. Its exec event must still come, with the
# executable's hash and inode (read through /proc/<pid>/exe as a descriptor),
# its arguments, and a flag saying why the path and working folder are not
# there; its exit says the same.
# Usage: bash test_process_longpath.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
# shellcheck source=tests/collectors/process_lib.sh
source "$(dirname "$0")/process_lib.sh"

make_user
start_agent '{"mode": "netlink"}'
cat >"$T/deep.sh" <<'EOF2'
# Builds the folders one step at a time (no path to them fits in PATH_MAX),
# then runs the program from there.
name=$(printf 'd%.0s' {1..250})
cd "$1" || exit 1
for _ in {1..18}; do mkdir "$name" && cd "$name" || exit 1; done
cp /bin/sleep ./prog || exit 1
stat -c %i ./prog >"$1/inode"
sha256sum ./prog | cut -d' ' -f1 >"$1/sha"
# env execs the relative path as it is (bash would make it absolute, too long).
exec /usr/bin/env ./prog 0.3
EOF2
as_user bash "$T/deep.sh" "$T/u" || fail "the deep program failed"
INODE=$(cat "$T/u/inode")
SHA=$(cat "$T/u/sha")
export INODE SHA
wait_for 20 "the exec of ./prog" file_has "$EVENTS" '"process.args":["./prog","0.3"]'
"$PY" - "$EVENTS" <<'PY' || fail "long path events"
import json, os, sys, time
env = os.environ
path = sys.argv[1]
def load():
    return [json.loads(l) for l in open(path)]
evs = load()
execs = [e for e in evs if e["event.action"] == "exec" and e.get("process.args") == ["./prog", "0.3"]]
assert len(execs) == 1, execs
x = execs[0]
want = {
    "collector_process.path_unresolved": True,
    "collector_process.incomplete_reason": "path_too_long",
    "event.outcome": "unknown",
    "process.args": ["./prog", "0.3"],
    "process.name": "prog",
    "collector_process.executable_inode": int(env["INODE"]),
    "user.id": env["TUID"],
    "process.hash.sha256": env["SHA"],
}
for k, v in want.items():
    assert x.get(k) == v, "exec %s: %r, expected %r\n%s" % (k, x.get(k), v, x)
assert set(x["rampart.incomplete"]) == {"process.executable", "process.working_directory"}, x
assert "process.executable" not in x, x
assert x.get("collector_process.executable_device"), x
pid = x["process.pid"]
for _ in range(100):
    exits = [e for e in load() if e["event.action"] == "exit" and e["process.pid"] == pid]
    if exits:
        break
    time.sleep(0.1)
assert len(exits) == 1, exits
y = exits[0]
assert y.get("process.exit_code") == 0, y
assert y.get("event.outcome") == "unknown", y
assert "process.executable" in y.get("rampart.incomplete", []), y
assert y.get("collector_process.incomplete_reason") == "path_too_long", y
assert "process.executable" not in y and y.get("process.entity_id") == x["process.entity_id"], y
print("long path: exec of pid %d with inode %s and hash, flagged path_unresolved" % (pid, env["INODE"]))
PY
stop_agent
echo "PASS"
