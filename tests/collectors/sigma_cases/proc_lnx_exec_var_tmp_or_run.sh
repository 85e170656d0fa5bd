# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="runs a copy of true from a fresh folder under /var/tmp (removed afterwards)"
trigger() {
    local d
    d=$(var_tmp_dir "$1")
    cp /bin/true "$d/tool"
    held "$d/tool"
}
near_miss() {
    # The same program from the test's folder under /tmp.
    held "$(fake "$1" tool)"
}
