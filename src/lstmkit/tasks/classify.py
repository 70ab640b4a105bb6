"""The sequence-classification task: one label per sequence of vectors.

Its data come from ``data.sequences`` (digits, IDX, npz, CSV/TSV, .ts; split, normalised,
padded with lengths), its model is ``SequenceModel`` (recurrent net -> final state or mean
over the real steps -> linear head over the classes), its loss cross-entropy, its
validation metrics loss and accuracy. ``train`` runs it on the shared loop and then tests
the best weights (accuracy, macro-F1, per-class table, confusion matrix, the 1-NN
Euclidean baseline); ``load`` rebuilds a ``Classifier`` that predicts labels of new data.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..core.checkpoint import load_weights, write_json
from ..core.config import field_names, sort_settings
from ..core.device import autocast, resolve_device
from ..core.loop import EventHook, LoopConfig, fit
from ..core.task import RunContext
from ..data.batching import ArrayBatch, ArrayBatches
from ..data.sequence_files import RawSequences, from_padded, from_rows
from ..data.sequence_sources import Source, read_sequences, read_unlabelled
from ..data.sequences import (
    Encoded,
    Normaliser,
    SequenceData,
    SequencesConfig,
    class_indices,
    encode,
    prepare_sequences,
    split_sequences,
)
from ..errors import CheckpointError, LstmkitError
from ..model import SequenceConfig, SequenceModel
from .classify_report import ClassReport, nearest_neighbour

log = logging.getLogger(__name__)

NAME = "classify"
DESCRIPTION = "a sequence classifier"
REPORT_JSON, CONFUSION_PNG = "test-report.json", "confusion.png"


@dataclass(frozen=True)
class ClassifierSettings:
    """The classifier's ``SequenceModel`` settings but its input and output sizes, with
    defaults chosen on small real benchmarks (see docs/classify.md)."""

    cell: str = "lstm"
    hidden_size: int = 64
    layers: int = 1
    dropout: float = 0.3
    bidirectional: bool = True
    pooling: str = "last"

    def model_config(self, input_size: int, classes: int) -> SequenceConfig:
        return SequenceConfig(input_size=input_size, output_size=classes, **asdict(self))


# The loop settings that suit a few dozen to a few thousand sequences (an epoch is at least
# SequencesConfig.epoch_steps batches): a short warm-up, a lower peak learning rate than the
# language models' (3e-3 stopped too early on small sets), early stopping after 20 epochs.
LOOP = LoopConfig(epochs=50, lr=1e-3, warmup_steps=20, patience=20, log_every=20)
MODEL = ClassifierSettings()
DATA = SequencesConfig()


def split_settings(values: dict) -> dict:
    """Flat settings (typed options, a TOML file) sorted into ``train``'s keyword
    arguments ``model``, ``data`` and ``loop``; unknown keys are an error."""
    groups = sort_settings(values, {"model": field_names(ClassifierSettings),
                                    "data": field_names(SequencesConfig),
                                    "loop": field_names(LoopConfig)})
    try:
        model = ClassifierSettings(**groups["model"])
        model.model_config(1, 2)  # checked now, not after reading the data
        return {"model": model, "data": SequencesConfig(**groups["data"]),
                "loop": LoopConfig(**{**LOOP.to_dict(), **groups["loop"]})}
    except TypeError as exc:  # a TOML value of the wrong type, e.g. hidden_size = "big"
        raise LstmkitError(f"invalid setting: {exc}") from exc


def batch_logits(model: torch.nn.Module, batch: ArrayBatch, amp: torch.dtype | None
                 ) -> torch.Tensor:
    """(B, K) class scores of a batch, in fp32."""
    with autocast(batch.inputs.device, amp):
        return model(batch.inputs, batch.lengths).float()


@torch.inference_mode()
def evaluate(model: SequenceModel, batches: ArrayBatches, device: torch.device,
             amp: torch.dtype | None = None, shard: tuple[int, int] = (0, 1)
             ) -> dict[str, float]:
    """Summed cross-entropy, correct predictions and examples over process ``shard[0]`` of
    ``shard[1]``'s part of ``batches`` (one pass, no dropout)."""
    rank, world = shard
    was_training = model.training
    model.eval()
    nll = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    examples = 0
    for key in batches.plan(0, rank, world):
        batch = batches.collate(key).to(device)
        logits = batch_logits(model, batch, amp)
        nll += F.cross_entropy(logits, batch.targets, reduction="sum").double()
        correct += (logits.argmax(dim=1) == batch.targets).sum()
        examples += len(batch.targets)
    model.train(was_training)
    return {"nll": float(nll), "correct": int(correct), "examples": examples}


