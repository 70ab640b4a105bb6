"""Labelled sequences as read (``RawSequences``), and the readers of array formats:

- ``digits``: scikit-learn's bundled 8x8 digit images, each row of 8 pixels one time step;
- IDX files (MNIST, Fashion-MNIST; gzipped or not): images (N, rows, cols) read row by row,
  or (N, T) series, with a labels file of N entries;
- ``.npz``: ``x_train y_train [x_test y_test]``, x shaped (N, T) or (N, T, C), lengths as
  trailing NaN or ``lengths_train``/``lengths_test``; no pickles.

The text formats (CSV/TSV/TXT tables, ``.ts``) are read in ``data.sequence_text``. A reader
never truncates: a sequence ends at its last value, and shorter ones are padded with NaN up
to the longest. Every problem with a file is a one-line ``LstmkitError``.
"""

from __future__ import annotations

import gzip
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LstmkitError

DIGITS = "digits"
# IDX element types: the third byte of the magic number -> big-endian numpy dtype.
IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
IDX_NAMES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@dataclass
class RawSequences:
    """Sequences as read, before any preparation."""

    values: np.ndarray  # (N, T, C) float32, NaN after each sequence's length
    lengths: np.ndarray  # (N,) int64 real steps of each sequence, all >= 1
    labels: list | None  # N labels (all int or all str), or None for unlabelled data
    source: str  # where they came from, for messages: a path or "digits"
    label_column: str | None = None  # tables: the header name or index the labels came from

    def __len__(self) -> int:
        return len(self.values)

    def subset(self, index: np.ndarray) -> RawSequences:
        labels = None if self.labels is None else [self.labels[i] for i in index]
        return RawSequences(self.values[index], self.lengths[index], labels, self.source,
                            self.label_column)


def clean_labels(labels, source: str) -> list:
    """Labels as Python ints when every one is an integer (``3``, ``"3"``, ``3.0``,
    ``"1.0000000e+00"``), else as stripped strings."""
    texts = [str(label).strip() for label in labels]
    numbers = []
    for text in texts:
        try:
            number = float(text)
        except ValueError:
            break
        if not math.isfinite(number) or number != int(number):
            break
        numbers.append(int(number))
    else:
        return numbers
    if any(not text for text in texts):
        raise LstmkitError(f"'{source}': label {texts.index('') + 1} is empty")
    return texts


def from_rows(rows: list[np.ndarray], labels: list | None, source: str) -> RawSequences:
    """Pack sequences of different lengths, each (T_i, C), into ``RawSequences``."""
    if not rows:
        raise LstmkitError(f"'{source}' holds no sequences")
    lengths = np.array([len(row) for row in rows], dtype=np.int64)
    channels = rows[0].shape[1]
    values = np.full((len(rows), int(lengths.max()), channels), np.nan, dtype=np.float32)
    for i, row in enumerate(rows):
        values[i, :len(row)] = row
    return RawSequences(values, lengths, labels, source)


