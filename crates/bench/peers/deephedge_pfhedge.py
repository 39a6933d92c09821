"""Peer of `deephedge --export DIR` (issue 19 target): the same no-transaction-band deep
hedge trained with pfhedge 0.23 on PyTorch CPU, one thread, on the very paths, initial
weights, learning rate, batch size and epochs that volfit trains on; alternating A/B pairs.

    /tmp/torchvenv/bin/pip install torch pfhedge==0.23.0     # scratch venv, never in the repo
    cargo build --release -p volfit-bench --bin deephedge
    /tmp/torchvenv/bin/python crates/bench/peers/deephedge_pfhedge.py --pairs 3 --dir /tmp/dhpf \
        --bin target/release/deephedge -- --train 20000 --test 100000 --epochs 40

Each pair runs `deephedge --threads 1 --export DIR ARGS` (volfit: writes the paths and the
initial weights, trains, writes its test P&L) and then this script with `--peer` in a fresh
process (pfhedge: loads them, trains, writes its test P&L). Both time the training epochs only.
Prints one JSON line per run, then the medians of training samples/s (train paths x epochs
/ wall seconds), their ratio, and both test entropic risks on the same exported test paths
with the paired batch-means standard error of the difference (50 batches).

Same problem: short call (strike and maturity from DIR/meta.json), forwards F (F0 = 1) read
from DIR/train.f64 and DIR/test.f64 (row-major paths x (steps + 1), little-endian f64;
Heston by default, `--only bs` for Black-Scholes), zero rate, proportional cost c on every
trade including the first and none at maturity (pfhedge's `pl` with its defaults equals
volfit's USD P&L `sum h_t (F_{t+1} - F_t) - c sum F_t |h_t - h_{t-1}| - (F_T - K)+`), plus
the Black premium. Same network: pfhedge's MultiLayerPerceptron (3 inputs, hidden widths and
ELU from meta, 2 outputs), started from volfit's initial parameters (DIR/init.f64: per layer
the [out, in] weights then the bias, torch's Linear layout; output biases -2). Same features:
ln(F/K)/(sigma_B sqrt T), tau/T and the previous hedge (pfhedge's `prev_hedge`); the band is
[delta - softplus(o1), delta + softplus(o2)] around pfhedge's `bs_european_delta` at the
Black vol, the hedge is pfhedge's `clamp` of the previous hedge into it. Same optimiser:
Adam (betas 0.9/0.999, eps 1e-8), constant learning rate, batch size, epochs, no clipping.

Where exact equality is impossible (documented, not hidden):
- Batch order: both shuffle every epoch, with different generators (volfit ChaCha8, torch
  `randperm`), so the runs see the same batches in a different order.
- Loss form: pfhedge minimises EntropicRiskMeasure per batch, (1/a) log mean exp(-a P), exactly;
  volfit minimises the same measure in its optimized-certainty-equivalent form
  min_w w + (1/a)(mean exp(-a(P + w)) - 1) with the threshold w trained jointly by Adam
  (started at its optimum), which has the same minimiser over the policy; the batch gradients
  differ while w is off its optimum.
- Feature normalisation: none on either side beyond the fixed scalings above (pfhedge's
  `Hedger` feature pipeline is not used because its features are not normalised this way);
  pfhedge's own `Hedger`+`MultiLayerPerceptron` NTB example builds the same graph.
- Precision: float64 on both sides by default (`--dtype f32` gives torch's faster float32,
  reported separately if asked for; volfit always computes in f64).

Measured 2026-12-05 (command above, Heston, cost 0.05 %, entropic a = 50, NTB 32x32 ELU,
batch 1000, lr 5e-3, 20k training x 40 epochs, 100k test paths; 2 shared cores, load 2.8-4.6):
f64, 3 pairs: volfit 30,339 samples/s vs pfhedge 16,546 (median), 1.83x; test entropic
volfit 0.0083343, pfhedge 0.0078486 (pfhedge lower by 3.7 paired SE). `--seed 1`, 1 pair:
1.61x, volfit 0.0077320 vs pfhedge 0.0078351 (volfit lower by 4.7 SE): the objective gap is
training noise of the seed, not a systematic difference. `--dtype f32`, 2 pairs: 1.30x.
The issue's >= 3x target is not met.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from pfhedge.nn import EntropicRiskMeasure, MultiLayerPerceptron
from pfhedge.nn.functional import bs_european_delta, clamp, pl


def load(path, rows, cols):
    return torch.from_numpy(np.fromfile(path, dtype="<f8").reshape(rows, cols))


class Ntb(torch.nn.Module):
    """The no-transaction-band policy unrolled over the paths."""

    def __init__(self, meta, init):
        super().__init__()
        hidden = meta["hidden"]
        self.meta = meta
        self.mlp = MultiLayerPerceptron(
            in_features=3,
            out_features=2,
            n_layers=len(hidden),
            n_units=tuple(hidden),
            activation=torch.nn.ELU(),
        )
        linears = [m for m in self.mlp if isinstance(m, torch.nn.Linear)]
        at = 0
        with torch.no_grad():
            for lin in linears:
                for p in (lin.weight, lin.bias):
                    n = p.numel()
                    p.copy_(init[at : at + n].reshape(p.shape))
                    at += n
        assert at == init.numel(), f"init.f64 has {init.numel()} values, network {at}"

    def hedges(self, spot):
        """Hedge units (N, steps + 1): h_t chosen at state t from h_{t-1}; the last repeats."""
        m = self.meta
        n, steps = spot.shape[0], m["steps"]
        t_mat, k, sb = m["maturity"], m["strike"], m["black_vol"]
        prev = spot.new_zeros(n)
        units = []
        for t in range(steps):
            tau = t_mat - t * t_mat / steps
            lm = torch.log(spot[:, t] / k)
            delta = bs_european_delta(
                log_moneyness=lm,
                time_to_maturity=torch.full_like(lm, tau),
                volatility=torch.full_like(lm, sb),
            )
            x = torch.stack(
                [lm / (sb * math.sqrt(t_mat)), torch.full_like(lm, tau / t_mat), prev], -1
            )
            o = self.mlp(x)
            lo = delta - torch.nn.functional.softplus(o[:, 0])
            hi = delta + torch.nn.functional.softplus(o[:, 1])
            prev = clamp(prev, lo, hi)
            units.append(prev)
        units.append(prev)
        return torch.stack(units, -1)

    def pnl(self, spot):
        m = self.meta
        unit = self.hedges(spot)
        payoff = (spot[:, -1] - m["strike"]).clamp(min=0.0)
        gain = pl(spot=spot.unsqueeze(1), unit=unit.unsqueeze(1), cost=[m["cost"]], payoff=payoff)
        return m["premium"] + gain


def peer_files(d, order):
    """pfhedge's test P&L and JSON line in DIR for a batch order (torch's or volfit's)."""
    tag = "" if order == "torch" else "_volfit_order"
    return f"{d}/pfhedge{tag}_test_pnl.f64", f"{d}/pfhedge{tag}.json"


