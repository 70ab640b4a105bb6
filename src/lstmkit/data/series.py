"""From a table of numbers over time to a forecasting model's windows.

The steps, in order: read and check the series (``data.series_csv``: a CSV file or the
demo), transform the target (``log`` for growing seasonal swings, ``diff`` for a random
walk), split each series by time into training, validation and test parts, fit a scaling
per series on its training part only, and cut sliding windows: ``window`` past steps in,
the next ``horizon`` values out.

A window's targets are the scaled values minus an *anchor*, the forecast of a naive
method (``relative``: the last value, or the value one season back): the network learns a
correction to a baseline rather than the series' level, which a small LSTM learns more
easily and which keeps a trend it has not seen in training from pulling it off. With
``blend`` the anchor is the last value and the network adds a learned share of the
seasonal naive change itself (``tasks.forecast.ForecastNet``). Inputs are likewise taken
relative to the window's last value (``center``), so a level never seen in training looks
like any other.

The origin ``t`` of a window is the index of its first forecast step: inputs are the
points ``t - window .. t - 1``, targets ``t .. t + horizon - 1``. A training window has
all its targets in the training part; a validation or test window has its targets in
that part and its inputs wherever they are (earlier points are history, not leakage).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..errors import LstmkitError
from .batching import ArrayBatches, EpochBatches
from .series_config import SeriesConfig
from .series_csv import Series, demo_series, guess_season, read_csv_series

log = logging.getLogger(__name__)

MIN_TRAIN_WINDOWS = 8  # an automatic window is shortened to leave this many per series


def read_series(config: SeriesConfig) -> list[Series]:
    """The checked series of ``config``'s source, with its fill applied."""
    if config.demo is not None:
        return demo_series(config.demo)
    return read_csv_series(config.csv, config.target, config.time, config.covariates,
                           config.id, config.fill, config.time_format)


# ---- transforms: computed and inverted on whole arrays, so they round-trip exactly ----

def transform(values: np.ndarray, name: str, where: Series | None = None) -> np.ndarray:
    """The transformed target (n,): ``log``, ``diff`` (NaN at index 0, where there is no
    previous value) or unchanged. ``where`` names the series in errors."""
    if name == "log":
        bad = np.flatnonzero(values <= 0)
        if len(bad):
            place = f"{where.where(int(bad[0]))}" if where is not None else f"point {bad[0]}"
            series = f" of series '{where.name}'" if where is not None else ""
            raise LstmkitError(f"--transform log needs positive values, but {place}{series} "
                               f"is {values[bad[0]]:g}; use --transform none or diff")
        return np.log(values)
    if name == "diff":
        return np.concatenate([[np.nan], np.diff(values)])
    return values.astype(float, copy=True)


def untransform(values: np.ndarray, name: str, last: np.ndarray) -> np.ndarray:
    """Back to the data's units: ``values`` (N, H, ...) transformed forecasts of the steps
    after origins whose last known value is ``last`` (N,)."""
    if name == "log":
        return np.exp(values)
    if name == "diff":
        shape = (-1,) + (1,) * (values.ndim - 1)
        return last.reshape(shape) + np.cumsum(values, axis=1)
    return values


# ---- split and scaling ----

@dataclass(frozen=True)
class Split:
    """Points of one series in each part: ``[0, train)``, then val, then test."""

    train: int
    val: int
    test: int

    @property
    def val_start(self) -> int:
        return self.train

    @property
    def test_start(self) -> int:
        return self.train + self.val

    def to_dict(self) -> dict:
        return asdict(self)


def split_series(n: int, config: SeriesConfig) -> Split:
    """Cut ``n`` points by time: the test part is ``test_fraction`` of them and at least
    one horizon, the validation part likewise (or none when ``val_fraction`` is 0)."""
    test = max(round(n * config.test_fraction), config.horizon)
    val = max(round(n * config.val_fraction), config.horizon) if config.val_fraction else 0
    return Split(n - val - test, val, test)


@dataclass(frozen=True)
class Scaling:
    """Per-series standardisation of the transformed target and of each covariate, fitted
    on the training part only."""

    mean: float
    std: float
    covariate_mean: tuple[float, ...] = ()
    covariate_std: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "covariate_mean": list(self.covariate_mean),
                "covariate_std": list(self.covariate_std)}

    @classmethod
    def from_dict(cls, values: dict) -> Scaling:
        return cls(float(values["mean"]), float(values["std"]),
                   tuple(values.get("covariate_mean", ())), tuple(values.get("covariate_std", ())))


