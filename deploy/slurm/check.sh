#!/usr/bin/env bash
# End-to-end check of deploy/slurm/ on a real (one-node) Slurm cluster: `just slurm-check`.
#
#   sudo deploy/slurm/check.sh            # from the repository root; needs root, the release binary
#
# 1. Brings up deploy/slurm/local-cluster.sh (unless SLURM_CONF already names a cluster that answers
#    `sinfo`), copies DATA, splits it, and extracts it once in one process: the reference cache.
# 2. Submission A: deploy/slurm/submit.sh with N array tasks and the dependent finaliser; every
#    shard file must be byte-identical to the reference's, and manifest.json identical in every field
#    but `stats` (timings, creation time and this run's counts, which differ between any two runs).
# 3. Submission B into a fresh cache: task N-1 is cancelled with scancel while it runs; its finaliser
#    then never starts (afterok); only that task is resubmitted (TASKS=N-1) with a new finaliser; the
#    cache must again be identical to the reference, and the rerun task must have computed views.
# 4. Incremental: ADD images (mirrored copies of existing ones: new bytes) are added, the tree is
#    re-split, and A's cache is extracted again by N tasks + finaliser. The views the tasks report
#    computing must sum to exactly ADD × rows per image, and the cache must be identical to a
#    from-scratch single-process extract of the grown tree.
# Logs of every job, the `scontrol show job` records (jobs.txt), the job completion records
# (cluster/jobcomp.txt; no slurmdbd, so no `sacct`), the cluster's logs and summary.json stay in
# WORK. Exit status 0 when every check passed, 1 when one failed, 2 for what this machine lacks.
#
# Environment: PIPELINE (default target/release/pipeline), DATA (a raw class tree, default
# data/tuxpaint), MODEL (default models/vgg16-conv-int8.onnx), N (default 4), ADD (default 8),
# WORK (default work/slurm-check; emptied first), EXTRACT_ARGS (default "--views dense --passes 0
# --chunk-size 16 --threads 1 --workers 1": small chunks so every task has several), PYTHON (with
# Pillow, for the added images; default .venv/bin/python).
set -euo pipefail

me=check.sh
die() {
    printf '%s: %s\n' "$me" "$*" >&2
    exit 2
}
failures=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        printf '%s: ok   %s\n' "$me" "$what"
    else
        printf '%s: FAIL %s\n' "$me" "$what" >&2
        failures=$((failures + 1))
    fi
}
now() { date +%s.%N; }
secs() { printf '%.1f' "$(bc -l <<<"$2 - $1")"; }

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
root=$(cd -- "$here/../.." && pwd)
cd -- "$root"

PIPELINE=$(realpath -- "${PIPELINE:-target/release/pipeline}")
DATA=${DATA:-data/tuxpaint}
MODEL=$(realpath -- "${MODEL:-models/vgg16-conv-int8.onnx}")
N=${N:-4}
ADD=${ADD:-8}
WORK=${WORK:-work/slurm-check}
EXTRACT_ARGS=${EXTRACT_ARGS:---views dense --passes 0 --chunk-size 16 --threads 1 --workers 1}
PYTHON=${PYTHON:-.venv/bin/python}

(($(id -u) == 0)) || die "needs root (it brings up slurmctld, slurmd and munged); run it with sudo"
[[ -x $PIPELINE ]] || die "no pipeline binary at $PIPELINE (cargo build --release, or set PIPELINE)"
[[ -d $DATA ]] || die "no image tree at $DATA (just fetch-tuxpaint, or set DATA)"
[[ -r $MODEL ]] || die "no model at $MODEL (just vgg16-conv, or set MODEL)"
[[ $N =~ ^[2-9]$|^[1-9][0-9]+$ ]] || die "N must be 2 or more, got '$N'"
"$PYTHON" -c 'import PIL' 2>/dev/null || die "$PYTHON cannot import PIL (just venv, or set PYTHON)"
command -v bc >/dev/null || die "bc not found (apt-get install bc)"

rm -rf -- "$WORK"
mkdir -p -- "$WORK/logs"
WORK=$(realpath -- "$WORK")
export PIPELINE_NO_PROGRESS=1

