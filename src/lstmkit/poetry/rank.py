"""Choosing among candidate poems: forward and backward models together, plus the craft.

The forward model alone favours safe text whose start is likely, whatever its end; a model
that reads the poem right to left (trained with ``lstmkit train --reverse``) judges each
line by what follows it, so a poem both models find likely holds together from either end.
A candidate's score is::

    (1 - BACKWARD) forward + BACKWARD backward   mean log-probability per token of each model
    + PARALLEL * mean middle-couplet score   律诗: how well 颔联 and 颈联 pair (parallel.py)
    - REPEAT * repeats past the allowance    characters reused beyond what real poems of
                                             the form reuse (repetition.py), per poem

Without a backward model the forward score stands alone in the first term. (A 2×256
backward model trained here for two epochs on a CPU judged spliced poems no better than
chance and, at any share, lowered ``bench/rank_judge.py``'s judge, so none is used by
default; BENCHMARKS.md has the numbers.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.condition import Conditioning
from ..decoding import Sample
from ..errors import LstmkitError
from .check import split_lines
from .forms import VerseForm
from .parallel import default_table as parallel_table
from .repetition import default_table as repetition_table
from .repetition import repeat_stats

BACKWARD = 0.5  # the backward model's share of the models' score, when one is given
PARALLEL = 0.5
REPEAT = 0.5


@dataclass(frozen=True)
class Candidate:
    sample: Sample
    forward: float  # mean log-probability per generated token, forward model
    backward: float | None  # the same for the whole poem read backwards, or None
    couplets: float  # mean middle-couplet score (0 for other forms)
    repeats: float  # repeats past the allowance of the form

    @property
    def score(self) -> float:
        models = (self.forward if self.backward is None
                  else (1 - BACKWARD) * self.forward + BACKWARD * self.backward)
        return models + PARALLEL * self.couplets - REPEAT * self.repeats


class BackwardScorer:
    """Log-probabilities of whole poems read right to left, by a reversed model
    (``tasks.lm.Loaded`` whose data settings say ``reverse``)."""

    def __init__(self, loaded, name: str = "backward model"):
        if not loaded.text_config.reverse:
            raise LstmkitError(f"{name} reads poems left to right: a backward model is trained "
                               "with lstmkit train --reverse")
        self.model, self.vocab = loaded.model, loaded.vocab

    def mean_logprobs(self, texts: list[str]) -> list[float]:
        """Per text: the mean log-probability per token of it read backwards (and the end)."""
        return mean_logprobs(self.model, self.vocab, texts, reverse=True)


def mean_logprobs(model, vocab, texts: list[str], reverse: bool = False) -> list[float]:
    """Per text: the mean log-probability per token that the language model ``model`` gives
    its characters (read right to left when ``reverse``) and the end, in one padded batch."""
    import torch  # only here: choosing among candidates without a backward model needs none

    head = Conditioning(vocab).prefix()  # <bos>, and <sep> for a conditioned model (not scored)
    rows = [[*head, *vocab.encode(list(text[::-1] if reverse else text)), vocab.eos_id]
            for text in texts]
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), vocab.pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row)
    ids = ids.to(next(model.parameters()).device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            logits, _ = model(ids[:, :-1])  # (N, T-1, V)
    finally:
        model.train(was_training)
    logp = torch.log_softmax(logits.float(), dim=-1)
    target = ids[:, 1:]
    picked = logp.gather(-1, target[..., None])[..., 0]  # (N, T-1)
    real = target != vocab.pad_id
    real[:, :len(head) - 1] = False
    return ((picked * real).sum(1) / real.sum(1)).tolist()


def repeats_over(text: str, form: VerseForm | None) -> float:
    """Characters of ``text`` reused beyond the real share of its form (0 when within)."""
    stats = repeat_stats(text)
    allowance = repetition_table().repeat_share(form) * stats.chars
    return max(0.0, stats.repeats - allowance)


def rank(samples: list[Sample], form: VerseForm | None,
         backward: BackwardScorer | None = None) -> list[Candidate]:
    """``samples`` as candidates, best first."""
    if not samples:
        return []
    back = backward.mean_logprobs([s.text for s in samples]) if backward else [None] * len(samples)
    # Only a 律诗 has middle couplets to score: others need not read the table (50 ms).
    table = parallel_table() if form is not None and form.regulated and form.lines == 8 else None
    found = []
    for sample, b in zip(samples, back):
        couplets = table.couplets([x.text for x in split_lines(sample.text)]) if table else []
        found.append(Candidate(
            sample, sample.logprob / max(1, sample.tokens), b,
            sum(c.score for c in couplets) / len(couplets) if couplets else 0.0,
            repeats_over(sample.text, form)))
    return sorted(found, key=lambda c: -c.score)
