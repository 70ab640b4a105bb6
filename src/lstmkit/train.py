"""Training and evaluation: AdamW, clipping, warm-up + cosine schedule, early stopping.

``train`` reads a corpus, builds (or, on resume, reuses) the vocabulary, trains, and
writes into ``out``:

- ``last/``: the latest state, with optimizer and RNG state for an exact ``--resume``;
- ``best/``: the weights with the best validation perplexity so far;
- ``metrics.jsonl``: one JSON object per logged step and per epoch;
- ``curves.png``: training loss and validation perplexity.

The library never prints: progress goes to the ``on_event`` callback (the CLI draws a
progress bar from it) and to ``logging``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from .checkpoint import (
    load_model,
    load_trainer,
    optimizer_from_tensors,
    optimizer_to_tensors,
    save_model,
)
from .data.batching import Batch, PoemBatches, StreamBatches, encode_poems
from .data.corpus import (
    CleanConfig,
    CorpusReport,
    detect_format,
    load_poems,
    load_text,
    resolve_corpus,
    split_of,
    split_poems,
    split_text,
)
from .data.segment import LEVELS, tokenize
from .data.vocab import Vocab
from .errors import CheckpointError, LstmkitError
from .model import LanguageModel, ModelConfig, State

log = logging.getLogger(__name__)

Event = dict
# The settings a resumed run may change; the rest come from its checkpoint.
RESUME_CHANGEABLE = ("epochs", "max_steps", "max_minutes", "max_tokens", "log_every",
                     "save_every", "device")
MODES = ("auto", "poems", "stream")
EventHook = Callable[[Event], None]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    mode: str = "auto"  # poems, stream (one long text, truncated BPTT); auto: stream for plain text
    level: str = "char"  # char or word (jieba for Chinese, words and punctuation for English)
    seq_len: int = 128  # stream mode: tokens per window (back-propagation length)
    batch_size: int = 64  # poems per step, or parallel stripes in stream mode
    lr: float = 2e-3  # peak learning rate
    min_lr_ratio: float = 0.05  # the cosine decay ends at lr * min_lr_ratio
    warmup_steps: int = 200
    weight_decay: float = 0.01
    clip: float = 1.0  # max gradient norm
    patience: int = 3  # stop after this many epochs without a better validation score (0: never)
    val_fraction: float = 0.05
    min_freq: int = 2  # characters seen fewer times become <unk>
    seed: int = 0
    device: str = "auto"  # auto: cuda, then mps, then cpu
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 elsewhere; or fp32 / bf16
    log_every: int = 20  # steps between logged losses (each log syncs with the device)
    save_every: int = 0  # also write last/ every N steps (0: only at the end of each epoch)
    max_steps: int = 0  # stop (resumably) after this many steps in all (0: no limit)
    max_minutes: float = 0.0  # stop (resumably) after this much wall time (0: no limit)
    max_tokens: int = 0  # a token budget: end after this many training tokens, and validate (0: none)

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "log_every", "seq_len")
        for name in positive:
            if getattr(self, name) < 1:
                raise LstmkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("warmup_steps", "patience", "save_every", "max_steps", "max_minutes",
                     "max_tokens", "weight_decay", "clip"):
            if getattr(self, name) < 0:
                raise LstmkitError(f"{name} must not be negative (got {getattr(self, name)})")
        if not self.lr > 0:
            raise LstmkitError(f"lr must be positive (got {self.lr})")
        if not 0.0 <= self.val_fraction < 1.0:
            raise LstmkitError(f"val_fraction must be in [0, 1) (got {self.val_fraction})")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise LstmkitError(f"precision must be auto, fp32 or bf16 (got '{self.precision}')")
        if self.mode not in MODES:
            raise LstmkitError(f"mode must be one of {', '.join(MODES)} (got '{self.mode}')")
        if self.level not in LEVELS:
            raise LstmkitError(f"level must be one of {', '.join(LEVELS)} (got '{self.level}')")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass(frozen=True)
class EvalResult:
    nll: float  # summed negative log-likelihood in nats
    tokens: int  # predicted tokens (characters and <eos>)
    chars: int  # characters of text, for bits per character

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

    def __add__(self, other: "EvalResult") -> "EvalResult":
        return EvalResult(self.nll + other.nll, self.tokens + other.tokens,
                          self.chars + other.chars)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise LstmkitError(f"unknown device '{name}' (use auto, cpu, cuda, cuda:N or mps)") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise LstmkitError("--device cuda asked for, but PyTorch sees no CUDA GPU")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise LstmkitError("--device mps asked for, but MPS is not available")
    return device


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``; None means plain fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def lr_at(step: int, total: int, config: TrainConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at ``total``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, total - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def _loss(model: LanguageModel, inputs: torch.Tensor, targets: torch.Tensor, pad_id: int,
          amp: torch.dtype | None, reduction: str = "mean", state: State | None = None
          ) -> tuple[torch.Tensor, State]:
    with torch.autocast(inputs.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        logits, state = model(inputs, state)  # (B, T, V)
    loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(),
                           ignore_index=pad_id, reduction=reduction)
    return loss, state


def detach_state(state: State) -> State:
    """The state without its graph, so back-propagation stops at the window's start."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Batch,
               pad_id: int, lr: float, clip: float, amp: torch.dtype | None,
               state: State | None = None) -> tuple[torch.Tensor, State]:
    """One optimizer step at learning rate ``lr``; returns the (detached) mean loss and
    the detached state after the batch.

    ``net`` is the model, or its DistributedDataParallel wrapper. ``state`` is used when
    ``batch.carry`` says the batch continues the previous one (stream mode). The loss stays
    on the device: reading it is a host sync, left to the caller's logging.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss, state = _loss(net, batch.inputs, batch.targets, pad_id, amp,
                        state=state if batch.carry else None)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    optimizer.step()
    return loss.detach(), detach_state(state)


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
        loss, state = _loss(model, batch.inputs, batch.targets, batches.pad_id, amp, "sum",
                            state if batch.carry else None)
        nll += loss.double()
        tokens += batch.tokens
        chars += batch.chars
    model.train(was_training)
    return EvalResult(nll=float(nll), tokens=tokens, chars=chars)


@dataclass
class Prepared:
    train: PoemBatches | StreamBatches
    val: PoemBatches | StreamBatches | None
    vocab: Vocab
    report: CorpusReport
    mode: str  # poems or stream


def resolve_mode(mode: str, corpus: str | Path, fmt: str = "auto") -> str:
    """``auto`` is stream mode for a plain text file, poem mode for everything else."""
    if mode != "auto":
        return mode
    if fmt == "auto":
        fmt = detect_format(resolve_corpus(corpus))
    return "stream" if fmt == "text" else "poems"


def prepare_data(corpus: str | Path, clean: CleanConfig, config: TrainConfig, fmt: str = "auto",
                 vocab: Vocab | None = None, world: int = 1) -> Prepared:
    """Read, clean, tokenize and split the corpus; build the vocabulary from the training
    split (unless one is given). ``world`` processes will share the training batches."""
    mode = resolve_mode(config.mode, corpus, fmt)
    if mode == "stream":
        return _prepare_stream(corpus, clean, config, fmt, vocab, world)
    poems, report = load_poems(corpus, clean, fmt)
    train_poems, val_poems = split_poems(poems, config.val_fraction)
    if not train_poems:
        raise LstmkitError(f"corpus '{corpus}': every poem fell into the validation split; "
                           "lower --val-fraction or use a larger corpus")
    train_texts, val_texts = [p.text for p in train_poems], [p.text for p in val_poems]
    train_tokens = _poem_tokens(train_texts, config.level)
    val_tokens = _poem_tokens(val_texts, config.level)
    vocab = vocab or Vocab.build(train_tokens, min_freq=config.min_freq)
    train = PoemBatches(encode_poems(train_tokens, vocab), config.batch_size, vocab.pad_id,
                        shuffle=True, seed=config.seed, chars=[len(t) for t in train_texts])
    val = (PoemBatches(encode_poems(val_tokens, vocab), config.batch_size, vocab.pad_id,
                       shuffle=False, chars=[len(t) for t in val_texts]) if val_poems else None)
    if train.steps(world) == 0:
        raise LstmkitError(f"{len(train)} training batches cannot be shared by {world} "
                           "processes; lower --batch-size")
    return Prepared(train, val, vocab, report, mode)


def _prepare_stream(corpus, clean: CleanConfig, config: TrainConfig, fmt: str,
                    vocab: Vocab | None, world: int) -> Prepared:
    text, report = load_text(corpus, clean, fmt)
    train_text, val_text = split_text(text, config.val_fraction)
    train_tokens = tokenize(train_text, config.level)
    vocab = vocab or Vocab.build([train_tokens], min_freq=config.min_freq)
    stream = torch.tensor(vocab.encode(train_tokens), dtype=torch.long)
    train = StreamBatches(stream, config.batch_size, config.seq_len, shuffle=True,
                          seed=config.seed, chars_per_token=len(train_text) / len(train_tokens))
    if train.steps(world) == 0:
        raise LstmkitError(
            f"corpus '{corpus}' has {len(stream)} training tokens: too few for "
            f"{world * config.batch_size} stripes of {config.seq_len}-token windows; "
            "lower --batch-size or --seq-len")
    val_tokens = tokenize(val_text, config.level) if val_text else []
    val = _scoring_stream(val_text, val_tokens, vocab, config, world) if len(val_tokens) >= 2 else None
    return Prepared(train, val, vocab, report, "stream")


def _scoring_stream(text: str, tokens: list[str], vocab: Vocab, config: TrainConfig,
                    world: int = 1) -> StreamBatches:
    """Batches that score a held-out text: ``batch_size`` stripes in ``seq_len`` windows,
    fewer stripes (and shorter windows if need be) for a short text."""
    stream = torch.tensor(vocab.encode(tokens), dtype=torch.long)
    seq_len = min(config.seq_len, len(stream) - 1)
    stripes = max(1, min(config.batch_size, (len(stream) - 1) // (seq_len * world)))
    return StreamBatches(stream, stripes, seq_len, shuffle=False,
                         chars_per_token=len(text) / len(tokens))


def score_corpus(loaded, corpus: str | Path, split: str = "all", fmt: str = "auto",
                 batch_size: int | None = None) -> tuple[EvalResult, dict]:
    """Score a loaded model (``checkpoint.load_model``) on ``corpus``, read, cleaned and
    tokenized as its training data was; ``split`` is all, or the model's val or train part.
    ``batch_size`` (default: the training one) is poems per batch, or parallel stripes of a
    stream: fewer stripes give each token more context.

    Returns the result and a dict: ``report`` (the corpus summary), ``data`` (what was
    scored), ``unknown`` (tokens outside the vocabulary) and ``unit`` (character or word).
    """
    if split not in ("all", "val", "train"):
        raise LstmkitError(f"split must be all, val or train (got '{split}')")
    meta = loaded.meta
    saved = TrainConfig.from_dict(meta.get("train", {}))
    batch_size = batch_size or saved.batch_size
    clean = CleanConfig.from_dict(meta.get("clean", {}))
    vocab, model = loaded.vocab, loaded.model
    device = next(model.parameters()).device
    mode = meta.get("mode", "poems")
    if mode == "stream":
        text, report = load_text(corpus, clean, fmt)
        if split != "all":
            head, tail = split_text(text, saved.val_fraction)
            text = tail if split == "val" else head
        if not text:
            raise LstmkitError(f"corpus '{corpus}' has no text in the model's {split} split")
        tokens = tokenize(text, saved.level)
        if len(tokens) < 2:
            raise LstmkitError(f"corpus '{corpus}': too little text to score ({len(tokens)} token)")
        batches = _scoring_stream(text, tokens, vocab, replace(saved, batch_size=batch_size))
        data, info = f"{len(tokens)} tokens", {}
        unknown = sum(1 for t in tokens if t not in vocab)
    else:
        poems, report = load_poems(corpus, clean, fmt)
        if split != "all":
            poems = [p for p in poems if split_of(p.text, saved.val_fraction) == split]
            if not poems:
                raise LstmkitError(f"corpus '{corpus}' has no poems in the model's {split} split")
        texts = [p.text for p in poems]
        tokens = _poem_tokens(texts, saved.level)
        unknown = sum(1 for seq in tokens for t in seq if t not in vocab)
        batches = PoemBatches(encode_poems(tokens, vocab), batch_size, vocab.pad_id,
                              shuffle=False, chars=[len(t) for t in texts])
        data, info = f"{len(texts)} poems", {"poems": len(texts)}
    result = evaluate(model, batches, device)
    return result, {**info, "report": report.summary(), "data": data, "unknown": unknown,
                    "unit": "character" if saved.level == "char" else "word"}


def _poem_tokens(texts: list[str], level: str) -> list:
    """Each poem's tokens: its characters, or its words from one (cached) segmentation."""
    if level == "char" or not texts:
        return texts
    flat = tokenize("\n".join(texts), level)
    cuts = [i for i, tok in enumerate(flat) if tok == "\n"]
    return [flat[a + 1:b] for a, b in zip([-1, *cuts], [*cuts, len(flat)])]


