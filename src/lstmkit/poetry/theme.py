"""``--theme``: a few keywords turned into a title that a conditioned model knows how to
write to.

A title-conditioned model (``data.condition``) learned from real titles, so the best prompt
is a real title: among the Tang training titles (``titles.json``, built by
``scripts/build_titles.py``), the one holding the most keywords, then the one with the
fewest other characters, then the most common. Keywords that title lacks open the title,
so every keyword reaches the model. ``theme_title`` returns the title and a line saying how
it was found; a keyword with a character the model does not know is an error naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources

from ..data.condition import MAX_TITLE, title_chars
from ..data.vocab import Vocab
from ..errors import LstmkitError, printable

MAX_KEYWORDS = 8
_SPLIT = re.compile(r"[\s,，、;；/|]+")


@lru_cache(maxsize=1)
def title_table() -> tuple[list[str], list[int]]:
    """The real titles, most common first, and how many poems carry each."""
    data = json.loads(resources.files(__package__).joinpath("titles.json").read_text(encoding="utf-8"))
    return data["titles"].split("\n"), data["counts"]


def split_keywords(theme: str | Sequence[str]) -> list[str]:
    """Keywords from ``月 秋 送别``, ``月,秋,送别`` or a list; repeats dropped."""
    words = _SPLIT.split(theme) if isinstance(theme, str) else [w for t in theme for w in _SPLIT.split(t)]
    return list(dict.fromkeys(w for w in words if w))


def _check(keywords: list[str], vocab: Vocab) -> None:
    if not keywords:
        raise LstmkitError("--theme needs at least one keyword, e.g. --theme '月 秋 送别'")
    if len(keywords) > MAX_KEYWORDS:
        raise LstmkitError(f"--theme takes at most {MAX_KEYWORDS} keywords (got {len(keywords)})")
    for word in keywords:
        if title_chars(word) != word:
            raise LstmkitError(f"theme keyword '{printable(word)}' is not all Chinese characters")
        missing = vocab.unknown(word)
        if missing:
            raise LstmkitError(f"theme keyword '{word}' has character(s) the model does not know: "
                               f"{' '.join(missing)}; try another word")
    if sum(map(len, keywords)) > MAX_TITLE:
        raise LstmkitError(f"the theme's keywords hold more than {MAX_TITLE} characters; use fewer")


def theme_title(theme: str | Sequence[str], vocab: Vocab) -> tuple[str, str]:
    """``(title, how)`` for the keywords of ``theme`` (see the module docstring)."""
    keywords = split_keywords(theme)
    _check(keywords, vocab)
    titles, counts = title_table()
    best, best_key = None, None
    for title, count in zip(titles, counts):
        hits = [w for w in keywords if w in title]
        if not hits:
            continue
        key = (len(hits), -(len(title) - sum(map(len, hits))), count)
        if (best_key is None or key > best_key) and not vocab.unknown(title):
            best, best_key = title, key
    if best is None:
        return "".join(keywords), "no Tang title holds these keywords: they are the title"
    lacking = [w for w in keywords if w not in best]
    title = ("".join(lacking) + best)[:MAX_TITLE]
    found = f"the Tang title {best} ({best_key[2]} poem{'s' if best_key[2] > 1 else ''})"
    return title, found + (f", opened by {'、'.join(lacking)}" if lacking else "")


def title_or_theme(title: str, theme: str | Sequence[str] | None, vocab: Vocab,
                   names: tuple[str, str] = ("a title", "a theme")) -> tuple[str, str | None]:
    """The title to write to and how it was found: ``title`` itself (how: None), or the
    real title ``theme``'s keywords find (``theme_title``). Both at once is an error that
    names them as ``names`` (a front-end's words: its options or fields)."""
    if theme is None:
        return title, None
    if title:
        raise LstmkitError(f"give {names[0]} or {names[1]}, not both")
    return theme_title(theme, vocab)
