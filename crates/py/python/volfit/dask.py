"""volfit on a Dask cluster (``dask.distributed``): one task per (day[, underlying]).

The scheduler is Dask's: whatever client is active (``Client(LocalCluster(...))``,
``Client("tcp://scheduler:8786")``, a ``SLURMCluster`` or a Kubernetes cluster) runs the
tasks. Results do not depend on how many workers there are: under
``warm_start="partition"`` each task holds whole partitions (venue, underlying, UTC day).

>>> from dask.distributed import Client, LocalCluster              # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
>>> fits = volfit.dask.fit_days(day_files, volfit.FitSpec(model="svi"), every="1h",
...                             halo=True)                           # doctest: +SKIP
>>> fits.to_parquet("fits/")                                         # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from . import FitSpec, VolfitError, _duration_ms, _spec_json, _volfit, _warm, validate_finish
from ._tasks import FitJob, ValidateJob, meta_table, plan

try:
    import dask
    import dask.dataframe as dd
except ImportError as e:  # pragma: no cover - a clear message instead of a bare ImportError
    raise ImportError("volfit.dask needs Dask: pip install 'dask[distributed]'") from e

__all__ = ["fit_days", "risk", "validate", "validate_partials"]


def _pandas(table: pa.Table) -> pd.DataFrame:
    """Arrow-backed pandas (struct columns stay structs; ``to_parquet`` writes them back)."""
    return table.to_pandas(types_mapper=pd.ArrowDtype)


class _Pandas:
    """A job whose Arrow result becomes a pandas partition."""

    def __init__(self, job: Any) -> None:
        self.job = job

    def __call__(self, task: Any) -> pd.DataFrame:
        return _pandas(self.job(task))


def fit_days(
    paths: Sequence[Any],
    spec: FitSpec | Mapping[str, Any] | None = None,
    every: Any = None,
    underlyings: Sequence[str] | None = None,
    warm_start: str = "partition",
    halo: bool = False,
    *,
    max_age: Any = None,
) -> "dd.DataFrame":
    """Fits day files on the active Dask client: a lazy Dask DataFrame, one partition per
    (day[, underlying]) task, rows and columns as :func:`volfit.fit_files` (one row per
    snapshot, underlying and expiry; ``params``, ``std_errors``, ``arbitrage`` as Arrow
    struct columns). ``.compute()`` gathers it, ``.to_parquet(dir)`` writes one file per
    task.

    ``paths``: day files in time order; snapshot files of the same day (by the date in
    their names) form one task, a list among them is one task as given. ``underlyings``:
    one task per day and underlying (``["BTC", "ETH"]``). ``halo=True`` (Tardis day files)
    makes each day's task read the previous day's file first, so its 00:00 chain equals the
    continuous stream's. ``every``/``max_age`` as in :func:`volfit.read_chain`.

    Bad input raises :class:`volfit.VolfitError` naming file, line and field, from the
    worker through the client.
    """
    spec_json, warm = _spec_json(spec), _warm(warm_start)
    tasks = plan(paths, underlyings, halo)
    layout = meta_table(spec_json, warm)
    job = FitJob(spec_json, warm, _duration_ms(every, "every"), _duration_ms(max_age, "max_age"), layout.schema)
    return dd.from_map(_Pandas(job), tasks, meta=_pandas(layout), label="volfit-fit", enforce_metadata=False)


def validate_partials(
    paths: Sequence[Any],
    spec: FitSpec | Mapping[str, Any] | None = None,
    horizon: int = 1,
    every: Any = None,
    underlyings: Sequence[str] | None = None,
    halo: bool = False,
    *,
    max_age: Any = None,
) -> "dd.DataFrame":
    """The walk-forward partials (:func:`volfit.validate_partial`) of the tasks of ``paths``
    (planned as by :func:`fit_days`), one partition per task: ``walk_forward.csv`` rows."""
    if horizon < 0:
        raise VolfitError("horizon must not be negative")
    spec_json = _spec_json(spec)
    job = ValidateJob(spec_json, int(horizon), _duration_ms(every, "every"), _duration_ms(max_age, "max_age"))
    meta = _volfit.validate_partial(_volfit.synth_quotes(42), spec_json, int(horizon)).slice(0, 0)
    return dd.from_map(_Pandas(job), plan(paths, underlyings, halo), meta=_pandas(meta), label="volfit-validate", enforce_metadata=False)


def _sums(frame: pd.DataFrame) -> pd.DataFrame:
    """One row of additive sums of a partial partition."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return pd.DataFrame([_volfit.validate_sums(table)], columns=_volfit.validate_sum_names())


