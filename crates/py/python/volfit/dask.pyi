"""Type stubs of volfit.dask (see the docstrings in dask.py)."""

from typing import Any, Iterable, Mapping, Sequence

import dask.dataframe as dd

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
) -> dd.DataFrame: ...
def validate_partials(
    paths: Sequence[PathLike | Sequence[PathLike]],
    spec: FitSpec | Mapping[str, Any] | None = None,
    horizon: int = 1,
    every: Duration = None,
    underlyings: Sequence[str] | None = None,
    halo: bool = False,
    *,
    max_age: Duration = None,
) -> dd.DataFrame: ...
def validate(
    paths: Sequence[PathLike | Sequence[PathLike]],
    spec: FitSpec | Mapping[str, Any] | None = None,
    horizon: int = 1,
    every: Duration = None,
    underlyings: Sequence[str] | None = None,
    halo: bool = False,
    *,
    max_age: Duration = None,
) -> dict[str, float]: ...
def risk(pnl: dd.Series | dd.DataFrame, measures: Iterable[str] = ...) -> dict[str, float]: ...
