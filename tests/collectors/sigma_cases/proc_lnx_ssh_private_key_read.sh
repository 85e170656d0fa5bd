# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="cat of a dummy ~/.ssh/id_ed25519 in the test's folder"
trigger() {
    local w
    w=$(work "$1")
    mkdir -p "$w/.ssh"
    echo dummy >"$w/.ssh/id_ed25519"
    held cat "$w/.ssh/id_ed25519" >/dev/null
}
near_miss() {
    local w
    w=$(work "$1")
    mkdir -p "$w/.ssh"
    echo dummy >"$w/.ssh/id_ed25519.pub"
    held cat "$w/.ssh/id_ed25519.pub" >/dev/null
}
