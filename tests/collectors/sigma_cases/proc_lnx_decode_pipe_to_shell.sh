# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="sh -c 'echo <base32 of \"echo hi\"> | base32 -d | sh' (runs echo hi)"
trigger() {
    local enc
    enc=$(printf 'echo hi\n' | base32 -w0)
    held sh -c "echo $enc | base32 -d | sh" "$1"
}
near_miss() {
    local enc
    enc=$(printf 'echo hi\n' | base32 -w0)
    held sh -c "echo $enc | base32 -d | wc -c" "$1"
}
