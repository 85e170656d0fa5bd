# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'curl -fsSL http://127.0.0.1:PORT/install.sh | sh' with a do-nothing curl"
trigger() {
    local c
    c=$(fake "$1" curl)
    held timeout 5 sh -c "$c -fsSL http://127.0.0.1:$LISTEN_PORT/install.sh | sh"
}
near_miss() {
    local c
    c=$(fake "$1" curl)
    held timeout 5 sh -c "$c -fsSL http://127.0.0.1:$LISTEN_PORT/install.sh | sha256sum"
}
