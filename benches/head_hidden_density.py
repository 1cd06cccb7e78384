#!/usr/bin/env python3
# Needs: torch (a separate venv, e.g. /work/torchvenv). Not needed by CI.
# Does: trains the notebook head (Linear(4096,256) -> ReLU -> Dropout(0.2) -> Linear(256,100), Adam
# lr 1e-3, batch 128) on the head-epoch benchmark's features and prints, per epoch, the share of
# hidden units the ReLU lets through and the share of nonzero entries in the hidden gradient (what a
# zero-skipping kernel for 0.weight's gradient could skip), with the last batch's loss.
# --features learnable: the distribution benches/head_epoch.rs and head_epoch_torch.py draw now;
# --features uniform: the one they drew before (U(0,2) with random labels).
# Usage: /work/torchvenv/bin/python benches/head_hidden_density.py [--features learnable|uniform] [--epochs 5]
import argparse

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", choices=["learnable", "uniform"], default="learnable")
    ap.add_argument("--epochs", type=int, default=5)
    a = ap.parse_args()
    torch.manual_seed(0)
    n, d, k, b = 4096, 4096, 100, 128
    if a.features == "learnable":
        centres = (torch.rand(k, d) < 0.3).float() * torch.rand(k, d) * 2.0
        y = torch.arange(n) % k
        x = (centres[y] + torch.rand(n, d) * 2.0 - 1.0).clamp(min=0.0)
    else:
        x = torch.rand(n, d) * 2.0
        y = torch.randint(0, k, (n,))
    l1, l2 = torch.nn.Linear(d, 256), torch.nn.Linear(256, k)
    opt = torch.optim.Adam(list(l1.parameters()) + list(l2.parameters()), lr=1e-3)
    for epoch in range(a.epochs):
        perm, nonzero, active = torch.randperm(n), [], []
        for i in range(0, n, b):
            idx = perm[i:i + b]
            pre = l1(x[idx])
            pre.retain_grad()
            h = torch.nn.functional.dropout(torch.relu(pre), 0.2, True)
            loss = torch.nn.functional.cross_entropy(l2(h), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            nonzero.append((pre.grad != 0).float().mean().item())
            active.append((pre > 0).float().mean().item())
        print(f"{a.features} epoch {epoch}: ReLU active {sum(active) / len(active):.3f}, "
              f"hidden gradient nonzero {sum(nonzero) / len(nonzero):.3f}, last loss {loss.item():.4g}")


if __name__ == "__main__":
    main()
