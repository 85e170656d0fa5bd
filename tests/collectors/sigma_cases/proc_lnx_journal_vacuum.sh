# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing journalctl run with --vacuum-time=1s"
trigger() {
    held "$(fake "$1" journalctl)" --vacuum-time=1s
}
near_miss() {
    held "$(fake "$1" journalctl)" --disk-usage
}
