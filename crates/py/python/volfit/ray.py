"""volfit on Ray: the same tasks as :mod:`volfit.dask`, as plain Ray tasks.

:func:`fit_days` returns one ``pyarrow.Table`` (not a Ray Dataset: plain tasks start at
once, where Ray Data waited over a second before its first task here, and a Table pickles,
converts to pandas/polars and writes Parquet). Each task's Arrow result travels through
Ray's object store; the table's schema metadata ``volfit.tasks`` records, per task, the
worker pid, start/stop times (epoch seconds) and rows.

>>> import ray; ray.init(num_cpus=2)                                   # doctest: +SKIP
>>> fits = volfit.ray.fit_days(day_files, volfit.FitSpec(model="svi"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

import pyarrow as pa

from . import FitSpec, _duration_ms, _spec_json, _warm
from ._tasks import FitJob, meta_table, plan

try:
    import ray as _ray
except ImportError as e:  # pragma: no cover - a clear message instead of a bare ImportError
    raise ImportError("volfit.ray needs Ray: pip install ray") from e

__all__ = ["fit_days", "task_stats"]


def _run(job: FitJob, task: Any) -> tuple[pa.Table, dict[str, Any]]:
    return job.timed(task)


def fit_days(
    paths: Sequence[Any],
    spec: FitSpec | Mapping[str, Any] | None = None,
    every: Any = None,
    underlyings: Sequence[str] | None = None,
    warm_start: str = "partition",
    halo: bool = False,
    *,
    max_age: Any = None,
) -> pa.Table:
    """Fits day files as Ray tasks (one per (day[, underlying]), planned as
    :func:`volfit.dask.fit_days` does) and returns their rows as one ``pyarrow.Table``, in
    task order. Ray is initialised with its defaults when it is not yet. A bad input file
    raises the task's :class:`volfit.VolfitError` (wrapped by Ray in a
    ``RayTaskError`` that is also a ``VolfitError``) naming file and line."""
    spec_json, warm = _spec_json(spec), _warm(warm_start)
    tasks = plan(paths, underlyings, halo)
    layout = meta_table(spec_json, warm)
    job = FitJob(spec_json, warm, _duration_ms(every, "every"), _duration_ms(max_age, "max_age"), layout.schema)
    remote = _ray.remote(num_cpus=1)(_run)
    job_ref = _ray.put(job)
    results = _ray.get([remote.remote(job_ref, t) for t in tasks])
    table = pa.concat_tables([r[0] for r in results]) if results else layout
    meta = {b"volfit.tasks": json.dumps([r[1] for r in results]).encode()}
    return table.replace_schema_metadata(meta)


def task_stats(table: pa.Table) -> list[dict[str, Any]]:
    """The per-task records a :func:`fit_days` table carries (pid, start, stop, rows)."""
    raw = (table.schema.metadata or {}).get(b"volfit.tasks")
    return json.loads(raw) if raw else []