class ClassifyTask:
    """A sequence classifier on prepared data (see ``core.task.Task``)."""

    name = NAME
    curve = ("val_accuracy", "validation accuracy")
    loss_label = "cross-entropy (nats per sequence)"

    def __init__(self, model: SequenceModel, data: SequenceData, source: Source):
        self.model, self.data, self.source = model, data, source
        self.train, self.val = data.train, data.val

    def loss(self, net, batch: ArrayBatch, amp, state=None):
        return F.cross_entropy(batch_logits(net, batch, amp), batch.targets), None

    def evaluate(self, model, batches, device, amp, shard) -> dict[str, float]:
        return evaluate(model, batches, device, amp, shard)

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        examples = max(sums["examples"], 1)
        loss = sums["nll"] / examples
        return {"score": loss, "loss": loss, "accuracy": sums["correct"] / examples}

    def format_metrics(self, metrics: dict[str, float]) -> str:
        return f"validation accuracy {metrics['accuracy']:.2%}, loss {metrics['loss']:.4f}"

    def step_metrics(self, loss: float) -> dict[str, float]:
        return {}

    def meta(self) -> dict:
        data = self.data
        return {"data": data.config.to_dict(), "classes": data.classes,
                "normaliser": data.normaliser.to_dict(), "channels": data.channels,
                "source": self.source.describe(), "summary": data.summary(),
                **{f"{name}_sequences": len(part) for name, part in data.parts.items()}}

    def files(self) -> dict[str, object]:
        return {}

    def describe(self) -> dict:
        data, train = self.data, self.data.train.batches
        passes = self.data.train.passes
        described = {"report": f"read {self.source.describe()}: {data.summary()}",
                     "data": (f"{train.examples} training sequences in batches of "
                              f"{train.batch_size}"
                              + (f", {passes} passes an epoch" if passes > 1 else "")
                              + f", {train.inputs.shape[2]} values per step"),
                     "classes": len(data.classes)}
        if train.lengths is not None:
            described["padding"] = padding_fraction(train)
        return described


def padding_fraction(batches: ArrayBatches) -> float:
    """The share of padding among the steps of the first epoch's batches."""
    computed = sum(len(key) * int(batches.lengths[key].max()) for key in batches.plan(0))
    return 1.0 - batches.tokens / computed


def train(source: Source | str, out: str | Path, model: ClassifierSettings = MODEL,
          data: SequencesConfig = DATA, loop: LoopConfig = LOOP, resume: bool = False,
          on_event: EventHook | None = None, force: bool = False) -> dict:
    """Train a classifier on ``source`` into the folder ``out``, then test its best weights.

    Returns the loop's summary with ``test`` (accuracy, macro-F1, 1-NN baseline accuracy)
    when there is test data; ``out`` gets test-report.json and confusion.png beside best/
    and last/. With ``resume``, the model and data settings come from ``out/last``, and of
    ``loop`` only the settings in ``core.loop.RESUME_CHANGEABLE`` apply.
    """
    source = Source(source) if isinstance(source, str) else source
    built: dict[str, SequenceData] = {}

    def build(context: RunContext) -> ClassifyTask:
        nonlocal data
        net = classes = normaliser = None
        if context.resume is not None:
            loaded = load_classifier(context.resume)
            data, net = loaded.data_config, loaded.model
            classes, normaliser = loaded.classes, loaded.normaliser
        train_raw, test_raw = read_sequences(source, data.label_column)
        prepared = prepare_sequences(train_raw, test_raw, data, context.seed, context.world,
                                     classes, normaliser)
        if net is None:
            features = prepared.train.batches.inputs.shape[2]
            net = SequenceModel(model.model_config(features, len(prepared.classes)))
        built["data"] = prepared
        return ClassifyTask(net, prepared, source)

    summary = fit(build, out, loop, resume=resume, on_event=on_event, force=force)
    best = Path(out) / "best"
    prepared = built.get("data")
    if summary["rank"] == 0 and best.is_dir() and prepared and "test" in prepared.parts:
        report = test_report(load_classifier(best, summary["device"]), prepared.parts)
        write_json(Path(out) / REPORT_JSON, {**report.to_dict(), "model": str(best),
                                             "source": source.describe()})
        report.plot(Path(out) / CONFUSION_PNG)
        summary["test"] = {"accuracy": report.accuracy, "macro_f1": report.macro_f1,
                           "baseline_1nn_accuracy": report.baseline_accuracy,
                           "examples": report.examples}
    return summary


