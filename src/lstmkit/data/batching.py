"""Batches for training: poems that spend little compute on padding, and windows of a
long token stream for truncated back-propagation through time.

``PoemBatches``: each poem is one sequence ``<bos> c1 ... cn <eos>``; the model reads ``<bos> c1 ... cn``
and predicts ``c1 ... cn <eos>``. Poems are shuffled, then sorted by length inside
pools of ``pool`` batches, so a batch holds poems of nearly one length and the pad
positions (ignored by the loss) stay a few percent of the work. The plan for an epoch
is a pure function of ``(seed, epoch)``: a resumed run sees the same batches.

``StreamBatches``: the whole text is one token stream, cut into ``batch_size`` stripes
read side by side in windows of ``seq_len`` tokens; the recurrent state at the end of
window k of a stripe is where window k+1 of that stripe starts (``Batch.carry``).

``ArrayBatches``: examples already cut into tensors (windows of a series, sequences of
vectors) with a target each, shuffled per epoch; variable-length sequences carry their
lengths so the model can pack them. ``EpochBatches`` passes over small data several times
an epoch, so that a few dozen examples get as many steps between validations as thousands.

All share one interface: ``steps(world)`` batches per epoch for each of ``world``
processes, ``plan(epoch, rank, world)`` the keys of one process's batches, and
``collate(key)`` the batch of a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence

from .vocab import Vocab


@dataclass(frozen=True)
class Batch:
    inputs: torch.Tensor  # (B, T) token ids, padded with pad_id
    targets: torch.Tensor  # (B, T) next-token ids, pad_id where there is nothing to predict
    tokens: int  # real (non-pad) target tokens
    chars: float  # characters of text those targets stand for (for bits per character)
    carry: bool = False  # the rows continue the previous batch's rows: carry the state

    def to(self, device: torch.device | str) -> Batch:
        return Batch(self.inputs.to(device, non_blocking=True),
                     self.targets.to(device, non_blocking=True), self.tokens, self.chars,
                     self.carry)


def encode_poems(texts: Sequence[Sequence[str]], vocab: Vocab) -> list[torch.Tensor]:
    """One int64 tensor ``[bos, ids..., eos]`` per text."""
    return [torch.tensor([vocab.bos_id, *vocab.encode(text), vocab.eos_id], dtype=torch.long)
            for text in texts]


class PoemBatches:
    """Length-bucketed batches over encoded poems (see the module docstring)."""

    def __init__(self, sequences: list[torch.Tensor], batch_size: int, pad_id: int,
                 shuffle: bool = True, seed: int = 0, pool: int = 64,
                 chars: Sequence[int] | None = None, prefix: Sequence[int] | None = None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        self.sequences = sequences
        # Leading targets that are given, not predicted (a conditioned poem's title and poet).
        self.prefix = torch.tensor(list(prefix), dtype=torch.long) if prefix is not None else None
        self.lengths = torch.tensor([len(s) - 1 for s in sequences], dtype=torch.long)
        if self.prefix is not None:
            self.lengths -= self.prefix  # predicted tokens: the body and <eos>
        # Characters per poem; by default one per token, <eos> not counted.
        self.chars = (torch.tensor(list(chars), dtype=torch.long) if chars is not None
                      else self.lengths - 1)
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

    @property
    def units(self) -> str:
        return f"{len(self.sequences)} poems"

    def steps(self, world: int = 1) -> int:
        """Batches per epoch for each of ``world`` processes."""
        return len(self) // world

    def plan(self, epoch: int = 0, rank: int = 0, world: int = 1) -> list[list[int]]:
        """Process ``rank``'s batches of ``epoch`` as lists of poem indices: every
        ``world``-th batch of one shared plan (a training loop takes ``steps(world)``
        of them, so that every process makes the same number of steps)."""
        return self._plan(epoch)[rank::world]

    def fingerprint(self) -> str:
        """A short hash of the encoded poems, to notice a changed corpus on resume."""
        return _digest(self.sequences)

    def _plan(self, epoch: int) -> list[list[int]]:
        size = self.batch_size
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True).tolist()
            return [order[i:i + size] for i in range(0, len(order), size)]
        return self._buckets(torch.arange(len(self.sequences)), epoch)

    def _buckets(self, candidates: torch.Tensor, epoch: int) -> list[list[int]]:
        """``candidates`` (sequence indices) shuffled by ``(seed, epoch)``, sorted by length
        within pools, cut into batches, and the batches shuffled."""
        size = self.batch_size
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = candidates[torch.randperm(len(candidates), generator=gen)]
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
        targets = padded[:, 1:]
        if self.prefix is not None:
            given = torch.arange(targets.shape[1]) < self.prefix[indices, None]
            targets = targets.masked_fill(given, self.pad_id)
        return Batch(padded[:, :-1], targets, int(self.lengths[indices].sum()),
                     float(self.chars[indices].sum()))


def count_id(stream, token: int) -> int:
    """How often ``token`` occurs in a token stream (a tensor, or a token file read in pieces)."""
    if isinstance(stream, torch.Tensor):
        return int((stream == token).sum())
    return sum(int(np.count_nonzero(piece == token)) for piece in stream.pieces())


def _digest(tensors: Sequence[torch.Tensor]) -> str:
    digest = hashlib.blake2b(digest_size=8)
    for tensor in tensors:
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


class StreamBatches:
    """Windows of one long token stream read by parallel stripes (see the module docstring).

    With ``world`` processes the stream is cut into ``batch_size * world`` stripes and
    process ``rank`` reads its own ``batch_size`` of them, so each keeps its state across
    its own windows. With ``shuffle`` every epoch after the first starts its windows at a
    seeded offset below ``seq_len``, so window boundaries move between epochs.
    """

    def __init__(self, stream: torch.Tensor, batch_size: int, seq_len: int,
                 shuffle: bool = True, seed: int = 0, chars_per_token: float = 1.0):
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch_size and seq_len must be at least 1 "
                             f"(got {batch_size} and {seq_len})")
        self.stream = stream  # (N,) token ids: a tensor, or a token file (data.token_cache)
        self.pad_id = -100  # no position is padding (the loss's default ignore index)
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.shuffle = shuffle
        self.seed = seed
        self.chars_per_token = chars_per_token

    @property
    def units(self) -> str:
        return f"{len(self.stream)} tokens"

    @property
    def tokens(self) -> int:
        return self.steps() * self.batch_size * self.seq_len

    def _stripe_len(self, world: int) -> int:
        return (len(self.stream) - 1) // (self.batch_size * world)

    def steps(self, world: int = 1) -> int:
        """Windows per epoch; the last ``seq_len - 1`` tokens of a stripe are kept for the
        shifted epochs when shuffling."""
        usable = self._stripe_len(world) - (self.seq_len - 1 if self.shuffle else 0)
        return max(0, usable // self.seq_len)

    def plan(self, epoch: int = 0, rank: int = 0, world: int = 1) -> list[tuple[int, ...]]:
        """Keys ``(offset, window, rank, world)`` of process ``rank``'s batches."""
        offset = 0
        if self.shuffle and epoch > 0:
            gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            offset = int(torch.randint(self.seq_len, (1,), generator=gen))
        return [(offset, k, rank, world) for k in range(self.steps(world))]

    def padding_fraction(self, plan: list) -> float:
        return 0.0

    def fingerprint(self) -> str:
        if isinstance(self.stream, torch.Tensor):
            return _digest([self.stream])
        digest = hashlib.blake2b(digest_size=8)  # the same bytes as the tensor's, in pieces
        for piece in self.stream.pieces():
            digest.update(piece.tobytes())
        return digest.hexdigest()

    def collate(self, key: tuple[int, ...]) -> Batch:
        offset, window, rank, world = key
        b, t = self.batch_size, self.seq_len
        stripe = self._stripe_len(world)
        rows = torch.arange(rank * b, (rank + 1) * b)  # this process's stripes
        starts = rows * stripe + offset + window * t  # (B,)
        positions = starts[:, None] + torch.arange(t + 1)  # (B, T+1)
        if isinstance(self.stream, torch.Tensor):
            chunk = self.stream[positions]
        else:  # a token file (data.token_cache.TokenFile): read only these windows
            chunk = torch.from_numpy(self.stream.windows(starts.tolist(), t + 1))
        return Batch(chunk[:, :-1], chunk[:, 1:], b * t, b * t * self.chars_per_token,
                     carry=window > 0)


