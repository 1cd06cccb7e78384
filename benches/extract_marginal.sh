#!/usr/bin/env bash
# Marginal throughput and CPU cost per image: `pipeline extract` vs bare ONNX Runtime (`pipeline
# bench`), measured by differences so start-up (library and model load, first call) cancels out and
# both sides are timed over windows of similar length — the fair comparison on a shared, noisy machine.
#   bench:   run with --repeats R1 and R2   -> (R2-R1)*batch images  / (wall2 - wall1)
#   extract: run on split trees SMALL, BIG  -> (n_BIG - n_SMALL) images / (wall_BIG - wall_SMALL)
# CPU ms/image (user+sys, from /usr/bin/time) is computed the same way: it barely depends on the
# machine's load, so it shows what extract adds on top of inference (decode, resize, shard writes).
# Needs: target/release/pipeline, GNU time at /usr/bin/time, ORT (ORT_DYLIB_PATH or .ort/cpu/),
# python3. Not used by CI.
# Usage: benches/extract_marginal.sh MODEL.onnx SMALL_TREE BIG_TREE R1 R2 [ROUNDS] [-- extract flags]
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH="${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}"
bin=target/release/pipeline
[ $# -ge 5 ] || { echo "usage: $0 MODEL.onnx SMALL_TREE BIG_TREE R1 R2 [ROUNDS] [-- extract flags]" >&2; exit 2; }
model=$1 small=$2 big=$3 r1=$4 r2=$5; shift 5
rounds=3; if [ $# -gt 0 ] && [ "$1" != "--" ]; then rounds=$1; shift; fi
[ "${1:-}" = "--" ] && shift
batch=32
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT

# measure NAME CMD...: prints "NAME wall cpu" (seconds) for one run
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$scratch/t" "$@" > /dev/null 2>"$scratch/err" \
    || { cat "$scratch/err" >&2; exit 1; }
  read -r wall user sys < "$scratch/t"
  echo "$name $wall $(python3 -c "print($user + $sys)")"
}
count() { find "$1" -type f ! -name split.json | wc -l; }
n_small=$(count "$small"); n_big=$(count "$big")

echo "| round | load | bench img/s | extract img/s | extract/bench | bench CPU ms/img | extract CPU ms/img |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq 1 "$rounds"); do
  load=$(cut -d' ' -f1 /proc/loadavg)
  read -r _ bw1 bc1 < <(measure b1 "$bin" bench --model "$model" --batch $batch --repeats "$r1")
  read -r _ bw2 bc2 < <(measure b2 "$bin" bench --model "$model" --batch $batch --repeats "$r2")
  rm -rf "$scratch/c"
  read -r _ ew1 ec1 < <(measure e1 "$bin" extract --model "$model" --data "$small" --out "$scratch/c" --passes 1 --batch $batch "$@")
  rm -rf "$scratch/c"
  read -r _ ew2 ec2 < <(measure e2 "$bin" extract --model "$model" --data "$big" --out "$scratch/c" --passes 1 --batch $batch "$@")
  python3 - "$r" "$load" "$r1" "$r2" "$batch" "$n_small" "$n_big" "$bw1" "$bc1" "$bw2" "$bc2" "$ew1" "$ec1" "$ew2" "$ec2" <<'EOF'
import sys
r, load = sys.argv[1], sys.argv[2]
r1, r2, b, ns, nb = map(int, sys.argv[3:8])
bw1, bc1, bw2, bc2, ew1, ec1, ew2, ec2 = map(float, sys.argv[8:16])
bi, ei = (r2 - r1) * b, nb - ns
bips, eips = bi / (bw2 - bw1), ei / (ew2 - ew1)
print(f"| {r} | {load} | {bips:.1f} | {eips:.1f} | {100 * eips / bips:.0f} % | "
      f"{1000 * (bc2 - bc1) / bi:.1f} | {1000 * (ec2 - ec1) / ei:.1f} |")
EOF
done
