# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="unshare -m chroot / /bin/true (a private mount namespace, root unchanged)"
AS_ROOT="a mount namespace of its own needs CAP_SYS_ADMIN"
trigger() {
    held unshare -m chroot / /bin/true "$1"
}
near_miss() {
    held unshare -m /bin/true "$1"
}
