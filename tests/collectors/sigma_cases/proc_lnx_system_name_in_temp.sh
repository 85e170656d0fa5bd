# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="runs a copy of true named sshd from the test's folder under /tmp"
trigger() {
    held "$(fake "$1" sshd)"
}
near_miss() {
    held "$(fake "$1" sshd-keygen-helper)"
}