def from_padded(values: np.ndarray, labels: list | None, source: str,
                lengths: np.ndarray | None = None, what: str = "sequence",
                first: int = 1) -> RawSequences:
    """Check NaN-padded ``values`` (N, T) or (N, T, C) and find each sequence's length: its
    last step with a number, or ``lengths`` when given (the steps after it are ignored).
    Messages call sequence i ``what`` i + ``first``."""
    if values.ndim == 2:
        values = values[:, :, None]
    if values.ndim != 3:
        raise LstmkitError(f"'{source}': sequences must be shaped N x T or N x T x C "
                           f"(got {values.ndim} dimensions)")
    if values.shape[0] == 0 or values.shape[1] == 0 or values.shape[2] == 0:
        raise LstmkitError(f"'{source}' holds no sequences (shape {values.shape})")
    values = values.astype(np.float32)
    if np.isinf(values).any():
        n = int(np.argwhere(np.isinf(values))[0][0])
        raise LstmkitError(f"'{source}': {what} {n + first} holds an infinite value")
    steps = values.shape[1]
    if lengths is None:
        present = ~np.isnan(values).all(axis=2)  # (N, T) steps with any number
        lengths = np.where(present.any(axis=1), steps - np.argmax(present[:, ::-1], axis=1), 0)
    else:
        lengths = np.asarray(lengths)
        if lengths.shape != (len(values),) or not np.issubdtype(lengths.dtype, np.integer):
            raise LstmkitError(f"'{source}': lengths must be {len(values)} integers, one per "
                               f"{what} (got shape {lengths.shape}, dtype {lengths.dtype})")
        if lengths.min() < 1 or lengths.max() > steps:
            raise LstmkitError(f"'{source}': lengths must be between 1 and {steps} "
                               f"(got {lengths.min()} to {lengths.max()})")
        values = values.copy()
        values[np.arange(steps)[None, :] >= lengths[:, None]] = np.nan
    lengths = lengths.astype(np.int64)
    if (lengths == 0).any():
        raise LstmkitError(f"'{source}': {what} {int(np.argmin(lengths)) + first} holds no "
                           "values")
    inside = np.isnan(values) & (np.arange(steps)[None, :, None] < lengths[:, None, None])
    if inside.any():
        n, t, _ = np.argwhere(inside)[0]
        raise LstmkitError(f"'{source}': {what} {n + first} misses a value at step {t + 1} of "
                           f"{lengths[n]} (only trailing values may be missing: fill or drop it)")
    return RawSequences(values, lengths, labels, source)


def check_labels(raw: RawSequences, labels, what: str = "sequences") -> RawSequences:
    """``raw`` with ``labels``, after checking there is one per sequence."""
    labels = list(labels)
    if len(labels) != len(raw):
        raise LstmkitError(f"'{raw.source}': {len(labels)} labels for {len(raw)} {what}")
    raw.labels = clean_labels(labels, raw.source)
    return raw


# --- digits -------------------------------------------------------------------------------

