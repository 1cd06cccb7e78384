#!/usr/bin/env python3
"""Build the UCI handwritten digits (as shipped in scikit-learn) as a raw ImageFolder tree of 8x8 gray PNGs.

A data set far from ImageNet's photos: 1,797 scanned digits, 8x8 pixels, 17 gray levels, 10 classes.

Needs: Debian/Ubuntu with apt-get and dpkg-deb (no root), Python 3 standard library only,
access to the Debian package archive (or --deb with an already downloaded package).
Does: `apt-get download python3-sklearn` (BSD-3, ~2.5 MB), `dpkg-deb -x`, reads
sklearn/datasets/data/digits.csv.gz (64 pixel values 0..16 then the label, one row per image) and
writes OUT/<digit>/digit_<row>.png with values scaled to 0..255 (v * 255 // 16), at most
--per-class N per class (the first N rows of each class, in file order).

Usage: scripts/fetch_digits.py [--out data/digits] [--per-class N] [--deb FILE.deb] [--force]
"""
import gzip
import sys
import tempfile
from pathlib import Path

from debian_package import class_tree_args, prepare_class_tree, unpack
from fetch_fashion_mnist import gray_png

PACKAGE = "python3-sklearn"
CSV = Path("usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz")
CLASSES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def read_rows(path):
    """(row number, 64 pixel bytes, label) for every line of digits.csv.gz."""
    with gzip.open(path, "rt") as f:
        for i, line in enumerate(f):
            values = [int(float(v)) for v in line.strip().split(",")]
            if len(values) != 65 or not all(0 <= v <= 16 for v in values[:64]) or not 0 <= values[64] <= 9:
                sys.exit(f"error: {path}: line {i + 1} is not 64 values in 0..16 and a label in 0..9")
            yield i, bytes(v * 255 // 16 for v in values[:64]), values[64]


def main():
    args = class_tree_args(__doc__, "data/digits", PACKAGE, "at most N images per class (default: all, ~180)")
    prepare_class_tree(args.out, args.force, CLASSES)
    counts = [0] * len(CLASSES)
    with tempfile.TemporaryDirectory() as tmp:
        csv = unpack(PACKAGE, args.deb.resolve() if args.deb else None, tmp) / CSV
        if not csv.is_file():
            sys.exit(f"error: {PACKAGE} has no {CSV}; pass --deb with python3-sklearn 1.x")
        for i, pixels, label in read_rows(csv):
            if args.per_class is not None and counts[label] >= args.per_class:
                continue
            (args.out / CLASSES[label] / f"digit_{i:04d}.png").write_bytes(gray_png(pixels, 8, 8))
            counts[label] += 1
    for c, k in zip(CLASSES, counts):
        print(f"{c:6} {k:4}")
    print(f"{sum(counts)} images in {len(CLASSES)} classes under {args.out}")


if __name__ == "__main__":
    main()
