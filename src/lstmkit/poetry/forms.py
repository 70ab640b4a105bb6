"""Verse forms: regulated verse (五绝 七绝 五律 七律) with its tone patterns, and ci tunes.

A form is a number of lines of a fixed length; odd lines end in ，, even lines in 。.
Even lines end in level-tone (平) characters of one 平水韵 group, and in the patterns
whose first line rhymes, so does line 1.

The four basic five-character lines of regulated verse::

    A 仄仄平平仄   B 平平仄仄平   C 平平平仄仄   D 仄仄仄平平

A quatrain is ABCD (仄起, first line not rhyming), DBCD (仄起, rhyming), CDAB (平起, not
rhyming) or BDAB (平起, rhyming); an eight-line poem continues with the non-rhyming
quatrain of the same start. A seven-character line puts two characters of the opposite
tone in front of the five (A -> 平平仄仄平平仄). Under "一三五不论" only the even
positions and the last one are held: 2, 4, 5 in five-character lines and 2, 4, 6, 7 in
seven-character lines.

A ci tune (词牌) is a sequence of line lengths and marks derived from the Song ci corpus
(``tunes.json``), with a rhyme label per line: "" for a free line, else the line's rhyme
set and the tone classes its end may take under 词林正韵, e.g. 菩萨蛮
``A仄入 A仄入 B平 B平 C仄入 C仄入 D平 D平`` (``ci_rhyme.py`` judges and writes them).
A label may end in one of three marks (``parse_label`` reads them):

- ``?``: the line may rhyme: it rhymes in only part of the real ci, so the checker does not
  judge it, while the generator still rhymes it (柳梢青 line 1 ``A平入?``).
- ``叠韵``: the line ends on the rhyme character of the line before, as most real ci do
  (长相思 ``汴水流，泗水流``: ``A平 A平叠韵``).
- ``叠句``: the line repeats the end of the line before, character for character (如梦令
  ``知否，知否``, 忆秦娥 ``秦娥梦断秦楼月。秦楼月``: ``A仄入叠句``).

The checker accepts a repeated rhyme character at a 叠韵 or 叠句 line (only there, and only
the line before's), and the generator writes the repeat. A tune whose ci follow two rhyme
schemes (柳梢青: level or entering rhymes, on different lines) has a second row of labels,
``rhyme_alt``: the checker accepts either row, the generator writes the first (the more
common). Ci have no standard tone patterns
here, so their tones are not held.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import LstmkitError
from .prosody import PING, ZE

BASE_LINES = {"A": "仄仄平平仄", "B": "平平仄仄平", "C": "平平平仄仄", "D": "仄仄仄平平"}
QUATRAINS = {  # (second character of line 1, first line rhymes) -> lines
    (ZE, False): "ABCD", (ZE, True): "DBCD", (PING, False): "CDAB", (PING, True): "BDAB",
}
TONE_MODES = ("strict", "loose", "off")


@dataclass(frozen=True)
class VerseForm:
    """A shape to write in: line lengths, closing marks, and which lines rhyme.

    Lines closed by 。 rhyme (for the regulated forms: the even lines; line 1 may join
    them through its tone pattern). ``regulated`` forms also have tone patterns.
    """

    name: str  # 五绝, or a tune name such as 浣溪沙
    alias: str  # wujue, or "ci"
    lengths: tuple[int, ...]  # characters per line
    marks: str  # the closing mark of each line: ， 。 or 、
    rhyme_tone: str = PING  # the 平/仄 class most rhymes take (regulated verse: all)
    regulated: bool = True
    rhyme_labels: tuple[str, ...] = ()  # a ci's per-line rhyme labels (see the module docstring)
    rhyme_alt: tuple[str, ...] = ()  # a second scheme's labels the checker also accepts, if any

    @property
    def lines(self) -> int:
        return len(self.lengths)

    @property
    def chars(self) -> int:
        """Characters per line of a regulated form (all lines have the same length)."""
        return self.lengths[0]

    def punctuation(self, line: int) -> str:
        """The mark that ends line ``line`` (0-based)."""
        return self.marks[line]

    def rhymes(self, line: int) -> bool:
        """Whether line ``line`` (0-based) always rhymes: a ci's labelled lines, the 。-closed
        lines of regulated verse."""
        if not self.regulated:
            return bool(self.rhyme_labels[line])
        return self.marks[line] == "。"

    def held_positions(self) -> tuple[int, ...]:
        """0-based positions whose tone a strict pattern holds (一三五不论)."""
        if not self.regulated:
            return ()
        return (1, 3, 4) if self.chars == 5 else (1, 3, 5, 6)


def _regulated(name: str, alias: str, chars: int, lines: int) -> VerseForm:
    return VerseForm(name, alias, (chars,) * lines, "，。" * (lines // 2))


FORMS = {
    "五绝": _regulated("五绝", "wujue", 5, 4),
    "七绝": _regulated("七绝", "qijue", 7, 4),
    "五律": _regulated("五律", "wulv", 5, 8),
    "七律": _regulated("七律", "qilv", 7, 8),
}
TUNES_TABLE = Path(__file__).with_name("tunes.json")


@dataclass(frozen=True)
class Tune:
    form: VerseForm
    follow: int  # ci of the corpus that follow this pattern
    ci: int  # ci of the corpus under this tune

    def to_dict(self) -> dict:
        return {"name": self.form.name, "lengths": list(self.form.lengths),
                "marks": self.form.marks, "rhyme_tone": self.form.rhyme_tone,
                "rhymes": list(self.form.rhyme_labels), "follow": self.follow, "ci": self.ci,
                **({"rhymes_alt": list(self.form.rhyme_alt)} if self.form.rhyme_alt else {})}

    @property
    def shape(self) -> str:
        """The pattern drawn as 〇 per character and each line's mark: 〇〇〇〇〇〇〇。..."""
        return "".join("〇" * n + m for n, m in zip(self.form.lengths, self.form.marks))


