# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="writes DIR/home/.ssh/authorized_keys in the test's folder"
trigger() {
    local d
    d=$(work "$1")/home/.ssh
    mkdir -p "$d"
    echo '# test' >"$d/authorized_keys"
}
near_miss() {
    local d
    d=$(work "$1")/home/.ssh
    mkdir -p "$d"
    echo '# test' >"$d/known_hosts"
}
