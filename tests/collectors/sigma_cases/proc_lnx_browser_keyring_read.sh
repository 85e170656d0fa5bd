# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="cat of a dummy .mozilla/firefox/PROFILE/logins.json in the test's folder"
trigger() {
    local d
    d=$(work "$1")/.mozilla/firefox/abcd.default-release
    mkdir -p "$d"
    echo '{}' >"$d/logins.json"
    held cat "$d/logins.json" >/dev/null
}
near_miss() {
    local d
    d=$(work "$1")/.mozilla/firefox/abcd.default-release
    mkdir -p "$d"
    echo '//' >"$d/prefs.js"
    held cat "$d/prefs.js" >/dev/null
}
