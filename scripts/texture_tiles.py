#!/usr/bin/env python3
"""A homogeneous data set for the audit: non-overlapping tiles of texture photos (needs pillow).

  scripts/texture_tiles.py DST PHOTO... [--tile 64]

Each photo becomes one class folder DST/<photo stem>/ of its non-overlapping TILE×TILE grayscale
tiles, saved as PNG: images of one kind taken the same way, none a copy of another. With
scikit-image's brick, grass and gravel (512×512, from `scripts/sample_photos.py`) and --tile 64,
that is 3 classes of 64 tiles.
"""
import argparse
from pathlib import Path

from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dst", type=Path)
    ap.add_argument("photos", type=Path, nargs="+")
    ap.add_argument("--tile", type=int, default=64)
    a = ap.parse_args()
    for photo in a.photos:
        img = Image.open(photo).convert("L")
        out = a.dst / photo.stem
        out.mkdir(parents=True, exist_ok=True)
        t = a.tile
        for y in range(0, img.height - t + 1, t):
            for x in range(0, img.width - t + 1, t):
                img.crop((x, y, x + t, y + t)).save(out / f"{photo.stem}_{y // t:02}_{x // t:02}.png")


if __name__ == "__main__":
    main()
