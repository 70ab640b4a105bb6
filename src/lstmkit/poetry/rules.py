"""Decoding rules beyond the form: what they are, and a hook that applies them to poems
written without a form.

A rule looks at the poem so far (its finished lines and the line being written) and gives
an additive bias over the vocabulary for the next character: 0 leaves a character alone, a
negative number discourages it, -inf bans it. A rule that speaks of a few characters gives
them as a dict (token id -> bias; the rest 0), one that speaks of all as a finite (V,)
tensor; ``BiasBatch`` gathers a step's biases of every row into one tensor.
``FormConstraint`` applies rules to the characters its form allows; ``RulesHook`` applies
them to free poems, reading line breaks from the punctuation. Either way every sampling
strategy (temperature, top-k, top-p, an opening, an acrostic) obeys them, because they act
on the logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from ..data.corpus import HAN
from ..data.vocab import Vocab

NEG_INF = float("-inf")
Bias = dict[int, float] | torch.Tensor  # sparse (may hold -inf) or dense (V,), finite


class Rule(Protocol):
    def bias(self, lines: list[str], text: str, length: int | None) -> Bias | None:
        """The logits to add for the next character of line ``text`` (``length``
        characters in all when known) after the poem's earlier ``lines``; None for none."""


class BiasBatch:
    """One step's rule biases, row by row, gathered into one additive (N, V) tensor."""

    def __init__(self) -> None:
        self._rows: list[int] = []
        self._cols: list[int] = []
        self._values: list[float] = []
        self._dense_rows: list[int] = []
        self._dense: list[torch.Tensor] = []
        self._entries: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []

    @staticmethod
    def bans(bias: Bias) -> set[int]:
        """The token ids ``bias`` bans (-inf)."""
        if isinstance(bias, torch.Tensor):
            return set()
        return {token for token, value in bias.items() if value == NEG_INF}

    def add(self, row: int, bias: Bias) -> None:
        """Add ``bias`` to row ``row`` (its bans are left to the caller's mask)."""
        if isinstance(bias, torch.Tensor):
            self._dense_rows.append(row)
            self._dense.append(bias)
            return
        kept = [(token, value) for token, value in bias.items() if value != 0.0 and value > NEG_INF]
        if kept:
            self._rows += [row] * len(kept)
            tokens, values = zip(*kept)
            self._cols += tokens
            self._values += values

    def add_entries(self, rows: torch.Tensor, tokens: torch.Tensor, values: torch.Tensor) -> None:
        """Add finite ``values`` at (``rows``, ``tokens``), as tensors: what a batched
        rule (``batch_bias``) gives, after the batch's bans are taken out."""
        if len(values):
            self._entries.append((rows, tokens, values))

    def apply(self, logits: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        """``logits`` (N, V) plus every bias added (and plus ``base``, (N, V) float32 on the
        CPU, which this adds the biases into)."""
        if not self._values and not self._dense and not self._entries and base is None:
            return logits
        total = torch.zeros(logits.shape, dtype=torch.float32) if base is None else base
        if self._dense:
            total.index_add_(0, torch.tensor(self._dense_rows), torch.stack(self._dense).float())
        if self._values or self._entries:
            parts = [(torch.tensor(self._rows, dtype=torch.long),
                      torch.tensor(self._cols, dtype=torch.long),
                      torch.tensor(self._values, dtype=torch.float64)), *self._entries]
            rows, cols, values = (torch.cat(column) for column in zip(*parts))
            total.index_put_((rows, cols), values.float(), accumulate=True)
        return logits + total.to(logits.device, logits.dtype)


class Entries:
    """What batched rules (``batch_bias``) give a step's rows: (row, token id, value)
    entries, -inf for a ban, the rest added to the logits."""

    def __init__(self, rows: torch.Tensor, tokens: torch.Tensor, values: torch.Tensor, size: int):
        self.rows, self.tokens, self.values = rows, tokens, values
        self.banned = values == NEG_INF
        self.ban_counts = torch.bincount(rows[self.banned], minlength=size).tolist()  # per row

    def bans(self, row: int) -> set[int]:
        """The token ids banned for ``row``."""
        return set(self.tokens[self.banned & (self.rows == row)].tolist())

    def apply(self, mask: torch.Tensor, batch: BiasBatch, live: list[bool]) -> None:
        """The rows in ``live``'s entries: bans into ``mask`` (N, V), costs into ``batch``."""
        keep = torch.tensor(live)[self.rows]
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

    def __call__(self, logits: torch.Tensor, generated: list[list[int]]) -> torch.Tensor:
        batch, banned_rows, banned_cols = BiasBatch(), [], []
        for row, ids in enumerate(generated):
            lines, text = self._lines(ids)
            for rule in self.rules:
                bias = rule.bias(lines, text, None)
                if bias is not None:
                    batch.add(row, bias)
                    bans = batch.bans(bias)
                    banned_rows += [row] * len(bans)
                    banned_cols += bans
        logits = batch.apply(logits)
        if banned_rows:
            logits = logits.index_put((torch.tensor(banned_rows), torch.tensor(banned_cols)),
                                      torch.tensor(float("-inf"), dtype=logits.dtype))
        return logits
