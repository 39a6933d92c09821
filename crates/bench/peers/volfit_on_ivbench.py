#!/usr/bin/env python3
"""Run `volfit iv` on the wide-domain reference set of shared/peers/iv_bench.py.

iv_bench.py caches its inputs (k ~ U[-3, 3], T log-uniform [1d, 3y], sigma log-uniform
[5 %, 300 %], F = 60000, out-of-the-money side) with 50-digit mpmath reference prices in
cache/iv_domain_n<N>_s<seed>.npz. This script writes them as forward,strike,t,type,price
CSV, runs the volfit CLI on it and reports |iv - sigma| / sigma on the same subsets as
iv_bench.py (all: price/F > 1e-300, practical: >= 1e-12, tick: >= 1e-4).

  python volfit_on_ivbench.py CACHE.npz path/to/volfit [workdir]
"""
import csv
import os
import subprocess
import sys
import time

import numpy as np


def main():
    npz, volfit = sys.argv[1], sys.argv[2]
    work = sys.argv[3] if len(sys.argv) > 3 else "."
    d = np.load(npz)
    price, fwd, strike, t, is_call, sigma = (d[k] for k in ("price", "F", "K", "T", "is_call", "sigma"))
    inp = os.path.join(work, "volfit_iv_in.csv")
    out = os.path.join(work, "volfit_iv_out.csv")
    with open(inp, "w") as f:
        f.write("forward,strike,t,type,price\n")
        for i in range(len(price)):
            f.write(f"{float(fwd[i])!r},{float(strike[i])!r},{float(t[i])!r},"
                    f"{'C' if is_call[i] else 'P'},{float(price[i])!r}\n")
    t0 = time.perf_counter()
    subprocess.run([volfit, "iv", "--input", inp, "--output", out], check=True)
    print(f"volfit iv: {len(price)} rows in {time.perf_counter() - t0:.2f} s wall (CSV in/out, parallel)")
    iv = np.full(len(price), np.nan)
    with open(out) as f:
        rows = csv.reader(f)
        header = next(rows)
        col = header.index("iv")
        for i, row in enumerate(rows):
            if row[col]:
                iv[i] = float(row[col])
    rel = price / fwd
    for name, m in (("all", rel > 1e-300), ("practical", rel >= 1e-12), ("tick", rel >= 1e-4)):
        e = np.abs(iv[m] - sigma[m]) / sigma[m]
        print(f"{name:9s} n={m.sum():7d} fail={int(np.isnan(e).sum())} max={np.nanmax(e):.3e} "
              f"p99={np.nanpercentile(e, 99):.3e} median={np.nanmedian(e):.3e}")


if __name__ == "__main__":
    main()
