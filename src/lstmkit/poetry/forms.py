"""Regulated verse forms (五绝 七绝 五律 七律) and their tone patterns.

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
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LstmkitError
from .prosody import PING, ZE

BASE_LINES = {"A": "仄仄平平仄", "B": "平平仄仄平", "C": "平平平仄仄", "D": "仄仄仄平平"}
QUATRAINS = {  # (second character of line 1, first line rhymes) -> lines
    (ZE, False): "ABCD", (ZE, True): "DBCD", (PING, False): "CDAB", (PING, True): "BDAB",
}
TONE_MODES = ("strict", "loose", "off")


@dataclass(frozen=True)
class VerseForm:
    name: str  # 五绝
    alias: str  # wujue
    chars: int  # characters per line: 5 or 7
    lines: int  # 4 or 8

    def punctuation(self, line: int) -> str:
        """The mark that ends line ``line`` (0-based): ， after odd lines, 。 after even."""
        return "，" if line % 2 == 0 else "。"

    def held_positions(self) -> tuple[int, ...]:
        """0-based positions whose tone a strict pattern holds (一三五不论)."""
        return (1, 3, 4) if self.chars == 5 else (1, 3, 5, 6)


FORMS = {
    "五绝": VerseForm("五绝", "wujue", 5, 4),
    "七绝": VerseForm("七绝", "qijue", 7, 4),
    "五律": VerseForm("五律", "wulv", 5, 8),
    "七律": VerseForm("七律", "qilv", 7, 8),
}


def get_form(name: str) -> VerseForm:
    """A form by its name (五绝) or ASCII alias (wujue)."""
    for form in FORMS.values():
        if name in (form.name, form.alias):
            return form
    names = ", ".join(f"{f.name} ({f.alias})" for f in FORMS.values())
    raise LstmkitError(f"unknown form '{name}' (choose from {names})")


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

    def rhyme_lines(self) -> tuple[int, ...]:
        """0-based lines whose last character rhymes."""
        count = len(self.lines)
        return tuple(i for i in range(count) if i % 2 == 1 or (i == 0 and self.first_rhymes))


def _seven(line: str) -> str:
    opposite = ZE if line[0] == PING else PING
    return opposite * 2 + line


def tone_patterns(form: VerseForm) -> list[TonePattern]:
    """The four standard patterns of ``form``."""
    patterns = []
    for (start, first_rhymes), quatrain in QUATRAINS.items():
        letters = quatrain if form.lines == 4 else quatrain + QUATRAINS[(start, False)]
        lines = tuple(BASE_LINES[c] if form.chars == 5 else _seven(BASE_LINES[c])
                      for c in letters)
        name = f"{lines[0][1]}起首句{'入' if first_rhymes else '不入'}韵"
        patterns.append(TonePattern(name, lines, first_rhymes))
    return patterns
