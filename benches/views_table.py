#!/usr/bin/env python3
"""The view-set table of docs/performance.md from `benches/views_compare.sh` outputs.

For every data set folder under ROOT (default work/views-compare) and every selection TAG given
('' = choose on the valid split, e.g. _folds5 = `--select-folds 5`): each view set's cv top-1
(mean ± SD) and its paired difference to the 12 exact crops in f32 over the same re-splits
(mean, SE, re-splits worse), then each view set's paired difference between two tags (what the
selection does), and the extract speed each run printed. Needs only the standard library.

Usage: benches/views_table.py [--root work/views-compare] [--head auto] [--tags '' _folds5]
"""
import argparse
import json
import re
import statistics
from pathlib import Path

NAMES = {
    "crops": "12 exact crops, f32",
    "dense": "dense, int8",
    "dw": "dense+whole, int8",
    "dwn": "dense+whole-noflip, int8",
    "dnw": "dense-noflip+whole, int8 (the default)",
    "dnwn": "dense-noflip+whole-noflip, int8",
}


def load(path):
    if not path.is_file():
        return None
    d = json.load(open(path))
    if not d.get("complete", True):
        return None
    return {r["repeat"]: 100 * r["top1"] for r in d["rows"]}


def paired(a, b):
    keys = sorted(set(a) & set(b))
    d = [b[k] - a[k] for k in keys]
    se = statistics.stdev(d) / len(d) ** 0.5 if len(d) > 1 else float("nan")
    return statistics.mean(d), se, sum(x < 0 for x in d), len(d)


def speed(out):
    """(views/s, images) of a run's summary, or None."""
    if not out.is_file():
        return None
    text = out.read_text()
    m = re.search(r"extract\s+computed ([\d,]+) rows at ([\d.]+) views/s", text)
    n = re.search(r"train (\d+) / valid (\d+) / test (\d+)", text)
    if not (m and n):
        return None
    images = sum(int(x) for x in n.groups())
    return float(m.group(2)), int(m.group(1).replace(",", "")) / images, images


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path("work/views-compare"))
    ap.add_argument("--head", default="auto")
    ap.add_argument("--tags", nargs="+", default=["", "_folds5"])
    a = ap.parse_args()
    print("| data set | selection | view set | cv top-1 | paired vs 12 exact crops f32 | extract |")
    print("|---|---|---|---|---|---|")
    effects = []
    for ds in sorted(p for p in a.root.iterdir() if p.is_dir()):
        for tag in a.tags:
            sel = "valid split" if tag == "" else tag.lstrip("_").replace("folds", "") + "-fold"
            base = load(ds / f"cv_crops_{a.head}{tag}.json")
            for name, label in NAMES.items():
                got = load(ds / f"cv_{name}_{a.head}{tag}.json")
                if got is None:
                    continue
                top = f"{statistics.mean(got.values()):.1f} ± {statistics.stdev(got.values()):.1f}"
                if name == "crops" or base is None:
                    vs = "—"
                else:
                    m, se, worse, n = paired(base, got)
                    vs = f"{m:+.2f} (SE {se:.2f}; worse on {worse} of {n})"
                sp = speed(ds / f"{name}.out")
                ext = f"{sp[0]:.1f} views/s ({sp[1]:.0f} views an image)" if sp else "—"
                print(f"| {ds.name} ({len(got)} re-splits) | {sel} | {label} | {top} | {vs} | {ext} |")
        for name, label in NAMES.items():
            runs = [load(ds / f"cv_{name}_{a.head}{t}.json") for t in a.tags]
            if len(runs) == 2 and all(runs):
                m, se, worse, n = paired(runs[0], runs[1])
                effects.append(f"| {ds.name} | {label} | {m:+.2f} (SE {se:.2f}; worse on {worse} of {n}) |")
    if effects:
        print()
        print(f"| data set | view set | {a.tags[1].lstrip('_')} − valid split (paired) |")
        print("|---|---|---|")
        print("\n".join(effects))


if __name__ == "__main__":
    main()
