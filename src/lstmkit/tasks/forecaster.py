"""A trained forecasting model at work: forecasts from chosen origins in the data's own
units, the future (or hidden known steps) as a table and a plot, and the test-part
comparison with the naive baselines.

``ForecastConfig`` (what the head predicts: a point, or quantiles) lives here because a
``Forecaster`` reads its outputs by it; ``tasks.forecast`` trains and loads the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core.config import known_fields
from ..data.series import (
    Scaling,
    SeriesConfig,
    anchors,
    check_length,
    origins,
    read_series,
    scaled,
    split_series,
    untransform,
    window_inputs,
)
from ..data.series_csv import Series, future_times
from ..errors import LstmkitError
from .forecast_eval import (
    MODEL,
    ErrorSums,
    Evaluation,
    mase_scale,
    naive_forecasts,
    plot_forecast,
)

LOSSES = ("mse", "mae")
HIDES = ("none", "horizon", "test")
MAX_PANELS = 4  # series drawn in one forecast plot


@dataclass(frozen=True)
class ForecastConfig:
    """What the head predicts and how it is scored. Travels with the model."""

    quantiles: tuple[float, ...] = ()  # e.g. (0.1, 0.5, 0.9): pinball loss, the median is the point
    loss: str = "mse"  # without quantiles: mse or mae

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise LstmkitError(f"loss must be one of {', '.join(LOSSES)} (got '{self.loss}')")
        q = self.quantiles
        if q:
            if not all(isinstance(v, (int, float)) and 0.0 < v < 1.0 for v in q):
                raise LstmkitError(f"quantiles must lie strictly between 0 and 1 "
                                   f"(got {', '.join(map(str, q))})")
            if list(q) != sorted(set(q)) or 0.5 not in q:
                raise LstmkitError("quantiles must rise, without repeats, and include 0.5 (the "
                                   f"point forecast), e.g. 0.1,0.5,0.9 (got {', '.join(map(str, q))})")

    @property
    def outputs(self) -> int:
        """Numbers per forecast step: one per quantile, or one."""
        return len(self.quantiles) or 1

    @property
    def middle(self) -> int:
        """The index of the point forecast among the outputs (the median)."""
        return self.quantiles.index(0.5) if self.quantiles else 0

    def to_dict(self) -> dict:
        return {"quantiles": list(self.quantiles), "loss": self.loss}

    @classmethod
    def from_dict(cls, values: dict) -> ForecastConfig:
        known = known_fields(cls, values)
        known["quantiles"] = tuple(known.get("quantiles") or ())
        return cls(**known)


def parse_quantiles(text: str | None) -> tuple[float, ...]:
    """``"0.1,0.9"`` -> (0.1, 0.5, 0.9): sorted, with the median added for the point forecast."""
    if not text:
        return ()
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise LstmkitError(f"quantiles must be numbers separated by commas (got '{text}')") from exc
    if not all(math.isfinite(v) and 0.0 < v < 1.0 for v in values):
        raise LstmkitError(f"quantiles must lie strictly between 0 and 1 (got '{text}')")
    return tuple(sorted(set(values) | {0.5}))


@dataclass
class Forecast:
    """A forecast table (one row per series and step) and what its plot draws."""

    table: pd.DataFrame  # series, origin, time, step, forecast, q<...> columns, actual
    panels: list[dict]  # for ``forecast_eval.plot_forecast``
    quantiles: tuple[float, ...]

    def to_csv(self, path: str | Path) -> None:
        self.table.to_csv(path, index=False)

    def plot(self, path: str | Path) -> None:
        """A PNG of the first ``MAX_PANELS`` series: history, truth, forecast, quantile band."""
        plot_forecast(self.panels[:MAX_PANELS], path, self.quantiles or (0.5,))


@dataclass
class Forecaster:
    """A trained forecasting model with everything its data need (``tasks.forecast.load``
    builds one from a model folder)."""

    net: nn.Module  # a ``tasks.forecast.ForecastNet``: inputs (B, W, F) -> (B, H, Q)
    config: SeriesConfig  # window, horizon and season resolved in training
    forecast: ForecastConfig
    scalings: dict[str, Scaling]  # per series name, fitted on its training part
    meta: dict  # everything in config.json

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def read(self, csv: str | Path | None = None) -> list[Series]:
        """The training data again, or ``csv`` (a file with the same columns, e.g. with newer
        rows), read and checked the same way."""
        if csv is None:
            return read_series(self.config)
        if self.config.demo is not None:
            raise LstmkitError(f"this model was trained on the demo '{self.config.demo}', "
                               "which has no columns to read from a CSV file; train on a CSV file")
        return read_series(replace(self.config, csv=str(csv)))

    def _scaling(self, series: Series) -> Scaling:
        if series.name not in self.scalings:
            known = ", ".join(list(self.scalings)[:5])
            raise LstmkitError(f"series '{series.name}' was not in this model's training data "
                               f"(it knows {known}{', ...' if len(self.scalings) > 5 else ''})")
        return self.scalings[series.name]

    @torch.inference_mode()
    def forecast_at(self, series: Series, at: np.ndarray) -> np.ndarray:
        """Forecasts (N, H, Q) in the data's units from origins ``at`` (N,): each uses the
        ``window`` points before its origin only."""
        config, scaling = self.config, self._scaling(series)
        if len(at) and at.min() < config.window + config.offset:
            raise LstmkitError(f"series '{series.name}': a forecast from point {at.min()} "
                               f"needs {config.window + config.offset} earlier points")
        z, covariates = scaled(series, scaling, config)
        inputs = torch.from_numpy(window_inputs(z, covariates, at, config)).float()
        self.net.eval()
        out = self.net(inputs.to(self.device)).double().cpu().numpy()  # (N, H, Q)
        values = (out + anchors(z, at, config)[..., None]) * scaling.std + scaling.mean
        return untransform(values, config.transform, series.values[at - 1])

    def evaluate(self, series: list[Series] | None = None) -> Evaluation:
        """The model and the naive baselines on the test part of each series (the last
        ``test_fraction`` of it), from every origin whose whole horizon lies there."""
        series = self.read() if series is None else series
        config = self.config
        sums: dict[str, ErrorSums] = {}
        count = inside = 0
        for one in series:
            split = split_series(len(one), config)
            check_length(one, split, config)
            at = origins(split, "test", config, len(one))
            truth = one.values[at[:, None] + np.arange(config.horizon)]  # (N, H)
            ours = self.forecast_at(one, at)  # (N, H, Q)
            forecasts = {MODEL: ours[..., self.forecast.middle],
                         **naive_forecasts(one.values, at, config.horizon, config.season)}
            scale = mase_scale(one.values[:split.train], config.season)
            for name, values in forecasts.items():
                sums.setdefault(name, ErrorSums()).add(truth, values, scale)
            inside += int(((ours[..., 0] <= truth) & (truth <= ours[..., -1])).sum())
            count += len(at)
        notes = []
        if self.forecast.quantiles:
            low, high = self.forecast.quantiles[0], self.forecast.quantiles[-1]
            notes.append(f"the {low:g}-{high:g} quantile band holds "
                         f"{inside / (count * config.horizon):.1%} of the test values "
                         f"(a calibrated band: {high - low:.0%})")
        reason = self.meta.get("season_reason", "")
        return Evaluation({k: v.metrics() for k, v in sums.items()}, len(series), count,
                          config.horizon, config.season, reason, notes)

    def predict(self, series: list[Series] | None = None, hide: str = "none") -> Forecast:
        """Forecast each series. ``hide``: ``none`` forecasts the steps after the data;
        ``horizon`` hides the last horizon and forecasts it, truth beside; ``test`` forecasts
        the whole test part in consecutive blocks, each from the true history before it."""
        if hide not in HIDES:
            raise LstmkitError(f"hide must be one of {', '.join(HIDES)} (got '{hide}')")
        series = self.read() if series is None else series
        config, h = self.config, self.config.horizon
        rows, panels = [], []
        for one in series:
            n = len(one)
            start = {"none": n, "horizon": n - h,
                     "test": split_series(n, config).test_start}[hide]
            at = np.arange(start, max(start + 1, n), h)  # (N,) origins
            values = self.forecast_at(one, at)  # (N, H, Q)
            steps = at[:, None] + np.arange(h)  # (N, H) point indices
            keep = steps < n if hide != "none" else np.ones_like(steps, dtype=bool)
            times = _times(one, n + h)
            blocks = []
            for row, origin in enumerate(at):
                kept = steps[row][keep[row]]
                block = values[row][keep[row]]  # (M, Q)
                blocks.append(([times[i] for i in kept], block))
                for k, i in enumerate(kept):
                    rows.append(self._row(one, times, origin, i, block[k],
                                          one.values[i] if i < n else math.nan))
            shown = max(0, start - max(3 * h, config.window))
            # The truth line starts at the last shown point, so history and truth join up.
            truth = ((list(times[start - 1:n]), one.values[start - 1:n]) if start < n else None)
            panels.append({"name": one.name,
                           "history": (list(times[shown:start]), one.values[shown:start]),
                           "truth": truth, "forecast": blocks})
        return Forecast(pd.DataFrame(rows), panels, self.forecast.quantiles)

    def _row(self, series: Series, times: list, origin: int, index: int,
             values: np.ndarray, actual: float) -> dict:
        row = {"series": series.name, "origin": times[origin - 1], "time": times[index],
               "step": index - origin + 1, "forecast": float(values[self.forecast.middle])}
        for q, value in zip(self.forecast.quantiles, values):
            row[f"q{q:g}"] = float(value)
        row["actual"] = actual
        return row


def _times(series: Series, length: int) -> list:
    """The time stamps of a series' points and of the steps after them, ``length`` in all."""
    n = len(series)
    known = list(series.times) if series.times is not None else list(range(n))
    return known + future_times(series.times, n, length - n)
