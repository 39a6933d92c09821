"""Task planning shared by the Dask and Ray engines: which files each task reads, the halo
(the previous day's file) and the table layout every task's result is conformed to.

A task is one (day[, underlying]): the files of one UTC day — one Tardis day file, or the
snapshot files whose names carry that day — optionally restricted to one underlying. Under
``warm_start="partition"`` a task then holds whole partitions (venue, underlying, UTC day),
so the union of the tasks' tables equals one ``volfit fit --warm-start partition`` run.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Sequence

import pyarrow as pa

from . import _volfit
from ._volfit import VolfitError

_DATE = re.compile(r"(?<![0-9])(20[0-9]{2})-?([01][0-9])-?([0-3][0-9])(?![0-9])")


@dataclass(frozen=True)
class Task:
    """One unit of distributed work: files of one day, an underlying, the halo file."""

    files: tuple[str, ...]
    underlying: str | None = None
    halo_from: str | None = None

    @property
    def label(self) -> str:
        name = os.path.basename(self.files[0]) + (f" (+{len(self.files) - 1})" if len(self.files) > 1 else "")
        return f"{name}{'' if self.underlying is None else ' ' + self.underlying}"


def file_day(path: str) -> _dt.date | None:
    """The UTC day in a file name (``2026-01-05`` or ``20260105``), if any."""
    m = _DATE.search(os.path.basename(path))
    if not m:
        return None
    try:
        return _dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def plan(paths: Sequence[Any], underlyings: Sequence[str] | None, halo: bool) -> list[Task]:
    """Tasks of ``paths``: the files of one day (by the date in their names) form one task,
    in order of first appearance; a file without a day in its name is a task of its own,
    and a list or tuple among ``paths`` is one task as given. With ``halo`` every day has
    one file, and its task reads the previous day's file (when given) first."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    groups: list[tuple[_dt.date | None, list[str]]] = []
    by_day: dict[_dt.date, list[str]] = {}
    for p in paths:
        if isinstance(p, (list, tuple)):
            groups.append((None, [os.fspath(x) for x in p]))
            continue
        p = os.fspath(p)
        day = file_day(p)
        if day is None:
            groups.append((None, [p]))
        elif day in by_day:
            by_day[day].append(p)
        else:
            by_day[day] = [p]
            groups.append((day, by_day[day]))
    if not groups:
        raise VolfitError("no input files")
    halos: list[str | None] = [None] * len(groups)
    if halo:
        for i, (day, files) in enumerate(groups):
            if len(files) != 1:
                raise VolfitError(f"halo=True takes one file per day; {files[0]} shares its day with {len(files) - 1} more")
            prev = by_day.get(day - _dt.timedelta(days=1)) if day is not None else None
            halos[i] = prev[0] if prev else None
    unders: list[str | None] = list(underlyings) if underlyings else [None]
    return [Task(tuple(files), u, h) for (_, files), h in zip(groups, halos) for u in unders]


def meta_table(spec_json: str | None, warm_start: str) -> pa.Table:
    """The layout of a fit table under this spec, from a small real result: the fit of
    the library's synthetic chain (``volfit synth``), no rows kept."""
    quotes = _volfit.synth_quotes(42)
    return _volfit.fit(quotes, spec_json, warm_start).slice(0, 0)


def conform(table: pa.Table, schema: pa.Schema, where: str) -> pa.Table:
    """``table`` in ``schema``'s layout: struct fields the table lacks become nulls; a
    column or field the schema lacks is an error naming ``where``."""
    if table.schema.equals(schema):
        return table
    if table.num_rows == 0:
        return schema.empty_table()
    cols = []
    for field in schema:
        if field.name not in table.column_names:
            raise VolfitError(f"{where}: the fit table lacks column {field.name!r}")
        col = table.column(field.name).combine_chunks()
        if pa.types.is_struct(field.type) and col.type != field.type:
            have = {col.type.field(i).name: col.field(i) for i in range(col.type.num_fields)}
            extra = set(have) - {f.name for f in field.type}
            if extra:
                raise VolfitError(f"{where}: {field.name} has fields {sorted(extra)} that the table layout lacks")
            kids = [have.get(f.name, pa.nulls(len(col), f.type)).cast(f.type) for f in field.type]
            col = pa.StructArray.from_arrays(kids, fields=list(field.type))
        cols.append(col.cast(field.type))
    extra = set(table.column_names) - set(schema.names)
    if extra:
        raise VolfitError(f"{where}: columns {sorted(extra)} that the table layout lacks")
    return pa.Table.from_arrays(cols, schema=schema)


@dataclass(frozen=True)
class FitJob:
    """The fit of one task (picklable: plain settings, run on a worker)."""

    spec_json: str | None
    warm_start: str
    every_ms: int | None
    max_age_ms: int | None
    schema: pa.Schema

    def __call__(self, task: Task) -> pa.Table:
        table = _volfit.fit_files(
            list(task.files), self.spec_json, self.warm_start, self.every_ms, task.underlying, self.max_age_ms, task.halo_from
        )
        return conform(table, self.schema, task.label)

    def timed(self, task: Task) -> tuple[pa.Table, dict[str, Any]]:
        """The table and what the task cost: worker pid, start and stop (epoch seconds)."""
        start = time.time()
        table = self(task)
        return table, {"task": task.label, "pid": os.getpid(), "start": start, "stop": time.time(), "rows": table.num_rows}


@dataclass(frozen=True)
class ValidateJob:
    """The walk-forward partial of one task."""

    spec_json: str | None
    horizon: int
    every_ms: int | None
    max_age_ms: int | None

    def __call__(self, task: Task) -> pa.Table:
        read = [_volfit.read_chain(f, self.every_ms, task.underlying, self.max_age_ms, task.halo_from) for f in task.files]
        # One file: its snapshots' handle (no rebuild from Arrow); several: their rows.
        quotes = read[0][1] if len(read) == 1 else pa.concat_tables([table for table, _ in read])
        return _volfit.validate_partial(quotes, self.spec_json, self.horizon)
