"""Read and clean poems, and split them into training and validation sets.

Formats (``detect_format`` picks one from the path, ``--format`` overrides):

- ``jsonl``: one JSON object per line, the chinese-poetry schema
  ``{"title", "author", "paragraphs"}``; Song ci name the tune in ``rhythmic``.
- ``json``: one JSON array of such objects (a file of the chinese-poetry repository).
- ``dir``: a folder of such array files, e.g. the repository's ``全唐诗/`` with
  ``poet.tang.*.json``; files whose records have no ``paragraphs`` (author lists) are skipped.
- ``titled``: the tutorials' ``title:content`` lines.
- ``lines``: plain text, one poem per non-empty line.
- ``text``: plain text; for stream training (``load_text``) the whole file is one token
  stream, for poem training each non-empty line is a poem, as with ``lines``.

Cleaning is explicit (``CleanConfig``) and every dropped record is counted by reason
in a ``CorpusReport``. The split is a hash of the poem's text, so a poem lands in the
same set on every run and every machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..core.config import known_fields
from ..errors import CorpusError
from .encoding import not_utf8_at

log = logging.getLogger(__name__)

DATA_ENV = "LSTMKIT_DATA"  # a folder where relative corpus paths are also looked for
FORMATS = ("auto", "jsonl", "json", "dir", "titled", "lines", "text")

# Half-width punctuation as it appears in scraped poems, mapped to the full-width forms
# the corpus uses, so "，" and "," are one token.
_HALF_TO_FULL = str.maketrans({",": "，", ".": "。", "?": "？", "!": "！", ";": "；", ":": "："})

# Editorial marks of the sources: notes in brackets such as （一作「叉」）, [...] and 〖1〗,
# □ for a lost character, underscores and title marks. A poem holding any is dropped
# whole, since cutting the note out leaves a line of the wrong length.
_EDITORIAL = re.compile(r"[()（）\[\]［］【】〖〗{}｛｝《》〈〉<>＜＞□■●_＿/／\\]")

# Han characters: every CJK ideograph block (BMP, compatibility and the supplementary planes).
HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
HAN = re.compile(f"[{HAN_CHARS}]")
# What a cleaned poem may hold: Han characters and poem punctuation.
_PUNCTUATION = "，。？！；：、"
_ALLOWED = re.compile(f"^[{HAN_CHARS}{_PUNCTUATION}]*$")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Poem:
    """One cleaned record: ``text`` is the whole body, lines joined, punctuation kept."""

    title: str
    author: str
    text: str


@dataclass(frozen=True)
class CleanConfig:
    """How raw records become training poems. Travels with the model in config.json."""

    min_chars: int = 10
    max_chars: int = 200
    drop_marked: bool = True  # drop poems with editorial marks (brackets, □, _ ...)
    han_only: bool = True  # drop poems with anything but Han characters and punctuation
    full_width: bool = True  # turn , . ? ! ; : into ，。？！；：
    dedupe: bool = True  # keep the first of several records with the same text
    t2s: bool = False  # convert traditional to simplified characters (OpenCC t2s)

    def __post_init__(self) -> None:
        if self.min_chars < 1:
            raise CorpusError(f"min_chars must be at least 1 (got {self.min_chars})")
        if self.max_chars < self.min_chars:
            raise CorpusError(
                f"max_chars ({self.max_chars}) is smaller than min_chars ({self.min_chars})"
            )

    @classmethod
    def from_dict(cls, values: dict) -> CleanConfig:
        return cls(**known_fields(cls, values))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CorpusReport:
    """What reading a corpus did: records read, kept, and dropped by reason."""

    path: str
    format: str
    read: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # the first few malformed records

    def summary(self) -> str:
        reasons = ", ".join(f"{n} {why}" for why, n in self.dropped.most_common())
        dropped = sum(self.dropped.values())
        text = f"corpus '{self.path}' ({self.format}): read {self.read}, kept {self.kept}"
        if dropped:
            text += f", dropped {dropped} ({reasons})"
        return text


@dataclass(frozen=True)
class _Raw:
    """A record as read, before cleaning; ``problem`` is set for malformed records."""

    title: str = ""
    author: str = ""
    paragraphs: tuple[str, ...] = ()
    problem: str | None = None


def detect_format(path: Path) -> str:
    """Pick the reader for ``path`` from what it is and how its first lines look."""
    if path.is_dir():
        return "dir"
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return "json"
    with path.open(encoding="utf-8-sig", errors="replace") as handle:
        head = [line.strip() for _, line in zip(range(200), handle)]
    head = [line for line in head if line]
    if head and head[0].startswith("{"):
        return "jsonl"
    if head and head[0].startswith("["):
        return "json"
    titled = sum(1 for line in head if 0 < line.find(":") < 40)
    if head and titled >= 0.9 * len(head):
        return "titled"
    return "text"


def _record(obj: object, where: str) -> _Raw:
    if not isinstance(obj, dict):
        return _Raw(problem=f"{where}: not a JSON object")
    paragraphs = obj.get("paragraphs")
    if isinstance(paragraphs, str):
        paragraphs = [paragraphs]
    if not isinstance(paragraphs, list) or not all(isinstance(p, str) for p in paragraphs):
        return _Raw(problem=f"{where}: no 'paragraphs' list of strings")
    title = obj.get("title", obj.get("rhythmic", ""))
    author = obj.get("author", "")
    return _Raw(
        title=title if isinstance(title, str) else "",
        author=author if isinstance(author, str) else "",
        paragraphs=tuple(paragraphs),
    )


def _read_jsonl(path: Path) -> Iterator[_Raw]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield _Raw(problem=f"line {number}: not valid JSON")
                continue
            yield _record(obj, f"line {number}")


def _read_json_array(path: Path, label: str) -> Iterator[_Raw]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as exc:
        raise CorpusError(f"corpus '{path}': not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, list):
        raise CorpusError(f"corpus '{path}': expected a JSON array of poems")
    for index, obj in enumerate(data):
        yield _record(obj, f"{label}record {index + 1}")


def _read_dir(path: Path) -> Iterator[_Raw]:
    files = sorted(path.glob("*.json"))
    if not files:
        raise CorpusError(f"corpus folder '{path}' holds no .json files")
    used = 0
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("skipping '%s': not a JSON file", file.name)
            continue
        if not (isinstance(data, list) and data and isinstance(data[0], dict)
                and "paragraphs" in data[0]):
            log.info("skipping '%s': holds no poems", file.name)
            continue
        used += 1
        for index, obj in enumerate(data):
            yield _record(obj, f"{file.name} record {index + 1}")
    if not used:
        raise CorpusError(f"corpus folder '{path}' holds no files of poems (JSON arrays with 'paragraphs')")


def _read_titled(path: Path) -> Iterator[_Raw]:
    with path.open(encoding="utf-8-sig") as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line:
                continue
            title, sep, content = line.partition(":")
            if not sep:
                yield _Raw(problem=f"line {number}: no 'title:content' colon")
                continue
            yield _Raw(title=title.strip(), paragraphs=(content,))


def _read_lines(path: Path) -> Iterator[_Raw]:
    with path.open(encoding="utf-8-sig") as handle:
        for line in handle:
            if line.strip():
                yield _Raw(paragraphs=(line,))


def _raw_records(path: Path, fmt: str) -> Iterator[_Raw]:
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "json":
        return _read_json_array(path, "")
    if fmt == "dir":
        return _read_dir(path)
    if fmt == "titled":
        return _read_titled(path)
    return _read_lines(path)  # lines and text


def _t2s_converter():
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - opencc is a declared dependency
        raise CorpusError("--t2s needs the 'opencc' package: pip install opencc") from exc
    return opencc.OpenCC("t2s").convert


def clean_text(text: str, config: CleanConfig) -> tuple[str | None, str | None]:
    """Return ``(text, None)`` for a kept poem body or ``(None, reason)`` for a dropped one."""
    text = _SPACE.sub("", text)
    if config.full_width:
        text = text.translate(_HALF_TO_FULL)
    if not text:
        return None, "empty"
    if config.drop_marked and _EDITORIAL.search(text):
        return None, "editorial marks"
    if config.han_only and not _ALLOWED.match(text):
        return None, "other characters"
    if len(text) < config.min_chars:
        return None, "too short"
    if len(text) > config.max_chars:
        return None, "too long"
    return text, None


def resolve_corpus(path: str | Path) -> Path:
    """``path`` itself if it exists, else the same relative path inside ``$LSTMKIT_DATA``."""
    path = Path(path)
    if path.exists():
        return path
    data_dir = os.environ.get(DATA_ENV)
    if data_dir and not path.is_absolute() and (Path(data_dir) / path).exists():
        return Path(data_dir) / path
    where = f" (nor in {DATA_ENV}={data_dir})" if data_dir and not path.is_absolute() else ""
    raise CorpusError(f"corpus '{path}' does not exist{where}")


def _resolve_format(path: Path, fmt: str) -> str:
    if fmt not in FORMATS:
        raise CorpusError(f"unknown corpus format '{fmt}' (choose from {', '.join(FORMATS)})")
    if fmt == "auto":
        fmt = detect_format(path)
    elif fmt == "dir" and not path.is_dir():
        raise CorpusError(f"corpus '{path}' is not a folder")
    if fmt != "dir" and path.is_dir():
        raise CorpusError(f"corpus '{path}' is a folder; use --format dir or give a file")
    return fmt


def load_poems(path: str | Path, config: CleanConfig = CleanConfig(), fmt: str = "auto"
               ) -> tuple[list[Poem], CorpusReport]:
    """Read every record of ``path``, clean it, and return the kept poems with a report.

    A relative ``path`` that does not exist is also looked for in ``$LSTMKIT_DATA``.
    Malformed records (invalid JSON, no ``paragraphs``) are skipped and counted; a corpus
    with no poem left raises ``CorpusError``.
    """
    path = resolve_corpus(path)
    fmt = _resolve_format(path, fmt)
    convert = _t2s_converter() if config.t2s else None
    report = CorpusReport(path=str(path), format=fmt)
    poems: list[Poem] = []
    seen: set[str] = set()
    try:
        for raw in _raw_records(path, fmt):
            report.read += 1
            if raw.problem:
                report.dropped["malformed"] += 1
                if len(report.problems) < 5:
                    report.problems.append(raw.problem)
                continue
            body = "".join(raw.paragraphs)
            title, author = raw.title.strip(), raw.author.strip()
            if convert:
                body, title, author = convert(body), convert(title), convert(author)
            text, reason = clean_text(body, config)
            if text is None:
                report.dropped[reason] += 1
                continue
            if config.dedupe:
                if text in seen:
                    report.dropped["duplicate"] += 1
                    continue
                seen.add(text)
            poems.append(Poem(title=title, author=author, text=text))
    except UnicodeDecodeError as exc:
        raise CorpusError(f"corpus '{path}': not UTF-8 text ({not_utf8_at(path)})") from exc
    report.kept = len(poems)
    for problem in report.problems:
        log.warning("corpus '%s' %s (skipped %d of %d records)", path, problem,
                    report.dropped["malformed"], report.read)
    if not poems:
        why = "it is empty" if report.read == 0 else report.summary()
        raise CorpusError(f"corpus '{path}' has no usable poems: {why}")
    return poems, report


def split_of(text: str, val_fraction: float) -> str:
    """``"val"`` or ``"train"`` for a poem, from a hash of its text: the same everywhere."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return "val" if int.from_bytes(digest, "big") / 2**64 < val_fraction else "train"


