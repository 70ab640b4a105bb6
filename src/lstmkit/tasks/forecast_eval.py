"""Judging forecasts: the naive baselines, the metrics (RMSE, MAE, MASE, sMAPE) in the
data's own units, the comparison that says whether the LSTM helps, and the forecast plot.

The baselines forecast from the same origins as the model, with only the values before
each origin: the last value repeated, the value one season back (seasonal naive), and the
line from the series' first value through its last (drift). MASE divides each series'
absolute errors by the mean absolute error of the in-sample seasonal naive forecast over
its training part (one step back when there is no season), so below 1 is better than that
naive method was in training, and series of different sizes can be pooled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.plot import pyplot, save_figure
from ..errors import LstmkitError

MODEL = "LSTM"
METRICS = ("rmse", "mae", "mase", "smape")


def naive_forecasts(values: np.ndarray, at: np.ndarray, horizon: int,
                    season: int) -> dict[str, np.ndarray]:
    """The baselines' forecasts (N, H) from origins ``at`` (N,) of ``values`` (n,), each
    from the points before its origin only; seasonal naive only with a ``season``."""
    h = np.arange(horizon)[None, :]  # (1, H)
    last = values[at - 1][:, None]  # (N, 1)
    slope = (values[at - 1] - values[0]) / np.maximum(at - 1, 1)  # (N,) mean change per step
    result = {"last value": np.repeat(last, horizon, axis=1)}
    if season:
        back = season * (h // season + 1)  # the same phase in the last season before the origin
        steps = at[:, None] + h - back
        if (steps < 0).any():
            raise LstmkitError(f"seasonal naive needs a season ({season} points) of history "
                               "before every origin")
        result["seasonal naive"] = values[steps]
    result["drift"] = last + slope[:, None] * (h + 1)
    return result


def mase_scale(train: np.ndarray, season: int) -> float:
    """Mean absolute error of the in-sample seasonal naive forecast on a training part
    (lag ``season``, or 1 without one): the unit of MASE."""
    lag = season or 1
    if len(train) <= lag:
        raise LstmkitError(f"the training part ({len(train)} points) is too short for MASE's "
                           f"lag-{lag} scale")
    return float(np.mean(np.abs(train[lag:] - train[:-lag])))


@dataclass
class ErrorSums:
    """Additive error sums of one method, so series (and origins) pool by adding."""

    squared: float = 0.0
    absolute: float = 0.0
    scaled: float = 0.0  # absolute errors divided by their series' MASE scale
    smape: float = 0.0  # 200 |y - f| / (|y| + |f|) per point, 0 where both are 0
    count: int = 0

    def add(self, truth: np.ndarray, forecast: np.ndarray, scale: float) -> None:
        error = truth - forecast
        total = np.abs(truth) + np.abs(forecast)
        self.squared += float(np.sum(error ** 2))
        self.absolute += float(np.sum(np.abs(error)))
        self.scaled += float(np.sum(np.abs(error))) / scale if scale > 0 else np.inf
        self.smape += float(np.sum(np.where(total > 0, 200 * np.abs(error) /
                                            np.where(total > 0, total, 1), 0.0)))
        self.count += int(error.size)

    def metrics(self) -> dict[str, float]:
        n = max(self.count, 1)
        return {"rmse": (self.squared / n) ** 0.5, "mae": self.absolute / n,
                "mase": self.scaled / n, "smape": self.smape / n}


@dataclass
class Evaluation:
    """Test-part metrics of the model and the baselines, from the same origins."""

    metrics: dict[str, dict[str, float]]  # method -> rmse, mae, mase, smape
    series: int
    origins: int
    horizon: int
    season: int
    season_reason: str
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        return self.origins * self.horizon

    def verdict(self) -> str:
        """One line: does the LSTM beat every baseline on MASE?"""
        ours = self.metrics[MODEL]["mase"]
        baselines = {k: v["mase"] for k, v in self.metrics.items() if k != MODEL}
        lost = {k: v for k, v in baselines.items() if not ours < v}
        count = {2: "both", 3: "all three"}.get(len(baselines), f"all {len(baselines)}")
        if not lost:
            best = min(baselines, key=baselines.get)
            return (f"the LSTM beats {count} baselines on MASE ({ours:.3f} vs "
                    f"{baselines[best]:.3f} for {best}, the best of them)")
        worst = min(lost, key=lost.get)
        others = [k for k in lost if k != worst]
        return (f"the LSTM does not beat {worst} (MASE {ours:.3f} vs {lost[worst]:.3f})"
                + "".join(f", nor {k} ({lost[k]:.3f})" for k in others))

    def table(self) -> str:
        """The metrics as aligned text, with a heading and the verdict."""
        many = f"{self.series} series, " if self.series > 1 else ""
        season = (f"season {self.season} ({self.season_reason})" if self.season
                  else f"no season ({self.season_reason}), so no seasonal naive: give "
                       "--season N if the data have one")
        lines = [(f"test part: {many}{self.origins} forecasts of {self.horizon} steps "
                  f"({self.points} points); {season}"),
                 f"{'method':<16}{'RMSE':>12}{'MAE':>12}{'MASE':>9}{'sMAPE':>9}"]
        for name, values in self.metrics.items():
            lines.append(f"{name:<16}{values['rmse']:>12.4g}{values['mae']:>12.4g}"
                         f"{values['mase']:>9.3f}{values['smape']:>8.2f}%")
        return "\n".join([*lines, *self.notes, self.verdict()])

    def to_dict(self) -> dict:
        return {"metrics": self.metrics, "series": self.series, "origins": self.origins,
                "horizon": self.horizon, "points": self.points, "season": self.season,
                "season_reason": self.season_reason, "notes": self.notes,
                "verdict": self.verdict()}


def plot_forecast(panels: list[dict], path: str | Path, quantiles: tuple[float, ...]) -> None:
    """Draw each series' recent history, the truth where known and the forecast, with the
    outer quantiles as a band. A panel is a dict: ``name``, ``history`` (times, values),
    ``truth`` (times, values) or None, ``forecast`` (times, (M, Q) values) as lists of
    blocks (one per forecast origin)."""
    plt = pyplot()
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels)), squeeze=False)
    middle = quantiles.index(0.5) if 0.5 in quantiles else 0
    for axis, panel in zip(axes[:, 0], panels):
        times, values = panel["history"]
        axis.plot(times, values, color="0.35", lw=1.2, label="history")
        if panel["truth"] is not None:
            axis.plot(*panel["truth"], color="black", lw=1.2, label="truth (hidden from the model)")
        for k, (times, block) in enumerate(panel["forecast"]):
            if block.shape[1] > 1:
                axis.fill_between(times, block[:, 0], block[:, -1], color="C1", alpha=0.25,
                                  lw=0, label=(f"{quantiles[0]:g}-{quantiles[-1]:g} quantiles"
                                               if k == 0 else None))
            axis.plot(times, block[:, middle], color="C1", lw=1.8, marker="." if
                      len(times) <= 60 else None, label="forecast" if k == 0 else None)
        axis.set_title(panel["name"], fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    save_figure(fig, Path(path))
