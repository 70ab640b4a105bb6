"""Parallel couplets (对仗): how well two lines pair, character by character.

In the middle couplets of a 律诗 (颔联, lines 3-4; 颈联, lines 5-6) each character of the
second line answers the character at the same place in the first: a number a number, a
colour a colour, 山 a 水. The table (``parallel.json``, built by ``scripts/build_parallel.py``
from the training split of the Tang poems) holds how often characters stand at mirrored
places in the middle couplets of real 律诗, and classes of characters learned from whom
they pair with, so a pair never seen together still scores by its classes.

The score of a pair is a smoothed pointwise mutual information::

    score(a, b) = log( (1 - w) P(a, b) / (P(a) P(b))  +  w P(A, B) / (P(A) P(B)) )

with A, B the classes of a and b: above 0 when poets pair them more often than chance. A
couplet's score is the mean over its places (each clipped to ±``CLIP``), and a couplet is
parallel when it reaches the table's threshold, the score that best tells real middle
couplets from the first and last couplets, which need not be parallel.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from ..data.vocab import Vocab
from .forms import VerseForm

if TYPE_CHECKING:  # numpy loads only for the writing rule: scoring a couplet needs none
    import numpy as np

TABLE = Path(__file__).with_name("parallel.json")
MIDDLE = (2, 4)  # 0-based first lines of the middle couplets of an eight-line poem
NAMES = ("颔联", "颈联")
WEIGHT_CLASSES = 0.5  # w: the class estimate's share of the smoothed pair probability
CLIP = 3.0
BONUS = 0.8  # logit bonus per unit of pair score while writing a couplet's second line


@dataclass(frozen=True)
class Couplet:
    lines: tuple[int, int]  # 1-based
    name: str  # 颔联 or 颈联
    score: float
    parallel: bool

    def to_dict(self) -> dict:
        return {"lines": list(self.lines), "name": self.name, "score": round(self.score, 3),
                "parallel": self.parallel}


class ParallelTable:
    """Pair scores from the table's counts (see the module docstring)."""

    def __init__(self, data: dict):
        self.chars = data["chars"]
        self.index = {c: i for i, c in enumerate(self.chars)}
        counts = data["counts"]
        total = sum(counts)
        self.log_p = [math.log(n / total) for n in counts]
        self.classes = data["classes"]
        class_pairs = data["class_pairs"]
        class_total = sum(map(sum, class_pairs)) + len(class_pairs) ** 2
        class_p = [(sum(row) + len(row)) / class_total for row in class_pairs]
        # Add-one smoothing, so two classes never seen together score low, not -inf.
        self.class_ratio = [[(n + 1) / class_total / (class_p[x] * class_p[y])
                             for y, n in enumerate(row)] for x, row in enumerate(class_pairs)]
        self.pair_ratio: dict[str, float] = {}
        for pair, n in data["pairs"].items():
            a, b = self.index[pair[0]], self.index[pair[1]]
            self.pair_ratio[pair] = n / total / math.exp(self.log_p[a] + self.log_p[b])
        self.threshold: float = data["threshold"]

    @classmethod
    def load(cls, path: Path = TABLE) -> ParallelTable:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def pair_score(self, a: str, b: str) -> float:
        """How much more often than chance poets pair ``a`` and ``b``; 0 when either is not
        in the table."""
        if a not in self.index or b not in self.index:
            return 0.0
        ratio = self.class_ratio[self.classes[self.index[a]]][self.classes[self.index[b]]]
        mixed = (1 - WEIGHT_CLASSES) * self.pair_ratio.get(a + b, 0.0) + WEIGHT_CLASSES * ratio
        return max(-CLIP, min(CLIP, math.log(mixed)))

    def couplet_score(self, first: str, second: str) -> float:
        """The mean pair score over the places of two lines of the same length."""
        if not first or len(first) != len(second):
            return 0.0
        return sum(self.pair_score(a, b) for a, b in zip(first, second)) / len(first)

    def couplets(self, lines: list[str]) -> list[Couplet]:
        """The middle couplets of an eight-line poem, scored; none for other shapes."""
        if len(lines) != 8:
            return []
        found = []
        for first, name in zip(MIDDLE, NAMES):
            score = self.couplet_score(lines[first], lines[first + 1])
            found.append(Couplet((first + 1, first + 2), name, score, score >= self.threshold))
        return found

    def parallel_lines(self, lines: list[str]) -> list[bool]:
        return [c.parallel for c in self.couplets(lines)]


@lru_cache(maxsize=1)
def default_table() -> ParallelTable:
    return ParallelTable.load()


class PairScores:
    """Pair scores of one character against a whole vocabulary, as an array (V,)."""

    def __init__(self, vocab: Vocab, table: ParallelTable):
        import numpy as np

        self.vocab, self.table = vocab, table
        known = [(i, table.index[t]) for i, t in enumerate(vocab.tokens) if t in table.index]
        self._ids = np.array([i for i, _ in known], dtype=np.intp)  # vocabulary ids
        self._rows = np.array([j for _, j in known], dtype=np.intp)  # table rows
        classes = np.array(table.classes, dtype=np.intp)
        self._class_of = classes[self._rows]  # (K,) class of each known vocabulary token
        self._class_ratio = np.array(table.class_ratio, dtype=np.float32)  # (C, C)
        position = {j: k for k, (_, j) in enumerate(known)}
        partners: dict[str, list[tuple[int, float]]] = {}
        for pair, ratio in table.pair_ratio.items():
            b = table.index[pair[1]]
            if b in position:
                partners.setdefault(pair[0], []).append((position[b], ratio))
        # Per character: the places among the known tokens of its partners, and their ratios.
        self._partners = {a: (np.array([k for k, _ in found], dtype=np.intp),
                              np.array([r for _, r in found], dtype=np.float32))
                          for a, found in partners.items()}

    def scores(self, a: str) -> np.ndarray | None:
        """(V,) pair scores of every vocabulary token with ``a`` (0 where unknown)."""
        import numpy as np

        table = self.table
        if a not in table.index:
            return None
        ratio = WEIGHT_CLASSES * self._class_ratio[table.classes[table.index[a]]][self._class_of]
        if a in self._partners:
            places, pair_ratio = self._partners[a]
            ratio[places] += np.float32(1 - WEIGHT_CLASSES) * pair_ratio
        out = np.zeros(len(self.vocab), dtype=np.float32)
        out[self._ids] = np.clip(np.log(ratio), -CLIP, CLIP)
        return out


@lru_cache(maxsize=4)
def pair_scores(vocab: Vocab) -> PairScores:
    """The default table's scores over ``vocab``, built once (about half a second)."""
    return PairScores(vocab, default_table())


class ParallelRule:
    """A decoding rule: while the second line of a middle couplet of a 律诗 is written,
    each character gets ``weight`` times its pair score with the character at the same
    place of the first line."""

    def __init__(self, vocab: Vocab, form: VerseForm, weight: float = BONUS):
        self.scorer, self.weight = pair_scores(vocab), weight
        self.seconds = {first + 1 for first in MIDDLE} if form.lines == 8 else set()
        self._bonus: dict[str, np.ndarray | None] = {}  # per answered character

    def bias(self, lines: list[str], text: str, length: int | None) -> np.ndarray | None:
        if len(lines) not in self.seconds or len(text) >= len(lines[-1]):
            return None
        answered = lines[-1][len(text)]
        if answered not in self._bonus:
            scores = self.scorer.scores(answered)
            self._bonus[answered] = None if scores is None else self.weight * scores
        return self._bonus[answered]
