# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="find DIR -perm /4000 over the test's folder"
trigger() {
    held find "$(work "$1")" -perm /4000
}
near_miss() {
    held find "$(work "$1")" -perm /0644
}
