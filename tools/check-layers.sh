#!/usr/bin/env bash
# Checks that includes inside core/ run one way only (core/README.md):
#
#   top (core/*.c: agent, main, config)  ->  output  ->  runtime  ->  lib  ->  os
#
# A file may include headers of its own room and of the rooms to its right,
# never of a room to its left. The output pipeline encodes the runtime's
# events, so output may include runtime; the runtime never includes output.
# The platform layer (core/os/) includes nothing of the core at all.
#
# Usage: check-layers.sh [--root DIR]. Prints one line per wrong include
# ("core/os/unix/x.c:4: os includes lib/log.h") and exits 1 if there is one.
set -euo pipefail

root=.
if [ "${1:-}" = --root ]; then
    root=$2
fi
cd "$root"

rank_of_path() {
    case "$1" in
        core/os/*) echo 0 ;;
        core/lib/*) echo 1 ;;
        core/runtime/*) echo 2 ;;
        core/output/*) echo 3 ;;
        core/*) echo 4 ;;
        *) echo -1 ;;
    esac
}
room_name=(os lib runtime output top)

# Includes still waiting for their fix, as "file:header". Keep this empty.
pending=()

bad=0
while IFS= read -r file; do
    own=$(rank_of_path "$file")
    lineno=0
    while IFS= read -r line; do
        lineno=$((lineno + 1))
        [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
        inc=${BASH_REMATCH[1]}
        # Resolve the quoted include as the compiler does: beside the file
        # first, then from core/ (the include folder of every core target).
        # Anything else (generated version.h, the SDK) is below every room.
        if [ -f "$(dirname "$file")/$inc" ]; then
            target=$(realpath --relative-to=. "$(dirname "$file")/$inc")
        elif [ -f "core/$inc" ]; then
            target="core/$inc"
        else
            continue
        fi
        theirs=$(rank_of_path "$target")
        [ "$theirs" -ge 0 ] || continue
        if [[ " ${pending[*]} " == *" $file:$inc "* ]]; then
            echo "$file:$lineno: pending: ${room_name[$own]} includes ${target#core/}" >&2
            continue
        fi
        if [ "$theirs" -gt "$own" ] || { [ "$own" -eq 0 ] && [ "$theirs" -ne 0 ]; }; then
            echo "$file:$lineno: ${room_name[$own]} includes ${target#core/}" \
                "(${room_name[$theirs]}); includes run top -> output -> runtime -> lib -> os"
            bad=1
        fi
    done <"$file"
done < <(find core -name '*.[ch]' | LC_ALL=C sort)

exit $bad
