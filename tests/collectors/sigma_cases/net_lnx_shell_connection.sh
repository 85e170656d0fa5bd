# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a copy of bash connects to 127.0.0.1:PORT with exec 3<>/dev/tcp and waits 2 s on the socket"
trigger() {
    # shellcheck disable=SC2016 # $1 is the script's own argument
    held "$(copy_tool "$1" bash)" -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; read -r -t 2 -u 3 _; exit 0' _ "$LISTEN_PORT"
}
near_miss() {
    # A client that is not a shell holds the same kind of connection: curl,
    # or where curl is not installed a copy of python.
    if command -v curl >/dev/null; then
        held "$(copy_tool "$1" curl)" -s -m 2 "http://127.0.0.1:$LISTEN_PORT/" >/dev/null
    else
        held "$(copy_tool "$1" "$PY" python3)" -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(2)' "$LISTEN_PORT"
    fi
}
