"""The tasks lstmkit trains, one module each: ``lm`` (language models: poems, any text),
``forecast`` (time series) and ``classify`` (sequence classification).

A task module has ``NAME`` (what config.json calls it), ``DESCRIPTION`` (what its model is,
for messages) and ``load(folder, config, device)``; ``load_model`` finds the module from
the folder's config.json, so a new task needs no registration beyond its own file.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType

from ..core.checkpoint import read_config
from ..errors import CheckpointError, LstmkitError


class WrongTaskError(LstmkitError):
    """A model folder holds another task's model than the one asked for."""

    def __init__(self, folder: Path, found: str, wanted: str):
        self.folder, self.found, self.wanted = folder, found, wanted
        super().__init__(f"{folder} is {describe(found)}; this needs {describe(wanted)}")


def task_module(name: str) -> ModuleType:
    """The module of task ``name`` (``lm``, ``forecast``, ``classify``)."""
    if not re.fullmatch(r"[a-z_]+", name or ""):
        raise CheckpointError(f"unknown task '{name}'")
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        raise CheckpointError(f"unknown task '{name}' (this lstmkit has no such task)") from exc


def describe(name: str) -> str:
    """What a task's models are called, e.g. "a forecasting model"."""
    try:
        return task_module(name).DESCRIPTION
    except CheckpointError:
        return f"a '{name}' model"


def load_model(folder: str | Path, device="cpu", task: str | None = None):
    """Load the model in ``folder`` onto ``device``, whatever its task (or only ``task``'s:
    a folder of another task raises ``WrongTaskError``). Returns the task's loaded type."""
    folder = Path(folder)
    config = read_config(folder)
    if task is not None and config["task"] != task:
        raise WrongTaskError(folder, config["task"], task)
    return task_module(config["task"]).load(folder, config, device)