@lru_cache(maxsize=1)
def _tunes_table() -> dict:
    return json.loads(TUNES_TABLE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def tunes() -> dict[str, Tune]:
    """The 词牌 table shipped in the package (built by ``scripts/build_tunes.py``)."""
    return {t["name"]: Tune(VerseForm(t["name"], "ci", tuple(t["lengths"]), t["marks"],
                                      t["rhyme_tone"], regulated=False,
                                      rhyme_labels=tuple(t["rhymes"]),
                                      rhyme_alt=tuple(t.get("rhymes_alt", ()))), t["follow"], t["ci"])
            for t in _tunes_table()["tunes"]}


REPEATS = ("叠韵", "叠句")


@dataclass(frozen=True)
class RhymeLabel:
    """One ci line's rhyme label, read (see the module docstring)."""

    letter: str  # A, B, ...: lines with one letter rhyme together
    classes: str  # the tone classes the line's end may take: 平, 仄入, ...
    optional: bool = False  # ?: rhymes in only part of the real ci; not judged
    repeat: str = ""  # 叠韵 or 叠句: the line repeats the line before's end


def parse_label(label: str) -> RhymeLabel | None:
    """``label`` read: "A仄入叠句" -> RhymeLabel("A", "仄入", False, "叠句"); None for ""."""
    if not label:
        return None
    repeat = next((r for r in REPEATS if label.endswith(r)), "")
    body = label[:len(label) - len(repeat)]
    optional = body.endswith("?")
    return RhymeLabel(label[0], body[1:len(body) - optional], optional, repeat)


def neighbour_parts() -> list[tuple[str, ...]]:
    """Groups of 词林正韵 parts Song ci rhyme across (邻部通押), from the tune table: pairs,
    and the entering parts as one family."""
    return [tuple(group) for group in _tunes_table()["neighbours"]]


def get_form(name: str, tune: str | None = None) -> VerseForm:
    """A form by its name (五绝) or ASCII alias (wujue); ``ci`` with a ``tune`` (浣溪沙)."""
    if name == "ci" or (tune and name in (None, "")):
        if not tune:
            raise LstmkitError("--form ci needs --tune NAME (list them with: lstmkit tunes)")
        table = tunes()
        if tune not in table:
            close = [t for t in table if tune[:2] in t][:5]
            hint = f"; did you mean {' '.join(close)}?" if close else "; see: lstmkit tunes"
            raise LstmkitError(f"unknown tune '{tune}'{hint}")
        return table[tune].form
    for form in FORMS.values():
        if name in (form.name, form.alias):
            return form
    names = ", ".join(f"{f.name} ({f.alias})" for f in FORMS.values())
    raise LstmkitError(f"unknown form '{name}' (choose from {names}, or ci with --tune)")


def form_for_shape(lines: int, chars: int) -> VerseForm | None:
    for form in FORMS.values():
        if (form.lines, form.chars) == (lines, chars):
            return form
    return None


@dataclass(frozen=True)
class TonePattern:
    name: str  # e.g. 平起首句入韵
    lines: tuple[str, ...]  # one string of 平/仄 per line
    first_rhymes: bool


def _seven(line: str) -> str:
    opposite = ZE if line[0] == PING else PING
    return opposite * 2 + line


def tone_patterns(form: VerseForm) -> list[TonePattern]:
    """The four standard patterns of a regulated ``form``; none for ci."""
    if not form.regulated:
        return []
    patterns = []
    for (start, first_rhymes), quatrain in QUATRAINS.items():
        letters = quatrain if form.lines == 4 else quatrain + QUATRAINS[(start, False)]
        lines = tuple(BASE_LINES[c] if form.chars == 5 else _seven(BASE_LINES[c])
                      for c in letters)
        name = f"{lines[0][1]}起首句{'入' if first_rhymes else '不入'}韵"
        patterns.append(TonePattern(name, lines, first_rhymes))
    return patterns