def _rng_tensors(prefix: str = "rng") -> dict[str, torch.Tensor]:
    tensors = {f"{prefix}.cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"{prefix}.cuda.{i}"] = state
    return tensors


def _restore_rng(tensors: dict[str, torch.Tensor], prefix: str = "rng") -> None:
    if f"{prefix}.cpu" not in tensors:  # resumed with more ranks than saved: keep the seed
        return
    torch.set_rng_state(tensors[f"{prefix}.cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith(f"{prefix}.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


@dataclass(frozen=True)
class Distributed:
    """This process's place in a ``torchrun`` job; a single process is rank 0 of 1."""

    rank: int = 0
    world: int = 1
    started: bool = False  # whether this module opened the process group

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device_name: str) -> tuple["Distributed", torch.device]:
        """Join the process group that ``torchrun`` describes in the environment, if any.

        NCCL on CUDA GPUs (one per local rank), gloo on CPUs.
        """
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls(), resolve_device(device_name)
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        device = resolve_device(device_name)
        if device.type == "cuda":
            device = torch.device("cuda", local)
            torch.cuda.set_device(device)
        started = not dist.is_initialized()
        if started:
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), started), device

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """Add ``values`` up over the ranks (a no-op for one process)."""
        if self.world == 1:
            return values
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def gather(self, obj: object) -> list:
        if self.world == 1:
            return [obj]
        import torch.distributed as dist

        items: list = [None] * self.world
        dist.all_gather_object(items, obj)
        return items

    def close(self) -> None:
        if self.started:
            import torch.distributed as dist

            dist.destroy_process_group()

    def wait_all(self) -> None:
        """Wait until every rank is here (a no-op for one process)."""
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


