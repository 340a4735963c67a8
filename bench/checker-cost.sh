#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# The checkers' cost on free-running scenarios: each scenario runs N
# schedules on free threads with every checker on and with none, three
# times interleaved; the best time of each is kept.  A schedule includes
# building and tearing down its world, so this is the cost a scenario run
# sees, not a per-event figure.
#
# usage: bench/checker-cost.sh [KVMMU_BINARY] [SCHEDULES]
set -eu
kvmmu=${1:-build-release/kvmmu}
n=${2:-1000}

best() {
	# $1: scenario, $2: checkers; prints the best of three wall times in ms
	b=
	for _ in 1 2 3; do
		t0=$(date +%s%N)
		"$kvmmu" scenario "$1" --strategy free --schedules "$n" --check "$2" --quiet >/dev/null
		t1=$(date +%s%N)
		ms=$(( (t1 - t0) / 1000000 ))
		if [ -z "$b" ] || [ "$ms" -lt "$b" ]; then b=$ms; fi
	done
	echo "$b"
}

printf '| scenario | --check none | --check all | ratio |\n|---|---|---|---|\n'
for s in $("$kvmmu" list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["name"]) for s in json.load(sys.stdin)["scenarios"]]'); do
	none=$(best "$s" none)
	all=$(best "$s" all)
	printf '| %s | %d ms | %d ms | %s |\n' "$s" "$none" "$all" \
		"$(python3 -c "print(f'{$all / max($none, 1):.2f}')")"
done
