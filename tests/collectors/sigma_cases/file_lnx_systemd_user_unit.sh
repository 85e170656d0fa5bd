# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes DIR/home/.config/systemd/user/rp.service in the test's folder"
trigger() {
    local d
    d=$(work "$1")/home/.config/systemd/user
    mkdir -p "$d"
    echo '# test' >"$d/rp.service"
}
near_miss() {
    local d
    d=$(work "$1")/home/.config/systemd
    mkdir -p "$d"
    echo '# test' >"$d/rp.service"
}
