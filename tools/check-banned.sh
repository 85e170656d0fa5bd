#!/usr/bin/env bash
# Fails when C sources call a banned function (DEVELOPERS.md): unbounded or
# unsafe string and number functions, shell and temp-name functions.
#   tools/check-banned.sh [--root DIR]
# Checks the .c and .h files under core/ sdk/ plugins/ tools/ tests/ of DIR
# (default: this checkout): the files git knows (tracked or new, not ignored)
# when DIR is a git work tree, else every such file. Comments and string or
# character literals are left out (found by their delimiters, so code lines
# that begin with `*` or follow a comment are checked). Prints file:line:text
# for each call and exits 1 if there is any; 0 otherwise.
set -euo pipefail
# Resolved before any cd: the C reader (strip-c.pl) lives beside this script.
tools=$(cd "$(dirname "$0")" && pwd)

root=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
    case $1 in
    --root)
        [ $# -ge 2 ] || { echo "usage: $0 [--root DIR]" >&2; exit 64; }
        root=$2
        shift 2
        ;;
    -h | --help)
        echo "usage: $0 [--root DIR]"
        exit 0
        ;;
    *)
        echo "usage: $0 [--root DIR]" >&2
        exit 64
        ;;
    esac
done
[ -d "$root" ] || { echo "check-banned: $root: not a folder" >&2; exit 66; }
cd "$root"

banned='strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|system|gets|tmpnam|mktemp'
dirs=(core sdk plugins tools tests)

files=()
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 &&
    [ "$(git rev-parse --show-toplevel)" = "$(pwd -P)" ]; then
    while IFS= read -r -d '' f; do
        [ -f "$f" ] && files+=("$f")
    done < <(git ls-files -z --cached --others --exclude-standard -- \
        "${dirs[@]/%//*.c}" "${dirs[@]/%//*.h}")
else
    for d in "${dirs[@]}"; do
        [ -d "$d" ] || continue
        while IFS= read -r -d '' f; do
            files+=("$f")
        done < <(find "$d" -type f \( -name '*.c' -o -name '*.h' \) -print0)
    done
fi

[ ${#files[@]} -gt 0 ] || { echo "check-banned: no C files under ${dirs[*]} in $root"; exit 0; }

# file:line:text of every call outside comments and string or character
# literals. A comment is found by its delimiters, not by a line's first
# character: a code line may begin with '*' (`*n = atoi(s);`) and code may
# follow a comment on its line. Line numbers stay those of the file.
# shellcheck disable=SC2016 # the perl program is in single quotes on purpose
hits=$(BANNED=$banned RP_TOOLS=$tools perl -ne '
    BEGIN { $re = qr/\b(?:$ENV{BANNED})\s*\(/; require "$ENV{RP_TOOLS}/strip-c.pl" }
    my $orig = $_;
    chomp $orig;
    my $code = rp_strip_c_line($_);
    print "$ARGV:$.:$orig\n" if $code =~ $re;
    if (eof) { close ARGV; rp_strip_c_reset() }
' -- "${files[@]}")
if [ -n "$hits" ]; then
    echo "$hits"
    echo "check-banned: $(printf '%s\n' "$hits" | wc -l) call(s) of banned functions ($banned);" \
        "use the bounded alternatives (snprintf, strtol, memcpy with a length, mkstemp...)" >&2
    exit 1
fi
echo "check-banned: ${#files[@]} files clean"
