# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing socat run with exec:'bash -li',pty,stderr,setsid tcp:127.0.0.1:PORT"
trigger() {
    held "$(fake "$1" socat)" "exec:bash -li,pty,stderr,setsid,sigint,sane" "tcp:127.0.0.1:$LISTEN_PORT"
}
near_miss() {
    held "$(fake "$1" socat)" "tcp-listen:8080,reuseaddr,fork" "tcp:127.0.0.1:$LISTEN_PORT"
}
