"""volfit: fit volatility models to crypto option chains (Deribit), from Python.

Arrow in and out: tables come back as ``pyarrow.Table`` (``.to_pandas()``,
``polars.from_arrow``); inputs may be pyarrow, pandas, polars or anything with the Arrow
PyCapsule interface. The GIL is released while volfit computes, so threads run in parallel.

Example::

    import volfit
    quotes = volfit.read_chain("deribit_options_chain_2026-01-05.csv.gz", every="1h",
                               underlying="BTC")
    fits = volfit.fit(quotes, volfit.FitSpec(model="svi", loss="huber:0.01"))
    fits.to_pandas()[["snapshot", "expiry", "rmse_vol"]]
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import os as _os
import re as _re
import weakref as _weakref
from typing import Any, Iterable, Mapping, Sequence

import numpy as _np
import pyarrow as _pa

from . import _volfit
from ._volfit import VolfitError, __version__

__all__ = [
    "FitSpec",
    "VolfitError",
    "__version__",
    "fit",
    "fit_files",
    "implied_vol",
    "read_chain",
    "risk",
    "validate",
    "validate_combine",
    "validate_partial",
]

WARM_STARTS = ("chain", "partition", "none")

_UNITS_MS = {"ms": 1.0, "s": 1e3, "": 1e3, "m": 60e3, "min": 60e3, "h": 3600e3, "d": 86400e3}


def _duration_ms(value: Any, name: str) -> int | None:
    """``"1h"``/``"15m"``/``"30s"``/``"500ms"``, seconds as a number, or a timedelta → ms."""
    if value is None:
        return None
    if isinstance(value, _dt.timedelta):
        return round(value.total_seconds() * 1000)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(value * 1000)
    if isinstance(value, str):
        m = _re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", value)
        if m and m.group(2) in _UNITS_MS:
            return round(float(m.group(1)) * _UNITS_MS[m.group(2)])
    raise VolfitError(f"{name}={value!r}: a duration such as '1h', '15m', '30s', seconds, or a timedelta")


def _warm(mode: str) -> str:
    if mode not in WARM_STARTS:
        raise VolfitError(f"warm_start={mode!r}: one of {', '.join(WARM_STARTS)}")
    return mode


class FitSpec:
    """Everything that defines a fit, with the keys of the CLI's ``--config`` TOML.

    ``FitSpec(model="svi", loss="huber:0.01", ridge="0.001:prev", solver="lm",
    filter={"min_quotes": 8})``; unknown keys and bad values raise :class:`VolfitError`
    naming the key. ``FitSpec.from_toml("fit.toml")`` reads a config file (errors name the
    file and line). A spec is immutable, compares by value and pickles.

    >>> spec = FitSpec(model="sabr", starts=4)
    >>> spec.model, spec.starts
    ('sabr', 4)
    """

    __slots__ = ("_json",)

    def __init__(self, **fields: Any) -> None:
        object.__setattr__(self, "_json", _volfit.spec_json(_json.dumps(fields)))

    @classmethod
    def from_toml(cls, path: str | _os.PathLike[str]) -> "FitSpec":
        """Reads a fit specification TOML file (the CLI's ``--config``)."""
        return cls._from_json(_volfit.spec_from_toml(_os.fspath(path)))

    @classmethod
    def _from_json(cls, text: str) -> "FitSpec":
        spec = cls.__new__(cls)
        object.__setattr__(spec, "_json", _volfit.spec_json(text))
        return spec

    def to_dict(self) -> dict[str, Any]:
        """Every field, as the CLI echoes it into ``fit.json``'s ``spec``."""
        return _json.loads(self._json)

    def replace(self, **fields: Any) -> "FitSpec":
        """A copy with ``fields`` changed."""
        return FitSpec(**{**self.to_dict(), **fields})

    def __getattr__(self, name: str) -> Any:
        d = _json.loads(object.__getattribute__(self, "_json"))
        if name in d:
            return d[name]
        raise AttributeError(f"FitSpec has no field {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("FitSpec is immutable; use .replace(**fields)")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FitSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(self._json)

    def __repr__(self) -> str:
        return f"FitSpec(**{self.to_dict()!r})"

    def __reduce__(self):
        return (FitSpec._from_json, (self._json,))


def _spec_json(spec: FitSpec | Mapping[str, Any] | None) -> str | None:
    if spec is None:
        return None
    if isinstance(spec, FitSpec):
        return spec._json
    if isinstance(spec, Mapping):
        return FitSpec(**spec)._json
    raise VolfitError(f"spec: a FitSpec or a dict of its fields, not {type(spec).__name__}")


# The snapshots behind each live table that `read_chain` returned, by the table's id: `fit`
# and `validate_partial` hand the handle to Rust instead of rebuilding them from Arrow.
# Tables are immutable, so the very same object holds the very same rows; any other table
# (a slice, a concatenation, a pandas or polars frame, an unpickled copy) is read from Arrow.
_CHAINS: dict[int, tuple[_weakref.ref, Any]] = {}


def _forget(ref: _weakref.ref, key: int) -> None:
    if _CHAINS.get(key, (None,))[0] is ref:
        del _CHAINS[key]


def _keep(table: _pa.Table, chain: Any) -> _pa.Table:
    key = id(table)
    _CHAINS[key] = (_weakref.ref(table, lambda ref: _forget(ref, key)), chain)
    return table


def _quotes(quotes: Any) -> Any:
    """The snapshots' handle of a `read_chain` table, else an Arrow input for Rust."""
    hit = _CHAINS.get(id(quotes))
    if hit is not None and hit[0]() is quotes:
        return hit[1]
    if not hasattr(quotes, "__arrow_c_stream__") and not hasattr(quotes, "__arrow_c_array__"):
        return _pa.table(quotes)
    return quotes


def read_chain(
    path: str | _os.PathLike[str],
    every: Any = None,
    underlying: str | None = None,
    max_age: Any = None,
    halo_from: str | _os.PathLike[str] | None = None,
) -> _pa.Table:
    """Reads one option-chain file into a table of cleaned quotes (one row per quote).

    The format is detected as by ``volfit quotes`` (Deribit summaries and book dumps, Tardis
    ``options_chain``, OptionsDX, Deribit JSON; ``.gz`` transparently). For update streams,
    ``every`` (default ``"1h"``) spaces the as-of chains and ``max_age`` (default ``"10m"``)
    marks older updates stale; ``halo_from`` is the previous day's file of a Tardis day file,
    so the day's chains (its 00:00 chain first) equal the continuous stream's.

    Columns: ``snapshot``, ``underlying``, ``index``, ``expiry``, ``expiry_t``, ``forward``,
    ``forward_source``, ``instrument``, ``strike``, ``type`` (C/P), ``bid``, ``ask``,
    ``bid_coin``, ``ask_coin``, ``mark``, ``mark_iv``, ``bid_iv``, ``ask_iv``, ``mid_iv``,
    ``bid_size``, ``ask_size``, ``open_interest``, ``volume``, ``row_forward``, ``t``. Prices
    in USD, IVs as fractions, times in UTC.

    The table keeps its snapshots' Rust form alongside (about as much memory again) while
    it lives, so :func:`fit` of this very table skips rebuilding them from Arrow.

    >>> q = read_chain("synth.csv")              # doctest: +SKIP
    >>> q.num_rows, q.column_names[:3]           # doctest: +SKIP
    (309, ['snapshot', 'underlying', 'index'])
    """
    table, chain = _volfit.read_chain(
        _os.fspath(path),
        _duration_ms(every, "every"),
        underlying,
        _duration_ms(max_age, "max_age"),
        None if halo_from is None else _os.fspath(halo_from),
    )
    return _keep(table, chain)


def fit(quotes: Any, spec: FitSpec | Mapping[str, Any] | None = None, warm_start: str = "partition") -> _pa.Table:
    """Fits every snapshot of a quotes table (as :func:`read_chain` returns; pyarrow, pandas,
    polars or any Arrow stream).

    ``warm_start``: ``"partition"`` (default) warm-starts each snapshot from the previous one
    of its (venue, underlying, UTC day) — results do not depend on how whole days are split
    across calls; ``"none"`` fits every snapshot cold; ``"chain"`` warm-starts across
    everything passed.

    Returns one row per (snapshot, underlying, expiry) with the fields of ``fit.json``'s
    expiry entries (``params``, ``std_errors`` and ``arbitrage`` as struct columns).

    >>> fits = fit(read_chain("synth.csv"), FitSpec(model="svi"))   # doctest: +SKIP
    >>> fits.column("rmse_vol")                                      # doctest: +SKIP
    """
    return _volfit.fit(_quotes(quotes), _spec_json(spec), _warm(warm_start))


def fit_files(
    paths: str | _os.PathLike[str] | Sequence[str | _os.PathLike[str]],
    spec: FitSpec | Mapping[str, Any] | None = None,
    warm_start: str = "partition",
    *,
    every: Any = None,
    underlying: str | None = None,
    max_age: Any = None,
    halo_from: str | _os.PathLike[str] | None = None,
) -> _pa.Table:
    """Reads and fits files exactly as ``volfit fit FILES --warm-start MODE`` does: the same
    table as :func:`fit`, equal bit for bit to the CLI's ``fit.json`` (``time_us`` aside).

    >>> fits = fit_files(["day1.csv.gz"], FitSpec(model="svi"), every="1h")  # doctest: +SKIP
    """
    if isinstance(paths, (str, _os.PathLike)):
        paths = [paths]
    return _volfit.fit_files(
        [_os.fspath(p) for p in paths],
        _spec_json(spec),
        _warm(warm_start),
        _duration_ms(every, "every"),
        underlying,
        _duration_ms(max_age, "max_age"),
        None if halo_from is None else _os.fspath(halo_from),
    )


def _numpy(x: Any) -> Any:
    """numpy view (or copy, for strings and nulls) of pyarrow/pandas/polars data."""
    if isinstance(x, _pa.Array):
        return x.to_numpy(zero_copy_only=False)
    if hasattr(x, "to_numpy") and not isinstance(x, _np.ndarray):
        return x.to_numpy()
    return x


def _f64(x: Any, n: int | None = None) -> _np.ndarray:
    a = _np.ascontiguousarray(_np.asarray(_numpy(x), dtype=_np.float64).reshape(-1))
    return _np.full(n, a[0]) if n is not None and a.size == 1 and n != 1 else a


def implied_vol(forward: Any, strike: Any, t: Any, type: Any, price: Any) -> _np.ndarray:
    """Black-76 implied vols of undiscounted prices (``volfit iv``), over arrays.

    Inputs are numpy arrays, pyarrow arrays, pandas/polars series or scalars (broadcast);
    ``type`` is ``"C"``/``"P"`` (or ``"call"``/``"put"``) per row or once. Returns a float64
    numpy array, NaN where no vol reproduces the price.

    >>> implied_vol(100.0, [90.0, 110.0], 0.5, "C", [13.0, 4.0]).round(4)  # doctest: +SKIP
    array([0.3035, 0.2868])
    """
    n = max(_np.size(_f64(v)) for v in (forward, strike, t, price))
    kinds = _np.asarray(_numpy(type), dtype=str).reshape(-1)
    if kinds.size == 1 and n != 1:
        kinds = _np.full(n, kinds[0])
    low = _np.char.lower(kinds)
    is_call = _np.isin(low, ("c", "call"))
    bad = ~(is_call | _np.isin(low, ("p", "put")))
    if bad.any():
        i = int(_np.argmax(bad))
        raise VolfitError(f"implied_vol: type[{i}] = {kinds[i]!r}: expected C or P")
    return _volfit.implied_vol(_f64(forward, n), _f64(strike, n), _f64(t, n), is_call, _f64(price, n))


def risk(pnl: Any, measures: Iterable[str] = ("var:0.99", "es:0.975"), weights: Any = None) -> dict[str, float]:
    """Risk measures of a P&L sample (``volfit risk``): losses are negative P&L, values are
    in loss units, larger = riskier. ``measures`` use the CLI's syntax (``var:A``, ``es:A``,
    ``spectral-exp:K``, ``spectral-pow:G``, ``evar:A``, ``entropic:T``, ``oce-quad:C``,
    ``mdd``, …). Returns ``{measure: value}`` in the order given.

    >>> risk([-1.0, 0.5, 2.0, -3.0], ["var:0.75", "es:0.75"])  # doctest: +SKIP
    {'var:0.75': 1.0, 'es:0.75': 3.0}
    """
    names = list(measures)
    w = None if weights is None else _f64(weights)
    values = _volfit.risk(_f64(pnl), names, w)
    return dict(zip(names, values))


def validate_partial(quotes: Any, spec: FitSpec | Mapping[str, Any] | None = None, horizon: int = 1) -> _pa.Table:
    """Walk-forward validation, the partial: every partition (venue, underlying, UTC day)
    of a quotes table walked forward on its own — each snapshot fitted (warm-started within
    its partition), scored in-sample (horizon 0) and on the next ``horizon`` snapshots of
    the partition, sticky moneyness and sticky strike. Rows as ``volfit validate``'s
    ``walk_forward.csv`` (``spec_id`` 0). Partials of disjoint partitions concatenate, so
    days can be computed anywhere and combined with :func:`validate_combine`.

    >>> part = validate_partial(read_chain("day.csv.gz"), FitSpec(model="svi"))  # doctest: +SKIP
    """
    if horizon < 0:
        raise VolfitError("horizon must not be negative")
    return _volfit.validate_partial(_quotes(quotes), _spec_json(spec), int(horizon))


def validate_sums(partial: Any) -> dict[str, float]:
    """The additive sums of a partial (sums of squared errors, inside counts, quote counts,
    in-sample and out-of-sample): add the sums of several partials key by key, then
    :func:`validate_finish`. What a distributed reduce ships instead of rows."""
    if not hasattr(partial, "__arrow_c_stream__") and not hasattr(partial, "__arrow_c_array__"):
        partial = _pa.table(partial)
    return dict(zip(_volfit.validate_sum_names(), _volfit.validate_sums(partial)))


def validate_finish(sums: Mapping[str, float]) -> dict[str, float]:
    """The pooled errors of added :func:`validate_sums`, with ``volfit validate``'s
    ``summary.csv`` names and formulas: ``n_is``, ``is_rmse``, ``n_oos``, ``oos_rmse``,
    ``oos_rmse_strike``, ``oos_spread_rmse``, ``oos_inside_spread``, ``overfit`` (vol
    points; counts as floats)."""
    missing = [n for n in _volfit.validate_sum_names() if n not in sums]
    if missing:
        raise VolfitError(f"validate sums lack {missing}")
    return dict(_volfit.validate_finish([float(sums[n]) for n in _volfit.validate_sum_names()]))


def validate_combine(partials: Any) -> dict[str, float]:
    """The pooled errors of partials (one table or a sequence of them), as one run over
    all of them gives: the combine of :func:`validate_partial`.

    >>> validate_combine([validate_partial(q, spec) for q in days])  # doctest: +SKIP
    {'n_is': 5123.0, 'is_rmse': 0.41, 'n_oos': 4980.0, 'oos_rmse': 0.97, ...}
    """
    if isinstance(partials, (list, tuple)):
        total: dict[str, float] = {}
        for p in partials:
            for k, v in validate_sums(p).items():
                total[k] = total.get(k, 0.0) + v
        if not total:
            total = {n: 0.0 for n in _volfit.validate_sum_names()}
        return validate_finish(total)
    return validate_finish(validate_sums(partials))


def validate(quotes: Any, spec: FitSpec | Mapping[str, Any] | None = None, horizon: int = 1) -> dict[str, float]:
    """Walk-forward validation in one process: ``validate_combine(validate_partial(...))``.
    The Dask engine (:func:`volfit.dask.validate`) gives the same numbers within rounding."""
    return validate_combine(validate_partial(quotes, spec, horizon))