def split_poems(poems: list[Poem], val_fraction: float) -> tuple[list[Poem], list[Poem]]:
    """Deterministic train/validation split by text hash; order within each set is kept."""
    if not 0.0 <= val_fraction < 1.0:
        raise CorpusError(f"validation fraction must be in [0, 1) (got {val_fraction})")
    train, val = [], []
    for poem in poems:
        (val if split_of(poem.text, val_fraction) == "val" else train).append(poem)
    return train, val


def load_text(path: str | Path, config: CleanConfig = CleanConfig(), fmt: str = "auto"
              ) -> tuple[str, CorpusReport]:
    """The corpus as one text, for stream training.

    A plain text file (format ``text`` or ``lines``) is taken as it is, with ``\r\n``
    turned into ``\n`` (and converted to simplified characters with ``config.t2s``); the
    other formats are read and cleaned with ``load_poems`` and joined one poem per line.
    """
    path = resolve_corpus(path)
    fmt = _resolve_format(path, fmt)
    if fmt not in ("text", "lines"):
        poems, report = load_poems(path, config, fmt)
        return "\n".join(p.text for p in poems) + "\n", report
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"corpus '{path}': not UTF-8 text ({not_utf8_at(path)})") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if config.t2s:
        text = _t2s_converter()(text)
    report = CorpusReport(path=str(path), format=fmt, read=text.count("\n") + 1)
    if not text.strip():
        raise CorpusError(f"corpus '{path}' is empty")
    report.kept = report.read
    return text, report


def split_text(text: str, val_fraction: float) -> tuple[str, str]:
    """``(train, val)``: the last ``val_fraction`` of the text is held out for validation,
    cut after a newline when there is one in the last 1,000 characters before the cut."""
    if not 0.0 <= val_fraction < 1.0:
        raise CorpusError(f"validation fraction must be in [0, 1) (got {val_fraction})")
    if val_fraction == 0:
        return text, ""
    cut = int(len(text) * (1.0 - val_fraction))
    newline = text.rfind("\n", max(0, cut - 1000), cut)
    if newline >= 0:
        cut = newline + 1
    return text[:cut], text[cut:]
