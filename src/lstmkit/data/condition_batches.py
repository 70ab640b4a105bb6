"""Training batches of a title- and poet-conditioned model (see ``data.condition``): each
poem encoded in every variant, and an epoch's plan that picks one variant per poem."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .batching import PoemBatches
from .condition import Conditioning
from .vocab import Vocab

Encoded = tuple[list[torch.Tensor], list[int]]  # sequences, and the given tokens ahead of each body


def encode_variant(bodies: Sequence[Sequence[str]], titles: Sequence[Sequence[str]],
                   poets: Sequence[str], vocab: Vocab, use_title: bool, use_poet: bool) -> Encoded:
    """Each poem as ``<bos> [poet] [title] <sep> body <eos>``, with or without its title and
    poet, and how many targets of each are given, not predicted (``PoemBatches(prefix=)``)."""
    cond = Conditioning(vocab)
    rows, given = [], []
    for body, title, poet in zip(bodies, titles, poets):
        head = cond.prefix(title if use_title else None, poet if use_poet else None, strict=False)
        rows.append(torch.tensor([*head, *vocab.encode(body), vocab.eos_id], dtype=torch.long))
        given.append(len(head) - 1)  # the targets up to <sep>
    return rows, given


def encode_variants(bodies: Sequence[Sequence[str]], titles: Sequence[Sequence[str]],
                    poets: Sequence[str], vocab: Vocab, with_poets: bool) -> list[Encoded]:
    """Each poem's variants: without title or poet, with its title, and (``with_poets``)
    with its poet, and with both; one ``encode_variant`` per variant, in that order."""
    shapes = [(False, False), (True, False)] + ([(False, True), (True, True)] if with_poets else [])
    return [encode_variant(bodies, titles, poets, vocab, t, p) for t, p in shapes]


class ConditionedBatches(PoemBatches):
    """``PoemBatches`` over every variant of every poem; an epoch's plan shows each poem
    once, with its title with probability ``share`` and its poet (when there are poet
    variants) with probability ``share``, drawn from ``(seed, epoch)``."""

    def __init__(self, variants: list[Encoded], share: float, batch_size: int,
                 vocab: Vocab, seed: int = 0, chars: Sequence[int] | None = None):
        self.poems = len(variants[0][0])
        self.share = share
        super().__init__([seq for rows, _ in variants for seq in rows], batch_size, vocab.pad_id,
                         shuffle=True, seed=seed,
                         chars=list(chars) * len(variants) if chars is not None else None,
                         prefix=[n for _, given in variants for n in given])
        self.n_variants = len(variants)

    def __len__(self) -> int:
        return -(-self.poems // self.batch_size)

    @property
    def tokens(self) -> int:
        return int(self.lengths[: self.poems].sum())  # bodies and <eos>: the same in every variant

    @property
    def units(self) -> str:
        return f"{self.poems} poems"

    def _plan(self, epoch: int) -> list[list[int]]:
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch + 7_777)
        titled = (torch.rand(self.poems, generator=gen) < self.share).long()
        poet = ((torch.rand(self.poems, generator=gen) < self.share).long()
                if self.n_variants == 4 else torch.zeros(self.poems, dtype=torch.long))
        chosen = (titled + 2 * poet) * self.poems + torch.arange(self.poems)
        return self._buckets(chosen, epoch)
