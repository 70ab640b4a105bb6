"""A sampled softmax for training a language model's head on a CPU.

The full softmax scores every position against the whole vocabulary: three
(tokens x embedding x vocabulary) matmuls per step and a log-softmax over all of it, about
40% of a training step for a 2 x 512 model over 6,400 characters. Here each batch is
scored against a subset S of the vocabulary instead:

- every token that is a target somewhere in the batch (U), exactly, and
- ``negatives`` tokens drawn uniformly, without replacement, from the rest R, each
  standing for |R| / negatives of them: its logit gets log(|R| / negatives) added.

So the sum of exp(logits) over S is an unbiased estimate of the full softmax's normaliser
(exact when ``negatives`` >= |R|, when this is the full cross-entropy), and the head's
rows outside the batch's targets still get pushed down, in proportion. A batch of 64 Tang
poems has about 950 distinct targets, so with 256 negatives a step computes about a fifth
of the head. The draw uses torch's global generator, which a run saves for exact resume.
Evaluation and writing never come here: they use the full softmax.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.device import autocast
from ..data.batching import Batch


def candidates(targets: torch.Tensor, vocab_size: int, negatives: int
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For the (N,) ``targets``: the ids to score (the sorted distinct targets, then the
    drawn negatives), the log-weight added to each one's logit, and each target's index
    among them."""
    device = targets.device
    distinct = targets.unique()  # sorted
    chosen = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    chosen[distinct] = True
    order = torch.randperm(vocab_size, device=device)
    rest = order[~chosen[order]]  # the other ids, in random order
    drawn = rest[:negatives]
    log_weight = math.log(len(rest) / len(drawn)) if len(drawn) else 0.0
    ids = torch.cat([distinct, drawn])
    offsets = torch.cat([torch.zeros(len(distinct), device=device),
                         torch.full((len(drawn),), log_weight, device=device)])
    return ids, offsets, torch.searchsorted(distinct, targets)


def sampled_loss(net, head: torch.nn.Linear, batch: Batch, pad_id: int, amp: torch.dtype | None,
                 negatives: int, state=None):
    """The mean cross-entropy of the batch's targets (padding ignored) against the sampled
    subset of ``head``'s rows, and the recurrent state after the batch. ``net`` is the
    language model (or its DDP wrapper), ``head`` its output layer."""
    with autocast(batch.inputs.device, amp):
        features, state = net(batch.inputs, state, head=False)  # (B, T, E)
    keep = batch.targets != pad_id
    targets = batch.targets[keep]
    ids, offsets, index = candidates(targets, head.weight.shape[0], negatives)
    with autocast(batch.inputs.device, amp):
        logits = F.linear(features[keep], head.weight[ids], head.bias[ids])  # (N, |S|)
    return F.cross_entropy(logits.float() + offsets, index), state
