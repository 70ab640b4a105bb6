"""The folder a training run writes: claimed and locked for the run, recovered after a
crash, and its metrics kept in step with its checkpoint.

A new run starts only in a missing or empty folder; one that holds anything (a finished
run, a run killed before its first checkpoint, the user's files) is refused unless
``force``, which clears it first. ``--resume`` needs the folder's ``last/`` (after
``recover_dir`` has finished any swap a crash interrupted) and drops the metric rows logged
after that checkpoint, so a resumed run never logs a step twice.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import CheckpointError, LstmkitError
from .folders import LOCK, claim_output, exclusive, recover_dir, remove

RUN_MARKS = ("metrics.jsonl", "summary.json", "last", "best")


def _main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


@contextlib.contextmanager
def run_folder(out: Path, resume: bool, force: bool = False) -> Iterator[None]:
    """Hold ``out`` for a run (see the module docstring); other processes of a
    distributed run leave it to the first."""
    out = Path(out)
    if not _main_process():
        yield
        return
    if resume and not out.is_dir():
        raise CheckpointError(f"nothing to resume: '{out / 'last'}' does not exist")
    if out.exists() and not out.is_dir():
        claim_output(out, force)  # a file: refused, or removed with force
    with exclusive(out / LOCK, f"run folder '{out}'", remove=True):
        for name in ("last", "best"):
            recover_dir(out / name)
        present = [p for p in out.iterdir() if p.name != LOCK]
        if not resume and present:
            if not force:
                held = any((out / mark).exists() for mark in RUN_MARKS)
                what = "already holds a run; use --resume to go on" if held else "is not empty"
                raise LstmkitError(f"'{out}' {what}, --force to start over there, or another --out")
            for path in present:
                remove(path, strict=True)
        yield


def trim_metrics(path: Path, step: int) -> None:
    """Drop the rows of ``metrics.jsonl`` logged after ``step`` (and a half-written last
    line), so a run resumed from its step-``step`` checkpoint logs each step once."""
    if not path.exists():
        return
    kept, dropped = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            dropped += 1
            continue
        if isinstance(row, dict) and row.get("step", 0) > step:
            dropped += 1
            continue
        kept.append(line)
    if dropped:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        tmp.replace(path)
