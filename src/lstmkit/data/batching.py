"""Poem batches that spend little compute on padding.

Each poem is one sequence ``<bos> c1 ... cn <eos>``; the model reads ``<bos> c1 ... cn``
and predicts ``c1 ... cn <eos>``. Poems are shuffled, then sorted by length inside
pools of ``pool`` batches, so a batch holds poems of nearly one length and the pad
positions (ignored by the loss) stay a few percent of the work. The plan for an epoch
is a pure function of ``(seed, epoch)``: a resumed run sees the same batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from .vocab import Vocab


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # (B, T) token ids, padded with pad_id
    targets: torch.Tensor  # (B, T) next-token ids, pad_id where there is nothing to predict
    tokens: int  # real (non-pad) target tokens

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.inputs.to(device, non_blocking=True),
                     self.targets.to(device, non_blocking=True), self.tokens)


def encode_poems(texts: Sequence[Sequence[str]], vocab: Vocab) -> list[torch.Tensor]:
    """One int64 tensor ``[bos, ids..., eos]`` per text."""
    return [torch.tensor([vocab.bos_id, *vocab.encode(text), vocab.eos_id], dtype=torch.long)
            for text in texts]


class PoemBatches:
    """Length-bucketed batches over encoded poems (see the module docstring)."""

    def __init__(self, sequences: list[torch.Tensor], batch_size: int, pad_id: int,
                 shuffle: bool = True, seed: int = 0, pool: int = 64):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        self.sequences = sequences
        self.lengths = torch.tensor([len(s) - 1 for s in sequences], dtype=torch.long)
        self.batch_size = batch_size
        self.pad_id = pad_id
        self.shuffle = shuffle
        self.seed = seed
        self.pool = pool

    def __len__(self) -> int:
        return -(-len(self.sequences) // self.batch_size)

    @property
    def tokens(self) -> int:
        """Real target tokens in one pass over the data."""
        return int(self.lengths.sum())

    def plan(self, epoch: int = 0) -> list[list[int]]:
        """The batches of ``epoch`` as lists of sequence indices."""
        size = self.batch_size
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True).tolist()
            return [order[i:i + size] for i in range(0, len(order), size)]
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(len(self.sequences), generator=gen)
        batches: list[list[int]] = []
        span = size * self.pool
        for start in range(0, len(perm), span):
            chunk = perm[start:start + span]
            chunk = chunk[torch.argsort(self.lengths[chunk], stable=True)].tolist()
            batches.extend(chunk[i:i + size] for i in range(0, len(chunk), size))
        shuffled = torch.randperm(len(batches), generator=gen).tolist()
        return [batches[i] for i in shuffled]

    def padding_fraction(self, plan: list[list[int]]) -> float:
        """Share of the computed positions that are padding."""
        real = padded = 0
        for indices in plan:
            lengths = self.lengths[indices]
            real += int(lengths.sum())
            padded += int(lengths.max()) * len(indices)
        return 1.0 - real / padded if padded else 0.0

    def collate(self, indices: list[int]) -> Batch:
        seqs = [self.sequences[i] for i in indices]
        padded = pad_sequence(seqs, batch_first=True, padding_value=self.pad_id)  # (B, T+1)
        return Batch(padded[:, :-1], padded[:, 1:], int(self.lengths[indices].sum()))
