"""Peer of `deephedge --export DIR` (issue 19 target): the same no-transaction-band deep
hedge trained with pfhedge 0.23 on PyTorch CPU, one thread, on the very paths, initial
weights, learning rate, batch size and epochs that volfit trains on; alternating A/B pairs.

    /tmp/torchvenv/bin/pip install torch pfhedge==0.23.0     # scratch venv, never in the repo
    cargo build --release -p volfit-bench --bin deephedge
    /tmp/torchvenv/bin/python crates/bench/peers/deephedge_pfhedge.py --pairs 1 --dir /tmp/dhpf \
        --seeds 0-11 --bin target/release/deephedge -- --train 20000 --test 100000 --epochs 40

Each pair runs `deephedge --threads 1 --export DIR ARGS` (volfit: writes the paths, the
initial weights and its batch order, trains, writes its test P&L) and then this script with
`--peer` in a fresh process (pfhedge: loads them, trains, writes its test P&L and a JSON
line, DIR/pfhedge.json). Both time the training epochs only. Prints one JSON line per run,
then the medians of training samples/s (train paths x epochs / wall seconds), their ratio,
and both test entropic risks on the same exported test paths with the paired batch-means
standard error of the difference (50 batches).

`--seeds 0-11` (or `0,3,5-7`) repeats that for each seed (`--seed S` to the binary, files in
DIR/seed<S>) and ends with one summary line over the seeds: the mean relative gap
(volfit - pfhedge) / pfhedge of the test entropic risk with its standard error across
seeds, how many seeds each side wins, the exact two-sided sign-test p-value, and the median
speed ratio. `--order volfit` trains pfhedge on volfit's own batch order (DIR/order.u32)
instead of torch's `randperm`. `--reuse-peer` takes a saved pfhedge run of the same problem
and order instead of training again (e.g. to set `--form oce` and `--form direct` of the
binary against one pfhedge run).

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
Same loss: volfit's default `--form direct` is pfhedge's EntropicRiskMeasure, the batch's
(1/a) log mean exp(-a P); `--form oce` is volfit's optimized-certainty-equivalent form
min_w w + (1/a)(mean exp(-a(P + w)) - 1) with the threshold w trained jointly by Adam.

What differs by default, and how to remove it:
- Batch order: both shuffle every epoch, with different generators (volfit ChaCha8, torch
  `randperm`); `--order volfit` gives pfhedge volfit's order. With it and `--form direct`
  the two trainings are one computation: the test P&Ls agree to 4e-10 after 800 Adam steps.
- Feature normalisation: none on either side beyond the fixed scalings above (pfhedge's
  `Hedger` feature pipeline is not used because its features are not normalised this way);
  pfhedge's own `Hedger`+`MultiLayerPerceptron` NTB example builds the same graph.
- Precision: float64 on both sides by default (`--dtype f32` gives torch's faster float32,
  reported separately if asked for; volfit always computes in f64).

Measured 2026-12-05 by the lead on a quiet machine (load 0.8-1.1), `--pairs 1 ... --seed S`
for S = 0..4 (Heston, cost 0.05 %, entropic a = 50, NTB 32x32 ELU, batch 1000, lr 5e-3,
20k training x 40 epochs, 100k test paths, f64, one thread each): volfit 62.6k-70.8k vs
pfhedge 20.0k-21.9k training samples/s, median ratio 3.16x (2.88-3.34x). The speed figure.

Measured 2026-12-05 15:04-16:17 UTC, objective only (it does not depend on load; the load
average was 9-17 on 2 shared cores, so the speed ratios of these runs mean nothing):
`--pairs 1 --dir D --seeds 0-13 -- --train 20000 --test 100000 --epochs 40 --form oce`, and
the same with `--form direct --reuse-peer`. Test entropic risk on 100k test paths:

    seed  volfit oce  volfit direct  pfhedge      seed  volfit oce  volfit direct  pfhedge
       0   0.0083343      0.0081432  0.0078486       7   0.0079211      0.0079635  0.0080462
       1   0.0077320      0.0078278  0.0078351       8   0.0079149      0.0079403  0.0080707
       2   0.0080985      0.0080151  0.0077862       9   0.0079210      0.0080978  0.0083327
       3   0.0078679      0.0078796  0.0081727      10   0.0080644      0.0083296  0.0081354
       4   0.0081765      0.0081623  0.0078409      11   0.0077239      0.0077726  0.0078284
       5   0.0080170      0.0084077  0.0083692      12   0.0079024      0.0079868  0.0081651
       6   0.0079743      0.0082823  0.0082346      13   0.0079321      0.0079321  0.0082183

- oce (volfit's default) vs pfhedge: mean 0.0079700 vs 0.0080631; relative gap
  (volfit - pfhedge)/pfhedge -1.09 % +- 0.92 % (SE across the 14 seeds); volfit lower on 11
  of 14 seeds, sign test p = 0.057. Equal or lower: met, not significantly lower.
- direct vs pfhedge: -0.09 % +- 0.69 %, volfit lower on 8 of 14, p = 0.79: equal.
- direct vs oce, paired by seed: +1.05 % +- 0.52 %, direct lower on 3 of 14, p = 0.057;
  hence oce stays the default (its batch gradient is unbiased, a mean over paths; the
  direct form's softmax within a batch of 1000 is not).
- Why the seeds disagree: the batch order. `--order volfit --form direct` at seed 0 gives
  pfhedge 0.0081432, volfit 0.0081432 (test P&Ls equal to 4.0e-10), while pfhedge on its
  own `randperm` order gives 0.0078486: the order alone moves one run by 3.8 %, as much as
  any volfit-pfhedge gap above. Single runs differ by several paired SE; only the mean over
  seeds compares the two libraries.
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
