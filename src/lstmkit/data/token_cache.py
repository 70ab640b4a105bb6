"""Plain-text corpora tokenized once into token files, so that stream training reads its
batches from disk and its memory does not grow with the corpus.

``cached_stream`` reads a plain text file (``text`` / ``lines`` format, characters as
tokens) in pieces of ``CHUNK_CHARS`` and never holds it whole: a first pass counts its
characters; a second reads the training part, finding the validation cut exactly where
``corpus.split_text`` puts it and counting the training characters for the vocabulary
(``Vocab.from_counts``, so the ids are those of ``Vocab.build``); a third writes the ids of
the training and validation parts, uint16 when the vocabulary allows, uint32 otherwise. The files live in
``$LSTMKIT_CACHE/tokens/`` (default ``~/.cache/lstmkit/tokens/``), named by a hash of the
file's path, size and modification time and of the settings; a JSON file written last
marks a complete entry, so a killed run leaves no entry that looks whole. The folder can be
deleted at any time. ``TokenFile`` reads the windows a batch needs; the streams equal
``vocab.encode(list(text))`` of the in-memory path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.folders import alive
from ..errors import CorpusError, LstmkitError
from .encoding import not_utf8_at
from .vocab import Vocab

log = logging.getLogger(__name__)

CACHE_ENV = "LSTMKIT_CACHE"
CHUNK_CHARS = 4_000_000  # characters read at a time: about 16 MB as code points
_VERSION = 1
_WINDOW = 1000  # corpus.split_text looks this far back from the cut for a newline


class TokenFile:
    """A stream of token ids in a file, read with ``os.pread``: only the windows a batch asks
    for enter memory (a memory map would count every page it ever touched as the
    process's own)."""

    def __init__(self, path: Path, dtype, length: int):
        self.path, self.dtype, self.length = path, np.dtype(dtype), length
        self._fd: int | None = None
        self._pid = -1

    def __len__(self) -> int:
        return self.length

    def _handle(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
            self._fd, self._pid = os.open(self.path, os.O_RDONLY), os.getpid()
        return self._fd

    def read(self, start: int, count: int) -> np.ndarray:
        """Tokens ``start`` .. ``start + count`` (fewer at the end), as int64."""
        count = max(0, min(count, self.length - start))
        size = self.dtype.itemsize
        data = os.pread(self._handle(), count * size, start * size)
        return np.frombuffer(data, dtype=self.dtype).astype(np.int64)

    def windows(self, starts, width: int) -> np.ndarray:
        """(len(starts), width) int64: the ``width`` tokens from each start."""
        return np.stack([self.read(int(s), width) for s in starts])

    def pieces(self, size: int = 1 << 22) -> Iterator[np.ndarray]:
        for start in range(0, self.length, size):
            yield self.read(start, size)

    def tolist(self) -> list[int]:
        return [int(t) for piece in self.pieces() for t in piece]

    def __del__(self):
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)


@dataclass
class CachedStream:
    train: TokenFile  # token ids of the training part
    val: TokenFile  # ... of the validation part (empty when there is none)
    vocab: Vocab
    lines: int  # lines read, for the corpus report
    path: Path  # the cache entry's JSON file


def cache_folder() -> Path:
    root = os.environ.get(CACHE_ENV)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "lstmkit") / "tokens"


