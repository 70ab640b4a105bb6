"""Reading time series: a CSV file (one series, or several told apart by an id column) or
the built-in demo, checked cell by cell, and what the time column says about the data's
season and future time stamps.

Every problem is one ``LstmkitError`` line that names the file, the line and the column:
a missing or non-numeric cell, an infinite number, an unreadable, unsorted or repeated
time, a missing column. Gaps in numbers may be filled instead (``fill``: ``ffill`` or
``interpolate``); gaps in times never are.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import LstmkitError

log = logging.getLogger(__name__)

FILLS = ("none", "ffill", "interpolate")
DEMOS = ("sine",)
MISSING = {"", "na", "nan", "n/a", "null", "none"}  # cells read as "no value" (any case)

# Steps of a regular clock, the season they usually carry, and the name for messages.
# A range because months (28-31 days) and quarters (89-92) are not of one length.
FREQUENCIES = (
    ("hourly", pd.Timedelta(hours=1), pd.Timedelta(hours=1), 24),
    ("daily", pd.Timedelta(days=1), pd.Timedelta(days=1), 7),
    ("weekly", pd.Timedelta(days=7), pd.Timedelta(days=7), 52),
    ("monthly", pd.Timedelta(days=28), pd.Timedelta(days=31), 12),
    ("quarterly", pd.Timedelta(days=89), pd.Timedelta(days=92), 4),
    ("yearly", pd.Timedelta(days=365), pd.Timedelta(days=366), None),
)


@dataclass
class Series:
    """One checked series: finite numbers at strictly increasing times."""

    name: str  # the id column's value, or the target column's name for a single series
    values: np.ndarray  # (n,) float64 target, in the data's own units
    covariates: np.ndarray  # (n, k) float64, the further numeric columns
    times: pd.Index | None  # (n,) DatetimeIndex or numeric Index; None: rows in file order
    lines: np.ndarray  # (n,) the file line of each point (the header is line 1)

    def __len__(self) -> int:
        return len(self.values)

    def where(self, index: int) -> str:
        """Where point ``index`` is, for messages: ``line 17`` or ``demo point 17``."""
        line = int(self.lines[index])
        return f"line {line}" if line > 0 else f"point {index}"


def read_csv_series(path: str | Path, target: str, time: str | None = None,
                    covariates: tuple[str, ...] = (), id_column: str | None = None,
                    fill: str = "none", time_format: str | None = None) -> list[Series]:
    """The series of a CSV file, checked (see the module docstring), in order of first
    appearance of their ids. ``time_format`` is a ``strptime`` format for the time column
    (default: guessed from its first cell)."""
    if fill not in FILLS:
        raise LstmkitError(f"fill must be one of {', '.join(FILLS)} (got '{fill}')")
    path = Path(path)
    frame = _read_frame(path)
    columns = [target, *covariates] + [c for c in (time, id_column) if c]
    for column in columns:
        if column not in frame.columns:
            raise LstmkitError(f"'{path}' has no column '{column}' "
                               f"(its columns: {', '.join(map(str, frame.columns))})")
    if len(set(columns)) < len(columns):
        raise LstmkitError(f"a column is named twice among --target, --time, --covariates and "
                           f"--id: {', '.join(columns)}")
    if frame.empty:
        raise LstmkitError(f"'{path}' has a header but no rows")
    lines = np.arange(len(frame)) + 2  # line 1 is the header
    numbers = {c: _numbers(frame[c], c, lines, path, fill) for c in (target, *covariates)}
    times = _times(frame[time], time, lines, path, time_format) if time else None
    ids = frame[id_column].str.strip() if id_column else pd.Series([target] * len(frame))
    if id_column:
        empty = np.flatnonzero(ids.eq("").to_numpy())
        if len(empty):
            raise LstmkitError(f"'{path}' line {lines[empty[0]]}: column '{id_column}' is empty")
    result = []
    for name, rows in ids.groupby(ids, sort=False).indices.items():
        rows = np.asarray(rows)
        series = Series(
            name=str(name), values=numbers[target][rows],
            covariates=np.stack([numbers[c][rows] for c in covariates], axis=1)
            if covariates else np.zeros((len(rows), 0)),
            times=None if times is None else times[rows], lines=lines[rows])
        label = f" (series '{name}')" if id_column else ""
        if series.times is not None:
            _check_order(series, frame[time].to_numpy()[rows], path, time, label)
        if fill != "none":
            _fill(series, fill, path, [target, *covariates], label)
        result.append(series)
    return result


def _read_frame(path: Path) -> pd.DataFrame:
    """Every cell as stripped text, so that each is checked here rather than guessed."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise LstmkitError(f"cannot read '{path}': no such file") from exc
    except IsADirectoryError as exc:
        raise LstmkitError(f"cannot read '{path}': it is a folder, not a CSV file") from exc
    except pd.errors.EmptyDataError as exc:
        raise LstmkitError(f"'{path}' is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LstmkitError(f"'{path}' is not a readable CSV file: {detail}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.apply(lambda column: column.str.strip())


def _numbers(text: pd.Series, column: str, lines: np.ndarray, path: Path,
             fill: str) -> np.ndarray:
    """A column as float64, NaN where a cell is missing (allowed only with ``fill``)."""
    missing = text.str.lower().isin(MISSING).to_numpy()
    values = pd.to_numeric(text.where(~missing), errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(np.isnan(values) & ~missing)
    if len(bad):
        raise LstmkitError(f"'{path}' line {lines[bad[0]]}: column '{column}' holds "
                           f"'{text.iloc[bad[0]]}', which is not a number")
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        raise LstmkitError(f"'{path}' line {lines[infinite[0]]}: column '{column}' holds "
                           f"'{text.iloc[infinite[0]]}', which is not a finite number")
    if missing.any() and fill == "none":
        raise LstmkitError(
            f"'{path}' line {lines[np.flatnonzero(missing)[0]]}: column '{column}' has no value "
            f"({int(missing.sum())} missing in all); fill gaps with --fill ffill or "
            "--fill interpolate, or remove those rows")
    return values


def _times(text: pd.Series, column: str, lines: np.ndarray, path: Path,
           time_format: str | None) -> pd.Index:
    """The time column as numbers (e.g. years, steps) or as dates in one format."""
    empty = np.flatnonzero(text.str.lower().isin(MISSING).to_numpy())
    if len(empty):
        raise LstmkitError(f"'{path}' line {lines[empty[0]]}: column '{column}' has no time "
                           "(--fill fills values, never times)")
    numeric = pd.to_numeric(text, errors="coerce")
    if time_format is None and numeric.notna().all():
        return pd.Index(numeric.to_numpy(dtype=float), name=column)
    formats = [time_format] if time_format else _guess_formats(text.iloc[0])
    if not formats:
        raise LstmkitError(
            f"'{path}' line {lines[0]}: cannot tell the date format of column '{column}' from "
            f"'{text.iloc[0]}'; give --time-format (e.g. '%Y-%m'), or leave out --time to take "
            "the rows in file order")
    best = None
    for fmt in formats:
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        if parsed.notna().all():
            return pd.DatetimeIndex(parsed, name=column)
        if best is None:
            best = (fmt, parsed)
    fmt, parsed = best
    bad = int(np.flatnonzero(parsed.isna().to_numpy())[0])
    raise LstmkitError(f"'{path}' line {lines[bad]}: column '{column}' holds "
                       f"'{text.iloc[bad]}', not a time in the format {fmt} of its first row")


def _guess_formats(first: str) -> list[str]:
    """The strptime formats ``first`` fits: month-first, then day-first when they differ."""
    from pandas.tseries.api import guess_datetime_format

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = [guess_datetime_format(first), guess_datetime_format(first, dayfirst=True)]
    return list(dict.fromkeys(f for f in found if f))


def _check_order(series: Series, cells: np.ndarray, path: Path, column: str,
                 label: str) -> None:
    """Times must rise strictly: a repeat or a step back is an error naming both lines
    and the time as written (``cells``, the series' time column as text)."""
    delta = series.times[1:] - series.times[:-1]
    if isinstance(delta, pd.TimedeltaIndex):
        delta = delta.total_seconds()
    steps = np.asarray(delta, dtype=float)  # (n - 1,)
    for problem, where, fix in (("repeats", steps == 0, "remove the duplicate rows"),
                                ("comes before", steps < 0, "sort the file by time")):
        found = np.flatnonzero(where)
        if len(found):
            i = int(found[0]) + 1
            raise LstmkitError(
                f"'{path}' line {series.lines[i]}: {column} '{cells[i]}' {problem} the time of "
                f"line {series.lines[i - 1]} ('{cells[i - 1]}'){label}; {fix}")


def _fill(series: Series, fill: str, path: Path, columns: list[str], label: str) -> None:
    """Fill gaps of the target and covariates in place (forward, or linear in position)."""
    table = np.column_stack([series.values, series.covariates])  # (n, 1 + k)
    for j, column in enumerate(columns):
        gaps = np.isnan(table[:, j])
        if not gaps.any():
            continue
        if gaps[0]:
            known = np.flatnonzero(~gaps)
            if not len(known):
                raise LstmkitError(f"'{path}': column '{column}' has no value at all{label}")
            raise LstmkitError(
                f"'{path}' line {series.lines[0]}: column '{column}' has no value before line "
                f"{series.lines[known[0]]}{label}, and --fill {fill} fills only after a known "
                "value; remove those rows")
        column_values = pd.Series(table[:, j])
        table[:, j] = (column_values.ffill() if fill == "ffill"
                       else column_values.interpolate(method="linear")).to_numpy()
        log.info("filled %d missing '%s' values%s with --fill %s", int(gaps.sum()), column,
                 label, fill)
    series.values, series.covariates = table[:, 0], table[:, 1:]


def demo_series(name: str) -> list[Series]:
    """A built-in series, generated in memory with a fixed seed: ``sine`` is eight weeks of
    hourly values, a daily and a weekly wave over a rising trend, with noise."""
    if name not in DEMOS:
        raise LstmkitError(f"unknown demo '{name}' (choose from {', '.join(DEMOS)})")
    rng = np.random.default_rng(0)
    hours = np.arange(24 * 7 * 8)
    values = (20.0 + 0.004 * hours + 3.0 * np.sin(2 * np.pi * hours / 24)
              + 1.5 * np.sin(2 * np.pi * hours / (24 * 7) + 1.0)
              + rng.normal(0.0, 0.6, len(hours)))
    times = pd.date_range("2024-01-01", periods=len(hours), freq="h")
    return [Series(name="value", values=values, covariates=np.zeros((len(hours), 0)),
                   times=times, lines=np.zeros(len(hours), dtype=int))]


def guess_season(times: pd.Index | None) -> tuple[int | None, str]:
    """The season the time stamps suggest, and why: hourly 24, daily 7, weekly 52, monthly
    12, quarterly 4; None when at least 90% of the steps do not share one such clock."""
    if times is None:
        return None, "rows in file order (no --time)"
    if not isinstance(times, pd.DatetimeIndex):
        return None, f"time column '{times.name or 'time'}' holds numbers, not dates"
    steps = pd.Series(times[1:] - times[:-1])
    if steps.empty:
        return None, "a single time stamp"
    for name, low, high, season in FREQUENCIES:
        if steps.between(low, high).mean() >= 0.9:
            return season, f"{name} time stamps" + ("" if season else ", which have no season")
    return None, f"time stamps {steps.median()} apart, no usual clock"


def future_times(times: pd.Index | None, length: int, steps: int) -> list:
    """The ``steps`` time stamps after the last of ``times`` (or positions after ``length``
    points when there are no times): the inferred calendar frequency, else the median step."""
    if times is None:
        return list(range(length, length + steps))
    if isinstance(times, pd.DatetimeIndex) and len(times) >= 3:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frequency = pd.infer_freq(times[-min(len(times), 30):])
        if frequency:
            return list(pd.date_range(times[-1], periods=steps + 1, freq=frequency)[1:])
    step = pd.Series(times[1:] - times[:-1]).median() if len(times) > 1 else 1
    return [times[-1] + step * (k + 1) for k in range(steps)]
