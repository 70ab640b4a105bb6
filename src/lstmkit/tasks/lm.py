"""The language-model task: predict the next token of poems or of a long text.

Its data come from ``data.text`` (poem or stream batches), its model is ``LanguageModel``,
its loss cross-entropy (padding ignored), its metrics perplexity and bits per character.
``train`` runs it on the shared loop; ``load`` and ``save_model`` read and write its
folders (``vocab.json`` beside the weights); ``score_corpus`` is ``lstmkit eval``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..core.checkpoint import load_weights, read_config, save_checkpoint
from ..core.config import field_names, sort_settings
from ..core.device import autocast
from ..core.loop import EventHook, LoopConfig, fit
from ..core.task import RunContext
from ..data.batching import Batch, PoemBatches, StreamBatches
from ..data.corpus import CleanConfig
from ..data.text import TextConfig, TextData, prepare_text, scoring_batches
from ..data.vocab import VOCAB_FILE, Vocab
from ..errors import CheckpointError, LstmkitError
from ..model import LanguageModel, ModelConfig, weights_to_be_loaded
from .lm_sampled import sampled_loss

NAME = "lm"
DESCRIPTION = "a language model"


@dataclass(frozen=True)
class EvalResult:
    nll: float  # summed negative log-likelihood in nats
    tokens: int  # predicted tokens (characters and <eos>)
    chars: float  # characters of text, for bits per character

    @property
    def loss(self) -> float:
        return self.nll / self.tokens

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits_per_char(self) -> float:
        return self.nll / math.log(2) / self.chars

    def to_dict(self) -> dict:
        return {"perplexity": self.perplexity, "bits_per_char": self.bits_per_char,
                "loss": self.loss, "tokens": self.tokens}

    def __add__(self, other: EvalResult) -> EvalResult:
        return EvalResult(self.nll + other.nll, self.tokens + other.tokens,
                          self.chars + other.chars)


def batch_loss(model: torch.nn.Module, batch: Batch, pad_id: int, amp: torch.dtype | None,
               reduction: str = "mean", state=None):
    """Cross-entropy of the batch's next tokens (padding ignored) and the state after it."""
    with autocast(batch.inputs.device, amp):
        logits, state = model(batch.inputs, state)  # (B, T, V)
    loss = F.cross_entropy(logits.float().flatten(0, 1), batch.targets.flatten(),
                           ignore_index=pad_id, reduction=reduction)
    return loss, state


def training_loss(net: torch.nn.Module, model: LanguageModel, batch: Batch, pad_id: int,
                  amp: torch.dtype | None, state=None):
    """The loss ``model``'s config trains with (``net`` is the model or its DDP wrapper):
    the full softmax's ``batch_loss``, or the sampled softmax it asks for."""
    config = model.config
    if config.sampled_softmax:
        return sampled_loss(net, model.head, batch, pad_id, amp, config.sampled_softmax, state,
                            config.sampled_keep)
    return batch_loss(net, batch, pad_id, amp, state=state)


@torch.inference_mode()
def evaluate(model: LanguageModel, batches: PoemBatches | StreamBatches, device: torch.device,
             amp: torch.dtype | None = None, shard: tuple[int, int] = (0, 1)) -> EvalResult:
    """Summed loss over ``batches`` (one pass, no dropout; stream windows carry the state).

    ``shard=(rank, world)`` scores process ``rank``'s part, so the ranks of a distributed
    run split the work; their results add up with ``EvalResult.__add__``.
    """
    rank, world = shard
    was_training = model.training
    model.eval()
    nll = torch.zeros((), dtype=torch.float64, device=device)
    tokens, chars, state = 0, 0.0, None
    for key in batches.plan(0, rank, world):
        batch = batches.collate(key).to(device)
        loss, state = batch_loss(model, batch, batches.pad_id, amp, "sum",
                            state if batch.carry else None)
        nll += loss.double()
        tokens += batch.tokens
        chars += batch.chars
    model.train(was_training)
    return EvalResult(nll=float(nll), tokens=tokens, chars=chars)


