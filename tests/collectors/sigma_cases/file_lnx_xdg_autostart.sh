# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes DIR/home/.config/autostart/rp.desktop in the test's folder"
trigger() {
    local d
    d=$(work "$1")/home/.config/autostart
    mkdir -p "$d"
    echo '# test' >"$d/rp.desktop"
}
near_miss() {
    local d
    d=$(work "$1")/home/.local/share/applications
    mkdir -p "$d"
    echo '# test' >"$d/rp.desktop"
}
