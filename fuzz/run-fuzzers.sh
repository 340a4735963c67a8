#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# Run every libFuzzer target of a fuzz build from its committed corpus.
# Usage: run-fuzzers.sh BUILD_DIR time SECONDS   (make fuzz: each fuzzer SECONDS)
#        run-fuzzers.sh BUILD_DIR runs N         (make fuzz-ci: N executions each)
# New inputs go to BUILD_DIR/fuzz-corpus/<fuzzer> (the committed corpus is
# only read), crashes to BUILD_DIR/fuzz-artifacts/.  Exit status 1 if any
# fuzzer found something.
set -u

build=$1
mode=$2
amount=$3
src=$(cd "$(dirname "$0")" && pwd)

case $mode in
time) limit="-max_total_time=$amount" ;;
runs) limit="-runs=$amount" ;;
*) echo "run-fuzzers.sh: mode is 'time' or 'runs', not '$mode'" >&2; exit 2 ;;
esac

mkdir -p "$build/fuzz-artifacts"
status=0
for fuzzer in fuzz_api_seq fuzz_mutant_parse; do
	work="$build/fuzz-corpus/$fuzzer"
	mkdir -p "$work"
	dict=""
	[ -f "$src/$fuzzer.dict" ] && dict="-dict=$src/$fuzzer.dict"
	echo "fuzz: $fuzzer ($mode $amount)"
	# shellcheck disable=SC2086
	if ! "$build/fuzz/$fuzzer" "$work" "$src/corpus/$fuzzer" $limit $dict \
		-timeout=60 -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$build/fuzz-artifacts/$fuzzer-" \
		>"$build/fuzz-artifacts/$fuzzer.log" 2>&1; then
		echo "fuzz: $fuzzer found something: see $build/fuzz-artifacts/$fuzzer.log" >&2
		grep -E '^(api_seq:|SUMMARY|==[0-9]+==ERROR)' "$build/fuzz-artifacts/$fuzzer.log" | head -5 >&2
		status=1
	else
		grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' \
			"$build/fuzz-artifacts/$fuzzer.log" | sed 's/^/  /'
	fi
done
exit $status