def read_digits() -> RawSequences:
    """scikit-learn's 1797 8x8 digit images (pixels 0-16), each row one time step of 8."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return RawSequences(digits.images.astype(np.float32), np.full(len(digits.images), 8),
                        [int(t) for t in digits.target], DIGITS)


# --- IDX ----------------------------------------------------------------------------------

def _open_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LstmkitError(f"cannot read '{path}': {exc.strerror}") from exc
    if data[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise LstmkitError(f"'{path}' is not a readable gzip file: {exc}") from exc
    return data


def is_idx(path: Path) -> bool:
    """Whether ``path`` looks like an IDX file (by name, or by its magic number)."""
    if "idx" in path.name.lower():
        return True
    try:
        head = _open_bytes(path)[:4]
    except LstmkitError:
        return False
    return len(head) == 4 and head[:2] == b"\0\0" and head[2] in IDX_TYPES and 1 <= head[3] <= 4


def read_idx(path: Path) -> np.ndarray:
    """The array an IDX file holds (magic ``0 0 type ndim``, ndim big-endian sizes, data)."""
    data = _open_bytes(path)
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in IDX_TYPES or not 1 <= data[3] <= 4:
        raise LstmkitError(f"'{path}' is not an IDX file (bad magic number {data[:4].hex()})")
    header = 4 + 4 * data[3]
    if len(data) < header:
        raise LstmkitError(f"'{path}': IDX header cut short")
    shape = tuple(int(s) for s in np.frombuffer(data[4:header], dtype=">u4"))
    dtype = np.dtype(IDX_TYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise LstmkitError(f"'{path}': IDX header says {' x '.join(map(str, shape))} values "
                           f"({expected} bytes) but the file holds {len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _idx_file(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"),
                 stem.replace("-idx", ".idx") + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def idx_labels_beside(images: Path) -> Path:
    """The labels file named like ``images`` (``...-images-idx3-ubyte`` -> ``-labels-idx1-``)."""
    name = images.name.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1")
    if name == images.name or not (images.parent / name).is_file():
        raise LstmkitError(f"no labels file beside IDX images '{images}' (looked for "
                           f"'{name}'); name it with --labels / --test-labels")
    return images.parent / name


def read_idx_pair(images: Path, labels: Path | None, find_labels: bool = False
                  ) -> RawSequences:
    """IDX images (N, rows, cols) read row by row, or series (N, T), with their labels
    (``find_labels``: without ``labels``, those named like the images)."""
    values = read_idx(images)
    if values.ndim not in (2, 3):
        raise LstmkitError(f"'{images}': IDX sequences must have 2 or 3 dimensions "
                           f"(N x T or N x rows x cols), not {values.ndim}")
    raw = from_padded(values, None, str(images))
    if labels is None and find_labels:
        labels = idx_labels_beside(images)
    if labels is None:
        return raw
    tags = read_idx(labels)
    if tags.ndim != 1:
        raise LstmkitError(f"'{labels}': an IDX labels file has 1 dimension, not {tags.ndim}")
    if len(tags) != len(raw):
        raise LstmkitError(f"'{labels}' holds {len(tags)} labels for the {len(raw)} "
                           f"sequences of '{images}'")
    return check_labels(raw, tags.tolist())


def idx_folder(folder: Path) -> tuple[Path, Path, Path | None, Path | None]:
    """The train images and labels, and test images and labels if present, of an MNIST-style
    folder (``train-images-idx3-ubyte[.gz]`` ..., ``t10k-...``)."""
    train = [_idx_file(folder, stem) for stem in IDX_NAMES["train"]]
    test = [_idx_file(folder, stem) for stem in IDX_NAMES["test"]]
    if None in train:
        raise LstmkitError(f"folder '{folder}' holds no {IDX_NAMES['train'][0]}[.gz] and "
                           f"{IDX_NAMES['train'][1]}[.gz] (MNIST-style IDX files)")
    if None in test:
        test = [None, None]
    return train[0], train[1], test[0], test[1]


# --- npz ----------------------------------------------------------------------------------

def read_npz(path: Path, labelled: bool = True) -> tuple[RawSequences, RawSequences | None]:
    """``x_train y_train`` and, if present, ``x_test y_test`` (unlabelled: ``x`` or
    ``x_test``, or ``x_train``); ``lengths_*`` arrays optional. Never unpickles."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        detail = ("it stores Python objects; save labels as numbers or fixed-width strings "
                  "(numpy 'U' dtype)" if "allow_pickle" in str(exc) else str(exc))
        raise LstmkitError(f"cannot read npz '{path}': {detail}") from exc
    if not labelled:
        name = next((n for n in ("x", "x_test", "x_train") if n in arrays), None)
        if name is None:
            raise LstmkitError(f"npz '{path}' holds no array x, x_test or x_train "
                               f"(it has: {', '.join(sorted(arrays)) or 'nothing'})")
        suffix = name.partition("_")[2]
        lengths = arrays.get(f"lengths_{suffix}" if suffix else "lengths")
        return _npz_part(path, arrays[name], None, lengths, name), None
    missing = [n for n in ("x_train", "y_train") if n not in arrays]
    if ("x_test" in arrays) != ("y_test" in arrays):
        missing.append("y_test" if "x_test" in arrays else "x_test")
    if missing:
        raise LstmkitError(f"npz '{path}' lacks {', '.join(missing)} (it has: "
                           f"{', '.join(sorted(arrays)) or 'nothing'}); it needs x_train "
                           "y_train and optionally x_test y_test")
    parts = [_npz_part(path, arrays[f"x_{s}"], arrays[f"y_{s}"], arrays.get(f"lengths_{s}"),
                       f"x_{s}") for s in ("train", "test") if f"x_{s}" in arrays]
    return parts[0], (parts[1] if len(parts) > 1 else None)


def _npz_part(path: Path, x: np.ndarray, y: np.ndarray | None, lengths: np.ndarray | None,
              name: str) -> RawSequences:
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise LstmkitError(f"npz '{path}': {name} must hold real numbers (got dtype {x.dtype})")
    raw = from_padded(x, None, f"{path}:{name}", lengths)
    if y is None:
        return raw
    if y.ndim != 1:
        raise LstmkitError(f"npz '{path}': y_{name[2:]} must be one label per sequence "
                           f"(got shape {y.shape})")
    return check_labels(raw, y.tolist())