def test_report(classifier: Classifier, parts: dict[str, RawSequences]) -> ClassReport:
    """The classifier on the ``test`` part, beside the 1-NN Euclidean baseline whose
    reference sequences are the ``train`` and ``val`` parts (every labelled training
    sequence), all normalised by the classifier's statistics."""
    test = encode(parts["test"], classifier.normaliser, classifier.data_config.chunk,
                  classifier.classes)
    predictions = classifier.predict_encoded(test).argmax(axis=1)
    return ClassReport.of(classifier.classes, test.targets.numpy(), predictions,
                          baseline_accuracy(parts, classifier.normaliser, classifier.classes))


def baseline_accuracy(parts: dict[str, RawSequences], normaliser: Normaliser,
                      classes: list) -> float:
    """1-NN Euclidean accuracy on ``parts["test"]`` against the training (and validation)
    parts (see ``classify_report``)."""
    known = [encode(parts[name], normaliser, 1, classes)
             for name in ("train", "val") if name in parts]
    test = encode(parts["test"], normaliser, 1, classes)
    length = max(part.inputs.shape[1] for part in known)
    inputs = torch.cat([F.pad(part.inputs, (0, 0, 0, length - part.inputs.shape[1]))
                        for part in known])  # (N, T, C)
    found = nearest_neighbour(inputs, torch.cat([part.targets for part in known]), test.inputs)
    return float((found == test.targets).double().mean())


@dataclass
class Classifier:
    """A trained sequence classifier read from its folder."""

    model: SequenceModel
    classes: list  # the label of each class index (ints or strings, as in the training data)
    normaliser: Normaliser
    data_config: SequencesConfig
    meta: dict  # everything in config.json: settings, data description, validation metrics

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def predict_encoded(self, data: Encoded, batch_size: int = 256) -> np.ndarray:
        """(N, K) class probabilities of encoded sequences."""
        self.model.eval()
        out = []
        for start in range(0, len(data), batch_size):
            inputs = data.inputs[start:start + batch_size]
            lengths = None
            if data.lengths is not None:
                lengths = data.lengths[start:start + batch_size]
                inputs = inputs[:, :int(lengths.max())]
            logits = self.model(inputs.to(self.device),
                                None if lengths is None else lengths.to(self.device))
            out.append(torch.softmax(logits.float(), dim=1).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, len(self.classes)))

    def encode(self, sequences) -> Encoded:
        """Sequences as the model reads them (see ``predict_proba`` for what they may be)."""
        raw = as_sequences(sequences)
        if raw.values.shape[2] != self.meta["channels"]:
            raise LstmkitError(f"sequences have {raw.values.shape[2]} values per step; the "
                               f"model reads {self.meta['channels']}")
        return encode(raw, self.normaliser, self.data_config.chunk)

    def predict_proba(self, sequences) -> np.ndarray:
        """(N, K) class probabilities, columns in the order of ``classes``.

        ``sequences``: an array (N, T) or (N, T, C) of raw values (as in the training
        files), shorter ones padded with trailing NaN; a list of arrays (T_i,) or (T_i, C);
        or ``RawSequences`` from a reader.
        """
        return self.predict_encoded(self.encode(sequences))

    def predict(self, sequences) -> list:
        """The most likely label of each sequence (see ``predict_proba``)."""
        return [self.classes[k] for k in self.predict_proba(sequences).argmax(axis=1)]


def as_sequences(sequences) -> RawSequences:
    """``RawSequences`` from an array (N, T[, C]) with trailing NaN padding, a list of
    arrays (T_i[, C]), or ``RawSequences`` (returned as is)."""
    if isinstance(sequences, RawSequences):
        return sequences
    if isinstance(sequences, (list, tuple)):
        rows = [np.asarray(row, dtype=np.float32) for row in sequences]
        rows = [row[:, None] if row.ndim == 1 else row for row in rows]
        if any(row.ndim != 2 or not len(row) for row in rows):
            raise LstmkitError("each sequence must be a non-empty array of T or T x C values")
        if len({row.shape[1] for row in rows}) > 1:
            raise LstmkitError("the sequences have different numbers of values per step")
        if any(not np.isfinite(row).all() for row in rows):
            raise LstmkitError("the sequences hold NaN or infinite values")
        return from_rows(rows, None, "sequences")
    return from_padded(np.asarray(sequences, dtype=np.float32), None, "sequences")


