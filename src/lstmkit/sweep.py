"""The sweep: one training run per value of a setting, with the same token budget, then a
table and plots of what the setting does to quality, speed and memory.

Each run is ``tasks.lm.train`` in a process of its own, in ``out/<param>=<value>/``, so its
peak memory is its own and a crash does not take the others down. A value whose folder
already holds a finished run (``summary.json``) is read instead of trained again, so an
interrupted sweep continues where it stopped.

Writes into ``out``: ``sweep.csv`` and ``sweep.md`` (value, validation perplexity, bits
per character, tokens per second, peak memory, wall time), ``sweep-curves.png``
(validation perplexity per epoch for each value) and ``sweep-summary.png`` (final
perplexity, speed and memory against the value).
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

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


def run_sweep(corpus: str | Path, out: str | Path, param: str, values: Sequence,
              settings: dict | None = None, tokens: int = 0, fmt: str = "auto",
              on_event: Callable[[dict], None] | None = None) -> list[SweepRow]:
    """Train one model per value (``settings`` are every run's flat settings, as
    ``tasks.lm.split_settings`` takes them), then write the table and plots into ``out``;
    return the rows in the order of ``values``."""
    from .tasks.lm import split_settings

    emit = on_event or (lambda event: None)
    if param not in SWEEPABLE:
        raise LstmkitError(f"cannot sweep '{param}' (choose from {', '.join(SWEEPABLE)})")
    settings = dict(settings or {})
    if tokens:
        settings["max_tokens"] = tokens
    for value in values:
        split_settings({**settings, param: value})  # every run's settings are valid before any runs
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for index, value in enumerate(values):
        run = out / f"{param}={value:g}"
        emit({"event": "run", "index": index, "count": len(values), "param": param,
              "value": value, "run": str(run)})
        summary_path = run / "summary.json"
        if summary_path.is_file() and json.loads(summary_path.read_text()).get("wall_s"):
            log.info("%s=%g: reusing the finished run in %s", param, value, run)
        else:
            started = time.monotonic()
            # A run cut short by an earlier sweep goes on where it stopped.
            _train_apart(corpus, run, {**settings, param: value}, fmt, (run / "last").is_dir())
            summary = json.loads(summary_path.read_text())
            summary["wall_s"] = time.monotonic() - started
            summary_path.write_text(json.dumps(summary, indent=2), encoding="utf-8")
        rows.append(_row(value, run))
        emit({"event": "done", "index": index, "row": asdict(rows[-1])})
    write_table(rows, param, out)
    plot_sweep(rows, param, out)
    return rows


def _train_apart(corpus, run: Path, settings: dict, fmt: str, resume: bool) -> None:
    """``tasks.lm.train`` in a fresh process, so each run's peak memory is its own and a
    crash takes only that run down."""
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        try:
            pool.submit(_train_one, str(corpus), str(run), settings, fmt, resume).result()
        except LstmkitError as exc:
            raise LstmkitError(f"the run in {run} failed: {exc}") from None
        except BrokenProcessPool as exc:
            raise LstmkitError(f"the run in {run} died ({exc}); its folder is kept") from exc


def _train_one(corpus: str, run: str, settings: dict, fmt: str, resume: bool) -> None:
    from .tasks.lm import split_settings, train

    train(corpus, run, **split_settings(settings), fmt=fmt, resume=resume)


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
        axis.plot(epochs, ppl, "o-", label=f"{param}={row.value:g}")
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
