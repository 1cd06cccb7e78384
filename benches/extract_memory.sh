#!/usr/bin/env bash
# Peak memory (max RSS, /usr/bin/time -v) of `pipeline extract --passes 1` on split trees of
# different sizes: it should stay flat (streaming shards, bounded queue, no whole-dataset buffers).
# Needs: target/release/pipeline, GNU time at /usr/bin/time, ORT (ORT_DYLIB_PATH or .ort/cpu/).
# Not used by CI.
# Usage: benches/extract_memory.sh MODEL.onnx SPLIT_TREE [SPLIT_TREE ...] [-- extra extract flags]
# Prints one Markdown table row per tree: images, views/s, max RSS (MB), wall seconds, load average.
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}"
bin=target/release/pipeline
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ $# -ge 2 ] || { echo "usage: $0 MODEL.onnx SPLIT_TREE [SPLIT_TREE ...] [-- extract flags]" >&2; exit 2; }
model=$1; shift
trees=(); while [ $# -gt 0 ] && [ "$1" != "--" ]; do trees+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
echo "| tree | images | views/s | max RSS MB | wall s | load avg before |"
echo "|---|---|---|---|---|---|"
for tree in "${trees[@]}"; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -v -o "$scratch/time.txt" "$bin" extract --model "$model" --data "$tree" \
    --out "$scratch/cache" --passes 1 --force "$@" > "$scratch/out.txt" 2>&1 \
    || { cat "$scratch/out.txt" >&2; exit 1; }
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$scratch/time.txt")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$scratch/time.txt")
  read -r views vps < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["stats"]; print(s["views"], round(s["views_per_sec"],1))' "$scratch/cache/manifest.json")
  echo "| $tree | $views | $vps | $((rss_kb / 1024)) | $wall | $load |"
  rm -rf "$scratch/cache"
done
