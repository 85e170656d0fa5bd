#!/usr/bin/env bash
# check_fields_doc.sh FIELDS_DOC COMMITTED.md PLUGIN.so... - fails when the
# committed table of fields per collector (sdk/docs/fields.md) differs from
# what the collectors' declarations (descriptor provides) generate.
set -u
gen=${1:?usage: $0 FIELDS_DOC COMMITTED.md PLUGIN.so...}
committed=${2:?}
shift 2
out=$(mktemp /tmp/rp-fields-doc.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT
"$gen" "$out" "$@" || { echo "FAIL: $gen could not read the plugins' declarations"; exit 1; }
if ! diff -u "$committed" "$out"; then
    echo "FAIL: $committed differs from the collectors' provides declarations (diff above)."
    echo "Regenerate it with: cmake --build build --target fields-doc"
    exit 1
fi
echo "ok: $committed matches the declarations of $# plugins"