@dataclass(frozen=True)
class ArrayBatch:
    inputs: torch.Tensor  # (B, T, F) values per time step, padded after each length
    targets: torch.Tensor  # (B, ...) what to predict for each example
    lengths: torch.Tensor | None  # (B,) real time steps, or None when all are T
    tokens: int  # real time steps read
    carry: bool = False  # examples are independent: no state crosses batches

    def to(self, device: torch.device | str) -> ArrayBatch:
        return ArrayBatch(self.inputs.to(device, non_blocking=True),
                          self.targets.to(device, non_blocking=True),
                          None if self.lengths is None else self.lengths.to(device),
                          self.tokens)


class ArrayBatches:
    """Batches of ``batch_size`` examples of ``inputs`` (N, T, F) and ``targets`` (N, ...),
    in a seeded order per epoch when ``shuffle`` (see the module docstring)."""

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, batch_size: int,
                 lengths: torch.Tensor | None = None, shuffle: bool = True, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1 (got {batch_size})")
        if len(inputs) != len(targets) or (lengths is not None and len(lengths) != len(inputs)):
            raise ValueError("inputs, targets and lengths must have one row per example")
        self.inputs, self.targets, self.lengths = inputs, targets, lengths
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed

    def __len__(self) -> int:
        return -(-len(self.inputs) // self.batch_size)

    @property
    def examples(self) -> int:
        return len(self.inputs)

    @property
    def tokens(self) -> int:
        if self.lengths is None:
            return len(self.inputs) * self.inputs.shape[1]
        return int(self.lengths.sum())

    def steps(self, world: int = 1) -> int:
        return len(self) // world

    def order(self, epoch: int = 0) -> list[int]:
        """The examples' order in ``epoch``: seeded by ``(seed, epoch)``, or as given."""
        if not self.shuffle:
            return list(range(len(self.inputs)))
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.inputs), generator=gen).tolist()

    def plan(self, epoch: int = 0, rank: int = 0, world: int = 1) -> list[list[int]]:
        """Process ``rank``'s batches of ``epoch`` as lists of example indices."""
        return _cut(self.order(epoch), self.batch_size)[rank::world]

    def fingerprint(self) -> str:
        return _digest([self.inputs.contiguous(), self.targets.contiguous()])

    def collate(self, indices: list[int]) -> ArrayBatch:
        index = torch.tensor(indices, dtype=torch.long)
        lengths = None if self.lengths is None else self.lengths[index]
        inputs = self.inputs[index]
        if lengths is not None:
            inputs = inputs[:, :int(lengths.max())]  # no step past the longest of this batch
        tokens = inputs.shape[0] * inputs.shape[1] if lengths is None else int(lengths.sum())
        return ArrayBatch(inputs, self.targets[index], lengths, tokens)


