#!/usr/bin/env bash
# Incremental extract on a real dataset: split and extract it (the `pipeline run` defaults:
# --views ten-crop+whole --passes 0), add 5 new images (mirrored copies: new bytes, new content),
# re-split (hash split: old images stay put) and extract again into the same cache; then extract
# the changed tree from scratch into a second cache and compare the two byte for byte.
#
#   benches/incremental.sh [DATA=data/tuxpaint] [MODEL=models/vgg16-conv.onnx] [EXTRA extract args…]
#
# Prints one JSON line (also appended to benches/runs.jsonl): first/second extract wall seconds,
# views computed and reused by the second, and whether the caches are identical.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-data/tuxpaint}
model=${2:-models/vgg16-conv.onnx}
shift $(($# > 2 ? 2 : $#))
bin=target/release/pipeline
[[ -x $bin ]] || cargo build --release
py=.venv/bin/python
[[ -x $py ]] || { echo "run \`just venv\` first (needs Pillow)" >&2; exit 2; }
w=$(mktemp -d "${TMPDIR:-/tmp}/incremental.XXXXXX")
trap 'rm -rf "$w"' EXIT
cp -r "$data" "$w/raw"
export PIPELINE_NO_PROGRESS=1
args=(--model "$model" --device cpu --views ten-crop+whole --passes 0 "$@")
now() { date +%s.%N; }

"$bin" split "$w/raw" --out "$w/split" >/dev/null
t0=$(now)
"$bin" extract --data "$w/split" --out "$w/cache" "${args[@]}" >/dev/null
t1=$(now)

"$py" - "$w/raw" <<'PY'
import sys, pathlib
from PIL import Image, ImageOps
root = pathlib.Path(sys.argv[1])
files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in {".png", ".jpg", ".jpeg"})
for p in files[:: max(1, len(files) // 5)][:5]:
    ImageOps.mirror(Image.open(p).convert("RGB")).save(p.with_name("added_" + p.stem + ".png"))
PY
"$bin" split "$w/raw" --out "$w/split" --force >/dev/null
t2=$(now)
"$bin" extract --data "$w/split" --out "$w/cache" "${args[@]}" > "$w/second.txt"
t3=$(now)
"$bin" extract --data "$w/split" --out "$w/scratch" "${args[@]}" >/dev/null

"$py" - "$w" "$t0" "$t1" "$t2" "$t3" "$data" <<'PY'
import sys, json, pathlib, datetime
w, t0, t1, t2, t3, data = sys.argv[1], *map(float, sys.argv[2:6]), sys.argv[6]
w = pathlib.Path(w)
a, b = (json.loads((w / d / "manifest.json").read_text()) for d in ("cache", "scratch"))
shards = lambda d: {p.name: p.read_bytes() for p in (w / d / "shards").iterdir()}
sa, sb = shards("cache"), shards("scratch")
rows_per_image = a["spec"]["splits"][0]["passes"]
out = {
    "bench": "incremental", "data": data, "date": datetime.date.today().isoformat(),
    "first_extract_s": round(t1 - t0, 1), "second_extract_s": round(t3 - t2, 1),
    "second_over_first": round((t3 - t2) / (t1 - t0), 3),
    "computed": a["stats"]["views"], "reused": a["stats"]["reused_views"],
    "new_images": a["stats"]["new_images"], "bar_views": 5 * rows_per_image,
    "same_key": a["key"] == b["key"], "identical_shards": sa == sb,
    "shards": len(sa),
}
print(json.dumps(out))
with open("benches/runs.jsonl", "a") as f:
    f.write(json.dumps(out) + "\n")
PY
