"""Vocab: tokens <-> ids, with special tokens, saved with the model as plain JSON.

Ids 0-3 are always ``<pad> <bos> <eos> <unk>``; the rest follow in a deterministic
order (most frequent first, ties broken by the token itself), so the same corpus and
settings give the same ids on every machine.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..errors import CheckpointError, VocabError

VOCAB_FILE = "vocab.json"  # where a language model's folder keeps its vocabulary

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
log = logging.getLogger(__name__)

SPECIALS = (PAD, BOS, EOS, UNK)


class Vocab:
    """A fixed list of tokens; ``encode`` maps a token sequence (a str is a sequence of chars)."""

    def __init__(self, tokens: Sequence[str]):
        if tuple(tokens[: len(SPECIALS)]) != SPECIALS:
            raise VocabError(f"vocabulary must start with {' '.join(SPECIALS)}")
        if len(set(tokens)) != len(tokens):
            raise VocabError("vocabulary holds a token twice")
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {tok: i for i, tok in enumerate(self.tokens)}
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = range(len(SPECIALS))

    @classmethod
    def build(cls, texts: Iterable[Sequence[str]], min_freq: int = 1,
              max_size: int | None = None) -> Vocab:
        """Count tokens over ``texts``; keep those seen ``min_freq`` times or more."""
        counts: Counter = Counter()
        for text in texts:
            counts.update(text)
        return cls.from_counts(counts, min_freq, max_size)

    @classmethod
    def from_counts(cls, counts: Counter, min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """The vocabulary of tokens counted ``counts`` times (see ``build``)."""
        if min_freq < 1:
            raise VocabError(f"min_freq must be at least 1 (got {min_freq})")
        counts = Counter(counts)
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted((tok for tok, n in counts.items() if n >= min_freq),
                        key=lambda tok: (-counts[tok], tok))
        if counts and not ranked:  # a model of <unk> alone learns nothing
            top = max(counts.values())
            raise VocabError(f"min_freq {min_freq} leaves {len(ranked)} of {len(counts)} tokens in "
                             f"the vocabulary (the most frequent appears {top} times); lower --min-freq")
        kept = sum(counts[tok] for tok in ranked)
        total = sum(counts.values())
        if kept < 0.5 * total:
            log.warning("min_freq %d leaves %d tokens in the vocabulary: %.0f%% of the training "
                        "text becomes <unk>", min_freq, len(ranked), 100 * (1 - kept / total))
        if max_size is not None:
            ranked = ranked[: max(0, max_size - len(SPECIALS))]
        return cls(list(SPECIALS) + ranked)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def unknown(self, text: Sequence[str]) -> list[str]:
        """The distinct tokens of ``text`` outside the vocabulary, in order of appearance."""
        return list(dict.fromkeys(tok for tok in text if tok not in self.index))

    def encode(self, text: Sequence[str], strict: bool = False) -> list[int]:
        """Ids for ``text``; unknown tokens become ``<unk>``, or raise ``VocabError`` if strict."""
        if strict:
            missing = self.unknown(text)
            if missing:
                shown = " ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")
                raise VocabError(
                    f"{len(missing)} character(s) not in the model's vocabulary: {shown}")
        unk = self.unk_id
        return [self.index.get(tok, unk) for tok in text]

    def decode(self, ids: Iterable[int], keep_special: bool = False) -> str:
        """Join the tokens of ``ids``; special tokens are left out unless asked for."""
        return "".join(self.decode_tokens(ids, keep_special))

    def decode_tokens(self, ids: Iterable[int], keep_special: bool = False) -> list[str]:
        """The tokens of ``ids``; special tokens are left out unless asked for."""
        first = 0 if keep_special else len(SPECIALS)
        return [self.tokens[i] for i in ids if i >= first]

    def to_dict(self) -> dict:
        return {"format": "lstmkit-vocab", "version": 1, "tokens": self.tokens}

    @classmethod
    def from_dict(cls, data: dict) -> Vocab:
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise CheckpointError("vocab.json has no 'tokens' list of strings")
        return cls(tokens)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"cannot read vocabulary '{path}': {exc}") from exc
        try:
            return cls.from_dict(data)
        except VocabError as exc:
            raise CheckpointError(f"vocabulary '{path}' is invalid: {exc}") from exc
