# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="unshare -UrmC: tries mount -t cgroup -o rdma on DIR/cg, writes 0 to DIR/cg/notify_on_release"
AS_ROOT="new user, mount and cgroup namespaces are not allowed to every user everywhere"
trigger() {
    local w
    w=$(work "$1")
    # CVE-2022-0492's first steps, in new user, mount and cgroup namespaces;
    # the mount is refused on a patched kernel, and 0 is the default value.
    held unshare -UrmC --propagation private sh -c "mkdir -p $w/cg; mount -t cgroup -o rdma cgroup $w/cg 2>/dev/null; echo 0 > $w/cg/notify_on_release 2>/dev/null; true"
}
near_miss() {
    local w
    w=$(work "$1")
    held unshare -UrmC --propagation private sh -c "cat /proc/self/cgroup > $w/cg.txt"
}
