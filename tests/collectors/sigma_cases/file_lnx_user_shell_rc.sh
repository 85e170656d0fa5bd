# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes DIR/home/.bashrc in the test's folder"
trigger() {
    local d
    d=$(work "$1")/home
    mkdir -p "$d"
    echo '# test' >"$d/.bashrc"
}
near_miss() {
    local d
    d=$(work "$1")/home
    mkdir -p "$d"
    echo '# test' >"$d/.bashrc.bak"
}
