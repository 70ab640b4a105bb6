"""The pre-trained models shipped inside the package, and loading a model by name or folder.

``tang`` (Tang poems) is the default for every command; ``songci`` (Song ci) writes ci;
``tang-r2l`` reads Tang poems right to left and helps choose among ``tang``'s candidates.
A front-end passes what the user typed, a bundled name or a folder, to ``load_for_writing``
(and ``load_backward``).
"""

from __future__ import annotations

from pathlib import Path

from .errors import LstmkitError

BUNDLED = ("tang", "songci", "tang-r2l")
BACKWARD = {"tang": "tang-r2l"}  # a bundled writing model -> the backward model of its corpus
MODELS = Path(__file__).parent / "models"


def bundled_model_dir(name: str = "tang") -> Path:
    """The folder of a bundled model."""
    if name not in BUNDLED:
        raise LstmkitError(f"no bundled model '{name}' (choose from {', '.join(BUNDLED)})")
    return MODELS / name


def model_folder(model: str | Path | None, default: str = "tang") -> Path:
    """The folder that ``model`` names: an existing folder, else a bundled model's name;
    None is the bundled ``default``."""
    if model is None or str(model) == "":
        return bundled_model_dir(default)
    path = Path(model)
    if not path.exists() and str(model) in BUNDLED:
        return bundled_model_dir(str(model))
    return path


def load_for_writing(model: str | Path | None = None, device: str = "cpu",
                     precision: str = "auto", default: str = "tang"):
    """A language model (``tasks.lm.Loaded``) ready to write with: on ``device``, its
    weights in the dtype ``precision`` picks (auto: bf16 where the hardware is fast at it).
    Another task's model is refused with ``WrongTaskError``."""
    from .core.device import resolve_device
    from .sample import writing_dtype
    from .tasks.lm import load_model

    loaded = load_model(model_folder(model, default), resolve_device(device))
    loaded.model.to(writing_dtype(precision, next(loaded.model.parameters()).device))
    return loaded


def load_backward(backward: str | Path | None, model: str | Path | None, device: str = "cpu",
                  precision: str = "auto", default: str = "tang"):
    """The right-to-left model (``poetry.rank.BackwardScorer``) that ranks the candidates
    of ``model``: ``backward`` names a folder or bundled model, ``none`` for none; None
    takes the bundled partner of a bundled ``model`` (None for other models)."""
    from .poetry.rank import BackwardScorer

    if backward is not None and str(backward) == "none":
        return None
    if backward is None:
        name = default if model is None or str(model) == "" else str(model)
        if name not in BACKWARD or Path(name).exists() or not (MODELS / BACKWARD[name]).is_dir():
            return None
        backward = BACKWARD[name]
    if device == "cpu":  # scoring reads whole poems through nn.LSTM: fp32 is faster there
        precision = "fp32"
    return BackwardScorer(load_for_writing(backward, device, precision), str(backward))
