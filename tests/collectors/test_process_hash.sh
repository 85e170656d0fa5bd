#!/usr/bin/env bash
# collector_process's executable hash names the file that ran, and costs an
# unprivileged user's tricks little (issue 10, item 11), on the real agent:
# 1. With both hash workers kept busy by large executables, a program is run
#    and at once overwritten with /bin/sleep's bytes (same size, same
#    inode): its exec event must not carry sleep's hash; the hash is of the
#    program, or discarded and flagged "changed". Meanwhile the hashing
#    thread runs at the lowest priority (nice 19).
# 2. A large, mostly sparse executable is not hashed: flagged "sparse".
# 3. A user's execs beyond hash_user_bytes_per_minute are not hashed:
#    flagged "budget"; a file over hash_max_bytes: flagged "size".
# Usage: bash test_process_hash.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
# shellcheck source=tests/collectors/process_lib.sh
source "$(dirname "$0")/process_lib.sh"

make_user
U=$T/u
# The programs are /bin/sleep, or built from it: each runs 0.2 s, long
# enough for the agent to read its /proc entry on this shared machine.
BASE=$(readlink -f /bin/sleep)
BASE_SHA=$(sha256sum "$BASE" | cut -d' ' -f1)
export BASE_SHA

# exec_of NAME : the exec event of the program $U/NAME as JSON (empty if none).
exec_of() {
    "$PY" - "$EVENTS" "$U/$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event.action"] == "exec" and e.get("process.executable") == sys.argv[2]:
        print(line.strip())
        break
PY
}
# done_with NAME : the exit of $U/NAME was written; a process's exit leaves
# only after its exec, which waits for its hash, so the exec is final.
done_with() {
    [ -f "$EVENTS" ] && grep -F "\"process.executable\":\"$U/$1\"" "$EVENTS" |
        grep -qF '"event.action":"exit"'
}

# ---- 1. the file changes after it ran ----------------------------------------------
# (max_pending: execs of other programs on this shared machine wait behind
# the busy workers too; they must not push the payload's event out early.)
start_agent '{"mode": "netlink", "hash_user_bytes_per_minute": 0, "hash_max_bytes": 1073741824,
              "max_pending": 262144}'
# Two large, real (not sparse) executables: /bin/sleep with 48 MiB after it.
for b in big1 big2; do
    as_user bash -c "cat '$BASE' && head -c 48M /dev/zero" >"$U/$b"
done
# The payload: sleep's bytes with the last one changed (section headers,
# unused when it runs), so overwriting it with sleep keeps size and inode.
"$PY" -c "import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[-1] ^= 0xff; open(sys.argv[2], 'wb').write(b)" \
    "$BASE" "$U/payload"
chown "$TUSER:" "$U/big1" "$U/big2" "$U/payload"
chmod 755 "$U/big1" "$U/big2" "$U/payload"
PAYLOAD_SHA=$(sha256sum "$U/payload" | cut -d' ' -f1)
export PAYLOAD_SHA
# The hashing threads run at nice 19 (field 19 of stat) while they hash the
# large files. On a quiet machine 96 MiB hash within the programs' own run
# time, so a sampler watches from before the first exec, every 5 ms, until
# it sees one (at most 30 s).
idle_thread() {
    local f rest
    for f in /proc/"$(worker_pid "$APID")"/task/*/stat; do
        rest=$(sed 's/.*) //' "$f" 2>/dev/null) || continue
        # shellcheck disable=SC2086 # fields, split on purpose
        set -- $rest
        [ "${17:-}" = 19 ] && return 0
    done
    return 1
}
(
    end=$((SECONDS + 30))
    while [ "$SECONDS" -lt "$end" ]; do
        idle_thread && { : >"$T/nice19.seen"; exit 0; }
        sleep 0.005
    done
) &
SAMPLER=$!
as_user bash -c "'$U/big1' 0.2; '$U/big2' 0.2; '$U/payload' 0.2; cat '$BASE' >'$U/payload'" ||
    fail "the attack script failed"
wait_for 30 "a hashing thread at nice 19" test -e "$T/nice19.seen"
wait "$SAMPLER" 2>/dev/null || true
wait_for 120 "the exec and exit of the payload" done_with payload
X=$(exec_of payload)
"$PY" - "$X" <<'PY' || fail "hash of a changed file"
import json, os, sys
env = os.environ
x = json.loads(sys.argv[1])
h, skip = x.get("process.hash.sha256"), x.get("collector_process.hash_skipped")
assert h != env["BASE_SHA"], "the payload's exec carries /bin/sleep's hash: %s" % x
assert h == env["PAYLOAD_SHA"] or (h is None and skip == "changed"), x
print("changed file: %s" % ("hash discarded, flagged changed" if h is None else "hash of the payload"))
PY
stop_agent

# ---- 2 and 3. sparse, budget, size ----------------------------------------------------
start_agent '{"mode": "netlink", "hash_user_bytes_per_minute": 8388608, "hash_max_bytes": 4194304}'
as_user bash -c "cp '$BASE' '$U/sparse' && truncate -s 3M '$U/sparse'"
# Real 3 MiB files, each different: two fit in 8 MiB, the third does not.
for i in 1 2 3; do
    as_user bash -c "(cat '$BASE' && head -c 3M /dev/zero && echo $i) >'$U/b$i'"
done
as_user bash -c "(cat '$BASE' && head -c 5M /dev/zero) >'$U/large'"
chmod 755 "$U/sparse" "$U/b1" "$U/b2" "$U/b3" "$U/large"
for f in sparse b1 b2 b3 large; do
    as_user "$U/$f" 0.2 || fail "$f did not run"
done
for f in sparse b1 b2 b3 large; do
    wait_for 60 "the exec and exit of $f" done_with "$f"
done
B1=$(sha256sum "$U/b1" | cut -d' ' -f1)
B2=$(sha256sum "$U/b2" | cut -d' ' -f1)
export B1 B2
"$PY" - "$(exec_of sparse)" "$(exec_of b1)" "$(exec_of b2)" "$(exec_of b3)" "$(exec_of large)" <<'PY' ||
import json, os, sys
env = os.environ
sparse, b1, b2, b3, large = (json.loads(a) for a in sys.argv[1:])
def skipped(x, why):
    assert "process.hash.sha256" not in x and x.get("collector_process.hash_skipped") == why, \
        "expected hash_skipped %s: %s" % (why, x)
skipped(sparse, "sparse")
assert b1.get("process.hash.sha256") == env["B1"], b1
assert b2.get("process.hash.sha256") == env["B2"], b2
skipped(b3, "budget")
skipped(large, "size")
print("sparse, budget and size: flagged, never hashed")
PY
    fail "hash limits"
stop_agent
echo "PASS"
