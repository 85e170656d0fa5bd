# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a copy of dash in the test's /tmp folder starts a do-nothing pkexec --version"
trigger() {
    local l p
    l=$(copy_tool "$1" dash launcher)
    p=$(fake "$1" pkexec)
    # "; true" keeps the shell from exec'ing pkexec in its own process.
    held "$l" -c "$p --version; true"
}
near_miss() {
    local p
    p=$(fake "$1" pkexec)
    held /bin/sh -c "$p --version; true"
}
