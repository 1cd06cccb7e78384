#!/usr/bin/env python3
"""Side-by-side throughput: `pipeline extract` vs bare ONNX Runtime (`pipeline bench`) vs PyTorch's
extraction loop (scripts/bench_torch_extract.py), same model, same batch, same images, CPU.

Needs: python3 (stdlib only) to drive; target/release/pipeline built; ORT_DYLIB_PATH set (or
.ort/cpu/ present); for the torch rows a python with torch (--torch-python, default
/opt/pyenv/torch/bin/python). Not used by CI.

Each round runs every configuration once, in the same order (bench, each extract setting, each
torch setting), so slow spells of a shared machine hit all of them alike; the report gives the
median over rounds plus min/max, and the load average seen before each run. Every run's raw record
is appended as one JSON line to --log.

Extract is run with --passes 1 into a fresh, empty cache directory each time, so every image of every
split is decoded, transformed and run once: images/s = views/s from the cache manifest (engine
time: first decode to last shard written, model load excluded). Bench is the median per-batch time
over --bench-repeats calls on pre-made random tensors (one warm-up call first).

Run: python3 benches/extract_bench.py --model models/efficientnet-lite0.onnx --data data/fm-2000 \
       --rounds 3 --extract "default" "--workers 1" --torch-workers 0 2
"""
import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run(cmd, env=None):
    """Runs cmd, returns (stdout, wall seconds); exits with the command's stderr on failure."""
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {shlex.join(cmd)}\n{p.stderr[-2000:]}")
    return p.stdout, wall


def bench(args, extra):
    cmd = [args.pipeline, "bench", "--model", args.model, "--batch", str(args.batch),
           "--repeats", str(args.bench_repeats), "--json"] + extra
    out, wall = run(cmd)
    rec = json.loads(out.strip().splitlines()[-1])
    return cmd, rec["images_per_sec"], wall


def extract(args, extra, scratch):
    out_dir = os.path.join(scratch, "cache")
    shutil.rmtree(out_dir, ignore_errors=True)  # an up-to-date cache would be reused, even with --force
    cmd = [args.pipeline, "extract", "--model", args.model, "--data", args.data, "--out", out_dir,
           "--passes", "1", "--batch", str(args.batch)] + extra
    _, wall = run(cmd)
    with open(os.path.join(out_dir, "manifest.json")) as f:
        stats = json.load(f)["stats"]
    return cmd, stats["views_per_sec"], wall, stats["views"]


def torch_loop(args, workers):
    name = os.path.splitext(os.path.basename(args.model))[0]
    cmd = [args.torch_python, "scripts/bench_torch_extract.py", "--model", name, "--onnx", args.model,
           "--data", args.data, "--batch", str(args.batch), "--workers", str(workers),
           "--threads", str(args.torch_threads)]
    if args.torch_limit:
        cmd += ["--limit", str(args.torch_limit)]
    out, wall = run(cmd)
    rec = json.loads(out.strip().splitlines()[-1])
    return cmd, rec["images_per_sec"], wall, rec["images"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="ONNX backbone (sidecar beside it)")
    ap.add_argument("--data", required=True, help="split tree (pipeline split --exact)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bench-repeats", type=int, default=5)
    ap.add_argument("--bench", nargs="*", default=["default"],
                    help="pipeline bench settings, e.g. 'default' '--threads 1'")
    ap.add_argument("--extract", nargs="*", default=["default"],
                    help="pipeline extract settings, e.g. 'default' '--workers 1 --threads 2'")
    ap.add_argument("--torch-workers", type=int, nargs="*", default=[0, 2])
    ap.add_argument("--torch-threads", type=int, default=2)
    ap.add_argument("--torch-limit", type=int, default=0,
                    help="torch rows use only the first N images (it is 10x slower; 0 = all)")
    ap.add_argument("--torch-python", default="/opt/pyenv/torch/bin/python")
    ap.add_argument("--pipeline", default=os.path.join(ROOT, "target/release/pipeline"))
    ap.add_argument("--log", default=os.path.join(ROOT, "benches/runs.jsonl"))
    args = ap.parse_args()
    os.environ.setdefault("ORT_DYLIB_PATH", os.path.join(ROOT, ".ort/cpu/libonnxruntime.so"))

    rows = {}
    with tempfile.TemporaryDirectory(prefix="extract-bench-") as scratch, open(args.log, "a") as log:
        for rnd in range(args.rounds):
            jobs = [("bench " + s, lambda s=s: bench(args, [] if s == "default" else shlex.split(s)))
                    for s in args.bench]
            jobs += [("extract " + s, lambda s=s: extract(args, [] if s == "default" else shlex.split(s), scratch))
                     for s in args.extract]
            jobs += [(f"torch workers={w}", lambda w=w: torch_loop(args, w)) for w in args.torch_workers]
            for name, job in jobs:
                load = loadavg()
                res = job()
                cmd, ips, wall = res[0], res[1], res[2]
                rec = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "round": rnd, "config": name,
                       "model": args.model, "data": args.data, "batch": args.batch, "images_per_sec": ips,
                       "wall_s": round(wall, 2), "load_before": load, "cmd": shlex.join(cmd)}
                if len(res) > 3:
                    rec["images"] = res[3]
                log.write(json.dumps(rec) + "\n")
                log.flush()
                print(f"round {rnd} {name:<34} {ips:8.2f} img/s  wall {wall:6.1f} s  load {load:.2f}",
                      flush=True)
                rows.setdefault(name, []).append((ips, load))
    base = statistics.median(v for v, _ in rows[f"bench {args.bench[0]}"])
    print(f"\n| config | images/s median (min–max) of {args.rounds} | vs bare ORT ({args.bench[0]}) | load avg |")
    print("|---|---|---|---|")
    for name, vals in rows.items():
        ips = [v for v, _ in vals]
        med = statistics.median(ips)
        loads = ", ".join(f"{x:.1f}" for _, x in vals)
        print(f"| {name} | {med:.1f} ({min(ips):.1f}–{max(ips):.1f}) | {100 * med / base:.0f} % | {loads} |")


if __name__ == "__main__":
    main()