started_cluster=0
if [[ -n ${SLURM_CONF:-} ]] && sinfo -h >/dev/null 2>&1; then
    printf '%s: using the running cluster of %s\n' "$me" "$SLURM_CONF"
else
    "$here/local-cluster.sh" up | tee "$WORK/logs/cluster-up.txt"
    export SLURM_CONF=${LOCAL_SLURM_DIR:-${TMPDIR:-/tmp}/pipeline-slurm}/slurm.conf
    started_cluster=1
fi
finish() {
    local rc=$?
    scontrol -o show job >"$WORK/jobs.txt" 2>&1 || true
    local d
    d=$(dirname -- "$SLURM_CONF")
    mkdir -p -- "$WORK/cluster"
    cp -- "$SLURM_CONF" "$d"/*.log "$d"/jobcomp.txt "$WORK/cluster/" 2>/dev/null || true
    ((started_cluster)) && "$here/local-cluster.sh" down >/dev/null
    exit "$rc"
}
trap finish EXIT

read -r -a xargs <<<"$EXTRACT_ARGS"
extract() { # extract OUT LOG
    "$PIPELINE" extract --model "$MODEL" --data "$WORK/split" --out "$1" "${xargs[@]}" >"$2" 2>&1 ||
        die "the single-process extract into $1 failed (see $2)"
}

# Every task of a job, one per line: "TASK STATE RUNTIME" ("3 CANCELLED 00:00:09"; TASK is - for a
# plain job), from scontrol (the cluster keeps finished jobs for MinJobAge).
job_records() {
    scontrol -o show job "$1" 2>/dev/null | awk '{ id = "-"; st = ""; rt = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^ArrayTaskId=/) id = substr($i, 13)
            if ($i ~ /^JobState=/) st = substr($i, 10)
            if ($i ~ /^RunTime=/) rt = substr($i, 9)
        }
        if (st != "") print id, st, rt }'
}
job_states() { job_records "$1" | cut -d' ' -f1,2; }
wait_job() { # wait_job ID [timeout s]: until no task is pending or running
    local t=0 limit=${2:-1800}
    while job_states "$1" | grep -Eq ' (PENDING|RUNNING|CONFIGURING|COMPLETING|SUSPENDED)$'; do
        ((t++ < limit)) || die "job $1 still running after $limit s"
        sleep 1
    done
}
all_completed() { ! job_states "$1" | grep -vq ' COMPLETED$'; }
submit() { # submit CACHE LOGDIR [VAR=VALUE...]: sets array_id, final_id
    local out
    out=$(env DATA="$WORK/split" CACHE="$1" MODEL="$MODEL" N="$N" PIPELINE="$PIPELINE" \
        EXTRACT_ARGS="$EXTRACT_ARGS" LOG_DIR="$2" "${@:3}" "$here/submit.sh")
    printf '%s\n' "$out"
    array_id=$(sed -n 's/^array job \([0-9]*\):.*/\1/p' <<<"$out")
    final_id=$(sed -n 's/^finalise job \([0-9]*\):.*/\1/p' <<<"$out")
    [[ -n $array_id && -n $final_id ]] || die "could not read the job ids from submit.sh's output"
}

# Shard files identical by name and bytes, and manifest.json identical apart from `stats`.
same_cache() { # same_cache A B
    "$PYTHON" - "$1" "$2" <<'PY'
import json, pathlib, sys
a, b = (pathlib.Path(p) for p in sys.argv[1:3])
def load(d):
    m = json.loads((d / "manifest.json").read_text())
    m.pop("stats")
    shards = {p.name: p.read_bytes() for p in (d / "shards").iterdir()}
    return m, shards
(ma, sa), (mb, sb) = load(a), load(b)
listed = {s["file"] for s in ma["shards"]}
same = sa.keys() == sb.keys() and all(sa[k] == sb[k] for k in sa)
print(f"  {len(sa)} vs {len(sb)} shard files, {sum(sa[k] == sb.get(k) for k in sa)} byte-identical; "
      f"manifest without stats {'identical' if ma == mb else 'DIFFERENT'}; key {ma['key'][:16]}")
sys.exit(0 if same and ma == mb and listed == set(sa) else 1)
PY
}
# Sum of "computed N views" over the given logs.
computed_views() {
    cat -- "$@" | sed -n 's/.*computed \([0-9,]*\) views.*/\1/p' | tr -d , | paste -sd+ | bc
}

