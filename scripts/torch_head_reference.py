#!/usr/bin/env python3
# Needs: torch + safetensors (the torch venv: /opt/pyenv/torch/bin/python). Not needed by CI.
# Does: writes tests/fixtures/head_ref/{plain,weighted}.safetensors, PyTorch float64 reference
# trajectories of the notebook head Linear(D,H) -> ReLU -> Dropout(0) -> Linear(H,K) -> LogSoftmax
# trained with NLLLoss + torch.optim.Adam for 10 steps on 10 fixed batches. Each file holds the
# initial weights (init.*), the batches (x [S,B,D] f64, y [S,B] i64), the class weights (ones when
# unweighted), the loss of each step before its update (losses [S]) and the final weights
# (final.*), plus the hyper-parameters as metadata. tests/train_head.rs replays them in Rust.
# Usage: /opt/pyenv/torch/bin/python scripts/torch_head_reference.py [OUT_DIR]
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

D, H, K, B, STEPS = 12, 8, 5, 6, 10


def trajectory(seed, lr, weight_decay, weighted):
    torch.manual_seed(seed)
    head = torch.nn.Sequential(
        torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Dropout(0.0),
        torch.nn.Linear(H, K), torch.nn.LogSoftmax(dim=1),
    ).double()
    x = torch.randn(STEPS, B, D, dtype=torch.float64) * 2.0
    y = torch.randint(0, K, (STEPS, B))
    w = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.25], dtype=torch.float64) if weighted \
        else torch.ones(K, dtype=torch.float64)
    criterion = torch.nn.NLLLoss(weight=w if weighted else None)
    opt = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    tensors = {f"init.{k}": v.detach().clone() for k, v in head.state_dict().items()}
    losses = []
    head.train()
    for s in range(STEPS):
        opt.zero_grad()
        loss = criterion(head(x[s]), y[s])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    tensors.update({f"final.{k}": v.detach().clone() for k, v in head.state_dict().items()})
    tensors.update({"x": x, "y": y.to(torch.int64), "class_weights": w,
                    "losses": torch.tensor(losses, dtype=torch.float64)})
    meta = {"lr": repr(lr), "weight_decay": repr(weight_decay), "beta1": "0.9", "beta2": "0.999",
            "eps": "1e-08", "weighted": json.dumps(weighted), "torch": torch.__version__}
    return {k: v.contiguous() for k, v in tensors.items()}, meta


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
               / "tests" / "fixtures" / "head_ref")
    out.mkdir(parents=True, exist_ok=True)
    for name, args in {"plain": (0, 1e-3, 0.0, False), "weighted": (1, 5e-3, 1e-2, True)}.items():
        tensors, meta = trajectory(*args)
        save_file(tensors, str(out / f"{name}.safetensors"), metadata=meta)
        print(name, [round(v, 6) for v in tensors["losses"].tolist()])


if __name__ == "__main__":
    main()
