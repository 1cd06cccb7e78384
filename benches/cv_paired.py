#!/usr/bin/env python3
"""Paired comparison of two `pipeline cv --json` files made on the same images with the same seed
(so repeat r is the same re-split in both): mean ± SD of each, and the per-repeat difference
B − A (mean, SD, standard error, repeats better/worse/equal) of test top-1 and top-5, in points.

Usage: benches/cv_paired.py A.json B.json
"""
import json
import statistics
import sys


def rows(path):
    d = json.load(open(path))
    if not d.get("complete", True):
        sys.exit(f"{path}: cv did not finish all its repeats")
    return d, {r["repeat"]: r for r in d["rows"]}


def main():
    (da, a), (db, b) = rows(sys.argv[1]), rows(sys.argv[2])
    if da.get("seed") != db.get("seed") or sorted(a) != sorted(b):
        sys.exit("the two files do not hold the same repeats with the same seed")
    for metric in ("top1", "top5"):
        xa = [100 * a[r][metric] for r in sorted(a)]
        xb = [100 * b[r][metric] for r in sorted(a)]
        d = [y - x for x, y in zip(xa, xb)]
        sd = statistics.stdev(d) if len(d) > 1 else 0.0
        print(f"{metric}: A {statistics.mean(xa):.1f} ± {statistics.stdev(xa):.1f}, "
              f"B {statistics.mean(xb):.1f} ± {statistics.stdev(xb):.1f}; "
              f"B − A {statistics.mean(d):+.2f} (SD {sd:.2f}, SE {sd / len(d) ** 0.5:.2f}; "
              f"B better on {sum(x > 0 for x in d)}, worse on {sum(x < 0 for x in d)}, "
              f"equal on {sum(x == 0 for x in d)} of {len(d)})")


if __name__ == "__main__":
    main()
