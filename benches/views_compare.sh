#!/usr/bin/env bash
# Needs: the release binary (`cargo build --release`), ORT (ORT_DYLIB_PATH or .ort/cpu), the
#   default backbone and its int8 build (`just vgg16-conv`), a raw ImageFolder tree (e.g.
#   `just fetch-tuxpaint-wide`), python3. Not run by CI.
# Does: `pipeline run` on DATA (same exact split, seed 0) with three view sets, each into a fresh
#   work directory, timing each end to end:
#     crops  --views ten-crop+whole --precision f32   (12 exact crops in f32: the old defaults)
#     dense  the defaults (dense views, --precision auto = int8 on CPU)
#     dw     --views dense+whole (dense + the exact padded whole view and its flip, int8)
#   and, without runs of their own, three subsets of dw's rows (cv `--views` on dw's cache: the
#   same rows an extract with that set computes):
#     dwn    dense+whole-noflip          (dense + the exact whole view without its flip)
#     dnw    dense-noflip+whole          (the image's dense views without the mirror pass + whole, flip)
#     dnwn   dense-noflip+whole-noflip   (the image's dense views + the exact whole view)
#   then `pipeline cv --repeats REPEATS` on each run's cache with the same seed (so repeat r is
#   the same re-split of the same images in all three), `--head auto` and `--head logistic`,
#   and benches/cv_paired.py of each against crops. Prints images/s end to end, the cv table and
#   the paired differences; keeps everything under WORK.
# Usage: benches/views_compare.sh DATA [REPEATS=10] [WORK=work/views-compare/<name of DATA>]
#   env: PIPELINE_BIN (default target/release/pipeline), HEADS (default "auto logistic"),
#   CV_ARGS (more `cv` options, e.g. "--select-folds 5"), TAG (suffix of
#   the cv files, e.g. _folds5), SKIP_RUN=1 (reuse the runs under WORK), VIEWS (default
#   "crops dense dw": the view sets to run; pairs need WORK/cv_crops_HEAD.json, from this script or
#   an earlier cv of the same images with the same seed).
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}
export PIPELINE_NO_PROGRESS=1
data=${1:?usage: benches/views_compare.sh DATA [REPEATS] [WORK]}
repeats=${2:-10}
work=${3:-work/views-compare/$(basename "$data")}
bin=${PIPELINE_BIN:-target/release/pipeline}
tag=${TAG:-}   # suffix of the cv files, e.g. TAG=_folds5
model=models/vgg16-conv.onnx
mkdir -p "$work"
images=$(find "$data" -type f ! -name '.*' | wc -l)
echo "$(date -u +%F) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

declare -A args=(
    [crops]="--views ten-crop+whole --precision f32"
    [dense]=""
    [dw]="--views dense+whole"
)
declare -A subset_of=(
    [dwn]="dense+whole-noflip"
    [dnw]="dense-noflip+whole"
    [dnwn]="dense-noflip+whole-noflip"
)
names=${VIEWS:-crops dense dw}
for name in $names; do
    w=$work/$name
    if [[ -n ${subset_of[$name]:-} ]]; then
        test -d "$work/dw/features" || { echo "error: $name is cv on $work/dw's cache, which is missing; run VIEWS=dw first" >&2; exit 1; }
        continue
    fi
    if [[ -n ${SKIP_RUN:-} ]]; then
        test -d "$w/features" || { echo "error: SKIP_RUN=1 but $w/features is missing; run without SKIP_RUN first" >&2; exit 1; }
        continue
    fi
    rm -rf "$w"
    start=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$bin" run --data "$data" --model "$model" --workdir "$w" --device cpu ${args[$name]} \
        >"$w.out" 2>"$w.err"
    secs=$(echo "$(date +%s.%N) - $start" | bc)
    echo "$secs" >"$w.seconds"
    echo "$name: run ${secs} s = $(echo "scale=2; $images / $secs" | bc) images/s end to end" \
        "(load $(cut -d' ' -f1-3 /proc/loadavg)); $(grep -m1 '^extract' "$w.out")"
done

for head in ${HEADS:-auto logistic}; do
    for name in $names; do
        features=$work/$name/features subset=()
        if [[ -n ${subset_of[$name]:-} ]]; then
            features=$work/dw/features subset=(--views "${subset_of[$name]}")
        fi
        # shellcheck disable=SC2086
        "$bin" cv --features "$features" "${subset[@]}" --repeats "$repeats" --head "$head" ${CV_ARGS:-} \
            --json "$work/cv_${name}_$head$tag.json" >"$work/cv_${name}_$head$tag.log" 2>&1
        echo "cv --head $head ${CV_ARGS:-} $name: $(grep -m1 '^cv (' "$work/cv_${name}_$head$tag.log")"
    done
    for name in $names; do
        [[ $name == crops || ! -f $work/cv_crops_$head$tag.json ]] && continue
        echo "paired --head $head, $name vs crops:"
        python3 benches/cv_paired.py "$work/cv_crops_$head$tag.json" "$work/cv_${name}_$head$tag.json" | grep "^top1"
    done
done
