# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="bash DIR/LinEnum.sh (a script holding only ':')"
trigger() {
    local w
    w=$(work "$1")
    echo ':' >"$w/LinEnum.sh"
    held bash "$w/LinEnum.sh"
}
near_miss() {
    local w
    w=$(work "$1")
    echo ':' >"$w/enum-notes.sh"
    held bash "$w/enum-notes.sh"
}
