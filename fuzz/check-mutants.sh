#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Does fuzz_api_seq find what the mutants break?  For every mutant (kvmmu
# list), with KVMMU_FUZZ_INJECT=<mutant>: first each input of the committed
# corpus on its own, then, if none is a finding, libFuzzer from the corpus
# for BUDGET seconds.  One line per mutant: found by which corpus input or
# after how long fuzzing, and the finding's first line.  An input that is
# a finding without the mutant too is not counted: it is a finding of its
# own, kept in BUILD_DIR/check-mutants/ with the fuzzing's crash inputs.
#
# Usage: check-mutants.sh [BUILD_DIR [BUDGET_SECONDS [MUTANT...]]]
#        (defaults: build-fuzz, 600, every mutant)
# Exit status: 0 if at least 6 mutants were found, else 1.
set -u

build=${1:-build-fuzz}
budget=${2:-600}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")" && pwd)
fuzzer="$build/fuzz/fuzz_api_seq"
corpus="$src/corpus/fuzz_api_seq"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
keep="$build/check-mutants"
mkdir -p "$keep"

if [ ! -x "$fuzzer" ]; then
	echo "check-mutants.sh: no $fuzzer (make fuzz-build first)" >&2
	exit 2
fi
if [ $# -gt 0 ]; then
	mutants="$*"
else
	mutants=$("$build/kvmmu" list --json 2>/dev/null |
		python3 -c 'import json, sys; print(" ".join(m["name"] for m in json.load(sys.stdin)["mutants"]))')
fi

first_line() {
	grep -m1 -E '^api_seq: finding|ERROR: (AddressSanitizer|UndefinedBehavior|libFuzzer)|runtime error' "$1" |
		cut -c1-120
}

# A failed run counts only with a finding in its log (not, say, a kill).
failed_with_finding() {
	[ -n "$(first_line "$1")" ]
}

found=0
total=0
for m in $mutants; do
	total=$((total + 1))
	how=""
	start=$(date +%s)
	for input in "$corpus"/*; do
		if ! KVMMU_FUZZ_INJECT=$m "$fuzzer" -timeout=60 -rss_limit_mb=4096 "$input" \
			>"$tmp/log" 2>&1 && failed_with_finding "$tmp/log"; then
			how="corpus $(basename "$input") in $(($(date +%s) - start))s"
			break
		fi
	done
	if [ -z "$how" ] && [ "$budget" -gt 0 ]; then
		rm -rf "$tmp/work" && mkdir -p "$tmp/work"
		start=$(date +%s)
		if ! KVMMU_FUZZ_INJECT=$m "$fuzzer" "$tmp/work" "$corpus" -max_total_time="$budget" \
			-dict="$src/fuzz_api_seq.dict" -timeout=60 -rss_limit_mb=4096 \
			-artifact_prefix="$keep/$m-" >"$tmp/log" 2>&1 && failed_with_finding "$tmp/log"; then
			how="fuzzing for $(($(date +%s) - start))s"
			crash=$(ls -t "$keep/$m-"* 2>/dev/null | head -1)
			# The same input without the mutant: a finding there is no catch of the mutant's.
			if [ -n "$crash" ] && ! "$fuzzer" -timeout=60 -rss_limit_mb=4096 "$crash" \
				>"$tmp/plain" 2>&1 && failed_with_finding "$tmp/plain"; then
				printf '%-30s fuzzing found %s, a finding without the mutant too:\n' \
					"$m" "$crash"
				printf '%-30s   %s\n' "" "$(first_line "$tmp/plain")"
				how=""
				continue
			fi
		fi
	fi
	if [ -n "$how" ]; then
		found=$((found + 1))
		printf '%-30s found: %s\n%-30s   %s\n' "$m" "$how" "" "$(first_line "$tmp/log")"
	else
		printf '%-30s not found (corpus, then %ss of fuzzing)\n' "$m" "$budget"
	fi
done
echo "$found of $total mutants found"
[ "$found" -ge 6 ]
