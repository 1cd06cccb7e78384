#!/usr/bin/env python3
"""Copy an ONNX backbone to float16 inside, float32 at its edges, with its sidecar.

  f16_model.py --in MODEL.onnx --out MODEL-f16.onnx

Every float32 initializer becomes float16; a Cast turns the float32 input into float16 before the
first node and another turns the output back into float32, so `pipeline bench` feeds and reads the
copy exactly as the original (its sidecar is the original's, renamed). For graphs of Conv, Relu,
MaxPool, Transpose, GlobalAveragePool, Flatten and Gemm (the VGG-16 models of the GPU check);
other float32 constants or typed value infos are refused rather than left mixed. Needs onnx, numpy.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SUPPORTED = {"Conv", "Relu", "MaxPool", "Transpose", "GlobalAveragePool", "Flatten", "Gemm"}


def convert(model):
    g = model.graph
    odd = sorted({n.op_type for n in g.node} - SUPPORTED)
    if odd or len(g.input) != 1 or len(g.output) != 1 or len(g.value_info):
        sys.exit(f"error: f16_model.py handles one-input one-output graphs of {sorted(SUPPORTED)} "
                 f"without value_info; this one has ops {odd}, {len(g.input)} inputs, {len(g.output)} outputs")
    for i, t in enumerate(g.initializer):
        if t.data_type == TensorProto.FLOAT:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    x, y = g.input[0].name, g.output[0].name
    for n in g.node:
        n.input[:] = [f"{x}_f16" if i == x else i for i in n.input]
        n.output[:] = [f"{y}_f16" if o == y else o for o in n.output]
    g.node.insert(0, helper.make_node("Cast", [x], [f"{x}_f16"], name="cast_in_f16", to=TensorProto.FLOAT16))
    g.node.append(helper.make_node("Cast", [f"{y}_f16"], [y], name="cast_out_f32", to=TensorProto.FLOAT))
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--in", dest="src", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    model = convert(onnx.load(args.src))
    onnx.checker.check_model(model)
    onnx.save(model, args.out)
    with open(os.path.splitext(args.src)[0] + ".json") as f:
        side = json.load(f)
    side["name"] = side["name"] + "-f16"
    side["source"] = f"float16 copy of {os.path.basename(args.src)} (scripts/gpu/f16_model.py); " + side["source"]
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(side, f, indent=2)
        f.write("\n")
    print(f"wrote {args.out} ({os.path.getsize(args.out) / 1e6:.1f} MB) and its sidecar")


if __name__ == "__main__":
    main()
