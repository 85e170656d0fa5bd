# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing insmod run on DIR/rootkit.ko in the test's /tmp folder"
trigger() {
    held "$(fake "$1" insmod)" "$(work "$1")/rootkit.ko"
}
near_miss() {
    held "$(fake "$1" modprobe)" -n dummy
}
