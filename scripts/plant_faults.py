#!/usr/bin/env python3
"""Copy an ImageFolder tree and plant faults for `pipeline audit` to find (needs pillow).

  scripts/plant_faults.py SRC DST [--wrong N] [--resized N] [--seed S]

Plants N images copied into a wrong class (DST/<other>/planted_wrong_<i>_<file>) and N resized,
re-encoded copies in their own class (DST/<class>/planted_resized_<i>_<file>, 75 % size, JPEG q90),
and prints what it planted (the answer key) as JSON lines.
"""
import argparse
import json
import random
import shutil
from pathlib import Path

from PIL import Image


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--wrong", type=int, default=3)
    ap.add_argument("--resized", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.dst.exists():
        shutil.rmtree(a.dst)
    shutil.copytree(a.src, a.dst, symlinks=False)
    rng = random.Random(a.seed)
    classes = sorted(p.name for p in a.dst.iterdir() if p.is_dir())
    files = {c: sorted(p for p in (a.dst / c).iterdir() if p.is_file()) for c in classes}
    picks = rng.sample([(c, f) for c in classes for f in files[c]], a.wrong + a.resized)
    for i, (c, f) in enumerate(picks[: a.wrong]):
        other = rng.choice([k for k in classes if k != c])
        out = a.dst / other / f"planted_wrong_{i}_{f.name}"
        shutil.copy(f, out)
        print(json.dumps({"fault": "wrong_class", "path": f"{other}/{out.name}", "given": other, "true": c}))
    for i, (c, f) in enumerate(picks[a.wrong :]):
        img = Image.open(f)
        img = img.convert("RGBA") if "A" in img.getbands() or img.mode == "P" else img.convert("RGB")
        if img.mode == "RGBA":
            bg = Image.new("RGB", img.size, "white")
            bg.paste(img, mask=img.split()[3])
            img = bg
        small = img.resize((max(1, img.width * 3 // 4), max(1, img.height * 3 // 4)), Image.BILINEAR)
        out = a.dst / c / f"planted_resized_{i}_{f.stem}.jpg"
        small.save(out, quality=90)
        print(json.dumps({"fault": "resized_copy", "path": f"{c}/{out.name}", "original": f"{c}/{f.name}"}))


if __name__ == "__main__":
    main()
