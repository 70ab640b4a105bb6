"""A plain LSTM poetry model in the style of the classic tutorials, as a benchmark baseline.

Deliberately simple, and written apart from lstmkit's model, training and sampling code:

- embedding -> LSTM (2 layers by default, batch_first) -> linear head: untied, no dropout,
  fp32 always;
- each step draws a random batch of poems and pads it to the batch's longest poem
  (no length bucketing); the loss ignores the padding;
- plain Adam at a fixed learning rate, no clipping, ``loss.item()`` every step;
- generation feeds the WHOLE prefix again for every new character (no carried state),
  one poem at a time.

Only the data side is shared with lstmkit (its cleaned poems and its ``Vocab``), so both
models see exactly the same sequences ``<bos> c1 ... cn <eos>`` and the same ids.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from lstmkit.sample import draw

LEARNING_RATE = 1e-3  # the tutorials' usual Adam setting


class Specials(NamedTuple):
    """The special token ids the reference needs: lstmkit's ``Vocab`` puts them at 0-3."""

    pad: int
    bos: int
    eos: int
    unk: int

    @classmethod
    def of(cls, vocab) -> Specials:
        return cls(vocab.pad_id, vocab.bos_id, vocab.eos_id, vocab.unk_id)


class PoetryModel(nn.Module):
    """Embedding -> LSTM -> Linear. The attribute names match lstmkit's ``LanguageModel``
    (untied, no dropout), so the same weights can be loaded into either for tests."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, layers: int = 2):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_size)
        self.rnn = nn.LSTM(embedding_size, hidden_size, layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """``tokens`` (B, T) -> logits (B, T, V), always from a zero state."""
        out, _ = self.rnn(self.embedding(tokens))  # (B, T, H)
        return self.head(out)


def encode(texts: Sequence[str], vocab) -> list[list[int]]:
    """``[bos, ids..., eos]`` per poem, as plain lists."""
    ids = Specials.of(vocab)
    return [[ids.bos, *vocab.encode(text), ids.eos] for text in texts]


def pad_batch(sequences: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets (B, T), both padded to the longest sequence of the batch."""
    longest = max(len(s) for s in sequences)
    rows = [s + [pad_id] * (longest - len(s)) for s in sequences]
    padded = torch.tensor(rows, dtype=torch.long)  # (B, T+1)
    return padded[:, :-1], padded[:, 1:]


def random_batches(sequences: list[list[int]], batch_size: int, seed: int = 0
                   ) -> Iterator[list[list[int]]]:
    """Endless random batches: reshuffle every epoch, cut in order, no sorting by length."""
    rng = random.Random(seed)
    order = list(range(len(sequences)))
    while True:
        rng.shuffle(order)
        for start in range(0, len(order), batch_size):
            yield [sequences[i] for i in order[start:start + batch_size]]


@dataclass
class TrainStats:
    steps: int
    seconds: float  # wall time of the whole run
    tokens: int  # real (non-pad) target tokens trained on
    positions: int  # computed target positions, padding included
    tokens_per_s: float  # after the first ``warmup_steps`` steps
    mean_loss: float  # mean training loss over the run


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_for(model: PoetryModel, batches: Iterator[list[list[int]]], pad_id: int,
              device: torch.device, seconds: float = 0.0, steps: int = 0,
              warmup_steps: int = 5) -> TrainStats:
    """Train until ``seconds`` of wall time or ``steps`` steps (whichever is set and first).

    Throughput leaves out the first ``warmup_steps`` steps (allocator, kernels, caches).
    """
    if not seconds and not steps:
        raise ValueError("train_for needs a time budget (seconds) or a step count (steps)")
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    criterion = nn.CrossEntropyLoss(ignore_index=pad_id)
    model.train()
    step = tokens = positions = 0
    loss_total = 0.0
    warm_tokens, warm_time = 0, None
    started = time.perf_counter()
    for sequences in batches:
        inputs, targets = pad_batch(sequences, pad_id)
        inputs, targets = inputs.to(device), targets.to(device)
        logits = model(inputs)  # (B, T, V)
        loss = criterion(logits.flatten(0, 1), targets.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_total += loss.item()  # the tutorials print this every step; it waits for the GPU
        step += 1
        tokens += sum(len(s) - 1 for s in sequences)
        positions += targets.numel()
        if step == warmup_steps:
            _sync(device)
            warm_tokens, warm_time = tokens, time.perf_counter()
        if (steps and step >= steps) or (seconds and time.perf_counter() - started >= seconds):
            break
    _sync(device)
    ended = time.perf_counter()
    if warm_time is None or step == warmup_steps:  # too short a run to leave warm-up out
        warm_tokens, warm_time = 0, started
    return TrainStats(steps=step, seconds=ended - started, tokens=tokens, positions=positions,
                      tokens_per_s=(tokens - warm_tokens) / max(ended - warm_time, 1e-9),
                      mean_loss=loss_total / step)


@torch.no_grad()
def perplexity(model: PoetryModel, sequences: list[list[int]], pad_id: int,
               device: torch.device, batch_size: int = 64) -> float:
    """exp(mean negative log-likelihood per predicted token) over every sequence."""
    model.eval()
    criterion = nn.CrossEntropyLoss(ignore_index=pad_id, reduction="sum")
    nll, count = 0.0, 0
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start:start + batch_size]
        inputs, targets = pad_batch(chunk, pad_id)
        logits = model(inputs.to(device))  # (B, T, V)
        nll += criterion(logits.flatten(0, 1).float(), targets.to(device).flatten()).item()
        count += sum(len(s) - 1 for s in chunk)
    model.train()
    return math.exp(nll / count)


def next_token_probs(logits: torch.Tensor, banned: torch.Tensor, temperature: float
                     ) -> torch.Tensor:
    """Sampling distribution (1, V) from last-position logits (1, V)."""
    logits = logits.float().index_fill(-1, banned, float("-inf"))
    return torch.softmax(logits / temperature, dim=-1)


@torch.no_grad()
def generate_poem(model: PoetryModel, ids: Specials, max_len: int, temperature: float = 0.8,
                  seed: int = 0, stop_at_eos: bool = True) -> list[int]:
    """Sample up to ``max_len`` tokens after ``<bos>``; each step re-reads the whole prefix.

    ``<pad> <bos> <unk>`` are never written; with ``stop_at_eos=False`` neither is
    ``<eos>``, so every poem is exactly ``max_len`` characters.
    """
    model.eval()
    device = next(model.parameters()).device
    banned = [ids.pad, ids.bos, ids.unk] + ([] if stop_at_eos else [ids.eos])
    banned = torch.tensor(banned, device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    prefix = [ids.bos]
    generated: list[int] = []
    for _ in range(max_len):
        logits = model(torch.tensor([prefix], device=device))[:, -1]  # (1, V)
        probs = next_token_probs(logits, banned, temperature)
        # lstmkit's own sampling primitive, so both sides draw identically from one seed
        # and the comparison isolates re-reading the prefix against carrying the state.
        token = int(draw(probs, gen)[0])
        generated.append(token)
        if token == ids.eos:
            break
        prefix.append(token)
    return generated
