"""Poems about something: a language model conditioned on a poem's title and poet.

A conditioned model (``TextConfig.condition > 0``) reads each poem as

    <bos> [<poet:NAME>] [title tokens] <sep> body <eos>

and predicts only the body and ``<eos>``: the prefix is given, never scored, so its
perplexity counts the same tokens as a plain model's. In training each poem is shown with
its title with probability ``condition`` and, drawn separately, with its poet's token;
the draws change every epoch, so the model learns to write with and without them. The
``poets`` most prolific poets of the training split get a token each; the others share
``<poet:*>``. Unconditioned writing starts from ``<bos> <sep>``.

``Conditioning`` turns a title and a poet into the prefix ids, for training and writing
alike (this module loads no torch, so ``lstmkit poets`` starts fast);
``condition_batches.ConditionedBatches`` are ``PoemBatches`` that pick each poem's variant
per epoch.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from ..errors import LstmkitError
from .vocab import Vocab

SEP = "<sep>"
POET_PREFIX, OTHER_POET = "<poet:", "<poet:*>"
MAX_TITLE = 16  # title tokens kept (the longest titles are whole prefaces)
_NOT_HAN = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def poet_token(name: str) -> str:
    return f"{POET_PREFIX}{name}>"


def title_chars(title: str) -> str:
    """The Han characters of a title (its punctuation, spaces and notes' marks dropped)."""
    return _NOT_HAN.sub("", title)


def clean_title(title: str) -> str:
    """A title as the model reads it: its Han characters, the first ``MAX_TITLE``."""
    return title_chars(title)[:MAX_TITLE]


def top_poets(authors: Sequence[str], k: int) -> list[str]:
    """The ``k`` poets with the most poems (ties by name); unnamed poems do not count."""
    counts = Counter(a for a in authors if a)
    return sorted(counts, key=lambda a: (-counts[a], a))[:k]


def extend_vocab(vocab: Vocab, poets: Sequence[str]) -> Vocab:
    """``vocab`` with ``<sep>``, ``<poet:*>`` and one token per poet appended."""
    extra = [SEP, OTHER_POET, *(poet_token(p) for p in poets)]
    return Vocab([*(t for t in vocab.tokens if t not in extra), *extra])


class Conditioning:
    """What a model's vocabulary says about conditioning: is it conditioned, which poets
    it knows; ``prefix`` builds the ids that open a sequence."""

    def __init__(self, vocab: Vocab):
        self.vocab = vocab
        self.sep_id = vocab.index.get(SEP)
        self.poets = [t[len(POET_PREFIX):-1] for t in vocab.tokens
                      if t.startswith(POET_PREFIX) and t != OTHER_POET]
        self.token_ids = [i for i, t in enumerate(vocab.tokens) if t == SEP or t.startswith(POET_PREFIX)]

    @property
    def active(self) -> bool:
        return self.sep_id is not None

    def poet_id(self, poet: str, strict: bool = True) -> int:
        poet = poet.strip()
        token = self.vocab.index.get(poet_token(poet))
        if token is not None:
            return token
        if strict:
            shown = "、".join(self.poets[:12]) + (" ..." if len(self.poets) > 12 else "")
            raise LstmkitError(f"poet '{poet}' is not one the model knows (it knows {len(self.poets)}: "
                               f"{shown}; lstmkit poets lists them)")
        return self.vocab.index[OTHER_POET]

    def prefix(self, title: Sequence[str] | None = None, poet: str | None = None,
               strict: bool = True) -> list[int]:
        """``<bos> [poet] [title] <sep>``, or ``<bos>`` alone for a plain model (which
        refuses a title or poet). ``strict``: an unknown title character or poet is an
        error (writing); otherwise ``<unk>`` and ``<poet:*>`` (training on a corpus)."""
        if not self.active:
            if title or poet:
                raise LstmkitError("this model was trained without titles and poets (lstmkit "
                                   "train --condition); write without --title, --theme or --poet")
            return [self.vocab.bos_id]
        ids = [self.vocab.bos_id]
        if poet:
            ids.append(self.poet_id(poet, strict))
        if title:
            if strict:
                missing = self.vocab.unknown(title)
                if missing:
                    raise LstmkitError(f"title character(s) not in the model's vocabulary: "
                                       f"{' '.join(missing[:20])}")
            ids.extend(self.vocab.encode(title))
        ids.append(self.sep_id)
        return ids