PROBLEM_KEYS = ("case", "train_paths", "test_paths", "epochs", "lr", "batch_size", "theta",
                "cost", "seed", "hidden")


def problem(meta):
    """What a pfhedge run depends on (a saved run is reused only for the same problem)."""
    return {k: meta.get(k) for k in PROBLEM_KEYS}


def peer(d, dtype_name, order_name):
    """Trains pfhedge on DIR's problem; writes its test P&L; prints one JSON line."""
    torch.set_num_threads(1)
    dtype = torch.float64 if dtype_name == "f64" else torch.float32
    meta = json.load(open(f"{d}/meta.json"))
    cols = meta["steps"] + 1
    train = load(f"{d}/train.f64", meta["train_paths"], cols).to(dtype)
    test = load(f"{d}/test.f64", meta["test_paths"], cols).to(dtype)
    init = torch.from_numpy(np.fromfile(f"{d}/init.f64", dtype="<f8")).to(dtype)
    torch.manual_seed(meta["seed"])
    model = Ntb(meta, init).to(dtype)
    loss_fn = EntropicRiskMeasure(a=meta["theta"])
    opt = torch.optim.Adam(model.parameters(), lr=meta["lr"], betas=(0.9, 0.999), eps=1e-8)
    batch, steps, n = meta["batch_size"], 0, train.shape[0]
    g = torch.Generator().manual_seed(meta["seed"])
    if order_name == "volfit":
        orders = torch.from_numpy(
            np.fromfile(f"{d}/order.u32", dtype="<u4").astype(np.int64).reshape(meta["epochs"], n)
        )
    start = time.perf_counter()
    for epoch in range(meta["epochs"]):
        order = orders[epoch] if order_name == "volfit" else torch.randperm(n, generator=g)
        for b in range(0, train.shape[0], batch):
            opt.zero_grad()
            loss = loss_fn(model.pnl(train[order[b : b + batch]]))
            loss.backward()
            opt.step()
            steps += 1
    secs = time.perf_counter() - start
    with torch.no_grad():
        test_pnl = model.pnl(test).to(torch.float64)
    pnl_path, json_path = peer_files(d, order_name)
    test_pnl.numpy().astype("<f8").tofile(pnl_path)
    samples = meta["train_paths"] * meta["epochs"]
    line = json.dumps({
        "side": "pfhedge", "pfhedge": __import__("pfhedge").__version__,
        "torch": torch.__version__, "dtype": dtype_name, "threads": torch.get_num_threads(),
        "order": order_name, "seed": meta["seed"], "problem": problem(meta),
        "train_seconds": round(secs, 3), "samples_per_s": round(samples / secs),
        "adam_steps": steps, "test_entropic": round(float(loss_fn(test_pnl)), 7),
        "test_paths": test.shape[0],
    })
    with open(json_path, "w") as f:
        f.write(line + "\n")
    print(line, flush=True)


