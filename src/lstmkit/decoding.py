"""What every decoder shares, free of torch: the written ``Sample``, the prompt, the tokens
never written, the draws, and drawing until poems end.

Two decoders write: ``sample.Generator`` over a torch model (int8, bf16 or fp32; CPU or
GPU), and ``sample_numpy.NumpyGenerator`` over the same weights in NumPy (fp32, CPU), which
a one-off command uses to write without loading torch. Both feed the prompt once, then one
token per row per step, add a hook's bias (the forms' masks and the rules, as NumPy arrays)
and draw by inverse CDF from the same uniform numbers for a seed on a CPU
(``TorchUniforms``), so they write the same text for a seed wherever their logits agree.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .data.condition import MAX_TITLE, Conditioning, title_chars
from .data.segment import join_function, tokenize
from .data.vocab import Vocab
from .errors import LstmkitError, printable
from .sample_config import SampleConfig

log = logging.getLogger(__name__)

# hook(generated ids so far per row) -> additive bias (N, V) float32 for the next step's
# logits (0 leaves a token alone, -inf bans it), or None for none
LogitsHook = Callable[[list[list[int]]], "np.ndarray | None"]


@dataclass(frozen=True)
class Sample:
    text: str  # start text + generated text, special tokens left out
    finished: bool  # True when the model ended it with <eos>
    logprob: float  # log-likelihood of the generated tokens under the model (temperature 1)
    tokens: int  # generated tokens, <eos> included


def banning(ids: list[int], width: int) -> LogitsHook:
    """A hook that bans the tokens ``ids`` (of a vocabulary of ``width``) at every step."""
    row = np.zeros(width, dtype=np.float32)
    row[ids] = -np.inf
    return lambda generated: np.tile(row, (len(generated), 1))


class TorchUniforms:
    """The uniform numbers ``torch.rand`` draws on a CPU from ``torch.Generator`` seeded
    with ``seed`` (Mersenne Twister, 24 bits per float32), so a decoder without torch draws
    exactly what torch's would. ``seed`` None: fresh entropy."""

    def __init__(self, seed: int | None):
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        state = np.random.RandomState(seed & 0xFFFFFFFF).get_state()  # torch keeps 32 bits
        self._bits = np.random.MT19937()
        self._bits.state = {"bit_generator": "MT19937", "state": {"key": state[1], "pos": state[2]}}

    def rand(self, n: int) -> np.ndarray:
        """(n,) float32 in [0, 1)."""
        raw = self._bits.random_raw(n)
        return ((raw & 0xFFFFFF).astype(np.float32) * np.float32(2.0 ** -24))


class Decoder(ABC):
    """A model's vocabulary and tokenizing, as a decoder needs them; a subclass writes
    (``_generate``). Build once, call ``generate`` many times."""

    device_type = "cpu"

    def __init__(self, vocab: Vocab, level: str = "char", mode: str = "poems"):
        self.vocab = vocab
        self.level = level
        self.stream = mode == "stream"
        self.join = join_function(level)
        # Tokens that are never written: padding, a second <bos>, <unk>, and <eos> where
        # the model never saw one (a stream has no ends).
        # A conditioned model's <sep> and poet tokens open a poem and are never written.
        self.conditioning = Conditioning(vocab)
        self.banned_ids = ([vocab.pad_id, vocab.bos_id, vocab.unk_id]
                           + ([vocab.eos_id] if self.stream else []) + self.conditioning.token_ids)

    def _prompt(self, start: str, title: str = "", poet: str = "") -> tuple[list[str], list[int]]:
        """The start text's tokens and the ids fed for them (after a conditioned model's
        title and poet)."""
        tokens = tokenize(start, self.level, cache=False) if start else []
        if not self.stream:  # poems: every character must be known, and <bos> opens
            head = self.conditioning.prefix(self.title_tokens(title), poet or None)
            return tokens, [*head, *self.vocab.encode(tokens, strict=True)]
        if title or poet:
            raise LstmkitError("a model of running text reads no title or poet")
        unknown = self.vocab.unknown(tokens)
        if unknown:
            log.warning("%d start token(s) outside the vocabulary, read as <unk>: %s",
                        len(unknown), " ".join(unknown[:10]))
        ids = self.vocab.encode(tokens)
        if not ids:  # nothing to continue: start as after a line break, if the model knows one
            ids = [self.vocab.index.get("\n", self.vocab.unk_id)]
        return tokens, ids

    def title_tokens(self, title: str) -> list[str]:
        """A title as the model reads it; one it cannot read is an error."""
        if not title:
            return []
        kept = title_chars(title)
        if not kept:
            raise LstmkitError(f"title '{printable(title)}' has no Chinese characters")
        if len(kept) > MAX_TITLE:
            raise LstmkitError(f"title '{printable(title)}' is longer than {MAX_TITLE} characters")
        return tokenize(kept, self.level, cache=False)

    def guided(self, config: SampleConfig, title: str, poet: str) -> bool:
        """Whether to steer by the title and poet: n more rows then read the same poems
        without them, and each step moves the written rows' log-probabilities away from
        theirs by ``config.guidance``."""
        return bool(config.guidance and (title or poet) and self.conditioning.active)

    def samples(self, start_tokens: list[str], generated: list[list[int]],
                logprobs: list[float]) -> list[Sample]:
        eos = self.vocab.eos_id
        return [Sample(text=self.join(start_tokens + self.vocab.decode_tokens(ids)),
                       finished=bool(ids) and ids[-1] == eos, logprob=float(lp), tokens=len(ids))
                for ids, lp in zip(generated, logprobs)]

    def generate(self, start: str = "", n: int = 1, config: SampleConfig = SampleConfig(),
                 hook: LogitsHook | None = None, title: str = "", poet: str = "") -> list[Sample]:
        """``n`` continuations of ``start``, each until ``<eos>`` or ``config.max_len`` tokens;
        a model trained with titles and poets (``data.condition``) writes to ``title`` in
        the manner of ``poet``."""
        if n < 1:
            raise LstmkitError(f"n must be at least 1 (got {n})")
        return self._generate(start, n, config, hook, title, poet)

    @abstractmethod
    def _generate(self, start: str, n: int, config: SampleConfig, hook: LogitsHook | None,
                  title: str, poet: str) -> list[Sample]:
        """``generate`` for ``n`` at least 1: the decoder's own loop."""

    def generate_finished(self, start: str = "", n: int = 1,
                          config: SampleConfig = SampleConfig(), hook: LogitsHook | None = None,
                          rounds: int = 5, title: str = "", poet: str = "") -> list[Sample]:
        """``n`` non-empty samples that the model ended with ``<eos>`` (whole poems).

        Unfinished samples are dropped and more are drawn, ``rounds`` batches at most;
        if too few finish, raises ``LstmkitError`` suggesting a larger ``max_len``.
        """
        kept: list[Sample] = []
        for round_ in range(rounds):
            seed = config.round_seed(round_)
            batch = self.generate(start, n - len(kept), replace(config, seed=seed), hook, title, poet)
            kept.extend(s for s in batch if s.finished and s.text)  # an empty poem is no poem
            if len(kept) == n:
                return kept
        raise LstmkitError(f"only {len(kept)} of {n} samples ended within max_len="
                           f"{config.max_len} tokens; raise --max-len")


def poem_lines(text: str) -> list[str]:
    """Split a poem into its sentences: a line ends after 。？！ or ；."""
    lines, current = [], ""
    for char in text:
        current += char
        if char in "。？！；":
            lines.append(current)
            current = ""
    if current:
        lines.append(current)
    return lines
