#!/usr/bin/env python3
"""Write a split tree of synthetic JPEGs for throughput runs: OUT/{train,valid,test}/<class>/NNNNN.jpg.

  make_jpegs.py --out DIR [--images 3000] [--classes 10] [--workers N] [--seed 0]

Images are photo-sized (width 320-640, height 240-480, both even), smooth colour fields with
per-class tints, shapes and noise, quality 90: decoding and resizing them costs what a camera
photo of that size costs, which is what extract's end-to-end rate depends on. Half go to train,
a quarter each to valid and test. Deterministic in --seed. OUT.complete (beside OUT) is written last.
Needs numpy and Pillow.
"""
import argparse
import os
from multiprocessing import Pool

import numpy as np
from PIL import Image, ImageDraw

SPLITS = ((0.5, "train"), (0.75, "valid"), (1.0, "test"))


def split_of(i, n):
    return next(name for edge, name in SPLITS if i < edge * n)


def make(job):
    out, i, n, classes, seed = job
    rng = np.random.default_rng([seed, i])
    label = i % classes
    w, h = 2 * int(rng.integers(160, 321)), 2 * int(rng.integers(120, 241))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tint = np.array([(label * 53) % 256, (label * 97) % 256, (label * 151) % 256], np.float32)
    field = (np.sin(xx / rng.uniform(20, 80) + rng.uniform(0, 6)) + np.cos(yy / rng.uniform(20, 80))) * 50
    img = np.clip(tint + field[..., None] + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
    pic = Image.fromarray(img)
    draw = ImageDraw.Draw(pic)
    for _ in range(4):
        x0, y0 = int(rng.integers(0, w - 40)), int(rng.integers(0, h - 40))
        box = [x0, y0, x0 + int(rng.integers(20, w // 2)), y0 + int(rng.integers(20, h // 2))]
        draw.ellipse(box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    d = os.path.join(out, split_of(i, n), f"class{label:02d}")
    os.makedirs(d, exist_ok=True)
    pic.save(os.path.join(d, f"{i:05d}.jpg"), quality=90)
    return os.path.getsize(os.path.join(d, f"{i:05d}.jpg"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--images", type=int, default=3000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.images < 4 * args.classes:
        raise SystemExit(f"--images must be at least 4 x --classes ({4 * args.classes}) so every split holds every class")
    jobs = [(args.out, i, args.images, args.classes, args.seed) for i in range(args.images)]
    with Pool(args.workers) as pool:
        sizes = pool.map(make, jobs, chunksize=16)
    open(args.out.rstrip("/") + ".complete", "w").close()
    print(f"wrote {args.images} JPEGs ({sum(sizes) / 1e6:.1f} MB) in {args.classes} classes under {args.out}")


if __name__ == "__main__":
    main()