def fit_scaling(series: Series, split: Split, config: SeriesConfig) -> Scaling:
    """Mean and standard deviation of the training part of ``series`` (transformed target,
    raw covariates). A constant target is an error: there is nothing to learn."""
    values = transform(series.values[:split.train], config.transform, series)[config.offset:]
    std = float(values.std())
    if not std > 1e-12 * max(1.0, abs(float(values.mean()))):
        what = "its changes are" if config.transform == "diff" else "it is"
        raise LstmkitError(
            f"series '{series.name}' of {config.source}: {what} constant over the training "
            f"part ({split.train} points, value {values[0]:g}); there is nothing to forecast")
    covariates = series.covariates[:split.train]
    cov_std = covariates.std(axis=0)
    # A constant covariate carries no information; scale it by 1 rather than divide by 0.
    cov_std = np.where(cov_std > 0, cov_std, 1.0)
    return Scaling(float(values.mean()), std, tuple(covariates.mean(axis=0).tolist()),
                   tuple(cov_std.tolist()))


# ---- windows ----

def first_origin(config: SeriesConfig) -> int:
    """The earliest origin with a full window (and anchor) of transformed values."""
    need = config.window
    if config.relative == "season":
        need = max(need, config.season)
    return config.offset + need


def origins(split: Split, part: str, config: SeriesConfig, length: int) -> np.ndarray:
    """Origins of the windows whose whole horizon lies in ``part`` (train, val, test)."""
    start, end = {"train": (0, split.train), "val": (split.val_start, split.test_start),
                  "test": (split.test_start, length)}[part]
    return np.arange(max(start, first_origin(config)), end - config.horizon + 1)


def scaled(series: Series, scaling: Scaling, config: SeriesConfig) -> tuple[np.ndarray, np.ndarray]:
    """The transformed, scaled target (n,) and the scaled covariates (n, k)."""
    z = (transform(series.values, config.transform, series) - scaling.mean) / scaling.std
    covariates = ((series.covariates - np.asarray(scaling.covariate_mean, dtype=float))
                  / np.asarray(scaling.covariate_std, dtype=float))  # (n, k), k may be 0
    return z, covariates


