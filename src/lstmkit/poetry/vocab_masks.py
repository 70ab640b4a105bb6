"""The vocabulary as the form sees it: which tokens are Han characters, which have a
平 or 仄 reading, which rhyme in each 平水韵 group, and where the line marks are. Built once
per vocabulary (and prosody) and shared by every ``constraint.FormConstraint`` over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..data.corpus import HAN
from ..data.vocab import Vocab
from .prosody import PING, ZE, Prosody


@dataclass(frozen=True)
class VocabMasks:
    """Boolean masks (V,) over a vocabulary, computed once per vocabulary."""

    han: np.ndarray  # single Han characters
    tone: dict[str, np.ndarray]  # 平 / 仄: characters with a reading of that tone
    known: np.ndarray  # characters whose tone is known (an unknown one never goes where a tone is held)
    group: dict[str, np.ndarray]  # rhyme group -> the characters that rhyme there by a dominant reading
    mark_id: dict[str, int]  # ， 。 、 -> token id, for those in the vocabulary


@lru_cache(maxsize=8)
def vocab_masks(vocab: Vocab, prosody: Prosody) -> VocabMasks:
    han: list[int] = []
    tone: dict[str, list[int]] = {PING: [], ZE: []}
    group: dict[str, list[int]] = {g: [] for g in prosody.groups}
    for index, token in enumerate(vocab.tokens):
        if len(token) != 1 or not HAN.match(token):
            continue
        han.append(index)
        reading = prosody.read(token)
        for t in reading.tones:
            tone[t].append(index)
        for g in reading.rhyme_groups:  # the masks serve rhyme positions only
            if g in group:
                group[g].append(index)

    def mask(indices: list[int]) -> np.ndarray:  # one assignment per mask, not per character
        out = np.zeros(len(vocab), dtype=bool)
        out[indices] = True
        return out

    tones = {t: mask(indices) for t, indices in tone.items()}
    return VocabMasks(mask(han), tones, tones[PING] | tones[ZE],
                      {g: mask(indices) for g, indices in group.items()},
                      {m: vocab.index[m] for m in "，。、" if m in vocab})
