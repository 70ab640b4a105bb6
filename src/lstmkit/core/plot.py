"""Plots shared by every task: the training curve of a run, and a PNG written atomically."""

from __future__ import annotations

import json
from pathlib import Path


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no screen needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path, dpi: int = 100) -> None:
    """Save ``fig`` as a PNG through a temporary file, then close it."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    pyplot().close(fig)
    tmp.replace(path)


def plot_curves(metrics_path: Path, png_path: Path, metric: str = "val_loss",
                label: str = "validation loss", loss_label: str = "loss") -> None:
    """Training loss per logged step with validation loss (left), and the validation
    ``metric`` per epoch (right), from a run's ``metrics.jsonl``."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    steps, losses, epochs, values, val_steps, val_loss = [], [], [], [], [], []
    for line in Path(metrics_path).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("kind") == "step":
            steps.append(row["step"])
            losses.append(row["loss"])
        elif row.get("kind") in ("epoch", "budget") and row.get(metric) is not None:
            epochs.append(row["epoch"])
            values.append(row[metric])
            val_steps.append(row["step"])
            val_loss.append(row["val_loss"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(steps, losses, label="training loss", lw=1)
    left.plot(val_steps, val_loss, "o-", label="validation loss")
    left.set_xlabel("step")
    left.set_ylabel(loss_label)
    left.legend()
    right.plot(epochs, values, "o-", color="C1")
    right.set_xlabel("epoch")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylabel(label)
    for axis in (left, right):
        axis.grid(alpha=0.3)
    fig.tight_layout()
    save_figure(fig, png_path)