def entropic(p, a):
    x = -a * p
    m = x.max()
    return (m + math.log(np.exp(x - m).mean())) / a


def paired(d, theta, order, batches=50):
    """Both test entropic risks and the batch-means SE of their difference (pfhedge - volfit)."""
    v = np.fromfile(f"{d}/volfit_test_pnl.f64", dtype="<f8")
    p = np.fromfile(peer_files(d, order)[0], dtype="<f8")
    diffs = [entropic(pb, theta) - entropic(vb, theta)
             for vb, pb in zip(np.array_split(v, batches), np.array_split(p, batches))]
    se = float(statistics.stdev(diffs)) / math.sqrt(batches)
    ev, ep = float(entropic(v, theta)), float(entropic(p, theta))
    return ev, ep, ep - ev, se


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = [s for s in out.splitlines() if s.startswith("{")][-1]
    print(line, flush=True)
    return json.loads(line)


def seed_list(text):
    """"0-11" or "0,3,5" (or a mix) as a list of ints."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def sign_test(wins, n):
    """Two-sided exact binomial p-value of `wins` successes in `n` fair trials."""
    k = min(wins, n - wins)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2.0**n
    return min(1.0, 2.0 * tail)


def pair(a, d, rest, seed):
    """One seed: volfit, then pfhedge (or its saved run with --reuse-peer); the comparison."""
    extra = [] if seed is None else ["--seed", str(seed)]
    rust = [a.bin, "--threads", "1", "--export", d, *rest, *extra]
    me = [sys.executable, __file__, "--peer", "--dir", d, "--dtype", a.dtype, "--order", a.order]
    vs, ps = [], []
    for _ in range(a.pairs):
        vs.append(run(rust))
        pnl_path, json_path = peer_files(d, a.order)
        saved = None
        if a.reuse_peer and os.path.exists(pnl_path) and os.path.exists(json_path):
            saved = json.loads(open(json_path).read())
            same = problem(json.load(open(f"{d}/meta.json")))
            if saved.get("problem") != same or saved.get("dtype") != a.dtype:
                saved = None
        if saved is not None:
            print(json.dumps({**saved, "reused": True}), flush=True)
            ps.append(saved)
        else:
            ps.append(run(me))
    meta = json.load(open(f"{d}/meta.json"))
    ev, ep, diff, se = paired(d, meta["theta"], a.order)
    v_rate = statistics.median(r["samples_per_s"] for r in vs)
    p_rate = statistics.median(r["samples_per_s"] for r in ps)
    summary = {
        "seed": meta["seed"], "form": meta.get("form"), "order_pfhedge": a.order,
        "pairs": a.pairs, "dtype_pfhedge": a.dtype, "loadavg": os.getloadavg(),
        "median_samples_per_s_volfit": round(v_rate), "median_samples_per_s_pfhedge": round(p_rate),
        "speedup_volfit_over_pfhedge": round(v_rate / p_rate, 2) if p_rate > 0 else None,
        "test_entropic_volfit": round(ev, 7), "test_entropic_pfhedge": round(ep, 7),
        "diff_pfhedge_minus_volfit": round(diff, 7), "diff_se": round(se, 7),
        "diff_in_se": round(diff / se, 1),
    }
    print(json.dumps(summary), flush=True)
    return summary


def across(rows):
    """Summary over seeds: the mean relative gap (volfit - pfhedge) / pfhedge with its SE
    across seeds, the seeds each side wins, and an exact two-sided sign test."""
    gaps = [(r["test_entropic_volfit"] - r["test_entropic_pfhedge"]) / r["test_entropic_pfhedge"]
            for r in rows]
    n = len(gaps)
    lower = sum(g < 0 for g in gaps)
    ties = sum(g == 0 for g in gaps)
    mean = statistics.fmean(gaps)
    se = statistics.stdev(gaps) / math.sqrt(n) if n > 1 else float("nan")
    speed = [r["speedup_volfit_over_pfhedge"] for r in rows]
    return {
        "seeds": [r["seed"] for r in rows], "form": rows[0]["form"],
        "order_pfhedge": rows[0]["order_pfhedge"],
        "mean_test_entropic_volfit": round(statistics.fmean(r["test_entropic_volfit"] for r in rows), 7),
        "mean_test_entropic_pfhedge": round(statistics.fmean(r["test_entropic_pfhedge"] for r in rows), 7),
        "mean_rel_gap_volfit_minus_pfhedge": round(mean, 5), "rel_gap_se": round(se, 5),
        "rel_gap_in_se": round(mean / se, 2) if se > 0 else None,
        "volfit_lower": lower, "pfhedge_lower": n - lower - ties, "ties": ties,
        "sign_test_p": round(sign_test(lower, n - ties), 4) if n > ties else None,
        "median_speedup": statistics.median(speed), "loadavg": os.getloadavg(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--dtype", default="f64", choices=["f64", "f32"])
    ap.add_argument("--peer", action="store_true", help="train pfhedge once on DIR")
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--bin", default="target/release/deephedge")
    ap.add_argument("--seeds", help="loop over seeds (e.g. 0-11): one DIR/seed<S> each")
    ap.add_argument("--order", default="torch", choices=["torch", "volfit"],
                    help="pfhedge's batch order: torch.randperm, or volfit's (DIR/order.u32)")
    ap.add_argument("--reuse-peer", action="store_true",
                    help="reuse a saved pfhedge run in DIR (same paths, init and order)")
    ap.add_argument("rest", nargs="*", help="after --: flags for the deephedge binary")
    a = ap.parse_args()
    if a.peer:
        return peer(a.dir, a.dtype, a.order)
    print(json.dumps({"loadavg": os.getloadavg()}), flush=True)
    if not a.seeds:
        pair(a, a.dir, a.rest, None)
        return
    if "--seed" in a.rest:
        sys.exit("--seeds and a --seed for the binary exclude each other")
    rows = [pair(a, f"{a.dir}/seed{s}", a.rest, s) for s in seed_list(a.seeds)]
    print(json.dumps(across(rows)), flush=True)


if __name__ == "__main__":
    main()
