"""A sampled softmax for training a language model's head on a CPU.

The full softmax scores every position against the whole vocabulary: three
(tokens x embedding x vocabulary) matmuls per step and a log-softmax over all of it, about
40% of a training step for a 2 x 512 model over 6,400 characters. Here each batch is
scored against a subset S of the vocabulary instead:

- every token that is a target somewhere in the batch, and the ``keep`` lowest ids (the
  special tokens and the most frequent, as a Vocab ranks them), exactly (U), and
- ``negatives`` tokens drawn uniformly, without replacement, from the rest R, each
  standing for |R| / negatives of them: its logit gets log(|R| / negatives) added.

So the sum of exp(logits) over S is an unbiased estimate of the full softmax's normaliser
(exact when ``negatives`` >= |R|, when this is the full cross-entropy), and the head's
rows outside the batch's targets still get pushed down, in proportion. A batch of 64 Tang
poems has about 950 distinct targets, so with 256 negatives a step computes about a fifth
of the head. The draw uses torch's global generator, which a run saves for exact resume.
Evaluation and writing never come here: they use the full softmax.

A token drawn only now and then gets a rare, scaled-up push-down, which Adam's per-weight
steps shrink; keeping the most frequent tokens in every step (``keep``, about 1,024 for
Tang characters) spares the tokens that carry most of the probability. On the whole Tang
corpus that halves the per-token gap to the full softmax (BENCHMARKS.md, "CPU training").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.device import autocast
from ..data.batching import Batch


def candidates(targets: torch.Tensor, vocab_size: int, negatives: int, keep: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For the (N,) ``targets``: the ids to score (the sorted distinct targets and ids
    below ``keep``, then the drawn negatives), the log-weight added to each one's logit,
    and each target's index among them."""
    device = targets.device
    chosen = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    chosen[targets] = True
    chosen[:keep] = True
    distinct = chosen.nonzero().squeeze(1)  # sorted
    order = torch.randperm(vocab_size, device=device)
    rest = order[~chosen[order]]  # the other ids, in random order
    drawn = rest[:negatives]
    log_weight = math.log(len(rest) / len(drawn)) if len(drawn) else 0.0
    ids = torch.cat([distinct, drawn])
    offsets = torch.cat([torch.zeros(len(distinct), device=device),
                         torch.full((len(drawn),), log_weight, device=device)])
    return ids, offsets, torch.searchsorted(distinct, targets)


def sampled_loss(net, head: torch.nn.Linear, batch: Batch, pad_id: int, amp: torch.dtype | None,
                 negatives: int, state=None, keep: int = 0):
    """The mean cross-entropy of the batch's targets (padding ignored) against the sampled
    subset of ``head``'s rows, and the recurrent state after the batch. ``net`` is the
    language model (or its DDP wrapper), ``head`` its output layer; ``keep`` as in
    ``candidates``."""
    with autocast(batch.inputs.device, amp):
        features, state = net(batch.inputs, state, head=False)  # (B, T, E)
    real = batch.targets != pad_id
    targets = batch.targets[real]
    ids, offsets, index = candidates(targets, head.weight.shape[0], negatives, keep)
    with autocast(batch.inputs.device, amp):
        # index_select, not w[ids]: its gradient is an index_add, 4x faster than index_put
        logits = F.linear(features[real], head.weight.index_select(0, ids),
                          head.bias.index_select(0, ids))  # (N, |S|)
    return F.cross_entropy(logits.float() + offsets, index), state
