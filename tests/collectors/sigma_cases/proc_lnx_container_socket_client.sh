# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="curl --unix-socket DIR/docker.sock http://localhost/containers/json (no such socket: curl fails)"
trigger() {
    held "$(tool_or_fake "$1" curl)" -s -m 2 --unix-socket "$(work "$1")/docker.sock" http://localhost/containers/json
}
near_miss() {
    held "$(tool_or_fake "$1" curl)" -s -m 2 --unix-socket "$(work "$1")/app.sock" http://localhost/status
}