# --- 1. the data and the reference cache -------------------------------------------------------
cp -r -- "$DATA" "$WORK/raw"
"$PIPELINE" split "$WORK/raw" --out "$WORK/split" >"$WORK/logs/split.log" 2>&1 ||
    die "pipeline split failed (see $WORK/logs/split.log)"
t0=$(now)
extract "$WORK/ref" "$WORK/logs/ref.log"
ref_s=$(secs "$t0" "$(now)")
printf '%s: reference extract %s s: %s\n' "$me" "$ref_s" "$(grep -m1 '^extracted' "$WORK/logs/ref.log")"

# --- 2. submission A ---------------------------------------------------------------------------
t0=$(now)
submit "$WORK/a" "$WORK/logs/a"
a_array=$array_id a_final=$final_id
wait_job "$a_array"
wait_job "$a_final"
a_s=$(secs "$t0" "$(now)")
job_records "$a_array" >"$WORK/logs/a/states.txt"
job_records "$a_final" >>"$WORK/logs/a/states.txt"
check "A: $N array tasks ($a_array) and the finaliser ($a_final) COMPLETED in $a_s s" \
    eval 'all_completed "$a_array" && all_completed "$a_final" && (($(job_states "$a_array" | wc -l) == N))'
check "A: cache byte-identical to the single-process extract" same_cache "$WORK/a" "$WORK/ref"

# --- 3. submission B, one task cancelled mid-run, resubmitted alone ------------------------------
victim=$((N - 1))
t0=$(now)
submit "$WORK/b" "$WORK/logs/b"
b_array=$array_id b_final=$final_id
t=0
until [[ $(job_states "$b_array" | sed -n "s/^$victim //p") == RUNNING ]]; do
    ((t++ < 1800)) || die "task $victim of job $b_array never started"
    sleep 0.5
done
sleep "${CANCEL_AFTER:-8}"
victim_state=$(job_states "$b_array" | sed -n "s/^$victim //p")
[[ $victim_state == RUNNING ]] ||
    die "task $victim finished before it could be cancelled ($victim_state); raise the work per task or lower CANCEL_AFTER"
scancel "${b_array}_$victim"
printf '%s: cancelled task %s_%s while it ran\n' "$me" "$b_array" "$victim"
wait_job "$b_array"
sleep 2
# afterok can never be met now: --kill-on-invalid-dep cancels the finaliser (scancel it if not yet).
[[ $(job_states "$b_final") == *PENDING* ]] && scancel "$b_final"
wait_job "$b_final"
job_records "$b_array" >"$WORK/logs/b/states.txt"
job_records "$b_final" >>"$WORK/logs/b/states.txt"
shards_before=$(find "$WORK/b/shards" -name '*.safetensors' 2>/dev/null | wc -l)
check "B: task $victim CANCELLED, the other $((N - 1)) COMPLETED, the finaliser did not run" \
    eval '[[ $(job_states "$b_array" | sed -n "s/^$victim //p") == CANCELLED* ]] &&
          (($(job_states "$b_array" | grep -c " COMPLETED$") == N - 1)) &&
          [[ ! -f $WORK/b/manifest.json && $(job_states "$b_final") == *CANCELLED* ]]'
submit "$WORK/b" "$WORK/logs/b-rerun" TASKS="$victim"
r_array=$array_id r_final=$final_id
wait_job "$r_array"
wait_job "$r_final"
b_s=$(secs "$t0" "$(now)")
job_records "$r_array" >"$WORK/logs/b-rerun/states.txt"
job_records "$r_final" >>"$WORK/logs/b-rerun/states.txt"
rerun_computed=$(computed_views "$WORK/logs/b-rerun"/pipeline-extract-*.out)
check "B: the rerun ($r_array) ran task $victim alone and computed $rerun_computed views; its finaliser ($r_final) COMPLETED" \
    eval '[[ $(job_states "$r_array") == "$victim COMPLETED" ]] && all_completed "$r_final" && ((rerun_computed > 0))'
