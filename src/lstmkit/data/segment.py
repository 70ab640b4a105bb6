"""Tokenisation for character- and word-level language models, and the way back to text.

- ``char``: one token per character.
- ``word``: runs of Han characters are segmented by jieba (却说 / 天下 / 大势); everything
  else becomes English-like words (letters and digits, inner apostrophes kept: don't, o'er)
  and single punctuation marks. Every newline is a token of its own; other whitespace is
  dropped, and ``detokenize`` puts spaces back where English wants them.

jieba segments a few hundred thousand characters a second, a cost every training run on a
large corpus would pay again, so the word tokens of a long text are cached in
``$LSTMKIT_CACHE/segment/`` (default ``~/.cache/lstmkit/segment/``), one JSON file per text,
named by a hash of the text and the settings; the folder can be deleted at any time. Long
texts are cut at line boundaries and the pieces segmented on several cores.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import ModuleType

from ..errors import LstmkitError
from .corpus import HAN_CHARS

log = logging.getLogger(__name__)

LEVELS = ("char", "word")
CACHE_ENV = "LSTMKIT_CACHE"  # folder for the segmentation cache; default ~/.cache/lstmkit

_FORMAT_VERSION = 1  # bump whenever word tokens change, so old cache files are not used
_CHUNK_CHARS = 200_000  # one piece of parallel work: under a second of jieba
# Shorter texts (prompts, single poems) segment in well under a second; caching them would
# only fill the folder with one file per prompt.
_CACHE_MIN_CHARS = 10_000

# One token per match, tried in order: a run of Han characters (handed to jieba), a word of
# letters and digits with inner apostrophes, a newline, other whitespace (dropped), and any
# other single character (punctuation, symbols).
_LETTER = rf"[^\W_{HAN_CHARS}]"
_TOKEN = re.compile(
    rf"(?P<han>[{HAN_CHARS}]+)"
    rf"|(?P<word>{_LETTER}+(?:['’]{_LETTER}+)*)"
    r"|(?P<newline>\n)"
    r"|(?P<space>[^\S\n]+)"
    r"|(?P<mark>.)"
)

_SPECIAL = re.compile(r"<[^<>\s]+>")  # <unk>, <eos>, ...: never part of the text
# Written without spaces on either side: Han, CJK punctuation, kana, full-width forms.
_CJK = re.compile(f"[{HAN_CHARS}\u3000-\u30ff\uff00-\uffef]")
_OPENING = frozenset("([{“‘")
_CLOSING = frozenset(",.;:!?)]}'”’%…")
_JOINERS = frozenset("-/–—")  # well-known, and/or, 1914–1918
_NOT = frozenset(("n't", "n’t"))  # a contraction split off by other tokenizers: do + n't


def tokenize(
    text: str, level: str = "char", cache: bool = True, workers: int | None = None
) -> list[str]:
    """Tokens of ``text`` at ``level`` (``char`` or ``word``).

    ``char`` is ``list(text)``; the caller has already normalised newlines. ``word`` keeps
    each ``'\\n'`` as a token, drops spaces and tabs, and segments Han runs with jieba (HMM
    on). Word tokens of long texts are read from and written to the cache unless ``cache``
    is False; texts of several pieces are segmented by ``workers`` processes (default: one
    per core), with the same result as in one process.
    """
    _check_level(level)
    if workers is not None and workers < 1:
        raise LstmkitError(f"workers must be at least 1 (got {workers})")
    if level == "char":
        return list(text)
    jieba = _jieba()
    path = None
    if cache and len(text) >= _CACHE_MIN_CHARS:
        path = _cache_path(text, level, jieba.__version__)
        tokens = _read_cache(path)
        if tokens is not None:
            log.info("read %d word tokens from the segmentation cache %s", len(tokens), path)
            return tokens
    tokens = _segment(text, workers or os.cpu_count() or 1)
    if path is not None:
        _write_cache(path, tokens)
    return tokens


def detokenize(tokens: Sequence[str]) -> str:
    """Text from word tokens, with spaces only where the writing system wants them.

    No space next to Han characters, CJK or full-width punctuation, or a newline; none
    before closing punctuation (``, . ; : ! ? ) ] } ' ” ’``) or a contraction (``'s``,
    ``n't``), none after opening punctuation (``( [ { “ ‘``), none around hyphens and
    slashes; straight double quotes open and close in turn. Anywhere else, between two
    words or a word and an opening bracket, one space. Special tokens such as ``<unk>``
    are dropped.
    """
    pieces: list[str] = []
    left = ""
    in_quotes = False  # inside a straight "...": the next " closes it
    for token in tokens:
        if not token or _SPECIAL.fullmatch(token):
            continue
        if left and _needs_space(left, token, in_quotes):
            pieces.append(" ")
        if token == '"':
            in_quotes = not in_quotes
        pieces.append(token)
        left = token
    return "".join(pieces)


def join_function(level: str) -> Callable[[Sequence[str]], str]:
    """How tokens of ``level`` become text: ``"".join`` for char, ``detokenize`` for word."""
    _check_level(level)
    return "".join if level == "char" else detokenize


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise LstmkitError(f"unknown tokenisation level {level!r}: use one of {', '.join(LEVELS)}")


def _needs_space(left: str, right: str, in_quotes: bool) -> bool:
    """Whether a space goes between the tokens ``left`` and ``right``."""
    if left[-1].isspace() or right[0].isspace():
        return False
    if _CJK.match(left[-1]) or _CJK.match(right[0]):
        return False
    if right[0] in _CLOSING or right in _NOT or left[-1] in _OPENING:
        return False
    if left in _JOINERS or right in _JOINERS:
        return False
    if '"' in (left, right):
        # Before an opening quote and after a closing one, a space; inside the quotes, none.
        return not in_quotes
    return True


def _jieba() -> ModuleType:
    """The jieba module, imported on first use so char-level users never load it."""
    try:
        import jieba
    except ImportError:
        raise LstmkitError("word level needs the 'jieba' package: pip install jieba") from None
    # jieba announces building its dictionary on stderr through its own logger.
    jieba.setLogLevel(logging.WARNING)
    return jieba


def _segment_chunk(text: str) -> list[str]:
    """Word tokens of one piece of text, segmented here and now (no cache, no processes)."""
    jieba = _jieba()
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "han":
            tokens.extend(jieba.lcut(match.group(), HMM=True))
        elif kind != "space":
            tokens.append(match.group())
    return tokens


def _chunks(text: str, size: int) -> list[str]:
    """``text`` cut just after a newline about every ``size`` characters.

    No token spans a newline, so segmenting the pieces gives the tokens of the whole.
    """
    chunks = []
    start = 0
    while start < len(text):
        newline = text.find("\n", start + size)
        end = len(text) if newline == -1 else newline + 1
        chunks.append(text[start:end])
        start = end
    return chunks


def _segment(text: str, workers: int) -> list[str]:
    """Word tokens of ``text``, its pieces segmented by up to ``workers`` processes."""
    began = time.perf_counter()
    chunks = _chunks(text, _CHUNK_CHARS)
    processes = min(workers, len(chunks))
    if processes <= 1:
        parts = [_segment_chunk(chunk) for chunk in chunks]
    else:
        with ProcessPoolExecutor(processes) as pool:
            parts = list(pool.map(_segment_chunk, chunks))
    tokens = [token for part in parts for token in part]
    # Worth a line only for a corpus, not for a prompt.
    log.log(logging.INFO if len(text) >= _CACHE_MIN_CHARS else logging.DEBUG,
            "segmented %d characters into %d word tokens in %.1f s (%d processes)",
            len(text), len(tokens), time.perf_counter() - began, max(processes, 1))
    return tokens


def _cache_path(text: str, level: str, jieba_version: str) -> Path:
    """Where the tokens of ``text`` are cached: named by a hash of the text and settings."""
    root = os.environ.get(CACHE_ENV)
    folder = (Path(root).expanduser() if root else Path.home() / ".cache" / "lstmkit") / "segment"
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{level}\0{_FORMAT_VERSION}\0jieba {jieba_version}\0".encode())
    # surrogatepass: a text read with errors="surrogateescape" still hashes.
    digest.update(text.encode("utf-8", "surrogatepass"))
    return folder / f"{digest.hexdigest()}.json"


def _read_cache(path: Path) -> list[str] | None:
    """The tokens stored at ``path``; None when there is no file or it cannot be used."""
    try:
        tokens = json.loads(path.read_text(encoding="utf-8"))
        if not (isinstance(tokens, list) and all(isinstance(token, str) for token in tokens)):
            raise ValueError("not a JSON list of strings")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        log.warning("ignoring unreadable segmentation cache %s (%s); segmenting again", path, err)
        return None
    return tokens


def _write_cache(path: Path, tokens: list[str]) -> None:
    """Store ``tokens`` at ``path`` atomically; a failure is logged, never raised."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, suffix=".tmp", delete=False
        ) as file:
            temporary = file.name
            json.dump(tokens, file, ensure_ascii=False, separators=(",", ":"))
        os.replace(temporary, path)
    except (OSError, ValueError) as err:
        log.warning("could not write the segmentation cache %s (%s); going on without it",
                    path, err)
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.remove(temporary)
