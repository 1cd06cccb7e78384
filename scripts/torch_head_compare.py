#!/usr/bin/env python3
# Needs: torch, numpy, safetensors (the torch venv: /opt/pyenv/torch/bin/python). Not needed by CI.
# Does: the accuracy comparison of issue 5. Reads a `pipeline extract` feature cache directly
# (CACHE/manifest.json + CACHE/shards/*.safetensors: `features` [n,D] f32|f16, `labels` [n] u32,
# `index` [n] u32), trains the same MLP head in PyTorch with the hyper-parameters recorded in a
# Rust run's config.json (same batch, epochs, patience, dropout, lr, weight decay, class weights,
# views per epoch; early stopping on valid loss restoring the best weights), and reports test
# top-1 / NLL of: each Rust run given with --run (its head.safetensors loaded into PyTorch, MLP or
# logistic) and the PyTorch head over --seeds seeds.
# Usage: /opt/pyenv/torch/bin/python scripts/torch_head_compare.py --features CACHE \
#          --run runs/mlp [--run runs/logistic ...] [--seeds 0 1 2] [--json out.json]
import argparse
import json
import statistics
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import load_file
from safetensors.torch import load_file as load_torch


def load_split(cache, split):
    """[(features [N,D] float32, labels [N]) per pass], rows in image-list order."""
    manifest = json.loads((cache / "manifest.json").read_text())
    shards = [s for s in manifest["shards"] if s["split"] == split]
    passes = []
    for p in sorted({s["pass"] for s in shards}):
        parts = [load_file(str(cache / "shards" / s["file"]))
                 for s in sorted((s for s in shards if s["pass"] == p), key=lambda s: s["chunk"])]
        idx = np.concatenate([t["index"] for t in parts]).astype(np.int64)
        order = np.argsort(idx, kind="stable")
        x = np.concatenate([t["features"].astype(np.float32) for t in parts])[order]
        y = np.concatenate([t["labels"] for t in parts]).astype(np.int64)[order]
        passes.append((torch.from_numpy(x), torch.from_numpy(y)))
    return passes, manifest["spec"]["classes"]


def load_run_head(run):
    """The five lines of docs/heads.md: a Rust run's head as a PyTorch module (MLP or logistic)."""
    meta = safe_open(str(run / "head.safetensors"), "pt").metadata()
    d, k = int(meta["feature_dim"]), len(json.loads(meta["classes"]))
    if meta["head_kind"] == "mlp":
        h = int(meta["hidden"])
        head = torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                   torch.nn.Linear(h, k), torch.nn.LogSoftmax(dim=1))
    else:
        head = torch.nn.Sequential(torch.nn.Linear(d, k), torch.nn.LogSoftmax(dim=1))
    head.load_state_dict(load_torch(str(run / "head.safetensors")))
    return head.eval()


def score(head, x, y):
    with torch.no_grad():
        logp = head(x)
        return (logp.argmax(1) == y).float().mean().item(), torch.nn.functional.nll_loss(logp, y).item()


def balanced(y, k):
    counts = torch.bincount(y, minlength=k).double()
    present = (counts > 0).sum()
    w = torch.where(counts > 0, len(y) / (present * counts.clamp(min=1)), torch.zeros_like(counts))
    return w.float()


def train_torch(cfg, cw_mode, train, valid, k, seed):
    """The Rust trainer's regime in PyTorch (own RNG, so not bit-identical)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    d = train[0][0].shape[1]
    head = torch.nn.Sequential(torch.nn.Linear(d, cfg["hidden"]), torch.nn.ReLU(),
                               torch.nn.Dropout(cfg["dropout"]), torch.nn.Linear(cfg["hidden"], k),
                               torch.nn.LogSoftmax(dim=1))
    opt = torch.optim.Adam(head.parameters(), lr=cfg["adam"]["lr"], weight_decay=cfg["adam"]["weight_decay"])
    y = train[0][1]
    w = balanced(y, k) if cw_mode == "balanced" else None
    crit = torch.nn.NLLLoss(weight=w)
    xs = torch.stack([p[0] for p in train])  # [P,N,D]
    p_count, n = xs.shape[0], xs.shape[1]
    offsets = torch.randint(0, p_count, (n,), generator=g)
    fdrop = torch.nn.Dropout(cfg["feature_dropout"])
    best, best_loss, bad = None, float("inf"), 0
    for epoch in range(cfg["max_epochs"]):
        if cfg["pass_mode"] == "all":
            img = torch.arange(n).repeat(p_count)
            pas = torch.arange(p_count).repeat_interleave(n)
        else:
            img = torch.arange(n)
            pas = (epoch + offsets) % p_count
        perm = torch.randperm(len(img), generator=g)
        img, pas = img[perm], pas[perm]
        head.train()
        for i in range(0, len(img), cfg["batch"]):
            bi, bp = img[i:i + cfg["batch"]], pas[i:i + cfg["batch"]]
            opt.zero_grad()
            loss = crit(head(fdrop(xs[bp, bi])), y[bi])
            loss.backward()
            opt.step()
        head.eval()
        with torch.no_grad():
            vloss = torch.nn.NLLLoss(weight=w)(head(valid[0]), valid[1]).item()
        if vloss < best_loss:
            best, best_loss, bad = {k_: v.clone() for k_, v in head.state_dict().items()}, vloss, 0
        else:
            bad += 1
            if cfg["patience"] > 0 and bad >= cfg["patience"]:
                break
    head.load_state_dict(best)
    return head.eval(), epoch + 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", required=True, type=Path)
    ap.add_argument("--run", action="append", type=Path, default=[])
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    train, classes = load_split(a.features, "train")
    valid = load_split(a.features, "valid")[0][0]
    test = load_split(a.features, "test")[0][0]
    rows, mlp_cfg = [], None
    for run in a.run:
        cfg = json.loads((run / "config.json").read_text())
        acc, nll = score(load_run_head(run), *test)
        rows.append({"what": f"rust {cfg['head']} ({run.name}, preset {cfg['preset']})", "test_acc": acc, "test_nll": nll})
        if cfg["head"] == "mlp" and mlp_cfg is None:
            mlp_cfg, cw = cfg["mlp"], cfg["class_weights"]
    if mlp_cfg is not None:
        accs, nlls = [], []
        for seed in a.seeds:
            head, epochs = train_torch(mlp_cfg, cw, train, valid, len(classes), seed)
            acc, nll = score(head, *test)
            accs.append(acc)
            nlls.append(nll)
            print(f"torch seed {seed}: test acc {100 * acc:.2f}% nll {nll:.4f} after {epochs} epochs")
        rows.append({"what": f"torch mlp, same settings ({len(a.seeds)} seeds)", "test_acc": statistics.mean(accs),
                     "test_acc_sd": statistics.pstdev(accs), "test_nll": statistics.mean(nlls)})
    print(f"\n{len(train[0][1])} train images x {len(train)} passes, {len(valid[1])} valid, {len(test[1])} test")
    for r in rows:
        sd = f" ± {100 * r['test_acc_sd']:.2f}" if "test_acc_sd" in r else ""
        print(f"{r['what']:<60} test top-1 {100 * r['test_acc']:6.2f}%{sd}  NLL {r['test_nll']:.4f}")
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
