"""Where labelled sequences come from: ``--data`` (and ``--test``) to ``RawSequences``.

``read_sequences`` finds the format of ``--data``: ``digits``, an MNIST-style IDX folder or
images file, an ``.npz``, a ``.csv``/``.tsv``/``.txt`` table or a ``.ts`` file (readers in
``data.sequence_files`` and ``data.sequence_text``), and reads an optional separate test
file. ``read_unlabelled`` reads sequences to predict.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import LstmkitError
from .sequence_files import (
    DIGITS,
    RawSequences,
    idx_folder,
    is_idx,
    read_digits,
    read_idx_pair,
    read_npz,
)
from .sequence_text import TABLE_SUFFIXES, read_table, read_ts
from .sequences import SequencesConfig, split_sequences

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """Where labelled sequences come from: ``--data`` and its optional parts."""

    data: str  # "digits", or a path
    test: str | None = None  # a separate test file
    labels: str | None = None  # IDX: the labels of --data's images, if not named like them
    test_labels: str | None = None

    def describe(self) -> str:
        return self.data + (f" (test: {self.test})" if self.test else "")


def _path(name: str) -> Path:
    path = Path(name)
    if not path.exists():
        raise LstmkitError(f"'{name}' does not exist")
    return path


def read_sequences(source: Source, label_column: str = "label"
                   ) -> tuple[RawSequences, RawSequences | None]:
    """The labelled training sequences of ``source``, and its test sequences if it has any
    (a ``--test`` file, an npz's ``x_test``, an IDX folder's ``t10k`` files)."""
    if source.data == DIGITS:
        if source.test:
            raise LstmkitError("--test cannot be used with --data digits (its test part is "
                               "a fixed split)")
        return read_digits(), None
    path = _path(source.data)
    if path.suffix.lower() == ".npz":
        if source.test:
            raise LstmkitError(f"--test cannot be used with an npz: '{path}' holds its own "
                               "x_test and y_test")
        return read_npz(path)
    if path.is_dir():
        images, labels, test_images, test_labels = idx_folder(path)
        if source.test:
            raise LstmkitError(f"--test cannot be used with an IDX folder: '{path}' holds "
                               "its own t10k files")
        train = read_idx_pair(images, labels)
        return train, read_idx_pair(test_images, test_labels) if test_images else None
    train = read_labelled_file(path, label_column, source.labels)
    test = None
    if source.test:
        test = read_labelled_file(_path(source.test), label_column, source.test_labels)
    else:
        partner = _test_partner(path)
        if partner is not None:
            log.warning("no --test given: a stratified part of '%s' is held out for "
                        "testing; '%s' lies beside it (pass --test to use it)",
                        path.name, partner.name)
    return train, test


def _test_partner(path: Path) -> Path | None:
    """``X_TEST.ts`` beside ``X_TRAIN.ts`` (and the like), if it exists."""
    test_of = {"TRAIN": "TEST", "Train": "Test"}  # other spellings become "test"
    name = re.sub("train", lambda m: test_of.get(m.group(), "test"), path.name,
                  flags=re.IGNORECASE)
    partner = path.with_name(name)
    return partner if name != path.name and partner.is_file() else None


def read_labelled_file(path: Path, label_column: str = "label",
                       labels: str | None = None) -> RawSequences:
    """The labelled sequences of one file: a table, a ``.ts`` file or IDX images."""
    raw = read_file(path, label_column, labels, required=True)
    if raw.labels is None:
        raise LstmkitError(f"'{path}' holds no class labels (@classLabel false): it can be "
                           "predicted, not trained or evaluated on")
    return raw


def read_file(path: Path, label_column: str | None = "label", labels: str | None = None,
              required: bool = False) -> RawSequences:
    """The sequences of one file, with their labels where it has them (``required``: the
    labels must be there)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".ts"]:
        return read_ts(path)
    if suffixes and suffixes[-1] in TABLE_SUFFIXES:
        return read_table(path, label_column, required)
    if suffixes[-1:] == [".npz"]:
        return read_npz(path, labelled=False)[0]
    if path.is_file() and is_idx(path):
        return read_idx_pair(path, _path(labels) if labels else None, find_labels=required)
    if path.is_dir():
        raise LstmkitError(f"'{path}' is a folder; give a file (or an IDX folder as --data)")
    raise LstmkitError(f"cannot tell the format of '{path}' (use 'digits', an IDX folder or "
                       "file, .npz, .csv, .tsv, .txt or .ts)")


def read_unlabelled(name: str, label_column: str | None, config: SequencesConfig
                    ) -> RawSequences:
    """Sequences to predict: a file's (its labels kept if it has them); an npz's ``x`` /
    ``x_test`` / ``x_train``; an IDX folder's test images; ``digits``' held-out test part."""
    if name == DIGITS:
        held_out = split_sequences(read_digits(), None, config)[2]
        return held_out if held_out is not None else read_digits()
    path = _path(name)
    if path.is_dir():
        images, _, test_images, test_labels = idx_folder(path)
        return read_idx_pair(test_images or images, test_labels)
    return read_file(path, label_column)
