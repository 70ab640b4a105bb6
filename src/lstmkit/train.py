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
import hashlib
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

from .checkpoint import (load_model, load_trainer, optimizer_from_tensors,
                         optimizer_to_tensors, save_model)
from .data.batching import Batch, PoemBatches, encode_poems
from .data.corpus import CleanConfig, CorpusReport, load_poems, split_poems
from .data.vocab import Vocab
from .errors import CheckpointError, LstmkitError
from .model import LanguageModel, ModelConfig

log = logging.getLogger(__name__)

Event = dict
# The settings a resumed run may change; the rest come from its checkpoint.
RESUME_CHANGEABLE = ("epochs", "max_steps", "max_minutes", "log_every", "save_every", "device")
EventHook = Callable[[Event], None]


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 64  # poems per step
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

    def __post_init__(self) -> None:
        positive = ("epochs", "batch_size", "log_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise LstmkitError(f"{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("warmup_steps", "patience", "save_every", "max_steps", "max_minutes",
                     "weight_decay", "clip"):
            if getattr(self, name) < 0:
                raise LstmkitError(f"{name} must not be negative (got {getattr(self, name)})")
        if not self.lr > 0:
            raise LstmkitError(f"lr must be positive (got {self.lr})")
        if not 0.0 <= self.val_fraction < 1.0:
            raise LstmkitError(f"val_fraction must be in [0, 1) (got {self.val_fraction})")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise LstmkitError(f"precision must be auto, fp32 or bf16 (got '{self.precision}')")

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
          amp: torch.dtype | None, reduction: str = "mean") -> torch.Tensor:
    with torch.autocast(inputs.device.type, dtype=amp or torch.float32, enabled=amp is not None):
        logits, _ = model(inputs)  # (B, T, V)
    return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten(),
                           ignore_index=pad_id, reduction=reduction)


