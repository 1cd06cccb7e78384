#!/usr/bin/env python3
"""PyTorch doing what the GPU check asks of pipeline, on the same GPU: the peer's figures.

  torch_peer.py bare --batches "32 64 128" --repeats 10
  torch_peer.py e2e --data SPLIT_TREE --workers N --batch 64

Models: torchvision's VGG-16 (random weights: speed only) cut after fc7's ReLU -> [N,4096]
(`vgg16-random-fc7`), and its conv layers + global average pool -> [N,512] (`vgg16-conv-random`),
as the ONNX models the check builds. Precisions: `f32` (torch's TF32 defaults, recorded; cudnn.benchmark on)
and `f16-autocast-cl` (torch.autocast float16, model and input channels-last).
bare: random input already on the GPU; after 3 warm-up calls, the median of --repeats timed calls
(torch.cuda.synchronize around each) -> images/s.
e2e: torchvision ImageFolder over every split + DataLoader(--workers, pin_memory) + the eval
transform (Resize 256, CenterCrop 224, ToTensor, ImageNet Normalize) + forward + features back to
the host, one view per image; the time waiting for the loader and the time in forward+copy are
summed separately. Prints one JSON object per measurement. --device cpu (f32 only) is for trying
the script on a machine without a GPU; its figures are not the peer's.
"""
import argparse
import json
import os
import statistics
import time

import torch
from torch import nn
from torch.utils.data import ConcatDataset, DataLoader
from torchvision import datasets, models, transforms

MODELS = ("vgg16-random-fc7", "vgg16-conv-random")
PRECISIONS = ("f32", "f16-autocast-cl")
DEVICE = "cuda"


def sync():
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def build(name):
    vgg = models.vgg16(weights=None)
    if name == "vgg16-random-fc7":
        net = nn.Sequential(vgg.features, vgg.avgpool, nn.Flatten(1), *list(vgg.classifier)[:5])
    else:
        net = nn.Sequential(vgg.features, nn.AdaptiveAvgPool2d(1), nn.Flatten(1))
    return net.eval().to(DEVICE)


def prepared(net, precision):
    return net.to(memory_format=torch.channels_last) if precision == "f16-autocast-cl" else net


def forward(net, x, precision):
    if precision == "f16-autocast-cl":
        with torch.autocast("cuda", dtype=torch.float16):
            return net(x.contiguous(memory_format=torch.channels_last))
    return net(x)


def settings():
    device = torch.cuda.get_device_name(0) if DEVICE == "cuda" else "cpu"
    return {"torch": torch.__version__, "device": device,
            "cudnn_benchmark": torch.backends.cudnn.benchmark, "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32}


def bare(args):
    for name in MODELS:
        for precision in PRECISIONS if DEVICE == "cuda" else PRECISIONS[:1]:
            net = prepared(build(name), precision)
            for batch in [int(b) for b in args.batches.split()]:
                x = torch.randn(batch, 3, 224, 224, device=DEVICE)
                times = []
                with torch.inference_mode():
                    for i in range(3 + args.repeats):
                        sync()
                        t = time.perf_counter()
                        forward(net, x, precision)
                        sync()
                        if i >= 3:
                            times.append(time.perf_counter() - t)
                med = statistics.median(times)
                print(json.dumps({"kind": "bare", "model": name, "precision": precision, "batch": batch,
                                  "repeats": args.repeats, "median_seconds_per_batch": round(med, 6),
                                  "images_per_sec": round(batch / med, 1), **settings()}), flush=True)
            del net
            if DEVICE == "cuda":
                torch.cuda.empty_cache()


def loader(root, workers, batch):
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    splits = [s for s in ("train", "valid", "test") if os.path.isdir(os.path.join(root, s))]
    ds = ConcatDataset([datasets.ImageFolder(os.path.join(root, s), tf) for s in splits])
    return DataLoader(ds, batch_size=batch, shuffle=False, num_workers=workers, pin_memory=True)


def e2e(args):
    for name in MODELS:
        for precision in PRECISIONS if DEVICE == "cuda" else PRECISIONS[:1]:
            net = prepared(build(name), precision)
            with torch.inference_mode():
                forward(net, torch.randn(args.batch, 3, 224, 224, device=DEVICE), precision)
                sync()
                n, wait, compute = 0, 0.0, 0.0
                t0 = t = time.perf_counter()
                for x, _ in loader(args.data, args.workers, args.batch):
                    t1 = time.perf_counter()
                    wait += t1 - t
                    feats = forward(net, x.to(DEVICE, non_blocking=True), precision).float().cpu()
                    t = time.perf_counter()
                    compute += t - t1
                    n += feats.shape[0]
                secs = time.perf_counter() - t0
            print(json.dumps({"kind": "e2e", "model": name, "precision": precision, "images": n,
                              "workers": args.workers, "batch": args.batch, "seconds": round(secs, 3),
                              "images_per_sec": round(n / secs, 1), "loader_wait_s": round(wait, 3),
                              "forward_and_copy_s": round(compute, 3), **settings()}), flush=True)
            del net
            if DEVICE == "cuda":
                torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    b = sub.add_parser("bare")
    b.add_argument("--batches", default="32 64 128")
    b.add_argument("--repeats", type=int, default=10)
    e = sub.add_parser("e2e")
    e.add_argument("--data", required=True)
    e.add_argument("--workers", type=int, default=os.cpu_count())
    e.add_argument("--batch", type=int, default=64)
    for p in (b, e):
        p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    args = ap.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: torch sees no CUDA device")
    # cuDNN picks its fastest algorithms, as ONNX Runtime's CUDA provider does by default (EXHAUSTIVE).
    torch.backends.cudnn.benchmark = True
    bare(args) if args.what == "bare" else e2e(args)


if __name__ == "__main__":
    main()
