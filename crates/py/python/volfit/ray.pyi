"""Type stubs of volfit.ray (see the docstrings in ray.py)."""

from typing import Any, Mapping, Sequence

import pyarrow as pa

from . import Duration, FitSpec, PathLike, WarmStart

def fit_days(
    paths: Sequence[PathLike | Sequence[PathLike]],
    spec: FitSpec | Mapping[str, Any] | None = None,
    every: Duration = None,
    underlyings: Sequence[str] | None = None,
    warm_start: WarmStart = "partition",
    halo: bool = False,
    *,
    max_age: Duration = None,
) -> pa.Table: ...
def task_stats(table: pa.Table) -> list[dict[str, Any]]: ...
