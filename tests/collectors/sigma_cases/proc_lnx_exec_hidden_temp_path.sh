# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="runs a copy of true at /tmp/.../.cache/.x (hidden names in the test's /tmp folder)"
trigger() {
    held "$(fake "$1" .cache/.x)"
}
near_miss() {
    held "$(fake "$1" cache/x)"
}
