"""Repetition as real poems have it: reduplications where poets put them, no stutters, no
runaway reuse of one character.

The table (``repetition.json``, built by ``scripts/build_repetition.py`` from the training
split of the Tang and Song ci corpora) holds, per form, the share of characters that
repeat an earlier one in real poems and ``max_uses`` (the most uses of one character that
at least 1% of real poems reach), and per line length and position the characters real
lines double there (叠字: 悠悠 opening a line). ``RepetitionRule`` turns it into decoding
rules: a doubled character that real poems do not double at that place (a stutter: 月中中,
杯酒酒) and a character past ``max_uses`` are banned; every other reuse costs per earlier
use in proportion to how rare one more repeat is in real poems of its form: with repeats
per poem counted as a Poisson variable of mean ``repeat_share`` times the poem's length, the
k-th repeat costs -log P(N >= k | N >= k - 1), times the form's penalty. A 律诗 may repeat
once almost freely, a 五绝 less so, a third repeat anywhere costs dearly. The penalty per
form (``scripts/calibrate_repetition.py``) is the one at which the bundled model's refined
poems repeat as much as real poems of the form do.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..data.corpus import HAN
from ..data.vocab import Vocab
from .forms import VerseForm

TABLE = Path(__file__).with_name("repetition.json")
PENALTY = 1.5  # logit cost per earlier use, in units of repeat_surprise, where not calibrated


@dataclass(frozen=True)
class RepeatStats:
    chars: int  # Han characters
    repeats: int  # characters equal to an earlier character of the same text
    most_uses: int  # uses of the most used character


def repeat_stats(text: str) -> RepeatStats:
    chars = [c for c in text if HAN.match(c)]
    counts = Counter(chars)
    return RepeatStats(len(chars), len(chars) - len(counts), max(counts.values(), default=0))


def kind_of(form: VerseForm | None) -> str:
    """``ci`` for a 词牌, ``shi`` for regulated verse and free poems."""
    return "ci" if form is not None and not form.regulated else "shi"


class RepetitionTable:
    """What real poems do (see the module docstring)."""

    def __init__(self, data: dict):
        self.forms: dict[str, dict] = data["forms"]
        self._doubles = {kind: {tuple(map(int, where.split(":"))): set(chars)
                                for where, chars in found.items()}
                         for kind, found in data["doubles"].items()}
        self._anywhere = {kind: {where[1]: set() for where in found}
                          for kind, found in self._doubles.items()}
        for kind, found in self._doubles.items():
            for (_, pos), chars in found.items():
                self._anywhere[kind][pos] |= chars

    @classmethod
    def load(cls, path: Path = TABLE) -> RepetitionTable:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def _entry(self, form: VerseForm | None) -> dict:
        """The statistics for ``form``: a ci's for any tune, 七律's for a free poem."""
        return self.forms["ci" if kind_of(form) == "ci" else (form.name if form else "七律")]

    def max_uses(self, form: VerseForm | None) -> int:
        """Uses of one character allowed in a poem of ``form``."""
        return self._entry(form)["max_uses"]

    def penalty(self, form: VerseForm | None) -> float:
        """The reuse cost for ``form`` (``scripts/calibrate_repetition.py``), else ``PENALTY``."""
        return self._entry(form).get("penalty", PENALTY)

    def repeat_share(self, form: VerseForm | None) -> float:
        """The share of characters of real poems of ``form`` that repeat an earlier one."""
        return self._entry(form)["repeat_share"]

    def may_double(self, kind: str, length: int | None, pos: int, char: str) -> bool:
        """Whether real lines of ``length`` characters double ``char`` with its second
        copy at 0-based ``pos`` (any length when ``length`` is None)."""
        if length is None:
            return char in self._anywhere[kind].get(pos, ())
        return char in self._doubles[kind].get((length, pos), ())

    def stutters(self, lines: list[str], form: VerseForm | None = None
                 ) -> list[tuple[int, int, str]]:
        """(1-based line, 1-based position, character) of every doubled character that
        real poems do not double there, and of every third copy in a row. Without a form
        the line lengths were not planned, so a doubling counts where real lines of any
        length have it at that position (as the rule allowed it while writing)."""
        kind, found = kind_of(form), []
        for number, line in enumerate(lines, 1):
            for pos in range(1, len(line)):
                char = line[pos]
                if char != line[pos - 1]:
                    continue
                tripled = pos >= 2 and line[pos - 2] == char
                length = len(line) if form is not None else None
                if tripled or not self.may_double(kind, length, pos, char):
                    found.append((number, pos + 1, char))
        return found


@lru_cache(maxsize=4096)
def repeat_surprise(k: int, mean: float) -> float:
    """-log P(N >= k | N >= k - 1) for N ~ Poisson(``mean``): how surprising a k-th repeat
    is in a poem whose form repeats ``mean`` characters on average."""
    mean = max(mean, 1e-3)
    term, below = math.exp(-mean), 0.0  # P(N = i) and P(N < i), from i = 0
    tails = []
    for i in range(k + 1):
        tails.append(max(1.0 - below, 1e-12))  # P(N >= i)
        below += term
        term *= mean / (i + 1)
    return -math.log(tails[k] / tails[k - 1]) if k >= 1 else 0.0


@lru_cache(maxsize=1)
def default_table() -> RepetitionTable:
    return RepetitionTable.load()


class RepetitionRule:
    """A decoding rule over a vocabulary: ``bias(...)`` gives what to add to one row's
    logits (-inf bans) given the poem so far."""

    def __init__(self, vocab: Vocab, form: VerseForm | None = None, penalty: float | None = None,
                 table: RepetitionTable | None = None,
                 fixed: dict[tuple[int, int], str] | None = None):
        """``penalty``: the reuse cost (default: the table's for ``form``); 0 keeps only the
        bans (stutters, uses past ``max_uses``). ``fixed``: (line, position) -> character
        that will stand there (acrostic, template): counted as used before it is written,
        so no free choice pushes it past ``max_uses``."""
        self.vocab, self.form = vocab, form
        self.fixed = dict(fixed or {})
        self.table = table or default_table()
        self.penalty = self.table.penalty(form) if penalty is None else penalty
        self.kind = kind_of(form)
        self.max_uses = self.table.max_uses(form)
        self.share = self.table.repeat_share(form)
        # With a form the poem's length is planned: repeat_surprise(k, ...) for every k it can reach.
        planned = sum(form.lengths) if form is not None else 0
        self.surprises = [repeat_surprise(k, self.share * planned) for k in range(planned + 2)]

    def may_double_last(self, text: str, length: int | None) -> bool:
        """Whether the line so far, ``text``, may write its last character again next: a
        reduplication real lines of ``length`` use there, and not a third copy in a row."""
        return (bool(text) and not (len(text) >= 2 and text[-2] == text[-1])
                and self.table.may_double(self.kind, length, len(text), text[-1]))

    def bias(self, lines: list[str], text: str, length: int | None) -> dict[int, float] | None:
        """For the next character of the line ``text`` (``length`` characters in all, when
        known), after the poem's earlier ``lines``: additive logits by token id (-inf bans;
        the others 0), or None."""
        counts = Counter("".join(lines) + text)
        written = sum(map(len, lines)) + len(text)
        repeats = written - len(counts)
        if self.fixed:
            here = (len(lines), len(text))
            counts.update(c for where, c in self.fixed.items() if where > here)  # still to come
        if not counts:
            return None
        planned = sum(self.form.lengths) if self.form is not None else written + 1
        cost = self.penalty * repeat_surprise(repeats + 1, self.share * planned)
        index = self.vocab.index
        costs = {index[char]: float("-inf") if uses >= self.max_uses else -cost * uses
                 for char, uses in counts.items() if char in index}
        if text and text[-1] in index:
            prev = text[-1]
            allowed = counts[prev] < self.max_uses and self.may_double_last(text, length)
            # A reduplication real poems use here is one word, not a repeat: no cost.
            costs[index[prev]] = 0.0 if allowed else float("-inf")
        return costs

    def batch_bias(self, states: list[tuple[list[str], str, int]]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``bias`` for many rows of a form at once: ``states`` holds each row's finished
        lines, current line and that line's length. Returns (row, token id,
        value) of every entry the rows' dicts from ``bias`` would hold: -inf bans, the
        rest float64 costs, the same numbers. In Python only the per-row reading of the
        poem; the counting is a few tensor operations for the whole batch."""
        if self.form is None:
            raise ValueError("batch_bias needs the form, to plan the poem's length")
        index = self.vocab.index
        groups: dict[tuple[int, int], list[int]] = {}
        ids, prev, allowed = [], [], []
        for row, (lines, text, length) in enumerate(states):
            groups.setdefault((len(lines), len(text)), []).append(row)
            ids.append([index[c] for c in "".join(lines) + text])
            prev.append(index[text[-1]] if text else -1)
            allowed.append(self.may_double_last(text, length))
        found = [self._group_bias(here, rows, ids, prev, allowed) for here, rows in groups.items()]
        if not found:
            empty = np.zeros(0, dtype=np.intp)
            return empty, empty, np.zeros(0, dtype=np.float64)
        rows, tokens, values = zip(*found)
        return np.concatenate(rows), np.concatenate(tokens), np.concatenate(values)

    def _group_bias(self, here: tuple[int, int], rows: list[int], ids: list[list[int]],
                    prev: list[int], allowed: list[bool]):
        """``batch_bias`` for the rows at one place of the poem (so with the same fixed
        characters still to come)."""
        written = max(len(ids[r]) for r in rows)
        table = np.array([ids[r] + [-1] * (written - len(ids[r])) for r in rows],
                         dtype=np.intp).reshape(len(rows), written)
        index = self.vocab.index
        coming = [index[c] for where, c in self.fixed.items() if where > here]
        chars = np.concatenate([table, np.broadcast_to(np.array(coming, dtype=np.intp),
                                                       (len(rows), len(coming)))], 1)
        valid = chars >= 0
        same = (chars[:, :, None] == chars[:, None, :]) & valid[:, None, :] & valid[:, :, None]
        uses = same.sum(-1)  # (R, C): uses of each place's character, still-to-come included
        earlier = same & np.tri(chars.shape[1], k=-1, dtype=bool)
        first = valid & ~earlier.any(-1)  # one entry per distinct character
        repeats = (valid[:, :written].sum(1) - first[:, :written].sum(1)).tolist()
        cost = np.array([self.penalty * self.surprises[k + 1] for k in repeats], dtype=np.float64)
        values = np.where(uses >= self.max_uses, -np.inf, -cost[:, None] * uses)
        before = np.array([prev[r] for r in rows], dtype=np.intp)
        is_prev = (chars == before[:, None]) & (before[:, None] >= 0)
        prev_uses = (is_prev & valid).sum(1)
        free = np.array([allowed[r] for r in rows], dtype=bool) & (prev_uses < self.max_uses)
        # A reduplication real poems use here is one word, not a repeat: no cost.
        values = np.where(is_prev, np.where(free, 0.0, -np.inf)[:, None], values)
        return np.array(rows, dtype=np.intp)[np.nonzero(first)[0]], chars[first], values[first]
