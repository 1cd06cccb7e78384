#!/usr/bin/env python3
# Makes the preprocessing parity fixtures in tests/fixtures/preprocess/ (checked by
# tests/preprocess_parity.rs). Needs torch + torchvision + Pillow (the torch venv:
# /opt/pyenv/torch/bin/python), and scikit-image's sample photos: pass --skimage-data DIR, or let the
# script fetch Debian's python3-skimage package with `apt-get download` + `dpkg-deb -x` (no root).
# The photos used are CC0 / public domain (chelsea, coffee: CC0; rocket: SpaceX, public domain;
# camera: CC0; astronaut: NASA, public domain).
#
# Writes:
#   in_*.png      small crops of the photos (inputs; the grayscale one is mode L)
#   eval_*.png    torchvision eval transform of an input, Resize(256) → CenterCrop(224) → ToTensor,
#                 stored losslessly as 8-bit RGB (the tensor is exactly png / 255)
#   geom_*.png    F.resized_crop(box, 256, bilinear+antialias) → F.rotate(angle, NEAREST, fill 0)
#                 → F.hflip (optional) → F.center_crop(224) → ToTensor, same encoding
#   reference.json  the cases (inputs, outputs, boxes, angles, flips) and the library versions
import argparse
import json
import pathlib
import subprocess
import tempfile

import numpy as np
import PIL
import torch
import torchvision
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "preprocess"

# name, source photo, crop box in the photo (l, t, r, b), size after downscale, gray?
INPUTS = [
    ("cat_300x200", "chelsea.png", (0, 0, 451, 300), (300, 200), False),
    ("coffee_180x260", "coffee.png", (150, 20, 420, 400), (180, 260), False),
    ("rocket_500x375", "rocket.jpg", (35, 0, 604, 427), (500, 375), False),
    ("camera_gray_257x341", "camera.png", (60, 0, 446, 512), (257, 341), True),
    ("astronaut_120x90", "astronaut.png", (0, 50, 512, 434), (120, 90), False),
]

# input, (top, left, height, width), angle (degrees, counter-clockwise), hflip
GEOMETRY = [
    ("rocket_500x375", (20, 37, 300, 410), 12.5, True),
    ("cat_300x200", (10, 5, 180, 260), -7.25, False),
    ("coffee_180x260", (30, 0, 230, 170), 15.0, True),
    ("camera_gray_257x341", (0, 0, 341, 257), -15.0, False),
]


def skimage_data(arg):
    if arg:
        return pathlib.Path(arg)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="skimage-"))
    subprocess.run(["apt-get", "download", "python3-skimage"], cwd=tmp, check=True)
    deb = next(tmp.glob("python3-skimage_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp / "x")], check=True)
    return next((tmp / "x").glob("usr/lib/python3/dist-packages/skimage/data"))


def save_tensor_png(t, path):
    """Stores a 3×H×W tensor in 0–1 as RGB PNG; asserts the encoding is lossless."""
    u8 = (t * 255).round().clamp(0, 255).to(torch.uint8)
    assert torch.allclose(u8.float() / 255, t, atol=1e-6), path
    Image.fromarray(u8.permute(1, 2, 0).numpy()).save(path, optimize=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--skimage-data", help="folder holding chelsea.png, coffee.png, ...")
    args = ap.parse_args()
    data = skimage_data(args.skimage_data)
    OUT.mkdir(parents=True, exist_ok=True)
    eval_tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    cases = {"eval": [], "geometry": []}
    for name, photo, box, size, gray in INPUTS:
        img = Image.open(data / photo).convert("L" if gray else "RGB").crop(box)
        img = img.resize(size, Image.Resampling.LANCZOS)
        img.save(OUT / f"in_{name}.png", optimize=True)
        # ImageFolder's loader: convert("RGB").
        rgb = Image.open(OUT / f"in_{name}.png").convert("RGB")
        save_tensor_png(eval_tf(rgb), OUT / f"eval_{name}.png")
        cases["eval"].append({"input": f"in_{name}.png", "reference": f"eval_{name}.png", "size": list(size)})
    for k, (name, (i, j, h, w), angle, flip) in enumerate(GEOMETRY):
        rgb = Image.open(OUT / f"in_{name}.png").convert("RGB")
        x = F.resized_crop(rgb, i, j, h, w, [256, 256], T.InterpolationMode.BILINEAR, antialias=True)
        x = F.rotate(x, angle, T.InterpolationMode.NEAREST, expand=False, center=None, fill=0)
        if flip:
            x = F.hflip(x)
        x = F.center_crop(x, [224, 224])
        ref = f"geom_{k}_{name}.png"
        save_tensor_png(F.to_tensor(x), OUT / ref)
        cases["geometry"].append({
            "input": f"in_{name}.png", "reference": ref,
            "top": i, "left": j, "height": h, "width": w, "angle_deg": angle, "hflip": flip,
        })
    cases["versions"] = {"torch": torch.__version__, "torchvision": torchvision.__version__,
                         "pillow": PIL.__version__, "numpy": np.__version__}
    (OUT / "reference.json").write_text(json.dumps(cases, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"wrote {len(list(OUT.iterdir()))} files, {total / 1e6:.2f} MB, to {OUT}")


if __name__ == "__main__":
    main()
