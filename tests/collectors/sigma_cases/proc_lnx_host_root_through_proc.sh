# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="ls -d /proc/1/root DIR"
trigger() {
    held ls -d /proc/1/root "$(work "$1")"
}
near_miss() {
    held ls -d /proc/1/ns "$(work "$1")"
}
