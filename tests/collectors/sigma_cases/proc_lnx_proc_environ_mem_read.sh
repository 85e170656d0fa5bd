# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a copy of cat reads /proc/PID/environ of the case's own shell"
trigger() {
    held "$(copy_tool "$1" cat)" "/proc/$$/environ" >/dev/null
}
near_miss() {
    held "$(copy_tool "$1" cat)" "/proc/$$/status" >/dev/null
}
