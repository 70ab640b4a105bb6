"""The training loop, for any task: AdamW, clipping, warm-up + cosine schedule, bf16
autocast, early stopping, Ctrl-C, torchrun DDP, and an exact resume.

Nothing in this file knows what is being learned: a task (``core.task.Task``) gives the
model, the batches, the loss and the metrics. ``fit`` writes into ``out``:

- ``last/``: the latest state, with optimizer and RNG state for an exact resume;
- ``best/``: the weights with the best validation score so far;
- ``metrics.jsonl``: one JSON object per logged step and per epoch;
- ``curves.png``: training loss and the task's validation metric;
- ``summary.json``: how the run ended, tokens per second, peak memory.

The library never prints: progress goes to the ``on_event`` callback (the CLI draws a
progress bar from it) and to ``logging``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from ..errors import CheckpointError, LstmkitError
from .checkpoint import (
    load_trainer,
    optimizer_from_tensors,
    optimizer_to_tensors,
    read_config,
    restore_rng,
    restore_state,
    rng_tensors,
    save_checkpoint,
    state_tensors,
    write_json,
)
from .config import RESUME_CHANGEABLE, LoopConfig
from .device import autocast_dtype, peak_memory_mib
from .distributed import Distributed, distributed
from .plot import plot_curves
from .runfolder import run_folder, trim_metrics
from .task import Batch, RunContext, Task

log = logging.getLogger(__name__)

EventHook = Callable[[dict], None]
PLOT_EVERY_S = 10.0
def lr_at(step: int, total: int, config: LoopConfig) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at ``total``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    span = max(1, total - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def detach_state(state):
    """The state without its graph, so back-propagation stops at the window's start."""
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def train_step(loss_of: Callable, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
               batch: Batch, lr: float, clip: float, amp: torch.dtype | None, state=None):
    """One optimizer step at learning rate ``lr``; returns the (detached) mean loss and
    the detached state after the batch.

    ``loss_of`` is a task's ``loss``. ``net`` is the model, or its DistributedDataParallel
    wrapper. ``state`` is used when
    ``batch.carry`` says the batch continues the previous one. The loss stays on the
    device: reading it is a host sync, left to the caller's logging.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss, state = loss_of(net, batch, amp, state if batch.carry else None)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
    optimizer.step()
    return loss.detach(), detach_state(state)


def fit(build: Callable[[RunContext], Task], out: str | Path, config: LoopConfig = LoopConfig(),
        resume: bool = False, on_event: EventHook | None = None, force: bool = False) -> dict:
    """Train the task that ``build`` makes into the folder ``out``; return a summary.

    With ``resume``, the run continues from ``out/last``: its loop settings come from
    there, but for ``RESUME_CHANGEABLE`` ones, which ``config`` gives; ``build`` finds the
    checkpoint in ``context.resume`` to restore its model and data settings. The folder is
    held for the run (``runfolder.run_folder``: a new run needs it empty, or ``force``).
    """
    out = Path(out)
    with run_folder(out, resume, force):
        return _fit(build, out, config, resume, on_event)


def _fit(build: Callable[[RunContext], Task], out: Path, config: LoopConfig, resume: bool,
         on_event: EventHook | None) -> dict:
    last = out / "last"
    trainer = None
    if resume:
        if not last.is_dir():
            raise CheckpointError(f"nothing to resume: '{last}' does not exist")
        saved = LoopConfig.from_checkpoint(read_config(last))
        config = replace(saved, **{k: getattr(config, k) for k in RESUME_CHANGEABLE})
        trainer = load_trainer(last)
    with distributed(config.device) as (dist, device):
        torch.manual_seed(config.seed)
        task = build(RunContext(device, dist.rank, dist.world, config.seed,
                                last if resume else None))
        return _Run(task, out, config, dist, device, trainer, on_event).run()


class _Run:
    """One invocation of the loop on one rank: the state that ``fit`` carries between steps."""

    def __init__(self, task: Task, out: Path, config: LoopConfig, dist: Distributed,
                 device: torch.device, trainer: tuple[dict, dict] | None,
                 on_event: EventHook | None):
        self.task, self.out, self.config, self.dist, self.device = task, out, config, dist, device
        self.emit = on_event if (on_event and dist.main) else (lambda event: None)
        self.amp = autocast_dtype(config.precision, device)
        self.model = task.model.to(device).train()
        self.net = dist.wrap(self.model, device)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr,
                                           weight_decay=config.weight_decay,
                                           fused=device.type == "cuda")
        self.steps_per_epoch = task.train.steps(dist.world)
        if self.steps_per_epoch == 0:
            raise LstmkitError(f"the training data make no whole batch for each of {dist.world} "
                               "process(es); lower the batch size or use more data")
        self.total_steps = self.steps_per_epoch * config.epochs
        self.budget_steps = 0  # the step at which max_tokens is spent (whole steps, all processes)
        if config.max_tokens:
            tokens_per_step = task.train.tokens / self.steps_per_epoch  # all processes together
            self.budget_steps = max(1, math.ceil(config.max_tokens / tokens_per_step))
            self.total_steps = min(self.total_steps, self.budget_steps)
        self.step = self.epoch = self.batch_index = self.bad_epochs = 0
        self.best, self.best_metrics = math.inf, {}
        self.state = None  # the recurrent state carried into the next batch
        self.rng_key = f"rng.r{dist.rank}" if dist.world > 1 else "rng"
        self.state_key = f"stream_state.r{dist.rank}"
        self.fingerprint = task.train.fingerprint()
        if trainer is not None:
            self._restore(*trainer)
        elif dist.world > 1:
            torch.manual_seed(config.seed + dist.rank)  # distinct dropout masks per rank
        self.meta = {"loop": config.to_dict(), **task.meta(),
                     "parameters": sum(p.numel() for p in self.model.parameters()),
                     "processes": dist.world}
        self.metrics_path = out / "metrics.jsonl"
        self.plotted, self.unplotted = -math.inf, False  # when curves.png was drawn; new rows since

    def _restore(self, saved: dict, tensors: dict) -> None:
        self.optimizer.load_state_dict(optimizer_from_tensors(saved["optimizer"], tensors))
        self.step, self.epoch = saved["step"], saved["epoch"]
        self.batch_index, self.bad_epochs = saved["batch_index"], saved["bad_epochs"]
        best = saved.get("best_score", saved.get("best_val_loss"))
        self.best = best if best is not None else math.inf
        self.best_metrics = saved.get("best_metrics", {})
        restore_rng(tensors, self.rng_key)
        self.state = restore_state(tensors, self.state_key, self.device)
        if saved.get("corpus_fingerprint") not in (None, self.fingerprint):
            raise LstmkitError(f"the training data differ from the data the run in '{self.out}' "
                               "started on; resume with the same data, or start a new run")

    def run(self) -> dict:
        config, dist, task = self.config, self.dist, self.task
        if self.step and (self.epoch >= config.epochs or self.step >= self.total_steps):
            if not (self.out / "summary.json").exists():  # killed after its last checkpoint
                return self._finish("done (summary written on --resume after an interruption)",
                                    time.monotonic(), 0.0, 0)
            raise LstmkitError(f"the run in '{self.out}' is finished (step {self.step}, epoch "
                               f"{self.epoch} of {config.epochs}); resume with more --epochs to "
                               "train on")
        if dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
            trim_metrics(self.metrics_path, self.step)
        self.emit({"event": "start", "task": task.name, "total_steps": self.total_steps,
                   "step": self.step, "device": str(self.device),
                   "precision": "bf16" if self.amp else "fp32",
                   "parameters": self.meta["parameters"], "processes": dist.world,
                   **task.describe()})
        started = time.monotonic()
        eval_seconds, trained_tokens, stop_reason = 0.0, 0, None
        window_tokens, window_start = 0, time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        loss_count = 0
        interrupt = {"stop": False}
        self.metrics = self.metrics_path.open("a", encoding="utf-8") if dist.main else None
        with _stop_on_interrupt(interrupt), (self.metrics or contextlib.nullcontext()):
            while self.epoch < config.epochs and stop_reason is None:
                plan = task.train.plan(self.epoch, dist.rank, dist.world)[:self.steps_per_epoch]
                while self.batch_index < len(plan):
                    batch = task.train.collate(plan[self.batch_index]).to(self.device)
                    lr = lr_at(self.step, self.total_steps, config)
                    loss, self.state = train_step(task.loss, self.net, self.optimizer, batch, lr,
                                                  config.clip, self.amp, self.state)
                    self.step += 1
                    self.batch_index += 1
                    window_tokens += batch.tokens
                    trained_tokens += batch.tokens
                    loss_sum += loss
                    loss_count += 1
                    logging_step = self.step % config.log_every == 0 or self.batch_index == len(plan)
                    if logging_step:
                        # The only host sync of the step loop; ranks agree on the mean and on stopping.
                        total, count, tokens, stop = dist.sum(
                            [float(loss_sum), loss_count, window_tokens, float(interrupt["stop"])],
                            self.device)
                        mean = total / count
                        if not math.isfinite(mean):
                            raise self._diverged(f"the training loss became {mean}")
                        now = time.perf_counter()
                        row = {"kind": "step", "step": self.step, "epoch": self.epoch + 1,
                               "loss": mean, **task.step_metrics(mean), "lr": lr,
                               "tokens_per_s": tokens / max(now - window_start, 1e-9)}
                        self._record(row)
                        self.emit({"event": "step", **row})
                        loss_sum.zero_()
                        loss_count, window_tokens, window_start = 0, 0, now
                        interrupt["stop"] = stop > 0
                    if config.save_every and self.step % config.save_every == 0:
                        self._save_last()
                    stop_reason = self._stop_reason(interrupt["stop"], logging_step, len(plan),
                                                    started)
                    if stop_reason:
                        break
                if stop_reason is None or stop_reason.startswith("spent"):
                    # The end of an epoch, or of the token budget: validate and keep the best.
                    finished_epoch = stop_reason is None
                    if finished_epoch:
                        self.epoch, self.batch_index = self.epoch + 1, 0
                    row = {"kind": "epoch" if finished_epoch else "budget",
                           "epoch": (self.epoch if finished_epoch
                                     else self.epoch + self.batch_index / len(plan)),
                           "step": self.step, "elapsed_s": time.monotonic() - started}
                    eval_started = time.monotonic()
                    text = self._validate(row)
                    eval_seconds += time.monotonic() - eval_started
                    self._record(row)
                    self.emit({"event": "epoch", **row, "text": text})
                    self._save_last()
                    self._plot(final=False)
                    if finished_epoch and self.budget_steps and self.step >= self.budget_steps:
                        stop_reason = f"spent max_tokens={config.max_tokens}"
                    elif config.patience and self.bad_epochs >= config.patience:
                        stop_reason = f"no better validation score for {self.bad_epochs} epochs"
            if stop_reason and self.batch_index and not stop_reason.startswith("spent"):
                self._save_last()  # stopped inside an epoch: keep the place
        return self._finish(stop_reason, started, eval_seconds, trained_tokens)

    def _record(self, row: dict) -> None:
        if self.metrics is not None:
            self.metrics.write(json.dumps(row) + "\n")
            self.metrics.flush()

    def _stop_reason(self, interrupted: bool, logging_step: bool, plan_length: int,
                     started: float) -> str | None:
        config, dist = self.config, self.dist
        # One process may stop at any step; several only where they have synced.
        synced = dist.world == 1 or logging_step
        if interrupted and synced:
            return "interrupted"
        if config.max_steps and self.step >= config.max_steps:
            return f"reached max_steps={config.max_steps}"
        if self.budget_steps and self.step >= self.budget_steps and self.batch_index < plan_length:
            return f"spent max_tokens={config.max_tokens}"
        if (config.max_minutes and synced
                and dist.sum([time.monotonic() - started], self.device)[0] / dist.world
                >= 60 * config.max_minutes):
            return f"reached max_minutes={config.max_minutes:g}"
        return None

    def _diverged(self, what: str) -> LstmkitError:
        saved = self.out / "last"
        kept = f"; '{saved}' keeps the last good checkpoint" if saved.is_dir() else ""
        return LstmkitError(f"{what} at step {self.step}: training diverged (lower --lr, or "
                            f"keep --clip on){kept}")

    def _save(self, name: str, meta: dict, trainer: tuple[dict, dict] | None = None) -> None:
        if not all(bool(torch.isfinite(p).all()) for p in self.model.parameters()):
            raise self._diverged("the weights hold NaN or infinite values")
        save_checkpoint(self.out / name, self.model, self.task.name, {**self.meta, **meta},
                        files=self.task.files(), trainer=trainer)

    def _save_last(self) -> None:
        carried = self.state if self.batch_index else None
        mine = {**rng_tensors(self.rng_key), **state_tensors(carried, self.state_key)}
        parts = self.dist.gather(mine)
        if not self.dist.main:
            return
        settings, tensors = optimizer_to_tensors(self.optimizer)
        saved = {"step": self.step, "epoch": self.epoch, "batch_index": self.batch_index,
                 "corpus_fingerprint": self.fingerprint,
                 "best_score": self.best if self.best < math.inf else None,
                 "best_metrics": self.best_metrics,
                 "bad_epochs": self.bad_epochs, "optimizer": settings}
        for part in parts:
            tensors.update(part)
        self._save("last", {"step": self.step}, trainer=(saved, tensors))

    def _validate(self, row: dict) -> str:
        """Score the validation data into ``row``; keep best/ when it improved. Returns the
        scores as a line for people ("" without validation data)."""
        task, dist = self.task, self.dist
        if task.val is None:
            if dist.main:
                self._save("best", {"step": self.step, "epoch": self.epoch})
            return ""
        part = task.evaluate(self.model, task.val, self.device, self.amp, (dist.rank, dist.world))
        keys = sorted(part)
        sums = dict(zip(keys, dist.sum([part[k] for k in keys], self.device)))
        metrics = task.metrics(sums)
        named = {f"val_{k}": v for k, v in metrics.items() if k != "score"}
        row.update(named)
        improved = metrics["score"] < self.best
        if improved:
            self.best, self.bad_epochs, self.best_metrics = metrics["score"], 0, named
            if dist.main:
                self._save("best", {"step": self.step, "epoch": row["epoch"], **named})
        else:
            self.bad_epochs += 1
        row["best"] = improved
        return task.format_metrics(metrics)

    def _plot(self, final: bool) -> None:
        """Draw curves.png after an epoch (at most every ``PLOT_EVERY_S``: a plot costs a few
        tenths of a second, as much as an epoch of a small task) and once at the end."""
        self.unplotted = self.unplotted or not final
        due = final or time.monotonic() - self.plotted >= PLOT_EVERY_S
        if self.dist.main and self.unplotted and due:
            plot_curves(self.metrics_path, self.out / "curves.png", *self.task.curve,
                        loss_label=self.task.loss_label)
            self.plotted, self.unplotted = time.monotonic(), False

    def _finish(self, stop_reason: str | None, started: float, eval_seconds: float,
                trained_tokens: int) -> dict:
        self._plot(final=True)
        elapsed = time.monotonic() - started
        tokens_all, peak = self.dist.sum([trained_tokens, peak_memory_mib(self.device)],
                                         self.device)
        summary = {"out": str(self.out), "task": self.task.name, "step": self.step,
                   "epoch": self.epoch, "stopped": stop_reason or "done", "rank": self.dist.rank,
                   "best_score": self.best if self.best < math.inf else None,
                   **{f"best_{k}": v for k, v in self.best_metrics.items()},
                   "elapsed_s": elapsed, "tokens": int(tokens_all),
                   "tokens_per_s": tokens_all / max(elapsed - eval_seconds, 1e-9),
                   "peak_memory_mib": peak / self.dist.world, "device": str(self.device)}
        if self.dist.main:
            write_json(self.out / "summary.json", summary)
        self.emit({"event": "end", **summary})
        return summary


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
