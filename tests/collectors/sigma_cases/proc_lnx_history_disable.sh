# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="bash -c 'set +o history; history -c'"
trigger() {
    held bash -c 'set +o history; history -c' "$1"
}
near_miss() {
    held bash -c 'history 1 >/dev/null' "$1"
}
