# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="chmod u+s on an empty file in the test's folder"
trigger() {
    local w
    w=$(work "$1")
    touch "$w/helper"
    held chmod u+s "$w/helper"
}
near_miss() {
    local w
    w=$(work "$1")
    touch "$w/helper"
    held chmod u+x "$w/helper"
}
