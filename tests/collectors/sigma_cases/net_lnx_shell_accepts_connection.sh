# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="python listens on 127.0.0.1, accepts a connection and execs a copy of bash holding it and the listener for 2 s"

# serve MARKER PROGRAM ARGS... : a listener on 127.0.0.1 that a child of
# it connects to (and holds the connection 3 s); the accepted socket becomes
# the standard input of PROGRAM, exec'd in the listener's process with the
# listener still open, so the collector sees an accept on a listening port
# held by PROGRAM.
serve() {
    local py
    py=$(work "$1")/serve.py
    shift
    cat >"$py" <<'PY'
import os, socket, sys, time
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(1)
if os.fork() == 0:
    c = socket.create_connection(l.getsockname())
    time.sleep(3)
    os._exit(0)
a, _ = l.accept()
os.dup2(a.fileno(), 0)
os.set_inheritable(l.fileno(), True)
os.execv(sys.argv[1], sys.argv[1:])
PY
    held "$PY" "$py" "$@"
}
trigger() {
    # shellcheck disable=SC2016 # the script of the copied bash
    serve "$1" "$(copy_tool "$1" bash)" -c 'read -r -t 2 _; exit 0'
}
near_miss() {
    serve "$1" "$(copy_tool "$1" sleep)" 2
}
