#!/usr/bin/env bash
# Runs every libFuzzer binary of a fuzz build for a bounded time each.
#   tools/run-fuzzers.sh BUILD_DIR SECONDS [NAME...]
# BUILD_DIR is a build configured with -DRP_FUZZ=ON -DCMAKE_C_COMPILER=clang
# (`make fuzz` does that). Each BUILD_DIR/tests/fuzz/fuzz_<name> runs for
# SECONDS with the seed corpus tests/fuzz/corpus/<name>/ (read only); new
# inputs go to BUILD_DIR/fuzz-corpus/<name>/, crashes to
# BUILD_DIR/fuzz-artifacts/<name>/ and libFuzzer's output to
# BUILD_DIR/fuzz-logs/<name>.log. NAMEs (or FUZZ_TARGETS="a b") run only those
# targets. The fuzzers run one after the other: each is single-threaded, and
# running them together would only split the same cores.
#
# At the end a table gives, per target, the seconds it ran, the executions,
# libFuzzer's last coverage figures (cov: edges, ft: features, corp: inputs
# in the corpus) and the result, so a run can be quoted as it is. Exit 1 if
# any fuzzer found a problem; add the crashing input to the seed corpus once
# fixed so `make test` replays it.
set -euo pipefail

if [ $# -lt 2 ] || ! [[ $2 =~ ^[0-9]+$ ]] || [ "$2" -eq 0 ]; then
    echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
    exit 64
fi
build=$1
secs=$2
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
want=("$@")
if [ ${#want[@]} -eq 0 ] && [ -n "${FUZZ_TARGETS:-}" ]; then
    read -r -a want <<<"$FUZZ_TARGETS"
fi

mapfile -t fuzzers < <(find "$build/tests/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz_*' \
    ! -name '*_replay' 2>/dev/null | sort)
if [ ${#fuzzers[@]} -eq 0 ]; then
    echo "run-fuzzers: no fuzz_* binaries in $build/tests/fuzz (configure with -DRP_FUZZ=ON)" >&2
    exit 69
fi
if [ ${#want[@]} -ne 0 ]; then
    picked=()
    for name in "${want[@]}"; do
        if [ ! -x "$build/tests/fuzz/fuzz_$name" ]; then
            echo "run-fuzzers: no fuzzer $build/tests/fuzz/fuzz_$name" >&2
            exit 69
        fi
        picked+=("$build/tests/fuzz/fuzz_$name")
    done
    fuzzers=("${picked[@]}")
fi

failed=()
rows=()
mkdir -p "$build/fuzz-logs"
for bin in "${fuzzers[@]}"; do
    name=$(basename "$bin")
    name=${name#fuzz_}
    seeds=$src/tests/fuzz/corpus/$name
    work=$build/fuzz-corpus/$name
    artifacts=$build/fuzz-artifacts/$name
    log=$build/fuzz-logs/$name.log
    mkdir -p "$work" "$artifacts"
    corpora=("$work")
    [ -d "$seeds" ] && corpora+=("$seeds")
    echo "run-fuzzers: $name for ${secs}s (corpus ${corpora[*]}, log $log)" >&2
    rc=0
    start=$(date +%s)
    # -max_total_time bounds the run; timeout is the backstop if it hangs.
    timeout -k 10 $((secs + 60)) "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${corpora[@]}" >"$log" 2>&1 || rc=$?
    took=$(($(date +%s) - start))
    # The executions are libFuzzer's final stat; the coverage figures are
    # those of its last status line ("#N DONE cov: .. ft: .. corp: ..").
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc)"
        echo "run-fuzzers: $name FAILED (exit $rc); inputs in $artifacts/, output:" >&2
        grep -E 'ERROR|SUMMARY|Assertion|abort|==[0-9]+==' "$log" | head -n 20 >&2 || true
        failed+=("$name")
    fi
    echo "run-fuzzers: $name: ${took}s, ${execs:-?} execs, $last" >&2
    rows+=("$(printf '%-20s %5s %12s %7s %7s %14s  %s' "$name" "$took" "${execs:-?}" \
        "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done

{
    echo
    printf '%-20s %5s %12s %7s %7s %14s  %s\n' target secs execs cov ft corp result
    printf '%s\n' "${rows[@]}"
} >&2

if [ ${#failed[@]} -ne 0 ]; then
    echo "run-fuzzers: failures: ${failed[*]}" >&2
    exit 1
fi
echo "run-fuzzers: ${#fuzzers[@]} fuzzer(s) ran ${secs}s each, no failures" >&2