def plot_curves(metrics_path: Path, png_path: Path) -> None:
    """Draw training loss per logged step and validation perplexity per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    steps, losses, epochs, val_ppl, val_steps, val_loss = [], [], [], [], [], []
    for line in metrics_path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("kind") == "step":
            steps.append(row["step"])
            losses.append(row["loss"])
        elif row.get("kind") in ("epoch", "budget") and row.get("val_ppl") is not None:
            epochs.append(row["epoch"])
            val_ppl.append(row["val_ppl"])
            val_steps.append(row["step"])
            val_loss.append(row["val_loss"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(steps, losses, label="training loss", lw=1)
    left.plot(val_steps, val_loss, "o-", label="validation loss")
    left.set_xlabel("step")
    left.set_ylabel("cross-entropy (nats per token)")
    left.legend()
    right.plot(epochs, val_ppl, "o-", color="C1")
    right.set_xlabel("epoch")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylabel("validation perplexity")
    for axis in (left, right):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png_path.with_name(f".{png_path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(png_path)


@contextlib.contextmanager
def _stop_on_interrupt(flag: dict):
    """Turn the first Ctrl-C into ``flag["stop"] = True`` so a step is never cut in half."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if flag["stop"]:
            raise KeyboardInterrupt
        flag["stop"] = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def train(corpus: str | Path, out: str | Path, model_settings: dict | None = None,
          config: TrainConfig = TrainConfig(), clean: CleanConfig = CleanConfig(),
          fmt: str = "auto", resume: bool = False, on_event: EventHook | None = None) -> dict:
    """Train a language model on ``corpus`` into the folder ``out``; return a summary.

    ``model_settings`` are ``ModelConfig`` fields other than ``vocab_size``. With
    ``resume``, the model, vocabulary, cleaning and settings come from ``out/last``;
    only ``epochs``, ``max_steps``, ``max_minutes``, ``log_every``, ``save_every`` and
    ``device`` may change.
    """
    out = Path(out)
    trainer_state: dict | None = None
    if resume:
        last = out / "last"
        if not last.is_dir():
            raise CheckpointError(f"nothing to resume: '{last}' does not exist")
        loaded = load_model(last)
        trainer_state, trainer_tensors = load_trainer(last)
        saved = TrainConfig.from_dict(loaded.meta.get("train", {}))
        config = replace(saved, **{k: getattr(config, k) for k in RESUME_CHANGEABLE})
        clean = CleanConfig.from_dict(loaded.meta.get("clean", {}))
        fmt = loaded.meta.get("corpus_format", fmt)
        vocab, model = loaded.vocab, loaded.model
    else:
        if (out / "last").exists():
            raise LstmkitError(f"'{out}' already holds a run; use --resume or another --out")
        vocab = model = trainer_tensors = None
    dist, device = Distributed.setup(config.device)
    try:
        summary = _train(corpus, out, model_settings, config, clean, fmt, on_event, vocab, model,
                         trainer_state, trainer_tensors, dist, device)
        # Every rank finishes before any tears the group down: a gloo group destroyed while
        # a peer still uses it can abort that process. (Not after an error: that would hang.)
        dist.wait_all()
        return summary
    finally:
        dist.close()


