"""How to sample: temperature, top-k, top-p, length and seed. Apart from ``sample.py`` (and
free of torch), so the CLI can show the defaults without loading torch."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import LstmkitError


@dataclass(frozen=True)
class SampleConfig:
    temperature: float = 0.8  # 0 means greedy (always the most likely token)
    top_k: int = 0  # keep only the k most likely tokens (0: all)
    top_p: float = 1.0  # keep the smallest set of tokens whose probability reaches p
    max_len: int = 256  # new tokens at most, <eos> included
    seed: int | None = None
    # How hard a title or poet steers a conditioned model (classifier-free guidance: the
    # log-probabilities with them, moved by g times their difference from those without;
    # 0: the model as trained). No effect without a title or poet.
    guidance: float = 1.0

    def __post_init__(self) -> None:
        if not math.isfinite(self.guidance) or not 0 <= self.guidance <= 10:
            raise LstmkitError(f"guidance must be a number from 0 to 10 (got {self.guidance})")
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise LstmkitError(f"temperature must be a finite number, 0 or more (got {self.temperature})")
        if self.seed is not None and not 0 <= self.seed < 2**64:
            raise LstmkitError(f"seed must be between 0 and 2**64 - 1 (got {self.seed})")
        if self.top_k < 0:
            raise LstmkitError(f"top_k must not be negative (got {self.top_k})")
        if not 0.0 < self.top_p <= 1.0:
            raise LstmkitError(f"top_p must be in (0, 1] (got {self.top_p})")
        if self.max_len < 1:
            raise LstmkitError(f"max_len must be at least 1 (got {self.max_len})")

    def round_seed(self, round_: int) -> int | None:
        """The seed of draw number ``round_`` of a search that retries (None stays None);
        past 2**64 - 1 it wraps, so every seeded search can go on."""
        return None if self.seed is None else (self.seed + round_) % 2**64
