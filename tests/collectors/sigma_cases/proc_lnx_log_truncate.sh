# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="truncate -c -s 0 /var/log/rampart-test-MARKER.log (the file does not exist; -c creates nothing)"
trigger() {
    held truncate -c -s 0 "/var/log/rampart-test-$1.log"
}
near_miss() {
    held truncate -c -s 0 "$(work "$1")/app.log"
}
