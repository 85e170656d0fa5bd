# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="touch -c -d '2020-01-01 00:00' /etc/rampart-test-MARKER (the file does not exist; -c creates nothing)"
trigger() {
    held touch -c -d '2020-01-01 00:00' "/etc/rampart-test-$1"
}
near_miss() {
    held touch -c -d '2020-01-01 00:00' "$(work "$1")/stamp"
}
