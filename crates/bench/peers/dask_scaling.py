"""Dask scaling of volfit.dask.fit_days (a benchmark, not a test: it prints, asserts nothing).

1. Eight synthetic Tardis `options_chain` day files (the library's generator, gzip as Tardis
   ships them), one task each (SVI every hour, BTC and ETH; each task >= 1 s here).
2. LocalCluster with 1, then 2 worker processes (threads_per_worker=1): elapsed wall time
   from submit to gathered result; per-task compute time from Dask's task stream.
   concurrency = sum of task times / elapsed; speed-up = elapsed(1 worker) / elapsed(2);
   overhead = (workers x elapsed - sum of task times) / sum of task times (everything that
   is not a task: scheduling, transfers, idle tails), and Dask's own cost per empty task.
3. Year-scale projection from one worker's rates on a synthetic day: rows/s and surfaces/s.

    python crates/bench/peers/dask_scaling.py [--updates N] [--strikes K] [--every 1h]

Needs the volfit wheel with its `dask` extra (`pip install 'volfit[dask]'`).
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import tempfile
import time
from pathlib import Path

import volfit
import volfit.dask

DAY0_MS = 1_767_571_200_000  # 2026-01-05T00:00:00Z


def synth_days(dir: Path, days: int, updates: int, strikes: int) -> list[Path]:
    """Day files as Tardis ships them (`.csv.gz`), each with its own seed."""
    out = []
    for d in range(days):
        (plain,) = volfit._volfit.synth_tardis(str(dir), DAY0_MS + d * 86_400_000, 1, strikes, updates, 100 + d, False)
        gz = Path(str(plain) + ".gz")
        with open(plain, "rb") as src, gzip.open(gz, "wb", compresslevel=6) as dst:
            shutil.copyfileobj(src, dst)
        os.remove(plain)
        out.append(gz)
    return out


def run(files, spec, every, workers):
    from dask.distributed import Client, LocalCluster, get_task_stream

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    with Client(cluster) as client:
        client.submit(lambda: None).result()  # workers up
        t0 = time.perf_counter()
        empties = client.gather(client.map(lambda i: i, range(200), pure=False))
        per_empty = (time.perf_counter() - t0) / len(empties)
        ddf = volfit.dask.fit_days(files, spec, every=every)
        with get_task_stream(client) as ts:
            t0 = time.perf_counter()
            table = ddf.compute()
            elapsed = time.perf_counter() - t0
        tasks = [
            sum(s["stop"] - s["start"] for s in r["startstops"] if s["action"] == "compute")
            for r in ts.data
            if "volfit-fit" in str(r["key"])
        ]
    cluster.close()
    return table, elapsed, tasks, per_empty


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=240_000, help="updates per synthetic day")
    ap.add_argument("--strikes", type=int, default=24)
    ap.add_argument("--every", default="1h")
    ap.add_argument("--rows-per-day", type=float, default=100e6, help="assumed Deribit options_chain rows per day")
    a = ap.parse_args()
    spec = volfit.FitSpec(model="svi", loss="huber:0.01")
    with tempfile.TemporaryDirectory() as d:
        files = synth_days(Path(d), 8, a.updates, a.strikes)
        mb = sum(f.stat().st_size for f in files) / 8 / 1e6
        print(f"8 synthetic Tardis days: {a.updates} rows each ({mb:.1f} MB gzip), SVI every {a.every}, BTC+ETH")
        # One worker's rates on one day, in this process (no scheduler in the way).
        t0 = time.perf_counter()
        one = volfit.fit_files(files[0], spec, every=a.every)
        day_s = time.perf_counter() - t0
        surfaces = len({(s, u) for s, u in zip(one.column("snapshot").to_pylist(), one.column("underlying").to_pylist())})
        results = {}
        for workers in (1, 2):
            table, elapsed, tasks, per_empty = run(files, spec, a.every, workers)
            total = sum(tasks)
            results[workers] = elapsed
            print(
                f"{workers} worker(s): {len(tasks)} tasks, task time {total:.2f} s (min {min(tasks):.2f} s, "
                f"max {max(tasks):.2f} s), elapsed {elapsed:.2f} s, concurrency {total / elapsed:.2f}, "
                f"overhead {(workers * elapsed - total) / total * 100:.2f} % of task time, "
                f"empty task {per_empty * 1e3:.2f} ms ({per_empty / (total / len(tasks)) * 100:.3f} % of a mean task); "
                f"{len(table)} rows"
            )
        print(f"wall-clock speed-up 1 -> 2 workers: {results[1] / results[2]:.2f}x")
    rows_s = a.updates / day_s
    surf_s = surfaces / day_s
    print(f"one worker on one synthetic day: {day_s:.2f} s = {rows_s / 1e6:.3f} M rows/s, {surf_s:.1f} surfaces/s ({surfaces} surfaces)")
    # A year of Deribit options_chain: the reading dominates (rows), the fits add per surface.
    year_rows = 365 * a.rows_per_day
    per_day_s = a.rows_per_day / rows_s
    workers = year_rows / rows_s / 3600 / 0.9  # 90 % concurrency, as measured on 2 workers
    print(
        f"projection: {a.rows_per_day / 1e6:.0f} M rows/day -> one day {per_day_s / 60:.1f} min on one worker; "
        f"a year ({year_rows / 1e9:.1f} G rows) in under an hour needs {int(workers) + 1} workers "
        f"(at 0.9 concurrency; hourly surfaces add {365 * 24 * 2 / surf_s / 3600:.3f} worker-hours)"
    )


if __name__ == "__main__":
    main()
