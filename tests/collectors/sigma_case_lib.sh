# shellcheck shell=bash
# tests/collectors/sigma_case_lib.sh - helpers for the case files of
# test_sigma_ruleset.sh (tests/collectors/sigma_cases/<rule>.sh). Each case
# runs in a fresh bash, bounded by timeout, with:
#   CASE_ROOT    a folder under the test's $T where the case's files go
#   RESTORE_LIST a file listing what the case did outside $T, one
#                "file PATH", "dir PATH", "tree PATH" or "mtime PATH EPOCH"
#                a line, undone newest first by the runner (also on failure)
#   LISTEN_PORT  a TCP port on 127.0.0.1 where the runner's listener accepts
#                connections and holds each for a few seconds
#   PY           python3
# Cases must never change the machine other than through etc_file and
# var_tmp_dir, whose results the runner removes.

# work MARKER : a fresh folder named after the marker; prints its path.
work() {
    local d=$CASE_ROOT/$1
    mkdir -p "$d"
    printf '%s\n' "$d"
}

# fake MARKER NAME : a copy of /bin/true named NAME (may contain folders)
# in the marker's folder, so the kernel reports a real exec of a program
# with that name and path that does nothing; prints its path.
fake() {
    local p
    p=$(work "$1")/$2
    mkdir -p "$(dirname "$p")"
    cp /bin/true "$p"
    chmod 755 "$p"
    printf '%s\n' "$p"
}

# copy_tool MARKER PROGRAM [NAME] : a copy of a real program (cat, sleep,
# bash) in the marker's folder, so its path carries the marker; prints it.
copy_tool() {
    local src p
    src=$(command -v "$2")
    src=$(readlink -f "$src")
    p=$(work "$1")/${3:-$(basename "$2")}
    cp "$src" "$p"
    chmod 755 "$p"
    printf '%s\n' "$p"
}

# tool_or_fake MARKER NAME : the installed program NAME, or a do-nothing
# one by that name (fake) where it is not installed (setcap, curl are not
# everywhere); prints its path. The rules look at the name and arguments.
tool_or_fake() {
    command -v "$2" || fake "$1" "$2"
}

# etc_file PATH [CONTENT] : creates PATH, which must not exist, with CONTENT
# (a harmless comment by default), creating missing parent folders; records
# the file and each folder it created in RESTORE_LIST before creating them,
# so the runner removes them even if the case dies half-way.
etc_file() {
    local path=$1 content=${2:-"# rampart sigma ruleset test: harmless, removed by the test"}
    if [ -e "$path" ] || [ -L "$path" ]; then
        echo "etc_file: $path exists" >&2
        return 1
    fi
    local dirs=() d
    d=$(dirname "$path")
    while [ ! -d "$d" ]; do
        dirs=("$d" "${dirs[@]}")
        d=$(dirname "$d")
    done
    for d in "${dirs[@]}"; do
        printf 'dir %s\n' "$d" >>"$RESTORE_LIST"
        mkdir -m 755 "$d"
    done
    printf 'file %s\n' "$path" >>"$RESTORE_LIST"
    printf '%s\n' "$content" >"$path"
}

# var_tmp_dir MARKER : a fresh folder under /var/tmp, removed by the
# runner; prints its path.
var_tmp_dir() {
    local d
    d=$(mktemp -d "/var/tmp/rampart-sigma-$1.XXXXXX")
    printf 'tree %s\n' "$d" >>"$RESTORE_LIST"
    printf '%s\n' "$d"
}

# held CMD... : runs CMD with every program it and its descendants run
# paused for 100 ms right after each execve and again when it exits
# (ptrace, as strace does), and returns CMD's exit status. The collectors read
# a program's path, arguments and working folder from /proc when the kernel
# reports its exec or its file change; a do-nothing program can be gone by
# then on a loaded machine, and its event then lacks them (and no rule on
# Image or CommandLine can match it). The pauses only delay the programs:
# what they do and what the kernel reports are unchanged. The command goes to
# the tracer in a file, so that the tracer's own command line names nothing
# a rule looks for.
held() {
    local args
    [ -f "$CASE_ROOT/held.py" ] || printf '%s' "$HELD_PY" >"$CASE_ROOT/held.py"
    args=$(mktemp "$CASE_ROOT/held-args.XXXXXX")
    printf '%s\0' "$@" >"$args"
    "$PY" "$CASE_ROOT/held.py" "$args"
}
HELD_PY='
import ctypes, os, signal, sys, time
with open(sys.argv[1], "rb") as f:
    argv = [a.decode() for a in f.read().split(b"\0")[:-1]]
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
TRACEME, CONT, SETOPTIONS = 0, 7, 0x4200
# TRACEFORK, TRACEVFORK, TRACECLONE, TRACEEXEC, TRACEEXIT, EXITKILL
OPTIONS = 0x2 | 0x4 | 0x8 | 0x10 | 0x40 | 0x100000
EVENT_EXEC, EVENT_EXIT = 4, 6
pid = os.fork()
if pid == 0:
    libc.ptrace(TRACEME, 0, None, None)
    os.kill(os.getpid(), signal.SIGSTOP)
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
os.waitpid(pid, 0)
libc.ptrace(SETOPTIONS, pid, None, OPTIONS)
libc.ptrace(CONT, pid, None, None)
live, rc = {pid}, 1
deadline = time.time() + 15
while live and time.time() < deadline:
    try:
        p, st = os.waitpid(-1, 0x40000000)  # __WALL: threads and clones too
    except ChildProcessError:
        break
    if os.WIFEXITED(st) or os.WIFSIGNALED(st):
        live.discard(p)
        if p == pid:
            rc = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
        continue
    live.add(p)
    sig, event = os.WSTOPSIG(st), st >> 16
    if event in (EVENT_EXEC, EVENT_EXIT):
        time.sleep(0.1)
        sig = 0
    elif event or sig in (signal.SIGTRAP, signal.SIGSTOP):
        # fork and clone events, and the first stop of a new child.
        sig = 0
    libc.ptrace(CONT, p, None, ctypes.c_void_p(sig))
sys.exit(rc)
'
