"""Poems written where readers can watch: each character reported as it is chosen.

``write_poems`` draws several candidates at once and keeps the best, so no character is
final until the end. ``stream_poems`` writes one row per reader, all readers' rows in one
batch, under the same constraints and rules, and reports every character to its reader the
moment the sampler picks it (``Reader.on_char``); a reader whose draft reaches a dead end
or fails the checker hears ``on_restart`` and gets a new row in the next round, within the
request's budget of rounds. The poem streamed is the first draft that keeps the form, not
the best of several. ``stream_poem`` is the same for one reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..decoding import Decoder, Sample
from ..errors import LstmkitError
from ..sample_config import SampleConfig
from .check import CLAUSE_END, SENTENCE_END
from .constraint import FormConstraint
from .request import PoemRequest

MARKS = SENTENCE_END + CLAUSE_END


@dataclass
class Reader:
    """Someone watching one poem being written: ``on_char(line, pos, char)`` (0-based) for
    each character, the opening's first, then the model's; ``on_restart()`` when a draft is
    dropped. A reader who left should just ignore further calls: the batch goes on."""

    on_char: Callable[[int, int, str], None]
    on_restart: Callable[[], None] = lambda: None


def stream_poems(generator: Decoder, request: PoemRequest, config: SampleConfig,
                 readers: list[Reader]) -> list[Sample | LstmkitError]:
    """One poem of ``request.form`` per reader, written as one batch (see the module
    docstring); per reader its poem, or the error saying none was found in the budget."""
    if request.form is None:
        raise LstmkitError("streaming needs a form (a 绝句, 律诗 or ci)")
    rules = request.rules(generator.vocab)
    config = request.steered(config)
    results: list[Sample | LstmkitError | None] = [None] * len(readers)
    waiting = list(range(len(readers)))
    for round_ in range(request.rounds * request.candidates):
        if not waiting:
            break
        constraint = request.constraint(generator.vocab, rules)
        watch = _Watch(constraint, generator.vocab.tokens, [readers[i] for i in waiting],
                       request.start)
        seed = config.round_seed(round_)
        samples = generator.generate(request.start, len(waiting),
                                     replace(config, seed=seed, max_len=constraint.max_tokens()),
                                     hook=watch, **request.about(generator))
        still = []
        for row, i in enumerate(waiting):
            if constraint.complete(row) and request.check(samples[row].text).ok:
                results[i] = samples[row]
            else:
                readers[i].on_restart()
                still.append(i)
        waiting = still
    for i in waiting:
        results[i] = LstmkitError(f"found no {request.form.name} within the search budget; relax "
                                  "the tones or rhyme, or change the opening, template or locked lines")
    return results


def stream_poem(generator: Decoder, request: PoemRequest, config: SampleConfig,
                on_char: Callable[[int, int, str], None],
                on_restart: Callable[[], None] = lambda: None) -> Sample:
    """``stream_poems`` for one reader; raises ``LstmkitError`` when no poem is found."""
    result = stream_poems(generator, request, config, [Reader(on_char, on_restart)])[0]
    if isinstance(result, LstmkitError):
        raise result
    return result


class _Watch:
    """A logits hook that reports each row's newly chosen character with its line and
    position to the row's reader, then lets ``constraint`` mask the next step."""

    def __init__(self, constraint: FormConstraint, tokens: list[str], readers: list[Reader],
                 start: str):
        self.constraint, self.tokens, self.readers = constraint, tokens, readers
        self.places = [[0, 0] for _ in readers]  # line, position
        self.seen = [0] * len(readers)
        for row in range(len(readers)):
            for char in start:
                self.report(row, char)

    def report(self, row: int, token: str) -> None:
        place = self.places[row]
        if token in MARKS:
            place[0], place[1] = place[0] + 1, 0
        elif not token.startswith("<"):
            self.readers[row].on_char(place[0], place[1], token)
            place[1] += 1

    def __call__(self, generated: list[list[int]]) -> np.ndarray:
        for row, ids in enumerate(generated):
            for token_id in ids[self.seen[row]:]:
                self.report(row, self.tokens[token_id])
            self.seen[row] = len(ids)
        return self.constraint(generated)
