# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="unshare -m: mount -o ro of the root file system's disk on DIR/host in the test's folder, then umount"
AS_ROOT="mounting the disk needs CAP_SYS_ADMIN"
trigger() {
    local w dev
    w=$(work "$1")
    mkdir -p "$w/host"
    dev=$(findmnt -no SOURCE /)
    if [ -b "$dev" ] && unshare -m true 2>/dev/null; then
        # Read-only, in a private mount namespace: gone when it ends.
        held unshare -m --propagation private sh -c "mount -o ro $dev $w/host; umount $w/host"
    else
        # No disk device under / (a container) or no mount namespace of our
        # own: a do-nothing mount instead.
        held "$(fake "$1" mount)" -o ro /dev/sda1 "$w/host"
    fi
}
near_miss() {
    local w
    w=$(work "$1")
    mkdir -p "$w/host"
    held unshare -m --propagation private sh -c "mount -t tmpfs tmpfs $w/host; umount $w/host"
}
