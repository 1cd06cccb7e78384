#!/usr/bin/env python3
"""Static int8 quantization of an ONNX backbone with ONNX Runtime's own quantizer.

Called by `pipeline quantize` (and `pipeline run --precision int8`); the calibration tensors are
the model's own eval transform, computed in Rust and written as one float32 .npy `[N, ...input]`.
QDQ format, per-channel int8 weights, uint8 (default) or int8 activations, MinMax calibration.

Needs: python3 with numpy, onnx and onnxruntime (`python3 -m venv .venv && .venv/bin/pip install
numpy onnx onnxruntime`).

Run: python scripts/quantize_static.py --model M.onnx --calib calib.npy --input-name input --out M-int8.onnx
"""
import argparse
import os
import sys
import tempfile

import numpy as np
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)


class Reader(CalibrationDataReader):
    def __init__(self, x, name, batch):
        self.batches = iter([{name: x[i:i + batch]} for i in range(0, len(x), batch)])

    def get_next(self):
        return next(self.batches, None)


def preprocess(model, tmpdir):
    """ORT's recommended pre-pass (shape inference + graph optimisation); the model unchanged if it fails."""
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process
        out = os.path.join(tmpdir, "pre.onnx")
        quant_pre_process(model, out, skip_symbolic_shape=True)
        return out
    except Exception as e:  # noqa: BLE001 - the pre-pass is optional
        print(f"note: quant_pre_process skipped ({e})", file=sys.stderr)
        return model


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--calib", required=True)
    p.add_argument("--input-name", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--activation", choices=["u8", "s8"], default="u8")
    p.add_argument("--batch", type=int, default=8)
    a = p.parse_args()
    x = np.load(a.calib).astype(np.float32)
    act = QuantType.QUInt8 if a.activation == "u8" else QuantType.QInt8
    with tempfile.TemporaryDirectory() as tmp:
        src = preprocess(a.model, tmp)
        quantize_static(src, a.out, Reader(x, a.input_name, a.batch), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=act, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
    print(f"quantized {a.model} -> {a.out} on {len(x)} calibration images", file=sys.stderr)


if __name__ == "__main__":
    main()
