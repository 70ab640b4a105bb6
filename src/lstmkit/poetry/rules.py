"""Decoding rules beyond the form: what they are, and a hook that applies them to poems
written without a form.

A rule looks at the poem so far (its finished lines and the line being written) and gives
an additive bias over the vocabulary for the next character: 0 leaves a character alone, a
negative number discourages it, -inf bans it. ``FormConstraint`` applies rules to the
characters its form allows; ``RulesHook`` applies them to free poems, reading line breaks
from the punctuation. Either way every sampling strategy (temperature, top-k, top-p, an
opening, an acrostic) obeys them, because they act on the logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from ..data.corpus import HAN
from ..data.vocab import Vocab


class Rule(Protocol):
    def bias(self, lines: list[str], text: str, length: int | None) -> torch.Tensor | None:
        """(V,) logits to add for the next character of line ``text`` (``length``
        characters in all when known) after the poem's earlier ``lines``; None for none."""


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
        rows = []
        for ids in generated:
            lines, text = self._lines(ids)
            total = torch.zeros(logits.shape[-1])
            for rule in self.rules:
                bias = rule.bias(lines, text, None)
                if bias is not None:
                    total += bias
            rows.append(total)
        return logits + torch.stack(rows).to(logits.device, logits.dtype)
