"""The sweep: one training run per value of a setting, with the same token budget, then a
table and plots of what the setting does to quality, speed and memory.

Each run is ``tasks.lm.train`` in a process of its own, in ``out/<param>=<value>/``, so its
peak memory is its own and a crash does not take the others down. ``out/sweep.json`` records
what made each run (its settings, the corpus's fingerprint, the format) before it starts: a
value whose folder holds a finished run made the same way is read instead of trained again,
and an unfinished one goes on from its checkpoint, so an interrupted sweep continues where
it stopped; a folder made any other way is refused (``force`` trains it again). The sweep
folder is locked while a sweep writes it.

Writes into ``out``: ``sweep.csv`` and ``sweep.md`` (value, validation perplexity, bits
per character, tokens per second, peak memory, wall time), ``sweep-curves.png``
(validation perplexity per epoch for each value) and ``sweep-summary.png`` (final
perplexity, speed and memory against the value).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

from .core.checkpoint import write_json
from .core.folders import LOCK, claim_output, exclusive
from .core.plot import pyplot, save_figure
from .errors import LstmkitError

log = logging.getLogger(__name__)

# Numeric training settings a sweep may vary, with their types.
SWEEPABLE: dict[str, type] = {
    "seq_len": int, "hidden_size": int, "embedding_size": int, "layers": int,
    "batch_size": int, "dropout": float, "lr": float, "weight_decay": float,
}


@dataclass(frozen=True)
class SweepRow:
    value: float
    val_ppl: float | None
    val_bits_per_char: float | None
    tokens_per_s: float
    peak_memory_mib: float
    wall_s: float
    tokens: int
    run: str

    def as_text(self, param: str) -> dict:
        def num(x, fmt):
            return "" if x is None else format(x, fmt)
        return {param: format(self.value, "g"), "val_ppl": num(self.val_ppl, ".2f"),
                "val_bits_per_char": num(self.val_bits_per_char, ".3f"),
                "tokens_per_s": f"{self.tokens_per_s:.0f}",
                "peak_memory_mib": f"{self.peak_memory_mib:.0f}",
                "wall_s": f"{self.wall_s:.1f}", "tokens": str(self.tokens)}


def parse_values(param: str, text: str) -> list:
    """``"16,32,64"`` -> ``[16, 32, 64]`` in the setting's type; errors name the bad item."""
    if param not in SWEEPABLE:
        raise LstmkitError(f"cannot sweep '{param}' (choose from {', '.join(SWEEPABLE)})")
    kind = SWEEPABLE[param]
    values = []
    for item in (part.strip() for part in text.split(",")):
        try:
            values.append(kind(item))
        except ValueError:
            raise LstmkitError(f"--values: '{item}' is not a{'n integer' if kind is int else ' number'} "
                               f"for {param}") from None
    if len(values) != len(set(values)):
        raise LstmkitError(f"--values repeats a value: {text}")
    if not values:
        raise LstmkitError("--values is empty")
    return values


def run_name(param: str, value) -> str:
    """The run folder's name: ``lr=0.001``; exact, so two values never share a folder."""
    text = format(value, "g")
    return f"{param}={text if type(value)(text) == value else repr(value)}"


def corpus_fingerprint(corpus: str | Path) -> str:
    """A file's SHA-256, or a folder's listing (names, sizes, modification times)."""
    path = Path(corpus)
    digest = hashlib.sha256()
    if path.is_dir():
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return "listing:" + digest.hexdigest()
    try:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise LstmkitError(f"cannot read corpus '{corpus}': {exc.strerror}") from exc
    return "sha256:" + digest.hexdigest()


