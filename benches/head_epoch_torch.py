#!/usr/bin/env python3
# Needs: torch (a separate venv, e.g. `python3 -m venv /work/torchvenv && /work/torchvenv/bin/pip install torch`). Not needed by CI.
# Does: times one training epoch of the notebook head in PyTorch on in-memory features, the
# same work as benches/head_epoch.rs: 4096 images x 4096 learnable features, 100 classes, Linear(4096,256)
# -> ReLU -> Dropout(0.2) -> Linear(256,100) -> LogSoftmax, NLLLoss, Adam(lr 1e-3), batch 128,
# shuffled each epoch (index permutation, no DataLoader overhead). Prints the median of --epochs
# timed epochs after one warm-up epoch, and the median process CPU time (all threads) per epoch.
# Usage: /work/torchvenv/bin/python benches/head_epoch_torch.py [--threads 2] [--epochs 15]
import argparse
import statistics
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--d", type=int, default=4096)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--batch", type=int, default=128)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    # Learnable features, the distribution benches/head_epoch.rs draws: class i % k, centres with
    # 30 % of dims in U(0,2), rows = centre + U(-1,1) clipped at 0. (Uniform features with random
    # labels left every hidden ReLU dead after one epoch.)
    centres = (torch.rand(a.k, a.d) < 0.3).float() * torch.rand(a.k, a.d) * 2.0
    y = torch.arange(a.n) % a.k
    x = (centres[y] + torch.rand(a.n, a.d) * 2.0 - 1.0).clamp(min=0.0)
    head = torch.nn.Sequential(
        torch.nn.Linear(a.d, 256), torch.nn.ReLU(), torch.nn.Dropout(0.2),
        torch.nn.Linear(256, a.k), torch.nn.LogSoftmax(dim=1),
    )
    opt = torch.optim.Adam(head.parameters(), lr=1e-3)
    crit = torch.nn.NLLLoss()
    head.train()

    def epoch():
        perm = torch.randperm(a.n)
        for i in range(0, a.n, a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad()
            loss = crit(head(x[idx]), y[idx])
            loss.backward()
            opt.step()

    epoch()
    times, cpu = [], []
    for _ in range(a.epochs):
        t, c = time.perf_counter(), time.process_time()
        epoch()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(f"torch {torch.__version__} threads={a.threads}: epoch median {1e3 * statistics.median(times):.1f} ms "
          f"(min {1e3 * min(times):.1f}, max {1e3 * max(times):.1f}, {a.epochs} epochs); "
          f"CPU time median {1e3 * statistics.median(cpu):.1f} ms")


if __name__ == "__main__":
    main()
