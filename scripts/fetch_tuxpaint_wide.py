#!/usr/bin/env python3
"""Build the wide Tux Paint set: every stamp folder with at least 3 photos, flattened on white to JPEG.

Needs: what scripts/fetch_tuxpaint.py needs (apt-get and dpkg-deb, or --deb), plus Pillow
(`.venv/bin/python scripts/fetch_tuxpaint_wide.py`).
Does: unpacks `tuxpaint-stamps-default` like fetch_tuxpaint.py, then, with no hand curation, keeps a
stamp PNG as a photo when
  - it is not in a folder named `cartoon` (Tux Paint's own label for drawings),
  - it has no `.svg` sibling (those PNGs are rasterised vector drawings),
  - it is not a `_mirror`/`_flip` variant of another stamp,
  - its opaque pixels (alpha > 200) have at least 64 distinct colours (drops letters, shapes, symbols);
every folder (its own files, not its sub-folders) with at least 3 such photos becomes one class named
after its path (`animals/mammals/cats` -> `animals_mammals_cats`). Each image is composited on white and
written as OUT/<class>/<name>.jpg (quality 95). The 2022.06.04-1 package gives 49 classes, 400 images;
the set still holds a few drawings a person would drop (flags, road signs, chess pieces) and classes
that overlap (`animals_mammals` holds pigs and others): it is meant to be wide, not curated.
The images stay GPL-2 (Tux Paint stamps): never commit them.

Usage: scripts/fetch_tuxpaint_wide.py [--out data/tuxpaint-wide] [--deb FILE.deb] [--force]
"""
import argparse
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from debian_package import prepare_out
from fetch_tuxpaint import PACKAGE, extract

MIN_PER_CLASS = 3
MIN_COLOURS = 64
ALPHA_OPAQUE = 200
JPEG_QUALITY = 95


def pillow():
    try:
        from PIL import Image
    except ImportError:
        sys.exit("error: Pillow not found; run this script with .venv/bin/python or `pip install pillow`")
    return Image


def is_photo(path, rel, image_mod):
    """`rel` is `path` relative to the stamps folder (its parts name the folders)."""
    if "cartoon" in rel.parts or path.with_suffix(".svg").exists():
        return False
    if re.search(r"_(mirror|flip)$", path.stem):
        return False
    rgba = image_mod.open(path).convert("RGBA")
    alpha = rgba.getchannel("A").tobytes()
    rgb = rgba.convert("RGB").tobytes()
    colours = set()
    for i, a in enumerate(alpha):
        if a > ALPHA_OPAQUE:
            colours.add(rgb[3 * i : 3 * i + 3])
            if len(colours) >= MIN_COLOURS:
                return True
    return False


def flatten_to_jpeg(src, dest, image_mod):
    rgba = image_mod.open(src).convert("RGBA")
    white = image_mod.new("RGBA", rgba.size, (255, 255, 255, 255))
    image_mod.alpha_composite(white, rgba).convert("RGB").save(dest, "JPEG", quality=JPEG_QUALITY)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/tuxpaint-wide"))
    ap.add_argument("--deb", type=Path, help=f"an already downloaded {PACKAGE}_*.deb")
    ap.add_argument("--force", action="store_true", help="replace an existing OUT")
    args = ap.parse_args()
    image_mod = pillow()
    prepare_out(args.out, args.force)
    with tempfile.TemporaryDirectory() as tmp:
        stamps = extract(args.deb.resolve() if args.deb else None, tmp)
        folders = defaultdict(list)
        for f in sorted(stamps.rglob("*.png")):
            if is_photo(f, f.relative_to(stamps), image_mod):
                folders[f.parent.relative_to(stamps)].append(f)
        classes = {str(k).replace("/", "_"): v for k, v in folders.items() if len(v) >= MIN_PER_CLASS}
        if not classes:
            sys.exit(f"error: no stamp folder under {stamps} has {MIN_PER_CLASS} photos; is this {PACKAGE}?")
        for cls, files in sorted(classes.items()):
            dest = args.out / cls
            dest.mkdir(parents=True, exist_ok=True)
            for f in files:
                flatten_to_jpeg(f, dest / f"{f.stem}.jpg", image_mod)
            print(f"{cls:34} {len(files):3}")
    total = sum(len(v) for v in classes.values())
    print(f"{total} images in {len(classes)} classes under {args.out}")


if __name__ == "__main__":
    main()
