# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a do-nothing docker run with --rm -v /:/host alpine chroot /host sh"
trigger() {
    held "$(fake "$1" docker)" run --rm -v /:/host alpine chroot /host sh
}
near_miss() {
    local w
    w=$(work "$1")
    held "$(fake "$1" docker)" run --rm -v "$w/data:/data" alpine ls /data
}
