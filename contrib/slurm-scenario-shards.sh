#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# A scenario's schedules as a Slurm job array: task I runs shard I of N.
# Submit from the top of the tree, with kvmmu built (make):
#
#   mkdir -p results
#   sbatch --array=0-7 contrib/slurm-scenario-shards.sh notifier-vs-fast-zap 1000000
#   # when every task is done:
#   build/kvmmu merge results/notifier-vs-fast-zap-*.json --json=results/merged.json
#
# The shard index is SLURM_ARRAY_TASK_ID, passed to --shard explicitly
# (kvmmu reads no scheduler's environment by itself), so the array must run
# from 0 (--array=0-7); an array from 1 would need $((SLURM_ARRAY_TASK_ID - 1)).
# SLURM_ARRAY_TASK_COUNT is the number of tasks, so N follows --array.
#
# At the time limit Slurm sends SIGTERM, then SIGKILL after KillWait
# (30 s by default): kvmmu stops after the schedule in progress and
# writes its document marked "complete": false, which kvmmu merge reports
# as stopped early.
#
#SBATCH --job-name=kvmmu-shards
#SBATCH --cpus-per-task=1
#SBATCH --time=02:00:00
#SBATCH --output=results/%x-%A_%a.log

set -u
scenario=${1:?usage: sbatch --array=0-N-1 $0 SCENARIO SCHEDULES [kvmmu scenario options]}
schedules=${2:?usage: sbatch --array=0-N-1 $0 SCENARIO SCHEDULES [kvmmu scenario options]}
shift 2

kvmmu=${KVMMU:-build/kvmmu}
out=results/$scenario-$SLURM_ARRAY_TASK_ID.json

"$kvmmu" scenario "$scenario" --schedules "$schedules" \
	--shard "$SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT" \
	--json="$out" --progress "$@"
rc=$?
# 1 is a violation found: the document holds it and kvmmu merge reports it,
# so the task itself did its job.  Anything else non-zero is a failure
# (2 usage, 3 internal, 128 + a signal for a run stopped early).
[ "$rc" -le 1 ] && exit 0
exit "$rc"
