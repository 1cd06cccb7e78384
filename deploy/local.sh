#!/usr/bin/env bash
# Scale-out feature extraction on one machine: N `pipeline extract --shard i/N` workers in the
# background, then one finalising `pipeline extract` (same arguments, no --shard) that writes the
# manifest and computes whatever is still missing; optionally `pipeline train-head` after it.
#
#   deploy/local.sh --pipeline target/release/pipeline --data work/x/data --cache work/x/features \
#       --model models/vgg16-conv.onnx -n 4 [--log-dir DIR] [--train-out RUN] [-- EXTRACT_OPTION...]
#
# Every option can come from the environment instead: PIPELINE (default: `pipeline` on PATH),
# DATA, CACHE, MODEL, N, LOG_DIR, TRAIN_OUT; EXTRACT_ARGS and TRAIN_ARGS (whitespace-separated)
# add options to every extract / to train-head. Flags win over the environment. Options after `--`
# go to every extract (workers and finaliser alike, so all compute the same cache key), e.g.
# `-- --passes 5 --threads 2 --workers 2` (each worker otherwise uses every core).
#
# Exit status: 0 when the cache is complete (and the head trained, with --train-out); the status
# of the first failed worker when any worker failed (the finaliser is then not run; rerunning
# resumes, computing only the missing chunks); otherwise the finaliser's or train-head's status;
# 2 for a usage error. Needs only bash and coreutils.
set -euo pipefail

me=${0##*/}
die() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 2
}
usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
}

PIPELINE=${PIPELINE:-pipeline}
DATA=${DATA:-}
CACHE=${CACHE:-}
MODEL=${MODEL:-}
N=${N:-}
LOG_DIR=${LOG_DIR:-}
TRAIN_OUT=${TRAIN_OUT:-}
read -r -a extra <<<"${EXTRACT_ARGS:-}"
read -r -a train_extra <<<"${TRAIN_ARGS:-}"

while (($# > 0)); do
    opt=$1
    case $opt in
    -h | --help)
        usage
        exit 0
        ;;
    --)
        shift
        extra+=("$@")
        break
        ;;
    --*=*)
        name=${opt%%=*}
        value=${opt#*=}
        shift
        set -- "$name" "$value" "$@"
        continue
        ;;
    --pipeline | --data | --cache | --out | --model | -n | --shards | --log-dir | --train-out)
        (($# >= 2)) || die "$opt needs a value"
        case $opt in
        --pipeline) PIPELINE=$2 ;;
        --data) DATA=$2 ;;
        --cache | --out) CACHE=$2 ;;
        --model) MODEL=$2 ;;
        -n | --shards) N=$2 ;;
        --log-dir) LOG_DIR=$2 ;;
        --train-out) TRAIN_OUT=$2 ;;
        esac
        shift 2
        ;;
    *) die "unknown argument '$opt' (see --help; extract options go after --)" ;;
    esac
done

for var in DATA CACHE MODEL N; do
    flag=--${var,,}
    [[ $var == N ]] && flag=-n
    [[ -n ${!var} ]] || die "$var is not set (give $flag or export $var; see --help)"
done
[[ $N =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, got '$N'"
command -v -- "$PIPELINE" >/dev/null || die "PIPELINE '$PIPELINE' is not an executable (give --pipeline PATH)"
for a in ${extra[@]+"${extra[@]}"}; do
    [[ $a == --shard || $a == --shard=* ]] && die "do not pass --shard in the extract options; $me adds it"
done
if [[ -n $LOG_DIR ]]; then
    mkdir -p -- "$LOG_DIR"
fi

common=(extract --model "$MODEL" --data "$DATA" --out "$CACHE" ${extra[@]+"${extra[@]}"})

pids=()
stop_workers() {
    trap - INT TERM
    printf '%s: interrupted; stopping the workers\n' "$me" >&2
    ((${#pids[@]} > 0)) && kill -TERM -- "${pids[@]}" 2>/dev/null
    wait
    exit 130
}
trap stop_workers INT TERM

for ((i = 0; i < N; i++)); do
    if [[ -n $LOG_DIR ]]; then
        "$PIPELINE" "${common[@]}" --shard "$i/$N" >"$LOG_DIR/shard-$i.log" 2>&1 &
    else
        "$PIPELINE" "${common[@]}" --shard "$i/$N" &
    fi
    pids+=("$!")
done

status=0
failed=()
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        :
    else
        rc=$?
        failed+=("$i/$N (exit $rc)")
        ((status == 0)) && status=$rc
    fi
done
trap - INT TERM

if ((status != 0)); then
    list=$(printf '%s, ' "${failed[@]}")
    printf '%s: %d of %d shard workers failed: %s; not finalising (rerun to resume: only missing chunks are computed)\n' \
        "$me" "${#failed[@]}" "$N" "${list%, }" >&2
    exit "$status"
fi

printf '%s: %d shard workers done; finalising %s\n' "$me" "$N" "$CACHE" >&2
"$PIPELINE" "${common[@]}" || {
    rc=$?
    printf '%s: the finalising extract failed (exit %d)\n' "$me" "$rc" >&2
    exit "$rc"
}

if [[ -n $TRAIN_OUT ]]; then
    "$PIPELINE" train-head --features "$CACHE" --out "$TRAIN_OUT" ${train_extra[@]+"${train_extra[@]}"} || {
        rc=$?
        printf '%s: train-head failed (exit %d)\n' "$me" "$rc" >&2
        exit "$rc"
    }
fi
