#!/usr/bin/env bash
# check_exports.sh LOADCHECK PLUGIN_DIR [EXTRA.so...]
# Every plugin exports exactly one dynamic symbol, rampart_plugin_entry_v1, and
# loads with RTLD_NOW in a process that is not the agent.
set -euo pipefail
loadcheck=$1
dir=$2
shift 2
plugins=("$dir"/*.so "$@")
fail=0
count=0
for so in "${plugins[@]}"; do
    [ -f "$so" ] || continue
    count=$((count + 1))
    # Defined (not UND) global or weak symbols of the dynamic table.
    syms=$(readelf --dyn-syms -W "$so" | awk '($5 == "GLOBAL" || $5 == "WEAK") && $7 != "UND" { print $8 }' | sed 's/@.*//' | sort -u)
    if [ "$syms" != "rampart_plugin_entry_v1" ]; then
        echo "FAIL $so exports: $(echo $syms)" >&2
        fail=1
        continue
    fi
    if ! "$loadcheck" "$so"; then
        echo "FAIL $so does not load on its own" >&2
        fail=1
    fi
done
if [ "$count" -lt 2 ]; then
    echo "FAIL: expected the project's plugins in $dir, found $count" >&2
    exit 1
fi
echo "checked $count plugins"
exit $fail
