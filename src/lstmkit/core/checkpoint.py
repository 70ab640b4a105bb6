"""Model folders: ``config.json`` (the task, its settings and the model's), the weights in
``model.safetensors`` and any JSON files a task adds (a language model's ``vocab.json``).

A training checkpoint adds ``trainer.json`` (step, epoch, best score, optimizer settings)
and ``trainer.safetensors`` (optimizer moments, RNG states, a carried recurrent state),
enough for an exact resume. Nothing is pickled: tensors are safetensors, the rest is JSON.
A folder is written under a temporary name and renamed into place (``folders.atomic_dir``),
so a crash never leaves a half-written checkpoint behind.

``config.json`` names its ``task`` (``lm``, ``forecast``, ``classify``); version 1 folders,
written before there were other tasks, are language models.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError, LstmkitError
from .folders import atomic_dir
from .model_files import CONFIG, FORMAT, VERSION, WEIGHTS, read_config, read_json  # noqa: F401

TRAINER_JSON, TRAINER_TENSORS = "trainer.json", "trainer.safetensors"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def write_json(path: Path, value: object) -> None:
    """Write ``value`` as JSON through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _weights(model: torch.nn.Module, dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    """The state dict with each shared tensor stored once, under its first name (a tied
    head is the embedding matrix again)."""
    state, seen = {}, set()
    for name, value in model.state_dict().items():
        key = (value.data_ptr(), tuple(value.shape))
        if value.numel() and key in seen:
            continue
        seen.add(key)
        state[name] = (value.to(dtype) if dtype and value.is_floating_point() else value)
    return {k: v.contiguous().cpu() for k, v in state.items()}


def save_checkpoint(folder: str | Path, model: torch.nn.Module, task: str, meta: dict,
                    files: dict[str, object] | None = None, dtype: str | None = None,
                    trainer: tuple[dict, dict] | None = None) -> None:
    """Write a model folder atomically.

    ``model.config.to_dict()`` and ``meta`` go into config.json beside ``task``; ``files``
    are further JSON files by name; ``dtype`` (fp32, fp16, bf16) shrinks stored weights;
    ``trainer`` is ``(json_state, tensors)`` for resuming.
    """
    if dtype is not None and dtype not in DTYPES:
        raise LstmkitError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPES)})")
    meta = {k: v for k, v in meta.items() if k not in ("format", "version", "task", "model")}
    config = {"format": FORMAT, "version": VERSION, "task": task, **meta,
              "model": model.config.to_dict()}
    with atomic_dir(Path(folder)) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", "utf-8")
        for name, value in (files or {}).items():
            (tmp / name).write_text(json.dumps(value, ensure_ascii=False) + "\n", "utf-8")
        save_file(_weights(model, DTYPES[dtype] if dtype else None), str(tmp / WEIGHTS),
                  metadata={"format": FORMAT})
        if trainer is not None:
            state, tensors = trainer
            (tmp / TRAINER_JSON).write_text(json.dumps(state, indent=2) + "\n", "utf-8")
            save_file({k: v.contiguous().cpu() for k, v in tensors.items()},
                      str(tmp / TRAINER_TENSORS))
        # safetensors writes its files readable by their owner alone; give them the mode
        # the user's umask gave config.json, so a shared or served model folder reads alike.
        mode = (tmp / CONFIG).stat().st_mode & 0o777
        for name in (WEIGHTS, TRAINER_TENSORS):
            if (tmp / name).exists():
                os.chmod(tmp / name, mode)


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"'{path}' is corrupt or not safetensors: {exc}") from exc


def load_weights(model: torch.nn.Module, folder: Path) -> None:
    """Fill a freshly built ``model`` with the folder's weights, as fp32 where floating.

    A tensor stored once for several names (tied weights) fills all of them.
    """
    state = {k: v.float() if v.is_floating_point() else v
             for k, v in read_tensors(folder / WEIGHTS).items()}
    first: dict[tuple, str] = {}
    for name, value in model.state_dict().items():
        owner = first.setdefault((value.data_ptr(), tuple(value.shape)), name)
        if name not in state and owner in state and value.numel():
            state[name] = state[owner]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in lines[:3])
        raise CheckpointError(f"'{folder / WEIGHTS}' does not match its config: {detail}") from exc
    bad = [name for name, value in model.state_dict().items()
           if value.is_floating_point() and not torch.isfinite(value).all()]
    if bad:
        raise CheckpointError(f"'{folder / WEIGHTS}' holds NaN or infinite weights in {bad[0]}")


def load_trainer(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The resume state of a training checkpoint: ``(json_state, tensors)``."""
    folder = Path(folder)
    for name in (TRAINER_JSON, TRAINER_TENSORS):
        if not (folder / name).is_file():
            raise CheckpointError(f"checkpoint '{folder}' lacks {name}: it cannot be resumed")
    state = read_json(folder / TRAINER_JSON)
    if not isinstance(state, dict):
        raise CheckpointError(f"'{folder / TRAINER_JSON}' is not a trainer state")
    return state, read_tensors(folder / TRAINER_TENSORS)


def optimizer_to_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict, dict[str, torch.Tensor]]:
    """Split an optimizer's state into JSON-able settings and named tensors."""
    full = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, values in full["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{name}"] = value
            else:
                scalars[f"{pid}.{name}"] = value
    return {"param_groups": full["param_groups"], "scalars": scalars}, tensors


def optimizer_from_tensors(settings: dict, tensors: dict[str, torch.Tensor]) -> dict:
    """Rebuild an optimizer ``state_dict`` from ``optimizer_to_tensors`` output."""
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for key, value in settings.get("scalars", {}).items():
        pid, name = key.split(".", 1)
        state.setdefault(int(pid), {})[name] = value
    return {"state": state, "param_groups": settings["param_groups"]}


def rng_tensors(prefix: str = "rng") -> dict[str, torch.Tensor]:
    tensors = {f"{prefix}.cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"{prefix}.cuda.{i}"] = state
    return tensors


def restore_rng(tensors: dict[str, torch.Tensor], prefix: str = "rng") -> None:
    if f"{prefix}.cpu" not in tensors:  # resumed with more ranks than saved: keep the seed
        return
    torch.set_rng_state(tensors[f"{prefix}.cpu"])
    cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith(f"{prefix}.cuda."))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


def state_tensors(state, prefix: str) -> dict[str, torch.Tensor]:
    """A carried recurrent state (a tensor or a tuple of them) as named tensors, dtype kept."""
    if state is None:
        return {}
    parts = state if isinstance(state, tuple) else (state,)
    return {f"{prefix}.{i}": part.detach() for i, part in enumerate(parts)}


def restore_state(tensors: dict[str, torch.Tensor], prefix: str, device: torch.device):
    """The state ``state_tensors`` saved: one tensor, a tuple of several, or None."""
    keys = sorted((k for k in tensors if k.startswith(prefix + ".")),
                  key=lambda k: int(k.rsplit(".", 1)[1]))
    parts = [tensors[k].to(device) for k in keys]
    if not parts:
        return None
    return tuple(parts) if len(parts) > 1 else parts[0]
