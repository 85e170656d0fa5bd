# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'LD_PRELOAD=/tmp/.../libhook.so /bin/true' (the library does not exist: ld.so ignores it)"
trigger() {
    local w
    w=$(work "$1")
    held sh -c "LD_PRELOAD=$w/libhook.so /bin/true" 2>/dev/null
}
near_miss() {
    local w
    w=$(work "$1")
    held sh -c "LD_LIBRARY_PATH=$w /bin/true"
}
