"""What the training loop asks of a task: the contract a new task implements.

A task owns its data, model, loss and metrics; the loop (``core.loop.fit``) owns
everything else. To add one, write a module in ``lstmkit/tasks/`` with a class that has
the attributes and methods of ``Task`` below, a ``train(...)`` function that calls
``fit(build, out, config)`` with a ``build(context) -> Task``, and a ``load(folder, config,
device)`` that rebuilds a trained model from its folder (``lstmkit.tasks.load_model``
finds the module by the ``task`` name in config.json).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch


class Batch(Protocol):
    tokens: int  # time steps the batch trains on (real, not padding): speed and token budgets
    carry: bool  # the rows continue the previous batch's rows: the loop carries the state

    def to(self, device: torch.device) -> Batch: ...


class Batches(Protocol):
    """One split of a task's data, cut into batches the same way on every run."""

    @property
    def tokens(self) -> int: ...  # time steps in one epoch, all processes together

    def steps(self, world: int = 1) -> int: ...  # batches per epoch for each of world processes

    def plan(self, epoch: int = 0, rank: int = 0, world: int = 1) -> list: ...  # batch keys

    def collate(self, key: Any) -> Batch: ...

    def fingerprint(self) -> str: ...  # a short hash, to notice changed data on resume


class Task(Protocol):
    name: str  # written to config.json as "task": the module in lstmkit/tasks/ that loads it
    model: torch.nn.Module  # with .config.to_dict(); built, or loaded on resume, by the task
    train: Batches
    val: Batches | None
    curve: tuple[str, str]  # the validation metric drawn per epoch, and its axis label
    loss_label: str  # what the training loss is, for the plot's axis

    def loss(self, net: torch.nn.Module, batch: Batch, amp: torch.dtype | None,
             state: Any = None) -> tuple[torch.Tensor, Any]:
        """The batch's mean loss (a 0-d tensor, graph attached) and the recurrent state after
        it (``state`` is the previous batch's when ``batch.carry``; return None if unused)."""
        ...

    def evaluate(self, model: torch.nn.Module, batches: Batches, device: torch.device,
                 amp: torch.dtype | None, shard: tuple[int, int]) -> dict[str, float]:
        """Sums over process ``shard[0]`` of ``shard[1]``'s part of ``batches``; the loop
        adds the ranks' sums up and hands them to ``metrics``."""
        ...

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        """Validation metrics from summed ``evaluate`` results: ``score`` (lower is better;
        best/ and early stopping follow it), ``loss`` and any others, by short name."""
        ...

    def format_metrics(self, metrics: dict[str, float]) -> str:
        """One line for people, e.g. ``validation perplexity 86.93, 6.563 bits/char``."""
        ...

    def step_metrics(self, loss: float) -> dict[str, float]:
        """Numbers logged beside the mean training loss of a window of steps."""
        ...

    def meta(self) -> dict:
        """What made the run (settings, data, fingerprint-worthy facts) for config.json."""
        ...

    def files(self) -> dict[str, object]:
        """Further JSON files of the model folder by name (a vocabulary, label names)."""
        ...

    def describe(self) -> dict:
        """For the start event: ``report`` and ``data`` lines, and any numbers worth showing."""
        ...


@dataclass(frozen=True)
class RunContext:
    """What a task's ``build`` gets from the loop."""

    device: torch.device
    rank: int
    world: int  # processes sharing the training batches
    seed: int
    resume: Path | None  # the last/ checkpoint a resumed run continues from
