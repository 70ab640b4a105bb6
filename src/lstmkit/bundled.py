"""The pre-trained models shipped inside the package, and loading a model by name or folder.

``tang`` (Tang poems) is the default for every command; ``songci`` (Song ci) writes ci.
A front-end passes what the user typed, a bundled name or a folder, to ``load_for_writing``
(and, for a backward model that helps choose candidates, to ``load_backward``).
"""

from __future__ import annotations

from pathlib import Path

from .errors import LstmkitError

BUNDLED = ("tang", "songci")
MODELS = Path(__file__).parent / "models"
# A model loaded to write at most this many rows at once (poems times candidates), with
# precision auto on a CPU, writes in NumPy without torch: importing torch costs more than
# NumPy's slower steps for so few rows (BENCHMARKS.md, "Writing speed").
QUICK_ROWS = 128


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
                     precision: str = "auto", default: str = "tang", rows: int | None = None):
    """A language model (``tasks.lm.Loaded``) ready to write with: on ``device``, its
    weights in the precision ``precision`` picks (``sample.writing_precision``; auto: int8
    matmuls for an LSTM on a CPU, bf16 on CUDA).
    Another task's model is refused with ``WrongTaskError``.

    ``rows``, for a model loaded to write once: how many rows it writes at once. Up to
    ``QUICK_ROWS`` of them, with ``auto`` on a CPU, an LSTM is read without torch
    (``sample_numpy.NumpyLoaded``, fp32), as importing torch takes longer than the poems."""
    folder = model_folder(model, default)
    if rows is not None and rows <= QUICK_ROWS and precision == "auto" and device == "cpu":
        from .sample_numpy import load_numpy, numpy_readable

        if numpy_readable(folder):
            return load_numpy(folder)
    from .core.device import resolve_device
    from .sample import prepare_for_writing
    from .tasks.lm import load_model

    loaded = load_model(folder, resolve_device(device))
    prepare_for_writing(loaded.model, precision)
    return loaded


def load_vocab(model: str | Path | None = None, default: str = "tang"):
    """A model's vocabulary (``data.vocab.Vocab``), read without its weights or torch."""
    from .data.vocab import VOCAB_FILE, Vocab

    folder = model_folder(model, default)
    if not (folder / VOCAB_FILE).is_file():
        raise LstmkitError(f"'{folder}' is not a model folder (it has no vocab.json)")
    return Vocab.load(folder / VOCAB_FILE)


def load_backward(backward: str | Path | None, device: str = "cpu"):
    """The right-to-left model (``poetry.rank.BackwardScorer``) in the folder ``backward``,
    or None for None or ``none``."""
    from .poetry.rank import BackwardScorer

    if backward is None or str(backward) == "none":
        return None
    # Scoring reads whole poems through nn.LSTM, where fp32 is faster than bf16 on a CPU.
    precision = "fp32" if device == "cpu" else "auto"
    return BackwardScorer(load_for_writing(backward, device, precision), str(backward))
