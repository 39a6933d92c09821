"""Dask scaling of volfit.dask.fit_days (a benchmark, not a test: it prints, asserts nothing).

1. Eight synthetic Tardis `options_chain` day files (the library's generator, gzip as Tardis
   ships them), one task each (SVI every hour, BTC and ETH; each task >= 1 s here).
2. LocalCluster with 1, then 2 worker processes (threads_per_worker=1): elapsed wall time
   from submit to gathered result; per-task compute time from Dask's task stream.
   concurrency = sum of task times / elapsed; speed-up = elapsed(1 worker) / elapsed(2);
   overhead = (workers x elapsed - sum of task times) / sum of task times (everything that
   is not a task: scheduling, transfers, idle tails), and Dask's own cost per empty task.
3. Year-scale projection from one worker's rates on a synthetic day: rows/s and surfaces/s,
   per wall second and per CPU second (the machine is shared: CPU seconds are what one
   dedicated core delivers), and the workers a year of Deribit `options_chain` needs to
   finish within an hour at the measured concurrency. Rows per day are an assumption
   (--rows-per-day, default 100 M for BTC+ETH), bracketed by two public figures: "50 million+
   Deribit BTC options quotes per day" (holysheep.ai, a Tardis relay's write-up) and "about
   40 GB a day" of Tardis Deribit options data (zelos-alpha/demeter issue #19), ~200 M rows
   at the ~195 bytes per row of these files.

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
        t0, c0 = time.perf_counter(), time.process_time()
        one = volfit.fit_files(files[0], spec, every=a.every)
        day_s, day_cpu = time.perf_counter() - t0, time.process_time() - c0
        surfaces = len({(s, u) for s, u in zip(one.column("snapshot").to_pylist(), one.column("underlying").to_pylist())})
        results, concurrency = {}, {}
        for workers in (1, 2):
            table, elapsed, tasks, per_empty = run(files, spec, a.every, workers)
            total = sum(tasks)
            results[workers] = elapsed
            concurrency[workers] = total / elapsed
            print(
                f"{workers} worker(s): {len(tasks)} tasks, task time {total:.2f} s (min {min(tasks):.2f} s, "
                f"max {max(tasks):.2f} s), elapsed {elapsed:.2f} s, concurrency {total / elapsed:.2f}, "
                f"overhead {(workers * elapsed - total) / total * 100:.2f} % of task time, "
                f"empty task {per_empty * 1e3:.2f} ms ({per_empty / (total / len(tasks)) * 100:.3f} % of a mean task); "
                f"{len(table)} rows"
            )
        print(f"wall-clock speed-up 1 -> 2 workers: {results[1] / results[2]:.2f}x")
    print(
        f"one worker on one synthetic day: {day_s:.2f} s wall, {day_cpu:.2f} CPU-s: "
        f"{a.updates / day_s / 1e6:.3f} M rows/s and {surfaces / day_s:.1f} surfaces/s per wall second, "
        f"{a.updates / day_cpu / 1e6:.3f} M rows/s and {surfaces / day_cpu:.1f} surfaces/s per CPU second "
        f"({surfaces} surfaces)"
    )
    # A year of Deribit options_chain: reading dominates (rows); fits add per surface. The
    # CPU-second rates are what a dedicated worker core delivers.
    rows_s = a.updates / day_cpu
    conc = concurrency[2] / 2
    for per_day in sorted({50e6, a.rows_per_day, 200e6}):
        cpu_h = 365 * per_day / rows_s / 3600
        print(
            f"projection: {per_day / 1e6:.0f} M rows/day -> {cpu_h:.0f} worker-hours a year; "
            f"under an hour on {int(cpu_h / conc) + 1} workers (at {conc:.2f} of ideal concurrency, "
            f"as measured on 2 workers)"
        )


if __name__ == "__main__":
    main()
