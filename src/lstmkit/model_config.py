"""The recurrent models' settings (``ModelConfig``, ``SequenceConfig``), apart from
``model.py`` and free of torch: they travel with the weights in config.json, and writing
without torch (``sample_numpy``) reads them too. Each is checked when made, so a
config.json with a wrong setting is refused with its name, not a traceback."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from numbers import Integral, Real

from .errors import LstmkitError

CELL_NAMES = ("lstm", "gru", "rnn")


def check_settings(config, sizes: tuple[str, ...], whole: tuple[str, ...] = (),
                   flags: tuple[str, ...] = ()) -> None:
    """What both configs check (a config.json may hold anything): ``sizes`` are whole
    numbers of at least 1, ``whole`` whole numbers, ``flags`` true or false, ``dropout``
    a finite number in [0, 1), ``cell`` one of ``CELL_NAMES``."""
    for name in (*sizes, *whole):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise LstmkitError(f"{name} must be a whole number (got {value!r})")
    value = config.dropout
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise LstmkitError(f"dropout must be a finite number (got {value!r})")
    for name in flags:
        if not isinstance(getattr(config, name), bool):
            raise LstmkitError(f"{name} must be true or false (got {getattr(config, name)!r})")
    if config.cell not in CELL_NAMES:
        raise LstmkitError(f"unknown cell '{config.cell}' (choose from {', '.join(CELL_NAMES)})")
    for name in sizes:
        if getattr(config, name) < 1:
            raise LstmkitError(f"{name} must be at least 1 (got {getattr(config, name)})")
    if not 0.0 <= config.dropout < 1.0:
        raise LstmkitError(f"dropout must be in [0, 1) (got {config.dropout})")


def settings_from_dict(cls, values: dict):
    """``cls`` (a config dataclass) from ``values``; a key it does not know is an error."""
    unknown = sorted(set(values) - {f.name for f in fields(cls)})
    if unknown:
        raise LstmkitError(f"unknown model setting(s): {', '.join(unknown)}")
    return cls(**values)


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int
    cell: str = "lstm"
    embedding_size: int = 512
    hidden_size: int = 512
    layers: int = 2
    dropout: float = 0.2
    tie_weights: bool = True  # share the embedding matrix with the output head
    # Training only: score each batch against its own targets and this many other tokens
    # drawn at random instead of the whole vocabulary (tasks.lm_sampled); 0: the full softmax.
    # Evaluation and writing always use the full softmax.
    sampled_softmax: int = 0
    # With sampled_softmax: the lowest ids (the special tokens, then the most frequent, as a
    # Vocab ranks them) are always scored exactly; the draw is from the ids above them.
    sampled_keep: int = 0

    def __post_init__(self) -> None:
        check_settings(self, ("vocab_size", "embedding_size", "hidden_size", "layers"),
                       ("sampled_softmax", "sampled_keep"), ("tie_weights",))
        if self.sampled_softmax < 0:
            raise LstmkitError(f"sampled_softmax must be 0 (full softmax) or more (got {self.sampled_softmax})")
        if self.sampled_keep < 0:
            raise LstmkitError(f"sampled_keep must be 0 or more (got {self.sampled_keep})")
        if self.sampled_keep and not self.sampled_softmax:
            raise LstmkitError("sampled_keep applies to a sampled softmax: set sampled_softmax too")

    def multiply_adds(self) -> int:
        """Multiply-adds of one token's forward pass: every recurrent layer's input and
        hidden matmuls, the projection before a tied head, and the head (the embedding is
        a lookup)."""
        gates = {"lstm": 4, "gru": 3, "rnn": 1}[self.cell]
        total, width = 0, self.embedding_size
        for _ in range(self.layers):
            total += gates * self.hidden_size * (width + self.hidden_size)
            width = self.hidden_size
        if self.tie_weights and width != self.embedding_size:
            total += width * self.embedding_size
            width = self.embedding_size
        return total + width * self.vocab_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        return settings_from_dict(cls, values)


POOLINGS = ("last", "mean")


@dataclass(frozen=True)
class SequenceConfig:
    input_size: int  # numbers per time step
    output_size: int  # numbers per sequence the head produces
    cell: str = "lstm"
    hidden_size: int = 64
    layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    pooling: str = "last"  # last: the final state; mean: the mean of the outputs over the steps

    def __post_init__(self) -> None:
        check_settings(self, ("input_size", "output_size", "hidden_size", "layers"),
                       flags=("bidirectional",))
        if self.pooling not in POOLINGS:
            raise LstmkitError(f"pooling must be one of {', '.join(POOLINGS)} (got '{self.pooling}')")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> SequenceConfig:
        return settings_from_dict(cls, values)
