# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'ip addr > /dev/null; cat /etc/resolv.conf > /dev/null'"
trigger() {
    held sh -c 'ip addr > /dev/null; cat /etc/resolv.conf > /dev/null' "$1"
}
near_miss() {
    held sh -c 'ip addr show lo > /dev/null' "$1"
}
