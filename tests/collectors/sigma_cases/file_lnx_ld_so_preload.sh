# shellcheck shell=bash disable=SC2034 # DESC is read by test_sigma_ruleset.sh
DESC="a copy of touch touches /etc/ld.so.preload (created empty and removed, or only its time restored)"
AS_ROOT="it touches /etc/ld.so.preload"
trigger() {
    local t
    t=$(copy_tool "$1" touch)
    if [ -e /etc/ld.so.preload ]; then
        # touch changes no content; the runner puts the time back.
        printf 'mtime /etc/ld.so.preload %s\n' "$(stat -c %Y /etc/ld.so.preload)" >>"$RESTORE_LIST"
    else
        # An empty preload list loads nothing; the runner removes it.
        printf 'file /etc/ld.so.preload\n' >>"$RESTORE_LIST"
    fi
    held "$t" /etc/ld.so.preload
}
near_miss() {
    held "$(copy_tool "$1" touch)" "$(work "$1")/ld.so.preload"
}
