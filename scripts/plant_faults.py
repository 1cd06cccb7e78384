#!/usr/bin/env python3
"""Copy an ImageFolder tree and plant faults for `pipeline audit` to find (needs pillow).

  scripts/plant_faults.py SRC DST [--wrong N] [--moved N] [--resized N] [--exact N] [--cropped N]
                          [--brightened N] [--one-class NAME --folders K] [--seed S]

Plants, and prints as JSON lines (the answer key, one per fault):
- --wrong N: images copied byte for byte into a wrong class (DST/<other>/planted_wrong_<i>_<file>);
- --moved N: images moved into a wrong class, no copy left behind (DST/<other>/planted_moved_<i>_<file>);
- --resized N: 75 %-size JPEG (q90) copies in their own class (planted_resized_<i>_<stem>.jpg);
- --exact N: byte-identical copies in their own class (planted_exact_<i>_<file>);
- --cropped N: copies with 4 % cut from every side, PNG (planted_cropped_<i>_<stem>.png);
- --brightened N: copies 20 % brighter, PNG (planted_bright_<i>_<stem>.png).

--one-class NAME builds a homogeneous data set instead of copying SRC: the images of SRC/NAME only,
dealt at random into K folders `group_0 … group_{K-1}` (classes that mean nothing), then plants.
"""
import argparse
import json
import random
import shutil
from pathlib import Path

from PIL import Image, ImageEnhance


def rgb(path):
    img = Image.open(path)
    img = img.convert("RGBA") if "A" in img.getbands() or img.mode == "P" else img.convert("RGB")
    if img.mode == "RGBA":
        bg = Image.new("RGB", img.size, "white")
        bg.paste(img, mask=img.split()[3])
        img = bg
    return img


def copy_tree(a, rng):
    if a.one_class is None:
        shutil.copytree(a.src, a.dst, symlinks=False)
        return
    files = sorted(p for p in (a.src / a.one_class).iterdir() if p.is_file())
    rng.shuffle(files)
    for i, f in enumerate(files):
        d = a.dst / f"group_{i % a.folders}"
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy(f, d / f.name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--wrong", type=int, default=3)
    ap.add_argument("--moved", type=int, default=0)
    ap.add_argument("--resized", type=int, default=3)
    ap.add_argument("--exact", type=int, default=0)
    ap.add_argument("--cropped", type=int, default=0)
    ap.add_argument("--brightened", type=int, default=0)
    ap.add_argument("--one-class", default=None)
    ap.add_argument("--folders", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.dst.exists():
        shutil.rmtree(a.dst)
    rng = random.Random(a.seed)
    copy_tree(a, rng)
    classes = sorted(p.name for p in a.dst.iterdir() if p.is_dir())
    files = {c: sorted(p for p in (a.dst / c).iterdir() if p.is_file()) for c in classes}
    kinds = ["wrong", "resized", "exact", "cropped", "brightened", "moved"]
    total = sum(getattr(a, k) for k in kinds)
    picks = iter(rng.sample([(c, f) for c in classes for f in files[c]], total))
    for i in range(a.wrong):
        c, f = next(picks)
        other = rng.choice([k for k in classes if k != c])
        out = a.dst / other / f"planted_wrong_{i}_{f.name}"
        shutil.copy(f, out)
        print(json.dumps({"fault": "wrong_class", "path": f"{other}/{out.name}", "given": other, "true": c, "original": f"{c}/{f.name}"}))
    for i in range(a.resized):
        c, f = next(picks)
        img = rgb(f)
        small = img.resize((max(1, img.width * 3 // 4), max(1, img.height * 3 // 4)), Image.BILINEAR)
        out = a.dst / c / f"planted_resized_{i}_{f.stem}.jpg"
        small.save(out, quality=90)
        print(json.dumps({"fault": "resized_copy", "path": f"{c}/{out.name}", "original": f"{c}/{f.name}"}))
    for i in range(a.exact):
        c, f = next(picks)
        out = a.dst / c / f"planted_exact_{i}_{f.name}"
        shutil.copy(f, out)
        print(json.dumps({"fault": "exact_copy", "path": f"{c}/{out.name}", "original": f"{c}/{f.name}"}))
    for i in range(a.cropped):
        c, f = next(picks)
        img = rgb(f)
        dx, dy = round(img.width * 0.04), round(img.height * 0.04)
        out = a.dst / c / f"planted_cropped_{i}_{f.stem}.png"
        img.crop((dx, dy, img.width - dx, img.height - dy)).save(out)
        print(json.dumps({"fault": "cropped_copy", "path": f"{c}/{out.name}", "original": f"{c}/{f.name}"}))
    for i in range(a.brightened):
        c, f = next(picks)
        out = a.dst / c / f"planted_bright_{i}_{f.stem}.png"
        ImageEnhance.Brightness(rgb(f)).enhance(1.2).save(out)
        print(json.dumps({"fault": "brightened_copy", "path": f"{c}/{out.name}", "original": f"{c}/{f.name}"}))
    for i in range(a.moved):
        c, f = next(picks)
        other = rng.choice([k for k in classes if k != c])
        out = a.dst / other / f"planted_moved_{i}_{f.name}"
        shutil.move(f, out)
        print(json.dumps({"fault": "moved", "path": f"{other}/{out.name}", "given": other, "true": c}))


if __name__ == "__main__":
    main()
