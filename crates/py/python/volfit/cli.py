"""The ``volfit-py`` console command: fit day files on Dask, Ray or locally.

    volfit-py fit --engine dask --scheduler tcp://10.0.0.5:8786 --model svi --every 1h \\
        --halo --out fits/ deribit_options_chain_2026-01-*.csv.gz

writes ``DIR/fits/part.N.parquet`` (one part per task on Dask, one part otherwise) and
``DIR/run.json`` (engine, tasks, rows, seconds; on Ray also ``worker_pids``). The folder is replaced as a whole when the
run succeeds. Without ``--scheduler`` the engine starts locally with ``--workers`` workers.
Errors print as ``volfit-py: error: …`` (naming file, line and field) and exit with 2.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import FitSpec, VolfitError, __version__, _duration_ms
from ._tasks import FitJob, meta_table, plan


# FitSpec fields settable by flag (the CLI's names), after --config.
_OVERRIDES = [
    ("model", "model"),
    ("loss", "robust loss"),
    ("residual", "residual kind (vol, variance, price, …)"),
    ("weight", "quote weights (uniform, vega, …)"),
    ("ridge", "ridge penalty L[:prev|:zero]"),
    ("solver", "solver (lm, lbfgs, …)"),
    ("starts", "multi-start count"),
]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="volfit-py", description="volfit from Python, on a cluster.")
    p.add_argument("-V", "--version", action="version", version=f"volfit-py {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fit", help="fit day files, one task per (day[, underlying]); Parquet out")
    f.add_argument("files", nargs="+", metavar="FILES", help="day files in time order")
    f.add_argument("--engine", choices=["dask", "ray", "local"], default="local")
    f.add_argument("--scheduler", metavar="ADDR", help="Dask scheduler (tcp://host:8786) or Ray address; default: start one locally")
    f.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="local workers when no --scheduler (default: one per core)")
    f.add_argument("--out", required=True, metavar="DIR", help="output folder (replaced when the run succeeds)")
    f.add_argument("--config", metavar="FILE", help="fit specification TOML (the CLI's --config)")
    f.add_argument("--model", help="model (svi, ssvi, essvi, sabr, heston, bates); overrides --config")
    f.add_argument("--loss", help="robust loss, e.g. huber:0.01; overrides --config")
    for flag, text in _OVERRIDES[2:]:
        f.add_argument(f"--{flag}", help=f"{text}; overrides --config")
    f.add_argument("--every", metavar="DUR", help="as-of chain spacing for update streams (e.g. 1h)")
    f.add_argument("--max-age", metavar="DUR", help="quotes older than this are stale (default 10m)")
    f.add_argument("--underlying", action="append", metavar="COIN", help="one task per day and COIN (repeatable)")
    f.add_argument("--warm-start", choices=["chain", "partition", "none"], default="partition")
    f.add_argument("--halo", action="store_true", help="each day's task reads the previous day's file first (Tardis day files)")
    f.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    return p


def _spec(a: argparse.Namespace) -> FitSpec:
    spec = FitSpec.from_toml(a.config) if a.config else FitSpec()
    fields = {k: getattr(a, k) for k, _ in _OVERRIDES if getattr(a, k) is not None}
    if "starts" in fields:
        try:
            fields["starts"] = int(fields["starts"])
        except ValueError:
            raise VolfitError(f"--starts {fields['starts']!r}: a whole number") from None
    return spec.replace(**fields) if fields else spec


def _dask(a: argparse.Namespace, spec: FitSpec, staging: Path) -> int:
    from dask.distributed import Client, LocalCluster

    from . import dask as vdask

    cluster = None
    if not a.scheduler:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(a.scheduler or cluster):
            ddf = vdask.fit_days(a.files, spec, a.every, a.underlying, a.warm_start, a.halo, max_age=a.max_age)
            ddf.to_parquet(staging / "fits", write_index=False, compute=True)
    finally:
        if cluster is not None:
            cluster.close()
    return sum(pq.ParquetFile(p).metadata.num_rows for p in (staging / "fits").glob("*.parquet"))


def _ray(a: argparse.Namespace, spec: FitSpec, staging: Path) -> int:
    import ray

    from . import ray as vray

    ray.init(address=a.scheduler, num_cpus=None if a.scheduler else a.workers, include_dashboard=False, log_to_driver=False)
    try:
        table = vray.fit_days(a.files, spec, a.every, a.underlying, a.warm_start, a.halo, max_age=a.max_age)
    finally:
        ray.shutdown()
    a.worker_pids = sorted({t["pid"] for t in vray.task_stats(table)})
    _write(table, staging)
    return table.num_rows


def _local(a: argparse.Namespace, spec: FitSpec, staging: Path) -> int:
    tasks = plan(a.files, a.underlying, a.halo)
    layout = meta_table(spec._json, a.warm_start)
    job = FitJob(spec._json, a.warm_start, _duration_ms(a.every, "every"), _duration_ms(a.max_age, "max_age"), layout.schema)
    with ThreadPoolExecutor(max_workers=max(1, a.workers)) as pool:  # the GIL is released
        tables = list(pool.map(job, tasks))
    table = pa.concat_tables(tables) if tables else layout
    _write(table, staging)
    return table.num_rows


def _write(table: pa.Table, staging: Path) -> None:
    (staging / "fits").mkdir()
    pq.write_table(table, staging / "fits" / "part.0.parquet")


def _replace(staging: Path, out: Path) -> None:
    """Moves the finished folder into place; the old one goes only after that."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def fit(a: argparse.Namespace) -> None:
    spec = _spec(a)
    for f in a.files:
        if not os.path.exists(f):
            raise VolfitError(f"{f}: no such file")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        start = time.perf_counter()
        rows = {"dask": _dask, "ray": _ray, "local": _local}[a.engine](a, spec, staging)
        seconds = time.perf_counter() - start
        run = {
            "engine": a.engine,
            "scheduler": a.scheduler,
            "files": a.files,
            "tasks": len(plan(a.files, a.underlying, a.halo)),
            "rows": rows,
            "seconds": seconds,
            "spec": spec.to_dict(),
            "warm_start": a.warm_start,
            "version": __version__,
        }
        if a.engine == "ray":
            run["worker_pids"] = a.worker_pids  # the distinct Ray worker processes that ran tasks
        (staging / "run.json").write_text(json.dumps(run, indent=2) + "\n")
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if not a.quiet:
        print(f"volfit-py: {rows} rows from {run['tasks']} tasks on {a.engine} in {seconds:.2f} s -> {out}/fits")


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    try:
        if a.command == "fit":
            fit(a)
    except VolfitError as e:
        print(f"volfit-py: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