def load(folder: Path, config: dict, device="cpu") -> Classifier:
    """Build the classifier ``config`` describes and fill it from ``folder``, in fp32."""
    try:
        model_config = SequenceConfig.from_dict(config["model"])
        data_config = SequencesConfig.from_dict(config["data"])
        normaliser = Normaliser.from_dict(config["normaliser"])
        classes, channels = list(config["classes"]), int(config["channels"])
    except (KeyError, TypeError, ValueError, LstmkitError) as exc:
        raise CheckpointError(f"'{folder / 'config.json'}' has invalid classifier settings: "
                              f"{exc}") from exc
    if model_config.output_size != len(classes):
        raise CheckpointError(f"'{folder}': the model has {model_config.output_size} outputs "
                              f"for {len(classes)} classes")
    if model_config.input_size != channels * data_config.chunk:
        raise CheckpointError(f"'{folder}': the model reads {model_config.input_size} values "
                              f"per step, not {channels} x {data_config.chunk}")
    model = SequenceModel(model_config)
    load_weights(model, folder)
    model.to(resolve_device(str(device))).eval()
    return Classifier(model, classes, normaliser, data_config, config)


def load_classifier(folder: str | Path, device="cpu") -> Classifier:
    """Load a classifier folder (another task's folder is refused by name)."""
    from . import load_model

    return load_model(folder, device, task=NAME)


def evaluate_source(classifier: Classifier, source: Source | str, split: str = "test"
                    ) -> ClassReport:
    """The classifier on labelled data read as its training data was: ``split="test"``
    takes the same test part (and measures the 1-NN baseline against the training parts,
    normalised by the classifier's statistics); ``"all"`` takes every sequence given."""
    if split not in ("test", "all"):
        raise LstmkitError(f"split must be test or all (got '{split}')")
    source = Source(source) if isinstance(source, str) else source
    config = classifier.data_config
    train, test = read_sequences(source, config.label_column)
    if split == "all":
        whole = train if test is None else _joined(train, test)
        encoded = encode(whole, classifier.normaliser, config.chunk)
        targets = class_indices(whole.labels, classifier.classes, whole.source)
        predictions = classifier.predict_encoded(encoded).argmax(axis=1)
        return ClassReport.of(classifier.classes, targets.numpy(), predictions)
    if test is None and config.test_fraction == 0:
        raise LstmkitError("the model was trained without a test part (--test-fraction 0); "
                           "give --test FILE or use --split all")
    fit_part, val, test = split_sequences(train, test, config)
    parts = {"train": fit_part, **({"val": val} if val else {}), "test": test}
    return test_report(classifier, parts)


def _joined(a: RawSequences, b: RawSequences) -> RawSequences:
    """The sequences of ``a`` then ``b``, padded to the longer."""
    steps = max(a.values.shape[1], b.values.shape[1])
    values = [np.pad(part.values, ((0, 0), (0, steps - part.values.shape[1]), (0, 0)),
                     constant_values=np.nan) for part in (a, b)]
    return RawSequences(np.concatenate(values), np.concatenate([a.lengths, b.lengths]),
                        a.labels + b.labels, f"{a.source} and {b.source}")


def predict_file(classifier: Classifier, name: str, label_column: str | None = None
                 ) -> tuple[np.ndarray, RawSequences]:
    """(N, K) probabilities for the sequences of a file (see
    ``data.sequences.read_unlabelled``), and the sequences as read (with their labels, if
    the file has them). ``label_column`` defaults to the training data's."""
    column = classifier.data_config.label_column if label_column is None else label_column
    raw = read_unlabelled(name, None if column == "none" else column, classifier.data_config)
    if raw.labels is not None:
        unknown = sorted({str(label) for label in raw.labels}
                         - {str(label) for label in classifier.classes})
        if unknown:
            log.warning("'%s' holds labels the model does not know: %s", name,
                        ", ".join(unknown[:5]))
    return classifier.predict_proba(raw), raw
