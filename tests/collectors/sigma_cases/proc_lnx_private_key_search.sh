# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="grep -rl 'BEGIN OPENSSH PRIVATE KEY' over the test's folder"
trigger() {
    held grep -rl "BEGIN OPENSSH PRIVATE KEY" "$(work "$1")"
}
near_miss() {
    held grep -rl "BEGIN CERTIFICATE" "$(work "$1")"
}
