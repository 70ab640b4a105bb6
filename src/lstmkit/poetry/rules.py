"""Decoding rules beyond the form: what they are, and a hook that applies them to poems
written without a form.

A rule looks at the poem so far (its finished lines and the line being written) and gives
an additive bias over the vocabulary for the next character: 0 leaves a character alone, a
negative number discourages it, -inf bans it. A rule that speaks of a few characters gives
them as a dict (token id -> bias; the rest 0), one that speaks of all as a finite (V,)
array; ``BiasBatch`` gathers a step's biases of every row into one array.
``FormConstraint`` applies rules to the characters its form allows; ``RulesHook`` applies
them to free poems, reading line breaks from the punctuation. Either way every sampling
strategy (temperature, top-k, top-p, an opening, an acrostic) obeys them, because they act
on the logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ..data.corpus import HAN
from ..data.vocab import Vocab

NEG_INF = float("-inf")
Bias = dict[int, float] | np.ndarray  # sparse (may hold -inf) or dense (V,), finite


class Rule(Protocol):
    def bias(self, lines: list[str], text: str, length: int | None) -> Bias | None:
        """The logits to add for the next character of line ``text`` (``length``
        characters in all when known) after the poem's earlier ``lines``; None for none."""


class BiasBatch:
    """One step's rule biases, row by row, gathered into one additive (N, V) array."""

    def __init__(self) -> None:
        self._rows: list[int] = []
        self._cols: list[int] = []
        self._values: list[float] = []
        self._dense_rows: list[int] = []
        self._dense: list[np.ndarray] = []
        self._entries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @staticmethod
    def bans(bias: Bias) -> set[int]:
        """The token ids ``bias`` bans (-inf)."""
        if isinstance(bias, np.ndarray):
            return set()
        return {token for token, value in bias.items() if value == NEG_INF}

    def add(self, row: int, bias: Bias) -> None:
        """Add ``bias`` to row ``row`` (its bans are left to the caller's mask)."""
        if isinstance(bias, np.ndarray):
            self._dense_rows.append(row)
            self._dense.append(bias)
            return
        kept = [(token, value) for token, value in bias.items() if value != 0.0 and value > NEG_INF]
        if kept:
            self._rows += [row] * len(kept)
            tokens, values = zip(*kept)
            self._cols += tokens
            self._values += values

    def add_entries(self, rows: np.ndarray, tokens: np.ndarray, values: np.ndarray) -> None:
        """Add finite ``values`` at (``rows``, ``tokens``), as arrays: what a batched
        rule (``batch_bias``) gives, after the batch's bans are taken out."""
        if len(values):
            self._entries.append((rows, tokens, values))

    def apply(self, total: np.ndarray) -> np.ndarray:
        """``total`` (N, V) float32, with every bias added into it."""
        if self._dense:
            np.add.at(total, np.asarray(self._dense_rows), np.stack(self._dense).astype(np.float32))
        if self._values or self._entries:
            parts = [(np.asarray(self._rows, dtype=np.intp), np.asarray(self._cols, dtype=np.intp),
                      np.asarray(self._values, dtype=np.float64)), *self._entries]
            rows, cols, values = (np.concatenate(column) for column in zip(*parts))
            np.add.at(total, (rows, cols), values.astype(np.float32))
        return total


class Entries:
    """What batched rules (``batch_bias``) give a step's rows: (row, token id, value)
    entries, -inf for a ban, the rest added to the logits."""

    def __init__(self, rows: np.ndarray, tokens: np.ndarray, values: np.ndarray, size: int):
        self.rows, self.tokens, self.values = rows, tokens, values
        self.banned = values == NEG_INF
        self.ban_counts = np.bincount(rows[self.banned], minlength=size).tolist()  # per row

    def bans(self, row: int) -> set[int]:
        """The token ids banned for ``row``."""
        return set(self.tokens[self.banned & (self.rows == row)].tolist())

    def apply(self, mask: np.ndarray, batch: BiasBatch, live: list[bool]) -> None:
        """The rows in ``live``'s entries: bans into ``mask`` (N, V), costs into ``batch``."""
        keep = np.asarray(live, dtype=bool)[self.rows]
        ban, cost = keep & self.banned, keep & ~self.banned
        mask[self.rows[ban], self.tokens[ban]] = NEG_INF
        batch.add_entries(self.rows[cost], self.tokens[cost], self.values[cost])


class RulesHook:
    """A ``sample.LogitsHook`` applying ``rules`` to form-less poems after ``start``."""

    def __init__(self, vocab: Vocab, rules: Sequence[Rule], start: str = ""):
        self.vocab, self.rules, self.start = vocab, tuple(rules), start

    def _lines(self, ids: list[int]) -> tuple[list[str], str]:
        lines, text = [], ""
        for token in (*self.start, *self.vocab.decode_tokens(ids)):
            if HAN.match(token):
                text += token
            elif text:
                lines.append(text)
                text = ""
        return lines, text

    def __call__(self, generated: list[list[int]]) -> np.ndarray | None:
        """The rules' additive bias (N, V) float32 for the rows ``generated`` so far, or
        None when no rule speaks."""
        batch, banned_rows, banned_cols, spoke = BiasBatch(), [], [], False
        for row, ids in enumerate(generated):
            lines, text = self._lines(ids)
            for rule in self.rules:
                bias = rule.bias(lines, text, None)
                if bias is not None:
                    spoke = True
                    batch.add(row, bias)
                    bans = batch.bans(bias)
                    banned_rows += [row] * len(bans)
                    banned_cols += bans
        if not spoke:
            return None
        total = batch.apply(np.zeros((len(generated), len(self.vocab)), dtype=np.float32))
        total[banned_rows, banned_cols] = NEG_INF
        return total