def _state_tensors(state: State | None, prefix: str) -> dict[str, torch.Tensor]:
    """The carried stream state as named tensors for the resume checkpoint."""
    if state is None:
        return {}
    parts = state if isinstance(state, tuple) else (state,)
    return {f"{prefix}.{i}": part.detach() for i, part in enumerate(parts)}  # dtype kept


def _restore_state(tensors: dict[str, torch.Tensor], prefix: str, cell: str,
                   device: torch.device) -> State | None:
    parts = [tensors[k].to(device) for k in sorted(k for k in tensors if k.startswith(prefix + "."))]
    if not parts:
        return None
    return tuple(parts) if cell == "lstm" else parts[0]


def peak_memory_mib(device: torch.device) -> float:
    """Peak memory of this process: allocated GPU memory on CUDA, resident host memory else."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _train(corpus, out: Path, model_settings, config: TrainConfig, clean: CleanConfig, fmt,
           on_event, vocab, model, trainer_state, trainer_tensors, dist: Distributed,
           device: torch.device) -> dict:
    """The training loop of ``train``, for one rank of ``dist``."""
    emit = on_event if (on_event and dist.main) else (lambda event: None)
    torch.manual_seed(config.seed)
    amp = autocast_dtype(config.precision, device)
    data = prepare_data(corpus, clean, config, fmt, vocab, dist.world)
    config = replace(config, mode=data.mode)  # a resumed run reads the corpus the same way
    log.debug(data.report.summary())
    vocab = data.vocab
    if model is None:
        model = LanguageModel(ModelConfig(vocab_size=len(vocab), **(model_settings or {})))
    model.to(device).train()
    net = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay,
                                  fused=device.type == "cuda")
    steps_per_epoch = data.train.steps(dist.world)
    total_steps = steps_per_epoch * config.epochs
    budget_steps = 0  # the step at which max_tokens is spent (whole steps, all processes)
    if config.max_tokens:
        tokens_per_step = data.train.tokens / steps_per_epoch  # all processes together
        budget_steps = max(1, math.ceil(config.max_tokens / tokens_per_step))
        total_steps = min(total_steps, budget_steps)
    step, epoch, batch_index, best, bad_epochs = 0, 0, 0, math.inf, 0
    state: State | None = None  # stream mode: the state carried into the next window
    state_key = f"stream_state.r{dist.rank}"
    if trainer_state is not None:
        optimizer.load_state_dict(optimizer_from_tensors(trainer_state["optimizer"],
                                                         trainer_tensors))
        step, epoch = trainer_state["step"], trainer_state["epoch"]
        batch_index = trainer_state["batch_index"]
        saved_best = trainer_state["best_val_loss"]
        best = saved_best if saved_best is not None else math.inf
        bad_epochs = trainer_state["bad_epochs"]
        _restore_rng(trainer_tensors, f"rng.r{dist.rank}" if dist.world > 1 else "rng")
        state = _restore_state(trainer_tensors, state_key, model.config.cell, device)
    elif dist.world > 1:
        torch.manual_seed(config.seed + dist.rank)  # distinct dropout masks per rank

    fingerprint = data.train.fingerprint()
    if trainer_state is not None and trainer_state.get("corpus_fingerprint") not in (None, fingerprint):
        log.warning("the training text differs from the one this run started on: "
                    "the resumed run will not repeat the original batches")
    meta = {
        "train": config.to_dict(),
        "clean": clean.to_dict(),
        "corpus": str(corpus),
        "corpus_format": data.report.format,
        "corpus_report": {"read": data.report.read, "kept": data.report.kept,
                          "dropped": dict(data.report.dropped)},
        "mode": data.mode,
        "level": config.level,
        "train_data": data.train.units,
        "val_data": data.val.units if data.val else "none",
        **({"train_poems": len(data.train.sequences),
            "val_poems": len(data.val.sequences) if data.val else 0} if data.mode == "poems"
           else {"train_tokens": len(data.train.stream),
                 "val_tokens": len(data.val.stream) if data.val else 0}),
        "parameters": model.num_parameters(),
        "processes": dist.world,
    }
    metrics_path = out / "metrics.jsonl"
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)
    metrics = metrics_path.open("a", encoding="utf-8") if dist.main else None

    def record(row: dict) -> None:
        if metrics is not None:
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()

    def save_last() -> None:
        prefix = f"rng.r{dist.rank}" if dist.world > 1 else "rng"
        carried = state if data.mode == "stream" and batch_index else None
        mine = {**_rng_tensors(prefix), **_state_tensors(carried, state_key)}
        parts = dist.gather(mine)
        if not dist.main:
            return
        settings, tensors = optimizer_to_tensors(optimizer)
        saved = {"step": step, "epoch": epoch, "batch_index": batch_index,
                 "corpus_fingerprint": fingerprint,
                 "best_val_loss": best if best < math.inf else None,
                 "bad_epochs": bad_epochs, "optimizer": settings}
        for part in parts:
            tensors.update(part)
        save_model(out / "last", model, vocab, {**meta, "step": step}, trainer=(saved, tensors))

    def validate(row: dict) -> None:
        """Score the validation data into ``row``; keep best/ when it improved."""
        nonlocal best, bad_epochs
        if data.val is None:
            if dist.main:
                save_model(out / "best", model, vocab, {**meta, "step": step, "epoch": epoch})
            return
        part = evaluate(model, data.val, device, amp, (dist.rank, dist.world))
        nll, tokens, chars = dist.sum([part.nll, part.tokens, part.chars], device)
        result = EvalResult(nll, int(tokens), chars)
        row.update(val_loss=result.loss, val_ppl=result.perplexity,
                   val_bits_per_char=result.bits_per_char)
        improved = result.loss < best
        if improved:
            best, bad_epochs = result.loss, 0
            if dist.main:
                save_model(out / "best", model, vocab,
                           {**meta, "step": step, "epoch": row["epoch"],
                            "val_perplexity": result.perplexity,
                            "val_bits_per_char": result.bits_per_char})
        else:
            bad_epochs += 1
        row["best"] = improved

    emit({"event": "start", "total_steps": total_steps, "step": step, "device": str(device),
          "precision": "bf16" if amp else "fp32", "parameters": model.num_parameters(),
          "vocab_size": len(vocab), "report": data.report.summary(), "mode": data.mode,
          "train_data": meta["train_data"], "val_data": meta["val_data"],
          "processes": dist.world,
          "padding": data.train.padding_fraction(data.train.plan(epoch)[:steps_per_epoch])})

    started = time.monotonic()
    eval_seconds = 0.0
    trained_tokens = 0  # this process, this invocation
    stop_reason = None
    window_tokens, window_start = 0, time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    loss_count = 0
    interrupt = {"stop": False}
    with _stop_on_interrupt(interrupt), (metrics or contextlib.nullcontext()):
        while epoch < config.epochs and stop_reason is None:
            plan = data.train.plan(epoch, dist.rank, dist.world)[:steps_per_epoch]
            while batch_index < len(plan):
                batch = data.train.collate(plan[batch_index]).to(device)
                lr = lr_at(step, total_steps, config)
                loss, state = train_step(net, optimizer, batch, data.train.pad_id, lr,
                                         config.clip, amp, state)
                step += 1
                batch_index += 1
                window_tokens += batch.tokens
                trained_tokens += batch.tokens
                loss_sum += loss
                loss_count += 1
                logging_step = step % config.log_every == 0 or batch_index == len(plan)
                if logging_step:
                    # The only host sync of the step loop; ranks agree on the mean and on stopping.
                    total, count, tokens, stop = dist.sum(
                        [float(loss_sum), loss_count, window_tokens, float(interrupt["stop"])],
                        device)
                    mean = total / count
                    now = time.perf_counter()
                    row = {"kind": "step", "step": step, "epoch": epoch + 1, "loss": mean,
                           "ppl": math.exp(min(mean, 50.0)), "lr": lr,
                           "tokens_per_s": tokens / max(now - window_start, 1e-9)}
                    record(row)
                    emit({"event": "step", **row})
                    loss_sum.zero_()
                    loss_count, window_tokens, window_start = 0, 0, now
                    interrupt["stop"] = stop > 0
                if config.save_every and step % config.save_every == 0:
                    save_last()
                # One process may stop at any step; several only where they have synced.
                if interrupt["stop"] and (dist.world == 1 or logging_step):
                    stop_reason = "interrupted"
                elif config.max_steps and step >= config.max_steps:
                    stop_reason = f"reached max_steps={config.max_steps}"
                elif budget_steps and step >= budget_steps and batch_index < len(plan):
                    stop_reason = f"spent max_tokens={config.max_tokens}"
                elif (config.max_minutes and (dist.world == 1 or logging_step)
                      and dist.sum([time.monotonic() - started], device)[0] / dist.world
                      >= 60 * config.max_minutes):
                    stop_reason = f"reached max_minutes={config.max_minutes:g}"
                if stop_reason:
                    break
            if stop_reason is None or stop_reason.startswith("spent"):
                # The end of an epoch, or of the token budget: validate and keep the best.
                finished_epoch = stop_reason is None
                if finished_epoch:
                    epoch, batch_index = epoch + 1, 0
                row = {"kind": "epoch" if finished_epoch else "budget",
                       "epoch": epoch if finished_epoch else epoch + batch_index / len(plan),
                       "step": step, "elapsed_s": time.monotonic() - started}
                eval_started = time.monotonic()
                validate(row)
                eval_seconds += time.monotonic() - eval_started
                record(row)
                emit({"event": "epoch", **row})
                save_last()
                if dist.main:
                    plot_curves(metrics_path, out / "curves.png")
                if finished_epoch and budget_steps and step >= budget_steps:
                    stop_reason = f"spent max_tokens={config.max_tokens}"
                elif config.patience and bad_epochs >= config.patience:
                    stop_reason = f"no better validation score for {bad_epochs} epochs"
        if stop_reason and batch_index and not stop_reason.startswith("spent"):
            save_last()  # stopped inside an epoch: keep the place
    elapsed = time.monotonic() - started
    tokens_all, peak = dist.sum([trained_tokens, peak_memory_mib(device)], device)
    summary = {"out": str(out), "step": step, "epoch": epoch, "stopped": stop_reason or "done",
               "rank": dist.rank,
               "best_val_ppl": math.exp(best) if best < math.inf else None,
               "best_val_loss": best if best < math.inf else None,
               "elapsed_s": elapsed, "tokens": int(tokens_all),
               "tokens_per_s": tokens_all / max(elapsed - eval_seconds, 1e-9),
               "peak_memory_mib": peak / dist.world, "device": str(device)}
    if dist.main:
        _write_json(out / "summary.json", summary)
    emit({"event": "end", **summary})
    return summary


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, indent=2), encoding="utf-8")
    tmp.replace(path)