class LanguageModelTask:
    """A language model on prepared text data (see ``core.task.Task``)."""

    name = NAME
    curve = ("val_ppl", "validation perplexity")
    loss_label = "cross-entropy (nats per token)"

    def __init__(self, model: LanguageModel, data: TextData, clean: CleanConfig, corpus: str):
        self.model, self.data, self.clean, self.corpus = model, data, clean, corpus
        self.train, self.val = data.train, data.val
        self.stream = data.config.mode == "stream"

    def loss(self, net, batch: Batch, amp, state=None):
        """The training loss: the full softmax, or the sampled one the model asks for."""
        loss, state = training_loss(net, self.model, batch, self.train.pad_id, amp, state)
        return loss, (state if self.stream else None)  # only a stream carries its state on

    def evaluate(self, model, batches, device, amp, shard) -> dict[str, float]:
        result = evaluate(model, batches, device, amp, shard)
        return {"nll": result.nll, "tokens": result.tokens, "chars": result.chars}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        result = EvalResult(sums["nll"], int(sums["tokens"]), sums["chars"])
        return {"score": result.loss, "loss": result.loss, "ppl": result.perplexity,
                "bits_per_char": result.bits_per_char}

    def format_metrics(self, metrics: dict[str, float]) -> str:
        return (f"validation perplexity {metrics['ppl']:.2f}, "
                f"{metrics['bits_per_char']:.3f} bits/char")

    def step_metrics(self, loss: float) -> dict[str, float]:
        return {"ppl": math.exp(min(loss, 50.0))}

    def meta(self) -> dict:
        data, report = self.data, self.data.report
        return {
            "data": data.config.to_dict(),
            "clean": self.clean.to_dict(),
            "corpus": self.corpus,
            "corpus_format": report.format,
            "corpus_report": {"read": report.read, "kept": report.kept,
                              "dropped": dict(report.dropped)},
            "train_data": data.train.units,
            "val_data": data.val.units if data.val else "none",
            **({"train_tokens": len(data.train.stream),
                "val_tokens": len(data.val.stream) if data.val else 0} if self.stream
               else {"train_poems": getattr(data.train, "poems", len(data.train.sequences)),
                     "val_poems": len(data.val.sequences) if data.val else 0}),
        }

    def files(self) -> dict[str, object]:
        return {VOCAB_FILE: self.data.vocab.to_dict()}

    def describe(self) -> dict:
        data = self.data
        first = data.train.plan(0)[:data.train.steps()]
        return {"report": data.report.summary(), "mode": data.config.mode,
                "vocab_size": len(data.vocab),
                "data": (f"{data.config.mode} mode: {data.train.units} for training, "
                         f"{data.val.units if data.val else 'none'} for validation, "
                         f"vocabulary {len(data.vocab)}"),
                "padding": data.train.padding_fraction(first)}


def split_settings(values: dict) -> dict:
    """Flat settings, as typed options or a TOML file give them, sorted into ``train``'s
    keyword arguments ``model``, ``data``, ``loop`` and ``clean``; unknown keys are an error."""
    groups = sort_settings(values, {"model": field_names(ModelConfig) - {"vocab_size"},
                                    "data": field_names(TextConfig),
                                    "loop": field_names(LoopConfig),
                                    "clean": field_names(CleanConfig)})
    ModelConfig(vocab_size=1, **groups["model"])  # checked now, not after reading the corpus
    return {"model": groups["model"], "data": TextConfig(**groups["data"]),
            "loop": LoopConfig(**groups["loop"]), "clean": CleanConfig(**groups["clean"])}


