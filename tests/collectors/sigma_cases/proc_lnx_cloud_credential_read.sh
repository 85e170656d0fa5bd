# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="cat of a dummy .aws/credentials in the test's folder"
trigger() {
    local w
    w=$(work "$1")
    mkdir -p "$w/.aws"
    echo '[default]' >"$w/.aws/credentials"
    held cat "$w/.aws/credentials" >/dev/null
}
near_miss() {
    # The owning CLI naming its credentials is not a generic tool.
    local w
    w=$(work "$1")
    held "$(fake "$1" kubectl)" --kubeconfig "$w/.kube/config" get pods
}