def validate(
    paths: Sequence[Any],
    spec: FitSpec | Mapping[str, Any] | None = None,
    horizon: int = 1,
    every: Any = None,
    underlyings: Sequence[str] | None = None,
    halo: bool = False,
    *,
    max_age: Any = None,
) -> dict[str, float]:
    """Walk-forward validation as a Dask aggregation: each task's partial reduced to its
    sums on its worker, the sums added by Dask's tree reduction, the summary finished here
    (:func:`volfit.validate_finish`). Equals :func:`volfit.validate` on all the quotes in
    one process within rounding (1e-12 relative)."""
    partials = validate_partials(paths, spec, horizon, every, underlyings, halo, max_age=max_age)
    names = _volfit.validate_sum_names()
    meta = pd.DataFrame({n: pd.Series(dtype="float64") for n in names})
    total = partials.map_partitions(_sums, meta=meta).sum().compute()
    return validate_finish({n: float(total[n]) for n in names})


def _f64(values: pd.Series) -> np.ndarray:
    """Contiguous, aligned float64 (a buffer that crossed the wire may be misaligned)."""
    return np.require(values.to_numpy(dtype="float64"), dtype=np.float64, requirements=["C", "A"])


class _Partial:
    """A partition's risk numbers (:func:`volfit._volfit.risk_partial`) as a one-row frame."""

    def __init__(self, measures: list[str], width: int) -> None:
        self.measures, self.width = measures, width

    def __call__(self, part: pd.Series) -> pd.DataFrame:
        values = _volfit.risk_partial(_f64(part), self.measures)
        return pd.DataFrame([values], columns=[f"v{i}" for i in range(self.width)])


def risk(pnl: Any, measures: Iterable[str] = ("var:0.99", "es:0.975")) -> dict[str, float]:
    """Risk measures of an unweighted P&L sample held in a Dask Series (or a one-column
    DataFrame), in its partition order, as Dask aggregations: each partition reduced to a
    few numbers on its worker, combined here by the library. Equals :func:`volfit.risk` on
    the whole sample within 1e-12 relative. The measures that reduce exactly, with
    :func:`volfit.risk`'s names:

    - ``var:A``, ``es:A`` (``cvar:A``), ``oce-cvar:A``: the count, then the lowest P&L
      values by Dask's tree-reduced ``nsmallest`` (only the tail travels);
    - ``entropic:T``, ``oce-exp:T``: each partition's own value, combined by log-sum-exp;
    - ``oce-quad:C``: counts, means and centred sums of squares (the mean-variance value),
      when no loss lies below ``E[L] - 1/C`` (else an error: the capped utility needs
      every value);
    - ``mdd``: the drawdown of the path in partition order, from each partition's sum,
      running extremes and own drawdown.

    ``spectral-exp``, ``spectral-pow`` and ``evar`` need every value and raise
    :class:`volfit.VolfitError` naming the measure. One pass over ``pnl``, two with a tail
    measure: ``persist()`` it first when it is expensive to compute.
    """
    names = list(measures)
    kinds = _volfit.risk_plan(names)  # rejects what does not reduce, by name
    if isinstance(pnl, dd.DataFrame):
        if len(pnl.columns) != 1:
            raise VolfitError(f"risk: one P&L column, not {list(pnl.columns)}")
        pnl = pnl[pnl.columns[0]]
    width = len(_volfit.risk_partial(np.empty(0), names))
    meta = pd.DataFrame({f"v{i}": pd.Series(dtype="float64") for i in range(width)})
    count, size, parts = dask.compute(pnl.count(), pnl.size, pnl.map_partitions(_Partial(names, width), meta=meta))
    n = int(count)
    if n != int(size):
        raise VolfitError("risk: the P&L sample has missing values")
    if n == 0:
        raise VolfitError("risk: the P&L sample is empty")
    tail = None
    tails = [m for m, k in zip(names, kinds) if k == "tail"]
    if tails:
        k = _volfit.tail_size(n, tails)
        (low,) = dask.compute(pnl.nsmallest(min(k + 1, n)))
        tail = _f64(low)
    values = _volfit.risk_combine(parts.to_numpy(dtype="float64").tolist(), names, n, tail)
    return dict(zip(names, values))
