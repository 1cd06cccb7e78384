#!/usr/bin/env python3
"""Build the Tux Paint photo dataset: a raw ImageFolder tree of real photo cut-outs.

Needs: Debian/Ubuntu with apt-get and dpkg-deb (no root), Python 3 standard library only,
access to the Debian package archive (or --deb with an already downloaded package).
Does: `apt-get download tuxpaint-stamps-default` (GPL-2, ~160 MB), `dpkg-deb -x` into a
temporary folder, then copies a hand-curated selection of real photographs (drawings and
cartoons excluded after looking at every stamp) into OUT/<class>/<name>.png:
27 classes, 3-35 images each, transparent PNGs of uneven sizes.
The images stay GPL-2 (Tux Paint stamps): never commit them.

Usage: scripts/fetch_tuxpaint.py [--out data/tuxpaint] [--deb FILE.deb] [--force]
"""
import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from debian_package import prepare_out, unpack

PACKAGE = "tuxpaint-stamps-default"
STAMPS = Path("usr/share/tuxpaint/stamps")

# class -> list of (stamp folder, names to keep or None for all, names to drop)
CLASSES = {
    "balls": [("sports", ["australian_rules_football", "basketball", "cricketball",
                          "football", "soccer", "tennis_ball"], [])],
    "big_cats": [("animals/mammals/cats", None, [])],
    "birds": [("animals/birds", None, [])],
    "bovids": [("animals/mammals/bovines", None, [])],
    "coins": [("symbols/money/canadian/coins", None, [])],
    "deer": [("animals/mammals/deer", None, [])],
    "dogs": [("animals/mammals/dogs", None, [])],
    "fish": [("animals/fish", None, [])],
    "flowers": [("plants/flowers", None, [])],
    "fruit": [("food/fruit", None, [])],
    "gravestones": [("seasonal/halloween", [f"grave-{c}" for c in "abcdefghij"], [])],
    "horses": [("animals/mammals/equines", None, [])],
    "insects": [("animals/insects", None, [])],
    "instruments": [("hobbies/music/brass", None, []), ("hobbies/music/percussion", None, []),
                    ("hobbies/music/string", None, []), ("hobbies/music/wind", None, [])],
    "marsupials": [("animals/marsupials", None, [])],
    "military_vehicles": [("military/vehicles", None, [])],
    "mushrooms": [("plants/mushrooms", None, [])],
    "nuts": [("food/nuts", None, [])],
    "pigs": [("animals/mammals", ["pig", "pig_golden", "pig_golden2", "wildboar"], [])],
    "planets": [("space/planets", None, ["0_sun", "6_saturn"])],
    "primates": [("animals/mammals/apes", None, [])],
    "road_vehicles": [("vehicles/auto", None, []), ("vehicles/masstransit", None, []),
                      ("vehicles/race", None, []), ("vehicles/emergency", ["firetruck"], [])],
    "rodents": [("animals/mammals/rodents", None, [])],
    "sea_mammals": [("animals/mammals/aquatic", None, [])],
    "tools": [("household/tools", None, [])],
    "trees_plants": [("plants/trees", None, []), ("plants", None, [])],
    "vegetables": [("food/vegetables", None, [])],
}
MIN_PER_CLASS = 3


def extract(deb, tmp):
    return unpack(PACKAGE, deb, tmp) / STAMPS


def select(stamps, folder, keep, drop):
    files = sorted((stamps / folder).glob("*.png"))
    if keep is not None:
        files = [f for f in files if f.stem in keep]
        missing = set(keep) - {f.stem for f in files}
        if missing:
            sys.exit(f"error: {folder}: stamps {sorted(missing)} not in this package version")
    return [f for f in files if f.stem not in drop]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/tuxpaint"))
    ap.add_argument("--deb", type=Path, help=f"an already downloaded {PACKAGE}_*.deb")
    ap.add_argument("--force", action="store_true", help="replace an existing OUT")
    args = ap.parse_args()
    prepare_out(args.out, args.force)
    with tempfile.TemporaryDirectory() as tmp:
        stamps = extract(args.deb.resolve() if args.deb else None, tmp)
        total = 0
        for cls, sources in sorted(CLASSES.items()):
            files = [f for (folder, keep, drop) in sources for f in select(stamps, folder, keep, drop)]
            if len(files) < MIN_PER_CLASS:
                sys.exit(f"error: class {cls} has {len(files)} images (< {MIN_PER_CLASS})")
            dest = args.out / cls
            dest.mkdir(parents=True, exist_ok=True)
            for f in files:
                target = dest / f.name
                if target.exists():
                    target = dest / f"{f.parent.name}_{f.name}"
                shutil.copyfile(f, target)
            total += len(files)
            print(f"{cls:18} {len(files):3}")
    print(f"{total} images in {len(CLASSES)} classes under {args.out}")


if __name__ == "__main__":
    main()
