"""Reading a model folder without torch: its checked ``config.json``, its other JSON files
and its weights as NumPy arrays (for writing without torch, ``sample_numpy``).
``core.checkpoint`` writes the folders and reads weights into torch modules.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import CheckpointError

FORMAT = "lstmkit-model"
VERSION = 2
READABLE = (1, 2)
CONFIG, WEIGHTS = "config.json", "model.safetensors"


def read_config(folder: str | Path, needs: tuple[str, ...] = ()) -> dict:
    """The checked ``config.json`` of a model folder that also holds its weights and the
    files in ``needs``; ``task`` is always set."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"model folder '{folder}' does not exist")
    for name in (CONFIG, *needs, WEIGHTS):
        if not (folder / name).is_file():
            raise CheckpointError(f"model folder '{folder}' lacks {name}")
    config = read_json(folder / CONFIG)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"'{folder / CONFIG}' is not an lstmkit model config")
    if config.get("version") not in READABLE:
        raise CheckpointError(f"'{folder}' is format version {config.get('version')}; this "
                              f"lstmkit reads {' and '.join(map(str, READABLE))}")
    if config["version"] == 1:
        config["task"] = "lm"
    if not isinstance(config.get("task"), str) or not isinstance(config.get("model"), dict):
        raise CheckpointError(f"'{folder / CONFIG}' names no task or model settings")
    return config


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CheckpointError(f"cannot read '{path}': {exc.strerror}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"'{path}' is not valid JSON: {exc}") from exc


def read_arrays(path: Path) -> dict:
    """The tensors of a safetensors file as NumPy arrays (``numpy.ndarray`` by name)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"'{path}' is corrupt or not safetensors: {exc}") from exc
