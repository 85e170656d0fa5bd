# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'id; uname -a; cat /etc/passwd > /dev/null'"
trigger() {
    held sh -c 'id; uname -a; cat /etc/passwd > /dev/null' "$1"
}
near_miss() {
    held sh -c 'id -u > /dev/null' "$1"
}
