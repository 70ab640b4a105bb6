"""Readers of labelled sequences in text: tables (CSV / TSV / TXT) and ``.ts`` files.

- ``.csv`` / ``.tsv`` / ``.txt``: one univariate sequence per row and a label column (the
  UCR archive's layout: no header, the label first); shorter rows are shorter sequences;
- ``.ts`` (sktime / UEA archive): univariate or multivariate, equal or variable length.

Both give ``RawSequences`` (see ``data.sequence_files``); every problem is a one-line
``LstmkitError`` naming the row or line.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ..errors import LstmkitError
from .sequence_files import (
    RawSequences,
    check_labels,
    clean_labels,
    from_padded,
    from_rows,
)

TABLE_SUFFIXES = (".csv", ".tsv", ".txt")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path: Path, label_column: str | None = "label", required: bool = True
               ) -> RawSequences:
    """One sequence per row of a CSV / TSV / whitespace-separated file, and a label column.

    The label column is the one named ``label_column`` in a header row, or the 0-based
    index ``label_column`` (-1: the last of the first row); ``None``: no label column.
    When ``required``, a file without a header and without that name has its label first
    (the UCR archive's layout); else such a file, or a header without the name, is all
    values. Empty or NaN cells at a row's end shorten its sequence.
    """
    import pandas as pd

    try:
        with open(path, encoding="utf-8-sig") as handle:
            first = handle.readline().rstrip("\r\n")
            sep = _delimiter(first)
            widths = [len(_split(line, sep)) for line in handle if line.strip()]
    except OSError as exc:
        raise LstmkitError(f"cannot read '{path}': {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise LstmkitError(f"'{path}' is not UTF-8 text: {exc.reason}") from exc
    if not first.strip():
        raise LstmkitError(f"'{path}' is empty" if not widths else
                           f"'{path}' starts with an empty line")
    head = [cell.strip().strip('"') for cell in _split(first, sep)]
    column, header = _layout(path, head, label_column, required)
    width = max([len(head), *widths])
    try:
        table = pd.read_csv(path, sep=sep if sep != " " else r"\s+", header=None,
                            names=list(range(width)), skiprows=int(header),
                            dtype=None if column is None else {column: str},
                            skip_blank_lines=True, encoding="utf-8-sig", engine="c")
    except (pd.errors.ParserError, ValueError) as exc:
        raise LstmkitError(f"cannot read '{path}': {exc}") from exc
    if table.empty:
        raise LstmkitError(f"'{path}' holds no sequences")
    value_columns = [c for c in range(width) if c != column]
    cells = table[value_columns]
    values = cells.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = cells.notna().to_numpy() & np.isnan(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise LstmkitError(f"'{path}' row {int(row) + 1 + int(header)}: "
                           f"'{cells.iat[row, col]}' in column {value_columns[col] + 1} is "
                           "not a number")
    labels = None
    if column is not None:
        missing = table[column].isna().to_numpy()
        if missing.any():
            row = int(np.argmax(missing)) + 1 + int(header)
            raise LstmkitError(f"'{path}' row {row}: the label is missing")
        labels = clean_labels(table[column].tolist(), str(path))
    raw = from_padded(values, labels, str(path), what="row", first=1 + int(header))
    if column is not None:
        raw.label_column = head[column] if header and head[column] == label_column else str(column)
    return raw


def _delimiter(line: str) -> str:
    return "\t" if "\t" in line else "," if "," in line else " "


def _split(line: str, sep: str) -> list[str]:
    return line.split() if sep == " " else line.rstrip("\r\n").split(sep)


def _layout(path: Path, head: list[str], label_column: str | None, required: bool
            ) -> tuple[int | None, bool]:
    """The label column's index (None: none) and whether the first row is a header."""
    numeric = [_is_number(cell) or cell == "" for cell in head]
    if label_column is None:
        return None, not all(numeric)
    if label_column in head:
        return head.index(label_column), True
    try:
        index = int(label_column)
    except ValueError:
        index = None
    if index is not None:
        if not -len(head) <= index < len(head):
            raise LstmkitError(f"'{path}': label column {index} is out of range (the first "
                               f"row has {len(head)} columns)")
        index %= len(head)
        return index, not all(n for i, n in enumerate(numeric) if i != index)
    if any(not n for n in numeric[1:]):  # a header without the label column
        if not required:
            return None, True
        raise LstmkitError(f"'{path}' has no column '{label_column}' (its header: "
                           f"{', '.join(head[:8])}{', ...' if len(head) > 8 else ''}); name "
                           "the label column with --label-column")
    if not required and numeric[0]:
        return None, False  # only numbers: values to predict
    return 0, False  # the UCR layout, the label first


# --- .ts (sktime / UEA) -------------------------------------------------------------------

def read_ts(path: Path) -> RawSequences:
    """A ``.ts`` file: ``@`` header lines, then one case per line, its dimensions split by
    ``:`` and their values by ``,`` (``?`` missing), the class label last if
    ``@classLabel true`` (else the labels are None)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LstmkitError(f"cannot read '{path}': {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise LstmkitError(f"'{path}' is not UTF-8 text: {exc.reason}") from exc
    header: dict[str, list[str]] = {}
    rows, labels, dimensions, in_data = [], [], None, False
    for number, line in enumerate(io.StringIO(text), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise LstmkitError(f"'{path}' line {number}: expected an @ header line or "
                                   "@data before the data")
            key, *rest = line[1:].split()
            header[key.lower()] = rest
            in_data = key.lower() == "data"
            if in_data:
                has_labels = _ts_header(path, header)
            continue
        fields = line.split(":")
        label = fields.pop().strip() if has_labels else None
        if dimensions is None:
            dimensions = len(fields)
            declared = header.get("dimensions")
            if declared and declared[0].isdigit() and int(declared[0]) != dimensions:
                raise LstmkitError(f"'{path}' line {number}: {dimensions} dimensions, but "
                                   f"@dimensions says {declared[0]}")
        if len(fields) != dimensions:
            raise LstmkitError(f"'{path}' line {number}: {len(fields)} dimensions, earlier "
                               f"lines have {dimensions}")
        rows.append(_ts_case(path, number, fields))
        labels.append(label)
    if not in_data:
        raise LstmkitError(f"'{path}' has no @data line: not a .ts file")
    raw = from_rows(rows, None, str(path))
    if has_labels:
        declared = header.get("classlabel", [])[1:]
        unknown = sorted({str(label) for label in labels} - set(declared))
        if declared and unknown:
            raise LstmkitError(f"'{path}': label '{unknown[0]}' is not among @classLabel "
                               f"{' '.join(declared)}")
        raw = check_labels(raw, labels)
    return raw


def _ts_header(path: Path, header: dict[str, list[str]]) -> bool:
    """Check the header; whether the cases end with a class label."""
    if header.get("timestamps", ["false"])[0].lower() == "true":
        raise LstmkitError(f"'{path}': time-stamped .ts files are not supported (@timeStamps "
                           "true); give the values without their time stamps")
    if header.get("targetlabel", ["false"])[0].lower() == "true":
        raise LstmkitError(f"'{path}' is a regression problem (@targetLabel), not "
                           "classification")
    return header.get("classlabel", ["false"])[0].lower() == "true"


def _ts_case(path: Path, number: int, fields: list[str]) -> np.ndarray:
    """One case's dimensions as (T, C); a dimension's trailing ``?`` are padding."""
    series = []
    for d, field in enumerate(fields):
        cells = [cell.strip() for cell in field.split(",")]
        while cells and cells[-1] in ("?", "", "NaN", "nan"):
            cells.pop()
        try:
            values = [float("nan") if cell == "?" else float(cell) for cell in cells]
        except ValueError:
            bad = next(c for c in cells if c != "?" and not _is_number(c))
            raise LstmkitError(f"'{path}' line {number}: '{bad}' in dimension {d + 1} is not "
                               "a number") from None
        if not values:
            raise LstmkitError(f"'{path}' line {number}: dimension {d + 1} holds no values")
        if any(math.isnan(v) or math.isinf(v) for v in values):
            raise LstmkitError(f"'{path}' line {number}: dimension {d + 1} has a missing or "
                               "infinite value inside the sequence (fill or drop it)")
        series.append(values)
    lengths = {len(s) for s in series}
    if len(lengths) > 1:
        raise LstmkitError(f"'{path}' line {number}: its dimensions have different lengths "
                           f"({', '.join(map(str, sorted(lengths)))})")
    return np.array(series, dtype=np.float64).T
