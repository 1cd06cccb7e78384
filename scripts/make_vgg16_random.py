#!/usr/bin/env python3
"""Build a random-weight VGG-16 cut after fc7 (exactly torchvision's shapes) as ONNX + sidecar.

Needs: python3 with numpy and onnx (no torch). Writes OUT (default models/vgg16-random-fc7.onnx,
about 537 MB) and its sidecar OUT with .json. For parameter counts and speed only: the weights
are random (He-normal, numpy seed --seed), so the features mean nothing.

Graph (torchvision vgg16 names): features.{0..28} = 13 × (Conv 3×3 pad 1 + ReLU) with 5 MaxPool
2×2; avgpool (AdaptiveAvgPool2d(7) is the identity at 224×224, so omitted); Flatten;
classifier.0 Gemm 25088→4096, ReLU, classifier.3 Gemm 4096→4096, ReLU (the Dropouts are identity
in eval mode). Input `input` [batch,3,224,224] float32 NCHW; output `features` [batch,4096].
Parameters: 134,260,544.

Run: /opt/pyenv/tools/bin/python scripts/make_vgg16_random.py --out models/vgg16-random-fc7.onnx
"""
import argparse
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# torchvision cfg "D": channels per conv, "M" = max-pool.
CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in)))


def features(rng, nodes, inits, x="input"):
    """The 13 conv layers and 5 max-pools from NCHW tensor `x`; returns the last output's name."""
    c_in, idx = 3, 0
    for v in CFG:
        if v == "M":
            nodes.append(helper.make_node("MaxPool", [x], [f"features.{idx}"], name=f"features.{idx}",
                                          kernel_shape=[2, 2], strides=[2, 2]))
            x, idx = f"features.{idx}", idx + 1
            continue
        w, b = f"features.{idx}.weight", f"features.{idx}.bias"
        inits += [numpy_helper.from_array(he(rng, (v, c_in, 3, 3), c_in * 9), w),
                  numpy_helper.from_array(np.zeros(v, np.float32), b)]
        nodes.append(helper.make_node("Conv", [x, w, b], [f"features.{idx}"], name=f"features.{idx}",
                                      kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Relu", [f"features.{idx}"], [f"features.{idx + 1}"],
                                      name=f"features.{idx + 1}"))
        x, c_in, idx = f"features.{idx + 1}", v, idx + 2
    return x


def classifier(rng, x, nodes, inits):
    nodes.append(helper.make_node("Flatten", [x], ["flatten"], name="flatten", axis=1))
    x = "flatten"
    for idx, (n_in, n_out) in [(0, (512 * 7 * 7, 4096)), (3, (4096, 4096))]:
        w, b = f"classifier.{idx}.weight", f"classifier.{idx}.bias"
        inits += [numpy_helper.from_array(he(rng, (n_out, n_in), n_in), w),
                  numpy_helper.from_array(np.zeros(n_out, np.float32), b)]
        out = "features" if idx == 3 else f"classifier.{idx + 1}"
        nodes.append(helper.make_node("Gemm", [x, w, b], [f"classifier.{idx}"], name=f"classifier.{idx}",
                                      transB=1))
        nodes.append(helper.make_node("Relu", [f"classifier.{idx}"], [out], name=f"classifier.{idx + 1}"))
        x = out


def build(seed):
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = features(rng, nodes, inits)
    classifier(rng, x, nodes, inits)
    graph = helper.make_graph(
        nodes, "vgg16_fc7_random",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4096])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="make_vgg16_random.py", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def sidecar(seed):
    return {
        "schema_version": 1,
        "name": "vgg16-random-fc7",
        "arch": "vgg16",
        "input_name": "input",
        "output_name": "features",
        "input_size": 224,
        "resize_shorter": 256,
        "layout": "nchw",
        "channel_order": "rgb",
        "normalization": {"scale": 1.0 / 255.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "feature_dim": 4096,
        "source": f"random weights (make_vgg16_random.py, numpy seed {seed}), for counts and speed only",
        "licence": "random weights generated locally; no third-party weights",
    }


def run_cli(doc, default_out, build, sidecar):
    """`--out PATH --seed N`: builds the model with `build(seed)`, checks it, writes it and
    `sidecar(seed)` beside it."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", default=default_out)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    model = build(args.seed)
    onnx.checker.check_model(model)
    n_params = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    onnx.save(model, args.out)
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(sidecar(args.seed), f, indent=2)
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB, {n_params:,} parameters) and its sidecar")


def main():
    run_cli(__doc__, "models/vgg16-random-fc7.onnx", build, sidecar)


if __name__ == "__main__":
    main()
