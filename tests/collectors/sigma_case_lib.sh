# shellcheck shell=bash
# tests/collectors/sigma_case_lib.sh - helpers for the case files of
# test_sigma_ruleset.sh (tests/collectors/sigma_cases/<rule>.sh). Each case
# runs in a fresh bash, bounded by timeout, with:
#   CASE_ROOT    a folder under the test's $T where the case's files go
#   RESTORE_LIST a file listing what the case did outside $T, one
#                "file PATH", "dir PATH", "tree PATH" or "mtime PATH EPOCH"
#                a line, undone newest first by the runner (also on failure)
#   LISTEN_PORT  a TCP port on 127.0.0.1 where the runner's listener accepts
#                connections and holds each for a few seconds
#   PY           python3
# Cases must never change the machine other than through etc_file and
# var_tmp_dir, whose results the runner removes.

# work MARKER : a fresh folder named after the marker; prints its path.
work() {
    local d=$CASE_ROOT/$1
    mkdir -p "$d"
    printf '%s\n' "$d"
}

# fake MARKER NAME : a copy of /bin/true named NAME (may contain folders)
# in the marker's folder, so the kernel reports a real exec of a program
# with that name and path that does nothing; prints its path.
fake() {
    local p
    p=$(work "$1")/$2
    mkdir -p "$(dirname "$p")"
    cp /bin/true "$p"
    chmod 755 "$p"
    printf '%s\n' "$p"
}

# copy_tool MARKER PROGRAM [NAME] : a copy of a real program (cat, sleep,
# bash) in the marker's folder, so its path carries the marker; prints it.
copy_tool() {
    local src p
    src=$(command -v "$2")
    src=$(readlink -f "$src")
    p=$(work "$1")/${3:-$(basename "$2")}
    cp "$src" "$p"
    chmod 755 "$p"
    printf '%s\n' "$p"
}

# etc_file PATH [CONTENT] : creates PATH, which must not exist, with CONTENT
# (a harmless comment by default), creating missing parent folders; records
# the file and each folder it created in RESTORE_LIST before creating them,
# so the runner removes them even if the case dies half-way.
etc_file() {
    local path=$1 content=${2:-"# rampart sigma ruleset test: harmless, removed by the test"}
    if [ -e "$path" ] || [ -L "$path" ]; then
        echo "etc_file: $path exists" >&2
        return 1
    fi
    local dirs=() d
    d=$(dirname "$path")
    while [ ! -d "$d" ]; do
        dirs=("$d" "${dirs[@]}")
        d=$(dirname "$d")
    done
    for d in "${dirs[@]}"; do
        printf 'dir %s\n' "$d" >>"$RESTORE_LIST"
        mkdir -m 755 "$d"
    done
    printf 'file %s\n' "$path" >>"$RESTORE_LIST"
    printf '%s\n' "$content" >"$path"
}

# var_tmp_dir MARKER : a fresh folder under /var/tmp, removed by the
# runner; prints its path.
var_tmp_dir() {
    local d
    d=$(mktemp -d "/var/tmp/rampart-sigma-$1.XXXXXX")
    printf 'tree %s\n' "$d" >>"$RESTORE_LIST"
    printf '%s\n' "$d"
}
