"""The distinct masks a constraint uses, built once each and gathered for a batch of rows.

Over a whole batch, the rows of a constrained poem ask for few distinct masks: the Han
characters of one tone, the characters of a set of rhyme groups, one punctuation mark. A
``MaskBank`` gives each distinct mask a number the first time its key is seen, keeps it as
a row of one table and as the set of its token ids (for cheap membership tests in Python),
and ``gather`` turns one number per row into the batch's (N, V) mask in a single indexing
operation, where building a mask per row per step cost more than the model's own step.
The table holds masks as additive logits (0 allowed, -inf not): adding them is several
times cheaper on a CPU than ``masked_fill`` with a boolean mask of the same shape.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np


class MaskBank:
    """Boolean masks (V,) by key, numbered in the order first seen."""

    def __init__(self, size: int):
        self.size = size
        self._number: dict[Hashable, int] = {}
        self._members: list[frozenset[int]] = []
        self._table = np.zeros((16, size), dtype=np.float32)  # additive: 0 allowed, -inf not

    def number(self, key: Hashable, build: Callable[[], np.ndarray]) -> int:
        """The number of the mask ``key`` names; ``build()`` makes it (V,) the first time."""
        found = self._number.get(key)
        if found is not None:
            return found
        mask = build()
        found = len(self._members)
        if found == len(self._table):  # full: double the table
            self._table = np.concatenate([self._table, np.zeros_like(self._table)])
        self._table[found] = np.where(mask, 0.0, -np.inf)
        self._members.append(frozenset(np.flatnonzero(mask).tolist()))
        self._number[key] = found
        return found

    def single(self, token: int | None) -> int:
        """The number of the mask allowing only ``token`` (nothing at all for None)."""
        def build() -> np.ndarray:
            mask = np.zeros(self.size, dtype=bool)
            if token is not None:
                mask[token] = True
            return mask
        return self.number(("single", token), build)

    def members(self, number: int) -> frozenset[int]:
        """The token ids mask ``number`` allows."""
        return self._members[number]

    def gather(self, numbers: list[int]) -> np.ndarray:
        """(N, V) float: row i is mask ``numbers[i]`` as additive logits, 0 where allowed
        and -inf elsewhere (a new array, free to change)."""
        return self._table[np.asarray(numbers, dtype=np.intp)]
