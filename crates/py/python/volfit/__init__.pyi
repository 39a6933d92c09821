"""Type stubs of the volfit package (see the docstrings in __init__.py)."""

import datetime
import os
from typing import Any, Iterable, Literal, Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__version__: str

Duration = str | float | int | datetime.timedelta | None
WarmStart = Literal["chain", "partition", "none"]
PathLike = str | os.PathLike[str]
ArrayLike = Any  # numpy / pyarrow arrays, pandas or polars series, sequences, scalars

class VolfitError(ValueError):
    """Bad input (the message names file, line and field) or bad arguments."""

class FitSpec:
    def __init__(self, **fields: Any) -> None: ...
    @classmethod
    def from_toml(cls, path: PathLike) -> FitSpec: ...
    def to_dict(self) -> dict[str, Any]: ...
    def replace(self, **fields: Any) -> FitSpec: ...
    def __getattr__(self, name: str) -> Any: ...
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

def read_chain(
    path: PathLike,
    every: Duration = None,
    underlying: str | None = None,
    max_age: Duration = None,
    halo_from: PathLike | None = None,
) -> pa.Table: ...
def fit(
    quotes: Any,
    spec: FitSpec | Mapping[str, Any] | None = None,
    warm_start: WarmStart = "partition",
) -> pa.Table: ...
def fit_files(
    paths: PathLike | Sequence[PathLike],
    spec: FitSpec | Mapping[str, Any] | None = None,
    warm_start: WarmStart = "partition",
    *,
    every: Duration = None,
    underlying: str | None = None,
    max_age: Duration = None,
    halo_from: PathLike | None = None,
) -> pa.Table: ...
def implied_vol(
    forward: ArrayLike, strike: ArrayLike, t: ArrayLike, type: ArrayLike, price: ArrayLike
) -> npt.NDArray[np.float64]: ...
def risk(
    pnl: ArrayLike, measures: Iterable[str] = ..., weights: ArrayLike | None = None
) -> dict[str, float]: ...
def validate_partial(
    quotes: Any, spec: FitSpec | Mapping[str, Any] | None = None, horizon: int = 1
) -> pa.Table: ...
def validate_sums(partial: Any) -> dict[str, float]: ...
def validate_finish(sums: Mapping[str, float]) -> dict[str, float]: ...
def validate_combine(partials: Any) -> dict[str, float]: ...
def validate(
    quotes: Any, spec: FitSpec | Mapping[str, Any] | None = None, horizon: int = 1
) -> dict[str, float]: ...
