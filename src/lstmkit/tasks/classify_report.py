"""How well a classifier does: accuracy, macro-F1, a per-class table, the confusion matrix
(as numbers and as a PNG), and the 1-nearest-neighbour Euclidean baseline.

The baseline compares whole sequences as flat vectors of their normalised values.
Sequences of unequal length are compared as if the shorter one went on with zeros (the
training mean, after ``channel`` normalisation) up to the longer one's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.plot import pyplot, save_figure


def confusion_matrix(targets: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """(K, K) int64 counts: row = true class, column = predicted class."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(targets), np.asarray(predictions)), 1)
    return matrix


@dataclass
class ClassReport:
    """A classifier's results on labelled sequences."""

    classes: list  # the label of each class index
    confusion: np.ndarray  # (K, K) counts, rows true, columns predicted
    baseline_accuracy: float | None = None  # 1-NN Euclidean on the same data, if measured

    @classmethod
    def of(cls, classes: list, targets, predictions, baseline_accuracy: float | None = None
           ) -> ClassReport:
        return cls(classes, confusion_matrix(targets, predictions, len(classes)),
                   baseline_accuracy)

    @property
    def examples(self) -> int:
        return int(self.confusion.sum())

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.examples, 1))

    def per_class(self) -> list[dict]:
        """Precision, recall, F1 and support (true examples) of each class; a class never
        predicted (or never present) has precision (or recall) 0."""
        rows = []
        for k, label in enumerate(self.classes):
            hits = int(self.confusion[k, k])
            support, predicted = int(self.confusion[k].sum()), int(self.confusion[:, k].sum())
            precision = hits / predicted if predicted else 0.0
            recall = hits / support if support else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            rows.append({"label": label, "precision": precision, "recall": recall, "f1": f1,
                         "support": support})
        return rows

    @property
    def macro_f1(self) -> float:
        """The mean F1 over the classes present in the data (support > 0)."""
        scores = [row["f1"] for row in self.per_class() if row["support"]]
        return float(np.mean(scores)) if scores else 0.0

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1,
                "examples": self.examples, "baseline_1nn_accuracy": self.baseline_accuracy,
                "per_class": self.per_class(), "classes": self.classes,
                "confusion": self.confusion.tolist()}

    def summary(self) -> str:
        """One line: accuracy, macro-F1 and the baseline."""
        line = (f"test accuracy {self.accuracy:.2%}, macro-F1 {self.macro_f1:.4f} on "
                f"{self.examples} sequences")
        if self.baseline_accuracy is not None:
            line += f"; 1-NN Euclidean baseline {self.baseline_accuracy:.2%}"
        return line

    def table(self) -> str:
        """The per-class table as fixed-width text."""
        rows = self.per_class()
        width = max(5, *(len(str(row["label"])) for row in rows))
        lines = [f"{'class':<{width}}  precision  recall      f1  support"]
        for row in rows:
            lines.append(f"{row['label']!s:<{width}}  {row['precision']:9.3f}  "
                         f"{row['recall']:6.3f}  {row['f1']:6.3f}  {row['support']:7d}")
        return "\n".join(lines)

    def plot(self, path: str | Path, title: str = "") -> None:
        """The confusion matrix as a PNG: counts in cells, shaded by each row's share."""
        plt = pyplot()
        k = len(self.classes)
        share = self.confusion / np.maximum(self.confusion.sum(axis=1, keepdims=True), 1)
        size = min(4 + 0.45 * k, 14)
        fig, axis = plt.subplots(figsize=(size + 1, size))
        image = axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
        fig.colorbar(image, ax=axis, fraction=0.046, pad=0.04, label="share of the true class")
        names = [str(label) for label in self.classes]
        axis.set_xticks(range(k), names, rotation=90 if k > 10 else 0)
        axis.set_yticks(range(k), names)
        axis.set_xlabel("predicted class")
        axis.set_ylabel("true class")
        if k <= 30:  # beyond that the numbers no longer fit their cells
            for (i, j), count in np.ndenumerate(self.confusion):
                if count:
                    axis.text(j, i, str(count), ha="center", va="center", fontsize=8,
                              color="white" if share[i, j] > 0.5 else "black")
        axis.set_title(title or f"accuracy {self.accuracy:.2%}, macro-F1 {self.macro_f1:.3f}")
        fig.tight_layout()
        save_figure(fig, Path(path))


def flat(inputs: torch.Tensor, length: int) -> torch.Tensor:
    """(N, T, F) padded sequences -> (N, length) vectors, zero-padded on the right."""
    vectors = inputs.reshape(len(inputs), -1)
    return torch.nn.functional.pad(vectors, (0, length - vectors.shape[1]))


def nearest_neighbour(train: torch.Tensor, targets: torch.Tensor, test: torch.Tensor,
                      block: int = 1024) -> torch.Tensor:
    """1-NN Euclidean: for each ``test`` sequence (M, T2, F) the class of the closest
    ``train`` sequence (N, T1, F) with class ``targets`` (N,); the shorter of two sequences
    goes on with zeros. Returns (M,) int64. Ties go to the first training sequence."""
    length = max(train.shape[1] * train.shape[2], test.shape[1] * test.shape[2])
    a = flat(train, length).double()  # (N, D)
    norms = (a * a).sum(dim=1)  # (N,)
    found = []
    for start in range(0, len(test), block):
        b = flat(test[start:start + block], length).double()  # (m, D)
        # Squared distances up to the per-row constant |b|^2, which cannot change the argmin.
        distances = norms[None, :] - 2.0 * b @ a.T  # (m, N)
        found.append(targets[distances.argmin(dim=1)])
    return torch.cat(found) if found else torch.zeros(0, dtype=torch.long)
