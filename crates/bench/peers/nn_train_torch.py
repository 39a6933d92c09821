#!/usr/bin/env python3
"""PyTorch CPU peer of `nn_train train` (crates/bench/src/bin/nn_train.rs), issue 18.

Same data file, split (index % 5 == 4 is validation), normalisation (training mean and
population standard deviation), architecture (5 -> 4x64 ELU -> 88 linear), starting weights
(the `--init` safetensors file written by `nn_train train --init`), batch size, Adam
settings (lr, betas 0.9/0.999, eps 1e-8) and epochs; one thread. Timed: the training epochs
only (shuffle, forward, MSE loss, backward, Adam step), as on the Rust side.

Setup (outside the repository):
    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch safetensors numpy
Run the torch side alone:
    /tmp/torchvenv/bin/python crates/bench/peers/nn_train_torch.py --data heston.csv \
        --init init.safetensors [--epochs 30] [--batch 32] [--lr 1e-3] [--dtype float32]
or both sides in one go, paired A/B in alternating order (`--pairs` runs of each; the first
Rust run writes the starting weights), with the medians and the ratio:
    /tmp/torchvenv/bin/python crates/bench/peers/nn_train_torch.py --data heston.csv \
        --init init.safetensors --rust target/release/nn_train --pairs 3
Prints one JSON line per run, then a summary line.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from safetensors.torch import load_file


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--init", required=True)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--rust", help="nn_train binary: run both sides, paired")
    ap.add_argument("--pairs", type=int, default=3)
    a = ap.parse_args()
    if a.rust:
        paired(a)
    else:
        train_torch(a)


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = out.strip().splitlines()[-1]
    print(line, flush=True)
    return json.loads(line)


def paired(a):
    common = ["--data", a.data, "--epochs", str(a.epochs), "--batch", str(a.batch), "--lr", str(a.lr),
              "--seed", str(a.seed)]
    rust = [a.rust, "train", *common, "--init", a.init]
    torch_cmd = [sys.executable, __file__, *common, "--init", a.init, "--dtype", a.dtype]
    runs = {"rust": [], "torch": []}
    # Pair 0 runs the Rust side first, which writes the starting weights (`--init`) before
    # training; every later Rust run rewrites the same bytes (same seed).
    for i in range(a.pairs):
        order = [("rust", rust), ("torch", torch_cmd)]
        for side, cmd in order if i % 2 == 0 else order[::-1]:
            runs[side].append(run_json(cmd))
    med = lambda side, key: statistics.median(r[key] for r in runs[side])
    print(json.dumps({
        "summary": True, "pairs": a.pairs, "epochs": a.epochs, "batch": a.batch,
        "rust_samples_per_s": med("rust", "samples_per_s"),
        "torch_samples_per_s": med("torch", "samples_per_s"),
        "ratio": med("rust", "samples_per_s") / med("torch", "samples_per_s"),
        "rust_val_mse": med("rust", "val_mse_normalised"),
        "torch_val_mse": med("torch", "val_mse_normalised"),
        "rust_val_rmse_vol_pts": med("rust", "val_rmse_vol_pts"),
        "torch_val_rmse_vol_pts": med("torch", "val_rmse_vol_pts"),
        "torch_dtype": a.dtype,
        "loadavg_end": " ".join(open("/proc/loadavg").read().split()[:3]),
    }))


def train_torch(a):
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    dtype = getattr(torch, a.dtype)

    raw = np.loadtxt(a.data, delimiter=",", dtype=np.float64)
    val_mask = np.arange(len(raw)) % 5 == 4
    tr, va = raw[~val_mask], raw[val_mask]
    mu, sd = tr.mean(axis=0), tr.std(axis=0)  # population std, as volfit-nn
    sd = np.where(sd > 1e-12 * (1 + np.abs(mu)), sd, 1.0)
    norm = lambda m: (m - mu) / sd
    xt, yt = (torch.tensor(v, dtype=dtype) for v in (norm(tr)[:, :5], norm(tr)[:, 5:]))
    xv, yv = (torch.tensor(v, dtype=dtype) for v in (norm(va)[:, :5], norm(va)[:, 5:]))

    weights = load_file(a.init)
    n_layers = sum(1 for k in weights if k.endswith(".weight"))
    mods = []
    for i in range(n_layers):
        w = weights[f"layers.{i}.weight"]
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(w.to(dtype))
            lin.bias.copy_(weights[f"layers.{i}.bias"].to(dtype))
        mods.append(lin)
        if i < n_layers - 1:
            mods.append(torch.nn.ELU())
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.Adam(net.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
    loss_fn = torch.nn.MSELoss()
    n = len(xt)

    t0 = time.perf_counter()
    for _ in range(a.epochs):
        perm = torch.randperm(n)
        for s in range(0, n, a.batch):
            idx = perm[s : s + a.batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    secs = time.perf_counter() - t0

    with torch.no_grad():
        pv = net(xv)
        val_mse = float(loss_fn(pv, yv))
        iv_pred = pv.double().numpy() * sd[5:] + mu[5:]
        rmse = float(np.sqrt(np.mean((iv_pred - va[:, 5:]) ** 2)))
    print(json.dumps({
        "side": f"pytorch {torch.__version__} {a.dtype}",
        "epochs": a.epochs, "batch": a.batch, "lr": a.lr, "n_train": n, "n_val": len(xv),
        "params": sum(p.numel() for p in net.parameters()),
        "train_seconds": secs,
        "samples_per_s": a.epochs * n / secs,
        "val_mse_normalised": val_mse,
        "val_rmse_vol_pts": 100 * rmse,
        "loadavg": " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "",
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    main()
