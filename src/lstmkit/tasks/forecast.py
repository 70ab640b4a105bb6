"""The forecasting task: from the last ``window`` steps of a series, its next ``horizon``
values at once (a direct multi-output head), as a point forecast or as quantiles.

Data come from ``data.series`` (windows of scaled values; targets are corrections to a
naive anchor), the model is ``ForecastNet`` (``SequenceModel`` with its head read as
horizon x quantiles), the loss is the mean squared or absolute error, or the pinball loss
of each quantile. ``train`` runs it on the shared loop; ``load`` gives a ``Forecaster``
whose ``predict`` forecasts the future (or hidden known steps) and whose ``evaluate``
compares it with the naive baselines on the test part (``tasks.forecast_eval``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..core.checkpoint import load_weights
from ..core.device import autocast
from ..core.loop import EventHook, LoopConfig, fit
from ..core.task import RunContext
from ..data.batching import ArrayBatch, ArrayBatches
from ..data.series import (
    Scaling,
    SeriesConfig,
    SeriesData,
    anchors,
    check_length,
    origins,
    prepare_series,
    read_series,
    scaled,
    split_series,
    untransform,
    window_inputs,
)
from ..data.series_csv import Series, future_times
from ..errors import CheckpointError, LstmkitError
from ..model import SequenceConfig, SequenceModel
from .forecast_eval import (
    MODEL,
    ErrorSums,
    Evaluation,
    mase_scale,
    naive_forecasts,
    plot_forecast,
)

NAME = "forecast"
DESCRIPTION = "a forecasting model"
LOSSES = ("mse", "mae")
HIDES = ("none", "horizon", "test")
MAX_PANELS = 4  # series drawn in one forecast plot

# The loop's defaults for forecasting: small data, so many short epochs, a short warm-up,
# and patience for the noisy validation score of a few dozen windows.
DEFAULT_LOOP = LoopConfig(epochs=60, lr=3e-3, warmup_steps=20, weight_decay=1e-4,
                          patience=8, log_every=50)
DEFAULT_MODEL = {"hidden_size": 64, "layers": 1, "dropout": 0.1}


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
        names = {f.name for f in fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
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


class ForecastNet(nn.Module):
    """``SequenceModel`` whose ``horizon * quantiles`` outputs are read as a forecast."""

    def __init__(self, config: SequenceConfig, horizon: int, outputs: int):
        super().__init__()
        if config.output_size != horizon * outputs:
            raise LstmkitError(f"output_size {config.output_size} is not horizon {horizon} x "
                               f"{outputs} outputs")
        self.config, self.horizon, self.outputs = config, horizon, outputs
        self.body = SequenceModel(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, W, F) -> (B, H, Q), rising along Q: quantiles never cross, by sorting
        (the pinball loss of sorted outputs is never worse than of the unsorted ones)."""
        out = self.body(x).view(-1, self.horizon, self.outputs)
        return out.sort(dim=-1).values if self.outputs > 1 else out


def elementwise_loss(pred: torch.Tensor, target: torch.Tensor, config: ForecastConfig
                     ) -> torch.Tensor:
    """Per-element loss (B, H, Q) of ``pred`` (B, H, Q) against ``target`` (B, H)."""
    error = target[..., None].float() - pred.float()
    if config.quantiles:
        q = torch.tensor(config.quantiles, device=pred.device)  # (Q,)
        return torch.maximum(q * error, (q - 1) * error)
    return error.abs() if config.loss == "mae" else error ** 2


