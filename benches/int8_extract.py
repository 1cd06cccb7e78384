#!/usr/bin/env python3
"""int8 vs f32 backbone, side by side: `pipeline extract` speed, feature cosine, head test top-1.

Needs: python3 with numpy (the project's .venv), target/release/pipeline, ORT_DYLIB_PATH (or
.ort/cpu/), the f32 backbone with its sidecar and a raw ImageFolder tree. Not used by CI.

1. `pipeline run` twice on the same split (same seed): f32, then `--precision int8` (which
   quantizes the backbone once, calibrated on the train split, and extracts with it).
2. --rounds rounds of `pipeline extract --passes 1` into fresh caches, f32 and int8 interleaved,
   so slow spells of a shared machine hit both; images/s = the manifest's views/s (engine time).
3. Feature cosine per image on the valid/test eval pass (same shard coordinates, same rows).
4. Head test top-1 on f32 vs int8 features: MLP heads trained with --seeds seeds on each cache.

Run: .venv/bin/python benches/int8_extract.py --model models/vgg16-conv.onnx --data data/tuxpaint \
       --rounds 3 --threads 2 --seeds 10
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PIPELINE_NO_PROGRESS": "1"})
    if p.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stderr[-3000:]}")
    return p.stdout


def load_shard(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        dt = {"F32": np.float32, "F16": np.float16, "U32": np.uint32}[v["dtype"]]
        out[k] = np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"])
    return out


def cosines(a_dir, b_dir):
    cos = []
    for fa in sorted(glob.glob(os.path.join(a_dir, "shards", "*"))):
        name = os.path.basename(fa)
        if not ("valid" in name or "test" in name):
            continue
        a, b = load_shard(fa), load_shard(os.path.join(b_dir, "shards", name))
        assert (a["index"] == b["index"]).all()
        x, y = a["features"].astype(np.float64), b["features"].astype(np.float64)
        cos += list((x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1) + 1e-12))
    return np.array(cos)


def extract_rate(args, model, split, scratch, i):
    out = os.path.join(scratch, f"cache-{i}")
    shutil.rmtree(out, ignore_errors=True)
    run([args.pipeline, "extract", "--model", model, "--data", split, "--out", out, "--passes", "1",
         "--device", "cpu", "--threads", str(args.threads), "--batch", str(args.batch)])
    with open(os.path.join(out, "manifest.json")) as f:
        m = json.load(f)
    shutil.rmtree(out, ignore_errors=True)
    stats = m.get("stats", m)
    return stats["views_per_sec"]


def head_top1(args, features, scratch, seed):
    out = os.path.join(scratch, f"head-{seed}")
    run([args.pipeline, "train-head", "--features", features, "--out", out, "--seed", str(seed), "--force"])
    run([args.pipeline, "eval", "--features", features, "--run", out, "--split", "test"])
    with open(os.path.join(out, "eval-test", "metrics.json")) as f:
        return json.load(f)["top1"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--data", required=True, help="raw ImageFolder tree")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--calib-images", type=int, default=48)
    ap.add_argument("--pipeline", default=os.path.join(ROOT, "target/release/pipeline"))
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    w = args.workdir or tempfile.mkdtemp(prefix="int8-bench-")
    common = ["--data", args.data, "--model", args.model, "--passes", "1", "--device", "cpu",
              "--threads", str(args.threads), "--seed", "0"]
    run([args.pipeline, "run", "--workdir", os.path.join(w, "f32")] + common)
    run([args.pipeline, "run", "--workdir", os.path.join(w, "int8"), "--precision", "int8",
         "--calib-images", str(args.calib_images)] + common)
    int8 = glob.glob(os.path.join(w, "int8", "models", "*.onnx"))[0]
    split = os.path.join(w, "f32", "data")
    rates = {"f32": [], "int8": []}
    for r in range(args.rounds):
        for name, model in [("f32", args.model), ("int8", int8)]:
            rates[name].append(extract_rate(args, model, split, w, f"{name}-{r}"))
            print(f"round {r} {name}: {rates[name][-1]:.2f} img/s (load {os.getloadavg()[0]:.1f})", flush=True)
    cos = cosines(os.path.join(w, "f32", "features"), os.path.join(w, "int8", "features"))
    tops = {k: [head_top1(args, os.path.join(w, k, "features"), os.path.join(w, k), s)
                for s in range(args.seeds)] for k in ["f32", "int8"]}
    med = {k: statistics.median(v) for k, v in rates.items()}
    ratios = [i / f for f, i in zip(rates["f32"], rates["int8"])]
    report = {
        "model": args.model, "threads": args.threads, "batch": args.batch, "rounds": args.rounds,
        "img_per_s": rates, "median_img_per_s": med, "speedup_median": med["int8"] / med["f32"],
        "speedup_per_round": ratios, "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
        "cosine_images": int(len(cos)),
        "top1_seed0": {k: v[0] for k, v in tops.items()},
        "top1_mean": {k: float(np.mean(v)) for k, v in tops.items()}, "top1_all": tops,
        "workdir": w,
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
