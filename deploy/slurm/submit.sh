#!/usr/bin/env bash
# Submits scale-out feature extraction to Slurm: an array of N `pipeline extract --shard i/N`
# tasks, then a finalise job (the same extract without --shard: writes the manifest, computes
# anything missing) that starts only after every task succeeded (--dependency=afterok:JOBID), and
# trains a head afterwards when TRAIN_OUT is set.
#
#   PIPELINE=$PWD/target/release/pipeline DATA=/shared/x/data CACHE=/shared/x/features \
#   MODEL=/shared/models/vgg16-conv.onnx N=16 EXTRACT_ARGS="--passes 5" deploy/slurm/submit.sh
#
# Required: DATA, CACHE, MODEL, N. Optional: PIPELINE (default `pipeline` on PATH of the nodes),
# EXTRACT_ARGS, TRAIN_OUT, TRAIN_ARGS (see extract.sbatch), and for sbatch itself:
#   WORKER_SBATCH_ARGS    options for the array tasks, e.g. "--partition=gpu --gres=gpu:1 --cpus-per-task=8"
#   FINALISE_SBATCH_ARGS  options for the finalise job, e.g. "--cpus-per-task=8 --time=01:00:00"
#   ARRAY_LIMIT           run at most this many tasks at once (--array=0-$((N-1))%LIMIT)
#   TASKS                 only these array indices, e.g. "3" or "1,5-6", to rerun failed or cancelled
#                         tasks of an earlier submission (N stays the shard count); the new finaliser
#                         waits for them only
#   DEPENDENCY            afterok (default) or afterany: finalise even when tasks failed, computing
#                         their chunks in the finalise job
#   LOG_DIR               where Slurm writes the job logs (default: slurm-logs, created)
# Jobs run in the current directory, so relative paths are taken from here.
# Prints the two job ids; `squeue -u $USER` / `sacct -j ID` follow them.
set -euo pipefail

die() {
    printf 'submit.sh: %s\n' "$*" >&2
    exit 2
}

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
script=$here/extract.sbatch
[[ -r $script ]] || die "cannot read $script"
command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"

for var in DATA CACHE MODEL N; do
    [[ -n ${!var:-} ]] || die "$var is not set (export $var=...; see the top of $0)"
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"
case " ${EXTRACT_ARGS:-} " in
*" --shard "* | *" --shard="*) die "EXTRACT_ARGS must not contain --shard; the array tasks set it" ;;
esac
dep=${DEPENDENCY:-afterok}
[[ $dep == afterok || $dep == afterany ]] || die "DEPENDENCY must be afterok or afterany, got '$dep'"
if [[ -n ${ARRAY_LIMIT:-} ]]; then
    [[ $ARRAY_LIMIT =~ ^[1-9][0-9]*$ ]] || die "ARRAY_LIMIT must be a positive integer, got '$ARRAY_LIMIT'"
fi
tasks=0-$((N - 1))
if [[ -n ${TASKS:-} ]]; then
    [[ $TASKS =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]] ||
        die "TASKS must be array indices like 3 or 1,5-6, got '$TASKS'"
    for part in ${TASKS//,/ }; do
        ((${part##*-} < N)) || die "TASKS index ${part##*-} is outside 0..$((N - 1)) (N=$N is the shard count)"
    done
    tasks=$TASKS
fi
LOG_DIR=${LOG_DIR:-slurm-logs}
mkdir -p -- "$LOG_DIR"

PIPELINE=${PIPELINE:-pipeline}
export PIPELINE DATA CACHE MODEL N
export EXTRACT_ARGS=${EXTRACT_ARGS:-} TRAIN_OUT=${TRAIN_OUT:-} TRAIN_ARGS=${TRAIN_ARGS:-}

read -r -a worker_opts <<<"${WORKER_SBATCH_ARGS:-}"
read -r -a finalise_opts <<<"${FINALISE_SBATCH_ARGS:-}"

array=$tasks${ARRAY_LIMIT:+%$ARRAY_LIMIT}
jobid=$(sbatch --parsable --export=ALL,EXTRACT_MODE=shard \
    --job-name=pipeline-extract --array="$array" --output="$LOG_DIR/%x-%A_%a.out" \
    ${worker_opts[@]+"${worker_opts[@]}"} "$script")
jobid=${jobid%%;*}
[[ $jobid =~ ^[0-9]+$ ]] || die "sbatch did not return a job id (got '$jobid')"

finalid=$(sbatch --parsable --export=ALL,EXTRACT_MODE=finalise \
    --job-name=pipeline-finalise --dependency="$dep:$jobid" --kill-on-invalid-dep=yes \
    --output="$LOG_DIR/%x-%j.out" \
    ${finalise_opts[@]+"${finalise_opts[@]}"} "$script") || {
    rc=$?
    printf 'submit.sh: submitting the finalise job failed; cancelling array %s\n' "$jobid" >&2
    scancel "$jobid" || true
    exit "$rc"
}
finalid=${finalid%%;*}

printf 'array job %s: shard workers %s of %s (--array=%s) -> %s\n' "$jobid" "$tasks" "$N" "$array" "$CACHE"
printf 'finalise job %s: after %s:%s%s\n' "$finalid" "$dep" "$jobid" "${TRAIN_OUT:+, then train-head --out $TRAIN_OUT}"
