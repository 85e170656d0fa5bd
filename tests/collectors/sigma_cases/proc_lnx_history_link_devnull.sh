# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="ln -sf /dev/null DIR/.bash_history in the test's folder"
trigger() {
    held ln -sf /dev/null "$(work "$1")/.bash_history"
}
near_miss() {
    held ln -sf /dev/null "$(work "$1")/output.log"
}
