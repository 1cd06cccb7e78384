#!/usr/bin/env bash
# Needs: the release binary, ORT (ORT_DYLIB_PATH or .ort/cpu), models/vgg16-conv.onnx and
#   models/vgg16-conv-int8.onnx (`just export-onnx`, `pipeline quantize`), and a split (default
#   work/tux/data, Tux Paint). Not run by CI.
# Does: one `extract --passes 0` per `--views` choice (VIEWS, default "centre ten-crop ten-crop+whole")
#   and backbone (f32, int8), one after the other into fresh folders under a temporary directory;
#   prints each one's rows, wall time and views/s (rows ÷ wall seconds, decode and writing included).
# Usage: benches/extract_views.sh [SPLIT=work/tux/data]
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}
bin=target/release/pipeline
split=${1:-work/tux/data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load before: $(uptime)"
for views in ${VIEWS:-centre ten-crop ten-crop+whole}; do
    for model in models/vgg16-conv.onnx models/vgg16-conv-int8.onnx; do
        out=$tmp/$(basename "$model" .onnx)-$views
        start=$(date +%s.%N)
        "$bin" extract --model "$model" --data "$split" --out "$out" --views "$views" --passes 0 >/dev/null 2>&1
        end=$(date +%s.%N)
        rows=$("$bin" cache-info "$out" --json 2>/dev/null | python3 -c 'import json,sys; print(sum(s["rows"] for s in json.load(sys.stdin)["shards"]))' 2>/dev/null || echo "?")
        python3 -c "import sys; r, s = sys.argv[1], float(sys.argv[2]); print(f'{sys.argv[3]:>16} {sys.argv[4]:<22} {r:>6} rows  {s:7.1f} s  ' + (f'{int(r)/s:5.1f} views/s' if r != '?' else ''))" "$rows" "$(echo "$end - $start" | bc)" "$views" "$(basename "$model")"
        rm -rf "$out"
    done
done
echo "load after:  $(uptime)"
