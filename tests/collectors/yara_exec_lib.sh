# shellcheck shell=bash disable=SC2034 # the variables are for the scripts sourcing this
# tests/collectors/yara_exec_lib.sh - helpers for the exec-blocking tests of
# detector_yara (test_yara_exec.sh, and the exec_block benchmark's notes):
# running a program and telling how its exec ended, and pausing the plugin's
# scanning threads so that the exec guard holds an exec. Sourced after
# tests/cli/lib.sh, which provides $T, $PY, fail and wait_for.

# run_prog PATH [SECONDS] : forks, execs PATH and prints "CODE MS": CODE is
# the program's exit status, 101 when execve failed with EPERM, 102 with
# another error, "held" when it had not ended after SECONDS (default 10; it
# is then killed); MS is how long it took, from the fork, in milliseconds.
run_prog() {
    "$PY" - "$1" "${2:-10}" <<'PY'
import errno, os, sys, time
path, limit = sys.argv[1], float(sys.argv[2])
t0 = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execv(path, [path])
    except OSError as e:
        os._exit(101 if e.errno == errno.EPERM else 102)
while True:
    done, st = os.waitpid(pid, os.WNOHANG)
    ms = int((time.monotonic() - t0) * 1000)
    if done == pid:
        print(os.waitstatus_to_exitcode(st), ms)
        break
    if ms >= limit * 1000:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        print("held", ms)
        break
    time.sleep(0.002)
PY
}

# make_prog PATH TEXT : a copy of /bin/true with TEXT appended (an ELF runs
# with bytes after its last section), so each program is a file no verdict
# cache has seen, and a rule can match TEXT in it.
make_prog() {
    cp /bin/true "$1"
    printf '%s\n' "$2" >>"$1"
    chmod 755 "$1"
}

# pause_scanners AGENT_PID SECONDS : stops the detector's scanning threads
# with ptrace (PTRACE_SEIZE, PTRACE_INTERRUPT; the guard's own threads,
# yara-guard and yara-watchdog, and the agent's other threads run on) and
# keeps them stopped until the helper is killed or SECONDS pass; the kernel
# resumes them when the helper exits. The scanning threads are the agent's
# threads named yara-scan*, or, while the plugin leaves them unnamed, the
# ones at nice 10 (the plugin lowers its scanning threads to it). A thread
# is stopped only while it sleeps in the kernel, so none is caught holding
# the plugin's queue lock. Sets PAUSER (the helper's pid); waits until the
# threads are stopped, and fails when there are none.
pause_scanners() {
    rm -f "$T/pauser.out"
    "$PY" - "$1" "$2" >"$T/pauser.out" 2>&1 <<'PY' &
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
SEIZE, INTERRUPT, WALL = 0x4206, 0x4207, 0x40000000
pid, limit = int(sys.argv[1]), float(sys.argv[2])

def scanner(tid):
    base = "/proc/%d/task/%s/" % (pid, tid)
    comm = open(base + "comm").read().strip()
    if comm.startswith("yara-scan"):
        return True
    if comm.startswith("yara-"):
        return False
    stat = open(base + "stat").read()
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[16] == "10"   # nice, field 19 of /proc/PID/stat

def sleeping(tid):
    stat = open("/proc/%d/task/%s/stat" % (pid, tid)).read()
    return stat[stat.rindex(")") + 2] == "S"

tids = [t for t in os.listdir("/proc/%d/task" % pid) if scanner(t)]
if not tids:
    print("no scanning threads", flush=True)
    sys.exit(1)
for t in tids:
    until = time.monotonic() + 5
    while not sleeping(t) and time.monotonic() < until:
        time.sleep(0.001)
    if libc.ptrace(SEIZE, int(t), None, None) != 0 or \
            libc.ptrace(INTERRUPT, int(t), None, None) != 0:
        print("ptrace %s: errno %d" % (t, ctypes.get_errno()), flush=True)
        sys.exit(1)
    os.waitpid(int(t), WALL)
print("stopped %d" % len(tids), flush=True)
time.sleep(limit)
PY
    PAUSER=$!
    wait_for 10 "the scanning threads to stop" file_has "$T/pauser.out" "stopped"
}

# resume_scanners : ends the helper, which lets the threads run again.
resume_scanners() {
    if [ -n "${PAUSER:-}" ]; then
        kill -KILL "$PAUSER" 2>/dev/null || true
        wait "$PAUSER" 2>/dev/null || true
        PAUSER=
    fi
}
