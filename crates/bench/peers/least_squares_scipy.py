#!/usr/bin/env python3
"""scipy.optimize.least_squares on the same problems as `cargo bench --bench optim`.

The data come from the Rust side (one source of truth):

    cargo run --release -p volfit-bench --bin export_optim_problems -- /tmp/optim_problems.json
    python least_squares_scipy.py /tmp/optim_problems.json [--repeat 30]

For every case it runs method='lm' (MINPACK) and method='trf' with analytic Jacobians and
ftol = xtol = 1e-10 (the tolerance of the Rust benchmark), and loss='huber' (trf) on the
outlier smile, and prints the final cost (1/2 sum rho(r^2), scipy's `cost`), nfev/njev and
the median wall time of `--repeat` runs (time.perf_counter).
"""
import argparse
import json
import statistics
import time

import numpy as np
from scipy.optimize import least_squares

TOL = 1e-10


def misra1a(b, x):
    e = np.exp(-b[1] * x)
    return b[0] * (1 - e), np.column_stack([1 - e, b[0] * x * e])


def thurber(b, x):
    x2, x3 = x * x, x * x * x
    num = b[0] + b[1] * x + b[2] * x2 + b[3] * x3
    den = 1 + b[4] * x + b[5] * x2 + b[6] * x3
    f = num / den
    return f, np.column_stack([1 / den, x / den, x2 / den, x3 / den, -f * x / den, -f * x2 / den, -f * x3 / den])


def mgh09(b, x):
    num = x * x + x * b[1]
    den = x * x + x * b[2] + b[3]
    f = b[0] * num / den
    return f, np.column_stack([num / den, b[0] * x / den, -f * x / den, -f / den])


def eckerle4(b, x):
    u = (x - b[2]) / b[1]
    e = np.exp(-0.5 * u * u)
    f = b[0] / b[1] * e
    return f, np.column_stack([e / b[1], f * (u * u - 1) / b[1], f * u / b[1]])


def rat43(b, x):
    e = np.exp(b[1] - b[2] * x)
    q = 1 + e
    p = q ** (-1 / b[3])
    f = b[0] * p
    dq = -f / (b[3] * q)
    return f, np.column_stack([p, dq * e, -dq * e * x, f * np.log(q) / b[3] ** 2])


def svi(b, k):
    a, bb, rho, m, s = b
    d = k - m
    root = np.sqrt(d * d + s * s)
    f = a + bb * (rho * d + root)
    return f, np.column_stack([np.ones_like(k), rho * d + root, bb * d, bb * (-rho - d / root), bb * s / root])


MODELS = {"Misra1a": misra1a, "Thurber": thurber, "MGH09": mgh09, "Eckerle4": eckerle4, "Rat43": rat43}


def residual_fns(model, x, y):
    def fun(b):
        return model(b, x)[0] - y

    def jac(b):
        return model(b, x)[1]

    return fun, jac


def timed(run, repeat):
    times = []
    res = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = run()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("problems")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--json", help="write results here")
    ap.add_argument("--ours", help="the optim bench's JSON (OPTIM_BENCH_JSON): print time ratios")
    a = ap.parse_args()
    with open(a.problems) as fh:
        doc = json.load(fh)
    cases = []
    for p in doc["nist"]:
        x, y = np.array(p["x"]), np.array(p["y"])
        fun, jac = residual_fns(MODELS[p["name"]], x, y)
        for s in (1, 2):
            cases.append((f"{p['name']}-s{s}", fun, jac, np.array(p[f"start{s}"]), None, p["rss"] / 2))
    sm = doc["smile"]
    fun, jac = residual_fns(svi, np.array(sm["k"]), np.array(sm["w"]))
    cases.append(("smile60", fun, jac, np.array(sm["start"]), None, None))
    so = doc["smile_outliers"]
    fun, jac = residual_fns(svi, np.array(so["k"]), np.array(so["w"]))
    huber_case = ("smile60-huber", fun, jac, np.array(so["start"]), so["huber_scale"], None)

    out = []
    print(f"{'case':<15} {'method':<10} {'cost':>22} {'cert.cost':>22} {'nfev':>5} {'njev':>5} {'median s':>10}")
    for name, fun, jac, x0, _, cert in cases:
        for method in ("lm", "trf"):
            gtol = 1e-15 if method == "lm" else None

            def run():
                return least_squares(fun, x0, jac=jac, method=method, ftol=TOL, xtol=TOL, gtol=gtol)

            t, r = timed(run, a.repeat)
            cs = f"{cert:22.15e}" if cert is not None else f"{'':>22}"
            print(f"{name:<15} {method:<10} {r.cost:22.15e} {cs} {r.nfev:5d} {str(r.njev):>5} {t:10.3e}")
            out.append({"case": name, "method": method, "cost": r.cost, "nfev": int(r.nfev),
                        "njev": None if r.njev is None else int(r.njev), "median_s": t, "x": r.x.tolist()})
    name, fun, jac, x0, scale, _ = huber_case

    def run_h():
        return least_squares(fun, x0, jac=jac, method="trf", loss="huber", f_scale=scale, ftol=TOL, xtol=TOL, gtol=None)

    t, r = timed(run_h, a.repeat)
    print(f"{name:<15} {'trf-huber':<10} {r.cost:22.15e} {'':>22} {r.nfev:5d} {str(r.njev):>5} {t:10.3e}")
    print(f"  huber x = {r.x.tolist()}")
    out.append({"case": name, "method": "trf-huber", "cost": r.cost, "nfev": int(r.nfev),
                "njev": None if r.njev is None else int(r.njev), "median_s": t, "x": r.x.tolist()})
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(out, fh, indent=1)
    if a.ours:
        with open(a.ours) as fh:
            ours = {row["case"]: row for row in json.load(fh)}
        print(f"\n{'case':<15} {'method':<10} {'volfit us':>10} {'scipy us':>10} {'ratio':>7} {'cost rel.diff':>14}")
        for row in out:
            o = ours.get(row["case"])
            if o is None:
                continue
            rel = abs(o["cost"] - row["cost"]) / abs(row["cost"])
            print(f"{row['case']:<15} {row['method']:<10} {o['ours_s'] * 1e6:10.2f} {row['median_s'] * 1e6:10.1f} "
                  f"{row['median_s'] / o['ours_s']:7.1f} {rel:14.1e}")


if __name__ == "__main__":
    main()
