#!/usr/bin/env python3
"""Measures "none of these" with the tool itself: classes held out of training.

Each draw picks KNOWN classes of DATA at random, copies them into a tree, runs `pipeline run`
on it (defaults: VGG-16 conv int8 on CPU, dense views, --head auto; its train-head calibrates
the novelty threshold), then `pipeline predict --format json` on every photo of the held-out
classes (unknown) and on the known classes' test photos (known). Reports per draw and overall:
AUROC of `novelty` (unknown vs known; ties count half), the share of unknown and of known test
photos flagged `unknown`, and the run's calibration (its out-of-sample rate on train+valid).
All draws share one feature folder, so an image's rows are extracted once.

Standard library only. Usage:
  scripts/novelty_eval.py [--bin target/release/pipeline] [--data data/tuxpaint]
      [--model models/vgg16-conv.onnx] [--work work/novelty] [--draws 10] [--known 8] [--seed 0]
      [--out FILE] [--draws-from FILE]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time


def auroc(known, unknown):
    """P(novelty of an unknown photo > novelty of a known one), ties counting half."""
    if not known or not unknown:
        return float("nan")
    wins = 0.0
    for u in unknown:
        for k in known:
            wins += 1.0 if u > k else 0.5 if u == k else 0.0
    return wins / (len(known) * len(unknown))


def safetensors_metadata(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(f.read(n))["__metadata__"]


def predict(args, run, paths):
    cmd = [args.bin, "predict", "--run", run, "--format", "json", "--topk", "1", "--device", "cpu"]
    out = subprocess.run(cmd + paths, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def draw(args, d, known, classes):
    tree = os.path.join(args.work, "trees", f"d{d}")
    work = os.path.join(args.work, "runs", f"d{d}")
    shutil.rmtree(tree, ignore_errors=True)
    for c in known:
        shutil.copytree(os.path.join(args.data, c), os.path.join(tree, c))
    os.makedirs(work, exist_ok=True)
    feats = os.path.join(work, "features")
    if not os.path.lexists(feats):
        os.symlink(os.path.abspath(os.path.join(args.work, "features")), feats)
    log = os.path.join(args.work, f"run-d{d}.log")
    with open(log, "w") as f:
        subprocess.run([args.bin, "run", "--data", tree, "--model", args.model, "--workdir", work,
                        "--device", "cpu", "--seed", str(args.seed)],
                       check=True, stdout=f, stderr=subprocess.STDOUT)
    run = os.path.join(work, "runs", "auto")
    test = [os.path.join(work, "data", "test", c) for c in known]
    held = [os.path.join(args.data, c) for c in classes if c not in known]
    rows = predict(args, run, test + held)
    is_known = [r["path"].startswith(os.path.join(work, "data", "test")) for r in rows]
    nk = [r["novelty"] for r, k in zip(rows, is_known) if k]
    nu = [r["novelty"] for r, k in zip(rows, is_known) if not k]
    fk = sum(r["unknown"] for r, k in zip(rows, is_known) if k)
    fu = sum(r["unknown"] for r, k in zip(rows, is_known) if not k)
    cal = json.loads(safetensors_metadata(os.path.join(run, "novelty.safetensors"))["calibration"])
    return {
        "draw": d, "known": known, "auroc": auroc(nk, nu),
        "known_test": len(nk), "known_flagged": fk,
        "unknown": len(nu), "unknown_flagged": fu, "calibration": cal,
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="target/release/pipeline")
    p.add_argument("--data", default="data/tuxpaint")
    p.add_argument("--model", default="models/vgg16-conv.onnx")
    p.add_argument("--work", default="work/novelty")
    p.add_argument("--draws", type=int, default=10)
    p.add_argument("--known", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    p.add_argument("--draws-from", default=None,
                   help="replay the known classes of the draws in this JSON (benches/novelty_eval.rs --out)")
    args = p.parse_args()
    classes = sorted(c for c in os.listdir(args.data)
                     if os.path.isdir(os.path.join(args.data, c)) and not c.startswith("."))
    rng = random.Random(args.seed)
    os.makedirs(os.path.join(args.work, "features"), exist_ok=True)
    results = []
    start = time.time()
    replay = json.load(open(args.draws_from))["draws"] if args.draws_from else None
    for d in range(args.draws):
        known = sorted(replay[d]["known"]) if replay else sorted(rng.sample(classes, args.known))
        r = draw(args, d, known, classes)
        results.append(r)
        print(f"draw {d}: AUROC {r['auroc']:.3f}, known flagged {r['known_flagged']}/{r['known_test']}, "
              f"unknown flagged {r['unknown_flagged']}/{r['unknown']}  ({', '.join(known)})",
              file=sys.stderr, flush=True)
    n = len(results)
    mean = lambda xs: sum(xs) / len(xs)
    au = [r["auroc"] for r in results]
    sd = (sum((a - mean(au)) ** 2 for a in au) / max(n - 1, 1)) ** 0.5
    summary = {
        "draws": n, "known_classes": args.known, "classes": len(classes), "seed": args.seed,
        "auroc_mean": mean(au), "auroc_sd": sd,
        "known_flagged": sum(r["known_flagged"] for r in results),
        "known_test": sum(r["known_test"] for r in results),
        "unknown_flagged": sum(r["unknown_flagged"] for r in results),
        "unknown": sum(r["unknown"] for r in results),
        "seconds": round(time.time() - start, 1),
        "per_draw": results,
    }
    text = json.dumps(summary, indent=1)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(f"AUROC {summary['auroc_mean']:.3f} (SD {sd:.3f} over {n} draws); flagged: known test "
          f"{summary['known_flagged']}/{summary['known_test']} = "
          f"{100 * summary['known_flagged'] / max(summary['known_test'], 1):.1f} %, unknown "
          f"{summary['unknown_flagged']}/{summary['unknown']} = "
          f"{100 * summary['unknown_flagged'] / max(summary['unknown'], 1):.1f} %")


if __name__ == "__main__":
    main()
