#!/usr/bin/env bash
# collector_process keeps each process's identity under attack by an
# unprivileged user (issue 10, item 10), on the real proc connector:
# 1. A program that re-execs at once (/usr/bin/true), run many times while
#    other processes of the user spawn in a loop: every exec event carries its
#    own image (executable with its own arguments) or says it is incomplete;
#    never a later image's, and no exit names the parent's program.
# 2. A child whose exec the kernel dropped (receive buffer overrun while the
#    agent is stopped): its exit must not claim its parent's executable; it
#    says the image is unknown.
# 3. A process whose main thread exits first while a second thread goes on
#    and spawns a child: one exit, when the last thread ends, with its code.
# Usage: bash test_process_identity.sh RAMPARTD RAMPARTCTL VERSION PLUGIN_DIR
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/../cli/lib.sh"
# shellcheck source=tests/collectors/process_lib.sh
source "$(dirname "$0")/process_lib.sh"

make_user
TRUE=$(readlink -f /usr/bin/true)
export TRUE

# ---- 1. re-exec under load -----------------------------------------------------
start_agent '{"mode": "netlink"}'
UNIQ=$T/rp-reexec-$RANDOM$RANDOM
cp /bin/dash "$UNIQ"
chmod 755 "$UNIQ"
RUNS=60
LOAD=60
cat >"$T/runner.sh" <<EOF
echo \$\$ >"$T/u/runner.pid"
for ((i = 1; i <= $RUNS; i++)); do
    "$UNIQ" -c 'exec /usr/bin/true' "rp-reexec-\$i"
done
EOF
cat >"$T/load.sh" <<EOF
end=\$((SECONDS + 30))
while [ ! -e "$T/u/stop" ] && [ \$SECONDS -lt \$end ]; do /bin/true; done
EOF
for _ in $(seq 1 "$LOAD"); do
    as_user bash "$T/load.sh" &
    USER_PIDS+=("$!")
done
sleep 0.5
as_user bash "$T/runner.sh" || fail "the runner failed"
touch "$T/u/stop"
for pid in "${USER_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
USER_PIDS=()
RUNNER=$(cat "$T/u/runner.pid")
export UNIQ RUNNER RUNS
wait_for 30 "the exits of the $RUNS runs" events_match \
    'ev["event.action"] == "exit" and ev.get("process.parent.pid") == int(env["RUNNER"])' "$RUNS"
"$PY" - "$EVENTS" <<'PY' || fail "re-exec identity"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
runner, uniq, true = int(env["RUNNER"]), env["UNIQ"], env["TRUE"]
kids = sorted({e["process.pid"] for e in evs
               if e["event.action"] == "exit" and e.get("process.parent.pid") == runner})
assert len(kids) == int(env["RUNS"]), "expected %s runs, found %d" % (env["RUNS"], len(kids))

def incomplete(e):
    """An event that says what it lacks, and carries none of it."""
    return (e.get("event.outcome") == "unknown"
            and e.get("collector_process.incomplete_reason")
            and "process.executable" in e.get("rampart.incomplete", [])
            and "process.executable" not in e and "process.args" not in e)

bad, flagged = [], 0
for pid in kids:
    execs = sorted((e for e in evs if e["event.action"] == "exec" and e["process.pid"] == pid),
                   key=lambda e: e["@timestamp"])
    exits = [e for e in evs if e["event.action"] == "exit" and e["process.pid"] == pid]
    if len(execs) != 2 or len(exits) != 1:
        bad.append("pid %d: %d execs, %d exits" % (pid, len(execs), len(exits)))
        continue
    first, second = execs
    i = first.get("process.args", [None] * 4)[-1]
    if incomplete(first):
        flagged += 1
    elif not (first.get("process.executable") == uniq and first.get("process.args") ==
              [uniq, "-c", "exec /usr/bin/true", i] and str(i).startswith("rp-reexec-")):
        bad.append("pid %d: first exec is not its own image: %s %s"
                   % (pid, first.get("process.executable"), first.get("process.args")))
    if not incomplete(second) and not (second.get("process.executable") == true and
                                       second.get("process.args") == ["/usr/bin/true"]):
        bad.append("pid %d: second exec: %s %s" % (pid, second.get("process.executable"),
                                                    second.get("process.args")))
    x = exits[0]
    if not incomplete(x) and x.get("process.executable") != true:
        bad.append("pid %d: exit names %s" % (pid, x.get("process.executable")))
assert not bad, "%d of %d runs misreported:\n%s" % (len(bad), len(kids), "\n".join(bad[:20]))
print("re-exec: %d runs, each exec its own image; %d first execs flagged incomplete"
      % (len(kids), flagged))
PY
stop_agent