def anchors(z: np.ndarray, at: np.ndarray, config: SeriesConfig) -> np.ndarray:
    """The naive forecast (N, H) in scaled units that the network corrects, for origins
    ``at`` (N,): zeros, the last value, or the value one season before each step."""
    h = np.arange(config.horizon)
    if config.relative in ("last", "blend"):  # blend: the network adds the seasonal part
        return np.repeat(z[at - 1][:, None], config.horizon, axis=1)
    if config.relative == "season":
        m = config.season
        back = m * ((h // m) + 1)  # the same phase in the last season before the origin
        return z[at[:, None] + h[None, :] - back[None, :]]
    return np.zeros((len(at), config.horizon))


def seasonal_positions(config: SeriesConfig) -> np.ndarray:
    """Where in a window (0 .. W-1) the seasonal naive value of each forecast step lies
    (H,): the point one season (or more) before the step, in the last season before the
    origin."""
    h = np.arange(config.horizon)
    return config.window - config.season * (h // config.season + 1) + h


def window_inputs(z: np.ndarray, covariates: np.ndarray, at: np.ndarray,
                  config: SeriesConfig) -> np.ndarray:
    """Inputs (N, W, 1 + k) of the windows ending just before origins ``at`` (N,)."""
    steps = at[:, None] + np.arange(-config.window, 0)[None, :]  # (N, W)
    values = z[steps]
    if config.center:
        values = values - z[at - 1][:, None]
    return np.concatenate([values[..., None], covariates[steps]], axis=2)


def window_targets(z: np.ndarray, at: np.ndarray, config: SeriesConfig) -> np.ndarray:
    """What the network learns (N, H): the scaled values after ``at`` minus the anchors."""
    steps = at[:, None] + np.arange(config.horizon)[None, :]
    return z[steps] - anchors(z, at, config)


# ---- the whole preparation ----

@dataclass
class SeriesData:
    """A forecasting run's data: the checked series, their splits and scalings, and the
    training and validation batches (examples of all series together)."""

    config: SeriesConfig  # window, horizon and season resolved
    windows: int  # distinct training windows (``train`` passes over them several times an epoch)
    series: list[Series]
    splits: list[Split]
    scalings: list[Scaling]
    season_reason: str
    train: EpochBatches
    val: ArrayBatches | None

    @property
    def features(self) -> int:
        return 1 + len(self.config.covariates)

    def summary(self) -> str:
        """One line on what was read, for the start of a run."""
        points = sum(len(s) for s in self.series)
        parts = [sum(getattr(s, p) for s in self.splits) for p in ("train", "val", "test")]
        named = f"{len(self.series)} series, " if len(self.series) > 1 else ""
        return (f"{self.config.source}: {named}{points} points ({parts[0]} training, "
                f"{parts[1]} validation, {parts[2]} test); season "
                f"{self.config.season or 'none'} ({self.season_reason})")


def resolve(config: SeriesConfig, series: list[Series]) -> tuple[SeriesConfig, str]:
    """``config`` with its automatic season, horizon, window and anchor chosen for
    ``series``, and what the season came from."""
    if config.season is None:
        season, reason = guess_season(series[0].times)
        season = season or 0
    else:
        season, reason = config.season, "--season" if config.season else "--season 0"
    horizon = config.horizon or (season if 0 < season <= 24 else 10)
    need = -(-horizon // season) * season if season else 0  # window steps a blend reads
    window = config.window or max(2 * season, need, 24)  # two seasons, or 24 steps
    if config.window == 0:
        shortest = min(split_series(len(s), replace(config, horizon=horizon)).train
                       for s in series)
        # Leave every series some training windows: shorten the window, not below a horizon.
        room = shortest - config.offset - horizon - MIN_TRAIN_WINDOWS + 1
        if room < window:
            window = max(room, min(horizon, window), need, 2)
            log.info("window shortened to %d so that the shortest series keeps training windows",
                     window)
    relative = config.relative
    if relative == "auto":
        relative = ("blend" if window >= need else "season") if season else "last"
    resolved = replace(config, season=season, horizon=horizon, relative=relative, window=window)
    if resolved.relative in ("season", "blend") and not season:
        raise LstmkitError(f"relative '{resolved.relative}' needs a season, and none was "
                           f"guessed ({reason}); give --season N or --relative last")
    if resolved.relative == "blend" and window < need:
        raise LstmkitError(f"relative 'blend' reads the seasonal naive forecast from the window: "
                           f"window {window} is shorter than the {need} steps it needs")
    return resolved, reason


def check_length(series: Series, split: Split, config: SeriesConfig) -> None:
    """Every series needs a training window and a full horizon in each later part."""
    windows = split.train - first_origin(config) - config.horizon + 1
    if windows < 1 or split.train < 2:
        need = first_origin(config) + config.horizon + split.val + split.test
        raise LstmkitError(
            f"series '{series.name}' of {config.source} has {len(series)} points: too short for "
            f"window {config.window} + horizon {config.horizon} with {split.val} validation and "
            f"{split.test} test points (needs at least {need}); lower --window or --horizon")


def build_windows(series: list[Series], splits: list[Split], scalings: list[Scaling],
                  config: SeriesConfig, part: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs (N, W, F) and targets (N, H), float32, of ``part`` over all series."""
    inputs, targets = [], []
    for one, split, scaling in zip(series, splits, scalings):
        z, covariates = scaled(one, scaling, config)
        at = origins(split, part, config, len(one))
        inputs.append(window_inputs(z, covariates, at, config))
        targets.append(window_targets(z, at, config))
    return (torch.from_numpy(np.concatenate(inputs)).float(),
            torch.from_numpy(np.concatenate(targets)).float())


def prepare_series(config: SeriesConfig, seed: int = 0,
                   scalings: list[Scaling] | None = None) -> SeriesData:
    """Read, check, split, scale (fitted on the training parts, unless ``scalings`` are
    given, e.g. by a resumed run) and cut windows for ``config``."""
    series = read_series(config)
    config, reason = resolve(config, series)
    splits = [split_series(len(s), config) for s in series]
    for one, split in zip(series, splits):
        check_length(one, split, config)
    if scalings is None:
        scalings = [fit_scaling(one, split, config) for one, split in zip(series, splits)]
    train_inputs, train_targets = build_windows(series, splits, scalings, config, "train")
    windows = len(train_inputs)
    passes = -(-config.epoch_windows // windows)  # ceil: every window as often per epoch
    train = EpochBatches(ArrayBatches(train_inputs, train_targets, config.batch_size,
                                      shuffle=True, seed=seed), passes)
    val = None
    if config.val_fraction:
        val_inputs, val_targets = build_windows(series, splits, scalings, config, "val")
        val = ArrayBatches(val_inputs, val_targets, config.batch_size, shuffle=False)
    if not all(math.isfinite(float(t.abs().max())) for t in (train_inputs, train_targets)):
        raise LstmkitError(f"{config.source}: non-finite values after scaling; the series "
                           "holds numbers too large to forecast")
    return SeriesData(config, windows, series, splits, scalings, reason, train, val)
