#!/usr/bin/env bash
# Needs: the release binary (`cargo build --release`), ORT (ORT_DYLIB_PATH or .ort/cpu), both
#   backbones with their int8 builds (`just vgg16-conv`, `just efficientnet-lite0`), and
#   data/tuxpaint (`just fetch-tuxpaint`) and data/fm-2000 (`just fetch-fashion-mnist --out
#   data/fm-2000 --per-class 200`). Not run by CI.
# Does: per data set, `pipeline run` with the defaults for VGG-16 conv, then EfficientNet-Lite0,
#   into one fresh work directory work/<data>-both (its cache then keeps both backbones), each run
#   timed end to end; then `pipeline cv` on both caches and their concatenation, 20 re-splits,
#   into benches/cv_<data>_vgg16conv_lite0.json.
# Usage: benches/backbones_compare.sh [tux|fm|all=all]
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}
bin=target/release/pipeline
which=${1:-all}
stamp() { echo "== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"; }
for d in tux fm; do
    [ "$which" = all ] || [ "$which" = "$d" ] || continue
    data=data/tuxpaint
    [ "$d" = fm ] && data=data/fm-2000
    rm -rf "work/$d-both"
    for m in vgg16-conv efficientnet-lite0; do
        stamp
        start=$(date +%s.%N)
        "$bin" run --data "$data" --model "models/$m.onnx" --workdir "work/$d-both" --device cpu
        echo "run $d $m: $(echo "$(date +%s.%N) - $start" | bc) s end to end"
    done
    stamp
    kept=(work/$d-both/features/manifests/*.json)
    vgg=$(grep -l '"model_path": "models/vgg16-conv' "${kept[@]}")
    lite=$(grep -l '"model_path": "models/efficientnet-lite0' "${kept[@]}")
    "$bin" cv --features "$vgg" --features "$lite" --repeats 20 --json "benches/cv_${d}_vgg16conv_lite0.json"
    stamp
done
