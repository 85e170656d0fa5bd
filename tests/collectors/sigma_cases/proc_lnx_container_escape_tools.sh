# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="runs a copy of true named amicontained"
trigger() {
    held "$(fake "$1" amicontained)"
}
near_miss() {
    held "$(fake "$1" kubectl-cdk)"
}