check "B: cache byte-identical to the single-process extract" same_cache "$WORK/b" "$WORK/ref"

# --- 4. added images: only their rows are computed ---------------------------------------------
"$PYTHON" - "$WORK/raw" "$ADD" <<'PY'
import pathlib, sys
from PIL import Image, ImageOps
root, add = pathlib.Path(sys.argv[1]), int(sys.argv[2])
files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in {".png", ".jpg", ".jpeg"})
for p in files[:: max(1, len(files) // add)][:add]:
    ImageOps.mirror(Image.open(p).convert("RGB")).save(p.with_name("added_" + p.stem + ".png"))
PY
"$PIPELINE" split "$WORK/raw" --out "$WORK/split" --force >"$WORK/logs/resplit.log" 2>&1 ||
    die "re-splitting failed (see $WORK/logs/resplit.log)"
added=$(find "$WORK/split" -name 'added_*' | wc -l)
t0=$(now)
submit "$WORK/a" "$WORK/logs/c"
c_array=$array_id c_final=$final_id
wait_job "$c_array"
wait_job "$c_final"
c_s=$(secs "$t0" "$(now)")
job_records "$c_array" >"$WORK/logs/c/states.txt"
job_records "$c_final" >>"$WORK/logs/c/states.txt"
c_computed=$(computed_views "$WORK/logs/c"/pipeline-*.out)
t0=$(now)
extract "$WORK/ref2" "$WORK/logs/ref2.log"
ref2_s=$(secs "$t0" "$(now)")
ref2_computed=$(computed_views "$WORK/logs/ref2.log")
ref_images=$(sed -n 's/^extracted \([0-9,]*\) images.*/\1/p' "$WORK/logs/ref.log" | tr -d ,)
ref2_images=$(sed -n 's/^extracted \([0-9,]*\) images.*/\1/p' "$WORK/logs/ref2.log" | tr -d ,)
per_image=$((ref2_computed / ref2_images))
check "C: $added images added ($ref_images -> $ref2_images); the tasks and finaliser computed $c_computed views = $added x $per_image" \
    eval '((added == ADD && ref2_images - ref_images == added && c_computed == added * per_image)) && all_completed "$c_array" && all_completed "$c_final"'
check "C: cache byte-identical to a from-scratch single-process extract of the grown tree" same_cache "$WORK/a" "$WORK/ref2"

"$PYTHON" - "$WORK/summary.json" <<PY
import json, sys, datetime
out = {
    "date": datetime.date.today().isoformat(), "data": "$DATA", "model": "$MODEL", "n": $N,
    "extract_args": "$EXTRACT_ARGS", "images": $ref_images, "host": "$(hostname -s)", "cpus": $(nproc),
    "reference_extract_s": $ref_s, "a_submit_to_final_s": $a_s, "a_jobs": [$a_array, $a_final],
    "b_cancelled_task": "${b_array}_$victim", "b_shard_files_before_rerun": $shards_before,
    "b_rerun_jobs": [$r_array, $r_final], "b_rerun_computed_views": $rerun_computed,
    "b_submit_to_final_s": $b_s,
    "c_added_images": $added, "c_computed_views": $c_computed, "c_views_per_image": $per_image,
    "c_submit_to_final_s": $c_s, "c_jobs": [$c_array, $c_final], "reference2_extract_s": $ref2_s,
    "failures": $failures,
}
json.dump(out, open(sys.argv[1], "w"), indent=1)
print(json.dumps(out))
PY
((failures == 0)) || {
    printf '%s: %d check(s) failed; logs in %s\n' "$me" "$failures" "$WORK" >&2
    exit 1
}
printf '%s: all checks passed; logs, job records and summary.json in %s\n' "$me" "$WORK"
