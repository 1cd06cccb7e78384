#!/usr/bin/env bash
# Needs: the release binary (`cargo build --release`), ORT (ORT_DYLIB_PATH or .ort/cpu), the
#   default backbone and its int8 build (`just vgg16-conv`), and a raw ImageFolder tree.
# Does: `pipeline run` end to end with the previous defaults (`--views ten-crop+whole
#   --precision f32 --select-folds 0`: 12 exact crops, 12 f32 backbone passes an image, the head
#   chosen on the valid split) and with today's defaults (`--precision auto` = the int8 build on
#   CPU), alternately,
#   ROUNDS times each, each time into a fresh work directory; prints per run the wall time of
#   every stage and images/s end to end, then the medians and the speed ratio, and writes them
#   as JSON to OUT. Env: PIPELINE_BIN (default target/release/pipeline), DEFAULT_ARGS (options
#   added to the defaults' runs, e.g. to time a build's defaults with another binary).
# Usage: benches/defaults_speed.sh DATA [ROUNDS=3] [OUT=benches/defaults_speed.json]
set -euo pipefail
cd "$(dirname "$0")/.."
export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$PWD/.ort/cpu/libonnxruntime.so}
export PIPELINE_NO_PROGRESS=1
data=${1:?usage: benches/defaults_speed.sh DATA [ROUNDS] [OUT]}
rounds=${2:-3}
out=${3:-benches/defaults_speed.json}
bin=${PIPELINE_BIN:-target/release/pipeline}
default_args=${DEFAULT_ARGS:-}
model=models/vgg16-conv.onnx
tmp=$(mktemp -d work/defaults-speed.XXXX)
trap 'rm -rf "$tmp"' EXIT
images=$(find "$data" -type f ! -name '.*' | wc -l)

# run_one NAME ROUND ARGS... -> "<name> <round> <total s> <stage s>..." on stdout
run_one() {
    local name=$1 round=$2
    shift 2
    local w=$tmp/$name-$round
    python3 - "$bin" "$data" "$model" "$w" "$name" "$round" "$@" <<'EOF'
import subprocess, sys, time
bin_, data, model, w, name, rnd, *extra = sys.argv[1:]
cmd = [bin_, "run", "--data", data, "--model", model, "--workdir", w, "--device", "cpu", *extra]
t0 = time.monotonic()
marks = []
p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
for line in p.stderr:
    if line.startswith("[") and "/6]" in line[:6]:
        marks.append((line.split("]")[1].split()[0], time.monotonic() - t0))
if p.wait() != 0:
    sys.exit(f"{' '.join(cmd)} failed")
total = time.monotonic() - t0
ends = [m[1] for m in marks[1:]] + [total]
stages = {m[0]: round(e - m[1], 2) for m, e in zip(marks, ends)}
print(name, rnd, round(total, 2), " ".join(f"{k}={v}" for k, v in stages.items()), flush=True)
EOF
}

results=$tmp/results.txt
for r in $(seq 1 "$rounds"); do
    run_one previous "$r" --views ten-crop+whole --precision f32 --select-folds 0 | tee -a "$results"
    # shellcheck disable=SC2086
    run_one default "$r" $default_args | tee -a "$results"
done

python3 - "$results" "$images" "$data" "$rounds" "$out" "$default_args" <<'EOF'
import json, platform, statistics, subprocess, sys, time
path, images, data, rounds, out, default_args = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
runs = {}
for line in open(path):
    name, rnd, total, *stages = line.split()
    runs.setdefault(name, []).append({"round": int(rnd), "seconds": float(total),
                                      "stages": {k: float(v) for k, v in (s.split("=") for s in stages)}})
def med(name, key=None):
    xs = [r["seconds"] if key is None else r["stages"].get(key, 0.0) for r in runs[name]]
    return statistics.median(xs)
summary = {}
for name in runs:
    summary[name] = {"median_seconds": med(name), "images_per_second": images / med(name),
                     "median_stage_seconds": {k: med(name, k) for k in runs[name][0]["stages"]}}
    ex = summary[name]["median_stage_seconds"].get("extract", 0.0)
    summary[name]["extract_images_per_second"] = images / ex if ex else None
ratio = med("previous") / med("default")
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
doc = {"date": time.strftime("%Y-%m-%d"), "machine": f"{cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores",
       "data": data, "images": images, "rounds": rounds,
       "command": f"benches/defaults_speed.sh {data} {rounds}",
       "previous": "--views ten-crop+whole --precision f32 --select-folds 0", "default": "run's defaults (--precision auto: int8 on CPU)" + (f", with {default_args}" if default_args else ""),
       "runs": runs, "summary": summary, "speedup_end_to_end": ratio}
with open(out, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")
for name, s in summary.items():
    st = ", ".join(f"{k} {v:.1f} s" for k, v in s["median_stage_seconds"].items())
    print(f"{name:9s} median {s['seconds'] if 'seconds' in s else s['median_seconds']:.1f} s = {s['images_per_second']:.2f} images/s end to end ({st})")
print(f"end to end: default is {ratio:.2f}x the previous defaults (medians of {rounds} alternating rounds); JSON: {out}")
EOF