def train(corpus: str | Path, out: str | Path, model: dict | None = None,
          data: TextConfig = TextConfig(), loop: LoopConfig = LoopConfig(),
          clean: CleanConfig = CleanConfig(), fmt: str = "auto", resume: bool = False,
          on_event: EventHook | None = None, force: bool = False) -> dict:
    """Train a language model on ``corpus`` into the folder ``out``; return a summary.

    ``model`` holds ``ModelConfig`` fields other than ``vocab_size``. With ``resume``, the
    model, vocabulary, data and cleaning settings come from ``out/last``, and of ``loop``
    only the settings in ``core.loop.RESUME_CHANGEABLE`` apply. A new run needs ``out``
    missing or empty, or ``force`` (which clears it).
    """
    def build(context: RunContext) -> LanguageModelTask:
        nonlocal data, clean, fmt
        vocab = net = None
        if context.resume is not None:
            loaded = load_model(context.resume)
            data, clean = loaded.text_config, loaded.clean
            fmt = loaded.meta.get("corpus_format", fmt)
            vocab, net = loaded.vocab, loaded.model
        prepared = prepare_text(corpus, data, clean, fmt, vocab, context.seed, context.world)
        if net is None:
            net = LanguageModel(ModelConfig(vocab_size=len(prepared.vocab), **(model or {})))
        return LanguageModelTask(net, prepared, clean, str(corpus))

    return fit(build, out, loop, resume=resume, on_event=on_event, force=force)


@dataclass
class Loaded:
    """A language model read from its folder."""

    model: LanguageModel
    vocab: Vocab
    meta: dict  # everything in config.json: model, data, clean and loop settings, metrics

    @property
    def text_config(self) -> TextConfig:
        """How its training text was read: mode (poems or stream), level, split."""
        return TextConfig.from_checkpoint(self.meta)

    @property
    def clean(self) -> CleanConfig:
        return CleanConfig.from_dict(self.meta.get("clean", {}))


def save_model(folder: str | Path, model: LanguageModel, vocab: Vocab, meta: dict,
               dtype: str | None = None, trainer: tuple[dict, dict] | None = None) -> None:
    """Write a language-model folder atomically (see ``core.checkpoint.save_checkpoint``)."""
    save_checkpoint(folder, model, NAME, meta, files={VOCAB_FILE: vocab.to_dict()}, dtype=dtype,
                    trainer=trainer)


def load(folder: Path, config: dict, device="cpu") -> Loaded:
    """Build the model ``config`` describes and fill it from ``folder``, in fp32."""
    if not (folder / VOCAB_FILE).is_file():
        raise CheckpointError(f"model folder '{folder}' lacks {VOCAB_FILE}")
    vocab = Vocab.load(folder / VOCAB_FILE)
    try:
        model_config = ModelConfig.from_dict(config["model"])
    except (TypeError, LstmkitError) as exc:
        raise CheckpointError(f"'{folder / 'config.json'}' has invalid model settings: {exc}") from exc
    if model_config.vocab_size != len(vocab):
        raise CheckpointError(
            f"'{folder}': config says {model_config.vocab_size} tokens, vocab.json has {len(vocab)}")
    with weights_to_be_loaded():  # load_weights fills every one (strict)
        model = LanguageModel(model_config)
    load_weights(model, folder)
    model.to(device).eval()
    return Loaded(model=model, vocab=vocab, meta=config)


def load_model(folder: str | Path, device="cpu") -> Loaded:
    """Load a language-model folder (another task's folder is refused by name)."""
    from . import load_model as load_any

    return load_any(folder, device, task=NAME)


def score_corpus(loaded: Loaded, corpus: str | Path, split: str = "all", fmt: str = "auto",
                 batch_size: int | None = None, given: str = "none") -> tuple[EvalResult, dict]:
    """Score a loaded model on ``corpus``, read, cleaned and tokenized as its training data
    was; ``split`` is all, or the model's val or train part. ``batch_size`` (default: the
    training one) is poems per batch, or parallel stripes of a stream: fewer stripes give
    each token more context. A conditioned model is ``given`` each poem's title, poet, both
    or none. Returns the result and what ``data.text.scoring_batches`` says.
    """
    config = loaded.text_config
    if batch_size is not None:
        config = TextConfig.from_dict({**config.to_dict(), "batch_size": batch_size})
    batches, info = scoring_batches(corpus, loaded.vocab, config, loaded.clean, split, fmt, given)
    device = next(loaded.model.parameters()).device
    return evaluate(loaded.model, batches, device), info


def read_text_config(folder: str | Path) -> TextConfig:
    """The data settings of a model folder, without loading its weights."""
    return TextConfig.from_checkpoint(read_config(folder))
