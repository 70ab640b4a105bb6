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

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from ..core.checkpoint import load_weights
from ..core.config import field_names, sort_settings
from ..core.device import autocast
from ..core.loop import EventHook, LoopConfig, fit
from ..core.task import RunContext
from ..data.batching import ArrayBatch, ArrayBatches
from ..data.series import (
    Scaling,
    SeriesConfig,
    SeriesData,
    prepare_series,
    seasonal_positions,
)
from ..errors import CheckpointError, LstmkitError
from ..model import SequenceConfig, SequenceModel
from .forecaster import ForecastConfig, Forecaster, parse_quantiles

NAME = "forecast"
DESCRIPTION = "a forecasting model"

# The loop's defaults for forecasting, chosen on ten public series (docs/forecast.md): an
# epoch is at least SeriesConfig.epoch_windows windows, so 60 of them are plenty for short
# and long series alike; early stopping usually ends a run after 10 to 40.
DEFAULT_LOOP = LoopConfig(epochs=60, lr=3e-3, warmup_steps=20, weight_decay=1e-4,
                          patience=8, log_every=50)
DEFAULT_MODEL = {"hidden_size": 64, "layers": 1, "dropout": 0.1}
BLEND_START = 2.0  # the logit of the seasonal share a blending network starts from


class ForecastNet(nn.Module):
    """``SequenceModel`` whose ``horizon * quantiles`` outputs are read as a forecast.

    With ``seasonal`` window positions (H,), one per forecast step, it also adds a learned
    share of the seasonal naive change (the value at that position less the window's last
    value) to each step: a skip connection that lets it lean on last season as much as
    the data reward, starting from a share of sigmoid(``BLEND_START``), about 0.88.
    """

    def __init__(self, config: SequenceConfig, horizon: int, outputs: int,
                 seasonal: tuple[int, ...] = ()):
        super().__init__()
        if config.output_size != horizon * outputs:
            raise LstmkitError(f"output_size {config.output_size} is not horizon {horizon} x "
                               f"{outputs} outputs")
        self.config, self.horizon, self.outputs = config, horizon, outputs
        self.body = SequenceModel(config)
        self.blend = nn.Parameter(torch.full((horizon,), BLEND_START)) if seasonal else None
        # Derived from the data settings, so not saved with the weights.
        self.register_buffer("seasonal", torch.tensor(seasonal, dtype=torch.long),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, W, F) -> (B, H, Q), rising along Q: quantiles never cross, by sorting
        (the pinball loss of sorted outputs is never worse than of the unsorted ones)."""
        out = self.body(x).view(-1, self.horizon, self.outputs)
        if self.blend is not None:
            change = x[:, self.seasonal, 0] - x[:, -1:, 0]  # (B, H) seasonal naive - last
            out = out + (torch.sigmoid(self.blend) * change)[..., None]
        return out.sort(dim=-1).values if self.outputs > 1 else out


def build_net(model: SequenceConfig, data: SeriesConfig, forecast: ForecastConfig) -> ForecastNet:
    """The network for these settings (``model``'s sizes must match them)."""
    seasonal = tuple(seasonal_positions(data).tolist()) if data.relative == "blend" else ()
    return ForecastNet(model, data.horizon, forecast.outputs, seasonal)


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
        passes = data.train.passes
        return {"report": data.summary(),
                "data": (f"{data.windows} training windows"
                         + (f" (each {passes} times per epoch)" if passes > 1 else "")
                         + f", {data.val.examples if data.val else 0} validation windows, "
                         f"{config.window} steps -> {config.horizon}")}


def train(data: SeriesConfig | None, out: str | Path, model: dict | None = None,
          forecast: ForecastConfig | None = None, loop: LoopConfig = DEFAULT_LOOP,
          resume: bool = False, on_event: EventHook | None = None, force: bool = False) -> dict:
    """Train a forecasting model on ``data`` into the folder ``out``; return the loop's
    summary. ``model`` holds ``SequenceConfig`` fields other than the sizes of the input
    and output (default ``DEFAULT_MODEL``); ``forecast`` says what the head predicts (default:
    a point forecast, ``ForecastConfig()``). With ``resume``, the data, forecast and model
    settings come from ``out/last`` (``data`` may be None), and of ``loop`` only
    ``core.loop.RESUME_CHANGEABLE``.
    """
    forecast = forecast or ForecastConfig()
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
            net = build_net(SequenceConfig(input_size=prepared.features,
                                           output_size=config.horizon * forecast.outputs,
                                           **settings), config, forecast)
        return ForecastTask(net, prepared, forecast)

    return fit(build, out, loop, resume=resume, on_event=on_event, force=force)


def load(folder: Path, config: dict, device="cpu") -> Forecaster:
    """Build the model ``config`` (a folder's config.json) describes and fill it from
    ``folder``, in fp32, with its data settings and per-series scalings."""
    try:
        data = SeriesConfig.from_dict(config["data"])
        forecast = ForecastConfig.from_dict(config.get("forecast", {}))
        model_config = SequenceConfig.from_dict(config["model"])
        scalings = {name: Scaling.from_dict(v) for name, v in config["scaling"].items()}
        net = build_net(model_config, data, forecast)
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
    groups = sort_settings(values, {
        "data": field_names(SeriesConfig), "forecast": field_names(ForecastConfig),
        "model": field_names(SequenceConfig) - {"input_size", "output_size"},
        "loop": field_names(LoopConfig)})
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
