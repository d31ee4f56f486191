#!/bin/bash
# Source rules that `make check` enforces on every tracked C/C++ file: no
# banned functions (unbounded copies, unchecked number parsing), a purpose
# comment at the top of each file, and generated files in sync.
set -u
cd "$(dirname "$0")/.."
. tests/lib/tap.sh
[[ "$BUILD" != build ]] && { tap_done; exit 0; } # source rules: once is enough
files=$(git ls-files '*.c' '*.h' '*.cc')
for fn in strcpy strcat sprintf vsprintf strtok strtok_r atoi atol atoll sscanf gets; do
	hits=$(grep -nE "(^|[^_a-zA-Z0-9])$fn[[:space:]]*\(" $files | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)')
	if [[ -z "$hits" ]]; then tap_ok "no $fn()"; else tap_nok "no $fn()" "$hits"; fi
done
missing=$(awk 'FNR == 1 && !/^(\/\*|\/\/)/ { print FILENAME }' $files)
if [[ -z "$missing" ]]; then tap_ok "every source file opens with a comment saying what it is for"; else tap_nok "every source file opens with a purpose comment" "$missing"; fi
# Formatting (.clang-format); generated files are exempt. One clang-format
# for all files: one a file was 540 processes, half of this test's time.
unformatted=$(clang-format --dry-run $(grep -v errors_gen <<<"$files") 2>&1 |
	grep -oE '^[^:]+:[0-9]+:[0-9]+: (warning|error)' | cut -d: -f1 | sort -u)
if [[ -z "$unformatted" ]]; then tap_ok "sources are formatted (make fmt)"; else tap_nok "sources are formatted (make fmt)" "$unformatted"; fi
tmp=$(mktemp -d)
if scripts/gen-errors "$tmp" && cmp -s "$tmp/common/errors_gen.h" common/errors_gen.h &&
	cmp -s "$tmp/common/errors_gen.c" common/errors_gen.c && cmp -s "$tmp/docs/errors.md" docs/errors.md; then
	tap_ok "errors_gen.[ch] and docs/errors.md match common/errors.tsv"
else
	tap_nok "generated error files match common/errors.tsv (run scripts/gen-errors)"
fi
rm -rf "$tmp"
tap_done