def train_step(net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: Batch,
               pad_id: int, lr: float, clip: float, amp: torch.dtype | None) -> torch.Tensor:
    """One optimizer step at learning rate ``lr``; returns the (detached) mean loss.

    ``net`` is the model, or its DistributedDataParallel wrapper. The loss stays on the
    device: reading it is a host sync, left to the caller's logging.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = _loss(net, batch.inputs, batch.targets, pad_id, amp)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    optimizer.step()
    return loss.detach()


@torch.inference_mode()
def evaluate(model: LanguageModel, batches: PoemBatches, device: torch.device,
             amp: torch.dtype | None = None, shard: tuple[int, int] = (0, 1)) -> EvalResult:
    """Summed loss over the poems in ``batches`` (one pass, no dropout).

    ``shard=(rank, world)`` scores every world-th batch from ``rank`` on, so the ranks of
    a distributed run split the work; their results add up with ``EvalResult.__add__``.
    """
    rank, world = shard
    was_training = model.training
    model.eval()
    nll = torch.zeros((), dtype=torch.float64, device=device)
    poems = tokens = 0
    for indices in batches.plan()[rank::world]:
        batch = batches.collate(indices).to(device)
        nll += _loss(model, batch.inputs, batch.targets, batches.pad_id, amp, "sum").double()
        poems += len(indices)
        tokens += batch.tokens
    model.train(was_training)
    return EvalResult(nll=float(nll), tokens=tokens, chars=tokens - poems)


@dataclass
class Prepared:
    train: PoemBatches
    val: PoemBatches | None
    vocab: Vocab
    report: CorpusReport


def prepare_data(corpus: str | Path, clean: CleanConfig, config: TrainConfig, fmt: str = "auto",
                 vocab: Vocab | None = None) -> Prepared:
    """Read, clean and split the corpus; build the vocabulary from the training split."""
    poems, report = load_poems(corpus, clean, fmt)
    train_poems, val_poems = split_poems(poems, config.val_fraction)
    if not train_poems:
        raise LstmkitError(f"corpus '{corpus}': every poem fell into the validation split; "
                           "lower --val-fraction or use a larger corpus")
    texts = [p.text for p in train_poems]
    vocab = vocab or Vocab.build(texts, min_freq=config.min_freq)
    train = PoemBatches(encode_poems(texts, vocab), config.batch_size, vocab.pad_id,
                        shuffle=True, seed=config.seed)
    val = (PoemBatches(encode_poems([p.text for p in val_poems], vocab), config.batch_size,
                       vocab.pad_id, shuffle=False) if val_poems else None)
    return Prepared(train, val, vocab, report)


def _fingerprint(batches: PoemBatches) -> str:
    """A short hash of the encoded training poems, to notice a changed corpus on resume."""
    digest = hashlib.blake2b(digest_size=8)
    for seq in batches.sequences:
        digest.update(seq.numpy().tobytes())
    return digest.hexdigest()


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
        elif row.get("kind") == "epoch" and row.get("val_ppl") is not None:
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
        return _train(corpus, out, model_settings, config, clean, fmt, on_event, vocab, model,
                      trainer_state, trainer_tensors, dist, device)
    finally:
        dist.close()


def _train(corpus, out: Path, model_settings, config: TrainConfig, clean: CleanConfig, fmt,
           on_event, vocab, model, trainer_state, trainer_tensors, dist: Distributed,
           device: torch.device) -> dict:
    """The training loop of ``train``, for one rank of ``dist``."""
    emit = on_event if (on_event and dist.main) else (lambda event: None)
    torch.manual_seed(config.seed)
    amp = autocast_dtype(config.precision, device)
    data = prepare_data(corpus, clean, config, fmt, vocab)
    log.debug(data.report.summary())
    vocab = data.vocab
    if model is None:
        model = LanguageModel(ModelConfig(vocab_size=len(vocab), **(model_settings or {})))
    model.to(device).train()
    if len(data.train) < dist.world:
        raise LstmkitError(f"{len(data.train)} training batches cannot be shared by "
                           f"{dist.world} processes; lower --batch-size")
    net = model
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay,
                                  fused=device.type == "cuda")
    # Every rank draws the same plan for an epoch and takes every world-th batch of it.
    steps_per_epoch = len(data.train) // dist.world
    total_steps = steps_per_epoch * config.epochs
    step, epoch, batch_index, best, bad_epochs = 0, 0, 0, math.inf, 0
    if trainer_state is not None:
        optimizer.load_state_dict(optimizer_from_tensors(trainer_state["optimizer"],
                                                         trainer_tensors))
        step, epoch = trainer_state["step"], trainer_state["epoch"]
        batch_index = trainer_state["batch_index"]
        saved_best = trainer_state["best_val_loss"]
        best = saved_best if saved_best is not None else math.inf
        bad_epochs = trainer_state["bad_epochs"]
        _restore_rng(trainer_tensors, f"rng.r{dist.rank}" if dist.world > 1 else "rng")
    elif dist.world > 1:
        torch.manual_seed(config.seed + dist.rank)  # distinct dropout masks per rank

    fingerprint = _fingerprint(data.train)
    if trainer_state is not None and trainer_state.get("corpus_fingerprint") not in (None, fingerprint):
        log.warning("the training poems differ from the ones this run started on: "
                    "the resumed run will not repeat the original batches")
    meta = {
        "train": config.to_dict(),
        "clean": clean.to_dict(),
        "corpus": str(corpus),
        "corpus_format": data.report.format,
        "corpus_report": {"read": data.report.read, "kept": data.report.kept,
                          "dropped": dict(data.report.dropped)},
        "train_poems": len(data.train.sequences),
        "val_poems": len(data.val.sequences) if data.val else 0,
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
        rng = dist.gather(_rng_tensors(f"rng.r{dist.rank}") if dist.world > 1 else _rng_tensors())
        if not dist.main:
            return
        settings, tensors = optimizer_to_tensors(optimizer)
        state = {"step": step, "epoch": epoch, "batch_index": batch_index,
                 "corpus_fingerprint": fingerprint,
                 "best_val_loss": best if best < math.inf else None,
                 "bad_epochs": bad_epochs, "optimizer": settings}
        for part in rng:
            tensors.update(part)
        save_model(out / "last", model, vocab, {**meta, "step": step}, trainer=(state, tensors))

    emit({"event": "start", "total_steps": total_steps, "step": step, "device": str(device),
          "precision": "bf16" if amp else "fp32", "parameters": model.num_parameters(),
          "vocab_size": len(vocab), "report": data.report.summary(),
          "train_poems": meta["train_poems"], "val_poems": meta["val_poems"],
          "processes": dist.world,
          "padding": data.train.padding_fraction(data.train.plan(epoch))})

    started = time.monotonic()
    stop_reason = None
    window_tokens, window_start = 0, time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    loss_count = 0
    interrupt = {"stop": False}
    with _stop_on_interrupt(interrupt), (metrics or contextlib.nullcontext()):
        while epoch < config.epochs and stop_reason is None:
            plan = data.train.plan(epoch)[dist.rank::dist.world][:steps_per_epoch]
            while batch_index < len(plan):
                batch = data.train.collate(plan[batch_index]).to(device)
                lr = lr_at(step, total_steps, config)
                loss = train_step(net, optimizer, batch, vocab.pad_id, lr, config.clip, amp)
                step += 1
                batch_index += 1
                window_tokens += batch.tokens
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
                elif (config.max_minutes and (dist.world == 1 or logging_step)
                      and dist.sum([time.monotonic() - started], device)[0] / dist.world
                      >= 60 * config.max_minutes):
                    stop_reason = f"reached max_minutes={config.max_minutes:g}"
                if stop_reason:
                    break
            if stop_reason is None:
                epoch, batch_index = epoch + 1, 0
                row = {"kind": "epoch", "epoch": epoch, "step": step,
                       "elapsed_s": time.monotonic() - started}
                if data.val is not None:
                    part = evaluate(model, data.val, device, amp, (dist.rank, dist.world))
                    result = EvalResult(*dist.sum([part.nll, part.tokens, part.chars], device))
                    row.update(val_loss=result.loss, val_ppl=result.perplexity,
                               val_bits_per_char=result.bits_per_char)
                    improved = result.loss < best
                    if improved:
                        best, bad_epochs = result.loss, 0
                        if dist.main:
                            save_model(out / "best", model, vocab,
                                       {**meta, "step": step, "epoch": epoch,
                                        "val_perplexity": result.perplexity,
                                        "val_bits_per_char": result.bits_per_char})
                    else:
                        bad_epochs += 1
                    row["best"] = improved
                elif dist.main:
                    save_model(out / "best", model, vocab, {**meta, "step": step, "epoch": epoch})
                record(row)
                emit({"event": "epoch", **row})
                save_last()
                if dist.main:
                    plot_curves(metrics_path, out / "curves.png")
                if config.patience and bad_epochs >= config.patience:
                    stop_reason = f"no better validation score for {bad_epochs} epochs"
        if stop_reason and batch_index:  # stopped inside an epoch: keep the place
            save_last()
    summary = {"out": str(out), "step": step, "epoch": epoch, "stopped": stop_reason or "done",
               "rank": dist.rank,
               "best_val_ppl": math.exp(best) if best < math.inf else None,
               "elapsed_s": time.monotonic() - started}
    emit({"event": "end", **summary})
    return summary
