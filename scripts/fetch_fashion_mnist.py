#!/usr/bin/env python3
"""Build Fashion-MNIST as a raw ImageFolder tree of 28x28 gray PNGs.

Needs: Debian/Ubuntu with apt-get and dpkg-deb (no root), Python 3 standard library only,
access to the Debian package archive (or --deb with an already downloaded package).
Does: `apt-get download dataset-fashion-mnist` (MIT, ~31 MB), `dpkg-deb -x`, reads the four IDX
gzip files under usr/share/datasets/fashion-mnist/ and writes OUT/<class>/<set>_<index>.png
(set = train or t10k; 7,000 images per class in all, 70,000 in total), at most --per-class N
per class (the first N of the training set, then of the test set).

Usage: scripts/fetch_fashion_mnist.py [--out data/fashion-mnist] [--per-class N] [--deb FILE.deb] [--force]
"""
import gzip
import struct
import sys
import tempfile
import zlib
from pathlib import Path

from debian_package import class_tree_args, prepare_class_tree, unpack

PACKAGE = "dataset-fashion-mnist"
DATA = Path("usr/share/datasets/fashion-mnist")
CLASSES = ["t-shirt_top", "trouser", "pullover", "dress", "coat",
           "sandal", "shirt", "sneaker", "bag", "ankle_boot"]


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got, n = struct.unpack(">II", data[:8])
    if got != magic:
        sys.exit(f"error: {path}: IDX magic {got:#x}, expected {magic:#x}")
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return n, rows, cols, data[16:]
    return n, 0, 0, data[8:]


def gray_png(pixels, w, h):
    """8-bit grayscale PNG, no filtering."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\x00" + pixels[r * w:(r + 1) * w] for r in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")


def extract(deb, tmp):
    return unpack(PACKAGE, deb, tmp) / DATA


def write_set(data, name, out, per_class, counts):
    n, h, w, pixels = read_idx(data / f"{name}-images-idx3-ubyte.gz", 0x803)
    m, _, _, labels = read_idx(data / f"{name}-labels-idx1-ubyte.gz", 0x801)
    if n != m:
        sys.exit(f"error: {name}: {n} images but {m} labels")
    size = h * w
    for i in range(n):
        c = labels[i]
        if per_class is not None and counts[c] >= per_class:
            continue
        img = pixels[i * size:(i + 1) * size]
        (out / CLASSES[c] / f"{name}_{i:05d}.png").write_bytes(gray_png(img, w, h))
        counts[c] += 1


def main():
    args = class_tree_args(__doc__, "data/fashion-mnist", PACKAGE, "at most N images per class (default: all 7,000)")
    prepare_class_tree(args.out, args.force, CLASSES)
    counts = [0] * len(CLASSES)
    with tempfile.TemporaryDirectory() as tmp:
        data = extract(args.deb.resolve() if args.deb else None, tmp)
        for name in ("train", "t10k"):
            write_set(data, name, args.out, args.per_class, counts)
    for c, k in zip(CLASSES, counts):
        print(f"{c:12} {k:5}")
    print(f"{sum(counts)} images in {len(CLASSES)} classes under {args.out}")


if __name__ == "__main__":
    main()
