"""How a corpus becomes a language model's training data (``TextConfig``), apart from
``data.text`` and free of torch, so writing without torch can read a model's settings."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..core.config import known_fields
from ..errors import LstmkitError
from .segment import LEVELS

MODES = ("auto", "poems", "stream")
GIVEN = ("none", "title", "poet", "both")  # what a conditioned model is told when scoring


@dataclass(frozen=True)
class TextConfig:
    """How a corpus becomes a language model's training data. Travels with the model."""

    mode: str = "auto"  # poems, stream (one long text, truncated BPTT); auto: stream for plain text
    level: str = "char"  # char or word (jieba for Chinese, words and punctuation for English)
    seq_len: int = 128  # stream mode: tokens per window (back-propagation length)
    batch_size: int = 64  # poems per step, or parallel stripes in stream mode
    val_fraction: float = 0.05
    min_freq: int = 2  # characters seen fewer times become <unk>
    reverse: bool = False  # poems read right to left (a backward model, to rank candidates)
    condition: float = 0.0  # share of training poems shown with their title (and, apart, poet); 0: plain
    poets: int = 0  # conditioned: the most prolific poets with a token of their own

    def __post_init__(self) -> None:
        for name in ("batch_size", "seq_len", "min_freq"):
            if getattr(self, name) < 1:
                raise LstmkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not 0.0 <= self.val_fraction < 1.0:
            raise LstmkitError(f"val_fraction must be in [0, 1) (got {self.val_fraction})")
        if self.mode not in MODES:
            raise LstmkitError(f"mode must be one of {', '.join(MODES)} (got '{self.mode}')")
        if self.level not in LEVELS:
            raise LstmkitError(f"level must be one of {', '.join(LEVELS)} (got '{self.level}')")
        if not 0.0 <= self.condition <= 1.0:
            raise LstmkitError(f"condition must be in [0, 1] (got {self.condition})")
        if self.poets < 0:
            raise LstmkitError(f"poets must not be negative (got {self.poets})")
        if self.poets and not self.condition:
            raise LstmkitError("poets needs condition above 0: the share of poems shown with "
                               "their title and poet (e.g. --condition 0.75 --poets 64)")
        if self.condition and self.mode == "stream":
            raise LstmkitError("condition reads each poem's title and poet: it needs poems, "
                               "not a stream")
        if self.reverse and self.mode == "stream":
            raise LstmkitError("reverse reads each poem right to left: it needs poems, not a "
                               "stream (plain text is read as one; --mode poems reads a poem "
                               "per line)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TextConfig:
        """The known fields of ``values`` (other keys are ignored)."""
        return cls(**known_fields(cls, values))

    @classmethod
    def from_checkpoint(cls, meta: dict) -> TextConfig:
        """The settings a model was trained with. Version 1 folders kept them under "train",
        with the mode and level beside it (older ones not at all: poems, characters)."""
        if "data" in meta:
            return cls.from_dict(meta["data"])
        values = {**meta.get("train", {}), "mode": meta.get("mode", "poems"),
                  "level": meta.get("level", "char")}
        return cls.from_dict(values)
