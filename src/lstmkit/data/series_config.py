"""The settings of a forecasting model's data (``SeriesConfig``): where the series come from
and how ``data.series`` turns them into windows. Kept apart from that pipeline, so the
settings can be read and checked on their own (the CLI's options, a model's config.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.config import known_fields
from ..errors import LstmkitError
from .series_csv import DEMOS, FILLS

TRANSFORMS = ("none", "log", "diff")
RELATIVES = ("auto", "none", "last", "season", "blend")


@dataclass(frozen=True)
class SeriesConfig:
    """Where a forecasting model's data come from and how they become windows. Travels
    with the model, with ``window``, ``horizon`` and ``season`` as resolved in training."""

    csv: str | None = None  # a CSV file, or
    demo: str | None = None  # a built-in series (sine)
    target: str | None = None  # the column to forecast
    time: str | None = None  # the time column (None: the rows are in time order)
    time_format: str | None = None  # strptime format of the time column (None: guessed)
    covariates: tuple[str, ...] = ()  # further numeric columns read as inputs
    id: str | None = None  # a column telling several series apart: one global model
    fill: str = "none"  # none (gaps are an error), ffill or interpolate
    transform: str = "none"  # none, log or diff, inverted before any metric
    window: int = 0  # input steps (0: two seasons, or 24 without a season)
    horizon: int = 0  # steps forecast at once (0: one season up to 24, else 10)
    season: int | None = None  # None: guessed from the time stamps; 0: none
    # The anchor the network corrects: none, last (value), season (the value one season
    # back), blend (last, plus a learned share of the seasonal change); auto: blend when
    # there is a season, else last.
    relative: str = "auto"
    center: bool = True  # inputs relative to the window's last value (level-free)
    val_fraction: float = 0.15  # of each series' points, before the test part
    test_fraction: float = 0.15  # of each series' points, at its end
    batch_size: int = 32
    # Training windows per epoch at least: a smaller training set is passed over several
    # times per epoch, so that short series spend their time learning, not validating.
    epoch_windows: int = 1024

    def __post_init__(self) -> None:
        if (self.csv is None) == (self.demo is None):
            raise LstmkitError("give either a CSV file (--csv) or a demo (--demo), not both")
        if self.csv is not None and not self.target:
            raise LstmkitError("a CSV file needs --target, the column to forecast")
        if self.demo is not None and self.demo not in DEMOS:
            raise LstmkitError(f"unknown demo '{self.demo}' (choose from {', '.join(DEMOS)})")
        for name, allowed in (("fill", FILLS), ("transform", TRANSFORMS),
                              ("relative", RELATIVES)):
            if getattr(self, name) not in allowed:
                raise LstmkitError(f"{name} must be one of {', '.join(allowed)} "
                                   f"(got '{getattr(self, name)}')")
        for name in ("window", "horizon"):
            if getattr(self, name) < 0:
                raise LstmkitError(f"{name} must be at least 1, or 0 for automatic "
                                   f"(got {getattr(self, name)})")
        if self.season is not None and (self.season < 0 or self.season == 1):
            raise LstmkitError(f"season must be at least 2, or 0 for none (got {self.season})")
        for name in ("batch_size", "epoch_windows"):
            if getattr(self, name) < 1:
                raise LstmkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not 0.0 < self.test_fraction < 0.5:
            raise LstmkitError(f"test_fraction must be above 0 and below 0.5 "
                               f"(got {self.test_fraction})")
        if not 0.0 <= self.val_fraction < 0.5:
            raise LstmkitError(f"val_fraction must be in [0, 0.5) (got {self.val_fraction})")
        if self.relative in ("season", "blend") and self.season == 0:
            raise LstmkitError(f"relative '{self.relative}' needs a season (got --season 0)")

    @property
    def source(self) -> str:
        """The data source for messages: the CSV path or ``demo 'sine'``."""
        return self.csv if self.csv is not None else f"demo '{self.demo}'"

    @property
    def offset(self) -> int:
        """Points at a series' start that the transform leaves without a value."""
        return 1 if self.transform == "diff" else 0

    def to_dict(self) -> dict:
        values = asdict(self)
        values["covariates"] = list(self.covariates)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> SeriesConfig:
        """The known fields of ``values`` (other keys are ignored)."""
        known = known_fields(cls, values)
        known["covariates"] = tuple(known.get("covariates") or ())
        return cls(**known)