class ForecastTask:
    """A forecasting model on prepared windows (see ``core.task.Task``)."""

    name = NAME
    curve = ("val_mae", "validation MAE (scaled units)")

    def __init__(self, model: ForecastNet, data: SeriesData, config: ForecastConfig):
        self.model, self.data, self.config = model, data, config
        self.train, self.val = data.train, data.val
        self.loss_label = ("pinball loss (scaled units)" if config.quantiles
                           else f"{config.loss} (scaled units)")

    def loss(self, net, batch: ArrayBatch, amp, state=None):
        with autocast(batch.inputs.device, amp):
            pred = net(batch.inputs)  # (B, H, Q)
        return elementwise_loss(pred, batch.targets, self.config).mean(), None

    @torch.inference_mode()
    def evaluate(self, model, batches: ArrayBatches, device, amp, shard) -> dict[str, float]:
        was_training = model.training
        model.eval()
        loss = absolute = torch.zeros((), dtype=torch.float64, device=device)
        count = 0
        for key in batches.plan(0, *shard):
            batch = batches.collate(key).to(device)
            with autocast(device, amp):
                pred = model(batch.inputs)  # (B, H, Q)
            loss = loss + elementwise_loss(pred, batch.targets, self.config).mean(-1).sum().double()
            point = pred[..., self.config.middle].float()
            absolute = absolute + (point - batch.targets).abs().sum().double()
            count += batch.targets.numel()
        model.train(was_training)
        return {"loss": float(loss), "absolute": float(absolute), "count": count}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1)
        return {"score": sums["loss"] / n, "loss": sums["loss"] / n, "mae": sums["absolute"] / n}

    def format_metrics(self, metrics: dict[str, float]) -> str:
        return f"validation loss {metrics['loss']:.4f}, MAE {metrics['mae']:.4f} (scaled units)"

    def step_metrics(self, loss: float) -> dict[str, float]:
        return {}

    def meta(self) -> dict:
        data = self.data
        return {
            "data": data.config.to_dict(),
            "forecast": self.config.to_dict(),
            "season_reason": data.season_reason,
            "scaling": {s.name: c.to_dict() for s, c in zip(data.series, data.scalings)},
            "splits": {s.name: p.to_dict() for s, p in zip(data.series, data.splits)},
            "train_windows": data.windows,
            "val_windows": data.val.examples if data.val else 0,
        }

    def files(self) -> dict[str, object]:
        return {}

    def describe(self) -> dict:
        data, config = self.data, self.data.config
        passes = data.train.examples // data.windows
        return {"report": data.summary(),
                "data": (f"{data.windows} training windows"
                         + (f" (each {passes} times per epoch)" if passes > 1 else "")
                         + f", {data.val.examples if data.val else 0} validation windows, "
                         f"{config.window} steps -> {config.horizon}")}


def train(data: SeriesConfig | None, out: str | Path, model: dict | None = None,
          forecast: ForecastConfig = ForecastConfig(), loop: LoopConfig = DEFAULT_LOOP,
          resume: bool = False, on_event: EventHook | None = None) -> dict:
    """Train a forecasting model on ``data`` into the folder ``out``; return the loop's
    summary. ``model`` holds ``SequenceConfig`` fields other than the sizes of the input
    and output (default ``DEFAULT_MODEL``). With ``resume``, the data, forecast and model
    settings come from ``out/last`` (``data`` may be None), and of ``loop`` only
    ``core.loop.RESUME_CHANGEABLE``.
    """
    if data is None and not resume:
        raise LstmkitError("no data: give a CSV file (--csv) or a demo (--demo)")
    if data is not None and data.csv is not None:  # predict and eval find it from anywhere
        data = replace(data, csv=str(Path(data.csv).resolve()))
    settings = {**DEFAULT_MODEL, **(model or {})}
    for name in ("input_size", "output_size"):
        if name in settings:
            raise LstmkitError(f"{name} follows from the data and the horizon; do not set it")

    def build(context: RunContext) -> ForecastTask:
        nonlocal data, forecast
        loaded = net = None
        if context.resume is not None:
            loaded = load_forecaster(context.resume)
            data, forecast, net = loaded.config, loaded.forecast, loaded.net
        prepared = prepare_series(data, context.seed)
        if loaded is not None:  # the season is resolved by now: keep where it came from
            prepared.season_reason = loaded.meta.get("season_reason", prepared.season_reason)
        if net is None:
            config = prepared.config
            net = ForecastNet(SequenceConfig(input_size=prepared.features,
                                             output_size=config.horizon * forecast.outputs,
                                             **settings), config.horizon, forecast.outputs)
        return ForecastTask(net, prepared, forecast)

    return fit(build, out, loop, resume=resume, on_event=on_event)


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
    """A trained forecasting model with everything its data need (see ``load``)."""

    net: ForecastNet
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
        config = self.config if csv is None else replace(self.config, csv=str(csv), demo=None)
        return read_series(config)

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
        count = 0
        for one in series:
            split = split_series(len(one), config)
            check_length(one, split, config)
            at = origins(split, "test", config, len(one))
            truth = one.values[at[:, None] + np.arange(config.horizon)]  # (N, H)
            forecasts = {MODEL: self.forecast_at(one, at)[..., self.forecast.middle],
                         **naive_forecasts(one.values, at, config.horizon, config.season)}
            scale = mase_scale(one.values[:split.train], config.season)
            for name, values in forecasts.items():
                sums.setdefault(name, ErrorSums()).add(truth, values, scale)
            count += len(at)
        reason = self.meta.get("season_reason", "")
        return Evaluation({k: v.metrics() for k, v in sums.items()}, len(series), count,
                          config.horizon, config.season, reason)

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
            truth = ((list(times[start:n]), one.values[start:n]) if start < n else None)
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


