#!/usr/bin/env bash
# Checks that C sources are formatted as .clang-format says, without changing
# them: clang-format --dry-run -Werror on each file.
#   tools/check-format.sh [--root DIR]          every tracked *.c and *.h of
#                                               core/ sdk/ plugins/ tools/ tests/
#   tools/check-format.sh [--root DIR] FILE...  only these files (paths as given,
#                                               or relative to the root)
#   tools/check-format.sh [--root DIR] --list   prints the files it would check
#                                               (`make format` formats these)
# Prints the name of each file that differs and exits 1 if any does; `make
# format` (or clang-format -i FILE) fixes them, and CHECK_FORMAT_VERBOSE=1
# shows clang-format's own messages (line, column, the replacement).
#
# Left out: tests/abi/frozen-1.0/, the 1.0 plugin header kept byte for byte
# as it shipped (the ABI tests compile plugins against it).
#
# Uses $CLANG_FORMAT (default clang-format; Debian 12: clang-format 14,
# installed by tools/deps.sh test). Styles differ between clang-format
# versions, so the tree is formatted with the same version that checks it.
# Without it the check says so and exits 77 (skipped), or 1 when
# RP_REQUIRE_ALL=1 (.ci/run: the CI machine must run everything).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
list_only=0
files=()
while [ $# -gt 0 ]; do
    case $1 in
    --root)
        [ $# -ge 2 ] || { echo "check-format: --root needs a folder" >&2; exit 64; }
        root=$(cd "$2" && pwd)
        shift 2
        ;;
    --list)
        list_only=1
        shift
        ;;
    -h | --help)
        sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    --)
        shift
        files+=("$@")
        break
        ;;
    -*)
        echo "check-format: unknown option $1 (see --help)" >&2
        exit 64
        ;;
    *)
        files+=("$1")
        shift
        ;;
    esac
done
cd "$root"

# The folders of the project's own C code, and what is not formatted.
dirs=(core sdk plugins tools tests)
excluded='^tests/abi/frozen-1\.0/'

if [ ${#files[@]} -eq 0 ]; then
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # Tracked files, plus new ones not yet added (not ignored ones).
        mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
            "${dirs[@]/%//*.c}" "${dirs[@]/%//*.h}" | grep -Ev "$excluded" | sort -u)
    else
        mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) \
            2>/dev/null | grep -Ev "$excluded" | sort)
    fi
    if [ ${#files[@]} -eq 0 ]; then
        echo "check-format: no C files under ${dirs[*]} in $root" >&2
        exit 1
    fi
fi

if [ "$list_only" = 1 ]; then
    printf '%s\n' "${files[@]}"
    exit 0
fi

cf=${CLANG_FORMAT:-clang-format}
if ! command -v "$cf" >/dev/null 2>&1; then
    if [ "${RP_REQUIRE_ALL:-}" = 1 ]; then
        echo "check-format: $cf not found, and RP_REQUIRE_ALL=1 makes that a failure" \
            "(apt-get install clang-format)" >&2
        exit 1
    fi
    echo "check-format: $cf not found; skipped (apt-get install clang-format)"
    exit 77
fi
if [ ! -f "$root/.clang-format" ]; then
    echo "check-format: no .clang-format in $root" >&2
    exit 1
fi

differ=()
for f in "${files[@]}"; do
    if [ ! -f "$f" ]; then
        echo "check-format: $f: no such file" >&2
        differ+=("$f")
        continue
    fi
    # --style=file finds .clang-format from the file's folder upwards; a
    # file outside the root is checked against the root's.
    if ! msg=$("$cf" --dry-run -Werror --ferror-limit=3 --style="file:$root/.clang-format" \
        "$f" 2>&1); then
        echo "$f"
        [ "${CHECK_FORMAT_VERBOSE:-}" = 1 ] && printf '%s\n' "$msg" >&2
        differ+=("$f")
    fi
done

if [ ${#differ[@]} -gt 0 ]; then
    echo "check-format: ${#differ[@]} of ${#files[@]} files are missing or not formatted" \
        "as .clang-format says (make format, or clang-format -i FILE)" >&2
    exit 1
fi
echo "check-format: ${#files[@]} files formatted as .clang-format says"
