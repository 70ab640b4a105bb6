"""From labelled sequences to a classifier's tensors: split, normalise, encode, batch.

``split_sequences`` makes the parts: without test data a seeded stratified
``test_fraction`` is held out, then a stratified ``val_fraction`` of the rest for early
stopping. ``Normaliser`` is fitted on the training part only. ``encode`` turns sequences
into padded tensors with lengths, ``chunk`` values per step. ``prepare_sequences`` does all
of it and cuts the batches. (Reading is ``data.sequence_sources``.)

Sequences keep every value: shorter ones are padded (with zeros after normalisation) and
carry their lengths, so the model packs the padding away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import torch

from ..core.config import known_fields
from ..errors import LstmkitError
from .batching import ArrayBatches, EpochBatches
from .sequence_files import RawSequences

NORMALISATIONS = ("channel", "series", "none")
STD_FLOOR = 1e-8  # a constant channel is centred, not blown up
AUTO_STEPS = 16  # chunk 0 (auto) reads the longest training sequence in about this many steps


@dataclass(frozen=True)
class SequencesConfig:
    """How labelled sequences become a classifier's data. Travels with the model."""

    label_column: str = "label"  # CSV/TSV: its header name, or a 0-based index (-1: last)
    normalise: str = "channel"  # channel: per-channel mean/std of the training part;
    # series: each sequence's own per-channel mean/std; none: values as read
    chunk: int = 0  # consecutive values of each channel read as one time step (0: auto)
    batch_size: int = 16
    epoch_steps: int = 32  # small data: an epoch passes over them until it has this many batches
    val_fraction: float = 0.2  # stratified part of the training data for early stopping
    test_fraction: float = 0.25  # stratified part held out for testing when no test data is given
    split_seed: int = 0  # the seed of both splits (fixed: every run tests on the same part)

    def __post_init__(self) -> None:
        for name in ("batch_size", "epoch_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise LstmkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if not isinstance(self.chunk, int) or self.chunk < 0:
            raise LstmkitError(f"chunk must be 0 (auto) or more (got {self.chunk})")
        for name in ("val_fraction", "test_fraction"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
                raise LstmkitError(f"{name} must be in [0, 1) (got {value})")
        if self.normalise not in NORMALISATIONS:
            raise LstmkitError(f"normalise must be one of {', '.join(NORMALISATIONS)} "
                               f"(got '{self.normalise}')")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> SequencesConfig:
        """The known fields of ``values`` (other keys are ignored)."""
        return cls(**known_fields(cls, values))


# --- splitting ----------------------------------------------------------------------------

def stratified_split(labels: list, fraction: float, seed: int, what: str, hint: str
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(kept, held)``: about ``fraction`` of each class held out (at least one,
    and at least one kept), in a seeded random order. Sorted indices."""
    gen = torch.Generator().manual_seed(seed)
    held = []
    by_class: dict = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    for label in sorted(by_class):
        members = by_class[label]
        if len(members) < 2:
            raise LstmkitError(f"class '{label}' has only {len(members)} example: too few to "
                               f"split off {what} ({hint})")
        take = min(max(round(fraction * len(members)), 1), len(members) - 1)
        order = torch.randperm(len(members), generator=gen)[:take].tolist()
        held.extend(members[j] for j in order)
    held_index = np.array(sorted(held), dtype=np.int64)
    kept_index = np.setdiff1d(np.arange(len(labels)), held_index)
    return kept_index, held_index


def split_sequences(train: RawSequences, test: RawSequences | None, config: SequencesConfig
                    ) -> tuple[RawSequences, RawSequences | None, RawSequences | None]:
    """The training, validation and test parts (see the module docstring); the last two
    are None when their fraction is 0 (and, for test, no test data was given)."""
    if test is None and config.test_fraction > 0:
        kept, held = stratified_split(train.labels, config.test_fraction, config.split_seed,
                                      "a test part",
                                      "give a separate test file with --test, or more examples")
        train, test = train.subset(kept), train.subset(held)
    val = None
    if config.val_fraction > 0:
        kept, held = stratified_split(train.labels, config.val_fraction, config.split_seed + 1,
                                      "a validation part",
                                      "use --val-fraction 0, or more examples")
        train, val = train.subset(kept), train.subset(held)
    return train, val, test


# --- normalising and encoding -------------------------------------------------------------

@dataclass(frozen=True)
class Normaliser:
    """Scales each channel: by training statistics (``channel``), by each sequence's own
    (``series``), or not at all (``none``)."""

    mode: str
    mean: tuple[float, ...] = ()  # per channel, for ``channel``
    std: tuple[float, ...] = ()

    @classmethod
    def fit(cls, mode: str, raw: RawSequences) -> Normaliser:
        """Statistics over every real step of ``raw`` (the training part)."""
        if mode != "channel":
            return cls(mode)
        values = raw.values[_real(raw)]  # (steps, C)
        return cls(mode, tuple(values.mean(axis=0, dtype=np.float64).tolist()),
                   tuple(np.maximum(values.std(axis=0, dtype=np.float64), STD_FLOOR).tolist()))

    def apply(self, raw: RawSequences) -> np.ndarray:
        """(N, T, C) normalised values, 0 on padding."""
        values = raw.values
        real = _real(raw)[:, :, None]  # (N, T, 1)
        if self.mode == "channel":
            if len(self.mean) != values.shape[2]:
                raise LstmkitError(f"'{raw.source}': sequences have {values.shape[2]} values "
                                   f"per step; the model reads {len(self.mean)}")
            values = ((values - np.array(self.mean, dtype=np.float32))
                      / np.array(self.std, dtype=np.float32))
        elif self.mode == "series":
            count = raw.lengths[:, None, None]
            mean = np.where(real, values, 0.0).sum(axis=1, keepdims=True) / count  # (N, 1, C)
            var = np.where(real, (values - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / count
            values = (values - mean) / np.maximum(np.sqrt(var), STD_FLOOR)
        return np.where(real, values, 0.0).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mode": self.mode, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, values: dict) -> Normaliser:
        return cls(values["mode"], tuple(values.get("mean", ())), tuple(values.get("std", ())))


def _real(raw: RawSequences) -> np.ndarray:
    """(N, T) True on each sequence's real steps."""
    return np.arange(raw.values.shape[1])[None, :] < raw.lengths[:, None]


@dataclass
class Encoded:
    """Sequences ready for the model."""

    inputs: torch.Tensor  # (N, T, F) float32, zeros after each length; F = channels * chunk
    lengths: torch.Tensor | None  # (N,) int64 steps, or None when every sequence has T
    targets: torch.Tensor | None  # (N,) int64 class indices, or None without labels

    def __len__(self) -> int:
        return len(self.inputs)


def class_indices(labels: list, classes: list, source: str) -> torch.Tensor:
    """(N,) int64 index of each label in ``classes``."""
    index = {label: i for i, label in enumerate(classes)}
    unknown = [label for label in labels if label not in index]
    if unknown:
        raise LstmkitError(f"'{source}': label '{unknown[0]}' is not one of the model's "
                           f"{len(classes)} classes ({', '.join(map(str, classes[:10]))}"
                           f"{', ...' if len(classes) > 10 else ''})")
    return torch.tensor([index[label] for label in labels], dtype=torch.long)


def encode(raw: RawSequences, normaliser: Normaliser, chunk: int = 1,
           classes: list | None = None) -> Encoded:
    """Normalise ``raw`` and read ``chunk`` consecutive steps as one: (N, T, C) ->
    (N, ceil(T / chunk), chunk * C); a last partial chunk is completed with zeros."""
    values = normaliser.apply(raw)  # (N, T, C)
    n, t, c = values.shape
    steps = -(-t // chunk)
    if steps * chunk != t:
        values = np.concatenate([values, np.zeros((n, steps * chunk - t, c), np.float32)],
                                axis=1)
    inputs = torch.from_numpy(np.ascontiguousarray(values.reshape(n, steps, chunk * c)))
    lengths = torch.from_numpy(-(-raw.lengths // chunk))
    targets = None
    if classes is not None and raw.labels is not None:
        targets = class_indices(raw.labels, classes, raw.source)
    return Encoded(inputs, None if bool((lengths == steps).all()) else lengths, targets)


def auto_chunk(longest: int, steps: int = AUTO_STEPS) -> int:
    """The chunk that reads ``longest`` values in about ``steps`` steps (1 for short ones)."""
    return max(1, round(longest / steps))


def sorted_classes(labels: list) -> list:
    """The distinct labels, in order (numbers numerically, text alphabetically)."""
    return sorted(set(labels))


# --- all of it ----------------------------------------------------------------------------

@dataclass
class SequenceData:
    """A classifier's prepared data (see ``prepare_sequences``)."""

    train: EpochBatches
    val: ArrayBatches | None
    test: Encoded | None
    classes: list  # label of each class index
    normaliser: Normaliser
    config: SequencesConfig
    channels: int  # values per time step as read (before chunking)
    parts: dict[str, RawSequences]  # the raw train / val / test parts, for baselines

    def summary(self) -> str:
        """E.g. ``1077 training, 270 validation, 450 test sequences; 10 classes; ...``."""
        parts = self.parts
        lengths = np.concatenate([p.lengths for p in parts.values()])
        steps = (f"{lengths.min()}-{lengths.max()} steps" if lengths.min() != lengths.max()
                 else f"{lengths.max()} steps")
        return (f"{len(parts['train'])} training, "
                + (f"{len(parts['val'])} validation, " if "val" in parts else "no validation, ")
                + (f"{len(parts['test'])} test" if "test" in parts else "no test")
                + f" sequences; {len(self.classes)} classes; {steps} of {self.channels} "
                f"value{'s' if self.channels > 1 else ''}")


def prepare_sequences(train: RawSequences, test: RawSequences | None,
                      config: SequencesConfig, seed: int = 0, world: int = 1,
                      classes: list | None = None, normaliser: Normaliser | None = None
                      ) -> SequenceData:
    """Split, fit the normaliser on the training part (unless given), encode, batch.

    ``classes`` (default: the training labels) fixes the class order, as a resumed run
    must. The training batches are shuffled by ``seed`` and shared by ``world`` processes.
    """
    if test is not None and test.values.shape[2] != train.values.shape[2]:
        raise LstmkitError(f"'{test.source}' has {test.values.shape[2]} values per step, the "
                           f"training data {train.values.shape[2]}")
    fit, val, test = split_sequences(train, test, config)
    if train.label_column is not None:  # as found, so that predictions read files alike
        config = replace(config, label_column=train.label_column)
    if config.chunk == 0:
        config = replace(config, chunk=auto_chunk(int(fit.lengths.max())))
    classes = classes or sorted_classes(fit.labels)
    if len(classes) < 2:
        raise LstmkitError(f"'{train.source}': every training sequence is labelled "
                           f"'{classes[0]}'; a classifier needs at least two classes")
    normaliser = normaliser or Normaliser.fit(config.normalise, fit)
    parts = {"train": fit, **({"val": val} if val else {}), **({"test": test} if test else {})}
    encoded = {name: encode(part, normaliser, config.chunk, classes)
               for name, part in parts.items()}
    batches = EpochBatches.at_least(
        ArrayBatches(encoded["train"].inputs, encoded["train"].targets, config.batch_size,
                     encoded["train"].lengths, shuffle=True, seed=seed), config.epoch_steps, world)
    if batches.steps(world) == 0:
        raise LstmkitError(f"{len(batches)} training batches cannot be shared by {world} "
                           "processes; lower --batch-size")
    val_batches = None
    if "val" in encoded:
        val_batches = ArrayBatches(encoded["val"].inputs, encoded["val"].targets,
                                   config.batch_size, encoded["val"].lengths, shuffle=False)
    return SequenceData(batches, val_batches, encoded.get("test"), classes, normaliser, config,
                        train.values.shape[2], parts)
