"""Distributed checks of the volfit wheel (run by tests/run.sh after test_volfit.py): Dask
(`LocalCluster`, 2 worker processes) and Ray (2 CPUs) give the CLI's tables; validation
and risk reductions equal the single-process values; errors cross the client.

Plain Python, one line per check. Real-data checks skip with a notice when ../shared/data
is absent unless VOLFIT_REQUIRE_DATA=1. Ray checks skip with a printed notice only when
`import ray` fails.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

import volfit
import volfit.dask
from volfit._tasks import FitJob, meta_table, plan

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_volfit import CLI, SPEC, SPEC_ARGS, cli_fit, days_files, same_rows, table_rows  # noqa: E402

CHECKS = []


def check(name):
    def wrap(f):
        CHECKS.append((name, f))
        return f

    return wrap


def key(r):
    return (r["underlying"], r["snapshot"], r["expiry"])


def rel(a, b):
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def worker_pids(client, records):
    """The pids of the workers that ran the task-stream records."""
    pids = client.run(os.getpid)
    return {pids[r["worker"]] for r in records if r["worker"] in pids}


@check("Dask fit_days equals the CLI's fit.json (--warm-start partition), tasks on 2 worker processes; to_parquet round trip")
def _(client):
    from dask.distributed import get_task_stream

    files = days_files()
    if files is None:
        return
    with tempfile.TemporaryDirectory() as d:
        cli = sorted(cli_fit(files, "partition", Path(d) / "cli"), key=key)
        # Files out of order: a day's snapshot files still form one task (whole partitions).
        ddf = volfit.dask.fit_days(files[::-1], SPEC, underlyings=["BTC", "ETH"])
        assert ddf.npartitions == 14, ddf.npartitions  # 7 days x 2 underlyings
        with get_task_stream(client) as ts:
            got = pa.Table.from_pandas(ddf.compute(), preserve_index=False)
        bad = same_rows(sorted(table_rows(got), key=key), cli)
        assert not bad, f"{len(bad)} rows differ"
        pids = worker_pids(client, ts.data)
        assert len(pids) == 2, pids
        ddf.to_parquet(Path(d) / "pq", write_index=False)
        back = pq.read_table(Path(d) / "pq")
        assert not same_rows(sorted(table_rows(back), key=key), cli)
    print(f"  {len(cli)} rows equal to fit.json from worker pids {sorted(pids)}; Parquet read back equal")


@check("Dask walk-forward validation equals the single-process values (1e-12); one day equals `volfit validate`")
def _(client):
    files = days_files()
    if files is None:
        return
    quotes = pa.concat_tables([volfit.read_chain(f) for f in files])
    single = volfit.validate(quotes, SPEC, horizon=1)
    dist = volfit.dask.validate(files, SPEC, horizon=1, underlyings=["BTC", "ETH"])
    worst = max(rel(single[k], dist[k]) for k in single)
    assert worst <= 1e-12, (single, dist)
    assert single["n_oos"] > 1000 and single["oos_rmse"] > single["is_rmse"] > 0, single
    # One UTC day is one partition per underlying: the CLI's walk-forward is the same.
    spec = SPEC.to_dict()
    grid = "\n".join(
        [
            "horizon = 1",
            "folds = 0",
            "ridge_lambdas = []",
            f'models = ["{spec["model"]}"]',
            f'losses = ["{spec["loss"]}"]',
            f'weights = ["{spec["weight"]}"]',
            f'residuals = ["{spec["residual"]}"]',
            f'ridges = ["{spec["ridge"]}"]',
        ]
    )
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "grid.toml").write_text(grid + "\n")
        out = Path(d) / "v"
        subprocess.run([str(CLI), "validate", "-q", "--config", str(Path(d) / "grid.toml"), "--out", str(out), *map(str, files[:4])], check=True, capture_output=True)
        cli = pd.read_csv(out / "summary.csv").iloc[0]
    day = volfit.validate(pa.concat_tables([volfit.read_chain(f) for f in files[:4]]), SPEC, horizon=1)
    names = ["is_rmse", "oos_rmse", "oos_rmse_strike", "oos_spread_rmse", "oos_inside_spread", "overfit"]
    assert int(cli["n_is"]) == day["n_is"] and int(cli["n_oos"]) == day["n_oos"], (cli, day)
    worst_cli = max(rel(float(cli[n]), day[n]) for n in names)
    assert worst_cli <= 1e-12, (cli, day)
    print(f"  7 days: oos_rmse {dist['oos_rmse']:.6f} (rel. diff {worst:.1e}); day 1 vs CLI rel. diff {worst_cli:.1e}")


@check("Dask risk aggregations (VaR/ES/OCE-CVaR, entropic, OCE, drawdown) equal volfit.risk on the whole sample (1e-12); the rest are refused by name")
def _(client):
    import dask.dataframe as dd

    pnl = np.random.default_rng(5).standard_t(3, 200_001) + 0.01
    measures = ["var:0.99", "es:0.975", "var:0.999", "cvar:0.9", "oce-cvar:0.95", "entropic:0.5", "oce-exp:2", "oce-quad:0.01", "mdd"]
    single = volfit.risk(pnl, measures)
    # Uneven partitions, one of them empty.
    cuts = [0, 1, 1, 40_000, 90_000, 150_000, 199_999, 200_001]
    parts = [dd.from_pandas(pd.Series(pnl[a:b], index=range(a, b), name="pnl"), npartitions=1) for a, b in zip(cuts, cuts[1:])]
    s = dd.concat(parts)
    assert s.npartitions == 7, s.npartitions
    dist = volfit.dask.risk(s, measures)
    worst = max(rel(single[m], dist[m]) for m in measures)
    assert worst <= 1e-12, (single, dist)
    small = volfit.dask.risk(dd.from_pandas(pd.Series(pnl[:50]), npartitions=3), measures[:5])
    assert small == volfit.risk(pnl[:50], measures[:5]), small
    refused = {}
    for m in ["spectral-exp:5", "spectral-pow:0.5", "evar:0.95", "oce-quad:10"]:
        try:
            volfit.dask.risk(s, [m])
        except volfit.VolfitError as e:
            assert m in str(e), (m, str(e))
            refused[m] = str(e)
        else:
            raise AssertionError(f"{m} accepted")
    assert "capped" in refused["oce-quad:10"], refused
    print(f"  {len(measures)} measures over 200,001 values in 7 partitions: worst rel. diff {worst:.1e}; refused {sorted(refused)}")


@check("Tardis day files with halo=True on Dask equal the CLI on the continuous stream")
def _(client):
    with tempfile.TemporaryDirectory() as d:
        days = volfit._volfit.synth_tardis(d, 1_767_571_200_000, 2, 12, 40_000, 11, True)
        args = ["--every", "2h"]
        run = subprocess.run(
            [str(CLI), "fit", *SPEC_ARGS, *args, "-q", "--out", str(Path(d) / "o"), str(Path(d) / "continuous.csv")],
            check=True,
            capture_output=True,
        )
        doc = json.loads((Path(d) / "o" / "fit.json").read_text())
        cli = sorted(
            ({"snapshot": s["snapshot"], "underlying": s["underlying"], **{k: v for k, v in e.items() if k != "time_us"}} for s in doc["snapshots"] for e in s["expiries"]),
            key=key,
        )
        got = pa.Table.from_pandas(volfit.dask.fit_days(days, SPEC, every="2h", halo=True).compute(), preserve_index=False)
        ours = sorted(table_rows(got), key=key)
        bad = same_rows(ours, cli)
        assert not bad, f"{len(bad)} of {len(cli)} rows differ"
        without = pa.Table.from_pandas(volfit.dask.fit_days(days, SPEC, every="2h").compute(), preserve_index=False)
        snaps = {r["snapshot"] for r in cli}
        lost = snaps - {r["snapshot"] for r in table_rows(without)}
        assert any("T00:00:00" in s for s in lost), lost  # what the halo is for
        assert run.returncode == 0
    print(f"  {len(cli)} rows over {len(snaps)} snapshots equal; without the halo {len(lost)} snapshot(s) lost: {sorted(lost)}")


@check("a bad input file raises VolfitError naming file and line through the Dask client")
def _(client):
    with tempfile.TemporaryDirectory() as d:
        synth = Path(d) / "synth.csv"
        subprocess.run([str(CLI), "synth", "-q", "--out", str(synth)], check=True)
        bad = Path(d) / "broken_20260106.csv"
        head = synth.read_text().splitlines()[:3]
        bad.write_text("\n".join(head + ["BTC-27MAR26-90000-C,1,2"]) + "\n")
        good = Path(d) / "synth_20260105.csv"
        synth.rename(good)
        try:
            volfit.dask.fit_days([good, bad], {"model": "svi"}).compute()
        except volfit.VolfitError as e:
            msg = str(e)
            assert "broken_20260106.csv" in msg and "line 4" in msg, msg
            print(f"  {type(e).__name__}: {msg}")
        else:
            raise AssertionError("no error")


@check("task planning: one task per day and underlying whatever the file order; the halo is the previous day's file")
def _(client):
    days = ["t/deribit_options_chain_2026-01-06.csv.gz", "t/deribit_options_chain_2026-01-05.csv.gz", "t/deribit_options_chain_2026-01-08.csv.gz"]
    tasks = plan(days, ["BTC", "ETH"], True)
    assert [(t.files[0][-17:-7], t.underlying, t.halo_from and t.halo_from[-17:-7]) for t in tasks] == [
        ("2026-01-06", "BTC", "2026-01-05"),
        ("2026-01-06", "ETH", "2026-01-05"),
        ("2026-01-05", "BTC", None),
        ("2026-01-05", "ETH", None),
        ("2026-01-08", "BTC", None),
        ("2026-01-08", "ETH", None),
    ], tasks
    snaps = ["s/snap_20260105T0400Z.csv", "s/snap_20260106T0400Z.csv", "s/snap_20260105T0900Z.csv", "s/other.csv"]
    assert [t.files for t in plan(snaps, None, False)] == [(snaps[0], snaps[2]), (snaps[1],), (snaps[3],)]
    try:
        plan(snaps, None, True)
    except volfit.VolfitError as e:
        assert "one file per day" in str(e), e
    else:
        raise AssertionError("halo with two files of a day accepted")
    print(f"  {len(tasks)} tasks from 3 day files x 2 underlyings")


@check("pickle round trip of the distributed types and values")
def _(client):
    def same(a, b):
        if isinstance(a, pa.Table):
            return a.equals(b)
        if isinstance(a, dict):
            return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
        if isinstance(a, float) and math.isnan(a):
            return math.isnan(b)
        return a == b

    with tempfile.TemporaryDirectory() as d:
        day = volfit._volfit.synth_tardis(d, 1_767_571_200_000, 1, 12, 20_000, 3, False)
        tasks = plan(day, ["BTC"], False)
        job = FitJob(SPEC._json, "partition", 3_600_000, None, meta_table(SPEC._json, "partition").schema)
        quotes = volfit.read_chain(day[0], every="1h")
        partial = volfit.validate_partial(quotes, SPEC)
        summary = volfit.validate_combine([partial, partial])
        values = [tasks[0], job, quotes, partial, summary, volfit.validate_sums(partial)]
        for v in values:
            back = pickle.loads(pickle.dumps(v))
            assert same(back, v), (type(v).__name__, back, v)
        ddf = volfit.dask.fit_days(day, SPEC, every="1h")
        back = pickle.loads(pickle.dumps(ddf))
        assert back.npartitions == ddf.npartitions and list(back.columns) == list(ddf.columns)
        fresh = pickle.loads(pickle.dumps(job))(tasks[0]).drop_columns(["time_us"])
        assert fresh.num_rows > 0 and fresh.equals(job(tasks[0]).drop_columns(["time_us"]))
        assert summary["n_oos"] > 0, summary
    print(f"  {len(values) + 1} values round-trip (Task, FitJob, quotes, partial, summary, sums, Dask DataFrame)")


@check("Ray fit_days equals the CLI's fit.json from 2 worker processes")
def _(client):
    try:
        import ray
    except ImportError as e:
        print(f"  notice: Ray not importable ({e}); Ray check skipped")
        return
    import volfit.ray

    files = days_files()
    if files is None:
        return
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - t0
    try:
        table = volfit.ray.fit_days(files, SPEC, underlyings=["BTC", "ETH"])
    finally:
        ray.shutdown()
    with tempfile.TemporaryDirectory() as d:
        cli = sorted(cli_fit(files, "partition", Path(d) / "cli"), key=key)
    bad = same_rows(sorted(table_rows(table), key=key), cli)
    assert not bad, f"{len(bad)} rows differ"
    stats = volfit.ray.task_stats(table)
    pids = {s["pid"] for s in stats}
    assert len(stats) == 14 and len(pids) == 2, stats
    assert pickle.loads(pickle.dumps(table)).equals(table)
    print(f"  {len(cli)} rows equal from pids {sorted(pids)} (ray.init {started:.1f} s)")


@check("volfit-py fit --engine local|dask --scheduler tcp://…|ray writes the CLI's table as Parquet; a bad file exits 2 naming file and line")
def _(client):
    files = days_files()
    if files is None:
        return
    exe = Path(sys.executable).with_name("volfit-py")
    engines = [("local", ["--workers", "2"]), ("dask", ["--scheduler", client.scheduler.address])]
    try:
        import ray  # noqa: F401

        engines.append(("ray", ["--workers", "2"]))  # a local Ray of 2 CPUs, started by the command
    except ImportError as e:
        print(f"  notice: Ray not importable ({e}); --engine ray skipped")
    with tempfile.TemporaryDirectory() as d:
        cli = sorted(cli_fit(files[:8], "partition", Path(d) / "cli"), key=key)
        for engine, where in engines:
            out = Path(d) / engine
            r = subprocess.run([str(exe), "fit", "--engine", engine, *where, *SPEC_ARGS, "-q", "--out", str(out), *map(str, files[:8])], capture_output=True, text=True)
            assert r.returncode == 0, f"{engine}: exit {r.returncode}: {r.stderr[-2000:]}"
            back = pq.read_table(out / "fits")
            bad = same_rows(sorted(table_rows(back), key=key), cli)
            assert not bad, f"{engine}: {len(bad)} rows differ"
            run = json.loads((out / "run.json").read_text())
            assert run["engine"] == engine and run["rows"] == len(cli) and run["tasks"] == 2, run
            assert engine != "dask" or run["scheduler"].startswith("tcp://"), run
            assert engine != "ray" or len(run["worker_pids"]) == 2, run  # the 2 tasks on 2 Ray workers
        broken = Path(d) / "broken.csv"
        broken.write_text("instrument_name,bid_price\nBTC-27MAR26-90000-C,x\n")
        r = subprocess.run([str(exe), "fit", "--engine", "local", "--out", str(Path(d) / "x"), str(broken)], capture_output=True, text=True)
        assert r.returncode == 2 and "broken.csv" in r.stderr and "line" in r.stderr, (r.returncode, r.stderr)
        assert not (Path(d) / "x").exists()
    print(f"  {len(cli)} rows equal on {', '.join(e for e, _ in engines)}; bad file: {r.stderr.strip()}")


def main():
    from dask.distributed import Client, LocalCluster

    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
    print(f"LocalCluster(n_workers=2, threads_per_worker=1, processes=True) up in {time.perf_counter() - t0:.1f} s")
    failed = 0
    try:
        for name, f in CHECKS:
            t0 = time.perf_counter()
            try:
                f(client)
                print(f"ok    {name} ({time.perf_counter() - t0:.1f} s)")
            except Exception as e:  # noqa: BLE001 - report every check
                failed += 1
                print(f"FAIL  {name}: {type(e).__name__}: {e}")
    finally:
        client.close()
        cluster.close()
    print(f"{len(CHECKS) - failed} of {len(CHECKS)} cluster checks passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