def run_sweep(corpus: str | Path, out: str | Path, param: str, values: Sequence,
              settings: dict | None = None, tokens: int = 0, fmt: str = "auto",
              on_event: Callable[[dict], None] | None = None, force: bool = False) -> list[SweepRow]:
    """Train one model per value (``settings`` are every run's flat settings, as
    ``tasks.lm.split_settings`` takes them), then write the table and plots into ``out``;
    return the rows in the order of ``values``. ``force``: train again runs that ``out``
    holds from other settings or data (see the module docstring)."""
    from .tasks.lm import split_settings

    if param not in SWEEPABLE:
        raise LstmkitError(f"cannot sweep '{param}' (choose from {', '.join(SWEEPABLE)})")
    settings = dict(settings or {})
    if tokens:
        settings["max_tokens"] = tokens
    for value in values:
        split_settings({**settings, param: value})  # every run's settings are valid before any runs
    names = [run_name(param, value) for value in values]
    if len(set(names)) != len(names):
        raise LstmkitError(f"--values repeats a value: {', '.join(names)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        claim_output(out, force)
    fingerprint = corpus_fingerprint(corpus)
    emit = on_event or (lambda event: None)
    with exclusive(out / LOCK, f"sweep folder '{out}'", remove=True):
        index = _Index.read(out / "sweep.json")
        if not index.runs and not force and any(p.name != LOCK for p in out.iterdir()):
            raise LstmkitError(f"--out '{out}' holds something other than a sweep; choose a new "
                               "folder (--force trains into it)")
        plan = []  # every value's folder is judged before any run trains
        for value, name in zip(values, names):
            made = json.loads(json.dumps({"settings": {**settings, param: value},
                                          "corpus": fingerprint, "format": fmt}))
            run = out / name
            held = run.is_dir() and any(p.name != LOCK for p in run.iterdir())
            same = index.runs.get(name) == made
            if held and not same and not force:
                raise LstmkitError(f"'{run}' holds a run made with other settings or data than "
                                   "this sweep's; --force trains it again")
            plan.append((value, name, made, held and same))
        rows = []
        for position, (value, name, made, same) in enumerate(plan):
            where = {"index": position, "count": len(values), "param": param, "value": value}
            emit({"event": "run", **where, "run": str(out / name)})
            rows.append(_one_run(corpus, fmt, index, out / name, made, same, value))
            emit({"event": "done", "index": position, "row": asdict(rows[-1])})
        write_table(rows, param, out)
        plot_sweep(rows, param, out)
    return rows


@dataclass
class _Index:
    """``sweep.json``: what made each run, by folder name, written before the run starts."""

    path: Path
    runs: dict

    @classmethod
    def read(cls, path: Path) -> _Index:
        found = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        return cls(path, found.get("runs", {}))

    def record(self, name: str, made: dict) -> None:
        self.runs[name] = made
        write_json(self.path, {"runs": self.runs})


def _one_run(corpus, fmt: str, index: _Index, run: Path, made: dict, same: bool,
             value) -> SweepRow:
    """One value's run: the finished run of the same making reused, an unfinished one
    resumed, anything else trained afresh (``run_sweep`` has refused what it must)."""
    summary_path = run / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    finished = bool(summary.get("wall_s"))
    if same and summary and not finished and _ended_at(run) == summary.get("step"):
        # the run ended; the sweep was stopped before it noted the run's wall time
        summary["wall_s"] = summary.get("elapsed_s", 0.0)
        write_json(summary_path, summary)
        finished = True
    if same and finished:
        log.info("%s: reusing the finished run in %s", run.name, run)
    else:
        index.record(run.name, made)
        started = time.monotonic()
        resume = same and (run / "last").is_dir()  # cut short by an earlier sweep: go on
        _train_apart(corpus, run, made["settings"], fmt, resume, force=not resume)
        summary = json.loads(summary_path.read_text())
        summary["wall_s"] = time.monotonic() - started
        write_json(summary_path, summary)
    return _row(value, run)


def _ended_at(run: Path) -> int | None:
    """The step of the run's last checkpoint, or None."""
    state = run / "last" / "trainer.json"
    return json.loads(state.read_text()).get("step") if state.is_file() else None


def _train_apart(corpus, run: Path, settings: dict, fmt: str, resume: bool,
                 force: bool = False) -> None:
    """``tasks.lm.train`` in a fresh process, so each run's peak memory is its own and a
    crash takes only that run down."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            pool.submit(_train_one, str(corpus), str(run), settings, fmt, resume, force).result()
        except LstmkitError as exc:
            raise LstmkitError(f"the run in {run} failed: {exc}") from None
        except BrokenProcessPool as exc:
            raise LstmkitError(f"the run in {run} died ({exc}); its folder is kept") from exc


def _train_one(corpus: str, run: str, settings: dict, fmt: str, resume: bool,
               force: bool) -> None:
    from .tasks.lm import split_settings, train

    _die_with_parent()

    train(corpus, run, **split_settings(settings), fmt=fmt, resume=resume, force=force)


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this worker when the sweep that started it dies (even
    by SIGKILL), so no orphan goes on training into a folder the next sweep needs."""
    if sys.platform != "linux":
        return
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the sweep died before the line above: stop now
        os._exit(1)


def _row(value, run: Path) -> SweepRow:
    summary = json.loads((run / "summary.json").read_text())
    best = summary.get("best_val_loss")
    bits = None
    for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item.get("best"):
            bits = item["val_bits_per_char"]
    return SweepRow(value=value, val_ppl=math.exp(best) if best is not None else None,
                    val_bits_per_char=bits, tokens_per_s=summary["tokens_per_s"],
                    peak_memory_mib=summary["peak_memory_mib"], wall_s=summary["wall_s"],
                    tokens=summary["tokens"], run=str(run))


def write_table(rows: Sequence[SweepRow], param: str, out: Path) -> None:
    texts = [row.as_text(param) for row in rows]
    header = list(texts[0])
    with (out / "sweep.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(texts)
    titles = {param: param, "val_ppl": "validation perplexity",
              "val_bits_per_char": "bits per char", "tokens_per_s": "tokens/s",
              "peak_memory_mib": "peak memory (MiB)", "wall_s": "wall time (s)",
              "tokens": "training tokens"}
    lines = ["| " + " | ".join(titles[h] for h in header) + " |",
             "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(t[h] for h in header) + " |" for t in texts]
    (out / "sweep.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _validation_curve(run: Path) -> tuple[list[float], list[float]]:
    epochs, ppl = [], []
    for line in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item.get("val_ppl") is not None:
            epochs.append(item["epoch"])
            ppl.append(item["val_ppl"])
    return epochs, ppl


def plot_sweep(rows: Sequence[SweepRow], param: str, out: Path) -> None:
    from matplotlib.ticker import MaxNLocator

    plt = pyplot()

    fig, axis = plt.subplots(figsize=(7.5, 4))
    for row in rows:
        epochs, ppl = _validation_curve(Path(row.run))
        axis.plot(epochs, ppl, "o-", label=run_name(param, row.value))
    axis.set_xlabel("epoch (passes over the training data)")
    axis.set_ylabel("validation perplexity")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.grid(alpha=0.3)
    axis.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    save_figure(fig, out / "sweep-curves.png")

    xs = [row.value for row in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    panels = [([row.val_ppl for row in rows], "final validation perplexity"),
              ([row.tokens_per_s for row in rows], "training tokens per second"),
              ([row.peak_memory_mib for row in rows], "peak memory (MiB)")]
    for axis, (ys, title) in zip(axes, panels):
        axis.plot(xs, [math.nan if y is None else y for y in ys], "o-")
        axis.set_xlabel(param)
        axis.set_title(title)
        axis.grid(alpha=0.3)
        if all(x > 0 for x in xs) and max(xs) / min(xs) >= 8:
            axis.set_xscale("log", base=2)
            axis.set_xticks(xs, [f"{x:g}" for x in xs])
    fig.tight_layout()
    save_figure(fig, out / "sweep-summary.png")