def load(folder: Path, config: dict, device="cpu") -> Forecaster:
    """Build the model ``config`` (a folder's config.json) describes and fill it from
    ``folder``, in fp32, with its data settings and per-series scalings."""
    try:
        data = SeriesConfig.from_dict(config["data"])
        forecast = ForecastConfig.from_dict(config.get("forecast", {}))
        model_config = SequenceConfig.from_dict(config["model"])
        scalings = {name: Scaling.from_dict(v) for name, v in config["scaling"].items()}
        net = ForecastNet(model_config, data.horizon, forecast.outputs)
    except (KeyError, TypeError, ValueError, LstmkitError) as exc:
        raise CheckpointError(f"'{folder / 'config.json'}' has invalid forecasting settings: "
                              f"{exc}") from exc
    load_weights(net, folder)
    net.to(device).eval()
    return Forecaster(net, data, forecast, scalings, config)


def load_forecaster(folder: str | Path, device="cpu") -> Forecaster:
    """Load a forecasting model folder (another task's folder is refused by name)."""
    from . import load_model

    return load_model(folder, device, task=NAME)


def split_settings(values: dict) -> dict:
    """Flat settings, as typed options or a TOML file give them, sorted into ``train``'s
    keyword arguments ``data``, ``forecast``, ``model`` and ``loop`` (the loop's defaults
    are ``DEFAULT_LOOP``'s); unknown keys are an error. ``covariates`` and ``quantiles``
    may be comma-separated text."""
    groups: dict[str, dict] = {"data": {}, "forecast": {}, "model": {}, "loop": {}}
    known = {"data": {f.name for f in fields(SeriesConfig)},
             "forecast": {f.name for f in fields(ForecastConfig)},
             "model": {f.name for f in fields(SequenceConfig)} - {"input_size", "output_size"},
             "loop": {f.name for f in fields(LoopConfig)}}
    unknown = []
    for key, value in values.items():
        group = next((g for g, names in known.items() if key in names), None)
        if group is None:
            unknown.append(key)
        else:
            groups[group][key] = value
    if unknown:
        raise LstmkitError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    data, forecast = groups["data"], groups["forecast"]
    if isinstance(data.get("covariates"), str):
        data["covariates"] = data["covariates"].split(",")
    if data.get("covariates") is not None:
        data["covariates"] = tuple(str(c).strip() for c in data["covariates"] if str(c).strip())
    if forecast.get("quantiles") is not None:
        text = forecast["quantiles"]
        forecast["quantiles"] = parse_quantiles(text if isinstance(text, str)
                                                else ",".join(map(str, text)))
    model = {**DEFAULT_MODEL, **groups["model"]}
    SequenceConfig(input_size=1, output_size=1, **model)  # checked now, not after reading data
    # Without a source there are no data settings: a resumed run takes its own.
    source = data.get("csv") is not None or data.get("demo") is not None
    return {"data": SeriesConfig(**data) if source else None,
            "forecast": ForecastConfig(**forecast),
            "model": model, "loop": LoopConfig(**{**DEFAULT_LOOP.to_dict(), **groups["loop"]})}