def _pieces(path: Path) -> Iterator[str]:
    """The file's text in pieces, read as ``Path.read_text`` reads it (BOM dropped, every
    line end a ``\\n``)."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            while piece := handle.read(CHUNK_CHARS):
                yield piece
    except UnicodeDecodeError as exc:
        raise CorpusError(f"corpus '{path}': not UTF-8 text ({not_utf8_at(path)})") from exc


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def _measure(path: Path) -> tuple[int, int]:
    """``(characters, lines)`` of the text; an empty (or blank) one is an error."""
    total = lines = 0
    blank = True
    for piece in _pieces(path):
        total += len(piece)
        lines += piece.count("\n")
        blank = blank and not piece.strip()
    if blank:
        raise CorpusError(f"corpus '{path}' is empty")
    return total, lines + 1


def _split(path: Path, total: int, val_fraction: float, count: bool) -> tuple[int, Counter | None]:
    """Where ``split_text`` cuts the text (after the last newline among the ``_WINDOW``
    characters before the fraction's cut), and, with ``count``, the training part's
    characters counted: one pass over the training part."""
    cut = total if val_fraction == 0 else int(total * (1.0 - val_fraction))
    low = cut if val_fraction == 0 else max(0, cut - _WINDOW)
    counts = np.zeros(0x110000, dtype=np.int64) if count else None
    window, offset = [], 0
    for piece in _pieces(path):
        if offset >= cut:
            break
        if counts is not None and offset < low:
            counts += np.bincount(_codes(piece[:low - offset]), minlength=0x110000)
        if offset + len(piece) > low:
            window.append(piece[max(0, low - offset):cut - offset])
        offset += len(piece)
    text = "".join(window)
    newline = text.rfind("\n")
    if newline >= 0:
        text = text[:newline + 1]
    if counts is not None:
        counts += np.bincount(_codes(text), minlength=0x110000)
    found = None if counts is None else Counter({chr(c): int(counts[c]) for c in np.flatnonzero(counts)})
    return low + len(text), found


def _write(path: Path, cut: int, vocab: Vocab, train_file: Path, val_file: Path, dtype) -> None:
    table = np.full(0x110000, vocab.unk_id, dtype=np.uint32)
    for token, index in vocab.index.items():
        if len(token) == 1:
            table[ord(token)] = index
    offset = 0
    with train_file.open("wb") as train, val_file.open("wb") as val:
        for piece in _pieces(path):
            ids = table[_codes(piece)].astype(dtype)
            split = min(max(cut - offset, 0), len(piece))
            train.write(ids[:split].tobytes())
            val.write(ids[split:].tobytes())
            offset += len(piece)


def _key(path: Path, val_fraction: float, min_freq: int, vocab: Vocab | None) -> str:
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=12)
    digest.update(f"{_VERSION}\0{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}\0"
                  f"{val_fraction!r}\0{min_freq}\0".encode())
    if vocab is not None:
        digest.update("\0".join(vocab.tokens).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _open(meta_file: Path, vocab: Vocab | None) -> CachedStream | None:
    try:
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        dtype = np.dtype(meta["dtype"])
        known = vocab or Vocab(meta["vocab"])
        parts = []
        for name in ("train", "val"):
            file = meta_file.with_name(meta[f"{name}_file"])
            if file.stat().st_size != meta[f"{name}_tokens"] * dtype.itemsize:
                return None
            parts.append(TokenFile(file, dtype, meta[f"{name}_tokens"]))
    except (OSError, ValueError, KeyError, TypeError, LstmkitError):
        return None
    return CachedStream(parts[0], parts[1], known, meta["lines"], meta_file)


def _clear_leftovers(folder: Path) -> None:
    """Remove the half-written files of writers that died (killed mid-way)."""
    for file in folder.glob(".*.tmp-*"):
        pid = file.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not alive(int(pid)):
            file.unlink(missing_ok=True)


def cached_stream(path: str | Path, val_fraction: float, min_freq: int = 1,
                  vocab: Vocab | None = None) -> CachedStream:
    """The character tokens of a plain-text corpus, split and encoded as the in-memory path
    does (the vocabulary built from the training part unless ``vocab`` is given), from the
    cache or written to it first."""
    path = Path(path)
    folder = cache_folder()
    key = _key(path, val_fraction, min_freq, vocab)
    meta_file = folder / f"{key}.json"
    if (found := _open(meta_file, vocab)) is not None:
        log.info("read the tokens of '%s' from the cache %s", path, meta_file)
        return found
    total, lines = _measure(path)
    cut, counts = _split(path, total, val_fraction, count=vocab is None)
    if vocab is None:
        vocab = Vocab.from_counts(counts, min_freq=min_freq)
    dtype = np.uint16 if len(vocab) <= 2**16 else np.uint32
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _clear_leftovers(folder)
        tmp = [folder / f".{key}.{name}.tmp-{os.getpid()}" for name in ("train", "val", "json")]
        try:
            _write(path, cut, vocab, tmp[0], tmp[1], dtype)
            meta = {"format": "lstmkit-tokens", "version": _VERSION, "source": str(path.resolve()),
                    "chars": total, "lines": lines, "cut": cut, "dtype": np.dtype(dtype).name,
                    "train_file": f"{key}.train", "val_file": f"{key}.val",
                    "train_tokens": cut, "val_tokens": total - cut, "vocab": vocab.tokens}
            tmp[2].write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp[0], folder / f"{key}.train")
            os.replace(tmp[1], folder / f"{key}.val")
            os.replace(tmp[2], meta_file)  # last: the entry is complete
        finally:
            for file in tmp:
                file.unlink(missing_ok=True)
    except OSError as exc:
        raise LstmkitError(f"cannot write the token cache in '{folder}' ({exc.strerror or exc}); "
                           f"free some space or point {CACHE_ENV} at another folder") from exc
    log.info("tokenized '%s' into %s (%d + %d tokens)", path, meta_file, cut, total - cut)
    found = _open(meta_file, vocab)
    if found is None:
        raise LstmkitError(f"the token cache entry {meta_file} could not be read back")
    return found