def _cut(order: list[int], size: int) -> list[list[int]]:
    return [order[i:i + size] for i in range(0, len(order), size)]


class EpochBatches:
    """``batches``' examples ``passes`` times per epoch: the seeded orders of ``passes``
    epochs of ``batches`` one after another, cut into batches (so only the epoch's last batch
    may be short), without copying the data."""

    def __init__(self, batches: ArrayBatches, passes: int = 1):
        if passes < 1:
            raise ValueError(f"passes must be at least 1 (got {passes})")
        self.batches = batches
        self.passes = passes

    @classmethod
    def at_least(cls, batches: ArrayBatches, steps: int, world: int = 1) -> EpochBatches:
        """As many passes as it takes to make at least ``steps`` batches per process."""
        return cls(batches, max(1, -(-steps // max(batches.steps(world), 1))))

    def __len__(self) -> int:
        return -(-self.examples * self.passes // self.batches.batch_size)

    @property
    def examples(self) -> int:
        return self.batches.examples

    @property
    def tokens(self) -> int:
        return self.batches.tokens * self.passes

    def steps(self, world: int = 1) -> int:
        return len(self) // world

    def plan(self, epoch: int = 0, rank: int = 0, world: int = 1) -> list[list[int]]:
        """Process ``rank``'s batches of ``epoch``."""
        order = [i for p in range(self.passes) for i in self.batches.order(epoch * self.passes + p)]
        return _cut(order, self.batches.batch_size)[rank::world]

    def collate(self, indices: list[int]) -> ArrayBatch:
        return self.batches.collate(indices)

    def fingerprint(self) -> str:
        return self.batches.fingerprint()
