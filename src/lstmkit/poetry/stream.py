"""One poem written where a reader can watch: each character reported as it is chosen.

``write_poems`` draws several candidates at once and keeps the best, so no character is
final until the end. ``stream_poem`` draws one row at a time under the same constraints and
rules and reports every character the moment the sampler picks it (``on_char``); a draft
that reaches a dead end or fails the checker is dropped with ``on_restart`` and the next
seed tries again, within the request's budget of rounds. The poem streamed is the first
draft that keeps the form, not the best of several.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import torch

from ..errors import LstmkitError
from ..sample import Generator, Sample, SampleConfig
from .check import CLAUSE_END, SENTENCE_END
from .constraint import FormConstraint
from .request import PoemRequest

MARKS = SENTENCE_END + CLAUSE_END


def stream_poem(generator: Generator, request: PoemRequest, config: SampleConfig,
                on_char: Callable[[int, int, str], None],
                on_restart: Callable[[], None] = lambda: None) -> Sample:
    """Write one poem of ``request.form``, calling ``on_char(line, pos, char)`` (0-based)
    for each character of the poem as it is chosen (the opening's first, then the model's)
    and ``on_restart()`` when a draft is dropped."""
    if request.form is None:
        raise LstmkitError("streaming needs a form (a 绝句, 律诗 or ci)")
    rules = request.rules(generator.vocab)
    vocab = generator.vocab
    for round_ in range(request.rounds * request.candidates):
        constraint = request.constraint(vocab, rules)
        watch = _Watch(constraint, vocab.tokens, on_char)
        for char in request.start:
            watch.report(char)
        seed = None if config.seed is None else config.seed + round_
        sample = generator.generate(request.start, 1, replace(config, seed=seed,
                                                              max_len=constraint.max_tokens()),
                                    hook=watch)[0]
        if constraint.complete(0) and request.check(sample.text).ok:
            return sample
        on_restart()
    raise LstmkitError(f"found no {request.form.name} within the search budget; relax the tones "
                       "or rhyme, or change the opening, template or locked lines")


class _Watch:
    """A logits hook that reports each newly chosen character with its line and position,
    then lets ``constraint`` mask the next step (one row)."""

    def __init__(self, constraint: FormConstraint, tokens: list[str],
                 on_char: Callable[[int, int, str], None]):
        self.constraint, self.tokens, self.on_char = constraint, tokens, on_char
        self.line = self.pos = self.seen = 0

    def report(self, token: str) -> None:
        if token in MARKS:
            self.line, self.pos = self.line + 1, 0
        elif not token.startswith("<"):
            self.on_char(self.line, self.pos, token)
            self.pos += 1

    def __call__(self, logits: torch.Tensor, generated: list[list[int]]) -> torch.Tensor:
        for token_id in generated[0][self.seen:]:
            self.report(self.tokens[token_id])
        self.seen = len(generated[0])
        return self.constraint(logits, generated)
