#!/usr/bin/env bash
# Runs every libFuzzer binary of a fuzz build for a bounded time each.
#   tools/run-fuzzers.sh BUILD_DIR SECONDS
# BUILD_DIR is a build configured with -DRP_FUZZ=ON -DCMAKE_C_COMPILER=clang
# (`make fuzz` does that). Each BUILD_DIR/tests/fuzz/fuzz_<name> runs for
# SECONDS with the seed corpus tests/fuzz/corpus/<name>/ (read only); new
# inputs go to BUILD_DIR/fuzz-corpus/<name>/ and crashes to
# BUILD_DIR/fuzz-artifacts/<name>/. Exit 1 if any fuzzer found a problem; add
# the crashing input to the seed corpus once fixed so `make test` replays it.
set -euo pipefail

if [ $# -ne 2 ] || ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -eq 0 ]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 64
fi
build=$1
secs=$2
src=$(cd "$(dirname "$0")/.." && pwd)

mapfile -t fuzzers < <(find "$build/tests/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz_*' \
    ! -name '*_replay' 2>/dev/null | sort)
if [ ${#fuzzers[@]} -eq 0 ]; then
    echo "run-fuzzers: no fuzz_* binaries in $build/tests/fuzz (configure with -DRP_FUZZ=ON)" >&2
    exit 69
fi

failed=()
for bin in "${fuzzers[@]}"; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    seeds=$src/tests/fuzz/corpus/$name
    work=$build/fuzz-corpus/$name
    artifacts=$build/fuzz-artifacts/$name
    mkdir -p "$work" "$artifacts"
    corpora=("$work")
    [ -d "$seeds" ] && corpora+=("$seeds")
    echo "run-fuzzers: $name for ${secs}s (corpus ${corpora[*]})" >&2
    rc=0
    # -max_total_time bounds the run; timeout is the backstop if it hangs.
    timeout -k 10 $((secs + 60)) "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${corpora[@]}" || rc=$?
    if [ "$rc" -ne 0 ]; then
        echo "run-fuzzers: $name FAILED (exit $rc); inputs in $artifacts/" >&2
        failed+=("$name")
    fi
done

if [ ${#failed[@]} -ne 0 ]; then
    echo "run-fuzzers: failures: ${failed[*]}" >&2
    exit 1
fi
echo "run-fuzzers: ${#fuzzers[@]} fuzzer(s) ran ${secs}s each, no failures" >&2