# ---- 2. an exec lost in an overrun ---------------------------------------------------
start_agent '{"mode": "netlink", "rcvbuf_bytes": 65536}'
LOST=$T/rp-lost-$RANDOM$RANDOM
cp /bin/true "$LOST"
chmod 755 "$LOST"
cat >"$T/lost.sh" <<EOF
# The child is forked while the agent still reads (its fork event arrives),
# then waits for the flood before it execs, so that its exec is dropped.
( echo \$BASHPID >"$T/u/child.pid"; while [ ! -e "$T/u/go" ]; do sleep 0.05; done; exec "$LOST" ) &
child=\$!
while [ ! -e "$T/u/flooded" ]; do sleep 0.05; done
touch "$T/u/go"
wait \$child
EOF
as_user bash "$T/lost.sh" &
USER_PIDS+=("$!")
wait_for 10 "the child to start" test -s "$T/u/child.pid"
# Let the agent read the child's fork, then stop it and flood its buffer.
sleep 0.5
kill -STOP "$(worker_pid "$APID")"
for _ in $(seq 1 600); do as_user /bin/true; done
touch "$T/u/flooded"
wait "${USER_PIDS[0]}" || fail "the overrun script failed"
USER_PIDS=()
kill -CONT "$(worker_pid "$APID")"
CHILD=$(cat "$T/u/child.pid")
LOSTPARENT=$(readlink -f /bin/bash)
export CHILD LOSTPARENT
wait_for 20 "the rescan" file_has agent.err "rescanned /proc to resynchronise"
wait_for 20 "the exit of pid $CHILD" events_match \
    'ev["event.action"] == "exit" and ev["process.pid"] == int(env["CHILD"])' 1
"$PY" - "$EVENTS" <<'PY' || fail "exit after a lost exec"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
pid = int(env["CHILD"])
execs = [e for e in evs if e["event.action"] == "exec" and e["process.pid"] == pid]
exits = [e for e in evs if e["event.action"] == "exit" and e["process.pid"] == pid]
assert len(exits) == 1, exits
x = exits[0]
# The test only works if the exec really was lost.
assert not execs, "the exec was not lost; the overrun did not happen as planned: %s" % execs
assert x.get("process.executable") != env["LOSTPARENT"], \
    "the exit names the parent's executable: %s" % x
assert "process.executable" not in x and "process.name" not in x and "process.args" not in x, x
assert x.get("event.outcome") == "unknown", x
assert x.get("collector_process.incomplete_reason") == "events_lost", x
assert "process.executable" in x.get("rampart.incomplete", []), x
print("lost exec: exit of pid %d says its image is unknown" % pid)
PY
stop_agent

# ---- 3. the main thread exits first --------------------------------------------------
cat >"$T/u/thr.c" <<'EOF'
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static const char *child_prog;
static void *second(void *arg)
{
    (void)arg;
    usleep(900000); /* the main thread is gone by now */
    pid_t c = fork();
    if (c == 0) {
        execl(child_prog, child_prog, "0.2", (char *)NULL); /* lives long enough to be read */
        _exit(127);
    }
    waitpid(c, NULL, 0);
    usleep(200000);
    exit(5);
}
int main(int argc, char **argv)
{
    pthread_t t;
    if (argc < 2)
        return 2;
    child_prog = argv[1];
    if (pthread_create(&t, NULL, second, NULL) != 0)
        return 3;
    /* The collector reads /proc/PID/exe after the exec event, which fails
     * once the main thread is gone: give it that time even on a loaded
     * machine, then leave the process to its second thread. */
    usleep(500000);
    pthread_exit(NULL);
}
EOF
THR=$T/rp-thr-$RANDOM$RANDOM
cc -O1 -pthread -o "$THR" "$T/u/thr.c" || fail "cannot compile the thread program"
TCHILD=$T/rp-tchild-$RANDOM$RANDOM
cp /bin/sleep "$TCHILD"
chmod 755 "$THR" "$TCHILD"
start_agent '{"mode": "netlink"}'
rc=0
as_user "$THR" "$TCHILD" || rc=$?
[ "$rc" -eq 5 ] || fail "the thread program exited with $rc, not 5"
export THR TCHILD
wait_for 20 "the exit of $THR" events_match \
    'ev["event.action"] == "exit" and ev.get("process.executable") == env["THR"]' 1
# The exit is published when it happens; give a wrong second one time to show.
sleep 1
"$PY" - "$EVENTS" <<'PY' || fail "exit of a process whose main thread ended first"
import json, os, sys
env = os.environ
evs = [json.loads(l) for l in open(sys.argv[1])]
execs = [e for e in evs if e["event.action"] == "exec" and e.get("process.executable") == env["THR"]]
assert len(execs) == 1, execs
pid = execs[0]["process.pid"]
exits = [e for e in evs if e["event.action"] == "exit" and e["process.pid"] == pid]
kids = [e for e in evs if e["event.action"] == "exec" and e.get("process.executable") == env["TCHILD"]]
assert len(kids) == 1, kids
k = kids[0]
assert k["process.parent.pid"] == pid and k["process.parent.executable"] == env["THR"], k
assert k["process.parent.entity_id"] == execs[0]["process.entity_id"], k
assert len(exits) == 1, "expected one exit of pid %d, got %d" % (pid, len(exits))
x = exits[0]
assert x["@timestamp"] > k["@timestamp"], \
    "the process was reported gone before its second thread spawned a child: %s" % x
assert x.get("process.exit_code") == 5, "exit code %r, expected 5" % x.get("process.exit_code")
assert x["process.entity_id"] == execs[0]["process.entity_id"], x
print("threads: pid %d exited with its last thread (code 5), after its child's exec" % pid)
PY
stop_agent
echo "PASS"
