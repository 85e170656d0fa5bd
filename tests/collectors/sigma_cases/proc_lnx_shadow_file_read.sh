# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a copy of head runs head -c 0 /etc/shadow (reads nothing)"
trigger() {
    held "$(copy_tool "$1" head)" -c 0 /etc/shadow
}
near_miss() {
    held "$(copy_tool "$1" head)" -c 0 /etc/passwd
}
