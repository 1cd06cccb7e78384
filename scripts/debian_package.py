"""Shared by the dataset fetchers: unpack a Debian package without root, prepare an output folder,
parse the options of a fetcher that writes one folder per class.

`unpack(package, deb, tmp)` runs `apt-get download PACKAGE` in `tmp` (unless `deb` names an already
downloaded .deb), then `dpkg-deb -x` into `tmp/x`, and returns that folder. Errors end the script
with a one-line cause and the fix.
"""
import argparse
import shutil
import subprocess
import sys
from pathlib import Path


def run(cmd, cwd):
    try:
        subprocess.run(cmd, cwd=cwd, check=True)
    except FileNotFoundError:
        sys.exit(f"error: {cmd[0]} not found; this script needs a Debian-based system (apt-get, dpkg-deb)")
    except subprocess.CalledProcessError as e:
        sys.exit(f"error: {' '.join(cmd)} failed with exit code {e.returncode}")


def unpack(package, deb, tmp):
    if deb is None:
        run(["apt-get", "download", package], cwd=tmp)
        debs = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if not debs:
            sys.exit(f"error: apt-get download left no {package}_*.deb in {tmp}; try `apt-get update` first")
        deb = debs[-1]
    root = Path(tmp) / "x"
    run(["dpkg-deb", "-x", str(deb), str(root)], cwd=tmp)
    return root


def prepare_out(out, force):
    """Refuses a non-empty `out` unless `force`, in which case it is removed."""
    if out.exists() and any(out.iterdir()):
        if not force:
            sys.exit(f"error: {out} exists and is not empty; pass --force to replace it")
        shutil.rmtree(out)


def class_tree_args(doc, default_out, package, per_class_help):
    """Parses and checks the options of a fetcher that writes OUT/<class>/…: --out, --per-class N
    (at least 1), --deb (an already downloaded PACKAGE .deb), --force."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(default_out))
    ap.add_argument("--per-class", type=int, default=None, help=per_class_help)
    ap.add_argument("--deb", type=Path, help=f"an already downloaded {package}_*.deb")
    ap.add_argument("--force", action="store_true", help="replace an existing OUT")
    args = ap.parse_args()
    if args.per_class is not None and args.per_class < 1:
        sys.exit("error: --per-class must be at least 1")
    return args


def prepare_class_tree(out, force, classes):
    """[`prepare_out`], then one empty folder per class."""
    prepare_out(out, force)
    for c in classes:
        (out / c).mkdir(parents=True, exist_ok=True)
