"""Save and load a model folder: ``config.json``, ``vocab.json``, ``model.safetensors``.

A training checkpoint adds ``trainer.json`` (step, epoch, best score, optimizer
settings) and ``trainer.safetensors`` (optimizer moments and RNG states), enough for
an exact ``--resume``. Nothing is pickled: weights and tensors are safetensors, the
rest is JSON. A folder is written under a temporary name and renamed into place, so
a crash never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .data.vocab import Vocab
from .errors import CheckpointError, LstmkitError
from .model import LanguageModel, ModelConfig

FORMAT = "lstmkit-model"
VERSION = 1
CONFIG, VOCAB, WEIGHTS = "config.json", "vocab.json", "model.safetensors"
TRAINER_JSON, TRAINER_TENSORS = "trainer.json", "trainer.safetensors"
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Loaded:
    model: LanguageModel
    vocab: Vocab
    meta: dict  # everything in config.json: model, clean and train settings, metrics


@contextlib.contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        for file in tmp.iterdir():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        if target.exists():
            os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _weights(model: LanguageModel, dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    state = model.state_dict()
    if model.config.tie_weights:
        state.pop("head.weight")  # the same tensor as embedding.weight
    return {k: (v.to(dtype) if dtype and v.is_floating_point() else v).contiguous().cpu()
            for k, v in state.items()}


def save_model(folder: str | Path, model: LanguageModel, vocab: Vocab, meta: dict,
               dtype: str | None = None, trainer: tuple[dict, dict] | None = None) -> None:
    """Write a model folder atomically.

    ``meta`` goes into config.json beside the model settings; ``dtype`` (fp32, fp16,
    bf16) shrinks stored weights; ``trainer`` is ``(json_state, tensors)`` for resuming.
    """
    if dtype is not None and dtype not in DTYPES:
        raise LstmkitError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPES)})")
    config = {"format": FORMAT, "version": VERSION, **meta, "model": model.config.to_dict()}
    with atomic_dir(Path(folder)) as tmp:
        (tmp / CONFIG).write_text(json.dumps(config, ensure_ascii=False, indent=2), "utf-8")
        vocab.save(tmp / VOCAB)
        save_file(_weights(model, DTYPES[dtype] if dtype else None), str(tmp / WEIGHTS),
                  metadata={"format": FORMAT})
        if trainer is not None:
            state, tensors = trainer
            (tmp / TRAINER_JSON).write_text(json.dumps(state, indent=2), "utf-8")
            save_file({k: v.contiguous().cpu() for k, v in tensors.items()},
                      str(tmp / TRAINER_TENSORS))


def read_config(folder: str | Path) -> dict:
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"model folder '{folder}' does not exist")
    for name in (CONFIG, VOCAB, WEIGHTS):
        if not (folder / name).is_file():
            raise CheckpointError(f"model folder '{folder}' lacks {name}")
    try:
        config = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"'{folder / CONFIG}' is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"'{folder / CONFIG}' is not an lstmkit model config")
    if config.get("version") != VERSION:
        raise CheckpointError(
            f"'{folder}' is format version {config.get('version')}; this lstmkit reads {VERSION}")
    return config


def read_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"'{path}' is corrupt or not safetensors: {exc}") from exc


def load_model(folder: str | Path, device: str | torch.device = "cpu") -> Loaded:
    """Load a model folder onto ``device`` in fp32, checking that its parts agree."""
    folder = Path(folder)
    config = read_config(folder)
    vocab = Vocab.load(folder / VOCAB)
    try:
        model_config = ModelConfig.from_dict(config.get("model", {}))
    except (TypeError, LstmkitError) as exc:
        raise CheckpointError(f"'{folder / CONFIG}' has invalid model settings: {exc}") from exc
    if model_config.vocab_size != len(vocab):
        raise CheckpointError(
            f"'{folder}': config says {model_config.vocab_size} tokens, vocab.json has {len(vocab)}")
    model = LanguageModel(model_config)
    state = {k: v.float() if v.is_floating_point() else v
             for k, v in read_tensors(folder / WEIGHTS).items()}
    if model_config.tie_weights and "embedding.weight" in state:
        state["head.weight"] = state["embedding.weight"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        detail = " ".join(line.strip() for line in first[:3])
        raise CheckpointError(f"'{folder / WEIGHTS}' does not match its config: {detail}") from exc
    model.to(device).eval()
    return Loaded(model=model, vocab=vocab, meta=config)


def load_trainer(folder: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """The resume state of a training checkpoint: ``(json_state, tensors)``."""
    folder = Path(folder)
    for name in (TRAINER_JSON, TRAINER_TENSORS):
        if not (folder / name).is_file():
            raise CheckpointError(f"checkpoint '{folder}' lacks {name}: it cannot be resumed")
    try:
        state = json.loads((folder / TRAINER_JSON).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"'{folder / TRAINER_JSON}' is not valid JSON: {exc}") from exc
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
