"""What the training loop needs to know, whatever the task: ``LoopConfig``.

Kept apart from the loop itself (and from torch), so front-ends can show its defaults
without loading the machinery.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields

from ..errors import LstmkitError

PRECISIONS = ("auto", "fp32", "bf16")
# The settings a resumed run may change; the rest come from its checkpoint.
RESUME_CHANGEABLE = ("epochs", "max_steps", "max_minutes", "max_tokens", "log_every",
                     "save_every", "device")


@dataclass(frozen=True)
class LoopConfig:
    """How to train, whatever the task."""

    epochs: int = 10
    lr: float = 2e-3  # peak learning rate
    min_lr_ratio: float = 0.05  # the cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 200
    weight_decay: float = 0.01
    clip: float = 1.0  # max gradient norm (0: no clipping)
    patience: int = 3  # stop after this many epochs without a better validation score (0: never)
    seed: int = 0
    device: str = "auto"  # auto: cuda, then mps, then cpu
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 elsewhere; or fp32 / bf16
    log_every: int = 20  # steps between logged losses (each log syncs with the device)
    save_every: int = 0  # also write last/ every N steps (0: only at the end of each epoch)
    max_steps: int = 0  # stop (resumably) after this many steps in all (0: no limit)
    max_minutes: float = 0.0  # stop (resumably) after this much wall time (0: no limit)
    max_tokens: int = 0  # a token budget: end after this many training tokens, and validate (0: none)

    def __post_init__(self) -> None:
        for name in ("epochs", "log_every"):
            if getattr(self, name) < 1:
                raise LstmkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise LstmkitError(f"{f.name} must be a finite number (got {value})")
        for name in ("warmup_steps", "patience", "save_every", "max_steps", "max_minutes",
                     "max_tokens", "weight_decay", "clip"):
            if getattr(self, name) < 0:
                raise LstmkitError(f"{name} must not be negative (got {getattr(self, name)})")
        if not self.lr > 0:
            raise LstmkitError(f"lr must be positive (got {self.lr})")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise LstmkitError(f"min_lr_ratio must be in [0, 1] (got {self.min_lr_ratio})")
        if self.precision not in PRECISIONS:
            raise LstmkitError(f"precision must be auto, fp32 or bf16 (got '{self.precision}')")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> LoopConfig:
        """The known fields of ``values`` (other keys are ignored)."""
        return cls(**known_fields(cls, values))

    @classmethod
    def from_checkpoint(cls, meta: dict) -> LoopConfig:
        """The settings a checkpoint was trained with (version 1 kept them under "train")."""
        return cls.from_dict(meta.get("loop") or meta.get("train") or {})


def sort_settings(values: dict, groups: dict[str, Iterable[str]]) -> dict[str, dict]:
    """Flat settings (typed options, a TOML file, Python keywords) sorted into ``groups``
    by field name, e.g. ``{"model": ..., "data": ..., "loop": ...}``; a name no group has
    is an error that lists every such name."""
    names = {group: set(fields_) for group, fields_ in groups.items()}
    sorted_: dict[str, dict] = {group: {} for group in groups}
    unknown = []
    for key, value in values.items():
        group = next((g for g, known in names.items() if key in known), None)
        if group is None:
            unknown.append(key)
        else:
            sorted_[group][key] = value
    if unknown:
        raise LstmkitError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return sorted_


def field_names(config: type) -> set[str]:
    """The field names of a dataclass."""
    return {f.name for f in fields(config)}


def known_fields(config: type, values: dict) -> dict:
    """The entries of ``values`` that name fields of the dataclass ``config`` (settings read
    back from a checkpoint or file may hold others, from newer or older versions)."""
    names = field_names(config)
    return {k: v for k, v in values.items() if k in names}
